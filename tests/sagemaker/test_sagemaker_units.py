"""SageMaker pieces that need no AWS: config validation/persistence, RecordIO, chunking, parsing."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from anomark.errors import ConfigurationError, DataError, DependencyError, RemoteJobError
from anomark.persistence import decode_value, encode_value
from anomark.sagemaker.codecs import chunk_rows, parse_scores
from anomark.sagemaker.config import SageMakerConfig
from anomark.sagemaker.recordio import RECORDIO_MAGIC, decode_dense, encode_dense, record_size
from anomark.sagemaker.staging import choose_format, csv_bytes, csv_row_bytes, split_rows

ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole"


def cfg(**kwargs: object) -> SageMakerConfig:
    base: dict[str, object] = {"role": ROLE, "bucket": "my-bucket", "region": "eu-west-1"}
    base.update(kwargs)
    return SageMakerConfig(**base)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- config
def test_valid_config_and_defaults() -> None:
    c = cfg().validate()
    assert (c.instance_type, c.inference_instance_type, c.scoring, c.keep_endpoint) == (
        "ml.m5.xlarge",
        "ml.c5.xlarge",
        "auto",
        False,
    )
    assert c.s3_root == "s3://my-bucket/anomark"
    assert c.key("train", "abc/") == "anomark/train/abc"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"role": "SageMakerRole"}, "IAM role ARN"),
        ({"role": "arn:aws:iam::12345:role/x"}, "IAM role ARN"),
        ({"role": "arn:aws:iam::123456789012:user/alice"}, "IAM role ARN"),
        ({"bucket": "s3://my-bucket"}, "without 's3://'"),
        ({"bucket": "My_Bucket"}, "lowercase letters"),
        ({"bucket": "ab"}, "3-63 characters"),
        ({"bucket": "a..b"}, r"'\.\.'"),
        ({"bucket": "192.168.1.1"}, "IP address"),
        ({"bucket": "xn--bucket"}, "reserved"),
        ({"instance_type": "m5.xlarge"}, "like 'ml.m5.xlarge'"),
        ({"instance_type": "ml.p3.2xlarge"}, "CPU instances only"),
        ({"inference_instance_type": "ml.g4dn.xlarge"}, "CPU instances only"),
        ({"transform_instance_type": "ml.inf1.xlarge"}, "CPU instances only"),
        ({"instance_count": 0}, "instance_count"),
        ({"instance_count": 1.5}, "instance_count must be an integer"),
        ({"scoring": "realtime"}, "scoring must be"),
        ({"data_format": "parquet"}, "data_format"),
        ({"max_wait": 7200}, "use_spot=True"),
        ({"use_spot": True, "max_runtime": 3600, "max_wait": 60}, "max_wait"),
        ({"max_runtime": 10}, "max_runtime"),
        ({"name_prefix": "my_prefix"}, "name_prefix"),
        ({"name_prefix": "x" * 30}, "name_prefix"),
        ({"region": "Frankfurt"}, "region"),
        ({"tags": {"aws:reserved": "x"}}, "tag key"),
        ({"tags": [{"Key": "a"}]}, "each tag"),
        ({"max_payload_bytes": 7 * 2**20}, "max_payload_bytes"),
        ({"keep_endpoint": "yes"}, "keep_endpoint"),
        ({"session": "default"}, "boto3.Session"),
        ({"endpoint_url": "localhost:5000"}, "http"),
    ],
)
def test_invalid_config_is_reported_clearly(kwargs: dict[str, object], message: str) -> None:
    c = cfg(**kwargs)  # the constructor only stores
    with pytest.raises(ConfigurationError, match=message):
        c.validate()


def test_missing_region_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ConfigurationError, match="no AWS region"):
        cfg(region=None).resolved_region()


def test_to_dict_round_trip_never_saves_the_session() -> None:
    import boto3

    session = boto3.Session(
        aws_access_key_id="AKIAEXAMPLESECRETID",
        aws_secret_access_key="very-secret-key",
        region_name="eu-west-1",
    )
    c = cfg(session=session, tags={"team": "ds"}, use_spot=True, max_wait=7200)
    data = c.to_dict()
    text = json.dumps(encode_value({"sagemaker": c}, "params"))
    assert "secret" not in text.lower() and "AKIA" not in text and "session" not in data
    assert "secret" not in repr(c).lower()
    assert data["tags"] == [{"Key": "team", "Value": "ds"}]
    back = decode_value(json.loads(text), "params")["sagemaker"]
    assert isinstance(back, SageMakerConfig) and back.session is None
    assert back.to_dict() == data
    assert SageMakerConfig.from_dict(data, session=session) == c
    with pytest.raises(ConfigurationError, match="unknown"):
        SageMakerConfig.from_dict({**data, "password": "x"})


def test_sklearn_clone_keeps_the_session() -> None:
    import boto3
    from sklearn.base import clone

    from anomark.detectors.rcf import RCFDetector

    session = boto3.Session(region_name="eu-west-1")
    det = RCFDetector(num_trees=50, sagemaker=cfg(session=session))
    copy = clone(det)
    assert copy.sagemaker is not det.sagemaker
    assert copy.sagemaker.session is session
    assert copy.sagemaker == det.sagemaker


def test_resource_tags_add_managed_tags() -> None:
    tags = cfg(tags=[{"Key": "team", "Value": "ds"}], name_prefix="taxi").resource_tags()
    assert tags == [
        {"Key": "team", "Value": "ds"},
        {"Key": "anomark:managed", "Value": "true"},
        {"Key": "anomark:name-prefix", "Value": "taxi"},
    ]


def test_image_uri_comes_from_the_sagemaker_package() -> None:
    assert cfg(region="us-east-1").rcf_image_uri() == (
        "382416733822.dkr.ecr.us-east-1.amazonaws.com/randomcutforest:1"
    )
    assert cfg(image_uri="my.ecr/rcf:1").rcf_image_uri() == "my.ecr/rcf:1"


def test_missing_sagemaker_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sagemaker", None)
    monkeypatch.setitem(sys.modules, "sagemaker.core", None)
    monkeypatch.setitem(sys.modules, "sagemaker.core.image_uris", None)
    with pytest.raises(DependencyError, match=r"pip install 'anomark\[sagemaker\]'"):
        cfg().rcf_image_uri()


def test_import_does_not_load_the_sagemaker_sdk() -> None:
    code = (
        "import sys, anomark, anomark.sagemaker, anomark.detectors.rcf.sagemaker\n"
        "from anomark import SageMakerConfig\n"
        "bad = [m for m in sys.modules if m == 'sagemaker' or m.startswith('sagemaker.')]\n"
        "assert not bad, bad\n"
        "assert 'tensorflow' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------- RecordIO
RECORD_PROTO = {
    # aialgs.data record.proto (proto2), as shipped with the SageMaker SDK
    "Float32Tensor": [("values", 1, "TYPE_FLOAT", True), ("keys", 2, "TYPE_UINT64", True),
                      ("shape", 3, "TYPE_UINT64", True)],
    "Float64Tensor": [("values", 1, "TYPE_DOUBLE", True), ("keys", 2, "TYPE_UINT64", True),
                      ("shape", 3, "TYPE_UINT64", True)],
}  # fmt: skip


def _record_class() -> Any:
    """Build ``aialgs.data.Record`` from the format's .proto definition (no generated code)."""
    pytest.importorskip("google.protobuf", reason="protobuf builds the reference Record")
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="record.proto", package="aialgs.data")
    fdp.syntax = "proto2"
    for name, fields in RECORD_PROTO.items():
        msg = fdp.message_type.add(name=name)
        for fname, number, ftype, packed in fields:
            f = msg.field.add(name=fname, number=number, label=F.LABEL_REPEATED)
            f.type = getattr(F, ftype)
            f.options.packed = packed
    value = fdp.message_type.add(name="Value")
    for fname, number, tname in (
        ("float32_tensor", 2, "Float32Tensor"),
        ("float64_tensor", 3, "Float64Tensor"),
    ):
        value.field.add(
            name=fname,
            number=number,
            label=F.LABEL_OPTIONAL,
            type=F.TYPE_MESSAGE,
            type_name=f".aialgs.data.{tname}",
        )
    record = fdp.message_type.add(name="Record")
    for fname, number in (("features", 1), ("label", 2)):
        entry = record.nested_type.add(name=f"{fname.title()}Entry")
        entry.options.map_entry = True
        entry.field.add(name="key", number=1, label=F.LABEL_OPTIONAL, type=F.TYPE_STRING)
        entry.field.add(
            name="value",
            number=2,
            label=F.LABEL_OPTIONAL,
            type=F.TYPE_MESSAGE,
            type_name=".aialgs.data.Value",
        )
        record.field.add(
            name=fname,
            number=number,
            label=F.LABEL_REPEATED,
            type=F.TYPE_MESSAGE,
            type_name=f".aialgs.data.Record.{fname.title()}Entry",
        )
    for fname, number in (("uid", 3), ("metadata", 4), ("configuration", 5)):
        record.field.add(name=fname, number=number, label=F.LABEL_OPTIONAL, type=F.TYPE_STRING)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("aialgs.data.Record"))


def _reference_encoding(rows: np.ndarray) -> bytes:
    """RecordIO framing per the spec (magic, length, payload, pad to 4) around protobuf."""
    record_cls = _record_class()
    out = io.BytesIO()
    for row in np.asarray(rows, dtype=np.float32):
        record = record_cls()
        record.features["values"].float32_tensor.values.extend(row.tolist())
        payload = record.SerializeToString()
        out.write(struct.pack("<II", 0xCED7230A, len(payload)))
        out.write(payload)
        out.write(b"\x00" * ((-len(payload)) % 4))
    return out.getvalue()


def test_recordio_hand_computed_bytes() -> None:
    expected = (
        bytes.fromhex("0a23d7ce")  # magic 0xCED7230A, little-endian
        + struct.pack("<I", 24)  # payload length
        + bytes.fromhex("0a16")  # Record.features (field 1), 22 bytes
        + bytes.fromhex("0a06") + b"values"  # map key
        + bytes.fromhex("120c")  # map value: Value, 12 bytes
        + bytes.fromhex("120a")  # Value.float32_tensor (field 2), 10 bytes
        + bytes.fromhex("0a08")  # Float32Tensor.values packed, 8 bytes
        + struct.pack("<ff", 1.0, 2.0)
    )  # fmt: skip
    assert encode_dense(np.array([[1.0, 2.0]])) == expected
    assert record_size(2) == len(expected) == 32


@pytest.mark.parametrize("dim", [1, 3, 8, 31, 32, 48, 300, 5000])
def test_recordio_matches_protobuf_reference_byte_for_byte(dim: int) -> None:
    rows = np.random.default_rng(dim).normal(size=(7, dim)) * 1e3
    ours = encode_dense(rows)
    assert ours == _reference_encoding(rows)
    assert len(ours) == 7 * record_size(dim) and len(ours) % 4 == 0
    np.testing.assert_array_equal(decode_dense(ours), rows.astype(np.float32))
    record_cls = _record_class()
    (_, length) = struct.unpack_from("<II", ours, 0)
    parsed = record_cls.FromString(ours[8 : 8 + length])
    np.testing.assert_array_equal(
        np.array(parsed.features["values"].float32_tensor.values, dtype=np.float32),
        rows[0].astype(np.float32),
    )


def test_recordio_framing_matches_the_sagemaker_sdk_writer() -> None:
    utils = pytest.importorskip("sagemaker.core.serializers.utils")
    rows = np.arange(15, dtype=np.float64).reshape(5, 3)
    out = io.BytesIO()
    for row in np.asarray(rows, dtype=np.float32):
        record = _record_class()()
        record.features["values"].float32_tensor.values.extend(row.tolist())
        utils._write_recordio(out, record.SerializeToString())
    assert encode_dense(rows) == out.getvalue()
    assert utils._kmagic == RECORDIO_MAGIC


def test_recordio_rejects_bad_input() -> None:
    with pytest.raises(DataError, match="2-D"):
        encode_dense(np.zeros(3))
    with pytest.raises(DataError, match="finite"):
        encode_dense(np.array([[np.nan, 1.0]]))
    with pytest.raises(DataError, match="finite"):
        encode_dense(np.array([[1e300]]))  # overflows float32
    with pytest.raises(DataError, match="magic"):
        decode_dense(b"\x00" * 16)
    with pytest.raises(DataError, match="truncated"):
        decode_dense(encode_dense(np.ones((2, 3)))[:-5])


# ---------------------------------------------------------------------------- staging helpers
def test_csv_is_headerless_and_exact() -> None:
    rows = np.array([[0.1, 1e-300, -2.5e17], [1.0 / 3.0, 42.0, -0.0]])
    text = csv_bytes(rows)
    assert text.count(b"\n") == 2 and not text.startswith(b"#")
    np.testing.assert_array_equal(np.loadtxt(io.BytesIO(text), delimiter=","), rows)
    assert b"".join(csv_row_bytes(rows)) == text


def test_split_rows_and_format_choice() -> None:
    assert split_rows(10, 3) == [(0, 3), (3, 7), (7, 10)]
    assert split_rows(2, 5) == [(0, 1), (1, 2)]
    assert choose_format(np.zeros((10, 4)), "auto") == "csv"
    assert choose_format(np.zeros((200_000, 48)), "auto") == "recordio"
    # the switch follows the actual CSV size: 17-digit floats vs small integers
    assert choose_format(np.random.default_rng(0).normal(size=(20_000, 48)), "auto") == "recordio"
    assert choose_format(np.zeros((20_000, 48)), "auto") == "csv"
    assert choose_format(np.zeros((200_000, 48)), "csv") == "csv"


# ---------------------------------------------------------------------------- endpoint helpers
def test_chunk_rows_respects_the_limit_and_keeps_order() -> None:
    lines = [b"x" * (n - 1) + b"\n" for n in (10, 20, 30, 5, 5, 40)]
    chunks = chunk_rows(lines, 40)
    assert chunks == [(0, 2), (2, 5), (5, 6)]
    assert all(sum(len(x) for x in lines[a:b]) <= 40 for a, b in chunks)
    with pytest.raises(DataError, match="payload limit"):
        chunk_rows([b"x" * 100], 40)


def test_parse_scores_accepts_rcf_reply_forms() -> None:
    np.testing.assert_array_equal(
        parse_scores(b'{"scores": [{"score": 0.5}, {"score": 1.5}]}'), [0.5, 1.5]
    )
    np.testing.assert_array_equal(parse_scores(b'{"score": 1}\n{"score": 2.5}\n'), [1.0, 2.5])
    np.testing.assert_array_equal(parse_scores('{"score": 0.02}, {"score": 0.25}'), [0.02, 0.25])
    # AWS's RCF documentation prints batch output with a comma after each record
    np.testing.assert_array_equal(
        parse_scores(b'{"score": 0.02},\n{"score": 0.25},\n{"score": 3.5},\n'), [0.02, 0.25, 3.5]
    )
    np.testing.assert_array_equal(parse_scores(b'{"score": 1e-3},\r\n'), [0.001])
    with pytest.raises(RemoteJobError, match="expected 2 scores"):
        parse_scores(b'{"score": 0.02},\n', expected=2)
    with pytest.raises(RemoteJobError, match="cannot read RCF scores"):
        parse_scores(b'{"score": 0.02},,\n{"score"},\n')
    with pytest.raises(RemoteJobError, match="expected 3 scores"):
        parse_scores(b'{"scores": [{"score": 1}]}', expected=3)
    with pytest.raises(RemoteJobError, match="cannot read RCF scores"):
        parse_scores(b"<html>502 Bad Gateway</html>")
    with pytest.raises(RemoteJobError, match="cannot read RCF scores"):
        parse_scores(b'{"scores": [{"score": "high"}]}')


def test_smoke_test_cost_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real-account smoke test refuses anything but small CPU instances, one of each."""
    from test_aws_smoke import NAME_PREFIX, guarded_config

    monkeypatch.setenv("ANOMARK_AWS_ROLE", ROLE)
    monkeypatch.setenv("ANOMARK_AWS_BUCKET", "my-bucket")
    config = guarded_config()
    assert config.instance_type == "ml.m5.large" and config.max_runtime == 900
    assert config.name_prefix == NAME_PREFIX and len(NAME_PREFIX) <= 24
    assert {"Key": "anomark:smoke-run", "Value": NAME_PREFIX.split("-")[1]} in (
        config.resource_tags()
    )
    monkeypatch.setenv("ANOMARK_AWS_INSTANCE_TYPE", "ml.p4d.24xlarge")
    with pytest.raises(pytest.fail.Exception, match="cost guard: instance_type"):
        guarded_config()
    monkeypatch.delenv("ANOMARK_AWS_INSTANCE_TYPE")
    with pytest.raises(pytest.fail.Exception, match="cost guard: instance_count"):
        guarded_config(instance_count=4)
    with pytest.raises(pytest.fail.Exception, match="cost guard: max_runtime"):
        guarded_config(max_runtime=7200)

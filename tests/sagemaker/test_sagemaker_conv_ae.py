"""SageMakerConvAEEngine against moto: TensorFlow training job, source tarball, TF Serving.

moto completes training jobs instantly and runs no container, so the tests play the
containers' parts: the model artefact is what the real entry script wrote (run once, in-process,
on daily multi-sensor CSV files), uploaded where the job says its artefact is; InvokeEndpoint
replies and batch transform outputs come from an emulator of SageMaker's TF Serving container
(``_tfserving``) that runs the artefact's real SavedModel signatures, formats replies as TF
Serving does and enforces the 6 MB caps. Core flows run against moto's server on 127.0.0.1 and
in-process.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("tensorflow")

from _sagemaker_moto import (
    BUCKET,
    REGION,
    ROLE,
    Moto,
    assert_no_endpoint_left,
    fake_error,
)
from _tfserving import TFServing, serve_endpoint, serve_transform
from botocore.awsrequest import AWSResponse

from anomark import ConvAutoencoderDetector, Detector, SageMakerConfig
from anomark.detectors.conv_autoencoder.sagemaker import SageMakerConvAEEngine
from anomark.detectors.conv_autoencoder.source import ArrayWindowSource
from anomark.detectors.conv_autoencoder.train_entry import (
    build_parser,
    detector_params,
    main,
)
from anomark.errors import ConfigurationError, DataError, NotFittedError, RemoteJobError
from anomark.sagemaker import cleanup
from anomark.sagemaker.codecs import encode_instances, parse_predictions

pytestmark = pytest.mark.tensorflow

TRAIN_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-training:2.19-cpu-py312"
MWMS = "sagemaker_multi_worker_mirrored_strategy_enabled"
GPU_TRAIN_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-training:2.19-gpu-py312"
SERVE_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-inference:2.19-cpu"
PARAMS: dict[str, Any] = {
    "window_size": 8,
    "epochs": 2,
    "batch_size": 64,
    "random_state": 3,
    "filters": (4, 4),
}
SENSORS = ["adcp.speed", "ek60.sv", "ctd.temp"]
EXPECTED_IN_TARBALL = {
    "train_entry.py",
    "requirements.txt",
    "anomark/__init__.py",
    "anomark/detectors/conv_autoencoder/detector.py",
    "anomark/detectors/conv_autoencoder/model.py",
    "anomark/detectors/conv_autoencoder/source.py",
    "anomark/detectors/conv_autoencoder/training.py",
    "anomark/detectors/conv_autoencoder/train_entry.py",
    "anomark/detectors/conv_autoencoder/container.py",
}


def daily_frames(days: int = 3, rows: int = 96) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(0)
    out = {}
    for d in range(days):
        t = pd.date_range(f"2024-03-{d + 1:02d}", periods=rows, freq="15min")
        k = np.arange(d * rows, (d + 1) * rows)
        out[f"2024-03-{d + 1:02d}.csv"] = pd.DataFrame(
            {
                "timestamp": t,
                SENSORS[0]: np.sin(k / 5.0) + 0.05 * rng.normal(size=rows),
                SENSORS[1]: -60 + 4 * np.cos(k / 8.0),
                SENSORS[2]: 10 + 0.02 * k,
            }
        )
    return out


def all_rows() -> pd.DataFrame:
    return pd.concat(daily_frames().values()).set_index("timestamp")


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``model.tar.gz`` as the TF container leaves it: the entry script's model dir, tarred."""
    root = tmp_path_factory.mktemp("container")
    for name, frame in daily_frames().items():
        path = root / "training" / "march" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False)
    argv = [
        "--window-size", "8", "--epochs", "2", "--batch-size", "64", "--random-state", "3",
        "--filters", "4,4", "--cache-dir", str(root / "cache"),
    ]  # fmt: skip
    env = {"SM_CHANNEL_TRAINING": str(root / "training"), "SM_MODEL_DIR": str(root / "model")}
    assert main(argv, env) == 0
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted((root / "model").rglob("*")):
            tar.add(path, arcname=path.relative_to(root / "model").as_posix(), recursive=False)
    detector = Detector.load(root / "model" / "anomark")
    return {
        "bytes": buf.getvalue(),
        "detector": detector,
        "tfs": TFServing(root / "model" / "1"),
        "root": root,
    }


def serve_artifact(aws: Moto, artifact: dict[str, Any]) -> list[str]:
    """After CreateTrainingJob, put the container's artefact where the job says it is."""
    names: list[str] = []

    def handler(parsed: dict[str, Any], **_: Any) -> None:
        name = parsed["TrainingJobArn"].rsplit("/", 1)[-1]
        names.append(name)
        desc = aws.client("sagemaker").describe_training_job(TrainingJobName=name)
        uri = desc["ModelArtifacts"]["S3ModelArtifacts"]
        bucket, _, key = uri[5:].partition("/")
        aws.client("s3").put_object(Bucket=bucket, Key=key, Body=artifact["bytes"])

    aws.after_call("sagemaker", "CreateTrainingJob", handler)
    return names


def upload_days(aws: Moto, prefix: str = "sensors/daily") -> str:
    s3 = aws.client("s3")
    for name, frame in daily_frames().items():
        s3.put_object(
            Bucket=BUCKET, Key=f"{prefix}/march/{name}", Body=frame.to_csv(index=False).encode()
        )
    return f"s3://{BUCKET}/{prefix}/"


def loaded(engine: SageMakerConvAEEngine, tmp: Path) -> ConvAutoencoderDetector:
    """The detector the engine's artefact holds (as the detector itself loads it)."""
    det = Detector.load(engine.download_artifact(tmp))
    assert isinstance(det, ConvAutoencoderDetector)
    return det


def fitted(aws: Moto, artifact: dict[str, Any], **cfg: Any) -> SageMakerConvAEEngine:
    serve_artifact(aws, artifact)
    engine = SageMakerConvAEEngine(aws.config(**cfg), PARAMS)
    return engine.fit(upload_days(aws))


# ---------------------------------------------------------------------------- training
def test_training_job_request_image_hyperparameters_and_source_tarball(
    aws: Moto, artifact: dict[str, Any], tmp_path: Path
) -> None:
    requests = aws.record("sagemaker", "CreateTrainingJob")
    serve_artifact(aws, artifact)
    uri = upload_days(aws)
    engine = SageMakerConvAEEngine(aws.config(tags={"project": "ocean"}), PARAMS)
    assert engine.fit(uri) is engine

    sm, s3 = aws.client("sagemaker"), aws.client("s3")
    job = sm.describe_training_job(TrainingJobName=engine.training_job_name)
    assert job["TrainingJobName"].startswith("anomark-t-cae-")
    assert job["AlgorithmSpecification"]["TrainingImage"] == TRAIN_IMAGE
    assert job["RoleArn"] == ROLE
    hp = job["HyperParameters"]
    assert json.loads(hp["sagemaker_program"]) == "train_entry.py"
    assert json.loads(hp["sagemaker_region"]) == REGION
    source = json.loads(hp["sagemaker_submit_directory"])
    assert source == engine.source_s3_uri and source.endswith("/sourcedir.tar.gz")
    assert {k: hp[k] for k in ("window-size", "epochs", "batch-size", "random-state")} == {
        "window-size": "8",
        "epochs": "2",
        "batch-size": "64",
        "random-state": "3",
    }
    assert json.loads(hp["filters"]) == "4,4"
    # the container decodes the JSON values and passes non-framework ones as --name value:
    # the entry script then builds exactly the requested detector
    model_dir = f"s3://{BUCKET}/anomark-tests/models/{engine.training_job_name}/model"
    assert json.loads(hp["model_dir"]) == model_dir  # as the SDK's TF estimator sets it
    argv = [
        item
        for k, v in hp.items()
        if not k.startswith("sagemaker_")
        for item in (f"--{k}", str(json.loads(v)))
    ]
    args, unknown = build_parser().parse_known_args(argv)
    assert unknown == ["--model_dir", model_dir]  # passed on by the toolkit, ignored
    assert {k: v for k, v in detector_params(args).items() if k in PARAMS} == PARAMS

    (channel,) = job["InputDataConfig"]
    assert channel["ChannelName"] == "training"
    assert channel["ContentType"] == "text/csv"
    assert channel["DataSource"]["S3DataSource"]["S3Uri"] == uri
    assert channel["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "FullyReplicated"
    (request,) = requests
    metrics = request["AlgorithmSpecification"]["MetricDefinitions"]
    assert metrics[0]["Name"] == "train:loss"

    # the source tarball is in S3 with the entry script, the package and the requirements
    bucket, _, key = source[5:].partition("/")
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        names = set(tar.getnames())
        reqs = tar.extractfile("requirements.txt").read().decode()  # type: ignore[union-attr]
    assert names >= EXPECTED_IN_TARBALL
    assert not any("__pycache__" in n or n.endswith((".pyc", ".nbi", ".nbc")) for n in names)
    assert {line.split(">=")[0] for line in reqs.split()} == {
        "numpy",
        "pandas",
        "scikit-learn",
        "tqdm",
    }
    tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=job["TrainingJobArn"])["Tags"]}
    assert tags["project"] == "ocean" and tags["anomark:managed"] == "true"

    assert MWMS not in hp  # one host: no data-parallel setup
    # the artefact is downloaded as a folder; the detector loads itself from it
    assert engine.model_data == job["ModelArtifacts"]["S3ModelArtifacts"]
    det = loaded(engine, tmp_path)
    assert list(det.feature_names_in_) == SENSORS and engine.n_features == len(SENSORS)
    np.testing.assert_array_equal(det.scaler_.offset, artifact["detector"].scaler_.offset)


def test_in_memory_data_is_staged_as_csv_once(
    aws_inprocess: Moto, artifact: dict[str, Any]
) -> None:
    aws = aws_inprocess
    serve_artifact(aws, artifact)
    puts = aws.record("s3", "PutObject")
    frame = all_rows()
    engine = SageMakerConvAEEngine(aws.config(), PARAMS).fit(frame)
    assert engine.train_s3_uri is not None
    bucket, _, prefix = engine.train_s3_uri[5:].partition("/")
    s3 = aws.client("s3")
    (key,) = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    assert key.startswith("anomark-tests/train-csv/") and key.endswith("part-00000.csv")
    staged = pd.read_csv(
        io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()),
        index_col="timestamp",
        parse_dates=True,
    )
    np.testing.assert_array_equal(staged.to_numpy(), frame.to_numpy())
    assert list(staged.columns) == SENSORS
    n_puts = len(puts)
    assert n_puts == 4  # data part + manifest, source tarball + manifest
    engine.fit(frame)  # same data, same package: nothing is uploaded again
    assert len(puts) == n_puts


def test_gpu_training_instance_gets_the_gpu_image(
    aws_inprocess: Moto, artifact: dict[str, Any]
) -> None:
    engine = fitted(aws_inprocess, artifact, instance_type="ml.g5.xlarge")
    job = aws_inprocess.client("sagemaker").describe_training_job(
        TrainingJobName=engine.training_job_name
    )
    assert job["AlgorithmSpecification"]["TrainingImage"] == GPU_TRAIN_IMAGE
    assert job["ResourceConfig"]["InstanceType"] == "ml.g5.xlarge"


def test_bad_parameters_fail_before_any_aws_call(aws_inprocess: Moto) -> None:
    aws = aws_inprocess
    calls = aws.record("sagemaker", "CreateTrainingJob") + aws.record("s3", "PutObject")
    with pytest.raises(ConfigurationError, match="dropout"):
        SageMakerConvAEEngine(aws.config(), {**PARAMS, "dropout": 1.5}).fit("s3://b/x/")
    with pytest.raises(DataError, match=r"no bucket name in 's3://'"):
        SageMakerConvAEEngine(aws.config(), PARAMS).fit("s3://")
    with pytest.raises(ConfigurationError, match="role"):
        SageMakerConvAEEngine(aws.config(role="MyRole"), PARAMS).fit("s3://b/x/")
    with pytest.raises(ConfigurationError, match="SageMakerConfig"):
        SageMakerConvAEEngine({"role": ROLE}, PARAMS)  # type: ignore[arg-type]
    assert calls == []


def test_failed_training_raises_with_the_scripts_reason(aws_inprocess: Moto) -> None:
    aws = aws_inprocess
    aws.set_training_status(
        "Failed", "AlgorithmError: anomark training failed: DataError: no CSV files"
    )
    engine = SageMakerConvAEEngine(aws.config(), PARAMS)
    with pytest.raises(RemoteJobError, match="no CSV files"):
        engine.fit(upload_days(aws))
    assert engine.model_data is None
    with pytest.raises(NotFittedError):
        engine.score_windows(np.zeros((1, 8, 3)))


def test_artefact_without_detector_state_is_an_error(aws_inprocess: Moto, tmp_path: Path) -> None:
    aws = aws_inprocess
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("1/saved_model.pb")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    serve_artifact(aws, {"bytes": buf.getvalue()})
    engine = SageMakerConvAEEngine(aws.config(), PARAMS).fit(upload_days(aws))
    with pytest.raises(RemoteJobError, match="no anomark/ folder"):
        engine.download_artifact(tmp_path)
    det = ConvAutoencoderDetector(**PARAMS, sagemaker=aws.config())
    with pytest.raises(RemoteJobError, match="no anomark/ folder"):
        det.fit(upload_days(aws))




# ---------------------------------------------------------------------------- data parallel
def test_several_instances_train_data_parallel_on_shards(
    aws_inprocess: Moto, artifact: dict[str, Any]
) -> None:
    aws = aws_inprocess
    requests = aws.record("sagemaker", "CreateTrainingJob")
    serve_artifact(aws, artifact)
    engine = SageMakerConvAEEngine(aws.config(instance_count=2), PARAMS).fit(all_rows())
    (request,) = requests
    hp = request["HyperParameters"]
    assert json.loads(hp[MWMS]) is True  # the toolkit sets TF_CONFIG for MWMS on every host
    (channel,) = request["InputDataConfig"]
    assert channel["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "ShardedByS3Key"
    assert request["ResourceConfig"]["InstanceCount"] == 2
    bucket, _, prefix = (engine.train_s3_uri or "")[5:].partition("/")
    keys = [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)[
        "Contents"]]
    assert len(keys) == 2  # one contiguous stretch of time per host
    parts = [pd.read_csv(io.BytesIO(aws.client("s3").get_object(Bucket=bucket, Key=k)["Body"]
                                    .read()), index_col=0, parse_dates=True) for k in keys]
    assert parts[0].index.max() < parts[1].index.min()
    pd.testing.assert_frame_equal(pd.concat(parts), all_rows(), check_freq=False,
                                  check_names=False)

    # an S3 prefix with fewer CSV files than hosts is refused before any job starts
    s3 = aws.client("s3")
    s3.put_object(Bucket=BUCKET, Key="one/day.csv", Body=b"timestamp,x\n2024-01-01,1\n")
    with pytest.raises(DataError, match=r"1 CSV file.*instance_count=2"):
        SageMakerConvAEEngine(aws.config(instance_count=2), PARAMS).fit(f"s3://{BUCKET}/one/")
    with pytest.raises(ConfigurationError, match="validation_split"):
        SageMakerConvAEEngine(
            aws.config(instance_count=2), {**PARAMS, "validation_split": 0.2}
        ).fit(all_rows())
    assert len(requests) == 1


# ---------------------------------------------------------------------------- endpoint
def test_endpoint_scores_in_the_served_graph_under_the_limits_in_order(
    aws: Moto, artifact: dict[str, Any]
) -> None:
    created = {op: aws.record("sagemaker", op) for op in ("CreateModel", "CreateEndpointConfig")}
    serve_artifact(aws, artifact)
    log = serve_endpoint(aws, artifact["tfs"])
    tfs = artifact["tfs"]
    tfs.requests.clear()
    det = ConvAutoencoderDetector(
        **PARAMS, sagemaker=aws.config(scoring="endpoint", max_payload_bytes=8 * 1024)
    ).fit(upload_days(aws))
    frame = all_rows()
    remote = det.score(frame)
    local = artifact["detector"].score(frame)
    # the error is computed in the served graph exactly as ReconstructionScorer does
    np.testing.assert_allclose(remote, local, rtol=1e-6, atol=1e-12)
    assert {r["signature"] for r in tfs.requests} == {"score_rows"}
    assert len(log.bodies) > 1 and all(len(b) <= 8 * 1024 for b in log.bodies)
    assert max(log.replies) < 8 * 1024 and not log.refused
    # raw rows in order; consecutive requests overlap by window_size - 1 rows, so every
    # window (also across the day files) is scored exactly once
    blocks = [np.asarray(json.loads(b)["inputs"]["rows"]) for b in log.bodies]
    values, start = frame.to_numpy(), 0
    for block in blocks:
        np.testing.assert_array_equal(block, values[start : start + len(block)])
        start += len(block) - 7
    assert start + 7 == len(frame)
    rows_bytes = sum(len(b) for b in log.bodies)

    (model,) = created["CreateModel"]
    container = {"Image": SERVE_IMAGE, "ModelDataUrl": det.engine_.model_data}
    assert model["PrimaryContainer"] == container
    (epc,) = created["CreateEndpointConfig"]
    assert epc["ProductionVariants"][0]["InstanceType"] == "ml.c5.xlarge"
    assert model["ModelName"].startswith("anomark-t-cae-model-")
    assert_no_endpoint_left(aws)

    # windows themselves go to the 'score' signature: exact float32 instances, in order
    tfs.requests.clear()
    log.bodies.clear()
    windows = np.lib.stride_tricks.sliding_window_view(values, 8, axis=0).transpose(0, 2, 1)
    scaled = det.scaler_.transform(windows)
    errors = det.engine_.score_windows(scaled)
    assert {r["signature"] for r in tfs.requests} == {"score"}
    sent = np.concatenate(
        [np.asarray(json.loads(b)["instances"], np.float32) for b in log.bodies]
    )
    np.testing.assert_array_equal(sent, scaled[..., None])
    # raw row blocks carry the same windows in several times fewer bytes (window 8 here)
    assert 3 * rows_bytes < sum(len(b) for b in log.bodies)
    np.testing.assert_allclose(
        errors, artifact["detector"]._window_errors(ArrayWindowSource(values, 8, 1)), rtol=1e-6
    )

    # per-column errors and reconstructions come from the other signatures
    tfs.requests.clear()
    with det.endpoint():
        np.testing.assert_allclose(det.feature_scores(frame),
                                   artifact["detector"].feature_scores(frame), rtol=1e-6)
        np.testing.assert_allclose(det.reconstruct(frame),
                                   artifact["detector"].reconstruct(frame), rtol=1e-5, atol=1e-6)
    assert [r["signature"] for r in tfs.requests][:1] == ["feature_scores"]
    assert "serving_default" in {r["signature"] for r in tfs.requests}
    assert_no_endpoint_left(aws)


@pytest.mark.parametrize("data", ["zeros", "integers"])
def test_reconstruction_replies_are_bounded_by_tf_servings_formatting(
    aws_server: Moto, artifact: dict[str, Any], data: str
) -> None:
    """Zero-heavy or integer input: compact requests, replies 3-5x larger; none over the cap."""
    aws = aws_server
    log = serve_endpoint(aws, artifact["tfs"])
    engine = fitted(aws, artifact)
    engine.download_artifact(artifact["root"] / f"dl-{data}")
    rng = np.random.default_rng(0)
    x = np.zeros((3000, 8, 3), np.float32)
    if data == "integers":
        x = rng.integers(0, 3, size=x.shape).astype(np.float32)
    limit = 256 * 1024
    engine.config.max_payload_bytes = limit
    out = engine.reconstruct_windows(x)
    assert out.shape == (3000, 8, 3, 1)
    np.testing.assert_allclose(out[..., 0], artifact["detector"].model_.predict_on_batch(
        x[..., None])[..., 0], rtol=1e-6, atol=1e-7)
    assert not log.refused and max(log.replies) <= limit
    assert sum(log.replies) > 2.5 * sum(len(b) for b in log.bodies)  # what the cap must allow for
    assert_no_endpoint_left(aws)


def test_a_refused_size_is_split_and_retried_in_order(
    aws_inprocess: Moto, artifact: dict[str, Any]
) -> None:
    """The service's real limit is lower than anomark assumed: 413s, halves, same numbers."""
    aws = aws_inprocess
    engine = fitted(aws, artifact)
    engine.n_features = 3
    log = serve_endpoint(aws, artifact["tfs"], limit=20_000)
    x = np.random.default_rng(1).uniform(size=(300, 8, 3)).astype(np.float32)
    with engine.endpoint() as ep:
        errors = engine.score_windows(x)
        splits = ep.n_splits
    assert "request" in log.refused and splits >= 1
    from anomark.scoring import ReconstructionScorer

    rec = artifact["detector"].model_.predict_on_batch(x[..., None])[..., 0]
    np.testing.assert_allclose(errors, ReconstructionScorer().score(x, rec), rtol=1e-6)
    # a single window whose request alone is refused: a clear error, nothing left behind
    log.limit = 10
    with pytest.raises(RemoteJobError, match="one item alone is too large"):
        engine.score_windows(x[:3])
    assert_no_endpoint_left(aws)


def test_queued_prediction_bodies_are_parsed_in_order(
    aws_server: Moto, artifact: dict[str, Any]
) -> None:
    aws = aws_server
    engine = fitted(aws, artifact, max_payload_bytes=4 * 1024)
    engine.n_features = 3
    x = np.random.default_rng(0).uniform(size=(40, 8, 3)).astype(np.float32)
    chunks = [(a, b) for a, b, _ in engine._codec("serving_default").requests(
        x[..., None], 4 * 1024)]
    assert len(chunks) > 2
    # request k is answered with instances filled with k: the output must follow request order
    aws.queue_endpoint_results(
        [
            json.dumps({"predictions": np.full((b - a, 8, 3, 1), float(k)).tolist()})
            for k, (a, b) in enumerate(chunks)
        ]
    )
    out = engine.reconstruct_windows(x)
    assert out.shape == (40, 8, 3, 1) and out.dtype == np.float32
    for k, (a, b) in enumerate(chunks):
        assert (out[a:b] == k).all()
    assert_no_endpoint_left(aws)


@pytest.mark.parametrize("failure", ["model_error", "error_reply", "short_reply"])
def test_scoring_failure_tears_the_endpoint_down(
    aws: Moto, artifact: dict[str, Any], failure: str
) -> None:
    serve_artifact(aws, artifact)
    det = ConvAutoencoderDetector(**PARAMS, sagemaker=aws.config(scoring="endpoint"))
    det.fit(upload_days(aws))

    def fail(**_: Any) -> tuple[AWSResponse, dict] | None:
        if failure == "model_error":
            return fake_error("ModelError", 424, "Received server error (500) from model")
        if failure == "error_reply":
            aws.queue_endpoint_results(['{ "error": "Failed to process element: 0" }'])
        else:
            aws.queue_endpoint_results(['{\n    "predictions": [0.5\n    ]\n}'])
        return None

    aws.before_call("sagemaker-runtime", "InvokeEndpoint", fail)
    message = {
        "model_error": "ModelError",
        "error_reply": "Failed to process element",
        "short_reply": "expected 281 predictions in the reply, got 1",
    }[failure]
    with pytest.raises(RemoteJobError, match=message):
        det.score(all_rows())
    assert_no_endpoint_left(aws)


def test_keep_endpoint_from_endpoint_attach_state_and_cleanup(
    aws_inprocess: Moto, artifact: dict[str, Any]
) -> None:
    aws = aws_inprocess
    serve_artifact(aws, artifact)
    serve_endpoint(aws, artifact["tfs"])
    det = ConvAutoencoderDetector(
        **PARAMS, sagemaker=aws.config(keep_endpoint=True, scoring="endpoint")
    ).fit(upload_days(aws))
    engine = det.engine_
    values = all_rows()
    expected = det.score(values)
    name = engine.endpoint_name
    assert name is not None
    assert aws.client("sagemaker").list_endpoints()["Endpoints"][0]["EndpointName"] == name

    # an existing endpoint: scaling and geometry come from its model's artefact
    reused = ConvAutoencoderDetector.from_endpoint(name, aws.config())
    assert reused.engine_.model_data == engine.model_data
    assert reused.engine_.resolve_scoring(1) == "endpoint"
    np.testing.assert_allclose(reused.score(values), expected, rtol=1e-12)
    assert len(aws.client("sagemaker").list_endpoints()["Endpoints"]) == 1  # never deleted

    # attach to the training job: parameters and artefact come back
    attached = SageMakerConvAEEngine.attach(engine.training_job_name or "", aws.config())
    assert {k: attached.params[k] for k in PARAMS} == PARAMS
    assert attached.model_data == engine.model_data
    assert attached.train_s3_uri == engine.train_s3_uri

    # the JSON state restores an engine that scores through the kept endpoint again
    state = json.loads(json.dumps(engine.to_state()))
    assert state["n_features"] == 3
    restored = SageMakerConvAEEngine.from_state(aws.config(), state)
    windows = det.scaler_.transform(
        np.lib.stride_tricks.sliding_window_view(values.to_numpy(), 8, axis=0).transpose(0, 2, 1)
    )
    np.testing.assert_allclose(restored.score_windows(windows), engine.score_windows(windows))
    with pytest.raises(ConfigurationError, match="unknown"):
        SageMakerConvAEEngine.from_state(aws.config(), {**state, "bogus": 1})

    removed = cleanup("anomark-t", session=aws.session, region=REGION)
    assert any(r.startswith("endpoint/") for r in removed)
    assert_no_endpoint_left(aws)


def test_attach_rejects_jobs_not_run_by_the_entry_script(aws_inprocess: Moto) -> None:
    aws = aws_inprocess
    sm = aws.client("sagemaker")
    sm.create_training_job(
        TrainingJobName="someone-elses-job",
        AlgorithmSpecification={"TrainingImage": TRAIN_IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        HyperParameters={"sagemaker_program": '"train.py"'},
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/out"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )
    with pytest.raises(RemoteJobError, match="did not run anomark's autoencoder entry script"):
        SageMakerConvAEEngine.attach("someone-elses-job", aws.config())
    with pytest.raises(RemoteJobError, match="cannot attach"):
        SageMakerConvAEEngine.attach("no-such-job", aws.config())


# ---------------------------------------------------------------------------- batch transform
def test_batch_transform_scores_in_memory_data_like_local_scoring(
    aws: Moto, artifact: dict[str, Any]
) -> None:
    serve_artifact(aws, artifact)
    log = serve_transform(aws, artifact["tfs"])
    models = aws.record("sagemaker", "CreateModel")
    det = ConvAutoencoderDetector(
        **PARAMS,
        sagemaker=aws.config(scoring="batch", transform_instance_count=3,
                             max_payload_bytes=4 * 1024),
    ).fit(upload_days(aws))
    frame = all_rows()
    remote = det.score(frame)
    np.testing.assert_allclose(remote, artifact["detector"].score(frame), rtol=1e-6, atol=1e-12)
    (job,) = log.jobs
    assert job["BatchStrategy"] == "SingleRecord"
    assert job["TransformInput"]["SplitType"] == "Line"
    assert job["TransformInput"]["ContentType"] == "application/jsonlines"
    assert job["TransformOutput"]["AssembleWith"] == "Line"
    assert job["TransformResources"]["InstanceCount"] == 3
    assert job["MaxPayloadInMB"] == 1 and max(log.records) <= 4 * 1024
    assert len(log.records) > 3  # several records, spread over at least 3 parts
    (model,) = models
    assert model["PrimaryContainer"]["Image"] == SERVE_IMAGE
    assert aws.client("sagemaker").list_models()["Models"] == []  # deleted after the job
    assert {r["signature"] for r in artifact["tfs"].requests[-len(log.records):]} == {
        "score_rows"}


def test_batch_transform_over_an_s3_prefix_windows_across_file_boundaries(
    aws_inprocess: Moto, artifact: dict[str, Any], tmp_path: Path
) -> None:
    aws = aws_inprocess
    serve_artifact(aws, artifact)
    serve_transform(aws, artifact["tfs"])
    uri = upload_days(aws)
    det = ConvAutoencoderDetector(**PARAMS, sagemaker=aws.config(scoring="batch")).fit(uri)
    remote = det.score_files(uri, cache_dir=tmp_path / "cache", progress=False)
    # the same files scored locally (windows across day boundaries, as fit_files/score_files)
    days = tmp_path / "days"
    for name, frame in daily_frames().items():
        days.mkdir(exist_ok=True)
        frame.to_csv(days / name, index=False)
    local = artifact["detector"].score_files(str(days), cache_dir=tmp_path / "c2", progress=False)
    assert len(remote) == 3 * 96
    pd.testing.assert_index_equal(remote.index, local.index)
    np.testing.assert_allclose(remote, local, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("failure", ["failed_job", "short_output"])
def test_batch_transform_failures_are_reported_and_never_read_as_complete(
    aws_inprocess: Moto, artifact: dict[str, Any], failure: str
) -> None:
    aws = aws_inprocess
    serve_artifact(aws, artifact)
    log = serve_transform(
        aws, artifact["tfs"], drop_last_reply=failure == "short_output",
        reject_record=1 if failure == "failed_job" else None,
    )
    det = ConvAutoencoderDetector(
        **PARAMS, sagemaker=aws.config(scoring="batch", max_payload_bytes=4 * 1024)
    ).fit(upload_days(aws))
    reads = aws.record("s3", "GetObject")
    message = "ended with status Failed: ClientError: 400" if failure == "failed_job" else (
        "1 records: the output is incomplete|replies for .* records: the output is incomplete")
    with pytest.raises(RemoteJobError, match=message):
        det.score(all_rows())
    if failure == "failed_job":
        assert log.failures and not [r for r in reads if r["Key"].endswith(".out")]
    assert aws.client("sagemaker").list_models()["Models"] == []  # deleted in any case


def test_auto_scoring_rule(aws_inprocess: Moto, artifact: dict[str, Any]) -> None:
    engine = fitted(aws_inprocess, artifact, auto_batch_min_values=1000)
    assert engine.resolve_scoring(1000) == "local"
    assert engine.resolve_scoring(1001) == "batch"
    engine.config.scoring = "endpoint"
    assert engine.resolve_scoring(1) == "endpoint"
    engine.config.scoring = "auto"
    engine.endpoint_name = "an-existing-endpoint"
    assert engine.resolve_scoring(10**12) == "endpoint"


# ---------------------------------------------------------------------------- codec units
def test_instances_encoding_round_trips_float32_and_replies_are_checked() -> None:
    rng = np.random.default_rng(2)
    for shape in [(4, 3, 2, 1), (4, 3, 1), (4, 5), (2, 1, 1, 1), (3, 2, 3, 2)]:
        x = rng.normal(size=shape).astype(np.float32) * 1e3
        items = encode_instances(x)
        assert len(items) == shape[0]
        back = np.asarray([json.loads(item) for item in items], dtype=np.float32)
        assert back.shape == x.shape
        np.testing.assert_array_equal(back, x)  # 9 significant digits: float32 exactly
    x = rng.normal(size=(4, 3, 2, 1)).astype(np.float32) * 1e3
    reply = json.dumps({"predictions": x.tolist()})
    np.testing.assert_array_equal(parse_predictions(reply, 4, (3, 2, 1)), x)
    np.testing.assert_array_equal(parse_predictions(reply, 4, (3, 2)), x[..., 0])
    with pytest.raises(RemoteJobError, match="shape"):
        parse_predictions(reply, 4, (2, 3, 1))
    with pytest.raises(RemoteJobError, match="not JSON"):
        parse_predictions(b"<html>", 4)
    with pytest.raises(RemoteJobError, match="non-finite"):
        parse_predictions('{"predictions": [NaN]}', 1)
    # TF Serving's own formatting (pretty, NaN written bare) and the columnar form
    assert parse_predictions('{\n    "outputs": [\n        1.5,\n        2.0\n    ]\n}', 2,
                             (), dtype=np.float64).tolist() == [1.5, 2.0]


def test_reply_bound_holds_for_the_widest_values_tf_serving_writes() -> None:
    from _tfserving import row_reply

    from anomark.sagemaker.codecs import TFServingCodec

    codec = TFServingCodec((8, 3, 1))
    worst = np.full((50, 8, 3, 1), -1.17549435e-38, np.float32)
    reply = row_reply({"out": worst})
    assert len(reply) <= codec.max_reply_bytes(50)
    assert len(reply) > 0.9 * codec.max_reply_bytes(50)  # tight, not a blind margin
    for item in (np.float32(0.1), np.float32(3.0), np.float32(1e-5), np.float32(123456789)):
        assert len(row_reply({"o": np.full((1, 1), item)})) <= TFServingCodec((1,)).max_reply_bytes(
            1)
    score = TFServingCodec((8, 3, 1), signature="score", output_shape=(), output_dtype="float64")
    assert len(row_reply({"s": np.full(100, -2.2250738585072014e-308)})) <= score.max_reply_bytes(
        100)
    # replies shrink by about window x columns (24 values here) with the score signature
    assert score.max_items(5 * 2**20) > 15 * codec.max_items(5 * 2**20)


def test_oversized_instance_is_a_data_error(tmp_path: Path) -> None:
    from anomark.sagemaker.codecs import TFServingCodec

    codec = TFServingCodec((64, 64, 1))
    x = codec.prepare(np.full((1, 64, 64), 0.123456789))
    with pytest.raises(DataError, match=r"can take .* bytes as TF Serving writes it"):
        list(codec.requests(x, 2048))
    with pytest.raises(DataError, match="NaN"):
        codec.prepare(np.full((1, 64, 64), np.nan))
    with pytest.raises(DataError, match="shape"):
        codec.prepare(np.zeros((2, 64, 63)))


# ---------------------------------------------------------------------------- detector glue
def test_detector_fit_score_endpoint_save_and_attach(
    aws_inprocess: Moto, artifact: dict[str, Any], tmp_path: Path
) -> None:
    aws = aws_inprocess
    serve_artifact(aws, artifact)
    frame = all_rows()
    det = ConvAutoencoderDetector(**PARAMS, sagemaker=aws.config())
    with pytest.raises(NotFittedError):
        det.score(frame)
    # an S3 prefix of CSV files: trained in the container; its fitted state is adopted
    assert det.fit(upload_days(aws)) is det
    engine = det.engine_
    assert list(det.feature_names_in_) == SENSORS
    assert det.threshold_.value_ == artifact["detector"].threshold_.value_
    local = det.score(frame)  # the downloaded model scores on this machine
    np.testing.assert_array_equal(local, artifact["detector"].score(frame))
    assert engine.resolve_scoring(10) == "local"

    # the same scores through a TF Serving endpoint, torn down afterwards
    serve_endpoint(aws, artifact["tfs"])
    with det.endpoint():
        remote = det.score(frame)
    np.testing.assert_allclose(remote, local.to_numpy(), rtol=1e-6, atol=1e-12)
    assert_no_endpoint_left(aws)

    # save/load keeps the job, so a loaded detector can score (and serve) again
    loaded_det = ConvAutoencoderDetector.load(det.save(tmp_path / "det"))
    assert loaded_det.engine_.training_job_name == engine.training_job_name
    np.testing.assert_array_equal(loaded_det.score(frame), local)
    with loaded_det.endpoint():
        np.testing.assert_allclose(loaded_det.score(frame), remote, rtol=1e-12)

    attached = ConvAutoencoderDetector.attach(engine.training_job_name or "", aws.config())
    np.testing.assert_array_equal(attached.score(frame), local)
    assert attached.engine_.training_job_name == engine.training_job_name
    assert attached.get_params()["sagemaker"] is not None

    # in-memory data: staged, trained; the container's threshold is adopted, nothing rescored
    scored = aws.record("sagemaker-runtime", "InvokeEndpoint")
    det2 = ConvAutoencoderDetector(**PARAMS, sagemaker=aws.config()).fit(frame)
    assert det2.threshold_.value_ == artifact["detector"].threshold_.value_ and scored == []
    assert list(det2.feature_names_in_) == SENSORS and det2.n_features_in_ == 3

    with pytest.raises(ConfigurationError, match="SageMakerConfig"):
        ConvAutoencoderDetector(**PARAMS, sagemaker="ml.m5.xlarge").fit(frame)
    with pytest.raises(ConfigurationError, match="needs sagemaker"):
        ConvAutoencoderDetector(**PARAMS).fit("s3://bucket/prefix/")
    with pytest.raises(ConfigurationError, match="s3://"):
        ConvAutoencoderDetector(**PARAMS, sagemaker=aws.config()).fit_files(str(tmp_path))
    with pytest.raises(ConfigurationError, match="sagemaker="):
        artifact["detector"].endpoint()
    with pytest.raises(ConfigurationError, match="needs sagemaker"):
        artifact["detector"].score_files("s3://bucket/prefix/")


def test_hyperparameters_round_trip_and_imports_stay_light() -> None:
    import subprocess
    import sys

    from anomark import Threshold
    from anomark.detectors.conv_autoencoder.container import (
        hyperparameters_for,
        params_from_hyperparameters,
    )

    params = {**PARAMS, "patience": None, "restore_best_weights": False, "dropout": 0.25}
    hp = hyperparameters_for({**params, "threshold": None, "verbose": 2})
    assert "patience" not in hp and "threshold" not in hp and "verbose" not in hp
    assert hp["restore-best-weights"] == '"false"' and hp["dropout"] == "0.25"
    assert params_from_hyperparameters(hp) == {k: v for k, v in params.items() if v is not None}

    # a custom threshold rule travels as "method:param" and comes back as a Threshold
    hp = hyperparameters_for({**PARAMS, "threshold": Threshold.quantile(0.99)})
    assert json.loads(hp["threshold"]) == "quantile:0.99"
    back = params_from_hyperparameters(hp)["threshold"]
    assert (back.method, back.param) == ("quantile", 0.99)
    args, _ = build_parser().parse_known_args(["--threshold", json.loads(hp["threshold"])])
    assert (args.threshold.method, args.threshold.param) == ("quantile", 0.99)
    with pytest.raises(SystemExit):
        build_parser().parse_known_args(["--threshold", "quantile:2"])  # outside (0, 1)
    with pytest.raises(ConfigurationError, match="Threshold"):
        hyperparameters_for({"threshold": 0.5})
    cfg = SageMakerConfig(role=ROLE, bucket=BUCKET, region=REGION)
    engine = SageMakerConvAEEngine(cfg, {**PARAMS, "threshold": Threshold.mad(4.0)})
    state = json.loads(json.dumps(engine.to_state()))
    assert state["params"]["threshold"] == "mad:4.0"
    restored = SageMakerConvAEEngine.from_state(cfg, state).params["threshold"]
    assert (restored.method, restored.param) == ("mad", 4.0)
    code = (
        "import sys, anomark.detectors.conv_autoencoder.sagemaker\n"
        "import anomark.detectors.conv_autoencoder.train_entry\n"
        "import anomark.detectors.conv_autoencoder.container\n"
        "heavy = ('tensorflow', 'keras', 'sagemaker')\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in heavy]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

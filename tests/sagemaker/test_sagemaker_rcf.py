"""SageMakerRCFEngine against moto: staging, training, batch transform, endpoints, cleanup.

Every flow test runs twice: against moto's server on 127.0.0.1 and in-process with mock_aws.
moto completes jobs instantly and runs no container, so the tests play the container's part:
they queue InvokeEndpoint replies computed from exactly the rows each request carried, and
write batch-transform output files, then check order, chunking and parsing.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _sagemaker_moto import (
    BUCKET,
    REGION,
    ROLE,
    Moto,
    assert_no_endpoint_left,
    fake_error,
    parse_csv,
    reference_scores,
)
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

from anomark.detectors.rcf.sagemaker import SageMakerRCFEngine
from anomark.errors import ConfigurationError, DataError, NotFittedError, RemoteJobError
from anomark.sagemaker import cleanup
from anomark.sagemaker.codecs import chunk_rows
from anomark.sagemaker.config import MANAGED_TAG
from anomark.sagemaker.recordio import decode_dense
from anomark.sagemaker.staging import csv_row_bytes, stage_rows
from anomark.windowing import Windowing

RCF_IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/randomcutforest:1"


def series(n: int = 400, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return (np.sin(t / 8.0) + 0.1 * rng.normal(size=n))[:, None]


def shingles(n: int = 400, size: int = 8, seed: int = 0) -> np.ndarray:
    return Windowing(size).shingles(series(n, seed))


def fitted(aws: Moto, rows: np.ndarray, **cfg: Any) -> SageMakerRCFEngine:
    engine = SageMakerRCFEngine(aws.config(**cfg), num_trees=50, num_samples_per_tree=64)
    return engine.fit(rows)


def tags_of(sm: Any, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}




# ---------------------------------------------------------------------------- training
def test_fit_stages_exact_shingles_and_records_training_request(aws: Moto) -> None:
    rows = shingles(300, size=6)
    engine = SageMakerRCFEngine(
        aws.config(instance_count=2, tags={"project": "taxi"}, volume_size=40),
        num_trees=60,
        num_samples_per_tree=128,
    )
    engine.fit(rows)

    sm, s3 = aws.client("sagemaker"), aws.client("s3")
    job = sm.describe_training_job(TrainingJobName=engine.training_job_name)
    assert job["TrainingJobName"].startswith("anomark-t-rcf-")
    assert job["AlgorithmSpecification"]["TrainingImage"] == RCF_IMAGE
    assert job["HyperParameters"] == {
        "feature_dim": "6",
        "num_trees": "60",
        "num_samples_per_tree": "128",
    }
    assert job["RoleArn"] == ROLE
    assert job["ResourceConfig"] == {
        "InstanceType": "ml.m5.xlarge",
        "InstanceCount": 2,
        "VolumeSizeInGB": 40,
    }
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    (channel,) = job["InputDataConfig"]
    assert channel["ChannelName"] == "train"
    assert channel["ContentType"] == "text/csv;label_size=0"
    source = channel["DataSource"]["S3DataSource"]
    assert source["S3DataType"] == "S3Prefix"
    assert source["S3DataDistributionType"] == "ShardedByS3Key"
    assert source["S3Uri"] == engine.train_s3_uri
    tags = tags_of(sm, job["TrainingJobArn"])
    assert tags["project"] == "taxi" and tags[MANAGED_TAG] == "true"

    # one part per instance at least, headerless CSV, exactly the shingle rows in order
    bucket, _, prefix = source["S3Uri"][5:].partition("/")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"])
    assert len(keys) == 2 and all(k.endswith(".csv") for k in keys)
    staged = np.vstack(
        [parse_csv(s3.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in keys]
    )
    np.testing.assert_array_equal(staged, rows)  # %.17g round-trips float64 exactly
    first = s3.get_object(Bucket=bucket, Key=keys[0])
    assert first["ContentType"] == "text/csv;label_size=0"
    assert not first["Body"].read().startswith(b"feature")
    assert engine.model_data == job["ModelArtifacts"]["S3ModelArtifacts"]
    assert str(engine.model_data).startswith(f"s3://{BUCKET}/anomark-tests/models/")


def test_refit_identical_data_does_not_upload_again(aws_inprocess: Moto) -> None:
    aws = aws_inprocess
    puts = aws.record("s3", "PutObject")
    rows = shingles(200)
    first = fitted(aws, rows)
    n_first = len(puts)
    assert n_first >= 2  # part(s) + manifest
    second = fitted(aws, rows)
    assert len(puts) == n_first  # nothing uploaded the second time
    assert second.train_s3_uri == first.train_s3_uri
    assert second.training_job_name != first.training_job_name
    fitted(aws, rows + 1.0)  # different content -> new key, uploaded
    assert len(puts) > n_first


def test_spot_training_request(aws_inprocess: Moto) -> None:
    aws = aws_inprocess
    engine = fitted(aws, shingles(120), use_spot=True, max_runtime=1800, max_wait=7200)
    job = aws.client("sagemaker").describe_training_job(TrainingJobName=engine.training_job_name)
    assert job["EnableManagedSpotTraining"] is True
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 1800, "MaxWaitTimeInSeconds": 7200}


def test_failed_training_raises_with_failure_reason(aws: Moto) -> None:
    aws.set_training_status("Failed", "ClientError: Unable to parse CSV line 3")
    engine = SageMakerRCFEngine(aws.config(), num_trees=50, num_samples_per_tree=64)
    with pytest.raises(RemoteJobError, match="Failed: ClientError: Unable to parse CSV line 3"):
        engine.fit(shingles(120))
    assert engine.model_data is None
    with pytest.raises(NotFittedError):
        engine.score(shingles(20))


def test_training_timeout_stops_the_job(aws_inprocess: Moto) -> None:
    aws = aws_inprocess
    names = aws.set_training_status("InProgress")
    stopped: list[str] = []

    def stop(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict]:
        body = json.loads(params["body"])
        stopped.append(body["TrainingJobName"])
        return AWSResponse("https://x.invalid", 200, HTTPHeaders(), None), {"ResponseMetadata": {}}

    aws.before_call("sagemaker", "StopTrainingJob", stop)
    engine = SageMakerRCFEngine(aws.config(wait_timeout=0.0), num_trees=50, num_samples_per_tree=64)
    with pytest.raises(RemoteJobError, match=r"did not finish within 0 s.*it was stopped"):
        engine.fit(shingles(120))
    assert stopped == names


def test_keyboard_interrupt_stops_the_job(
    aws_inprocess: Moto, capsys: pytest.CaptureFixture[str]
) -> None:
    aws = aws_inprocess
    names = aws.set_training_status("InProgress")
    stopped: list[str] = []

    def stop(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict]:
        stopped.append(json.loads(params["body"])["TrainingJobName"])
        return AWSResponse("https://x.invalid", 200, HTTPHeaders(), None), {"ResponseMetadata": {}}

    aws.before_call("sagemaker", "StopTrainingJob", stop)

    def interrupt(_: float) -> None:
        raise KeyboardInterrupt

    engine = SageMakerRCFEngine(
        aws.config(), num_trees=50, num_samples_per_tree=64, sleep=interrupt
    )
    with pytest.raises(KeyboardInterrupt):
        engine.fit(shingles(120))
    assert stopped == names
    assert f"training job {names[0]} was stopped" in capsys.readouterr().err


def test_attach_reuses_a_finished_job(aws_inprocess: Moto) -> None:
    aws = aws_inprocess
    rows = shingles(150)
    engine = fitted(aws, rows)
    again = SageMakerRCFEngine.attach(str(engine.training_job_name), aws.config())
    assert again.model_data == engine.model_data
    assert (again.feature_dim, again.num_trees, again.num_samples_per_tree) == (8, 50, 64)
    assert again.image_uri == RCF_IMAGE
    with pytest.raises(RemoteJobError, match="cannot attach"):
        SageMakerRCFEngine.attach("anomark-t-no-such-job", aws.config())


def test_attach_to_failed_job_raises(aws_inprocess: Moto) -> None:
    aws = aws_inprocess
    names = aws.set_training_status("Failed", "AlgorithmError: out of memory")
    with pytest.raises(RemoteJobError):
        fitted(aws, shingles(100))
    with pytest.raises(RemoteJobError, match="AlgorithmError: out of memory"):
        SageMakerRCFEngine.attach(names[0], aws.config())


# ---------------------------------------------------------------------------- batch scoring
@pytest.mark.parametrize("fmt", ["jsonlines", "json", "commas"])
def test_batch_transform_scores_in_order(aws: Moto, fmt: str) -> None:
    jobs = aws.serve_transform_output(fmt)
    rows = shingles(300)
    engine = fitted(aws, rows, scoring="batch", transform_instance_count=3)
    scores = engine.score(rows)
    np.testing.assert_allclose(scores, reference_scores(rows), rtol=0, atol=0)
    (job,) = jobs
    assert job["TransformInput"]["ContentType"] == "text/csv"
    assert job["TransformInput"]["SplitType"] == "Line"
    assert job["TransformOutput"]["Accept"] == "application/jsonlines"
    assert job["TransformResources"] == {"InstanceType": "ml.c5.xlarge", "InstanceCount": 3}
    assert job["ModelName"].startswith("anomark-t-rcf-model-")
    assert {t["Key"] for t in job["Tags"]} >= {MANAGED_TAG}
    sm = aws.client("sagemaker")
    described = sm.describe_transform_job(TransformJobName=job["TransformJobName"])
    assert described["TransformJobStatus"] == "Completed"
    assert sm.list_models()["Models"] == []  # the temporary model is gone


def test_batch_transform_missing_or_short_output_is_an_error(aws_inprocess: Moto) -> None:
    aws = aws_inprocess
    rows = shingles(100)
    engine = fitted(aws, rows, scoring="batch")
    with pytest.raises(RemoteJobError, match="cannot be read"):
        engine.score(rows)  # nobody wrote the output
    assert aws.client("sagemaker").list_models()["Models"] == []

    def short(params: dict[str, Any], **_: Any) -> None:
        out = params["TransformOutput"]["S3OutputPath"]
        bucket, _, prefix = out[5:].partition("/")
        aws.client("s3").put_object(
            Bucket=bucket, Key=f"{prefix.rstrip('/')}/part-00000.csv.out", Body=b'{"score": 1}\n'
        )

    aws.session.events.register("provide-client-params.sagemaker.CreateTransformJob", short)
    # clients copy the session's hooks when created: a fresh engine picks up the new one
    loaded = SageMakerRCFEngine.from_state(aws.config(scoring="batch"), engine.to_state())
    with pytest.raises(RemoteJobError, match="expected 93 scores in the reply, got 1"):
        loaded.score(rows)


# ---------------------------------------------------------------------------- endpoints
def test_endpoint_scoring_chunks_orders_and_tears_down(aws: Moto) -> None:
    bodies = aws.serve_reference_scores()
    created = {op: aws.record("sagemaker", op) for op in ("CreateModel", "CreateEndpointConfig")}
    rows = shingles(500)
    # small payload limit so 493 rows need several requests
    engine = fitted(aws, rows, scoring="endpoint", max_payload_bytes=8 * 1024)
    scores = engine.score(rows)
    np.testing.assert_array_equal(scores, reference_scores(rows))
    lines = csv_row_bytes(rows)
    expected_chunks = chunk_rows(lines, 8 * 1024)
    assert len(bodies) == len(expected_chunks) > 1  # chunked, never one call per row
    assert all(len(b) <= 8 * 1024 for b in bodies)
    np.testing.assert_array_equal(np.vstack([parse_csv(b) for b in bodies]), rows)
    (model,) = created["CreateModel"]
    assert model["PrimaryContainer"] == {"Image": RCF_IMAGE, "ModelDataUrl": engine.model_data}
    assert model["ExecutionRoleArn"] == ROLE
    (epc,) = created["CreateEndpointConfig"]
    assert epc["ProductionVariants"][0]["InstanceType"] == "ml.c5.xlarge"
    assert epc["ProductionVariants"][0]["ModelName"] == model["ModelName"]
    assert_no_endpoint_left(aws)


def test_payload_over_6mb_is_split(aws_server: Moto) -> None:
    aws = aws_server
    bodies = aws.serve_reference_scores()
    rng = np.random.default_rng(1)
    rows = rng.normal(size=(14_000, 24))  # ~9 MB of CSV
    engine = SageMakerRCFEngine.from_state(
        aws.config(scoring="endpoint"),
        {"model_data": f"s3://{BUCKET}/m/model.tar.gz", "image_uri": RCF_IMAGE, "feature_dim": 24},
    )
    scores = engine.score(rows)
    total = sum(len(b) for b in bodies)
    assert total > 6 * 1024 * 1024
    assert len(bodies) == 2
    assert all(len(b) <= 5 * 1024 * 1024 for b in bodies)
    np.testing.assert_array_equal(scores, reference_scores(rows))
    assert_no_endpoint_left(aws)


def test_throttling_is_retried_with_backoff(aws_server: Moto, no_sleep: list[float]) -> None:
    aws = aws_server
    aws.serve_reference_scores()
    attempts: list[int] = []

    def throttle_twice(**_: Any) -> tuple[AWSResponse, dict] | None:
        attempts.append(1)
        if len(attempts) <= 3:
            return fake_error("ThrottlingException", 400, "Rate exceeded")
        return None

    aws.before_call("sagemaker-runtime", "InvokeEndpoint", throttle_twice)
    rows = shingles(100)
    engine = SageMakerRCFEngine(
        aws.config(scoring="endpoint"), num_trees=50, num_samples_per_tree=64,
        sleep=no_sleep.append, rng=random.Random(7),
    ).fit(rows)
    np.testing.assert_array_equal(engine.score(rows), reference_scores(rows))
    assert len(attempts) == 4
    # the schedule, exactly: 0.5 s doubling per retry, times a jitter in [0.5, 1) from the rng
    jitter = random.Random(7)
    expected = [0.5 * 2**a * (0.5 + jitter.random() / 2) for a in range(3)]
    assert no_sleep == expected
    assert_no_endpoint_left(aws)


class _FixedJitter(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.mark.parametrize(("jitter", "delays"), [
    (0.0, [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]),
    (0.5, [0.375, 0.75, 1.5, 3.0, 6.0, 12.0]),
])
def test_backoff_schedule_doubles_and_is_capped(jitter: float, delays: list[float]) -> None:
    from anomark.sagemaker.endpoints import BACKOFF_MAX, backoff_delay

    rng = _FixedJitter(jitter)
    assert [backoff_delay(a, rng) for a in range(6)] == delays
    assert backoff_delay(10, _FixedJitter(0.999)) < BACKOFF_MAX  # 20 s at most, whatever the try
    assert backoff_delay(10, _FixedJitter(0.0)) == BACKOFF_MAX / 2


@pytest.mark.parametrize("failure", ["model_error", "python_error", "bad_reply"])
def test_error_during_scoring_deletes_endpoint_config_and_model(aws: Moto, failure: str) -> None:
    calls: list[int] = []

    def fail(**_: Any) -> tuple[AWSResponse, dict] | None:
        calls.append(1)
        if failure == "model_error":
            return fake_error("ModelError", 424, "Received server error (500) from model")
        if failure == "python_error":
            raise RuntimeError("connection reset by a test")
        aws.queue_endpoint_results(['{"unexpected": true}'])
        return None

    aws.before_call("sagemaker-runtime", "InvokeEndpoint", fail)
    engine = fitted(aws, shingles(100), scoring="endpoint")
    expected = RuntimeError if failure == "python_error" else RemoteJobError
    with pytest.raises(expected):
        engine.score(shingles(100))
    assert len(calls) == 1  # not retried
    assert_no_endpoint_left(aws)


def test_endpoint_context_manager_reuses_one_endpoint(aws_inprocess: Moto) -> None:
    aws = aws_inprocess
    bodies = aws.serve_reference_scores()
    created = aws.record("sagemaker", "CreateEndpoint")
    rows = shingles(200)
    engine = fitted(aws, rows, scoring="batch")
    with engine.endpoint() as ep:
        a = engine.score(rows[:50])  # goes to the open endpoint, not a transform job
        b = ep.score(rows[50:])
        assert aws.client("sagemaker").list_endpoints()["Endpoints"][0]["EndpointName"] == ep.name
    np.testing.assert_array_equal(np.concatenate([a, b]), reference_scores(rows))
    assert len(created) == 1 and len(bodies) == 2
    assert_no_endpoint_left(aws)
    with pytest.raises(RemoteJobError, match="deleted"):
        ep.score(rows)


def test_keep_endpoint_then_from_endpoint_then_cleanup(aws: Moto) -> None:
    aws.serve_reference_scores()
    rows = shingles(150)
    engine = fitted(aws, rows, scoring="endpoint", keep_endpoint=True, tags={"team": "ds"})
    engine.score(rows)
    sm = aws.client("sagemaker")
    (summary,) = sm.list_endpoints()["Endpoints"]
    name = summary["EndpointName"]
    assert engine.endpoint_name == name and name.startswith("anomark-t-rcf-ep-")
    assert tags_of(sm, summary["EndpointArn"]) == {
        "team": "ds",
        MANAGED_TAG: "true",
        "anomark:name-prefix": "anomark-t",
    }

    # a second engine scores through the existing endpoint and never deletes it
    remote = SageMakerRCFEngine.from_endpoint(name, aws.config(), feature_dim=8)
    np.testing.assert_array_equal(remote.score(rows[:40]), reference_scores(rows[:40]))
    assert [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]] == [name]
    with pytest.raises(DataError, match="feature_dim=8"):
        remote.score(rows[:, :4])

    # resources not made by anomark with the same prefix survive cleanup
    sm.create_model(
        ModelName="anomark-t-users-model",
        PrimaryContainer={"Image": RCF_IMAGE},
        ExecutionRoleArn=ROLE,
    )
    sm.create_endpoint_config(
        EndpointConfigName="anomark-t-users-own",
        ProductionVariants=[
            {
                "VariantName": "v",
                "ModelName": "anomark-t-users-model",
                "InstanceType": "ml.c5.xlarge",
                "InitialInstanceCount": 1,
            }
        ],
    )
    planned = cleanup("anomark-t", session=aws.session, region=REGION, dry_run=True)
    assert sorted(p.split("/")[0] for p in planned) == ["endpoint", "endpoint-config", "model"]
    assert sm.list_endpoints()["Endpoints"]  # dry run deleted nothing
    done = cleanup("anomark-t", session=aws.session, region=REGION)
    assert done == planned
    assert sm.list_endpoints()["Endpoints"] == []
    assert [c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]] == [
        "anomark-t-users-own"
    ]
    assert [m["ModelName"] for m in sm.list_models()["Models"]] == ["anomark-t-users-model"]


def test_cleanup_s3_and_argument_checks(aws_inprocess: Moto) -> None:
    aws = aws_inprocess
    fitted(aws, shingles(100))
    s3 = aws.client("s3")
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="anomark-tests/")["KeyCount"] > 0
    done = cleanup(
        "anomark-t", session=aws.session, region=REGION, bucket=BUCKET, s3_prefix="anomark-tests"
    )
    assert any(d.startswith("s3/") for d in done)
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="anomark-tests/")["KeyCount"] == 0
    with pytest.raises(ConfigurationError, match="whole bucket"):
        cleanup("anomark-t", session=aws.session, bucket=BUCKET, s3_prefix="/")
    with pytest.raises(ConfigurationError, match="prefix"):
        cleanup("", session=aws.session)


# ---------------------------------------------------------------------------- persistence
def test_state_round_trip_scores_remotely_again(aws_inprocess: Moto) -> None:
    aws = aws_inprocess
    jobs = aws.serve_transform_output()
    rows = shingles(200)
    engine = fitted(aws, rows, scoring="batch")
    state = json.loads(json.dumps(engine.to_state()))
    assert state["training_job_name"] == engine.training_job_name
    assert state["model_data"] == engine.model_data
    loaded = SageMakerRCFEngine.from_state(aws.config(scoring="batch"), state)
    np.testing.assert_array_equal(loaded.score(rows), reference_scores(rows))
    assert len(jobs) == 1
    with pytest.raises(ConfigurationError, match="unknown"):
        SageMakerRCFEngine.from_state(aws.config(), {**state, "pickle": "no"})
    with pytest.raises(ConfigurationError, match="s3://"):
        SageMakerRCFEngine.from_state(aws.config(), {**state, "model_data": "/tmp/model"})


def test_auto_scoring_picks_by_size(aws_inprocess: Moto) -> None:
    aws = aws_inprocess
    engine = SageMakerRCFEngine(aws.config(auto_endpoint_max_rows=100))
    assert engine.resolve_scoring(100) == "endpoint"
    assert engine.resolve_scoring(101) == "batch"


# ---------------------------------------------------------------------------- validation
def test_bad_hyperparameters_fail_before_any_call(aws_inprocess: Moto) -> None:
    aws = aws_inprocess
    calls = aws.record("sagemaker", "CreateTrainingJob")
    with pytest.raises(ConfigurationError, match=r"num_trees in \[50, 1000\]"):
        SageMakerRCFEngine(aws.config(), num_trees=10).fit(shingles(100))
    with pytest.raises(ConfigurationError, match="num_samples_per_tree"):
        SageMakerRCFEngine(aws.config(), num_samples_per_tree=5000).fit(shingles(100))
    with pytest.raises(ConfigurationError, match="role"):
        SageMakerRCFEngine(aws.config(role="my-role")).fit(shingles(100))
    bad = shingles(100)
    bad[3, 2] = np.nan
    with pytest.raises(DataError, match="NaN"):
        SageMakerRCFEngine(aws.config()).fit(bad)
    with pytest.raises(DataError, match="2 parts"):
        SageMakerRCFEngine(aws.config(instance_count=2)).fit(shingles(8))
    assert calls == []


# ---------------------------------------------------------------------------- RecordIO & multipart
def test_recordio_training_data(aws_inprocess: Moto) -> None:
    aws = aws_inprocess
    rows = shingles(300)
    engine = fitted(aws, rows, data_format="recordio", instance_count=2)
    job = aws.client("sagemaker").describe_training_job(TrainingJobName=engine.training_job_name)
    (channel,) = job["InputDataConfig"]
    assert channel["ContentType"] == "application/x-recordio-protobuf"
    assert channel["RecordWrapperType"] == "None"  # records are already RecordIO-framed
    s3 = aws.client("s3")
    bucket, _, prefix = str(engine.train_s3_uri)[5:].partition("/")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"])
    assert len(keys) == 2 and all(k.endswith(".rec") for k in keys)
    staged = np.vstack(
        [decode_dense(s3.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in keys]
    )
    np.testing.assert_array_equal(staged, rows.astype(np.float32))


def test_large_parts_use_multipart_upload(aws_inprocess: Moto) -> None:
    aws = aws_inprocess
    multipart = aws.record("s3", "CreateMultipartUpload")
    parts = aws.record("s3", "UploadPart")
    rows = np.random.default_rng(0).normal(size=(60_000, 48))  # ~12 MB as RecordIO
    s3 = aws.session.client("s3", region_name=REGION)
    staged = stage_rows(
        s3, BUCKET, "anomark-tests/big", rows, data_format="recordio", multipart_threshold=5 * 2**20
    )
    assert staged.uploaded and len(staged.keys) == 1
    assert len(multipart) == 1 and len(parts) == 3  # 5 + 5 + ~2 MiB
    body = aws.client("s3").get_object(Bucket=BUCKET, Key=staged.keys[0])["Body"].read()
    np.testing.assert_array_equal(decode_dense(body), rows.astype(np.float32))
    again = stage_rows(s3, BUCKET, "anomark-tests/big", rows, data_format="recordio")
    assert not again.uploaded and again.keys == staged.keys


# ---------------------------------------------------------------------------- the detector
def test_rcf_detector_on_sagemaker_maps_scores_like_the_local_engine(aws: Moto) -> None:
    import pandas as pd

    from anomark.detectors.rcf import RCFDetector

    aws.serve_transform_output()
    size = 8
    values = series(300, seed=3)
    values[200:204] += 4.0
    index = pd.date_range("2015-01-01", periods=300, freq="30min")
    data = pd.DataFrame({"value": values[:, 0]}, index=index)
    det = RCFDetector(
        num_trees=50,
        num_samples_per_tree=64,
        shingle_size=size,
        sagemaker=aws.config(scoring="batch"),
    ).fit(data)
    engine = det.engine_
    assert isinstance(engine, SageMakerRCFEngine) and engine.feature_dim == size
    expected_windows = reference_scores(Windowing(size).shingles(values))
    expected = Windowing(size).to_points(expected_windows, len(values))
    scores = det.score(data)
    assert list(scores.index) == list(index)
    np.testing.assert_array_equal(scores.to_numpy(), expected)
    result = det.detect(data)
    assert result.threshold == pytest.approx(expected.mean() + 3 * expected.std())
    np.testing.assert_array_equal(result.flags.to_numpy(), expected > result.threshold)


def test_rcf_detector_endpoint_attach_from_endpoint_and_save(
    aws_inprocess: Moto, tmp_path: Path
) -> None:
    import pandas as pd

    from anomark import Detector, Threshold
    from anomark.detectors.rcf import RCFDetector

    # moto (in-process) caches replies by request body across endpoints, so every call below
    # sends a different slice of the series
    aws = aws_inprocess
    bodies = aws.serve_reference_scores()
    created = aws.record("sagemaker", "CreateEndpoint")
    size = 8
    values = series(240, seed=5)
    index = pd.date_range("2015-01-01", periods=240, freq="30min")
    data = pd.DataFrame({"value": values[:, 0]}, index=index)

    def window_scores(start: int) -> np.ndarray:
        return reference_scores(Windowing(size).shingles(values[start:]))

    def expected(start: int) -> np.ndarray:
        return Windowing(size).to_points(window_scores(start), len(values) - start)

    det = RCFDetector(
        num_trees=50, num_samples_per_tree=64, shingle_size=size,
        sagemaker=aws.config(scoring="endpoint"),
    ).fit(data)
    assert len(created) == 1  # fit scored the training data through one temporary endpoint
    assert_no_endpoint_left(aws)

    # one endpoint for repeated scoring inside the context manager, deleted on exit
    with det.endpoint():
        first, second = det.score(data.iloc[1:]), det.score(data.iloc[100:])
    assert len(created) == 2
    np.testing.assert_array_equal(first.to_numpy(), expected(1))
    np.testing.assert_array_equal(second.to_numpy(), expected(100))
    assert_no_endpoint_left(aws)

    # save/load keeps the training job and model artefact; the loaded detector scores remotely
    # (with the default boto3 session: sessions are never saved, so queue its reply up front)
    loaded = Detector.load(det.save(tmp_path / "rcf-sm"))
    assert isinstance(loaded, RCFDetector) and loaded.forest_ is None
    assert loaded.engine_.training_job_name == det.engine_.training_job_name
    # a fresh interpreter that never imported anomark.sagemaker can read the folder too
    import subprocess
    import sys

    code = (
        "import sys; from anomark import Detector; d = Detector.load(sys.argv[1]); "
        "print(type(d.get_params()['sagemaker']).__name__, d.engine_.training_job_name)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "rcf-sm")],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["SageMakerConfig", det.engine_.training_job_name]
    reply = {"scores": [{"score": float(v)} for v in window_scores(2)]}
    aws.queue_endpoint_results([json.dumps(reply)])
    np.testing.assert_array_equal(loaded.score(data.iloc[2:]).to_numpy(), expected(2))

    # attach: reuse the finished job; the threshold is fitted on the reference data's scores
    attached = RCFDetector.attach(
        det.engine_.training_job_name, aws.config(scoring="endpoint"), data.iloc[3:],
        threshold=Threshold.quantile(0.99),
    )
    assert attached.shingle_size == size and attached.num_trees == 50
    assert attached.threshold_.value_ == pytest.approx(np.quantile(expected(3), 0.99))
    with pytest.raises(ConfigurationError, match="feature_dim 8"):
        RCFDetector.attach(det.engine_.training_job_name, aws.config(), data, shingle_size=4)

    # from_endpoint: an existing endpoint is used and never deleted
    keep = RCFDetector(
        num_trees=50, num_samples_per_tree=64, shingle_size=size,
        sagemaker=aws.config(scoring="endpoint", keep_endpoint=True),
    ).fit(data.iloc[4:])
    name = keep.engine_.endpoint_name
    remote = RCFDetector.from_endpoint(name, aws.config(), data.iloc[5:], shingle_size=size)
    np.testing.assert_array_equal(remote.score(data.iloc[6:]).to_numpy(), expected(6))
    names = [e["EndpointName"] for e in aws.client("sagemaker").list_endpoints()["Endpoints"]]
    assert names == [name]
    assert len(bodies) == 7  # every other score above came from an InvokeEndpoint reply

    with pytest.raises(ConfigurationError, match="fitted on SageMaker"):
        RCFDetector(num_trees=50, shingle_size=size).fit(data).endpoint()


def test_cli_sagemaker_cleanup(aws_server: Moto, capsys: pytest.CaptureFixture[str]) -> None:
    from anomark.cli import main

    aws = aws_server
    aws.serve_reference_scores()
    rows = shingles(100)
    fitted(aws, rows, scoring="endpoint", keep_endpoint=True).score(rows)
    sm = aws.client("sagemaker")
    assert len(sm.list_endpoints()["Endpoints"]) == 1
    args = ["sagemaker", "cleanup", "--prefix", "anomark-t", "--region", REGION]
    assert main([*args, "--dry-run"]) == 0
    assert "endpoint/anomark-t-rcf-ep-" in capsys.readouterr().out
    assert len(sm.list_endpoints()["Endpoints"]) == 1
    assert main([*args, "--yes"]) == 0
    assert_no_endpoint_left(aws)


@pytest.mark.parametrize("failure", ["refused", "failed"])
def test_endpoint_creation_failure_removes_config_and_model(
    aws_inprocess: Moto, failure: str
) -> None:
    aws = aws_inprocess
    if failure == "refused":
        aws.before_call(
            "sagemaker",
            "CreateEndpoint",
            lambda **_: fake_error("ResourceLimitExceeded", 400, "account limit of 0 ml.c5"),
        )
        message = "ResourceLimitExceeded: account limit"
    else:

        def fail(parsed: dict[str, Any], **_: Any) -> None:
            name = parsed["EndpointArn"].rsplit("/", 1)[-1]
            endpoint = aws.sagemaker_backend().endpoints[name]
            endpoint.endpoint_status = "Failed"
            endpoint.failure_reason = "The primary container failed the ping health check"

        aws.after_call("sagemaker", "CreateEndpoint", fail)
        message = "Failed: The primary container failed the ping health check"
    engine = fitted(aws, shingles(100), scoring="endpoint")
    with pytest.raises(RemoteJobError, match=message):
        engine.score(shingles(100))
    assert_no_endpoint_left(aws)


def test_progress_line_on_stderr(aws_inprocess: Moto, capsys: pytest.CaptureFixture[str]) -> None:
    engine = fitted(aws_inprocess, shingles(100), progress=True)
    err = capsys.readouterr().err
    assert f"training job {engine.training_job_name}: Completed" in err


def test_persistent_throttling_gives_up_and_tears_down(
    aws_inprocess: Moto, no_sleep: list[float]
) -> None:
    aws = aws_inprocess
    aws.before_call(
        "sagemaker-runtime",
        "InvokeEndpoint",
        lambda **_: fake_error("ThrottlingException", 400, "Rate exceeded"),
    )
    engine = SageMakerRCFEngine(
        aws.config(scoring="endpoint"), num_trees=50, num_samples_per_tree=64,
        sleep=no_sleep.append, rng=_FixedJitter(0.0),
    ).fit(shingles(100))
    with pytest.raises(RemoteJobError, match="after 7 attempts: ThrottlingException"):
        engine.score(shingles(100))
    assert no_sleep == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]
    assert_no_endpoint_left(aws)

"""SageMakerConvAEEngine against moto: TensorFlow training job, source tarball, TF Serving.

moto completes training jobs instantly and runs no container, so the tests play the
containers' parts: the model artefact is what the real entry script wrote (run once, in-process,
on daily multi-sensor CSV files), uploaded where the job says its artefact is; InvokeEndpoint
replies are the ``{"predictions": ...}`` the SavedModel's Keras model computes for exactly the
instances each request carried. Core flows run against moto's server on 127.0.0.1 and in-process.
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
from botocore.awsrequest import AWSResponse

from anomark import ConvAutoencoderDetector, Detector, SageMakerConfig
from anomark.detectors.conv_autoencoder.sagemaker import SageMakerConvAEEngine
from anomark.detectors.conv_autoencoder.train_entry import (
    build_parser,
    detector_params,
    main,
)
from anomark.errors import ConfigurationError, DataError, NotFittedError, RemoteJobError
from anomark.sagemaker import cleanup
from anomark.sagemaker.endpoints import encode_instances, parse_predictions

pytestmark = pytest.mark.tensorflow

TRAIN_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-training:2.19-cpu-py312"
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
    return {"bytes": buf.getvalue(), "detector": detector}


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


def serve_predictions(aws: Moto, model: Any) -> list[bytes]:
    """Before each InvokeEndpoint, queue TF Serving's reply for exactly that body's instances."""
    bodies: list[bytes] = []

    def handler(params: dict[str, Any], **_: Any) -> None:
        body = params["body"]
        body = body if isinstance(body, bytes) else body.read()
        bodies.append(body)
        x = np.asarray(json.loads(body)["instances"], dtype=np.float32)
        rec = np.asarray(model.predict_on_batch(x), dtype=np.float32)
        aws.queue_endpoint_results([json.dumps({"predictions": rec.tolist()})])

    aws.before_call("sagemaker-runtime", "InvokeEndpoint", handler)
    return bodies


def upload_days(aws: Moto, prefix: str = "sensors/daily") -> str:
    s3 = aws.client("s3")
    for name, frame in daily_frames().items():
        s3.put_object(
            Bucket=BUCKET, Key=f"{prefix}/march/{name}", Body=frame.to_csv(index=False).encode()
        )
    return f"s3://{BUCKET}/{prefix}/"




def fitted(aws: Moto, artifact: dict[str, Any], **cfg: Any) -> SageMakerConvAEEngine:
    serve_artifact(aws, artifact)
    engine = SageMakerConvAEEngine(aws.config(**cfg), PARAMS)
    return engine.fit(upload_days(aws))


# ---------------------------------------------------------------------------- training
def test_training_job_request_image_hyperparameters_and_source_tarball(
    aws: Moto, artifact: dict[str, Any]
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

    # the artefact was downloaded and its detector loaded
    assert engine.model_data == job["ModelArtifacts"]["S3ModelArtifacts"]
    det = engine.detector
    assert isinstance(det, ConvAutoencoderDetector) and list(det.feature_names_in_) == SENSORS
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
        engine.score(np.zeros((1, 8, 3)))


def test_artefact_without_detector_state_is_an_error(aws_inprocess: Moto) -> None:
    aws = aws_inprocess
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("1/saved_model.pb")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    serve_artifact(aws, {"bytes": buf.getvalue()})
    with pytest.raises(RemoteJobError, match="no anomark/ folder"):
        SageMakerConvAEEngine(aws.config(), PARAMS).fit(upload_days(aws))


# ---------------------------------------------------------------------------- serving
def test_endpoint_scores_in_batches_under_the_limit_in_order(
    aws: Moto, artifact: dict[str, Any]
) -> None:
    created = {op: aws.record("sagemaker", op) for op in ("CreateModel", "CreateEndpointConfig")}
    engine = fitted(aws, artifact, max_payload_bytes=8 * 1024)
    det = engine.detector
    bodies = serve_predictions(aws, det.model_)
    frame = all_rows()
    scores = engine.score_values(frame.to_numpy())

    # the same numbers as the detector scoring locally (error computed client-side)
    np.testing.assert_allclose(scores, det.score(frame).to_numpy(), rtol=1e-5, atol=1e-9)
    assert len(bodies) > 1 and all(len(b) <= 8 * 1024 for b in bodies)
    sent = np.concatenate([np.asarray(json.loads(b)["instances"], np.float32) for b in bodies])
    windows = np.lib.stride_tricks.sliding_window_view(frame.to_numpy(), 8, axis=0)
    expected = det.scaler_.transform(windows.transpose(0, 2, 1))[..., None]
    np.testing.assert_array_equal(sent, expected)  # every window once, in order, exact float32

    (model,) = created["CreateModel"]
    assert model["PrimaryContainer"] == {"Image": SERVE_IMAGE, "ModelDataUrl": engine.model_data}
    (epc,) = created["CreateEndpointConfig"]
    assert epc["ProductionVariants"][0]["InstanceType"] == "ml.c5.xlarge"
    assert model["ModelName"].startswith("anomark-t-cae-model-")
    assert_no_endpoint_left(aws)


def test_queued_prediction_bodies_are_parsed_in_order(
    aws_server: Moto, artifact: dict[str, Any]
) -> None:
    aws = aws_server
    engine = fitted(aws, artifact, max_payload_bytes=4 * 1024)
    x = np.random.default_rng(0).uniform(size=(40, 8, 3)).astype(np.float32)
    chunks = [(a, b) for a, b, _ in engine._codec().requests(x[..., None], 4 * 1024)]
    assert len(chunks) > 2
    # request k is answered with instances filled with k: the output must follow request order
    aws.queue_endpoint_results(
        [
            json.dumps({"predictions": np.full((b - a, 8, 3, 1), float(k)).tolist()})
            for k, (a, b) in enumerate(chunks)
        ]
    )
    out = engine.score(x)
    assert out.shape == (40, 8, 3, 1) and out.dtype == np.float32
    for k, (a, b) in enumerate(chunks):
        assert (out[a:b] == k).all()
    assert_no_endpoint_left(aws)


@pytest.mark.parametrize("failure", ["model_error", "error_reply", "short_reply"])
def test_scoring_failure_tears_the_endpoint_down(
    aws: Moto, artifact: dict[str, Any], failure: str
) -> None:
    engine = fitted(aws, artifact)

    def fail(**_: Any) -> tuple[AWSResponse, dict] | None:
        if failure == "model_error":
            return fake_error("ModelError", 424, "Received server error (500) from model")
        if failure == "error_reply":
            aws.queue_endpoint_results(['{"error": "Failed to process element: 0"}'])
        else:
            aws.queue_endpoint_results([json.dumps({"predictions": [[[[0.5]] * 3] * 8]})])
        return None

    aws.before_call("sagemaker-runtime", "InvokeEndpoint", fail)
    message = {
        "model_error": "ModelError",
        "error_reply": "Failed to process element",
        "short_reply": "expected 281 predictions in the reply, got 1",
    }[failure]
    with pytest.raises(RemoteJobError, match=message):
        engine.score_values(all_rows().to_numpy())
    assert_no_endpoint_left(aws)


def test_keep_endpoint_from_endpoint_attach_state_and_cleanup(
    aws_inprocess: Moto, artifact: dict[str, Any]
) -> None:
    aws = aws_inprocess
    engine = fitted(aws, artifact, keep_endpoint=True)
    serve_predictions(aws, engine.detector.model_)
    values = all_rows().to_numpy()
    expected = engine.score_values(values)
    name = engine.endpoint_name
    assert name is not None
    assert aws.client("sagemaker").list_endpoints()["Endpoints"][0]["EndpointName"] == name

    # an existing endpoint: scaling and geometry come from its model's artefact
    reused = SageMakerConvAEEngine.from_endpoint(name, aws.config())
    assert reused.model_data == engine.model_data
    np.testing.assert_allclose(reused.score_values(values), expected, rtol=1e-6)
    assert len(aws.client("sagemaker").list_endpoints()["Endpoints"]) == 1  # never deleted

    # attach to the training job: parameters and artefact come back
    attached = SageMakerConvAEEngine.attach(engine.training_job_name or "", aws.config())
    assert attached.params == PARAMS
    assert attached.model_data == engine.model_data
    assert attached.train_s3_uri == engine.train_s3_uri

    # the JSON state restores an engine that scores through the kept endpoint again
    state = json.loads(json.dumps(engine.to_state()))
    restored = SageMakerConvAEEngine.from_state(aws.config(), state)
    np.testing.assert_allclose(restored.score_values(values), expected, rtol=1e-6)
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


def test_batch_scoring_is_refused_with_a_hint(
    aws_inprocess: Moto, artifact: dict[str, Any]
) -> None:
    engine = fitted(aws_inprocess, artifact, scoring="batch")
    with pytest.raises(ConfigurationError, match="TF Serving endpoint"):
        engine.score(np.zeros((2, 8, 3)))
    with pytest.raises(DataError, match="shape"):
        engine.window_errors(np.zeros((2, 5, 3)))


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


def test_oversized_instance_is_a_data_error(tmp_path: Path) -> None:
    from anomark.sagemaker.endpoints import TFServingCodec

    codec = TFServingCodec((64, 64, 1))
    x = codec.prepare(np.full((1, 64, 64), 0.123456789))
    with pytest.raises(DataError, match=r"instance is .* bytes as JSON"):
        list(codec.requests(x, 2048))
    with pytest.raises(DataError, match="NaN"):
        codec.prepare(np.full((1, 64, 64), np.nan))
    with pytest.raises(DataError, match="shape"):
        codec.prepare(np.zeros((2, 64, 63)))


# ---------------------------------------------------------------------------- detector glue
def test_detector_fit_score_endpoint_save_and_attach(
    aws_inprocess: Moto, artifact: dict[str, Any], tmp_path: Path
) -> None:
    from anomark.detectors.conv_autoencoder.sagemaker import score_on_sagemaker

    aws = aws_inprocess
    serve_artifact(aws, artifact)
    frame = all_rows()
    det = ConvAutoencoderDetector(**PARAMS, sagemaker=aws.config())
    with pytest.raises(NotFittedError):
        score_on_sagemaker(det, frame.to_numpy())
    # an S3 prefix of CSV files: trained in the container; its fitted state is adopted
    assert det.fit(upload_days(aws)) is det
    engine = det.engine_
    assert list(det.feature_names_in_) == SENSORS
    assert det.threshold_.value_ == artifact["detector"].threshold_.value_
    local = det.score(frame)  # the downloaded model scores on this machine
    np.testing.assert_array_equal(local, artifact["detector"].score(frame))
    assert engine.resolve_scoring() == "local"

    # the same scores through a TF Serving endpoint, torn down afterwards
    serve_predictions(aws, det.model_)
    with det.endpoint():
        remote = det.score(frame)
    np.testing.assert_allclose(remote, local.to_numpy(), rtol=1e-5, atol=1e-9)
    assert_no_endpoint_left(aws)

    # save/load keeps the job, so a loaded detector can score (and serve) again
    loaded = ConvAutoencoderDetector.load(det.save(tmp_path / "det"))
    assert loaded.engine_.training_job_name == engine.training_job_name
    np.testing.assert_array_equal(loaded.score(frame), local)

    attached = ConvAutoencoderDetector.attach(engine.training_job_name or "", aws.config())
    np.testing.assert_array_equal(attached.score(frame), local)
    assert attached.engine_.training_job_name == engine.training_job_name
    assert attached.get_params()["sagemaker"] is not None

    with pytest.raises(ConfigurationError, match="SageMakerConfig"):
        ConvAutoencoderDetector(**PARAMS, sagemaker="ml.m5.xlarge").fit(frame)
    with pytest.raises(ConfigurationError, match="needs sagemaker"):
        ConvAutoencoderDetector(**PARAMS).fit("s3://bucket/prefix/")
    with pytest.raises(ConfigurationError, match="s3://"):
        ConvAutoencoderDetector(**PARAMS, sagemaker=aws.config()).fit_files(str(tmp_path))
    with pytest.raises(ConfigurationError, match="sagemaker="):
        artifact["detector"].endpoint()


def test_hyperparameters_round_trip_and_imports_stay_light() -> None:
    import subprocess
    import sys

    from anomark import Threshold
    from anomark.detectors.conv_autoencoder.sagemaker import (
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
        "heavy = ('tensorflow', 'keras', 'sagemaker')\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in heavy]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

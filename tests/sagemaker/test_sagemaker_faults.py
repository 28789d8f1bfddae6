"""SageMaker fault injection not covered elsewhere (issue 5): an S3 upload failing mid-way,
a training job stopped from outside, a 5xx from InvokeEndpoint followed by success, and the
detector-level guarantee that nothing anomark created is left behind."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _sagemaker_moto import Moto, assert_no_endpoint_left, fake_error, reference_scores
from test_sagemaker_rcf import fitted, series, shingles

from anomark.detectors.rcf.sagemaker import SageMakerRCFEngine
from anomark.errors import RemoteJobError


def test_s3_upload_failure_midway_is_clear_and_creates_no_job(aws_inprocess: Moto) -> None:
    aws = aws_inprocess
    puts: list[str] = []

    def fail_second_put(params: dict[str, Any], **_: Any) -> tuple[Any, dict] | None:
        puts.append(params.get("Key", ""))
        if len(puts) == 2:
            return fake_error("InternalError", 500, "We encountered an internal error")
        return None

    aws.before_call("s3", "PutObject", fail_second_put)
    jobs = aws.record("sagemaker", "CreateTrainingJob")
    config = aws.config(instance_count=2)  # two parts: the second upload fails
    engine = SageMakerRCFEngine(config, num_trees=50, num_samples_per_tree=64)
    message = r"upload to s3://.*part-00001\.csv failed.*InternalError"
    with pytest.raises(RemoteJobError, match=message):
        engine.fit(shingles(400))
    assert jobs == []  # no training job was started on partial data
    assert engine.model_data is None

    # the manifest is written last, so the partial upload is not mistaken for a complete one
    aws.session.events.unregister("before-call.s3.PutObject", fail_second_put)
    engine.fit(shingles(400))
    assert len(jobs) == 1 and engine.model_data is not None


def test_training_job_stopped_from_outside_raises(aws: Moto) -> None:
    aws.set_training_status("Stopped")
    engine = SageMakerRCFEngine(aws.config(), num_trees=50, num_samples_per_tree=64)
    with pytest.raises(RemoteJobError, match="Stopped"):
        engine.fit(shingles(120))
    assert engine.model_data is None


@pytest.mark.parametrize(("code", "status"), [("ServiceUnavailable", 503),
                                              ("InternalFailure", 500)])
def test_invoke_5xx_then_success_is_retried(
    aws_server: Moto, code: str, status: int, no_sleep: list[float]
) -> None:
    aws = aws_server
    aws.serve_reference_scores()
    attempts: list[int] = []

    def fail_once(**_: Any) -> tuple[Any, dict] | None:
        attempts.append(1)
        return fake_error(code, status, "try again") if len(attempts) == 1 else None

    aws.before_call("sagemaker-runtime", "InvokeEndpoint", fail_once)
    rows = shingles(100)
    engine = SageMakerRCFEngine(
        aws.config(scoring="endpoint"), num_trees=50, num_samples_per_tree=64,
        sleep=no_sleep.append,
    ).fit(rows)
    np.testing.assert_array_equal(engine.score(rows), reference_scores(rows))
    assert len(attempts) == 2 and len(no_sleep) == 1
    assert_no_endpoint_left(aws)


def test_detector_scoring_failure_leaves_nothing_behind(aws_inprocess: Moto) -> None:
    import pandas as pd

    from anomark.detectors.rcf import RCFDetector

    aws = aws_inprocess
    aws.queue_endpoint_results(['{"scores": [{"score": 1.0}]}'])  # fewer scores than rows
    values = series(200, seed=4)
    data = pd.DataFrame({"value": values[:, 0]},
                        index=pd.date_range("2015-01-01", periods=200, freq="h"))
    det = RCFDetector(num_trees=50, num_samples_per_tree=64, shingle_size=4,
                      sagemaker=aws.config(scoring="endpoint"))
    with pytest.raises(RemoteJobError, match="expected 197 scores"):
        det.fit(data)
    assert_no_endpoint_left(aws)
    # the engine that raised is still usable once the service answers properly
    engine = fitted(aws, shingles(50), scoring="endpoint")
    assert engine.is_fitted


# ---------------------------------------------------------------------------- safe teardown
def _creating_endpoint(aws: Moto, polls: int, *, on_create: bool = True) -> dict[str, Any]:
    """Endpoints stay ``Creating`` for ``polls`` DescribeEndpoint calls, and SageMaker refuses
    DeleteEndpoint while they do; every deletion call is recorded in order. Register before
    the clients are made (each boto3 client copies the session's hooks)."""
    state: dict[str, Any] = {"describes": 0, "calls": [], "refused": 0}
    backend = aws.sagemaker_backend

    def created(parsed: dict[str, Any], **_: Any) -> None:
        name = parsed["EndpointArn"].rsplit("/", 1)[-1]
        backend().endpoints[name].endpoint_status = "Creating"

    def describe(params: dict[str, Any], **_: Any) -> None:
        state["describes"] += 1
        endpoint = backend().endpoints.get(params["EndpointName"])
        if endpoint is not None and state["describes"] > polls:
            endpoint.endpoint_status = "InService"

    def deleting(params: dict[str, Any], **_: Any) -> None:
        state["deleting"] = params["EndpointName"]

    def delete(**_: Any) -> Any:  # before-call sees the serialised request: use the name above
        name = state["deleting"]
        endpoint = backend().endpoints.get(name)
        state["calls"].append(("endpoint", name))
        if endpoint is not None and endpoint.endpoint_status == "Creating":
            state["refused"] += 1
            return fake_error(
                "ValidationException", 400, f'Cannot update in-progress endpoint "{name}".'
            )
        return None

    def record(kind: str) -> Any:
        def handler(params: dict[str, Any], **_: Any) -> None:
            state["calls"].append((kind, next(iter(params.values()))))

        return handler

    if on_create:
        aws.after_call("sagemaker", "CreateEndpoint", created)
    aws.session.events.register("provide-client-params.sagemaker.DescribeEndpoint", describe)
    aws.session.events.register("provide-client-params.sagemaker.DeleteEndpoint", deleting)
    aws.before_call("sagemaker", "DeleteEndpoint", delete)
    aws.session.events.register("provide-client-params.sagemaker.DeleteEndpointConfig",
                                record("endpoint config"))
    aws.session.events.register("provide-client-params.sagemaker.DeleteModel", record("model"))
    return state


@pytest.mark.parametrize("mode", ["server", "inprocess"])
def test_ctrl_c_while_the_endpoint_is_creating_leaves_nothing_behind(
    request: pytest.FixtureRequest, mode: str
) -> None:
    aws: Moto = request.getfixturevalue(f"aws_{mode}")
    state = _creating_endpoint(aws, polls=5)
    engine = fitted(aws, shingles(100), scoring="endpoint")
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:  # the user presses Ctrl-C while anomark waits for InService
            raise KeyboardInterrupt

    engine._sleep = sleep
    with pytest.raises(KeyboardInterrupt):
        engine.score(shingles(100))
    # teardown waited until the endpoint left Creating, deleted it, then config and model
    kinds = [kind for kind, _ in state["calls"]]
    assert kinds == ["endpoint", "endpoint config", "model"]
    assert state["refused"] == 0 and state["describes"] > 5
    assert_no_endpoint_left(aws)


def test_delete_is_retried_and_remaining_resources_are_reported_truthfully(
    aws_inprocess: Moto, caplog: pytest.LogCaptureFixture
) -> None:
    from anomark.sagemaker.endpoints import deploy

    aws = aws_inprocess
    state = _creating_endpoint(aws, polls=10**6, on_create=False)
    refusals: list[int] = []

    def throttle_once(**_: Any) -> Any:
        refusals.append(1)
        if len(refusals) == 1:
            return fake_error("ThrottlingException", 400, "Rate exceeded")
        return None

    aws.before_call("sagemaker", "DeleteEndpoint", throttle_once)
    engine = fitted(aws, shingles(100))
    config = aws.config()
    ep = deploy(config, image_uri="img", model_data=engine.model_data or "", feature_dim=8,
                sleep=lambda _: None)
    backend = aws.sagemaker_backend()
    backend.endpoints[ep.name].endpoint_status = "Creating"  # e.g. an update started outside
    # the endpoint does not settle in time: nothing is deleted, all three are reported
    assert ep.delete(timeout=0.0) == []
    assert ep.deleted is False
    assert ep.left_behind == [f"endpoint {ep.name}", f"endpoint config {ep.endpoint_config_name}",
                              f"model {ep.model_name}"]
    assert state["calls"] == [] and "cleanup('anomark-t')" in caplog.text
    assert len(aws.client("sagemaker").list_endpoints()["Endpoints"]) == 1

    # once it settles, a refused DeleteEndpoint (throttled) is retried, then the rest goes
    backend.endpoints[ep.name].endpoint_status = "InService"
    done = ep.delete()
    assert len(done) == 3 and ep.deleted and ep.left_behind == []
    assert len(refusals) == 2
    assert_no_endpoint_left(aws)
    assert ep.delete() == []  # idempotent

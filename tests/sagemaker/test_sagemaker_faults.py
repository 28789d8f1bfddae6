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

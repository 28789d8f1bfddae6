"""Opt-in smoke test against a real AWS account (never runs by default, never in CI).

Run it yourself, on purpose, with an execution role and a bucket you own::

    ANOMARK_AWS_SMOKE=1 \\
    ANOMARK_AWS_ROLE=arn:aws:iam::123456789012:role/AnomarkSageMakerRole \\
    ANOMARK_AWS_BUCKET=my-anomark-bucket \\
    ANOMARK_AWS_REGION=us-east-1 \\
    pytest tests/sagemaker/test_aws_smoke.py -v -s

It uses your normal boto3 credentials (not moto), the smallest jobs that exercise every path —
Random Cut Forest: train, batch transform, endpoint, teardown; the autoencoder: train in the
TensorFlow container, endpoint (``score_rows`` signature), batch transform, teardown — and
guards the cost:

* instance types must be in :data:`ALLOWED_TYPES` (small CPU types) and every count is 1;
* ``max_runtime`` is 15 minutes per training job and every wait gives up after 30 minutes
  (the job is then stopped);
* every resource is named ``anosmk-<run id>-...`` and tagged ``anomark:smoke-run=<run id>``, and
  a ``finally`` block sweeps them (``anomark.sagemaker.cleanup``: jobs stopped, endpoints,
  endpoint configs and models deleted) and deletes the run's S3 objects — whatever happened.

Expected cost: about 40 instance-minutes of ml.m5.large (see docs/sagemaker.md, "Smoke test
against a real account"), i.e. cents at on-demand prices; it takes 30-45 minutes.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("ANOMARK_AWS_SMOKE") != "1",
        reason="real-account smoke test: set ANOMARK_AWS_SMOKE=1 (it costs money)",
    ),
]

ALLOWED_TYPES = frozenset({"ml.m5.large", "ml.m5.xlarge", "ml.c5.large", "ml.c5.xlarge"})
MAX_RUNTIME = 15 * 60
WAIT_TIMEOUT = 30 * 60


def guarded_config(**overrides: Any) -> Any:
    """A SageMakerConfig from the environment, refused unless it stays inside the cost guard."""
    import boto3

    from anomark import SageMakerConfig

    role = os.environ.get("ANOMARK_AWS_ROLE")
    bucket = os.environ.get("ANOMARK_AWS_BUCKET")
    if not role or not bucket:
        pytest.fail("set ANOMARK_AWS_ROLE and ANOMARK_AWS_BUCKET for the smoke test")
    region = os.environ.get("ANOMARK_AWS_REGION", "us-east-1")
    itype = os.environ.get("ANOMARK_AWS_INSTANCE_TYPE", "ml.m5.large")
    settings: dict[str, Any] = {
        "role": role,
        "bucket": bucket,
        "prefix": f"anomark-smoke/{RUN}",
        "session": boto3.Session(region_name=region),
        "region": region,
        "instance_type": itype,
        "inference_instance_type": itype,
        "transform_instance_type": itype,
        "instance_count": 1,
        "inference_instance_count": 1,
        "transform_instance_count": 1,
        "max_runtime": MAX_RUNTIME,
        "wait_timeout": WAIT_TIMEOUT,
        "name_prefix": NAME_PREFIX,
        "tags": {"anomark:smoke-run": RUN},
        "poll_interval": 20.0,
        "progress": False,
        **overrides,
    }
    config = SageMakerConfig(**settings).validate(accelerated_ok=True)  # the guard decides
    for name in ("instance_type", "inference_instance_type", "transform_instance_type"):
        if getattr(config, name) not in ALLOWED_TYPES:
            allowed = sorted(ALLOWED_TYPES)
            pytest.fail(f"cost guard: {name}={getattr(config, name)!r} not in {allowed}")
    for name in ("instance_count", "inference_instance_count", "transform_instance_count"):
        if getattr(config, name) != 1:
            pytest.fail(f"cost guard: {name} must be 1")
    if config.max_runtime > MAX_RUNTIME or config.use_spot:
        pytest.fail("cost guard: max_runtime <= 15 min, no spot waits")
    return config


RUN = secrets.token_hex(3)
NAME_PREFIX = f"anosmk-{RUN}"


@pytest.fixture(scope="module")
def swept() -> Iterator[None]:
    """Sweep everything the run created, whatever happens (also on errors and Ctrl-C)."""
    try:
        yield
    finally:
        from anomark.sagemaker import cleanup

        config = guarded_config()
        removed = cleanup(
            NAME_PREFIX,
            session=config.session,
            region=config.region,
            bucket=config.bucket,
            s3_prefix=config.prefix,
        )
        print(f"smoke run {RUN}: swept {len(removed)} resource(s): {removed}")


def _series(n: int = 600) -> pd.DataFrame:
    t = np.arange(n)
    rng = np.random.default_rng(0)
    values = np.column_stack([np.sin(t / 8.0), np.cos(t / 13.0)]) + 0.05 * rng.normal(size=(n, 2))
    values[450:455] += 3.0
    return pd.DataFrame(
        values, index=pd.date_range("2024-01-01", periods=n, freq="min"), columns=["a", "b"]
    )


def _nothing_left(config: Any) -> None:
    sm = config.client("sagemaker")
    endpoints = sm.list_endpoints(NameContains=NAME_PREFIX)["Endpoints"]
    models = sm.list_models(NameContains=NAME_PREFIX)["Models"]
    configs = sm.list_endpoint_configs(NameContains=NAME_PREFIX)["EndpointConfigs"]
    assert (endpoints, models, configs) == ([], [], [])


def test_rcf_train_batch_transform_endpoint_teardown(swept: None) -> None:
    from anomark import RCFDetector

    data = _series()
    config = guarded_config(scoring="batch")
    det = RCFDetector(num_trees=50, num_samples_per_tree=64, shingle_size=8, sagemaker=config)
    result = det.fit_detect(data)  # staging, training job, batch transform of the training rows
    assert np.isfinite(result.scores).all() and result.scores.iloc[450:460].max() > (
        result.scores.median()
    )
    with det.endpoint():  # model, endpoint config, endpoint: deleted when the block ends
        scores = det.score(data.iloc[-100:])
    assert np.isfinite(scores).all()
    _nothing_left(config)


def test_autoencoder_train_endpoint_batch_transform_teardown(swept: None) -> None:
    pytest.importorskip("tensorflow")
    from anomark import ConvAutoencoderDetector

    data = _series()
    config = guarded_config(scoring="endpoint")
    det = ConvAutoencoderDetector(
        window_size=8, epochs=2, batch_size=64, filters=(4, 4), random_state=0, sagemaker=config
    ).fit(data)  # TensorFlow training container; the artefact is downloaded
    with det.endpoint():
        served = det.score(data)  # score_rows signature on the TF Serving endpoint
    config.scoring = "auto"
    config.auto_batch_min_values = 0  # anything: batch transform
    batched = det.score(data)
    config.auto_batch_min_values = 10**18  # nothing: the downloaded model, locally
    here = det.score(data)
    np.testing.assert_allclose(served, here, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(batched, here, rtol=1e-5, atol=1e-9)
    _nothing_left(config)

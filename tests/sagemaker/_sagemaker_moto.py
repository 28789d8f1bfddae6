"""Helpers for the SageMaker tests: a moto session wrapper, reference scores, hooks.

``aws`` is parametrised over both modes. It yields a :class:`Moto` helper that creates the
bucket, builds a ``SageMakerConfig`` whose boto3 session carries the test's event hooks, and
knows how to queue InvokeEndpoint replies and reach moto's backends (the server runs in this
process, so its backends are the same objects as ``mock_aws``'s).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import numpy as np
import requests
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

from anomark.sagemaker import SageMakerConfig

ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/AnomarkSageMakerRole"
BUCKET = "anomark-test-bucket"


# Every test gets a fresh boto3 session (its event hooks must not leak), but they share one
# loader so the large service-model JSON files are parsed once per run, not once per test.
_LOADER = botocore.loaders.create_loader()


def new_session() -> boto3.Session:
    core = botocore.session.Session()
    core.register_component("data_loader", _LOADER)
    return boto3.Session(botocore_session=core, region_name=REGION)


_FORESTS: dict[int, Any] = {}


def reference_scores(rows: np.ndarray) -> np.ndarray:
    """What the RCF container would answer: the local engine's anomaly scores of ``rows``.

    One local forest per row width, trained on shingles of a noisy sine (the series the tests
    stage), so replies are realistic RCF scores and a reordered, dropped or duplicated row shows
    up as a different score.
    """
    from anomark.detectors.rcf.forest import RandomCutForest
    from anomark.windowing import Windowing

    rows = np.asarray(rows, dtype=np.float64)
    dim = rows.shape[1]
    if dim not in _FORESTS:
        t = np.arange(600)
        train = Windowing(dim).shingles((np.sin(t / 8.0) + 0.1 * np.cos(t / 3.0))[:, None])
        _FORESTS[dim] = RandomCutForest(num_trees=50, num_samples_per_tree=64, random_state=0).fit(
            train
        )
    return np.asarray(_FORESTS[dim].score(rows), dtype=np.float64)


def parse_csv(body: bytes) -> np.ndarray:
    return np.loadtxt(io.BytesIO(body), delimiter=",", ndmin=2)


@dataclass
class Moto:
    mode: str
    url: str  # base URL for /moto-api calls
    session: boto3.Session
    calls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    # ------------------------------------------------------------------ clients & config
    def client(self, service: str) -> Any:
        # a plain client (not from self.session, so the test hooks do not fire)
        return boto3.client(service, region_name=REGION)  # type: ignore[call-overload]

    def config(self, **kwargs: Any) -> SageMakerConfig:
        defaults: dict[str, Any] = {
            "role": ROLE,
            "bucket": BUCKET,
            "prefix": "anomark-tests",
            "session": self.session,
            "region": REGION,
            "poll_interval": 0.0,
            "progress": False,
            "name_prefix": "anomark-t",
        }
        defaults.update(kwargs)
        return SageMakerConfig(**defaults)

    # ------------------------------------------------------------------ hooks
    def record(self, service: str, operation: str) -> list[dict[str, Any]]:
        """Record the API parameters of every ``operation`` call made through ``session``."""
        calls: list[dict[str, Any]] = self.calls.setdefault(operation, [])

        def handler(params: dict[str, Any], **_: Any) -> None:
            calls.append(json.loads(json.dumps(params, default=_jsonable)))

        self.session.events.register(f"provide-client-params.{service}.{operation}", handler)
        return calls

    def before_call(self, service: str, operation: str, handler: Callable[..., Any]) -> None:
        self.session.events.register(f"before-call.{service}.{operation}", handler)

    def after_call(self, service: str, operation: str, handler: Callable[..., Any]) -> None:
        self.session.events.register(f"after-call.{service}.{operation}", handler)

    # ------------------------------------------------------------------ moto internals
    def queue_endpoint_results(self, bodies: list[str]) -> None:
        """Queue InvokeEndpoint replies through moto's documented static-results API."""
        payload: dict[str, Any] = {
            "account_id": ACCOUNT,
            "region": REGION,
            "results": [
                {
                    "Body": body,
                    "ContentType": "application/json",
                    "InvokedProductionVariant": "AllTraffic",
                    "CustomAttributes": "",
                }
                for body in bodies
            ],
        }
        resp = requests.post(f"{self.url}/moto-api/static/sagemaker/endpoint-results", json=payload)
        assert resp.status_code == 201, resp.text

    def serve_reference_scores(self) -> list[bytes]:
        """Before each InvokeEndpoint, queue the reference scores of exactly that body's rows."""
        bodies: list[bytes] = []

        def handler(params: dict[str, Any], **_: Any) -> None:
            body = params["body"]
            body = body if isinstance(body, bytes) else body.read()
            bodies.append(body)
            scores = reference_scores(parse_csv(body))
            self.queue_endpoint_results(
                [json.dumps({"scores": [{"score": float(s)} for s in scores]})]
            )

        self.before_call("sagemaker-runtime", "InvokeEndpoint", handler)
        return bodies

    def serve_transform_output(self, fmt: str = "jsonlines") -> list[dict[str, Any]]:
        """Write a transform job's ``<part>.out`` files (moto runs no containers)."""
        jobs: list[dict[str, Any]] = []
        s3 = self.client("s3")

        def handler(params: dict[str, Any], **_: Any) -> None:
            jobs.append(params)
            in_uri = params["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
            out_uri = params["TransformOutput"]["S3OutputPath"]
            in_bucket, _, in_prefix = in_uri[5:].partition("/")
            out_bucket, _, out_prefix = out_uri[5:].partition("/")
            listing = s3.list_objects_v2(Bucket=in_bucket, Prefix=in_prefix)
            for obj in listing.get("Contents", []):
                rel = obj["Key"][len(in_prefix) :].lstrip("/")
                data = s3.get_object(Bucket=in_bucket, Key=obj["Key"])["Body"].read()
                scores = reference_scores(parse_csv(data))
                if fmt == "jsonlines":
                    text = "".join(json.dumps({"score": float(s)}) + "\n" for s in scores)
                elif fmt == "commas":  # as AWS's RCF documentation prints it
                    text = "".join(json.dumps({"score": float(s)}) + ",\n" for s in scores)
                else:  # one JSON document per mini-batch, as some containers write
                    text = json.dumps({"scores": [{"score": float(s)} for s in scores]}) + "\n"
                key = f"{out_prefix.rstrip('/')}/{rel}.out"
                s3.put_object(Bucket=out_bucket, Key=key, Body=text.encode())

        self.session.events.register("provide-client-params.sagemaker.CreateTransformJob", handler)
        return jobs

    @staticmethod
    def sagemaker_backend() -> Any:
        from moto.backends import get_backend

        return get_backend("sagemaker")[ACCOUNT][REGION]

    def set_training_status(self, status: str, reason: str | None = None) -> list[str]:
        """Right after CreateTrainingJob, switch the new job to ``status`` in moto's backend."""
        names: list[str] = []

        def handler(parsed: dict[str, Any], **_: Any) -> None:
            name = parsed["TrainingJobArn"].rsplit("/", 1)[-1]
            names.append(name)
            job = self.sagemaker_backend().training_jobs[name]
            job.training_job_status = status
            job.secondary_status = status
            if reason is not None:
                job.failure_reason = reason

        self.after_call("sagemaker", "CreateTrainingJob", handler)
        return names


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, bytes | bytearray):
        return f"<{len(obj)} bytes>"
    return repr(obj)


def assert_no_endpoint_left(aws: Moto) -> None:
    """No endpoint, endpoint config or model exists in moto."""
    sm = aws.client("sagemaker")
    assert sm.list_endpoints()["Endpoints"] == []
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []
    assert sm.list_models()["Models"] == []


def fake_error(code: str, status: int, message: str = "injected") -> tuple[AWSResponse, dict]:
    """A ``before-call`` return value that makes botocore see an AWS error reply."""
    http = AWSResponse("https://runtime.sagemaker.invalid", status, HTTPHeaders(), None)
    parsed = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return http, parsed

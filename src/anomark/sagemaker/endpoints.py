"""Real-time endpoints: create model → endpoint config → endpoint, score in chunks, tear down.

Rows are sent as CSV in as few InvokeEndpoint calls as the payload limit allows (never one call
per row), in order, and the ``{"scores": [{"score": x}, ...]}`` replies are reassembled in
order. Throttling and transient errors are retried with exponential backoff (injectable
``sleep``). Teardown deletes endpoint, then endpoint config, then model.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from anomark.errors import DataError, RemoteJobError
from anomark.sagemaker.config import SageMakerConfig
from anomark.sagemaker.jobs import (
    client_error_message,
    default_timeout,
    endpoint_waiter,
    make_name,
    wait_for_status,
)
from anomark.sagemaker.staging import check_rows, csv_row_bytes

__all__ = ["Endpoint", "chunk_rows", "create_model", "deploy", "parse_scores"]

logger = logging.getLogger("anomark.sagemaker")

Sleep = Callable[[float], None]

RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalServerError",
        "ModelNotReadyException",
    }
)
MAX_RETRIES = 6
BACKOFF_BASE = 0.5
BACKOFF_MAX = 20.0


def chunk_rows(lines: list[bytes], max_bytes: int) -> list[tuple[int, int]]:
    """Group consecutive CSV lines into ``(start, stop)`` chunks of at most ``max_bytes``.

    Raises
    ------
    DataError
        When one line alone is larger than ``max_bytes``.
    """
    sizes = np.fromiter((len(line) for line in lines), dtype=np.int64, count=len(lines))
    if sizes.size and sizes.max() > max_bytes:
        raise DataError(
            f"one row is {int(sizes.max())} bytes as CSV, more than the {max_bytes}-byte "
            "endpoint payload limit; use batch scoring or a smaller shingle"
        )
    out: list[tuple[int, int]] = []
    start = 0
    ends = np.cumsum(sizes)
    while start < len(lines):
        base = ends[start - 1] if start else 0
        stop = int(np.searchsorted(ends, base + max_bytes, side="right"))
        out.append((start, stop))
        start = stop
    return out


def parse_scores(body: bytes | str, expected: int | None = None) -> np.ndarray:
    """Scores from an RCF reply: JSON ``{"scores": [{"score": x}, ...]}`` or JSON Lines.

    Raises
    ------
    RemoteJobError
        When the body is not one of those forms, or holds ``expected`` scores not.
    """
    text = body.decode("utf-8") if isinstance(body, bytes | bytearray) else body
    scores: list[float] = []
    try:
        stripped = text.strip()
        try:
            docs: list[Any] = [json.loads(stripped)] if stripped else []
        except json.JSONDecodeError:
            docs = []
            for line in stripped.splitlines():
                line = line.strip()
                if not line:
                    continue
                try:
                    docs.append(json.loads(line))
                except json.JSONDecodeError:
                    docs.append(json.loads(f"[{line}]"))  # '{"score": 1}, {"score": 2}'
        for doc in docs:
            _collect(doc, scores)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise RemoteJobError(
            f"cannot read RCF scores from the reply ({exc}); got {text[:200]!r}"
        ) from None
    out = np.asarray(scores, dtype=np.float64)
    if expected is not None and out.shape[0] != expected:
        raise RemoteJobError(f"expected {expected} scores in the reply, got {out.shape[0]}")
    if not np.isfinite(out).all():
        raise RemoteJobError("the reply holds non-finite scores")
    return out


def _collect(doc: Any, scores: list[float]) -> None:
    if isinstance(doc, list):
        for item in doc:
            _collect(item, scores)
    elif isinstance(doc, dict) and "scores" in doc:
        _collect(doc["scores"], scores)
    elif isinstance(doc, dict) and "score" in doc:
        value = doc["score"]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"score must be a number, got {value!r}")
        scores.append(float(value))
    else:
        raise KeyError(f"no 'score' or 'scores' in {str(doc)[:80]}")


def create_model(
    sm: Any, config: SageMakerConfig, *, name: str, image_uri: str, model_data: str
) -> None:
    """``CreateModel`` serving ``model_data`` with ``image_uri``."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        sm.create_model(
            ModelName=name,
            PrimaryContainer={"Image": image_uri, "ModelDataUrl": model_data},
            ExecutionRoleArn=config.role,
            Tags=config.resource_tags(),
        )
    except (ClientError, BotoCoreError) as exc:
        raise RemoteJobError(
            f"CreateModel {name} was refused: {client_error_message(exc)}"
        ) from None


class Endpoint:
    """A real-time endpoint that scores rows; use :func:`deploy` to create one.

    Parameters
    ----------
    config : SageMakerConfig
    name : str
        Endpoint name.
    owned : bool
        Whether this library created it (only then :meth:`delete` removes it, with its
        endpoint config and model).
    endpoint_config_name, model_name : str, optional
        Created alongside (deleted after the endpoint).
    feature_dim : int, optional
        Expected row width, checked before sending.
    sleep : callable
        Used for backoff (tests pass a no-op).
    """

    def __init__(
        self,
        config: SageMakerConfig,
        name: str,
        *,
        owned: bool,
        endpoint_config_name: str | None = None,
        model_name: str | None = None,
        feature_dim: int | None = None,
        sleep: Sleep = time.sleep,
        sm: Any = None,
        runtime: Any = None,
    ) -> None:
        self.config = config
        self.name = name
        self.owned = owned
        self.endpoint_config_name = endpoint_config_name
        self.model_name = model_name
        self.feature_dim = feature_dim
        self._sleep = sleep
        self._sm = sm
        self._runtime = runtime
        self.deleted = False
        self.endpoint_created = True
        self.n_requests = 0

    def __repr__(self) -> str:
        return f"Endpoint({self.name!r}, owned={self.owned})"

    @property
    def sm(self) -> Any:
        """The ``sagemaker`` boto3 client (created on first use)."""
        if self._sm is None:
            self._sm = self.config.client("sagemaker")
        return self._sm

    @property
    def runtime(self) -> Any:
        """The ``sagemaker-runtime`` boto3 client (created on first use)."""
        if self._runtime is None:
            self._runtime = self.config.client("sagemaker-runtime")
        return self._runtime

    def __enter__(self) -> Endpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.owned and not self.config.keep_endpoint:
            self.delete()

    # ------------------------------------------------------------------ scoring
    def score(self, rows: np.ndarray) -> np.ndarray:
        """One score per row, in order (CSV chunks under the payload limit)."""
        if self.deleted:
            raise RemoteJobError(f"endpoint {self.name} was deleted; open a new one")
        arr = check_rows(rows)
        if self.feature_dim is not None and arr.shape[1] != self.feature_dim:
            raise DataError(
                f"rows have {arr.shape[1]} values but the model was trained on "
                f"feature_dim={self.feature_dim}"
            )
        lines = csv_row_bytes(arr)
        out = np.empty(arr.shape[0], dtype=np.float64)
        for start, stop in chunk_rows(lines, int(self.config.max_payload_bytes)):
            body = b"".join(lines[start:stop])
            out[start:stop] = parse_scores(self._invoke(body), expected=stop - start)
        return out

    def _invoke(self, body: bytes) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        attempt = 0
        while True:
            try:
                self.n_requests += 1
                reply = self.runtime.invoke_endpoint(
                    EndpointName=self.name,
                    ContentType="text/csv",
                    Accept="application/json",
                    Body=body,
                )
                return bytes(reply["Body"].read())
            except ClientError as exc:
                err = exc.response.get("Error", {})
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                retryable = err.get("Code") in RETRYABLE_CODES or status in (429, 503)
                if not retryable or attempt >= MAX_RETRIES:
                    raise RemoteJobError(
                        f"InvokeEndpoint {self.name} failed"
                        + (f" after {attempt + 1} attempts" if attempt else "")
                        + f": {client_error_message(exc)}"
                    ) from None
            except BotoCoreError as exc:
                if attempt >= MAX_RETRIES:
                    raise RemoteJobError(f"InvokeEndpoint {self.name} failed: {exc}") from None
            delay = min(BACKOFF_MAX, BACKOFF_BASE * 2**attempt) * (0.5 + random.random() / 2)
            logger.info("InvokeEndpoint %s throttled; retrying in %.1f s", self.name, delay)
            self._sleep(delay)
            attempt += 1

    # ------------------------------------------------------------------ teardown
    def delete(self) -> list[str]:
        """Delete endpoint → endpoint config → model (those this object created); idempotent.

        Returns the names deleted. Failures are logged, not raised, so that teardown in a
        ``finally`` never hides the original error; leftovers are reported with the hint to
        run ``anomark.sagemaker.cleanup``.
        """
        if not self.owned or self.deleted:
            return []
        from botocore.exceptions import BotoCoreError, ClientError

        done: list[str] = []
        failed: list[str] = []
        steps = [
            (
                "endpoint",
                self.name if self.endpoint_created else None,
                lambda n: self.sm.delete_endpoint(EndpointName=n),
            ),
            (
                "endpoint config",
                self.endpoint_config_name,
                lambda n: self.sm.delete_endpoint_config(EndpointConfigName=n),
            ),
            ("model", self.model_name, lambda n: self.sm.delete_model(ModelName=n)),
        ]
        for kind, name, call in steps:
            if name is None:
                continue
            try:
                call(name)
                done.append(name)
                logger.info("deleted %s %s", kind, name)
            except (ClientError, BotoCoreError) as exc:
                failed.append(f"{kind} {name}")
                logger.error("could not delete %s %s: %s", kind, name, client_error_message(exc))
        self.deleted = True
        if failed:
            logger.error(
                "left behind: %s; run anomark.sagemaker.cleanup(%r) to remove them",
                ", ".join(failed),
                self.config.name_prefix,
            )
        return done


def deploy(
    config: SageMakerConfig,
    *,
    image_uri: str,
    model_data: str,
    feature_dim: int | None,
    sleep: Sleep = time.sleep,
    sm: Any = None,
    runtime: Any = None,
) -> Endpoint:
    """Create model, endpoint config and endpoint, wait until ``InService``.

    Whatever was created is deleted again if creation fails or is interrupted.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    sm = sm if sm is not None else config.client("sagemaker")
    model_name = make_name(config, "rcf-model")
    config_name = make_name(config, "rcf-epc")
    endpoint_name = make_name(config, "rcf-ep")
    ep = Endpoint(
        config,
        endpoint_name,
        owned=True,
        feature_dim=feature_dim,
        sleep=sleep,
        sm=sm,
        runtime=runtime,
    )
    ep.endpoint_created = False
    try:
        create_model(sm, config, name=model_name, image_uri=image_uri, model_data=model_data)
        ep.model_name = model_name
        try:
            sm.create_endpoint_config(
                EndpointConfigName=config_name,
                ProductionVariants=[
                    {
                        "VariantName": "AllTraffic",
                        "ModelName": model_name,
                        "InstanceType": config.inference_instance_type,
                        "InitialInstanceCount": int(config.inference_instance_count),
                        "InitialVariantWeight": 1.0,
                    }
                ],
                Tags=config.resource_tags(),
            )
            ep.endpoint_config_name = config_name
            sm.create_endpoint(
                EndpointName=endpoint_name,
                EndpointConfigName=config_name,
                Tags=config.resource_tags(),
            )
            ep.endpoint_created = True
        except (ClientError, BotoCoreError) as exc:
            raise RemoteJobError(f"creating endpoint failed: {client_error_message(exc)}") from None
        wait_for_status(
            endpoint_waiter(sm, endpoint_name),
            endpoint_name,
            poll_interval=float(config.poll_interval),
            timeout=default_timeout(config),
            sleep=sleep,
            progress=config.progress,
        )
    except BaseException:
        ep.delete()  # whatever was created; a half-made endpoint is of no use
        raise
    logger.info("endpoint %s is InService", endpoint_name)
    return ep

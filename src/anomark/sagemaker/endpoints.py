"""Real-time endpoints: create model → endpoint config → endpoint, score in chunks, tear down.

What goes over the wire is a :class:`PayloadCodec`: :class:`CSVScoresCodec` (Random Cut
Forest: CSV rows in, ``{"scores": [{"score": x}, ...]}`` out) or :class:`TFServingCodec`
(TensorFlow Serving: ``{"instances": [...]}`` in, ``{"predictions": [...]}`` out). Either way,
items are sent in as few InvokeEndpoint calls as the payload limit allows (never one call per
item), in order, and the replies are reassembled in order. Throttling and transient errors are
retried with exponential backoff (injectable ``sleep``). Teardown deletes endpoint, then
endpoint config, then model.
"""

from __future__ import annotations

import io
import json
import logging
import math
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, Protocol

import numpy as np

from anomark.errors import ConfigurationError, DataError, NotFittedError, RemoteJobError
from anomark.sagemaker.config import SageMakerConfig
from anomark.sagemaker.jobs import (
    client_error_message,
    default_timeout,
    endpoint_waiter,
    make_name,
    wait_for_status,
)
from anomark.sagemaker.staging import check_rows, csv_row_bytes

__all__ = [
    "CSVScoresCodec",
    "Endpoint",
    "EndpointEngine",
    "PayloadCodec",
    "TFServingCodec",
    "chunk_rows",
    "create_model",
    "deploy",
    "encode_instances",
    "parse_predictions",
    "parse_scores",
]

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


def chunk_rows(
    lines: Sequence[bytes],
    max_bytes: int,
    *,
    what: str = "row is {n} bytes as CSV",
    hint: str = "use batch scoring or a smaller shingle",
) -> list[tuple[int, int]]:
    """Group consecutive encoded items into ``(start, stop)`` chunks of at most ``max_bytes``.

    ``what`` and ``hint`` word the error for the caller's kind of item.

    Raises
    ------
    DataError
        When one item alone is larger than ``max_bytes``.
    """
    sizes = np.fromiter((len(line) for line in lines), dtype=np.int64, count=len(lines))
    if sizes.size and sizes.max() > max_bytes:
        raise DataError(
            f"one {what.format(n=int(sizes.max()))}, more than the {max_bytes}-byte "
            f"endpoint payload limit; {hint}"
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


def encode_instances(x: np.ndarray) -> list[bytes]:
    """Each item of ``x`` (first axis) as a JSON nested list, float32 values in ``%.9g``.

    Nine significant digits round-trip float32 exactly, in about half the bytes of
    ``json.dumps(x.tolist())`` (which writes the float64 expansion of every float32).
    """
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim < 2:
        raise DataError(f"expected items of at least 1 dimension, got shape {arr.shape}")
    if arr.shape[0] == 0:
        return []
    if arr.ndim >= 3 and arr.shape[-1] == 1:
        # (..., n, 1): format whole rows of n one-element lists at once (much faster)
        rows, fmt, groups = arr.reshape(-1, arr.shape[-2]), "[%.9g]", arr.shape[1:-2]
    else:
        rows, fmt, groups = arr.reshape(-1, arr.shape[-1]), "%.9g", arr.shape[1:-1]
    buf = io.StringIO()
    np.savetxt(buf, rows, fmt=fmt, delimiter=",")
    items = ["[" + line + "]" for line in buf.getvalue().splitlines()]
    for size in reversed(groups):
        items = ["[" + ",".join(items[i : i + size]) + "]" for i in range(0, len(items), size)]
    return [item.encode("ascii") for item in items]


def parse_predictions(
    body: bytes | str, expected: int | None = None, item_shape: Sequence[int] | None = None
) -> np.ndarray:
    """The ``predictions`` of a TensorFlow Serving reply as a float32 array.

    Parameters
    ----------
    body : bytes or str
        ``{"predictions": [...]}`` (the row format of TF Serving's REST API).
    expected : int, optional
        Number of predictions the request asked for.
    item_shape : sequence of int, optional
        Shape of one prediction; a trailing axis of size 1 may be present or not.

    Raises
    ------
    RemoteJobError
        Not JSON, no ``predictions`` (an ``error`` reply is quoted), ragged or non-numeric
        values, the wrong number or shape of predictions, or non-finite values.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes | bytearray) else body
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RemoteJobError(f"the reply is not JSON ({exc}); got {text[:200]!r}") from None
    if not isinstance(doc, dict) or "predictions" not in doc:
        detail = doc.get("error") if isinstance(doc, dict) else None
        raise RemoteJobError(
            "the reply holds no 'predictions'"
            + (f": {detail}" if detail else f"; got {text[:200]!r}")
        )
    try:
        out = np.asarray(doc["predictions"], dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise RemoteJobError(f"the predictions are not a numeric array: {exc}") from None
    if expected is not None and (out.ndim == 0 or out.shape[0] != expected):
        got = out.shape[0] if out.ndim else 0
        raise RemoteJobError(f"expected {expected} predictions in the reply, got {got}")
    if item_shape is not None:
        shape = tuple(int(d) for d in item_shape)
        if out.shape[1:] != shape:
            if (*out.shape[1:], 1) == shape or out.shape[1:] == (*shape, 1):
                out = out.reshape((out.shape[0], *shape))
            else:
                raise RemoteJobError(
                    f"predictions have shape {out.shape[1:]} per item, expected {shape}"
                )
    if not np.isfinite(out).all():
        raise RemoteJobError("the reply holds non-finite predictions")
    return out


class PayloadCodec(Protocol):
    """How an :class:`Endpoint` encodes requests and decodes replies."""

    content_type: str
    accept: str

    def prepare(self, data: Any) -> np.ndarray:
        """Validate ``data`` (raise :class:`DataError`) and return it as an array."""
        ...

    def requests(self, data: np.ndarray, max_bytes: int) -> Iterator[tuple[int, int, bytes]]:
        """``(start, stop, body)`` for consecutive items, each body at most ``max_bytes``."""
        ...

    def parse(self, body: bytes, expected: int) -> np.ndarray:
        """The ``expected`` results in a reply (raise :class:`RemoteJobError` otherwise)."""
        ...


class CSVScoresCodec:
    """Random Cut Forest: CSV rows in, one score per row out (:func:`parse_scores`).

    Parameters
    ----------
    feature_dim : int, optional
        Expected row width, checked before sending.
    """

    content_type = "text/csv"
    accept = "application/json"

    def __init__(self, feature_dim: int | None = None) -> None:
        self.feature_dim = feature_dim

    def prepare(self, data: Any) -> np.ndarray:
        arr = check_rows(data)
        if self.feature_dim is not None and arr.shape[1] != self.feature_dim:
            raise DataError(
                f"rows have {arr.shape[1]} values but the model was trained on "
                f"feature_dim={self.feature_dim}"
            )
        return arr

    def requests(self, data: np.ndarray, max_bytes: int) -> Iterator[tuple[int, int, bytes]]:
        lines = csv_row_bytes(data)
        for start, stop in chunk_rows(lines, max_bytes):
            yield start, stop, b"".join(lines[start:stop])

    def parse(self, body: bytes, expected: int) -> np.ndarray:
        return parse_scores(body, expected=expected)


class TFServingCodec:
    """TensorFlow Serving's REST row format: ``{"instances": [...]}`` → ``{"predictions"}``.

    Parameters
    ----------
    item_shape : sequence of int
        Shape of one instance (without the batch axis), e.g. ``(window_size, n_features, 1)``;
        inputs of shape ``item_shape`` without its trailing 1 are accepted too.
    """

    content_type = "application/json"
    accept = "application/json"
    _OPEN = b'{"instances":['
    _CLOSE = b"]}"

    def __init__(self, item_shape: Sequence[int]) -> None:
        self.item_shape = tuple(int(d) for d in item_shape)

    def prepare(self, data: Any) -> np.ndarray:
        arr = np.asarray(data)
        if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
            raise DataError(f"instances must be real numbers, got dtype {arr.dtype}")
        shape = self.item_shape
        if arr.ndim >= 1 and (*arr.shape[1:], 1) == shape:
            arr = arr[..., None]
        if arr.ndim != len(shape) + 1 or arr.shape[1:] != shape or arr.shape[0] == 0:
            raise DataError(
                f"expected a non-empty array of instances of shape {shape}, got {arr.shape}"
            )
        arr = np.asarray(arr, dtype=np.float32)
        if not np.isfinite(arr).all():
            raise DataError("instances contain NaN or infinite values (after float32 cast)")
        return arr

    def requests(self, data: np.ndarray, max_bytes: int) -> Iterator[tuple[int, int, bytes]]:
        overhead = len(self._OPEN) + len(self._CLOSE)
        # encode a bounded number of instances at a time: memory stays flat for large inputs
        block = max(1, 2**22 // max(1, math.prod(self.item_shape)))
        for a in range(0, data.shape[0], block):
            items = encode_instances(data[a : a + block])
            sized = [item + b"," for item in items]  # the separator counts against the limit
            for start, stop in chunk_rows(
                sized,
                max_bytes - overhead + 1,
                what="instance is {n} bytes as JSON",
                hint="use smaller windows or fewer columns",
            ):
                body = self._OPEN + b",".join(items[start:stop]) + self._CLOSE
                yield a + start, a + stop, body

    def parse(self, body: bytes, expected: int) -> np.ndarray:
        return parse_predictions(body, expected, self.item_shape)


def create_model(
    sm: Any,
    config: SageMakerConfig,
    *,
    name: str,
    image_uri: str,
    model_data: str,
    environment: Mapping[str, str] | None = None,
) -> None:
    """``CreateModel`` serving ``model_data`` with ``image_uri`` (and container ``environment``)."""
    from botocore.exceptions import BotoCoreError, ClientError

    container: dict[str, Any] = {"Image": image_uri, "ModelDataUrl": model_data}
    if environment:
        container["Environment"] = dict(environment)
    try:
        sm.create_model(
            ModelName=name,
            PrimaryContainer=container,
            ExecutionRoleArn=config.role,
            Tags=config.resource_tags(),
        )
    except (ClientError, BotoCoreError) as exc:
        raise RemoteJobError(
            f"CreateModel {name} was refused: {client_error_message(exc)}"
        ) from None


class Endpoint:
    """A real-time endpoint that scores rows (or instances); use :func:`deploy` to create one.

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
        Expected row width, checked before sending (for the default CSV codec).
    codec : PayloadCodec, optional
        Request/reply format; default :class:`CSVScoresCodec` (Random Cut Forest).
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
        codec: PayloadCodec | None = None,
    ) -> None:
        self.config = config
        self.codec: PayloadCodec = codec if codec is not None else CSVScoresCodec(feature_dim)
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
        """One result per row (instance), in order, in requests under the payload limit.

        With the default codec: one RCF score per CSV row; with :class:`TFServingCodec`: one
        prediction per instance.
        """
        if self.deleted:
            raise RemoteJobError(f"endpoint {self.name} was deleted; open a new one")
        arr = self.codec.prepare(rows)
        parts = [
            self.codec.parse(self._invoke(body), expected=stop - start)
            for start, stop, body in self.codec.requests(arr, int(self.config.max_payload_bytes))
        ]
        return np.concatenate(parts)

    def _invoke(self, body: bytes) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        attempt = 0
        while True:
            try:
                self.n_requests += 1
                reply = self.runtime.invoke_endpoint(
                    EndpointName=self.name,
                    ContentType=self.codec.content_type,
                    Accept=self.codec.accept,
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
    codec: PayloadCodec | None = None,
    kind: str = "rcf",
    environment: Mapping[str, str] | None = None,
) -> Endpoint:
    """Create model, endpoint config and endpoint, wait until ``InService``.

    ``kind`` goes into the resource names (``<name_prefix>-<kind>-model-...``); ``codec`` and
    ``environment`` (the serving container's) default to Random Cut Forest's.
    Whatever was created is deleted again if creation fails or is interrupted.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    sm = sm if sm is not None else config.client("sagemaker")
    model_name = make_name(config, f"{kind}-model")
    config_name = make_name(config, f"{kind}-epc")
    endpoint_name = make_name(config, f"{kind}-ep")
    ep = Endpoint(
        config,
        endpoint_name,
        owned=True,
        feature_dim=feature_dim,
        sleep=sleep,
        sm=sm,
        runtime=runtime,
        codec=codec,
    )
    ep.endpoint_created = False
    try:
        create_model(
            sm,
            config,
            name=model_name,
            image_uri=image_uri,
            model_data=model_data,
            environment=environment,
        )
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


def check_engine_state(
    state: Any, keys: frozenset[str] | set[str], *, integers: tuple[str, ...] = (),
    objects: tuple[str, ...] = (),
) -> Mapping[str, Any]:
    """Validate an engine's saved state (see the engines' ``from_state``).

    ``state`` must be a mapping with keys among ``keys``; the keys in ``integers`` hold ints,
    those in ``objects`` mappings, every other one a string (or None); ``model_data``, when
    present, is an ``s3://`` URI. Raises :class:`ConfigurationError` naming the bad entry.
    """
    if not isinstance(state, Mapping):
        raise ConfigurationError(f"engine state must be a dict, got {type(state).__name__}")
    unknown = set(state) - set(keys)
    if unknown:
        raise ConfigurationError(f"unknown SageMaker engine state keys {sorted(unknown)}")
    for key, value in state.items():
        if value is None:
            continue
        if key in integers:
            ok = isinstance(value, int) and not isinstance(value, bool)
            kind = "an integer"
        elif key in objects:
            ok, kind = isinstance(value, Mapping), "a dict"
        else:
            ok, kind = isinstance(value, str), "a string"
        if not ok:
            raise ConfigurationError(f"engine state {key!r} must be {kind}, got {value!r}")
    model_data = state.get("model_data")
    if model_data is not None and not model_data.startswith("s3://"):
        raise ConfigurationError(f"engine state model_data must be an s3:// URI: {model_data!r}")
    return state


class EndpointEngine:
    """What the SageMaker engines share: cached clients and the real-time endpoint lifecycle.

    Subclasses set ``endpoint_kind`` (used in resource names) and implement
    :meth:`_serving_image` and :meth:`_codec`; they may override :meth:`_validate_config`
    and :meth:`_serving_environment`. They hold ``config``, ``model_data`` (the artefact an
    endpoint serves) and ``endpoint_name`` (an existing endpoint, never deleted by anomark).
    """

    endpoint_kind: ClassVar[str] = "model"

    def __init__(self, config: SageMakerConfig, *, sleep: Sleep = time.sleep) -> None:
        if not isinstance(config, SageMakerConfig):
            raise ConfigurationError(
                f"sagemaker must be a SageMakerConfig, got {type(config).__name__}"
            )
        self.config = config
        self.training_job_name: str | None = None
        self.model_data: str | None = None
        self.endpoint_name: str | None = None
        self.train_s3_uri: str | None = None
        self._sleep = sleep
        self._active: Endpoint | None = None
        self._clients: dict[str, Any] = {}

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.config.client(service)
        return self._clients[service]

    def _validate_config(self) -> None:
        self.config.validate()

    def _serving_image(self) -> str:
        raise NotImplementedError

    def _codec(self) -> PayloadCodec:
        raise NotImplementedError

    def _serving_environment(self) -> Mapping[str, str] | None:
        return None

    @property
    def is_fitted(self) -> bool:
        """Whether the engine can score (a model artefact or an endpoint)."""
        return self.model_data is not None or self.endpoint_name is not None

    def _require_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(
                "the SageMaker engine has no trained model: call fit, attach or from_endpoint"
            )

    @contextmanager
    def endpoint(self) -> Iterator[Endpoint]:
        """A real-time endpoint for repeated scoring; deleted on exit unless ``keep_endpoint``.

        While open, the engine's ``score`` sends to it. Nested use reuses the open endpoint;
        after ``from_endpoint`` the existing endpoint is used (and never deleted).
        """
        self._require_fitted()
        self._validate_config()
        if self._active is not None:
            yield self._active
            return
        if self.endpoint_name is not None:
            ep = Endpoint(
                self.config,
                self.endpoint_name,
                owned=False,
                sleep=self._sleep,
                sm=self._client("sagemaker"),
                runtime=self._client("sagemaker-runtime"),
                codec=self._codec(),
            )
        else:
            assert self.model_data is not None
            ep = deploy(
                self.config,
                image_uri=self._serving_image(),
                model_data=self.model_data,
                feature_dim=None,
                sleep=self._sleep,
                sm=self._client("sagemaker"),
                runtime=self._client("sagemaker-runtime"),
                codec=self._codec(),
                kind=self.endpoint_kind,
                environment=self._serving_environment(),
            )
        self._active = ep
        try:
            yield ep
        finally:
            self._active = None
            if ep.owned:
                if self.config.keep_endpoint:
                    logger.warning(
                        "keep_endpoint=True: endpoint %s stays up (and bills) until deleted; "
                        "anomark.sagemaker.cleanup(%r) removes it",
                        ep.name,
                        self.config.name_prefix,
                    )
                    self.endpoint_name = ep.name
                else:
                    ep.delete()

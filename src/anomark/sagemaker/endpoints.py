"""Real-time endpoints: create model → endpoint config → endpoint, score in chunks, tear down.

What goes over the wire is a :class:`~anomark.sagemaker.codecs.PayloadCodec` (RCF's CSV or
TensorFlow Serving's JSON, :mod:`anomark.sagemaker.codecs`). Items are sent in as few
InvokeEndpoint calls as the payload limits allow (never one call per item; request *and* reply
bounded), in order, and the replies are reassembled in order. A request the service refuses as
too large (HTTP 413 or a size error) is split in two and retried; throttling and transient
errors are retried with exponential backoff (injectable ``sleep`` and random source).

Teardown deletes endpoint, then endpoint config, then model — but SageMaker refuses
DeleteEndpoint while an endpoint is ``Creating`` (or updating), and an endpoint whose config and
model are gone still comes up and bills. So teardown waits (bounded) until the endpoint leaves
those states, deletes it (retrying with backoff), and deletes config and model only once the
endpoint is gone; whatever could not be deleted is reported in :attr:`Endpoint.left_behind`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np

from anomark.errors import ConfigurationError, NotFittedError, RemoteJobError
from anomark.sagemaker.codecs import CSVScoresCodec, PayloadCodec
from anomark.sagemaker.config import SageMakerConfig
from anomark.sagemaker.jobs import (
    client_error_message,
    default_timeout,
    endpoint_waiter,
    make_name,
    wait_for_status,
)

__all__ = [
    "Endpoint",
    "EndpointEngine",
    "backoff_delay",
    "check_engine_state",
    "create_model",
    "deploy",
    "endpoint_model_data",
    "is_size_error",
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
#: Endpoint states in which SageMaker refuses DeleteEndpoint.
BUSY_STATES = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack"})
#: Longest wait for an endpoint to leave a busy state during teardown (creation takes minutes).
TEARDOWN_TIMEOUT = 1800.0
#: Words of the replies SageMaker and the containers give for a body or reply over the limit
#: (HTTP 413 "HTTP content length exceeded", "Request ... has oversize body", "Message size
#: exceed limit", "Response payload size exceeded").
_SIZE_WORDS = ("413", "oversize", "too large", "size exceed", "length exceeded",
               "payload size", "entity too large")


def backoff_delay(attempt: int, rng: random.Random) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): ``min(20, 0.5 * 2**attempt)``
    times a jitter factor in [0.5, 1) drawn from ``rng``."""
    return min(BACKOFF_MAX, BACKOFF_BASE * 2**attempt) * (0.5 + rng.random() / 2)


def is_size_error(exc: BaseException) -> bool:
    """Whether a botocore ClientError says the request or the reply was too large."""
    response = getattr(exc, "response", None)
    if not isinstance(response, Mapping):
        return False
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    err = response.get("Error", {})
    text = f"{err.get('Code', '')} {err.get('Message', '')}".lower()
    return status == 413 or any(word in text for word in _SIZE_WORDS)


class _TooLarge(Exception):
    """A request (or its reply) exceeded the service's size limit."""


def endpoint_model_data(sm: Any, name: str) -> str:
    """The ``s3://`` model artefact an endpoint serves (endpoint → endpoint config → model).

    Raises
    ------
    RemoteJobError
        The endpoint, its config or its model cannot be described, or no artefact is found.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        epc_name = sm.describe_endpoint(EndpointName=name)["EndpointConfigName"]
        variants = sm.describe_endpoint_config(EndpointConfigName=epc_name)["ProductionVariants"]
        model = sm.describe_model(ModelName=variants[0]["ModelName"])
        uri = model["PrimaryContainer"]["ModelDataUrl"]
    except (ClientError, BotoCoreError) as exc:
        raise RemoteJobError(
            f"cannot find the model artefact of endpoint {name}: {client_error_message(exc)}"
        ) from None
    except (KeyError, IndexError) as exc:
        raise RemoteJobError(f"endpoint {name} has no model artefact ({exc})") from None
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise RemoteJobError(f"endpoint {name} serves no s3:// model artefact: {uri!r}")
    return uri


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
        Request/reply format; default :class:`~anomark.sagemaker.codecs.CSVScoresCodec`.
    sleep : callable
        Used for backoff and teardown polls (tests pass a no-op).
    rng : random.Random, optional
        Source of the backoff jitter (default: a new unseeded ``random.Random``).
    clock : callable, default time.monotonic
        Bounds the teardown wait.

    Attributes
    ----------
    deleted : bool
        True once everything this object created is gone.
    left_behind : list of str
        ``"<kind> <name>"`` of what :meth:`delete` could not remove (empty when all went).
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
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.codec: PayloadCodec = codec if codec is not None else CSVScoresCodec(feature_dim)
        self.name = name
        self.owned = owned
        self.endpoint_config_name = endpoint_config_name
        self.model_name = model_name
        self.feature_dim = feature_dim
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._clock = clock
        self._sm = sm
        self._runtime = runtime
        self.deleted = False
        self.left_behind: list[str] = []
        self.endpoint_created = True
        self.n_requests = 0
        self.n_splits = 0

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
    def score(self, rows: np.ndarray, *, codec: PayloadCodec | None = None) -> np.ndarray:
        """One result per row (instance), in order, in requests under the payload limits.

        With the default codec: one RCF score per CSV row; with a
        :class:`~anomark.sagemaker.codecs.TFServingCodec`: one prediction per instance
        (``codec`` overrides the endpoint's for this call, e.g. another signature). A request
        refused as too large (413 or a size error) is split in two and retried.
        """
        if self.deleted:
            raise RemoteJobError(f"endpoint {self.name} was deleted; open a new one")
        codec = codec if codec is not None else self.codec
        arr = codec.prepare(rows)
        parts = [
            self._score_part(codec, arr, start, stop, body)
            for start, stop, body in codec.requests(arr, int(self.config.max_payload_bytes))
        ]
        return np.concatenate(parts)

    def _score_part(
        self, codec: PayloadCodec, arr: np.ndarray, start: int, stop: int, body: bytes
    ) -> np.ndarray:
        try:
            reply = self._invoke(body, codec)
        except _TooLarge as exc:
            if stop - start < 2:
                raise RemoteJobError(
                    f"InvokeEndpoint {self.name}: one item alone is too large for the endpoint "
                    f"(request or reply over the 6 MB limit): {exc}"
                ) from None
            mid = (start + stop) // 2
            self.n_splits += 1
            logger.info("request of %d items too large; splitting it in two", stop - start)
            return np.concatenate(
                [
                    self._score_part(codec, arr, start, mid, codec.encode(arr[start:mid])),
                    self._score_part(codec, arr, mid, stop, codec.encode(arr[mid:stop])),
                ]
            )
        return codec.parse(reply, expected=stop - start)

    def _invoke(self, body: bytes, codec: PayloadCodec) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        attempt = 0
        while True:
            try:
                self.n_requests += 1
                reply = self.runtime.invoke_endpoint(
                    EndpointName=self.name,
                    ContentType=codec.content_type,
                    Accept=codec.accept,
                    Body=body,
                )
                return bytes(reply["Body"].read())
            except ClientError as exc:
                if is_size_error(exc):
                    raise _TooLarge(client_error_message(exc)) from None
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
            delay = backoff_delay(attempt, self._rng)
            logger.info("InvokeEndpoint %s throttled; retrying in %.1f s", self.name, delay)
            self._sleep(delay)
            attempt += 1

    # ------------------------------------------------------------------ teardown
    def delete(self, *, timeout: float = TEARDOWN_TIMEOUT) -> list[str]:
        """Delete endpoint → endpoint config → model (those this object created).

        An endpoint that is still ``Creating`` (or updating) cannot be deleted: teardown waits
        up to ``timeout`` seconds for it to settle, deletes it (retrying with backoff), and
        only then deletes the endpoint config and the model, which a live endpoint still
        needs. Failures are logged, not raised, so teardown in a ``finally`` never hides the
        original error; what remains is listed in :attr:`left_behind` (``deleted`` stays
        False) with the hint to run ``anomark.sagemaker.cleanup``. A Ctrl-C during the wait
        stops it, records what remains and is re-raised. Idempotent.

        Returns
        -------
        list of str
            The names deleted by this call.
        """
        if not self.owned or self.deleted:
            return []
        from botocore.exceptions import BotoCoreError, ClientError

        done: list[str] = []
        remaining: list[str] = []
        try:
            gone = True
            if self.endpoint_created:
                gone = self._delete_endpoint(timeout)
                if gone:
                    done.append(self.name)
                    self.endpoint_created = False
                else:
                    remaining.append(f"endpoint {self.name}")
            steps = [
                ("endpoint config", "endpoint_config_name",
                 lambda n: self.sm.delete_endpoint_config(EndpointConfigName=n)),
                ("model", "model_name", lambda n: self.sm.delete_model(ModelName=n)),
            ]
            for kind, attr, call in steps:
                name = getattr(self, attr)
                if name is None:
                    continue
                if not gone:  # the endpoint still uses them: deleting would orphan it
                    remaining.append(f"{kind} {name}")
                    continue
                try:
                    call(name)
                except (ClientError, BotoCoreError) as exc:
                    if not _not_found(exc):
                        remaining.append(f"{kind} {name}")
                        logger.error(
                            "could not delete %s %s: %s", kind, name, client_error_message(exc)
                        )
                        continue
                done.append(name)
                setattr(self, attr, None)
                logger.info("deleted %s %s", kind, name)
        except KeyboardInterrupt:
            self._report(self._all_names())
            raise
        self._report(remaining)
        return done

    def _all_names(self) -> list[str]:
        out = [f"endpoint {self.name}"] if self.endpoint_created else []
        if self.endpoint_config_name is not None:
            out.append(f"endpoint config {self.endpoint_config_name}")
        if self.model_name is not None:
            out.append(f"model {self.model_name}")
        return out

    def _report(self, remaining: list[str]) -> None:
        self.left_behind = list(remaining)
        self.deleted = not remaining
        if remaining:
            logger.error(
                "left behind: %s; run anomark.sagemaker.cleanup(%r) to remove them",
                ", ".join(remaining),
                self.config.name_prefix,
            )

    def _status(self) -> str | None:
        """The endpoint's status, or None when it no longer exists."""
        from botocore.exceptions import ClientError

        try:
            return str(self.sm.describe_endpoint(EndpointName=self.name)["EndpointStatus"])
        except ClientError as exc:
            if _not_found(exc):
                return None
            raise

    def _delete_endpoint(self, timeout: float) -> bool:
        """Wait until the endpoint can be deleted, delete it; True once it is gone."""
        from botocore.exceptions import BotoCoreError, ClientError

        deadline = self._clock() + timeout
        poll = max(float(self.config.poll_interval), 0.0)
        attempt = 0
        while True:
            try:
                status = self._status()
            except (ClientError, BotoCoreError) as exc:
                status = "?"
                logger.warning("cannot describe endpoint %s: %s", self.name,
                               client_error_message(exc))
            if status is None or status == "Deleting":
                return True
            if status in BUSY_STATES:
                if self._clock() >= deadline:
                    logger.error(
                        "endpoint %s is still %s after %g s; it cannot be deleted yet",
                        self.name, status, timeout,
                    )
                    return False
                logger.info("endpoint %s is %s; waiting to delete it", self.name, status)
                self._sleep(poll)
                continue
            try:
                self.sm.delete_endpoint(EndpointName=self.name)
                logger.info("deleted endpoint %s", self.name)
                return True
            except (ClientError, BotoCoreError) as exc:
                if _not_found(exc):
                    return True
                if attempt >= MAX_RETRIES or self._clock() >= deadline:
                    logger.error("could not delete endpoint %s: %s", self.name,
                                 client_error_message(exc))
                    return False
                delay = backoff_delay(attempt, self._rng)
                logger.info("DeleteEndpoint %s refused (%s); retrying in %.1f s", self.name,
                            client_error_message(exc), delay)
                self._sleep(delay)
                attempt += 1


def _not_found(exc: BaseException) -> bool:
    """Whether a ClientError says the resource does not exist (any more)."""
    text = client_error_message(exc).lower()
    return "could not find" in text or "does not exist" in text or "not found" in text


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
    rng: random.Random | None = None,
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
        rng=rng,
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

    def __init__(
        self,
        config: SageMakerConfig,
        *,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
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
        self._rng = rng if rng is not None else random.Random()
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
                rng=self._rng,
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
                rng=self._rng,
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

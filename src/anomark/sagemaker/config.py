"""Where and how a detector runs on Amazon SageMaker: :class:`SageMakerConfig`.

The configuration only stores its arguments (so detectors holding it can be cloned and saved);
:meth:`SageMakerConfig.validate` checks them and is called by the engine before any AWS call.
The boto3 session is never saved, printed or logged, and neither are credentials.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from anomark._optional import import_optional
from anomark._validation import Constraint, Interval, Options, validate_params
from anomark.errors import ConfigurationError
from anomark.persistence import register_param_type

if TYPE_CHECKING:  # pragma: no cover
    import boto3

__all__ = ["MAX_PAYLOAD_BYTES", "MANAGED_TAG", "SageMakerConfig"]

Scoring = Literal["batch", "endpoint", "auto"]
DataFormat = Literal["auto", "csv", "recordio"]

#: InvokeEndpoint's request payload limit (6 MB).
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
#: Tag put on every resource the library creates (``cleanup`` looks for it).
MANAGED_TAG = "anomark:managed"

_ROLE_RE = re.compile(r"^arn:aws(-[a-z]+)*:iam::\d{12}:role/[A-Za-z0-9+=,.@_\-/]{1,512}$")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_IP_RE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_INSTANCE_RE = re.compile(r"^ml\.([a-z][a-z0-9\-]*)\.([a-z0-9]+)$")
_NAME_PREFIX_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
_S3_PREFIX_RE = re.compile(r"^[A-Za-z0-9!_.*'()\-/]*$")
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
# Accelerated families: SageMaker's built-in Random Cut Forest runs on CPU instances only.
_ACCELERATED = re.compile(r"^(p\d|g\d|inf\d|trn\d|dl\d)")
_TAG_KEY_RE = re.compile(r"^[\w.:/=+\-@ ]{1,128}$")
_MAX_NAME_PREFIX = 24
_MAX_SECONDS = 28 * 24 * 3600  # SageMaker's longest MaxRuntimeInSeconds / MaxWaitTimeInSeconds

_SAVED_FIELDS = (
    "role",
    "bucket",
    "prefix",
    "region",
    "instance_type",
    "instance_count",
    "inference_instance_type",
    "inference_instance_count",
    "transform_instance_type",
    "transform_instance_count",
    "scoring",
    "keep_endpoint",
    "max_runtime",
    "use_spot",
    "max_wait",
    "tags",
    "volume_size",
    "name_prefix",
    "data_format",
    "poll_interval",
    "wait_timeout",
    "max_payload_bytes",
    "auto_endpoint_max_rows",
    "auto_batch_min_values",
    "image_uri",
    "endpoint_url",
    "progress",
)


class SageMakerConfig:
    """Settings to train and score a detector on Amazon SageMaker.

    Parameters
    ----------
    role : str
        ARN of the IAM execution role SageMaker assumes (``arn:aws:iam::<account>:role/<name>``).
    bucket : str
        S3 bucket for staged data, model artefacts and batch-transform output.
    prefix : str, default "anomark"
        Key prefix inside ``bucket`` (no leading/trailing slash needed).
    session : boto3.Session, optional
        Session to create clients from; default: a new ``boto3.Session(region_name=region)``.
        Never saved and never printed.
    region : str, optional
        AWS region; default: the session's region (``AWS_DEFAULT_REGION``...).
    instance_type, instance_count : str, int
        Training instances (``ml.m5.xlarge``, 1). Staged data is split into at least one part
        per instance and distributed with ``ShardedByS3Key``.
    inference_instance_type, inference_instance_count : str, int
        Real-time endpoint instances (``ml.c5.xlarge``, 1).
    transform_instance_type, transform_instance_count : str or None, int
        Batch-transform instances; ``None`` means ``inference_instance_type``.
    scoring : {"auto", "batch", "endpoint"}, default "auto"
        ``"batch"`` scores with a transform job, ``"endpoint"`` with a temporary real-time
        endpoint. ``"auto"``: Random Cut Forest uses the endpoint for at most
        ``auto_endpoint_max_rows`` rows and batch transform above; the autoencoder scores
        with its downloaded model on this machine up to ``auto_batch_min_values`` window
        values and with batch transform above.
    keep_endpoint : bool, default False
        Keep endpoints (and their config and model) after scoring; they cost money while up.
    max_runtime : int, default 3600
        Training ``MaxRuntimeInSeconds``.
    use_spot : bool, default False
        Managed spot training; ``max_wait`` (>= ``max_runtime``) bounds the total wait.
    max_wait : int, optional
        ``MaxWaitTimeInSeconds`` for spot training (default: ``2 * max_runtime``).
    tags : dict or list of {"Key", "Value"}, optional
        Extra tags for every resource created; ``anomark:managed=true`` is always added.
    volume_size : int, default 30
        Training volume size in GB.
    name_prefix : str, default "anomark"
        Prefix of every job, model, endpoint config and endpoint name (what ``cleanup`` matches).
    data_format : {"auto", "csv", "recordio"}, default "auto"
        Training data encoding; ``"auto"`` uses RecordIO-protobuf from 10 MB of CSV on.
    poll_interval : float, default 15.0
        Seconds between status polls.
    wait_timeout : float, optional
        Give up waiting for a job/endpoint after this many seconds (the job is then stopped);
        default ``max_wait`` (spot) or ``max_runtime``, plus one hour of queueing.
    max_payload_bytes : int, default 5 MiB
        Largest InvokeEndpoint body sent (at most 6 MB, AWS's limit).
    auto_endpoint_max_rows : int, default 10000
        Row count up to which ``scoring="auto"`` uses an endpoint rather than batch transform
        (Random Cut Forest).
    auto_batch_min_values : int, default 2_000_000_000
        Window values (windows x window_size x columns) above which ``scoring="auto"`` scores
        the autoencoder with a batch transform job instead of on this machine: about ten
        minutes of local CPU scoring (measured 2.6-2.9 million values per second on 2 cores),
        more than a transform job's startup.
    image_uri : str, optional
        Training container image; default from ``sagemaker.core.image_uris.retrieve``:
        ``"randomcutforest"`` for RCF (which also serves with it), the TensorFlow 2.19 training
        image for the autoencoder (which serves with the matching TensorFlow Serving image).
    endpoint_url : str, optional
        Custom AWS endpoint for every client (e.g. a local moto server); default: boto3's own
        resolution (which honours ``AWS_ENDPOINT_URL``).
    progress : bool, default True
        Show a tqdm progress line on stderr while waiting.

    Examples
    --------
    >>> from anomark import SageMakerConfig
    >>> cfg = SageMakerConfig(role="arn:aws:iam::123456789012:role/SageMakerRole",
    ...                       bucket="my-bucket", region="us-east-1")
    >>> cfg.validate().scoring
    'auto'
    >>> SageMakerConfig.from_dict(cfg.to_dict()) == cfg
    True
    """

    #: Constraints of the numeric and choice settings (checked by :meth:`validate`; the
    #: role, bucket, instance types, names and tags have their own checks).
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "instance_count": [Interval(int, 1, 100)],
        "inference_instance_count": [Interval(int, 1, 100)],
        "transform_instance_count": [Interval(int, 1, 100)],
        "scoring": [Options("auto", "batch", "endpoint")],
        "data_format": [Options("auto", "csv", "recordio")],
        "keep_endpoint": [Options(True, False)],
        "use_spot": [Options(True, False)],
        "progress": [Options(True, False)],
        "max_runtime": [Interval(int, 60, _MAX_SECONDS)],
        "max_wait": [Interval(int, 60, _MAX_SECONDS), None],
        "volume_size": [Interval(int, 1, 16384)],
        "poll_interval": [Interval(float, 0.0, None)],
        "wait_timeout": [Interval(float, 0.0, None), None],
        "max_payload_bytes": [Interval(int, 1024, MAX_PAYLOAD_BYTES)],
        "auto_endpoint_max_rows": [Interval(int, 0, None)],
        "auto_batch_min_values": [Interval(int, 0, None)],
    }

    def __init__(
        self,
        role: str,
        bucket: str,
        prefix: str = "anomark",
        session: boto3.Session | None = None,
        region: str | None = None,
        instance_type: str = "ml.m5.xlarge",
        instance_count: int = 1,
        inference_instance_type: str = "ml.c5.xlarge",
        scoring: Scoring = "auto",
        keep_endpoint: bool = False,
        max_runtime: int = 3600,
        use_spot: bool = False,
        max_wait: int | None = None,
        tags: Mapping[str, str] | Sequence[Mapping[str, str]] | None = None,
        *,
        volume_size: int = 30,
        name_prefix: str = "anomark",
        inference_instance_count: int = 1,
        transform_instance_type: str | None = None,
        transform_instance_count: int = 1,
        data_format: DataFormat = "auto",
        poll_interval: float = 15.0,
        wait_timeout: float | None = None,
        max_payload_bytes: int = 5 * 1024 * 1024,
        auto_endpoint_max_rows: int = 10_000,
        auto_batch_min_values: int = 2_000_000_000,
        image_uri: str | None = None,
        endpoint_url: str | None = None,
        progress: bool = True,
    ) -> None:
        self.role = role
        self.bucket = bucket
        self.prefix = prefix
        self.session = session
        self.region = region
        self.instance_type = instance_type
        self.instance_count = instance_count
        self.inference_instance_type = inference_instance_type
        self.scoring = scoring
        self.keep_endpoint = keep_endpoint
        self.max_runtime = max_runtime
        self.use_spot = use_spot
        self.max_wait = max_wait
        self.tags = tags
        self.volume_size = volume_size
        self.name_prefix = name_prefix
        self.inference_instance_count = inference_instance_count
        self.transform_instance_type = transform_instance_type
        self.transform_instance_count = transform_instance_count
        self.data_format = data_format
        self.poll_interval = poll_interval
        self.wait_timeout = wait_timeout
        self.max_payload_bytes = max_payload_bytes
        self.auto_endpoint_max_rows = auto_endpoint_max_rows
        self.auto_batch_min_values = auto_batch_min_values
        self.image_uri = image_uri
        self.endpoint_url = endpoint_url
        self.progress = progress

    # ------------------------------------------------------------------ dunder
    def __repr__(self) -> str:
        # The session is shown only by type: its repr is harmless, but nothing about
        # credentials should ever end up in logs through a config.
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in ("role", "bucket", "prefix"))
        extra = ", session=<boto3.Session>" if self.session is not None else ""
        return f"SageMakerConfig({fields}{extra}, region={self.region!r}, scoring={self.scoring!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SageMakerConfig):
            return NotImplemented
        return self.to_dict() == other.to_dict() and self.session is other.session

    __hash__ = None  # type: ignore[assignment]  # mutable, like sklearn estimators

    def __deepcopy__(self, memo: dict[int, Any]) -> SageMakerConfig:
        # sklearn's clone deep-copies parameters; a boto3 Session holds locks and credential
        # providers that must not be copied, so the copy shares the session.
        params = {k: copy.deepcopy(getattr(self, k), memo) for k in _SAVED_FIELDS}
        return SageMakerConfig(session=self.session, **params)

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible settings; the boto3 session (and so any credential) is left out."""
        out: dict[str, Any] = {}
        for key in _SAVED_FIELDS:
            value = getattr(self, key)
            if key == "tags" and value is not None:
                value = _tags_to_list(value, strict=False)
            out[key] = value
        return out

    @classmethod
    def from_dict(cls, data: Any, session: boto3.Session | None = None) -> SageMakerConfig:
        """Inverse of :meth:`to_dict`; ``session`` supplies the (never saved) boto3 session."""
        if not isinstance(data, Mapping):
            raise ConfigurationError(f"a SageMakerConfig must be described by a dict, got {data!r}")
        unknown = set(data) - set(_SAVED_FIELDS)
        if unknown:
            raise ConfigurationError(f"unknown SageMakerConfig keys: {sorted(unknown)}")
        for key in ("role", "bucket"):
            if key not in data:
                raise ConfigurationError(f"a SageMakerConfig dict needs {key!r}")
        return cls(session=session, **dict(data))

    # ------------------------------------------------------------------ validation
    def validate(self, *, accelerated_ok: bool = False) -> SageMakerConfig:
        """Check every setting; return ``self``.

        Parameters
        ----------
        accelerated_ok : bool, default False
            Accept GPU/Inferentia/Trainium instance types (the TensorFlow containers run on
            them; SageMaker's built-in Random Cut Forest does not).

        Raises
        ------
        ConfigurationError
            Naming the first invalid setting and what a valid one looks like.
        """
        if not isinstance(self.role, str) or not _ROLE_RE.match(self.role):
            raise ConfigurationError(
                f"role must be an IAM role ARN like 'arn:aws:iam::123456789012:role/MyRole', "
                f"got {self.role!r}"
            )
        _check_bucket(self.bucket)
        if not isinstance(self.prefix, str) or not _S3_PREFIX_RE.match(self.prefix):
            raise ConfigurationError(
                f"prefix must be an S3 key prefix of letters, digits and !_.*'()-/, got "
                f"{self.prefix!r}"
            )
        if self.session is not None and not hasattr(self.session, "client"):
            raise ConfigurationError(
                f"session must be a boto3.Session, got {type(self.session).__name__}"
            )
        if self.region is not None and (
            not isinstance(self.region, str) or not _REGION_RE.match(self.region)
        ):
            raise ConfigurationError(f"region must look like 'us-east-1', got {self.region!r}")
        _check_instance(self.instance_type, "instance_type", accelerated_ok)
        _check_instance(self.inference_instance_type, "inference_instance_type", accelerated_ok)
        if self.transform_instance_type is not None:
            _check_instance(self.transform_instance_type, "transform_instance_type", accelerated_ok)
        validate_params(
            self._parameter_constraints, {k: getattr(self, k) for k in _SAVED_FIELDS},
            "SageMakerConfig",
        )
        if self.max_wait is not None:
            if not self.use_spot:
                raise ConfigurationError(
                    "max_wait only applies to spot training: set use_spot=True"
                )
            if self.max_wait < self.max_runtime:
                raise ConfigurationError(
                    f"max_wait ({self.max_wait} s) must be >= max_runtime ({self.max_runtime} s)"
                )
        if (
            not isinstance(self.name_prefix, str)
            or not _NAME_PREFIX_RE.match(self.name_prefix)
            or len(self.name_prefix) > _MAX_NAME_PREFIX
        ):
            raise ConfigurationError(
                f"name_prefix must be 1-{_MAX_NAME_PREFIX} letters, digits and inner hyphens "
                f"(SageMaker resource names), got {self.name_prefix!r}"
            )
        if self.image_uri is not None and (
            not isinstance(self.image_uri, str) or not self.image_uri
        ):
            raise ConfigurationError(
                f"image_uri must be a non-empty string, got {self.image_uri!r}"
            )
        if self.endpoint_url is not None and (
            not isinstance(self.endpoint_url, str)
            or not self.endpoint_url.startswith(("http://", "https://"))
        ):
            raise ConfigurationError(
                f"endpoint_url must be an http(s) URL, got {self.endpoint_url!r}"
            )
        if self.tags is not None:
            _tags_to_list(self.tags, strict=True)
        return self

    # ------------------------------------------------------------------ helpers
    def resolved_region(self) -> str:
        """The region used: ``region``, else the session's, else ``AWS_DEFAULT_REGION``."""
        region = self.region
        if region is None and self.session is not None:
            region = getattr(self.session, "region_name", None)
        if region is None:
            region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if not region:
            raise ConfigurationError(
                "no AWS region: pass SageMakerConfig(region=...) or a session with a region, "
                "or set AWS_DEFAULT_REGION"
            )
        return region

    def boto_session(self) -> boto3.Session:
        """The boto3 session (``session`` or a new one for the resolved region)."""
        if self.session is not None:
            return self.session
        import boto3

        region = self.resolved_region()
        cached = self.__dict__.get("_default_session")
        if cached is None or cached.region_name != region:
            # one session per config: each new session re-reads the large service models
            cached = boto3.Session(region_name=region)
            self.__dict__["_default_session"] = cached
        return cached

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` (``"sagemaker"``, ``"sagemaker-runtime"``, ``"s3"``).

        Control-plane and S3 clients use botocore's standard retries (5 attempts); the runtime
        client makes one attempt per call because anomark retries InvokeEndpoint itself (with
        its own, injectable backoff).
        """
        from botocore.config import Config

        attempts = 1 if service == "sagemaker-runtime" else 5
        kwargs: dict[str, Any] = {
            "region_name": self.resolved_region(),
            "config": Config(retries={"mode": "standard", "total_max_attempts": attempts}),
        }
        if self.endpoint_url is not None:
            kwargs["endpoint_url"] = self.endpoint_url
        session: Any = self.boto_session()
        return session.client(service, **kwargs)

    def resource_tags(self, extra: Mapping[str, str] | None = None) -> list[dict[str, str]]:
        """Tags for a created resource: user tags + ``anomark:managed`` + ``extra``."""
        tags = {t["Key"]: t["Value"] for t in _tags_to_list(self.tags or [], strict=True)}
        tags[MANAGED_TAG] = "true"
        tags["anomark:name-prefix"] = self.name_prefix
        tags.update(extra or {})
        return [{"Key": k, "Value": v} for k, v in tags.items()]

    def rcf_image_uri(self) -> str:
        """The built-in Random Cut Forest image for the region (or ``image_uri``)."""
        if self.image_uri is not None:
            return self.image_uri
        return self.retrieve_image("randomcutforest", label="Random Cut Forest")

    def retrieve_image(self, framework: str, *, label: str, **kwargs: Any) -> str:
        """A container image URI from ``sagemaker.core.image_uris.retrieve`` for the region.

        Parameters
        ----------
        framework : str
            ``"randomcutforest"``, ``"tensorflow"``...
        label : str
            Human name used in error messages.
        **kwargs
            Passed on (``version``, ``image_scope``, ``instance_type``, ``py_version``).

        Raises
        ------
        DependencyError
            The sagemaker package is missing (names ``anomark[sagemaker]``).
        ConfigurationError
            No such image for the region/version/instance type.
        """
        region = self.resolved_region()
        image_uris = import_optional(
            "sagemaker.core.image_uris",
            f"looking up the SageMaker {label} image (or pass the image URI explicitly)",
        )
        try:
            return str(image_uris.retrieve(framework, region, **kwargs))
        except ValueError as exc:
            raise ConfigurationError(
                f"no SageMaker {label} image for region {region!r}: {exc}"
            ) from None

    @property
    def s3_root(self) -> str:
        """``s3://bucket/prefix`` without a trailing slash."""
        prefix = self.prefix.strip("/")
        return f"s3://{self.bucket}/{prefix}" if prefix else f"s3://{self.bucket}"

    def key(self, *parts: str) -> str:
        """An S3 key under ``prefix``."""
        items = [p.strip("/") for p in (self.prefix, *parts) if p.strip("/")]
        return "/".join(items)


def _check_bucket(bucket: Any) -> None:
    problem = None
    if not isinstance(bucket, str):
        problem = "it must be a string"
    elif bucket.startswith("s3://"):
        problem = "give the bucket name only, without 's3://' (use prefix= for the key)"
    elif not _BUCKET_RE.match(bucket):
        problem = (
            "bucket names are 3-63 characters of lowercase letters, digits, dots and hyphens, "
            "starting and ending with a letter or digit"
        )
    elif ".." in bucket or ".-" in bucket or "-." in bucket:
        problem = "bucket names cannot contain '..', '.-' or '-.'"
    elif _IP_RE.match(bucket):
        problem = "bucket names cannot look like an IP address"
    elif bucket.startswith(("xn--", "sthree-")) or bucket.endswith(("-s3alias", "--ol-s3")):
        problem = "bucket names cannot use the reserved prefixes/suffixes xn--, sthree-, -s3alias"
    if problem:
        raise ConfigurationError(f"invalid S3 bucket name {bucket!r}: {problem}")


def _check_instance(value: Any, name: str, accelerated_ok: bool = False) -> None:
    match = _INSTANCE_RE.match(value) if isinstance(value, str) else None
    if match is None:
        raise ConfigurationError(
            f"{name} must be a SageMaker instance type like 'ml.m5.xlarge', got {value!r}"
        )
    family = match.group(1)
    if not accelerated_ok and _ACCELERATED.match(family):
        raise ConfigurationError(
            f"{name}={value!r} is an accelerated (GPU/Inferentia/Trainium) instance; SageMaker's "
            "built-in Random Cut Forest runs on CPU instances only (e.g. ml.m5.xlarge, "
            "ml.c5.xlarge)"
        )


def _tags_to_list(
    tags: Mapping[str, str] | Sequence[Mapping[str, str]], *, strict: bool
) -> list[dict[str, str]]:
    """Normalise ``{"k": "v"}`` or ``[{"Key": "k", "Value": "v"}]`` to the AWS list form."""
    if isinstance(tags, Mapping):
        items = [{"Key": k, "Value": v} for k, v in tags.items()]
    elif isinstance(tags, Sequence) and not isinstance(tags, str):
        items = []
        for tag in tags:
            if not isinstance(tag, Mapping) or set(tag) != {"Key", "Value"}:
                if not strict:
                    return [dict(t) for t in tags]  # type: ignore[call-overload]
                raise ConfigurationError(
                    f"each tag must be {{'Key': ..., 'Value': ...}}, got {tag!r}"
                )
            items.append({"Key": tag["Key"], "Value": tag["Value"]})
    else:
        if not strict:
            return []
        raise ConfigurationError(
            f"tags must be a dict or a list of {{'Key', 'Value'}} dicts, got {tags!r}"
        )
    if strict:
        if len(items) > 40:
            raise ConfigurationError(
                f"at most 40 tags are allowed (AWS: 50, 10 reserved), got {len(items)}"
            )
        for tag in items:
            key, value = tag["Key"], tag["Value"]
            if not isinstance(key, str) or not _TAG_KEY_RE.match(key) or key.startswith("aws:"):
                raise ConfigurationError(
                    f"invalid tag key {key!r}: 1-128 characters, not starting with 'aws:'"
                )
            if not isinstance(value, str) or len(value) > 256:
                raise ConfigurationError(f"tag {key!r} needs a string value of <= 256 characters")
    return items


register_param_type(
    "SageMakerConfig", SageMakerConfig, SageMakerConfig.to_dict, SageMakerConfig.from_dict
)

"""Delete SageMaker resources anomark left behind (endpoints bill by the hour): ``cleanup``.

Only resources whose name starts with the given prefix *and* that carry the
``anomark:managed=true`` tag are touched, so a user's own endpoints that happen to share the
prefix survive. Running training/transform jobs are stopped; endpoints, endpoint configs and
models are deleted in that order. Staged S3 data is deleted only when asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from anomark.errors import ConfigurationError, RemoteJobError
from anomark.sagemaker.config import _NAME_PREFIX_RE, MANAGED_TAG
from anomark.sagemaker.jobs import client_error_message

if TYPE_CHECKING:  # pragma: no cover
    import boto3

__all__ = ["cleanup"]

logger = logging.getLogger("anomark.sagemaker")


def _pages(call: Callable[..., Any], key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    token = None
    while True:
        page = call(**kwargs, **({"NextToken": token} if token else {}))
        yield from page.get(key, [])
        token = page.get("NextToken")
        if not token:
            return


def _managed(sm: Any, arn: str) -> bool:
    tags = sm.list_tags(ResourceArn=arn).get("Tags", [])
    return any(t.get("Key") == MANAGED_TAG and t.get("Value") == "true" for t in tags)


def cleanup(
    prefix: str = "anomark",
    session: boto3.Session | None = None,
    region: str | None = None,
    dry_run: bool = False,
    *,
    bucket: str | None = None,
    s3_prefix: str | None = None,
    require_tag: bool = True,
    endpoint_url: str | None = None,
) -> list[str]:
    """Stop and delete the SageMaker resources anomark created under a name prefix.

    Parameters
    ----------
    prefix : str, default "anomark"
        The ``name_prefix`` of :class:`~anomark.sagemaker.config.SageMakerConfig`.
    session : boto3.Session, optional
        Session to use (default: a new one).
    region : str, optional
        Region (default: the session's).
    dry_run : bool, default False
        Only list what would be stopped/deleted.
    bucket, s3_prefix : str, optional
        Also delete the S3 objects under ``s3://bucket/s3_prefix/`` (staged data, transform
        output, model artefacts). Both are needed; nothing in S3 is touched otherwise.
    require_tag : bool, default True
        Only touch resources tagged ``anomark:managed=true``.
    endpoint_url : str, optional
        Custom AWS endpoint (tests).

    Returns
    -------
    list of str
        ``"<kind>/<name>"`` for each resource stopped or deleted (or that would be).

    Raises
    ------
    ConfigurationError
        For an empty or malformed prefix, or ``bucket`` without ``s3_prefix``.
    RemoteJobError
        When listing fails (permissions...). Individual delete failures are logged and skipped.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    if not isinstance(prefix, str) or not prefix or not _NAME_PREFIX_RE.match(prefix):
        raise ConfigurationError(
            f"prefix must be a non-empty SageMaker name prefix such as 'anomark', got {prefix!r}"
        )
    if (bucket is None) != (s3_prefix is None):
        raise ConfigurationError("pass both bucket and s3_prefix to delete S3 objects, or neither")
    if s3_prefix is not None and not s3_prefix.strip("/"):
        raise ConfigurationError("refusing to delete a whole bucket: s3_prefix must not be empty")
    import boto3

    sess = session if session is not None else boto3.Session(region_name=region)
    kwargs: dict[str, Any] = {"region_name": region or sess.region_name}
    if endpoint_url is not None:
        kwargs["endpoint_url"] = endpoint_url
    sm = sess.client("sagemaker", **kwargs)
    done: list[str] = []

    def act(kind: str, name: str, call: Callable[[], Any]) -> None:
        label = f"{kind}/{name}"
        if dry_run:
            done.append(label)
            return
        try:
            call()
        except (ClientError, BotoCoreError) as exc:
            logger.error("could not remove %s: %s", label, client_error_message(exc))
            return
        logger.info("removed %s", label)
        done.append(label)

    def mine(name: str, arn: str) -> bool:
        return name.startswith(prefix) and (not require_tag or _managed(sm, arn))

    try:
        for job in _pages(
            sm.list_training_jobs,
            "TrainingJobSummaries",
            NameContains=prefix,
            StatusEquals="InProgress",
        ):
            name = job["TrainingJobName"]
            if mine(name, job["TrainingJobArn"]):
                act("training-job", name, partial(sm.stop_training_job, TrainingJobName=name))
        for job in _pages(
            sm.list_transform_jobs,
            "TransformJobSummaries",
            NameContains=prefix,
            StatusEquals="InProgress",
        ):
            name = job["TransformJobName"]
            if mine(name, job["TransformJobArn"]):
                act("transform-job", name, partial(sm.stop_transform_job, TransformJobName=name))
        for ep in list(_pages(sm.list_endpoints, "Endpoints", NameContains=prefix)):
            name = ep["EndpointName"]
            if mine(name, ep["EndpointArn"]):
                act("endpoint", name, partial(sm.delete_endpoint, EndpointName=name))
        for epc in list(_pages(sm.list_endpoint_configs, "EndpointConfigs", NameContains=prefix)):
            name = epc["EndpointConfigName"]
            if mine(name, epc["EndpointConfigArn"]):
                act(
                    "endpoint-config",
                    name,
                    partial(sm.delete_endpoint_config, EndpointConfigName=name),
                )
        for model in list(_pages(sm.list_models, "Models", NameContains=prefix)):
            name = model["ModelName"]
            if mine(name, model["ModelArn"]):
                act("model", name, partial(sm.delete_model, ModelName=name))
    except (ClientError, BotoCoreError) as exc:
        raise RemoteJobError(
            f"listing SageMaker resources failed: {client_error_message(exc)}"
        ) from None

    if bucket is not None and s3_prefix is not None:
        s3 = sess.client("s3", **kwargs)
        key_prefix = s3_prefix.strip("/") + "/"
        try:
            for obj in list(_pages_s3(s3, bucket, key_prefix)):
                key = obj["Key"]
                act("s3", f"{bucket}/{key}", partial(s3.delete_object, Bucket=bucket, Key=key))
        except (ClientError, BotoCoreError) as exc:
            raise RemoteJobError(
                f"listing s3://{bucket}/{key_prefix} failed: {client_error_message(exc)}"
            ) from None
    return done


def _pages_s3(s3: Any, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])

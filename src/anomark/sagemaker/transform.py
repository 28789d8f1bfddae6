"""Batch scoring with SageMaker transform jobs.

:func:`run_transform_job` runs one job over an ``s3://`` prefix (temporary model deleted
afterwards, job stopped on timeout or Ctrl-C); :func:`transform_score` is Random Cut Forest's use
of it: the rows are staged as CSV parts (content-hashed keys), scored as
``application/jsonlines``, and the ``<part>.out`` files are read back in part order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from anomark._s3 import split_s3_uri
from anomark.errors import RemoteJobError
from anomark.sagemaker.codecs import parse_scores
from anomark.sagemaker.config import SageMakerConfig
from anomark.sagemaker.endpoints import create_model
from anomark.sagemaker.jobs import (
    client_error_message,
    default_timeout,
    make_name,
    transform_waiter,
    wait_for_status,
)
from anomark.sagemaker.staging import StagedData, check_rows, stage_rows

__all__ = ["output_keys", "read_transform_output", "run_transform_job", "transform_score"]

logger = logging.getLogger("anomark.sagemaker")

#: Transform input parts are kept smaller than training parts so several instances share work.
TRANSFORM_PART_BYTES = 64 * 2**20


def output_keys(staged: StagedData, output_s3: str) -> list[str]:
    """Where a transform job writes the output of each staged part (``<part>.out``)."""
    _, out_key = split_s3_uri(output_s3.rstrip("/") + "/")
    return [f"{out_key}{key.rsplit('/', 1)[-1]}.out" for key in staged.keys]


def read_transform_output(
    s3: Any, bucket: str, keys: list[str], counts: tuple[int, ...]
) -> np.ndarray:
    """Read and concatenate JSON Lines score files, checking each has the expected count."""
    from botocore.exceptions import BotoCoreError, ClientError

    parts = []
    for key, count in zip(keys, counts, strict=True):
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise RemoteJobError(
                f"transform output s3://{bucket}/{key} cannot be read: {client_error_message(exc)}"
            ) from None
        try:
            parts.append(parse_scores(body, expected=count))
        except RemoteJobError as exc:
            raise RemoteJobError(f"transform output s3://{bucket}/{key}: {exc}") from None
    return np.concatenate(parts) if parts else np.empty(0)


def run_transform_job(
    config: SageMakerConfig,
    *,
    image_uri: str,
    model_data: str,
    input_s3: str,
    content_type: str,
    accept: str,
    kind: str,
    batch_strategy: str = "MultiRecord",
    max_payload_mb: int = 6,
    environment: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    sm: Any = None,
) -> str:
    """One batch transform job over every object under ``input_s3``; return the output prefix.

    A temporary model serving ``model_data`` with ``image_uri`` is created and deleted again
    in a ``finally`` block (also when the job fails or is interrupted). Input is split into
    records at line ends (``SplitType=Line``) and each input object's output is written to
    ``<output prefix><object name>.out``, one reply line per request (``AssembleWith=Line``).
    Output is only worth reading once this returns: a failed or stopped job raises.

    Parameters
    ----------
    config : SageMakerConfig
        Instances (``transform_instance_type`` / ``_count``), tags, polling.
    image_uri, model_data : str
        Serving image and ``s3://`` model artefact.
    input_s3 : str
        ``s3://`` prefix of the input objects.
    content_type, accept : str
        Request and reply MIME types.
    kind : str
        Goes into the resource names (``<name_prefix>-<kind>-transform-...``).
    batch_strategy : {"MultiRecord", "SingleRecord"}
        Several lines per request, or one.
    max_payload_mb : int
        ``MaxPayloadInMB``: the largest request (1-100).
    environment : mapping, optional
        The serving container's environment.

    Raises
    ------
    RemoteJobError
        The model or job was refused, the job failed (with AWS's ``FailureReason``), was
        stopped, or timed out (it is stopped first).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    sm = sm if sm is not None else config.client("sagemaker")
    model_name = make_name(config, f"{kind}-model")
    job_name = make_name(config, f"{kind}-transform")
    output_s3 = f"{config.s3_root}/transform-output/{job_name}/"
    create_model(
        sm, config, name=model_name, image_uri=image_uri, model_data=model_data,
        environment=environment,
    )
    try:
        try:
            sm.create_transform_job(
                TransformJobName=job_name,
                ModelName=model_name,
                BatchStrategy=batch_strategy,
                MaxPayloadInMB=int(max_payload_mb),
                TransformInput={
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_s3}},
                    "ContentType": content_type,
                    "SplitType": "Line",
                    "CompressionType": "None",
                },
                TransformOutput={
                    "S3OutputPath": output_s3,
                    "Accept": accept,
                    "AssembleWith": "Line",
                },
                TransformResources={
                    "InstanceType": config.transform_instance_type
                    or config.inference_instance_type,
                    "InstanceCount": int(config.transform_instance_count),
                },
                Tags=config.resource_tags(),
            )
        except (ClientError, BotoCoreError) as exc:
            raise RemoteJobError(
                f"CreateTransformJob {job_name} was refused: {client_error_message(exc)}"
            ) from None
        wait_for_status(
            transform_waiter(sm, job_name),
            job_name,
            poll_interval=float(config.poll_interval),
            timeout=default_timeout(config),
            sleep=sleep,
            progress=config.progress,
        )
    finally:
        try:
            sm.delete_model(ModelName=model_name)
        except (ClientError, BotoCoreError) as exc:
            logger.error("could not delete model %s: %s", model_name, client_error_message(exc))
    logger.info("transform job %s completed", job_name)
    return output_s3


def transform_score(
    config: SageMakerConfig,
    rows: np.ndarray,
    *,
    image_uri: str,
    model_data: str,
    sleep: Callable[[float], None] = time.sleep,
    sm: Any = None,
    s3: Any = None,
) -> np.ndarray:
    """Score ``rows`` (Random Cut Forest) with one batch transform job; one score per row."""
    arr = check_rows(rows)
    s3 = s3 if s3 is not None else config.client("s3")
    staged = stage_rows(
        s3,
        config.bucket,
        config.key("transform-input"),
        arr,
        min_parts=min(int(config.transform_instance_count), arr.shape[0]),
        data_format="csv",
        part_bytes=TRANSFORM_PART_BYTES,
    )
    output_s3 = run_transform_job(
        config,
        image_uri=image_uri,
        model_data=model_data,
        input_s3=staged.s3_prefix,
        content_type="text/csv",
        accept="application/jsonlines",
        kind="rcf",
        sleep=sleep,
        sm=sm,
    )
    keys = output_keys(staged, output_s3)
    scores = read_transform_output(s3, config.bucket, keys, staged.rows_per_part)
    logger.info("batch transform scored %d rows", scores.shape[0])
    return scores

"""Batch scoring with a SageMaker transform job: CSV in, ``application/jsonlines`` out.

The rows are staged as CSV parts (content-hashed keys), one transform job scores all parts,
and the ``<part>.out`` files are read back and concatenated in part order. The temporary
model is deleted afterwards; the job is stopped on timeout or Ctrl-C.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from anomark._s3 import split_s3_uri
from anomark.errors import RemoteJobError
from anomark.sagemaker.config import SageMakerConfig
from anomark.sagemaker.endpoints import create_model, parse_scores
from anomark.sagemaker.jobs import (
    client_error_message,
    default_timeout,
    make_name,
    transform_waiter,
    wait_for_status,
)
from anomark.sagemaker.staging import StagedData, check_rows, stage_rows

__all__ = ["output_keys", "read_transform_output", "transform_score"]

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
    """Score ``rows`` with one batch transform job; one score per row, in order."""
    from botocore.exceptions import BotoCoreError, ClientError

    arr = check_rows(rows)
    sm = sm if sm is not None else config.client("sagemaker")
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
    model_name = make_name(config, "rcf-model")
    job_name = make_name(config, "rcf-transform")
    output_s3 = f"{config.s3_root}/transform-output/{job_name}/"
    create_model(sm, config, name=model_name, image_uri=image_uri, model_data=model_data)
    try:
        try:
            sm.create_transform_job(
                TransformJobName=job_name,
                ModelName=model_name,
                BatchStrategy="MultiRecord",
                MaxPayloadInMB=6,
                TransformInput={
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": staged.s3_prefix}
                    },
                    "ContentType": "text/csv",
                    "SplitType": "Line",
                    "CompressionType": "None",
                },
                TransformOutput={
                    "S3OutputPath": output_s3,
                    "Accept": "application/jsonlines",
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
        keys = output_keys(staged, output_s3)
        scores = read_transform_output(s3, config.bucket, keys, staged.rows_per_part)
    finally:
        try:
            sm.delete_model(ModelName=model_name)
        except (ClientError, BotoCoreError) as exc:
            logger.error("could not delete model %s: %s", model_name, client_error_message(exc))
    logger.info("transform job %s scored %d rows", job_name, scores.shape[0])
    return scores

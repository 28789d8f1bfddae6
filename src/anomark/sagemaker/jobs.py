"""SageMaker jobs through boto3: names, training jobs, transform jobs and waiting on them.

Waiting polls ``describe_*`` with an injectable ``sleep`` and shows a tqdm line on stderr.
A failed job raises :class:`~anomark.errors.RemoteJobError` carrying AWS's ``FailureReason``;
a timeout or Ctrl-C stops the job (``Stop*Job``) and says so before raising.
"""

from __future__ import annotations

import logging
import secrets
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from anomark.errors import RemoteJobError
from anomark.sagemaker.config import SageMakerConfig

__all__ = [
    "JobWaiter",
    "attach_training_job",
    "make_name",
    "model_artifact",
    "wait_for_status",
]

logger = logging.getLogger("anomark.sagemaker")

Sleep = Callable[[float], None]
_MAX_NAME = 63


def make_name(config: SageMakerConfig, kind: str) -> str:
    """A unique SageMaker resource name: ``<name_prefix>-<kind>-<UTC time>-<random>``."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    name = f"{config.name_prefix}-{kind}-{stamp}-{secrets.token_hex(3)}"
    return name[:_MAX_NAME].rstrip("-")


def client_error_message(exc: BaseException) -> str:
    """``Code: Message`` of a botocore ClientError (or ``str(exc)``)."""
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        err = response.get("Error", {})
        return f"{err.get('Code', '?')}: {err.get('Message', '')}"
    return str(exc)


@dataclass
class JobWaiter:
    """How to poll one kind of SageMaker resource until it settles."""

    kind: str
    """Human name (``"training job"``)."""
    describe: Callable[[], Mapping[str, Any]]
    status_key: str
    done: tuple[str, ...]
    failed: tuple[str, ...]
    stop: Callable[[], None] | None = None
    detail_key: str | None = None
    """A secondary status to show (``SecondaryStatus`` for training)."""


def wait_for_status(
    waiter: JobWaiter,
    name: str,
    *,
    poll_interval: float,
    timeout: float | None,
    sleep: Sleep = time.sleep,
    progress: bool = True,
    clock: Callable[[], float] = time.monotonic,
) -> Mapping[str, Any]:
    """Poll until the resource reaches a final status; return the last description.

    Raises
    ------
    RemoteJobError
        On a failed/stopped status (with AWS's ``FailureReason``), a describe error, or after
        ``timeout`` seconds (the job is stopped first when ``waiter.stop`` is set).
    KeyboardInterrupt
        Re-raised after stopping the job.
    """
    from botocore.exceptions import BotoCoreError, ClientError
    from tqdm.auto import tqdm

    start = clock()
    bar = tqdm(
        desc=f"{waiter.kind} {name}",
        total=None,
        bar_format="{desc} [{elapsed}]",
        file=sys.stderr,
        disable=not progress,
        leave=False,
    )
    last = ""
    try:
        while True:
            try:
                desc = waiter.describe()
            except (ClientError, BotoCoreError) as exc:
                raise RemoteJobError(
                    f"cannot describe {waiter.kind} {name}: {client_error_message(exc)}"
                ) from None
            status = str(desc.get(waiter.status_key, "?"))
            detail = str(desc.get(waiter.detail_key, "")) if waiter.detail_key else ""
            shown = f"{status} ({detail})" if detail and detail != status else status
            if shown != last:
                bar.set_description_str(f"{waiter.kind} {name}: {shown}", refresh=True)
                logger.info("%s %s: %s", waiter.kind, name, shown)
                last = shown
            if status in waiter.done:
                return desc
            if status in waiter.failed:
                reason = desc.get("FailureReason") or "no FailureReason given"
                raise RemoteJobError(f"{waiter.kind} {name} ended with status {status}: {reason}")
            if timeout is not None and clock() - start >= timeout:
                stopped = _stop(waiter, name)
                raise RemoteJobError(
                    f"{waiter.kind} {name} did not finish within {timeout:g} s (status {status}); "
                    + ("it was stopped" if stopped else "it may still be running")
                )
            bar.refresh()  # elapsed time
            sleep(poll_interval)
    except KeyboardInterrupt:
        stopped = _stop(waiter, name)
        msg = (
            f"interrupted: {waiter.kind} {name} was stopped"
            if stopped
            else f"interrupted: {waiter.kind} {name} may still be running"
        )
        print(msg, file=sys.stderr)
        logger.warning(msg)
        raise
    finally:
        bar.close()


def _stop(waiter: JobWaiter, name: str) -> bool:
    if waiter.stop is None:
        return False
    try:
        waiter.stop()
    except Exception as exc:  # the original error matters more than a failed stop
        logger.warning("could not stop %s %s: %s", waiter.kind, name, client_error_message(exc))
        return False
    logger.warning("stopped %s %s", waiter.kind, name)
    return True


def default_timeout(config: SageMakerConfig) -> float:
    """``wait_timeout``, else the job's own limit plus an hour for queueing/provisioning."""
    if config.wait_timeout is not None:
        return float(config.wait_timeout)
    limit = config.max_wait if (config.use_spot and config.max_wait) else config.max_runtime
    if config.use_spot and config.max_wait is None:
        limit = 2 * config.max_runtime
    return float(limit + 3600)


def training_waiter(sm: Any, name: str) -> JobWaiter:
    """Waiter for a training job."""
    return JobWaiter(
        kind="training job",
        describe=lambda: sm.describe_training_job(TrainingJobName=name),
        status_key="TrainingJobStatus",
        done=("Completed",),
        failed=("Failed", "Stopped"),
        stop=lambda: sm.stop_training_job(TrainingJobName=name),
        detail_key="SecondaryStatus",
    )


def transform_waiter(sm: Any, name: str) -> JobWaiter:
    """Waiter for a batch transform job."""
    return JobWaiter(
        kind="transform job",
        describe=lambda: sm.describe_transform_job(TransformJobName=name),
        status_key="TransformJobStatus",
        done=("Completed",),
        failed=("Failed", "Stopped"),
        stop=lambda: sm.stop_transform_job(TransformJobName=name),
    )


def endpoint_waiter(sm: Any, name: str) -> JobWaiter:
    """Waiter for an endpoint to be ``InService``."""
    return JobWaiter(
        kind="endpoint",
        describe=lambda: sm.describe_endpoint(EndpointName=name),
        status_key="EndpointStatus",
        done=("InService",),
        failed=("Failed", "OutOfService", "Deleting"),
    )


def create_training_job(
    sm: Any,
    config: SageMakerConfig,
    *,
    name: str,
    image_uri: str,
    hyperparameters: Mapping[str, str],
    train_s3_prefix: str,
    content_type: str,
    output_s3: str,
    channel_name: str = "train",
    distribution: str = "ShardedByS3Key",
    metric_definitions: Sequence[Mapping[str, str]] = (),
) -> None:
    """``CreateTrainingJob`` reading one S3 channel (a built-in algorithm or a framework image).

    Parameters
    ----------
    sm : botocore client
        ``sagemaker`` client.
    config : SageMakerConfig
        Role, instances, limits, spot settings and tags.
    name, image_uri : str
        Job name and training image.
    hyperparameters : mapping of str to str
        As the API wants them (strings).
    train_s3_prefix : str
        ``s3://`` prefix of the channel's objects.
    content_type : str
        The channel's ``ContentType``.
    output_s3 : str
        ``S3OutputPath`` of the model artefact.
    channel_name : str, default "train"
        Channel name (the container sees ``/opt/ml/input/data/<name>`` and
        ``SM_CHANNEL_<NAME>``).
    distribution : {"ShardedByS3Key", "FullyReplicated"}
        How objects are spread over the instances.
    metric_definitions : sequence of {"Name", "Regex"}
        Metrics SageMaker scrapes from the training log (framework images only).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    stopping: dict[str, int] = {"MaxRuntimeInSeconds": int(config.max_runtime)}
    algorithm: dict[str, Any] = {"TrainingImage": image_uri, "TrainingInputMode": "File"}
    if metric_definitions:
        algorithm["MetricDefinitions"] = [dict(m) for m in metric_definitions]
    if config.use_spot:
        stopping["MaxWaitTimeInSeconds"] = int(config.max_wait or 2 * config.max_runtime)
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": algorithm,
        "RoleArn": config.role,
        "HyperParameters": dict(hyperparameters),
        "InputDataConfig": [
            {
                "ChannelName": channel_name,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": train_s3_prefix,
                        "S3DataDistributionType": distribution,
                    }
                },
                "ContentType": content_type,
                "CompressionType": "None",
                "RecordWrapperType": "None",
                "InputMode": "File",
            }
        ],
        "OutputDataConfig": {"S3OutputPath": output_s3},
        "ResourceConfig": {
            "InstanceType": config.instance_type,
            "InstanceCount": int(config.instance_count),
            "VolumeSizeInGB": int(config.volume_size),
        },
        "StoppingCondition": stopping,
        "EnableManagedSpotTraining": bool(config.use_spot),
        "Tags": config.resource_tags(),
    }
    try:
        sm.create_training_job(**request)
    except (ClientError, BotoCoreError) as exc:
        raise RemoteJobError(
            f"CreateTrainingJob {name} was refused: {client_error_message(exc)}"
        ) from None


def model_artifact(desc: Mapping[str, Any], name: str) -> str:
    """The ``s3://`` model artefact of a completed training job's description.

    Raises
    ------
    RemoteJobError
        The job has no ``s3://`` artefact.
    """
    uri = desc.get("ModelArtifacts", {}).get("S3ModelArtifacts")
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise RemoteJobError(f"training job {name} completed without a model artefact: {uri!r}")
    return uri


def attach_training_job(
    sm: Any,
    config: SageMakerConfig,
    name: str,
    *,
    check: Callable[[Mapping[str, Any]], None],
    sleep: Sleep = time.sleep,
) -> Mapping[str, Any]:
    """Describe an existing training job, check it is the right kind, wait until it completes.

    Parameters
    ----------
    sm : botocore client
        ``sagemaker`` client.
    config : SageMakerConfig
        Poll interval, timeout, progress.
    name : str
        Training job name.
    check : callable
        Called with the first description; raises :class:`RemoteJobError` for a job of
        another kind (another algorithm, entry script...).
    sleep : callable
        Between polls.

    Returns
    -------
    Mapping
        The description of the completed job.

    Raises
    ------
    RemoteJobError
        Unknown job, wrong kind, or a job that failed or was stopped.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        desc = sm.describe_training_job(TrainingJobName=name)
    except (ClientError, BotoCoreError) as exc:
        raise RemoteJobError(
            f"cannot attach to training job {name!r}: {client_error_message(exc)}"
        ) from None
    check(desc)
    if desc.get("TrainingJobStatus") != "Completed":
        desc = wait_for_status(
            training_waiter(sm, name),
            name,
            poll_interval=float(config.poll_interval),
            timeout=default_timeout(config),
            sleep=sleep,
            progress=config.progress,
        )
    return desc

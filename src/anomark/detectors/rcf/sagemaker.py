"""The SageMaker engine of :class:`~anomark.detectors.rcf.RCFDetector`: built-in Random Cut Forest.

The detector shingles the series exactly as for the local engine
(``Windowing(shingle_size).shingles(values)``) and hands the matrix to this engine, which
stages it on S3, trains SageMaker's built-in RCF, and scores rows with a batch transform job
or a temporary real-time endpoint. Scores come back one per shingle row, in order, so the
detector maps them to timestamps and thresholds them exactly as it does locally.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

# Ranges SageMaker's RCF accepts (CreateTrainingJob rejects others after minutes of queueing).
from anomark.detectors.rcf._limits import FEATURE_DIM_RANGE as _FEATURE_DIM
from anomark.detectors.rcf._limits import NUM_SAMPLES_RANGE as _NUM_SAMPLES
from anomark.detectors.rcf._limits import NUM_TREES_RANGE as _NUM_TREES
from anomark.errors import ConfigurationError, DataError, RemoteJobError
from anomark.sagemaker.codecs import CSVScoresCodec
from anomark.sagemaker.config import SageMakerConfig
from anomark.sagemaker.endpoints import EndpointEngine, check_engine_state
from anomark.sagemaker.jobs import (
    attach_training_job,
    create_training_job,
    default_timeout,
    endpoint_waiter,
    make_name,
    model_artifact,
    training_waiter,
    wait_for_status,
)
from anomark.sagemaker.staging import check_rows, choose_format, stage_rows
from anomark.sagemaker.transform import transform_score

__all__ = ["SageMakerRCFEngine"]

logger = logging.getLogger("anomark.sagemaker")

_STATE_KEYS = {
    "training_job_name",
    "model_data",
    "image_uri",
    "feature_dim",
    "num_trees",
    "num_samples_per_tree",
    "endpoint_name",
    "train_s3_uri",
}


def _check_range(value: Any, name: str, bounds: tuple[int, int]) -> int:
    lo, hi = bounds
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not lo <= value <= hi:
        raise ConfigurationError(
            f"SageMaker's Random Cut Forest needs {name} in [{lo}, {hi}], got {value!r}"
        )
    return int(value)


class SageMakerRCFEngine(EndpointEngine):
    """Train and score SageMaker's built-in Random Cut Forest on shingled rows.

    Parameters
    ----------
    config : SageMakerConfig
        Where and how to run (validated on first use).
    num_trees : int, default 100
        Trees in the forest (SageMaker accepts 50-1000).
    num_samples_per_tree : int, default 256
        Reservoir sample size per tree (1-2048).
    feature_dim : int, optional
        Width of a shingle row (``shingle_size * n_features``); inferred at :meth:`fit`.
    sleep : callable, default time.sleep
        Used between status polls and for retry backoff (tests pass a no-op).
    rng : random.Random, optional
        Source of the retry backoff's jitter (tests pass a seeded one).

    Attributes
    ----------
    training_job_name : str or None
        Set by :meth:`fit` / :meth:`attach`.
    model_data : str or None
        ``s3://`` URI of the model artefact (``model.tar.gz``).
    endpoint_name : str or None
        An existing endpoint used for scoring (:meth:`from_endpoint`); never deleted by us.

    Examples
    --------
    Not run here (needs AWS)::

        engine = SageMakerRCFEngine(cfg, num_trees=100, num_samples_per_tree=256)
        engine.fit(shingles)             # stage + train
        scores = engine.score(shingles)  # batch transform or temporary endpoint
        with engine.endpoint() as ep:    # one endpoint for repeated scoring
            a = engine.score(x1)
            b = ep.score(x2)
    """

    endpoint_kind: ClassVar[str] = "rcf"

    def __init__(
        self,
        config: SageMakerConfig,
        num_trees: int = 100,
        num_samples_per_tree: int = 256,
        feature_dim: int | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(config, sleep=sleep, rng=rng)
        self.num_trees = num_trees
        self.num_samples_per_tree = num_samples_per_tree
        self.feature_dim = feature_dim
        self.image_uri: str | None = None

    def __repr__(self) -> str:
        return (
            f"SageMakerRCFEngine(job={self.training_job_name!r}, endpoint={self.endpoint_name!r}, "
            f"num_trees={self.num_trees}, num_samples_per_tree={self.num_samples_per_tree}, "
            f"feature_dim={self.feature_dim})"
        )

    # ------------------------------------------------------------------ plumbing
    def _check_params(self) -> None:
        self.config.validate()
        self.config.resolved_region()
        self.num_trees = _check_range(self.num_trees, "num_trees", _NUM_TREES)
        self.num_samples_per_tree = _check_range(
            self.num_samples_per_tree, "num_samples_per_tree", _NUM_SAMPLES
        )
        if self.feature_dim is not None:
            self.feature_dim = _check_range(self.feature_dim, "feature_dim", _FEATURE_DIM)

    def _image(self) -> str:
        if self.image_uri is None:
            self.image_uri = self.config.rcf_image_uri()
        return self.image_uri

    def hyperparameters(self) -> dict[str, str]:
        """The training job's hyperparameters (strings, as the API wants them)."""
        return {
            "feature_dim": str(self.feature_dim),
            "num_trees": str(self.num_trees),
            "num_samples_per_tree": str(self.num_samples_per_tree),
        }

    # ------------------------------------------------------------------ training
    def fit(self, shingles: np.ndarray) -> SageMakerRCFEngine:
        """Stage ``shingles`` on S3 and train; returns ``self`` once the job has completed.

        Raises
        ------
        ConfigurationError
            Invalid config or hyperparameters (before any AWS call).
        DataError
            Non-finite, empty or mis-shaped rows.
        RemoteJobError
            The job was refused, failed (with AWS's reason), was stopped, or timed out.
        """
        self._check_params()
        rows = check_rows(shingles)
        dim = rows.shape[1]
        if self.feature_dim is not None and self.feature_dim != dim:
            raise DataError(f"feature_dim={self.feature_dim} but the rows have {dim} values")
        self.feature_dim = _check_range(dim, "feature_dim", _FEATURE_DIM)
        image = self._image()
        s3 = self._client("s3")
        sm = self._client("sagemaker")
        fmt = choose_format(rows, self.config.data_format)
        staged = stage_rows(
            s3,
            self.config.bucket,
            self.config.key("train"),
            rows,
            min_parts=int(self.config.instance_count),
            data_format=fmt,
        )
        name = make_name(self.config, "rcf")
        create_training_job(
            sm,
            self.config,
            name=name,
            image_uri=image,
            hyperparameters=self.hyperparameters(),
            train_s3_prefix=staged.s3_prefix,
            content_type=staged.content_type,
            output_s3=f"{self.config.s3_root}/models",
        )
        self.training_job_name = name
        self.train_s3_uri = staged.s3_prefix
        self.model_data = None
        logger.info("training job %s started on %s", name, staged.s3_prefix)
        desc = wait_for_status(
            training_waiter(sm, name),
            name,
            poll_interval=float(self.config.poll_interval),
            timeout=default_timeout(self.config),
            sleep=self._sleep,
            progress=self.config.progress,
        )
        self.model_data = model_artifact(desc, name)
        return self

    @classmethod
    def attach(
        cls,
        training_job_name: str,
        config: SageMakerConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> SageMakerRCFEngine:
        """Reuse a Random Cut Forest training job (waits for it if still running).

        Raises
        ------
        RemoteJobError
            Unknown job, a job that failed or was stopped, or not a Random Cut Forest job.
        """
        engine = cls(config, sleep=sleep)
        engine.config.validate()

        def check(desc: Mapping[str, Any]) -> None:
            image = str(desc.get("AlgorithmSpecification", {}).get("TrainingImage", ""))
            if "randomcutforest" not in image:
                raise RemoteJobError(
                    f"training job {training_job_name} did not train SageMaker's Random Cut "
                    f"Forest (image {image or '?'})"
                )

        desc = attach_training_job(
            engine._client("sagemaker"), config, training_job_name, check=check, sleep=sleep
        )
        image = str(desc.get("AlgorithmSpecification", {}).get("TrainingImage", ""))
        hp = desc.get("HyperParameters", {})
        try:
            engine.feature_dim = int(hp["feature_dim"])
            engine.num_trees = int(hp.get("num_trees", 100))
            engine.num_samples_per_tree = int(hp.get("num_samples_per_tree", 256))
        except (KeyError, ValueError) as exc:
            raise RemoteJobError(
                f"training job {training_job_name} has unusable hyperparameters {hp!r}: {exc}"
            ) from None
        engine.training_job_name = training_job_name
        engine.image_uri = image
        engine.model_data = model_artifact(desc, training_job_name)
        return engine

    @classmethod
    def from_endpoint(
        cls,
        name: str,
        config: SageMakerConfig,
        *,
        feature_dim: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> SageMakerRCFEngine:
        """Score with an existing, ``InService`` endpoint (which is never deleted by anomark)."""
        engine = cls(config, feature_dim=feature_dim, sleep=sleep)
        engine.config.validate()
        sm = engine._client("sagemaker")
        wait_for_status(
            endpoint_waiter(sm, name),
            name,
            poll_interval=float(config.poll_interval),
            timeout=default_timeout(config),
            sleep=sleep,
            progress=config.progress,
        )
        engine.endpoint_name = name
        return engine

    # ------------------------------------------------------------------ scoring
    def _serving_image(self) -> str:
        return self._image()

    def _codec(self) -> CSVScoresCodec:
        return CSVScoresCodec(self.feature_dim)

    def resolve_scoring(self, n_rows: int) -> str:
        """``"endpoint"`` or ``"batch"`` for ``n_rows`` rows under ``config.scoring``."""
        if self._active is not None or self.endpoint_name is not None:
            return "endpoint"
        mode = self.config.scoring
        if mode == "auto":
            return "endpoint" if n_rows <= self.config.auto_endpoint_max_rows else "batch"
        return mode

    def score(self, shingles: np.ndarray) -> np.ndarray:
        """One RCF score per row of ``shingles``, in order.

        Uses the open endpoint inside :meth:`endpoint`, the attached endpoint after
        :meth:`from_endpoint`, else ``config.scoring``: a batch transform job, or a temporary
        endpoint that is deleted afterwards (also on errors) unless ``keep_endpoint=True``.
        """
        self._require_fitted()
        self.config.validate()
        rows = check_rows(shingles)
        if self.feature_dim is not None and rows.shape[1] != self.feature_dim:
            raise DataError(
                f"rows have {rows.shape[1]} values but the model was trained on "
                f"feature_dim={self.feature_dim}"
            )
        mode = self.resolve_scoring(rows.shape[0])
        if mode == "batch":
            if self.model_data is None:
                raise ConfigurationError(
                    "batch scoring needs the model artefact; this engine only knows an endpoint"
                )
            return transform_score(
                self.config,
                rows,
                image_uri=self._image(),
                model_data=self.model_data,
                sleep=self._sleep,
                sm=self._client("sagemaker"),
                s3=self._client("s3"),
            )
        with self.endpoint() as ep:
            return ep.score(rows)

    # ------------------------------------------------------------------ persistence
    def to_state(self) -> dict[str, Any]:
        """JSON-compatible state (job name, model artefact URI, image, hyperparameters...)."""
        return {
            "training_job_name": self.training_job_name,
            "model_data": self.model_data,
            "image_uri": self.image_uri,
            "feature_dim": self.feature_dim,
            "num_trees": self.num_trees,
            "num_samples_per_tree": self.num_samples_per_tree,
            "endpoint_name": self.endpoint_name,
            "train_s3_uri": self.train_s3_uri,
        }

    @classmethod
    def from_state(
        cls,
        config: SageMakerConfig,
        state: Mapping[str, Any],
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> SageMakerRCFEngine:
        """Inverse of :meth:`to_state`; the engine can score remotely again.

        Raises
        ------
        ConfigurationError
            Unknown keys or values of the wrong type.
        """
        state = check_engine_state(
            state, _STATE_KEYS, integers=("feature_dim", "num_trees", "num_samples_per_tree")
        )
        model_data = state.get("model_data")
        engine = cls(
            config,
            num_trees=state.get("num_trees") or 100,
            num_samples_per_tree=state.get("num_samples_per_tree") or 256,
            feature_dim=state.get("feature_dim"),
            sleep=sleep,
        )
        engine.training_job_name = state.get("training_job_name")
        engine.model_data = model_data
        engine.image_uri = state.get("image_uri")
        engine.endpoint_name = state.get("endpoint_name")
        engine.train_s3_uri = state.get("train_s3_uri")
        return engine


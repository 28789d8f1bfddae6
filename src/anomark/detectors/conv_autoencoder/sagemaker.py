"""The SageMaker engine of :class:`~anomark.ConvAutoencoderDetector`: TensorFlow + TF Serving.

Training runs the library's own entry script (:mod:`.train_entry`) in SageMaker's TensorFlow
training container, shipped in a source tarball with a copy of this package
(:mod:`.container`), so the model is built, fed and trained by the same functions as a local
fit. The training channel (``training``) is either an S3 prefix of CSV files (e.g. one file per
day, a timestamp column plus one column per sensor) or an in-memory dataset staged as CSV parts.
With ``instance_count > 1`` the job asks for ``MultiWorkerMirroredStrategy`` and every host
reads its own ``ShardedByS3Key`` shard of the files (data-parallel training).

The container writes ``model.tar.gz`` with a TensorFlow Serving SavedModel in ``1/`` and the
saved detector in ``anomark/``. The engine never builds or changes a detector: it hands the
extracted ``anomark/`` folder to the caller (:meth:`SageMakerConvAEEngine.download_artifact`),
and the detector loads itself from it. Scoring goes through TensorFlow Serving:

* **endpoint** — blocks of raw rows to the SavedModel's ``score_rows`` signature, or scaled
  windows to ``score``; both compute each window's reconstruction error in the served graph
  exactly as :class:`~anomark.scoring.ReconstructionScorer` does (replies of one number per
  window); ``feature_scores`` and ``serving_default`` (the reconstruction) serve attribution
  and plots; consecutive row blocks overlap by ``window_size - 1`` rows, so windows across
  block and file boundaries are scored exactly once;
* **batch transform** — the same blocks of raw rows as JSON Lines records for ``score_rows``
  (windows built inside the job), read back in order.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from anomark._s3 import split_s3_uri
from anomark.detectors.conv_autoencoder.container import (
    CHANNEL,
    ENTRY_SCRIPT,
    FEATURE_SCORES_SIGNATURE,
    FRAMEWORK_VERSION,
    MWMS_HYPERPARAMETER,
    PARAM_ARGS,
    PY_VERSION,
    SCORE_SIGNATURE,
    SOURCE_TARBALL,
    RowsCodec,
    build_source_tarball,
    check_params,
    extract_state,
    hyperparameters_for,
    json_hyperparameter,
    params_from_hyperparameters,
    read_score_lines,
    threshold_text,
)
from anomark.errors import ConfigurationError, DataError, RemoteJobError
from anomark.persistence import read_saved
from anomark.sagemaker.codecs import TFServingCodec
from anomark.sagemaker.config import SageMakerConfig
from anomark.sagemaker.endpoints import EndpointEngine, check_engine_state, endpoint_model_data
from anomark.sagemaker.jobs import (
    attach_training_job,
    client_error_message,
    create_training_job,
    default_timeout,
    endpoint_waiter,
    make_name,
    model_artifact,
    training_waiter,
    wait_for_status,
)
from anomark.sagemaker.staging import list_objects, stage_blobs
from anomark.sagemaker.transform import run_transform_job
from anomark.threshold import Threshold

if TYPE_CHECKING:  # pragma: no cover
    from anomark.dataset import DataLike
    from anomark.detectors.conv_autoencoder.source import WindowSource

__all__ = ["SageMakerConvAEEngine"]

logger = logging.getLogger("anomark.sagemaker")

#: Target size of one staged training CSV part.
CSV_PART_BYTES = 128 * 2**20
#: Target size of one staged JSON Lines part of a batch transform.
TRANSFORM_PART_BYTES = 64 * 2**20
_METRICS = ({"Name": "train:loss", "Regex": r"anomark epoch=\d+ loss=([-+0-9.eE]+)"},)
_STATE_KEYS = {
    "training_job_name",
    "model_data",
    "training_image",
    "serving_image",
    "endpoint_name",
    "train_s3_uri",
    "source_s3_uri",
    "params",
    "framework_version",
    "py_version",
    "n_features",
}


class SageMakerConvAEEngine(EndpointEngine):
    """Train the autoencoder in the TensorFlow container; score it through TF Serving.

    Parameters
    ----------
    config : SageMakerConfig
        Where and how to run (validated before any AWS call; GPU instance types are allowed).
        ``config.image_uri``, when set, is the training image.
    params : mapping, optional
        :class:`~anomark.ConvAutoencoderDetector` parameters (``window_size``, ``epochs``,
        ``batch_size``, ``random_state``, ``filters``..., ``threshold``: the container fits
        this rule on the training scores); others (``sagemaker``, ``verbose``) are ignored.
        Validated before any AWS call.
    framework_version : str, default "2.19"
        TensorFlow version of the training and serving images.
    py_version : str, default "py312"
        Python of the training image.
    serving_image : str, optional
        TensorFlow Serving image; default from ``image_uris.retrieve`` for
        ``config.inference_instance_type``.
    requirements : bool, default True
        Ship ``requirements.txt`` in the source tarball (see
        :func:`~anomark.detectors.conv_autoencoder.container.build_source_tarball`).
    sleep : callable, default time.sleep
        Used between status polls and for retry backoff (tests pass a no-op).
    rng : random.Random, optional
        Source of the retry backoff's jitter.

    Attributes
    ----------
    training_job_name, model_data, train_s3_uri, source_s3_uri : str or None
        Set by :meth:`fit` / :meth:`attach`.
    endpoint_name : str or None
        An existing endpoint used for scoring (:meth:`from_endpoint`); never deleted by us.
    n_features : int or None
        Columns of the served model's windows (known from the staged data or the artefact).

    Examples
    --------
    Not run here (needs AWS); a detector does this for you::

        engine = SageMakerConvAEEngine(cfg, {"window_size": 48, "epochs": 10, "random_state": 0})
        engine.fit("s3://my-bucket/sensors/daily/")     # or a Dataset / DataFrame
        folder = engine.download_artifact(tmp)          # the saved detector: Detector.load(folder)
        with engine.endpoint():                         # one TF Serving endpoint
            errors = engine.score_windows(scaled_windows)
    """

    endpoint_kind: ClassVar[str] = "cae"

    def __init__(
        self,
        config: SageMakerConfig,
        params: Mapping[str, Any] | None = None,
        *,
        framework_version: str = FRAMEWORK_VERSION,
        py_version: str = PY_VERSION,
        serving_image: str | None = None,
        requirements: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(config, sleep=sleep, rng=rng)
        self.params: dict[str, Any] = {
            k: v for k, v in dict(params or {}).items() if k in PARAM_ARGS
        }
        self.framework_version = framework_version
        self.py_version = py_version
        self.serving_image = serving_image
        self.requirements = requirements
        self.training_image: str | None = None
        self.source_s3_uri: str | None = None
        self.n_features: int | None = None

    def __repr__(self) -> str:
        return (
            f"SageMakerConvAEEngine(job={self.training_job_name!r}, "
            f"endpoint={self.endpoint_name!r}, params={self.params!r})"
        )

    # ------------------------------------------------------------------ plumbing
    def _validate_config(self) -> None:
        self.config.validate(accelerated_ok=True)

    def _check_params(self) -> None:
        self._validate_config()
        self.config.resolved_region()
        check_params(self.params)
        if int(self.config.instance_count) > 1 and self.params.get("validation_split"):
            raise ConfigurationError(
                "validation_split is not supported with instance_count > 1 (data-parallel "
                "training); use validation_split=0, optionally with patience on the training loss"
            )

    @property
    def window_size(self) -> int:
        """Time steps per window (the ``window_size`` parameter, default 48)."""
        return int(self.params.get("window_size", 48))

    @property
    def stride(self) -> int:
        """Step between windows (the ``stride`` parameter, default 1)."""
        return int(self.params.get("stride", 1))

    def _training_image(self) -> str:
        if self.training_image is None:
            self.training_image = self.config.image_uri or self.config.retrieve_image(
                "tensorflow",
                label=f"TensorFlow {self.framework_version} training",
                version=self.framework_version,
                image_scope="training",
                instance_type=self.config.instance_type,
                py_version=self.py_version,
            )
        return self.training_image

    def _serving_image(self, instance_type: str | None = None) -> str:
        if self.serving_image is not None:
            return self.serving_image
        image = self.config.retrieve_image(
            "tensorflow",
            label=f"TensorFlow {self.framework_version} Serving",
            version=self.framework_version,
            image_scope="inference",
            instance_type=instance_type or self.config.inference_instance_type,
        )
        if instance_type is None:
            self.serving_image = image
        return image

    def _window_shape(self) -> tuple[int, int, int]:
        if self.n_features is None:
            raise RemoteJobError(
                "the number of columns of the served model is unknown; load the artefact "
                "first (download_artifact)"
            )
        return (self.window_size, int(self.n_features), 1)

    def _codec(self, signature: str = SCORE_SIGNATURE) -> TFServingCodec:
        shape = self._window_shape()
        if signature == SCORE_SIGNATURE:
            return TFServingCodec(shape, signature=signature, output_shape=(),
                                  output_dtype="float64")
        if signature == FEATURE_SCORES_SIGNATURE:
            return TFServingCodec(shape, signature=signature, output_shape=(shape[1],),
                                  output_dtype="float64")
        return TFServingCodec(shape)  # serving_default: the reconstruction

    def hyperparameters(self, source_s3_uri: str, job_name: str) -> dict[str, str]:
        """The training job's hyperparameters: the detector's and the framework's ones.

        Like the SageMaker SDK's TensorFlow estimator, ``model_dir`` is an S3 location
        (``<prefix>/models/<job>/model``): the container's toolkit reads it to configure TF's
        S3 region and passes it on as ``--model_dir``, which the entry script ignores (it
        writes to ``SM_MODEL_DIR``). With ``instance_count > 1``,
        ``sagemaker_multi_worker_mirrored_strategy_enabled`` makes the toolkit set
        ``TF_CONFIG`` on every host, as the SDK's
        ``distribution={"multi_worker_mirrored_strategy": {"enabled": True}}`` does.
        """
        hp = hyperparameters_for(self.params)
        hp.update(
            {
                "sagemaker_program": json.dumps(ENTRY_SCRIPT),
                "sagemaker_submit_directory": json.dumps(source_s3_uri),
                "sagemaker_region": json.dumps(self.config.resolved_region()),
                "sagemaker_container_log_level": json.dumps(20),
                "model_dir": json.dumps(f"{self.config.s3_root}/models/{job_name}/model"),
            }
        )
        if int(self.config.instance_count) > 1:
            hp[MWMS_HYPERPARAMETER] = json.dumps(True)
        return hp

    # ------------------------------------------------------------------ training
    def stage_source(self) -> str:
        """Upload the source tarball (once per package content); return its ``s3://`` URI."""
        staged = stage_blobs(
            self._client("s3"),
            self.config.bucket,
            self.config.key("source"),
            [(SOURCE_TARBALL, build_source_tarball(requirements=self.requirements))],
            content_type="application/gzip",
        )
        return f"s3://{self.config.bucket}/{staged.keys[0]}"

    def stage_data(self, data: DataLike) -> str:
        """Stage in-memory data as CSV parts (timestamp + columns); return the ``s3://`` prefix.

        At least one part per training instance is written (each host of a data-parallel job
        reads its own ``ShardedByS3Key`` shard), each a contiguous stretch of time. A series
        without timestamps gets one per second from 2000-01-01 (only the order of the rows
        matters for training).
        """
        import pandas as pd

        from anomark.dataset import Dataset

        ds = Dataset.from_any(data)
        frame = ds.frame.copy()
        if not isinstance(frame.index, pd.DatetimeIndex):
            frame.index = pd.date_range("2000-01-01", periods=len(frame), freq="s")
        frame.index.name = "timestamp"
        frame.columns = [str(c) for c in frame.columns]
        self.n_features = int(frame.shape[1])
        hosts = int(self.config.instance_count)
        if hosts > 1 and len(frame) < hosts * self.window_size:
            raise DataError(
                f"{len(frame)} rows cannot give each of instance_count={hosts} hosts a shard "
                f"of at least window_size={self.window_size} rows"
            )
        sample = frame.iloc[: min(len(frame), 200)].to_csv().encode()
        est = len(sample) * len(frame) / max(1, min(len(frame), 200))
        n_parts = max(hosts, math.ceil(est / CSV_PART_BYTES))
        bounds = np.linspace(0, len(frame), n_parts + 1).round().astype(int)
        blobs = [
            (f"part-{i:05d}.csv", frame.iloc[a:b].to_csv().encode())
            for i, (a, b) in enumerate(itertools.pairwise(bounds))
            if b > a
        ]
        staged = stage_blobs(
            self._client("s3"),
            self.config.bucket,
            self.config.key("train-csv"),
            blobs,
            content_type="text/csv",
        )
        return staged.s3_prefix

    def _check_prefix(self, uri: str) -> None:
        """A data-parallel job needs at least one CSV file per host under the prefix."""
        hosts = int(self.config.instance_count)
        if hosts < 2:
            return
        files = list_objects(self._client("s3"), uri, suffixes=(".csv", ".csv.gz"))
        if len(files) < hosts:
            raise DataError(
                f"{uri} holds {len(files)} CSV file(s) but instance_count={hosts}: with "
                "ShardedByS3Key each host trains on its own files, so give at least one file "
                "per host (e.g. one file per day) or use fewer instances"
            )

    def fit(self, data: DataLike | str) -> SageMakerConvAEEngine:
        """Train in the TensorFlow container; returns ``self`` once the job has completed.

        Parameters
        ----------
        data : str or Dataset, DataFrame, Series, array
            ``s3://bucket/prefix/`` of CSV files (searched recursively by the entry script,
            e.g. the multi-sensor daily-file layout), or in-memory data staged as CSV.

        Raises
        ------
        ConfigurationError
            Invalid config or parameters, or a malformed S3 URI (before any AWS call).
        DataError
            Unusable in-memory data, or fewer CSV files than data-parallel hosts.
        RemoteJobError
            The job was refused, failed (with AWS's reason, e.g. the script's own message),
            was stopped or timed out.
        """
        self._check_params()
        if isinstance(data, str):
            split_s3_uri(data)
            train_uri = data if data.endswith((".csv", ".gz", "/")) else data + "/"
            self._check_prefix(train_uri)
            self.n_features = None
        else:
            train_uri = self.stage_data(data)
        image = self._training_image()
        source = self.stage_source()
        name = make_name(self.config, "cae")
        hosts = int(self.config.instance_count)
        create_training_job(
            self._client("sagemaker"),
            self.config,
            name=name,
            image_uri=image,
            hyperparameters=self.hyperparameters(source, name),
            train_s3_prefix=train_uri,
            content_type="text/csv",
            output_s3=f"{self.config.s3_root}/models",
            channel_name=CHANNEL,
            distribution="ShardedByS3Key" if hosts > 1 else "FullyReplicated",
            metric_definitions=_METRICS,
        )
        self.training_job_name = name
        self.train_s3_uri = train_uri
        self.source_s3_uri = source
        self.model_data = None
        logger.info("training job %s started on %s (%d host(s))", name, train_uri, hosts)
        desc = wait_for_status(
            training_waiter(self._client("sagemaker"), name),
            name,
            poll_interval=float(self.config.poll_interval),
            timeout=default_timeout(self.config),
            sleep=self._sleep,
            progress=self.config.progress,
        )
        self.model_data = model_artifact(desc, name)
        return self

    # ------------------------------------------------------------------ artefact
    def download_artifact(self, dest: str | Path) -> Path:
        """Download ``model.tar.gz`` and extract its ``anomark/`` folder (a saved detector).

        Also records the served model's number of columns (:attr:`n_features`) from the
        saved configuration.

        Parameters
        ----------
        dest : str or path
            An existing folder; ``dest/anomark`` is written.

        Returns
        -------
        pathlib.Path
            The extracted folder, for ``Detector.load``.

        Raises
        ------
        NotFittedError
            No model artefact is known.
        RemoteJobError
            The artefact cannot be downloaded or holds no saved detector.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        from anomark.errors import PersistenceError

        self._require_fitted()
        if self.model_data is None:
            raise RemoteJobError(
                f"endpoint {self.endpoint_name} has no known model artefact to load"
            )
        bucket, key = split_s3_uri(self.model_data)
        try:
            body = self._client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise RemoteJobError(
                f"model artefact {self.model_data} cannot be read: {client_error_message(exc)}"
            ) from None
        folder = extract_state(body, Path(dest), self.model_data)
        try:
            config, _ = read_saved(folder)
            n_features = int(config["fitted"]["n_features_in_"])
        except (PersistenceError, KeyError, TypeError, ValueError) as exc:
            raise RemoteJobError(
                f"model artefact {self.model_data} holds no loadable detector: {exc}"
            ) from None
        self.n_features = n_features
        return folder

    # ------------------------------------------------------------------ reuse
    @classmethod
    def attach(
        cls,
        training_job_name: str,
        config: SageMakerConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> SageMakerConvAEEngine:
        """Reuse an autoencoder training job (waits for it if still running).

        Raises
        ------
        RemoteJobError
            Unknown job, a job that failed or was stopped, or not trained by anomark's entry
            script.
        """

        def check(desc: Mapping[str, Any]) -> None:
            hp = desc.get("HyperParameters", {})
            program = json_hyperparameter(hp.get("sagemaker_program"))
            if program != ENTRY_SCRIPT:
                raise RemoteJobError(
                    f"training job {training_job_name} did not run anomark's autoencoder entry "
                    f"script (sagemaker_program={program!r})"
                )

        engine = cls(config, sleep=sleep)
        engine._validate_config()
        desc = attach_training_job(
            engine._client("sagemaker"), config, training_job_name, check=check, sleep=sleep
        )
        hp = desc.get("HyperParameters", {})
        engine.params = params_from_hyperparameters(hp)
        engine.training_job_name = training_job_name
        engine.training_image = desc.get("AlgorithmSpecification", {}).get("TrainingImage")
        engine.source_s3_uri = json_hyperparameter(hp.get("sagemaker_submit_directory"))
        channels = desc.get("InputDataConfig") or [{}]
        engine.train_s3_uri = channels[0].get("DataSource", {}).get("S3DataSource", {}).get("S3Uri")
        engine.model_data = model_artifact(desc, training_job_name)
        return engine

    @classmethod
    def from_endpoint(
        cls,
        name: str,
        config: SageMakerConfig,
        *,
        model_data: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> SageMakerConvAEEngine:
        """Score with an existing, ``InService`` TF Serving endpoint (never deleted by anomark).

        The artefact (scaling, window geometry) is found through endpoint → endpoint config →
        model, or given as ``model_data``.

        Raises
        ------
        RemoteJobError
            The endpoint is not InService or its model artefact cannot be found.
        """
        engine = cls(config, sleep=sleep)
        engine._validate_config()
        sm = engine._client("sagemaker")
        wait_for_status(
            endpoint_waiter(sm, name),
            name,
            poll_interval=float(config.poll_interval),
            timeout=default_timeout(config),
            sleep=sleep,
            progress=config.progress,
        )
        engine.model_data = model_data if model_data is not None else endpoint_model_data(sm, name)
        engine.endpoint_name = name
        return engine

    def adopt(self, params: Mapping[str, Any], n_features: int) -> None:
        """Take the parameters and width of the model the artefact holds (after ``attach``
        or ``from_endpoint``, whose hyperparameters may be incomplete)."""
        self.params = {k: v for k, v in dict(params).items() if k in PARAM_ARGS}
        self.n_features = int(n_features)

    # ------------------------------------------------------------------ scoring
    def resolve_scoring(self, n_values: int) -> str:
        """``"endpoint"``, ``"batch"`` or ``"local"``: where ``n_values`` window values score.

        An open (:meth:`endpoint`) or attached (:meth:`from_endpoint`) endpoint, or
        ``config.scoring="endpoint"``, means TF Serving; ``"batch"`` a batch transform job.
        ``"auto"`` scores on this machine with the downloaded model (identical numbers, no
        cost) up to ``config.auto_batch_min_values`` window values (windows x window_size x
        columns), and with a batch transform job above.
        """
        if self._active is not None or self.endpoint_name is not None:
            return "endpoint"
        mode = self.config.scoring
        if mode == "auto":
            return "batch" if n_values > int(self.config.auto_batch_min_values) else "local"
        return str(mode)

    def _predict(self, windows: np.ndarray, signature: str) -> np.ndarray:
        self._require_fitted()
        self._validate_config()
        codec = self._codec(signature)
        with self.endpoint() as ep:
            return ep.score(windows, codec=codec)

    def score_windows(self, windows: np.ndarray) -> np.ndarray:
        """Reconstruction error of already *scaled* windows, computed by the served model.

        Uses the SavedModel's ``score`` signature (the error of each window, computed in the
        graph as :class:`~anomark.scoring.ReconstructionScorer` does, float64) through the
        open endpoint inside :meth:`endpoint`, the attached endpoint after
        :meth:`from_endpoint`, else a temporary endpoint deleted afterwards (also on errors)
        unless ``keep_endpoint=True``.

        Parameters
        ----------
        windows : numpy.ndarray
            ``(k, window_size, n_features)`` (or with a trailing axis of 1), scaled as in
            training.

        Returns
        -------
        numpy.ndarray
            float64 ``(k,)``, in order.
        """
        return self._predict(windows, SCORE_SIGNATURE)

    def feature_scores_windows(self, windows: np.ndarray) -> np.ndarray:
        """Per-column reconstruction error ``(k, n_features)`` of scaled windows (served)."""
        return self._predict(windows, FEATURE_SCORES_SIGNATURE)

    def reconstruct_windows(self, windows: np.ndarray) -> np.ndarray:
        """The served model's reconstructions ``(k, window_size, n_features, 1)`` (float32)."""
        return self._predict(windows, "serving_default")

    def _rows_codec(self, source: WindowSource, min_requests: int = 1) -> RowsCodec:
        w = self.window_size
        if (source.window_size, source.stride) != (w, self.stride):
            raise DataError(
                f"the rows are windowed with window_size={source.window_size}, "
                f"stride={source.stride}; the model uses {w}, {self.stride}"
            )
        self._window_shape()  # the width is known
        if source.n_features != self.n_features:
            raise DataError(
                f"the rows have {source.n_features} columns, the model was trained on "
                f"{self.n_features}"
            )
        if source.n_rows < w:
            raise DataError(f"need at least window_size={w} rows to score, got {source.n_rows}")
        filters = self.params.get("filters", (16, 8, 8))
        return RowsCodec(source, widest_filter=max(int(x) for x in filters),
                         min_requests=min_requests)

    def endpoint_window_errors(self, source: WindowSource) -> np.ndarray:
        """The error of every window of ``source`` (raw rows), scored by the endpoint.

        Requests carry blocks of raw rows to the ``score_rows`` signature, which scales,
        windows and scores them in the served graph (as ``score`` does for windows): at stride
        1 about ``window_size`` times fewer bytes than sending the windows, and replies of one
        number per window. Same endpoint rules as :meth:`score_windows`.

        Returns
        -------
        numpy.ndarray
            float64, one error per window of ``source``, in order.
        """
        self._require_fitted()
        self._validate_config()
        codec = self._rows_codec(source)
        with self.endpoint() as ep:
            return ep.score(source.window_starts(), codec=codec)

    def batch_window_errors(self, source: WindowSource) -> np.ndarray:
        """The error of every window of ``source`` (raw rows), scored by one batch transform.

        The requests of :meth:`endpoint_window_errors` (blocks of raw rows for the
        ``score_rows`` signature, each carrying the ``window_size - 1`` rows its last window
        needs, so windows across block, part and file boundaries are scored exactly once) are
        staged as JSON Lines parts (at least one per transform instance, content hashed),
        scored with ``SplitType=Line``, one record per request (``SingleRecord``,
        ``MaxPayloadInMB`` from the largest record), and read back in order.

        Parameters
        ----------
        source : WindowSource
            Rows in original units (an array or the CSV cache of many files), with the
            model's ``window_size`` and ``stride``.

        Returns
        -------
        numpy.ndarray
            float64, one error per window of ``source``, in order.

        Raises
        ------
        RemoteJobError
            The job failed (with AWS's ``FailureReason``), or its output is missing, short or
            unreadable (a partial output is never read as complete).
        """
        self._require_fitted()
        self._validate_config()
        if self.model_data is None:
            raise ConfigurationError(
                "batch scoring needs the model artefact; this engine only knows an endpoint"
            )
        codec = self._rows_codec(source, int(self.config.transform_instance_count))
        starts = source.window_starts()
        parts, counts, max_record = self._stage_records(codec, starts)
        s3 = self._client("s3")
        output_s3 = run_transform_job(
            self.config,
            image_uri=self._serving_image(
                self.config.transform_instance_type or self.config.inference_instance_type
            ),
            model_data=self.model_data,
            input_s3=parts[0],
            content_type="application/jsonlines",
            accept="application/jsonlines",
            kind="cae",
            batch_strategy="SingleRecord",
            max_payload_mb=max(1, math.ceil(max_record / 2**20)),
            sleep=self._sleep,
            sm=self._client("sagemaker"),
        )
        _, out_key = split_s3_uri(output_s3)
        errors = []
        for key, per_record in zip(parts[1:], counts, strict=True):
            name = key.rsplit("/", 1)[-1]
            errors.append(_read_scores(s3, self.config.bucket, f"{out_key}{name}.out", per_record))
        return np.concatenate(errors)

    def _stage_records(
        self, codec: RowsCodec, starts: np.ndarray
    ) -> tuple[list[str], list[list[int]], int]:
        """Stage the records as JSON Lines parts; return (prefix + keys, counts, largest)."""
        hosts = int(self.config.transform_instance_count)
        records = [
            (b - a, body + b"\n")
            for a, b, body in codec.requests(starts, int(self.config.max_payload_bytes))
        ]
        total = sum(len(line) for _, line in records)
        n_parts = min(len(records), max(hosts, math.ceil(total / TRANSFORM_PART_BYTES)))
        bounds = np.linspace(0, len(records), n_parts + 1).round().astype(int)
        blobs, counts = [], []
        for i, (a, b) in enumerate(itertools.pairwise(bounds)):
            chunk = records[a:b]
            blobs.append((f"part-{i:05d}.jsonl", b"".join(line for _, line in chunk)))
            counts.append([k for k, _ in chunk])
        staged = stage_blobs(
            self._client("s3"),
            self.config.bucket,
            self.config.key("transform-input"),
            blobs,
            content_type="application/jsonlines",
        )
        max_record = max(len(line) for _, line in records)
        logger.info(
            "staged %d windows as %d records in %d part(s) at %s",
            starts.size, len(records), len(blobs), staged.s3_prefix,
        )
        return [staged.s3_prefix, *staged.keys], counts, max_record

    # ------------------------------------------------------------------ persistence
    def to_state(self) -> dict[str, Any]:
        """JSON-compatible state (job, artefact URI, images, parameters...)."""
        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.params.items()}
        if params.get("threshold") is not None:
            params["threshold"] = threshold_text(params["threshold"])
        return {
            "training_job_name": self.training_job_name,
            "model_data": self.model_data,
            "training_image": self.training_image,
            "serving_image": self.serving_image,
            "endpoint_name": self.endpoint_name,
            "train_s3_uri": self.train_s3_uri,
            "source_s3_uri": self.source_s3_uri,
            "params": params,
            "framework_version": self.framework_version,
            "py_version": self.py_version,
            "n_features": self.n_features,
        }

    @classmethod
    def from_state(
        cls,
        config: SageMakerConfig,
        state: Mapping[str, Any],
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> SageMakerConvAEEngine:
        """Inverse of :meth:`to_state`; the engine can score remotely again.

        Raises
        ------
        ConfigurationError
            Unknown keys or values of the wrong type.
        """
        state = check_engine_state(
            state, _STATE_KEYS, integers=("n_features",), objects=("params",)
        )
        params = dict(state.get("params") or {})
        if isinstance(params.get("threshold"), str):
            params["threshold"] = Threshold.parse(params["threshold"])
        if isinstance(params.get("filters"), list):
            params["filters"] = tuple(params["filters"])
        engine = cls(
            config,
            params,
            framework_version=state.get("framework_version") or FRAMEWORK_VERSION,
            py_version=state.get("py_version") or PY_VERSION,
            serving_image=state.get("serving_image"),
            sleep=sleep,
        )
        engine.training_job_name = state.get("training_job_name")
        engine.model_data = state.get("model_data")
        engine.training_image = state.get("training_image")
        engine.endpoint_name = state.get("endpoint_name")
        engine.train_s3_uri = state.get("train_s3_uri")
        engine.source_s3_uri = state.get("source_s3_uri")
        engine.n_features = state.get("n_features")
        return engine



def _read_scores(s3: Any, bucket: str, key: str, per_record: list[int]) -> np.ndarray:
    """The scores of one ``.out`` file: one TF Serving reply line per staged record."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        raise RemoteJobError(
            f"transform output s3://{bucket}/{key} cannot be read: {client_error_message(exc)}"
        ) from None
    return read_score_lines(body, per_record, f"transform output s3://{bucket}/{key}")

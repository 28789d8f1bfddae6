"""The SageMaker engine of :class:`~anomark.ConvAutoencoderDetector`: TensorFlow + TF Serving.

Training runs the library's own entry script
(:mod:`anomark.detectors.conv_autoencoder.train_entry`) in SageMaker's TensorFlow
training container, so the model is built, fed and trained by the same functions as a local
fit. The code travels in a *source tarball* (``sagemaker_submit_directory``) that holds:

* ``train_entry.py`` — the entry script (``sagemaker_program``);
* ``anomark/`` — a copy of this very anomark package (Python files only), so the container runs
  exactly the client's version, released or not;
* ``requirements.txt`` — anomark's third-party runtime requirements that the entry script needs
  (NumPy, pandas, scikit-learn, tqdm, with the package's own version bounds), which the
  container installs with pip before training; TensorFlow/Keras come with the image. Pass
  ``requirements=False`` when the image already has them or the job has no network access.

The tarball is written deterministically and staged under a content hash, so an unchanged
package is uploaded once. The training channel (``training``, ``FullyReplicated``) is either an
S3 prefix of CSV files (e.g. one file per day, a timestamp column plus one column per sensor)
or an in-memory dataset staged as CSV parts.

The container writes ``model.tar.gz`` with a TensorFlow Serving SavedModel in ``1/`` and the
saved detector in ``anomark/``; :meth:`SageMakerConvAEEngine.fit` downloads the latter, so the
trained detector can score locally too. Remote scoring goes through a TensorFlow Serving
endpoint: scaled windows as ``{"instances": [...]}`` in requests under the payload limit,
reconstructions back as ``{"predictions": [...]}``, and the reconstruction error is computed
client-side by :class:`~anomark.scoring.ReconstructionScorer`, as locally. Endpoints are torn
down as for Random Cut Forest.
"""

from __future__ import annotations

import gzip
import io
import itertools
import json
import logging
import math
import re
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from anomark._s3 import split_s3_uri
from anomark.errors import (
    ConfigurationError,
    DataError,
    NotFittedError,
    PersistenceError,
    RemoteJobError,
)
from anomark.sagemaker.config import SageMakerConfig
from anomark.sagemaker.endpoints import (
    EndpointEngine,
    TFServingCodec,
    check_engine_state,
)
from anomark.sagemaker.jobs import (
    client_error_message,
    create_training_job,
    default_timeout,
    endpoint_waiter,
    make_name,
    training_waiter,
    wait_for_status,
)
from anomark.sagemaker.staging import stage_blobs
from anomark.threshold import Threshold

if TYPE_CHECKING:  # pragma: no cover
    from anomark.dataset import DataLike
    from anomark.detectors.conv_autoencoder import ConvAutoencoderDetector

__all__ = [
    "FRAMEWORK_VERSION",
    "PY_VERSION",
    "SageMakerConvAEEngine",
    "build_source_tarball",
    "detector_from_engine",
    "fit_on_sagemaker",
    "hyperparameters_for",
    "params_from_hyperparameters",
    "runtime_requirements",
    "score_on_sagemaker",
    "threshold_text",
]

logger = logging.getLogger("anomark.sagemaker")

#: Newest TensorFlow with both a SageMaker training and an inference (TF Serving) image.
FRAMEWORK_VERSION = "2.19"
#: Python of the 2.19 training image (the only one ``image_uris.retrieve`` accepts for it).
PY_VERSION = "py312"
#: Name of the source tarball object.
SOURCE_TARBALL = "sourcedir.tar.gz"
#: The channel the entry script reads (``SM_CHANNEL_TRAINING``).
CHANNEL = "training"
#: Folder of the saved detector and version folder of the SavedModel inside ``model.tar.gz``.
STATE_DIR = "anomark"
SAVED_MODEL_VERSION = "1"
#: Target size of one staged CSV part.
CSV_PART_BYTES = 128 * 2**20
#: Third-party distributions the entry script imports (their bounds come from anomark's metadata).
_ENTRY_REQUIREMENTS = ("numpy", "pandas", "scikit-learn", "tqdm")
_FALLBACK_REQUIREMENTS = ("numpy>=1.26", "pandas>=2.1", "scikit-learn>=1.5", "tqdm>=4.66")
#: Detector parameters sent as hyperparameters (parameter → ``--argument`` of the entry script).
_PARAM_ARGS = {
    "window_size": "window-size",
    "epochs": "epochs",
    "batch_size": "batch-size",
    "random_state": "random-state",
    "filters": "filters",
    "kernel_size": "kernel-size",
    "learning_rate": "learning-rate",
    "dropout": "dropout",
    "validation_split": "validation-split",
    "patience": "patience",
    "restore_best_weights": "restore-best-weights",
    "scaling": "scaling",
    "precision": "precision",
    "stride": "stride",
    "deterministic": "deterministic",
    "threshold": "threshold",
}
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
}
_NAME_RE = re.compile(r"[A-Za-z0-9._-]+")

#: File name of the training entry script in the source tarball (``sagemaker_program``).
CONV_AUTOENCODER_SCRIPT = "train_entry.py"


def entry_point_path() -> Path:
    """Absolute path of the training entry script shipped inside the package."""
    return Path(__file__).resolve().parent / CONV_AUTOENCODER_SCRIPT


# ---------------------------------------------------------------------------- source tarball
def runtime_requirements() -> list[str]:
    """``requirements.txt`` lines: anomark's own bounds for what the entry script imports."""
    try:
        declared = metadata.requires("anomark") or []
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return list(_FALLBACK_REQUIREMENTS)
    out = []
    for req in declared:
        if ";" in req:  # extras and environment markers: not needed in the container
            continue
        name = re.split(r"[<>=!~\[ (]", req, maxsplit=1)[0].strip().lower().replace("_", "-")
        if name in _ENTRY_REQUIREMENTS:
            out.append(req.strip())
    found = {re.split(r"[<>=!~\[ (]", r, maxsplit=1)[0].lower() for r in out}
    out += [r for r in _FALLBACK_REQUIREMENTS if r.split(">=")[0] not in found]
    return sorted(out)


def _package_files() -> list[tuple[str, Path]]:
    """``(arcname, path)`` of every ``.py`` / ``py.typed`` file of the installed package."""
    import anomark

    root = Path(anomark.__file__).resolve().parent
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if "__pycache__" in rel.parts or not path.is_file():
            continue
        if path.suffix == ".py" or path.name == "py.typed":
            files.append((f"anomark/{rel.as_posix()}", path))
    return files


def build_source_tarball(*, requirements: bool = True) -> bytes:
    """The ``sagemaker_submit_directory`` archive: entry script, ``anomark/``, requirements.

    The archive is byte-for-byte reproducible (sorted members, zero timestamps and owners), so
    staging it under its content hash uploads it only when the package changed.

    Parameters
    ----------
    requirements : bool, default True
        Include ``requirements.txt`` (see :func:`runtime_requirements`), which the training
        container installs with pip before running the script.

    Returns
    -------
    bytes
        A gzip-compressed tar archive.
    """
    members: list[tuple[str, bytes]] = [
        (CONV_AUTOENCODER_SCRIPT, entry_point_path().read_bytes())
    ]
    members += [(name, path.read_bytes()) for name, path in _package_files()]
    if requirements:
        members.append(("requirements.txt", ("\n".join(runtime_requirements()) + "\n").encode()))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(members):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def hyperparameters_for(params: Mapping[str, Any]) -> dict[str, str]:
    """The entry script's ``--name value`` hyperparameters for detector ``params``.

    Values are JSON-encoded strings, as the SageMaker SDK sends them (the container decodes
    them before building the command line); ``None`` values are left out (the script's
    default is ``None`` for those).
    """
    out: dict[str, str] = {}
    for param, arg in _PARAM_ARGS.items():
        if param not in params or params[param] is None:
            continue
        value = params[param]
        if param == "filters":
            value = ",".join(str(int(f)) for f in value)
        elif param == "threshold":
            value = threshold_text(value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, np.integer | np.floating):
            value = value.item()
        out[arg] = json.dumps(value)
    return out


def params_from_hyperparameters(hyperparameters: Mapping[str, str]) -> dict[str, Any]:
    """Inverse of :func:`hyperparameters_for` (framework ``sagemaker_*`` entries are skipped)."""
    args = {arg: param for param, arg in _PARAM_ARGS.items()}
    out: dict[str, Any] = {}
    for key, raw in hyperparameters.items():
        if key not in args:
            continue
        value = _json_hp(raw)
        param = args[key]
        if param == "filters" and isinstance(value, str):
            value = tuple(int(f) for f in value.split(",") if f.strip())
        elif param == "threshold" and isinstance(value, str):
            value = Threshold.parse(value)
        elif isinstance(value, str) and value in ("true", "false"):
            value = value == "true"
        out[param] = value
    return out


def threshold_text(threshold: Any) -> str:
    """A threshold rule as hyperparameter text (``str(threshold)``, e.g. ``"quantile:0.99"``).

    Raises
    ------
    ConfigurationError
        When ``threshold`` is not a :class:`~anomark.threshold.Threshold`.
    """
    if not isinstance(threshold, Threshold):
        raise ConfigurationError(
            f"threshold must be a Threshold (e.g. Threshold.quantile(0.99)), got {threshold!r}"
        )
    return str(threshold)


def _json_hp(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


# ---------------------------------------------------------------------------- engine
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
        Ship ``requirements.txt`` in the source tarball (see :func:`build_source_tarball`).
    sleep : callable, default time.sleep
        Used between status polls and for retry backoff (tests pass a no-op).

    Attributes
    ----------
    training_job_name, model_data, train_s3_uri, source_s3_uri : str or None
        Set by :meth:`fit` / :meth:`attach`.
    endpoint_name : str or None
        An existing endpoint used for scoring (:meth:`from_endpoint`); never deleted by us.
    detector : ConvAutoencoderDetector
        The detector trained in the container, loaded from the artefact (downloaded on first
        use): scaling statistics, windowing, threshold and Keras model, for local scoring.

    Examples
    --------
    Not run here (needs AWS)::

        engine = SageMakerConvAEEngine(cfg, {"window_size": 48, "epochs": 10, "random_state": 0})
        engine.fit("s3://my-bucket/sensors/daily/")      # or a Dataset / DataFrame
        local = engine.detector.score(frame)             # scores on this machine
        with engine.endpoint():                          # one TF Serving endpoint
            remote = engine.score_values(frame.to_numpy())
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
    ) -> None:
        super().__init__(config, sleep=sleep)
        self.params: dict[str, Any] = {
            k: v for k, v in dict(params or {}).items() if k in _PARAM_ARGS
        }
        self.framework_version = framework_version
        self.py_version = py_version
        self.serving_image = serving_image
        self.requirements = requirements
        self.training_image: str | None = None
        self.source_s3_uri: str | None = None
        self._detector: ConvAutoencoderDetector | None = None

    def __repr__(self) -> str:
        return (
            f"SageMakerConvAEEngine(job={self.training_job_name!r}, "
            f"endpoint={self.endpoint_name!r}, params={self.params!r})"
        )

    # ------------------------------------------------------------------ plumbing
    def _validate_config(self) -> None:
        self.config.validate(accelerated_ok=True)

    def _check_params(self) -> ConvAutoencoderDetector:
        from anomark.detectors.conv_autoencoder import ConvAutoencoderDetector

        self._validate_config()
        self.config.resolved_region()
        try:
            detector = ConvAutoencoderDetector(**self.params)
        except TypeError as exc:
            raise ConfigurationError(f"invalid autoencoder parameters: {exc}") from None
        detector._validate_params()
        return detector

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

    def _serving_image(self) -> str:
        if self.serving_image is None:
            self.serving_image = self.config.retrieve_image(
                "tensorflow",
                label=f"TensorFlow {self.framework_version} Serving",
                version=self.framework_version,
                image_scope="inference",
                instance_type=self.config.inference_instance_type,
            )
        return self.serving_image

    def _codec(self) -> TFServingCodec:
        det = self.detector
        return TFServingCodec((int(det.window_size), int(det.n_features_in_), 1))

    def hyperparameters(self, source_s3_uri: str, job_name: str) -> dict[str, str]:
        """The training job's hyperparameters: the detector's and the framework's ones.

        Like the SageMaker SDK's TensorFlow estimator, ``model_dir`` is an S3 location
        (``<prefix>/models/<job>/model``): the container's toolkit reads it to configure TF's
        S3 region and passes it on as ``--model_dir``, which the entry script ignores (it
        writes to ``SM_MODEL_DIR``).
        """
        hp = hyperparameters_for(self.params)
        hp.update(
            {
                "sagemaker_program": json.dumps(CONV_AUTOENCODER_SCRIPT),
                "sagemaker_submit_directory": json.dumps(source_s3_uri),
                "sagemaker_region": json.dumps(self.config.resolved_region()),
                "sagemaker_container_log_level": json.dumps(20),
                "model_dir": json.dumps(f"{self.config.s3_root}/models/{job_name}/model"),
            }
        )
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

        A series without timestamps gets one per second from 2000-01-01 (only the order of the
        rows matters for training).
        """
        import pandas as pd

        from anomark.dataset import Dataset

        ds = Dataset.from_any(data)
        frame = ds.frame.copy()
        if not isinstance(frame.index, pd.DatetimeIndex):
            frame.index = pd.date_range("2000-01-01", periods=len(frame), freq="s")
        frame.index.name = "timestamp"
        frame.columns = [str(c) for c in frame.columns]
        sample = frame.iloc[: min(len(frame), 200)].to_csv().encode()
        est = len(sample) * len(frame) / max(1, min(len(frame), 200))
        n_parts = max(1, math.ceil(est / CSV_PART_BYTES))
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

    def fit(self, data: DataLike | str) -> SageMakerConvAEEngine:
        """Train in the TensorFlow container; returns ``self`` once the artefact is loaded.

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
            Unusable in-memory data.
        RemoteJobError
            The job was refused, failed (with AWS's reason, e.g. the script's own message),
            was stopped or timed out, or its artefact cannot be read.
        """
        self._check_params()
        if isinstance(data, str):
            split_s3_uri(data)
            train_uri = data if data.endswith((".csv", ".gz", "/")) else data + "/"
        else:
            train_uri = self.stage_data(data)
        image = self._training_image()
        source = self.stage_source()
        name = make_name(self.config, "cae")
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
            distribution="FullyReplicated",
            metric_definitions=_METRICS,
        )
        if int(self.config.instance_count) > 1:
            logger.warning(
                "the autoencoder trains on one instance; the other %d only start and stop",
                int(self.config.instance_count) - 1,
            )
        self.training_job_name = name
        self.train_s3_uri = train_uri
        self.source_s3_uri = source
        self.model_data = None
        self._detector = None
        logger.info("training job %s started on %s", name, train_uri)
        desc = wait_for_status(
            training_waiter(self._client("sagemaker"), name),
            name,
            poll_interval=float(self.config.poll_interval),
            timeout=default_timeout(self.config),
            sleep=self._sleep,
            progress=self.config.progress,
        )
        self.model_data = _model_data(desc, name)
        self.load_artifact()
        return self

    # ------------------------------------------------------------------ artefact
    @property
    def detector(self) -> ConvAutoencoderDetector:
        """The detector trained in the container (the artefact is downloaded on first use)."""
        if self._detector is None:
            self.load_artifact()
        assert self._detector is not None
        return self._detector

    def load_artifact(self) -> ConvAutoencoderDetector:
        """Download ``model.tar.gz`` and load the saved detector in its ``anomark/`` folder.

        Raises
        ------
        NotFittedError
            No model artefact is known.
        RemoteJobError
            The artefact cannot be downloaded or holds no loadable detector.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        from anomark.detectors.base import Detector
        from anomark.detectors.conv_autoencoder import ConvAutoencoderDetector

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
        with tempfile.TemporaryDirectory(prefix="anomark-artifact-") as tmp:
            _extract_state(body, Path(tmp), self.model_data)
            try:
                detector = Detector.load(Path(tmp) / STATE_DIR)
            except (PersistenceError, OSError, ValueError) as exc:
                raise RemoteJobError(
                    f"model artefact {self.model_data} holds no loadable detector: {exc}"
                ) from None
        if not isinstance(detector, ConvAutoencoderDetector):
            raise RemoteJobError(
                f"model artefact {self.model_data} holds a {type(detector).__name__}, "
                "not a ConvAutoencoderDetector"
            )
        self._detector = detector
        return detector

    # ------------------------------------------------------------------ reuse
    @classmethod
    def attach(
        cls,
        training_job_name: str,
        config: SageMakerConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> SageMakerConvAEEngine:
        """Reuse an autoencoder training job (waits for it if still running); loads its artefact.

        Raises
        ------
        RemoteJobError
            Unknown job, a job that failed or was stopped, or not trained by anomark's entry
            script.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        engine = cls(config, sleep=sleep)
        engine._validate_config()
        sm = engine._client("sagemaker")
        try:
            desc = sm.describe_training_job(TrainingJobName=training_job_name)
        except (ClientError, BotoCoreError) as exc:
            raise RemoteJobError(
                f"cannot attach to training job {training_job_name!r}: {client_error_message(exc)}"
            ) from None
        hp = desc.get("HyperParameters", {})
        program = _json_hp(hp.get("sagemaker_program"))
        if program != CONV_AUTOENCODER_SCRIPT:
            raise RemoteJobError(
                f"training job {training_job_name} did not run anomark's autoencoder entry "
                f"script (sagemaker_program={program!r})"
            )
        if desc.get("TrainingJobStatus") != "Completed":
            desc = wait_for_status(
                training_waiter(sm, training_job_name),
                training_job_name,
                poll_interval=float(config.poll_interval),
                timeout=default_timeout(config),
                sleep=sleep,
                progress=config.progress,
            )
        engine.params = params_from_hyperparameters(hp)
        engine.training_job_name = training_job_name
        engine.training_image = desc.get("AlgorithmSpecification", {}).get("TrainingImage")
        engine.source_s3_uri = _json_hp(hp.get("sagemaker_submit_directory"))
        channels = desc.get("InputDataConfig") or [{}]
        engine.train_s3_uri = channels[0].get("DataSource", {}).get("S3DataSource", {}).get("S3Uri")
        engine.model_data = _model_data(desc, training_job_name)
        engine.load_artifact()
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

        The scaling statistics and window geometry come from the endpoint's model artefact,
        found through endpoint → endpoint config → model (or given as ``model_data``).

        Raises
        ------
        RemoteJobError
            The endpoint is not InService or its model artefact cannot be found or loaded.
        """
        from botocore.exceptions import BotoCoreError, ClientError

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
        if model_data is None:
            try:
                epc_name = sm.describe_endpoint(EndpointName=name)["EndpointConfigName"]
                variants = sm.describe_endpoint_config(EndpointConfigName=epc_name)[
                    "ProductionVariants"
                ]
                model = sm.describe_model(ModelName=variants[0]["ModelName"])
                model_data = model["PrimaryContainer"]["ModelDataUrl"]
            except (ClientError, BotoCoreError) as exc:
                raise RemoteJobError(
                    f"cannot find the model artefact of endpoint {name}: "
                    f"{client_error_message(exc)}"
                ) from None
            except (KeyError, IndexError) as exc:
                raise RemoteJobError(
                    f"endpoint {name} has no model artefact to load scaling from ({exc})"
                ) from None
        engine.model_data = model_data
        engine.endpoint_name = name
        engine.load_artifact()
        return engine

    # ------------------------------------------------------------------ scoring
    def resolve_scoring(self) -> str:
        """``"endpoint"`` or ``"local"``: where a detector scores with this engine.

        An open (:meth:`endpoint`) or attached (:meth:`from_endpoint`) endpoint, or
        ``config.scoring="endpoint"``, means TF Serving; otherwise (``"auto"``) the model
        downloaded from the artefact scores on this machine, with identical numbers and no
        endpoint to pay for. ``"batch"`` is refused (no batch transform for the autoencoder).
        """
        if self._active is not None or self.endpoint_name is not None:
            return "endpoint"
        if self.config.scoring == "batch":
            raise ConfigurationError(
                "the autoencoder scores through a TF Serving endpoint (scoring='endpoint' or "
                "'auto'), or locally with engine.detector; batch transform is not offered"
            )
        return "endpoint" if self.config.scoring == "endpoint" else "local"

    def score(self, windows: np.ndarray) -> np.ndarray:
        """Reconstructions of already *scaled* windows by the served model.

        Uses the open endpoint inside :meth:`endpoint`, the attached endpoint after
        :meth:`from_endpoint`, else a temporary endpoint deleted afterwards (also on errors)
        unless ``keep_endpoint=True``.

        Parameters
        ----------
        windows : numpy.ndarray
            ``(k, window_size, n_features)`` (or with a trailing axis of 1), scaled as in
            training (``detector.scaler_.transform``).

        Returns
        -------
        numpy.ndarray
            float32 ``(k, window_size, n_features, 1)``, in order.

        Raises
        ------
        ConfigurationError
            ``config.scoring="batch"``: batch transform is not offered for the autoencoder.
        """
        self._require_fitted()
        self._validate_config()
        self.resolve_scoring()  # refuses scoring="batch"
        with self.endpoint() as ep:
            return ep.score(windows)

    def window_errors(self, windows: np.ndarray, *, per_feature: bool = False) -> np.ndarray:
        """Mean squared reconstruction error of raw windows, reconstructed remotely.

        The windows are scaled with the trained scaler, reconstructed by the endpoint (in
        payload-bounded requests) and compared client-side with
        :class:`~anomark.scoring.ReconstructionScorer`, exactly as the local detector does.

        Parameters
        ----------
        windows : numpy.ndarray
            ``(k, window_size, n_features)`` in original units.
        per_feature : bool, default False
            One error per window and column.

        Returns
        -------
        numpy.ndarray
            ``(k,)`` or ``(k, n_features)``.
        """
        from anomark.scoring import ReconstructionScorer

        det = self.detector
        shape = (int(det.window_size), int(det.n_features_in_))
        arr = np.asarray(windows)
        if arr.ndim != 3 or arr.shape[1:] != shape:
            raise DataError(
                f"expected windows of shape (k, {shape[0]}, {shape[1]}), got {arr.shape}"
            )
        scaled = det.scaler_.transform(arr)
        reconstructed = self.score(scaled)[..., 0]
        return ReconstructionScorer("mse", per_feature=per_feature).score(scaled, reconstructed)

    def score_values(self, values: np.ndarray) -> np.ndarray:
        """One score per row of ``values`` (time x features), as the detector's ``score``.

        Windows (``window_size``, ``stride`` of the trained detector) are scored remotely with
        :meth:`window_errors` and credited to their last row with
        :meth:`Windowing.to_points <anomark.windowing.Windowing.to_points>`.
        """
        from anomark.detectors.conv_autoencoder.source import ArrayWindowSource
        from anomark.windowing import Windowing

        det = self.detector
        source = ArrayWindowSource(np.asarray(values), int(det.window_size), int(det.stride))
        if source.n_features != int(det.n_features_in_):
            raise DataError(
                f"values have {source.n_features} columns, the model was trained on "
                f"{det.n_features_in_}"
            )
        if source.n_rows < int(det.window_size):
            raise DataError(
                f"need at least window_size={det.window_size} rows to score, got {source.n_rows}"
            )
        starts = source.window_starts()
        step = max(1, 2**22 // (int(det.window_size) * source.n_features))
        with self.endpoint():
            errors = np.concatenate(
                [
                    self.window_errors(source.read_windows(starts[a : a + step]))
                    for a in range(0, len(starts), step)
                ]
            )
        return Windowing(int(det.window_size), int(det.stride)).to_points(errors, source.n_rows)

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
        }

    @classmethod
    def from_state(
        cls,
        config: SageMakerConfig,
        state: Mapping[str, Any],
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> SageMakerConvAEEngine:
        """Inverse of :meth:`to_state`; the artefact is downloaded again on first use.

        Raises
        ------
        ConfigurationError
            Unknown keys or values of the wrong type.
        """
        state = check_engine_state(state, _STATE_KEYS, objects=("params",))
        model_data = state.get("model_data")
        params = dict(state.get("params") or {})
        if isinstance(params.get("threshold"), str):
            params["threshold"] = Threshold.parse(params["threshold"])
        engine = cls(
            config,
            params,
            framework_version=state.get("framework_version") or FRAMEWORK_VERSION,
            py_version=state.get("py_version") or PY_VERSION,
            serving_image=state.get("serving_image"),
            sleep=sleep,
        )
        engine.training_job_name = state.get("training_job_name")
        engine.model_data = model_data
        engine.training_image = state.get("training_image")
        engine.endpoint_name = state.get("endpoint_name")
        engine.train_s3_uri = state.get("train_s3_uri")
        engine.source_s3_uri = state.get("source_s3_uri")
        return engine


# ---------------------------------------------------------------------------- detector glue
_FITTED_ATTRS = ("model_", "scaler_", "history_")
_DATA_ATTRS = ("n_features_in_", "feature_names_in_", "_fitted_with_names_", "threshold_")


def fit_on_sagemaker(
    detector: ConvAutoencoderDetector,
    data: DataLike | str,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> SageMakerConvAEEngine:
    """Train ``detector`` on SageMaker and give it the trained model; return the engine.

    Sets ``detector.model_``, ``scaler_``, ``history_`` and ``engine_`` from the detector the
    container trained (so local scoring and saving work as after a local fit). When ``data`` is
    an ``s3://`` prefix (never seen locally), also ``n_features_in_``, ``feature_names_in_``
    and ``threshold_``, which the container fitted on the training scores exactly as a local
    ``fit_files`` does.

    Parameters
    ----------
    detector : ConvAutoencoderDetector
        Its ``get_params()`` are the hyperparameters; its ``sagemaker`` parameter (or
        attribute) is the :class:`SageMakerConfig`.
    data : str or Dataset, DataFrame, Series, array
        ``s3://bucket/prefix/`` of CSV files, or in-memory data (staged as CSV).
    """
    config = getattr(detector, "sagemaker", None)
    if not isinstance(config, SageMakerConfig):
        raise ConfigurationError(
            f"the detector's sagemaker setting must be a SageMakerConfig, got {config!r}"
        )
    engine = SageMakerConvAEEngine(config, detector.get_params(), sleep=sleep).fit(data)
    trained = engine.detector
    for attr in _FITTED_ATTRS + (_DATA_ATTRS if isinstance(data, str) else ()):
        setattr(detector, attr, getattr(trained, attr))
    detector.engine_ = engine
    return engine


def score_on_sagemaker(detector: ConvAutoencoderDetector, values: np.ndarray) -> np.ndarray:
    """One score per row of ``values`` through the detector's engine's TF Serving endpoint.

    Uses the open or attached endpoint, else a temporary one (deleted afterwards, also on
    errors, unless ``keep_endpoint=True``). The numbers equal the detector's local scores up
    to float32 rounding of the server's arithmetic.
    """
    engine = getattr(detector, "engine_", None)
    if not isinstance(engine, SageMakerConvAEEngine):
        raise NotFittedError("the detector was not fitted on SageMaker (no engine_)")
    return engine.score_values(values)


def detector_from_engine(
    engine: SageMakerConvAEEngine, config: SageMakerConfig | None = None
) -> ConvAutoencoderDetector:
    """The fitted detector of an attached engine (``attach`` / ``from_endpoint``).

    It is the detector the container saved (model, scaling, threshold), with ``engine_`` set
    and, when the class has a ``sagemaker`` parameter, ``sagemaker=config``.
    """
    detector = engine.detector
    if config is not None and "sagemaker" in detector.get_params():
        detector.set_params(sagemaker=config)
    detector.engine_ = engine
    return detector


def _model_data(desc: Mapping[str, Any], name: str) -> str:
    uri = desc.get("ModelArtifacts", {}).get("S3ModelArtifacts")
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise RemoteJobError(f"training job {name} completed without a model artefact: {uri!r}")
    return uri


def _extract_state(body: bytes, dest: Path, where: str) -> None:
    """Extract the ``anomark/`` folder of a ``model.tar.gz`` safely (regular files only)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as tar:
            found = False
            for member in _state_members(tar):
                found = True
                target = dest / member.name
                target.parent.mkdir(parents=True, exist_ok=True)
                handle = tar.extractfile(member)
                assert handle is not None
                target.write_bytes(handle.read())
    except tarfile.TarError as exc:
        raise RemoteJobError(
            f"model artefact {where} is not a readable tar archive: {exc}"
        ) from None
    if not found:
        raise RemoteJobError(
            f"model artefact {where} has no {STATE_DIR}/ folder: it was not written by "
            "anomark's entry script"
        )


def _state_members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    for member in tar.getmembers():
        name = member.name.removeprefix("./")
        parts = name.split("/")
        if len(parts) != 2 or parts[0] != STATE_DIR or not member.isfile():
            continue  # the SavedModel, links, nested or foreign paths: not needed here
        if not _NAME_RE.fullmatch(parts[1]):
            continue
        member.name = name
        yield member

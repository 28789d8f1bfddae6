"""What the autoencoder's SageMaker containers see: code, hyperparameters and the artefact layout.

This module is the contract between the client (:mod:`.sagemaker`, the engine) and the code
that runs in SageMaker's TensorFlow containers (:mod:`.train_entry`, the entry script, and the
TensorFlow Serving SavedModel it exports). It imports neither TensorFlow nor the detector:

* the **source tarball** (``sagemaker_submit_directory``): the entry script, a copy of this
  anomark package and ``requirements.txt`` (:func:`build_source_tarball`);
* the **hyperparameters**: detector parameters as the entry script's ``--name value`` arguments,
  and back (:func:`hyperparameters_for`, :func:`params_from_hyperparameters`), checked against
  :data:`PARAMETER_CONSTRAINTS` (the detector declares the same table);
* the **artefact** ``model.tar.gz``: ``1/`` (TensorFlow Serving SavedModel with the signatures
  named below) and ``anomark/`` (the saved detector), extracted safely by
  :func:`extract_state`.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import re
import tarfile
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from anomark._validation import (
    Constraint,
    Interval,
    IntSequence,
    Options,
    validate_params,
)
from anomark.errors import ConfigurationError, DataError, RemoteJobError
from anomark.threshold import Threshold

if TYPE_CHECKING:  # pragma: no cover
    from anomark.detectors.conv_autoencoder.source import WindowSource

__all__ = [
    "CHANNEL",
    "ENTRY_SCRIPT",
    "FEATURE_SCORES_SIGNATURE",
    "FRAMEWORK_VERSION",
    "MWMS_HYPERPARAMETER",
    "PARAMETER_CONSTRAINTS",
    "PY_VERSION",
    "ROWS_SIGNATURE",
    "SAVED_MODEL_VERSION",
    "SCORE_SIGNATURE",
    "SOURCE_TARBALL",
    "STATE_DIR",
    "build_source_tarball",
    "check_params",
    "entry_point_path",
    "extract_state",
    "hyperparameters_for",
    "json_hyperparameter",
    "params_from_hyperparameters",
    "RowsCodec",
    "read_score_lines",
    "rows_records",
    "runtime_requirements",
    "threshold_text",
]

#: Newest TensorFlow with both a SageMaker training and an inference (TF Serving) image.
FRAMEWORK_VERSION = "2.19"
#: Python of the 2.19 training image (the only one ``image_uris.retrieve`` accepts for it).
PY_VERSION = "py312"
#: File name of the training entry script in the source tarball (``sagemaker_program``).
ENTRY_SCRIPT = "train_entry.py"
#: Name of the source tarball object.
SOURCE_TARBALL = "sourcedir.tar.gz"
#: The channel the entry script reads (``SM_CHANNEL_TRAINING``).
CHANNEL = "training"
#: Folder of the saved detector and version folder of the SavedModel inside ``model.tar.gz``.
STATE_DIR = "anomark"
SAVED_MODEL_VERSION = "1"
#: Serving signatures of the SavedModel (``serving_default`` is the reconstruction).
SCORE_SIGNATURE = "score"
FEATURE_SCORES_SIGNATURE = "feature_scores"
ROWS_SIGNATURE = "score_rows"
#: The hyperparameter SageMaker's TensorFlow toolkit reads to set ``TF_CONFIG`` for
#: ``tf.distribute.MultiWorkerMirroredStrategy`` (what the SDK sends for
#: ``distribution={"multi_worker_mirrored_strategy": {"enabled": True}}``).
MWMS_HYPERPARAMETER = "sagemaker_multi_worker_mirrored_strategy_enabled"

#: Third-party distributions the entry script imports (their bounds come from anomark's metadata).
_ENTRY_REQUIREMENTS = ("numpy", "pandas", "scikit-learn", "tqdm")
_FALLBACK_REQUIREMENTS = ("numpy>=1.26", "pandas>=2.1", "scikit-learn>=1.5", "tqdm>=4.66")
_NAME_RE = re.compile(r"[A-Za-z0-9._-]+")
#: Window values (windows x window_size x columns x widest filter) one ``score_rows`` record
#: may make the served graph hold at once: bounds the serving container's memory per request.
RECORD_ACTIVATIONS = 2**25

#: The autoencoder's parameters as the entry script accepts them; the detector's own
#: ``_parameter_constraints`` table is built from it (one home for these ranges).
PARAMETER_CONSTRAINTS: dict[str, list[Constraint]] = {
    "window_size": [Interval(int, 1, None)],
    "epochs": [Interval(int, 1, None)],
    "batch_size": [Interval(int, 1, None)],
    "random_state": [Interval(int, 0, 2**32 - 1), None],
    "filters": [IntSequence(Interval(int, 1, 4096), 8)],
    "kernel_size": [Interval(int, 1, 64)],
    "learning_rate": [Interval(float, 0.0, None, closed="neither")],
    "dropout": [Interval(float, 0.0, 1.0, closed="left")],
    "validation_split": [Interval(float, 0.0, 1.0, closed="left")],
    "patience": [Interval(int, 0, None), None],
    "restore_best_weights": [Options(True, False)],
    "scaling": [Options("minmax", "maxabs", "standard")],
    "precision": [Options("float32", "mixed_bfloat16")],
    "stride": [Interval(int, 1, None)],
    "deterministic": [Options(True, False)],
}

#: Detector parameters sent as hyperparameters (parameter → ``--argument`` of the entry script).
PARAM_ARGS = {
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


def entry_point_path() -> Path:
    """Absolute path of the training entry script shipped inside the package."""
    return Path(__file__).resolve().parent / ENTRY_SCRIPT


# ---------------------------------------------------------------------------- parameters
def check_params(params: Mapping[str, Any], owner: str = "ConvAutoencoderDetector") -> None:
    """Check autoencoder parameters against :data:`PARAMETER_CONSTRAINTS` (and the threshold).

    Raises
    ------
    ConfigurationError
        Naming the first invalid parameter.
    """
    validate_params(PARAMETER_CONSTRAINTS, params, owner)
    threshold = params.get("threshold")
    if threshold is not None and not isinstance(threshold, Threshold):
        raise ConfigurationError(
            f"{owner}: threshold must be a Threshold (e.g. Threshold.quantile(0.99)), "
            f"got {threshold!r}"
        )


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


def json_hyperparameter(value: str | None) -> Any:
    """A hyperparameter value as the container decodes it (JSON, else the text itself)."""
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def hyperparameters_for(params: Mapping[str, Any]) -> dict[str, str]:
    """The entry script's ``--name value`` hyperparameters for detector ``params``.

    Values are JSON-encoded strings, as the SageMaker SDK sends them (the container decodes
    them before building the command line); ``None`` values are left out (the script's
    default is ``None`` for those).
    """
    out: dict[str, str] = {}
    for param, arg in PARAM_ARGS.items():
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
    args = {arg: param for param, arg in PARAM_ARGS.items()}
    out: dict[str, Any] = {}
    for key, raw in hyperparameters.items():
        if key not in args:
            continue
        value = json_hyperparameter(raw)
        param = args[key]
        if param == "filters" and isinstance(value, str):
            value = tuple(int(f) for f in value.split(",") if f.strip())
        elif param == "threshold" and isinstance(value, str):
            value = Threshold.parse(value)
        elif isinstance(value, str) and value in ("true", "false"):
            value = value == "true"
        out[param] = value
    return out


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
    members: list[tuple[str, bytes]] = [(ENTRY_SCRIPT, entry_point_path().read_bytes())]
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


# ---------------------------------------------------------------------------- artefact
def extract_state(body: bytes, dest: Path, where: str) -> Path:
    """Extract the ``anomark/`` folder of a ``model.tar.gz`` safely into ``dest``.

    Only regular files directly inside ``anomark/`` with plain names are written (the
    SavedModel, links, nested or foreign paths are skipped), so a hostile archive cannot write
    outside ``dest``.

    Returns
    -------
    pathlib.Path
        ``dest / "anomark"``, a saved detector folder.

    Raises
    ------
    RemoteJobError
        Not a readable tar archive, or no ``anomark/`` folder in it.
    """
    found = False
    try:
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as tar:
            for member in _state_members(tar):
                found = True
                target = dest / member.name
                target.parent.mkdir(parents=True, exist_ok=True)
                handle = tar.extractfile(member)
                assert handle is not None
                target.write_bytes(handle.read())
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise RemoteJobError(
            f"model artefact {where} is not a readable tar archive: {exc}"
        ) from None
    if not found:
        raise RemoteJobError(
            f"model artefact {where} has no {STATE_DIR}/ folder: it was not written by "
            "anomark's entry script"
        )
    return dest / STATE_DIR


def _state_members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    for member in tar.getmembers():
        name = member.name.removeprefix("./")
        parts = name.split("/")
        if len(parts) != 2 or parts[0] != STATE_DIR or not member.isfile():
            continue  # the SavedModel, links, nested or foreign paths: not needed here
        if not _NAME_RE.fullmatch(parts[1]) or parts[1] in (".", ".."):
            continue
        member.name = name
        yield member


# ---------------------------------------------------------------------------- batch records
class RowsCodec:
    """Requests for the ``score_rows`` signature: the raw rows of consecutive windows.

    A :class:`~anomark.sagemaker.codecs.PayloadCodec` whose items are window starts of
    ``source``: a request holds the rows from its first window's start to its last window's
    end (TF Serving's columnar ``{"signature_name": "score_rows", "inputs": {"rows": ...}}``,
    17 significant digits) and the reply one error per window. Consecutive requests overlap by
    up to ``window_size - 1`` rows, so every window is scored exactly once, also across the
    source's file boundaries; at stride 1 a request carries about ``window_size`` times fewer
    bytes per window than sending the windows themselves. Requests stay under ``max_bytes`` and
    under :data:`RECORD_ACTIVATIONS` of model activations (the serving container's memory).

    Parameters
    ----------
    source : WindowSource
        Rows in original units, with the model's ``window_size`` and ``stride``.
    widest_filter : int, default 16
        The model's widest convolution (bounds the activations).
    min_requests : int, default 1
        Split into at least this many requests (one file per transform instance).
    """

    content_type = "application/json"
    accept = "application/json"
    #: Widest text of one error in a columnar reply (``%.17g`` float64, ``,``, indentation).
    _REPLY_VALUE = 24 + 2 + 8

    def __init__(self, source: WindowSource, *, widest_filter: int = 16,
                 min_requests: int = 1) -> None:
        self.source = source
        self.widest_filter = max(1, int(widest_filter))
        self.min_requests = max(1, int(min_requests))

    def prepare(self, data: Any) -> np.ndarray:
        starts = np.asarray(data, dtype=np.int64)
        if starts.ndim != 1 or starts.size == 0:
            raise DataError(f"expected a non-empty list of window starts, got shape {starts.shape}")
        return starts

    def encode(self, starts: np.ndarray) -> bytes:
        from anomark.sagemaker.codecs import encode_columnar_request

        w = self.source.window_size
        rows = self.source.read_rows(int(starts[0]), int(starts[-1]) + w)
        return encode_columnar_request(rows, ROWS_SIGNATURE, "rows")

    def requests(self, starts: np.ndarray, max_bytes: int) -> Iterator[tuple[int, int, bytes]]:
        w, f = self.source.window_size, self.source.n_features
        cap = max(1, RECORD_ACTIVATIONS // (w * f * self.widest_filter))
        cap = min(cap, max(1, math.ceil(starts.size / self.min_requests)))
        cap = min(cap, max(1, (max_bytes - 64) // self._REPLY_VALUE))
        a = 0
        while a < starts.size:
            k = min(cap, starts.size - a)
            while True:
                body = self.encode(starts[a : a + k])
                if len(body) + 1 <= max_bytes or k == 1:
                    break
                k = max(1, k // 2)
            if len(body) + 1 > max_bytes:
                raise DataError(
                    f"one window of {w} rows x {f} columns is {len(body)} bytes as a request, "
                    f"more than max_payload_bytes={max_bytes}; use smaller windows or fewer "
                    "columns"
                )
            yield a, a + k, body
            a += k

    def parse(self, body: bytes, expected: int) -> np.ndarray:
        from anomark.sagemaker.codecs import parse_predictions

        return parse_predictions(body, expected, (), dtype=np.float64)


def rows_records(
    source: WindowSource,
    starts: np.ndarray,
    *,
    max_bytes: int,
    widest_filter: int = 16,
    min_records: int = 1,
) -> Iterator[tuple[int, bytes]]:
    """Batch-transform records for the ``score_rows`` signature: ``(n_windows, JSON line)``.

    The requests of a :class:`RowsCodec` (see there), each ending with a newline so that
    ``SplitType=Line`` sends one per request; at least ``min_records`` when there are that
    many windows.

    Raises
    ------
    DataError
        When one window alone is larger than ``max_bytes`` as a request.
    """
    codec = RowsCodec(source, widest_filter=widest_filter, min_requests=min_records)
    for a, b, body in codec.requests(codec.prepare(starts), max_bytes):
        yield b - a, body + b"\n"


def read_score_lines(body: bytes, per_record: list[int], where: str) -> np.ndarray:
    """The scores in a batch-transform output: one TF Serving reply line per record, in order.

    Raises
    ------
    RemoteJobError
        Fewer or more reply lines than records (an incomplete output is never read as
        complete), or a reply that is not the expected number of finite scores.
    """
    from anomark.sagemaker.codecs import parse_predictions

    lines = [line for line in body.decode("utf-8", "replace").splitlines() if line.strip()]
    if len(lines) != len(per_record):
        raise RemoteJobError(
            f"{where} has {len(lines)} replies for {len(per_record)} records: the output is "
            "incomplete"
        )
    try:
        parts = [
            parse_predictions(line, k, (), dtype=np.float64)
            for line, k in zip(lines, per_record, strict=True)
        ]
    except RemoteJobError as exc:
        raise RemoteJobError(f"{where}: {exc}") from None
    return np.concatenate(parts) if parts else np.zeros(0)

"""SageMaker training entry script of :class:`~anomark.ConvAutoencoderDetector`.

It runs in SageMaker's TensorFlow training container (``sagemaker_program``), shipped in a
source tarball next to a copy of the ``anomark`` package, and trains with exactly the code of a
local fit: it builds a ``ConvAutoencoderDetector`` from the hyperparameters and calls its
:meth:`~anomark.ConvAutoencoderDetector.fit_files` on the CSV files of the training channel
(streamed through the ``.npy`` window cache, scaling statistics in one pass, the same model
builder, batch source and training loop). Run locally with the same files and seed, it gives
the same model.

The SageMaker contract it reads:

* ``SM_CHANNEL_TRAIN`` or ``SM_CHANNEL_TRAINING`` (or ``--train``): a folder of CSV files,
  searched recursively (``*.csv``, ``*.csv.gz``): e.g. one file per day, each with a timestamp
  column and one column per sensor.
* ``SM_MODEL_DIR`` (or ``--sm-model-dir``): where the model goes (``/opt/ml/model``).
* ``TF_CONFIG`` (set by SageMaker's TensorFlow toolkit when the job has
  ``sagemaker_multi_worker_mirrored_strategy_enabled``): with several workers, every host
  trains data-parallel (``tf.distribute.MultiWorkerMirroredStrategy``) on its own
  ``ShardedByS3Key`` shard of the files — scaling statistics and training scores are exchanged,
  gradients summed — and only the chief (worker 0) saves. Without it, ``SM_HOSTS`` /
  ``SM_CURRENT_HOST`` decide: the first host trains alone and the others exit at once.
* hyperparameters as ``--name value`` arguments: ``--window-size``, ``--epochs``,
  ``--batch-size`` and the detector's other parameters (``--random-state``, ``--filters 16,8,8``,
  ``--kernel-size``, ``--learning-rate``, ``--dropout``, ``--validation-split``, ``--patience``,
  ``--restore-best-weights``, ``--scaling``, ``--precision``, ``--stride``,
  ``--deterministic``, ``--threshold mean_std:2.0``), ``--time-column`` and
  ``--columns a,b,c``. Underscore spellings
  (``--window_size``) work too. Unknown arguments, such as the ``--model_dir s3://...`` that
  SageMaker's TensorFlow tooling adds, are logged and ignored.

What it writes under the model directory (packed by SageMaker into ``model.tar.gz``):

* ``1/`` — a TensorFlow Serving SavedModel
  (:func:`~anomark.detectors.conv_autoencoder.model.export_serving_model`): ``serving_default``
  takes ``window`` float32 ``(None, window_size, n_features, 1)`` scaled windows and returns
  their reconstructions; ``score`` / ``feature_scores`` return their reconstruction errors
  computed in the graph; ``score_rows`` takes raw rows and scales, windows and scores them.
* ``anomark/`` — the saved detector (``Detector.save``: ``config.json`` with the parameters
  and windowing, scaling statistics in ``.npz``, ``model.keras``, the fitted threshold), so the
  artefact can be loaded and scored locally with ``Detector.load``.

Exit status: 0 on success (also on non-chief hosts), 1 on bad data or parameters (the message
goes to stderr and, when ``SM_OUTPUT_DIR`` is set, to ``<SM_OUTPUT_DIR>/failure``, which
SageMaker shows as the job's ``FailureReason``), 2 on malformed arguments.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "build_parser",
    "channel_files",
    "cluster_from",
    "detector_params",
    "export_saved_model",
    "is_chief",
    "main",
    "train",
]

logger = logging.getLogger("anomark.sagemaker.entry_point")

_NONE = ("", "none", "null")


def _optional_int(text: str) -> int | None:
    if text.strip().lower() in _NONE:
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer or 'none', got {text!r}") from None


def _boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _int_list(text: str) -> list[int]:
    try:
        items = [int(x) for x in text.strip().strip("[]()").replace(" ", "").split(",") if x]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 16,8,8, got {text!r}"
        ) from None
    if not items:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return items


def _threshold(text: str) -> Any:
    if text.strip().lower() in _NONE:
        return None
    from anomark.errors import ConfigurationError
    from anomark.threshold import Threshold

    try:
        return Threshold.parse(text)
    except ConfigurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _str_list(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (hyperparameters, plus channel and model folders)."""
    parser = argparse.ArgumentParser(
        prog="train_entry.py",
        description="Train anomark's ConvAutoencoderDetector on a folder of CSV files.",
        allow_abbrev=False,
    )

    def add(name: str, **kwargs: Any) -> None:
        parser.add_argument(f"--{name}", f"--{name.replace('-', '_')}", **kwargs)

    add("window-size", type=int, default=48, help="time steps per window")
    add("epochs", type=int, default=10, help="training epochs")
    add("batch-size", type=int, default=128, help="windows per batch")
    add("random-state", type=_optional_int, default=None, help="seed, or 'none'")
    add("filters", type=_int_list, default=[16, 8, 8], help="encoder filters, e.g. 16,8,8")
    add("kernel-size", type=int, default=4)
    add("learning-rate", type=float, default=1e-3)
    add("dropout", type=float, default=0.0)
    add("validation-split", type=float, default=0.0)
    add("patience", type=_optional_int, default=None, help="early stopping, or 'none'")
    add("restore-best-weights", type=_boolean, default=True)
    add("scaling", default="minmax", help="minmax, maxabs or standard")
    add("precision", default="float32", help="float32 or mixed_bfloat16")
    add("stride", type=int, default=1)
    add("deterministic", type=_boolean, default=False)
    add("threshold", type=_threshold, default=None, help="rule 'method:number', e.g. quantile:0.99")
    add("time-column", default=None, help="timestamp column (detected when omitted)")
    add("columns", type=_str_list, default=None, help="value columns, comma-separated")
    add("workers", type=int, default=1, help="threads loading batches")
    add("cache-dir", default=None, help="folder of the CSV window cache")
    add("train", default=None, help="training data folder (default: SM_CHANNEL_TRAIN[ING])")
    add("sm-model-dir", default=None, help="output folder (default: SM_MODEL_DIR)")
    return parser


def detector_params(args: argparse.Namespace) -> dict[str, Any]:
    """``ConvAutoencoderDetector`` keyword arguments from parsed arguments."""
    from anomark.detectors.conv_autoencoder.container import PARAM_ARGS

    params = {param: getattr(args, param) for param in PARAM_ARGS}
    params["filters"] = tuple(params["filters"])
    return params


def channel_files(folder: str | os.PathLike[str]) -> list[str]:
    """CSV files (``*.csv``, ``*.csv.gz``) anywhere under ``folder``, sorted by path.

    Raises
    ------
    DataError
        When the folder does not exist or holds no CSV file.
    """
    from anomark.errors import DataError

    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"training channel folder {root} does not exist")
    files = sorted(
        str(p) for p in root.rglob("*") if p.is_file() and p.name.endswith((".csv", ".csv.gz"))
    )
    if not files:
        raise DataError(f"no CSV files (*.csv, *.csv.gz) under the training channel {root}")
    return files


def is_chief(environ: Mapping[str, str]) -> bool:
    """Whether this host saves the model: worker 0 of ``TF_CONFIG``, else the first of
    ``SM_HOSTS`` (or a single host)."""
    workers = _tf_config_workers(environ)
    if workers is not None:
        return workers[1] == 0
    hosts_text = environ.get("SM_HOSTS")
    current = environ.get("SM_CURRENT_HOST")
    if not hosts_text or not current:
        return True
    try:
        hosts = json.loads(hosts_text)
    except json.JSONDecodeError:
        hosts = [h.strip() for h in hosts_text.split(",") if h.strip()]
    return not hosts or str(hosts[0]) == current


def _tf_config_workers(environ: Mapping[str, str]) -> tuple[int, int] | None:
    """``(n_workers, index)`` from ``TF_CONFIG`` when it describes several workers."""
    from anomark.errors import ConfigurationError

    text = environ.get("TF_CONFIG")
    if not text:
        return None
    try:
        config = json.loads(text)
        workers = list(config["cluster"]["worker"])
        task = config["task"]
        index = int(task["index"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigurationError(f"TF_CONFIG is not a worker cluster description: {exc}") from None
    if len(workers) < 2:
        return None
    if task.get("type") != "worker" or not 0 <= index < len(workers):
        raise ConfigurationError(f"TF_CONFIG task {task!r} is not one of {len(workers)} workers")
    return len(workers), index


def cluster_from(environ: Mapping[str, str]) -> Any:
    """A :class:`~anomark.detectors.conv_autoencoder.training.MultiWorkerCluster` when
    ``TF_CONFIG`` describes several workers (it connects to them), else ``None``."""
    if _tf_config_workers(environ) is None:
        return None
    from anomark.detectors.conv_autoencoder.training import MultiWorkerCluster

    # the strategy reads TF_CONFIG from the process environment
    if os.environ.get("TF_CONFIG") != environ.get("TF_CONFIG"):
        os.environ["TF_CONFIG"] = str(environ["TF_CONFIG"])
    return MultiWorkerCluster()


def _resolve_dirs(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[str, Path]:
    from anomark.errors import ConfigurationError

    train_dir = args.train or environ.get("SM_CHANNEL_TRAIN") or environ.get("SM_CHANNEL_TRAINING")
    if not train_dir:
        raise ConfigurationError(
            "no training data folder: set SM_CHANNEL_TRAIN (or SM_CHANNEL_TRAINING) or --train"
        )
    model_dir = args.sm_model_dir or environ.get("SM_MODEL_DIR")
    if not model_dir:
        raise ConfigurationError("no model folder: set SM_MODEL_DIR or --sm-model-dir")
    return train_dir, Path(model_dir)


def export_saved_model(detector: Any, path: Path) -> None:
    """Write the TF Serving SavedModel of a fitted detector (reconstruction and score
    signatures, see :func:`~anomark.detectors.conv_autoencoder.model.export_serving_model`)."""
    from anomark.detectors.conv_autoencoder.model import export_serving_model

    export_serving_model(
        detector.model_,
        str(path),
        offset=detector.scaler_.offset,
        scale=detector.scaler_.scale,
        stride=int(detector.stride),
    )


def train(args: argparse.Namespace, environ: Mapping[str, str]) -> Path | None:
    """Train on the channel's CSV files; on the chief host save and export under the model dir.

    With a multi-worker ``TF_CONFIG`` every host trains (data-parallel, on its own files);
    otherwise only the first host of ``SM_HOSTS`` trains.

    Returns
    -------
    pathlib.Path or None
        The model directory written, or ``None`` on a host that does not save.
    """
    from anomark.detectors.conv_autoencoder.container import SAVED_MODEL_VERSION, STATE_DIR

    train_dir, model_dir = _resolve_dirs(args, environ)
    cluster = cluster_from(environ)
    if cluster is None and not is_chief(environ):
        logger.info(
            "host %s is not the chief of %s and the job is not data-parallel: nothing to do",
            environ.get("SM_CURRENT_HOST"),
            environ.get("SM_HOSTS"),
        )
        return None
    import anomark
    from anomark.detectors.conv_autoencoder import ConvAutoencoderDetector

    logger.info("anomark %s from %s", anomark.__version__, Path(anomark.__file__).parent)
    files = channel_files(train_dir)
    where = "" if cluster is None else f" (worker {cluster.index} of {cluster.n_workers})"
    logger.info("training on %d CSV file(s) under %s%s", len(files), train_dir, where)
    cache_dir = args.cache_dir or os.path.join(tempfile.gettempdir(), "anomark-windows")
    detector = ConvAutoencoderDetector(**detector_params(args), verbose=2)
    detector.fit_files(
        files,
        time_column=args.time_column,
        columns=args.columns,
        cache_dir=cache_dir,
        progress=False,
        workers=int(args.workers),
        cluster=cluster,
    )
    history = detector.history_
    for epoch, loss in enumerate(history.get("loss", []), start=1):
        # one line per epoch, matched by the training job's MetricDefinitions
        print(f"anomark epoch={epoch} loss={loss:.8g}", flush=True)
    if cluster is not None:  # every worker must end with the same weights: show it in the log
        digest = hashlib.sha256()
        for weights in detector.model_.get_weights():
            digest.update(weights.tobytes())
        print(f"anomark worker={cluster.index} weights={digest.hexdigest()[:16]}", flush=True)
    if cluster is not None and not cluster.is_chief:
        logger.info("worker %d trained its shard; the chief saves the model", cluster.index)
        return None
    detector.set_params(verbose=0)  # the saved detector is quiet wherever it is loaded
    model_dir.mkdir(parents=True, exist_ok=True)
    detector.save(model_dir / STATE_DIR, overwrite=True)
    export_saved_model(detector, model_dir / SAVED_MODEL_VERSION)
    logger.info(
        "saved the detector to %s and the SavedModel to %s (%d features, window %d)",
        model_dir / STATE_DIR,
        model_dir / SAVED_MODEL_VERSION,
        detector.n_features_in_,
        detector.window_size,
    )
    return model_dir


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the entry script: parse ``argv`` (default ``sys.argv[1:]``) and train.

    Returns
    -------
    int
        Exit status (0 success, 1 bad data or configuration).
    """
    from anomark.errors import AnomarkError

    env = os.environ if environ is None else environ
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logger.setLevel(logging.INFO)
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:
        logger.info("ignoring arguments anomark does not use: %s", " ".join(unknown))
    try:
        train(args, env)
    except (AnomarkError, ValueError, FileNotFoundError) as exc:
        message = f"{type(exc).__name__}: {exc}"
        print(f"anomark training failed: {message}", file=sys.stderr)
        output_dir = env.get("SM_OUTPUT_DIR")
        if output_dir:
            Path(output_dir).mkdir(parents=True, exist_ok=True)
            (Path(output_dir) / "failure").write_text(message[:1000] + "\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

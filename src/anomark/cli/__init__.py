"""The ``anomark`` command line (also ``python -m anomark``).

Subcommands:

``anomark detect SOURCE...``
    Load a CSV file / glob / folder / ``s3://`` prefix / NAB series (``nab:<name>``) or several
    sensors (``--sensor NAME=GLOB``), fit a detector, score, threshold, print the flagged events,
    write the anomalies CSV and optionally a plot; print event precision/recall/F1 when labelled
    windows are known (NAB series or ``--labels``).
``anomark detectors``
    List the registered detectors.
``anomark nab list``
    List the NAB series and their number of labelled windows.
``anomark sagemaker cleanup --prefix P``
    Delete SageMaker resources the library created under a name prefix.

Errors raised on purpose by anomark (and missing/unreadable files) are printed as one line,
``error: <message>``, on stderr with exit status 2; ``--debug`` shows the traceback instead.
Heavy modules (scikit-learn, matplotlib, TensorFlow, boto3) are imported only when a command
needs them.
"""

from __future__ import annotations

import argparse
import glob
import inspect
import io
import json
import os
import sys
import textwrap
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from anomark._version import __version__
from anomark.errors import AnomarkError, ConfigurationError, DataError
from anomark.persistence import atomic_write_bytes

if TYPE_CHECKING:  # pragma: no cover
    from anomark.dataset import Dataset
    from anomark.detection import Detection
    from anomark.detectors.base import Detector
    from anomark.threshold import Threshold

__all__ = ["build_parser", "main"]

EXIT_OK = 0
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130

_NAB_PREFIX = "nab:"
_GLOB_CHARS = set("*?[")
_FILL_CHOICES = ("none", "interpolate", "ffill", "zero", "drop")
_PLOT_FORMATS = (".png", ".svg", ".pdf", ".jpg", ".jpeg")

_MAIN_EPILOG = """\
examples:
  anomark detect nab:realKnownCause/nyc_taxi.csv --detector iforest --plot taxi.png
  anomark detect data/2024-*.csv --threshold quantile:0.999 --output anomalies.csv
  anomark detect --sensor adcp='raw/adcp_*.csv' --sensor ek60='raw/ek60_*.csv' \\
      --resample 1min --fill interpolate --plot sensors.png
  anomark detectors
  anomark nab list
  anomark benchmark nab --detectors rcf,iforest --jobs 2
  anomark sagemaker cleanup --prefix anomark-demo --region eu-west-1

Run 'anomark COMMAND --help' for the options of each command.
"""

_DETECT_EPILOG = """\
sources:
  nab:<name>          a NAB series, e.g. nab:realKnownCause/nyc_taxi.csv (or nab:nyc_taxi);
                      its labelled windows are used for precision/recall/F1
  FILE.csv | 'GLOB'   one or more CSV files (quote globs); a folder reads its *.csv files;
                      files are concatenated in time order
  s3://bucket/prefix  every CSV object under the prefix (uses your AWS credentials)
  --sensor NAME=GLOB  several sensors joined on time; columns become NAME.<column>

thresholds (--threshold METHOD[:PARAM]):
  mean_std:3          mean + 3 standard deviations of the training scores
  quantile:0.999      the 0.999 quantile of the training scores
  contamination:0.01  flag about the top 1 %%
  mad:5               median + 5 * 1.4826 * MAD (robust)
  fixed:1.5           a fixed score

outputs:
  The flagged events are printed as a table. Flagged points (timestamp, event number, score and
  the values) go to --output (default: <source name>_anomalies.csv in the current folder).
  Output files are written atomically; an existing file is never replaced unless --overwrite
  is given (the check happens before any work is done).

examples:
  anomark detect nab:realKnownCause/nyc_taxi.csv --detector iforest --plot taxi.png
  anomark detect readings.csv --time-column ts --window-size 48 --threshold mad:5
  anomark detect 'logs/*.csv' --detector iforest --param n_estimators=300 --save model/
  anomark detect new.csv --load model/ --output new_anomalies.csv --overwrite
  anomark detect series.csv --labels windows.json --train-until 2024-03-01
"""


# ---------------------------------------------------------------------- small helpers
def _say(*parts: Any, file: TextIO | None = None) -> None:
    print(*parts, file=file or sys.stdout)


def _warn(message: str, quiet: bool) -> None:
    if not quiet:
        print(f"warning: {message}", file=sys.stderr)


def _progress_enabled(args: argparse.Namespace) -> bool:
    if args.quiet:
        return False
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):
        return False


class _Steps:
    """A progress bar over the steps of a command (load, fit, score, write) on stderr."""

    def __init__(self, total: int, enabled: bool) -> None:
        self._bar: Any = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                file=sys.stderr,
                leave=False,
                dynamic_ncols=True,
                bar_format="{desc:<28} {bar} {n_fmt}/{total_fmt} [{elapsed}]",
            )

    def start(self, description: str) -> None:
        if self._bar is not None:
            self._bar.set_description_str(description)
            self._bar.refresh()

    def done(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _iter_progress(items: Sequence[Any], description: str, enabled: bool) -> Any:
    if not enabled or len(items) < 2:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=description, file=sys.stderr, leave=False, unit="file")


def _error_message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, AnomarkError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    text = str(exc) or type(exc).__name__
    if isinstance(exc, KeyError) and len(exc.args) == 1:
        text = str(exc.args[0])
    return " ".join(text.split()) if "\n" not in text.strip() else text.strip()


def _threshold_rule(text: str) -> Threshold:
    from anomark.threshold import Threshold

    return Threshold.parse(text)


def _parse_param(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise ConfigurationError(f"--param expects KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key.isidentifier():
        raise ConfigurationError(f"--param: {key!r} is not a parameter name")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, value


# ---------------------------------------------------------------------- loading
def _expand_files(items: Sequence[str]) -> list[str]:
    files: list[str] = []
    for item in items:
        if _GLOB_CHARS & set(item) and not os.path.exists(item):
            matched = sorted(p for p in glob.glob(item) if os.path.isfile(p))
            if not matched:
                raise DataError(f"no files match {item!r}")
            files.extend(matched)
        elif os.path.isdir(item):
            matched = sorted(glob.glob(os.path.join(item, "*.csv")))
            if not matched:
                raise DataError(f"no *.csv files in folder {item}")
            files.extend(matched)
        elif os.path.exists(item):
            files.append(item)
        else:
            raise DataError(f"no such file: {item}")
    return files


def _read_files(files: list[str], time_column: str | None, progress: bool, name: str) -> Dataset:
    import pandas as pd

    from anomark.dataset import Dataset

    if len(files) == 1:
        return Dataset.from_csv(files[0], time_column)
    parts = [
        Dataset.from_csv(f, time_column)
        for f in _iter_progress(files, f"reading {name}", progress)
    ]
    first = parts[0].columns
    for f, part in zip(files, parts, strict=True):
        if set(part.columns) != set(first):
            raise DataError(
                f"files have different columns: {first} in {files[0]} vs {part.columns} in {f}"
            )
    frame = pd.concat([p.frame[first] for p in parts]).sort_index(kind="stable")
    return Dataset(frame, name=name)


class _Source:
    """What ``detect`` reads: the Dataset, a short name, and labelled windows when known."""

    def __init__(self, data: Dataset, label: str, stem: str, windows: list[Any] | None) -> None:
        self.data = data
        self.label = label
        self.stem = stem
        self.windows = windows


def _source_stem(args: argparse.Namespace) -> str:
    """The name used for the default output file, known before loading anything."""
    if args.sensor:
        return "sensors"
    first = args.source[0]
    if first.startswith(_NAB_PREFIX):
        return Path(first[len(_NAB_PREFIX) :]).stem or "nab"
    if first.startswith("s3://"):
        return Path(first.rstrip("/")).name or "s3"
    stem = Path(first.rstrip("/")).stem
    stem = "".join(ch for ch in stem if ch not in "*?[]") or "data"
    return stem


def _load_source(args: argparse.Namespace, progress: bool) -> _Source:
    from anomark.dataset import Dataset

    stem = _source_stem(args)
    if args.sensor:
        if args.source:
            raise ConfigurationError("give either SOURCE arguments or --sensor, not both")
        sensors: dict[str, Any] = {}
        for spec in args.sensor:
            name, sep, pattern = spec.partition("=")
            if not sep or not name.strip() or not pattern.strip():
                raise ConfigurationError(f"--sensor expects NAME=PATH_OR_GLOB, got {spec!r}")
            if name in sensors:
                raise ConfigurationError(f"sensor {name!r} given twice")
            sensors[name.strip()] = pattern.strip()
        loaded = {
            name: _read_files(_expand_files([pattern]), args.time_column, False, name)
            for name, pattern in _iter_progress(list(sensors.items()), "reading sensors", progress)
        }
        data = Dataset.from_sensors(loaded, how="outer", freq=args.resample, limit=None)
        return _Source(data, "+".join(sensors), stem, None)

    if not args.source:
        raise ConfigurationError("nothing to read: give a CSV path, glob, nab:<name> or --sensor")
    first = args.source[0]
    if first.startswith(_NAB_PREFIX):
        if len(args.source) > 1:
            raise ConfigurationError("a nab: source cannot be combined with other sources")
        from anomark.datasets import nab

        name = nab.resolve_name(first[len(_NAB_PREFIX) :])
        return _Source(nab.load(name), name, Path(name).stem, nab.windows(name))
    if first.startswith("s3://"):
        if len(args.source) > 1:
            raise ConfigurationError("an s3:// source cannot be combined with other sources")
        data = Dataset.from_s3(first, time_column=args.time_column)
        return _Source(data, first, stem, None)
    if any(s.startswith((_NAB_PREFIX, "s3://")) for s in args.source[1:]):
        raise ConfigurationError("nab: and s3:// sources cannot be combined with other sources")
    files = _expand_files(args.source)
    label = files[0] if len(files) == 1 else f"{len(files)} files"
    data = _read_files(files, args.time_column, progress, Path(files[0]).name if len(files) == 1
                       else label)
    return _Source(data, label, stem, None)


def _prepare(data: Dataset, args: argparse.Namespace) -> Dataset:
    if args.columns:
        wanted = [c.strip() for c in args.columns.split(",") if c.strip()]
        data = data.select(wanted)
    if args.resample and not args.sensor:
        data = data.resample(args.resample)
    fill = args.fill
    if fill == "interpolate":
        data = data.interpolate()
        if len(data.nan_report()):  # NaN at the ends: nothing to interpolate between
            data = data.fillna(method="ffill").fillna(method="bfill")
    elif fill == "ffill":
        data = data.fillna(method="ffill").fillna(method="bfill")
    elif fill == "zero":
        data = data.fillna(0.0)
    elif fill == "drop":
        data = data.dropna()
    counts = data.nan_report()
    if len(counts):
        shown = ", ".join(f"{c} ({n})" for c, n in counts.head(5).items())
        more = f" and {len(counts) - 5} more" if len(counts) > 5 else ""
        raise DataError(
            f"{data.name or 'the data'} has missing values in {len(counts)} column(s): "
            f"{shown}{more}; choose how to fill them with --fill interpolate|ffill|zero|drop"
        )
    return data


# ---------------------------------------------------------------------- detector
def _default_detector(registry: dict[str, Any]) -> str:
    if "rcf" in registry:
        return "rcf"
    if "iforest" in registry:
        return "iforest"
    if not registry:  # pragma: no cover - iforest ships with the package
        raise ConfigurationError("no detectors are registered")
    return next(iter(registry))


def _build_detector(args: argparse.Namespace, data: Dataset, quiet: bool) -> Detector:
    from anomark.detectors import available_detectors, get_detector_class

    registry = available_detectors()
    name = args.detector or _default_detector(registry)
    cls = get_detector_class(name)
    valid = set(cls._get_param_names())
    params: dict[str, Any] = {}
    for text in args.param:
        key, value = _parse_param(text)
        if key == "threshold":
            raise ConfigurationError("set the threshold with --threshold METHOD[:PARAM]")
        if key not in valid:
            raise ConfigurationError(
                f"detector {cls.name!r} has no parameter {key!r}; its parameters are "
                f"{', '.join(sorted(valid))}"
            )
        if key in params:
            raise ConfigurationError(f"--param {key} given twice")
        params[key] = value

    window_key = cls.window_param
    if args.window_size is not None:
        if window_key is None:
            raise ConfigurationError(f"detector {cls.name!r} has no window/shingle parameter")
        if window_key in params:
            raise ConfigurationError(f"give the window either with --window-size or --param "
                                     f"{window_key}=..., not both")
        params[window_key] = args.window_size
    elif window_key is not None and window_key not in params:
        # one day of samples (at most 48), each detector's own rule: a point-wise window
        # misses the daily pattern of most series
        params[window_key] = cls.default_window(data)

    if "random_state" in valid and args.seed is not None:
        if "random_state" in params:
            raise ConfigurationError("give the seed either with --seed or --param random_state=...")
        params["random_state"] = args.seed
    elif args.seed is not None and args.seed_given:
        _warn(f"detector {cls.name!r} has no random_state; --seed is ignored", quiet)

    if args.threshold and "threshold" in valid:
        params["threshold"] = _threshold_rule(args.threshold)
    try:
        return cls(**params)
    except TypeError as exc:  # a constructor that rejects a keyword
        raise ConfigurationError(f"cannot build detector {cls.name!r}: {exc}") from None


def _describe_detector(det: Detector) -> str:
    from sklearn.base import BaseEstimator

    params = det.get_params(deep=False)
    defaults = {
        name: p.default
        for name, p in inspect.signature(type(det).__init__).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    shown = []
    for key, value in params.items():
        if key in defaults and _same(defaults[key], value):
            continue
        if key == "threshold" or isinstance(value, BaseEstimator):
            continue
        shown.append(f"{key}={value!r}")
    return f"{type(det).__name__}({', '.join(shown)})"


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):  # pragma: no cover - arrays and the like
        return False


def _describe_threshold(rule: Any) -> str:
    return repr(rule.unfitted()) if hasattr(rule, "unfitted") else repr(rule)


# ---------------------------------------------------------------------- reporting
def _events_table(detection: Detection, limit: int) -> str:
    events = detection.events
    if events.empty:
        return "no anomalies flagged"
    rows = [("#", "start", "end", "points", "peak time", "peak score")]
    shown = events
    if len(events) > limit:  # the strongest events, still in time order
        shown = events.nlargest(limit, "peak_score").sort_index()
    for i, row in zip(shown.index + 1, shown.itertuples(index=False), strict=True):
        rows.append(
            (
                str(i), str(row.start), str(row.end), str(row.n_points), str(row.peak_time),
                f"{row.peak_score:.4g}",
            )
        )
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    right = {0, 3, 5}
    lines = [
        "  ".join(
            cell.rjust(widths[j]) if j in right else cell.ljust(widths[j])
            for j, cell in enumerate(r)
        ).rstrip()
        for r in rows
    ]
    if len(events) > limit:
        lines.append(
            f"(the {limit} strongest of {len(events)} events; all flagged points are in the "
            "anomalies CSV; show more with --max-events)"
        )
    return "\n".join(lines)


def _anomalies_csv(detection: Detection) -> bytes:
    import numpy as np
    import pandas as pd

    table = detection.anomalies
    flags = detection.flags.to_numpy()
    edges = np.diff(np.concatenate(([0], flags.astype(np.int8))))
    event_ids = np.cumsum(edges == 1)[flags]
    out = pd.DataFrame({"event": event_ids, "score": table["score"].to_numpy()}, index=table.index)
    values = table.drop(columns=["score"])
    values.columns = [c if c not in ("event",) else f"value.{c}" for c in values.columns]
    out = pd.concat([out, values], axis=1)
    out.index.name = detection.scores.index.name or "timestamp"
    buffer = io.StringIO()
    out.to_csv(buffer, float_format="%.10g")
    return buffer.getvalue().encode("utf-8")


def _figure_bytes(fig: Any, suffix: str) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format=suffix.lstrip(".").replace("jpg", "jpeg"), dpi=110)
    return buffer.getvalue()


def _check_targets(paths: Sequence[Path | None], overwrite: bool) -> None:
    for path in paths:
        if path is None:
            continue
        if path.is_dir():
            raise ConfigurationError(f"{path} is a folder; give a file name")
        if path.exists() and not overwrite:
            raise ConfigurationError(f"{path} already exists; pass --overwrite to replace it")


# ---------------------------------------------------------------------- commands
def _cmd_detect(args: argparse.Namespace) -> int:
    quiet = bool(args.quiet)
    progress = _progress_enabled(args)
    if not args.source and not args.sensor:
        raise ConfigurationError(
            "nothing to read: give a CSV path, glob, folder, s3:// prefix, nab:<name> or --sensor"
        )
    if args.max_events < 0:
        raise ConfigurationError(f"--max-events must be >= 0, got {args.max_events}")

    # validate what can be validated before any (slow) work
    rule = _threshold_rule(args.threshold) if args.threshold else None
    output: Path | None = None
    if not args.no_output:
        output = Path(args.output) if args.output else Path(f"{_source_stem(args)}_anomalies.csv")
    plot: Path | None = Path(args.plot) if args.plot else None
    if plot is not None and plot.suffix.lower() not in _PLOT_FORMATS:
        raise ConfigurationError(
            f"--plot {plot}: the file name must end with one of {', '.join(_PLOT_FORMATS)}"
        )
    _check_targets([output, plot], args.overwrite)
    save_dir = Path(args.save) if args.save else None
    if save_dir is not None and save_dir.exists() and not args.overwrite:
        raise ConfigurationError(f"{save_dir} already exists; pass --overwrite to replace it")
    if args.load and (
        args.param or args.window_size is not None or args.detector or args.seed_given
        or args.train_until
    ):
        raise ConfigurationError(
            "--load scores with the saved detector as it is; drop --detector, --param, "
            "--window-size, --seed and --train-until (use --threshold to change the threshold)"
        )

    steps = _Steps(total=4 + bool(plot) + bool(save_dir), enabled=progress)
    try:
        steps.start("loading data")
        source = _load_source(args, progress)
        data = _prepare(source.data, args)
        windows = source.windows
        if args.labels:
            from anomark.labels import read_windows_file

            windows = read_windows_file(args.labels, source.label)
        steps.done()

        from anomark.detectors.base import Detector

        if args.load:
            steps.start("loading detector")
            det = Detector.load(args.load)
            steps.done()
            steps.start("scoring")
            detection = det.detect(data, threshold=rule) if rule is not None else det.detect(data)
            steps.done()
            how = f"loaded from {args.load}"
        else:
            det = _build_detector(args, data, quiet)
            train = data
            if args.train_until:
                train, _ = data.split(at=args.train_until)
            # a rule the detector cannot take as a parameter is fitted on the scored data
            rule_apart = rule is not None and "threshold" not in det.get_params(deep=False)
            steps.start(f"fitting + scoring {type(det).name or type(det).__name__}")
            if train is data and not rule_apart:
                detection = det.fit_detect(data)  # scores the data once
                steps.done()
            else:
                det.fit(train)
                steps.done()
                steps.start("scoring")
                detection = det.detect(data, threshold=rule) if rule_apart else det.detect(data)
            steps.done()
            if train is data:
                how = f"fitted on all {len(data)} rows"
            else:
                how = f"fitted on the first {len(train)} of {len(data)} rows"

        # ---- report
        steps.start("writing results")
        rule_used = rule if rule is not None else getattr(det, "threshold_", None)
        columns = data.n_features
        span = f", {data.index[0]} .. {data.index[-1]}" if len(data) else ""
        lines = [
            f"source:    {source.label} ({len(data)} rows x {columns} column"
            f"{'s' if columns != 1 else ''}{span})",
            f"detector:  {_describe_detector(det)}, {how}",
            f"threshold: {_describe_threshold(rule_used)} = {detection.threshold:.6g}",
            f"flagged:   {detection.n_flagged} point(s) in {len(detection.events)} event(s)",
            "",
            _events_table(detection, args.max_events),
        ]
        scores = None
        if windows is not None:
            from anomark.evaluation import event_scores

            scores = event_scores(detection.flags, windows)
            lines += ["", _format_scores(scores, len(windows))]
        written: list[str] = []
        if output is not None:
            atomic_write_bytes(output, _anomalies_csv(detection))
            written.append(f"anomalies: {output} ({detection.n_flagged} rows)")
        steps.done()
        if plot is not None:
            steps.start("plotting")
            fig = detection.plot(windows=windows, title=_plot_title(source, det))
            try:
                atomic_write_bytes(plot, _figure_bytes(fig, plot.suffix.lower()))
            finally:
                import matplotlib.pyplot as plt

                plt.close(fig)
            written.append(f"plot:      {plot}")
            steps.done()
        if save_dir is not None:
            steps.start("saving detector")
            det.save(save_dir, overwrite=args.overwrite)
            written.append(f"detector:  {save_dir}")
            steps.done()
    finally:
        steps.close()
    if written:
        lines += ["", *(f"wrote {w}" for w in written)]
    _say("\n".join(lines))
    return EXIT_OK


def _plot_title(source: _Source, det: Detector) -> str:
    return f"{source.label} — {type(det).__name__}"


def _format_scores(scores: Any, n_windows: int) -> str:
    def num(key: str) -> str:
        value = scores.get(key) if isinstance(scores, dict) else None
        return "n/a" if value is None else f"{float(value):.3f}"

    counted = scores.get("n_windows", n_windows) if isinstance(scores, dict) else n_windows
    within = f" ({counted} within the data)" if counted != n_windows else ""
    text = (
        f"labelled windows: {n_windows}{within}; event precision {num('precision')}, "
        f"recall {num('recall')}, F1 {num('f1')}"
    )
    if isinstance(scores, dict):
        extra = []
        if "detected" in scores:
            extra.append(f"{_count(scores['detected'])} of {counted} windows detected")
        if "false_alarms" in scores:
            extra.append(f"{_count(scores['false_alarms'])} false alarm(s)")
        if extra:
            text += f" ({', '.join(extra)})"
    return text


def _count(value: Any) -> str:
    if isinstance(value, list | tuple | set | dict):
        return str(len(value))
    return str(value)


def _cmd_detectors(args: argparse.Namespace) -> int:
    from anomark.detectors import available_detectors

    registry = available_detectors()
    default = _default_detector(registry)
    rows = []
    for name, cls in registry.items():
        doc = inspect.getdoc(cls) or ""
        first = doc.strip().splitlines()[0] if doc.strip() else ""
        window = cls.window_param or "-"
        marker = "*" if name == default else " "
        rows.append((f"{marker}{name}", cls.__name__, window, first))
    widths = [max(len(r[j]) for r in rows) for j in range(3)]
    for r in rows:
        _say(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip())
    _say("\n* = default for 'anomark detect'; the third column is what --window-size sets.")
    return EXIT_OK


def _cmd_nab_list(args: argparse.Namespace) -> int:
    from anomark.datasets import nab

    names = nab.names()
    if args.labelled:
        names = [n for n in names if nab.windows(n)]
    width = max((len(n) for n in names), default=0)
    for name in names:
        if args.windows:
            count = len(nab.windows(name))
            _say(f"{name:<{width}}  {count} window{'s' if count != 1 else ''}")
        else:
            _say(name)
    return EXIT_OK


def _print_cleanup_result(result: Any, heading: str) -> None:
    items = list(result) if isinstance(result, list | tuple | set) else None
    if items is None:
        if result is not None:
            _say(f"{heading}: {result}")
        return
    if not items:
        _say(f"{heading}: nothing")
        return
    _say(f"{heading}: {len(items)} resource(s)")
    for item in items:
        _say(f"  {item}")


def _cmd_sagemaker_cleanup(args: argparse.Namespace) -> int:
    prefix = args.prefix.strip()
    if not prefix:
        raise ConfigurationError("--prefix must not be empty (it limits what is deleted)")
    if (args.bucket is None) != (args.s3_prefix is None):
        raise ConfigurationError("give both --bucket and --s3-prefix to delete S3 objects")
    from anomark.sagemaker import cleanup

    kwargs: dict[str, Any] = {"region": args.region, "bucket": args.bucket,
                              "s3_prefix": args.s3_prefix,
                              "require_tag": not args.include_untagged}
    if args.dry_run or not args.yes:
        found = cleanup(prefix, dry_run=True, **kwargs)
        _print_cleanup_result(found, f"would delete (prefix {prefix!r})")
        if args.dry_run or not found:
            return EXIT_OK
    if not args.yes:
        if not sys.stdin.isatty():
            raise ConfigurationError(
                "refusing to delete SageMaker resources without confirmation; pass --yes"
            )
        answer = input(f"Delete SageMaker resources whose names start with {prefix!r}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            _say("nothing deleted")
            return EXIT_OK
    _print_cleanup_result(cleanup(prefix, dry_run=False, **kwargs), "deleted")
    return EXIT_OK


def _cmd_benchmark_nab(args: argparse.Namespace) -> int:
    from anomark.benchmark import run_nab_benchmark, write_outputs
    from anomark.detectors import available_detectors
    from anomark.evaluation import resolve_profile

    detectors = [d.strip() for d in args.detectors.split(",") if d.strip()]
    known = available_detectors()
    unknown = [d for d in detectors if d not in known]
    if unknown or not detectors:
        raise ConfigurationError(
            f"unknown detector(s) {unknown or detectors}; available: {', '.join(known)}"
        )
    profile = resolve_profile(args.profile).name
    out = Path(args.output_dir)
    targets = [out / n for n in ("summary.csv", "per_series.csv", "results.json",
                                 "scoreboard.png")]
    _check_targets(targets, args.overwrite)
    series = [n.strip() for n in args.series.split(",")] if args.series else None
    result = run_nab_benchmark(
        detectors, series=series, jobs=args.jobs, seed=args.seed, refits=args.refits,
        cache_dir=args.cache_dir, progress=not args.quiet,
    )
    _say(f"NAB scores ({len(result.per_series) // len(detectors)} series; null = 0, "
         "perfect = 100) with mean event precision / recall / F1 at the standard threshold:")
    _say(result.to_text())
    _say("thresholds (z-score of the probationary scores) per profile:")
    for det, by_profile in result.thresholds.items():
        _say(f"  {det}: " + ", ".join(f"{p} {v:.3f}" for p, v in by_profile.items()))
    for file in write_outputs(result, out, profile=profile):
        _say(f"wrote {file}")
    return EXIT_OK


# ---------------------------------------------------------------------- parser
class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30)


def build_parser() -> argparse.ArgumentParser:
    """The ``anomark`` argument parser (exposed for documentation and tests)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bars or warnings on stderr")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback on errors")

    parser = argparse.ArgumentParser(
        prog="anomark",
        description="Anomaly detection for time series and multi-sensor data.",
        epilog=_MAIN_EPILOG,
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"anomark {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", default=False,
                        help="no progress bars or warnings on stderr")
    parser.add_argument("--debug", action="store_true", default=False,
                        help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    # detect
    p = sub.add_parser(
        "detect", parents=[common], formatter_class=_Formatter,
        help="fit a detector, flag anomalies, write a CSV and a plot",
        description=textwrap.dedent("""\
            Fit a detector on the data, score every timestamp, threshold the scores and report
            the flagged events. With labelled windows (NAB series or --labels) also prints
            event precision, recall and F1."""),
        epilog=_DETECT_EPILOG,
    )
    p.add_argument("source", nargs="*", metavar="SOURCE",
                   help="CSV file(s), a quoted glob, a folder, s3://bucket/prefix or nab:<name>")
    g = p.add_argument_group("input")
    g.add_argument("--sensor", action="append", default=[], metavar="NAME=GLOB",
                   help="a sensor's CSV files (repeat for each sensor); joined on time")
    g.add_argument("--time-column", metavar="COL",
                   help="name of the timestamp column (default: detected)")
    g.add_argument("--columns", metavar="A,B,...", help="use only these value columns")
    g.add_argument("--resample", metavar="FREQ",
                   help="resample to a regular frequency first, e.g. 1min, 30min, 1h")
    g.add_argument("--fill", choices=_FILL_CHOICES, default="none",
                   help="how to fill missing values (default: none = refuse data with gaps)")
    g.add_argument("--labels", metavar="JSON",
                   help="labelled anomaly windows: [[start, end], ...] or NAB's "
                        "combined_windows.json")
    g = p.add_argument_group("detector")
    g.add_argument("--detector", metavar="NAME",
                   help="detector name (see 'anomark detectors'; default: rcf if available, "
                        "else iforest)")
    g.add_argument("--threshold", metavar="METHOD[:PARAM]",
                   help="threshold rule: mean_std:3, quantile:0.999, contamination:0.01, mad:5, "
                        "fixed:1.5 (default: the detector's)")
    g.add_argument("--window-size", type=int, metavar="N",
                   help="window / shingle length (rcf: shingle_size; others: window_size); "
                        "default: one day of samples, at most 48")
    g.add_argument("--seed", type=int, default=None, metavar="N",
                   help="random seed (random_state) for reproducible results (default 0)")
    g.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="any detector parameter; VALUE is read as JSON when possible "
                        "(--param n_estimators=200 --param max_samples=auto)")
    g.add_argument("--train-until", metavar="TIME",
                   help="fit on the rows before TIME only, then score all rows")
    g.add_argument("--load", metavar="DIR", help="score with a detector saved by --save")
    g.add_argument("--save", metavar="DIR", help="save the fitted detector to this folder")
    g = p.add_argument_group("output")
    g.add_argument("-o", "--output", metavar="CSV",
                   help="flagged points CSV (default: <source name>_anomalies.csv)")
    g.add_argument("--no-output", action="store_true", help="do not write the anomalies CSV")
    g.add_argument("--plot", metavar="PNG",
                   help="write a figure (.png, .svg, .pdf): series + score, or a heatmap for "
                        "many columns")
    g.add_argument("--overwrite", action="store_true",
                   help="replace existing output files / saved detector folder")
    g.add_argument("--max-events", type=int, default=25, metavar="N",
                   help="events shown in the table (default 25)")
    p.set_defaults(func=_cmd_detect)

    # detectors
    p = sub.add_parser(
        "detectors", parents=[common], formatter_class=_Formatter,
        help="list the available detectors",
        description="List the registered detectors with their window parameter and summary.",
        epilog="example:\n  anomark detectors",
    )
    p.set_defaults(func=_cmd_detectors)

    # nab
    p = sub.add_parser(
        "nab", parents=[common], formatter_class=_Formatter,
        help="the Numenta Anomaly Benchmark corpus",
        description="Work with the NAB corpus (local copy in ANOMARK_NAB_DIR, or downloaded "
                    "and cached on first use).",
        epilog="examples:\n  anomark nab list\n  anomark nab list --windows --labelled",
    )
    nab_sub = p.add_subparsers(dest="nab_command", metavar="ACTION")
    q = nab_sub.add_parser(
        "list", parents=[common], formatter_class=_Formatter,
        help="list the NAB series names",
        description="List the NAB series (use them as 'anomark detect nab:<name>').",
        epilog="examples:\n  anomark nab list\n  anomark nab list --windows --labelled",
    )
    q.add_argument("--windows", action="store_true", help="also show each series' window count")
    q.add_argument("--labelled", action="store_true",
                   help="only series with at least one labelled window")
    q.set_defaults(func=_cmd_nab_list)
    p.set_defaults(func=_missing_action(p))

    # benchmark
    p = sub.add_parser(
        "benchmark", parents=[common], formatter_class=_Formatter,
        help="run detectors over a benchmark corpus and score them",
        description="Benchmarks.",
        epilog="example:\n  anomark benchmark nab --detectors rcf,iforest --jobs 2",
    )
    bench_sub = p.add_subparsers(dest="benchmark_command", metavar="CORPUS")
    q = bench_sub.add_parser(
        "nab", parents=[common], formatter_class=_Formatter,
        help="the Numenta Anomaly Benchmark, scored with NAB's rules",
        description=textwrap.dedent("""\
            Run detectors over the NAB corpus without look-ahead (fit on each series'
            probationary period, the first 15 %%, then score the whole series), choose one
            threshold per detector and profile over the corpus as NAB does, and print NAB
            scores for the three profiles plus mean event precision/recall/F1. Per-series
            results are cached (--cache-dir), so an interrupted run resumes."""),
        epilog="examples:\n  anomark benchmark nab --detectors rcf,iforest --jobs 2\n"
               "  anomark benchmark nab --detectors conv-ae --output-dir ae-bench --overwrite",
    )
    q.add_argument("--detectors", default="rcf,iforest", metavar="A,B",
                   help="comma-separated detector names (default rcf,iforest)")
    q.add_argument("--profile", default="standard",
                   help="profile for the chart: standard, reward_low_FP_rate (low_fp), "
                        "reward_low_FN_rate (low_fn)")
    q.add_argument("--jobs", type=int, default=1, metavar="N", help="worker processes")
    q.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")
    q.add_argument("--refits", type=int, default=0, metavar="N",
                   help="refit N times on expanding history after the probationary period "
                        "(default 0: fit once)")
    q.add_argument("--series", metavar="A,B", help="only these NAB series (default: all 58)")
    q.add_argument("--cache-dir", default=".anomark-bench", metavar="DIR",
                   help="per-series result cache (default .anomark-bench)")
    q.add_argument("--output-dir", default="nab-benchmark", metavar="DIR",
                   help="where summary.csv, per_series.csv, results.json and scoreboard.png go")
    q.add_argument("--overwrite", action="store_true", help="replace existing output files")
    q.set_defaults(func=_cmd_benchmark_nab)
    p.set_defaults(func=_missing_action(p))

    # sagemaker
    p = sub.add_parser(
        "sagemaker", parents=[common], formatter_class=_Formatter,
        help="manage SageMaker resources created by anomark",
        description="SageMaker housekeeping.",
        epilog="example:\n  anomark sagemaker cleanup --prefix anomark-demo --region eu-west-1",
    )
    sm_sub = p.add_subparsers(dest="sagemaker_command", metavar="ACTION")
    q = sm_sub.add_parser(
        "cleanup", parents=[common], formatter_class=_Formatter,
        help="stop jobs and delete endpoints/models whose names start with a prefix",
        description=textwrap.dedent("""\
            Stop the training/transform jobs and delete the endpoints, endpoint configurations
            and models whose names start with --prefix and that anomark tagged as its own
            (calls anomark.sagemaker.cleanup). Without --yes you are shown what would be
            deleted and asked to confirm; non-interactive runs need --yes."""),
        epilog="examples:\n  anomark sagemaker cleanup --prefix anomark-demo\n"
               "  anomark sagemaker cleanup --prefix anomark-ci --region us-east-1 --yes",
    )
    q.add_argument("--prefix", required=True, help="name prefix of the resources to delete")
    q.add_argument("--region", help="AWS region (default: from your AWS configuration)")
    q.add_argument("--yes", action="store_true", help="delete without asking")
    q.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    q.add_argument("--bucket", help="also delete S3 objects in this bucket (with --s3-prefix)")
    q.add_argument("--s3-prefix", help="the S3 key prefix to empty (with --bucket)")
    q.add_argument("--include-untagged", action="store_true",
                   help="also delete matching resources without the anomark:managed=true tag")
    q.set_defaults(func=_cmd_sagemaker_cleanup)
    p.set_defaults(func=_missing_action(p))
    return parser


def _missing_action(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: choose an action (see '{parser.prog} --help')",
              file=sys.stderr)
        return EXIT_ERROR

    return run


def _show_warning(
    message: Warning | str, category: type[Warning], filename: str, lineno: int,
    file: TextIO | None = None, line: str | None = None,
) -> None:
    """Warnings as one ``warning: ...`` line on stderr instead of a source excerpt."""
    print(f"warning: {' '.join(str(message).split())}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``anomark`` command; returns the exit status (0 ok, 2 error, 130 interrupted).

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` by default.

    Returns
    -------
    int
    """
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return int(exc.code) if isinstance(exc.code, int) else EXIT_ERROR
    if getattr(args, "func", None) is None:
        parser.print_usage(sys.stderr)
        print("anomark: error: choose a command (see 'anomark --help')", file=sys.stderr)
        return EXIT_ERROR
    args.seed_given = getattr(args, "seed", None) is not None
    if hasattr(args, "seed") and args.seed is None:
        args.seed = 0
    try:
        with warnings.catch_warnings():
            if args.quiet:
                warnings.simplefilter("ignore")
            else:
                warnings.showwarning = _show_warning
            return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (AnomarkError, OSError) as exc:
        if args.debug:
            raise
        print(f"error: {_error_message(exc)}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

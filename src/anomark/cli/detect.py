"""``anomark detect``: fit a detector, flag anomalies, write a CSV and a plot."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anomark.cli._common import (
    EXIT_OK,
    Formatter,
    Steps,
    add_clobber_option,
    add_input_options,
    check_targets,
    progress_enabled,
    say,
    warn,
)
from anomark.cli._report import PLOT_FORMATS
from anomark.cli._sources import add_source_options, source_stem
from anomark.errors import ConfigurationError

if TYPE_CHECKING:  # pragma: no cover
    from anomark.dataset import Dataset
    from anomark.detectors.base import Detector

__all__ = ["build_detector", "parse_param", "register", "run"]

EPILOG = """\
sources:
  nab:<name>          a NAB series, e.g. nab:realKnownCause/nyc_taxi.csv (or nab:nyc_taxi);
                      its labelled windows are used for precision/recall/F1; NYC taxi ships
                      with anomark, other series come from ANOMARK_NAB_DIR or a download
  FILE.csv | 'GLOB'   one or more CSV files (quote globs); a folder reads its *.csv files;
                      files are concatenated in time order
  s3://bucket/prefix  every CSV object under the prefix (uses your AWS credentials)
  --sensor NAME=GLOB  several sensors joined on time; columns become NAME.<column>

timestamps:
  One format per column, inferred from the first value. Dates such as 01/02/2024 are read
  month first; a column whose dates show day first (13/01/2024) is refused until you pass
  --dayfirst or --time-format '%d/%m/%Y %H:%M'. Irregular sampling gets a warning.

thresholds (--threshold METHOD[:PARAM]):
  mean_std:3          mean + 3 standard deviations of the training scores
  quantile:0.999      the 0.999 quantile of the training scores
  contamination:0.01  flag about the top 1 %
  mad:5               median + 5 * 1.4826 * MAD (robust)
  fixed:1.5           a fixed score

outputs:
  The flagged events are printed as a table. Flagged points (timestamp, event number, score and
  the values) go to --output (default: <source name>_anomalies.csv in the current folder).
  Outputs are written atomically and replace earlier ones, so a command can be run again;
  --no-clobber refuses to replace them (checked before any work is done).

examples:
  anomark detect nab:realKnownCause/nyc_taxi.csv --plot taxi.png
  anomark detect readings.csv --time-column ts --window-size 48 --threshold mad:5
  anomark detect export.csv --dayfirst --duplicates mean --detector iforest
  anomark detect 'logs/*.csv' --detector iforest --param n_estimators=300 --save model/
  anomark detect new.csv --load model/ --output new_anomalies.csv
  anomark detect series.csv --labels windows.json --train-until 2024-03-01
"""


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``detect`` parser to the ``anomark`` subparsers."""
    p = sub.add_parser(
        "detect", parents=[common], formatter_class=Formatter,
        help="fit a detector, flag anomalies, write a CSV and a plot",
        description=textwrap.dedent("""\
            Fit a detector on the data, score every timestamp, threshold the scores and report
            the flagged events. With labelled windows (NAB series or --labels) also prints
            event precision, recall and F1."""),
        epilog=EPILOG,
    )
    g = p.add_argument_group("input")
    add_source_options(p, g)
    add_input_options(g)
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
                   help="random seed (random_state) for reproducible results (default: 0)")
    g.add_argument("--seasonal", metavar="auto|none|PERIOD",
                   help="seasonal baseline: the detector also reads each column's residual "
                        "against the median of the same time in the previous 4 periods; auto "
                        "(default for detectors that take it): a day or a week, as the data "
                        "shows, or none; PERIOD: e.g. 7D, 24h, or a number of rows; add :K "
                        "for K periods (7D:8)")
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
    g.add_argument("--scores", metavar="CSV",
                   help="also write every row's timestamp, score and flag (1/0) to this CSV, "
                        "for 'anomark evaluate'")
    g.add_argument("--plot", metavar="PNG",
                   help="write a figure (.png, .svg, .pdf): series + score, or a heatmap for "
                        "many columns")
    add_clobber_option(g)
    g.add_argument("--max-events", type=int, default=25, metavar="N",
                   help="events shown in the table (default: 25)")
    p.set_defaults(func=run)


def parse_param(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with VALUE read as JSON when it parses (``3``, ``true``, ``[1, 2]``)."""
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


def default_detector(registry: dict[str, Any]) -> str:
    """``rcf`` when registered, else ``iforest`` (which ships with the package)."""
    return "rcf" if "rcf" in registry else "iforest"


def build_detector(args: argparse.Namespace, data: Dataset, quiet: bool) -> Detector:
    """The detector ``args`` describe: ``--detector``, ``--param``, ``--window-size`` (default:
    the class's :meth:`~anomark.detectors.base.Detector.default_window`), ``--seed`` and
    ``--threshold``."""
    from anomark.detectors import available_detectors, get_detector_class
    from anomark.threshold import Threshold

    cls = get_detector_class(args.detector or default_detector(available_detectors()))
    valid = set(cls._get_param_names())
    params: dict[str, Any] = {}
    for text in args.param:
        key, value = parse_param(text)
        if key == "threshold":
            raise ConfigurationError("set the threshold with --threshold METHOD[:PARAM]")
        if key == "seasonal":
            raise ConfigurationError("set the seasonal stage with --seasonal auto|none|PERIOD")
        if key not in valid:
            raise ConfigurationError(
                f"detector {cls.name!r} has no parameter {key!r}; its parameters are "
                f"{', '.join(sorted(valid))}"
            )
        if key in params:
            raise ConfigurationError(f"--param {key} given twice")
        if key == "postprocess" and isinstance(value, str):  # the steps' text form
            from anomark.postprocess import parse_postprocess

            value = parse_postprocess(value)
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

    if "random_state" in valid:
        if "random_state" in params and args.seed is not None:
            raise ConfigurationError("give the seed either with --seed or --param random_state=...")
        params.setdefault("random_state", 0 if args.seed is None else args.seed)
    elif args.seed is not None:
        warn(f"detector {cls.name!r} has no random_state; --seed is ignored", quiet)

    if args.threshold:
        params["threshold"] = Threshold.parse(args.threshold)
    seasonal = getattr(args, "seasonal", None)
    if "seasonal" in valid:
        from anomark.seasonal import DEFAULT_SEASONAL, parse_seasonal

        params["seasonal"] = parse_seasonal(seasonal or DEFAULT_SEASONAL)
    elif seasonal not in (None, "none"):
        raise ConfigurationError(f"detector {cls.name!r} has no seasonal stage; drop --seasonal")
    return cls(**params)


def _epoch_output(det: Detector, args: argparse.Namespace, progress: bool) -> int | None:
    """Keras' verbosity for a detector that trains in epochs (it has a ``verbose`` parameter
    the user did not set): a progress bar per epoch on a terminal, one line per epoch
    otherwise, nothing with ``--quiet``. ``None``: leave the detector as it is."""
    if "verbose" not in det.get_params(deep=False):
        return None
    if any(text.split("=", 1)[0].strip() == "verbose" for text in args.param):
        return None
    if args.quiet:
        return 0
    return 1 if progress else 2


def run(args: argparse.Namespace) -> int:
    """Run ``anomark detect``."""
    from anomark.cli import _report
    from anomark.cli._sources import load_source, prepare
    from anomark.persistence import atomic_write_bytes

    quiet = bool(args.quiet)
    progress = progress_enabled(args)
    if not args.source and not args.sensor:
        raise ConfigurationError(
            "nothing to read: give a CSV path, glob, folder, s3:// prefix, nab:<name> or --sensor"
        )
    if args.max_events < 0:
        raise ConfigurationError(f"--max-events must be >= 0, got {args.max_events}")
    if args.load and (
        args.param or args.window_size is not None or args.detector or args.seed is not None
        or args.train_until or args.seasonal is not None
    ):
        raise ConfigurationError(
            "--load scores with the saved detector as it is; drop --detector, --param, "
            "--window-size, --seed, --seasonal and --train-until (use --threshold to change "
            "the threshold)"
        )
    if args.seasonal is not None:
        from anomark.seasonal import parse_seasonal

        parse_seasonal(args.seasonal)  # a bad value fails before any work

    # validate what can be validated before any (slow) work
    from anomark.threshold import Threshold

    rule = Threshold.parse(args.threshold) if args.threshold else None
    output: Path | None = None
    if not args.no_output:
        output = Path(args.output) if args.output else Path(f"{source_stem(args)}_anomalies.csv")
    plot: Path | None = Path(args.plot) if args.plot else None
    if plot is not None and plot.suffix.lower() not in PLOT_FORMATS:
        raise ConfigurationError(
            f"--plot {plot}: the file name must end with one of {', '.join(PLOT_FORMATS)}"
        )
    save_dir = Path(args.save) if args.save else None
    scores_file: Path | None = Path(args.scores) if args.scores else None
    check_targets([output, plot, scores_file], args.no_clobber, folders=[save_dir])

    steps = Steps(total=4 + bool(plot) + bool(save_dir), enabled=progress)
    hidden: frozenset[str] = frozenset()
    try:
        steps.start("loading data")
        source = load_source(args, progress)
        data = prepare(source.data, args)
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
            detection = det.detect(data, threshold=rule)
            steps.done()
            how = f"loaded from {args.load}"
        else:
            det = build_detector(args, data, quiet)
            hidden = frozenset({"seasonal"})  # reported on its own line
            verbosity = _epoch_output(det, args, progress)
            if verbosity is not None:
                before = det.get_params(deep=False)["verbose"]
                det.set_params(verbose=verbosity)
                hidden = hidden | {"verbose"}
            train = data
            if args.train_until:
                train, _ = data.split(at=args.train_until)
            steps.start(f"fitting + scoring {type(det).name or type(det).__name__}")
            # Keras writes its epochs to stdout, which holds only the report: send them to stderr
            with steps.paused() if verbosity else contextlib.nullcontext(), \
                    contextlib.redirect_stdout(sys.stderr):
                if train is data:
                    detection = det.fit_detect(data)  # scores the data once
                else:
                    det.fit(train)
                    steps.done()
                    steps.start("scoring")
                    detection = det.detect(data)
            steps.done()
            if verbosity is not None:
                det.set_params(verbose=before)  # a saved detector stays as quiet as it was
            if train is data:
                how = f"fitted on all {len(data)} rows"
            else:
                how = f"fitted on the first {len(train)} of {len(data)} rows"

        # ---- report
        steps.start("writing results")
        rule_used = rule if rule is not None else det.threshold_
        columns = data.n_features
        span = f", {data.index[0]} .. {data.index[-1]}" if len(data) else ""
        lines = [
            f"source:    {source.label} ({len(data)} rows x {columns} column"
            f"{'s' if columns != 1 else ''}{span})",
            f"detector:  {_report.describe_detector(det, hidden)}, {how}",
            *_report.seasonal_lines(det),
            f"threshold: {_report.describe_threshold(rule_used)} = {detection.threshold:.6g}",
            f"flagged:   {detection.n_flagged} point(s) in {len(detection.events)} event(s)",
            "",
            _report.events_table(detection, args.max_events),
        ]
        if windows is not None:
            from anomark.evaluation import event_scores

            scores = event_scores(detection.flags, windows)
            lines += ["", _report.format_scores(scores, len(windows))]
        written: list[str] = []
        if output is not None:
            atomic_write_bytes(output, _report.anomalies_csv(detection))
            written.append(f"anomalies: {output} ({detection.n_flagged} rows)")
        if scores_file is not None:
            atomic_write_bytes(scores_file, _report.scores_csv(detection))
            written.append(f"scores:    {scores_file} ({len(detection.scores)} rows)")
        steps.done()
        if plot is not None:
            steps.start("plotting")
            title = f"{data.name or source.label} — {type(det).__name__}"
            fig = detection.plot(windows=windows, title=title)
            try:
                atomic_write_bytes(plot, _report.figure_bytes(fig, plot.suffix.lower()))
            finally:
                import matplotlib.pyplot as plt

                plt.close(fig)
            written.append(f"plot:      {plot}")
            steps.done()
        if save_dir is not None:
            steps.start("saving detector")
            det.save(save_dir, overwrite=not args.no_clobber)
            written.append(f"detector:  {save_dir}")
            steps.done()
    finally:
        steps.close()
    if written:
        lines += ["", *(f"wrote {w}" for w in written)]
    say("\n".join(lines))
    return EXIT_OK

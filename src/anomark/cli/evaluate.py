"""``anomark evaluate SCORES.csv --labels ...``: score a saved detection with every metric."""

from __future__ import annotations

import argparse
import json
import math
import textwrap
from numbers import Integral
from pathlib import Path
from typing import Any

from anomark.cli._common import EXIT_OK, Formatter, add_input_options, reader_options, say
from anomark.errors import ConfigurationError, DataError

__all__ = ["register", "run"]

EXAMPLES = """\
examples:
  anomark detect nab:realKnownCause/nyc_taxi.csv --scores taxi_scores.csv
  anomark evaluate taxi_scores.csv --labels nab:realKnownCause/nyc_taxi.csv
  anomark evaluate scores.csv --labels windows.json --threshold 3.5 --json
  anomark evaluate scores.csv --labels combined_windows.json --series realTraffic/TravelTime_387.csv
"""

_CARDINALITIES = ("reciprocal", "one", "udf_gamma")
_BIASES = ("flat", "front", "middle", "back")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``evaluate`` parser to the ``anomark`` subparsers."""
    p = sub.add_parser(
        "evaluate", parents=[common], formatter_class=Formatter,
        help="score a saved detection against labelled windows with every metric",
        description=textwrap.dedent("""\
            Read a scores CSV (a time column, a 'score' column and optionally a 'flag'
            column: what 'anomark detect --scores FILE' writes) and compare it with labelled
            anomaly windows: VUS-PR, VUS-ROC, range PR/ROC AUC and the best event F1 from
            the scores; range precision/recall/F1, event precision/recall/F1 and the NAB
            score from the flags (the 'flag' column, or score > --threshold)."""),
        epilog=EXAMPLES,
    )
    p.add_argument("scores", metavar="SCORES.csv",
                   help="CSV with one row per timestamp: time, score [, flag]")
    p.add_argument("--labels", required=True, metavar="JSON|nab:NAME",
                   help="labelled windows: a JSON list of [start, end] pairs, NAB's "
                        "combined_windows.json (with --series), or nab:<series name>")
    p.add_argument("--series", metavar="NAME",
                   help="the entry of a labels file that holds several series (default: "
                        "the scores file's name)")
    g = p.add_argument_group("columns")
    add_input_options(g)
    g.add_argument("--score-column", default="score", metavar="COL",
                   help="column of the anomaly scores (default: score)")
    g.add_argument("--flag-column", default="flag", metavar="COL",
                   help="column of the flags, true/false or 1/0 (default: flag, if present)")
    g.add_argument("--threshold", type=float, metavar="X",
                   help="flag rows with score > X instead of reading a flag column")
    g = p.add_argument_group("metrics")
    g.add_argument("--max-buffer-size", type=int, default=500, metavar="N",
                   help="VUS: largest buffer (points) around each window (default: 500)")
    g.add_argument("--alpha", type=float, default=0.0, metavar="A",
                   help="range recall: weight of the existence reward, 0..1 (default: 0)")
    g.add_argument("--cardinality", choices=_CARDINALITIES, default="reciprocal",
                   help="range precision/recall: factor for a range overlapping several "
                        "(default: reciprocal)")
    g.add_argument("--bias", choices=_BIASES, default="flat",
                   help="range precision/recall: positional weight in a range (default: flat)")
    g = p.add_argument_group("output")
    g.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    p.set_defaults(func=run)


def _read_scores(args: argparse.Namespace) -> tuple[Any, Any, str]:
    """The scores (and flags, or None) as Series on the file's timestamps; how flags were got."""
    import numpy as np
    import pandas as pd

    from anomark.times import find_time_column, parse_times

    file = Path(args.scores)
    try:
        frame = pd.read_csv(file)
    except FileNotFoundError:
        raise DataError(f"scores file not found: {file}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{file} is not a readable CSV file: {exc}") from None
    source = f"scores file {file}"
    if "event" in frame.columns and args.flag_column not in frame.columns:
        raise DataError(
            f"{source} looks like the anomalies CSV of 'anomark detect --output' (an 'event' "
            "column, no flags), which holds the flagged rows only; the metrics need every "
            "row's score: write them with 'anomark detect --scores FILE'"
        )
    if args.score_column not in frame.columns:
        raise DataError(
            f"{source} has no column {args.score_column!r} (columns: "
            f"{', '.join(map(str, frame.columns))}); name it with --score-column"
        )
    time_column = args.time_column or find_time_column(frame, source)
    if time_column not in frame.columns:
        raise DataError(f"{source} has no column {time_column!r}")
    opts = reader_options(args)
    index = parse_times(frame[time_column], f"{source} column {time_column!r}",
                        dayfirst=opts["dayfirst"], time_format=opts["time_format"])
    index.name = time_column
    column = frame[args.score_column]
    if not pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(
        column.dtype
    ):
        raise DataError(f"{source} column {args.score_column!r} is not numeric "
                        f"(dtype {column.dtype})")
    scores = pd.Series(column.to_numpy(dtype=np.float64), index=index, name="score")
    if args.threshold is not None:
        if not math.isfinite(args.threshold):
            raise ConfigurationError(f"--threshold must be a finite number, got {args.threshold}")
        return scores, scores > args.threshold, f"score > {args.threshold:g}"
    if args.flag_column not in frame.columns:
        return scores, None, ""
    raw = frame[args.flag_column]
    text = raw.astype(str).str.strip().str.lower()
    truth = {"true": True, "1": True, "1.0": True, "false": False, "0": False, "0.0": False}
    bad = ~text.isin(list(truth))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"{source} column {args.flag_column!r} must hold true/false or 1/0; row {row + 2} "
            f"holds {raw.iloc[row]!r}"
        )
    flags = pd.Series(text.map(truth).to_numpy(dtype=bool), index=index, name="flag")
    return scores, flags, f"column {args.flag_column!r}"


def _read_labels(args: argparse.Namespace) -> tuple[list[Any], str]:
    from anomark.labels import read_windows_file

    if args.labels.startswith("nab:"):
        from anomark.datasets import nab

        name = nab.resolve_name(args.labels[len("nab:"):])
        return nab.windows(name), f"NAB labels of {name}"
    series = args.series or Path(args.scores).name
    return read_windows_file(args.labels, series), str(args.labels)


def _fmt(value: Any) -> str:
    if isinstance(value, Integral):
        return str(value)
    value = float(value)
    return "n/a" if math.isnan(value) else f"{value:.4f}"


def _text(result: dict[str, Any], info: dict[str, Any]) -> str:
    lines = [
        f"scores:  {info['file']} ({info['rows']} rows, {info['span']})",
        f"labels:  {info['windows']} window(s) from {info['labels']}",
        f"flags:   {info['flags']}",
        "",
        "from the scores (threshold-free)",
        f"  VUS-PR                          {_fmt(result['vus_pr'])}"
        f"   (buffers 0..{info['max_buffer_size']})",
        f"  VUS-ROC                         {_fmt(result['vus_roc'])}",
        f"  range PR AUC                    {_fmt(result['range_pr_auc'])}"
        "   (buffer = median window length)",
        f"  range ROC AUC                   {_fmt(result['range_roc_auc'])}",
        f"  best event F1                   {_fmt(result['best_event_f1'])}"
        f"   (at score >= {result['best_threshold']:.6g})",
    ]
    if "range_f1" in result:
        lines += [
            "",
            "from the flags",
            f"  range precision / recall / F1   {_fmt(result['range_precision'])} / "
            f"{_fmt(result['range_recall'])} / {_fmt(result['range_f1'])}"
            f"   (alpha {info['alpha']:g}, {info['cardinality']}, {info['bias']})",
            f"  event precision / recall / F1   {_fmt(result['event_precision'])} / "
            f"{_fmt(result['event_recall'])} / {_fmt(result['event_f1'])}"
            f"   ({result['detected']} detected, {result['false_alarms']} false alarm(s))",
            f"  NAB standard / low FP / low FN  {_fmt(result['nab_standard'])} / "
            f"{_fmt(result['nab_reward_low_FP_rate'])} / {_fmt(result['nab_reward_low_FN_rate'])}"
            f"   (this series alone; raw {_fmt(result['nab_raw'])})",
        ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run ``anomark evaluate``."""
    from anomark.evaluation import evaluate

    if args.max_buffer_size < 0:
        raise ConfigurationError(f"--max-buffer-size must be >= 0, got {args.max_buffer_size}")
    scores, flags, how = _read_scores(args)
    windows, labels = _read_labels(args)
    result = evaluate(scores, windows, flags, max_buffer_size=args.max_buffer_size,
                      alpha=args.alpha, cardinality=args.cardinality, bias=args.bias)
    if args.json:
        clean = {k: (None if isinstance(v, float) and math.isnan(v) else v)
                 for k, v in result.items()}
        say(json.dumps(clean, indent=2))
        return EXIT_OK
    n_flagged = int(flags.sum()) if flags is not None else 0
    info = {
        "file": args.scores, "rows": len(scores),
        "span": f"{scores.index[0]} .. {scores.index[-1]}",
        "windows": len(windows), "labels": labels,
        "flags": f"{how}, {n_flagged} flagged" if flags is not None
        else "none (give a 'flag' column or --threshold for the flag metrics)",
        "max_buffer_size": args.max_buffer_size, "alpha": args.alpha,
        "cardinality": args.cardinality, "bias": args.bias,
    }
    say(_text(result, info))
    return EXIT_OK

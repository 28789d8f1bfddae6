"""``anomark benchmark nab``: run detectors over the NAB corpus and score them as NAB does."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path
from typing import Any

from anomark.cli._common import (
    EXIT_OK,
    Formatter,
    add_clobber_option,
    check_targets,
    missing_action,
    progress_enabled,
    say,
)
from anomark.errors import ConfigurationError

__all__ = ["OUTPUT_FILES", "register", "run_nab"]

#: What ``anomark benchmark nab`` writes into ``--output-dir``.
OUTPUT_FILES = ("summary.csv", "per_series.csv", "results.json", "scoreboard.png")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``benchmark`` parser (and its ``nab`` corpus) to the ``anomark`` subparsers."""
    p = sub.add_parser(
        "benchmark", parents=[common], formatter_class=Formatter,
        help="run detectors over a benchmark corpus and score them",
        description="Benchmarks.",
        epilog="example:\n  anomark benchmark nab --detectors rcf,iforest --jobs 2",
    )
    corpora = p.add_subparsers(dest="benchmark_command", metavar="CORPUS")
    q = corpora.add_parser(
        "nab", parents=[common], formatter_class=Formatter,
        help="the Numenta Anomaly Benchmark, scored with NAB's rules",
        description=textwrap.dedent("""\
            Run detectors over the NAB corpus without look-ahead (fit on each series'
            probationary period, the first 15 %, then score the whole series), choose one
            threshold per detector and profile over the corpus as NAB does, and print NAB
            scores for the three profiles plus mean event precision/recall/F1. Per-series
            results are cached (--cache-dir), so an interrupted run resumes. Needs the whole
            corpus: a local copy in ANOMARK_NAB_DIR, or a download on first use."""),
        epilog="examples:\n  anomark benchmark nab --detectors rcf,iforest --jobs 2\n"
               "  anomark benchmark nab --detectors conv-ae --output-dir ae-bench",
    )
    q.add_argument("--detectors", default=None, metavar="A,B",
                   help="comma-separated detector names (default: rcf,iforest; with "
                        "--mode stream, the detectors that learn a stream: rcf)")
    q.add_argument("--profile", default="standard",
                   help="profile for the chart: standard, reward_low_FP_rate (low_fp), "
                        "reward_low_FN_rate (low_fn) (default: standard)")
    q.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="worker processes, one series per task (default: 1)")
    q.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default: 0)")
    q.add_argument("--refits", type=int, default=0, metavar="N",
                   help="batch mode: refit N times on expanding history after the "
                        "probationary period (default: 0, fit once)")
    q.add_argument("--mode", choices=("batch", "stream"), default="batch",
                   help="batch: fit on the probationary period, then score; stream: learn "
                        "every series row by row (score, then learn) with the detector's "
                        "streaming engine, e.g. rcf (default: batch)")
    q.add_argument("--postprocess", metavar="STEPS",
                   help="causal post-processing of the scores, e.g. 'zscore+range:value=10', "
                        "'likelihood+range' or 'none' (default: none in batch mode; in stream "
                        "mode anomark.benchmark.DEFAULT_STREAM_POSTPROCESS, printed with the "
                        "results)")
    q.add_argument("--seasonal", metavar="auto|none|PERIOD",
                   help="the detectors' causal seasonal stage: each column next to its "
                        "residual against the median of the same time in the previous 4 "
                        "periods; auto (a day or a week, as the rows show: the training rows "
                        "in batch mode, the rows so far in stream mode), a period such as 7D, "
                        "or none (default: auto for the detectors that take it, rcf and "
                        "iforest)")
    q.add_argument("--series", metavar="A,B",
                   help="only these NAB series (default: all 58; the scores of a subset are "
                        "not comparable with NAB's scoreboard)")
    q.add_argument("--cache-dir", default=".anomark-bench", metavar="DIR",
                   help="per-series result cache (default: .anomark-bench)")
    q.add_argument("--output-dir", default="nab-benchmark", metavar="DIR",
                   help="where summary.csv, per_series.csv, results.json and scoreboard.png "
                        "go (default: nab-benchmark)")
    add_clobber_option(q)
    q.set_defaults(func=run_nab)
    p.set_defaults(func=missing_action(p))


def run_nab(args: argparse.Namespace) -> int:
    """Run ``anomark benchmark nab``."""
    from anomark.benchmark import run_nab_benchmark, write_outputs
    from anomark.detectors import available_detectors
    from anomark.evaluation import resolve_profile

    if args.detectors is None:
        from anomark.benchmark import streaming_detectors

        chosen = ",".join(streaming_detectors()) if args.mode == "stream" else "rcf,iforest"
    else:
        chosen = args.detectors
    detectors = [d.strip() for d in chosen.split(",") if d.strip()]
    known = available_detectors()
    unknown = [d for d in detectors if d not in known]
    if unknown or not detectors:
        raise ConfigurationError(
            f"unknown detector(s) {unknown or detectors}; available: {', '.join(known)}"
        )
    profile = resolve_profile(args.profile).name
    out = Path(args.output_dir)
    check_targets([out / name for name in OUTPUT_FILES], args.no_clobber)
    series = [n.strip() for n in args.series.split(",")] if args.series else None
    result = run_nab_benchmark(
        detectors, series=series, jobs=args.jobs, seed=args.seed, refits=args.refits,
        mode=args.mode, postprocess=args.postprocess, seasonal=args.seasonal,
        cache_dir=args.cache_dir, progress=progress_enabled(args),
    )
    say(f"NAB scores ({len(result.per_series) // len(detectors)} series; null = 0, "
        "perfect = 100) with mean event precision / recall / F1 at the standard threshold, "
        "mean VUS-PR / VUS-ROC of the scores and mean range F1 of the flags:")
    say(result.to_text())
    say(f"mode {result.config['mode']}, post-processing {result.config['postprocess']}, "
        f"seasonal {result.config['seasonal']}; thresholds per profile:")
    for det, by_profile in result.thresholds.items():
        say(f"  {det}: " + ", ".join(f"{p} {v:.3f}" for p, v in by_profile.items()))
    for file in write_outputs(result, out, profile=profile):
        say(f"wrote {file}")
    return EXIT_OK

"""Benchmark anomark's range metrics against their reference implementations, same run.

Run: ``python benchmarks/bench_vus.py [--quick]`` (``nox -s bench`` installs the references;
by hand: ``pip install --no-deps timeeval==1.5.0 prts==1.0.0.3``).

Sections
--------
1. VUS-PR + VUS-ROC (defaults: ``max_buffer_size=500``, 250 thresholds) on synthetic series
   of 2,000 to 20,000 points with anomalies covering about 3 % of them: anomark's
   :func:`anomark.evaluation.vus` (both in one pass) vs TimeEval's ``RangePrVUS`` and
   ``RangeRocVUS`` (one call each, as TimeEval computes them); wall time, ratio, and the
   largest difference of the values.
2. Range precision/recall/F1 (reciprocal cardinality, flat bias) on the same series with
   flags at the 95th percentile of the scores: anomark's :func:`range_precision_recall` vs
   prts' ``ts_precision`` + ``ts_recall``.

Timings are the best of ``--repeat`` runs for anomark and a single run for the references
(seconds each); the machine may be shared, so rerun before quoting small differences.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from anomark.evaluation import range_precision_recall, vus

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _metric_references import load_prts, load_timeeval_metrics


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Point labels (about 3 % anomalous, in ranges of 10 to 200 points) and noisy scores."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(n, dtype=np.int64)
    while labels.sum() < 0.03 * n:
        start = int(rng.integers(0, n - 200))
        labels[start : start + int(rng.integers(10, 200))] = 1
    scores = rng.normal(size=n) + 1.5 * labels
    scores = np.convolve(scores, np.ones(5) / 5, mode="same")  # smooth, like window scores
    return labels, scores


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    best, value = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t0)
    return best, value


def as_windows(labels: np.ndarray, index: pd.DatetimeIndex) -> list[tuple[Any, Any]]:
    edges = np.diff(np.concatenate(([0], labels, [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(index[a], index[b - 1]) for a, b in zip(starts, ends, strict=True)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 and 5,000 points only")
    parser.add_argument("--repeat", type=int, default=5, help="anomark runs per size (best)")
    args = parser.parse_args(argv)
    sizes = [2_000, 5_000] if args.quick else [2_000, 5_000, 10_000, 20_000]
    try:
        te = load_timeeval_metrics()
        prts = load_prts()
    except ImportError as exc:
        sys.exit(f"reference implementations missing: {exc}")

    print("== 1. VUS-PR + VUS-ROC, max_buffer_size=500, 250 thresholds ==")
    print(f"{'points':>7} {'anomark s':>10} {'TimeEval s':>11} {'ratio':>8} {'max |diff|':>11}")
    for n in sizes:
        labels, scores = synthetic(n)
        index = pd.date_range("2024-01-01", periods=n, freq="min")
        series, windows = pd.Series(scores, index=index), as_windows(labels, index)
        ours_s, ours = timed(lambda s=series, w=windows: vus(s, w), args.repeat)
        ref_pr_s, ref_pr = timed(lambda y=labels, s=scores: te.RangePrVUS()(y, s))
        ref_roc_s, ref_roc = timed(lambda y=labels, s=scores: te.RangeRocVUS()(y, s))
        ref_s = ref_pr_s + ref_roc_s
        diff = max(abs(ours["vus_pr"] - ref_pr), abs(ours["vus_roc"] - ref_roc))
        print(f"{n:>7} {ours_s:>10.4f} {ref_s:>11.2f} {ref_s / ours_s:>7.0f}x {diff:>11.1e}")

    print("\n== 2. Range precision/recall/F1 (reciprocal, flat), flags at the 95th percentile ==")
    print(f"{'points':>7} {'ranges':>7} {'anomark s':>10} {'prts s':>8} {'ratio':>8} "
          f"{'max |diff|':>11}")
    for n in sizes:
        labels, scores = synthetic(n)
        flags = (scores >= np.quantile(scores, 0.95)).astype(np.int64)
        index = pd.date_range("2024-01-01", periods=n, freq="min")
        series = pd.Series(flags.astype(bool), index=index)
        windows = as_windows(labels, index)
        ours_s, ours = timed(lambda f=series, w=windows: range_precision_recall(f, w),
                             args.repeat)

        def reference(y: np.ndarray = labels, f: np.ndarray = flags) -> tuple[float, float]:
            return (prts.ts_precision(y, f, 0.0, "reciprocal", "flat"),
                    prts.ts_recall(y, f, 0.0, "reciprocal", "flat"))

        ref_s, ref = timed(reference)
        diff = max(abs(ours[0] - ref[0]), abs(ours[1] - ref[1]))
        n_ranges = int(np.count_nonzero(np.diff(np.concatenate(([0], flags))) == 1))
        print(f"{n:>7} {n_ranges:>7} {ours_s:>10.4f} {ref_s:>8.4f} {ref_s / ours_s:>7.0f}x "
              f"{diff:>11.1e}")


if __name__ == "__main__":
    main()

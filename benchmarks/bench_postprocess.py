"""Speed of the causal post-processors and of the NAB stream-mode corpus run.

1. Throughput of each post-processor (rows per second, one call over a long stream and the
   same stream fed in chunks of 100 rows), against nupic's algorithm written loop by loop in
   Python for the likelihood (the reference the tests check it against), measured in the
   same run.
2. ``anomark benchmark nab --detectors rcf --mode stream`` on the whole corpus with a fresh
   cache (scoring + post-processing + threshold search), wall time against the 3-minute target.
   Needs the NAB corpus (``ANOMARK_NAB_DIR``); skipped with ``--quick``.

    python benchmarks/bench_postprocess.py [--quick] [--jobs 2]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections import deque

import numpy as np

from anomark.postprocess import AnomalyLikelihood, Chain, RangeRule, RunningZScore


def nupic_likelihood(scores: np.ndarray, learning: int, estimation: int, window: int = 8640,
                     period: int = 100, aw: int = 10) -> list[float]:
    """nupic's AnomalyLikelihood (one-sided tail), loop by loop: the reference speed."""
    history: deque[float] = deque(maxlen=window)
    dist = None
    out = []
    for i, s in enumerate(scores.tolist()):
        if i < learning + estimation:
            lik = 0.5
        else:
            if dist is None or i % period == 0:
                skip = min(i, max(0, learning - max(0, i - window)))
                hist: list[float] = []
                total = 0.0
                avgs = []
                for v in history:
                    if len(hist) == aw:
                        total -= hist.pop(0)
                    hist.append(v)
                    total += v
                    avgs.append(total / len(hist))
                data = np.array(avgs[skip:]) if len(avgs) > skip else None
                mean = max(float(data.mean()), 0.03) if data is not None else 0.5
                std = math.sqrt(max(float(data.var()), 0.0003)) if data is not None else 1e3
                liks = [0.5 * math.erfc((a - mean) / std / 1.4142) for a in avgs[-aw:]]
                dist = [mean, std, hist, total, liks]
            mean, std, hist, total, liks = dist
            if len(hist) == aw:
                total -= hist.pop(0)
            hist.append(s)
            total += s
            p = 0.5 * math.erfc((total / len(hist) - mean) / std / 1.4142)
            filtered = 1e-3 if liks and p <= 1e-5 and liks[-1] <= 1e-5 else p
            liks = [*liks, p][-aw:]
            dist = [mean, std, hist, total, liks]
            lik = 1.0 - filtered
        history.append(s)
        out.append(math.log(1.0000000001 - lik) / -23.02585084720009)
    return out


def rate(func, n: int, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - t0)
    return n / best


def throughput(n: int) -> None:
    rng = np.random.default_rng(0)
    scores = np.abs(rng.normal(1.0, 0.2, n))
    values = np.cumsum(rng.normal(size=n))
    makers = {
        "RunningZScore()": lambda: RunningZScore(),
        "RunningZScore(window=2000)": lambda: RunningZScore(window=2000),
        "AnomalyLikelihood()": lambda: AnomalyLikelihood(),
        "RangeRule()": lambda: RangeRule(),
        "zscore+range (benchmark default)": lambda: Chain([RunningZScore(burn_in=128),
                                                           RangeRule(value=10.0)]),
    }
    print(f"post-processor throughput on {n:,} rows (rows/s, best of 3)")
    print(f"{'post-processor':36s} {'one call':>12s} {'chunks of 100':>14s}")
    for name, make in makers.items():
        whole = rate(lambda make=make: make().update(scores, values=values), n)

        def chunked(make=make) -> None:  # type: ignore[no-untyped-def]
            proc = make()
            for k in range(0, n, 100):
                proc.update(scores[k:k + 100], values=values[k:k + 100])

        print(f"{name:36s} {whole:12,.0f} {rate(chunked, n, repeat=1):14,.0f}")
    m = min(n, 50_000)
    ours = rate(lambda: AnomalyLikelihood().update(scores[:m]), m)
    ref = rate(lambda: nupic_likelihood(scores[:m], 375, 375), m, repeat=1)
    print(f"AnomalyLikelihood vs nupic's loop ({m:,} rows): {ours:,.0f} vs {ref:,.0f} rows/s "
          f"= {ours / ref:.1f}x")


def corpus(jobs: int) -> None:
    from anomark.benchmark import run_nab_benchmark

    with tempfile.TemporaryDirectory(prefix="anomark-bench-") as tmp:
        t0 = time.perf_counter()
        result = run_nab_benchmark(["rcf"], mode="stream", jobs=jobs, cache_dir=tmp,
                                   progress=False)
        wall = time.perf_counter() - t0
    row = result.summary.loc["rcf"]
    print(f"NAB stream mode, rcf, {result.config['postprocess']}, seasonal "
          f"{result.config['seasonal']}, --jobs {jobs}: "
          f"standard {row['standard']:.2f}, low FP {row['reward_low_FP_rate']:.2f}, "
          f"low FN {row['reward_low_FN_rate']:.2f}")
    print(f"wall {wall:.1f} s (target < 180 s: {wall / 180:.2f} of it); scoring "
          f"{row['seconds']:.1f} s summed over series; threshold search "
          f"{result.timings['rcf']['threshold_search_seconds']:.1f} s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes, no NAB corpus run")
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args(argv)
    throughput(20_000 if args.quick else 365_000)
    if not args.quick:
        corpus(args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())

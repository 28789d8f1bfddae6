"""Benchmark anomark's local Random Cut Forest against krcf (AWS's RCF in Rust), rrcf and
scikit-learn's IsolationForest, all measured in the same run.

Run: ``python benchmarks/bench_rcf.py [--quick] [--skip-nab] [--skip-scaling]``
(``nox -s bench`` installs krcf and rrcf). Needs the NAB corpus (``ANOMARK_NAB_DIR``).

Sections
--------
1. JIT: first-call cost of the compiled kernels, cold (empty cache) and warm (cached on disk).
2. NYC taxi (10,320 points, shingle 48, 100 trees, 256 samples): fit+score time of anomark vs
   krcf's batch use (every shingle inserted with ``lambda=0``, i.e. a uniform reservoir sample,
   then every shingle scored), median of 3; numba vs numpy scoring; rrcf on a subset; Spearman
   rank agreement of the scores with krcf's.
3. All NAB series: total time and mean best event F1 (best over all thresholds) of anomark RCF,
   krcf and IsolationForest, each on the same shingles (``RCFDetector.default_window`` per series).
4. Scaling: fit+score time, points/second and peak traced memory for 10k, 100k, 1M points
   (1-D, shingle 8).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from anomark import Dataset, RCFDetector
from anomark.detectors.rcf.forest import RandomCutForest
from anomark.windowing import Windowing

# the numpy reference scorer is a test helper, not part of the package
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _rcf_numpy import score_forest_numpy

NYC = "realKnownCause/nyc_taxi.csv"


# ---------------------------------------------------------------------- helpers
def nab_dir() -> Path:
    value = os.environ.get("ANOMARK_NAB_DIR")
    if value and Path(value).is_dir():
        return Path(value)
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "nab"
    if default.is_dir():
        return default
    sys.exit("NAB corpus not found: set ANOMARK_NAB_DIR")


def load_series(root: Path, name: str) -> Dataset:
    """A NAB series via anomark.datasets.nab (repeated DST timestamps: first row kept)."""
    from anomark.datasets import nab

    os.environ.setdefault("ANOMARK_NAB_DIR", str(root))
    return nab.load(name)


def load_windows(root: Path) -> dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]]:
    raw = json.loads((root / "labels" / "combined_windows.json").read_text())
    return {k: [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in v] for k, v in raw.items()}


def best_f1(scores: pd.Series, windows: list[tuple[pd.Timestamp, pd.Timestamp]]) -> float:
    """Best event F1 over all thresholds (NaN for a series without labelled windows)."""
    if not windows:
        return float("nan")
    from anomark.evaluation import best_event_f1

    return float(best_event_f1(scores, windows)[0])


def timed(fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def timed_cpu(fn: Callable[..., Any], *args: Any) -> tuple[tuple[float, float], Any]:
    """((wall seconds, process CPU seconds), result)."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args)
    return (time.perf_counter() - w0, time.process_time() - c0), out


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra = pd.Series(a).rank().to_numpy()
    rb = pd.Series(b).rank().to_numpy()
    return float(np.corrcoef(ra, rb)[0, 1])


def krcf_batch(shingles: np.ndarray, num_trees: int, samples: int, seed: int) -> np.ndarray:
    """krcf used like SageMaker's batch RCF: insert all shingles (uniform reservoir), score all."""
    import krcf

    forest = krcf.RandomCutForest(
        {  # type: ignore[typeddict-unknown-key]
            "dimensions": shingles.shape[1],
            "shingle_size": 1,
            "num_trees": num_trees,
            "sample_size": samples,
            "random_seed": seed,
            "lambda": 0.0,
            "output_after": 1,
        }
    )
    for row in shingles:
        forest.update(row)
    return np.array([forest.score(row) for row in shingles])


def anomark_windows(values: np.ndarray, size: int, seed: int, n_jobs: int | None) -> np.ndarray:
    forest = RandomCutForest(100, 256, random_state=seed, n_jobs=n_jobs)
    return forest.fit_series(values, size).score_series(values, size)


# ---------------------------------------------------------------------- 1. JIT
_JIT_SNIPPET = """
import time, numpy as np
t0 = time.perf_counter()
from anomark.detectors.rcf.forest import RandomCutForest
x = np.random.default_rng(0).normal(size=2000)
for kind in ("anomaly", "codisp"):
    RandomCutForest(50, 64, random_state=0, score_type=kind).fit_series(x, 4).score_series(x, 4)
print(time.perf_counter() - t0)
"""


def bench_jit(quick: bool) -> None:
    print("\n== 1. JIT cost (import + first fit/score in a fresh process) ==")
    with tempfile.TemporaryDirectory() as cache:
        # --quick: only the warm start, from the package's own cache
        env = dict(os.environ) if quick else dict(os.environ, NUMBA_CACHE_DIR=cache)
        times = []
        for _ in range(1 if quick else 2):
            out = subprocess.run(
                [sys.executable, "-c", _JIT_SNIPPET], env=env, capture_output=True, text=True,
                check=True,
            )
            times.append(float(out.stdout.strip().splitlines()[-1]))
    if not quick:
        print(f"cold (compile, empty cache): {times[0]:.2f} s")
    print(f"warm (cache=True, from disk): {times[-1]:.2f} s")


# ---------------------------------------------------------------------- 2. NYC taxi
def bench_nyc(root: Path, quick: bool) -> None:
    print("\n== 2. NYC taxi: 10,320 points, shingle 48, 100 trees, 256 samples ==")
    ds = load_series(root, NYC)
    values = ds.values
    size = 48
    shingles = Windowing(size).shingles(values)
    n_rep = 3
    n_krcf = 1 if quick else n_rep
    anomark_warm = anomark_windows(values[:500], size, 0, None)  # make sure kernels are loaded
    del anomark_warm

    # Runs are interleaved (krcf, anomark, ...) so that both see the same machine load; wall
    # time and process CPU time (all threads) are both reported.
    runs: dict[str, list[tuple[float, float]]] = {}
    krcf_scores: list[np.ndarray] = []
    scores_1: list[np.ndarray] = []
    labels = {
        "krcf": "krcf (insert all + score all)",
        "a1": "anomark fit+score, n_jobs=1",
        "a2": "anomark fit+score, n_jobs=-1",
        "det": "RCFDetector(shingle_size=48).fit (scores + threshold), n_jobs=None",
    }
    for seed in range(n_rep):
        if seed < n_krcf:
            t, s = timed_cpu(krcf_batch, shingles, 100, 256, seed)
            runs.setdefault("krcf", []).append(t)
            krcf_scores.append(s)
        t, s = timed_cpu(anomark_windows, values, size, seed, 1)
        runs.setdefault("a1", []).append(t)
        scores_1.append(s)
        t, _ = timed_cpu(anomark_windows, values, size, seed, -1)
        runs.setdefault("a2", []).append(t)
        t, _ = timed_cpu(RCFDetector(shingle_size=size, random_state=seed).fit, ds)
        runs.setdefault("det", []).append(t)
    k_wall = statistics.median(w for w, _ in runs["krcf"])
    k_cpu = statistics.median(c for _, c in runs["krcf"])
    for key, label in labels.items():
        wall = statistics.median(w for w, _ in runs[key])
        cpu = statistics.median(c for _, c in runs[key])
        ratio = "" if key == "krcf" else (
            f" -> {k_wall / wall:.1f}x faster than krcf (wall), {k_cpu / cpu:.1f}x (CPU)"
        )
        print(f"{label}: median of {len(runs[key])}: wall {wall:.3f} s, CPU {cpu:.3f} s{ratio}")

    fast = RandomCutForest(100, 256, random_state=0, n_jobs=1).fit_series(values, size)
    t_np, s_np = timed(lambda: score_forest_numpy(fast, shingles))
    t_nb, s_nb = timed(lambda: fast.score_series(values, size))
    print(
        f"scoring only, numpy reference {t_np:.3f} s vs numba (1 thread) {t_nb:.3f} s: "
        f"numba {t_np / t_nb:.1f}x faster; max |difference| {np.abs(s_np - s_nb).max():.1e}"
    )

    rho = [spearman(a, k) for a in scores_1 for k in krcf_scores]
    rho_a = [spearman(scores_1[i], scores_1[j]) for i in range(3) for j in range(i + 1, 3)]
    print(
        f"Spearman anomark vs krcf ({len(scores_1)}x{len(krcf_scores)} seeds): median "
        f"{statistics.median(rho):.3f} [{min(rho):.3f}, {max(rho):.3f}]"
    )
    noise = f"anomark vs anomark median {statistics.median(rho_a):.3f}"
    if len(krcf_scores) > 1:
        n_k = len(krcf_scores)
        rho_k = [
            spearman(krcf_scores[i], krcf_scores[j]) for i in range(n_k) for j in range(i + 1, n_k)
        ]
        noise = f"krcf vs krcf median {statistics.median(rho_k):.3f}, " + noise
    print(f"  noise floor at 100 trees (other seeds): {noise}")
    if not quick:
        big = RandomCutForest(1000, 256, random_state=99, n_jobs=-1).fit_series(values, size)
        s_big = big.score_series(values, size)
        rho_big = [spearman(s_big, k) for k in krcf_scores]
        print(
            "  anomark with 1000 trees (its own noise averaged out) vs krcf 100 trees: "
            f"median {statistics.median(rho_big):.3f}"
        )
    print(
        f"score scale: anomark mean {np.mean(scores_1[0]):.3f} max {np.max(scores_1[0]):.3f}; "
        f"krcf mean {np.mean(krcf_scores[0]):.3f} max {np.max(krcf_scores[0]):.3f}"
    )

    try:
        import rrcf
    except ImportError:  # pragma: no cover - optional
        print("rrcf not installed; skipped")
        return
    n_sub = 1000 if quick else 2000
    sub = shingles[:n_sub]

    def run_rrcf() -> None:
        # batch rrcf as in its README: trees on random subsets, CoDisp of every point
        rng = np.random.default_rng(0)
        for _ in range(100):
            idx = rng.choice(len(sub), size=256, replace=False)
            tree = rrcf.RCTree(sub[idx])
            for leaf in tree.leaves:
                tree.codisp(leaf)

    t_rrcf, _ = timed(run_rrcf)
    forest_sub = RandomCutForest(100, 256, random_state=0, score_type="codisp", n_jobs=1)
    t_sub, _ = timed(lambda: forest_sub.fit(sub).score(sub))
    print(
        f"rrcf (pure Python) building 100 trees of 256 and CoDisp of their points: "
        f"{t_rrcf:.2f} s; anomark CoDisp fit+score of all {n_sub} shingles: {t_sub:.3f} s "
        f"({t_rrcf / t_sub:.0f}x)"
    )


# ---------------------------------------------------------------------- 3. all NAB
def iforest_scores(values: np.ndarray, w: Windowing, seed: int) -> np.ndarray:
    """scikit-learn's IsolationForest on the same shingles, flipped (higher = more anomalous)."""
    from sklearn.ensemble import IsolationForest

    sh = w.shingles(values)
    model = IsolationForest(n_estimators=100, max_samples=256, random_state=seed, n_jobs=-1)
    return -model.fit(sh).score_samples(sh)


def bench_nab(root: Path, quick: bool, n_seeds: int = 3) -> None:
    windows = load_windows(root)
    names = sorted(windows)
    seeds = [0] if quick else list(range(n_seeds))
    if quick:
        names = names[::20]
    print(
        f"\n== 3. NAB: {len(names)} series, default shingle size, 100 trees, 256 samples, "
        f"seeds {seeds} ==")
    keys = ("anomark", "krcf", "iforest")
    totals = {k: 0.0 for k in keys}  # summed over seeds
    f1s: dict[str, dict[int, list[float]]] = {k: {s: [] for s in seeds} for k in keys}
    n_points = 0
    for name in names:
        ds = load_series(root, name)
        size = RCFDetector.default_window(ds)
        values = ds.values
        n_points += len(ds)
        w = Windowing(size)
        for seed in seeds:
            # fit scores the training data once; fit_detect returns those scores
            det = RCFDetector(shingle_size=size, random_state=seed, n_jobs=-1)
            t, result = timed(det.fit_detect, ds)
            totals["anomark"] += t
            f1s["anomark"][seed].append(best_f1(result.scores, windows[name]))

            t, ks = timed(krcf_batch, w.shingles(values), 100, 256, seed)
            totals["krcf"] += t
            ks_points = pd.Series(w.to_points(ks, len(values)), index=ds.index)
            f1s["krcf"][seed].append(best_f1(ks_points, windows[name]))

            t, iso = timed(iforest_scores, values, w, seed)
            totals["iforest"] += t
            iso_points = pd.Series(w.to_points(iso, len(values)), index=ds.index)
            f1s["iforest"][seed].append(best_f1(iso_points, windows[name]))
    labelled = int(np.sum(~np.isnan(f1s["anomark"][seeds[0]])))
    print(f"{n_points} points; {labelled} series with labelled windows")
    means = {k: [float(np.nanmean(f1s[k][s])) for s in seeds] for k in keys}
    for key, label in (
        ("anomark", "anomark RCF (n_jobs=-1)"),
        ("krcf", "krcf batch"),
        ("iforest", "sklearn IsolationForest"),
    ):
        per_seed = ", ".join(f"{m:.3f}" for m in means[key])
        print(
            f"{label}: total {totals[key] / len(seeds):.1f} s per corpus pass, mean best event "
            f"F1 {np.mean(means[key]):.3f} (per seed: {per_seed})"
        )
    diff = np.mean(means["anomark"]) - np.mean(means["krcf"])
    print(
        f"ratios: anomark {totals['krcf'] / totals['anomark']:.1f}x faster than krcf, "
        f"{totals['iforest'] / totals['anomark']:.2f}x the speed of IsolationForest; "
        f"F1 anomark - krcf = {diff:+.3f} (mean over seeds)"
    )


# ---------------------------------------------------------------------- 4. scaling
def peak_rss_mib() -> float:
    """Peak resident memory of this process (Linux ``VmHWM``; ``ru_maxrss`` elsewhere).

    ``ru_maxrss`` survives ``exec`` on Linux, so in a child process it would report the parent's
    peak; ``VmHWM`` starts afresh with the new program.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_scaling(quick: bool) -> None:
    sizes = [10_000, 100_000] if quick else [10_000, 100_000, 1_000_000]
    print("\n== 4. Scaling: 1-D, shingle 8, 100 trees, 256 samples, RCFDetector.fit (n_jobs=-1) ==")
    rng = np.random.default_rng(0)
    RCFDetector(shingle_size=8, random_state=0, n_jobs=-1).fit(rng.normal(size=500))  # warm-up
    base_rss = peak_rss_mib()
    rows = []
    for n in sizes:
        t_idx = np.arange(n)
        x = np.sin(2 * np.pi * t_idx / 100) + 0.1 * rng.normal(size=n)
        det = RCFDetector(shingle_size=8, random_state=0, n_jobs=-1)
        tracemalloc.start()
        t, _ = timed(det.fit, x)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        shingled = (n - 7) * 8 * 8
        rows.append((n, t, n / t, peak, shingled))
        print(
            f"n={n:>9,}: fit+score {t:7.2f} s, {n / t:12,.0f} points/s, peak traced memory "
            f"{peak / 2**20:8.1f} MiB (input {x.nbytes / 2**20:.1f} MiB; a shingled matrix "
            f"would be {shingled / 2**20:.1f} MiB and is never built)"
        )
    if len(rows) > 1:
        (n0, t0, *_), (n1, t1, *_) = rows[0], rows[-1]
        print(
            f"time ratio {t1 / t0:.1f}x for {n1 / n0:.0f}x points "
            f"(exponent {np.log(t1 / t0) / np.log(n1 / n0):.2f}; 1.0 = linear)"
        )
    rss = peak_rss_mib()
    print(
        f"max RSS of this process: {rss:.0f} MiB, of which {base_rss:.0f} MiB before the first "
        "run (Python, numpy, pandas, scikit-learn, numba and the compiled kernels)"
    )


# ---------------------------------------------------------------------- 5. shingle cap
def bench_caps(root: Path, caps: list[int]) -> None:
    """How the default window's cap was chosen: mean best event F1 and time per cap on NAB."""
    windows = load_windows(root)
    names = sorted(windows)
    print(f"\n== 5. Shingle-size cap of RCFDetector.default_window ({len(names)} NAB series) ==")
    series = [(name, load_series(root, name)) for name in names]
    for cap in caps:
        f1s, total, sizes = [], 0.0, set()
        for name, ds in series:
            size = RCFDetector.default_window(ds, cap=cap)
            sizes.add(size)
            det = RCFDetector(shingle_size=size, random_state=0, n_jobs=-1)
            t, result = timed(det.fit_detect, ds)
            total += t
            f1s.append(best_f1(result.scores, windows[name]))
        print(
            f"cap {cap:>4}: shingle sizes {sorted(sizes)}, total {total:6.1f} s, "
            f"mean best event F1 {np.nanmean(f1s):.3f}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced sizes (about a minute)")
    parser.add_argument("--skip-nab", action="store_true")
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument(
        "--caps", type=str, default="",
        help="comma-separated shingle caps to compare on NAB (e.g. 24,48,96,288); off by default",
    )
    parser.add_argument("--only-caps", action="store_true", help="run only the --caps section")
    parser.add_argument("--only-scaling", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--only-nab", action="store_true", help="run only the all-NAB section")
    parser.add_argument("--nab-seeds", type=int, default=3, metavar="N",
                        help="seeds 0..N-1 for the all-NAB section (default 3)")
    args = parser.parse_args(argv)
    import numba

    threads = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
    if not args.only_scaling:
        print(f"anomark RCF benchmark; numba {numba.__version__}, {threads} threads")
    root = nab_dir()
    caps = [int(c) for c in args.caps.split(",") if c.strip()]
    if args.only_scaling:
        bench_scaling(args.quick)
        return
    if args.only_caps:
        bench_caps(root, caps or [24, 48, 96, 288])
        return
    if args.only_nab:
        bench_nab(root, args.quick, args.nab_seeds)
        return
    bench_jit(args.quick)
    bench_nyc(root, args.quick)
    if not args.skip_nab:
        bench_nab(root, args.quick, args.nab_seeds)
    if not args.skip_scaling:
        # a fresh process, so that its max RSS measures the scaling runs alone
        cmd = [sys.executable, __file__, "--only-scaling"] + (["--quick"] if args.quick else [])
        sys.stdout.flush()
        subprocess.run(cmd, check=True)
    if caps:
        bench_caps(root, caps)


if __name__ == "__main__":
    main()

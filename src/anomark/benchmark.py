"""Run detectors over the whole NAB corpus the way NAB requires, and score them.

No look-ahead: each detector is fitted on the first rows of a series (NAB's probationary
period, ``min(floor(0.15 n), 750)`` rows, which NAB's scorer ignores) and then scores the
whole series with windows that end at the scored timestamp, so a score never depends on later
data. Scores are standardised per series with the mean and standard deviation of the
probationary scores (also no look-ahead), so one threshold can serve the corpus.

NAB counts every flagged row outside a window as a false positive, so a detector that stays
above the threshold for a while is charged many times for one alarm. Following NAB's own
detectors (which report an alarm once and then stay quiet), flags are turned into *alarm
onsets*: a row is a detection when its score crosses the threshold and no detection happened in
the previous ``refractory`` rows (default: one day of samples, at least 1). The threshold is then
chosen as NAB prescribes: one per detector and profile, maximising the corpus raw score.

Results are cached per detector and series (``.npz`` + JSON, written atomically), so an
interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from anomark.dataset import Dataset
from anomark.detectors.base import Detector, get_detector_class
from anomark.errors import ConfigurationError, DataError
from anomark.evaluation.nab import NAB_PROFILES, probation_rows
from anomark.persistence import atomic_write_bytes
from anomark.windowing import DEFAULT_WINDOW_CAP

__all__ = [
    "PROFILES",
    "BenchmarkResult",
    "alarm_onsets",
    "make_nab_detector",
    "probation_rows",
    "published_scores",
    "run_nab_benchmark",
    "score_nab_series",
]

PROFILES = tuple(NAB_PROFILES)
CACHE_FORMAT = 1


def _rows_per_day(ds: Dataset) -> int:
    """Rows in one day (the refractory period of alarm onsets); 1 without a time index."""
    step = ds.infer_freq()
    if step is None or step <= pd.Timedelta(0):
        return 1
    return max(1, round(pd.Timedelta("1D") / step))


def make_nab_detector(name: str, ds: Dataset, n_train: int, seed: int = 0) -> Detector:
    """The configuration used for detector ``name`` on one NAB series.

    The window follows the detector's own default rule (:meth:`Detector.default_window`: one
    day of samples, at most 48), capped so that the probationary period still holds at least 8
    windows; the detector's :attr:`~Detector.benchmark_params` are added.
    """
    cls = get_detector_class(name)
    params: dict[str, Any] = {"random_state": seed, **cls.benchmark_params}
    if cls.window_param is not None:
        cap = max(1, min(DEFAULT_WINDOW_CAP, n_train // 8))
        params[cls.window_param] = cls.default_window(ds, cap=cap)
    return cls(**params)


def refit_points(n_rows: int, refits: int) -> list[int]:
    """Row indices where a model is (re)fitted on all rows before it.

    The first is the end of the probationary period; ``refits`` more are spread evenly over
    the rest of the series (expanding history).
    """
    start = probation_rows(n_rows)
    if refits <= 0:
        return [start]
    step = (n_rows - start) / (refits + 1)
    return sorted({start, *(start + round(step * k) for k in range(1, refits + 1))})


def score_nab_series(
    detector: str, series: str, seed: int = 0, refits: int = 0
) -> dict[str, Any]:
    """Score one NAB series without look-ahead; standardised scores + timings.

    A model is fitted on the probationary period and scores the rows up to the next refit
    point; with ``refits > 0`` a new model is fitted there on all earlier rows (expanding
    history) and scores the next stretch, and so on. Each stretch's scores are standardised
    with the mean and standard deviation of its model's training scores.
    """
    from anomark.datasets import nab

    ds = nab.load(series)
    frame = ds.frame
    n = len(ds)
    points = refit_points(n, refits)
    bounds = [0, *points[1:], n]  # stretch k is scored by the model fitted on rows < points[k]
    raw = np.empty(n)
    z = np.empty(n)
    fit_seconds = score_seconds = 0.0
    det: Detector | None = None
    for k, cut in enumerate(points):
        train = Dataset(frame.iloc[:cut], name=ds.name)
        det = make_nab_detector(detector, ds, points[0], seed)
        t0 = time.perf_counter()
        ref = det.fit_detect(train).scores.to_numpy()
        t1 = time.perf_counter()
        lo, hi = bounds[k], bounds[k + 1]
        # score the stretch with enough earlier rows for its first windows (no later rows)
        context = max(0, lo - 2 * points[0])
        part = det.score(Dataset(frame.iloc[context:hi], name=ds.name)).to_numpy()[lo - context :]
        score_seconds += time.perf_counter() - t1
        fit_seconds += t1 - t0
        std = float(ref.std())
        raw[lo:hi] = part
        z[lo:hi] = (part - float(ref.mean())) / (std if std > 0 else 1.0)
    assert det is not None
    return {
        "scores": z,
        "raw": raw,
        "fit_seconds": fit_seconds,
        "score_seconds": score_seconds,
        "params": {k: v for k, v in det.get_params().items() if _jsonable(v)},
        "rows_per_day": _rows_per_day(ds),
        "refit_points": points,
    }


def _jsonable(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def alarm_onsets(flags: np.ndarray, refractory: int) -> np.ndarray:
    """Keep a flag only when no kept flag lies in the previous ``refractory`` rows.

    ``refractory=0`` keeps every flag. Runs in a single pass over the flagged rows.
    """
    flags = np.asarray(flags, dtype=bool)
    if refractory <= 0:
        return flags.copy()
    out = np.zeros_like(flags)
    last = -(10**18)
    for i in np.flatnonzero(flags):
        if i - last > refractory:
            out[i] = True
            last = int(i)
    return out


@dataclass
class BenchmarkResult:
    """Outcome of :func:`run_nab_benchmark`.

    Attributes
    ----------
    summary : pandas.DataFrame
        One row per detector: NAB score and threshold per profile, mean event
        precision/recall/F1 at the standard threshold, mean VUS-PR and VUS-ROC of the scores
        and mean range F1 of the flags ``score >= standard threshold`` (before alarm onsets),
        over the series with windows; total fit and score seconds.
    per_series : pandas.DataFrame
        One row per detector and series.
    """

    summary: pd.DataFrame
    per_series: pd.DataFrame
    thresholds: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_text(self) -> str:
        """The summary as a plain-text table."""
        cols = [f"{p}" for p in PROFILES] + ["precision", "recall", "f1", *RANGE_COLUMNS,
                                             "seconds"]
        cols = [c for c in cols if c in self.summary.columns]
        table = self.summary[cols].copy()
        return table.to_string(float_format=lambda v: f"{v:.2f}")


#: Range metrics of the summary: means over the series with windows (:func:`_range_metrics`).
RANGE_COLUMNS = ("vus_pr", "vus_roc", "range_f1")


def _range_metrics(
    name: str, scores: pd.Series, windows: Any, threshold: float
) -> dict[str, float]:
    """VUS-PR / VUS-ROC of one series' scores and range precision/recall/F1 of ``scores >=
    threshold``; ``nan`` for a series without windows (the metrics are undefined there), or,
    with a warning naming the series, for scores on which they are undefined (constant)."""
    import warnings

    from anomark.evaluation import range_precision_recall, vus

    out = dict.fromkeys(("vus_pr", "vus_roc", "range_precision", "range_recall", "range_f1"),
                        math.nan)
    if not windows:
        return out
    try:
        out.update(vus(scores, windows))
    except DataError as exc:
        warnings.warn(f"{name}: VUS not computed: {exc}", UserWarning, stacklevel=2)
    p, r, f = range_precision_recall(scores >= threshold, windows)
    out.update(range_precision=p, range_recall=r, range_f1=f)
    return out


def _cache_key(detector: str, seed: int, refits: int) -> str:
    from anomark._version import __version__

    text = json.dumps({"detector": detector, "seed": seed, "refits": refits,
                       "version": __version__, "format": CACHE_FORMAT})
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _cache_file(cache_dir: Path, detector: str, seed: int, refits: int, series: str) -> Path:
    safe = series.replace("/", "__")
    return cache_dir / f"{detector}-{_cache_key(detector, seed, refits)}" / f"{safe}.npz"


def _load_cached(file: Path) -> dict[str, Any] | None:
    meta = file.with_suffix(".json")
    if not (file.is_file() and meta.is_file()):
        return None
    try:
        with np.load(file, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        info = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {**info, "scores": arrays["scores"], "raw": arrays["raw"]}


def _store_cached(file: Path, result: Mapping[str, Any]) -> None:
    import io

    buf = io.BytesIO()
    np.savez(buf, scores=result["scores"], raw=result["raw"])
    atomic_write_bytes(file, buf.getvalue())
    info = {k: v for k, v in result.items() if k not in ("scores", "raw")}
    atomic_write_bytes(file.with_suffix(".json"), json.dumps(info).encode())


def _score_all(
    detector: str,
    series: Sequence[str],
    *,
    seed: int,
    refits: int,
    jobs: int,
    cache_dir: Path,
    progress: bool,
) -> dict[str, dict[str, Any]]:
    from tqdm.auto import tqdm

    results: dict[str, dict[str, Any]] = {}
    todo = []
    for name in series:
        cached = _load_cached(_cache_file(cache_dir, detector, seed, refits, name))
        if cached is not None:
            results[name] = cached
        else:
            todo.append(name)
    bar = tqdm(total=len(series), initial=len(results), desc=f"NAB {detector}",
               disable=not progress, unit="series")
    try:
        def done(name: str, result: dict[str, Any]) -> None:
            results[name] = result
            _store_cached(_cache_file(cache_dir, detector, seed, refits, name), result)
            bar.update(1)

        if jobs > 1 and len(todo) > 1:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                futures = {
                    pool.submit(score_nab_series, detector, n, seed, refits): n for n in todo
                }
                for fut in as_completed(futures):
                    done(futures[fut], fut.result())
        else:
            for name in todo:
                done(name, score_nab_series(detector, name, seed, refits))
    finally:
        bar.close()
    return {n: results[n] for n in series}


def run_nab_benchmark(
    detectors: Iterable[str],
    *,
    series: Sequence[str] | None = None,
    profiles: Sequence[str] = PROFILES,
    jobs: int = 1,
    seed: int = 0,
    refits: int = 0,
    cache_dir: str | os.PathLike[str] = ".anomark-bench",
    refractory: int | Callable[[int], int] | None = None,
    progress: bool = True,
) -> BenchmarkResult:
    """Run detectors over NAB and score them with NAB's rules.

    Parameters
    ----------
    detectors : iterable of str
        Registered detector names (``"rcf"``, ``"iforest"``, ``"conv-ae"``).
    series : sequence of str, optional
        NAB series to use (default: all 58). Scores are normalised over the series used.
    profiles : sequence of str
        NAB profiles to report.
    jobs : int, default 1
        Worker processes (one series per task).
    seed : int, default 0
        Seed for every detector.
    refits : int, default 0
        Refit each detector this many times on expanding history after the probationary
        period (evenly spaced); 0 fits once, on the probationary period.
    cache_dir : path, default ".anomark-bench"
        Per-series results are cached here; a rerun (or an interrupted run) reuses them.
    refractory : int or callable, optional
        Rows after a detection during which no new detection is reported; a callable gets
        the series' rows per day. Default: one day of samples.
    progress : bool, default True
        Show a progress bar per detector.

    Returns
    -------
    BenchmarkResult
    """
    from anomark.datasets import nab
    from anomark.evaluation import event_scores, nab_optimize_threshold, nab_score

    names = list(series) if series is not None else nab.names()
    if not names:
        raise DataError("no NAB series selected")
    detectors = list(detectors)
    if not detectors:
        raise ConfigurationError("no detectors given")
    for d in detectors:
        get_detector_class(d)
    if jobs < 1:
        raise ConfigurationError(f"jobs must be >= 1, got {jobs}")
    if isinstance(refits, bool) or not isinstance(refits, int) or refits < 0:
        raise ConfigurationError(f"refits must be an integer >= 0, got {refits!r}")
    windows = {n: nab.windows(n) for n in names}
    cache = Path(cache_dir)

    def refractory_for(rows_per_day: int) -> int:
        if refractory is None:
            return rows_per_day
        return int(refractory(rows_per_day)) if callable(refractory) else int(refractory)

    summary_rows = []
    series_rows = []
    thresholds: dict[str, dict[str, float]] = {}
    for det_name in detectors:
        results = _score_all(det_name, names, seed=seed, refits=refits, jobs=jobs,
                             cache_dir=cache, progress=progress)
        index = {n: nab.load(n).index for n in names}
        scores = {n: pd.Series(r["scores"], index=index[n]) for n, r in results.items()}
        gaps = {n: refractory_for(int(r["rows_per_day"])) for n, r in results.items()}
        # NAB's rule: one threshold per profile over the corpus. Onsets depend on the
        # threshold, so search candidate thresholds (quantiles of all scores, plus the exact
        # optimum of the raw flags) and keep the best.
        row: dict[str, Any] = {"detector": det_name}
        thresholds[det_name] = {}
        all_scores = np.concatenate([s.to_numpy() for s in scores.values()])
        candidates = np.unique(np.quantile(all_scores, np.linspace(0.80, 0.99999, 240)))
        for profile in profiles:
            exact, _ = nab_optimize_threshold(scores, windows, profile)
            cands = np.append(candidates, exact) if math.isfinite(exact) else candidates
            best = (-math.inf, math.inf)
            for thr in cands:
                flags = {n: pd.Series(alarm_onsets(s.to_numpy() >= thr, gaps[n]), index=s.index)
                         for n, s in scores.items()}
                value = nab_score(flags, windows, profile)
                if value > best[0]:
                    best = (value, float(thr))
            row[profile] = best[0]
            thresholds[det_name][profile] = best[1]
        thr = thresholds[det_name].get("standard", next(iter(thresholds[det_name].values())))
        prf = []
        for n, s in scores.items():
            onsets = pd.Series(alarm_onsets(s.to_numpy() >= thr, gaps[n]), index=s.index)
            ev = event_scores(onsets, windows[n])
            ev.update(_range_metrics(n, s, windows[n], thr))
            prf.append(ev)
            series_rows.append({
                "detector": det_name, "series": n, "rows": len(s),
                "fit_seconds": results[n]["fit_seconds"],
                "score_seconds": results[n]["score_seconds"],
                "precision": ev["precision"], "recall": ev["recall"], "f1": ev["f1"],
                "detected": ev["detected"], "false_alarms": ev["false_alarms"],
                "n_windows": len(windows[n]),
                **{k: ev[k] for k in (*RANGE_COLUMNS, "range_precision", "range_recall")},
            })
        frame = pd.DataFrame(prf)
        row["precision"] = float(np.nanmean(frame["precision"].astype(float)))
        row["recall"] = float(np.nanmean(frame["recall"].astype(float)))
        row["f1"] = float(np.nanmean(frame["f1"].astype(float)))
        for col in RANGE_COLUMNS:
            row[col] = float(np.nanmean(frame[col].astype(float)))
        row["seconds"] = float(sum(r["fit_seconds"] + r["score_seconds"] for r in results.values()))
        summary_rows.append(row)
    summary = pd.DataFrame(summary_rows).set_index("detector")
    return BenchmarkResult(summary, pd.DataFrame(series_rows), thresholds)


def published_scores() -> dict[str, dict[str, float]]:
    """NAB's published scoreboard (``results/final_results.json``) when a local NAB copy has it."""
    from anomark.datasets import nab

    folder = nab.data_dir()
    if folder is None:
        return {}
    file = Path(folder) / "results" / "final_results.json"
    if not file.is_file():
        return {}
    data = json.loads(file.read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if isinstance(v, dict)}


def write_outputs(result: BenchmarkResult, out_dir: str | os.PathLike[str],
                  profile: str = "standard") -> list[Path]:
    """Write ``summary.csv``, ``per_series.csv``, ``results.json`` and ``scoreboard.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for name, frame in (("summary.csv", result.summary), ("per_series.csv", result.per_series)):
        atomic_write_bytes(out / name, frame.to_csv().encode())
        files.append(out / name)
    payload = {"summary": json.loads(result.summary.to_json(orient="index")),
               "thresholds": result.thresholds,
               "per_series": json.loads(result.per_series.to_json(orient="records"))}
    atomic_write_bytes(out / "results.json", json.dumps(payload, indent=2).encode())
    files.append(out / "results.json")
    files.append(_scoreboard_png(result, out / "scoreboard.png", profile))
    return files


def _scoreboard_png(result: BenchmarkResult, file: Path, profile: str) -> Path:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    n_series = result.per_series["series"].nunique() if len(result.per_series) else 0
    subset = n_series != 58
    tag = f" ({n_series} of 58 series: NOT comparable)" if subset else ""
    bars = [(f"anomark {d}{tag}", float(result.summary.loc[d, profile]),
             "tab:orange" if subset else "tab:blue") for d in result.summary.index]
    for name, scores in published_scores().items():
        if profile in scores and name != "null":
            bars.append((name, float(scores[profile]), "tab:gray"))
    bars.sort(key=lambda b: b[1])
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(bars) + 1.5))
    ax.barh([b[0] for b in bars], [b[1] for b in bars], color=[b[2] for b in bars])
    for i, b in enumerate(bars):
        ax.text(b[1], i, f" {b[1]:.1f}", va="center", fontsize=8)
    ax.set_xlabel(f"NAB score ({profile} profile; grey: NAB's published scoreboard)")
    if subset:  # a score normalised over a subset is on another scale than the scoreboard's
        ax.set_title(f"NAB benchmark on {n_series} of 58 series: anomark's scores are NOT\n"
                     "comparable with NAB's scoreboard (grey, all 58 series)", color="tab:red")
    else:
        ax.set_title("NAB benchmark (anomark on the whole corpus)")
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(file, buf.getvalue())
    return file

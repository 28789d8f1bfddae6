"""Run detectors over the whole NAB corpus the way NAB requires, and score them.

No look-ahead, in two modes:

* ``mode="batch"``: each detector is fitted on the first rows of a series (NAB's
  probationary period, ``min(floor(0.15 n), 750)`` rows, which NAB's scorer ignores) and then
  scores the whole series with windows that end at the scored timestamp, so a score never
  depends on later data (``refits`` refits it on expanding history). Scores are standardised
  per series with the mean and standard deviation of the model's training scores.
* ``mode="stream"``: the detector learns the series row by row (``score_update``: each row is
  scored, then learned), from the first row on; the probationary rows warm the detector and
  the post-processing up and are ignored by NAB's scorer. The raw scores then go through causal
  post-processing (:mod:`anomark.postprocess`; default :data:`DEFAULT_STREAM_POSTPROCESS`).

NAB counts every flagged row outside a window as a false positive, so a detector that stays
above the threshold for a while is charged many times for one alarm. Following NAB's own
detectors (which report an alarm once and then stay quiet), flags are turned into *alarm
onsets*: a row is a detection when its score is at or above the threshold and no detection
happened in the previous ``refractory`` (default: one day of time, so irregularly sampled
series are treated like the others). The threshold is then chosen as NAB prescribes: one per
detector and profile, maximising the corpus score (:class:`anomark._nab_search.PreparedCorpus`).

Results are cached per detector and series (``.npz`` + JSON, written atomically), so an
interrupted run resumes where it stopped; post-processing runs on the cached raw scores, so
trying another ``postprocess`` does not rescore.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from anomark._nab_search import PreparedCorpus, alarm_onsets
from anomark.dataset import Dataset
from anomark.detectors.base import Detector, get_detector_class
from anomark.errors import ConfigurationError, DataError
from anomark.evaluation.nab import NAB_PROFILES, probation_rows
from anomark.persistence import atomic_write_bytes
from anomark.seasonal import DEFAULT_SEASONAL, parse_seasonal
from anomark.windowing import DEFAULT_WINDOW_CAP

__all__ = [
    "DEFAULT_SEASONAL",
    "DEFAULT_STREAM_POSTPROCESS",
    "MODES",
    "PROFILES",
    "BenchmarkResult",
    "alarm_onsets",
    "make_nab_detector",
    "postprocess_scores",
    "probation_rows",
    "published_scores",
    "check_streams",
    "run_nab_benchmark",
    "score_nab_series",
    "stream_nab_series",
    "stream_scores",
    "streaming_detectors",
]

PROFILES = tuple(NAB_PROFILES)
MODES = ("batch", "stream")
CACHE_FORMAT = 2
#: Post-processing of ``mode="stream"`` (see docs/benchmarks.md for how it was chosen).
DEFAULT_STREAM_POSTPROCESS = "zscore:burn_in=128+range:value=10.0"


def _rows_per_day(ds: Dataset) -> int:
    """Rows in one day (the refractory period of alarm onsets); 1 without a time index."""
    step = ds.infer_freq()
    if step is None or step <= pd.Timedelta(0):
        return 1
    return max(1, round(pd.Timedelta("1D") / step))


def make_nab_detector(
    name: str, ds: Dataset, n_train: int, seed: int = 0, seasonal: str = "none"
) -> Detector:
    """The configuration used for detector ``name`` on one NAB series.

    The window follows the detector's own default rule (:meth:`Detector.default_window`: one
    day of samples, at most 48), capped so that the probationary period still holds at least 8
    windows; the detector's :attr:`~Detector.benchmark_params` are added. ``seasonal`` is the
    text form of the ``seasonal=`` stage (:func:`anomark.seasonal.parse_seasonal`: ``"auto"``,
    ``"none"``, ``"7D"``...).

    Raises
    ------
    ConfigurationError
        A seasonal stage for a detector without the ``seasonal`` parameter.
    """
    cls = get_detector_class(name)
    params: dict[str, Any] = {"random_state": seed, **cls.benchmark_params}
    if cls.window_param is not None:
        cap = max(1, min(DEFAULT_WINDOW_CAP, n_train // 8))
        params[cls.window_param] = cls.default_window(ds, cap=cap)
    stage = parse_seasonal(seasonal)
    if stage is not None:
        if "seasonal" not in cls._get_param_names():
            raise ConfigurationError(f"detector {name!r} has no seasonal stage (seasonal=)")
        params["seasonal"] = stage
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
    detector: str, series: str, seed: int = 0, refits: int = 0, seasonal: str = "none"
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
        det = make_nab_detector(detector, ds, points[0], seed, seasonal)
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


def stream_scores(
    detector: str, ds: Dataset, seed: int = 0, seasonal: str = "none"
) -> tuple[np.ndarray, np.ndarray, float, Detector]:
    """Raw streaming scores of one series: the detector scores each row, then learns it.

    The detector is :func:`make_nab_detector`'s (window capped by the probationary period),
    started cold on the first row; rows before the detector can score get its own
    convention (RCF: ``0.0`` until its samples hold ``output_after`` shingles). Returns the
    scores, which rows the detector was ready to score (its post-processing sees only
    those, as in :meth:`~anomark.detectors.rcf.RCFDetector.score_update`), the seconds spent
    and the detector.

    Raises
    ------
    ConfigurationError
        A detector without ``score_update`` (only streaming detectors run in stream mode).
    """
    check_streams(detector)
    det = make_nab_detector(detector, ds, probation_rows(len(ds)), seed, seasonal)
    t0 = time.perf_counter()
    raw = np.asarray(det.score_update(ds), dtype=np.float64)  # type: ignore[attr-defined]
    seconds = time.perf_counter() - t0
    first = _first_ready_row(det)
    ready = np.arange(len(raw)) >= (first if first is not None else 0)
    return raw, ready, seconds, det


def _learns_streams(cls: type[Detector]) -> bool:
    return callable(getattr(cls, "score_update", None))


def streaming_detectors() -> list[str]:
    """The registered detectors that learn a stream (they have ``score_update``)."""
    from anomark.detectors import available_detectors

    return [name for name, cls in available_detectors().items() if _learns_streams(cls)]


def check_streams(detector: str) -> None:
    """Refuse a detector that cannot run in stream mode.

    Raises
    ------
    ConfigurationError
        ``detector`` has no ``score_update``.
    """
    if not _learns_streams(get_detector_class(detector)):
        raise ConfigurationError(
            f"detector {detector!r} cannot learn a stream (no score_update); stream mode "
            f"needs a streaming detector ({', '.join(streaming_detectors())}; use "
            "mode='batch' for the others)"
        )


def _first_ready_row(det: Detector) -> int | None:
    """The first row a cold-started streaming detector scores: a full window, and the
    forest's ``output_after`` shingles before it (RCF); ``None`` when it does not say."""
    forest = getattr(det, "forest_", None)
    output_after = getattr(forest, "output_after_", None)
    size = getattr(det, "shingle_size", None)
    if output_after is None or size is None:
        return None
    return int(size) - 1 + int(output_after)


def stream_nab_series(
    detector: str, series: str, seed: int = 0, seasonal: str = "none"
) -> dict[str, Any]:
    """:func:`stream_scores` on one NAB series, as the benchmark caches it."""
    from anomark.datasets import nab

    ds = nab.load(series)
    raw, ready, seconds, det = stream_scores(detector, ds, seed, seasonal)
    return {
        "scores": raw,
        "raw": raw,
        "ready": ready,
        "fit_seconds": 0.0,
        "score_seconds": seconds,
        "params": {k: v for k, v in det.get_params().items() if _jsonable(v)},
        "rows_per_day": _rows_per_day(ds),
        "refit_points": [],
    }


def postprocess_scores(
    postprocess: Any, scores: np.ndarray, values: np.ndarray, ready: np.ndarray | None = None
) -> np.ndarray:
    """Run fresh copies of the post-processing steps over one series' scores (in order).

    ``postprocess`` is their text form (``"zscore+range:value=10"``, ``"none"``) or a list of
    post-processors; each series gets fresh copies, so no state crosses series. With
    ``ready`` only those rows are post-processed (the others keep their score), as a
    streaming detector does with its own ``postprocess=`` steps.
    """
    from sklearn.base import clone

    from anomark.postprocess import Chain, check_postprocess, parse_postprocess

    steps = parse_postprocess(postprocess) if isinstance(postprocess, str) else (
        check_postprocess(postprocess))
    scores = np.asarray(scores, dtype=np.float64)
    if not steps:
        return scores
    chain = Chain([clone(s) for s in steps])
    if ready is None:
        return np.asarray(chain.update(scores, values=values))
    out = scores.copy()
    if ready.any():
        out[ready] = chain.update(scores[ready], values=np.asarray(values)[ready])
    return out


def _jsonable(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


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
    thresholds : dict
        The corpus threshold per detector and profile.
    config : dict
        Mode, post-processing (text form), seed, refits and refractory period of the run.
    timings : dict
        Seconds per detector spent post-processing the cached scores and searching the
        thresholds (scoring time is in the summary's ``seconds``).
    """

    summary: pd.DataFrame
    per_series: pd.DataFrame
    thresholds: dict[str, dict[str, float]] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, dict[str, float]] = field(default_factory=dict)

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


def _cache_key(
    detector: str, seed: int, refits: int, mode: str = "batch", seasonal: str = "none"
) -> str:
    from anomark._version import __version__

    config = {"detector": detector, "seed": seed, "refits": refits, "mode": mode,
              "version": __version__, "format": CACHE_FORMAT}
    if seasonal != "none":  # runs without a seasonal stage keep their earlier keys
        config["seasonal"] = seasonal
    text = json.dumps(config)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _cache_file(
    cache_dir: Path, detector: str, seed: int, refits: int, series: str, mode: str = "batch",
    seasonal: str = "none",
) -> Path:
    safe = series.replace("/", "__")
    key = _cache_key(detector, seed, refits, mode, seasonal)
    return cache_dir / f"{detector}-{mode}-{key}" / f"{safe}.npz"


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
    out = {**info, "scores": arrays["scores"], "raw": arrays["raw"]}
    if "ready" in arrays:
        out["ready"] = arrays["ready"].astype(bool)
    return out


def _store_cached(file: Path, result: Mapping[str, Any]) -> None:
    import io

    buf = io.BytesIO()
    arrays = {k: np.asarray(result[k]) for k in ("scores", "raw", "ready") if k in result}
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    atomic_write_bytes(file, buf.getvalue())
    info = {k: v for k, v in result.items() if k not in arrays}
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
    mode: str = "batch",
    seasonal: str = "none",
) -> dict[str, dict[str, Any]]:
    from tqdm.auto import tqdm

    def work(name: str) -> tuple[Any, tuple[Any, ...]]:
        if mode == "stream":
            return stream_nab_series, (detector, name, seed, seasonal)
        return score_nab_series, (detector, name, seed, refits, seasonal)

    def file(name: str) -> Path:
        return _cache_file(cache_dir, detector, seed, refits, name, mode, seasonal)

    results: dict[str, dict[str, Any]] = {}
    todo = []
    for name in series:
        cached = _load_cached(file(name))
        if cached is not None:
            results[name] = cached
        else:
            todo.append(name)
    bar = tqdm(total=len(series), initial=len(results), desc=f"NAB {detector} ({mode})",
               disable=not progress, unit="series")
    try:
        def done(name: str, result: dict[str, Any]) -> None:
            results[name] = result
            _store_cached(file(name), result)
            bar.update(1)

        if jobs > 1 and len(todo) > 1:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                futures = {pool.submit(work(n)[0], *work(n)[1]): n for n in todo}
                for fut in as_completed(futures):
                    done(futures[fut], fut.result())
        else:
            for name in todo:
                func, args = work(name)
                done(name, func(*args))
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
    mode: str = "batch",
    postprocess: Any = None,
    cache_dir: str | os.PathLike[str] = ".anomark-bench",
    refractory: Any = None,
    progress: bool = True,
    seasonal: str | None = None,
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
        Batch mode: refit each detector this many times on expanding history after the
        probationary period (evenly spaced); 0 fits once, on the probationary period.
    mode : {"batch", "stream"}, default "batch"
        ``"stream"``: every series online with the detector's ``score_update`` (RCF's
        streaming engine), see the module docstring.
    postprocess : str or list of PostProcessor, optional
        Causal post-processing of the scores (text form such as ``"zscore+range:value=10"``,
        ``"none"``, or post-processors; each series gets fresh copies). Default: none in batch
        mode (scores standardised by the training scores), :data:`DEFAULT_STREAM_POSTPROCESS`
        in stream mode (applied to the raw streaming scores).
    cache_dir : path, default ".anomark-bench"
        Per-series results are cached here; a rerun (or an interrupted run) reuses them.
    refractory : int, str or Timedelta, optional
        After a detection, no new one for this long: a duration (``"12h"``) or a number of
        rows (``0``: every flagged row counts, as NAB's own scorer does). Default: one day.
    progress : bool, default True
        Show a progress bar per detector.
    seasonal : str, optional
        The detectors' ``seasonal=`` stage in text form (:func:`anomark.seasonal.parse_seasonal`:
        ``"auto"``, ``"none"``, ``"7D"``...); it keeps the no-look-ahead rule (a stream decides
        its period from earlier rows only; a batch fit from its training rows). Default:
        :data:`DEFAULT_SEASONAL` (``"auto"``) for the detectors that take the parameter (RCF,
        Isolation Forest) and none for the others; a value given explicitly must suit every
        detector.

    Returns
    -------
    BenchmarkResult
    """
    from anomark.datasets import nab
    from anomark.evaluation import event_scores

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
    if mode not in MODES:
        raise ConfigurationError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "stream" and refits:
        raise ConfigurationError("refits applies to batch mode; a stream learns every row")
    if mode == "stream":
        for d in detectors:  # before any series is run
            check_streams(d)
    if postprocess is None:
        postprocess = DEFAULT_STREAM_POSTPROCESS if mode == "stream" else "none"
    stage = parse_seasonal(DEFAULT_SEASONAL if seasonal is None else seasonal)
    text = "none" if stage is None else stage.to_text()
    takes = {d: "seasonal" in get_detector_class(d)._get_param_names() for d in detectors}
    if seasonal is not None and stage is not None and not all(takes.values()):
        raise ConfigurationError(
            f"detector(s) {[d for d, ok in takes.items() if not ok]} have no seasonal stage "
            "(seasonal=); run them with seasonal='none'"
        )
    # the default applies to the detectors that take a stage; the others run without one
    per_detector = {d: text if ok else "none" for d, ok in takes.items()}
    from anomark.postprocess import check_postprocess, format_postprocess, parse_postprocess

    steps = (parse_postprocess(postprocess) if isinstance(postprocess, str)
             else check_postprocess(postprocess))
    post_text = format_postprocess(steps)
    windows = {n: nab.windows(n) for n in names}
    data = {n: nab.load(n) for n in names}
    indexes: dict[str, pd.DatetimeIndex] = {n: pd.DatetimeIndex(d.index) for n, d in data.items()}
    corpus = PreparedCorpus(indexes, windows, refractory)
    cache = Path(cache_dir)

    summary_rows = []
    series_rows = []
    thresholds: dict[str, dict[str, float]] = {}
    timings: dict[str, dict[str, float]] = {}
    for det_name in detectors:
        results = _score_all(det_name, names, seed=seed, refits=refits, jobs=jobs,
                             cache_dir=cache, progress=progress, mode=mode,
                             seasonal=per_detector[det_name])
        t0 = time.perf_counter()
        arrays = {n: postprocess_scores(steps, r["scores"], data[n].values, r.get("ready"))
                  for n, r in results.items()}
        post_seconds = time.perf_counter() - t0
        # NAB's rule: one threshold per profile over the corpus (onsets depend on it)
        row: dict[str, Any] = {"detector": det_name}
        thresholds[det_name] = {}
        t0 = time.perf_counter()
        for profile in profiles:
            thr, value = corpus.search(arrays, profile)
            row[profile] = value
            thresholds[det_name][profile] = thr
        search_seconds = time.perf_counter() - t0
        thr = thresholds[det_name].get("standard", next(iter(thresholds[det_name].values())))
        prf = []
        for n, a in arrays.items():
            s = pd.Series(a, index=data[n].index)
            onsets = pd.Series(corpus.flags(n, a, thr), index=s.index)
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
        timings[det_name] = {"postprocess_seconds": post_seconds,
                             "threshold_search_seconds": search_seconds}
        summary_rows.append(row)
    summary = pd.DataFrame(summary_rows).set_index("detector")
    config = {"mode": mode, "postprocess": post_text,
              "seasonal": ", ".join(f"{d} {t}" for d, t in per_detector.items()), "seed": seed,
              "refits": refits,
              "refractory": "1 day" if refractory is None else str(refractory)}
    return BenchmarkResult(summary, pd.DataFrame(series_rows), thresholds, config, timings)


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
               "config": result.config,
               "timings": result.timings,
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

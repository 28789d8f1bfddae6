"""The Numenta Anomaly Benchmark's score, profiles and probationary period (NAB v1.1 rules).

This module is the one home of NAB's constants: the three cost profiles (:data:`NAB_PROFILES`)
and the probationary period (:func:`probation_rows`), used by the scorer, the benchmark runner
and the CLI.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from anomark.errors import ConfigurationError, DataError
from anomark.evaluation._checks import check_flags, check_scores
from anomark.labels import WindowsLike, windows_to_ns

__all__ = [
    "NAB_PROFILES",
    "NABProfile",
    "nab_optimize_threshold",
    "nab_score",
    "nab_score_series",
    "probation_rows",
    "resolve_profile",
]


@dataclass(frozen=True)
class NABProfile:
    """NAB's cost weights: reward of a true positive, cost of a false positive and of a miss.

    Parameters
    ----------
    name : str
    tp_weight, fp_weight, fn_weight : float
        NAB's ``tpWeight``, ``fpWeight`` and ``fnWeight``.
    """

    name: str
    tp_weight: float
    fp_weight: float
    fn_weight: float


NAB_PROFILES: dict[str, NABProfile] = {
    "standard": NABProfile("standard", 1.0, 0.11, 1.0),
    "reward_low_FP_rate": NABProfile("reward_low_FP_rate", 1.0, 0.22, 1.0),
    "reward_low_FN_rate": NABProfile("reward_low_FN_rate", 1.0, 0.11, 2.0),
}
"""NAB's three scoring profiles (``config/profiles.json`` of NAB v1.1)."""

_PROFILE_ALIASES = {
    "standard": "standard",
    "std": "standard",
    "default": "standard",
    "reward_low_fp_rate": "reward_low_FP_rate",
    "reward_low_fp": "reward_low_FP_rate",
    "low_fp_rate": "reward_low_FP_rate",
    "low_fp": "reward_low_FP_rate",
    "fp": "reward_low_FP_rate",
    "reward_low_fn_rate": "reward_low_FN_rate",
    "reward_low_fn": "reward_low_FN_rate",
    "low_fn_rate": "reward_low_FN_rate",
    "low_fn": "reward_low_FN_rate",
    "fn": "reward_low_FN_rate",
}


def resolve_profile(profile: Any) -> NABProfile:
    """A NAB profile from its name (``"standard"``, ``"reward_low_FP_rate"``, ``"low_fp"``...),
    a mapping of ``tpWeight``/``fpWeight``/``fnWeight`` (NAB's ``CostMatrix``), or a profile.

    Raises
    ------
    ConfigurationError
        An unknown name or a mapping without finite non-negative weights.
    """
    if isinstance(profile, NABProfile):
        return profile
    if isinstance(profile, str):
        key = profile.strip().lower().replace("-", "_")
        if key in _PROFILE_ALIASES:
            return NAB_PROFILES[_PROFILE_ALIASES[key]]
        raise ConfigurationError(
            f"unknown NAB profile {profile!r}; use one of {sorted(NAB_PROFILES)} "
            "(or 'low_fp' / 'low_fn'), or a mapping with tpWeight, fpWeight and fnWeight"
        )
    if isinstance(profile, Mapping):
        matrix = profile.get("CostMatrix", profile)
        weights = {}
        for key in ("tpWeight", "fpWeight", "fnWeight"):
            value = matrix.get(key) if isinstance(matrix, Mapping) else None
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
            ):
                raise ConfigurationError(
                    f"NAB profile mapping needs a finite non-negative number for {key!r}, "
                    f"got {value!r}"
                )
            weights[key] = float(value)
        return NABProfile("custom", weights["tpWeight"], weights["fpWeight"], weights["fnWeight"])
    raise ConfigurationError(
        f"profile must be a profile name or a mapping of weights, got {type(profile).__name__}"
    )


def _scaled_sigmoid(x: np.ndarray) -> np.ndarray:
    """NAB's scaled sigmoid: ``2 / (1 + exp(5 x)) - 1``, and ``-1`` for ``x > 3``."""
    x = np.asarray(x, dtype=np.float64)
    value = 2.0 * (1.0 / (1.0 + np.exp(5.0 * np.minimum(x, 4.0)))) - 1.0
    return np.where(x > 3.0, -1.0, value)


_MAX_TP = float(_scaled_sigmoid(np.array(-1.0)))


def probation_rows(n_rows: int) -> int:
    """NAB's probationary period: the first ``min(floor(0.15 n), 750)`` rows of a series.

    NAB's scorer ignores them (detectors learn there), so the benchmark fits on them.
    """
    return int(min(math.floor(0.15 * n_rows), 0.15 * 5000))


@dataclass
class _NABSeries:
    """One series laid out for NAB scoring: everything that does not depend on the flags."""

    n_rows: int
    probation: int
    window_of_row: np.ndarray  # window number of each row, -1 outside every window
    tp_sigmoid: np.ndarray  # S(position in window) for rows in a window, else 0
    fp_sigmoid: np.ndarray  # S(distance past the preceding window) for rows outside, else 0
    n_windows: int
    counted: np.ndarray  # windows with at least one row after the probationary period

    @property
    def n_counted(self) -> int:
        return int(self.counted.sum())


def _nab_prepare(t: np.ndarray, starts: np.ndarray, ends: np.ndarray, what: str) -> _NABSeries:
    n = len(t)
    order = np.argsort(t, kind="stable")
    t_sorted = t[order]

    def first_row(stamps: np.ndarray, which: str) -> np.ndarray:
        j = np.searchsorted(t_sorted, stamps, side="left")
        found = j < n
        found[found] = t_sorted[j[found]] == stamps[found]
        if not found.all():
            k = int(np.flatnonzero(~found)[0])
            stamp = pd.Timestamp(int(stamps[k]))
            raise DataError(
                f"{what}: the {which} of window {k} ({stamp}) is not a timestamp of the series; "
                "NAB maps windows to rows by exact timestamp, so score the full series the "
                "windows were labelled on"
            )
        return order[j]  # stable sort: the first row (in row order) with that timestamp

    left = first_row(starts, "start")
    right = first_row(ends, "end")
    if np.any(left > right):
        k = int(np.flatnonzero(left > right)[0])
        raise DataError(f"{what}: window {k} ends on a row before the row it starts on")
    by_row = np.argsort(left, kind="stable")
    left, right = left[by_row], right[by_row]
    if np.any(left[1:] <= right[:-1]):
        k = int(np.flatnonzero(left[1:] <= right[:-1])[0])
        raise DataError(
            f"{what}: windows overlap (rows {left[k]}-{right[k]} and "
            f"{left[k + 1]}-{right[k + 1]}); NAB windows must be disjoint"
        )

    rows = np.arange(n)
    width = (right - left + 1).astype(np.float64)
    window_of_row = np.full(n, -1, dtype=np.int64)
    tp_sigmoid = np.zeros(n)
    fp_sigmoid = np.zeros(n)
    if len(left):
        win = np.searchsorted(left, rows, side="right") - 1
        inside = (win >= 0) & (rows <= right[np.maximum(win, 0)])
        window_of_row[inside] = win[inside]
        kin = win[inside]
        position = -(right[kin] - rows[inside] + 1) / width[kin]
        tp_sigmoid[inside] = _scaled_sigmoid(position)

        # Outside: distance past the nearest window ending before the row.
        out = ~inside
        prev = np.searchsorted(right, rows[out], side="left") - 1
        has_prev = prev >= 0
        p = np.maximum(prev, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            past = np.abs(right[p] - rows[out]) / (width[p] - 1.0)
        past = np.where(np.isfinite(past), past, np.inf)  # one-row window: as if far away
        fp_sigmoid[out] = np.where(has_prev, _scaled_sigmoid(past), -1.0)
    else:
        fp_sigmoid[:] = -1.0
    probation = probation_rows(n)
    return _NABSeries(
        n_rows=n,
        probation=probation,
        window_of_row=window_of_row,
        tp_sigmoid=tp_sigmoid,
        fp_sigmoid=fp_sigmoid,
        n_windows=len(left),
        counted=right >= probation,
    )


def _nab_raw(prep: _NABSeries, flags: np.ndarray, profile: NABProfile) -> float:
    scored = flags.copy()
    scored[: prep.probation] = False
    wid = prep.window_of_row
    false_pos = scored & (wid < 0)
    fp_total = float(np.sum(prep.fp_sigmoid[false_pos] * profile.fp_weight))
    hits = scored & (wid >= 0)
    terms = np.full(prep.n_windows, -profile.fn_weight)
    # Earliest detection = highest reward; max() is NAB's own rule and the same thing.
    np.maximum.at(terms, wid[hits], prep.tp_sigmoid[hits] * profile.tp_weight / _MAX_TP)
    return fp_total + float(terms[prep.counted].sum())


def _series_windows(
    keys: Iterable[str], windows_by_series: Mapping[str, Any] | None
) -> dict[str, Any]:
    keys = list(keys)
    if windows_by_series is None:
        from anomark.datasets import nab

        labelled: Mapping[str, Any] = nab.all_windows()
        out = {}
        for key in keys:
            try:
                out[key] = labelled[nab.resolve_name(key)]
            except DataError as exc:
                raise DataError(
                    f"{exc}; pass windows_by_series for series that are not part of NAB"
                ) from None
        return out
    if not isinstance(windows_by_series, Mapping):
        raise DataError(
            "windows_by_series must be a dict of series name to windows, got "
            f"{type(windows_by_series).__name__}"
        )
    missing = [k for k in keys if k not in windows_by_series]
    if missing:
        raise DataError(
            f"windows_by_series has no entry for {len(missing)} series, e.g. {missing[:3]}; "
            "it needs the same keys as the flags/scores (an empty list for no window)"
        )
    return {k: windows_by_series[k] for k in keys}


def _check_by_series(by_series: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(by_series, Mapping):
        raise DataError(
            f"{what} must be a dict of series name to pandas Series, got {type(by_series).__name__}"
        )
    if not by_series:
        raise DataError(f"{what} is empty")
    return by_series


def _normalise(raw: float, n_windows: int, profile: NABProfile) -> float:
    null = -profile.fn_weight * n_windows
    perfect = profile.tp_weight * n_windows
    if perfect == null:
        raise DataError(
            "no labelled window falls after the probationary period of any series (or the "
            "profile gives no weight to windows), so the normalised NAB score is undefined"
        )
    return 100.0 * (raw - null) / (perfect - null)


def nab_score_series(
    flags: pd.Series, windows: WindowsLike, profile: str | Mapping[str, Any] = "standard"
) -> float:
    """The raw (unnormalised) NAB score of one series.

    Scoring rules (NAB v1.1, ``Sweeper`` of NAB's scorer):

    * the first ``min(floor(0.15 * n), 750)`` rows (the *probationary period*) are ignored;
    * windows are mapped to rows by exact timestamp (first row with that timestamp), ends
      inclusive; rows are taken in the order given, as NAB reads its files;
    * in a window ``[l, r]`` only the earliest flag counts, rewarded
      ``tp_weight * S(p) / S(-1)`` with ``p = -(r - i + 1) / (r - l + 1)`` and the scaled
      sigmoid ``S(x) = 2 / (1 + exp(5 x)) - 1`` (``-1`` for ``x > 3``); a window without any
      flag costs ``-fn_weight``; windows entirely inside the probationary period are ignored;
    * each flag outside every window adds ``fp_weight * S(|i - r'| / (w' - 1))``, where
      ``r'`` and ``w'`` are the last row and width (rows) of the nearest preceding window
      (which may lie in the probationary period), or ``-fp_weight`` without one. (NAB divides
      by zero after a one-row window; here that counts as far away, ``-fp_weight``.)

    Parameters
    ----------
    flags : pandas.Series of bool
        One flag per row of the series, with a ``DatetimeIndex`` (e.g. ``Detection.flags``).
    windows : list of (start, end)
        Labelled windows; both ends must be timestamps of ``flags``. Windows must not overlap.
    profile : str or mapping, default "standard"
        ``"standard"``, ``"reward_low_FP_rate"`` or ``"reward_low_FN_rate"`` (also
        ``"low_fp"``, ``"low_fn"``), or ``{"tpWeight": ..., "fpWeight": ..., "fnWeight": ...}``.

    Returns
    -------
    float
        Between ``-fn_weight * n_windows - fp_weight * n_rows`` and ``tp_weight * n_windows``.

    Raises
    ------
    DataError
        Bad flags (see :func:`event_scores`), a window end that is not a timestamp of the
        series, overlapping windows.
    ConfigurationError
        Unknown profile.

    Examples
    --------
    >>> import pandas as pd
    >>> from anomark.evaluation import nab_score_series
    >>> index = pd.date_range("2024-01-01", periods=100, freq="h")
    >>> flags = pd.Series(False, index=index)
    >>> windows = [(index[50], index[59])]
    >>> nab_score_series(flags, windows)                 # a miss
    -1.0
    >>> flags.iloc[50] = True                            # caught at the window's left edge
    >>> nab_score_series(flags, windows)
    1.0
    """
    weights = resolve_profile(profile)
    t, f, tz = check_flags(flags, "flags")
    starts, ends = windows_to_ns(windows, tz)
    return _nab_raw(_nab_prepare(t, starts, ends, "flags"), f, weights)


def nab_score(
    flags_by_series: Mapping[str, pd.Series],
    windows_by_series: Mapping[str, WindowsLike] | None = None,
    profile: str | Mapping[str, Any] = "standard",
) -> float:
    """The normalised NAB score of a corpus: 0 for a detector that never fires, 100 perfect.

    ``100 * (raw - null) / (perfect - null)`` where ``raw`` is the sum of
    :func:`nab_score_series` over the series, ``null = -fn_weight * n_windows`` and
    ``perfect = tp_weight * n_windows`` (windows after the probationary period, all series).
    Scoring NAB's 58 series gives the numbers of NAB's scoreboard; scoring a subset is
    normalised over that subset.

    Parameters
    ----------
    flags_by_series : dict of str to pandas.Series of bool
        Flags of each series, keyed by series name (for NAB: ``"realKnownCause/nyc_taxi.csv"``).
    windows_by_series : dict of str to list of (start, end), optional
        The windows of each series, same keys (extra keys are ignored). Default: NAB's labels
        (:func:`anomark.datasets.nab.all_windows`; the keys must be NAB series names).
    profile : str or mapping, default "standard"
        See :func:`nab_score_series`.

    Returns
    -------
    float

    Raises
    ------
    DataError
        Bad flags or windows (the message names the series), a series without windows entry,
        no window after the probationary periods.
    ConfigurationError
        Unknown profile.

    Examples
    --------
    >>> import pandas as pd
    >>> from anomark.evaluation import nab_score
    >>> index = pd.date_range("2024-01-01", periods=100, freq="h")
    >>> flags = pd.Series(False, index=index)
    >>> flags.iloc[[55, 62, 90]] = True       # mid-window hit, a near and a far false positive
    >>> round(nab_score({"a": flags}, {"a": [(index[50], index[59])]}), 2)
    83.74
    """
    weights = resolve_profile(profile)
    by_series = _check_by_series(flags_by_series, "flags_by_series")
    windows_of = _series_windows(by_series, windows_by_series)
    raw = 0.0
    n_windows = 0
    for key, flags in by_series.items():
        what = f"flags of series {key!r}"
        t, f, tz = check_flags(flags, what)
        starts, ends = windows_to_ns(windows_of[key], tz, f"windows of series {key!r}")
        prep = _nab_prepare(t, starts, ends, what)
        raw += _nab_raw(prep, f, weights)
        n_windows += prep.n_counted
    return _normalise(raw, n_windows, weights)


def nab_optimize_threshold(
    scores_by_series: Mapping[str, pd.Series],
    windows_by_series: Mapping[str, WindowsLike] | None = None,
    profile: str | Mapping[str, Any] = "standard",
) -> tuple[float, float]:
    """NAB's threshold choice: the one threshold over the whole corpus with the best raw score.

    Flags are ``score >= threshold``. Every distinct score is tried, exactly and at once: the
    rows of all series are sorted by score once and the raw score of every threshold is read
    off a cumulative sum (about a second for NAB's 365 000 rows).

    Parameters
    ----------
    scores_by_series : dict of str to pandas.Series of float
        Anomaly scores of each series (higher = more anomalous), ``DatetimeIndex``, finite.
    windows_by_series : dict of str to list of (start, end), optional
        As for :func:`nab_score`; default NAB's labels.
    profile : str or mapping, default "standard"
        See :func:`nab_score_series`. NAB optimises each profile separately.

    Returns
    -------
    (threshold, score) : tuple of float
        The highest threshold among the best ones (``inf`` when flagging nothing is best),
        and the normalised :func:`nab_score` it gives. Note :class:`~anomark.Detection` flags
        ``scores > threshold``; pass ``np.nextafter(threshold, -np.inf)`` to it.

    Raises
    ------
    DataError, ConfigurationError
        As for :func:`nab_score`, and non-finite scores.

    Examples
    --------
    >>> import pandas as pd
    >>> from anomark.evaluation import nab_optimize_threshold
    >>> index = pd.date_range("2024-01-01", periods=100, freq="h")
    >>> scores = pd.Series(0.1, index=index)
    >>> scores.iloc[52] = 0.9
    >>> threshold, score = nab_optimize_threshold({"a": scores}, {"a": [(index[50], index[59])]})
    >>> threshold, round(score, 2)
    (0.9, 98.86)
    """
    weights = resolve_profile(profile)
    by_series = _check_by_series(scores_by_series, "scores_by_series")
    windows_of = _series_windows(by_series, windows_by_series)
    all_scores, all_window, all_reward = [], [], []
    n_windows = 0
    offset = 0
    for key, scores in by_series.items():
        what = f"scores of series {key!r}"
        t, s, tz = check_scores(scores, what)
        starts, ends = windows_to_ns(windows_of[key], tz, f"windows of series {key!r}")
        prep = _nab_prepare(t, starts, ends, what)
        keep = slice(prep.probation, None)
        wid = prep.window_of_row[keep]
        inside = wid >= 0
        reward = np.where(
            inside,
            prep.tp_sigmoid[keep] * weights.tp_weight / _MAX_TP,
            prep.fp_sigmoid[keep] * weights.fp_weight,
        )
        all_scores.append(s[keep])
        all_window.append(np.where(inside, wid + offset, -1))
        all_reward.append(reward)
        offset += prep.n_windows
        n_windows += prep.n_counted

    score = np.concatenate(all_scores)
    window = np.concatenate(all_window)
    reward = np.concatenate(all_reward)
    base = -weights.fn_weight * n_windows  # nothing flagged
    if len(score) == 0:
        return math.inf, _normalise(base, n_windows, weights)

    # Lower the threshold one row at a time (highest score first); each row adds its change of
    # the raw score: its own reward if outside any window, else the rise of its window's best
    # reward (earliest flag), starting from -fn_weight.
    order = np.argsort(-score, kind="stable")
    gain = reward.copy()
    in_window = np.flatnonzero(window >= 0)
    if len(in_window):
        # rows in windows, in descending score order, grouped by window (stable)
        seq = order[window[order] >= 0]
        seq = seq[np.argsort(window[seq], kind="stable")]
        groups = np.flatnonzero(np.diff(window[seq])) + 1
        for chunk in np.split(seq, groups):
            best = np.maximum(np.maximum.accumulate(reward[chunk]), -weights.fn_weight)
            before = np.concatenate(([-weights.fn_weight], best[:-1]))
            gain[chunk] = best - before
    total = base + np.cumsum(gain[order])
    ranked = score[order]
    last_of_tie = np.flatnonzero(np.append(ranked[1:] != ranked[:-1], True))
    raws = np.concatenate(([base], total[last_of_tie]))
    thresholds = np.concatenate(([math.inf], ranked[last_of_tie]))
    best_at = int(np.argmax(raws))
    return float(thresholds[best_at]), _normalise(float(raws[best_at]), n_windows, weights)

"""Alarm onsets and NAB's corpus-wide threshold search, fast enough to run per profile.

NAB chooses one threshold per detector and profile for the whole corpus (the one with the
best total score). With alarm onsets the flags depend on the threshold in a way that the
exact sweep of :func:`anomark.evaluation.nab_optimize_threshold` cannot follow, so the search
here scores candidate thresholds one by one: quantiles of the scored rows' scores, the
largest score, NAB's exact optimum for plain flags, then a finer grid around the best. The
NAB layout of each series (windows, sigmoid weights, probation) is computed once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from anomark.errors import ConfigurationError

__all__ = ["PreparedCorpus", "alarm_onsets", "resolve_refractory"]

_DAY_NS = 86_400 * 10**9


def resolve_refractory(refractory: Any) -> tuple[str, int]:
    """``("rows", n)`` or ``("time", nanoseconds)`` from an int, a Timedelta-like or None.

    ``None`` is one day of time.
    """
    if refractory is None:
        return "time", _DAY_NS
    if isinstance(refractory, bool):
        raise ConfigurationError(f"refractory must be rows (int) or a duration, got {refractory!r}")
    if isinstance(refractory, int | np.integer):
        if refractory < 0:
            raise ConfigurationError(f"refractory must be >= 0 rows, got {refractory}")
        return "rows", int(refractory)
    try:
        delta = pd.Timedelta(refractory)
    except (ValueError, TypeError):
        raise ConfigurationError(
            f"refractory must be a number of rows or a duration such as '1D', got {refractory!r}"
        ) from None
    if pd.isna(delta) or delta < pd.Timedelta(0):
        raise ConfigurationError(f"refractory must be a duration >= 0, got {refractory!r}")
    return "time", int(delta.value)


def alarm_onsets(flags: Any, refractory: Any = None, times: Any = None) -> np.ndarray:
    """Keep a flag only when no kept flag came within the refractory period before it.

    Parameters
    ----------
    flags : array-like of bool
    refractory : int, str, Timedelta or None
        Rows (an int; ``0`` keeps every flag) or a duration (``"1D"``; needs ``times``);
        ``None`` means one day.
    times : DatetimeIndex or array of datetime64, optional
        The rows' timestamps, for a duration.

    Returns
    -------
    numpy.ndarray of bool
        Causal: an onset depends only on the flags up to its row.
    """
    flags = np.asarray(flags, dtype=bool)
    kind, gap = resolve_refractory(refractory)
    if kind == "rows":
        if gap == 0:
            return flags.copy()
        position = np.arange(len(flags), dtype=np.int64)
    else:
        if times is None:
            raise ConfigurationError("a refractory duration needs the rows' timestamps")
        position = _as_ns(times)
        if len(position) != len(flags):
            raise ConfigurationError("times and flags differ in length")
    return _onsets(np.flatnonzero(flags), position, gap, len(flags))


def _as_ns(times: Any) -> np.ndarray:
    index = pd.DatetimeIndex(times)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return np.asarray(index.as_unit("ns").asi8, dtype=np.int64)


def _onsets(flagged: np.ndarray, position: np.ndarray, gap: int, n: int) -> np.ndarray:
    """Greedy onsets among the flagged rows: jump past each onset's refractory period."""
    out = np.zeros(n, dtype=bool)
    if not len(flagged):
        return out
    pos = position[flagged]
    k = 0
    while k < len(flagged):
        out[flagged[k]] = True
        # next flagged row strictly more than `gap` after this onset
        k = int(np.searchsorted(pos, pos[k] + gap, side="right"))
    return out


@dataclass
class _Series:
    prep: Any
    position: np.ndarray  # row number or ns timestamp, per the refractory kind
    probation: int


class PreparedCorpus:
    """NAB's layout of every series, computed once, for scoring many thresholds.

    Parameters
    ----------
    indexes : mapping of str to DatetimeIndex
        Each series' timestamps.
    windows : mapping of str to list of (start, end)
        Each series' labelled windows.
    refractory : int, str, Timedelta or None
        As for :func:`alarm_onsets` (``None``: one day of time).
    """

    def __init__(
        self,
        indexes: Mapping[str, pd.DatetimeIndex],
        windows: Mapping[str, Any],
        refractory: Any = None,
    ) -> None:
        from anomark.evaluation._checks import check_index
        from anomark.evaluation.nab import _nab_prepare
        from anomark.labels import windows_to_ns

        self.kind, self.gap = resolve_refractory(refractory)
        self.indexes = dict(indexes)
        self.windows = dict(windows)
        self.series: dict[str, _Series] = {}
        for name, index in indexes.items():
            t, tz = check_index(index, f"series {name!r}")
            starts, ends = windows_to_ns(windows[name], tz, f"windows of series {name!r}")
            prep = _nab_prepare(t, starts, ends, f"series {name!r}")
            position = np.arange(len(t), dtype=np.int64) if self.kind == "rows" else _as_ns(index)
            self.series[name] = _Series(prep, position, prep.probation)
        self.n_windows = sum(s.prep.n_counted for s in self.series.values())

    def flags(self, name: str, scores: np.ndarray, threshold: float) -> np.ndarray:
        """The alarm onsets of one series at ``threshold`` (``score >= threshold``)."""
        s = self.series[name]
        flagged = np.flatnonzero(scores >= threshold)
        if self.kind == "rows" and self.gap == 0:
            out = np.zeros(len(scores), dtype=bool)
            out[flagged] = True
            return out
        return _onsets(flagged, s.position, self.gap, len(scores))

    def score(self, scores: Mapping[str, np.ndarray], threshold: float, profile: str) -> float:
        """The normalised NAB score of the corpus at ``threshold``."""
        from anomark.evaluation.nab import _nab_raw, _normalise, resolve_profile

        weights = resolve_profile(profile)
        raw = sum(
            _nab_raw(self.series[n].prep, self.flags(n, s, threshold), weights)
            for n, s in scores.items()
        )
        return _normalise(raw, self.n_windows, weights)

    def search(
        self, scores: Mapping[str, np.ndarray], profile: str, *, n_quantiles: int = 240
    ) -> tuple[float, float]:
        """The best threshold over the corpus for ``profile`` and its score.

        Candidates: ``n_quantiles`` quantiles (0.80 ... 0.99999) of the scores after the
        probationary periods, their maximum, NAB's exact optimum for plain flags, then 40
        steps between the neighbours of the best candidate.
        """
        from anomark.evaluation import nab_optimize_threshold

        scored = np.concatenate([s[self.series[n].probation:] for n, s in scores.items()])
        if not len(scored):
            return math.inf, self.score(scores, math.inf, profile)
        cands = np.quantile(scored, np.linspace(0.80, 0.99999, n_quantiles))
        exact, _ = nab_optimize_threshold(
            {n: pd.Series(s, index=self.indexes[n]) for n, s in scores.items()},
            {n: self.windows[n] for n in scores}, profile,
        )
        extra = [scored.max()] + ([exact] if math.isfinite(exact) else [])
        cands = np.unique(np.append(cands, extra))
        values = np.array([self.score(scores, float(t), profile) for t in cands])
        best = int(np.argmax(values))
        lo = cands[max(best - 1, 0)]
        hi = cands[min(best + 1, len(cands) - 1)]
        fine = np.linspace(lo, hi, 41)
        fine_values = np.array([self.score(scores, float(t), profile) for t in fine])
        if fine_values.max() > values[best]:
            k = int(np.argmax(fine_values))
            return float(fine[k]), float(fine_values[k])
        return float(cands[best]), float(values[best])

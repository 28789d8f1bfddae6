"""Seasonal periods: the seasonal autocorrelation, ``"auto"``'s choice, residuals."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from anomark._validation import Duration, Interval, validate_params
from anomark.dataset import DataLike, Dataset
from anomark.errors import ConfigurationError, DataError

__all__ = [
    "DEFAULT_CANDIDATES",
    "LONGER_PERIOD_GAIN",
    "MIN_AUTOCORRELATION",
    "MIN_CYCLES",
    "SUFFIX",
    "infer_period",
    "choose_period",
    "residuals",
    "seasonal_autocorrelation",
]

#: Periods ``period="auto"`` chooses from.
DEFAULT_CANDIDATES: tuple[pd.Timedelta, ...] = (pd.Timedelta(days=1), pd.Timedelta(days=7))
#: Smallest seasonal autocorrelation for ``period="auto"`` to use a period.
MIN_AUTOCORRELATION = 0.5
#: Whole periods the rows seen must hold before ``period="auto"`` considers a candidate.
MIN_CYCLES = 3
#: A longer candidate replaces a shorter one that qualifies only when its ``1 -
#: autocorrelation`` is at most this fraction of the shorter one's.
LONGER_PERIOD_GAIN = 0.8
#: Suffix of the residual columns: ``value`` -> ``value.seasonal_residual``.
SUFFIX = ".seasonal_residual"
#: Rows whose residuals are computed at once (bounds the temporary arrays).
_BLOCK = 1 << 18


def seasonal_autocorrelation(values: Any, period: int) -> float:
    """Correlation of a series with itself one period later, after removing its trend.

    The trend is the moving average over ``period`` rows (a classical decomposition's); the
    result is the Pearson correlation between the detrended values and the same values
    ``period`` rows later. ``nan`` when the series is shorter than three periods or the
    detrended values are constant.

    Parameters
    ----------
    values : array-like, 1-D
        The series, finite.
    period : int
        Rows per period, at least 2.

    Returns
    -------
    float
    """
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    p = int(period)
    if p < 2 or len(x) < MIN_CYCLES * p:
        return math.nan
    csum = np.concatenate(([0.0], np.cumsum(x)))
    trend = (csum[p:] - csum[:-p]) / p  # mean of rows i .. i+p-1, centred at i + (p-1)/2
    y = x[p // 2 : p // 2 + len(trend)] - trend
    a, b = y[:-p], y[p:]
    a, b = a - a.mean(), b - b.mean()
    den = math.sqrt(float(a @ a) * float(b @ b))
    if not den > 1e-12 * max(1.0, float(np.abs(x).max()) ** 2) * len(a):
        return math.nan
    return float(a @ b) / den


def _period_rows(period: pd.Timedelta, step: pd.Timedelta | None) -> int | None:
    """Rows in ``period`` at the sampling interval ``step`` (``None``: not at least 2)."""
    if step is None or step <= pd.Timedelta(0):
        return None
    rows = round(period / step)
    return int(rows) if rows >= 2 else None


def infer_period(
    data: DataLike,
    *,
    candidates: Sequence[Any] = DEFAULT_CANDIDATES,
    min_autocorrelation: float = MIN_AUTOCORRELATION,
    min_cycles: int = MIN_CYCLES,
) -> dict[str, pd.Timedelta | None]:
    """The seasonal period of each column, as ``SeasonalResidual(period="auto")`` chooses it.

    For each candidate that holds at least 2 rows at the data's sampling interval (median
    spacing) and of which the data holds at least ``min_cycles`` periods, the
    :func:`seasonal_autocorrelation` is computed; among those that reach
    ``min_autocorrelation`` the shortest is the column's period, unless a longer one leaves
    at most :data:`LONGER_PERIOD_GAIN` of its unexplained share (``1 - autocorrelation``).

    Parameters
    ----------
    data : Dataset, DataFrame or Series
        Time-indexed data (without timestamps nothing is seasonal: every column gets ``None``).
    candidates : sequence of Timedelta or text, default (1 day, 1 week)
    min_autocorrelation : float, default 0.5
    min_cycles : int, default 3

    Returns
    -------
    dict
        ``{column: period or None}``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> idx = pd.date_range("2024-01-01", periods=24 * 7 * 4, freq="h")
    >>> daily = np.sin(2 * np.pi * np.arange(len(idx)) / 24)
    >>> infer_period(pd.DataFrame({"v": daily}, index=idx))
    {'v': Timedelta('1 days 00:00:00')}
    """
    ds = Dataset.from_any(data)
    ds.check_finite("finding the seasonal period of")
    periods = _check_candidates(candidates)
    level = validate_params(
        {"min_autocorrelation": [Interval(float, -1.0, 1.0)],
         "min_cycles": [Interval(int, 2, None)]},
        {"min_autocorrelation": min_autocorrelation, "min_cycles": min_cycles}, "infer_period",
    )
    found, _ = _infer(ds, periods, level["min_autocorrelation"], level["min_cycles"])
    return found


def _check_candidates(candidates: Any) -> list[pd.Timedelta]:
    if isinstance(candidates, str) or not isinstance(candidates, Sequence) or not candidates:
        raise ConfigurationError(
            f"candidates must be a non-empty sequence of durations, got {candidates!r}"
        )
    out = []
    for c in candidates:
        delta = Duration._parse(c)
        if delta is None:
            raise ConfigurationError(f"candidates: {c!r} is not {Duration()}")
        out.append(delta)
    return out


def _infer(
    ds: Dataset, candidates: Sequence[pd.Timedelta], level: float, cycles: int
) -> tuple[dict[str, pd.Timedelta | None], dict[str, dict[str, float | None]]]:
    """Chosen period and the autocorrelation of every candidate, per column."""
    step = ds.infer_freq() if ds.is_time_indexed else None
    found: dict[str, pd.Timedelta | None] = {}
    scores: dict[str, dict[str, float | None]] = {}
    for j, col in enumerate(ds.columns):
        best, scores[col] = choose_period(ds.values[:, j], step, candidates, level, cycles)
        found[col] = None if best is None else best[0]
    return found, scores


def choose_period(
    values: np.ndarray,
    step: pd.Timedelta | None,
    candidates: Sequence[pd.Timedelta] = DEFAULT_CANDIDATES,
    level: float = MIN_AUTOCORRELATION,
    cycles: int = MIN_CYCLES,
) -> tuple[tuple[pd.Timedelta, int] | None, dict[str, float | None]]:
    """The rule of ``"auto"`` on one column: ``((period, rows) or None, autocorrelations)``.

    Candidates of fewer than 2 rows, or of which ``values`` holds fewer than ``cycles``
    periods, are left out of the autocorrelations. Among those at or above ``level``, from
    the shortest: a longer one is chosen over the shorter when its ``1 - autocorrelation``
    is at most :data:`LONGER_PERIOD_GAIN` (0.8) times the shorter's (it explains at least a
    fifth of what the shorter leaves; a daily pattern also repeats weekly, and would
    otherwise tie with its weekly echo).
    """
    best: tuple[float, pd.Timedelta, int] | None = None
    acf: dict[str, float | None] = {}
    for cand in sorted(candidates):
        p = _period_rows(cand, step)
        if p is None or len(values) < cycles * p:
            continue
        value = seasonal_autocorrelation(values, p)
        acf[_format_duration(cand)] = None if math.isnan(value) else value
        if math.isnan(value) or value < level:
            continue
        # a longer period must explain part of what the shorter leaves: a daily pattern
        # repeats every week too, and would otherwise tie with its own weekly echo
        if best is None or max(0.0, 1.0 - value) < LONGER_PERIOD_GAIN * max(0.0, 1.0 - best[0]):
            best = (value, cand, p)
    return (None if best is None else (best[1], best[2])), acf


def _format_duration(delta: pd.Timedelta) -> str:
    """``7 days`` / ``1 day`` / ``12:00:00`` style text for reports."""
    if delta % pd.Timedelta(days=1) == pd.Timedelta(0):
        days = delta // pd.Timedelta(days=1)
        return f"{days} day{'s' if days != 1 else ''}"
    return str(delta)


def _duration_text(delta: pd.Timedelta) -> str:
    """Shortest exact text pandas reads back: ``7D``, ``12h``, ``90s``, or ISO 8601."""
    for unit, size in (("D", pd.Timedelta(days=1)), ("h", pd.Timedelta(hours=1)),
                       ("min", pd.Timedelta(minutes=1)), ("s", pd.Timedelta(seconds=1))):
        if delta % size == pd.Timedelta(0):
            return f"{delta // size}{unit}"
    return delta.isoformat()


def residuals(history: np.ndarray, values: np.ndarray, period: int, n_periods: int) -> np.ndarray:
    """``values[t]`` minus the median of the values ``period, 2 period, ..., n_periods period``
    rows earlier (in ``history`` followed by ``values``), over those that exist; ``0`` where
    none does. Each output depends on its own row and earlier ones only."""
    z = np.concatenate([np.asarray(history, dtype=np.float64), values])
    m, n = len(history), len(values)
    out = np.zeros(n)
    lags = period * np.arange(1, n_periods + 1)
    for b0 in range(0, n, _BLOCK):
        pos = m + np.arange(b0, min(n, b0 + _BLOCK))
        idx = pos[:, None] - lags[None, :]
        valid = idx >= 0
        count = valid.sum(axis=1)
        vals = np.where(valid, z[np.maximum(idx, 0)], np.inf)
        vals.sort(axis=1)  # the missing lags (inf) last
        has = count > 0
        lo = np.take_along_axis(vals, np.maximum((count - 1) // 2, 0)[:, None], axis=1)[:, 0]
        hi = np.take_along_axis(vals, np.minimum(count // 2, n_periods - 1)[:, None], axis=1)[:, 0]
        median = np.where(has, lo / 2.0 + hi / 2.0, 0.0)
        with np.errstate(over="ignore", invalid="ignore"):
            out[pos - m] = np.where(has, z[pos] - median, 0.0)
    if not np.isfinite(out).all():
        raise DataError("seasonal residuals overflow: the values are too large (rescale them)")
    return out

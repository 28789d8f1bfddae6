"""Event metrics: every labelled window is one event (precision, recall, F1, best F1)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from anomark.evaluation._checks import (
    check_flags,
    check_scores,
    warn_empty_windows,
    windows_with_rows,
)
from anomark.labels import WindowsLike, in_any_window, windows_to_ns

__all__ = ["best_event_f1", "event_scores"]


def _f1(detected: int, n_windows: int, false_alarms: int) -> float:
    if detected == 0:
        return math.nan if n_windows == 0 and false_alarms == 0 else 0.0
    return 2.0 * detected / (n_windows + detected + false_alarms)


def event_scores(flags: pd.Series, windows: WindowsLike) -> dict[str, Any]:
    """Event-level precision, recall and F1 of flags against labelled windows.

    Parameters
    ----------
    flags : pandas.Series of bool
        One flag per timestamp (``True`` = anomaly), with a ``DatetimeIndex``; for example
        ``Detection.flags``. Rows are taken in the order given.
    windows : list of (start, end)
        Labelled anomaly windows, both ends inclusive (timestamps or strings). They are located
        by time comparison, so their ends need not be timestamps of ``flags``.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1`` (floats), ``detected``, ``missed``, ``false_alarms``
        and ``n_windows`` (ints):

        * a window is *detected* when at least one flagged timestamp lies inside it;
        * each maximal run of consecutive flagged rows outside every window is one *false
          alarm* (a row inside a window ends a run);
        * ``recall = detected / n_windows``; ``precision = detected / (detected +
          false_alarms)``, i.e. all flags inside one window make one correct alarm;
          ``f1`` is their harmonic mean, ``2 * detected / (n_windows + detected +
          false_alarms)``.

        Undefined ratios are ``nan``: recall with no window, precision with no alarm at all.
        ``f1`` is ``0.0`` whenever nothing is detected, except that it is ``nan`` when there
        is neither a window nor a false alarm (nothing to find and nothing flagged).
        Windows holding no timestamp of ``flags`` (outside the data or in a gap) are left out
        of ``n_windows`` with a warning.

    Raises
    ------
    DataError
        ``flags`` is not a bool Series with a ``DatetimeIndex``, is empty or has NaN/NaT; a
        window is not a ``(start, end)`` pair, has an unparseable end, ``start > end``, or
        mixes time-zone-aware and naive timestamps with the index.

    Warns
    -----
    UserWarning
        Some windows contain no timestamp of ``flags``.

    Examples
    --------
    >>> import pandas as pd
    >>> from anomark.evaluation import event_scores
    >>> index = pd.date_range("2024-01-01", periods=8, freq="D")
    >>> flags = pd.Series([False, True, True, False, True, False, False, False], index=index)
    >>> scores = event_scores(flags, [("2024-01-02", "2024-01-03"), ("2024-01-07", "2024-01-08")])
    >>> scores["detected"], scores["missed"], scores["false_alarms"]
    (1, 1, 1)
    >>> scores["precision"], scores["recall"], scores["f1"]
    (0.5, 0.5, 0.5)
    """
    t, f, tz = check_flags(flags, "flags")
    starts, ends = windows_to_ns(windows, tz)
    has_rows = windows_with_rows(np.sort(t), starts, ends)
    warn_empty_windows(has_rows, "flags")
    starts, ends = starts[has_rows], ends[has_rows]

    flagged_times = np.sort(t[f])
    detected_mask = np.searchsorted(flagged_times, ends, side="right") > np.searchsorted(
        flagged_times, starts, side="left"
    )
    outside = f & ~in_any_window(t, starts, ends)
    false_alarms = int(outside[0]) + int(np.count_nonzero(outside[1:] & ~outside[:-1]))

    n_windows = len(starts)
    detected = int(detected_mask.sum())
    alarms = detected + false_alarms
    precision = detected / alarms if alarms else math.nan
    recall = detected / n_windows if n_windows else math.nan
    return {
        "precision": float(precision),
        "recall": float(recall),
        "f1": _f1(detected, n_windows, false_alarms),
        "detected": detected,
        "missed": n_windows - detected,
        "false_alarms": false_alarms,
        "n_windows": n_windows,
    }


def best_event_f1(scores: pd.Series, windows: WindowsLike) -> tuple[float, float]:
    """The best event F1 over all thresholds, and the threshold reaching it.

    Every distinct score is tried as a threshold (flags = ``scores >= threshold``), all at
    once: each threshold costs a few binary searches, not a pass over the data. Metrics as in
    :func:`event_scores`.

    Parameters
    ----------
    scores : pandas.Series of float
        Anomaly scores (higher = more anomalous) with a ``DatetimeIndex``; finite.
    windows : list of (start, end)
        Labelled windows, both ends inclusive.

    Returns
    -------
    (best_f1, threshold) : tuple of float
        ``threshold`` is the highest score value reaching ``best_f1``;
        ``event_scores(scores >= threshold, windows)["f1"] == best_f1``. Note the ``>=``:
        :class:`~anomark.Detection` flags ``scores > threshold``, so pass
        ``np.nextafter(threshold, -np.inf)`` as a fixed threshold to get the same flags.
        With no window holding a timestamp of ``scores`` there is nothing to find: the result
        is ``(nan, inf)`` (flag nothing).

    Raises
    ------
    DataError
        ``scores`` not a numeric Series with a ``DatetimeIndex``, NaN/inf scores, bad windows.

    Examples
    --------
    >>> import pandas as pd
    >>> from anomark.evaluation import best_event_f1
    >>> index = pd.date_range("2024-01-01", periods=6, freq="D")
    >>> scores = pd.Series([0.1, 0.2, 0.9, 0.3, 0.5, 0.1], index=index)
    >>> best_event_f1(scores, [("2024-01-03", "2024-01-04")])
    (1.0, 0.9)
    """
    t, s, tz = check_scores(scores, "scores")
    starts, ends = windows_to_ns(windows, tz)
    order = np.argsort(t, kind="stable")
    t_sorted, s_sorted = t[order], s[order]
    lo = np.searchsorted(t_sorted, starts, side="left")
    hi = np.searchsorted(t_sorted, ends, side="right")
    has_rows = hi > lo
    warn_empty_windows(has_rows, "scores")
    starts, ends, lo, hi = starts[has_rows], ends[has_rows], lo[has_rows], hi[has_rows]
    n_windows = len(starts)
    if n_windows == 0:
        return math.nan, math.inf

    # A window is detected at threshold h when its highest score is >= h.
    window_max = np.sort(np.array([s_sorted[a:b].max() for a, b in zip(lo, hi, strict=True)]))
    # False alarms at h = (# outside rows with s >= h) - (# adjacent outside pairs, both >= h).
    outside = ~in_any_window(t, starts, ends)
    single = np.sort(s[outside])
    both = outside[1:] & outside[:-1]
    pair = np.sort(np.minimum(s[1:], s[:-1])[both])

    candidates = np.unique(s)[::-1]  # descending
    detected = n_windows - np.searchsorted(window_max, candidates, side="left")
    false_alarms = (len(single) - np.searchsorted(single, candidates, side="left")) - (
        len(pair) - np.searchsorted(pair, candidates, side="left")
    )
    f1 = 2.0 * detected / (n_windows + detected + false_alarms)
    best = int(np.argmax(f1))
    return float(f1[best]), float(candidates[best])

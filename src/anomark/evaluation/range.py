"""Range-based precision and recall for time series (Tatbul et al., NeurIPS 2018).

The numbers are those of the ``prts`` package (``ts_precision``, ``ts_recall``,
``ts_fscore``), computed from point labels: anomaly ranges are the runs of labelled rows,
predicted ranges the runs of flagged rows, rows taken in the order given. ``prts`` loops over
every pair of ranges and, inside, over every point of a range; here the overlapping pairs are
found by binary search (two sets of disjoint ranges overlap in at most ``m + n - 1`` pairs) and
the positional weights are closed-form prefix sums, so the cost is ``O(n)`` for the runs plus
``O((m + n) log n)``.

For a range ``R`` and the set of ranges ``S`` of the other kind that overlap it (ranges
sharing at least one point), Tatbul's reward is
``alpha * [S not empty] + (1 - alpha) * gamma(|S|) * sum over s in S of omega(R, R ∩ s)``,
where ``omega`` is the share of ``R``'s positional weight (``bias``) that the overlap covers and
``gamma`` the cardinality factor (1 for one overlap). Recall averages it over the labelled
ranges, precision (with ``alpha = 0``) over the predicted ranges.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from anomark._validation import Interval, Options, check_param
from anomark.errors import ConfigurationError
from anomark.evaluation._points import labelled_points, runs
from anomark.labels import WindowsLike

__all__ = ["BIASES", "CARDINALITIES", "range_precision_recall"]

#: Cardinality factors (``gamma``) offered by ``prts``: ``"udf_gamma"`` is prts' user-defined
#: factor with its default (1.0), the same as ``"one"``; pass a callable for your own.
CARDINALITIES = ("one", "reciprocal", "udf_gamma")
#: Positional biases (``delta``) offered by ``prts``.
BIASES = ("flat", "front", "middle", "back")

Cardinality = str | Callable[[int], float]


def _bias_prefix(k: np.ndarray, length: np.ndarray, bias: str) -> np.ndarray:
    """Sum of ``delta(t, length)`` for ``t = 1..k`` (prts' positional bias), vectorised."""
    k = k.astype(np.float64)
    length = length.astype(np.float64)
    tri = k * (k + 1) / 2
    if bias == "flat":
        return k
    if bias == "back":
        return tri
    if bias == "front":
        return k * (length + 1) - tri
    # middle: delta = t for t <= length / 2, length - t + 1 after
    m = np.floor(length / 2)
    m_tri = m * (m + 1) / 2
    return np.where(k <= m, tri, m_tri + (k - m) * (length + 1) - (tri - m_tri))


def _omega(
    start: np.ndarray, end: np.ndarray, lo: np.ndarray, hi: np.ndarray, bias: str
) -> np.ndarray:
    """Share of range ``[start, end]``'s positional weight covered by ``[lo, hi]`` (inclusive)."""
    length = end - start + 1
    covered = _bias_prefix(hi - start + 1, length, bias) - _bias_prefix(lo - start, length, bias)
    return covered / _bias_prefix(length, length, bias)


def _gamma(counts: np.ndarray, cardinality: Cardinality) -> np.ndarray:
    factor = np.ones(len(counts))
    many = counts > 1
    if cardinality == "reciprocal":
        factor[many] = 1.0 / counts[many]
    elif callable(cardinality):
        for i in np.flatnonzero(many):
            value = cardinality(int(counts[i]))
            if not isinstance(value, int | float | np.number) or not 0.0 <= float(value) <= 1.0:
                raise ConfigurationError(
                    f"cardinality({int(counts[i])}) must return a number in [0, 1], "
                    f"got {value!r}"
                )
            factor[i] = float(value)
    # "one" and "udf_gamma" (prts' default user-defined gamma, 1.0): factor 1
    return factor


def _rewards(
    own_start: np.ndarray,
    own_end: np.ndarray,
    pair_own: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    alpha: float,
    cardinality: Cardinality,
    bias: str,
) -> np.ndarray:
    """Tatbul's reward of each range, given its overlapping pairs ``(own range, overlap)``."""
    n = len(own_start)
    omega = _omega(own_start[pair_own], own_end[pair_own], lo, hi, bias)
    total = np.bincount(pair_own, weights=omega, minlength=n)
    counts = np.bincount(pair_own, minlength=n)
    exists = (counts > 0).astype(np.float64)
    return alpha * exists + (1 - alpha) * _gamma(counts, cardinality) * total


def range_precision_recall(
    flags: pd.Series,
    windows: WindowsLike,
    alpha: float = 0.0,
    cardinality: Cardinality = "reciprocal",
    bias: str = "flat",
) -> tuple[float, float, float]:
    """Range-based precision, recall and F1 of flags against labelled windows (Tatbul et al.).

    As the ``prts`` package computes them: ``ts_recall(real, pred, alpha, cardinality,
    bias)``, ``ts_precision(real, pred, 0.0, cardinality, bias)`` and their F1 (``ts_fscore``
    with ``beta=1``), where ``real`` marks the rows inside a window and ``pred`` the flagged
    rows. Windows that overlap or touch (no row between them) form one labelled range.

    Unlike event metrics, a range is not simply hit or missed: recall rewards covering *more*
    of each anomaly (and, with ``bias``, the right part of it), precision penalises flagged
    ranges that spill outside the anomaly, and with ``cardinality="reciprocal"`` an anomaly
    hit by three separate flagged ranges is worth a third of one hit by a single range.

    Parameters
    ----------
    flags : pandas.Series of bool
        One flag per row with a ``DatetimeIndex`` (e.g. ``Detection.flags``); rows are taken
        in the order given.
    windows : list of (start, end)
        Labelled windows, both ends inclusive; at least one, each holding a timestamp of
        ``flags``.
    alpha : float, default 0.0
        Weight of the *existence* reward in recall (Tatbul's alpha): 1 only asks that some
        point of each anomaly is flagged, 0 only counts overlap. Precision always uses
        ``alpha = 0``, as the paper recommends.
    cardinality : {"reciprocal", "one", "udf_gamma"} or callable, default "reciprocal"
        Factor applied when a range overlaps several ranges of the other kind: ``1 / count``
        ("reciprocal"), 1 ("one"; "udf_gamma" is prts' user-defined factor with its default,
        also 1), or ``cardinality(count) -> float in [0, 1]`` for ``count >= 2``.
    bias : {"flat", "front", "middle", "back"}, default "flat"
        Positional weight within a range: all points equal, early points first (an alarm at
        the start of an anomaly is worth most), the middle, or late points.

    Returns
    -------
    (precision, recall, f1) : tuple of float
        Each in ``[0, 1]``. Without any flag, precision is ``nan`` (no predicted range: prts
        refuses such input), recall and F1 are ``0.0``. F1 is ``0.0`` when precision and
        recall are both 0, as in prts.

    Raises
    ------
    DataError
        ``flags`` not a bool Series with a ``DatetimeIndex`` or with missing values; no
        window, a window holding no timestamp of ``flags``, every row inside a window, or
        bad windows.
    ConfigurationError
        ``alpha`` outside ``[0, 1]``, unknown ``cardinality`` or ``bias``.

    Examples
    --------
    >>> import pandas as pd
    >>> from anomark.evaluation import range_precision_recall
    >>> index = pd.date_range("2024-01-01", periods=20, freq="h")
    >>> flags = pd.Series(False, index=index)
    >>> flags.iloc[8:12] = True                 # covers half of the window, then two rows more
    >>> range_precision_recall(flags, [(index[6], index[9])])
    (0.5, 0.5, 0.5)
    """
    a = check_param(alpha, "alpha", [Interval(float, 0.0, 1.0)], "range_precision_recall")
    if not callable(cardinality):
        check_param(cardinality, "cardinality", [Options(*CARDINALITIES)],
                    "range_precision_recall")
    check_param(bias, "bias", [Options(*BIASES)], "range_precision_recall")
    points = labelled_points(flags, windows, "flags", kind="flags")
    real_start, real_end = runs(points.labels)
    pred_start, pred_end = runs(points.values)
    real_end, pred_end = real_end - 1, pred_end - 1  # inclusive, as prts
    if len(pred_start) == 0:
        return math.nan, 0.0, 0.0

    # predicted ranges overlapping real range i: indices first[i] .. last[i] - 1
    first = np.searchsorted(pred_end, real_start, side="left")
    last = np.searchsorted(pred_start, real_end, side="right")
    per_real = np.maximum(last - first, 0)
    pair_real = np.repeat(np.arange(len(real_start)), per_real)
    offsets = np.arange(per_real.sum()) - np.repeat(np.cumsum(per_real) - per_real, per_real)
    pair_pred = np.repeat(first, per_real) + offsets
    lo = np.maximum(real_start[pair_real], pred_start[pair_pred])
    hi = np.minimum(real_end[pair_real], pred_end[pair_pred])

    recall_each = _rewards(real_start, real_end, pair_real, lo, hi, a, cardinality, bias)
    precision_each = _rewards(pred_start, pred_end, pair_pred, lo, hi, 0.0, cardinality, bias)
    recall = float(np.mean(recall_each))
    precision = float(np.mean(precision_each))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall != 0 else 0.0
    return precision, recall, float(f1)


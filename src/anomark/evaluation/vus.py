"""Range-based AUC and volume under the surface (VUS) of Paparrizos et al. (VLDB 2022).

The numbers are TimeEval's (``timeeval.metrics.RangePrAUC``, ``RangeRocAUC``, ``RangePrVUS``,
``RangeRocVUS`` in their default, non-compatibility mode): the same label slopes, the same
threshold sampling and the same trapezoids, so results agree with TimeEval to rounding. What
differs is the cost: TimeEval recomputes a full confusion matrix for every threshold and every
buffer size (about 125 000 passes over the series for the defaults); here the points are sorted
by score once, each buffer size costs one cumulative sum over the points near an anomaly, and
the existence reward comes from running maxima around each anomaly.

How TimeEval defines the curves (``n`` points, ``P`` labelled points, anomaly ranges = runs of
labelled points):

* a buffer size ``b`` adds slopes of ``L = b // 2`` points before and after every range: the
  point at distance ``d <= L`` from the nearest labelled point is weighted
  ``linspace(1/sqrt(2), 1, L + 1)[L - d]``; ``b <= 1`` adds none;
* thresholds: ``min(max_samples, n)`` scores picked evenly from the scores sorted in
  decreasing order (``linspace(0, n - 1, ...)`` positions, rounded down), flags = ``score >=
  threshold``;
* with weights ``w`` and ``p = (P + sum(w)) / 2``: ``tp = sum(w * flags)``, recall (TPR)
  ``= min(tp / p, 1) * existence``, where *existence* is the share of ranges with a flagged,
  positively weighted point in ``[start - L, end + L]`` (end exclusive, so one point past the
  slope counts when another range's slope reaches it); ``FPR = min((flags - tp) / (n - p), 1)``,
  precision ``= tp / flags``;
* range-PR AUC: trapezoids from ``(recall 0, precision 1)`` through the thresholds in
  decreasing order (the curve is not closed at recall 1); range-ROC AUC: trapezoids from
  ``(0, 0)`` through the thresholds to ``(1, 1)``;
* VUS: the mean of the AUCs over every buffer size ``0, 1, ..., max_buffer_size``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from anomark._validation import Constraint, Interval, validate_params
from anomark.errors import DataError
from anomark.evaluation._points import LabelledPoints, labelled_points, runs
from anomark.labels import WindowsLike

__all__ = ["range_pr_auc", "range_roc_auc", "vus", "vus_pr", "vus_roc"]

_PARAMS: dict[str, list[Constraint]] = {
    "max_buffer_size": [Interval(int, 0, None)],
    "buffer_size": [Interval(int, 0, None), None],
    "max_samples": [Interval(int, 1, None)],
}


def _scored_points(scores: Any, windows: Any) -> LabelledPoints:
    points = labelled_points(scores, windows, "scores", kind="scores")
    values = points.values
    if values.min() == values.max():
        raise DataError(
            f"scores are constant ({values[0]:g} everywhere): no threshold separates any "
            "point from another, so the range PR/ROC curves have no shape and VUS is undefined "
            "(TimeEval returns 0.0 with a warning here; anomark refuses)"
        )
    return points


def _slope_lengths_of(buffer_sizes: np.ndarray) -> np.ndarray:
    """TimeEval's slope length per buffer size: 0 (no slope) for ``b <= 1``, else ``b // 2``."""
    return np.where(buffer_sizes <= 1, 0, buffer_sizes // 2)


def _range_aucs(
    values: np.ndarray, labels: np.ndarray, slope_lengths: np.ndarray, max_samples: int
) -> tuple[np.ndarray, np.ndarray]:
    """Range-PR AUC and range-ROC AUC for each slope length (0 = TimeEval's ``b <= 1``)."""
    n = len(values)
    starts, ends = runs(labels)  # ends exclusive
    n_ranges = len(starts)
    n_labelled = float(np.count_nonzero(labels))
    descending = np.sort(values)[::-1]
    thresholds = descending[np.linspace(0, n - 1, min(max_samples, n), dtype=np.int_)]
    flagged = n - np.searchsorted(descending[::-1], thresholds, side="left")  # score >= t

    max_sl = int(slope_lengths.max())
    pos = np.arange(n)
    far = 2 * n + max_sl + 2
    before = np.maximum.accumulate(np.where(labels, pos, -far))
    after = np.minimum.accumulate(np.where(labels, pos, far)[::-1])[::-1]
    dist = np.minimum(pos - before, after - pos)  # to the nearest labelled point

    # Points that can carry weight, sorted by score (descending): tp is a prefix sum.
    near = dist <= max_sl
    near_values = values[near]
    order = np.argsort(near_values, kind="stable")[::-1]
    near_dist = dist[near][order]
    near_flagged = len(near_values) - np.searchsorted(
        near_values[order][::-1], thresholds, side="left"
    )
    prefix_at = np.maximum(near_flagged - 1, 0)

    # Highest score in each range, and running maxima of the L points before / after it.
    padded = np.append(values, -np.inf)
    inner = np.maximum.reduceat(padded, np.stack([starts, ends], axis=1).ravel())[::2]
    if max_sl > 0:
        steps = np.arange(max_sl)
        left_at = starts[:, None] - 1 - steps
        left = np.where(left_at >= 0, padded[np.clip(left_at, 0, n)], -np.inf)
        np.maximum.accumulate(left, axis=1, out=left)
        right_at = ends[:, None] + steps
        right = padded[np.minimum(right_at, n)]
        np.maximum.accumulate(right, axis=1, out=right)

    pr = np.empty(len(slope_lengths))
    roc = np.empty(len(slope_lengths))
    weight_of_dist = np.zeros(max_sl + 1)
    for i, sl in enumerate(int(v) for v in slope_lengths):
        weight_of_dist[:] = 0.0
        if sl == 0:
            weight_of_dist[0] = 1.0
            best = inner
        else:
            weight_of_dist[: sl + 1] = np.linspace(1 / np.sqrt(2), 1, sl + 1)[::-1]
            best = np.maximum(np.maximum(inner, left[:, sl - 1]), right[:, sl - 1])
            # TimeEval's existence window ends one point past the slope: that point counts
            # when it carries weight (another range's slope or label reaches it).
            past = ends + sl
            inside = past < n
            counts = np.zeros(n_ranges, dtype=bool)
            counts[inside] = dist[past[inside]] <= sl
            best = np.where(counts, np.maximum(best, padded[np.minimum(past, n)]), best)
        cumulative = np.cumsum(weight_of_dist[near_dist])
        tp = np.where(near_flagged > 0, cumulative[prefix_at], 0.0)
        p = (n_labelled + cumulative[-1]) / 2.0
        existence = (n_ranges - np.searchsorted(np.sort(best), thresholds, side="left")) / n_ranges
        recall = np.minimum(tp / p, 1.0) * existence
        fpr = np.minimum((flagged - tp) / (n - p), 1.0)
        precision = tp / flagged
        recalls = np.concatenate(([0.0], recall, [1.0]))
        fprs = np.concatenate(([0.0], fpr, [1.0]))
        precisions = np.concatenate(([1.0], precision))
        pr[i] = np.sum((recalls[1:-1] - recalls[:-2]) * (precisions[1:] + precisions[:-1]) / 2)
        roc[i] = np.sum((fprs[1:] - fprs[:-1]) * (recalls[1:] + recalls[:-1]) / 2)
    return pr, roc


def vus(
    scores: pd.Series,
    windows: WindowsLike,
    max_buffer_size: int = 500,
    *,
    max_samples: int = 250,
) -> dict[str, float]:
    """VUS-PR and VUS-ROC together (one pass; what :func:`vus_pr` and :func:`vus_roc` give).

    Parameters and errors as :func:`vus_pr`.

    Returns
    -------
    dict
        ``{"vus_pr": float, "vus_roc": float}``.
    """
    p = validate_params(
        _PARAMS, {"max_buffer_size": max_buffer_size, "max_samples": max_samples}, "vus"
    )
    points = _scored_points(scores, windows)
    sizes = np.arange(p["max_buffer_size"] + 1)
    lengths, counts = np.unique(_slope_lengths_of(sizes), return_counts=True)
    pr, roc = _range_aucs(points.values, points.labels, lengths, p["max_samples"])
    total = float(len(sizes))
    return {
        "vus_pr": float(np.sum(pr * counts) / total),
        "vus_roc": float(np.sum(roc * counts) / total),
    }


def vus_pr(
    scores: pd.Series,
    windows: WindowsLike,
    max_buffer_size: int = 500,
    *,
    max_samples: int = 250,
) -> float:
    """Volume under the range precision-recall surface (VUS-PR, Paparrizos et al. 2022).

    The mean, over buffer sizes ``0..max_buffer_size``, of the range-PR AUC
    (:func:`range_pr_auc`), exactly as TimeEval's ``RangePrVUS(max_buffer_size,
    compatibility_mode=False, max_samples)`` computes it from point labels (a row is labelled
    when its timestamp lies in a window). Threshold-free, and tolerant of detections that
    land just before or after a labelled range: the slopes give them partial credit.

    Parameters
    ----------
    scores : pandas.Series of float
        Anomaly scores (higher = more anomalous) with a ``DatetimeIndex``; finite, not
        constant. Rows are taken in the order given (one row = one point).
    windows : list of (start, end)
        Labelled anomaly windows, both ends inclusive (timestamps or strings); at least one,
        each holding at least one timestamp of ``scores``.
    max_buffer_size : int, default 500
        Largest buffer size (points); slopes of ``b // 2`` points are added on both sides of
        each range for every ``b`` up to it.
    max_samples : int, default 250
        Number of thresholds sampled from the scores (TimeEval's ``max_samples``).

    Returns
    -------
    float
        In ``[0, 1]``; higher is better.

    Raises
    ------
    DataError
        ``scores`` not a numeric Series with a ``DatetimeIndex``, NaN/inf or constant scores;
        no window, a window holding no timestamp of ``scores`` (outside the series or in a
        gap), every row inside a window, or bad windows.
    ConfigurationError
        ``max_buffer_size`` not an integer >= 0, ``max_samples`` not an integer >= 1.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from anomark.evaluation import vus_pr
    >>> index = pd.date_range("2024-01-01", periods=200, freq="h")
    >>> scores = pd.Series(np.linspace(0, 1, 200) % 0.3, index=index)
    >>> scores.iloc[100:110] = 2.0                       # a clear response in the window
    >>> round(vus_pr(scores, [(index[100], index[109])], max_buffer_size=20), 4)
    0.8535
    """
    return vus(scores, windows, max_buffer_size, max_samples=max_samples)["vus_pr"]


def vus_roc(
    scores: pd.Series,
    windows: WindowsLike,
    max_buffer_size: int = 500,
    *,
    max_samples: int = 250,
) -> float:
    """Volume under the range ROC surface (VUS-ROC, Paparrizos et al. 2022).

    The mean, over buffer sizes ``0..max_buffer_size``, of the range-ROC AUC
    (:func:`range_roc_auc`), as TimeEval's ``RangeRocVUS`` (non-compatibility mode).
    Parameters, return value and errors as :func:`vus_pr`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from anomark.evaluation import vus_roc
    >>> index = pd.date_range("2024-01-01", periods=200, freq="h")
    >>> scores = pd.Series(np.linspace(0, 1, 200) % 0.3, index=index)
    >>> scores.iloc[100:110] = 2.0
    >>> round(vus_roc(scores, [(index[100], index[109])], max_buffer_size=20), 4)
    0.9747
    """
    return vus(scores, windows, max_buffer_size, max_samples=max_samples)["vus_roc"]


def _single_auc(
    scores: Any, windows: Any, buffer_size: int | None, max_samples: int, owner: str
) -> tuple[float, float]:
    p = validate_params(
        _PARAMS, {"buffer_size": buffer_size, "max_samples": max_samples}, owner
    )
    points = _scored_points(scores, windows)
    size = p["buffer_size"]
    if size is None:
        starts, ends = runs(points.labels)
        size = int(np.median(ends - starts))  # TimeEval: median length of the ranges
    lengths = _slope_lengths_of(np.array([size]))
    pr, roc = _range_aucs(points.values, points.labels, lengths, p["max_samples"])
    return float(pr[0]), float(roc[0])


def range_pr_auc(
    scores: pd.Series,
    windows: WindowsLike,
    buffer_size: int | None = None,
    *,
    max_samples: int = 250,
) -> float:
    """Area under the range precision-recall curve for one buffer size (Paparrizos et al.).

    As TimeEval's ``RangePrAUC(buffer_size, compatibility_mode=False, max_samples)``.

    Parameters
    ----------
    scores, windows, max_samples
        As :func:`vus_pr`.
    buffer_size : int, optional
        Points of buffer around each range (slopes of ``buffer_size // 2`` points on each
        side); ``None`` (default) uses the median length of the labelled ranges, computed
        for this series. (A TimeEval ``RangePrAUC()`` object keeps the median of the first
        series it scores for all later ones; anomark recomputes it on every call.)

    Returns
    -------
    float
        In ``[0, 1]``.

    Raises
    ------
    DataError, ConfigurationError
        As :func:`vus_pr` (``buffer_size`` must be ``None`` or an integer >= 0).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from anomark.evaluation import range_pr_auc
    >>> index = pd.date_range("2024-01-01", periods=200, freq="h")
    >>> scores = pd.Series(np.linspace(0, 1, 200) % 0.3, index=index)
    >>> scores.iloc[100:110] = 2.0
    >>> round(range_pr_auc(scores, [(index[100], index[109])]), 4)
    0.8155
    """
    return _single_auc(scores, windows, buffer_size, max_samples, "range_pr_auc")[0]


def range_roc_auc(
    scores: pd.Series,
    windows: WindowsLike,
    buffer_size: int | None = None,
    *,
    max_samples: int = 250,
) -> float:
    """Area under the range ROC curve for one buffer size (Paparrizos et al.).

    As TimeEval's ``RangeRocAUC(buffer_size, compatibility_mode=False, max_samples)``;
    parameters and errors as :func:`range_pr_auc`.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from anomark.evaluation import range_roc_auc
    >>> index = pd.date_range("2024-01-01", periods=200, freq="h")
    >>> scores = pd.Series(np.linspace(0, 1, 200) % 0.3, index=index)
    >>> scores.iloc[100:110] = 2.0
    >>> round(range_roc_auc(scores, [(index[100], index[109])]), 4)
    0.9672
    """
    return _single_auc(scores, windows, buffer_size, max_samples, "range_roc_auc")[1]


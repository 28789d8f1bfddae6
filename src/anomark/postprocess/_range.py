"""RangeRule: NAB's "spatial anomaly" rule — a value outside everything seen so far."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from anomark._validation import Constraint, Interval
from anomark.postprocess._base import PostProcessor

__all__ = ["RangeRule"]


class RangeRule(PostProcessor):
    """Score a row as maximal when a value leaves the range of all earlier values.

    NAB's numenta detector's "spatial anomaly" rule: with ``lo`` / ``hi`` the smallest and
    largest values seen *before* a row (per column), the row is out of range when a value is
    below ``lo - tolerance * (hi - lo)`` or above ``hi + tolerance * (hi - lo)``; its output is
    then ``max(score, value)``, and the score passes unchanged otherwise. Columns whose
    earlier values are all equal never fire (NAB's ``minVal != maxVal``), nor does the first
    row. It reads the input values, so it needs ``values=``; without them it passes the
    scores through.

    Human labellers mark values beyond anything seen before as anomalies, which a model of
    the series' dynamics may find unremarkable (a slow climb to a new maximum); NAB's
    numenta detectors owe part of their score to this rule.

    Parameters
    ----------
    tolerance : float, default 0.05
        Fraction of the earlier range a value may exceed it by (NAB's ``SPATIAL_TOLERANCE``).
    value : float, default 1.0
        Output of an out-of-range row (at least its score). NAB's 1.0 is the maximum of
        :class:`AnomalyLikelihood`'s log scale; after :class:`RunningZScore` use a value
        above any threshold you will use (e.g. 10).

    Examples
    --------
    >>> import numpy as np
    >>> from anomark.postprocess import RangeRule
    >>> x = np.array([5.0, 6.0, 5.5, 6.02, 7.0, 4.0])
    >>> RangeRule().update(np.zeros(6), values=x).tolist()   # 6.02 is within 5 % of the range
    [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
    """

    name: ClassVar[str] = "range"
    uses_values: ClassVar[bool] = True
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "tolerance": [Interval(float, 0.0, None)],
        "value": [Interval(float, None, None)],
    }
    _scalar_state: ClassVar[tuple[str, ...]] = ("n_columns_",)
    _array_state: ClassVar[tuple[str, ...]] = ("min_", "max_")

    def __init__(self, tolerance: float = 0.05, value: float = 1.0) -> None:
        self.tolerance = tolerance
        self.value = value

    def _start(self, n_columns: int | None) -> None:
        self.n_seen_ = 0
        self.n_columns_ = None
        self.min_: np.ndarray | None = None
        self.max_: np.ndarray | None = None

    def _check_state(self) -> None:
        if self.n_columns_ is None:
            if self.min_ is not None or self.max_ is not None:
                raise ValueError("min_/max_ without n_columns_")
            return
        if isinstance(self.n_columns_, bool) or not isinstance(self.n_columns_, int):
            raise ValueError("n_columns_ must be an integer")
        seen = self.n_seen_ > 0
        for key in ("min_", "max_"):
            arr = getattr(self, key)
            if seen and (arr is None or arr.shape != (self.n_columns_,)):
                raise ValueError(f"{key} must hold one number per column")
        if seen and bool((self.min_ > self.max_).any()):  # type: ignore[operator]
            raise ValueError("min_ above max_")

    def _update(self, scores: np.ndarray, values: np.ndarray | None) -> np.ndarray:
        n = len(scores)
        if values is None:  # no values: nothing to compare
            self.n_seen_ += n
            return scores.copy()
        if self.min_ is None or self.max_ is None:
            lo_prev = np.concatenate((values[:1], np.minimum.accumulate(values, axis=0)[:-1]))
            hi_prev = np.concatenate((values[:1], np.maximum.accumulate(values, axis=0)[:-1]))
            first = np.zeros(n, dtype=bool)
            first[0] = True
        else:
            lo_run = np.minimum.accumulate(np.vstack((self.min_[None, :], values)), axis=0)
            hi_run = np.maximum.accumulate(np.vstack((self.max_[None, :], values)), axis=0)
            lo_prev, hi_prev = lo_run[:-1], hi_run[:-1]
            first = np.zeros(n, dtype=bool)
        span = hi_prev - lo_prev
        margin = float(self.tolerance) * span
        out_of_range = ((values > hi_prev + margin) | (values < lo_prev - margin)) & (span > 0)
        flagged = out_of_range.any(axis=1) & ~first
        out = scores.copy()
        out[flagged] = np.maximum(scores[flagged], float(self.value))
        self.min_ = np.minimum(lo_prev[-1], values[-1])
        self.max_ = np.maximum(hi_prev[-1], values[-1])
        self.n_seen_ += n
        return out

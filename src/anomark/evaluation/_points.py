"""Point labels for the range metrics: one value and one label per row, checked once.

The range metrics (:mod:`anomark.evaluation.vus`, :mod:`anomark.evaluation.range`) work on
positions, as TimeEval and ``prts`` do: each row is one point, rows are taken in the order
given, and a point is anomalous when its timestamp lies in a labelled window. Contiguous
anomalous points form one anomaly *range* (windows that overlap or touch merge into one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from anomark.errors import DataError
from anomark.evaluation._checks import check_flags, check_scores, windows_with_rows
from anomark.labels import in_any_window, windows_to_ns

__all__ = ["LabelledPoints", "labelled_points", "runs"]


@dataclass(frozen=True)
class LabelledPoints:
    """Values (float scores or bool flags) and point labels, one per row, in row order."""

    values: np.ndarray
    labels: np.ndarray


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and (exclusive) end positions of each run of ``True`` in ``mask``."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _span(index: pd.DatetimeIndex) -> str:
    return f"{index.min()} .. {index.max()}"


def labelled_points(series: Any, windows: Any, what: str, *, kind: str) -> LabelledPoints:
    """Check ``series`` (``kind`` ``"scores"`` or ``"flags"``) and ``windows``; label each row.

    Raises
    ------
    DataError
        Bad series (see :func:`~anomark.evaluation.event_scores`), bad windows, no window,
        a window holding no timestamp of the series (outside it or in a gap), or every row
        inside a window (no normal point: the metrics are undefined).
    """
    if kind == "flags":
        t, values, tz = check_flags(series, what)
    else:
        t, values, tz = check_scores(series, what)
    starts, ends = windows_to_ns(windows, tz)
    if len(starts) == 0:
        raise DataError(
            f"no labelled window: range metrics compare {what} with anomalies and are "
            "undefined without at least one window"
        )
    has_rows = windows_with_rows(np.sort(t), starts, ends)
    if not has_rows.all():
        k = int(np.flatnonzero(~has_rows)[0])
        a, b = pd.Timestamp(starts[k], tz="UTC"), pd.Timestamp(ends[k], tz="UTC")
        if tz is None:
            a, b = a.tz_localize(None), b.tz_localize(None)
        else:
            a, b = a.tz_convert(tz), b.tz_convert(tz)
        raise DataError(
            f"{int((~has_rows).sum())} of {len(has_rows)} window(s) contain no timestamp of "
            f"the {what} (first: windows[{k}] = ({a}, {b}); the {what} span "
            f"{_span(series.index)}); a window outside the data or in a gap cannot be scored: "
            "drop it or give the whole series"
        )
    labels = in_any_window(t, starts, ends)
    if labels.all():
        raise DataError(
            f"every row of the {what} lies inside a labelled window: with no normal point "
            "the range metrics are undefined"
        )
    return LabelledPoints(values=values, labels=labels)

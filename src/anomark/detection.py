"""The result of :meth:`Detector.detect`: scores, threshold, flags, anomalies and events."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from numbers import Real
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from anomark.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from anomark.dataset import Dataset

__all__ = ["Detection"]


_NUMBER_KINDS = ("integer", "floating", "mixed-integer-float", "decimal", "empty")


def _check_scores(scores: pd.Series) -> pd.Series:
    """The scores as a float64 Series named ``"score"``; DataError for text, complex or NaN."""
    dtype = scores.dtype
    numeric = (
        pd.api.types.is_numeric_dtype(dtype)
        and not pd.api.types.is_bool_dtype(dtype)
        and not pd.api.types.is_complex_dtype(dtype)
    )
    if pd.api.types.is_object_dtype(dtype):
        numeric = pd.api.types.infer_dtype(scores, skipna=True) in _NUMBER_KINDS
    if not numeric:
        raise DataError(f"scores must be real numbers, got a Series of dtype {dtype}")
    try:
        values = scores.to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError) as exc:  # pragma: no cover - guarded by the dtype check
        raise DataError(f"scores must be real numbers: {exc}") from None
    nan = np.isnan(values)
    if nan.any():
        first = scores.index[int(np.flatnonzero(nan)[0])]
        raise DataError(f"scores hold {int(nan.sum())} NaN value(s), first at {first}")
    return pd.Series(values, index=scores.index, name="score")


def _check_threshold(threshold: Any) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, Real | np.number):
        raise DataError(
            f"threshold must be a real number, got {type(threshold).__name__} {threshold!r}"
        )
    if isinstance(threshold, complex | np.complexfloating):
        raise DataError(f"threshold must be a real number, got {threshold!r}")
    value = float(threshold)
    if math.isnan(value):
        raise DataError("threshold must be a real number, got NaN")
    return value


class Detection:
    """What a detector found in a dataset.

    Parameters
    ----------
    scores : pandas.Series
        One anomaly score per timestamp (higher = more anomalous), named ``"score"``.
    threshold : float
        The score above which a point is flagged.
    data : Dataset, optional
        The scored data, so :attr:`anomalies` can show the values and :meth:`plot` the series.
    detector : str, optional
        Name of the detector that produced it (for plots and reprs).
    thresholds : pandas.Series, optional
        A threshold per row (an online rule that moves as the stream goes, ``inf`` where a
        row cannot be flagged), indexed like ``scores``; flags are then ``scores >
        thresholds`` and ``threshold`` should be the latest value.
    located : pandas.Series, optional
        For each row (indexed like ``scores``; what matters is its value at flagged rows):
        the time where the anomalous values that raised the row's score entered the data.
        The detector that knows passes it (RCF, from the attribution of the score over the
        shingle's time offsets); :attr:`events` reports it at each event's peak as
        ``located_at``. Without it, ``located_at`` is the peak time.

    Attributes
    ----------
    flags : pandas.Series of bool
        ``scores > threshold`` (or ``scores > thresholds``).
    located : pandas.Series or None
        The ``located`` argument (plots then mark each event's ``located_at``).
    locates_events : bool
        Whether ``located`` was given.

    Raises
    ------
    DataError
        Scores that are not real numbers or hold NaN, a threshold that is not a real number
        or is NaN (``±inf`` is allowed: nothing / everything is flagged), or ``data`` whose
        length differs from the scores'.
    """

    def __init__(
        self,
        scores: pd.Series,
        threshold: float,
        data: Dataset | None = None,
        detector: str | None = None,
        *,
        thresholds: pd.Series | None = None,
        located: pd.Series | None = None,
    ) -> None:
        if not isinstance(scores, pd.Series):
            raise TypeError(f"scores must be a pandas Series, got {type(scores).__name__}")
        if data is not None and len(data) != len(scores):
            raise DataError(f"data has {len(data)} rows but there are {len(scores)} scores")
        self.scores = _check_scores(scores)
        self.threshold = _check_threshold(threshold)
        if thresholds is None:
            self.thresholds: pd.Series | None = None
            self.flags = (self.scores > self.threshold).rename("flag")
        else:
            if not isinstance(thresholds, pd.Series) or len(thresholds) != len(scores):
                raise DataError("thresholds must be a Series with one value per score")
            values = thresholds.to_numpy(dtype=np.float64)
            if np.isnan(values).any():
                raise DataError("thresholds hold NaN")
            self.thresholds = pd.Series(values, index=self.scores.index, name="threshold")
            self.flags = (self.scores > self.thresholds).rename("flag")
        self.data = data
        self.detector = detector
        if located is not None and (
            not isinstance(located, pd.Series) or len(located) != len(scores)
        ):
            raise DataError("located must be a Series with one time per score")
        self.located = None if located is None else located.set_axis(self.scores.index)
        self.locates_events = located is not None

    @classmethod
    def concat(cls, detections: Sequence[Detection]) -> Detection:
        """One Detection from several over consecutive rows, e.g. the results of successive
        :meth:`~anomark.RCFDetector.detect_update` calls on a stream.

        Each call's :attr:`events` end with its rows; joined, an event still open when one
        call ended and continuing in the next is one event (its peak and ``located_at``
        taken over all its rows).

        Parameters
        ----------
        detections : sequence of Detection
            In time order: each one's rows all come after the previous one's.

        Returns
        -------
        Detection
            The scores, flags and (where every part has them) ``located`` times and data,
            joined; per-row ``thresholds`` when a part has them or the parts' thresholds
            differ (a part without them contributes its ``threshold`` on each row), and
            ``threshold`` the last part's (an online rule's value after the last row).
            ``detector`` is kept when the parts agree on it.

        Raises
        ------
        TypeError
            An element that is not a Detection.
        DataError
            No parts, parts that overlap or are out of order (named), or data whose
            columns differ between parts.
        """
        parts = list(detections)
        for i, part in enumerate(parts):
            if not isinstance(part, Detection):
                raise TypeError(
                    f"Detection.concat: part {i} is a {type(part).__name__}, not a Detection"
                )
        if not parts:
            raise DataError("Detection.concat: no detections to join")
        nonempty = [(i, p) for i, p in enumerate(parts) if len(p.scores)]
        for (i, a), (j, b) in pairwise(nonempty):
            last, first = a.scores.index[-1], b.scores.index[0]
            try:
                in_order = bool(last < first)
            except TypeError:
                in_order = False
            if not in_order:
                raise DataError(
                    f"Detection.concat: part {j} starts at {first}, not after part {i}'s last "
                    f"row {last}: the parts must follow each other in time"
                )
        scores = pd.concat([p.scores for p in parts]).rename("score")
        per_row = any(p.thresholds is not None for p in parts) or len(
            {p.threshold for p in parts}
        ) > 1
        thresholds = None
        if per_row:
            thresholds = pd.concat([
                p.thresholds if p.thresholds is not None
                else pd.Series(p.threshold, index=p.scores.index, dtype=np.float64)
                for p in parts
            ])
        located = None
        if all(p.located is not None for p in parts):
            located = pd.concat([p.located for p in parts])  # type: ignore[misc]
        data = None
        if all(p.data is not None for p in parts):
            from anomark.dataset import Dataset

            frames = [p.data.frame for p in parts]  # type: ignore[union-attr]
            for i, frame in enumerate(frames[1:], start=1):
                if list(frame.columns) != list(frames[0].columns):
                    raise DataError(
                        f"Detection.concat: part {i}'s data has columns "
                        f"{list(frame.columns)}, part 0's {list(frames[0].columns)}"
                    )
            data = Dataset(pd.concat(frames), name=parts[0].data.name)  # type: ignore[union-attr]
        names = {p.detector for p in parts}
        return cls(
            scores, parts[-1].threshold, data=data,
            detector=names.pop() if len(names) == 1 else None,
            thresholds=thresholds, located=located,
        )

    @property
    def n_flagged(self) -> int:
        """Number of flagged timestamps."""
        return int(self.flags.sum())

    def _values(self) -> pd.DataFrame:
        """The data's values indexed like the scores; a data column named ``score`` or
        ``flag`` is renamed ``data.score`` / ``data.flag`` so it cannot be confused with ours."""
        if self.data is None:
            return pd.DataFrame(index=self.scores.index)
        frame = self.data.frame
        frame.index = self.scores.index
        return frame.rename(columns={c: f"data.{c}" for c in ("score", "flag")})

    @property
    def anomalies(self) -> pd.DataFrame:
        """Flagged timestamps (in time order) with their value(s) and score.

        A data column named ``score`` appears as ``data.score``.
        """
        table = self._values().assign(score=self.scores)
        return table[self.flags.to_numpy()]

    def _runs(self) -> tuple[np.ndarray, np.ndarray]:
        """First and last row position of each maximal run of flags."""
        flags = self.flags.to_numpy()
        edges = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
        return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1

    def _peaks(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        scores = self.scores.to_numpy()
        return np.array(
            [s + int(np.argmax(scores[s : e + 1])) for s, e in zip(starts, ends, strict=True)],
            dtype=np.int64,
        )

    @property
    def events(self) -> pd.DataFrame:
        """Maximal runs of consecutive flags.

        Columns: ``start``, ``end``, ``peak_time``, ``peak_score``, ``n_points`` and
        ``located_at``: the time where the event's anomalous values entered the data, as the
        detector located it (RCF: from the attribution of the peak's score over the shingle's
        time offsets, so a spike is reported where it happened, not where the shingle holding
        it ends), else the peak time.
        """
        columns = ["start", "end", "peak_time", "peak_score", "n_points", "located_at"]
        starts, ends = self._runs()
        if not len(starts):
            return pd.DataFrame(columns=columns)
        peaks = self._peaks(starts, ends)
        scores = self.scores.to_numpy()
        index = self.scores.index
        where = index if self.located is None else pd.Index(self.located.array)
        rows = [
            (index[s], index[e], index[p], float(scores[p]), int(e - s + 1), where[p])
            for s, e, p in zip(starts, ends, peaks, strict=True)
        ]
        return pd.DataFrame(rows, columns=columns)

    def to_frame(self) -> pd.DataFrame:
        """Values (when known), ``score`` and ``flag`` per timestamp in one DataFrame.

        Data columns named ``score`` or ``flag`` appear as ``data.score`` / ``data.flag``.
        """
        return self._values().assign(score=self.scores, flag=self.flags)

    def plot(
        self,
        windows: list[tuple[Any, Any]] | None = None,
        *,
        column: str | None = None,
        ax: Any = None,
        title: str | None = None,
    ) -> Figure:
        """Series + score (twin axes) + flagged points, with labelled windows shaded.

        Wide data (more than a few columns) is drawn as a heatmap with the score on top.
        See :func:`anomark.plotting.plot_detection`.
        """
        from anomark.plotting import plot_detection

        return plot_detection(self, windows=windows, column=column, ax=ax, title=title)

    def __repr__(self) -> str:
        who = f" by {self.detector}" if self.detector else ""
        return (
            f"<Detection{who}: {len(self.scores)} points, threshold {self.threshold:.6g}, "
            f"{self.n_flagged} flagged in {len(self.events)} event(s)>"
        )

"""The result of :meth:`Detector.detect`: scores, threshold, flags, anomalies and events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from anomark.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from anomark.dataset import Dataset

__all__ = ["Detection"]


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

    Attributes
    ----------
    flags : pandas.Series of bool
        ``scores > threshold``.
    """

    def __init__(
        self,
        scores: pd.Series,
        threshold: float,
        data: Dataset | None = None,
        detector: str | None = None,
    ) -> None:
        if not isinstance(scores, pd.Series):
            raise TypeError(f"scores must be a pandas Series, got {type(scores).__name__}")
        if data is not None and len(data) != len(scores):
            raise DataError(f"data has {len(data)} rows but there are {len(scores)} scores")
        self.scores = scores.rename("score")
        self.threshold = float(threshold)
        self.flags = (self.scores > self.threshold).rename("flag")
        self.data = data
        self.detector = detector

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

    @property
    def events(self) -> pd.DataFrame:
        """Maximal runs of consecutive flags.

        Columns: ``start``, ``end``, ``peak_time``, ``peak_score``, ``n_points``.
        """
        flags = self.flags.to_numpy()
        columns = ["start", "end", "peak_time", "peak_score", "n_points"]
        if not flags.any():
            return pd.DataFrame(columns=columns)
        edges = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
        starts = np.flatnonzero(edges == 1)
        ends = np.flatnonzero(edges == -1) - 1
        scores = self.scores.to_numpy()
        index = self.scores.index
        rows = []
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            peak = s + int(np.argmax(scores[s : e + 1]))
            rows.append((index[s], index[e], index[peak], float(scores[peak]), int(e - s + 1)))
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

"""Sliding windows (shingles) over a series, and the mapping of window scores back to points."""

from __future__ import annotations

import operator
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from anomark.errors import ConfigurationError, DataError

if TYPE_CHECKING:  # pragma: no cover
    from anomark.dataset import Dataset

__all__ = ["DEFAULT_WINDOW_CAP", "Windowing", "default_window_size"]

#: Largest window :func:`default_window_size` picks (one day at a 30-minute interval).
DEFAULT_WINDOW_CAP = 48

Align = Literal["end", "start", "center"]


class Windowing:
    """Cut a ``(n_points, n_features)`` series into overlapping windows.

    Parameters
    ----------
    size : int
        Window length in time steps (the RCF "shingle size"); ``1`` means point-wise.
    stride : int, default 1
        Step between window starts.
    align : {"end", "start", "center"}, default "end"
        Which timestamp of a window receives its score in :meth:`to_points`: its last one
        (what a streaming user sees), its first one, or its middle one.

    Raises
    ------
    ConfigurationError
        For a non-integer or non-positive size/stride, or an unknown ``align``.

    Examples
    --------
    >>> import numpy as np
    >>> from anomark import Windowing
    >>> w = Windowing(size=3)
    >>> w.windows(np.arange(5.0)).shape
    (3, 3, 1)
    >>> w.to_points(np.array([1.0, 2.0, 3.0]), 5)
    array([1., 1., 1., 2., 3.])
    """

    def __init__(self, size: int, stride: int = 1, align: Align = "end") -> None:
        for label, value in (("size", size), ("stride", stride)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise ConfigurationError(
                    f"window {label} must be an integer, got {type(value).__name__} {value!r}"
                )
            if value < 1:
                raise ConfigurationError(f"window {label} must be >= 1, got {value}")
        if align not in ("end", "start", "center"):
            raise ConfigurationError(f"align must be 'end', 'start' or 'center', got {align!r}")
        self.size = int(size)
        self.stride = int(stride)
        self.align: Align = align

    def __repr__(self) -> str:
        return f"Windowing(size={self.size}, stride={self.stride}, align={self.align!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Windowing):
            return NotImplemented
        return (self.size, self.stride, self.align) == (other.size, other.stride, other.align)

    def __hash__(self) -> int:
        return hash((self.size, self.stride, self.align))

    # ------------------------------------------------------------------ shapes
    def n_windows(self, n_points: int) -> int:
        """Number of windows over ``n_points`` rows (raises when the window does not fit)."""
        self.check_length(n_points)
        return (n_points - self.size) // self.stride + 1

    def check_length(self, n_points: int) -> None:
        """Raise :class:`DataError` when the series is shorter than one window."""
        if n_points < self.size:
            raise DataError(
                f"window size {self.size} is larger than the series length {n_points}; "
                "use a smaller window or more data"
            )

    @staticmethod
    def _as_2d(values: np.ndarray) -> np.ndarray:
        try:
            arr = np.asarray(values)
        except (ValueError, TypeError) as exc:  # e.g. a ragged list of rows
            raise DataError(f"cannot convert the series to an array: {exc}") from None
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise DataError(f"expected a 1-D or 2-D array (time x features), got {arr.ndim}-D")
        return arr

    def windows(self, values: np.ndarray) -> np.ndarray:
        """All windows as a read-only strided view, shape ``(n_windows, size, n_features)``.

        No data is copied: the result shares memory with ``values`` (when ``values`` is already
        an ndarray). Copy it before writing.
        """
        arr = self._as_2d(values)
        self.check_length(arr.shape[0])
        view = sliding_window_view(arr, self.size, axis=0)  # (n - size + 1, n_features, size)
        view = view[:: self.stride]
        return view.transpose(0, 2, 1)

    def shingles(self, values: np.ndarray, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Flattened windows ``(n_windows, size * n_features)``, time-major, for RCF-style engines.

        Row ``i`` holds ``values[i*stride : i*stride + size]`` flattened row by row (all features
        at the first time step, then the next...). ``start``/``stop`` select a range of window
        indices so large series can be shingled batch by batch. The result is a new contiguous
        array (it cannot be a view once flattened, except for ``size == 1``).
        """
        view = self.windows(values)
        view = view[start:stop]
        n, size, n_features = view.shape
        return np.ascontiguousarray(view).reshape(n, size * n_features)

    def iter_shingles(
        self, values: np.ndarray, max_bytes: int = 256 * 2**20
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first_window_index, shingle_batch)`` with each batch under ``max_bytes``."""
        arr = self._as_2d(values)
        total = self.n_windows(arr.shape[0])
        row_bytes = self.size * arr.shape[1] * 8
        per_batch = max(1, int(max_bytes // max(row_bytes, 1)))
        for start in range(0, total, per_batch):
            yield start, self.shingles(arr, start, min(total, start + per_batch))

    # ------------------------------------------------------------------ points
    def anchors(self, n_points: int) -> np.ndarray:
        """Row index that receives each window's score under this alignment."""
        n_win = self.n_windows(n_points)
        starts = np.arange(n_win) * self.stride
        if self.align == "start":
            return starts
        if self.align == "center":
            return starts + (self.size - 1) // 2
        return starts + self.size - 1

    def to_points(self, window_scores: np.ndarray, n_points: int) -> np.ndarray:
        """Map one score per window to one score per time step.

        Each window's score goes to its anchor row (see ``align``); rows between anchors
        (``stride > 1``) carry the previous window's score forward; rows before the first
        anchor get the first window's score, never NaN.

        Parameters
        ----------
        window_scores : array, shape (n_windows,) or (n_windows, k)
            Scores per window, in window order.
        n_points : int
            Length of the series the windows were cut from.

        Returns
        -------
        numpy.ndarray, shape (n_points,) or (n_points, k)

        Raises
        ------
        DataError
            Scores that are not numbers or not 1-D/2-D, a non-integer ``n_points``, a series
            shorter than one window, or a number of scores other than the number of windows.
        """
        try:
            n_points = operator.index(n_points)
        except TypeError:
            raise DataError(
                f"n_points must be an integer, got {type(n_points).__name__} {n_points!r}"
            ) from None
        try:
            scores = np.asarray(window_scores, dtype=np.float64)
        except (ValueError, TypeError) as exc:
            raise DataError(f"window scores must be numbers: {exc}") from None
        if scores.ndim not in (1, 2):
            raise DataError(
                f"window scores must be 1-D (one per window) or 2-D, got shape {scores.shape}"
            )
        n_win = self.n_windows(n_points)
        if scores.shape[0] != n_win:
            raise DataError(
                f"got {scores.shape[0]} window scores for {n_points} points, expected {n_win} "
                f"(window size {self.size}, stride {self.stride})"
            )
        anchors = self.anchors(n_points)
        # position of the window whose anchor is the last one at or before each row
        owner = np.searchsorted(anchors, np.arange(n_points), side="right") - 1
        owner = np.clip(owner, 0, n_win - 1)
        return scores[owner]


def default_window_size(
    ds: Dataset,
    *,
    cap: int = DEFAULT_WINDOW_CAP,
    min_size: int = 1,
    max_values: int | None = None,
) -> int:
    """The default window of a series: one day of samples, at most ``cap``.

    Rule: ``n = floor(1 day / sampling interval)`` with the interval from
    :meth:`Dataset.infer_freq` (median spacing); the result is ``min(n, cap)``, further limited
    so that the series holds at least 10 windows and a window holds at most ``max_values``
    values counting every column (SageMaker RCF's ``feature_dim`` limit for RCF), and at least
    ``min_size``. Without a time index, or with an interval of a day or more, one day does not
    fit a window and the result is ``min_size`` (point-wise scoring for RCF).

    With the default cap: 30-minute data (NYC taxi) -> 48 (one day), hourly data -> 24 (one
    day), 5- and 10-minute data -> 48 (4 and 8 hours: a full day, 288 or 144 values, makes
    RCF about 3x slower and finds fewer NAB events, see ``docs/detectors/rcf.md``).

    Every detector declares how it uses this rule (:meth:`Detector.default_window`), so the
    CLI and the benchmark never switch on detector names.

    Parameters
    ----------
    ds : Dataset
        The series to be scored.
    cap : int, default 48
        Largest window returned.
    min_size : int, default 1
        Smallest window returned.
    max_values : int, optional
        Largest ``window * n_columns``.

    Returns
    -------
    int

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from anomark import Dataset
    >>> idx = pd.date_range("2014-07-01", periods=1000, freq="30min")
    >>> default_window_size(Dataset.from_frame(pd.DataFrame({"v": np.ones(1000)}, index=idx)))
    48
    >>> idx = pd.date_range("2014-07-01", periods=1000, freq="h")
    >>> default_window_size(Dataset.from_frame(pd.DataFrame({"v": np.ones(1000)}, index=idx)))
    24
    """
    import pandas as pd

    for label, value in (("cap", cap), ("min_size", min_size)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ConfigurationError(f"{label} must be an integer >= 1, got {value!r}")
    freq = ds.infer_freq()
    if freq is None or freq <= pd.Timedelta(0):
        return int(min_size)
    per_day = int(pd.Timedelta(days=1) // freq)
    if per_day < 2:
        return int(min_size)
    size = min(per_day, int(cap), max(1, len(ds) // 10))
    if max_values is not None:
        size = min(size, max_values // max(ds.n_features, 1))
    return max(int(min_size), size)

"""Labelled anomaly windows: the ``Window`` type, parsing and validation, and label files.

A window is a ``(start, end)`` pair of timestamps, both ends inclusive. This module is the one
place that reads and checks them, for the NAB loader (``labels/combined_windows.json``), the
evaluation metrics, the plots and the CLI's ``--labels FILE``.

Examples
--------
>>> from anomark.labels import parse_windows
>>> parse_windows([("2024-01-01", "2024-01-02 12:00")])
[(Timestamp('2024-01-01 00:00:00'), Timestamp('2024-01-02 12:00:00'))]
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from anomark.errors import DataError

__all__ = [
    "Window",
    "WindowsLike",
    "in_any_window",
    "parse_windows",
    "point_labels",
    "read_windows_file",
    "to_timestamp",
    "window_pairs",
    "windows_to_ns",
]

#: A labelled anomaly window: ``(start, end)``, both ends inclusive.
Window = tuple[pd.Timestamp, pd.Timestamp]
#: What the functions accept as windows: any iterable of ``(start, end)`` pairs whose ends
#: ``pandas.Timestamp`` can read (timestamps, datetime strings...).
WindowsLike = Iterable[tuple[Any, Any]]


def window_pairs(windows: Any, what: str = "windows") -> list[tuple[Any, Any]]:
    """``windows`` as a list of ``(start, end)`` pairs, checking the shape only.

    ``None`` gives an empty list. The ends are not parsed (plots of series without a time index
    use numbers).

    Raises
    ------
    DataError
        ``windows`` is not an iterable of pairs (a string, a mapping, a DataFrame, a number...).
    """
    if windows is None:
        return []
    if isinstance(windows, str | bytes | pd.DataFrame | Mapping):
        raise DataError(
            f"{what} must be a list of (start, end) pairs, got {type(windows).__name__}"
        )
    try:
        items = list(windows)
    except TypeError:
        raise DataError(
            f"{what} must be a list of (start, end) pairs, got {type(windows).__name__}"
        ) from None
    out: list[tuple[Any, Any]] = []
    for k, pair in enumerate(items):
        if isinstance(pair, str | bytes) or not hasattr(pair, "__len__") or len(pair) != 2:
            raise DataError(f"{what}[{k}] is not a (start, end) pair: {pair!r}")
        out.append((pair[0], pair[1]))
    return out


def to_timestamp(value: Any, where: str) -> pd.Timestamp:
    """One window end as a Timestamp.

    Raises
    ------
    DataError
        ``value`` is not a timestamp, or is missing (NaT).
    """
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        raise DataError(f"{where}: {value!r} is not a timestamp") from None
    if pd.isna(stamp):
        raise DataError(f"{where}: missing timestamp (NaT)")
    return stamp


def parse_windows(windows: Any, what: str = "windows") -> list[Window]:
    """Validated windows: ``(start, end)`` Timestamps with ``start <= end``, in the given order.

    Parameters
    ----------
    windows : iterable of (start, end)
        Timestamps or anything ``pandas.Timestamp`` reads (``"2014-11-02 09:00"``).
    what : str
        Name used in messages (``"windows of 'realKnownCause/nyc_taxi.csv'"``).

    Returns
    -------
    list of (pandas.Timestamp, pandas.Timestamp)

    Raises
    ------
    DataError
        Not a list of pairs, an end that is not a timestamp, or a window that starts after it
        ends; the message names the window by its position.
    """
    out: list[Window] = []
    for k, (a, b) in enumerate(window_pairs(windows, what)):
        where = f"{what}[{k}]"
        start, end = to_timestamp(a, where), to_timestamp(b, where)
        if (start.tz is None) != (end.tz is None):  # would raise a bare TypeError below
            raise DataError(
                f"{where} mixes a timezone-naive and a timezone-aware end: start {start}, "
                f"end {end}"
            )
        if start > end:
            raise DataError(f"{where} starts after it ends: start {start}, end {end}")
        out.append((start, end))
    return out


def _ns(stamp: pd.Timestamp, tz: Any, where: str) -> int:
    if (stamp.tz is None) != (tz is None):
        have = "timezone-aware" if stamp.tz is not None else "timezone-naive"
        index = f"timezone-aware ({tz})" if tz is not None else "timezone-naive"
        raise DataError(
            f"{where}: {stamp} is {have} but the series' index is {index}; use the same kind"
        )
    try:
        return int(stamp.as_unit("ns").value)
    except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime):
        raise DataError(f"{where}: {stamp} is out of the representable range") from None


def windows_to_ns(windows: Any, tz: Any, what: str = "windows") -> tuple[np.ndarray, np.ndarray]:
    """Window starts and ends as int64 nanoseconds (UTC for a timezone-aware index).

    Parameters
    ----------
    windows : iterable of (start, end)
    tz : tzinfo or None
        Time zone of the series' index: the windows must be aware exactly when it is.
    what : str
        Name used in messages.

    Raises
    ------
    DataError
        As :func:`parse_windows`, or windows whose time-zone awareness differs from the index.
    """
    parsed = parse_windows(windows, what)
    starts = np.empty(len(parsed), dtype=np.int64)
    ends = np.empty(len(parsed), dtype=np.int64)
    for k, (start, end) in enumerate(parsed):
        starts[k] = _ns(start, tz, f"{what}[{k}]")
        ends[k] = _ns(end, tz, f"{what}[{k}]")
    return starts, ends


def in_any_window(t: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Whether each time ``t`` (int64 ns) lies in at least one window (windows may overlap)."""
    if len(starts) == 0:
        return np.zeros(len(t), dtype=bool)
    order = np.argsort(starts, kind="stable")
    sorted_starts = starts[order]
    reach = np.maximum.accumulate(ends[order])  # furthest end among windows started so far
    k = np.searchsorted(sorted_starts, t, side="right") - 1
    return np.asarray((k >= 0) & (reach[np.maximum(k, 0)] >= t), dtype=bool)


def point_labels(index: pd.DatetimeIndex, windows: Any, what: str = "windows") -> np.ndarray:
    """One boolean per timestamp of ``index``: inside a labelled window or not.

    Raises
    ------
    DataError
        ``index`` is not a DatetimeIndex, or bad windows (as :func:`windows_to_ns`).
    """
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(
            f"point labels need a DatetimeIndex to place {what} in time, got "
            f"{type(index).__name__}"
        )
    starts, ends = windows_to_ns(windows, index.tz, what)
    t = np.asarray(index.as_unit("ns").asi8, dtype=np.int64)
    return in_any_window(t, starts, ends)


def read_windows_file(
    path: str | os.PathLike[str], series: str | None = None
) -> list[Window]:
    """Windows from a JSON labels file.

    The file holds either a list of ``[start, end]`` pairs, or NAB's layout: an object mapping
    series names to such lists (``combined_windows.json``). For a mapping with several series,
    ``series`` picks the entry whose key or file name matches it.

    Parameters
    ----------
    path : path
        The JSON file.
    series : str, optional
        Name (or file name) of the series, for a file with several series.

    Returns
    -------
    list of (pandas.Timestamp, pandas.Timestamp)

    Raises
    ------
    DataError
        Missing file, invalid JSON, no entry for ``series``, or bad windows.
    """
    file = Path(path)
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"labels file not found: {file}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"labels file {file} is not valid JSON: {exc}") from None
    if isinstance(raw, dict):
        if len(raw) == 1:
            raw = next(iter(raw.values()))
        else:
            name = series or ""
            keys = [k for k in raw if k == name or Path(k).name == Path(name).name]
            if len(keys) != 1:
                raise DataError(
                    f"labels file {file} has windows for {len(raw)} series; none matches "
                    f"{series!r} (keys like {list(raw)[:3]})"
                )
            raw = raw[keys[0]]
    if not isinstance(raw, list):
        raise DataError(
            f"labels file {file} must hold a list of [start, end] windows "
            "(or a NAB-style {series: [[start, end], ...]} mapping)"
        )
    return parse_windows(raw, f"labels file {file}: window")

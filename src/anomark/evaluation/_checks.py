"""Input checks shared by the evaluation metrics: flags, scores and their time index."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from anomark.errors import DataError

__all__ = [
    "check_flags",
    "check_index",
    "check_scores",
    "warn_empty_windows",
    "windows_with_rows",
]


def check_index(index: pd.Index, what: str) -> tuple[np.ndarray, Any]:
    """Row timestamps as int64 nanoseconds (UTC for tz-aware), and the index's time zone."""
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(
            f"{what} must have a DatetimeIndex (timestamps), got {type(index).__name__} "
            f"of dtype {index.dtype}; windows are located in time"
        )
    if len(index) == 0:
        raise DataError(f"{what} is empty (0 rows)")
    if index.hasnans:
        raise DataError(f"{what} has missing timestamps (NaT) in its index")
    try:
        ns = np.asarray(index.as_unit("ns").asi8, dtype=np.int64)
    except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime) as exc:
        raise DataError(f"{what}: timestamps out of the representable range ({exc})") from None
    return ns, index.tz


def check_flags(flags: Any, what: str = "flags") -> tuple[np.ndarray, np.ndarray, Any]:
    if not isinstance(flags, pd.Series):
        raise DataError(
            f"{what} must be a pandas Series of bool with a DatetimeIndex, got "
            f"{type(flags).__name__}"
        )
    dtype = flags.dtype
    if not pd.api.types.is_bool_dtype(dtype):
        raise DataError(
            f"{what} must be bool (True = flagged), got dtype {dtype}; turn scores into flags "
            "first, e.g. scores >= threshold"
        )
    if flags.hasnans:
        raise DataError(f"{what} has {int(flags.isna().sum())} missing value(s); fill them first")
    ns, tz = check_index(flags.index, what)
    return ns, np.asarray(flags.to_numpy(dtype=bool), dtype=bool), tz


def check_scores(scores: Any, what: str = "scores") -> tuple[np.ndarray, np.ndarray, Any]:
    if not isinstance(scores, pd.Series):
        raise DataError(
            f"{what} must be a pandas Series of numbers with a DatetimeIndex, got "
            f"{type(scores).__name__}"
        )
    dtype = scores.dtype
    if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)) or (
        pd.api.types.is_complex_dtype(dtype)
    ):
        raise DataError(f"{what} must be numeric, got dtype {dtype}")
    ns, tz = check_index(scores.index, what)
    values = np.asarray(scores.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        first = scores.index[int(np.flatnonzero(bad)[0])]
        raise DataError(
            f"{what} has {int(bad.sum())} NaN/infinite value(s), first at {first}; "
            "scores must be finite"
        )
    return ns, values, tz


def windows_with_rows(t_sorted: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    lo = np.searchsorted(t_sorted, starts, side="left")
    hi = np.searchsorted(t_sorted, ends, side="right")
    return hi > lo


def warn_empty_windows(has_rows: np.ndarray, what: str) -> None:
    empty = int((~has_rows).sum())
    if empty:
        warnings.warn(
            f"{empty} of {len(has_rows)} window(s) contain no timestamp of the {what}; they are "
            "left out (they cannot be detected)",
            UserWarning,
            stacklevel=3,
        )

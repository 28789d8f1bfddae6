"""Reading time series from files: CSV files, globs and folders, S3 prefixes; time parsing.

Every reader returns a :class:`pandas.DataFrame` indexed by the parsed timestamps (the
:class:`~anomark.Dataset` constructors validate it): :func:`read_csv_files` (one or several
CSV files, concatenated in time order), :func:`read_s3` (every CSV object under an
``s3://`` prefix) and :func:`read_csv_file` (one file or buffer).

Timestamps are parsed with **one format per column** (:func:`parse_times`): the format is
inferred from the column's first value, then every value must match it. Dates whose day and
month can be swapped (``01/02/2024``) are read month first unless ``dayfirst=True``, but only
when the data supports that reading (fewer backward steps, or else more evenly spaced times,
than read day first). When it does not (a first field above 12 somewhere, a month-first
reading that steps backwards or irregularly where the day-first one does not, or no
difference) the reader stops with an error naming ``dayfirst=True`` / ``time_format=``
(``--dayfirst`` / ``--time-format`` on the command line) instead of guessing or mixing both
readings. An irregular sampling interval is reported with an
:class:`IrregularSamplingWarning`.
"""

from __future__ import annotations

import glob
import io
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from anomark._s3 import split_s3_uri
from anomark.errors import DataError, DataTypeError, MissingFileError

if TYPE_CHECKING:  # pragma: no cover
    import boto3

__all__ = [
    "IrregularSamplingWarning",
    "PathLike",
    "bad_index_message",
    "check_sampling",
    "concat_frames",
    "date_order",
    "expand_paths",
    "find_time_column",
    "index_looks_like_dates",
    "infer_time_format",
    "is_datetime_like",
    "parse_index",
    "parse_times",
    "read_csv_file",
    "read_csv_files",
    "read_s3",
    "value_kind",
]

PathLike = str | os.PathLike[str]

#: Column names taken as the time column (case-insensitive) when none is given.
TIME_NAMES = ("timestamp", "time", "datetime", "date", "ts", "date_time", "time_stamp")
_GLOB_CHARS = set("*?[")
#: ``pd.api.types.infer_dtype`` kinds that are numbers, never timestamps.
NUMERIC_KINDS = frozenset(
    {"integer", "floating", "mixed-integer-float", "decimal", "complex", "boolean"}
)
#: Share of sampling steps that may differ from the usual one before a warning.
IRREGULAR_SHARE = 0.01
_INT64_MIN, _INT64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)
_HINT = "pass dayfirst=True (--dayfirst) or time_format= (--time-format)"
_MIXED_ZONES = (
    "timestamps mix time zones or offsets; convert them to one time zone "
    "(e.g. pd.to_datetime(..., utc=True)) before building a Dataset"
)


class IrregularSamplingWarning(UserWarning):
    """The timestamps are not evenly spaced: windows count rows, not time."""


# ---------------------------------------------------------------------- time parsing
def value_kind(values: Any) -> str:
    """``infer_dtype`` of ``values`` (of a categorical's categories), NaN/None skipped."""
    if isinstance(getattr(values, "dtype", None), pd.CategoricalDtype):
        values = values.dtype.categories
    try:
        return str(pd.api.types.infer_dtype(values, skipna=True))
    except (TypeError, ValueError):  # pragma: no cover - infer_dtype accepts any array-like
        return "unknown"


def _swap_day_month(fmt: str) -> tuple[str, str] | None:
    """The month-first and day-first variants of ``fmt`` when its day and month are both
    numbers and the year does not come first (``%d/%m/%Y``), else ``None``."""
    if "%d" not in fmt or "%m" not in fmt:
        return None
    year = min((fmt.find(y) for y in ("%Y", "%y") if y in fmt), default=len(fmt))
    if year < min(fmt.find("%d"), fmt.find("%m")):
        return None  # year first: 2024-01-02 is always year-month-day

    def swap(text: str) -> str:
        return text.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")

    month_first = fmt if fmt.find("%m") < fmt.find("%d") else swap(fmt)
    return month_first, swap(month_first)


def _month_before_day(fmt: str) -> str:
    """``fmt`` with its ``%m`` before its ``%d``: pandas guesses ``%Y/%d/%m`` for
    ``2024/01/02`` when asked for day first, a reading no year-first date uses."""
    if "%d" in fmt and "%m" in fmt and fmt.find("%d") < fmt.find("%m"):
        return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")
    return fmt


def _usual_step(deltas: np.ndarray) -> tuple[int, int]:
    """The most common of the steps ``deltas`` and how many steps equal it."""
    steps, counts = np.unique(deltas, return_counts=True)
    most = int(np.argmax(counts))
    return int(steps[most]), int(counts[most])


def _steps(parsed: pd.DatetimeIndex) -> tuple[int, float]:
    """Backward steps and the share of steps equal to the most common one, in row order."""
    valid = parsed[~np.asarray(parsed.isna())]
    if len(valid) < 2:
        return 0, 1.0
    deltas = np.diff(valid.asi8)
    return int((deltas < 0).sum()), _usual_step(deltas)[1] / len(deltas)


def _try_format(strings: pd.Index, fmt: str) -> pd.DatetimeIndex | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parsed = pd.to_datetime(strings, format=fmt, errors="coerce")
        except (ValueError, TypeError, OverflowError):
            return None
    if not isinstance(parsed, pd.DatetimeIndex) or parsed.isna().any():
        return None
    return parsed


def infer_time_format(
    strings: Sequence[str] | pd.Index, source: str, *, dayfirst: bool | None = None
) -> str:
    """The one format of a column of date strings (``"ISO8601"`` for ISO 8601 text).

    Parameters
    ----------
    strings : sequence of str
        The column's values (missing values removed).
    source : str
        Where they come from, for messages.
    dayfirst : bool, optional
        Read ``01/02/2024`` as 1 February (``True``) or 2 January (``False``). ``None``: month
        first unless the data shows day first, which is then reported as an error.

    Returns
    -------
    str
        A :func:`pandas.to_datetime` format; ``"mixed"`` when no single format can be
        guessed and the values read the same day first and month first.

    Raises
    ------
    DataError
        Day and month can be swapped and the data hints at day first, or no reading parses
        every value.

    Examples
    --------
    >>> infer_time_format(["2024-01-02 00:30:00"], "x")
    'ISO8601'
    >>> infer_time_format(["01/02/2024 00:00", "01/02/2024 00:30"], "x")
    '%m/%d/%Y %H:%M'
    >>> infer_time_format(["01/02/2024 00:00"], "x", dayfirst=True)
    '%d/%m/%Y %H:%M'
    """
    from pandas.tseries.api import guess_datetime_format

    values = pd.Index([str(s).strip() for s in strings], dtype=object)
    if len(values) == 0:
        raise DataError(f"{source}: no timestamps to parse")
    first = str(values[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        guessed = guess_datetime_format(first, dayfirst=bool(dayfirst))
    if guessed is None:
        return _mixed_format(values, source, dayfirst)
    if guessed.startswith(("%Y-%m-%d", "%Y-%d-%m")):
        return "ISO8601"
    pair = _swap_day_month(guessed)
    if pair is None:  # no day and month, or the year first: year, month, day as in ISO 8601
        return _month_before_day(guessed)
    month_first, day_first = pair
    if dayfirst is not None:
        return day_first if dayfirst else month_first
    as_month = _try_format(values, month_first)
    as_day = _try_format(values, day_first)
    if as_month is not None and as_day is None:
        return month_first
    if as_month is None and as_day is not None:
        bad = _first_failure(values, month_first)
        raise DataError(
            f"{source}: the dates look day first ({bad!r} cannot be read month first), so "
            f"dates such as {_ambiguous_example(values, month_first, day_first)!r} are "
            f"ambiguous; {_HINT}, e.g. time_format={day_first!r}"
        )
    if as_month is None or as_day is None:
        bad_m = _first_failure(values, month_first)
        bad_d = _first_failure(values, day_first)
        if bad_m is None or bad_d is None:  # every value parses alone: offsets differ
            raise DataError(f"{source}: {_MIXED_ZONES}")
        which = (
            f"{bad_m!r} matches neither {month_first!r} nor {day_first!r}" if bad_m == bad_d
            else f"{bad_m!r} does not match {month_first!r} and {bad_d!r} does not match "
            f"{day_first!r}"
        )
        raise DataError(
            f"{source}: cannot parse timestamps with one format: {which} (inferred from "
            f"{first!r}); pass time_format= (--time-format) with the format of every value"
        )
    if as_month.equals(as_day):  # every date has day == month: nothing to choose
        return month_first
    back_m, share_m = _steps(as_month)
    back_d, share_d = _steps(as_day)
    # rows are normally in time order and evenly spaced: the reading with fewer backward
    # steps, then with more equal steps, is the data's; a tie gives no evidence
    if (back_m, -share_m) < (back_d, -share_d):
        return month_first
    if (back_m, -share_m) == (back_d, -share_d):
        why = "both readings are equally plausible"
    elif back_d < back_m:
        why = f"read month first the times step backwards {back_m} time(s), day first {back_d}"
    else:
        why = "read day first the times are more regular"
    raise DataError(
        f"{source}: day and month are ambiguous in dates such as "
        f"{_ambiguous_example(values, month_first, day_first)!r} ({month_first!r} or "
        f"{day_first!r}): {why}; {_HINT}, e.g. time_format={day_first!r}"
    )


_DMY = re.compile(r"(?<!\d)(\d{1,2})[/.\-](\d{1,2})[/.\-]\d{2,4}(?!\d)")
_YEAR_FIRST = re.compile(r"\s*\d{4}[/.\-]\d{1,2}[/.\-]\d{1,2}(?!\d)")


def date_order(text: str) -> Literal["day", "month", "either", "ambiguous"]:
    """How the day and month of one timestamp written ``dd/mm/yyyy``-like (``/``, ``.`` or
    ``-``, year last) can be read, for a reader that sees one row at a time (a stream).

    ``"day"`` / ``"month"``: only day first / only month first gives a date (``13/02/2024``,
    ``02/13/2024``); ``"ambiguous"``: both do, and they differ (``01/02/2024``);
    ``"either"``: the order does not matter (day and month equal, no such date in the text,
    as in ISO 8601's year-first dates, or neither reading is a date).
    """
    if _YEAR_FIRST.match(text):  # 2024-01-02 10.11.12: a dotted time is no date
        return "either"
    match = _DMY.search(text)
    if match is None:
        return "either"
    a, b = int(match.group(1)), int(match.group(2))
    if a == b or (a > 12 and b > 12) or 0 in (a, b):
        return "either"
    if a > 12:
        return "day"
    if b > 12:
        return "month"
    return "ambiguous"


def _mixed_format(values: pd.Index, source: str, dayfirst: bool | None) -> str:
    """Values no single format was guessed for: parsed one by one (pandas' ``"mixed"``), but
    only when swapping day and month cannot change them."""
    if dayfirst is None and any(_DMY.search(str(v)) for v in values[:200]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                a = pd.to_datetime(values, format="mixed", dayfirst=False)
                b = pd.to_datetime(values, format="mixed", dayfirst=True)
            except (ValueError, TypeError, OverflowError):
                return "mixed"  # the caller reports the unparseable value
        if not a.equals(b):
            raise DataError(
                f"{source}: day and month are ambiguous in dates such as {values[0]!r} and no "
                f"single format fits them; {_HINT}"
            )
    return "mixed"


def _ambiguous_example(values: pd.Index, month_first: str, day_first: str) -> str:
    """A value that reads differently month first and day first (else the first value)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = pd.to_datetime(values, format=month_first, errors="coerce")
        b = pd.to_datetime(values, format=day_first, errors="coerce")
    both = np.flatnonzero(~np.asarray(a.isna()) & ~np.asarray(b.isna()) & np.asarray(a != b))
    return str(values[int(both[0])]) if len(both) else str(values[0])


def _first_failure(values: pd.Index, fmt: str) -> str | None:
    """The first value that ``fmt`` does not read, or ``None`` when each value is read
    (then they fail together, e.g. dates with different UTC offsets)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parsed = pd.to_datetime(values, format=fmt, errors="coerce")
        except (ValueError, TypeError, OverflowError):
            return None
    bad = np.flatnonzero(pd.isna(parsed))
    return str(values[int(bad[0])]) if len(bad) else None


def parse_times(
    values: Any,
    source: str,
    *,
    dayfirst: bool | None = None,
    time_format: str | None = None,
) -> pd.DatetimeIndex:
    """Parse ``values`` into a DatetimeIndex with one format, or raise a DataError.

    Numbers (and booleans) are refused: pandas would read integers as epoch *nanoseconds*,
    silently putting epoch seconds in 1970.

    Parameters
    ----------
    values : array-like
        Date strings, datetime objects or a DatetimeIndex.
    source : str
        Where the values come from, for messages (``"CSV file a.csv column 'timestamp'"``).
    dayfirst : bool, optional
        See :func:`infer_time_format`.
    time_format : str, optional
        An explicit :func:`pandas.to_datetime` format (``"%d/%m/%Y %H:%M"``,
        ``"ISO8601"``...); every value must match it.

    Returns
    -------
    pandas.DatetimeIndex

    Raises
    ------
    DataError
        Numbers, values that do not all match one format (the first offender is named),
        ambiguous day/month order, missing values, mixed time zones.
    """
    if isinstance(values, pd.DatetimeIndex):
        return values
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.DatetimeTZDtype):
        return pd.DatetimeIndex(values)
    if time_format is not None and not isinstance(time_format, str):
        raise DataTypeError(f"time_format must be a string, got {type(time_format).__name__}")
    kind = value_kind(values)
    if kind in NUMERIC_KINDS:
        raise DataError(
            f"{source}: holds {kind} values, not timestamps; numbers are not read as epoch "
            "times because their unit is ambiguous: convert them first, e.g. "
            "pd.to_datetime(values, unit=\"s\") for epoch seconds"
        )
    index = pd.Index(values)
    if isinstance(index.dtype, pd.CategoricalDtype):
        index = pd.Index(np.asarray(index, dtype=object), dtype=object)
    missing = np.asarray(pd.isna(index), dtype=bool)
    if missing.any():
        raise DataError(
            f"{source}: unparseable or missing timestamp at row {int(np.flatnonzero(missing)[0])}"
        )
    fmt = time_format
    if fmt is None and kind == "string":
        fmt = infer_time_format(index, source, dayfirst=dayfirst)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if fmt is None:  # datetime objects (or a mix with strings)
                parsed = pd.to_datetime(index, format="mixed", dayfirst=bool(dayfirst))
            else:
                strings = index.map(lambda v: v.strip() if isinstance(v, str) else v)
                parsed = pd.to_datetime(strings, format=fmt, errors="coerce",
                                        dayfirst=bool(dayfirst) if fmt == "mixed" else False)
    except (ValueError, TypeError, OverflowError) as exc:
        raise DataError(f"{source}: cannot parse timestamps ({exc})") from None
    if not isinstance(parsed, pd.DatetimeIndex):
        raise DataError(f"{source}: {_MIXED_ZONES}")
    if parsed.hasnans:
        row = int(np.flatnonzero(parsed.isna())[0])
        how = (
            f"does not match the column's format {fmt!r}"
            + ("" if time_format is not None else f" (inferred from {str(index[0]).strip()!r})")
            if fmt not in (None, "mixed") else "is not a date"
        )
        raise DataError(
            f"{source}: cannot parse timestamps: {str(index[row])!r} at row {row} {how}; "
            "pass time_format= (--time-format) with the format of every value"
        )
    return parsed


def is_datetime_like(series: pd.Series) -> bool:
    """Whether a column holds dates (datetime dtype, or strings that parse as dates)."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return True
    if not (
        pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype)
    ):
        return False
    sample = series.dropna().head(20)
    if sample.empty or value_kind(sample) in NUMERIC_KINDS:
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pd.to_datetime(sample, format="mixed")
    except (ValueError, TypeError, OverflowError):
        return False
    return True


def index_looks_like_dates(index: pd.Index) -> bool:
    """Whether an object/string/categorical index holds date-like values (not numbers)."""
    values: Any = index
    if isinstance(index.dtype, pd.CategoricalDtype):
        values = pd.Index(np.asarray(index, dtype=object), dtype=object)
    elif not (
        pd.api.types.is_object_dtype(index.dtype) or pd.api.types.is_string_dtype(index.dtype)
    ):
        return False
    return is_datetime_like(pd.Series(np.asarray(values, dtype=object), dtype=object))


def find_time_column(frame: pd.DataFrame, source: str) -> str:
    """The column named like a time (:data:`TIME_NAMES`) or, failing that, holding dates."""
    for col in frame.columns:
        if str(col).strip().lower() in TIME_NAMES:
            return str(col)
    for col in frame.columns:
        if is_datetime_like(frame[col]):
            return str(col)
    raise DataError(
        f"{source}: no time column found (looked for a column named one of {TIME_NAMES} "
        f"or holding dates, among {list(map(str, frame.columns))}); pass time_column="
    )


def _short(nanoseconds: int) -> str:
    """A step as a short offset alias: ``30min``, ``1h``, ``2D``."""
    from pandas.tseries.frequencies import to_offset

    text = str(to_offset(pd.Timedelta(nanoseconds, unit="ns")).freqstr)
    return text if text[0].isdigit() else f"1{text}"


def check_sampling(index: pd.Index, source: str) -> None:
    """Warn (:class:`IrregularSamplingWarning`) when more than 1 % of the steps between
    consecutive distinct timestamps differ from the usual (most common) step."""
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 3:
        return
    times = np.unique(index.as_unit("ns").asi8)
    if len(times) < 3:
        return
    deltas = np.diff(times)
    usual, same = _usual_step(deltas)
    odd = len(deltas) - same
    if odd <= IRREGULAR_SHARE * len(deltas):  # counts: 1 - 0.99 is above 0.01 in floats
        return
    share = odd / len(deltas)
    warnings.warn(
        f"{source}: irregular sampling: {share:.0%} of the {len(deltas)} steps differ from the "
        f"usual {_short(usual)} (from {_short(int(deltas.min()))} to "
        f"{_short(int(deltas.max()))}); windows count rows, not time: consider "
        "resampling first (Dataset.resample, --resample)",
        IrregularSamplingWarning,
        stacklevel=3,
    )


def _as_positions(index: pd.Index, where: str) -> pd.Index:
    """An index of integers (any integer dtype, or objects/categories holding integers) as
    int64 positions; refuses missing values and integers beyond the int64 range."""
    if isinstance(index.dtype, pd.CategoricalDtype):
        index = pd.Index(np.asarray(index, dtype=object), dtype=object)
    if index.hasnans:
        first = int(np.flatnonzero(index.isna())[0])
        raise DataError(
            f"{where}: the integer index has missing values (first at row {first}); "
            "positions must all be present"
        )
    if isinstance(index, pd.RangeIndex) or (
        isinstance(index.dtype, np.dtype) and index.dtype.kind == "i"
    ):
        return pd.Index(index.astype(np.int64))
    lo, hi = int(index.min()), int(index.max())
    if lo < _INT64_MIN or hi > _INT64_MAX:
        bad = hi if hi > _INT64_MAX else lo
        raise DataError(
            f"{where}: integer index value {bad} is outside the int64 range of positions "
            f"[{_INT64_MIN}, {_INT64_MAX}]"
        )
    if isinstance(index.dtype, np.dtype) and index.dtype.kind == "u":
        return pd.Index(index.astype(np.int64))
    return pd.Index(np.asarray(index.to_numpy(dtype=object).tolist(), dtype=np.int64))


def bad_index_message(where: str, index: pd.Index) -> str:
    """The message for an index that is neither timestamps nor integer positions."""
    kind = value_kind(index)
    plain = isinstance(index.dtype, np.dtype) and index.dtype.kind != "O"
    held = "" if plain else f" holding {kind} values"
    return (
        f"{where}: index of dtype {index.dtype}{held} is neither timestamps nor integer "
        "positions"
    )


def parse_index(index: pd.Index, where: str) -> pd.Index:
    """A frame's index as a DatetimeIndex or as int64 positions, or a DataError.

    Integers (any integer dtype, or objects/categories holding integers) are positions; other
    numbers are refused; anything else must parse as timestamps (never epoch nanoseconds).
    """
    if isinstance(index, pd.MultiIndex):
        raise DataError(f"{where}: a MultiIndex is not supported; use a time index")
    if isinstance(index, pd.DatetimeIndex):
        return index
    dtype = index.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
        raise DataError(bad_index_message(where, index))
    if pd.api.types.is_integer_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
        return _as_positions(index, where)  # int64, uint64, nullable Int64...
    kind = value_kind(index)
    if kind == "integer":
        return _as_positions(index, where)
    if kind in NUMERIC_KINDS:
        raise DataError(bad_index_message(where, index))
    return parse_times(index, f"{where} index")


# ---------------------------------------------------------------------- files
def expand_paths(paths: PathLike | Sequence[PathLike]) -> list[str]:
    """Files named by a path, a glob pattern, a folder (its ``*.csv``) or a list of them.

    Raises
    ------
    MissingFileError
        A named file does not exist.
    DataError
        A glob matches nothing, a folder has no ``*.csv`` file, or no path is given.
    DataTypeError
        ``paths`` is not a path or a sequence of paths.
    """
    if isinstance(paths, str | os.PathLike):
        items = [os.fspath(paths)]
    elif isinstance(paths, Sequence) and not isinstance(paths, bytes):
        items = [os.fspath(p) for p in paths]
    else:
        raise DataTypeError(
            f"expected a path, glob pattern or list of paths, got {type(paths).__name__}"
        )
    if not items:
        raise DataError("no CSV files given")
    files: list[str] = []
    for item in items:
        if _GLOB_CHARS & set(item) and not os.path.exists(item):
            matched = sorted(p for p in glob.glob(item) if os.path.isfile(p))
            if not matched:
                raise DataError(f"no files match {item!r}")
            files.extend(matched)
        elif os.path.isdir(item):
            matched = sorted(glob.glob(os.path.join(item, "*.csv")))
            if not matched:
                raise DataError(f"no *.csv files in folder {item}")
            files.extend(matched)
        elif os.path.exists(item):
            files.append(item)
        else:
            raise MissingFileError(f"CSV file not found: {item}")
    return files


def read_csv_file(
    source: Any,
    time_column: str | None = None,
    read_csv_kwargs: Mapping[str, Any] | None = None,
    *,
    label: str | None = None,
    dayfirst: bool | None = None,
    time_format: str | None = None,
) -> pd.DataFrame:
    """Read one CSV file (or buffer) into a frame indexed by its parsed time column.

    Parameters
    ----------
    source : path or file-like
        The CSV.
    time_column : str, optional
        The timestamp column; found by :func:`find_time_column` when omitted.
    read_csv_kwargs : mapping, optional
        Passed to :func:`pandas.read_csv` (``sep``, ``decimal``...).
    label : str, optional
        Name of the source in messages (default: ``str(source)``).
    dayfirst, time_format
        See :func:`parse_times`.

    Returns
    -------
    pandas.DataFrame
        In file order (not sorted); ``attrs["source"]`` holds ``label``.

    Raises
    ------
    DataError
        Empty or malformed file, not text, no time column, unparseable timestamps.
    """
    label = label or str(source)
    if isinstance(source, str) and os.path.getsize(source) == 0:
        raise DataError(f"CSV file {label} is empty (0 bytes)")
    opts = {"encoding": "utf-8-sig", **(read_csv_kwargs or {})}
    try:
        frame = pd.read_csv(source, **opts)
    except pd.errors.EmptyDataError:
        raise DataError(f"CSV file {label} is empty") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"CSV file {label} is malformed: {exc}") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"CSV file {label} is not valid text ({exc.reason})") from None
    if frame.empty:
        raise DataError(f"CSV file {label} has a header but no rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    col = time_column if time_column is not None else find_time_column(frame, f"CSV file {label}")
    if col not in frame.columns:
        raise DataError(
            f"CSV file {label}: time column {col!r} not found among {list(frame.columns)}"
        )
    frame = frame.set_index(col)
    frame.index = parse_times(
        frame.index, f"CSV file {label} column {col!r}", dayfirst=dayfirst,
        time_format=time_format,
    )
    frame.attrs["source"] = label
    return frame


def concat_frames(
    frames: list[pd.DataFrame], columns: Sequence[str] | None, where: str
) -> pd.DataFrame:
    """Frames read from several files, concatenated and stably sorted in time; all must have
    the same columns (in any order, matched by name). With ``columns``, each file needs only
    those (other columns are dropped)."""
    first = frames[0]
    wanted = list(first.columns) if columns is None else list(columns)
    for f in frames:
        missing = [c for c in wanted if c not in f.columns]
        extra = [] if columns is not None else [c for c in f.columns if c not in wanted]
        if missing or extra:
            source = f.attrs.get("source", "?")
            if columns is not None:
                raise DataError(f"columns {missing} not found in {source} (reading {where})")
            differences = ([f"lacks column(s) {missing}"] if missing else []) + (
                [f"has extra column(s) {extra}"] if extra else []
            )
            raise DataError(
                f"files have different columns: {source} {' and '.join(differences)} "
                f"compared with {first.attrs.get('source', '?')} (columns {wanted}); pass "
                "columns= (--columns) to read only the common ones"
            )
    if len(frames) == 1:
        return first[wanted] if columns is not None else first
    return pd.concat([f[wanted] for f in frames]).sort_index(kind="stable")


def read_csv_files(
    files: Sequence[str],
    time_column: str | None = None,
    *,
    columns: Sequence[str] | None = None,
    dayfirst: bool | None = None,
    time_format: str | None = None,
    read_csv_kwargs: Mapping[str, Any] | None = None,
    progress: bool = False,
    where: str | None = None,
) -> pd.DataFrame:
    """Read CSV files (see :func:`expand_paths`) into one frame in time order.

    Each file is parsed with :func:`read_csv_file` (its own time format); the result is
    checked for irregular sampling (:func:`check_sampling`). ``progress`` shows a bar on
    stderr while reading several files.
    """
    where = where or (files[0] if len(files) == 1 else f"{len(files)} files")
    items: Any = files
    if progress and len(files) > 1:
        import sys

        from tqdm import tqdm

        items = tqdm(files, desc=f"reading {where}", file=sys.stderr, leave=False, unit="file")
    frames = [
        read_csv_file(f, time_column, read_csv_kwargs, dayfirst=dayfirst,
                      time_format=time_format)
        for f in items
    ]
    frame = concat_frames(frames, columns, where)
    check_sampling(frame.index, where)
    return frame


def read_s3(
    uri: str,
    *,
    session: boto3.Session | None = None,
    time_column: str | None = None,
    columns: Sequence[str] | None = None,
    suffix: str = ".csv",
    endpoint_url: str | None = None,
    dayfirst: bool | None = None,
    time_format: str | None = None,
    read_csv_kwargs: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Read every CSV object under ``s3://bucket/prefix`` (in key order) into one frame.

    Parameters
    ----------
    uri : str
        ``s3://bucket/prefix/`` (all objects whose key ends with ``suffix``) or one object.
    session : boto3.Session, optional
        Credentials/region to use; the default session otherwise.
    suffix : str, default ".csv"
        Only keys ending with this are read (``""`` reads all).
    endpoint_url : str, optional
        S3 endpoint (S3-compatible stores, tests); ``AWS_ENDPOINT_URL`` also works.

    Raises
    ------
    DataError
        A bad URI, no matching object, an S3 error (its code named), a bad CSV.
    """
    import boto3 as _boto3
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, prefix = split_s3_uri(uri)
    where = f"s3://{bucket}/{prefix}"
    sess = session or _boto3.Session()
    s3 = sess.client("s3", endpoint_url=endpoint_url)
    frames: list[pd.DataFrame] = []
    try:
        keys: list[str] = []
        paginator = s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if key.endswith(suffix) and not key.endswith("/"):
                    keys.append(key)
        if not keys:
            raise DataError(f"no objects ending with {suffix!r} under {where}")
        for key in sorted(keys):
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            frames.append(
                read_csv_file(
                    io.BytesIO(body), time_column, read_csv_kwargs,
                    label=f"s3://{bucket}/{key}", dayfirst=dayfirst, time_format=time_format,
                )
            )
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise DataError(f"cannot read {where}: {code} {exc}") from exc
    except BotoCoreError as exc:
        raise DataError(f"cannot read {where}: {exc}") from exc
    frame = concat_frames(frames, columns, where)
    check_sampling(frame.index, where)
    return frame

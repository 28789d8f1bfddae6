"""Timestamps: parsing date strings with one format per column, the time column of a frame,
integer positions, and the sampling check.

Timestamps are parsed with **one format per column** (:func:`parse_times`): the format is
inferred from the column's first value, then every value must match it. Dates whose day and
month can be swapped (``01/02/2024``) are read month first unless ``dayfirst=True``, but only
when the data supports that reading (fewer backward steps, or else more evenly spaced times,
than read day first). When it does not (a first field above 12 somewhere, a month-first
reading that steps backwards or irregularly where the day-first one does not, or no
difference) parsing stops with an error naming ``dayfirst=True`` / ``time_format=``
(``--dayfirst`` / ``--time-format`` on the command line) instead of guessing or mixing both
readings. Times whose UTC offsets differ are read as instants in the first value's offset.
Numbers are never read as epoch times. An irregular sampling interval is reported with an
:class:`IrregularSamplingWarning`.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from anomark.errors import DataError, DataTypeError

__all__ = [
    "IrregularSamplingWarning",
    "bad_index_message",
    "check_sampling",
    "date_order",
    "find_time_column",
    "index_looks_like_dates",
    "infer_time_format",
    "is_datetime_like",
    "on_time_index",
    "parse_index",
    "parse_times",
    "value_kind",
]

#: Column names taken as the time column (case-insensitive) when none is given.
TIME_NAMES = ("timestamp", "time", "datetime", "date", "ts", "date_time", "time_stamp")
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
    """``strings`` read with ``fmt`` as instants (UTC: offsets that differ are no obstacle to
    choosing a format), or ``None`` when a value does not match."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parsed = pd.to_datetime(strings, format=fmt, errors="coerce", utc=True)
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
                a = pd.to_datetime(values, format="mixed", dayfirst=False, utc=True)
                b = pd.to_datetime(values, format="mixed", dayfirst=True, utc=True)
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
        a = pd.to_datetime(values, format=month_first, errors="coerce", utc=True)
        b = pd.to_datetime(values, format=day_first, errors="coerce", utc=True)
    both = np.flatnonzero(~np.asarray(a.isna()) & ~np.asarray(b.isna()) & np.asarray(a != b))
    return str(values[int(both[0])]) if len(both) else str(values[0])


def _first_failure(values: pd.Index, fmt: str) -> str:
    """The first value that ``fmt`` does not read (one that :func:`_try_format` found)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(values, format=fmt, errors="coerce", utc=True)
    return str(values[int(np.flatnonzero(pd.isna(parsed))[0])])


#: a time of day followed by a UTC offset (ISO 8601 and pandas' ``%z``: Z, +hh, +hhmm, +hh:mm)
_OFFSET_AT_END = r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$"


def _as_first_offset(index: pd.Index, options: dict[str, Any], source: str) -> pd.DatetimeIndex:
    """Timestamps whose UTC offsets differ (local times written with their offset across a
    change to or from daylight saving time, or several zones): the same instants, in the
    offset of the first value, as ``anomark stream`` shows them. Values with and without an
    offset together have no common time line: a DataError names one of each. Values not read
    stay NaT (``errors="coerce"`` in ``options``) for the caller to name."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            instants = pd.to_datetime(index, utc=True, **options)
        except (ValueError, TypeError, OverflowError) as exc:
            raise DataError(f"{source}: cannot parse timestamps ({exc})") from None
    if all(isinstance(v, str) for v in index):
        aware = np.asarray(pd.Series(index).str.contains(_OFFSET_AT_END, regex=True), bool)
    else:
        aware = np.array([getattr(v, "tzinfo", None) is not None for v in index], dtype=bool)
    naive = ~aware & ~np.asarray(instants.isna(), dtype=bool)
    if naive.any() or not aware.any():
        if not aware.any():  # pragma: no cover - pandas reads such values without utc=True
            raise DataError(f"{source}: {_MIXED_ZONES}")
        zoned, plain = index[int(np.argmax(aware))], index[int(np.argmax(naive))]
        raise DataError(
            f"{source}: some timestamps have a UTC offset and some do not ({str(zoned)!r} "
            f"has one, {str(plain)!r} none): they cannot be put on one time line; give every "
            "value its offset, or none"
        )
    first = index[int(np.argmax(aware & ~np.asarray(instants.isna(), dtype=bool)))]
    zone = pd.Timestamp(first).tz if not isinstance(first, str) else None
    if zone is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            zone = pd.to_datetime(pd.Index([first]), **options).tz
    return instants.tz_convert(zone)


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
    if fmt is None:  # datetime objects (or a mix with strings): a value not read raises
        options: dict[str, Any] = {"format": "mixed", "dayfirst": bool(dayfirst)}
    else:  # a value not read becomes NaT, named below
        index = index.map(lambda v: v.strip() if isinstance(v, str) else v)
        options = {"format": fmt, "errors": "coerce",
                   "dayfirst": bool(dayfirst) if fmt == "mixed" else False}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(index, **options)
    except (ValueError, TypeError, OverflowError) as exc:
        # pandas 3 raises on values in different zones or offsets, or with and without one
        if not any(key in str(exc) for key in ("Mixed timezones", "utc=True", "tz-naive")):
            raise DataError(f"{source}: cannot parse timestamps ({exc})") from None
        parsed = _as_first_offset(index, options, source)
    if not isinstance(parsed, pd.DatetimeIndex):  # (pandas before 3 returned objects)
        parsed = _as_first_offset(index, options, source)
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
            pd.to_datetime(sample, format="mixed", utc=True)  # (offsets may differ)
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


def on_time_index(
    frame: pd.DataFrame,
    time_column: str | None,
    source: str,
    *,
    dayfirst: bool | None = None,
    time_format: str | None = None,
) -> pd.DataFrame:
    """``frame`` indexed by its timestamps, as :meth:`anomark.Dataset.from_frame` reads it.

    ``time_column`` names the column holding them; without it a frame already indexed by
    time is kept, an index of date strings (``pd.read_csv(f, index_col=0)``) is parsed, and
    otherwise a column named like a time or holding dates (:func:`find_time_column`) becomes
    the index; when there is none an integer index stays (positions), any other is refused.
    """

    def parse(values: Any, where: str) -> pd.DatetimeIndex:
        return parse_times(values, where, dayfirst=dayfirst, time_format=time_format)

    if time_column is not None:
        if time_column not in frame.columns:
            raise DataError(
                f"{source}: time column {time_column!r} not found among "
                f"{list(map(str, frame.columns))}"
            )
        frame = frame.set_index(time_column)
        frame.index = parse(frame.index, f"{source} column {time_column!r}")
        return frame
    if isinstance(frame.index, pd.DatetimeIndex):
        return frame
    index = frame.index
    if index_looks_like_dates(index):  # e.g. pd.read_csv(f, index_col=0): date strings
        frame = frame.copy()
        frame.index = parse(index, f"{source} index")
        return frame
    is_bool = pd.api.types.is_bool_dtype(index.dtype)
    has_positions = not is_bool and (
        pd.api.types.is_integer_dtype(index.dtype) or value_kind(index) == "integer"
    )
    try:
        col = find_time_column(frame, source)
    except DataError:
        if is_bool or pd.api.types.is_float_dtype(index.dtype):
            raise DataError(
                f"{bad_index_message(source, index)}, and no time column was found among "
                f"{list(map(str, frame.columns))}; pass time_column= or index the frame by "
                "time"
            ) from None
        if not has_positions:
            raise
        return frame
    frame = frame.set_index(col)
    frame.index = parse(frame.index, f"{source} column {col!r}")
    return frame

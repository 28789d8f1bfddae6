"""The :class:`Dataset`: a time index and numeric columns, validated once.

Every detector, loader and evaluation function in anomark works on a ``Dataset``. It wraps a
:class:`pandas.DataFrame` whose index is a sorted, unique :class:`~pandas.DatetimeIndex`
(or, for plain arrays, an integer position index) and whose columns are all numeric.
NaN is allowed inside a ``Dataset`` (joins and resampling create gaps; see :meth:`Dataset.fillna`)
but detectors refuse it with an error naming the column; ``inf`` is refused at construction.
"""

from __future__ import annotations

import glob
import io
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from numbers import Real
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from anomark._s3 import split_s3_uri
from anomark.errors import DataError, DataTypeError, MissingFileError

if TYPE_CHECKING:  # pragma: no cover
    import boto3

__all__ = ["Dataset", "DataLike"]

Duplicates = Literal["raise", "mean", "first", "last"]
_TIME_NAMES = ("timestamp", "time", "datetime", "date", "ts", "date_time", "time_stamp")
_GLOB_CHARS = set("*?[")

PathLike = str | os.PathLike[str]


_AGGREGATIONS = ("mean", "median", "sum", "min", "max", "first", "last")
#: ``pd.api.types.infer_dtype`` kinds that are numbers, never timestamps.
_NUMERIC_KINDS = frozenset(
    {"integer", "floating", "mixed-integer-float", "decimal", "complex", "boolean"}
)
_INT64_MIN, _INT64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)


def _describe(index: pd.Index, i: int) -> str:
    return str(index[i])


def _value_kind(values: Any) -> str:
    """``infer_dtype`` of ``values`` (of a categorical's categories), NaN/None skipped."""
    if isinstance(getattr(values, "dtype", None), pd.CategoricalDtype):
        values = values.dtype.categories
    try:
        return str(pd.api.types.infer_dtype(values, skipna=True))
    except (TypeError, ValueError):  # pragma: no cover - infer_dtype accepts any array-like
        return "unknown"


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


def _index_looks_like_dates(index: pd.Index) -> bool:
    """Whether an object/string/categorical index holds date-like values (not numbers)."""
    values: Any = index
    if isinstance(index.dtype, pd.CategoricalDtype):
        values = pd.Index(np.asarray(index, dtype=object), dtype=object)
    elif not (
        pd.api.types.is_object_dtype(index.dtype) or pd.api.types.is_string_dtype(index.dtype)
    ):
        return False
    return _is_datetime_like(pd.Series(np.asarray(values, dtype=object), dtype=object))


def _to_datetime_index(values: Any, source: str) -> pd.DatetimeIndex:
    """Parse ``values`` into a DatetimeIndex or raise a DataError naming ``source``.

    Numbers (and booleans) are refused: pandas would read integers as epoch *nanoseconds*,
    silently putting epoch seconds in 1970.
    """
    if isinstance(values, pd.DatetimeIndex):
        return values
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.DatetimeTZDtype):
        return pd.DatetimeIndex(values)
    kind = _value_kind(values)
    if kind in _NUMERIC_KINDS:
        raise DataError(
            f"{source}: holds {kind} values, not timestamps; numbers are not read as epoch "
            "times because their unit is ambiguous: convert them first, e.g. "
            "pd.to_datetime(values, unit=\"s\") for epoch seconds"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(pd.Index(values), format="mixed")
    except (ValueError, TypeError, OverflowError) as exc:
        raise DataError(f"{source}: cannot parse timestamps ({exc})") from None
    if not isinstance(parsed, pd.DatetimeIndex):
        raise DataError(
            f"{source}: timestamps mix time zones or offsets; convert them to one time zone "
            "(e.g. pd.to_datetime(..., utc=True)) before building a Dataset"
        )
    if parsed.hasnans:
        first = int(np.flatnonzero(parsed.isna())[0])
        raise DataError(f"{source}: unparseable or missing timestamp at row {first}")
    return parsed


def _is_datetime_like(series: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return True
    if not (
        pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype)
    ):
        return False
    sample = series.dropna().head(20)
    if sample.empty or _value_kind(sample) in _NUMERIC_KINDS:
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pd.to_datetime(sample, format="mixed")
    except (ValueError, TypeError, OverflowError):
        return False
    return True


def _bad_index_message(where: str, index: pd.Index) -> str:
    kind = _value_kind(index)
    plain = isinstance(index.dtype, np.dtype) and index.dtype.kind != "O"
    held = "" if plain else f" holding {kind} values"
    return (
        f"{where}: index of dtype {index.dtype}{held} is neither timestamps nor integer "
        "positions"
    )


def _find_time_column(frame: pd.DataFrame, source: str) -> str:
    for col in frame.columns:
        if str(col).strip().lower() in _TIME_NAMES:
            return col
    for col in frame.columns:
        if _is_datetime_like(frame[col]):
            return col
    raise DataError(
        f"{source}: no time column found (looked for a column named one of {_TIME_NAMES} "
        f"or holding dates, among {list(map(str, frame.columns))}); pass time_column="
    )


class Dataset:
    """A validated time series: a time index and one or more numeric columns.

    Build one with :meth:`from_csv`, :meth:`from_frame`, :meth:`from_sensors`, :meth:`from_s3`
    or :meth:`from_array`; the constructor accepts a DataFrame already indexed by time.

    Parameters
    ----------
    frame : pandas.DataFrame
        Index: timestamps (a ``DatetimeIndex`` or values parseable as dates) or integer
        positions (any integer dtype, or an object/categorical index holding integers: they
        are never read as epoch times); columns: numeric (bool is converted to 0/1).
    duplicates : {"raise", "mean", "first", "last"}, default "raise"
        What to do with repeated timestamps: refuse them (default), average them, or keep the
        first/last row.
    name : str, optional
        A label used in messages and plots (a file name, a NAB series name...).

    Raises
    ------
    DataError
        Empty data, a non-numeric column (named), ``inf`` values (column named),
        duplicate timestamps with ``duplicates="raise"``, an unparseable index, a bool or
        float index, an integer index with missing values or beyond the int64 range.

    Warns
    -----
    UserWarning
        When the index is not in time order; rows are sorted.

    Examples
    --------
    >>> import pandas as pd
    >>> from anomark import Dataset
    >>> df = pd.DataFrame({"value": [1.0, 2.0, 3.0]},
    ...                   index=pd.date_range("2024-01-01", periods=3, freq="h"))
    >>> ds = Dataset(df)
    >>> len(ds), ds.columns
    (3, ['value'])
    """

    def __init__(
        self, frame: pd.DataFrame, *, duplicates: Duplicates = "raise", name: str | None = None
    ) -> None:
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"Dataset expects a pandas DataFrame, got {type(frame).__name__}")
        self.name = name
        self._frame = self._validate(frame, duplicates)

    # ------------------------------------------------------------------ validation
    def _where(self) -> str:
        return f"dataset {self.name!r}" if self.name else "dataset"

    def _validate(self, frame: pd.DataFrame, duplicates: str) -> pd.DataFrame:
        where = self._where()
        if duplicates not in ("raise", "mean", "first", "last"):
            raise DataError(
                f"duplicates must be 'raise', 'mean', 'first' or 'last', got {duplicates!r}"
            )
        if frame.shape[1] == 0:
            raise DataError(
                f"{where} has no value columns: 0 feature(s) (shape={frame.shape}) while a "
                "minimum of 1 is required."
            )
        if frame.shape[0] == 0:
            raise DataError(f"{where} is empty (0 rows)")
        if frame.columns.has_duplicates:
            dup = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
            raise DataError(f"{where} has duplicate column names: {dup}")
        frame = frame.copy()
        frame.columns = pd.Index([str(c) for c in frame.columns])

        index = frame.index
        if isinstance(index, pd.MultiIndex):
            raise DataError(f"{where}: a MultiIndex is not supported; use a time index")
        if not isinstance(index, pd.DatetimeIndex):
            dtype = index.dtype
            if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
                raise DataError(_bad_index_message(where, index))
            if pd.api.types.is_integer_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
                index = _as_positions(index, where)  # int64, uint64, nullable Int64...
            else:
                # object, string or categorical: integers are positions, other numbers are
                # refused, anything else must parse as timestamps (never epoch nanoseconds)
                kind = _value_kind(index)
                if kind == "integer":
                    index = _as_positions(index, where)
                elif kind in _NUMERIC_KINDS:
                    raise DataError(_bad_index_message(where, index))
                else:
                    index = _to_datetime_index(index, f"{where} index")
        frame.index = index

        # numeric columns only
        for col in frame.columns:
            dtype = frame[col].dtype
            if pd.api.types.is_bool_dtype(dtype):
                frame[col] = frame[col].astype(np.float64)
            elif isinstance(dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(
                dtype
            ):
                sample = frame[col].dropna()
                example = f" (e.g. {sample.iloc[0]!r})" if len(sample) else ""
                raise DataError(
                    f"{where}: column {col!r} is not numeric (dtype {dtype}){example}; "
                    "drop it or convert it to numbers"
                )
            elif pd.api.types.is_complex_dtype(dtype):
                raise DataError(
                    f"{where}: column {col!r} holds complex numbers (Complex data not supported)"
                )
        try:
            frame = frame.astype(np.float64)
        except (ValueError, TypeError) as exc:  # pragma: no cover - guarded above
            raise DataError(f"{where}: cannot convert values to float: {exc}") from None

        values = frame.to_numpy()
        inf = np.isinf(values)
        if inf.any():
            cols = [str(frame.columns[int(j)]) for j in np.flatnonzero(inf.any(axis=0))]
            first = int(np.flatnonzero(inf.any(axis=1))[0])
            raise DataError(
                f"{where}: infinite values in column(s) {cols} (first at {frame.index[first]}); "
                "replace them (e.g. with NaN and then fillna) before building a Dataset"
            )

        if isinstance(frame.index, pd.DatetimeIndex) and frame.index.hasnans:
            raise DataError(f"{where}: the time index has missing timestamps (NaT)")

        if not frame.index.is_monotonic_increasing:
            warnings.warn(
                f"{where}: index is not in time order; rows were sorted", UserWarning, stacklevel=4
            )
            frame = frame.sort_index(kind="stable")
        if frame.index.has_duplicates:
            if duplicates == "raise":
                repeated = frame.index[frame.index.duplicated()]
                raise DataError(
                    f"{where}: {len(repeated)} duplicate timestamp(s), first {repeated[0]}; pass "
                    "duplicates='mean', 'first' or 'last' to combine them"
                )
            if duplicates == "mean":
                frame = frame.groupby(level=0, sort=True).mean()
            else:
                frame = frame[~frame.index.duplicated(keep=duplicates)]  # type: ignore[arg-type]
        if isinstance(frame.index, pd.DatetimeIndex):
            frame.index.name = frame.index.name or "timestamp"
        return frame

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame | pd.Series,
        time_column: str | None = None,
        *,
        columns: Sequence[str] | None = None,
        duplicates: Duplicates = "raise",
        name: str | None = None,
    ) -> Dataset:
        """Build a Dataset from a DataFrame (or Series).

        Parameters
        ----------
        frame : pandas.DataFrame or pandas.Series
            Either indexed by time already, or holding a time column.
        time_column : str, optional
            The column holding timestamps (dates, not numbers: convert epoch times with
            ``pd.to_datetime(..., unit="s")`` first). When omitted and the index is not a time
            index: an index of date strings (``pd.read_csv(f, index_col=0)``) is parsed;
            otherwise a column named like ``timestamp``/``time``/``date`` or holding dates is
            used; when there is none, an integer index is kept as positions.
        columns : sequence of str, optional
            Keep only these value columns.
        duplicates : {"raise", "mean", "first", "last"}, default "raise"
            See :class:`Dataset`.
        name : str, optional
            Label for messages and plots.

        Returns
        -------
        Dataset
        """
        if isinstance(frame, pd.Series):
            frame = frame.to_frame(name=frame.name if frame.name is not None else "value")
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"from_frame expects a DataFrame or Series, got {type(frame).__name__}")
        source = f"dataset {name!r}" if name else "frame"
        if time_column is not None:
            if time_column not in frame.columns:
                raise DataError(
                    f"{source}: time column {time_column!r} not found among "
                    f"{list(map(str, frame.columns))}"
                )
            frame = frame.set_index(time_column)
            frame.index = _to_datetime_index(frame.index, f"{source} column {time_column!r}")
        elif not isinstance(frame.index, pd.DatetimeIndex):
            index = frame.index
            if _index_looks_like_dates(index):
                # e.g. pd.read_csv(f, index_col=0): the index holds date strings
                frame = frame.copy()
                frame.index = _to_datetime_index(index, f"{source} index")
            else:
                is_bool = pd.api.types.is_bool_dtype(index.dtype)
                has_positions = not is_bool and (
                    pd.api.types.is_integer_dtype(index.dtype) or _value_kind(index) == "integer"
                )
                try:
                    col = _find_time_column(frame, source)
                except DataError:
                    if is_bool or pd.api.types.is_float_dtype(index.dtype):
                        raise DataError(
                            f"{_bad_index_message(source, index)}, and no time column was "
                            f"found among {list(map(str, frame.columns))}; pass time_column= "
                            "or index the frame by time"
                        ) from None
                    if not has_positions:
                        raise
                else:
                    frame = frame.set_index(col)
                    frame.index = _to_datetime_index(frame.index, f"{source} column {col!r}")
        if columns is not None:
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise DataError(f"{source}: columns {missing} not found")
            frame = frame[list(columns)]
        return cls(frame, duplicates=duplicates, name=name)

    @classmethod
    def from_array(
        cls,
        values: Any,
        index: Any = None,
        columns: Sequence[str] | None = None,
        *,
        name: str | None = None,
    ) -> Dataset:
        """Build a Dataset from a 1-D or 2-D array (rows = time steps).

        Without ``index`` the rows are indexed by position (0, 1, 2...).
        """
        if type(values).__module__.startswith("scipy.sparse"):
            raise DataError(
                "sparse input is not supported (time series are dense); convert it with "
                ".toarray() first"
            )
        try:
            arr = np.asarray(values)
        except (ValueError, TypeError) as exc:
            raise DataError(f"cannot convert input to an array: {exc}") from None
        if arr.dtype == object:
            # e.g. numbers in an object array: accept them when they all convert to float
            try:
                arr = arr.astype(np.float64)
            except (ValueError, TypeError) as exc:
                error = DataTypeError if isinstance(exc, TypeError) else DataError
                raise error(
                    f"array input must be numeric; an object array could not be converted "
                    f"to numbers: {exc}"
                ) from None
        if np.issubdtype(arr.dtype, np.complexfloating):
            raise DataError("Complex data not supported: array input holds complex numbers")
        if not (np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)):
            raise DataError(f"array input must be numeric, got dtype {arr.dtype}")
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise DataError(f"array input must be 1-D or 2-D (rows = time steps), got {arr.ndim}-D")
        if columns is None:
            columns = [str(i) for i in range(arr.shape[1])] if arr.shape[1] != 1 else ["value"]
        frame = pd.DataFrame(arr.astype(np.float64, copy=False), columns=list(columns))
        if index is not None:
            frame.index = pd.Index(index)
        return cls(frame, name=name)

    @classmethod
    def from_any(cls, data: DataLike, *, name: str | None = None) -> Dataset:
        """Convert anything a detector accepts (Dataset, DataFrame, Series, array) to a Dataset."""
        if isinstance(data, Dataset):
            return data
        if isinstance(data, pd.DataFrame | pd.Series):
            return cls.from_frame(data, name=name)
        if isinstance(data, str | os.PathLike):
            raise TypeError(
                "got a path; load it first with Dataset.from_csv(path) and pass the Dataset"
            )
        if data is None:
            raise TypeError("expected data (Dataset, DataFrame, Series or array), got None")
        return cls.from_array(data, name=name)

    @classmethod
    def from_csv(
        cls,
        paths: PathLike | Sequence[PathLike],
        time_column: str | None = None,
        *,
        columns: Sequence[str] | None = None,
        duplicates: Duplicates = "raise",
        name: str | None = None,
        **read_csv_kwargs: Any,
    ) -> Dataset:
        """Read one CSV file, a list of files, or a glob pattern, concatenated in time order.

        Parameters
        ----------
        paths : str, path or list of them
            A file, a glob pattern (``"data/2024-*.csv"``) or a list of files.
        time_column : str, optional
            Name of the timestamp column; detected when omitted (see :meth:`from_frame`).
        columns : sequence of str, optional
            Keep only these value columns.
        duplicates : {"raise", "mean", "first", "last"}, default "raise"
            What to do with timestamps that appear more than once (also across files).
        name : str, optional
            Label for messages; defaults to the file name.
        **read_csv_kwargs
            Passed to :func:`pandas.read_csv` (``sep``, ``decimal``...).

        Returns
        -------
        Dataset

        Raises
        ------
        DataError
            No file matched, a file is empty or malformed (named), no time column.
        MissingFileError
            A named file does not exist (a ``DataError`` and a ``FileNotFoundError``).
        """
        files = _expand_paths(paths)
        frames = [_read_csv_file(f, time_column, read_csv_kwargs) for f in files]
        return cls._concat(frames, columns, duplicates, name or _default_name(files))

    @classmethod
    def _concat(
        cls,
        frames: list[pd.DataFrame],
        columns: Sequence[str] | None,
        duplicates: Duplicates,
        name: str | None,
    ) -> Dataset:
        first_cols = list(frames[0].columns)
        for f in frames[1:]:
            if list(f.columns) != first_cols and set(f.columns) != set(first_cols):
                raise DataError(
                    f"files have different columns: {first_cols} vs {list(f.columns)} "
                    f"(in {f.attrs.get('source', '?')})"
                )
        frame = pd.concat([f[first_cols] for f in frames]) if len(frames) > 1 else frames[0]
        if len(frames) > 1:
            frame = frame.sort_index(kind="stable")
        if columns is not None:
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise DataError(f"columns {missing} not found in {name}")
            frame = frame[list(columns)]
        return cls(frame, duplicates=duplicates, name=name)

    @classmethod
    def from_sensors(
        cls,
        sensors: Mapping[str, Dataset | pd.DataFrame | pd.Series | PathLike | Sequence[PathLike]],
        *,
        how: Literal["outer", "inner", "left"] = "outer",
        freq: str | pd.Timedelta | None = None,
        interpolate: bool = True,
        limit: int | None = None,
        name: str | None = None,
    ) -> Dataset:
        """Join several sensors on time; columns become ``"<sensor>.<column>"``.

        Parameters
        ----------
        sensors : mapping
            Sensor name → a Dataset, a DataFrame/Series (time-indexed or with a time column),
            or CSV path(s)/glob.
        how : {"outer", "inner", "left"}, default "outer"
            How timestamps are joined (``"left"`` keeps the first sensor's timestamps).
        freq : str or Timedelta, optional
            Resample every sensor to this frequency (mean within each bin) before joining;
            gaps are then filled by time interpolation when ``interpolate`` is true.
        interpolate : bool, default True
            With ``freq``: fill gaps by linear interpolation in time (no extrapolation).
        limit : int, optional
            With ``freq`` and ``interpolate``: fill at most this many consecutive missing bins.
        name : str, optional
            Label for messages.

        Returns
        -------
        Dataset
            May hold NaN where sensors do not overlap; call :meth:`fillna` or :meth:`dropna`.
        """
        if not isinstance(sensors, Mapping) or not sensors:
            raise DataError("from_sensors needs a non-empty mapping of sensor name -> data")
        if how not in ("outer", "inner", "left"):
            raise DataError(f"how must be 'outer', 'inner' or 'left', got {how!r}")
        parts: list[pd.DataFrame] = []
        kinds: set[bool] = set()
        for sensor, data in sensors.items():
            if not isinstance(sensor, str) or not sensor:
                raise DataError(f"sensor names must be non-empty strings, got {sensor!r}")
            if isinstance(data, Dataset):
                ds = data
            elif isinstance(data, pd.DataFrame | pd.Series):
                ds = cls.from_frame(data, name=sensor)
            else:
                ds = cls.from_csv(data, name=sensor)
            kinds.add(ds.is_time_indexed)
            frame = ds.frame
            if freq is not None:
                if not ds.is_time_indexed:
                    raise DataError(f"sensor {sensor!r} has no time index; cannot resample")
                frame = _resample(frame, freq, interpolate=interpolate, limit=limit)
            parts.append(frame.add_prefix(f"{sensor}."))
        if len(kinds) > 1:
            raise DataError("cannot join time-indexed sensors with position-indexed ones")
        tz = {getattr(p.index, "tz", None) is None for p in parts}
        if len(tz) > 1:
            raise DataError("cannot join time-zone-aware sensors with naive ones; localize them")
        joined = parts[0]
        for part in parts[1:]:
            joined = joined.join(part, how=how)
        if freq is not None and interpolate and how == "outer":
            joined = joined.interpolate(method="time", limit=limit, limit_area="inside")
        return cls(joined, name=name or "+".join(sensors))

    @classmethod
    def from_s3(
        cls,
        uri: str,
        *,
        session: boto3.Session | None = None,
        time_column: str | None = None,
        columns: Sequence[str] | None = None,
        duplicates: Duplicates = "raise",
        suffix: str = ".csv",
        endpoint_url: str | None = None,
        **read_csv_kwargs: Any,
    ) -> Dataset:
        """Read every CSV object under an ``s3://bucket/prefix`` (in key order), joined in time.

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

        Returns
        -------
        Dataset
        """
        import boto3 as _boto3
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, prefix = split_s3_uri(uri)
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
                raise DataError(f"no objects ending with {suffix!r} under s3://{bucket}/{prefix}")
            for key in sorted(keys):
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                frames.append(
                    _read_csv_file(
                        io.BytesIO(body), time_column, read_csv_kwargs, label=f"s3://{bucket}/{key}"
                    )
                )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise DataError(f"cannot read s3://{bucket}/{prefix}: {code} {exc}") from exc
        except BotoCoreError as exc:
            raise DataError(f"cannot read s3://{bucket}/{prefix}: {exc}") from exc
        return cls._concat(frames, columns, duplicates, f"s3://{bucket}/{prefix}")

    # ------------------------------------------------------------------ accessors
    @property
    def frame(self) -> pd.DataFrame:
        """The data as a DataFrame (a copy: changing it does not change the Dataset)."""
        return self._frame.copy()

    @property
    def values(self) -> np.ndarray:
        """The values as a read-only float64 array of shape (n_rows, n_columns)."""
        arr = self._frame.to_numpy(dtype=np.float64)
        arr.flags.writeable = False
        return arr

    @property
    def index(self) -> pd.Index:
        """The time index (or integer positions for array input)."""
        return self._frame.index

    @property
    def columns(self) -> list[str]:
        """Column names, as strings."""
        return list(self._frame.columns)

    @property
    def n_features(self) -> int:
        """Number of columns."""
        return int(self._frame.shape[1])

    @property
    def is_time_indexed(self) -> bool:
        """Whether the index holds timestamps (rather than integer positions)."""
        return isinstance(self._frame.index, pd.DatetimeIndex)

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_rows, n_columns)``."""
        return (int(self._frame.shape[0]), int(self._frame.shape[1]))

    def __len__(self) -> int:
        return int(self._frame.shape[0])

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        span = f", {self.index[0]} .. {self.index[-1]}" if len(self) else ""
        return f"<Dataset{label}: {len(self)} rows x {self.n_features} columns{span}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Dataset):
            return NotImplemented
        return self._frame.equals(other._frame)

    __hash__ = None  # type: ignore[assignment]

    # ------------------------------------------------------------------ checks
    def nan_report(self) -> pd.Series:
        """Number of NaN values per column (only columns that have some)."""
        counts = self._frame.isna().sum()
        return counts[counts > 0]

    def check_finite(self, what: str = "this operation") -> None:
        """Raise :class:`DataError` naming the columns that hold NaN.

        ``inf`` cannot occur (refused at construction).
        """
        counts = self.nan_report()
        if len(counts):
            mask = self._frame.isna().to_numpy().any(axis=1)
            first = self.index[int(np.flatnonzero(mask)[0])]
            cols = ", ".join(f"{c!r} ({n})" for c, n in counts.head(5).items())
            more = f" and {len(counts) - 5} more" if len(counts) > 5 else ""
            raise DataError(
                f"{self._where()} has NaN values in column(s) {cols}{more}, first at {first}; "
                f"{what} needs finite values: use Dataset.fillna(...), .interpolate() or .dropna()"
            )

    # ------------------------------------------------------------------ transforms
    def _new(self, frame: pd.DataFrame) -> Dataset:
        return Dataset(frame, name=self.name)

    def fillna(
        self, value: float | Mapping[str, float] | None = None, *, method: str | None = None
    ) -> Dataset:
        """Fill NaN with a value (or per-column values) or by ``method="ffill"|"bfill"``.

        Returns a new Dataset. A per-column mapping naming a column that does not exist raises
        :class:`DataError`.
        """
        if (value is None) == (method is None):
            raise DataError("fillna needs exactly one of value= or method=")
        if method is not None:
            if method not in ("ffill", "bfill"):
                raise DataError(f"fillna method must be 'ffill' or 'bfill', got {method!r}")
            frame = self._frame.ffill() if method == "ffill" else self._frame.bfill()
        else:
            if isinstance(value, Mapping):
                unknown = [c for c in value if c not in self._frame.columns]
                if unknown:
                    raise DataError(
                        f"fillna: column(s) {unknown} not found in {self._where()} "
                        f"(columns: {self.columns})"
                    )
            frame = self._frame.fillna(value)  # type: ignore[arg-type]
        return self._new(frame)

    def interpolate(self, limit: int | None = None) -> Dataset:
        """Fill NaN inside the series by linear interpolation in time (no extrapolation)."""
        method: Literal["time", "index"] = "time" if self.is_time_indexed else "index"
        return self._new(
            self._frame.interpolate(method=method, limit=limit, limit_area="inside")
        )

    def dropna(self, how: Literal["any", "all"] = "any") -> Dataset:
        """Drop rows with NaN (``how="any"``) or with only NaN (``"all"``)."""
        frame = self._frame.dropna(how=how)
        if frame.empty:
            raise DataError(f"{self._where()}: no rows left after dropna(how={how!r})")
        return self._new(frame)

    def resample(
        self,
        freq: str | pd.Timedelta,
        *,
        agg: Literal["mean", "median", "sum", "min", "max", "first", "last"] = "mean",
        interpolate: bool = True,
        limit: int | None = None,
    ) -> Dataset:
        """Resample to a regular frequency, aggregating within bins; fill gaps by interpolation.

        Parameters
        ----------
        freq : str or Timedelta
            Pandas offset alias (``"1min"``, ``"30min"``, ``"1h"``).
        agg : str, default "mean"
            Aggregation within each bin.
        interpolate : bool, default True
            Fill empty bins by linear interpolation in time (inside the series only).
        limit : int, optional
            Fill at most this many consecutive empty bins.

        Raises
        ------
        DataError
            No time index, a frequency that is not a positive offset (``"0min"``, ``None``,
            ``"-1h"``, unparseable text), an aggregation other than the seven above.
        """
        if not self.is_time_indexed:
            raise DataError(f"{self._where()} has no time index; cannot resample")
        return self._new(
            _resample(self._frame, freq, agg=agg, interpolate=interpolate, limit=limit)
        )

    def select(self, columns: Iterable[str]) -> Dataset:
        """A Dataset with only ``columns`` (in that order)."""
        cols = list(columns)
        missing = [c for c in cols if c not in self._frame.columns]
        if missing:
            raise DataError(f"{self._where()}: columns {missing} not found")
        return self._new(self._frame[cols])

    def split(self, at: Any = None, *, fraction: float | None = None) -> tuple[Dataset, Dataset]:
        """Split in time: rows before ``at`` and rows from ``at`` on (or by ``fraction`` of rows).

        Parameters
        ----------
        at : timestamp-like or int, optional
            Split point; rows with index ``< at`` go left.
        fraction : float, optional
            Alternatively, the fraction (0, 1) of rows in the left part.

        Returns
        -------
        (Dataset, Dataset)

        Raises
        ------
        DataError
            When either side would be empty, ``at`` is a number on a time index (numbers are
            not read as epoch times) or cannot be parsed, or ``fraction`` is not a number.
        """
        if (at is None) == (fraction is None):
            raise DataError("split needs exactly one of at= or fraction=")
        if fraction is not None:
            if isinstance(fraction, bool) or not isinstance(fraction, Real):
                raise DataError(
                    f"fraction must be a number in (0, 1), got {type(fraction).__name__} "
                    f"{fraction!r}"
                )
            if not 0.0 < float(fraction) < 1.0:
                raise DataError(f"fraction must be in (0, 1), got {fraction}")
            cut = round(len(self) * float(fraction))
        else:
            key: Any = at
            if self.is_time_indexed:
                if isinstance(at, Real | np.number):
                    raise DataError(
                        f"split: at={at!r} is a number but {self._where()} is indexed by "
                        "timestamps; pass a timestamp such as '2024-01-01' (or use fraction=)"
                    )
                try:
                    key = pd.Timestamp(at)
                except (ValueError, TypeError, OverflowError) as exc:
                    raise DataError(f"split: cannot parse {at!r} as a timestamp ({exc})") from None
                if key is pd.NaT:
                    raise DataError(f"split: cannot parse {at!r} as a timestamp (NaT)")
                tz = self.index.tz  # type: ignore[attr-defined]
                if (key.tz is None) != (tz is None):
                    key = key.tz_localize(tz) if key.tz is None else key.tz_convert(None)
            elif isinstance(at, bool) or not isinstance(at, Real | np.number):
                raise DataError(
                    f"split: {self._where()} is indexed by integer positions; at= must be a "
                    f"position (a number), got {type(at).__name__} {at!r}"
                )
            try:
                cut = int(self.index.searchsorted(key, side="left"))
            except (ValueError, TypeError, OverflowError) as exc:
                raise DataError(
                    f"split: cannot compare {at!r} with the index of {self._where()} ({exc})"
                ) from None
        if cut <= 0 or cut >= len(self):
            raise DataError(
                f"split point {at if at is not None else fraction!r} leaves one side empty "
                f"({self._where()} spans {self.index[0]} .. {self.index[-1]})"
            )
        return self._new(self._frame.iloc[:cut]), self._new(self._frame.iloc[cut:])

    def infer_freq(self) -> pd.Timedelta | None:
        """The most common sampling interval (median spacing), or None for position indexes."""
        if not self.is_time_indexed or len(self) < 2:
            return None
        deltas = np.diff(self.index.to_numpy()).astype("timedelta64[ns]").astype(np.int64)
        return pd.Timedelta(int(np.median(deltas)), unit="ns")


DataLike = (
    Dataset | pd.DataFrame | pd.Series | np.ndarray | Sequence[float] | Sequence[Sequence[float]]
)


# ---------------------------------------------------------------------- helpers
def _expand_paths(paths: PathLike | Sequence[PathLike]) -> list[str]:
    if isinstance(paths, str | os.PathLike):
        items = [os.fspath(paths)]
    elif isinstance(paths, Sequence) and not isinstance(paths, bytes):
        items = [os.fspath(p) for p in paths]
    else:
        raise TypeError(
            f"expected a path, glob pattern or list of paths, got {type(paths).__name__}"
        )
    if not items:
        raise DataError("no CSV files given")
    files: list[str] = []
    for item in items:
        if _GLOB_CHARS & set(item) and not os.path.exists(item):
            matched = sorted(glob.glob(item))
            if not matched:
                raise DataError(f"no files match {item!r}")
            files.extend(matched)
        else:
            if not os.path.exists(item):
                raise MissingFileError(f"CSV file not found: {item}")
            if os.path.isdir(item):
                matched = sorted(glob.glob(os.path.join(item, "*.csv")))
                if not matched:
                    raise DataError(f"no *.csv files in folder {item}")
                files.extend(matched)
            else:
                files.append(item)
    return files


def _default_name(files: list[str]) -> str:
    return Path(files[0]).name if len(files) == 1 else f"{len(files)} files"


def _read_csv_file(
    source: Any, time_column: str | None, kwargs: Mapping[str, Any], label: str | None = None
) -> pd.DataFrame:
    label = label or str(source)
    if isinstance(source, str) and os.path.getsize(source) == 0:
        raise DataError(f"CSV file {label} is empty (0 bytes)")
    opts = {"encoding": "utf-8-sig", **kwargs}
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
    col = time_column if time_column is not None else _find_time_column(frame, f"CSV file {label}")
    if col not in frame.columns:
        raise DataError(
            f"CSV file {label}: time column {col!r} not found among {list(frame.columns)}"
        )
    frame = frame.set_index(col)
    frame.index = _to_datetime_index(frame.index, f"CSV file {label} column {col!r}")
    frame.attrs["source"] = label
    return frame


def _parse_frequency(freq: Any) -> pd.DateOffset:
    """``freq`` as a positive pandas offset, or a DataError naming it."""
    from pandas.tseries.frequencies import to_offset

    if freq is None or isinstance(freq, bool):
        raise DataError(
            f"invalid resampling frequency {freq!r}: give an offset alias such as '1min' or "
            "a positive Timedelta"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            offset = to_offset(freq)
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise DataError(f"invalid resampling frequency {freq!r}: {exc}") from None
    if offset is None or offset.n <= 0:
        raise DataError(f"invalid resampling frequency {freq!r}: it must be positive")
    return offset


def _resample(
    frame: pd.DataFrame,
    freq: str | pd.Timedelta,
    *,
    agg: str = "mean",
    interpolate: bool = True,
    limit: int | None = None,
) -> pd.DataFrame:
    if not isinstance(agg, str) or agg not in _AGGREGATIONS:
        raise DataError(f"unknown aggregation {agg!r}; choose one of {list(_AGGREGATIONS)}")
    offset = _parse_frequency(freq)
    try:
        resampler = frame.resample(offset)
    except (ValueError, TypeError) as exc:  # pragma: no cover - checked by _parse_frequency
        raise DataError(f"invalid resampling frequency {freq!r}: {exc}") from None
    out = getattr(resampler, agg)()
    if interpolate:
        out = out.interpolate(method="time", limit=limit, limit_area="inside")
    return out

"""The :class:`Dataset`: a time index and numeric columns, validated once.

Every detector, loader and evaluation function in anomark works on a ``Dataset``. It wraps a
:class:`pandas.DataFrame` whose index is a sorted, unique :class:`~pandas.DatetimeIndex`
(or, for plain arrays, an integer position index) and whose columns are all numeric.
NaN is allowed inside a ``Dataset`` (joins and resampling create gaps; see :meth:`Dataset.fillna`)
but detectors refuse it with an error naming the column; ``inf`` is refused at construction.
Reading files (CSV, globs, S3) lives in :mod:`anomark.readers`, parsing timestamps in
:mod:`anomark.times`; the ``from_csv`` / ``from_s3`` / ``from_sensors`` constructors use them.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from numbers import Real
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from anomark import readers
from anomark.errors import DataError, DataTypeError
from anomark.readers import PathLike
from anomark.times import on_time_index, parse_index

if TYPE_CHECKING:  # pragma: no cover
    import boto3

__all__ = ["Dataset", "DataLike", "Duplicates"]

Duplicates = Literal["raise", "mean", "first", "last"]
_DUPLICATES = ("raise", "mean", "first", "last")
_AGGREGATIONS = ("mean", "median", "sum", "min", "max", "first", "last")


def _is_real(value: Any) -> bool:
    """Whether ``value`` is a real number (Python or numpy, booleans included as in a bool
    column), not a string, a date, a duration or a complex number."""
    if isinstance(value, (np.timedelta64, np.complexfloating)):
        return False
    return isinstance(value, (Real, np.number, np.bool_))


def _real_numbers(column: pd.Series) -> bool:
    """Whether an object column holds real numbers only (missing values aside), at least one."""
    values = column.dropna()
    return bool(len(values)) and all(_is_real(v) for v in values)


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
            raise DataTypeError(
                f"Dataset expects a pandas DataFrame, got {type(frame).__name__}"
            )
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

        index = parse_index(frame.index, where)
        frame.index = index

        # numeric columns only
        for col in frame.columns:
            dtype = frame[col].dtype
            if pd.api.types.is_bool_dtype(dtype):
                frame[col] = frame[col].astype(np.float64)
            elif (
                isinstance(dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(dtype)
            ) and not (pd.api.types.is_object_dtype(dtype) and _real_numbers(frame[col])):
                # (numbers held as Python objects, as after astype(object), are taken as
                # numbers, as scikit-learn takes them)
                sample = frame[col].dropna()
                if pd.api.types.is_object_dtype(dtype):
                    # the first value that is not a number, and where
                    sample = sample[[not _is_real(v) for v in sample]]
                    example = (
                        f" (e.g. {sample.iloc[0]!r} at {sample.index[0]})" if len(sample) else ""
                    )
                else:
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
        except (ValueError, TypeError, OverflowError) as exc:  # an int beyond float64's range
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
                    "duplicates='mean', 'first' or 'last' to combine them (on the command "
                    "line: --duplicates mean|first|last)"
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
        dayfirst: bool | None = None,
        time_format: str | None = None,
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
        dayfirst, time_format
            How date strings are read (one format per column; see
            :func:`anomark.times.parse_times`).

        Returns
        -------
        Dataset
        """
        if isinstance(frame, pd.Series):
            frame = frame.to_frame(name=frame.name if frame.name is not None else "value")
        if not isinstance(frame, pd.DataFrame):
            raise DataTypeError(
                f"from_frame expects a DataFrame or Series, got {type(frame).__name__}"
            )
        source = f"dataset {name!r}" if name else "frame"
        frame = on_time_index(frame, time_column, source, dayfirst=dayfirst,
                              time_format=time_format)
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
            raise DataTypeError(
                "got a path; load it first with Dataset.from_csv(path) and pass the Dataset"
            )
        if data is None:
            raise DataTypeError("expected data (Dataset, DataFrame, Series or array), got None")
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
        dayfirst: bool | None = None,
        time_format: str | None = None,
        **read_csv_kwargs: Any,
    ) -> Dataset:
        """Read one CSV file, a list of files, a folder or a glob pattern, in time order.

        Parameters
        ----------
        paths : str, path or list of them
            A file, a glob pattern (``"data/2024-*.csv"``), a folder (its ``*.csv`` files) or a
            list of files.
        time_column : str, optional
            Name of the timestamp column; detected when omitted (see :meth:`from_frame`).
        columns : sequence of str, optional
            Keep only these value columns.
        duplicates : {"raise", "mean", "first", "last"}, default "raise"
            What to do with timestamps that appear more than once (also across files).
        name : str, optional
            Label for messages; defaults to the file name.
        dayfirst : bool, optional
            Read dates such as ``01/02/2024`` day first (1 February). By default they are read
            month first, and a file whose dates show day first (``13/01/2024``) is refused
            with a message asking for ``dayfirst=True`` or ``time_format=``.
        time_format : str, optional
            The timestamps' format (``"%d/%m/%Y %H:%M"``); by default one format is inferred
            per file (see :func:`anomark.times.parse_times`).
        **read_csv_kwargs
            Passed to :func:`pandas.read_csv` (``sep``, ``decimal``...).

        Returns
        -------
        Dataset

        Raises
        ------
        DataError
            No file matched, a file is empty or malformed (named), no time column,
            timestamps that do not fit one format or whose day/month order is ambiguous.
        MissingFileError
            A named file does not exist (a ``DataError`` and a ``FileNotFoundError``).

        Warns
        -----
        anomark.times.IrregularSamplingWarning
            The timestamps are not evenly spaced.
        """
        files = readers.expand_paths(paths)
        where = name or (Path(files[0]).name if len(files) == 1 else f"{len(files)} files")
        frame = readers.read_csv_files(
            files, time_column, columns=columns, dayfirst=dayfirst, time_format=time_format,
            read_csv_kwargs=read_csv_kwargs, where=where,
        )
        return cls(frame, duplicates=duplicates, name=where)

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
        dayfirst: bool | None = None,
        time_format: str | None = None,
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
        dayfirst, time_format : optional
            How sensors given as CSV paths read their timestamps (see :meth:`from_csv`).

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
                ds = cls.from_csv(
                    data, name=sensor, dayfirst=dayfirst, time_format=time_format
                )
            kinds.add(ds.is_time_indexed)
            frame = ds.frame
            if freq is not None:
                if not ds.is_time_indexed:
                    raise DataError(f"sensor {sensor!r} has no time index; cannot resample")
                # an outer join is interpolated once, after joining: a gap filled per
                # sensor and then again on the joined index would fill up to 2 x limit bins
                frame = _resample(frame, freq, interpolate=interpolate and how != "outer",
                                  limit=limit)
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
            joined = _fill_gaps(joined, limit)
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
        dayfirst: bool | None = None,
        time_format: str | None = None,
        **read_csv_kwargs: Any,
    ) -> Dataset:
        """Read every CSV object under an ``s3://bucket/prefix`` (in key order), joined in time.

        Parameters
        ----------
        uri, session, suffix, endpoint_url
            As for :func:`anomark.readers.read_s3`: ``s3://bucket/prefix/`` (every object
            whose key ends with ``suffix``, default ``".csv"``) or one object; the boto3
            session and S3 endpoint to use (defaults: the default session, ``AWS_ENDPOINT_URL``).
        time_column, columns, duplicates, dayfirst, time_format, **read_csv_kwargs
            As for :meth:`from_csv`.

        Returns
        -------
        Dataset
        """
        frame = readers.read_s3(
            uri, session=session, time_column=time_column, columns=columns, suffix=suffix,
            endpoint_url=endpoint_url, dayfirst=dayfirst, time_format=time_format,
            read_csv_kwargs=read_csv_kwargs,
        )
        return cls(frame, duplicates=duplicates, name=uri)

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
    return _fill_gaps(out, limit) if interpolate else out


def _fill_gaps(frame: pd.DataFrame, limit: int | None) -> pd.DataFrame:
    """Empty bins between values interpolated in time, at most ``limit`` in a row."""
    return frame.interpolate(method="time", limit=limit, limit_area="inside")

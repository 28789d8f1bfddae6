"""Window sources for training and scoring without holding the whole dataset in memory.

A *window source* hands out windows ``(k, window_size, n_features)`` by their start row:

* :class:`ArrayWindowSource` — over an in-memory 2-D array (what ``fit(dataset)`` uses).
* :class:`CSVWindowSource` — over many CSV files through a one-time cache: each CSV is parsed
  once into a ``.npy`` file (row-major, memory-mappable) plus its timestamps, written atomically
  and rebuilt when the CSV's size or modification time changes. Windows are then read with
  positional reads (``os.preadv``) straight into the batch buffer, so memory stays flat however
  many files there are, and windows that span two files are stitched together.

:func:`compute_column_stats` computes per-column min/max/max-abs/mean/std in one streaming pass,
and :class:`Scaler` turns them into the fixed per-column scaling stored with the model (never
per batch). This module only needs NumPy and pandas; it never imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from anomark.dataset import Dataset
from anomark.errors import ConfigurationError, DataError
from anomark.persistence import atomic_write, atomic_write_bytes
from anomark.readers import expand_paths, read_csv_file

__all__ = [
    "ArrayWindowSource",
    "CSVWindowSource",
    "ColumnStats",
    "Scaler",
    "WindowSource",
    "compute_column_stats",
    "default_cache_dir",
]

Scaling = Literal["minmax", "maxabs", "standard"]
_CACHE_VERSION = 1
_CHUNK_BYTES = 8 * 2**20
_MAX_OPEN_FILES = 256


def default_cache_dir() -> Path:
    """Folder of the CSV cache: ``$ANOMARK_CACHE_DIR`` or ``~/.cache/anomark/windows``."""
    env = os.environ.get("ANOMARK_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "anomark" / "windows"


# ---------------------------------------------------------------------- statistics
@dataclass
class ColumnStats:
    """Per-column running statistics (float64), mergeable chunk by chunk.

    Attributes
    ----------
    count : int
        Rows seen.
    mean, m2, minimum, maximum : numpy.ndarray
        Running mean, sum of squared deviations (Chan et al.), minimum and maximum per column.
    """

    n_features: int
    count: int = 0
    mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    m2: np.ndarray = field(default_factory=lambda: np.zeros(0))
    minimum: np.ndarray = field(default_factory=lambda: np.zeros(0))
    maximum: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        f = self.n_features
        if self.count == 0:
            self.mean = np.zeros(f)
            self.m2 = np.zeros(f)
            self.minimum = np.full(f, np.inf)
            self.maximum = np.full(f, -np.inf)

    def update(self, chunk: np.ndarray) -> None:
        """Add the rows of ``chunk`` ``(n_rows, n_features)``."""
        x = np.asarray(chunk, dtype=np.float64)
        n = x.shape[0]
        if n == 0:
            return
        with np.errstate(over="ignore", invalid="ignore"):  # huge values: reported by Scaler
            mean = x.mean(axis=0)
            m2 = ((x - mean) ** 2).sum(axis=0)
            total = self.count + n
            delta = mean - self.mean
            self.m2 = self.m2 + m2 + delta**2 * (self.count * n / total)
            self.mean = self.mean + delta * (n / total)
        self.count = total
        self.minimum = np.minimum(self.minimum, x.min(axis=0))
        self.maximum = np.maximum(self.maximum, x.max(axis=0))

    def merge(self, other: ColumnStats) -> ColumnStats:
        """The statistics of both sets of rows together (Chan et al.'s pairwise update)."""
        if other.n_features != self.n_features:
            raise DataError(
                f"cannot merge statistics of {self.n_features} and {other.n_features} columns"
            )
        if other.count == 0:
            return ColumnStats(self.n_features, self.count, self.mean.copy(), self.m2.copy(),
                               self.minimum.copy(), self.maximum.copy())
        if self.count == 0:
            return other.merge(self)
        total = self.count + other.count
        with np.errstate(over="ignore", invalid="ignore"):
            delta = other.mean - self.mean
            mean = self.mean + delta * (other.count / total)
            m2 = self.m2 + other.m2 + delta**2 * (self.count * other.count / total)
        return ColumnStats(
            self.n_features, total, mean, m2,
            np.minimum(self.minimum, other.minimum), np.maximum(self.maximum, other.maximum),
        )

    def to_vector(self) -> np.ndarray:
        """``[count, mean..., m2..., minimum..., maximum...]`` (float64), for exchanging."""
        return np.concatenate(
            [[float(self.count)], self.mean, self.m2, self.minimum, self.maximum]
        ).astype(np.float64)

    @classmethod
    def from_vector(cls, vector: np.ndarray) -> ColumnStats:
        """Inverse of :meth:`to_vector`."""
        v = np.asarray(vector, dtype=np.float64)
        f = (v.size - 1) // 4
        if v.size != 4 * f + 1 or f < 1:
            raise DataError(f"a statistics vector has 4 * n_features + 1 values, got {v.size}")
        count = int(v[0])
        if count == 0:
            return cls(f)
        return cls(f, count, v[1 : 1 + f], v[1 + f : 1 + 2 * f], v[1 + 2 * f : 1 + 3 * f],
                   v[1 + 3 * f :])

    @property
    def std(self) -> np.ndarray:
        """Population standard deviation per column."""
        return np.sqrt(self.m2 / max(self.count, 1))

    @property
    def maxabs(self) -> np.ndarray:
        """Largest absolute value per column."""
        return np.maximum(np.abs(self.minimum), np.abs(self.maximum))


@dataclass(frozen=True)
class Scaler:
    """Fixed per-column scaling learned from training data: ``(x - offset) / scale``.

    Parameters
    ----------
    method : {"minmax", "maxabs", "standard"}
        ``"minmax"`` maps the training range to [0, 1] (matches a sigmoid output layer);
        ``"maxabs"`` divides by the largest absolute value (data in [-1, 1]); ``"standard"``
        subtracts the mean and divides by the standard deviation. Constant columns get scale 1.
    offset, scale : numpy.ndarray
        Per-column float64 arrays.
    """

    method: Scaling
    offset: np.ndarray
    scale: np.ndarray

    @classmethod
    def from_stats(cls, stats: ColumnStats, method: Scaling) -> Scaler:
        """Build the scaler for ``method`` from streaming statistics."""
        if stats.count == 0:
            raise DataError("cannot learn a scaling from 0 rows")
        with np.errstate(over="ignore", invalid="ignore"):
            if method == "minmax":
                offset, scale = stats.minimum.copy(), stats.maximum - stats.minimum
            elif method == "maxabs":
                offset, scale = np.zeros(stats.n_features), stats.maxabs
            elif method == "standard":
                offset, scale = stats.mean.copy(), stats.std
            else:
                raise ConfigurationError(
                    f"scaling must be 'minmax', 'maxabs' or 'standard', got {method!r}"
                )
        bad = ~(np.isfinite(offset) & np.isfinite(scale))
        if bad.any():
            cols = np.flatnonzero(bad).tolist()
            raise DataError(
                f"values of column(s) at position {cols[:10]} are too large to scale with "
                f"{method!r} scaling (their range overflows float64); rescale the data"
            )
        scale = np.where(scale > 0, scale, 1.0)
        return cls(method, np.asarray(offset, dtype=np.float64), np.asarray(scale, np.float64))

    @property
    def output_activation(self) -> str:
        """``"sigmoid"`` for min-max scaling (targets in [0, 1]), ``"linear"`` otherwise."""
        return "sigmoid" if self.method == "minmax" else "linear"

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Scaled float32 copy of ``x`` (last axis = features)."""
        out = (np.asarray(x, dtype=np.float64) - self.offset) / self.scale
        return out.astype(np.float32)

    def inverse(self, x: np.ndarray) -> np.ndarray:
        """Back to original units (float64)."""
        return np.asarray(x, dtype=np.float64) * self.scale + self.offset


# ---------------------------------------------------------------------- sources
class WindowSource(ABC):
    """Windows of ``window_size`` consecutive rows, addressed by their start row."""

    window_size: int
    stride: int

    @property
    @abstractmethod
    def n_rows(self) -> int:
        """Total number of rows (time steps)."""

    @property
    @abstractmethod
    def columns(self) -> list[str]:
        """Column names."""

    @property
    def n_features(self) -> int:
        """Number of columns."""
        return len(self.columns)

    @abstractmethod
    def read_rows(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` as a new ``(stop - start, n_features)`` array."""

    @abstractmethod
    def read_windows(self, starts: np.ndarray) -> np.ndarray:
        """Windows starting at the rows ``starts``: ``(len(starts), window_size, n_features)``."""

    def window_starts(self, start_row: int = 0, stop_row: int | None = None) -> np.ndarray:
        """Start rows of all windows lying entirely in rows ``[start_row, stop_row)``.

        Windows are ``stride`` rows apart, counted from ``start_row``.
        """
        stop = self.n_rows if stop_row is None else stop_row
        last = stop - self.window_size
        if last < start_row:
            return np.zeros(0, dtype=np.int64)
        return np.arange(start_row, last + 1, self.stride, dtype=np.int64)

    @property
    def n_windows(self) -> int:
        """Number of windows over all rows."""
        return len(self.window_starts())

    def iter_row_chunks(self, chunk_rows: int | None = None) -> Iterator[np.ndarray]:
        """All rows in order, ``chunk_rows`` at a time (default: about 8 MiB per chunk)."""
        step = chunk_rows or _chunk_rows(self.n_features)
        for start in range(0, self.n_rows, step):
            yield self.read_rows(start, min(self.n_rows, start + step))


def _chunk_rows(n_features: int) -> int:
    """Rows per streaming chunk: about ``_CHUNK_BYTES`` of float64, whatever the width."""
    return max(1, _CHUNK_BYTES // (8 * max(n_features, 1)))


def compute_column_stats(source: WindowSource, stop_row: int | None = None) -> ColumnStats:
    """Per-column statistics of rows ``[0, stop_row)`` in one streaming pass over ``source``.

    Rows are read in chunks of about 8 MiB, so memory does not grow with the data.
    """
    stats = ColumnStats(source.n_features)
    stop = source.n_rows if stop_row is None else stop_row
    step = _chunk_rows(source.n_features)
    for start in range(0, stop, step):
        stats.update(source.read_rows(start, min(stop, start + step)))
    return stats


def _check_window(window_size: Any, stride: Any) -> tuple[int, int]:
    for label, value in (("window_size", window_size), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ConfigurationError(f"{label} must be a positive integer, got {value!r}")
    return int(window_size), int(stride)


class ArrayWindowSource(WindowSource):
    """Windows over an in-memory ``(n_rows, n_features)`` array.

    Parameters
    ----------
    values : numpy.ndarray
        1-D or 2-D array (rows = time steps). Not copied.
    window_size, stride : int
        Window length and step between window starts.
    columns : sequence of str, optional
        Column names (default ``"0"``, ``"1"``...).
    """

    def __init__(
        self,
        values: np.ndarray,
        window_size: int,
        stride: int = 1,
        columns: Sequence[str] | None = None,
    ) -> None:
        arr = np.asarray(values)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise DataError(f"expected a 2-D array (time x features), got {arr.ndim}-D")
        self.values = arr
        self.window_size, self.stride = _check_window(window_size, stride)
        self._columns = (
            [str(c) for c in columns]
            if columns is not None
            else [str(i) for i in range(arr.shape[1])]
        )
        if len(self._columns) != arr.shape[1]:
            raise DataError(f"{len(self._columns)} column names for {arr.shape[1]} columns")

    @property
    def n_rows(self) -> int:
        return int(self.values.shape[0])

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    def read_rows(self, start: int, stop: int) -> np.ndarray:
        return np.array(self.values[start:stop])

    def read_windows(self, starts: np.ndarray) -> np.ndarray:
        idx = np.asarray(starts, dtype=np.int64)[:, None] + np.arange(self.window_size)
        return self.values[idx]


@dataclass(frozen=True)
class _CacheEntry:
    source: str
    data_path: Path
    times_path: Path
    n_rows: int
    data_offset: int
    first_time: int
    last_time: int


class CSVWindowSource(WindowSource):
    """Windows over many CSV files, read through a memory-mappable ``.npy`` cache.

    The first use (or :meth:`prepare`) parses every CSV once (one file in memory at a time) into
    ``<cache_dir>/<hash>.npy`` (values, row-major) and ``.ts.npy`` (timestamps, int64 ns) plus a
    small JSON record, each written to a temporary file and renamed into place. An entry is
    keyed by the CSV's absolute path, size and modification time (and the reading options), so
    editing or replacing a CSV rebuilds its entry and removes the stale ones (of every reading
    option); untouched files are never parsed again.

    Files are ordered by their first timestamp and must not overlap in time; their rows are
    treated as one continuous series, so windows span file boundaries (a gap between two files
    is not filled). Windows are read with positional reads directly into the batch buffer:
    resident memory does not grow with the number or size of the files.

    Parameters
    ----------
    paths : str, path or list of them
        CSV files, glob patterns or folders (every ``*.csv`` inside), e.g. a local copy of an
        S3 prefix.
    window_size : int
        Window length (rows).
    stride : int, default 1
        Step between window starts.
    time_column : str, optional
        Timestamp column (detected when omitted, as in :meth:`Dataset.from_csv`).
    columns : sequence of str, optional
        Keep only these value columns (in this order).
    cache_dir : str or path, optional
        Where the cache lives; default :func:`default_cache_dir`.
    dtype : {"float32", "float64"}, default "float32"
        Storage type of the cached values (float32 halves disk and I/O; use float64 for columns
        whose values are large compared with their variation).
    progress : bool, default False
        Show a progress bar while converting CSV files.
    read_csv_kwargs : mapping, optional
        Passed to :func:`pandas.read_csv` (``sep``, ``decimal``...).

    Raises
    ------
    DataError
        Unreadable/empty/non-numeric/NaN files (named), files with different columns, files
        overlapping in time, or fewer rows than one window.
    FileNotFoundError
        A named file does not exist.

    Examples
    --------
    >>> src = CSVWindowSource("data/2024-*.csv", window_size=8)  # doctest: +SKIP
    >>> src.n_windows, src.read_windows(np.array([0, 1])).shape  # doctest: +SKIP
    (14393, (2, 8, 1600))
    """

    def __init__(
        self,
        paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        window_size: int,
        stride: int = 1,
        *,
        time_column: str | None = None,
        columns: Sequence[str] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        dtype: Literal["float32", "float64"] = "float32",
        progress: bool = False,
        read_csv_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self.window_size, self.stride = _check_window(window_size, stride)
        if dtype not in ("float32", "float64"):
            raise ConfigurationError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        self.paths = [os.path.abspath(p) for p in expand_paths(paths)]
        self.time_column = time_column
        self.requested_columns = None if columns is None else [str(c) for c in columns]
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.dtype = np.dtype(dtype)
        self.progress = progress
        self.read_csv_kwargs = dict(read_csv_kwargs or {})
        self._entries: list[_CacheEntry] | None = None
        self._columns: list[str] = []
        self._offsets = np.zeros(1, dtype=np.int64)
        self._fds: dict[int, int] = {}
        self._lock = threading.Lock()  # PyDataset workers may read from several threads
        self.n_converted_ = 0

    def __repr__(self) -> str:
        return (
            f"CSVWindowSource({len(self.paths)} files, window_size={self.window_size}, "
            f"stride={self.stride}, cache_dir={str(self.cache_dir)!r})"
        )

    # ------------------------------------------------------------------ cache
    def prepare(self) -> CSVWindowSource:
        """Build or validate the cache (idempotent; called automatically on first use).

        Sets ``n_converted_`` to the number of CSV files (re)parsed by this call.
        """
        if self._entries is not None:
            return self
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        entries: list[_CacheEntry] = []
        columns: list[str] | None = None
        converted = 0
        iterator: Any = self.paths
        if self.progress:
            from tqdm.auto import tqdm

            iterator = tqdm(self.paths, desc="caching CSV files", unit="file")
        for path in iterator:
            entry, cols, built = self._entry_for(path, columns)
            converted += built
            if columns is None:
                columns = cols
            entries.append(entry)
        assert columns is not None
        entries.sort(key=lambda e: e.first_time)
        for prev, nxt in itertools.pairwise(entries):
            if nxt.first_time <= prev.last_time:
                raise DataError(
                    f"CSV files overlap in time: {prev.source} ends at "
                    f"{pd.Timestamp(prev.last_time)} but {nxt.source} starts at "
                    f"{pd.Timestamp(nxt.first_time)}; remove duplicated files or rows"
                )
        self._columns = columns
        self._offsets = np.concatenate([[0], np.cumsum([e.n_rows for e in entries])]).astype(
            np.int64
        )
        self._entries = entries
        self.n_converted_ = converted
        if self.n_rows < self.window_size:
            raise DataError(
                f"the CSV files hold {self.n_rows} rows in all, fewer than one window "
                f"({self.window_size} rows)"
            )
        return self

    def _key(self, path: str) -> tuple[str, str, str]:
        """``(path id, file state, reading options)`` hashes naming the cache entry."""
        st = os.stat(path)
        ident = hashlib.sha256(path.encode()).hexdigest()[:16]
        state = f"{st.st_size}:{st.st_mtime_ns}"
        options = json.dumps(
            {
                "v": _CACHE_VERSION,
                "time_column": self.time_column,
                "columns": self.requested_columns,
                "dtype": self.dtype.name,
                "read_csv": sorted((k, repr(v)) for k, v in self.read_csv_kwargs.items()),
            },
            sort_keys=True,
        )
        digest = [hashlib.sha256(x.encode()).hexdigest()[:12] for x in (state, options)]
        return ident, digest[0], digest[1]

    def _entry_for(
        self, path: str, columns: list[str] | None
    ) -> tuple[_CacheEntry, list[str], bool]:
        ident, state, options = self._key(path)
        stem = self.cache_dir / f"{ident}-{state}-{options}"
        meta_path = stem.with_suffix(".json")
        built = False
        meta = _read_meta(meta_path)
        if meta is None or meta.get("source") != path:
            meta = self._convert(path, stem, ident, state)
            built = True
        cols = [str(c) for c in meta["columns"]]
        if columns is not None and cols != columns:
            if sorted(cols) == sorted(columns):
                pairs = enumerate(zip(cols, columns, strict=True))
                first = next(i for i, (a, b) in pairs if a != b)
                raise DataError(
                    f"{path} has the columns of the other files in another order (first "
                    f"difference at position {first}: {cols[first]!r} instead of "
                    f"{columns[first]!r}); pass columns=[...] to fix the order"
                )
            missing = [c for c in columns if c not in cols]
            extra = [c for c in cols if c not in columns]
            raise DataError(
                f"{path} has different columns than the other files: missing "
                f"{_head(missing)}, unexpected {_head(extra)}"
            )
        data_path = stem.with_suffix(".npy")
        times_path = stem.with_suffix(".ts.npy")
        try:
            offset, shape, dtype = _npy_layout(data_path)
        except (OSError, ValueError) as exc:  # damaged entry: rebuild once
            if built:
                raise DataError(f"cannot read the cache of {path}: {exc}") from None
            meta = self._convert(path, stem, ident, state)
            built = True
            offset, shape, dtype = _npy_layout(data_path)
        if shape != (meta["n_rows"], len(cols)) or dtype != self.dtype:
            raise DataError(f"cache entry {data_path} does not match its record; delete it")
        entry = _CacheEntry(
            source=path,
            data_path=data_path,
            times_path=times_path,
            n_rows=int(meta["n_rows"]),
            data_offset=offset,
            first_time=int(meta["first_time"]),
            last_time=int(meta["last_time"]),
        )
        return entry, cols, built

    def _convert(self, path: str, stem: Path, ident: str, state: str) -> dict[str, Any]:
        before = os.stat(path)
        frame = read_csv_file(path, self.time_column, self.read_csv_kwargs)
        if self.requested_columns is not None:
            missing = [c for c in self.requested_columns if c not in frame.columns]
            if missing:
                raise DataError(f"columns {missing} not found in CSV file {path}")
            frame = frame[self.requested_columns]
        ds = Dataset(frame, name=os.path.basename(path))
        ds.check_finite("caching")
        after = os.stat(path)
        if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
            raise DataError(f"CSV file {path} changed while it was being read; try again")
        values = np.ascontiguousarray(ds.values, dtype=self.dtype)
        index = ds.index
        if not isinstance(index, pd.DatetimeIndex):  # pragma: no cover - read_csv_file parses
            raise DataError(f"CSV file {path} has no time column")
        times = np.asarray(index.as_unit("ns").asi8, dtype=np.int64)
        _atomic_save_npy(stem.with_suffix(".npy"), values)
        _atomic_save_npy(stem.with_suffix(".ts.npy"), times)
        meta = {
            "source": path,
            "columns": ds.columns,
            "n_rows": len(ds),
            "first_time": int(times[0]),
            "last_time": int(times[-1]),
        }
        _atomic_write_text(stem.with_suffix(".json"), json.dumps(meta))
        # entries of older versions of this file are stale now (entries of the same version
        # read with other options, e.g. another column selection, stay)
        for old in self.cache_dir.glob(f"{ident}-*"):
            if not old.name.startswith(f"{ident}-{state}-"):
                old.unlink(missing_ok=True)
        return meta

    # ------------------------------------------------------------------ properties
    @property
    def entries(self) -> list[_CacheEntry]:
        """Cache entries in time order (builds the cache on first use)."""
        self.prepare()
        assert self._entries is not None
        return self._entries

    @property
    def files(self) -> list[str]:
        """Source CSV paths in time order."""
        return [e.source for e in self.entries]

    @property
    def n_rows(self) -> int:
        self.prepare()
        return int(self._offsets[-1])

    @property
    def columns(self) -> list[str]:
        self.prepare()
        return list(self._columns)

    @property
    def row_offsets(self) -> np.ndarray:
        """First global row of each file, plus the total row count at the end."""
        self.prepare()
        return self._offsets.copy()

    def timestamps(self) -> pd.DatetimeIndex:
        """All timestamps in row order (int64 ns from the cache)."""
        parts = [np.load(e.times_path, allow_pickle=False) for e in self.entries]
        return pd.DatetimeIndex(pd.to_datetime(np.concatenate(parts), unit="ns"), name="timestamp")

    # ------------------------------------------------------------------ reading
    def _fd(self, i: int) -> int:
        with self._lock:
            fd = self._fds.get(i)
            if fd is None:
                if len(self._fds) >= _MAX_OPEN_FILES:  # bound open files: close the oldest
                    os.close(self._fds.pop(next(iter(self._fds))))
                flags = os.O_RDONLY | getattr(os, "O_BINARY", 0)
                fd = os.open(self.entries[i].data_path, flags)
                self._fds[i] = fd
            return fd

    def _read_into(self, start: int, out: np.ndarray) -> None:
        """Fill ``out`` (C-contiguous ``(k, n_features)``) with rows ``start:start+k``."""
        entries = self.entries
        offsets = self._offsets
        row_bytes = len(self._columns) * self.dtype.itemsize
        k = out.shape[0]
        done = 0
        i = int(np.searchsorted(offsets, start, side="right")) - 1
        while done < k:
            entry = entries[i]
            local = start + done - int(offsets[i])
            take = min(k - done, entry.n_rows - local)
            buf = memoryview(out[done : done + take]).cast("B")  # type: ignore[arg-type]
            pos = entry.data_offset + local * row_bytes
            fd = self._fd(i)
            got = 0
            while got < len(buf):
                n = _pread_into(fd, buf[got:], pos + got)
                if n <= 0:
                    raise DataError(f"cache file {entry.data_path} is truncated; delete it")
                got += n
            done += take
            i += 1

    def read_rows(self, start: int, stop: int) -> np.ndarray:
        if not 0 <= start <= stop <= self.n_rows:
            raise DataError(f"rows {start}:{stop} outside 0:{self.n_rows}")
        out = np.empty((stop - start, len(self._columns)), dtype=self.dtype)
        if stop > start:
            self._read_into(start, out)
        return out

    def read_windows(self, starts: np.ndarray) -> np.ndarray:
        starts = np.asarray(starts, dtype=np.int64)
        n_rows = self.n_rows
        if starts.size and (starts.min() < 0 or starts.max() + self.window_size > n_rows):
            raise DataError(f"window starts outside 0:{n_rows - self.window_size + 1}")
        out = np.empty((len(starts), self.window_size, len(self._columns)), dtype=self.dtype)
        for j, s in enumerate(starts):
            self._read_into(int(s), out[j])
        return out

    def close(self) -> None:
        """Close the cache files opened for reading (reopened on demand)."""
        with self._lock:
            fds, self._fds = self._fds, {}
        for fd in fds.values():
            os.close(fd)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown
            self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_fds"] = {}
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()


# ---------------------------------------------------------------------- file helpers
def _head(names: list[str], n: int = 8) -> str:
    """A list of names for a message, cut after ``n``."""
    more = f" and {len(names) - n} more" if len(names) > n else ""
    return f"{names[:n]}{more}"


def _pread_into(fd: int, buf: memoryview, pos: int) -> int:
    preadv = getattr(os, "preadv", None)
    if preadv is not None:
        return int(preadv(fd, [buf], pos))
    data = os.pread(fd, len(buf), pos)  # pragma: no cover - platforms without preadv
    buf[: len(data)] = data  # pragma: no cover
    return len(data)  # pragma: no cover


def _npy_layout(path: Path) -> tuple[int, tuple[int, ...], np.dtype]:
    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        if fortran:
            raise ValueError("Fortran-ordered cache file")
        return fh.tell(), tuple(shape), dtype


def _read_meta(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as fh:
            meta = json.load(fh)
    except (OSError, ValueError):
        return None
    keys = {"source", "columns", "n_rows", "first_time", "last_time"}
    if not isinstance(meta, dict) or set(meta) != keys:
        return None
    return meta


def _atomic_save_npy(path: Path, array: np.ndarray) -> None:
    atomic_write(path, lambda fh: np.lib.format.write_array(fh, array, allow_pickle=False))


def _atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))

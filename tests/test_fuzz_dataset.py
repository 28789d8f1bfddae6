"""Property-based fuzzing of the Dataset entry points (issue 5, hardening).

Every generated input must end either in an :class:`~anomark.errors.AnomarkError` whose message
names one of the problems the input actually has, or in a Dataset equal to an independent
reference computation (pandas on the same input). Nothing else is accepted: a raw numpy/pandas
exception, a success on input with a known problem, or different values all fail.

The inputs that exposed the bugs fixed in issue 5 (numbers read as epoch nanoseconds, integer
index edge cases, degenerate resampling and split arguments) are kept as ``REGRESSION`` tests.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from _fuzz import run
from anomark import Dataset
from anomark.errors import AnomarkError, DataError

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SMALL = settings(FUZZ, max_examples=25)
#: Regression tests of the bugs fixed in issue 5 (each input class is small: few examples).
REGRESSION = settings(FUZZ, max_examples=10)

#: Keywords a message must contain (any of them, case-insensitive) for each problem.
CAUSES: dict[str, tuple[str, ...]] = {
    "empty": ("empty", "0 rows"),
    "no_columns": ("no value columns",),
    "dup_columns": ("duplicate column",),
    "bad_index_dtype": ("index of dtype",),
    "unparseable_index": ("cannot parse timestamps", "unparseable or missing timestamp"),
    "mixed_tz": ("time zone", "timezone", "tz-aware", "utc"),
    "nat": ("nat", "missing timestamp"),
    "non_numeric": ("not numeric",),
    "complex": ("complex",),
    "inf": ("infinite",),
    "dup_timestamps": ("duplicate timestamp",),
    "not_numeric_array": ("numeric",),
    "ndim": ("1-d or 2-d",),
    "cannot_convert": ("cannot convert", "could not be converted", "numeric"),
    "no_time": ("no time column",),
    "numeric_time": ("not timestamps",),
}

TZS = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"]
GARBAGE = ["abc", "n/a", "??", "2024-13-45", "yesterday-ish", "12:99:99", "-", "2024/02/30"]


def assert_names_cause(exc: BaseException, causes: set[str]) -> None:
    """The error is ours and its message names one of ``causes``."""
    assert isinstance(exc, AnomarkError), f"not an anomark error: {type(exc).__name__}: {exc}"
    assert causes, f"unexpected {type(exc).__name__} for a valid input: {exc}"
    text = str(exc).lower()
    keywords = [k for cause in causes for k in CAUSES[cause]]
    assert any(k in text for k in keywords), (
        f"message {str(exc)!r} names none of the problems {sorted(causes)}"
    )



def assert_frame_values(ds: Dataset, ref: pd.DataFrame) -> None:
    """``ds`` holds exactly ``ref`` (float64 values, NaN where ref has NaN, same index)."""
    assert ds.columns == [str(c) for c in ref.columns]
    assert ds.index.equals(ref.index), (list(ds.index[:5]), list(ref.index[:5]))
    got = ds.values
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, ref.to_numpy(dtype=np.float64, na_value=np.nan))
    assert ds.index.is_monotonic_increasing and ds.index.is_unique
    assert not np.isinf(got).any()


# ---------------------------------------------------------------------- frames
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
moderate = st.floats(-1e6, 1e6, allow_nan=False)


@st.composite
def odd_columns(draw: Any, n: int) -> tuple[Any, set[str]]:
    """One column of ``n`` values of an odd kind, with the problems it causes."""
    kind = draw(
        st.sampled_from(
            ["float", "huge", "nan_run", "const", "int", "bool", "nullable", "inf", "text",
             "categorical", "complex", "datetime"]
        )
    )
    if kind == "float":
        return np.asarray(draw(st.lists(finite, min_size=n, max_size=n)), dtype=float), set()
    if kind == "huge":
        vals = draw(st.lists(st.sampled_from([1e300, -1e300, 1.7e308, -1.7e308, 0.0]),
                             min_size=n, max_size=n))
        return np.asarray(vals, dtype=float), set()
    if kind == "nan_run":
        vals = np.asarray(draw(st.lists(moderate, min_size=n, max_size=n)), dtype=float)
        if n:
            a = draw(st.integers(0, n - 1))
            b = draw(st.integers(a, n))
            vals[a:b] = np.nan
        return vals, set()
    if kind == "const":
        return np.full(n, draw(finite)), set()
    if kind == "int":
        return np.asarray(draw(st.lists(st.integers(-(2**53), 2**53), min_size=n, max_size=n)),
                          dtype=np.int64), set()
    if kind == "bool":
        return np.asarray(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool), set()
    if kind == "nullable":
        vals = draw(st.lists(st.none() | st.integers(-1000, 1000), min_size=n, max_size=n))
        return pd.array(vals, dtype="Int64"), set()
    if kind == "inf":
        vals = draw(st.lists(moderate, min_size=n, max_size=n))
        causes = set()
        if n:
            vals[draw(st.integers(0, n - 1))] = draw(st.sampled_from([np.inf, -np.inf]))
            causes = {"inf"}
        return np.asarray(vals, dtype=float), causes
    if kind == "text":
        vals = draw(st.lists(st.sampled_from(["a", "1,5", "NaN?", "x y"]), min_size=n, max_size=n))
        return np.asarray(vals, dtype=object), {"non_numeric"}
    if kind == "categorical":
        return pd.Categorical(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))), {
            "non_numeric"
        }
    if kind == "complex":
        return np.asarray(draw(st.lists(moderate, min_size=n, max_size=n))) + 1j, {"complex"}
    return pd.date_range("2024-01-01", periods=n, freq="D").to_numpy(), {"non_numeric"}


@st.composite
def odd_index(draw: Any, n: int) -> tuple[pd.Index, pd.Index | None, set[str]]:
    """An index of an odd kind; the index the Dataset should end with (before sorting)."""
    kind = draw(
        st.sampled_from(
            ["regular", "irregular", "unsorted", "duplicates", "tz", "mixed_tz", "int",
             "int_unsorted", "bool", "float", "iso_strings", "garbage", "nat", "range"]
        )
    )
    unit = draw(st.sampled_from(["s", "min", "h", "D"]))
    start = pd.Timestamp(draw(st.sampled_from(["2024-01-01", "1999-12-31 23:00", "2262-01-01"])))
    regular = pd.date_range(start, periods=n, freq=unit)
    if kind == "regular":
        return regular, regular, set()
    if kind in ("irregular", "unsorted", "duplicates"):
        steps = draw(st.lists(st.integers(0 if kind == "duplicates" else 1, 10**6),
                              min_size=n, max_size=n))
        idx = pd.DatetimeIndex(start + pd.to_timedelta(np.cumsum(steps), unit="s"))
        if kind == "unsorted":
            idx = idx[np.asarray(draw(st.permutations(list(range(n)))), dtype=int)]
        return idx, idx, set()
    if kind == "tz":
        idx = regular.tz_localize(draw(st.sampled_from(TZS)), ambiguous="NaT",
                                  nonexistent="NaT")
        return idx, idx, {"nat"} if idx.hasnans else set()
    if kind == "mixed_tz":
        tzs = draw(st.lists(st.sampled_from([*TZS, None]), min_size=n, max_size=n))
        stamps = [t if tz is None else t.tz_localize(tz) for t, tz in zip(regular, tzs,
                                                                          strict=True)]
        distinct = {str(s.tz) for s in stamps}
        if len(distinct) <= 1:
            idx = pd.DatetimeIndex(stamps) if n else regular
            return idx, idx, set()
        if all(s.tz is not None for s in stamps):  # instants, in the first one's zone
            return pd.Index(stamps, dtype=object), pd.DatetimeIndex(
                [s.tz_convert(stamps[0].tz) for s in stamps]), set()
        return pd.Index(stamps, dtype=object), None, {"mixed_tz", "unparseable_index"}
    if kind in ("int", "int_unsorted", "range"):
        positions: pd.Index
        if kind == "range":
            positions = pd.RangeIndex(n)
        else:
            vals = draw(st.lists(st.integers(-(2**62), 2**62), min_size=n, max_size=n,
                                 unique=True))
            if kind == "int":
                vals.sort()
            positions = pd.Index(vals, dtype=np.int64)
        return positions, pd.Index(np.asarray(positions, dtype=np.int64)), set()
    if kind == "bool":
        return pd.Index(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool), None, {
            "bad_index_dtype"
        }
    if kind == "float":
        vals = draw(st.lists(moderate, min_size=n, max_size=n))
        return pd.Index(vals, dtype=np.float64), None, {"bad_index_dtype"}
    if kind == "iso_strings":
        strings = [t.isoformat() for t in regular]
        return pd.Index(strings, dtype=object), pd.DatetimeIndex(pd.to_datetime(strings)), set()
    if kind == "garbage":
        vals = draw(st.lists(st.sampled_from(GARBAGE), min_size=n, max_size=n))
        return pd.Index(vals, dtype=object), None, {"unparseable_index"}
    # nat
    vals = list(regular)
    if n:
        vals[draw(st.integers(0, n - 1))] = pd.NaT
    return pd.DatetimeIndex(vals), None, {"nat"} if n else set()


@st.composite
def odd_frames(draw: Any) -> tuple[pd.DataFrame, pd.Index | None, set[str], str]:
    n = draw(st.integers(0, 8))
    n_cols = draw(st.integers(0, 3))
    index, expected_index, causes = draw(odd_index(n))
    if n == 0:
        causes = set()
    columns: dict[str, Any] = {}
    names = draw(st.lists(st.sampled_from(["value", "a", "b", "1", "x y", "é"]),
                          min_size=n_cols, max_size=n_cols))
    col_causes: set[str] = set()
    data = []
    for _ in names:
        values, c = draw(odd_columns(n))
        data.append(values)
        col_causes |= c if n else set()
    frame = pd.DataFrame(dict(enumerate(data)), index=index) if data else pd.DataFrame(index=index)
    frame.columns = pd.Index(names, dtype=object)
    if len(set(names)) < len(names):
        causes.add("dup_columns")
    if n_cols == 0:
        causes.add("no_columns")
    if n == 0:
        causes.add("empty")
    causes |= col_causes
    duplicates = draw(st.sampled_from(["raise", "first", "last", "mean"]))
    if (
        expected_index is not None
        and n
        and pd.Index(expected_index).has_duplicates
        and duplicates == "raise"
    ):
        causes.add("dup_timestamps")
    del columns
    return frame, expected_index, causes, duplicates


def _reference(frame: pd.DataFrame, index: pd.Index, duplicates: str) -> pd.DataFrame:
    """What the Dataset must hold: float values, sorted (stable), duplicates combined."""
    values = {
        str(c): frame.iloc[:, j].to_numpy(dtype=np.float64, na_value=np.nan)
        for j, c in enumerate(frame.columns)
    }
    ref = pd.DataFrame(values, index=index).sort_index(kind="stable")
    if ref.index.has_duplicates:
        if duplicates == "mean":
            ref = ref.groupby(level=0, sort=True).mean()
        else:
            ref = ref[~ref.index.duplicated(keep=duplicates)]  # type: ignore[arg-type]
    return ref


@settings(FUZZ, max_examples=150)
@given(case=odd_frames())
def test_dataset_constructor_fuzz(case: tuple[pd.DataFrame, Any, set[str], str]) -> None:
    frame, expected_index, causes, duplicates = case
    ds, exc = run(lambda: Dataset(frame, duplicates=duplicates))  # type: ignore[arg-type]
    if exc is not None:
        assert_names_cause(exc, causes)
        return
    assert not causes, f"accepted input with problems {sorted(causes)}"
    assert_frame_values(ds, _reference(frame, expected_index, duplicates))


@settings(FUZZ, max_examples=100)
@given(case=odd_frames(), time_name=st.sampled_from(["timestamp", "Time", "date", "when"]),
       explicit=st.booleans())
def test_from_frame_with_time_column_fuzz(
    case: tuple[pd.DataFrame, Any, set[str], str], time_name: str, explicit: bool
) -> None:
    """The index moved into a time column, found by name or given as ``time_column``."""
    frame, expected_index, causes, duplicates = case
    flat = frame.copy()
    flat.columns = pd.Index([f"c{j}" for j in range(flat.shape[1])])
    flat.insert(0, time_name, np.asarray(frame.index, dtype=object))
    flat = flat.reset_index(drop=True)
    causes = causes - {"dup_columns"}  # columns were renamed c0, c1...
    found = explicit or time_name.lower() in ("timestamp", "time", "date")
    numbers = frame.index.dtype.kind in "iufb"
    if numbers and found:  # never read as epoch times
        causes = (causes - {"bad_index_dtype"}) | {"numeric_time"}
    elif numbers:  # an unnamed one is a value column (numbers held as objects are numbers)
        causes = causes - {"bad_index_dtype", "no_columns", "dup_timestamps"}
    elif not found and len(frame):  # (text that is no date stays a non-numeric value column)
        causes = causes | {"no_time"} | ({"non_numeric"} if "unparseable_index" in causes
                                         else set())
    ds, exc = run(
        lambda: Dataset.from_frame(flat, time_name if explicit else None,
                                   duplicates=duplicates)  # type: ignore[arg-type]
    )
    if exc is not None:
        assert_names_cause(exc, causes)
        return
    if numbers and not found:
        assert not causes, f"accepted input with problems {sorted(causes)}"
        assert not ds.is_time_indexed and ds.columns[0] == time_name
        np.testing.assert_array_equal(ds.frame[time_name].to_numpy(),
                                      np.asarray(frame.index, dtype=np.float64))
        return
    # a column holding dates is found even under another name
    causes.discard("no_time")
    if not len(frame):
        causes -= {"numeric_time", "non_numeric"}
    assert not causes, f"accepted input with problems {sorted(causes)}"
    assert ds.is_time_indexed
    renamed = frame.copy()
    renamed.columns = pd.Index([f"c{j}" for j in range(frame.shape[1])])
    assert_frame_values(ds, _reference(renamed, expected_index, duplicates))


# ---------------------------------------------------------------------- arrays
array_dtypes = st.sampled_from(
    [np.float64, np.float32, np.float16, np.int8, np.int64, np.uint8, np.bool_, np.complex128,
     np.dtype("U3"), np.dtype("M8[s]"), np.dtype("O")]
)


@st.composite
def odd_arrays(draw: Any) -> np.ndarray:
    dtype = np.dtype(draw(array_dtypes))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))
    if dtype == np.dtype("O"):
        flat = draw(st.lists(st.one_of(moderate, st.integers(-5, 5), st.text(max_size=2)),
                             min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
        return np.asarray([*flat, None], dtype=object)[:-1].reshape(shape)
    if dtype.kind == "f":
        elements = st.floats(allow_nan=True, allow_infinity=True, width=dtype.itemsize * 8)
        return draw(hnp.arrays(dtype, shape, elements=elements))
    return draw(hnp.arrays(dtype, shape))


@settings(FUZZ, max_examples=100)
@given(arr=odd_arrays())
def test_from_array_fuzz(arr: np.ndarray) -> None:
    ds, exc = run(lambda: Dataset.from_array(arr))
    causes: set[str] = set()
    numeric = arr.dtype.kind in "fiub"
    as_float: np.ndarray | None = None
    if arr.dtype == object:
        try:
            as_float = arr.astype(np.float64)
            numeric = True
        except (ValueError, TypeError):
            causes.add("cannot_convert")
    elif arr.dtype.kind == "c":
        causes.add("complex")
    elif not numeric:
        causes.add("not_numeric_array")
    else:
        as_float = arr.astype(np.float64)
    if arr.ndim not in (1, 2):
        causes.add("ndim")
    if arr.ndim in (1, 2) and arr.shape[0] == 0:
        causes.add("empty")
    if arr.ndim == 2 and arr.shape[1] == 0:
        causes.add("no_columns")
    if as_float is not None and np.isinf(as_float).any():
        causes.add("inf")
    if exc is not None:
        assert_names_cause(exc, causes)
        return
    assert not causes, f"accepted {arr.dtype} array {arr.shape} with problems {sorted(causes)}"
    assert as_float is not None
    expected = as_float.reshape(len(as_float), -1)
    assert ds.shape == expected.shape
    np.testing.assert_array_equal(ds.values, expected)
    assert list(ds.index) == list(range(len(expected)))


@SMALL
@given(
    data=st.one_of(
        st.lists(st.lists(moderate, min_size=0, max_size=3), min_size=1, max_size=4),
        st.lists(st.one_of(moderate, st.text(max_size=2), st.none()), min_size=1, max_size=4),
        st.dictionaries(st.text(max_size=2), moderate, max_size=2),
        st.just(b"1,2,3"),
    )
)
def test_from_any_with_python_containers(data: Any) -> None:
    """Ragged lists, dicts, bytes, text: an anomark error or the same numbers as numpy."""
    ds, exc = run(lambda: Dataset.from_any(data))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = np.asarray(data, dtype=np.float64)
    except (ValueError, TypeError):
        ref = None
    if exc is not None:
        text = str(exc).lower()
        assert any(k in text for k in ("numeric", "convert", "1-d or 2-d", "empty", "no value",
                                       "infinite")), str(exc)
        return
    assert ref is not None, f"accepted {data!r} that numpy cannot read as numbers"
    ref = ref.reshape(len(ref), -1)
    np.testing.assert_array_equal(ds.values, ref)


# ---------------------------------------------------------------------- CSV files
@st.composite
def odd_csv(draw: Any) -> tuple[bytes, set[str], pd.DataFrame | None]:
    """CSV bytes + the problems in them + the frame a clean read must give (None: unknown)."""
    n = draw(st.integers(0, 6))
    time_name = draw(st.sampled_from(["timestamp", "time", "Date", "ts"]))
    names = draw(st.lists(st.sampled_from(["value", "b", "c"]), min_size=1, max_size=2,
                          unique=True))
    stamps = pd.date_range("2024-03-01", periods=n, freq=draw(st.sampled_from(["min", "h"])))
    order = draw(st.permutations(list(range(n))))
    causes: set[str] = set()
    rows: list[list[str]] = []
    values = np.zeros((n, len(names)))
    for i in order:
        row = [stamps[i].isoformat()]
        for j, _ in enumerate(names):
            kind = draw(st.sampled_from(["num", "num", "num", "empty", "inf", "text"]))
            if kind == "num":
                v = draw(st.floats(-1e300, 1e300, allow_nan=False))
                values[i, j] = v
                row.append(repr(v))
            elif kind == "empty":
                values[i, j] = np.nan
                row.append("")
            elif kind == "inf":
                causes.add("inf")
                row.append(draw(st.sampled_from(["inf", "-inf", "1e400"])))
            else:
                causes.add("non_numeric")
                row.append(draw(st.sampled_from(["abc", "1.2.3", "--"])))
        rows.append(row)
    dup = draw(st.booleans()) and n > 1
    if dup:
        rows.append(list(rows[0]))
        causes.add("dup_timestamps")
    text = ",".join([time_name, *names]) + "\n" + "".join(",".join(r) + "\n" for r in rows)
    if n == 0:
        causes.add("empty")
    raw = text.encode("utf-8")
    clean = True
    mutation = draw(st.sampled_from(["none", "none", "bom", "crlf", "bad_line", "truncate",
                                     "zero", "latin1", "blank_lines"]))
    if mutation == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif mutation == "crlf":
        raw = raw.replace(b"\n", b"\r\n")
    elif mutation == "blank_lines":
        raw = raw.replace(b"\n", b"\n\n")
    elif mutation == "bad_line" and n:
        lines = raw.split(b"\n")
        k = draw(st.integers(1, len(lines) - 1))
        lines.insert(k, b"2024-03-01T00:00:00,1,2,3,4,5")
        raw = b"\n".join(lines)
        causes.add("malformed")
        clean = False
    elif mutation == "truncate":
        cut = draw(st.integers(0, len(raw)))
        clean = cut == len(raw)
        if not clean:  # a cut line can still parse (a shorter date): only the problems are known
            raw, causes = raw[:cut], set()
    elif mutation == "zero":
        raw = b""
        causes = {"empty"}
    elif mutation == "latin1":
        raw = raw.replace(names[0].encode(), b"val\xe9", 1)
        causes.add("encoding")
    expected = None
    if clean and not causes:
        expected = pd.DataFrame(values, index=pd.DatetimeIndex(stamps), columns=names)
    return raw, causes, expected


CSV_CAUSES = {
    **CAUSES,
    # pandas may take the extra fields as an index: then the timestamps or values are wrong
    "malformed": ("malformed", "timestamp", "not numeric", "duplicate"),
    "encoding": ("not valid text",),
    "empty": ("empty", "no rows"),
}


@FUZZ
@given(case=odd_csv())
def test_from_csv_fuzz(case: tuple[bytes, set[str], pd.DataFrame | None], tmp_path_factory:
                       pytest.TempPathFactory) -> None:
    raw, causes, expected = case
    path = tmp_path_factory.mktemp("csv") / "series.csv"
    path.write_bytes(raw)
    ds, exc = run(lambda: Dataset.from_csv(path))
    if exc is not None:
        if expected is None and not causes:  # truncated: a message about this file's content
            assert path.name in str(exc), str(exc)
            return
        text = str(exc).lower()
        keywords = [k for c in causes for k in CSV_CAUSES[c]]
        assert any(k in text for k in keywords), f"{exc} names none of {sorted(causes)}"
        return
    assert not causes - {"malformed"}, f"accepted a CSV with problems {sorted(causes)}"
    assert ds.is_time_indexed and ds.index.is_monotonic_increasing and ds.index.is_unique
    assert not np.isinf(ds.values).any()
    if expected is not None:
        expected.index.name = ds.index.name
        assert_frame_values(ds, expected.sort_index())


# ---------------------------------------------------------------------- transforms
def _base() -> Dataset:
    idx = pd.date_range("2024-01-01", periods=12, freq="10min")
    values = np.arange(12.0)
    values[[3, 4, 9]] = np.nan
    return Dataset(pd.DataFrame({"v": values, "w": np.ones(12)}, index=idx))


freq_texts = st.one_of(
    st.sampled_from(["1min", "20min", "1h", "h", "1D", "abc", "", "-1h", "1.5h", "nan", "1Y",
                     "7W", "3B"]),
    st.builds(lambda k, u: f"{k}{u}", st.integers(1, 500), st.sampled_from(["min", "h", "s"])),
)


@SMALL
@given(freq=freq_texts, agg=st.sampled_from(["mean", "median", "sum", "min", "max", "first",
                                             "last", "bogus"]))
def test_resample_fuzz(freq: str, agg: str) -> None:
    base = _base()
    ds, exc = run(lambda: base.resample(freq, agg=agg))  # type: ignore[arg-type]
    if exc is not None:
        assert ("frequency" in str(exc) and repr(freq) in str(exc)) or (
            "aggregation" in str(exc) and agg in str(exc)
        ), str(exc)
        return
    assert agg != "bogus"
    ref = getattr(base.frame.resample(freq), agg)().interpolate(method="time",
                                                                 limit_area="inside")
    assert_frame_values(ds, ref)


@REGRESSION
@given(freq=st.sampled_from(["0min", "0h", pd.Timedelta(0), None, "1h"]),
       agg=st.sampled_from(["mean", "__class__", "ohlc"]))
def test_resample_degenerate_frequency_or_aggregation(freq: Any, agg: str) -> None:
    base = _base()
    ds, exc = run(lambda: base.resample(freq, agg=agg))  # type: ignore[arg-type]
    if exc is None:
        assert ds.columns == base.columns, "agg must be one of the documented aggregations"
    else:
        assert "frequency" in str(exc) or "aggregation" in str(exc), str(exc)


split_points = st.one_of(
    st.datetimes(min_value=pd.Timestamp("2023-12-31").to_pydatetime(),
                 max_value=pd.Timestamp("2024-01-02").to_pydatetime()).map(str),
    st.sampled_from(["xx", "2024-01-01 00:55", "2023", "2100-01-01"]),
    st.floats(1e10, 1e300).map(lambda f: f"{f}"),
)


@SMALL
@given(at=split_points, fraction=st.none() | st.floats(-1.0, 2.0) | st.just(float("nan")))
def test_split_fuzz(at: Any, fraction: float | None) -> None:
    base = _base()
    kwargs = {"fraction": fraction} if fraction is not None else {"at": at}
    out, exc = run(lambda: base.split(**kwargs))
    if exc is not None:
        assert any(k in str(exc) for k in ("fraction", "empty", "cannot parse")), str(exc)
        return
    left, right = out
    assert len(left) + len(right) == len(base)
    assert left.index[-1] < right.index[0]
    if fraction is not None:
        assert 0 < fraction < 1
        assert len(left) == round(len(base) * fraction)
    else:
        assert (left.index < pd.Timestamp(at)).all() and (right.index >= pd.Timestamp(at)).all()


@REGRESSION
@given(at=st.integers(-(10**12), 10**12) | st.sampled_from(["x", "0.5"]))
def test_split_with_numbers_on_a_time_index(at: Any) -> None:
    base = _base()
    kwargs = {"fraction": at} if isinstance(at, str) else {"at": at}
    _, exc = run(lambda: base.split(**kwargs))
    assert exc is not None and ("timestamp" in str(exc) or "fraction" in str(exc))


@SMALL
@given(value=st.one_of(finite, st.sampled_from([np.inf, -np.inf, "x"]),
                       st.dictionaries(st.sampled_from(["v", "w"]), finite, max_size=2)),
       method=st.sampled_from([None, "ffill", "bfill", "pad", ""]))
def test_fillna_fuzz(value: Any, method: str | None) -> None:
    base = _base()
    use_value = None if method is not None else value
    ds, exc = run(lambda: base.fillna(use_value, method=method))
    if exc is not None:
        assert any(k in str(exc) for k in ("infinite", "not numeric", "method", "exactly one")), (
            str(exc)
        )
        return
    frame = base.frame
    if method == "ffill":
        ref = frame.ffill()
    elif method == "bfill":
        ref = frame.bfill()
    else:
        assert method is None
        ref = frame.fillna(value)
    assert_frame_values(ds, ref.astype(np.float64))


# ---------------------------------------------------------------------- regressions (issue 5)
@REGRESSION
@given(vals=st.lists(st.integers(0, 10**6), min_size=2, max_size=6, unique=True),
       kind=st.sampled_from(["object", "category"]))
def test_object_integer_index_is_not_nanoseconds(vals: list[int], kind: str) -> None:
    index = pd.Index(vals, dtype=object) if kind == "object" else pd.CategoricalIndex(vals)
    ds, exc = run(lambda: Dataset(pd.DataFrame({"v": np.ones(len(vals))}, index=index)))
    if exc is None:
        assert not ds.is_time_indexed, f"integers became timestamps {list(ds.index[:2])}"
    else:
        assert "index" in str(exc)


@REGRESSION
@given(start=st.integers(10**9, 2 * 10**9), step=st.integers(1, 3600))
def test_csv_epoch_seconds_are_not_nanoseconds(start: int, step: int,
                                              tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("epoch") / "epoch.csv"
    path.write_text("timestamp,value\n" + "".join(f"{start + i * step},{i}\n" for i in range(4)))
    ds, exc = run(lambda: Dataset.from_csv(path))
    if exc is None:
        assert ds.index[0] == pd.Timestamp(start, unit="s"), ds.index[0]
    else:
        assert "timestamp" in str(exc) and "unit" in str(exc)


@REGRESSION
@given(big=st.integers(2**63, 2**64 - 1), kind=st.sampled_from(["uint64", "nullable"]))
def test_integer_index_edge_cases(big: int, kind: str) -> None:
    if kind == "uint64":
        index = pd.Index(np.array([0, 1, big], dtype=np.uint64))
    else:
        index = pd.Index([1, None, 3], dtype="Int64")
    ds, exc = run(lambda: Dataset(pd.DataFrame({"v": [1.0, 2.0, 3.0]}, index=index)))
    if exc is None:
        assert list(ds.values[:, 0]) == [1.0, 2.0, 3.0] and (np.asarray(ds.index) >= 0).all()
    else:
        assert "index" in str(exc)


def test_constant_and_nan_only_columns_are_kept_verbatim(tmp_path: Path) -> None:
    """Degenerate but valid: constant columns and NaN-only columns survive construction."""
    idx = pd.date_range("2024-01-01", periods=5, freq="min")
    ds = Dataset(pd.DataFrame({"c": np.full(5, 7.0), "n": np.full(5, np.nan)}, index=idx))
    assert (ds.values[:, 0] == 7.0).all() and np.isnan(ds.values[:, 1]).all()
    with pytest.raises(DataError, match="NaN values in column"):
        ds.check_finite("fitting")


# ---------------------------------------------------------------------- time formats (issue 14)
DATE_FORMATS = ["%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M", "%d.%m.%Y %H:%M", "%Y-%m-%d %H:%M:%S",
                "%Y-%m-%dT%H:%M", "%d-%b-%Y %H:%M", "%m/%d/%Y", "%d/%m/%Y"]


@FUZZ
@given(
    fmt=st.sampled_from(DATE_FORMATS),
    start=st.datetimes(min_value=pd.Timestamp("1990-01-01").to_pydatetime(),
                       max_value=pd.Timestamp("2030-12-31").to_pydatetime()),
    n=st.integers(2, 60),
    step=st.sampled_from(["1min", "30min", "1h", "6h", "1D", "7D"]),
    hint=st.sampled_from(["none", "dayfirst", "format"]),
)
def test_dates_are_read_right_or_refused(
    fmt: str, start: Any, n: int, step: str, hint: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A regular series written in any of these formats is read back exactly, or refused with
    a message naming dayfirst / time_format; it is never silently misread (day and month
    swapped for part or all of the rows)."""
    if "%H" not in fmt:
        step = "1D" if step not in ("1D", "7D") else step
    index = pd.date_range(pd.Timestamp(start).floor(step if "D" not in step else "D"),
                          periods=n, freq=step)
    path = tmp_path_factory.mktemp("dates") / "series.csv"
    pd.DataFrame({"timestamp": index.strftime(fmt), "value": np.arange(n, dtype=float)}).to_csv(
        path, index=False)
    kwargs: dict[str, Any] = {}
    if hint == "dayfirst":
        kwargs["dayfirst"] = fmt.startswith("%d")
    elif hint == "format":
        kwargs["time_format"] = fmt
    ds, exc = run(lambda: Dataset.from_csv(path, **kwargs))
    if exc is not None:
        assert isinstance(exc, DataError), repr(exc)
        assert hint == "none" and "dayfirst" in str(exc) and "--time-format" in str(exc), exc
        assert fmt.startswith(("%d/", "%m/", "%d.")), f"an unambiguous format was refused: {exc}"
        return
    assert ds.index.equals(pd.DatetimeIndex(index, name="timestamp")), (fmt, kwargs)

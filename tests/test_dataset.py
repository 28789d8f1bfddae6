"""Dataset: loaders (CSV, frames, arrays, sensors, S3), validation and transforms."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomark import Dataset
from anomark.errors import DataError, MissingFileError


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def _csv(
    path: Path, start: str, n: int, freq: str = "1h", col: str = "value", first: float = 0.0
) -> Path:
    idx = pd.date_range(start, periods=n, freq=freq)
    df = pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%d %H:%M:%S"), col: first + np.arange(n)})
    df.to_csv(path, index=False)
    return path


# ---------------------------------------------------------------------- from_csv
def test_from_csv_one_file(tmp_path: Path):
    path = _csv(tmp_path / "a.csv", "2024-01-01", 5)
    ds = Dataset.from_csv(path)
    assert len(ds) == 5
    assert ds.columns == ["value"]
    assert isinstance(ds.index, pd.DatetimeIndex)
    assert ds.index[0] == pd.Timestamp("2024-01-01")
    assert ds.name == "a.csv"
    np.testing.assert_array_equal(ds.values[:, 0], np.arange(5.0))


def test_from_csv_list_concatenated_in_time_order(tmp_path: Path):
    later = _csv(tmp_path / "b.csv", "2024-01-02", 3, first=10.0)
    earlier = _csv(tmp_path / "a.csv", "2024-01-01", 3)
    ds = Dataset.from_csv([later, earlier])  # given out of order
    assert len(ds) == 6
    assert ds.index.is_monotonic_increasing
    np.testing.assert_array_equal(ds.values[:, 0], [0, 1, 2, 10, 11, 12])


def test_from_csv_glob_and_folder(tmp_path: Path):
    _csv(tmp_path / "part-1.csv", "2024-01-01", 2)
    _csv(tmp_path / "part-2.csv", "2024-01-03", 2, first=5.0)
    _write(tmp_path / "notes.txt", "not a csv")
    by_glob = Dataset.from_csv(str(tmp_path / "part-*.csv"))
    by_folder = Dataset.from_csv(tmp_path)
    assert len(by_glob) == 4
    assert by_glob == by_folder


def test_from_csv_glob_without_match(tmp_path: Path):
    with pytest.raises(DataError, match=r"no files match"):
        Dataset.from_csv(str(tmp_path / "nothing-*.csv"))


def test_from_csv_missing_file(tmp_path: Path):
    with pytest.raises(MissingFileError, match=r"missing.csv") as info:
        Dataset.from_csv(tmp_path / "missing.csv")
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, DataError)


def test_from_csv_time_column_auto_detected_by_content(tmp_path: Path):
    path = _write(tmp_path / "a.csv", "when,temp\n2024-01-01 00:00,1.5\n2024-01-01 01:00,2.5\n")
    ds = Dataset.from_csv(path)
    assert ds.columns == ["temp"]
    assert ds.index[1] == pd.Timestamp("2024-01-01 01:00")


def test_from_csv_named_time_column(tmp_path: Path):
    path = _write(tmp_path / "a.csv", "a,b,stamp\n1,2,2024-01-01\n3,4,2024-01-02\n")
    ds = Dataset.from_csv(path, time_column="stamp")
    assert ds.columns == ["a", "b"]
    with pytest.raises(DataError, match=r"time column 'nope' not found"):
        Dataset.from_csv(path, time_column="nope")


def test_from_csv_no_time_column(tmp_path: Path):
    path = _write(tmp_path / "a.csv", "a,b\n1,2\n3,4\n")
    with pytest.raises(DataError, match=r"no time column found"):
        Dataset.from_csv(path)


def test_from_csv_bom_is_stripped(tmp_path: Path):
    path = tmp_path / "bom.csv"
    path.write_bytes("timestamp,value\n2024-01-01,1\n2024-01-02,2\n".encode("utf-8-sig"))
    ds = Dataset.from_csv(path)
    assert ds.columns == ["value"]
    assert ds.index.name == "timestamp"


def test_from_csv_columns_subset(tmp_path: Path):
    path = _write(tmp_path / "a.csv", "timestamp,a,b\n2024-01-01,1,2\n2024-01-02,3,4\n")
    assert Dataset.from_csv(path, columns=["b"]).columns == ["b"]
    with pytest.raises(DataError, match=r"columns \['c'\] not found"):
        Dataset.from_csv(path, columns=["c"])


def test_from_csv_empty_and_header_only(tmp_path: Path):
    with pytest.raises(DataError, match=r"empty"):
        Dataset.from_csv(_write(tmp_path / "empty.csv", ""))
    with pytest.raises(DataError, match=r"has a header but no rows"):
        Dataset.from_csv(_write(tmp_path / "header.csv", "timestamp,value\n"))


def test_from_csv_files_with_different_columns(tmp_path: Path):
    a = _csv(tmp_path / "a.csv", "2024-01-01", 2, col="x")
    b = _csv(tmp_path / "b.csv", "2024-01-02", 2, col="y")
    with pytest.raises(DataError, match=r"files have different columns"):
        Dataset.from_csv([a, b])


def test_from_csv_overlapping_files_need_duplicates_policy(tmp_path: Path):
    a = _csv(tmp_path / "a.csv", "2024-01-01", 3)
    b = _csv(tmp_path / "b.csv", "2024-01-01 02:00", 2, first=10.0)
    with pytest.raises(DataError, match=r"duplicate timestamp"):
        Dataset.from_csv([a, b])
    ds = Dataset.from_csv([a, b], duplicates="first")
    np.testing.assert_array_equal(ds.values[:, 0], [0, 1, 2, 11])


# ---------------------------------------------------------------------- from_frame / array
def test_from_frame_time_indexed_and_time_column():
    idx = pd.date_range("2024-01-01", periods=3, freq="D")
    indexed = Dataset.from_frame(pd.DataFrame({"v": [1.0, 2.0, 3.0]}, index=idx))
    with_col = Dataset.from_frame(pd.DataFrame({"timestamp": idx, "v": [1.0, 2.0, 3.0]}))
    assert indexed.columns == with_col.columns == ["v"]
    assert (indexed.index == with_col.index).all()


def test_from_frame_positions_kept_for_integer_index():
    ds = Dataset.from_frame(pd.DataFrame({"v": [1.0, 2.0]}))
    assert not ds.is_time_indexed
    assert list(ds.index) == [0, 1]


def test_from_frame_series_named_and_unnamed():
    idx = pd.date_range("2024", periods=2, freq="h")
    assert Dataset.from_frame(pd.Series([1.0, 2.0], index=idx, name="temp")).columns == ["temp"]
    assert Dataset.from_frame(pd.Series([1.0, 2.0], index=idx)).columns == ["value"]


def test_bool_columns_become_floats():
    ds = Dataset.from_frame(pd.DataFrame({"flag": [True, False]}))
    assert ds.values.dtype == np.float64
    np.testing.assert_array_equal(ds.values[:, 0], [1.0, 0.0])


def test_from_array_shapes_and_names():
    assert Dataset.from_array(np.arange(4.0)).columns == ["value"]
    ds = Dataset.from_array(np.zeros((3, 2)))
    assert ds.columns == ["0", "1"]
    assert ds.shape == (3, 2)
    with pytest.raises(DataError, match=r"1-D or 2-D"):
        Dataset.from_array(np.zeros((2, 2, 2)))


def test_from_array_rejects_sparse_and_complex():
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(DataError, match=r"sparse input is not supported"):
        Dataset.from_array(sparse.csr_matrix(np.eye(3)))
    with pytest.raises(DataError, match=r"Complex data not supported"):
        Dataset.from_array(np.ones(3) * 1j)


def test_values_read_only_and_frame_is_a_copy():
    ds = Dataset.from_array(np.arange(3.0))
    with pytest.raises(ValueError, match=r"read-only"):
        ds.values[0, 0] = 5.0
    frame = ds.frame
    frame.iloc[0, 0] = 5.0
    assert ds.values[0, 0] == 0.0


# ---------------------------------------------------------------------- validation
def test_unsorted_is_sorted_with_warning():
    idx = pd.to_datetime(["2024-01-03", "2024-01-01", "2024-01-02"])
    with pytest.warns(UserWarning, match=r"not in time order; rows were sorted"):
        ds = Dataset(pd.DataFrame({"v": [3.0, 1.0, 2.0]}, index=idx))
    np.testing.assert_array_equal(ds.values[:, 0], [1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    ("policy", "expected"), [("mean", [2.0, 5.0]), ("first", [1.0, 5.0]), ("last", [3.0, 5.0])]
)
def test_duplicate_timestamps_policies(policy, expected):
    idx = pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-02"])
    frame = pd.DataFrame({"v": [1.0, 3.0, 5.0]}, index=idx)
    with pytest.raises(DataError, match=r"1 duplicate timestamp"):
        Dataset(frame)
    ds = Dataset(frame, duplicates=policy)
    np.testing.assert_array_equal(ds.values[:, 0], expected)


def test_text_column_named_in_error():
    frame = pd.DataFrame(
        {"ok": [1.0, 2.0], "status": ["on", "off"]},
        index=pd.date_range("2024", periods=2, freq="h"),
    )
    with pytest.raises(DataError, match=r"column 'status' is not numeric.*'on'"):
        Dataset(frame)


def test_empty_and_no_columns():
    with pytest.raises(DataError, match=r"empty \(0 rows\)"):
        Dataset(pd.DataFrame({"v": []}, index=pd.DatetimeIndex([])))
    with pytest.raises(DataError, match=r"no value columns"):
        Dataset(pd.DataFrame(index=pd.date_range("2024", periods=2, freq="h")))


def test_nan_allowed_but_reported_by_check_finite():
    idx = pd.date_range("2024", periods=4, freq="h")
    ds = Dataset(pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0], "b": [1.0, 2, 3, 4]}, index=idx))
    assert ds.nan_report().to_dict() == {"a": 1}
    with pytest.raises(
        DataError, match=r"NaN values in column\(s\) 'a' \(1\), first at 2024-01-01 01:00"
    ):
        ds.check_finite("fitting")


def test_inf_rejected_with_column_name():
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [np.inf, 1.0]})
    with pytest.raises(DataError, match=r"infinite values in column\(s\) \['b'\]"):
        Dataset(frame)


def test_duplicate_column_names_rejected():
    frame = pd.DataFrame([[1.0, 2.0]], columns=["a", "a"])
    with pytest.raises(DataError, match=r"duplicate column names"):
        Dataset(frame)


def test_unparseable_timestamps():
    frame = pd.DataFrame({"timestamp": ["2024-01-01", "not a date"], "v": [1.0, 2.0]})
    with pytest.raises(DataError, match=r"cannot parse timestamps|unparseable"):
        Dataset.from_frame(frame, time_column="timestamp")


def test_bad_duplicates_policy():
    with pytest.raises(DataError, match=r"duplicates must be"):
        Dataset(pd.DataFrame({"v": [1.0]}), duplicates="sum")  # type: ignore[arg-type]


# ---------------------------------------------------------------------- from_sensors
def _sensor(
    start: str, n: int, freq: str, col: str, values: list[float] | None = None
) -> pd.DataFrame:
    idx = pd.date_range(start, periods=n, freq=freq)
    return pd.DataFrame(
        {col: values if values is not None else np.arange(n, dtype=float)}, index=idx
    )


def test_from_sensors_outer_join_prefixed():
    a = _sensor("2024-01-01 00:00", 3, "1min", "speed")
    b = _sensor("2024-01-01 00:01", 3, "1min", "temp")
    ds = Dataset.from_sensors({"adcp": a, "ek60": b})
    assert ds.columns == ["adcp.speed", "ek60.temp"]
    assert len(ds) == 4
    assert ds.nan_report().to_dict() == {"adcp.speed": 1, "ek60.temp": 1}


def test_from_sensors_inner_and_left():
    a = _sensor("2024-01-01 00:00", 3, "1min", "x")
    b = _sensor("2024-01-01 00:01", 3, "1min", "y")
    assert len(Dataset.from_sensors({"a": a, "b": b}, how="inner")) == 2
    left = Dataset.from_sensors({"a": a, "b": b}, how="left")
    assert list(left.index) == list(a.index)
    with pytest.raises(DataError, match=r"how must be"):
        Dataset.from_sensors({"a": a}, how="cross")  # type: ignore[arg-type]


def test_from_sensors_resampled_and_interpolated():
    # a every 30 s, b every 2 min: joined on a 1-minute grid
    a = _sensor("2024-01-01 00:00", 8, "30s", "x", [0, 2, 4, 6, 8, 10, 12, 14])
    b = _sensor("2024-01-01 00:00", 3, "2min", "y", [0.0, 20.0, 40.0])
    ds = Dataset.from_sensors({"a": a, "b": b}, freq="1min")
    assert ds.infer_freq() == pd.Timedelta("1min")
    frame = ds.frame
    # a: mean of two samples per minute; no extrapolation after its last sample (NaN kept)
    np.testing.assert_array_equal(frame["a.x"].to_numpy(), [1.0, 5.0, 9.0, 13.0, np.nan])
    # b's empty bins (00:01, 00:03) are interpolated in time
    np.testing.assert_allclose(frame["b.y"].to_numpy(), [0.0, 10.0, 20.0, 30.0, 40.0])


def test_from_sensors_resample_without_interpolation_keeps_gaps():
    b = _sensor("2024-01-01 00:00", 3, "2min", "y", [0.0, 20.0, 40.0])
    ds = Dataset.from_sensors({"b": b}, freq="1min", interpolate=False)
    assert ds.nan_report().to_dict() == {"b.y": 2}


def test_from_sensors_from_csv_paths(tmp_path: Path):
    p = _csv(tmp_path / "s.csv", "2024-01-01", 3)
    ds = Dataset.from_sensors({"s1": p, "s2": Dataset.from_csv(p)})
    assert ds.columns == ["s1.value", "s2.value"]


def test_from_sensors_empty_mapping():
    with pytest.raises(DataError, match=r"non-empty mapping"):
        Dataset.from_sensors({})


# ---------------------------------------------------------------------- from_s3 (moto)
def test_from_s3_reads_csvs_under_prefix(aws_env: str):
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="anomark-test")
    s3.put_object(
        Bucket="anomark-test",
        Key="data/2024-01-02.csv",
        Body=b"timestamp,value\n2024-01-02 00:00,3\n2024-01-02 01:00,4\n",
    )
    s3.put_object(
        Bucket="anomark-test",
        Key="data/2024-01-01.csv",
        Body=b"\xef\xbb\xbftimestamp,value\n2024-01-01 00:00,1\n2024-01-01 01:00,2\n",
    )
    s3.put_object(Bucket="anomark-test", Key="data/readme.txt", Body=b"ignored")
    s3.put_object(Bucket="anomark-test", Key="other/x.csv", Body=b"timestamp,value\n2030-01-01,9\n")
    ds = Dataset.from_s3("s3://anomark-test/data/", session=boto3.Session())
    assert ds.columns == ["value"]
    np.testing.assert_array_equal(ds.values[:, 0], [1.0, 2.0, 3.0, 4.0])
    assert ds.index.is_monotonic_increasing


def test_from_s3_errors(aws_env: str):
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="anomark-empty")
    with pytest.raises(DataError, match=r"no objects ending with '.csv'"):
        Dataset.from_s3("s3://anomark-empty/prefix/")
    with pytest.raises(DataError, match=r"cannot read s3://no-such-bucket"):
        Dataset.from_s3("s3://no-such-bucket/x/")
    with pytest.raises(DataError, match=r"expected an s3://bucket/prefix URI"):
        Dataset.from_s3("bucket/prefix")


# ---------------------------------------------------------------------- transforms
def _gappy() -> Dataset:
    idx = pd.date_range("2024-01-01", periods=5, freq="h")
    return Dataset(pd.DataFrame({"a": [1.0, np.nan, 3.0, np.nan, 5.0]}, index=idx))


def test_fillna_value_mapping_and_methods():
    ds = _gappy()
    np.testing.assert_array_equal(ds.fillna(0).values[:, 0], [1, 0, 3, 0, 5])
    np.testing.assert_array_equal(ds.fillna({"a": -1.0}).values[:, 0], [1, -1, 3, -1, 5])
    np.testing.assert_array_equal(ds.fillna(method="ffill").values[:, 0], [1, 1, 3, 3, 5])
    np.testing.assert_array_equal(ds.fillna(method="bfill").values[:, 0], [1, 3, 3, 5, 5])
    assert ds.nan_report().sum() == 2  # the original is unchanged
    with pytest.raises(DataError, match=r"exactly one of value= or method="):
        ds.fillna()
    with pytest.raises(DataError, match=r"'ffill' or 'bfill'"):
        ds.fillna(method="pad")


def test_interpolate_and_dropna():
    ds = _gappy()
    np.testing.assert_allclose(ds.interpolate().values[:, 0], [1, 2, 3, 4, 5])
    assert len(ds.dropna()) == 3


def test_resample_mean_and_gap_interpolation():
    idx = pd.to_datetime(["2024-01-01 00:00", "2024-01-01 00:20", "2024-01-01 03:10"])
    ds = Dataset(pd.DataFrame({"v": [1.0, 3.0, 8.0]}, index=idx))
    out = ds.resample("1h")
    assert list(out.index) == list(pd.date_range("2024-01-01", periods=4, freq="h"))
    np.testing.assert_allclose(out.values[:, 0], [2.0, 4.0, 6.0, 8.0])
    assert ds.resample("1h", agg="max", interpolate=False).nan_report().to_dict() == {"v": 2}
    with pytest.raises(DataError, match=r"invalid resampling frequency"):
        ds.resample("every hour")


def test_resample_needs_time_index():
    with pytest.raises(DataError, match=r"no time index"):
        Dataset.from_array(np.arange(3.0)).resample("1h")


def test_split_by_time_and_fraction():
    idx = pd.date_range("2024-01-01", periods=10, freq="D")
    ds = Dataset(pd.DataFrame({"v": np.arange(10.0)}, index=idx))
    before, after = ds.split(at="2024-01-04")
    assert len(before) == 3
    assert after.index[0] == pd.Timestamp("2024-01-04")
    left, right = ds.split(fraction=0.7)
    assert (len(left), len(right)) == (7, 3)
    with pytest.raises(DataError, match=r"leaves one side empty"):
        ds.split(at="2030-01-01")
    with pytest.raises(DataError, match=r"exactly one of at= or fraction="):
        ds.split()
    with pytest.raises(DataError, match=r"fraction must be in \(0, 1\)"):
        ds.split(fraction=1.0)


def test_select_and_infer_freq():
    idx = pd.date_range("2024-01-01", periods=4, freq="15min")
    ds = Dataset(pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [4.0, 3, 2, 1]}, index=idx))
    assert ds.select(["b", "a"]).columns == ["b", "a"]
    assert ds.infer_freq() == pd.Timedelta("15min")
    assert Dataset.from_array(np.arange(3.0)).infer_freq() is None
    with pytest.raises(DataError, match=r"columns \['c'\] not found"):
        ds.select(["c"])


def test_from_any_conversions():
    ds = Dataset.from_array(np.arange(3.0))
    assert Dataset.from_any(ds) is ds
    with pytest.raises(TypeError, match=r"got a path"):
        Dataset.from_any("data.csv")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"got None"):
        Dataset.from_any(None)  # type: ignore[arg-type]


def test_no_warning_for_clean_data():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Dataset.from_frame(pd.DataFrame({"v": [1.0, 2.0]}, index=pd.date_range("2024", periods=2)))


# ---------------------------------------------------------------------- issue 5 (hardening)
@pytest.mark.parametrize(
    "index",
    [pd.Index([3, 1, 2], dtype=object), pd.CategoricalIndex([3, 1, 2]),
     pd.Index([3, 1, 2], dtype="Int64"), pd.Index(np.array([3, 1, 2], dtype=np.uint64))],
    ids=["object", "categorical", "nullable", "uint64"],
)
def test_integer_index_of_any_dtype_is_positions_not_nanoseconds(index: pd.Index):
    with pytest.warns(UserWarning, match="not in time order"):
        ds = Dataset(pd.DataFrame({"v": [30.0, 10.0, 20.0]}, index=index))
    assert not ds.is_time_indexed
    assert ds.index.dtype == np.int64 and list(ds.index) == [1, 2, 3]
    assert list(ds.values[:, 0]) == [10.0, 20.0, 30.0]


def test_uint64_index_beyond_int64_is_refused_not_wrapped():
    index = pd.Index(np.array([0, 1, 2**63], dtype=np.uint64))
    with pytest.raises(DataError, match=r"index value 9223372036854775808 is outside the int64"):
        Dataset(pd.DataFrame({"v": [1.0, 2.0, 3.0]}, index=index))
    ds = Dataset(pd.DataFrame({"v": [1.0, 2.0]}, index=pd.Index(np.array([0, 2**63 - 1],
                                                                            dtype=np.uint64))))
    assert list(ds.index) == [0, 2**63 - 1]


def test_nullable_integer_index_with_na_is_refused():
    index = pd.Index([1, None, 3], dtype="Int64")
    with pytest.raises(DataError, match=r"integer index has missing values \(first at row 1\)"):
        Dataset(pd.DataFrame({"v": [1.0, 2.0, 3.0]}, index=index))


@pytest.mark.parametrize("values", [[0.5, 1.0], [True, False]], ids=["floats", "bools"])
def test_object_index_of_numbers_other_than_integers_is_refused(values: list):
    with pytest.raises(DataError, match=r"index of dtype object holding .* is neither timestamps"):
        Dataset(pd.DataFrame({"v": [1.0, 2.0]}, index=pd.Index(values, dtype=object)))


def test_numeric_time_column_is_refused_with_a_unit_hint(tmp_path: Path):
    path = tmp_path / "epoch.csv"
    path.write_text("timestamp,value\n1700000000,1\n1700000060,2\n")
    match = r"column 'timestamp': holds integer values, not timestamps.*unit=\"s\""
    with pytest.raises(DataError, match=match):
        Dataset.from_csv(path)
    frame = pd.DataFrame({"time": [1.7e9, 1.7e9 + 60], "v": [1.0, 2.0]})
    with pytest.raises(DataError, match=r"not timestamps"):
        Dataset.from_frame(frame, "time")
    # converting them first is what the message asks for
    frame["time"] = pd.to_datetime(frame["time"], unit="s")
    assert Dataset.from_frame(frame).index[0] == pd.Timestamp(1_700_000_000, unit="s")


def test_numbers_in_an_unnamed_column_are_not_taken_for_dates():
    frame = pd.DataFrame({"when": pd.Series([1, 2], dtype=object), "v": [1.0, 2.0]},
                         index=pd.Index(["a", "b"], dtype=object))
    with pytest.raises(DataError, match=r"no time column found"):
        Dataset.from_frame(frame)


@pytest.mark.parametrize("kind", ["object", "string", "categorical"])
def test_from_frame_parses_an_index_of_date_strings(kind: str, tmp_path: Path):
    idx = pd.date_range("2024-01-01", periods=3, freq="h")
    text = idx.strftime("%Y-%m-%d %H:%M:%S")
    index = {"object": pd.Index(text, dtype=object), "string": pd.Index(text, dtype="string"),
             "categorical": pd.CategoricalIndex(text)}[kind]
    ds = Dataset.from_frame(pd.DataFrame({"v": [1.0, 2.0, 3.0]}, index=index))
    assert ds.is_time_indexed and list(ds.index) == list(idx)
    # what pd.read_csv(f, index_col=0) gives
    path = tmp_path / "s.csv"
    pd.DataFrame({"v": [1.0, 2.0, 3.0]}, index=idx).to_csv(path)
    assert Dataset.from_frame(pd.read_csv(path, index_col=0)) == ds


@pytest.mark.parametrize("index", [pd.Index([True, False]), pd.Index([0.5, 1.5])])
def test_from_frame_names_a_bool_or_float_index(index: pd.Index):
    with pytest.raises(DataError, match=r"index of dtype (bool|float64) is neither timestamps"):
        Dataset.from_frame(pd.DataFrame({"v": [1.0, 2.0]}, index=index))
    # a time column still wins over such an index
    frame = pd.DataFrame({"timestamp": ["2024-01-01", "2024-01-02"], "v": [1.0, 2.0]},
                         index=index)
    assert Dataset.from_frame(frame).is_time_indexed


def test_from_frame_keeps_an_object_index_of_integers_as_positions():
    ds = Dataset.from_frame(pd.DataFrame({"v": [1.0, 2.0]}, index=pd.Index([5, 6], dtype=object)))
    assert not ds.is_time_indexed and list(ds.index) == [5, 6]


def _hourly() -> Dataset:
    idx = pd.date_range("2024-01-01", periods=6, freq="30min")
    return Dataset(pd.DataFrame({"v": np.arange(6.0)}, index=idx))


@pytest.mark.parametrize(
    ("freq", "match"),
    [("0min", "must be positive"), (pd.Timedelta(0), "must be positive"),
     ("-1h", "must be positive"), (None, "offset alias"), (5, "invalid resampling frequency"),
     ("abc", "invalid resampling frequency 'abc'")],
)
def test_resample_refuses_degenerate_frequencies(freq, match: str):
    with pytest.raises(DataError, match=match):
        _hourly().resample(freq)


@pytest.mark.parametrize("agg", ["__class__", "ohlc", "apply", ["mean"]])
def test_resample_accepts_only_the_documented_aggregations(agg):
    with pytest.raises(DataError, match=r"unknown aggregation .*choose one of \['mean'"):
        _hourly().resample("1h", agg=agg)
    assert _hourly().resample("1h", agg="max").values[:, 0].tolist() == [1.0, 3.0, 5.0]


def test_split_refuses_a_number_on_a_time_index_and_a_non_numeric_fraction():
    ds = _hourly()
    for at in (5, 2.5, np.int64(3)):
        with pytest.raises(DataError, match=r"is a number but dataset is indexed by timestamps"):
            ds.split(at=at)
    for fraction in ("x", "0.5", True, [0.5]):
        with pytest.raises(DataError, match=r"fraction must be a number"):
            ds.split(fraction=fraction)  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"cannot parse 'NaT'"):
        ds.split(at="NaT")
    positions = Dataset.from_array(np.arange(6.0))
    with pytest.raises(DataError, match=r"at= must be a position"):
        positions.split(at="2024-01-01")
    left, right = positions.split(at=2)
    assert (len(left), len(right)) == (2, 4)


def test_fillna_refuses_unknown_columns():
    idx = pd.date_range("2024-01-01", periods=3, freq="h")
    ds = Dataset(pd.DataFrame({"v": [1.0, np.nan, 3.0]}, index=idx))
    with pytest.raises(DataError, match=r"fillna: column\(s\) \['w'\] not found"):
        ds.fillna({"w": 0.0})
    assert ds.fillna({"v": 0.0}).values[:, 0].tolist() == [1.0, 0.0, 3.0]


@pytest.mark.parametrize("uri", ["s3://", "s3:///key", "bucket/key", "S3://b/k", 3])
def test_one_s3_uri_splitter_rejects_bad_uris(uri: object) -> None:
    from anomark._s3 import split_s3_uri

    with pytest.raises(DataError, match="s3://"):
        split_s3_uri(uri)


def test_s3_uri_splitter_keeps_the_key() -> None:
    from anomark._s3 import split_s3_uri

    assert split_s3_uri("s3://b") == ("b", "")
    assert split_s3_uri("s3://b/a/b/") == ("b", "a/b/")


# ---------------------------------------------------------------------- time formats (issue 14)
def _dated(path: Path, index: pd.DatetimeIndex, fmt: str) -> Path:
    frame = pd.DataFrame({"timestamp": index.strftime(fmt), "value": np.arange(len(index.values))})
    frame.to_csv(path, index=False)
    return path


DAY_FIRST = "%d/%m/%Y %H:%M"
JANUARY = pd.date_range("2024-01-01", periods=20 * 24, freq="h")  # 1-20 January


def test_day_first_file_is_refused_then_read_with_dayfirst_or_a_format(tmp_path: Path):
    path = _dated(tmp_path / "eu.csv", JANUARY, DAY_FIRST)
    with pytest.raises(DataError) as info:
        Dataset.from_csv(path)
    message = str(info.value)
    assert "day first" in message and "'13/01/2024 00:00'" in message
    assert "dayfirst=True" in message and "--dayfirst" in message and "--time-format" in message
    for kwargs in ({"dayfirst": True}, {"time_format": DAY_FIRST}):
        ds = Dataset.from_csv(path, **kwargs)
        assert ds.index.equals(pd.DatetimeIndex(JANUARY, name="timestamp"))  # 9 Jan, not 1 Sep


def test_month_first_file_reads_month_first(tmp_path: Path):
    path = _dated(tmp_path / "us.csv", JANUARY, "%m/%d/%Y %H:%M")
    assert Dataset.from_csv(path).index.equals(pd.DatetimeIndex(JANUARY, name="timestamp"))
    with pytest.raises(DataError, match="does not match the column's format"):
        Dataset.from_csv(path, dayfirst=True)  # 01/13/2024 has no 13th month


@pytest.mark.parametrize(
    ("index", "why"),
    [
        # day first, every day <= 12: read month first the steps are a month, not a day
        (pd.date_range("2024-01-01", periods=12, freq="D"), "day first the times are more"),
        # one day: both readings are regular hourly series, on 2 January or on 1 February
        (pd.date_range("2024-02-01", periods=24, freq="h"), "equally plausible"),
    ],
)
def test_ambiguous_day_month_is_an_error_not_a_guess(tmp_path: Path, index, why: str):
    path = _dated(tmp_path / "x.csv", index, DAY_FIRST)
    with pytest.raises(DataError, match=why) as info:
        Dataset.from_csv(path)
    assert "--dayfirst" in str(info.value) and "--time-format" in str(info.value)
    assert Dataset.from_csv(path, dayfirst=True).index.equals(pd.DatetimeIndex(index,
                                                                               name="timestamp"))


def test_month_first_reading_that_steps_backwards_is_refused(tmp_path: Path):
    index = pd.date_range("2024-03-01", periods=10, freq="D")  # 1-10 March, day first
    path = _dated(tmp_path / "x.csv", index, DAY_FIRST)
    with pytest.raises(DataError, match="ambiguous"):
        Dataset.from_csv(path)


def test_one_format_per_column(tmp_path: Path):
    path = _write(tmp_path / "mixed.csv",
                  "timestamp,value\n2024-01-01 00:00,1\n2024-01-01 01:00,2\n01/02/2024 02:00,3\n")
    with pytest.raises(DataError) as info:
        Dataset.from_csv(path)
    assert "'01/02/2024 02:00' at row 2 does not match the column's format" in str(info.value)
    assert "inferred from '2024-01-01 00:00'" in str(info.value)
    # ISO 8601 values may differ in precision and use T or a space
    iso = _write(tmp_path / "iso.csv",
                 "timestamp,value\n2024-01-01,1\n2024-01-01T01:00,2\n2024-01-01 02:00:00.5,3\n")
    assert list(Dataset.from_csv(iso).index) == [
        pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-01 01:00"),
        pd.Timestamp("2024-01-01 02:00:00.5")]
    with pytest.raises(DataError, match="'x' at row 1"):
        Dataset.from_csv(_write(tmp_path / "x.csv", "t,value\n01/01/2024,1\nx,2\n"),
                         time_column="t", time_format="%d/%m/%Y")


def test_time_format_and_dayfirst_on_every_reader(tmp_path: Path, aws_env: str):
    import boto3

    frame = pd.DataFrame({"timestamp": JANUARY.strftime(DAY_FIRST), "value": 1.0})
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="anomark-dates")
    s3.put_object(Bucket="anomark-dates", Key="eu/a.csv", Body=frame.to_csv(index=False).encode())
    with pytest.raises(DataError, match="dayfirst"):
        Dataset.from_s3("s3://anomark-dates/eu/")
    assert Dataset.from_s3("s3://anomark-dates/eu/", dayfirst=True).index[-1] == JANUARY[-1]
    path = _dated(tmp_path / "eu.csv", JANUARY, DAY_FIRST)
    joined = Dataset.from_sensors({"a": str(path)}, time_format=DAY_FIRST)
    assert joined.index[-1] == JANUARY[-1]
    framed = Dataset.from_frame(frame, time_column="timestamp", dayfirst=True)
    assert framed.index[-1] == JANUARY[-1]


def test_irregular_sampling_warns(tmp_path: Path):
    from anomark.readers import IrregularSamplingWarning

    gappy = JANUARY[np.arange(len(JANUARY)) % 10 != 5]
    with pytest.warns(IrregularSamplingWarning, match=r"11% of the 431 steps differ from the "
                                                      r"usual 1h \(from 1h to 2h\)"):
        Dataset.from_csv(_dated(tmp_path / "gappy.csv", gappy, "%Y-%m-%d %H:%M"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Dataset.from_csv(_dated(tmp_path / "even.csv", JANUARY, "%Y-%m-%d %H:%M"))


def test_duplicates_message_names_the_cli_option_and_fit_none_is_a_data_type_error():
    from anomark import IsolationForestDetector
    from anomark.errors import DataTypeError

    idx = pd.DatetimeIndex(["2024-01-01", "2024-01-01", "2024-01-02"])
    with pytest.raises(DataError, match=r"duplicates='mean'.*--duplicates mean\|first\|last"):
        Dataset(pd.DataFrame({"v": [1.0, 2.0, 3.0]}, index=idx))
    with pytest.raises(DataTypeError, match="got None"):
        IsolationForestDetector().fit(None)
    with pytest.raises(DataTypeError, match="got a path"):
        IsolationForestDetector().fit("series.csv")

"""The dataset readers and the Dataset at their edges (mutation testing, issue 17).

Exact messages (the parameter, file or column named), values computed by hand, and the
boundaries of each check: joining sensors (``limit`` counted once), ``split`` on both sides of
its bounds and across time zones, interpolation in time or by position, the day/month
reading's evidence and the values its messages quote, the irregular-sampling threshold, glob
and folder expansion, and several files joined on time.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomark import Dataset, readers
from anomark.errors import DataError, DataTypeError, MissingFileError
from anomark.readers import IrregularSamplingWarning, date_order


def _frame(values: list[float], index: pd.Index, col: str = "v") -> pd.DataFrame:
    return pd.DataFrame({col: values}, index=index)


def _minutes(*offsets: int, tz: str | None = None) -> pd.DatetimeIndex:
    start = pd.Timestamp("2024-01-01", tz=tz)
    return pd.DatetimeIndex([start + pd.Timedelta(minutes=m) for m in offsets])


def _nan_list(ds: Dataset, col: str) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in ds.frame[col].to_numpy()]


# ---------------------------------------------------------------------- from_sensors
def test_from_sensors_refuses_what_is_not_a_non_empty_mapping() -> None:
    full = r"^from_sensors needs a non-empty mapping of sensor name -> data$"
    bad: object
    for bad in ({}, [("a", 1)], None):
        with pytest.raises(DataError, match=full):
            Dataset.from_sensors(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("sensor", ["", 1, None])
def test_sensor_names_must_be_non_empty_strings(sensor: object) -> None:
    frame = _frame([1.0, 2.0], _minutes(0, 1))
    with pytest.raises(DataError, match=rf"^sensor names must be non-empty strings, got "
                                        rf"{re.escape(repr(sensor))}$"):
        Dataset.from_sensors({sensor: frame})  # type: ignore[dict-item]


def test_a_sensors_errors_name_the_sensor(tmp_path: Path) -> None:
    text = pd.DataFrame({"status": ["on", "off"]}, index=_minutes(0, 1))
    with pytest.raises(DataError, match=r"^dataset 'ek60': column 'status' is not numeric"):
        Dataset.from_sensors({"ek60": text})
    path = tmp_path / "adcp.csv"
    path.write_text("timestamp,speed\n2024-01-01 00:00,1\n2024-01-01 00:00,2\n")
    with pytest.raises(DataError, match=r"^dataset 'adcp': 1 duplicate timestamp\(s\)"):
        Dataset.from_sensors({"adcp": path})


def test_from_sensors_reads_csv_sensors_day_first(tmp_path: Path) -> None:
    path = tmp_path / "eu.csv"
    path.write_text("timestamp,v\n01/02/2024 00:00,1\n02/02/2024 00:00,2\n03/02/2024 00:00,3\n")
    with pytest.raises(DataError, match="ambiguous"):
        Dataset.from_sensors({"eu": path})
    ds = Dataset.from_sensors({"eu": path}, dayfirst=True)
    assert list(ds.index) == list(pd.date_range("2024-02-01", periods=3, freq="D"))


def test_from_sensors_refuses_time_and_positions_together_and_positions_with_freq() -> None:
    timed = _frame([1.0, 2.0], _minutes(0, 1))
    positions = pd.DataFrame({"v": [1.0, 2.0]})
    with pytest.raises(DataError, match=r"^cannot join time-indexed sensors with "
                                        r"position-indexed ones$"):
        Dataset.from_sensors({"a": timed, "b": positions})
    with pytest.raises(DataError, match=r"^sensor 'b' has no time index; cannot resample$"):
        Dataset.from_sensors({"a": timed, "b": positions}, freq="1min")
    both = Dataset.from_sensors({"a": positions, "b": positions})
    assert both.columns == ["a.v", "b.v"] and list(both.index) == [0, 1]


def test_from_sensors_refuses_aware_and_naive_together() -> None:
    naive = _frame([1.0, 2.0], _minutes(0, 1))
    aware = _frame([1.0, 2.0], _minutes(0, 1, tz="UTC"))
    with pytest.raises(DataError, match=r"^cannot join time-zone-aware sensors with naive ones; "
                                        r"localize them$"):
        Dataset.from_sensors({"a": naive, "b": aware})
    joined = Dataset.from_sensors({"a": aware, "b": aware})
    assert str(joined.index.tz) == "UTC"  # type: ignore[attr-defined]


def test_from_sensors_names_the_join() -> None:
    a = _frame([1.0, 2.0], _minutes(0, 1), "x")
    assert Dataset.from_sensors({"adcp": a, "ek60": a}).name == "adcp+ek60"
    assert Dataset.from_sensors({"adcp": a, "ek60": a}, name="ship").name == "ship"


def test_from_sensors_without_freq_never_interpolates() -> None:
    a = _frame([0.0, 1.0, 2.0, 3.0], _minutes(0, 1, 2, 3), "x")
    b = _frame([0.0, 30.0], _minutes(0, 3), "y")
    ds = Dataset.from_sensors({"a": a, "b": b})
    assert _nan_list(ds, "b.y") == [0.0, None, None, 30.0]


def _gap_sensors() -> dict[str, pd.DataFrame]:
    """a every minute for 8 minutes; b at minutes 0 and 7 only (6 empty bins between)."""
    a = _frame(list(np.arange(8.0)), _minutes(*range(8)), "x")
    b = _frame([0.0, 70.0], _minutes(0, 7), "y")
    return {"a": a, "b": b}


@pytest.mark.parametrize("how", ["outer", "inner", "left"])
def test_from_sensors_fills_gaps_in_time_for_every_join(how: str) -> None:
    ds = Dataset.from_sensors(_gap_sensors(), freq="1min", how=how)  # type: ignore[arg-type]
    np.testing.assert_allclose(ds.frame["b.y"].to_numpy(), 10.0 * np.arange(8))


@pytest.mark.parametrize("how", ["outer", "inner", "left"])
def test_from_sensors_limit_fills_at_most_limit_bins_per_gap(how: str) -> None:
    # the outer join used to fill each gap twice (per sensor, then after joining): 2 bins
    ds = Dataset.from_sensors(_gap_sensors(), freq="1min", how=how,  # type: ignore[arg-type]
                              limit=1)
    assert _nan_list(ds, "b.y") == [0.0, 10.0, None, None, None, None, None, 70.0]
    kept = Dataset.from_sensors(_gap_sensors(), freq="1min", how=how,  # type: ignore[arg-type]
                                interpolate=False)
    assert _nan_list(kept, "b.y") == [0.0, None, None, None, None, None, None, 70.0]


def test_from_sensors_fills_inside_a_sensor_only_not_past_its_ends() -> None:
    a = _frame(list(np.arange(6.0)), _minutes(*range(6)), "x")
    b = _frame([10.0, 30.0], _minutes(1, 3), "y")
    ds = Dataset.from_sensors({"a": a, "b": b}, freq="1min")
    assert _nan_list(ds, "b.y") == [None, 10.0, 20.0, 30.0, None, None]


def test_an_outer_join_of_interleaved_grids_is_filled_in_time_not_by_row() -> None:
    # 7-minute bins: a's from midnight of 1 January (23:48, 23:55, 00:02...), b's from
    # midnight of 2 January (00:00, 00:07...): the joined rows are 2 and 5 minutes apart
    a = _frame([0.0, 42.0], pd.DatetimeIndex(["2024-01-01 23:50", "2024-01-02 00:31"]), "x")
    b = _frame([0.0, 1.0, 2.0, 3.0, 4.0],
               pd.date_range("2024-01-02 00:00", periods=5, freq="7min"), "y")
    ds = Dataset.from_sensors({"a": a, "b": b}, freq="7min")
    minutes = [0, 7, 12, 14, 19, 21, 26, 28, 33, 35, 40, 42]  # since 23:48: a.x in time
    np.testing.assert_allclose(ds.frame["a.x"].to_numpy(), minutes)
    b_y = np.array([np.nan, np.nan, 0, 2 / 7, 1, 1 + 2 / 7, 2, 2 + 2 / 7, 3, 3 + 2 / 7, 4, np.nan])
    np.testing.assert_allclose(ds.frame["b.y"].to_numpy(), b_y)


def test_from_sensors_fills_in_time_across_misaligned_grids() -> None:
    # 7-minute bins start at midnight of each sensor's first day: 1440 = 205 x 7 + 5, so the
    # grids are 5 minutes apart and the outer join interleaves them; each column is then
    # filled in time between its own bins
    a = _frame([0.0, 7.0, 14.0], pd.date_range("2024-01-01 00:00", periods=3, freq="7min"), "x")
    b = _frame([0.0, 7.0], pd.date_range("2024-01-02 00:00", periods=2, freq="7min"), "y")
    ds = Dataset.from_sensors({"a": a, "b": b}, freq="7min")
    assert len(ds) == 5 and ds.nan_report().to_dict() == {"a.x": 2, "b.y": 3}


# ---------------------------------------------------------------------- __repr__, small API
def test_repr_names_the_rows_columns_and_span() -> None:
    ds = Dataset(_frame([1.0, 2.0, 3.0], _minutes(0, 30, 60)), name="pump")
    assert repr(ds) == ("<Dataset 'pump': 3 rows x 1 columns, 2024-01-01 00:00:00 .. "
                        "2024-01-01 01:00:00>")
    unnamed = Dataset.from_array(np.zeros((4, 2)))
    assert repr(unnamed) == "<Dataset: 4 rows x 2 columns, 0 .. 3>"


# ---------------------------------------------------------------------- transforms
def test_interpolate_is_in_time_on_timestamps_and_by_value_on_positions() -> None:
    # 0, ?, 3 at minutes 0, 1, 3: 1.0 in time (1.5 half-way between rows)
    timed = Dataset(_frame([0.0, np.nan, 3.0], _minutes(0, 1, 3)))
    assert _nan_list(timed.interpolate(), "v") == [0.0, 1.0, 3.0]
    positions = Dataset(_frame([0.0, np.nan, 3.0], pd.Index([0, 1, 3])))
    assert _nan_list(positions.interpolate(), "v") == [0.0, 1.0, 3.0]


def test_interpolate_limit_and_no_extrapolation() -> None:
    ds = Dataset(_frame([np.nan, 0.0, np.nan, np.nan, 3.0, np.nan], _minutes(*range(6))))
    assert _nan_list(ds.interpolate(), "v") == [None, 0.0, 1.0, 2.0, 3.0, None]
    assert _nan_list(ds.interpolate(limit=1), "v") == [None, 0.0, 1.0, None, 3.0, None]


def test_resample_limit_fills_at_most_limit_bins() -> None:
    ds = Dataset(_frame([0.0, 4.0], _minutes(0, 4)))
    assert _nan_list(ds.resample("1min"), "v") == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert _nan_list(ds.resample("1min", limit=2), "v") == [0.0, 1.0, 2.0, None, 4.0]


def test_resample_without_a_frequency_names_the_expected_forms() -> None:
    ds = Dataset(_frame([0.0, 40.0], _minutes(0, 4)))
    with pytest.raises(DataError, match=r"^invalid resampling frequency None: give an offset "
                                        r"alias such as '1min' or a positive Timedelta$"):
        ds.resample(None)  # type: ignore[arg-type]


def test_fillna_and_dropna_messages() -> None:
    ds = Dataset(_frame([np.nan, np.nan], _minutes(0, 1)), name="s")
    with pytest.raises(DataError, match=r"^fillna needs exactly one of value= or method=$"):
        ds.fillna(0.0, method="ffill")
    with pytest.raises(DataError, match=r"^dataset 's': no rows left after dropna\(how='all'\)$"):
        ds.dropna(how="all")


# ---------------------------------------------------------------------- split
def _days(n: int = 10, tz: str | None = None) -> Dataset:
    return Dataset(_frame(list(np.arange(float(n))),
                          pd.date_range("2024-01-01", periods=n, freq="D", tz=tz)))


def test_split_messages_name_the_argument() -> None:
    ds = _days()
    with pytest.raises(DataError, match=r"^split needs exactly one of at= or fraction=$"):
        ds.split(at="2024-01-03", fraction=0.5)
    with pytest.raises(DataError, match=r"^fraction must be a number in \(0, 1\), got str '0.5'$"):
        ds.split(fraction="0.5")  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"^fraction must be in \(0, 1\), got 0.0$"):
        ds.split(fraction=0.0)
    with pytest.raises(DataError, match=r"at= must be a position \(a number\), got str "
                                        r"'2024-01-01'$"):
        Dataset.from_array(np.arange(4.0)).split(at="2024-01-01")


def test_split_at_each_end() -> None:
    ds = _days()
    left, right = ds.split(at="2024-01-02")  # one row on the left
    assert (len(left), len(right)) == (1, 9)
    left, right = ds.split(at="2024-01-10")  # one row on the right
    assert (len(left), len(right)) == (9, 1)
    spans = r"\(dataset spans 2024-01-01 00:00:00 \.\. 2024-01-10 00:00:00\)$"
    with pytest.raises(DataError, match=r"^split point '2024-01-01' leaves one side empty "
                                        + spans):
        ds.split(at="2024-01-01")
    with pytest.raises(DataError, match=r"^split point '2023-06-01' leaves one side empty "):
        ds.split(at="2023-06-01")  # before the first row: nothing on the left
    with pytest.raises(DataError, match=r"^split point 0.01 leaves one side empty " + spans):
        ds.split(fraction=0.01)  # round(0.1) = 0 rows


def test_split_across_time_zones() -> None:
    paris = _days(tz="Europe/Paris")
    # a naive point is read in the index's zone: 3 January 00:00 in Paris
    left, right = paris.split(at="2024-01-03")
    assert (len(left), len(right)) == (2, 8)
    # an aware point on a naive index is compared in UTC: 3 January 00:30+01:00 is 2 January
    # 23:30 UTC, before 3 January 00:00
    naive = _days()
    left, right = naive.split(at="2024-01-03T00:30+01:00")
    assert (len(left), len(right)) == (2, 8)
    left, right = naive.split(at="2024-01-03T01:30+01:00")  # 00:30 UTC: after
    assert (len(left), len(right)) == (3, 7)
    left, right = paris.split(at=pd.Timestamp("2024-01-02 23:30", tz="UTC"))  # 00:30 Paris
    assert (len(left), len(right)) == (3, 7)


# ---------------------------------------------------------------------- from_frame
def test_from_frame_messages_name_the_frame_or_the_dataset() -> None:
    bad = pd.DataFrame({"ts": ["2024-01-01", "not a date"], "v": [1.0, 2.0]})
    with pytest.raises(DataError, match=r"^frame column 'ts': cannot parse timestamps: "
                                        r"'not a date' at row 1"):
        Dataset.from_frame(bad, time_column="ts")
    with pytest.raises(DataError, match=r"^dataset 'pump' column 'ts': cannot parse"):
        Dataset.from_frame(bad, time_column="ts", name="pump")
    with pytest.raises(DataError, match=r"^frame: time column 'when' not found among "
                                        r"\['ts', 'v', '7'\]$"):
        Dataset.from_frame(bad.assign(**{"7": 0.0}).rename(columns={"7": 7}), time_column="when")
    with pytest.raises(DataTypeError, match=r"^from_frame expects a DataFrame or Series, got "
                                            r"list$"):
        Dataset.from_frame([1.0, 2.0])  # type: ignore[arg-type]


def test_from_frame_names_a_bad_date_far_down_an_index_of_dates() -> None:
    # the first 20 values look like dates: the index is parsed, and the bad one is named
    text = [*pd.date_range("2024-01-01", periods=25, freq="h").strftime("%Y-%m-%d %H:%M"), "x"]
    frame = pd.DataFrame({"v": np.arange(26.0)}, index=pd.Index(text, dtype=object))
    with pytest.raises(DataError, match=r"^frame index: cannot parse timestamps: 'x' at row 25 "
                                        r"does not match the column's format 'ISO8601'"):
        Dataset.from_frame(frame)


def test_from_frame_finds_a_date_column_of_two_formats_and_names_the_odd_value() -> None:
    frame = pd.DataFrame({"when": ["2024-01-01 00:00", "2024-01-01 01:00", "01/02/2024 02:00"],
                          "v": [1.0, 2.0, 3.0]})
    with pytest.raises(DataError, match=r"^frame column 'when': cannot parse timestamps: "
                                        r"'01/02/2024 02:00' at row 2 does not match"):
        Dataset.from_frame(frame)


def test_from_frame_without_a_time_column_names_the_frame_and_the_index() -> None:
    words = pd.DataFrame({"v": [1.0, 2.0]}, index=pd.Index(["a", "b"], dtype=object))
    with pytest.raises(DataError, match=r"^frame: no time column found \(looked for a column "
                                        r"named one of \('timestamp', "):
        Dataset.from_frame(words)
    flags = pd.DataFrame({"v": [1.0, 2.0]}, index=pd.Index([True, False]))
    with pytest.raises(DataError, match=r"^dataset 's': index of dtype bool is neither "
                                        r"timestamps nor integer positions, and no time column "
                                        r"was found among \['v'\]; pass time_column= or index "
                                        r"the frame by time$"):
        Dataset.from_frame(flags, name="s")


def test_from_frame_time_format_columns_duplicates_and_name() -> None:
    frame = pd.DataFrame({"t": ["01/02/2024", "01/02/2024", "02/02/2024"],
                          "a": [1.0, 3.0, 5.0], "b": [0.0, 0.0, 0.0]})
    ds = Dataset.from_frame(frame, time_column="t", time_format="%d/%m/%Y", columns=["a"],
                            duplicates="mean", name="pump")
    assert ds.name == "pump" and ds.columns == ["a"]
    assert list(ds.index) == [pd.Timestamp("2024-02-01"), pd.Timestamp("2024-02-02")]
    assert list(ds.values[:, 0]) == [2.0, 5.0]
    swapped = Dataset.from_frame(frame, time_column="t", time_format="%d/%m/%Y",
                                 columns=["b", "a"], duplicates="last")
    assert swapped.columns == ["b", "a"] and list(swapped.values[:, 1]) == [3.0, 5.0]
    with pytest.raises(DataError, match=r"^frame: columns \['c', 'd'\] not found$"):
        Dataset.from_frame(frame, time_column="t", time_format="%d/%m/%Y",
                           columns=["a", "c", "d"])


# ---------------------------------------------------------------------- the index
def test_bad_index_messages_name_the_dtype_and_what_it_holds() -> None:
    floats = pd.DataFrame({"v": [1.0, 2.0]}, index=pd.Index([0.5, 1.5], dtype=object))
    with pytest.raises(DataError, match=r"^dataset: index of dtype object holding floating "
                                        r"values is neither timestamps nor integer positions$"):
        Dataset(floats)
    with pytest.raises(DataError, match=r"^dataset: index of dtype float64 is neither "
                                        r"timestamps nor integer positions$"):
        Dataset(pd.DataFrame({"v": [1.0, 2.0]}, index=pd.Index([0.5, 1.5])))


# ---------------------------------------------------------------------- day/month order
def _eu(path: Path, stamps: list[str]) -> Path:
    path.write_text("timestamp,v\n" + "".join(f"{s},{i}\n" for i, s in enumerate(stamps)))
    return path


def _read_error(path: Path, **kwargs: object) -> str:
    with pytest.raises(DataError) as info:
        Dataset.from_csv(path, **kwargs)  # type: ignore[arg-type]
    return str(info.value)


def test_day_first_message_quotes_the_first_date_that_reads_two_ways(tmp_path: Path) -> None:
    # 1 to 13 January: 01/01 reads the same both ways, 02/01 is the first ambiguous date,
    # 13/01 the first that cannot be read month first
    days = pd.date_range("2024-01-01", periods=13, freq="D").strftime("%d/%m/%Y")
    text = _read_error(_eu(tmp_path / "a.csv", list(days)))
    assert ("the dates look day first ('13/01/2024' cannot be read month first), so dates such "
            "as '02/01/2024' are ambiguous; pass dayfirst=True (--dayfirst) or time_format= "
            "(--time-format), e.g. time_format='%d/%m/%Y'") in text, text
    # 13 January to 2 February: the first value fails month first, 01/02 is the first
    # ambiguous one
    later = pd.date_range("2024-01-13", periods=21, freq="D").strftime("%d/%m/%Y")
    text = _read_error(_eu(tmp_path / "b.csv", list(later)))
    assert "('13/01/2024' cannot be read month first), so dates such as '01/02/2024'" in text
    # no date reads two ways: the example is the first value
    text = _read_error(_eu(tmp_path / "c.csv", ["14/01/2024", "15/01/2024", "16/01/2024"]))
    assert "('14/01/2024' cannot be read month first), so dates such as '14/01/2024'" in text


def test_neither_reading_names_a_value_each_format_fails_on(tmp_path: Path) -> None:
    text = _read_error(_eu(tmp_path / "a.csv", ["13/01/2024", "01/13/2024"]))
    assert ("cannot parse timestamps with one format: '13/01/2024' does not match '%m/%d/%Y' "
            "and '01/13/2024' does not match '%d/%m/%Y' (inferred from '13/01/2024'); pass "
            "time_format= (--time-format) with the format of every value") in text, text
    text = _read_error(_eu(tmp_path / "b.csv", ["01/02/2024", "nope"]))
    assert ("'nope' matches neither '%m/%d/%Y' nor '%d/%m/%Y' (inferred from '01/02/2024')"
            in text), text


def test_offsets_that_change_are_read_as_instants_in_the_first_offset(tmp_path: Path) -> None:
    # local times written with their offset across the change to summer time: the same
    # instants, shown in the first row's offset as anomark stream shows them (these files were
    # refused: "timestamps mix time zones or offsets")
    stamps = ["2024-03-31T01:00:00+01:00", "2024-03-31T01:30:00+01:00",
              "2024-03-31T03:00:00+02:00", "2024-03-31T03:30:00+02:00"]
    ds = Dataset.from_csv(_eu(tmp_path / "iso.csv", stamps))
    assert str(ds.index.tz) == "UTC+01:00"  # type: ignore[attr-defined]
    assert list(ds.index) == [pd.Timestamp(t) for t in stamps]  # the same instants
    assert [t.isoformat() for t in ds.index][2:] == ["2024-03-31T02:00:00+01:00",
                                                      "2024-03-31T02:30:00+01:00"]
    # day/month dates too, the order settled by the data (13/03 is day first) or by dayfirst
    eu = ["01/02/2024 00:00 +0100", "01/04/2024 00:00 +0200", "13/04/2024 00:00 +0200"]
    text = _read_error(_eu(tmp_path / "a.csv", eu))
    assert "the dates look day first ('13/04/2024 00:00 +0200' cannot be read month first)" in text
    with pytest.warns(IrregularSamplingWarning):
        ds = Dataset.from_csv(_eu(tmp_path / "a.csv", eu), dayfirst=True)
    assert [t.isoformat() for t in ds.index] == [
        "2024-02-01T00:00:00+01:00", "2024-03-31T23:00:00+01:00", "2024-04-12T23:00:00+01:00"]
    # found as the time column by its content, not its name
    (tmp_path / "when.csv").write_text("v,when\n1,2024-03-31T01:30:00+01:00\n"
                                       "2,2024-03-31T03:00:00+02:00\n")
    assert Dataset.from_csv(tmp_path / "when.csv").index[-1] == pd.Timestamp(
        "2024-03-31T03:00:00+02:00")
    # datetimes in different zones: in the first one's zone
    zoned = pd.Index([pd.Timestamp("2024-03-31 01:30", tz="Europe/Paris"),
                      pd.Timestamp("2024-03-31 03:00", tz="UTC")], dtype=object)
    frame = Dataset(pd.DataFrame({"v": [1.0, 2.0]}, index=zoned)).frame
    assert str(frame.index.tz) == "Europe/Paris" and frame.index[1].hour == 5


def test_timestamps_with_and_without_an_offset_are_refused_naming_one_of_each(
    tmp_path: Path,
) -> None:
    text = _read_error(_eu(tmp_path / "a.csv", ["2024-03-31T01:30:00+01:00", "2024-03-31T02:00:00",
                                                "2024-03-31T03:00:00+02:00"]))
    assert text.endswith("column 'timestamp': some timestamps have a UTC offset and some do not "
                         "('2024-03-31T01:30:00+01:00' has one, '2024-03-31T02:00:00' none): "
                         "they cannot be put on one time line; give every value its offset, "
                         "or none"), text
    text = _read_error(_eu(tmp_path / "b.csv", ["2024-03-31", "2024-03-31T01:30:00+01:00",
                                                "2024-03-31T03:00:00+02:00"]))
    assert "('2024-03-31T01:30:00+01:00' has one, '2024-03-31' none)" in text, text
    mixed = pd.Index([pd.Timestamp("2024-03-31 01:30", tz="Europe/Paris"),
                      pd.Timestamp("2024-03-31 03:00")], dtype=object)
    with pytest.raises(DataError, match=r"^dataset index: some timestamps have a UTC offset "
                                        r"and some do not \('2024-03-31 01:30:00\+01:00' has "
                                        r"one, '2024-03-31 03:00:00' none\)"):
        Dataset(pd.DataFrame({"v": [1.0, 2.0]}, index=mixed))
    # a value that is no date among offsets is named as such (not as one without an offset)
    text = _read_error(_eu(tmp_path / "c.csv", ["2024-03-31T01:30:00+01:00",
                                                "2024-03-31T03:00:00+02:00", "soon"]))
    assert "'soon' at row 2 does not match the column's format 'ISO8601'" in text, text


def test_backward_steps_decide_and_are_counted_in_the_message(tmp_path: Path) -> None:
    # month first: 1 Feb, 1 Feb, 2 Jan (one step back, one repeat); day first: 2 Jan, 2 Jan,
    # 1 Feb (in order)
    text = _read_error(_eu(tmp_path / "a.csv", ["02/01/2024", "02/01/2024", "01/02/2024"]),
                       duplicates="first")
    assert ("('%m/%d/%Y' or '%d/%m/%Y'): read month first the times step backwards 1 time(s), "
            "day first 0;") in text, text
    assert "dates such as '02/01/2024'" in text
    # two rows are enough evidence
    text = _read_error(_eu(tmp_path / "b.csv", ["02/01/2024", "01/02/2024"]))
    assert "step backwards 1 time(s), day first 0" in text, text
    # and fewer backward steps month first reads month first
    with pytest.warns(IrregularSamplingWarning):
        ds = Dataset.from_csv(_eu(tmp_path / "c.csv", ["01/02/2024", "02/01/2024",
                                                        "02/02/2024"]))
    assert list(ds.index.strftime("%Y-%m-%d")) == [  # type: ignore[attr-defined]
        "2024-01-02", "2024-02-01", "2024-02-02"]


def test_dayfirst_never_swaps_a_year_first_date(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("timestamp,v\n2024/01/02 00:00,1\n2024/01/03 00:00,2\n2024/01/04 00:00,3\n")
    expected = list(pd.date_range("2024-01-02", periods=3, freq="D"))
    for dayfirst in (None, True, False):
        assert list(Dataset.from_csv(path, dayfirst=dayfirst).index) == expected
    dotted = tmp_path / "b.csv"
    dotted.write_text("timestamp,v\n2024.01.02,1\n2024.01.03,2\n")
    assert list(Dataset.from_csv(dotted, dayfirst=True).index) == expected[:2]


def test_month_and_day_words_and_two_digit_years(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("timestamp,v\n02-Jan-2024 10:00,1\n03-Jan-2024 10:00,2\n")
    assert list(Dataset.from_csv(path).index) == [pd.Timestamp("2024-01-02 10:00"),
                                                   pd.Timestamp("2024-01-03 10:00")]
    iso_like = tmp_path / "b.csv"
    iso_like.write_text("timestamp,v\n2024-01-02,1\n2024-01-03,2\n")
    assert list(Dataset.from_csv(iso_like, dayfirst=True).index) == [
        pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-03")]


# ---------------------------------------------------------------------- one CSV file
def _text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_read_csv_file_messages_name_the_file(tmp_path: Path) -> None:
    empty = _text(tmp_path / "zero.csv", "")
    with pytest.raises(DataError, match=rf"^CSV file {re.escape(str(empty))} is empty "
                                        r"\(0 bytes\)$"):
        readers.read_csv_file(str(empty))
    blank = _text(tmp_path / "blank.csv", "\n")  # 1 byte
    with pytest.raises(DataError, match=r"^CSV file blank is empty$"):
        readers.read_csv_file(str(blank), label="blank")
    header = _text(tmp_path / "header.csv", "timestamp,v\n")
    with pytest.raises(DataError, match=r"^CSV file h.csv has a header but no rows$"):
        readers.read_csv_file(str(header), label="h.csv")
    quote = _text(tmp_path / "quote.csv", 'timestamp,v\n"2024-01-01,1\n')
    with pytest.raises(DataError, match=r"^CSV file q.csv is malformed: "):
        readers.read_csv_file(str(quote), label="q.csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("timestamp,caf\xe9\n2024-01-01,1\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"^CSV file l.csv is not valid text \(invalid "
                                        r"continuation byte\)$"):
        readers.read_csv_file(str(latin), label="l.csv")
    plain = _text(tmp_path / "plain.csv", "a,b\n2024-01-01,1\n")
    with pytest.raises(DataError, match=r"^CSV file p.csv: time column 'when' not found among "
                                        r"\['a', 'b'\]$"):
        readers.read_csv_file(str(plain), "when", label="p.csv")


def test_read_csv_file_options_override_the_defaults(tmp_path: Path) -> None:
    latin = tmp_path / "latin.csv"
    latin.write_bytes("timestamp;caf\xe9\n2024-01-01;1,5\n2024-01-02;2,5\n".encode("latin-1"))
    ds = Dataset.from_csv(latin, encoding="latin-1", sep=";", decimal=",")
    assert ds.columns == ["caf\xe9"] and list(ds.values[:, 0]) == [1.5, 2.5]
    frame = readers.read_csv_file(str(latin), None, {"encoding": "latin-1", "sep": ";"})
    assert frame.attrs["source"] == str(latin) and list(frame.columns) == ["caf\xe9"]


def test_read_csv_file_strips_column_names_and_keeps_file_order(tmp_path: Path) -> None:
    path = _text(tmp_path / "a.csv", " Time , value \n2024-01-02,2\n2024-01-01,1\n")
    frame = readers.read_csv_file(path, label="a")
    assert list(frame.columns) == ["value"] and frame.index.name == "Time"
    assert list(frame["value"]) == [2, 1] and frame.attrs["source"] == "a"
    assert list(frame.index) == [pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-01")]


# ---------------------------------------------------------------------- several files
def _hours(path: Path, start: str, n: int, **columns: float) -> Path:
    index = pd.date_range(start, periods=n, freq="h", name="timestamp")
    pd.DataFrame({c: base + np.arange(n, dtype=float) for c, base in columns.items()},
                 index=index).to_csv(path)
    return path


def test_read_csv_files_names_the_files_it_read(tmp_path: Path) -> None:
    a = _hours(tmp_path / "a.csv", "2024-01-01", 3, x=0.0, y=5.0)
    b = _hours(tmp_path / "b.csv", "2024-01-02", 3, x=10.0)
    with pytest.raises(DataError, match=rf"^columns \['y'\] not found in {re.escape(str(b))} "
                                        r"\(reading 2 files\)$"):
        readers.read_csv_files([str(a), str(b)], columns=["x", "y"])
    with pytest.raises(DataError, match=rf"^columns \['q'\] not found in {re.escape(str(a))} "
                                        rf"\(reading {re.escape(str(a))}\)$"):
        readers.read_csv_files([str(a)], columns=["q"])
    a = _hours(tmp_path / "a.csv", "2024-01-01", 3, x=0.0)
    with pytest.warns(IrregularSamplingWarning, match=r"^2 files: irregular sampling"):
        readers.read_csv_files([str(a), str(b)])
    with pytest.warns(IrregularSamplingWarning, match=r"^pumps: irregular sampling"):
        readers.read_csv_files([str(a), str(b)], where="pumps")


def test_different_columns_message_names_both_files(tmp_path: Path) -> None:
    a = _hours(tmp_path / "a.csv", "2024-01-01", 3, x=0.0, y=0.0)
    b = _hours(tmp_path / "b.csv", "2024-01-02", 3, x=0.0, z=0.0)
    with pytest.raises(DataError) as info:
        Dataset.from_csv([a, b])
    assert str(info.value) == (
        f"files have different columns: {b} lacks column(s) ['y'] and has extra column(s) "
        f"['z'] compared with {a} (columns ['x', 'y']); pass columns= (--columns) to read only "
        "the common ones")


def test_files_are_joined_in_time_keeping_file_order_for_equal_times(tmp_path: Path) -> None:
    a = _hours(tmp_path / "a.csv", "2024-01-01 02:00", 3, v=0.0)   # 02:00 .. 04:00
    b = _hours(tmp_path / "b.csv", "2024-01-01 00:00", 3, v=10.0)  # 00:00 .. 02:00
    first = Dataset.from_csv([a, b], duplicates="first")
    assert list(first.values[:, 0]) == [10.0, 11.0, 0.0, 1.0, 2.0]  # 02:00 from a (listed 1st)
    flipped = Dataset.from_csv([b, a], duplicates="first")
    assert list(flipped.values[:, 0]) == [10.0, 11.0, 12.0, 1.0, 2.0]
    last = Dataset.from_csv([a, b], duplicates="last")
    assert list(last.values[:, 0]) == [10.0, 11.0, 12.0, 1.0, 2.0]


def test_columns_select_and_order_in_one_file_and_several(tmp_path: Path) -> None:
    a = _hours(tmp_path / "a.csv", "2024-01-01", 2, x=0.0, y=10.0, z=20.0)
    b = _hours(tmp_path / "b.csv", "2024-01-01 02:00", 2, z=30.0, y=40.0)
    one = readers.read_csv_files([str(a)], columns=["z", "x"])
    assert list(one.columns) == ["z", "x"] and list(one["z"]) == [20.0, 21.0]
    both = Dataset.from_csv([a, b], columns=["z", "y"])
    assert both.columns == ["z", "y"]
    np.testing.assert_array_equal(both.values, [[20, 10], [21, 11], [30, 40], [31, 41]])


def test_read_csv_files_passes_its_options_to_every_file(tmp_path: Path) -> None:
    a = _text(tmp_path / "a.csv", "v;stamp\n1;02/01/2024\n2;03/01/2024\n")
    b = _text(tmp_path / "b.csv", "v;stamp\n3;04/01/2024\n4;05/01/2024\n")
    days = list(pd.date_range("2024-01-02", periods=4, freq="D"))
    for kwargs in ({"dayfirst": True}, {"time_format": "%d/%m/%Y"}):
        frame = readers.read_csv_files([str(a), str(b)], "stamp", read_csv_kwargs={"sep": ";"},
                                       **kwargs)  # type: ignore[arg-type]
        assert list(frame.index) == days and list(frame["v"]) == [1, 2, 3, 4]
    ds = Dataset.from_csv([a, b], "stamp", sep=";", dayfirst=True)
    assert list(ds.index) == days


@pytest.fixture
def own_tqdm_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    """A per-process lock for tqdm and no monitor thread: tqdm's default lock is a
    multiprocessing lock shared by every process forked after its first bar, so a test
    process killed while holding it (mutation testing forks and kills them) blocks each later
    bar forever."""
    import threading

    from tqdm import tqdm

    monkeypatch.setattr(tqdm, "_lock", threading.RLock(), raising=False)
    monkeypatch.setattr(tqdm, "monitor_interval", 0)


@pytest.mark.usefixtures("own_tqdm_lock")
def test_progress_bar_reading_several_files(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    a = _hours(tmp_path / "a.csv", "2024-01-01", 3, v=0.0)
    b = _hours(tmp_path / "b.csv", "2024-01-01 03:00", 3, v=3.0)
    frame = readers.read_csv_files([str(a), str(b)], progress=True, where="two")
    assert list(frame["v"]) == [0, 1, 2, 3, 4, 5]
    err = capsys.readouterr().err
    assert "reading two:" in err and "0/2" in err and "file/s" in err, err
    readers.read_csv_files([str(a)], progress=True)
    readers.read_csv_files([str(a), str(b)])
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------------- paths
def test_expand_paths_refuses_other_types_and_nothing(tmp_path: Path) -> None:
    with pytest.raises(DataTypeError, match=r"^expected a path, glob pattern or list of paths, "
                                            r"got int$"):
        readers.expand_paths(3)  # type: ignore[arg-type]
    with pytest.raises(DataTypeError, match=r"got bytes$"):
        readers.expand_paths(b"a.csv")  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"^no CSV files given$"):
        readers.expand_paths([])
    with pytest.raises(MissingFileError, match=rf"^CSV file not found: "
                                               rf"{re.escape(str(tmp_path / 'no.csv'))}$"):
        readers.expand_paths(tmp_path / "no.csv")
    folder = re.escape(str(tmp_path))
    with pytest.raises(DataError, match=rf"^no \*\.csv files in folder {folder}$"):
        readers.expand_paths(tmp_path)
    with pytest.raises(DataError, match=r"^no files match '.*nothing-\*\.csv'$"):
        readers.expand_paths(str(tmp_path / "nothing-*.csv"))


def test_expand_paths_globs_folders_and_lists(tmp_path: Path) -> None:
    for name in ("b.csv", "a.csv", "c.txt"):
        _text(tmp_path / name, "x")
    (tmp_path / "d.csv").mkdir()  # a folder whose name matches
    literal = _text(tmp_path / "e[1].csv", "x")  # glob characters, but the file exists
    (tmp_path / "sub").mkdir()
    _text(tmp_path / "sub" / "z.csv", "x")
    names = [Path(p).name for p in readers.expand_paths(str(tmp_path / "*.csv"))]
    assert names == ["a.csv", "b.csv", "e[1].csv"]
    assert readers.expand_paths(literal) == [str(literal)]
    folder = [Path(p).name for p in readers.expand_paths(tmp_path / "sub")]
    assert folder == ["z.csv"]
    listed = readers.expand_paths([tmp_path / "b.csv", str(tmp_path / "sub"),
                                   str(tmp_path / "a.*")])
    assert [Path(p).name for p in listed] == ["b.csv", "z.csv", "a.csv"]


# ---------------------------------------------------------------------- irregular sampling
def _hourly_with_last_step(n_steps: int, odd_steps: int) -> pd.DatetimeIndex:
    """``n_steps`` steps, the last ``odd_steps`` of them 2 hours instead of 1."""
    steps = [1] * (n_steps - odd_steps) + [2] * odd_steps
    hours = np.concatenate([[0], np.cumsum(steps)])
    return pd.DatetimeIndex(pd.Timestamp("2024-01-01") + pd.to_timedelta(hours, unit="h"))


def test_irregular_sampling_warns_above_one_percent_only() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        readers.check_sampling(_hourly_with_last_step(100, 1), "x")  # exactly 1 %: quiet
        readers.check_sampling(_hourly_with_last_step(2, 1)[:2], "x")  # 2 rows
        readers.check_sampling(pd.Index([0, 5, 6, 30]), "x")  # positions
        # repeated timestamps are not steps: 3 distinct times evenly spaced
        readers.check_sampling(_minutes(0, 0, 1, 1, 2), "x")
        readers.check_sampling(_minutes(0, 0, 1, 1), "x")  # 2 distinct times
    with pytest.warns(IrregularSamplingWarning) as record:
        readers.check_sampling(_hourly_with_last_step(100, 2), "pump")
    assert str(record[0].message) == (
        "pump: irregular sampling: 2% of the 100 steps differ from the usual 1h (from 1h to 2h); "
        "windows count rows, not time: consider resampling first (Dataset.resample, "
        "--resample)")
    with pytest.warns(IrregularSamplingWarning, match=r"^x: irregular sampling: 33% of the 3 "
                                                       r"steps differ from the usual 30min "
                                                       r"\(from 30min to 1h\)"):
        readers.check_sampling(_minutes(0, 30, 60, 120), "x")
    with pytest.warns(IrregularSamplingWarning, match=r"50% of the 2 steps differ from the usual "
                                                       r"1min \(from 1min to 48h\)"):
        readers.check_sampling(_minutes(0, 1, 2881), "x")


# ---------------------------------------------------------------------- S3 (moto on loopback)
def _bucket(name: str) -> object:
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=name)
    return s3


def test_read_s3_keys_suffix_order_and_options(aws_env: str) -> None:
    s3: object = _bucket("edges")
    put = s3.put_object  # type: ignore[attr-defined]
    put(Bucket="edges", Key="d/b.csv", Body=b"v;when\n2;02/01/2024\n3;03/01/2024\n")
    put(Bucket="edges", Key="d/a.csv", Body=b"v;when\n1;01/01/2024\n9;02/01/2024\n")
    put(Bucket="edges", Key="d/sub/", Body=b"")  # a folder marker, whatever the suffix
    put(Bucket="edges", Key="d/notes.txt", Body=b"v;when\n5;04/01/2024\n")
    ds = Dataset.from_s3("s3://edges/d/", time_column="when", time_format="%d/%m/%Y",
                         duplicates="first", sep=";")
    # keys in order (a.csv, then b.csv): the repeated 2 January keeps a.csv's row
    assert list(ds.values[:, 0]) == [1.0, 9.0, 3.0] and ds.name == "s3://edges/d/"
    assert list(ds.index) == list(pd.date_range("2024-01-01", periods=3, freq="D"))
    every = Dataset.from_s3("s3://edges/d/", suffix="", time_column="when", dayfirst=True,
                            duplicates="last", sep=";")
    assert list(every.values[:, 0]) == [1.0, 2.0, 3.0, 5.0]
    direct = readers.read_s3("s3://edges/d/", time_column="when", dayfirst=True,
                             read_csv_kwargs={"sep": ";"})  # .csv objects only by default
    assert list(direct["v"]) == [1, 9, 2, 3]
    with pytest.raises(DataError, match=r"^no objects ending with '.parquet' under "
                                        r"s3://edges/d/$"):
        Dataset.from_s3("s3://edges/d/", suffix=".parquet")


def test_read_s3_columns_and_messages_naming_the_object(aws_env: str) -> None:
    s3: object = _bucket("cols")
    put = s3.put_object  # type: ignore[attr-defined]
    put(Bucket="cols", Key="p/a.csv", Body=b"timestamp,x,y\n2024-01-01 00:00,1,2\n")
    put(Bucket="cols", Key="p/b.csv", Body=b"timestamp,x\n2024-01-01 01:00,3\n")
    ds = Dataset.from_s3("s3://cols/p/", columns=["x"])
    assert ds.columns == ["x"] and list(ds.values[:, 0]) == [1.0, 3.0]
    with pytest.raises(DataError, match=r"^columns \['y'\] not found in s3://cols/p/b.csv "
                                        r"\(reading s3://cols/p/\)$"):
        Dataset.from_s3("s3://cols/p/", columns=["x", "y"])
    # two date columns: the first one is found on its own, time_column picks the other
    put(Bucket="cols", Key="t/a.csv",
        Body=b"timestamp,logged,x\n2024-01-01 00:00,2024-02-01 00:00,1\n")
    found = Dataset.from_s3("s3://cols/t/", columns=["x"])
    assert found.index[0] == pd.Timestamp("2024-01-01")
    logged = Dataset.from_s3("s3://cols/t/", time_column="logged", columns=["x"])
    assert logged.index[0] == pd.Timestamp("2024-02-01") and logged.index.name == "logged"
    put(Bucket="cols", Key="q/bad.csv", Body=b"timestamp,x\n")
    with pytest.raises(DataError, match=r"^CSV file s3://cols/q/bad.csv has a header but no "
                                        r"rows$"):
        Dataset.from_s3("s3://cols/q/")
    with pytest.raises(DataError, match=r"^cannot read s3://nothing-here/x/: NoSuchBucket "):
        Dataset.from_s3("s3://nothing-here/x/")


def test_read_s3_uses_the_session_and_endpoint_given(aws_env: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    s3: object = _bucket("sess")
    s3.put_object(Bucket="sess", Key="a.csv",  # type: ignore[attr-defined]
                  Body=b"timestamp,v\n2024-01-01,1\n2024-01-02,2\n")
    session = boto3.Session(aws_access_key_id="k", aws_secret_access_key="s",
                            region_name="us-east-1")
    # without the environment's credentials and endpoint, only what is passed works
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(DataError, match=r"^cannot read s3://sess/: "):
        Dataset.from_s3("s3://sess/", session=session)
    ds = Dataset.from_s3("s3://sess/", session=session, endpoint_url=aws_env)
    assert list(ds.values[:, 0]) == [1.0, 2.0]
    with pytest.raises(DataError, match=r"^cannot read s3://sess/: "):
        Dataset.from_s3("s3://sess/", endpoint_url=aws_env)  # no credentials


def test_read_s3_warns_naming_the_prefix(aws_env: str) -> None:
    s3: object = _bucket("gaps")
    s3.put_object(Bucket="gaps", Key="g/a.csv",  # type: ignore[attr-defined]
                  Body=b"timestamp,v\n2024-01-01 00:00,1\n2024-01-01 00:01,2\n"
                       b"2024-01-01 00:05,3\n")
    with pytest.warns(IrregularSamplingWarning, match=r"^s3://gaps/g/: irregular sampling"):
        Dataset.from_s3("s3://gaps/g/")


# ---------------------------------------------------------------------- parse_times
def test_parse_times_passes_time_indexes_through_and_refuses_numbers() -> None:
    index = pd.date_range("2024-01-01", periods=2, freq="h", tz="Europe/Paris")
    assert readers.parse_times(index, "x") is index
    series = pd.Series(index)
    assert readers.parse_times(series, "x").equals(pd.DatetimeIndex(index))
    with pytest.raises(DataTypeError, match=r"^time_format must be a string, got int$"):
        readers.parse_times(["2024-01-01"], "x", time_format=5)  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"^col: holds floating values, not timestamps; numbers "
                                        r"are not read as epoch times because their unit is "
                                        r"ambiguous: convert them first, e\.g\. "
                                        r"pd\.to_datetime\(values, unit=\"s\"\) for epoch "
                                        r"seconds$"):
        readers.parse_times([1.5e9, 1.6e9], "col")
    with pytest.raises(DataError, match=r"holds boolean values"):
        readers.parse_times([True, False], "col")


def test_parse_times_missing_values_and_the_formats_in_messages() -> None:
    with pytest.raises(DataError, match=r"^c: unparseable or missing timestamp at row 1$"):
        readers.parse_times(["2024-01-01", None, "2024-01-03"], "c")
    with pytest.raises(DataError, match=r"^c: cannot parse timestamps: 'x' at row 1 does not "
                                        r"match the column's format '%d/%m/%Y'; pass "
                                        r"time_format= \(--time-format\) with the format of "
                                        r"every value$"):
        readers.parse_times(["01/02/2024", "x"], "c", time_format="%d/%m/%Y")
    with pytest.raises(DataError, match=r"^c: cannot parse timestamps: 'x' at row 1 does not "
                                        r"match the column's format 'ISO8601' \(inferred from "
                                        r"'2024-01-01'\); pass"):
        readers.parse_times([" 2024-01-01 ", "x"], "c")


def test_parse_times_strips_spaces_reads_categories_and_datetime_objects() -> None:
    days = [pd.Timestamp("2024-02-01"), pd.Timestamp("2024-02-02")]
    assert list(readers.parse_times([" 01/02/2024", "02/02/2024 "], "c", dayfirst=True)) == days
    assert list(readers.parse_times(["01/02/2024 ", " 02/02/2024"], "c",
                                    time_format="%d/%m/%Y")) == days
    categories = pd.Categorical(["2024-02-02", "2024-02-01", "2024-02-02"])
    assert list(readers.parse_times(categories, "c")) == [days[1], days[0], days[1]]
    objects = pd.Index([pd.Timestamp("2024-02-01").to_pydatetime(), "2024-02-02"], dtype=object)
    assert list(readers.parse_times(objects, "c")) == days


def test_values_without_one_format_are_read_one_by_one_unless_day_month_is_ambiguous() -> None:
    # no single format is guessed from the first value: each is read on its own ("mixed")
    mixed = ["February 1, 2024 12am", "2024-02-02 00:00"]
    assert readers.infer_time_format(mixed, "c") == "mixed"
    assert list(readers.parse_times(mixed, "c")) == [pd.Timestamp("2024-02-01"),
                                                     pd.Timestamp("2024-02-02")]
    # ... but not when one of them reads differently day first
    odd = ["February 1, 2024 12am", "03/02/2024"]
    with pytest.raises(DataError, match=r"^c: day and month are ambiguous in dates such as "
                                        r"'February 1, 2024 12am' and no single format fits "
                                        r"them; pass dayfirst=True \(--dayfirst\) or "
                                        r"time_format= \(--time-format\)$"):
        readers.parse_times(odd, "c")
    assert list(readers.parse_times(odd, "c", dayfirst=True))[1] == pd.Timestamp("2024-02-03")
    assert list(readers.parse_times(odd, "c", dayfirst=False))[1] == pd.Timestamp("2024-03-02")
    # a day and month that are equal read the same either way
    same = ["February 1, 2024 12am", "03/03/2024"]
    assert list(readers.parse_times(same, "c"))[1] == pd.Timestamp("2024-03-03")
    for values in (["February 1, 2024 12am", "zzz"],
                   ["February 1, 2024 12am", "03/02/2024", "zzz"]):
        with pytest.raises(DataError, match=rf"^c: cannot parse timestamps: 'zzz' at row "
                                            rf"{len(values) - 1} is not a date; pass "
                                            r"time_format="):
            readers.parse_times(values, "c")


def test_infer_time_format_on_nothing_and_on_day_month_with_no_evidence() -> None:
    with pytest.raises(DataError, match=r"^c: no timestamps to parse$"):
        readers.infer_time_format([], "c")
    assert readers.infer_time_format(["03/03/2024", "04/04/2024"], "c") == "%m/%d/%Y"
    assert readers.infer_time_format(["01/13/2024"], "c") == "%m/%d/%Y"
    assert readers.infer_time_format(["01/02/2024"], "c", dayfirst=False) == "%m/%d/%Y"
    assert readers.infer_time_format(["13/01/2024"], "c", dayfirst=False) == "%m/%d/%Y"


# ---------------------------------------------------------------------- the index as positions
def test_integer_positions_at_the_int64_bounds() -> None:
    lo, hi = -(2**63), 2**63 - 1
    ds = Dataset(_frame([1.0, 2.0], pd.Index([lo, hi], dtype=object)))
    assert list(ds.index) == [lo, hi] and ds.index.dtype == np.int64
    with pytest.raises(DataError, match=rf"^dataset: integer index value {hi + 1} is outside "
                                        rf"the int64 range of positions \[{lo}, {hi}\]$"):
        Dataset(_frame([1.0, 2.0], pd.Index([0, hi + 1], dtype=object)))
    with pytest.raises(DataError, match=rf"^dataset: integer index value {lo - 1} is outside"):
        Dataset(_frame([1.0, 2.0], pd.Index([lo - 1, 0], dtype=object)))
    small = Dataset(_frame([1.0, 2.0], pd.Index(np.array([4, 7], dtype=np.int32))))
    assert small.index.dtype == np.int64 and list(small.index) == [4, 7]
    ranged = Dataset(_frame([1.0, 2.0], pd.RangeIndex(2)))
    assert ranged.index.dtype == np.int64 and not ranged.is_time_indexed


def test_categorical_positions_with_a_gap_and_a_multiindex_are_refused() -> None:
    index = pd.CategoricalIndex([3, None, 5])  # type: ignore[type-var]
    with pytest.raises(DataError, match=r"^dataset: the integer index has missing values "
                                        r"\(first at row 1\); positions must all be present$"):
        Dataset(_frame([1.0, 2.0, 3.0], index))
    multi = pd.MultiIndex.from_tuples([(1, 2), (3, 4)])
    with pytest.raises(DataError, match=r"^dataset: a MultiIndex is not supported; use a time "
                                        r"index$"):
        Dataset(_frame([1.0, 2.0], multi))
    mixed = pd.Index([1, 2.5], dtype=object)
    with pytest.raises(DataError, match=r"^dataset: index of dtype object holding "
                                        r"mixed-integer-float values is neither"):
        Dataset(_frame([1.0, 2.0], mixed))
    with pytest.raises(DataError, match=r"^dataset 'd' index: cannot parse timestamps: 'b' at "
                                        r"row 1 does not match"):
        Dataset(_frame([1.0, 2.0], pd.Index(["2024-01-01", "b"], dtype=object)), name="d")


# ---------------------------------------------------------------------- the time column
def test_time_column_by_name_any_case_and_spacing_then_by_content() -> None:
    frame = pd.DataFrame({"value": [1.0, 2.0], " Date ": ["2024-01-01", "2024-01-02"],
                          "timestamp": ["2025-01-01", "2025-01-02"]})
    assert readers.find_time_column(frame, "f") == " Date "  # the first named like a time
    content = pd.DataFrame({"v": [1.0, 2.0], "a": ["x", "y"],
                            "b": pd.to_datetime(["2024-01-01", "2024-01-02"]),
                            "c": ["2025-01-01", "2025-01-02"]})
    assert readers.find_time_column(content, "f") == "b"
    with pytest.raises(DataError) as info:
        readers.find_time_column(content[["v", "a"]], "f")
    assert str(info.value) == (
        "f: no time column found (looked for a column named one of ('timestamp', 'time', "
        "'datetime', 'date', 'ts', 'date_time', 'time_stamp') or holding dates, among "
        "['v', 'a']); pass time_column=")


# ---------------------------------------------------------------------- validation
def test_validation_messages() -> None:
    idx = _minutes(0, 1)
    with pytest.raises(DataError, match=r"^duplicates must be 'raise', 'mean', 'first' or "
                                        r"'last', got 'sum'$"):
        Dataset(_frame([1.0, 2.0], idx), duplicates="sum")  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"^dataset 'e' has no value columns: 0 feature\(s\) "
                                        r"\(shape=\(2, 0\)\) while a minimum of 1 is "
                                        r"required\.$"):
        Dataset(pd.DataFrame(index=idx), name="e")
    with pytest.raises(DataError, match=r"^dataset 'e' is empty \(0 rows\)$"):
        Dataset(pd.DataFrame({"v": []}), name="e")
    repeated = pd.DataFrame([[1.0, 2.0, 3.0, 4.0]], columns=["b", 1, "b", 1])
    with pytest.raises(DataError, match=r"^dataset has duplicate column names: \['1', 'b'\]$"):
        Dataset(repeated)
    with pytest.raises(DataError, match=r"^dataset: column 'c' is not numeric \(dtype "
                                        r"category\) \(e\.g\. 'on'\); drop it or convert it to "
                                        r"numbers$"):
        Dataset(pd.DataFrame({"c": pd.Categorical(["on", "off"])}, index=idx))
    with pytest.raises(DataError, match=r"^dataset: column 'o' is not numeric \(dtype object\) "
                                        r"\(e\.g\. 'x' at 2024-01-01 00:01:00\); drop"):
        Dataset(pd.DataFrame({"o": pd.Series([None, "x"], dtype=object, index=idx)}, index=idx))
    with pytest.raises(DataError, match=r"^dataset: column 'o' is not numeric \(dtype object\); "
                                        r"drop it"):
        Dataset(pd.DataFrame({"o": pd.Series([None, None], dtype=object, index=idx)}, index=idx))
    with pytest.raises(DataError, match=r"^dataset: column 'z' holds complex numbers \(Complex "
                                        r"data not supported\)$"):
        Dataset(pd.DataFrame({"z": [1j, 2j]}, index=idx))



def test_numbers_held_as_objects_are_numbers_and_the_first_other_value_is_named() -> None:
    # numbers in an object column (mixed ints and floats, astype(object)) are taken, as
    # scikit-learn takes them; anything else is refused with the first value that is not a
    # number and its time (it used to show the column's first value, a number)
    idx = _minutes(0, 1, 2, 3)
    held = pd.Series([1, 2.5, None, np.float32(4.0)], dtype=object, index=idx)
    frame = Dataset(pd.DataFrame({"o": held, "flag": pd.Series([True, np.bool_(False), None,
                                                               1], dtype=object, index=idx)}))
    assert frame.frame["o"].tolist()[:2] == [1.0, 2.5] and np.isnan(frame.frame["o"].iloc[2])
    assert frame.frame["o"].iloc[3] == 4.0 and frame.frame["flag"].tolist()[:2] == [1.0, 0.0]
    for odd, shown in (("x", "'x'"), (np.timedelta64(5, "s"), "np.timedelta64(5,'s')"),
                       (1j, "1j"), (pd.Timestamp("2024-01-02"), "Timestamp('2024-01-02")):
        values = pd.Series([0.5, 1, odd, "later"], dtype=object, index=idx)
        with pytest.raises(DataError) as info:
            Dataset(pd.DataFrame({"o": values}))
        assert str(info.value).startswith(
            f"dataset: column 'o' is not numeric (dtype object) (e.g. {shown}"), str(info.value)
        assert " at 2024-01-01 00:02:00); drop it or convert it to numbers" in str(info.value)
    huge = pd.Series([1, 10**400, 2, 3], dtype=object, index=idx)
    with pytest.raises(DataError, match=r"^dataset: cannot convert values to float: int too "
                                        r"large"):
        Dataset(pd.DataFrame({"o": huge}))

def test_infinite_values_name_every_column_and_the_first_row() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, -np.inf], "b": [0.0, np.inf, 0.0], "c": [1.0, 1, 1]},
                         index=_minutes(0, 1, 2))
    with pytest.raises(DataError) as info:
        Dataset(frame)
    assert str(info.value) == (
        "dataset: infinite values in column(s) ['a', 'b'] (first at 2024-01-01 00:01:00); "
        "replace them (e.g. with NaN and then fillna) before building a Dataset")


def test_missing_timestamps_are_refused() -> None:
    index = pd.DatetimeIndex([pd.Timestamp("2024-01-01"), pd.NaT])
    with pytest.raises(DataError, match=r"^dataset: the time index has missing timestamps "
                                        r"\(NaT\)$"):
        Dataset(_frame([1.0, 2.0], index))


def test_columns_become_strings_and_the_time_index_is_named() -> None:
    frame = pd.DataFrame({0: [1.0, 2.0], 1: [True, False]}, index=_minutes(0, 1))
    ds = Dataset(frame)
    assert ds.columns == ["0", "1"] and ds.index.name == "timestamp"
    assert ds.values.tolist() == [[1.0, 1.0], [2.0, 0.0]]
    named = Dataset(_frame([1.0], pd.DatetimeIndex(["2024-01-01"], name="when")))
    assert named.index.name == "when"
    assert Dataset.from_array(np.arange(2.0)).index.name is None


def test_duplicates_count_first_and_combined_after_sorting() -> None:
    index = pd.DatetimeIndex(["2024-01-02", "2024-01-01", "2024-01-01", "2024-01-02",
                              "2024-01-03"])
    frame = _frame([1.0, 2.0, 3.0, 4.0, 5.0], index)
    with pytest.warns(UserWarning, match=r"^dataset: index is not in time order; rows were "
                                         r"sorted$"), pytest.raises(
            DataError, match=r"^dataset: 2 duplicate timestamp\(s\), first 2024-01-01 00:00:00; "):
        Dataset(frame)
    with pytest.warns(UserWarning, match="not in time order"):
        first = Dataset(frame, duplicates="first")  # the file order within a timestamp
    assert first.values[:, 0].tolist() == [2.0, 1.0, 5.0]
    with pytest.warns(UserWarning, match="not in time order"):
        last = Dataset(frame, duplicates="last")
    assert last.values[:, 0].tolist() == [3.0, 4.0, 5.0]
    with pytest.warns(UserWarning, match="not in time order"):
        mean = Dataset(frame, duplicates="mean")
    assert mean.values[:, 0].tolist() == [2.5, 2.5, 5.0]
    assert list(mean.index) == list(pd.date_range("2024-01-01", periods=3, freq="D"))


# ---------------------------------------------------------------------- arrays and from_any
def test_from_array_messages() -> None:
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(DataError, match=r"^sparse input is not supported \(time series are "
                                        r"dense\); convert it with \.toarray\(\) first$"):
        Dataset.from_array(sparse.csr_matrix(np.eye(2)))
    with pytest.raises(DataError, match=r"^array input must be numeric; an object array could "
                                        r"not be converted to numbers: could not convert string "
                                        r"to float: 'a'$") as info:
        Dataset.from_array(np.array([1.0, "a"], dtype=object))
    assert type(info.value) is DataError  # a value problem, not a type problem
    with pytest.raises(DataTypeError, match=r"^array input must be numeric; an object array "
                                            r"could not be converted to numbers: "):
        Dataset.from_array(np.array([1.0, {}], dtype=object))
    with pytest.raises(DataError, match=r"^array input must be numeric, got dtype <U1$"):
        Dataset.from_array(np.array(["a", "b"]))
    with pytest.raises(DataError, match=r"^array input must be 1-D or 2-D \(rows = time steps\), "
                                        r"got 0-D$"):
        Dataset.from_array(np.float64(3.0))
    with pytest.raises(DataError, match=r"^Complex data not supported: array input holds "
                                        r"complex numbers$"):
        Dataset.from_array([1 + 2j])
    with pytest.raises(DataError, match=r"^cannot convert input to an array: "):
        Dataset.from_array([[1.0, 2.0], [3.0]])


def test_from_array_values_columns_index_and_name() -> None:
    ds = Dataset.from_array(np.array([[1, 2], [3, 4]], dtype=np.int32), columns=["a", "b"],
                            index=pd.date_range("2024-01-01", periods=2, freq="h"), name="arr")
    assert ds.columns == ["a", "b"] and ds.name == "arr" and ds.is_time_indexed
    assert ds.values.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    flags = Dataset.from_array(np.array([True, False]))
    assert flags.columns == ["value"] and flags.values[:, 0].tolist() == [1.0, 0.0]
    objects = Dataset.from_array(np.array([1, None, 2.5], dtype=object))
    assert _nan_list(objects, "value") == [1.0, None, 2.5]


def test_from_any_conversions_keep_the_name() -> None:
    frame = _frame([1.0, 2.0], _minutes(0, 1))
    assert Dataset.from_any(frame, name="f").name == "f"
    assert Dataset.from_any(frame["v"], name="s").columns == ["v"]
    assert Dataset.from_any([1.0, 2.0], name="l").name == "l"
    with pytest.raises(DataTypeError, match=r"^got a path; load it first with "
                                            r"Dataset\.from_csv\(path\) and pass the Dataset$"):
        Dataset.from_any(Path("a.csv"))  # type: ignore[arg-type]
    with pytest.raises(DataTypeError, match=r"^expected data \(Dataset, DataFrame, Series or "
                                            r"array\), got None$"):
        Dataset.from_any(None)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- checks and accessors
def test_check_finite_names_five_columns_and_counts_the_rest() -> None:
    values = {f"c{i}": [1.0, np.nan if i else 1.0, np.nan] for i in range(8)}
    ds = Dataset(pd.DataFrame(values, index=_minutes(0, 1, 2)), name="w")
    assert ds.nan_report().to_dict() == {"c0": 1, **{f"c{i}": 2 for i in range(1, 8)}}
    with pytest.raises(DataError) as info:
        ds.check_finite("scoring")
    assert str(info.value) == (
        "dataset 'w' has NaN values in column(s) 'c0' (1), 'c1' (2), 'c2' (2), 'c3' (2), "
        "'c4' (2) and 3 more, first at 2024-01-01 00:01:00; scoring needs finite values: use "
        "Dataset.fillna(...), .interpolate() or .dropna()")
    six = Dataset(pd.DataFrame({f"c{i}": [np.nan, 1.0] for i in range(6)},
                               index=_minutes(0, 1)))
    with pytest.raises(DataError, match=r"'c4' \(1\) and 1 more, first at"):
        six.check_finite()
    five = Dataset(pd.DataFrame({f"c{i}": [np.nan, 1.0] for i in range(5)},
                                index=_minutes(0, 1)))
    with pytest.raises(DataError, match=r"'c4' \(1\), first at 2024-01-01 00:00:00; this "
                                        r"operation needs"):
        five.check_finite()
    Dataset(_frame([1.0, 2.0], _minutes(0, 1))).check_finite()


def test_infer_freq_is_the_median_step() -> None:
    ds = Dataset(_frame([0.0] * 5, _minutes(0, 1, 2, 4, 7)))
    assert ds.infer_freq() == pd.Timedelta("90s")  # steps 1, 1, 2, 3 minutes
    assert Dataset(_frame([0.0] * 4, _minutes(0, 1, 2, 10))).infer_freq() == pd.Timedelta("1min")
    assert Dataset(_frame([0.0, 0.0], _minutes(0, 5))).infer_freq() == pd.Timedelta("5min")
    assert Dataset(_frame([0.0], _minutes(0))).infer_freq() is None
    assert Dataset.from_array(np.zeros(3)).infer_freq() is None


def test_select_transforms_and_from_csv_keep_names(tmp_path: Path) -> None:
    ds = Dataset(pd.DataFrame({"a": [1.0, np.nan], "b": [3.0, 4.0]}, index=_minutes(0, 1)),
                 name="n")
    with pytest.raises(DataError, match=r"^dataset 'n': columns \['c'\] not found$"):
        ds.select(["a", "c"])
    assert ds.select(["b"]).name == "n" and ds.fillna(0.0).name == "n"
    assert (len(ds), ds.shape, ds.n_features) == (2, (2, 2), 2)
    a = _hours(tmp_path / "a.csv", "2024-01-01", 2, v=0.0)
    b = _hours(tmp_path / "b.csv", "2024-01-01 02:00", 2, v=2.0)
    assert Dataset.from_csv([a, b]).name == "2 files"
    assert Dataset.from_csv(a).name == "a.csv"
    assert Dataset.from_csv([a, b], name="both").name == "both"
    c = _hours(tmp_path / "c.csv", "2024-01-01 05:00", 2, v=5.0)
    with pytest.warns(IrregularSamplingWarning, match=r"^3 files: irregular sampling"):
        Dataset.from_csv([a, b, c])
    with pytest.warns(IrregularSamplingWarning, match=r"^abc: irregular sampling"):
        Dataset.from_csv([a, b, c], name="abc")


def test_year_first_dates_are_never_read_year_day_month() -> None:
    for text, fmt in (("2024-13-01", "ISO8601"), ("2024/13/01", "%Y/%m/%d")):
        with pytest.raises(DataError, match=rf"^c: cannot parse timestamps: '{text}' at row 0 "
                                            rf"does not match the column's format '{fmt}'"):
            readers.parse_times([text, text.replace("13", "14")], "c", dayfirst=True)


def test_the_more_regular_reading_wins_and_a_tie_is_refused() -> None:
    # 1 to 12 January month first: daily steps; day first: 1 January, 1 February... (monthly)
    january = list(pd.date_range("2024-01-01", periods=12, freq="D"))
    us = [d.strftime("%m/%d/%Y") for d in january]
    assert list(readers.parse_times(us, "c")) == january
    eu = [d.strftime("%d/%m/%Y") for d in january]
    with pytest.raises(DataError) as info:
        readers.parse_times(eu, "c")
    assert str(info.value) == (
        "c: day and month are ambiguous in dates such as '02/01/2024' ('%m/%d/%Y' or "
        "'%d/%m/%Y'): read day first the times are more regular; pass dayfirst=True "
        "(--dayfirst) or time_format= (--time-format), e.g. time_format='%d/%m/%Y'")
    hours = [f"01/02/2024 {h:02d}:00" for h in range(3)]
    with pytest.raises(DataError) as info:
        readers.parse_times(hours, "c")
    assert str(info.value) == (
        "c: day and month are ambiguous in dates such as '01/02/2024 00:00' ('%m/%d/%Y %H:%M' "
        "or '%d/%m/%Y %H:%M'): both readings are equally plausible; pass dayfirst=True "
        "(--dayfirst) or time_format= (--time-format), e.g. time_format='%d/%m/%Y %H:%M'")


def test_a_series_of_strings_or_numbers_is_checked_like_any_column() -> None:
    with pytest.raises(DataError, match=r"^c: holds integer values, not timestamps"):
        readers.parse_times(pd.Series([1_700_000_000, 1_700_000_060]), "c")
    with pytest.raises(DataError, match=r"^c: the dates look day first"):
        readers.parse_times(pd.Series(["01/02/2024", "13/01/2024"]), "c")


def test_datetime_objects_mixed_with_strings_follow_dayfirst_and_time_format() -> None:
    import datetime as dt

    objects = pd.Index([dt.datetime(2024, 1, 1), "02/01/2024"], dtype=object)
    assert list(readers.parse_times(objects, "c"))[1] == pd.Timestamp("2024-02-01")
    assert list(readers.parse_times(objects, "c", dayfirst=True))[1] == pd.Timestamp("2024-01-02")
    # with datetime objects among them, strings are read one by one, whatever their format
    several = pd.Index(["2024-01-02", dt.datetime(2024, 1, 3), "January 4, 2024"], dtype=object)
    assert list(readers.parse_times(several, "c")) == list(
        pd.date_range("2024-01-02", periods=3, freq="D"))
    iso = pd.Index([dt.datetime(2024, 1, 1), " 2024-01-02 "], dtype=object)
    assert list(readers.parse_times(iso, "c", time_format="ISO8601")) == [
        pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-02")]


# ---------------------------------------------------------------------- more edges
def test_overlapping_files_keep_the_earlier_files_rows_however_many() -> None:
    # 300 shared timestamps: an unstable sort would mix the two files' rows
    times = pd.date_range("2024-01-01", periods=300, freq="min", name="timestamp")
    a = pd.DataFrame({"v": np.zeros(300)}, index=times)
    b = pd.DataFrame({"v": np.ones(300)}, index=times)
    a.attrs["source"], b.attrs["source"] = "a", "b"
    joined = readers.concat_frames([a, b], None, "x")
    assert joined["v"].to_numpy().tolist() == [0.0, 1.0] * 300
    with pytest.warns(UserWarning, match="not in time order"):
        ds = Dataset(pd.concat([a, b]), duplicates="first")
    assert not ds.values.any() and len(ds) == 300


def test_frames_without_a_source_and_a_file_that_only_lacks_columns() -> None:
    times = pd.date_range("2024-01-01", periods=2, freq="h")
    xy = pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0]}, index=times)
    x = pd.DataFrame({"x": [5.0, 6.0]}, index=times + pd.Timedelta("2h"))
    with pytest.raises(DataError) as info:
        readers.concat_frames([xy, x], None, "here")
    assert str(info.value) == (
        "files have different columns: ? lacks column(s) ['y'] compared with ? (columns "
        "['x', 'y']); pass columns= (--columns) to read only the common ones")
    with pytest.raises(DataError, match=r"^columns \['y'\] not found in \? \(reading here\)$"):
        readers.concat_frames([xy, x], ["x", "y"], "here")


def test_the_usual_step_is_the_most_common_not_the_smallest() -> None:
    with pytest.warns(IrregularSamplingWarning, match=r"^x: irregular sampling: 33% of the 3 "
                                                       r"steps differ from the usual 5min "
                                                       r"\(from 1min to 5min\)"):
        readers.check_sampling(_minutes(0, 1, 6, 11), "x")


def test_integer_bounds_name_the_value_outside_them() -> None:
    lo, hi = -(2**63), 2**63 - 1
    with pytest.raises(DataError, match=rf"^dataset: integer index value {lo - 1} is outside"):
        Dataset(_frame([1.0, 2.0], pd.Index([lo - 1, hi], dtype=object)))


def test_a_csv_without_a_time_column_is_named() -> None:
    import io

    with pytest.raises(DataError, match=r"^CSV file buf: no time column found \(looked for"):
        readers.read_csv_file(io.StringIO("a,b\n1,2\n"), label="buf")
    one_byte = io.BytesIO(b"\n")
    with pytest.raises(DataError, match=r"^CSV file one is empty$"):
        readers.read_csv_file(one_byte, label="one")


@pytest.mark.usefixtures("own_tqdm_lock")
def test_the_progress_bar_goes_away_once_the_files_are_read(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _hours(tmp_path / "a.csv", "2024-01-01", 3, v=0.0)
    b = _hours(tmp_path / "b.csv", "2024-01-01 03:00", 3, v=3.0)
    readers.read_csv_files([str(a), str(b)], progress=True)
    err = capsys.readouterr().err
    assert err.startswith("\rreading 2 files:") and err.endswith("\r"), repr(err)
    assert "\n" not in err and "2/2" not in err, repr(err)  # no final bar left behind


def test_numbers_and_integer_positions_with_gaps_are_named_as_such() -> None:
    with pytest.raises(DataTypeError, match=r"^Dataset expects a pandas DataFrame, got list$"):
        Dataset([1.0, 2.0])  # type: ignore[arg-type]
    # a missing value does not hide that the others are numbers or positions
    with pytest.raises(DataError, match=r"^c: holds integer values, not timestamps"):
        readers.parse_times(pd.Index([1_700_000_000, None, 1_700_000_060], dtype=object), "c")
    gap = (r"the integer index has missing values \(first at row 1\); positions must all be "
           r"present$")
    for index in (pd.Index([3, None, 5], dtype=object), pd.Index([3, None, 5], dtype="Int64")):
        with pytest.raises(DataError, match=rf"^dataset: {gap}"):
            Dataset(_frame([1.0, 2.0, 3.0], index))
    with pytest.raises(DataError, match=r"^dataset: integer index value 9223372036854775808 is "
                                        r"outside"):
        Dataset(_frame([1.0, 2.0], pd.Index(np.array([0, 2**63], dtype=np.uint64))))


def test_full_messages_for_duplicates_and_for_no_single_format(tmp_path: Path) -> None:
    index = pd.DatetimeIndex(["2024-01-01", "2024-01-01"])
    with pytest.raises(DataError) as info:
        Dataset(_frame([1.0, 2.0], index))
    assert str(info.value) == (
        "dataset: 1 duplicate timestamp(s), first 2024-01-01 00:00:00; pass duplicates='mean', "
        "'first' or 'last' to combine them (on the command line: --duplicates mean|first|last)")
    # the first value reads both ways; each format fails on a different later value
    text = _read_error(_eu(tmp_path / "a.csv", ["01/02/2024", "13/01/2024", "01/13/2024"]))
    assert ("'13/01/2024' does not match '%m/%d/%Y' and '01/13/2024' does not match "
            "'%d/%m/%Y' (inferred from '01/02/2024')") in text, text


@pytest.mark.parametrize(
    ("text", "order"),
    [
        ("13/02/2024 00:00", "day"),
        ("02/13/2024", "month"),
        ("01/02/2024 10:00", "ambiguous"),
        ("1.2.24", "ambiguous"),
        ("31-12-2024T00:00:00Z", "day"),
        ("05/05/2024", "either"),  # day == month: both readings give the same date
        ("2024-01-02 00:00", "either"),  # year first: ISO 8601
        ("2024/01/02", "either"),
        ("2024-01-02 10.11.12", "either"),  # a dotted time after a year-first date
        ("2024.01.02 03.04.05", "either"),
        ("Feb 1 2024", "either"),
        ("13/13/2024", "either"),  # no reading is a date: the parser reports it
        ("00/05/2024", "either"),
        ("1706745600", "either"),
    ],
)
def test_date_order_of_one_timestamp(text: str, order: str) -> None:
    assert date_order(text) == order

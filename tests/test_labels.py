"""Tests of anomark.labels: the one home of labelled windows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomark.errors import DataError
from anomark.labels import (
    in_any_window,
    parse_windows,
    point_labels,
    read_windows_file,
    window_pairs,
    windows_to_ns,
)

T = pd.Timestamp


def test_parse_windows_reads_strings_and_keeps_order() -> None:
    got = parse_windows([("2024-01-03", "2024-01-04"), [T("2024-01-01"), "2024-01-01 06:00"]])
    assert got == [(T("2024-01-03"), T("2024-01-04")), (T("2024-01-01"), T("2024-01-01 06:00"))]
    assert parse_windows([]) == []
    assert window_pairs(None) == []


@pytest.mark.parametrize(
    "windows, match",
    [
        ("2024-01-01", r"windows must be a list of \(start, end\) pairs, got str"),
        ({"a": 1}, r"got dict"),
        (5, r"got int"),
        ([("2024-01-01",)], r"windows\[0\] is not a \(start, end\) pair"),
        ([("2024-01-02", "2024-01-01")], r"windows\[0\] starts after it ends"),
        ([("x", "2024-01-01")], r"windows\[0\]: 'x' is not a timestamp"),
        ([(None, "2024-01-01")], r"windows\[0\]: missing timestamp"),
    ],
)
def test_bad_windows_are_named(windows: object, match: str) -> None:
    with pytest.raises(DataError, match=match):
        parse_windows(windows)


def test_windows_to_ns_checks_time_zones() -> None:
    starts, ends = windows_to_ns([("2024-01-01", "2024-01-02")], None)
    assert starts[0] == T("2024-01-01").value and ends[0] == T("2024-01-02").value
    with pytest.raises(DataError, match="timezone-naive but the series' index is timezone-aware"):
        windows_to_ns([("2024-01-01", "2024-01-02")], "UTC")
    aware = [(T("2024-01-01", tz="UTC"), T("2024-01-02", tz="UTC"))]
    with pytest.raises(DataError, match="timezone-aware but the series' index is timezone-naive"):
        windows_to_ns(aware, None)


def test_in_any_window_handles_overlaps_and_nesting() -> None:
    t = np.arange(12, dtype=np.int64)
    starts = np.array([5, 1, 2], dtype=np.int64)  # unsorted; [2, 3] nested in [1, 8]
    ends = np.array([6, 8, 3], dtype=np.int64)
    expected = (t >= 1) & (t <= 8)
    np.testing.assert_array_equal(in_any_window(t, starts, ends), expected)
    assert not in_any_window(t, starts[:0], ends[:0]).any()


def test_point_labels() -> None:
    index = pd.date_range("2024-01-01", periods=6, freq="h")
    labels = point_labels(index, [(index[1], index[2]), (index[5], "2024-02-01")])
    assert labels.tolist() == [False, True, True, False, False, True]
    with pytest.raises(DataError, match="DatetimeIndex"):
        point_labels(pd.RangeIndex(3), [])  # type: ignore[arg-type]


def test_labels_file_formats(tmp_path: Path) -> None:
    nab_style = tmp_path / "nab.json"
    nab_style.write_text(json.dumps({
        "realKnownCause/x.csv": [["2024-01-01 00:00:00", "2024-01-01 01:00:00"]],
        "realKnownCause/y.csv": [],
    }))
    expected = [(T("2024-01-01"), T("2024-01-01 01:00"))]
    assert read_windows_file(nab_style, "realKnownCause/x.csv") == expected
    assert read_windows_file(nab_style, "x.csv") == expected  # file name alone
    assert read_windows_file(nab_style, "y.csv") == []
    with pytest.raises(DataError, match=r"windows for 2 series; none matches 'z\.csv'"):
        read_windows_file(nab_style, "z.csv")
    single = tmp_path / "single.json"
    single.write_text(json.dumps({"anything": [["2024-01-01", "2024-01-01 01:00"]]}))
    assert read_windows_file(single) == expected
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps([["2024-01-01", "2024-01-01 01:00"]]))
    assert read_windows_file(plain) == expected
    plain.write_text(json.dumps([["2024-01-02", "2024-01-01"]]))
    with pytest.raises(DataError, match=r"window\[0\] starts after it ends"):
        read_windows_file(plain)
    plain.write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        read_windows_file(plain)
    plain.write_text(json.dumps([["2024-01-01"]]))
    with pytest.raises(DataError, match=r"is not a \(start, end\) pair"):
        read_windows_file(plain)
    plain.write_text(json.dumps("2024"))
    with pytest.raises(DataError, match="must hold a list of"):
        read_windows_file(plain)
    with pytest.raises(DataError, match="labels file not found"):
        read_windows_file(tmp_path / "missing.json")

"""Labelled windows: exact messages (what they name) and exact nanoseconds.

Found unpinned by the mutation run of ``labels.py``: the default and custom names used in
messages, which end of which window a message points at, time-zone-aware windows on an aware
index, int64 nanoseconds (a float would round them) and the labels-file messages.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomark.errors import DataError
from anomark.labels import (
    parse_windows,
    point_labels,
    read_windows_file,
    window_pairs,
    windows_to_ns,
)


def message(call: object) -> str:
    with pytest.raises(DataError) as info:
        call()  # type: ignore[operator]
    return str(info.value)


def test_default_and_custom_names_in_messages() -> None:
    assert message(lambda: window_pairs("ab")) == (
        "windows must be a list of (start, end) pairs, got str"
    )
    assert message(lambda: parse_windows(3, "labels of x")) == (
        "labels of x must be a list of (start, end) pairs, got int"
    )
    assert message(lambda: windows_to_ns([("2024", "nope")], None)) == (
        "windows[0]: 'nope' is not a timestamp"
    )
    assert message(lambda: windows_to_ns([("2024", "2025"), ("x", "2024")], None, "lab")) == (
        "lab[1]: 'x' is not a timestamp"
    )
    index = pd.date_range("2024-01-01", periods=3, freq="h")
    assert message(lambda: point_labels(index, [("2024", "?")])) == (
        "windows[0]: '?' is not a timestamp"
    )
    assert message(lambda: point_labels(index, [("2024", "?")], "my windows")) == (
        "my windows[0]: '?' is not a timestamp"
    )
    assert message(lambda: point_labels(pd.RangeIndex(3), [])) == (
        "point labels need a DatetimeIndex to place windows in time, got RangeIndex"
    )


@pytest.mark.parametrize("pair", [5, "ab", b"ab", (1,), (1, 2, 3), None])
def test_a_pair_must_be_two_ends(pair: object) -> None:
    assert message(lambda: window_pairs([("2024", "2025"), pair])) == (
        f"windows[1] is not a (start, end) pair: {pair!r}"
    )


def test_bad_end_names_its_window() -> None:
    assert message(lambda: parse_windows([("2024", "2025"), ("2024", "later")])) == (
        "windows[1]: 'later' is not a timestamp"
    )


def test_out_of_range_end_is_named() -> None:
    far = pd.Timestamp("3000-01-01")
    assert message(lambda: windows_to_ns([(far, far)], None, "w")) == (
        "w[0]: 3000-01-01 00:00:00 is out of the representable range"
    )


def test_nanoseconds_are_exact_int64() -> None:
    a = pd.Timestamp("2024-01-01 00:00:00.000000001")
    b = pd.Timestamp("2024-06-30 23:59:59.999999999")
    starts, ends = windows_to_ns([(a, b), (b, b)], None)
    assert starts.dtype == np.int64 and ends.dtype == np.int64
    assert starts.tolist() == [a.value, b.value] and ends.tolist() == [b.value, b.value]
    assert starts[0] % 1000 == 1  # a float64 would have rounded it away


def test_aware_windows_on_an_aware_index() -> None:
    index = pd.date_range("2024-03-10 00:00", periods=6, freq="h", tz="America/New_York")
    window = (pd.Timestamp("2024-03-10 03:00", tz="America/New_York"),
              pd.Timestamp("2024-03-10 04:00", tz="America/New_York"))
    starts, ends = windows_to_ns([window], index.tz)
    assert starts.tolist() == [window[0].value] and ends.tolist() == [window[1].value]
    assert point_labels(index, [window]).tolist() == [False, False, True, True, False, False]
    naive = (pd.Timestamp("2024-03-10 03:00"), pd.Timestamp("2024-03-10 04:00"))
    assert message(lambda: point_labels(index, [window, naive])) == (
        "windows[1]: 2024-03-10 03:00:00 is timezone-naive but the series' index is "
        "timezone-aware (America/New_York); use the same kind"
    )
    assert message(lambda: windows_to_ns([naive, window], None, "w")) == (
        "w[1]: 2024-03-10 03:00:00-04:00 is timezone-aware but the series' index is "
        "timezone-naive; use the same kind"
    )


def test_labels_file_messages(tmp_path: Path) -> None:
    many = tmp_path / "many.json"
    many.write_text(json.dumps({f"s{i}.csv": [] for i in range(5)}))
    assert message(lambda: read_windows_file(many, "other.csv")) == (
        f"labels file {many} has windows for 5 series; none matches 'other.csv' "
        "(keys like ['s0.csv', 's1.csv', 's2.csv'])"
    )
    assert read_windows_file(many, "dir/s3.csv") == []  # matched by file name
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps({"a": 1}))
    assert message(lambda: read_windows_file(flat)) == (
        f"labels file {flat} must hold a list of [start, end] windows "
        "(or a NAB-style {series: [[start, end], ...]} mapping)"
    )
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps([["2024-01-01", "2024-01-02"]]))
    assert read_windows_file(ok) == [(pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-02"))]


def test_a_window_mixing_naive_and_aware_ends_is_refused() -> None:
    """Was a bare TypeError from comparing the two ends (found by the mutation run)."""
    naive, aware = pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-02", tz="UTC")
    for windows in ([(naive, naive), (naive, aware)], [(naive, naive), (aware, naive)]):
        assert message(lambda w=windows: windows_to_ns(w, None, "w")).startswith(
            "w[1] mixes a timezone-naive and a timezone-aware end"
        )
    assert message(lambda: parse_windows([("2024-01-01", aware)])) == (
        "windows[0] mixes a timezone-naive and a timezone-aware end: start 2024-01-01 00:00:00, "
        "end 2024-01-02 00:00:00+00:00"
    )

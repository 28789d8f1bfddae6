"""Windowing: zero-copy windows, stride, shingles, alignments and the window → point mapping."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anomark import Windowing
from anomark.errors import ConfigurationError, DataError


def test_windows_are_a_zero_copy_view():
    values = np.arange(20.0).reshape(10, 2)
    view = Windowing(4).windows(values)
    assert view.shape == (7, 4, 2)
    assert np.shares_memory(view, values)
    assert not view.flags.writeable
    np.testing.assert_array_equal(view[2], values[2:6])


def test_one_dimensional_input_is_one_feature():
    view = Windowing(3).windows(np.arange(5.0))
    assert view.shape == (3, 3, 1)
    np.testing.assert_array_equal(view[:, :, 0], [[0, 1, 2], [1, 2, 3], [2, 3, 4]])


def test_stride():
    w = Windowing(3, stride=2)
    values = np.arange(8.0)
    view = w.windows(values)
    assert w.n_windows(8) == 3
    np.testing.assert_array_equal(view[:, :, 0], [[0, 1, 2], [2, 3, 4], [4, 5, 6]])
    assert np.shares_memory(view, values)


def test_shingles_time_major_and_batched():
    values = np.arange(12.0).reshape(6, 2)  # rows: (0,1), (2,3), ...
    w = Windowing(3)
    sh = w.shingles(values)
    assert sh.shape == (4, 6)
    np.testing.assert_array_equal(sh[0], [0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(w.shingles(values, 1, 3), sh[1:3])
    batches = list(w.iter_shingles(values, max_bytes=6 * 8 * 2))  # two windows per batch
    assert [start for start, _ in batches] == [0, 2]
    np.testing.assert_array_equal(np.vstack([b for _, b in batches]), sh)


def test_size_one_shingles_are_the_values():
    values = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(Windowing(1).shingles(values), values)


@pytest.mark.parametrize(
    ("align", "anchors"), [("end", [2, 3, 4]), ("start", [0, 1, 2]), ("center", [1, 2, 3])]
)
def test_alignments(align, anchors):
    w = Windowing(3, align=align)
    np.testing.assert_array_equal(w.anchors(5), anchors)


def test_to_points_end_alignment_fills_leading_rows():
    w = Windowing(3)
    np.testing.assert_array_equal(
        w.to_points(np.array([10.0, 20.0, 30.0]), 5), [10, 10, 10, 20, 30]
    )


def test_to_points_start_alignment_carries_last_score_to_the_end():
    w = Windowing(3, align="start")
    np.testing.assert_array_equal(
        w.to_points(np.array([10.0, 20.0, 30.0]), 5), [10, 20, 30, 30, 30]
    )


def test_to_points_center_even_window():
    w = Windowing(4, align="center")  # anchor = start + 1
    np.testing.assert_array_equal(w.to_points(np.array([1.0, 2.0, 3.0]), 6), [1, 1, 2, 3, 3, 3])


def test_to_points_stride_carries_scores_forward_never_nan():
    w = Windowing(2, stride=3)  # windows start 0, 3, 6 -> anchors 1, 4, 7
    out = w.to_points(np.array([1.0, 2.0, 3.0]), 9)
    np.testing.assert_array_equal(out, [1, 1, 1, 1, 2, 2, 2, 3, 3])
    assert not np.isnan(out).any()


def test_to_points_two_dimensional_scores():
    w = Windowing(2)
    out = w.to_points(np.array([[1.0, 10.0], [2.0, 20.0]]), 3)
    np.testing.assert_array_equal(out, [[1, 10], [1, 10], [2, 20]])


def test_to_points_wrong_count():
    with pytest.raises(DataError, match=r"got 2 window scores for 5 points, expected 3"):
        Windowing(3).to_points(np.array([1.0, 2.0]), 5)


def test_window_longer_than_series_names_both_lengths():
    with pytest.raises(DataError, match=r"window size 10 is larger than the series length 4"):
        Windowing(10).windows(np.arange(4.0))
    with pytest.raises(DataError, match=r"window size 10 is larger than the series length 4"):
        Windowing(10).to_points(np.zeros(1), 4)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"size": 0}, "window size must be >= 1"),
        ({"size": 2.0}, "window size must be an integer"),
        ({"size": True}, "window size must be an integer"),
        ({"size": 2, "stride": 0}, "window stride must be >= 1"),
        ({"size": 2, "align": "middle"}, "align must be"),
    ],
)
def test_invalid_configuration(kwargs, match):
    with pytest.raises(ConfigurationError, match=match):
        Windowing(**kwargs)


def test_three_dimensional_input_rejected():
    with pytest.raises(DataError, match=r"1-D or 2-D"):
        Windowing(2).windows(np.zeros((3, 2, 2)))


def test_equality_and_repr():
    assert Windowing(3, 2, "start") == Windowing(3, 2, "start")
    assert Windowing(3) != Windowing(4)
    assert repr(Windowing(3)) == "Windowing(size=3, stride=1, align='end')"
    assert len({Windowing(3), Windowing(3)}) == 1


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 60),
    size=st.integers(1, 12),
    stride=st.integers(1, 5),
    align=st.sampled_from(["end", "start", "center"]),
)
def test_to_points_properties(n: int, size: int, stride: int, align: str):
    w = Windowing(size, stride, align)  # type: ignore[arg-type]
    if size > n:
        with pytest.raises(DataError, match="larger than the series length"):
            w.n_windows(n)
        return
    n_win = w.n_windows(n)
    windows = w.windows(np.arange(float(n)))
    assert windows.shape == (n_win, size, 1)
    # every window starts stride after the previous one and stays inside the series
    np.testing.assert_array_equal(windows[:, 0, 0], np.arange(n_win) * stride)
    assert windows[-1, -1, 0] <= n - 1
    scores = np.arange(n_win, dtype=float) + 1.0
    points = w.to_points(scores, n)
    assert points.shape == (n,)
    assert not np.isnan(points).any()
    assert (np.diff(points) >= 0).all()  # owners advance in time
    # each window's score sits on its anchor row
    np.testing.assert_array_equal(points[w.anchors(n)], scores)


# ---------------------------------------------------------------------- issue 5 (hardening)
@pytest.mark.parametrize("n_points", [3.0, "3", None, np.float64(3)])
def test_to_points_needs_an_integer_length(n_points):
    with pytest.raises(DataError, match=r"n_points must be an integer"):
        Windowing(2).to_points(np.ones(2), n_points)
    assert Windowing(2).to_points(np.ones(2), np.int64(3)).shape == (3,)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("scores", "match"),
    [(1.0, r"must be 1-D \(one per window\) or 2-D, got shape \(\)"),
     (np.ones((2, 1, 1)), r"got shape \(2, 1, 1\)"),
     (np.array(["a", "b"]), r"window scores must be numbers"),
     ([[1.0], [1.0, 2.0]], r"window scores must be numbers")],
)
def test_to_points_refuses_malformed_scores(scores, match):
    with pytest.raises(DataError, match=match):
        Windowing(2).to_points(scores, 3)


def test_windows_of_a_ragged_list_is_a_data_error():
    with pytest.raises(DataError, match=r"cannot convert the series to an array"):
        Windowing(2).windows([[1.0], [1.0, 2.0]])  # type: ignore[arg-type]


def test_shingles_of_an_empty_range_has_the_shingle_width():
    x = np.arange(10.0).reshape(5, 2)
    assert Windowing(2).shingles(x, 3, 1).shape == (0, 4)
    assert Windowing(2).shingles(x, 4, 4).shape == (0, 4)
    np.testing.assert_array_equal(Windowing(2).shingles(x, 1, 2), [[2.0, 3.0, 4.0, 5.0]])

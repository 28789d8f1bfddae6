"""The default window rule (``default_window_size``) value by value, and the edges of Windowing
that the mutation run of ``windowing.py`` found unpinned (messages, batch sizes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anomark import Dataset, Windowing
from anomark.errors import ConfigurationError, DataError
from anomark.windowing import DEFAULT_WINDOW_CAP, default_window_size


def series(n: int, freq: str | None, columns: int = 1) -> Dataset:
    values = np.ones((n, columns))
    names = [f"c{j}" for j in range(columns)]
    if freq is None:
        return Dataset.from_frame(pd.DataFrame(values, columns=names))
    index = pd.date_range("2024-01-01", periods=n, freq=freq)
    return Dataset.from_frame(pd.DataFrame(values, index=index, columns=names))


class _Spacing:
    """Just what the rule reads from a Dataset, with any sampling interval (even 0)."""

    def __init__(self, step: pd.Timedelta | None, n: int = 10_000, n_features: int = 1) -> None:
        self.step, self.n, self.n_features = step, n, n_features

    def infer_freq(self) -> pd.Timedelta | None:
        return self.step

    def __len__(self) -> int:
        return self.n


@pytest.mark.parametrize(
    ("freq", "expected"),
    [("30min", 48), ("h", 24), ("5min", 48), ("10min", 48), ("12h", 2), ("13h", 1), ("D", 1),
     ("2D", 1)],
)
def test_one_day_of_samples_at_most_the_cap(freq: str, expected: int) -> None:
    assert DEFAULT_WINDOW_CAP == 48
    assert default_window_size(series(2000, freq)) == expected


def test_cap_and_min_size_bound_the_result() -> None:
    ds = series(2000, "30min")
    assert default_window_size(ds, cap=10) == 10
    assert default_window_size(ds, cap=np.int64(12)) == 12
    assert default_window_size(ds, cap=1000) == 48  # one day, not the cap
    assert default_window_size(series(2000, "D"), min_size=5) == 5  # one day does not fit
    assert default_window_size(ds, min_size=60) == 60  # min_size wins over one day
    assert default_window_size(series(2000, None), min_size=3) == 3  # no time index


def test_the_series_holds_at_least_ten_windows() -> None:
    assert default_window_size(series(100, "h")) == 10  # 100 rows // 10
    assert default_window_size(series(239, "h")) == 23
    assert default_window_size(series(240, "h")) == 24
    assert default_window_size(series(9, "h")) == 1  # never below 1
    assert default_window_size(series(9, "h"), min_size=2) == 2


def test_max_values_counts_every_column() -> None:
    ds = series(2000, "30min", columns=3)
    assert default_window_size(ds, max_values=30) == 10  # 30 // 3 columns
    assert default_window_size(ds, max_values=31) == 10
    assert default_window_size(ds, max_values=1000) == 48
    assert default_window_size(ds, max_values=2, min_size=2) == 2
    assert default_window_size(series(2000, "30min"), max_values=30) == 30  # one column


def test_zero_or_missing_spacing_gives_min_size() -> None:
    assert default_window_size(_Spacing(pd.Timedelta(0)), min_size=4) == 4  # type: ignore[arg-type]
    assert default_window_size(_Spacing(None), min_size=4) == 4  # type: ignore[arg-type]
    assert default_window_size(_Spacing(pd.Timedelta("1min"))) == 48  # type: ignore[arg-type]
    assert default_window_size(_Spacing(pd.Timedelta(1, "ns"))) == 48  # type: ignore[arg-type]
    one_per_day = _Spacing(pd.Timedelta("1D"))
    assert default_window_size(one_per_day, min_size=7) == 7  # type: ignore[arg-type]


@pytest.mark.parametrize("label", ["cap", "min_size"])
@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "48", None])
def test_bad_cap_or_min_size_is_named(label: str, bad: object) -> None:
    with pytest.raises(ConfigurationError) as info:
        default_window_size(series(100, "h"), **{label: bad})  # type: ignore[arg-type]
    assert str(info.value).startswith(f"{label} must be an integer >= 1"), str(info.value)
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize("label", ["size", "stride"])
def test_constructor_messages_name_the_type_and_value(label: str) -> None:
    args = {"size": 3, "stride": 1, label: 2.5}
    with pytest.raises(ConfigurationError) as info:
        Windowing(args["size"], args["stride"])  # type: ignore[arg-type]
    assert str(info.value) == f"window {label} must be an integer, got float 2.5"
    args[label] = 0
    with pytest.raises(ConfigurationError, match=f"window {label} must be >= 1, got 0"):
        Windowing(args["size"], args["stride"])  # type: ignore[arg-type]


def test_too_short_series_message_says_what_to_do() -> None:
    with pytest.raises(DataError) as info:
        Windowing(5).windows(np.arange(3.0))
    assert str(info.value) == (
        "window size 5 is larger than the series length 3; use a smaller window or more data"
    )


def test_to_points_names_a_non_integer_length() -> None:
    with pytest.raises(DataError) as info:
        Windowing(2).to_points(np.ones(3), "4")  # type: ignore[arg-type]
    assert str(info.value) == "n_points must be an integer, got str '4'"


def test_iter_shingles_batches_hold_at_most_max_bytes() -> None:
    values = np.arange(40.0).reshape(20, 2)
    w = Windowing(3)  # a shingle holds 3 x 2 values = 48 bytes
    expected = w.shingles(values)
    for max_bytes, per_batch in [(1, 1), (47, 1), (48, 1), (96, 2), (100, 2), (10**9, 18)]:
        batches = list(w.iter_shingles(values, max_bytes=max_bytes))
        assert [start for start, _ in batches] == list(range(0, 18, per_batch))
        assert all(b.shape[0] == min(per_batch, 18 - s) for s, b in batches)
        np.testing.assert_array_equal(np.concatenate([b for _, b in batches]), expected)


def test_equal_windowings_hash_equal() -> None:
    assert hash(Windowing(3, 2, "start")) == hash(Windowing(3, 2, "start"))
    assert len({Windowing(3), Windowing(3), Windowing(4), Windowing(3, align="center")}) == 3

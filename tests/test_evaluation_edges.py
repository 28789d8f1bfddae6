"""Event metrics and the NAB score at their edges, found unpinned by the mutation run.

``best_event_f1`` against a brute force over every threshold with ``event_scores`` (false-alarm
arithmetic included), windows holding no row, time-zone-aware flags and windows, and the input
each message names.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anomark.errors import DataError
from anomark.evaluation import best_event_f1, event_scores, nab_score_series

SETTINGS = settings(max_examples=80, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def scored_series(draw: Any) -> tuple[pd.Series, list[tuple[pd.Timestamp, pd.Timestamp]]]:
    n = draw(st.integers(3, 40))
    values = draw(st.lists(st.sampled_from([0.0, 0.1, 0.5, 0.7, 0.9, 1.0]), min_size=n,
                           max_size=n))
    index = pd.date_range("2024-01-01", periods=n, freq="h")
    windows = []
    for _ in range(draw(st.integers(0, 3))):
        a = draw(st.integers(-3, n + 2))  # may start before or end after the data
        b = draw(st.integers(a, a + 6))
        start = index[0] + pd.Timedelta(hours=a)
        windows.append((start, index[0] + pd.Timedelta(hours=b)))
    return pd.Series(values, index=index), windows


def _brute_force(scores: pd.Series, windows: list[Any]) -> tuple[float, float]:
    best = (-math.inf, math.nan)
    for thr in sorted(set(scores.to_numpy()), reverse=True):  # highest threshold wins ties
        f1 = event_scores(scores >= thr, windows)["f1"]
        if f1 > best[0]:
            best = (f1, thr)
    return best


@SETTINGS
@given(case=scored_series())
def test_best_event_f1_equals_the_best_of_every_threshold(case: Any) -> None:
    scores, windows = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # windows outside the data
        f1, threshold = best_event_f1(scores, windows)
        has_rows = [((scores.index >= a) & (scores.index <= b)).any() for a, b in windows]
        if not any(has_rows):
            assert math.isnan(f1) and threshold == math.inf
            return
        expected_f1, expected_threshold = _brute_force(scores, windows)
    assert f1 == pytest.approx(expected_f1, abs=1e-12)
    assert threshold == expected_threshold


def test_false_alarm_runs_counted_by_hand() -> None:
    """Two outside runs above 0.5 at the best threshold (0.5): F1 = 2*1 / (1 + 1 + 2)."""
    index = pd.date_range("2024-01-01", periods=10, freq="h")
    scores = pd.Series([0.9, 0.9, 0.0, 0.6, 0.0, 0.5, 0.5, 0.0, 0.0, 0.0], index=index)
    window = [(index[5], index[6])]
    assert best_event_f1(scores, window) == (0.5, 0.5)
    assert event_scores(scores >= 0.5, window)["false_alarms"] == 2


def test_windows_without_rows_are_left_out_with_a_warning() -> None:
    index = pd.date_range("2024-01-01", periods=6, freq="D")
    scores = pd.Series([0.1, 0.2, 0.9, 0.3, 0.5, 0.1], index=index)
    windows = [("2024-01-03", "2024-01-04"), ("2025-01-01", "2025-01-02")]
    with pytest.warns(UserWarning, match=r"^1 of 2 window\(s\) contain no timestamp of the "
                      r"scores; they are left out"):
        assert best_event_f1(scores, windows) == (1.0, 0.9)
    with pytest.warns(UserWarning, match=r"^1 of 2 window\(s\) contain no timestamp of the flags"):
        result = event_scores(scores >= 0.9, windows)
    assert result["n_windows"] == 1 and result["detected"] == 1
    gap = [("2024-01-03 06:00", "2024-01-03 18:00")]  # between two rows
    with pytest.warns(UserWarning, match="1 of 1 window"):
        assert best_event_f1(scores, gap) == (pytest.approx(math.nan, nan_ok=True), math.inf)


def test_aware_flags_and_windows() -> None:
    tz = "Europe/Paris"
    index = pd.date_range("2024-03-31 00:00", periods=6, freq="h", tz=tz)
    scores = pd.Series([0.1, 0.2, 0.9, 0.8, 0.1, 0.1], index=index)
    window = [(pd.Timestamp("2024-03-31 03:00", tz=tz), pd.Timestamp("2024-03-31 04:00", tz=tz))]
    assert best_event_f1(scores, window) == (1.0, 0.9)  # rows 2 (03:00 CEST) and 3 (04:00)
    assert event_scores(scores > 0.5, window)["detected"] == 1
    assert nab_score_series(scores > 0.5, window) == pytest.approx(
        nab_score_series(scores.tz_convert("UTC") > 0.5,
                         [(w[0].tz_convert("UTC"), w[1].tz_convert("UTC")) for w in window])
    )


@pytest.mark.parametrize(
    ("call", "name"),
    [(lambda: event_scores(pd.Series([0.5, 1.0], index=pd.date_range("2024", periods=2)), []),
      "flags"),
     (lambda: nab_score_series(pd.Series([1, 0], index=pd.date_range("2024", periods=2)), []),
      "flags"),
     (lambda: best_event_f1(pd.Series(["a", "b"], index=pd.date_range("2024", periods=2)), []),
      "scores")],
    ids=["event_scores", "nab_score_series", "best_event_f1"],
)
def test_messages_name_the_argument(call: Any, name: str) -> None:
    with pytest.raises(DataError) as info:
        call()
    assert str(info.value).startswith(f"{name} must be"), str(info.value)


def test_default_profile_is_standard() -> None:
    index = pd.date_range("2024-01-01", periods=2000, freq="5min")
    flags = pd.Series(False, index=index)
    flags.iloc[1500] = True  # a false alarm: costs A_FP = 0.11 in the standard profile
    window = [(index[1000], index[1100])]
    assert nab_score_series(flags, window) == pytest.approx(
        nab_score_series(flags, window, "standard"))
    assert nab_score_series(flags, window) != pytest.approx(
        nab_score_series(flags, window, "reward_low_FP_rate"))
    assert np.isfinite(nab_score_series(flags, window))


# ---------------------------------------------------------------------- NAB threshold and messages
from anomark.evaluation import nab_optimize_threshold, nab_score  # noqa: E402

CUSTOM = {"tpWeight": 2.0, "fpWeight": 0.3, "fnWeight": 0.5}  # weights other than 1


@st.composite
def corpus(draw: Any) -> tuple[dict[str, pd.Series], dict[str, list[Any]]]:
    scores, windows = {}, {}
    for key in ("a", "b")[: draw(st.integers(1, 2))]:
        n = draw(st.integers(8, 50))
        index = pd.date_range("2024-01-01", periods=n, freq="h")
        values = draw(st.lists(st.sampled_from([0.0, 0.2, 0.5, 0.8, 1.0]), min_size=n,
                               max_size=n))
        scores[key] = pd.Series(values, index=index)
        spans, free = [], 0  # NAB windows are disjoint: each starts after the previous end
        for _ in range(draw(st.integers(0, 2))):
            if free >= n:
                break
            a = draw(st.integers(free, n - 1))
            b = min(n - 1, a + draw(st.integers(0, 5)))
            spans.append((index[a], index[b]))
            free = b + 1
        windows[key] = spans
    return scores, windows


@settings(SETTINGS, max_examples=60)
@given(case=corpus(), profile=st.sampled_from(["standard", "reward_low_FN_rate", "custom"]))
def test_nab_optimize_threshold_equals_the_best_of_every_threshold(
    case: Any, profile: str
) -> None:
    scores, windows = case
    weights: Any = CUSTOM if profile == "custom" else profile
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            threshold, best = nab_optimize_threshold(scores, windows, weights)
        except DataError as exc:  # no window after the probationary period: undefined
            assert "normalised NAB score is undefined" in str(exc)
            with pytest.raises(DataError, match="undefined"):
                nab_score({k: s >= math.inf for k, s in scores.items()}, windows, weights)
            return
        values = sorted({v for s in scores.values() for v in s.to_numpy()}, reverse=True)
        expected = (nab_score({k: s >= math.inf for k, s in scores.items()}, windows, weights),
                    math.inf)
        for thr in values:  # highest threshold first: ties keep the higher one
            value = nab_score({k: s >= thr for k, s in scores.items()}, windows, weights)
            if value > expected[0] + 1e-9:
                expected = (value, thr)
    assert best == pytest.approx(expected[0], abs=1e-9)
    assert threshold == expected[1]


def test_nab_custom_weights_by_hand() -> None:
    """One window detected at its first row, one false alarm before it: raw = 2 - 0.3,
    null = -0.5, perfect = 2 -> 100 * 2.2 / 2.5 = 88."""
    index = pd.date_range("2024-01-01", periods=100, freq="h")
    flags = pd.Series(False, index=index)
    flags.iloc[30] = True  # after the 15-row probation, no window before it: costs fpWeight
    flags.iloc[60] = True  # the window's first row
    windows = {"s": [(index[60], index[69])]}
    assert nab_score({"s": flags}, windows, CUSTOM) == pytest.approx(88.0)
    assert nab_score_series(flags, windows["s"], CUSTOM) == pytest.approx(1.7)
    scores = flags.astype(float)
    assert nab_optimize_threshold({"s": scores}, windows, CUSTOM) == (1.0, pytest.approx(88.0))


def test_single_scored_row() -> None:
    index = pd.date_range("2024-01-01", periods=1, freq="h")
    scores = {"s": pd.Series([0.7], index=index)}
    windows = {"s": [(index[0], index[0])]}
    assert nab_optimize_threshold(scores, windows) == (0.7, pytest.approx(100.0))


def test_nab_aware_index_and_window_names() -> None:
    index = pd.date_range("2024-01-01", periods=40, freq="h", tz="Asia/Tokyo")
    scores = pd.Series(0.0, index=index)
    scores.iloc[20] = 1.0
    windows = {"s": [(index[20], index[25])]}
    assert nab_score({"s": scores > 0.5}, windows) == pytest.approx(100.0)
    assert nab_optimize_threshold({"s": scores}, windows) == (1.0, pytest.approx(100.0))
    naive = {"s": [(pd.Timestamp("2024-01-01 20:00"), pd.Timestamp("2024-01-02"))]}
    for call in (lambda: nab_score({"s": scores > 0.5}, naive),
                 lambda: nab_optimize_threshold({"s": scores}, naive)):
        with pytest.raises(DataError, match=r"^windows of series 's'\[0\]: 2024-01-01 20:00:00 "
                           r"is timezone-naive"):
            call()


def test_nab_messages_name_the_argument() -> None:
    index = pd.date_range("2024-01-01", periods=40, freq="h")
    flags = pd.Series(False, index=index)
    cases = [
        (lambda: nab_score([flags], {}), "flags_by_series must be a dict of series name to "
         "pandas Series, got list"),
        (lambda: nab_score({}, {}), "flags_by_series is empty"),
        (lambda: nab_optimize_threshold((), {}), "scores_by_series must be a dict of series "
         "name to pandas Series, got tuple"),
        (lambda: nab_optimize_threshold({}, {}), "scores_by_series is empty"),
        (lambda: nab_score({"s": flags}, [("2024", "2025")]), "windows_by_series must be a dict "
         "of series name to windows, got list"),
        (lambda: nab_score({k: flags for k in "abcde"}, {"a": []}), "windows_by_series has no "
         "entry for 4 series, e.g. ['b', 'c', 'd']; it needs the same keys as the flags/scores "
         "(an empty list for no window)"),
        (lambda: nab_score({"s": flags}, {"s": []}), "no labelled window falls after the "
         "probationary period of any series (or the profile gives no weight to windows), so "
         "the normalised NAB score is undefined"),
        (lambda: nab_optimize_threshold({"s": flags.astype(float).rename(None)},
                                        {"s": [("2024-01-01 00:00", "x")]}),
         "windows of series 's'[0]: 'x' is not a timestamp"),
    ]
    for call, text in cases:
        with pytest.raises(DataError) as info:
            call()
        assert str(info.value) == text


def test_nab_window_errors_name_the_series() -> None:
    """NAB maps windows to rows by exact timestamp: a window start that is not a row is
    refused, naming the flags/scores of the series."""
    index = pd.date_range("2024-01-01", periods=40, freq="h")
    flags = pd.Series(False, index=index)
    windows = {"s": [(index[30], index[35]), ("2030-01-01", "2030-01-02")]}
    tail = "the start of window 1 (2030-01-01 00:00:00) is not a timestamp of the series"
    cases = [(lambda: nab_score({"s": flags}, windows), f"flags of series 's': {tail}"),
             (lambda: nab_optimize_threshold({"s": flags.astype(float)}, windows),
              f"scores of series 's': {tail}"),
             (lambda: nab_score_series(flags, windows["s"]), f"flags: {tail}")]
    for call, text in cases:
        with pytest.raises(DataError) as info:
            call()
        assert str(info.value).startswith(text), str(info.value)


# ---------------------------------------------------------------------- NAB profiles and windows
from anomark.errors import ConfigurationError  # noqa: E402
from anomark.evaluation.nab import resolve_profile  # noqa: E402


def test_profile_mappings() -> None:
    custom = resolve_profile({"CostMatrix": {"tpWeight": 1, "fpWeight": 0, "fnWeight": 2.5}})
    assert (custom.name, custom.tp_weight, custom.fp_weight, custom.fn_weight) == (
        "custom", 1.0, 0.0, 2.5)  # a zero weight is allowed
    for bad, shown in [({"tpWeight": 1, "fpWeight": math.nan, "fnWeight": 1}, "nan"),
                       ({"tpWeight": 1, "fpWeight": -0.1, "fnWeight": 1}, "-0.1"),
                       ({"tpWeight": True, "fpWeight": 1, "fnWeight": 1}, "True"),
                       ({"CostMatrix": 5}, "None")]:
        with pytest.raises(ConfigurationError) as info:
            resolve_profile(bad)
        assert str(info.value).startswith("NAB profile mapping needs a finite non-negative "
                                          "number for "), str(info.value)
        assert str(info.value).endswith(f"got {shown}"), str(info.value)
    with pytest.raises(ConfigurationError) as info:
        resolve_profile("nope")
    assert str(info.value) == (
        "unknown NAB profile 'nope'; use one of ['reward_low_FN_rate', 'reward_low_FP_rate', "
        "'standard'] (or 'low_fp' / 'low_fn'), or a mapping with tpWeight, fpWeight and fnWeight"
    )
    with pytest.raises(ConfigurationError) as info:
        resolve_profile(3)
    assert str(info.value) == "profile must be a profile name or a mapping of weights, got int"


def test_window_ends_that_are_not_rows_are_named() -> None:
    index = pd.date_range("2024-01-01", periods=40, freq="h")
    flags = pd.Series(False, index=index)
    with pytest.raises(DataError) as info:
        nab_score_series(flags, [(index[3], index[5]), (index[10], "2024-01-01 12:30")])
    assert str(info.value) == (
        "flags: the end of window 1 (2024-01-01 12:30:00) is not a timestamp of the series; NAB "
        "maps windows to rows by exact timestamp, so score the full series the windows were "
        "labelled on"
    )


def test_a_window_ending_on_an_earlier_row_is_refused() -> None:
    """Rows are taken in the order given: with the index reversed, a window's end is on an
    earlier row than its start."""
    index = pd.date_range("2024-01-01", periods=40, freq="h")[::-1]
    flags = pd.Series(False, index=index)
    with pytest.raises(DataError) as info:
        nab_score_series(flags, [("2024-01-01 03:00", "2024-01-01 05:00")])
    assert str(info.value) == "flags: window 0 ends on a row before the row it starts on"


@pytest.mark.parametrize(
    ("spans", "rows"),
    [([(0, 5), (5, 9)], "0-5 and 5-9"),  # sharing a row
     ([(0, 2), (10, 20), (15, 25)], "10-20 and 15-25"),  # the 2nd and 3rd, not the 1st
     ([(30, 35), (0, 2), (10, 20), (12, 14)], "10-20 and 12-14")],  # listed out of order
)
def test_overlapping_windows_are_refused_naming_the_rows(
    spans: list[tuple[int, int]], rows: str
) -> None:
    index = pd.date_range("2024-01-01", periods=40, freq="h")
    flags = pd.Series(False, index=index)
    with pytest.raises(DataError) as info:
        nab_score_series(flags, [(index[a], index[b]) for a, b in spans])
    assert str(info.value) == f"flags: windows overlap (rows {rows}); NAB windows must be disjoint"


def test_optimize_names_the_series_of_bad_scores() -> None:
    index = pd.date_range("2024-01-01", periods=40, freq="h")
    scores = pd.Series(0.0, index=index)
    scores.iloc[7] = math.nan
    with pytest.raises(DataError) as info:
        nab_optimize_threshold({"s": scores}, {"s": []})
    assert str(info.value).startswith("scores of series 's' has 1 NaN/infinite value(s)")


def test_duplicate_start_timestamp_maps_to_its_first_row() -> None:
    """Rows are taken in the order given; a window starts at the first row (in row order)
    holding its start timestamp, even among 50 rows with that timestamp in a shuffled
    index (an unstable sort would pick another of them)."""
    rng = np.random.default_rng(1)
    hours = np.r_[200:260, np.full(50, 100), rng.permutation(np.r_[0:100, 101:200, 260:350])]
    index = pd.Timestamp("2024-01-01") + pd.to_timedelta(hours, unit="h")
    flags = pd.Series(False, index=index)
    flags.iloc[60] = True  # the first row at hour 100, after the 59-row probation
    end = pd.Timestamp("2024-01-01") + pd.Timedelta(hours=150)
    assert nab_score_series(flags, [(index[60], end)]) == pytest.approx(1.0)  # A_TP, first row
    scores = flags.astype(float)
    assert nab_optimize_threshold({"s": scores}, {"s": [(index[60], end)]}) == (
        1.0, pytest.approx(100.0))


def test_the_first_window_ending_before_its_start_is_named() -> None:
    """A one-row window before it is fine (its start and end are the same row)."""
    index = pd.date_range("2024-01-01", periods=40, freq="h")[::-1]
    flags = pd.Series(False, index=index)
    windows = [("2024-01-02 10:00", "2024-01-02 10:00"), ("2024-01-01 03:00", "2024-01-01 05:00")]
    with pytest.raises(DataError) as info:
        nab_score_series(flags, windows)
    assert str(info.value) == "flags: window 1 ends on a row before the row it starts on"

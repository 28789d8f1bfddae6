"""Tests of anomark.evaluation: event metrics, best event F1 and NAB scoring.

The NAB scorer is checked three ways: hand-computed small cases, a plain-Python loop written
from NAB's rules (SCORING.md) on random series, and NAB's published results (needs the corpus:
``ANOMARK_NAB_DIR``).
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomark.errors import AnomarkError, ConfigurationError, DataError
from anomark.evaluation import (
    NAB_PROFILES,
    best_event_f1,
    event_scores,
    nab_optimize_threshold,
    nab_score,
    nab_score_series,
)

IDX = pd.date_range("2024-01-01", periods=20, freq="h")


def _flags(positions: list[int], index: pd.DatetimeIndex = IDX) -> pd.Series:
    values = np.zeros(len(index), dtype=bool)
    values[positions] = True
    return pd.Series(values, index=index)


# ============================================================================ event_scores
def test_event_scores_counts_windows_and_alarm_runs() -> None:
    windows = [(IDX[3], IDX[5]), (IDX[10], IDX[12]), (IDX[16], IDX[17])]
    # window 0 hit twice (one alarm), window 1 missed, window 2 hit; runs outside: 7-8, 14
    flags = _flags([3, 5, 7, 8, 14, 17])
    r = event_scores(flags, windows)
    assert (r["detected"], r["missed"], r["false_alarms"], r["n_windows"]) == (2, 1, 2, 3)
    assert r["recall"] == pytest.approx(2 / 3)
    assert r["precision"] == pytest.approx(2 / 4)
    p, q = 2 / 4, 2 / 3
    assert r["f1"] == pytest.approx(2 * p * q / (p + q))
    assert isinstance(r["detected"], int) and isinstance(r["false_alarms"], int)


def test_a_window_splits_a_run_and_the_parts_outside_count() -> None:
    windows = [(IDX[5], IDX[7])]
    r = event_scores(_flags(list(range(3, 11))), windows)  # 3-4 | in window | 8-10
    assert (r["detected"], r["false_alarms"]) == (1, 2)
    r = event_scores(_flags([0, 19]), windows)  # runs at both ends of the series
    assert (r["detected"], r["false_alarms"]) == (0, 2)


def test_flagging_everything_is_not_precise() -> None:
    windows = [(IDX[3], IDX[5]), (IDX[10], IDX[12])]
    r = event_scores(pd.Series(True, index=IDX), windows)
    assert r["recall"] == 1.0
    assert r["false_alarms"] == 3  # before, between and after the windows
    assert r["precision"] == pytest.approx(2 / 5)


def test_windows_are_located_by_time_not_exact_timestamps() -> None:
    # ends between rows: [02:30, 04:10] holds rows 3 and 4 only
    window = [(pd.Timestamp("2024-01-01 02:30"), pd.Timestamp("2024-01-01 04:10"))]
    assert event_scores(_flags([2]), window)["detected"] == 0
    assert event_scores(_flags([4]), window)["detected"] == 1
    # strings work too, and an inclusive end
    assert event_scores(_flags([5]), [("2024-01-01 05:00", "2024-01-01 05:00")])["detected"] == 1


def test_overlapping_windows_and_unsorted_rows() -> None:
    windows = [(IDX[2], IDX[6]), (IDX[5], IDX[9])]
    r = event_scores(_flags([6, 12]), windows)
    assert (r["detected"], r["false_alarms"]) == (2, 1)
    shuffled = _flags([6, 12]).iloc[::-1]  # rows in reverse time order: same events
    assert event_scores(shuffled, windows) == r


def test_edge_cases_are_defined() -> None:
    none = pd.Series(False, index=IDX)
    r = event_scores(none, [])
    assert math.isnan(r["precision"]) and math.isnan(r["recall"]) and math.isnan(r["f1"])
    r = event_scores(_flags([4]), [])
    assert r["precision"] == 0.0 and math.isnan(r["recall"]) and r["f1"] == 0.0
    assert r["false_alarms"] == 1
    r = event_scores(none, [(IDX[3], IDX[5])])
    assert math.isnan(r["precision"]) and r["recall"] == 0.0 and r["f1"] == 0.0
    r = event_scores(_flags([4]), [(IDX[3], IDX[5])])
    assert (r["precision"], r["recall"], r["f1"]) == (1.0, 1.0, 1.0)


def test_windows_without_rows_are_left_out_with_a_warning() -> None:
    outside = (pd.Timestamp("2030-01-01"), pd.Timestamp("2030-01-02"))
    with pytest.warns(UserWarning, match="1 of 2 window"):
        r = event_scores(_flags([4]), [(IDX[3], IDX[5]), outside])
    assert r["n_windows"] == 1 and r["recall"] == 1.0


@pytest.mark.parametrize(
    ("flags", "windows", "match"),
    [
        (pd.Series([0.0, 1.0], index=IDX[:2]), [], "must be bool"),
        (pd.Series([True, False]), [], "DatetimeIndex"),
        (np.array([True, False]), [], "pandas Series"),
        (pd.Series([], dtype=bool, index=pd.DatetimeIndex([])), [], "empty"),
        (_flags([1]), [(IDX[5], IDX[3])], r"starts after it ends"),
        (_flags([1]), [(IDX[5],)], r"\(start, end\) pair"),
        (_flags([1]), [("not a date", IDX[3])], "not a timestamp"),
        (_flags([1]), "2024-01-01", "list of"),
        (_flags([1]), [(IDX[1].tz_localize("UTC"), IDX[3].tz_localize("UTC"))], "timezone"),
        (_flags([1]), [(pd.NaT, IDX[3])], "NaT"),
    ],
)
def test_event_scores_bad_input(flags: object, windows: object, match: str) -> None:
    with pytest.raises(DataError, match=match):
        event_scores(flags, windows)  # type: ignore[arg-type]


def test_nullable_boolean_flags() -> None:
    flags = _flags([4]).astype("boolean")
    assert event_scores(flags, [(IDX[3], IDX[5])])["detected"] == 1
    flags = pd.Series(pd.array([None] + [False] * 19, dtype="boolean"), index=IDX)
    with pytest.raises(DataError, match="missing"):
        event_scores(flags, [(IDX[3], IDX[5])])


# ============================================================================ best_event_f1
@pytest.mark.parametrize("seed", range(8))
def test_best_event_f1_matches_trying_every_threshold(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 200))
    index = pd.date_range("2024-01-01", periods=n, freq="5min")
    scores = pd.Series(np.round(rng.random(n), 1 + seed % 2), index=index)  # many ties
    starts = np.sort(rng.choice(n - 5, size=int(rng.integers(1, 4)), replace=False))
    windows = [(index[s], index[s + int(rng.integers(0, 5))]) for s in starts]
    f1, threshold = best_event_f1(scores, windows)
    brute = {
        float(h): event_scores(scores >= h, windows)["f1"] for h in np.unique(scores.to_numpy())
    }
    best = max(brute.values())
    assert f1 == pytest.approx(best, abs=1e-12)
    assert threshold == max(h for h, v in brute.items() if v == pytest.approx(best, abs=1e-12))
    assert event_scores(scores >= threshold, windows)["f1"] == pytest.approx(f1)


def test_best_event_f1_without_windows_flags_nothing() -> None:
    scores = pd.Series(np.linspace(0, 1, len(IDX)), index=IDX)
    f1, threshold = best_event_f1(scores, [])
    assert math.isnan(f1) and threshold == math.inf


def test_best_event_f1_bad_scores() -> None:
    scores = pd.Series(np.linspace(0, 1, len(IDX)), index=IDX)
    scores.iloc[3] = np.nan
    with pytest.raises(DataError, match="NaN"):
        best_event_f1(scores, [(IDX[1], IDX[2])])
    with pytest.raises(DataError, match="numeric"):
        best_event_f1(pd.Series(["a"] * 3, index=IDX[:3]), [])


# ============================================================================ NAB: reference
def _sigmoid(x: float) -> float:
    return -1.0 if x > 3 else 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


def reference_nab_raw(
    times: list[pd.Timestamp],
    flags: list[bool],
    windows: list[tuple],
    tp: float,
    fp: float,
    fn: float,
) -> float:
    """NAB's rules as a plain loop (SCORING.md), windows given by exact timestamps."""
    n = len(times)
    probation = min(math.floor(0.15 * n), 750)
    bounds = sorted((times.index(s), times.index(e)) for s, e in windows)
    total = 0.0
    for left, right in bounds:
        if right < probation:
            continue  # nothing of it is scored
        hit = next((i for i in range(max(left, probation), right + 1) if flags[i]), None)
        if hit is None:
            total -= fn
        else:
            total += tp * _sigmoid(-(right - hit + 1) / (right - left + 1)) / _sigmoid(-1.0)
    for i in range(probation, n):
        if not flags[i] or any(left <= i <= right for left, right in bounds):
            continue
        before = [(left, right) for left, right in bounds if right < i]
        if not before:
            total -= fp
        else:
            left, right = before[-1]
            total += fp * _sigmoid(abs(i - right) / (right - left + 1 - 1))
    return total


def _random_series(rng: np.random.Generator) -> tuple[pd.Series, pd.Series, list[tuple]]:
    n = int(rng.integers(20, 400))
    index = pd.date_range("2023-03-01", periods=n, freq="15min")
    k = int(rng.integers(0, 4))
    cuts = np.sort(rng.choice(np.arange(1, n - 1), size=2 * k, replace=False))
    windows = [(index[cuts[2 * j]], index[cuts[2 * j + 1]]) for j in range(k)]
    scores = pd.Series(np.round(rng.random(n), 2), index=index)
    flags = scores >= rng.choice([0.5, 0.9, 0.99])
    return flags, scores, windows


@pytest.mark.parametrize("seed", range(40))
def test_nab_series_matches_reference_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    flags, _, windows = _random_series(rng)
    for name, p in NAB_PROFILES.items():
        expected = reference_nab_raw(
            list(flags.index), list(flags), windows, p.tp_weight, p.fp_weight, p.fn_weight
        )
        assert nab_score_series(flags, windows, name) == pytest.approx(expected, abs=1e-12)


def test_nab_hand_computed_cases() -> None:
    index = pd.date_range("2024-01-01", periods=100, freq="h")  # probation: 15 rows
    windows = [(index[50], index[59])]
    none = pd.Series(False, index=index)
    assert nab_score_series(none, windows) == -1.0
    assert nab_score_series(none, windows, "reward_low_FN_rate") == -2.0
    at = _flags([50], index)
    assert nab_score_series(at, windows) == pytest.approx(1.0)
    # only the earliest flag in a window counts
    assert nab_score_series(_flags([50, 51, 52], index), windows) == pytest.approx(1.0)
    # a flag at the right edge earns S(-1/10) / S(-1)
    edge = _sigmoid(-0.1) / _sigmoid(-1.0)
    assert nab_score_series(_flags([59], index), windows) == pytest.approx(edge)
    # false positive before any window: -fpWeight
    assert nab_score_series(_flags([20], index), windows) == pytest.approx(-1.0 - 0.11)
    assert nab_score_series(_flags([20], index), windows, "low_fp") == pytest.approx(-1.22)
    # false positive right after the window: weighted by its distance past the window
    past = 0.11 * _sigmoid(3 / 9)
    assert nab_score_series(_flags([62], index), windows) == pytest.approx(-1.0 + past)
    # flags in the probationary period are ignored
    assert nab_score_series(_flags([0, 5, 14], index), windows) == -1.0
    assert nab_score_series(_flags([15], index), windows) == pytest.approx(-1.11)


def test_window_inside_probation_is_not_scored_but_weights_later_fps() -> None:
    index = pd.date_range("2024-01-01", periods=100, freq="h")
    windows = [(index[2], index[9])]  # ends before row 15
    assert nab_score_series(pd.Series(False, index=index), windows) == 0.0
    # a flag at row 16 is 7 rows past a window of width 8: S(7 / 7)
    expected = 0.11 * _sigmoid(1.0)
    assert nab_score_series(_flags([16], index), windows) == pytest.approx(expected)
    with pytest.raises(DataError, match="probationary"):
        nab_score({"a": pd.Series(False, index=index)}, {"a": windows})


def test_nab_repeated_and_unsorted_timestamps_follow_row_order() -> None:
    # As in NAB's files: a repeated timestamp maps to its first row; rows are used in file order
    stamps = list(pd.date_range("2024-01-01", periods=40, freq="h"))
    stamps[30:30] = [stamps[25], stamps[26]]  # time steps back, then repeats
    index = pd.DatetimeIndex(stamps)
    windows = [(stamps[20], stamps[26])]
    rng = np.random.default_rng(3)
    for _ in range(20):
        flags = pd.Series(rng.random(len(index)) < 0.2, index=index)
        expected = reference_nab_raw(stamps, list(flags), windows, 1.0, 0.11, 1.0)
        assert nab_score_series(flags, windows) == pytest.approx(expected, abs=1e-12)


def test_one_row_window_fp_counts_as_far() -> None:
    index = pd.date_range("2024-01-01", periods=100, freq="h")
    got = nab_score_series(_flags([50, 51], index), [(index[50], index[50])])
    assert got == pytest.approx(1.0 - 0.11)


def test_nab_bad_input() -> None:
    index = pd.date_range("2024-01-01", periods=100, freq="h")
    flags = pd.Series(False, index=index)
    with pytest.raises(DataError, match="exact timestamp"):
        nab_score_series(flags, [(index[50] + pd.Timedelta("1min"), index[60])])
    with pytest.raises(DataError, match="overlap"):
        nab_score_series(flags, [(index[50], index[60]), (index[55], index[70])])
    with pytest.raises(DataError, match="starts after it ends"):
        nab_score_series(flags, [(index[60], index[50])])
    with pytest.raises(DataError, match="must be bool"):
        nab_score_series(flags.astype(int), [])
    with pytest.raises(DataError, match="DatetimeIndex"):
        nab_score_series(pd.Series([True, False]), [])
    with pytest.raises(ConfigurationError, match="unknown NAB profile"):
        nab_score_series(flags, [], profile="strict")
    with pytest.raises(ConfigurationError, match="fpWeight"):
        nab_score_series(flags, [], profile={"tpWeight": 1, "fnWeight": 1})
    with pytest.raises(DataError, match="no entry"):
        nab_score({"a": flags}, {"b": []})
    with pytest.raises(DataError, match="series 'a'"):
        nab_score({"a": flags.astype(float)}, {"a": []})
    with pytest.raises(DataError, match="dict"):
        nab_score([flags], {"a": []})  # type: ignore[arg-type]


def test_profiles_aliases_and_custom_weights() -> None:
    index = pd.date_range("2024-01-01", periods=100, freq="h")
    flags = _flags([20], index)
    windows = [(index[50], index[59])]
    assert nab_score_series(flags, windows, "reward_low_FP_rate") == nab_score_series(
        flags, windows, "LOW_FP"
    )
    assert nab_score_series(flags, windows, "low-fn") == pytest.approx(-2.11)
    custom = {"CostMatrix": {"tpWeight": 2.0, "fpWeight": 0.5, "fnWeight": 3.0}}
    assert nab_score_series(flags, windows, custom) == pytest.approx(-3.5)


def test_nab_score_normalisation() -> None:
    index = pd.date_range("2024-01-01", periods=200, freq="h")
    windows = {"a": [(index[50], index[59]), (index[100], index[119])], "b": [], "c": []}
    null = {k: pd.Series(False, index=index) for k in windows}
    assert nab_score(null, windows) == 0.0
    assert nab_score(null, windows, "reward_low_FN_rate") == 0.0
    perfect = dict(null, a=_flags([50, 100], index))
    assert nab_score(perfect, windows) == pytest.approx(100.0)
    one = dict(null, a=_flags([50], index))
    assert nab_score(one, windows) == pytest.approx(50.0)
    # extra keys in windows_by_series are ignored
    assert nab_score({"a": perfect["a"]}, windows) == pytest.approx(100.0)


# ============================================================================ NAB optimiser
def test_optimizer_matches_trying_every_threshold() -> None:
    rng = np.random.default_rng(11)
    scores, windows = {}, {}
    for j in range(4):
        _, s, w = _random_series(rng)
        s = (s * 0.8).round(2)
        for start, end in w:  # a clear peak somewhere in each window
            inside = np.flatnonzero((s.index >= start) & (s.index <= end))
            s.iloc[rng.choice(inside, size=min(2, len(inside)), replace=False)] = rng.choice(
                [0.85, 0.9, 0.95]
            )
        scores[f"s{j}"], windows[f"s{j}"] = s, w
    if not any(windows.values()):  # pragma: no cover - the seed gives windows
        pytest.fail("test data has no window")
    for profile in NAB_PROFILES:
        threshold, best = nab_optimize_threshold(scores, windows, profile)
        candidates = np.unique(np.concatenate([s.to_numpy() for s in scores.values()]))
        brute = {
            float(h): nab_score({k: s >= h for k, s in scores.items()}, windows, profile)
            for h in candidates
        }
        top = max(brute.values())
        assert top > 1e-9  # flagging something beats the null detector here
        assert best == pytest.approx(top, abs=1e-9)
        winners = [h for h, v in brute.items() if v == pytest.approx(top, abs=1e-9)]
        assert threshold == max(winners)
        flags = {k: s >= threshold for k, s in scores.items()}
        assert nab_score(flags, windows, profile) == pytest.approx(best, abs=1e-9)


def test_optimizer_flags_nothing_when_every_flag_hurts() -> None:
    index = pd.date_range("2024-01-01", periods=200, freq="h")
    scores = pd.Series(1.0, index=index)
    scores.iloc[100:110] = 0.0  # low inside the window, high everywhere else
    threshold, score = nab_optimize_threshold({"a": scores}, {"a": [(index[100], index[109])]})
    assert threshold == math.inf and score == 0.0


def test_errors_are_anomark_errors() -> None:
    with pytest.raises(AnomarkError):
        nab_optimize_threshold({}, {})


# ============================================================================ NAB corpus
DETECTORS = ("randomCutForest", "numenta")


@pytest.fixture(scope="module")
def nab_results(nab_dir: Path) -> dict[str, dict[str, pd.DataFrame]]:
    """NAB's published per-row results of two detectors, keyed by detector then series."""
    out: dict[str, dict[str, pd.DataFrame]] = {}
    for detector in DETECTORS:
        files = sorted((nab_dir / "results" / detector).glob("*/*.csv"))
        if len(files) != 58:
            pytest.skip(f"NAB results of {detector} incomplete in {nab_dir}")
        out[detector] = {}
        for file in files:
            frame = pd.read_csv(file)
            frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("timestamp")))
            name = f"{file.parent.name}/{file.name[len(detector) + 1 :]}"
            out[detector][name] = frame
    return out


@pytest.fixture(scope="module")
def nab_config(nab_dir: Path) -> dict[str, dict]:
    def read(rel: str) -> dict:
        return json.loads((nab_dir / rel).read_text())

    return {
        "windows": read("labels/combined_windows.json"),
        "thresholds": read("config/thresholds.json"),
        "final": read("results/final_results.json"),
    }


@pytest.mark.parametrize("detector", DETECTORS)
@pytest.mark.parametrize("profile", list(NAB_PROFILES))
def test_reproduces_nab_scoreboard(
    nab_results: dict, nab_config: dict, detector: str, profile: str
) -> None:
    threshold = nab_config["thresholds"][detector][profile]["threshold"]
    flags = {k: f["anomaly_score"] >= threshold for k, f in nab_results[detector].items()}
    got = nab_score(flags, nab_config["windows"], profile)
    assert got == pytest.approx(nab_config["final"][detector][profile], abs=1e-6)
    raw = sum(nab_score_series(flags[k], nab_config["windows"][k], profile) for k in flags)
    assert raw == pytest.approx(nab_config["thresholds"][detector][profile]["score"], abs=1e-6)


def test_scoreboard_numbers_of_the_brief(nab_results: dict, nab_config: dict) -> None:
    for detector, expected in (("randomCutForest", 51.7), ("numenta", 70.1)):
        threshold = nab_config["thresholds"][detector]["standard"]["threshold"]
        flags = {k: f["anomaly_score"] >= threshold for k, f in nab_results[detector].items()}
        assert round(nab_score(flags, nab_config["windows"]), 1) == expected


@pytest.mark.parametrize("detector", DETECTORS)
def test_per_file_scores_match_nab(
    nab_dir: Path, nab_results: dict, nab_config: dict, detector: str
) -> None:
    for profile in NAB_PROFILES:
        table = pd.read_csv(nab_dir / "results" / detector / f"{detector}_{profile}_scores.csv")
        table = table.dropna(subset=["File"]).set_index("File")
        threshold = nab_config["thresholds"][detector][profile]["threshold"]
        for name, frame in nab_results[detector].items():
            got = nab_score_series(
                frame["anomaly_score"] >= threshold, nab_config["windows"][name], profile
            )
            # the per-row score column sums to the file's score
            assert got == pytest.approx(frame[f"S(t)_{profile}"].sum(), abs=1e-9), name
            assert got == pytest.approx(table.loc[name, "Score"], abs=1e-9), name


@pytest.mark.parametrize("detector", DETECTORS)
def test_optimizer_on_nab_results(nab_results: dict, nab_config: dict, detector: str) -> None:
    scores = {k: f["anomaly_score"] for k, f in nab_results[detector].items()}
    for profile in NAB_PROFILES:
        threshold, best = nab_optimize_threshold(scores, nab_config["windows"], profile)
        published = nab_config["final"][detector][profile]
        assert best >= published - 1e-9  # exhaustive: never worse than NAB's own search
        flags = {k: s >= threshold for k, s in scores.items()}
        assert nab_score(flags, nab_config["windows"], profile) == pytest.approx(best, abs=1e-9)
    threshold, best = nab_optimize_threshold(scores, nab_config["windows"])
    assert best == pytest.approx(nab_config["final"][detector]["standard"], abs=1e-6)


def test_default_windows_are_nab_labels(nab_results: dict, nab_config: dict) -> None:
    threshold = nab_config["thresholds"]["numenta"]["standard"]["threshold"]
    flags = {k: f["anomaly_score"] >= threshold for k, f in nab_results["numenta"].items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = nab_score(flags)
    assert got == pytest.approx(nab_config["final"]["numenta"]["standard"], abs=1e-6)
    with pytest.raises(DataError, match="not a NAB series"):
        nab_score({"mine.csv": flags["realKnownCause/nyc_taxi.csv"]})

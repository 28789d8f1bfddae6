"""Range metrics edges pinned by value: exact messages naming the call and the argument,
defaults and options passed through by vus_pr/vus_roc and evaluate(), a custom cardinality by
hand, and TimeEval on ranges at the ends of the series and on slopes that meet exactly (found
thin by mutation testing, issue 17)."""

from __future__ import annotations

import math
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

from anomark.errors import ConfigurationError, DataError
from anomark.evaluation import (
    best_event_f1,
    evaluate,
    event_scores,
    nab_score,
    nab_score_series,
    range_pr_auc,
    range_precision_recall,
    range_roc_auc,
    vus,
    vus_pr,
    vus_roc,
)
from anomark.evaluation._points import runs
from anomark.evaluation.nab import NAB_PROFILES
from anomark.evaluation.summary import FLAG_METRICS, SCORE_METRICS

INDEX = pd.date_range("2024-01-01", periods=300, freq="10min")
SCORES = pd.Series(np.random.default_rng(0).random(300), index=INDEX)
WINDOWS = [(INDEX[3], INDEX[30])]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: vus_pr(SCORES, WINDOWS, max_buffer_size=-1),
         "vus: max_buffer_size must be an integer in [0, inf), got -1"),
        (lambda: vus_roc(SCORES, WINDOWS, max_buffer_size=2.5),
         "vus: max_buffer_size must be an integer in [0, inf), got 2.5"),
        (lambda: vus(SCORES, WINDOWS, max_samples=0),
         "vus: max_samples must be an integer in [1, inf), got 0"),
        (lambda: range_pr_auc(SCORES, WINDOWS, buffer_size=-3),
         "range_pr_auc: buffer_size must be an integer in [0, inf) or None, got -3"),
        (lambda: range_roc_auc(SCORES, WINDOWS, buffer_size="median"),
         "range_roc_auc: buffer_size must be an integer in [0, inf) or None, got 'median'"),
        (lambda: range_roc_auc(SCORES, WINDOWS, max_samples=0),
         "range_roc_auc: max_samples must be an integer in [1, inf), got 0"),
        (lambda: range_precision_recall(SCORES > 0.5, WINDOWS, alpha=1.5),
         "range_precision_recall: alpha must be a number in [0, 1], got 1.5"),
        (lambda: range_precision_recall(SCORES > 0.5, WINDOWS, alpha=-0.1),
         "range_precision_recall: alpha must be a number in [0, 1], got -0.1"),
        (lambda: range_precision_recall(SCORES > 0.5, WINDOWS, cardinality="two"),
         "range_precision_recall: cardinality must be one of 'one', 'reciprocal', "
         "'udf_gamma', got 'two'"),
        (lambda: range_precision_recall(SCORES > 0.5, WINDOWS, bias="udf_delta"),
         "range_precision_recall: bias must be one of 'flat', 'front', 'middle', 'back', got "
         "'udf_delta'"),
    ],
)
def test_parameter_messages(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        call()
    assert str(info.value) == message


_NO_ROWS = ("1 of 2 window(s) contain no timestamp of the {what} (first: windows[0] = "
            "(2024-01-01 00:51:00, 2024-01-01 00:52:00); the {what} span 2024-01-01 00:00:00 .. "
            "2024-01-03 01:50:00); a window outside the data or in a gap cannot be scored: drop "
            "it or give the whole series")
_GAP = [(INDEX[5] + pd.Timedelta("1min"), INDEX[5] + pd.Timedelta("2min")), (INDEX[3], INDEX[4])]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: vus(SCORES, [], 3),
         "no labelled window: range metrics compare scores with anomalies and are undefined "
         "without at least one window"),
        (lambda: range_precision_recall(SCORES > 0.5, []),
         "no labelled window: range metrics compare flags with anomalies and are undefined "
         "without at least one window"),
        (lambda: vus(SCORES, _GAP, 3), _NO_ROWS.format(what="scores")),
        (lambda: range_precision_recall(SCORES > 0.5, _GAP), _NO_ROWS.format(what="flags")),
        (lambda: vus(SCORES.tz_localize("UTC").tz_convert("Europe/Paris"),
                     [(pd.Timestamp("2030-01-01", tz="Europe/Paris"),
                       pd.Timestamp("2030-01-02", tz="Europe/Paris"))], 3),
         "1 of 1 window(s) contain no timestamp of the scores (first: windows[0] = "
         "(2030-01-01 00:00:00+01:00, 2030-01-02 00:00:00+01:00); the scores span 2024-01-01 "
         "01:00:00+01:00 .. 2024-01-03 02:50:00+01:00); a window outside the data or in a gap "
         "cannot be scored: drop it or give the whole series"),
        (lambda: vus(SCORES, [(INDEX[0], INDEX[-1])], 3),
         "every row of the scores lies inside a labelled window: with no normal point the "
         "range metrics are undefined"),
        (lambda: range_precision_recall(SCORES > 0.5, [(INDEX[0], INDEX[-1])]),
         "every row of the flags lies inside a labelled window: with no normal point the range "
         "metrics are undefined"),
        (lambda: vus(pd.Series(np.full(300, 0.25), index=INDEX), WINDOWS, 3),
         "scores are constant (0.25 everywhere): no threshold separates any point from another, "
         "so the range PR/ROC curves have no shape and VUS is undefined (TimeEval returns 0.0 "
         "with a warning here; anomark refuses)"),
        (lambda: range_precision_recall(SCORES, WINDOWS),
         "flags must be bool (True = flagged), got dtype float64; turn scores into flags first, "
         "e.g. scores >= threshold"),
        (lambda: vus(np.arange(10.0), WINDOWS, 3),
         "scores must be a pandas Series of numbers with a DatetimeIndex, got ndarray"),
        (lambda: evaluate(SCORES.astype(str), WINDOWS, max_buffer_size=2),
         "scores must be numeric, got dtype str"),
        (lambda: evaluate(SCORES, WINDOWS, SCORES, max_buffer_size=2),
         "flags must be bool (True = flagged), got dtype float64; turn scores into flags first, "
         "e.g. scores >= threshold"),
        (lambda: evaluate(SCORES, WINDOWS, (SCORES > 0.5).iloc[1:], max_buffer_size=2),
         "flags has 299 row(s) but scores has 300: give one flag per scored row (e.g. "
         "Detection.flags with Detection.scores)"),
        (lambda: evaluate(SCORES, WINDOWS, pd.Series((SCORES > 0.5).to_numpy(),
                                                     index=INDEX - pd.Timedelta("1h")),
                          max_buffer_size=2),
         "flags and scores have different timestamps (first at row 0: 2023-12-31 23:00:00 vs "
         "2024-01-01 00:00:00); give one flag per scored row"),
    ],
)
def test_data_messages(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(DataError) as info:
        call()
    assert str(info.value) == message


def test_vus_pr_and_vus_roc_defaults_and_options() -> None:
    scores = SCORES.copy()
    scores.iloc[100:110] += 0.7
    windows = [(INDEX[100], INDEX[109]), (INDEX[200], INDEX[205])]
    default = vus(scores, windows)
    assert default == vus(scores, windows, 500)
    assert default != vus(scores, windows, 501)  # the default buffer really is 500
    assert (vus_pr(scores, windows), vus_roc(scores, windows)) == (
        default["vus_pr"], default["vus_roc"])
    coarse = vus(scores, windows, 20, max_samples=5)
    assert coarse != vus(scores, windows, 20)
    assert vus_pr(scores, windows, 20, max_samples=5) == coarse["vus_pr"]
    assert vus_roc(scores, windows, 20, max_samples=5) == coarse["vus_roc"]


def test_evaluate_passes_every_option_through() -> None:
    rng = np.random.default_rng(6)
    values = rng.random(300)
    values[100:110] += 1.5
    scores = pd.Series(values, index=INDEX)
    windows = [(INDEX[100], INDEX[109]), (INDEX[150], INDEX[160])]
    flags = scores > 0.9
    flags.iloc[95:105] = True  # a flagged range spilling out of the first window
    out = evaluate(scores, windows, flags)
    assert set(out) == set(SCORE_METRICS) | set(FLAG_METRICS)
    assert set(evaluate(scores, windows)) == set(SCORE_METRICS)
    both = vus(scores, windows)  # max_buffer_size 500 by default in both
    assert (out["vus_pr"], out["vus_roc"]) == (both["vus_pr"], both["vus_roc"])
    assert (out["range_precision"], out["range_recall"], out["range_f1"]) == (
        range_precision_recall(flags, windows))
    events = event_scores(flags, windows)
    assert (out["event_precision"], out["event_recall"], out["event_f1"], out["detected"],
            out["false_alarms"]) == (events["precision"], events["recall"], events["f1"],
                                     events["detected"], events["false_alarms"])
    assert (out["best_event_f1"], out["best_threshold"]) == best_event_f1(scores, windows)
    assert 0.0 < out["best_event_f1"] < 1.0
    assert out["nab_raw"] == nab_score_series(flags, windows)
    for name in NAB_PROFILES:
        assert out[f"nab_{name}"] == nab_score({"series": flags}, {"series": windows}, name)
    chosen = evaluate(scores, windows, flags, max_buffer_size=7, alpha=0.3,
                      cardinality="one", bias="back")
    assert chosen["vus_pr"] == vus_pr(scores, windows, 7)
    assert (chosen["range_precision"], chosen["range_recall"], chosen["range_f1"]) == (
        range_precision_recall(flags, windows, 0.3, "one", "back"))
    assert chosen["range_recall"] != out["range_recall"]
    # the bias alone changes the numbers (partial overlaps)
    back = evaluate(scores, windows, flags, max_buffer_size=7, bias="back")
    assert back["range_precision"] == range_precision_recall(flags, windows, bias="back")[0]
    assert back["range_precision"] != out["range_precision"]


def test_evaluate_warns_once_and_blanks_every_nab_entry() -> None:
    scores = pd.Series(np.random.default_rng(7).random(300), index=INDEX)
    windows = [(INDEX[200] + pd.Timedelta("1min"), INDEX[210])]  # start between rows
    with pytest.warns(UserWarning) as record:
        out = evaluate(scores, windows, scores > 0.9, max_buffer_size=4)
    assert len(record) == 1
    assert str(record[0].message).startswith("NAB score not computed: ")
    for key in ("nab_raw", *(f"nab_{p}" for p in NAB_PROFILES)):
        assert isinstance(out[key], float) and math.isnan(out[key])


def _two_hits() -> tuple[pd.Series, list[tuple[Any, Any]]]:
    """One labelled range of 10 rows hit by two flagged ranges of 2 rows each."""
    flags = pd.Series(False, index=INDEX[:30])
    flags.iloc[[2, 3, 6, 7]] = True
    return flags, [(INDEX[0], INDEX[9])]


@pytest.mark.parametrize(
    ("cardinality", "recall"),
    [
        ("reciprocal", 0.5 * 0.4),
        ("one", 0.4),
        (lambda k: 1.0 / k**2, 0.25 * 0.4),
        (lambda k: 0.0, 0.0),     # both ends of [0, 1] are allowed
        (lambda k: 1.0, 0.4),
    ],
)
def test_cardinality_by_hand(cardinality: Any, recall: float) -> None:
    flags, windows = _two_hits()
    p, r, f = range_precision_recall(flags, windows, cardinality=cardinality)
    assert p == 1.0  # each flagged range lies inside the anomaly
    assert r == pytest.approx(recall, abs=1e-15)
    assert f == pytest.approx(2 * r / (1 + r) if r else 0.0, abs=1e-15)


def test_cardinality_outside_zero_one_names_the_count() -> None:
    flags, windows = _two_hits()
    with pytest.raises(ConfigurationError) as info:
        range_precision_recall(flags, windows, cardinality=lambda k: -0.5)
    assert str(info.value) == "cardinality(2) must return a number in [0, 1], got -0.5"


# ---------------------------------------------------------------- against TimeEval


def _check(te: ModuleType, labels: np.ndarray, scores: np.ndarray, size: int) -> None:
    index = pd.date_range("2024-01-01", periods=len(labels), freq="5min")
    starts, ends = runs(labels.astype(bool))
    windows = [(index[a], index[b - 1]) for a, b in zip(starts, ends, strict=True)]
    series = pd.Series(scores, index=index)
    assert range_pr_auc(series, windows, size) == pytest.approx(
        te.RangePrAUC(buffer_size=size)(labels, scores), abs=1e-9)
    assert range_roc_auc(series, windows, size) == pytest.approx(
        te.RangeRocAUC(buffer_size=size)(labels, scores), abs=1e-9)


@pytest.mark.parametrize("size", [2, 5, 9])
def test_ranges_at_both_ends_of_the_series_match_timeeval(te: ModuleType, size: int) -> None:
    # the highest scores sit on the first and last rows, just outside ranges starting at row
    # 1 and ending one row before the last: only the slopes reach them
    labels = np.zeros(80, dtype=np.int64)
    labels[1:4] = labels[40:42] = labels[76:79] = 1
    scores = np.linspace(0.1, 0.0, 80)
    scores[0], scores[79] = 2.0, 1.5
    _check(te, labels, scores, size)


@pytest.mark.parametrize("size", [10, 11, 14, 20])
def test_slopes_meeting_exactly_match_timeeval(te: ModuleType, size: int) -> None:
    # two ranges 2 L rows apart: the point just past the first range's slope lies exactly L
    # rows before the second range, so it carries weight and counts for the first range too
    half = size // 2
    labels = np.zeros(140, dtype=np.int64)
    labels[50:55] = 1
    labels[55 + 2 * half:60 + 2 * half] = 1
    scores = np.linspace(0.0, 0.1, 140)
    scores[55 + half] = 1.0
    _check(te, labels, scores, size)

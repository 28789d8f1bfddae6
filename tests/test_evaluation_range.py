"""Range metrics: VUS-PR/ROC, range PR/ROC AUC, range precision/recall, evaluate().

Hand-computed cases and properties; the comparisons with TimeEval and prts themselves are in
``test_evaluation_reference.py``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from anomark.errors import ConfigurationError, DataError
from anomark.evaluation import (
    evaluate,
    range_pr_auc,
    range_precision_recall,
    range_roc_auc,
    vus,
    vus_pr,
    vus_roc,
)

INDEX = pd.date_range("2024-01-01", periods=300, freq="10min")


def _series(values: np.ndarray, index: pd.DatetimeIndex = INDEX) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float), index=index[: len(values)])


def _flags(values: np.ndarray, index: pd.DatetimeIndex = INDEX) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=bool), index=index[: len(values)])


# ---------------------------------------------------------------- range PR/ROC AUC and VUS


def test_range_auc_hand_computed() -> None:
    # four points, the second labelled; buffer 0: TimeEval's curves without slopes
    idx = INDEX[:4]
    windows = [(idx[1], idx[1])]
    hit = _series([0.1, 0.9, 0.2, 0.3])
    assert range_pr_auc(hit, windows, buffer_size=0) == pytest.approx(1.0)
    assert range_roc_auc(hit, windows, buffer_size=0) == pytest.approx(1.0)
    # the labelled point ranks third: recall reaches 1 at precision 1/3, FPR 2/3
    miss = _series([0.1, 0.2, 0.9, 0.3])
    assert range_pr_auc(miss, windows, buffer_size=0) == pytest.approx(1 / 6)
    assert range_roc_auc(miss, windows, buffer_size=0) == pytest.approx(1 / 3)
    # buffer sizes 0 and 1 add no slope
    assert vus_pr(miss, windows, max_buffer_size=1) == pytest.approx(1 / 6)
    assert vus_roc(miss, windows, max_buffer_size=1) == pytest.approx(1 / 3)


def test_vus_is_the_mean_over_buffer_sizes() -> None:
    rng = np.random.default_rng(0)
    values = rng.random(300)
    values[100:120] += 0.6
    scores = _series(values)
    windows = [(INDEX[100], INDEX[119]), (INDEX[200], INDEX[204])]
    pr = [range_pr_auc(scores, windows, buffer_size=b) for b in range(0, 13)]
    roc = [range_roc_auc(scores, windows, buffer_size=b) for b in range(0, 13)]
    both = vus(scores, windows, 12)
    assert both["vus_pr"] == pytest.approx(np.mean(pr), abs=1e-12)
    assert both["vus_roc"] == pytest.approx(np.mean(roc), abs=1e-12)
    assert vus_pr(scores, windows, 12) == both["vus_pr"]
    assert vus_roc(scores, windows, 12) == both["vus_roc"]
    # buffer sizes 2k and 2k + 1 have the same slopes
    assert pr[4] == pr[5] and roc[6] == roc[7]
    # the default buffer is the median range length (20 and 5 -> int(12.5) = 12)
    assert range_pr_auc(scores, windows) == pr[12]


def test_vus_rewards_a_detector_that_finds_the_anomaly() -> None:
    rng = np.random.default_rng(1)
    noise = rng.random(300)
    windows = [(INDEX[150], INDEX[159])]
    good = noise.copy()
    good[150:160] += 2.0
    near = noise.copy()
    near[165:175] += 2.0  # just after the window: partial credit from the slopes
    far = noise.copy()
    far[20:30] += 2.0
    v = {name: vus(_series(x), windows, 60) for name, x in
         (("good", good), ("near", near), ("far", far), ("noise", noise))}
    assert v["good"]["vus_pr"] > v["near"]["vus_pr"] > v["far"]["vus_pr"]
    assert v["good"]["vus_roc"] > v["near"]["vus_roc"] > v["far"]["vus_roc"]
    assert v["good"]["vus_pr"] > v["noise"]["vus_pr"]
    for result in v.values():
        assert 0.0 <= result["vus_pr"] <= 1.0 and 0.0 <= result["vus_roc"] <= 1.0


def test_vus_depends_only_on_the_order_of_the_scores() -> None:
    rng = np.random.default_rng(2)
    values = rng.normal(size=300)
    values[40:60] += 1.5
    windows = [(INDEX[40], INDEX[59]), (INDEX[250], INDEX[299])]
    base = vus(_series(values), windows, 40)
    assert vus(_series(np.exp(3 * values) + 7), windows, 40) == pytest.approx(base, abs=1e-12)
    assert vus(_series(values), windows, 40) == base  # deterministic


def test_fewer_thresholds_than_points() -> None:
    rng = np.random.default_rng(3)
    scores = _series(rng.random(300))
    windows = [(INDEX[10], INDEX[30])]
    coarse = vus(scores, windows, 20, max_samples=5)
    fine = vus(scores, windows, 20, max_samples=300)
    assert coarse != fine
    assert vus(scores, windows, 20, max_samples=10_000) == fine  # capped at n


def test_window_ends_between_timestamps_and_time_zones() -> None:
    rng = np.random.default_rng(4)
    values = rng.random(300)
    values[50:70] += 1
    windows = [(INDEX[50] - pd.Timedelta("3min"), INDEX[69] + pd.Timedelta("4min"))]
    naive = vus(_series(values), windows, 30)
    assert naive == vus(_series(values), [(INDEX[50], INDEX[69])], 30)
    aware_index = INDEX.tz_localize("UTC")
    aware = [(a.tz_localize("UTC"), b.tz_localize("UTC")) for a, b in windows]
    assert vus(_series(values, aware_index), aware, 30) == naive
    with pytest.raises(DataError, match="timezone"):
        vus(_series(values, aware_index), windows, 30)


def test_touching_windows_form_one_range() -> None:
    rng = np.random.default_rng(5)
    scores = _series(rng.random(300))
    split = [(INDEX[100], INDEX[109]), (INDEX[110], INDEX[119])]
    assert vus(scores, split, 30) == vus(scores, [(INDEX[100], INDEX[119])], 30)


# ---------------------------------------------------------------- range precision / recall


def test_range_precision_recall_hand_computed() -> None:
    flags = np.zeros(20, dtype=bool)
    flags[8:12] = True
    window = [(INDEX[6], INDEX[9])]
    # overlap rows 8, 9: half of the window (recall), half of the flagged range (precision)
    assert range_precision_recall(_flags(flags), window) == (0.5, 0.5, 0.5)
    # existence reward: alpha = 1 only asks for a hit
    assert range_precision_recall(_flags(flags), window, alpha=1.0)[1] == 1.0
    # front bias: rows 8, 9 are the last two of window 6..9 (weights 4, 3, 2, 1)
    p, r, _ = range_precision_recall(_flags(flags), window, bias="front")
    assert r == pytest.approx(3 / 10)
    assert p == pytest.approx(7 / 10)  # the first two of flagged range 8..11
    p, r, _ = range_precision_recall(_flags(flags), window, bias="back")
    assert (p, r) == (pytest.approx(3 / 10), pytest.approx(7 / 10))
    # middle bias on a length-4 range: weights 1, 2, 2, 1
    p, r, _ = range_precision_recall(_flags(flags), window, bias="middle")
    assert (p, r) == (pytest.approx(1 / 2), pytest.approx(1 / 2))


def test_cardinality_splits_the_reward() -> None:
    flags = np.zeros(40, dtype=bool)
    flags[[10, 12, 14]] = True  # three separate flagged ranges in one window
    window = [(INDEX[10], INDEX[19])]
    p, r, _ = range_precision_recall(_flags(flags), window, cardinality="one")
    assert (p, r) == (1.0, pytest.approx(3 / 10))
    p, r, _ = range_precision_recall(_flags(flags), window, cardinality="reciprocal")
    assert (p, r) == (1.0, pytest.approx(1 / 10))
    p, r, _ = range_precision_recall(_flags(flags), window, cardinality="udf_gamma")
    assert r == pytest.approx(3 / 10)
    p, r, _ = range_precision_recall(_flags(flags), window, cardinality=lambda k: 0.5)
    assert r == pytest.approx(3 / 20)


def test_perfect_and_silent_flags() -> None:
    flags = np.zeros(50, dtype=bool)
    flags[20:30] = True
    window = [(INDEX[20], INDEX[29])]
    assert range_precision_recall(_flags(flags), window) == (1.0, 1.0, 1.0)
    p, r, f = range_precision_recall(_flags(np.zeros(50, dtype=bool)), window)
    assert math.isnan(p) and r == 0.0 and f == 0.0
    # flagging everything: recall 1, precision = the labelled share of the one flagged range
    p, r, f = range_precision_recall(_flags(np.ones(50, dtype=bool)), window)
    assert (p, r) == (pytest.approx(10 / 50), 1.0)
    assert f == pytest.approx(2 * 0.2 / 1.2)


# ---------------------------------------------------------------- evaluate()


def test_evaluate_gives_every_metric() -> None:
    rng = np.random.default_rng(6)
    values = rng.random(300)
    values[100:110] += 1.5
    scores = _series(values)
    windows = [(INDEX[100], INDEX[109])]
    flags = scores > 1.2
    out = evaluate(scores, windows, flags, max_buffer_size=30)
    assert out["vus_pr"] == vus_pr(scores, windows, 30)
    assert out["range_pr_auc"] == range_pr_auc(scores, windows)
    assert out["range_roc_auc"] == range_roc_auc(scores, windows)
    p, r, f = range_precision_recall(flags, windows)
    assert (out["range_precision"], out["range_recall"], out["range_f1"]) == (p, r, f)
    assert out["event_recall"] == 1.0 and out["detected"] == 1
    assert out["nab_standard"] <= 100.0 and math.isfinite(out["nab_raw"])
    only_scores = evaluate(scores, windows, max_buffer_size=30)
    assert "range_f1" not in only_scores and only_scores["vus_roc"] == out["vus_roc"]


def test_evaluate_warns_when_nab_cannot_place_the_windows() -> None:
    values = np.random.default_rng(7).random(300)
    scores = _series(values)
    windows = [(INDEX[200] + pd.Timedelta("1min"), INDEX[210])]  # start between rows
    with pytest.warns(UserWarning, match="NAB score not computed"):
        out = evaluate(scores, windows, scores > 0.9, max_buffer_size=4)
    assert math.isnan(out["nab_standard"]) and math.isfinite(out["range_f1"])


# ---------------------------------------------------------------- bad input


def _noise() -> pd.Series:
    return _series(np.random.default_rng(8).random(300))


@pytest.mark.parametrize(
    ("scores", "windows", "match"),
    [
        (_noise(), [("2030-01-01", "2030-01-02")], "contain no timestamp"),
        (_noise(), [(INDEX[0] - pd.Timedelta("1D"), INDEX[0] - pd.Timedelta("1h"))],
         "contain no timestamp"),
        (_noise(), [(INDEX[5] + pd.Timedelta("1min"), INDEX[5] + pd.Timedelta("2min"))],
         "contain no timestamp"),  # in a gap between rows
        (_noise(), [], "no labelled window"),
        (_noise(), None, "no labelled window"),
        (_noise(), [(INDEX[0], INDEX[-1])], "no normal point"),
        (_noise(), [(INDEX[9], INDEX[3])], "starts after it ends"),
        (_noise(), "2024-01-01", "pairs"),
        (_series(np.full(300, 0.5)), [(INDEX[3], INDEX[9])], "constant"),
        (_series(np.r_[np.nan, np.ones(299)]), [(INDEX[3], INDEX[9])], "NaN"),
        (_series(np.r_[np.inf, np.ones(299)]), [(INDEX[3], INDEX[9])], "infinite"),
        (pd.Series(np.arange(10.0)), [(1, 3)], "DatetimeIndex"),
        (np.arange(10.0), [(INDEX[1], INDEX[3])], "pandas Series"),
        (_series(np.arange(300.0)).astype(str), [(INDEX[1], INDEX[3])], "numeric"),
    ],
)
def test_score_metrics_bad_input(scores: object, windows: object, match: str) -> None:
    for metric in (vus_pr, vus_roc, range_pr_auc, range_roc_auc):
        with pytest.raises(DataError, match=match):
            metric(scores, windows)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda s, w: vus_pr(s, w, max_buffer_size=-1), "max_buffer_size"),
        (lambda s, w: vus_roc(s, w, max_buffer_size=2.5), "max_buffer_size"),
        (lambda s, w: vus(s, w, max_samples=0), "max_samples"),
        (lambda s, w: range_pr_auc(s, w, buffer_size=-3), "buffer_size"),
        (lambda s, w: range_roc_auc(s, w, buffer_size="median"), "buffer_size"),
        (lambda s, w: range_precision_recall(s > 0.5, w, alpha=1.5), "alpha"),
        (lambda s, w: range_precision_recall(s > 0.5, w, alpha=math.nan), "alpha"),
        (lambda s, w: range_precision_recall(s > 0.5, w, cardinality="two"), "cardinality"),
        (lambda s, w: range_precision_recall(s > 0.5, w, bias="udf_delta"), "bias"),
        (lambda s, w: range_precision_recall(s > 0.5, w, cardinality=lambda k: 2.0),
         "cardinality"),
    ],
)
def test_bad_parameters(call: object, match: str) -> None:
    scores = _noise()
    with pytest.raises(ConfigurationError, match=match):
        call(scores, [(INDEX[3], INDEX[30])])  # type: ignore[operator]


@pytest.mark.parametrize(
    ("flags", "windows", "match"),
    [
        (_noise(), [(INDEX[3], INDEX[9])], "must be bool"),
        (_flags(np.zeros(300)), [("2030-01-01", "2030-01-02")], "contain no timestamp"),
        (_flags(np.zeros(300)), [], "no labelled window"),
        (_flags(np.zeros(300)), [(INDEX[0], INDEX[-1])], "no normal point"),
        (pd.Series([True, None] * 150, index=INDEX, dtype="boolean"), [(INDEX[3], INDEX[9])],
         "missing"),
    ],
)
def test_range_precision_recall_bad_input(flags: object, windows: object, match: str) -> None:
    with pytest.raises(DataError, match=match):
        range_precision_recall(flags, windows)  # type: ignore[arg-type]


def test_evaluate_flags_must_match_the_scores() -> None:
    scores = _noise()
    windows = [(INDEX[3], INDEX[30])]
    with pytest.raises(DataError, match="flags has 299 row"):
        evaluate(scores, windows, (scores > 0.5).iloc[1:], max_buffer_size=2)
    shifted = pd.Series((scores > 0.5).to_numpy(), index=INDEX + pd.Timedelta("1min"))
    with pytest.raises(DataError, match="different timestamps"):
        evaluate(scores, windows, shifted, max_buffer_size=2)
    with pytest.raises(DataError, match="must be bool"):
        evaluate(scores, windows, scores, max_buffer_size=2)  # type: ignore[arg-type]


def test_no_warning_on_good_input() -> None:
    values = np.random.default_rng(9).random(300)
    values[100:110] += 1
    scores = _series(values)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        evaluate(scores, [(INDEX[100], INDEX[109])], scores > 1.0, max_buffer_size=10)

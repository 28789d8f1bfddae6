"""Post-processor edges pinned by value: the running z-score's stored moments and its numerics
after a far-off first row of a chunk, the text form of no steps, and the value an online rule
reports from ``detect_update`` (found thin by mutation testing, issue 17)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from anomark import Threshold
from anomark.detectors import get_detector_class
from anomark.errors import ConfigurationError, DataError, PersistenceError
from anomark.postprocess import (
    AnomalyLikelihood,
    Chain,
    RangeRule,
    RunningZScore,
    format_postprocess,
    parse_postprocess,
)


def _brute_zscore(scores: np.ndarray, window: int | None, min_periods: int = 2) -> np.ndarray:
    out = np.zeros(len(scores))
    for t in range(len(scores)):
        past = scores[:t] if window is None else scores[max(0, t - window):t]
        if len(past) >= min_periods and past.std() > 1e-12 * max(abs(past.mean()), 1e-300):
            out[t] = (scores[t] - past.mean()) / past.std()
    return out


# ---------------------------------------------------------------------- RunningZScore
@pytest.mark.parametrize("window", [None, 30])
def test_running_zscore_keeps_the_moments_the_next_row_meets(window: int | None) -> None:
    """count_, mean_ and m2_ (sum of squared deviations) are those of the scores the next row
    is measured against: all earlier scores after the burn-in, or the last ``window`` ones."""
    scores = np.random.default_rng(0).normal(5.0, 2.0, 200)
    proc = RunningZScore(window=window, burn_in=7)
    proc.update(scores[:120])
    proc.update(scores[120:])
    kept = scores[7:] if window is None else scores[-window:]
    assert proc.n_seen_ == 200
    assert proc.count_ == len(kept)
    assert proc.mean_ == pytest.approx(kept.mean(), rel=1e-13)
    assert proc.m2_ == pytest.approx(((kept - kept.mean()) ** 2).sum(), rel=1e-11)
    scalars, _ = proc.get_state()
    assert scalars == {"n_seen_": 200, "count_": len(kept), "mean_": proc.mean_, "m2_": proc.m2_}


@pytest.mark.parametrize("window", [None, 50])
@pytest.mark.parametrize(("offset", "sd", "spike"), [(1e9, 1.0, 1e8), (0.0, 1e-6, 1e2)])
def test_running_zscore_after_a_chunk_that_starts_far_off(
    window: int | None, offset: float, sd: float, spike: float
) -> None:
    """A chunk whose first score lies 1e8 sd away from the earlier ones (near 1e9 with unit
    spread, or near 0 with a spread of 1e-6): the rows after it are still standardised to
    1e-6, the rounding of the scores themselves. (Running sums of squares over the spike,
    differenced, would cancel every digit of the window's spread once it left the window.)"""
    rng = np.random.default_rng(1)
    scores = offset + rng.normal(0.0, sd, 400)
    scores[200] += spike
    proc = RunningZScore(window=window)
    out = np.concatenate((proc.update(scores[:200]), proc.update(scores[200:])))
    expect = _brute_zscore(scores, window)
    np.testing.assert_allclose(out, expect, rtol=1e-6, atol=1e-6)
    if window is not None:
        assert abs(out[300:]).max() < 5.0  # the spike has left the window


@pytest.mark.parametrize("window", [None, 5])
def test_running_zscore_of_a_single_row(window: int | None) -> None:
    proc = RunningZScore(window=window, min_periods=1)
    assert proc.update(np.array([3.0])).tolist() == [0.0]
    assert proc.update(np.array([4.0])).tolist() == [0.0]  # one earlier score: no spread
    assert proc.update(np.array([5.0])).tolist() == [3.0]  # mean 3.5, sd 0.5


# ---------------------------------------------------------------------- text form
def test_no_steps_read_none() -> None:
    assert format_postprocess([]) == "none"
    assert format_postprocess(None) == "none"
    assert str(Chain([])) == "none"
    assert str(Chain([RunningZScore(window=5), RangeRule(value=10.0)])) == (
        "zscore:window=5+range:value=10.0")
    assert str(RunningZScore(window=5)) == "zscore:window=5"
    assert AnomalyLikelihood(tail="both").to_text() == "likelihood:tail=both"


# ---------------------------------------------------------------------- online rules
def _online(**kw: Any) -> Any:
    return get_detector_class("rcf")(
        shingle_size=4, num_trees=50, num_samples_per_tree=64, random_state=0, **kw
    )


def _stream(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    v = np.sin(np.arange(n) / 8.0) + rng.normal(0, 0.05, n)
    return pd.DataFrame({"v": v}, index=pd.date_range("2024-01-01", periods=n, freq="5min"))


def test_detect_update_with_a_fixed_rule_reports_its_value() -> None:
    det = _online(postprocess=[RunningZScore()], threshold=Threshold.fixed(4.0))
    found = det.detect_update(_stream(600))
    ready = _online().score_update(_stream(600)).to_numpy() != 0.0  # rows the forest scored
    assert ready.sum() > 400
    thresholds = found.thresholds.to_numpy()
    assert (thresholds[ready] == 4.0).all() and np.isinf(thresholds[~ready]).all()
    assert found.threshold == 4.0
    assert det.threshold_ == Threshold.fixed(4.0).fit([0.0])


def test_detect_update_with_spot_reports_inf_while_calibrating_then_its_value() -> None:
    rule = Threshold.spot(q=1e-3)
    det = _online(postprocess=[RunningZScore()], threshold=rule)
    data = _stream(2600)
    first = det.detect_update(data.iloc[:600])  # fewer ready rows than calibration_size
    assert first.threshold == np.inf and np.isinf(first.thresholds.to_numpy()).all()
    assert not det.threshold_.is_fitted
    rest = det.detect_update(data.iloc[600:])
    assert det.threshold_.method == "spot" and det.threshold_.is_fitted
    assert np.isfinite(rest.threshold)
    assert rest.threshold == det.threshold_.value_


# ---------------------------------------------------------------------- saved states
def test_a_chain_whose_steps_keep_no_arrays_restores_its_state() -> None:
    scores = np.random.default_rng(4).normal(size=300)
    chain = Chain([RunningZScore(), RunningZScore(min_periods=5)])
    chain.update(scores[:200])
    scalars, arrays = chain.get_state()
    assert arrays == {}
    back = Chain([RunningZScore(), RunningZScore(min_periods=5)]).set_state(scalars, arrays)
    assert back.n_seen_ == 200
    np.testing.assert_array_equal(back.update(scores[200:]), chain.update(scores[200:]))


def _likelihood() -> AnomalyLikelihood:
    return AnomalyLikelihood(learning_period=5, estimation_samples=10, historic_window=40,
                             reestimation_period=5)


def _likelihood_state(with_values: bool = True) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    proc = _likelihood()
    proc.update(rng.random(60), values=rng.random((60, 2)) if with_values else None)
    return proc.get_state()


def test_likelihood_without_values_round_trips_and_continues() -> None:
    rng = np.random.default_rng(5)
    scores = rng.random(200)
    proc = _likelihood()
    proc.update(scores[:120])
    scalars, arrays = proc.get_state()
    assert scalars["n_columns_"] is None and "history_values_" not in arrays
    back = _likelihood().set_state(scalars, arrays)
    np.testing.assert_array_equal(back.update(scores[120:]), proc.update(scores[120:]))


_INCONSISTENT = "AnomalyLikelihood state is inconsistent: "


@pytest.mark.parametrize(
    ("scalars", "arrays", "message"),
    [
        ({}, {"history_": np.ones(39)}, "history_ must hold the last 40 scores"),
        ({"n_columns_": 2.0}, {}, "history_values_ must match history_ and n_columns_"),
        ({"n_columns_": 0}, {}, "history_values_ must match history_ and n_columns_"),
        ({}, {"history_values_": None}, "history_values_ must match history_ and n_columns_"),
        ({}, {"history_values_": np.ones((40, 3))},
         "history_values_ must match history_ and n_columns_"),
        ({"n_columns_": None}, {}, "history_values_ without n_columns_"),
        ({"dist_std_": None}, {}, "dist_mean_ and dist_std_ go together"),
        ({"dist_std_": 0.0}, {}, "dist_std_ must be > 0"),
        ({"dist_std_": -1.0}, {}, "dist_std_ must be > 0"),
        ({}, {"ma_scores_": np.ones(11)}, "ma_scores_ must hold at most 10 numbers"),
        ({}, {"ma_scores_": np.ones((1, 3))}, "ma_scores_ must hold at most 10 numbers"),
        ({}, {"recent_probabilities_": None},
         "recent_probabilities_ must hold at most 10 numbers"),
    ],
)
def test_likelihood_state_consistency_messages(
    scalars: dict[str, Any], arrays: dict[str, Any], message: str
) -> None:
    good_scalars, good_arrays = _likelihood_state()
    bad_arrays = {**good_arrays, **arrays}
    bad_arrays = {k: v for k, v in bad_arrays.items() if v is not None}
    proc = _likelihood()
    with pytest.raises(PersistenceError) as info:
        proc.set_state({**good_scalars, **scalars}, bad_arrays)
    assert str(info.value) == _INCONSISTENT + message
    assert not proc.is_started  # a refused state leaves nothing behind


# ---------------------------------------------------------------------- text form values
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("zscore:window=none", RunningZScore(window=None)),
        ("zscore:window=NULL", RunningZScore(window=None)),
        ("likelihood:log_scale=true", AnomalyLikelihood(log_scale=True)),
        ("likelihood:log_scale=Yes", AnomalyLikelihood(log_scale=True)),
        ("likelihood:log_scale=1", AnomalyLikelihood(log_scale=True)),
        ("likelihood:log_scale=FALSE", AnomalyLikelihood(log_scale=False)),
        ("likelihood:log_scale=no", AnomalyLikelihood(log_scale=False)),
        ("likelihood:log_scale=0", AnomalyLikelihood(log_scale=False)),
    ],
)
def test_text_values_none_and_booleans(text: str, expected: Any) -> None:
    (step,) = parse_postprocess(text)
    assert step == expected
    key = text.split(":")[1].split("=")[0]
    assert type(step.get_params()[key]) is type(expected.get_params()[key])  # True, not 1


def test_text_of_a_false_boolean_and_a_word_for_a_number() -> None:
    assert AnomalyLikelihood(log_scale=False).to_text() == "likelihood:log_scale=false"
    with pytest.raises(ConfigurationError) as info:
        parse_postprocess("zscore:window=abc")
    assert str(info.value) == "zscore: window: expected a number, got 'abc'"


def _round_trip(make: Any, feed: Any) -> None:
    """A state reached by ``feed`` is accepted back and continues exactly."""
    proc = make()
    feed(proc)
    scalars, arrays = proc.get_state()
    back = make().set_state(scalars, arrays)
    assert back.get_state()[0] == scalars
    rng = np.random.default_rng(6)
    more, values = rng.normal(size=40), rng.normal(size=(40, 2))
    uses = proc.uses_values and (isinstance(proc, Chain)
                                 or getattr(proc, "n_columns_", None) is not None)
    np.testing.assert_array_equal(back.update(more, values=values if uses else None),
                                  proc.update(more, values=values if uses else None))


@pytest.mark.parametrize(
    ("make", "feed"),
    [
        # the burn-in not over yet (no score counted, an empty window)
        (lambda: RunningZScore(burn_in=10), lambda p: p.update(np.arange(5.0))),
        (lambda: RunningZScore(window=20, burn_in=10), lambda p: p.update(np.arange(5.0))),
        (lambda: RunningZScore(window=20, burn_in=10), lambda p: p.update(np.arange(15.0))),
        # constant scores: m2_ = 0
        (lambda: RunningZScore(), lambda p: p.update(np.ones(30))),
        # values seen with no row yet, never, a constant column (min_ = max_), one row
        (lambda: RangeRule(), lambda p: p.update(np.array([]), values=np.empty((0, 2)))),
        (lambda: RangeRule(), lambda p: p.update(np.ones(3))),
        (lambda: RangeRule(), lambda p: p.update(np.ones(3), values=np.c_[np.ones(3),
                                                                          np.arange(3.0)])),
        (lambda: RangeRule(), lambda p: p.update(np.ones(1), values=np.ones((1, 2)))),
        # a chain started on an empty chunk, a chain inside a chain
        (lambda: Chain([RunningZScore()]), lambda p: p.update(np.array([]))),
        (lambda: Chain([Chain([RunningZScore(window=5)]), RangeRule()]),
         lambda p: p.update(np.arange(9.0), values=np.c_[np.arange(9.0), np.ones(9)])),
    ],
    ids=["burn-in", "window-burn-in", "window-burn-in-partly", "constant", "range-empty",
         "range-no-values", "range-constant-column", "range-one-row", "chain-empty",
         "nested-chain"],
)
def test_edge_states_round_trip(make: Any, feed: Any) -> None:
    _round_trip(make, feed)


def _state_of(make: Any, feed: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    proc = make()
    feed(proc)
    return proc.get_state()


_ZS_ALL = (lambda: RunningZScore(), lambda p: p.update(np.arange(20.0)))
_ZS_WIN = (lambda: RunningZScore(window=5), lambda p: p.update(np.arange(20.0)))
_RANGE = (lambda: RangeRule(), lambda p: p.update(np.ones(4), values=np.c_[np.arange(4.0),
                                                                          np.ones(4)]))
_RANGE_ONE = (lambda: RangeRule(), lambda p: p.update(np.ones(1), values=np.ones((1, 2))))


@pytest.mark.parametrize(
    ("case", "scalars", "arrays", "message"),
    [
        (_ZS_ALL, {}, {"history_": np.ones(3)},
         "RunningZScore state is inconsistent: a RunningZScore over all earlier scores keeps "
         "no history"),
        (_ZS_ALL, {"count_": 19}, {},
         "RunningZScore state is inconsistent: count_ must equal the rows seen after the "
         "burn-in, m2_ >= 0"),
        (_ZS_ALL, {"m2_": -1.0}, {},
         "RunningZScore state is inconsistent: count_ must equal the rows seen after the "
         "burn-in, m2_ >= 0"),
        (_ZS_WIN, {}, {"history_": None},
         "RunningZScore state is inconsistent: a windowed RunningZScore needs its history "
         "array"),
        (_ZS_WIN, {}, {"history_": np.ones((5, 1))},
         "RunningZScore state is inconsistent: a windowed RunningZScore needs its history "
         "array"),
        (_RANGE, {"n_columns_": None}, {"max_": None},
         "RangeRule state is inconsistent: min_/max_ without n_columns_"),
        (_RANGE, {"n_columns_": None}, {"min_": None},
         "RangeRule state is inconsistent: min_/max_ without n_columns_"),
        (_RANGE, {"n_columns_": 2.0}, {},
         "RangeRule state is inconsistent: n_columns_ must be an integer"),
        (_RANGE, {}, {"max_": None},
         "RangeRule state is inconsistent: max_ must hold one number per column"),
        (_RANGE, {}, {"min_": np.zeros(3)},
         "RangeRule state is inconsistent: min_ must hold one number per column"),
        (_RANGE_ONE, {}, {"min_": np.zeros(3)},
         "RangeRule state is inconsistent: min_ must hold one number per column"),
        (_RANGE, {}, {"min_": np.array([0.0, 2.0])},
         "RangeRule state is inconsistent: min_ above max_"),
    ],
)
def test_state_consistency_messages(
    case: Any, scalars: dict[str, Any], arrays: dict[str, Any], message: str
) -> None:
    make, feed = case
    good_scalars, good_arrays = _state_of(make, feed)
    bad_arrays = {k: v for k, v in {**good_arrays, **arrays}.items() if v is not None}
    proc = make()
    with pytest.raises(PersistenceError) as info:
        proc.set_state({**good_scalars, **scalars}, bad_arrays)
    assert str(info.value) == message
    assert not proc.is_started


_CHAIN = (lambda: Chain([RunningZScore(window=5)]), lambda p: p.update(np.arange(20.0)))
_CHAIN_MSG = "Chain state must hold n_seen_ and the states of its 1 step(s)"


@pytest.mark.parametrize(
    ("scalars", "arrays", "message"),
    [
        (["n_seen_", "steps"], None, _CHAIN_MSG),
        ({"extra": 1}, None, _CHAIN_MSG),
        ({"steps": {}}, None, _CHAIN_MSG),
        ({"n_seen_": -1}, None, "Chain state: n_seen_ must be an integer >= 0, got -1"),
        ({"n_seen_": 2.5}, None, "Chain state: n_seen_ must be an integer >= 0, got 2.5"),
        ({"n_seen_": True}, None, "Chain state: n_seen_ must be an integer >= 0, got True"),
        ({}, {"1.history_": np.ones(5)},
         "Chain state: arrays ['1.history_'] belong to no step"),
        ({}, {"x.history_": np.ones(5)},
         "Chain state: arrays ['x.history_'] belong to no step"),
    ],
)
def test_chain_state_messages(scalars: Any, arrays: Any, message: str) -> None:
    good_scalars, good_arrays = _state_of(*_CHAIN)
    state: Any = scalars if isinstance(scalars, list) else {**good_scalars, **scalars}
    if isinstance(scalars, dict) and "extra" in scalars:
        state = {**good_scalars, "extra": 1}
    with pytest.raises(PersistenceError) as info:
        _CHAIN[0]().set_state(state, {**good_arrays, **(arrays or {})})
    assert str(info.value) == message


def test_an_empty_chain_state_is_a_fresh_chain_and_arrays_alone_are_refused() -> None:
    chain = Chain([RunningZScore(window=5)])
    chain.update(np.arange(10.0))
    assert not chain.set_state({}, {}).is_started
    with pytest.raises(PersistenceError, match=r"^Chain state must hold n_seen_"):
        Chain([RunningZScore(window=5)]).set_state({}, {"0.history_": np.ones(5)})


def test_a_windowed_zscore_starts_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = RunningZScore(window=4).update(np.array([2.0, 2.0, 2.0, 3.0, 2.0]))
    # rows 0-3: no spread before them; row 4 against 2, 2, 2, 3 (mean 2.25, sd 0.433)
    np.testing.assert_allclose(out, [0.0, 0.0, 0.0, 0.0, -0.25 / np.sqrt(0.1875)], rtol=1e-12)


# ---------------------------------------------------------------------- input values
def test_values_from_a_dataset_a_frame_a_series_or_a_list_give_the_same_output() -> None:
    from anomark.dataset import Dataset

    rng = np.random.default_rng(7)
    x = rng.normal(size=(50, 2))
    scores = rng.random(50)
    index = pd.date_range("2024", periods=50, freq="h")
    expect = RangeRule(value=5.0).update(scores, values=x)
    frame = pd.DataFrame(x, index=index, columns=["a", "b"])
    for values in (frame, Dataset.from_frame(frame), x.tolist()):
        np.testing.assert_array_equal(RangeRule(value=5.0).update(scores, values=values), expect)
    one = RangeRule(value=5.0).update(scores, values=x[:, 0])
    np.testing.assert_array_equal(
        RangeRule(value=5.0).update(scores, values=pd.Series(x[:, 0], index=index)), one)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["a", "b", "c"], "RangeRule.update: values must be numbers (could not convert string to "
                          "float: 'a')"),
        (np.empty((3, 0)), "RangeRule.update: values have no columns"),
        (np.ones((2, 1)), "RangeRule.update: values must have one row per score (3), got shape "
                          "(2, 1)"),
    ],
)
def test_value_messages(values: Any, message: str) -> None:
    with pytest.raises(DataError) as info:
        RangeRule().update(np.ones(3), values=values)
    assert str(info.value) == message


# ---------------------------------------------------------------------- RangeRule
def test_range_rule_margin_is_strict_on_both_sides() -> None:
    """Out of range means strictly beyond ``hi + tolerance * span`` or below ``lo - ...``:
    after 0 and 1 with tolerance 0.5 the limits are exactly 1.5 and -0.5."""
    def last(x: float) -> float:
        rule = RangeRule(tolerance=0.5, value=9.0)
        return float(rule.update(np.zeros(3), values=np.array([0.0, 1.0, x]))[-1])

    assert [last(1.5), last(-0.5)] == [0.0, 0.0]
    assert [last(1.5 + 1e-9), last(-0.5 - 1e-9)] == [9.0, 9.0]


def test_range_rule_in_one_row_chunks_and_without_values_counts_every_row() -> None:
    rng = np.random.default_rng(8)
    x = np.cumsum(rng.normal(size=(60, 2)), axis=0)
    scores = rng.random(60)
    whole = RangeRule(tolerance=0.02, value=7.0).update(scores, values=x)
    rule = RangeRule(tolerance=0.02, value=7.0)
    parts = [rule.update(scores[i:i + 1], values=x[i:i + 1]) for i in range(60)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    np.testing.assert_array_equal(rule.min_, x.min(axis=0))
    np.testing.assert_array_equal(rule.max_, x.max(axis=0))
    blind = RangeRule()
    blind.update(np.ones(3))
    blind.update(np.ones(4))
    assert blind.n_seen_ == 7 and blind.get_state() == ({"n_seen_": 7, "n_columns_": None}, {})


# ---------------------------------------------------------------------- states
def test_state_scalars_come_back_as_python_numbers() -> None:
    import json

    proc = RunningZScore()
    proc.update(np.arange(10.0))
    scalars, arrays = proc.get_state()
    back = RunningZScore().set_state(
        {**scalars, "mean_": np.float64(scalars["mean_"]), "m2_": np.float64(scalars["m2_"])},
        arrays)
    again, _ = back.get_state()
    assert type(again["mean_"]) is float and type(again["m2_"]) is float
    assert json.loads(json.dumps(again)) == scalars


@pytest.mark.parametrize(
    ("scalars", "arrays", "message"),
    [
        (["n_seen_"], {}, "RunningZScore state must be a dict, got list"),
        ({"n_seen_": 5, "count_": 5, "mean_": 1.0, "m2_": 1.0}, {"extra_": np.ones(2)},
         "RunningZScore state: unknown arrays ['extra_']"),
        ({"n_seen_": 2.5, "count_": 5, "mean_": 1.0, "m2_": 1.0}, {},
         "RunningZScore state: n_seen_ must be an integer >= 0, got 2.5"),
        ({"n_seen_": 5, "count_": 5, "mean_": "1", "m2_": 1.0}, {},
         "RunningZScore state: mean_ must be a finite number or null, got '1'"),
    ],
)
def test_state_type_messages(scalars: Any, arrays: Any, message: str) -> None:
    with pytest.raises(PersistenceError) as info:
        RunningZScore().set_state(scalars, arrays)
    assert str(info.value) == message


@pytest.mark.parametrize("bad", [np.array(["1.0", "2.0"]), np.array([1.0, np.inf])])
def test_state_arrays_must_hold_finite_numbers(bad: np.ndarray) -> None:
    proc = RunningZScore(window=5)
    proc.update(np.arange(2.0))
    scalars, _ = proc.get_state()
    with pytest.raises(PersistenceError) as info:
        RunningZScore(window=5).set_state(scalars, {"history_": bad})
    assert str(info.value) == "RunningZScore state: array history_ must hold finite numbers"


def test_an_empty_state_is_a_fresh_post_processor_and_an_empty_chunk_starts_one() -> None:
    proc = RunningZScore()
    proc.update(np.arange(5.0))
    assert not proc.set_state({}, {}).is_started
    _round_trip(lambda: RunningZScore(), lambda p: p.update(np.array([])))


def test_likelihood_in_its_probation_keeps_no_average_and_round_trips() -> None:
    proc = _likelihood()
    proc.update(np.random.default_rng(9).random(12))  # probation: 5 + 10 rows
    scalars, arrays = proc.get_state()
    assert scalars == {"n_seen_": 12, "n_columns_": None, "dist_mean_": None,
                       "dist_std_": None, "ma_total_": 0.0}
    assert arrays["ma_scores_"].size == 0 and arrays["recent_probabilities_"].size == 0
    _round_trip(_likelihood, lambda p: p.update(np.random.default_rng(9).random(12)))


def test_likelihood_chunks_shorter_than_the_reestimation_period_round_trip() -> None:
    rng = np.random.default_rng(10)

    def feed(p: Any) -> None:  # estimates at rows 15 and 100 only
        p.update(rng.random(60))
        p.update(rng.random(3))  # the recent probabilities stay at most 10 between estimates
        p.update(rng.random(13))

    _round_trip(lambda: AnomalyLikelihood(learning_period=5, estimation_samples=10,
                                          historic_window=40, reestimation_period=100), feed)


def test_likelihood_a_burst_cut_between_chunks_flags_as_in_one_piece() -> None:
    """nupic's filter keeps only the first of consecutive red rows red: the row before a
    chunk counts as the previous one."""
    rng = np.random.default_rng(11)
    scores = rng.normal(1.0, 0.1, 300)
    scores[200:215] = 5.0
    make = lambda: AnomalyLikelihood(learning_period=20, estimation_samples=50,  # noqa: E731
                                     reestimation_period=100)
    whole = make().update(scores)
    proc = make()
    parts = np.concatenate((proc.update(scores[:205]), proc.update(scores[205:])))
    np.testing.assert_array_equal(parts, whole)
    assert whole[200] > 0.5 and (whole[201:215] < whole[200]).all()


def test_likelihood_historic_window_may_equal_estimation_samples() -> None:
    out = AnomalyLikelihood(learning_period=0, estimation_samples=20, historic_window=20,
                            reestimation_period=5).update(np.random.default_rng(12).random(50))
    assert out.shape == (50,) and np.isfinite(out).all()
    with pytest.raises(ConfigurationError) as info:
        AnomalyLikelihood(estimation_samples=21, historic_window=20).update(np.ones(3))
    assert str(info.value) == ("AnomalyLikelihood: historic_window (20) must be at least "
                               "estimation_samples (21)")


def test_likelihood_flat_means_every_column_flat_each_on_its_own() -> None:
    """Two constant columns at different levels are flat input (nupic's constant-metric rule
    per column), like one constant column."""
    scores = np.random.default_rng(13).normal(1.0, 0.2, 300)
    scores[250:255] = 4.0
    make = lambda: AnomalyLikelihood(learning_period=20, estimation_samples=50)  # noqa: E731
    one = make().update(scores, values=np.full(300, 3.0))
    two = make().update(scores, values=np.c_[np.full(300, 3.0), np.full(300, 9.0)])
    np.testing.assert_array_equal(two, one)
    assert one[250:255].max() < 0.1  # the null distribution: nothing stands out


# ---------------------------------------------------------------------- text form
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ZScore+Range:Value=2", [RunningZScore(), RangeRule(value=2.0)]),
        ("zscore:min-periods=3,burn-in=4", [RunningZScore(min_periods=3, burn_in=4)]),
        ("range:value=10", [RangeRule(value=10.0)]),
        ("  ", []),
        ("", []),
    ],
)
def test_text_is_read_case_insensitively_with_dashes_and_int_for_float(
    text: str, expected: list[Any]
) -> None:
    steps = parse_postprocess(text)
    assert steps == expected
    for step, want in zip(steps, expected, strict=True):
        assert {k: type(v) for k, v in step.get_params().items()} == {
            k: type(v) for k, v in want.get_params().items()}


def test_text_form_of_defaults_and_error_messages() -> None:
    assert str(RunningZScore()) == "zscore"
    assert str(AnomalyLikelihood()) == "likelihood"
    with pytest.raises(ConfigurationError) as info:
        parse_postprocess(3)  # type: ignore[arg-type]
    assert str(info.value) == "post-processing is text such as 'zscore+range', got int 3"
    with pytest.raises(ConfigurationError) as info:
        parse_postprocess("zscor")
    assert str(info.value) == ("unknown post-processor 'zscor' in 'zscor'; use zscore, "
                               "likelihood, range (joined by '+', e.g. 'zscore+range:value=10')")


@pytest.mark.parametrize(
    ("value", "owner", "message"),
    [
        ("zscore", "", "postprocess must be a list of post-processors (e.g. [RunningZScore(), "
                       "RangeRule()]) or None, got str 'zscore'"),
        ({"a": RunningZScore()}, "", "postprocess must be a list of post-processors (e.g. "
                                     "[RunningZScore(), RangeRule()]) or None, got dict "
                                     "{'a': RunningZScore()}"),
        ([RunningZScore(), 3], "IsolationForestDetector",
         "IsolationForestDetector: postprocess must hold post-processors from "
         "anomark.postprocess, got int 3"),
    ],
)
def test_check_postprocess_messages(value: Any, owner: str, message: str) -> None:
    from anomark.postprocess import check_postprocess

    with pytest.raises(ConfigurationError) as info:
        check_postprocess(value, owner) if owner else check_postprocess(value)
    assert str(info.value) == message


def test_a_detectors_bad_postprocess_is_named_with_the_detector() -> None:
    det = get_detector_class("iforest")(postprocess="zscore", n_estimators=10)
    with pytest.raises(ConfigurationError) as info:
        det.fit(_stream(200))
    assert str(info.value).startswith("IsolationForestDetector: postprocess must be a list of "
                                      "post-processors")


# ---------------------------------------------------------------------- saving
def test_postprocess_parameter_dict_form() -> None:
    from anomark.postprocess._detector import postprocess_from_dict, postprocess_to_dict

    chain = Chain([RunningZScore(window=5), RangeRule(value=10.0)])
    assert postprocess_to_dict(chain) == {"chain": "zscore:window=5+range:value=10.0"}
    assert postprocess_from_dict(postprocess_to_dict(chain)) == chain
    assert postprocess_to_dict(RunningZScore()) == {"step": "zscore"}
    assert postprocess_from_dict({"step": "zscore"}) == RunningZScore()
    for bad in ({"chain": "zscore", "step": "zscore"}, {"steps": "zscore"}, ["step"]):
        with pytest.raises(ValueError) as info:
            postprocess_from_dict(bad)
        assert str(info.value) == f"a post-processor is saved as {{'step': text}}, got {bad!r}"
    with pytest.raises(ValueError) as info:
        postprocess_from_dict({"step": "zscore+range"})
    assert str(info.value) == "expected one post-processor, got 'zscore+range'"


def test_restore_postprocess_messages() -> None:
    from types import SimpleNamespace

    from anomark.postprocess._detector import restore_postprocess

    plain = SimpleNamespace(postprocess=None)
    restore_postprocess(plain, None, {}, "load x")
    assert plain.postprocess_ is None
    for state, arrays in (({"n_seen_": 1}, {}), (None, {"0.history_": np.ones(2)})):
        with pytest.raises(PersistenceError) as info:
            restore_postprocess(SimpleNamespace(postprocess=None), state, arrays, "load x")
        assert str(info.value) == ("load x: post-processing state saved, but the detector has "
                                   "no postprocess steps")
    with pytest.raises(PersistenceError) as info:
        restore_postprocess(SimpleNamespace(postprocess=[RunningZScore()]), None, {}, "load x")
    assert str(info.value) == ("load x: the detector has postprocess steps but no saved "
                               "post-processing state")
    with pytest.raises(PersistenceError) as info:
        restore_postprocess(SimpleNamespace(postprocess=[RunningZScore()]), [1], {}, "load x")
    assert str(info.value) == "load x: post-processing state must be an object"


# ---------------------------------------------------------------------- calls and messages
def test_chain_steps_messages() -> None:
    with pytest.raises(ConfigurationError) as info:
        Chain(3).update(np.ones(3))  # type: ignore[arg-type]
    assert str(info.value) == "Chain: steps must be a list of post-processors, got int"
    with pytest.raises(ConfigurationError) as info:
        Chain(RunningZScore()).update(np.ones(3))  # type: ignore[arg-type]
    assert str(info.value) == "Chain: steps must be a list of post-processors, got RunningZScore"
    with pytest.raises(ConfigurationError) as info:
        Chain([RunningZScore(), "x"]).update(np.ones(3))  # type: ignore[list-item]
    assert str(info.value) == ("Chain: every step must be a PostProcessor (RunningZScore, "
                               "AnomalyLikelihood, RangeRule...), got str 'x'")


@pytest.mark.parametrize(
    ("proc", "name"),
    [(RangeRule(), "RangeRule"), (Chain([RangeRule()]), "Chain")],
)
def test_update_messages_name_the_call(proc: Any, name: str) -> None:
    with pytest.raises(DataError) as info:
        proc.update(np.array([1.0, np.nan]))
    assert str(info.value).startswith(f"{name}.update: 1 score(s) are NaN")
    with pytest.raises(DataError) as info:
        proc.update(np.ones(3), values=np.ones(2))
    assert str(info.value) == (f"{name}.update: values must have one row per score (3), got "
                               "shape (2, 1)")


def test_values_are_ignored_by_steps_that_do_not_read_them() -> None:
    scores = np.random.default_rng(14).random(20)
    expect = RunningZScore().update(scores)
    wrong = np.ones(7)  # not even one per score: never looked at
    np.testing.assert_array_equal(RunningZScore().update(scores, values=wrong), expect)
    np.testing.assert_array_equal(Chain([RunningZScore()]).update(scores, values=wrong), expect)


def test_column_messages() -> None:
    rule = RangeRule()
    rule.update(np.ones(3), values=np.ones((3, 2)))
    with pytest.raises(DataError) as info:
        rule.update(np.ones(3))
    assert str(info.value) == ("RangeRule.update: RangeRule was given values with 2 column(s) "
                               "before; give the values of these rows too")
    late = RangeRule()
    late.update(np.ones(1))  # one row without values is enough
    with pytest.raises(DataError) as info:
        late.update(np.ones(3), values=np.ones(3))
    assert str(info.value) == ("RangeRule.update: RangeRule processed rows without values "
                               "before; give values from the first call on or never")


def test_parameter_messages_name_the_class() -> None:
    with pytest.raises(ConfigurationError) as info:
        RangeRule(tolerance=-1.0).update(np.ones(3))
    assert str(info.value).startswith("RangeRule: tolerance must be a number in [0, inf)")
    with pytest.raises(ConfigurationError) as info:
        RunningZScore(window=5, min_periods=6).update(np.ones(3))
    assert str(info.value) == "RunningZScore: min_periods (6) cannot exceed window (5)"
    out = RunningZScore(window=5, min_periods=5).update(np.arange(12.0) % 3)
    assert (out[:5] == 0.0).all() and (out[5:] != 0.0).any()


def test_an_empty_chunk_gives_no_output_and_a_started_empty_state() -> None:
    for proc in (RunningZScore(), RunningZScore(window=4), RangeRule(), _likelihood(),
                 Chain([RunningZScore()])):
        out = proc.update(np.array([]))
        assert isinstance(out, np.ndarray) and out.shape == (0,) and out.dtype == np.float64
        assert proc.is_started and proc.n_seen_ == 0
    zs = RunningZScore()
    zs.update(np.array([]))
    assert zs.get_state() == ({"n_seen_": 0, "count_": 0, "mean_": 0.0, "m2_": 0.0}, {})


def test_running_zscore_does_not_depend_on_the_scores_scale() -> None:
    """The doc example at 1e-14: a spread of 1e-14 is a spread (the cut-off is relative to
    the mean, not absolute)."""
    base = np.array([1.0, 2.0, 1.0, 2.0, 6.0])
    for scale in (1e-14, 1.0, 1e14):
        out = RunningZScore().update(base * scale)
        assert out[-1] == pytest.approx(9.0, rel=1e-12)


@pytest.mark.parametrize("both", [True, False])
@pytest.mark.parametrize("case", ["low-run", "short-probation"])
def test_likelihood_matches_nupic_on_a_low_run_and_a_short_probation(
    case: str, both: bool
) -> None:
    """Against the loop-by-loop transcription of nupic (test_postprocess): a long run far
    below the usual average across a re-estimate (two-sided tail: the re-estimate's own
    probabilities start the red-run filter), and a first estimate over fewer rows than the
    moving average holds (learning_period + estimation_samples = 7 < 10)."""
    from test_postprocess import _nupic_reference

    if case == "low-run":
        rng = np.random.default_rng(15)
        scores = rng.normal(1.0, 0.1, 400)
        scores[290:320] = 0.2
        lp, es, window, period = 20, 50, 300, 25
    else:
        rng = np.random.default_rng(16)
        scores = rng.normal(1.0, 0.1, 120)
        scores[40:44] = 3.0
        lp, es, window, period = 2, 5, 100, 10
    got = AnomalyLikelihood(learning_period=lp, estimation_samples=es, historic_window=window,
                            reestimation_period=period, tail="both" if both else "upper"
                            ).update(scores)
    expect = _nupic_reference(scores, None, lp, es, window, period, both=both)
    np.testing.assert_allclose(got, expect, rtol=1e-10, atol=1e-12)


def test_text_value_may_hold_an_equals_sign() -> None:
    """The first '=' separates the key: the rest, '=' included, is the value."""
    with pytest.raises(ConfigurationError) as info:
        parse_postprocess("likelihood:tail=both=x")
    assert str(info.value).startswith("AnomalyLikelihood: tail must be one of 'upper', 'both'")

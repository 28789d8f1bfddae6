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
from anomark.errors import ConfigurationError, PersistenceError
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
    state = scalars if isinstance(scalars, list) else {**good_scalars, **scalars}
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

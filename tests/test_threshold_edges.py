"""Threshold edges pinned by value: defaults, boundaries, exact messages, the text and dict
forms of the extreme-value rules, and SPOT/DSPOT's stream bookkeeping checked by hand (found
thin by mutation testing, issue 17)."""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from anomark import Threshold
from anomark._gpd import GPDFit
from anomark.errors import ConfigurationError, DataError

EXP = np.random.default_rng(11).exponential(size=3000)


# ---------------------------------------------------------------------- construction
def test_default_parameters() -> None:
    assert Threshold.mean_std().params == {"k": 3.0}
    assert Threshold.quantile().params == {"q": 0.999}
    assert Threshold.contamination().params == {"c": 0.01}
    assert Threshold.mad().params == {"k": 5.0}
    assert Threshold.fixed().params == {"value": 1.5}
    assert Threshold.mean_std(2).param == 2.0
    assert Threshold.pot().params == {"q": 1e-4, "level": 0.98}
    assert Threshold.spot().params == {"q": 1e-4, "level": 0.98, "depth": None}
    assert Threshold.pot(q=1e-3).param == 1e-3


def test_evt_risk_given_positionally() -> None:
    assert Threshold("pot", 1e-3).params == {"q": 1e-3, "level": 0.98}
    assert Threshold("spot", 1e-3, depth=4).params == {"q": 1e-3, "level": 0.98, "depth": 4}
    with pytest.raises(ConfigurationError, match=r"^Threshold\.pot: q given twice$"):
        Threshold("pot", 1e-3, q=1e-4)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Threshold.mad(-0.5), "Threshold.mad: k must be >= 0, got -0.5"),
        (lambda: Threshold.contamination(0.5), "Threshold.contamination: c must be in (0, 0.5), "
                                               "got 0.5"),
        (lambda: Threshold.fixed("1"),  # type: ignore[arg-type]
         "Threshold.fixed: value must be a number, got str '1'"),
        (lambda: Threshold.pot(q="0.1"),  # type: ignore[arg-type]
         "Threshold.pot: q must be a number, got str '0.1'"),
        (lambda: Threshold.spot(level=True), "Threshold.spot: level must be a number, got bool "
                                             "True"),
        # q must stay below 1 - level, equality included
        (lambda: Threshold.pot(q=0.5, level=0.5),
         "Threshold.pot: the risk q (0.5) must be smaller than the share of scores above the "
         "initial level (1 - level = 0.5)"),
        (lambda: Threshold.pot(q=0.05),
         "Threshold.pot: the risk q (0.05) must be smaller than the share of scores above the "
         "initial level (1 - level = 0.02)"),
        (lambda: Threshold("pot", risk=1),
         "Threshold.pot: unknown parameter(s) ['risk']; it takes q, level"),
    ],
)
def test_parameter_messages(make: Any, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        make()
    assert str(info.value) == message


def test_parameters_just_inside_the_bounds_are_accepted() -> None:
    assert Threshold.contamination(0.49).param == 0.49
    assert Threshold.mad(0.0).param == 0.0
    assert Threshold.spot(depth=1).params["depth"] == 1
    assert Threshold.pot(q=0.49, level=0.5).params == {"q": 0.49, "level": 0.5}


def test_repr_of_the_extreme_value_rules() -> None:
    rule = Threshold.pot(q=0.1 + 0.2 - 0.29, level=0.95)  # q = 0.010000000000000009
    assert repr(rule) == "Threshold.pot(q=0.01, level=0.95)"
    assert repr(Threshold.spot(depth=5)) == "Threshold.spot(q=0.0001, level=0.98, depth=5)"
    fitted = Threshold.pot(q=1e-3).fit(EXP)
    assert repr(fitted) == f"Threshold.pot(q=0.001, level=0.98, value_={fitted.value_:.6g})"


def test_unfitted_copy_of_an_extreme_value_rule() -> None:
    fitted = Threshold.spot(q=1e-3, level=0.95, depth=5).fit(EXP)
    fresh = fitted.unfitted()
    assert not fresh.is_fitted
    assert fresh == Threshold.spot(q=1e-3, level=0.95, depth=5)


# ---------------------------------------------------------------------- fit / apply messages
def test_messages_name_the_rule_and_the_call() -> None:
    with pytest.raises(DataError, match=r"^Threshold\.mean_std\.fit: no scores given$"):
        Threshold.mean_std().fit([])
    with pytest.raises(DataError, match=r"^Threshold\.quantile\.apply: 1 score\(s\) are NaN"):
        Threshold.quantile(0.5).fit([1.0, 2.0]).apply([np.nan])
    with pytest.raises(DataError, match=r"^Threshold\.spot\.update: 1 score\(s\) are NaN"):
        Threshold.spot().update([np.nan])
    with pytest.raises(ConfigurationError, match=r"^Threshold\.fixed does not learn from a stream; "
                                                 r"use Threshold\.spot\(\.\.\.\) for update\(\), "
                                                 r"or apply\(\) for a fixed threshold$"):
        Threshold.fixed(1.0).fit([0.0]).update([1.0])


def test_overflowing_threshold_is_refused_without_a_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError, match=r"threshold overflows the float64 range"):
            Threshold.mean_std(3.0).fit([1.7e308, -1.7e308])


def test_a_heavy_tail_at_a_tiny_risk_is_a_data_error() -> None:
    """Found by mutation testing: the extreme quantile overflowed Python's float power and
    escaped as a bare OverflowError."""
    scores = np.random.default_rng(0).pareto(0.5, 5000)  # tail shape about 2
    with pytest.raises(DataError, match=r"^Threshold\.pot: the fitted threshold is not finite "
                                        r"\(tail shape 2\.\d+\); rescale the scores or use a "
                                        r"larger q$"):
        Threshold.pot(q=1e-300).fit(scores)


@pytest.mark.parametrize(
    ("rule", "scores", "message"),
    [
        (Threshold.pot(), [5.0],
         "Threshold.pot.fit: constant scores: there is no tail to fit a peaks-over-threshold "
         "rule to (every score is 5); use Threshold.fixed or more varied reference scores"),
        (Threshold.pot(q=1e-3), np.arange(500.0),
         "Threshold.pot.fit: a peaks-over-threshold fit needs at least 10 scores above the "
         "initial level (the 0.98 quantile, 490), got 9 of 500 scores; give at least 500 varied "
         "reference scores or a lower level"),
        # the initial level is SPOT's order statistic: here the largest score, none above it
        (Threshold.pot(q=1e-3, level=0.995), np.arange(100.0),
         "Threshold.pot.fit: a peaks-over-threshold fit needs at least 10 scores above the "
         "initial level (the 0.995 quantile, 99), got 0 of 100 scores; give at least 2000 varied "
         "reference scores or a lower level"),
        (Threshold.spot(depth=5), np.arange(15.0),
         "Threshold.spot.fit: DSPOT with depth=5 needs more than 15 reference scores, got 15"),
    ],
)
def test_unusable_reference_messages(rule: Threshold, scores: Any, message: str) -> None:
    with pytest.raises(DataError) as info:
        rule.fit(scores)
    assert str(info.value) == message


def test_ten_scores_above_the_level_are_enough() -> None:
    rule = Threshold.pot(q=1e-3).fit(np.arange(501.0))  # level 490, excesses 1 .. 10
    assert rule.value_ > 500.0


# ---------------------------------------------------------------------- text form
def test_parse_extreme_value_spellings() -> None:
    assert Threshold.parse("pot=q=1e-3") == Threshold.pot(q=1e-3)
    assert Threshold.parse("spot=level=0.9,depth=3") == Threshold.spot(level=0.9, depth=3)
    assert Threshold.parse("spot:depth=null") == Threshold.spot()
    assert Threshold.parse("spot:depth=") == Threshold.spot()
    assert Threshold.parse("spot:depth=none,level=0.9") == Threshold.spot(level=0.9)
    assert Threshold.parse("spot:depth=5,q=0.001") == Threshold.spot(q=1e-3, depth=5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pot:q=1e-3=2", "threshold parameter q in 'pot:q=1e-3=2' must be a number, got '1e-3=2'"),
        ("pot:1e-3,0.98", "threshold 'pot:1e-3,0.98': write pot:q=...,level=..., got '0.98'"),
        ("pot:risk=1", "threshold 'pot:risk=1': unknown parameter 'risk' for pot; it takes q, "
                       "level"),
        ("median", "unknown threshold 'median'; write METHOD[:PARAM] with METHOD one of mean_std, "
                   "quantile, contamination, mad, fixed, pot, spot (e.g. mean_std:3, "
                   "quantile:0.999, pot:q=1e-4,level=0.98)"),
    ],
)
def test_parse_messages(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Threshold.parse(text)
    assert str(info.value) == message


# ---------------------------------------------------------------------- dict form
def _spot_dict(depth: int | None = None) -> dict[str, Any]:
    rule = Threshold.spot(q=1e-3, depth=depth).fit(EXP)
    return json.loads(json.dumps(rule.to_dict()))


def test_fitted_spot_without_depth_round_trips_and_continues() -> None:
    rule = Threshold.spot(q=1e-3).fit(EXP)
    copy = Threshold.from_dict(json.loads(json.dumps(rule.to_dict())))
    assert copy == rule and copy.value_ == rule.value_
    more = np.random.default_rng(1).exponential(size=500)
    np.testing.assert_array_equal(copy.update(more), rule.update(more))


def test_fitted_pot_with_a_small_scale_round_trips() -> None:
    rule = Threshold.pot(q=1e-3).fit(EXP * 0.01)
    assert rule.sigma_ < 0.1
    assert Threshold.from_dict(json.loads(json.dumps(rule.to_dict()))) == rule


def _with(data: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(data))
    node = out
    for key in path[:-1]:
        node = node[key]
    if value is _DROP:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


_DROP = object()
_PEAKS_MSG = ("spot state: peaks must be a list of at least 10 excesses and n an integer >= "
              "their number")


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("extra",), 1, "a spot threshold dict needs 'method' and 'params' (and, fitted, 'value', "
                        "'tail' and for spot 'state'), got keys ['extra', 'method', 'params', "
                        "'state', 'tail', 'value']"),
        (("state",), _DROP, "a fitted spot threshold dict needs ['value', 'tail', 'state'], got "
                            "['value', 'tail']"),
        (("tail",), {"gamma": 0.1}, "threshold 'tail' must hold gamma and sigma"),
        (("tail", "gamma"), "x", "tail gamma must be a number, got 'x'"),
        (("tail", "sigma"), math.nan, "tail sigma must be finite, got nan"),
        (("tail", "sigma"), 0.0, "tail sigma must be > 0, got 0.0"),
        (("value",), math.inf, "threshold value must be finite, got inf"),
        (("state",), {"level": 1.0, "peaks": [], "n": 3},
         "spot 'state' must hold level, peaks, n and window"),
        (("state", "level"), "x", "spot level must be a number, got 'x'"),
        (("state", "peaks"), [1.0] * 9, _PEAKS_MSG),
        (("state", "peaks"), "1.0,2.0,3.0,4.0,5.0,6.0,7.0,8.0,9.0,10.0", _PEAKS_MSG),
        (("state", "n"), True, _PEAKS_MSG),
        (("state", "n"), 3000.0, _PEAKS_MSG),
        (("state", "n"), 10, _PEAKS_MSG),
        (("state", "peaks"), [1.0] * 10 + ["x"], "spot peak must be a number, got 'x'"),
        (("state", "peaks"), [1.0] * 10 + [0.0], "spot state: peaks must be positive"),
        (("state", "window"), [1.0], "spot state: a window without depth"),
    ],
)
def test_spot_dict_is_validated(path: tuple[str, ...], value: Any, message: str) -> None:
    data = _with(_spot_dict(), path, value)
    with pytest.raises(ConfigurationError) as info:
        Threshold.from_dict(data)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ([1.0] * 4, "spot state: window must hold 3 scores"),
        (None, "spot state: window must hold 3 scores"),
        ([1.0, "x", 2.0], "spot window score must be a number, got 'x'"),
    ],
)
def test_dspot_window_is_validated(window: Any, message: str) -> None:
    data = _with(_spot_dict(depth=3), ("state", "window"), window)
    with pytest.raises(ConfigurationError) as info:
        Threshold.from_dict(data)
    assert str(info.value) == message


def test_spot_state_with_every_learned_score_a_peak_is_accepted() -> None:
    data = _spot_dict()
    st = data["state"]
    st["n"] = len(st["peaks"])  # n >= the number of peaks: equality is allowed
    fit = GPDFit(st["level"], data["tail"]["gamma"], data["tail"]["sigma"], st["n"],
                 len(st["peaks"]))
    data["value"] = fit.quantile(1e-3)
    assert Threshold.from_dict(data).value_ == data["value"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"method": "fixed"}, "a threshold dict needs 'method' and 'param' (and optionally "
                              "'value'), got keys ['method']"),
        ({"method": "pot"}, "a pot threshold dict needs 'method' and 'params' (and, fitted, "
                            "'value', 'tail' and for spot 'state'), got keys ['method']"),
        ({"method": "pot", "params": {}, "value": 3.0},
         "a fitted pot threshold dict needs ['value', 'tail'], got ['value']"),
    ],
)
def test_threshold_dict_keys_are_checked(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Threshold.from_dict(data)
    assert str(info.value) == message


_PENDING_MSG = ("only an unfitted spot threshold holds 'pending' calibration scores (fewer than "
                "its calibration size)")


def test_pending_scores_are_validated() -> None:
    size = Threshold.spot().calibration_size
    ok = {"method": "spot", "params": {"q": 1e-4, "level": 0.98, "depth": None}}
    back = Threshold.from_dict({**ok, "pending": [1.0] * (size - 1)})
    assert back.to_dict()["pending"] == [1.0] * (size - 1)
    for bad in (
        {**ok, "pending": [1.0] * size},
        {**ok, "pending": "1.0"},
        {"method": "pot", "params": {}, "pending": [1.0]},
        {**_spot_dict(), "pending": [1.0]},
    ):
        with pytest.raises(ConfigurationError) as info:
            Threshold.from_dict(bad)
        assert str(info.value) == _PENDING_MSG
    with pytest.raises(ConfigurationError, match=r"^pending score must be a number, got 'a'$"):
        Threshold.from_dict({**ok, "pending": ["a"]})


# ---------------------------------------------------------------------- streams
def test_cold_spot_calibrates_on_exactly_its_calibration_size() -> None:
    rule = Threshold.spot(q=1e-3)
    flags, thresholds = rule.update_with_thresholds(EXP[: rule.calibration_size])
    assert rule.is_fitted
    assert flags.dtype == bool and not flags.any() and np.isinf(thresholds).all()
    assert rule == Threshold.spot(q=1e-3).fit(EXP[:1000])


def test_cold_spot_calibration_errors_name_update() -> None:
    rule = Threshold.spot()
    with pytest.raises(DataError, match=r"^Threshold\.spot\.update: constant scores"):
        rule.update(np.ones(rule.calibration_size))


def test_stream_of_series_gives_series_during_and_after_calibration() -> None:
    index = pd.date_range("2024", periods=1500, freq="min")
    stream = pd.Series(EXP[:1500], index=index)
    rule, twin = Threshold.spot(q=1e-3), Threshold.spot(q=1e-3)
    for part in (stream[:600], stream[600:]):
        flags, thresholds = rule.update_with_thresholds(part)
        raw_flags, raw_thresholds = twin.update_with_thresholds(part.to_numpy())
        assert isinstance(flags, pd.Series) and isinstance(thresholds, pd.Series)
        assert (flags.name, thresholds.name) == ("flag", "threshold")
        assert flags.index.equals(part.index) and thresholds.index.equals(part.index)
        assert flags.dtype == bool
        np.testing.assert_array_equal(flags.to_numpy(), raw_flags)
        np.testing.assert_array_equal(thresholds.to_numpy(), raw_thresholds)
    assert np.isfinite(raw_thresholds[400:]).all() and np.isinf(raw_thresholds[:400]).all()


@pytest.mark.parametrize("depth", [None, 5])
def test_each_score_meets_the_threshold_reported_before_it(depth: int | None) -> None:
    """``value_`` is the threshold the next score is compared with (DSPOT: the tail quantile
    plus the moving mean), and update_with_thresholds reports exactly that per row."""
    rng = np.random.default_rng(12)
    ref = rng.exponential(size=1500) + 50.0
    stream = rng.exponential(size=250) + 50.0
    stream[[40, 120, 200]] += 30.0
    rule = Threshold.spot(q=1e-2, depth=depth).fit(ref)
    flags, thresholds = rule.update_with_thresholds(stream)
    one = Threshold.spot(q=1e-2, depth=depth).fit(ref)
    # SPOT: exactly; DSPOT to rounding (a running sum of the window against a fresh one,
    # amplified by the refits of a flat likelihood)
    tol = 0.0 if depth is None else 1e-9
    for i, score in enumerate(stream):
        assert thresholds[i] == pytest.approx(one.value_, rel=tol, abs=0.0)
        assert flags[i] == (score > one.value_)
        one.update([score])
    assert flags[[40, 120, 200]].all() and flags.sum() < 20
    assert rule.value_ == pytest.approx(one.value_, rel=tol, abs=0.0)


def test_a_stream_cut_after_an_ordinary_score_flags_the_same() -> None:
    """Found by mutation testing: the quantile was recomputed after a peak only, while
    ``value_`` (and so the next chunk) used the grown count: a score between the two
    thresholds was flagged in chunks and not in one piece."""
    rng = np.random.default_rng(12)
    ref = rng.exponential(size=1500) + 50.0
    whole, parts = Threshold.spot(q=1e-2).fit(ref), Threshold.spot(q=1e-2).fit(ref)
    first = 50.28905430770684  # below the initial level: learned, not a peak
    parts.update([first])
    between = parts.value_ + 3e-4
    stream = np.array([first, between])
    np.testing.assert_array_equal(whole.update(stream), [False, parts.update([between])[0]])


def test_a_score_equal_to_the_threshold_is_not_flagged() -> None:
    rule = Threshold.spot(q=1e-3).fit(EXP)
    value = rule.value_
    assert not rule.apply([value]).any()
    assert rule.apply([np.nextafter(value, np.inf)]).all()


@pytest.mark.parametrize("depth", [None, 4])
def test_stream_state_by_hand(depth: int | None) -> None:
    """After a stream the state holds the calibration's peaks plus each learned score's excess
    over the initial level, the count of learned scores and (DSPOT) the last learned scores;
    flagged scores are not learned."""
    rng = np.random.default_rng(13)
    ref = rng.exponential(size=1200)
    stream = rng.exponential(size=400)
    stream[[50, 51, 300]] = [25.0, 26.0, 30.0]
    rule = Threshold.spot(q=1e-3, depth=depth).fit(ref)
    before = rule.to_dict()["state"]
    flags = rule.update(stream)
    after = rule.to_dict()["state"]
    assert flags[[50, 51, 300]].all()
    learned = stream[~flags]
    level = before["level"]
    if depth is None:
        x = learned
    else:
        history = np.concatenate((ref, learned))
        start = len(ref)
        x = np.array([history[start + i] - history[start + i - depth:start + i].mean()
                      for i in range(len(learned))])
        assert after["window"] == pytest.approx(list(history[-depth:]), rel=1e-15)
    new_peaks = x[x > level] - level
    assert after["level"] == level
    assert after["n"] == before["n"] + len(learned)
    np.testing.assert_allclose(after["peaks"], before["peaks"] + list(new_peaks), rtol=1e-12)


def test_dspot_calibration_state_by_hand() -> None:
    rng = np.random.default_rng(15)
    depth = 7
    ref = np.cumsum(rng.normal(size=1200)) + rng.exponential(size=1200)
    ref[depth] += 40.0  # the first drift-free score is a peak
    rule = Threshold.spot(q=1e-3, level=0.95, depth=depth).fit(ref)
    x = np.array([ref[i] - ref[i - depth:i].mean() for i in range(depth, len(ref))])
    u = float(np.sort(x)[int(0.95 * len(x))])
    state = rule.to_dict()["state"]
    assert state["level"] == pytest.approx(u, rel=1e-12)
    assert state["n"] == len(ref) - depth
    assert state["window"] == list(ref[-depth:])
    np.testing.assert_allclose(state["peaks"], x[x > u] - u, rtol=1e-9)
    assert state["peaks"][0] == pytest.approx(x[0] - u, rel=1e-12)


def test_threshold_falls_to_the_initial_level_once_the_risk_exceeds_the_peak_share() -> None:
    """With n scores learned and n_t peaks, a risk q >= n_t / n leaves no room above the
    initial level: the threshold is that level (SPOT's quantile formula would go below it)."""
    rule = Threshold.spot(q=0.015, level=0.98).fit(np.random.default_rng(14).exponential(size=2000))
    state = rule.to_dict()["state"]
    assert (len(state["peaks"]), state["n"]) == (39, 2000)
    rule.update(np.zeros(500))  # q n / n_t = 0.015 * 2500 / 39 = 0.96
    assert rule.value_ > state["level"]
    rule.update(np.zeros(300))  # 0.015 * 2800 / 39 = 1.08
    assert rule.value_ == state["level"]


def test_dspot_apply_follows_the_moving_mean_without_learning() -> None:
    rng = np.random.default_rng(16)
    rule = Threshold.spot(q=1e-3, depth=20).fit(rng.normal(0.0, 0.5, 2000))
    before = rule.to_dict()
    drift = np.linspace(0.0, 10.0, 1000) + rng.normal(0.0, 0.5, 1000)
    flags = rule.apply(drift)
    assert rule.to_dict() == before
    assert flags.name == "flag" and flags.dtype == bool
    assert int(flags.sum()) < 10                     # relative to the recent mean: no drift alarm
    assert float((drift > rule.value_).mean()) > 0.5  # the fixed value would flag the drift


def test_an_empty_chunk_is_a_no_op_before_and_after_calibration() -> None:
    cold = Threshold.spot(q=1e-3)
    flags, thresholds = cold.update_with_thresholds(np.array([]))
    assert flags.dtype == bool and len(flags) == 0 and len(thresholds) == 0
    assert not cold.is_fitted
    warm = Threshold.spot(q=1e-3).fit(EXP)
    before = warm.to_dict()
    assert len(warm.update([])) == 0
    assert warm.to_dict() == before


def test_a_learned_score_equal_to_the_initial_level_is_not_a_peak() -> None:
    rule = Threshold.spot(q=1e-3).fit(EXP)
    state = rule.to_dict()["state"]
    rule.update([state["level"]])
    after = rule.to_dict()["state"]
    assert after["peaks"] == state["peaks"] and after["n"] == state["n"] + 1


def test_fit_replaces_the_pending_calibration_scores_even_when_it_fails() -> None:
    rule = Threshold.spot(q=1e-3)
    rule.update(EXP[:300])
    assert len(rule.to_dict()["pending"]) == 300
    with pytest.raises(DataError, match="constant scores"):
        rule.fit(np.ones(2000))
    assert "pending" not in rule.to_dict() and not rule.is_fitted
    # the next stream calibrates on its own scores only
    rule.update(EXP[300:1300])
    assert rule == Threshold.spot(q=1e-3).fit(EXP[300:1300])


def test_spot_state_with_exactly_ten_peaks_is_accepted() -> None:
    data = _spot_dict()
    st = data["state"]
    st["peaks"] = st["peaks"][:10]
    fit = GPDFit(st["level"], data["tail"]["gamma"], data["tail"]["sigma"], st["n"], 10)
    data["value"] = fit.quantile(1e-3)
    assert Threshold.from_dict(data).value_ == data["value"]


def test_a_huge_k_that_overflows_is_refused_without_a_warning() -> None:
    """The rule itself overflows here (k * std beyond float64), not only the rescaling."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError, match=r"^Threshold\.mean_std\.fit: the threshold overflows "
                                            r"the float64 range \(scores span -1\.9 \.\. 1\.9\); "
                                            r"rescale the scores$"):
            Threshold.mean_std(1.7e308).fit([-1.9, 1.9])
    assert Threshold.mean_std(1e308).fit([-1.5, 1.5]).value_ == pytest.approx(1.5e308)

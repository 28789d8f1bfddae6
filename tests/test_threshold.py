"""Threshold rules: fit on reference scores, apply to new ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from anomark import Threshold
from anomark.errors import ConfigurationError, DataError, NotFittedError

SCORES = np.array([1.0, 2.0, 3.0, 4.0, 100.0])


def test_mean_std():
    t = Threshold.mean_std(2.0).fit(SCORES)
    assert t.value_ == pytest.approx(SCORES.mean() + 2.0 * SCORES.std())


def test_quantile():
    t = Threshold.quantile(0.5).fit(SCORES)
    assert t.value_ == 3.0


def test_contamination_flags_top_fraction():
    scores = np.arange(100.0)
    t = Threshold.contamination(0.1).fit(scores)
    assert t.value_ == pytest.approx(np.quantile(scores, 0.9))
    assert int(t.apply(scores).sum()) == 10


def test_mad_is_robust_to_outliers():
    t = Threshold.mad(3.0).fit(SCORES)
    med = 3.0
    mad = np.median(np.abs(SCORES - med))
    assert t.value_ == pytest.approx(med + 3.0 * 1.4826 * mad)
    assert t.apply(SCORES).tolist() == [False, False, False, False, True]


def test_fixed_ignores_the_reference():
    assert Threshold.fixed(1.5).fit(SCORES).value_ == 1.5


def test_apply_returns_bool_series_and_keeps_index():
    idx = pd.date_range("2024", periods=5, freq="h")
    flags = Threshold.fixed(3.0).fit([0.0]).apply(pd.Series(SCORES, index=idx))
    assert isinstance(flags, pd.Series)
    assert flags.dtype == bool
    assert flags.name == "flag"
    assert flags.index.equals(idx)
    assert flags.tolist() == [False, False, False, True, True]


def test_strictly_greater_constant_scores_flag_nothing():
    flat = np.ones(10)
    for rule in (Threshold.mean_std(), Threshold.mad(), Threshold.quantile(0.9)):
        assert not rule.fit(flat).apply(flat).any()


def test_unfitted_apply_raises():
    with pytest.raises(NotFittedError, match=r"not fitted yet"):
        Threshold.mean_std().apply(SCORES)


def test_fit_apply_and_unfitted_copy():
    t = Threshold.quantile(0.8)
    flags = t.fit_apply(SCORES)
    assert flags.sum() == 1
    fresh = t.unfitted()
    assert not fresh.is_fitted
    assert fresh.method == "quantile"
    assert fresh.param == 0.8


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Threshold.quantile(1.0), r"q must be in \(0, 1\)"),
        (lambda: Threshold.contamination(0.6), r"c must be in \(0, 0.5\)"),
        (lambda: Threshold.mean_std(-1.0), "k must be >= 0"),
        (lambda: Threshold.mad(float("nan")), "must be finite"),
        (lambda: Threshold.fixed("1"), "must be a number"),  # type: ignore[arg-type]
        (lambda: Threshold("median", 1.0), "unknown threshold method"),  # type: ignore[arg-type]
    ],
)
def test_invalid_rules(make, match):
    with pytest.raises(ConfigurationError, match=match):
        make()


@pytest.mark.parametrize(
    ("scores", "match"),
    [
        ([], "no scores given"),
        ([1.0, np.nan], r"1 score\(s\) are NaN or infinite \(first at position 1\)"),
        ([[1.0, 2.0]], "must be 1-D"),
        (["a"], "scores must be numbers"),
        (pd.DataFrame({"a": [1.0]}), "got a DataFrame"),
    ],
)
def test_invalid_scores(scores, match):
    with pytest.raises(DataError, match=match):
        Threshold.mean_std().fit(scores)


def test_dict_round_trip_and_validation():
    t = Threshold.mad(4.0).fit(SCORES)
    again = Threshold.from_dict(t.to_dict())
    assert again == t
    assert again.value_ == t.value_
    assert Threshold.from_dict({"method": "fixed", "param": 2}).to_dict() == {
        "method": "fixed",
        "param": 2.0,
    }
    with pytest.raises(ConfigurationError, match=r"needs 'method' and 'param'"):
        Threshold.from_dict({"method": "fixed", "param": 1, "extra": 0})
    with pytest.raises(ConfigurationError, match=r"value must be a number"):
        Threshold.from_dict({"method": "fixed", "param": 1, "value": "2"})
    with pytest.raises(ConfigurationError, match=r"described by a dict"):
        Threshold.from_dict([1, 2])


def test_repr():
    assert repr(Threshold.quantile(0.99)) == "Threshold.quantile(q=0.99)"
    assert repr(Threshold.fixed(2.0).fit([0.0])) == "Threshold.fixed(value=2, value_=2)"


# ---------------------------------------------------------------------- issue 5 (hardening)
STATISTICAL = [("mean_std", 0.0), ("mean_std", 0.5), ("mean_std", 3.0), ("mad", 0.0),
               ("mad", 5.0), ("quantile", 0.5), ("contamination", 0.01)]


@pytest.mark.parametrize(("method", "param"), STATISTICAL)
@pytest.mark.parametrize("value", [0.7296554464299441, 0.9127555772777217, -7.68827364e-261,
                                   5e-324, 1.7e308])
def test_constant_scores_give_the_constant_and_flag_nothing(method, param, value):
    # np.full(169, 0.7296554464299441).mean() rounds below the constant: mean_std used to
    # flag all 169 points; 1e-260 scores used to underflow in the squares
    scores = np.full(169, value)
    t = Threshold(method, param).fit(scores)
    assert t.value_ == value
    assert not t.apply(scores).any()


@pytest.mark.parametrize("method", ["mean_std", "mad", "quantile"])
def test_huge_and_tiny_finite_scores_do_not_overflow(method):
    base = np.array([1.0, -1.0, 0.5, 2.0, -0.25])
    ref = Threshold(method, 0.5).fit(base).value_
    for scale in (2.0**1000, 2.0**-1060, 1e300, 1e-300):
        got = Threshold(method, 0.5).fit(base * scale).value_
        assert got == pytest.approx(ref * scale, rel=1e-12)
    # a power-of-two scaling is exact: ordinary scores give the unscaled arithmetic's bits
    x = np.random.default_rng(0).normal(size=500)
    assert Threshold.mean_std(3.0).fit(x).value_ == float(x.mean() + 3.0 * x.std())


def test_threshold_beyond_float64_is_refused():
    with pytest.raises(DataError, match=r"threshold overflows the float64 range"):
        Threshold.mean_std(3.0).fit([1.7e308, -1.7e308])


def test_complex_and_boolean_scores_are_refused():
    with pytest.raises(DataError, match=r"scores must be real numbers, got dtype complex128"):
        Threshold.mean_std().fit(np.array([1.0 + 1j, 2.0]))
    # flags passed where scores belong: one check of score arrays (anomark.scoring.as_scores)
    with pytest.raises(DataError, match=r"Threshold.mad.fit: scores must be real numbers, got "
                                        r"dtype bool"):
        Threshold.mad().fit(np.array([True, False, True]))


@pytest.mark.parametrize("method", [["mean_std"], {"a": 1}, 3, None])
def test_non_string_method_is_a_configuration_error(method):
    with pytest.raises(ConfigurationError, match=r"unknown threshold method"):
        Threshold.from_dict({"method": method, "param": 1.0})


# ---------------------------------------------------------------------- text form
@pytest.mark.parametrize(
    "rule",
    [
        Threshold.mean_std(3),
        Threshold.mean_std(0.1 + 0.2),
        Threshold.quantile(0.999),
        Threshold.contamination(0.01),
        Threshold.mad(),
        Threshold.fixed(-1.5),
    ],
)
def test_str_parse_round_trip_is_exact(rule: Threshold) -> None:
    assert Threshold.parse(str(rule)) == rule
    assert Threshold.parse(str(rule)).param == rule.param


def test_parse_spellings() -> None:
    assert Threshold.parse(" Mean-Std = 2.5 ") == Threshold.mean_std(2.5)
    assert Threshold.parse("quantile:") == Threshold.quantile()
    assert not Threshold.parse("fixed:2").is_fitted


@pytest.mark.parametrize(
    "text, match",
    [
        ("median:3", "unknown threshold 'median:3'"),
        ("mean_std:three", "k in 'mean_std:three' must be a number, got 'three'"),
        ("quantile:1.5", r"q must be in \(0, 1\)"),
        ("", "unknown threshold ''"),
    ],
)
def test_parse_rejects_bad_text(text: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        Threshold.parse(text)


def test_parse_rejects_non_text() -> None:
    with pytest.raises(ConfigurationError, match=r"got float 3\.0"):
        Threshold.parse(3.0)  # type: ignore[arg-type]

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

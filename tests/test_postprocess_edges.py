"""Post-processor edges pinned by value: the running z-score's stored moments and its numerics
after a far-off first row of a chunk, the text form of no steps, and the value an online rule
reports from ``detect_update`` (found thin by mutation testing, issue 17)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from anomark import Threshold
from anomark.detectors import get_detector_class
from anomark.postprocess import (
    AnomalyLikelihood,
    Chain,
    RangeRule,
    RunningZScore,
    format_postprocess,
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

"""Detectors with ``postprocess=``: applied inside score, fitted copies, saved and loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from _registry import detector_params
from anomark import Detector, Threshold
from anomark.detectors import get_detector_class
from anomark.errors import ConfigurationError, PersistenceError
from anomark.postprocess import AnomalyLikelihood, Chain, RangeRule, RunningZScore

SMALL = {
    "rcf": {"num_trees": 50, "num_samples_per_tree": 64, "shingle_size": 4, "random_state": 0},
    "iforest": {"n_estimators": 20, "window_size": 4, "random_state": 0},
    "conv-ae": {"window_size": 8, "epochs": 1, "batch_size": 64, "random_state": 0,
                "filters": (4, 2, 2)},
}


def _series(n: int = 900) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    t = np.arange(n)
    v = np.sin(2 * np.pi * t / 48) + rng.normal(0, 0.05, n)
    v[700] = 6.0  # far outside everything before it
    return pd.DataFrame({"v": v}, index=pd.date_range("2024-01-01", periods=n, freq="30min"))


def _steps() -> list[Any]:
    return [RunningZScore(), AnomalyLikelihood(learning_period=20, estimation_samples=30),
            RangeRule(value=2.0)]


def _make(name: str, **extra: Any) -> Detector:
    cls = get_detector_class(name)
    return cls(**SMALL.get(name, {}), **extra)  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", detector_params())
def test_postprocess_runs_inside_score_and_is_saved(name: str, tmp_path: Path) -> None:
    data = _series()
    train, rest = data.iloc[:500], data.iloc[500:]
    steps = _steps()
    det = _make(name, postprocess=steps).fit(train)
    # the parameters are not touched: the detector works on fitted copies
    assert all(not s.is_started for s in steps)
    assert isinstance(det.postprocess_, Chain) and det.postprocess_.n_seen_ == 500
    plain = _make(name).fit(train)
    raw = plain.score(rest).to_numpy()
    expect = Chain(_steps())
    expect.update(plain.score(train).to_numpy(), values=train.to_numpy())  # what fit saw
    got = det.score(rest)
    np.testing.assert_allclose(got.to_numpy(), expect.update(raw, values=rest.to_numpy()),
                               rtol=1e-9, atol=1e-12)
    assert got.iloc[200] == pytest.approx(2.0)  # row 700: the range rule fired
    # the threshold was fitted on post-processed training scores
    assert det.threshold_.value_ == pytest.approx(
        Threshold.mean_std(3).fit(Chain(_steps()).update(
            plain.score(train).to_numpy(), values=train.to_numpy())).value_
        if name != "conv-ae" else det.threshold_.value_)
    # scoring twice gives the same answer (score does not advance the state)
    np.testing.assert_array_equal(det.score(rest).to_numpy(), got.to_numpy())
    folder = det.save(tmp_path / name)
    back = Detector.load(folder)
    assert back.get_params()["postprocess"] == steps
    np.testing.assert_array_equal(back.score(rest).to_numpy(), got.to_numpy())
    assert back.detect(rest).flags.equals(det.detect(rest).flags)


@pytest.mark.parametrize("name", ["rcf", "iforest"])
def test_clone_and_refit_start_fresh(name: str) -> None:
    data = _series()
    det = _make(name, postprocess=[RunningZScore(window=100)]).fit(data)
    twin = clone(det)
    assert not hasattr(twin, "postprocess_")
    assert twin.get_params()["postprocess"] == [RunningZScore(window=100)]
    np.testing.assert_array_equal(twin.fit(data).score(data).to_numpy(),
                                  det.score(data).to_numpy())


@pytest.mark.parametrize("bad", ["zscore", [RunningZScore(), "range"], [RangeRule(value=np.nan)]])
def test_bad_postprocess_is_reported_at_fit(bad: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"postprocess|value must be"):
        _make("iforest", postprocess=bad).fit(_series())


def test_load_refuses_missing_or_stray_postprocess_state(tmp_path: Path) -> None:
    import json

    data = _series()
    folder = _make("iforest", postprocess=[RunningZScore()]).fit(data).save(tmp_path / "a")
    config = json.loads((folder / "config.json").read_text())
    config["fitted"].pop("postprocess_")
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(PersistenceError):
        Detector.load(folder)
    plain = _make("iforest").fit(data).save(tmp_path / "b")
    config = json.loads((plain / "config.json").read_text())
    config["fitted"]["postprocess_"] = {"n_seen_": 3, "steps": []}
    (plain / "config.json").write_text(json.dumps(config))
    with pytest.raises(PersistenceError):
        Detector.load(plain)


# ---------------------------------------------------------------------- online (RCF)
def _online_detector(**kw: Any) -> Detector:
    return get_detector_class("rcf")(  # type: ignore[no-any-return]
        shingle_size=8, num_trees=50, num_samples_per_tree=128, random_state=0, **kw
    )


def _online_series(n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    v = np.sin(np.arange(n) / 8.0) + rng.normal(0, 0.05, n)
    v[2500] = 3.0
    return pd.DataFrame({"v": v}, index=pd.date_range("2024-01-01", periods=n, freq="5min"))


@pytest.mark.parametrize("rule", [Threshold.spot(q=1e-3), Threshold.fixed(4.0)])
def test_detect_update_uses_postprocessing_and_an_online_threshold(
    rule: Threshold, tmp_path: Path
) -> None:
    data = _online_series()
    steps = [RunningZScore(burn_in=100), RangeRule(value=10.0)]
    whole = _online_detector(postprocess=steps, threshold=rule).detect_update(data)
    assert whole.flags.iloc[2500]
    # the scores are the post-processed streaming scores
    plain = _online_detector().score_update(data).to_numpy()
    ready = plain != 0.0
    expect = plain.copy()
    expect[ready] = Chain([RunningZScore(burn_in=100), RangeRule(value=10.0)]).update(
        plain[ready], values=data.to_numpy()[ready])
    np.testing.assert_allclose(whole.scores.to_numpy(), expect, rtol=1e-9, atol=1e-12)
    # flags follow the rule's per-row thresholds, and chunks + a save in between change nothing
    assert whole.flags.equals(whole.scores > whole.thresholds)
    det = _online_detector(postprocess=steps, threshold=rule)
    first = det.detect_update(data.iloc[:1700])
    det.save(tmp_path / "mid")
    back = Detector.load(tmp_path / "mid")
    rest = back.detect_update(data.iloc[1700:])
    np.testing.assert_array_equal(
        np.concatenate([first.flags.to_numpy(), rest.flags.to_numpy()]), whole.flags.to_numpy())
    if rule.method == "spot":
        assert back.threshold_.method == "spot" and back.threshold_.is_fitted
        # cold start: the first calibration_size ready rows are collected, never flagged
        need = rule.calibration_size
        assert not whole.flags.iloc[: int(np.flatnonzero(ready)[need - 1]) + 1].any()


def test_detect_update_flags_never_look_ahead() -> None:
    data = _online_series()
    rule = Threshold.spot(q=1e-3)
    base = _online_detector(postprocess=[RunningZScore()], threshold=rule).detect_update(data)
    future = data.copy()
    future.iloc[2000:, 0] = np.random.default_rng(9).normal(5.0, 3.0, len(data) - 2000)
    got = _online_detector(postprocess=[RunningZScore()], threshold=rule).detect_update(future)
    np.testing.assert_array_equal(got.scores.to_numpy()[:2000], base.scores.to_numpy()[:2000])
    np.testing.assert_array_equal(got.flags.to_numpy()[:2000], base.flags.to_numpy()[:2000])

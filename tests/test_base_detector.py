"""The Detector base class: input handling, thresholds, detect, params, registry, validators.

Uses a tiny z-score detector defined here so the base behaviour is tested on its own.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from anomark import Dataset, Detection, Detector, Threshold
from anomark._validation import Constraint, Interval
from anomark.detectors import base as base_module
from anomark.detectors import get_detector_class
from anomark.errors import ConfigurationError, DataError, NotFittedError


class ZScore(Detector):
    """|x - mean| / std summed over columns; unregistered (no ``name``)."""

    def __init__(self, scale: float = 1.0, threshold: Threshold | None = None) -> None:
        self.scale = scale
        self.threshold = threshold

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **Detector._parameter_constraints,
        "scale": [Interval(float, 0.0, None, closed="right")],
    }

    def _fit(self, ds: Dataset) -> None:
        self.mean_ = ds.values.mean(axis=0)
        self.std_ = ds.values.std(axis=0) + 1e-12

    def _score(self, ds: Dataset) -> np.ndarray:
        return self.scale * (np.abs(ds.values - self.mean_) / self.std_).sum(axis=1)

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {}, {"mean": self.mean_, "std": self.std_}

    def _set_state(
        self, state: dict[str, Any], arrays: dict[str, np.ndarray], folder: Path
    ) -> None:
        self.mean_, self.std_ = arrays["mean"], arrays["std"]


IDX = pd.date_range("2024-01-01", periods=50, freq="h")
FRAME = pd.DataFrame({"a": np.sin(np.arange(50.0)), "b": np.cos(np.arange(50.0) / 3)}, index=IDX)
FRAME.iloc[25, 0] = 10.0


# ---------------------------------------------------------------------- inputs
@pytest.mark.parametrize(
    "data",
    [
        Dataset(FRAME),
        FRAME,
        FRAME.reset_index(),  # a time column instead of a time index
        FRAME.to_numpy(),
        FRAME.to_numpy().tolist(),
    ],
    ids=["dataset", "frame", "time-column", "array", "list"],
)
def test_accepts_every_input_kind(data: Any):
    det = ZScore().fit(data)
    scores = det.score(data)
    assert isinstance(scores, pd.Series)
    assert scores.name == "score"
    assert len(scores) == 50
    assert int(scores.to_numpy().argmax()) == 25


def test_series_and_one_dimensional_input():
    series = FRAME["a"]
    det = ZScore().fit(series)
    assert det.n_features_in_ == 1
    assert list(det.feature_names_in_) == ["a"]
    assert det.score(series).index.equals(IDX)
    pd.testing.assert_series_equal(
        ZScore().fit(series.to_numpy()).score(series.to_numpy()).reset_index(drop=True),
        det.score(series).reset_index(drop=True),
    )


def test_score_keeps_the_time_index():
    assert ZScore().fit(FRAME).score(FRAME).index.equals(IDX)


def test_fit_returns_self_and_sets_fitted_attributes():
    det = ZScore()
    assert det.fit(FRAME) is det
    assert det.n_features_in_ == 2
    assert list(det.feature_names_in_) == ["a", "b"]
    assert det.threshold_.is_fitted
    assert det.__sklearn_is_fitted__()


def test_reordered_columns_are_matched_by_name():
    det = ZScore().fit(FRAME)
    pd.testing.assert_series_equal(det.score(FRAME[["b", "a"]]), det.score(FRAME))


def test_column_mismatch_names_missing_and_unexpected():
    det = ZScore().fit(FRAME)
    other = FRAME.rename(columns={"b": "c"})
    with pytest.raises(DataError, match=r"^X has the 2 feature\(s\) ZScore expects, but their "
                       r"feature names should match those that were passed during fit: "
                       r"missing columns \['b'\], unexpected columns \['c'\]$"):
        det.score(other)
    with pytest.raises(DataError, match=r"^X has 3 features, but ZScore is expecting 2 features as "
                       r"input. The feature names should match those that were passed during "
                       r"fit: missing columns \['b'\], unexpected columns \['c', 'd'\]$"):
        det.score(other.assign(d=1.0))
    with pytest.raises(DataError, match=r"X has 1 features, but ZScore is expecting 2"):
        det.score(FRAME[["a"]])
    with pytest.raises(DataError, match=r"X has 3 features, but ZScore is expecting 2"):
        det.score(np.zeros((5, 3)))


def test_feature_name_warnings_both_ways():
    det = ZScore().fit(FRAME)
    with pytest.warns(UserWarning, match=r"does not have valid feature names"):
        by_position = det.score(FRAME.to_numpy())
    np.testing.assert_array_equal(by_position.to_numpy(), det.score(FRAME).to_numpy())
    unnamed = ZScore().fit(FRAME.to_numpy())
    with pytest.warns(UserWarning, match=r"fitted without feature names"):
        unnamed.score(FRAME)


def test_unfitted_use_raises():
    for call in (lambda d: d.score(FRAME), lambda d: d.detect(FRAME)):
        with pytest.raises(NotFittedError, match=r"This ZScore instance is not fitted yet"):
            call(ZScore())


def test_one_row_is_refused_for_fit():
    with pytest.raises(DataError, match=r"needs at least 2 rows to fit"):
        ZScore().fit(FRAME.iloc[:1])


def test_nan_refused_with_column_name():
    bad = FRAME.copy()
    bad.iloc[3, 1] = np.nan
    with pytest.raises(DataError, match=r"NaN values in column\(s\) 'b' \(1\).*fitting"):
        ZScore().fit(bad)
    det = ZScore().fit(FRAME)
    with pytest.raises(DataError, match=r"NaN values in column\(s\) 'b'.*scoring"):
        det.score(bad)


def test_non_finite_scores_are_reported():
    class Broken(ZScore):
        def _score(self, ds: Dataset) -> np.ndarray:
            out = super()._score(ds)
            out[0] = np.nan
            return out

    with pytest.raises(DataError, match=r"produced NaN/inf scores"):
        Broken().fit(FRAME)


def test_min_rows_enforced_when_scoring():
    class NeedsFive(ZScore):
        def _min_rows(self) -> int:
            return 5

    det = NeedsFive().fit(FRAME)
    with pytest.raises(DataError, match=r"needs at least 5 rows to score.*got 3"):
        det.score(FRAME.iloc[:3])


# ---------------------------------------------------------------------- thresholds & detect
def test_default_threshold_is_the_class_default():
    det = ZScore().fit(FRAME)
    scores = det.score(FRAME)
    assert det.threshold_ == Threshold.mean_std(3.0).fit(scores)


def test_threshold_parameter_is_not_mutated():
    rule = Threshold.quantile(0.9)
    det = ZScore(threshold=rule).fit(FRAME)
    assert not rule.is_fitted
    assert det.threshold_.method == "quantile"
    assert det.get_params()["threshold"] is rule


def test_detect_applies_the_training_threshold():
    det = ZScore().fit(FRAME)
    result = det.detect(FRAME)
    assert isinstance(result, Detection)
    assert result.threshold == det.threshold_.value_
    assert result.flags.iloc[25]
    assert result.detector == "ZScore"
    assert list(result.anomalies.columns) == ["a", "b", "score"]


def test_detect_refit_threshold_and_explicit_threshold():
    det = ZScore().fit(FRAME)
    new = FRAME * 3.0
    refit = det.detect(new, refit_threshold=True)
    scores = det.score(new)
    assert refit.threshold == Threshold.mean_std(3.0).fit(scores).value_
    assert det.threshold_.value_ != refit.threshold  # the detector is unchanged
    fixed = det.detect(new, threshold=Threshold.fixed(1.0).fit([0.0]))
    assert fixed.threshold == 1.0
    quant = det.detect(new, threshold=Threshold.quantile(0.5))
    assert quant.threshold == pytest.approx(float(np.quantile(scores, 0.5)))
    with pytest.raises(ConfigurationError, match=r"threshold must be a Threshold"):
        det.detect(new, threshold=0.5)  # type: ignore[arg-type]


def test_fit_detect_equals_fit_then_detect():
    a = ZScore().fit_detect(FRAME)
    b = ZScore().fit(FRAME).detect(FRAME)
    pd.testing.assert_series_equal(a.scores, b.scores)
    assert a.threshold == b.threshold


# ---------------------------------------------------------------------- params
def test_get_set_params_and_clone():
    det = ZScore(scale=2.0)
    assert det.get_params() == {"scale": 2.0, "threshold": None}
    det.set_params(scale=3.0)
    assert det.scale == 3.0
    twin = clone(det.fit(FRAME))
    assert twin.get_params() == det.get_params()
    assert not twin.__sklearn_is_fitted__()


def test_constructor_stores_only_validation_happens_in_fit():
    det = ZScore(scale=-1.0)  # no error yet
    with pytest.raises(
        ConfigurationError, match=r"ZScore: scale must be a number in \(0, inf\), got -1\.0"
    ):
        det.fit(FRAME)
    with pytest.raises(ConfigurationError, match=r"threshold must be a Threshold"):
        ZScore(threshold="mean_std").fit(FRAME)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- registry
def test_registry_registers_named_concrete_subclasses_only():
    class Named(ZScore):
        name: ClassVar[str] = "zscore-test"

    try:
        assert get_detector_class("zscore-test") is Named
        assert get_detector_class("Named") is Named
    finally:
        base_module._REGISTRY.pop("zscore-test", None)
    assert "" not in base_module._REGISTRY
    with pytest.raises(ConfigurationError, match=r"unknown detector 'nope'; available: .*iforest"):
        get_detector_class("nope")


def test_load_on_the_wrong_subclass_is_refused(tmp_path: Path):
    from anomark import IsolationForestDetector
    from anomark.errors import PersistenceError

    class Other(ZScore):
        name: ClassVar[str] = "other-test"

    try:
        folder = (
            IsolationForestDetector(n_estimators=2, random_state=0).fit(FRAME).save(tmp_path / "m")
        )
        with pytest.raises(PersistenceError, match=r"holds a IsolationForestDetector, not a Other"):
            Other.load(folder)
    finally:
        base_module._REGISTRY.pop("other-test", None)


def test_no_warning_on_matching_input():
    det = ZScore().fit(FRAME)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        det.score(FRAME)
        det.detect(FRAME)


# ---------------------------------------------------------------------- issue 5 (hardening)
def _saved_zscore(tmp_path: Path) -> tuple[Path, type[Detector]]:
    class Saved(ZScore):
        name: ClassVar[str] = "zscore-saved-test"

    return Saved().fit(FRAME).save(tmp_path / "m"), Saved


@pytest.mark.parametrize(
    ("section", "key", "value", "match"),
    [
        ("fitted", "zz", 1, r"unknown key\(s\) \['zz'\] in the 'fitted' section"),
        ("fitted", "fitted_with_names", [1], r"fitted_with_names must be true or false, got \[1\]"),
        ("fitted", "fitted_with_names", 1, r"fitted_with_names must be true or false, got 1"),
        ("params", "scale", None, r"missing parameter\(s\) \['scale'\]"),
    ],
)
def test_load_refuses_hand_edits_of_the_fitted_section_and_missing_parameters(
    tmp_path: Path, section: str, key: str, value: Any, match: str
):
    import json

    from anomark.errors import PersistenceError

    try:
        folder, _ = _saved_zscore(tmp_path)
        config = json.loads((folder / "config.json").read_text())
        if value is None:
            del config[section][key]
        else:
            config[section][key] = value
        (folder / "config.json").write_text(json.dumps(config))
        with pytest.raises(PersistenceError, match=match):
            Detector.load(folder)
    finally:
        base_module._REGISTRY.pop("zscore-saved-test", None)


def test_load_keeps_a_boolean_fitted_with_names(tmp_path: Path):
    import json

    try:
        folder, cls = _saved_zscore(tmp_path)
        config = json.loads((folder / "config.json").read_text())
        assert config["fitted"]["fitted_with_names"] is True
        config["fitted"]["fitted_with_names"] = False
        (folder / "config.json").write_text(json.dumps(config))
        loaded = cls.load(folder)
        assert loaded._fitted_with_names_ is False
        with pytest.warns(UserWarning, match="fitted without feature names"):
            loaded.score(FRAME)
    finally:
        base_module._REGISTRY.pop("zscore-saved-test", None)


@pytest.mark.parametrize("kind", ["object", "categorical"])
def test_score_a_frame_indexed_by_date_strings(kind: str):
    det = ZScore().fit(FRAME)
    text = pd.DatetimeIndex(FRAME.index).strftime("%Y-%m-%d %H:%M:%S")
    odd = FRAME.copy()
    odd.index = pd.Index(text, dtype=object) if kind == "object" else pd.CategoricalIndex(text)
    scores = det.score(odd)
    pd.testing.assert_series_equal(scores, det.score(FRAME), check_index_type=False,
                                   check_freq=False)
    assert list(scores.index) == list(FRAME.index)


def test_score_a_frame_with_a_bool_index_names_the_index():
    det = ZScore().fit(FRAME)
    odd = FRAME.copy()
    odd.index = pd.Index([True, False] * 25)
    with pytest.raises(DataError, match=r"index of dtype bool is neither timestamps"):
        det.score(odd)

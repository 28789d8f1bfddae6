"""Saved parameters that contradict the fitted state are refused, naming the parameter.

A hand edit of ``params.num_trees: 500`` over a 50-tree forest used to load, and ``get_params()``
then reported 500. Each detector lists the parameters its fitted state pins
(``Detector._pinned_params``); :meth:`Detector.load` refuses a folder that contradicts them and
:meth:`Detector.save` refuses a detector changed with ``set_params`` after ``fit``. Parameters
that only steer training (seeds, threads, batch size) leave no trace and still load.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from _registry import TENSORFLOW, detector_params
from anomark import Detector, IsolationForestDetector, RCFDetector, Threshold
from anomark.detectors import available_detectors
from anomark.errors import PersistenceError
from anomark.persistence import encode_value, write_saved

X = np.sin(np.arange(100) / 5.0) + np.linspace(0.0, 0.5, 100)


def _edit_params(folder: Path, **edits: Any) -> None:
    config = json.loads((folder / "config.json").read_text())
    config["params"].update({k: encode_value(v, "test") for k, v in edits.items()})
    (folder / "config.json").write_text(json.dumps(config))


def _refused(folder: Path, name: str, value: Any) -> str:
    with pytest.raises(PersistenceError) as info:
        Detector.load(folder)
    text = str(info.value)
    assert name in text, text
    return text


# ---------------------------------------------------------------------- Isolation Forest
@pytest.fixture(scope="module")
def iforest_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    det = IsolationForestDetector(n_estimators=5, window_size=3, random_state=0).fit(X)
    assert det.max_samples_ == 98  # "auto": min(256, 98 training windows)
    return det.save(tmp_path_factory.mktemp("iforest") / "d")


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("n_estimators", 6, "the forest has 5 trees"),
        ("n_estimators", 50, "the forest has 5 trees"),
        ("max_samples", 50, "each tree grew on 98 windows of 98"),
        ("max_samples", 0.5, "each tree grew on 98 windows of 98"),
        ("window_size", 4, "window_size"),
    ],
)
def test_iforest_edit_contradicting_the_trees_is_refused(
    iforest_folder: Path, tmp_path: Path, name: str, value: Any, fragment: str
) -> None:
    import shutil

    folder = Path(shutil.copytree(iforest_folder, tmp_path / "d"))
    _edit_params(folder, **{name: value})
    text = _refused(folder, name, value)
    assert fragment in text, text
    if name != "window_size":  # window_size is refused earlier, by the state's own copy
        assert f"parameter {name}={value!r} contradicts the fitted state" in text, text


@pytest.mark.parametrize(
    ("name", "value"),
    [("max_samples", 98), ("max_samples", 500), ("max_samples", 1.0), ("max_samples", "auto"),
     ("random_state", 7), ("n_jobs", 2), ("threshold", Threshold.mad(5.0))],
)
def test_iforest_edit_agreeing_with_the_trees_loads(
    iforest_folder: Path, tmp_path: Path, name: str, value: Any
) -> None:
    """min(500, 98 windows) = 98 trees' samples: the same model; seeds and threads leave no
    trace in the trees."""
    import shutil

    folder = Path(shutil.copytree(iforest_folder, tmp_path / "d"))
    _edit_params(folder, **{name: value})
    loaded = Detector.load(folder)
    assert loaded.get_params()[name] == value


def test_iforest_save_without_training_window_count_checks_bounds(
    iforest_folder: Path, tmp_path: Path
) -> None:
    """Saves written before ``n_windows`` was stored still load; max_samples is then checked
    as far as the trees tell (drawn <= max_samples)."""
    import shutil

    folder = Path(shutil.copytree(iforest_folder, tmp_path / "d"))
    config = json.loads((folder / "config.json").read_text())
    del config["state"]["n_windows"]
    (folder / "config.json").write_text(json.dumps(config))
    assert Detector.load(folder).max_samples_ == 98
    _edit_params(folder, max_samples=97)
    _refused(folder, "max_samples", 97)
    _edit_params(folder, max_samples=99)
    assert Detector.load(folder).max_samples == 99
    config = json.loads((folder / "config.json").read_text())
    config["state"]["n_windows"] = "98"
    (folder / "config.json").write_text(json.dumps(config))
    _refused(folder, "n_windows", "98")


# ---------------------------------------------------------------------- RCF, local
def _rcf(samples: int = 32) -> RCFDetector:
    return RCFDetector(
        num_trees=50, num_samples_per_tree=samples, shingle_size=4, random_state=0
    ).fit(X)


@pytest.mark.parametrize(
    ("samples", "name", "value", "fragment"),
    [
        (32, "num_trees", 500, "the forest has 50 trees"),
        (32, "num_trees", 51, "the forest has 50 trees"),
        (32, "num_samples_per_tree", 64, "each tree holds 32 shingles"),
        (32, "num_samples_per_tree", 31, "each tree holds 32 shingles"),
        (2048, "num_samples_per_tree", 96, "each tree holds 97 shingles, all the training"),
        (32, "shingle_size", 5, "shingle_size"),
    ],
)
def test_rcf_edit_contradicting_the_forest_is_refused(
    tmp_path: Path, samples: int, name: str, value: Any, fragment: str
) -> None:
    folder = _rcf(samples).save(tmp_path / "d")
    _edit_params(folder, **{name: value})
    text = _refused(folder, name, value)
    assert fragment in text, text


def test_rcf_fewer_shingles_than_samples_accepts_any_larger_sample_size(tmp_path: Path) -> None:
    """97 shingles and num_samples_per_tree=2048: every tree holds all 97, as it would with
    1000; the trees cannot tell those two apart."""
    folder = _rcf(2048).save(tmp_path / "d")
    _edit_params(folder, num_samples_per_tree=1000)
    assert Detector.load(folder).num_samples_per_tree == 1000
    _edit_params(folder, num_samples_per_tree=97, random_state=3, n_jobs=2)
    assert Detector.load(folder).num_samples_per_tree == 97


# ---------------------------------------------------------------------- RCF, SageMaker state
def _sagemaker_rcf_folder(root: Path) -> Path:
    """A saved SageMaker-engine RCF (no AWS call: loading only rebuilds the engine's references)."""
    from anomark.sagemaker.config import SageMakerConfig

    config = SageMakerConfig(role="arn:aws:iam::123456789012:role/anomark", bucket="bucket")
    det = RCFDetector(num_trees=60, num_samples_per_tree=128, shingle_size=2, sagemaker=config)
    remote = {
        "training_job_name": "anomark-rcf-1", "model_data": "s3://bucket/anomark/model.tar.gz",
        "image_uri": "123.dkr.ecr.us-east-1.amazonaws.com/randomcutforest:1", "feature_dim": 2,
        "num_trees": 60, "num_samples_per_tree": 128, "endpoint_name": None,
        "train_s3_uri": "s3://bucket/anomark/train/",
    }
    threshold = Threshold.fixed(1.5).fit(np.ones(3))
    return write_saved(
        root / "sm",
        class_name="RCFDetector",
        params=det.get_params(deep=False),
        fitted={"n_features_in_": 1, "feature_names_in_": ["value"], "fitted_with_names": True,
                "threshold_": threshold.to_dict()},
        state={"engine": "sagemaker", "feature_dim": 2, "remote": remote},
        arrays={},
    )


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [("num_trees", 500, "the SageMaker model has 60 trees"),
     ("num_samples_per_tree", 256, "samples 128 shingles per tree"),
     ("shingle_size", 1, "shingle_size")],
)
def test_sagemaker_rcf_edit_contradicting_the_job_is_refused(
    tmp_path: Path, name: str, value: Any, fragment: str
) -> None:
    folder = _sagemaker_rcf_folder(tmp_path)
    loaded = Detector.load(folder)
    assert loaded.forest_ is None and loaded.engine_.num_trees == 60
    _edit_params(folder, **{name: value})
    text = _refused(folder, name, value)
    assert fragment in text, text


# ---------------------------------------------------------------------- autoencoder
@pytest.fixture(scope="module")
def conv_ae_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("tensorflow", reason="needs anomark[tensorflow]")
    from anomark import ConvAutoencoderDetector

    det = ConvAutoencoderDetector(
        window_size=4, epochs=2, batch_size=16, filters=(2, 3), kernel_size=2, dropout=0.1,
        learning_rate=0.002, validation_split=0.25, random_state=0,
    ).fit(X)
    return det.save(tmp_path_factory.mktemp("conv-ae") / "d")


@pytest.mark.tensorflow
@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("window_size", 5, "window_size=5"),
        ("filters", [2, 4], "filters [2, 3]"),
        ("filters", [2], "filters [2, 3]"),
        ("kernel_size", 3, "2x2 kernels"),
        ("dropout", 0.0, "drops out 0.1"),
        ("precision", "mixed_bfloat16", "compute in float32"),
        ("learning_rate", 0.001, "learning rate 0.002"),
        ("epochs", 3, "ran 2 epoch(s) without early stopping"),
        ("validation_split", 0.0, "has a validation loss"),
        ("scaling", "standard", "scaling"),
    ],
)
def test_conv_ae_edit_contradicting_the_model_is_refused(
    conv_ae_folder: Path, tmp_path: Path, name: str, value: Any, fragment: str
) -> None:
    import shutil

    folder = Path(shutil.copytree(conv_ae_folder, tmp_path / "d"))
    _edit_params(folder, **{name: value})
    text = _refused(folder, name, value)
    assert fragment in text, text


@pytest.mark.tensorflow
def test_conv_ae_training_only_edits_load(conv_ae_folder: Path, tmp_path: Path) -> None:
    """Batch size, seed and verbosity leave no trace in the model; with early stopping
    (patience) a longer epochs budget than the 2 that ran is consistent too."""
    import shutil

    folder = Path(shutil.copytree(conv_ae_folder, tmp_path / "d"))
    _edit_params(folder, batch_size=64, random_state=9, verbose=1, validation_split=0.5)
    assert Detector.load(folder).batch_size == 64
    _edit_params(folder, patience=1, epochs=10)
    assert Detector.load(folder).epochs == 10


# ---------------------------------------------------------------------- every detector
def _small(name: str) -> Detector:
    if name in TENSORFLOW:
        pytest.importorskip("tensorflow", reason="needs anomark[tensorflow]")
    cls = available_detectors()[name]
    small = {"iforest": {"n_estimators": 5}, "rcf": {"num_trees": 50, "num_samples_per_tree": 16},
             "conv-ae": {"epochs": 1, "batch_size": 16, "filters": (2,), "kernel_size": 2}}
    params = {**small.get(name, {}), "random_state": 0}
    if cls.window_param is not None:
        params[cls.window_param] = 3
    return cls(**params)


@pytest.mark.parametrize("name", detector_params())
def test_every_detector_pins_its_window_and_refuses_set_params_after_fit(
    name: str, tmp_path: Path
) -> None:
    """A registered windowed detector lists its window parameter among the pinned ones (a new
    detector without the hook fails here), and save() refuses a window changed after fit."""
    det = _small(name).fit(pd.Series(X, index=pd.date_range("2024", periods=100, freq="h")))
    cls = type(det)
    pins = det._pinned_params()
    for param, pin in pins.items():  # the fitted detector agrees with itself
        assert pin.accepts(det.get_params()[param]), (param, pin.held)
    if cls.window_param is None:  # a point-wise detector: nothing window-shaped to pin
        return
    assert cls.window_param in pins, f"{cls.__name__} does not pin {cls.window_param}"
    det.set_params(**{cls.window_param: 4})
    with pytest.raises(PersistenceError, match=f"{cls.window_param}=4 contradicts") as info:
        det.save(tmp_path / "d")
    assert "set_params after fit" in str(info.value)
    assert not (tmp_path / "d").exists()
    det.set_params(**{cls.window_param: 3})
    assert Detector.load(det.save(tmp_path / "d")).get_params()[cls.window_param] == 3

"""ConvAutoencoderDetector: shapes, training, scaling, streaming fit, persistence, errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from anomark import Dataset, Detector, Threshold
from anomark._optional import installed_versions
from anomark.detectors.base import get_detector_class
from anomark.detectors.conv_autoencoder import ConvAutoencoderDetector
from anomark.errors import ConfigurationError, DataError, NotFittedError, PersistenceError

tf_only = pytest.mark.tensorflow
# Keras' convert_to_numpy calls np.array() on tensors, which NumPy 2 flags; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
# Tiny, fast settings (2 shared CPU cores): a few seconds per fit.
FAST: dict[str, Any] = {
    "window_size": 8,
    "epochs": 4,
    "batch_size": 16,
    "filters": (16, 16),
    "learning_rate": 5e-3,
    "random_state": 0,
}


def _series(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = np.column_stack(
        [np.sin(t / 4.0), np.cos(t / 6.0), 0.5 * np.sin(t / 3.0)]
    ) + rng.normal(0, 0.02, (n, 3))
    index = pd.date_range("2024-01-01", periods=n, freq="1min")
    return pd.DataFrame(values, index=index, columns=["temp", "press", "flow"])


@pytest.fixture(scope="module")
def fitted() -> tuple[ConvAutoencoderDetector, pd.DataFrame]:
    pytest.importorskip("tensorflow")
    data = _series()
    return ConvAutoencoderDetector(**FAST).fit(data), data


# ---------------------------------------------------------------------- no TensorFlow needed
def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_import_does_not_import_tensorflow() -> None:
    res = _run(
        "import sys, anomark, anomark.detectors.conv_autoencoder as m\n"
        "from anomark.detectors import available_detectors\n"
        "assert available_detectors()['conv-ae'] is m.ConvAutoencoderDetector\n"
        "bad = [k for k in ('tensorflow', 'keras') if k in sys.modules]\n"
        "assert not bad, bad\n"
    )
    assert res.returncode == 0, res.stderr


def test_missing_tensorflow_raises_dependency_error() -> None:
    res = _run(
        "import sys\n"
        "sys.modules['tensorflow'] = None\n"
        "import numpy as np\n"
        "from anomark import ConvAutoencoderDetector\n"
        "from anomark.errors import DependencyError\n"
        "try:\n"
        "    ConvAutoencoderDetector(window_size=4, epochs=1).fit(np.arange(20.0))\n"
        "except DependencyError as exc:\n"
        "    assert 'anomark[tensorflow]' in str(exc), exc\n"
        "    print('ok')\n"
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


def test_registry_and_defaults() -> None:
    assert get_detector_class("conv-ae") is ConvAutoencoderDetector
    det = ConvAutoencoderDetector()
    assert (det.window_size, det.epochs, det.batch_size, det.random_state) == (48, 10, 128, None)
    assert det.filters == (16, 8, 8) and det.kernel_size == 4 and det.learning_rate == 1e-3
    assert det.scaling == "minmax" and det.precision == "float32"
    assert ConvAutoencoderDetector.default_threshold == ("mean_std", 2.0)
    params = clone(ConvAutoencoderDetector(window_size=5, dropout=0.2)).get_params()
    assert params["window_size"] == 5 and params["dropout"] == 0.2


@pytest.mark.parametrize(
    ("param", "value", "match"),
    [
        ("window_size", 0, "window_size"),
        ("epochs", 1.5, "epochs"),
        ("batch_size", -2, "batch_size"),
        ("random_state", "seed", "random_state"),
        ("filters", (), "filters"),
        ("filters", (8, 0), "filters"),
        ("filters", "16,8", "filters"),
        ("kernel_size", 0, "kernel_size"),
        ("learning_rate", 0.0, "learning_rate"),
        ("dropout", 1.0, "dropout"),
        ("validation_split", -0.1, "validation_split"),
        ("patience", -1, "patience"),
        ("scaling", "robust", "scaling"),
        ("precision", "float16", "precision"),
        ("stride", 0, "stride"),
        ("verbose", 5, "verbose"),
        ("threshold", 2.0, "threshold"),
    ],
)
def test_bad_parameters_raise_configuration_error(param: str, value: Any, match: str) -> None:
    det = ConvAutoencoderDetector(**{"window_size": 4, "epochs": 1, param: value})
    with pytest.raises(ConfigurationError, match=match):
        det.fit(np.arange(40.0))


def test_not_fitted() -> None:
    det = ConvAutoencoderDetector()
    with pytest.raises(NotFittedError):
        det.score(np.arange(100.0))
    with pytest.raises(NotFittedError):
        det.feature_scores(np.arange(100.0))
    with pytest.raises(NotFittedError):
        det.save("never-written")


# ---------------------------------------------------------------------- model shapes
@tf_only
@pytest.mark.parametrize("window", [5, 8, 48])
@pytest.mark.parametrize("n_features", [1, 7, 13, 1600])
def test_model_round_trips_any_shape(window: int, n_features: int) -> None:
    pytest.importorskip("tensorflow")
    from anomark.detectors.conv_autoencoder.model import build_conv_autoencoder

    model = build_conv_autoencoder(window, n_features, filters=(2, 2, 2), compile=False)
    assert model.output_shape == (None, window, n_features, 1)
    x = np.random.default_rng(0).random((2, window, n_features, 1), dtype=np.float32)
    out = np.asarray(model.predict_on_batch(x))
    assert out.shape == x.shape
    assert ((out >= 0) & (out <= 1)).all()  # sigmoid output by default


@tf_only
def test_model_architecture_matches_tutorial() -> None:
    pytest.importorskip("tensorflow")
    import keras

    from anomark.detectors.conv_autoencoder.model import build_conv_autoencoder

    model = build_conv_autoencoder(48, 1)
    convs = [lay for lay in model.layers if isinstance(lay, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [16, 8, 8, 8, 8, 16, 1]
    assert all(c.kernel_size == (4, 4) for c in convs)
    assert convs[-1].activation.__name__ == "sigmoid"
    assert sum(isinstance(lay, keras.layers.MaxPooling2D) for lay in model.layers) == 3
    assert sum(isinstance(lay, keras.layers.UpSampling2D) for lay in model.layers) == 3
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)
    linear = build_conv_autoencoder(8, 3, output_activation="linear", filters=(4, 4))
    assert linear.layers[-2].activation.__name__ == "linear"


# ---------------------------------------------------------------------- training and scores
@tf_only
def test_scores_and_reconstruction_error_below_variance(
    fitted: tuple[ConvAutoencoderDetector, pd.DataFrame],
) -> None:
    det, data = fitted
    scores = det.score(data)
    assert scores.name == "score" and scores.index.equals(data.index)
    assert np.isfinite(scores).all()
    assert det.threshold_.method == "mean_std" and det.threshold_.param == 2.0
    # reconstruction error well below the variance of the (scaled) normal data
    variance = float(det.scaler_.transform(data.to_numpy()).var(axis=0).mean())
    assert det.history_["loss"][-1] < 0.5 * variance
    assert float(scores.mean()) < 0.5 * variance
    assert det.model_.layers[-2].activation.__name__ == "sigmoid"


@tf_only
def test_injected_anomaly_scores_higher_and_feature_scores_name_the_column(
    fitted: tuple[ConvAutoencoderDetector, pd.DataFrame],
) -> None:
    det, _ = fitted
    test = _series(300, seed=1)
    test.iloc[150:154, 1] += 1.5  # a bump in "press"
    scores = det.score(test)
    bump = scores.iloc[150:161]  # windows containing the bump (credited to their last row)
    normal = pd.concat([scores.iloc[20:140], scores.iloc[170:]])
    assert bump.max() > 3 * normal.max()
    result = det.detect(test)
    assert result.flags.iloc[150:161].any()
    per_feature = det.feature_scores(test)
    assert list(per_feature.columns) == ["temp", "press", "flow"]
    np.testing.assert_allclose(per_feature.mean(axis=1), scores, rtol=1e-6)
    assert per_feature.iloc[150:161].mean().idxmax() == "press"


@tf_only
def test_scores_do_not_depend_on_the_batch(
    fitted: tuple[ConvAutoencoderDetector, pd.DataFrame],
) -> None:
    det, data = fitted
    full = det.score(data)
    part = det.score(data.iloc[100:200])  # stored scaling: no per-batch normalisation
    np.testing.assert_allclose(part.iloc[7:], full.iloc[107:200], rtol=1e-5, atol=1e-7)


@tf_only
def test_reconstruct_returns_original_units(
    fitted: tuple[ConvAutoencoderDetector, pd.DataFrame],
) -> None:
    det, data = fitted
    rec = det.reconstruct(data.iloc[:200])
    assert rec.shape == (200, 3) and list(rec.columns) == ["temp", "press", "flow"]
    assert rec.index.equals(data.index[:200])
    err = float(((rec - data.iloc[:200]) ** 2).to_numpy().mean())
    assert err < 0.5 * float(data.iloc[:200].to_numpy().var(axis=0).mean())


@tf_only
def test_random_state_gives_repeatable_scores() -> None:
    pytest.importorskip("tensorflow")
    x = _series(300).to_numpy()[:, :1]
    params = {**FAST, "epochs": 1, "batch_size": 64, "filters": (4, 4, 4), "dropout": 0.1}
    a = ConvAutoencoderDetector(**params).fit(x).score(x)
    b = ConvAutoencoderDetector(**params).fit(x).score(x)
    np.testing.assert_array_equal(a, b)


@tf_only
@pytest.mark.parametrize("scaling", ["maxabs", "standard"])
def test_other_scalings_use_a_linear_output(scaling: str) -> None:
    pytest.importorskip("tensorflow")
    data = _series(200) - 2.0  # negative values: a sigmoid could not reproduce them
    det = ConvAutoencoderDetector(**{**FAST, "epochs": 1}, scaling=scaling).fit(data)
    assert det.model_.layers[-2].activation.__name__ == "linear"
    assert det.scaler_.method == scaling
    assert np.isfinite(det.score(data)).all()


@tf_only
def test_validation_split_by_time_and_early_stopping() -> None:
    pytest.importorskip("tensorflow")
    data = _series(400)
    det = ConvAutoencoderDetector(
        **{**FAST, "epochs": 6, "learning_rate": 10.0}, validation_split=0.25, patience=0
    )
    det.fit(data)
    assert "val_loss" in det.history_
    assert len(det.history_["loss"]) < 6  # patience=0 with a diverging lr stops early
    from anomark.detectors.conv_autoencoder.source import ArrayWindowSource

    train, val = det._split_starts(ArrayWindowSource(data.to_numpy(), 8))
    assert val is not None
    assert train.max() + 8 <= 300 <= val.min()  # no window crosses the time cut
    with pytest.raises(DataError, match="validation_split"):
        ConvAutoencoderDetector(**FAST, validation_split=0.5).fit(data.iloc[:12])


@tf_only
def test_stride_scores_every_row(fitted: tuple[ConvAutoencoderDetector, pd.DataFrame]) -> None:
    _, data = fitted
    det = ConvAutoencoderDetector(**{**FAST, "epochs": 1}, stride=3).fit(data.iloc[:200])
    scores = det.score(data.iloc[:200])
    assert len(scores) == 200 and np.isfinite(scores).all()
    assert scores.iloc[7] == scores.iloc[8] == scores.iloc[9]  # carried between anchors


@tf_only
def test_mixed_bfloat16_precision_runs() -> None:
    pytest.importorskip("tensorflow")
    data = _series(200)
    det = ConvAutoencoderDetector(**{**FAST, "epochs": 1}, precision="mixed_bfloat16").fit(data)
    assert det.model_.get_layer("encoder_conv_0").compute_dtype == "bfloat16"
    assert det.model_.output.dtype == "float32"
    assert np.isfinite(det.score(data)).all()


# ---------------------------------------------------------------------- bad input
@tf_only
def test_bad_input_raises_data_error(fitted: tuple[ConvAutoencoderDetector, pd.DataFrame]) -> None:
    det, data = fitted
    with pytest.raises(DataError, match="window"):
        ConvAutoencoderDetector(**FAST).fit(np.arange(5.0))
    with pytest.raises(DataError, match="at least 8 rows"):
        det.score(data.iloc[:5])
    nan = data.copy()
    nan.iloc[10, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        ConvAutoencoderDetector(**FAST).fit(nan)
    with pytest.raises(DataError, match="features"):
        det.score(data[["temp", "press"]])
    with pytest.raises(DataError, match="not numeric"):
        det.score(data.assign(flow="x"))


# ---------------------------------------------------------------------- persistence
@tf_only
def test_save_load_gives_identical_scores(
    fitted: tuple[ConvAutoencoderDetector, pd.DataFrame], tmp_path: Path
) -> None:
    det, data = fitted
    folder = det.save(tmp_path / "ae")
    assert {"config.json", "arrays.npz", "model.keras"} <= set(os.listdir(folder))
    loaded = Detector.load(folder)
    assert isinstance(loaded, ConvAutoencoderDetector)
    pd.testing.assert_series_equal(loaded.score(data), det.score(data))
    pd.testing.assert_frame_equal(loaded.feature_scores(data), det.feature_scores(data))
    assert loaded.threshold_ == det.threshold_
    assert loaded.history_ == det.history_
    np.testing.assert_array_equal(loaded.scaler_.scale, det.scaler_.scale)
    assert loaded.detect(data).flags.equals(det.detect(data).flags)


@tf_only
def test_load_refuses_a_tampered_model(
    fitted: tuple[ConvAutoencoderDetector, pd.DataFrame], tmp_path: Path
) -> None:
    det, _ = fitted
    folder = det.save(tmp_path / "ae")
    with open(folder / "model.keras", "ab") as fh:
        fh.write(b"x")
    with pytest.raises(PersistenceError, match="sha256"):
        Detector.load(folder)


# ---------------------------------------------------------------------- streaming from CSV
def _write_csvs(folder: Path, data: pd.DataFrame, n_files: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, part in enumerate(np.array_split(np.arange(len(data)), n_files)):
        path = folder / f"part-{i}.csv"
        data.iloc[part].to_csv(path, index_label="timestamp")
        paths.append(path)
    return paths


@tf_only
def test_fit_files_streams_csvs_like_the_in_memory_fit(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    from anomark.detectors.conv_autoencoder.source import CSVWindowSource

    data = _series(400)
    paths = _write_csvs(tmp_path / "csv", data, 4)
    cache = tmp_path / "cache"
    params = {**FAST, "epochs": 1}
    source = CSVWindowSource(paths, 8, cache_dir=cache, dtype="float64")
    streamed = ConvAutoencoderDetector(**params).fit(source)  # fit accepts a CSVWindowSource
    assert source.n_converted_ == 4
    in_memory = ConvAutoencoderDetector(**params).fit(Dataset.from_csv(paths))
    np.testing.assert_allclose(streamed.scaler_.offset, in_memory.scaler_.offset)
    scores = streamed.score_files(paths, cache_dir=cache, progress=False)
    assert isinstance(scores.index, pd.DatetimeIndex) and len(scores) == 400
    np.testing.assert_allclose(scores.to_numpy(), in_memory.score(data).to_numpy(), rtol=1e-4)
    assert streamed.threshold_.value_ == pytest.approx(in_memory.threshold_.value_, rel=1e-4)
    assert list(streamed.feature_names_in_) == ["temp", "press", "flow"]
    # the streamed detector scores in-memory data too (same columns by name)
    assert np.isfinite(streamed.score(data)).all()

    shuffled = tmp_path / "shuffled"  # columns reordered, one extra: selected by name
    _write_csvs(shuffled, data[["flow", "temp", "press"]].assign(extra=1.0), 2)
    again = streamed.score_files(shuffled, cache_dir=cache, progress=False)
    np.testing.assert_allclose(again.to_numpy(), scores.to_numpy(), rtol=1e-6)
    with pytest.raises(ConfigurationError, match="window_size"):
        ConvAutoencoderDetector(**{**params, "window_size": 4}).fit(source)
    other = tmp_path / "other"
    _write_csvs(other, data.rename(columns={"flow": "speed"}).iloc[:50], 1)
    with pytest.raises(DataError, match=r"missing \[.flow.\]"):
        streamed.score_files(other, cache_dir=cache, progress=False)


def test_threshold_parameter_is_used() -> None:
    det = ConvAutoencoderDetector(threshold=Threshold.quantile(0.99))
    assert det._make_threshold().method == "quantile"


@tf_only
def test_model_from_another_keras_names_both_versions_when_it_cannot_load(
    fitted: tuple[ConvAutoencoderDetector, pd.DataFrame], tmp_path: Path
) -> None:
    """A model.keras written by another Keras (e.g. in SageMaker's TF 2.19 training image)
    that this Keras cannot load: the error names the writer's and this process's versions."""
    import hashlib
    import json
    import zipfile
    from importlib import metadata

    det, data = fitted
    folder = det.save(tmp_path / "ae")
    config = json.loads((folder / "config.json").read_text())
    here = installed_versions(("keras", "tensorflow"))
    assert set(here) == {"keras", "tensorflow"}
    assert here["keras"] == metadata.version("keras")
    assert config["state"]["writer"] == here  # recorded next to the model at save time
    # what a newer Keras writes: a layer argument this Keras does not know
    with zipfile.ZipFile(folder / "model.keras") as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    model_config = json.loads(members["config.json"])
    model_config["config"]["layers"][1]["config"]["future_option"] = True
    members["config.json"] = json.dumps(model_config).encode()
    with zipfile.ZipFile(folder / "model.keras", "w") as zf:
        for name, body in members.items():
            zf.writestr(name, body)
    config["files"]["model.keras"] = hashlib.sha256(
        (folder / "model.keras").read_bytes()
    ).hexdigest()
    config["state"]["writer"] = {"keras": "3.99.0", "tensorflow": "2.99.0"}
    (folder / "config.json").write_text(json.dumps(config))
    message = (
        rf"cannot load model\.keras: it was written by Keras 3\.99\.0 \(TensorFlow 2\.99\.0\) "
        rf"and this process has Keras {here['keras']} \(TensorFlow {here['tensorflow']}\) "
        r"\(.*future_option.*\); install keras==3\.99\.0"
    )
    with pytest.raises(PersistenceError, match=message):
        Detector.load(folder)
    # same versions on both sides: the plain error, without blaming versions
    config["state"]["writer"] = here
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(PersistenceError, match=r"cannot load model\.keras") as info:
        Detector.load(folder)
    assert "written by" not in str(info.value)
    # older saves without a writer record still load
    folder2 = det.save(tmp_path / "ae2")
    config2 = json.loads((folder2 / "config.json").read_text())
    del config2["state"]["writer"]
    (folder2 / "config.json").write_text(json.dumps(config2))
    np.testing.assert_array_equal(Detector.load(folder2).score(data), det.score(data))

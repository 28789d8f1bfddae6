"""Bad input, for every registered detector: clear anomark errors naming the cause, never a crash.

Parametrized over :func:`anomark.detectors.available_detectors`, so a new detector is covered
as soon as it registers. Each detector is built with small parameters (``SMALL``); one that is
not listed there is built with its defaults.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from _registry import TENSORFLOW, detector_params
from anomark import Dataset, Detector
from anomark.detectors import available_detectors
from anomark.errors import AnomarkError, DataError, NotFittedError, PersistenceError

SMALL: dict[str, dict[str, Any]] = {
    "iforest": {"n_estimators": 5, "random_state": 0},
    "rcf": {"num_trees": 50, "num_samples_per_tree": 32, "random_state": 0},
    "conv-ae": {
        "window_size": 4,
        "epochs": 1,
        "batch_size": 16,
        "filters": (4,),
        "kernel_size": 2,
        "random_state": 0,
    },
}

DETECTORS = detector_params()


def _make(name: str, **overrides: Any) -> Detector:
    if name in TENSORFLOW:
        pytest.importorskip("tensorflow", reason="needs anomark[tensorflow]")
    cls = available_detectors()[name]
    return cls(**{**SMALL.get(name, {}), **overrides})


def _frame(n: int = 80, columns: tuple[str, ...] = ("value",)) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    t = np.arange(n)
    data = {c: np.sin(t / (5.0 + i)) + rng.normal(0, 0.1, n) for i, c in enumerate(columns)}
    return pd.DataFrame(data, index=pd.date_range("2024-01-01", periods=n, freq="5min"))


_FITTED: dict[tuple[str, tuple[str, ...]], Detector] = {}


def _fitted(name: str, columns: tuple[str, ...] = ("value",)) -> Detector:
    """A small fitted detector, fitted once per test session (training is the slow part)."""
    key = (name, columns)
    if key not in _FITTED:
        _FITTED[key] = _make(name).fit(_frame(columns=columns))
    return _FITTED[key]


# ---------------------------------------------------------------------- values
@pytest.mark.parametrize("name", DETECTORS)
def test_nan_in_fit(name: str):
    df = _frame()
    df.iloc[7, 0] = np.nan
    with pytest.raises(
        DataError, match=r"NaN values in column\(s\) 'value' \(1\).*fitting.*fillna"
    ):
        _make(name).fit(df)


@pytest.mark.parametrize("name", DETECTORS)
def test_nan_in_score(name: str):
    df = _frame()
    df.iloc[-1, 0] = np.nan
    with pytest.raises(DataError, match=r"NaN values in column\(s\) 'value'.*scoring"):
        _fitted(name).score(df)


@pytest.mark.parametrize("name", DETECTORS)
def test_inf(name: str):
    df = _frame()
    df.iloc[3, 0] = -np.inf
    with pytest.raises(DataError, match=r"infinite values in column\(s\) \['value'\]"):
        _make(name).fit(df)
    with pytest.raises(DataError, match=r"infinite values in column\(s\) \['value'\]"):
        _fitted(name).score(df)


@pytest.mark.parametrize("name", DETECTORS)
def test_empty(name: str):
    with pytest.raises(DataError, match=r"empty \(0 rows\)"):
        _make(name).fit(_frame().iloc[:0])
    with pytest.raises(DataError, match=r"empty \(0 rows\)"):
        _make(name).fit(np.empty((0, 1)))
    with pytest.raises(DataError, match=r"0 feature\(s\)"):
        _make(name).fit(np.empty((10, 0)))


@pytest.mark.parametrize("name", DETECTORS)
def test_one_row(name: str):
    with pytest.raises(DataError, match=r"needs at least 2 rows to fit, got 1"):
        _make(name).fit(_frame().iloc[:1])


@pytest.mark.parametrize("name", DETECTORS)
def test_text_column(name: str):
    df = _frame()
    df["status"] = ["ok"] * (len(df) - 1) + ["FAULT"]
    with pytest.raises(DataError, match=r"column 'status' is not numeric.*'ok'"):
        _make(name).fit(df)
    with pytest.raises(DataError, match=r"array input must be numeric"):
        _make(name).fit(np.array([["a", "b"], ["c", "d"]]))


@pytest.mark.parametrize("name", DETECTORS)
def test_wrong_dimensions(name: str):
    with pytest.raises(DataError, match=r"1-D or 2-D"):
        _make(name).fit(np.zeros((10, 2, 2)))


@pytest.mark.parametrize("name", DETECTORS)
def test_huge_values_give_an_error_or_finite_scores(name: str):
    df = _frame()
    df.iloc[10, 0] = 1e300
    try:
        scores = _make(name).fit(df).score(df)
    except AnomarkError as exc:
        assert isinstance(exc, DataError)
        assert "value" in str(exc) or "rescale" in str(exc)
    else:
        assert np.isfinite(scores.to_numpy()).all()


@pytest.mark.parametrize("name", DETECTORS)
def test_constant_series_is_fine(name: str):
    df = _frame()
    df["value"] = 3.0
    result = _make(name).fit_detect(df)
    assert np.isfinite(result.scores.to_numpy()).all()
    assert len(result.scores) == len(df)


# ---------------------------------------------------------------------- timestamps
@pytest.mark.parametrize("name", DETECTORS)
def test_unsorted_timestamps_are_sorted_with_a_warning(name: str):
    df = _frame()
    shuffled = df.sample(frac=1.0, random_state=0)
    with pytest.warns(UserWarning, match=r"not in time order; rows were sorted"):
        scores = _fitted(name).score(shuffled)
    assert scores.index.equals(df.index)
    pd.testing.assert_series_equal(scores, _fitted(name).score(df), check_freq=False)


@pytest.mark.parametrize("name", DETECTORS)
def test_duplicate_timestamps(name: str):
    df = _frame()
    dup = pd.concat([df, df.iloc[[5]]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # also unsorted
        with pytest.raises(DataError, match=r"1 duplicate timestamp\(s\), first 2024-01-01 00:25"):
            _make(name).fit(dup)


# ---------------------------------------------------------------------- shapes
@pytest.mark.parametrize("name", DETECTORS)
def test_window_longer_than_series(name: str):
    """The error names the window parameter (``Detector.window_param``) or the window size,
    with both lengths. A point-wise detector (no window parameter) fits 20 rows."""
    param = available_detectors()[name].window_param
    if param is None:
        assert _make(name).fit(_frame(n=20)).score(_frame(n=20)).shape == (20,)
        return
    det = _make(name, **{param: 50})
    with pytest.raises(DataError, match=rf"({param}=50|window size 50).*(got 20|length 20)"):
        det.fit(_frame(n=20))


@pytest.mark.parametrize("name", DETECTORS)
def test_series_shorter_than_window_when_scoring(name: str):
    param = available_detectors()[name].window_param
    if param is None:  # point-wise: any number of rows scores
        assert _fitted(name).score(_frame(n=1)).shape == (1,)
        return
    det = _make(name, **{param: 8}).fit(_frame())
    with pytest.raises(DataError, match=rf"needs at least 8 rows to score \(its window, "
                       rf"{param}=8\), got 5"):
        det.score(_frame(n=5))


def test_every_registered_detector_declares_its_window_parameter():
    """A detector either names the constructor parameter holding its window or says it has
    none (``None``); the name must be a real parameter, so no suite has to guess it."""
    for name, cls in available_detectors().items():
        params = cls._get_param_names()
        if cls.window_param is not None:
            assert cls.window_param in params, (name, cls.window_param)
        else:  # point-wise: then no parameter looks like a window it forgot to declare
            windowy = [p for p in params if "window" in p or "shingle" in p]
            assert not windowy, f"{name} has {windowy} but declares window_param = None"


@pytest.mark.parametrize("name", DETECTORS)
def test_fit_score_column_mismatch(name: str):
    det = _fitted(name, ("a", "b"))
    renamed = _frame(columns=("a", "c"))
    with pytest.raises(DataError, match=r"missing columns \['b'\], unexpected columns \['c'\]"):
        det.score(renamed)
    with pytest.raises(DataError, match=r"X has 1 features, but .* is expecting 2 features"):
        det.score(_frame(columns=("a",)))
    with pytest.raises(DataError, match=r"X has 3 features, but .* is expecting 2 features"):
        det.score(np.zeros((40, 3)))


@pytest.mark.parametrize("name", DETECTORS)
def test_unfitted_use(name: str, tmp_path: Path):
    det = _make(name)
    for call in (
        lambda: det.score(_frame()),
        lambda: det.detect(_frame()),
        lambda: det.save(tmp_path / "m"),
    ):
        with pytest.raises(NotFittedError, match=r"is not fitted yet. Call 'fit'"):
            call()


# ---------------------------------------------------------------------- save folders
def _saved(name: str, tmp_path: Path) -> Path:
    return _fitted(name).save(tmp_path / name)


def _edit_config(folder: Path, edit: Any) -> None:
    config = json.loads((folder / "config.json").read_text())
    edit(config)
    (folder / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize("name", DETECTORS)
def test_truncated_config(name: str, tmp_path: Path):
    folder = _saved(name, tmp_path)
    text = (folder / "config.json").read_text()
    (folder / "config.json").write_text(text[:-40])
    with pytest.raises(PersistenceError, match=r"not valid JSON"):
        Detector.load(folder)


@pytest.mark.parametrize("name", DETECTORS)
def test_modified_artifact(name: str, tmp_path: Path):
    folder = _saved(name, tmp_path)
    for file in json.loads((folder / "config.json").read_text())["files"]:
        data = bytearray((folder / file).read_bytes())
        data[len(data) // 2] ^= 0xFF
        (folder / file).write_bytes(bytes(data))
        with pytest.raises(PersistenceError, match=rf"{file} is corrupted or was modified"):
            Detector.load(folder)
        data[len(data) // 2] ^= 0xFF
        (folder / file).write_bytes(bytes(data))
    Detector.load(folder)  # restored: loads again


@pytest.mark.parametrize("name", DETECTORS)
def test_garbage_artifact_with_forged_checksum(name: str, tmp_path: Path):
    folder = _saved(name, tmp_path)
    (folder / "arrays.npz").write_bytes(b"\x80\x04not an npz")
    digest = hashlib.sha256((folder / "arrays.npz").read_bytes()).hexdigest()
    _edit_config(folder, lambda c: c["files"].__setitem__("arrays.npz", digest))
    with pytest.raises(PersistenceError, match=r"cannot read"):
        Detector.load(folder)


@pytest.mark.parametrize("name", DETECTORS)
def test_hand_edited_params(name: str, tmp_path: Path):
    folder = _saved(name, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    numeric = sorted(
        k for k, v in config["params"].items() if isinstance(v, int) and not isinstance(v, bool)
    )
    assert numeric, "expected at least one integer parameter"
    _edit_config(folder, lambda c: c["params"].__setitem__(numeric[0], "many"))
    with pytest.raises(PersistenceError, match=rf"invalid parameters for .*{numeric[0]}"):
        Detector.load(folder)


@pytest.mark.parametrize("name", DETECTORS)
def test_unknown_param_and_future_version(name: str, tmp_path: Path):
    folder = _saved(name, tmp_path)
    _edit_config(folder, lambda c: c["params"].__setitem__("turbo", True))
    with pytest.raises(PersistenceError, match=r"unknown parameter\(s\) \['turbo'\]"):
        Detector.load(folder)
    _edit_config(folder, lambda c: (c["params"].pop("turbo"), c.__setitem__("format_version", 99)))
    with pytest.raises(PersistenceError, match=r"format version 99.*Upgrade anomark"):
        Detector.load(folder)


@pytest.mark.parametrize("name", DETECTORS)
def test_missing_artifact(name: str, tmp_path: Path):
    folder = _saved(name, tmp_path)
    (folder / "arrays.npz").unlink()
    with pytest.raises(PersistenceError, match=r"is missing arrays.npz"):
        Detector.load(folder)


@pytest.mark.parametrize("name", DETECTORS)
def test_round_trip_still_works(name: str, tmp_path: Path):
    folder = _saved(name, tmp_path)
    df = _frame()
    pd.testing.assert_series_equal(Detector.load(folder).score(df), _fitted(name).score(df))


def test_suite_covers_iforest():
    assert "iforest" in available_detectors()
    assert isinstance(Dataset.from_any(_frame()), Dataset)

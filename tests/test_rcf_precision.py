"""RCF in single precision (``dtype="float32"``, AWS's own precision): the same forests as in
double precision where float32 holds the data exactly, refusals and warnings where it cannot,
half the memory, and saved states that keep their precision."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomark import Detector, RCFDetector
from anomark.detectors.rcf._kernels import forest_bytes
from anomark.detectors.rcf.forest import RandomCutForest
from anomark.detectors.rcf.streaming import StreamingForest
from anomark.errors import ConfigurationError, DataError, PersistenceError

SHAPE = {"num_trees": 50, "num_samples_per_tree": 32, "shingle_size": 6, "random_state": 0}


def _counts(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """Integer counts (as NYC taxi's): float32 holds them, and the sums of their differences,
    exactly."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = np.round(1000 + 400 * np.sin(2 * np.pi * t / 48) + rng.normal(0, 30, n))
    x[n // 2 : n // 2 + 5] += 2500
    idx = pd.date_range("2024-01-01", periods=n, freq="30min")
    return pd.DataFrame({"count": x, "other": np.round(x[::-1] / 3)}, index=idx)


def _det(**kw: object) -> RCFDetector:
    return RCFDetector(**{**SHAPE, **kw})  # type: ignore[arg-type]


def test_float32_finds_what_float64_finds() -> None:
    # integer counts are exact in float32, but a cut value drawn between two counts may round
    # onto one of them, so the trees (and the scores) of the two precisions part now and then
    frame = _counts()
    scores = {}
    for dtype in ("float64", "float32"):
        det = _det(dtype=dtype).fit(frame.iloc[:700])
        scores[dtype, "batch"] = det.score(frame).to_numpy()
        scores[dtype, "from batch"] = det.score_update(frame.iloc[700:]).to_numpy()
        cold = _det(dtype=dtype).partial_fit(frame.iloc[:300])
        scores[dtype, "stream"] = cold.score_update(frame.iloc[300:]).to_numpy()
        assert cold.forest_.reservoir_.points.dtype == dtype
        assert cold.forest_.trees_.lo.dtype == cold.forest_.trees_.cut_value.dtype == dtype
    for kind, start in (("batch", 0), ("from batch", 700), ("stream", 300)):
        a, b = scores["float64", kind], scores["float32", kind]
        assert np.corrcoef(a, b)[0, 1] > 0.9, kind
        for s in (a, b):  # the burst of rows 750-754 stands out in both
            assert 750 <= start + int(np.argmax(s)) < 800, kind


def test_other_data_find_the_same_burst_in_both_precisions() -> None:
    rng = np.random.default_rng(1)
    x = np.sin(np.arange(2000) / 7.0) + 0.05 * rng.normal(size=2000)
    x[1500:1504] += 2.0
    out = {}
    for dtype in ("float64", "float32"):
        forest = StreamingForest(50, 64, shingle_size=4, random_state=2, dtype=dtype)
        out[dtype] = forest.process(x).scores
    # the streams draw the same numbers; float32 boxes move a cut now and then, so trees
    # (and scores) drift apart a little, without changing what stands out
    assert np.corrcoef(out["float64"], out["float32"])[0, 1] > 0.95
    assert 1500 <= int(np.argmax(out["float32"])) < 1510
    assert 1500 <= int(np.argmax(out["float64"])) < 1510


def test_float32_halves_the_memory_and_forest_bytes_knows_it() -> None:
    x = _counts(400)[["count"]].to_numpy()
    stream32 = StreamingForest(30, 32, shingle_size=8, random_state=0, dtype="float32")
    stream32.process(x)
    exact = stream32.memory_bytes() - stream32.tail_.nbytes
    assert exact == forest_bytes(30, 32, 8, itemsize=4) + 30 * 80
    stream64 = StreamingForest(30, 32, shingle_size=8, random_state=0)
    stream64.process(x)
    assert stream32.memory_bytes() < 0.6 * stream64.memory_bytes()
    batch = RandomCutForest(30, 32, random_state=0, dtype="float32").fit_series(x, 8)
    assert batch.points_.dtype == batch.trees_.lo.dtype == batch.trees_.cut_value.dtype
    assert batch.trees_.range_sum.dtype == np.float64  # side sums stay double, as AWS's
    assert batch.trees_.lo.ctypes.data % 64 == 0 and batch.points_.ctypes.data % 64 == 0


def test_values_beyond_float32_are_refused_before_anything_starts() -> None:
    x = np.ones((50, 2))
    x[10, 1] = 1e39
    det = _det(dtype="float32")
    with pytest.raises(DataError, match=r"RCFDetector.partial_fit: column\(s\) \['1'\] hold "
                       r"values beyond float32's range \(\|x\| up to 1e\+39\); use "
                       r"dtype='float64' or rescale them"):
        det.partial_fit(x)
    assert getattr(det, "forest_", None) is None  # no forest made: the next call starts afresh
    assert len(det.score_update(np.ones((50, 2)))) == 50
    forest = StreamingForest(30, 16, shingle_size=2, dtype="float32")
    with pytest.raises(DataError, match=r"StreamingForest.process: column\(s\) \[1\] hold"):
        forest.process(x)  # the engine sees arrays: columns by position
    assert not forest.is_started  # nothing allocated, nothing learned
    named = pd.DataFrame(x, columns=["level", "flow"])
    with pytest.raises(DataError, match=r"RCFDetector.fit: column\(s\) \['flow'\] hold"):
        _det(dtype="float32").fit(named)
    fitted = _det(dtype="float32").fit(pd.DataFrame(np.ones((50, 2)), columns=["level", "flow"]))
    with pytest.raises(DataError, match=r"RCFDetector.score: column\(s\) \['flow'\]"):
        fitted.score(named)
    with pytest.raises(DataError, match=r"RCFDetector.attribution: column\(s\) \['flow'\]"):
        fitted.attribution(named)
    with pytest.raises(DataError, match=r"RCFDetector.score_update: column\(s\) \['flow'\]"):
        fitted.score_update(named.set_axis(pd.RangeIndex(50, 100)))
    # float64 takes them
    assert np.isfinite(_det().fit(x).score(x)).all()


def test_coarse_rounding_is_warned_about_once_where_the_forest_starts() -> None:
    rng = np.random.default_rng(0)
    epoch = 1.7e9 + np.cumsum(rng.integers(1, 3, 600)) + rng.normal(0, 0.3, 600)
    frame = pd.DataFrame({"fine": rng.normal(size=600), "epoch": epoch})
    with pytest.warns(UserWarning, match=r"RCFDetector.fit: rounding to float32 moves values of "
                      r"column\(s\) \['epoch'\] by up to .*dtype='float64' keeps their detail"):
        _det(dtype="float32").fit(frame)
    with pytest.warns(UserWarning, match=r"RCFDetector.partial_fit: rounding to float32") as seen:
        det = _det(dtype="float32").partial_fit(frame.iloc[:300])
    assert len([w for w in seen if "float32" in str(w.message)]) == 1  # not again by the engine
    with pytest.warns(UserWarning, match=r"RandomCutForest.fit_series: rounding to float32 moves "
                      r"values of column\(s\) \[1\]"):
        RandomCutForest(50, 32, dtype="float32").fit_series(frame.to_numpy(), 6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        det.score_update(frame.iloc[300:])  # a running stream does not warn again
        _det(dtype="float32").fit(_counts())  # data float32 holds well: no warning
        _det().fit(frame)  # float64: no warning


def test_dtype_is_checked_and_pinned(tmp_path: Path) -> None:
    for bad in ("float16", np.float32, "double"):
        with pytest.raises(ConfigurationError, match=r"dtype must be one of 'float64', "
                           r"'float32', got"):
            _det(dtype=bad).fit(np.ones(100))
    with pytest.raises(ConfigurationError, match="dtype must be one of"):
        StreamingForest(dtype="float16")
    frame = _counts(600)
    det = _det(dtype="float32").fit(frame.iloc[:300])
    det.set_params(dtype="float64")
    with pytest.raises(ConfigurationError, match="dtype differ from the fitted forest's"):
        det.score_update(frame.iloc[300:])
    det.set_params(dtype="float32")
    det.score_update(frame.iloc[300:400])
    det.set_params(dtype="float64")
    with pytest.raises(ConfigurationError, match="dtype=float64 differs from the streaming "
                       "forest's float32; refit, or set it back"):
        det.score_update(frame.iloc[400:])
    # scoring reads the forest as it is; saving refuses the contradiction
    assert np.isfinite(det.score(frame)).all()
    with pytest.raises(PersistenceError, match=r"parameter dtype='float64' contradicts the "
                       r"fitted state \(the forest holds float32 values\)"):
        det.save(tmp_path / "x")


def test_saved_float32_state_keeps_its_precision(tmp_path: Path) -> None:
    frame = _counts(900)
    det = _det(dtype="float32").partial_fit(frame.iloc[:400])
    folder = det.save(tmp_path / "f32")
    with np.load(folder / "arrays.npz") as arrays:
        assert arrays["stream_points"].dtype == np.float32
        assert arrays["stream_cut_value"].dtype == np.float32
    loaded = Detector.load(folder)
    assert isinstance(loaded, RCFDetector) and loaded.dtype == "float32"
    np.testing.assert_array_equal(loaded.score_update(frame.iloc[400:]),
                                  det.score_update(frame.iloc[400:]))
    # the same arrays under dtype float64 (a hand-edited config): float32 values widen
    # exactly, so the state loads and continues in double precision
    config = json.loads((folder / "config.json").read_text())
    config["params"]["dtype"] = "float64"
    (folder / "config.json").write_text(json.dumps(config))
    wide = Detector.load(folder)
    assert isinstance(wide, RCFDetector)
    assert wide.forest_.reservoir_.points.dtype == np.float64
    assert np.isfinite(wide.score_update(frame.iloc[400:])).all()


def test_float64_state_with_inexact_values_is_refused_by_a_float32_forest() -> None:
    x = np.sin(np.arange(300) / 5.0)
    forest = StreamingForest(30, 16, shingle_size=3, random_state=0)
    forest.process(x)
    arrays = forest.to_arrays()
    with pytest.raises(PersistenceError, match=r"streaming forest 'points' holds float64 "
                       r"values that a float32 forest cannot hold exactly"):
        StreamingForest.from_arrays(arrays, num_trees=30, num_samples_per_tree=16,
                                    shingle_size=3, dtype="float32")
    batch = RandomCutForest(30, 16, random_state=0).fit_series(x, 3)
    with pytest.raises(PersistenceError, match=r"forest 'points' holds float64 values"):
        RandomCutForest.from_arrays(batch.to_arrays(), dtype="float32")
    # a float32 batch forest round-trips
    single = RandomCutForest(30, 16, random_state=0, dtype="float32").fit_series(x, 3)
    again = RandomCutForest.from_arrays(single.to_arrays(), dtype="float32")
    np.testing.assert_array_equal(again.score_series(x, 3), single.score_series(x, 3))
    with pytest.raises(DataError, match="the batch forest holds float32 values, the stream's "
                       "dtype is 'float64'"):
        StreamingForest.from_batch(single, x[-2:, None], 300, num_trees=30,
                                   num_samples_per_tree=16, shingle_size=3)


@pytest.mark.filterwarnings("ignore:StreamingForest.process. rounding to float32")
@pytest.mark.parametrize("dim", [4, 5, 12])
def test_side_sums_of_float32_boxes_far_from_zero_are_kept(dim: int) -> None:
    # summing b - a with reassociation let LLVM sum the bounds apart and subtract: for float32
    # boxes near 1e6 the side sums came out 0 (or off by percents) for these dimensions
    rng = np.random.default_rng(dim)
    x = 1e6 + rng.normal(0, 3, size=(800, dim))
    forest = StreamingForest(30, 16, shingle_size=1, random_state=0, time_decay=0.02,
                             dtype="float32")
    forest.process(x)
    trees = forest.trees_
    kept = trees.range_sum.copy()
    forest._recompute_boxes()  # side sums from the leaves, in float64
    internal = trees.left >= 0
    assert (kept[internal] > 0).all()
    np.testing.assert_allclose(kept[internal], trees.range_sum[internal], rtol=1e-5)

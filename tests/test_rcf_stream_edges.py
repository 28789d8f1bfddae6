"""Streaming RCF edges pinned by value: every refusal of a saved streaming state with its exact
message, states at the boundaries that must load (a forest that has seen nothing yet, equal
reservoir weights, no decay), arrays that must not be shared with the caller or must not need
C order, the conversion from a batch forest, the detector's saved online state (time zones,
positions, hand-edited statistics) and the located / attribution outputs, checked against the
engine's own per-shingle attribution (found thin by mutation testing, issue 17)."""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from anomark import Detector, RCFDetector, Threshold
from anomark.detectors.rcf import _online
from anomark.detectors.rcf._kernels import (
    aligned_zeros,
    as_aligned,
    available_memory,
    forest_bytes,
)
from anomark.detectors.rcf.forest import RandomCutForest
from anomark.detectors.rcf.streaming import StreamingForest, locate_offsets
from anomark.errors import ConfigurationError, DataError, NotFittedError, PersistenceError
from anomark.seasonal import SeasonalResidual

SHAPE = {"num_trees": 30, "num_samples_per_tree": 32, "shingle_size": 4}


def _series(n: int, seed: int = 0, columns: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    x = np.sin(2 * np.pi * t / 37 + np.arange(columns)) + 0.1 * rng.normal(size=(n, columns))
    x[n // 2 : n // 2 + 6] += 4.0
    return x


def _streamed(n: int = 400, **kw: Any) -> StreamingForest:
    forest = StreamingForest(**{**SHAPE, "random_state": 3, **kw})
    forest.process(_series(n))
    return forest


def _load(arrays: dict[str, np.ndarray], **kw: Any) -> StreamingForest:
    return StreamingForest.from_arrays(arrays, **{**SHAPE, **kw})


# ---------------------------------------------------------------- StreamingForest.from_arrays
def _set(key: str, where: Any, value: Any) -> Callable[[dict[str, np.ndarray]], None]:
    def edit(a: dict[str, np.ndarray]) -> None:
        a[key][where] = value
    return edit


Edit = Callable[[dict[str, np.ndarray]], None]


def _replace(key: str, make: Callable[[np.ndarray], Any]) -> Edit:
    def edit(a: dict[str, np.ndarray]) -> None:
        a[key] = make(a[key])
    return edit


def _leaf_slot(a: dict[str, np.ndarray]) -> tuple[int, int]:
    leaves = np.argwhere(a["mass"][:1] == 1)
    return int(leaves[0, 0]), int(leaves[0, 1])


def _leaf_range_sum(value: float) -> Callable[[dict[str, np.ndarray]], None]:
    def edit(a: dict[str, np.ndarray]) -> None:
        a["range_sum"][_leaf_slot(a)] = value
    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda a: a.pop("decay"), "streaming forest arrays are missing ['decay']"),
        (_replace("points", lambda p: p[:, :, 0]),
         "streaming forest 'points' must be a (30, 32, dim) float array, got (30, 32) float64"),
        (_replace("points", lambda p: p[:, :31]),
         "streaming forest 'points' must be a (30, 32, dim) float array, got (30, 31, 4) float64"),
        (_replace("points", lambda p: p.astype(np.int64)),
         "streaming forest 'points' must be a (30, 32, dim) float array, got (30, 32, 4) int64"),
        (_replace("points", lambda p: p[:, :, :3]),
         "streaming forest dimension 3 is not a multiple of shingle_size 4"),
        (_replace("points", lambda p: p[:, :, :0]),
         "streaming forest dimension 0 is not a multiple of shingle_size 4"),
        (_replace("seq", lambda s: s[:, :31]),
         "streaming forest array 'seq' has shape (30, 31), expected (30, 32)"),
        (_replace("seq", lambda s: s.astype(np.float64)),
         "streaming forest array 'seq' must hold integers"),
        (_replace("counters", lambda c: c.astype(np.float64)),
         "streaming forest array 'counters' must hold integers"),
        (_set("rng", (2, slice(4, 8)), 0),
         "streaming forest 'rng' must hold non-zero uint64 states"),
        (_replace("rng", lambda r: r.astype(np.int64)),
         "streaming forest 'rng' must hold non-zero uint64 states"),
        (_set("weight", (0, 0), np.inf), "streaming forest array 'weight' must be finite floats"),
        (_replace("tail", lambda t: t[:2]),
         "streaming forest 'tail' must hold the last 3 rows of 1 values, got (2, 1)"),
        (_replace("tail", lambda t: t[:, 0]),
         "streaming forest 'tail' must hold the last 3 rows of 1 values, got (3,)"),
        (_set("size", 0, -1), "streaming forest counters are inconsistent"),
        (_set("size", 0, 33), "streaming forest counters are inconsistent"),
        (_set("counters", 0, -1), "streaming forest counters are inconsistent"),
        (_set("counters", 1, 396), "streaming forest counters are inconsistent"),  # rows < seen
        (_set("counters", 2, -1), "streaming forest counters are inconsistent"),
        (_set("counters", 2, 398), "streaming forest counters are inconsistent"),  # > entries
        (_set("decay", 1, -0.5), "streaming forest counters are inconsistent"),
        (_set("seq", (0, 0), -1), "streaming forest sample indices are out of range"),
        (_set("seq", (0, 0), 397), "streaming forest sample indices are out of range"),
        (_set("heap_slot", (0, 0), -1), "streaming forest sample indices are out of range"),
        (_set("heap_slot", (0, 0), 1), "streaming forest heap of tree 0 is not a permutation"),
        (_leaf_range_sum(1e-9), "streaming forest 'range_sum' does not match the boxes"),
        (lambda a: a["range_sum"].__setitem__((0, 0), a["range_sum"][0, 0] * (1 + 1e-7)),
         "streaming forest 'range_sum' does not match the boxes"),
        (lambda a: a["range_sum"].__setitem__((0, 0), a["range_sum"][0, 0] * 1.5),
         "streaming forest 'range_sum' does not match the boxes"),
        (lambda a: a["range_sum"].__setitem__((0, 0), -a["range_sum"][0, 0]),
         "streaming forest 'range_sum' does not match the boxes"),
    ],
)
def test_from_arrays_refuses_with_the_exact_reason(
    edit: Callable[[dict[str, np.ndarray]], None], message: str
) -> None:
    forest = _streamed()  # 400 rows, 397 shingles seen
    arrays = forest.to_arrays()
    edit(arrays)
    with pytest.raises(PersistenceError) as info:
        _load(arrays)
    assert str(info.value) == message


def test_heap_order_is_checked_from_the_first_child_and_allows_ties() -> None:
    arrays = _streamed().to_arrays()
    w = arrays["weight"]
    # the first child above the root alone: refused
    broken = {k: v.copy() for k, v in arrays.items()}
    broken["weight"][0, 1] = w[0, 0] + 1.0
    with pytest.raises(PersistenceError) as info:
        _load(broken)
    assert str(info.value) == "streaming forest heap of tree 0 is out of order"
    # a child equal to its parent is a valid heap
    tied = {k: v.copy() for k, v in arrays.items()}
    tied["weight"][0, 1] = w[0, 0]
    _load(tied)


def test_sample_index_one_past_the_last_seen_is_refused_after_one_shingle() -> None:
    forest = StreamingForest(**SHAPE, random_state=0)
    forest.process(_series(4))  # exactly one shingle, index 0
    arrays = forest.to_arrays()
    assert forest.entries_seen_ == 1 and (arrays["size"] == 1).all()
    arrays["seq"][0, 0] = 1
    with pytest.raises(PersistenceError) as info:
        _load(arrays)
    assert str(info.value) == "streaming forest sample indices are out of range"


@pytest.mark.parametrize(
    ("rows", "params"),
    [
        (2, {}),  # allocated, no shingle yet: empty samples, no entry, decay start 0 = entries
        (4, {}),  # one shingle
        (300, {"shingle_size": 1}),  # every row is a shingle: rows == entries
        (300, {"time_decay": 0.0}),  # no decay at all
    ],
)
def test_boundary_states_round_trip(rows: int, params: dict[str, Any]) -> None:
    kw = {**SHAPE, "random_state": 5, **params}
    forest = StreamingForest(**kw)
    forest.process(_series(rows))
    twin = StreamingForest.from_arrays(forest.to_arrays(), **kw)
    assert (twin.entries_seen_, twin.rows_seen_) == (forest.entries_seen_, forest.rows_seen_)
    again = twin.to_arrays()  # a loaded forest saves the same arrays, with the same dtypes
    for k, v in forest.to_arrays().items():
        assert again[k].dtype == v.dtype, k
        np.testing.assert_array_equal(again[k], v, err_msg=k)
    x = _series(120, seed=1)
    np.testing.assert_array_equal(twin.process(x).scores, forest.process(x).scores)


def test_from_arrays_never_shares_or_needs_c_order_from_the_caller() -> None:
    forest = _streamed()
    arrays = forest.to_arrays()
    kept = {k: v.copy() for k, v in arrays.items()}
    # Fortran-ordered arrays (as an .npz may hold them) load to the same state
    fortran = {k: np.asfortranarray(v) for k, v in arrays.items()}
    twin = _load(fortran)
    direct = _load(arrays)
    x = _series(200, seed=2)
    expected = forest.process(x).scores
    np.testing.assert_array_equal(twin.process(x).scores, expected)
    np.testing.assert_array_equal(direct.process(x).scores, expected)
    # learning from the loaded forest changes none of the caller's arrays
    for k, v in arrays.items():
        np.testing.assert_array_equal(v, kept[k], err_msg=k)
        np.testing.assert_array_equal(fortran[k], kept[k], err_msg=k)


def test_a_file_with_float32_arrays_loads_as_float64() -> None:
    # integral values are exact in float32: the state is the same, stored as float64
    forest = StreamingForest(**SHAPE, random_state=3)
    forest.process(np.round(_series(400) * 4))
    arrays = forest.to_arrays()
    narrow = {k: (v.astype(np.float32) if k in ("points", "tail", "range_sum") else v)
              for k, v in arrays.items()}
    twin = _load(narrow)
    for k, v in twin.to_arrays().items():
        assert v.dtype == arrays[k].dtype, k
    x = _series(200, seed=6)  # not integral: new points must be stored at full precision
    np.testing.assert_array_equal(twin.process(x).scores, _load(arrays).process(x).scores)


def test_to_arrays_hands_out_copies() -> None:
    forest = _streamed()
    arrays = forest.to_arrays()
    kept = {k: v.copy() for k, v in arrays.items()}
    x = _series(200, seed=4)
    forest.process(x)  # the forest learns on: the arrays already handed out do not change
    for k, v in arrays.items():
        np.testing.assert_array_equal(v, kept[k], err_msg=k)
        assert v.flags["C_CONTIGUOUS"], k
    # and scribbling on them leaves the forest as it is
    twin = _load(forest.to_arrays())
    for v in forest.to_arrays().values():
        v[...] = 0
    y = _series(100, seed=5)
    np.testing.assert_array_equal(forest.process(y).scores, twin.process(y).scores)


@pytest.mark.parametrize("n_jobs", [None, -1])
def test_the_kernels_consistency_guard_reaches_python(n_jobs: int | None) -> None:
    # the kernel checks that a tree holds the point it evicts; the check must reach Python
    # as one clear exception from one thread or several (an exception raised inside numba's
    # parallel loop came out as a SystemError), naming the trees, never a wrong forest
    forest = _streamed(n_jobs=n_jobs)
    forest.reservoir_.points[[0, 7]] += 100.0  # trees 0 and 7 no longer hold their samples
    with pytest.raises(RuntimeError, match=re.escape(
        "a sampled point is missing from tree(s) [0, 7]: the forest's arrays were changed "
        "outside it"
    )):
        forest.process(_series(400, seed=6))


# ---------------------------------------------------------------- from_batch
def _batch(columns: int = 1) -> tuple[RandomCutForest, np.ndarray]:
    x = _series(500, columns=columns)
    return RandomCutForest(30, 32, random_state=1).fit_series(x, 4), x


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"num_trees": 31}, "a forest of 30 trees x 32 samples of dimension 4 does not fit 31 "
                            "trees x 32 samples with shingles of 4 rows"),
        ({"num_samples_per_tree": 16}, "a forest of 30 trees x 32 samples of dimension 4 does "
                                       "not fit 30 trees x 16 samples with shingles of 4 rows"),
        ({"tail": lambda x: x[-2:]}, "a forest of 30 trees x 32 samples of dimension 4 does "
                                     "not fit 30 trees x 32 samples with shingles of 4 rows"),
        ({"tail": lambda x: x[-3:, 0]}, "a forest of 30 trees x 32 samples of dimension 4 does "
                                        "not fit 30 trees x 32 samples with shingles of 4 rows"),
        ({"tail": lambda x: np.hstack([x[-3:], x[-3:]])},
         "a forest of 30 trees x 32 samples of dimension 4 does not fit 30 trees x 32 samples "
         "with shingles of 4 rows"),
    ],
)
def test_from_batch_refuses_a_forest_that_does_not_fit(
    change: dict[str, Any], message: str
) -> None:
    batch, x = _batch()
    params = {**SHAPE, **{k: v for k, v in change.items() if k != "tail"}}
    tail = change.get("tail", lambda v: v[-3:])(x)
    with pytest.raises(DataError) as info:
        StreamingForest.from_batch(batch, tail, len(x), **params)
    assert str(info.value) == "StreamingForest.from_batch: " + message


def test_from_batch_with_two_columns_and_an_integer_tail_saves_and_continues() -> None:
    batch, x = _batch(columns=2)
    x = np.round(x * 10)  # integral values: the tail can be given as integers
    batch = RandomCutForest(30, 32, random_state=1).fit_series(x, 4)
    stream = StreamingForest.from_batch(batch, x[-3:].astype(np.int64), len(x), **SHAPE)
    assert stream.tail_.dtype == np.float64 and stream.dim == 8
    np.testing.assert_array_equal(stream.score_series(x, 4), batch.score_series(x, 4))
    twin = _load(stream.to_arrays())  # the saved state is valid
    more = np.round(_series(100, seed=3, columns=2) * 10)
    np.testing.assert_array_equal(twin.process(more).scores, stream.process(more).scores)


# ---------------------------------------------------------------- cache-line alignment
def _on_a_line(a: np.ndarray) -> bool:
    return a.ctypes.data % 64 == 0 and a.flags["C_CONTIGUOUS"] and a.dtype == np.float64


def test_aligned_arrays_start_on_a_cache_line_and_copy_only_when_needed() -> None:
    zeros = aligned_zeros((3, 5, 8))
    assert zeros.shape == (3, 5, 8) and _on_a_line(zeros) and not zeros.any()
    assert as_aligned(zeros) is zeros  # already aligned: no copy
    buf = np.arange(66.0)
    start = 1 if (buf.ctypes.data + 8) % 64 else 2  # a view that does not start on a line
    off = buf[start : start + 64].reshape(8, 8)
    moved = as_aligned(off)
    assert off.ctypes.data % 64 and _on_a_line(moved)
    np.testing.assert_array_equal(moved, off)
    narrow = as_aligned(np.asfortranarray(np.ones((4, 3), dtype=np.float32)))
    assert _on_a_line(narrow) and (narrow == 1.0).all()


def test_boxes_and_points_start_on_a_cache_line_however_the_forest_was_made() -> None:
    # misaligned boxes and points split every 64-byte load of the distance loops over two
    # cache lines (NumPy's large arrays start 16 bytes past a page): see aligned_zeros
    batch, x = _batch()
    streamed = _streamed()
    loaded = _load({k: np.asfortranarray(v) for k, v in streamed.to_arrays().items()})
    converted = StreamingForest.from_batch(batch, x[-3:], len(x), **SHAPE)
    batch_loaded = RandomCutForest.from_arrays(batch.to_arrays())
    for forest in (batch, batch_loaded):
        for a in (forest.trees_.lo, forest.trees_.hi, forest.points_):
            assert _on_a_line(a)
    for stream in (streamed, loaded, converted):
        for a in (stream.trees_.lo, stream.trees_.hi, stream.reservoir_.points):
            assert _on_a_line(a)


# ---------------------------------------------------------------- memory, before allocating
def test_forest_bytes_is_what_the_arrays_take() -> None:
    stream = _streamed()  # 30 trees x 32 samples, dimension 4
    exact = stream.memory_bytes() - stream.tail_.nbytes
    assert exact == forest_bytes(30, 32, 4) + 30 * 80  # + per-tree counters and generators
    batch, _ = _batch()
    assert batch.memory_bytes() <= forest_bytes(30, 32, 4)  # no sampler state in a batch
    have = available_memory()
    assert have is None or have > 0


def test_a_forest_larger_than_the_memory_is_refused_before_allocating() -> None:
    # 1000 trees x 2048 samples x 10,000 dimensions (each within SageMaker's limits): 763 GiB
    have = available_memory()
    if have is None or have > 763 * 1024**3:
        pytest.skip("this machine has 763 GiB available, or cannot tell")
    x = np.zeros((2200, 100))
    need = "a forest of 1000 trees x 2048 samples of dimension 10000 needs 763.0 GiB"
    big = {"num_trees": 1000, "num_samples_per_tree": 2048, "shingle_size": 100}
    with pytest.raises(ConfigurationError, match=rf"^RCFDetector.fit: {need} .* available; "
                       r"use fewer trees or samples, or a shorter shingle or fewer columns, "
                       r"or dtype='float32' \(about half the memory\), "
                       r"or train on SageMaker \(sagemaker=\)$"):
        RCFDetector(**big).fit(x)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=rf"^RCFDetector.partial_fit: {need} .*"
                       r"fewer columns, or dtype='float32' \(about half the memory\)$"):
        RCFDetector(**big).partial_fit(x[:200])  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=rf"^StreamingForest: {need} "):
        StreamingForest(**big).process(x[:200])  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=rf"^RandomCutForest.fit_series: {need} "):
        RandomCutForest(1000, 2048).fit_series(x, 100)
    with pytest.raises(ConfigurationError, match=r"^RandomCutForest.fit: a forest of 1000 "
                       r"trees x 2048 samples of dimension 10000 needs 763.0 GiB"):
        RandomCutForest(1000, 2048).fit(np.zeros((2100, 10_000), dtype=np.float32))


# ---------------------------------------------------------------- read-only calls, memory
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda f: f.score_series(np.array([1.0, np.nan, 2.0, 3.0]), 4),
         "StreamingForest.score_series: input contains NaN or infinite values"),
        (lambda f: f.score_series(np.zeros(10), 3),
         "StreamingForest.score_series: shingles of 3 x 1 features have 3 dimensions, the forest "
         "was fitted on 4"),
        (lambda f: f.attribution_series(np.array([[1.0], [np.inf]]), 4, np.arange(1)),
         "StreamingForest.attribution_series: input contains NaN or infinite values"),
        (lambda f: f.attribution_series(np.zeros(10), 2, np.arange(1)),
         "StreamingForest.attribution_series: shingles of 2 x 1 features have 2 dimensions, the "
         "forest was fitted on 4"),
    ],
)
def test_read_only_calls_name_themselves(
    call: Callable[[StreamingForest], Any], message: str
) -> None:
    with pytest.raises(DataError) as info:
        call(_streamed(60))
    assert str(info.value) == message


def test_score_series_names_a_bad_score_type() -> None:
    with pytest.raises(ConfigurationError) as info:
        _streamed(60).score_series(np.zeros(10), 4, score_type="rank")  # type: ignore[arg-type]
    assert str(info.value) == "score_type must be one of 'anomaly', 'codisp', got 'rank'"


def test_memory_bytes_by_hand() -> None:
    # 2 trees, 4 samples, shingles of 3 rows: 7 node slots of dimension 3, tail of 2 rows
    forest = StreamingForest(2, 4, 3, random_state=0)
    forest.process(np.arange(10.0))
    t, m, d, n = 2, 4, 3, 7
    trees = t * n * (4 + 4 + 8 + 4 + 4 + 8) + 2 * t * n * d * 8  # node arrays + lo/hi boxes
    reservoir = t * m * d * 8 + t * m * (8 + 8 + 4 + 4) + t * (8 + 8 + 8 * 8)
    assert forest.memory_bytes() == trees + reservoir + 2 * 8


# ---------------------------------------------------------------- the detector's saved state
def _det(**kw: Any) -> RCFDetector:
    return RCFDetector(**{"num_trees": 50, "num_samples_per_tree": 32, "shingle_size": 4,
                          "random_state": 0, **kw})


def _frame(n: int, tz: str | None = None, columns: int = 1) -> pd.DataFrame:
    idx = pd.date_range("2024-03-30", periods=n, freq="h", tz=tz)
    return pd.DataFrame(_series(n, columns=columns), index=idx,
                        columns=[f"c{i}" for i in range(columns)])


def _saved_online(tmp_path: Path, tz: str | None = None) -> Path:
    """A detector saved after an online call (its folder, to edit by hand)."""
    det = _det()
    det.partial_fit(_frame(200, tz=tz))
    return det.save(tmp_path / "bad")


def _load_refusal(folder: Path) -> str:
    with pytest.raises(PersistenceError) as info:
        Detector.load(folder)
    return str(info.value)


def _edit_state(folder: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    config = json.loads((folder / "config.json").read_text())
    edit(config["state"])
    (folder / "config.json").write_text(json.dumps(config))


def _edit_arrays(folder: Path, edit: Callable[[dict[str, np.ndarray]], None]) -> None:
    """Rewrite arrays.npz and fix its sha256 in config.json (a deliberate hand edit)."""
    with np.load(folder / "arrays.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    edit(arrays)
    with open(folder / "arrays.npz", "wb") as fh:
        np.savez(fh, **arrays)
    config = json.loads((folder / "config.json").read_text())
    config["files"]["arrays.npz"] = hashlib.sha256((folder / "arrays.npz").read_bytes()).hexdigest()
    (folder / "config.json").write_text(json.dumps(config))


def test_time_zone_aware_stream_saves_its_zone_and_continues(tmp_path: Path) -> None:
    frame = _frame(300, tz="Europe/Paris")  # crosses the spring change of clocks
    det = _det()
    det.partial_fit(frame.iloc[:200])
    folder = det.save(tmp_path / "tz")
    state = json.loads((folder / "config.json").read_text())["state"]
    assert state["index_tail"] == {"kind": "datetime", "tz": "Europe/Paris"}
    with np.load(folder / "arrays.npz", allow_pickle=False) as npz:
        tail = npz["online_index_tail"]
    last = pd.DatetimeIndex(frame.index[197:200]).tz_convert("UTC").as_unit("ns")
    np.testing.assert_array_equal(tail, last.asi8)
    loaded = Detector.load(folder)
    assert isinstance(loaded, RCFDetector)
    assert loaded.last_seen_ == det.last_seen_ == frame.index[199]
    assert str(loaded.last_seen_.tz) == "Europe/Paris"
    rest = frame.iloc[200:]
    a, b = det.detect_update(rest), loaded.detect_update(rest)
    pd.testing.assert_series_equal(a.scores, b.scores)
    pd.testing.assert_series_equal(a.located, b.located)
    naive = _frame(300).iloc[250:]
    with pytest.raises(DataError) as info:
        loaded.score_update(naive)
    assert str(info.value) == (
        "RCFDetector.score_update: these timestamps have no time zone but the stream's are in "
        "Europe/Paris: give them that zone (DataFrame.tz_localize), or start a new detector")



def test_stream_continues_across_time_zones(tmp_path: Path) -> None:
    # the same instants given in another zone by each call: the stream compares instants,
    # keeps its tail in the zone of the latest rows (a tail mixing zones was an object
    # index: the next call said the earlier rows had no timestamps and save() crashed)
    frame = _frame(300, tz="Europe/Paris", columns=2)
    frame.iloc[250:253, 1] += 5.0
    whole = _det(threshold=Threshold.fixed(0.5))
    expected = whole.detect_update(frame)
    det = _det(threshold=Threshold.fixed(0.5))
    det.partial_fit(frame.iloc[:2])  # fewer rows than a shingle: the tail is every row
    parts = [det.detect_update(frame.iloc[2:120].tz_convert("UTC"))]
    parts.append(det.detect_update(frame.iloc[120:200].tz_convert("Asia/Tokyo")))
    assert isinstance(det._stream_index_, pd.DatetimeIndex)
    assert str(det.last_seen_.tz) == "Asia/Tokyo" and det.last_seen_ == frame.index[199]
    loaded = Detector.load(det.save(tmp_path / "zones"))
    later = frame.iloc[200:].tz_convert("America/New_York")
    parts.append(loaded.detect_update(later))
    scores = pd.concat([p.scores for p in parts])
    np.testing.assert_array_equal(scores.to_numpy(), expected.scores.iloc[2:].to_numpy())
    located = parts[-1].located
    assert located is not None and str(located.dt.tz) == "America/New_York"
    flagged = located[parts[-1].flags]
    assert len(flagged) and (flagged.to_numpy() == expected.located.iloc[200:][
        expected.flags.iloc[200:]].dt.tz_convert("America/New_York").to_numpy()).all()
    with pytest.raises(DataError, match=r"rows must continue the stream: the first timestamp "
                                        r"2024-04-11 19:00:00\+09:00 is not after the last one "
                                        r"seen, 2024-04-11 19:00:00\+09:00$"):
        loaded.score_update(frame.iloc[[299]].tz_convert("Asia/Tokyo"))  # the same instant

@pytest.mark.parametrize("shingle_size", [1, 2, 5])
def test_array_stream_saves_positions(tmp_path: Path, shingle_size: int) -> None:
    x = _series(300)
    det = _det(shingle_size=shingle_size)
    det.score_update(x[:200])
    folder = det.save(tmp_path / "pos")
    state = json.loads((folder / "config.json").read_text())["state"]
    assert state["index_tail"] == {"kind": "position", "tz": None}
    assert state["rows"] == 200
    loaded = Detector.load(folder)
    assert isinstance(loaded, RCFDetector)
    assert loaded.last_seen_ == 199 and isinstance(loaded.last_seen_, int | np.integer)
    out = loaded.score_update(x[200:])
    assert out.index.tolist() == list(range(200, 300))
    np.testing.assert_array_equal(out.to_numpy(), det.score_update(x[200:]).to_numpy())


def test_a_stream_saved_before_its_first_score_loads(tmp_path: Path) -> None:
    # ten rows: the forest is not ready yet, so the running statistics are [0, 0, 0]
    det = _det()
    det.partial_fit(_frame(10))
    folder = det.save(tmp_path / "early")
    assert json.loads((folder / "config.json").read_text())["state"]["online"] == [0.0, 0.0, 0.0]
    loaded = Detector.load(folder)
    rest = _frame(200).iloc[10:]
    pd.testing.assert_series_equal(loaded.score_update(rest), det.score_update(rest))


def test_hand_written_integer_statistics_load_as_numbers(tmp_path: Path) -> None:
    det = _det(threshold=Threshold.mean_std(2.0))
    det.partial_fit(_frame(200))
    folder = det.save(tmp_path / "ints")
    _edit_state(folder, lambda s: s.__setitem__("online", [150, 1, 40]))
    as_ints = Detector.load(folder)
    _edit_state(folder, lambda s: s.__setitem__("online", [150.0, 1.0, 40.0]))
    as_floats = Detector.load(folder)
    rest = _frame(400).iloc[200:]
    for part in (rest.iloc[:100], rest.iloc[100:]):  # the second call starts from the first's
        a, b = as_ints.detect_update(part), as_floats.detect_update(part)
        assert a.thresholds is not None and b.thresholds is not None
        np.testing.assert_array_equal(a.thresholds.to_numpy(), b.thresholds.to_numpy())
        assert np.isfinite(a.thresholds.to_numpy()).all() and a.threshold == b.threshold
    a = Detector.load(folder).detect_update(rest)
    assert a.thresholds is not None
    # the statistics start from the edited values: mean 1, sd sqrt(40 / 150)
    assert a.thresholds.iloc[0] == pytest.approx(1.0 + 2.0 * np.sqrt(40 / 150), rel=1e-12)


def _state(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda s: s.__setitem__(key, value)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_state("rows", True), "'rows' must be a count of rows"),
        (_state("rows", "200"), "'rows' must be a count of rows"),
        (_state("rows", -1), "'rows' must be a count of rows"),
        (_state("online", "abc"), "'online' must be [count, mean, m2]"),
        (_state("online", [1.0, 2.0]), "'online' must be [count, mean, m2]"),
        (_state("online", [1.0, 2.0, 3.0, 4.0]), "'online' must be [count, mean, m2]"),
        (_state("online", ["a", 0.0, 1.0]), "'online' must be [count, mean, m2]"),
        (_state("online", [10.0, None, 1.0]), "'online' must be [count, mean, m2]"),
        (_state("online", [-1.0, 0.5, 1.0]), "'online' must be [count, mean, m2]"),
        (_state("online", [10.0, 0.5, -1.0]), "'online' must be [count, mean, m2]"),
        (_state("index_tail", "datetime"), "'index_tail' must be an object with kind and tz"),
        (_state("index_tail", {"kind": "datetime", "tz": None, "unit": "ns"}),
         "'index_tail' must be an object with kind and tz"),
        (_state("index_tail", {"kind": "DATETIME", "tz": None}),
         "index_tail kind must be 'position' or 'datetime', got 'DATETIME'"),
        (_state("index_tail", {"kind": "datetime", "tz": 1}),
         "index_tail tz must be a time zone name (or null), got 1"),
        (_state("index_tail", {"kind": "position", "tz": "UTC"}),
         "index_tail tz must be a time zone name (or null), got 'UTC'"),
    ],
)
def test_saved_online_state_is_refused_with_the_exact_reason(
    tmp_path: Path, edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    folder = _saved_online(tmp_path)
    _edit_state(folder, edit)
    assert _load_refusal(folder) == f"{folder}: {message}"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda a: a.pop("online_index_tail"), "the saved index tail is missing"),
        (lambda a: a.__setitem__("online_index_tail", a["online_index_tail"][:2]),
         "the saved index tail has the wrong length"),
        (lambda a: a.__setitem__("online_index_tail", a["online_index_tail"].astype(float)),
         "the saved index tail must be 1-D integers"),
        (lambda a: a.__setitem__("online_index_tail", a["online_index_tail"][:, None]),
         "the saved index tail must be 1-D integers"),
    ],
)
def test_saved_index_tail_array_is_checked(
    tmp_path: Path, edit: Callable[[dict[str, np.ndarray]], None], message: str
) -> None:
    folder = _saved_online(tmp_path)
    _edit_arrays(folder, edit)
    assert _load_refusal(folder) == f"{folder}: {message}"


def test_saved_unknown_time_zone_is_refused(tmp_path: Path) -> None:
    folder = _saved_online(tmp_path, tz="UTC")
    _edit_state(folder, _state("index_tail", {"kind": "datetime", "tz": "Mars/Olympus"}))
    assert re.fullmatch(rf"{re.escape(str(folder))}: bad time zone 'Mars/Olympus' \(.+\)",
                        _load_refusal(folder))


# ---------------------------------------------------------------- located and attribution
def test_detect_locates_every_flagged_row_from_its_shingle(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = _frame(400, columns=2)
    frame.iloc[300:303, 1] += 5.0
    frame.iloc[253:255, 0] -= 5.0  # inside the first row's shingle, after its first row
    det = _det(shingle_size=6, threshold=Threshold.fixed(0.0)).fit(frame.iloc[:250])
    data = frame.iloc[250:]
    result = det.detect(data)
    assert result.flags.all()  # every row flagged: every row located
    # by hand: row r's shingle starts at max(r - 5, 0); the offset from the engine's attribution
    rows = np.arange(len(data))
    windows = np.maximum(rows - 5, 0)
    _, attr = det.forest_.attribution_series(data.to_numpy(), 6, windows)
    expected = data.index[windows + locate_offsets(attr, 2)]
    assert result.located is not None and result.located.name == "located_at"
    np.testing.assert_array_equal(result.located.to_numpy(), expected.to_numpy())
    assert result.located.iloc[0] == data.index[3]  # the first flagged row: not itself
    assert result.detector == "RCFDetector" and result.data is not None
    assert result.data.columns == ["c0", "c1"] and len(result.data) == len(data)
    assert result.threshold == 0.0
    # in chunks of 7 shingles (a tiny attribution budget) the rows are located the same
    monkeypatch.setattr(_online, "_ATTR_BUDGET", 8 * det.feature_dim_ * 7)
    chunked = det.detect(data)
    pd.testing.assert_series_equal(chunked.located, result.located)


def test_detect_keeps_per_row_thresholds_and_locates_nothing_without_flags() -> None:
    frame = _frame(400)
    det = _det(threshold=Threshold.fixed(1e9)).fit(frame.iloc[:250])
    quiet = det.detect(frame.iloc[250:])
    assert quiet.n_flagged == 0 and quiet.located is None
    online = _det()
    online.partial_fit(frame.iloc[:250])
    result = online.detect_update(frame.iloc[250:])
    assert result.thresholds is not None and result.located is not None
    codisp = _det(score_type="codisp", threshold=Threshold.fixed(0.0)).fit(frame.iloc[:250])
    flagged = codisp.detect(frame.iloc[250:])
    assert flagged.n_flagged > 0 and flagged.located is None  # no attribution for codisp


@pytest.mark.parametrize("rule", [None, "spot"])
def test_detect_while_the_online_threshold_warms_up_says_so(rule: str | None) -> None:
    # detect() after online calls applies the online threshold; before it is warm that was a
    # silent placeholder (threshold 1.79769e+308, nothing flagged)
    frame = _frame(400)
    frame.iloc[300:303, 0] += 5.0
    spot = Threshold.spot(q=1e-3, level=0.9) if rule else None
    det = _det(threshold=spot, num_samples_per_tree=256)  # output_after 65
    det.partial_fit(frame.iloc[:40])
    with pytest.warns(UserWarning) as caught:
        result = det.detect(frame.iloc[250:])
    need = ("Threshold.spot calibrates itself on the first 1000 rows the forest scores (it "
            "scores once it has seen 65 shingles)" if rule else
            "the running threshold starts once the forest has scored 65 rows")
    assert [str(w.message) for w in caught] == [
        "RCFDetector.detect: the online threshold is still warming up, so no row is flagged: "
        f"{need}; pass threshold= or refit_threshold=True to flag by another rule"]
    assert result.threshold == np.inf and result.n_flagged == 0 and result.located is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fixed = det.detect(frame.iloc[250:], threshold=Threshold.fixed(1.0))
        refit = det.detect(frame.iloc[250:], refit_threshold=True)
        assert fixed.n_flagged > 0 and refit.threshold < np.inf
        if rule is None:  # warm after enough scored rows: the threshold applies, no warning
            det.partial_fit(frame.iloc[40:250])
            warm = det.detect(frame.iloc[250:])
            assert warm.threshold == det.threshold_.value_ < np.inf and warm.n_flagged > 0

def test_attribution_in_chunks_reorders_columns_and_reads_the_seasonal_residuals(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frame = _frame(300, columns=2)
    det = _det(shingle_size=5).fit(frame.iloc[:200])
    whole = det.attribution(frame)
    assert whole.index.equals(frame.index)
    monkeypatch.setattr(_online, "_ATTR_BUDGET", 8 * det.feature_dim_ * 7)
    pd.testing.assert_frame_equal(det.attribution(frame), whole)  # 296 shingles, 7 at a time
    monkeypatch.undo()
    # columns given in another order are matched by name
    pd.testing.assert_frame_equal(det.attribution(frame[["c1", "c0"]]), whole)
    seasonal = _det(shingle_size=5, seasonal=SeasonalResidual(period=24)).fit(frame.iloc[:200])
    attr = seasonal.attribution(frame)
    assert list(attr.columns) == ["c0", "c1", "c0.seasonal_residual", "c1.seasonal_residual"]
    np.testing.assert_allclose(attr.sum(axis=1).to_numpy(), seasonal.score(frame).to_numpy(),
                               rtol=1e-8)


def test_online_refusals_name_the_method() -> None:
    with pytest.raises(ConfigurationError) as info:
        _det(score_type="codisp").fit(_frame(100)).attribution(_frame(100))
    assert str(info.value) == ("attribution is defined for score_type='anomaly' (AWS's "
                               "DiVector), not codisp")
    from anomark import SageMakerConfig

    config = SageMakerConfig(role="arn:aws:iam::123456789012:role/test", bucket="b",
                             region="us-east-1")
    with pytest.raises(ConfigurationError) as info:
        RCFDetector(shingle_size=4, sagemaker=config).attribution(_frame(50))
    assert str(info.value) == (
        "attribution needs the local engine: SageMaker's built-in RCF is batch-trained and "
        "cannot learn row by row or attribute scores; use sagemaker=None for online detection"
    )


def test_located_at_prefers_the_first_offset_with_half_the_largest_share() -> None:
    # offsets' shares: 1 and 2 (exactly half: the first), 0.9 and 2 (below half: the second),
    # all zero (the first); two columns per offset are summed
    attribution = np.array([[1.0, 2.0], [0.9, 2.0], [0.0, 0.0]])
    located = locate_offsets(attribution, 1)
    assert located.dtype == np.int64
    assert located.tolist() == [0, 1, 0]
    assert locate_offsets(np.array([[0.5, 0.5, 1.5, 0.5]]), 2).tolist() == [0]


# ---------------------------------------------------------------- the online calls
def _expected_running(scores: np.ndarray, ready: np.ndarray, k: float, warmup: int) -> np.ndarray:
    out = np.full(len(scores), np.inf)
    past = scores[ready]
    for j, i in enumerate(np.flatnonzero(ready)):
        if j >= warmup:
            out[i] = past[:j].mean() + k * past[:j].std()
    return out


@pytest.mark.parametrize(("rule", "k"), [(Threshold.mean_std(2.0), 2.0),
                                         (Threshold.quantile(0.99), 3.0)])
def test_running_rule_uses_the_mean_std_k_or_three(rule: Threshold, k: float) -> None:
    frame = _frame(400)
    det = _det(threshold=rule)
    result = det.detect_update(frame)
    scores = result.scores.to_numpy()
    forest = det.forest_
    assert isinstance(forest, StreamingForest)
    ready = np.zeros(len(scores), dtype=bool)
    ready[3 + forest.output_after_ :] = True
    expected = _expected_running(scores, ready, k, forest.output_after_)
    assert result.thresholds is not None
    np.testing.assert_allclose(result.thresholds.to_numpy(), expected, rtol=1e-9)
    value = scores[ready].mean() + k * scores[ready].std()
    assert result.threshold == pytest.approx(value, rel=1e-9)
    assert det.threshold_.value_ == pytest.approx(value, rel=1e-9)


def test_running_rule_is_warm_after_exactly_output_after_scores() -> None:
    # output_after=1: shingle 0 (row 3) is learned unscored, shingle 1 (row 4) is the first
    # ready score; after it the rule holds one score: mean = that score, sd = 0
    det = _det(output_after=1)
    result = det.detect_update(_frame(5))
    assert result.scores.iloc[:4].tolist() == [0.0] * 4
    first = float(result.scores.iloc[4])
    assert first > 0 and result.threshold == first and det.threshold_.value_ == first
    assert result.thresholds is not None and np.isinf(result.thresholds).all()


def test_fixed_rule_and_a_value_reading_postprocess_continue_online() -> None:
    from anomark.postprocess import RangeRule

    frame = _frame(400)
    frame.iloc[300, 0] = 9.0  # beyond every earlier value: the range rule fires
    det = _det(threshold=Threshold.fixed(0.99), postprocess=[RangeRule(value=5.0)])
    result = det.detect_update(frame)
    raw = _det().score_update(frame).to_numpy()
    ready = raw > 0
    expected = raw.copy()
    expected[ready] = RangeRule(value=5.0).update(raw[ready], values=frame.to_numpy()[ready])
    np.testing.assert_array_equal(result.scores.to_numpy(), expected)
    assert result.scores.iloc[300] == 5.0 and result.flags.iloc[300]
    assert result.thresholds is not None
    np.testing.assert_array_equal(result.thresholds.to_numpy(), np.where(ready, 0.99, np.inf))
    assert result.threshold == 0.99 and det.threshold_.value_ == 0.99
    np.testing.assert_array_equal(result.flags.to_numpy(), expected > 0.99)


def test_spot_rule_learns_from_the_ready_scores() -> None:
    frame = _frame(1500)  # SPOT calibrates on the first ready scores, then learns
    rule = Threshold.spot(q=1e-3, level=0.9)
    det = _det(threshold=rule)
    result = det.detect_update(frame)
    raw = _det().score_update(frame).to_numpy()
    ready = raw > 0
    spot = rule.unfitted()
    _, thresholds = spot.update_with_thresholds(raw[ready])
    assert result.thresholds is not None
    np.testing.assert_array_equal(result.thresholds.to_numpy()[ready], thresholds)
    assert np.isinf(result.thresholds.to_numpy()[~ready]).all()
    assert np.isfinite(thresholds).sum() > 400 and spot.is_fitted
    assert result.threshold == spot.value_ == det.threshold_.value_


def test_detect_update_locates_rows_across_calls_by_hand() -> None:
    frame = _frame(300, columns=2)
    frame.iloc[200:203, 1] += 5.0
    whole = _det().detect_update(frame)
    twin = StreamingForest(50, 32, 4, random_state=0).process(frame.to_numpy(), attribution=True)
    assert twin.located is not None
    assert (twin.located[~twin.ready] == -1).all() and (twin.located[twin.ready] >= 0).all()
    rows = np.arange(len(frame))
    pos = np.where(twin.located >= 0, rows - 3 + np.maximum(twin.located, 0), rows)
    assert whole.located is not None and whole.located.name == "located_at"
    np.testing.assert_array_equal(whole.located.to_numpy(), frame.index[pos].to_numpy())
    assert (twin.located == 0).any() and (twin.located > 0).any()
    np.testing.assert_array_equal(whole.scores.to_numpy(), twin.scores)
    assert whole.scores.name == "score" and whole.detector == "RCFDetector"
    assert whole.data is not None and whole.data.columns == ["c0", "c1"]
    # in two calls (the second's first shingles start in the first call's rows)
    for cuts in ((0, 150, 300), (0, 2, 300)):  # the second call's early rows are not ready
        det = _det()
        parts = [det.detect_update(frame.iloc[a:b]) for a, b in pairwise(cuts)]
        located = pd.concat([p.located for p in parts if p.located is not None])
        pd.testing.assert_series_equal(located, whole.located)
    # codisp: no attribution, nothing located; every online call works without one
    codisp = _det(score_type="codisp").detect_update(frame)
    assert codisp.located is None and codisp.scores.name == "score"
    other = _det(score_type="codisp").partial_fit(frame.iloc[:150])
    np.testing.assert_array_equal(other.score_update(frame.iloc[150:]).to_numpy(),
                                  codisp.scores.to_numpy()[150:])


def test_online_calls_name_themselves_in_their_errors() -> None:
    frame = _frame(200)
    det = _det()
    det.partial_fit(frame.iloc[:100])
    for method in ("partial_fit", "score_update", "detect_update"):
        with pytest.raises(DataError) as info:
            getattr(det, method)(frame.iloc[99:120])  # starts on the last row seen
        assert str(info.value) == (
            f"RCFDetector.{method}: rows must continue the stream: the first timestamp "
            f"{frame.index[99]} is not after the last one seen, {frame.index[99]}")
    aware = _frame(200, tz="UTC")
    with pytest.raises(DataError) as info:
        det.score_update(aware.iloc[100:])
    assert str(info.value) == (
        "RCFDetector.score_update: these timestamps are in UTC but the stream's had no time "
        "zone: make them naive as the earlier rows were (DataFrame.tz_localize(None) keeps the "
        "wall-clock times), or start a new detector")
    assert det.score_update(frame.iloc[100:110]).name == "score"
    positional = _det()
    positional.partial_fit(frame.to_numpy()[:100])  # rows without timestamps
    with pytest.raises(DataError) as info, pytest.warns(UserWarning, match="feature names"):
        positional.score_update(frame.iloc[100:])
    assert str(info.value) == (
        "RCFDetector.score_update: these rows have timestamps, the stream's earlier rows had "
        "none (positions up to 99): a stream cannot tell whether timestamped rows come after "
        "them; start a new detector")
    # and the other way round: a plain array (or an integer index) after timestamped rows,
    # which used to be taken, turning the stream positional for good
    with pytest.raises(DataError) as info, warnings.catch_warnings():
        warnings.simplefilter("error")  # refused first, not after a warning about the names
        det.score_update(frame.to_numpy()[110:120])
    assert str(info.value) == (
        "RCFDetector.score_update: these rows have no timestamps (a plain array), the "
        f"stream's earlier rows had them (the last {frame.index[109]}): pass the rows indexed "
        "by time (a DataFrame or Series with a DatetimeIndex), or start a new detector")
    with pytest.raises(DataError) as info:
        det.score_update(frame.iloc[110:120].set_axis(pd.RangeIndex(110, 120)))
    assert str(info.value) == (
        "RCFDetector.score_update: these rows have no timestamps (positions 110..119), the "
        f"stream's earlier rows had them (the last {frame.index[109]}): pass the rows indexed "
        "by time (a DataFrame or Series with a DatetimeIndex), or start a new detector")
    assert det.score_update(frame.iloc[110:120]).index[0] == frame.index[110]  # still timed
    # rows numbered by the caller must continue the stream too; arrays continue the numbers
    with pytest.raises(DataError) as info, pytest.warns(UserWarning, match="feature names"):
        positional.score_update(frame.reset_index(drop=True).iloc[50:60])
    assert str(info.value) == ("RCFDetector.score_update: rows must continue the stream: the "
                               "first position 50 is not after the last one seen, 99")
    numbered = frame.reset_index(drop=True).iloc[100:110].set_axis(range(500, 510))
    with pytest.warns(UserWarning, match="feature names"):
        assert positional.score_update(numbered).index[0] == 500
    assert positional.score_update(frame.to_numpy()[110:115]).index.tolist() == list(
        range(510, 515))
    from anomark import SageMakerConfig

    config = SageMakerConfig(role="arn:aws:iam::123456789012:role/test", bucket="b",
                             region="us-east-1")
    for method in ("partial_fit", "score_update", "detect_update"):
        with pytest.raises(ConfigurationError) as cinfo:
            getattr(RCFDetector(shingle_size=4, sagemaker=config), method)(frame)
        assert str(cinfo.value).startswith(f"{method} needs the local engine: ")


def test_cold_start_checks_and_learns_the_columns() -> None:
    frame = _frame(100)
    bad = frame.copy()
    bad.iloc[5, 0] = np.nan
    with pytest.raises(DataError) as info:
        _det().partial_fit(bad)
    assert str(info.value) == (
        "dataset has NaN values in column(s) 'c0' (1), first at 2024-03-30 05:00:00; fitting "
        "needs finite values: use Dataset.fillna(...), .interpolate() or .dropna()")
    det = _det().partial_fit(frame.iloc[:50])
    assert det.feature_names_in_.dtype == object and det.feature_names_in_.tolist() == ["c0"]
    assert det.n_features_in_ == 1
    with pytest.raises(DataError) as info:
        det.score_update(frame.iloc[50:].rename(columns={"c0": "x"}))
    assert "missing columns ['c0'], unexpected columns ['x']" in str(info.value)
    # an online call takes any number of rows; batch scoring still needs a whole shingle
    det.score_update(frame.iloc[50:51])
    with pytest.raises(DataError) as info:
        det.score(frame.iloc[:2])
    assert str(info.value) == ("RCFDetector needs at least 4 rows to score (its window, "
                               "shingle_size=4), got 2")
    assert det.engine_ is det.forest_


def test_batch_forest_conversion_checks_the_forest() -> None:
    frame = _frame(400, columns=2)
    det = _det().fit(frame.iloc[:300])
    det.set_params(num_trees=60)
    with pytest.raises(ConfigurationError) as info:
        det.score_update(frame.iloc[300:])
    assert str(info.value) == ("num_trees, shingle_size or dtype differ from the fitted "
                               "forest's; refit, or set them back")
    det.set_params(num_trees=50)
    batch_score = det.score(frame.iloc[297:301]).iloc[-1]  # row 300's shingle, batch trees
    out = det.score_update(frame.iloc[300:])  # two columns: dimension 4 x 2
    assert isinstance(det.forest_, StreamingForest) and det.engine_ is det.forest_
    assert out.iloc[0] == pytest.approx(batch_score, rel=1e-12)


def test_seasonal_stage_streams_in_chunks_and_refuses_a_change() -> None:
    frame = _frame(400)
    whole = _det(seasonal=SeasonalResidual(period=24)).score_update(frame)
    det = _det(seasonal=SeasonalResidual(period=24))
    parts = [det.score_update(frame.iloc[a:b]) for a, b in ((0, 2), (2, 150), (150, 400))]
    pd.testing.assert_series_equal(pd.concat(parts), whole)
    det.set_params(seasonal=SeasonalResidual(period=12))
    with pytest.raises(ConfigurationError, match="differs from the stage the detector was"):
        det.score_update(_frame(450).iloc[400:])


@pytest.mark.parametrize("calls", [[2], [10, 1], [1, 1, 1, 1, 1]])
def test_short_calls_keep_the_last_timestamps(tmp_path: Path, calls: list[int]) -> None:
    frame = _frame(60)
    det = _det()
    i = 0
    for k in calls:
        det.partial_fit(frame.iloc[i : i + k])
        i += k
    assert det.last_seen_ == frame.index[i - 1]
    loaded = Detector.load(det.save(tmp_path / "short"))
    assert isinstance(loaded, RCFDetector) and loaded.last_seen_ == frame.index[i - 1]
    pd.testing.assert_series_equal(loaded.score_update(frame.iloc[i:]),
                                   det.score_update(frame.iloc[i:]))


def test_batch_fit_with_point_shingles_saves_its_last_timestamp(tmp_path: Path) -> None:
    frame = _frame(200)
    det = _det(shingle_size=1).fit(frame.iloc[:150])
    assert det.last_seen_ == frame.index[149]
    loaded = Detector.load(det.save(tmp_path / "one"))
    assert isinstance(loaded, RCFDetector) and loaded.last_seen_ == frame.index[149]
    np.testing.assert_array_equal(loaded.score_update(frame.iloc[150:]).to_numpy(),
                                  det.score_update(frame.iloc[150:]).to_numpy())


def test_nanosecond_timestamps_survive_save_and_load(tmp_path: Path) -> None:
    idx = pd.date_range(pd.Timestamp("2024-01-01") + pd.Timedelta(1, "ns"), periods=100,
                        freq="5min")
    frame = pd.DataFrame({"c0": _series(100)[:, 0]}, index=idx)
    det = _det()
    det.partial_fit(frame.iloc[:80])
    loaded = Detector.load(det.save(tmp_path / "ns"))
    assert isinstance(loaded, RCFDetector)
    assert loaded.last_seen_ == idx[79] and loaded.last_seen_.nanosecond == 1


def test_a_sagemaker_model_without_its_config_refuses_online_calls(tmp_path: Path) -> None:
    # a detector trained on SageMaker (a saved folder naming the remote model; no AWS call is
    # made) whose sagemaker parameter was set back to None has no local forest to stream from
    from anomark import SageMakerConfig
    from anomark.persistence import encode_value

    config = SageMakerConfig(role="arn:aws:iam::123456789012:role/test", bucket="b",
                             region="us-east-1")
    folder = _det().fit(_frame(100)).save(tmp_path / "sm")
    saved = json.loads((folder / "config.json").read_text())
    saved["params"]["sagemaker"] = encode_value(config, "sagemaker")
    saved["state"] = {"engine": "sagemaker", "feature_dim": 4, "remote": {
        "training_job_name": "job", "model_data": "s3://b/model.tar.gz", "feature_dim": 4,
        "num_trees": 50, "num_samples_per_tree": 32}}
    (folder / "config.json").write_text(json.dumps(saved))
    det = Detector.load(folder)
    assert isinstance(det, RCFDetector) and det.forest_ is None
    det.set_params(sagemaker=None)
    for method in ("partial_fit", "score_update", "detect_update", "attribution"):
        with pytest.raises(ConfigurationError) as info:
            getattr(det, method)(_frame(120).iloc[100:])
        assert str(info.value).startswith(f"{method} needs the local engine: ")


# ---------------------------------------------------------------- the engine's own checks
def test_engine_parameters_defaults_and_messages() -> None:
    forest = StreamingForest(n_jobs=2)
    assert (forest.num_trees, forest.num_samples_per_tree, forest.shingle_size) == (100, 256, 1)
    assert forest.n_jobs == 2 and forest.time_decay_ == 1 / 2560 and forest.output_after_ == 65
    for kw, message in [
        ({"num_trees": 0}, "StreamingForest: num_trees must be an integer in [1, inf), got 0"),
        ({"n_jobs": 0}, "StreamingForest: n_jobs must be"),
    ]:
        with pytest.raises(ConfigurationError) as info:
            StreamingForest(**kw)
        assert str(info.value).startswith(message)
    with pytest.raises(NotFittedError) as not_fitted:
        StreamingForest().to_arrays()
    assert str(not_fitted.value) == "this StreamingForest has seen no data yet; call process first"


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda f: f.process(np.array([1.0, np.nan])), DataError,
         "StreamingForest.process: input contains NaN or infinite values"),
        (lambda f: f.process(np.zeros((5, 2))), DataError,
         "StreamingForest.process: rows have 2 values, the stream has 1"),
        (lambda f: f.process(np.zeros(5), score_type="rank"), ConfigurationError,
         "score_type must be one of 'anomaly', 'codisp', got 'rank'"),
        (lambda f: f.process(np.zeros(5), attribution=True, score_type="codisp"), DataError,
         "StreamingForest.process: attribution needs score_type='anomaly'"),
    ],
)
def test_process_names_itself(
    call: Callable[[StreamingForest], Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        call(_streamed(60))
    assert str(info.value) == message


def test_time_decay_changed_twice_is_integrated_piecewise() -> None:
    forest = _streamed(300, time_decay=0.01)  # 297 shingles at 0.01
    forest.time_decay = 0.001
    forest.process(_series(297, seed=1))  # 297 more at 0.001
    forest.time_decay = 0.1
    forest.process(_series(10, seed=2))
    assert forest.decay_start_ == 594 and forest.decay_lambda_ == 0.1
    assert forest.decay_base_ == pytest.approx(297 * 0.01 + 297 * 0.001, rel=1e-12)


def test_codisp_scores_and_learning_only() -> None:
    x = _series(300)
    forest = _streamed(250)
    before = _load(forest.to_arrays())
    out = forest.process(x[250:252], score_type="codisp")
    expected = before.score_series(x[247:251], 4, score_type="codisp")
    assert out.scores[0] == pytest.approx(expected[0], rel=1e-12)
    anomaly = before.score_series(x[247:251], 4)
    assert out.scores[0] != pytest.approx(anomaly[0], rel=1e-6)
    quiet = forest.process(x[252:], score=False)
    assert (quiet.scores == 0.0).all() and not quiet.ready.any()


@pytest.mark.parametrize("shingle_size", [2, 4])
def test_many_chunks_give_the_scores_and_locations_of_pieces(
    monkeypatch: pytest.MonkeyPatch, shingle_size: int
) -> None:
    from anomark.detectors.rcf import streaming

    x = _series(5000, columns=2)
    kw = {**SHAPE, "shingle_size": shingle_size, "random_state": 2}
    pieces = StreamingForest(**kw)
    parts = [pieces.process(x[i : i + 1000], attribution=True) for i in range(0, 5000, 1000)]
    scores = np.concatenate([p.scores for p in parts])
    located = np.concatenate([p.located for p in parts if p.located is not None])
    # the smallest chunks the engine uses: 2,048 shingles for scores, 7 with attribution
    monkeypatch.setattr(streaming, "_SCORE_BUDGET", 0)
    whole = StreamingForest(**kw).process(x)
    np.testing.assert_array_equal(whole.scores, scores)
    monkeypatch.setattr(streaming, "_ATTR_BUDGET", 8 * 30 * 2 * shingle_size * 7)
    located_whole = StreamingForest(**kw).process(x, attribution=True)
    np.testing.assert_array_equal(located_whole.scores, scores)
    assert located_whole.located is not None
    np.testing.assert_array_equal(located_whole.located, located)
    assert (located[~whole.ready] == -1).all() and (located[whole.ready] >= 0).all()

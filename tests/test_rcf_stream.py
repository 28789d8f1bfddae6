"""Online Random Cut Forest: the streaming engine and RCFDetector's online methods."""

from __future__ import annotations

import math
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _rcf_numpy import score_forest_numpy
from anomark import Detection, Detector, RCFDetector, Threshold
from anomark.detectors.rcf import _kernels
from anomark.detectors.rcf import _stream_kernels as sk
from anomark.detectors.rcf.forest import RandomCutForest
from anomark.detectors.rcf.streaming import StreamingForest
from anomark.errors import ConfigurationError, DataError, PersistenceError
from anomark.windowing import Windowing


def _series(n: int = 1500, seed: int = 0, columns: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    x = np.sin(2 * np.pi * t / 37 + np.arange(columns)) + 0.1 * rng.normal(size=(n, columns))
    x[n // 2 : n // 2 + 6] += 4.0  # a burst
    x[200:260] = np.round(x[200:260], 0)  # repeated values: duplicate points in the trees
    return x


def _frame(n: int = 1500, seed: int = 0, columns: int = 1) -> pd.DataFrame:
    idx = pd.date_range("2024-01-01", periods=n, freq="5min")
    names = [f"c{i}" for i in range(columns)]
    return pd.DataFrame(_series(n, seed, columns), index=idx, columns=names)


def _stream(**kw: object) -> StreamingForest:
    params: dict[str, object] = {"num_trees": 30, "num_samples_per_tree": 32, "shingle_size": 4,
                                 "random_state": 3}
    params.update(kw)
    return StreamingForest(**params)  # type: ignore[arg-type]


def _trees_are_consistent(forest: StreamingForest) -> None:
    for t in range(forest.num_trees):
        assert sk.check_tree(_kernels.tree_of(forest.trees_, t), forest.reservoir_, t) == 0


# ---------------------------------------------------------------------- the engine
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_chunking_threads_and_single_rows_give_identical_scores(dtype: str) -> None:
    x = _series(1200, columns=2)
    whole = _stream(dtype=dtype).process(x)
    rng = np.random.default_rng(0)
    for n_jobs in (None, 2):
        forest = _stream(n_jobs=n_jobs, dtype=dtype)
        parts, i = [], 0
        while i < len(x):
            k = int(rng.choice([1, 1, 2, 3, 17, 150, 400]))
            if i == 0:
                k = 2  # a cold start shorter than a shingle (3 rows of context needed)
            parts.append(forest.process(x[i : i + k]).scores)
            i += k
        np.testing.assert_array_equal(np.concatenate(parts), whole.scores)
        _trees_are_consistent(forest)
    assert whole.ready.sum() == len(x) - 3 - forest.output_after_
    assert (whole.scores[~whole.ready] == 0.0).all() and np.isfinite(whole.scores).all()


def test_no_look_ahead() -> None:
    x = _series(900)
    y = x.copy()
    y[600:] = np.random.default_rng(9).normal(size=(300, 1)) * 5
    a, b = _stream().process(x).scores, _stream().process(y).scores
    np.testing.assert_array_equal(a[:600], b[:600])
    assert not np.array_equal(a[600:], b[600:])


def test_output_after_rule() -> None:
    forest = _stream(output_after=10)
    out = forest.process(_series(40))
    # rows 0-2 complete no shingle; shingles 0..9 (rows 3..12) come before 10 were seen
    assert not out.ready[:13].any() and out.ready[13:].all()
    assert (out.scores[:13] == 0.0).all() and (out.scores[13:] > 0).all()
    assert _stream().output_after_ == 1 + 32 // 4
    assert _stream().time_decay_ == pytest.approx(1 / 320)


@pytest.mark.parametrize(("dtype", "rtol"), [("float64", 1e-10), ("float32", 1e-5)])
def test_trees_match_the_numpy_reference_and_stay_valid(dtype: str, rtol: float) -> None:
    # small capacity and many duplicates: evictions of duplicates, empty pair lists refilled
    x = _series(800)
    x[300:500] = 1.0
    forest = _stream(num_samples_per_tree=8, dtype=dtype)
    forest.process(x)
    _trees_are_consistent(forest)
    # the reference reads the shingles as the forest holds them (float32: rounded)
    shingles = Windowing(4).shingles(x.astype(dtype).astype(np.float64))
    np.testing.assert_allclose(
        forest.score_series(x, 4), score_forest_numpy(forest, shingles), rtol=rtol, atol=1e-12
    )
    np.testing.assert_allclose(
        forest.score_series(x, 4, score_type="codisp"),
        score_forest_numpy(forest, shingles, codisp=True), rtol=rtol, atol=1e-12,
    )
    assert (forest.reservoir_.size == 8).all()
    # every tree's mass is its sample; leaves name slots holding their point
    assert (forest.trees_.mass[:, 0] == 8).all()


def test_stream_scores_equal_scoring_the_trees_before_the_row_is_learned() -> None:
    x = _series(300)
    forest = _stream()
    forest.process(x[:250])
    before = StreamingForest.from_arrays(
        forest.to_arrays(), num_trees=30, num_samples_per_tree=32, shingle_size=4
    )
    out = forest.process(x[250:260])
    expected = before.score_series(x[247:260], 4)
    np.testing.assert_allclose(out.scores[0], expected[0], rtol=1e-12)
    assert forest.rows_seen_ == 260 and forest.entries_seen_ == 257


def test_time_decay_forgets_an_old_regime_at_the_documented_rate() -> None:
    m, lam = 64, 1 / 640
    forest = _stream(num_trees=60, num_samples_per_tree=m, shingle_size=1, time_decay=lam)
    rng = np.random.default_rng(1)
    forest.process(rng.normal(size=3000))  # old regime: shingles 0 .. 2999
    share = []
    for _ in range(3):
        forest.process(rng.normal(loc=10.0, size=int(1 / lam)))
        ages = forest.sample_ages()
        share.append(float(np.mean(ages[ages >= 0] < 3000)))
    # exp(-1), exp(-2), exp(-3) of the samples still from the old regime (+- sampling noise)
    np.testing.assert_allclose(share, np.exp(-np.arange(1, 4)), atol=0.05)
    # the new regime scores low once learned; the old one is anomalous again once forgotten
    fresh = forest.score_series(np.array([10.0, 0.0]), 1)
    assert fresh[1] > 1.5 * fresh[0]
    # lambda = 0: a uniform sample of everything seen
    uniform = _stream(num_trees=60, num_samples_per_tree=m, shingle_size=1, time_decay=0.0)
    uniform.process(np.arange(4000.0))
    ages = uniform.sample_ages()
    assert abs(float(np.mean(ages < 2000)) - 0.5) < 0.05


def test_changing_time_decay_mid_stream_continues_the_decay() -> None:
    forest = _stream(time_decay=0.01)
    forest.process(_series(300))
    forest.time_decay = 0.001
    forest.process(_series(300, seed=1))
    assert forest.decay_start_ == 297 and forest.decay_base_ == pytest.approx(2.97)
    saved = StreamingForest.from_arrays(
        forest.to_arrays(), num_trees=30, num_samples_per_tree=32, shingle_size=4,
        time_decay=0.001,
    )
    x = _series(100, seed=2)
    np.testing.assert_array_equal(saved.process(x).scores, forest.process(x).scores)


def test_batch_forest_converts_without_changing_its_trees() -> None:
    x = _series(700)
    batch = RandomCutForest(30, 32, random_state=1).fit_series(x, 4)
    stream = StreamingForest.from_batch(
        batch, x[-3:], len(x), num_trees=30, num_samples_per_tree=64, shingle_size=4
    )
    np.testing.assert_array_equal(stream.score_series(x, 4), batch.score_series(x, 4))
    _trees_are_consistent(stream)
    assert stream.entries_seen_ == len(x) - 3
    ages = stream.sample_ages()
    assert (ages[:, :32] == batch.sample_index_).all() and (ages[:, 32:] == -1).all()
    out = stream.process(_series(200, seed=4))
    assert out.ready.all()
    _trees_are_consistent(stream)


@pytest.mark.parametrize(("dtype", "rtol"), [("float64", 1e-12), ("float32", 1e-5)])
def test_maintained_boxes_equal_the_boxes_of_the_leaves(dtype: str, rtol: float) -> None:
    # many evictions (small samples, fast decay), duplicates, two columns: every box kept up
    # by insertion (extension) and deletion (shrinking up the path) is exactly the bounding
    # box of its leaves, and its side sum matches
    x = _series(3000, columns=2)
    x[1000:1400] = np.round(x[1000:1400], 1)
    forest = _stream(num_samples_per_tree=16, time_decay=0.02, dtype=dtype)
    forest.process(x)
    trees = forest.trees_
    assert trees.lo.dtype == trees.cut_value.dtype == forest.reservoir_.points.dtype == dtype
    kept = (trees.lo.copy(), trees.hi.copy(), trees.range_sum.copy())
    forest._recompute_boxes()
    used = trees.mass > 0
    np.testing.assert_array_equal(kept[0][used], trees.lo[used])
    np.testing.assert_array_equal(kept[1][used], trees.hi[used])
    # side sums: kept in float64, summed in the boxes' precision as they change
    np.testing.assert_allclose(kept[2][used], trees.range_sum[used], rtol=rtol, atol=1e-15)
    _trees_are_consistent(forest)


def test_insertion_draws_cuts_with_aws_probabilities() -> None:
    # each tree learns a = (0, 0), b = (1, 1), then x = (2, 0.5). At the root (box [0,1]^2,
    # side sum 2) x extends dimension 0 by 1: a random cut of the extended box separates x
    # with probability 1/3, at a value uniform in [1, 2); otherwise x goes down to a leaf,
    # where the cut always separates it (b: dimension 0 with probability 1/1.5; a: 2/2.5)
    n = 4000
    forest = StreamingForest(n, 3, time_decay=0.0, initial_accept_fraction=1.0, random_state=7)
    forest.process(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.5]]))
    trees = forest.trees_
    assert (trees.mass[:, 0] == 3).all()
    pair = trees.left[:, 0]
    rows = np.arange(n)
    x_alone = (trees.mass[rows, pair] == 1) & (trees.leaf_point[rows, pair] == 2)
    x_alone |= (trees.mass[rows, pair + 1] == 1) & (trees.leaf_point[rows, pair + 1] == 2)
    at_root = x_alone & (trees.cut_dim[:, 0] == 0) & (trees.cut_value[:, 0] >= 1.0)
    sd = math.sqrt(1 / 3 * 2 / 3 / n)
    assert abs(at_root.mean() - 1 / 3) < 4 * sd
    values = trees.cut_value[at_root, 0]
    assert ((values >= 1.0) & (values < 2.0)).all()
    assert abs(values.mean() - 1.5) < 4 * math.sqrt(1 / 12 / len(values))
    # below the root, x's cut against a single leaf: dimension 0 with probability
    # 1 / 1.5 next to b, 2 / 2.5 next to a
    below = ~at_root
    leaf_cut = np.empty(n, dtype=np.int64)
    next_to_b = np.zeros(n, dtype=bool)
    for t in np.flatnonzero(below):
        node = parent = 0
        point = np.array([2.0, 0.5])
        while trees.left[t, node] >= 0:
            parent = node
            right = point[trees.cut_dim[t, node]] > trees.cut_value[t, node]
            node = trees.left[t, node] + int(right)
        leaf_cut[t] = trees.cut_dim[t, parent]
        sibling = 2 * trees.left[t, parent] + 1 - node
        next_to_b[t] = forest.reservoir_.points[t, trees.leaf_point[t, sibling], 0] == 1.0
    for mask, p0 in ((below & next_to_b, 1 / 1.5), (below & ~next_to_b, 2 / 2.5)):
        share = float(np.mean(leaf_cut[mask] == 0))
        assert abs(share - p0) < 4 * math.sqrt(p0 * (1 - p0) / mask.sum())
    _trees_are_consistent(forest)


def test_sure_rejection_bound_agrees_with_the_exact_test() -> None:
    # below the bound the sampler's exact weight test rejects; the bound is tight
    forest = _stream(num_samples_per_tree=8, shingle_size=1)
    forest.process(_series(100)[:, 0])
    res = forest.reservoir_
    for w_max, decay in [(-1.0, 0.5), (0.3, 2.0), (-30.0, 10.0), (-4000.0, 4000.2),
                         (2.0, 0.0), (-700.0, 0.0), (650.0, 60.0)]:
        res.weight[0, 0] = w_max
        bound = sk.sure_rejection(res, 0, decay)
        exact = math.exp(-math.exp(w_max + decay)) if w_max + decay < 700 else 0.0
        assert bound <= exact
        if exact > 1e-300:
            assert bound >= exact * (1 - 1e-6) or exact - bound < 1e-12
        u = bound
        for _ in range(64):  # the largest uniforms below the bound
            u = np.nextafter(u, 0.0)
            if u <= 0.0:
                break
            assert math.log(-math.log(u)) - decay >= w_max
    res.size[1] = 3  # a sample that is not full takes its decisions on the exact path
    assert sk.sure_rejection(res, 1, 0.0) == 0.0


def test_learning_does_not_depend_on_what_is_scored() -> None:
    x = _series(1200, columns=2)
    a, b, c = _stream(), _stream(), _stream(score_type="codisp")
    a.process(x)
    b.process(x[:500], score=False)
    b.process(x[500:], attribution=True)
    c.process(x)
    for other in (b, c):
        for k, v in a.to_arrays().items():
            np.testing.assert_array_equal(v, other.to_arrays()[k], err_msg=k)


@pytest.mark.parametrize(
    ("key", "edit", "match"),
    [
        ("mass", lambda a: a.__setitem__((0, 0), a[0, 0] + 1), "inconsistent"),
        ("left", lambda a: a.__setitem__((1, 0), 0), "inconsistent"),
        ("cut_dim", lambda a: a.__setitem__(a >= 0, 99), "inconsistent"),
        ("free_pairs", lambda a: a.__setitem__((0, 0), 10_000), "inconsistent"),
        ("weight", lambda a: a.__setitem__((0, 0), -1e9), "out of order"),
        ("heap_slot", lambda a: a.__setitem__((0, 0), a[0, 1]), "permutation"),
        ("rng", lambda a: a.__setitem__((2, slice(0, 4)), 0), "rng"),
        ("points", lambda a: a.__setitem__((0, 0, 0), np.nan), "finite"),
        ("counters", lambda a: a.__setitem__(0, -5), "counters"),
        ("range_sum", lambda a: a.__setitem__((0, 0), a[0, 0] * 3 + 1), "range_sum"),
    ],
)
def test_corrupted_stream_state_is_refused(key: str, edit: object, match: str) -> None:
    forest = _stream()
    forest.process(_series(400))
    arrays = {k: v.copy() for k, v in forest.to_arrays().items()}
    edit(arrays[key])  # type: ignore[operator]
    with pytest.raises(PersistenceError, match=match):
        StreamingForest.from_arrays(arrays, num_trees=30, num_samples_per_tree=32, shingle_size=4)


# ---------------------------------------------------------------------- the detector
def _det(**kw: object) -> RCFDetector:
    params: dict[str, object] = {"num_trees": 50, "num_samples_per_tree": 32, "shingle_size": 6,
                                 "random_state": 0}
    params.update(kw)
    return RCFDetector(**params)  # type: ignore[arg-type]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_detector_chunking_invariance_and_cold_start_row_by_row(dtype: str) -> None:
    frame = _frame(700, columns=2)
    whole = _det(dtype=dtype).score_update(frame)
    det = _det(dtype=dtype)
    rng = np.random.default_rng(5)
    parts, i = [], 0
    while i < len(frame):
        k = int(rng.choice([1, 1, 4, 33, 120]))
        if i < 12:
            k = (4, 3, 1, 2, 2)[min(len(parts), 4)]  # calls shorter than a shingle first
        parts.append(det.score_update(frame.iloc[i : i + k]))
        i += k
    joined = pd.concat(parts)
    pd.testing.assert_series_equal(joined, whole)
    # partial_fit then score_update == one score_update
    other = _det(dtype=dtype).partial_fit(frame.iloc[:300])
    np.testing.assert_array_equal(other.score_update(frame.iloc[300:]), whole.iloc[300:])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_detector_save_load_mid_stream_continues_identically(tmp_path: Path, dtype: str) -> None:
    frame = _frame(900)
    det = _det(threshold=Threshold.mean_std(2.5), dtype=dtype)
    det.partial_fit(frame.iloc[:400])
    det.save(tmp_path / "mid")
    loaded = Detector.load(tmp_path / "mid")
    assert isinstance(loaded, RCFDetector)
    rest = frame.iloc[400:]
    a, b = det.detect_update(rest), loaded.detect_update(rest)
    pd.testing.assert_series_equal(a.scores, b.scores)
    pd.testing.assert_series_equal(a.flags, b.flags)
    pd.testing.assert_frame_equal(a.events, b.events)
    assert det.threshold_.value_ == loaded.threshold_.value_
    # fitted in batch, saved, loaded, then streamed == streamed without saving
    fitted = _det(dtype=dtype).fit(frame.iloc[:400])
    fitted.save(tmp_path / "batch")
    again = Detector.load(tmp_path / "batch")
    np.testing.assert_array_equal(fitted.score_update(rest), again.score_update(rest))
    again.save(tmp_path / "stream")
    assert (tmp_path / "stream" / "arrays.npz").exists()


def test_fit_then_stream_starts_from_the_batch_forest() -> None:
    frame = _frame(900)
    det = _det().fit(frame.iloc[:600])
    batch_score = det.score(frame.iloc[595:601]).iloc[-1]  # row 600's shingle: rows 595-600
    first = det.score_update(frame.iloc[600:601])
    assert first.iloc[0] == pytest.approx(batch_score, rel=1e-12)
    assert isinstance(det.forest_, StreamingForest)
    with pytest.raises(DataError, match="continue the stream"):
        det.score_update(frame.iloc[590:600])
    # fit again starts afresh, with the batch forest
    det.fit(frame.iloc[:600])
    assert isinstance(det.forest_, RandomCutForest)


def test_detect_update_flags_with_a_causal_running_threshold() -> None:
    frame = _frame(1500)
    det = _det()
    result = det.detect_update(frame)
    scores = result.scores.to_numpy()
    # the attribution computed alongside changes no score
    np.testing.assert_array_equal(scores, _det().score_update(frame).to_numpy())
    forest = det.forest_
    assert isinstance(forest, StreamingForest)
    ready = np.zeros(len(scores), dtype=bool)
    ready[5 + forest.output_after_ :] = True
    expected = np.full(len(scores), np.inf)
    past = scores[ready]
    for j, i in enumerate(np.flatnonzero(ready)):
        if j >= forest.output_after_:
            expected[i] = past[:j].mean() + 3.0 * past[:j].std()
    assert result.thresholds is not None
    np.testing.assert_allclose(result.thresholds.to_numpy(), expected, rtol=1e-9)
    np.testing.assert_array_equal(result.flags.to_numpy(), scores > expected)
    assert result.flags.iloc[750:760].any()  # the burst
    assert det.threshold_.value_ == pytest.approx(past.mean() + 3 * past.std(), rel=1e-9)


def test_detect_update_in_chunks_joins_into_the_one_call_result() -> None:
    frame = _frame(1500)
    frame.iloc[1000:1012, 0] += 3.0  # a burst that the chunks below cut in two
    whole = _det().detect_update(frame)
    det = _det()
    parts = [det.detect_update(frame.iloc[a:b]) for a, b in pairwise([0, 300, 1005, 1500])]
    events = whole.events
    assert ((events["start"] <= frame.index[1004]) & (events["end"] >= frame.index[1005])).any()
    cut = [p.events for p in parts]
    assert cut[1]["end"].iloc[-1] == frame.index[1004]
    assert cut[2]["start"].iloc[0] == frame.index[1005]
    joined = Detection.concat(parts)
    pd.testing.assert_frame_equal(joined.to_frame(), whole.to_frame())
    pd.testing.assert_series_equal(joined.thresholds, whole.thresholds)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(joined.events, whole.events)
    assert joined.threshold == whole.threshold


def _three_columns(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    t = np.arange(n)[:, None]
    values = np.sin(2 * np.pi * t / 40 + np.arange(3)) + 0.05 * rng.normal(size=(n, 3))
    idx = pd.date_range("2024-01-01", periods=n, freq="5min")
    return pd.DataFrame(values, index=idx, columns=["c0", "c1", "c2"])


@pytest.mark.parametrize(("dtype", "rtol"), [("float64", 1e-8), ("float32", 1e-5)])
def test_attribution_sums_to_the_score_and_names_the_column(dtype: str, rtol: float) -> None:
    frame = _three_columns(800)
    frame.iloc[500:503, 1] += 6.0  # a spike in column c1 only
    det = _det(shingle_size=8, dtype=dtype).fit(frame.iloc[:450])
    attr = det.attribution(frame)
    assert list(attr.columns) == ["c0", "c1", "c2"]
    np.testing.assert_allclose(attr.sum(axis=1).to_numpy(), det.score(frame).to_numpy(), rtol=rtol)
    peak = int(np.argmax(det.score(frame).to_numpy()))
    assert attr.iloc[peak]["c1"] > attr.iloc[peak].drop("c1").sum()


@pytest.mark.parametrize("online", [False, True])
def test_spike_in_one_column_is_attributed_and_located(online: bool) -> None:
    """The attribution target: a spike in one of three columns carries most of the
    attribution, and the event's located_at is within 2 rows of the spike's start."""
    frame = _three_columns(1200)
    start = 1000
    frame.iloc[start : start + 4, 2] += 5.0
    det = _det(shingle_size=12, num_samples_per_tree=64)
    if online:
        det.partial_fit(frame.iloc[:900])
        result = det.detect_update(frame.iloc[900:])
    else:
        det.fit(frame.iloc[:900])
        result = det.detect(frame.iloc[900:])
    events = result.events
    starts = events["start"]
    hit = events[(starts >= frame.index[start]) & (starts <= frame.index[start + 15])]
    assert len(hit) >= 1
    event = hit.iloc[0]
    assert abs(frame.index.get_loc(event["located_at"]) - start) <= 2
    peak = frame.index.get_loc(event["peak_time"])
    attr = det.attribution(frame.iloc[peak - 20 : peak + 1]).iloc[-1]
    assert attr["c2"] > 0.5 * attr.sum()


@pytest.mark.parametrize("method", ["partial_fit", "score_update", "detect_update", "attribution"])
def test_sagemaker_detectors_refuse_online_methods(method: str) -> None:
    from anomark import SageMakerConfig

    config = SageMakerConfig(role="arn:aws:iam::123456789012:role/test", bucket="b",
                             region="us-east-1")
    det = RCFDetector(shingle_size=4, sagemaker=config)
    with pytest.raises(ConfigurationError, match="SageMaker's built-in RCF is batch-trained"):
        getattr(det, method)(_frame(50))


def test_online_parameters_are_checked_and_pinned() -> None:
    with pytest.raises(ConfigurationError, match="time_decay"):
        _det(time_decay=-1.0).score_update(_frame(50))
    with pytest.raises(ConfigurationError, match="output_after"):
        _det(output_after=1.5).score_update(_frame(50))
    det = _det()
    det.score_update(_frame(100))
    det.set_params(num_trees=60)
    with pytest.raises(ConfigurationError, match="num_trees"):
        det.score_update(_frame(200).iloc[100:])
    det.set_params(num_trees=50, time_decay=0.5)
    det.score_update(_frame(200).iloc[100:])
    assert isinstance(det.forest_, StreamingForest) and det.forest_.decay_lambda_ == 0.5
    with pytest.raises(ConfigurationError, match="codisp"):
        _det(score_type="codisp").fit(_frame(100)).attribution(_frame(100))


def test_arrays_are_numbered_by_their_place_in_the_stream() -> None:
    x = _series(300)
    det = _det()
    first = det.score_update(x[:120])
    second = det.score_update(x[120:])
    assert first.index.tolist() == list(range(120))
    assert second.index.tolist() == list(range(120, 300))
    assert not math.isnan(float(second.sum()))

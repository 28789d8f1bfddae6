"""Tests of the local Random Cut Forest engine (anomark.detectors.rcf.forest)."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from _rcf_numpy import score_forest_numpy
from anomark.detectors.rcf import _kernels, _stream_kernels
from anomark.detectors.rcf.forest import RandomCutForest, balanced_samples
from anomark.errors import ConfigurationError, DataError, NotFittedError, PersistenceError
from anomark.windowing import Windowing


@pytest.fixture(scope="module")
def cloud() -> np.ndarray:
    rng = np.random.default_rng(42)
    return np.vstack([rng.normal(size=(600, 3)), [[6.0, -6.0, 6.0]]])


def test_aws_score_on_a_two_point_tree() -> None:
    # Sample {0, 1}: every tree is a root with two leaves, whatever the cut.
    forest = RandomCutForest(num_trees=5, num_samples_per_tree=2, random_state=0)
    forest.fit(np.array([[0.0], [1.0]]))
    s = forest.score(np.array([[3.0], [0.0], [0.5]]))
    # x=3: root box [0, 1] grows by 2 -> p = 2/3 at depth 0, then the leaf at depth 1
    assert s[0] == pytest.approx((2 / 3 * 1.0 + 1 / 3 * 0.5) * math.log2(3))
    # x=0 is in the sample: damp(1, 2) * 1 / (1 + log2(2))
    assert s[1] == pytest.approx(0.75 * 0.5 * math.log2(3))
    # x=0.5 is inside the root box and equal to no leaf: 1 / (1 + 1)
    assert s[2] == pytest.approx(0.5 * math.log2(3))
    c = forest.score(np.array([[3.0], [0.0]]), score_type="codisp")
    # inserted above the root w.p. 2/3 (displaces 2 points), else next to a leaf (1 point)
    assert c[0] == pytest.approx(2 / 3 * 2 + 1 / 3 * 1)
    assert c[1] == pytest.approx(1.0)


def test_planted_outlier_scores_highest(cloud: np.ndarray) -> None:
    forest = RandomCutForest(num_trees=60, random_state=1).fit(cloud)
    for kind in ("anomaly", "codisp"):
        scores = forest.score(cloud, score_type=kind)  # type: ignore[arg-type]
        assert int(np.argmax(scores)) == len(cloud) - 1
    scores = forest.score(cloud)
    # AWS's scale: typical points near 1, the outlier well above
    assert 0.5 < float(np.median(scores)) < 1.3
    assert scores[-1] > 2.0


def test_seeded_forest_is_deterministic(cloud: np.ndarray) -> None:
    a = RandomCutForest(num_trees=50, random_state=7).fit(cloud).score(cloud)
    b = RandomCutForest(num_trees=50, random_state=7).fit(cloud).score(cloud)
    c = RandomCutForest(num_trees=50, random_state=8).fit(cloud).score(cloud)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_threads_do_not_change_scores(cloud: np.ndarray) -> None:
    # n_jobs=1 runs the serial kernels, n_jobs=2 the parallel ones (chunked differently)
    one = RandomCutForest(num_trees=50, random_state=3, n_jobs=1).fit(cloud)
    two = RandomCutForest(num_trees=50, random_state=3, n_jobs=2).fit(cloud)
    np.testing.assert_array_equal(one.lo_, two.lo_)
    for kind in ("anomaly", "codisp"):
        np.testing.assert_array_equal(
            one.score(cloud, score_type=kind),  # type: ignore[arg-type]
            two.score(cloud, score_type=kind),  # type: ignore[arg-type]
        )
    loaded = RandomCutForest.from_arrays(one.to_arrays(), n_jobs=2)
    np.testing.assert_array_equal(loaded.hi_, one.hi_)


@pytest.mark.parametrize("kind", ["anomaly", "codisp"])
def test_numba_kernels_match_the_numpy_reference(kind: str) -> None:
    rng = np.random.default_rng(0)
    # duplicates (rounded values) exercise leaves with mass > 1 and the "seen" branch
    X = np.round(rng.normal(size=(400, 4)), 1)
    X[::50] = X[0]
    fast = RandomCutForest(num_trees=50, random_state=5, score_type=kind).fit(X)  # type: ignore[arg-type]
    queries = np.vstack([X, rng.normal(scale=3, size=(100, 4))])
    np.testing.assert_allclose(
        fast.score(queries), score_forest_numpy(fast, queries, kind == "codisp"),
        rtol=1e-10, atol=1e-12,
    )


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("dim", [1, 3, 8, 15, 17, 33, 48, 70])
def test_box_distances_count_every_value_whatever_the_dimension(dim: int, dtype: str) -> None:
    # the distance loop runs in three parts (groups of four vectors, up to three vectors, the
    # rest): dimensions below, at and between the vector widths of both precisions
    rng = np.random.default_rng(dim)
    X = rng.normal(size=(300, dim))
    forest = RandomCutForest(num_trees=10, random_state=1, dtype=dtype).fit(X)
    moved = X[:dim].copy()
    moved[np.arange(dim), np.arange(dim)] += 5.0  # sampled rows, each moved in one value
    queries = np.vstack([X[:20], moved, rng.normal(scale=3, size=(20, dim))])
    exact = queries.astype(dtype).astype(np.float64)  # what a forest of this precision sees
    rtol = 1e-10 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(
        forest.score(queries), score_forest_numpy(forest, exact), rtol=rtol, atol=1e-12
    )
    # a row moved far in any one of its values scores higher than the row itself
    assert (forest.score(moved) > forest.score(X[:dim])).all()


# Scores of a small fixed forest recorded (as hex floats) before the kernels were refactored
# into one body per kernel taking the node arrays as one structure; the tree structure is
# exact, the scores too on the machine that recorded them (compared with a 1e-12 tolerance
# here because the reassociated box-distance sum may round differently on another CPU).
_RECORDED_ROWS = [0, 5, 17, 30, 47, 48, 49, 50, 63, 77]
_RECORDED_ANOMALY = [
    "0x1.77c342afe0de0p-1", "0x1.b383d933a48bfp-1", "0x1.919648f5d4c11p-1",
    "0x1.e383d73ed7a3cp-1", "0x1.af4045a53c809p-1", "0x1.073de471cc773p+1",
    "0x1.00883e637bd33p+1", "0x1.cab15c7dddb37p+0", "0x1.6580911fcdfdbp-1",
    "0x1.b0aa9e9500d4fp-1",
]
_RECORDED_CODISP = [
    "0x1.8e338d606705cp+1", "0x1.66ea774d9dd2dp+1", "0x1.d91345d00d620p+0",
    "0x1.705584f35c684p+1", "0x1.68658c7b51f8bp+1", "0x1.6b4498dae44efp+3",
    "0x1.7221968bc74edp+3", "0x1.466fcd26dd9c9p+3", "0x1.2a8a412d946eep+1",
    "0x1.fe44ba6a4e3c4p+0",
]


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_scores_of_a_fixed_forest_match_the_recorded_ones(n_jobs: int) -> None:
    t = np.arange(80.0)
    x = np.column_stack([np.sin(0.3 * t) + 0.1 * np.cos(1.7 * t), np.round(np.cos(0.11 * t), 1)])
    x[50] += 2.5
    forest = RandomCutForest(num_trees=6, num_samples_per_tree=24, random_state=11, n_jobs=n_jobs)
    forest.fit_series(x, 3)
    assert forest.n_nodes_.tolist() == [47] * 6
    assert forest.cut_dim_[0, :12].tolist() == [0, 0, 4, 1, 1, -1, 1, 4, -1, 3, -1, -1]
    assert [v.hex() for v in forest.cut_value_[2, :6].tolist()] == [
        "0x1.79ba731ff4f12p-1", "-0x1.35419ce705d90p-3", "-0x1.7b3b5bec92c70p-1",
        "0x1.115ddd238b010p-4", "-0x1.cb0522c65c580p-3", "-0x1.86a996877683bp-1",
    ]
    anomaly = forest.score_series(x, 3)[_RECORDED_ROWS]
    codisp = forest.score_series(x, 3, score_type="codisp")[_RECORDED_ROWS]
    np.testing.assert_allclose(anomaly, [float.fromhex(h) for h in _RECORDED_ANOMALY], rtol=1e-12)
    np.testing.assert_allclose(codisp, [float.fromhex(h) for h in _RECORDED_CODISP], rtol=1e-12)


def test_kernel_twins_have_their_own_cache_files_and_serial_ones_start_no_threads() -> None:
    # the parallel twin of each kernel is a separate function for numba's cache
    for serial, parallel in [
        (_kernels.build_forest, _kernels.build_forest_parallel),
        (_kernels.score_rows, _kernels.score_rows_parallel),
        (_kernels.boxes_from_leaves, _kernels.boxes_from_leaves_parallel),
        (_kernels.attribute_rows, _kernels.attribute_rows_parallel),
        (_stream_kernels.stream_chunk, _stream_kernels.stream_chunk_parallel),
    ]:
        assert serial.py_func.__code__ is parallel.py_func.__code__  # one body
        assert serial.targetoptions.get("parallel") is not True
        assert parallel.targetoptions["parallel"] is True
        assert parallel.py_func.__qualname__ == serial.py_func.__qualname__ + "_parallel"
    # n_jobs=1 uses the serial twins only: numba's thread pool never starts (fork-safe)
    code = textwrap.dedent(
        """
        import numpy as np
        import numba.np.ufunc.parallel as pool
        from anomark.detectors.rcf.forest import RandomCutForest
        x = np.sin(np.arange(400) / 7.0)
        f = RandomCutForest(20, 32, random_state=0).fit_series(x, 4)
        f.score_series(x, 4); f.score_series(x, 4, score_type="codisp")
        f.attribution_series(x, 4, np.arange(5))
        RandomCutForest.from_arrays(f.to_arrays())
        from anomark.detectors.rcf.streaming import StreamingForest
        s = StreamingForest(20, 32, shingle_size=4, random_state=0)
        s.process(x, attribution=True)
        StreamingForest.from_arrays(s.to_arrays(), num_trees=20, num_samples_per_tree=32,
                                    shingle_size=4).process(x[:10])
        print(pool._is_initialized)
        RandomCutForest(20, 32, random_state=0, n_jobs=2).fit_series(x, 4).score_series(x, 4)
        print(pool._is_initialized)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_attribution_does_not_depend_on_threads_or_on_which_shingles_come_together() -> None:
    # shingles walk the trees four at a time, in chunks spread over the threads: each one's
    # attribution (summed over the trees in tree order) is its own, whatever its neighbours
    rng = np.random.default_rng(5)
    x = rng.normal(size=(700, 3))
    windows = rng.permutation(690)[:301]  # 75 groups of four and one alone, unordered
    one = RandomCutForest(num_trees=30, num_samples_per_tree=64, random_state=2, n_jobs=1)
    one.fit_series(x, 4)
    s1, a1 = one.attribution_series(x, 4, windows)
    two = RandomCutForest.from_arrays(one.to_arrays(), n_jobs=2)
    s2, a2 = two.attribution_series(x, 4, windows[::-1])
    np.testing.assert_array_equal(s2[::-1], s1)
    np.testing.assert_array_equal(a2[::-1], a1)
    s3, a3 = one.attribution_series(x, 4, windows[:1])  # alone in its group
    np.testing.assert_array_equal(a3[0], a1[0])
    np.testing.assert_array_equal(s3[0], s1[0])


def test_attribution_splits_the_score_over_the_dimensions() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(600, 2))
    x[400, 1] += 9.0
    forest = RandomCutForest(num_trees=40, num_samples_per_tree=64, random_state=0).fit_series(x, 3)
    windows = np.append(np.arange(0, 598, 7), [398, 399, 400])
    scores, attr = forest.attribution_series(x, 3, windows)
    np.testing.assert_allclose(attr.sum(axis=1), scores, rtol=1e-9)
    np.testing.assert_allclose(scores, forest.score_series(x, 3)[windows], rtol=1e-9)
    assert (attr >= 0).all()
    # shingle 398 holds row 400 last: its 2nd column at offset 2 (value 2 * 2 + 1) dominates
    assert int(np.argmax(attr[-3])) == 5
    assert int(np.argmax(attr[-1])) == 1  # shingle 400 holds it first


def test_series_path_matches_explicit_shingles() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(size=(700, 2))
    shingles = Windowing(5).shingles(values)
    a = RandomCutForest(num_trees=50, random_state=2).fit_series(values, 5)
    b = RandomCutForest(num_trees=50, random_state=2).fit(shingles)
    np.testing.assert_array_equal(a.points_, b.points_)
    np.testing.assert_array_equal(a.score_series(values, 5), b.score(shingles))
    np.testing.assert_allclose(score_forest_numpy(a, shingles), b.score(shingles), rtol=1e-10)


def test_arrays_round_trip_gives_identical_scores(cloud: np.ndarray) -> None:
    forest = RandomCutForest(num_trees=50, random_state=4).fit(cloud)
    arrays = forest.to_arrays()
    assert all(isinstance(v, np.ndarray) and not v.dtype.hasobject for v in arrays.values())
    loaded = RandomCutForest.from_arrays({k: v.copy() for k, v in arrays.items()})
    np.testing.assert_array_equal(loaded.lo_, forest.lo_)
    np.testing.assert_array_equal(loaded.hi_, forest.hi_)
    np.testing.assert_array_equal(loaded.score(cloud), forest.score(cloud))
    np.testing.assert_array_equal(
        loaded.score(cloud, score_type="codisp"), forest.score(cloud, score_type="codisp")
    )


@pytest.mark.parametrize(
    ("key", "mutate"),
    [
        ("left", lambda a: a.__setitem__((0, 0), 10_000)),
        ("left", lambda a: a.__setitem__((0, 0), 0)),
        ("cut_dim", lambda a: a.__setitem__((0, 0), 99)),
        ("leaf_point", lambda a: a.__setitem__(a >= 0, 10_000)),
        ("mass", lambda a: a.__setitem__((0, 0), 5)),
        ("n_nodes", lambda a: a.__setitem__(0, 0)),
    ],
)
def test_corrupted_arrays_are_refused(cloud: np.ndarray, key: str, mutate: object) -> None:
    forest = RandomCutForest(50, random_state=0).fit(cloud)
    arrays = {k: v.copy() for k, v in forest.to_arrays().items()}
    mutate(arrays[key])  # type: ignore[operator]
    with pytest.raises(PersistenceError):
        RandomCutForest.from_arrays(arrays)


def test_missing_or_misshapen_arrays_are_refused(cloud: np.ndarray) -> None:
    arrays = RandomCutForest(50, random_state=0).fit(cloud).to_arrays()
    with pytest.raises(PersistenceError, match="missing"):
        RandomCutForest.from_arrays({k: v for k, v in arrays.items() if k != "mass"})
    bad = dict(arrays, cut_value=arrays["cut_value"][:, :-1])
    with pytest.raises(PersistenceError, match="shape"):
        RandomCutForest.from_arrays(bad)


@pytest.mark.parametrize(("n", "n_trees", "m"), [(1000, 50, 256), (10_000, 20, 256), (300, 7, 100)])
def test_balanced_samples(n: int, n_trees: int, m: int) -> None:
    idx = balanced_samples(np.random.default_rng(0), n, n_trees, m)
    assert idx.shape == (n_trees, m)
    assert all(len(np.unique(row)) == m for row in idx)  # without replacement in each tree
    assert idx.min() >= 0 and idx.max() < n
    counts = np.bincount(idx.ravel(), minlength=n)
    expected = n_trees * m / n
    # most rows in floor/ceil(expected) trees (repeats redrawn at the permutation seams move a
    # few): far tighter than independent draws, whose counts are binomial
    assert np.mean(np.abs(counts - expected) < 1) > 0.8
    if expected <= 1:
        assert counts.max() == 1  # disjoint samples
    else:
        binomial_sd = np.sqrt(n_trees * (m / n) * (1 - m / n))
        assert counts.std() < 0.5 * binomial_sd
    other = balanced_samples(np.random.default_rng(1), n, n_trees, m)
    assert not np.array_equal(idx, other)


def test_constant_and_tiny_inputs() -> None:
    flat = np.ones((50, 2))
    forest = RandomCutForest(num_trees=10, random_state=0).fit(flat)
    assert forest.n_nodes_.tolist() == [1] * 10  # one leaf holding 50 duplicates
    scores = forest.score(np.vstack([flat[:3], [[2.0, 1.0]]]))
    assert np.isfinite(scores).all()
    assert scores[-1] > scores[0]
    single = RandomCutForest(num_trees=5, random_state=0).fit([[1.0, 2.0]])
    assert np.isfinite(single.score([[1.0, 2.0], [3.0, 3.0]])).all()


def test_fewer_points_than_samples_uses_all_of_them() -> None:
    X = np.arange(20.0)[:, None]
    forest = RandomCutForest(num_trees=10, num_samples_per_tree=256, random_state=0).fit(X)
    assert forest.points_.shape == (10, 20, 1)
    assert (forest.mass_[:, 0] == 20).all()


def test_errors() -> None:
    with pytest.raises(ConfigurationError, match="num_trees"):
        RandomCutForest(num_trees=0)
    with pytest.raises(ConfigurationError, match="score_type"):
        RandomCutForest(score_type="depth")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="n_jobs"):
        RandomCutForest(n_jobs=0)
    with pytest.raises(TypeError, match="backend"):
        RandomCutForest(backend="numpy")  # type: ignore[call-arg]
    with pytest.raises(NotFittedError):
        RandomCutForest().score([[1.0]])
    with pytest.raises(DataError, match="NaN"):
        RandomCutForest().fit([[1.0], [np.nan]])
    with pytest.raises(DataError, match="2-D"):
        RandomCutForest().fit(np.zeros(5))
    forest = RandomCutForest(num_trees=5, random_state=0).fit(np.zeros((10, 3)))
    with pytest.raises(DataError, match="dimensions"):
        forest.score(np.zeros((4, 2)))
    with pytest.raises(DataError, match="dimensions"):
        forest.score_series(np.zeros(30), 4)
    with pytest.raises(DataError, match="larger than the series"):
        forest.score_series(np.zeros(2), 3)


def test_series_scoring_never_builds_the_shingled_matrix() -> None:
    import tracemalloc

    n, size = 200_000, 700  # the shingled matrix would take 200k x 700 x 8 B = 1.1 GB
    x = np.sin(np.arange(n) / 50.0)
    forest = RandomCutForest(num_trees=1, num_samples_per_tree=16, random_state=0)
    forest.fit_series(x, size)
    tracemalloc.start()
    try:
        scores = forest.score_series(x, size)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert scores.shape == (n - size + 1,)
    assert np.isfinite(scores).all()
    assert peak < 50 * 2**20  # input copy + scores, never the 1.1 GB matrix

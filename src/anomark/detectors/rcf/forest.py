"""A batch Random Cut Forest (Guha et al., ICML 2016) scored like AWS's implementation."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, Literal

import numpy as np

from anomark._validation import Constraint, Interval, Options, check_param, validate_params
from anomark.detectors.base import N_JOBS, SEED
from anomark.detectors.rcf._kernels import (
    Trees,
    as_aligned,
    check_forest_memory,
    empty_trees,
)
from anomark.errors import DataError, NotFittedError, PersistenceError
from anomark.windowing import Windowing

__all__ = ["RandomCutForest", "ScoreType"]

ScoreType = Literal["anomaly", "codisp"]
_ARRAYS = ("points", "left", "right", "cut_dim", "cut_value", "mass", "leaf_point", "n_nodes")
_INT_ARRAYS = ("left", "right", "cut_dim", "mass", "leaf_point", "n_nodes")
SCORE_TYPE: Constraint = Options("anomaly", "codisp")
DTYPE: Constraint = Options("float64", "float32")
#: The largest magnitude a ``dtype="float32"`` forest holds.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def resolve_n_jobs(n_jobs: int | None) -> int:
    """Threads for ``n_jobs``: ``None`` -> 1 (scikit-learn's convention), ``-1`` all cores,
    ``-2`` all but one; at most numba's thread count."""
    import numba

    available = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    n = check_param(n_jobs, "n_jobs", N_JOBS)
    if n is None:
        return 1
    n = n if n > 0 else available + 1 + n
    return max(1, min(n, available))


def kernel(kernels: tuple[Any, Any], threads: int) -> Any:
    """The serial or the parallel twin of a kernel (see ``_kernels._twins``)."""
    return kernels[1] if threads > 1 else kernels[0]


@contextmanager
def _threads(n: int) -> Iterator[None]:
    """Run numba's parallel kernels on ``n`` threads; with 1 the serial kernels are used and
    numba's thread pool is never started (so forking afterwards stays safe)."""
    if n == 1:
        yield
        return
    import numba

    previous = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def _as_matrix(X: Any, what: str) -> np.ndarray:
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what}: input must be numeric ({exc})") from None
    if arr.ndim != 2:
        raise DataError(f"{what}: expected a 2-D array (points x dimensions), got {arr.ndim}-D")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataError(f"{what}: got an empty array of shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise DataError(f"{what}: input contains NaN or infinite values")
    return np.ascontiguousarray(arr)


def balanced_samples(rng: np.random.Generator, n: int, n_trees: int, m: int) -> np.ndarray:
    """``n_trees`` uniform samples of ``m`` distinct rows out of ``n``, spread evenly over rows.

    Each tree's sample is a uniform random ``m``-subset, as with independent draws, but the
    samples are cut from consecutive random permutations of the rows, so every row lands in
    ``floor`` or ``ceil`` of ``n_trees * m / n`` trees instead of a binomial number of them.
    This is a variance reduction: a row's score is lower in the trees that hold it (AWS's
    "seen" score), and balancing those memberships removes that noise from the ranking of
    training rows without changing any tree's distribution.
    """
    total = n_trees * m
    if total <= n:  # disjoint samples; choice() needs O(total) memory, not O(n)
        return rng.choice(n, size=total, replace=False).reshape(n_trees, m)
    n_perm = -(-total // n)
    flat = np.concatenate([rng.permutation(n) for _ in range(n_perm)])[:total]
    idx = flat.reshape(n_trees, m)
    # a sample straddling two permutations may repeat rows: redraw the repeats among the rows
    # it does not hold yet
    for t in np.unique(np.arange(n, total, n) // m):
        row = idx[t]
        _, first = np.unique(row, return_index=True)
        repeat = np.setdiff1d(np.arange(m), first)
        if repeat.size:
            free = np.setdiff1d(np.arange(n), row)
            row[repeat] = rng.choice(free, size=repeat.size, replace=False)
    return idx


class RandomCutForest:
    """Batch Random Cut Forest with AWS's anomaly score, compiled with numba.

    Each of ``num_trees`` trees is built on a uniform sample (without replacement) of
    ``num_samples_per_tree`` input vectors; the samples are balanced across trees (every vector
    is in about the same number of trees, see :func:`balanced_samples`). A node's cut picks a
    dimension with probability proportional to the side length of the node's bounding box and
    a value uniform along it; a node whose points are all equal is a leaf (its mass counts the
    duplicates).

    Scores use the definition of the open-source ``random-cut-forest-by-aws`` library and of
    SageMaker's built-in algorithm (``AnomalyScoreVisitor``): for a tree of mass ``M``,
    walking from the leaf the point reaches back to the root,
    ``s <- p * 1 / (depth + 1) + (1 - p) * s`` where ``p`` is the probability that a random cut
    of the node's box, extended by the point, separates the point; a point not in the sample
    starts from ``1 / (leaf_depth + 1)``, a sampled point from
    ``(1 - m / 2M) / (leaf_depth + log2(m + 1))`` (leaf mass ``m``); the tree's score is
    ``s * log2(M + 1)`` and the forest's the mean over trees. Typical points score near 1,
    clear anomalies well above.

    ``score_type="codisp"`` returns the collusive displacement of Guha et al. instead: for a
    point in a tree's sample, the largest ``|sibling| / |subtree|`` over the subtrees holding it;
    for any other point, its expected value over where a random insertion would place it
    (the cut probabilities above), averaged over all trees.

    The streaming counterpart (trees that learn point by point, with time decay) is
    :class:`anomark.detectors.rcf.streaming.StreamingForest`, which can start from a fitted
    batch forest (``StreamingForest.from_batch``).

    Parameters
    ----------
    num_trees : int, default 100
        Number of trees.
    num_samples_per_tree : int, default 256
        Points sampled per tree (all of them when fewer are given).
    score_type : {"anomaly", "codisp"}, default "anomaly"
        Score returned by :meth:`score`.
    random_state : int or None, default None
        Seed of the sampling and of the cuts; equal seeds give equal forests.
    n_jobs : int or None, default None
        Threads for building and scoring: ``None`` means 1, ``-1`` all cores.
    dtype : {"float64", "float32"}, default "float64"
        Precision of the sampled points, boxes and cuts (see :func:`in_precision`):
        ``"float32"`` is the precision of AWS's own RCF, with half the memory and faster
        kernels; side sums and scores stay float64.

    Attributes
    ----------
    points_ : numpy.ndarray, shape (num_trees, m, dim)
        Each tree's sample (``m = min(num_samples_per_tree, n_points)``).
    sample_index_ : numpy.ndarray of int64, shape (num_trees, m)
        The input row (for a series: the shingle index) of each sampled point.
    n_seen_ : int
        Rows (shingles) the forest was fitted on.
    trees_ : Trees
        The node arrays (see :mod:`anomark.detectors.rcf._kernels` for the layout); also
        readable one by one as ``left_``, ``cut_dim_``, ``cut_value_``, ``mass_``,
        ``leaf_point_`` ``(num_trees, 2m - 1)``, ``lo_``, ``hi_`` ``(num_trees, 2m - 1, dim)``
        and ``range_sum_``; ``right_`` is ``left_ + 1`` on internal nodes.
    n_nodes_ : numpy.ndarray, shape (num_trees,)
        Nodes used by each tree.

    Raises
    ------
    ConfigurationError
        A parameter of the wrong type or out of range (checked in the constructor: the engine
        is not a scikit-learn estimator; :class:`~anomark.RCFDetector` validates in ``fit``).

    Examples
    --------
    >>> import numpy as np
    >>> from anomark.detectors.rcf.forest import RandomCutForest
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(size=(500, 2)), [[8.0, 8.0]]])
    >>> forest = RandomCutForest(num_trees=50, random_state=0).fit(X)
    >>> scores = forest.score(X)
    >>> int(np.argmax(scores))
    500
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "num_trees": [Interval(int, 1, None)],
        "num_samples_per_tree": [Interval(int, 1, None)],
        "score_type": [SCORE_TYPE],
        "random_state": [SEED, None],
        "n_jobs": N_JOBS,
        "dtype": [DTYPE],
    }

    def __init__(
        self,
        num_trees: int = 100,
        num_samples_per_tree: int = 256,
        *,
        score_type: ScoreType = "anomaly",
        random_state: int | None = None,
        n_jobs: int | None = None,
        dtype: str = "float64",
    ) -> None:
        checked = validate_params(
            self._parameter_constraints,
            {
                "num_trees": num_trees,
                "num_samples_per_tree": num_samples_per_tree,
                "score_type": score_type,
                "random_state": random_state,
                "n_jobs": n_jobs,
                "dtype": dtype,
            },
            "RandomCutForest",
        )
        self.num_trees: int = checked["num_trees"]
        self.num_samples_per_tree: int = checked["num_samples_per_tree"]
        self.score_type: ScoreType = checked["score_type"]
        self.random_state: int | None = checked["random_state"]
        self.n_jobs = n_jobs
        self.dtype: str = checked["dtype"]
        self._threads = resolve_n_jobs(n_jobs)

    def __repr__(self) -> str:
        return (
            f"RandomCutForest(num_trees={self.num_trees}, "
            f"num_samples_per_tree={self.num_samples_per_tree}, score_type={self.score_type!r})"
        )

    # ------------------------------------------------------------------ fitted arrays
    @property
    def is_fitted(self) -> bool:
        """Whether the trees exist."""
        return hasattr(self, "trees_")

    @property
    def dim(self) -> int:
        """Dimension of the vectors the forest was fitted on."""
        self._check_fitted()
        return int(self.points_.shape[2])

    @property
    def left_(self) -> np.ndarray:
        return self.trees_.left

    @property
    def right_(self) -> np.ndarray:
        """Right children: ``left_ + 1`` on internal nodes, ``-1`` elsewhere."""
        left = self.trees_.left
        return np.where(left >= 0, left + 1, -1).astype(np.int32)

    @property
    def cut_dim_(self) -> np.ndarray:
        return self.trees_.cut_dim

    @property
    def cut_value_(self) -> np.ndarray:
        return self.trees_.cut_value

    @property
    def mass_(self) -> np.ndarray:
        return self.trees_.mass

    @property
    def leaf_point_(self) -> np.ndarray:
        return self.trees_.leaf_point

    @property
    def lo_(self) -> np.ndarray:
        return self.trees_.lo

    @property
    def hi_(self) -> np.ndarray:
        return self.trees_.hi

    @property
    def range_sum_(self) -> np.ndarray:
        return self.trees_.range_sum

    @property
    def num_trees_fitted(self) -> int:
        """Number of fitted trees."""
        self._check_fitted()
        return int(self.points_.shape[0])

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError("this RandomCutForest is not fitted yet; call fit first")

    # ------------------------------------------------------------------ fitting
    def _sample_indices(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-tree sample rows (T, m) and the cut uniforms (T, max(m-1, 1), 2)."""
        rng = np.random.default_rng(self.random_state)
        m = min(self.num_samples_per_tree, n)
        if m == n:
            idx = np.broadcast_to(np.arange(n), (self.num_trees, n)).copy()
        else:
            idx = balanced_samples(rng, n, self.num_trees, m)
        uniforms = rng.random((self.num_trees, max(m - 1, 1), 2))
        return idx, uniforms

    def _check_memory(self, n_points: int, dim: int, where: str) -> None:
        check_forest_memory(
            self.num_trees, min(self.num_samples_per_tree, max(n_points, 1)), dim, where,
            itemsize=np.dtype(self.dtype).itemsize,
        )

    def fit(self, X: Any) -> RandomCutForest:
        """Build the trees on rows of ``X``.

        Parameters
        ----------
        X : array-like, shape (n_points, dim)
            Vectors (for time series: shingles). Only the sampled rows are read.

        Returns
        -------
        self

        Raises
        ------
        DataError
            Not a finite, non-empty 2-D numeric array.
        """
        arr = in_precision(
            _as_matrix(X, "RandomCutForest.fit"), self.dtype, "RandomCutForest.fit", warn=True
        )
        self._check_memory(arr.shape[0], arr.shape[1], "RandomCutForest.fit")
        idx, uniforms = self._sample_indices(arr.shape[0])
        self._build(arr[idx], uniforms, idx, arr.shape[0])
        return self

    def fit_series(self, values: Any, shingle_size: int) -> RandomCutForest:
        """Build the trees on the stride-1 shingles of a series without shingling all of it.

        Only the sampled windows are copied out of ``values``, so fitting a long series needs
        memory for ``num_trees * num_samples_per_tree`` shingles, not for the whole shingled
        matrix.

        Parameters
        ----------
        values : array-like, shape (n_points,) or (n_points, n_features)
            The series (time in rows).
        shingle_size : int
            Window length; each shingle is ``shingle_size * n_features`` long (time-major).

        Returns
        -------
        self
        """
        what = "RandomCutForest.fit_series"
        series = as_series_in(values, self.dtype, what, warn=True)
        windowing = Windowing(shingle_size)
        n_windows = windowing.n_windows(series.shape[0])
        self._check_memory(n_windows, shingle_size * series.shape[1], "RandomCutForest.fit_series")
        idx, uniforms = self._sample_indices(n_windows)
        view = windowing.windows(series)  # (n_windows, size, n_features), no copy
        points = view[idx.ravel()].reshape(idx.shape[0], idx.shape[1], -1)
        self._build(points, uniforms, idx, n_windows)
        return self

    def _build(
        self, points: np.ndarray, uniforms: np.ndarray, idx: np.ndarray, n_seen: int
    ) -> None:
        from anomark.detectors.rcf import _kernels

        points = as_aligned(np.asarray(points), self.dtype)
        n_trees, m, d = points.shape
        trees = empty_trees(n_trees, 2 * m - 1, d, self.dtype)
        n_nodes = np.zeros(n_trees, dtype=np.int64)
        build = kernel((_kernels.build_forest, _kernels.build_forest_parallel), self._threads)
        with _threads(self._threads):
            build(points, np.ascontiguousarray(uniforms), trees, n_nodes)
        self.points_ = points
        self.sample_index_ = np.ascontiguousarray(idx, dtype=np.int64)
        self.n_seen_ = int(n_seen)
        self.trees_ = trees
        self.n_nodes_ = n_nodes

    # ------------------------------------------------------------------ scoring
    def score(self, X: Any, score_type: ScoreType | None = None) -> np.ndarray:
        """Score each row of ``X`` (higher = more anomalous).

        Parameters
        ----------
        X : array-like, shape (n_points, dim)
            Vectors to score.
        score_type : {"anomaly", "codisp"}, optional
            Overrides the forest's ``score_type`` for this call.

        Returns
        -------
        numpy.ndarray, shape (n_points,)
        """
        self._check_fitted()
        arr = in_precision(_as_matrix(X, "RandomCutForest.score"), self.dtype,
                           "RandomCutForest.score")
        if arr.shape[1] != self.dim:
            raise DataError(
                f"RandomCutForest.score: vectors have {arr.shape[1]} dimensions, the forest was "
                f"fitted on {self.dim}"
            )
        kind = check_param(score_type or self.score_type, "score_type", [SCORE_TYPE])
        return score_flat(self.trees_, arr.ravel(), arr.shape[0], arr.shape[1], kind,
                          self._threads)

    def score_series(
        self, values: Any, shingle_size: int, score_type: ScoreType | None = None
    ) -> np.ndarray:
        """Score every stride-1 shingle of a series, reading the windows in place.

        The shingled matrix is never materialised: shingle ``i`` is the contiguous slice
        ``values[i : i + shingle_size].ravel()``.

        Returns
        -------
        numpy.ndarray, shape (n_points - shingle_size + 1,)
            One score per window, in window order.
        """
        self._check_fitted()
        what = "RandomCutForest.score_series"
        series = as_series_in(values, self.dtype, what)
        n_windows = check_shingles(series, shingle_size, self.dim, what)
        kind = check_param(score_type or self.score_type, "score_type", [SCORE_TYPE])
        return score_flat(self.trees_, series.ravel(), n_windows, series.shape[1], kind,
                          self._threads)

    def attribution_series(
        self, values: Any, shingle_size: int, windows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """AWS's anomaly score of the chosen shingles of a series and its split over their
        ``shingle_size * n_features`` values (time-major).

        Parameters
        ----------
        values : array-like, shape (n_points,) or (n_points, n_features)
            The series.
        shingle_size : int
            Window length.
        windows : array of int
            Indices of the shingles (shingle ``i`` starts at row ``i``).

        Returns
        -------
        scores : numpy.ndarray, shape (k,)
        attribution : numpy.ndarray, shape (k, shingle_size * n_features)
            Each row sums to its score (up to rounding).
        """
        self._check_fitted()
        what = "RandomCutForest.attribution_series"
        series = as_series_in(values, self.dtype, what)
        n_windows = check_shingles(series, shingle_size, self.dim, what)
        return attribute_flat(self.trees_, series, n_windows, windows, self._threads)

    # ------------------------------------------------------------------ persistence
    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fitted forest as plain numeric arrays (for ``.npz``; no pickle).

        Bounding boxes are not stored: :meth:`from_arrays` recomputes them exactly from the
        sampled points, so a reloaded forest gives identical scores.
        """
        self._check_fitted()
        return {
            "points": self.points_,
            "sample_index": self.sample_index_,
            "n_seen": np.array([self.n_seen_], dtype=np.int64),
            "left": self.left_,
            "right": self.right_,
            "cut_dim": self.cut_dim_,
            "cut_value": self.cut_value_,
            "mass": self.mass_,
            "leaf_point": self.leaf_point_,
            "n_nodes": self.n_nodes_,
        }

    @classmethod
    def from_arrays(
        cls,
        arrays: dict[str, np.ndarray],
        *,
        score_type: ScoreType = "anomaly",
        random_state: int | None = None,
        n_jobs: int | None = None,
        dtype: str = "float64",
    ) -> RandomCutForest:
        """Rebuild a forest written by :meth:`to_arrays`, validating every index.

        ``sample_index`` and ``n_seen`` are optional (saves before they existed): missing, the
        sampled points count as all seen at row 0, and ``n_seen`` as the largest sampled row
        plus one.

        Raises
        ------
        PersistenceError
            Missing arrays, wrong shapes or dtypes (points and cut values must be in
            ``dtype``), or indices that do not form valid trees.
        """
        from anomark.detectors.rcf import _kernels

        dtype = check_param(dtype, "dtype", [DTYPE], "RandomCutForest.from_arrays")
        missing = [k for k in _ARRAYS if k not in arrays]
        if missing:
            raise PersistenceError(f"forest arrays are missing {missing}")
        a = {k: np.asarray(arrays[k]) for k in _ARRAYS}
        points = a["points"]
        if points.ndim != 3 or 0 in points.shape or points.dtype.kind != "f":
            raise PersistenceError("forest 'points' must be a (trees, samples, dim) float array")
        if not np.isfinite(points).all():
            raise PersistenceError("forest 'points' contains NaN or infinite values")
        points = saved_in_precision(points, dtype, "forest 'points'")
        n_trees, m, d = points.shape
        shape = (n_trees, 2 * m - 1)
        for k in _INT_ARRAYS:
            if a[k].dtype.kind not in "iu":
                raise PersistenceError(f"forest array {k!r} must be integers, got {a[k].dtype}")
        for k in ("left", "right", "cut_dim", "cut_value", "mass", "leaf_point"):
            if a[k].shape != shape:
                raise PersistenceError(
                    f"forest array {k!r} has shape {a[k].shape}, expected {shape}"
                )
        if a["n_nodes"].shape != (n_trees,):
            raise PersistenceError("forest array 'n_nodes' must hold one count per tree")
        sample_index = np.asarray(arrays.get("sample_index", np.zeros((n_trees, m), np.int64)))
        if sample_index.shape != (n_trees, m) or sample_index.dtype.kind not in "iu" or (
            sample_index.size and sample_index.min() < 0
        ):
            raise PersistenceError("forest 'sample_index' must be (trees, samples) row indices")
        n_seen = np.asarray(arrays.get("n_seen", [sample_index.max() + 1])).reshape(-1)
        if n_seen.shape != (1,) or n_seen.dtype.kind not in "iu" or (
            int(n_seen[0]) <= sample_index.max()
        ):
            raise PersistenceError("forest 'n_seen' must be one count above every sample index")
        left = a["left"].astype(np.int32)
        right = a["right"].astype(np.int32)
        cut_dim = a["cut_dim"].astype(np.int32)
        mass = a["mass"].astype(np.int32)
        leaf_point = a["leaf_point"].astype(np.int32)
        n_nodes = a["n_nodes"].astype(np.int64)
        cut_value = saved_in_precision(a["cut_value"], dtype, "forest 'cut_value'")
        cls._validate_trees(left, right, cut_dim, mass, leaf_point, n_nodes, m, d)
        forest = cls(
            num_trees=n_trees,
            num_samples_per_tree=m,
            score_type=score_type,
            random_state=random_state,
            n_jobs=n_jobs,
            dtype=dtype,
        )
        trees = empty_trees(n_trees, shape[1], d, dtype)._replace(
            left=left, cut_dim=cut_dim, cut_value=cut_value, mass=mass, leaf_point=leaf_point
        )
        points = as_aligned(points, dtype)
        boxes = kernel(
            (_kernels.boxes_from_leaves, _kernels.boxes_from_leaves_parallel), forest._threads
        )
        with _threads(forest._threads):
            boxes(points, trees)
        forest.points_ = points
        forest.sample_index_ = np.ascontiguousarray(sample_index, dtype=np.int64)
        forest.n_seen_ = int(n_seen[0])
        forest.trees_ = trees
        forest.n_nodes_ = n_nodes
        return forest

    @staticmethod
    def _validate_trees(
        left: np.ndarray,
        right: np.ndarray,
        cut_dim: np.ndarray,
        mass: np.ndarray,
        leaf_point: np.ndarray,
        n_nodes: np.ndarray,
        m: int,
        d: int,
    ) -> None:
        """Check the tree structure so the compiled traversal can never index out of bounds."""
        n_slots = left.shape[1]
        if ((n_nodes < 1) | (n_nodes > n_slots)).any():
            raise PersistenceError("forest 'n_nodes' out of range")
        slot = np.arange(n_slots)[None, :]
        used = slot < n_nodes[:, None]
        internal = used & (left >= 0)
        leaf = used & (left < 0)
        parent = np.broadcast_to(slot, left.shape)
        bad = (
            (internal & ((left <= parent) | (right != left + 1)))
            | (internal & ((left >= n_nodes[:, None]) | (right >= n_nodes[:, None])))
            | (internal & ((cut_dim < 0) | (cut_dim >= d)))
            | (leaf & ((leaf_point < 0) | (leaf_point >= m) | (right >= 0)))
            | (used & ((mass < 1) | (mass > m)))
        )
        if bad.any():
            t, node = np.argwhere(bad)[0]
            raise PersistenceError(f"forest arrays are inconsistent at tree {t}, node {node}")
        # each used non-root node must be the child of exactly one internal node
        for t in range(left.shape[0]):
            kids = np.concatenate([left[t][internal[t]], right[t][internal[t]]])
            count = np.bincount(kids, minlength=n_slots)[: n_nodes[t]]
            if count[0] != 0 or not (count[1:] == 1).all():
                raise PersistenceError(f"forest arrays of tree {t} do not form a tree")
            inner = internal[t]
            if (mass[t][inner] != mass[t][left[t][inner]] + mass[t][right[t][inner]]).any():
                raise PersistenceError(f"forest masses of tree {t} do not add up")

    def memory_bytes(self) -> int:
        """Bytes held by the fitted arrays (boxes included)."""
        self._check_fitted()
        return int(self.points_.nbytes) + sum(int(v.nbytes) for v in self.trees_)


# ---------------------------------------------------------------------- shared helpers
def as_series(values: Any, what: str) -> np.ndarray:
    """A finite, non-empty series as a C-contiguous float64 (n_points, n_features) array."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what}: input must be numeric ({exc})") from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataError(f"{what}: expected a non-empty 1-D or 2-D series, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise DataError(f"{what}: input contains NaN or infinite values")
    return np.ascontiguousarray(arr)


def in_precision(
    series: np.ndarray,
    dtype: str,
    what: str,
    warn: bool = False,
    columns: Sequence[Any] | None = None,
) -> np.ndarray:
    """``series`` (finite float64, from :func:`as_series`) in a forest's precision.

    ``"float64"`` returns it unchanged. ``"float32"`` (AWS's precision) rounds each value to
    the nearest float32: a value beyond float32's range (about 3.4e38) is refused, and with
    ``warn`` (the data a forest first learns) a warning says when the rounding is coarse for
    the data, i.e. it moves a value by more than 1/1000 of its column's range (large values
    that vary little, such as epoch-second counts or running totals): such columns keep
    their detail in float64. Messages name the columns by ``columns`` (the caller's names,
    as a detector knows them), else by position.

    Raises
    ------
    DataError
        A value beyond float32's range.
    """
    if dtype == "float64":
        return series
    magnitude = np.abs(series).max(axis=0)
    beyond = np.flatnonzero(magnitude > FLOAT32_MAX)
    if beyond.size:
        raise DataError(
            f"{what}: column(s) {_named(beyond, columns)} hold values beyond float32's range "
            f"(|x| up to {magnitude.max():.3g}); use dtype='float64' or rescale them"
        )
    out = series.astype(np.float32)
    if warn and series.shape[0] > 1:
        spread = series.max(axis=0) - series.min(axis=0)
        moved = np.abs(out - series).max(axis=0)
        coarse = np.flatnonzero((spread > 0) & (moved > 1e-3 * spread))
        if coarse.size:
            warnings.warn(
                f"{what}: rounding to float32 moves values of column(s) "
                f"{_named(coarse, columns)} by "
                f"up to {moved[coarse].max():.3g}, more than 1/1000 of their range (large "
                f"values that vary little); dtype='float64' keeps their detail",
                UserWarning,
                stacklevel=3,
            )
    return out


def as_series_in(values: Any, dtype: str, what: str, warn: bool = False) -> np.ndarray:
    """:func:`as_series` then :func:`in_precision`: the series as a forest of ``dtype``
    reads it."""
    return in_precision(as_series(values, what), dtype, what, warn)


def _named(positions: np.ndarray, columns: Sequence[Any] | None) -> list[Any]:
    return positions.tolist() if columns is None else [columns[i] for i in positions]


def saved_in_precision(arr: np.ndarray, dtype: str, what: str) -> np.ndarray:
    """Saved float values (points, cut values) in the forest's ``dtype``: converted when
    that changes no value (float32 into a float64 forest, or float64 values that float32
    holds exactly), else refused."""
    with np.errstate(over="ignore"):  # beyond float32's range: refused below
        out = arr.astype(dtype)
    if not np.array_equal(out, arr):
        raise PersistenceError(
            f"{what} holds {arr.dtype} values that a {dtype} forest cannot hold exactly: the "
            f"arrays were saved by a forest of another precision (dtype={str(arr.dtype)!r})"
        )
    return out


def check_shingles(series: np.ndarray, shingle_size: int, dim: int, what: str) -> int:
    """Number of shingles of ``series``; DataError when their dimension is not ``dim``."""
    n_windows = Windowing(shingle_size).n_windows(series.shape[0])
    if shingle_size * series.shape[1] != dim:
        raise DataError(
            f"{what}: shingles of {shingle_size} x {series.shape[1]} features have "
            f"{shingle_size * series.shape[1]} dimensions, the forest was fitted on {dim}"
        )
    return n_windows


def _work_chunk(n_rows: int, threads: int, low: int, high: int) -> int:
    """Rows per ``prange`` work item of the scoring kernels: about four items per thread,
    within ``[low, high]`` (large enough to reuse each tree's cached nodes, small enough to
    give every thread a few items)."""
    return int(min(high, max(low, -(-n_rows // (4 * threads)))))


def score_flat(
    trees: Trees, flat: np.ndarray, n_rows: int, row_stride: int, kind: str, threads: int
) -> np.ndarray:
    """Mean score over the trees of rows ``flat[r*row_stride : r*row_stride + dim]``."""
    from anomark.detectors.rcf import _kernels

    out = np.zeros(n_rows)
    chunk = _work_chunk(n_rows, threads, 256, 4096)
    run = kernel((_kernels.score_rows, _kernels.score_rows_parallel), threads)
    with _threads(threads):
        run(flat, n_rows, row_stride, trees.lo.shape[2], trees, kind == "codisp", chunk, out)
    return out


def attribute_flat(
    trees: Trees, series: np.ndarray, n_windows: int, windows: Any, threads: int
) -> tuple[np.ndarray, np.ndarray]:
    """Scores and per-value attribution of the chosen stride-1 shingles of ``series``."""
    from anomark.detectors.rcf import _kernels

    idx = np.asarray(windows, dtype=np.int64).reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= n_windows):
        raise DataError(
            f"shingle indices must be in [0, {n_windows}), got {idx.min()}..{idx.max()}"
        )
    dim = trees.lo.shape[2]
    scores = np.zeros(idx.size)
    attr = np.zeros((idx.size, dim))
    chunk = _work_chunk(idx.size, threads, 64, 1024)
    run = kernel((_kernels.attribute_rows, _kernels.attribute_rows_parallel), threads)
    with _threads(threads):
        run(series.ravel(), idx * series.shape[1], dim, trees, chunk, scores, attr)
    return scores, attr

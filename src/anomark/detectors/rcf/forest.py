"""A batch Random Cut Forest (Guha et al., ICML 2016) scored like AWS's implementation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np

from anomark.errors import ConfigurationError, DataError, NotFittedError, PersistenceError
from anomark.windowing import Windowing

__all__ = ["RandomCutForest", "ScoreType"]

ScoreType = Literal["anomaly", "codisp"]
Backend = Literal["numba", "numpy"]
_ARRAYS = ("points", "left", "right", "cut_dim", "cut_value", "mass", "leaf_point", "n_nodes")
_INT_ARRAYS = ("left", "right", "cut_dim", "mass", "leaf_point", "n_nodes")


def _check_pos_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ConfigurationError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ConfigurationError(f"{name} must be >= 1, got {value}")
    return int(value)


def _resolve_n_jobs(n_jobs: int | None) -> int:
    """``None`` -> 1 thread (scikit-learn's convention), ``-1`` all cores, ``-2`` all but one."""
    import numba

    available = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    if n_jobs is None:
        return 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int | np.integer) or n_jobs == 0:
        raise ConfigurationError(
            f"n_jobs must be None, a positive integer or a negative integer (-1 = all cores), "
            f"got {n_jobs!r}"
        )
    n = int(n_jobs) if n_jobs > 0 else available + 1 + int(n_jobs)
    return max(1, min(n, available))


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
    backend : {"numba", "numpy"}, default "numba"
        Scoring implementation: compiled kernels, or the level-synchronous numpy reference
        (slower; kept to cross-check and benchmark the kernels). Trees are always built by the
        compiled builder.

    Attributes
    ----------
    points_ : numpy.ndarray, shape (num_trees, m, dim)
        Each tree's sample (``m = min(num_samples_per_tree, n_points)``).
    left_, right_, cut_dim_, cut_value_, mass_, leaf_point_ : numpy.ndarray, (num_trees, 2m - 1)
        The trees' nodes (see :mod:`anomark.detectors.rcf._kernels` for the layout).
    lo_, hi_ : numpy.ndarray, shape (num_trees, 2m - 1, dim)
        Bounding box of every node; ``range_sum_`` the sum of its sides.
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

    def __init__(
        self,
        num_trees: int = 100,
        num_samples_per_tree: int = 256,
        *,
        score_type: ScoreType = "anomaly",
        random_state: int | None = None,
        n_jobs: int | None = None,
        backend: Backend = "numba",
    ) -> None:
        self.num_trees = _check_pos_int(num_trees, "num_trees")
        self.num_samples_per_tree = _check_pos_int(num_samples_per_tree, "num_samples_per_tree")
        self.score_type = self._check_score_type(score_type)
        if random_state is not None and (
            isinstance(random_state, bool) or not isinstance(random_state, int | np.integer)
        ):
            raise ConfigurationError(
                f"random_state must be an integer or None, got {type(random_state).__name__}"
            )
        self.random_state = random_state
        self.n_jobs = n_jobs
        self._threads = _resolve_n_jobs(n_jobs)
        if backend not in ("numba", "numpy"):
            raise ConfigurationError(f"backend must be 'numba' or 'numpy', got {backend!r}")
        self.backend: Backend = backend

    @staticmethod
    def _check_score_type(score_type: Any) -> ScoreType:
        if score_type not in ("anomaly", "codisp"):
            raise ConfigurationError(
                f"score_type must be 'anomaly' or 'codisp', got {score_type!r}"
            )
        return score_type  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return (
            f"RandomCutForest(num_trees={self.num_trees}, "
            f"num_samples_per_tree={self.num_samples_per_tree}, score_type={self.score_type!r})"
        )

    # ------------------------------------------------------------------ fitting
    @property
    def is_fitted(self) -> bool:
        """Whether the trees exist."""
        return hasattr(self, "points_")

    @property
    def dim(self) -> int:
        """Dimension of the vectors the forest was fitted on."""
        self._check_fitted()
        return int(self.points_.shape[2])

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
        arr = _as_matrix(X, "RandomCutForest.fit")
        idx, uniforms = self._sample_indices(arr.shape[0])
        self._build(arr[idx], uniforms)
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
        series = self._as_series(values, "RandomCutForest.fit_series")
        windowing = Windowing(shingle_size)
        n_windows = windowing.n_windows(series.shape[0])
        idx, uniforms = self._sample_indices(n_windows)
        view = windowing.windows(series)  # (n_windows, size, n_features), no copy
        points = view[idx.ravel()].reshape(idx.shape[0], idx.shape[1], -1)
        self._build(points, uniforms)
        return self

    @staticmethod
    def _as_series(values: Any, what: str) -> np.ndarray:
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

    def _build(self, points: np.ndarray, uniforms: np.ndarray) -> None:
        from anomark.detectors.rcf import _kernels

        points = np.ascontiguousarray(points, dtype=np.float64)
        n_trees, m, d = points.shape
        n_slots = 2 * m - 1
        left = np.full((n_trees, n_slots), -1, dtype=np.int32)
        right = np.full((n_trees, n_slots), -1, dtype=np.int32)
        cut_dim = np.full((n_trees, n_slots), -1, dtype=np.int32)
        cut_value = np.zeros((n_trees, n_slots))
        mass = np.zeros((n_trees, n_slots), dtype=np.int32)
        leaf_point = np.full((n_trees, n_slots), -1, dtype=np.int32)
        lo = np.zeros((n_trees, n_slots, d))
        hi = np.zeros((n_trees, n_slots, d))
        range_sum = np.zeros((n_trees, n_slots))
        n_nodes = np.zeros(n_trees, dtype=np.int64)
        build = _kernels.build_forest_parallel if self._threads > 1 else _kernels.build_forest
        with _threads(self._threads):
            build(
                points, np.ascontiguousarray(uniforms), left, right, cut_dim, cut_value, mass,
                leaf_point, lo, hi, range_sum, n_nodes,
            )
        self.points_ = points
        self.left_, self.right_, self.cut_dim_ = left, right, cut_dim
        self.cut_value_, self.mass_, self.leaf_point_ = cut_value, mass, leaf_point
        self.lo_, self.hi_, self.range_sum_ = lo, hi, range_sum
        self.n_nodes_ = n_nodes

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError("this RandomCutForest is not fitted yet; call fit first")

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
        arr = _as_matrix(X, "RandomCutForest.score")
        if arr.shape[1] != self.dim:
            raise DataError(
                f"RandomCutForest.score: vectors have {arr.shape[1]} dimensions, the forest was "
                f"fitted on {self.dim}"
            )
        kind = self._check_score_type(score_type or self.score_type)
        if self.backend == "numpy":
            return self._score_numpy(arr, kind)
        return self._score_flat(arr.ravel(), arr.shape[0], arr.shape[1], kind)

    def score_series(
        self, values: Any, shingle_size: int, score_type: ScoreType | None = None
    ) -> np.ndarray:
        """Score every stride-1 shingle of a series, reading the windows in place.

        The compiled backend never materialises the shingled matrix (shingle ``i`` is the
        contiguous slice ``values[i : i + shingle_size].ravel()``); the numpy backend shingles
        batch by batch under 256 MB.

        Returns
        -------
        numpy.ndarray, shape (n_points - shingle_size + 1,)
            One score per window, in window order.
        """
        self._check_fitted()
        series = self._as_series(values, "RandomCutForest.score_series")
        windowing = Windowing(shingle_size)
        n_windows = windowing.n_windows(series.shape[0])
        if shingle_size * series.shape[1] != self.dim:
            raise DataError(
                f"RandomCutForest.score_series: shingles of {shingle_size} x "
                f"{series.shape[1]} features have {shingle_size * series.shape[1]} dimensions, "
                f"the forest was fitted on {self.dim}"
            )
        kind = self._check_score_type(score_type or self.score_type)
        if self.backend == "numpy":
            out = np.empty(n_windows)
            for start, batch in windowing.iter_shingles(series):
                out[start : start + batch.shape[0]] = self._score_numpy(batch, kind)
            return out
        return self._score_flat(series.ravel(), n_windows, series.shape[1], kind)

    def _score_flat(self, flat: np.ndarray, n_rows: int, row_stride: int, kind: str) -> np.ndarray:
        from anomark.detectors.rcf import _kernels

        out = np.zeros(n_rows)
        if kind == "codisp":
            kernel = _kernels.score_codisp_parallel if self._threads > 1 else _kernels.score_codisp
        else:
            kernel = (
                _kernels.score_anomaly_parallel if self._threads > 1 else _kernels.score_anomaly
            )
        # rows per work item: large enough to reuse each tree's cached nodes, small enough to
        # give every thread a few items
        chunk = int(min(4096, max(256, -(-n_rows // (4 * self._threads)))))
        with _threads(self._threads):
            kernel(
                flat, n_rows, row_stride, self.dim, self.left_, self.cut_dim_,
                self.cut_value_, self.mass_, self.lo_, self.hi_, self.range_sum_, chunk, out,
            )
        return out

    def _score_numpy(self, X: np.ndarray, kind: str) -> np.ndarray:
        from anomark.detectors.rcf._numpy import score_tree_numpy

        total = np.zeros(X.shape[0])
        for t in range(self.num_trees_fitted):
            total += score_tree_numpy(
                X, self.left_[t], self.right_[t], self.cut_dim_[t], self.cut_value_[t],
                self.mass_[t], self.lo_[t], self.hi_[t], self.range_sum_[t], kind == "codisp",
            )
        return total / self.num_trees_fitted

    @property
    def num_trees_fitted(self) -> int:
        """Number of fitted trees."""
        self._check_fitted()
        return int(self.points_.shape[0])

    # ------------------------------------------------------------------ persistence
    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fitted forest as plain numeric arrays (for ``.npz``; no pickle).

        Bounding boxes are not stored: :meth:`from_arrays` recomputes them exactly from the
        sampled points, so a reloaded forest gives identical scores.
        """
        self._check_fitted()
        return {
            "points": self.points_,
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
        backend: Backend = "numba",
    ) -> RandomCutForest:
        """Rebuild a forest written by :meth:`to_arrays`, validating every index.

        Raises
        ------
        PersistenceError
            Missing arrays, wrong shapes or dtypes, or indices that do not form valid trees.
        """
        from anomark.detectors.rcf import _kernels

        missing = [k for k in _ARRAYS if k not in arrays]
        if missing:
            raise PersistenceError(f"forest arrays are missing {missing}")
        a = {k: np.asarray(arrays[k]) for k in _ARRAYS}
        points = a["points"]
        if points.ndim != 3 or 0 in points.shape or points.dtype.kind != "f":
            raise PersistenceError("forest 'points' must be a (trees, samples, dim) float array")
        if not np.isfinite(points).all():
            raise PersistenceError("forest 'points' contains NaN or infinite values")
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
        left = a["left"].astype(np.int32)
        right = a["right"].astype(np.int32)
        cut_dim = a["cut_dim"].astype(np.int32)
        mass = a["mass"].astype(np.int32)
        leaf_point = a["leaf_point"].astype(np.int32)
        n_nodes = a["n_nodes"].astype(np.int64)
        cut_value = a["cut_value"].astype(np.float64)
        cls._validate_trees(left, right, cut_dim, mass, leaf_point, n_nodes, m, d)
        forest = cls(
            num_trees=n_trees,
            num_samples_per_tree=m,
            score_type=score_type,
            random_state=random_state,
            n_jobs=n_jobs,
            backend=backend,
        )
        lo = np.zeros((n_trees, shape[1], d))
        hi = np.zeros((n_trees, shape[1], d))
        range_sum = np.zeros(shape)
        points = np.ascontiguousarray(points, dtype=np.float64)
        boxes = (
            _kernels.boxes_from_leaves_parallel
            if forest._threads > 1
            else _kernels.boxes_from_leaves
        )
        with _threads(forest._threads):
            boxes(points, left, right, leaf_point, n_nodes, lo, hi, range_sum)
        forest.points_ = points
        forest.left_, forest.right_, forest.cut_dim_ = left, right, cut_dim
        forest.cut_value_, forest.mass_, forest.leaf_point_ = cut_value, mass, leaf_point
        forest.lo_, forest.hi_, forest.range_sum_ = lo, hi, range_sum
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
        return sum(
            int(v.nbytes)
            for v in (
                self.points_, self.left_, self.right_, self.cut_dim_, self.cut_value_,
                self.mass_, self.leaf_point_, self.lo_, self.hi_, self.range_sum_,
            )
        )

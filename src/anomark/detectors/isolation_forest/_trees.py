"""The Isolation Forest's trees as plain arrays, and their compiled (numba) traversal.

scikit-learn's trees are copied into numeric arrays (:class:`Forest`) once after ``fit``; every
score, before and after a save, is computed from them by one traversal that reproduces
scikit-learn's ``score_samples`` arithmetic (float32 inputs, per-tree path length + average path
length of the leaf, ``2 ** (-depth / c(max_samples))``). Saving stores only these arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from anomark.errors import DataError, PersistenceError

__all__ = ["FLOAT32_MAX", "TREE_ARRAYS", "Forest", "average_path_length"]

FLOAT32_MAX = float(np.finfo(np.float32).max)
TREE_ARRAYS = (
    "children_left",
    "children_right",
    "feature",
    "threshold",
    "n_node_samples",
    "node_depth",
    "tree_offsets",
)


def average_path_length(n: np.ndarray) -> np.ndarray:
    """Average path length of an unsuccessful BST search among ``n`` points (Liu et al., c(n)).

    The same arithmetic as scikit-learn's ``_average_path_length`` so scores agree exactly.
    """
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros(n.shape)
    big = n > 2
    out[n == 2] = 1.0
    nb = n[big]
    out[big] = 2.0 * (np.log(nb - 1.0) + np.euler_gamma) - 2.0 * (nb - 1.0) / nb
    return out


@dataclass(eq=False)
class Forest:
    """The fitted isolation trees as flat arrays (every tree's nodes concatenated).

    ``children_left``/``children_right``/``feature``/``threshold``/``n_node_samples`` are
    scikit-learn's ``tree_`` arrays (children indices local to their tree, ``-1`` for leaves),
    ``node_depth`` the depth of each node, ``tree_offsets[t]:tree_offsets[t+1]`` the nodes of
    tree ``t``; ``max_samples`` the sub-sample size each tree was grown on.
    """

    children_left: np.ndarray
    children_right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    n_node_samples: np.ndarray
    node_depth: np.ndarray
    tree_offsets: np.ndarray
    max_samples: int

    @property
    def n_trees(self) -> int:
        return int(self.tree_offsets.shape[0] - 1)

    @property
    def n_nodes(self) -> int:
        return int(self.children_left.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in TREE_ARRAYS}

    @classmethod
    def from_sklearn(cls, model: Any) -> Forest:
        """Copy the trees of a fitted :class:`sklearn.ensemble.IsolationForest`."""
        n_in = int(model.n_features_in_)
        parts: dict[str, list[np.ndarray]] = {k: [] for k in TREE_ARRAYS[:-1]}
        offsets = [0]
        for est, features in zip(model.estimators_, model.estimators_features_, strict=True):
            tree = est.tree_
            feature = np.asarray(tree.feature, dtype=np.int64)
            if len(features) != n_in:  # pragma: no cover - max_features is not exposed
                feature = np.where(feature >= 0, np.asarray(features)[feature], feature)
            parts["children_left"].append(np.asarray(tree.children_left, dtype=np.int64))
            parts["children_right"].append(np.asarray(tree.children_right, dtype=np.int64))
            parts["feature"].append(feature)
            parts["threshold"].append(np.asarray(tree.threshold, dtype=np.float64))
            parts["n_node_samples"].append(np.asarray(tree.n_node_samples, dtype=np.int64))
            parts["node_depth"].append(np.asarray(tree.compute_node_depths(), dtype=np.int64))
            offsets.append(offsets[-1] + int(tree.node_count))
        return cls(
            **{k: np.concatenate(v) for k, v in parts.items()},
            tree_offsets=np.asarray(offsets, dtype=np.int64),
            max_samples=int(model.max_samples_),
        )

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], max_samples: Any, n_inputs: int) -> Forest:
        """Rebuild from saved arrays, checking that they describe valid trees.

        Raises
        ------
        PersistenceError
            A missing array, a wrong dtype or shape, or node links that are not a forest.
        """
        missing = [k for k in TREE_ARRAYS if k not in arrays]
        if missing:
            raise PersistenceError(f"saved Isolation Forest lacks array(s) {missing}")
        if isinstance(max_samples, bool) or not isinstance(max_samples, int) or max_samples < 1:
            raise PersistenceError(f"max_samples_ must be a positive integer, got {max_samples!r}")
        out: dict[str, np.ndarray] = {}
        for name in TREE_ARRAYS:
            arr = arrays[name]
            kind = "f" if name == "threshold" else "i"
            if arr.ndim != 1 or arr.dtype.kind != kind:
                raise PersistenceError(
                    f"saved array {name!r} must be 1-D of kind {kind!r}, got {arr.dtype} "
                    f"with shape {arr.shape}"
                )
            out[name] = arr.astype(np.float64 if kind == "f" else np.int64)
        offsets = out["tree_offsets"]
        n_nodes = out["children_left"].shape[0]
        if any(out[k].shape[0] != n_nodes for k in TREE_ARRAYS[:-1]):
            raise PersistenceError("saved Isolation Forest arrays have different lengths")
        if (
            offsets.shape[0] < 2
            or offsets[0] != 0
            or offsets[-1] != n_nodes
            or np.any(np.diff(offsets) < 1)
        ):
            raise PersistenceError("saved Isolation Forest has invalid tree_offsets")
        left, right = out["children_left"], out["children_right"]
        local = np.arange(n_nodes) - np.repeat(offsets[:-1], np.diff(offsets))
        size = np.repeat(np.diff(offsets), np.diff(offsets))
        leaf = left == -1
        internal = ~leaf
        # Children come after their parent inside the same tree: traversal always ends.
        ok = (
            np.all((right == -1) == leaf)
            and np.all(left[internal] > local[internal])
            and np.all(right[internal] > local[internal])
            and np.all(left[internal] < size[internal])
            and np.all(right[internal] < size[internal])
            and np.all((out["feature"][internal] >= 0) & (out["feature"][internal] < n_inputs))
            and np.all(np.isfinite(out["threshold"]))
            and np.all(out["n_node_samples"] >= 1)
            and np.all(out["node_depth"] >= 0)
        )
        if not ok:
            raise PersistenceError("saved Isolation Forest arrays do not describe valid trees")
        return cls(**out, max_samples=max_samples)

    def __post_init__(self) -> None:
        offsets = self.tree_offsets
        leaf = self.children_left == -1
        shift = np.repeat(offsets[:-1], np.diff(offsets))
        # Leaf value: depth + c(n_node_samples) - 1, in scikit-learn's order of operations.
        contrib = self.node_depth.astype(np.float64) + average_path_length(self.n_node_samples)
        contrib -= 1.0
        self._roots = np.ascontiguousarray(offsets[:-1])
        self._left = np.where(leaf, -1, self.children_left + shift)
        self._right = np.where(leaf, -1, self.children_right + shift)
        self._feature = np.where(leaf, 0, self.feature)
        self._contrib = contrib
        self._n_inputs_min = int(self.feature[~leaf].max()) + 1 if (~leaf).any() else 0

    def score(self, x: np.ndarray) -> np.ndarray:
        """Isolation Forest anomaly score ``2 ** (-E[h(x)] / c(max_samples))`` per row of ``x``.

        Equals ``-IsolationForest.score_samples(x)`` bit for bit: ``x`` is rounded to float32
        as scikit-learn does, and each row's depths are summed in tree order.
        """
        x64 = np.ascontiguousarray(np.asarray(x, dtype=np.float32), dtype=np.float64)
        if x64.ndim != 2 or x64.shape[1] < self._n_inputs_min:
            raise DataError(  # the compiled traversal does no bounds checks: guard here
                f"Isolation Forest input must be 2-D with at least {self._n_inputs_min} "
                f"columns, got shape {x64.shape}"
            )
        depths = _depth_kernel()(
            x64,
            self._roots,
            self._left,
            self._right,
            self._feature,
            self.threshold,
            self._contrib,
        )
        denominator = self.n_trees * float(average_path_length(np.array([self.max_samples]))[0])
        if denominator == 0.0:  # one training window: scikit-learn defines the score as 1
            return np.ones(x64.shape[0])
        return np.asarray(2.0 ** (-(depths / denominator)), dtype=np.float64)


def _sum_depths(
    x: np.ndarray,
    roots: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    contrib: np.ndarray,
) -> np.ndarray:  # pragma: no cover - compiled by numba; exercised through _depth_kernel
    """Sum over trees of the leaf value reached by each row (compiled with numba)."""
    n = x.shape[0]
    out = np.zeros(n)
    for t in range(roots.shape[0]):  # tree by tree (its nodes stay in cache), like sklearn
        for i in range(n):
            node = roots[t]
            while left[node] >= 0:
                node = left[node] if x[i, feature[node]] <= threshold[node] else right[node]
            out[i] += contrib[node]
    return out


_KERNEL: Any = None


def _depth_kernel() -> Any:
    """The numba-compiled :func:`_sum_depths` (compiled once, cached on disk)."""
    global _KERNEL
    if _KERNEL is None:
        import numba

        _KERNEL = numba.njit(cache=True, nogil=True)(_sum_depths)
    return _KERNEL

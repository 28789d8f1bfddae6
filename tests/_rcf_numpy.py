"""Pure-numpy scoring of a fitted forest: the reference for the compiled kernels.

A test and benchmark helper, not part of the package (``tests/test_forest.py`` and
``tests/test_rcf_stream.py`` cross-check the numba kernels against it;
``benchmarks/bench_rcf.py`` measures what compiling buys).

All points of a batch descend a tree together, one level per step ("level-synchronous"):
each step gathers the current node of every still-active point and updates the scores with
array operations, so there is no per-point Python loop. The compiled kernels in
:mod:`anomark.detectors.rcf._kernels` do the same arithmetic one point at a time.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def score_forest_numpy(forest: Any, X: np.ndarray, codisp: bool = False) -> np.ndarray:
    """Mean score over the trees of ``forest`` (a RandomCutForest or StreamingForest) of the
    rows of ``X`` (n, dim)."""
    trees = forest.trees_
    total = np.zeros(X.shape[0])
    n_trees = trees.left.shape[0]
    for t in range(n_trees):
        left = trees.left[t]
        right = np.where(left >= 0, left + 1, -1)
        total += score_tree_numpy(
            X, left, right, trees.cut_dim[t], trees.cut_value[t], trees.mass[t], trees.lo[t],
            trees.hi[t], trees.range_sum[t], codisp,
        )
    return total / n_trees


def score_tree_numpy(
    x: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    cut_dim: np.ndarray,
    cut_value: np.ndarray,
    mass: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    range_sum: np.ndarray,
    codisp: bool,
) -> np.ndarray:
    """Score every row of ``x`` (n, d) against one tree; returns (n,) per-tree scores."""
    n = x.shape[0]
    node = np.zeros(n, dtype=np.int64)
    keep = np.ones(n)
    acc = np.zeros(n)
    ratio_new = np.zeros(n)
    ratio_seen = np.zeros(n)
    out = np.empty(n)
    active = np.arange(n)
    depth = 0
    tree_mass = float(mass[0])
    while active.size:
        nd = node[active]
        is_leaf = left[nd] < 0
        if is_leaf.any():
            rows = active[is_leaf]
            leaf = nd[is_leaf]
            xr = x[rows]
            grow = (np.maximum(lo[leaf] - xr, 0.0) + np.maximum(xr - hi[leaf], 0.0)).sum(axis=1)
            seen = (keep[rows] == 1.0) & (grow == 0.0)
            leaf_mass = mass[leaf].astype(np.float64)
            if codisp:
                unseen = acc[rows] + keep[rows] * np.maximum(leaf_mass, ratio_new[rows])
                out[rows] = np.where(seen, ratio_seen[rows], unseen)
            else:
                damp = 1.0 - leaf_mass / (2.0 * tree_mass)
                seen_score = damp / (depth + np.log2(leaf_mass + 1.0))
                unseen = acc[rows] + keep[rows] / (depth + 1.0)
                out[rows] = np.where(seen, seen_score, unseen) * np.log2(tree_mass + 1.0)
            active = active[~is_leaf]
            nd = nd[~is_leaf]
        if not active.size:
            break
        xa = x[active]
        grow = (np.maximum(lo[nd] - xa, 0.0) + np.maximum(xa - hi[nd], 0.0)).sum(axis=1)
        sep = grow > 0.0
        p = np.where(sep, grow / (range_sum[nd] + grow), 0.0)
        k = keep[active]
        if codisp:
            acc[active] += k * p * np.maximum(mass[nd].astype(np.float64), ratio_new[active])
        else:
            acc[active] += k * p / (depth + 1.0)
        keep[active] = k * (1.0 - p)
        go_left = xa[np.arange(active.size), cut_dim[nd]] <= cut_value[nd]
        child = np.where(go_left, left[nd], right[nd])
        if codisp:
            sib = np.where(go_left, right[nd], left[nd])
            m_sib = mass[sib].astype(np.float64)
            m_child = mass[child].astype(np.float64)
            ratio_new[active] = np.maximum(ratio_new[active], m_sib / (m_child + 1.0))
            ratio_seen[active] = np.maximum(ratio_seen[active], m_sib / m_child)
        node[active] = child
        depth += 1
    return out

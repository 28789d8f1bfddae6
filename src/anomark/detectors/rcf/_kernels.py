"""Compiled (numba) kernels of the Random Cut Forest: tree building, boxes and scoring.

Layout of a fitted forest (``T`` trees, ``m`` sampled points per tree, ``d`` dimensions,
``N = 2 m - 1`` node slots per tree; node ``0`` is the root and children always have larger
indices than their parent):

``left``, ``right`` : int32 (T, N)
    Children of an internal node, always ``right == left + 1`` (the compiled descent is
    branch-free: ``child = left + (x[cut_dim] > cut_value)``); ``-1`` marks a leaf or an
    unused slot.
``cut_dim`` : int32 (T, N), ``cut_value`` : float64 (T, N)
    The cut of an internal node: a point goes left when ``x[cut_dim] <= cut_value``.
``mass`` : int32 (T, N)
    Number of sampled points under the node (a leaf holding duplicates has mass > 1).
``leaf_point`` : int32 (T, N)
    For a leaf, the row of the tree's sample it holds; ``-1`` for internal nodes.
``lo``, ``hi`` : float64 (T, N, d), ``range_sum`` : float64 (T, N)
    Bounding box of the node's points and the sum of its side lengths (derived data,
    recomputed exactly from the leaves by :func:`boxes_from_leaves`).

Scoring walks each point from the root to a leaf once ("top-down") and accumulates the same
quantity as AWS's ``AnomalyScoreVisitor`` walking back from the leaf ("bottom-up"):
``score = sum_k P_k p_k / (depth_k + 1) + P_leaf * leaf_term`` where ``p_k`` is the probability
that a random cut of node ``k``'s box extended by the point separates the point, and ``P_k`` the
product of ``1 - p_j`` over the nodes above ``k``. Unrolling the visitor's recursion
``s <- p u + (1 - p) s`` gives exactly this sum.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit, prange

# Reassociation lets LLVM vectorise the per-dimension box distance (the hot loop); the
# compiled code is fixed, so results are still bit-for-bit reproducible on a machine.
_FAST = {"reassoc", "nsz", "contract"}
_GROUP = 4  # points descending a tree in lockstep (overlaps their memory latencies)


@njit(cache=True)
def _build_tree(
    points: np.ndarray,
    uniforms: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    cut_dim: np.ndarray,
    cut_value: np.ndarray,
    mass: np.ndarray,
    leaf_point: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    range_sum: np.ndarray,
) -> int:  # pragma: no cover - compiled
    m, d = points.shape
    order = np.arange(m)
    st_node = np.empty(m, dtype=np.int64)
    st_start = np.empty(m, dtype=np.int64)
    st_end = np.empty(m, dtype=np.int64)
    top = 0
    st_node[0] = 0
    st_start[0] = 0
    st_end[0] = m
    top = 1
    n_nodes = 1
    k = 0
    while top > 0:
        top -= 1
        node = st_node[top]
        s = st_start[top]
        e = st_end[top]
        first = order[s]
        for j in range(d):
            lo[node, j] = points[first, j]
            hi[node, j] = points[first, j]
        for i in range(s + 1, e):
            row = order[i]
            for j in range(d):
                v = points[row, j]
                if v < lo[node, j]:
                    lo[node, j] = v
                elif v > hi[node, j]:
                    hi[node, j] = v
        rs = 0.0
        for j in range(d):
            rs += hi[node, j] - lo[node, j]
        range_sum[node] = rs
        mass[node] = e - s
        if rs <= 0.0:  # all points identical: a leaf (mass > 1 for duplicates)
            left[node] = -1
            right[node] = -1
            leaf_point[node] = first
            continue
        # dimension with probability proportional to its range, value uniform in the range
        target = uniforms[k, 0] * rs
        acc = 0.0
        dim = -1
        for j in range(d):
            r = hi[node, j] - lo[node, j]
            if r > 0.0:
                dim = j
                acc += r
                if acc > target:
                    break
        c = lo[node, dim] + uniforms[k, 1] * (hi[node, dim] - lo[node, dim])
        if c >= hi[node, dim]:  # rounding: keep the largest point on the right
            c = lo[node, dim]
        k += 1
        i = s
        jj = e - 1
        while i <= jj:
            if points[order[i], dim] <= c:
                i += 1
            else:
                tmp = order[i]
                order[i] = order[jj]
                order[jj] = tmp
                jj -= 1
        cut_dim[node] = dim
        cut_value[node] = c
        leaf_point[node] = -1
        a = n_nodes
        b = n_nodes + 1
        n_nodes += 2
        left[node] = a
        right[node] = b
        st_node[top] = b
        st_start[top] = i
        st_end[top] = e
        top += 1
        st_node[top] = a
        st_start[top] = s
        st_end[top] = i
        top += 1
    return n_nodes


@njit(cache=True)
def _build_one(
    t: int,
    points: np.ndarray,
    uniforms: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    cut_dim: np.ndarray,
    cut_value: np.ndarray,
    mass: np.ndarray,
    leaf_point: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    range_sum: np.ndarray,
    n_nodes: np.ndarray,
) -> None:  # pragma: no cover - compiled
    n_nodes[t] = _build_tree(
        points[t], uniforms[t], left[t], right[t], cut_dim[t], cut_value[t], mass[t],
        leaf_point[t], lo[t], hi[t], range_sum[t],
    )


@njit(cache=True)
def build_forest(
    points: np.ndarray,
    uniforms: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    cut_dim: np.ndarray,
    cut_value: np.ndarray,
    mass: np.ndarray,
    leaf_point: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    range_sum: np.ndarray,
    n_nodes: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Build every tree into preallocated arrays (one thread)."""
    for t in range(points.shape[0]):
        _build_one(
            t, points, uniforms, left, right, cut_dim, cut_value, mass, leaf_point, lo, hi,
            range_sum, n_nodes,
        )


@njit(cache=True, parallel=True)
def build_forest_parallel(
    points: np.ndarray,
    uniforms: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    cut_dim: np.ndarray,
    cut_value: np.ndarray,
    mass: np.ndarray,
    leaf_point: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    range_sum: np.ndarray,
    n_nodes: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """:func:`build_forest` with the trees spread over numba's threads."""
    for t in prange(points.shape[0]):
        _build_one(
            t, points, uniforms, left, right, cut_dim, cut_value, mass, leaf_point, lo, hi,
            range_sum, n_nodes,
        )


@njit(cache=True)
def _boxes_one(
    t: int,
    points: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    leaf_point: np.ndarray,
    n_nodes: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    range_sum: np.ndarray,
) -> None:  # pragma: no cover - compiled
    d = points.shape[2]
    for node in range(n_nodes[t] - 1, -1, -1):
        a = left[t, node]
        if a < 0:
            p = leaf_point[t, node]
            for j in range(d):
                lo[t, node, j] = points[t, p, j]
                hi[t, node, j] = points[t, p, j]
        else:
            b = right[t, node]
            for j in range(d):
                lo[t, node, j] = min(lo[t, a, j], lo[t, b, j])
                hi[t, node, j] = max(hi[t, a, j], hi[t, b, j])
        rs = 0.0
        for j in range(d):
            rs += hi[t, node, j] - lo[t, node, j]
        range_sum[t, node] = rs


@njit(cache=True)
def boxes_from_leaves(
    points: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    leaf_point: np.ndarray,
    n_nodes: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    range_sum: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Recompute every node's bounding box from the leaves (children have larger indices)."""
    for t in range(points.shape[0]):
        _boxes_one(t, points, left, right, leaf_point, n_nodes, lo, hi, range_sum)


@njit(cache=True, parallel=True)
def boxes_from_leaves_parallel(
    points: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    leaf_point: np.ndarray,
    n_nodes: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    range_sum: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """:func:`boxes_from_leaves` with the trees spread over numba's threads."""
    for t in prange(points.shape[0]):
        _boxes_one(t, points, left, right, leaf_point, n_nodes, lo, hi, range_sum)


@njit(cache=True, fastmath=_FAST)
def _outside(
    flat: np.ndarray, off: Any, dim: int, lo: np.ndarray, hi: np.ndarray, node: Any
) -> float:  # pragma: no cover - compiled
    """How much node's box range sum grows when extended to the point ``flat[off:off+dim]``.

    ``off`` and ``node`` are unsigned: without negative-index wraparound the loads are plain
    vector loads (with signed ``off + j`` numba emits gathers, 2-3x slower).
    """
    s = 0.0
    for j in range(np.uint64(dim)):
        v = flat[off + j]
        s += max(lo[node, j] - v, 0.0) + max(v - hi[node, j], 0.0)
    return s


@njit(cache=True, fastmath=_FAST)
def _anomaly_group(
    flat: np.ndarray,
    g0: int,
    gn: int,
    row_stride: int,
    dim: int,
    left: np.ndarray,
    cut_dim: np.ndarray,
    cut_value: np.ndarray,
    mass: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    range_sum: np.ndarray,
    out: np.ndarray,
    node: np.ndarray,
    keep: np.ndarray,
    acc: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Add the AWS anomaly score in one tree of rows ``g0 .. g0+gn-1`` to ``out``.

    The rows descend in lockstep, one level per sweep, so the CPU overlaps their independent
    chains of dependent loads. ``keep`` is the probability that no cut above separated the
    point, ``acc`` the score accumulated top-down. The right child of an internal node is
    always ``left + 1``, so the descent is branch-free; a node whose box holds the point has
    ``p = 0`` and changes nothing.
    """
    tree_mass = float(mass[0])
    scale = math.log2(tree_mass + 1.0)
    for k in range(gn):
        node[k] = 0
        keep[k] = 1.0
        acc[k] = 0.0
    remaining = gn
    depth = 0
    while remaining > 0:
        for k in range(gn):
            if node[k] < 0:
                continue
            nd = np.uint64(node[k])  # unsigned: no negative-index wraparound code
            off = np.uint64((g0 + k) * row_stride)
            grow = _outside(flat, off, dim, lo, hi, nd)
            if left[nd] < 0:
                if keep[k] == 1.0 and grow == 0.0:
                    # the point is in the tree's sample: AWS's "seen" score, damped
                    leaf_mass = float(mass[nd])
                    damp = 1.0 - leaf_mass / (2.0 * tree_mass)
                    value = damp / (depth + math.log2(leaf_mass + 1.0))
                else:
                    value = acc[k] + keep[k] / (depth + 1.0)
                out[g0 + k] += scale * value
                node[k] = -1
                remaining -= 1
                continue
            p = grow / (range_sum[nd] + grow)
            acc[k] += keep[k] * p / (depth + 1.0)
            keep[k] *= 1.0 - p
            node[k] = left[nd] + (flat[off + np.uint64(cut_dim[nd])] > cut_value[nd])
        depth += 1


@njit(cache=True, fastmath=_FAST)
def _codisp_group(
    flat: np.ndarray,
    g0: int,
    gn: int,
    row_stride: int,
    dim: int,
    left: np.ndarray,
    cut_dim: np.ndarray,
    cut_value: np.ndarray,
    mass: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    range_sum: np.ndarray,
    out: np.ndarray,
    node: np.ndarray,
    keep: np.ndarray,
    acc: np.ndarray,
    ratio_new: np.ndarray,
    ratio_seen: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Add the expected collusive displacement in one tree of rows ``g0 .. g0+gn-1`` to ``out``.

    ``ratio_new`` is the largest ``|sibling| / (|subtree| + 1)`` above (the point inserted
    below), ``ratio_seen`` the largest ``|sibling| / |subtree|`` (the point already in the tree).
    """
    for k in range(gn):
        node[k] = 0
        keep[k] = 1.0
        acc[k] = 0.0
        ratio_new[k] = 0.0
        ratio_seen[k] = 0.0
    remaining = gn
    while remaining > 0:
        for k in range(gn):
            if node[k] < 0:
                continue
            nd = np.uint64(node[k])  # unsigned: no negative-index wraparound code
            off = np.uint64((g0 + k) * row_stride)
            grow = _outside(flat, off, dim, lo, hi, nd)
            if left[nd] < 0:
                if keep[k] == 1.0 and grow == 0.0:
                    out[g0 + k] += ratio_seen[k]
                else:
                    out[g0 + k] += acc[k] + keep[k] * max(float(mass[nd]), ratio_new[k])
                node[k] = -1
                remaining -= 1
                continue
            p = grow / (range_sum[nd] + grow)
            acc[k] += keep[k] * p * max(float(mass[nd]), ratio_new[k])
            keep[k] *= 1.0 - p
            go_right = flat[off + np.uint64(cut_dim[nd])] > cut_value[nd]
            child = left[nd] + go_right
            sib = left[nd] + 1 - go_right
            ratio_new[k] = max(ratio_new[k], mass[sib] / (mass[child] + 1.0))
            ratio_seen[k] = max(ratio_seen[k], mass[sib] / float(mass[child]))
            node[k] = child


@njit(cache=True, fastmath=_FAST)
def _anomaly_chunk(
    c: int,
    flat: np.ndarray,
    n_rows: int,
    row_stride: int,
    dim: int,
    left: np.ndarray,
    cut_dim: np.ndarray,
    cut_value: np.ndarray,
    mass: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    range_sum: np.ndarray,
    chunk: int,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    n_trees = left.shape[0]
    r0 = c * chunk
    r1 = min(n_rows, r0 + chunk)
    node = np.empty(_GROUP, dtype=np.int64)
    keep = np.empty(_GROUP)
    acc = np.empty(_GROUP)
    for r in range(r0, r1):
        out[r] = 0.0
    for t in range(n_trees):
        for g0 in range(r0, r1, _GROUP):
            _anomaly_group(
                flat, g0, min(_GROUP, r1 - g0), row_stride, dim, left[t], cut_dim[t],
                cut_value[t], mass[t], lo[t], hi[t], range_sum[t], out, node, keep, acc,
            )
    for r in range(r0, r1):
        out[r] /= n_trees


@njit(cache=True, fastmath=_FAST)
def _codisp_chunk(
    c: int,
    flat: np.ndarray,
    n_rows: int,
    row_stride: int,
    dim: int,
    left: np.ndarray,
    cut_dim: np.ndarray,
    cut_value: np.ndarray,
    mass: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    range_sum: np.ndarray,
    chunk: int,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    n_trees = left.shape[0]
    r0 = c * chunk
    r1 = min(n_rows, r0 + chunk)
    node = np.empty(_GROUP, dtype=np.int64)
    keep = np.empty(_GROUP)
    acc = np.empty(_GROUP)
    ratio_new = np.empty(_GROUP)
    ratio_seen = np.empty(_GROUP)
    for r in range(r0, r1):
        out[r] = 0.0
    for t in range(n_trees):
        for g0 in range(r0, r1, _GROUP):
            _codisp_group(
                flat, g0, min(_GROUP, r1 - g0), row_stride, dim, left[t], cut_dim[t],
                cut_value[t], mass[t], lo[t], hi[t], range_sum[t], out, node, keep, acc,
                ratio_new, ratio_seen,
            )
    for r in range(r0, r1):
        out[r] /= n_trees


@njit(cache=True)
def score_anomaly(
    flat: np.ndarray,
    n_rows: int,
    row_stride: int,
    dim: int,
    left: np.ndarray,
    cut_dim: np.ndarray,
    cut_value: np.ndarray,
    mass: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    range_sum: np.ndarray,
    chunk: int,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Mean anomaly score over trees of rows ``flat[r*row_stride : r*row_stride + dim]``.

    With ``row_stride == dim`` the rows are a C-contiguous shingle matrix; with
    ``row_stride == n_features`` they are the stride-1 shingles of a C-contiguous series,
    read in place (no shingled copy is ever made). Rows are taken in chunks of ``chunk``
    scored tree by tree (the visited part of a tree stays in cache), and each row's sum over
    trees is in tree order, so the result does not depend on the chunking or on threads.
    """
    for c in range((n_rows + chunk - 1) // chunk):
        _anomaly_chunk(
            c, flat, n_rows, row_stride, dim, left, cut_dim, cut_value, mass, lo, hi, range_sum,
            chunk, out,
        )


@njit(cache=True, parallel=True)
def score_anomaly_parallel(
    flat: np.ndarray,
    n_rows: int,
    row_stride: int,
    dim: int,
    left: np.ndarray,
    cut_dim: np.ndarray,
    cut_value: np.ndarray,
    mass: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    range_sum: np.ndarray,
    chunk: int,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """:func:`score_anomaly` with the chunks spread over numba's threads."""
    for c in prange((n_rows + chunk - 1) // chunk):
        _anomaly_chunk(
            c, flat, n_rows, row_stride, dim, left, cut_dim, cut_value, mass, lo, hi, range_sum,
            chunk, out,
        )


@njit(cache=True)
def score_codisp(
    flat: np.ndarray,
    n_rows: int,
    row_stride: int,
    dim: int,
    left: np.ndarray,
    cut_dim: np.ndarray,
    cut_value: np.ndarray,
    mass: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    range_sum: np.ndarray,
    chunk: int,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Mean collusive displacement over trees; same layout as :func:`score_anomaly`."""
    for c in range((n_rows + chunk - 1) // chunk):
        _codisp_chunk(
            c, flat, n_rows, row_stride, dim, left, cut_dim, cut_value, mass, lo, hi, range_sum,
            chunk, out,
        )


@njit(cache=True, parallel=True)
def score_codisp_parallel(
    flat: np.ndarray,
    n_rows: int,
    row_stride: int,
    dim: int,
    left: np.ndarray,
    cut_dim: np.ndarray,
    cut_value: np.ndarray,
    mass: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    range_sum: np.ndarray,
    chunk: int,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """:func:`score_codisp` with the chunks spread over numba's threads."""
    for c in prange((n_rows + chunk - 1) // chunk):
        _codisp_chunk(
            c, flat, n_rows, row_stride, dim, left, cut_dim, cut_value, mass, lo, hi, range_sum,
            chunk, out,
        )

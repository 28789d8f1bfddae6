"""Compiled (numba) kernels of the Random Cut Forest: tree building, boxes and scoring.

Layout of a forest (``T`` trees, ``m`` sampled points per tree, ``d`` dimensions,
``N = 2 m - 1`` node slots per tree; node ``0`` is the root), held in one :class:`Trees`:

``left`` : int32 (T, N)
    Left child of an internal node; the right child is always ``left + 1`` (the compiled
    descent is branch-free: ``child = left + (x[cut_dim] > cut_value)``), so children come in
    pairs of slots ``(2k + 1, 2k + 2)``. ``-1`` marks a leaf or an unused slot.
``cut_dim`` : int32 (T, N), ``cut_value`` : float64 (T, N)
    The cut of an internal node: a point goes left when ``x[cut_dim] <= cut_value``.
``mass`` : int32 (T, N)
    Number of sampled points under the node (a leaf holding duplicates has mass > 1).
``leaf_point`` : int32 (T, N)
    For a leaf, the row of the tree's sample it holds; ``-1`` for internal nodes.
``lo``, ``hi`` : float64 (T, N, d), ``range_sum`` : float64 (T, N)
    Bounding box of the node's points and the sum of its side lengths (derived data,
    recomputed exactly from the leaves by :func:`boxes_from_leaves`).

The batch builder fills the slots in creation order (children after their parent); the
streaming engine (:mod:`anomark.detectors.rcf._stream_kernels`) reuses freed pairs, so no
kernel here assumes an order beyond "root at 0, right = left + 1".

Scoring walks each point from the root to a leaf once ("top-down") and accumulates the same
quantity as AWS's ``AnomalyScoreVisitor`` walking back from the leaf ("bottom-up"):
``score = sum_k P_k p_k / (depth_k + 1) + P_leaf * leaf_term`` where ``p_k`` is the probability
that a random cut of node ``k``'s box extended by the point separates the point, and ``P_k`` the
product of ``1 - p_j`` over the nodes above ``k``. Unrolling the visitor's recursion
``s <- p u + (1 - p) s`` gives exactly this sum. :func:`attribute_group` splits every ``p_k``
over the dimensions (and the two sides) as AWS's ``AnomalyAttributionVisitor`` does, so a
point's per-dimension attribution sums to its score.

Each kernel that can use several threads is one Python function compiled twice by
:func:`_twins`: serially (``prange`` is then a plain ``range``, and numba's thread pool is
never started, so forking afterwards stays safe) and with ``parallel=True``.
"""

from __future__ import annotations

import math
import os
import types
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numba import njit, prange
from numba.extending import overload

# Reassociation lets LLVM vectorise the per-dimension box distance (the hot loop); one
# compiled build gives bit-for-bit reproducible results (batch forests also across fresh and
# cached builds, checked; streams see the note in _stream_kernels).
_FAST = {"reassoc", "nsz", "contract"}
# Helpers called in the hot loops are compiled without numba's reference counting: passing
# the node arrays to a compiled function otherwise costs an atomic increment and decrement per
# array per call, which took about a fifth of the streaming kernel's time (measured with
# perf). They allocate nothing and keep no array beyond the call, so the arrays they receive
# can be borrowed (``_nrt=False`` is numba's option to compile without its runtime).
_BORROWED: dict[str, Any] = {"_nrt": False}
# The scoring walks divide at every level (p = grow / (R + grow), and by depth + 1): with
# numba's default ("python") error model each division also tests its divisor against zero
# to raise ZeroDivisionError. The divisors are never zero in a valid tree (an internal node's
# box has a side, depths count from 1), so the walks use error_model="numpy" (IEEE results,
# no test): NYC online scoring 4-5 % faster, scores bit-identical.
_GROUP = 4  # points descending a tree in lockstep (overlaps their memory latencies)


class Trees(NamedTuple):
    """The node arrays of a forest (``(T, N)`` / ``(T, N, d)``) or of one tree (one axis less)."""

    left: np.ndarray
    cut_dim: np.ndarray
    cut_value: np.ndarray
    mass: np.ndarray
    leaf_point: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    range_sum: np.ndarray


_LINE = 64  # bytes in a cache line


def aligned_zeros(shape: tuple[int, ...], dtype: Any = np.float64) -> np.ndarray:
    """A C-contiguous array of zeros (float64, or ``dtype``) whose data starts on a cache line.

    NumPy's large arrays start 16 bytes past a page boundary (the allocator's header), so a
    box or point of 48 values (six cache lines) straddled seven, and every 64-byte vector
    load of the distance loops was split over two lines: aligning the boxes and the sampled
    points took 8-10 % off the streaming kernel's time on NYC taxi (about 4 % end to end; the
    same scores bit for bit). Rows stay aligned when their size is a multiple of 64 bytes.
    """
    dtype = np.dtype(dtype)
    n = math.prod(shape)
    buf = np.zeros(n + _LINE // dtype.itemsize, dtype=dtype)
    start = (-buf.ctypes.data % _LINE) // dtype.itemsize
    return buf[start : start + n].reshape(shape)


def as_aligned(values: np.ndarray, dtype: Any = np.float64) -> np.ndarray:
    """``values`` as ``dtype`` (float64 by default) in a C-contiguous array starting on a
    cache line (a copy unless it already is one)."""
    dtype = np.dtype(dtype)
    if (
        values.dtype == dtype
        and values.flags.c_contiguous
        and values.ctypes.data % _LINE == 0
    ):
        return values
    out = aligned_zeros(values.shape, dtype)
    out[...] = values
    return out


def available_memory() -> int | None:
    """Bytes of memory this machine can give a new allocation without swapping (Linux's
    ``MemAvailable``, else the free physical pages), or ``None`` where it cannot tell."""
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def forest_bytes(n_trees: int, n_samples: int, dim: int, itemsize: int = 8) -> int:
    """Bytes a forest's arrays take: per tree ``2 n_samples - 1`` nodes with a box of
    ``2 dim`` values and their cut, mass and links, and the ``n_samples`` sampled points
    (the streaming engine's sampler state included); ``itemsize`` is the bytes per value of
    the points, boxes and cuts (8 for float64, 4 for float32)."""
    per_node = (2 * dim + 1) * itemsize + 8 + 4 * 4  # lo, hi, cut_value; range_sum; 4 int32
    per_point = dim * itemsize + 8 + 8 + 4 + 4  # the point; arrival, weight; heap, free pair
    return n_trees * ((2 * n_samples - 1) * per_node + n_samples * per_point)


def check_forest_memory(
    n_trees: int, n_samples: int, dim: int, where: str, elsewhere: str = "", itemsize: int = 8
) -> None:
    """Refuse a forest that cannot fit in the memory available now, before allocating it
    (NumPy would fail on the first array too large to reserve, or the operating system stop
    the process once the boxes fill up). ``elsewhere`` ends the list of remedies (", or
    sagemaker=" where the caller has one); ``itemsize`` as in :func:`forest_bytes`.

    Raises
    ------
    ConfigurationError
        The forest needs more than :func:`available_memory`.
    """
    need = forest_bytes(n_trees, n_samples, dim, itemsize)
    have = available_memory()
    if have is not None and need > have:
        from anomark.errors import ConfigurationError

        gib = 1024.0**3
        single = ", or dtype='float32' (about half the memory)" if itemsize > 4 else ""
        raise ConfigurationError(
            f"{where}: a forest of {n_trees} trees x {n_samples} samples of dimension {dim} "
            f"needs {need / gib:.1f} GiB (each of its {2 * n_samples - 1} nodes per tree holds "
            f"a box of 2 x {dim} values), more than the {have / gib:.1f} GiB available; use "
            f"fewer trees or samples, or a shorter shingle or fewer columns{single}{elsewhere}"
        )


def empty_trees(n_trees: int, n_slots: int, dim: int, dtype: Any = np.float64) -> Trees:
    """Node arrays of ``n_trees`` trees with ``n_slots`` unused slots each (boxes aligned on
    cache lines, see :func:`aligned_zeros`); boxes and cut values in ``dtype``, side sums in
    float64 (as AWS's ``BoundingBox``)."""
    return Trees(
        left=np.full((n_trees, n_slots), -1, dtype=np.int32),
        cut_dim=np.full((n_trees, n_slots), -1, dtype=np.int32),
        cut_value=np.zeros((n_trees, n_slots), dtype=dtype),
        mass=np.zeros((n_trees, n_slots), dtype=np.int32),
        leaf_point=np.full((n_trees, n_slots), -1, dtype=np.int32),
        lo=aligned_zeros((n_trees, n_slots, dim), dtype),
        hi=aligned_zeros((n_trees, n_slots, dim), dtype),
        range_sum=np.zeros((n_trees, n_slots)),
    )


def _twins(py_func: Callable[..., Any], **options: Any) -> tuple[Any, Any]:
    """Compile ``py_func`` twice: serially and with ``parallel=True`` (``prange`` loops spread
    over numba's threads).

    Numba's on-disk cache names its files after the function's qualified name and keys them
    by signature and bytecode, not by the compile options, so the same function object
    compiled twice would share (and overwrite) one cache entry: the parallel twin is a copy
    of the function under the name ``<name>_parallel``.
    """
    serial = njit(cache=True, **options)(py_func)
    clone = types.FunctionType(
        py_func.__code__, py_func.__globals__, py_func.__name__ + "_parallel",
        py_func.__defaults__, py_func.__closure__,
    )
    clone.__qualname__ = py_func.__qualname__ + "_parallel"
    clone.__doc__ = py_func.__doc__
    parallel = njit(cache=True, parallel=True, **options)(clone)
    return serial, parallel


@njit(cache=True)
def tree_of(trees: Trees, t: int) -> Trees:  # pragma: no cover - compiled
    """The arrays of tree ``t`` (views, no copy)."""
    return Trees(
        trees.left[t], trees.cut_dim[t], trees.cut_value[t], trees.mass[t],
        trees.leaf_point[t], trees.lo[t], trees.hi[t], trees.range_sum[t],
    )


@njit(cache=True)
def range_sum_of(lo: np.ndarray, hi: np.ndarray, node: int) -> float:  # pragma: no cover
    """Sum of the sides of ``node``'s box, always in dimension order (no reassociation), so
    that boxes maintained incrementally and boxes recomputed from the leaves agree bit for
    bit. Sides are taken in float64 (exact for float32 boxes)."""
    rs = 0.0
    for j in range(lo.shape[1]):
        rs += float(hi[node, j]) - float(lo[node, j])
    return rs


# ---------------------------------------------------------------------- building
@njit(cache=True)
def _build_tree(
    points: np.ndarray, uniforms: np.ndarray, tree: Trees
) -> int:  # pragma: no cover - compiled
    m, d = points.shape
    left, cut_dim, cut_value, mass = tree.left, tree.cut_dim, tree.cut_value, tree.mass
    leaf_point, lo, hi, range_sum = tree.leaf_point, tree.lo, tree.hi, tree.range_sum
    order = np.arange(m)
    st_node = np.empty(m, dtype=np.int64)
    st_start = np.empty(m, dtype=np.int64)
    st_end = np.empty(m, dtype=np.int64)
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
        rs = range_sum_of(lo, hi, node)
        range_sum[node] = rs
        mass[node] = e - s
        if rs <= 0.0:  # all points identical: a leaf (mass > 1 for duplicates)
            left[node] = -1
            leaf_point[node] = first
            continue
        # dimension with probability proportional to its range, value uniform in the range
        target = uniforms[k, 0] * rs
        acc = 0.0
        dim = -1
        for j in range(d):
            r = float(hi[node, j]) - float(lo[node, j])
            if r > 0.0:
                dim = j
                acc += r
                if acc > target:
                    break
        c = lo.dtype.type(lo[node, dim] + uniforms[k, 1] * (hi[node, dim] - lo[node, dim]))
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
        n_nodes += 2
        left[node] = a
        st_node[top] = a + 1
        st_start[top] = i
        st_end[top] = e
        top += 1
        st_node[top] = a
        st_start[top] = s
        st_end[top] = i
        top += 1
    return n_nodes


def _build_forest_py(
    points: np.ndarray, uniforms: np.ndarray, trees: Trees, n_nodes: np.ndarray
) -> None:  # pragma: no cover - compiled
    """Build every tree into preallocated arrays (``prange``: one tree per work item)."""
    for t in prange(points.shape[0]):
        n_nodes[t] = _build_tree(points[t], uniforms[t], tree_of(trees, t))


build_forest, build_forest_parallel = _twins(_build_forest_py)


@njit(cache=True)
def boxes_of_tree(points: np.ndarray, tree: Trees) -> int:  # pragma: no cover - compiled
    """Recompute the boxes of one tree from its leaves; return the number of nodes reached.

    Nodes are listed root first by a depth-first walk, then filled in the reverse order, so
    children are always done before their parent whatever slots they occupy.
    """
    left, leaf_point, lo, hi = tree.left, tree.leaf_point, tree.lo, tree.hi
    n_slots = left.shape[0]
    d = points.shape[1]
    if tree.mass[0] == 0:
        return 0
    order = np.empty(n_slots, dtype=np.int64)
    stack = np.empty(n_slots, dtype=np.int64)
    stack[0] = 0
    top = 1
    n = 0
    while top > 0:
        top -= 1
        node = stack[top]
        order[n] = node
        n += 1
        a = left[node]
        if a >= 0:
            stack[top] = a
            stack[top + 1] = a + 1
            top += 2
    for i in range(n - 1, -1, -1):
        node = order[i]
        a = left[node]
        if a < 0:
            p = leaf_point[node]
            for j in range(d):
                lo[node, j] = points[p, j]
                hi[node, j] = points[p, j]
        else:
            for j in range(d):
                lo[node, j] = min(lo[a, j], lo[a + 1, j])
                hi[node, j] = max(hi[a, j], hi[a + 1, j])
        tree.range_sum[node] = range_sum_of(lo, hi, node)
    return n


def _boxes_from_leaves_py(points: np.ndarray, trees: Trees) -> None:  # pragma: no cover
    """Recompute every node's bounding box from the leaves (``prange`` over trees)."""
    for t in prange(points.shape[0]):
        boxes_of_tree(points[t], tree_of(trees, t))


boxes_from_leaves, boxes_from_leaves_parallel = _twins(_boxes_from_leaves_py)


# ---------------------------------------------------------------------- scoring
def _lanes(values: np.ndarray) -> int:
    """Values of ``values``' dtype in one 64-byte vector (a compile-time constant)."""
    return 64 // values.itemsize


@overload(_lanes)
def _lanes_compiled(values: Any) -> Callable[[np.ndarray], int]:
    lanes = 64 // (values.dtype.bitwidth // 8)

    def impl(values: Any) -> int:  # the typing function's parameters, annotations included
        return lanes

    return impl


@njit(cache=True, inline="always", **_BORROWED)
def _vector_parts(n: int, values: np.ndarray) -> tuple[Any, Any, Any]:  # pragma: no cover
    """Split a loop over ``n`` values of ``values``' dtype into three parts, as counts
    ``(a, b, c)`` of values ``[0, a)``, ``[a, a + b)``, ``[a + b, n)``: whole groups of four
    64-byte vectors, then at most three vectors, then less than one.

    LLVM vectorises a loop of unknown length four vectors at a time and leaves the rest to
    a narrower loop with one long chain of dependent additions (for 48 float64 values: one
    step of 32, then four of 4). Looping over the parts separately, each with a length
    whose bound LLVM can read from the masks, gives whole vectors for the middle part too
    (NYC taxi online, 48 values: float64 scoring 12 % faster, 6-7 % end to end; float32,
    already whole vectors of 8, unchanged). Splitting the box updates of the streaming
    kernel the same way made learning slower. Unsigned, like the offsets of :func:`_outside`.
    """
    lanes = np.uint64(_lanes(values))
    m = np.uint64(n)
    a = m & ~(np.uint64(4) * lanes - np.uint64(1))
    b = (m - a) & ~(lanes - np.uint64(1))
    return a, b, m - a - b


@njit(cache=True, fastmath=_FAST, inline="always", **_BORROWED)
def _outside_part(
    flat: np.ndarray, off: Any, lo: np.ndarray, hi: np.ndarray, node: Any, start: Any,
    count: Any,
) -> Any:  # pragma: no cover - compiled
    z = lo.dtype.type(0)
    s = z
    for i in range(count):
        j = start + i
        v = flat[off + j]
        s += max(lo[node, j] - v, v - hi[node, j], z)
    return s


@njit(cache=True, fastmath=_FAST, **_BORROWED)
def _outside(
    flat: np.ndarray, off: Any, dim: int, lo: np.ndarray, hi: np.ndarray, node: Any
) -> float:  # pragma: no cover - compiled
    """How much node's box range sum grows when extended to the point ``flat[off:off+dim]``.

    ``off`` and ``node`` are unsigned: without negative-index wraparound the loads are plain
    vector loads (with signed ``off + j`` numba emits gathers, 2-3x slower). A value lies
    below the box or above it, never both, so ``max(lo - v, v - hi, 0)`` equals
    ``max(lo - v, 0) + max(v - hi, 0)`` exactly, with one operation less per value (the
    distance loop is bound by arithmetic: 14 % faster). The sum is in the boxes' precision
    (float32 boxes: twice the values per vector instruction), returned as a float64, and
    taken in the three parts of :func:`_vector_parts`.
    """
    a, b, c = _vector_parts(dim, lo)
    s = _outside_part(flat, off, lo, hi, node, np.uint64(0), a)
    s += _outside_part(flat, off, lo, hi, node, a, b)
    s += _outside_part(flat, off, lo, hi, node, a + b, c)
    return float(s)


@njit(cache=True, fastmath=_FAST, error_model="numpy", **_BORROWED)
def anomaly_group(
    flat: np.ndarray,
    g0: int,
    gn: int,
    row_stride: int,
    dim: int,
    tree: Trees,
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
    left, cut_dim, cut_value, mass = tree.left, tree.cut_dim, tree.cut_value, tree.mass
    lo, hi, range_sum = tree.lo, tree.hi, tree.range_sum
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
            if left[nd] < 0:
                # a leaf's box is its point: the distance matters only when no box above
                # separated the shingle (keep == 1), to tell a sampled point from a new one
                if keep[k] == 1.0 and _outside(flat, off, dim, lo, hi, nd) == 0.0:
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
            grow = _outside(flat, off, dim, lo, hi, nd)
            p = grow / (range_sum[nd] + grow)
            acc[k] += keep[k] * p / (depth + 1.0)
            keep[k] *= 1.0 - p
            node[k] = left[nd] + (flat[off + np.uint64(cut_dim[nd])] > cut_value[nd])
        depth += 1


@njit(cache=True, fastmath=_FAST, error_model="numpy", **_BORROWED)
def codisp_group(
    flat: np.ndarray,
    g0: int,
    gn: int,
    row_stride: int,
    dim: int,
    tree: Trees,
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
    left, cut_dim, cut_value, mass = tree.left, tree.cut_dim, tree.cut_value, tree.mass
    lo, hi, range_sum = tree.lo, tree.hi, tree.range_sum
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
            if left[nd] < 0:  # the leaf's distance: as in anomaly_group
                if keep[k] == 1.0 and _outside(flat, off, dim, lo, hi, nd) == 0.0:
                    out[g0 + k] += ratio_seen[k]
                else:
                    out[g0 + k] += acc[k] + keep[k] * max(float(mass[nd]), ratio_new[k])
                node[k] = -1
                remaining -= 1
                continue
            grow = _outside(flat, off, dim, lo, hi, nd)
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
def _score_chunk(
    c: int,
    flat: np.ndarray,
    n_rows: int,
    row_stride: int,
    dim: int,
    trees: Trees,
    codisp: bool,
    chunk: int,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    n_trees = trees.left.shape[0]
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
        tree = tree_of(trees, t)
        for g0 in range(r0, r1, _GROUP):
            gn = min(_GROUP, r1 - g0)
            if codisp:
                codisp_group(
                    flat, g0, gn, row_stride, dim, tree, out, node, keep, acc, ratio_new,
                    ratio_seen,
                )
            else:
                anomaly_group(flat, g0, gn, row_stride, dim, tree, out, node, keep, acc)
    for r in range(r0, r1):
        out[r] /= n_trees


def _score_rows_py(
    flat: np.ndarray,
    n_rows: int,
    row_stride: int,
    dim: int,
    trees: Trees,
    codisp: bool,
    chunk: int,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Mean score over trees (AWS's anomaly score, or the collusive displacement) of rows
    ``flat[r*row_stride : r*row_stride + dim]``.

    With ``row_stride == dim`` the rows are a C-contiguous shingle matrix; with
    ``row_stride == n_features`` they are the stride-1 shingles of a C-contiguous series,
    read in place (no shingled copy is ever made). Rows are taken in chunks of ``chunk``
    (one ``prange`` work item each) scored tree by tree (the visited part of a tree stays in
    cache), and each row's sum over trees is in tree order, so the result does not depend on
    the chunking or on threads.
    """
    for c in prange((n_rows + chunk - 1) // chunk):
        _score_chunk(c, flat, n_rows, row_stride, dim, trees, codisp, chunk, out)


score_rows, score_rows_parallel = _twins(_score_rows_py)


# ---------------------------------------------------------------------- attribution
@njit(cache=True, fastmath=_FAST, **_BORROWED)
def _split_outside(
    flat: np.ndarray, off: Any, dim: int, lo: np.ndarray, hi: np.ndarray, node: Any, w: float,
    attr: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """``attr[j] += w * (how far flat[off + j] lies outside node's box along j)``, for every
    ``j`` (unsigned offsets, as in :func:`_outside`: plain vector loads)."""
    z = lo.dtype.type(0)
    for j in range(np.uint64(dim)):
        v = flat[off + j]
        attr[j] += w * float(max(lo[node, j] - v, v - hi[node, j], z))


@njit(cache=True, error_model="numpy", **_BORROWED)
def attribute_group(
    flat: np.ndarray,
    offsets: np.ndarray,
    g0: int,
    gn: int,
    dim: int,
    tree: Trees,
    out: np.ndarray,
    attr: np.ndarray,
    node: np.ndarray,
    keep: np.ndarray,
    acc: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """AWS's anomaly score in one tree of the points ``flat[offsets[i] : offsets[i] + dim]``,
    ``i = g0 .. g0+gn-1``, added to ``out[i]``, and its split over the dimensions, added to
    ``attr[i]``.

    ``attr[i, j]`` receives the part of the tree's score due to dimension ``j`` (both sides
    of the box summed, as ``DiVector.getHighLowSum``); the parts sum to the score. Each
    ``p_k`` is split in proportion to how far the point lies outside the box along each
    dimension; at a leaf the point does not equal, the leaf term is split the same way; a
    point in the tree's sample (a "seen" leaf) spreads its score evenly, as AWS's
    ``DiVector.normalize`` does when nothing separated the point. The points descend in
    lockstep, and the scores are computed as :func:`anomaly_group` computes them (equal up to
    the last bits of the distance sums, which LLVM may reassociate differently in the two
    compiled functions: the streaming kernel takes its scores from :func:`anomaly_group`).
    """
    left, cut_dim, cut_value, mass = tree.left, tree.cut_dim, tree.cut_value, tree.mass
    lo, hi, range_sum = tree.lo, tree.hi, tree.range_sum
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
            off = np.uint64(offsets[g0 + k])
            row = attr[g0 + k]
            grow = _outside(flat, off, dim, lo, hi, nd)
            if left[nd] < 0:
                if keep[k] == 1.0 and grow == 0.0:  # a sampled point: AWS's "seen" score
                    leaf_mass = float(mass[nd])
                    damp = 1.0 - leaf_mass / (2.0 * tree_mass)
                    value = damp / (depth + math.log2(leaf_mass + 1.0))
                    share = scale * value / dim
                    for j in range(dim):
                        row[j] += share
                else:
                    term = keep[k] / (depth + 1.0)
                    value = acc[k] + term
                    if grow > 0.0:
                        _split_outside(flat, off, dim, lo, hi, nd, scale * term / grow, row)
                    else:  # the point equals the leaf but was separated above
                        share = scale * term / dim
                        for j in range(dim):
                            row[j] += share
                out[g0 + k] += scale * value
                node[k] = -1
                remaining -= 1
                continue
            denom = range_sum[nd] + grow
            p = grow / denom
            if grow > 0.0:
                w = scale * keep[k] / (denom * (depth + 1.0))
                _split_outside(flat, off, dim, lo, hi, nd, w, row)
            acc[k] += keep[k] * p / (depth + 1.0)
            keep[k] *= 1.0 - p
            node[k] = left[nd] + (flat[off + np.uint64(cut_dim[nd])] > cut_value[nd])
        depth += 1


def _attribute_rows_py(
    flat: np.ndarray,
    starts: np.ndarray,
    dim: int,
    trees: Trees,
    chunk: int,
    scores: np.ndarray,
    attr: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Score and attribution of the vectors ``flat[s : s + dim]`` for ``s`` in ``starts``.

    ``scores`` (k,) and ``attr`` (k, dim), zeros on entry, receive the means over trees (in
    tree order). As :func:`_score_rows_py`: the vectors in chunks of ``chunk`` (one
    ``prange`` work item each) taken tree by tree, four at a time.
    """
    n_trees = trees.left.shape[0]
    n = starts.shape[0]
    for c in prange((n + chunk - 1) // chunk):
        r0 = c * chunk
        r1 = min(n, r0 + chunk)
        node = np.empty(_GROUP, dtype=np.int64)
        keep = np.empty(_GROUP)
        acc = np.empty(_GROUP)
        for t in range(n_trees):
            tree = tree_of(trees, t)
            for g0 in range(r0, r1, _GROUP):
                attribute_group(
                    flat, starts, g0, min(_GROUP, r1 - g0), dim, tree, scores, attr, node, keep,
                    acc,
                )
        for i in range(r0, r1):
            scores[i] /= n_trees
            for j in range(dim):
                attr[i, j] /= n_trees


attribute_rows, attribute_rows_parallel = _twins(_attribute_rows_py)

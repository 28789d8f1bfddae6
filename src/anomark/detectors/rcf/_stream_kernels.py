"""Compiled (numba) kernels of the streaming Random Cut Forest: sampling, insertion, deletion.

Each tree keeps its own sample, chosen as in AWS's ``random-cut-forest-by-aws``
(``SamplerPlusTree.update`` and ``Sampler`` in its Rust crate, ``CompactSampler`` in Java):
the point arriving as the forest's ``e``-th (counting from 0) draws a weight
``log(-log(u)) - decay(e)`` with ``u`` uniform and ``decay(e) = lambda * e`` (continued
piecewise when ``lambda`` changes), and the sample holds the points of smallest weight: while
the sample is not full a point is taken outright with probability 1 below
``initial_accept_fraction`` of the capacity, falling linearly to 0 at full; otherwise (and
when that draw fails) it is taken if its weight is below the largest one in the sample,
which it then evicts (a max-heap on weights). The evicted point is deleted from the tree,
the new one inserted.

Insertion is the usual Random Cut Forest rule, top-down: at a node with box ``B`` not holding
the point, a cut of ``B`` extended by the point is drawn (dimension with probability
proportional to its side, value uniform along it); if it separates the point from ``B`` a new
node with that cut takes the node's place, with the point as a new leaf on one side and the
old node on the other; otherwise the point follows the existing cut down. The cut comes from
one uniform, as in AWS's ``randomCut``, with the parts of the sides that lie outside ``B``
laid out first (see :func:`insert_point`): the same distribution, and a cut that does not
separate is never located. A point equal to a leaf's point only increases the leaf's mass.
Deletion follows the cuts to the point's leaf, removes it (its sibling takes the parent's
place) or decreases the mass of a leaf holding duplicates, and shrinks the boxes above,
stopping where a box is unchanged.

Node slots are managed in pairs (children are always slots ``2k+1, 2k+2``, so the right
child is ``left + 1`` and the scoring kernels of :mod:`anomark.detectors.rcf._kernels` apply
unchanged); freed pairs go on a per-tree stack. The sampler keeps the points in slots
``0 .. size-1`` (an evicted slot is reused by the point that evicted it).

Random numbers come from two xoshiro256** generators per tree, one for the sampler's draws
and one for the cuts, whose states are part of the saved state, so a stream continued after
saving and loading draws the same numbers (two streams let the kernel settle the sampler's
decisions for several rows before it edits the tree, see :func:`_stream_chunk_py`). The
trees are independent: the kernel runs each tree over a chunk of rows (``prange`` over
trees), writing per-tree scores that are then summed in tree order, so scores do not depend
on threads or on how the stream is cut into chunks.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from anomark.detectors.rcf._kernels import (
    _BORROWED,
    _FAST,
    Trees,
    _outside,
    _twins,
    anomaly_group,
    attribute_group,
    codisp_group,
    tree_of,
)

_U64 = np.uint64
_GROUP = 4  # rows scored together against a tree (as in the batch kernels)
# Rows per bound of the sure rejection (see _stream_chunk_py): the decay grows by
# time_decay per row, so a bound taken at the end of a short block stays tight
_SURE_BLOCK = 32
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53


class Reservoir(NamedTuple):
    """Per-tree sample and generator state (``T`` trees, capacity ``m``, dimension ``d``)."""

    points: np.ndarray  # float64 (T, m, d): the sampled points, slots 0 .. size-1
    seq: np.ndarray  # int64 (T, m): arrival index of the point in each slot
    weight: np.ndarray  # float64 (T, m): max-heap of the sampled points' weights
    heap_slot: np.ndarray  # int32 (T, m): slot of each heap entry
    size: np.ndarray  # int64 (T,): points in the sample
    free_pairs: np.ndarray  # int32 (T, m): stack of unused child pairs (pair k = 2k+1, 2k+2)
    n_free: np.ndarray  # int64 (T,)
    rng: np.ndarray  # uint64 (T, 8): two xoshiro256** states: sampling, cutting


class TreeSample(NamedTuple):
    """One tree's views of the :class:`Reservoir` that learning edits (the calls that learn a
    point pass these few arrays rather than every array of the forest's state)."""

    points: np.ndarray  # (m, d)
    seq: np.ndarray  # (m,)
    free_pairs: np.ndarray  # (m,)
    n_free: np.ndarray  # (1,): the number of free pairs, as a view to update in place
    cut_rng: np.ndarray  # (4,): the cutting stream's xoshiro256** state


# ---------------------------------------------------------------------- random numbers
@njit(cache=True, **_BORROWED)
def _rotl(x: np.uint64, k: int) -> np.uint64:  # pragma: no cover - compiled
    return (x << _U64(k)) | (x >> _U64(64 - k))


@njit(cache=True, **_BORROWED)
def next_u64(s: np.ndarray) -> np.uint64:  # pragma: no cover - compiled
    """xoshiro256** (Blackman & Vigna): next 64-bit output, advancing the state ``s``."""
    s0, s1, s2, s3 = s[0], s[1], s[2], s[3]
    result = _rotl(s1 * _U64(5), 7) * _U64(9)
    t = s1 << _U64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    s[0], s[1], s[2], s[3] = s0, s1, s2, s3
    return result


@njit(cache=True, **_BORROWED)
def uniform(s: np.ndarray) -> float:  # pragma: no cover - compiled
    """A uniform double in [0, 1) (53 random bits)."""
    return float(next_u64(s) >> _U64(11)) * _TO_UNIT


# ---------------------------------------------------------------------- the sampler's heap
@njit(cache=True, **_BORROWED)
def _heap_push(res: Reservoir, t: int, w: float, slot: int) -> None:  # pragma: no cover
    weight, heap_slot = res.weight[t], res.heap_slot[t]
    i = res.size[t]
    weight[i] = w
    heap_slot[i] = slot
    res.size[t] = i + 1
    while i > 0:
        parent = (i - 1) // 2
        if weight[parent] < weight[i]:
            weight[parent], weight[i] = weight[i], weight[parent]
            heap_slot[parent], heap_slot[i] = heap_slot[i], heap_slot[parent]
            i = parent
        else:
            break


@njit(cache=True, **_BORROWED)
def _heap_pop(res: Reservoir, t: int) -> int:  # pragma: no cover - compiled
    """Remove the largest weight; return its slot."""
    weight, heap_slot = res.weight[t], res.heap_slot[t]
    top = heap_slot[0]
    n = res.size[t] - 1
    res.size[t] = n
    weight[0] = weight[n]
    heap_slot[0] = heap_slot[n]
    i = 0
    while 2 * i + 1 < n:
        big = 2 * i + 1
        if big + 1 < n and weight[big + 1] > weight[big]:
            big += 1
        if weight[big] > weight[i]:
            weight[big], weight[i] = weight[i], weight[big]
            heap_slot[big], heap_slot[i] = heap_slot[i], heap_slot[big]
            i = big
        else:
            break
    return top


# ---------------------------------------------------------------------- tree edits
# The per-dimension loops below are written to vectorise (no early exits, reassociation
# allowed): min/max are exact whatever the order, and the sums they reassociate (box growth,
# side sums) come from one compiled build, which reproduces a stream bit for bit. A fresh
# build and numba's cached one were seen to reassociate differently (last-bit differences,
# see docs/online.md "Saving mid-stream"); without reassociation learning is 30 % slower.
# Side sums are kept in the saved state rather than recomputed on load for the same reason.
@njit(cache=True, fastmath=_FAST, **_BORROWED)
def _union_of_children(
    lo: np.ndarray, hi: np.ndarray, range_sum: np.ndarray, node: int, c: int, p: np.ndarray
) -> bool:  # pragma: no cover - compiled
    """Set ``node``'s box to the union of its children ``c, c+1`` after the point ``p`` left
    its subtree (and its side sum, when it changed); return whether it changed.

    Boxes are exact bounding boxes, so the old box was the new one extended to ``p``: it
    changed exactly when ``p`` lies outside the new box, a float reduction that vectorises
    and needs no read of the old bounds.
    """
    z = lo.dtype.type(0)
    outside = z
    s = z
    for j in range(lo.shape[1]):
        new_lo = min(lo[c, j], lo[c + 1, j])
        new_hi = max(hi[c, j], hi[c + 1, j])
        outside += max(new_lo - p[j], p[j] - new_hi, z)
        lo[node, j] = new_lo
        hi[node, j] = new_hi
        s += max(new_hi - new_lo, z)  # max: see _extend_sum
    if outside > 0.0:
        range_sum[node] = s
        return True
    return False


@njit(cache=True, fastmath=_FAST, **_BORROWED)
def _differs(lo: np.ndarray, node: int, p: np.ndarray) -> int:  # pragma: no cover - compiled
    bad = 0
    for j in range(p.shape[0]):
        bad += lo[node, j] != p[j]
    return bad


@njit(cache=True, **_BORROWED)
def _copy_node(tree: Trees, src: int, dst: int) -> None:  # pragma: no cover - compiled
    tree.left[dst] = tree.left[src]
    tree.cut_dim[dst] = tree.cut_dim[src]
    tree.cut_value[dst] = tree.cut_value[src]
    tree.mass[dst] = tree.mass[src]
    tree.leaf_point[dst] = tree.leaf_point[src]
    lo, hi = tree.lo, tree.hi
    for j in range(lo.shape[1]):
        lo[dst, j] = lo[src, j]
        hi[dst, j] = hi[src, j]
    tree.range_sum[dst] = tree.range_sum[src]


@njit(cache=True, **_BORROWED)
def _make_leaf(tree: Trees, node: int, x: np.ndarray, slot: int) -> None:  # pragma: no cover
    tree.left[node] = -1
    tree.cut_dim[node] = -1
    tree.cut_value[node] = 0.0
    tree.mass[node] = 1
    tree.leaf_point[node] = slot
    lo, hi = tree.lo, tree.hi
    for j in range(x.shape[0]):
        lo[node, j] = x[j]
        hi[node, j] = x[j]
    tree.range_sum[node] = 0.0


@njit(cache=True, fastmath=_FAST, **_BORROWED)
def _extend_sum(
    lo: np.ndarray, hi: np.ndarray, node: int, x: np.ndarray
) -> float:  # pragma: no cover - compiled
    """Extend ``node``'s box to ``x``; return the new box's side sum (summed in the boxes'
    precision).

    A side is ``max(b - a, 0)``, which equals ``b - a`` (``b >= a``): with reassociation
    allowed, LLVM may otherwise sum the upper and the lower bounds apart and subtract the
    two totals, and for float32 boxes far from zero (values near 1e6, sides near 1) that
    difference loses everything (a side sum of 0 was seen for 4- and 12-value boxes); a
    maximum cannot be split that way.
    """
    z = lo.dtype.type(0)
    s = z
    for j in range(x.shape[0]):
        a = min(lo[node, j], x[j])
        b = max(hi[node, j], x[j])
        lo[node, j] = a
        hi[node, j] = b
        s += max(b - a, z)
    return float(s)


@njit(cache=True, **_BORROWED)
def _separating_cut(
    x: np.ndarray, lo: np.ndarray, hi: np.ndarray, node: int, r: float
) -> tuple[int, float]:  # pragma: no cover - compiled
    """The cut at offset ``r`` (``0 <= r < grow``) along the parts of the extended box that
    lie outside ``node``'s box, dimension by dimension: ``(dim, value)`` with ``x`` on one
    side of ``value`` and the whole box on the other."""
    acc = 0.0
    dim = -1
    offset = 0.0
    for j in range(x.shape[0]):  # no branches (g > 0 cannot be predicted): 2-3 % on learning
        g = max(lo[node, j] - x[j], 0.0) + max(x[j] - hi[node, j], 0.0)
        searching = acc <= r
        hit = searching and g > 0.0
        dim = j if hit else dim
        offset = r - acc if hit else offset
        acc = acc + g if searching else acc
    xv = x[dim]
    if xv < lo[node, dim]:  # x below the box: value in [x, lo)
        value = lo.dtype.type(xv + max(offset, 0.0))  # in the boxes' precision
        if not value < lo[node, dim]:  # rounding at the end of the gap (or r beyond it)
            value = xv
    else:  # x above the box: value in [hi, x)
        value = lo.dtype.type(hi[node, dim] + max(offset, 0.0))
        if not value < xv:
            value = hi[node, dim]
    return dim, value


@njit(cache=True, **_BORROWED)
def insert_point(
    tree: Trees, free_pairs: np.ndarray, n_free: np.ndarray, x: np.ndarray, slot: int,
    rng: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Insert the point ``x`` (held in sample slot ``slot``) into ``tree``, taking a new
    child pair from the tree's free stack (``free_pairs[:n_free[0]]``).

    At a node whose box ``B`` does not hold ``x``, a random cut of ``B`` extended by ``x``
    is drawn from one uniform ``r`` over the extended box's side sum ``R + G`` (``G``: how
    much ``x`` extends it); the cut separates ``x`` from ``B`` exactly when it falls in the
    part of a side that lies outside ``B``, which has measure ``G``. Those parts are laid out
    first: ``r < G`` separates, and ``r`` then picks the dimension (with probability
    proportional to its part) and the value (uniform in it), as AWS's ``randomCut`` does with
    the sides in dimension order; otherwise the cut falls inside ``B``'s extent, does not
    separate, and ``x`` follows the node's own cut. Same distribution as AWS's rule, without
    locating the non-separating cuts.
    """
    left, cut_dim, cut_value, mass = tree.left, tree.cut_dim, tree.cut_value, tree.mass
    lo, hi = tree.lo, tree.hi
    if mass[0] == 0:
        _make_leaf(tree, 0, x, slot)
        return
    node = 0
    grow = _outside(x, _U64(0), x.shape[0], lo, hi, _U64(0))  # how much R grows
    while True:
        child = left[node]
        grow_child = 0.0
        if child >= 0:
            # the next node's distance before this node's decision (which does not change
            # the child's box), so that a mispredicted branch does not also wait for it:
            # learning 2-3 % faster for one distance wasted where the cut separates
            child += x[cut_dim[node]] > cut_value[node]
            grow_child = _outside(x, _U64(0), x.shape[0], lo, hi, _U64(child))
        if grow > 0.0:
            r = uniform(rng) * (tree.range_sum[node] + grow)
            if r < grow or left[node] < 0:  # (a leaf's box is a point: every cut separates)
                # the cut separates x from the node's box: a new node takes its place
                dim, value = _separating_cut(x, lo, hi, node, r)
                n_free[0] -= 1
                pair = 2 * free_pairs[n_free[0]] + 1
                if x[dim] <= value:
                    new_leaf, moved = pair, pair + 1
                else:
                    new_leaf, moved = pair + 1, pair
                _copy_node(tree, node, moved)
                _make_leaf(tree, new_leaf, x, slot)
                left[node] = pair
                cut_dim[node] = dim
                cut_value[node] = value
                tree.leaf_point[node] = -1
                mass[node] = mass[moved] + 1
                tree.range_sum[node] = _extend_sum(lo, hi, node, x)
                return
            tree.range_sum[node] = _extend_sum(lo, hi, node, x)
        elif left[node] < 0:  # x equals the leaf's point: one more duplicate
            mass[node] += 1
            return
        mass[node] += 1
        node = child
        grow = grow_child


@njit(cache=True, **_BORROWED)
def delete_point(
    tree: Trees, points: np.ndarray, free_pairs: np.ndarray, n_free: np.ndarray, slot: int,
    n_used: int, path: np.ndarray,
) -> bool:  # pragma: no cover - compiled
    """Delete the point in sample slot ``slot`` (``points[slot]``) from ``tree`` (slots
    ``0 .. n_used-1`` hold points; the freed child pair goes on the tree's free stack;
    ``path`` is scratch space for the ancestors). Returns ``False``, changing nothing,
    when the tree does not hold the point (a state edited outside the forest): the caller
    reports it (an exception raised here would not cross numba's parallel loop cleanly)."""
    left, cut_dim, cut_value, mass = tree.left, tree.cut_dim, tree.cut_value, tree.mass
    lo, hi = tree.lo, tree.hi
    p = points[slot]
    node = 0
    depth = 0
    while left[node] >= 0:
        path[depth] = node
        depth += 1
        node = left[node] + (p[cut_dim[node]] > cut_value[node])
    if _differs(lo, node, p):
        return False
    if mass[node] > 1:
        mass[node] -= 1
        if tree.leaf_point[node] == slot:  # the leaf must name a slot still holding its point
            for other in range(n_used):
                if other != slot and _differs(lo, node, points[other]) == 0:
                    tree.leaf_point[node] = other
                    break
        for i in range(depth):
            mass[path[i]] -= 1
        return True
    if depth == 0:  # the tree's only point
        mass[0] = 0
        left[0] = -1
        tree.leaf_point[0] = -1
        return True
    parent = path[depth - 1]
    pair = left[parent]
    sibling = 2 * pair + 1 - node  # the other slot of the pair
    _copy_node(tree, sibling, parent)
    for freed in range(pair, pair + 2):  # unused slots hold nothing (mass 0)
        left[freed] = -1
        cut_dim[freed] = -1
        cut_value[freed] = 0.0
        mass[freed] = 0
        tree.leaf_point[freed] = -1
        tree.range_sum[freed] = 0.0
    free_pairs[n_free[0]] = (pair - 1) // 2
    n_free[0] += 1
    shrinking = True
    for i in range(depth - 2, -1, -1):
        a = path[i]
        mass[a] -= 1
        if shrinking:
            shrinking = _union_of_children(lo, hi, tree.range_sum, a, left[a], p)
    return True


@njit(cache=True, **_BORROWED)
def _accept_probability(fill: float, initial_fraction: float) -> float:  # pragma: no cover
    if fill < initial_fraction:
        return 1.0
    if initial_fraction >= 1.0:
        return 0.0
    return 1.0 - (fill - initial_fraction) / (1.0 - initial_fraction)


@njit(cache=True, **_BORROWED)
def offer_drawn(
    res: Reservoir, t: int, u: float, decay: float, initial_fraction: float
) -> tuple[int, int, float]:  # pragma: no cover - compiled
    """Offer the next point to tree ``t``'s sampler, with the first uniform ``u > 0`` of
    the tree's sampling stream already drawn (the caller tries the sure rejection with it).

    Returns ``(slot, n_used, weight)``: the slot the point will take and how many slots held
    points before (the point evicted from ``slot`` must still be deleted from the tree when
    ``slot < n_used``), or ``slot = -1`` when the point is not taken. The heap is updated.
    """
    w = math.log(-math.log(u)) - decay
    capacity = res.weight.shape[1]
    n = res.size[t]
    initial = False
    if n < capacity:
        initial = uniform(res.rng[t, :4]) < _accept_probability(n / capacity, initial_fraction)
    if initial:
        slot = n
    elif n > 0 and w < res.weight[t, 0]:
        slot = _heap_pop(res, t)
    else:
        return -1, n, w
    _heap_push(res, t, w, slot)
    return slot, n, w


@njit(cache=True, **_BORROWED)
def sure_rejection(res: Reservoir, t: int, decay_max: float) -> float:  # pragma: no cover
    """A bound below which a uniform is certainly rejected by tree ``t``'s full sampler at
    every decay up to ``decay_max`` (0.0 when the sample is not full).

    A point is taken when ``log(-log u) - decay < w_max`` (the heap's top), i.e. when
    ``u > exp(-exp(w_max + decay))``, a bound that falls as the decay grows; the returned
    value is that bound at ``decay_max`` with a margin far above the rounding of both
    computations (``1e-9`` plus ``1e-12`` of the weights' magnitude in the exponent, relative
    ``1e-12`` in ``u``), so a uniform below it would be rejected by the exact test too and
    the two logarithms can be skipped.
    """
    if res.size[t] < res.weight.shape[1]:
        return 0.0
    w_max = res.weight[t, 0]
    c = w_max + decay_max + 1e-9 + 1e-12 * (abs(w_max) + abs(decay_max))
    if c > 700.0:
        return 0.0
    return math.exp(-math.exp(c)) * (1.0 - 1e-12)


@njit(cache=True, **_BORROWED)
def learn_point(
    tree: Trees, sample: TreeSample, x: np.ndarray, entry: int, slot: int, n_used: int,
    path: np.ndarray,
) -> bool:  # pragma: no cover - compiled
    """Put the point ``x`` (the forest's ``entry``-th), taken by :func:`offer_drawn`, into ``slot``:
    delete the point it evicts from the tree, then insert ``x`` (cuts drawn from the tree's
    cutting stream). ``False`` when the evicted point is missing from the tree (see
    :func:`delete_point`; nothing is learned)."""
    points, free_pairs, n_free = sample.points, sample.free_pairs, sample.n_free
    if slot < n_used and not delete_point(tree, points, free_pairs, n_free, slot, n_used, path):
        return False
    for j in range(x.shape[0]):
        points[slot, j] = x[j]
    sample.seq[slot] = entry
    insert_point(tree, free_pairs, n_free, points[slot], slot, sample.cut_rng)
    return True


@njit(cache=True, **_BORROWED)
def _score_pending(
    flat: np.ndarray, r0: int, r1: int, row_stride: int, dim: int, tree: Trees,
    score_kind: int, offsets: np.ndarray, out: np.ndarray, attr: np.ndarray,
    spare: np.ndarray, node: np.ndarray, keep: np.ndarray, acc: np.ndarray,
    ratio_new: np.ndarray, ratio_seen: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Score rows ``r0 .. r1-1`` against the tree, a group of rows at a time; with
    attribution (``offsets``, row ``r``'s offset in ``flat``, holds the rows) each score is
    also split over the dimensions into ``attr[r]`` (the scores always come from
    :func:`anomaly_group`, so that they do not depend on ``attribution`` even in their last
    bits; the attribution walk's own go to ``spare``)."""
    attribution = offsets.shape[0] > 0
    if attribution:
        attr[r0:r1] = 0.0
    for g0 in range(r0, r1, _GROUP):
        gn = min(_GROUP, r1 - g0)
        if score_kind == 2:
            codisp_group(
                flat, g0, gn, row_stride, dim, tree, out, node, keep, acc, ratio_new,
                ratio_seen,
            )
            continue
        anomaly_group(flat, g0, gn, row_stride, dim, tree, out, node, keep, acc)
        if attribution:
            attribute_group(flat, offsets, g0, gn, dim, tree, spare, attr, node, keep, acc)


# ---------------------------------------------------------------------- one chunk of a stream
def _stream_chunk_py(
    flat: np.ndarray,
    n_rows: int,
    row_stride: int,
    dim: int,
    trees: Trees,
    res: Reservoir,
    entries0: int,
    output_after: int,
    decay_base: float,
    decay_start: int,
    time_decay: float,
    initial_fraction: float,
    score_kind: int,
    attribution: bool,
    learn: bool,
    tree_scores: np.ndarray,
    tree_attr: np.ndarray,
    broken: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Score then learn the vectors ``flat[r*row_stride : r*row_stride + dim]``, in order.

    Vector ``r`` is the forest's ``entries0 + r``-th; it is scored (``score_kind`` 1: AWS's
    anomaly score, 2: collusive displacement, 0: not at all) when at least ``output_after``
    vectors came before it, into ``tree_scores[t, r]`` per tree (and, with ``attribution``,
    its split over the dimensions into ``tree_attr[t, r]``), then offered to every tree's
    sampler when ``learn``. ``prange`` over trees: each tree runs through the rows alone.

    A tree changes only when its sampler takes a point (about one point in seven for a full
    sample of 256 and ``lambda = 1/2560``), and the sampler's decisions do not depend on the
    tree, so the rows between two changes are scored together, a group at a time (as the
    batch kernels do, to overlap their memory latencies), just before the change; the result
    is the same as scoring each row right before learning it. A full sampler rejects a
    uniform below :func:`sure_rejection`'s bound without computing its weight; the bound
    is taken for blocks of ``_SURE_BLOCK`` rows at the decay of the block's last row (the
    decay of a whole chunk's last row, as before, left it so low on long chunks that
    nearly every offer computed its two logarithms: for NYC's 9,570 streamed rows the
    decay grows by 3.7, and the bound, about 0.86 for a block, was about 0.002).

    ``broken[t]`` is set when tree ``t`` found a sampled point missing (a state edited
    outside the forest); that tree stops there and the caller raises.
    """
    n_trees = trees.left.shape[0]
    capacity = res.weight.shape[1]
    first_ready = min(max(output_after - entries0, 0), n_rows)
    offsets = np.arange(n_rows if attribution else 0) * row_stride
    for t in prange(n_trees):
        tree = tree_of(trees, t)
        sample = TreeSample(res.points[t], res.seq[t], res.free_pairs[t], res.n_free[t : t + 1],
                            res.rng[t, 4:])
        path = np.empty(capacity + 1, dtype=np.int64)
        node = np.empty(_GROUP, dtype=np.int64)
        keep = np.empty(_GROUP)
        acc = np.empty(_GROUP)
        ratio_new = np.empty(_GROUP)
        ratio_seen = np.empty(_GROUP)
        out = tree_scores[t]
        attr = tree_attr[t]
        spare = np.zeros(offsets.shape[0])  # the attribution walk's scores (not used)
        for r in range(n_rows):
            out[r] = 0.0
        pending = first_ready  # first row not scored yet
        sample_rng = res.rng[t, :4]
        u_sure = 0.0
        sure_until = -1  # last row the bound holds for
        for r in range(n_rows):
            slot = -1
            n_used = 0
            if learn:
                if r > sure_until:  # the bound for the next block of rows
                    sure_until = min(r + _SURE_BLOCK, n_rows) - 1
                    decay_max = decay_base + (entries0 + sure_until - decay_start) * time_decay
                    u_sure = sure_rejection(res, t, decay_max)
                u = uniform(sample_rng)
                if u < u_sure and u > 0.0:
                    n_used = capacity  # rejected: the sample is full (see sure_rejection)
                else:
                    while u == 0.0:
                        u = uniform(sample_rng)
                    entry = entries0 + r
                    decay = decay_base + (entry - decay_start) * time_decay
                    slot, n_used, _ = offer_drawn(res, t, u, decay, initial_fraction)
                    if slot >= 0:
                        u_sure = sure_rejection(res, t, decay_max)
            if slot >= 0 or r == n_rows - 1:
                if score_kind != 0 and pending <= r:
                    _score_pending(
                        flat, pending, r + 1, row_stride, dim, tree, score_kind, offsets,
                        out, attr, spare, node, keep, acc, ratio_new, ratio_seen,
                    )
                pending = max(pending, r + 1)
            if slot >= 0:
                off = r * row_stride
                if not learn_point(
                    tree, sample, flat[off : off + dim], entries0 + r, slot, n_used, path
                ):
                    broken[t] = True
                    break


stream_chunk, stream_chunk_parallel = _twins(_stream_chunk_py)


@njit(cache=True)
def sum_over_trees(
    tree_scores: np.ndarray, n_rows: int, out: np.ndarray
) -> None:  # pragma: no cover - compiled
    """``out[r] = sum_t tree_scores[t, r] / T``, summed in tree order."""
    n_trees = tree_scores.shape[0]
    for r in range(n_rows):
        s = 0.0
        for t in range(n_trees):
            s += tree_scores[t, r]
        out[r] = s / n_trees


@njit(cache=True)
def mean_attribution(
    tree_attr: np.ndarray, n_rows: int, out: np.ndarray
) -> None:  # pragma: no cover - compiled
    """``out[r, j] = sum_t tree_attr[t, r, j] / T``, summed in tree order."""
    n_trees = tree_attr.shape[0]
    for r in range(n_rows):
        for j in range(out.shape[1]):
            s = 0.0
            for t in range(n_trees):
                s += tree_attr[t, r, j]
            out[r, j] = s / n_trees


# ---------------------------------------------------------------------- state set-up
@njit(cache=True)
def weigh_sample(
    res: Reservoir, decay_base: float, decay_start: int, time_decay: float
) -> None:  # pragma: no cover - compiled
    """Give every sampled point (slots ``0 .. size-1``, arrival ``seq``) a reservoir weight
    drawn from its tree's sampling stream, and build the heap."""
    for t in range(res.size.shape[0]):
        n = res.size[t]
        res.size[t] = 0
        rng = res.rng[t, :4]
        for slot in range(n):
            u = 0.0
            while u == 0.0:
                u = uniform(rng)
            decay = decay_base + (res.seq[t, slot] - decay_start) * time_decay
            _heap_push(res, t, math.log(-math.log(u)) - decay, slot)


@njit(cache=True)
def check_tree(tree: Trees, res: Reservoir, t: int) -> int:  # pragma: no cover - compiled
    """Check tree ``t`` against its sample and free list; return 0 when consistent, else a
    code > 0 (used to refuse a hand-edited saved state before any kernel walks it).

    Every node reached from the root is visited once (no cycles, no shared nodes, children
    pairs in range), cut dimensions are in range, masses add up, each leaf names a sample slot
    holding its point and its mass counts the sampled points that reach it, the tree's mass is
    the sample size, and the free pairs are exactly the pairs no reached node uses.
    """
    left, mass, leaf_point = tree.left, tree.mass, tree.leaf_point
    n_slots = left.shape[0]
    size = res.size[t]
    d = res.points.shape[2]
    n_pairs = (n_slots - 1) // 2
    n_free = res.n_free[t]
    if n_free < 0 or n_free > n_pairs:
        return 9
    if mass[0] == 0:
        return 0 if size == 0 and n_free == n_pairs else 1
    if mass[0] != size:
        return 2
    seen = np.zeros(n_slots, dtype=np.bool_)
    stack = np.empty(n_slots + 2, dtype=np.int64)
    stack[0] = 0
    top = 1
    n_internal = 0
    while top > 0:
        top -= 1
        node = stack[top]
        if seen[node]:
            return 3
        seen[node] = True
        a = left[node]
        if a >= 0:
            if a >= n_slots - 1 or (a - 1) % 2 != 0:
                return 4
            if tree.cut_dim[node] < 0 or tree.cut_dim[node] >= d:
                return 5
            if mass[node] != mass[a] + mass[a + 1] or mass[a] < 1 or mass[a + 1] < 1:
                return 6
            n_internal += 1
            stack[top] = a
            stack[top + 1] = a + 1
            top += 2
        else:
            p = leaf_point[node]
            if p < 0 or p >= size or mass[node] < 1:
                return 7
    if n_internal + n_free != n_pairs:
        return 10
    for i in range(n_free):
        f = res.free_pairs[t, i]
        if f < 0 or f >= n_pairs or seen[2 * f + 1] or seen[2 * f + 2]:
            return 10
        seen[2 * f + 1] = True  # a pair listed twice is caught on its second listing
    # every sampled point reaches a leaf holding its value; leaf masses count them
    count = np.zeros(n_slots, dtype=np.int64)
    for slot in range(size):
        x = res.points[t, slot]
        node = 0
        while left[node] >= 0:
            node = left[node] + (x[tree.cut_dim[node]] > tree.cut_value[node])
        p = leaf_point[node]
        for j in range(d):
            if res.points[t, p, j] != x[j]:
                return 8
        count[node] += 1
    for node in range(n_slots):
        if count[node] and count[node] != mass[node]:
            return 8
    return 0

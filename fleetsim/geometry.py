"""Closed-form geometry of straight legs, vectorised over many legs at once.

A leg moves linearly from ``p0`` at ``t0`` to ``p1`` at ``t1``. The functions
here answer, for ``n`` legs in one numpy pass (no Python loop per leg), the
questions the engine and the metrics ask about what happens *during* a leg:
when a point is inside a sensor disc around the moving vehicle
(:func:`disc_intervals`), where the vehicle passes closest to a point
(:func:`closest_approach`), and when it is inside a zone's polygon, altitude
band and active window (:func:`zone_intervals`). :func:`merge_intervals`
merges overlapping or touching intervals per group.

Positions are local ENU metres, times seconds. Arrays of positions have shape
``(n, 2)`` (x, y) or ``(n, 3)`` (x, y, z); scalars and single points broadcast
against the legs.

Times inside a leg are interpolated as ``t0 + s * (t1 - t0)`` with ``s`` the
fraction of the leg, and ``s == 1`` gives ``t1`` itself, so an interval that
reaches a leg's end reports ``t0`` or ``t1`` exactly (bit for bit): intervals of consecutive legs that meet at a leg
boundary touch exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import shapely

__all__ = [
    "ZoneLike",
    "closest_approach",
    "disc_intervals",
    "fractions_within",
    "merge_intervals",
    "time_at_fraction",
    "zone_intervals",
]

#: Fractions of a leg closer than this to 0 or 1 are snapped to the leg's end.
_SNAP = 1e-12


class ZoneLike(Protocol):
    """What :func:`zone_intervals` reads of a zone (:class:`fleetsim.world.world.Zone`)."""

    polygon: shapely.Geometry
    floor_amsl_m: float
    ceiling_amsl_m: float
    start_s: float
    end_s: float


def _times(t0: np.ndarray, t1: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    t0 = np.broadcast_to(np.asarray(t0, dtype=np.float64), (n,))
    t1 = np.broadcast_to(np.asarray(t1, dtype=np.float64), (n,))
    return t0, t1


def _points(p: np.ndarray, n: int | None = None) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.ndim == 1:
        p = p[None, :]
    if p.ndim != 2 or p.shape[1] not in (2, 3):
        raise ValueError(f"positions must have shape (n, 2) or (n, 3), got {p.shape}")
    if n is not None and p.shape[0] != n:
        p = np.broadcast_to(p, (n, p.shape[1]))
    return p


def _n_of(p0: np.ndarray) -> int:
    """Number of legs: the rows of ``p0`` (a single position is one leg)."""
    return _points(p0).shape[0]


def time_at_fraction(t0: np.ndarray, t1: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Time at fraction ``s`` of legs from ``t0`` to ``t1`` (``t0 <= t1``).

    Exactly ``t0`` at 0 and ``t1`` at 1, and non-decreasing in ``s`` (so
    ``t_in <= t_out`` whenever ``s_in <= s_out``); NaN stays NaN.
    """
    return np.where(s == 1.0, t1, np.minimum(t0 + s * (t1 - t0), t1))


def disc_intervals(
    t0: np.ndarray,
    t1: np.ndarray,
    p0: np.ndarray,
    p1: np.ndarray,
    centers: np.ndarray,
    radius: float | np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """When each point is within ``radius`` (horizontally) of a moving vehicle.

    Solves ``|p(t) - c|^2 = r^2`` for the position ``p(t)`` moving linearly from
    ``p0`` at ``t0`` to ``p1`` at ``t1``, and clips the roots to the leg. The
    disc is closed: a point exactly at distance ``radius`` is within it.

    Parameters
    ----------
    t0, t1 : array_like, shape (n,) or scalar
        Start and end time of each leg (s).
    p0, p1 : array_like, shape (n, 2) or (n, 3)
        Start and end position of each leg (m); only x and y are used.
    centers : array_like, shape (n, 2) or (2,)
        The point paired with each leg (m); extra columns are ignored.
    radius : float or array_like, shape (n,)
        Radius of the disc (m).

    Returns
    -------
    t_in, t_out : ndarray, shape (n,), float64
        First and last time of the leg at which the point is within the disc,
        ``t0 <= t_in <= t_out <= t1``; NaN where it never is. A stationary leg
        (``p0 == p1`` horizontally) gives ``[t0, t1]`` or NaN.
    """
    n = _n_of(p0)
    p0 = _points(p0, n)
    p1 = _points(p1, n)
    c = _points(centers, n)
    t0, t1 = _times(t0, t1, n)
    r = np.broadcast_to(np.asarray(radius, dtype=np.float64), (n,))

    wx = p1[:, 0] - p0[:, 0]
    wy = p1[:, 1] - p0[:, 1]
    dx = p0[:, 0] - c[:, 0]
    dy = p0[:, 1] - c[:, 1]
    s_lo, s_hi = fractions_within(wx * wx + wy * wy, dx * wx + dy * wy,
                                  dx * dx + dy * dy - r * r)
    return time_at_fraction(t0, t1, s_lo), time_at_fraction(t0, t1, s_hi)


def fractions_within(
    a: np.ndarray, b: np.ndarray, c: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The part of ``[0, 1]`` where ``a s^2 + 2 b s + c <= 0`` (``a >= 0``).

    For a leg ``p(s) = p0 + s w`` and a point ``x``, with ``d = p0 - x``,
    ``a = w.w``, ``b = d.w`` and ``c = d.d - r^2``, it is the fraction of the
    leg spent within ``r`` of ``x``: the kernel of :func:`disc_intervals`, for
    callers that can form the coefficients more cheaply themselves.

    Returns
    -------
    s_lo, s_hi : ndarray, float64
        ``0 <= s_lo <= s_hi <= 1``, NaN where the set is empty. With ``a == 0``
        (a stationary leg) it is ``[0, 1]`` if ``c <= 0``.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64)
    disc = b * b - a * c
    moving = a > 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        # Roots without cancellation: q / a and c / q.
        q = -(b + np.copysign(np.sqrt(np.maximum(disc, 0.0)), b))
        s_a = q / a
        s_b = c / q  # NaN only when q == 0, i.e. a double root at s = 0 (= s_a)
        s_lo = np.fmin(s_a, s_b)
        s_hi = np.fmax(s_a, s_b)
    hit_moving = moving & (disc >= 0.0) & (s_hi >= 0.0) & (s_lo <= 1.0)
    hit_still = ~moving & (c <= 0.0)
    s_lo = np.where(hit_moving, np.clip(s_lo, 0.0, 1.0), np.where(hit_still, 0.0, np.nan))
    s_hi = np.where(hit_moving, np.clip(s_hi, 0.0, 1.0), np.where(hit_still, 1.0, np.nan))
    return s_lo, s_hi


def closest_approach(
    t0: np.ndarray,
    t1: np.ndarray,
    p0: np.ndarray,
    p1: np.ndarray,
    centers: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Time and distance of each leg's closest approach to a point, clamped to the leg.

    The distance is taken in as many dimensions as ``centers`` has columns: 2
    (horizontal) or 3 (with ``p0``/``p1`` of shape (n, 3)).

    Parameters
    ----------
    t0, t1 : array_like, shape (n,) or scalar
        Start and end time of each leg (s).
    p0, p1 : array_like, shape (n, 2) or (n, 3)
        Start and end position of each leg (m).
    centers : array_like, shape (n, 2), (n, 3), (2,) or (3,)
        The point paired with each leg (m).

    Returns
    -------
    t_cpa : ndarray, shape (n,), float64
        Time of the closest approach in ``[t0, t1]`` (``t0`` for a stationary leg).
    d_min : ndarray, shape (n,), float64
        The distance then (m).
    """
    n = _n_of(p0)
    c = _points(centers, n)
    k = c.shape[1]
    p0 = _points(p0, n)
    p1 = _points(p1, n)
    if p0.shape[1] < k or p1.shape[1] < k:
        raise ValueError("centers have more columns than the leg positions")
    t0, t1 = _times(t0, t1, n)
    w = p1[:, :k] - p0[:, :k]
    d = p0[:, :k] - c
    a = np.einsum("ij,ij->i", w, w)
    b = np.einsum("ij,ij->i", d, w)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(a > 0.0, np.clip(-b / a, 0.0, 1.0), 0.0)
    rel = d + w * s[:, None]
    d_min = np.sqrt(np.einsum("ij,ij->i", rel, rel))
    return time_at_fraction(t0, t1, s), d_min


def _stable_argsort_int(keys: np.ndarray) -> np.ndarray:
    """Stable argsort of integer keys, as radix passes over 16-bit digits.

    numpy sorts 16-bit integers stably with a radix sort, several times faster
    than its stable sort of wider integers (and than ``np.lexsort``).
    """
    keys = np.asarray(keys)
    if len(keys) == 0:
        return np.zeros(0, dtype=np.intp)
    low = keys.min()
    span = int(keys.max()) - int(low)
    if span <= 0xFFFF:  # one digit
        return np.argsort((keys - low).astype(np.uint16), kind="stable")
    shifted = (keys - low).astype(np.uint64)
    order = np.arange(len(keys))
    shift = 0
    while True:
        digit = ((shifted[order] >> np.uint64(shift)) & np.uint64(0xFFFF)).astype(np.uint16)
        order = order[np.argsort(digit, kind="stable")]
        shift += 16
        if span >> shift == 0:
            return order


def _group_start_order(group: np.ndarray, start: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An order of the intervals by group, then start (equal starts in any order),
    and the groups and starts in that order.

    One sort of 64-bit keys (group, start scaled to the bits left, position) rather
    than an argsort of the starts and a stable sort by group: the scaled start is
    non-decreasing in the start, so the keys sort the intervals by group and start
    except within runs of equal scaled starts, which are checked and put in the
    order of their exact starts where needed. Falls back to the two argsorts when
    the keys have too few bits left for the start, or a start is not finite.
    """
    m = len(group)
    glo = int(group.min())
    span = int(group.max()) - glo
    lo = float(start.min())
    width = float(start.max()) - lo
    index_bits = max(int(m - 1).bit_length(), 1)
    start_bits = min(64 - span.bit_length() - index_bits, 52)
    top = float(2**max(start_bits, 1) - 1)
    with np.errstate(divide="ignore", over="ignore"):
        scale = (top - 1.0) / width if width > 0.0 else 0.0
    if start_bits < 16 or not (np.isfinite(width) and np.isfinite(scale)):
        order = np.argsort(start)  # the order of equal starts does not matter
        order = order[_stable_argsort_int(group[order])]
        return order, group[order], start[order]
    scaled = np.minimum((start - lo) * scale, top)
    wide = group if group.dtype == np.uint64 else group.astype(np.int64)  # (no overflow)
    key = (wide - glo).astype(np.uint64) << np.uint64(start_bits + index_bits)
    key |= scaled.astype(np.uint64) << np.uint64(index_bits)
    key |= np.arange(m, dtype=np.uint64)
    key.sort()
    order = (key & np.uint64((1 << index_bits) - 1)).astype(np.intp)
    s = start[order]
    wrong = np.flatnonzero(s[1:] < s[:-1])  # (also where a new group begins)
    if len(wrong):
        # Only intervals of one group with the same scaled start can be out of order.
        run_key = key >> np.uint64(index_bits)
        keys = np.unique(run_key[wrong[run_key[wrong] == run_key[wrong + 1]]])
        if len(keys):
            first = np.searchsorted(run_key, keys, side="left")
            size = np.searchsorted(run_key, keys, side="right") - first
            run = np.repeat(np.arange(len(keys)), size)
            at = np.arange(len(run)) - np.repeat(np.cumsum(size) - size - first, size)
            exact = np.lexsort((s[at], run))
            order[at] = order[at][exact]
            s[at] = s[at][exact]
    if group.dtype.kind in "iu":
        g = (key >> np.uint64(start_bits + index_bits)).astype(group.dtype)
        g += group.dtype.type(glo)
    else:
        g = group[order]
    return order, g, s


#: Rounds of :func:`_running_max`'s propagation before it sorts instead.
_RUNNING_MAX_ROUNDS = 64


def _running_max(x: np.ndarray, head: np.ndarray) -> np.ndarray:
    """The running maximum of ``x`` (no NaN) restarted where ``head`` is True (the
    first element of each group; ``head[0]`` is True), exactly.

    Where ``x`` mostly rises within its groups (merged pieces of intervals sorted
    by start), the maximum is carried forward from the few places it falls, one
    step a round; after :data:`_RUNNING_MAX_ROUNDS` rounds, by one sort: on the
    ranks of ``x`` offset by the group's ordinal, so no group sees a previous one.
    """
    k = len(x)
    out = x.copy()
    tail = np.flatnonzero(~head[1:] & (x[1:] < x[:-1])) + 1
    for _ in range(_RUNNING_MAX_ROUNDS):
        if not len(tail):
            return out
        out[tail] = out[tail - 1]
        tail = np.unique(np.r_[tail, tail + 1])
        tail = tail[tail < k]
        tail = tail[~head[tail] & (out[tail] < out[tail - 1])]
    by_x = np.argsort(x)  # ties may come in any order: their values are equal
    rank = np.empty(k, dtype=np.int64)
    rank[by_x] = np.arange(k, dtype=np.int64)
    offset = (np.cumsum(head, dtype=np.int64) - 1) * k
    return x[by_x[np.maximum.accumulate(offset + rank) - offset]]


def _merge_sorted(new_group: np.ndarray, s: np.ndarray, e: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The merge of :func:`merge_intervals` on intervals sorted by group, then start
    (no NaN): the index of the first interval of each merged one, and its end.

    Cut first after every interval the next one starts after (``s[k] > e[k-1]``):
    every true cut is among these, and inside a piece the intervals overlap. Then the
    running maximum of the pieces' ends within each group (fewer than the intervals)
    says which cuts are true: those the next piece starts after."""
    first = new_group.copy()
    np.greater(s[1:], e[:-1], out=first[1:])
    first[1:] |= new_group[1:]
    idx = np.flatnonzero(first)
    end = np.maximum.reduceat(e, idx)
    k = len(idx)
    run_max = _running_max(end, new_group[idx])
    cut = new_group[idx]
    cut[1:] |= s[idx[1:]] > run_max[:-1]
    keep = np.flatnonzero(cut)
    last = np.empty_like(keep)
    last[:-1] = keep[1:] - 1
    last[-1] = k - 1
    return idx[keep], run_max[last]


def merge_intervals(
    group: np.ndarray, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge the intervals of each group that overlap or touch.

    Two intervals of one group merge when one starts at or before the other
    ends (``start_k <= max(end_j)`` for the earlier ones): touching intervals
    become one.

    Parameters
    ----------
    group : array_like, shape (m,), integer
        Group of each interval (e.g. a cell, or a vehicle-zone pair).
    start, end : array_like, shape (m,), float64
        The intervals, ``start <= end``.

    Returns
    -------
    group, start, end : ndarray, shape (k,)
        The merged intervals, sorted by group and then by start.
    """
    group = np.asarray(group)
    start = np.asarray(start, dtype=np.float64)
    end = np.asarray(end, dtype=np.float64)
    m = len(group)
    if m == 0:
        return group[:0], start[:0], end[:0]
    order, g, s = _group_start_order(group, start)
    e = end[order]
    new_group = np.empty(m, dtype=bool)
    new_group[0] = True
    np.not_equal(g[1:], g[:-1], out=new_group[1:])
    if not np.isnan(e).any():
        idx, last_end = _merge_sorted(new_group, s, e)
        return g[idx], s[idx], last_end
    # Running maximum of ``end`` inside each group, exactly: on the ranks of
    # ``end`` offset by the group's ordinal, so no group sees a previous one.
    by_end = np.argsort(e)  # ties may come in any order: their values are equal
    rank = np.empty(m, dtype=np.int64)
    rank[by_end] = np.arange(m, dtype=np.int64)
    offset = (np.cumsum(new_group, dtype=np.int64) - 1) * m
    run_max = e[by_end[np.maximum.accumulate(offset + rank) - offset]]
    first = new_group.copy()
    first[1:] |= s[1:] > run_max[:-1]
    idx = np.flatnonzero(first)
    last = np.empty_like(idx)
    last[:-1] = idx[1:] - 1
    last[-1] = m - 1
    return g[idx], s[idx], run_max[last]


def _band_fractions(
    v0: np.ndarray, v1: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Fractions ``[s_lo, s_hi]`` of legs on which ``lo <= v0 + (v1 - v0) s <= hi``.

    Empty bands come back with ``s_lo > s_hi``. Infinite bounds are allowed.
    """
    dv = v1 - v0
    with np.errstate(divide="ignore", invalid="ignore"):
        a = (lo - v0) / dv
        b = (hi - v0) / dv
    s_lo = np.fmin(a, b)
    s_hi = np.fmax(a, b)
    flat = dv == 0.0
    inside = (lo <= v0) & (v0 <= hi)
    s_lo = np.where(flat, np.where(inside, 0.0, np.inf), np.maximum(s_lo, 0.0))
    s_hi = np.where(flat, np.where(inside, 1.0, -np.inf), np.minimum(s_hi, 1.0))
    return s_lo, s_hi


#: Up to this many zones, :func:`zone_intervals` drops the legs far from every zone's
#: bounding box before building their line strings.
BOX_PREFILTER_ZONES = 64


def zone_intervals(
    t0: np.ndarray,
    t1: np.ndarray,
    p0: np.ndarray,
    p1: np.ndarray,
    zones: Sequence[ZoneLike],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every interval during which a leg is inside a zone.

    Inside means at once: within the zone's polygon (holes excluded, boundary
    included), within its altitude band ``[floor_amsl_m, ceiling_amsl_m]``
    (z linear along the leg) and within its active window ``[start_s, end_s)``.

    Candidate leg-zone pairs come from an STRtree of the zone polygons queried
    with the legs' line strings; each candidate line is intersected with its
    polygon and the pieces' ends are turned back into fractions of the leg.
    A leg that does not move horizontally (hover, vertical climb) is inside the
    polygon for its whole duration or not at all.

    Only intervals of positive duration are reported: grazing a vertex or an
    edge for an instant, or a leg of zero duration, is not being inside.

    Parameters
    ----------
    t0, t1 : array_like, shape (n,)
        Start and end time of each leg (s).
    p0, p1 : array_like, shape (n, 3) or (n, 2)
        Start and end position of each leg (m). Without z, altitude bands are
        not checked.
    zones : sequence of Zone
        The zones; ``zone_index`` below is a position in this sequence (equal
        to ``Zone.index`` for ``World.zones``).

    Returns
    -------
    leg_index : ndarray, shape (k,), int64
    zone_index : ndarray, shape (k,), int64
    t_enter, t_exit : ndarray, shape (k,), float64
        One row per interval, sorted by leg, zone, then time; ``t_enter`` /
        ``t_exit`` equal ``t0`` / ``t1`` exactly where the interval reaches the
        leg's start / end.
    """
    p0 = _points(p0)
    n = p0.shape[0]
    p1 = _points(p1, n)
    if p1.shape != p0.shape:
        raise ValueError(f"p0 and p1 must have the same shape, got {p0.shape} and {p1.shape}")
    t0, t1 = _times(t0, t1, n)
    empty_i = np.zeros(0, dtype=np.int64)
    empty_f = np.zeros(0, dtype=np.float64)
    if n == 0 or len(zones) == 0:
        return empty_i, empty_i.copy(), empty_f, empty_f.copy()

    polys = np.array([z.polygon for z in zones], dtype=object)
    floor = np.array([z.floor_amsl_m for z in zones], dtype=np.float64)
    ceiling = np.array([z.ceiling_amsl_m for z in zones], dtype=np.float64)
    z_start = np.array([z.start_s for z in zones], dtype=np.float64)
    z_end = np.array([z.end_s for z in zones], dtype=np.float64)
    tree = shapely.STRtree(polys)

    x0, y0, x1, y1 = p0[:, 0], p0[:, 1], p1[:, 0], p1[:, 1]
    dx = x1 - x0
    dy = y1 - y0
    length2 = dx * dx + dy * dy
    moving = length2 > 0.0

    # --- candidate pairs: moving legs as lines, still legs as points --------
    mv = np.flatnonzero(moving)
    st = np.flatnonzero(~moving)
    if len(zones) <= BOX_PREFILTER_ZONES:
        # Only a leg whose box meets a zone's box can meet its polygon: the others
        # never become line strings (the costly part with many legs and few zones).
        bx0, bx1 = np.minimum(x0, x1), np.maximum(x0, x1)
        by0, by1 = np.minimum(y0, y1), np.maximum(y0, y1)
        near = np.zeros(n, dtype=bool)
        for zx0, zy0, zx1, zy1 in shapely.bounds(polys).tolist():
            near |= (bx0 <= zx1) & (bx1 >= zx0) & (by0 <= zy1) & (by1 >= zy0)
        mv, st = mv[near[mv]], st[near[st]]
    lines = shapely.linestrings(
        np.stack([p0[mv, :2], p1[mv, :2]], axis=1)) if len(mv) else np.zeros(0, object)
    pairs_mv = (tree.query(lines, predicate="intersects")
                if len(mv) else np.zeros((2, 0), dtype=np.int64))
    pairs_st = (tree.query(shapely.points(p0[st, :2]), predicate="intersects")
                if len(st) else np.zeros((2, 0), dtype=np.int64))
    leg = np.concatenate([mv[pairs_mv[0]], st[pairs_st[0]]])
    zone = np.concatenate([pairs_mv[1], pairs_st[1]]).astype(np.int64)
    line_of = np.concatenate([pairs_mv[0], np.full(pairs_st.shape[1], -1)])

    # --- altitude band as fractions of the leg; active window overlap ---------
    if p0.shape[1] == 3:
        lo, hi = _band_fractions(p0[leg, 2], p1[leg, 2], floor[zone], ceiling[zone])
    else:
        lo = np.zeros(len(leg))
        hi = np.ones(len(leg))
    keep = (lo <= hi) & (t0[leg] < z_end[zone]) & (t1[leg] > z_start[zone])
    leg, zone, line_of, lo, hi = leg[keep], zone[keep], line_of[keep], lo[keep], hi[keep]

    # --- polygon pieces of the moving legs ------------------------------------
    is_line = line_of >= 0
    li = np.flatnonzero(is_line)
    cut = shapely.intersection(lines[line_of[li]], polys[zone[li]])
    parts, part_of = shapely.get_parts(cut, return_index=True)
    coords, coord_of = shapely.get_coordinates(parts, return_index=True)
    piece_pair = li[part_of]
    if len(coords):
        pl = leg[piece_pair[coord_of]]
        s = ((coords[:, 0] - x0[pl]) * dx[pl] + (coords[:, 1] - y0[pl]) * dy[pl]) / length2[pl]
        bounds = np.flatnonzero(np.r_[True, coord_of[1:] != coord_of[:-1]])
        s_lo = np.minimum.reduceat(s, bounds)
        s_hi = np.maximum.reduceat(s, bounds)
        piece_pair = piece_pair[coord_of[bounds]]
    else:
        s_lo = s_hi = empty_f
        piece_pair = empty_i
    s_lo = np.where(s_lo < _SNAP, 0.0, s_lo)
    s_hi = np.where(s_hi > 1.0 - _SNAP, 1.0, s_hi)

    # Still legs are inside the polygon for the whole leg.
    si = np.flatnonzero(~is_line)
    pair = np.concatenate([piece_pair, si])
    s_lo = np.concatenate([s_lo, np.zeros(len(si))])
    s_hi = np.concatenate([s_hi, np.ones(len(si))])

    s_lo = np.maximum(s_lo, lo[pair])
    s_hi = np.minimum(s_hi, hi[pair])
    leg_p = leg[pair]
    zone_p = zone[pair]
    # The active window [start, end) is applied in time, so its bounds are exact.
    t_enter = np.maximum(time_at_fraction(t0[leg_p], t1[leg_p], s_lo), z_start[zone_p])
    t_exit = np.minimum(time_at_fraction(t0[leg_p], t1[leg_p], s_hi), z_end[zone_p])
    keep = t_exit > t_enter
    leg_p, zone_p, t_enter, t_exit = leg_p[keep], zone_p[keep], t_enter[keep], t_exit[keep]

    # Pieces of one leg in one zone that touch (a line through a vertex) are one.
    g = leg_p * len(zones) + zone_p
    g, t_enter, t_exit = merge_intervals(g, t_enter, t_exit)
    return g // len(zones), g % len(zones), t_enter, t_exit

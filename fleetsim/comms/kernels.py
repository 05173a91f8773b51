"""Compiled loops of the direct links (:mod:`fleetsim.comms.links`): each leg's
nearest station from a grid of candidates, whether a leg is in its nearest station's
range throughout, and line of sight sampled along in-range pieces of legs.

Each computes its numbers with the same IEEE operations, in the same order, as the
array code of :mod:`fleetsim.comms.links` describes them, so the results are the
same bit for bit."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from fleetsim.comms.stations import _range_one


@njit(cache=True)
def leg_midpoints(p0, p1):
    """Horizontal midpoints ``0.5 (p0 + p1)`` (n, 2) of legs, and whether each leg is
    finite (its midpoint's and its horizontal ends' sum is)."""
    n = len(p0)
    mid = np.empty((n, 2))
    finite = np.empty(n, dtype=np.bool_)
    for i in range(n):
        mx = 0.5 * (p0[i, 0] + p1[i, 0])
        my = 0.5 * (p0[i, 1] + p1[i, 1])
        mid[i, 0], mid[i, 1] = mx, my
        finite[i] = np.isfinite(mx + my + p1[i, 0] + p1[i, 1] - p0[i, 0] - p0[i, 1])
    return mid, finite


@njit(cache=True)
def nearest_in_grid(mid, ok, x0, y0, size, count, cand, sxyz):
    """(n,) int: the station nearest each point ``mid`` (n, 2) where the grid of
    :func:`fleetsim.comms.links._nearest_cells` knows it (``count`` (ny, nx) candidates
    per cell, ``cand`` (ny, nx, k) their stations, -1 padded): a cell's only candidate,
    or of several the one at the least ``hypot`` distance (the first of equals); -1
    where the grid does not know, off the grid, or where ``ok`` is False."""
    n = len(mid)
    ny, nx = count.shape
    k = cand.shape[2]
    s = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        if not ok[i]:
            continue
        mx, my = mid[i, 0], mid[i, 1]
        ix = np.floor((mx - x0) / size)
        iy = np.floor((my - y0) / size)
        if not (ix >= 0 and iy >= 0 and ix < nx and iy < ny):
            continue
        cx, cy = int(ix), int(iy)
        cnt = count[cy, cx]
        if cnt == 1:
            s[i] = cand[cy, cx, 0]
        elif cnt > 1:
            best = np.inf
            at = 0
            for q in range(k):
                c = cand[cy, cx, q]
                d = math.hypot(mx - sxyz[max(c, 0), 0], my - sxyz[max(c, 0), 1]) \
                    if c >= 0 else np.inf
                if d < best:
                    best, at = d, q
            s[i] = cand[cy, cx, at]
    return s


@njit(cache=True)
def near_pairs_in_order(pl, ps, mid, half, sxyz, reach):
    """Of candidate (leg, station) pairs (by leg, then station), those that may be in
    range (``hypot`` distance from the leg's midpoint ``mid`` to the station at most
    ``(half + reach) (1 + 1e-6) + 1``, ``half`` the leg's half length, ``reach`` the
    station's range): ``(leg, station, distance)``, by leg, then distance, then
    station."""
    n = len(pl)
    out_l = np.empty(n, dtype=np.int64)
    out_s = np.empty(n, dtype=np.int64)
    out_d = np.empty(n)
    m = 0
    i = 0
    while i < n:
        leg = pl[i]
        first = m
        while i < n and pl[i] == leg:
            st = ps[i]
            d = math.hypot(mid[leg, 0] - sxyz[st, 0], mid[leg, 1] - sxyz[st, 1])
            if d <= (half[leg] + reach[st]) * (1.0 + 1e-6) + 1.0:
                k = m  # after the nearer ones and the equally near lower stations
                while k > first and out_d[k - 1] > d:
                    out_s[k], out_d[k] = out_s[k - 1], out_d[k - 1]
                    k -= 1
                out_s[k], out_d[k] = st, d
                out_l[m] = leg
                m += 1
            i += 1
    return out_l[:m].copy(), out_s[:m].copy(), out_d[:m].copy()


@njit(cache=True)
def in_range_throughout(t0, t1, p0, p1, s, sxyz, r2, usable):
    """Legs in range of their station ``s`` (-1: none) for their whole duration, the
    station ``usable``: ``(leg, t_in, t_out)`` (ascending legs), the range times as
    :func:`fleetsim.comms.stations._range_times` gives them."""
    n = len(t0)
    legs = np.empty(n, dtype=np.int64)
    a = np.empty(n)
    b = np.empty(n)
    m = 0
    for i in range(n):
        st = s[i]
        if st < 0 or not usable[st]:
            continue
        ti, to = _range_one(t0[i], t1[i], p0[i, 0], p0[i, 1], p0[i, 2], p1[i, 0], p1[i, 1],
                            p1[i, 2], sxyz[st, 0], sxyz[st, 1], sxyz[st, 2], r2[st])
        if ti == ti and to > ti and ti <= t0[i] and to >= t1[i]:
            legs[m], a[m], b[m] = i, ti, to
            m += 1
    return legs[:m], a[:m], b[:m]


@njit(cache=True)
def sample_points(t0, t1, p0, p1, t_in, t_out, step):
    """Line-of-sight samples of in-range pieces ``[t_in, t_out]`` of legs: each piece
    cut in ``k = max(1, ceil((f_b - f_a) * length / step))`` equal parts (``f_a``,
    ``f_b`` the piece's ends as fractions of the leg, ``length`` its horizontal
    length), its ``k + 1`` samples at fractions ``f_a + (f_b - f_a) * i / k``:
    ``(piece, index in piece, points (m, 3), times)``."""
    n = len(t0)
    ks = np.empty(n, dtype=np.int64)
    fa = np.empty(n)
    fb = np.empty(n)
    total = 0
    for j in range(n):
        span = t1[j] - t0[j]
        length = math.hypot(p1[j, 0] - p0[j, 0], p1[j, 1] - p0[j, 1])
        if span > 0:
            fa[j] = (t_in[j] - t0[j]) / span
            fb[j] = (t_out[j] - t0[j]) / span
        else:
            fa[j], fb[j] = 0.0, 1.0
        c = np.ceil((fb[j] - fa[j]) * length / step)
        ks[j] = max(1, int(c)) if (c == c and abs(c) < 9.2e18) else 1
        total += ks[j] + 1
    piece = np.empty(total, dtype=np.int64)
    pos = np.empty(total, dtype=np.int64)
    pts = np.empty((total, 3))
    times = np.empty(total)
    q = 0
    for j in range(n):
        k = ks[j]
        span = t1[j] - t0[j]
        d = fb[j] - fa[j]
        for i in range(k + 1):
            f = fa[j] + d * i / k
            piece[q], pos[q] = j, i
            for c in range(3):
                pts[q, c] = p0[j, c] + f * (p1[j, c] - p0[j, c])
            times[q] = t0[j] + f * span
            q += 1
    return piece, pos, pts, times


@njit(cache=True)
def visible_runs(piece, pos, times, vis):
    """Runs of visible samples (of :func:`sample_points`), a piece's last sample left
    out and each visible sample standing for the stretch up to the next one:
    ``(piece, start, end)``."""
    m = len(piece)
    out_p = np.empty(m, dtype=np.int64)
    out_a = np.empty(m)
    out_b = np.empty(m)
    r = 0
    for i in range(m):
        last = i + 1 == m or pos[i + 1] == 0
        if not vis[i] or last:
            continue
        if i == 0 or pos[i] == 0 or not vis[i - 1]:
            out_p[r], out_a[r] = piece[i], times[i]
            r += 1
        if not (vis[i + 1] and pos[i + 1] != 0 and not (i + 2 == m or pos[i + 2] == 0)):
            out_b[r - 1] = times[i + 1]
    return out_p[:r], out_a[:r], out_b[:r]

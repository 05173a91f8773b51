"""Compiled loops of the loss-of-separation checks (:mod:`fleetsim.separation`).

The closed form of a pair of legs' loss of separation (:func:`los_piece`), applied to
arrays of pairs (:func:`los_core`) and, in one pass over a monitoring window's
candidate pairs, after the cheap filters that spare most of them the exact test
(:func:`window_narrow`); and the legs of a window clipped to it (:func:`clip_legs`).

The arithmetic is IEEE double precision without fast-math, each operation in the
order of the formulas in :mod:`fleetsim.separation`, so the intervals are the same
bits wherever they are computed. ``maximum`` and ``minimum`` are numpy's (a NaN
argument gives NaN), ``clip`` numpy's ``minimum(maximum(x, lo), hi)``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["clip_legs", "grown_boxes", "los_core", "los_piece", "merge_pieces", "piece_order", "points_at",
           "window_narrow"]


@njit(cache=True)
def _max(a: float, b: float) -> float:
    """numpy.maximum of two floats: NaN if either is NaN."""
    if a != a:
        return a
    return a if a > b else b


@njit(cache=True)
def _min(a: float, b: float) -> float:
    """numpy.minimum of two floats: NaN if either is NaN."""
    if a != a:
        return a
    return a if a < b else b


@njit(cache=True)
def _clip(x: float, lo: float, hi: float) -> float:
    """numpy.clip of a float between two others."""
    return _min(_max(x, lo), hi)


@njit(cache=True, error_model="numpy")
def los_piece(lo, hi, dx, dy, dz, wx, wy, wz, r, h):
    """Loss of separation of one pair of legs whose offset is ``d + w (t - lo)`` on
    their common time ``[lo, hi]`` (s; none if ``hi < lo``): offset ``pb - pa`` at
    ``lo`` (m), relative velocity (m/s), radius and half-height of the cylinder (m).

    Returns ``(hit, start, end, t_min, d_min)``: whether the pair is in loss for a
    positive time, and then when (s), when the horizontal distance is least within
    it (s) and that distance (m).

    Horizontal: ``|d + w tau|^2 < R^2``, i.e. ``a tau^2 + 2 b tau + c < 0``. Its
    discriminant ``b^2 - a c = a R^2 - (d x w)^2`` (Lagrange's identity) has no
    cancellation; the roots are ``tau* -+ sqrt(disc) / a`` around the closest approach
    ``tau* = -b / a``. Without relative horizontal motion (``a == 0``) it is all or
    nothing. Vertical: ``|dz + wz tau| < H``, roots ``(-H - dz) / wz`` and
    ``(H - dz) / wz``; with ``wz == 0`` (either sign) they are -inf and +inf if
    ``|dz| < H``, two infinities of the same sign (an empty interval) if ``|dz| > H``,
    and NaN (empty) if ``|dz| == H``. A NaN fails ``end > start``. A bound that
    reaches the end of the common time is that time exactly.
    """
    a = wx * wx + wy * wy
    cross = dx * wy - dy * wx
    r2 = r * r
    moving = a > 0.0
    if moving:
        if not a * r2 - cross * cross > 0.0:
            return False, 0.0, 0.0, 0.0, 0.0
    elif not dx * dx + dy * dy < r2:
        return False, 0.0, 0.0, 0.0, 0.0
    length = hi - lo
    t_star = 0.0
    if moving:
        t_star = -(dx * wx + dy * wy) / a
        half = math.sqrt(a * r2 - cross * cross) / a
        h_lo = t_star - half
        h_hi = t_star + half
    else:
        h_lo = -np.inf
        h_hi = np.inf
    z1 = (-h - dz) / wz
    z2 = (h - dz) / wz
    tau_s = _max(_max(h_lo, _min(z1, z2)), 0.0)
    tau_e = _min(_min(h_hi, _max(z1, z2)), length)
    start = lo if tau_s == 0.0 else _min(lo + tau_s, hi)
    end = hi if tau_e >= length else _min(lo + tau_e, hi)
    if not end > start:
        return False, 0.0, 0.0, 0.0, 0.0
    # Closest horizontal approach inside the interval (its start without motion).
    tau_c = _clip(t_star, tau_s, tau_e) if moving else tau_s
    t_min = _clip(lo + tau_c, start, end)
    d_min = math.hypot(dx + wx * tau_c, dy + wy * tau_c)
    return True, start, end, t_min, d_min


@njit(cache=True, error_model="numpy")
def los_core(lo, hi, dx, dy, dz, wx, wy, wz, r, h):
    """:func:`los_piece` of ``k`` pairs ((k,) arrays; ``r`` and ``h`` too). Returns
    ``idx`` (the pairs in loss, ascending) and their ``start``, ``end``, ``t_min`` (s)
    and ``d_min`` (m)."""
    k = len(lo)
    idx = np.empty(k, dtype=np.int64)
    out = np.empty((4, k))
    m = 0
    for p in range(k):
        hit, s, e, tm, dm = los_piece(lo[p], hi[p], dx[p], dy[p], dz[p], wx[p], wy[p],
                                      wz[p], r[p], h[p])
        if hit:
            idx[m] = p
            out[0, m], out[1, m], out[2, m], out[3, m] = s, e, tm, dm
            m += 1
    return idx[:m].copy(), out[0, :m].copy(), out[1, :m].copy(), out[2, :m].copy(), \
        out[3, :m].copy()


#: Columns of the clipped legs' matrix (:func:`clip_legs`): clipped start and end (s),
#: position at the clipped start (m), velocity (m/s), lower and upper bounds of the
#: clipped segment (m), radius and half-height (m).
C0, C1, QX, QY, QZ, VX, VY, VZ, LOX, LOY, LOZ, HIX, HIY, HIZ, RAD, HH = range(16)


@njit(cache=True, error_model="numpy")
def clip_legs(t0, t1, p0, p1, r, h, t_lo, t_hi):
    """The legs (t0, t1, p0 -> p1, radius ``r``, half-height ``h``) that overlap
    ``[t_lo, t_hi]`` for a positive time, clipped to it: their indexes and a row each
    (columns :data:`C0` ... :data:`HH`; velocity 0 for a leg without end). A clip at a
    leg's own start or end keeps its position exactly."""
    n = len(t0)
    legs = np.empty(n, dtype=np.int64)
    m = 0
    for k in range(n):
        if _min(t1[k], t_hi) > _max(t0[k], t_lo):
            legs[m] = k
            m += 1
    legs = legs[:m].copy()
    w = np.empty((m, 16))
    for k in range(m):
        leg = legs[k]
        a_t0, a_t1 = t0[leg], t1[leg]
        cc0, cc1 = _max(a_t0, t_lo), _min(a_t1, t_hi)
        w[k, C0], w[k, C1] = cc0, cc1
        dur = a_t1 - a_t0
        s0 = (cc0 - a_t0) / dur
        s1 = 1.0 if cc1 == a_t1 else (cc1 - a_t0) / dur  # 0 for a leg without end
        for axis in range(3):
            a0, a1 = p0[leg, axis], p1[leg, axis]
            da = a1 - a0
            x0 = a0 if s0 == 0.0 else a0 + s0 * da
            x1 = a1 if s1 == 1.0 else a0 + s1 * da
            w[k, QX + axis] = x0
            w[k, VX + axis] = da / dur
            w[k, LOX + axis] = _min(x0, x1)
            w[k, HIX + axis] = _max(x0, x1)
        w[k, RAD], w[k, HH] = r[leg], h[leg]
    return legs, w


@njit(cache=True)
def grown_boxes(w):
    """Of clipped legs (rows of ``w``, at least one): half the largest radius, the
    horizontal boxes grown by it (xmin, ymin, xmax, ymax), and whether one radius and
    one half-height serve every leg (numpy's ``max``, ``min``: NaN if any is NaN)."""
    n = len(w)
    r_lo = r_hi = w[0, RAD]
    h_lo = h_hi = w[0, HH]
    for k in range(n):
        r_lo, r_hi = _min(r_lo, w[k, RAD]), _max(r_hi, w[k, RAD])
        h_lo, h_hi = _min(h_lo, w[k, HH]), _max(h_hi, w[k, HH])
    grow = 0.5 * r_hi
    bx0 = np.empty(n)
    by0 = np.empty(n)
    bx1 = np.empty(n)
    by1 = np.empty(n)
    for k in range(n):
        bx0[k], by0[k] = w[k, LOX] - grow, w[k, LOY] - grow
        bx1[k], by1[k] = w[k, HIX] + grow, w[k, HIY] + grow
    return grow, bx0, by0, bx1, by1, r_lo == r_hi, h_lo == h_hi


@njit(cache=True, error_model="numpy")
def _narrow_one(w, i, j, uniform_r, uniform_h):
    """Clipped legs ``i`` and ``j`` (rows of ``w``; ``i`` the lower index) with the
    larger radius and half-height of the two: whether they reach the exact test (they
    share a positive time in the window and their extents are closer than the minima
    vertically, and horizontally too unless one radius serves every leg, for which the
    broad phase's boxes made that test), and :func:`los_piece` of their offset from
    the start of their common time."""
    rp = w[0, RAD] if uniform_r else _max(w[i, RAD], w[j, RAD])
    hp = w[0, HH] if uniform_h else _max(w[i, HH], w[j, HH])
    pair_lo = _max(w[i, C0], w[j, C0])
    pair_hi = _min(w[i, C1], w[j, C1])
    checked = pair_lo < pair_hi \
        and _max(w[j, LOZ] - w[i, HIZ], w[i, LOZ] - w[j, HIZ]) < hp
    if checked and not uniform_r:
        checked = _max(w[j, LOX] - w[i, HIX], w[i, LOX] - w[j, HIX]) < rp \
            and _max(w[j, LOY] - w[i, HIY], w[i, LOY] - w[j, HIY]) < rp
    if not checked:
        return False, False, 0.0, 0.0, 0.0, 0.0
    dt_i = pair_lo - w[i, C0]
    dt_j = pair_lo - w[j, C0]
    vi, vj = w[i, VX], w[j, VX]
    dx = (w[j, QX] + vj * dt_j) - (w[i, QX] + vi * dt_i)
    wx = vj - vi
    vi, vj = w[i, VY], w[j, VY]
    dy = (w[j, QY] + vj * dt_j) - (w[i, QY] + vi * dt_i)
    wy = vj - vi
    vi, vj = w[i, VZ], w[j, VZ]
    dz = (w[j, QZ] + vj * dt_j) - (w[i, QZ] + vi * dt_i)
    wz = vj - vi
    hit, s, e, tm, dm = los_piece(pair_lo, pair_hi, dx, dy, dz, wx, wy, wz, rp, hp)
    return True, hit, s, e, tm, dm


@njit(cache=True, error_model="numpy")
def window_narrow(ci, cj, w, uniform_r, uniform_h, legs, veh):
    """The losses of separation among the candidate pairs ``(ci, cj)`` (``ci < cj``) of
    clipped legs (rows of ``w``, vehicles ``veh``; :func:`_narrow_one`). Returns per
    loss the legs (indexes ``legs`` of the clipped legs; ``leg_a`` of the smaller
    vehicle), start, end, t_min and d_min, and the number of pairs tested exactly."""
    k = len(ci)
    leg_a = np.empty(k, dtype=np.int64)
    leg_b = np.empty(k, dtype=np.int64)
    out = np.empty((4, k))
    m = checked = 0
    for p in range(k):
        i, j = ci[p], cj[p]
        tested, hit, s, e, tm, dm = _narrow_one(w, i, j, uniform_r, uniform_h)
        checked += tested
        if hit:
            swap = veh[i] > veh[j]
            leg_a[m], leg_b[m] = (legs[j], legs[i]) if swap else (legs[i], legs[j])
            out[0, m], out[1, m], out[2, m], out[3, m] = s, e, tm, dm
            m += 1
    return leg_a[:m].copy(), leg_b[:m].copy(), out[0, :m].copy(), out[1, :m].copy(), \
        out[2, :m].copy(), out[3, :m].copy(), checked


def _packed(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int] | None:
    """Pairs of integers (a, b) as one int64 key in their lexicographic order, and how
    many keys there can be; None if too many for an int64."""
    a, b = a.astype(np.int64), b.astype(np.int64)
    base = min(int(a.min()), int(b.min()))
    span = max(int(a.max()), int(b.max())) - base + 1
    if span >= 1 << 31:
        return None
    return (a - base) * span + (b - base), span * span


def piece_order(start, va, vb, ia, ib):
    """The order of a window's loss-of-separation pieces (pairs of legs ``ia``, ``ib``
    of vehicles ``va``, ``vb``): by ``start``, then ``va``, ``vb``, the lower leg and
    the higher, stably (numpy's ``lexsort`` of those keys; the integer keys packed into
    one where an int64 holds them)."""
    if len(start) < 2:
        return np.arange(len(start))
    lo, hi = np.minimum(ia, ib), np.maximum(ia, ib)
    kv, kl = _packed(va, vb), _packed(lo, hi)
    if kv is None or kl is None or kv[1] * kl[1] >= 1 << 63:
        return np.lexsort((hi, lo, vb, va, start))
    key = kv[0] * kl[1] + kl[0]
    # (lexsort's order in two passes: by the integer key, then stably by start. Where
    # the keys are distinct, as they are when each pair of legs comes once, the first
    # pass needs no stable sort: the quicker unstable one gives the same order.)
    by_key = np.argsort(key)
    sk = key[by_key]
    if bool((sk[1:] == sk[:-1]).any()):
        return np.lexsort((key, start))
    return by_key[np.argsort(start[by_key], kind="stable")]


@njit(cache=True)
def _point_on(t0, t1, x0, y0, z0, x1, y1, z1, t):
    """Where a leg (t0, t1, p0 -> p1) is at time ``t`` (clamped to the leg; a leg
    without an end, or of no length, stays at p0)."""
    span = t1 - t0
    f = (t - t0) / span if math.isfinite(span) and span > 0.0 else 0.0
    f = _clip(f, 0.0, 1.0)
    return x0 + f * (x1 - x0), y0 + f * (y1 - y0), z0 + f * (z1 - z0)


@njit(cache=True)
def points_at(t0, t1, p0, p1, t):
    """Where legs (t0, t1, p0 -> p1; (m,) and (m, 3)) are at times ``t`` (m,): (m, 3)
    (clamped to each leg; a leg without an end, or of no length, stays at p0)."""
    m = len(t)
    out = np.empty((m, 3))
    for k in range(m):
        out[k, 0], out[k, 1], out[k, 2] = _point_on(
            t0[k], t1[k], p0[k, 0], p0[k, 1], p0[k, 2], p1[k, 0], p1[k, 1], p1[k, 2], t[k])
    return out


@njit(cache=True)
def merge_pieces(key, order, p_start, p_end, p_dmin, open_key, open_start, open_d,
                 t_cont):
    """The losses of separation made of pieces (of pairs ``key``, by pair and then
    start in ``order``): the pieces of a pair that overlap or touch (each starting at
    or before the running end of the ones before) are one loss.

    Per loss (by pair, then start): its pair, start, end, least distance, earliest
    piece, whether it goes on from an open loss (of ``open_key``, sorted: the first
    loss of its pair here, starting by ``t_cont``; it takes the open one's start and
    least distance so far) and that open loss's position."""
    m = len(order)
    g = np.empty(m, dtype=np.int64)
    start = np.empty(m)
    end = np.empty(m)
    d_min = np.empty(m)
    first = np.empty(m, dtype=np.int64)
    n = 0
    for k in range(m):
        p = order[k]
        if n == 0 or key[p] != g[n - 1] or p_start[p] > end[n - 1]:
            g[n], start[n], end[n], d_min[n], first[n] = key[p], p_start[p], p_end[p], \
                p_dmin[p], p
            n += 1
        else:
            end[n - 1] = _max(end[n - 1], p_end[p])
            d_min[n - 1] = _min(d_min[n - 1], p_dmin[p])
    cont = np.zeros(n, dtype=np.bool_)
    pos = np.full(n, -1, dtype=np.int64)
    n_open = len(open_key)
    for k in range(n):
        if (k == 0 or g[k] != g[k - 1]) and start[k] <= t_cont and n_open:
            q = np.searchsorted(open_key, g[k])
            if q < n_open and open_key[q] == g[k]:
                cont[k] = True
                pos[k] = q
                d_min[k] = _min(d_min[k], open_d[q])
                start[k] = open_start[q]
    return g[:n].copy(), start[:n].copy(), end[:n].copy(), d_min[:n].copy(), \
        first[:n].copy(), cont, pos

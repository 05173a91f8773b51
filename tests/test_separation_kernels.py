"""The compiled separation checks against their numpy formulas and brute force, bit for
bit: los_intervals, window_pairs, the order of a window's pieces, positions on legs,
pieces merged into losses, the monitor's pool of legs, terminal areas and events."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from fleetsim.engine.separation import _pair_events
from fleetsim.engine.separation_pool import _checked, _select, merged
from fleetsim.engine.tables import (
    E_DETAIL,
    E_KIND,
    E_LEG,
    E_OPERATOR,
    E_TARGET,
    E_TIME,
    E_VALUE,
    E_VEHICLE,
    E_X,
    E_Z,
    E_ZONE,
    EVENT_WIDTH,
)
from fleetsim.engine.terminal import TerminalAreas
from fleetsim.geometry import merge_intervals
from fleetsim.separation import los_intervals, window_pairs
from fleetsim.separation_kernels import (
    HIX,
    HIY,
    LOX,
    LOY,
    RAD,
    clip_legs,
    grown_boxes,
    merge_pieces,
    piece_order,
    points_at,
)


def _np_los_core(lo, hi, dx, dy, dz, wx, wy, wz, r, h):
    """The loss-of-separation intervals in numpy, array by array."""
    k = len(lo)
    r = np.broadcast_to(r, (k,))
    h = np.broadcast_to(h, (k,))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        a = wx * wx + wy * wy
        cross = dx * wy - dy * wx
        r2 = r * r
        moving = a > 0.0
        near = np.where(moving, a * r2 - cross * cross > 0.0, dx * dx + dy * dy < r2)
        sel = np.flatnonzero(near)
        lo, hi, dx, dy, dz, wx, wy, wz, r2, h, a, cross, moving = (
            v[sel] for v in (lo, hi, dx, dy, dz, wx, wy, wz, r2, h, a, cross, moving))
        length = hi - lo
        t_star = -(dx * wx + dy * wy) / a
        half = np.sqrt(a * r2 - cross * cross) / a
        h_lo = np.where(moving, t_star - half, -np.inf)
        h_hi = np.where(moving, t_star + half, np.inf)
        z1 = (-h - dz) / wz
        z2 = (h - dz) / wz
        tau_s = np.maximum(np.maximum(h_lo, np.minimum(z1, z2)), 0.0)
        tau_e = np.minimum(np.minimum(h_hi, np.maximum(z1, z2)), length)
        start = np.where(tau_s == 0.0, lo, np.minimum(lo + tau_s, hi))
        end = np.where(tau_e >= length, hi, np.minimum(lo + tau_e, hi))
        idx = np.flatnonzero(end > start)
        start, end, tau_s, tau_e = start[idx], end[idx], tau_s[idx], tau_e[idx]
        tau_c = np.where(moving[idx], np.clip(t_star[idx], tau_s, tau_e), tau_s)
        t_min = np.clip(lo[idx] + tau_c, start, end)
        d_min = np.hypot(dx[idx] + wx[idx] * tau_c, dy[idx] + wy[idx] * tau_c)
    return sel[idx], start, end, t_min, d_min


def _np_los_intervals(ta0, ta1, pa0, pa1, tb0, tb1, pb0, pb1, r, h):
    """los_intervals in numpy (no window)."""
    lo = np.maximum(ta0, tb0)
    hi = np.minimum(ta1, tb1)
    valid = (ta1 > ta0) & (tb1 > tb0) & (hi >= lo)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        va = (pa1 - pa0) / (ta1 - ta0)[:, None]
        vb = (pb1 - pb0) / (tb1 - tb0)[:, None]
        d0 = (pb0 + vb * (lo - tb0)[:, None]) - (pa0 + va * (lo - ta0)[:, None])
    idx, s, e, tm, dm = _np_los_core(lo, np.where(valid, hi, -np.inf), *d0.T, *(vb - va).T,
                                     r, h)
    has = np.zeros(len(lo), dtype=bool)
    has[idx] = True
    out = [np.full(len(lo), np.nan) for _ in range(4)]
    for arr, val in zip(out, (s, e, tm, dm), strict=True):
        arr[idx] = val
    return has, *out


def _np_window_pairs(t0, t1, p0, p1, vehicle, r_all, h_all, t_lo, t_hi):
    """window_pairs in numpy, its candidates by brute force (every pair of legs of
    different vehicles whose grown boxes overlap)."""
    tc0, tc1 = np.maximum(t0, t_lo), np.minimum(t1, t_hi)
    legs = np.flatnonzero(tc1 > tc0)
    lt0, lt1, c0, c1 = t0[legs], t1[legs], tc0[legs], tc1[legs]
    dur = lt1 - lt0
    with np.errstate(invalid="ignore"):
        s0 = (c0 - lt0) / dur
        s1 = np.where(c1 == lt1, 1.0, (c1 - lt0) / dur)
    r, hh, veh = r_all[legs], h_all[legs], vehicle[legs]
    q0, vel, lo, hi = [], [], [], []
    for axis in range(3):
        a0, a1 = p0[legs, axis], p1[legs, axis]
        da = a1 - a0
        x0 = np.where(s0 == 0.0, a0, a0 + s0 * da)
        x1 = np.where(s1 == 1.0, a1, a0 + s1 * da)
        q0.append(x0)
        vel.append(da / dur)
        lo.append(np.minimum(x0, x1))
        hi.append(np.maximum(x0, x1))
    grow = 0.5 * r.max()
    bx0, by0, bx1, by1 = lo[0] - grow, lo[1] - grow, hi[0] + grow, hi[1] + grow
    ov = ((bx0[:, None] <= bx1[None, :]) & (bx0[None, :] <= bx1[:, None])
          & (by0[:, None] <= by1[None, :]) & (by0[None, :] <= by1[:, None])
          & (veh[:, None] != veh[None, :]))
    ci, cj = np.nonzero(np.triu(ov, 1))
    uniform_r = r.min() == r.max()
    rp = np.maximum(r[ci], r[cj])
    hp = np.maximum(hh[ci], hh[cj])
    pair_lo = np.maximum(c0[ci], c0[cj])
    pair_hi = np.minimum(c1[ci], c1[cj])
    keep = (pair_lo < pair_hi) & (np.maximum(lo[2][cj] - hi[2][ci], lo[2][ci] - hi[2][cj]) < hp)
    if not uniform_r:
        for axis in (0, 1):
            keep &= np.maximum(lo[axis][cj] - hi[axis][ci], lo[axis][ci] - hi[axis][cj]) < rp
    k = np.flatnonzero(keep)
    ci, cj, pair_lo, pair_hi, rp, hp = ci[k], cj[k], pair_lo[k], pair_hi[k], rp[k], hp[k]
    dt_i, dt_j = pair_lo - c0[ci], pair_lo - c0[cj]
    d = [(q0[ax][cj] + vel[ax][cj] * dt_j) - (q0[ax][ci] + vel[ax][ci] * dt_i) for ax in range(3)]
    w = [vel[ax][cj] - vel[ax][ci] for ax in range(3)]
    hit, start, end, t_min, d_min = _np_los_core(pair_lo, pair_hi, *d, *w, rp, hp)
    hi_, hj = ci[hit], cj[hit]
    swap = veh[hi_] > veh[hj]
    ia, ib = legs[np.where(swap, hj, hi_)], legs[np.where(swap, hi_, hj)]
    va, vb = vehicle[ia], vehicle[ib]
    order = np.lexsort((np.maximum(ia, ib), np.minimum(ia, ib), vb, va, start))
    return {"leg_a": ia[order], "leg_b": ib[order], "vehicle_a": va[order],
            "vehicle_b": vb[order], "start": start[order], "end": end[order],
            "t_min": t_min[order], "d_min": d_min[order], "pairs_checked": len(k)}


def _traffic(seed, n=400, side=3000.0):
    """Legs of ``n // 3`` vehicles: straight, hovering, climbing, without end, of no
    duration, some at one point, some starting or ending at a window's edge."""
    rng = np.random.default_rng(seed)
    veh = rng.integers(0, n // 3, n)
    t0 = rng.uniform(-20.0, 60.0, n)
    t1 = t0 + rng.exponential(20.0, n)
    t0[:20] = np.round(t0[:20] / 30.0) * 30.0  # on window edges
    t1[20:40] = np.round(t1[20:40] / 30.0) * 30.0
    t1[40:45] = t0[40:45]  # no duration
    t1[45:50] = np.inf  # without end
    p0 = np.column_stack([rng.uniform(0, side, n), rng.uniform(0, side, n),
                          rng.choice([60.0, 75.0, 90.0], n)])
    p1 = p0 + rng.normal(0.0, 200.0, (n, 3)) * np.array([1.0, 1.0, 0.1])
    p1[50:70] = p0[50:70]  # hovering
    p1[70:90, :2] = p0[70:90, :2]  # climbing on the spot
    p0[90:110] = p0[90]  # at one point
    p1[90:110] = p0[90]
    p1[110:130, 2] = p0[110:130, 2]  # level
    return veh, t0, t1, p0, p1


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("per_leg", [False, True])
def test_window_pairs_equal_the_numpy_formulas(seed, per_leg):
    veh, t0, t1, p0, p1 = _traffic(seed)
    n = len(veh)
    rng = np.random.default_rng(seed + 100)
    r = np.where(rng.random(n) < 0.3, 80.0, 50.0) if per_leg else np.full(n, 50.0)
    h = np.where(rng.random(n) < 0.3, 30.0, 15.0) if per_leg else np.full(n, 15.0)
    found = 0
    for t_lo in (0.0, 30.0, 60.0):
        got = window_pairs(t0, t1, p0, p1, veh, r, h, t_lo, t_lo + 30.0)
        want = _np_window_pairs(t0, t1, p0, p1, veh, r, h, t_lo, t_lo + 30.0)
        assert got["pairs_checked"] == want["pairs_checked"]
        for name in ("leg_a", "leg_b", "vehicle_a", "vehicle_b", "start", "end", "t_min",
                     "d_min"):
            assert got[name].dtype == want[name].dtype
            assert got[name].tobytes() == want[name].tobytes(), name
        found += len(got["start"])
    assert found > 50


def test_los_intervals_equal_the_numpy_formulas():
    rng = np.random.default_rng(7)
    k = 20_000
    ta0 = rng.uniform(0.0, 10.0, k)
    ta1 = ta0 + rng.exponential(10.0, k)
    tb0 = rng.uniform(0.0, 10.0, k)
    tb1 = tb0 + rng.exponential(10.0, k)
    ta1[:100] = ta0[:100]
    pa0 = rng.uniform(0.0, 200.0, (k, 3))
    pb0 = rng.uniform(0.0, 200.0, (k, 3))
    pa1 = pa0 + rng.normal(0.0, 100.0, (k, 3))
    pb1 = pb0 + rng.normal(0.0, 100.0, (k, 3))
    pb1[100:300] = pb0[100:300] - pa0[100:300] + pa1[100:300]  # no relative motion
    pb1[300:500, 2] = pb0[300:500, 2] - pa0[300:500, 2] + pa1[300:500, 2]  # level apart
    pb0[500:600, 2] = pa0[500:600, 2] + 15.0  # at the half-height exactly
    pb1[500:600, 2] = pa1[500:600, 2] + 15.0
    r = rng.choice([50.0, 80.0], k)
    got = los_intervals(ta0, ta1, pa0, pa1, tb0, tb1, pb0, pb1, r, 15.0)
    want = _np_los_intervals(ta0, ta1, pa0, pa1, tb0, tb1, pb0, pb1, r, 15.0)
    assert 1000 < got[0].sum() < k
    for g, w in zip(got, want, strict=True):
        assert g.tobytes() == w.tobytes()


@pytest.mark.parametrize("n", [0, 1, 2, 30, 5000])
def test_piece_order_is_lexsort(n):
    rng = np.random.default_rng(n)
    start = rng.choice([0.0, 1.5, 3.0], n) + np.where(rng.random(n) < 0.3,
                                                       rng.uniform(0, 1, n), 0.0)
    va, vb = rng.integers(0, 20, n), rng.integers(0, 20, n)
    ia, ib = rng.integers(0, 50, n), rng.integers(0, 50, n)
    want = np.lexsort((np.maximum(ia, ib), np.minimum(ia, ib), vb, va, start))
    np.testing.assert_array_equal(piece_order(start, va, vb, ia, ib), want)
    # vehicles and legs too many to pack into one key (a window of 2**33 legs), or
    # into two
    for big_v, big_l in ((1, 1 << 33), (1 << 25, 1 << 25), (1 << 40, 1)):
        va2, vb2, ia2, ib2 = va * big_v, vb * big_v, ia * big_l, ib * big_l
        want = np.lexsort((np.maximum(ia2, ib2), np.minimum(ia2, ib2), vb2, va2, start))
        np.testing.assert_array_equal(piece_order(start, va2, vb2, ia2, ib2), want)


@pytest.mark.parametrize("n", [2, 30, 5000, 200_000])
def test_piece_order_is_lexsort_for_distinct_leg_pairs(n):
    """Each pair of legs once, as a window gives them (the quicker path): many equal
    starts (losses going on from the window before all start at its start), vehicles
    repeated over many pairs of legs."""
    rng = np.random.default_rng(n)
    start = np.where(rng.random(n) < 0.6, 60.0, 60.0 + rng.uniform(0, 60, n))
    pairs = rng.permutation(4 * n)[:n]
    ia, ib = pairs // (2 * n), 2 * n + pairs % (2 * n)  # distinct (lower, higher) pairs
    swap = rng.random(n) < 0.5
    ia, ib = np.where(swap, ib, ia), np.where(swap, ia, ib)
    va, vb = rng.integers(0, 40, n), rng.integers(40, 80, n)
    want = np.lexsort((np.maximum(ia, ib), np.minimum(ia, ib), vb, va, start))
    np.testing.assert_array_equal(piece_order(start, va, vb, ia, ib), want)


def _np_points_at(t0, t1, p0, p1, t):
    """Positions on legs in numpy."""
    span = t1 - t0
    ok = np.isfinite(span) & (span > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(ok, (t - t0) / np.where(ok, span, 1.0), 0.0)
    return p0 + np.clip(f, 0.0, 1.0)[:, None] * (p1 - p0)


def test_points_at_equal_the_numpy_formula():
    _, t0, t1, p0, p1 = _traffic(5)
    rng = np.random.default_rng(5)
    t = t0 + rng.uniform(-5.0, 40.0, len(t0))
    got = points_at(t0, t1, p0, p1, t)
    assert got.tobytes() == _np_points_at(t0, t1, p0, p1, t).tobytes()
    assert (got[45:50] == p0[45:50]).all()  # without end: at the start


def _np_merge(key, p_start, p_end, p_dmin, open_key, open_start, open_d, t_cont):
    """Losses of pieces (sorted by start) by numpy and merge_intervals."""
    order = np.lexsort((p_start, key))
    g, start, end = merge_intervals(key, p_start, p_end)
    tag = np.r_[np.zeros(len(g), dtype=np.int8), np.ones(len(key), dtype=np.int8)]
    both = np.lexsort((tag, np.r_[start, p_start[order]], np.r_[g, key[order]]))
    merged = tag[both] == 0
    idx = np.empty(len(order), dtype=np.int64)
    idx[both[~merged] - len(g)] = (np.cumsum(merged) - 1)[~merged]
    d_min = np.full(len(g), np.inf)
    np.minimum.at(d_min, idx, p_dmin[order])
    first = order[np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])]
    lead = np.r_[True, g[1:] != g[:-1]]
    pos = np.searchsorted(open_key, g)
    found = open_key[np.minimum(pos, len(open_key) - 1)] == g
    cont = lead & found & (start <= t_cont)
    d_min[cont] = np.minimum(d_min[cont], open_d[pos[cont]])
    start[cont] = open_start[pos[cont]]
    return g, start, end, d_min, first, cont, np.where(cont, pos, -1)


@pytest.mark.parametrize("seed", [1, 2])
def test_merge_pieces_equal_merge_intervals(seed):
    rng = np.random.default_rng(seed)
    m = 3000
    key = rng.integers(0, 200, m).astype(np.int64)
    p_start = np.sort(np.round(rng.uniform(0.0, 30.0, m), 1))  # ties and touching pieces
    p_start[:400] = 0.0  # at the window's start: going on, if open
    p_end = p_start + np.round(rng.exponential(1.0, m), 1) + 0.1
    p_end[::7] = np.minimum(p_end[::7] + 5.0, 30.0)  # overlapping pieces of one pair
    p_dmin = rng.uniform(0.0, 50.0, m)
    open_key = np.unique(rng.integers(0, 250, 120)).astype(np.int64)
    open_start = rng.uniform(-100.0, 0.0, len(open_key))
    open_d = rng.uniform(0.0, 50.0, len(open_key))
    got = merge_pieces(key, np.argsort(key, kind="stable"), p_start, p_end, p_dmin,
                       open_key, open_start, open_d, 0.05)
    want = _np_merge(key, p_start, p_end, p_dmin, open_key, open_start, open_d, 0.05)
    assert len(got[0]) < m and got[5].sum() > 10
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
        assert g.dtype == w.dtype


def test_merged_is_numpy_insert():
    rng = np.random.default_rng(3)
    for n, k in ((0, 0), (0, 5), (7, 0), (1000, 300)):
        key = np.sort(rng.integers(0, 50, n)).astype(np.float64)
        new = np.sort(rng.integers(0, 50, k)).astype(np.float64)
        other, new_other = rng.integers(0, 10**6, n), rng.integers(0, 10**6, k)
        at = np.searchsorted(key, new, side="right")
        got = merged(key, other, new, new_other)
        np.testing.assert_array_equal(got[0], np.insert(key, at, new))
        np.testing.assert_array_equal(got[1], np.insert(other, at, new_other))


def test_pool_selects_the_legs_of_a_window():
    rng = np.random.default_rng(4)
    n = 5000
    a = np.zeros((n, 13))
    a[:, 3] = rng.uniform(0.0, 100.0, n)
    a[:, 4] = a[:, 3] + rng.exponential(20.0, n)
    a[::11, 4] = -np.inf  # cancelled
    a[:, 5:] = rng.normal(size=(n, 8))
    ids = np.sort(rng.choice(n, 2000, replace=False))
    t0 = a[ids, 3]
    got_ids, rows, keep = _select(ids, t0, a, 40.0, 70.0)
    started = t0 < 70.0
    t1 = a[ids, 4]
    live = started & (t1 >= t0) & (t1 > 40.0)
    dead = started & ((t1 < t0) | (t1 <= 70.0))
    np.testing.assert_array_equal(got_ids, ids[live])
    assert rows.tobytes() == a[ids[live]].tobytes()
    np.testing.assert_array_equal(keep, np.flatnonzero(~dead))


def test_terminal_areas_are_what_the_k_d_tree_says():
    rng = np.random.default_rng(9)
    sites = rng.uniform(0.0, 20_000.0, (30, 2))
    pts = np.r_[rng.uniform(-1000.0, 21_000.0, (20_000, 2)),
                sites[rng.integers(0, 30, 3000)] + rng.normal(0.0, 100.0, (3000, 2)),
                sites[:5] + [[150.0, 0.0]], sites[5:10] + [[0.0, 149.99]]]
    got = TerminalAreas(sites, 150.0).contains(pts)
    want = cKDTree(sites).query(pts, distance_upper_bound=150.0)[0] < 150.0
    np.testing.assert_array_equal(got, want)
    assert 1000 < got.sum() < 3000
    assert not TerminalAreas(sites, 0.0).contains(pts).any()
    assert not TerminalAreas(np.zeros((0, 2)), 150.0).contains(pts).any()


@pytest.mark.parametrize("radius", [50.0, 150.0, 1234.5])
def test_terminal_areas_on_the_radius_are_what_the_k_d_tree_says(radius):
    """Points on the circle and within a few roundings of it (the compiled check leaves
    those to the tree), sites on whole metres and not, packed closer than the radius,
    and the sites themselves (vehicles on their pads)."""
    rng = np.random.default_rng(int(radius))
    sites = np.r_[rng.uniform(0.0, 5000.0, (40, 2)).round(), rng.uniform(0.0, 5000.0, (40, 2))]
    k = 60_000
    ang = rng.uniform(0.0, 2 * np.pi, k)
    r = radius * np.where(rng.random(k) < 0.5, 1.0, 1.0 + rng.normal(0.0, 1e-9, k))
    around = sites[rng.integers(0, len(sites), k)]
    pts = np.r_[around + np.c_[r * np.cos(ang), r * np.sin(ang)], sites,
                sites + [[radius, 0.0]], sites + [[0.0, -radius]],
                rng.uniform(-2000.0, 7000.0, (20_000, 2))]
    got = TerminalAreas(sites, radius).contains(pts)
    want = cKDTree(sites).query(pts, distance_upper_bound=radius)[0] < radius
    np.testing.assert_array_equal(got, want)
    assert 0 < got[:k].sum() < k  # (both sides of the circle)
    # not finite: in no terminal area
    assert not TerminalAreas(sites, radius).contains(np.array([[np.nan, 0.0],
                                                                [np.inf, 1.0]])).any()


def test_grown_boxes_and_uniform_minima():
    _, t0, t1, p0, p1 = _traffic(6)
    n = len(t0)
    r = np.where(np.arange(n) % 5 == 0, 80.0, 50.0)
    _, w = clip_legs(t0, t1, p0, p1, r, np.full(n, 15.0), 0.0, 30.0)
    grow, bx0, by0, bx1, by1, uniform_r, uniform_h = grown_boxes(w)
    assert grow == 0.5 * w[:, RAD].max() == 40.0
    for got, want in ((bx0, w[:, LOX] - grow), (by0, w[:, LOY] - grow),
                      (bx1, w[:, HIX] + grow), (by1, w[:, HIY] + grow)):
        assert got.tobytes() == want.tobytes()
    assert not uniform_r and uniform_h


def test_pair_events_rows():
    key = np.array([3 * 7 + 5, 0 * 7 + 6, 6 * 7 + 1], dtype=np.int64)
    t = np.array([1.0, 2.0, 3.5])
    xyz = np.arange(9.0).reshape(3, 3)
    ev = _pair_events(t, 4, key, 7, xyz, np.broadcast_to(np.nan, (3,)), -1)
    assert ev.shape == (3, EVENT_WIDTH)
    np.testing.assert_array_equal(ev[:, E_VEHICLE], [3, 0, 6])
    np.testing.assert_array_equal(ev[:, E_TARGET], [5, 6, 1])
    np.testing.assert_array_equal(ev[:, E_TIME], t)
    np.testing.assert_array_equal(ev[:, E_X:E_Z + 1], xyz)
    assert (ev[:, E_KIND] == 4).all() and np.isnan(ev[:, E_VALUE]).all()
    assert (ev[:, [E_LEG, E_ZONE, E_OPERATOR, E_DETAIL]] == -1).all()
    ev = _pair_events(t, 4, key, 7, np.zeros((0, 3)), np.array([1.0, 2.0, 3.0]), -1)
    assert np.isnan(ev[:, E_X:E_Z + 1]).all()
    np.testing.assert_array_equal(ev[:, E_VALUE], [1.0, 2.0, 3.0])


def test_pool_takes_in_the_checked_legs_by_start():
    rng = np.random.default_rng(8)
    n = 3000
    a = np.zeros((n, 13))
    a[:, 0] = rng.integers(0, 50, n)  # vehicle
    a[:, 1] = rng.integers(0, 9, n)  # kind
    a[:, 3] = np.round(rng.uniform(0.0, 100.0, n))  # starts, with ties
    checked = rng.random(50) < 0.7
    kinds = rng.random(9) < 0.6
    t0, ids = _checked(a, 100, 2500, checked, kinds)
    rows = a[100:2500]
    keep = checked[rows[:, 0].astype(np.int64)] & kinds[rows[:, 1].astype(np.int64)]
    want_ids = np.arange(100, 2500)[keep]
    o = np.argsort(rows[keep, 3], kind="stable")
    np.testing.assert_array_equal(ids, want_ids[o])
    np.testing.assert_array_equal(t0, rows[keep, 3][o])

"""Closed-form and brute-force checks of fleetsim.separation (loss of separation)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial import cKDTree

from fleetsim import separation
from fleetsim.geometry import merge_intervals
from fleetsim.separation import candidate_pairs, cpa, los_intervals, window_pairs


def _legs(*rows):
    """Rows (t0, t1, p0, p1) -> arrays t0 (k,), t1 (k,), p0 (k, 3), p1 (k, 3)."""
    t0, t1, p0, p1 = zip(*rows, strict=True)
    return (np.array(t0, dtype=float), np.array(t1, dtype=float),
            np.array(p0, dtype=float), np.array(p1, dtype=float))


def _straight(t0, t1, p_at_0, v):
    """A leg from t0 to t1 of a vehicle at ``p_at_0 + v t``."""
    p = np.asarray(p_at_0, dtype=float)
    v = np.asarray(v, dtype=float)
    return (t0, t1, p + v * t0, p + v * t1)


# --- los_intervals / cpa: closed forms ----------------------------------------------


def test_head_on_interval_and_minimum_are_exact():
    # Vehicles at the same altitude approach each other at v1 and v2 from distance D:
    # the gap D - (v1 + v2) t is below R on ((D - R)/(v1 + v2), (D + R)/(v1 + v2)),
    # and zero at D / (v1 + v2).
    R, H = 50.0, 15.0
    D = np.array([1000.0, 333.3, 2500.0, 51.0, 7000.0])
    v1 = np.array([7.0, 12.5, 30.0, 1.0, 22.2])
    v2 = np.array([13.0, 0.3, 30.0, 9.0, 17.9])
    heading = np.array([0.0, 0.7, 2.0, -1.2, 3.0])  # direction of a's travel (rad)
    u = np.column_stack([np.cos(heading), np.sin(heading), np.zeros(5)])
    T = 2.0 * (D + R) / (v1 + v2)
    z = np.array([0.0, 0.0, 80.0])
    a = [_straight(0.0, T[k], z, v1[k] * u[k]) for k in range(5)]
    b = [_straight(0.0, T[k], z + D[k] * u[k], -v2[k] * u[k]) for k in range(5)]
    ta0, ta1, pa0, pa1 = _legs(*a)
    tb0, tb1, pb0, pb1 = _legs(*b)
    has, start, end, t_min, d_min = los_intervals(
        ta0, ta1, pa0, pa1, tb0, tb1, pb0, pb1, R, H)
    assert has.all()
    np.testing.assert_allclose(start, (D - R) / (v1 + v2), rtol=0, atol=1e-9)
    np.testing.assert_allclose(end, (D + R) / (v1 + v2), rtol=0, atol=1e-9)
    np.testing.assert_allclose(t_min, D / (v1 + v2), rtol=0, atol=1e-9)
    np.testing.assert_allclose(d_min, 0.0, rtol=0, atol=1e-9)
    t_cpa, d_cpa = cpa(ta0, ta1, pa0, pa1, tb0, tb1, pb0, pb1)
    np.testing.assert_allclose(t_cpa, D / (v1 + v2), rtol=0, atol=1e-9)
    np.testing.assert_allclose(d_cpa, 0.0, rtol=0, atol=1e-9)
    # Swapping a and b changes nothing.
    swapped = los_intervals(tb0, tb1, pb0, pb1, ta0, ta1, pa0, pa1, R, H)
    np.testing.assert_allclose(swapped[1], start, rtol=0, atol=1e-9)
    np.testing.assert_allclose(swapped[2], end, rtol=0, atol=1e-9)


def test_right_angle_crossing_with_offset():
    # a: (u t, 0), b: (0, -o + v t). |d|^2 = u^2 t^2 + (v t - o)^2 is smallest at
    # t* = o v / (u^2 + v^2), where |d| = |o| u / sqrt(u^2 + v^2).
    u = np.array([10.0, 15.0, 4.0, 20.0, 12.0])
    v = np.array([10.0, 5.0, 25.0, 20.0, 9.0])
    o = np.array([30.0, -70.0, 200.0, 0.0, 64.0])
    t_star = o * v / (u * u + v * v)
    d_star = np.abs(o) * u / np.hypot(u, v)
    k = len(u)
    ta0, ta1 = np.full(k, -100.0), np.full(k, 100.0)
    pa0 = np.column_stack([-100.0 * u, np.zeros(k), np.full(k, 50.0)])
    pa1 = np.column_stack([100.0 * u, np.zeros(k), np.full(k, 50.0)])
    pb0 = np.column_stack([np.zeros(k), -o - 100.0 * v, np.full(k, 55.0)])
    pb1 = np.column_stack([np.zeros(k), -o + 100.0 * v, np.full(k, 55.0)])
    t_cpa, d_cpa = cpa(ta0, ta1, pa0, pa1, ta0, ta1, pb0, pb1)
    np.testing.assert_allclose(t_cpa, t_star, rtol=0, atol=1e-9)
    np.testing.assert_allclose(d_cpa, d_star, rtol=0, atol=1e-9)

    R = 50.0
    has, start, end, t_min, d_min = los_intervals(
        ta0, ta1, pa0, pa1, ta0, ta1, pb0, pb1, R, 15.0)
    inside = d_star < R
    np.testing.assert_array_equal(has, inside)
    half = np.sqrt(R * R - d_star[inside] ** 2) / np.hypot(u, v)[inside]
    np.testing.assert_allclose(start[inside], t_star[inside] - half, rtol=0, atol=1e-9)
    np.testing.assert_allclose(end[inside], t_star[inside] + half, rtol=0, atol=1e-9)
    np.testing.assert_allclose(t_min[inside], t_star[inside], rtol=0, atol=1e-9)
    np.testing.assert_allclose(d_min[inside], d_star[inside], rtol=0, atol=1e-9)
    assert np.isnan(start[~inside]).all() and np.isnan(d_min[~inside]).all()


def test_cpa_is_clamped_to_the_common_time_and_nan_without_one():
    # Head-on with the meeting at t = 50, but the legs overlap only on [0, 40] or [60, 90].
    a = _straight(0.0, 40.0, [0, 0, 0], [10, 0, 0])
    b = _straight(0.0, 40.0, [1000, 0, 0], [-10, 0, 0])
    c = _straight(60.0, 90.0, [0, 0, 0], [10, 0, 0])
    d = _straight(60.0, 90.0, [1000, 0, 0], [-10, 0, 0])
    e = _straight(100.0, 120.0, [1000, 0, 0], [-10, 0, 0])  # no common time with a
    ta0, ta1, pa0, pa1 = _legs(a, c, a)
    tb0, tb1, pb0, pb1 = _legs(b, d, e)
    t, dist = cpa(ta0, ta1, pa0, pa1, tb0, tb1, pb0, pb1)
    np.testing.assert_array_equal(t[:2], [40.0, 60.0])
    np.testing.assert_allclose(dist[:2], [200.0, 200.0], rtol=0, atol=1e-9)
    assert np.isnan(t[2]) and np.isnan(dist[2])
    # A window [45, 55] containing the meeting, on legs that cover it.
    f = _straight(0.0, 100.0, [0, 0, 0], [10, 0, 0])
    g = _straight(0.0, 100.0, [1000, 0, 0], [-10, 0, 0])
    t, dist = cpa(*f, *g, t_lo=45.0, t_hi=47.0)
    assert t[0] == 47.0 and dist[0] == pytest.approx(60.0, abs=1e-9)


def test_vertical_separation():
    # Same track, head-on; vertical offsets 2H + 1, H + 1, exactly H (not < H), H - 1.
    R, H, D, v = 50.0, 15.0, 1000.0, 10.0
    dz = np.array([2 * H + 1, H + 1, H, H - 1, -(H - 1), -H])
    k = len(dz)
    a = _straight(0.0, 100.0, [0, 0, 100], [v, 0, 0])
    ta0, ta1, pa0, pa1 = _legs(*[a] * k)
    tb0, tb1, pb0, pb1 = _legs(*[_straight(0.0, 100.0, [D, 0, 100 + z], [-v, 0, 0])
                                 for z in dz])
    has, start, end, _, _ = los_intervals(ta0, ta1, pa0, pa1, tb0, tb1, pb0, pb1, R, H)
    np.testing.assert_array_equal(has, np.abs(dz) < H)
    np.testing.assert_allclose(start[has], (D - R) / (2 * v), atol=1e-9)
    np.testing.assert_allclose(end[has], (D + R) / (2 * v), atol=1e-9)


@pytest.mark.parametrize("z_b0, climb", [
    (60.0, 2.0),    # crosses 100 - H at t = 12.5 (inside the horizontal interval), leaves at 27.5
    (60.0, 1.0),    # enters the band at t = 25, after the horizontal exit
    (90.0, 2.0),    # in the band from the start, leaves at t = 12.5 (horizontal: 10 .. 15)
    (130.0, -1.5),  # descending from above: band from t = 10 to 30
    (60.0, 0.5),    # too slow: enters the band after the horizontal exit
])
def test_climbing_leg_crosses_the_level(z_b0, climb):
    # a level at z = 100 along +x at u; b head-on from x = D at v, z = z_b0 + climb t.
    # Horizontal: ((D - R) / (u + v), (D + R) / (u + v)); vertical: |z_b0 + c t - 100| < H.
    R, H, u, v, D = 50.0, 15.0, 20.0, 20.0, 500.0
    h_in, h_out = (D - R) / (u + v), (D + R) / (u + v)
    z1, z2 = (100.0 - H - z_b0) / climb, (100.0 + H - z_b0) / climb
    v_in, v_out = min(z1, z2), max(z1, z2)
    lo, hi = max(h_in, v_in, 0.0), min(h_out, v_out, 40.0)
    a = _straight(0.0, 40.0, [0, 0, 100], [u, 0, 0])
    b = _straight(0.0, 40.0, [D, 0, z_b0], [-v, 0, climb])
    has, start, end, t_min, d_min = los_intervals(*a, *b, R, H)
    assert has[0] == (hi > lo)
    if hi > lo:
        assert start[0] == pytest.approx(lo, abs=1e-9)
        assert end[0] == pytest.approx(hi, abs=1e-9)
        # closest horizontal approach (t = D / (u + v) = 12.5) clamped to the interval
        t_c = min(max(D / (u + v), lo), hi)
        assert t_min[0] == pytest.approx(t_c, abs=1e-9)
        assert d_min[0] == pytest.approx(abs(D - (u + v) * t_c), abs=1e-9)
    else:
        assert np.isnan(start[0]) and np.isnan(end[0]) and np.isnan(d_min[0])


def test_parallel_same_speed_legs():
    # Same velocity, lateral offset 30 (< R) or 60 (> R), or exactly R (not < R):
    # in loss over the whole common time [20, 100] or never. Also hovering legs.
    R, H = 50.0, 15.0
    a = _straight(0.0, 100.0, [0, 0, 100], [10, 3, 0.5])
    rows_b = [_straight(20.0, 150.0, [0, off, 100], [10, 3, 0.5]) for off in (30.0, 60.0, R)]
    hover_a = (0.0, 100.0, [5, 5, 100], [5, 5, 100])
    hover_b = (-10.0, 30.0, [45, 5, 110], [45, 5, 110])
    ta0, ta1, pa0, pa1 = _legs(a, a, a, hover_a)
    tb0, tb1, pb0, pb1 = _legs(*rows_b, hover_b)
    has, start, end, t_min, d_min = los_intervals(ta0, ta1, pa0, pa1, tb0, tb1, pb0, pb1, R, H)
    np.testing.assert_array_equal(has, [True, False, False, True])
    assert start[0] == 20.0 and end[0] == 100.0  # exactly the common time
    assert t_min[0] == 20.0 and d_min[0] == pytest.approx(30.0, abs=1e-9)
    assert start[3] == 0.0 and end[3] == 30.0 and d_min[3] == 40.0
    # Restricted to a window: exactly the window.
    has, start, end, _, _ = los_intervals(*a, *rows_b[0], R, H, t_lo=30.0, t_hi=60.0)
    assert has[0] and start[0] == 30.0 and end[0] == 60.0


def test_instantaneous_legs_and_tangent_grazes_never_lose_separation():
    R, H = 50.0, 15.0
    a = (10.0, 10.0, [0, 0, 0], [0, 0, 0])  # zero duration, at the same point as b
    b = (0.0, 20.0, [0, 0, 0], [0, 0, 0])
    # c passes b at exactly R: a single instant at distance R is not a loss
    c = _straight(0.0, 20.0, [-100, R, 0], [10, 0, 0])
    ta0, ta1, pa0, pa1 = _legs(a, c)
    tb0, tb1, pb0, pb1 = _legs(b, b)
    has, start, *_ = los_intervals(ta0, ta1, pa0, pa1, tb0, tb1, pb0, pb1, R, H)
    assert not has.any() and np.isnan(start).all()
    t, d = cpa(ta0, ta1, pa0, pa1, tb0, tb1, pb0, pb1)
    assert np.isnan(t[0]) and t[1] == 10.0 and d[1] == R


def test_per_pair_radius_and_half_height():
    a = _straight(0.0, 100.0, [0, 0, 100], [10, 0, 0])
    b = _straight(0.0, 100.0, [0, 70, 120], [10, 0, 0])  # 70 m aside, 20 m above
    ta0, ta1, pa0, pa1 = _legs(a, a, a)
    tb0, tb1, pb0, pb1 = _legs(b, b, b)
    has, *_ = los_intervals(ta0, ta1, pa0, pa1, tb0, tb1, pb0, pb1,
                            np.array([50.0, 80.0, 80.0]), np.array([30.0, 30.0, 20.0]))
    np.testing.assert_array_equal(has, [False, True, False])


# --- candidate_pairs -------------------------------------------------------------------


def _brute_box_pairs(xmin, ymin, xmax, ymax, group):
    ov = ((xmin[:, None] <= xmax[None, :]) & (xmin[None, :] <= xmax[:, None])
          & (ymin[:, None] <= ymax[None, :]) & (ymin[None, :] <= ymax[:, None])
          & (group[:, None] != group[None, :]))
    i, j = np.nonzero(np.triu(ov, 1))
    return i, j


@pytest.mark.parametrize("chunk", [None, 97])
def test_candidate_pairs_equal_brute_force(monkeypatch, chunk):
    if chunk is not None:  # exercise the chunked pair formation
        monkeypatch.setattr(separation, "_PAIR_CHUNK", chunk)
    rng = np.random.default_rng(7)
    n = 1000
    x = rng.uniform(-2000, 3000, n)
    y = rng.uniform(-1000, 4000, n)
    w = rng.exponential(80.0, n)
    h = rng.exponential(80.0, n)
    long_ = rng.random(n) < 0.03  # long boxes spanning many cells
    w[long_] = rng.uniform(1000, 5000, long_.sum())
    h[long_ & (rng.random(n) < 0.5)] = rng.uniform(1000, 4000)
    # some boxes exactly on cell boundaries, some degenerate (points), some touching
    x[:20] = np.round(x[:20] / 100.0) * 100.0
    w[20:30] = 0.0
    h[20:30] = 0.0
    x[30], w[30], x[31] = 0.0, 100.0, 100.0
    y[30] = y[31] = 0.0
    group = rng.integers(0, 40, n)
    xmin, ymin, xmax, ymax = x, y, x + w, y + h
    i, j = candidate_pairs(xmin, ymin, xmax, ymax, group, 100.0)
    bi, bj = _brute_box_pairs(xmin, ymin, xmax, ymax, group)
    assert len(bi) > 1000
    np.testing.assert_array_equal(i, bi)  # same pairs, each once, sorted by (i, j)
    np.testing.assert_array_equal(j, bj)
    assert (group[i] != group[j]).all() and (i < j).all()
    if group[30] != group[31]:
        assert ((i == 30) & (j == 31)).any()  # touching boxes pair


def test_candidate_pairs_degenerate_inputs():
    for n in (0, 1):
        i, j = candidate_pairs(np.zeros(n), np.zeros(n), np.ones(n), np.ones(n),
                               np.arange(n), 10.0)
        assert len(i) == len(j) == 0
    # all in one group: nothing
    i, _ = candidate_pairs(np.zeros(5), np.zeros(5), np.ones(5), np.ones(5), np.zeros(5), 10.0)
    assert len(i) == 0
    with pytest.raises(ValueError):
        candidate_pairs(np.zeros(2), np.zeros(2), np.ones(2), np.ones(2), np.arange(2), 0.0)
    with pytest.raises(ValueError):
        candidate_pairs(np.zeros(2), np.zeros(2), np.full(2, 1e6), np.full(2, 1e6),
                        np.arange(2), 1.0)


# --- window_pairs ----------------------------------------------------------------------


def test_window_pairs_uses_the_larger_radius_of_a_pair():
    # A leg with a 100 m domain and one with a 10 m domain pass 80 m apart: a loss.
    t0, t1, p0, p1 = _legs(
        _straight(0.0, 30.0, [0, 0, 100], [10, 0, 0]),
        _straight(0.0, 30.0, [300, 80, 100], [-10, 0, 0]),
        _straight(0.0, 30.0, [0, 5000, 100], [10, 0, 0]),
    )
    out = window_pairs(t0, t1, p0, p1, np.array([4, 2, 9]), np.array([100.0, 10.0, 10.0]),
                       15.0, 0.0, 30.0)
    assert out["leg_a"].tolist() == [1] and out["leg_b"].tolist() == [0]
    assert out["vehicle_a"].tolist() == [2] and out["vehicle_b"].tolist() == [4]
    half = math.sqrt(100.0**2 - 80.0**2) / 20.0
    assert out["start"][0] == pytest.approx(15.0 - half, abs=1e-9)
    assert out["end"][0] == pytest.approx(15.0 + half, abs=1e-9)
    assert out["d_min"][0] == pytest.approx(80.0, abs=1e-9)
    assert out["pairs_checked"] == 1


def test_window_pairs_filters_before_the_narrow_phase():
    # Same place, but one in the window's first half and one in its second; or 40 m apart
    # vertically (H = 15): candidates of the broad phase that never reach the narrow phase.
    t0, t1, p0, p1 = _legs(
        (0.0, 10.0, [0, 0, 100], [50, 0, 100]),
        (12.0, 30.0, [0, 0, 100], [50, 0, 100]),
        (0.0, 30.0, [10, 0, 140], [40, 0, 140]),
        (-50.0, 0.0, [0, 0, 100], [0, 0, 100]),  # ends at the window's start
    )
    out = window_pairs(t0, t1, p0, p1, np.arange(4), 50.0, 15.0, 0.0, 30.0)
    assert out["pairs_checked"] == 0 and len(out["start"]) == 0
    out = window_pairs(t0, t1, p0, p1, np.arange(4), 50.0, 41.0, 0.0, 30.0)
    assert out["pairs_checked"] == 2
    assert out["leg_a"].tolist() == [0, 1] and out["leg_b"].tolist() == [2, 2]
    np.testing.assert_array_equal(out["start"], [0.0, 12.0])
    np.testing.assert_array_equal(out["end"], [10.0, 30.0])


def test_legs_without_end_hover_at_their_start():
    # t1 = inf: the position p0 + (p1 - p0) (t - t0) / (t1 - t0) stays at p0.
    t0, t1, p0, p1 = _legs(
        (0.0, math.inf, [0, 0, 100], [900, 0, 100]),
        _straight(0.0, 100.0, [-200, 20, 100], [10, 0, 0]),
    )
    out = window_pairs(t0, t1, p0, p1, np.array([0, 1]), 50.0, 15.0, 0.0, 30.0)
    half = math.sqrt(50.0**2 - 20.0**2) / 10.0
    np.testing.assert_allclose(out["start"], [20.0 - half], atol=1e-9)
    np.testing.assert_allclose(out["end"], [20.0 + half], atol=1e-9)
    has, start, *_ = los_intervals(t0[0], t1[0], p0[0], p1[0], t0[1], t1[1], p0[1], p1[1],
                                   50.0, 15.0)
    assert has[0] and start[0] == pytest.approx(20.0 - half, abs=1e-9)


def _random_traffic(rng, n_vehicles, t_end, side, levels):
    """Vehicles flying 3-6 consecutive straight legs (some hover, some climb)."""
    rows = []
    for veh in range(n_vehicles):
        n_legs = int(rng.integers(3, 7))
        t_start = rng.uniform(0.0, 0.2 * t_end)
        t_stop = rng.uniform(0.8 * t_end, t_end)
        times = np.r_[t_start, np.sort(rng.uniform(t_start, t_stop, n_legs - 1)), t_stop]
        p = np.r_[rng.uniform(0, side, 2), rng.choice(levels)]
        for t0, t1 in zip(times[:-1], times[1:], strict=True):
            q = p.copy()
            if rng.random() < 0.85:  # otherwise hover
                speed = rng.uniform(8.0, 25.0)
                ang = rng.uniform(0, 2 * np.pi)
                q[:2] = np.clip(p[:2] + speed * (t1 - t0) * np.array([np.cos(ang), np.sin(ang)]),
                                0.0, side)
            if rng.random() < 0.3:
                q[2] = rng.choice(levels)  # climb or descend to another level
            rows.append((veh, t0, t1, p, q))
            p = q
    veh, t0, t1, p0, p1 = zip(*rows, strict=True)
    return (np.array(veh), np.array(t0), np.array(t1), np.array(p0), np.array(p1))


def _sampled_los(veh, t0, t1, p0, p1, n_vehicles, dt, n_samples, R, H):
    """All (pair key, sample index) in loss of separation, checked at t = k dt."""
    order = np.lexsort((t0, veh))
    veh, t0, t1, p0, p1 = veh[order], t0[order], t1[order], p0[order], p1[order]
    first = np.searchsorted(veh, np.arange(n_vehicles))
    count = np.diff(np.r_[first, len(veh)])
    pad = np.full((n_vehicles, count.max()), np.inf)
    pad[veh, np.arange(len(veh)) - first[veh]] = t0
    keys, ks = [], []
    for k in range(n_samples):
        t = k * dt
        idx = (pad <= t).sum(axis=1) - 1
        leg = first + np.maximum(idx, 0)
        on = (idx >= 0) & (t < t1[leg])
        leg = leg[on]
        s = ((t - t0[leg]) / (t1[leg] - t0[leg]))[:, None]
        pos = p0[leg] + s * (p1[leg] - p0[leg])
        pr = cKDTree(pos[:, :2]).query_pairs(R, output_type="ndarray")
        if len(pr) == 0:
            continue
        a, b = pr[:, 0], pr[:, 1]
        d = pos[b] - pos[a]
        hit = (np.hypot(d[:, 0], d[:, 1]) < R) & (np.abs(d[:, 2]) < H)
        va, vb = veh[leg[a[hit]]], veh[leg[b[hit]]]
        keys.append(np.minimum(va, vb) * n_vehicles + np.maximum(va, vb))
        ks.append(np.full(hit.sum(), k))
    return np.concatenate(keys), np.concatenate(ks)


def test_window_pairs_match_brute_force_sampling():
    rng = np.random.default_rng(20240607)
    V, T, side, R, H, window, dt = 300, 600.0, 5000.0, 50.0, 15.0, 30.0, 0.05
    veh, t0, t1, p0, p1 = _random_traffic(rng, V, T, side, levels=[60.0, 90.0, 120.0])

    pieces, checked, max_active = [], 0, 0
    for w0 in np.arange(0.0, T, window):
        out = window_pairs(t0, t1, p0, p1, veh, R, H, w0, w0 + window)
        assert (out["vehicle_a"] < out["vehicle_b"]).all()
        assert (np.diff(out["start"]) >= 0).all()
        assert ((out["start"] >= w0) & (out["end"] <= w0 + window)).all()
        assert (out["d_min"] < R).all()
        pieces.append(np.column_stack([out["vehicle_a"] * V + out["vehicle_b"],
                                       out["start"], out["end"]]))
        n_active = int(((np.minimum(t1, w0 + window) - np.maximum(t0, w0)) > 0).sum())
        assert out["pairs_checked"] < 0.01 * n_active**2
        checked += out["pairs_checked"]
        max_active = max(max_active, n_active)
    pieces = np.concatenate(pieces)
    key, start, end = merge_intervals(pieces[:, 0].astype(np.int64), pieces[:, 1],
                                      pieces[:, 2])
    assert len(key) > 300  # a meaningful amount of traffic conflicts
    assert len(pieces) - len(key) > 20  # some losses span window edges or leg boundaries

    s_key, s_k = _sampled_los(veh, t0, t1, p0, p1, V, dt, int(T / dt) + 1, R, H)
    order = np.lexsort((s_k, s_key))
    s_key, s_k = s_key[order], s_k[order]
    s_t = s_k * dt
    tol = 1e-6

    # No sampled loss without a true one: every sample lies in an interval of its pair.
    j = np.searchsorted(key * 1.0, s_key)  # first interval of the pair (key is sorted)
    for i_pair in np.unique(s_key):
        sl = slice(np.searchsorted(s_key, i_pair), np.searchsorted(s_key, i_pair, "right"))
        il = slice(j[sl.start], np.searchsorted(key, i_pair, "right"))
        assert il.stop > il.start, f"pair {divmod(i_pair, V)} sampled in loss, none found"
        st, en = start[il], end[il]
        m = np.searchsorted(st, s_t[sl] + tol, "right") - 1
        assert (m >= 0).all() and (s_t[sl] <= en[np.maximum(m, 0)] + tol).all()

    # Every sample strictly inside a true interval is a sampled loss (short ones too).
    sampled = set(zip(s_key.tolist(), s_k.tolist(), strict=True))
    for kk, st, en in zip(key.tolist(), start.tolist(), end.tolist(), strict=True):
        k_in = range(math.floor((st + tol) / dt) + 1, math.ceil((en - tol) / dt))
        assert all((kk, k) in sampled for k in k_in if st + tol < k * dt < en - tol)

    # Each true interval of >= 0.2 s matches a sampled run within dt at both ends.
    new_run = np.r_[True, (s_key[1:] != s_key[:-1]) | (s_k[1:] != s_k[:-1] + 1)]
    r0 = np.flatnonzero(new_run)
    r1 = np.r_[r0[1:], len(s_k)] - 1
    runs = {(int(s_key[a]), int(s_k[a])): s_t[b] for a, b in zip(r0, r1, strict=True)}
    by_pair: dict[int, list[tuple[float, float]]] = {}
    for (kk, k), last in runs.items():
        by_pair.setdefault(kk, []).append((k * dt, last))
    long_ = end - start >= 0.2
    assert long_.sum() > 200
    for kk, st, en in zip(key[long_], start[long_], end[long_], strict=True):
        assert any(abs(a - st) <= dt + tol and abs(b - en) <= dt + tol
                   for a, b in by_pair.get(int(kk), [])), (divmod(kk, V), st, en)
    assert checked < 0.01 * max_active**2 * (T / window)

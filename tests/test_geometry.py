"""Closed-form checks of fleetsim.geometry (legs vs. discs, points and zones)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import shapely

from fleetsim.geometry import (
    closest_approach,
    disc_intervals,
    fractions_within,
    merge_intervals,
    time_at_fraction,
    zone_intervals,
)

INF = math.inf


@dataclass(frozen=True)
class Z:
    """A zone as zone_intervals reads it."""

    polygon: shapely.Geometry
    floor_amsl_m: float = -INF
    ceiling_amsl_m: float = INF
    start_s: float = 0.0
    end_s: float = INF


# --- disc_intervals ----------------------------------------------------------


def test_straight_pass_at_lateral_offset():
    # A vehicle at speed v along the x axis passes a point at lateral offset d;
    # it is within r from t_c - sqrt(r^2 - d^2)/v to t_c + sqrt(r^2 - d^2)/v.
    v, r = 12.5, 80.0
    d = np.array([0.0, 10.0, 45.0, 79.0, -60.0])
    xc = np.array([400.0, 500.0, 610.0, 333.0, 800.0])
    t0, x_start = 7.0, -100.0
    t1 = t0 + 1300.0 / v
    p0 = np.tile([x_start, 0.0, 120.0], (len(d), 1))
    p1 = np.tile([x_start + 1300.0, 0.0, 120.0], (len(d), 1))
    t_in, t_out = disc_intervals(t0, t1, p0, p1, np.column_stack([xc, d]), r)
    t_c = t0 + (xc - x_start) / v
    half = np.sqrt(r * r - d * d) / v
    np.testing.assert_allclose(t_in, t_c - half, rtol=0, atol=1e-10)
    np.testing.assert_allclose(t_out, t_c + half, rtol=0, atol=1e-10)


def test_radius_per_leg_and_misses_are_nan():
    p0 = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    p1 = np.array([[100.0, 0.0], [100.0, 0.0], [100.0, 0.0]])
    centers = np.array([[50.0, 30.0], [50.0, 30.0], [300.0, 0.0]])
    t_in, t_out = disc_intervals(0.0, 10.0, p0, p1, centers, np.array([50.0, 20.0, 50.0]))
    assert t_in[0] == pytest.approx(1.0) and t_out[0] == pytest.approx(9.0)
    assert np.isnan(t_in[1:]).all() and np.isnan(t_out[1:]).all()


def test_stationary_hover_inside_and_outside():
    p = np.array([[10.0, 20.0, 50.0], [10.0, 20.0, 50.0], [10.0, 20.0, 50.0]])
    centers = np.array([[13.0, 24.0], [10.0, 25.0], [16.0, 28.0]])  # 5 m, 5 m, 10 m away
    t_in, t_out = disc_intervals(100.0, 160.0, p, p, centers, 5.0)
    assert t_in[:2].tolist() == [100.0, 100.0] and t_out[:2].tolist() == [160.0, 160.0]
    assert np.isnan(t_in[2]) and np.isnan(t_out[2])


def test_vertical_leg_is_stationary_horizontally():
    t_in, t_out = disc_intervals(0.0, 30.0, [[0.0, 0.0, 0.0]], [[0.0, 0.0, 90.0]],
                                 [[3.0, 4.0]], 5.0)
    assert (t_in[0], t_out[0]) == (0.0, 30.0)


def test_pass_that_starts_or_ends_inside_is_exact_at_the_leg_end():
    t0, t1 = 0.1, 0.7  # t0 + s (t1 - t0) is not exactly t1 at s = 1 for these
    p0 = np.array([[0.0, 0.0], [-100.0, 0.0]])
    p1 = np.array([[100.0, 0.0], [0.0, 0.0]])
    t_in, t_out = disc_intervals(t0, t1, p0, p1, np.array([[10.0, 0.0], [-10.0, 0.0]]), 20.0)
    assert t_in[0] == t0 and t_out[0] == pytest.approx(t0 + 0.3 * (t1 - t0))
    assert t_out[1] == t1 and t_in[1] == pytest.approx(t0 + 0.7 * (t1 - t0))


def test_leg_inside_the_whole_time():
    t_in, t_out = disc_intervals(3.0, 4.0, [[0.0, 0.0]], [[1.0, 1.0]], [[0.5, 0.5]], 10.0)
    assert (t_in[0], t_out[0]) == (3.0, 4.0)


def test_single_point_broadcasts():
    t_in, _ = disc_intervals(np.zeros(3), np.full(3, 10.0), np.zeros((3, 2)),
                             np.array([[10.0, 0], [0, 10.0], [-10.0, 0]]), [5.0, 0.0], 1.0)
    assert t_in[0] == pytest.approx(4.0) and np.isnan(t_in[1:]).all()


def test_tangent_pass_touches_the_closed_disc_once():
    t_in, t_out = disc_intervals(0.0, 10.0, [[0.0, 0.0]], [[100.0, 0.0]], [[50.0, 10.0]], 10.0)
    assert (t_in[0], t_out[0]) == (5.0, 5.0)


def test_a_leg_starting_exactly_on_the_circle_is_inside_until_it_leaves():
    """Target exactly r = 20 ahead of (or behind) the start: c = |d|^2 - r^2 is exactly 0,
    one root is s = 0 and the other 2 r / L. Ahead, the leg is inside for 2 r / v = 4 s
    (not an instant); behind, it only touches the circle at its start."""
    t_in, t_out = disc_intervals(10.0, 20.0, [[0.0, 0.0], [0.0, 0.0]],
                                 [[100.0, 0.0], [100.0, 0.0]], [[20.0, 0.0], [-20.0, 0.0]],
                                 20.0)
    assert (t_in.tolist(), t_out.tolist()) == ([10.0, 10.0], [14.0, 10.0])
    s_lo, s_hi = fractions_within([1e4, 1e4], [-2000.0, 2000.0], [0.0, 0.0])
    assert (s_lo.tolist(), s_hi.tolist()) == ([0.0, 0.0], [0.4, 0.0])


def test_fractions_within_the_quadratic():
    # (s - 0.25)(s - 0.5) = s^2 - 0.75 s + 0.125: a = 1, b = -0.375, c = 0.125.
    s_lo, s_hi = fractions_within([1.0, 1.0, 0.0, 0.0, 1.0], [-0.375, 0.0, 0.0, 0.0, 1.0],
                                  [0.125, -4.0, -1.0, 1.0, 0.0])
    assert s_lo[:3].tolist() == [0.25, 0.0, 0.0] and s_hi[:3].tolist() == [0.5, 1.0, 1.0]
    assert np.isnan(s_lo[3]) and (s_lo[4], s_hi[4]) == (0.0, 0.0)  # roots -2 and 0


def test_time_at_fraction_is_exact_at_the_ends_and_monotone():
    t0 = np.full(1001, 0.1)
    t1 = np.full(1001, 0.7)
    s = np.linspace(0.0, 1.0, 1001)
    t = time_at_fraction(t0, t1, s)
    assert t[0] == 0.1 and t[-1] == 0.7 and np.all(np.diff(t) >= 0)
    assert np.isnan(time_at_fraction(0.0, 1.0, np.nan))


# --- closest_approach --------------------------------------------------------


def test_closest_approach_inside_and_clamped():
    p0 = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [5.0, 5.0]])
    p1 = np.array([[100.0, 0.0], [100.0, 0.0], [100.0, 0.0], [5.0, 5.0]])
    centers = np.array([[30.0, 40.0], [-30.0, 40.0], [130.0, -40.0], [8.0, 9.0]])
    t, d = closest_approach(10.0, 20.0, p0, p1, centers)
    np.testing.assert_allclose(t, [13.0, 10.0, 20.0, 10.0])
    np.testing.assert_allclose(d, [40.0, 50.0, 50.0, 5.0])


def test_closest_approach_in_three_dimensions():
    # Foot of the perpendicular from (1, 2, 2) to the line through (0,0,0) and (3,3,3)
    # is at s = (1 + 2 + 2) / 27 * 3 = 5/9 of the leg.
    t, d = closest_approach(0.0, 9.0, [[0.0, 0.0, 0.0]], [[3.0, 3.0, 3.0]], [[1.0, 2.0, 2.0]])
    foot = np.array([5 / 3, 5 / 3, 5 / 3])
    assert t[0] == pytest.approx(5.0)
    assert d[0] == pytest.approx(np.linalg.norm(foot - [1.0, 2.0, 2.0]))


# --- merge_intervals ---------------------------------------------------------


def test_merge_touching_overlapping_and_separate():
    group = np.array([2, 1, 1, 1, 2, 1, 7])
    start = np.array([5.0, 3.0, 0.0, 10.0, 0.0, 1.0, 4.0])
    end = np.array([6.0, 4.0, 2.0, 11.0, 5.0, 3.0, 4.0])
    g, s, e = merge_intervals(group, start, end)
    assert g.tolist() == [1, 1, 2, 7]
    assert s.tolist() == [0.0, 10.0, 0.0, 4.0]
    assert e.tolist() == [4.0, 11.0, 6.0, 4.0]


def test_merge_with_wide_group_keys_and_nested_intervals():
    group = np.array([3 * 2**40, 5, 3 * 2**40, 5, 5])
    start = np.array([0.0, 0.0, 1.0, 2.0, 20.0])
    end = np.array([10.0, 30.0, 2.0, 3.0, 21.0])  # group 5: [20, 21] lies in [0, 30]
    g, s, e = merge_intervals(group, start, end)
    assert g.tolist() == [5, 3 * 2**40] and s.tolist() == [0.0, 0.0] and e.tolist() == [30.0, 10.0]


def _merged_by_a_plain_loop(group, start, end):
    expect = []
    for key in np.unique(group):
        ivs = sorted(zip(start[group == key], end[group == key], strict=True))
        cur = list(ivs[0])
        for a, b in ivs[1:]:
            if a <= cur[1]:
                cur[1] = max(cur[1], b)
            else:
                expect.append((key, *cur))
                cur = [a, b]
        expect.append((key, *cur))
    return expect


def test_merge_matches_a_plain_loop():
    rng = np.random.default_rng(3)
    group = rng.integers(0, 70_000, 5000)  # wider than 16 bits: two radix passes
    group[::2] = group[1::2]
    start = rng.uniform(0, 100, 5000).round(1)
    end = start + rng.uniform(0, 5, 5000).round(1)
    g, s, e = merge_intervals(group, start, end)
    assert list(zip(g.tolist(), s.tolist(), e.tolist(), strict=True)) == \
        _merged_by_a_plain_loop(group, start, end)


def test_merge_long_intervals_over_chains_of_short_separate_ones():
    # In each group a long interval spans short ones that are apart from each other
    # (each starts after the one before ends, not after the long one): one merged
    # interval, however long the chain; then a separate one after it.
    rng = np.random.default_rng(5)
    groups, starts, ends = [], [], []
    for key in range(40):
        n = int(rng.integers(1, 300))
        a = np.arange(n) * 2.0 + 1.0
        groups += [key] * (n + 2)
        starts += [0.0, *a.tolist(), 2.0 * n + 5.0]
        ends += [2.0 * n + 1.0 + key % 3, *(a + 0.5).tolist(), 2.0 * n + 6.0]
    group, start, end = np.array(groups), np.array(starts), np.array(ends)
    order = rng.permutation(len(group))
    group, start, end = group[order], start[order], end[order]
    g, s, e = merge_intervals(group, start, end)
    got = list(zip(g.tolist(), s.tolist(), e.tolist(), strict=True))
    assert got == _merged_by_a_plain_loop(group, start, end)
    assert len(got) == 80


def test_merge_with_starts_closer_than_the_sort_key_resolves():
    # Group keys 2**30 apart leave the sort ~20 bits for the starts: starts that differ
    # by less than the range / 2**20 share a key and are put in order exactly after it.
    rng = np.random.default_rng(11)
    n = 6000
    group = rng.integers(0, 3, n) * 2**29
    start = rng.integers(0, 50, n) * 10.0 + rng.integers(0, 4, n) * 1e-9
    end = start + rng.choice([0.0, 5e-10, 1e-9, 3.0, 12.0], n)
    g, s, e = merge_intervals(group, start, end)
    assert list(zip(g.tolist(), s.tolist(), e.tolist(), strict=True)) == \
        _merged_by_a_plain_loop(group, start, end)


def test_merge_with_starts_a_few_subnormals_apart():
    group = np.array([1, 1, 1, 2, 2])
    start = np.array([5e-324, 0.0, 1e-323, 0.0, 0.0])
    end = np.array([5e-324, 0.0, 2e-323, 0.0, 1.0])
    g, s, e = merge_intervals(group, start, end)
    assert list(zip(g.tolist(), s.tolist(), e.tolist(), strict=True)) == \
        _merged_by_a_plain_loop(group, start, end) == [(1, 0.0, 0.0), (1, 5e-324, 5e-324),
                                                       (1, 1e-323, 2e-323), (2, 0.0, 1.0)]


def test_merge_keeps_the_group_dtype_over_its_whole_range():
    rng = np.random.default_rng(12)
    for dtype in (np.int16, np.int32, np.uint32, np.int64, np.uint64):
        info = np.iinfo(dtype)
        values = np.array([info.min, info.min + 1, 0, info.max - 1, info.max], dtype=dtype)
        group = values[rng.integers(0, 5, 400)]
        start = rng.uniform(0, 50, 400).round(1)
        end = start + rng.uniform(0, 3, 400).round(1)
        g, s, e = merge_intervals(group, start, end)
        assert g.dtype == dtype
        assert list(zip(g.tolist(), s.tolist(), e.tolist(), strict=True)) == \
            _merged_by_a_plain_loop(group, start, end)


# --- zone_intervals ----------------------------------------------------------


SQUARE = shapely.box(100.0, -50.0, 200.0, 50.0)


def test_leg_crossing_a_square_zone():
    # 0 -> 400 m east in 40 s at 10 m/s: inside from x = 100 to 200, t = 10 .. 20.
    leg, zone, t_in, t_out = zone_intervals([0.0], [40.0], [[0.0, 0.0, 80.0]],
                                            [[400.0, 0.0, 80.0]], [Z(SQUARE)])
    assert leg.tolist() == [0] and zone.tolist() == [0]
    assert t_in[0] == pytest.approx(10.0, abs=1e-12)
    assert t_out[0] == pytest.approx(20.0, abs=1e-12)


def test_leg_above_the_ceiling_or_below_the_floor_is_outside():
    zones = [Z(SQUARE, floor_amsl_m=50.0, ceiling_amsl_m=120.0)]
    out = zone_intervals([0.0, 0.0], [40.0, 40.0], [[0.0, 0.0, 150.0], [0.0, 0.0, 20.0]],
                         [[400.0, 0.0, 150.0], [400.0, 0.0, 20.0]], zones)
    assert all(len(a) == 0 for a in out)


def test_leg_climbing_through_the_ceiling():
    # z goes 0 -> 200 m over 0 .. 40 s; the ceiling (100 m) is passed at t = 20 s,
    # while the leg is inside the polygon from t = 10 s to 20 s.
    zones = [Z(SQUARE, ceiling_amsl_m=100.0)]
    _, _, t_in, t_out = zone_intervals([0.0], [40.0], [[0.0, 0.0, 0.0]],
                                       [[400.0, 0.0, 200.0]], zones)
    assert t_in.tolist() == pytest.approx([10.0]) and t_out.tolist() == pytest.approx([20.0])
    zones = [Z(SQUARE, ceiling_amsl_m=75.0)]  # passed at t = 15 s
    _, _, t_in, t_out = zone_intervals([0.0], [40.0], [[0.0, 0.0, 0.0]],
                                       [[400.0, 0.0, 200.0]], zones)
    assert t_in.tolist() == pytest.approx([10.0]) and t_out.tolist() == pytest.approx([15.0])


def test_zone_active_during_part_of_the_leg():
    # Inside the polygon from t = 10 to 20 s; the windows cut that short.
    zones = [Z(SQUARE, start_s=14.0, end_s=17.5), Z(SQUARE, start_s=15.0),
             Z(SQUARE, end_s=10.0), Z(SQUARE, start_s=20.0)]
    leg, zone, t_in, t_out = zone_intervals([0.0], [40.0], [[0.0, 0.0, 80.0]],
                                            [[400.0, 0.0, 80.0]], zones)
    # The third ends (exclusive) as the leg comes in, the fourth starts as it leaves.
    assert zone.tolist() == [0, 1]
    assert t_in.tolist() == [14.0, 15.0]
    assert t_out[0] == 17.5 and t_out[1] == pytest.approx(20.0)


def test_polygon_with_a_hole_crossed_through_the_hole():
    ring = shapely.Polygon([(100, -50), (300, -50), (300, 50), (100, 50)],
                           holes=[[(150, -20), (250, -20), (250, 20), (150, 20)]])
    _, zone, t_in, t_out = zone_intervals([0.0], [40.0], [[0.0, 0.0, 10.0]],
                                          [[400.0, 0.0, 10.0]], [Z(ring)])
    assert zone.tolist() == [0, 0]
    np.testing.assert_allclose(t_in, [10.0, 25.0], atol=1e-12)
    np.testing.assert_allclose(t_out, [15.0, 30.0], atol=1e-12)


def test_hover_inside_counts_for_its_duration():
    p = [[150.0, 0.0, 30.0], [150.0, 0.0, 30.0], [0.0, 0.0, 30.0]]
    leg, _, t_in, t_out = zone_intervals([5.0, 60.0, 0.0], [60.0, 60.0, 9.0], p, p,
                                         [Z(SQUARE)])
    assert leg.tolist() == [0]  # a zero-duration hover is no interval; outside is none
    assert (t_in[0], t_out[0]) == (5.0, 60.0)


def test_vertical_climb_inside_a_band():
    _, _, t_in, t_out = zone_intervals([0.0], [10.0], [[150.0, 0.0, 0.0]],
                                       [[150.0, 0.0, 100.0]],
                                       [Z(SQUARE, floor_amsl_m=30.0, ceiling_amsl_m=60.0)])
    assert t_in.tolist() == pytest.approx([3.0]) and t_out.tolist() == pytest.approx([6.0])


def test_intervals_at_leg_ends_are_exact_and_consecutive_legs_touch():
    # Two legs that meet inside the zone at t = 0.3 s (not a round binary number).
    t0 = np.array([0.1, 0.3])
    t1 = np.array([0.3, 0.7])
    p0 = np.array([[50.0, 0.0, 0.0], [150.0, 0.0, 0.0]])
    p1 = np.array([[150.0, 0.0, 0.0], [250.0, 0.0, 0.0]])
    leg, _, t_in, t_out = zone_intervals(t0, t1, p0, p1, [Z(SQUARE)])
    assert leg.tolist() == [0, 1]
    assert t_out[0] == 0.3 and t_in[1] == 0.3
    assert t_in[0] == pytest.approx(0.2) and t_out[1] == pytest.approx(0.5)


def test_leg_wholly_inside_reports_its_own_times():
    _, _, t_in, t_out = zone_intervals([0.1], [0.7], [[120.0, -10.0, 0.0]],
                                       [[180.0, 33.0, 0.0]], [Z(SQUARE)])
    assert (t_in[0], t_out[0]) == (0.1, 0.7)


def test_grazing_a_vertex_is_not_inside():
    diamond = shapely.Polygon([(0, -10), (10, 0), (0, 10), (-10, 0)])
    out = zone_intervals([0.0], [10.0], [[10.0, -20.0, 0.0]], [[10.0, 20.0, 0.0]],
                         [Z(diamond)])
    assert all(len(a) == 0 for a in out)


def test_zone_indices_follow_the_sequence_and_legs_are_sorted():
    zones = [Z(shapely.box(0, 0, 10, 10)), Z(SQUARE), Z(shapely.box(-5, -5, 120, 5))]
    leg, zone, _, _ = zone_intervals([0.0, 0.0], [1.0, 1.0],
                                     [[300.0, 0.0, 0.0], [5.0, 2.0, 0.0]],
                                     [[150.0, 0.0, 0.0], [5.0, 3.0, 0.0]], zones)
    assert list(zip(leg.tolist(), zone.tolist(), strict=True)) == [(0, 1), (1, 0), (1, 2)]


def test_zone_intervals_match_dense_sampling():
    # Random legs against a concave polygon with a hole, an altitude band and a
    # window: sample each leg at 2,001 points and compare the inside test with
    # the intervals, away from the boundaries (within one sample step).
    rng = np.random.default_rng(11)
    poly = shapely.Polygon([(0, 0), (600, 0), (600, 400), (300, 150), (0, 400)],
                           holes=[[(100, 50), (200, 50), (200, 120), (100, 120)]])
    zones = [Z(poly, floor_amsl_m=40.0, ceiling_amsl_m=140.0, start_s=30.0, end_s=150.0),
             Z(shapely.box(250, 250, 700, 500))]
    n = 300
    p0 = np.column_stack([rng.uniform(-100, 700, n), rng.uniform(-100, 500, n),
                          rng.uniform(0, 200, n)])
    p1 = np.column_stack([rng.uniform(-100, 700, n), rng.uniform(-100, 500, n),
                          rng.uniform(0, 200, n)])
    p1[:20] = p0[:20]  # hovers
    t0 = rng.uniform(0, 100, n)
    t1 = t0 + rng.uniform(1, 100, n)
    leg, zone, t_in, t_out = zone_intervals(t0, t1, p0, p1, zones)
    s = np.linspace(0.0, 1.0, 2001)
    for i in range(n):
        t = t0[i] + s * (t1[i] - t0[i])
        pos = p0[i] + s[:, None] * (p1[i] - p0[i])
        for k, z in enumerate(zones):
            truth = (shapely.intersects_xy(z.polygon, pos[:, 0], pos[:, 1])
                     & (pos[:, 2] >= z.floor_amsl_m) & (pos[:, 2] <= z.ceiling_amsl_m)
                     & (t >= z.start_s) & (t < z.end_s))
            mine = np.zeros(len(s), dtype=bool)
            sel = (leg == i) & (zone == k)
            for a, b in zip(t_in[sel], t_out[sel], strict=True):
                mine |= (t >= a) & (t <= b)
            # Exclude samples within 1.5 steps of a reported end or of a flip.
            step = (t1[i] - t0[i]) / 2000
            ends = np.concatenate([t_in[sel], t_out[sel]])
            near = (np.abs(t[:, None] - ends[None, :]) <= 1.5 * step).any(axis=1)
            for f in np.flatnonzero(np.diff(truth.astype(int)) != 0):
                near[max(0, f - 1):f + 3] = True
            assert near.mean() < 0.05  # the comparison still covers most of the leg
            assert np.array_equal(mine[~near], truth[~near]), (i, k)


def test_zone_intervals_box_prefilter_changes_nothing(monkeypatch):
    # Legs spread far beyond two small zones (most never come near one), some touching a
    # zone's box exactly: with and without dropping far legs first, the same intervals.
    import fleetsim.geometry as geometry

    rng = np.random.default_rng(5)
    zones = [Z(shapely.box(0, 0, 100, 100)),
             Z(shapely.Polygon([(500, 500), (700, 520), (600, 650)]), floor_amsl_m=20.0)]
    n = 2000
    p0 = np.column_stack([rng.uniform(-1000, 1500, n), rng.uniform(-1000, 1500, n),
                          rng.uniform(0, 60, n)])
    p1 = p0 + np.column_stack([rng.normal(0, 300, (n, 2)), rng.normal(0, 10, n)])
    p1[:50] = p0[:50]  # hovers
    p0[50:60, 0], p1[50:60, 0] = -50.0, 0.0  # ends on the box's edge x = 0
    p0[50:60, 1] = p1[50:60, 1] = 50.0
    t0 = rng.uniform(0, 100, n)
    t1 = t0 + rng.uniform(1, 50, n)
    got = zone_intervals(t0, t1, p0, p1, zones)
    monkeypatch.setattr(geometry, "BOX_PREFILTER_ZONES", -1)
    want = zone_intervals(t0, t1, p0, p1, zones)
    assert len(want[0]) > 10
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)

"""Terrain-following routes (fleetsim.planning.altitude) and zone windows (.zones)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import shapely

from fleetsim.planning.altitude import TerrainFollower, follow_parts, route_pieces
from fleetsim.planning.zones import ZoneWindows
from fleetsim.world.terrain import Terrain


def ridge_terrain(height: float = 200.0) -> Terrain:
    """Flat ground at 0 with one sharp north-south ridge: heights rise linearly from
    x = 400 to a crest of ``height`` at x = 500 and fall back by x = 600."""
    x = np.arange(0.0, 1001.0, 50.0)
    profile = np.clip(height * (1.0 - np.abs(x - 500.0) / 100.0), 0.0, None)
    return Terrain(np.tile(profile, (11, 1)), 50.0)


@pytest.fixture(scope="module")
def hills() -> Terrain:
    return Terrain.procedural((6000.0, 5000.0), 50.0, relief_m=800.0, ridges=5,
                              rng=np.random.default_rng(4))


def dense_clearance(terrain: Terrain, p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
    """Lowest height above the terrain along legs, sampled every metre or so."""
    f = np.linspace(0.0, 1.0, 4001)[None, :]
    x = p0[:, :1] + f * (p1[:, :1] - p0[:, :1])
    y = p0[:, 1:2] + f * (p1[:, 1:2] - p0[:, 1:2])
    z = p0[:, 2:3] + f * (p1[:, 2:3] - p0[:, 2:3])
    return (z - terrain.height_at(x, y)).min(axis=1)


def flown_legs(terrain: Terrain, start, way: np.ndarray, heights: np.ndarray | None,
               agl: float) -> tuple[np.ndarray, np.ndarray]:
    """The legs the engine lays out: each waypoint at the ground under it plus its height."""
    h = np.full(len(way), agl) if heights is None else heights
    z = terrain.height_at(way[:, 0], way[:, 1]) + h
    pts = np.vstack([np.asarray(start, dtype=np.float64)[None, :], np.column_stack([way, z])])
    return pts[:-1], pts[1:]


def test_the_bound_never_exceeds_the_true_clearance(hills):
    rng = np.random.default_rng(1)
    n = 400
    a = rng.uniform(-300, 6300, (n, 2))  # some outside the grid: heights are clamped there
    b = a + rng.uniform(-2500, 2500, (n, 2))
    p0 = np.column_stack([a, hills.height_at(a[:, 0], a[:, 1]) + rng.uniform(0, 300, n)])
    p1 = np.column_stack([b, hills.height_at(b[:, 0], b[:, 1]) + rng.uniform(0, 300, n)])
    f = TerrainFollower(hills)
    bound = f.clearance(p0, p1)
    true = dense_clearance(hills, p0, p1)
    assert np.all(bound <= true + 1e-9)
    # Also below what the engine's own sampling (grid spacing, both ends) finds.
    sampled, _ = hills.segment_clearance(p0, p1)
    assert np.all(bound <= sampled + 1e-9)
    # Within about one cell's rise of the truth: the bound is useful, not just safe.
    assert np.median(true - bound) < 60.0
    # With a target, legs settled early on coarse blocks keep a valid bound above it.
    coarse = f.clearance(p0, p1, 50.0)
    assert np.all(coarse <= true + 1e-9)
    assert np.array_equal(coarse >= 50.0, bound >= 50.0)  # settling early decides alike


def test_a_leg_over_a_ridge_climbs_only_where_the_ground_rises():
    terrain = ridge_terrain(200.0)
    f = TerrainFollower(terrain)
    start = np.array([0.0, 250.0, 50.0])  # at 50 m above flat ground
    route = np.array([[1000.0, 250.0]])
    straight = f.clearance(start[None, :], np.array([[1000.0, 250.0, 50.0]]))[0]
    assert straight < 0  # the straight leg at 50 m hits the 200 m crest
    (way, heights), = f.follow(start[None, :], [route], np.array([50.0]), np.array([30.0]))
    assert heights is not None and np.all(heights >= 50.0)
    # The given waypoint is still the last; the leg was cut into pieces of four grid
    # spacings (200 m); the ends of the piece over the crest (x = 400 to 600) climb
    # above the crest, the one before it (whose end, x = 400, lies in the first cell of
    # the slope) climbs a little, and the pieces over flat ground beyond stay at 50 m.
    assert way.tolist() == [[200.0, 250.0], [400.0, 250.0], [600.0, 250.0], [800.0, 250.0],
                            [1000.0, 250.0]]
    assert heights[[3, 4]].tolist() == [50.0, 50.0]
    assert heights[1] == heights[2] > 200.0 > heights[0] > 50.0
    p0, p1 = flown_legs(terrain, start, way, heights, 50.0)
    assert np.all(dense_clearance(terrain, p0, p1) >= 30.0)
    assert np.all(np.isnan(terrain.first_below(p0, p1, 30.0)))  # the engine's own check
    # Raises are multiples of the quantum, and the last waypoint (past the ridge, over
    # flat ground 400 m on) is lower than the highest: only the stretch near the crest climbs.
    assert np.allclose(np.mod(heights[1:] - 50.0, f.quantum_m), 0.0)
    assert heights[-1] < heights.max()


def test_a_first_leg_short_of_clearance_starts_with_a_climb_where_the_vehicle_is():
    terrain = ridge_terrain(200.0)
    f = TerrainFollower(terrain)
    start = np.array([450.0, 250.0, 150.0])  # 50 m above the slope, 50 m short of the crest
    (way, heights), = f.follow(start[None, :], [np.array([[550.0, 250.0]])], np.array([50.0]),
                               np.array([30.0]))
    assert way.tolist() == [[450.0, 250.0], [550.0, 250.0]]
    assert heights[0] > 50.0  # straight up first
    p0, p1 = flown_legs(terrain, start, way, heights, 50.0)
    assert p1[0, 2] > p0[0, 2] and np.array_equal(p0[0, :2], p1[0, :2])
    assert np.all(dense_clearance(terrain, p0, p1) >= 30.0)


def test_routes_that_keep_their_clearance_are_returned_unchanged(hills):
    f = TerrainFollower(hills)
    flat = TerrainFollower(Terrain.flat((2000.0, 2000.0), 50.0))
    route = np.array([[100.0, 100.0], [1900.0, 1900.0]])
    (way, heights), = flat.follow(np.array([[0.0, 0.0, 60.0]]), [route], np.array([60.0]),
                                  np.array([30.0]))
    assert way is route and heights is None
    # High above everything: unchanged too, with the original indices.
    (way, heights, idx), = f.follow(np.array([[0.0, 0.0, 3000.0]]), [route],
                                    np.array([2000.0]), np.array([30.0]), index=True)
    assert way is route and heights is None and idx.tolist() == [0, 1]


def test_many_routes_at_once_all_keep_clearance(hills):
    rng = np.random.default_rng(7)
    f = TerrainFollower(hills)
    m = 60
    routes = [rng.uniform(0, 6000, (int(rng.integers(0, 6)), 2)) for _ in range(m)]
    xy = rng.uniform(0, 6000, (m, 2))
    starts = np.column_stack([xy, hills.height_at(xy[:, 0], xy[:, 1]) + 80.0])
    agl = np.full(m, 80.0)
    clr = rng.uniform(10.0, 60.0, m)
    out = f.follow(starts, routes, agl, clr, index=True)
    changed = 0
    for s, r, c, (way, heights, idx) in zip(starts, routes, clr, out, strict=True):
        if len(r) == 0:
            assert len(way) == 0
            continue
        assert np.array_equal(way[idx], r)  # the given waypoints, exactly, in order
        changed += heights is not None
        p0, p1 = flown_legs(hills, s, way, heights, 80.0)
        assert np.all(dense_clearance(hills, p0, p1) >= c)
        assert np.all(np.isnan(hills.first_below(p0, p1, c)))
        if heights is not None:
            assert np.all(heights >= 80.0 - 1e-9)
    assert changed > 10  # the terrain is rough enough for the test to mean something


def test_route_pieces_group_equal_heights():
    way = np.arange(12.0).reshape(6, 2)
    pieces = route_pieces(way, np.array([80.0, 80.0, 90.0, 90.0, 80.0, 80.0]))
    assert [(p.tolist(), a) for p, a in pieces] == [
        ([[0.0, 1.0], [2.0, 3.0]], 80.0), ([[4.0, 5.0], [6.0, 7.0]], 90.0),
        ([[8.0, 9.0], [10.0, 11.0]], 80.0)]
    assert route_pieces(way, None)[0][1] is None


def test_follow_parts_keeps_parts_apart_and_in_order():
    terrain = ridge_terrain(200.0)
    f = TerrainFollower(terrain)
    starts = np.array([[0.0, 250.0, 50.0], [0.0, 100.0, 50.0]])
    parts = [[np.array([[300.0, 250.0]]), np.array([[1000.0, 250.0], [1000.0, 400.0]])],
             [np.zeros((0, 2)), np.array([[200.0, 100.0]])]]
    out = follow_parts(f, starts, parts, np.array([50.0, 50.0]), np.array([30.0, 30.0]))
    first = out[0]
    assert [k for _, _, k in first] == sorted(k for _, _, k in first)
    part0 = np.vstack([w for w, _, k in first if k == 0])
    part1 = np.vstack([w for w, _, k in first if k == 1])
    assert np.array_equal(part0[-1], [300.0, 250.0])
    assert np.array_equal(part1[-1], [1000.0, 400.0]) and len(part1) > 2  # split over the ridge
    assert [(w.tolist(), a, k) for w, a, k in out[1]] == [([[200.0, 100.0]], None, 1)]


def test_scalar_heights_match_the_terrain_bit_for_bit(hills):
    f = TerrainFollower(hills)
    pts = np.random.default_rng(2).uniform(-200, 6200, (300, 2))
    assert [f.height(x, y) for x, y in pts.tolist()] == hills.height_at(pts[:, 0],
                                                                        pts[:, 1]).tolist()


def zone(polygon, start_s=0.0, end_s=math.inf):
    return SimpleNamespace(polygon=polygon, start_s=start_s, end_s=end_s)


def test_zone_windows_block_legs_only_while_active():
    zw = ZoneWindows([zone(shapely.box(400, -100, 600, 100), 900.0, 2700.0)], clearance_m=10.0)
    a, b = np.array([[0.0, 0.0]] * 3), np.array([[1000.0, 0.0]] * 3)
    t0 = np.array([0.0, 800.0, 2700.0])
    t1 = np.array([899.0, 950.0, 3000.0])
    assert zw.blocked(a, b, t0, t1).tolist() == [False, True, False]
    assert zw.active_during(0.0, 899.0) == () and zw.active_during(899.0, 900.0) == (0,)
    assert zw.timed
    # Around it while active; straight through before it starts.
    way = zw.route((0.0, 0.0), (1000.0, 0.0), 1000.0, 1100.0)
    assert len(way) > 1 and np.array_equal(way[-1], [1000.0, 0.0])
    assert not shapely.intersects(shapely.LineString(np.vstack([[0.0, 0.0], way])),
                                  shapely.box(400, -100, 600, 100))
    assert zw.route((0.0, 0.0), (1000.0, 0.0), 0.0, 800.0).tolist() == [[1000.0, 0.0]]
    # Ten seconds at 10 m/s from 100 m inside (the clearance is part of the zone).
    t = zw.escape_time_s(np.array([[500.0, 0.0], [0.0, 0.0]]), 10.0, 0)
    assert t.tolist() == pytest.approx([11.0, 0.0])


def test_keeps_answers_each_leg_as_a_batch_of_many_legs_does(hills):
    f = TerrainFollower(hills)
    rng = np.random.default_rng(11)
    n = 4000  # long enough in all for the coarse-to-fine bound
    xy0, xy1 = rng.uniform(0, 6000, (n, 2)), rng.uniform(0, 6000, (n, 2))
    z0 = hills.height_at(xy0[:, 0], xy0[:, 1]) + rng.uniform(0.0, 400.0, n)
    z1 = hills.height_at(xy1[:, 0], xy1[:, 1]) + rng.uniform(0.0, 400.0, n)
    p0, p1 = np.column_stack([xy0, z0]), np.column_stack([xy1, z1])
    need = rng.uniform(10.0, 100.0, n)
    batch = f.clearance(p0, p1, need) >= need
    assert 0.1 < batch.mean() < 0.9
    assert f.keeps(p0, p1, need).tolist() == batch.tolist()
    # leg by leg, and in any subset, the same answers
    assert f.keeps(p0[::7], p1[::7], need[::7]).tolist() == batch[::7].tolist()
    assert [f.leg_clear(a, b, c, finest=0) for a, b, c in
            zip(p0[:200].tolist(), p1[:200].tolist(), need[:200].tolist(), strict=True)] \
        == batch[:200].tolist()


def test_routes_known_clear_are_not_bounded_again_and_the_result_is_the_same(hills):
    rng = np.random.default_rng(12)
    m = 400
    routes = [rng.uniform(0, 6000, (int(rng.integers(1, 8)), 2)) for _ in range(m)]
    xy = rng.uniform(0, 6000, (m, 2))
    starts = np.column_stack([xy, hills.height_at(xy[:, 0], xy[:, 1]) + 150.0])
    agl, clr = np.full(m, 150.0), np.full(m, 40.0)
    plain = TerrainFollower(hills).follow(starts, routes, agl, clr)
    unchanged = np.array([h is None for _, h in plain])
    assert 0 < unchanged.sum() < m
    f = TerrainFollower(hills)
    calls = []
    bound = f._bound
    f._bound = lambda p0, p1, level: calls.append(len(p0)) or bound(p0, p1, level)
    hinted = f.follow(starts, routes, agl, clr, clear=unchanged)
    assert len(hinted) == m
    for (w0, h0), (w1, h1) in zip(plain, hinted, strict=True):
        assert w0.tobytes() == w1.tobytes()
        assert (h0 is None and h1 is None) or h0.tobytes() == h1.tobytes()
    # the first pass bounds only the legs of the routes not known to be clear
    assert calls[0] == sum(len(r) for r, u in zip(routes, unchanged, strict=True) if not u)


def test_one_route_quick_test_agrees_with_follow_and_remembers_legs(hills):
    f = TerrainFollower(hills)
    rng = np.random.default_rng(13)
    same = 0
    for _ in range(60):
        route = rng.uniform(0, 6000, (int(rng.integers(1, 10)), 2))
        x, y = rng.uniform(0, 6000, 2).tolist()
        agl = float(rng.uniform(50.0, 500.0))
        start = (x, y, f.height(x, y) + agl)
        need = 40.0 + f.margin_m
        quick = f.unchanged_one(start, route, agl, need)
        again = f.unchanged_one(start, route, agl, need)  # from the kept answers
        (_, heights), = TerrainFollower(hills).follow(np.array([start]), [route],
                                                      np.array([agl]), np.array([40.0]))
        assert quick == again
        assert not quick or heights is None  # "unchanged" is never wrong
        same += quick == (heights is None)
    assert same == 60  # for a few legs, follow's own test is this one

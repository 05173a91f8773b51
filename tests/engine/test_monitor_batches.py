"""The in-leg monitor across its window passes: a sighting that goes on from one leg to
the next (in the same pass or the next one) is one detection; leaving the footprint and
coming back is a new one. And the terrain screen that spares legs high above the
terrain the clearance sampling never spares a leg that comes too low.

Same vehicle as ``test_engine_inleg``: a quadrotor from HOME at v = 10 m/s, 50 m up
after a T_UP = 10 s takeoff, definite-range sensor of radius r = 80 m.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_engine_inleg import T_UP, Fly, V, events, vehicle_yaml

from fleetsim.engine import Simulation
from fleetsim.policy import GoTo, Hold
from fleetsim.scenario import load_scenario_text
from fleetsim.world.terrain import Terrain

R = 80.0


def scenario(window_s: float) -> str:
    return f"""
schema_version: 1
name: batches
run: {{duration_s: 600, seed: 1, monitor_window_s: {window_s}}}
world:
  terrain: {{source: flat, size_m: [3000, 2000], spacing_m: 50}}
  sites: [{{id: home, kind: base, position: [100, 1000]}}]
{vehicle_yaml("home", R)}
missions:
  - {{id: m, kind: search, area: {{rect: [0, 0, 3000, 2000]}},
     targets: [[600, 1000], [600, 1060]]}}
policy: {{name: fly}}
"""


@pytest.mark.parametrize("window_s", [1.0, 7.0, 45.0, 1000.0])
def test_a_target_in_view_over_several_legs_and_passes_is_one_detection(window_s):
    """East to x = 600 (over target 0; target 1 is 60 m north of it), two holds there,
    then 500 m east and back: both targets come into view on the way out (at 80 m and
    at sqrt(80^2 - 60^2) m from x = 600), stay in view over the holds whatever the
    monitor's window (one pass or many), leave, and are detected again on the way
    back."""
    actions = [GoTo(600.0, 1000.0), Hold(30.0), Hold(20.0), GoTo(1100.0, 1000.0),
               GoTo(600.0, 1000.0)]
    run = Simulation(load_scenario_text(scenario(window_s)), policy=Fly(actions)).run()
    det = events(run, "detection")
    near = math.sqrt(R * R - 60.0 * 60.0)
    t_out = T_UP + 500.0 / V  # at x = 600
    t_back = t_out + 50.0 + 500.0 / V  # at x = 1100, turning back
    expected = [(T_UP + (500.0 - R) / V, 0), (T_UP + (500.0 - near) / V, 1),
                (t_back + (500.0 - R) / V, 0), (t_back + (500.0 - near) / V, 1)]
    assert det["target"].tolist() == [k for _, k in expected]
    assert det["time_s"] == pytest.approx([t for t, _ in expected], abs=1e-9)


def test_the_terrain_screen_never_spares_a_leg_that_comes_too_low():
    """Random legs over rough terrain, some high above it, some skimming it, some
    leaving the grid: every leg the screen spares has no sample below the clearance,
    and the screen spares most of the high ones."""
    from fleetsim.engine.monitor import Monitor

    rng = np.random.default_rng(3)
    terrain = Terrain.procedural(size_m=(20000.0, 20000.0), spacing_m=100, relief_m=600,
                                 ridges=6, base_elevation_m=0, origin_m=(0, 0), rng=rng)
    n = 4000
    p0 = np.column_stack([rng.uniform(-500, 20500, (n, 2)), np.zeros(n)])
    p1 = p0 + np.column_stack([rng.uniform(-600, 600, (n, 2)), np.zeros(n)])
    top = float(terrain.heights_m.max())
    for p in (p0, p1):
        p[:, 2] = terrain.height_at(p[:, 0], p[:, 1]) + rng.uniform(0, 300, n)
    high = rng.random(n) < 0.3
    p0[high, 2] = p1[high, 2] = top + rng.uniform(0, 100, high.sum())
    clearance = rng.uniform(0, 60, n)

    class Sim:  # what the screen reads of the engine
        world = type("World", (), {"terrain": terrain})()

    mon = Monitor.__new__(Monitor)
    mon.sim = Sim()
    may = mon._may_come_low(p0, p1, clearance)
    spared = ~may
    frac = terrain.first_below(p0[spared], p1[spared], clearance[spared])
    assert np.isnan(frac).all()
    low = ~np.isnan(terrain.first_below(p0, p1, clearance))
    assert low.sum() > 100 and may[low].all()
    assert spared.sum() > 0.5 * (high & (clearance < 50)).sum()


def test_point_cells_never_miss_a_point_within_the_radius():
    """The grid count that spares queries far from every target (or site) says "none
    near" only where brute force finds no point within the radius, also for queries off
    the grid, on a cell's edge and exactly at a point's distance; and it spares most
    queries far from the points."""
    from fleetsim.engine.sensing import PointCells

    rng = np.random.default_rng(5)
    pts = rng.uniform(0, 10000, (300, 2))
    pts[:10] = np.round(pts[:10] / 100.0) * 100.0  # on cell edges
    cells = PointCells(pts, cells=100)
    q = rng.uniform(-2000, 12000, (20000, 2))
    q[:300] = pts + rng.uniform(-1, 1, (300, 2))
    radius = rng.uniform(0, 300, len(q))
    d = np.hypot(q[:, None, 0] - pts[None, :, 0], q[:, None, 1] - pts[None, :, 1]).min(axis=1)
    radius[300:600] = d[300:600]  # exactly at the nearest point's distance
    near = cells.any_near(q, radius)
    assert near[d <= radius].all()
    assert (~near).sum() > 0.5 * (d > radius + 200.0).sum()
    assert cells.any_near(np.array([[np.nan, 0.0]]), 10.0).all()  # asked, not judged
    assert not PointCells(np.array([[5.0, 5.0]])).any_near(np.array([[50.0, 5.0]]), 44.0)[0]


def test_the_terrain_screen_gives_what_the_array_code_gave():
    """The compiled screen against the array code it replaced, on legs over rough
    terrain, skimming it, off the grid, spanning many blocks and not finite."""
    from fleetsim.engine.monitor import _BLOCK, Monitor

    rng = np.random.default_rng(13)
    terrain = Terrain.procedural(size_m=(20000.0, 20000.0), spacing_m=100, relief_m=600,
                                 ridges=6, base_elevation_m=0, origin_m=(0, 0), rng=rng)
    n = 20000
    p0 = np.column_stack([rng.uniform(-1500, 21500, (n, 2)), np.zeros(n)])
    p1 = p0 + np.column_stack([rng.normal(0, 500, (n, 2)), np.zeros(n)])
    for p in (p0, p1):
        p[:, 2] = terrain.height_at(p[:, 0], p[:, 1]) + rng.uniform(-20, 900, n)
    p0[:10, 0] = np.nan
    p1[10:20, 2] = np.nan
    p1[20:30, 1] = np.inf
    clearance = rng.uniform(0, 60, n)
    clearance[30:40] = np.nan

    class Sim:
        world = type("World", (), {"terrain": terrain})()

    mon = Monitor.__new__(Monitor)
    mon.sim = Sim()
    got = mon._may_come_low(p0, p1, clearance)

    top = mon._block_top
    ny, nx = np.shape(terrain.heights_m)
    s = float(terrain.spacing_m)
    ox, oy = float(terrain.origin_m[0]), float(terrain.origin_m[1])
    with np.errstate(invalid="ignore"):
        cx0 = np.floor((np.minimum(p0[:, 0], p1[:, 0]) - ox) / s) - 1
        cx1 = np.floor((np.maximum(p0[:, 0], p1[:, 0]) - ox) / s) + 2
        cy0 = np.floor((np.minimum(p0[:, 1], p1[:, 1]) - oy) / s) - 1
        cy1 = np.floor((np.maximum(p0[:, 1], p1[:, 1]) - oy) / s) + 2
    ok = np.isfinite(cx0) & np.isfinite(cx1) & np.isfinite(cy0) & np.isfinite(cy1)
    bx0, bx1, by0, by1 = (
        (np.minimum(np.maximum(np.where(ok, c, 0.0), 0), m - 1).astype(np.int64) // _BLOCK)
        for c, m in ((cx0, nx), (cx1, nx), (cy0, ny), (cy1, ny)))
    ok &= (bx1 - bx0 <= 1) & (by1 - by0 <= 1)
    high = np.maximum(np.maximum(top[by0, bx0], top[by0, bx1]),
                      np.maximum(top[by1, bx0], top[by1, bx1]))
    low = np.minimum(p0[:, 2], p1[:, 2])
    with np.errstate(invalid="ignore"):
        want = ~(ok & (low - clearance - high > 1e-6 * np.abs(low) + 1e-3))
    assert got.tolist() == want.tolist()
    assert 0.2 < want.mean() < 0.9

"""Radio links with many stations: the spatially indexed functions give exactly what the
frozen copies of the earlier all-stations ones (``links_oracle.py``) give, bit for bit,
on random legs over rough and flat terrain with 1 to 150 stations."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from fleetsim import comms
from fleetsim.engine.monitor import Monitor
from fleetsim.world.terrain import Terrain

sys.path.insert(0, str(Path(__file__).resolve().parent))
import links_oracle as oracle  # noqa: E402

SIZE = 30000.0


def rough(seed: int = 5) -> Terrain:
    return Terrain.procedural(size_m=(SIZE, SIZE), spacing_m=200, relief_m=900, ridges=8,
                              base_elevation_m=0, origin_m=(0, 0),
                              rng=np.random.default_rng(seed))


def world(terrain: Terrain, n_st: int, rng) -> SimpleNamespace:
    """``n_st`` masts (some just off the grid) of ranges 1.5-8 km, antennas 5-60 m up;
    two share a position (ties in distance), one has no radio."""
    x = rng.uniform(-1000, SIZE + 1000, n_st)
    y = rng.uniform(-1000, SIZE + 1000, n_st)
    if n_st > 2:
        x[1], y[1] = x[0], y[0]
    z = terrain.height_at(x, y) + rng.uniform(5, 60, n_st)
    r = rng.uniform(1500, 8000, n_st)
    sites = [SimpleNamespace(index=i, xy=(float(x[i]), float(y[i])), antenna_z_m=float(z[i]),
                             radio_range_m=float(r[i])) for i in range(n_st)]
    sites.insert(n_st // 2, SimpleNamespace(index=-1, xy=(0.0, 0.0), antenna_z_m=0.0,
                                            radio_range_m=None))
    return SimpleNamespace(sites=sites, terrain=terrain)


def legs(terrain: Terrain, stations, n: int, rng):
    """Moves of up to 4 km, hovers, vertical climbs, instants, legs leaving the grid, and
    legs ending exactly on a range sphere (horizontally)."""
    p0 = np.column_stack([rng.uniform(-500, SIZE + 500, (n, 2)), np.zeros(n)])
    p1 = p0 + np.column_stack([rng.uniform(-4000, 4000, (n, 2)), np.zeros(n)])
    q = n // 8
    p1[:q, :2] = p0[:q, :2]  # hovers and climbs
    p0[:, 2] = terrain.height_at(p0[:, 0], p0[:, 1]) + rng.uniform(-20, 500, n)
    p1[:, 2] = terrain.height_at(p1[:, 0], p1[:, 1]) + rng.uniform(-20, 500, n)
    p1[q:2 * q, 2] = p0[q:2 * q, 2]  # hovers
    for j in range(2 * q, 3 * q):  # onto a station's range circle, at its antenna height
        st = stations[j % len(stations)]
        ang = rng.uniform(0, 2 * np.pi)
        p1[j] = (st.xyz[0] + st.range_m * np.cos(ang), st.xyz[1] + st.range_m * np.sin(ang),
                 st.xyz[2])
    t0 = rng.uniform(0, 3000, n)
    t1 = t0 + rng.uniform(0, 400, n)
    t1[-q // 4:] = t0[-q // 4:]  # instants
    return t0, t1, p0, p1


def same(a, b) -> None:
    assert len(a) == len(b) == 3
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype
        assert np.array_equal(x, y)


@pytest.fixture(scope="module")
def rough_terrain() -> Terrain:
    return rough()


@pytest.mark.parametrize("n_st", [1, 5, 64, 150])
@pytest.mark.parametrize("kind", ["rough", "flat"])
def test_link_intervals_agree_with_the_all_stations_oracle(n_st, kind, rough_terrain,
                                                           monkeypatch):
    rng = np.random.default_rng(n_st)
    terrain = rough_terrain if kind == "rough" else Terrain.flat((SIZE, SIZE), 200.0)
    w = world(terrain, n_st, rng)
    new, old = comms.stations_of(w), oracle.stations_of(w)
    assert [s.index for s in new] == [s.index for s in old]
    t0, t1, p0, p1 = legs(terrain, new, 2000, rng)
    expected = oracle.link_intervals(t0, t1, p0, p1, old, terrain)
    assert len(expected[0]) > 200  # something to compare
    same(comms.link_intervals(t0, t1, p0, p1, new, terrain), expected)
    if n_st <= 5:
        same(comms.link_intervals(t0, t1, p0, p1, new, terrain, los_step_m=37.0),
             oracle.link_intervals(t0, t1, p0, p1, old, terrain, los_step_m=37.0))
    same(comms.grid_link_intervals(t0, t1, p0, p1, new, terrain),
         oracle.grid_link_intervals(t0, t1, p0, p1, old, terrain))
    # In chunks of legs (as long runs are evaluated), and one at a time: the same.
    got = comms.link_intervals(t0, t1, p0, p1, new, terrain)
    monkeypatch.setattr(comms.links, "_LEG_CHUNK", 333)
    monkeypatch.setattr(comms.links, "_CHUNK_STATIONS", 1)  # 333 legs a chunk, however few stations
    same(comms.link_intervals(t0, t1, p0, p1, new, terrain), got)
    same(comms.grid_link_intervals(t0, t1, p0, p1, new, terrain),
         oracle.grid_link_intervals(t0, t1, p0, p1, old, terrain))
    for j in rng.choice(len(t0), 25, replace=False).tolist():
        lj, aj, bj = comms.link_intervals(t0[j:j + 1], t1[j:j + 1], p0[j:j + 1], p1[j:j + 1],
                                          new, terrain)
        assert aj.tolist() == got[1][got[0] == j].tolist()
        assert bj.tolist() == got[2][got[0] == j].tolist()


def test_stations_without_horizons_fall_back_to_sampled_line_of_sight(rough_terrain):
    """Stations built by hand (no horizon) on rough terrain: each is checked with
    Terrain.line_of_sight, as before."""
    rng = np.random.default_rng(11)
    w = world(rough_terrain, 12, rng)
    bare = [comms.Station(s.index, s.xyz, s.range_m) for s in comms.stations_of(w)]
    old = [oracle.Station(s.index, s.xyz, s.range_m) for s in bare]
    t0, t1, p0, p1 = legs(rough_terrain, bare, 600, rng)
    same(comms.link_intervals(t0, t1, p0, p1, bare, rough_terrain),
         oracle.link_intervals(t0, t1, p0, p1, old, rough_terrain))
    same(comms.grid_link_intervals(t0, t1, p0, p1, bare, rough_terrain),
         oracle.grid_link_intervals(t0, t1, p0, p1, old, rough_terrain))


def test_no_legs_and_no_stations(rough_terrain):
    z = np.zeros((0, 3))
    same(comms.link_intervals([], [], z, z, comms.stations_of(world(rough_terrain, 3,
                                                                     np.random.default_rng(0))),
                              rough_terrain),
         (np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)))
    p = np.array([[100.0, 100.0, 50.0]])
    same(comms.link_intervals([0.0], [10.0], p, p, [], rough_terrain),
         oracle.link_intervals([0.0], [10.0], p, p, [], rough_terrain))


def test_horizons_are_built_on_first_use_once_per_terrain(rough_terrain):
    """stations_of builds nothing; a query builds the horizons of the stations it needs
    (over their range only), and a second stations_of of the same terrain reuses them."""
    terrain = rough(6)
    rng = np.random.default_rng(2)
    w = world(terrain, 40, rng)
    first = comms.stations_of(w)
    assert not any(s.horizon.built for s in first)
    st = first[7]
    p = np.array([[st.xyz[0] + 100.0, st.xyz[1], st.xyz[2] + 400.0]])
    comms.link_intervals([0.0], [10.0], p, p + [[50.0, 0.0, 0.0]], first, terrain)
    built = [s.horizon.built for s in first]
    assert built[7] and sum(built) < len(first)
    r0, r1, c0, c1 = st.horizon.window
    assert (r1 - r0) * (c1 - c0) < terrain.heights_m.size
    again = comms.stations_of(w)
    assert [s.horizon.built for s in again] == built
    assert again[7].horizon.bank is st.horizon.bank


@pytest.mark.parametrize("margin", [0.0, 1e-6])
def test_monitor_direct_link_check_agrees_with_every_station_in_turn(margin, rough_terrain):
    """Monitor._direct_now screens stations in one vector operation: on random points
    (and points on range circles) it answers as checking each station in turn does."""
    rng = np.random.default_rng(3)
    w = world(rough_terrain, 64, rng)
    stations = comms.stations_of(w)
    fake = SimpleNamespace(stations=stations,
                           sim=SimpleNamespace(world=SimpleNamespace(terrain=rough_terrain)))
    n = 600
    pts = np.column_stack([rng.uniform(0, SIZE, (n, 2)), np.zeros(n)])
    pts[:, 2] = rough_terrain.height_at(pts[:, 0], pts[:, 1]) + rng.uniform(0, 400, n)
    for j in range(100):
        st = stations[j % len(stations)]
        pts[j, 0] = st.xyz[0] + (st.range_m - margin)
        pts[j, 1:] = st.xyz[1:]
    answers = []
    for x, y, z in pts.tolist():
        want = False
        for st in stations:
            sx, sy, sz = st.xyz
            if (x - sx) ** 2 + (y - sy) ** 2 + (z - sz) ** 2 > (st.range_m - margin) ** 2:
                continue
            if comms.station_in_sight(st, np.array([[x, y, z]]), rough_terrain)[0]:
                want = True
                break
        got = Monitor._direct_now(fake, x, y, z, margin)
        assert got == want
        answers.append(got)
    assert 0.1 < np.mean(answers) < 0.9


@pytest.mark.parametrize("kind", ["rough", "flat"])
def test_legs_equidistant_from_stations_agree_with_the_oracle(kind, rough_terrain):
    """Stations on a regular 6 x 6 grid (4 km apart, 3.5 km range): legs whose midpoints
    are equally far from two or four of them (on the bisectors and at the centres of
    the grid squares, where the nearest station is a tie broken by station order), and
    legs just off those points, give what checking every station gives."""
    terrain = rough_terrain if kind == "rough" else Terrain.flat((SIZE, SIZE), 200.0)
    g = 5000.0 + 4000.0 * np.arange(6)
    x, y = np.meshgrid(g, g)
    x, y = x.ravel(), y.ravel()
    z = terrain.height_at(x, y) + 40.0
    sites = [SimpleNamespace(index=i, xy=(float(x[i]), float(y[i])), antenna_z_m=float(z[i]),
                             radio_range_m=3500.0) for i in range(len(x))]
    w = SimpleNamespace(sites=sites, terrain=terrain)
    new, old = comms.stations_of(w), oracle.stations_of(w)
    rng = np.random.default_rng(2)
    n = 1500
    # Midpoints on tie points: grid-square centres, edge midpoints, and a little off.
    mx = rng.choice(np.r_[g, g + 2000.0], n)
    my = rng.choice(np.r_[g, g + 2000.0], n)
    jitter = rng.random(n) < 0.3
    mx[jitter] += rng.uniform(-1e-6, 1e-6, jitter.sum())
    half = np.column_stack([rng.uniform(-400, 400, n), rng.uniform(-400, 400, n)])
    mid = np.column_stack([mx, my])
    p0 = np.column_stack([mid - half, np.zeros(n)])
    p1 = np.column_stack([mid + half, np.zeros(n)])
    p0[:, 2] = terrain.height_at(p0[:, 0], p0[:, 1]) + rng.uniform(20, 400, n)
    p1[:, 2] = terrain.height_at(p1[:, 0], p1[:, 1]) + rng.uniform(20, 400, n)
    t0 = rng.uniform(0, 1000, n)
    t1 = t0 + rng.uniform(1, 200, n)
    expected = oracle.link_intervals(t0, t1, p0, p1, old, terrain)
    assert len(np.unique(expected[0])) > 500
    same(comms.link_intervals(t0, t1, p0, p1, new, terrain), expected)
    same(comms.grid_link_intervals(t0, t1, p0, p1, new, terrain),
         oracle.grid_link_intervals(t0, t1, p0, p1, old, terrain))

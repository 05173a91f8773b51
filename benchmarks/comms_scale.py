#!/usr/bin/env python3
"""Radio links with many ground stations: link_intervals before and after the station index.

20,000 random patrol legs (up to 3 km, 400 m above the ground, a tenth of them hovers)
over 100 x 100 km, against S = 4 ... 400 masts on a square grid, each with a range of
1.2 x the grid spacing (4 masts: 60 km, 100 masts: 12 km), on flat ground and on the
procedural terrain of ``swarm_10k`` (200 m grid). Prints, per case, the time of the
earlier all-stations implementation (a frozen copy kept as the tests' oracle,
``tests/comms/links_oracle.py``) and of the current one, cold (building the horizons it
needs) and warm, for :func:`fleetsim.comms.link_intervals` and
:func:`fleetsim.comms.grid_link_intervals` (the relays' direct part), checks that the
results are identical, and the horizon build time and memory per station (whole grid
before, the station's range now).

    .venv/bin/python benchmarks/comms_scale.py           # the full table (a few minutes)
    .venv/bin/python benchmarks/comms_scale.py --smoke   # small and quick

The earlier implementation builds a whole-grid horizon per station up front; on the
terrain it is run up to ``--old-max`` stations (default 144; 400 whole-grid horizons
of a 500 x 500 grid take 0.8 GB).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "comms"))

import links_oracle as oracle  # noqa: E402

from fleetsim import comms  # noqa: E402
from fleetsim.world.terrain import Terrain  # noqa: E402
from fleetsim.world.viewshed import Horizon  # noqa: E402

SIZE = 100_000.0


def terrain_of(kind: str, size: float, spacing: float) -> Terrain:
    if kind == "flat":
        return Terrain.flat((size, size), spacing)
    return Terrain.procedural(size_m=(size, size), spacing_m=spacing, relief_m=800, ridges=12,
                              base_elevation_m=100, origin_m=(0, 0),
                              rng=np.random.default_rng(42))


def world_of(terrain: Terrain, n_st: int, size: float) -> SimpleNamespace:
    """``n_st`` masts (a square number) on a grid, 30 m antennas, range 1.2 x spacing."""
    k = math.isqrt(n_st)
    gap = size / k
    xy = [((i + 0.5) * gap, (j + 0.5) * gap) for i in range(k) for j in range(k)]
    z = terrain.height_at(np.array([p[0] for p in xy]), np.array([p[1] for p in xy])) + 30.0
    sites = [SimpleNamespace(index=i, xy=p, antenna_z_m=float(z[i]), radio_range_m=1.2 * gap)
             for i, p in enumerate(xy)]
    return SimpleNamespace(sites=sites, terrain=terrain)


def legs_of(terrain: Terrain, n: int, size: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    p0 = np.column_stack([rng.uniform(0, size, (n, 2)), np.zeros(n)])
    ang = rng.uniform(0, 2 * np.pi, n)
    length = rng.uniform(0, 3000, n)
    length[: n // 10] = 0.0
    p1 = p0 + np.column_stack([length * np.cos(ang), length * np.sin(ang), np.zeros(n)])
    p0[:, 2] = terrain.height_at(p0[:, 0], p0[:, 1]) + 400.0
    p1[:, 2] = terrain.height_at(p1[:, 0], p1[:, 1]) + 400.0
    t0 = rng.uniform(0, 3600, n)
    t1 = t0 + np.where(length > 0, length / 18.0, rng.uniform(10, 300, n))
    return t0, t1, p0, p1


def timed(fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    return time.perf_counter() - t, out


def best(fn, *args, **kw):
    """The best of up to 5 runs (one if a run takes over 2 s): the machine is shared."""
    t, out = timed(fn, *args, **kw)
    for _ in range(4 if t < 2.0 else 0):
        t = min(t, timed(fn, *args, **kw)[0])
    return t, out


def same(a, b) -> bool:
    return all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def horizon_costs(terrain: Terrain, range_m: float) -> tuple[float, int, float, int]:
    """Build time and bytes of one whole-grid horizon (before) and one over the range."""
    x = y = 0.5 * SIZE if terrain.heights_m.shape[0] * terrain.spacing_m >= SIZE \
        else 0.5 * terrain.heights_m.shape[0] * terrain.spacing_m
    z = float(terrain.height_at(x, y)) + 30.0
    t_old, h = timed(oracle.Horizon, terrain, x, y, z)
    b_old = h.horizon.nbytes + h.block_zmin.nbytes
    hz = Horizon(terrain, x, y, z, radius_m=range_m)
    t_new, _ = timed(lambda: hz.horizon)
    return t_old, b_old, t_new, hz.nbytes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="small and quick (a check, not figures)")
    ap.add_argument("--legs", type=int, default=20_000)
    ap.add_argument("--old-max", type=int, default=144,
                    help="run the earlier implementation on the terrain up to this many "
                         "stations (default 144)")
    args = ap.parse_args()
    size, spacing, counts, n = SIZE, 200.0, (4, 16, 64, 100, 144, 400), args.legs
    if args.smoke:
        size, spacing, counts, n = 20_000.0, 200.0, (4, 16), 1000
    print(f"{n:,} legs over {size / 1000:g} x {size / 1000:g} km; masts on a square grid, "
          f"range 1.2 x their spacing; times in s (wall, best of up to 5 runs; cold: the first run, building the horizons "
          f"it needs)")
    print(f"{'terrain':>7} {'S':>4} {'range km':>8} {'pairs/leg':>9} {'old':>7} {'new cold':>8} "
          f"{'new warm':>8} {'speed-up':>8} {'grid old':>8} {'grid new':>8} {'same':>5}")
    from scipy.spatial import cKDTree  # imported here, not in the first timed call

    cKDTree(np.zeros((1, 2)))
    for kind in ("flat", "terrain"):
        terrain = terrain_of(kind, size, spacing)
        t0, t1, p0, p1 = legs_of(terrain, n, size)
        for n_st in counts:
            world = world_of(terrain, n_st, size)
            comms.stations._BANKS.pop(terrain, None)  # cold: no horizon built yet
            new = comms.stations_of(world)
            cold, r_new = timed(comms.link_intervals, t0, t1, p0, p1, new, terrain)
            warm, r_new = best(comms.link_intervals, t0, t1, p0, p1, new, terrain)
            g_new_t, g_new = best(comms.grid_link_intervals, t0, t1, p0, p1, new, terrain)
            pairs = len(comms.links._in_range_pairs(t0, t1, p0, p1, new)[0]) / n
            old_t = g_old_t = float("nan")
            ok = "-"
            if kind == "flat" or n_st <= args.old_max:
                old = oracle.stations_of(world)  # whole-grid horizons, built here
                old_t, r_old = best(oracle.link_intervals, t0, t1, p0, p1, old, terrain)
                g_old_t, g_old = best(oracle.grid_link_intervals, t0, t1, p0, p1, old,
                                       terrain)
                ok = "yes" if same(r_new, r_old) and same(g_new, g_old) else "NO"
                del old
            print(f"{kind:>7} {n_st:>4} {new[0].range_m / 1000:>8.1f} {pairs:>9.2f} "
                  f"{old_t:>7.3f} {cold:>8.3f} {warm:>8.3f} {old_t / warm:>7.1f}x "
                  f"{g_old_t:>8.3f} {g_new_t:>8.3f} {ok:>5}", flush=True)
            if ok == "NO":
                sys.exit("results differ")
    print("Horizon per station (procedural terrain, antenna in the middle):")
    grids = [(spacing, size)] if args.smoke else [(200.0, SIZE), (100.0, SIZE)]
    for sp, sz in grids:
        terrain = terrain_of("terrain", sz, sp)
        for rng_m in ((15_000.0,) if args.smoke else (60_000.0, 15_000.0, 6_000.0)):
            t_old, b_old, t_new, b_new = horizon_costs(terrain, rng_m)
            g = terrain.heights_m.shape
            print(f"  grid {g[0]} x {g[1]} ({sp:g} m), range {rng_m / 1000:g} km: whole grid "
                  f"{t_old:.3f} s, {b_old / 2 ** 20:.1f} MB; over the range {t_new:.3f} s, "
                  f"{b_new / 2 ** 20:.2f} MB", flush=True)


if __name__ == "__main__":
    main()

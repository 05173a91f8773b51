#!/usr/bin/env python3
"""Decision cost of persistent_patrol: wall time per decided vehicle.

A vehicle back from recharging asks for a route alone; the policy picks its first
cell (the best trade of idleness against travel time over the whole area) and
walks on from there. This benchmark builds ``swarm_10k`` with 1,000 and 10,000
drones, and 10,000 drones over 4x the area (200 x 200 km, the same cell size),
gives every cell a random last visit in the past hour (a patrol in progress),
then times, at the start of the run (each walk plans 15 minutes ahead), ``decide`` for vehicles asking one at a time (``recharged``) and for a
batch asking at one instant, twice in the same run: picking first cells by scoring
every cell and walking with arrays (``fast = False``, the policy as it was) and
through the bucket index, one vehicle walked on its own (``fast = True``).
Both must give the same plans. Times are CPU time of this process (the machine is
shared: wall time would count other processes' turns).

    .venv/bin/python benchmarks/policy_cost.py
    .venv/bin/python benchmarks/policy_cost.py --smoke   # tiny: seconds
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "swarm_10k.yaml"


def build(n: int, area_scale: int, cell_m: float):
    from fleetsim.engine import Simulation
    from fleetsim.scenario import load_scenario

    per = n // 4
    side = 100000 * area_scale
    q1, q3 = side // 4, 3 * side // 4
    overrides = [
        f"world.terrain.size_m=[{side}, {side}]",
        f"missions[0].area={{rect: [0, 0, {side}, {side}]}}",
        f"world.zones[0].polygon=[[{side * 0.45}, {side * 0.45}], [{side * 0.55}, "
        f"{side * 0.45}], [{side * 0.55}, {side * 0.55}], [{side * 0.45}, {side * 0.55}]]",
        *[f"world.sites[{i}].position=[{x}, {y}]"
          for i, (x, y) in enumerate([(q1, q1), (q3, q1), (q1, q3), (q3, q3)])],
        f"fleet.types[0].bases={{sw: {per}, se: {per}, nw: {per}, ne: {per}}}",
        f"policy.params={{cell_size_m: {cell_m}, decision_period_s: 300}}",
    ]
    return Simulation(load_scenario(SCENARIO, overrides))


def measure(sim, singles: int, batch: int, fast: bool) -> dict:
    from fleetsim.policy import Request

    pol = sim.policy
    n = sim.n
    rng = np.random.default_rng(1)
    pol.last_visit[:] = rng.uniform(-3600.0, 0.0, len(pol.last_visit))
    pol.bucket_min_visit[:] = -3600.0
    pol.heading[:] = np.nan
    pol.fast = fast
    vs = rng.permutation(n)
    out = []
    t0 = time.process_time()
    for i in range(singles):
        out += pol.decide(0.0, sim.view, (Request(int(vs[i]), "recharged"),))
    t1 = time.process_time()
    group = sorted(vs[singles:singles + batch].tolist())
    out += pol.decide(0.0, sim.view, tuple(Request(v, "recharged")
                                                        for v in group))
    t2 = time.process_time()
    one = np.array([int(vs[0])])
    for _ in range(50):
        sim.view.plan_end(one)
    t3 = time.process_time()
    return {"plan_end_ms": (t3 - t2) / 50 * 1e3,"single_ms": (t1 - t0) / singles * 1e3, "batch_ms": (t2 - t1) / len(group) * 1e3,
            "plans": [(p.vehicle, [np.asarray(a.waypoints).tobytes() for a in p.actions])
                      for p in out], "cells": len(pol.centres)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds")
    args = parser.parse_args()
    if args.smoke:
        cases, singles, batch = [(40, 1), (80, 1), (80, 2)], 10, 20
    else:
        cases, singles, batch = [(1000, 1), (10000, 1), (10000, 2)], 300, 1000
    print(f"{'vehicles':>8} {'area km2':>9} {'cells':>7} {'single ms/veh':>26} "
          f"{'batch ms/veh':>26} {'plan_end':>9}")
    print(f"{'':>8} {'':>9} {'':>7} {'all cells':>12} {'index':>13} {'all cells':>12} "
          f"{'index':>13} {'ms':>9}")
    for n, scale in cases:
        sim = build(n, scale, 1000.0)
        before = measure(sim, singles, batch, fast=False)
        after = measure(sim, singles, batch, fast=True)
        assert before["plans"] == after["plans"], "the index changed a decision"
        print(f"{n:>8} {(100 * scale) ** 2:>9,} {after['cells']:>7,} "
              f"{before['single_ms']:>12.3f} {after['single_ms']:>13.3f} "
              f"{before['batch_ms']:>12.3f} {after['batch_ms']:>13.3f} "
              f"{after['plan_end_ms']:>9.3f}", flush=True)
    print("single: vehicles back from recharging one at a time; batch: "
          f"{batch:,} asking at one instant; all cells: the first hop scored over every "
          "cell; index: through the bucket index (same plans, checked); plan_end: "
          "FleetView.plan_end for one vehicle, part of every single decision")


if __name__ == "__main__":
    main()

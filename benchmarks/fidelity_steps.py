#!/usr/bin/env python3
"""Fidelity benchmark: physics steps per second with 1, 10 and 50 multirotors flying together.

Each vehicle (the small quadrotor) flies a 200 m leg with a 90 degree corner,
all in one pybullet world at 240 Hz with gusts on; the case ends when every
vehicle has arrived. Prints physics steps per wall second, vehicle-steps per
second and the multiple of real time (target: >= 20x real time for 10 vehicles).

    .venv/bin/python benchmarks/fidelity_steps.py
    .venv/bin/python benchmarks/fidelity_steps.py --vehicles 1 10 50 100
    .venv/bin/python benchmarks/fidelity_steps.py --smoke   # 2 vehicles, seconds
"""

from __future__ import annotations

import argparse
import time

from fleetsim.fidelity import FlightSim, MultirotorParams


def run(n: int, rate_hz: float) -> tuple[int, float, float]:
    """(physics steps, wall seconds, simulated seconds) for ``n`` vehicles."""
    params = {f"v{i}": MultirotorParams.small_quadrotor() for i in range(n)}
    plans, starts = {}, {}
    for i in range(n):
        x0, y0 = 30.0 * (i % 10), 300.0 * (i // 10)
        starts[f"v{i}"] = (x0, y0, 50.0)
        plans[f"v{i}"] = [(x0 + 100.0, y0, 50.0), (x0 + 100.0, y0 + 100.0, 50.0)]
    with FlightSim(params, wind_mps=(3.0, 0.0, 0.0), gust_sd_mps=1.0, seed=1,
                   rate_hz=rate_hz) as sim:
        t0 = time.perf_counter()
        tracks = sim.fly_many(plans, starts)
        wall = time.perf_counter() - t0
        steps = sim.steps
    assert all(t.flyable for t in tracks.values()), [t.end_reason for t in tracks.values()]
    return steps, wall, steps / rate_hz


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vehicles", type=int, nargs="+", default=[1, 10, 50])
    ap.add_argument("--rate-hz", type=float, default=240.0)
    ap.add_argument("--smoke", action="store_true",
                    help="a check that the benchmark works: 2 vehicles")
    args = ap.parse_args()
    if args.smoke:
        args.vehicles = [2]
    print(f"{'vehicles':>8} {'steps':>7} {'wall s':>7} {'steps/s':>9} "
          f"{'veh-steps/s':>12} {'x real time':>12}")
    for n in args.vehicles:
        steps, wall, sim_s = run(n, args.rate_hz)
        print(f"{n:>8} {steps:>7} {wall:>7.2f} {steps / wall:>9.0f} "
              f"{n * steps / wall:>12.0f} {sim_s / wall:>12.1f}")


if __name__ == "__main__":
    main()

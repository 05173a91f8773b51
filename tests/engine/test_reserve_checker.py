"""The energy limit of each leg of a route block (``Movement.fly_route``) is found by
the motion model's per-route checker (``MotionModel.reserve_checker``: the still-air
model works out what all legs share once, and makes the tests before the quadratic
without asking the no-fly detour where it is surely 1). The legs, ``arrive`` events,
block state and the detour cache (what was asked, in which order) must be exactly those
of ``reserve_time`` called for each leg, as any other motion model has it, for every
kind of route: calibrated and fixed-wing turns, legs of no length, vertical legs, given
speeds, routes that reach the reserve on some leg (near the no-fly zone, where the
detour home counts, or far from it), and routes flown under engine control (down to an
empty battery)."""

from __future__ import annotations

import numpy as np
import pytest

from fleetsim.engine import Simulation
from fleetsim.engine.motion import MotionModel
from fleetsim.engine.movement import Depleted, ReserveReached
from fleetsim.scenario import load_scenario_text

SCENARIO = """
schema_version: 1
name: arrays
run: {{duration_s: 3600, seed: 1}}
world:
  terrain: {{source: flat, size_m: [20000, 20000], spacing_m: 100}}
  zones:
    - {{id: city, kind: no_fly, polygon: [[9000, 9000], [11000, 9000], [11000, 11000],
                                        [9000, 11000]]}}
  sites: [{{id: home, kind: base, position: [5000, 10000], pads: 4}}]
fleet:
  types:
    - id: craft
      kind: {kind}
      count: 1
      base: home
      cruise_speed_mps: 20
      climb_rate_mps: 4
      cruise_altitude_agl_m: 100
      battery_wh: 400
      hover_power_w: 170
      cruise_power_w: 150
      reserve_fraction: 0.2
      recharge_time_s: 100
      {extra}
      sensor: {{footprint_radius_m: 50}}
policy: {{name: persistent_patrol}}
"""

CALIBRATED = ("turn_penalty_s_per_rad: 1.7\n      leg_overhead_s: 2.3\n"
              "      climb_energy_wh_per_m: 0.031")


class LegByLeg(MotionModel):
    """The still-air model with ``reserve_time`` called for each leg (as a model that
    overrides it has it)."""

    def reserve_time(self, *args, **kwargs) -> float:
        return super().reserve_time(*args, **kwargs)


def lay(sim: Simulation, start, battery: float, forced: bool, xs, ys, zs, speeds) -> dict:
    """Put the vehicle at ``start`` with ``battery`` Wh, lay out one route block, and
    return what it recorded."""
    v = 0
    sim.px[v], sim.py[v], sim.pz[v] = start
    sim.battery[v] = battery
    sim.engine_control[v] = forced
    n0, e0 = len(sim.legs), len(sim.log)
    gen = sim.fly_route(v, xs, ys, zs, True, speeds)
    try:
        waits = type(next(gen)).__name__  # the block's timeout: all is recorded by now
    except (StopIteration, ReserveReached, Depleted) as end:
        waits = type(end).__name__  # no leg, or the limit at once: no timeout
    return {
        "legs": sim.legs.a[n0:len(sim.legs)].copy(),
        "events": sim.log.rows(np.arange(e0, len(sim.log))),
        "waits": waits,
        "block": (list(sim.blk_t0[v]), [i - n0 for i in sim.blk_ids[v]], sim.cur_leg[v] - n0,
                  sim.blk_open[v]),
        "cache": dict(sim.no_fly.detour_cache),
    }


def routes(rng: np.random.Generator, n_cases: int):
    for _ in range(n_cases):
        n = int(rng.integers(2, 25))
        # Around the zone and the base, some waypoints repeated, some straight up.
        pts = rng.uniform([3000, 6000], [14000, 14000], size=(n, 2))
        zs = np.full(n, 100.0) + rng.choice([0.0, 0.0, 0.0, 37.5, -20.0], size=n)
        for i in range(1, n):
            r = rng.random()
            if r < 0.12:
                pts[i] = pts[i - 1]  # no horizontal move: vertical leg or none
            if r < 0.06:
                zs[i] = zs[i - 1]  # no leg at all
        start = (float(rng.uniform(3000, 14000)), float(rng.uniform(6000, 14000)),
                 float(rng.choice([0.0, 100.0])))
        speeds = None if rng.random() < 0.6 else rng.uniform(5, 30, size=n).tolist()
        battery = float(rng.uniform(60.0, 400.0))
        forced = bool(rng.random() < 0.2)
        yield start, battery, forced, pts[:, 0].tolist(), pts[:, 1].tolist(), zs.tolist(), \
            speeds


@pytest.mark.parametrize("kind,extra", [("multirotor", ""), ("multirotor", CALIBRATED),
                                        ("fixed_wing", ""), ("fixed_wing", CALIBRATED)],
                         ids=["multirotor", "calibrated", "fixed_wing", "fixed_calibrated"])
def test_route_energy_limits_found_per_route_are_those_found_per_leg(kind, extra):
    rng = np.random.default_rng(7)
    text = SCENARIO.format(kind=kind, extra=extra)
    checked = Simulation(load_scenario_text(text))
    by_leg = Simulation(load_scenario_text(text), motion=LegByLeg)
    stops = forced_stops = 0
    for start, battery, forced, xs, ys, zs, speeds in routes(rng, 150):
        a = lay(checked, start, battery, forced, xs, ys, zs, speeds)
        b = lay(by_leg, start, battery, forced, xs, ys, zs, speeds)
        a_legs, a_events = a.pop("legs"), a.pop("events")
        b_legs, b_events = b.pop("legs"), b.pop("events")
        assert a_legs.tobytes() == b_legs.tobytes()
        assert a_events.tobytes() == b_events.tobytes()
        assert a == b  # block state, its timeout, the detour cache (in its order)
        assert list(a["cache"]) == list(b["cache"])
        if len(a_legs) and not a["block"][3]:  # the block ends at the energy limit
            stops += 1
            forced_stops += forced
    # The cases cover the energy limit, under engine control too, and the detour home.
    assert stops >= 10 and forced_stops >= 2
    assert len(checked.no_fly.detour_cache) >= 5

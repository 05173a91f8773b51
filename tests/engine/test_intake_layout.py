"""Plan intake lays the routes of a decision out in one array (heights, lengths, layers
by heading) and a lone route without it: the queued route must be the same either way,
to the bit, and be what the terrain and the waypoints say."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fleetsim.engine import Simulation
from fleetsim.policy import Hold, Plan, Policy, ReturnHome, Route
from fleetsim.scenario import load_scenario_text

SCENARIO = """
schema_version: 1
name: layout
run: {{duration_s: 400, seed: 1}}
world:
  terrain: {{source: npy, path: hills.npy, spacing_m: 50}}
  sites: [{{id: home, kind: base, position: [1000, 1000], pads: 2}}]
fleet:
  types:
    - id: quad
      kind: multirotor
      count: 2
      base: home
      cruise_speed_mps: 15
      climb_rate_mps: 4
      cruise_altitude_agl_m: 60
      battery_wh: 100000
      hover_power_w: 170
      cruise_power_w: 150
      recharge_time_s: 100
      sensor: {{footprint_radius_m: 50}}
{separation}policy: {{name: holding}}
"""

R0 = [(1210.3, 987.1), (1466.9, 1301.7), (1120.4, 1533.3), (733.3, 1401.1)]
R1 = [(800.0, 600.0), (612.5, 911.1), (500.0, 1500.0)]


class Holding(Policy):
    """Both vehicles hover where they took off."""

    name = "holding"

    def decide(self, now_s, fleet, requests):
        return [Plan(r.vehicle, [Hold(None)]) for r in requests if r.reason == "start"]


def queued_route(tmp_path, plans, separation=""):
    """Vehicle 0's queued route after ``plans`` are applied at 100 s."""
    rng = np.random.default_rng(5)
    np.save(tmp_path / "hills.npy", rng.uniform(0.0, 300.0, (41, 41)))
    sc = load_scenario_text(SCENARIO.format(separation=separation), base_dir=str(tmp_path))
    sim = Simulation(sc, policy=Holding())
    seen = []

    def later():
        yield sim.env.timeout(100.0)
        sim.apply_plans(100.0, plans)
        seen.extend(it for it in sim.queue[0] if it[0] == "route")

    sim.env.process(later())
    sim.run()
    assert len(seen) == 1
    return sim, seen[0]


def same_bits(a, b):
    return np.array_equal(np.asarray(a).view(np.int64), np.asarray(b).view(np.int64))


@pytest.mark.parametrize("separation", [
    "",
    "separation: {minima: {air: {horizontal_m: 50, vertical_m: 15}}, layering: heading, "
    "layer_spacing_m: 40}\n",
], ids=["plain", "layered"])
def test_a_lone_route_is_queued_as_in_a_batch(tmp_path, separation):
    alone = [Plan(0, [Route(np.array(R0))], append=True)]
    batch = [Plan(0, [Route(np.array(R0))], append=True),
             Plan(1, [Route(np.array(R1)), ReturnHome()], append=True)]
    sim, one = queued_route(tmp_path, alone, separation)
    _, many = queued_route(tmp_path, batch, separation)
    _, xs, ys, zs, sensing, length, action_class = one
    assert many[4:] == one[4:]
    assert all(same_bits(p, q) for p, q in zip(one[1:4], many[1:4], strict=True))
    assert all(isinstance(c, np.ndarray) and c.dtype == np.float64 for c in one[1:4])
    assert (xs.tolist(), ys.tolist()) == tuple(map(list, zip(*R0, strict=True)))
    assert (sensing, action_class) == (True, "transit")
    # Heights: the terrain under each waypoint plus the cruise altitude (plus a layer
    # per heading quadrant, from where the vehicle hovers), exactly.
    z = sim.world.terrain.height_at(np.array(xs), np.array(ys)) + 60.0
    if separation:
        heading = [math.degrees(math.atan2(x1 - x0, y1 - y0)) % 360.0 for (x0, y0), (x1, y1)
                   in zip([(1000.0, 1000.0), *R0[:-1]], R0, strict=True)]
        z = z + np.floor(np.array(heading) / 90.0) * 40.0
    assert same_bits(zs, z)
    assert length == pytest.approx(sum(math.dist(p, q) for p, q in zip(R0, R0[1:], strict=False)),
                                   rel=1e-12)

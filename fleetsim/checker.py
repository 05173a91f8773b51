"""The policy conformance checker, shipped so that policy authors can run it.

``check_policy("my_policy")`` runs the policy twice on a small scenario with
one seed and checks that:

* it returns plans the engine accepts (the engine checks every plan);
* both runs record identical legs and events (determinism: all randomness
  must come from the ``rng`` in the policy context);
* it changed none of its inputs (the world, the fleet's home positions).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import shapely

from fleetsim.errors import PolicyError
from fleetsim.scenario.model import Scenario

#: The small scenario the checker runs: 3 km square, flat, one no-fly zone,
#: a search mission with targets, 6 quadrotors at two bases.
CHECK_SCENARIO = """
schema_version: 1
name: policy_check
run: {duration_s: 1500, seed: 11, monitor_window_s: 5}
world:
  terrain: {source: procedural, size_m: [3000, 3000], spacing_m: 50, relief_m: 120, ridges: 3}
  zones:
    - {id: nofly, kind: no_fly, polygon: [[1300, 1300], [1700, 1300], [1700, 1700], [1300, 1700]]}
  sites:
    - {id: a, kind: base, position: [100, 100], pads: 2}
    - {id: b, kind: base, position: [2900, 2900], pads: 1}
fleet:
  types:
    - id: quad
      kind: multirotor
      bases: {a: 4, b: 2}
      cruise_speed_mps: 12
      climb_rate_mps: 4
      cruise_altitude_agl_m: 60
      battery_wh: 25
      hover_power_w: 200
      cruise_power_w: 180
      reserve_fraction: 0.25
      recharge_time_s: 300
      sensor: {footprint_radius_m: 50}
missions:
  - id: area
    kind: search
    area: {rect: [200, 200, 2800, 2800]}
    random_targets: 15
policy: {name: random_search}
"""


@dataclass(frozen=True)
class CheckReport:
    policy: str
    digest: str
    legs: int
    events: int


def _world_digest(world) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(world.terrain.heights_m).tobytes())
    h.update(np.ascontiguousarray(world.targets_xy).tobytes())
    for z in world.zones:
        h.update(shapely.to_wkb(z.polygon))
    h.update(shapely.to_wkb(world.mission_area))
    return h.hexdigest()


def check_policy(name: str, scenario: Scenario | None = None, *,
                 params: dict | None = None) -> CheckReport:
    """Run policy ``name`` twice on ``scenario`` (default :data:`CHECK_SCENARIO`).

    Raises :class:`PolicyError` saying what failed; returns a report otherwise.
    """
    from fleetsim.engine import Simulation
    from fleetsim.record import run_digest
    from fleetsim.scenario import load_scenario_text

    overrides = [f"policy.name={name}"]
    if params:
        import json
        overrides.append(f"policy.params={json.dumps(params)}")
    if scenario is None:
        scenario = load_scenario_text(CHECK_SCENARIO, filename="<policy check>",
                                      overrides=overrides)
    digests = []
    run = None
    from fleetsim.world.world import build_world

    for _ in range(2):
        world = build_world(scenario)
        before = _world_digest(world)
        try:
            sim = Simulation(scenario, world=world)
            before = before, sim.home_xy_arr.tobytes()
            run = sim.run()
        except (ValueError, PolicyError) as exc:
            cause = exc.__cause__ if isinstance(exc, PolicyError) else exc
            if not (isinstance(cause, ValueError) and "read-only" in str(cause)):
                raise
            exc = cause
            raise PolicyError(f"the policy tried to change an input it was given read-only "
                              f"({exc}); policies must not modify the world or the fleet view",
                              policy=name) from None
        after = _world_digest(sim.world), sim.home_xy_arr.tobytes()
        if before != after:
            raise PolicyError("the policy changed its inputs (world or fleet) during the run; "
                              "policies must treat what they are given as read-only",
                              policy=name)
        digests.append(run_digest(run))
    if digests[0] != digests[1]:
        raise PolicyError("two runs with the same scenario and seed recorded different logs; "
                          "draw all randomness from ctx.rng and avoid set/dict-order or "
                          "wall-clock dependence", policy=name)
    return CheckReport(policy=name, digest=digests[0], legs=len(run.legs["leg"]),
                       events=len(run.events["time_s"]))

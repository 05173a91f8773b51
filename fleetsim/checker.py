"""The policy conformance checker, shipped so that policy authors can run it.

``check_policy("my_policy")`` runs the policy twice on a small scenario with
one seed and checks that:

* it returns plans the engine accepts (the engine checks every plan);
* both runs record identical legs and events (determinism: all randomness
  must come from the ``rng`` in the policy context);
* it changed none of its inputs (the world, the fleet's home positions);
* every action class its plans carry is one it declares in
  :attr:`fleetsim.policy.Policy.action_classes` (when it declares them).
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


#: The scenario logistics policies are checked on: 4 km square with a road grid,
#: two depots, vans (one carrying two quadrotors) and quadrotors, Poisson orders.
LOGISTICS_CHECK_SCENARIO = """
schema_version: 1
name: policy_check_logistics
run: {duration_s: 2400, seed: 11, monitor_window_s: 5}
world:
  terrain: {source: flat, size_m: [4000, 4000], spacing_m: 100}
  zones:
    - {id: nofly, kind: no_fly, polygon: [[1800, 1800], [2200, 1800], [2200, 2200], [1800, 2200]]}
  roads: {source: grid, spacing_m: 500, speed_limit_mps: 12, blocked: 3,
          closures: [{time_s: 900, near: [1250, 1000]}]}
  sites:
    - {id: north, kind: depot, position: [1000, 3000], pads: 2, loading_bays: 1,
       loading_time_s: 45}
    - {id: south, kind: depot, position: [3000, 1000], pads: 2, loading_bays: 2,
       loading_time_s: 45, swap_stations: 1, swap_time_s: 60}
    - {id: lp, kind: launch_point, position: [2000, 3000]}
fleet:
  types:
    - id: van
      kind: wheeled
      bases: {north: 1, south: 1}
      cruise_speed_mps: 12
      battery_wh: 20000
      cruise_power_w: 4000
      recharge_time_s: 600
      payload_kg: 60
      carrier_slots: 2
    - id: quad
      kind: multirotor
      bases: {north: 2, south: 2}
      cruise_speed_mps: 14
      climb_rate_mps: 4
      cruise_altitude_agl_m: 60
      battery_wh: 60
      hover_power_w: 250
      cruise_power_w: 220
      recharge_time_s: 300
      payload_kg: 3
      sensor: {footprint_radius_m: 20}
    - id: rider
      kind: multirotor
      carrier: van
      count: 2
      cruise_speed_mps: 14
      climb_rate_mps: 4
      cruise_altitude_agl_m: 60
      battery_wh: 60
      hover_power_w: 250
      cruise_power_w: 220
      recharge_time_s: 300
      payload_kg: 3
      sensor: {footprint_radius_m: 20}
logistics:
  service_time_s: 30
  demand:
    - {origin: north, rate_per_hour: 40, area: {rect: [200, 200, 3800, 3800]},
       weight_range_kg: [0.5, 8], window_s: 1800}
    - {origin: south, rate_per_hour: 30, area: {rect: [200, 200, 3800, 3800]},
       weight_range_kg: [0.5, 2.5], window_s: 1800}
policy: {name: nearest_dispatch}
"""


@dataclass(frozen=True)
class CheckReport:
    policy: str
    digest: str
    legs: int
    events: int
    #: The action classes the policy's plans carried, sorted.
    action_classes: tuple[str, ...] = ()
    #: The action types (``GoTo``, ``Route``, ...) its plans carried, sorted.
    action_types: tuple[str, ...] = ()


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
        from fleetsim.policy import policy_class

        logistics = getattr(policy_class(name), "mission", "") == "logistics"
        scenario = load_scenario_text(LOGISTICS_CHECK_SCENARIO if logistics else CHECK_SCENARIO,
                                      filename="<policy check>", overrides=overrides)
    digests = []
    run = None
    emitted: set[str] = set()
    types: set[str] = set()
    from fleetsim.world.world import build_world

    for _ in range(2):
        world = build_world(scenario)
        before = _world_digest(world)
        try:
            sim = Simulation(scenario, world=world)
            before = before, sim.home_xy_arr.tobytes()
            _record_classes(sim.policy, emitted, types)
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
    declared = getattr(type(sim.policy), "action_classes", None)
    if declared is not None and emitted - set(declared):
        raise PolicyError(f"its plans carried action class(es) "
                          f"{', '.join(sorted(emitted - set(declared)))} that it does not "
                          f"declare (action_classes: {', '.join(sorted(declared)) or 'none'}); "
                          "declare every class its plans may carry, so that scenarios "
                          "can be checked against it", policy=name)
    return CheckReport(policy=name, digest=digests[0], legs=len(run.legs["leg"]),
                       events=len(run.events["time_s"]), action_classes=tuple(sorted(emitted)),
                       action_types=tuple(sorted(types)))


def _record_classes(policy, emitted: set[str], types: set[str]) -> None:
    """Wrap ``policy.decide`` (on the instance) to collect its plans' action classes
    (into ``emitted``) and action types (into ``types``)."""
    decide = policy.decide

    def recording(now_s, fleet, requests):
        plans = decide(now_s, fleet, requests)
        if plans is not None and not isinstance(plans, (list, tuple)) \
                and hasattr(plans, "__iter__"):
            plans = list(plans)  # an iterator is read here and by the engine
        for plan in plans or ():
            for action in getattr(plan, "actions", ()) or ():
                types.add(type(action).__name__)
                cls = getattr(action, "action_class", None)
                if isinstance(cls, str):
                    emitted.add(cls)
        return plans

    policy.decide = recording

"""Built-in policies and no-fly zones with active windows: the area is used while the
zone is inactive, and never entered while it is active."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import shapely

from fleetsim.engine import Simulation
from fleetsim.geometry import zone_intervals
from fleetsim.metrics import compute_metrics
from fleetsim.scenario import load_scenario_text

ZONE = (1200.0, 600.0, 2200.0, 1400.0)  # x0, y0, x1, y1


def scenario(policy: str, params: str, *, start_s: float = 900.0, end_s: float = 2700.0,
             count: int = 6, duration_s: float = 3600.0, terrain: str | None = None):
    x0, y0, x1, y1 = ZONE
    terrain = terrain or "{source: flat, size_m: [3400, 2000], spacing_m: 50}"
    text = f"""
schema_version: 1
name: zone_window_test
run: {{duration_s: {duration_s}, seed: 5, monitor_window_s: 10}}
world:
  terrain: {terrain}
  zones:
    - {{id: nesting, kind: no_fly, rect: [{x0}, {y0}, {x1}, {y1}],
       active: {{start_s: {start_s}, end_s: {end_s}}}}}
  sites: [{{id: base, kind: base, position: [200, 1000], pads: {count}}}]
fleet:
  types:
    - {{id: quad, kind: multirotor, count: {count}, base: base, cruise_speed_mps: 15,
       climb_rate_mps: 5, cruise_altitude_agl_m: 60, battery_wh: 1.0e6, hover_power_w: 300,
       cruise_power_w: 300, reserve_fraction: 0.2, recharge_time_s: 600,
       terrain_clearance_m: 30, sensor: {{footprint_radius_m: 100}}}}
missions:
  - {{id: area, kind: persistent, area: {{rect: [100, 100, 3300, 1900]}}}}
policy: {{name: {policy}, params: {params}}}
outputs: {{metrics_cell_m: 50}}
"""
    return load_scenario_text(text, filename="<zone window test>")


def inside_intervals(run) -> tuple[np.ndarray, np.ndarray]:
    """When air legs are inside the zone's area, active or not."""
    legs = run.legs
    air = np.isin(np.asarray(legs["kind"], dtype=object), ["move", "hold", "return", "takeoff",
                                                          "land"])
    p0 = np.column_stack([legs["x0_m"], legs["y0_m"]])[air]
    p1 = np.column_stack([legs["x1_m"], legs["y1_m"]])[air]
    always = SimpleNamespace(polygon=shapely.box(*ZONE), floor_amsl_m=-math.inf,
                             ceiling_amsl_m=math.inf, start_s=-math.inf, end_s=math.inf)
    _, _, t_in, t_out = zone_intervals(np.asarray(legs["t0_s"])[air],
                                       np.asarray(legs["t1_s"])[air], p0, p1, [always])
    return t_in, t_out


def test_persistent_patrol_visits_the_zone_before_and_after_its_window_only():
    run = Simulation(scenario("persistent_patrol", "{cell_size_m: 200}")).run()
    m = compute_metrics(run)
    assert m["safety.geofence_entries"] == 0
    t_in, t_out = inside_intervals(run)
    assert np.count_nonzero(t_out <= 900.0) > 0  # used before it starts ...
    assert np.count_nonzero(t_in >= 2700.0) > 0  # ... and after it ends
    during = (t_in < 2700.0) & (t_out > 900.0)
    assert not during.any(), list(zip(t_in[during], t_out[during], strict=True))
    kinds = np.asarray(run.events["kind"], dtype=object)
    assert not np.any(kinds == "zone_enter")
    # Its cells are seen again once the zone ends: vehicles spread into the most idle
    # cells, and those are the zone's after 30 min of being out of bounds.
    assert np.count_nonzero(t_in >= 2700.0) >= 6


def test_a_zone_active_from_the_start_is_left_out_and_one_that_ended_is_used():
    run = Simulation(scenario("persistent_patrol", "{cell_size_m: 200}", start_s=0.0,
                              end_s=1200.0, duration_s=2400.0)).run()
    assert compute_metrics(run)["safety.geofence_entries"] == 0
    t_in, t_out = inside_intervals(run)
    assert len(t_in) and t_in.min() >= 1200.0


@pytest.mark.parametrize("policy, params", [
    ("random_search", "{leg_length_m: 1500}"),
    ("lawnmower", "{}"),
    ("autonomous_patrol", "{cell_size_m: 200}"),
])
def test_other_policies_never_enter_the_zone_while_active(policy, params):
    run = Simulation(scenario(policy, params, duration_s=2400.0)).run()
    assert compute_metrics(run)["safety.geofence_entries"] == 0
    t_in, t_out = inside_intervals(run)
    assert not np.any((t_in < 2700.0) & (t_out > 900.0))


@pytest.mark.parametrize("policy", ["persistent_patrol", "random_search", "lawnmower"])
def test_policies_keep_their_terrain_clearance_over_ridges(policy):
    terrain = ("{source: procedural, size_m: [3400, 2000], spacing_m: 25, relief_m: 500, "
               "ridges: 4}")
    params = "{cell_size_m: 200}" if policy == "persistent_patrol" else "{}"
    run = Simulation(scenario(policy, params, duration_s=1800.0, terrain=terrain)).run()
    m = compute_metrics(run)
    assert m["safety.terrain_violations"] == 0 and m["safety.geofence_entries"] == 0
    # The relief is real: flown at 60 m above each waypoint, straight legs would not do.
    legs = run.legs
    moving = np.asarray(legs["kind"], dtype=object) == "move"
    z = np.asarray(legs["z1_m"])[moving]
    ground = run.world.terrain.height_at(np.asarray(legs["x1_m"])[moving],
                                         np.asarray(legs["y1_m"])[moving])
    assert np.any(z - ground > 60.0 + 1.0)  # some waypoints were raised


def ridge_delivery(policy: str, zones: str = "[]"):
    """A depot in the west of rough ground (400 m relief at 25 m spacing, flown at
    40 m above the ground) and customers in the east."""
    orders = "\n".join(
        f"    - {{id: o{k}, origin: depot, destination: [3500, {400 + 300 * k}], "
        f"weight_kg: 1, created_s: {60 * k}}}" for k in range(4))
    return load_scenario_text(f"""
schema_version: 1
name: ridge_delivery
run: {{duration_s: 1800, seed: 5, monitor_window_s: 10}}
world:
  terrain: {{source: procedural, size_m: [4000, 1600], spacing_m: 25, relief_m: 400,
            ridges: 3}}
  zones: {zones}
  sites:
    - {{id: depot, kind: depot, position: [300, 800], pads: 4, loading_bays: 2,
       loading_time_s: 10}}
fleet:
  types:
    - {{id: quad, kind: multirotor, count: 4, base: depot, cruise_speed_mps: 15,
       climb_rate_mps: 5, cruise_altitude_agl_m: 40, battery_wh: 5000, hover_power_w: 200,
       cruise_power_w: 200, recharge_time_s: 600, payload_kg: 2, terrain_clearance_m: 25,
       sensor: {{footprint_radius_m: 20}}}}
logistics:
  service_time_s: 20
  orders:
{orders}
policy: {{name: {policy}}}
""", filename="<ridge delivery>")


@pytest.mark.parametrize("policy", ["nearest_dispatch", "batch_assignment", "vrp_planner"])
def test_logistics_air_legs_keep_clearance_and_avoid_active_zones(policy):
    zones = ("[{id: tower, kind: no_fly, rect: [1800, 500, 2200, 1100], "
             "active: {start_s: 0, end_s: 1200}}]")
    run = Simulation(ridge_delivery(policy, zones)).run()
    m = compute_metrics(run)
    assert m["logistics.orders_delivered"] == 4
    assert m["safety.terrain_violations"] == 0
    assert m["safety.geofence_entries"] == 0

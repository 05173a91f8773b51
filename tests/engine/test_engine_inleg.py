"""What happens during a leg: detections, line of sight, zone crossings, terrain.

The engine finds these in closed form when a leg is created (in monitor
batches) and records them at their exact times. One quadrotor, flying at
v = 10 m/s and 50 m above the terrain, with a definite-range sensor of radius
r, after a 10 s takeoff.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from fleetsim.engine import Simulation
from fleetsim.metrics import compute_metrics
from fleetsim.policy import GoTo, Hold, Plan, Policy
from fleetsim.scenario import load_scenario_text

V, T_UP = 10.0, 10.0


def vehicle_yaml(base: str, radius: float, battery_wh: float = 1000.0, climb: float = 5.0) -> str:
    return f"""
fleet:
  types:
    - id: quad
      kind: multirotor
      count: 1
      base: {base}
      cruise_speed_mps: {V}
      climb_rate_mps: {climb}
      cruise_altitude_agl_m: 50
      battery_wh: {battery_wh}
      hover_power_w: 720
      cruise_power_w: 360
      reserve_fraction: 0.2
      recharge_time_s: 1000
      terrain_clearance_m: 30
      sensor: {{footprint_radius_m: {radius}}}
"""


class Fly(Policy):
    """Flies vehicle 0 through ``actions``; records every request with its time."""

    name = "fly"

    def __init__(self, actions):
        self.actions = actions
        self.requests: list[tuple[float, str, int]] = []

    def decide(self, now_s, fleet, requests):
        self.requests += [(now_s, r.reason, r.target) for r in requests]
        return [Plan(0, self.actions) for r in requests if r.reason == "start"]


def events(run, kind: str):
    ev = run.events
    sel = ev["kind"] == kind
    return {k: ev[k][sel] for k in ev}


# --------------------------------------------------------------------------- detections


def test_detection_times_follow_the_segment_circle_entry_formula():
    """Flying east along y = 1000 from x = 100 (leg starts at t0 = 10 s), a target at
    along-track distance a and lateral offset d enters the r = 80 m disc at
    t0 + (a - sqrt(r^2 - d^2)) / v; one just beyond r is never detected."""
    r = 80.0
    cases = [(600.0, 0.0), (900.0, 30.0), (1200.0, -60.0), (1500.0, 79.0), (1800.0, 80.5)]
    targets = [[100.0 + a, 1000.0 + d] for a, d in cases]
    text = f"""
schema_version: 1
name: detect
run: {{duration_s: 400, seed: 1, monitor_window_s: 10}}
world:
  terrain: {{source: flat, size_m: [3000, 2000], spacing_m: 50}}
  sites: [{{id: home, kind: base, position: [100, 1000]}}]
{vehicle_yaml("home", r)}
missions:
  - {{id: m, kind: search, area: {{rect: [0, 0, 3000, 2000]}}, targets: {targets}}}
policy: {{name: fly}}
"""
    policy = Fly([GoTo(2900.0, 1000.0)])
    run = Simulation(load_scenario_text(text), policy=policy).run()
    det = events(run, "detection")
    expected = [T_UP + (a - math.sqrt(r * r - d * d)) / V for a, d in cases[:-1]]
    assert det["target"].tolist() == [0, 1, 2, 3]
    assert det["time_s"] == pytest.approx(expected, abs=1e-9)
    assert det["value"] == pytest.approx([abs(d) for _, d in cases[:-1]], abs=1e-9)
    # The recorded position is the vehicle's, on its track, at that time.
    assert det["x_m"] == pytest.approx([100.0 + V * (t - T_UP) for t in expected])
    assert det["y_m"] == pytest.approx([1000.0] * 4)
    # The policy hears of each detection at the first monitor pass (every 10 s) at or
    # after it: up to one window late, never early.
    heard = {target: t for t, reason, target in policy.requests if reason == "detection"}
    assert sorted(heard) == [0, 1, 2, 3]
    for target, t_det in zip(det["target"].tolist(), expected, strict=True):
        assert heard[target] == 10.0 * math.ceil(t_det / 10.0 - 1e-12)


def ridge_terrain(tmp_path, height: float = 200.0) -> str:
    """41 x 41 points at 50 m (2 km square), flat at 0 m but for a one-point-wide
    north-south ridge at x = 800 m."""
    h = np.zeros((41, 41))
    h[:, 16] = height
    np.save(tmp_path / "ridge.npy", h)
    return "{source: npy, path: ridge.npy, spacing_m: 50}"


def test_a_target_behind_a_ridge_is_not_detected(tmp_path):
    """The vehicle flies north along x = 700 m at 50 m above flat ground, 100 m west of
    a 200 m ridge at x = 800 m. Targets 200 m from the track (r = 250 m): the one on the
    open west side is seen on entry, the one behind the ridge (east) is never seen."""
    text = f"""
schema_version: 1
name: ridge
run: {{duration_s: 400, seed: 1, monitor_window_s: 10}}
world:
  terrain: {ridge_terrain(tmp_path)}
  sites: [{{id: home, kind: base, position: [700, 100]}}]
{vehicle_yaml("home", 250.0)}
missions:
  - {{id: m, kind: search, area: {{rect: [0, 0, 2000, 2000]}},
     targets: [[900, 1000], [500, 1000]]}}
policy: {{name: fly}}
"""
    sc = load_scenario_text(text, base_dir=str(tmp_path))
    run = Simulation(sc, policy=Fly([GoTo(700.0, 1900.0)])).run()
    det = events(run, "detection")
    assert det["target"].tolist() == [1]
    assert det["time_s"] == pytest.approx([T_UP + (900.0 - 150.0) / V])
    # The track itself stays clear of the ridge: no terrain violation.
    assert len(events(run, "terrain_violation")["time_s"]) == 0


def test_a_leg_through_a_ridge_is_a_terrain_violation(tmp_path):
    """Flying east along y = 1000 from x = 500 to 1100 at 50 m (the ends are on flat
    ground), the leg meets the 200 m ridge at x = 800. The clearance (30 m) is first
    lost at x = 755 (bilinear slope 0..200 m over 750..800); terrain is sampled along
    legs at the 50 m grid spacing, so the event comes within one spacing after that,
    and it reports the lowest clearance, 50 - 200 = -150 m."""
    text = f"""
schema_version: 1
name: ridge
run: {{duration_s: 200, seed: 1, monitor_window_s: 10}}
world:
  terrain: {ridge_terrain(tmp_path)}
  sites: [{{id: home, kind: base, position: [500, 1000]}}]
{vehicle_yaml("home", 30.0)}
policy: {{name: fly}}
"""
    sc = load_scenario_text(text, base_dir=str(tmp_path))
    run = Simulation(sc, policy=Fly([GoTo(1100.0, 1000.0)])).run()
    viol = events(run, "terrain_violation")
    assert len(viol["time_s"]) == 1
    t_lost = T_UP + 255.0 / V
    assert t_lost <= viol["time_s"][0] <= t_lost + 50.0 / V
    assert viol["value"][0] == pytest.approx(-150.0)
    move = np.flatnonzero(run.legs["kind"] == "move")[0]
    assert viol["leg"][0] == move
    assert compute_metrics(run)["safety.terrain_violations"] == 1


def test_zone_entries_and_exits_are_exact_and_agree_with_the_metrics():
    """East along y = 1100 from x = 500 (t0 = 10 s): the no-fly square x 1000..1200 is
    entered at 10 + 50 = 60 s and left at 80 s. A restricted square x 1300..1500 is
    crossed from 90 to 110 s but becomes active only at 100 s: entered then."""
    text = f"""
schema_version: 1
name: zones
run: {{duration_s: 300, seed: 1, monitor_window_s: 10}}
world:
  terrain: {{source: flat, size_m: [2000, 2000], spacing_m: 50}}
  zones:
    - {{id: nofly, kind: no_fly, rect: [1000, 1000, 1200, 1200]}}
    - {{id: later, kind: restricted, rect: [1300, 1000, 1500, 1200], active: {{start_s: 100}}}}
    - {{id: low, kind: no_fly, rect: [600, 1000, 800, 1200], ceiling_amsl_m: 40}}
  sites: [{{id: home, kind: base, position: [500, 1100]}}]
{vehicle_yaml("home", 30.0)}
missions:
  - {{id: m, kind: search, area: {{rect: [0, 0, 2000, 2000]}}}}
policy: {{name: fly}}
"""
    run = Simulation(load_scenario_text(text), policy=Fly([GoTo(1700.0, 1100.0)])).run()
    ev = run.events
    zone_events = [
        (round(float(t), 9), str(k), int(z))
        for t, k, z in zip(ev["time_s"], ev["kind"], ev["zone"], strict=True)
        if str(k).startswith("zone_")
    ]
    # The low zone (ceiling 40 m, the vehicle flies at 50 m) is never entered.
    assert zone_events == [
        (60.0, "zone_enter", 0),
        (80.0, "zone_exit", 0),
        (100.0, "zone_enter", 1),
        (110.0, "zone_exit", 1),
    ]
    enter = events(run, "zone_enter")
    assert enter["x_m"] == pytest.approx([1000.0, 1400.0])
    m = compute_metrics(run)
    assert m["safety.geofence_entries"] == 1
    assert m["safety.geofence_time_s"] == pytest.approx(20.0)
    assert m["safety.restricted_entries"] == 1
    assert m["safety.restricted_time_s"] == pytest.approx(10.0)


def test_hovering_in_a_zone_counts_until_the_run_ends():
    # Stop inside the no-fly square at x = 1100 (entered at 60 s) and hover there until
    # the end of the run at 300 s: 240 s inside, one entry, no exit event.
    text = f"""
schema_version: 1
name: zones
run: {{duration_s: 300, seed: 1, monitor_window_s: 10}}
world:
  terrain: {{source: flat, size_m: [2000, 2000], spacing_m: 50}}
  zones: [{{id: nofly, kind: no_fly, rect: [1000, 1000, 1200, 1200]}}]
  sites: [{{id: home, kind: base, position: [500, 1100]}}]
{vehicle_yaml("home", 30.0)}
policy: {{name: fly}}
"""
    run = Simulation(load_scenario_text(text), policy=Fly([GoTo(1100.0, 1100.0), Hold(None)])).run()
    assert events(run, "zone_enter")["time_s"].tolist() == [60.0]
    assert len(events(run, "zone_exit")["time_s"]) == 0
    m = compute_metrics(run)
    assert (m["safety.geofence_entries"], m["safety.geofence_time_s"]) == (1, 240.0)


# --------------------------------------------------------------------------- energy on hills


def test_a_vehicle_sent_home_at_its_reserve_gets_home_over_a_plateau(tmp_path):
    """Home at x = 900 on the plain; an 800 m plateau starts at x = 1000. The vehicle
    hovers 300 m from home on the plateau; descending 800 m at 2 m/s takes 400 s, not
    the 30 s of the horizontal distance. The engine must turn it home in time: it never
    runs out, and lands with at least its reserve (20 Wh)."""
    h = np.zeros((41, 41))
    h[:, 20:] = 800.0
    np.save(tmp_path / "plateau.npy", h)
    text = f"""
schema_version: 1
name: plateau
run: {{duration_s: 3000, seed: 1}}
world:
  terrain: {{source: npy, path: plateau.npy, spacing_m: 50}}
  sites: [{{id: home, kind: base, position: [900, 1000]}}]
{vehicle_yaml("home", 30.0, battery_wh=100.0, climb=2.0)}
policy: {{name: fly}}
"""
    sc = load_scenario_text(text, base_dir=str(tmp_path))
    run = Simulation(sc, policy=Fly([GoTo(1200.0, 1000.0), Hold(None)])).run()
    assert len(events(run, "reserve_reached")["time_s"]) >= 1
    assert len(events(run, "battery_depleted")["time_s"]) == 0
    assert (events(run, "charge_start")["value"] >= 20.0 - 1e-9).all()
    assert (run.legs["battery_end_wh"] >= 20.0 - 1e-9).all()


def test_a_vehicle_sent_home_around_a_no_fly_zone_lands_with_its_reserve():
    """Home at (500, 200); a no-fly wall x 1000..1200, y -500..3000 lies between home and
    the hover point (1700, 200). Straight home is 1200 m, the way around the wall's
    south end about 1.9 km: the turn-back must allow for it."""
    text = f"""
schema_version: 1
name: wall
run: {{duration_s: 2000, seed: 1}}
world:
  terrain: {{source: flat, size_m: [4000, 4000], spacing_m: 50}}
  zones: [{{id: wall, kind: no_fly, rect: [1000, -500, 1200, 3000]}}]
  sites: [{{id: home, kind: base, position: [500, 200]}}]
{vehicle_yaml("home", 30.0, battery_wh=100.0)}
policy: {{name: fly}}
"""
    run = Simulation(load_scenario_text(text), policy=Fly([GoTo(1700.0, 200.0), Hold(None)])).run()
    legs = run.legs
    ret = legs["kind"] == "return"
    assert ret.sum() >= 2  # it does go around the wall, not through it
    assert compute_metrics(run)["safety.geofence_entries"] == 1  # the policy's own GoTo
    assert len(events(run, "battery_depleted")["time_s"]) == 0
    assert (events(run, "charge_start")["value"] >= 20.0 - 1e-9).all()


def test_a_target_hidden_by_a_ridge_is_detected_once_it_comes_into_sight(tmp_path):
    """Flying north along x = 700 m at 50 m, the vehicle stops 200 m west of a target at
    (900, 1000) (r = 400 m): the 200 m ridge at x = 800 hides it. It then climbs straight
    up to 450 m AGL and hovers: above about 400 m the line of sight clears (100 m from
    the ridge at half the height difference), at 100 + 349 / 5 = 169.8 s, and the target
    must be detected by the end of the climb (the engine samples line of sight along
    the leg)."""
    text = f"""
schema_version: 1
name: ridge
run: {{duration_s: 400, seed: 1, monitor_window_s: 10}}
world:
  terrain: {ridge_terrain(tmp_path)}
  sites: [{{id: home, kind: base, position: [700, 100]}}]
{vehicle_yaml("home", 400.0)}
missions:
  - {{id: m, kind: search, area: {{rect: [0, 0, 2000, 2000]}}, targets: [[900, 1000]]}}
policy: {{name: fly}}
"""
    sc = load_scenario_text(text, base_dir=str(tmp_path))
    actions = [GoTo(700.0, 1000.0), GoTo(700.0, 1000.0, alt_agl_m=450.0), Hold(30.0)]
    run = Simulation(sc, policy=Fly(actions)).run()
    det = events(run, "detection")
    assert len(det["time_s"]) == 1
    assert 169.0 <= det["time_s"][0] <= 180.0 + 1e-9

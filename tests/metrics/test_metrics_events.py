"""Detection, energy, fleet and safety metrics, and the metrics JSON, on hand-made runs."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import shapely

from fleetsim.metrics import compute_metrics, json_value, metrics_json
from fleetsim.metrics.detection import detection_metrics
from fleetsim.metrics.energy import energy_metrics
from fleetsim.metrics.fleet import fleet_metrics
from fleetsim.metrics.handmade import path_legs, recorded_run, zone
from fleetsim.metrics.safety import safety_metrics, zone_entries

# --- detection ---------------------------------------------------------------


def test_detection_probability_and_mean_first_time():
    events = [
        {"time_s": 12.0, "kind": "detection", "vehicle": 1, "target": 0, "value": 3.0},
        {"time_s": 5.0, "kind": "detection", "vehicle": 0, "target": 0, "value": 8.0},
        {"time_s": 30.0, "kind": "detection", "vehicle": 0, "target": 2},
        {"time_s": 31.0, "kind": "detection", "vehicle": 0, "target": 2},
        {"time_s": 7.0, "kind": "detection", "vehicle": 0, "target": -1},  # no target
        {"time_s": 1.0, "kind": "zone_enter", "vehicle": 0, "target": 3},  # not a detection
    ]
    run = recorded_run(duration_s=100.0, events=events,
                       targets_xy=[(0, 0), (1, 1), (2, 2), (3, 3)])
    assert detection_metrics(run) == {
        "detection.targets": 4, "detection.detected": 2, "detection.probability": 0.5,
        "detection.mean_time_s": (5.0 + 30.0) / 2}


def test_detection_without_targets_or_detections():
    assert detection_metrics(recorded_run(duration_s=10.0)) == {
        "detection.targets": 0, "detection.detected": 0, "detection.probability": None,
        "detection.mean_time_s": None}
    run = recorded_run(duration_s=10.0, targets_xy=[(0, 0)])
    assert detection_metrics(run)["detection.probability"] == 0.0
    assert detection_metrics(run)["detection.mean_time_s"] is None


# --- energy and fleet ----------------------------------------------------------


def fleet_run():
    base = (0.0, 0.0, 0.0)
    up = (0.0, 0.0, 40.0)
    legs = (
        path_legs(0, [0.0, 10.0], [base, base], kind="ground", sensing=False, energy_wh=0.0)
        + path_legs(0, [10.0, 14.0], [base, up], kind="takeoff", energy_wh=2.0)
        + path_legs(0, [14.0, 44.0], [up, (300.0, 400.0, 40.0)], kind="move", energy_wh=10.0)
        + path_legs(0, [44.0, 94.0], [(300.0, 400.0, 40.0), up], kind="return", energy_wh=9.5)
        + path_legs(0, [94.0, 98.0], [up, base], kind="land", energy_wh=1.5)
        + path_legs(0, [98.0, 100.0], [base, base], kind="charge", sensing=False)
        + path_legs(1, [0.0, 100.0], [base, base], kind="wait_pad", sensing=False)
    )
    events = ([{"time_s": 44.0, "kind": "return_start", "vehicle": 0, "value": 500.0},
               {"time_s": 60.0, "kind": "return_start", "vehicle": 1},
               {"time_s": 61.0, "kind": "battery_depleted", "vehicle": 1}]
              + [{"time_s": t, "kind": "terrain_violation", "vehicle": 0, "value": -3.0}
                 for t in (20.0, 21.0, 22.0)])
    return recorded_run(duration_s=100.0, legs=legs, events=events,
                        footprint_radius_m=[10.0, 10.0])


def test_energy_is_the_sum_over_legs():
    assert energy_metrics(fleet_run()) == {"energy.total_wh": 23.0,
                                           "energy.per_vehicle_wh": 11.5}


def test_fleet_distance_utilization_and_counts():
    m = fleet_metrics(fleet_run())
    assert m["fleet.vehicles"] == 2 and m["fleet.legs"] == 7
    assert m["fleet.distance_m"] == pytest.approx(40 + 500 + 500 + 40)
    # takeoff 4 + move 30 + return 50 + land 4 = 88 s of 2 vehicles x 100 s.
    assert m["fleet.utilization"] == pytest.approx(88.0 / 200.0)
    assert m["fleet.returns_to_base"] == 2 and m["fleet.battery_depletions"] == 1


def test_fleet_of_nothing():
    m = fleet_metrics(recorded_run(duration_s=10.0))
    assert m["fleet.utilization"] is None and m["fleet.distance_m"] == 0.0


# --- safety ------------------------------------------------------------------

NO_FLY = shapely.box(100.0, -50.0, 200.0, 50.0)
RESTRICTED = shapely.box(400.0, -50.0, 500.0, 50.0)


def safety_run():
    h = 50.0
    legs = (
        # Vehicle 0: into the no-fly zone on one leg, across it on the next, out on a
        # third: one entry from t = 10 to t = 20 (10 m/s, the zone spans x 100..200).
        path_legs(0, [0.0, 13.0, 17.0, 30.0],
                  [(0.0, 0.0, h), (130.0, 0.0, h), (170.0, 0.0, h), (300.0, 0.0, h)])
        # Vehicle 1: through the no-fly zone twice (out and back), leaving it between:
        # 10 s + 10 s, two entries; then a hover inside the restricted zone above
        # its ceiling (not inside), then one inside its band for 5 s.
        + path_legs(1, [0.0, 30.0, 60.0],
                    [(0.0, 20.0, h), (300.0, 20.0, h), (0.0, 20.0, h)])
        + path_legs(1, [60.0, 70.0, 75.0],
                    [(450.0, 0.0, 150.0), (450.0, 0.0, 150.0), (450.0, 0.0, 90.0)],
                    kind="hold")
        + path_legs(1, [75.0, 80.0], [(450.0, 0.0, 90.0), (450.0, 0.0, 90.0)], kind="hold")
        # Vehicle 2: across the no-fly zone (10..20 s) and, below the ceiling,
        # across the restricted zone (40..50 s).
        + path_legs(2, [0.0, 30.0], [(0.0, -20.0, h), (300.0, -20.0, h)])
        + path_legs(2, [30.0, 60.0], [(300.0, 0.0, h), (600.0, 0.0, h)])
    )
    zones = [zone(0, NO_FLY, "no_fly"),
             zone(1, RESTRICTED, "restricted", ceiling_amsl_m=100.0)]
    return recorded_run(duration_s=80.0, legs=legs, footprint_radius_m=[5.0] * 3,
                        zones=zones)


def test_geofence_entries_merge_consecutive_legs_of_one_vehicle():
    vehicle, zone_index, t_in, t_out = zone_entries(safety_run())
    got = [(int(v), int(z), round(a, 9), round(b, 9))
           for v, z, a, b in zip(vehicle, zone_index, t_in, t_out, strict=True)]
    # Vehicle 1 climbs down through the ceiling (150 -> 90 m over 70..75 s):
    # at 100 m at t = 70 + 50/60 x 5 s.
    assert got == [(0, 0, 10.0, 20.0), (1, 0, 10.0, 20.0), (1, 0, 40.0, 50.0),
                   (1, 1, round(70.0 + 50.0 / 60.0 * 5.0, 9), 80.0), (2, 0, 10.0, 20.0),
                   (2, 1, 40.0, 50.0)]


def test_safety_metrics_by_zone_kind():
    m = safety_metrics(safety_run())
    assert m["safety.geofence_entries"] == 4
    assert m["safety.geofence_time_s"] == pytest.approx(40.0)
    assert m["safety.restricted_entries"] == 2
    assert m["safety.restricted_time_s"] == pytest.approx(10.0 + 80.0 - 70.0 - 50.0 / 12.0)
    assert m["safety.terrain_violations"] == 0


def test_geofence_respects_the_active_window():
    late = [zone(0, NO_FLY, "no_fly", start_s=15.0, end_s=45.0)]
    legs = path_legs(0, [0.0, 30.0, 60.0], [(0.0, 0.0, 9.0), (300.0, 0.0, 9.0),
                                            (0.0, 0.0, 9.0)])
    run = recorded_run(duration_s=80.0, legs=legs, footprint_radius_m=[1.0], zones=late)
    m = safety_metrics(run)
    # Inside the polygon 10..20 s and 40..50 s; active 15..45 s.
    assert m["safety.geofence_entries"] == 2
    assert m["safety.geofence_time_s"] == pytest.approx(5.0 + 5.0)


# --- compute_metrics and JSON -------------------------------------------------

EXPECTED_NAMES = {
    "coverage.cells", "coverage.fraction", "coverage.time_to_50pct_s",
    "coverage.time_to_90pct_s", "coverage.time_to_99pct_s", "patrol.idleness_mean_s",
    "patrol.idleness_max_s", "detection.probability", "detection.mean_time_s",
    "detection.targets", "detection.detected", "energy.total_wh", "fleet.distance_m",
    "fleet.utilization", "fleet.vehicles", "fleet.legs", "fleet.returns_to_base",
    "fleet.battery_depletions", "safety.geofence_entries", "safety.geofence_time_s",
    "safety.restricted_entries", "safety.restricted_time_s", "safety.terrain_violations",
}


def busy_run():
    rng = np.random.default_rng(2)
    legs = []
    for v in range(6):
        pts = np.column_stack([rng.uniform(-100, 1100, 40), rng.uniform(-100, 700, 40),
                               rng.uniform(20, 120, 40)])
        times = np.concatenate([[0.0], np.cumsum(rng.uniform(5, 60, 39))])
        legs += path_legs(v, times.tolist(), pts.tolist(), energy_wh=1 / 3)
    events = [{"time_s": 1 / 7, "kind": "detection", "vehicle": 1, "target": 2},
              {"time_s": 100.0, "kind": "terrain_violation", "vehicle": 3}]
    return recorded_run(duration_s=1000.0, legs=legs, events=events,
                        footprint_radius_m=[25.0, 40.0] * 3,
                        mission_area=shapely.box(0, 0, 1000, 600), metrics_cell_m=20.0,
                        zones=[zone(0, NO_FLY), zone(1, RESTRICTED, "restricted")],
                        targets_xy=[(10, 10), (500, 300), (900, 100)])


def test_compute_metrics_names_order_and_values():
    m = compute_metrics(busy_run())
    assert EXPECTED_NAMES <= set(m)
    assert list(m) == sorted(m)
    assert all(v is None or type(v) in (int, float) for v in m.values())
    assert m["coverage.cells"] == 50 * 30 and 0 < m["coverage.fraction"] <= 1
    assert m["detection.mean_time_s"] == 0.142857143  # 1/7 to 9 significant digits
    assert m["energy.total_wh"] == 78.0  # 234 legs x 1/3 Wh, after rounding
    assert m["safety.terrain_violations"] == 1 and m["fleet.legs"] == 234


def test_metrics_json_is_byte_stable():
    run = busy_run()
    text = metrics_json(compute_metrics(run))
    assert text == metrics_json(compute_metrics(copy.deepcopy(run)))
    assert text == metrics_json(compute_metrics(busy_run()))
    assert json.loads(text) == compute_metrics(run)
    assert "NaN" not in text and "Infinity" not in text and text.endswith("}\n")
    # Rounded values survive a JSON round trip unchanged.
    again = metrics_json(json.loads(text))
    assert again == text


def test_json_values():
    assert json_value(1 / 3) == 0.333333333
    assert json_value(123456789012.0) == 123456789000.0
    assert json_value(float("nan")) is None and json_value(math.inf) is None
    assert json_value(None) is None
    assert json_value(np.int64(7)) == 7 and type(json_value(np.int64(7))) is int
    assert type(json_value(np.float32(0.5))) is float
    assert math.copysign(1.0, json_value(-0.0)) == 1.0


def test_compute_metrics_of_an_empty_run():
    m = compute_metrics(recorded_run(duration_s=60.0))
    assert m["coverage.cells"] == 0 and m["coverage.fraction"] is None
    assert m["patrol.idleness_mean_s"] is None and m["fleet.legs"] == 0
    assert json.loads(metrics_json(m)) == m


def test_out_of_link_gaps_are_read_from_the_link_events():
    from fleetsim.metrics.comms import out_of_link_gaps

    ev = [{"time_s": 5.0, "kind": "link_lost", "vehicle": 1},
          {"time_s": 7.0, "kind": "link_lost", "vehicle": 0},
          {"time_s": 9.0, "kind": "takeoff", "vehicle": 1},
          {"time_s": 12.5, "kind": "link_restored", "vehicle": 1},
          {"time_s": 20.0, "kind": "link_restored", "vehicle": 0},
          {"time_s": 30.0, "kind": "link_lost", "vehicle": 1}]  # still out at the end
    run = recorded_run(duration_s=50.0, events=ev, footprint_radius_m=[10.0, 10.0])
    v, a, b = out_of_link_gaps(run)
    assert list(zip(v.tolist(), a.tolist(), b.tolist(), strict=True)) == [
        (0, 7.0, 20.0), (1, 5.0, 12.5), (1, 30.0, 50.0)]
    v, a, b = out_of_link_gaps(recorded_run(duration_s=50.0, footprint_radius_m=[10.0]))
    assert len(v) == len(a) == len(b) == 0


def test_zone_entries_look_only_at_legs_near_a_zone(monkeypatch):
    from fleetsim.metrics import safety

    run = safety_run()
    want = zone_entries(run)
    near = safety._near_zones(run.legs, run.world.zones)
    assert 0 < len(near) <= len(run.legs["x0_m"])
    monkeypatch.setattr(safety, "_NEAR_ROWS", 2)  # legs looked at in chunks of two
    assert np.array_equal(safety._near_zones(run.legs, run.world.zones), near)
    got = zone_entries(run)
    # Among some legs: the near ones of those only.
    among = np.arange(len(run.legs["x0_m"])) % 2 == 0
    assert np.array_equal(safety._near_zones(run.legs, run.world.zones, among),
                          near[near % 2 == 0])
    monkeypatch.setattr(safety, "_near_zones", lambda legs, zones, among=None: (
        np.arange(len(legs["x0_m"])) if among is None else np.flatnonzero(among)))
    every = zone_entries(run)  # every leg flown handed to zone_intervals
    for a, b, c in zip(want, got, every, strict=True):
        assert a.tobytes() == b.tobytes() == c.tobytes()

"""Logistics metrics on hand-made runs: orders, delivery times, use per domain, waits."""

from __future__ import annotations

import numpy as np
import pytest

from fleetsim.metrics import compute_metrics
from fleetsim.metrics.handmade import orders_table, path_legs, recorded_run
from fleetsim.metrics.logistics import FAILURE_REASONS, carried_at, logistics_metrics


def assert_metrics(got: dict, expected: dict) -> None:
    assert set(got) == set(expected)
    for name, value in expected.items():
        if value is None or isinstance(value, int):
            assert got[name] == value, name
            assert type(got[name]) is type(value), name
        else:
            assert got[name] == pytest.approx(value), name


# --- one air and one ground vehicle: one late delivery, one capacity failure ----------


def two_vehicle_run():
    home, up = (0.0, 0.0, 0.0), (0.0, 0.0, 50.0)
    far = (600.0, 800.0, 50.0)                       # 1 km from home
    depot, dest = (0.0, 0.0, 0.0), (3000.0, 4000.0, 0.0)   # 5 km apart
    air = (
        path_legs(0, [0, 10], [home, home], kind="ground")
        + path_legs(0, [10, 20], [home, home], kind="wait_pad")
        + path_legs(0, [20, 40], [home, home], kind="charge")
        + path_legs(0, [40, 70], [home, home], kind="wait_pad")
        + path_legs(0, [70, 80], [home, home], kind="charge")
        + path_legs(0, [80, 90], [home, up], kind="takeoff", energy_wh=5.0)
        + path_legs(0, [90, 130], [up, far], kind="move", energy_wh=10.0)
        + path_legs(0, [130, 170], [far, up], kind="return", energy_wh=10.0)
        + path_legs(0, [170, 180], [up, home], kind="land", energy_wh=3.0)
        + path_legs(0, [180, 200], [home, home], kind="ground")
    )
    ground = (
        path_legs(1, [0, 2], [depot, depot], kind="wait_load")
        + path_legs(1, [2, 4], [depot, depot], kind="ground")
        + path_legs(1, [4, 10], [depot, depot], kind="wait_load")
        + path_legs(1, [10, 20], [depot, depot], kind="load")
        + path_legs(1, [20, 120], [depot, dest], kind="move", energy_wh=50.0)
        + path_legs(1, [120, 150], [dest, dest], kind="unload")
        + path_legs(1, [150, 200], [dest, depot], kind="return", energy_wh=40.0)
    )
    events = [
        {"time_s": 0.0, "kind": "order_created", "target": 0, "value": 2.0, "detail": "d"},
        {"time_s": 0.0, "kind": "order_assigned", "vehicle": 1, "target": 0},
        {"time_s": 0.0, "kind": "load_queue", "vehicle": 1, "value": 1.0, "detail": "d"},
        {"time_s": 10.0, "kind": "order_created", "target": 1, "value": 50.0, "detail": "d"},
        {"time_s": 10.0, "kind": "order_assigned", "vehicle": 0, "target": 1},
        {"time_s": 10.0, "kind": "pad_queue", "vehicle": 0, "value": 1.0},
        {"time_s": 20.0, "kind": "pickup", "vehicle": 1, "target": 0, "value": 2.0},
        {"time_s": 20.0, "kind": "charge_start", "vehicle": 0, "detail": "charge"},
        {"time_s": 40.0, "kind": "pad_queue", "vehicle": 0, "value": 2.0},
        # Assigned to the drone, never picked up: too heavy.
        {"time_s": 60.0, "kind": "order_failed", "vehicle": 0, "target": 1,
         "detail": "capacity"},
        {"time_s": 150.0, "kind": "delivered", "vehicle": 1, "target": 0, "value": 150.0},
    ]
    orders = [{"created_s": 0.0, "latest_s": 100.0, "weight_kg": 2.0},
              {"created_s": 10.0, "weight_kg": 50.0}]
    return recorded_run(duration_s=200.0, legs=air + ground, events=events,
                        footprint_radius_m=[1.0, 1.0], domains=["air", "ground"],
                        orders=orders)


def test_two_vehicle_run():
    m = logistics_metrics(two_vehicle_run())
    assert_metrics(m, {
        "logistics.orders_created": 2,
        "logistics.orders_delivered": 1,
        "logistics.orders_failed": 1,
        "logistics.orders_failed.battery": 0,
        "logistics.orders_failed.capacity": 1,
        "logistics.orders_failed.no_route": 0,
        "logistics.orders_failed.stock": 0,
        "logistics.orders_failed.unreachable": 0,
        "logistics.orders_open": 0,
        # Delivered at 150 s, due by 100 s.
        "logistics.on_time_rate": 0.0,
        "logistics.delivery_time_mean_s": 150.0,
        "logistics.delivery_time_p50_s": 150.0,
        "logistics.delivery_time_p95_s": 150.0,
        # 5 + 10 + 10 + 3 (drone) + 50 + 40 (truck) Wh for one delivery.
        "logistics.energy_per_delivery_wh": 118.0,
        # Drone: takeoff 10 + move 40 + return 40 + land 10 s of 200 s.
        "logistics.utilization.air": 100.0 / 200.0,
        # Truck: load 10 + move 100 + unload 30 + return 50 s (not its waits).
        "logistics.utilization.ground": 190.0 / 200.0,
        "logistics.distance_km.air": 2.0,
        "logistics.distance_km.ground": 10.0,
        # The drone never carried anything (2 km); the truck came back empty (5 km).
        "logistics.empty_km": 7.0,
        "logistics.load_wait_mean_s": (2.0 + 6.0) / 2,
        "logistics.load_wait_max_s": 6.0,
        "logistics.pad_wait_mean_s": (10.0 + 30.0) / 2,
        "logistics.pad_wait_max_s": 30.0,
        "logistics.launches": 0,
    })


def test_compute_metrics_includes_the_family():
    m = compute_metrics(two_vehicle_run())
    assert m["logistics.orders_failed.capacity"] == 1
    assert m["logistics.utilization.ground"] == 0.95
    assert "logistics.utilization.sea" not in m


# --- delivery times ---------------------------------------------------------------


def test_delivery_time_percentiles_and_on_time_rate():
    # Delivery times 10, 20, 40, 100 s; order 4 stays open.
    orders = [{"created_s": 0.0, "latest_s": 10.0},      # delivered at 10: on time (equal)
              {"created_s": 5.0},                         # no deadline: on time
              {"created_s": 10.0, "latest_s": 49.0},      # delivered at 50: late
              {"created_s": 20.0, "latest_s": 500.0},     # delivered at 120: on time
              {"created_s": 30.0}]
    delivered_at = [10.0, 25.0, 50.0, 120.0]
    events = [{"time_s": t, "kind": "delivered", "vehicle": 0, "target": i}
              for i, t in enumerate(delivered_at)]
    run = recorded_run(duration_s=200.0, events=events, orders=orders)
    m = logistics_metrics(run)
    assert m["logistics.orders_created"] == 5
    assert m["logistics.orders_delivered"] == 4 and m["logistics.orders_open"] == 1
    assert m["logistics.on_time_rate"] == 0.75
    assert m["logistics.delivery_time_mean_s"] == pytest.approx((10 + 20 + 40 + 100) / 4)
    # Linear interpolation: rank 0.5 x 3 = 1.5 -> 30; rank 0.95 x 3 = 2.85 -> 40 + 0.85 x 60.
    assert m["logistics.delivery_time_p50_s"] == pytest.approx(30.0)
    assert m["logistics.delivery_time_p95_s"] == pytest.approx(91.0)
    # No vehicles: no per-domain metrics; no legs: nothing travelled, no waits.
    assert not any(k.startswith(("logistics.utilization", "logistics.distance_km"))
                   for k in m)
    assert m["logistics.empty_km"] == 0.0 and m["logistics.load_wait_mean_s"] is None
    assert m["logistics.energy_per_delivery_wh"] == 0.0


# --- failures ---------------------------------------------------------------------


def test_delivered_after_a_battery_failure_is_delivered():
    a, b, c = (0.0, 0.0, 0.0), (2000.0, 0.0, 0.0), (2000.0, 1000.0, 0.0)
    legs = (
        path_legs(0, [0, 10], [a, a], kind="load")
        + path_legs(0, [10, 50], [a, b], kind="move")        # loaded, 2 km
        + path_legs(0, [50, 60], [b, c], kind="return")      # dropped it: empty, 1 km
        + path_legs(0, [60, 120], [c, c], kind="ground")
        + path_legs(1, [0, 60], [b, b], kind="ground")
        + path_legs(1, [60, 70], [b, b], kind="load")
        + path_legs(1, [70, 100], [b, (5000.0, 0.0, 0.0)], kind="move")   # loaded, 3 km
        + path_legs(1, [100, 110], [(5000.0, 0.0, 0.0)] * 2, kind="unload")
        + path_legs(1, [110, 120], [(5000.0, 0.0, 0.0)] * 2, kind="ground")
    )
    events = [
        {"time_s": 10.0, "kind": "pickup", "vehicle": 0, "target": 0},
        {"time_s": 50.0, "kind": "order_failed", "vehicle": 0, "target": 0,
         "detail": "battery"},
        {"time_s": 70.0, "kind": "pickup", "vehicle": 1, "target": 0},
        {"time_s": 110.0, "kind": "delivered", "vehicle": 1, "target": 0},
        # Order 1 fails on battery for good; order 2 first for capacity, last for battery.
        {"time_s": 30.0, "kind": "order_failed", "vehicle": -1, "target": 1,
         "detail": "battery"},
        {"time_s": 20.0, "kind": "order_failed", "vehicle": -1, "target": 2,
         "detail": "capacity"},
        {"time_s": 40.0, "kind": "order_failed", "vehicle": -1, "target": 2,
         "detail": "battery"},
    ]
    run = recorded_run(duration_s=120.0, legs=legs, events=events, footprint_radius_m=[1, 1],
                       domains="ground", orders=[{}, {}, {}])
    m = logistics_metrics(run)
    assert m["logistics.orders_delivered"] == 1
    assert m["logistics.orders_failed"] == 2
    assert m["logistics.orders_failed.battery"] == 2
    assert m["logistics.orders_failed.capacity"] == 0
    assert m["logistics.orders_open"] == 0
    assert m["logistics.on_time_rate"] == 1.0
    assert m["logistics.delivery_time_mean_s"] == 110.0
    assert m["logistics.empty_km"] == pytest.approx(1.0)
    assert m["logistics.distance_km.ground"] == pytest.approx(6.0)


# --- a drone carried by a truck ------------------------------------------------------


def test_carrier_handoff_docked_legs_and_launches():
    o, meet, drop = (0.0, 0.0, 0.0), (4000.0, 3000.0, 0.0), (4000.0, 2000.0, 0.0)
    meet_up, dest_up = (4000.0, 3000.0, 30.0), (4000.0, 3800.0, 30.0)
    drop_up = (4000.0, 2000.0, 30.0)
    truck = (
        path_legs(0, [0, 10], [o, o], kind="load")
        + path_legs(0, [10, 50], [o, meet], kind="move")           # 5 km, loaded
        + path_legs(0, [50, 60], [meet, meet], kind="hold")
        + path_legs(0, [60, 70], [meet, drop], kind="move")        # 1 km, drone has it
        + path_legs(0, [70, 120], [drop, drop], kind="hold")
    )
    drone = (
        path_legs(1, [0, 10], [o, o], kind="docked")
        + path_legs(1, [10, 50], [o, meet], kind="docked")         # the truck's 5 km
        + path_legs(1, [50, 52], [meet, meet], kind="load")
        + path_legs(1, [52, 55], [meet, meet_up], kind="takeoff")
        + path_legs(1, [55, 75], [meet_up, dest_up], kind="move")  # 0.8 km, loaded
        + path_legs(1, [75, 78], [dest_up, dest_up], kind="land")
        + path_legs(1, [78, 80], [dest_up, dest_up], kind="unload")
        + path_legs(1, [80, 83], [dest_up, dest_up], kind="takeoff")
        + path_legs(1, [83, 103], [dest_up, drop_up], kind="return")  # 1.8 km, empty
        + path_legs(1, [103, 106], [drop_up, drop], kind="land")
        + path_legs(1, [106, 120], [drop, drop], kind="docked")
    )
    events = [
        {"time_s": 10.0, "kind": "pickup", "vehicle": 0, "target": 0, "detail": "depot"},
        {"time_s": 52.0, "kind": "pickup", "vehicle": 1, "target": 0, "detail": "carrier"},
        {"time_s": 52.0, "kind": "launch", "vehicle": 1, "value": 0.0},
        {"time_s": 80.0, "kind": "delivered", "vehicle": 1, "target": 0},
        {"time_s": 106.0, "kind": "dock", "vehicle": 1, "value": 0.0},
    ]
    run = recorded_run(duration_s=120.0, legs=truck + drone, events=events,
                       footprint_radius_m=[1, 1], domains=["ground", "air"], orders=[{}])
    m = logistics_metrics(run)
    assert m["logistics.launches"] == 1
    assert m["logistics.distance_km.ground"] == pytest.approx(6.0)
    assert m["logistics.distance_km.air"] == pytest.approx(0.8 + 1.8)
    assert m["logistics.empty_km"] == pytest.approx(1.0 + 1.8)
    assert m["logistics.utilization.ground"] == pytest.approx((10 + 40 + 10) / 120)
    # load 2, takeoffs 3 + 3, move 20, return 20, lands 3 + 3, unload 2; not docked.
    assert m["logistics.utilization.air"] == pytest.approx(56 / 120)
    # The truck holds the order until the drone's pickup, the drone until delivery.
    got = carried_at(run, np.array([0, 0, 0, 1, 1, 1]),
                     np.array([10.0, 51.9, 52.0, 51.9, 52.0, 80.0]))
    assert got.tolist() == [1, 1, 0, 0, 1, 0]


# --- runs without logistics ---------------------------------------------------------


def test_no_orders_and_only_air_vehicles_means_no_family():
    legs = path_legs(0, [0, 10], [(0, 0, 50), (100, 0, 50)])
    run = recorded_run(duration_s=10.0, legs=legs, footprint_radius_m=[1.0, 1.0])
    assert logistics_metrics(run) == {}
    assert not any(k.startswith("logistics.") for k in compute_metrics(run))
    assert logistics_metrics(recorded_run(duration_s=10.0)) == {}


def test_a_ground_vehicle_without_orders_has_the_family():
    legs = path_legs(0, [0, 10], [(0, 0, 0), (100, 0, 0)])
    m = logistics_metrics(recorded_run(duration_s=20.0, legs=legs, footprint_radius_m=[1.0],
                                       domains="ground"))
    assert m["logistics.orders_created"] == 0 and m["logistics.orders_open"] == 0
    assert all(m[f"logistics.orders_failed.{r}"] == 0 for r in FAILURE_REASONS)
    assert m["logistics.on_time_rate"] is None
    assert m["logistics.delivery_time_p95_s"] is None
    assert m["logistics.energy_per_delivery_wh"] is None
    assert m["logistics.utilization.ground"] == 0.5
    assert m["logistics.distance_km.ground"] == pytest.approx(0.1)
    assert m["logistics.empty_km"] == pytest.approx(0.1)
    assert "logistics.utilization.air" not in m


def test_orders_table_defaults():
    t = orders_table([{"created_s": 5.0}, {"order": 7, "latest_s": 9.0}])
    assert t["order"].tolist() == [0, 7] and t["id"].tolist() == ["o0", "o7"]
    assert t["earliest_s"].tolist() == [5.0, 0.0]
    assert t["latest_s"].tolist() == [np.inf, 9.0]
    with pytest.raises(ValueError, match="unknown order columns"):
        orders_table([{"deadline": 3.0}])


def test_a_vehicles_table_without_domains_is_all_air():
    run = recorded_run(duration_s=10.0, footprint_radius_m=[1.0], domains="ground")
    del run.vehicles["domain"]
    assert logistics_metrics(run) == {}


def test_ground_vehicles_and_riding_drones_do_not_count_in_no_fly_zones():
    """Zones are airspace: a van driving through a no-fly zone, and a drone riding on
    it, are no geofence entries; the same drone flying through is one."""
    import shapely

    from fleetsim.metrics.handmade import recorded_run, zone
    from fleetsim.metrics.safety import safety_metrics

    def leg(v, kind, t0, t1, x0, x1):
        return {"vehicle": v, "kind": kind, "t0_s": t0, "t1_s": t1, "x0_m": x0, "y0_m": 50.0,
                "z0_m": 10.0, "x1_m": x1, "y1_m": 50.0, "z1_m": 10.0}

    legs = [leg(0, "move", 0.0, 100.0, 0.0, 1000.0),
            leg(1, "docked", 0.0, 100.0, 0.0, 1000.0),
            leg(1, "move", 100.0, 200.0, 1000.0, 0.0)]
    box = zone(0, shapely.box(400.0, 0.0, 600.0, 100.0))
    run = recorded_run(legs=legs, zones=[box], domains=["ground", "air"], duration_s=200.0,
                       footprint_radius_m=[1.0, 10.0])
    m = safety_metrics(run)
    assert m["safety.geofence_entries"] == 1
    assert m["safety.geofence_time_s"] == 20.0

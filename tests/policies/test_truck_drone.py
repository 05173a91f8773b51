"""The truck_drone policy: vans carry drones to a launch point, the drones deliver."""

from __future__ import annotations

import numpy as np
import pytest

from fleetsim.checker import check_policy
from fleetsim.engine import Simulation
from fleetsim.record import run_digest
from fleetsim.scenario import load_scenario_text

VAN, DRONES = 0, (1, 2)
LAUNCH_POINT = (3000.0, 3000.0)
#: Four light orders around the launch point, one too heavy for a drone.
ORDERS = """
    - {id: l1, origin: depot, destination: [3600, 3050], weight_kg: 2, created_s: 0}
    - {id: l2, origin: depot, destination: [2950, 3700], weight_kg: 1.5, created_s: 0}
    - {id: heavy, origin: depot, destination: [3500, 3500], weight_kg: 20, created_s: 0}
    - {id: l3, origin: depot, destination: [2300, 3150], weight_kg: 2.5, created_s: 0}
    - {id: l4, origin: depot, destination: [3150, 2350], weight_kg: 1, created_s: 0}
"""
HEAVY = 2
SCENARIO = """
schema_version: 1
name: truck_drone_test
run: {{duration_s: 3600, seed: 3}}
world:
  terrain: {{source: flat, size_m: [4000, 4000], spacing_m: 100}}
  roads: {{source: grid, spacing_m: 500, speed_limit_mps: 10}}
  sites:
    - {{id: depot, kind: depot, position: [500, 500], pads: 1, loading_time_s: 30}}
    - {{id: lp, kind: launch_point, position: [3000, 3000]}}
fleet:
  types:
    - {{id: van, kind: wheeled, count: 1, base: depot, cruise_speed_mps: 12,
       battery_wh: 50000, cruise_power_w: 5000, recharge_time_s: 1800, payload_kg: 50,
       carrier_slots: {slots}}}
    - {{id: quad, kind: multirotor, {where}, cruise_speed_mps: 15,
       climb_rate_mps: 3, cruise_altitude_agl_m: 60, battery_wh: 200, hover_power_w: 300,
       cruise_power_w: 200, recharge_time_s: 600, payload_kg: 3,
       sensor: {{footprint_radius_m: 20}}}}
logistics:
  service_time_s: 30
  orders: {orders}
policy: {{name: {policy}}}
"""
MOVING = ("move", "return")


def scenario(*, carried: bool = True, policy: str = "truck_drone", orders: str = ORDERS):
    where = "carrier: van, count: 2" if carried else "count: 2, base: depot"
    text = SCENARIO.format(slots=2 if carried else 0, where=where, orders=orders,
                           policy=policy)
    return load_scenario_text(text, filename="<truck_drone test>")


@pytest.fixture(scope="module")
def run():
    return Simulation(scenario()).run()


def van_legs(run):
    legs = run.legs
    i = np.flatnonzero(legs["vehicle"] == VAN)
    return {k: v[i] for k, v in legs.items()}


def van_at(run, t: float):
    """Where the van is at ``t``, and whether it is standing still then: no moving leg
    is under way at ``t`` and a leg in place (hold, ground, ...) covers it."""
    v = van_legs(run)
    t0, t1 = v["t0_s"], v["t1_s"]
    moving = np.isin(v["kind"], MOVING)
    if (moving & (t0 < t) & (t < t1)).any():
        return None, False
    still = ~moving & (t0 <= t) & (t <= t1) & (v["x0_m"] == v["x1_m"]) & \
        (v["y0_m"] == v["y1_m"])
    i = np.flatnonzero(still)
    if not len(i):
        return None, False
    return (float(v["x0_m"][i[0]]), float(v["y0_m"][i[0]])), True


def test_the_checker_passes():
    report = check_policy("truck_drone")
    assert report.legs > 0 and report.events > 0


def test_light_orders_fly_and_the_heavy_one_drives(run):
    delivered = run.events_of("delivered")
    by = dict(zip(delivered["target"].tolist(), delivered["vehicle"].tolist(), strict=True))
    assert sorted(by) == [0, 1, 2, 3, 4]  # every order delivered
    assert len(run.events_of("order_failed")["time_s"]) == 0
    assert by[HEAVY] == VAN
    assert all(by[k] in DRONES for k in by if k != HEAVY)
    # Both drones work; each light order is taken from the van, not from the depot.
    assert {by[k] for k in by if k != HEAVY} == set(DRONES)
    pickups = run.events_of("pickup")
    from_van = pickups["detail"] == "carrier"
    assert sorted(pickups["target"][from_van].tolist()) == [0, 1, 3, 4]
    assert set(pickups["vehicle"][from_van].tolist()) == set(DRONES)


def test_drones_launch_only_from_the_stopped_van(run):
    launch = run.events_of("launch")
    assert len(launch["time_s"]) == 4  # two sorties each
    for t, x, y, c in zip(launch["time_s"], launch["x_m"], launch["y_m"], launch["value"],
                          strict=True):
        assert c == VAN
        where, still = van_at(run, float(t))
        assert still, f"drone launched at {t} while the van was moving"
        assert where == pytest.approx((x, y)) and where == pytest.approx(LAUNCH_POINT)
    # No carried drone is even given a plan while the van moves.
    plans = run.events_of("plan")
    for t, v in zip(plans["time_s"], plans["vehicle"], strict=True):
        if v in DRONES:
            assert van_at(run, float(t))[1], f"drone {v} planned at {t} on a moving van"


def test_drones_dock_before_the_van_leaves(run):
    launch = run.events_of("launch")
    dock = run.events_of("dock")
    first = float(launch["time_s"].min())
    v = van_legs(run)
    moving = np.isin(v["kind"], MOVING) & (v["t0_s"] >= first)
    leaves = float(v["t0_s"][moving].min())
    assert float(launch["time_s"].max()) < leaves
    back = dock["time_s"] <= leaves
    assert back.sum() == len(launch["time_s"])  # every launch has its landing on the van
    assert set(dock["vehicle"][back].tolist()) == set(DRONES)
    assert (dock["time_s"] > first).sum() == len(launch["time_s"])
    # The van leaves with the heavy order, delivers it and goes home.
    delivered = run.events_of("delivered")
    assert float(delivered["time_s"][delivered["target"] == HEAVY][0]) > leaves
    assert run.events_of("charge_end")["vehicle"].tolist().count(VAN) == 1


def test_the_van_stays_on_the_roads(run):
    net = run.world.roads
    node = {(round(float(x), 6), round(float(y), 6)): i for i, (x, y) in enumerate(net.xy)}
    v = van_legs(run)
    order = np.argsort(v["t0_s"], kind="stable")
    trips, cur, last_t1 = [], [], None
    for i in order.tolist():
        if v["kind"][i] in MOVING and (not cur or v["t0_s"][i] == last_t1):
            cur.append(i)
            last_t1 = v["t1_s"][i]
            continue
        if cur:
            trips.append(cur)
        cur = [i] if v["kind"][i] in MOVING else []
        last_t1 = v["t1_s"][i]
    if cur:
        trips.append(cur)
    assert len(trips) >= 3  # out to the launch point, to the heavy order, home

    def at(i, end):
        x, y = (v["x1_m"][i], v["y1_m"][i]) if end else (v["x0_m"][i], v["y0_m"][i])
        return node.get((round(float(x), 6), round(float(y), 6)))

    for trip in trips:
        for j, i in enumerate(trip):
            a, b = at(i, False), at(i, True)
            connector_in = j == 0 and b is not None
            connector_out = j == len(trip) - 1 and a is not None
            if a is None or b is None:
                assert connector_in or connector_out, f"leg {i} off the road network"
                continue
            assert net.graph.has_edge(a, b), f"leg {i} is no road ({a} -> {b})"


def test_without_carriers_it_dispatches_like_nearest_dispatch():
    mine = Simulation(scenario(carried=False)).run()
    theirs = Simulation(scenario(carried=False, policy="nearest_dispatch")).run()
    assert run_digest(mine) == run_digest(theirs)
    delivered = mine.events_of("delivered")
    assert sorted(delivered["target"].tolist()) == [0, 1, 2, 3, 4]
    assert delivered["vehicle"][delivered["target"] == HEAVY].tolist() == [VAN]


def test_a_batch_with_nothing_for_the_drones_skips_the_launch_point():
    heavy = """
    - {id: h1, origin: depot, destination: [3500, 3500], weight_kg: 20, created_s: 0}
    - {id: h2, origin: depot, destination: [3000, 3500], weight_kg: 10, created_s: 0}
"""
    run = Simulation(scenario(orders=heavy)).run()
    delivered = run.events_of("delivered")
    assert sorted(delivered["target"].tolist()) == [0, 1]
    assert set(delivered["vehicle"].tolist()) == {VAN}
    assert len(run.events_of("launch")["time_s"]) == 0
    v = van_legs(run)
    # It never stops at the launch point.
    stops = ~np.isin(v["kind"], MOVING)
    assert not ((v["x0_m"][stops] == LAUNCH_POINT[0]) & (v["y0_m"][stops] == LAUNCH_POINT[1])
                ).any()


def test_an_order_where_the_van_stops_is_the_vans():
    # No launch point near it: the batch's "launch point" is the destination itself,
    # so the van hands it over rather than a drone launching to where it stands.
    alone = """
    - {id: a, origin: depot, destination: [2200, 800], weight_kg: 1, created_s: 0}
"""
    run = Simulation(scenario(orders=alone)).run()
    delivered = run.events_of("delivered")
    assert delivered["target"].tolist() == [0] and delivered["vehicle"].tolist() == [VAN]
    assert len(run.events_of("launch")["time_s"]) == 0
    assert len(run.events_of("dock")["time_s"]) == 0

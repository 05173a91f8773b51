"""Logistics in the engine: exact event sequences, network routes, closures, carriers,
failures with their reasons, and the charging queue against Erlang C."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from fleetsim.engine import Simulation
from fleetsim.errors import PolicyError
from fleetsim.policy import Deliver, GoTo, Pickup, Plan, Policy, ReturnHome
from fleetsim.scenario import load_scenario_text

VAN = """
    - id: van
      kind: wheeled
      cruise_speed_mps: 15
      battery_wh: 50000
      cruise_power_w: 5000
      recharge_time_s: 1800
      payload_kg: 200
      carrier_slots: {slots}
      count: {vans}
      base: depot
"""
QUAD = """
    - id: quad
      kind: multirotor
      cruise_speed_mps: 15
      climb_rate_mps: 3
      cruise_altitude_agl_m: 60
      battery_wh: 500
      hover_power_w: 400
      cruise_power_w: 360
      recharge_time_s: 1200
      payload_kg: 3
      sensor: {{footprint_radius_m: 20}}
      {where}
"""


def scenario(*, vans: int = 1, quads: int = 0, riders: int = 0, orders: str = "",
             roads: str = "{source: grid, spacing_m: 500, speed_limit_mps: 10}",
             duration_s: float = 3600.0, extra_sites: str = "", logistics: str = "",
             policy: str = "nearest_dispatch"):
    types = VAN.format(slots=max(riders, 0), vans=vans)
    if quads:
        types += QUAD.format(where=f"count: {quads}\n      base: depot")
    if riders:
        types += QUAD.format(where=f"count: {riders}\n      carrier: van").replace(
            "id: quad", "id: rider")
    text = f"""
name: lg
run: {{duration_s: {duration_s}, seed: 3}}
world:
  terrain: {{source: flat, size_m: [4000, 4000], spacing_m: 100}}
  roads: {roads}
  sites:
    - {{id: depot, kind: depot, position: [1000, 1000], pads: 2, loading_time_s: 60}}
    - {{id: c1, kind: customer, position: [3000, 1000]}}
    - {{id: c2, kind: customer, position: [1000, 3500]}}
    {extra_sites}
fleet:
  types:
{types}
logistics:
  service_time_s: 30
  {logistics}
  orders:
{orders}
policy: {{name: {policy}}}
"""
    return load_scenario_text(text)


class Scripted(Policy):
    """Gives vehicles scripted plans on their first request of a reason."""

    name = "scripted"
    mission = "logistics"

    def __init__(self, script: dict):
        self.script = dict(script)  # (vehicle, reason) -> actions
        self.calls: list = []

    def decide(self, now_s, fleet, requests):
        self.calls.append((now_s, [(r.vehicle, r.reason, r.target) for r in requests]))
        plans = []
        for r in requests:
            acts = self.script.pop((r.vehicle, r.reason), None)
            if acts is not None:
                plans.append(Plan(r.vehicle, acts))
        return plans


def events(run, kinds=None):
    ev = run.events
    out = []
    for t, k, v, tg, d in zip(ev["time_s"], ev["kind"], ev["vehicle"], ev["target"],
                              ev["detail"], strict=True):
        if k in ("run_start", "run_end") or (kinds is not None and k not in kinds):
            continue
        out.append((round(float(t), 6), str(k), int(v), int(tg), str(d)))
    return out


ORDER_A = "    - {id: a, origin: depot, destination: c1, weight_kg: 50, created_s: 10}\n"


def test_golden_ground_delivery_sequence():
    """Order created at 10 s -> assigned -> 60 s loading -> 2 km of road at the 10 m/s
    limit (4 edges of 500 m) -> 30 s hand-over -> home on the same road."""
    run = Simulation(scenario(orders=ORDER_A)).run()
    assert events(run) == [
        (10.0, "order_created", -1, 0, "depot"),
        (10.0, "order_assigned", 0, 0, ""),
        (10.0, "plan", 0, -1, ""),
        (70.0, "pickup", 0, 0, "depot"),
        (120.0, "arrive", 0, -1, ""), (170.0, "arrive", 0, -1, ""),
        (220.0, "arrive", 0, -1, ""), (270.0, "arrive", 0, -1, ""),
        (300.0, "delivered", 0, 0, ""),
        (300.0, "return_start", 0, -1, ""),
        (350.0, "arrive", 0, -1, ""), (400.0, "arrive", 0, -1, ""),
        (450.0, "arrive", 0, -1, ""), (500.0, "arrive", 0, -1, ""),
        # 8 edges x 50 s x 5000 W = 555.6 Wh used; 1800 s for 50 kWh -> 20 s.
        (500.0, "charge_start", 0, -1, "charge"),
        (520.0, "charge_end", 0, -1, "charge"),
    ]
    delivered = run.events_of("delivered")
    assert delivered["value"].tolist() == [290.0]  # created at 10, delivered at 300
    kinds = run.legs["kind"].tolist()
    assert kinds == ["ground", "load", "move", "move", "move", "move", "unload", "return",
                     "return", "return", "return", "charge", "ground"]
    assert run.orders["id"].tolist() == ["a"]
    from fleetsim.metrics import compute_metrics
    m = compute_metrics(run)
    # It found a free bay and a free pad: no waits, not "no data".
    assert (m["logistics.load_wait_mean_s"], m["logistics.pad_wait_mean_s"]) == (0.0, 0.0)


def test_golden_air_delivery_lands_to_load_and_hovers_to_hand_over():
    orders = "    - {id: b, origin: depot, destination: c2, weight_kg: 2, created_s: 20}\n"
    run = Simulation(scenario(vans=0, quads=1, orders=orders)).run()
    # Already at the depot on the ground: it loads at once (60 s), takes off (20 s at
    # 3 m/s to 60 m), flies 2.5 km at 15 m/s (166.67 s), hovers 30 s to hand over.
    assert events(run, {"order_created", "order_assigned", "pickup", "takeoff",
                        "delivered"}) == [
        (20.0, "order_created", -1, 0, "depot"),
        (20.0, "order_assigned", 0, 0, ""),
        (80.0, "pickup", 0, 0, "depot"),
        (80.0, "takeoff", 0, -1, ""),
        (round(80 + 20 + 2500 / 15 + 30, 6), "delivered", 0, 0, ""),
    ]
    legs = run.legs
    unload = np.flatnonzero(legs["kind"] == "unload")
    assert len(unload) == 1 and legs["z0_m"][unload[0]] == 60.0  # hovering at altitude
    assert math.isclose(legs["energy_wh"][unload[0]], 400 * 30 / 3600)


def test_a_van_drives_the_networkx_shortest_path_at_the_speed_limits():
    """Oracle: on a random planar road network with blocked roads, the recorded route
    length is networkx's shortest path and its time the sum of length / speed."""
    roads = "{source: planar, spacing_m: 400, speed_limit_mps: 11, blocked: 25}"
    far = "- {id: far, kind: customer, position: [3700, 3600]}"
    sc = scenario(roads=roads, extra_sites=far,
                  orders="    - {id: a, origin: depot, destination: far, weight_kg: 5}\n")
    sim = Simulation(sc)
    net = sim.logistics.networks["ground"]
    run = sim.run()
    a, da = net.nearest_node(1000.0, 1000.0)
    b, db = net.nearest_node(3700.0, 3600.0)
    expected = nx.shortest_path_length(net.graph, a, b, weight="length_m")
    legs = run.legs
    t_pick = float(run.events_of("pickup")["time_s"][0])
    t_arrive = float(run.events_of("delivered")["time_s"][0]) - 30.0
    go = (legs["kind"] == "move") & (legs["vehicle"] == 0)
    length = np.hypot(legs["x1_m"] - legs["x0_m"], legs["y1_m"] - legs["y0_m"])[go]
    # Connectors at the ends join the depot and the customer to their nearest nodes.
    assert math.isclose(length.sum(), expected + da + db, rel_tol=0, abs_tol=1e-6)
    path = nx.shortest_path(net.graph, a, b, weight="length_m")
    # Connectors are driven at the network's typical limit (every road's here: 11 m/s).
    t = (da + db) / 11.0 + sum(net.graph[u][w]["length_m"] / min(11.0, 15.0)
                               for u, w in zip(path[:-1], path[1:], strict=True))
    assert math.isclose(t_arrive - t_pick, t, rel_tol=1e-9)


def test_a_road_closing_ahead_makes_the_van_reroute_from_where_it_is():
    # Going east along y = 1000 from (1000, 1000) to (3000, 1000), set off at 60 s; at
    # t = 100 s the road (2000..2500, 1000) closes. The van is at (1400, 1000) on an open
    # road: it goes on to (1500, 1000), then around the closed block: 100 + 2500 m left,
    # 3000 m in all instead of 2000.
    roads = ("{source: grid, spacing_m: 500, speed_limit_mps: 10, "
             "closures: [{time_s: 100, near: [2250, 1000]}]}")
    run = Simulation(scenario(roads=roads, orders=ORDER_A.replace("created_s: 10",
                                                                  "created_s: 0"))).run()
    ev = events(run, {"road_closed", "reroute", "delivered"})
    assert ev[0] == (100.0, "road_closed", -1, -1, "10-11") or ev[0][1] == "road_closed"
    assert ev[1][:3] == (100.0, "reroute", 0)
    reroute = run.events_of("reroute")
    assert reroute["x_m"].tolist() == [1400.0]
    assert math.isclose(reroute["value"][0], 2600.0)
    # Loaded at 60, 3000 m at 10 m/s, 30 s hand-over.
    assert ev[2] == (60.0 + 300.0 + 30.0, "delivered", 0, 0, "")
    legs = run.legs
    move = legs["kind"] == "move"
    pts = np.column_stack([legs["x1_m"][move], legs["y1_m"][move]])
    # It never drives along the closed road.
    on_closed = (np.isclose(legs["y0_m"][move], 1000) & np.isclose(legs["y1_m"][move], 1000)
                 & (np.minimum(legs["x0_m"][move], legs["x1_m"][move]) >= 2000 - 1e-9)
                 & (np.maximum(legs["x0_m"][move], legs["x1_m"][move]) <= 2500 + 1e-9))
    assert not on_closed.any()
    assert len(pts)


def test_a_van_on_the_closed_road_turns_back():
    # At t = 280 s the van (off at 60) is at x = 1000 + 2200 ... on edge 2500..3000? It
    # set off at 60: at 280 it has driven 2200 m: at (3200?) - use a closure on the
    # edge it is on: edge (1500..2000) at t = 115 (x = 1550).
    roads = ("{source: grid, spacing_m: 500, speed_limit_mps: 10, "
             "closures: [{time_s: 115, near: [1750, 1000]}]}")
    run = Simulation(scenario(roads=roads, orders=ORDER_A.replace("created_s: 10",
                                                                  "created_s: 0"))).run()
    reroute = run.events_of("reroute")
    assert reroute["x_m"].tolist() == [1550.0]
    # Back 50 m to (1500, 1000), then 500 north, 1500 east, 500 south: 2550 m.
    assert math.isclose(reroute["value"][0], 2550.0)
    assert math.isclose(run.events_of("delivered")["time_s"][0], 115.0 + 255.0 + 30.0)


def test_failures_are_recorded_with_their_reason():
    heavy = "    - {id: h, origin: depot, destination: c2, weight_kg: 5, created_s: 0}\n"
    cut = ("{source: grid, spacing_m: 500, speed_limit_mps: 10, extent: [0, 0, 2000, 2000]}")
    island = "- {id: isl, kind: customer, position: [3900, 3900]}"
    far = "    - {id: f, origin: depot, destination: isl, weight_kg: 5, created_s: 0}\n"
    script = {(0, "start"): [Pickup(0), Deliver(0)],
              (1, "start"): [Pickup(1), Deliver(1)]}
    sc = scenario(quads=1, orders=far + heavy, roads=cut, extra_sites=island)
    # Vehicle 0 (van) gets order 0 whose destination is off its road network; vehicle 1
    # (a 3 kg quadrotor) gets the 5 kg order.
    run = Simulation(sc, policy=Scripted(script)).run()
    failed = run.events_of("order_failed")
    assert list(zip(failed["vehicle"].tolist(), failed["target"].tolist(),
                    failed["detail"].tolist(), strict=True)) == [
        (1, 1, "capacity"), (0, 0, "unreachable")]


def test_plans_that_break_the_rules_are_policy_errors():
    sc = scenario(quads=1, orders=ORDER_A.replace("created_s: 10", "created_s: 0"))
    with pytest.raises(PolicyError, match=r"Deliver\(0\): order 0 is waiting; plan a Pickup"):
        Simulation(sc, policy=Scripted({(0, "start"): [Deliver(0)]})).run()
    with pytest.raises(PolicyError, match=r"Pickup\(7\): no such order \(orders created so "
                                          r"far: 0..0\)"):
        Simulation(sc, policy=Scripted({(0, "start"): [Pickup(7)]})).run()
    with pytest.raises(PolicyError, match="Survey needs an air vehicle"):
        from shapely import box

        from fleetsim.policy import Survey
        Simulation(sc, policy=Scripted({(0, "start"): [Survey(box(0, 0, 9, 9), 5.0)]})).run()
    with pytest.raises(PolicyError, match="already given to vehicle 0 in this decision"):
        Simulation(sc, policy=Scripted({(0, "start"): [Pickup(0)],
                                        (1, "start"): [Pickup(0)]})).run()


def test_a_replaced_plan_gives_its_orders_back():
    """A vehicle re-tasked by its policy before loading frees the order (waiting again;
    the policy knows, so no request); one the engine stops (at its reserve, here)
    frees it with an 'order' request, so that an event-driven policy hears of it."""
    sc = scenario(vans=1, quads=1, duration_s=7200.0,
                  orders=ORDER_A.replace("created_s: 10", "created_s: 0")
                  .replace("weight_kg: 50", "weight_kg: 2"))
    from fleetsim.policy import Hold
    policy = Scripted({(0, "start"): [GoTo(3000.0, 3000.0), Pickup(0), Deliver(0)]})
    sim = Simulation(sc, policy=policy)

    def retask():
        sim.apply_plans(100.0, [Plan(0, [GoTo(0.0, 0.0)])])
        assert sim.logistics.table.status[0] == 0  # waiting
        # The quadrotor hovers until its reserve, then was to fetch the order.
        sim.apply_plans(100.0, [Plan(1, [Hold(None), Pickup(0), Deliver(0)])])

    sim.env.process(_at(sim, 100.0, retask))
    run = sim.run()
    reserve = float(run.events_of("reserve_reached")["time_s"][0])
    orders = [(t, c) for t, calls in policy.calls for c in calls if c[1] == "order"]
    assert orders == [(0.0, (-1, "order", 0)), (reserve, (-1, "order", 0))]
    assert [e[1:4] for e in events(run, {"order_assigned"})] == [
        ("order_assigned", 0, 0), ("order_assigned", 1, 0)]
    assert sim.logistics.table.status[0] == 0
    assert not len(run.events_of("pickup")["time_s"])


def _at(sim, t, fn):
    yield sim.env.timeout(t)
    fn()


def test_drones_ride_on_their_van_and_launch_from_where_it_stopped():
    orders = ("    - {id: a, origin: depot, destination: [3100, 2500], weight_kg: 2}\n"
              "    - {id: b, origin: depot, destination: [2500, 3300], weight_kg: 2}\n")
    script = {(0, "start"): [Pickup(0), Pickup(1), GoTo(2500.0, 2500.0)],
              (0, "idle"): [],  # handled below
              }

    class Mothership(Scripted):
        def decide(self, now_s, fleet, requests):
            plans = super().decide(now_s, fleet, requests)
            for r in requests:
                if r.vehicle == 0 and r.reason == "idle":
                    plans += [Plan(1, [Pickup(0), Deliver(0), ReturnHome()]),
                              Plan(2, [Pickup(1), Deliver(1), ReturnHome()])]
                if r.vehicle == 2 and r.reason == "recharged":
                    plans.append(Plan(0, [ReturnHome()]))
            return plans

    run = Simulation(scenario(riders=2, orders=orders), policy=Mothership(script)).run()
    ev = events(run, {"pickup", "launch", "delivered", "dock", "landed"})
    # Van: loads 2 x 60 s, drives 3000 m of road (6 x 50 s) and stops at 420 s.
    # Drones take their orders from the van (30 s transfer), launch at 450 s.
    assert ev[:6] == [(60.0, "pickup", 0, 0, "depot"), (120.0, "pickup", 0, 1, "depot"),
                      (450.0, "pickup", 1, 0, "carrier"), (450.0, "launch", 1, -1, ""),
                      (450.0, "pickup", 2, 1, "carrier"), (450.0, "launch", 2, -1, "")]
    launch = run.events_of("launch")
    assert launch["x_m"].tolist() == [2500.0, 2500.0] and launch["value"].tolist() == [0, 0]
    # 20 s climb, 600 m / 15 m/s, 30 s hand-over: delivered at 540; back and landed on
    # the van 40 + 20 s later: docked at 600.
    assert (540.0, "delivered", 1, 0, "") in ev and (600.0, "dock", 1, -1, "") in ev
    legs = run.legs
    for d in (1, 2):
        mine = legs["vehicle"] == d
        docked = mine & (legs["kind"] == "docked")
        # Riding legs copy the van's: while docked the drone is where the van is.
        t = legs["t1_s"][docked]
        van = legs["vehicle"] == 0
        for x, y, tt in zip(legs["x1_m"][docked], legs["y1_m"][docked], t, strict=True):
            i = np.flatnonzero(van & (legs["t0_s"] <= tt) & (legs["t1_s"] >= tt))[0]
            f = 0.0 if legs["t1_s"][i] == legs["t0_s"][i] else \
                (tt - legs["t0_s"][i]) / (legs["t1_s"][i] - legs["t0_s"][i])
            assert math.isclose(x, legs["x0_m"][i] + f * (legs["x1_m"][i] - legs["x0_m"][i]))
            assert math.isclose(y, legs["y0_m"][i] + f * (legs["y1_m"][i] - legs["y0_m"][i]))
        # Its legs tile the run.
        t0, t1 = legs["t0_s"][mine], legs["t1_s"][mine]
        assert t0[0] == 0.0 and t1[-1] == 3600.0 and np.allclose(t1[:-1], t0[1:])
    assert run.vehicles["carrier"].tolist() == [-1, 0, 0]


def test_the_charging_queue_matches_erlang_c():
    """c = 3 pads, vehicles landing as a Poisson stream (a demand stream's order times
    trigger them), each needing an exponential charge time: an M/M/3 queue at rho = 0.7.

    Each vehicle takes off (0.05 s to 1 m), hovers H and lands; what it then charges
    takes recharge_time x used / capacity = H' (the hover time chosen so). The landing
    stream is the Poisson stream displaced by the independent hover times, so it is
    Poisson with independent marks (the displacement theorem), and the pads see M/M/3.

    Tolerance: 29,500 customers after a warm-up of 500. Waits at rho = 0.7 are
    strongly correlated from customer to customer, so the mean wait is the noisy
    statistic (for M/M/1 at this load the asymptotic relative sd is ~4.5 % at this
    size): over 20 seeds its relative error had sd 5.6 % (max 12.7 %), so the
    tolerance is 20 % (3.6 sd). The share of customers that wait (Erlang C's C(c, a))
    is tighter: sd 1.6 % (max 2.8 %), tolerance 6 % (3.8 sd).
    """
    c, mean_s, rho = 3, 600.0, 0.7
    lam = rho * c / mean_s  # per second
    n = 30_000
    cap, recharge, hover_w = 1000.0, 36_000.0, 3600.0
    text = f"""
name: erlang
run: {{duration_s: {n / lam * 1.05 + 20 * mean_s:.0f}, seed: 5, monitor_window_s: 1.0e+6}}
world:
  terrain: {{source: flat, size_m: [2000, 2000], spacing_m: 100}}
  sites:
    - {{id: depot, kind: depot, position: [1000, 1000], pads: {c}}}
fleet:
  types:
    - {{id: q, kind: multirotor, count: {n}, base: depot, cruise_speed_mps: 10,
        climb_rate_mps: 20, cruise_altitude_agl_m: 1, battery_wh: {cap},
        hover_power_w: {hover_w}, cruise_power_w: 10, reserve_fraction: 0.0,
        recharge_time_s: {recharge}, payload_kg: 1, sensor: {{footprint_radius_m: 1}}}}
logistics:
  demand:
    - {{origin: depot, rate_per_hour: {lam * 3600}, destinations: [depot]}}
policy: {{name: nearest_dispatch}}
"""
    sc = load_scenario_text(text)
    from fleetsim.policy import Hold

    class Trigger(Policy):
        name = "trigger"
        mission = "logistics"

        def reset(self, ctx):
            super().reset(ctx)
            self.next = 0
            self.rng = ctx.rng

        def decide(self, now_s, fleet, requests):
            plans = []
            for r in requests:
                if r.reason != "order" or self.next >= n:
                    continue
                s = self.rng.exponential(mean_s)
                # Charge time = recharge x (hover Wh/s x (climb + H + landing)) / cap.
                h = max(0.0, s * cap / (recharge * hover_w / 3600.0) - 2 * 0.05)
                plans.append(Plan(self.next, [Hold(h), ReturnHome()]))
                self.next += 1
            return plans

    run = Simulation(sc, policy=Trigger()).run()
    ev = run.events
    landed = ev["kind"] == "landed"
    start = ev["kind"] == "charge_start"
    t_land = np.full(n, np.nan)
    t_start = np.full(n, np.nan)
    t_land[ev["vehicle"][landed]] = ev["time_s"][landed]
    t_start[ev["vehicle"][start]] = ev["time_s"][start]
    done = np.isfinite(t_start)
    order = np.argsort(t_land[done])
    waits = (t_start - t_land)[done][order][500:]
    assert len(waits) > 28_000
    mu = 1 / mean_s
    a = lam / mu
    terms = sum(a ** k / math.factorial(k) for k in range(c))
    last = a ** c / math.factorial(c) / (1 - rho)
    erlang_c = last / (terms + last)
    wq = erlang_c / (c * mu - lam)
    assert abs(np.mean(waits > 1e-9) - erlang_c) / erlang_c < 0.06
    assert abs(waits.mean() - wq) / wq < 0.20


def test_a_vehicle_early_for_its_customer_waits_until_the_window_opens():
    order = ("    - {id: a, origin: depot, destination: c1, weight_kg: 50, created_s: 10,"
             " earliest_s: 500, latest_s: 600}\n")
    run = Simulation(scenario(orders=order)).run()
    # There at 270 s (as in the golden run), it waits on the road until 500, then hands
    # the order over in 30 s: on time for latest_s = 600.
    assert run.events_of("delivered")["time_s"].tolist() == [530.0]
    legs = run.legs
    wait = np.flatnonzero((legs["kind"] == "hold") & (legs["vehicle"] == 0))
    assert [(legs["t0_s"][i], legs["t1_s"][i]) for i in wait][0] == (270.0, 500.0)


def test_roads_from_a_geojson_file(tmp_path):
    """An L-shaped road from GeoJSON (two LineStrings meeting at (3000, 1000), one with
    its own speed limit): the van drives it, at each road's limit."""
    import json

    (tmp_path / "roads.geojson").write_text(json.dumps({
        "type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {},
             "geometry": {"type": "LineString",
                          "coordinates": [[1000, 1000], [2000, 1000], [3000, 1000]]}},
            {"type": "Feature", "properties": {"speed_limit_mps": 5},
             "geometry": {"type": "LineString",
                          "coordinates": [[3000, 1000], [3000, 2000]]}}]}))
    text = f"""
name: geo
run: {{duration_s: 3600}}
world:
  terrain: {{source: flat, size_m: [4000, 4000], spacing_m: 100}}
  roads: {{source: geojson, path: {tmp_path / "roads.geojson"}, speed_limit_mps: 10}}
  sites:
    - {{id: depot, kind: depot, position: [1000, 1000], loading_time_s: 0}}
fleet:
  types:
    - {{id: van, kind: wheeled, count: 1, base: depot, cruise_speed_mps: 15,
        battery_wh: 50000, cruise_power_w: 5000, recharge_time_s: 600, payload_kg: 100}}
logistics:
  service_time_s: 0
  orders: [{{origin: depot, destination: [3000, 2000], weight_kg: 1}}]
policy: {{name: nearest_dispatch}}
"""
    run = Simulation(load_scenario_text(text)).run()
    # 2000 m at 10 m/s, then 1000 m at 5 m/s.
    assert run.events_of("delivered")["time_s"].tolist() == [400.0]


def test_a_missing_roads_file_is_a_scenario_error_with_its_line():
    from fleetsim.errors import ScenarioError

    text = """
name: geo
run: {duration_s: 3600}
world:
  terrain: {source: flat, size_m: [4000, 4000], spacing_m: 100}
  roads: {source: geojson, path: nowhere.geojson}
  sites: [{id: depot, kind: depot, position: [1000, 1000]}]
fleet:
  types:
    - {id: van, kind: wheeled, count: 1, base: depot, cruise_speed_mps: 15,
       battery_wh: 50000, cruise_power_w: 5000, recharge_time_s: 600}
policy: {name: nearest_dispatch}
"""
    with pytest.raises(ScenarioError, match=r"x\.yaml:6: world\.roads\.path: roads file not "
                                            r"found: .*nowhere\.geojson"):
        load_scenario_text(text, filename="x.yaml")


def test_depot_stock_runs_out_and_batteries_are_swapped():
    """A depot with one item in stock: the second order fails for 'stock'. Its swap
    station replaces the van's battery in swap_time_s, whatever the deficit."""
    orders = ("    - {id: a, origin: depot, destination: c1, weight_kg: 5, created_s: 0}\n"
              "    - {id: b, origin: depot, destination: c1, weight_kg: 5, created_s: 0}\n")
    sc = scenario(orders=orders).source
    sc["world"]["sites"][0].update({"stock": 1, "swap_stations": 1, "swap_time_s": 45.0})
    from fleetsim.scenario import scenario_from_source
    script = {(0, "start"): [Pickup(0), Pickup(1), Deliver(0), ReturnHome()]}
    run = Simulation(scenario_from_source(sc), policy=Scripted(script)).run()
    assert events(run, {"pickup", "order_failed", "delivered", "charge_start",
                        "charge_end"}) == [
        (60.0, "pickup", 0, 0, "depot"),
        (60.0, "order_failed", 0, 1, "stock"),
        (60.0 + 200.0 + 30.0, "delivered", 0, 0, ""),
        (290.0 + 200.0, "charge_start", 0, -1, "swap"),
        (490.0 + 45.0, "charge_end", 0, -1, "swap"),
    ]


def test_boats_sail_on_water_around_the_islands():
    """harbor_resupply, shortened: every leg a boat sails (but the connectors at the
    ends of a trip) lies over water, sampled every 20 m."""
    from pathlib import Path

    from fleetsim.scenario import load_scenario

    root = Path(__file__).resolve().parents[2]
    sc = load_scenario(root / "scenarios" / "harbor_resupply.yaml", ["run.duration_s=3600"])
    sim = Simulation(sc)
    run = sim.run()
    terrain = sim.world.terrain
    legs = run.legs
    boat = np.asarray(run.vehicles["domain"])[legs["vehicle"]] == "sea"
    moving = boat & np.isin(legs["kind"], ["move", "return"])
    net = sim.world.water
    on_node = net.nearest_nodes(np.column_stack([legs["x0_m"], legs["y0_m"]]))[1] < 1e-6
    on_node_end = net.nearest_nodes(np.column_stack([legs["x1_m"], legs["y1_m"]]))[1] < 1e-6
    lattice = moving & on_node & on_node_end  # node to node: the navigation graph's edges
    assert lattice.sum() > 50
    for i in np.flatnonzero(lattice):
        n = max(2, int(math.hypot(legs["x1_m"][i] - legs["x0_m"][i],
                                  legs["y1_m"][i] - legs["y0_m"][i]) / 20) + 1)
        f = np.linspace(0.0, 1.0, n)
        x = legs["x0_m"][i] + f * (legs["x1_m"][i] - legs["x0_m"][i])
        y = legs["y0_m"][i] + f * (legs["y1_m"][i] - legs["y0_m"][i])
        col = np.rint((x - terrain.origin_m[0]) / terrain.spacing_m).astype(int)
        row = np.rint((y - terrain.origin_m[1]) / terrain.spacing_m).astype(int)
        assert terrain.water[row, col].all(), f"leg {i} crosses land"
    assert len(run.events_of("delivered")["time_s"]) > 0


def test_a_drone_launches_from_a_moving_van_and_lands_back_on_it():
    """The van drives east at 10 m/s; at 50 s its drone takes off from it, flies a
    little north-east and comes back: it aims where the van will be (catching it at
    about 120 s), lands on it (the landing ends where the van is then) and rides on."""
    sc = scenario(riders=1, orders="")
    policy = Scripted({(0, "start"): [GoTo(3000.0, 1000.0)]})
    sim = Simulation(sc, policy=policy)
    sim.env.process(_at(sim, 50.0, lambda: sim.apply_plans(50.0, [
        Plan(1, [GoTo(1600.0, 1100.0), ReturnHome()])])))
    run = sim.run()
    launch = run.events_of("launch")
    assert launch["time_s"].tolist() == [50.0]
    assert (launch["x_m"][0], launch["y_m"][0]) == (1500.0, 1000.0)  # 500 m along
    legs = run.legs

    def van_at(t):
        van = np.flatnonzero((legs["vehicle"] == 0) & (legs["t0_s"] <= t) &
                             (legs["t1_s"] >= t))[0]
        f = (t - legs["t0_s"][van]) / max(legs["t1_s"][van] - legs["t0_s"][van], 1e-12)
        return (legs["x0_m"][van] + f * (legs["x1_m"][van] - legs["x0_m"][van]),
                legs["y0_m"][van] + f * (legs["y1_m"][van] - legs["y0_m"][van]))

    dock = run.events_of("dock")
    t = float(dock["time_s"][0])
    assert t < 200.0  # caught up with the van while it was still driving
    assert np.allclose((dock["x_m"][0], dock["y_m"][0]), van_at(t), atol=1e-6)
    mine = legs["vehicle"] == 1
    assert np.allclose(legs["t1_s"][mine][:-1], legs["t0_s"][mine][1:])
    x_end = legs["x1_m"][mine][-1]
    assert x_end == 3000.0  # riding on the van to its stop


@pytest.mark.parametrize("change, where, message", [
    ("roads: {source: grid, spacing_m: 500, speed_limit_mps: 10}",
     "fleet.types[0]", None),  # sanity: the base case loads
    ("roads: {source: grid, spacing_m: 500, extent: [2500, 2500, 4000, 4000]}",
     "fleet.types[0]", "ground vehicles 'van' are based at 'depot', 2121 m from the nearest "
                       "node of their road network (at most 1000 m"),
    ("roads: {source: grid, spacing_m: 500, extent: [0, 0, 9000, 9000]}",
     "world.roads.extent", "the roads' extent reaches outside the terrain"),
    ("roads: {source: grid, spacing_m: 500, closures: [{time_s: 5, near: [9000, 100]}]}",
     "world.roads.closures[0].near", "(9000, 100) lies outside the terrain"),
    ("roads: {source: grid, spacing_m: 500, extent: [0, 0, 1500, 1500], "
     "closures: [{time_s: 5, near: [3900, 3900]}]}",
     "world.roads.closures[0].near", "no road within 1000 m of (3900.0, 3900.0)"),
])
def test_roads_and_bases_are_checked_against_the_terrain(change, where, message):
    from fleetsim.errors import ScenarioError
    from fleetsim.world.world import build_world

    sc_text = scenario(orders=ORDER_A).source
    import yaml
    text = yaml.safe_dump(sc_text)
    text = text.replace("roads:", "roads_old:", 1)
    text = text.replace("world:\n", "world:\n  " + change + "\n", 1)
    raw = yaml.safe_load(text)
    raw["world"].pop("roads_old")
    from fleetsim.scenario import scenario_from_source
    if message is None:
        build_world(scenario_from_source(raw))
        return
    with pytest.raises(ScenarioError) as info:
        build_world(scenario_from_source(raw))
    assert info.value.path.startswith(where)
    assert message in str(info.value)


def test_orders_no_vehicle_can_carry_and_policies_for_the_wrong_mission_are_errors():
    from fleetsim.errors import ScenarioError

    heavy = "    - {id: h, origin: depot, destination: c1, weight_kg: 250, created_s: 0}\n"
    with pytest.raises(ScenarioError, match=r"logistics\.orders\[0\]\.weight_kg: no vehicle can "
                                            r"carry 250 kg \(the largest payload_kg in the "
                                            r"fleet is 200\)"):
        scenario(orders=heavy)
    with pytest.raises(ScenarioError, match="policy 'lawnmower' flies missions"):
        Simulation(scenario(orders=ORDER_A, policy="lawnmower"))
    text = scenario(orders=ORDER_A).source
    text["logistics"] = None
    from fleetsim.scenario import scenario_from_source
    with pytest.raises(ScenarioError, match="policy 'nearest_dispatch' serves orders"):
        Simulation(scenario_from_source(text))

"""The batch_assignment and vrp_planner policies: conformance, optimal pairings, routes
that drive what the VRP implies, capacity, the solver fallback and speed."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

import fleetsim.policies.vrp_planner as vrp_planner
from fleetsim.checker import LOGISTICS_CHECK_SCENARIO, check_policy
from fleetsim.engine import Simulation
from fleetsim.logistics.solvers import VRPSolution, assign_min_time
from fleetsim.metrics import compute_metrics
from fleetsim.policy import LOGISTICS_POLICIES, policy_class
from fleetsim.scenario import load_scenario_text


def events(run, kind: str) -> list[tuple[float, int, int]]:
    """(time, vehicle, target) of the run's events of ``kind``, in log order."""
    ev = run.events
    sel = np.flatnonzero(ev["kind"] == kind)
    return [(float(ev["time_s"][i]), int(ev["vehicle"][i]), int(ev["target"][i]))
            for i in sel.tolist()]


def failures(run) -> list[str]:
    ev = run.events
    return [str(d) for d in ev["detail"][ev["kind"] == "order_failed"].tolist()]


# --------------------------------------------------------------------------- conformance


@pytest.mark.parametrize("name", ["batch_assignment", "vrp_planner"])
def test_passes_the_checker_and_delivers(name):
    assert name in LOGISTICS_POLICIES
    cls = policy_class(name)
    assert cls.name == name and cls.mission == "logistics"
    check_policy(name)
    sc = load_scenario_text(LOGISTICS_CHECK_SCENARIO, overrides=[f"policy.name={name}"])
    run = Simulation(sc).run()
    assert len(events(run, "delivered")) > 0
    assert "capacity" not in failures(run)


# --------------------------------------------------------------------------- batch assignment

#: Three quadrotor types (speed, payload) parked at one depot.
QUADS = [("fast", 20.0, 2.0), ("mid", 15.0, 5.0), ("slow", 10.0, 5.0)]
#: Orders created at 0 s: (east of the depot, weight).
BATCH_ORDERS = [(3000.0, 4.0), (2000.0, 1.0), (500.0, 1.0)]
DEPOT = (500.0, 500.0)


def batch_scenario():
    types = "\n".join(f"""
    - {{id: {name}, kind: multirotor, count: 1, base: depot, cruise_speed_mps: {speed},
       climb_rate_mps: 4, cruise_altitude_agl_m: 50, battery_wh: 2000, hover_power_w: 200,
       cruise_power_w: 200, recharge_time_s: 600, payload_kg: {payload},
       sensor: {{footprint_radius_m: 20}}}}""" for name, speed, payload in QUADS)
    orders = "\n".join(
        f"    - {{id: o{k}, origin: depot, destination: [{DEPOT[0] + dx}, {DEPOT[1]}], "
        f"weight_kg: {w}, created_s: 0}}" for k, (dx, w) in enumerate(BATCH_ORDERS))
    return load_scenario_text(f"""
name: batch_test
run: {{duration_s: 900, seed: 5}}
world:
  terrain: {{source: flat, size_m: [4000, 1000], spacing_m: 100}}
  sites:
    - {{id: depot, kind: depot, position: [{DEPOT[0]}, {DEPOT[1]}], pads: 3,
       loading_bays: 3, loading_time_s: 20}}
fleet:
  types:{types}
logistics:
  service_time_s: 30
  orders:
{orders}
policy: {{name: batch_assignment}}
""")


def test_batch_assignment_finds_the_optimal_pairing():
    run = Simulation(batch_scenario()).run()
    assigned = events(run, "order_assigned")
    # Every vehicle is at the depot: the time to deliver order k with vehicle v is
    # distance_k / speed_v (straight there, times a detour factor common to all)
    # plus the loading and hand-over times common to all pairs.
    costs = {}
    for perm in itertools.permutations(range(3)):  # vehicle v takes order perm[v]
        if all(QUADS[v][2] >= BATCH_ORDERS[k][1] for v, k in enumerate(perm)):
            costs[perm] = sum(BATCH_ORDERS[k][0] / QUADS[v][1] for v, k in enumerate(perm))
    best = min(costs, key=costs.get)
    assert sorted(costs.values())[1] > costs[best] + 1.0  # a unique optimum
    assert {(v, k) for _, v, k in assigned} == {(v, k) for v, k in enumerate(best)}
    assert all(t == assigned[0][0] for t, _, _ in assigned)  # one batch
    assert sorted(k for _, _, k in events(run, "delivered")) == [0, 1, 2]


def test_batch_cost_matrix_matches_the_scalar_estimates_and_is_fast():
    sc = load_scenario_text(LOGISTICS_CHECK_SCENARIO, overrides=["policy.name=batch_assignment"])
    sim = Simulation(sc)
    pol, fleet = sim.policy, sim.view
    cap = pol.cap
    rng = np.random.default_rng(0)
    origins = np.array([sim.world.sites[i].xy for i in (0, 1, 0, 1)], dtype=np.float64)
    dests = rng.uniform(300, 3700, (4, 2))
    vs = np.flatnonzero(cap.payload > 0)
    t1, t2, t3 = cap.trip_times_s(fleet, vs, origins, dests)
    energy = cap.trip_energy_matrix_wh(vs, t1 + t2 + t3)
    pos = fleet.positions(vs)[:, :2]
    for i, v in enumerate(vs.tolist()):
        for j in range(len(origins)):
            pts = [pos[i], origins[j], dests[j], fleet.home_xy[v]]
            assert t1[i, j] + t2[i, j] + t3[i, j] == pytest.approx(
                cap.trip_time_s(fleet, v, pts), rel=1e-9)
            assert energy[i, j] == pytest.approx(cap.trip_energy_wh(fleet, v, pts), rel=1e-9)

    # 2000 air vehicles x 500 orders in one call (its speed is a benchmark's business).
    quads = np.flatnonzero(cap.air & (cap.payload > 0))
    n_v, n_o = 2000, 500

    class Orders:
        origin = rng.integers(0, 2, n_o).astype(np.int32)
        origin_xy = np.array([sim.world.sites[i].xy for i in origin.tolist()])
        dest_xy = rng.uniform(0, 4000, (n_o, 2))
        weight_kg = rng.uniform(0.5, 4.0, n_o)

    class BigFleet:
        orders = Orders()
        home_xy = fleet.home_xy
        reserve_wh = fleet.reserve_wh

        def positions(self, v):
            return np.column_stack([rng.uniform(0, 4000, (len(v), 2)), np.zeros(len(v))])

        def battery_wh(self, v):
            return np.full(len(v), 60.0)

    many = rng.choice(quads, n_v)
    cost = pol.cost_matrix(BigFleet(), many, np.arange(n_o))
    pairs = assign_min_time(cost)
    assert cost.shape == (n_v, n_o) and len(pairs) > 0


# --------------------------------------------------------------------------- vrp planner

VAN_DEPOT = (1000.0, 1000.0)  # a junction of the 500 m road grid
#: Destinations off the junctions (each joins the network by a connector).
VRP_DESTS = [(1700.0, 1000.0), (2000.0, 1800.0), (1100.0, 2400.0), (2600.0, 1400.0)]


def vrp_scenario(*, vans: int = 1, payload: float = 100.0, weight: float = 5.0,
                 duration_s: float = 3600.0):
    orders = "\n".join(
        f"    - {{id: o{k}, origin: depot, destination: [{x}, {y}], weight_kg: {weight}, "
        f"created_s: 0}}" for k, (x, y) in enumerate(VRP_DESTS))
    return load_scenario_text(f"""
name: vrp_test
run: {{duration_s: {duration_s}, seed: 7}}
world:
  terrain: {{source: flat, size_m: [4000, 4000], spacing_m: 100}}
  roads: {{source: grid, spacing_m: 500, speed_limit_mps: 10}}
  sites:
    - {{id: depot, kind: depot, position: [{VAN_DEPOT[0]}, {VAN_DEPOT[1]}], pads: 2,
       loading_bays: 2, loading_time_s: 30}}
fleet:
  types:
    - {{id: van, kind: wheeled, count: {vans}, base: depot, cruise_speed_mps: 12,
       battery_wh: 50000, cruise_power_w: 5000, recharge_time_s: 600,
       payload_kg: {payload}}}
logistics:
  service_time_s: 30
  orders:
{orders}
policy: {{name: vrp_planner}}
""")


def network_cost(graph: nx.Graph, stops: list[tuple[float, float]]) -> float:
    """Driving distance through ``stops``: connector to the nearest junction (lowest id on
    a tie), shortest road distance, connector to the next stop."""
    ids = np.array(sorted(graph.nodes))
    xy = np.array([(graph.nodes[i]["x"], graph.nodes[i]["y"]) for i in ids.tolist()])

    def snap(p):
        d = np.hypot(*(xy - np.asarray(p)).T)
        return int(ids[np.flatnonzero(d == d.min())[0]]), float(d.min())

    total = 0.0
    for p, q in itertools.pairwise(stops):
        if math.dist(p, q) < 1e-6:
            continue
        (a, da), (b, db) = snap(p), snap(q)
        total += da + nx.shortest_path_length(graph, a, b, weight="length_m") + db
    return total


def driven_m(run, vehicle: int, until_s: float) -> float:
    legs = run.legs
    sel = (legs["vehicle"] == vehicle) & (legs["kind"] == "move") & (legs["t1_s"] <= until_s)
    return float(np.hypot(legs["x1_m"][sel] - legs["x0_m"][sel],
                          legs["y1_m"][sel] - legs["y0_m"][sel]).sum())


def test_vrp_planner_serves_the_orders_in_one_route_driving_what_the_vrp_implies():
    sc = vrp_scenario()
    run = Simulation(sc).run()
    pickups = events(run, "pickup")
    delivered = events(run, "delivered")
    assert sorted(k for _, _, k in delivered) == list(range(len(VRP_DESTS)))
    assert {v for _, v, _ in pickups + delivered} == {0}
    # One route: every order loaded before the first hand-over, delivered in the
    # order loaded, one trip home.
    assert max(t for t, _, _ in pickups) <= min(t for t, _, _ in delivered)
    order = [k for _, _, k in delivered]
    assert [k for _, _, k in pickups] == order
    assert len(events(run, "return_start")) == 1
    # The van drove exactly the network distance of the route, depot to last stop.
    graph = Simulation(sc).world.roads.graph
    stops = [VAN_DEPOT] + [VRP_DESTS[k] for k in order]
    assert driven_m(run, 0, delivered[-1][0]) == pytest.approx(network_cost(graph, stops),
                                                               abs=1.0)
    # And the route (with the way back) is the shortest one.
    best = min(network_cost(graph, [VAN_DEPOT] + [VRP_DESTS[k] for k in p] + [VAN_DEPOT])
               for p in itertools.permutations(range(len(VRP_DESTS))))
    assert network_cost(graph, stops + [VAN_DEPOT]) == pytest.approx(best, abs=5.0)


def test_vrp_planner_respects_capacity():
    # 4 orders of 4 kg, vans of 10 kg: no van can take more than 2.
    run = Simulation(vrp_scenario(vans=2, payload=10.0, weight=4.0)).run()
    assigned = events(run, "order_assigned")
    first = [(v, k) for t, v, k in assigned if t == assigned[0][0]]
    assert len(first) == len(VRP_DESTS)
    assert {v for v, _ in first} == {0, 1}
    assert all(sum(1 for w, _ in first if w == v) == 2 for v in (0, 1))
    assert "capacity" not in failures(run)
    assert sorted(k for _, _, k in events(run, "delivered")) == list(range(len(VRP_DESTS)))


def test_vrp_planner_falls_back_to_single_order_plans(monkeypatch):
    calls = []

    def infeasible(problem, **kwargs):
        calls.append(len(problem.demand) - 1)
        k = len(problem.vehicle_capacity)
        return VRPSolution(routes=((),) * k, cost=0, feasible=False,
                           unserved=tuple(range(1, len(problem.demand))), iterations=0)

    monkeypatch.setattr(vrp_planner, "solve_vrp", infeasible)
    run = Simulation(vrp_scenario(vans=2)).run()
    assert calls  # the solver was asked, and said no
    delivered = events(run, "delivered")
    assert sorted(k for _, _, k in delivered) == list(range(len(VRP_DESTS)))
    # Single-order plans: each van alternates pickup and delivery of the same order.
    for v in (0, 1):
        seq = sorted((t, kind, k) for kind in ("pickup", "delivered")
                     for t, w, k in events(run, kind) if w == v)
        assert seq, v
        assert [kind for _, kind, _ in seq] == ["pickup", "delivered"] * (len(seq) // 2)
        assert [k for _, _, k in seq][::2] == [k for _, _, k in seq][1::2]


#: Corners of a 1 km square of junctions, counter-clockwise from the depot's east.
TW_DEPOT = (1000.0, 1000.0)
TW_DESTS = [(2000.0, 1000.0), (2000.0, 2000.0), (1000.0, 2000.0)]
TW_SPEED, TW_SERVICE_S = 10.0, 120.0  # the road's speed limit (the van could do 12)


def vrp_window_scenario(latest_far_s: float, created_s: float = 0.0):
    """One van at a corner of the square; the opposite corner (order 1) has a deadline.
    All orders are created at ``created_s``."""
    orders = "\n".join(
        f"    - {{id: o{k}, origin: depot, destination: [{x}, {y}], weight_kg: 5, "
        f"created_s: {created_s}{f', latest_s: {latest_far_s}' if k == 1 else ''}}}"
        for k, (x, y) in enumerate(TW_DESTS))
    return load_scenario_text(f"""
name: vrp_windows
run: {{duration_s: 2400, seed: 7}}
world:
  terrain: {{source: flat, size_m: [4000, 4000], spacing_m: 100}}
  roads: {{source: grid, spacing_m: 500, speed_limit_mps: {TW_SPEED}}}
  sites:
    - {{id: depot, kind: depot, position: [{TW_DEPOT[0]}, {TW_DEPOT[1]}], pads: 1,
       loading_bays: 1, loading_time_s: 0}}
fleet:
  types:
    - {{id: van, kind: wheeled, count: 1, base: depot, cruise_speed_mps: 12,
       battery_wh: 50000, cruise_power_w: 5000, recharge_time_s: 600, payload_kg: 100}}
logistics:
  service_time_s: {TW_SERVICE_S}
  orders:
{orders}
policy: {{name: vrp_planner}}
""")


@pytest.mark.parametrize("t0", [0.0, 600.0])
def test_vrp_planner_meets_a_deadline_in_seconds_that_the_shortest_route_misses(t0):
    """The shortest tour (6 km less 2 km) goes round the square, reaching the far
    corner second: 1000 m / 10 m/s + 120 s hand-over + 1000 m / 10 m/s = 320 s, handed
    over at 440 s. Its deadline, 380 s, is met only by driving there first (2000 m of
    road in 200 s, handed over at 320 s). Time windows built from distances (metres
    read as seconds) or that ignore the hand-over let the planner take the short tour
    and deliver late. With the orders created at t0 = 600 s (planned at the periodic
    decision then, period 300 s) every time shifts by t0: windows count from now."""
    run = Simulation(vrp_window_scenario(t0 + 380.0, created_s=t0)).run()
    delivered = events(run, "delivered")
    assert [k for _, _, k in delivered][0] == 1
    # Exact times from distance / speed and the hand-over: far corner, then one side
    # of the square to the next corner, then across the square (2 km) to the last.
    assert [t - t0 for t, _, _ in delivered] == [
        2000.0 / TW_SPEED + TW_SERVICE_S,
        2000.0 / TW_SPEED + TW_SERVICE_S + 1000.0 / TW_SPEED + TW_SERVICE_S,
        2000.0 / TW_SPEED + 2 * TW_SERVICE_S + 1000.0 / TW_SPEED + 2000.0 / TW_SPEED
        + TW_SERVICE_S,
    ]
    assert compute_metrics(run)["logistics.on_time_rate"] == 1.0
    # Without the deadline the planner takes the shortest tour (far corner second).
    free = events(Simulation(vrp_window_scenario(t0 + 5000.0, created_s=t0)).run(),
                  "delivered")
    assert [k for _, _, k in free][1] == 1
    assert free[1][0] - t0 == 2 * 1000.0 / TW_SPEED + 2 * TW_SERVICE_S


def drone_window_scenario(latest_far_s: float):
    """One drone at a corner of a 200 m square; the far corner (order 1) has a deadline."""
    dests = [(1200.0, 1000.0), (1200.0, 1200.0), (1000.0, 1200.0)]
    orders = "\n".join(
        f"    - {{id: o{k}, origin: depot, destination: [{x}, {y}], weight_kg: 1, "
        f"created_s: 0{f', latest_s: {latest_far_s}' if k == 1 else ''}}}"
        for k, (x, y) in enumerate(dests))
    return load_scenario_text(f"""
name: vrp_drone_windows
run: {{duration_s: 600, seed: 7}}
world:
  terrain: {{source: flat, size_m: [4000, 4000], spacing_m: 100}}
  sites:
    - {{id: depot, kind: depot, position: [1000, 1000], pads: 1, loading_bays: 1,
       loading_time_s: 0}}
fleet:
  types:
    - {{id: drone, kind: multirotor, count: 1, base: depot, cruise_speed_mps: 10,
       climb_rate_mps: 2, cruise_altitude_agl_m: 100, battery_wh: 5000, hover_power_w: 300,
       cruise_power_w: 250, recharge_time_s: 600, payload_kg: 5,
       sensor: {{footprint_radius_m: 10}}}}
logistics:
  service_time_s: 30
  orders:
{orders}
policy: {{name: vrp_planner}}
""")


def test_vrp_planner_counts_the_climb_in_a_drones_travel_time():
    """A drone climbs 100 m at 2 m/s (50 s) before cruising at 10 m/s, and hands over
    hovering (30 s). The planner's travel times are 1.2 x the straight line at cruise
    plus the climb: to the far corner directly 1.2 x 28.3 + 50 = 84 s, or round the
    square 1.2 x 20 + 50 + 30 + 1.2 x 20 = 128 s. A 130 s deadline (a window of 100 s
    for the start of the hand-over) thus needs the far corner first; without the climb
    the short tour (78 s) would seem to fit and the drone would hand over at 150 s."""
    run = Simulation(drone_window_scenario(130.0)).run()
    delivered = events(run, "delivered")
    assert [k for _, _, k in delivered][0] == 1
    diag = 200.0 * math.sqrt(2.0) / 10.0
    assert [t for t, _, _ in delivered] == pytest.approx(
        [50.0 + diag + 30.0, 50.0 + diag + 30.0 + 20.0 + 30.0,
         50.0 + diag + 30.0 + 20.0 + 30.0 + diag + 30.0], abs=1e-9)
    assert compute_metrics(run)["logistics.on_time_rate"] == 1.0


# --------------------------------------------------------------------------- nearest dispatch


def _dispatch_one_by_one(cap, fleet, orders, vehicles, energy_margin):
    """The plain definition of dispatch_nearest: per order, vehicles nearest first,
    one scalar energy estimate each. Returns (order, vehicle) pairs."""
    ov = fleet.orders
    vehicles = np.asarray(vehicles, dtype=np.int64)
    pos = fleet.positions(vehicles)[:, :2]
    usable = cap.usable_wh(fleet, vehicles)
    free = np.ones(len(vehicles), dtype=bool)
    out = []
    for k in np.asarray(orders, dtype=np.int64).tolist():
        o, dst = ov.origin_xy[k], ov.dest_xy[k]
        ok = free & (cap.payload[vehicles] >= ov.weight_kg[k])
        d = np.where(ok, np.hypot(pos[:, 0] - o[0], pos[:, 1] - o[1]), np.inf)
        while d.min() < np.inf:
            j = int(np.argmin(d))
            v = int(vehicles[j])
            need = cap.trip_energy_wh(fleet, v, [pos[j], o, dst, fleet.home_xy[v]])
            if need * energy_margin <= usable[j]:
                out.append((k, v))
                free[j] = False
                break
            d[j] = np.inf
    return out


def test_nearest_dispatch_matches_the_one_by_one_definition_with_a_far_depot(monkeypatch):
    """city_delivery with depot "east" moved to the west edge: most of its orders are
    out of every drone's reach and wait; the vectorised dispatch (which skips vehicles
    that could not take an order even fully charged) picks exactly the pairs the
    one-by-one definition picks, at every decision."""
    import fleetsim.policies.nearest_dispatch as nd
    from fleetsim.policies.logistics_common import dispatch_nearest
    from fleetsim.scenario import load_scenario

    checked = []

    def both(cap, fleet, orders, vehicles, margin):
        plans = dispatch_nearest(cap, fleet, orders, vehicles, margin)
        got = [(p.actions[0].order, p.vehicle) for p in plans]
        assert got == _dispatch_one_by_one(cap, fleet, orders, vehicles, margin)
        checked.append(len(orders))
        return plans

    monkeypatch.setattr(nd, "dispatch_nearest", both)
    sc = load_scenario(Path(__file__).resolve().parents[2] / "scenarios" / "city_delivery.yaml", [
        "run.duration_s=240", "world.sites[1].position=[0, 10000]",
        "fleet.types[0].bases={west: 40, east: 40, north: 40, south: 40}"])
    sim = Simulation(sc)
    run = sim.run()
    assert len(checked) > 50 and max(checked) > 10  # orders piled up and were rechecked
    assert len(events(run, "delivered")) > 0
    cap = sim.policy.cap
    stuck = [k for k, r in cap.reachable.items() if len(r) == 0]
    assert stuck, "some orders from the far depot are out of every drone's reach"

"""VRP planner: every period, route the vehicles parked at each depot over several
orders at once with PyVRP.

Every ``period_s`` seconds (and at the start), for each depot: the waiting orders
that start there (the ``max_orders`` oldest, so that a backlog cannot make one
solve take minutes) and the idle vehicles parked there (on the ground within 1 m
of the depot, which is their home) make one vehicle routing problem per vehicle
type, smallest payload first (the small vehicles take the light orders they can
carry; the larger ones get the heavy orders and the rest):

- location 0 is the depot, the others the orders' destinations;
- distances in whole metres: straight lines for air vehicles; for ground and sea
  vehicles the shortest network distance between the locations' nearest nodes
  plus the connectors to those nodes (exactly what the engine drives);
- durations: travel times (air: straight line times ``Capabilities.air_detour``
  at cruise speed, plus climbing on leaving and reaching the depot; ground and
  sea: the network's travel times at the vehicle's speed and speed limits), and
  the hand-over (``logistics.service_time_s``) at every stop;
- time windows from each order's ``latest_s``: ``max(0, latest - now - loading
  time - hand-over)``, as an order is delivered at the end of its hand-over (no
  limit without a deadline). An order that cannot be on time even
  driven straight there gets no limit: late is better than never;
- capacity in grams from the payload (order weights rounded up, payloads down,
  so the engine never finds a vehicle overloaded);
- range: the battery above the reserve, divided by ``energy_margin`` (less a
  take-off, landing and hand-over allowance for air vehicles), over the cruise
  energy per metre (at the network's slowest speed limit for ground and sea,
  times ``air_detour`` for air);
- prizes larger than any stop's added distance, so every order that can be
  served is, and one that cannot (too heavy, too far, too late) is dropped and
  waits for the next period instead of making the whole problem infeasible.

Each non-empty route becomes one plan: ``Pickup`` of every order on it (loaded
at the depot, one after another), ``Deliver`` in the solver's order, and
``ReturnHome`` (air vehicles fly their own legs to the depot and each destination:
:class:`fleetsim.policies.logistics_common.AirLegs`, around active no-fly zones and keeping
the terrain clearance). Should the solver still return an infeasible solution, that
depot's orders fall back to single-order plans in the manner of
:mod:`fleetsim.policies.nearest_dispatch`. Idle vehicles that are neither parked nor at
home are sent home, where they become available at the next period.

Why PyVRP: its hybrid genetic search is state of the art for capacitated routing
with time windows and route-length limits, and it stops after a number of
iterations (``max_iterations``, ``no_improvement``), never after a wall-clock
time, so with the seed drawn once from the policy's random stream the same
scenario and seed always give the same routes (see
:func:`fleetsim.logistics.solvers.solve_vrp`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fleetsim.logistics.solvers import NO_LIMIT, VRPProblem, solve_vrp
from fleetsim.policies.logistics_common import AirLegs, Capabilities, dispatch_nearest
from fleetsim.policy import Deliver, Pickup, Plan, Policy, ReturnHome, param, positive

#: How close to its depot (metres) a vehicle must be to be parked there.
AT_DEPOT_M = 1.0


def _at_least_one(v: int) -> str | None:
    return None if v >= 1 else "an integer >= 1"


def _non_negative_int(v: int) -> str | None:
    return None if v >= 0 else "an integer >= 0"


class VRPPlanner(Policy):
    name = "vrp_planner"
    action_classes = frozenset({"pickup", "deliver", "return"})
    mission = "logistics"

    @dataclass(frozen=True)
    class Params:
        period_s: float = param(300.0, positive, "seconds between route plans")
        energy_margin: float = param(1.1, positive, "safety factor on a route's energy")
        max_iterations: int = param(1000, _non_negative_int, "PyVRP iterations per solve")
        no_improvement: int = param(200, _at_least_one,
                                    "stop a solve after this many iterations without a "
                                    "better solution")
        max_orders: int = param(200, _at_least_one,
                                "most orders (oldest first) routed per depot and period")

    def reset(self, ctx) -> None:
        super().reset(ctx)
        self.cap = Capabilities(ctx)
        self.air_legs = AirLegs(ctx)
        self.decision_period_s = float(self.params.period_s)
        self.seed = int(ctx.rng.integers(0, 2**32))
        self.depots = [(s.index, np.asarray(s.xy, dtype=np.float64))
                       for s in ctx.world.sites if s.kind == "depot"]
        # Ground and sea range is budgeted at the network's slowest speed limit.
        self.slowest_mps = {d: min([e["speed_mps"] for _, _, e in net.graph.edges(data=True)]
                                   or [math.inf])
                            for d, net in self.cap.networks.items()}

    # ------------------------------------------------------------------ decide

    def decide(self, now_s, fleet, requests):
        if not any(r.reason in ("start", "periodic") for r in requests):
            return []
        orders = fleet.orders
        if orders is None:
            return []
        idle = fleet.idle()
        idle = idle[(self.cap.payload[idle] > 0) & ~fleet.docked(idle)] if len(idle) else idle
        if not len(idle):
            return []
        waiting = orders.waiting()
        pos = fleet.positions(idle)[:, :2]
        parked = fleet.states(idle) == "ground"
        home = fleet.home_xy[idle]
        plans: list[Plan] = []
        for d, xy in self.depots:
            here = idle[parked & (np.hypot(*(pos - xy).T) <= AT_DEPOT_M)
                        & (np.hypot(*(home - xy).T) <= AT_DEPOT_M)]
            mine = waiting[orders.origin[waiting] == d][: self.params.max_orders]
            if len(here) and len(mine):
                plans += self.plan_depot(now_s, fleet, xy, here, mine)
        # Idle vehicles away from home (e.g. hovering after a refused action) go home.
        planned = {p.vehicle for p in plans}
        away = ~parked | (np.hypot(*(pos - home).T) > AT_DEPOT_M)
        plans += [Plan(int(v), [ReturnHome()]) for v in idle[away].tolist()
                  if v not in planned]
        return self.air_legs.expand(now_s, fleet, plans)

    def plan_depot(self, now_s, fleet, depot_xy, vehicles, orders) -> list[Plan]:
        """Plans for the ``vehicles`` parked at one depot over its waiting ``orders``
        (oldest first)."""
        ov = fleet.orders
        cap = self.cap
        types = fleet.type_index[vehicles]
        groups = sorted({int(t) for t in types.tolist()},
                        key=lambda t: (float(cap.payload[vehicles[types == t][0]]), t))
        remaining = [int(k) for k in orders.tolist()]
        free = [int(v) for v in vehicles.tolist()]
        plans = []
        for t in groups:
            vs = np.asarray([v for v in free if fleet.type_index[v] == t], dtype=np.int64)
            cand = [k for k in remaining if ov.weight_kg[k] <= cap.payload[vs[0]] + 1e-9]
            if cap.air[vs[0]] and cand:
                ok = ~cap.no_fly_at(ov.dest_xy[cand])
                cand = [k for k, good in zip(cand, ok.tolist(), strict=True) if good]
            if not cand:
                continue
            built = self.problem(now_s, fleet, depot_xy, vs, np.asarray(cand, dtype=np.int64))
            if built is None:
                continue
            problem, used_v, used_k = built
            sol = solve_vrp(problem, seed=self.seed, max_iterations=self.params.max_iterations,
                            no_improvement=self.params.no_improvement)
            if not sol.feasible:
                # Fall back to single-order plans for this depot's orders left.
                prio = ov.priority[remaining]
                rest = np.asarray(remaining, dtype=np.int64)[np.lexsort((remaining, prio))]
                return plans + dispatch_nearest(cap, fleet, rest, np.asarray(free),
                                                self.params.energy_margin)
            for v, route in zip(used_v.tolist(), sol.routes, strict=True):
                if not route:
                    continue
                ks = [int(used_k[i - 1]) for i in route]
                plans.append(Plan(v, [Pickup(k) for k in ks] + [Deliver(k) for k in ks]
                                  + [ReturnHome()]))
                free.remove(v)
                served = set(ks)
                remaining = [k for k in remaining if k not in served]
        return plans

    # ----------------------------------------------------------------- problem

    def matrices(self, vehicle: int, points: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Distance (metres) and travel time (seconds) matrices, float, between
        ``points`` (row 0: the depot) for vehicles like ``vehicle``, and which points
        it can reach (bool; always the depot)."""
        cap = self.cap
        speed = float(cap.speed[vehicle])
        m = len(points)
        if cap.air[vehicle]:
            dist = np.hypot(points[:, None, 0] - points[None, :, 0],
                            points[:, None, 1] - points[None, :, 1])
            dur = cap.air_detour * dist / speed
            dur[0, 1:] += cap.climb_s[vehicle]
            dur[1:, 0] += cap.climb_s[vehicle]
            return dist, dur, np.ones(m, dtype=bool)
        domain = str(cap.domain[vehicle])
        net = cap.networks.get(domain)
        if net is None:
            return None
        nodes, conn = net.nearest_nodes(points)
        net_d = np.empty((m, m))
        net_t = np.empty((m, m))
        for u in np.unique(nodes).tolist():
            rows = nodes == u
            net_d[rows] = net.distances_from(u)[nodes][None, :]
            net_t[rows] = net.travel_times_from(u, speed)[nodes][None, :]
        ends = conn[:, None] + conn[None, :]
        dist = net_d + ends
        dur = net_t + ends / speed
        same = np.hypot(points[:, None, 0] - points[None, :, 0],
                        points[:, None, 1] - points[None, :, 1]) < 1e-6
        dist[same] = 0.0
        dur[same] = 0.0
        reach = np.isfinite(dist[0]) & (conn <= cap.snap_m[domain])
        reach[0] = True
        return dist, dur, reach

    def problem(self, now_s, fleet, depot_xy, vehicles, orders
                ) -> tuple[VRPProblem, np.ndarray, np.ndarray] | None:
        """The routing problem of ``vehicles`` (one type, parked at the depot) over
        ``orders``; with the vehicles and orders it uses (location i: order i - 1).
        None when no vehicle has range or no order can be reached."""
        ov = fleet.orders
        cap = self.cap
        v0 = int(vehicles[0])
        points = np.vstack([depot_xy[None, :], ov.dest_xy[orders]])
        built = self.matrices(v0, points)
        if built is None:
            return None
        dist, dur, reach = built
        if not reach[1:].all():
            keep = np.flatnonzero(reach)
            orders = orders[keep[1:] - 1]
            dist, dur = dist[np.ix_(keep, keep)], dur[np.ix_(keep, keep)]
        m = len(orders) + 1
        if m == 1:
            return None
        weight = ov.weight_kg[orders]
        demand = np.zeros(m, dtype=np.int64)
        demand[1:] = np.ceil(weight * 1000.0 - 1e-7).astype(np.int64)
        capacity = math.floor(float(cap.payload[v0]) * 1000.0 + 1e-6)

        # Range: battery above the reserve, with the margin, over cruise Wh per metre.
        usable = cap.usable_wh(fleet, vehicles) / self.params.energy_margin
        if cap.air[v0]:
            most = min(m - 1, max(1, int(cap.payload[v0] // max(float(weight.min()), 1e-9))))
            usable = usable - cap.hover_wh_per_s[v0] * (2 * cap.climb_s[v0]
                                                        + most * cap.service_s)
            per_m = cap.cruise_wh_per_s[v0] / cap.speed[v0] * cap.air_detour
        else:
            slowest = min(float(cap.speed[v0]), self.slowest_mps[str(cap.domain[v0])])
            per_m = cap.cruise_wh_per_s[v0] / slowest
        if per_m > 0:
            reach_m = np.floor(np.maximum(usable, 0.0) / per_m)
        else:  # driving takes no energy
            reach_m = np.where(usable > 0, np.inf, 0.0)
        # No route serves fewer than one order: at most one vehicle per order, the
        # ones with the longest range (then the lowest index).
        best = np.lexsort((vehicles, -reach_m))[: m - 1]
        best = np.sort(best[reach_m[best] > 0])
        if not len(best):
            return None
        vehicles = vehicles[best]
        reach_m = reach_m[best]
        max_d = np.full(len(vehicles), NO_LIMIT, dtype=np.int64)
        bounded = reach_m < 1e15
        max_d[bounded] = reach_m[bounded].astype(np.int64)

        distance = np.rint(dist).astype(np.int64)
        duration = np.rint(dur).astype(np.int64)
        service = np.zeros(m, dtype=np.int64)
        service[1:] = round(cap.service_s)
        tw_late = np.full(m, NO_LIMIT, dtype=np.int64)
        latest = ov.latest_s[orders]
        loading = cap.loading_s[int(ov.origin[orders[0]])]
        for i in np.flatnonzero(np.isfinite(latest)).tolist():
            # The window bounds the start of the hand-over; the order is delivered
            # (and judged on time) at its end.
            late = max(0, math.floor(float(latest[i]) - now_s - loading - cap.service_s))
            if late >= duration[0, i + 1]:  # else it will be late anyway: no limit
                tw_late[i + 1] = late
        prizes = np.zeros(m, dtype=np.int64)
        prizes[1:] = 2 * int(distance.max()) + 1
        k = len(vehicles)
        problem = VRPProblem(
            distance=distance, duration=duration, demand=demand, service_s=service,
            tw_early=np.zeros(m, dtype=np.int64), tw_late=tw_late,
            vehicle_capacity=np.full(k, capacity, dtype=np.int64),
            vehicle_depot=np.zeros(k, dtype=np.int64), vehicle_max_distance=max_d,
            prizes=prizes)
        return problem, vehicles, orders

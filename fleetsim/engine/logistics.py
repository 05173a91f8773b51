"""Logistics in the engine: orders, depots, loading, delivery, road closures.

Orders are drawn before the run (explicit ones from the scenario, Poisson
arrivals from its demand streams, each on its own random stream) and created
at their times by one process; a created order is a ``Request(-1, "order", k)``
for the policy. Depots hold their stock in a ``simpy.Container``, load one
vehicle per loading bay at a time (``simpy.Resource``) and swap batteries at
swap stations (another ``Resource``). Ground and sea vehicles move on copies of
the world's road and water networks; a road that closes during the run makes
the vehicles whose remaining route crosses it re-route from where they are.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import simpy

# Order states and failure reasons are part of the policy API.
from fleetsim.engine.api import Subsystem
from fleetsim.engine.tables import K_LOAD, K_UNLOAD, K_WAIT_LOAD
from fleetsim.policy import (
    ASSIGNED,
    CARRIED,
    DELIVERED,
    FAILED,
    ORDER_STATES,
    WAITING,
)
from fleetsim.record import Table
from fleetsim.scenario.model import LogisticsSpec
from fleetsim.world.world import random_points_in

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.engine.api import EngineAPI
    from fleetsim.logistics.network import Network

class OrderTable:
    """Every order of the run, drawn before it starts, in creation order."""

    def __init__(self, sim: EngineAPI) -> None:
        sc = sim.scenario
        spec = sc.logistics or LogisticsSpec()
        sites = {s.id: s for s in sim.world.sites}
        end = sim.duration_s
        rows = []  # (created, stream, k, id, origin site index, x, y, weight, prio, earliest, latest)
        for k, o in enumerate(spec.orders):
            rows.append((o.created_s, -1, k, o.id, sites[o.origin].index, *o.destination,
                         o.weight_kg, o.priority, o.earliest_s,
                         math.inf if o.latest_s is None else o.latest_s))
        for i, d in enumerate(spec.demand):
            rng = sim.streams.get(f"demand/{i}")
            stop = min(end, d.end_s if d.end_s is not None else end)
            mean_gap = 3600.0 / d.rate_per_hour
            times: list[float] = []
            t = d.start_s
            while True:  # the arrival times, in batches (the same draws whatever the batch)
                gaps = rng.exponential(mean_gap, 256)
                more = t + np.cumsum(gaps)
                times.extend(more[more < stop].tolist())
                if more[-1] >= stop:
                    break
                t = float(more[-1])
            n = len(times)
            if d.destinations:
                pick = rng.integers(0, len(d.destinations), n)
                dest = np.array([sites[d.destinations[j]].xy for j in pick.tolist()],
                                dtype=np.float64).reshape(-1, 2)
            else:
                import shapely
                dest = random_points_in(shapely.Polygon(d.area), n, rng)
            lo, hi = d.weight_kg
            weight = rng.uniform(lo, hi, n) if hi > lo else np.full(n, lo)
            origin = sites[d.origin].index
            for k in range(n):
                latest = math.inf if d.window_s is None else times[k] + d.window_s
                rows.append((times[k], i, k, f"{d.origin}-{i}-{k}", origin,
                             float(dest[k, 0]), float(dest[k, 1]), float(weight[k]),
                             d.priority, times[k], latest))
        rows.sort(key=lambda r: (r[0], r[1], r[2]))
        self.n = len(rows)
        self.ids = [r[3] for r in rows]
        self.created_s = np.array([r[0] for r in rows], dtype=np.float64)
        self.origin = np.array([r[4] for r in rows], dtype=np.int32)
        self.dest_xy = np.array([(r[5], r[6]) for r in rows], dtype=np.float64).reshape(-1, 2)
        self.weight_kg = np.array([r[7] for r in rows], dtype=np.float64)
        self.priority = np.array([r[8] for r in rows], dtype=np.int32)
        self.earliest_s = np.array([r[9] for r in rows], dtype=np.float64)
        self.latest_s = np.array([r[10] for r in rows], dtype=np.float64)
        self.status = np.full(self.n, WAITING, dtype=np.int8)
        self.vehicle = np.full(self.n, -1, dtype=np.int32)
        self.site_ids = [s.id for s in sim.world.sites]
        self.origin_xy = np.array([sim.world.sites[i].xy for i in self.origin.tolist()],
                                  dtype=np.float64).reshape(-1, 2)

    def table(self, n_created: int) -> Table:
        m = n_created
        return {
            "order": np.arange(m, dtype=np.int32),
            "id": np.array(self.ids[:m], dtype=object),
            "origin": np.array([self.site_ids[i] for i in self.origin[:m].tolist()],
                               dtype=object),
            "dest_x_m": self.dest_xy[:m, 0].copy(), "dest_y_m": self.dest_xy[:m, 1].copy(),
            "weight_kg": self.weight_kg[:m].copy(), "priority": self.priority[:m].copy(),
            "created_s": self.created_s[:m].copy(), "earliest_s": self.earliest_s[:m].copy(),
            "latest_s": self.latest_s[:m].copy(),
        }


class OrderView:
    """What a policy may read about the orders (``FleetView.orders``).

    Arrays cover the orders created so far (index = order index) and are
    read-only; ``status`` holds codes into :data:`ORDER_STATES`.
    """

    STATES = ORDER_STATES

    def __init__(self, logistics: Logistics) -> None:
        self._lg = logistics

    def _ro(self, a: np.ndarray) -> np.ndarray:
        a = a[: self._lg.n_created]
        a = a.view()
        a.setflags(write=False)
        return a

    @property
    def n(self) -> int:
        return self._lg.n_created

    def waiting(self) -> np.ndarray:
        """Indexes of the orders created and in no vehicle's plan, oldest first."""
        return np.array(sorted(self._lg.waiting), dtype=np.int64)

    @property
    def status(self) -> np.ndarray:
        return self._ro(self._lg.table.status)

    @property
    def vehicle(self) -> np.ndarray:
        """The vehicle an order is assigned to or carried by (-1: none)."""
        return self._ro(self._lg.table.vehicle)

    @property
    def origin(self) -> np.ndarray:
        """Origin depot (site index) of each order."""
        return self._ro(self._lg.table.origin)

    @property
    def origin_xy(self) -> np.ndarray:
        return self._ro(self._lg.table.origin_xy)

    @property
    def dest_xy(self) -> np.ndarray:
        return self._ro(self._lg.table.dest_xy)

    @property
    def weight_kg(self) -> np.ndarray:
        return self._ro(self._lg.table.weight_kg)

    @property
    def priority(self) -> np.ndarray:
        return self._ro(self._lg.table.priority)

    @property
    def created_s(self) -> np.ndarray:
        return self._ro(self._lg.table.created_s)

    @property
    def earliest_s(self) -> np.ndarray:
        return self._ro(self._lg.table.earliest_s)

    @property
    def latest_s(self) -> np.ndarray:
        return self._ro(self._lg.table.latest_s)

    def carried_by(self, vehicle: int) -> tuple[int, ...]:
        """The orders on board ``vehicle`` now, in loading order."""
        return tuple(self._lg.carried[vehicle])


class NoOrders:
    """``FleetView.orders`` of a run without logistics: no orders, same interface."""

    STATES = ORDER_STATES
    n = 0

    def __init__(self) -> None:
        empty_i = np.zeros(0, dtype=np.int32)
        empty_f = np.zeros(0, dtype=np.float64)
        for a in (empty_i, empty_f):
            a.setflags(write=False)
        self.status = np.zeros(0, dtype=np.int8)
        self.vehicle = self.origin = self.priority = empty_i
        self.weight_kg = self.created_s = self.earliest_s = self.latest_s = empty_f
        self.origin_xy = self.dest_xy = np.zeros((0, 2))

    def waiting(self) -> np.ndarray:
        return np.zeros(0, dtype=np.int64)

    def carried_by(self, vehicle: int) -> tuple[int, ...]:
        return ()


class Logistics(Subsystem):
    """Orders, depots and networks of one run."""

    def __init__(self, sim: EngineAPI) -> None:
        self.sim = sim
        spec = sim.scenario.logistics or LogisticsSpec()
        self.service_s = float(spec.service_time_s)
        self.transfer_s = float(spec.transfer_time_s)
        self.table = OrderTable(sim)
        self.n_created = 0
        #: Waiting orders (as the keys of a dict: a set with a stable order).
        self.waiting: dict[int, None] = {}
        env = sim.env
        world = sim.world
        self.networks: dict[str, Network] = {}
        from fleetsim.logistics.network import Network
        if world.roads is not None:
            self.networks["ground"] = Network(world.roads.graph, world.roads.kind)
        if world.water is not None:
            self.networks["sea"] = Network(world.water.graph, world.water.kind)
        self.bays: dict[int, simpy.Resource] = {}
        self.stock: dict[int, simpy.Container | None] = {}
        self.swaps: dict[int, tuple[simpy.Resource, float]] = {}
        self.loading_s: dict[int, float] = {}
        for i, s in enumerate(sim.scenario.sites):
            if s.kind != "depot":
                continue
            self.bays[i] = simpy.Resource(env, capacity=s.loading_bays)
            self.loading_s[i] = float(s.loading_time_s)
            self.stock[i] = (None if s.stock is None else
                             simpy.Container(env, capacity=max(1, s.stock), init=s.stock))
            if s.swap_stations:
                self.swaps[i] = (simpy.Resource(env, capacity=s.swap_stations),
                                 float(s.swap_time_s))
        n = sim.n
        self.load_kg = [0.0] * n
        self.carried: list[list[int]] = [[] for _ in range(n)]
        #: The network path a ground or sea vehicle is driving now: (nodes, whether a
        #: connector leg to the first node comes first), for closures.
        self.driving: dict[int, tuple[tuple[int, ...], int]] = {}
        self._detour_cache: dict[tuple[int, int, int], float] = {}
        self.view = OrderView(self)

    # ------------------------------------------------------------------ hooks

    def processes(self, *, progress: bool = False):
        procs = []
        if self.table.n:
            procs.append(self.process())
        roads = self.sim.scenario.roads
        if roads is not None and roads.closures and "ground" in self.networks:
            procs.append(self.closures(roads))
        return procs

    # ------------------------------------------------------------------ actions

    def pickup(self, v: int, k: int):
        """Load order ``k`` (in vehicle ``v``'s process): from the carrier the vehicle
        rides on, or at its depot."""
        sim = self.sim
        tab = self.table
        c = sim.carrier_of[v]
        if sim.docked[v] and tab.status[k] == CARRIED and tab.vehicle[k] == c:
            if self.load_kg[v] + tab.weight_kg[k] > sim.payload[v] + 1e-9:
                self.fail(k, "capacity", c)
                return
            if self.transfer_s > 0:
                yield sim.env.timeout(self.transfer_s)
            if tab.status[k] != CARRIED or tab.vehicle[k] != c:
                sim.log.add(sim.env.now, "action_refused", v, target=k, detail="pickup")
                return
            self.unload(c, k)
            self.loaded(v, k, "carrier")
            return
        if tab.status[k] != ASSIGNED or tab.vehicle[k] != v:
            return  # no longer this vehicle's to pick up
        if self.load_kg[v] + tab.weight_kg[k] > sim.payload[v] + 1e-9:
            self.fail(k, "capacity", v)
            return
        dom = sim.domains[v]
        if dom.unreachable(*tab.dest_xy[k].tolist()):
            self.fail(k, "unreachable", v)  # addressed inside a no-fly zone: not worth loading
            return
        site = int(tab.origin[k])
        sx, sy = sim.world.sites[site].xy
        why = yield from dom.travel(v, sx, sy)
        if why:
            self.fail(k, "no_route", v)
            return
        yield from dom.arrive_to_load(v, sx, sy)  # an aircraft lands to load
        bay = self.bays[site]
        with bay.request() as req:
            if not req.triggered:
                sim.log.add(sim.env.now, "load_queue", v, target=k, value=len(bay.queue),
                            detail=sim.world.sites[site].id)
                sim.open_leg(v, K_WAIT_LOAD, False, math.inf, sim.px[v], sim.py[v],
                             sim.pz[v], 0.0)
                yield req
                sim.cut_leg(v, sim.env.now)
            if tab.status[k] != ASSIGNED or tab.vehicle[k] != v:
                return
            stock = self.stock[site]
            if stock is not None:
                if stock.level < 1:
                    self.fail(k, "stock", v)
                    return
                stock.get(1)
            dur = self.loading_s[site]
            sim.open_leg(v, K_LOAD, False, dur, sim.px[v], sim.py[v], sim.pz[v], 0.0)
            if dur > 0:
                yield sim.env.timeout(dur)
            sim.close_leg(v)
        self.loaded(v, k, sim.world.sites[site].id)

    def loaded(self, v: int, k: int, where: str) -> None:
        """Order ``k`` is on board vehicle ``v`` (loaded at ``where``)."""
        sim = self.sim
        tab = self.table
        if sim.docked[v]:
            sim.px[v], sim.py[v], sim.pz[v] = sim.position_at(sim.carrier_of[v], sim.env.now)
        self.set_status(k, CARRIED)
        tab.vehicle[k] = v
        self.carried[v].append(k)
        self.load_kg[v] += float(tab.weight_kg[k])
        sim.log.add(sim.env.now, "pickup", v, target=k, x=sim.px[v], y=sim.py[v],
                    z=sim.pz[v], value=float(tab.weight_kg[k]), detail=where)

    def deliver(self, v: int, k: int):
        """Take order ``k`` to its destination and hand it over (in vehicle ``v``'s
        process)."""
        sim = self.sim
        tab = self.table
        if tab.status[k] == FAILED:
            return
        if k not in self.carried[v]:
            raise sim.policy_error(
                f"Deliver({k}): the vehicle does not carry order {k} (it is "
                f"{ORDER_STATES[tab.status[k]]}"
                f"{'' if tab.vehicle[k] < 0 else f', vehicle {tab.vehicle[k]}'}); "
                "plan a Pickup of it first", v)
        dom = sim.domains[v]
        x, y = tab.dest_xy[k].tolist()
        why = yield from dom.travel(v, x, y)
        if why:
            self.fail(k, why, v)
            return
        early = float(tab.earliest_s[k]) - sim.env.now
        if early > 0:  # too early for the customer: it waits there
            yield from dom.hold(v, early)
        yield from dom.hold(v, self.service_s, K_UNLOAD)
        self.unload(v, k)
        self.set_status(k, DELIVERED)
        sim.log.add(sim.env.now, "delivered", v, target=k, x=sim.px[v], y=sim.py[v],
                    z=sim.pz[v], value=sim.env.now - float(tab.created_s[k]))

    # ------------------------------------------------------------------ orders

    def orders_table(self) -> Table:
        return self.table.table(self.n_created)

    def set_status(self, k: int, status: int) -> None:
        """Change order ``k``'s status, keeping the set of waiting orders."""
        self.table.status[k] = status
        if status == WAITING:
            self.waiting[k] = None
        else:
            self.waiting.pop(k, None)

    def process(self):
        """Create the orders at their times."""
        sim, tab = self.sim, self.table
        env = sim.env
        for k in range(tab.n):
            t = float(tab.created_s[k])
            if t > env.now:
                yield env.timeout(t - env.now)
            self.n_created = k + 1
            self.waiting[k] = None
            sim.log.add(t, "order_created", target=k, x=float(tab.dest_xy[k, 0]),
                        y=float(tab.dest_xy[k, 1]), value=float(tab.weight_kg[k]),
                        detail=tab.site_ids[tab.origin[k]])
            sim.request(-1, "order", k)

    def fail(self, k: int, reason: str, v: int = -1) -> None:
        """Order ``k`` fails for good (it leaves its vehicle, if on board)."""
        if self.table.status[k] == CARRIED and v >= 0 and k in self.carried[v]:
            self.unload(v, k)
        self.set_status(k, FAILED)
        self.sim.log.add(self.sim.env.now, "order_failed", v, target=k, detail=reason)

    def fail_carried(self, v: int, reason: str) -> None:
        for k in list(self.carried[v]):
            self.fail(k, reason, v)

    def unload(self, v: int, k: int) -> None:
        """Order ``k`` leaves vehicle ``v`` (delivered, failed, or taken by a drone)."""
        self.carried[v].remove(k)
        self.load_kg[v] -= float(self.table.weight_kg[k])

    def release(self, v: int, orders: list[int], *, tell: bool = True) -> None:
        """Orders ``v`` was going to pick up go back to waiting; ``tell``: and to the
        policy, as ``order`` requests (not when the policy itself re-planned them)."""
        tab = self.table
        for k in orders:
            if tab.status[k] == ASSIGNED and tab.vehicle[k] == v:
                self.set_status(k, WAITING)
                tab.vehicle[k] = -1
                if tell:
                    self.sim.request(-1, "order", k)

    def assign(self, v: int, k: int) -> None:
        tab = self.table
        if tab.status[k] == ASSIGNED and tab.vehicle[k] == v:
            return
        self.set_status(k, ASSIGNED)
        tab.vehicle[k] = v
        self.sim.log.add(self.sim.env.now, "order_assigned", v, target=k)

    # ------------------------------------------------------------------ networks

    def net(self, v: int) -> Network:
        return self.networks[self.sim.domain[v]]

    def path(self, v: int, x: float, y: float, from_node: int | None = None):
        """Waypoints (xs, ys, speeds, nodes) for vehicle ``v`` from where it is (or from
        ``from_node``) to (x, y) on its network: a connector to the nearest node, the
        shortest path, a connector to the place. None if there is no route;
        "unreachable" if (x, y) is too far off the network."""
        sim = self.sim
        domain = sim.domain[v]
        net = self.networks[domain]
        snap = net.reach_m  # how far off its network a place may be and still be reached
        b, db = net.nearest_node(x, y)
        if db > snap:
            return "unreachable"
        px, py = sim.px[v], sim.py[v]
        if from_node is None:
            a, _ = net.nearest_node(px, py)
        else:
            a = from_node
        p = net.route(a, b)
        if p is None:
            return None
        spd = sim.speed[v]
        xs = p.xy[:, 0].tolist() + [x]
        ys = p.xy[:, 1].tolist() + [y]
        limits = np.minimum(p.speed_limits_mps, spd).tolist()
        conn = min(spd, net.connector_mps)
        return xs, ys, [conn] + limits + [conn], p.nodes

    def detour(self, v: int, x: float, y: float, straight: float) -> float:
        """How much longer than the straight line home is the way home on the vehicle's
        network from (x, y) (>= 1, at most 3); cached on 100 m cells."""
        sim = self.sim
        net = self.networks.get(sim.domain[v])
        if net is None or straight < 1.0:
            return 1.0
        hx, hy = sim.home_xy[v]
        key = (sim.base_index[v], round(x / 100.0), round(y / 100.0))
        f = self._detour_cache.get(key)
        if f is None:
            home, dh = net.nearest_node(hx, hy)
            node, dn = net.nearest_node(x, y)
            d = float(net.distances_from(home)[node]) + dh + dn
            f = 3.0 if not math.isfinite(d) else min(3.0, max(1.0, d / straight))
            self._detour_cache[key] = f
        return f

    def closures(self, spec):
        """Close the scenario's roads at their times; vehicles driving over one re-route."""
        sim = self.sim
        env = sim.env
        net = self.networks["ground"]
        for c in sorted(spec.closures, key=lambda c: c.time_s):
            if c.time_s > env.now:
                yield env.timeout(c.time_s - env.now)
            try:
                u, w = net.close_near(*c.near)
            except ValueError:
                continue  # every road near it is closed already
            self._detour_cache.clear()
            (x0, y0), (x1, y1) = net.xy[u], net.xy[w]
            sim.log.add(env.now, "road_closed", x=float(x0 + x1) / 2, y=float(y0 + y1) / 2,
                        value=float(math.hypot(x1 - x0, y1 - y0)), detail=f"{u}-{w}")
            for v, (nodes, connector) in sorted(self.driving.items()):
                if sim.domain[v] != "ground":
                    continue
                hit = _edge_index(nodes, u, w)
                if hit < 0:
                    continue
                # Which edge of its path is it on now? Its block's legs are the connector
                # to nodes[0] (if any), then nodes[i] -> nodes[i + 1].
                k = sim.current_leg_index(v) - (1 if connector else 0)
                if k > hit:
                    continue  # already past the closed road
                if k == hit:  # on the closed road: it turns back to where it came from
                    back = nodes[k]
                elif k < 0:  # still joining the network
                    back = nodes[0]
                else:  # on an open road before it: on to that road's end
                    back = nodes[k + 1]
                sim.reroute(v, back)


def _edge_index(nodes: tuple[int, ...], u: int, w: int) -> int:
    for i in range(len(nodes) - 1):
        a, b = nodes[i], nodes[i + 1]
        if (a == u and b == w) or (a == w and b == u):
            return i
    return -1

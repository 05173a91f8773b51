"""Helpers shared by the logistics policies: what a vehicle can carry and how far.

Estimates are deliberately simple and a little pessimistic: straight lines for
air vehicles (times ``air_detour`` for no-fly zones), the network's own travel
times for ground and sea vehicles, cruise power for the whole trip, hover power
for take-off, landing and the hand-over. The engine still enforces the real
energy limit: a vehicle that reaches its reserve goes home and the orders it
carries fail with reason ``battery``.

:class:`AirLegs` gives air vehicles' plans their own legs to each depot and
destination: around the zones active while they are flown, at heights that keep
the terrain clearance (the engine then only lands, loads, hands over).
"""

from __future__ import annotations

import numpy as np
import shapely

from fleetsim.planning.altitude import TerrainFollower, route_pieces
from fleetsim.planning.zones import ZoneWindows, zones_to_avoid
from fleetsim.policy import Deliver, Pickup, Plan, ReturnHome, Route

#: Margin on the estimated times of air legs when checking zones' windows, seconds.
_SLACK_S = 300.0


class Capabilities:
    """Per-vehicle constants a logistics policy needs, read once at reset."""

    def __init__(self, ctx, air_detour: float = 1.2) -> None:
        types = ctx.vehicle_types
        ti = np.asarray(ctx.vehicle_type_index)
        self.air_detour = air_detour
        self.speed = np.array([types[i].cruise_speed_mps for i in ti], dtype=np.float64)
        self.cruise_wh_per_s = np.array([types[i].cruise_power_w for i in ti]) / 3600.0
        self.hover_wh_per_s = np.array([types[i].hover_power_w for i in ti]) / 3600.0
        self.climb_s = np.array([types[i].cruise_altitude_agl_m / types[i].climb_rate_mps
                                 if types[i].domain == "air" else 0.0 for i in ti])
        self.payload = np.array([types[i].payload_kg for i in ti], dtype=np.float64)
        self.air = np.array([types[i].domain == "air" for i in ti], dtype=bool)
        lg = ctx.scenario.logistics
        self.service_s = lg.service_time_s if lg is not None else 60.0
        self.loading_s = {s.index: next(x.loading_time_s for x in ctx.scenario.sites
                                        if x.id == s.id)
                          for s in ctx.world.sites if s.kind == "depot"}
        self.domain = np.array([types[i].domain for i in ti], dtype=object)
        no_fly = [z.polygon for z in ctx.world.zones if z.kind == "no_fly"]
        self.no_fly = shapely.union_all(no_fly) if no_fly else None
        if self.no_fly is not None:
            shapely.prepare(self.no_fly)
        self.networks = dict(ctx.networks)
        # How far off its network a destination may be and still be reached.
        self.snap_m = {d: net.reach_m for d, net in self.networks.items()}
        #: Per waiting order, the vehicles that could take it from home on a full
        #: battery (filled and used by :func:`dispatch_nearest`).
        self.reachable: dict[int, np.ndarray] = {}

    def trip_time_s(self, fleet, v: int, points: list) -> float:
        """Travel time of vehicle ``v`` through ``points`` (first: where it starts)."""
        total = 0.0
        for a, b in zip(points[:-1], points[1:], strict=True):
            if self.air[v]:
                total += self.air_detour * float(np.hypot(b[0] - a[0], b[1] - a[1])) / \
                    self.speed[v]
            else:
                total += float(fleet.travel_time_s([v], a, b)[0])
        return total

    def trip_energy_wh(self, fleet, v: int, points: list, stops: int = 1) -> float:
        """Energy for vehicle ``v`` to travel through ``points`` with ``stops``
        hand-overs (hovering) and, for air vehicles, a take-off and landing per stop."""
        t = self.trip_time_s(fleet, v, points)
        e = self.cruise_wh_per_s[v] * t
        if self.air[v]:
            e += self.hover_wh_per_s[v] * (stops * self.service_s + 2 * (stops + 1)
                                           * self.climb_s[v])
        return e

    def usable_wh(self, fleet, vehicles) -> np.ndarray:
        """Battery above the reserve, now."""
        idx = np.asarray(vehicles, dtype=np.int64)
        return fleet.battery_wh(idx) - fleet.reserve_wh[idx]

    def no_fly_at(self, xy) -> np.ndarray:
        """(k,) bool: which points lie in a no-fly zone (air vehicles cannot deliver there)."""
        pts = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        if self.no_fly is None:
            return np.zeros(len(pts), dtype=bool)
        return shapely.intersects_xy(self.no_fly, pts[:, 0], pts[:, 1])

    def trip_times_s(self, fleet, vehicles, origin_xy, dest_xy
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Travel times of every vehicle (rows) for every order (columns), vectorised.

        Returns three (m, c) arrays: from where each vehicle is to the order's origin
        depot, from the origin to the destination, and from the destination to the
        vehicle's home; ``inf`` where the vehicle's network has no way (or the
        destination is off it). Air vehicles: straight lines times ``air_detour``
        (as :meth:`trip_time_s`); ground and sea vehicles: the network's travel
        times plus the connectors at each end (as ``FleetView.travel_time_s``), one
        Dijkstra per distinct depot and home rather than one per pair.
        """
        vs = np.asarray(vehicles, dtype=np.int64)
        org = np.asarray(origin_xy, dtype=np.float64).reshape(-1, 2)
        dst = np.asarray(dest_xy, dtype=np.float64).reshape(-1, 2)
        m, c = len(vs), len(org)
        to_origin = np.empty((m, c))
        to_dest = np.empty((m, c))
        to_home = np.empty((m, c))
        if m == 0 or c == 0:
            return to_origin, to_dest, to_home
        pos = fleet.positions(vs)[:, :2]
        home = fleet.home_xy[vs]
        air = self.air[vs]
        if air.any():
            k = self.air_detour / self.speed[vs[air]][:, None]
            to_origin[air] = k * np.hypot(org[None, :, 0] - pos[air, 0, None],
                                          org[None, :, 1] - pos[air, 1, None])
            to_dest[air] = k * np.hypot(*(dst - org).T)[None, :]
            to_home[air] = k * np.hypot(dst[None, :, 0] - home[air, 0, None],
                                        dst[None, :, 1] - home[air, 1, None])
        surface = np.flatnonzero(~air)
        if surface.size:
            keys = sorted({(str(self.domain[vs[r]]), float(self.speed[vs[r]]))
                           for r in surface.tolist()})
            for domain, speed in keys:
                rows = surface[(self.domain[vs[surface]] == domain)
                               & (self.speed[vs[surface]] == speed)]
                net = self.networks.get(domain)
                if net is None:
                    to_origin[rows] = to_dest[rows] = to_home[rows] = np.inf
                    continue
                n_pos, d_pos = net.nearest_nodes(pos[rows])
                n_home, d_home = net.nearest_nodes(home[rows])
                n_org, d_org = net.nearest_nodes(org)
                n_dst, d_dst = net.nearest_nodes(dst)
                leg = np.empty(c)
                pick = np.empty((len(rows), c))
                for u in np.unique(n_org).tolist():
                    cols = n_org == u
                    tt = net.travel_times_from(u, speed)
                    pick[:, cols] = tt[n_pos][:, None]
                    leg[cols] = tt[n_dst[cols]]
                back = np.empty((len(rows), c))
                for u in np.unique(n_home).tolist():
                    tt = net.travel_times_from(u, speed)
                    back[n_home == u] = tt[n_dst][None, :]
                off = np.where(d_dst > self.snap_m[domain], np.inf, 0.0)
                to_origin[rows] = pick + (d_pos[:, None] + d_org[None, :]) / speed
                to_dest[rows] = (leg + (d_org + d_dst) / speed + off)[None, :]
                to_home[rows] = back + (d_home[:, None] + d_dst[None, :]) / speed
        return to_origin, to_dest, to_home

    def trip_energy_matrix_wh(self, vehicles, travel_s: np.ndarray, stops: int = 1
                              ) -> np.ndarray:
        """Energy (rows: ``vehicles``) of trips of ``travel_s`` seconds with ``stops``
        hand-overs each, as :meth:`trip_energy_wh`."""
        vs = np.asarray(vehicles, dtype=np.int64)
        hover = np.where(self.air[vs], self.hover_wh_per_s[vs]
                         * (stops * self.service_s + 2 * (stops + 1) * self.climb_s[vs]), 0.0)
        return self.cruise_wh_per_s[vs][:, None] * travel_s + hover[:, None]


def waiting_and_free(cap: Capabilities, fleet) -> tuple[np.ndarray, np.ndarray]:
    """The waiting orders and the idle vehicles that can carry orders (payload > 0,
    not riding on a carrier); both empty when either is."""
    none = np.zeros(0, dtype=np.int64)
    orders = fleet.orders
    if orders is None:
        return none, none
    waiting = orders.waiting()
    if not len(waiting):
        return none, none
    idle = fleet.idle()
    idle = idle[(cap.payload[idle] > 0) & ~fleet.docked(idle)] if len(idle) else idle
    if not len(idle):
        return none, none
    return waiting, idle


def _reachable_from_home(cap: Capabilities, fleet, orders: np.ndarray,
                         energy_margin: float) -> None:
    """Fill ``cap.reachable`` for ``orders``: per order, the vehicles that could take
    it from their home on a full battery (payload, and the energy of the trip home ->
    depot -> destination -> home with ``energy_margin``). Ground and sea vehicles are
    always listed (their trips are estimated one by one, when they come up)."""
    n = len(cap.payload)
    vs = np.arange(n)
    air = np.flatnonzero(cap.air)
    home = fleet.home_xy
    full = np.asarray(fleet.battery_capacity_wh, dtype=np.float64) - \
        np.asarray(fleet.reserve_wh, dtype=np.float64)
    ov = fleet.orders
    block = max(1, min(256, 2_000_000 // max(n, 1)))
    for b0 in range(0, len(orders), block):
        ks = orders[b0:b0 + block]
        ok = cap.payload[None, :] >= ov.weight_kg[ks][:, None]
        if len(air):
            org, dst = ov.origin_xy[ks], ov.dest_xy[ks]
            need = _air_energy_wh(cap, air, home[air], home[air], org, dst)
            ok[:, air] &= need * energy_margin <= full[air][None, :]
        for row, k in enumerate(ks.tolist()):
            cap.reachable[k] = vs[ok[row]]


def _air_energy_wh(cap: Capabilities, vs: np.ndarray, pos: np.ndarray, home: np.ndarray,
                   org: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(orders, vehicles) energy of air vehicles ``vs`` at ``pos`` for the trip to each
    order's depot ``org``, its destination ``dst`` and back ``home``, with the same
    arithmetic as :meth:`Capabilities.trip_energy_wh` (so the same figures)."""
    sa = cap.speed[vs][None, :]
    t = cap.air_detour * np.hypot(org[:, None, 0] - pos[None, :, 0],
                                  org[:, None, 1] - pos[None, :, 1]) / sa
    t = t + cap.air_detour * np.hypot(dst[:, 0] - org[:, 0], dst[:, 1] - org[:, 1])[:, None] / sa
    t = t + cap.air_detour * np.hypot(home[None, :, 0] - dst[:, None, 0],
                                      home[None, :, 1] - dst[:, None, 1]) / sa
    hover = cap.hover_wh_per_s[vs] * (1 * cap.service_s + 2 * (1 + 1) * cap.climb_s[vs])
    return cap.cruise_wh_per_s[vs][None, :] * t + hover[None, :]


def dispatch_nearest(cap: Capabilities, fleet, orders, vehicles, energy_margin: float,
                     ) -> list[Plan]:
    """Single-order plans: each order (in the order given) goes to the nearest free one
    of ``vehicles`` (straight-line distance to its depot) whose payload is enough and
    whose battery above the reserve covers, with ``energy_margin``, the trip from where
    it is to the depot, the destination and home. The vehicle picks the order up,
    delivers it and goes home; orders no vehicle can take are left out.

    Cost: each order is first checked once against the whole fleet standing at home
    on a full battery (``cap.reachable``); a vehicle waiting at home that could not
    take it even then is never considered for it again, so orders no vehicle can
    take cost next to nothing while they wait. The remaining candidates of an order
    are checked together (numpy, the same arithmetic as
    :meth:`Capabilities.trip_energy_wh`, so the same choices as checking them one by
    one); ground and sea vehicles are checked one by one, nearest first."""
    ov = fleet.orders
    vehicles = np.asarray(vehicles, dtype=np.int64)
    orders = np.asarray(orders, dtype=np.int64)
    if not len(vehicles) or not len(orders):
        return []
    if len(cap.reachable) > 4 * len(orders) + 1024:  # forget orders no longer waiting
        keep = set(orders.tolist())
        cap.reachable = {k: r for k, r in cap.reachable.items() if k in keep}
    new = np.array([k for k in orders.tolist() if k not in cap.reachable], dtype=np.int64)
    if len(new):
        _reachable_from_home(cap, fleet, new, energy_margin)
    pos = fleet.positions(vehicles)[:, :2]
    usable = cap.usable_wh(fleet, vehicles)
    home = fleet.home_xy[vehicles]
    air = cap.air[vehicles]
    away = ~(pos == home).all(axis=1)  # not at home: any order may suit them
    slot = np.full(len(cap.payload), -1, dtype=np.int64)
    slot[vehicles] = np.arange(len(vehicles))
    free = np.ones(len(vehicles), dtype=bool)
    n_free = len(vehicles)
    plans = []
    for k in orders.tolist():
        if n_free == 0:
            break
        js = slot[cap.reachable[k]]
        js = js[js >= 0]
        if away.any():
            cand = away & free & (cap.payload[vehicles] >= ov.weight_kg[k])
            cand[js] |= free[js]
            js = np.flatnonzero(cand)
        else:
            js = js[free[js]]
        if not len(js):
            continue
        origin, dest = ov.origin_xy[k], ov.dest_xy[k]
        d = np.hypot(pos[js, 0] - origin[0], pos[js, 1] - origin[1])
        a = air[js]
        if a.any():
            ja = js[a]
            need = _air_energy_wh(cap, vehicles[ja], pos[ja], home[ja], ov.origin_xy[[k]],
                                  ov.dest_xy[[k]])[0]
            d[np.flatnonzero(a)[need * energy_margin > usable[ja]]] = np.inf
        while True:  # nearest first (lowest index on ties) until one has the energy
            i = int(np.argmin(d))
            if d[i] == np.inf:
                break
            j = int(js[i])
            v = int(vehicles[j])
            if not air[j]:
                need_j = cap.trip_energy_wh(fleet, v, [pos[j], origin, dest, home[j]])
                if not need_j * energy_margin <= usable[j]:
                    d[i] = np.inf
                    continue
            plans.append(Plan(v, [Pickup(k), Deliver(k), ReturnHome()]))
            free[j] = False
            n_free -= 1
            break
    return plans


class AirLegs:
    """Flights to depots and destinations for air vehicles' order plans.

    :meth:`expand` puts, before each ``Pickup`` at a depot and each ``Deliver``
    whose straight flight at cruise height would come near a zone or too close to
    the ground, a ``Route`` there: around the no-fly zones (and restricted zones the
    rules forbid) active at some time of the estimated flight, flown at the cruise
    height above the ground and raised where the ground rises between waypoints
    (:class:`fleetsim.planning.altitude.TerrainFollower`). A straight flight that
    is clear is left to the engine, as before. Each such route carries
    the class of the action it leads to (``pickup`` / ``deliver``), so the same
    oversight rules apply to the flight. Vehicles riding on a carrier, ground and
    sea vehicles, and destinations inside an avoided zone (the engine refuses those
    orders) are left to the engine.
    """

    def __init__(self, ctx) -> None:
        types = ctx.vehicle_types
        ti = np.asarray(ctx.vehicle_type_index)
        self.air = np.array([types[i].domain == "air" for i in ti], dtype=bool)
        self.speed = np.array([types[i].cruise_speed_mps for i in ti], dtype=np.float64)
        self.agl = np.array([types[i].cruise_altitude_agl_m for i in ti], dtype=np.float64)
        self.clearance = np.array([types[i].terrain_clearance_m for i in ti], dtype=np.float64)
        self.terrain = ctx.world.terrain
        self.follower = TerrainFollower(ctx.world.terrain)
        avoid = zones_to_avoid(ctx.world, ctx.scenario)
        self.zones = ZoneWindows(avoid, clearance_m=10.0) if avoid else None
        self.no_fly = shapely.union_all([z.polygon for z in ctx.world.zones
                                         if z.kind == "no_fly"]) \
            if any(z.kind == "no_fly" for z in ctx.world.zones) else None

    def expand(self, now_s: float, fleet, plans: list[Plan]) -> list[Plan]:
        """``plans`` with air legs put before their pickups and deliveries."""
        air = [i for i, p in enumerate(plans) if self.air[p.vehicle]]
        if not air:
            return plans
        vs = np.array([plans[i].vehicle for i in air], dtype=np.int64)
        docked = np.zeros(len(vs), dtype=bool)
        riders = np.flatnonzero(np.asarray(fleet.carrier)[vs] >= 0)
        if len(riders):
            docked[riders] = fleet.docked(vs[riders])
        pos = np.asarray(fleet.positions(vs), dtype=np.float64)
        ov = fleet.orders
        starts, routes, owner, before, cls = [], [], [], [], []
        legs: dict[tuple[int, int], list[Route]] = {}
        for row, i in enumerate(air):
            if docked[row]:
                continue
            v = int(vs[row])
            x, y, z = pos[row]
            h = self.follower.height(x, y)
            if z - h < 1.0:
                z = h + self.agl[v]
            t = now_s
            for j, a in enumerate(plans[i].actions):
                if isinstance(a, Pickup):
                    goal = ov.origin_xy[a.order]
                elif isinstance(a, Deliver):
                    goal = ov.dest_xy[a.order]
                    if self.no_fly is not None and shapely.intersects_xy(self.no_fly, *goal):
                        break
                else:
                    break
                gx, gy = float(goal[0]), float(goal[1])
                d = float(np.hypot(gx - x, gy - y))
                if d > 1e-6:
                    way = np.array([[gx, gy]])
                    if self.zones is not None:
                        way = self.zones.route((x, y), (gx, gy), t,
                                               t + 2.0 * d / self.speed[v] + _SLACK_S)
                    if len(way) == 1 and self.follower.leg_clear(
                            (x, y, z), (gx, gy, self.follower.height(gx, gy) + self.agl[v]),
                            self.clearance[v] + self.follower.margin_m, finest=0):
                        pass  # the engine's own straight flight there keeps the clearance
                    else:
                        starts.append((x, y, z))
                        routes.append(way)
                        owner.append(i)
                        before.append(j)
                        cls.append(a.action_class)
                    t += 1.3 * d / self.speed[v]
                # After it: landed to load (Pickup), or hovering to hand over (Deliver);
                # the next flight starts at the cruise height above the ground there.
                x, y = gx, gy
                z = self.follower.height(x, y) + self.agl[v]
        if routes:
            own = np.array([plans[i].vehicle for i in owner], dtype=np.int64)
            res = self.follower.follow(np.array(starts), routes, self.agl[own],
                                       self.clearance[own])
            for i, j, c, (w, heights) in zip(owner, before, cls, res, strict=True):
                legs[(i, j)] = [Route(p, alt_agl_m=alt, sensing=False, action_class=c)
                                for p, alt in route_pieces(w, heights)]
        out = list(plans)
        for i in sorted({i for i, _ in legs}):
            p = plans[i]
            actions = []
            for j, a in enumerate(p.actions):
                actions += legs.get((i, j), [])
                actions.append(a)
            out[i] = Plan(p.vehicle, actions, append=p.append)
        return out

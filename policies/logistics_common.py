"""Helpers shared by the logistics policies: what a vehicle can carry and how far.

Estimates are deliberately simple and a little pessimistic: straight lines for
air vehicles (times ``air_detour`` for no-fly zones), the network's own travel
times for ground and sea vehicles, cruise power for the whole trip, hover power
for take-off, landing and the hand-over. The engine still enforces the real
energy limit: a vehicle that reaches its reserve goes home and the orders it
carries fail with reason ``battery``.
"""

from __future__ import annotations

import numpy as np
import shapely

from fleetsim.policy import Deliver, Pickup, Plan, ReturnHome


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


def dispatch_nearest(cap: Capabilities, fleet, orders, vehicles, energy_margin: float,
                     ) -> list[Plan]:
    """Single-order plans: each order (in the order given) goes to the nearest free one
    of ``vehicles`` (straight-line distance to its depot) whose payload is enough and
    whose battery above the reserve covers, with ``energy_margin``, the trip from where
    it is to the depot, the destination and home. The vehicle picks the order up,
    delivers it and goes home; orders no vehicle can take are left out."""
    ov = fleet.orders
    vehicles = np.asarray(vehicles, dtype=np.int64)
    if not len(vehicles):
        return []
    pos = fleet.positions(vehicles)[:, :2]
    usable = cap.usable_wh(fleet, vehicles)
    free = np.ones(len(vehicles), dtype=bool)
    plans = []
    for k in np.asarray(orders, dtype=np.int64).tolist():
        if not free.any():
            break
        origin = ov.origin_xy[k]
        dest = ov.dest_xy[k]
        ok = free & (cap.payload[vehicles] >= ov.weight_kg[k])
        if not ok.any():
            continue
        d = np.where(ok, np.hypot(pos[:, 0] - origin[0], pos[:, 1] - origin[1]), np.inf)
        while True:  # nearest first (lowest index on ties) until one has the energy
            j = int(np.argmin(d))
            if d[j] == np.inf:
                break
            v = int(vehicles[j])
            need = cap.trip_energy_wh(fleet, v, [pos[j], origin, dest, fleet.home_xy[v]])
            if need * energy_margin <= usable[j]:
                plans.append(Plan(v, [Pickup(k), Deliver(k), ReturnHome()]))
                free[j] = False
                break
            d[j] = np.inf
    return plans

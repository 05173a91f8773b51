"""Truck and drone: vans carry drones to a launch point; the drones fly the last kilometre.

Each van that carries drones (a carrier, see ``carrier`` in the vehicle types) runs
a small state machine:

``home``
    Idle at its depot with all its drones docked: it takes a batch of the waiting
    orders from that depot: the oldest one it can carry, then the waiting orders
    whose destinations lie within ``cluster_radius_m`` of that one's, oldest first,
    up to its payload. It loads them and drives to the batch's launch point: the
    ``launch_point`` site nearest the destinations' centroid if one lies within
    ``cluster_radius_m`` of it, else the centroid itself (the van drives there on
    the roads, with a short connector off them at the end). A batch with nothing
    for the drones (see below) skips the launch point: the van delivers it itself.
``outbound``
    On its way. When it stops (its plan is done) it is at the launch point; the
    batch orders a drone of this van can carry (payload) and reach from there and
    back (the energy estimate of :class:`fleetsim.policies.logistics_common.Capabilities`
    times ``energy_margin``, against a full battery above the reserve; not in a
    no-fly zone, not where the van stands) are for the drones, the others for the
    van.
``launch``
    Stopped at the launch point. Every docked, idle drone takes the next drone order
    still on the van that it can fly with its battery now: it takes the order from
    the van, delivers it and flies back to the van, lands and recharges (then asks
    again, ``recharged``). Once every drone is back on the van and none was sent
    out (idle, or still recharging when no drone order is left on board), the van
    delivers what is still on board (nearest destination next) and goes home to
    recharge (``away``); then the cycle repeats.

Drones riding on a van are only given a plan while the van stands still, waiting
for its own plan: a docked drone launches from wherever its van is, so they
never launch from a moving van. A drone found idle off its van (its plan was
refused, say) delivers what it carries and flies back to the van; the van waits
for it. Vehicles neither carrying nor carried are served as
:class:`fleetsim.policies.nearest_dispatch.NearestDispatch` serves them
(:func:`fleetsim.policies.logistics_common.dispatch_nearest`), on the orders the vans did
not take in the same decision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from fleetsim.policies.logistics_common import AirLegs, Capabilities, dispatch_nearest
from fleetsim.policy import (
    DELIVERED,
    FAILED,
    Deliver,
    GoTo,
    Pickup,
    Plan,
    Policy,
    ReturnHome,
    param,
    positive,
)

_HOME, _OUTBOUND, _LAUNCH, _AWAY = "home", "outbound", "launch", "away"
#: How near (m) two places must be to count as the same (a van at its depot, a
#: destination where the van stands: the van hands that order over itself).
_SAME_PLACE_M = 1.0


@dataclass
class _Trip:
    """What one van is doing."""

    phase: str = _HOME
    batch: list[int] = field(default_factory=list)
    launch_xy: tuple[float, float] | None = None
    #: Batch orders for the drones (batch order), and those given to a drone so far.
    drone_orders: list[int] = field(default_factory=list)
    given: list[int] = field(default_factory=list)
    #: When it was last sent home from elsewhere (not twice at one instant).
    sent_home_s: float = -1.0


class TruckDrone(Policy):
    name = "truck_drone"
    action_classes = frozenset({"pickup", "deliver", "return", "transit"})
    mission = "logistics"

    @dataclass(frozen=True)
    class Params:
        cluster_radius_m: float = param(
            2000.0, positive, "orders whose destinations lie this near the oldest's go in one "
            "batch; a launch point this near the batch's centroid is used")
        energy_margin: float = param(1.1, positive, "safety factor on a trip's estimated energy")

    def reset(self, ctx) -> None:
        super().reset(ctx)
        self.cap = Capabilities(ctx)
        self.air_legs = AirLegs(ctx)
        lps = [s.xy for s in ctx.world.sites if s.kind == "launch_point"]
        self.launch_points = np.array(lps, dtype=np.float64).reshape(-1, 2)
        self.trucks: list[int] | None = None  # set at the first decision (needs the fleet)

    def _setup(self, fleet) -> None:
        carrier = np.asarray(fleet.carrier)
        self.trucks = sorted({int(c) for c in carrier.tolist() if c >= 0})
        self.drones = {c: np.flatnonzero(carrier == c).tolist() for c in self.trucks}
        self.trips = {c: _Trip() for c in self.trucks}
        plain = carrier < 0
        plain[self.trucks] = False
        self.plain_mask = plain
        self.full_wh = np.asarray(fleet.battery_capacity_wh) - np.asarray(fleet.reserve_wh)

    # ------------------------------------------------------------------ decisions

    def decide(self, now_s, fleet, requests):
        if self.trucks is None:
            self._setup(fleet)
        for r in requests:
            if r.reason == "reserve" and r.vehicle in self.trips:
                # The engine takes it home; what it carried failed. Start afresh there.
                self.trips[r.vehicle] = _Trip(phase=_AWAY)
        if fleet.orders is None:
            return []
        idle = fleet.idle()
        idle_set = set(idle.tolist())
        plans: list[Plan] = []
        claimed: set[int] = set()
        for c in self.trucks:
            if c in idle_set:  # only a van standing still gets (or lets its drones get) work
                plans += self._truck(now_s, fleet, c, idle_set, claimed)
        plans += self._plain(fleet, idle, claimed)
        return self.air_legs.expand(now_s, fleet, plans)

    def _plain(self, fleet, idle: np.ndarray, claimed: set[int]) -> list[Plan]:
        """Vehicles neither carrying nor carried: as ``nearest_dispatch`` serves them
        (the same choice of vehicles and order of orders), on the orders left."""
        idle = idle[self.plain_mask[idle] & (self.cap.payload[idle] > 0)] if len(idle) else idle
        orders = fleet.orders
        waiting = orders.waiting()
        if claimed:
            waiting = waiting[~np.isin(waiting, sorted(claimed))]
        if not len(idle) or not len(waiting):
            return []
        waiting = waiting[np.lexsort((waiting, orders.priority[waiting]))]
        return dispatch_nearest(self.cap, fleet, waiting, idle, self.params.energy_margin)

    def _truck(self, now_s, fleet, c: int, idle: set[int], claimed: set[int]) -> list[Plan]:
        trip = self.trips[c]
        drones = self.drones[c]
        live = [d for d, s in zip(drones, fleet.states(drones).tolist(), strict=True)
                if s != "down"] if drones else []
        docked = dict(zip(live, fleet.docked(live).tolist(), strict=True)) if live else {}
        # Drones idle off the van: deliver what they carry and come back.
        plans = [Plan(d, [Deliver(k) for k in fleet.orders.carried_by(d)] + [ReturnHome()])
                 for d in live if d in idle and not docked[d]]
        pos = fleet.positions([c])[0, :2]
        if trip.phase == _OUTBOUND:  # its plan is done: it stands at the launch point
            self._arrive(fleet, c, trip, pos, live)
        if trip.phase == _LAUNCH:
            sent, left = self._launch(fleet, c, trip, live, idle, docked)
            plans += sent
            # All back on the van: waiting for work (or recharging on it, if no drone
            # order is left for them to recharge for; a drone taking its order off
            # the van is neither). The van may go.
            states = fleet.states(live).tolist() if live else []
            back = all(docked.values()) and all(
                d in idle or (not left and s == "charging")
                for d, s in zip(live, states, strict=True))
            if not plans and back:
                plans.append(self._leave(fleet, c, pos))
            return plans
        if plans or not all(docked.values()):
            return plans  # wait for its drones
        home = fleet.home_xy[c]
        if math.hypot(pos[0] - home[0], pos[1] - home[1]) > _SAME_PLACE_M:
            if trip.sent_home_s == now_s:
                return []
            self.trips[c] = _Trip(phase=_AWAY, sent_home_s=now_s)
            return [Plan(c, [ReturnHome()])]
        trip.phase = _HOME
        return self._load(fleet, c, pos, live, claimed)

    def _load(self, fleet, c: int, pos, live: list[int], claimed: set[int]) -> list[Plan]:
        """A batch for van ``c`` at its depot: load it and drive to its launch point."""
        orders = fleet.orders
        payload = float(self.cap.payload[c])
        if payload <= 0:
            return []
        home = fleet.home_xy[c]
        waiting = [k for k in orders.waiting().tolist() if k not in claimed]
        if not waiting:
            return []
        origin = orders.origin_xy[waiting]
        here = np.hypot(origin[:, 0] - home[0], origin[:, 1] - home[1]) <= _SAME_PLACE_M
        waiting = [k for k, ok in zip(waiting, here.tolist(), strict=True) if ok]
        weight = orders.weight_kg
        dest = orders.dest_xy
        radius = self.params.cluster_radius_m
        usable = float(self.cap.usable_wh(fleet, [c])[0])
        for seed in waiting:
            if weight[seed] > payload:
                continue
            near = np.hypot(*(dest[waiting] - dest[seed]).T) <= radius
            batch, load = [seed], float(weight[seed])
            for k, ok in zip(waiting, near.tolist(), strict=True):
                if ok and k != seed and load + weight[k] <= payload:
                    batch.append(k)
                    load += float(weight[k])
            lp = self._launch_point(dest[batch].mean(axis=0))
            need = self.cap.trip_energy_wh(fleet, c, [pos, lp, home])
            if need * self.params.energy_margin > usable:
                continue
            claimed.update(batch)
            lp = (float(lp[0]), float(lp[1]))
            loads = [Pickup(k) for k in batch]
            if not any(self._for_drones(fleet, k, lp, live) for k in batch):
                # Nothing for the drones: no need to stop at the launch point.
                self.trips[c] = _Trip(phase=_AWAY)
                return [Plan(c, loads + [Deliver(k) for k in self._tour(fleet, batch, pos)]
                             + [ReturnHome()])]
            self.trips[c] = _Trip(phase=_OUTBOUND, batch=batch, launch_xy=lp)
            return [Plan(c, loads + [GoTo(*lp)])]
        return []

    def _launch_point(self, centroid: np.ndarray) -> np.ndarray:
        if len(self.launch_points):
            d = np.hypot(*(self.launch_points - centroid).T)
            j = int(np.argmin(d))
            if d[j] <= self.params.cluster_radius_m:
                return self.launch_points[j]
        return centroid

    def _arrive(self, fleet, c: int, trip: _Trip, pos, live: list[int]) -> None:
        """Van ``c`` stopped at its launch point: which orders on board the drones take."""
        trip.phase = _LAUNCH
        trip.launch_xy = (float(pos[0]), float(pos[1]))
        on_board = set(fleet.orders.carried_by(c))
        trip.drone_orders = [k for k in trip.batch
                             if k in on_board and self._for_drones(fleet, k, trip.launch_xy, live)]
        trip.given = []

    def _for_drones(self, fleet, k: int, launch_xy, drones: list[int]) -> bool:
        """Is order ``k`` for ``drones`` (a van's): one of them can fly it from the van at
        ``launch_xy`` on a full battery, and it is not where the van stands?"""
        dest = fleet.orders.dest_xy[k]
        if math.hypot(dest[0] - launch_xy[0], dest[1] - launch_xy[1]) <= _SAME_PLACE_M:
            return False
        return any(self._can_fly(fleet, d, k, launch_xy, self.full_wh[d]) for d in drones)

    def _launch(self, fleet, c: int, trip: _Trip, live: list[int], idle: set[int],
                docked: dict[int, bool]) -> tuple[list[Plan], list[int]]:
        """Send each docked, idle drone of van ``c`` (standing still) with one order;
        returns the plans and the drone orders still on the van, given to none."""
        on_board = set(fleet.orders.carried_by(c))
        queue = [k for k in trip.drone_orders if k in on_board and k not in trip.given]
        plans = []
        for d in live:
            if d not in idle or not docked[d]:
                continue
            carried = fleet.orders.carried_by(d)
            if carried:  # not expected: it came back with an order; take it out again
                plans.append(Plan(d, [Deliver(k) for k in carried] + [ReturnHome()]))
                continue
            usable = float(self.cap.usable_wh(fleet, [d])[0])
            for k in queue:
                if self._can_fly(fleet, d, k, trip.launch_xy, usable):
                    plans.append(Plan(d, [Pickup(k), Deliver(k), ReturnHome()]))
                    queue.remove(k)
                    trip.given.append(k)
                    break
        return plans, queue

    def _can_fly(self, fleet, d: int, k: int, launch_xy, usable_wh: float) -> bool:
        """Can drone ``d`` take order ``k`` from the van at ``launch_xy`` and come back?"""
        orders = fleet.orders
        if self.cap.payload[d] < orders.weight_kg[k]:
            return False
        dest = orders.dest_xy[k]
        if self.cap.no_fly_at(dest)[0]:
            return False
        need = self.cap.trip_energy_wh(fleet, d, [launch_xy, dest, launch_xy])
        return need * self.params.energy_margin <= usable_wh

    def _leave(self, fleet, c: int, pos) -> Plan:
        """The drones are back: the van delivers what is left on board and goes home."""
        orders = fleet.orders
        left = [k for k in orders.carried_by(c)
                if orders.status[k] not in (DELIVERED, FAILED)]
        self.trips[c] = _Trip(phase=_AWAY)
        return Plan(c, [Deliver(k) for k in self._tour(fleet, left, pos)] + [ReturnHome()])

    @staticmethod
    def _tour(fleet, orders_: list[int], pos) -> list[int]:
        """``orders_`` in delivery order from ``pos``: the nearest destination next
        (straight line; ties: the given order)."""
        dest = fleet.orders.dest_xy
        left = list(orders_)
        route = []
        x, y = float(pos[0]), float(pos[1])
        while left:
            d = [math.hypot(dest[k][0] - x, dest[k][1] - y) for k in left]
            k = left.pop(int(np.argmin(d)))
            route.append(k)
            x, y = float(dest[k][0]), float(dest[k][1])
        return route

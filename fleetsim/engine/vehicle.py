"""The vehicle process: a vehicle's mission loop and the execution of its actions.

:class:`VehicleProcess` is the part of :class:`~fleetsim.engine.sim.Simulation`
that runs each vehicle as one simpy process: it takes the next queued action,
lets the subsystems gate it (``before_action``: authorization, strategic
separation), carries it out through the vehicle's domain, asks the decision
driver for work when the queue runs dry, and handles what interrupts it (a new
plan, a stop, a lost link, the energy reserve, an empty battery).
"""

from __future__ import annotations

from simpy.exceptions import Interrupt

from fleetsim.engine.domains import RECHARGED
from fleetsim.engine.movement import Depleted, ReserveReached
from fleetsim.engine.states import (
    CHARGING,
    DOWN,
    GROUND,
    HOLDING,
    LANDING,
    MOVING,
    QUEUED,
    RETURNING,
)
from fleetsim.engine.tables import K_CHARGE, K_GROUND, K_LAND, K_MOVE, K_WAIT, L_B

_INF = float("inf")
#: A vehicle asks its policy at most this often at one simulated instant.
_MAX_ASKS_AT_ONE_TIME = 3


class VehicleProcess:
    """Vehicles' processes and action execution (a part of the engine)."""

    def _vehicle(self, v: int):
        reason = "start"
        while True:
            try:
                q = self.queue[v]
                if q and q[0][0] == "stop":
                    yield from self._safe_state(v, q.popleft()[1])
                    return
                if q:
                    item = self.cur_item[v] = q.popleft()
                    try:
                        why = yield from self._execute(v, item)
                    finally:
                        self.cur_item[v] = None
                    reason = why or ("recharged" if self.state[v] == GROUND else "idle")
                    continue
                now = self.env.now
                self.asks_now[v] = self.asks_now[v] + 1 if self.last_ask[v] == now else 1
                if self.asks_now[v] > _MAX_ASKS_AT_ONE_TIME and reason != "start":
                    # Its plans keep ending at once (a GoTo to where it is, a refused
                    # action retried): asking again now would loop forever, so it stays
                    # put until the policy gives it something (a periodic request, say).
                    pass
                else:
                    self.last_ask[v] = now
                    self.asking[v] = True
                    try:
                        yield self.request(v, reason)
                    finally:
                        self.asking[v] = False
                    if self.queue[v]:
                        continue
                self.waiting[v] = True
                try:
                    if self.docked[v]:
                        yield self.never  # riding on its carrier until given a plan
                    elif self.state[v] == GROUND:
                        yield from self._ground(v)
                    else:
                        self.state[v] = HOLDING
                        yield from self.hover(v, None)
                finally:
                    self.waiting[v] = False
            except Interrupt as stop:
                cause = stop.cause
                if isinstance(cause, tuple) and cause[0] == "stop":
                    yield from self._safe_state(v, cause[1])
                    return
                if isinstance(cause, tuple) and cause[0] == "lost_link":
                    try:
                        yield from self._go_home(v, forced=True)
                    except Depleted:
                        self._down(v)
                        return
                    if self.oversight.stopped[v]:
                        yield from self._safe_state(v, "return")
                        return
                    reason = "recharged"
                    continue
                reason = "recharged" if self.state[v] == GROUND else "idle"
                continue
            except ReserveReached:
                self.log.add(self.env.now, "reserve_reached", v, self.cur_leg[v],
                             value=self.battery[v])
                self.clear_queue(v)
                if self.logistics is not None:
                    self.logistics.fail_carried(v, "battery")
                self.request(v, "reserve")
                try:
                    yield from self._go_home(v, forced=True)
                except Depleted:
                    self._down(v)
                    return
                if self.oversight is not None and self.oversight.stopped[v]:
                    yield from self._safe_state(v, "return")
                    return
                reason = "recharged"
            except Depleted:
                self._down(v)
                return

    def _execute(self, v: int, item: tuple):
        """Carry out one queued action; returns a reason to ask the policy with, or None."""
        for gate in self.hooks["before_action"]:  # authorization, airspace
            item = yield from gate.before_action(v, item)
            if type(item) is str:
                return item
        op = item[0]
        if op == "route":
            _, xs, ys, zs, sensing, _length, _cls = item
            if self.state[v] == GROUND:
                yield from self.domains[v].depart(v)
            self.state[v] = MOVING
            yield from self.fly_route(v, xs, ys, zs, sensing)
        elif op == "hold":
            if self.state[v] == GROUND:
                yield from self.domains[v].depart(v)
            self.state[v] = HOLDING
            yield from self.hover(v, item[1])
        elif op == "return":
            if self.state[v] != GROUND:
                yield from self._go_home(v, forced=False)
        elif op == "travel":
            for x, y in item[1]:
                why = yield from self.domains[v].travel(v, x, y, item[2])
                if why:
                    self.log.add(self.env.now, "action_refused", v, x=x, y=y, detail=why)
                    break
        elif op == "dodge":  # give way: step vertically, hold, then the route goes on
            _, dz, hold, _cls = item
            self.state[v] = HOLDING
            if dz:
                yield from self.fly(v, K_MOVE, True, self.px[v], self.py[v], self.pz[v] + dz,
                                     self.p_hover[v], self.speed[v])
            yield from self.hover(v, hold)
        elif op == "pickup":
            yield from self.logistics.pickup(v, item[1])
        elif op == "deliver":
            yield from self.logistics.deliver(v, item[1])
        return None

    def _go_home(self, v: int, *, forced: bool):
        """Go home and recharge (refuel, swap): the vehicle's domain takes it home (fly
        home and land, drive or sail home on the network, fly back to the carrier),
        then it queues for a pad or swap station and recharges."""
        self.state[v] = RETURNING
        self.engine_control[v] = forced
        why = yield from self.domains[v].go_home(v)
        if why == RECHARGED:  # on its carrier
            self._standing(v)
            return
        if why:  # no way home (a road closed behind it): it parks where it is
            self.log.add(self.env.now, "action_refused", v, detail="return")
            self._standing(v)
            return
        self.engine_control[v] = True
        b = self.base_index[v]
        hx, hy = self.world.sites[b].xy
        hz = self.home_z[v]
        self.landed_at[v] = self.env.now
        self.state[v] = QUEUED
        swap = self.logistics.swaps.get(b) if self.logistics is not None else None
        station = swap[0] if swap is not None else self.pads[b]
        req = station.request()
        if not req.triggered:
            self.log.add(self.env.now, "pad_queue", v, value=len(station.queue))
            self.open_leg(v, K_WAIT, False, _INF, hx, hy, hz, 0.0)
            yield req
            self.cut_leg(v, self.env.now)
        # (A request granted at once needs no yield: the pad is this vehicle's already.)
        self.state[v] = CHARGING
        cap = self.capacity[v]
        if swap is not None:
            dur, how = swap[1], "swap"
        else:
            dur = self.recharge_s[v] * max(0.0, cap - self.battery[v]) / cap
            how = "refuel" if self.fuel[v] else "charge"
        self.log.add(self.env.now, "charge_start", v, value=self.battery[v], detail=how)
        li = self.open_leg(v, K_CHARGE, False, dur, self.px[v], self.py[v], self.pz[v], 0.0)
        self.legs.a[li, L_B] = cap
        if dur > 0:
            yield self.env.timeout(dur)
        self.close_leg(v)
        self.battery[v] = cap
        self.log.add(self.env.now, "charge_end", v, value=cap, detail=how)
        station.release(req)
        self._standing(v)

    def _standing(self, v: int) -> None:
        """The vehicle stands (parked, recharged or not) and is its policy's again."""
        self.state[v] = GROUND
        self.engine_control[v] = False
        self.end_xy[v] = (self.px[v], self.py[v])
        self.end_t[v] = self.env.now
        self.end_ground[v] = True

    def stop_vehicle(self, v: int, safe_state: str) -> None:
        """An operator's stop reached vehicle ``v``: take it to its safe state."""
        proc = self.procs[v]
        if self.state[v] in (LANDING, QUEUED, CHARGING) or self.engine_control[v]:
            return  # already on its way down: it stays down (see _vehicle)
        if not proc.is_alive:
            return
        self.clear_queue(v)
        if self.asking[v]:
            self.queue[v].append(("stop", safe_state))
            return
        self.cut_leg(v, self.env.now)
        proc.interrupt(("stop", safe_state))

    def _safe_state(self, v: int, safe_state: str):
        """Fly home and land (``return``) or land where it is (``land``), then park."""
        if self.state[v] != GROUND:
            try:
                if safe_state == "land":
                    self.state[v] = LANDING
                    ground = float(self.world.terrain.height_at(self.px[v], self.py[v]))
                    self.engine_control[v] = True
                    yield from self.fly(v, K_LAND, False, self.px[v], self.py[v], ground,
                                         self.p_hover[v], self.speed[v])
                    self.log.add(self.env.now, "landed", v, x=self.px[v], y=self.py[v],
                                 z=self.pz[v])
                    self.airborne -= 1
                    self.landed_at[v] = self.env.now
                    self.state[v] = GROUND
                else:
                    yield from self._go_home(v, forced=True)
            except Depleted:
                self._down(v)
                return
        else:
            self.landed_at[v] = self.env.now
        self.oversight.reached_safe_state(v, self.landed_at[v])
        self.state[v] = GROUND
        self.open_leg(v, K_GROUND, False, _INF, self.px[v], self.py[v], self.pz[v], 0.0)

    def _down(self, v: int) -> None:
        if self.is_air[v]:
            self.airborne -= 1
        self.log.add(self.env.now, "battery_depleted", v, self.cur_leg[v],
                     x=self.px[v], y=self.py[v], z=self.pz[v])
        self.state[v] = DOWN
        self.clear_queue(v)
        if self.logistics is not None:
            self.logistics.fail_carried(v, "battery")
        self.open_leg(v, K_GROUND, False, _INF, self.px[v], self.py[v], self.pz[v], 0.0)

    def send_home(self, v: int) -> None:
        """Send vehicle ``v`` home under engine control now (its link is lost and its
        rules do not let it fly on): its queue is dropped; a vehicle waiting for a
        decision goes home once it has one."""
        self.clear_queue(v)
        if not self.asking[v]:
            self.cut_leg(v, self.env.now)
            self.procs[v].interrupt(("lost_link",))
        else:
            self.queue[v].append(("return", "return"))

    def clear_queue(self, v: int) -> None:
        """Drop the vehicle's queued actions; orders it was to pick up go back to waiting."""
        if self.logistics is not None:
            self.logistics.release(v, self._pickups_planned(v))
        self.queue[v].clear()

    def _pickups_planned(self, v: int) -> list[int]:
        """Orders vehicle ``v`` is to pick up: in its queue, and the one it is on now."""
        mine = [it[1] for it in self.queue[v] if it[0] == "pickup"]
        cur = self.cur_item[v]
        if cur is not None and cur[0] == "pickup":
            mine.append(cur[1])
        return mine

    def view_position(self, v: int) -> tuple[float, float, float]:
        self.view.now_s = self.env.now
        return tuple(self.view.positions([v])[0].tolist())

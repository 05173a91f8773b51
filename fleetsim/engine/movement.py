"""Legs and the moves built from them: the engine's motion primitives.

:class:`Movement` is the part of :class:`~fleetsim.engine.sim.Simulation` that
writes the leg table: it opens, closes and cuts legs (one writer; a cut shortens
the leg in place and cancels the legs of its route block not yet started), finds
where a vehicle is at a time, and flies straight legs, route blocks (one simpy
timeout per block) and hovers, ending each where the battery reaches the reserve
point (:meth:`fleetsim.engine.motion.MotionModel.reserve_time`). Domains and
subsystems use these methods; none writes leg rows itself.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Any

import numpy as np
from simpy.events import NORMAL, Event, Timeout

from fleetsim.engine.blocks import BY_CALLER, CLEAR, TO_EMPTY, TO_RESERVE, block_rows
from fleetsim.engine.motion import route_far
from fleetsim.engine.states import GROUND, HOLDING
from fleetsim.engine.tables import (
    EVENT_KIND_CODE,
    EVENT_WIDTH,
    K_GROUND,
    K_HOLD,
    K_MOVE,
    L_E,
    L_T1,
    LEG_WIDTH,
)

_INF = float("inf")
_NAN = float("nan")
_ARRIVE = EVENT_KIND_CODE["arrive"]
_NO_LIMITS = (0.0,) * 13  # (block_rows takes them in every mode)


def _as_rows(block: list, arrivals: list) -> tuple[np.ndarray, np.ndarray]:
    """Leg rows and ``arrive`` events laid flat in lists as (k, width) arrays."""
    return (np.fromiter(block, np.float64, len(block)).reshape(-1, LEG_WIDTH),
            np.fromiter(arrivals, np.float64, len(arrivals)).reshape(-1, EVENT_WIDTH))


class ReserveReached(Exception):
    """Raised in a vehicle's process when its battery is down to what it needs to get
    home (it then goes home under engine control)."""


class Depleted(Exception):
    """Raised in a vehicle's process when its battery is empty (it is down)."""


#: A route block's legs already flown are forgotten when it has more than this many
#: (a few: 100,000 vehicles holding 64 each held 0.3 GB).
_FLOWN_KEPT = 16


class BlockEnd(Timeout):
    """The timeout a vehicle flying a route block waits on, due at the block's end.

    Routes handed over while it flies may continue the block (see
    ``PlanIntake._continue``). When it falls due and the block now ends later, it
    moves itself to the new end instead of waking the vehicle: the vehicle's process
    is resumed once, at the block's real end. It is scheduled again at the moment the
    vehicle woken at the old end would have made its next timeout (the same time and
    place among simultaneous events), so runs are the same as with a wake-up at each
    old end.
    """

    def __init__(self, eng: Movement, v: int, delay: float) -> None:
        super().__init__(eng.env, delay)
        self.eng = eng
        self.v = v
        # Called before the process's resume, which the process adds when it yields this.
        self.callbacks.append(self.check)
        self.pending = self.callbacks

    def check(self, event: Event) -> None:
        """Due: if the block was continued meanwhile, wait on to its new end."""
        waiters = self.pending
        if len(waiters) < 2:
            self.pending = None  # (the list holds this method: no cycle left)
            return  # the vehicle was interrupted: nobody waits on it any more
        eng, v = self.eng, self.v
        ids = eng.blk_ids[v]
        now = eng.env.now
        end = eng.legs.a.item(ids[-1], L_T1)
        if not end > now + 1e-9:
            self.pending = None
            return  # the block ends now: the vehicle goes on
        # Forget the legs already flown once there are many (the block's legs are
        # found by time, so those kept change nothing but the memory they hold: all
        # of them would be tens of MB for 10,000 vehicles).
        if len(ids) > _FLOWN_KEPT:
            k = bisect_left(eng.blk_t0[v], now) - 1
            if k > 0:
                del eng.blk_t0[v][:k], ids[:k]
        # The list being called stops after this callback; the waiters wait on.
        self.callbacks = self.pending = waiters[:]
        del waiters[1:]
        eng.env.schedule(self, NORMAL, end - now)


class Movement:
    """Leg writing and motion primitives (a part of the engine; state lives on it)."""

    def open_leg(self, v: int, kind: int, sensing: bool, dur: float,
                  x1: float, y1: float, z1: float, power: float) -> int:
        """Start a leg of vehicle ``v`` from where it is; returns the leg id."""
        t0 = self.env.now
        x0, y0, z0 = self.px[v], self.py[v], self.pz[v]
        e = power * dur if dur != _INF else 0.0
        li = self.legs.append((v, kind, sensing, t0, t0 + dur, x0, y0, z0, x1, y1, z1, e,
                               self.battery[v] - e))
        if self.is_carrier[v]:
            self.leg_hist[v].append(li)
        self.cur_leg[v] = li
        self.blk_t0[v] = [t0]
        self.blk_ids[v] = [li]
        self.blk_open[v] = False
        return li

    def close_leg(self, v: int) -> None:
        """The vehicle's current leg (or route block) ended as planned: move it to the end."""
        _, _, _, _, _, _, _, _, x, y, z, _, b = self.legs.a[self.blk_ids[v][-1]].tolist()
        self.px[v], self.py[v], self.pz[v] = x, y, z
        self.battery[v] = b

    def cut_leg(self, v: int, t: float) -> None:
        """End what vehicle ``v`` is flying at time ``t``, where it is then.

        The leg holding ``t`` is shortened to end at ``t``; legs of the same route
        block that have not started are cancelled (their events are dropped)."""
        ids = self.blk_ids[v]
        if not ids or self.docked[v]:
            return  # a docked vehicle's legs are its carrier's (see _mirror)
        a = self.legs.a
        # The last leg that started before t (a leg starting exactly at t is cancelled).
        k = max(0, bisect_left(self.blk_t0[v], t) - 1)
        later = ids[k + 1:]
        if later:
            if later[-1] - later[0] == len(later) - 1:  # increasing ids: one run of rows
                later = slice(later[0], later[-1] + 1)
            a[later, L_T1] = -_INF  # cancelled: never flown
            a[later, L_E] = 0.0
        del self.blk_t0[v][k + 1:], ids[k + 1:]
        i = ids[k]
        self.cur_leg[v] = i
        self.blk_open[v] = False
        _, _, _, t0, t1, x0, y0, z0, x1, y1, z1, e, b = a[i].tolist()
        if t < t1:
            b0 = b + e
            if t1 == _INF or t1 <= t0:
                f, power = 0.0, 0.0
            else:
                f, power = (t - t0) / (t1 - t0), e / (t1 - t0)
            x1, y1, z1 = x0 + f * (x1 - x0), y0 + f * (y1 - y0), z0 + f * (z1 - z0)
            e = power * (t - t0)
            b = b0 - e
            a[i, L_T1:] = (t, x0, y0, z0, x1, y1, z1, e, b)
        self.px[v], self.py[v], self.pz[v] = x1, y1, z1
        self.battery[v] = b
        for sub in self.hooks["on_leg_cut"]:
            sub.on_leg_cut(v, i)

    def position_at(self, v: int, t: float) -> tuple[float, float, float]:
        """Where vehicle ``v`` is at time ``t`` (not before its current block)."""
        t0s = self.blk_t0[v]
        if not t0s:
            return self.px[v], self.py[v], self.pz[v]
        row = self.legs.a[self.blk_ids[v][max(0, bisect_right(t0s, t) - 1)]].tolist()
        t0, t1 = row[3], row[4]
        f = 0.0 if t1 == _INF or t1 <= t0 else min(1.0, max(0.0, (t - t0) / (t1 - t0)))
        return (row[5] + f * (row[8] - row[5]), row[6] + f * (row[9] - row[6]),
                row[7] + f * (row[10] - row[7]))

    def current_leg_index(self, v: int) -> int:
        """Position (0-based) in its current block of the leg vehicle ``v`` is on now."""
        return max(0, bisect_right(self.blk_t0[v], self.env.now) - 1)

    def reserve_time(self, v: int, power: float, ux: float, uy: float, horizon: float,
                     z_end: float, b0: float | None = None, x0: float | None = None,
                     y0: float | None = None, z0: float | None = None) -> float:
        """Time into a leg at which the battery falls to what the vehicle needs to get
        home (see :meth:`MotionModel.reserve_time`), from where it is by default. Under
        engine control (already going home) the limit is an empty battery."""
        if b0 is None:
            b0, x0, y0, z0 = self.battery[v], self.px[v], self.py[v], self.pz[v]
        if self.engine_control[v]:
            return b0 / power if power > 0 else _INF
        hx, hy = self.home_xy[v]
        # Home may lie along a network or around no-fly zones: the domain says how
        # much longer than the straight line the way is.
        return self.motion.reserve_time(v, power, ux, uy, horizon, z_end, b0, x0, y0, z0,
                                        hx, hy, self.domains[v].reserve_detour())

    def fly(self, v: int, kind: int, sensing: bool, x1: float, y1: float, z1: float,
             power: float, speed: float):
        """Fly a straight leg to (x1, y1, z1); ends early where the battery is down to
        what it takes to get home (or, when already going home, at empty)."""
        dx, dy, dz = x1 - self.px[v], y1 - self.py[v], z1 - self.pz[v]
        dur = self.motion.leg_time(v, dx, dy, dz, speed)
        while dur == _INF:  # the wind does not let it hold this track
            yield from self.refused(v, x1, y1, z1)
            dx, dy, dz = x1 - self.px[v], y1 - self.py[v], z1 - self.pz[v]
            dur = self.motion.leg_time(v, dx, dy, dz, speed)
        if dur <= 0.0:
            return
        t_stop = self.reserve_time(v, power, dx / dur, dy / dur, dur, z1)
        if t_stop < dur:
            f = t_stop / dur
            self.open_leg(v, kind, sensing, t_stop, self.px[v] + f * dx, self.py[v] + f * dy,
                           self.pz[v] + f * dz, power)
            if t_stop > 0.0:
                yield self.env.timeout(t_stop)
            self.close_leg(v)
            raise Depleted() if self.engine_control[v] else ReserveReached()
        self.open_leg(v, kind, sensing, dur, x1, y1, z1, power)
        yield self.env.timeout(dur)
        self.close_leg(v)

    def fly_route(self, v: int, xs: Sequence[float], ys: Sequence[float], zs: Sequence[float],
                   sensing: bool,
                   speeds: list | None = None, kind: int = K_MOVE):
        """Fly through waypoints as one block: all legs recorded at once, one timeout.

        Each leg is still exact (its own row, an ``arrive`` event at its end, the
        energy limit solved on it); a cut cancels the legs not yet started. The
        waypoints' coordinates are float64 arrays or lists.
        """
        now = self.env.now
        power = self.p_cruise[v]
        x0, y0, z0, b = self.px[v], self.py[v], self.pz[v], self.battery[v]
        hx, hy = self.home_xy[v]
        motion = self.motion
        # The legs' ids are known beforehand: they follow the table's last row.
        li0 = len(self.legs)
        to_empty = self.engine_control[v]
        if not motion.corrected_vectorised:  # a model of its own: its route, in Python
            if isinstance(xs, np.ndarray):
                xs, ys, zs = xs.tolist(), ys.tolist(), zs.tolist()
            durs, climbs, total, far, top = motion.route(v, x0, y0, z0, xs, ys, zs, speeds,
                                                         hx, hy)
            if total == _INF:  # a leg the wind does not let it fly: up to it, then refused
                k = list(durs).index(_INF)
                if k:
                    yield from self.fly_route(v, xs[:k], ys[:k], zs[:k], sensing,
                                              None if speeds is None else speeds[:k], kind)
                yield from self.refused(v, xs[k], ys[k], zs[k])
                yield from self.fly_route(v, xs[k:], ys[k:], zs[k:], sensing,
                                          None if speeds is None else speeds[k:], kind)
                return
            # Quick test for the whole route: if it passes, no leg reaches the limit and
            # none needs solving.
            safe = not to_empty and motion.route_clear(v, b, power, total, top, far)
            block, arrivals, starts = [], [], []
            t, stop = self._checked_legs(v, kind, sensing, 0, xs, ys, zs, durs, climbs, safe,
                                         power, now, x0, y0, z0, b, li0, block, arrivals,
                                         starts)
            yield from self._flown(v, now, li0, *_as_rows(block, arrivals), starts, t, stop)
            return
        # The still-air model: the legs, their rows and the tests of the energy limit
        # in compiled loops (fleetsim.engine.blocks), legs whose limit the loop leaves
        # open (near the reserve) in Python.
        xa, ya, za = (np.asarray(c, dtype=np.float64) for c in (xs, ys, zs))
        durs, climbs, total, top, far_lo, far_hi = motion.route_bounded(
            v, x0, y0, z0, xa, ya, za, speeds, hx, hy)
        limits = detour = None
        if to_empty:
            mode = TO_EMPTY
        elif motion.route_clear(v, b, power, total, top, far_hi) or (
                motion.route_clear(v, b, power, total, top, far_lo)
                and motion.route_clear(v, b, power, total, top,
                                       route_far(x0, y0, xa, ya, hx, hy))):
            mode = CLEAR  # (the exact distance only where the bounds do not tell)
        else:
            detour = self.domains[v].reserve_detour()
            limits = motion.reserve_limits(
                v, hx, hy, detour, None if detour is None else self.domains[v].detour_box(v))
            mode = BY_CALLER if limits is None else TO_RESERVE
        rows, events, starts, t, i, b, x0, y0, z0, stop = block_rows(
            v, kind, sensing, now, x0, y0, z0, b, xa, ya, za, durs, climbs,
            self.corrected[v], power, li0, _ARRIVE, mode, limits or _NO_LIMITS)
        starts = starts.tolist()
        if i < len(durs):  # the rest with Python's distances
            more, arrivals = [], []
            t, stop = self._checked_legs(
                v, kind, sensing, i, xa.tolist(), ya.tolist(), za.tolist(), durs.tolist(),
                climbs.tolist(), False, power, t, x0, y0, z0, b, li0 + len(rows), more,
                arrivals, starts, detour)
            more_rows, more_events = _as_rows(more, arrivals)
            rows = np.concatenate((rows, more_rows))
            events = np.concatenate((events, more_events))
        yield from self._flown(v, now, li0, rows, events, starts, t, stop)

    def _checked_legs(self, v: int, kind: int, sensing: bool, i0: int, xs: list, ys: list,
                      zs: list, durs: list, climbs: list, safe: bool, power: float,
                      t: float, x0: float, y0: float, z0: float, b: float, li: int,
                      block: list, arrivals: list, starts: list, detour: Any = None
                      ) -> tuple[float, bool]:
        """The legs of a route block from waypoint ``i0``, flown from time ``t`` at
        (x0, y0, z0) with battery ``b``, in Python: each leg's energy limit from the
        motion model (none if ``safe``; ``detour``: the domain's
        :meth:`~fleetsim.engine.domains.Domain.reserve_detour` if the caller has it),
        leg ids from ``li``. Their rows and ``arrive`` events are added flat to
        ``block`` and ``arrivals``, their starts to ``starts``. Returns the end and
        whether the last leg stopped at the limit."""
        stop = False
        n_legs = 0
        if not safe:  # reserve_time, for each leg (its other arguments the same for all)
            to_empty = self.engine_control[v]
            if not to_empty:
                hx, hy = self.home_xy[v]
                dom = self.domains[v]
                if detour is None:
                    detour = dom.reserve_detour()
                check = self.motion.reserve_checker(
                    v, power, hx, hy, detour, None if detour is None else dom.detour_box(v))
        corrected = self.corrected[v]
        for i in range(i0, len(xs)):
            dur = durs[i]
            if dur <= 0.0:
                continue
            x1, y1, z1 = xs[i], ys[i], zs[i]
            if not safe:
                dx, dy, dz = x1 - x0, y1 - y0, z1 - z0
                if to_empty:
                    t_stop = b / power if power > 0 else _INF
                else:
                    t_stop = check(dx / dur, dy / dur, dur, z1, b, x0, y0, z0)
                if t_stop < dur:
                    f = t_stop / dur
                    x1, y1, z1, dur, stop = x0 + f * dx, y0 + f * dy, z0 + f * dz, t_stop, True
            e = power * dur
            if corrected:
                e += climbs[i] * (dur / durs[i])  # cut short: only part of the climb
            block += (v, kind, sensing, t, t + dur, x0, y0, z0, x1, y1, z1, e, b - e)
            starts.append(t)
            t += dur
            b -= e
            x0, y0, z0 = x1, y1, z1
            if stop:
                n_legs += 1
                break
            arrivals += (t, _ARRIVE, v, li + n_legs, -1, -1, x1, y1, z1, _NAN, -1, -1)
            n_legs += 1
        return t, stop

    def _flown(self, v: int, now: float, li0: int, rows: np.ndarray, events: np.ndarray,
               starts: list, t: float, stop: bool):
        """Record a route block's leg ``rows`` (ids from ``li0``) and ``arrive``
        ``events``, wait for its end ``t`` (or the end of the block as continued
        meanwhile) and close it; ``stop``: its last leg ends at the reserve."""
        n_legs = len(rows)
        if n_legs:
            self.legs.extend(rows)
            if self.is_carrier[v]:
                self.leg_hist[v].extend(range(li0, li0 + n_legs))
            if len(events):
                self.log.extend(events)
            self.blk_t0[v] = starts
            self.blk_ids[v] = list(range(li0, li0 + n_legs))
            self.cur_leg[v] = li0 + n_legs - 1
            self.blk_open[v] = not stop
            if t > now:
                # (A block continued meanwhile wakes the vehicle at its new end.)
                yield BlockEnd(self, v, t - now)
            # Routes handed over meanwhile may have continued the block (see _continue).
            ids = self.blk_ids[v]
            while self.legs.a.item(ids[-1], L_T1) > self.env.now + 1e-9:
                k = bisect_left(self.blk_t0[v], self.env.now) - 1
                if k > 0:  # forget the legs already flown
                    del self.blk_t0[v][:k], ids[:k]
                yield self.env.timeout(self.legs.a.item(ids[-1], L_T1) - self.env.now)
            self.blk_open[v] = False
            self.close_leg(v)
        if stop:
            raise Depleted() if self.engine_control[v] else ReserveReached()

    def refused(self, v: int, x: float, y: float, z: float):
        """A leg to (x, y, z) the vehicle cannot fly (a wind at or above its airspeed
        across or against the track): log ``leg_refused`` (value: the time of the next
        wind change, NaN if none) and hold where it is until the wind changes,
        then try again. Holding reaches the reserve as any hover does (it then goes
        home, or, already going home, holds until its battery is empty)."""
        nxt = self.motion.next_change(self.env.now)
        self.log.add(self.env.now, "leg_refused", v, x=x, y=y, z=z,
                     value=_NAN if nxt == _INF else nxt, detail="wind")
        state = self.state[v]
        self.state[v] = HOLDING
        yield from self.hover(v, None if nxt == _INF else nxt - self.env.now, still=True)
        self.state[v] = state

    def hover(self, v: int, duration: float | None, kind: int = K_HOLD, still: bool = False):
        """Hover in place for ``duration`` (None: until interrupted or the reserve).

        A fixed wing that cannot hover loiters instead (its domain's ``loiter``), or,
        ``still``, is recorded holding where it is at cruise power (with a ``loiter``
        event: the orbit it flies there)."""
        if self.orbit_r[v]:
            if not still:
                yield from self.domains[v].loiter(v, duration, kind)
                return
            power = self.p_cruise[v]
            self._orbit_event(v)
        else:
            power = self.p_hover[v]
        to_limit = self.reserve_time(v, power, 0.0, 0.0, _INF, self.pz[v]) if power > 0 else _INF
        dur = to_limit if duration is None else min(duration, to_limit)
        x, y, z = self.px[v], self.py[v], self.pz[v]
        self.open_leg(v, kind, self.is_air[v], dur, x, y, z, power)
        if dur == _INF:
            yield self.never
        if dur > 0:
            yield self.env.timeout(dur)
        self.close_leg(v)
        if duration is None or dur < duration:
            raise Depleted() if self.engine_control[v] else ReserveReached()

    def _orbit_event(self, v: int) -> None:
        """A fixed wing held in place orbits there: ``loiter`` (x, y: the orbit's centre,
        east of it; value: its radius)."""
        r = self.orbit_r[v]
        self.log.add(self.env.now, "loiter", v, x=self.px[v] + r, y=self.py[v], z=self.pz[v],
                     value=r)

    def _ground(self, v: int):
        """Stay parked (no energy use) until interrupted."""
        self.open_leg(v, K_GROUND, False, _INF, self.px[v], self.py[v], self.pz[v], 0.0)
        yield self.never

    def park(self, v: int, duration_s: float):
        """Stay parked for ``duration_s``."""
        self.open_leg(v, K_GROUND, False, duration_s, self.px[v], self.py[v], self.pz[v],
                       0.0)
        yield self.env.timeout(duration_s)
        self.close_leg(v)

    def wait(self, v: int, ev: Event, limit_s: float | None):
        """Wait, hovering (or parked), until ``ev`` fires or ``limit_s`` passes.

        Returns True if ``ev`` fired first. Hovering still goes home at the energy
        limit (raises the reserve exception, as any hover does). A fixed wing that
        cannot hover is recorded holding where it is at cruise power (with a ``loiter``
        event: the orbit it flies there)."""
        if ev.triggered and ev.processed:
            return True
        airborne = self.state[v] != GROUND
        if airborne:
            self.state[v] = HOLDING
            power = self.p_cruise[v] if self.orbit_r[v] else self.p_hover[v]
            if self.orbit_r[v]:
                self._orbit_event(v)
            to_limit = self.reserve_time(v, power, 0.0, 0.0, _INF, self.pz[v]) \
                if power > 0 else _INF
        else:
            power, to_limit = 0.0, _INF
        span = to_limit if limit_s is None else min(to_limit, limit_s)
        self.open_leg(v, K_HOLD if airborne else K_GROUND, airborne, span,
                       self.px[v], self.py[v], self.pz[v], power)
        waits = [ev]
        if span != _INF:
            waits.append(self.env.timeout(span))
        yield self.env.any_of(waits)
        fired = ev.triggered
        self.cut_leg(v, self.env.now)
        if not fired and (limit_s is None or to_limit < limit_s):
            raise Depleted() if self.engine_control[v] else ReserveReached()
        return fired

"""Plan intake: policies' plans checked at the boundary, expanded and handed over.

:class:`PlanIntake` is the part of :class:`~fleetsim.engine.sim.Simulation` that
turns the plans a decision returns into queued items: it checks each plan (known
vehicle, finite coordinates, known action, legal re-tasking) and raises a
:class:`~fleetsim.errors.PolicyError` naming the policy, time and vehicle; expands
actions to waypoints with terrain heights in one call per batch (and altitude
layering by heading); books orders; continues flying vehicles' route blocks in one
vectorised pass (``PlanIntake._continue``); and keeps the estimate of
where and when each vehicle's queue ends.

Queued items are tuples whose first element names the operation:
``("route", xs, ys, zs, sensing, length_m, action_class)``,
``("hold", duration_s | None, action_class)``, ``("return", action_class)``,
``("travel", [(x, y), ...], sensing, action_class)``, ``("pickup" | "deliver", order,
action_class)``, ``("dodge", dz_m, hold_s, action_class)`` and ``("stop",
safe_state)``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from fleetsim.engine.motion import last_before, running_sums
from fleetsim.engine.states import GROUND, LOCKED_STATES, MOVING, STATES
from fleetsim.engine.tables import (
    E_KIND,
    E_LEG,
    E_TIME,
    E_VALUE,
    E_VEHICLE,
    E_X,
    E_Y,
    E_Z,
    EVENT_KIND_CODE,
    EVENT_WIDTH,
    K_MOVE,
    L_B,
    L_E,
    L_KIND,
    L_SENSING,
    L_T0,
    L_T1,
    L_VEHICLE,
    L_X0,
    L_X1,
    L_Y1,
    L_Z0,
    L_Z1,
    LEG_WIDTH,
)
from fleetsim.errors import PolicyError
from fleetsim.policy import (
    ASSIGNED,
    CARRIED,
    ORDER_STATES,
    WAITING,
    Deliver,
    GoTo,
    Hold,
    Pickup,
    Plan,
    ReturnHome,
    Route,
    Survey,
)

_INF = float("inf")
_ARRIVE = EVENT_KIND_CODE["arrive"]
_PLAN = EVENT_KIND_CODE["plan"]
_F64 = np.dtype(np.float64)


class PlanIntake:
    """Plan checks, expansion, hand-over and route continuation (a part of the engine)."""

    def policy_error(self, message: str, vehicle: int | None = None) -> PolicyError:
        return PolicyError(message, policy=self.policy_name, time_s=self.env.now,
                           vehicle=vehicle)

    def apply_plans(self, now: float, plans: Sequence[Plan]) -> None:
        """Check plans at the boundary, expand actions to waypoints, and hand them over."""
        parsed, route_pts = self._parse_plans(plans)
        if not parsed:
            return
        if len(route_pts) == 1:
            self._lay_out_route(parsed, route_pts[0])
        elif route_pts:
            self._lay_out_routes(parsed, route_pts)
        if route_pts:
            ov = self.oversight
            if ov is not None and (ov.check_restricted or ov.check_area):
                for v, _, items in parsed:
                    start = self.end_xy[v]
                    for it in items:
                        if it[0] == "route":
                            it[4] = ov.effective_class(it[4], it[1], start)
                            if len(it[1]):
                                start = tuple(it[1][-1])
        self._log_plans(now, parsed)
        # A single route appended to a vehicle flying the last of its queue continues
        # its route block directly: all such routes are laid out in one vectorised pass.
        fast, fast_k = self._continuable(parsed)
        done = self._continue(fast) if fast else ()
        continued = {k for k, (v, _) in zip(fast_k, fast, strict=True) if v in done} \
            if done else ()
        self.decisions.planned.update([v for v, _, _ in parsed])
        for k, (v, append, items) in enumerate(parsed):
            if k in continued:
                continue
            self.hand_over(v, append, [
                ("route", *it[1].T.tolist(), it[2].tolist(), it[3], it[5], it[4])
                if it[0] == "route" else tuple(it)
                for it in items if it[0] != "route" or len(it[1])])

    def _parse_plans(self, plans: Sequence[Plan]) -> tuple[list, list]:
        """The checked plans as ``(vehicle, append, [item, ...])`` (route items awaiting
        their heights: ``["route", waypoints, alt_agl_m, sensing, action_class]``) and the
        waypoint arrays of their route items in order."""
        parsed = []
        route_pts = []
        booked: dict[int, int] = {}  # order -> vehicle whose plan in this batch picks it up
        n = self.n
        stopped = self.oversight.stopped if self.oversight is not None else None
        state, control, is_air, agl = self.state, self.engine_control, self.is_air, self.agl
        for plan in plans:
            if not isinstance(plan, Plan):
                raise self.policy_error(f"decide() must return Plan objects, got {type(plan).__name__}")
            v = plan.vehicle
            if type(v) is not int or not 0 <= v < n:
                if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) \
                        or not 0 <= v < n:
                    raise self.policy_error(f"plan for unknown vehicle {v!r} (vehicles are "
                                            f"0..{n - 1})")
                v = int(v)
            if stopped is not None and stopped[v]:
                continue  # stopped by an operator: it takes no more plans
            if state[v] in LOCKED_STATES or control[v]:
                why = ("it is landing, queued or charging" if state[v] in LOCKED_STATES
                       else "the engine is taking it home (battery reserve, lost link or a "
                            "stop)")
                raise self.policy_error(f"vehicle is {STATES[state[v]]} and cannot be re-tasked "
                                 f"now: {why}; give it a plan when it asks again (reason "
                                 "'recharged' or 'idle'), not on a 'reserve' or other "
                                 "informational request", v)
            acts = plan.actions
            if not isinstance(acts, (list, tuple)):
                raise self.policy_error(f"Plan.actions must be a list of actions, got "
                                 f"{type(acts).__name__}", v)
            if len(acts) == 1 and type(acts[0]) is Route and is_air[v]:  # the common case
                a = acts[0]
                w = a.waypoints
                if not (type(w) is np.ndarray and w.dtype is _F64 and len(w.shape) == 2
                        and w.shape[1] == 2):
                    w = self._waypoints_of(a, v)
                alt = agl[v] if a.alt_agl_m is None else a.alt_agl_m
                if not (math.isfinite(alt) and alt > 0):
                    raise self.policy_error(f"Route.alt_agl_m must be a finite number > 0, got {alt!r}",
                                     v)
                parsed.append((v, bool(plan.append),
                               [["route", w, alt, bool(a.sensing), a.action_class]]))
                route_pts.append(w)
                continue
            items = self._items_of(v, acts, route_pts)
            if self.logistics is not None:
                self._book_orders(v, bool(plan.append), items, booked)
            parsed.append((v, bool(plan.append), items))
        return parsed, route_pts

    def _items_of(self, v: int, acts: Sequence, route_pts: list) -> list:
        """Queue items of a plan's actions, checked (route items awaiting heights; their
        waypoints appended to ``route_pts``)."""
        items = []
        for a in acts:
            if not self.is_air[v] and isinstance(a, (GoTo, Route, Survey)):
                if isinstance(a, Survey):
                    raise self.policy_error(f"Survey needs an air vehicle; this one is a "
                                     f"{self.domain[v]} vehicle (give it GoTo or Route)", v)
                pts = self._waypoints_of(a, v)
                if not np.isfinite(pts).all():
                    raise self.policy_error("waypoints with non-finite coordinates", v)
                # A Route's sensing counts on the water and the road too (a boat's
                # lookout); GoTos and transits do not sense.
                items.append(["travel", [tuple(p) for p in pts.tolist()],
                              isinstance(a, Route) and bool(a.sensing), a.action_class])
            elif isinstance(a, (Pickup, Deliver)):
                items.append(["pickup" if isinstance(a, Pickup) else "deliver",
                              self._order_of(a, v), a.action_class])
            elif isinstance(a, (GoTo, Route, Survey)):
                pts = self._waypoints_of(a, v)
                alt = self.agl[v] if a.alt_agl_m is None else a.alt_agl_m
                if not (math.isfinite(alt) and alt > 0):
                    raise self.policy_error(f"{type(a).__name__}.alt_agl_m must be a finite "
                                     f"number > 0, got {alt!r}", v)
                sensing = bool(getattr(a, "sensing", True))
                items.append(["route", pts, alt, sensing, a.action_class])
                route_pts.append(pts)
            elif isinstance(a, Hold):
                d = a.duration_s
                if d is not None and not (math.isfinite(d) and d >= 0):
                    raise self.policy_error(f"Hold.duration_s must be a finite number >= 0 or "
                                     f"None, got {d!r}", v)
                items.append(["hold", d, a.action_class])
            elif isinstance(a, ReturnHome):
                items.append(["return", a.action_class])
            else:
                raise self.policy_error(f"unknown action {a!r}; valid actions: GoTo, Route, "
                                 "Survey, Hold, ReturnHome, Pickup, Deliver", v)
        return items

    def _check_finite(self, parsed: list) -> None:
        """Raise for the first route item with a non-finite waypoint."""
        for v, _, items in parsed:
            for it in items:
                if it[0] == "route" and not np.isfinite(it[1]).all():
                    raise self.policy_error("waypoints with non-finite coordinates "
                                            f"{it[1][~np.isfinite(it[1]).all(axis=1)][0]}", v)

    def _lay_out_route(self, parsed: list, pts: np.ndarray) -> None:
        """:meth:`_lay_out_routes` for the one route item of ``parsed``, without the
        batch's arrays: the same heights and length (its legs' lengths summed one after
        another, as the batch's running sum does from the route's first waypoint)."""
        if not np.isfinite(pts).all():
            self._check_finite(parsed)
        heights = self.world.terrain.height_at(pts[:, 0], pts[:, 1])
        m = len(pts)
        if m > 1:
            d = pts[1:] - pts[:-1]
            length = float(np.cumsum(np.hypot(d[:, 0], d[:, 1]))[-1])
        else:
            length = 0.0
        for v, _, items in parsed:
            for it in items:
                if it[0] == "route":
                    z = heights + float(it[2])
                    if self._layering and m and self.is_air[v]:
                        z = self._layered(self.end_xy[v], pts, z)
                    it[:] = ["route", pts, z, it[3], it[4], length]
                    return

    def _layered(self, start, pts: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Altitudes ``z`` raised by layer by the heading quadrant of each leg (from
        ``start``)."""
        d = np.diff(np.vstack([start, pts]), axis=0)
        quadrant = np.floor(np.degrees(np.arctan2(d[:, 0], d[:, 1])) % 360.0 / 90.0) % 4
        return z + quadrant * self._layering

    def _lay_out_routes(self, parsed: list, route_pts: list) -> None:
        """Heights (terrain plus altitude above it, layered by heading) and lengths of
        all route items at once (in the order their points were gathered)."""
        allp = np.concatenate(route_pts)
        if not np.isfinite(allp).all():
            self._check_finite(parsed)
        heights = self.world.terrain.height_at(allp[:, 0], allp[:, 1])
        seg = np.hypot(*np.diff(allp, axis=0).T) if len(allp) > 1 else np.zeros(0)
        cum = np.concatenate([[0.0], np.cumsum(seg)])
        layers = self._layering
        counts = np.fromiter(map(len, route_pts), dtype=np.int64, count=len(route_pts))
        ks = np.cumsum(counts) - counts
        alts = [it[2] for _, _, items in parsed for it in items if it[0] == "route"]
        z_all = heights + np.repeat(np.asarray(alts, dtype=np.float64), counts)
        lengths = np.where(counts > 0, cum[np.maximum(ks + counts - 1, 0)] - cum[ks],
                           0.0).tolist()
        ends = (ks + counts).tolist()
        ks = ks.tolist()
        is_air, end_xy = self.is_air, self.end_xy
        r = 0
        for v, _, items in parsed:
            start = end_xy[v]
            for it in items:
                if it[0] == "route":
                    k, e = ks[r], ends[r]
                    z = z_all[k:e]
                    if layers and e > k and is_air[v]:  # altitude by heading quadrant
                        pts = allp[k:e]
                        z = self._layered(start, pts, z)
                        start = tuple(pts[-1])
                    it[:] = ["route", allp[k:e], z, it[3], it[4], lengths[r]]
                    r += 1

    def _log_plans(self, now: float, parsed: list) -> None:
        """A ``plan`` event per plan (value: its number of items)."""
        if len(parsed) == 1:
            v, _, items = parsed[0]
            row = [-1.0] * EVENT_WIDTH
            row[E_TIME], row[E_KIND], row[E_VEHICLE], row[E_VALUE] = \
                now, _PLAN, v, len(items)
            row[E_X] = row[E_Y] = row[E_Z] = math.nan
            self.log.append(row)
            return
        ev = np.full((len(parsed), EVENT_WIDTH), -1.0)
        ev[:, E_TIME] = now
        ev[:, E_KIND] = _PLAN
        ev[:, E_VEHICLE] = [v for v, _, _ in parsed]
        ev[:, E_X:E_Z + 1] = np.nan
        ev[:, E_VALUE] = [len(items) for _, _, items in parsed]
        self.log.extend(ev)

    def _continuable(self, parsed: list) -> tuple[list, list]:
        """The route items that may continue their vehicle's route block (a single route
        appended to a vehicle flying the last of its queue, its class needing no
        approval; a vehicle given more than one plan in the batch takes them in turn):
        ``(vehicle, item)`` and the plans' indexes in ``parsed``."""
        fast, fast_k = [], []
        ov = self.oversight
        vectorised = self.motion.corrected_vectorised
        once = None
        if len(parsed) > 1:
            vs = [v for v, _, _ in parsed]
            if len(set(vs)) < len(vs):
                counted = Counter(vs)
                once = {v for v, c in counted.items() if c == 1}
        auto: dict[str, bool] = {}  # action class -> needs no approval
        blk_open, queue, control, state, corrected = \
            self.blk_open, self.queue, self.engine_control, self.state, self.corrected
        for k, (v, append, items) in enumerate(parsed):
            if not (append and len(items) == 1):
                continue
            it = items[0]
            if it[0] != "route" or not len(it[1]):
                continue
            if ov is not None:
                ok = auto.get(it[4])
                if ok is None:
                    ok = auto[it[4]] = ov.rule(it[4]).rule == "auto"
                if not ok:
                    continue
            if blk_open[v] and not queue[v] and not control[v] and state[v] == MOVING \
                    and (vectorised or not corrected[v]) and (once is None or v in once):
                fast.append((v, it))
                fast_k.append(k)
        return fast, fast_k

    def _continue(self, fast: list) -> set[int]:
        """Lay out routes that follow on from vehicles' current route blocks.

        For each (vehicle, route item), the legs start where and when the block
        ends, with the battery it ends with. Routes whose vehicle could reach its
        energy limit on the way are left to the vehicle (solved leg by leg); the
        others are appended to its block as legs and ``arrive`` events, all in one
        numpy pass. Vehicles with calibration corrections (fixed wings, turn and
        climb costs) get the legs :meth:`~fleetsim.engine.movement.Movement.fly_route`
        would give the same route flown from the block's end, bit for bit. Returns the
        vehicles whose blocks were continued.
        """
        plain = [f for f in fast if not self.corrected[f[0]]]
        calibrated = [f for f in fast if self.corrected[f[0]]]
        done = self._continue_block(plain, False) if plain else set()
        if calibrated:
            done |= self._continue_block(calibrated, True)
        return done

    def _continue_block(self, fast: list, corrected: bool) -> set[int]:
        """:meth:`_continue` for vehicles all with (or all without) corrections."""
        n_r = len(fast)
        v_list = [v for v, _ in fast]
        route_xy = [it[1] for _, it in fast]
        vs = np.array(v_list, dtype=np.int64)
        counts = np.fromiter(map(len, route_xy), np.int64, n_r)
        xy = np.concatenate(route_xy)
        blk_ids = self.blk_ids
        last = self.legs.a[[blk_ids[v][-1] for v in v_list]]
        t_s = last[:, L_T1]
        b_s = last[:, L_B]
        start = last[:, L_X1:L_Z1 + 1]
        pts = np.empty((len(xy), 3))
        pts[:, :2] = xy
        pts[:, 2] = np.concatenate([it[2] for _, it in fast])
        owner = np.repeat(np.arange(n_r), counts)
        first = np.cumsum(counts) - counts
        prev = np.empty_like(pts)
        prev[1:] = pts[:-1]
        prev[first] = start
        home = self.home_now[vs]
        if corrected:
            keep, ok, t0, t1, frm, energy, b1 = self._corrected_legs(
                vs, counts, owner, first, start, prev, pts, t_s, b_s, home)
            if keep is None:
                return set()
        else:
            dur, energy = self.motion.legs(vs, owner, prev, pts, t_s)
            total_e = np.bincount(owner, energy, minlength=n_r)
            far = self.motion.routes_far(vs, owner, first, start, pts, home)
            ok = self.motion.routes_clear(vs, b_s, total_e, start[:, 2],
                                          np.maximum.reduceat(pts[:, 2], first), far)
            keep = ok[owner] & (dur > 0.0)
            if not keep.any():
                return set()
            # Cumulative times and battery within each route.
            csum = np.cumsum(np.where(keep, dur, 0.0))
            esum = np.cumsum(np.where(keep, energy, 0.0))
            base_t = (csum - np.where(keep, dur, 0.0))[first]
            base_e = (esum - np.where(keep, energy, 0.0))[first]
            t1 = t_s[owner] + csum - base_t[owner]
            t0 = t1 - dur
            b1 = b_s[owner] - (esum - base_e[owner])
            frm = prev
        # The kept legs, route after route, as leg rows and ``arrive`` events.
        idx = np.flatnonzero(keep)
        m = len(idx)
        own = owner[idx]
        rows = np.empty((m, LEG_WIDTH))
        rows[:, L_VEHICLE] = vs[own]
        rows[:, L_KIND] = K_MOVE
        rows[:, L_SENSING] = np.array([float(it[3]) for _, it in fast])[own]
        rows[:, L_T0] = t0[idx]
        rows[:, L_T1] = t1[idx]
        rows[:, L_X0:L_Z0 + 1] = frm[idx]
        rows[:, L_X1:L_Z1 + 1] = pts[idx]
        rows[:, L_E] = energy[idx]
        rows[:, L_B] = b1[idx]
        li0 = self.legs.extend(rows)
        ev = np.full((m, EVENT_WIDTH), -1.0)
        ev[:, E_TIME] = rows[:, L_T1]
        ev[:, E_KIND] = _ARRIVE
        ev[:, E_VEHICLE] = rows[:, L_VEHICLE]
        ev[:, E_LEG] = np.arange(li0, li0 + m)
        ev[:, E_X:E_Z + 1] = rows[:, L_X1:L_Z1 + 1]
        ev[:, E_VALUE] = np.nan
        self.log.extend(ev)
        # The routes continued (every leg of a route that is not left to the vehicle is
        # kept, unless it does not move): their legs are ``a:b`` of the kept ones.
        bounds = np.searchsorted(own, np.arange(n_r + 1))
        cont = np.flatnonzero(ok & (bounds[1:] > bounds[:-1]))
        a_s = bounds[cont].tolist()
        b_e = bounds[cont + 1].tolist()
        t0_list = rows[:, L_T0].tolist()
        cont_v = vs[cont].tolist()
        blk_t0, cur_leg, carrier = self.blk_t0, self.cur_leg, self.is_carrier
        for v, a, b in zip(cont_v, a_s, b_e, strict=True):
            blk_t0[v] += t0_list[a:b]
            blk_ids[v] += range(li0 + a, li0 + b)
            cur_leg[v] = li0 + b - 1
            if carrier[v]:
                self.leg_hist[v] += range(li0 + a, li0 + b)
        if corrected and len(cont):
            self._queued_estimates(fast, cont, cont_v, xy[first[cont]],
                                   xy[(first + counts - 1)[cont]])
        else:
            end_xy, end_t = self.end_xy, self.end_t
            ends = rows[np.asarray(b_e, dtype=np.int64) - 1][:, [L_X1, L_Y1, L_T1]].tolist()
            for v, (x, y, t_end) in zip(cont_v, ends, strict=True):
                end_xy[v] = (x, y)
                end_t[v] = t_end
        return set(cont_v)

    def _queued_estimates(self, fast: list, cont: np.ndarray, vs: list[int],
                          first_xy: np.ndarray, last_xy: np.ndarray) -> None:
        """The policy is told where and when the vehicles' plans end as for routes they
        queue (:meth:`_extend_estimate`: straight lines at cruise speed), so runs stay
        those of the routes taken from the queue at the blocks' end. ``cont``: the
        indexes in ``fast`` of the routes continued (vehicles ``vs``); ``first_xy``,
        ``last_xy``: their first and last waypoints, (len(vs), 2)."""
        end_xy, end_t, ground = self.end_xy, self.end_t, self.end_ground
        if any(map(ground.__getitem__, vs)):  # a take-off to count first: one at a time
            for i, v, (x0, y0), (x1, y1) in zip(cont.tolist(), vs, first_xy.tolist(),
                                                 last_xy.tolist(), strict=True):
                it = fast[i][1]
                self._extend_estimate(v, ("route", (x0, x1), (y0, y1), None, it[3], it[5],
                                          it[4]))
            return
        # _extend_estimate's arithmetic for a route, for all at once.
        m = len(vs)
        d = (first_xy - np.array([end_xy[v] for v in vs], dtype=np.float64).reshape(m, 2)
             ).T.tolist()
        hyp = np.fromiter(map(math.hypot, d[0], d[1]), np.float64, m)
        length = np.array([it[5] for _, it in fast], dtype=np.float64)[cont]
        t = np.maximum(np.fromiter(map(end_t.__getitem__, vs), np.float64, m), self.env.now)
        t = (t + self.motion.straight_times(np.array(vs, dtype=np.int64), hyp + length)
             ).tolist()
        for v, (x1, y1), t_end in zip(vs, last_xy.tolist(), t, strict=True):
            end_xy[v] = (x1, y1)
            end_t[v] = t_end

    def _corrected_legs(self, vs, counts, owner, first, start, prev, pts, t_s, b_s, home):
        """The legs of route continuations of vehicles with calibration corrections, as
        ``fly_route`` lays them out from the block's end (``t_s``, ``start``, battery
        ``b_s``): the same durations (``MotionModel.route``), the same quick reserve test
        (power times the total time, the climbs left out), times and battery summed leg
        after leg. Returns ``(keep, ok, t0, t1, frm, energy, b1)`` per leg (``frm``: its
        start point) and ``ok`` per route, or Nones if no leg is kept."""
        motion = self.motion
        dur, climbs, moving = motion.corrected_legs(vs, owner, first, prev, pts)
        ends = first + counts - 1
        total = running_sums(np.zeros(len(vs)), dur, first, counts)[ends]
        power = np.asarray(self.p_cruise)[vs]
        far = motion.routes_far(vs, owner, first, start, pts, home)
        # route() measures ``far`` with math.hypot (numpy's may differ in the last bit):
        # a route within a hair of the limit is left to the vehicle, whose test is exact.
        hair = 1e-9 * (np.abs(b_s) + power / np.asarray(self.speed)[vs] * far)
        ok = motion.routes_clear(vs, b_s - hair, power * total, start[:, 2],
                                 np.maximum.reduceat(pts[:, 2], first), far)
        keep = ok[owner] & moving
        if not keep.any():
            return (None,) * 7
        energy = power[owner] * dur + climbs
        t1 = running_sums(t_s, np.where(keep, dur, 0.0), first, counts)
        b1 = running_sums(b_s, -np.where(keep, energy, 0.0), first, counts)
        t0 = np.empty_like(t1)
        t0[1:] = t1[:-1]
        t0[first] = t_s
        # A leg starts where the last leg that moved ended (a waypoint it did not move to
        # is not a start).
        before, had = last_before(moving, first[owner])
        frm = np.where(had[:, None], pts[before], start[owner])
        return keep, ok, t0, t1, frm, energy, b1

    def _order_of(self, a, v: int) -> int:
        """The order index of a Pickup/Deliver action, checked."""
        k = a.order
        lg = self.logistics
        n = lg.n_created if lg is not None else 0
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) \
                or not 0 <= k < n:
            raise self.policy_error(f"{type(a).__name__}({k!r}): no such order (orders created so "
                             f"far: {'0..' + str(n - 1) if n else 'none'})", v)
        if self.payload[v] <= 0:
            raise self.policy_error(f"{type(a).__name__}({k}): vehicle type "
                             f"{self.scenario.vehicle_types[self.type_index[v]].id!r} carries "
                             "no payload (payload_kg is 0)", v)
        return int(k)

    def _book_orders(self, v: int, append: bool, items: list, booked: dict[int, int]) -> None:
        """Orders a plan picks up are assigned to its vehicle; a plan that replaces
        another frees the orders the old one was to pick up. A Deliver must follow a
        Pickup of the same order, or the order must be on board."""
        lg = self.logistics
        tab = lg.table
        picks = [it[1] for it in items if it[0] == "pickup"]
        if not append:  # the policy re-planned them: no new request
            keep = set(picks)
            lg.release(v, [k for k in self._pickups_planned(v) if k not in keep], tell=False)
        states = ORDER_STATES
        c = self.carrier_of[v]
        coming = {it[1] for it in self.queue[v] if it[0] == "pickup"} if append else set()
        for it in items:
            if it[0] not in ("pickup", "deliver"):
                continue
            k = it[1]
            st = int(tab.status[k])
            owner = int(tab.vehicle[k])
            if it[0] == "pickup":
                if booked.get(k, v) != v:
                    raise self.policy_error(f"Pickup({k}): order {k} is already given to vehicle "
                                     f"{booked[k]} in this decision", v)
                from_carrier = st == CARRIED and c >= 0 and owner == c
                if not (st == WAITING or (st == ASSIGNED and owner == v) or from_carrier):
                    raise self.policy_error(f"Pickup({k}): order {k} is {states[st]}"
                                     f"{f' (vehicle {owner})' if owner >= 0 else ''}; only "
                                     "waiting orders (or this vehicle's own, or its carrier's) "
                                     "can be picked up", v)
                booked[k] = v
                coming.add(k)
                if not from_carrier:
                    lg.assign(v, k)
            elif it[0] == "deliver":
                if not ((st == CARRIED and owner == v) or k in coming):
                    raise self.policy_error(f"Deliver({k}): order {k} is {states[st]}"
                                     f"{f' (vehicle {owner})' if owner >= 0 else ''}; plan a "
                                     "Pickup of it before its Deliver", v)

    def _waypoints_of(self, a, v: int) -> np.ndarray:
        if isinstance(a, GoTo):
            pts = np.array([[a.x_m, a.y_m]], dtype=np.float64)
        elif isinstance(a, Route):
            try:
                pts = np.asarray(a.waypoints, dtype=np.float64)
            except (TypeError, ValueError):
                raise self.policy_error("Route.waypoints must be an (n, 2) array of numbers", v) from None
            if pts.ndim != 2 or pts.shape[1] != 2:
                raise self.policy_error(f"Route.waypoints must have shape (n, 2), got {pts.shape}", v)
        else:
            from fleetsim.planning import boustrophedon
            if not (math.isfinite(a.spacing_m) and a.spacing_m > 0):
                raise self.policy_error(f"Survey.spacing_m must be > 0, got {a.spacing_m!r}", v)
            try:
                pts = boustrophedon(a.area, a.spacing_m, angle_deg=a.angle_deg,
                                    start_xy=self.end_xy[v])
            except (TypeError, ValueError) as exc:
                raise self.policy_error(f"Survey cannot be planned: {exc}", v) from None
        return pts

    def hand_over(self, v: int, append: bool, items: list[tuple]) -> None:
        q = self.queue[v]
        if not append:
            q.clear()
            for sub in self.hooks["on_replanned"]:
                sub.on_replanned(v)
            self.end_xy[v] = (self.px[v], self.py[v])
            self.end_t[v] = self.env.now
            self.end_ground[v] = self.state[v] == GROUND
        for it in items:
            self._extend_estimate(v, it)
        q.extend(items)
        if self.asking[v]:
            return  # it picks the plan up as soon as the decision is made
        if self.waiting[v]:
            if not items:
                return  # nothing new for an idle vehicle: leave it waiting
        elif append:
            return
        self.cut_leg(v, self.env.now)
        self.procs[v].interrupt("plan")

    def _extend_estimate(self, v: int, item: tuple) -> None:
        """Keep the estimate of where and when the vehicle's queued actions end."""
        x, y = self.end_xy[v]
        t = max(self.end_t[v], self.env.now)
        motion = self.motion
        up = motion.climb_time(v, self.agl[v])
        if item[0] != "return" and self.end_ground[v]:
            t += up  # take-off first
            self.end_ground[v] = False
        if item[0] == "route":
            xs, ys, length = item[1], item[2], item[5]
            t += motion.straight_time(v, math.hypot(xs[0] - x, ys[0] - y) + length)
            self.end_xy[v] = (xs[-1], ys[-1])
        elif item[0] in ("travel", "pickup", "deliver"):
            # Straight-line estimates (ground and sea: times the network's typical detour).
            f = self.domains[v].estimate_detour
            tab = self.logistics.table if self.logistics is not None else None
            if item[0] == "travel":
                pts = item[1]
            elif item[0] == "pickup":
                pts = [tuple(tab.origin_xy[item[1]].tolist())]
            else:
                pts = [tuple(tab.dest_xy[item[1]].tolist())]
            for px, py in pts:
                t += motion.straight_time(v, f * math.hypot(px - x, py - y))
                x, y = px, py
            self.end_xy[v] = (x, y)
            if item[0] == "pickup":
                t += self.logistics.loading_s.get(int(tab.origin[item[1]]), 0.0)
                if self.domains[v].lands_to_load:
                    t += up
                    self.end_ground[v] = True
            elif item[0] == "deliver":
                t += self.logistics.service_s
        elif item[0] == "hold":
            t = _INF if item[1] is None else t + item[1]
        elif item[0] == "dodge":
            t += item[2] + motion.climb_time(v, 2 * abs(item[1]))
        else:
            if not self.end_ground[v]:
                hx, hy = self.home_xy[v]
                t += motion.straight_time(v, math.hypot(hx - x, hy - y)) + up  # home, land
                self.end_xy[v] = (hx, hy)
                self.end_ground[v] = True
        self.end_t[v] = t

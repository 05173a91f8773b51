"""Plan intake: policies' plans checked at the boundary, expanded and handed over.

:class:`PlanIntake` is the part of :class:`~fleetsim.engine.sim.Simulation` that
turns the plans a decision returns into queued items: it checks each plan (known
vehicle, finite coordinates, known action, legal re-tasking) and raises a
:class:`~fleetsim.errors.PolicyError` naming the policy, time and vehicle; expands
actions to waypoints with terrain heights in one call per batch (and altitude
layering by heading); books orders; continues flying vehicles' route blocks in one
vectorised pass (:class:`~fleetsim.engine.continuation.RouteContinuation`, whose
``_continue`` it inherits); and keeps the estimate of where and when each vehicle's
queue ends.

Queued items are tuples whose first element names the operation:
``("route", xs, ys, zs, sensing, length_m, action_class)`` (the waypoints: float64
arrays as the intake lays them out, lists where a subsystem re-plans a route),
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

from fleetsim import libm
from fleetsim.engine.continuation import RouteBatch, RouteContinuation
from fleetsim.engine.motion import MotionModel
from fleetsim.engine.states import GROUND, LOCKED_STATES, MOVING, STATES
from fleetsim.engine.tables import (
    E_KIND,
    E_TIME,
    E_VALUE,
    E_VEHICLE,
    E_X,
    E_Y,
    E_Z,
    EVENT_KIND_CODE,
    EVENT_WIDTH,
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
    RoutePlans,
    Survey,
)

_INF = float("inf")
_PLAN = EVENT_KIND_CODE["plan"]
_F64 = np.dtype(np.float64)
_ROUTE_CLASS = Route.__dataclass_fields__["action_class"].default


class _RouteSpecs:
    """The route items of a decision's plans, in order: waypoints ((n, 2) arrays),
    altitude above the ground, sensing, action class and vehicle of each."""

    def __init__(self) -> None:
        self.pts: list[np.ndarray] = []
        self.alt: list = []
        self.sensing: list[bool] = []
        self.classes: list = []
        self.vehicles: list[int] = []
        #: All the waypoints, one route after another, and each route's number of them,
        #: when they came so (:class:`~fleetsim.policy.RoutePlans`); else None.
        self.xy: np.ndarray | None = None
        self.counts: np.ndarray | None = None


class PlanIntake(RouteContinuation):
    """Plan checks, expansion, hand-over and route continuation (a part of the engine)."""

    def policy_error(self, message: str, vehicle: int | None = None) -> PolicyError:
        return PolicyError(message, policy=self.policy_name, time_s=self.env.now,
                           vehicle=vehicle)

    def apply_plans(self, now: float, plans: Sequence[Plan]) -> None:
        """Check plans at the boundary, expand actions to waypoints, and hand them over."""
        specs = _RouteSpecs()
        parsed, single = self._parse_route_plans(plans, specs) if type(plans) is RoutePlans \
            else self._parse_plans(plans, specs)
        if not parsed:
            return
        routes = self._lay_out(parsed, specs) if specs.pts else None
        self._log_plans(now, parsed)
        # A single route appended to a vehicle flying the last of its queue continues
        # its route block directly: all such routes are laid out in one vectorised pass.
        continued: set[int] | tuple = ()
        if single and routes is not None:
            fast_k, keep = self._continuable(parsed, single, routes)
            if fast_k:
                done = self._continue(routes.take(keep))
                continued = {k for k in fast_k if parsed[k][0] in done}
        self.decisions.planned.update([v for v, _, _ in parsed])
        if routes is not None:
            z, sensing, classes, lengths = routes.z, routes.sensing, routes.classes, \
                routes.lengths
            # A route item's waypoints are views of a copy of the batch's columns (the
            # vehicle's route block takes them as they are).
            xs, ys = np.array(routes.xy.T)
            first, ends = routes.first.tolist(), (routes.first + routes.counts).tolist()
            if len(single) > 1:
                continued = self._queue_routes(parsed, single, continued, routes)
        for k, (v, append, items) in enumerate(parsed):
            if k in continued:
                continue
            queued = []
            for it in items:
                if it[0] != "route":
                    queued.append(tuple(it))
                    continue
                r = it[1]
                a, b = first[r], ends[r]
                if a < b:
                    queued.append(("route", xs[a:b], ys[a:b], z[a:b], sensing[r], lengths[r],
                                   classes[r]))
            self.hand_over(v, append, queued)

    def _queue_routes(self, parsed: list, single: list[int], continued, routes: RouteBatch
                      ) -> set[int]:
        """Queue the lone routes appended to vehicles busy with their queue (not asking
        for a plan nor waiting), one plan per vehicle, as :meth:`hand_over` would: the
        estimates of where and when their plans end for all at once
        (:meth:`_queued_estimates`). Returns the plans done so (with ``continued``)."""
        motion = type(self.motion)
        if motion.straight_time is not MotionModel.straight_time \
                or motion.straight_times is not MotionModel.straight_times:
            return continued
        asking, waiting, counts = self.asking, self.waiting, routes.counts.tolist()
        vs = [v for v, _, _ in parsed]
        once = len(set(vs)) == len(vs)
        if not once:
            seen = Counter(vs)
        ks, keep = [], np.zeros(len(counts), dtype=bool)
        for k in single:
            if k in continued:
                continue
            v, _, items = parsed[k]
            r = items[0][1]
            if counts[r] and not asking[v] and not waiting[v] and (once or seen[v] == 1):
                ks.append(k)
                keep[r] = True
        if len(ks) < 2:
            return continued
        batch = routes.take(keep)
        first, last = batch.first, batch.first + batch.counts - 1
        qv = batch.vehicles
        ends = self._queued_estimates(batch, np.arange(len(ks)), qv, batch.xy[first],
                                      batch.xy[last])
        if ends is not None:
            end_xy, end_t = self.end_xy, self.end_t
            for v, xy_end, t_end in zip(qv, *ends, strict=True):
                end_xy[v] = xy_end
                end_t[v] = t_end
        xs, ys = np.array(batch.xy.T)
        zs = batch.z
        queue = self.queue
        for v, a, b, sensing, length, action_class in zip(
                qv, first.tolist(), (last + 1).tolist(), batch.sensing, batch.lengths,
                batch.classes, strict=True):
            queue[v].append(("route", xs[a:b], ys[a:b], zs[a:b], sensing, length,
                             action_class))
        return set(continued) | set(ks)

    def _parse_route_plans(self, plans: RoutePlans, specs: _RouteSpecs) -> tuple[list, list]:
        """:meth:`_parse_plans` for plans of one route each given whole: the checks for
        all at once, the waypoints gathered in one array. Where one of them needs more
        than that (a vehicle stopped, one that may not be re-tasked now, a vehicle
        on the ground or the water, waypoints of a wrong shape), the plans are parsed
        one by one, as a list (with the same errors)."""
        vs = plans.vehicles
        n_r = len(vs)
        if not n_r:
            return [], []
        vl = vs.tolist()
        stopped = self.oversight.stopped if self.oversight is not None else None
        ok = int(vs.min()) >= 0 and int(vs.max()) < self.n
        if ok:
            ok = (stopped is None or not any(map(stopped.__getitem__, vl))) \
                and LOCKED_STATES.isdisjoint(map(self.state.__getitem__, vl)) \
                and not any(map(self.engine_control.__getitem__, vl)) \
                and all(map(self.is_air.__getitem__, vl))
        if ok:
            try:
                xy = np.concatenate(plans.routes)
            except (TypeError, ValueError):
                ok = False
            else:
                if xy.dtype != _F64 and xy.dtype.kind in "iuf":
                    xy = xy.astype(np.float64)
                ok = xy.dtype == _F64 and xy.ndim == 2 and xy.shape[1] == 2
        if not ok:
            return self._parse_plans(list(plans), specs)
        agl = self.agl
        specs.xy = xy
        specs.counts = np.fromiter(map(len, plans.routes), dtype=np.int64, count=n_r)
        specs.pts = plans.routes
        specs.alt = [agl[v] for v in vl]
        specs.sensing = [True] * n_r
        specs.classes = [_ROUTE_CLASS] * n_r
        specs.vehicles = vl
        append = plans.append
        parsed = [(v, append, [["route", r]]) for r, v in enumerate(vl)]
        return parsed, (list(range(n_r)) if append else [])

    def _parse_plans(self, plans: Sequence[Plan], specs: _RouteSpecs) -> tuple[list, list]:
        """The checked plans as ``(vehicle, append, [item, ...])`` (a route item is
        ``["route", r]``, its waypoints and settings the ``r``-th of ``specs``) and the
        indexes of those that append a lone route."""
        parsed = []
        single = []
        booked: dict[int, int] = {}  # order -> vehicle whose plan in this batch picks it up
        n = self.n
        stopped = self.oversight.stopped if self.oversight is not None else None
        state, control, is_air, agl = self.state, self.engine_control, self.is_air, self.agl
        r_pts, r_alt, r_sensing, r_class, r_vehicle = \
            specs.pts, specs.alt, specs.sensing, specs.classes, specs.vehicles
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
            append = bool(plan.append)
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
                if append:
                    single.append(len(parsed))
                parsed.append((v, append, [["route", len(r_pts)]]))
                r_pts.append(w)
                r_alt.append(alt)
                r_sensing.append(bool(a.sensing))
                r_class.append(a.action_class)
                r_vehicle.append(v)
                continue
            items = self._items_of(v, acts, specs)
            if self.logistics is not None:
                self._book_orders(v, append, items, booked)
            if append and len(items) == 1 and items[0][0] == "route":
                single.append(len(parsed))
            parsed.append((v, append, items))
        return parsed, single

    def _items_of(self, v: int, acts: Sequence, specs: _RouteSpecs) -> list:
        """Queue items of a plan's actions, checked (route items: ``["route", r]``, their
        waypoints and settings added to ``specs``)."""
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
                items.append(["route", len(specs.pts)])
                specs.pts.append(pts)
                specs.alt.append(alt)
                specs.sensing.append(bool(getattr(a, "sensing", True)))
                specs.classes.append(a.action_class)
                specs.vehicles.append(v)
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

    def _lay_out(self, parsed: list, specs: _RouteSpecs) -> RouteBatch:
        """All route items at once (in the order they were given): waypoint heights
        (terrain plus the altitude above it, layered by heading) and lengths, and each
        route's action class made the stricter of its own and those of where it goes."""
        route_pts = specs.pts
        if len(route_pts) == 1:  # without the batch's arrays: the same values
            xy = route_pts[0] if specs.xy is None else specs.xy
            if not np.isfinite(xy).all():
                self._check_finite(parsed, specs)
            z = self.world.terrain.height_at(xy[:, 0], xy[:, 1]) + float(specs.alt[0])
            m = len(xy)
            counts = np.array([m], dtype=np.int64)
            if m > 1:  # the legs' lengths summed one after another, as np.cumsum does
                d = xy[1:] - xy[:-1]
                lengths = [float(np.cumsum(np.hypot(d[:, 0], d[:, 1]))[-1])]
            else:
                lengths = [0.0]
        else:
            xy = np.concatenate(route_pts) if specs.xy is None else specs.xy
            if not np.isfinite(xy).all():
                self._check_finite(parsed, specs)
            heights = self.world.terrain.height_at(xy[:, 0], xy[:, 1])
            seg = np.hypot(*np.diff(xy, axis=0).T) if len(xy) > 1 else np.zeros(0)
            cum = np.concatenate([[0.0], np.cumsum(seg)])
            counts = specs.counts if specs.counts is not None else \
                np.fromiter(map(len, route_pts), dtype=np.int64, count=len(route_pts))
            ks = np.cumsum(counts) - counts
            z = heights + np.repeat(np.asarray(specs.alt, dtype=np.float64), counts)
            lengths = np.where(counts > 0, cum[np.maximum(ks + counts - 1, 0)] - cum[ks],
                               0.0).tolist()
        routes = RouteBatch(specs.vehicles, xy, z, counts, specs.sensing, specs.classes,
                            lengths)
        layers = self._layering
        ov = self.oversight
        classes = ov is not None and (ov.check_restricted or ov.check_area)
        if layers or classes:  # route by route, each from where the last one ended
            first, ends = routes.first.tolist(), (routes.first + counts).tolist()
            for v, _, items in parsed:
                start = self.end_xy[v]
                for it in items:
                    if it[0] != "route":
                        continue
                    r = it[1]
                    a, b = first[r], ends[r]
                    pts = xy[a:b]
                    if layers and b > a and self.is_air[v]:  # altitude by heading quadrant
                        d = np.diff(np.vstack([start, pts]), axis=0)
                        quadrant = np.floor(np.degrees(libm.arctan2(d[:, 0], d[:, 1]))
                                            % 360.0 / 90.0) % 4
                        z[a:b] = z[a:b] + quadrant * layers
                    if classes:
                        specs.classes[r] = ov.effective_class(specs.classes[r], pts, start)
                    if b > a:
                        start = tuple(pts[-1])
        return routes

    def _check_finite(self, parsed: list, specs: _RouteSpecs) -> None:
        """Raise for the first route item with a non-finite waypoint."""
        for v, _, items in parsed:
            for it in items:
                if it[0] == "route":
                    pts = np.asarray(specs.pts[it[1]], dtype=np.float64)
                    if not np.isfinite(pts).all():
                        raise self.policy_error("waypoints with non-finite coordinates "
                                                f"{pts[~np.isfinite(pts).all(axis=1)][0]}", v)

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

    def _continuable(self, parsed: list, single: list[int], routes: RouteBatch
                     ) -> tuple[list[int], np.ndarray]:
        """Of the plans appending a lone route (``single``), those whose route continues
        its vehicle's route block: a vehicle flying the last of its queue, the route's
        class needing no approval (a vehicle given more than one plan in the batch takes
        them in turn). Returns their indexes in ``parsed`` and which routes they are."""
        ov = self.oversight
        vectorised = self.motion.corrected_vectorised
        once = None
        if len(parsed) > 1:
            vs = [v for v, _, _ in parsed]
            if len(set(vs)) < len(vs):
                once = {v for v, c in Counter(vs).items() if c == 1}
        auto: dict[str, bool] = {}  # action class -> needs no approval
        counts, classes = routes.counts.tolist(), routes.classes
        blk_open, queue, control, state, corrected = \
            self.blk_open, self.queue, self.engine_control, self.state, self.corrected
        fast_k = []
        keep = np.zeros(len(counts), dtype=bool)
        for k in single:
            v, _, items = parsed[k]
            r = items[0][1]
            if not counts[r]:
                continue
            if ov is not None:
                ok = auto.get(classes[r])
                if ok is None:
                    ok = auto[classes[r]] = ov.rule(classes[r]).rule == "auto"
                if not ok:
                    continue
            if blk_open[v] and not queue[v] and not control[v] and state[v] == MOVING \
                    and (vectorised or not corrected[v]) and (once is None or v in once):
                fast_k.append(k)
                keep[r] = True
        return fast_k, keep

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
            self.end_xy[v] = (float(xs[-1]), float(ys[-1]))
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

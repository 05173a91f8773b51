"""Route continuation: routes appended to flying vehicles laid out in one vectorised pass.

:class:`RouteContinuation` is the part of the plan intake
(:class:`~fleetsim.engine.intake.PlanIntake`) that appends a route given to a vehicle
flying the last of its queue to the vehicle's current route block as legs and
``arrive`` events, all such routes of a decision at once, instead of handing each
over to the vehicle to fly leg by leg. The routes come as a :class:`RouteBatch`
(the waypoints of all of them in one array).
"""

from __future__ import annotations

import math
from functools import cached_property
from itertools import chain

import numpy as np

from fleetsim.engine.blocks import continued_rows
from fleetsim.engine.motion import MAX_DETOUR, MotionModel, last_before, running_sums
from fleetsim.engine.tables import (
    E_DETAIL,
    E_KIND,
    E_LEG,
    E_OPERATOR,
    E_TARGET,
    E_TIME,
    E_VALUE,
    E_VEHICLE,
    E_X,
    E_Z,
    E_ZONE,
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

_ARRIVE = EVENT_KIND_CODE["arrive"]


class RouteBatch:
    """Routes laid out one after another.

    Parameters
    ----------
    vehicles:
        The vehicle of each route (list of int, one route per vehicle).
    xy:
        (P, 2) float64 waypoints, metres: route ``r``'s are rows
        ``first[r]:first[r] + counts[r]``, routes in order.
    z:
        (P,) float64 altitudes of the waypoints, metres.
    counts:
        (R,) int64 number of waypoints of each route (those continued have some).
    sensing, classes, lengths:
        Per route: whether it senses (list of bool), its action class (list of str) and
        its length along its waypoints (m, list of float).
    """

    def __init__(self, vehicles: list[int], xy: np.ndarray, z: np.ndarray,
                 counts: np.ndarray, sensing: list, classes: list, lengths: list) -> None:
        self.vehicles = vehicles
        self.xy = xy
        self.z = z
        self.counts = counts
        self.first = np.cumsum(counts) - counts
        self.sensing = sensing
        self.classes = classes
        self.lengths = lengths

    def __len__(self) -> int:
        return len(self.vehicles)

    def take(self, keep: np.ndarray) -> RouteBatch:
        """The routes where ``keep`` (bool, one per route), in order."""
        if keep.all():
            return self
        points = np.repeat(keep, self.counts)
        rows = np.flatnonzero(keep).tolist()
        return RouteBatch([self.vehicles[i] for i in rows], self.xy[points], self.z[points],
                          self.counts[keep], [self.sensing[i] for i in rows],
                          [self.classes[i] for i in rows], [self.lengths[i] for i in rows])


class RouteContinuation:
    """Route blocks continued by appended routes (a part of the engine, with the plan
    intake)."""

    def _continue(self, fast: RouteBatch) -> set[int]:
        """Lay out routes that follow on from vehicles' current route blocks.

        For each route (one per vehicle), the legs start where and when the vehicle's
        block ends, with the battery it ends with. Routes whose vehicle could reach its
        energy limit on the way are left to the vehicle (solved leg by leg); the
        others are appended to its block as legs and ``arrive`` events, all in one
        numpy pass. Vehicles with calibration corrections (fixed wings, turn and
        climb costs) get the legs :meth:`~fleetsim.engine.movement.Movement.fly_route`
        would give the same route flown from the block's end, bit for bit. Returns the
        vehicles whose blocks were continued.
        """
        corrected = self.corrected
        calibrated = np.fromiter(map(corrected.__getitem__, fast.vehicles), bool, len(fast))
        if calibrated.all():
            return self._continue_block(fast, True)
        if not calibrated.any():
            return self._continue_block(fast, False)
        done = self._continue_block(fast.take(~calibrated), False)
        return done | self._continue_block(fast.take(calibrated), True)

    def _continue_block(self, fast: RouteBatch, corrected: bool) -> set[int]:
        """:meth:`_continue` for vehicles all with (or all without) corrections."""
        n_r = len(fast)
        v_list = fast.vehicles
        vs = np.array(v_list, dtype=np.int64)
        counts, first, xy = fast.counts, fast.first, fast.xy
        blk_ids = self.blk_ids
        last = self.legs.a.take([blk_ids[v][-1] for v in v_list], axis=0)
        t_s = last[:, L_T1]
        b_s = last[:, L_B]
        start = last[:, L_X1:L_Z1 + 1]
        home = self.home_now[vs]
        if corrected and self._compiled_routes:
            rows, ok, n_rows = self._compiled_rows(fast, vs, start, t_s, b_s, home)
            if not len(rows):
                return set()
            bounds = np.zeros(n_r + 1, dtype=np.int64)
            np.cumsum(n_rows, out=bounds[1:])
        else:
            rows, ok, bounds = self._vectorised_rows(fast, corrected, vs, start, t_s, b_s,
                                                     home)
            if rows is None:
                return set()
        m = len(rows)
        li0 = self.legs.extend(rows)
        ev = np.empty((m, EVENT_WIDTH))
        ev[:, E_TIME] = rows[:, L_T1]
        ev[:, E_KIND] = _ARRIVE
        ev[:, E_VEHICLE] = rows[:, L_VEHICLE]
        ev[:, E_LEG] = np.arange(li0, li0 + m)
        ev[:, E_TARGET:E_ZONE + 1] = -1.0
        ev[:, E_X:E_Z + 1] = rows[:, L_X1:L_Z1 + 1]
        ev[:, E_VALUE] = np.nan
        ev[:, E_OPERATOR:E_DETAIL + 1] = -1.0
        self.log.extend(ev)
        # The routes continued (every leg of a route that is not left to the vehicle is
        # kept, unless it does not move): their legs are ``a:b`` of the kept ones.
        cont = np.flatnonzero(ok & (bounds[1:] > bounds[:-1]))
        if not len(cont):
            return set()
        a_s = bounds[cont].tolist()
        b_e = bounds[cont + 1].tolist()
        t0_list = rows[:, L_T0].tolist()
        cont_v = vs[cont].tolist()
        # Where and when the vehicles' plans now end (the estimates the policy is told).
        if corrected:
            ends = self._queued_estimates(fast, cont, cont_v, xy[first[cont]],
                                          xy[(first + counts - 1)[cont]])
        else:
            x, y, t = rows[np.asarray(b_e, dtype=np.int64) - 1][:, [L_X1, L_Y1, L_T1]].T.tolist()
            ends = list(zip(x, y, strict=True)), t
        blk_t0, cur_leg, carrier = self.blk_t0, self.cur_leg, self.is_carrier
        end_xy, end_t = self.end_xy, self.end_t
        ids = range(li0, li0 + m)
        if ends is None:  # the estimates were kept one at a time
            ends = [end_xy[v] for v in cont_v], [end_t[v] for v in cont_v]
        for v, a, b, xy_end, t_end in zip(cont_v, a_s, b_e, *ends, strict=True):
            blk_t0[v] += t0_list[a:b]
            blk_ids[v] += ids[a:b]
            cur_leg[v] = li0 + b - 1
            if carrier[v]:
                self.leg_hist[v] += ids[a:b]
            end_xy[v] = xy_end
            end_t[v] = t_end
        return set(cont_v)

    @property
    def _compiled_routes(self) -> bool:
        """Whether the motion model is the still-air one, whose routes of vehicles with
        corrections :func:`~fleetsim.engine.blocks.continued_rows` lays out (a model
        of its own that continues them has its :meth:`~fleetsim.engine.motion.
        MotionModel.corrected_legs`)."""
        model = type(self.motion)
        return model.route is MotionModel.route and model.route_clear is \
            MotionModel.route_clear and model.corrected_legs is MotionModel.corrected_legs

    @cached_property
    def _route_settings(self) -> np.ndarray:
        """Each vehicle's settings that lay out its routes (fixed for the run), as
        :func:`~fleetsim.engine.blocks.continued_rows` takes them: columns cruise speed,
        climb rate, leg overhead, turn cost per radian, climb energy, cruise power,
        reserve, hover power, cruise altitude."""
        m = self.motion
        return np.column_stack([
            np.asarray(c, dtype=np.float64) for c in (
                m.speed, m.climb, m.leg_over,
                np.asarray(m.turn_pen, dtype=np.float64) + np.asarray(m.turn_r, dtype=np.float64),
                m.climb_wh, self.p_cruise, m.reserve, m.p_hover, m.agl)])

    def _compiled_rows(self, fast: RouteBatch, vs: np.ndarray, start: np.ndarray,
                       t_s: np.ndarray, b_s: np.ndarray, home: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The leg rows of routes of vehicles with corrections continued from their
        blocks' ends (``start``, ``t_s``, ``b_s``), in one compiled loop: ``(rows, ok,
        n_rows)`` (:func:`~fleetsim.engine.blocks.continued_rows`)."""
        spd, climb, leg_over, turn, climb_wh, power, reserve, p_hover, agl = \
            self._route_settings[vs].T.copy()
        # (A vehicle's home altitude moves with its carrier.)
        home_z = np.fromiter(map(self.motion.home_z.__getitem__, fast.vehicles), np.float64,
                             len(vs))
        x, y = np.array(fast.xy.T)
        x0, y0, z0 = np.array(start.T)
        hx, hy = np.array(home.T)
        return continued_rows(
            x, y, fast.z, fast.first, fast.counts, x0, y0, z0, np.ascontiguousarray(t_s),
            np.ascontiguousarray(b_s), vs.astype(np.float64),
            np.array(fast.sensing, dtype=np.float64), float(K_MOVE), spd, climb, leg_over,
            turn, climb_wh, power, hx, hy, reserve, p_hover, home_z, home_z + agl,
            power / spd * MAX_DETOUR)

    def _vectorised_rows(self, fast: RouteBatch, corrected: bool, vs: np.ndarray,
                         start: np.ndarray, t_s: np.ndarray, b_s: np.ndarray,
                         home: np.ndarray) -> tuple:
        """The leg rows of routes continued from their blocks' ends (``start``, ``t_s``,
        ``b_s``) in numpy passes over all legs: ``(rows, ok, bounds)`` (route ``r``'s rows
        are ``bounds[r]:bounds[r + 1]``), or Nones if there are none."""
        n_r = len(fast)
        counts, first, xy = fast.counts, fast.first, fast.xy
        pts = np.empty((len(xy), 3))
        pts[:, :2] = xy
        pts[:, 2] = fast.z
        owner = np.repeat(np.arange(n_r), counts)
        prev = np.empty_like(pts)
        prev[1:] = pts[:-1]
        prev[first] = start
        if corrected:
            keep, ok, t0, t1, frm, energy, b1 = self._corrected_legs(
                vs, counts, owner, first, start, prev, pts, t_s, b_s, home)
            if keep is None:
                return None, None, None
        else:
            dur, energy = self.motion.legs(vs, owner, prev, pts, t_s)
            total_e = np.bincount(owner, energy, minlength=n_r)
            far = self.motion.routes_far(vs, owner, first, start, pts, home)
            ok = self.motion.routes_clear(vs, b_s, total_e, start[:, 2],
                                          np.maximum.reduceat(pts[:, 2], first), far)
            keep = ok[owner] & (dur > 0.0)
            if not keep.any():
                return None, None, None
            # Cumulative times and battery within each route.
            csum = np.cumsum(np.where(keep, dur, 0.0))
            esum = np.cumsum(np.where(keep, energy, 0.0))
            base_t = (csum - np.where(keep, dur, 0.0))[first]
            base_e = (esum - np.where(keep, energy, 0.0))[first]
            t1 = t_s[owner] + csum - base_t[owner]
            t0 = t1 - dur
            b1 = b_s[owner] - (esum - base_e[owner])
            frm = prev
        # The kept legs, route after route.
        idx = np.flatnonzero(keep)
        own = owner[idx]
        rows = np.empty((len(idx), LEG_WIDTH))
        rows[:, L_VEHICLE] = vs[own]
        rows[:, L_KIND] = K_MOVE
        rows[:, L_SENSING] = np.array(fast.sensing, dtype=np.float64)[own]
        rows[:, L_T0] = t0[idx]
        rows[:, L_T1] = t1[idx]
        rows[:, L_X0:L_Z0 + 1] = frm[idx]
        rows[:, L_X1:L_Z1 + 1] = pts[idx]
        rows[:, L_E] = energy[idx]
        rows[:, L_B] = b1[idx]
        return rows, ok, np.searchsorted(own, np.arange(n_r + 1))

    def _queued_estimates(self, fast: RouteBatch, cont: np.ndarray, vs: list[int],
                          first_xy: np.ndarray, last_xy: np.ndarray
                          ) -> tuple[list, list] | None:
        """Where and when the vehicles' plans end, as the policy is told for routes they
        queue (:meth:`_extend_estimate`: straight lines at cruise speed), so runs stay
        those of the routes taken from the queue at the blocks' end: ``([(x, y), ...],
        [t, ...])``, or None when they were kept one at a time (a take-off to count
        first). ``cont``: the indexes in ``fast`` of the routes continued (vehicles
        ``vs``); ``first_xy``, ``last_xy``: their first and last waypoints, (len(vs), 2)."""
        end_xy, end_t, ground = self.end_xy, self.end_t, self.end_ground
        cont_i = cont.tolist()
        lengths = fast.lengths
        if any(map(ground.__getitem__, vs)):
            for i, v, (x0, y0), (x1, y1) in zip(cont_i, vs, first_xy.tolist(),
                                                 last_xy.tolist(), strict=True):
                self._extend_estimate(v, ("route", (x0, x1), (y0, y1), None,
                                          fast.sensing[i], lengths[i], fast.classes[i]))
            return None
        # _extend_estimate's arithmetic for a route, for all at once.
        m = len(vs)
        was = np.fromiter(chain.from_iterable(map(end_xy.__getitem__, vs)), np.float64, 2 * m)
        d = (first_xy - was.reshape(m, 2)).T.tolist()
        hyp = np.fromiter(map(math.hypot, d[0], d[1]), np.float64, m)
        length = np.fromiter(map(lengths.__getitem__, cont_i), np.float64, m)
        t = np.maximum(np.fromiter(map(end_t.__getitem__, vs), np.float64, m), self.env.now)
        t = (t + self.motion.straight_times(np.array(vs, dtype=np.int64), hyp + length)
             ).tolist()
        x1, y1 = last_xy.T.tolist()
        return list(zip(x1, y1, strict=True)), t

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

"""The motion model: how long a leg takes, what energy it uses, and where the
energy reserve is reached.

Every place in the engine that needs the ground speed or energy of a move asks
the one :class:`MotionModel` a run owns (``Simulation.motion``): flying a leg or a
route block, the vectorised continuation of route blocks, meeting a carrier, the
estimate of when queued actions end, the separation monitor's intents and the
fleet view's travel times. A different model (wind: heading-dependent ground
speed and energy) is a subclass that overrides these methods and is passed to
:class:`fleetsim.engine.sim.Simulation` as ``motion=``.

The default model is still air: a vehicle moves at its cruise speed (or a given
speed) and climbs at its climb rate, whichever takes longer; energy is power
times duration, plus the calibrated climb energy. The arithmetic of each method
is the one the engine has always done at that place (operand order included),
so recorded runs stay byte-identical.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from fleetsim import libm
from fleetsim.engine.blocks import route_legs

_INF = float("inf")
_NO_SPEEDS = np.zeros(0)
#: Largest detour around no-fly zones (or along a network) the energy reserve allows
#: for, as a factor on the straight line home.
MAX_DETOUR = 3.0


def first_crossing(qa: float, qb: float, qc: float, margin: float, power: float,
                   horizon: float) -> float:
    """The earliest root t of ``qa t^2 + qb t + qc = 0`` in [0, horizon] at which the
    battery margin left, ``margin - power * t``, is not yet negative (the squared
    crossing equation of a reserve point also has the roots of its mirror); ``inf``
    if there is none."""
    roots = []
    if abs(qa) < 1e-15:
        if qb != 0.0:
            roots.append(-qc / qb)
    else:
        disc = qb * qb - 4.0 * qa * qc
        if disc >= 0.0:
            sq = math.sqrt(disc)
            roots += [(-qb - sq) / (2.0 * qa), (-qb + sq) / (2.0 * qa)]
    best = _INF
    for t in roots:
        if 0.0 <= t <= horizon and margin - power * t >= -1e-9 and t < best:
            best = t
    return best


def route_far(x0: float, y0: float, xs: np.ndarray, ys: np.ndarray, hx: float,
              hy: float) -> float:
    """The largest horizontal distance from (hx, hy) over (x0, y0) and the waypoints
    (Python's ``math.hypot``, as the route always used)."""
    return max(math.hypot(x0 - hx, y0 - hy),
               max(map(math.hypot, (xs - hx).tolist(), (ys - hy).tolist()), default=0.0))


def running_sums(base: np.ndarray, vals: np.ndarray, first: np.ndarray,
                 counts: np.ndarray) -> np.ndarray:
    """The running value after each element of many runs: run ``r`` holds ``vals[first[r]:
    first[r] + counts[r]]`` and starts from ``base[r]``; the sums are taken one element
    after another, as a Python loop adding them does (``np.cumsum`` of a flat array would
    not start afresh at each run, and a difference of two sums is not the same float)."""
    out = np.empty_like(vals)
    acc = np.array(base, dtype=np.float64)
    order = np.argsort(-counts, kind="stable")  # longest runs first: live runs are a prefix
    starts, lens = first[order], counts[order]
    acc = acc[order]
    live = len(order)
    for j in range(int(lens[0]) if len(lens) else 0):
        while live and lens[live - 1] <= j:
            live -= 1
        at = starts[:live] + j
        acc[:live] += vals[at]
        out[at] = acc[:live]
    return out


def last_before(mask: np.ndarray, start_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each element of runs laid end to end (``start_of[i]``: where element ``i``'s run
    begins), the index of the last earlier element of its run where ``mask`` holds, and
    whether there is one (the index is 0 where there is none)."""
    n = len(mask)
    before = np.full(n, -1)
    before[1:] = np.maximum.accumulate(np.where(mask, np.arange(n), -1))[:-1]
    had = before >= start_of
    return np.maximum(before, 0), had


class MotionModel:
    """Still-air motion of a fleet.

    Parameters
    ----------
    fleet:
        The per-vehicle parameter lists (``speed``, ``climb``, ``agl``,
        ``p_cruise``, ``p_hover``, ``reserve``, ``home_z``, ``leg_over``,
        ``turn_pen``, ``climb_wh``, ``corrected``, ``turn_r``), as the engine holds them. The
        model keeps references: a vehicle's home altitude moving with its carrier is
        seen at once.
    """

    def __init__(self, fleet: Any) -> None:
        self.speed: list[float] = fleet.speed
        self.climb: list[float] = fleet.climb
        self.agl: list[float] = fleet.agl
        self.p_cruise: list[float] = fleet.p_cruise
        self.p_hover: list[float] = fleet.p_hover
        self.reserve: list[float] = fleet.reserve
        self.home_z: list[float] = fleet.home_z
        self.leg_over: list[float] = fleet.leg_over
        self.turn_pen: list[float] = fleet.turn_pen
        self.climb_wh: list[float] = fleet.climb_wh
        self.corrected: list[bool] = fleet.corrected
        #: Fixed wing: seconds per radian of turn at its minimum radius (0: none).
        self.turn_r: list[float] = fleet.turn_r

    # ------------------------------------------------------------------ durations

    def leg_time(self, v: int, dx: float, dy: float, dz: float, speed: float) -> float:
        """Duration of a straight leg of (dx, dy, dz) m at horizontal ``speed``."""
        return max(math.sqrt(dx * dx + dy * dy) / speed, abs(dz) / self.climb[v])

    def intent_leg_time(self, v: int, x0: float, y0: float, z0: float, x1: float,
                        y1: float, z1: float) -> float:
        """Duration of a straight leg at cruise speed, as the separation monitor's
        intents compute it (``hypot`` of the horizontal distance)."""
        return max(math.hypot(x1 - x0, y1 - y0) / self.speed[v], abs(z1 - z0) / self.climb[v])

    def climb_time(self, v: int, dz: float) -> float:
        """Duration of a vertical move of ``dz`` m (>= 0): take-off to cruise altitude."""
        return dz / self.climb[v]

    def straight_time(self, v: int, d: float) -> float:
        """Duration of ``d`` m at cruise speed (estimates, meeting a carrier)."""
        return d / self.speed[v]

    def next_change(self, t: float) -> float:
        """The first time after ``t`` the motion changes (a wind change); ``inf``."""
        return _INF

    def straight_times(self, vs: np.ndarray, d: np.ndarray) -> np.ndarray:
        """:meth:`straight_time` for many vehicles at once."""
        return d / np.asarray(self.speed, dtype=np.float64)[vs]

    def corrected_leg(self, v: int, dur: float, dx: float, dy: float, dz: float,
                      durs: list, climbs: list, hx_prev: float, hy_prev: float,
                      cruise: bool) -> tuple[float, float, float]:
        """One leg of a route with the type's calibration corrections (accelerating from
        rest, turning, climbing): the corrected duration and the last heading; appends the
        leg's climb energy to ``climbs``. ``cruise``: a route at cruise speed, whose
        waypoints a fixed wing turns at its minimum radius (R / v per radian)."""
        if dur > 0.0:
            if not durs or not any(durs):
                dur += self.leg_over[v]
            elif dx or dy:
                turn = abs(math.atan2(hx_prev * dy - hy_prev * dx,
                                      hx_prev * dx + hy_prev * dy))
                dur += (self.turn_pen[v] + self.turn_r[v] if cruise
                        else self.turn_pen[v]) * turn
            if dx or dy:
                hx_prev, hy_prev = dx, dy
            climbs.append(max(dz, 0.0) * self.climb_wh[v])
        else:
            climbs.append(0.0)
        return dur, hx_prev, hy_prev

    def route(self, v: int, x0: float, y0: float, z0: float, xs: list, ys: list, zs: list,
              speeds: list | None, hx: float, hy: float
              ) -> tuple[np.ndarray, np.ndarray, float, float, float]:
        """Durations of the legs of a route from (x0, y0, z0) through the waypoints.

        Returns ``(durs, climbs, total, far, top)``: each leg's duration (with the
        calibrated overheads: first leg, turns), each leg's extra climbing energy
        (empty unless the vehicle type is calibrated), their total time, the largest
        horizontal distance from (hx, hy) along the route and its highest altitude.
        The durations and energies are float64 arrays (a model of its own may return
        lists); the loop is compiled (:func:`fleetsim.engine.blocks.route_legs`).
        """
        xa = np.asarray(xs, dtype=np.float64)
        ya = np.asarray(ys, dtype=np.float64)
        durs, climbs, total, top, _, _ = self.route_bounded(
            v, x0, y0, z0, xa, ya, np.asarray(zs, dtype=np.float64), speeds, hx, hy)
        return durs, climbs, total, route_far(x0, y0, xa, ya, hx, hy), top

    def route_bounded(self, v: int, x0: float, y0: float, z0: float, xs: np.ndarray,
                      ys: np.ndarray, zs: np.ndarray, speeds: list | None, hx: float,
                      hy: float) -> tuple[np.ndarray, np.ndarray, float, float, float, float]:
        """:meth:`route` for waypoints given as float64 arrays, with bounds on the
        farthest distance instead of it (:func:`fleetsim.engine.blocks.norm_bounds`):
        ``(durs, climbs, total, top, far_lo, far_hi)``."""
        return route_legs(
            xs, ys, zs, _NO_SPEEDS if speeds is None else np.asarray(speeds, dtype=np.float64),
            float(x0), float(y0), float(z0), float(self.speed[v]), float(self.climb[v]),
            bool(self.corrected[v]), float(self.leg_over[v]),
            float(self.turn_pen[v] + self.turn_r[v] if speeds is None else self.turn_pen[v]),
            float(self.climb_wh[v]), float(hx), float(hy))

    def legs(self, vs: np.ndarray, owner: np.ndarray, prev: np.ndarray, pts: np.ndarray,
             t_start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Durations and energies of many straight legs at cruise, vectorised.

        ``vs[owner[i]]`` flies leg ``i`` from ``prev[i]`` to ``pts[i]`` (x, y, z rows);
        route ``k``'s legs follow one another from time ``t_start[k]``.
        """
        spd = np.asarray(self.speed)[vs][owner]
        climb = np.asarray(self.climb)[vs][owner]
        power = np.asarray(self.p_cruise)[vs][owner]
        d = pts - prev
        dur = np.maximum(np.hypot(d[:, 0], d[:, 1]) / spd, np.abs(d[:, 2]) / climb)
        return dur, power * dur

    def routes_far(self, vs: np.ndarray, owner: np.ndarray, first: np.ndarray,
                   start: np.ndarray, pts: np.ndarray, home: np.ndarray) -> np.ndarray:
        """For :meth:`routes_clear`: each route's largest distance from home (m) over its
        start and waypoints (``first``: index of each route's first waypoint)."""
        return np.maximum(np.hypot(*(start[:, :2] - home).T), np.maximum.reduceat(
            np.hypot(*(pts[:, :2] - home[owner]).T), first))

    @property
    def corrected_vectorised(self) -> bool:
        """Whether :meth:`corrected_legs` (and so the vectorised continuation of route
        blocks of vehicles with calibration corrections) gives what :meth:`route` gives:
        by default, when the model keeps this class's :meth:`route`. Otherwise such routes
        are flown by the vehicle (a model may set it True if it overrides both)."""
        return type(self).route is MotionModel.route

    def corrected_legs(self, vs: np.ndarray, owner: np.ndarray, first: np.ndarray,
                       prev: np.ndarray, pts: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`route` at cruise speed for many routes of vehicles with calibration
        corrections at once, bit for bit: ``vs[owner[i]]`` flies leg ``i`` from ``prev[i]``
        (the previous waypoint, or the route's start) to ``pts[i]``; ``first``: index of
        each route's first leg. Returns each leg's duration (the first leg that moves
        gets the type's overhead, later ones turning from the last horizontal heading
        the turn penalty), its climbing energy, and whether it moves (duration > 0)."""
        vo = vs[owner]
        spd = np.asarray(self.speed)[vo]
        climb = np.asarray(self.climb)[vo]
        d = pts - prev
        dx, dy, dz = d[:, 0], d[:, 1], d[:, 2]
        dur = np.sqrt(dx * dx + dy * dy) / spd
        adz = np.abs(dz)
        with np.errstate(divide="ignore", invalid="ignore"):
            dur = np.where(adz > dur * climb, adz / climb, dur)
        moving = dur > 0.0
        horiz = moving & ((dx != 0.0) | (dy != 0.0))
        start_of = first[owner]
        # The last earlier leg that moved, and that moved horizontally (within the route).
        _, moved = last_before(moving, start_of)
        before, had = last_before(horiz, start_of)
        hx = np.where(had, dx[before], 0.0)
        hy = np.where(had, dy[before], 0.0)
        lead = moving & ~moved
        dur[lead] = dur[lead] + np.asarray(self.leg_over)[vo[lead]]
        turn = np.flatnonzero(horiz & moved)
        if len(turn):
            tx, ty, hxt, hyt = dx[turn], dy[turn], hx[turn], hy[turn]
            # The C library's atan2, as route()'s math.atan2 (numpy's may differ in the
            # last bit).
            ang = libm.arctan2(hxt * ty - hyt * tx, hxt * tx + hyt * ty)
            vt = vo[turn]
            pen = np.asarray(self.turn_pen)[vt] + np.asarray(self.turn_r)[vt]
            dur[turn] = dur[turn] + pen * np.abs(ang)
        climbs = np.where(moving, np.maximum(dz, 0.0) * np.asarray(self.climb_wh)[vo], 0.0)
        return dur, climbs, moving

    # ------------------------------------------------------------------ the reserve

    def route_clear(self, v: int, b: float, power: float, total: float, top: float,
                    far: float) -> bool:
        """Quick test for a whole route: does the battery ``b`` less the route's energy
        (``power`` for ``total`` s) still cover the way home from its farthest point
        ``far`` (with the largest detour) and a landing from its highest ``top``?
        If so, no leg of it reaches the reserve and none needs solving."""
        home_z = self.home_z[v]
        if top < home_z + self.agl[v]:
            top = home_z + self.agl[v]
        return (b - power * total - self.reserve[v]
                - self.p_hover[v] * (top - home_z) / self.climb[v]
                - self.p_cruise[v] / self.speed[v] * MAX_DETOUR * far) > 0.0

    def routes_clear(self, vs: np.ndarray, b_s: np.ndarray, total_e: np.ndarray,
                     start_z: np.ndarray, top_pts: np.ndarray, far: np.ndarray) -> np.ndarray:
        """:meth:`route_clear` for many route continuations at once (``total_e``: their
        energies; ``start_z``, ``top_pts``: start altitude and highest waypoint)."""
        home_z = np.asarray(self.home_z)[vs]
        top = np.maximum(np.maximum(start_z, top_pts), home_z + np.asarray(self.agl)[vs])
        vclimb = np.asarray(self.climb)[vs]
        k = np.asarray(self.p_cruise)[vs] / np.asarray(self.speed)[vs]
        slack = (b_s - total_e - np.asarray(self.reserve)[vs]
                 - np.asarray(self.p_hover)[vs] * (top - home_z) / vclimb
                 - k * MAX_DETOUR * far)
        return slack > 0.0

    def reserve_checker(self, v: int, power: float, hx: float, hy: float, detour: Any = None,
                        box: tuple[float, float, float, float] | None = None
                        ) -> Callable[[float, float, float, float, float, float, float, float],
                                      float]:
        """:meth:`reserve_time` for the legs of one route: ``check(ux, uy, horizon, z_end,
        b0, x0, y0, z0)`` is ``reserve_time(v, power, ux, uy, horizon, z_end, b0, x0, y0,
        z0, hx, hy, detour)`` for a finite ``horizon``, with what is the same for all the
        legs worked out once, and the tests before the quadratic made without asking
        ``detour`` where it is surely 1 at both ends of the leg: ``box = (lo_x, hi_x,
        lo_y, hi_y)``, a point with ``x < lo_x``, ``x > hi_x``, ``y < lo_y`` or ``y >
        hi_y`` (None: no such point). A model with its own ``reserve_time`` gets it for
        each leg."""
        full = self.reserve_time
        limits = self.reserve_limits(v, hx, hy, detour, box)
        if limits is None:
            def check_leg(ux: float, uy: float, horizon: float, z_end: float, b0: float,
                          x0: float, y0: float, z0: float) -> float:
                return full(v, power, ux, uy, horizon, z_end, b0, x0, y0, z0, hx, hy, detour)
            return check_leg
        reserve, p_hover, climb, home_z, low, k, k_far, _, _, lo_x, hi_x, lo_y, hi_y = limits
        hypot = math.hypot

        def check(ux: float, uy: float, horizon: float, z_end: float, b0: float, x0: float,
                  y0: float, z0: float) -> float:
            top = z_end if z_end > z0 else z0
            top = low if low > top else top
            margin = b0 - reserve - p_hover * (top - home_z) / climb
            wx, wy = x0 - hx, y0 - hy
            ex, ey = ux * horizon, uy * horizon
            d0 = hypot(wx, wy)
            d_end = hypot(wx + ex, wy + ey)
            d_far = d0 if d0 > d_end else d_end
            left = margin - power * horizon
            if left - k_far * d_far > 0.0:
                return _INF
            x1, y1 = x0 + ex, y0 + ey
            if (x0 < lo_x or x0 > hi_x or y0 < lo_y or y0 > hi_y) and \
                    (x1 < lo_x or x1 > hi_x or y1 < lo_y or y1 > hi_y):
                # The detour is 1 at both ends: k stays as it is.
                if margin - k * d0 <= 0.0:
                    return 0.0
                if left - k * d_far > 0.0:
                    return _INF
            return full(v, power, ux, uy, horizon, z_end, b0, x0, y0, z0, hx, hy, detour)
        return check

    def reserve_limits(self, v: int, hx: float, hy: float, detour: Any = None,
                       box: tuple[float, float, float, float] | None = None
                       ) -> tuple[float, ...] | None:
        """What the reserve tests of :meth:`reserve_checker` share over a route, as
        :func:`fleetsim.engine.blocks.reserve_verdict` takes them: ``(reserve, p_hover,
        climb, home_z, lowest top, k, k * MAX_DETOUR, hx, hy, lo_x, hi_x, lo_y, hi_y)``
        (``k``: cruise Wh per metre; the box: where the detour is surely 1, see
        :meth:`reserve_checker`). None for a model with its own :meth:`reserve_time`."""
        if type(self).reserve_time is not MotionModel.reserve_time:
            return None
        # The arithmetic of reserve_time, operand for operand.
        k = self.p_cruise[v] / self.speed[v]
        home_z = self.home_z[v]
        if detour is None:  # every point is clear of it
            lo_x, hi_x, lo_y, hi_y = _INF, -_INF, _INF, -_INF
        elif box is None:  # none is
            lo_x, hi_x, lo_y, hi_y = -_INF, _INF, -_INF, _INF
        else:
            lo_x, hi_x, lo_y, hi_y = box
        return tuple(map(float, (self.reserve[v], self.p_hover[v], self.climb[v], home_z,
                                 home_z + self.agl[v], k, k * MAX_DETOUR, hx, hy, lo_x, hi_x,
                                 lo_y, hi_y)))

    def reserve_time(self, v: int, power: float, ux: float, uy: float, horizon: float,
                     z_end: float, b0: float, x0: float, y0: float, z0: float,
                     hx: float, hy: float, detour: Any = None) -> float:
        """Time into a leg at which the battery falls to what the vehicle needs to get home.

        The vehicle needs its reserve plus the energy to fly home at cruise and land:
        ``R + k * D(t) + L`` with ``D(t)`` its horizontal distance to (hx, hy), moving
        at (ux, uy) m/s from (x0, y0), and ``k`` cruise Wh per metre; ``L`` lands it
        from the leg's highest point. With battery ``b0 - p t`` the crossing solves
        ``b0 - R - L - p t = k D(t)``; squaring gives a quadratic in t. ``detour(v, x,
        y, straight)``, if given, is how much longer than the straight line the way home
        is from (x, y) (the larger of the leg's two ends is budgeted for). Returns
        ``inf`` if the point is not reached within ``horizon``.
        """
        k = self.p_cruise[v] / self.speed[v]
        home_z = self.home_z[v]
        # (Conditionals rather than max(): the same values, as max picks them, quicker.)
        top = z_end if z_end > z0 else z0
        low = home_z + self.agl[v]
        top = low if low > top else top
        margin = b0 - self.reserve[v] - self.p_hover[v] * (top - home_z) / self.climb[v]
        wx, wy = x0 - hx, y0 - hy
        d0 = math.hypot(wx, wy)
        end = horizon if horizon != _INF else 0.0
        d_end = math.hypot(wx + ux * end, wy + uy * end)
        d_far = d0 if d0 > d_end else d_end
        # Distance to base is convex along the leg: if the battery left at the end
        # covers the farther end (with the largest detour allowed for), the limit is
        # not reached on this leg.
        if horizon != _INF and \
                margin - power * horizon - k * MAX_DETOUR * d_far > 0.0:
            return _INF
        if detour is not None:
            f0 = detour(v, x0, y0, d0)
            f1 = detour(v, x0 + ux * end, y0 + uy * end, d_end)
            k *= f1 if f1 > f0 else f0
        if margin - k * d0 <= 0.0:
            return 0.0
        if horizon != _INF and margin - power * horizon - k * d_far > 0.0:
            return _INF
        a = ux * ux + uy * uy
        if a == 0.0:  # not moving horizontally: the distance home is constant
            t = (margin - k * math.hypot(wx, wy)) / power if power > 0 else _INF
            return t if 0.0 <= t <= horizon else _INF
        b = 2.0 * (wx * ux + wy * uy)
        c = wx * wx + wy * wy
        k2 = k * k
        qa = power * power - k2 * a
        qb = -(2.0 * margin * power + k2 * b)
        qc = margin * margin - k2 * c
        return first_crossing(qa, qb, qc, margin, power, horizon)

"""Wind: air legs fly the wind triangle.

A vehicle holds its track by heading into the wind: with airspeed ``a`` and the
wind ``W`` split into its components along the track (``w_a``) and across it
(``w_c``), the ground speed is ``g = w_a + sqrt(a**2 - w_c**2)``. A leg takes
``distance / g`` (or its climb time, whichever is longer) and uses power at the
airspeed for that time. A leg with ``|w_c| >= a`` or ``g <= 0`` cannot be flown:
its duration is ``inf`` and the engine refuses it (``leg_refused``, see
:meth:`fleetsim.engine.movement.Movement.fly_route`).

The wind is constant in space, piecewise constant in time (``world.wind.changes``)
and scaled by a power-law altitude profile evaluated at each vehicle type's
cruise height above ground (legs are flown at it). The wind at a leg's start
applies to the whole leg. A gridded field (``world.wind.grid``,
:class:`~fleetsim.engine.windfield.WindField`) varies in space too: a leg flies in
the wind at its midpoint (at its start time), the reserve's time home in the wind at
the midpoint of the way home. Ground and sea vehicles are not affected; nor are
hover power, vertical legs and the policies' travel estimates (still air).

The energy reserve uses the wind-affected way home: the time home from a point
``q`` away is the gauge of the disk of radius ``a`` around ``W`` (convex in
``q``), so along a leg the battery left less the energy home is concave and
crosses the reserve at most once; squaring ``|q(t) - c(t) W| = c(t) a`` (``c``:
the time home the battery still pays for) gives a quadratic in ``t``, as in
still air.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Any

import numpy as np

from fleetsim.engine.motion import MAX_DETOUR, MotionModel, first_crossing
from fleetsim.engine.windfield import WindField

_INF = float("inf")


def wind_vector(speed_mps: float, from_deg: float) -> tuple[float, float]:
    """The (x, y) velocity of a wind of ``speed_mps`` blowing from ``from_deg``
    (degrees clockwise from north, +y): it moves air towards ``from_deg + 180``."""
    th = math.radians(from_deg)
    return -speed_mps * math.sin(th), -speed_mps * math.cos(th)


def ground_speed(airspeed: float, wx: float, wy: float, ux: float, uy: float) -> float:
    """Ground speed along unit track (ux, uy) at ``airspeed`` in wind (wx, wy);
    ``inf``-duration marker ``0.0`` if the track cannot be held (or not advanced)."""
    along = wx * ux + wy * uy
    cross = wx * uy - wy * ux
    disc = airspeed * airspeed - cross * cross
    if disc <= 0.0:
        return 0.0
    g = along + math.sqrt(disc)
    return g if g > 1e-9 else 0.0


def _time_to(airspeed: float, wx: float, wy: float, qx: float, qy: float) -> float:
    """Time to fly (qx, qy) m at ``airspeed`` in wind (wx, wy) (``inf``: it cannot)."""
    d = math.sqrt(qx * qx + qy * qy)
    if d == 0.0:
        return 0.0
    ux, uy = qx / d, qy / d
    cross = wx * uy - wy * ux
    disc = airspeed * airspeed - cross * cross
    if disc <= 0.0:
        return _INF
    g = wx * ux + wy * uy + math.sqrt(disc)
    return d / g if g > 1e-9 else _INF


class WindMotion(MotionModel):
    """Motion in a wind (see the module's docstring).

    Parameters
    ----------
    fleet:
        The engine (``Simulation``): its per-vehicle lists, ``env`` (the clock: the
        wind at the time a leg starts), ``is_air`` and ``scenario.wind``.
    """

    #: Routes with calibration corrections are flown by the vehicle (see :meth:`route`).
    corrected_vectorised = False

    def __init__(self, fleet: Any) -> None:
        super().__init__(fleet)
        self.env = fleet.env
        self.fleet = fleet
        spec = fleet.scenario.wind
        #: The gridded field (None: a uniform wind, ``vectors`` in time).
        self.field = None if spec.grid is None else WindField(spec.grid,
                                                              fleet.scenario.base_dir)
        if self.field is None:
            self.times = [0.0] + [c.t_s for c in spec.changes]
            self.vectors = [wind_vector(spec.speed_mps, spec.from_deg)] + \
                [wind_vector(c.speed_mps, c.from_deg) for c in spec.changes]
            top = max([spec.speed_mps] + [c.speed_mps for c in spec.changes])
        else:
            self.times = self.field.times
            self.vectors = []
            top = self.field.top
        #: Per vehicle: the factor on the reference wind at its cruise height (0:
        #: not an air vehicle).
        self.scale = [
            ((agl / spec.ref_height_m) ** spec.exponent if spec.exponent else 1.0)
            if air else 0.0 for agl, air in zip(fleet.agl, fleet.is_air, strict=True)]
        #: Per vehicle: the strongest wind it will meet (the reserve's worst case).
        self.strongest = [s * top for s in self.scale]

    # ------------------------------------------------------------------ the wind

    def wind_at(self, v: int, t: float, x: float | None = None,
                y: float | None = None) -> tuple[float, float]:
        """Wind (x, y) m/s vehicle ``v`` meets at time ``t`` (at point (x, y) in a
        gridded field; by default where the vehicle is)."""
        k = bisect_right(self.times, t) - 1
        if self.field is None:
            wx, wy = self.vectors[k]
        else:
            if x is None:
                x, y = self.fleet.px[v], self.fleet.py[v]
            wx, wy = self.field.at(k, x, y)
        s = self.scale[v]
        return wx * s, wy * s

    def next_change(self, t: float) -> float:
        """The first time after ``t`` the wind changes (``inf``: never)."""
        k = bisect_right(self.times, t)
        return self.times[k] if k < len(self.times) else _INF

    def time_home(self, v: int, qx: float, qy: float, t: float, x: float | None = None,
                  y: float | None = None) -> float:
        """Time to fly (qx, qy) m (to home from (x, y)) at cruise in the wind at ``t``
        (a gridded field's at the way's midpoint)."""
        if self.field is None:
            wx, wy = self.wind_at(v, t)
        else:
            wx, wy = self.wind_at(v, t, x + 0.5 * qx, y + 0.5 * qy)
        return _time_to(self.speed[v], wx, wy, qx, qy)

    def _ground_time(self, v: int, dx: float, dy: float, dz: float, speed: float,
                     t: float, x0: float | None = None, y0: float | None = None) -> float:
        d = math.sqrt(dx * dx + dy * dy)
        flat = 0.0
        if d > 0.0:
            if self.field is None:
                wx, wy = self.wind_at(v, t)
            else:  # at the leg's midpoint
                if x0 is None:
                    x0, y0 = self.fleet.px[v], self.fleet.py[v]
                wx, wy = self.wind_at(v, t, x0 + 0.5 * dx, y0 + 0.5 * dy)
            g = ground_speed(speed, wx, wy, dx / d, dy / d)
            flat = d / g if g > 0.0 else _INF
        return max(flat, abs(dz) / self.climb[v])

    # ------------------------------------------------------------------ durations

    def leg_time(self, v: int, dx: float, dy: float, dz: float, speed: float) -> float:
        return self._ground_time(v, dx, dy, dz, speed, self.env.now)

    def intent_leg_time(self, v: int, x0: float, y0: float, z0: float, x1: float,
                        y1: float, z1: float) -> float:
        return self._ground_time(v, x1 - x0, y1 - y0, z1 - z0, self.speed[v], self.env.now,
                                 x0, y0)

    def route(self, v: int, x0: float, y0: float, z0: float, xs: list, ys: list, zs: list,
              speeds: list | None, hx: float, hy: float
              ) -> tuple[list[float], list[float], float, float, float]:
        """As :meth:`MotionModel.route`, each leg in the wind at its start; a leg that
        cannot be flown has duration ``inf``."""
        if self.field is None:
            return self._route_uniform(v, x0, y0, z0, xs, ys, zs, speeds, hx, hy)
        spd = self.speed[v]
        top = z0
        total = 0.0
        durs: list[float] = []
        climbs: list[float] = []
        corrected = self.corrected[v]
        hx_prev = hy_prev = 0.0
        px, py, pz = x0, y0, z0
        t = now = self.env.now
        # far: the still-air distance worth the longest way home from the start or a
        # waypoint, in the wind now (the time home is convex along a leg: the ends
        # bound it), so that the base class's route_clear holds as it is.
        if self.strongest[v] >= spd:
            far = _INF
        else:
            far = spd * self.time_home(v, hx - x0, hy - y0, now, x0, y0)
        for i in range(len(xs)):
            x1, y1, z1 = xs[i], ys[i], zs[i]
            dx, dy, dz = x1 - px, y1 - py, z1 - pz
            dur = self._ground_time(v, dx, dy, dz, spd if speeds is None else speeds[i], t,
                                    px, py)
            if corrected:
                dur, hx_prev, hy_prev = self.corrected_leg(v, dur, dx, dy, dz, durs, climbs,
                                                           hx_prev, hy_prev, speeds is None)
            durs.append(dur)
            total += dur
            t += dur
            if far != _INF:
                d = spd * self.time_home(v, hx - x1, hy - y1, now, x1, y1)
                if d > far:
                    far = d
            if z1 > top:
                top = z1
            px, py, pz = x1, y1, z1
        return durs, climbs, total, far, top

    def _route_uniform(self, v: int, x0: float, y0: float, z0: float, xs: list, ys: list,
                       zs: list, speeds: list | None, hx: float, hy: float
                       ) -> tuple[list[float], list[float], float, float, float]:
        """:meth:`route` in a uniform wind, inlined (the same arithmetic as
        :func:`ground_speed` and :func:`_time_to`): the wind is looked up again only
        when a leg starts at or after its next change."""
        spd = self.speed[v]
        climb = self.climb[v]
        s = self.scale[v]
        times, vectors = self.times, self.vectors
        sqrt = math.sqrt
        top = z0
        total = 0.0
        durs: list[float] = []
        climbs: list[float] = []
        corrected = self.corrected[v]
        hx_prev = hy_prev = 0.0
        px, py, pz = x0, y0, z0
        t = now = self.env.now
        k = bisect_right(times, now) - 1
        nxt = times[k + 1] if k + 1 < len(times) else _INF
        wx_now, wy_now = vectors[k][0] * s, vectors[k][1] * s
        wx, wy = wx_now, wy_now
        a2 = spd * spd
        if self.strongest[v] >= spd:
            far = _INF
        else:
            far = spd * _time_to(spd, wx_now, wy_now, hx - x0, hy - y0)
        for i in range(len(xs)):
            x1, y1, z1 = xs[i], ys[i], zs[i]
            dx, dy, dz = x1 - px, y1 - py, z1 - pz
            if t >= nxt:
                k = bisect_right(times, t) - 1
                nxt = times[k + 1] if k + 1 < len(times) else _INF
                wx, wy = vectors[k][0] * s, vectors[k][1] * s
            d = sqrt(dx * dx + dy * dy)
            flat = 0.0
            if d > 0.0:
                sp = spd if speeds is None else speeds[i]
                ux, uy = dx / d, dy / d
                cross = wx * uy - wy * ux
                disc = sp * sp - cross * cross
                g = 0.0
                if disc > 0.0:
                    g = wx * ux + wy * uy + sqrt(disc)
                    if not g > 1e-9:
                        g = 0.0
                flat = d / g if g > 0.0 else _INF
            dur = max(flat, abs(dz) / climb)
            if corrected:
                dur, hx_prev, hy_prev = self.corrected_leg(v, dur, dx, dy, dz, durs, climbs,
                                                           hx_prev, hy_prev, speeds is None)
            durs.append(dur)
            total += dur
            t += dur
            if far != _INF:
                qx, qy = hx - x1, hy - y1
                dq = sqrt(qx * qx + qy * qy)
                if dq != 0.0:
                    ux, uy = qx / dq, qy / dq
                    cross = wx_now * uy - wy_now * ux
                    disc = a2 - cross * cross
                    if disc <= 0.0:
                        far = _INF
                    else:
                        g = wx_now * ux + wy_now * uy + sqrt(disc)
                        if g > 1e-9:
                            dd = spd * (dq / g)
                            if dd > far:
                                far = dd
                        else:
                            far = _INF
            if z1 > top:
                top = z1
            px, py, pz = x1, y1, z1
        return durs, climbs, total, far, top

    def legs(self, vs: np.ndarray, owner: np.ndarray, prev: np.ndarray, pts: np.ndarray,
             t_start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`MotionModel.legs`, in the wind now. A leg that ends after the next
        wind change (its route starting at ``t_start``) gets ``inf``: its route is then
        left for the vehicle to fly leg by leg (in the wind at each leg's start)."""
        vo = vs[owner]
        spd = np.asarray(self.speed)[vo]
        climb = np.asarray(self.climb)[vo]
        power = np.asarray(self.p_cruise)[vo]
        scale = np.asarray(self.scale)[vo]
        k = bisect_right(self.times, self.env.now) - 1
        if self.field is None:
            wx0, wy0 = self.vectors[k]
        else:  # at each leg's midpoint
            wx0, wy0 = self.field.sample(k, 0.5 * (prev[:, 0] + pts[:, 0]),
                                         0.5 * (prev[:, 1] + pts[:, 1]))
        wx, wy = wx0 * scale, wy0 * scale
        d = pts - prev
        dist = np.hypot(d[:, 0], d[:, 1])
        safe = np.where(dist > 0.0, dist, 1.0)
        ux, uy = d[:, 0] / safe, d[:, 1] / safe
        along = wx * ux + wy * uy
        cross = wx * uy - wy * ux
        disc = spd * spd - cross * cross
        g = along + np.sqrt(np.maximum(disc, 0.0))
        ok = (disc > 0.0) & (g > 1e-9)
        flat = np.where(dist > 0.0, np.where(ok, dist / np.where(ok, g, 1.0), _INF), 0.0)
        dur = np.maximum(flat, np.abs(d[:, 2]) / climb)
        nxt = self.next_change(self.env.now)
        if nxt != _INF and len(dur):
            if t_start is None:
                dur[:] = _INF
            else:
                fin = np.where(np.isfinite(dur), dur, 0.0)
                cs = np.cumsum(fin)
                first = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
                base = np.zeros(int(owner.max()) + 1)
                base[owner[first]] = (cs - fin)[first]
                dur[np.asarray(t_start)[owner] + cs - base[owner] > nxt] = _INF
        return dur, power * dur

    # ------------------------------------------------------------------ the reserve

    def _k_worst(self, v: int) -> float:
        """Cruise Wh per metre home against the strongest head wind (``inf``: it may
        not get home at all)."""
        g = self.speed[v] - self.strongest[v]
        return self.p_cruise[v] / g if g > 0.0 else _INF

    def routes_far(self, vs: np.ndarray, owner: np.ndarray, first: np.ndarray,
                   start: np.ndarray, pts: np.ndarray, home: np.ndarray) -> np.ndarray:
        """The still-air distance worth each route's longest way home (from its start
        or a waypoint) in the wind now (see :meth:`route`); ``inf`` for a vehicle that
        a wind at or above its airspeed may keep from home."""
        now = self.env.now
        spd = np.asarray(self.speed)[vs]
        scale = np.asarray(self.scale)[vs]
        k = bisect_right(self.times, now) - 1
        field = self.field

        def equiv(q: np.ndarray, a: np.ndarray, s: np.ndarray, frm: np.ndarray) -> np.ndarray:
            d = np.hypot(q[:, 0], q[:, 1])
            safe = np.where(d > 0.0, d, 1.0)
            ux, uy = q[:, 0] / safe, q[:, 1] / safe
            if field is None:
                wx0, wy0 = self.vectors[k]
            else:  # at the midpoint of the way home
                wx0, wy0 = field.sample(k, frm[:, 0] + 0.5 * q[:, 0], frm[:, 1] + 0.5 * q[:, 1])
            wx, wy = wx0 * s, wy0 * s
            along = wx * ux + wy * uy
            cross = wx * uy - wy * ux
            disc = a * a - cross * cross
            g = along + np.sqrt(np.maximum(disc, 0.0))
            ok = (disc > 0.0) & (g > 1e-9)
            return np.where(d > 0.0, np.where(ok, a * d / np.where(ok, g, 1.0), _INF), 0.0)

        far = np.maximum(equiv(home - start[:, :2], spd, scale, start[:, :2]),
                         np.maximum.reduceat(equiv(home[owner] - pts[:, :2], spd[owner],
                                                   scale[owner], pts[:, :2]), first))
        return np.where(np.asarray(self.strongest)[vs] >= spd, _INF, far)

    def reserve_time(self, v: int, power: float, ux: float, uy: float, horizon: float,
                     z_end: float, b0: float, x0: float, y0: float, z0: float,
                     hx: float, hy: float, detour: Any = None) -> float:
        """Time into a leg at which the battery falls to the reserve plus the energy to
        fly home (in the wind now) and land; ``inf`` if not within ``horizon``.

        With ``c(t) = (b0 - R - L - power t) / (p_cruise * detour)`` the time home the
        battery still pays for and ``q(t)`` the way home, the crossing solves
        ``|q(t) - c(t) W| = c(t) a`` with ``c >= 0`` (one root when the wind is below
        the airspeed ``a``); a stronger wind is searched numerically.
        """
        now = self.env.now
        pc = self.p_cruise[v]
        home_z = self.home_z[v]
        top = max(z0, z_end, home_z + self.agl[v])
        margin = b0 - self.reserve[v] - self.p_hover[v] * (top - home_z) / self.climb[v]
        qx, qy = hx - x0, hy - y0
        end = horizon if horizon != _INF else 0.0
        d0 = math.hypot(qx, qy)
        d_end = math.hypot(qx - ux * end, qy - uy * end)
        k = self._k_worst(v)
        if horizon != _INF and k != _INF and \
                margin - power * horizon - k * MAX_DETOUR * max(d_end, d0) > 0.0:
            return _INF
        f = 1.0
        if detour is not None:
            f = max(detour(v, x0, y0, d0), detour(v, x0 + ux * end, y0 + uy * end, d_end))
        kk = pc * f  # Wh per second of the way home
        if margin - kk * self.time_home(v, qx, qy, now, x0, y0) <= 0.0:
            return 0.0
        if horizon != _INF and margin - power * horizon - \
                kk * self.time_home(v, qx - ux * end, qy - uy * end, now, x0 + ux * end,
                                    y0 + uy * end) > 0.0:
            return _INF  # convex time home: both ends clear, the whole leg is
        a = self.speed[v]
        if self.field is None:
            wx, wy = self.wind_at(v, now)
        else:  # a gridded field: the wind at the midpoint of the way home from the start
            wx, wy = self.wind_at(v, now, x0 + 0.5 * qx, y0 + 0.5 * qy)
        if wx * wx + wy * wy >= a * a:
            return self._reserve_search(v, power, ux, uy, horizon, margin, kk, qx, qy, now,
                                        x0, y0)
        if ux == 0.0 and uy == 0.0:  # not moving horizontally: the time home is constant
            t = (margin - kk * self.time_home(v, qx, qy, now, x0, y0)) / power \
                if power > 0 else _INF
            return t if 0.0 <= t <= horizon else _INF
        c0, c1 = margin / kk, power / kk
        # r(t) = q(t) - c(t) W = A + B t
        ax, ay = qx - c0 * wx, qy - c0 * wy
        bx, by = -ux + c1 * wx, -uy + c1 * wy
        qa = bx * bx + by * by - a * a * c1 * c1
        qb = 2.0 * (ax * bx + ay * by + a * a * c0 * c1)
        qc = ax * ax + ay * ay - a * a * c0 * c0
        return first_crossing(qa, qb, qc, margin, power, horizon)

    def _reserve_search(self, v: int, power: float, ux: float, uy: float, horizon: float,
                        margin: float, kk: float, qx: float, qy: float, now: float,
                        x0: float, y0: float) -> float:
        """The first crossing by sampling and bisection (a wind at or above the
        airspeed: the way home may be impossible from part of the leg)."""
        end = horizon if horizon != _INF else (margin / power if power > 0 else 0.0)

        def left(t: float) -> float:
            return margin - power * t - kk * self.time_home(v, qx - ux * t, qy - uy * t, now,
                                                            x0 + ux * t, y0 + uy * t)

        lo = 0.0
        n = 256
        for i in range(1, n + 1):
            hi = end * i / n
            if left(hi) <= 0.0:
                for _ in range(60):
                    mid = 0.5 * (lo + hi)
                    if left(mid) > 0.0:
                        lo = mid
                    else:
                        hi = mid
                return hi
            lo = hi
        return _INF

"""The arithmetic of a route block in compiled loops (numba): each leg's duration and
climbing energy (:meth:`fleetsim.engine.motion.MotionModel.route`) and the block's leg
rows and ``arrive`` events (:meth:`fleetsim.engine.movement.Movement.fly_route`), with
each leg's energy limit where it is surely not reached, or reached at once.

They do the operations of the plain-Python loops they stand for, in the same order
(``math.sqrt`` and ``math.atan2`` are the C library's, as Python's are), so a run is
the same bit for bit; what they save is the interpreter's work per leg, which is most
of the cost of a long route.

Python's ``math.hypot`` is not the C library's, and the distances home that the energy
reserve is tested against are Python's. The loops bound them instead
(:func:`norm_bounds`): the reserve tests are monotone in the distance (a float
subtraction of a larger product is never larger), so a test that passes with the upper
bound passes with Python's distance, and one that fails with the lower bound fails
with it. A leg whose verdict the bounds leave open is handed back to the caller, who
decides it with Python's distances.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["CLEAR", "TO_EMPTY", "TO_RESERVE", "BY_CALLER", "block_rows", "continued_rows",
           "norm_bounds", "route_legs"]

#: :func:`block_rows` modes: what limits the legs' energy. No leg reaches the reserve
#: (tested for the whole route beforehand).
CLEAR = 0
#: Under engine control: an empty battery (``b / power`` into a leg).
TO_EMPTY = 1
#: The reserve (:meth:`fleetsim.engine.motion.MotionModel.reserve_time`), tested with
#: bounds on the distances home (``limits``: :meth:`~fleetsim.engine.motion.MotionModel.
#: reserve_limits`).
TO_RESERVE = 2
#: Another motion model's reserve: every leg is the caller's.
BY_CALLER = 3

_REL = 1e-15  # > 4 ulps: Python's hypot is within 1 ulp, sqrt(dx*dx + dy*dy) within 2.5
_ABS = 1e-150  # squares below the smallest normal float lose their relative precision


@njit(cache=True)
def norm_bounds(dx, dy):
    """Bounds ``(lo, hi)`` on Python's ``math.hypot(dx, dy)`` for finite ``dx``,
    ``dy``: ``sqrt(dx*dx + dy*dy)`` less and more 1e-15 of itself and 1e-150; (0,
    inf) if the squares overflow."""
    s = math.sqrt(dx * dx + dy * dy)
    if s == math.inf:
        return 0.0, math.inf
    return s * (1.0 - _REL) - _ABS, s * (1.0 + _REL) + _ABS


@njit(cache=True)
def route_legs(xs, ys, zs, speeds, x0, y0, z0, spd, climb, corrected, leg_over, pen,
               climb_wh, hx, hy):
    """Durations of the legs from (x0, y0, z0) through the waypoints ``xs``, ``ys``,
    ``zs`` (at ``speeds[i]``, or ``spd`` where ``speeds`` is empty), with, where
    ``corrected``, the first leg's overhead, the turn penalty ``pen`` per radian and
    each leg's climbing energy. Returns (durations, climbing energies (empty unless
    ``corrected``), their total, the highest altitude over the start and the
    waypoints, and bounds (:func:`norm_bounds`) on the largest horizontal distance
    from (hx, hy) over the start and the waypoints)."""
    n = len(xs)
    durs = np.empty(n)
    climbs = np.empty(n if corrected else 0)
    top = z0
    total = 0.0
    moved = False  # a leg of nonzero duration before this one
    hx_prev = 0.0
    hy_prev = 0.0
    px, py, pz = x0, y0, z0
    by_leg = len(speeds) > 0
    far_lo, far_hi = norm_bounds(x0 - hx, y0 - hy)
    for i in range(n):
        x1, y1, z1 = xs[i], ys[i], zs[i]
        dx, dy, dz = x1 - px, y1 - py, z1 - pz
        dur = math.sqrt(dx * dx + dy * dy) / (speeds[i] if by_leg else spd)
        if abs(dz) > dur * climb:
            dur = abs(dz) / climb
        if corrected:
            if dur > 0.0:
                if not moved:
                    dur += leg_over
                elif dx != 0.0 or dy != 0.0:
                    dur += pen * abs(math.atan2(hx_prev * dy - hy_prev * dx,
                                                hx_prev * dx + hy_prev * dy))
                if dx != 0.0 or dy != 0.0:
                    hx_prev, hy_prev = dx, dy
                climbs[i] = (0.0 if 0.0 > dz else dz) * climb_wh  # (Python's max)
            else:
                climbs[i] = 0.0
            if dur != 0.0:
                moved = True
        durs[i] = dur
        total += dur
        if z1 > top:
            top = z1
        lo, hi = norm_bounds(x1 - hx, y1 - hy)
        if lo > far_lo:
            far_lo = lo
        if hi > far_hi:
            far_hi = hi
        px, py, pz = x1, y1, z1
    return durs, climbs, total, top, far_lo, far_hi


@njit(cache=True)
def reserve_verdict(ux, uy, horizon, z_end, b0, x0, y0, z0, power, limits):
    """The reserve test of :meth:`~fleetsim.engine.motion.MotionModel.reserve_checker`
    for one leg (moving at (ux, uy) m/s for ``horizon`` s from (x0, y0, z0) with
    battery ``b0``), up to the quadratic, with bounds on the distances home: 1 if the
    leg surely does not reach the reserve (the checker says ``inf``), 0 if it reaches
    it at once (the checker says 0), -1 if the bounds do not tell (or the checker
    would solve the quadratic)."""
    reserve, p_hover, climb, home_z, low, k, k_far, hx, hy, lo_x, hi_x, lo_y, hi_y = limits
    top = z_end if z_end > z0 else z0
    top = low if low > top else top
    margin = b0 - reserve - p_hover * (top - home_z) / climb
    wx, wy = x0 - hx, y0 - hy
    ex, ey = ux * horizon, uy * horizon
    d0_lo, d0_hi = norm_bounds(wx, wy)
    _, end_hi = norm_bounds(wx + ex, wy + ey)
    far_hi = d0_hi if d0_hi > end_hi else end_hi
    left = margin - power * horizon
    if left - k_far * far_hi > 0.0:
        return 1
    x1, y1 = x0 + ex, y0 + ey
    if (x0 < lo_x or x0 > hi_x or y0 < lo_y or y0 > hi_y) and \
            (x1 < lo_x or x1 > hi_x or y1 < lo_y or y1 > hi_y):
        if margin - k * d0_lo <= 0.0:
            return 0
        if left - k * far_hi > 0.0:
            return 1
    return -1


@njit(cache=True, inline="always")
def _leg_row(r, v, kind, sensing, t, dur, x0, y0, z0, x1, y1, z1, e, b):
    """Write a leg's row (the leg table's 13 columns) into ``r``: flown from ``t`` for
    ``dur`` s from (x0, y0, z0) to (x1, y1, z1), energy ``e`` out of battery ``b``."""
    r[0] = v
    r[1] = kind
    r[2] = sensing
    r[3] = t
    r[4] = t + dur
    r[5] = x0
    r[6] = y0
    r[7] = z0
    r[8] = x1
    r[9] = y1
    r[10] = z1
    r[11] = e
    r[12] = b - e


@njit(cache=True)
def block_rows(v, kind, sensing, t, x0, y0, z0, b, xs, ys, zs, durs, climbs, corrected,
               power, first_leg, arrive, mode, limits):
    """The leg rows (the leg table's 13 columns) and ``arrive`` events (the event
    log's 12) of a route block flown from time ``t`` at (x0, y0, z0) with battery
    ``b``, legs of zero duration skipped, leg ``k`` of the block with id ``first_leg
    + k``; ``mode`` says what limits a leg's energy (:data:`CLEAR`, :data:`TO_EMPTY`,
    :data:`TO_RESERVE` with ``limits``, :data:`BY_CALLER`). A leg that reaches the
    limit ends there and the block with it (its row, no event).

    Returns (rows, events, each leg's start, the time, waypoint index, battery and
    position it got to, and whether it stopped at the limit): the waypoint index is
    ``len(xs)`` unless a leg's limit was left to the caller (it is that leg's)."""
    n = len(durs)
    m = 0
    for i in range(n):
        if not durs[i] <= 0.0:
            m += 1
    rows = np.empty((m, 13))
    events = np.empty((m, 12))
    starts = np.empty(m)
    k = 0
    n_ev = 0
    stop = False
    i = 0
    while i < n:
        dur = durs[i]
        if dur <= 0.0:
            i += 1
            continue
        x1, y1, z1 = xs[i], ys[i], zs[i]
        if mode != CLEAR:
            if mode == BY_CALLER:
                break
            dx, dy, dz = x1 - x0, y1 - y0, z1 - z0
            if mode == TO_EMPTY:
                t_stop = b / power if power > 0 else math.inf
            else:
                verdict = reserve_verdict(dx / dur, dy / dur, dur, z1, b, x0, y0, z0,
                                          power, limits)
                if verdict < 0:
                    break
                t_stop = math.inf if verdict > 0 else 0.0
            if t_stop < dur:
                f = t_stop / dur
                x1, y1, z1, dur, stop = x0 + f * dx, y0 + f * dy, z0 + f * dz, t_stop, True
        e = power * dur
        if corrected:
            e += climbs[i] * (dur / durs[i])
        _leg_row(rows[k], v, kind, sensing, t, dur, x0, y0, z0, x1, y1, z1, e, b)
        starts[k] = t
        t += dur
        b -= e
        x0, y0, z0 = x1, y1, z1
        k += 1
        if stop:
            i = n
            break
        ev = events[n_ev]
        ev[0] = t
        ev[1] = arrive
        ev[2] = v
        ev[3] = first_leg + n_ev
        ev[4] = -1.0
        ev[5] = -1.0
        ev[6] = x1
        ev[7] = y1
        ev[8] = z1
        ev[9] = np.nan
        ev[10] = -1.0
        ev[11] = -1.0
        n_ev += 1
        i += 1
    return rows[:k], events[:n_ev], starts[:k], t, i, b, x0, y0, z0, stop


_NO_SPEEDS = np.zeros(0)


@njit(cache=True)
def continued_rows(xs, ys, zs, first, counts, x0s, y0s, z0s, t_s, b_s, veh, sensing, kind,
                   spd, climb, leg_over, pen, climb_wh, power, hx, hy, reserve, p_hover,
                   home_z, low, k_detour):
    """The leg rows of many routes of vehicles with calibration corrections, each flown
    at cruise speed from the end of its vehicle's route block, as
    :meth:`~fleetsim.engine.movement.Movement.fly_route` lays them out: route ``r``'s
    waypoints are ``first[r]:first[r] + counts[r]`` of ``xs``, ``ys``, ``zs``; it starts
    at (``x0s[r]``, ``y0s[r]``, ``z0s[r]``) at ``t_s[r]`` with battery ``b_s[r]``; the
    other arrays are its vehicle's settings (``pen``: turn penalty and radius per
    radian, ``low``: its lowest cruise altitude over home, ``k_detour``: cruise energy
    per metre times the largest detour).

    A route is laid out only if it is clear of the reserve by the test ``fly_route``
    makes first (:meth:`~fleetsim.engine.motion.MotionModel.route_clear` with the upper
    bound on its farthest distance from home): then no leg of it needs solving. Returns
    (the rows of the routes laid out, one after another; whether each route was; its
    number of rows)."""
    n_r = len(first)
    rows = np.empty((len(xs), 13))
    ok = np.zeros(n_r, np.bool_)
    n_rows = np.zeros(n_r, np.int64)
    k = 0
    for r in range(n_r):
        a = first[r]
        b = a + counts[r]
        durs, climbs, total, top, _, far_hi = route_legs(
            xs[a:b], ys[a:b], zs[a:b], _NO_SPEEDS, x0s[r], y0s[r], z0s[r], spd[r], climb[r],
            True, leg_over[r], pen[r], climb_wh[r], hx[r], hy[r])
        if top < low[r]:
            top = low[r]
        p = power[r]
        if not (b_s[r] - p * total - reserve[r] - p_hover[r] * (top - home_z[r]) / climb[r]
                - k_detour[r] * far_hi) > 0.0:
            continue
        ok[r] = True
        t, bat, x0, y0, z0 = t_s[r], b_s[r], x0s[r], y0s[r], z0s[r]
        k0 = k
        for i in range(b - a):
            dur = durs[i]
            if dur <= 0.0:
                continue
            x1, y1, z1 = xs[a + i], ys[a + i], zs[a + i]
            e = p * dur
            e += climbs[i] * (dur / durs[i])
            _leg_row(rows[k], veh[r], kind, sensing[r], t, dur, x0, y0, z0, x1, y1, z1, e,
                     bat)
            t += dur
            bat -= e
            x0, y0, z0 = x1, y1, z1
            k += 1
        n_rows[r] = k - k0
    return rows[:k], ok, n_rows

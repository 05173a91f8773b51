"""The arithmetic of a route block in compiled loops (numba): each leg's duration and
climbing energy (:meth:`fleetsim.engine.motion.MotionModel.route`) and, for a route
that surely stays clear of the energy reserve, its leg rows and ``arrive`` events
(:meth:`fleetsim.engine.movement.Movement.fly_route`).

Both do the operations of the plain-Python loops they stand for, in the same order
(``math.sqrt`` and ``math.atan2`` are the C library's, as Python's are), so a run is
the same bit for bit; what they save is the interpreter's work per leg, which is most
of the cost of a long route. (Python's ``math.hypot`` is not the C library's: the
route's farthest distance from home is left to the caller.)
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["block_rows", "route_legs"]


@njit(cache=True)
def route_legs(xs, ys, zs, speeds, x0, y0, z0, spd, climb, corrected, leg_over, pen,
               climb_wh):
    """Durations of the legs from (x0, y0, z0) through the waypoints ``xs``, ``ys``,
    ``zs`` (at ``speeds[i]``, or ``spd`` where ``speeds`` is empty), with, where
    ``corrected``, the first leg's overhead, the turn penalty ``pen`` per radian and
    each leg's climbing energy. Returns (durations, climbing energies (empty unless
    ``corrected``), their total, the highest altitude over the start and the
    waypoints)."""
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
        px, py, pz = x1, y1, z1
    return durs, climbs, total, top


@njit(cache=True)
def block_rows(v, kind, sensing, t, x0, y0, z0, b, xs, ys, zs, durs, climbs, corrected,
               power, first_leg, arrive):
    """The leg rows (the leg table's 13 columns) and ``arrive`` events (the event
    log's 12) of a route block flown from time ``t`` at (x0, y0, z0) with battery
    ``b``, none of whose legs reaches the reserve: legs of zero duration are
    skipped; leg ``k`` of the block gets id ``first_leg + k``. Returns (rows,
    events, each leg's start, the block's end)."""
    m = 0
    for i in range(len(durs)):
        if not durs[i] <= 0.0:
            m += 1
    rows = np.empty((m, 13))
    events = np.empty((m, 12))
    starts = np.empty(m)
    k = 0
    for i in range(len(durs)):
        dur = durs[i]
        if dur <= 0.0:
            continue
        x1, y1, z1 = xs[i], ys[i], zs[i]
        e = power * dur
        if corrected:
            e += climbs[i] * (dur / durs[i])
        r = rows[k]
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
        starts[k] = t
        t += dur
        b -= e
        x0, y0, z0 = x1, y1, z1
        ev = events[k]
        ev[0] = t
        ev[1] = arrive
        ev[2] = v
        ev[3] = first_leg + k
        ev[4] = -1.0
        ev[5] = -1.0
        ev[6] = x1
        ev[7] = y1
        ev[8] = z1
        ev[9] = np.nan
        ev[10] = -1.0
        ev[11] = -1.0
        k += 1
    return rows, events, starts, t

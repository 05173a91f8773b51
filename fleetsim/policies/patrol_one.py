"""One vehicle's route extension for :mod:`fleetsim.policies.persistent_patrol`, in
plain Python and one-vehicle compiled loops (:mod:`fleetsim.policies.patrol_walk`).

Most of a patrol's decisions are for one vehicle at a time (back from recharging),
and numpy's per-call cost on arrays of one row then outweighs the work. This is the
same computation as the policy's walk of many vehicles for one vehicle (no timed
zones): the same choices, with the same floating-point operations in the same
order, so the same plans to the bit.
"""

from __future__ import annotations

import weakref

import numpy as np

from fleetsim.planning.altitude import route_pieces
from fleetsim.policies.patrol_walk import first_cell, walk_one
from fleetsim.policy import Plan, Route

#: The walk's tie-break weight (see ``PersistentPatrol._walk_clear``).
TIE = 1e-6


def _rows(a: np.ndarray) -> tuple[tuple, ...]:
    return tuple(map(tuple, a.tolist()))


_new = object.__new__
_route_fields = (Route.waypoints.__set__, Route.alt_agl_m.__set__, Route.sensing.__set__,
                 Route.action_class.__set__)
_plan_fields = (Plan.vehicle.__set__, Plan.actions.__set__, Plan.append.__set__)
_ROUTE_DEFAULTS = (Route.__dataclass_fields__["alt_agl_m"].default,
                   Route.__dataclass_fields__["sensing"].default,
                   Route.__dataclass_fields__["action_class"].default)


def route_plans(vehicles: list[int], ways: list[np.ndarray], append: bool) -> list[Plan]:
    """``[Plan(v, [Route(w)], append) for v, w in zip(vehicles, ways)]``: the same
    frozen objects (the Route's other fields their defaults), each field set through
    its slot. The dataclasses' ``__init__`` sets each through ``object.__setattr__``,
    most of the cost of a patrol's plans for thousands of vehicles."""
    sw, sa, ss, sc = _route_fields
    pv, pa, pp = _plan_fields
    alt, sensing, action_class = _ROUTE_DEFAULTS
    out = []
    for v, w in zip(vehicles, ways, strict=True):
        r = _new(Route)
        sw(r, w)
        sa(r, alt)
        ss(r, sensing)
        sc(r, action_class)
        p = _new(Plan)
        pv(p, v)
        pa(p, [r])
        pp(p, append)
        out.append(p)
    return out


class OneVehicle:
    """The scalar extension of one vehicle's route, for a
    :class:`~fleetsim.policies.persistent_patrol.PersistentPatrol` (after its
    ``reset``; it reads the policy's cells and updates its visits and headings)."""

    def __init__(self, policy) -> None:
        # (a weak reference: the policy holds this, and no cycle keeps them alive; the
        # per-cell rows are tuples, which the garbage collector need not traverse)
        self.policy = weakref.proxy(policy)
        self.nbr = _rows(policy.nbr)
        self.nbr_dist = _rows(policy.nbr_dist)
        self.dirs = _rows(policy.step_dir)
        self.step_t = policy.step_dir.T
        # For a heading along step k the tie-break terms of the steps (``TIE`` times its
        # dot products with them, as the walk of many vehicles takes them for one row): the
        # walk's per-step terms worked out once.
        self.tie_table = np.array([self.tie_dots(h0, h1) for h0, h1 in self.dirs])
        self.centres = policy.centres
        self.centre_rows = _rows(policy.centres)
        self.agl = policy.agl.tolist()
        self.clearance = policy.clearance.tolist()
        self.speed = policy.speed.tolist()
        self.nbr_width = policy.nbr.shape[1]
        self.nbr_size = policy.nbr.size
        #: Whether each step keeps the clearance (1, 0), by cruise height above the
        #: ground and clearance: the policy's step tables, as bytes, once it has them;
        #: until then the answers found leg by leg (2: not known yet).
        self.known_steps: dict[tuple[float, float], bytes] = {}
        self.found_steps: dict[tuple[float, float], bytearray] = {}
        # The first-hop index's buckets as rows of one (buckets, most cells) table:
        # short rows padded with their first cell, at an infinite distance.
        start, end = policy.bucket_start, policy.bucket_end
        width = int((end - start).max())
        col = np.arange(width)
        at = start[:, None] + np.minimum(col, (end - start - 1)[:, None])
        self.bucket_table = policy.bucket_cells_of[at]
        pad = col >= (end - start)[:, None]
        self.bucket_x = np.where(pad, np.inf, policy.centres[self.bucket_table, 0])
        self.bucket_y = np.where(pad, np.inf, policy.centres[self.bucket_table, 1])
        # the buckets' boxes as (2, buckets) rows: x, then y
        self.bucket_lo = np.ascontiguousarray(policy.bucket_lo.T)
        self.bucket_hi = np.ascontiguousarray(policy.bucket_hi.T)
        #: Travel times from a start point at a speed (vehicles leave from a few bases)
        #: to each bucket's box and to each of its cells, kept for up to ~16 MB.
        self.travel_from: dict[tuple[float, float, float], tuple[np.ndarray, np.ndarray]] = {}
        self.travel_kept = max(8, (1 << 21) // self.bucket_x.size)

    def tie_dots(self, h0: float, h1: float) -> np.ndarray:
        """The tie-break term of each step for heading ``(h0, h1)``."""
        st = self.step_t
        return TIE * (h0 * st[0] + h1 * st[1])  # (libm.matmul's sums, term by term)

    def first_cell(self, x: float, y: float, speed: float) -> int:
        """The cell with the highest score ``-last_visit - travel time from (x, y)``:
        ``PersistentPatrol.best_cells(pos, speed, 1)``, reading fewer buckets. The
        buckets whose bound beats the best cell of the most promising bucket are
        read at once; every cell scoring as high as the best is in them."""
        pol = self.policy
        travel = self.travel_from.get((x, y, speed))
        if travel is None:
            if len(self.travel_from) >= self.travel_kept:
                self.travel_from.clear()
            p = np.array([[x], [y]])
            gap = np.maximum(np.maximum(self.bucket_lo - p, p - self.bucket_hi), 0.0)
            travel = self.travel_from[x, y, speed] = (
                np.hypot(gap[0], gap[1]) / speed,
                np.hypot(self.bucket_x - x, self.bucket_y - y) / speed)
        to_box, to_cell = travel
        cell = first_cell(to_box, to_cell, pol.bucket_min_visit, pol.last_visit,
                          self.bucket_table)
        if cell < 0:  # cells tie for the first place: which one is up to scoring every cell
            return int(pol.best_cells_all(np.array([x, y]), speed, 1)[0])
        return int(cell)

    def walk(self, c: int, t: float, h0: float, h1: float, speed: float, until_s: float,
             ks: list[int] | None = None) -> tuple[list[int], float, float]:
        """The greedy steps of a vehicle in cell ``c`` at time ``t`` heading ``(h0, h1)``
        until ``until_s``: the cells it goes to and its final heading (and, in ``ks``,
        the neighbour index of each step). Updates the cells' planned visits. Ties
        are broken as the walk of many vehicles breaks them (weight :data:`TIE`)."""
        cells, ks_ = walk_one(c, t, self.tie_dots(h0, h1), self.tie_table, speed,
                              until_s, self.policy.nbr, self.policy.nbr_dist, self.policy.nbr_pen,
                              self.policy.last_visit)
        if ks is not None:
            ks += ks_.tolist()
        if len(ks_):
            h0, h1 = self.dirs[int(ks_[-1])]
        return cells.tolist(), h0, h1

    def extend(self, vehicle: int, x: float, y: float, t: float, until_s: float, *,
               append: bool, start_z: float | None) -> list[Plan]:
        """The plan of ``vehicle`` whose route ends at ``(x, y)`` at time ``t``:
        :meth:`PersistentPatrol._extend` for one vehicle (no timed zones)."""
        pol = self.policy
        lv = pol.last_visit
        t_start = t
        h0, h1 = pol.heading[vehicle].tolist()
        if h0 != h0:  # no heading yet: counter-clockwise about the area's centre
            cx, cy = pol.centre_of_area.tolist()
            h0, h1 = -(y - cy), x - cx
            norm = float(np.hypot(h0, h1))
            if norm > 0:
                h0, h1 = h0 / norm, h1 / norm
        speed = self.speed[vehicle]
        if append:
            cell = int(pol.end_cell.item(vehicle))
            if cell < 0 or self.centre_rows[cell] != (x, y) or not pol.centres_distinct:
                cell = int(pol.tree.query(np.array([[x, y]]))[1][0])
        else:
            cell = self.first_cell(x, y, speed)
        fx, fy = self.centre_rows[cell]
        dist = float(np.hypot(fx - x, fy - y))
        t = t + dist / speed
        moved = dist > 1e-6
        if moved:
            h0, h1 = (fx - x) / dist, (fy - y) / dist
        if t > lv.item(cell):
            lv[cell] = t
        cells = [cell] if moved else []
        ks: list[int] = []
        if t < until_s:
            more, h0, h1 = self.walk(cell, t, h0, h1, speed, until_s, ks)
            cells += more
        # the steps after the first waypoint: from cell to cell (unless the route
        # goes around a zone first)
        steps = (cell, ks) if moved else (cells[0], ks[1:]) if cells else None
        pol.heading[vehicle] = (h0, h1)
        if not cells:
            return []
        pol.end_cell[vehicle] = cells[-1]
        route = self.centres[cells]
        if moved and pol.zones is not None:
            # A first hop that comes near a zone active while it is flown goes around it.
            t_hop = t_start + 2.0 * dist / speed + pol.timed_slack_s
            if pol.zones.blocked_one(x, y, fx, fy, t_start, t_hop):
                way = pol.zones.route(np.array([x, y]), route[0], t_start, t_hop)
                route = np.vstack([way[:-1], route])
                steps = None
        return self.plan(vehicle, x, y, start_z, route, append, steps)

    def steps_clear(self, vehicle: int, c: int, ks: list[int]) -> bool:
        """Whether the steps ``ks`` (neighbour indices) from cell ``c`` on all keep the
        clearance of ``vehicle`` flown at its cruise height above the ground, by the
        terrain follower's quick test of each leg: the policy's table of all steps
        (:meth:`~fleetsim.policies.persistent_patrol.PersistentPatrol.clear_steps`, the
        same answers) once its walk of many vehicles has made it, else leg by leg
        (:meth:`~fleetsim.planning.altitude.TerrainFollower.leg_clear`, answers kept)."""
        agl, clearance = self.agl[vehicle], self.clearance[vehicle]
        key = (agl, clearance)
        known = self.known_steps.get(key)
        if known is None:
            table = self.policy.step_table(agl, clearance)
            if table is not None:
                known = self.known_steps[key] = table.tobytes()
        width, nbr = self.nbr_width, self.nbr
        if known is not None:
            for k in ks:
                if not known[c * width + k]:
                    return False
                c = nbr[c][k]
            return True
        found = self.found_steps.get(key)
        if found is None:
            found = self.found_steps[key] = bytearray(b"\x02" * self.nbr_size)
        follower = self.policy.follower
        need = clearance + follower.margin_m
        rows = self.centre_rows
        for k in ks:
            at = c * width + k
            ok = found[at]
            to = nbr[c][k]
            if ok == 2:
                (ax, ay), (bx, by) = rows[c], rows[to]
                ok = found[at] = follower.leg_clear(
                    (ax, ay, follower.height(ax, ay) + agl),
                    (bx, by, follower.height(bx, by) + agl), need, finest=0)
            if not ok:
                return False
            c = to
        return True

    def plan(self, vehicle: int, x: float, y: float, start_z: float | None,
             route: np.ndarray, append: bool, steps: tuple[int, list[int]] | None = None
             ) -> list[Plan]:
        """:meth:`PersistentPatrol._plans` for one vehicle and a non-empty route
        (``steps``: cell and neighbour indices of the steps after its first waypoint,
        if it goes on from cell to cell)."""
        pol = self.policy
        follower = pol.follower
        agl = self.agl[vehicle]
        if start_z is None:
            start_z = follower.height(x, y) + agl
        need = self.clearance[vehicle] + follower.margin_m
        if steps is not None and len(route) <= 32:
            # follow's quick test of each leg: the first one, then cell to cell
            quick = follower.unchanged_one((x, y, start_z), route[:1], agl, need) and \
                self.steps_clear(vehicle, steps[0], steps[1])
        else:
            quick = follower.unchanged_one((x, y, start_z), route, agl, need)
        if quick:
            return route_plans([vehicle], [route], append)
        (way, heights), = follower.follow(np.array([[x, y, start_z]]), [route],
                                          pol.agl[[vehicle]], pol.clearance[[vehicle]])
        if heights is None:
            actions = [Route(way)]
        elif pol.single_route:
            actions = [Route(way, alt_agl_m=float(heights.max()))]
        else:
            actions = [Route(w, alt_agl_m=a) for w, a in route_pieces(way, heights)]
        return [Plan(vehicle, actions, append=append)]

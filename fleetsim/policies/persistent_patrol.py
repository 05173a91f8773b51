"""Persistent patrol: each vehicle keeps heading for the most idle cells it can reach.

The mission area is cut into square patrol cells of side ``cell_size_m``
(default: the largest sensor footprint diameter), without the cells inside
no-fly zones active for the whole run. The cells are visited at their centres,
evenly spaced at most ``cell_size_m`` apart, the outermost ones ``min(cell_size_m / 2,
h + 0.95 r)`` inside the area's bounds (r the footprint radius, h half the side
of a metrics cell, ``outputs.metrics_cell_m``) and the four corner ones
``h + 0.95 r / sqrt 2`` (at most), so footprints reach the measured cells along
the border and in its corners; a centre outside the area whose cell overlaps it (along a
slanted or curved edge) is moved to the nearest point of the area; a centre farther
than r from a zone avoided all along, with a neighbouring centre in it, is moved towards
the zone until r away, so the ground up to the zone's edge is seen too. A zone with an
active window (``start_s``, ``end_s``) is avoided only while it is active: a step into
(or across) it is taken only if it is flown before the zone starts, early enough to fly
out of it again (the distance to its edge, plus two decision periods), or after it ends.
Its cells are patrolled while it is not active, so the cells beside it keep their
centres; instead each of them has a spur: a vehicle visiting it flies out along the
zone's edge, r / 2 away from it, over the stretch of the edge nearest that cell, and
back, so the ground beside the zone is seen while the zone is active too.
Restricted zones are avoided likewise when the scenario's oversight rules forbid
``enter_restricted``. A cell's idleness is the time since a vehicle last passed its
centre (Machado et al. 2002). Every ``decision_period_s`` the policy extends
each vehicle's route, one neighbouring cell at a time, always to the most
idle neighbour (counting visits already planned for other vehicles), so
vehicles spread out and sweep the least recently seen cells. Ties go to the neighbour straight ahead; a vehicle with
no heading yet turns counter-clockwise about the area's centre, so evenly
spaced vehicles on a ring all circulate the same way (the patrolling
literature's optimum: worst idleness n/k on a ring of n cells with k agents).

All vehicles are planned together, a step of all of them at a time (compiled loops,
:mod:`fleetsim.policies.patrol_walk`). Routes are flown at
the cruise height above the ground, raised where the ground rises between two
cells (:class:`fleetsim.planning.altitude.TerrainFollower`), so every leg keeps
the vehicle's terrain clearance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from scipy.spatial import cKDTree

from fleetsim import libm
from fleetsim.planning.altitude import TerrainFollower, route_pieces
from fleetsim.planning.zones import ZoneWindows, zones_to_avoid
from fleetsim.policies.patrol_cells import OFFSETS, axis_centres, onto_area, spurs, towards_zone
from fleetsim.policies.patrol_one import TIE, OneVehicle
from fleetsim.policies.patrol_walk import walk_step
from fleetsim.policy import Plan, Policy, Route, RoutePlans, non_negative, param, positive


def _optional_positive(v):
    return None if v is None or v > 0 else "a number > 0 or null"


def _neighbourhood(v):
    return None if v in (4, 8) else "4 or 8"


class PersistentPatrol(Policy):
    name = "persistent_patrol"
    action_classes = frozenset({"transit"})

    @dataclass(frozen=True)
    class Params:
        cell_size_m: float | None = param(None, _optional_positive,
                                          "side of a patrol cell; default 2 x footprint radius")
        decision_period_s: float = param(60.0, positive, "how often routes are extended")
        horizon_periods: float = param(3.0, positive,
                                       "how far ahead (in periods) each extension reaches")
        neighbourhood: int = param(8, _neighbourhood, "4 or 8 neighbouring cells")
        launch_spread_s: float = param(0.0, non_negative,
                                       "launch the fleet evenly over this many seconds "
                                       "(each base's vehicles in turn) instead of all at "
                                       "the start, so flights and recharges are staggered")

    def reset(self, ctx) -> None:
        super().reset(ctx)
        p = self.params
        self.decision_period_s = p.decision_period_s
        radius = max((t.sensor.footprint_radius_m for t in ctx.vehicle_types), default=50.0)
        size = p.cell_size_m or 2.0 * radius
        area = ctx.world.mission_area
        if area.is_empty:
            xmin, ymin, xmax, ymax = ctx.world.terrain.bounds
            area = shapely.box(xmin, ymin, xmax, ymax)
        xmin, ymin, xmax, ymax = area.bounds
        # The outermost centres lie at most h + 0.95 radius inside the bounds (h half
        # a metrics cell), so footprints flown along the border reach the centres of
        # the metrics cells along it (with 5 % of the radius to spare: not a
        # tangent); the four corner centres at most h + 0.95 radius / sqrt 2 inside
        # both, so they reach the corner cells' centres.
        half_metric = 0.5 * float(ctx.scenario.outputs.metrics_cell_m)
        inset = min(size / 2.0, half_metric + 0.95 * radius)
        xs, ys = axis_centres(xmin, xmax, size, inset), axis_centres(ymin, ymax, size, inset)
        nx, ny = len(xs), len(ys)
        gx, gy = np.meshgrid(xs, ys)
        corner = min(inset, half_metric + 0.95 * radius / math.sqrt(2.0))
        if nx > 1 and ny > 1:
            for j, i in ((0, 0), (0, -1), (-1, 0), (-1, -1)):
                gx[j, i] = xmin + corner if i == 0 else xmax - corner
                gy[j, i] = ymin + corner if j == 0 else ymax - corner
        cx, cy = gx.ravel(), gy.ravel()
        ok = shapely.contains_xy(area, cx, cy)
        # A centre outside the area whose cell overlaps it (a slanted or curved edge)
        # is moved to the nearest point of the area, so the ground between the edge
        # and the next centre inside is seen too.
        step = (xs[1] - xs[0] if nx > 1 else size, ys[1] - ys[0] if ny > 1 else size)
        cx, cy, ok = onto_area(area, cx, cy, ok, step)
        avoid = zones_to_avoid(ctx.world, ctx.scenario)
        # Zones active for the whole run lose their cells for good; the others are
        # checked against the time of each step (see patrol_walk.walk_step).
        always = [z for z in avoid if z.start_s <= 0.0 and z.end_s >= ctx.duration_s]
        timed = [z for z in avoid if not (z.start_s <= 0.0 and z.end_s >= ctx.duration_s)
                 and z.start_s < ctx.duration_s and z.end_s > 0.0]
        for z in always:
            ok &= ~shapely.contains_xy(z.polygon, cx, cy)
        # A cell next to a zone avoided all along (but not in it) is visited at the point
        # nearest the zone from which the footprint still reaches the zone's edge,
        # so the ground between the cell centre and the zone is seen too.
        for z in always:
            cx[ok], cy[ok] = towards_zone(area, z.polygon, cx[ok], cy[ok], radius, step)
        # Beside a zone active for part of the run the cells in the zone are patrolled
        # while it is not, so the cells next to it keep their centres, and a vehicle
        # visiting one flies out to that point and back (a spur), so the ground up to
        # the zone's edge is seen while the zone is active too.
        spur: dict[int, np.ndarray] = {}
        for z in timed:
            spur.update((k, w) for k, w in spurs(area, z.polygon, cx, cy, ok, radius,
                                                  step).items() if k not in spur)
        grid_id = np.full(nx * ny, -1, dtype=np.int64)
        grid_id[ok] = np.arange(int(ok.sum()))
        self.cell_size = size
        self.centres = np.column_stack([cx[ok], cy[ok]])
        #: Spur of each cell beside a timed zone (its waypoints out and back), by cell.
        self.spur = {int(grid_id[k]): w for k, w in spur.items()}
        self.has_spur = np.zeros(len(self.centres), dtype=bool)
        self.has_spur[list(self.spur)] = True
        if len(self.centres) == 0:
            raise ValueError("persistent_patrol: no patrol cell centre lies in the mission area "
                             f"(cell_size_m={size}); use a smaller cell_size_m")
        ix = (np.flatnonzero(ok) % nx)
        iy = (np.flatnonzero(ok) // nx)
        offs = OFFSETS[p.neighbourhood]
        nbr = np.full((len(self.centres), len(offs)), -1, dtype=np.int64)
        for k, (dx, dy) in enumerate(offs):
            jx, jy = ix + dx, iy + dy
            inside = (jx >= 0) & (jx < nx) & (jy >= 0) & (jy < ny)
            nbr[inside, k] = grid_id[(jy * nx + jx)[inside]]
        # No step may cut across a zone active all along (a diagonal past its corner, say).
        no_fly = [z.polygon for z in always]
        if no_fly:
            rows, cols = np.nonzero(nbr >= 0)
            lines = shapely.linestrings(np.stack([self.centres[rows],
                                                  self.centres[nbr[rows, cols]]], axis=1))
            crossing = np.zeros(len(rows), dtype=bool)
            for poly in no_fly:
                crossing |= shapely.intersects(lines, poly)
            nbr[rows[crossing], cols[crossing]] = -1
        self.zones = ZoneWindows([*always, *timed], clearance_m=10.0) if avoid else None
        n = len(ctx.vehicle_type_index)
        self.speed = np.array([ctx.vehicle_types[i].cruise_speed_mps
                               for i in ctx.vehicle_type_index], dtype=np.float64)
        # Timed zones: which steps come near each (cells, k, zones), and how long it
        # takes, at the slowest speed, to fly out of it from each cell centre.
        self.timed_start = np.array([z.start_s for z in timed], dtype=np.float64)
        self.timed_end = np.array([z.end_s for z in timed], dtype=np.float64)
        self.timed_slack_s = 2.0 * p.decision_period_s
        if timed:
            tz = ZoneWindows(timed, clearance_m=10.0)
            rows, cols = np.nonzero(nbr >= 0)
            cross = np.zeros((*nbr.shape, len(timed)), dtype=bool)
            cross[rows, cols] = tz.crossing(self.centres[rows], self.centres[nbr[rows, cols]])
            self.timed_cross = cross
            slow = float(self.speed.min()) if n else 1.0
            self.timed_escape = np.column_stack([
                tz.escape_time_s(self.centres, slow, j) + size / slow
                * tz.inside(self.centres, [j])[:, 0] for j in range(len(timed))])
        else:
            self.timed_cross = np.zeros((1, 1, 0), dtype=bool)
            self.timed_escape = np.zeros((1, 0))
        #: The timed zones as :func:`~fleetsim.policies.patrol_walk.walk_step` takes them.
        self.timed_args = (self.timed_cross, self.timed_escape, self.timed_start,
                           self.timed_end, self.timed_slack_s)
        self._claimed = np.zeros(len(self.centres), dtype=np.uint8)
        self.nbr = nbr
        self.nbr32 = nbr.astype(np.int32)  # (for the compiled walk: half the memory)
        safe = np.where(nbr >= 0, nbr, 0)
        self.nbr_dist = np.hypot(*(self.centres[safe] - self.centres[:, None, :])
                                 .transpose(2, 0, 1))  # (cells, k) metres
        self.nbr_steps = self.nbr_dist / size  # in cell sides, for tie-breaking
        # the walk's tie-break penalty of each step (+inf: no neighbour there)
        self.nbr_pen = np.where(nbr >= 0, TIE * 1e-3 * self.nbr_steps, np.inf)
        self.nbr_has = (nbr >= 0).any(axis=1)
        self.step_dir = np.array(offs, dtype=np.float64)
        self.step_dir /= np.hypot(*self.step_dir.T)[:, None]
        self.tree = cKDTree(self.centres)
        #: The cell each vehicle's last planned route ends at (-1: none yet), a guess
        #: checked against where its plan ends (see :meth:`nearest_cells`).
        self.end_cell = np.full(n, -1, dtype=np.int64)
        self.centres_distinct = len(np.unique(self.centres, axis=0)) == len(self.centres)
        self.last_visit = np.zeros(len(self.centres))
        self._build_buckets(ix, iy)
        self.centre_of_area = np.array(area.centroid.coords[0])
        self.heading = np.full((n, 2), np.nan)
        types = [ctx.vehicle_types[i] for i in ctx.vehicle_type_index]
        self.agl = np.array([t.cruise_altitude_agl_m for t in types], dtype=np.float64)
        self.clearance = np.array([t.terrain_clearance_m for t in types], dtype=np.float64)
        self.terrain = ctx.world.terrain
        self.follower = TerrainFollower(ctx.world.terrain)
        #: One Route per plan, at the highest height its legs need (True), or
        #: pieces of the route at the height each needs (False).
        self.single_route = False
        # Staggered launches: vehicle k of a base's m goes up at k / m x the spread.
        self.launch_at = np.zeros(n)
        if p.launch_spread_s > 0 and n:
            _, base = np.unique(np.asarray(ctx.home_xy), axis=0, return_inverse=True)
            base = base.ravel()
            for b in np.unique(base).tolist():
                members = np.flatnonzero(base == b)
                self.launch_at[members] = p.launch_spread_s * np.arange(len(members)) \
                    / len(members)
        self.waiting = np.zeros(n, dtype=bool)  # on the ground until its launch time
        self._one = OneVehicle(self)
        self._step_tables: dict[tuple[float, float], np.ndarray] = {}

    #: Pick first hops through the bucket index and walk single vehicles on their
    #: own (True), or score every cell and walk them as a fleet of one (False: the
    #: same plans, slower; kept for benchmarks/policy_cost.py).
    fast = True
    #: Side of a bucket of the first-hop index, in cells.
    bucket_cells = 8

    def _build_buckets(self, ix: np.ndarray, iy: np.ndarray) -> None:
        """The first-hop index: the cells in square buckets of ``bucket_cells`` cells
        a side, each bucket with the bounding box of its cell centres and a lower
        bound of its cells' last visits (visits only ever get later, so a bound
        once true stays true; it is tightened whenever the bucket is read)."""
        b = self.bucket_cells
        bx, by = ix // b, iy // b
        key = by * (int(bx.max()) + 1) + bx
        order = np.argsort(key, kind="stable")
        keys, start = np.unique(key[order], return_index=True)
        self.bucket_cells_of = order  # cells grouped by bucket, ascending within each
        self.bucket_start = start
        self.bucket_end = np.append(start[1:], len(order))
        c = self.centres[order]
        self.bucket_lo = np.column_stack([np.minimum.reduceat(c[:, 0], start),
                                          np.minimum.reduceat(c[:, 1], start)])
        self.bucket_hi = np.column_stack([np.maximum.reduceat(c[:, 0], start),
                                          np.maximum.reduceat(c[:, 1], start)])
        self.bucket_min_visit = np.zeros(len(keys))
        self.bucket_of = np.empty(len(order), dtype=np.int64)  # each cell's bucket
        self.bucket_of[order] = np.repeat(np.arange(len(keys)), self.bucket_end - start)

    def best_cells(self, pos: np.ndarray, speed: float, m: int) -> np.ndarray:
        """The ``m`` cells with the highest score ``-last_visit - travel time from pos``
        (best first, ties by cell index), reading only the buckets that could hold
        one: a bucket's best possible score is its last-visit bound minus the travel
        time to its box, and buckets are read best bound first until the ``m``-th
        best score found beats every unread bucket's bound."""
        if not self.fast:
            return self.best_cells_all(pos, speed, m)
        gap = np.maximum(np.maximum(self.bucket_lo - pos, pos - self.bucket_hi), 0.0)
        bound = -self.bucket_min_visit - np.hypot(gap[:, 0], gap[:, 1]) / speed
        order = np.argsort(-bound, kind="stable")
        cells, scores = [], []
        found = 0
        i, step = 0, 4
        thr = -np.inf
        while i < len(order):
            take = order[i:i + step]
            i += step
            step *= 2
            # the cells of buckets ``take``, bucket after bucket, in one gather
            lo, n_of = self.bucket_start[take], self.bucket_end[take] - self.bucket_start[take]
            first = np.cumsum(n_of) - n_of
            cs = self.bucket_cells_of[np.repeat(lo - first, n_of) + np.arange(int(n_of.sum()))]
            lv = self.last_visit[cs]
            self.bucket_min_visit[take] = np.minimum.reduceat(lv, first)
            cells.append(cs)
            scores.append(-lv - np.hypot(self.centres[cs, 0] - pos[0],
                                         self.centres[cs, 1] - pos[1]) / speed)
            found += len(cs)
            if found >= m:
                thr = float(-np.partition(-np.concatenate(scores), m - 1)[m - 1])
                # the bounds are exact up to rounding: keep a margin
                if i >= len(order) or bound[order[i]] < thr - 1e-9 * (abs(thr) + 1.0):
                    break
        # Every cell scoring as high as the m-th best is among those read.
        return _top(np.concatenate(cells), np.concatenate(scores), m)

    def best_cells_all(self, pos: np.ndarray, speed: float, m: int) -> np.ndarray:
        """:meth:`best_cells` by scoring every cell."""
        travel = np.hypot(*(self.centres - pos).T) / speed
        return _top(np.arange(len(travel)), -self.last_visit - travel, m)

    def nearest_cells(self, v: np.ndarray, xy: np.ndarray) -> np.ndarray:
        """The cells whose centres are nearest to ``xy`` (vehicles ``v``'s plan ends):
        ``tree.query``, except where a plan ends exactly at the centre of the cell its
        last route ends at (the patrol's own routes), which is then that cell."""
        guess = self.end_cell[v]
        hit = guess >= 0
        if self.centres_distinct and hit.any():
            at = np.flatnonzero(hit)
            hit[at] = (self.centres[guess[at]] == xy[at]).all(axis=1)
        else:
            hit[:] = False
        if hit.all():
            return guess
        cell = guess.copy()
        miss = np.flatnonzero(~hit)
        cell[miss] = self.tree.query(xy[miss])[1]
        return cell

    def decide(self, now_s, fleet, requests):
        if len(requests) == 1:  # (most often: one vehicle back from recharging)
            r = requests[0]
            fresh = [r.vehicle] if r.reason in ("start", "idle", "recharged") else []
            periodic = [r.vehicle] if r.reason == "periodic" else []
        else:
            fresh = sorted({r.vehicle for r in requests
                            if r.reason in ("start", "idle", "recharged")})
            periodic = {r.vehicle for r in requests if r.reason == "periodic"}
            if fresh:  # (a difference with nothing would copy the set)
                periodic.difference_update(fresh)
            periodic = sorted(periodic)
        if self.params.launch_spread_s > 0:
            begun = {r.vehicle for r in requests if r.reason == "start"}
            later = {v for v in begun if self.launch_at[v] > now_s + 1e-9}
            if later:
                self.waiting[sorted(later)] = True
                fresh = [v for v in fresh if v not in later]
            due = {v for v in periodic if self.waiting[v] and self.launch_at[v] <= now_s + 1e-9}
            if due:
                self.waiting[sorted(due)] = False
                fresh = sorted(set(fresh) | due)
                periodic = [v for v in periodic if v not in due]
        horizon = self.params.horizon_periods * self.decision_period_s
        parts = []
        if fresh:
            v = np.array(fresh, dtype=np.int64)
            xy, t = fleet.plan_end(v)
            z = self.start_height(v, fleet.positions(v))
            parts.append(self._extend(v, xy, t, now_s + horizon, append=False, start_z=z))
        if periodic:
            v = np.array(periodic, dtype=np.int64)
            states = fleet.states(v)
            v = v[np.isin(states, ("moving", "holding", "takeoff"))]
            if len(v):
                xy, t = fleet.plan_end(v)
                due = t < now_s + 1.5 * self.decision_period_s
                if due.any():
                    parts.append(self._extend(v[due], xy[due], t[due], now_s + horizon,
                                              append=True))
        # (one part as it is: a RoutePlans stays whole for the engine)
        return parts[0] if len(parts) == 1 else [p for part in parts for p in part]

    def start_height(self, v: np.ndarray, xyz: np.ndarray) -> np.ndarray:
        """Height above the datum vehicles ``v`` at ``xyz`` start their next route from:
        where they are, or, on the ground, the cruise height they take off to."""
        if len(v) == 1:  # one vehicle: the same heights, without numpy's per-call cost
            x, y, z = xyz[0].tolist()
            h = self.follower.height(x, y)
            return np.array([h + float(self.agl[v[0]]) if z - h < 1.0 else z])
        h = self.terrain.height_at(xyz[:, 0], xyz[:, 1])
        z = np.asarray(xyz[:, 2], dtype=np.float64)
        return np.where(z - h < 1.0, h + self.agl[v], z)

    def _allowed_at(self, cells: np.ndarray, depart: np.ndarray, arrive: np.ndarray
                    ) -> np.ndarray:
        """Whether ``cells`` may be flown to over ``[depart, arrive]`` (arrays of one
        shape): not inside a timed zone that is (or soon will be) active then."""
        ok = np.ones(np.shape(cells), dtype=bool)
        for j in range(len(self.timed_start)):
            esc = self.timed_escape[cells, j]
            ok &= ~((esc > 0) & (arrive + esc + self.timed_slack_s >= self.timed_start[j])
                    & (depart < self.timed_end[j]))
        return ok

    def _extend(self, v, xy, t, until_s, *, append, start_z=None):
        """Plans for vehicles ``v``: greedy routes from ``xy`` at times ``t`` until
        ``until_s``, raised where the terrain needs it. ``start_z``: the heights the
        vehicles start from (default: the cruise height above the ground at ``xy``)."""
        if len(v) == 1 and self.fast and len(self.timed_start) == 0:
            # one vehicle (back from recharging, say): without numpy's per-call cost
            x, y = xy[0].tolist()
            return self._one.extend(int(v[0]), x, y, float(t[0]), until_s, append=append,
                                    start_z=None if start_z is None else float(start_z[0]))
        routes, clear, length = self._walk_clear(v, xy, t, until_s, append=append)
        return self._plans(v, xy, routes, append=append, start_z=start_z, clear=clear,
                           clear_length=length)

    def _plans(self, v, xy, routes, *, append, start_z=None, action_class=None, clear=None,
               clear_length=0.0):
        """Route plans (terrain following) for vehicles ``v`` starting at ``xy``
        (``routes[i]``: waypoints of vehicle ``v[i]``, may be empty; ``clear``: which
        are known to keep their clearance, see :meth:`_walk_clear`, and
        ``clear_length`` the length of all their legs if all are)."""
        v = np.asarray(v, dtype=np.int64)
        rows = [i for i, r in enumerate(routes) if len(r)]
        if not rows:
            return []
        idx = np.array(rows, dtype=np.int64)
        vs = v[idx]
        # (each route kept has a waypoint: more than 32 routes, more than 32 waypoints)
        if clear is not None and bool(clear[idx].all()) \
                and (len(rows) > 32 or sum(len(routes[i]) for i in rows) > 32) \
                and self.follower.coarse_for(clear_length):
            # every leg known to keep its clearance, by the test follow would make
            if action_class is None:
                return RoutePlans(vs, [routes[i] for i in rows], append)
            raised = [(routes[i], None) for i in rows]
        else:
            if start_z is None:
                start_z = self.terrain.height_at(xy[:, 0], xy[:, 1]) + self.agl[v]
            starts = np.column_stack([xy[idx], np.asarray(start_z, dtype=np.float64)[idx]])
            raised = self.follower.follow(starts, [routes[i] for i in rows], self.agl[vs],
                                          self.clearance[vs],
                                          clear=None if clear is None else clear[idx])
        plans = []
        kw = {} if action_class is None else {"action_class": action_class}
        for vehicle, (way, heights) in zip(vs.tolist(), raised, strict=True):
            if heights is None:
                actions = [Route(way, **kw)]
            elif self.single_route:
                actions = [Route(way, alt_agl_m=float(heights.max()), **kw)]
            else:
                actions = [Route(w, alt_agl_m=a, **kw) for w, a in route_pieces(way, heights)]
            plans.append(Plan(vehicle, actions, append))
        return plans

    def _walk(self, v, xy, t, until_s, *, append):
        """Greedy routes (waypoints per vehicle) for vehicles ``v`` from ``xy`` at times
        ``t`` until ``until_s``."""
        return self._walk_clear(v, xy, t, until_s, append=append)[0]

    def step_table(self, agl: float, clearance: float) -> np.ndarray | None:
        """The table :meth:`clear_steps` made for vehicles at cruise height ``agl`` above
        the ground with ``clearance``, if it has (None: not yet)."""
        return self._step_tables.get((agl, clearance))

    def clear_steps(self, v: np.ndarray) -> np.ndarray | None:
        """(cells, k) bool: which steps between neighbouring cell centres keep the
        terrain clearance of vehicles ``v`` (by ``TerrainFollower.keeps``, flown at
        their cruise height above the ground), if they are all of one height and
        clearance; else None. Worked out for all steps on first use."""
        agl, clearance = self.agl[v], self.clearance[v]
        if len(v) == 0 or np.ptp(agl) > 0 or np.ptp(clearance) > 0:
            return None
        key = (float(agl[0]), float(clearance[0]))
        table = self._step_tables.get(key)
        if table is None:
            rows, cols = np.nonzero(self.nbr >= 0)
            z = self.terrain.height_at(self.centres[:, 0], self.centres[:, 1]) + agl[0]
            to = self.nbr[rows, cols]
            table = np.zeros(self.nbr.shape, dtype=bool)
            table[rows, cols] = self.follower.keeps(
                np.column_stack([self.centres[rows], z[rows]]),
                np.column_stack([self.centres[to], z[to]]),
                clearance[0] + self.follower.margin_m)
            self._step_tables[key] = table
        return table

    def _walk_clear(self, v, xy, t, until_s, *, append):
        """:meth:`_walk`, and which routes are known to keep their vehicle's terrain
        clearance (flown from ``xy`` at the cruise height above the ground): steps
        between cell centres only, each known to (see :meth:`clear_steps`)."""
        timed = len(self.timed_start) > 0
        t_start = t
        t = t.copy()
        pos = xy.copy()
        heading = self.heading[v].copy()
        fresh = np.isnan(heading[:, 0])
        if fresh.any():
            rel = pos[fresh] - self.centre_of_area
            tangent = np.column_stack([-rel[:, 1], rel[:, 0]])
            norm = np.hypot(*tangent.T)
            tangent[norm > 0] /= norm[norm > 0, None]
            heading[fresh] = tangent
        speed = self.speed[v]
        # First hop. A vehicle coming from elsewhere (base, hover point) picks, one
        # after the other, the cell with the best trade of idleness against travel
        # time (a cell seen 10 min earlier is worth 10 min more flying), so a swarm
        # leaving one base fans out instead of moving as a clump.
        if append:
            cell = self.nearest_cells(v, pos)
        else:
            # Vehicles starting from one place (a base) take that place's best cells
            # in order, one each.
            cell = np.empty(len(v), dtype=np.int64)
            if len(v) == 1:  # one vehicle (back from recharging, say): one group
                groups = [np.zeros(1, dtype=np.int64)]
            else:
                _, group = np.unique(pos, axis=0, return_inverse=True)
                groups = [np.flatnonzero(group == g) for g in range(int(group.max()) + 1)]
            for members in groups:
                i = members[0]
                if timed:
                    travel = np.hypot(*(self.centres - pos[i]).T) / speed[i]
                    score = -self.last_visit - travel
                    ok = self._allowed_at(np.arange(len(self.centres)), t[i], t[i] + travel)
                    if ok.any():
                        score = np.where(ok, score, -np.inf)
                    m = min(len(members), len(score), max(1, int(np.isfinite(score).sum())))
                    top = _top(np.arange(len(score)), score, m)
                else:
                    top = self.best_cells(pos[i], speed[i],
                                           min(len(members), len(self.centres)))
                picks = np.resize(top, len(members))
                cell[members] = picks
                arrive = t[members] + np.hypot(*(self.centres[picks] - pos[i]).T) / speed[i]
                np.maximum.at(self.last_visit, picks, arrive)
        first = self.centres[cell]
        dist = np.hypot(*(first - pos).T)
        moved = dist > 1e-6
        t = t + dist / speed
        heading[moved] = (first[moved] - pos[moved]) / dist[moved, None]
        np.maximum.at(self.last_visit, cell, t)
        active = t < until_s
        cur = cell.copy()
        m = len(cur)
        # Routes of an extension from a cell centre, at the cruise height there, and
        # on from centre to centre: known clear if every step is.
        steps_clear = self.clear_steps(v) if append and not timed else None
        clear = dist == 0.0 if steps_clear is not None else np.zeros(m, dtype=bool)
        if m == 1 and not timed and active[0] and self.fast:
            # One vehicle (back from recharging, say): the same greedy steps in one
            # compiled loop, without a matrix product per step.
            more, h0, h1 = self._one.walk(int(cur[0]), float(t[0]), float(heading[0, 0]),
                                          float(heading[0, 1]), float(speed[0]), until_s)
            heading[0] = (h0, h1)
            seq = np.array([[cell[0] if moved[0] else -1, *more]], dtype=np.int64)
            length = 0.0
        else:
            seq, length = self._steps(cur, t, heading, active, speed, until_s, steps_clear,
                                      clear)
            seq[:, 0] = np.where(moved, cell, -1)
        self.heading[v] = heading
        # First hops that come near a zone active while they are flown go around it.
        t_hop = t_start + 2.0 * dist / speed + self.timed_slack_s
        detour = np.zeros(len(v), dtype=bool)
        if self.zones is not None and moved.any():
            rows = np.flatnonzero(moved)
            detour[rows] = self.zones.blocked(xy[rows], first[rows], t_start[rows], t_hop[rows])
        # Each vehicle's cells in order, all gathered at once, then cut per vehicle.
        valid = seq >= 0
        counts = valid.sum(axis=1)
        cells = seq[valid]
        ends = np.flatnonzero(counts)
        self.end_cell[v[ends]] = cells[np.cumsum(counts)[ends] - 1]
        routes = _cut(self.centres[cells], counts)
        if self.spur and self.has_spur[cells].any():
            # the cells beside a timed zone: out along the zone's edge and back
            for row, cs in enumerate(_cut(cells, counts)):
                if self.has_spur[cs].any():
                    clear[row] = False
                    routes[row] = np.vstack([np.vstack([self.centres[c], self.spur[c]])
                                             if self.has_spur[c] else self.centres[c][None]
                                             for c in cs.tolist()])
        clear &= ~detour
        for row in np.flatnonzero(detour & (counts > 0)).tolist():
            route = routes[row]
            way = self.zones.route(xy[row], route[0], float(t_start[row]), float(t_hop[row]))
            routes[row] = np.vstack([way[:-1], route])
        return routes, clear, length

    def _steps(self, cur, t, heading, active, speed, until_s, steps_clear, clear):
        """The greedy steps of vehicles in cells ``cur`` at times ``t`` with ``heading``
        (those ``active``) until ``until_s``, one neighbouring cell at a time
        (:func:`~fleetsim.policies.patrol_walk.walk_step`, updating all five arrays and
        the cells' planned visits): the cells stepped to, (vehicles, 1 + steps) with
        column 0 left for the first hop (-1: no step), and the length of all steps,
        if ``steps_clear`` (then ``clear`` tells which vehicles' steps all are in it)."""
        m = len(cur)
        seq = np.full((16, m), -1, dtype=np.int64)  # a row per step, each written in turn
        use_clear = steps_clear is not None
        moved_dist = np.empty(m)
        length = 0.0  # of all steps (all the legs of the routes, if all are clear)
        timed = self.timed_args
        step_t = self.step_dir.T
        act = np.flatnonzero(active)  # only vehicles still short of the horizon
        col = 1
        while len(act):
            if col == len(seq):
                seq = np.concatenate([seq, np.full((col, m), -1, dtype=np.int64)])
            act, n = walk_step(act, libm.matmul(heading[act], step_t), TIE, cur, t, heading,
                               active, speed,
                               until_s, self.nbr32, self.nbr_dist, self.nbr_pen, self.nbr_has,
                               self.step_dir, self.last_visit, self._claimed, seq[col],
                               steps_clear if use_clear else _NO_TABLE, use_clear,
                               clear, moved_dist, *timed)
            if use_clear:
                length += float(moved_dist[:n].sum())
            col += 1
        return seq[:col].T, length


#: The step table :func:`~fleetsim.policies.patrol_walk.walk_step` is given without one.
_NO_TABLE = np.zeros((1, 1), dtype=bool)


def _cut(a: np.ndarray, counts: np.ndarray) -> list[np.ndarray]:
    """``a`` cut into consecutive pieces of ``counts`` rows (views, as ``np.split``)."""
    ends = np.cumsum(counts).tolist()
    return [a[i:j] for i, j in zip([0, *ends[:-1]], ends, strict=True)]


def _top(cells: np.ndarray, score: np.ndarray, m: int) -> np.ndarray:
    """The ``m`` of ``cells`` with the highest ``score``, best first, ties by cell index
    (also where cells tie for the m-th place: the lowest indexes are taken). Built on
    a partition of values and a stable sort, it picks the same cells on every
    processor (an ``argpartition`` does not: which of tied items it returns depends
    on the processor's sorting code, AVX-512 or not)."""
    if m < len(score):
        keep = score >= -np.partition(-score, m - 1)[m - 1]
        cells, score = cells[keep], score[keep]
    return cells[np.lexsort((cells, -score))][:m]

"""Detection of targets during legs: the sensing part of the in-leg monitor.

:class:`TargetDetection` finds, for a batch of sensing legs, when each target
enters a sensor footprint with terrain line of sight, and draws whether it is
detected (the lateral range curve of the vehicle type's detection model). The
:class:`~fleetsim.engine.monitor.Monitor` runs it in its window passes.
"""

from __future__ import annotations

import math
from itertools import chain, repeat

import numpy as np

from fleetsim import libm
from fleetsim.geometry import closest_approach, disc_intervals

_EPS = 1e-9
_LOS_SAMPLES = 4


def lateral_range_probability(model: str, distance_m: np.ndarray,
                              sweep_width_m: float | np.ndarray) -> np.ndarray:
    """Probability of detection on one pass at lateral range ``distance_m``.

    ``definite_range``: 1 (the caller limits the range to the footprint).
    ``inverse_cube``: p(x) = 1 - exp(-W^2 / (4 pi x^2)), whose integral over x is W.
    ``exponential``: p(x) = exp(-2 |x| / W), whose integral over x is W.
    """
    d = np.abs(np.asarray(distance_m, dtype=np.float64))
    sweep_width_m = np.asarray(sweep_width_m, dtype=np.float64)
    if model == "definite_range":
        return np.ones_like(d)
    if model == "inverse_cube":
        with np.errstate(divide="ignore"):
            return -libm.expm1(-(sweep_width_m ** 2) / (4.0 * math.pi * d ** 2))
    if model == "exponential":
        return libm.exp(-2.0 * d / sweep_width_m)
    raise ValueError(f"unknown detection model {model!r}")


def _member(sorted_keys: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Whether each of ``x`` is in ``sorted_keys``."""
    if not len(sorted_keys):
        return np.zeros(len(x), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, x), len(sorted_keys) - 1)
    return sorted_keys[pos] == x


class PointCells:
    """Fixed points (n, 2) counted on a grid of square cells (a summed-area table):
    whether some point may lie within a distance of a query point, for many query
    points at once (False means surely none: the square of cells around the disc holds
    no point)."""

    def __init__(self, xy: np.ndarray, cells: int = 512) -> None:
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        lo = xy.min(axis=0) if len(xy) else np.zeros(2)
        self.x0, self.y0 = float(lo[0]), float(lo[1])
        extent = float((xy.max(axis=0) - lo).max()) if len(xy) else 0.0
        self.size = max(extent / cells, 1.0)
        cx = np.floor((xy[:, 0] - self.x0) / self.size).astype(np.int64)
        cy = np.floor((xy[:, 1] - self.y0) / self.size).astype(np.int64)
        counts = np.zeros((int(cy.max(initial=0)) + 1, int(cx.max(initial=0)) + 1),
                          dtype=np.int64)
        np.add.at(counts, (cy, cx), 1)
        self.total = np.zeros((counts.shape[0] + 1, counts.shape[1] + 1), dtype=np.int64)
        self.total[1:, 1:] = counts.cumsum(axis=0).cumsum(axis=1)

    def any_near(self, xy: np.ndarray, radius) -> np.ndarray:
        """(m,) bool: whether some point may be within ``radius`` (scalar or (m,)) of the
        points ``xy`` (m, 2); True for non-finite queries."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        radius = np.broadcast_to(np.asarray(radius, dtype=np.float64), (len(xy),))
        total, size = self.total, self.size
        ny, nx = total.shape[0] - 1, total.shape[1] - 1
        ok = np.isfinite(xy).all(axis=1) & np.isfinite(radius)
        x, y, rad = (np.where(ok, c, 0.0) for c in (xy[:, 0], xy[:, 1], radius))
        # The cells [a, b) along each axis that the square spans, clamped to the grid.
        ax, bx, ay, by = (
            np.minimum(np.maximum(np.floor((c - o) / size) + e, 0), m).astype(np.intp)
            for c, o, e, m in ((x - rad, self.x0, 0, nx), (x + rad, self.x0, 1, nx),
                               (y - rad, self.y0, 0, ny), (y + rad, self.y0, 1, ny)))
        bx, by = np.maximum(bx, ax), np.maximum(by, ay)
        inside = total[by, bx] - total[ay, bx] - total[by, ax] + total[ay, ax]
        return ~ok | (inside > 0)


class PointGrid:
    """Fixed points (n, 2) binned in square cells of ``cell_m``: the points within a
    distance of many query points at once, as ``cKDTree.query_ball_point`` finds them,
    for the queries whose disc spans at most 2 x 2 cells (the others, and those with a
    point at the very edge of their disc, where rounding could decide, are left to the
    tree)."""

    def __init__(self, xy: np.ndarray, cell_m: float) -> None:
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        self.n = len(xy)
        lo = xy.min(axis=0)
        extent = float((xy.max(axis=0) - lo).max())
        self.size = max(float(cell_m), extent / 2048.0, 1.0)  # at most 2048 x 2048 cells
        self.x0, self.y0 = float(lo[0]), float(lo[1])
        cx = np.floor((xy[:, 0] - self.x0) / self.size).astype(np.int64)
        cy = np.floor((xy[:, 1] - self.y0) / self.size).astype(np.int64)
        self.nx, self.ny = int(cx.max()) + 1, int(cy.max()) + 1
        cell = cy * self.nx + cx
        self.order = np.argsort(cell, kind="stable")  # by cell, then point
        self.start = np.searchsorted(cell[self.order], np.arange(self.nx * self.ny + 1))
        self.px, self.py = xy[self.order, 0], xy[self.order, 1]

    def within(self, xy: np.ndarray, r: np.ndarray):
        """``(query, point, undone)``: the pairs with the point within ``r`` of the
        query (sorted by query, then point), and the queries left out."""
        x, y = xy[:, 0], xy[:, 1]
        pad = r * (1.0 + 1e-6) + 1.0
        with np.errstate(invalid="ignore"):
            fx0 = np.floor((x - pad - self.x0) / self.size)
            fx1 = np.floor((x + pad - self.x0) / self.size)
            fy0 = np.floor((y - pad - self.y0) / self.size)
            fy1 = np.floor((y + pad - self.y0) / self.size)
            fits = (fx1 - fx0 <= 1) & (fy1 - fy0 <= 1)  # (False where not finite)
        undone = np.flatnonzero(~fits)
        q = np.flatnonzero(fits)
        cx0, cx1 = np.maximum(fx0[q], 0), np.minimum(fx1[q], self.nx - 1)
        cy0, cy1 = np.maximum(fy0[q], 0), np.minimum(fy1[q], self.ny - 1)
        meets = (cx0 <= cx1) & (cy0 <= cy1)
        q, cx0, cx1, cy0, cy1 = q[meets], cx0[meets], cx1[meets], cy0[meets], cy1[meets]
        # One or two rows of one or two cells each: a run of points per row.
        two = cy1 > cy0
        e_q = np.concatenate([q, q[two]])
        base = np.concatenate([cy0, cy1[two]]) * self.nx
        lo = self.start[(base + np.concatenate([cx0, cx0[two]])).astype(np.intp)]
        hi = self.start[(base + np.concatenate([cx1, cx1[two]]) + 1).astype(np.intp)]
        cnt = hi - lo
        total = int(cnt.sum())
        pq = np.repeat(e_q, cnt)
        pos = np.arange(total) + np.repeat(lo - (np.cumsum(cnt) - cnt), cnt)
        dx = self.px[pos] - x[pq]
        dy = self.py[pos] - y[pq]
        d2 = dx * dx + dy * dy
        r2 = r[pq] * r[pq]
        margin = 1e-9 * r2 + 1e-6
        inside = d2 <= r2 - margin
        edge = ~inside & (d2 <= r2 + margin)
        if edge.any():
            unsure = np.unique(pq[edge])
            inside &= ~np.isin(pq, unsure)
            undone = np.union1d(undone, unsure)
        pq, pt = pq[inside], self.order[pos[inside]]
        by = np.argsort(pq * self.n + pt)
        return pq[by], pt[by], undone


class TargetDetection:
    """Target detection on sensing legs (a part of :class:`~fleetsim.engine.monitor.Monitor`;
    uses its targets, KD-tree, detection models and random stream)."""

    _grid: PointGrid | None = None  # the targets on a grid, built on first use

    @staticmethod
    def _at(t, kind, v, leg, target, zone, j, t0, t1, p0, p1, value=float("nan")) -> tuple:
        span = t1[j] - t0[j]
        f = (t - t0[j]) / span if span > 0 else 0.0
        x, y, z = (p0[j] + f * (p1[j] - p0[j])).tolist()
        return (float(t), kind, v, leg, target, zone, x, y, z, float(value))

    def _detections(self, sensing, t0, t1, p0, p1, vehicle, leg_id) -> list[tuple]:
        """Targets seen on the sensing legs of a batch (legs in id order).

        A target counts once per stretch in view: one already in the footprint and
        in sight when a leg starts, having been so at the end of the vehicle's
        previous leg, is the same sighting going on, not a new detection.
        """
        idx = np.flatnonzero(sensing)
        pairs_j = np.zeros(0, dtype=np.int64)
        vel = self.velocity
        if len(idx):
            every = len(idx) == len(t0)  # (every leg: no copies)
            a, b = (p0[:, :2], p1[:, :2]) if every else (p0[idx, :2], p1[idx, :2])
            mid = 0.5 * (a + b)
            half = 0.5 * np.hypot(*(b - a).T)
            r = self.radius[vehicle[idx]]
            tree = self._tree
            if vel is not None:  # moving targets: where they are at the batch's middle
                from scipy.spatial import cKDTree
                tm = 0.5 * (float(t0[idx].min()) + float(t1[idx].max()))
                tree = cKDTree(self.targets + vel * tm)
                r = r + self.vmax * np.maximum(np.abs(t0[idx] - tm), np.abs(t1[idx] - tm))
            reach = half + r
            if vel is None:  # from a grid of the targets, the tree for the few left
                k, tgt, ask = self._target_grid(reach).within(mid, reach)
            else:  # the legs with some target near enough (with room to spare)
                bound = float(reach.max()) * (1.0 + 1e-6) + 1.0
                nearest, _ = tree.query(mid, k=1, distance_upper_bound=bound)
                ask = np.flatnonzero(~(nearest > reach * (1.0 + 1e-6) + 1e-3))
                k, tgt = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
            if len(ask):  # all their targets, from the tree
                lists = tree.query_ball_point(mid[ask], reach[ask], return_sorted=True)
                counts = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
                total = int(counts.sum())
                if total:
                    k = np.concatenate([k, np.repeat(ask, counts)])
                    tgt = np.concatenate([tgt, np.fromiter(chain.from_iterable(lists),
                                                           dtype=np.int64, count=total)])
                    if len(k) > total:
                        by = np.argsort(k * len(self.targets) + tgt)
                        k, tgt = k[by], tgt[by]
            pairs_j = idx[k]
        if len(pairs_j) == 0:
            if self.in_view:
                for v in set(self.in_view) & set(np.unique(vehicle).tolist()):
                    del self.in_view[v]
            return []
        j = pairs_j
        c = self.targets[tgt]
        # The leg in the target's frame (exact for a target at constant velocity): the
        # vehicle relative to the target moves linearly too.
        a0, a1 = p0[j, :2], p1[j, :2]
        if vel is not None:
            a0 = a0 - (c + vel[tgt] * t0[j][:, None])
            a1 = a1 - (c + vel[tgt] * t1[j][:, None])
            c = np.zeros_like(c)
        rr = self.radius[vehicle[j]]
        types = self.type_of[vehicle[j]]
        models = np.array(self.det_model, dtype=object)[types]
        widths = np.asarray(self.det_width)[types]
        t_det = np.full(len(j), np.nan)
        lateral = np.full(len(j), np.nan)
        at_start = np.zeros(len(j), dtype=bool)
        in_view_end = np.zeros(len(j), dtype=bool)
        definite = models == "definite_range"
        if definite.any():
            m = np.flatnonzero(definite)
            t_in, t_out = disc_intervals(t0[j[m]], t1[j[m]], a0[m], a1[m], c[m], rr[m])
            ok = ~np.isnan(t_in)
            m, t_in, t_out = m[ok], t_in[ok], t_out[ok]
            t_in = np.maximum(t_in, t0[j[m]])
            t_det[m] = self._first_visible(j[m], tgt[m], t_in, t_out, t0, t1, p0, p1)
            at_start[m] = t_in <= t0[j[m]] + _EPS
            end = t_out >= t1[j[m]] - _EPS
            if end.any():
                me = m[end]
                in_view_end[me] = ~np.isnan(self._first_visible(
                    j[me], tgt[me], t1[j[me]], t1[j[me]], t0, t1, p0, p1))
            _, d = closest_approach(t0[j[m]], t1[j[m]], a0[m], a1[m], c[m])
            lateral[m] = d
        curve = ~definite
        if curve.any():
            m = np.flatnonzero(curve)
            t_c, d = closest_approach(t0[j[m]], t1[j[m]], a0[m], a1[m], c[m])
            u = self.rng.random(len(m))
            p = np.zeros(len(m))
            for model in set(models[m].tolist()):
                sel = models[m] == model
                p[sel] = lateral_range_probability(model, d[sel], widths[m][sel])
            hit = (d <= rr[m]) & (u < p)
            m, t_c, d = m[hit], t_c[hit], d[hit]
            t_det[m] = self._first_visible(j[m], tgt[m], t_c, t_c, t0, t1, p0, p1)
            lateral[m] = d
        # The pairs in leg order (then target). A sighting goes on from the vehicle's
        # previous leg (no new detection) if the target is in view from the start and was
        # in view at the end of that leg: of the leg before it in this batch (nothing, if
        # that leg had no candidates), or, for its first leg here, of the last batch.
        order = np.argsort(j, kind="stable")
        j, tgt, t_det, lateral = j[order], tgt[order], t_det[order], lateral[order]
        at_start, in_view_end = at_start[order], in_view_end[order]
        by_vehicle = np.lexsort((leg_id, vehicle))
        prev_of = np.full(len(t0), -1, dtype=np.int64)
        same = vehicle[by_vehicle][1:] == vehicle[by_vehicle][:-1]
        prev_of[by_vehicle[1:][same]] = by_vehicle[:-1][same]
        last_leg = np.full(self.sim.n, -1, dtype=np.int64)
        np.maximum.at(last_leg, vehicle, np.arange(len(t0)))  # each vehicle's last leg here
        seen = ~np.isnan(t_det)
        nt = len(self.targets)
        carried = self.in_view
        going_on = np.zeros(len(j), dtype=bool)
        maybe = np.flatnonzero(at_start & seen & (t_det <= t0[j] + _EPS))
        if len(maybe):
            prev = prev_of[j[maybe]]
            key = np.where(prev >= 0, prev, vehicle[j[maybe]]) * nt + tgt[maybe]
            ended = np.sort(j[in_view_end] * nt + tgt[in_view_end])  # (leg, target) in view
            held = np.array(sorted(v * nt + t for v, ts in carried.items() for t in ts),
                            dtype=np.int64)  # (vehicle, target) in view after the last batch
            going_on[maybe] = np.where(prev >= 0, _member(ended, key), _member(held, key))
        new = np.flatnonzero(seen & ~going_on)
        out = self._detection_events(new, j, tgt, t_det, lateral, vehicle, leg_id,
                                     t0, t1, p0, p1)
        # What each vehicle has in view after its last leg of this batch.
        for v in [v for v in carried if last_leg[v] >= 0]:
            del carried[v]
        last = np.flatnonzero(in_view_end & (j == last_leg[vehicle[j]]))
        for v, target in zip(vehicle[j[last]].tolist(), tgt[last].tolist(), strict=True):
            carried.setdefault(v, set()).add(target)
        return out

    @staticmethod
    def _detection_events(q, j, tgt, t_det, lateral, vehicle, leg_id, t0, t1, p0,
                          p1) -> list[tuple]:
        """``detection`` events of pairs ``q`` (in order), as :meth:`_at` makes them."""
        leg = j[q]
        t = t_det[q]
        span = t1[leg] - t0[leg]
        moving = span > 0
        f = np.where(moving, (t - t0[leg]) / np.where(moving, span, 1.0), 0.0)
        xyz = p0[leg] + f[:, None] * (p1[leg] - p0[leg])
        m = len(q)
        return list(zip(t.tolist(), repeat("detection", m), vehicle[leg].tolist(),
                        leg_id[leg].tolist(), tgt[q].tolist(), repeat(-1, m),
                        xyz[:, 0].tolist(), xyz[:, 1].tolist(), xyz[:, 2].tolist(),
                        lateral[q].tolist(), strict=True))

    def _target_grid(self, reach: np.ndarray) -> PointGrid:
        """The targets on a grid, built on first use with cells twice as wide as nine in
        ten of the legs' reach then (with room to spare)."""
        grid = self._grid
        if grid is None:
            size = 2.0 * (float(np.quantile(reach, 0.9)) * (1.0 + 1e-6) + 1.0) if len(reach) \
                else 1.0
            grid = self._grid = PointGrid(self.targets, size if np.isfinite(size) else 1.0)
        return grid

    def _first_visible(self, j, tgt, t_a, t_b, t0, t1, p0, p1) -> np.ndarray:
        """Earliest of a few sample times in [t_a, t_b] with terrain line of sight."""
        if self.flat or len(j) == 0:
            return np.asarray(t_a, dtype=np.float64)
        terrain = self.sim.world.terrain
        span = np.where(t1[j] > t0[j], t1[j] - t0[j], 1.0)
        result = np.full(len(j), np.nan)
        todo = np.ones(len(j), dtype=bool)
        tz = np.column_stack([self.targets[tgt], self.target_z[tgt]])
        vel = self.velocity
        for s in np.linspace(0.0, 1.0, _LOS_SAMPLES):
            t = t_a + s * (t_b - t_a)
            if vel is not None:  # where the moving targets are then
                xy = self.targets[tgt] + vel[tgt] * t[:, None]
                tz = np.column_stack([xy, terrain.height_at(xy[:, 0], xy[:, 1])
                                      + self.target_height])
            f = ((t - t0[j]) / span)[:, None]
            pos = p0[j] + f * (p1[j] - p0[j])
            vis = terrain.line_of_sight(pos, tz) & todo
            result[vis] = t[vis]
            todo &= ~vis
            if not todo.any() or np.all(t_a == t_b):
                break
        return result

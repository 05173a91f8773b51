"""Detection of targets during legs: the sensing part of the in-leg monitor.

:class:`TargetDetection` finds, for a batch of sensing legs, when each target
enters a sensor footprint with terrain line of sight, and draws whether it is
detected (the lateral range curve of the vehicle type's detection model). The
:class:`~fleetsim.engine.monitor.Monitor` runs it in its window passes.
"""

from __future__ import annotations

import math
from itertools import chain

import numpy as np

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
            return -np.expm1(-(sweep_width_m ** 2) / (4.0 * math.pi * d ** 2))
    if model == "exponential":
        return np.exp(-2.0 * d / sweep_width_m)
    raise ValueError(f"unknown detection model {model!r}")


class TargetDetection:
    """Target detection on sensing legs (a part of :class:`~fleetsim.engine.monitor.Monitor`;
    uses its targets, KD-tree, detection models and random stream)."""

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
            a, b = p0[idx, :2], p1[idx, :2]
            mid = 0.5 * (a + b)
            half = 0.5 * np.hypot(*(b - a).T)
            r = self.radius[vehicle[idx]]
            tree = self._tree
            if vel is not None:  # moving targets: where they are at the batch's middle
                from scipy.spatial import cKDTree
                tm = 0.5 * (float(t0[idx].min()) + float(t1[idx].max()))
                tree = cKDTree(self.targets + vel * tm)
                r = r + self.vmax * np.maximum(np.abs(t0[idx] - tm), np.abs(t1[idx] - tm))
            lists = tree.query_ball_point(mid, half + r, return_sorted=True)
            counts = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
            total = int(counts.sum())
            if total:
                k = np.repeat(np.arange(len(idx)), counts)
                tgt = np.fromiter(chain.from_iterable(lists), dtype=np.int64, count=total)
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
        # Walk the legs that have candidates in order, carrying what each vehicle has
        # in view from its previous leg (nothing, if that leg had no candidates).
        by_vehicle = np.lexsort((leg_id, vehicle))
        prev_of = np.full(len(t0), -1, dtype=np.int64)
        same = vehicle[by_vehicle][1:] == vehicle[by_vehicle][:-1]
        prev_of[by_vehicle[1:][same]] = by_vehicle[:-1][same]
        last_leg = np.full(self.sim.n, -1, dtype=np.int64)
        np.maximum.at(last_leg, vehicle, np.arange(len(t0)))  # each vehicle's last leg here
        order = np.argsort(j, kind="stable")
        j_sorted = j[order]
        legs_with = np.unique(j_sorted)
        starts = np.searchsorted(j_sorted, legs_with, side="left")
        stops = np.searchsorted(j_sorted, legs_with, side="right")
        carried = self.in_view
        state: dict[int, tuple[int, set]] = {}  # vehicle -> (leg, targets in view at its end)
        out = []
        for leg, a, b in zip(legs_with.tolist(), starts.tolist(), stops.tolist(), strict=True):
            v = int(vehicle[leg])
            p = int(prev_of[leg])
            if p < 0:
                before = carried.get(v, ())
            else:
                last = state.get(v)
                before = last[1] if last is not None and last[0] == p else ()
            now_in = set()
            for q in order[a:b].tolist():
                target = int(tgt[q])
                seen = not math.isnan(t_det[q])
                continuing = (at_start[q] and seen and t_det[q] <= t0[leg] + _EPS
                              and target in before)
                if seen and not continuing:
                    out.append(self._at(t_det[q], "detection", v, int(leg_id[leg]), target, -1,
                                        leg, t0, t1, p0, p1, value=lateral[q]))
                if in_view_end[q]:
                    now_in.add(target)
            state[v] = (leg, now_in)
        # What each vehicle has in view after its last leg of this batch.
        for v in [v for v in carried if last_leg[v] >= 0]:
            del carried[v]
        for v, (leg, now_in) in state.items():
            if leg == last_leg[v] and now_in:
                carried[v] = now_in
        return out

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

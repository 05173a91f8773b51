"""Zones a route must keep out of, with their active windows.

A no-fly zone binds only while it is active (``start_s <= t < end_s``): a
route may cross its area before it starts or after it ends. A ``restricted``
zone binds only when the scenario's oversight rules forbid entering one
(``enter_restricted: forbidden``); otherwise entering it is the rules' business
(an approval, a veto window, or nothing).

:class:`ZoneWindows` answers the questions a planner asks: which zones are
active at some time of an interval, whether straight legs flown over given
intervals cross an active one, and the shortest way around the zones active
over an interval (visibility graphs, one per set of zones, built on first use).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely

from fleetsim.planning.routing import VisibilityGraph

__all__ = ["ZoneWindows", "zones_to_avoid"]

#: Ways around zones :meth:`ZoneWindows.route` keeps, at most.
_WAYS_KEPT = 1 << 14


def zones_to_avoid(world: Any, scenario: Any = None) -> list[Any]:
    """The zones of ``world`` a built-in policy keeps out of while they are active:
    every ``no_fly`` zone, and the ``restricted`` ones when the scenario's oversight
    rules forbid ``enter_restricted``."""
    forbid_restricted = False
    oversight = getattr(scenario, "oversight", None) if scenario is not None else None
    if oversight is not None:
        forbid_restricted = oversight.rule_for("enter_restricted").rule == "forbidden"
    return [z for z in world.zones
            if z.kind == "no_fly" or (z.kind == "restricted" and forbid_restricted)]


class ZoneWindows:
    """Zones with active windows, for planning.

    Parameters
    ----------
    zones:
        Objects with ``polygon`` (shapely), ``start_s`` and ``end_s`` (seconds,
        ``end_s`` may be ``inf``), e.g. :class:`fleetsim.world.world.Zone`.
    clearance_m:
        Distance kept from the zones by routes around them, metres.
    """

    def __init__(self, zones: Sequence[Any], *, clearance_m: float = 10.0) -> None:
        self.zones = tuple(zones)
        self.polygons = [z.polygon for z in self.zones]
        self.start_s = np.array([float(z.start_s) for z in self.zones], dtype=np.float64)
        self.end_s = np.array([float(z.end_s) for z in self.zones], dtype=np.float64)
        self.clearance_m = float(clearance_m)
        self._grown = [shapely.buffer(p, self.clearance_m, join_style="mitre")
                       if self.clearance_m > 0 else p for p in self.polygons]
        for g in self._grown:
            shapely.prepare(g)
        self._graphs: dict[tuple[int, ...], VisibilityGraph | None] = {}
        #: Ways around zones found by :meth:`route`, by start, goal and active zones
        #: (patrols leave from a few bases for the same cells again and again).
        self._ways: dict[tuple, np.ndarray] = {}
        self._windows = [(float(a), float(b), tuple(g.bounds)) for a, b, g in
                         zip(self.start_s, self.end_s, self._grown, strict=True)]
        #: (k, 4) bounding boxes of the grown zones: xmin, ymin, xmax, ymax.
        self._boxes = np.array([w[2] for w in self._windows], dtype=np.float64).reshape(-1, 4)

    def __len__(self) -> int:
        return len(self.zones)

    @property
    def timed(self) -> bool:
        """Whether some zone is not active for the whole run."""
        return bool(np.any(self.start_s > 0) or np.any(np.isfinite(self.end_s)))

    def active_during(self, t0_s: float, t1_s: float) -> tuple[int, ...]:
        """Indices of the zones active at some time in ``[t0_s, t1_s]``."""
        hit = (self.start_s <= t1_s) & (self.end_s > t0_s)
        return tuple(np.flatnonzero(hit).tolist())

    def inside(self, xy: np.ndarray, zones: Sequence[int] | None = None) -> np.ndarray:
        """(n, k) bool: which points lie in (or on the edge of, or within the clearance of)
        which zones (all zones, or ``zones``)."""
        pts = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        idx = range(len(self.zones)) if zones is None else zones
        out = np.zeros((len(pts), len(idx)), dtype=bool)
        for j, z in enumerate(idx):
            out[:, j] = shapely.intersects_xy(self._grown[z], pts[:, 0], pts[:, 1])
        return out

    def crossing(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(n, k) bool: which straight segments ``a -> b`` come within the clearance of
        which zones."""
        a = np.asarray(a, dtype=np.float64).reshape(-1, 2)
        b = np.asarray(b, dtype=np.float64).reshape(-1, 2)
        out = np.zeros((len(a), len(self.zones)), dtype=bool)
        if len(a) == 0 or not self.zones:
            return out
        lines = shapely.linestrings(np.stack([a, b], axis=1))
        for z, g in enumerate(self._grown):
            out[:, z] = shapely.intersects(lines, g)
        return out

    def blocked(self, a: np.ndarray, b: np.ndarray, t0_s: np.ndarray, t1_s: np.ndarray
                ) -> np.ndarray:
        """(n,) bool: legs ``a -> b`` flown over ``[t0_s, t1_s]`` that come near a zone
        while it is active."""
        a = np.asarray(a, dtype=np.float64).reshape(-1, 2)
        b = np.asarray(b, dtype=np.float64).reshape(-1, 2)
        n = len(a)
        t0 = np.broadcast_to(np.asarray(t0_s, dtype=np.float64), (n,))
        t1 = np.broadcast_to(np.asarray(t1_s, dtype=np.float64), (n,))
        live = (self.start_s[None, :] <= t1[:, None]) & (self.end_s[None, :] > t0[:, None])
        if n and self.zones:
            # Only legs whose bounding box meets a live zone's can come near it.
            box = self._boxes
            live &= ((np.minimum(a[:, :1], b[:, :1]) <= box[:, 2])
                     & (np.maximum(a[:, :1], b[:, :1]) >= box[:, 0])
                     & (np.minimum(a[:, 1:], b[:, 1:]) <= box[:, 3])
                     & (np.maximum(a[:, 1:], b[:, 1:]) >= box[:, 1]))
        rows = np.flatnonzero(live.any(axis=1))
        out = np.zeros(n, dtype=bool)
        if len(rows):
            out[rows] = (self.crossing(a[rows], b[rows]) & live[rows]).any(axis=1)
        return out

    def blocked_one(self, ax: float, ay: float, bx: float, by: float, t0_s: float,
                    t1_s: float) -> bool:
        """:meth:`blocked` for one leg ``(ax, ay) -> (bx, by)`` (plain Python floats)."""
        lo_x, hi_x, lo_y, hi_y = min(ax, bx), max(ax, bx), min(ay, by), max(ay, by)
        near = [z for z, (a, b, box) in enumerate(self._windows) if a <= t1_s and b > t0_s
                and lo_x <= box[2] and hi_x >= box[0] and lo_y <= box[3] and hi_y >= box[1]]
        if not near:
            return False
        line = shapely.linestrings([[ax, ay], [bx, by]])
        return any(bool(shapely.intersects(line, self._grown[z])) for z in near)

    def graph(self, zones: Sequence[int]) -> VisibilityGraph | None:
        """A visibility graph around ``zones`` (None for none), cached per set."""
        key = tuple(sorted(set(int(z) for z in zones)))
        if key not in self._graphs:
            self._graphs[key] = VisibilityGraph([self.polygons[z] for z in key],
                                                clearance_m=self.clearance_m) if key else None
        return self._graphs[key]

    def route(self, start_xy: Sequence[float], goal_xy: Sequence[float], t0_s: float,
              t1_s: float) -> np.ndarray:
        """Waypoints after ``start_xy`` to ``goal_xy`` around the zones active at some
        time in ``[t0_s, t1_s]`` ((m, 2), the goal last). Straight when the start or
        goal lies inside one of them (there is no way around then) or none is in the way.
        """
        goal = np.asarray(goal_xy, dtype=np.float64).reshape(1, 2)
        (sx, sy), (gx, gy) = (float(start_xy[0]), float(start_xy[1])), goal[0].tolist()
        lo_x, hi_x, lo_y, hi_y = min(sx, gx), max(sx, gx), min(sy, gy), max(sy, gy)
        # Active then and near the leg's bounding box (plain Python: called per leg).
        active = [z for z, (a, b, _) in enumerate(self._windows) if a <= t1_s and b > t0_s]
        near = [z for z in active if lo_x <= self._windows[z][2][2]
                and hi_x >= self._windows[z][2][0] and lo_y <= self._windows[z][2][3]
                and hi_y >= self._windows[z][2][1]]
        if not near:
            return goal
        start = np.array([[sx, sy]])
        if not self.crossing(start, goal)[0, near].any():
            return goal
        key = (sx, sy, gx, gy, tuple(active))
        way = self._ways.get(key)
        if way is None:
            g = self.graph(active)  # around every zone active then, not only the near ones
            try:
                way = g.route(tuple(start[0]), tuple(goal[0]))[1:]
            except ValueError:
                way = goal
            if len(self._ways) >= _WAYS_KEPT:
                self._ways.clear()
            self._ways[key] = way
        return way.copy()

    def escape_time_s(self, xy: np.ndarray, speed_mps: float, zone: int) -> np.ndarray:
        """(n,) seconds to fly from points (inside ``zone``) straight out of it and its
        clearance, at ``speed_mps``; 0 for points outside."""
        pts = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        g = self._grown[zone]
        inside = shapely.intersects_xy(g, pts[:, 0], pts[:, 1])
        out = np.zeros(len(pts))
        if inside.any():
            d = shapely.distance(shapely.points(pts[inside]), g.boundary)
            out[inside] = np.asarray(d, dtype=np.float64) / max(speed_mps, 1e-9)
        return out

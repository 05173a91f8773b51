"""Routing of air vehicles around the no-fly zones, and the detour home it costs."""

from __future__ import annotations

import numpy as np
import shapely

from fleetsim.engine.motion import MAX_DETOUR


class NoFlyRouting:
    """The no-fly zones of a run as the engine routes around them.

    Parameters
    ----------
    zones:
        The no-fly polygons.
    clearance_m:
        How far routes keep from them (the visibility graph's clearance).
    home_xy:
        Each vehicle's home (a list the engine keeps current: carried vehicles go
        home to where they last left their carrier).
    """

    def __init__(self, zones: list, clearance_m: float, home_xy: list) -> None:
        from fleetsim.planning import VisibilityGraph
        self.graph = VisibilityGraph(zones, clearance_m=clearance_m)
        self.home_xy = home_xy
        self.union = shapely.union_all(zones)
        self.bounds = tuple(self.union.bounds)
        shapely.prepare(self.union)
        # The zones grown by the routing clearance: a straight line clear of these
        # is what the visibility graph would fly too.
        self.grown = shapely.buffer(self.union, self.graph.clearance_m, join_style="mitre")
        self.grown_bounds = tuple(self.grown.bounds)
        shapely.prepare(self.grown)
        self.detour_cache: dict[tuple[int, int, int, int], float] = {}

    def inside(self, x: float, y: float) -> bool:
        """Is (x, y) inside a no-fly zone?"""
        return bool(shapely.intersects_xy(self.union, x, y))

    def route(self, a: tuple[float, float], b: tuple[float, float]) -> np.ndarray:
        """Waypoints from ``a`` to ``b`` around the zones (``a`` first); raises
        ``ValueError`` from inside a zone."""
        return self.graph.route(a, b)

    def crosses(self, a: tuple[float, float], b: tuple[float, float]) -> bool:
        """Does the straight line from ``a`` to ``b`` come within the routing clearance
        of a no-fly zone?"""
        zx0, zy0, zx1, zy1 = self.grown_bounds
        if min(a[0], b[0]) > zx1 or max(a[0], b[0]) < zx0 or min(a[1], b[1]) > zy1 \
                or max(a[1], b[1]) < zy0:
            return False
        return bool(shapely.intersects(shapely.LineString([a, b]), self.grown))

    def clear_box(self, v: int) -> tuple[float, float, float, float]:
        """``(lo_x, hi_x, lo_y, hi_y)``: from a point (x, y) with ``x < lo_x``, ``x > hi_x``,
        ``y < lo_y`` or ``y > hi_y`` vehicle ``v``'s way home is nowhere near a zone
        (:meth:`detour`'s first test: it is then 1)."""
        hx, hy = self.home_xy[v]
        zx0, zy0, zx1, zy1 = self.bounds
        inf = float("inf")
        return (zx0 if hx < zx0 else -inf, zx1 if hx > zx1 else inf,
                zy0 if hy < zy0 else -inf, zy1 if hy > zy1 else inf)

    def detour(self, v: int, x: float, y: float, straight: float) -> float:
        """How much longer than the straight line is vehicle ``v``'s way home from
        (x, y) around no-fly zones (1 when the straight line is clear; at most
        ``MAX_DETOUR``); cached on 50 m cells."""
        hx, hy = self.home_xy[v]
        zx0, zy0, zx1, zy1 = self.bounds
        if min(x, hx) > zx1 or max(x, hx) < zx0 or min(y, hy) > zy1 or max(y, hy) < zy0:
            return 1.0  # the way home is nowhere near a no-fly zone
        key = (round(hx / 50.0), round(hy / 50.0), round(x / 50.0), round(y / 50.0))
        f = self.detour_cache.get(key)
        if f is None:
            f = 1.0
            if straight > 1.0 and shapely.intersects(
                    shapely.LineString([(x, y), (hx, hy)]), self.union):
                try:
                    path = self.graph.route((x, y), (hx, hy))
                    f = min(MAX_DETOUR, float(np.hypot(*np.diff(path, axis=0).T).sum())
                            / straight)
                except ValueError:
                    f = 1.0  # inside a zone: straight out
            self.detour_cache[key] = f
        return f

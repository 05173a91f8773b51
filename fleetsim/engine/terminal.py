"""Terminal areas: around each site, take-offs and landings are kept apart by the pads'
layout and the site's procedures (the model puts a site's pads at one point), so the
separation monitor does not count the losses that begin within ``radius_m`` of one.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from fleetsim.engine.sensing import PointGrid

__all__ = ["TerminalAreas"]


class TerminalAreas:
    """Which points lie in a site's terminal area: closer than ``radius_m`` to a site,
    as the k-d tree of the sites measures it (its nearest site's distance ``< radius_m``).

    The sites sit in a :class:`~fleetsim.engine.sensing.PointGrid` with cells at least
    as wide as a terminal area, so each point has the sites of at most 2 x 2 cells to
    measure (none for most); the tree is asked only of the points with a site within a
    hair of the radius, where rounding could decide."""

    def __init__(self, xy: np.ndarray, radius_m: float) -> None:
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        self.radius = float(radius_m)
        self.tree = cKDTree(xy) if len(xy) and self.radius > 0 else None
        if self.tree is not None:
            # (the square the grid looks in around a point: side 2 (r (1 + 1e-6) + 1))
            self.grid = PointGrid(xy, 2.0 * (self.radius * (1.0 + 1e-6) + 1.0))

    def contains(self, points: np.ndarray) -> np.ndarray:
        """(m,) bool: which of ``points`` ((m, 2+) metres) lie in a terminal area (a
        point that is not finite is in none)."""
        out = np.zeros(len(points), dtype=bool)
        if self.tree is None or not len(points):
            return out
        xy = np.asarray(points, dtype=np.float64)[:, :2]
        inside, _, undone = self.grid.within(xy, np.full(len(xy), self.radius))
        out[inside] = True
        undone = undone[np.isfinite(xy[undone]).all(axis=1)]
        if len(undone):
            out[undone] = self.tree.query(xy[undone], distance_upper_bound=self.radius)[0] \
                < self.radius
        return out

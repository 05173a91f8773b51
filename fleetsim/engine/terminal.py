"""Terminal areas: around each site, take-offs and landings are kept apart by the pads'
layout and the site's procedures (the model puts a site's pads at one point), so the
separation monitor does not count the losses that begin within ``radius_m`` of one.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from scipy.spatial import cKDTree

__all__ = ["TerminalAreas"]

#: Cells of the grid of sites' neighbourhoods per side, at most.
_CELLS = 512


class TerminalAreas:
    """Which points lie in a site's terminal area (closer than ``radius_m`` to a site,
    as the k-d tree of the sites measures it). Most points are far from every site: a
    grid of cells, those near a site marked, leaves the tree only the points in marked
    cells."""

    def __init__(self, xy: np.ndarray, radius_m: float) -> None:
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        self.radius = float(radius_m)
        self.tree = cKDTree(xy) if len(xy) and self.radius > 0 else None
        if self.tree is None:
            return
        # (a reach a hair beyond the radius, and a cell's margin, against rounding)
        reach = self.radius * (1.0 + 1e-6) + 1.0
        lo, hi = xy.min(axis=0) - reach, xy.max(axis=0) + reach
        self.size = max(reach, float((hi - lo).max()) / _CELLS)
        self.x0, self.y0 = float(lo[0]) - self.size, float(lo[1]) - self.size
        nx = int((hi[0] - self.x0) / self.size) + 3
        ny = int((hi[1] - self.y0) / self.size) + 3
        self.marked = np.zeros((ny, nx), dtype=np.bool_)
        for x, y in xy.tolist():
            ax, bx = (math.floor((c - self.x0) / self.size) for c in (x - reach, x + reach))
            ay, by = (math.floor((c - self.y0) / self.size) for c in (y - reach, y + reach))
            self.marked[max(ay - 1, 0):by + 2, max(ax - 1, 0):bx + 2] = True

    def contains(self, points: np.ndarray) -> np.ndarray:
        """(m,) bool: which of ``points`` ((m, 2+) metres) lie in a terminal area."""
        out = np.zeros(len(points), dtype=bool)
        if self.tree is None or not len(points):
            return out
        near = _in_marked(points, self.marked, self.x0, self.y0, self.size)
        out[near] = self.tree.query(points[near, :2],
                                    distance_upper_bound=self.radius)[0] < self.radius
        return out


@njit(cache=True)
def _in_marked(points, marked, x0, y0, size):
    """Indexes of the points in marked cells (and of those not finite)."""
    m = len(points)
    ny, nx = marked.shape
    out = np.empty(m, dtype=np.int64)
    k = 0
    for i in range(m):
        x, y = points[i, 0], points[i, 1]
        if not (math.isfinite(x) and math.isfinite(y)):
            out[k] = i
            k += 1
            continue
        cx = math.floor((x - x0) / size)
        cy = math.floor((y - y0) / size)
        if 0 <= cx < nx and 0 <= cy < ny and marked[cy, cx]:
            out[k] = i
            k += 1
    return out[:k].copy()

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
    grid of cells, each listing the sites near it, leaves each point a few sites to
    measure (none for most)."""

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
        self.shape = (ny, nx)
        # Each cell's sites (those whose reach, and a cell's margin, covers some of it), as
        # lists one after another: cell c's are sites[start[c]:start[c + 1]] (c = row * nx
        # + col); most cells have none.
        count = np.zeros(ny * nx + 1, dtype=np.int64)
        spans = []
        for x, y in xy.tolist():
            ax, bx = (math.floor((c - self.x0) / self.size) for c in (x - reach, x + reach))
            ay, by = (math.floor((c - self.y0) / self.size) for c in (y - reach, y + reach))
            span = (slice(max(ay - 1, 0), by + 2), slice(max(ax - 1, 0), bx + 2))
            spans.append(span)
            count[1:].reshape(ny, nx)[span] += 1
        self.start = np.cumsum(count)
        self.sites = np.empty(int(self.start[-1]), dtype=np.int64)
        fill = self.start[:-1].copy().reshape(ny, nx)
        for k, span in enumerate(spans):
            self.sites[fill[span].ravel()] = k
            fill[span] += 1
        self.xy = np.ascontiguousarray(xy)

    def contains(self, points: np.ndarray) -> np.ndarray:
        """(m,) bool: which of ``points`` ((m, 2+) metres) lie in a terminal area.

        What the k-d tree says (the nearest site closer than the radius), found by a
        compiled loop over the sites listed in each point's cell: a point surely closer
        than the radius to one of them, or surely farther from all, is decided there;
        the tree is asked only of points within a hair (a millionth of a millimetre per
        metre) of the radius. A point that is not finite is in none."""
        if self.tree is None or not len(points):
            return np.zeros(len(points), dtype=bool)
        code = _near_site(np.asarray(points, dtype=np.float64), *self.shape, self.start,
                          self.sites, self.xy, self.x0, self.y0, self.size, self.radius)
        out = code == _INSIDE
        ask = np.flatnonzero(code == _ASK)
        if len(ask):
            pts = np.asarray(points, dtype=np.float64)[ask, :2]
            out[ask] = self.tree.query(pts, distance_upper_bound=self.radius)[0] \
                < self.radius
        return out


#: :func:`_near_site`'s answers: surely outside every terminal area, surely inside
#: one, or too near the radius to tell without the tree.
_OUTSIDE, _INSIDE, _ASK = 0, 1, 2

#: Relative margin around the radius within which the tree decides.
_HAIR = 1e-9


@njit(cache=True)
def _near_site(points, ny, nx, start, sites, xy, x0, y0, size, radius):
    """Per point, :data:`_OUTSIDE`, :data:`_INSIDE` or :data:`_ASK`: its distance to
    each site listed in its cell, ``sqrt(dx * dx + dy * dy)`` (the tree's sum of
    squares, in its order), against the radius with a relative margin of
    :data:`_HAIR` either way (a few roundings apart, the tree's distances and these
    are on the same side of it outside the margin)."""
    m = len(points)
    lo = radius * (1.0 - _HAIR)
    hi = radius * (1.0 + _HAIR)
    out = np.zeros(m, dtype=np.int8)
    for i in range(m):
        x, y = points[i, 0], points[i, 1]
        if not (math.isfinite(x) and math.isfinite(y)):
            continue  # (nowhere: in no terminal area)
        cx = math.floor((x - x0) / size)
        cy = math.floor((y - y0) / size)
        if not (0 <= cx < nx and 0 <= cy < ny):
            continue
        c = cy * nx + cx
        answer = _OUTSIDE
        for k in range(start[c], start[c + 1]):
            s = sites[k]
            dx = x - xy[s, 0]
            dy = y - xy[s, 1]
            d = math.sqrt(dx * dx + dy * dy)
            if d < lo:
                answer = _INSIDE
                break
            if d <= hi:
                answer = _ASK
        out[i] = answer
    return out

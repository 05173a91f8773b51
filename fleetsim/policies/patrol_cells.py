"""Patrol cells of :mod:`fleetsim.policies.persistent_patrol`: where their centres lie
along the mission area's bounds, its slanted edges and the zones it avoids."""

from __future__ import annotations

import math

import numpy as np
import shapely
from scipy.spatial import cKDTree

OFFSETS = {4: [(1, 0), (0, 1), (-1, 0), (0, -1)],
            8: [(1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1)]}


def axis_centres(lo: float, hi: float, size: float, inset: float) -> np.ndarray:
    """Cell centres along one axis of the bounds ``[lo, hi]``: evenly spaced at most
    ``size`` apart, the first and last ``inset`` inside the bounds (one centre in
    the middle when the bounds are narrower than ``2 inset``).

    With ``inset = size / 2`` and a span that is a whole number of cells, these are
    the centres ``lo + (i + 1/2) size`` of the cells tiling the span.
    """
    span = hi - lo - 2.0 * inset
    if span <= 0.0:
        return np.array([(lo + hi) / 2.0])
    n = math.ceil(span / size - 1e-9) + 1
    return lo + inset + np.arange(n) * (span / (n - 1))


def towards_zone(area, zone, x: np.ndarray, y: np.ndarray, radius: float,
                  step: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Points ``(x, y)`` farther than ``radius`` from ``zone`` with a grid neighbour
    (one ``step`` away along x, y or both) in it, moved straight towards the zone
    until ``radius`` away (if still in ``area``)."""
    pts = shapely.points(x, y)
    d = shapely.distance(zone, pts)
    beside = np.zeros(len(x), dtype=bool)
    for dx, dy in OFFSETS[8]:
        beside |= shapely.contains_xy(zone, x + dx * step[0], y + dy * step[1])
    move = (d > radius) & beside
    if not move.any():
        return x, y
    near = shapely.get_coordinates(shapely.shortest_line(pts[move], zone))[1::2]
    f = ((d[move] - radius) / d[move])[:, None]
    xy = np.column_stack([x[move], y[move]])
    moved = xy + f * (near - xy)
    keep = shapely.contains_xy(area, moved[:, 0], moved[:, 1])
    x, y = x.copy(), y.copy()
    idx = np.flatnonzero(move)[keep]
    x[idx], y[idx] = moved[keep, 0], moved[keep, 1]
    return x, y


def spurs(area, zone, x: np.ndarray, y: np.ndarray, ok: np.ndarray, radius: float,
           step: tuple[float, float]) -> dict[int, np.ndarray]:
    """Spurs of the grid points ``(x, y)`` (those with ``ok``) outside ``zone`` with a
    grid neighbour in it: by point index, the waypoints of a way out from the point
    along the zone's edge, ``radius / 2`` away from it, and back. The edge's offset
    line is shared among those points, each taking the part nearest to it, so the
    spurs together run all round the zone (where it lies in ``area``)."""
    beside = np.zeros(len(x), dtype=bool)
    for dx, dy in OFFSETS[8]:
        beside |= shapely.contains_xy(zone, x + dx * step[0], y + dy * step[1])
    idx = np.flatnonzero(ok & beside & ~shapely.intersects_xy(zone, x, y))
    if len(idx) == 0:
        return {}
    ring = shapely.buffer(zone, 0.5 * radius).exterior
    n = max(int(math.ceil(ring.length / (0.05 * radius))), 8)
    pts = shapely.get_coordinates(shapely.line_interpolate_point(
        ring, np.linspace(0.0, ring.length, n, endpoint=False)))
    inside = shapely.contains_xy(area, pts[:, 0], pts[:, 1])
    owner = np.where(inside, idx[cKDTree(np.column_stack([x[idx], y[idx]])).query(pts)[1]], -1)
    # Start the ring where its owner changes, so each owner's stretch is in one piece.
    change = np.flatnonzero(owner != np.roll(owner, 1))
    if len(change):
        owner, pts = np.roll(owner, -change[0]), np.roll(pts, -change[0], axis=0)
    guard = shapely.buffer(zone, 0.2 * radius)
    out: dict[int, np.ndarray] = {}
    for k in idx.tolist():
        mine = pts[owner == k]
        if len(mine) == 0:
            continue
        centre = np.array([[x[k], y[k]]])
        way = np.vstack([mine, centre])
        line = shapely.simplify(shapely.linestrings(np.vstack([centre, way])), 0.01 * radius)
        if shapely.intersects(line, guard):  # a way that cuts a corner of the zone
            continue
        out[k] = shapely.get_coordinates(line)[1:]
    return out


def onto_area(area, x: np.ndarray, y: np.ndarray, inside: np.ndarray,
               step: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid points ``(x, y)`` outside ``area`` (``~inside``) whose cell (a ``step``
    box around them) overlaps the area's interior, moved to the nearest point of
    the area; returns the points and which of them now belong to the area."""
    out = np.flatnonzero(~inside)
    if len(out) == 0:
        return x, y, inside
    hx, hy = 0.5 * step[0], 0.5 * step[1]
    near = shapely.dwithin(area, shapely.points(x[out], y[out]), math.hypot(hx, hy))
    out = out[near]
    if len(out) == 0:
        return x, y, inside
    boxes = shapely.box(x[out] - hx, y[out] - hy, x[out] + hx, y[out] + hy)
    overlap = shapely.area(shapely.intersection(boxes, area)) > 1e-9 * (4.0 * hx * hy)
    out = out[overlap]
    if len(out) == 0:
        return x, y, inside
    near = shapely.get_coordinates(shapely.shortest_line(shapely.points(x[out], y[out]),
                                                         area))[1::2]
    x, y, inside = x.copy(), y.copy(), inside.copy()
    x[out], y[out] = near[:, 0], near[:, 1]
    inside[out] = True
    return x, y, inside

"""Area partitioning: equal-area strips for splitting a search area among vehicles.

Coordinates are local metres (x east, y north); angles are degrees
counter-clockwise from the x axis.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from fleetsim.planning.assignment import assign_min_cost
from fleetsim.planning.coverage import _check_area, _rotation, _to_frame

__all__ = ["assign_parts", "partition_equal_area"]

# Bisection steps; 64 halvings shrink any bracket below one unit in the last place.
_BISECTION_STEPS = 64
# Edges x cuts evaluated per numpy batch by the area function.
_CELLS_PER_BATCH = 1 << 20


def _signed_edges(frame: Polygon | MultiPolygon) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges (e, 2) start and end, and orientation signs (e,), for Green's theorem.

    The sign is +1 on counter-clockwise exteriors and clockwise holes, so that
    ``-sum(sign * integral of y dx)`` over all edges is the area.
    """
    parts = shapely.get_parts(frame)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    is_exterior = np.r_[True, ring_part[1:] != ring_part[:-1]]
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[1:] == ring[:-1]
    start, end, edge_ring = coords[:-1][same], coords[1:][same], ring[:-1][same]
    shoelace = start[:, 0] * end[:, 1] - end[:, 0] * start[:, 1]
    counter_clockwise = np.bincount(edge_ring, weights=shoelace, minlength=len(rings)) > 0
    sign = np.where(counter_clockwise == is_exterior, 1.0, -1.0)[edge_ring]
    return start, end, sign


def _area_left_of(
    start: np.ndarray, end: np.ndarray, sign: np.ndarray, cut_x: np.ndarray
) -> np.ndarray:
    """Area (m^2) of the polygon where x <= cut_x, for each cut (c,), exactly.

    Green's theorem with area = -∮ y dx: the cut line is vertical (dx = 0) and
    adds nothing, so the area is the sum over edges of their part at x <= cut.
    """
    x0, y0 = start[:, 0:1], start[:, 1:2]
    x1, y1 = end[:, 0:1], end[:, 1:2]
    slope = np.divide(y1 - y0, x1 - x0, out=np.zeros_like(x0), where=x1 != x0)
    area = np.empty(len(cut_x))
    step = max(1, _CELLS_PER_BATCH // max(1, len(start)))
    for first in range(0, len(cut_x), step):
        cut = cut_x[None, first : first + step]
        u = np.minimum(x0, cut)
        v = np.minimum(x1, cut)
        integral = (v - u) * (y0 + slope * ((u + v) / 2.0 - x0))
        area[first : first + step] = -(sign[:, None] * integral).sum(axis=0)
    return area


def _polygonal(geometry: shapely.Geometry) -> Polygon | MultiPolygon:
    """The polygons of an overlay result, dropping lower-dimensional debris."""
    if isinstance(geometry, Polygon | MultiPolygon):
        return geometry
    polygons: list[Polygon] = []
    for member in shapely.get_parts(geometry):
        if isinstance(member, Polygon):
            polygons.append(member)
        elif isinstance(member, MultiPolygon):
            polygons.extend(member.geoms)
    if len(polygons) == 1:
        return polygons[0]
    return MultiPolygon(polygons) if polygons else Polygon()


def partition_equal_area(
    polygon: Polygon | MultiPolygon, k: int, *, angle_deg: float = 0.0
) -> list[Polygon | MultiPolygon]:
    """Split an area into ``k`` parts of equal area with parallel straight cuts.

    Parameters
    ----------
    polygon : shapely.Polygon or shapely.MultiPolygon
        The area, holes allowed.
    k : int
        Number of parts, >= 1.
    angle_deg : float, keyword-only
        Sweep direction in degrees counter-clockwise from the x axis; the
        cuts are perpendicular to it (0: vertical cuts, parts from west to
        east).

    Returns
    -------
    list of shapely.Polygon or shapely.MultiPolygon
        ``k`` parts ordered along the sweep direction. Their areas are equal
        to a relative error far below 1e-6, their interiors are disjoint and
        their union is ``polygon``.

    Notes
    -----
    Each cut position is found by bisection on an exact area function
    (Green's theorem over the edges, vectorised over all cuts at once); the
    parts are then cut out with shapely. A part is one connected Polygon when
    the area is monotone in the sweep direction (every line perpendicular to
    it meets the area in one interval). Otherwise a strip between two cuts
    can meet the area in several pieces, and that part is a MultiPolygon
    whose pieces may lie far apart; choose ``angle_deg`` along the area's
    long, monotone direction, or split the pieces further.

    Examples
    --------
    >>> import shapely
    >>> [p.bounds for p in partition_equal_area(shapely.box(0, 0, 30, 10), 3)]
    [(0.0, 0.0, 10.0, 10.0), (10.0, 0.0, 20.0, 10.0), (20.0, 0.0, 30.0, 10.0)]
    """
    _check_area(polygon)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be an integer >= 1 (number of parts), got {k!r}")
    k = int(k)
    if k == 1:
        return [polygon]
    cos, sin = _rotation(angle_deg)
    frame = _to_frame(polygon, cos, sin)
    xmin, ymin, xmax, ymax = frame.bounds
    start, end, sign = _signed_edges(frame)
    total = float(_area_left_of(start, end, sign, np.array([xmax]))[0])
    target = total * np.arange(1, k) / k
    lo, hi = np.full(k - 1, xmin), np.full(k - 1, xmax)
    for _ in range(_BISECTION_STEPS):
        mid = (lo + hi) / 2.0
        below = _area_left_of(start, end, sign, mid) < target
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    cuts = (lo + hi) / 2.0
    margin = max(xmax - xmin, ymax - ymin)
    edges = np.r_[xmin - margin, cuts, xmax + margin]
    strips = shapely.box(edges[:-1], ymin - margin, edges[1:], ymax + margin)
    parts = shapely.intersection(frame, strips)
    back_cos, back_sin = _rotation(-float(angle_deg))
    return [_polygonal(_to_frame(part, back_cos, back_sin)) for part in parts]


def assign_parts(parts: Sequence[shapely.Geometry], vehicle_xy: np.ndarray) -> np.ndarray:
    """Give each vehicle at most one part, minimising total distance to part centroids.

    Parameters
    ----------
    parts : sequence of shapely geometries, length k
        Areas to hand out, e.g. from :func:`partition_equal_area`.
    vehicle_xy : array_like of shape (n, 2), metres
        Vehicle positions.

    Returns
    -------
    ndarray of shape (n,), int64
        ``part_of_vehicle[v]`` is the index in ``parts`` assigned to vehicle
        ``v`` (row ``v`` of ``vehicle_xy``), or -1 when there are more
        vehicles than parts and ``v`` got none. Each part goes to at most one
        vehicle; with fewer vehicles than parts, ``k - n`` parts go to none.

    Notes
    -----
    Distances are straight lines to ``shapely.centroid`` of each part (which
    can lie outside a non-convex part); the optimum is found with
    :func:`scipy.optimize.linear_sum_assignment`.

    Examples
    --------
    >>> import shapely
    >>> parts = partition_equal_area(shapely.box(0, 0, 200, 100), 2)
    >>> assign_parts(parts, [[190.0, 0.0], [10.0, 0.0]]).tolist()
    [1, 0]
    """
    geometries = np.empty(len(parts), dtype=object)
    geometries[:] = list(parts)
    if len(geometries) and shapely.is_empty(geometries).any():
        raise ValueError(f"part {int(np.flatnonzero(shapely.is_empty(geometries))[0])} is empty")
    vehicles = np.asarray(vehicle_xy, dtype=np.float64)
    if vehicles.ndim != 2 or vehicles.shape[1] != 2 or not np.isfinite(vehicles).all():
        raise ValueError(f"vehicle_xy must be finite with shape (n, 2), got shape {vehicles.shape}")
    part_of_vehicle = np.full(len(vehicles), -1, dtype=np.int64)
    if len(geometries) == 0 or len(vehicles) == 0:
        return part_of_vehicle
    centroid = shapely.get_coordinates(shapely.centroid(geometries))
    distance = np.hypot(
        vehicles[:, None, 0] - centroid[None, :, 0], vehicles[:, None, 1] - centroid[None, :, 1]
    )
    vehicle, part = assign_min_cost(distance)
    part_of_vehicle[vehicle] = part
    return part_of_vehicle

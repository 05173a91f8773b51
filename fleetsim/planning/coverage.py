"""Coverage patterns: boustrophedon (lawnmower) sweeps of areas with holes.

Coordinates are local metres (x east, y north); angles are degrees
counter-clockwise from the x axis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from fleetsim import libm
from fleetsim.planning.routing import VisibilityGraph

__all__ = ["boustrophedon", "densify", "min_width_angle_deg", "path_length"]

# Hull edges whose widths are computed per numpy batch in min_width_angle_deg.
_EDGES_PER_BATCH = 256


# -- helpers shared with partition.py ------------------------------------------


def _check_area(polygon: object, name: str = "polygon") -> None:
    if not isinstance(polygon, Polygon | MultiPolygon):
        raise TypeError(
            f"{name} must be a shapely Polygon or MultiPolygon, got {type(polygon).__name__}"
        )
    if polygon.is_empty:
        raise ValueError(f"{name} is empty")
    if not polygon.is_valid:
        raise ValueError(
            f"{name} is not a valid polygon ({shapely.is_valid_reason(polygon)}); "
            "repair it first, e.g. with shapely.make_valid"
        )
    if not polygon.area > 0:
        raise ValueError(f"{name} has zero area")


def _rotation(angle_deg: float) -> tuple[float, float]:
    """``(cos, sin)`` of an angle in degrees, exact at multiples of 90°."""
    angle = float(angle_deg)
    if not math.isfinite(angle):
        raise ValueError(f"angle_deg must be finite, got {angle_deg!r}")
    angle %= 360.0
    exact = {0.0: (1.0, 0.0), 90.0: (0.0, 1.0), 180.0: (-1.0, 0.0), 270.0: (0.0, -1.0)}
    if angle in exact:
        return exact[angle]
    radians = math.radians(angle)
    return math.cos(radians), math.sin(radians)


def _to_frame(geometry: shapely.Geometry, cos: float, sin: float) -> shapely.Geometry:
    """Rotate by minus the angle about the origin, so its direction becomes +x."""
    return shapely.transform(
        geometry,
        lambda xy: np.column_stack(
            [cos * xy[:, 0] + sin * xy[:, 1], cos * xy[:, 1] - sin * xy[:, 0]]
        ),
    )


def _xy_from_frame(xy: np.ndarray, cos: float, sin: float) -> np.ndarray:
    return np.column_stack([cos * xy[:, 0] - sin * xy[:, 1], sin * xy[:, 0] + cos * xy[:, 1]])


def _xy_to_frame(xy: np.ndarray, cos: float, sin: float) -> np.ndarray:
    return np.column_stack([cos * xy[:, 0] + sin * xy[:, 1], cos * xy[:, 1] - sin * xy[:, 0]])


# -- public functions -------------------------------------------------------------


def path_length(waypoints: np.ndarray | Sequence[Sequence[float]]) -> float:
    """Length of a polyline in metres.

    Parameters
    ----------
    waypoints : array_like of shape (n, 2), metres
        Points in flight order.

    Returns
    -------
    float
        Sum of the straight legs between consecutive waypoints (0 for n < 2).
    """
    xy = np.asarray(waypoints, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"waypoints must have shape (n, 2), got {xy.shape}")
    if len(xy) < 2:
        return 0.0
    return float(np.hypot(*np.diff(xy, axis=0).T).sum())


def densify(waypoints: np.ndarray | Sequence[Sequence[float]], max_step_m: float) -> np.ndarray:
    """Insert waypoints so that no straight step of the path is longer than ``max_step_m``.

    Each step is cut into equal parts (the fewest that fit), so a vehicle that flies
    every waypoint at a set height above ground follows the terrain at that spacing.
    Returns an (m, 2) float64 array, m >= n, with the original waypoints kept.

    >>> densify([[0, 0], [10, 0]], 4.0).tolist()
    [[0.0, 0.0], [3.3333333333333335, 0.0], [6.666666666666667, 0.0], [10.0, 0.0]]
    """
    pts = np.asarray(waypoints, dtype=np.float64).reshape(-1, 2)
    if not (math.isfinite(max_step_m) and max_step_m > 0):
        raise ValueError(f"max_step_m must be a finite distance > 0 m, got {max_step_m!r}")
    if len(pts) < 2:
        return pts.copy()
    seg = np.hypot(*np.diff(pts, axis=0).T)
    parts = np.maximum(1, np.ceil(seg / max_step_m - 1e-9).astype(np.int64))
    start = np.repeat(pts[:-1], parts, axis=0)
    step = np.repeat(np.diff(pts, axis=0) / parts[:, None], parts, axis=0)
    k = np.arange(parts.sum()) - np.repeat(np.cumsum(parts) - parts, parts)
    return np.vstack([start + k[:, None] * step, pts[-1:]])


def min_width_angle_deg(polygon: Polygon | MultiPolygon) -> float:
    """Direction of the tracks that sweep ``polygon`` with the fewest tracks.

    This is the direction of the convex hull edge across which the hull is
    narrowest (rotating calipers: the minimum width is attained with one side
    flush with a hull edge). Tracks parallel to it are stacked across the
    minimum width, so their number is smallest up to rounding.

    Parameters
    ----------
    polygon : shapely.Polygon or shapely.MultiPolygon
        The area to sweep.

    Returns
    -------
    float
        Angle in degrees in [0, 180), counter-clockwise from the x axis; among
        equally narrow directions, the smallest angle.
    """
    _check_area(polygon)
    xy = np.asarray(polygon.convex_hull.exterior.coords)[:-1]
    edge = np.roll(xy, -1, axis=0) - xy
    length = np.hypot(edge[:, 0], edge[:, 1])
    edge, length = edge[length > 0], length[length > 0]
    normal = np.column_stack([-edge[:, 1], edge[:, 0]]) / length[:, None]
    width = np.empty(len(edge))
    for first in range(0, len(edge), _EDGES_PER_BATCH):
        projection = libm.matmul(xy, normal[first : first + _EDGES_PER_BATCH].T)
        width[first : first + _EDGES_PER_BATCH] = projection.max(axis=0) - projection.min(axis=0)
    angle = np.degrees(libm.arctan2(edge[:, 1], edge[:, 0])) % 180.0
    angle[angle > 180.0 - 1e-9] = 0.0
    narrowest = width <= width.min() * (1.0 + 1e-9)
    return float(angle[narrowest].min())


def boustrophedon(
    polygon: Polygon | MultiPolygon,
    spacing_m: float,
    *,
    angle_deg: float | None = None,
    start_xy: Sequence[float] | np.ndarray | None = None,
    inset_m: float | None = None,
) -> np.ndarray:
    """Waypoints of a lawnmower sweep of an area with holes.

    Parallel tracks ``spacing_m`` apart, clipped to the area and split where
    they cross holes, are grouped into cells (a boustrophedon cell
    decomposition): consecutive tracks join the same cell when each has
    exactly one segment overlapping the other's along the track direction.
    Each cell is flown in serpentine order — tracks alternate direction, each
    runs boundary to boundary, and the crossover to the next track follows
    the boundary. Cells are chained greedily, always entering next the cell
    with the nearest entry corner. Any crossover or link between cells whose
    straight leg would leave the area or cross a hole is routed around inside
    the area (:class:`~fleetsim.planning.routing.VisibilityGraph` with zero
    clearance). Links between separate polygons of a MultiPolygon are straight.

    Parameters
    ----------
    polygon : shapely.Polygon or shapely.MultiPolygon
        The area to cover, holes allowed.
    spacing_m : float
        Distance between neighbouring tracks in metres; a sensor whose swath
        is ``spacing_m`` wide covers the area without gaps between tracks.
    angle_deg : float, optional, keyword-only
        Track direction in degrees counter-clockwise from the x axis.
        Default: :func:`min_width_angle_deg`, the direction with fewest tracks.
    start_xy : array_like of shape (2,), optional, keyword-only
        Metres. The sweep starts at the track end (a corner of the pattern)
        nearest to this point; the point itself is not a waypoint. Default:
        the south-west corner ``(xmin, ymin)`` of the area's bounding box.
    inset_m : float, optional, keyword-only
        Distance in metres from the area's extreme edges (across the tracks)
        to the first and last track. Default ``spacing_m / 2``, so a swath of
        width ``spacing_m`` reaches exactly to the edge.

    Returns
    -------
    ndarray of shape (n, 2), float64, metres
        Waypoints in flight order. Track segments are the legs from waypoint
        ``2i`` to ``2i + 1`` when no crossover needed routing.

    Notes
    -----
    Tracks lie at ``inset_m + i * spacing_m`` across the area; when the far
    edge is not a whole number of spacings away, one more track lies
    ``inset_m`` inside it (closer to its neighbour). An area thinner than
    ``2 * inset_m`` gets one track along its middle. Tracks are not re-inset
    along holes, so a band narrower than ``spacing_m / 2`` between a hole
    edge parallel to the tracks and the nearest track may stay uncovered;
    so may slivers of the area that lie between two tracks and touch neither.
    The greedy order of cells is short but not always the shortest.

    Cost: the tracks are clipped in one vectorised pass over the area's edges
    (a 20 km square at 100 m spacing takes about a millisecond). Areas whose
    crossovers need routing (holes, concave edges) also build one visibility
    graph per polygon, quadratic in its reflex corners and holes' corners:
    about 1 s for a disc with a hundred 12-sided holes.

    Examples
    --------
    >>> import shapely
    >>> boustrophedon(shapely.box(0, 0, 300, 200), 100.0).tolist()
    [[0.0, 50.0], [300.0, 50.0], [300.0, 150.0], [0.0, 150.0]]
    """
    _check_area(polygon)
    spacing = float(spacing_m)
    if not math.isfinite(spacing) or spacing <= 0:
        raise ValueError(f"spacing_m must be a finite distance > 0 m, got {spacing_m!r}")
    inset = spacing / 2.0 if inset_m is None else float(inset_m)
    if not math.isfinite(inset) or inset < 0:
        raise ValueError(f"inset_m must be a finite distance >= 0 m, got {inset_m!r}")
    angle = min_width_angle_deg(polygon) if angle_deg is None else float(angle_deg)
    cos, sin = _rotation(angle)
    frame = _to_frame(polygon, cos, sin)
    xmin, ymin, xmax, ymax = frame.bounds
    tol = 1e-9 * max(xmax - xmin, ymax - ymin, spacing)

    track_y = _track_offsets(ymin, ymax, spacing, inset, tol)
    seg_line, seg_a, seg_b, seg_part = _clip_tracks(frame, track_y, tol)
    if len(seg_line) == 0:  # only slivers between tracks: one track through the interior
        track_y = np.array([frame.representative_point().y])
        seg_line, seg_a, seg_b, seg_part = _clip_tracks(frame, track_y, tol)
    seg_y = track_y[seg_line]
    cells = _cells(seg_line, seg_a, seg_b, seg_part, tol)

    if start_xy is None:
        start = np.array(polygon.bounds[:2])
    else:
        start = np.asarray(start_xy, dtype=np.float64)
        if start.shape != (2,) or not np.isfinite(start).all():
            raise ValueError(f"start_xy must be two finite coordinates in metres, got {start_xy!r}")
    start = _xy_to_frame(start[None], cos, sin)[0]

    order = _order_segments(cells, seg_a, seg_b, seg_y, start)
    seg = order[:, 0]
    forward = order[:, 1].astype(bool)
    x0 = np.where(forward, seg_a[seg], seg_b[seg])
    x1 = np.where(forward, seg_b[seg], seg_a[seg])
    ends = np.stack([np.column_stack([x0, seg_y[seg]]), np.column_stack([x1, seg_y[seg]])], axis=1)
    waypoints = _link(frame, ends, seg_part[seg], tol)
    return _xy_from_frame(waypoints, cos, sin)


# -- sweep construction -------------------------------------------------------------


def _track_offsets(lo: float, hi: float, spacing: float, inset: float, tol: float) -> np.ndarray:
    """Track positions across the area, shape (t,), ascending, strictly inside (lo, hi)."""
    first, last = lo + inset, hi - inset
    if last < first:
        return np.array([(lo + hi) / 2.0])
    count = int(math.floor((last - first) / spacing + 1e-9)) + 1
    track_y = first + spacing * np.arange(count)
    if last - track_y[-1] > tol:
        track_y = np.append(track_y, last)
    # A track exactly on the extreme edge would meet only a boundary.
    return np.clip(track_y, lo + tol, hi - tol)


def _clip_tracks(
    frame: Polygon | MultiPolygon, track_y: np.ndarray, tol: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Segments of the horizontal tracks inside the area.

    Returns track index (s,), segment start and end x (s,) with start < end,
    and the index of the polygon (of a MultiPolygon) each lies in (s,),
    sorted by track then x.
    """
    parts = shapely.get_parts(frame)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same_ring = ring[1:] == ring[:-1]
    p0, p1 = coords[:-1][same_ring], coords[1:][same_ring]
    edge_part = ring_part[ring[:-1][same_ring]]
    y_lo = np.minimum(p0[:, 1], p1[:, 1])
    y_hi = np.maximum(p0[:, 1], p1[:, 1])
    # Half-open rule y_lo <= y < y_hi: every closed ring crosses a track an
    # even number of times, including at vertices and along horizontal edges.
    first = np.searchsorted(track_y, y_lo, side="left")
    stop = np.searchsorted(track_y, y_hi, side="left")
    count = stop - first
    edge = np.repeat(np.arange(len(p0)), count)
    offset = np.repeat(np.cumsum(count) - count, count)
    line = first[edge] + (np.arange(len(edge)) - offset)
    a, b = p0[edge], p1[edge]
    y = track_y[line]
    x = a[:, 0] + (y - a[:, 1]) * (b[:, 0] - a[:, 0]) / (b[:, 1] - a[:, 1])
    by_line = np.lexsort((x, line))
    line, x, part = line[by_line], x[by_line], edge_part[edge[by_line]]
    seg_line, seg_a, seg_b, seg_part = line[0::2], x[0::2], x[1::2], part[0::2]
    real = seg_b - seg_a > tol
    return seg_line[real], seg_a[real], seg_b[real], seg_part[real]


def _cells(
    seg_line: np.ndarray, seg_a: np.ndarray, seg_b: np.ndarray, seg_part: np.ndarray, tol: float
) -> list[list[int]]:
    """Group segments into cells of one segment per consecutive track, bottom to top."""
    n = len(seg_line)
    lines, a, b, part = seg_line.tolist(), seg_a.tolist(), seg_b.tolist(), seg_part.tolist()
    line_first = np.searchsorted(seg_line, np.arange(seg_line[-1] + 2)).tolist()
    up: list[list[int]] = [[] for _ in range(n)]
    down: list[list[int]] = [[] for _ in range(n)]
    for line in range(lines[-1]):
        p, p_stop = line_first[line], line_first[line + 1]
        q, q_stop = line_first[line + 1], line_first[line + 2]
        while p < p_stop and q < q_stop:
            if part[p] == part[q] and a[q] < b[p] - tol and a[p] < b[q] - tol:
                up[p].append(q)
                down[q].append(p)
            if b[p] < b[q]:
                p += 1
            else:
                q += 1
    cell_of = [-1] * n
    cells: list[list[int]] = []
    for q in range(n):
        below = down[q]
        if len(below) == 1 and len(up[below[0]]) == 1:
            cell_of[q] = cell_of[below[0]]
            cells[cell_of[q]].append(q)
        else:
            cell_of[q] = len(cells)
            cells.append([q])
    return cells


def _order_segments(
    cells: list[list[int]],
    seg_a: np.ndarray,
    seg_b: np.ndarray,
    seg_y: np.ndarray,
    start: np.ndarray,
) -> np.ndarray:
    """Flight order of the segments: rows (segment index, 1 if flown toward +x else 0).

    Cells are flown in serpentine order, entered at one of their four corners
    (bottom-left, bottom-right, top-left, top-right); the next cell is the one
    with the entry corner nearest to where the previous one ended.
    """
    first = np.array([cell[0] for cell in cells])
    last = np.array([cell[-1] for cell in cells])
    corner_x = np.column_stack([seg_a[first], seg_b[first], seg_a[last], seg_b[last]])
    corner_y = np.column_stack([seg_y[first], seg_y[first], seg_y[last], seg_y[last]])
    done = np.zeros(len(cells), dtype=bool)
    here = start
    rows = []
    for _ in range(len(cells)):
        distance = np.hypot(corner_x - here[0], corner_y - here[1])
        distance[done] = np.inf
        cell, corner = np.unravel_index(int(np.argmin(distance)), distance.shape)
        done[cell] = True
        segs = np.asarray(cells[cell])
        if corner >= 2:  # enter at the top
            segs = segs[::-1]
        forward = (np.arange(len(segs)) % 2 == 0) == (corner % 2 == 0)
        rows.append(np.column_stack([segs, forward]))
        end = segs[-1]
        here = np.array([seg_b[end] if forward[-1] else seg_a[end], seg_y[end]])
    return np.vstack(rows)


def _link(
    frame: Polygon | MultiPolygon, ends: np.ndarray, part: np.ndarray, tol: float
) -> np.ndarray:
    """Join flown segments ``ends`` (s, 2, 2) into waypoints (n, 2), routing links inside.

    A link whose straight leg leaves the area (beyond ``tol``) is replaced by
    the shortest path inside the polygon both its ends lie in.
    """
    link_from, link_to = ends[:-1, 1], ends[1:, 0]
    length = np.hypot(*(link_to - link_from).T)
    check = np.flatnonzero((length > tol) & (part[:-1] == part[1:]))
    detours: dict[int, np.ndarray] = {}
    if len(check):
        area = shapely.buffer(frame, tol, join_style="mitre")
        shapely.prepare(area)
        legs = shapely.linestrings(np.stack([link_from[check], link_to[check]], axis=1))
        outside = check[~shapely.covered_by(legs, area)]
        graphs: dict[int, VisibilityGraph] = {}
        for k in outside.tolist():
            p = int(part[k])
            if p not in graphs:
                graphs[p] = _inside_graph(shapely.get_parts(frame)[p])
            try:
                route = graphs[p].route(link_from[k], link_to[k])
            except ValueError:  # numerically off the area: keep the straight leg
                continue
            detours[k] = route[1:-1]
    pieces: list[np.ndarray] = []
    done = 0
    for k in sorted(detours):
        pieces.append(ends[done : k + 1].reshape(-1, 2))
        pieces.append(detours[k])
        done = k + 1
    pieces.append(ends[done:].reshape(-1, 2))
    waypoints = np.vstack(pieces)
    step = np.hypot(*np.diff(waypoints, axis=0).T)
    return waypoints[np.r_[True, step > tol]]


def _inside_graph(polygon: Polygon) -> VisibilityGraph:
    """A zero-clearance visibility graph whose free space is ``polygon``."""
    xmin, ymin, xmax, ymax = polygon.bounds
    margin = max(xmax - xmin, ymax - ymin, 1.0)
    outside = Polygon(
        shapely.box(xmin - margin, ymin - margin, xmax + margin, ymax + margin).exterior.coords,
        holes=[polygon.exterior.coords],
    )
    holes = [Polygon(ring.coords) for ring in polygon.interiors]
    return VisibilityGraph([outside, *holes], clearance_m=0.0)

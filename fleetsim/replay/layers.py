"""Side layers of the replay bundle: terrain, zones, sites, missions, targets,
and the coverage / idleness rasters over time."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from fleetsim.geometry import disc_intervals
from fleetsim.metrics.raster import CellGrid, cell_grid, leg_footprint_radius

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.record import RecordedRun
    from fleetsim.world.terrain import Terrain

#: Largest side (pixels) of the hillshade image and the height grid in the bundle.
MAX_TERRAIN_PX = 2048
MAX_HEIGHTS_PX = 1024
#: Largest side (cells) of the coverage / idleness raster in the bundle.
MAX_RASTER_CELLS = 160
#: Idleness values: 0..254 in units of ``scale_s``; 255 marks cells outside the area.
IDLE_OUTSIDE = 255
IDLE_MAX_CODE = 254

# Hypsometric tint: (fraction of the height range, RGB).
_TINT_AT = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
_TINT_RGB = np.array([(92, 128, 84), (128, 156, 96), (176, 170, 120), (160, 132, 104),
                      (236, 232, 228)], dtype=np.float64)


def _decimation(n: int, limit: int) -> int:
    return max(1, math.ceil(n / limit))


def _round(x: float, nd: int = 3) -> float | None:
    x = float(x)
    return round(x, nd) if math.isfinite(x) else None


#: Colour of the sea in the hillshade image.
SEA_RGB = (31, 78, 138)


def terrain_layer(terrain: Terrain) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """(manifest entry, RGB image rows north first, float32 heights rows south first).

    The image's pixel centres are the (possibly decimated) grid points, so it spans
    ``[xmin - s/2, xmax + s/2] x [ymin - s/2, ymax + s/2]`` for spacing ``s``.
    """
    h = terrain.heights_m
    step_img = _decimation(max(h.shape), MAX_TERRAIN_PX)
    shade = terrain.hillshade()[::step_img, ::step_img].astype(np.float64) / 255.0
    hs = h[::step_img, ::step_img]
    lo, hi = float(h.min()), float(h.max())
    frac = (hs - lo) / (hi - lo) if hi > lo else np.zeros_like(hs)
    rgb = np.stack([np.interp(frac, _TINT_AT, _TINT_RGB[:, k])
                    for k in range(3)], axis=-1)
    # Soft shading: keep some colour on slopes facing away from the light.
    img = rgb * (0.35 + 0.65 * shade[..., None])
    # Under the sea (terrain with a sea level): water, not the flat surface's tint.
    water = getattr(terrain, "water", None)
    if water is not None:
        img[np.asarray(water, dtype=bool)[::step_img, ::step_img]] = SEA_RGB
    img = np.clip(np.rint(img), 0, 255).astype(np.uint8)[::-1]  # north row first
    s_img = terrain.spacing_m * step_img
    x0, y0 = terrain.origin_m
    ny, nx = hs.shape
    step_h = _decimation(max(h.shape), MAX_HEIGHTS_PX)
    heights = np.ascontiguousarray(h[::step_h, ::step_h], dtype="<f4")
    entry = {
        "image": "terrain/hillshade.png",
        "image_size_px": [nx, ny],
        "image_extent_m": [x0 - s_img / 2, y0 - s_img / 2,
                           x0 + (nx - 1) * s_img + s_img / 2, y0 + (ny - 1) * s_img + s_img / 2],
        "heights": {"origin_m": [x0, y0], "spacing_m": terrain.spacing_m * step_h,
                    "nx": int(heights.shape[1]), "ny": int(heights.shape[0]),
                    "min_m": lo, "max_m": hi},
    }
    return entry, img, heights


def _ring(coords) -> list[list[float]]:
    return [[_round(x, 2), _round(y, 2)] for x, y in np.asarray(coords)[:, :2]]


def _polygon_coords(poly: shapely.Geometry) -> list[list[list[list[float]]]]:
    """MultiPolygon coordinates (list of polygons, each [exterior, *holes])."""
    polys = list(poly.geoms) if hasattr(poly, "geoms") else [poly]
    return [[_ring(p.exterior.coords)] + [_ring(r.coords) for r in p.interiors]
            for p in polys if not p.is_empty]


def zones_layer(run: RecordedRun) -> dict[str, Any]:
    """Zones as a GeoJSON-like FeatureCollection in local ENU metres."""
    feats = []
    T = run.duration_s
    for z in run.world.zones:
        feats.append({
            "type": "Feature",
            "geometry": {"type": "MultiPolygon", "coordinates": _polygon_coords(z.polygon)},
            "properties": {"index": z.index, "id": z.id, "kind": z.kind,
                           "floor_amsl_m": _round(z.floor_amsl_m),
                           "ceiling_amsl_m": _round(z.ceiling_amsl_m),
                           "start_s": _round(z.start_s),
                           "end_s": _round(z.end_s) if math.isfinite(z.end_s) else None,
                           "active_in_run": bool(z.start_s < T and z.end_s > 0)},
        })
    return {"type": "FeatureCollection", "crs": "local ENU metres", "features": feats}


def missions_layer(run: RecordedRun) -> dict[str, Any]:
    feats = [{"type": "Feature",
              "geometry": {"type": "MultiPolygon", "coordinates": _polygon_coords(m.polygon)},
              "properties": {"index": m.index, "id": m.id, "kind": m.kind}}
             for m in run.world.missions]
    return {"type": "FeatureCollection", "crs": "local ENU metres", "features": feats}


def sites_layer(run: RecordedRun) -> list[dict[str, Any]]:
    return [{"index": s.index, "id": s.id, "kind": s.kind,
             "x_m": _round(s.xy[0], 2), "y_m": _round(s.xy[1], 2), "pads": s.pads}
            for s in run.world.sites]


def targets_layer(run: RecordedRun) -> dict[str, Any]:
    """Targets with the time and vehicle of their first detection (None: never)."""
    w = run.world
    n = len(w.target_ids)
    det = run.events_of("detection")
    first_t = np.full(n, np.inf)
    first_v = np.full(n, -1, dtype=np.int64)
    tg = np.asarray(det["target"], dtype=np.int64)
    ok = (tg >= 0) & (tg < n)
    for t, k, v in zip(det["time_s"][ok], tg[ok], det["vehicle"][ok], strict=True):
        if t < first_t[k]:
            first_t[k], first_v[k] = t, v
    return {
        "count": n,
        "ids": list(w.target_ids),
        "x_m": [_round(x, 2) for x in w.targets_xy[:, 0]] if n else [],
        "y_m": [_round(y, 2) for y in w.targets_xy[:, 1]] if n else [],
        "mission": [int(m) for m in w.target_mission],
        "first_detected_s": [_round(t) if math.isfinite(t) else None for t in first_t],
        "first_detected_by": [int(v) for v in first_v],  # recorded vehicle id, -1: never
        **_target_motion(run),
    }


def _wind_xy(speed: float, from_deg: float) -> tuple[float, float]:
    th = math.radians(from_deg)
    return -speed * math.sin(th), -speed * math.cos(th)


def _target_motion(run: RecordedRun) -> dict[str, Any]:
    """Moving targets' velocities (``vx_mps``, ``vy_mps``: position at t is x + vx t)
    and the datums of the missions whose targets drift (each at the mission area's
    centroid at time 0, or the policy's ``datum_x_m`` / ``datum_y_m``, drifting with
    the current + leeway x the wind at time 0); nothing for a run where no target moves."""
    w = run.world
    out: dict[str, Any] = {}
    vel = w.target_velocity
    if vel is not None and len(w.target_ids):
        out["vx_mps"] = [_round(v, 6) for v in vel[:, 0]]
        out["vy_mps"] = [_round(v, 6) for v in vel[:, 1]]
    sc = run.scenario
    params = sc.policy.params if isinstance(sc.policy.params, dict) else {}
    datums = []
    for i, m in enumerate(sc.missions):
        if m.drift is None:
            continue
        c = shapely.Polygon(m.exterior, holes=list(m.holes) or None).centroid
        x = params.get("datum_x_m", c.x)
        y = params.get("datum_y_m", c.y)
        vx, vy = m.drift.current_mps
        if sc.wind is not None and m.drift.leeway:
            wx, wy = _wind_xy(sc.wind.speed_mps, sc.wind.from_deg)
            vx, vy = vx + m.drift.leeway * wx, vy + m.drift.leeway * wy
        datums.append({"mission": i, "id": m.id, "x_m": _round(float(x), 2),
                       "y_m": _round(float(y), 2), "vx_mps": _round(vx, 4),
                       "vy_mps": _round(vy, 4)})
    if datums:
        out["datums"] = datums
    return out


def wind_layer(run: RecordedRun) -> dict[str, Any] | None:
    """The scenario's wind as periods of constant wind (None: no wind): ``periods``
    = list of ``{t_s, speed_mps, from_deg, vx_mps, vy_mps}`` (speeds at
    ``ref_height_m`` above ground; at height h times ``(h / ref_height_m) ** exponent``)."""
    wind = run.scenario.wind
    if wind is None:
        return None
    periods = []
    for t, speed, frm in [(0.0, wind.speed_mps, wind.from_deg),
                          *[(c.t_s, c.speed_mps, c.from_deg) for c in wind.changes]]:
        vx, vy = _wind_xy(speed, frm)
        periods.append({"t_s": _round(t), "speed_mps": _round(speed, 3),
                        "from_deg": _round(frm % 360.0, 3), "vx_mps": _round(vx, 4),
                        "vy_mps": _round(vy, 4)})
    return {"ref_height_m": _round(wind.ref_height_m), "exponent": _round(wind.exponent, 4),
            "periods": periods}


# ---------------------------------------------------------------- coverage rasters

@dataclass(frozen=True)
class CoverageRasters:
    grid: CellGrid
    #: Times of the idleness samples (s), (n_buckets,).
    times_s: np.ndarray
    #: Idleness of each area cell at each sample time (s), (n_buckets, n_cells) float64.
    idleness_s: np.ndarray
    #: First time each area cell was covered (s), NaN if never, (n_cells,).
    first_s: np.ndarray


def replay_grid(run: RecordedRun, max_cells: int = MAX_RASTER_CELLS) -> CellGrid:
    """The metrics raster, coarsened (whole multiples of its cell) to at most
    ``max_cells`` per side."""
    area = run.world.mission_area
    cell = float(run.scenario.outputs.metrics_cell_m)
    if area is not None and not shapely.is_empty(area):
        xmin, ymin, xmax, ymax = shapely.bounds(area)
        k = max(1, math.ceil(max(xmax - xmin, ymax - ymin) / (cell * max_cells) - 1e-9))
        cell *= k
    return cell_grid(area, cell)


def _cell_candidates(grid: CellGrid, xy0: np.ndarray, xy1: np.ndarray, r: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(leg, cell) pairs whose cell centre may come within ``r`` of the leg's segment.

    For each grid row whose centre line y = cy meets the leg's capsule, the
    capsule's slice lies between the segment's x at y = cy - r and at y = cy + r
    (both clamped to the segment), widened by r on each side.
    """
    c = grid.cell_m
    ya, yb = np.minimum(xy0[:, 1], xy1[:, 1]), np.maximum(xy0[:, 1], xy1[:, 1])
    row_lo = np.clip(np.ceil((ya - r - grid.y0_m) / c - 0.5), 0, grid.ny).astype(np.int64)
    row_hi = np.clip(np.floor((yb + r - grid.y0_m) / c - 0.5), -1, grid.ny - 1).astype(np.int64)
    n_rows = np.maximum(row_hi - row_lo + 1, 0)
    leg = np.repeat(np.arange(len(r)), n_rows)
    row = np.arange(int(n_rows.sum())) - np.repeat(np.cumsum(n_rows) - n_rows, n_rows)
    row += row_lo[leg]
    cy = grid.y0_m + (row + 0.5) * c
    x0, y0 = xy0[leg, 0], xy0[leg, 1]
    dx, dy = xy1[leg, 0] - x0, xy1[leg, 1] - y0
    rr = r[leg]

    def x_at(y: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.where(dy != 0, (y - y0) / dy, 0.0)
        return x0 + np.clip(s, 0.0, 1.0) * dx

    xa, xb = x_at(cy - rr), x_at(cy + rr)
    flat = dy == 0  # a horizontal leg's slice is the whole segment
    lo = np.where(flat, np.minimum(x0, x0 + dx), np.minimum(xa, xb)) - rr
    hi = np.where(flat, np.maximum(x0, x0 + dx), np.maximum(xa, xb)) + rr
    col_lo = np.clip(np.ceil((lo - grid.x0_m) / c - 0.5), 0, grid.nx).astype(np.int64)
    col_hi = np.clip(np.floor((hi - grid.x0_m) / c - 0.5), -1, grid.nx - 1).astype(np.int64)
    n_cols = np.maximum(col_hi - col_lo + 1, 0)
    pair_leg = np.repeat(leg, n_cols)
    col = np.arange(int(n_cols.sum())) - np.repeat(np.cumsum(n_cols) - n_cols, n_cols)
    col += np.repeat(col_lo, n_cols)
    cell = grid.cell_of[np.repeat(row, n_cols), col]
    keep = cell >= 0
    return pair_leg[keep], cell[keep]


def coverage_rasters(run: RecordedRun, n_buckets: int = 60, *,
                     grid: CellGrid | None = None, max_pairs: int = 500_000
                     ) -> CoverageRasters:
    """Idleness of every cell of the replay raster at ``n_buckets`` evenly spaced
    times over ``[0, duration]`` (first and last included), and each cell's first
    coverage time. Same definitions as :mod:`fleetsim.metrics.raster` (exact
    footprint intervals; idleness is the time since the cell's centre was last
    inside a sensing footprint, t itself if never yet, 0 while inside).

    Per-cell "last seen" values are maxima, so intervals from separate batches of
    legs combine without merging: a sample time t is covered if any interval
    holds it, and otherwise its idleness is t minus the latest interval end before t.
    """
    grid = grid or replay_grid(run)
    T = run.duration_s
    B = max(2, int(n_buckets))
    times = np.linspace(0.0, T, B)
    n_cells = grid.n_cells
    first = np.full(n_cells, np.inf)
    last_end = np.zeros((B + 1, n_cells))  # max interval end, registered at the first sample after it
    cover = np.zeros((B + 1, n_cells), dtype=np.int32)  # difference array of "inside" counts
    legs = run.legs
    sensing = np.asarray(legs["sensing"], dtype=bool)
    r = leg_footprint_radius(run)
    t0 = np.asarray(legs["t0_s"], dtype=np.float64)
    t1 = np.asarray(legs["t1_s"], dtype=np.float64)
    xy0 = np.column_stack([legs["x0_m"], legs["y0_m"]]).astype(np.float64)
    xy1 = np.column_stack([legs["x1_m"], legs["y1_m"]]).astype(np.float64)
    ok = (sensing & (r > 0) & np.isfinite(r) & (t1 >= 0) & (t0 <= T)
          & np.isfinite(xy0).all(axis=1) & np.isfinite(xy1).all(axis=1))
    idx = np.flatnonzero(ok)
    if n_cells and len(idx):
        # Batches of legs with about max_pairs candidate pairs each.
        c = grid.cell_m
        adx = np.abs(xy1[idx, 0] - xy0[idx, 0])
        ady = np.abs(xy1[idx, 1] - xy0[idx, 1])
        ri = r[idx]
        rows = np.minimum((ady + 2 * ri) / c + 1, grid.ny)
        with np.errstate(divide="ignore", invalid="ignore"):
            slice_w = np.where(ady > 0, 2 * ri * (1 + adx / ady), np.inf)
        cols = np.minimum(np.minimum(adx + 2 * ri, slice_w) / c + 2, grid.nx)
        load = np.cumsum(rows * cols)
        cuts = np.searchsorted(load, np.arange(max_pairs, load[-1] + max_pairs, max_pairs))
        bounds = np.unique(np.r_[0, cuts + 1, len(idx)].clip(0, len(idx)))
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            sel = idx[a:b]
            pl, cell = _cell_candidates(grid, xy0[sel], xy1[sel], r[sel])
            lg = sel[pl]
            t_in, t_out = disc_intervals(t0[lg], t1[lg], xy0[lg], xy1[lg],
                                         grid.centers[cell], r[lg])
            t_in = np.maximum(t_in, 0.0)
            t_out = np.minimum(t_out, T)
            hit = t_in <= t_out
            cell, t_in, t_out = cell[hit], t_in[hit], t_out[hit]
            np.minimum.at(first, cell, t_in)
            k_in = np.searchsorted(times, t_in, side="left")  # first sample >= t_in
            k_out = np.searchsorted(times, t_out, side="right")  # first sample > t_out
            np.maximum.at(last_end, (k_out, cell), t_out)
            np.add.at(cover, (k_in, cell), 1)
            np.subtract.at(cover, (k_out, cell), 1)
    seen = np.maximum.accumulate(last_end[:B], axis=0)
    inside = np.cumsum(cover[:B], axis=0) > 0
    idle = np.where(inside, 0.0, times[:, None] - seen)
    first[~np.isfinite(first)] = np.nan
    return CoverageRasters(grid, times, idle, first)


def coverage_layer(rasters: CoverageRasters, duration_s: float
                   ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(manifest entry, columns) of the coverage file.

    Columns: ``first_covered_s`` <f4 (ny * nx, NaN: never or outside the area);
    ``idleness`` <u1 (n_buckets * ny * nx; code * scale_s seconds, 255 outside).
    Rows run south to north, columns west to east.
    """
    g = rasters.grid
    B = len(rasters.times_s)
    scale = max(float(duration_s), 1e-9) / IDLE_MAX_CODE
    full_first = np.full(g.ny * g.nx, np.nan, dtype="<f4")
    idle = np.full((B, g.ny * g.nx), IDLE_OUTSIDE, dtype=np.uint8)
    where = g.cell_of.reshape(-1)
    inside = where >= 0
    if g.n_cells:
        full_first[inside] = rasters.first_s[where[inside]]
        codes = np.clip(np.rint(rasters.idleness_s / scale), 0, IDLE_MAX_CODE).astype(np.uint8)
        idle[:, inside] = codes[:, where[inside]]
    entry = {
        "grid": {"x0_m": g.x0_m, "y0_m": g.y0_m, "cell_m": g.cell_m, "nx": g.nx, "ny": g.ny,
                 "cells_in_area": g.n_cells},
        "times_s": [float(t) for t in rasters.times_s],
        "idleness_scale_s": scale,
        "idleness_outside": IDLE_OUTSIDE,
    }
    return entry, {"first_covered_s": full_first, "idleness": idle.reshape(-1)}


# ---------------------------------------------------------------- logistics layers

#: Largest side (cells) of the water mask in the bundle.
MAX_WATER_CELLS = 400
#: Order outcome codes of the orders layer (index = code).
ORDER_OUTCOMES = ("open", "delivered", "failed")
#: Codes for "none" in the orders layer's uint columns.
NO_SITE = 65535
NO_REASON = 255
#: Event kinds whose ``target`` is an order's index (not a search target's).
ORDER_EVENT_KINDS = ("order_created", "order_assigned", "load_queue", "pickup", "delivered",
                     "order_failed")


def roads_layer(run: RecordedRun) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
    """(manifest entry, columns) of the road network, or None without roads.

    One row per road (edge) of the world's network, open or closed: its segment and
    the time it closed during the run (NaN: open all run), taken from the
    ``road_closed`` events, whose x/y is the closed road's midpoint. The world a run
    records is built before any closure, so its network has every road open; roads
    a network already holds closed are included too.
    """
    net = getattr(run.world, "roads", None)
    if net is None:
        return None
    segs = np.vstack([np.asarray(net.segments(), dtype=np.float64).reshape(-1, 4),
                      np.asarray(net.closed_segments(), dtype=np.float64).reshape(-1, 4)])
    closed_s = np.full(len(segs), np.nan)
    mid = np.column_stack([(segs[:, 0] + segs[:, 2]) / 2, (segs[:, 1] + segs[:, 3]) / 2])
    length = np.hypot(segs[:, 2] - segs[:, 0], segs[:, 3] - segs[:, 1])
    ev = run.events_of("road_closed")
    unmatched = 0
    for t, x, y, value in zip(ev["time_s"], ev["x_m"], ev["y_m"], ev["value"], strict=True):
        d = np.hypot(mid[:, 0] - x, mid[:, 1] - y) if len(mid) else np.zeros(0)
        tol = 1e-6 * max(1.0, abs(float(x)), abs(float(y)))
        cand = np.flatnonzero((d <= tol) & np.isnan(closed_s))
        if len(cand) > 1 and math.isfinite(value):  # same midpoint: the road of that length
            cand = cand[np.argsort(np.abs(length[cand] - value), kind="stable")]
        if len(cand):
            closed_s[cand[0]] = float(t)
        else:
            unmatched += 1
    entry = {"count": int(len(segs)), "closed": int(np.isfinite(closed_s).sum()),
             "unmatched_closures": unmatched}
    cols = {"x0_m": segs[:, 0].astype("<f4"), "y0_m": segs[:, 1].astype("<f4"),
            "x1_m": segs[:, 2].astype("<f4"), "y1_m": segs[:, 3].astype("<f4"),
            "closed_s": closed_s.astype("<f8")}
    return entry, cols


def _lattice_spacing(values: np.ndarray) -> float:
    u = np.unique(values)
    if len(u) < 2:
        return math.inf
    d = np.diff(u)
    d = d[d > 1e-9 * max(1.0, float(np.abs(u).max()))]
    return float(d.min()) if len(d) else math.inf


def water_layer(run: RecordedRun, max_cells: int = MAX_WATER_CELLS
                ) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
    """(manifest entry, columns) of the water mask, or None without a water network.

    The navigation lattice's edges are far too many to draw; instead, a grid of
    cells (the lattice spacing, coarsened by a whole factor to at most ``max_cells``
    a side) marks those holding at least one lattice node (water).
    """
    net = getattr(run.world, "water", None)
    if net is None:
        return None
    xy = np.asarray(net.xy, dtype=np.float64).reshape(-1, 2)
    w = getattr(run.scenario, "water", None)
    if getattr(w, "source", "lattice") == "osm":
        # waterways: cells of the terrain's spacing along every edge (points every tenth
        # of a cell), so the rivers draw as lines of wet cells
        s = float(run.world.terrain.spacing_m)
        seg = net.segments()
        n = np.maximum(np.ceil(np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1])
                               / (s / 10)).astype(np.int64), 1)
        k = np.repeat(np.arange(len(seg)), n + 1)
        f = (np.arange(len(k)) - np.repeat(np.cumsum(n + 1) - (n + 1), n + 1)) / n[k]
        xy = np.vstack([xy, seg[k, :2] + f[:, None] * (seg[k, 2:] - seg[k, :2])])
    else:
        s = min(_lattice_spacing(xy[:, 0]), _lattice_spacing(xy[:, 1]))
    if not math.isfinite(s):
        s = float(getattr(w, "spacing_m", None) or 200.0)
    xmin, ymin = (float(v) for v in xy.min(axis=0))
    xmax, ymax = (float(v) for v in xy.max(axis=0))
    n_lat = max(round((xmax - xmin) / s), round((ymax - ymin) / s)) + 1
    cell = s * _decimation(n_lat, max_cells)
    x0, y0 = xmin - s / 2, ymin - s / 2
    nx = max(1, math.floor((xmax - x0) / cell) + 1)
    ny = max(1, math.floor((ymax - y0) / cell) + 1)
    col = np.clip(np.floor((xy[:, 0] - x0) / cell), 0, nx - 1).astype(np.int64)
    row = np.clip(np.floor((xy[:, 1] - y0) / cell), 0, ny - 1).astype(np.int64)
    wet = np.zeros(ny * nx, dtype=np.uint8)
    wet[row * nx + col] = 1
    entry = {"nodes": int(len(net.xy)), "edges": int(net.n_edges), "spacing_m": s,
             "grid": {"x0_m": x0, "y0_m": y0, "cell_m": cell, "nx": nx, "ny": ny},
             "wet_cells": int(wet.sum())}
    return entry, {"wet": wet}


def orders_layer(run: RecordedRun, sorted_ids: np.ndarray, site_ids: list[str]
                 ) -> tuple[dict[str, Any], dict[str, np.ndarray], list[str]] | None:
    """(manifest entry, columns, order ids) of the orders, or None when the run has none.

    Orders come from the run's orders table (one row per order created, its index =
    the ``target`` of the order events); outcomes from the events: the first
    ``delivered`` or ``order_failed`` of each order (failure reason: the event's
    detail), and the first ``pickup``.
    """
    from fleetsim.replay.keyframes import to_dense

    tab = run.orders
    n = len(tab["order"])
    ev = run.events
    kinds = np.asarray(ev["kind"], dtype=object)
    if n == 0:  # an older run without the table: the order_created events say as much
        made = kinds == "order_created"
        if not made.any():
            return None
        k = np.asarray(ev["target"], dtype=np.int64)[made]
        n = int(k.max()) + 1
        tab = {"order": np.arange(n), "id": np.array([str(i) for i in range(n)], dtype=object),
               "origin": np.full(n, "", dtype=object), "dest_x_m": np.full(n, np.nan),
               "dest_y_m": np.full(n, np.nan), "weight_kg": np.full(n, np.nan),
               "created_s": np.full(n, np.nan)}
        tab["origin"][k] = np.asarray(ev["detail"], dtype=object)[made]
        tab["dest_x_m"][k] = ev["x_m"][made]
        tab["dest_y_m"][k] = ev["y_m"][made]
        tab["weight_kg"][k] = ev["value"][made]
        tab["created_s"][k] = ev["time_s"][made]
    index = np.asarray(tab["order"], dtype=np.int64)
    outcome = np.zeros(n, dtype=np.uint8)
    outcome_s = np.full(n, np.nan)
    picked_s = np.full(n, np.nan)
    vehicle = np.full(n, -1, dtype=np.int64)
    reason = np.full(n, NO_REASON, dtype=np.uint8)
    reasons: list[str] = []
    pos = {int(k): i for i, k in enumerate(index)}
    times = np.asarray(ev["time_s"], dtype=np.float64)
    target = np.asarray(ev["target"], dtype=np.int64)
    vcol = np.asarray(ev["vehicle"], dtype=np.int64)
    detail = np.asarray(ev["detail"], dtype=object)
    for i in np.flatnonzero(np.isin(kinds, ("pickup", "delivered", "order_failed"))):
        r = pos.get(int(target[i]))
        if r is None:
            continue
        if kinds[i] == "pickup":
            if np.isnan(picked_s[r]):
                picked_s[r] = times[i]
            continue
        if outcome[r]:
            continue  # the first outcome counts
        outcome[r] = 1 if kinds[i] == "delivered" else 2
        outcome_s[r] = times[i]
        vehicle[r] = vcol[i]
        if kinds[i] == "order_failed":
            why = str(detail[i])
            if why not in reasons:
                reasons.append(why)
            reason[r] = min(reasons.index(why), NO_REASON - 1)
    origin = np.array([site_ids.index(o) if o in site_ids else NO_SITE
                       for o in map(str, tab["origin"])], dtype="<u2")
    cols = {
        "origin": origin,
        "dest_x_m": np.asarray(tab["dest_x_m"], dtype=np.float64).astype("<f4"),
        "dest_y_m": np.asarray(tab["dest_y_m"], dtype=np.float64).astype("<f4"),
        "weight_kg": np.asarray(tab["weight_kg"], dtype=np.float64).astype("<f4"),
        "created_s": np.asarray(tab["created_s"], dtype="<f8"),
        "picked_s": picked_s.astype("<f8"),
        "outcome": outcome,
        "outcome_s": outcome_s.astype("<f8"),
        "reason": reason,
        "vehicle": to_dense(vehicle, sorted_ids, allow_missing=True).astype("<i4"),
    }
    entry = {"count": n, "outcomes": list(ORDER_OUTCOMES), "reasons": reasons,
             "delivered": int((outcome == 1).sum()), "failed": int((outcome == 2).sum())}
    return entry, cols, [str(i) for i in tab["id"]]

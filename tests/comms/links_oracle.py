"""Frozen copies of the radio-link functions as they were before the stations got a
spatial index (fleetsim.comms at 7755f78, fleetsim.world.viewshed likewise): the
oracle the current ones must agree with bit for bit, and the baseline of
``benchmarks/comms_scale.py``. Not to be changed."""

# ruff: noqa

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fleetsim.geometry import merge_intervals

#: Side, in grid cells, of the blocks of :attr:`Horizon.block_zmin`.
BLOCK = 8
RELAY_MAX_GAP_S = 10.0


@dataclass(frozen=True)
class Station:
    index: int
    xyz: tuple[float, float, float]
    range_m: float
    horizon: "Horizon | None" = field(default=None, compare=False, repr=False)


def stations_of(world) -> list[Station]:
    """Stations with today's full-grid horizons, built up front."""
    terrain = world.terrain
    flat = bool(np.ptp(terrain.heights_m) == 0.0)
    return [Station(s.index, (s.xy[0], s.xy[1], s.antenna_z_m), float(s.radio_range_m),
                    None if flat else Horizon(terrain, s.xy[0], s.xy[1], s.antenna_z_m))
            for s in world.sites if s.radio_range_m]


class Horizon:
    """The horizon-slope grid of one antenna over one terrain.

    Parameters
    ----------
    terrain:
        A :class:`fleetsim.world.terrain.Terrain`.
    x, y, z:
        Antenna position, metres (``z`` above the datum).
    """

    def __init__(self, terrain, x: float, y: float, z: float) -> None:
        self.terrain = terrain
        self.x, self.y, self.z = float(x), float(y), float(z)
        h = np.asarray(terrain.heights_m, dtype=np.float64)
        ny, nx = h.shape
        s = terrain.spacing_m
        ox, oy = terrain.origin_m
        cx = int(np.clip(round((self.x - ox) / s), 0, nx - 1))
        cy = int(np.clip(round((self.y - oy) / s), 0, ny - 1))
        iy, ix = np.mgrid[0:ny, 0:nx]
        dx = (ox + ix * s) - self.x
        dy = (oy + iy * s) - self.y
        dist = np.hypot(dx, dy)
        slope = np.where(dist > 0, (h - self.z) / np.maximum(dist, 1e-9), -np.inf)
        horizon = np.full((ny, nx), -np.inf)
        ring = np.maximum(np.abs(ix - cx), np.abs(iy - cy))
        # Parents: where the line back to the antenna crosses the previous ring, between
        # two cells of that ring; their values are interpolated (XDraw).
        k = np.maximum(ring, 1).astype(np.float64)
        fx = cx + (ix - cx) * (k - 1) / k
        fy = cy + (iy - cy) * (k - 1) / k
        x0 = np.floor(fx).astype(np.intp)
        y0 = np.floor(fy).astype(np.intp)
        wx = fx - x0
        wy = fy - y0
        x1 = np.minimum(x0 + 1, nx - 1)
        y1 = np.minimum(y0 + 1, ny - 1)
        # One of the two coordinates is whole; interpolate along the other.
        along_x = np.abs(ix - cx) < np.abs(iy - cy)  # the line is steeper: x fractional
        pa = np.where(along_x, y0 * nx + x0, y0 * nx + x0).ravel()
        pb = np.where(along_x, y0 * nx + x1, y1 * nx + x0).ravel()
        w = np.where(along_x, wx, wy).ravel()
        order = np.argsort(ring, axis=None, kind="stable")
        ring_flat = ring.ravel()[order]
        bounds = np.searchsorted(ring_flat, np.arange(ring_flat[-1] + 2))
        hor_flat = horizon.ravel()
        slope_flat = slope.ravel()
        for r in range(1, int(ring_flat[-1]) + 1):
            cells = order[bounds[r]:bounds[r + 1]]
            a, b, t = pa[cells], pb[cells], w[cells]
            va = np.maximum(hor_flat[a], slope_flat[a])
            vb = np.maximum(hor_flat[b], slope_flat[b])
            both = np.isfinite(va) & np.isfinite(vb)
            hor_flat[cells] = np.where(both, (1.0 - t) * va + t * vb, np.maximum(va, vb))
        self.horizon = hor_flat.reshape(ny, nx)
        # Lowest height in sight above each cell, and its maximum over blocks of cells:
        # a straight segment that stays inside one 2 x 2 group of blocks and is
        # never lower than that maximum is in sight all along.
        with np.errstate(invalid="ignore"):
            zmin = self.z + self.horizon * dist
        zmin[~np.isfinite(zmin)] = -np.inf
        b = BLOCK
        pad_y, pad_x = (-ny) % b, (-nx) % b
        padded = np.pad(zmin, ((0, pad_y), (0, pad_x)), constant_values=-np.inf)
        self.block_zmin = padded.reshape((ny + pad_y) // b, b, (nx + pad_x) // b, b) \
            .max(axis=(1, 3))

    def segments_surely_visible(self, p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
        """(n,) bool: segments (n, 3) -> (n, 3) that are certainly in sight all along
        (conservative: False means "look closer", not "out of sight")."""
        t = self.terrain
        s = t.spacing_m * BLOCK
        by, bx = self.block_zmin.shape
        h = 0.5 * t.spacing_m  # a point is judged by its nearest cell: widen by half a cell
        ox, oy = t.origin_m[0] - h, t.origin_m[1] - h
        x0 = np.floor((np.minimum(p0[:, 0], p1[:, 0]) - ox - h) / s).astype(np.intp)
        x1 = np.floor((np.maximum(p0[:, 0], p1[:, 0]) - ox + h) / s).astype(np.intp)
        y0 = np.floor((np.minimum(p0[:, 1], p1[:, 1]) - oy - h) / s).astype(np.intp)
        y1 = np.floor((np.maximum(p0[:, 1], p1[:, 1]) - oy + h) / s).astype(np.intp)
        ok = (x1 - x0 <= 1) & (y1 - y0 <= 1) & (x0 >= 0) & (y0 >= 0) & (x1 < bx) & (y1 < by)
        x0, x1, y0, y1 = (np.clip(a, 0, m - 1) for a, m in ((x0, bx), (x1, bx), (y0, by),
                                                             (y1, by)))
        zb = self.block_zmin
        top = np.maximum(np.maximum(zb[y0, x0], zb[y0, x1]), np.maximum(zb[y1, x0], zb[y1, x1]))
        return ok & (np.minimum(p0[:, 2], p1[:, 2]) >= top)

    def visible(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Whether points ``(x, y, z)`` (arrays, metres) are in sight of the antenna."""
        t = self.terrain
        ny, nx = self.horizon.shape
        ix = np.clip(np.rint((np.asarray(x) - t.origin_m[0]) / t.spacing_m), 0, nx - 1)
        iy = np.clip(np.rint((np.asarray(y) - t.origin_m[1]) / t.spacing_m), 0, ny - 1)
        d = np.hypot(np.asarray(x) - self.x, np.asarray(y) - self.y)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.where(d > 0, (np.asarray(z) - self.z) / d, np.inf)
        return s >= self.horizon[iy.astype(np.intp), ix.astype(np.intp)] - 1e-12


def station_in_sight(station: Station, pts: np.ndarray, terrain) -> np.ndarray:
    """(n,) bool: terrain line of sight from ``station``'s antenna to points (n, 3)."""
    if station.horizon is not None:
        return station.horizon.visible(pts[:, 0], pts[:, 1], pts[:, 2])
    return terrain.line_of_sight(pts, np.broadcast_to(np.asarray(station.xyz), pts.shape))


def range_intervals(t0, t1, p0, p1, station: Station) -> tuple[np.ndarray, np.ndarray]:
    """Times each leg is within ``station``'s slant range (NaN where never).

    ``p0``, ``p1``: (n, 3) leg ends; returns ``(t_in, t_out)`` clipped to the legs.
    """
    t0 = np.asarray(t0, dtype=np.float64)
    t1 = np.asarray(t1, dtype=np.float64)
    span = t1 - t0
    c = np.asarray(station.xyz)
    w = p0 - c  # (n, 3)
    u = p1 - p0  # displacement over the leg; position at fraction f: w + f u
    a = np.einsum("ij,ij->i", u, u)
    b = 2.0 * np.einsum("ij,ij->i", w, u)
    cc = np.einsum("ij,ij->i", w, w) - station.range_m ** 2
    f_in = np.full(len(t0), np.nan)
    f_out = np.full(len(t0), np.nan)
    still = a <= 1e-12
    inside_still = still & (cc <= 0.0)
    f_in[inside_still], f_out[inside_still] = 0.0, 1.0
    moving = ~still
    disc = b * b - 4.0 * a * cc
    ok = moving & (disc >= 0.0)
    sq = np.sqrt(np.where(ok, disc, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = (-b - sq) / (2.0 * a)
        hi = (-b + sq) / (2.0 * a)
    ok &= (hi >= 0.0) & (lo <= 1.0)
    f_in[ok] = np.maximum(lo[ok], 0.0)
    f_out[ok] = np.minimum(hi[ok], 1.0)
    return t0 + f_in * span, t0 + f_out * span


def link_intervals(t0, t1, p0, p1, stations: list[Station], terrain, *,
                   los_step_m: float = 100.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """In-link intervals of legs: ``(leg_index, t_start, t_end)``, merged per leg, sorted.

    Parameters
    ----------
    t0, t1 : (n,) float
        Leg start and end times (s).
    p0, p1 : (n, 3) float
        Leg start and end positions (m, z above datum).
    stations :
        Ground stations (see :func:`stations_of`).
    terrain :
        A :class:`fleetsim.world.terrain.Terrain` for line of sight.
    """
    t0 = np.asarray(t0, dtype=np.float64)
    t1 = np.asarray(t1, dtype=np.float64)
    p0 = np.asarray(p0, dtype=np.float64).reshape(-1, 3)
    p1 = np.asarray(p1, dtype=np.float64).reshape(-1, 3)
    step = max(los_step_m, terrain.spacing_m)
    flat = bool(np.ptp(terrain.heights_m) == 0.0)
    legs, starts, ends = [], [], []
    span = t1 - t0
    length = np.hypot(*(p1[:, :2] - p0[:, :2]).T)
    covered = np.zeros(len(t0), dtype=bool)  # in link for the whole leg already
    # Each leg tries its nearest station first, then the next nearest, ...: most legs
    # are covered whole by the first and need no other.
    mid = 0.5 * (p0[:, :2] + p1[:, :2])
    sxy = np.array([st.xyz[:2] for st in stations]).reshape(-1, 2)
    rank = np.argsort(np.hypot(mid[:, None, 0] - sxy[None, :, 0],
                               mid[:, None, 1] - sxy[None, :, 1]), axis=1, kind="stable")
    ranges = [range_intervals(t0, t1, p0, p1, st) for st in stations]
    for r, si in ((r, si) for r in range(len(stations)) for si in range(len(stations))):
        st = stations[si]
        t_in, t_out = ranges[si]
        hit = np.flatnonzero((rank[:, r] == si) & ~np.isnan(t_in) & (t_out > t_in) & ~covered)
        if len(hit) == 0:
            continue
        if st.horizon is not None and not flat:
            # Whole legs in range (both ends inside the range sphere: it is convex) and
            # surely in sight need no sampling.
            whole = (t_in[hit] <= t0[hit]) & (t_out[hit] >= t1[hit])
            if whole.any():
                w = hit[whole]
                sure = st.horizon.segments_surely_visible(p0[w], p1[w])
                done = w[sure]
                legs.append(done)
                starts.append(t0[done])
                ends.append(t1[done])
                covered[done] = True
                hit = hit[~np.isin(hit, done)]
                if len(hit) == 0:
                    continue
        if flat:
            legs.append(hit)
            starts.append(t_in[hit])
            ends.append(t_out[hit])
            covered[hit[(t_in[hit] <= t0[hit]) & (t_out[hit] >= t1[hit])]] = True
            continue
        # Line of sight sampled along each in-range piece, constant between samples.
        f_a = np.where(span[hit] > 0, (t_in[hit] - t0[hit]) / np.where(span[hit] > 0,
                                                                         span[hit], 1.0), 0.0)
        f_b = np.where(span[hit] > 0, (t_out[hit] - t0[hit]) / np.where(span[hit] > 0,
                                                                          span[hit], 1.0), 1.0)
        k = np.maximum(1, np.ceil((f_b - f_a) * length[hit] / step).astype(np.int64))
        owner = np.repeat(np.arange(len(hit)), k + 1)
        pos_in = np.arange(len(owner)) - np.repeat(np.cumsum(k + 1) - (k + 1), k + 1)
        f = f_a[owner] + (f_b - f_a)[owner] * pos_in / k[owner]
        leg = hit[owner]
        pts = p0[leg] + f[:, None] * (p1[leg] - p0[leg])
        vis = station_in_sight(st, pts, terrain)
        times = t0[leg] + f * span[leg]
        # A visible sample stands for the stretch up to the next sample of its piece;
        # runs of visible samples make one interval each.
        last = np.r_[pos_in[1:] == 0, True]
        keep = vis & ~last
        run_start = keep & ~np.r_[False, keep[:-1] & (pos_in[1:] != 0)]
        run_end = keep & ~np.r_[keep[1:] & (pos_in[1:] != 0), False]
        nxt = np.r_[times[1:], np.nan]
        run_leg, run_a, run_b = leg[run_start], times[run_start], nxt[run_end]
        legs.append(run_leg)
        starts.append(run_a)
        ends.append(run_b)
        covered[run_leg[(run_a <= t0[run_leg]) & (run_b >= t1[run_leg])]] = True
    if not legs:
        return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
    leg = np.concatenate(legs)
    a = np.concatenate(starts)
    b = np.concatenate(ends)
    return merge_intervals(leg, a, b)


def sample_step_s(t0, t1, p0, p1, terrain, *, los_step_m: float = 100.0,
                  max_gap_s: float = RELAY_MAX_GAP_S) -> np.ndarray:
    """Time between the relay samples of each leg (s).

    The time the leg takes to cover ``max(los_step_m, terrain spacing)`` horizontally
    (the line-of-sight step of :func:`link_intervals`), at most ``max_gap_s``. It
    depends on the leg's speed only, so a leg cut short keeps its samples."""
    t0 = np.asarray(t0, dtype=np.float64)
    t1 = np.asarray(t1, dtype=np.float64)
    p0 = np.asarray(p0, dtype=np.float64).reshape(-1, 3)
    p1 = np.asarray(p1, dtype=np.float64).reshape(-1, 3)
    step = max(los_step_m, terrain.spacing_m)
    span = t1 - t0
    length = np.hypot(*(p1[:, :2] - p0[:, :2]).T)
    with np.errstate(invalid="ignore", divide="ignore"):
        dt = span * step / length
    return np.where((length > 0) & (span > 0) & (dt < max_gap_s), dt, max_gap_s)


def grid_link_intervals(t0, t1, p0, p1, stations: list[Station], terrain, *,
                        los_step_m: float = 100.0, max_gap_s: float = RELAY_MAX_GAP_S
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Direct in-link intervals, as :func:`link_intervals` but with line of sight checked
    on the relay sample grid: ``(leg_index, t_start, t_end)``, merged per leg, sorted.

    The range part is exact. Each grid stretch ``[t0 + i dt, t0 + (i + 1) dt]`` that
    meets an in-range piece counts, over their overlap, as in sight if the antenna is
    in sight at the overlap's start (a leg that does not move: once for the piece).
    A leg cut short keeps its grid, so its intervals before the cut do not change.
    """
    t0 = np.asarray(t0, dtype=np.float64)
    t1 = np.asarray(t1, dtype=np.float64)
    p0 = np.asarray(p0, dtype=np.float64).reshape(-1, 3)
    p1 = np.asarray(p1, dtype=np.float64).reshape(-1, 3)
    flat = bool(np.ptp(terrain.heights_m) == 0.0)
    dt = sample_step_s(t0, t1, p0, p1, terrain, los_step_m=los_step_m, max_gap_s=max_gap_s)
    still = (p0 == p1).all(axis=1)
    span = t1 - t0
    legs, starts, ends = [], [], []
    for st in stations:
        t_in, t_out = range_intervals(t0, t1, p0, p1, st)
        hit = np.flatnonzero(~np.isnan(t_in) & (t_out > t_in))
        if len(hit) == 0:
            continue
        if flat:
            legs.append(hit)
            starts.append(t_in[hit])
            ends.append(t_out[hit])
            continue
        d, a_h, b_h, s_h = dt[hit], t_in[hit], t_out[hit], t0[hit]
        i_a = np.maximum(np.floor((a_h - s_h) / d), 0.0)
        i_b = np.maximum(np.ceil((b_h - s_h) / d), i_a + 1.0)
        i_b = np.where(still[hit], i_a + 1.0, i_b)
        m = (i_b - i_a).astype(np.int64)
        owner = np.repeat(np.arange(len(hit)), m)
        i = i_a[owner] + (np.arange(int(m.sum())) - np.repeat(np.cumsum(m) - m, m))
        a = np.maximum(s_h[owner] + i * d[owner], a_h[owner])
        b = np.where(still[hit][owner], b_h[owner],
                     np.minimum(s_h[owner] + (i + 1) * d[owner], b_h[owner]))
        leg = hit[owner]
        f = (a - t0[leg]) / span[leg]
        pts = p0[leg] + f[:, None] * (p1[leg] - p0[leg])
        vis = station_in_sight(st, pts, terrain)
        keep = vis & (b > a)
        legs.append(leg[keep])
        starts.append(a[keep])
        ends.append(b[keep])
    if not legs:
        return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
    return merge_intervals(np.concatenate(legs), np.concatenate(starts), np.concatenate(ends))

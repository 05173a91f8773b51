"""Terrain-following routes: climb where the ground rises between waypoints.

A route is flown as straight legs between waypoints, each waypoint at a height
above the ground under it (``GoTo`` / ``Route``'s ``alt_agl_m``). Between two
waypoints the ground may rise above the straight line: a ridge crossed by a
long leg. :class:`TerrainFollower` raises waypoints (and splits the legs that
need it, so that only the stretch over the rise climbs) until every leg keeps
a required clearance above the terrain *everywhere along it*, not only at some
samples:

- Each leg is sampled at most one grid spacing apart (so two consecutive
  samples are at most one cell apart in x and in y). The bilinear terrain on the
  piece between two samples is at most the highest grid point of the (at most
  four) cells the piece can touch, and the line is at least as high as the lower
  of the two samples. The difference is a lower bound of the clearance on that
  piece, whatever the sampling of the leg by whoever checks it later (the
  engine samples at the grid spacing: ``Terrain.first_below``), and whether the
  leg is flown whole or cut short.
- A leg short of the clearance by ``d`` metres gets both its ends raised by at
  least ``d``: the whole line then rises by at least ``d``. Raising a waypoint
  only lifts the legs on both sides of it, so one pass over all the legs
  suffices. A deficit on the first leg (which starts where the vehicle is, at a
  height it has already) adds a vertical climb there first.

Everything is vectorised over all the legs of many routes at once (the samples
of a batch are processed in chunks of bounded size).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["TerrainFollower", "follow_parts", "route_pieces"]

#: Samples processed per chunk (bounded working memory).
_CHUNK_SAMPLES = 1 << 18
#: Batches shorter than this many grid spacings in all are bounded at the finest level only.
_FINE_ONLY_M = 4096
#: Legs (and waypoint heights) whose answers a follower keeps, at most.
_KNOWN_MAX = 1 << 16


class TerrainFollower:
    """Certified terrain clearance of straight legs, and routes raised to keep it.

    Parameters
    ----------
    terrain:
        A :class:`fleetsim.world.terrain.Terrain` (bilinear heights on a grid,
        clamped outside it).
    margin_m:
        Extra height kept on top of each required clearance, metres (>= 0).
    quantum_m:
        Raises are rounded up to a multiple of this, metres (> 0), so that
        neighbouring raised waypoints share one height and a route splits into
        few pieces of equal height above the ground.
    split_m:
        Legs short of the clearance are first cut into pieces no longer than this
        (metres), so that only the pieces near the rise climb; default four grid
        spacings. ``math.inf``: never split.
    """

    def __init__(self, terrain, *, margin_m: float = 1e-6, quantum_m: float = 5.0,
                 split_m: float | None = None) -> None:
        if not (math.isfinite(margin_m) and margin_m >= 0):
            raise ValueError(f"margin_m must be a finite number >= 0, got {margin_m!r}")
        if not (math.isfinite(quantum_m) and quantum_m > 0):
            raise ValueError(f"quantum_m must be a finite number > 0, got {quantum_m!r}")
        self.terrain = terrain
        self.margin_m = float(margin_m)
        self.quantum_m = float(quantum_m)
        self.spacing_m = float(terrain.spacing_m)
        self.split_m = 4.0 * self.spacing_m if split_m is None else float(split_m)
        if not self.split_m > 0:
            raise ValueError(f"split_m must be > 0, got {split_m!r}")
        h = np.asarray(terrain.heights_m, dtype=np.float64)
        # Highest corner of every cell: (ny - 1, nx - 1).
        self._cell_max = np.maximum(np.maximum(h[:-1, :-1], h[:-1, 1:]),
                                    np.maximum(h[1:, :-1], h[1:, 1:]))
        self._flat_relief = bool(np.ptp(h) == 0.0)
        self._top = float(h.max())
        self._rows = h.tolist()  # for scalar heights
        self._rows_of: dict[int, list] = {}
        self._known_legs: dict[tuple, bool] = {}
        self._known_heights: dict[tuple[float, float], float] = {}
        self._levels = [self._cell_max]
        #: Coarsest level tried first: blocks of 8 x 8 cells (fewer on small grids).
        self._coarsest = max(0, min(3, int(math.log2(max(1, min(h.shape) - 1)))))

    # ------------------------------------------------------------------ clearance

    def height(self, x: float, y: float) -> float:
        """Terrain height at one point (as ``Terrain.height_at``, without numpy's
        per-call cost)."""
        t = self.terrain
        ny, nx = t.shape
        inv = 1.0 / self.spacing_m
        fx = min(max((x - t.origin_m[0]) * inv, 0.0), nx - 1.0)
        fy = min(max((y - t.origin_m[1]) * inv, 0.0), ny - 1.0)
        ix = min(int(fx), nx - 2)
        iy = min(int(fy), ny - 2)
        tx, ty = fx - ix, fy - iy
        h = self._rows
        h00, h10 = h[iy][ix], h[iy][ix + 1]
        h01, h11 = h[iy + 1][ix], h[iy + 1][ix + 1]
        south = h00 + tx * (h10 - h00)
        north = h01 + tx * (h11 - h01)
        return south + ty * (north - south)

    def leg_clear(self, p0: Sequence[float], p1: Sequence[float], need_m: float, *,
                  finest: int | None = None) -> bool:
        """Whether one straight leg surely keeps ``need_m`` above the terrain (the bound
        of :meth:`clearance`, in plain Python for one leg): tried on the coarsest
        blocks first, then finer ones down to level ``finest`` (default: the coarsest
        only, a quick test; 0: the full bound). False means "not sure" at that level."""
        stop = self._coarsest if finest is None else finest
        for level in range(self._coarsest, stop - 1, -1):
            if self._leg_clear_at(p0, p1, need_m, level):
                return True
        return False

    def _leg_clear_at(self, p0: Sequence[float], p1: Sequence[float], need_m: float,
                      level: int) -> bool:
        rows = self._level_rows(level)
        t = self.terrain
        ny, nx = t.shape
        inv = 1.0 / self.spacing_m
        x0, y0, z0 = p0
        dx, dy, dz = p1[0] - x0, p1[1] - y0, p1[2] - z0
        m = max(1, math.ceil(math.hypot(dx, dy) / (0.999 * self.spacing_m * (1 << level))))
        prev = None
        worst = math.inf
        for k in range(m + 1):
            f = k / m
            fx = min(max((x0 + f * dx - t.origin_m[0]) * inv, 0.0), nx - 1.0)
            fy = min(max((y0 + f * dy - t.origin_m[1]) * inv, 0.0), ny - 1.0)
            cell = (min(int(fx), nx - 2) >> level, min(int(fy), ny - 2) >> level, z0 + f * dz)
            if prev is not None:
                ia, ja, za = prev
                ib, jb, zb = cell
                top = max(rows[ja][ia], rows[ja][ib], rows[jb][ia], rows[jb][ib])
                worst = min(worst, min(za, zb) - top)
                if worst < need_m:
                    return False
            prev = cell
        return worst >= need_m

    def _few_clear(self, starts: np.ndarray, routes: Sequence[np.ndarray], agl: np.ndarray,
                   need: np.ndarray) -> bool:
        """Whether a few legs all surely keep their clearance, by :meth:`leg_clear`
        (plain Python: for a vehicle or two, numpy's per-call cost dominates)."""
        for i, r in enumerate(routes):
            if not self._route_clear(starts[i].tolist(), r, float(agl[i]), float(need[i])):
                return False
        return True

    def _route_clear(self, start: Sequence[float], route: np.ndarray, agl: float,
                     need: float) -> bool:
        """:meth:`_few_clear` for one route. Legs between the same points recur (a
        patrol's cell centres): their answers and the waypoints' heights are kept."""
        x, y, z = start
        known, heights = self._known_legs, self._known_heights
        for gx, gy in np.asarray(route, dtype=np.float64).reshape(-1, 2).tolist():
            h = heights.get((gx, gy))
            if h is None:
                if len(heights) >= _KNOWN_MAX:
                    heights.clear()
                h = heights[gx, gy] = self.height(gx, gy)
            gz = h + agl
            key = (x, y, z, gx, gy, gz, need)
            ok = known.get(key)
            if ok is None:
                if len(known) >= _KNOWN_MAX:
                    known.clear()
                ok = known[key] = self.leg_clear((x, y, z), (gx, gy, gz), need, finest=0)
            if not ok:
                return False
            x, y, z = gx, gy, gz
        return True

    def unchanged_one(self, start: Sequence[float], route: np.ndarray, agl_m: float,
                      need_m: float) -> bool:
        """Whether :meth:`follow` surely returns one route unchanged, by its quick tests
        in plain Python (for one vehicle, numpy's per-call cost dominates): ``start``
        (x, y, z above the datum), ``route`` ((n, 2) waypoints), ``agl_m`` its height
        above the ground, ``need_m`` the clearance plus :attr:`margin_m`. False means
        "not sure": ask :meth:`follow`."""
        x, y, z = start
        if self._flat_relief and agl_m >= need_m and z - self.height(x, y) >= need_m:
            return True
        n = len(route)
        return n == 0 or (n <= 32 and self._route_clear((x, y, z), route, agl_m, need_m))

    def _level_rows(self, level: int) -> list:
        cached = self._rows_of.get(level)
        if cached is None:
            cached = self._rows_of[level] = self._level(level).tolist()
        return cached

    def _level(self, level: int) -> np.ndarray:
        """Highest grid point of each block of 2^level x 2^level cells."""
        while len(self._levels) <= level:
            g = self._levels[-1]
            ny, nx = g.shape
            if ny % 2:
                g = np.vstack([g, g[-1:]])
            if nx % 2:
                g = np.hstack([g, g[:, -1:]])
            self._levels.append(np.maximum(np.maximum(g[0::2, 0::2], g[0::2, 1::2]),
                                           np.maximum(g[1::2, 0::2], g[1::2, 1::2])))
        return self._levels[level]

    def _bound(self, p0: np.ndarray, p1: np.ndarray, level: int) -> np.ndarray:
        """Clearance bound of legs from samples 2^level spacings apart and the block
        maxima of that level (see :meth:`clearance`)."""
        n = len(p0)
        out = np.full(n, np.inf)
        step = self.spacing_m * (1 << level)
        d = p1 - p0
        horizontal = np.hypot(d[:, 0], d[:, 1])
        # Pieces at most one block long (a hair less, against rounding).
        pieces = np.maximum(np.ceil(horizontal / (0.999 * step)), 1.0).astype(np.int64)
        grid = self._level(level)
        ny, nx = self.terrain.shape
        ox, oy = self.terrain.origin_m
        inv = 1.0 / self.spacing_m
        start = 0
        while start < n:
            # Legs of this chunk: as many as fit in the sample budget (at least one).
            cum = np.cumsum(pieces[start:] + 1)
            stop = start + max(1, int(np.searchsorted(cum, _CHUNK_SAMPLES, side="right")))
            cnt = pieces[start:stop] + 1  # samples per leg, both ends included
            leg = np.repeat(np.arange(start, stop), cnt)
            first = np.cumsum(cnt) - cnt
            f = (np.arange(len(leg)) - np.repeat(first, cnt)) / (cnt - 1.0)[leg - start]
            x = p0[leg, 0] + f * d[leg, 0]
            y = p0[leg, 1] + f * d[leg, 1]
            z = p0[leg, 2] + f * d[leg, 2]
            fx = np.clip((x - ox) * inv, 0.0, nx - 1)
            fy = np.clip((y - oy) * inv, 0.0, ny - 1)
            ix = np.minimum(fx.astype(np.intp), nx - 2) >> level
            iy = np.minimum(fy.astype(np.intp), ny - 2) >> level
            # Piece between samples q and q + 1 (the last sample of a leg starts none).
            ia, ib = ix[:-1], ix[1:]
            ja, jb = iy[:-1], iy[1:]
            top = np.maximum(np.maximum(grid[ja, ia], grid[ja, ib]),
                             np.maximum(grid[jb, ia], grid[jb, ib]))
            c = np.minimum(z[:-1], z[1:]) - top
            last = first + cnt - 1  # each leg's last sample
            c[last[:-1]] = np.inf  # pieces that would join two legs
            out[start:stop] = np.minimum.reduceat(c, first) if len(c) else out[start:stop]
            start = stop
        return out

    def clearance(self, p0: np.ndarray, p1: np.ndarray, need_m: np.ndarray | None = None
                  ) -> np.ndarray:
        """A lower bound of the height above the terrain along straight legs.

        Parameters
        ----------
        p0, p1:
            (n, 3) float start and end points (x, y, z above the datum), metres.
        need_m:
            (n,) or scalar: stop refining a leg's bound once it is at least this
            (coarse blocks first: most legs far above the ground are settled by a
            few samples); None: the finest bound for every leg.

        Returns
        -------
        numpy.ndarray
            (n,) float64: no point of leg ``i`` is closer than ``out[i]`` metres
            above the (bilinear) terrain (and ``out[i] >= need_m[i]``, or the bound
            from samples one grid spacing apart).
        """
        p0 = np.asarray(p0, dtype=np.float64).reshape(-1, 3)
        p1 = np.asarray(p1, dtype=np.float64).reshape(-1, 3)
        n = len(p0)
        out = np.full(n, np.inf)
        if n == 0:
            return out
        if need_m is None:
            return self._bound(p0, p1, 0)
        need = np.broadcast_to(np.asarray(need_m, dtype=np.float64), (n,))
        if self._fine_only(p0, p1):
            return self._bound(p0, p1, 0)  # few samples: coarse blocks would not pay
        return self._refine(p0, p1, need)

    def keeps(self, p0: np.ndarray, p1: np.ndarray, need_m: np.ndarray | float) -> np.ndarray:
        """(n,) bool: whether each straight leg ``p0 -> p1`` surely keeps ``need_m`` above
        the terrain by the coarse-to-fine bound of :meth:`clearance` (leg by leg: the
        answer :meth:`follow` acts on in a batch of many legs)."""
        p0 = np.asarray(p0, dtype=np.float64).reshape(-1, 3)
        p1 = np.asarray(p1, dtype=np.float64).reshape(-1, 3)
        need = np.broadcast_to(np.asarray(need_m, dtype=np.float64), (len(p0),))
        return self._refine(p0, p1, need) >= need

    def coarse_for(self, length_m: float) -> bool:
        """Whether legs ``length_m`` long in all (horizontally, give or take rounding)
        surely take the coarse-to-fine bound in :meth:`clearance` and :meth:`follow`
        (the answers of :meth:`keeps`), not the finest one only."""
        return length_m * (1.0 - 1e-6) >= _FINE_ONLY_M * self.spacing_m

    def _fine_only(self, p0: np.ndarray, p1: np.ndarray) -> bool:
        """Whether legs so short in all take the finest bound only."""
        d = p1[:, :2] - p0[:, :2]
        return float(np.hypot(d[:, 0], d[:, 1]).sum()) < _FINE_ONLY_M * self.spacing_m

    def _refine(self, p0: np.ndarray, p1: np.ndarray, need: np.ndarray) -> np.ndarray:
        """Bounds from the coarsest blocks down, each leg's until it is at least ``need``."""
        out = np.full(len(p0), np.inf)
        todo = np.arange(len(p0))
        for level in range(self._coarsest, -1, -1):
            if len(todo) == 0:
                break
            b = self._bound(p0[todo], p1[todo], level)
            out[todo] = b
            todo = todo[b < need[todo]]
        return out

    # ------------------------------------------------------------------ routes

    def follow(self, starts: np.ndarray, routes: Sequence[np.ndarray], agl_m: np.ndarray,
               clearance_m: np.ndarray, *, index: bool = False,
               clear: np.ndarray | None = None) -> list[tuple]:
        """Raise (and split) routes so that every leg keeps its clearance.

        Parameters
        ----------
        starts:
            (m, 3) where each vehicle starts its route: x, y and its height above
            the datum there (for a vehicle on the ground, the height it will
            take off to).
        routes:
            m arrays of waypoints, (n_i, 2) float metres.
        agl_m:
            (m,) height above the ground each route is flown at (at every waypoint).
        clearance_m:
            (m,) height above the terrain each route's legs must keep.
        clear:
            (m,) bool, or None: routes whose every leg (from the start, at the heights
            above) is already known to keep its clearance by :meth:`keeps` (an answer
            kept from an earlier batch); their legs are not bounded again.

        Returns
        -------
        list
            Per route, ``(waypoints, agl)``: the waypoints ((k_i, 2), k_i >= n_i;
            the input array itself when no leg needed a climb) and the height
            above the ground of each ((k_i,) float, all ``>= agl_m[i]``), or
            ``None`` when the route is unchanged (flown at ``agl_m[i]``). With
            ``index``, a third item: where the given waypoints are in the
            returned ones ((n_i,) int).
        """
        res = self._follow(starts, routes, agl_m, clearance_m, clear)
        if index:
            return [(w, h, np.arange(len(w)) if h is None else idx) for w, h, idx in res]
        return [(w, h) for w, h, _ in res]

    def _follow(self, starts, routes, agl_m, clearance_m, clear=None) -> list[tuple]:
        starts = np.asarray(starts, dtype=np.float64).reshape(-1, 3)
        agl = np.broadcast_to(np.asarray(agl_m, dtype=np.float64), (len(starts),))
        need = np.broadcast_to(np.asarray(clearance_m, dtype=np.float64), (len(starts),)) \
            + self.margin_m
        out: list[tuple] = [(r, None, None) for r in routes]
        if len(routes) == 0:
            return out
        counts = np.fromiter((len(r) for r in routes), dtype=np.int64, count=len(routes))
        if self._flat_relief and bool(np.all(agl >= need)) and bool(np.all(
                starts[:, 2] - self.terrain.height_at(starts[:, 0], starts[:, 1]) >= need)):
            return out
        if counts.sum() == 0:
            return out
        if counts.sum() <= 32 and self._few_clear(starts, routes, agl, need):
            return out
        pts = np.concatenate([np.asarray(r, dtype=np.float64).reshape(-1, 2) for r in routes])
        owner = np.repeat(np.arange(len(routes)), counts)
        if len(pts) <= 16:  # a few points: scalar heights are cheaper
            z = np.array([self.height(x, y) for x, y in pts.tolist()]) + agl[owner]
        else:
            z = self.terrain.height_at(pts[:, 0], pts[:, 1]) + agl[owner]
        # Each route's legs: from its start, then waypoint to waypoint.
        first = np.cumsum(counts) - counts
        is_first = np.zeros(len(pts), dtype=bool)
        is_first[first[counts > 0]] = True
        prev = np.empty((len(pts), 3))
        prev[1:, :2] = pts[:-1]
        prev[1:, 2] = z[:-1]
        prev[is_first] = starts[owner[is_first]]
        cur = np.column_stack([pts, z])
        if bool(np.all(np.minimum(prev[:, 2], z) - self._top >= need[owner])):
            return out  # every leg above the highest ground by its clearance
        if clear is not None and bool(np.any(clear)) and not self._fine_only(prev, cur):
            # the legs of routes known to be clear keep it: bound the others only
            legs = np.flatnonzero(~np.asarray(clear, dtype=bool)[owner])
            deficit = np.full(len(pts), -np.inf)
            deficit[legs] = need[owner[legs]] - self._refine(prev[legs], cur[legs],
                                                              need[owner[legs]])
        else:
            deficit = need[owner] - self.clearance(prev, cur, need[owner])
        bad = deficit > 0
        if not bad.any():
            return out
        # The routes with a short leg, all at once: split their short legs, then raise.
        todo = np.zeros(len(routes), dtype=bool)
        todo[owner[bad]] = True
        sel = todo[owner]
        own, a_xy, b_xy, short = owner[sel], prev[sel, :2], pts[sel], bad[sel]
        seg = np.hypot(*(b_xy - a_xy).T)
        parts = np.where(short, np.maximum(1, np.ceil(seg / self.split_m - 1e-9)), 1).astype(
            np.int64)
        ends = np.cumsum(parts) - 1
        k = np.arange(parts.sum()) - np.repeat(ends + 1 - parts, parts)
        frac = ((k + 1) / np.repeat(parts, parts))[:, None]
        a_rep = np.repeat(a_xy, parts, axis=0)
        b_rep = np.repeat(b_xy, parts, axis=0)
        wps = a_rep + frac * (b_rep - a_rep)
        wps[ends] = b_xy  # the original waypoints, exactly
        own = np.repeat(own, parts)
        first_leg = np.ones(len(own), dtype=bool)
        first_leg[1:] = own[1:] != own[:-1]
        z = self.terrain.height_at(wps[:, 0], wps[:, 1]) + agl[own]
        p0 = np.empty((len(wps), 3))
        p0[1:, :2] = wps[:-1]
        p0[1:, 2] = z[:-1]
        p0[first_leg] = starts[own[first_leg]]
        short_by = np.maximum(need[own] - self.clearance(p0, np.column_stack([wps, z]),
                                                          need[own]), 0.0)
        q = self.quantum_m
        short_by = np.where(short_by > 0, np.ceil(short_by / q) * q, 0.0)
        # A waypoint rises by the larger shortfall of its two legs.
        raise_by = short_by.copy()
        same = ~first_leg[1:]
        raise_by[:-1] = np.where(same, np.maximum(raise_by[:-1], short_by[1:]), raise_by[:-1])
        heights = agl[own] + raise_by
        bounds = np.flatnonzero(first_leg).tolist() + [len(own)]
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            i = int(own[a])
            w, hgt = wps[a:b], heights[a:b]
            idx = ends[(ends >= a) & (ends < b)] - a
            if short_by[a] > 0:  # climb where it is before the first leg
                st = starts[i]
                climb = st[2] - self.height(st[0], st[1]) + short_by[a]
                w = np.vstack([st[None, :2], w])
                hgt = np.concatenate([[climb], hgt])
                idx = idx + 1
            out[i] = (w, hgt, idx)
        return out


def route_pieces(waypoints: np.ndarray, heights: np.ndarray | None
                 ) -> list[tuple[np.ndarray, float | None]]:
    """Cut a route into runs of consecutive waypoints at one height above the ground.

    Returns ``[(waypoints, alt_agl_m), ...]`` in order; ``alt_agl_m`` is ``None``
    for an unchanged route (``heights`` None: one piece).
    """
    if heights is None:
        return [(waypoints, None)]
    cut = np.flatnonzero(np.diff(heights) != 0) + 1
    bounds = np.concatenate([[0], cut, [len(heights)]])
    return [(waypoints[a:b], float(heights[a])) for a, b in
            zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)]


def follow_parts(follower: TerrainFollower, starts: np.ndarray,
                 parts: Sequence[Sequence[np.ndarray]], agl_m: np.ndarray,
                 clearance_m: np.ndarray) -> list[list[tuple[np.ndarray, float | None, int]]]:
    """Terrain following for vehicles each flying several routes one after the other
    (say a transit with the sensor off, then a search leg), all in one batch.

    ``starts``: (m, 3) where each vehicle starts (see :meth:`TerrainFollower.follow`);
    ``parts[i]``: vehicle i's routes ((n, 2) waypoints each, in flying order; each
    starts where the previous one ends). Returns per vehicle ``[(waypoints,
    alt_agl_m, part), ...]`` in flying order: pieces of equal height above the
    ground (``alt_agl_m`` None: ``agl_m[i]`` unchanged), each within one part
    (``part`` its index); empty parts give nothing.
    """
    routes, cuts = [], []
    for ps in parts:
        ways = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in ps]
        routes.append(np.concatenate(ways) if ways else np.zeros((0, 2)))
        cuts.append(np.cumsum([len(w) for w in ways]))
    res = follower.follow(starts, routes, agl_m, clearance_m, index=True)
    out = []
    for (w, heights, idx), ends in zip(res, cuts, strict=True):
        pieces: list[tuple[np.ndarray, float | None, int]] = []
        lo = 0
        for k, end in enumerate(ends.tolist()):
            hi = int(idx[end - 1]) + 1 if end > 0 else 0  # through the part's last waypoint
            if hi > lo:
                pieces += [(p, a, k) for p, a in
                           route_pieces(w[lo:hi], None if heights is None else heights[lo:hi])]
            lo = max(lo, hi)
        out.append(pieces)
    return out

"""Horizons around fixed antennas: line of sight to anywhere, in O(1) per query.

For an antenna at ``(x0, y0, z0)`` the *horizon slope* of a grid cell is the
steepest terrain slope ``(h(p) - z0) / |p - antenna|`` met on the way from the
antenna to that cell (excluding the cell). A point above the cell at height ``z``
is in sight iff ``(z - z0) / d >= horizon``. The horizon grid is built once per
antenna by propagating outwards ring by ring: each cell takes the larger of its
parent's horizon and its parent's own slope, the parent being the neighbouring
cell one ring closer on the straight line back to the antenna (the classic
XDraw-style approximation of ray casting, which can differ from exact ray
casting on thin diagonal ridges by about a cell). Building it costs one
vectorised step per ring, so a 500 x 500 grid takes tens of milliseconds.

A cell's horizon depends only on cells between it and the antenna, so a horizon
can be built over a *window* of the grid around the antenna (``radius_m``): the
window's cells get exactly the values the whole-grid horizon has there, and the
build costs in proportion to the window. Points outside the window are reported
out of sight; a radio station's window covers its range (plus a few cells), and
a point outside range is out of link anyway.

Horizons are built lazily, on their first query, into a :class:`HorizonBank`
shared by the antennas of one terrain, which answers queries about points of
many antennas at once (one vectorised lookup, whichever antenna each point is
about).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: Side, in grid cells, of the blocks of :attr:`Horizon.block_zmin`.
BLOCK = 8
#: Cells a window reaches beyond its radius (a point is judged by its nearest cell,
#: and a segment by the blocks around it; see :meth:`Horizon.segments_surely_visible`).
WINDOW_MARGIN_CELLS = 3


class _Store:
    """A growable flat float64 array (amortised doubling)."""

    def __init__(self) -> None:
        self.data = np.zeros(0)
        self.used = 0

    def append(self, values: np.ndarray) -> int:
        m = values.size
        if self.used + m > len(self.data):
            grown = np.empty(max(2 * len(self.data), self.used + m))
            grown[:self.used] = self.data[:self.used]
            self.data = grown
        off = self.used
        self.data[off:off + m] = values.ravel()
        self.used += m
        return off


class HorizonBank:
    """The horizons of antennas over one terrain, built lazily into shared arrays.

    Parameters
    ----------
    terrain:
        A :class:`fleetsim.world.terrain.Terrain` (its heights are read when a
        horizon is built; the bank keeps the height array, not the terrain).
    """

    def __init__(self, terrain) -> None:
        self.heights = terrain.heights_m
        self.spacing_m = float(terrain.spacing_m)
        self.origin_m = (float(terrain.origin_m[0]), float(terrain.origin_m[1]))
        self.shape = tuple(np.shape(self.heights))
        self._keys: dict[tuple, int] = {}
        # Per horizon: antenna x, y, z; window rows [r0, r1), columns [c0, c1) (grid
        # cells; block aligned); offsets into the stores (-1: not built yet).
        self._meta = np.zeros((0, 5))
        self._win = np.zeros((0, 4), dtype=np.int64)
        self._off = np.zeros(0, dtype=np.int64)
        self._boff = np.zeros(0, dtype=np.int64)
        self._ax = self._ay = self._az = np.zeros(0)
        self._r0 = self._c0 = self._wh = self._wn = np.zeros(0, dtype=np.int64)
        self._br0 = self._bc0 = np.zeros(0)
        self._bny = self._bnx = np.zeros(0, dtype=np.int64)
        self._hor = _Store()
        self._blk = _Store()

    def __len__(self) -> int:
        return len(self._off)

    def add(self, x: float, y: float, z: float, radius_m: float | None = None) -> int:
        """Register an antenna (not built yet); the same antenna and radius twice is one."""
        x, y, z = float(x), float(y), float(z)
        key = (x, y, z, None if radius_m is None else float(radius_m))
        if key in self._keys:
            return self._keys[key]
        ny, nx = self.shape
        s = self.spacing_m
        ox, oy = self.origin_m
        cx = int(np.clip(round((x - ox) / s), 0, nx - 1))
        cy = int(np.clip(round((y - oy) / s), 0, ny - 1))
        if radius_m is None:
            r0, r1, c0, c1 = 0, ny, 0, nx
        else:
            r = max(1, math.ceil(float(radius_m) / s)) + WINDOW_MARGIN_CELLS
            # Aligned on blocks, so that the window's blocks are the whole grid's.
            c0 = max(0, (cx - r) // BLOCK * BLOCK)
            r0 = max(0, (cy - r) // BLOCK * BLOCK)
            c1 = min(nx, -(-(cx + r + 1) // BLOCK) * BLOCK)
            r1 = min(ny, -(-(cy + r + 1) // BLOCK) * BLOCK)
        i = len(self._off)
        self._keys[key] = i
        self._meta = np.vstack([self._meta, [x, y, z, cx, cy]])
        self._win = np.vstack([self._win, [r0, r1, c0, c1]])
        self._off = np.r_[self._off, -1]
        self._boff = np.r_[self._boff, -1]
        self._ax, self._ay, self._az = (self._meta[:, k].copy() for k in range(3))
        self._r0, self._c0 = self._win[:, 0].copy(), self._win[:, 2].copy()
        self._wh = self._win[:, 1] - self._win[:, 0]
        self._wn = self._win[:, 3] - self._win[:, 2]
        # The windows in blocks: first block row and column, blocks down and across.
        self._br0 = (self._win[:, 0] // BLOCK).astype(np.float64)
        self._bc0 = (self._win[:, 2] // BLOCK).astype(np.float64)
        self._bny = -(-self._wh // BLOCK)
        self._bnx = -(-self._wn // BLOCK)
        return i

    def built(self, i: int) -> bool:
        return bool(self._off[i] >= 0)

    def build(self, ids) -> None:
        """Build the horizons ``ids`` (those not built yet)."""
        for i in np.unique(np.asarray(ids, dtype=np.int64)).tolist():
            if self._off[i] < 0:
                hor, blk = self._compute(i)
                self._off[i] = self._hor.append(hor)
                self._boff[i] = self._blk.append(blk)

    def horizon(self, i: int) -> np.ndarray:
        """Horizon slopes over horizon ``i``'s window (rows, columns of the grid)."""
        self.build([i])
        r0, r1, c0, c1 = self._win[i].tolist()
        off = int(self._off[i])
        return self._hor.data[off:off + (r1 - r0) * (c1 - c0)].reshape(r1 - r0, c1 - c0)

    def block_zmin(self, i: int) -> np.ndarray:
        self.build([i])
        r0, r1, c0, c1 = self._win[i].tolist()
        by, bx = -(-(r1 - r0) // BLOCK), -(-(c1 - c0) // BLOCK)
        off = int(self._boff[i])
        return self._blk.data[off:off + by * bx].reshape(by, bx)

    def window(self, i: int) -> tuple[int, int, int, int]:
        """Horizon ``i``'s window: grid rows ``[r0, r1)`` and columns ``[c0, c1)``."""
        r0, r1, c0, c1 = self._win[i].tolist()
        return r0, r1, c0, c1

    def _compute(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        x, y, z = self._meta[i, :3].tolist()
        cx, cy = int(self._meta[i, 3]), int(self._meta[i, 4])
        r0, r1, c0, c1 = self._win[i].tolist()
        h = np.asarray(self.heights, dtype=np.float64)[r0:r1, c0:c1]
        ny, nx = self.shape
        s = self.spacing_m
        ox, oy = self.origin_m
        wy, wx_ = r1 - r0, c1 - c0
        # Grid (not window) indices, so every value is computed as over the whole grid.
        iy, ix = np.mgrid[r0:r1, c0:c1]
        dx = (ox + ix * s) - x
        dy = (oy + iy * s) - y
        dist = np.hypot(dx, dy)
        slope = np.where(dist > 0, (h - z) / np.maximum(dist, 1e-9), -np.inf)
        horizon = np.full((wy, wx_), -np.inf)
        ring = np.maximum(np.abs(ix - cx), np.abs(iy - cy))
        # Parents: where the line back to the antenna crosses the previous ring, between
        # two cells of that ring; their values are interpolated (XDraw). They lie
        # between the cell and the antenna, so inside the window.
        k = np.maximum(ring, 1).astype(np.float64)
        fx = cx + (ix - cx) * (k - 1) / k
        fy = cy + (iy - cy) * (k - 1) / k
        x0 = np.floor(fx).astype(np.intp)
        y0 = np.floor(fy).astype(np.intp)
        wx = fx - x0
        wyf = fy - y0
        x1 = np.minimum(x0 + 1, nx - 1)
        y1 = np.minimum(y0 + 1, ny - 1)
        x0, x1, y0, y1 = x0 - c0, x1 - c0, y0 - r0, y1 - r0
        # One of the two coordinates is whole; interpolate along the other.
        along_x = np.abs(ix - cx) < np.abs(iy - cy)  # the line is steeper: x fractional
        pa = (y0 * wx_ + x0).ravel()
        pb = np.where(along_x, y0 * wx_ + x1, y1 * wx_ + x0).ravel()
        w = np.where(along_x, wx, wyf).ravel()
        order = np.argsort(ring, axis=None, kind="stable")
        ring_flat = ring.ravel()[order]
        bounds = np.searchsorted(ring_flat, np.arange(ring_flat[-1] + 2))
        hor_flat = horizon.ravel()
        _xdraw(order, bounds, pa, pb, w, hor_flat, slope.ravel())
        horizon = hor_flat.reshape(wy, wx_)
        # Lowest height in sight above each cell, and its maximum over blocks of cells:
        # a straight segment that stays inside one 2 x 2 group of blocks and is
        # never lower than that maximum is in sight all along.
        with np.errstate(invalid="ignore"):
            zmin = z + horizon * dist
        zmin[~np.isfinite(zmin)] = -np.inf
        b = BLOCK
        pad_y, pad_x = (-wy) % b, (-wx_) % b
        padded = np.pad(zmin, ((0, pad_y), (0, pad_x)), constant_values=-np.inf)
        blocks = padded.reshape((wy + pad_y) // b, b, (wx_ + pad_x) // b, b).max(axis=(1, 3))
        return horizon, blocks

    # ------------------------------------------------------------------ queries

    def _ensure(self, which: np.ndarray) -> None:
        """Build the horizons that points ``which`` refer to, if not built yet."""
        if (self._off < 0).any():
            self.build(np.flatnonzero(np.bincount(which.ravel(), minlength=len(self))))

    def visible(self, which, x, y, z) -> np.ndarray:
        """Whether points ``(x, y, z)`` are in sight of the antennas ``which`` (one per
        point, or one for all); out of sight outside an antenna's window."""
        x = np.asarray(x, dtype=np.float64)
        shape = np.shape(x)
        x = x.reshape(-1)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        z = np.asarray(z, dtype=np.float64).reshape(-1)
        if np.ndim(which) == 0:
            self.build([int(which)])
            which = np.full(len(x), int(which), dtype=np.int64)
        else:
            which = np.broadcast_to(np.asarray(which, dtype=np.int64), shape).reshape(-1)
            if which.size == 0:
                return np.zeros(shape, dtype=bool)
            self._ensure(which)
        ny, nx = self.shape
        return _visible(which, x, y, z, self.origin_m[0], self.origin_m[1], self.spacing_m,
                        nx, ny, self._c0, self._r0, self._wn, self._wh, self._off,
                        self._hor.data, self._ax, self._ay, self._az).reshape(shape)

    def segments_surely_visible(self, which, p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
        """(n,) bool: segments (n, 3) -> (n, 3) certainly in sight all along of the
        antennas ``which`` (conservative: False means "look closer", not "out of sight";
        always False for a segment reaching beyond the antenna's window)."""
        p0 = np.asarray(p0, dtype=np.float64).reshape(-1, 3)
        p1 = np.asarray(p1, dtype=np.float64).reshape(-1, 3)
        which = np.broadcast_to(np.asarray(which, dtype=np.int64), (len(p0),))
        if len(p0) == 0:
            return np.zeros(0, dtype=bool)
        self._ensure(which)
        return _surely_visible(which, p0, p1, self.origin_m[0], self.origin_m[1],
                               self.spacing_m, self._bc0, self._br0, self._bnx, self._bny,
                               self._boff, self._blk.data)

    def nbytes(self, i: int | None = None) -> int:
        """Bytes the built horizons take (of horizon ``i``, or all)."""
        if i is None:
            return 8 * (self._hor.used + self._blk.used)
        if self._off[i] < 0:
            return 0
        r0, r1, c0, c1 = self._win[i].tolist()
        return 8 * ((r1 - r0) * (c1 - c0) + -(-(r1 - r0) // BLOCK) * -(-(c1 - c0) // BLOCK))


class Horizon:
    """The horizon-slope grid of one antenna over one terrain (built on first use).

    Parameters
    ----------
    terrain:
        A :class:`fleetsim.world.terrain.Terrain`.
    x, y, z:
        Antenna position, metres (``z`` above the datum).
    radius_m:
        Build only the window of cells within this horizontal distance (plus
        :data:`WINDOW_MARGIN_CELLS`) of the antenna; points beyond it are reported
        out of sight. None: the whole grid.
    bank:
        The :class:`HorizonBank` to build into (one of its own if None).
    """

    def __init__(self, terrain, x: float, y: float, z: float, radius_m: float | None = None,
                 *, bank: HorizonBank | None = None) -> None:
        self.terrain = terrain
        self.x, self.y, self.z = float(x), float(y), float(z)
        self.radius_m = None if radius_m is None else float(radius_m)
        self.bank = bank if bank is not None else HorizonBank(terrain)
        self.id = self.bank.add(self.x, self.y, self.z, self.radius_m)

    @property
    def horizon(self) -> np.ndarray:
        """Horizon slopes over the window (:attr:`window`) of the grid."""
        return self.bank.horizon(self.id)

    @property
    def block_zmin(self) -> np.ndarray:
        """Per block of ``BLOCK x BLOCK`` cells of the window, the highest of the lowest
        heights in sight above its cells."""
        return self.bank.block_zmin(self.id)

    @property
    def window(self) -> tuple[int, int, int, int]:
        """Grid rows ``[r0, r1)`` and columns ``[c0, c1)`` the horizon covers."""
        return self.bank.window(self.id)

    @property
    def built(self) -> bool:
        return self.bank.built(self.id)

    @property
    def nbytes(self) -> int:
        """Bytes the built horizon takes (0 before its first use)."""
        return self.bank.nbytes(self.id)

    def segments_surely_visible(self, p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
        """(n,) bool: segments (n, 3) -> (n, 3) that are certainly in sight all along
        (conservative: False means "look closer", not "out of sight")."""
        return self.bank.segments_surely_visible(self.id, p0, p1)

    def visible(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Whether points ``(x, y, z)`` (arrays, metres) are in sight of the antenna
        (out of sight outside the window)."""
        return self.bank.visible(self.id, x, y, z)


@njit(cache=True)
def _max(a, b):
    """``np.maximum`` of two numbers (NaN if either is)."""
    return a if (a >= b or a != a) else b


@njit(cache=True)
def _xdraw(order, bounds, pa, pb, w, hor, slope):
    """Horizon slopes ``hor`` ring by ring outwards from the antenna (ring ``r``: the
    cells ``order[bounds[r]:bounds[r + 1]]``): each cell's parents ``pa``, ``pb`` have
    their values ``max(horizon, slope)`` as the ring before left them, interpolated
    with weight ``w`` towards ``pb`` where both are finite, else the larger taken."""
    buf = np.empty(len(order))
    for r in range(1, len(bounds) - 1):
        lo, hi = bounds[r], bounds[r + 1]
        for q in range(lo, hi):
            c = order[q]
            a, b, t = pa[c], pb[c], w[c]
            va = _max(hor[a], slope[a])
            vb = _max(hor[b], slope[b])
            if np.isfinite(va) and np.isfinite(vb):
                buf[q] = (1.0 - t) * va + t * vb
            else:
                buf[q] = _max(va, vb)
        for q in range(lo, hi):
            hor[order[q]] = buf[q]


@njit(cache=True)
def _visible(which, x, y, z, ox, oy, s, nx, ny, c0, r0, wn, wh, off, data, ax, ay, az):
    """Line of sight of points ``(x, y, z)`` from antennas ``which`` (bank arrays):
    a point is judged by its nearest grid cell (clamped to the grid; out of sight
    outside the antenna's window, and where a coordinate is NaN), in sight if its
    slope from the antenna is at least that cell's horizon slope (less 1e-12)."""
    n = len(x)
    out = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        w = which[i]
        fx = np.rint((x[i] - ox) / s)
        fy = np.rint((y[i] - oy) / s)
        if fx != fx or fy != fy:
            continue
        ix = int(min(max(fx, 0.0), nx - 1.0))
        iy = int(min(max(fy, 0.0), ny - 1.0))
        lx = ix - c0[w]
        ly = iy - r0[w]
        if lx < 0 or ly < 0 or lx >= wn[w] or ly >= wh[w]:
            continue
        hz = data[off[w] + ly * wn[w] + lx]
        d = math.hypot(x[i] - ax[w], y[i] - ay[w])
        sl = (z[i] - az[w]) / d if d > 0 else np.inf
        out[i] = sl >= hz - 1e-12
    return out


@njit(cache=True)
def _surely_visible(which, p0, p1, origin_x, origin_y, spacing, bc0, br0, bnx, bny, boff,
                    blk):
    """Segments ``p0 -> p1`` surely in sight of their antennas ``which`` all along: the
    segment's horizontal extent (widened by half a cell on each side, as a point is
    judged by its nearest cell) meets blocks within one 2 x 2 group of the antenna's
    window, and its lower end is no lower than the highest of those blocks' lowest
    heights in sight (False where a coordinate is NaN)."""
    n = len(p0)
    out = np.zeros(n, dtype=np.bool_)
    sb = spacing * BLOCK
    h = 0.5 * spacing
    ox, oy = origin_x - h, origin_y - h
    for i in range(n):
        ax, ay, az = p0[i, 0], p0[i, 1], p0[i, 2]
        bx, by, bz = p1[i, 0], p1[i, 1], p1[i, 2]
        if ax != ax or ay != ay or az != az or bx != bx or by != by or bz != bz:
            continue
        w = which[i]
        x0 = np.floor((min(ax, bx) - ox - h) / sb) - bc0[w]
        x1 = np.floor((max(ax, bx) - ox + h) / sb) - bc0[w]
        y0 = np.floor((min(ay, by) - oy - h) / sb) - br0[w]
        y1 = np.floor((max(ay, by) - oy + h) / sb) - br0[w]
        if not (x1 - x0 <= 1 and y1 - y0 <= 1 and x0 >= 0 and y0 >= 0 and x1 < bnx[w]
                and y1 < bny[w]):
            continue
        first = int(boff[w] + y0 * bnx[w] + x0)
        dx = int(x1 - x0)
        dy = int((y1 - y0) * bnx[w])
        top = max(max(blk[first], blk[first + dx]),
                  max(blk[first + dy], blk[first + dy + dx]))
        out[i] = min(az, bz) >= top
    return out

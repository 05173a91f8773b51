"""The metrics raster and the exact per-cell coverage intervals behind it.

Coverage and idleness are measured on square cells of side
``scenario.outputs.metrics_cell_m`` on a grid aligned to the lower-left corner
of the mission area's bounds. A cell belongs to the area when its centre is
inside the area (or on its boundary). A cell is *covered* while its centre is
within the footprint radius (horizontal distance) of a vehicle flying a leg
with ``sensing == True``.

For every cell, :func:`sweep_cells` finds the exact times its centre is inside
a footprint (the quadratic of :func:`fleetsim.geometry.disc_intervals`, solved
for each candidate leg-cell pair), merges them, and reduces them to a few
numbers per cell: when it was first covered, the integral and the maximum of
its idleness, how long and how often it was covered — over the plain clock and
over the cell's permitted clock (:mod:`fleetsim.metrics.permitted`) — and the
sums of idleness at sample times that the time series reads.

The work is done in blocks of grid rows, so memory stays bounded whatever the
number of legs: candidate pairs of a block are the cells of each of its rows
that lie both in the leg's bounding box grown by the radius and in the strip
of half-width ``radius`` around the leg's line, found by index arithmetic on
the regular grid, in compiled loops (:mod:`fleetsim.metrics.legcells`).
"""

from __future__ import annotations

import math
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely

from fleetsim.metrics.legcells import (
    INDEX_SLACK,
    band_visits,
    grid_first_sample,
    leg_spans,
    new_work,
    tier_order,
)
from fleetsim.metrics.permitted import (
    Permission,
    cell_permission,
    forbidding_kinds,
    no_permission_limits,
)

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.record import RecordedRun

__all__ = ["CellCoverage", "CellGrid", "cell_coverage", "cell_grid", "leg_footprint_radius",
           "sample_times", "sweep_cells"]

#: Candidate leg-cell pairs of the bands of rows whose sample sums are added up
#: together (the bands fix the order of those float sums).
DEFAULT_MAX_PAIRS = 500_000

#: Upper bounds of the tiers of legs by the rows they span (see _sweep_bands).
_TIER_ROWS = np.array([8, 32, 128, 512], dtype=np.int64)

#: Candidate pairs of the blocks of rows the work is done in (about 50 bytes each
#: at the peak).
BLOCK_PAIRS = 500_000
#: Blocks whose visits are found ahead, each in a thread of its own.
_AHEAD = 2



@dataclass(frozen=True)
class CellGrid:
    """Square cells aligned to ``(x0_m, y0_m)``; cell ``(i, j)`` has centre
    ``(x0_m + (i + 0.5) cell_m, y0_m + (j + 0.5) cell_m)``."""

    x0_m: float
    y0_m: float
    cell_m: float
    nx: int
    ny: int
    #: Index of each grid position's area cell, -1 outside the area; (ny, nx) int32.
    cell_of: np.ndarray
    #: Centres of the area cells, (n_cells, 2) float64, in cell-index order
    #: (row by row from the south, west to east).
    centers: np.ndarray

    @property
    def n_cells(self) -> int:
        return int(self.centers.shape[0])


def cell_grid(area: shapely.Geometry, cell_m: float) -> CellGrid:
    """The metrics raster of ``area`` with square cells of side ``cell_m`` (m)."""
    cell_m = float(cell_m)
    if not (cell_m > 0.0 and np.isfinite(cell_m)):
        raise ValueError(f"metrics cell size must be a positive number of metres, got {cell_m}")
    if area is None or shapely.is_empty(area):
        return CellGrid(0.0, 0.0, cell_m, 0, 0, np.zeros((0, 0), dtype=np.int32),
                        np.zeros((0, 2)))
    xmin, ymin, xmax, ymax = shapely.bounds(area)
    nx = max(1, int(np.ceil((xmax - xmin) / cell_m - INDEX_SLACK)))
    ny = max(1, int(np.ceil((ymax - ymin) / cell_m - INDEX_SLACK)))
    cx = xmin + (np.arange(nx) + 0.5) * cell_m
    cy = ymin + (np.arange(ny) + 0.5) * cell_m
    gx, gy = np.meshgrid(cx, cy)
    shapely.prepare(area)
    inside = shapely.intersects_xy(area, gx, gy)
    cell_of = np.full((ny, nx), -1, dtype=np.int32)
    cell_of[inside] = np.arange(int(inside.sum()), dtype=np.int32)
    centers = np.column_stack([gx[inside], gy[inside]])
    return CellGrid(float(xmin), float(ymin), cell_m, nx, ny, cell_of, centers)


@dataclass(frozen=True)
class CellCoverage:
    """Per-cell summary of the coverage intervals over ``[0, duration_s]``.

    Idleness of a cell at time t is the time since its centre was last inside
    a footprint (t itself if never yet, 0 while inside). With the merged
    coverage intervals of a cell, the gaps g between them (including the one
    from 0 to the first and from the last to ``duration_s``) give
    ``integral = sum(g**2) / 2`` and ``max = max(g)``.
    """

    grid: CellGrid
    duration_s: float
    #: First time each cell was covered (s); NaN if never. (n_cells,) float64.
    first_s: np.ndarray
    #: Integral of idleness over [0, duration] (s^2). (n_cells,) float64.
    idleness_integral_s2: np.ndarray
    #: Largest idleness (s). (n_cells,) float64.
    idleness_max_s: np.ndarray
    #: Total time covered (s). (n_cells,) float64.
    covered_s: np.ndarray
    #: Number of separate visits (merged coverage intervals). (n_cells,) int64.
    visits: np.ndarray
    #: When each cell may be flown (see :mod:`fleetsim.metrics.permitted`).
    permission: Permission
    #: Integral of idleness over the cell's permitted time (s^2), idleness running
    #: on the permitted clock: ``sum(G**2) / 2`` over the gaps measured on that
    #: clock. (n_cells,) float64.
    permitted_integral_s2: np.ndarray
    #: Largest idleness on the permitted clock (s). (n_cells,) float64.
    permitted_max_s: np.ndarray
    #: Sample times of the time series (s), (n_samples,) float64.
    sample_s: np.ndarray
    #: Per signature and sample: cells in a gap between visits at the sample
    #: (``a < t < b``, or after the last visit), and the sum of their permitted
    #: clocks at the gap's start. (n_signatures, n_samples) int64 / float64.
    idle_cells: np.ndarray
    idle_clock_sum_s: np.ndarray

    @property
    def n_cells(self) -> int:
        return self.grid.n_cells

    def permitted_idleness_at_samples(self) -> tuple[np.ndarray, np.ndarray]:
        """Sum of idleness over the cells permitted at each sample time, and their
        number: ((n_samples,) float64, (n_samples,) int64)."""
        perm = self.permission
        t = self.sample_s
        k = len(t)
        sig = np.repeat(np.arange(perm.n_signatures), k)
        tau = perm.clock(sig, np.tile(t, perm.n_signatures)).reshape(perm.n_signatures, k)
        allowed = perm.permitted_at(t).T  # (n_signatures, n_samples)
        idle = np.maximum(self.idle_cells * tau - self.idle_clock_sum_s, 0.0)
        total = np.where(allowed, idle, 0.0).sum(axis=0)
        cells = (allowed * perm.cells_per_signature[:, None]).sum(axis=0).astype(np.int64)
        return total, cells


def sweep_cells(
    grid: CellGrid,
    t0: np.ndarray,
    t1: np.ndarray,
    xy0: np.ndarray,
    xy1: np.ndarray,
    radius_m: np.ndarray | float,
    duration_s: float,
    *,
    max_pairs: int = DEFAULT_MAX_PAIRS,
    permission: Permission | None = None,
    sample_s: np.ndarray | None = None,
) -> CellCoverage:
    """Exact per-cell coverage of ``grid`` by footprints swept along legs.

    Parameters
    ----------
    grid : CellGrid
        The raster (see :func:`cell_grid`).
    t0, t1 : array_like, shape (n,)
        Start and end time of each sensing leg (s).
    xy0, xy1 : array_like, shape (n, 2) or (n, 3)
        Start and end position of each leg (m); z is ignored.
    radius_m : float or array_like, shape (n,)
        Footprint radius of each leg (m); legs with a radius that is not a
        positive number cover nothing.
    duration_s : float
        End of the measured period ``[0, duration_s]``.
    max_pairs : int
        Candidate leg-cell pairs of the bands of rows whose sample sums are added
        up together (the order of those float sums).
    permission : Permission, optional
        When each cell may be flown (default: always).
    sample_s : array_like, optional
        Sorted sample times in ``[0, duration_s]`` for the idleness sums (default: none).
    """
    t0 = np.asarray(t0, dtype=np.float64).reshape(-1)
    columns = r = None
    if grid.n_cells and len(t0):
        t1 = np.broadcast_to(np.asarray(t1, dtype=np.float64), t0.shape)
        xy0 = np.asarray(xy0, dtype=np.float64).reshape(len(t0), -1)
        xy1 = np.asarray(xy1, dtype=np.float64).reshape(len(t0), -1)
        r = np.broadcast_to(np.asarray(radius_m, dtype=np.float64), t0.shape)
        r = r[:1] if r.strides[0] == 0 else r  # (one radius for all)
        columns = [np.ascontiguousarray(c) for c in (xy0[:, 0], xy0[:, 1], xy1[:, 0],
                                                       xy1[:, 1], t0, t1)]
    return _swept(grid, columns, r, None, duration_s, max_pairs, permission, sample_s)


def _swept(grid: CellGrid, columns: list[np.ndarray] | None, r: np.ndarray | None,
           rows: np.ndarray | None, duration_s: float, max_pairs: int,
           permission: Permission | None, sample_s: np.ndarray | None) -> CellCoverage:
    """:func:`sweep_cells` of the legs ``rows`` (default: all) of ``columns`` (see
    :func:`_sweep_bands`; ``None``: no legs)."""
    T = float(duration_s)
    n_cells = grid.n_cells
    perm = no_permission_limits(n_cells, T) if permission is None else permission
    samples = np.zeros(0) if sample_s is None else np.asarray(sample_s, dtype=np.float64)
    first = np.full(n_cells, np.nan)
    integral = np.full(n_cells, 0.5 * T * T)
    worst = np.full(n_cells, T)
    covered = np.zeros(n_cells)
    visits = np.zeros(n_cells, dtype=np.int64)
    allowed = perm.permitted_time_s()[perm.signature]
    idle_cells = np.zeros((perm.n_signatures, len(samples) + 1), dtype=np.int64)
    idle_sum = np.zeros((perm.n_signatures, len(samples) + 1))
    result = CellCoverage(grid, T, first, integral, worst, covered, visits, perm,
                          0.5 * allowed * allowed, allowed.copy(), samples, idle_cells,
                          idle_sum)
    if columns is not None and n_cells and (rows is None or len(rows)):
        _sweep_bands(result, columns, r, rows, max_pairs)
    # Every cell's first gap starts at 0, with a permitted clock of 0 there.
    idle_cells[:, int(np.searchsorted(samples, 0.0, side="right"))] += perm.cells_per_signature
    result = CellCoverage(grid, T, first, integral, worst, covered, visits, perm,
                          result.permitted_integral_s2, result.permitted_max_s, samples,
                          np.cumsum(idle_cells, axis=1)[:, :-1],
                          np.cumsum(idle_sum, axis=1)[:, :-1])
    return result


def _sweep_bands(result: CellCoverage, columns: list[np.ndarray], r: np.ndarray,
                 rows: np.ndarray | None, max_pairs: int) -> None:
    """The band-by-band sweep of :func:`sweep_cells`; fills ``result`` in place.

    ``columns`` are the legs' ``x0, y0, x1, y1, t0, t1`` (1-D float64, contiguous),
    ``r`` their footprint radii (one per leg of the columns, or one for all) and
    ``rows`` the legs of the columns to sweep (default: all). The legs are read where
    they are until their order is known, then gathered once in that order: a long
    run's columns are not copied first (the sweep's memory is then the legs it
    sweeps, once)."""
    grid = result.grid
    T = result.duration_s
    x0, y0, x1, y1, t0, t1 = columns
    r = np.ascontiguousarray(r, dtype=np.float64)
    # The legs that can cover a cell: a finite footprint radius > 0, finite positions
    # and some time in [0, T].
    pick = slice(None) if rows is None else rows
    ok = (t1[pick] >= 0.0) & (t0[pick] <= T)
    for c in (x0, y0, x1, y1):
        ok &= np.isfinite(c[pick])
    if len(r) > 1:
        ok &= (r[pick] > 0.0) & np.isfinite(r[pick])
    elif not (r[0] > 0.0 and math.isfinite(r[0])):
        ok[:] = False
    rows = np.flatnonzero(ok) if rows is None else rows[ok]
    del ok, pick
    if not len(rows):
        return

    c = grid.cell_m
    centre_x = grid.x0_m + (np.arange(grid.nx) + 0.5) * c  # of each column
    cell_of = (np.zeros(0, dtype=grid.cell_of.dtype) if grid.n_cells == grid.nx * grid.ny
               else grid.cell_of.ravel())
    # Rows whose centres lie in each leg's grown bounding box, and the candidate
    # pairs per row (the row's cells in the leg's strip, bounded by its box).
    ja, jb, live, load = leg_spans(*(_frozen(a) for a in (x0, y0, x1, y1, r, rows)),
                                   grid.x0_m, grid.y0_m, c, grid.nx, grid.ny)
    if not live.any():
        return

    # Bands of rows holding about ``max_pairs`` candidates each. The sample sums
    # add floats band by band, so the bands fix them; the work itself goes in
    # blocks of rows of about ``BLOCK_PAIRS`` candidates, whatever the bands (the
    # sums of a band are then taken over its visits in the same order: cells are
    # numbered row by row).
    load = np.cumsum(load[:-1])
    before = np.cumsum(load) - load
    band_of_row = (before // max(1, int(max_pairs))).astype(np.int64)
    closes_band = np.r_[band_of_row[1:] != band_of_row[:-1], True]  # (a band's last row)
    block_of_row = (before // BLOCK_PAIRS).astype(np.int64)
    block_starts = np.flatnonzero(np.r_[True, block_of_row[1:] != block_of_row[:-1]])
    block_ends = np.r_[block_starts[1:] - 1, grid.ny - 1]
    del load, before, band_of_row, block_of_row
    pending: list[tuple[np.ndarray, ...]] = []

    # The legs by first row, so a block's legs are found without scanning them
    # all, in tiers of how many rows they span, each with its own look-back: a
    # block's legs of a tier start at most that many rows before it (so a few long
    # legs do not make every block scan the legs of many rows). The legs' arrays
    # are put in that order: a block reads its legs in a few runs.
    order, tier_ends = tier_order(ja, jb, live, _TIER_ROWS, grid.ny)
    del live
    ja, jb, rows = ja[order], jb[order], rows[order]
    del order
    x0, y0, x1, y1, t0, t1 = (a[rows] for a in (x0, y0, x1, y1, t0, t1))
    r = r[rows] if len(r) > 1 else r.copy()  # (writable, as the others: one type)
    del rows
    # Each block's legs: a run of each tier's.
    runs = []
    for lo, hi in zip(np.r_[0, tier_ends[:-1]], tier_ends, strict=True):
        if hi > lo:
            max_rows = int((jb[lo:hi] - ja[lo:hi]).max())
            runs.append(lo + np.searchsorted(ja[lo:hi], block_starts - max_rows, side="left"))
            runs.append(lo + np.searchsorted(ja[lo:hi], block_ends, side="right"))
    runs = np.stack(runs, axis=1).astype(np.int64).reshape(len(block_starts), -1, 2)
    blocks = list(zip(block_starts.tolist(), block_ends.tolist(), strict=True))

    def visits(b: int, work: tuple) -> tuple:
        j_first, j_last = blocks[b]
        return band_visits(runs[b], j_first, j_last, ja, jb, x0, y0, x1, y1, r, t0, t1,
                           grid.x0_m, grid.y0_m, c, grid.nx, centre_x, cell_of, T, work)

    # The compiled loop finds the next two blocks' visits in two more threads (it lets
    # go of the interpreter) while this one folds the block before into the result, in
    # block order as always.
    with ThreadPoolExecutor(max_workers=_AHEAD) as pool:
        ahead = deque(pool.submit(visits, b, new_work()) for b in range(min(_AHEAD,
                                                                             len(blocks))))
        for b, (j_first, j_last) in enumerate(blocks):
            g, s, e, row_end, work = ahead.popleft().result()
            if b + _AHEAD < len(blocks):  # (its results are copies: its room is free)
                ahead.append(pool.submit(visits, b + _AHEAD, work))
            closing = j_first + np.flatnonzero(closes_band[j_first:j_last + 1])
            done = 0
            for row in closing:  # the visits of each band, cut at its last row
                upto = int(row_end[row - j_first])
                _reduce_cells(result, g[done:upto], s[done:upto], e[done:upto], pending)
                _add_sample_sums(result, pending)
                done = upto
            _reduce_cells(result, g[done:], s[done:], e[done:], pending)


def _frozen(a: np.ndarray) -> np.ndarray:
    """A read-only view of ``a``: the compiled loops then see one type of array
    (and are compiled once) whether the caller's arrays are writable or not."""
    view = a.view()
    view.flags.writeable = False
    return view


def _add_sample_sums(out: CellCoverage, pending: list[tuple[np.ndarray, ...]]) -> None:
    """Add the sample sums of a band's visits (held in ``pending``, emptied) to ``out``."""
    if not pending:
        return
    at_open, at_close, pe, pa = (np.concatenate(parts) for parts in zip(*pending, strict=True))
    pending.clear()
    size = out.idle_cells.size
    out.idle_cells.ravel()[:] += (np.bincount(at_open, minlength=size)
                                  - np.bincount(at_close, minlength=size))
    out.idle_clock_sum_s.ravel()[:] += (np.bincount(at_open, weights=pe, minlength=size)
                                        - np.bincount(at_close, weights=pa, minlength=size))


def _reduce_cells(out: CellCoverage, g: np.ndarray, s: np.ndarray, e: np.ndarray,
                  pending: list[tuple[np.ndarray, ...]]) -> None:
    """Fold one sub-band's visits (merged coverage intervals, complete for its cells,
    sorted by cell and start) into ``out``; its share of the sample sums goes to
    ``pending``."""
    if len(g) == 0:
        return
    T = out.duration_s
    heads = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    tails = np.r_[heads[1:] - 1, len(g) - 1]
    gap = s.copy()  # the gap before each visit: from 0 for a cell's first one
    gap[1:] -= e[:-1]
    gap[heads] = s[heads]
    trailing = T - e[tails]
    cells = g[heads]
    out.first_s[cells] = s[heads]
    out.idleness_integral_s2[cells] = 0.5 * (np.add.reduceat(gap * gap, heads)
                                             + trailing * trailing)
    out.idleness_max_s[cells] = np.maximum(np.maximum.reduceat(gap, heads), trailing)
    out.covered_s[cells] = np.add.reduceat(e - s, heads)
    out.visits[cells] = tails - heads + 1

    # The same on each cell's permitted clock, for the cells in some zone (the
    # others' permitted clock is the plain one).
    perm = out.permission
    out.permitted_integral_s2[cells] = out.idleness_integral_s2[cells]
    out.permitted_max_s[cells] = out.idleness_max_s[cells]
    sig = None
    pe = e
    if not perm.trivial:
        sig = perm.signature[g]
        zi = np.flatnonzero(perm.zoned[sig])
        if len(zi):
            zg, zsig = g[zi], sig[zi]
            zs = perm.clock(zsig, s[zi])
            ze = perm.clock(zsig, e[zi])
            zh = np.flatnonzero(np.r_[True, zg[1:] != zg[:-1]])
            zt = np.r_[zh[1:] - 1, len(zg) - 1]
            pgap = zs.copy()
            pgap[1:] -= ze[:-1]
            pgap[zh] = zs[zh]
            ptrail = perm.permitted_time_s()[zsig[zt]] - ze[zt]
            out.permitted_integral_s2[zg[zh]] = 0.5 * (np.add.reduceat(pgap * pgap, zh)
                                                       + ptrail * ptrail)
            out.permitted_max_s[zg[zh]] = np.maximum(np.maximum.reduceat(pgap, zh), ptrail)
            pe = e.copy()
            pe[zi] = ze

    # The sample sums. A cell is idle at the samples strictly inside a gap between
    # its visits (a, b), or after its last one. Every cell's first gap starts at 0
    # (counted once for all cells in sweep_cells); here each visit closes the gap
    # before it (at the first sample >= its start) and opens the one after it
    # (at the first sample > its end). Merged visits are apart (a < b), so a gap
    # never closes before it opens.
    samples = out.sample_s
    if len(samples) == 0:
        return
    pa = np.empty_like(pe)  # the permitted clock where each visit's preceding gap began
    pa[1:] = pe[:-1]
    pa[heads] = 0.0
    width = len(samples) + 1
    at_close = _first_sample(samples, s, after=False)
    at_open = _first_sample(samples, e, after=True)
    if sig is not None and perm.n_signatures > 1:
        at_close += sig * width
        at_open += sig * width
    pending.append((at_open, at_close, pe, pa))


def _first_sample(samples: np.ndarray, x: np.ndarray, *, after: bool) -> np.ndarray:
    """Index of the first sample ``> x`` (``after``) or ``>= x`` for each ``x`` (int64;
    ``len(samples)`` if none): ``np.searchsorted``, by arithmetic on a regular grid
    ``samples[k] = k * step`` (checked), with one exact correction each way
    (:func:`~fleetsim.metrics.legcells.grid_first_sample`)."""
    n = len(samples)
    step = float(samples[1]) if n > 1 else 0.0
    if not (step > 0.0 and samples[0] == 0.0
            and np.array_equal(samples, np.arange(n) * step)):
        return np.searchsorted(samples, x, side="right" if after else "left").astype(np.int64)
    return grid_first_sample(np.ascontiguousarray(x, dtype=np.float64), step, n, after)


def leg_footprint_radius(run: RecordedRun) -> np.ndarray:
    """Footprint radius (m) of each leg's vehicle, (n_legs,) float64; NaN if unknown."""
    vehicles = run.vehicles
    ids = np.asarray(vehicles["vehicle"], dtype=np.int64)
    leg_vehicle = np.asarray(run.legs["vehicle"], dtype=np.int64)
    if len(leg_vehicle) == 0:
        return np.zeros(0)
    known = ids >= 0
    size = max(int(ids.max()) + 1 if len(ids) else 0, int(leg_vehicle.max()) + 1, 1)
    lookup = np.full(size, np.nan)
    lookup[ids[known]] = np.asarray(vehicles["footprint_radius_m"], dtype=np.float64)[known]
    return np.where(leg_vehicle >= 0, lookup[np.maximum(leg_vehicle, 0)], np.nan)


def sample_times(duration_s: float, step_s: float) -> np.ndarray:
    """Times ``0, step, 2 step, ...`` up to and including ``duration_s`` (float64)."""
    T = float(duration_s)
    step = float(step_s)
    if not (T >= 0.0 and step > 0.0 and np.isfinite(step)):
        return np.zeros(0)
    t = np.arange(int(np.floor(T / step)) + 2, dtype=np.float64) * step
    return t[t <= T]


def _fingerprint(run: RecordedRun) -> str:
    """A digest of everything :func:`cell_coverage` reads from ``run``."""
    import hashlib

    def digest(column) -> bytes:  # (sha256 is hardware-assisted on most processors)
        return hashlib.sha256(np.ascontiguousarray(column).data).digest()

    legs = run.legs
    columns = [legs[name] for name in ("vehicle", "sensing", "t0_s", "t1_s", "x0_m", "y0_m",
                                       "x1_m", "y1_m")]
    columns += [run.vehicles[name] for name in ("vehicle", "footprint_radius_m")]
    # A digest per column, two at a time (hashing lets go of the interpreter), and one
    # of them all.
    with ThreadPoolExecutor(max_workers=2) as pool:
        parts = list(pool.map(digest, columns))
    h = hashlib.sha256(b"".join(parts))
    out = run.scenario.outputs
    h.update(repr((run.duration_s, out.metrics_cell_m, out.timeseries_step_s,
                   forbidding_kinds(run.scenario), id(run.world))).encode())
    return h.hexdigest()


def cell_coverage(run: RecordedRun, *, max_pairs: int = DEFAULT_MAX_PAIRS) -> CellCoverage:
    """Per-cell coverage of the run's mission area by its sensing legs, with the
    permission of its cells under the world's no-fly zones and the idleness sums
    at the time series' sample times (``outputs.timeseries_step_s``).

    The result is kept on the run (:attr:`RecordedRun.derived`) and reused while
    what it reads is unchanged, so the metrics and the time series share it.
    """
    key = ("cell_coverage", int(max_pairs), _fingerprint(run))
    memo = run.derived
    if memo.get("cell_coverage_key") == key:
        return memo["cell_coverage"]
    grid = cell_grid(run.world.mission_area, run.scenario.outputs.metrics_cell_m)
    legs = run.legs
    # The sensing legs are swept where they are in the run's columns (no copies of a
    # long run's columns before the sweep puts them in its order).
    rows = np.flatnonzero(np.asarray(legs["sensing"], dtype=bool))
    radius = leg_footprint_radius(run)
    if len(rows) and bool(np.all(radius[rows] == radius[rows[0]])):
        radius = radius[rows[:1]]  # one footprint: no per-leg array
    columns = [np.ascontiguousarray(legs[k], dtype=np.float64)
               for k in ("x0_m", "y0_m", "x1_m", "y1_m", "t0_s", "t1_s")]
    permission = cell_permission(grid.centers, run.world.zones, run.duration_s,
                                 forbidding_kinds(run.scenario))
    samples = sample_times(run.duration_s, run.scenario.outputs.timeseries_step_s)
    cells = _swept(grid, columns, radius, rows, run.duration_s, max_pairs, permission,
                   samples)
    memo["cell_coverage_key"] = key
    memo["cell_coverage"] = cells
    return cells

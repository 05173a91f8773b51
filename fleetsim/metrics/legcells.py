"""The leg-cell pairs of the metrics raster's sweep (:mod:`fleetsim.metrics.raster`):
the candidate cells of leg-row pairs and the exact times each cell's centre is
within a leg's footprint, worked on in chunks whose arrays stay in the processor's
caches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.metrics.raster import CellGrid

__all__ = ["CHUNK_PAIRS", "LegRows", "SweepGrid", "chunk_hits", "index_range", "leg_rows",
           "moving_fractions", "pairs_hits", "times_at"]

#: Leg-cell pairs worked on at once (their arrays stay in the processor's caches).
CHUNK_PAIRS = 32_768

#: Slack, in cells, when turning coordinates into index ranges (pairs found
#: this way are only candidates; the exact test decides).
INDEX_SLACK = 1e-9


def index_range(lo: np.ndarray, hi: np.ndarray, origin: float, cell: float,
                n: int) -> tuple[np.ndarray, np.ndarray]:
    """First and last index (int64, clipped to ``[0, n - 1]``; empty when first >
    last) of the cells whose centres ``origin + (i + 0.5) cell`` lie in ``[lo, hi]``."""
    first = np.clip(np.ceil((lo - origin) / cell - 0.5 - INDEX_SLACK), 0, n)
    last = np.clip(np.floor((hi - origin) / cell - 0.5 + INDEX_SLACK), -1, n - 1)
    return first.astype(np.int64), last.astype(np.int64)


def leg_rows(grid: CellGrid, legs: np.ndarray, owner: np.ndarray, row: np.ndarray,
              per_leg: tuple[np.ndarray, ...]) -> LegRows:
    """The leg-row pairs ``(legs[owner], row)``: their candidate cells (the row's
    cells in the leg's strip) and the leg-row terms of the quadratic.

    ``per_leg`` holds x0, y0, dx, dy, |w|^2, slope, the box's x range, the strip's
    half-width, the radius and t0, t1 of every leg, taken once for ``legs``."""
    x0, y0, dx, dy, length2, slope, xlo, xhi, strip_half, r, t0, t1 = (
        a[legs][owner] for a in per_leg)
    c = grid.cell_m
    cy = grid.y0_m + (row + 0.5) * c
    with np.errstate(invalid="ignore", over="ignore"):  # nearly horizontal legs
        xc = x0 + (cy - y0) * slope
        xl = np.fmax(xlo, xc - strip_half)  # fmax/fmin: NaN -> the box
        xr = np.fmin(xhi, xc + strip_half)
    ca, cb = index_range(xl, xr, grid.x0_m, c, grid.nx)
    # The quadratic |p0 + s w - centre|^2 - r^2 of a leg and a cell centre
    # (cx, cy), split into what depends on the leg-row pair and on cx:
    # a s^2 + 2 (dxc wx + ey wy) s + dxc^2 + ey^2 - r^2, dxc = x0 - cx, ey = y0 - cy.
    ey = y0 - cy
    return LegRows(row * grid.nx, ca, np.maximum(cb - ca + 1, 0), x0, dx, length2,
                   ey * dy, ey * ey - r ** 2, t0, t1)


@dataclass(frozen=True)
class SweepGrid:
    """What the leg-cell pairs of :func:`_sweep_bands` read of the grid."""

    centre_x: np.ndarray
    cell_of: np.ndarray | None  # (flat; None when every grid position is an area cell)
    cell_dtype: np.dtype
    duration_s: float


@dataclass(frozen=True)
class LegRows:
    """Leg-row pairs of a sub-band: the row's first cell number (row * nx), the first
    column and number of candidate cells, the leg-row terms and the leg's times."""

    row_base: np.ndarray
    first_col: np.ndarray
    count: np.ndarray
    x0: np.ndarray
    dx: np.ndarray
    length2: np.ndarray
    pair_b: np.ndarray
    pair_c: np.ndarray
    t0: np.ndarray
    t1: np.ndarray


def pairs_hits(sw: SweepGrid, pr: LegRows, lo: int, hi: int, still: bool
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`chunk_hits` of leg-row pairs ``lo:hi``, in chunks of about
    :data:`CHUNK_PAIRS` leg-cell pairs, joined in order."""
    ends = np.cumsum(pr.count[lo:hi])
    cuts = lo + np.searchsorted(ends, np.arange(CHUNK_PAIRS, int(ends[-1]), CHUNK_PAIRS),
                                side="left")
    parts = [chunk_hits(sw, pr, a, b, still)
             for a, b in zip(np.r_[lo, cuts], np.r_[cuts, hi], strict=True) if b > a]
    if len(parts) == 1:
        return parts[0]
    cell, t_in, t_out = (np.concatenate(x) for x in zip(*parts, strict=True))
    return cell, t_in, t_out


def chunk_hits(sw: SweepGrid, pr: LegRows, lo: int, hi: int, still: bool
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The coverage intervals (cell, t_in, t_out) within [0, duration] of leg-row
    pairs ``lo:hi``, in the order of the pairs and then of their columns."""
    count = pr.count[lo:hi]
    owner = np.repeat(_iota(hi - lo, np.intp), count)
    total = len(owner)
    first = np.cumsum(count)
    first -= count  # (each pair's first leg-cell pair)
    col = np.take(pr.first_col[lo:hi] - first, owner)
    col += _iota(total, np.intp)
    if sw.cell_of is None:  # every grid position is an area cell, numbered the same way
        cell = np.take((pr.row_base[lo:hi] + pr.first_col[lo:hi] - first).astype(sw.cell_dtype),
                       owner)
        cell += _iota(total, sw.cell_dtype)
    else:
        cell = sw.cell_of[np.take(pr.row_base[lo:hi], owner) + col]
        inside = np.flatnonzero(cell >= 0)
        owner, col, cell = owner[inside], col[inside], cell[inside]
    # What the cells need of their leg, gathered from the leg-row pairs.
    dxc = np.take(pr.x0[lo:hi], owner)
    dxc -= np.take(sw.centre_x, col)
    del col
    qa = np.take(pr.length2[lo:hi], owner)
    qb = np.take(pr.dx[lo:hi], owner)
    qb *= dxc
    qb += np.take(pr.pair_b[lo:hi], owner)
    qc = dxc * dxc
    qc += np.take(pr.pair_c[lo:hi], owner)
    del dxc
    # (A stationary leg, a == 0, covers the cells within r of it for all its
    # time: fractions_within's [0, 1] where c <= 0.)
    at_rest = np.flatnonzero(qa == 0.0) if still else None
    inside = None if at_rest is None else qc[at_rest] <= 0.0
    keep, s_lo, s_hi = moving_fractions(qa, qb, qc)
    if at_rest is not None and len(at_rest):
        keep[at_rest] = inside
        s_lo[at_rest] = 0.0
        s_hi[at_rest] = 1.0
    del qa, qb, qc
    # Times at every candidate's fractions (the misses' are dropped below).
    with np.errstate(invalid="ignore"):
        t_in, t_out = times_at(np.take(pr.t0[lo:hi], owner), np.take(pr.t1[lo:hi], owner),
                                s_lo, s_hi)
        np.maximum(t_in, 0.0, out=t_in)
        np.minimum(t_out, sw.duration_s, out=t_out)
        keep &= t_in <= t_out  # the part in [0, duration]
    if keep.all():
        return cell, t_in, t_out
    kept = np.flatnonzero(keep)
    return np.take(cell, kept), np.take(t_in, kept), np.take(t_out, kept)


#: Ascending integers shared by the chunks, by dtype.
_IOTA: dict[np.dtype, np.ndarray] = {}


def _iota(n: int, dtype) -> np.ndarray:
    """``np.arange(n, dtype=dtype)`` (read-only; cached)."""
    dtype = np.dtype(dtype)
    have = _IOTA.get(dtype)
    if have is None or len(have) < n:
        have = np.arange(max(n, 2 * CHUNK_PAIRS), dtype=dtype)
        have.flags.writeable = False
        _IOTA[dtype] = have
    return have[:n]


def moving_fractions(a: np.ndarray, b: np.ndarray, c: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`fleetsim.geometry.fractions_within` where ``a`` is positive (a moving
    leg), bit for bit where the part is not empty: whether it is not
    empty, and ``s_lo``, ``s_hi`` (meaningless where it is). (Arrays ``b`` and
    ``c`` are overwritten.)"""
    disc = b * b
    disc -= a * c
    q = np.maximum(disc, 0.0)
    np.sqrt(q, out=q)
    np.copysign(q, b, out=q)
    q += b
    np.negative(q, out=q)
    with np.errstate(divide="ignore", invalid="ignore"):
        s_a = np.divide(q, a, out=b)
        s_b = np.divide(c, q, out=c)  # NaN only for a double root at 0 (= s_a)
    s_lo = np.fmin(s_a, s_b, out=q)
    s_hi = np.fmax(s_a, s_b, out=s_b)
    ok = disc >= 0.0
    ok &= s_hi >= 0.0
    ok &= s_lo <= 1.0
    np.clip(s_lo, 0.0, 1.0, out=s_lo)
    np.clip(s_hi, 0.0, 1.0, out=s_hi)
    return ok, s_lo, s_hi


def times_at(t0: np.ndarray, t1: np.ndarray, s_lo: np.ndarray, s_hi: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`fleetsim.geometry.time_at_fraction` at ``s_lo`` and at ``s_hi`` of the
    same legs, bit for bit, sharing ``t1 - t0``."""
    dt = t1 - t0
    out = []
    for s in (s_lo, s_hi):
        t = s * dt
        t += t0
        np.minimum(t, t1, out=t)
        np.copyto(t, t1, where=s == 1.0)
        out.append(t)
    return out[0], out[1]

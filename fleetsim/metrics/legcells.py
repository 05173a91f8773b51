"""The leg-cell pairs of the metrics raster's sweep (:mod:`fleetsim.metrics.raster`):
the rows each leg's footprint can reach, and, band by band, the exact times each
cell's centre is within a leg's footprint, merged into visits.

Both are compiled loops (numba) over the legs' coordinates: the per-leg terms
(the leg's vector, its grown bounding box, the strip around its line) are
worked out where they are used rather than kept for every leg, and the
arithmetic is that of :func:`fleetsim.geometry.fractions_within` and
:func:`fleetsim.geometry.time_at_fraction`, operation for operation.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["INDEX_SLACK", "band_visits", "leg_spans"]

#: Slack, in cells, when turning coordinates into index ranges (pairs found
#: this way are only candidates; the exact test decides).
INDEX_SLACK = 1e-9

#: Intervals of one cell and row up to which they are sorted by insertion.
_INSERTION_SORT = 24


@njit(cache=True)
def _maximum(a, b):
    """``np.maximum`` of two floats: NaN if either is, else ``b`` on ties."""
    if a > b or a != a:
        return a
    return b


@njit(cache=True)
def _minimum(a, b):
    """``np.minimum`` of two floats: NaN if either is, else ``b`` on ties."""
    if a < b or a != a:
        return a
    return b


@njit(cache=True)
def _fmax(a, b):
    """``np.fmax``: the other where one is NaN."""
    if b != b or a > b:
        return a
    return b


@njit(cache=True)
def _fmin(a, b):
    """``np.fmin``: the other where one is NaN."""
    if b != b or a < b:
        return a
    return b


@njit(cache=True)
def _clip01(x):
    """``np.clip(x, 0.0, 1.0)`` (NaN stays NaN)."""
    if x < 0.0:
        return 0.0
    if x > 1.0:
        return 1.0
    return x


@njit(cache=True, error_model="numpy")
def _first_index(lo, origin, cell, n):
    """First index (clipped to ``[0, n]``) of the cells whose centres
    ``origin + (i + 0.5) cell`` are ``>= lo``."""
    v = np.ceil((lo - origin) / cell - 0.5 - INDEX_SLACK)
    return int(min(max(v, 0.0), float(n)))


@njit(cache=True, error_model="numpy")
def _last_index(hi, origin, cell, n):
    """Last index (clipped to ``[-1, n - 1]``) of the cells whose centres are ``<= hi``."""
    v = np.floor((hi - origin) / cell - 0.5 + INDEX_SLACK)
    return int(min(max(v, -1.0), float(n - 1)))


@njit(cache=True, error_model="numpy")
def _strip_half(r, dx, dy):
    """Half-width, along x, of the strip of points within ``r`` of a leg's line."""
    if dy != 0.0:
        return r * math.sqrt(dx * dx + dy * dy) / abs(dy)
    return math.inf


@njit(cache=True, error_model="numpy")
def leg_spans(x0, y0, x1, y1, r, gx0, gy0, cell, nx, ny):
    """For every leg: the first and last grid row whose centre lies in its
    bounding box grown by its radius (int32; first > last when none), whether
    it reaches a cell at all, and the candidate pairs per row, summed into the
    difference array of the grid's rows (``load``, ``ny + 1`` float64).

    ``r`` holds one radius per leg, or a single one for all."""
    n = len(x0)
    ja = np.empty(n, np.int32)
    jb = np.empty(n, np.int32)
    live = np.zeros(n, np.bool_)
    per_row = np.zeros(n)
    one_r = len(r) == 1
    for i in range(n):
        ri = r[0] if one_r else r[i]
        dx = x1[i] - x0[i]
        dy = y1[i] - y0[i]
        xlo = _minimum(x0[i], x1[i]) - ri
        xhi = _maximum(x0[i], x1[i]) + ri
        ylo = _minimum(y0[i], y1[i]) - ri
        yhi = _maximum(y0[i], y1[i]) + ri
        a = _first_index(ylo, gy0, cell, ny)
        b = _last_index(yhi, gy0, cell, ny)
        ja[i] = a
        jb[i] = b
        ia = _first_index(xlo, gx0, cell, nx)
        ib = _last_index(xhi, gx0, cell, nx)
        if a <= b and ia <= ib:
            live[i] = True
            per_row[i] = _minimum(float(ib - ia + 1),
                                  np.ceil(2.0 * _strip_half(ri, dx, dy) / cell) + 2.0)
    load = np.zeros(ny + 1)
    for i in range(n):
        if live[i]:
            load[ja[i]] += per_row[i]
    for i in range(n):
        if live[i]:
            load[jb[i] + 1] -= per_row[i]
    return ja, jb, live, load


@njit(cache=True)
def _grown(a, n):
    """``a`` with room for at least ``n`` items (its contents kept)."""
    if n <= len(a):
        return a
    out = np.empty(max(n, 2 * len(a)), a.dtype)
    out[:len(a)] = a
    return out


@njit(cache=True)
def _sort_by_start(s, e, lo, hi):
    """Sort the intervals ``lo:hi`` of ``s``, ``e`` by start (equal starts in any order)."""
    if hi - lo <= _INSERTION_SORT:
        for k in range(lo + 1, hi):
            sk = s[k]
            ek = e[k]
            m = k - 1
            while m >= lo and s[m] > sk:
                s[m + 1] = s[m]
                e[m + 1] = e[m]
                m -= 1
            s[m + 1] = sk
            e[m + 1] = ek
        return
    order = np.argsort(s[lo:hi])
    ss = s[lo:hi][order]
    ee = e[lo:hi][order]
    s[lo:hi] = ss
    e[lo:hi] = ee


@njit(cache=True, error_model="numpy")
def band_visits(legs, j_first, j_last, ja, jb, x0, y0, x1, y1, r, t0, t1,
                gx0, gy0, cell, nx, centre_x, cell_of, duration):
    """The visits of the cells of grid rows ``j_first..j_last`` by the footprints
    of ``legs`` (the legs reaching these rows): the coverage intervals within
    ``[0, duration]``, merged per cell where they overlap or touch (as
    :func:`fleetsim.geometry.merge_intervals` does), as (cell, start, end)
    sorted by cell and then start.

    A leg's candidate cells in a row are those whose centres lie both in its
    bounding box grown by the radius and in the strip of half-width ``r``
    around its line; for each, the quadratic ``|p0 + s w - centre|^2 - r^2``,
    split into the leg-row terms and those of the cell's column, gives the
    fractions of the leg within reach (``fractions_within``; a stationary leg,
    ``|w| == 0``, covers the cells within ``r`` for all its time), turned into
    times as ``time_at_fraction`` does and clipped to ``[0, duration]``.

    ``cell_of`` is the flat map of grid positions to area cells (-1 outside), or
    empty when every grid position is an area cell, numbered the same way."""
    full = len(cell_of) == 0
    one_r = len(r) == 1
    n_rows = j_last - j_first + 1
    # Leg-row pairs, row by row.
    head = np.zeros(n_rows + 1, np.int64)
    for k in range(len(legs)):
        i = legs[k]
        ra = max(ja[i], j_first)
        rb = min(jb[i], j_last)
        for row in range(ra, rb + 1):
            head[row - j_first + 1] += 1
    for q in range(n_rows):
        head[q + 1] += head[q]
    fill = head[:-1].copy()
    row_leg = np.empty(head[n_rows], np.int64)
    for k in range(len(legs)):
        i = legs[k]
        ra = max(ja[i], j_first)
        rb = min(jb[i], j_last)
        for row in range(ra, rb + 1):
            row_leg[fill[row - j_first]] = i
            fill[row - j_first] += 1

    col_of = np.empty(1024, np.int64)
    t_in = np.empty(1024)
    t_out = np.empty(1024)
    by_col = np.zeros(nx + 1, np.int64)
    s_sorted = np.empty(1024)
    e_sorted = np.empty(1024)
    out_cell = np.empty(1024, np.int64)
    out_s = np.empty(1024)
    out_e = np.empty(1024)
    n_out = 0
    for row in range(j_first, j_last + 1):
        cy = gy0 + (row + 0.5) * cell
        base = row * nx
        n_hit = 0
        col_lo = nx
        col_hi = -1
        for p in range(head[row - j_first], head[row - j_first + 1]):
            i = row_leg[p]
            ri = r[0] if one_r else r[i]
            lx0 = x0[i]
            ly0 = y0[i]
            dx = x1[i] - lx0
            dy = y1[i] - ly0
            length2 = dx * dx + dy * dy
            xlo = _minimum(lx0, x1[i]) - ri
            xhi = _maximum(lx0, x1[i]) + ri
            if dy != 0.0:
                strip_half = ri * math.sqrt(length2) / abs(dy)
                slope = dx / dy
            else:
                strip_half = math.inf
                slope = 0.0
            xc = lx0 + (cy - ly0) * slope
            ca = _first_index(_fmax(xlo, xc - strip_half), gx0, cell, nx)
            cb = _last_index(_fmin(xhi, xc + strip_half), gx0, cell, nx)
            if cb < ca:
                continue
            ey = ly0 - cy
            pair_b = ey * dy
            pair_c = ey * ey - ri * ri
            lt0 = t0[i]
            lt1 = t1[i]
            dt = lt1 - lt0
            if n_hit + (cb - ca + 1) > len(col_of):
                col_of = _grown(col_of, n_hit + cb - ca + 1)
                t_in = _grown(t_in, len(col_of))
                t_out = _grown(t_out, len(col_of))
            for col in range(ca, cb + 1):
                if not full and cell_of[base + col] < 0:
                    continue
                dxc = lx0 - centre_x[col]
                qb = dx * dxc + pair_b
                qc = dxc * dxc + pair_c
                if length2 == 0.0:
                    if not qc <= 0.0:
                        continue
                    s_lo = 0.0
                    s_hi = 1.0
                else:
                    disc = qb * qb - length2 * qc
                    q = -(qb + math.copysign(math.sqrt(_maximum(disc, 0.0)), qb))
                    s_a = q / length2
                    s_b = qc / q  # NaN only for a double root at 0 (= s_a)
                    s_lo = _fmin(s_a, s_b)
                    s_hi = _fmax(s_a, s_b)
                    if not (disc >= 0.0 and s_hi >= 0.0 and s_lo <= 1.0):
                        continue
                    s_lo = _clip01(s_lo)
                    s_hi = _clip01(s_hi)
                a = lt1 if s_lo == 1.0 else _minimum(s_lo * dt + lt0, lt1)
                b = lt1 if s_hi == 1.0 else _minimum(s_hi * dt + lt0, lt1)
                a = _maximum(a, 0.0)
                b = _minimum(b, duration)
                if not a <= b:
                    continue
                col_of[n_hit] = col
                t_in[n_hit] = a
                t_out[n_hit] = b
                n_hit += 1
                if col < col_lo:
                    col_lo = col
                if col > col_hi:
                    col_hi = col
        if n_hit == 0:
            continue
        # Group by column (counting sort), each column's intervals by start, and merge.
        for col in range(col_lo, col_hi + 2):
            by_col[col] = 0
        for h in range(n_hit):
            by_col[col_of[h] + 1] += 1
        for col in range(col_lo, col_hi + 1):
            by_col[col + 1] += by_col[col]
        if n_hit > len(s_sorted):
            s_sorted = np.empty(len(col_of))
            e_sorted = np.empty(len(col_of))
        for h in range(n_hit):
            at = by_col[col_of[h]]
            s_sorted[at] = t_in[h]
            e_sorted[at] = t_out[h]
            by_col[col_of[h]] = at + 1
        lo = 0
        for col in range(col_lo, col_hi + 1):
            hi = by_col[col]
            if hi == lo:
                continue
            _sort_by_start(s_sorted, e_sorted, lo, hi)
            number = base + col if full else cell_of[base + col]
            if n_out + (hi - lo) > len(out_cell):
                out_cell = _grown(out_cell, n_out + hi - lo)
                out_s = _grown(out_s, len(out_cell))
                out_e = _grown(out_e, len(out_cell))
            start = s_sorted[lo]
            end = e_sorted[lo]
            for h in range(lo + 1, hi):
                if s_sorted[h] > end:
                    out_cell[n_out] = number
                    out_s[n_out] = start
                    out_e[n_out] = end
                    n_out += 1
                    start = s_sorted[h]
                    end = e_sorted[h]
                elif e_sorted[h] > end:
                    end = e_sorted[h]
            out_cell[n_out] = number
            out_s[n_out] = start
            out_e[n_out] = end
            n_out += 1
            lo = hi
    return out_cell[:n_out].copy(), out_s[:n_out].copy(), out_e[:n_out].copy()

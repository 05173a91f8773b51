"""The leg-cell pairs of the metrics raster's sweep (:mod:`fleetsim.metrics.raster`):
the rows each leg's footprint can reach, and, block of rows by block, the exact
times each cell's centre is within a leg's footprint, merged into visits.

Both are compiled loops (numba) over the legs' coordinates: the per-leg terms
(the leg's vector, its grown bounding box, the strip around its line) are
worked out where they are used rather than kept for every leg, and the
arithmetic is that of :func:`fleetsim.geometry.fractions_within` and
:func:`fleetsim.geometry.time_at_fraction`, operation for operation (IEEE
division, ``error_model="numpy"``: no exception on a division by zero). The
minima and maxima are those of numpy's ``minimum``, ``maximum``, ``fmin``,
``fmax`` and ``clip``, down to which operand a tie returns. The entry points let
go of the interpreter (``nogil``) while they run, so the other metric families
go on beside them (:func:`fleetsim.metrics.compute_metrics`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["INDEX_SLACK", "band_visits", "grid_first_sample", "leg_spans", "new_work",
           "tier_order"]

#: Slack, in cells, when turning coordinates into index ranges (pairs found
#: this way are only candidates; the exact test decides).
INDEX_SLACK = 1e-9

#: The terms of a leg-row pair, side by side: the leg's start x and x extent,
#: |w|^2, the pair's terms of the quadratic, and the leg's times.
_X0, _DX, _L2, _PB, _PC, _T0, _T1 = range(7)
_N_TERMS = 7


@njit(cache=True, inline="always")
def _maximum(a, b):
    """``np.maximum`` of two floats: NaN if either is, else ``b`` on ties."""
    if a > b or a != a:
        return a
    return b


@njit(cache=True, inline="always")
def _minimum(a, b):
    """``np.minimum`` of two floats: NaN if either is, else ``b`` on ties."""
    if a < b or a != a:
        return a
    return b


@njit(cache=True, inline="always")
def _fmax(a, b):
    """``np.fmax``: the other where one is NaN."""
    if b != b or a > b:
        return a
    return b


@njit(cache=True, inline="always")
def _fmin(a, b):
    """``np.fmin``: the other where one is NaN."""
    if b != b or a < b:
        return a
    return b


@njit(cache=True, inline="always")
def _clip01(x):
    """``np.clip(x, 0.0, 1.0)`` (NaN stays NaN)."""
    if x < 0.0:
        return 0.0
    if x > 1.0:
        return 1.0
    return x


@njit(cache=True, error_model="numpy", inline="always")
def _first_index(lo, origin, cell, n):
    """First index (clipped to ``[0, n]``) of the cells whose centres
    ``origin + (i + 0.5) cell`` are ``>= lo``."""
    v = np.ceil((lo - origin) / cell - 0.5 - INDEX_SLACK)
    return int(min(max(v, 0.0), float(n)))


@njit(cache=True, error_model="numpy", inline="always")
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


@njit(cache=True, error_model="numpy", nogil=True)
def leg_spans(x0, y0, x1, y1, r, rows, gx0, gy0, cell, nx, ny):
    """For every leg ``rows[i]`` of the columns: the first and last grid row whose
    centre lies in its bounding box grown by its radius (int32; first > last when
    none), whether it reaches a cell at all, and the candidate pairs per row, summed
    into the difference array of the grid's rows (``load``, ``ny + 1`` float64).

    ``r`` holds one radius per leg of the columns, or a single one for all. The
    legs are read where they are (the columns of a long run are not copied)."""
    n = len(rows)
    ja = np.empty(n, np.int32)
    jb = np.empty(n, np.int32)
    live = np.zeros(n, np.bool_)
    per_row = np.zeros(n)
    one_r = len(r) == 1
    for i in range(n):
        k = rows[i]
        ri = r[0] if one_r else r[k]
        dx = x1[k] - x0[k]
        dy = y1[k] - y0[k]
        xlo = _minimum(x0[k], x1[k]) - ri
        xhi = _maximum(x0[k], x1[k]) + ri
        ylo = _minimum(y0[k], y1[k]) - ri
        yhi = _maximum(y0[k], y1[k]) + ri
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


@njit(cache=True, nogil=True)
def tier_order(ja, jb, live, tier_rows, ny):
    """The legs that reach a cell (``live``) by tier of rows spanned (the first
    bound of ``tier_rows`` not below ``jb - ja``), then first row, then number (a
    counting sort), and the end of each tier in that order."""
    n_tiers = len(tier_rows) + 1
    head = np.zeros(n_tiers * ny + 1, np.int64)
    key = np.empty(len(ja), np.int64)
    for i in range(len(ja)):
        if live[i]:
            span = jb[i] - ja[i]
            t = 0
            while t < len(tier_rows) and tier_rows[t] < span:
                t += 1
            key[i] = t * ny + ja[i]
            head[key[i] + 1] += 1
    for b in range(n_tiers * ny):
        head[b + 1] += head[b]
    tier_ends = np.empty(n_tiers, np.int64)
    for t in range(n_tiers):
        tier_ends[t] = head[(t + 1) * ny]
    order = np.empty(head[n_tiers * ny], np.int64)
    for i in range(len(ja)):
        if live[i]:
            order[head[key[i]]] = i
            head[key[i]] += 1
    return order, tier_ends


@njit(cache=True)
def _sort_by_start(s, e, lo, hi):
    """Sort the intervals ``lo:hi`` of ``s``, ``e`` by start (equal starts in any
    order): by insertion, as they come nearly sorted (legs in order of start
    time), or by a full sort when they turn out not to be."""
    budget = 8 * (hi - lo) + 64
    for k in range(lo + 1, hi):
        sk = s[k]
        if not s[k - 1] > sk:
            continue
        ek = e[k]
        m = k - 1
        while m >= lo and s[m] > sk:
            s[m + 1] = s[m]
            e[m + 1] = e[m]
            m -= 1
        s[m + 1] = sk
        e[m + 1] = ek
        budget -= k - m
        if budget < 0:
            order = np.argsort(s[lo:hi])
            ss = s[lo:hi][order]
            ee = e[lo:hi][order]
            s[lo:hi] = ss
            e[lo:hi] = ee
            return


@njit(cache=True, error_model="numpy")
def _start_order(t, order, bucket, head):
    """Fill ``order`` with the indices of ``t`` in about its order (a bucket sort:
    in order up to a bucket's width, about four items' worth of the range of
    ``t``); ``bucket`` and ``head`` (``len(t) // 4 + 1`` items) are room for it."""
    n = len(t)
    for k in range(n):
        order[k] = k
    if n < 2:
        return
    lo = math.inf
    hi = -math.inf
    for k in range(n):
        lo = min(lo, t[k])
        hi = max(hi, t[k])
    n_buckets = max(1, n // 4)
    width = (hi - lo) / n_buckets
    if not (width > 0.0 and width < math.inf):
        return
    head[:n_buckets + 1] = 0
    for k in range(n):
        b = min(int((t[k] - lo) / width), n_buckets - 1)
        bucket[k] = b
        head[b + 1] += 1
    for b in range(n_buckets):
        head[b + 1] += head[b]
    for k in range(n):
        order[head[bucket[k]]] = k
        head[bucket[k]] += 1


@njit(cache=True)
def _room(a, n):
    """``a`` if it holds at least ``n`` items, else a larger array (contents not kept)."""
    if len(a) >= n:
        return a
    return np.empty(max(n, len(a) + len(a) // 2), a.dtype)


def new_work() -> tuple[np.ndarray, ...]:
    """Room for :func:`band_visits` (grown by it as needed, to be passed back)."""
    return tuple(np.empty(0, dtype) for dtype in (np.float64, np.int64, np.int64, np.float64,
                                                  np.int64, np.float64))


@njit(cache=True, error_model="numpy", nogil=True)
def band_visits(ranges, j_first, j_last, ja, jb, x0, y0, x1, y1, r, t0, t1,
                gx0, gy0, cell, nx, centre_x, cell_of, duration, work):
    """The visits of the cells of grid rows ``j_first..j_last`` by the footprints
    of the legs in ``ranges`` (rows ``[first, end)`` of the legs' arrays, among
    them all the legs reaching these rows; those ending before ``j_first`` are
    passed over): the coverage intervals within
    ``[0, duration]``, merged per cell where they overlap or touch (as
    :func:`fleetsim.geometry.merge_intervals` does), as (cell, start, end)
    sorted by cell and then start, and the number of visits up to the end of
    each row.

    A leg's candidate cells in a row are those whose centres lie both in its
    bounding box grown by the radius and in the strip of half-width ``r``
    around its line; for each, the quadratic ``|p0 + s w - centre|^2 - r^2``,
    split into the leg-row terms and those of the cell's column, gives the
    fractions of the leg within reach (``fractions_within``; a stationary leg,
    ``|w| == 0``, covers the cells within ``r`` for all its time), turned into
    times as ``time_at_fraction`` does and clipped to ``[0, duration]``.

    ``cell_of`` is the flat map of grid positions to area cells (-1 outside), or
    empty when every grid position is an area cell, numbered the same way.
    ``work`` is room for the arrays of the call (see :func:`new_work`): it comes
    back, grown where needed, for the next call."""
    full = len(cell_of) == 0
    one_r = len(r) == 1
    n_rows = j_last - j_first + 1
    # The legs reaching these rows (in ranges of the legs' order), copied side by side.
    n = 0
    for t in range(len(ranges)):
        for i in range(ranges[t, 0], ranges[t, 1]):
            if jb[i] >= j_first:
                n += 1
    # (The arrays are carved out of ``work``, reused from call to call.)
    fa, ia, ib, fb, ic, fc = work
    fa = _room(fa, 7 * n)
    lx0, ly0, lx1, ly1 = fa[:n], fa[n:2 * n], fa[2 * n:3 * n], fa[3 * n:4 * n]
    lr, lt0, lt1 = fa[4 * n:5 * n], fa[5 * n:6 * n], fa[6 * n:7 * n]
    ia = _room(ia, 4 * n + n // 4 + 2 + 4 * n_rows + 1)
    first_row, last_row, legs, bucket = ia[:n], ia[n:2 * n], ia[2 * n:3 * n], ia[3 * n:4 * n]
    at = 4 * n + n // 4 + 2
    bucket_head = ia[4 * n:at]
    head = ia[at:at + n_rows + 1]
    fill = ia[at + n_rows + 1:at + 2 * n_rows + 1]
    row_pairs = ia[at + 2 * n_rows + 1:at + 3 * n_rows + 1]
    row_end = ia[at + 3 * n_rows + 1:at + 4 * n_rows + 1]
    k = 0
    for t in range(len(ranges)):
        for i in range(ranges[t, 0], ranges[t, 1]):
            if jb[i] >= j_first:
                lx0[k] = x0[i]
                ly0[k] = y0[i]
                lx1[k] = x1[i]
                ly1[k] = y1[i]
                lr[k] = r[0] if one_r else r[i]
                lt0[k] = t0[i]
                lt1[k] = t1[i]
                first_row[k] = max(ja[i], j_first)
                last_row[k] = min(jb[i], j_last)
                k += 1
    # Leg-row pairs, row by row, each row's legs in order of start time (so the
    # intervals of a cell come nearly sorted by start), with the leg's terms side
    # by side (a row reads them in order).
    _start_order(lt0, legs, bucket, bucket_head)
    head[:] = 0
    for k in range(n):
        for row in range(first_row[k], last_row[k] + 1):
            head[row - j_first + 1] += 1
    for q in range(n_rows):
        head[q + 1] += head[q]
    fill[:] = head[:-1]
    # Per leg-row pair with candidate cells: the first and last column, and the
    # leg-row terms of the quadratic |p0 + s w - centre|^2 - r^2 of the leg and a
    # cell centre (cx, cy), split into what depends on the pair and on cx:
    # a s^2 + 2 (dxc wx + ey wy) s + dxc^2 + ey^2 - r^2, dxc = x0 - cx, ey = y0 - cy.
    m = head[n_rows]
    ib = _room(ib, 2 * m)
    fb = _room(fb, _N_TERMS * m)
    cols = ib[:2 * m].reshape((m, 2))
    terms = fb[:_N_TERMS * m].reshape((m, _N_TERMS))
    row_pairs[:] = 0  # (candidate leg-cell pairs of each row)
    for k in legs:
        ri = lr[k]
        px0 = lx0[k]
        py0 = ly0[k]
        dx = lx1[k] - px0
        dy = ly1[k] - py0
        length2 = dx * dx + dy * dy
        if dy != 0.0:
            strip_half = ri * math.sqrt(length2) / abs(dy)
            slope = dx / dy
        else:
            strip_half = math.inf
            slope = 0.0
        xlo = _minimum(px0, lx1[k]) - ri
        xhi = _maximum(px0, lx1[k]) + ri
        for row in range(first_row[k], last_row[k] + 1):
            cy = gy0 + (row + 0.5) * cell
            xc = px0 + (cy - py0) * slope
            ca = _first_index(_fmax(xlo, xc - strip_half), gx0, cell, nx)
            cb = _last_index(_fmin(xhi, xc + strip_half), gx0, cell, nx)
            if cb < ca:
                continue
            q = fill[row - j_first]
            fill[row - j_first] = q + 1
            row_pairs[row - j_first] += cb - ca + 1
            ey = py0 - cy
            cols[q, 0] = ca
            cols[q, 1] = cb
            terms[q, _X0] = px0
            terms[q, _DX] = dx
            terms[q, _L2] = length2
            terms[q, _PB] = ey * dy
            terms[q, _PC] = ey * ey - ri * ri
            terms[q, _T0] = lt0[k]
            terms[q, _T1] = lt1[k]

    # (Room for every candidate of a row, and of all rows: the visits are fewer.)
    most = row_pairs.max()
    total = row_pairs.sum()
    ic = _room(ic, most + nx + 1 + total)
    fc = _room(fc, 4 * most + 2 * total)
    col_of, by_col, out_cell = ic[:most], ic[most:most + nx + 1], ic[most + nx + 1:]
    t_in, t_out = fc[:most], fc[most:2 * most]
    s_sorted, e_sorted = fc[2 * most:3 * most], fc[3 * most:4 * most]
    out_s, out_e = fc[4 * most:4 * most + total], fc[4 * most + total:4 * most + 2 * total]
    by_col[:] = 0
    n_out = 0
    for row in range(j_first, j_last + 1):
        row_end[row - j_first] = n_out  # (until a row's visits are in)
        base = row * nx
        n_hit = 0
        col_lo = nx
        col_hi = -1
        for p in range(head[row - j_first], fill[row - j_first]):
            ca = cols[p, 0]
            cb = cols[p, 1]
            px0 = terms[p, _X0]
            dx = terms[p, _DX]
            length2 = terms[p, _L2]
            pair_b = terms[p, _PB]
            pair_c = terms[p, _PC]
            pt0 = terms[p, _T0]
            pt1 = terms[p, _T1]
            dt = pt1 - pt0
            for col in range(ca, cb + 1):
                if not full and cell_of[base + col] < 0:
                    continue
                dxc = px0 - centre_x[col]
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
                a = pt1 if s_lo == 1.0 else _minimum(s_lo * dt + pt0, pt1)
                b = pt1 if s_hi == 1.0 else _minimum(s_hi * dt + pt0, pt1)
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
        row_end[row - j_first] = n_out
    return (out_cell[:n_out].copy(), out_s[:n_out].copy(), out_e[:n_out].copy(),
            row_end.copy(), (fa, ia, ib, fb, ic, fc))


@njit(cache=True)
def grid_first_sample(x, step, n, after):
    """For each ``x``, the index of the first of the samples ``k * step`` (``k`` in
    ``0..n-1``) that is ``> x`` (``after``) or ``>= x``, ``n`` if none: the arithmetic
    guess ``floor(x / step) + 1`` or ``ceil(x / step)``, clipped to ``0..n``, then one
    exact correction each way against the samples themselves (what
    ``np.searchsorted`` gives, in one pass)."""
    out = np.empty(len(x), dtype=np.int64)
    top = n - 1.0
    for i in range(len(x)):
        xi = x[i]
        k = xi / step
        if after:
            k = np.floor(k) + 1.0
        else:
            k = np.ceil(k)
        if k < 0.0:
            k = 0.0
        elif k > n:
            k = float(n)
        below = (k - 1.0 if k - 1.0 > 0.0 else 0.0) * step
        above = (k if k < top else top) * step
        if after:
            if k > 0.0 and below > xi:
                k -= 1.0
            if k < n and above <= xi:
                k += 1.0
        else:
            if k > 0.0 and below >= xi:
                k -= 1.0
            if k < n and above < xi:
                k += 1.0
        out[i] = np.int64(k)
    return out

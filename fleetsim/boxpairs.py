"""Pairs of overlapping boxes, the broad phase of loss-of-separation checks.

:func:`cell_pairs` puts every box in one cell of a grid as large as the largest box
and pairs it with the boxes of its cell and of the neighbouring ones; it is the
fastest when the boxes are of similar sizes (legs clipped to a monitoring window).
:func:`strip_pairs` enters every box in the horizontal strips it touches and sweeps
each strip in ``x``; its cost does not depend on the largest box. Both return every
pair of boxes of different groups that overlap (closed boxes: touching counts), each
once, ``i < j``, in no particular order. (:func:`fleetsim.separation.candidate_pairs`
finds the same pairs, sorted, on a uniform grid.)
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["cell_pairs", "checked_boxes", "strip_pairs"]

#: Pairs formed per chunk (bounds transient memory, ~100 MB).
_PAIR_CHUNK = 2_000_000
#: Above this many (box, strip) entries :func:`strip_pairs` refuses the strips.
_MAX_ENTRIES = 50_000_000


def checked_boxes(xmin, ymin, xmax, ymax, group, size: float, name: str):
    """The boxes' bounds as flat float64 arrays and their groups as a flat array, or
    None when there are fewer than two boxes (no pairs). Raises ValueError unless
    ``size`` (the broad phase's strip or cell size, called ``name``) is positive and
    finite and every bound of every box is finite."""
    xmin, ymin, xmax, ymax = (np.asarray(a, dtype=np.float64).ravel()
                              for a in (xmin, ymin, xmax, ymax))
    if len(xmin) < 2:
        return None
    if not (size > 0.0 and np.isfinite(size)):
        raise ValueError(f"{name} must be positive and finite, got {size}")
    if not (np.isfinite(xmin).all() and np.isfinite(ymin).all()
            and np.isfinite(xmax).all() and np.isfinite(ymax).all()):
        raise ValueError("boxes must be finite")
    return xmin, ymin, xmax, ymax, np.asarray(group).ravel()


def joined(found_i: list, found_j: list) -> tuple[np.ndarray, np.ndarray]:
    """The pairs found chunk by chunk, as two arrays (empty int64 arrays if none)."""
    if not found_i:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if len(found_i) == 1:
        return found_i[0], found_j[0]
    return np.concatenate(found_i), np.concatenate(found_j)


def strip_pairs(
    xmin, ymin, xmax, ymax, group, strip_m: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of overlapping boxes of different groups, found by sweeping horizontal strips.

    The plane is cut into strips ``strip_m`` high (aligned on the origin); each box is
    entered in every strip it touches, and within a strip the entries, sorted by
    ``xmin``, are swept: an entry pairs with the later entries whose ``xmin`` is at most
    its ``xmax``. A pair is kept if the boxes overlap (closed boxes: touching counts),
    belong to different groups and this is the lowest strip the two share, so each pair
    comes once. The same pairs as :func:`fleetsim.separation.candidate_pairs`, with fewer
    temporaries: a box is entered once per strip (not once per cell) and only pairs
    that overlap in ``x`` are formed.

    Cost is linear in the number of (box, strip) entries plus the pairs overlapping in
    ``x`` within strips (choose ``strip_m`` about the typical box height; a box much
    taller than the strips is entered in many). Pairs are formed in chunks of about two
    million to bound the transient memory.

    Parameters
    ----------
    xmin, ymin, xmax, ymax : array_like, shape (n,)
        The boxes (m), ``xmin <= xmax``, ``ymin <= ymax``, finite.
    group : array_like, shape (n,), integer
        Group of each box: boxes of one group are never paired.
    strip_m : float
        Height of the strips (m), > 0.

    Returns
    -------
    i, j : ndarray, shape (p,), int64
        The pairs, ``i < j``, each once, in no particular order. Empty for ``n < 2``.

    Raises
    ------
    ValueError
        If the boxes are not finite, ``strip_m`` is not positive, or the boxes would
        occupy more than 50 million (box, strip) entries (``strip_m`` far too small).
    """
    empty = np.zeros(0, dtype=np.int64)
    boxes = checked_boxes(xmin, ymin, xmax, ymax, group, strip_m, "strip_m")
    if boxes is None:
        return empty, empty.copy()
    xmin, ymin, xmax, ymax, group = boxes
    n = len(xmin)
    x_lo, x_hi = float(xmin.min()), float(xmax.max())
    s0 = np.floor(ymin / strip_m).astype(np.int64)
    s1 = np.floor(ymax / strip_m).astype(np.int64)
    per = s1 - s0 + 1
    s0 -= int(s0.min())
    total = int(per.sum())
    if total > _MAX_ENTRIES:
        raise ValueError(f"boxes occupy {total} strips; use a larger strip_m than {strip_m}")
    single = total == n
    # The entries (box, strip): every box in its first strip, then those reaching a
    # second strip in that, and so on (or, with boxes across many strips, expanded).
    if single:
        box = np.arange(n, dtype=np.int64)
        strip = s0
    elif int(per.max()) <= 4:
        box = np.concatenate([np.flatnonzero(per > k) for k in range(int(per.max()))])
        strip = s0[box] + np.repeat(np.arange(int(per.max()), dtype=np.int64),
                                    [int((per > k).sum()) for k in range(int(per.max()))])
    else:
        box = np.repeat(np.arange(n, dtype=np.int64), per)
        strip = s0[box] + (np.arange(total, dtype=np.int64)
                           - np.repeat(np.cumsum(per) - per, per))
    # Entries sorted by one key, strip by strip: strip * span + (xmin - x_lo), with span
    # more than twice the x range so that strips never mix. Rounding is monotonic, so
    # the search below finds every entry of the strip whose xmin is at most an entry's
    # xmax (and possibly a hair more, or ties out of order: the exact test decides).
    span = 2.0 * (x_hi - x_lo) + 1.0
    base = strip * span
    key = base + (xmin[box] - x_lo)
    order = np.argsort(key)
    key = key[order]
    box = box[order]
    strip = strip[order]
    stop = np.searchsorted(key, base[order] + (xmax[box] - x_lo), side="right")
    later = stop - np.arange(1, total + 1)
    del key, base
    # Per entry, what the exact test needs, in the entries' order.
    bx0, bx1, by0, by1 = (np.ascontiguousarray(c[box]) for c in (xmin, xmax, ymin, ymax))
    first = s0[box] == strip  # (each entry: is this its box's first strip)
    grp = np.ascontiguousarray(group[box])
    cum = np.cumsum(later)
    n_pairs = int(cum[-1])
    if n_pairs == 0:
        return empty, empty.copy()
    bounds = np.searchsorted(cum, np.arange(_PAIR_CHUNK, n_pairs, _PAIR_CHUNK), side="left")
    bounds = np.unique(np.r_[0, bounds + 1, total].clip(0, total))
    found_i, found_j = [], []
    for e0, e1 in zip(bounds[:-1], bounds[1:], strict=True):
        m = int(later[e0:e1].sum())
        if m == 0:
            continue
        # Each entry with the later ones of its strip whose xmin is at most its xmax
        # (entry by entry, in order), tested in a compiled loop.
        out_i = np.empty(m, dtype=np.int64)
        out_j = np.empty(m, dtype=np.int64)
        k = _strip_run(int(e0), int(e1), stop, bx0, bx1, by0, by1, grp, first, single, box,
                       out_i, out_j)
        found_i.append(out_i[:k])
        found_j.append(out_j[:k])
    return joined(found_i, found_j)


def cell_pairs(xmin, ymin, xmax, ymax, group, max_formed: int
               ) -> tuple[np.ndarray, np.ndarray] | None:
    """The pairs of :func:`strip_pairs` (``i < j``, in no particular order) on a grid of
    cells as large as the largest box, each box in the cell of its lower-left corner:
    boxes that overlap are then in the same or in neighbouring cells. Sorting by cell
    (a counting sort) and pairing every box with the later boxes of its cell, the cell
    above and the three cells of the next column needs neither a sort of coordinates
    nor a search.

    ``xmin, ymin, xmax, ymax`` (m) and ``group`` are (n,) arrays as for
    :func:`strip_pairs` (finite). Returns None, having formed nothing, if it
    would form more than ``max_formed`` pairs (a few boxes far larger than the others
    make large cells: use :func:`strip_pairs`).
    """
    n = len(xmin)
    empty = np.zeros(0, dtype=np.int64)
    if n < 2:
        return empty, empty.copy()
    found_i, found_j, ok = _cell_pairs(
        *(np.ascontiguousarray(v, dtype=np.float64) for v in (xmin, ymin, xmax, ymax)),
        np.ascontiguousarray(group, dtype=np.int64), int(max_formed))
    return (found_i, found_j) if ok else None


@njit(cache=True)
def cell_grid(xmin, ymin, xmax, ymax):
    """The boxes (n >= 1) on cells as large as the largest box, each in the cell of its
    lower-left corner: the boxes in cell order (``box``), their cells (``key``), the
    end of each cell's boxes in that order (``end``: cell ``c``'s are
    ``end[c - 1]:end[c]``), the cells per column, and the number of pairs formed by
    pairing every box with the later boxes of its cell and of the cell above (``end[c]
    to end[c + 1]``) and with those of the next column's cells below, level and above
    (``end[c + rows_per_col - 2]`` to ``end[c + rows_per_col + 1]``)."""
    n = len(xmin)
    x_lo, y_lo, x_hi, y_hi = xmin[0], ymin[0], xmax[0], ymax[0]
    size = 0.0
    for k in range(n):
        x_lo, y_lo = min(x_lo, xmin[k]), min(y_lo, ymin[k])
        x_hi, y_hi = max(x_hi, xmax[k]), max(y_hi, ymax[k])
        size = max(size, xmax[k] - xmin[k], ymax[k] - ymin[k])
    # (a hair larger than the largest box, so that rounding never puts two boxes that
    # overlap two cells apart)
    cell = size + 1e-9 * (size + max(abs(x_lo), abs(y_lo), abs(x_hi), abs(y_hi)))
    cx = np.zeros(n, dtype=np.int64)
    cy = np.zeros(n, dtype=np.int64)
    if cell > 0.0:  # (points: one cell per distinct corner would do; one cell is enough)
        for k in range(n):
            cx[k] = np.int64((xmin[k] - x_lo) / cell)
            cy[k] = np.int64((ymin[k] - y_lo) / cell)
    rows_per_col = cy.max() + 3  # (a free row below and above each column)
    n_cells = (cx.max() + 2) * rows_per_col
    # Boxes of cell c (key cx * rows_per_col + cy + 1) at [end[c - 1], end[c]) of box.
    end = np.zeros(n_cells + 2, dtype=np.int64)
    for k in range(n):
        end[cx[k] * rows_per_col + cy[k] + 1] += 1
    for c in range(1, n_cells + 2):
        end[c] += end[c - 1]
    key = np.empty(n, dtype=np.int64)
    box = np.empty(n, dtype=np.int64)
    for k in range(n - 1, -1, -1):  # (from the end of each cell back: stable)
        c = cx[k] * rows_per_col + cy[k] + 1
        end[c] -= 1
        box[end[c]] = k
        key[end[c]] = c
    for k in range(n):  # (end[c] is the start of cell c now: back to its end)
        end[key[k]] += 1
    formed = 0
    for p in range(n):
        c = key[p]
        formed += end[c + 1] - p - 1 + end[c + rows_per_col + 1] - end[c + rows_per_col - 2]
    return box, key, end, rows_per_col, formed


@njit(cache=True)
def _cell_pairs(xmin, ymin, xmax, ymax, group, max_formed):
    """:func:`cell_pairs` (n >= 2): the pairs, and False (and no pairs) if there would
    be more than ``max_formed`` of them to test."""
    n = len(xmin)
    box, key, end, rows_per_col, formed = cell_grid(xmin, ymin, xmax, ymax)
    if formed > max_formed:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), False
    # Per box in cell order, contiguous.
    x0 = np.empty(n)
    x1 = np.empty(n)
    y0 = np.empty(n)
    y1 = np.empty(n)
    grp = np.empty(n, dtype=np.int64)
    for p in range(n):
        b = box[p]
        x0[p], x1[p], y0[p], y1[p], grp[p] = xmin[b], xmax[b], ymin[b], ymax[b], group[b]
    found_i = np.empty(formed, dtype=np.int64)
    found_j = np.empty(formed, dtype=np.int64)
    m = 0
    for p in range(n):
        c = key[p]
        m = _pair_run(p, p + 1, end[c + 1], x0, x1, y0, y1, grp, box, found_i, found_j, m)
        m = _pair_run(p, end[c + rows_per_col - 2], end[c + rows_per_col + 1], x0, x1, y0,
                      y1, grp, box, found_i, found_j, m)
    return found_i[:m].copy(), found_j[:m].copy(), True


@njit(cache=True)
def _pair_run(p, lo, hi, x0, x1, y0, y1, grp, box, found_i, found_j, m):
    """Box ``p`` paired with boxes ``lo:hi`` (in cell order): the pairs that overlap and
    are of different groups written from ``m`` on; returns the new count."""
    px0, px1, py0, py1, pg, bp = x0[p], x1[p], y0[p], y1[p], grp[p], box[p]
    for q in range(lo, hi):
        # (every test evaluated and the pair written in any case: no branches to miss)
        ok = (px0 <= x1[q]) & (x0[q] <= px1) & (py0 <= y1[q]) & (y0[q] <= py1) \
            & (pg != grp[q])
        bq = box[q]
        found_i[m] = min(bp, bq)
        found_j[m] = max(bp, bq)
        m += ok
    return m


@njit(cache=True, nogil=True)
def _strip_run(e0, e1, stop, x0, x1, y0, y1, grp, first, single, box, out_i, out_j):
    """The pairs of :func:`strip_pairs` formed by entries ``e0:e1``: each entry with
    the next ones up to ``stop`` (exclusive), kept if the boxes overlap (closed), the
    groups differ and (unless every box is in one strip) this is the lowest strip the
    two share (the first strip of one of them); written as (smaller, larger) box index to ``out_i``, ``out_j`` in the order
    they are formed. Returns how many."""
    m = 0
    for e in range(e0, e1):
        for f in range(e + 1, stop[e]):
            if (x0[e] <= x1[f] and x0[f] <= x1[e] and y0[e] <= y1[f] and y0[f] <= y1[e]
                    and grp[e] != grp[f] and (single or first[e] or first[f])):
                bi, bj = box[e], box[f]
                out_i[m] = min(bi, bj)
                out_j[m] = max(bi, bj)
                m += 1
    return m

"""The legs the separation monitor looks at: those of the vehicles with minima, in the
kinds of legs flown out in their domain's space, from the legs table as it grows.

A leg enters the pool when the monitor first looks past its start; until then it
waits among the later legs, by start time. The pool is kept by leg id (the legs
table's row), so that the legs of a window come in the table's order; a leg leaves
it when a window has been checked past its end, or when it was cancelled (a leg cut
before it began ends before it starts).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fleetsim.engine.tables import L_KIND, L_T0, L_T1, L_VEHICLE

__all__ = ["LegPool"]


class LegPool:
    """The pool of legs to check, fed from the legs table.

    ``checked``: per vehicle, whether it has separation minima; ``kinds``: per leg kind
    code, whether legs of that kind are checked."""

    def __init__(self, checked: np.ndarray, kinds: np.ndarray) -> None:
        self.checked = checked
        self.kinds = kinds
        self.seen = 0  # legs looked at so far (ids below this are in the pool or gone)
        #: The pool: legs (ids, t0 when pooled) to check, by id; the later ones (planned
        #: ahead) apart by t0, in a large part and a small one the new legs go to.
        self.ids = np.zeros(0, dtype=np.int64)
        self.t0 = np.zeros(0)
        self._later = [(np.zeros(0), np.zeros(0, dtype=np.int64))] * 2

    def refresh(self, legs) -> None:
        """Take in the legs added to the table ``legs`` since the last look."""
        n = legs.n
        if n <= self.seen:
            return
        t0, ids = _checked(legs.a, self.seen, n, self.checked, self.kinds)
        self.seen = n
        big, new = self._later  # ((t0, ids), (t0, ids))
        new = merged(*new, t0, ids)
        if len(new[0]) > len(big[0]) // 8 + 4096:  # (into the large part now and then)
            big, new = merged(*big, *new), (new[0][:0], new[1][:0])
        self._later = [big, new]

    def advance(self, t_hi: float) -> None:
        """Move the later legs starting before ``t_hi`` to the pool."""
        moved = []
        for i, (t0, ids) in enumerate(self._later):
            k = int(np.searchsorted(t0, t_hi, side="left"))
            moved += [(ids[:k], t0[:k])] if k else []
            self._later[i] = (t0[k:], ids[k:])
        if moved:
            ids, t0 = (np.concatenate(c) for c in zip(*moved, strict=True))
            o = np.argsort(ids)
            self.ids, self.t0 = merged(self.ids, self.t0, ids[o], t0[o])

    def legs_in(self, a: np.ndarray, t_lo: float, t_hi: float, *, prune: bool = False
                ) -> tuple[np.ndarray, np.ndarray]:
        """Ids and rows (of the legs table's matrix ``a``) of the pooled legs overlapping
        [t_lo, t_hi] (not cancelled); ``prune``: and forget the legs that ended by
        ``t_hi`` or were cancelled."""
        self.advance(t_hi)
        ids, rows, keep = _select(self.ids, self.t0, a, t_lo, t_hi)
        if prune and len(keep) < len(self.ids):
            self.ids = np.take(self.ids, keep)
            self.t0 = np.take(self.t0, keep)
        return ids, rows


@njit(cache=True)
def _checked(a, lo, hi, checked, kinds):
    """The legs ``lo:hi`` of the legs table's matrix ``a`` that are checked (of a
    vehicle with minima, in a kind checked): their starts and ids, by start (stably)."""
    ids = np.empty(hi - lo, dtype=np.int64)
    m = 0
    for leg in range(lo, hi):
        if checked[np.int64(a[leg, L_VEHICLE])] and kinds[np.int64(a[leg, L_KIND])]:
            ids[m] = leg
            m += 1
    t0 = np.empty(m)
    for k in range(m):
        t0[k] = a[ids[k], L_T0]
    o = np.argsort(t0, kind="mergesort")
    return t0[o], ids[:m][o]


@njit(cache=True)
def _before(a, b) -> bool:
    """numpy's sort order: ``a < b``, NaN after every number."""
    return a < b or (b != b and a == a)


@njit(cache=True)
def merged(key, other, new_key, new_other):
    """Columns (key, other) sorted by key with new rows (sorted by key) put in, each
    after the rows of an equal key (numpy's ``insert`` at ``searchsorted(key, new_key,
    side="right")``)."""
    n, m = len(key), len(new_key)
    out_key = np.empty(n + m, dtype=key.dtype)
    out_other = np.empty(n + m, dtype=other.dtype)
    i = j = 0
    for k in range(n + m):
        if j < m and (i == n or _before(new_key[j], key[i])):
            out_key[k], out_other[k] = new_key[j], new_other[j]
            j += 1
        else:
            out_key[k], out_other[k] = key[i], other[i]
            i += 1
    return out_key, out_other


@njit(cache=True)
def _select(pool_ids, pool_t0, a, t_lo, t_hi):
    """Of the pooled legs (``pool_ids`` by id, ``pool_t0`` their starts when pooled):
    the ids and rows of ``a`` of those started before ``t_hi`` that end after ``t_lo``
    and not before they start (not cancelled), and the positions in the pool of the
    legs to keep past ``t_hi`` (not started, or ending after it)."""
    n = len(pool_ids)
    width = a.shape[1]
    live = np.empty(n, dtype=np.int64)
    keep = np.empty(n, dtype=np.int64)
    m = kept = 0
    for k in range(n):
        leg = pool_ids[k]
        if not pool_t0[k] < t_hi:
            keep[kept] = k
            kept += 1
            continue
        t0, t1 = a[leg, L_T0], a[leg, L_T1]
        if t1 >= t0 and t1 > t_lo:
            live[m] = k
            m += 1
        if not (t1 < t0 or t1 <= t_hi):
            keep[kept] = k
            kept += 1
    ids = np.empty(m, dtype=np.int64)
    rows = np.empty((m, width))
    for k in range(m):
        leg = pool_ids[live[k]]
        ids[k] = leg
        for c in range(width):
            rows[k, c] = a[leg, c]
    return ids, rows, keep[:kept].copy()

"""Rows of a run's events (and legs) by kind, found in one pass over the table.

The metrics select events by their ``kind`` many times (approvals, reviews,
losses of separation, ...), and every ``run.events["kind"] == k`` compares each
row's string again: tens of passes over millions of rows. Inside
:func:`indexed_kinds` (which :func:`fleetsim.metrics.compute_metrics` and
:func:`fleetsim.metrics.timeseries.timeseries` open) the column is read once
into small integer codes and grouped by them; :func:`event_rows` and
:func:`event_mask` then answer from the groups. Outside it (a metric function
called on its own) they compare the strings as before. The answers are the same
either way: the rows, in table order, whose kind equals one of the given kinds.
:func:`leg_mask` does the same for ``run.legs["kind"]``.

The index lives only while the block runs (the tables are not changed then), so
a run's tables may be edited between two computations without a stale answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from fleetsim.record import CodedColumn, kind_in

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.record import RecordedRun

__all__ = ["KindIndex", "event_mask", "event_rows", "indexed_kinds", "leg_mask",
           "within_block"]

T = TypeVar("T")

#: The tables indexed, and their keys in ``run.derived``.
_KEYS = {"events": "events_kind_index", "legs": "legs_kind_index"}

#: Results kept while a block is open (:func:`within_block`).
_SCOPE_KEY = "metrics_block"

#: Rows read into Python objects at a time while grouping.
_CHUNK_ROWS = 1 << 20


class KindIndex:
    """The rows of a ``kind`` column grouped by value (equal values, one group)."""

    def __init__(self, column: np.ndarray) -> None:
        self.column = column
        self._n = n = len(column)
        codes_of: dict[object, int] = {}
        if isinstance(column, CodedColumn) and \
                len(set(column.categories)) == len(column.categories):  # its own codes
            codes = column.codes
            codes_of = {c: i for i, c in enumerate(column.categories)}
        else:
            column = np.asarray(column)
            codes = np.empty(n, dtype=np.int32)
            for i in range(0, n, _CHUNK_ROWS):  # (a chunk's Python list at a time)
                values = column[i:i + _CHUNK_ROWS].tolist()
                for value in set(values):
                    codes_of.setdefault(value, len(codes_of))
                codes[i:i + len(values)] = np.fromiter(map(codes_of.__getitem__, values),
                                                       dtype=np.int32, count=len(values))
        self._codes_of = codes_of
        self._bounds = np.r_[0, np.cumsum(np.bincount(codes, minlength=len(codes_of)))]
        # Row indexes grouped by code, each group in table order (a stable sort: a
        # radix sort on 16 bits).
        order = np.argsort(codes.astype(np.uint16) if len(codes_of) <= 0xFFFF else codes,
                           kind="stable")
        del codes
        self._order = order.astype(np.int32) if n < 2**31 else order

    def rows(self, kinds: str | Iterable[str]) -> np.ndarray:
        """Indexes (int64, ascending) of the rows whose kind is one of ``kinds``."""
        parts = []
        for k in ((kinds,) if isinstance(kinds, str) else kinds):
            code = self._codes_of.get(k)
            if code is not None:
                parts.append(self._order[self._bounds[code]:self._bounds[code + 1]])
        if not parts:
            return np.zeros(0, dtype=np.int64)
        rows = parts[0] if len(parts) == 1 else np.sort(np.concatenate(parts))
        return rows.astype(np.int64, copy=False)

    def mask(self, kinds: str | Iterable[str]) -> np.ndarray:
        """A (n_rows,) bool mask of the rows whose kind is one of ``kinds``."""
        out = np.zeros(self._n, dtype=bool)
        out[self.rows(kinds)] = True
        return out


def _index(run: RecordedRun, table: str = "events") -> KindIndex | None:
    index = run.derived.get(_KEYS[table])
    return index if index is not None and index.column is getattr(run, table)["kind"] else None


@contextmanager
def indexed_kinds(run: RecordedRun) -> Iterator[None]:
    """Within the block, :func:`event_rows`, :func:`event_mask` and :func:`leg_mask` of
    ``run`` answer from one grouping of its kinds (the tables must not change meanwhile)."""
    made = []
    for table, key in _KEYS.items():
        if _index(run, table) is None:  # (else an enclosing block made it)
            run.derived[key] = KindIndex(getattr(run, table)["kind"])
            made.append(key)
    if _SCOPE_KEY not in run.derived:
        run.derived[_SCOPE_KEY] = {}
        made.append(_SCOPE_KEY)
    try:
        yield
    finally:
        for key in made:
            run.derived.pop(key, None)


def event_rows(run: RecordedRun, kinds: str | Iterable[str]) -> np.ndarray:
    """Indexes (int64, ascending) of the events whose kind is one of ``kinds``."""
    index = _index(run)
    if index is not None:
        return index.rows(kinds)
    return np.flatnonzero(kind_in(run.events["kind"], kinds)).astype(np.int64, copy=False)


def event_mask(run: RecordedRun, kinds: str | Iterable[str]) -> np.ndarray:
    """A bool mask of the events whose kind is one of ``kinds``
    (``kind_in(run.events["kind"], kinds)``)."""
    index = _index(run)
    if index is not None:
        return index.mask(kinds)
    return kind_in(run.events["kind"], kinds)


def leg_mask(run: RecordedRun, kinds: str | Iterable[str]) -> np.ndarray:
    """A bool mask of the legs whose kind is one of ``kinds``
    (``kind_in(run.legs["kind"], kinds)``)."""
    index = _index(run, "legs")
    if index is not None:
        return index.mask(kinds)
    return kind_in(run.legs["kind"], kinds)


def within_block(run: RecordedRun, name: str, compute: Callable[[RecordedRun], T]) -> T:
    """``compute(run)``, computed once while an :func:`indexed_kinds` block of ``run``
    is open (for results several metrics read, e.g. the operators' work items) and
    every time outside one."""
    memo = run.derived.get(_SCOPE_KEY)
    if memo is None:
        return compute(run)
    if name not in memo:
        memo[name] = compute(run)
    return memo[name]

"""Recording of legs and events during a run: growable numpy tables.

The leg table is a float64 matrix, one row per leg, grown by doubling: a leg's
row stays writable because a leg can be cut while it is being flown. Events are
appended one at a time or, for whole route blocks, many at once, to a float64
buffer that is sealed, chunk by chunk, into compact typed columns (events never
change once recorded). The typed columns of :mod:`fleetsim.record` are made from
both at the end of the run.
"""

from __future__ import annotations

import mmap
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from fleetsim.record import (
    EVENT_COLUMNS,
    EVENT_KINDS,
    LEG_COLUMNS,
    LEG_KINDS,
    CodedColumn,
    Table,
)

LEG_KIND_CODE = {k: i for i, k in enumerate(LEG_KINDS)}
EVENT_KIND_CODE = {k: i for i, k in enumerate(EVENT_KINDS)}

# Columns of a leg row.
L_VEHICLE, L_KIND, L_SENSING, L_T0, L_T1, L_X0, L_Y0, L_Z0, L_X1, L_Y1, L_Z1, L_E, L_B = range(13)
LEG_WIDTH = 13
# Columns of an event row.
(E_TIME, E_KIND, E_VEHICLE, E_LEG, E_TARGET, E_ZONE, E_X, E_Y, E_Z, E_VALUE, E_OPERATOR,
 E_DETAIL) = range(12)
EVENT_WIDTH = 12

NAN = float("nan")

#: Rows of the event log's append buffer; a full buffer is sealed into typed columns.
EVENT_CHUNK = 1 << 16
#: Types of the event log's sealed columns (in ``E_*`` order): times, positions and
#: values float64 as recorded, the rest small integers (kind: a code of EVENT_KINDS).
EVENT_DTYPES = (np.float64, np.uint8, np.int32, np.int32, np.int32, np.int32, np.float64,
                np.float64, np.float64, np.float64, np.int32, np.int32)
assert len(EVENT_KINDS) <= 256


#: Flags of the anonymous maps (private: such a map can be grown in place, see
#: :func:`mapped_grown`).
_MAP_FLAGS = {"flags": mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS} \
    if hasattr(mmap, "MAP_PRIVATE") and hasattr(mmap, "MAP_ANONYMOUS") else {}


def mapped_empty(n: int, dtype) -> np.ndarray:
    """An uninitialised array of ``n`` items in a memory map of its own: its pages are
    taken when first written, and all given back to the system when it is freed
    (memory from ``malloc`` may stay with the process as holes in its heap)."""
    dt = np.dtype(dtype)
    return np.frombuffer(mmap.mmap(-1, max(n * dt.itemsize, 1), **_MAP_FLAGS), dtype=dt,
                         count=n)


def mapped_grown(arrays: list, c: int, used: int, n: int) -> None:
    """Grow ``arrays[c]`` to ``n`` items, its first ``used`` kept. If it was made by
    :func:`mapped_empty`, the system can (``mremap``) and nothing else holds a view of
    it, its map is grown in place: the pages are moved, not copied, and only the new
    ones are taken when written; else it is copied into a new map."""
    old = arrays[c]
    dt = old.dtype
    view = old.base  # (np.frombuffer's: a memoryview of the map)
    m = view.obj if isinstance(view, memoryview) else view
    if isinstance(m, mmap.mmap) and _MAP_FLAGS:
        # The map cannot be resized while a view of it exists: drop ours.
        arrays[c] = old = view = None
        try:
            m.resize(max(n * dt.itemsize, 1))
            arrays[c] = np.frombuffer(m, dtype=dt, count=n)
            return
        except (BufferError, OSError, SystemError, ValueError):
            old = np.frombuffer(m, dtype=dt, count=used)  # not here: copy it
    grown = mapped_empty(n, dt)
    grown[:used] = old[:used]
    arrays[c] = grown


@njit(cache=True)
def events_kept(time, leg, keep, t1):
    """Which events stay in the run's record: those of no leg (``leg`` -1), and those
    of a leg kept (``keep[leg]``) up to its end (``time <= t1[leg] + 1e-9``: a leg cut
    short drops the events it had planned after the cut)."""
    ok = np.ones(len(leg), dtype=np.bool_)
    for i in range(len(leg)):
        li = leg[i]
        if li >= 0:
            ok[i] = keep[li] and time[i] <= t1[li] + 1e-9
    return ok


def time_order(time: np.ndarray) -> np.ndarray:
    """The indexes that sort ``time`` (float64), equal times in index order: what
    ``np.argsort(time, kind="stable")`` gives, in less time. The times are sorted by
    the quicker unstable sort, then each index is ranked by its time's place among the
    distinct times and by itself, as one unique integer (rank * n + index), which an
    unstable sort orders as a stable one would."""
    n = len(time)
    if n > 1 << 31:  # (rank * n + index would not fit in 63 bits)
        return np.argsort(time, kind="stable")
    order = np.argsort(time)
    ts = time[order]
    if n and ts[-1] != ts[-1]:  # NaNs (sorted last): they are not equal to themselves
        return np.argsort(time, kind="stable")
    new = ts[1:] != ts[:-1]  # (where a time differs from the one before)
    del ts
    if new.all():
        return order
    rank = np.empty(n, dtype=np.int64)
    rank[0] = 0
    np.cumsum(new, out=rank[1:])
    del new
    rank *= n
    rank += order
    del order
    rank.sort()
    rank %= n
    return rank


class _Table:
    """A float64 matrix of ``width`` columns whose rows are appended."""

    def __init__(self, width: int, capacity: int = 4096) -> None:
        self.a = np.empty((capacity, width))
        self.n = 0

    def __len__(self) -> int:
        return self.n

    def reserve(self, m: int) -> None:
        """Make room for ``m`` more rows (``self.a`` may be replaced: re-read it).

        The matrix is grown in place by a quarter when nothing else holds a view of it
        (``ndarray.resize``: the allocator moves pages rather than copying them, so
        the old and the new matrix are never both in memory, and the new rows are
        zeros); else, as when a caller still holds ``self.a``, into a copy twice as
        large (the caller's view stays valid and unchanged)."""
        need = self.n + m
        if need > len(self.a):
            width = self.a.shape[1]
            try:
                self.a.resize((max(len(self.a) + len(self.a) // 4, need), width))
                return
            except ValueError:  # referenced elsewhere: copy
                pass
            grown = np.empty((max(2 * len(self.a), need), width))
            grown[:self.n] = self.a[:self.n]
            self.a = grown

    def append(self, row) -> int:
        """Append one row (a sequence of numbers); returns its index."""
        if self.n == len(self.a):
            self.reserve(1)
        i = self.n
        self.a[i] = row
        self.n = i + 1
        return i

    def extend(self, rows: np.ndarray) -> int:
        """Append the rows of an (m, width) array; returns the index of the first."""
        m = len(rows)
        self.reserve(m)
        i = self.n
        self.a[i:i + m] = rows
        self.n = i + m
        return i


class LegStore(_Table):
    """Legs, one row each (see the ``L_*`` column indexes)."""

    def __init__(self) -> None:
        super().__init__(LEG_WIDTH)

    def release(self) -> None:
        """Drop every row and the memory they held (the run's record has them)."""
        self.a = np.empty((0, LEG_WIDTH))
        self.n = 0

    def take_columns(self, keep: np.ndarray | None = None, chunk: int = 1 << 15) -> Table:
        """All rows (or those where ``keep``, renumbered 0..k-1 in the ``leg`` column) as
        typed columns, like :meth:`columns`, and the store left empty: the columns are
        allocated whole (their pages are taken as they are written) and filled a chunk
        at a time from the end while the matrix is shrunk behind them, so the matrix
        and the columns are never both whole in memory. (A chunk of the matrix, 3 MB,
        stays in the processor's cache while its thirteen columns are read out of it:
        3 x quicker than chunks that do not.)"""
        n = self.n
        if n == 0 or (keep is not None and not keep.any()):
            self.release()
            return {name: np.zeros(0, dtype=dt) for name, dt in LEG_COLUMNS.items()}
        # Where each chunk's rows go in the columns.
        ends = None if keep is None else np.cumsum(keep)
        k = n if ends is None else int(ends[-1])
        out: Table = {name: np.empty(k, dtype=np.uint8 if name == "kind" else dt)
                      for name, dt in LEG_COLUMNS.items() if name != "leg"}
        hi = n
        while hi > 0:
            lo = max(0, hi - chunk)
            if keep is None:
                part, a, b = self.columns(lo, hi, raw=True), lo, hi
            else:
                a = int(ends[lo - 1]) if lo else 0
                b = int(ends[hi - 1])
                part = self.columns(lo, hi, rows=np.flatnonzero(keep[lo:hi]), raw=True)
            for name, col in out.items():
                col[a:b] = part[name]
            del part
            self.n = lo
            try:
                self.a.resize((max(lo, 1), self.a.shape[1]))
            except ValueError:  # referenced elsewhere: it is freed with the last view
                pass
            hi = lo
        self.release()
        out["leg"] = np.arange(k, dtype=np.int64)
        out["kind"] = CodedColumn(out["kind"], LEG_KINDS)
        return {name: out[name] for name in LEG_COLUMNS}

    def columns(self, start: int = 0, stop: int | None = None,
                rows: np.ndarray | None = None, raw: bool = False) -> Table:
        """Rows ``start:stop`` as typed columns (copies; leg ids included); with
        ``rows`` (indexes, renumbered 0..k-1 in the ``leg`` column) only those. The
        ``kind`` column is a :class:`~fleetsim.record.CodedColumn` (``raw``: its
        codes, uint8), and ``kind_code`` has the codes too."""
        stop = self.n if stop is None else min(stop, self.n)
        arr = self.a[start:stop]
        first = start
        if rows is not None:
            first = 0
            arr = arr.take(rows, axis=0)  # (whole rows at once: quicker than per column)

        def col(c: int) -> np.ndarray:
            return arr[:, c].copy()
        n = len(arr)
        if n == 0:
            out = {name: np.zeros(0, dtype=dt) for name, dt in LEG_COLUMNS.items()}
            out["kind_code"] = np.zeros(0, dtype=np.uint8)
            out["kind"] = out["kind_code"] if raw else CodedColumn(out["kind_code"], LEG_KINDS)
            return out
        kind_code = col(L_KIND).astype(np.uint8)
        return {
            "leg": np.arange(first, first + n, dtype=np.int64),
            "vehicle": col(L_VEHICLE).astype(np.int32),
            "kind": kind_code if raw else CodedColumn(kind_code, LEG_KINDS),
            "kind_code": kind_code,
            "sensing": col(L_SENSING).astype(bool),
            "t0_s": col(L_T0), "t1_s": col(L_T1),
            "x0_m": col(L_X0), "y0_m": col(L_Y0), "z0_m": col(L_Z0),
            "x1_m": col(L_X1), "y1_m": col(L_Y1), "z1_m": col(L_Z1),
            "energy_wh": col(L_E), "battery_end_wh": col(L_B),
        }


class EventLog:
    """Events, one row each: time, kind code, vehicle, leg, target, zone, x, y, z, value,
    operator, detail code (an index into :attr:`details`, -1 for none).

    Rows are appended to a float64 buffer of :data:`EVENT_CHUNK` rows; a full buffer is
    sealed into compact typed columns (:data:`EVENT_DTYPES`: times and positions stay
    float64, codes and indexes become small integers), so a long run holds about 69
    bytes per event instead of 96. Each sealed column is one array in a memory map of
    its own, doubled when full (in place where the system can: :func:`mapped_grown`),
    so a long run's log is a few large blocks that go back to the system whole when
    they are freed, not thousands of small ones that stay with the process. Events
    are never changed once appended.
    """

    def __init__(self) -> None:
        self.a = np.empty((EVENT_CHUNK, EVENT_WIDTH))  # the buffer (rows 0:self.h)
        self.h = 0
        #: The sealed rows: one array per column (rows 0:self.n_sealed are events).
        self.sealed: list[np.ndarray] = [np.empty(0, dtype=dt) for dt in EVENT_DTYPES]
        self.n_sealed = 0
        self.details: list[str] = []
        self._detail_code: dict[str, int] = {}

    @property
    def n(self) -> int:
        """Number of events appended."""
        return self.n_sealed + self.h

    def __len__(self) -> int:
        return self.n

    def detail_code(self, text: str | None) -> int:
        if not text:
            return -1
        code = self._detail_code.get(text)
        if code is None:
            code = self._detail_code[text] = len(self.details)
            self.details.append(text)
        return code

    def _seal(self, rows: np.ndarray) -> None:
        """Append full rows (k, width) to the sealed columns."""
        lo = self.n_sealed
        hi = lo + len(rows)
        if hi > len(self.sealed[0]):
            # Doubled a column at a time (where it must be copied, one column is copied
            # at once); rows not yet written take no memory, old maps go back whole.
            size = max(hi, 2 * len(self.sealed[0]), EVENT_CHUNK)
            for c in range(EVENT_WIDTH):
                mapped_grown(self.sealed, c, lo, size)  # (the first time: new maps)
        for c, col in enumerate(self.sealed):
            col[lo:hi] = rows[:, c]  # (cast as astype would)
        self.n_sealed = hi

    def append(self, row) -> int:
        """Append one row (a sequence of numbers); returns its index."""
        h = self.h
        self.a[h] = row
        if h + 1 < EVENT_CHUNK:
            self.h = h + 1
            return self.n_sealed + h
        self._seal(self.a)
        self.h = 0
        return self.n_sealed - 1

    def add(self, time_s: float, kind: str, vehicle: int = -1, leg: int = -1, target: int = -1,
            zone: int = -1, x: float = NAN, y: float = NAN, z: float = NAN,
            value: float = NAN, operator: int = -1, detail: str | None = None) -> None:
        self.append((time_s, EVENT_KIND_CODE[kind], vehicle, leg, target, zone, x, y, z, value,
                     operator, self.detail_code(detail)))

    def extend(self, rows: np.ndarray) -> int:
        """Append the rows of an (m, width) array; returns the index of the first."""
        first = self.n
        i, m = 0, len(rows)
        while i < m:
            k = min(m - i, EVENT_CHUNK - self.h)
            if self.h == 0 and k == EVENT_CHUNK:
                self._seal(rows[i:i + k])
            else:
                self.a[self.h:self.h + k] = rows[i:i + k]
                self.h += k
                if self.h == EVENT_CHUNK:
                    self._seal(self.a)
                    self.h = 0
            i += k
        return first

    def rows(self, idx: np.ndarray) -> np.ndarray:
        """The rows ``idx`` (event indexes) as a float64 (k, width) array."""
        idx = np.asarray(idx, dtype=np.int64)
        out = np.empty((len(idx), EVENT_WIDTH))
        hot = idx >= self.n_sealed
        out[hot] = self.a[idx[hot] - self.n_sealed]
        if not hot.all():
            cold = np.flatnonzero(~hot)
            at = idx[cold]
            for c in range(EVENT_WIDTH):
                out[cold, c] = self.sealed[c][at]
        return out

    def columns(self, keep=None, leg_id=None) -> Table:
        """All events, ordered by time and then by the order they were recorded; the
        log is left empty (this ends the run's record).

        ``keep(time_s, leg)`` (arrays of all events, in recording order) may drop events
        (a bool mask); ``leg_id`` (int64 array) renumbers the ``leg`` column. Built one
        column at a time (two at once, in two threads), each of the log's columns freed
        once its table column is made, so the log and the table are never both whole
        in memory. ``kind`` and ``detail`` are :class:`~fleetsim.record.CodedColumn` s."""
        if self.n == 0:
            out = {name: np.zeros(0, dtype=dt) for name, dt in EVENT_COLUMNS.items()}
            out["kind"] = CodedColumn(np.zeros(0, dtype=np.uint8), EVENT_KINDS)
            out["detail"] = CodedColumn(np.zeros(0, dtype=np.uint8), ("",))
            return out
        if self.h:
            self._seal(self.a[:self.h])
            self.h = 0
            self.a = np.empty((EVENT_CHUNK, EVENT_WIDTH))
        n = self.n_sealed
        cols = self.sealed
        self.sealed = [np.empty(0, dtype=dt) for dt in EVENT_DTYPES]
        self.n_sealed = 0

        def whole(c: int) -> np.ndarray:
            col = cols[c][:n]
            cols[c] = None
            return col

        time = whole(E_TIME)
        leg = whole(E_LEG)
        mask = None if keep is None else keep(time, leg)
        if mask is None or mask.all():
            order = time_order(time)
        else:
            order = np.flatnonzero(mask)
            order = order[time_order(time[order])]
        del mask
        out: Table = {"time_s": np.take(time, order)}
        del time
        leg = np.take(leg, order).astype(np.int64)
        out["leg"] = leg if leg_id is None else np.where(leg >= 0, leg_id[np.maximum(leg, 0)], -1)
        del leg
        details = ("", *self.details)

        def gather(name: str, c: int) -> None:
            col = np.take(whole(c), order)
            if name == "kind":
                col = CodedColumn(col, EVENT_KINDS)
            elif name == "detail":
                col += 1  # -1 (none) is "", code k is details[k]
                col = CodedColumn(col.astype(CodedColumn.code_dtype(len(details))), details)
            out[name] = col

        # Two columns at a time (np.take lets go of the interpreter).
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(gather, *zip(
                ("kind", E_KIND), ("vehicle", E_VEHICLE), ("target", E_TARGET),
                ("zone", E_ZONE), ("x_m", E_X), ("y_m", E_Y), ("z_m", E_Z),
                ("value", E_VALUE), ("operator", E_OPERATOR), ("detail", E_DETAIL),
                strict=True)))
        return {name: out[name] for name in EVENT_COLUMNS}

# Leg kind codes, as the engine writes them.
K_GROUND = LEG_KIND_CODE["ground"]
K_TAKEOFF = LEG_KIND_CODE["takeoff"]
K_MOVE = LEG_KIND_CODE["move"]
K_HOLD = LEG_KIND_CODE["hold"]
K_RETURN = LEG_KIND_CODE["return"]
K_LAND = LEG_KIND_CODE["land"]
K_WAIT = LEG_KIND_CODE["wait_pad"]
K_CHARGE = LEG_KIND_CODE["charge"]
K_WAIT_LOAD = LEG_KIND_CODE["wait_load"]
K_LOAD = LEG_KIND_CODE["load"]
K_UNLOAD = LEG_KIND_CODE["unload"]
K_DOCKED = LEG_KIND_CODE["docked"]

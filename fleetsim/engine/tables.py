"""Recording of legs and events during a run: growable numpy tables.

Both tables are float64 matrices, one row per leg or event, grown by doubling.
Rows are appended one at a time or, for whole route blocks, many at once; a
leg's row stays writable because a leg can be cut while it is being flown. The
typed columns of :mod:`fleetsim.record` are slices of these matrices, so the
monitor and the end of the run read them without converting anything.
"""

from __future__ import annotations

import numpy as np

from fleetsim.record import EVENT_COLUMNS, EVENT_KINDS, LEG_COLUMNS, LEG_KINDS, Table

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


class _Table:
    """A float64 matrix of ``width`` columns whose rows are appended."""

    def __init__(self, width: int, capacity: int = 4096) -> None:
        self.a = np.empty((capacity, width))
        self.n = 0

    def __len__(self) -> int:
        return self.n

    def reserve(self, m: int) -> None:
        """Make room for ``m`` more rows (``self.a`` may be replaced: re-read it)."""
        need = self.n + m
        if need > len(self.a):
            grown = np.empty((max(2 * len(self.a), need), self.a.shape[1]))
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

    def columns(self, start: int = 0, stop: int | None = None) -> Table:
        """Rows ``start:stop`` as typed columns (copies; leg ids included)."""
        stop = self.n if stop is None else min(stop, self.n)
        arr = self.a[start:stop]
        n = len(arr)
        if n == 0:
            out = {name: np.zeros(0, dtype=dt) for name, dt in LEG_COLUMNS.items()}
            out["kind_code"] = np.zeros(0, dtype=np.int8)
            return out
        kind_code = arr[:, L_KIND].astype(np.int8)
        return {
            "leg": np.arange(start, start + n, dtype=np.int64),
            "vehicle": arr[:, L_VEHICLE].astype(np.int32),
            "kind": np.asarray(LEG_KINDS, dtype=object)[kind_code],
            "kind_code": kind_code,
            "sensing": arr[:, L_SENSING].astype(bool),
            "t0_s": arr[:, L_T0].copy(), "t1_s": arr[:, L_T1].copy(),
            "x0_m": arr[:, L_X0].copy(), "y0_m": arr[:, L_Y0].copy(),
            "z0_m": arr[:, L_Z0].copy(), "x1_m": arr[:, L_X1].copy(),
            "y1_m": arr[:, L_Y1].copy(), "z1_m": arr[:, L_Z1].copy(),
            "energy_wh": arr[:, L_E].copy(), "battery_end_wh": arr[:, L_B].copy(),
        }


class EventLog(_Table):
    """Events, one row each: time, kind code, vehicle, leg, target, zone, x, y, z, value,
    operator, detail code (an index into :attr:`details`, -1 for none)."""

    def __init__(self) -> None:
        super().__init__(EVENT_WIDTH)
        self.details: list[str] = []
        self._detail_code: dict[str, int] = {}

    def detail_code(self, text: str | None) -> int:
        if not text:
            return -1
        code = self._detail_code.get(text)
        if code is None:
            code = self._detail_code[text] = len(self.details)
            self.details.append(text)
        return code

    def add(self, time_s: float, kind: str, vehicle: int = -1, leg: int = -1, target: int = -1,
            zone: int = -1, x: float = NAN, y: float = NAN, z: float = NAN,
            value: float = NAN, operator: int = -1, detail: str | None = None) -> None:
        self.append((time_s, EVENT_KIND_CODE[kind], vehicle, leg, target, zone, x, y, z, value,
                     operator, self.detail_code(detail)))

    def columns(self) -> Table:
        """All events, ordered by time and then by the order they were recorded."""
        if self.n == 0:
            return {name: np.zeros(0, dtype=dt) for name, dt in EVENT_COLUMNS.items()}
        arr = self.a[:self.n]
        order = np.argsort(arr[:, E_TIME], kind="stable")
        arr = arr[order]
        code = arr[:, E_KIND].astype(np.int16)
        return {
            "time_s": arr[:, E_TIME],
            "kind": np.asarray(EVENT_KINDS, dtype=object)[code],
            "vehicle": arr[:, E_VEHICLE].astype(np.int32),
            "leg": arr[:, E_LEG].astype(np.int64),
            "target": arr[:, E_TARGET].astype(np.int32),
            "zone": arr[:, E_ZONE].astype(np.int32),
            "x_m": arr[:, E_X], "y_m": arr[:, E_Y], "z_m": arr[:, E_Z],
            "value": arr[:, E_VALUE],
            "operator": arr[:, E_OPERATOR].astype(np.int32),
            "detail": np.asarray([""] + self.details, dtype=object)[
                arr[:, E_DETAIL].astype(np.int64) + 1],
        }

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

"""Append-only recording of legs and events during a run, columnar at the end.

Rows are appended as Python lists/tuples (the cheapest thing per event) and
turned into the typed columns of :mod:`fleetsim.record` once, in batches.
"""

from __future__ import annotations

from itertools import chain

import numpy as np

from fleetsim.record import EVENT_COLUMNS, EVENT_KINDS, LEG_COLUMNS, LEG_KINDS, Table

LEG_KIND_CODE = {k: i for i, k in enumerate(LEG_KINDS)}
EVENT_KIND_CODE = {k: i for i, k in enumerate(EVENT_KINDS)}

# Indexes into a leg row.
L_VEHICLE, L_KIND, L_SENSING, L_T0, L_T1, L_X0, L_Y0, L_Z0, L_X1, L_Y1, L_Z1, L_E, L_B = range(13)

NAN = float("nan")


class LegStore:
    """Legs as mutable rows (a leg can be cut while it is being flown)."""

    def __init__(self) -> None:
        self.rows: list[list] = []

    def __len__(self) -> int:
        return len(self.rows)

    def columns(self, start: int = 0, stop: int | None = None) -> Table:
        """Rows ``start:stop`` as typed columns (leg ids included)."""
        rows = self.rows[start:stop]
        n = len(rows)
        if n == 0:
            out = {name: np.zeros(0, dtype=dt) for name, dt in LEG_COLUMNS.items()}
            out["kind_code"] = np.zeros(0, dtype=np.int8)
            return out
        arr = np.fromiter(chain.from_iterable(rows), dtype=np.float64,
                          count=n * 13).reshape(n, 13)
        kind_code = arr[:, L_KIND].astype(np.int8)
        return {
            "leg": np.arange(start, start + n, dtype=np.int64),
            "vehicle": arr[:, L_VEHICLE].astype(np.int32),
            "kind": np.asarray(LEG_KINDS, dtype=object)[kind_code],
            "kind_code": kind_code,
            "sensing": arr[:, L_SENSING].astype(bool),
            "t0_s": arr[:, L_T0], "t1_s": arr[:, L_T1],
            "x0_m": arr[:, L_X0], "y0_m": arr[:, L_Y0], "z0_m": arr[:, L_Z0],
            "x1_m": arr[:, L_X1], "y1_m": arr[:, L_Y1], "z1_m": arr[:, L_Z1],
            "energy_wh": arr[:, L_E], "battery_end_wh": arr[:, L_B],
        }


class EventLog:
    """Events as tuples ``(time_s, kind_code, vehicle, leg, target, zone, x, y, z, value)``."""

    def __init__(self) -> None:
        self.rows: list[tuple] = []

    def add(self, time_s: float, kind: str, vehicle: int = -1, leg: int = -1, target: int = -1,
            zone: int = -1, x: float = NAN, y: float = NAN, z: float = NAN,
            value: float = NAN) -> None:
        self.rows.append((time_s, EVENT_KIND_CODE[kind], vehicle, leg, target, zone, x, y, z,
                          value))

    def __len__(self) -> int:
        return len(self.rows)

    def columns(self) -> Table:
        """All events, ordered by time and then by the order they were recorded."""
        if not self.rows:
            return {name: np.zeros(0, dtype=dt) for name, dt in EVENT_COLUMNS.items()}
        n = len(self.rows)
        arr = np.fromiter(chain.from_iterable(self.rows), dtype=np.float64,
                          count=n * 10).reshape(n, 10)
        order = np.argsort(arr[:, 0], kind="stable")
        arr = arr[order]
        code = arr[:, 1].astype(np.int16)
        return {
            "time_s": arr[:, 0],
            "kind": np.asarray(EVENT_KINDS, dtype=object)[code],
            "vehicle": arr[:, 2].astype(np.int32),
            "leg": arr[:, 3].astype(np.int64),
            "target": arr[:, 4].astype(np.int32),
            "zone": arr[:, 5].astype(np.int32),
            "x_m": arr[:, 6], "y_m": arr[:, 7], "z_m": arr[:, 8], "value": arr[:, 9],
        }

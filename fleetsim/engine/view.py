"""The read-only view of the fleet that the engine hands to policies."""

from __future__ import annotations

from bisect import bisect_right
from typing import TYPE_CHECKING

import numpy as np

from fleetsim.engine.log import L_B, L_E, L_T0, L_T1, L_X0, L_X1, L_Y0, L_Y1, L_Z0, L_Z1
from fleetsim.engine.states import STATES

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.engine.sim import Simulation

_INF = float("inf")


def _ro(a) -> np.ndarray:
    a = np.array(a)
    a.setflags(write=False)
    return a


class EngineFleetView:
    """Implements :class:`fleetsim.policy.FleetView` over a running simulation."""

    def __init__(self, sim: Simulation) -> None:
        self._sim = sim
        self._states = np.array(STATES, dtype=object)
        self.now_s = 0.0
        self.n_vehicles = sim.n
        self.type_index = _ro(np.asarray(sim.type_index, dtype=np.int32))
        self.home_xy = _ro(sim.home_xy_arr)
        self.speed_mps = _ro(np.asarray(sim.speed, dtype=np.float64))
        self.footprint_radius_m = _ro(np.asarray(sim.radius, dtype=np.float64))
        self.battery_capacity_wh = _ro(np.asarray(sim.capacity, dtype=np.float64))
        self.reserve_wh = _ro(np.asarray(sim.reserve, dtype=np.float64))

    def _index(self, vehicles) -> np.ndarray:
        if vehicles is None:
            return np.arange(self._sim.n)
        idx = np.asarray(vehicles, dtype=np.int64).reshape(-1)
        if len(idx) and (idx.min() < 0 or idx.max() >= self._sim.n):
            raise IndexError(f"vehicle index out of range 0..{self._sim.n - 1}")
        return idx

    def _rows(self, idx: np.ndarray) -> list[list | None]:
        """The leg row each vehicle is on at ``now_s`` (as a list of 13 numbers)."""
        s, now = self._sim, self.now_s
        a = s.legs.a
        out = []
        for v in idx.tolist():
            t0s = s.blk_t0[v]
            out.append(a[s.blk_ids[v][max(0, bisect_right(t0s, now) - 1)]].tolist()
                       if t0s else None)
        return out

    def positions(self, vehicles=None) -> np.ndarray:
        s, now = self._sim, self.now_s
        idx = self._index(vehicles)
        out = np.empty((len(idx), 3))
        for k, (v, row) in enumerate(zip(idx.tolist(), self._rows(idx), strict=True)):
            if row is None:
                out[k] = (s.px[v], s.py[v], s.pz[v])
                continue
            t0, t1 = row[L_T0], row[L_T1]
            f = 0.0 if t1 == _INF or t1 <= t0 else min(1.0, max(0.0, (now - t0) / (t1 - t0)))
            out[k] = (row[L_X0] + f * (row[L_X1] - row[L_X0]),
                      row[L_Y0] + f * (row[L_Y1] - row[L_Y0]),
                      row[L_Z0] + f * (row[L_Z1] - row[L_Z0]))
        return _ro(out)

    def battery_wh(self, vehicles=None) -> np.ndarray:
        s, now = self._sim, self.now_s
        idx = self._index(vehicles)
        out = np.empty(len(idx))
        for k, (v, row) in enumerate(zip(idx.tolist(), self._rows(idx), strict=True)):
            if row is None:
                out[k] = s.battery[v]
                continue
            t0, t1 = row[L_T0], row[L_T1]
            start = row[L_B] + row[L_E]
            if t1 == _INF or t1 <= t0:
                out[k] = start
            else:
                f = min(1.0, max(0.0, (now - t0) / (t1 - t0)))
                out[k] = start - f * row[L_E]
        return _ro(np.maximum(out, 0.0))

    def states(self, vehicles=None) -> np.ndarray:
        idx = self._index(vehicles)
        return _ro(self._states[np.asarray(self._sim.state, dtype=np.int64)[idx]])

    def plan_end(self, vehicles=None) -> tuple[np.ndarray, np.ndarray]:
        s = self._sim
        idx = self._index(vehicles)
        xy = np.asarray(s.end_xy, dtype=np.float64).reshape(-1, 2)[idx]
        t = np.maximum(np.asarray(s.end_t, dtype=np.float64)[idx], self.now_s)
        idle = np.asarray(s.waiting, dtype=bool)[idx]
        if idle.any():
            pos = self.positions(idx[idle])
            xy[idle] = pos[:, :2]
            t[idle] = self.now_s
        return _ro(xy), _ro(t)

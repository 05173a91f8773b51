"""The read-only view of the fleet that the engine hands to policies."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fleetsim.engine.states import STATES

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.engine.sim import Simulation

_SMALL = 64  # below this many vehicles, a Python loop beats converting whole lists


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

    def positions(self, vehicles=None) -> np.ndarray:
        s, now = self._sim, self.now_s
        idx = self._index(vehicles)
        if len(idx) <= _SMALL:
            out = np.empty((len(idx), 3))
            for k, v in enumerate(idx.tolist()):
                t0, t1 = s.lt0[v], s.lt1[v]
                f = 0.0 if t1 == float("inf") or t1 <= t0 else min(1.0, (now - t0) / (t1 - t0))
                out[k] = (s.lx0[v] + f * (s.lx1[v] - s.lx0[v]),
                          s.ly0[v] + f * (s.ly1[v] - s.ly0[v]),
                          s.lz0[v] + f * (s.lz1[v] - s.lz0[v]))
            return _ro(out)
        t0 = np.asarray(s.lt0)[idx]
        t1 = np.asarray(s.lt1)[idx]
        span = t1 - t0
        with np.errstate(invalid="ignore", divide="ignore"):
            f = np.where(np.isfinite(t1) & (span > 0), (now - t0) / span, 0.0)
        f = np.clip(f, 0.0, 1.0)[:, None]
        p0 = np.column_stack([np.asarray(s.lx0)[idx], np.asarray(s.ly0)[idx],
                              np.asarray(s.lz0)[idx]])
        p1 = np.column_stack([np.asarray(s.lx1)[idx], np.asarray(s.ly1)[idx],
                              np.asarray(s.lz1)[idx]])
        return _ro(p0 + f * (p1 - p0))

    def battery_wh(self, vehicles=None) -> np.ndarray:
        s, now = self._sim, self.now_s
        idx = self._index(vehicles)
        b = np.asarray(s.battery, dtype=np.float64)[idx]
        t0 = np.asarray(s.lt0)[idx]
        t1 = np.asarray(s.lt1)[idx]
        used = np.asarray(s.lpow)[idx] * (np.minimum(now, t1) - t0)
        return _ro(np.maximum(b - used, 0.0))

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

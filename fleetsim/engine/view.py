"""The read-only view of the fleet that the engine hands to policies."""

from __future__ import annotations

from bisect import bisect_right
from itertools import chain
from typing import TYPE_CHECKING

import numpy as np

from fleetsim.engine.logistics import NoOrders
from fleetsim.engine.states import STATES
from fleetsim.engine.tables import L_B, L_E, L_T0, L_T1, L_X0, L_X1

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.engine.api import EngineAPI

_INF = float("inf")


def _ro(a) -> np.ndarray:
    a = np.array(a)
    a.setflags(write=False)
    return a


def _frozen(a: np.ndarray) -> np.ndarray:
    """``a`` made read-only in place: :func:`_ro` for an array made for the caller
    (shared with nothing), without the copy."""
    a.setflags(write=False)
    return a


_NO_ORDERS = NoOrders()


def _pick(values: list, idx: np.ndarray, dtype) -> np.ndarray:
    """``np.asarray(values, dtype)[idx]``, from the list itself when ``idx`` is a few
    of many (a decision about one vehicle then costs nothing per vehicle of the fleet)."""
    if 8 * len(idx) < len(values):
        return np.array([values[i] for i in idx.tolist()], dtype=dtype)
    if dtype is np.float64:  # (numbers read one by one: faster than asarray's checks)
        return np.fromiter(values, np.float64, len(values))[idx]
    return np.asarray(values, dtype=dtype)[idx]


def _pick_pairs(values: list, idx: np.ndarray) -> np.ndarray:
    """``np.asarray(values, np.float64)[idx]`` for a list of (x, y) pairs: (len(idx), 2)."""
    if 8 * len(idx) < len(values):
        return np.array([values[i] for i in idx.tolist()], dtype=np.float64).reshape(-1, 2)
    flat = np.fromiter(chain.from_iterable(values), np.float64, 2 * len(values))
    return flat.reshape(-1, 2)[idx]


class EngineFleetView:
    """Implements :class:`fleetsim.policy.FleetView` over a running simulation."""

    def __init__(self, sim: EngineAPI) -> None:
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
        self.domain = _ro(np.asarray(sim.domain, dtype=object))
        self.payload_kg = _ro(np.asarray(sim.payload, dtype=np.float64))
        self.carrier = _ro(np.asarray(sim.carrier_of, dtype=np.int64))
        self._air = np.asarray(sim.is_air, dtype=bool)
        self._any_docked = any(c >= 0 for c in sim.carrier_of)

    @property
    def orders(self):
        """The orders (:class:`fleetsim.engine.logistics.OrderView`; an empty one without
        logistics)."""
        lg = self._sim.logistics
        return _NO_ORDERS if lg is None else lg.view

    def idle(self) -> np.ndarray:
        s = self._sim
        return np.flatnonzero(np.asarray(s.waiting, dtype=bool) | np.asarray(s.asking,
                                                                             dtype=bool))

    def load_kg(self, vehicles=None) -> np.ndarray:
        idx = self._index(vehicles)
        lg = self._sim.logistics
        if lg is None:
            return _ro(np.zeros(len(idx)))
        return _ro(np.asarray(lg.load_kg, dtype=np.float64)[idx])

    def docked(self, vehicles=None) -> np.ndarray:
        idx = self._index(vehicles)
        return _ro(_pick(self._sim.docked, idx, bool))

    def travel_time_s(self, vehicles, from_xy, to_xy) -> np.ndarray:
        s = self._sim
        idx = self._index(vehicles)
        a = np.broadcast_to(np.asarray(from_xy, dtype=np.float64), (len(idx), 2))
        b = np.broadcast_to(np.asarray(to_xy, dtype=np.float64), (len(idx), 2))
        out = s.motion.straight_times(idx, np.hypot(*(b - a).T))
        lg = s.logistics
        surface = ~self._air[idx]
        if lg is not None and surface.any():
            for k in np.flatnonzero(surface).tolist():
                v = int(idx[k])
                domain = s.domain[v]
                net = lg.networks[domain]
                na, da = net.nearest_node(*a[k])
                nb, db = net.nearest_node(*b[k])
                if db > net.reach_m:  # off its network: it cannot get there
                    out[k] = np.inf
                    continue
                times = net.travel_times_from(nb, s.speed[v])
                out[k] = float(times[na]) + s.motion.straight_time(v, da + db)
        return _ro(out)

    def _index(self, vehicles) -> np.ndarray:
        if vehicles is None:
            return np.arange(self._sim.n)
        idx = np.asarray(vehicles, dtype=np.int64).reshape(-1)
        if len(idx) <= 8:  # (a few: Python's min and max, without numpy's per-call cost)
            few = idx.tolist()
            if few and (min(few) < 0 or max(few) >= self._sim.n):
                raise IndexError(f"vehicle index out of range 0..{self._sim.n - 1}")
        elif len(idx) and (idx.min() < 0 or idx.max() >= self._sim.n):
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

    def _still(self, idx: np.ndarray) -> np.ndarray:
        """Which of ``idx`` are waiting for a plan, not docked: their current leg is the
        last one opened (a hold or a parked leg, or the leg that just ended)."""
        s = self._sim
        still = _pick(s.waiting, idx, bool) | _pick(s.asking, idx, bool)
        if self._any_docked:
            still &= ~_pick(s.docked, idx, bool)
        return still & (_pick(s.cur_leg, idx, np.int64) >= 0)

    def _fast_rows(self, idx: np.ndarray):
        """(rows of vehicles ``idx`` waiting for a plan, mask) in one numpy pass."""
        still = self._still(idx)
        rows = self._sim.legs.a[_pick(self._sim.cur_leg, idx[still], np.int64)]
        return rows, still

    def positions(self, vehicles=None) -> np.ndarray:
        now = self.now_s
        idx = self._index(vehicles)
        out = np.empty((len(idx), 3))
        if len(idx) > 8:
            rows, still = self._fast_rows(idx)
            if still.any():
                t0, t1 = rows[:, L_T0], rows[:, L_T1]
                span = np.where(np.isfinite(t1) & (t1 > t0), t1 - t0, np.inf)
                f = np.clip((now - t0) / span, 0.0, 1.0)[:, None]
                out[still] = rows[:, L_X0:L_X0 + 3] + f * (rows[:, L_X1:L_X1 + 3]
                                                           - rows[:, L_X0:L_X0 + 3])
                rest = np.flatnonzero(~still)
                if len(rest):
                    out[rest] = self.positions(idx[rest])
                return _frozen(out)
        for k, v in enumerate(idx.tolist()):
            out[k] = self._position(v)
        return _frozen(out)

    def _position(self, v: int) -> tuple[float, float, float]:
        """Where vehicle ``v`` is now (riding on its carrier: where the carrier is)."""
        s = self._sim
        c = s.carrier_of[v] if self._any_docked and s.docked[v] else v
        return s.position_at(c, self.now_s)

    def battery_wh(self, vehicles=None) -> np.ndarray:
        s, now = self._sim, self.now_s
        idx = self._index(vehicles)
        out = np.empty(len(idx))
        if len(idx) > 8:
            rows, still = self._fast_rows(idx)
            if still.any():
                t0, t1 = rows[:, L_T0], rows[:, L_T1]
                span = np.where(np.isfinite(t1) & (t1 > t0), t1 - t0, np.inf)
                f = np.clip((now - t0) / span, 0.0, 1.0)
                out[still] = rows[:, L_B] + rows[:, L_E] - f * rows[:, L_E]
                rest = np.flatnonzero(~still)
                if len(rest):
                    out[rest] = self.battery_wh(idx[rest])
                return _ro(np.maximum(out, 0.0))
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
        return _frozen(self._states[_pick(self._sim.state, idx, np.int64)])

    def plan_end(self, vehicles=None) -> tuple[np.ndarray, np.ndarray]:
        s = self._sim
        idx = self._index(vehicles)
        if len(idx) == 1:  # one vehicle (most decisions): the same, in Python numbers
            v = idx.item()
            if s.waiting[v]:
                xy, t = self._position(v)[:2], self.now_s
            else:
                xy, t = s.end_xy[v], float(s.end_t[v])
                t = t if t >= self.now_s else self.now_s  # (as np.maximum)
            return (_frozen(np.array([xy], dtype=np.float64)),
                    _frozen(np.array([t], dtype=np.float64)))
        xy = _pick_pairs(s.end_xy, idx)
        t = np.maximum(_pick(s.end_t, idx, np.float64), self.now_s)
        idle = _pick(s.waiting, idx, bool)
        if idle.any():
            pos = self.positions(idx[idle])
            xy[idle] = pos[:, :2]
            t[idle] = self.now_s
        return _frozen(xy), _frozen(t)

"""Radio link events, found in the monitor's window passes (a part of
:class:`~fleetsim.engine.monitor.Monitor`).

:class:`LinkEvents` finds when the legs of a batch lose and regain their link with
the ground stations (:mod:`fleetsim.comms`), directly or through airborne relays,
carrying each vehicle's link state from leg to leg, and answers whether a vehicle is
in link right now.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fleetsim.comms import (
    RELAY_MAX_GAP_S,
    grid_link_intervals,
    link_intervals,
    link_intervals_relayed,
    out_of_link,
    relay_legs,
    sample_start,
    station_in_sight,
)
from fleetsim.engine.states import CHARGING, DOWN, GROUND, QUEUED
from fleetsim.engine.tables import (
    L_KIND,
    L_T0,
    L_T1,
    L_VEHICLE,
    L_X0,
    L_X1,
    L_Y0,
    L_Y1,
    L_Z0,
    L_Z1,
    LEG_KIND_CODE,
)

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.engine.api import EngineAPI

AIRBORNE = np.array([LEG_KIND_CODE[k] for k in ("takeoff", "move", "hold", "return", "land")])
#: Whether each leg kind code (a byte) is an airborne one.
AIRBORNE_CODE = np.zeros(256, dtype=bool)
AIRBORNE_CODE[AIRBORNE] = True
_EPS = 1e-9


class LinkEvents:
    """Link lost / restored events of leg batches (uses the monitor's stations, event
    queue and ``_at``)."""

    def _init_links(self, sim: EngineAPI) -> None:
        """The link state of a new monitor (its ``stations`` and ``type_of`` set)."""
        vt = sim.scenario.vehicle_types
        #: Vehicles out of link at the end of their last processed leg.
        self.out_of_link: set[int] = set()
        # Airborne relays (see _links): relay range of each vehicle (NaN: none).
        relay_m = np.array([t.relay_range_m or np.nan for t in vt], dtype=np.float64)
        self.relay_range = relay_m[self.type_of] if len(self.type_of) else np.zeros(0)
        self._relayed = bool(self.stations) and bool(np.isfinite(self.relay_range).any())
        #: Legs whose link a relay's change of plan may still alter, by leg id.
        self._open: dict[int, _OpenLeg] = {}
        self._open_of: dict[int, list[int]] = {}  # vehicle -> its open legs, ascending
        self._open_ids = np.zeros(0, dtype=np.int64)
        self._open_veh = np.zeros(0, dtype=np.int64)
        self._open_box = np.zeros((0, 4))  # x min, y min, x max, y max
        self._open_direct = np.zeros(0, dtype=bool)  # in direct link throughout
        #: Relay legs in use: ids, and their end time and extent as last seen.
        self._relay_ids = np.zeros(0, dtype=np.int64)
        self._relay_t1 = np.zeros(0)
        self._relay_box = np.zeros((0, 4))

    def _links(self, airborne, t0, t1, p0, p1, vehicle, leg_id) -> list[tuple]:
        """Link lost / restored events of a batch's legs (in leg order per vehicle).

        Legs on the ground count as in link (a vehicle at a site is connected). With
        airborne relays in the fleet, see :meth:`_relay_links`."""
        if self._relayed:
            return self._relay_links(airborne, vehicle, leg_id)
        idx = np.flatnonzero(airborne)
        outs: dict[int, list[tuple[float, float]]] = {}
        if len(idx):
            air = (t0, t1, p0, p1) if len(idx) == len(t0) else \
                (t0[idx], t1[idx], p0[idx], p1[idx])  # (every leg: no copies)
            li, a, b = link_intervals(*air, self.stations, self.sim.world.terrain)
            L, A, B = out_of_link(air[0], air[1], li, a, b)
            for k, x, y in zip(idx[L].tolist(), A.tolist(), B.tolist(), strict=True):
                outs.setdefault(k, []).append((x, y))
        state = self.out_of_link
        found = []
        # Only the legs of vehicles that are, or go, out of link can change anything.
        involved = set(state) | {int(vehicle[j]) for j in outs}
        if not involved:
            return found
        legs = legs_of(vehicle, involved)
        for j in legs.tolist():
            v = int(vehicle[j])
            was_out = v in state
            pieces = outs.get(j, ())
            if not pieces and not was_out:
                continue
            lg, start, end = int(leg_id[j]), t0[j], t1[j]
            out_at_start = bool(pieces) and pieces[0][0] <= start + _EPS
            if was_out and not out_at_start:
                found.append(self._at(start, "link_restored", v, lg, -1, -1, j, t0, t1, p0, p1))
            elif not was_out and out_at_start:
                found.append(self._at(start, "link_lost", v, lg, -1, -1, j, t0, t1, p0, p1))
            now_out = False
            for x, y in pieces:
                if x > start + _EPS:
                    found.append(self._at(x, "link_lost", v, lg, -1, -1, j, t0, t1, p0, p1))
                if y < end - _EPS:
                    found.append(self._at(y, "link_restored", v, lg, -1, -1, j, t0, t1, p0,
                                          p1))
                else:
                    now_out = True
            if now_out:
                state.add(v)
            else:
                state.discard(v)
        return found

    def _relay_links(self, airborne, vehicle, leg_id) -> list[tuple]:
        """Link events with airborne relays (:func:`fleetsim.comms.link_intervals_relayed`).

        A vehicle's link now depends on where the relays are, and the leg table knows
        that only as far as their current plans go: later legs planned ahead, none after
        the plan ends. Each leg is evaluated when it appears, against the relays' legs as
        the table has them then (a relay with no leg at a time is absent). When a relay's
        legs change afterwards (cut, cancelled, or new ones from time ``tc`` on), the
        still-open legs of vehicles it may reach (not in direct link throughout, within
        its range of where it was or now goes) are evaluated again from ``tc``: their
        queued link events from ``tc`` on are withdrawn and replaced. A change comes with
        new legs of the relay (the engine cuts a leg only to start another, except at the
        end of the run), so it is seen by the first pass after it, before any event from
        ``tc`` on has been released: the record ends up as if every plan had been known
        from the start, and agrees with the metrics; the policy hears of relayed link
        events as of direct ones (at the first pass at or after their time).
        """
        sim = self.sim
        a = sim.legs.a
        now = float(sim.env.now)
        end = float(sim.duration_s)
        terrain = sim.world.terrain
        is_relay = np.isfinite(self.relay_range)

        # What the relays do, as far as the table knows, and what changed since last pass.
        ids = self._relay_ids
        old = a[ids]
        changed = old[:, L_T1] != self._relay_t1
        ch_v = old[changed, L_VEHICLE].astype(np.int64)
        t0c, t1c = old[changed, L_T0], old[changed, L_T1]
        ch_t = np.where(t1c >= t0c, t1c, t0c)  # cut at t1, or cancelled from t0
        ch_box = self._relay_box[changed]
        new = leg_id[airborne & is_relay[vehicle]].astype(np.int64)
        ids = np.concatenate([ids, new])
        rows = a[ids]
        box = _xy_box(rows)
        ch_v = np.concatenate([ch_v, rows[len(old):, L_VEHICLE].astype(np.int64)])
        ch_t = np.concatenate([ch_t, rows[len(old):, L_T0]])
        ch_box = np.concatenate([ch_box, box[len(old):]])
        rv = rows[:, L_VEHICLE].astype(np.int64)
        relays = relay_legs(rv, *_clipped(rows, end), self.relay_range[rv])
        # Later passes evaluate from at most one relay sample gap before their time.
        keep = (rows[:, L_T1] >= rows[:, L_T0]) & (rows[:, L_T1] >= now - RELAY_MAX_GAP_S - 1.0)
        self._relay_ids, self._relay_t1, self._relay_box = ids[keep], rows[keep, L_T1], box[keep]

        # Open legs a change may alter: per vehicle, the earliest change time that reaches
        # one of its legs (all its open legs ending after that are evaluated again).
        redo: dict[int, float] = {}
        if len(ch_v) and len(self._open_ids):
            rel, inv = np.unique(ch_v, return_inverse=True)
            t_r = np.full(len(rel), np.inf)
            np.minimum.at(t_r, inv, ch_t)
            b_r = np.tile([np.inf, np.inf, -np.inf, -np.inf], (len(rel), 1))
            np.minimum.at(b_r[:, 0], inv, ch_box[:, 0])
            np.minimum.at(b_r[:, 1], inv, ch_box[:, 1])
            np.maximum.at(b_r[:, 2], inv, ch_box[:, 2])
            np.maximum.at(b_r[:, 3], inv, ch_box[:, 3])
            ob = self._open_box
            o_t1 = a[self._open_ids, L_T1]
            reach = ~self._open_direct & (o_t1 >= a[self._open_ids, L_T0])
            t_hit = np.full(len(ob), np.inf)
            for k in range(len(rel)):  # relays are few
                gx = np.maximum(0.0, np.maximum(b_r[k, 0] - ob[:, 2], ob[:, 0] - b_r[k, 2]))
                gy = np.maximum(0.0, np.maximum(b_r[k, 1] - ob[:, 3], ob[:, 1] - b_r[k, 3]))
                hit = reach & (np.hypot(gx, gy) <= self.relay_range[rel[k]]) \
                    & (o_t1 > t_r[k]) & (self._open_veh != rel[k])
                t_hit[hit] = np.minimum(t_hit[hit], t_r[k])
            for v, t in zip(self._open_veh[np.isfinite(t_hit)].tolist(),
                            t_hit[np.isfinite(t_hit)].tolist(), strict=True):
                redo[v] = min(t, redo.get(v, np.inf))
        re_ids: list[int] = []
        re_from: list[float] = []
        for v, t in redo.items():
            for i in self._open_of[v]:
                if a[i, L_T1] > t and a[i, L_T1] >= a[i, L_T0]:
                    re_ids.append(i)
                    re_from.append(t)

        # The legs to evaluate: those reached by a change, then the batch's, per vehicle.
        ev_ids = np.concatenate([np.asarray(re_ids, dtype=np.int64), leg_id.astype(np.int64)])
        rows = a[ev_ids]
        ev_from = np.concatenate([np.asarray(re_from, dtype=np.float64), rows[len(re_ids):, L_T0]])
        order = np.lexsort((ev_ids, rows[:, L_VEHICLE]))
        ev_ids, rows, ev_from = ev_ids[order], rows[order], ev_from[order]
        veh = rows[:, L_VEHICLE].astype(np.int64)
        T0, T1, P0, P1 = _clipped(rows, end)
        whole = ev_from <= T0 + _EPS
        air = np.flatnonzero(np.isin(rows[:, L_KIND], AIRBORNE) & (T1 > T0))
        fully = np.ones(len(ev_ids), dtype=bool)  # in direct link throughout (or on the ground)
        start = T0.copy()
        outs: dict[int, list[tuple[float, float]]] = {}
        if len(air):
            t_from = np.where(whole, T0, ev_from)[air]
            direct = grid_link_intervals(T0[air], T1[air], P0[air], P1[air], self.stations,
                                         terrain)
            dl, da, db = direct
            full = (da <= T0[air][dl] + _EPS) & (db >= T1[air][dl] - _EPS)
            fully[air] = False
            fully[air[dl[full]]] = True
            li, ia, ib = link_intervals_relayed(T0[air], T1[air], P0[air], P1[air], veh[air],
                                                relays, self.stations, terrain,
                                                t_from=t_from, direct=direct)
            start[air] = sample_start(T0[air], T1[air], P0[air], P1[air], t_from, terrain)
            L, X, Y = out_of_link(start[air], T1[air], li, ia, ib)
            for k, x, y in zip(air[L].tolist(), X.tolist(), Y.tolist(), strict=True):
                outs.setdefault(k, []).append((x, y))

        # Withdraw the queued events of the legs evaluated again, from their change on.
        kill: dict[int, tuple] = {}
        for pos in np.flatnonzero(np.isin(ev_ids, re_ids)).tolist():
            rec = self._open.get(int(ev_ids[pos]))
            if rec is not None:
                for ev in rec.events:
                    if ev[0] >= ev_from[pos]:
                        kill[id(ev)] = ev
        released: set[tuple] = set()
        if kill:
            queued = self._queue.withdraw(kill.keys())
            released = {(ev[1], ev[3], ev[0]) for k, ev in kill.items() if k not in queued}

        found: list[tuple] = []
        state = self.out_of_link
        last_v, was_out = -1, False
        for pos in range(len(ev_ids)):
            v, lg = int(veh[pos]), int(ev_ids[pos])
            s0, s1 = float(start[pos]), float(T1[pos])
            pieces = outs.get(pos, [])
            out_at_start = bool(pieces) and pieces[0][0] <= s0 + _EPS
            if v != last_v:
                last_v = v
                was_out = self._out_before(v, lg) if whole[pos] else out_at_start
            evs = []
            if whole[pos]:
                if was_out and not out_at_start:
                    evs.append(self._at(s0, "link_restored", v, lg, -1, -1, pos, T0, T1, P0, P1))
                elif not was_out and out_at_start:
                    evs.append(self._at(s0, "link_lost", v, lg, -1, -1, pos, T0, T1, P0, P1))
            for x, y in pieces:
                if x > s0 + _EPS:
                    evs.append(self._at(x, "link_lost", v, lg, -1, -1, pos, T0, T1, P0, P1))
                if y < s1 - _EPS:
                    evs.append(self._at(y, "link_restored", v, lg, -1, -1, pos, T0, T1, P0, P1))
            was_out = bool(pieces) and pieces[-1][1] >= s1 - _EPS
            rec = self._open.get(lg)
            if rec is None:
                rec = self._open[lg] = _OpenLeg(s1, pieces, evs, bool(fully[pos]))
                self._open_of.setdefault(v, []).append(lg)
            else:  # evaluated again from ev_from[pos] on
                t = ev_from[pos]
                evs = [e for e in evs if e[0] >= t and (e[1], e[3], e[0]) not in released]
                rec.events = [e for e in rec.events if e[0] < t] + evs
                rec.pieces = [(x, min(y, s0)) for x, y in rec.pieces if x < s0] + pieces
                rec.t1 = s1
            found += evs
            if pos + 1 == len(ev_ids) or int(veh[pos + 1]) != v:
                if was_out:
                    state.add(v)
                else:
                    state.discard(v)

        # Keep what a later change may still alter: legs not over before this pass.
        new_rows = a[leg_id]
        self._open_ids = np.concatenate([self._open_ids, leg_id.astype(np.int64)])
        self._open_veh = np.concatenate([self._open_veh, new_rows[:, L_VEHICLE].astype(np.int64)])
        self._open_box = np.concatenate([self._open_box, _xy_box(new_rows)])
        self._open_direct = np.concatenate([self._open_direct,
                                            [self._open[int(i)].direct for i in leg_id]])
        o_rows = a[self._open_ids]
        keep = (o_rows[:, L_T1] >= o_rows[:, L_T0]) & (o_rows[:, L_T1] >= now)
        if not keep.all():
            for i, v in zip(self._open_ids[~keep].tolist(), self._open_veh[~keep].tolist(),
                            strict=True):
                del self._open[i]
                self._open_of[v].remove(i)
            self._open_ids, self._open_veh = self._open_ids[keep], self._open_veh[keep]
            self._open_box, self._open_direct = self._open_box[keep], self._open_direct[keep]
        return found

    def linked_now(self, v: int, *, margin_m: float = 0.0) -> bool:
        """Is vehicle ``v`` in link with a ground station right now (from where it is),
        directly or through an airborne relay that is itself in direct link?
        ``margin_m``: count it in range only if at least this far inside."""
        if not self.stations:
            return True
        x, y, z = self.sim.view_position(v)
        if self._direct_now(x, y, z, margin_m):
            return True
        if not self._relayed:
            return False
        sim = self.sim
        terrain = sim.world.terrain
        for r in np.flatnonzero(np.isfinite(self.relay_range)).tolist():
            if r == v or sim.state[r] in (GROUND, QUEUED, CHARGING, DOWN):
                continue
            rx, ry, rz = sim.view_position(r)
            if (x - rx) ** 2 + (y - ry) ** 2 + (z - rz) ** 2 > self.relay_range[r] ** 2:
                continue
            if self._direct_now(rx, ry, rz, 0.0) and bool(terrain.line_of_sight(
                    np.array([[x, y, z]]), np.array([[rx, ry, rz]]))[0]):
                return True
        return False

    def _direct_now(self, x: float, y: float, z: float, margin_m: float) -> bool:
        """In range (less ``margin_m``) and in sight of some ground station?

        The stations' distances are screened in one vector operation (with a little
        slack); the few that pass get the exact test, in station order."""
        point = np.array([[x, y, z]])
        terrain = self.sim.world.terrain
        arrays = self.__dict__.get("_station_arrays")  # (also on objects made without __init__)
        if arrays is None:
            arrays = self._station_arrays = (
                np.array([st.xyz for st in self.stations], dtype=np.float64).reshape(-1, 3),
                np.array([st.range_m for st in self.stations], dtype=np.float64))
        sxyz, reach = arrays
        d2 = (x - sxyz[:, 0]) ** 2 + (y - sxyz[:, 1]) ** 2 + (z - sxyz[:, 2]) ** 2
        r = reach - margin_m
        near = np.flatnonzero(~(d2 > r * r * (1.0 + 1e-9) + 1e-6)).tolist()
        for st in (self.stations[i] for i in near):
            sx, sy, sz = st.xyz
            if (x - sx) ** 2 + (y - sy) ** 2 + (z - sz) ** 2 > (st.range_m - margin_m) ** 2:
                continue
            if bool(station_in_sight(st, point, terrain)[0]):
                return True
        return False

    def _out_before(self, v: int, leg: int) -> bool:
        """Whether vehicle ``v`` is out of link at the end of its leg before ``leg``."""
        a = self.sim.legs.a
        for i in reversed(self._open_of.get(v, ())):
            if i < leg and a[i, L_T1] >= a[i, L_T0]:  # not cancelled
                return self._open[i].out_at(min(float(a[i, L_T1]), self._open[i].t1))
        return v in self.out_of_link


def legs_of(vehicle: np.ndarray, involved: set[int]) -> np.ndarray:
    """Positions (ascending) of the legs whose vehicle is in ``involved`` (not empty)."""
    inv = np.fromiter(involved, dtype=np.int64, count=len(involved))
    mask = np.zeros(max(int(inv.max()), int(vehicle.max(initial=0))) + 1, dtype=bool)
    mask[inv] = True
    return np.flatnonzero(mask[vehicle])


def _clipped(rows: np.ndarray, end: float):
    """``t0, t1, p0, p1`` of leg rows, clipped at the end of the run (open-ended legs
    included) as the run's end cuts them: nothing after it is recorded."""
    t0, t1 = rows[:, L_T0], rows[:, L_T1]
    p0, p1 = rows[:, L_X0:L_Z0 + 1], rows[:, L_X1:L_Z1 + 1].copy()
    over = t1 > end
    if over.any():
        with np.errstate(invalid="ignore"):
            f = np.where(np.isfinite(t1) & (t1 > t0), (end - t0) / (t1 - t0), 0.0)
        f = np.clip(f, 0.0, 1.0)[over]
        p1[over] = p0[over] + f[:, None] * (p1[over] - p0[over])
        t1 = np.where(over, np.maximum(t0, end), t1)
    return t0, t1, p0, p1


def _xy_box(rows: np.ndarray) -> np.ndarray:
    """Horizontal extent (x min, y min, x max, y max) of leg rows."""
    x = rows[:, [L_X0, L_X1]]
    y = rows[:, [L_Y0, L_Y1]]
    return np.column_stack([x.min(axis=1), y.min(axis=1), x.max(axis=1), y.max(axis=1)])


class _OpenLeg:
    """A leg's link as last evaluated (see :meth:`Monitor._relay_links`)."""

    __slots__ = ("direct", "events", "pieces", "t1")

    def __init__(self, t1: float, pieces: list, events: list, direct: bool) -> None:
        self.t1 = t1  # end of the evaluated stretch (the leg's end, clipped to the run's)
        self.pieces = pieces  # out-of-link stretches (t_start, t_end)
        self.events = events  # link events queued or recorded for it
        self.direct = direct  # in direct link throughout, or on the ground

    def out_at(self, t: float) -> bool:
        """Out of link at time ``t`` (at the end of the stretch: out when it ends so)."""
        if t >= self.t1 - _EPS:
            return bool(self.pieces) and self.pieces[-1][1] >= self.t1 - _EPS
        return any(x <= t + _EPS and y > t + _EPS for x, y in self.pieces)

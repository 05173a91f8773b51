"""In-leg events, found in vectorised batches.

Every ``monitor_window_s`` of simulated time the monitor takes the legs created
since its last pass and finds, in one vectorised pass over all of them, the
exact times of what happens during them: a target entering a sensor footprint
(with terrain line of sight), a zone boundary crossed, the leg passing below
terrain + clearance. Events already in the past are recorded at their exact
times; later ones wait in a queue and are dropped if their leg is cut before
they happen. So the record is exact, while a policy may learn of an in-leg
event up to one window late, like a sensor with an update rate.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

import numpy as np
import shapely

from fleetsim.comms import (
    RELAY_MAX_GAP_S,
    grid_link_intervals,
    link_intervals,
    link_intervals_relayed,
    out_of_link,
    relay_legs,
    sample_start,
    station_in_sight,
    stations_of,
)
from fleetsim.engine.api import Subsystem
from fleetsim.engine.sensing import TargetDetection
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
from fleetsim.geometry import zone_intervals

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.engine.api import EngineAPI

_AIRBORNE = np.array([LEG_KIND_CODE[k] for k in ("takeoff", "move", "hold", "return", "land")])
_CRUISING = np.array([LEG_KIND_CODE[k] for k in ("move", "hold", "return")])
_DOCKED = LEG_KIND_CODE["docked"]
_EPS = 1e-9
#: In-leg events that the policy hears of, as requests with the same reason.
_REQUESTS = frozenset({"detection", "link_lost", "link_restored"})
_TARGET_HEIGHT_M = 1.0
#: Side, in terrain cells, of the blocks whose highest point screens legs for terrain
#: clearance (see Monitor._may_come_low).
_BLOCK = 8




class Monitor(TargetDetection, Subsystem):
    def __init__(self, sim: EngineAPI) -> None:
        self.sim = sim
        self.window_s = float(sim.scenario.run.monitor_window_s)
        self.done = 0
        self._pending: list[tuple] = []
        self._seq = 0
        world = sim.world
        self.targets = world.targets_xy
        self._tree = None
        if len(self.targets):
            from scipy.spatial import cKDTree
            self._tree = cKDTree(self.targets)
            self.target_z = world.terrain.height_at(self.targets[:, 0], self.targets[:, 1]) \
                + _TARGET_HEIGHT_M
        #: Target velocities (m/s) and the fastest speed; None: all stay put.
        self.velocity = world.target_velocity
        self.vmax = 0.0 if self.velocity is None or not len(self.velocity) else \
            float(np.hypot(*self.velocity.T).max())
        self.target_height = _TARGET_HEIGHT_M
        self.rng = sim.streams.get("detection")
        vt = sim.scenario.vehicle_types
        self.det_model = [vt[i].sensor.detection.model for i in range(len(vt))]
        self.det_width = [vt[i].sensor.detection.sweep_width_m
                          or 2 * vt[i].sensor.footprint_radius_m for i in range(len(vt))]
        self.type_of = np.asarray(sim.type_index, dtype=np.int64)
        self.radius = np.asarray(sim.radius, dtype=np.float64)
        self.clearance = np.asarray(sim.clearance, dtype=np.float64)
        h = world.terrain.heights_m
        self.flat = bool(np.ptp(h) == 0.0)
        self.zones = world.zones
        self.stations = stations_of(world)
        #: Zones each vehicle is in at the end of its last processed leg.
        self.in_zone: dict[int, frozenset[int]] = {}
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
        #: Targets each vehicle had in its footprint and in sight at the end of its
        #: last processed leg.
        self.in_view: dict[int, set[int]] = {}
        self.zone_bounds = np.array([z.polygon.bounds for z in self.zones]).reshape(-1, 4)
        self.bar = None
        air = np.asarray(sim.is_air, dtype=bool)
        self.surface = None if air.all() else ~air

    # ------------------------------------------------------------------ process

    def processes(self, *, progress: bool = False):
        return [self.process(progress=progress)]

    def on_leg_cut(self, v: int, leg: int) -> None:
        sim = self.sim
        if (self.stations or self.zones) and not sim.finishing and sim.is_air[v]:
            self.vehicle_cut(v, leg)

    def process(self, *, progress: bool = False):
        env = self.sim.env
        bar = None
        if progress:
            from tqdm import tqdm
            bar = self.bar = tqdm(total=round(self.sim.duration_s), unit="sim s", delay=2.0,
                                  dynamic_ncols=True, leave=False)
        last = 0.0
        while True:
            yield env.timeout(self.window_s)
            self.step(env.now)
            if bar is not None:
                bar.update(round(env.now) - round(last))
                last = env.now

    def step(self, now: float) -> None:
        n = len(self.sim.legs)
        if n > self.done:
            legs = self.sim.legs.columns(self.done, n)
            self.done = n
            for ev in self._find(legs):
                self._seq += 1
                heapq.heappush(self._pending, (ev[0], self._seq, ev))
        self._release(now)

    def finish(self, end_s: float) -> None:
        self.step(end_s)
        if self.bar is not None:
            self.bar.close()  # clears the line, so what is printed next starts clean
            self.bar = None

    def _release(self, now: float) -> None:
        legs = self.sim.legs.a
        log = self.sim.log
        pending = self._pending
        while pending and pending[0][0] <= now:
            _, _, ev = heapq.heappop(pending)
            t, kind, v, leg, target, zone, x, y, z, value = ev
            if t > legs[leg, L_T1] + _EPS:
                continue  # the leg was cut before this happened
            log.add(t, kind, v, leg, target, zone, x, y, z, value)
            if kind in _REQUESTS and now < self.sim.duration_s:
                s = self.sim
                s.notify(kind, v, target, t)  # oversight reviews, link rules
                if s.retaskable(v):
                    s.request(v, kind, target)

    # ------------------------------------------------------------------ finding events

    def _find(self, legs: dict[str, np.ndarray]) -> list[tuple]:
        out: list[tuple] = []
        # Cancelled legs (never flown) have t1 = -inf. Zones, terrain clearance and radio
        # links are about aircraft in the air: ground and sea vehicles, and vehicles
        # riding on a carrier, are left out; a ground or sea vehicle's sensing legs (a
        # boat searching) are looked at for detections only.
        live = legs["t1_s"] >= legs["t0_s"]
        if self.surface is not None:
            surf = self.surface[legs["vehicle"]]
            looking = live & surf & legs["sensing"]
            live &= ~surf & (legs["kind_code"] != _DOCKED)
            if looking.any() and self._tree is not None:
                sub = {k: col[looking] for k, col in legs.items()}
                out += self._surface_detections(sub)
        if not live.all():
            legs = {k: col[live] for k, col in legs.items()}
        code = legs["kind_code"]
        t0 = legs["t0_s"]
        t1 = np.where(np.isfinite(legs["t1_s"]), legs["t1_s"], t0)
        p0 = np.column_stack([legs["x0_m"], legs["y0_m"], legs["z0_m"]])
        p1 = np.column_stack([legs["x1_m"], legs["y1_m"], legs["z1_m"]])
        vehicle = legs["vehicle"]
        leg_id = legs["leg"]
        airborne = np.isin(code, _AIRBORNE)
        sensing = airborne & legs["sensing"]
        if self._tree is not None:
            out += self._detections(sensing, t0, t1, p0, p1, vehicle, leg_id)
        if self.stations:
            out += self._links(airborne, t0, t1, p0, p1, vehicle, leg_id)
        if self.zones:
            out += self._zone_events(t0, t1, p0, p1, vehicle, leg_id)
        cruising = np.isin(code, _CRUISING) & (t1 > t0)
        if cruising.any() and not (self.flat and self.clearance.max() <= 0):
            idx = np.flatnonzero(cruising)
            terrain = self.sim.world.terrain
            idx = idx[self._may_come_low(p0[idx], p1[idx], self.clearance[vehicle[idx]])]
            clr = self.clearance[vehicle[idx]]
            frac = terrain.first_below(p0[idx], p1[idx], clr)
            hit = np.flatnonzero(~np.isnan(frac))
            if len(hit):
                low, _ = terrain.segment_clearance(p0[idx[hit]], p1[idx[hit]])
                for k, f, lo in zip(hit.tolist(), frac[hit].tolist(), low.tolist(), strict=True):
                    j = idx[k]
                    t = t0[j] + f * (t1[j] - t0[j])
                    out.append(self._at(t, "terrain_violation", int(vehicle[j]), int(leg_id[j]),
                                        -1, -1, j, t0, t1, p0, p1, value=lo))
        return out

    def _may_come_low(self, p0, p1, clearance) -> np.ndarray:
        """(n,) bool: legs that may come closer to the terrain than ``clearance``
        (False: they surely do not). A leg surely does not if its lower end is above the
        highest terrain of the blocks of :data:`_BLOCK` cells around it, plus the
        clearance, with room to spare; only legs within 2 x 2 blocks are judged."""
        terrain = self.sim.world.terrain
        top = self.__dict__.get("_block_top")
        if top is None:
            h = np.asarray(terrain.heights_m, dtype=np.float64)
            ny, nx = h.shape
            pad = np.pad(h, ((0, -ny % _BLOCK), (0, -nx % _BLOCK)), constant_values=-np.inf)
            top = self._block_top = pad.reshape(pad.shape[0] // _BLOCK, _BLOCK,
                                                pad.shape[1] // _BLOCK, _BLOCK).max(axis=(1, 3))
        ny, nx = np.shape(terrain.heights_m)
        s = float(terrain.spacing_m)
        ox, oy = float(terrain.origin_m[0]), float(terrain.origin_m[1])
        # The cells a sample's height is interpolated from lie within the leg's extent
        # and one cell around it (clamped to the grid, as heights are).
        with np.errstate(invalid="ignore"):
            cx0 = np.floor((np.minimum(p0[:, 0], p1[:, 0]) - ox) / s) - 1
            cx1 = np.floor((np.maximum(p0[:, 0], p1[:, 0]) - ox) / s) + 2
            cy0 = np.floor((np.minimum(p0[:, 1], p1[:, 1]) - oy) / s) - 1
            cy1 = np.floor((np.maximum(p0[:, 1], p1[:, 1]) - oy) / s) + 2
        ok = np.isfinite(cx0) & np.isfinite(cx1) & np.isfinite(cy0) & np.isfinite(cy1)
        bx0, bx1, by0, by1 = (
            (np.minimum(np.maximum(np.where(ok, c, 0.0), 0), m - 1).astype(np.int64) // _BLOCK)
            for c, m in ((cx0, nx), (cx1, nx), (cy0, ny), (cy1, ny)))
        ok &= (bx1 - bx0 <= 1) & (by1 - by0 <= 1)
        high = np.maximum(np.maximum(top[by0, bx0], top[by0, bx1]),
                          np.maximum(top[by1, bx0], top[by1, bx1]))
        low = np.minimum(p0[:, 2], p1[:, 2])
        with np.errstate(invalid="ignore"):
            clear = ok & (low - clearance - high > 1e-6 * np.abs(low) + 1e-3)
        return ~clear

    def _surface_detections(self, legs: dict[str, np.ndarray]) -> list[tuple]:
        """Detections on the sensing legs of ground and sea vehicles."""
        t0 = legs["t0_s"]
        t1 = np.where(np.isfinite(legs["t1_s"]), legs["t1_s"], t0)
        p0 = np.column_stack([legs["x0_m"], legs["y0_m"], legs["z0_m"]])
        p1 = np.column_stack([legs["x1_m"], legs["y1_m"], legs["z1_m"]])
        return self._detections(np.ones(len(t0), dtype=bool), t0, t1, p0, p1,
                                legs["vehicle"], legs["leg"])

    def _zone_events(self, t0, t1, p0, p1, vehicle, leg_id) -> list[tuple]:
        """Zone entries and exits of a batch's legs (every kind of leg counts, as in the
        safety metrics), carrying per vehicle which zones it is in from leg to leg, so
        that a leg starting exactly on a boundary still enters (or leaves) there."""
        # Only legs whose bounding box meets some zone's bounding box can be inside one.
        zb = self.zone_bounds
        lo = np.minimum(p0[:, :2], p1[:, :2])
        hi = np.maximum(p0[:, :2], p1[:, :2])
        near = ((lo[:, None, 0] <= zb[None, :, 2]) & (hi[:, None, 0] >= zb[None, :, 0])
                & (lo[:, None, 1] <= zb[None, :, 3]) & (hi[:, None, 1] >= zb[None, :, 1])
                ).any(axis=1)
        idx = np.flatnonzero(near)
        pieces: dict[int, list[tuple[int, float, float]]] = {}
        if len(idx):
            li, zi, t_in, t_out = zone_intervals(t0[idx], t1[idx], p0[idx], p1[idx],
                                                 self.zones)
            for k, z, a, b in zip(li.tolist(), zi.tolist(), t_in.tolist(), t_out.tolist(),
                                  strict=True):
                pieces.setdefault(int(idx[k]), []).append((z, a, b))
        state = self.in_zone
        involved = set(state) | {int(vehicle[j]) for j in pieces}
        out: list[tuple] = []
        if not involved:
            return out
        legs = np.flatnonzero(np.isin(vehicle, np.fromiter(involved, dtype=np.int64)))
        for j in legs.tolist():
            v, lg, start, end = int(vehicle[j]), int(leg_id[j]), t0[j], t1[j]
            before = state.get(v, frozenset())
            ints = pieces.get(j, ())
            if not ints and not before:
                continue
            at_start = {z for z, a, _ in ints if a <= start + _EPS}
            for z in sorted(at_start - before):
                out.append(self._at(start, "zone_enter", v, lg, -1, z, j, t0, t1, p0, p1))
            for z in sorted(before - at_start):
                out.append(self._at(start, "zone_exit", v, lg, -1, z, j, t0, t1, p0, p1))
            inside = set()
            for z, a, b in ints:
                if a > start + _EPS:
                    out.append(self._at(a, "zone_enter", v, lg, -1, z, j, t0, t1, p0, p1))
                if b < end - _EPS:
                    out.append(self._at(b, "zone_exit", v, lg, -1, z, j, t0, t1, p0, p1))
                else:
                    inside.add(z)
            if inside:
                state[v] = frozenset(inside)
            else:
                state.pop(v, None)
        return out

    def _links(self, airborne, t0, t1, p0, p1, vehicle, leg_id) -> list[tuple]:
        """Link lost / restored events of a batch's legs (in leg order per vehicle).

        Legs on the ground count as in link (a vehicle at a site is connected). With
        airborne relays in the fleet, see :meth:`_relay_links`."""
        if self._relayed:
            return self._relay_links(airborne, vehicle, leg_id)
        idx = np.flatnonzero(airborne)
        outs: dict[int, list[tuple[float, float]]] = {}
        if len(idx):
            li, a, b = link_intervals(t0[idx], t1[idx], p0[idx], p1[idx], self.stations,
                                      self.sim.world.terrain)
            L, A, B = out_of_link(t0[idx], t1[idx], li, a, b)
            for k, x, y in zip(idx[L].tolist(), A.tolist(), B.tolist(), strict=True):
                outs.setdefault(k, []).append((x, y))
        state = self.out_of_link
        found = []
        # Only the legs of vehicles that are, or go, out of link can change anything.
        involved = set(state) | {int(vehicle[j]) for j in outs}
        if not involved:
            return found
        legs = np.flatnonzero(np.isin(vehicle, np.fromiter(involved, dtype=np.int64)))
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
        air = np.flatnonzero(np.isin(rows[:, L_KIND], _AIRBORNE) & (T1 > T0))
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
            pending = self._pending
            live = [e for e in pending if id(e[2]) not in kill]
            if len(live) < len(pending):
                queued = {id(e[2]) for e in pending} & kill.keys()
                released = {(ev[1], ev[3], ev[0]) for k, ev in kill.items() if k not in queued}
                pending[:] = live
                heapq.heapify(pending)
            else:
                released = {(ev[1], ev[3], ev[0]) for ev in kill.values()}

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
        arrays = self.__dict__.get("_station_arrays")
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

    def vehicle_cut(self, v: int, leg: int) -> None:
        """Vehicle ``v``'s leg ``leg`` was cut short: if that leg was already looked at,
        its link and zone states now are where it stopped, not where the leg was to end."""
        if leg >= self.done:
            return
        if self.zones:
            x, y, z = self.sim.view_position(v)
            now = self.sim.env.now
            inside = frozenset(
                zone.index for zone in self.zones
                if zone.active_at(now) and zone.floor_amsl_m <= z <= zone.ceiling_amsl_m
                and shapely.contains_xy(zone.polygon, x, y))
            if inside:
                self.in_zone[v] = inside
            else:
                self.in_zone.pop(v, None)
        if self.stations and not self._relayed:
            # Exactly on the range circle counts as the side it was leaving to.
            if self.linked_now(v, margin_m=1e-6):
                self.out_of_link.discard(v)
            else:
                self.out_of_link.add(v)

    def _out_before(self, v: int, leg: int) -> bool:
        """Whether vehicle ``v`` is out of link at the end of its leg before ``leg``."""
        a = self.sim.legs.a
        for i in reversed(self._open_of.get(v, ())):
            if i < leg and a[i, L_T1] >= a[i, L_T0]:  # not cancelled
                return self._open[i].out_at(min(float(a[i, L_T1]), self._open[i].t1))
        return v in self.out_of_link





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

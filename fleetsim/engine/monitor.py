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

from bisect import bisect_right
from operator import itemgetter
from typing import TYPE_CHECKING

import numpy as np
import shapely
from numba import njit

from fleetsim.comms import stations_of
from fleetsim.engine.api import Subsystem
from fleetsim.engine.link_events import AIRBORNE_CODE, LinkEvents, legs_of
from fleetsim.engine.sensing import TargetDetection
from fleetsim.engine.tables import L_T1, LEG_KIND_CODE
from fleetsim.geometry import zone_intervals

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.engine.api import EngineAPI

#: Whether each leg kind code (a byte) is a cruising one (move, hold, return).
_CRUISING_CODE = np.zeros(256, dtype=bool)
_CRUISING_CODE[[LEG_KIND_CODE[k] for k in ("move", "hold", "return")]] = True
_DOCKED = LEG_KIND_CODE["docked"]
_EPS = 1e-9
#: The leg columns the monitor reads.
_USED = ("leg", "vehicle", "kind_code", "sensing", "t0_s", "t1_s", "x0_m", "y0_m", "z0_m",
         "x1_m", "y1_m", "z1_m")
#: In-leg events that the policy hears of, as requests with the same reason.
_REQUESTS = frozenset({"detection", "link_lost", "link_restored"})
_TARGET_HEIGHT_M = 1.0
#: Side, in terrain cells, of the blocks whose highest point screens legs for terrain
#: clearance (see Monitor._may_come_low).
_BLOCK = 8


class Monitor(TargetDetection, LinkEvents, Subsystem):
    #: Highest terrain of each block of _BLOCK x _BLOCK cells (built on first use; also
    #: for a monitor made without __init__, as the terrain screen's tests make one).
    _block_top: np.ndarray | None = None

    def __init__(self, sim: EngineAPI) -> None:
        self.sim = sim
        self.window_s = float(sim.scenario.run.monitor_window_s)
        self.done = 0
        self._queue = _Queue()  # events found ahead of their time
        self._cuts = 0  # legs cut so far (see on_leg_cut)
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
        self._init_links(sim)
        self._block_top = None
        #: Targets each vehicle had in its footprint and in sight at the end of its
        #: last processed leg.
        self.in_view: dict[int, set[int]] = {}
        self._grid = None  # the targets on a grid (see TargetDetection._target_grid)
        self.zone_bounds = np.array([z.polygon.bounds for z in self.zones]).reshape(-1, 4)
        self.bar = None
        air = np.asarray(sim.is_air, dtype=bool)
        self.surface = None if air.all() else ~air

    # ------------------------------------------------------------------ process

    def processes(self, *, progress: bool = False):
        return [self.process(progress=progress)]

    def on_leg_cut(self, v: int, leg: int) -> None:
        sim = self.sim
        self._cuts += 1
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
            legs = self.sim.legs.columns(self.done, n, raw=True)
            self.done = n
            self._queue.add(self._find(legs))
        self._release(now)

    def finish(self, end_s: float) -> None:
        self.step(end_s)
        if self.bar is not None:
            self.bar.close()  # clears the line, so what is printed next starts clean
            self.bar = None

    def _release(self, now: float) -> None:
        due = self._queue.due(now)
        if not due:
            return
        s = self.sim
        legs = s.legs.a
        ends = legs[[ev[3] for ev in due], L_T1].tolist()  # where their legs end
        cuts = self._cuts
        add = s.log.add
        asks = now < s.duration_s
        for ev, end in zip(due, ends, strict=True):
            t, kind, v, leg, target, zone, x, y, z, value = ev
            if self._cuts != cuts:  # a leg was cut meanwhile
                end = float(legs[leg, L_T1])
            if t > end + _EPS:
                continue  # the leg was cut before this happened
            add(t, kind, v, leg, target, zone, x, y, z, value)
            if asks and kind in _REQUESTS:
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
                sub = {k: legs[k][looking] for k in _USED}
                out += self._surface_detections(sub)
        if not live.all():
            legs = {k: legs[k][live] for k in _USED}
        code = legs["kind_code"]
        t0 = legs["t0_s"]
        t1 = np.where(np.isfinite(legs["t1_s"]), legs["t1_s"], t0)
        p0 = np.column_stack([legs["x0_m"], legs["y0_m"], legs["z0_m"]])
        p1 = np.column_stack([legs["x1_m"], legs["y1_m"], legs["z1_m"]])
        vehicle = legs["vehicle"]
        leg_id = legs["leg"]
        airborne = AIRBORNE_CODE[code]
        sensing = airborne & legs["sensing"]
        if self._tree is not None:
            out += self._detections(sensing, t0, t1, p0, p1, vehicle, leg_id)
        if self.stations:
            out += self._links(airborne, t0, t1, p0, p1, vehicle, leg_id)
        if self.zones:
            out += self._zone_events(t0, t1, p0, p1, vehicle, leg_id)
        cruising = _CRUISING_CODE[code] & (t1 > t0)
        if cruising.any() and not (self.flat and self.clearance.max() <= 0):
            idx = np.flatnonzero(cruising)
            terrain = self.sim.world.terrain
            if len(idx) == len(t0):  # (every leg: no copies)
                idx = idx[self._may_come_low(p0, p1, self.clearance[vehicle])]
            else:
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
        clearance, with room to spare; only legs within 2 x 2 blocks are judged
        (see :func:`_may_come_low`)."""
        terrain = self.sim.world.terrain
        top = self._block_top
        if top is None:
            h = np.asarray(terrain.heights_m, dtype=np.float64)
            ny, nx = h.shape
            pad = np.pad(h, ((0, -ny % _BLOCK), (0, -nx % _BLOCK)), constant_values=-np.inf)
            top = self._block_top = pad.reshape(pad.shape[0] // _BLOCK, _BLOCK,
                                                pad.shape[1] // _BLOCK, _BLOCK).max(axis=(1, 3))
        ny, nx = np.shape(terrain.heights_m)
        return _may_come_low(np.asarray(p0, dtype=np.float64), np.asarray(p1, dtype=np.float64),
                             np.asarray(clearance, dtype=np.float64), top,
                             float(terrain.origin_m[0]), float(terrain.origin_m[1]),
                             float(terrain.spacing_m), nx, ny)

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
        legs = legs_of(vehicle, involved)
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


@njit(cache=True)
def _max(a, b):
    """``np.maximum`` of two numbers (NaN if either is)."""
    return a if (a >= b or a != a) else b


@njit(cache=True)
def _may_come_low(p0, p1, clearance, top, ox, oy, s, nx, ny):
    """:meth:`Monitor._may_come_low` with the highest terrain ``top`` of each block: the
    cells a sample's height is interpolated from lie within the leg's extent and one
    cell around it, clamped to the grid (``nx`` x ``ny`` cells of ``s`` metres from
    ``(ox, oy)``); a leg whose cells lie within 2 x 2 blocks surely stays clear if
    ``low - clearance - high > 1e-6 |low| + 1e-3`` (``low`` its lower end, ``high`` the
    blocks' top). Not finite: it may."""
    n = len(p0)
    out = np.ones(n, dtype=np.bool_)
    for i in range(n):
        ax, ay, az = p0[i, 0], p0[i, 1], p0[i, 2]
        bx, by, bz = p1[i, 0], p1[i, 1], p1[i, 2]
        if ax != ax or ay != ay or bx != bx or by != by or az != az or bz != bz:
            continue
        cx0 = np.floor((min(ax, bx) - ox) / s) - 1
        cx1 = np.floor((max(ax, bx) - ox) / s) + 2
        cy0 = np.floor((min(ay, by) - oy) / s) - 1
        cy1 = np.floor((max(ay, by) - oy) / s) + 2
        if not (np.isfinite(cx0) and np.isfinite(cx1) and np.isfinite(cy0)
                and np.isfinite(cy1)):
            continue
        bx0 = int(min(max(cx0, 0.0), nx - 1.0)) // _BLOCK
        bx1 = int(min(max(cx1, 0.0), nx - 1.0)) // _BLOCK
        by0 = int(min(max(cy0, 0.0), ny - 1.0)) // _BLOCK
        by1 = int(min(max(cy1, 0.0), ny - 1.0)) // _BLOCK
        if bx1 - bx0 > 1 or by1 - by0 > 1:
            continue
        high = _max(_max(top[by0, bx0], top[by0, bx1]), _max(top[by1, bx0], top[by1, bx1]))
        low = min(az, bz)
        out[i] = not (low - clearance[i] - high > 1e-6 * abs(low) + 1e-3)
    return out


_time_of = itemgetter(0)


class _Queue:
    """In-leg events found ahead of their time, released in time order (events at the
    same time in the order they were found): each pass's events sorted once, as a batch."""

    __slots__ = ("batches",)

    def __init__(self) -> None:
        self.batches: list[list] = []  # [times, events, index of the first left]

    def add(self, events: list[tuple]) -> None:
        if events:
            events = sorted(events, key=_time_of)  # stable: found order at equal times
            self.batches.append([[e[0] for e in events], events, 0])

    def due(self, now: float) -> list[tuple]:
        """The events at or before ``now``, taken out, in order."""
        out: list[tuple] = []
        left = []
        for b in self.batches:
            times, events, i = b
            k = bisect_right(times, now, i)
            if k > i:
                out += events[i:k]
                if 2 * k > len(times):  # drop what was taken
                    del times[:k], events[:k]
                    k = 0
                b[2] = k
            if k < len(times):
                left.append(b)
        self.batches = left
        if len(out) > 1:
            out.sort(key=_time_of)  # stable: batches in the order found
        return out

    def withdraw(self, ids) -> set[int]:
        """Take out the queued events whose ``id()`` is in ``ids``; returns theirs."""
        gone: set[int] = set()
        for b in self.batches:
            times, events, i = b
            keep = [e for e in events[i:] if id(e) not in ids]
            if len(keep) < len(events) - i:
                gone.update(id(e) for e in events[i:] if id(e) in ids)
                b[0], b[1], b[2] = [e[0] for e in keep], keep, 0
        self.batches = [b for b in self.batches if b[2] < len(b[0])]
        return gone

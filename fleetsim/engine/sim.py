"""The run object: vehicles' processes on a simpy clock, legs and the event log.

A vehicle moves along straight legs at constant speed; nothing steps
positions on a clock. Each leg is one simpy timeout. What happens during a leg
(detections, zone crossings, terrain violations) is found in vectorised
batches by :class:`fleetsim.engine.monitor.Monitor`; energy is handled per leg
in closed form: the leg that would cross the reserve ends where it does.
"""

from __future__ import annotations

import gc
import math
import time
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Sequence

import numpy as np
import shapely
import simpy
from simpy.events import Event
from simpy.exceptions import Interrupt

from fleetsim.engine.logistics import Logistics
from fleetsim.engine.monitor import Monitor
from fleetsim.engine.motion import MAX_DETOUR, MotionModel
from fleetsim.engine.oversight import Oversight
from fleetsim.engine.separation import Separation
from fleetsim.engine.states import (
    CHARGING,
    DOWN,
    GROUND,
    HOLDING,
    LANDING,
    LOCKED_STATES,
    MOVING,
    QUEUED,
    RETURNING,
    STATES,
    TAKEOFF,
)
from fleetsim.engine.tables import (
    E_KIND,
    E_LEG,
    E_TARGET,
    E_TIME,
    E_VALUE,
    E_VEHICLE,
    E_X,
    E_Z,
    E_ZONE,
    EVENT_KIND_CODE,
    EVENT_WIDTH,
    L_B,
    L_E,
    L_T1,
    L_VEHICLE,
    L_X1,
    L_Y1,
    L_Z1,
    LEG_KIND_CODE,
    EventLog,
    LegStore,
)
from fleetsim.engine.view import EngineFleetView
from fleetsim.errors import PolicyError
from fleetsim.logistics.network import Network
from fleetsim.policy import (
    ASSIGNED,
    CARRIED,
    DELIVERED,
    FAILED,
    ORDER_STATES,
    WAITING,
    Deliver,
    GoTo,
    Hold,
    Pickup,
    Plan,
    Policy,
    PolicyContext,
    Request,
    ReturnHome,
    Route,
    Survey,
    make_policy,
)
from fleetsim.record import RecordedRun
from fleetsim.rng import RandomStreams
from fleetsim.scenario.model import AUTH_RULES, Scenario
from fleetsim.world.world import World, build_world

_K_GROUND = LEG_KIND_CODE["ground"]
_K_TAKEOFF = LEG_KIND_CODE["takeoff"]
_K_MOVE = LEG_KIND_CODE["move"]
_K_HOLD = LEG_KIND_CODE["hold"]
_K_RETURN = LEG_KIND_CODE["return"]
_K_LAND = LEG_KIND_CODE["land"]
_K_WAIT = LEG_KIND_CODE["wait_pad"]
_K_CHARGE = LEG_KIND_CODE["charge"]
_K_WAIT_LOAD = LEG_KIND_CODE["wait_load"]
_K_LOAD = LEG_KIND_CODE["load"]
_K_UNLOAD = LEG_KIND_CODE["unload"]
_K_DOCKED = LEG_KIND_CODE["docked"]

#: Priority of the decision dispatch: after every ordinary event at the same time,
#: so all requests due at one simulated time reach the policy in one call.
_DISPATCH_PRIORITY = 2
_INF = float("inf")
_NAN = float("nan")
#: A vehicle asks its policy at most this often at one simulated instant.
_MAX_ASKS_AT_ONE_TIME = 3
_ARRIVE = EVENT_KIND_CODE["arrive"]


def _where(exc: BaseException) -> str:
    """``file:line in function`` of a policy's exception: the innermost frame outside
    installed libraries and the engine (the policy's own line), else the innermost."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "no traceback"
    own = [f for f in frames if "site-packages" not in f.filename
           and "/fleetsim/engine/" not in f.filename]
    f = (own or frames)[-1]
    return f"{f.filename}:{f.lineno} in {f.name}"


def _summary(requests) -> str:
    shown = ", ".join(f"vehicle {r.vehicle} {r.reason}" for r in requests[:3])
    return shown + (", ..." if len(requests) > 3 else "")


class _ReserveReached(Exception):
    pass


class _Depleted(Exception):
    pass


class Simulation:
    """One run of one scenario. Owns its clock, world, fleet, RNG streams and log.

    Parameters
    ----------
    scenario:
        A validated scenario.
    world:
        The static world, if already built (it is built from the scenario otherwise).
    policy:
        A policy instance to use instead of the scenario's (its params are still
        parsed from the scenario's policy section against its class).
    motion:
        The motion model class (leg durations and energy, the reserve point); it is
        built from the fleet's parameter lists.
    """

    def __init__(self, scenario: Scenario, *, world: World | None = None,
                 policy: Policy | None = None,
                 motion: type[MotionModel] = MotionModel) -> None:
        self.scenario = scenario
        self.streams = RandomStreams(scenario.run.seed)
        self.world = world if world is not None else build_world(scenario, self.streams)
        self.env = simpy.Environment()
        self.legs = LegStore()
        self.log = EventLog()
        self.duration_s = float(scenario.run.duration_s)
        if policy is None:
            self.policy, params = make_policy(scenario)
        else:
            from fleetsim.policy import parse_params
            self.policy = policy
            params = parse_params(type(policy), scenario.policy.params, scenario=scenario)
        self.policy_name = getattr(self.policy, "name", "") or type(self.policy).__name__
        self._setup_fleet()
        self.motion = motion(self)
        needs_logistics = (scenario.logistics is not None or self.world.roads is not None
                           or self.world.water is not None
                           or any(c >= 0 for c in self.carrier_of))
        self.logistics = Logistics(self) if needs_logistics else None
        # Policies get copies: as the networks are at the start (roads close in the
        # engine's own), and nothing a policy does to them reaches the engine.
        networks = {} if self.logistics is None else {
            d: Network(net.graph, net.kind) for d, net in self.logistics.networks.items()}
        try:
            self.policy.reset(PolicyContext(
                world=self.world, vehicle_types=scenario.vehicle_types,
                vehicle_type_index=self._ro(np.asarray(self.type_index, dtype=np.int32)),
                home_xy=self._ro(self.home_xy_arr), duration_s=self.duration_s,
                params=params, rng=self.streams.get("policy"), scenario=scenario,
                networks=networks))
        except Exception as exc:  # the policy's own bug
            raise PolicyError(f"reset() raised {type(exc).__name__}: {exc} ({_where(exc)})",
                              policy=self.policy_name, time_s=0.0) from exc
        self.view = EngineFleetView(self)
        self.monitor = Monitor(self)
        self.oversight = Oversight(self) if scenario.oversight is not None else None
        self.separation = Separation(self) if scenario.separation is not None else None
        sep = scenario.separation
        #: Altitude layering by heading: metres per quadrant (0: off).
        self._layering = sep.layer_spacing_m if sep is not None and sep.layering == "heading" \
            else 0.0
        self._lost_check: set[int] = set()  # out of link: must the vehicle stop going on?
        self._finishing = False  # the run is over: legs are being closed at its end
        self._planned: set[int] = set()  # vehicles given a plan in the current dispatch
        self._pending: list[Request] = []
        self._dispatch_event: Event | None = None
        self._never = Event(self.env)  # never triggered: a process waits on it until interrupted
        self.wall_s: dict[str, float] = {}
        self.n_decisions = 0
        self.policy_wall_s = 0.0  # wall time spent inside the policy's decide()

    @staticmethod
    def _ro(a: np.ndarray) -> np.ndarray:
        a = np.array(a)
        a.setflags(write=False)
        return a

    # ------------------------------------------------------------------ set-up

    def _setup_fleet(self) -> None:
        sc, world = self.scenario, self.world
        types = {t.id: i for i, t in enumerate(sc.vehicle_types)}
        type_idx, base_idx = [], []
        for g in sc.vehicles:
            type_idx += [types[g.type]] * g.count
            base_idx += [world.site(g.base).index] * g.count
        n = self.n = len(type_idx)
        self.type_index = type_idx
        self.base_index = base_idx
        vt = sc.vehicle_types
        self.speed = [vt[i].cruise_speed_mps for i in type_idx]
        self.climb = [vt[i].climb_rate_mps for i in type_idx]
        self.agl = [vt[i].cruise_altitude_agl_m for i in type_idx]
        self.capacity = [vt[i].battery_wh for i in type_idx]
        self.reserve = [vt[i].battery_wh * vt[i].reserve_fraction for i in type_idx]
        self.p_hover = [vt[i].hover_power_w / 3600.0 for i in type_idx]  # Wh per s
        self.p_cruise = [vt[i].cruise_power_w / 3600.0 for i in type_idx]
        self.recharge_s = [vt[i].recharge_time_s for i in type_idx]
        self.radius = [vt[i].sensor.footprint_radius_m for i in type_idx]
        self.clearance = [vt[i].terrain_clearance_m for i in type_idx]
        self.turn_pen = [vt[i].turn_penalty_s_per_rad for i in type_idx]
        self.leg_over = [vt[i].leg_overhead_s for i in type_idx]
        self.climb_wh = [vt[i].climb_energy_wh_per_m for i in type_idx]
        self.corrected = [bool(a or b or c) for a, b, c in
                           zip(self.turn_pen, self.leg_over, self.climb_wh, strict=True)]
        self.domain = [vt[i].domain for i in type_idx]
        self.is_air = [d == "air" for d in self.domain]
        self.payload = [vt[i].payload_kg for i in type_idx]
        self.fuel = [vt[i].energy == "fuel" for i in type_idx]
        # Vehicles that ride on others (the mothership pattern): shared out in turn
        # among the carriers at the same base.
        self.carrier_of = [-1] * n
        hosts: dict[tuple[str, int], list[int]] = {}
        for v in range(n):
            hosts.setdefault((vt[type_idx[v]].id, base_idx[v]), []).append(v)
        turn: dict[tuple[str, int], int] = {}
        for v in range(n):
            host_type = vt[type_idx[v]].carrier
            if host_type is not None:
                key = (host_type, base_idx[v])
                k = turn.get(key, 0)
                turn[key] = k + 1
                mine = hosts[key]
                self.carrier_of[v] = mine[k % len(mine)]
        self.is_carrier = [False] * n
        for c in self.carrier_of:
            if c >= 0:
                self.is_carrier[c] = True
        self.docked = np.array([c >= 0 for c in self.carrier_of], dtype=bool).reshape(-1)
        self.dock_t = [0.0] * n
        self.leg_hist: dict[int, list[int]] = {v: [] for v in range(n) if self.is_carrier[v]}
        self.cur_item: list[tuple | None] = [None] * n
        sites = world.sites
        self.home_xy_arr = np.array([sites[b].xy for b in base_idx], dtype=np.float64).reshape(-1, 2)
        ground = world.terrain.height_at(self.home_xy_arr[:, 0], self.home_xy_arr[:, 1]) \
            if n else np.zeros(0)
        self.home_z = [float(z) for z in np.atleast_1d(ground)]
        #: Where each vehicle goes home to (its base; for a carried vehicle, where it
        #: last left its carrier).
        self.home_xy = [(float(x), float(y)) for x, y in self.home_xy_arr.tolist()]
        self.home_now = self.home_xy_arr.copy()  # the same, as an array
        self.pads = [simpy.Resource(self.env, capacity=s.pads) for s in sites]
        # Dynamic state, as plain lists for cheap scalar access in the hot path.
        self.state = [GROUND] * n
        self.battery = list(self.capacity)  # at the start of the current leg
        self.px = [float(x) for x in self.home_xy_arr[:, 0]]
        self.py = [float(y) for y in self.home_xy_arr[:, 1]]
        self.pz = list(self.home_z)
        # As numpy arrays: the fleet view reads them for many vehicles at once.
        self.cur_leg = np.full(n, -1, dtype=np.int64)
        # What each vehicle is flying now: the ids of its legs (a route block, or one
        # leg) and their start times. A route block that ends normally can be
        # continued by later routes (``blk_open``).
        self.blk_t0: list[list[float]] = [[] for _ in range(n)]
        self.blk_ids: list[list[int]] = [[] for _ in range(n)]
        self.blk_open = [False] * n
        self.queue: list[deque] = [deque() for _ in range(n)]
        self.waiting = np.zeros(n, dtype=bool)  # idle (hovering or parked) until a plan comes
        self.asking = np.zeros(n, dtype=bool)  # its request is being decided right now
        self.engine_control = [False] * n
        self.end_xy = [(x, y) for x, y in zip(self.px, self.py, strict=True)]
        self.end_t = [0.0] * n
        self.end_ground = [True] * n  # on the ground once its queued actions are done
        self.landed_at = [0.0] * n  # when it last landed at its base
        self.last_ask = [-1.0] * n  # when it last asked its policy for work
        self.asks_now = [0] * n  # ... and how many times at that instant
        self.airborne = 0  # vehicles in the air now
        self.procs: list[simpy.Process] = []
        no_fly = [z.polygon for z in world.zones if z.kind == "no_fly"]
        self._avoid = None
        if no_fly:
            from fleetsim.planning import VisibilityGraph
            self._avoid = VisibilityGraph(no_fly, clearance_m=max(10.0, max(self.radius or [0])))
            self._no_fly_union = shapely.union_all(no_fly)
            self._no_fly_bounds = tuple(self._no_fly_union.bounds)
            shapely.prepare(self._no_fly_union)
            # The zones grown by the routing clearance: a straight line clear of these
            # is what the visibility graph would fly too.
            self._no_fly_grown = shapely.buffer(self._no_fly_union, self._avoid.clearance_m,
                                                join_style="mitre")
            self._grown_bounds = tuple(self._no_fly_grown.bounds)
            shapely.prepare(self._no_fly_grown)
        self._detour_cache: dict[tuple[int, int, int], float] = {}

    # ------------------------------------------------------------------ legs

    def _open_leg(self, v: int, kind: int, sensing: bool, dur: float,
                  x1: float, y1: float, z1: float, power: float) -> int:
        """Start a leg of vehicle ``v`` from where it is; returns the leg id."""
        t0 = self.env.now
        x0, y0, z0 = self.px[v], self.py[v], self.pz[v]
        e = power * dur if dur != _INF else 0.0
        li = self.legs.append((v, kind, sensing, t0, t0 + dur, x0, y0, z0, x1, y1, z1, e,
                               self.battery[v] - e))
        if self.is_carrier[v]:
            self.leg_hist[v].append(li)
        self.cur_leg[v] = li
        self.blk_t0[v] = [t0]
        self.blk_ids[v] = [li]
        self.blk_open[v] = False
        return li

    def _close_leg(self, v: int) -> None:
        """The vehicle's current leg (or route block) ended as planned: move it to the end."""
        _, _, _, _, _, _, _, _, x, y, z, _, b = self.legs.a[self.blk_ids[v][-1]].tolist()
        self.px[v], self.py[v], self.pz[v] = x, y, z
        self.battery[v] = b

    def _cut_leg(self, v: int, t: float) -> None:
        """End what vehicle ``v`` is flying at time ``t``, where it is then.

        The leg holding ``t`` is shortened to end at ``t``; legs of the same route
        block that have not started are cancelled (their events are dropped)."""
        ids = self.blk_ids[v]
        if not ids or self.docked[v]:
            return  # a docked vehicle's legs are its carrier's (see _mirror)
        a = self.legs.a
        # The last leg that started before t (a leg starting exactly at t is cancelled).
        k = max(0, bisect_left(self.blk_t0[v], t) - 1)
        later = ids[k + 1:]
        if later:
            a[later, L_T1] = -_INF  # cancelled: never flown
            a[later, L_E] = 0.0
        del self.blk_t0[v][k + 1:], ids[k + 1:]
        i = ids[k]
        self.cur_leg[v] = i
        self.blk_open[v] = False
        _, _, _, t0, t1, x0, y0, z0, x1, y1, z1, e, b = a[i].tolist()
        if t < t1:
            b0 = b + e
            if t1 == _INF or t1 <= t0:
                f, power = 0.0, 0.0
            else:
                f, power = (t - t0) / (t1 - t0), e / (t1 - t0)
            x1, y1, z1 = x0 + f * (x1 - x0), y0 + f * (y1 - y0), z0 + f * (z1 - z0)
            e = power * (t - t0)
            b = b0 - e
            a[i, L_T1:] = (t, x0, y0, z0, x1, y1, z1, e, b)
        self.px[v], self.py[v], self.pz[v] = x1, y1, z1
        self.battery[v] = b
        if (self.monitor.stations or self.monitor.zones) and not self._finishing \
                and self.is_air[v]:
            self.monitor.vehicle_cut(v, i)

    def _margin_time(self, v: int, power: float, ux: float, uy: float, horizon: float,
                     z_end: float, b0: float | None = None, x0: float | None = None,
                     y0: float | None = None, z0: float | None = None) -> float:
        """Time into a leg at which the battery falls to what the vehicle needs to get
        home (see :meth:`MotionModel.reserve_time`), from where it is by default. Under
        engine control (already going home) the limit is an empty battery."""
        if b0 is None:
            b0, x0, y0, z0 = self.battery[v], self.px[v], self.py[v], self.pz[v]
        if self.engine_control[v]:
            return b0 / power if power > 0 else _INF
        hx, hy = self.home_xy[v]
        if not self.is_air[v]:  # home lies along the network
            detour = self.logistics.detour
        elif self._avoid is not None:  # home lies around no-fly zones
            detour = self._detour
        else:
            detour = None
        return self.motion.reserve_time(v, power, ux, uy, horizon, z_end, b0, x0, y0, z0,
                                        hx, hy, detour)

    def _detour(self, v: int, x: float, y: float, straight: float) -> float:
        """How much longer than the straight line is the way home around no-fly zones
        (1 when the straight line is clear; at most ``MAX_DETOUR``); cached on 50 m cells."""
        hx, hy = self.home_xy[v]
        zx0, zy0, zx1, zy1 = self._no_fly_bounds
        if min(x, hx) > zx1 or max(x, hx) < zx0 or min(y, hy) > zy1 or max(y, hy) < zy0:
            return 1.0  # the way home is nowhere near a no-fly zone
        key = (round(hx / 50.0), round(hy / 50.0), round(x / 50.0), round(y / 50.0))
        f = self._detour_cache.get(key)
        if f is None:
            f = 1.0
            if straight > 1.0 and shapely.intersects(
                    shapely.LineString([(x, y), (hx, hy)]), self._no_fly_union):
                try:
                    path = self._avoid.route((x, y), (hx, hy))
                    f = min(MAX_DETOUR, float(np.hypot(*np.diff(path, axis=0).T).sum())
                            / straight)
                except ValueError:
                    f = 1.0  # inside a zone: straight out
            self._detour_cache[key] = f
        return f

    def _fly(self, v: int, kind: int, sensing: bool, x1: float, y1: float, z1: float,
             power: float, speed: float):
        """Fly a straight leg to (x1, y1, z1); ends early where the battery is down to
        what it takes to get home (or, when already going home, at empty)."""
        dx, dy, dz = x1 - self.px[v], y1 - self.py[v], z1 - self.pz[v]
        dur = self.motion.leg_time(v, dx, dy, dz, speed)
        if dur <= 0.0:
            return
        t_stop = self._margin_time(v, power, dx / dur, dy / dur, dur, z1)
        if t_stop < dur:
            f = t_stop / dur
            self._open_leg(v, kind, sensing, t_stop, self.px[v] + f * dx, self.py[v] + f * dy,
                           self.pz[v] + f * dz, power)
            if t_stop > 0.0:
                yield self.env.timeout(t_stop)
            self._close_leg(v)
            raise _Depleted() if self.engine_control[v] else _ReserveReached()
        self._open_leg(v, kind, sensing, dur, x1, y1, z1, power)
        yield self.env.timeout(dur)
        self._close_leg(v)

    def _fly_route(self, v: int, xs: list, ys: list, zs: list, sensing: bool,
                   speeds: list | None = None, kind: int = _K_MOVE):
        """Fly through waypoints as one block: all legs recorded at once, one timeout.

        Each leg is still exact (its own row, an ``arrive`` event at its end, the
        energy limit solved on it); a cut cancels the legs not yet started.
        """
        now = self.env.now
        power = self.p_cruise[v]
        x0, y0, z0, b = self.px[v], self.py[v], self.pz[v], self.battery[v]
        hx, hy = self.home_xy[v]
        durs, climbs, total, far, top = self.motion.route(v, x0, y0, z0, xs, ys, zs, speeds,
                                                          hx, hy)
        # Quick test for the whole route: if it passes, no leg reaches the limit and
        # none needs solving.
        safe = not self.engine_control[v] and self.motion.route_clear(v, b, power, total, top,
                                                                       far)
        corrected = self.corrected[v]
        t = now
        block, starts, arrivals = [], [], []
        stop = False
        margin_time = self._margin_time
        for i in range(len(xs)):
            dur = durs[i]
            if dur <= 0.0:
                continue
            x1, y1, z1 = xs[i], ys[i], zs[i]
            dx, dy, dz = x1 - x0, y1 - y0, z1 - z0
            if not safe:
                t_stop = margin_time(v, power, dx / dur, dy / dur, dur, z1, b, x0, y0, z0)
                if t_stop < dur:
                    f = t_stop / dur
                    x1, y1, z1, dur, stop = x0 + f * dx, y0 + f * dy, z0 + f * dz, t_stop, True
            e = power * dur
            if corrected:
                e += climbs[i] * (dur / durs[i])  # cut short: only part of the climb
            block.append((v, kind, sensing, t, t + dur, x0, y0, z0, x1, y1, z1, e, b - e))
            starts.append(t)
            t += dur
            b -= e
            x0, y0, z0 = x1, y1, z1
            if stop:
                break
            arrivals.append((t, _ARRIVE, v, len(block) - 1, -1, -1, x1, y1, z1, _NAN, -1, -1))
        if block:
            li0 = self.legs.extend(np.array(block, dtype=np.float64))
            if self.is_carrier[v]:
                self.leg_hist[v].extend(range(li0, li0 + len(block)))
            if arrivals:
                ev = np.array(arrivals, dtype=np.float64)
                ev[:, E_LEG] += li0
                self.log.extend(ev)
            self.blk_t0[v] = starts
            self.blk_ids[v] = list(range(li0, li0 + len(block)))
            self.cur_leg[v] = li0 + len(block) - 1
            self.blk_open[v] = not stop
            if t > now:
                yield self.env.timeout(t - now)
            # Routes handed over meanwhile may have continued the block (see _continue).
            ids = self.blk_ids[v]
            while self.legs.a[ids[-1], L_T1] > self.env.now + 1e-9:
                k = bisect_left(self.blk_t0[v], self.env.now) - 1
                if k > 0:  # forget the legs already flown
                    del self.blk_t0[v][:k], ids[:k]
                yield self.env.timeout(float(self.legs.a[ids[-1], L_T1]) - self.env.now)
            self.blk_open[v] = False
            self._close_leg(v)
        if stop:
            raise _Depleted() if self.engine_control[v] else _ReserveReached()

    def _hover(self, v: int, duration: float | None, kind: int = _K_HOLD):
        """Hover in place for ``duration`` (None: until interrupted or the reserve)."""
        power = self.p_hover[v]
        to_limit = self._margin_time(v, power, 0.0, 0.0, _INF, self.pz[v]) if power > 0 else _INF
        dur = to_limit if duration is None else min(duration, to_limit)
        x, y, z = self.px[v], self.py[v], self.pz[v]
        self._open_leg(v, kind, self.is_air[v], dur, x, y, z, power)
        if dur == _INF:
            yield self._never
        if dur > 0:
            yield self.env.timeout(dur)
        self._close_leg(v)
        if duration is None or dur < duration:
            raise _Depleted() if self.engine_control[v] else _ReserveReached()

    def _ground(self, v: int):
        """Stay parked (no energy use) until interrupted."""
        self._open_leg(v, _K_GROUND, False, _INF, self.px[v], self.py[v], self.pz[v], 0.0)
        yield self._never

    # ------------------------------------------------------------------ phases

    def _takeoff(self, v: int):
        if not self.is_air[v]:  # on the road or the water: it simply sets off
            self.state[v] = MOVING
            return
        if self.docked[v]:
            self._launch(v)
        self.airborne += 1
        self.state[v] = TAKEOFF
        self.log.add(self.env.now, "takeoff", v, x=self.px[v], y=self.py[v], z=self.pz[v])
        z1 = self.pz[v] + self.agl[v]
        dur = self.motion.climb_time(v, self.agl[v])
        self._open_leg(v, _K_TAKEOFF, False, dur, self.px[v], self.py[v], z1, self.p_hover[v])
        yield self.env.timeout(dur)
        self._close_leg(v)
        self.state[v] = MOVING

    def _go_home(self, v: int, *, forced: bool):
        """Go home and recharge (refuel, swap): fly home and land, or drive or sail home
        on the network; a carried vehicle flies back to its carrier."""
        self.state[v] = RETURNING
        self.engine_control[v] = forced
        if self.carrier_of[v] >= 0:
            yield from self._return_to_carrier(v)
            return
        b = self.base_index[v]
        hx, hy = self.world.sites[b].xy
        hz = self.home_z[v]
        self.log.add(self.env.now, "return_start", v,
                     value=math.hypot(hx - self.px[v], hy - self.py[v]))
        if self.is_air[v]:
            path, transit_z = self._return_path(v, hx, hy, hz)
            if transit_z > self.pz[v] + 1e-9:  # climb to a safe transit altitude first
                yield from self._fly(v, _K_RETURN, False, self.px[v], self.py[v], transit_z,
                                     self.p_hover[v], self.speed[v])
            for x, y in path:
                yield from self._fly(v, _K_RETURN, False, x, y, transit_z, self.p_cruise[v],
                                     self.speed[v])
            self.engine_control[v] = True
            self.state[v] = LANDING
            yield from self._fly(v, _K_LAND, False, hx, hy, hz, self.p_hover[v], self.speed[v])
            self.log.add(self.env.now, "landed", v, x=hx, y=hy, z=hz)
            self.airborne -= 1
        else:
            why = yield from self._drive(v, hx, hy, _K_RETURN)
            if why:  # no way home (a road closed behind it): it parks where it is
                self.log.add(self.env.now, "action_refused", v, detail="return")
                self.state[v] = GROUND
                self.engine_control[v] = False
                self.end_xy[v] = (self.px[v], self.py[v])
                self.end_t[v] = self.env.now
                self.end_ground[v] = True
                return
            self.engine_control[v] = True
        self.landed_at[v] = self.env.now
        self.state[v] = QUEUED
        swap = self.logistics.swaps.get(b) if self.logistics is not None else None
        station = swap[0] if swap is not None else self.pads[b]
        req = station.request()
        if not req.triggered:
            self.log.add(self.env.now, "pad_queue", v, value=len(station.queue))
            self._open_leg(v, _K_WAIT, False, _INF, hx, hy, hz, 0.0)
            yield req
            self._cut_leg(v, self.env.now)
        # (A request granted at once needs no yield: the pad is this vehicle's already.)
        self.state[v] = CHARGING
        cap = self.capacity[v]
        if swap is not None:
            dur, how = swap[1], "swap"
        else:
            dur = self.recharge_s[v] * max(0.0, cap - self.battery[v]) / cap
            how = "refuel" if self.fuel[v] else "charge"
        self.log.add(self.env.now, "charge_start", v, value=self.battery[v], detail=how)
        li = self._open_leg(v, _K_CHARGE, False, dur, self.px[v], self.py[v], self.pz[v], 0.0)
        self.legs.a[li, L_B] = cap
        if dur > 0:
            yield self.env.timeout(dur)
        self._close_leg(v)
        self.battery[v] = cap
        self.log.add(self.env.now, "charge_end", v, value=cap, detail=how)
        station.release(req)
        self.state[v] = GROUND
        self.engine_control[v] = False
        self.end_xy[v] = (self.px[v], self.py[v])
        self.end_t[v] = self.env.now
        self.end_ground[v] = True

    # ------------------------------------------------------------------ carriers

    def _position_at(self, v: int, t: float) -> tuple[float, float, float]:
        """Where vehicle ``v`` is at time ``t`` (not before its current block)."""
        t0s = self.blk_t0[v]
        if not t0s:
            return self.px[v], self.py[v], self.pz[v]
        row = self.legs.a[self.blk_ids[v][max(0, bisect_right(t0s, t) - 1)]].tolist()
        t0, t1 = row[3], row[4]
        f = 0.0 if t1 == _INF or t1 <= t0 else min(1.0, max(0.0, (t - t0) / (t1 - t0)))
        return (row[5] + f * (row[8] - row[5]), row[6] + f * (row[9] - row[6]),
                row[7] + f * (row[10] - row[7]))

    def _mirror(self, v: int, t1: float) -> None:
        """Record docked vehicle ``v``'s legs from when it docked until ``t1``: its
        carrier's legs over that time, clipped (the placeholder leg is dropped)."""
        c = self.carrier_of[v]
        t0 = self.dock_t[v]
        a = self.legs.a
        for li in self.blk_ids[v]:
            a[li, L_T1] = -_INF  # the placeholder: never flown as such
            a[li, L_E] = 0.0
        hist = self.leg_hist[c]
        ids = np.asarray(hist, dtype=np.int64)
        rows = a[ids] if len(ids) else np.zeros((0, a.shape[1]))
        live = (rows[:, L_T1] >= rows[:, 3]) & (rows[:, L_T1] > t0) & (rows[:, 3] < t1)
        rows = rows[live].copy()
        if not len(rows) or rows[0, 3] > t0:  # not yet moved since: one leg where it is
            x, y, z = self._position_at(c, t0)
            first = np.array([[v, _K_DOCKED, 0, t0, t0 if not len(rows) else rows[0, 3],
                               x, y, z, x, y, z, 0.0, 0.0]], dtype=np.float64)
            if not len(rows):
                first[0, 4] = t1
            rows = np.vstack([first, rows]) if len(rows) else first
        dur = rows[:, 4] - rows[:, 3]
        # Clip the first and last legs to [t0, t1] (positions interpolated).
        for j, (lo, hi) in ((0, (t0, None)), (len(rows) - 1, (None, t1))):
            r = rows[j]
            a0, a1 = r[3], r[4]
            p0, p1 = r[5:8].copy(), r[8:11].copy()
            span = a1 - a0 if math.isfinite(a1) else 0.0
            if lo is not None and lo > a0:
                f = (lo - a0) / span if span > 0 else 0.0
                r[5:8] = p0 + f * (p1 - p0)
                r[3] = lo
            if hi is not None and (hi < a1 or not math.isfinite(a1)):
                f = (hi - a0) / span if span > 0 else 0.0
                r[8:11] = p0 + f * (p1 - p0)
                r[4] = hi
        del dur
        rows[:, 0] = v
        rows[:, 1] = _K_DOCKED
        rows[:, 2] = 0.0
        rows[:, L_E] = 0.0
        rows[:, L_B] = self.battery[v]
        rows = rows[rows[:, 4] >= rows[:, 3]]
        li0 = self.legs.extend(rows)
        self.blk_t0[v] = rows[:, 3].tolist()
        self.blk_ids[v] = list(range(li0, li0 + len(rows)))
        self.cur_leg[v] = li0 + len(rows) - 1
        self.px[v], self.py[v], self.pz[v] = (float(q) for q in rows[-1, 8:11])

    def _launch(self, v: int) -> None:
        """A docked vehicle leaves its carrier, from where the carrier is now."""
        now = self.env.now
        c = self.carrier_of[v]
        self._mirror(v, now)
        self.docked[v] = False
        x, y, z = self._position_at(c, now)
        self.px[v], self.py[v], self.pz[v] = x, y, z
        self.home_xy[v] = (x, y)
        self.home_now[v] = (x, y)
        self.home_z[v] = z
        self.log.add(now, "launch", v, x=x, y=y, z=z, value=c)

    def _dock(self, v: int) -> None:
        c = self.carrier_of[v]
        now = self.env.now
        self.docked[v] = True
        self.dock_t[v] = now
        self.log.add(now, "dock", v, x=self.px[v], y=self.py[v], z=self.pz[v], value=c)
        # A placeholder until the carrier's legs over the docked time are copied.
        self._open_leg(v, _K_DOCKED, False, _INF, self.px[v], self.py[v], self.pz[v], 0.0)

    def _meet(self, v: int, c: int, duration) -> tuple[float, float, float]:
        """Where carrier ``c`` will be when vehicle ``v`` gets there, if flying a
        distance d takes ``duration(d)`` (fixed point of the carrier's planned legs;
        exact once the carrier has stopped)."""
        now = self.env.now
        x, y, z = self._position_at(c, now)
        for _ in range(8):
            t = now + duration(math.hypot(x - self.px[v], y - self.py[v]))
            nx_, ny_, z = self._position_at(c, t)
            if math.hypot(nx_ - x, ny_ - y) < 1e-6:
                break
            x, y = nx_, ny_
        return x, y, z

    def _return_to_carrier(self, v: int):
        """Fly back to the carrier (chasing it if it moves), land on it, recharge."""
        c = self.carrier_of[v]
        x, y, _ = self._position_at(c, self.env.now)
        self.log.add(self.env.now, "return_start", v, value=math.hypot(x - self.px[v],
                                                                     y - self.py[v]))
        z = self.pz[v]
        speed, climb = self.speed[v], self.climb[v]
        for _ in range(30):  # each leg aims where the carrier will be (its plan known)
            x, y, cz = self._position_at(c, self.env.now)
            if math.hypot(x - self.px[v], y - self.py[v]) < 1.0:
                break
            x, y, cz = self._meet(v, c, lambda d: self.motion.straight_time(v, d))
            transit = max(z, cz + self.agl[v],
                          float(self.world.terrain.height_at(x, y)) + self.agl[v])
            yield from self._fly(v, _K_RETURN, False, x, y, transit, self.p_cruise[v], speed)
        self.engine_control[v] = True
        self.state[v] = LANDING
        # Descend onto where the carrier will be when the landing ends.
        dz = self.pz[v] - self._position_at(c, self.env.now)[2]
        x, y, cz = self._meet(v, c, lambda d: max(self.motion.straight_time(v, d),
                                                 abs(dz) / climb))
        yield from self._fly(v, _K_LAND, False, x, y, cz, self.p_hover[v], speed)
        self.log.add(self.env.now, "landed", v, x=x, y=y, z=cz)
        self.airborne -= 1
        self.landed_at[v] = self.env.now
        self._dock(v)
        self.state[v] = CHARGING
        cap = self.capacity[v]
        dur = self.recharge_s[v] * max(0.0, cap - self.battery[v]) / cap
        self.log.add(self.env.now, "charge_start", v, value=self.battery[v], detail="charge")
        if dur > 0:
            yield self.env.timeout(dur)
        self.battery[v] = cap
        self.log.add(self.env.now, "charge_end", v, value=cap, detail="charge")
        self.state[v] = GROUND
        self.engine_control[v] = False
        self.end_xy[v] = (self.px[v], self.py[v])
        self.end_t[v] = self.env.now
        self.end_ground[v] = True

    # ------------------------------------------------------------------ logistics

    def _drive(self, v: int, x: float, y: float, kind: int = _K_MOVE):
        """Move a ground or sea vehicle to (x, y) on its network; None once there, else
        why not (``no_route``, ``unreachable``). A road closing ahead of it makes it
        re-route from where it is."""
        lg = self.logistics
        if math.hypot(x - self.px[v], y - self.py[v]) < 1e-6:
            return None  # already there
        from_node = None
        while True:
            p = lg.path(v, x, y, from_node)
            if p is None:
                return "no_route"
            if p == "unreachable":
                return "unreachable"
            xs, ys, speeds, nodes = p
            if from_node is not None:
                d = np.hypot(np.diff([self.px[v]] + xs), np.diff([self.py[v]] + ys)).sum()
                self.log.add(self.env.now, "reroute", v, x=self.px[v], y=self.py[v],
                             value=float(d))
            zs = self.world.terrain.height_at(np.asarray(xs), np.asarray(ys)).tolist()
            connector = math.hypot(xs[0] - self.px[v], ys[0] - self.py[v]) > 0.0
            lg.driving[v] = (nodes, connector)
            try:
                yield from self._fly_route(v, xs, ys, zs, False, speeds, kind)
            except Interrupt as intr:
                if isinstance(intr.cause, tuple) and intr.cause[0] == "reroute":
                    from_node = intr.cause[1]
                    continue
                raise
            finally:
                lg.driving.pop(v, None)
            return None

    def current_leg_index(self, v: int) -> int:
        """Position (0-based) in its current block of the leg vehicle ``v`` is on now."""
        return max(0, bisect_right(self.blk_t0[v], self.env.now) - 1)

    def reroute(self, v: int, node: int) -> None:
        """A road closed on vehicle ``v``'s way: it stops where it is and goes on from
        ``node`` (the end of the road it is on, or back to its start)."""
        self._cut_leg(v, self.env.now)
        self.procs[v].interrupt(("reroute", node))

    def _travel(self, v: int, x: float, y: float, sensing: bool = False):
        """Go to (x, y) the vehicle's way: air vehicles fly (around no-fly zones) at
        cruise altitude; ground and sea vehicles move on their network. None once
        there, else why not."""
        if not self.is_air[v]:
            if self.state[v] == GROUND:
                self.state[v] = MOVING
            return (yield from self._drive(v, x, y))
        start = (self.px[v], self.py[v]) if not self.docked[v] else \
            self._position_at(self.carrier_of[v], self.env.now)[:2]
        if self.state[v] == GROUND and not self.docked[v] and \
                math.hypot(x - start[0], y - start[1]) < 1e-6:
            return None  # already there, on the ground (a docked one takes off all the same)
        pts = [(x, y)]
        if self._avoid is not None:
            if shapely.intersects_xy(self._no_fly_union, x, y):
                return "unreachable"
            if self._crosses_no_fly(start, (x, y)):
                try:
                    pts = [tuple(p) for p in self._avoid.route(start, (x, y))[1:].tolist()]
                except ValueError:
                    pass  # it is inside a zone: straight out
        if self.state[v] == GROUND:
            yield from self._takeoff(v)
        self.state[v] = MOVING
        xs = [p[0] for p in pts]
        ys = [p[1] for p in pts]
        zs = (self.world.terrain.height_at(np.asarray(xs), np.asarray(ys)) + self.agl[v]).tolist()
        yield from self._fly_route(v, xs, ys, zs, sensing)
        return None

    def _pickup(self, v: int, k: int):
        """Load order ``k``: from the carrier the vehicle rides on, or at its depot."""
        lg = self.logistics
        tab = lg.table
        now = self.env.now
        c = self.carrier_of[v]
        if self.docked[v] and tab.status[k] == CARRIED and tab.vehicle[k] == c:
            if lg.load_kg[v] + tab.weight_kg[k] > self.payload[v] + 1e-9:
                lg.fail(k, "capacity", c)
                return
            if lg.transfer_s > 0:
                yield self.env.timeout(lg.transfer_s)
            if tab.status[k] != CARRIED or tab.vehicle[k] != c:
                self.log.add(self.env.now, "action_refused", v, target=k, detail="pickup")
                return
            lg.unload(c, k)
            self._loaded(v, k, "carrier")
            return
        if tab.status[k] != ASSIGNED or tab.vehicle[k] != v:
            return  # no longer this vehicle's to pick up
        if lg.load_kg[v] + tab.weight_kg[k] > self.payload[v] + 1e-9:
            lg.fail(k, "capacity", v)
            return
        if self.is_air[v] and self._avoid is not None and \
                shapely.intersects_xy(self._no_fly_union, *tab.dest_xy[k].tolist()):
            lg.fail(k, "unreachable", v)  # addressed inside a no-fly zone: not worth loading
            return
        site = int(tab.origin[k])
        sx, sy = self.world.sites[site].xy
        why = yield from self._travel(v, sx, sy)
        if why:
            lg.fail(k, "no_route", v)
            return
        if self.is_air[v] and self.state[v] != GROUND:  # land to load
            self.state[v] = LANDING
            ground = float(self.world.terrain.height_at(sx, sy))
            yield from self._fly(v, _K_LAND, False, sx, sy, ground, self.p_hover[v],
                                 self.speed[v])
            self.log.add(self.env.now, "landed", v, x=sx, y=sy, z=ground)
            self.airborne -= 1
            self.landed_at[v] = self.env.now
            self.state[v] = GROUND
        bay = lg.bays[site]
        with bay.request() as req:
            if not req.triggered:
                self.log.add(self.env.now, "load_queue", v, target=k, value=len(bay.queue),
                             detail=self.world.sites[site].id)
                self._open_leg(v, _K_WAIT_LOAD, False, _INF, self.px[v], self.py[v],
                               self.pz[v], 0.0)
                yield req
                self._cut_leg(v, self.env.now)
            if tab.status[k] != ASSIGNED or tab.vehicle[k] != v:
                return
            stock = lg.stock[site]
            if stock is not None:
                if stock.level < 1:
                    lg.fail(k, "stock", v)
                    return
                stock.get(1)
            dur = lg.loading_s[site]
            self._open_leg(v, _K_LOAD, False, dur, self.px[v], self.py[v], self.pz[v], 0.0)
            if dur > 0:
                yield self.env.timeout(dur)
            self._close_leg(v)
        del now
        self._loaded(v, k, self.world.sites[site].id)

    def _loaded(self, v: int, k: int, where: str) -> None:
        lg = self.logistics
        tab = lg.table
        if self.docked[v]:
            self.px[v], self.py[v], self.pz[v] = self._position_at(self.carrier_of[v],
                                                                   self.env.now)
        lg.set_status(k, CARRIED)
        tab.vehicle[k] = v
        lg.carried[v].append(k)
        lg.load_kg[v] += float(tab.weight_kg[k])
        self.log.add(self.env.now, "pickup", v, target=k, x=self.px[v], y=self.py[v],
                     z=self.pz[v], value=float(tab.weight_kg[k]), detail=where)

    def _deliver(self, v: int, k: int):
        """Take order ``k`` to its destination and hand it over."""
        lg = self.logistics
        tab = lg.table
        if tab.status[k] == FAILED:
            return
        if k not in lg.carried[v]:
            raise self._fail(f"Deliver({k}): the vehicle does not carry order {k} (it is "
                             f"{ORDER_STATES[tab.status[k]]}"
                             f"{'' if tab.vehicle[k] < 0 else f', vehicle {tab.vehicle[k]}'}); "
                             "plan a Pickup of it first", v)
        x, y = tab.dest_xy[k].tolist()
        why = yield from self._travel(v, x, y)
        if why:
            lg.fail(k, why, v)
            return
        early = float(tab.earliest_s[k]) - self.env.now
        if early > 0:  # too early for the customer: it waits there
            if self.is_air[v]:
                self.state[v] = HOLDING
                yield from self._hover(v, early)
            else:
                self._open_leg(v, _K_HOLD, False, early, self.px[v], self.py[v], self.pz[v],
                               self.p_hover[v])
                yield self.env.timeout(early)
                self._close_leg(v)
        dur = lg.service_s
        if self.is_air[v]:
            self.state[v] = HOLDING
            yield from self._hover(v, dur, _K_UNLOAD)
        else:
            self._open_leg(v, _K_UNLOAD, False, dur, self.px[v], self.py[v], self.pz[v],
                           self.p_hover[v])
            if dur > 0:
                yield self.env.timeout(dur)
            self._close_leg(v)
        lg.unload(v, k)
        lg.set_status(k, DELIVERED)
        self.log.add(self.env.now, "delivered", v, target=k, x=self.px[v], y=self.py[v],
                     z=self.pz[v], value=self.env.now - float(tab.created_s[k]))

    def _clear_queue(self, v: int) -> None:
        """Drop the vehicle's queued actions; orders it was to pick up go back to waiting."""
        if self.logistics is not None:
            self.logistics.release(v, self._pickups_planned(v))
        self.queue[v].clear()

    def _pickups_planned(self, v: int) -> list[int]:
        """Orders vehicle ``v`` is to pick up: in its queue, and the one it is on now."""
        mine = [it[1] for it in self.queue[v] if it[0] == "pickup"]
        cur = self.cur_item[v]
        if cur is not None and cur[0] == "pickup":
            mine.append(cur[1])
        return mine

    def _return_path(self, v: int, hx: float, hy: float, hz: float
                     ) -> tuple[list[tuple[float, float]], float]:
        """Waypoints home around the no-fly zones, and a transit altitude that clears
        the terrain under them by the cruise altitude (sampled at the grid spacing)."""
        start = (self.px[v], self.py[v])
        pts = np.array([start, (hx, hy)])
        if self._avoid is not None and self._crosses_no_fly(start, (hx, hy)):
            try:
                pts = self._avoid.route(start, (hx, hy))
            except ValueError:  # inside a zone already: straight home is the way out
                pass
        terrain = self.world.terrain
        if len(pts) == 2:  # the common case, kept lean
            seg = math.hypot(hx - start[0], hy - start[1])
            f = np.linspace(0.0, 1.0, max(2, math.ceil(seg / terrain.spacing_m) + 1))
            ground = float(np.max(terrain.height_at(start[0] + f * (hx - start[0]),
                                                    start[1] + f * (hy - start[1]))))
        else:
            seg = np.hypot(*np.diff(pts, axis=0).T)
            n = np.maximum(2, np.ceil(seg / terrain.spacing_m).astype(int) + 1)
            samples = np.concatenate([np.linspace(a, b, k) for a, b, k in
                                      zip(pts[:-1], pts[1:], n.tolist(), strict=True)])
            ground = float(np.max(terrain.height_at(samples[:, 0], samples[:, 1])))
        transit_z = max(self.pz[v], hz + self.agl[v], ground + self.agl[v])
        return [tuple(p) for p in pts[1:].tolist()], transit_z

    def _crosses_no_fly(self, a: tuple[float, float], b: tuple[float, float]) -> bool:
        """Does the straight line from ``a`` to ``b`` come within the routing clearance
        of a no-fly zone?"""
        zx0, zy0, zx1, zy1 = self._grown_bounds
        if min(a[0], b[0]) > zx1 or max(a[0], b[0]) < zx0 or min(a[1], b[1]) > zy1 \
                or max(a[1], b[1]) < zy0:
            return False
        return bool(shapely.intersects(shapely.LineString([a, b]), self._no_fly_grown))

    def _execute(self, v: int, item: tuple):
        """Carry out one queued action; returns a reason to ask the policy with, or None."""
        op = item[0]
        ov = self.oversight
        if ov is not None:
            # The action's own authorization first, then the take-off's, and the span
            # of control checked at the moment of leaving the ground.
            why = yield from self._authorized(v, item[-1])
            if why:
                return why
            if op != "return" and self.state[v] == GROUND and self.is_air[v]:
                if not ov.may_take_off(v):
                    self._clear_queue(v)
                    return "approval_denied"
                why = yield from self._authorized(v, "takeoff")
                if why:
                    return why
                if not ov.may_take_off(v):  # others may have gone up while it waited
                    self._clear_queue(v)
                    return "approval_denied"
        if op == "route":
            if self.state[v] == GROUND and self.is_air[v] and self.separation is not None \
                    and self.separation.spec.strategic is not None and not self.docked[v]:
                item = yield from self.separation.reserve(v, item)
            _, xs, ys, zs, sensing, _length, _cls = item
            if self.state[v] == GROUND:
                yield from self._takeoff(v)
            self.state[v] = MOVING
            yield from self._fly_route(v, xs, ys, zs, sensing)
        elif op == "hold":
            if self.state[v] == GROUND:
                yield from self._takeoff(v)
            self.state[v] = HOLDING
            yield from self._hover(v, item[1])
        elif op == "return":
            if self.state[v] != GROUND:
                yield from self._go_home(v, forced=False)
        elif op == "travel":
            for x, y in item[1]:
                why = yield from self._travel(v, x, y)
                if why:
                    self.log.add(self.env.now, "action_refused", v, x=x, y=y, detail=why)
                    break
        elif op == "dodge":  # give way: step vertically, hold, then the route goes on
            _, dz, hold, _cls = item
            self.state[v] = HOLDING
            if dz:
                yield from self._fly(v, _K_MOVE, True, self.px[v], self.py[v], self.pz[v] + dz,
                                     self.p_hover[v], self.speed[v])
            yield from self._hover(v, hold)
        elif op == "pickup":
            yield from self._pickup(v, item[1])
        elif op == "deliver":
            yield from self._deliver(v, item[1])
        return None

    def _authorized(self, v: int, action_class: str):
        """Wait for the authorization ``action_class`` needs; None if the action may go
        ahead (and its start is logged), else the reason to ask the policy again."""
        ov = self.oversight
        rule = ov.rule(action_class)
        if rule.rule == "auto":
            return None
        ok, operator, why = yield from ov.authorize(v, action_class)
        if ok:
            if rule.rule != "auto":
                self.log.add(self.env.now, "action_start", v, operator=operator,
                             detail=action_class, value=AUTH_RULES.index(rule.rule))
            return None
        self._clear_queue(v)
        return why

    def _wait_on_ground(self, v: int, duration_s: float):
        """Stay parked for ``duration_s``."""
        self._open_leg(v, _K_GROUND, False, duration_s, self.px[v], self.py[v], self.pz[v],
                       0.0)
        yield self.env.timeout(duration_s)
        self._close_leg(v)

    def _wait_for(self, v: int, ev: Event, limit_s: float | None):
        """Wait, hovering (or parked), until ``ev`` fires or ``limit_s`` passes.

        Returns True if ``ev`` fired first. Hovering still goes home at the energy
        limit (raises the reserve exception, as any hover does)."""
        if ev.triggered and ev.processed:
            return True
        airborne = self.state[v] != GROUND
        if airborne:
            self.state[v] = HOLDING
            power = self.p_hover[v]
            to_limit = self._margin_time(v, power, 0.0, 0.0, _INF, self.pz[v]) \
                if power > 0 else _INF
        else:
            power, to_limit = 0.0, _INF
        span = to_limit if limit_s is None else min(to_limit, limit_s)
        self._open_leg(v, _K_HOLD if airborne else _K_GROUND, airborne, span,
                       self.px[v], self.py[v], self.pz[v], power)
        waits = [ev]
        if span != _INF:
            waits.append(self.env.timeout(span))
        yield self.env.any_of(waits)
        fired = ev.triggered
        self._cut_leg(v, self.env.now)
        if not fired and (limit_s is None or to_limit < limit_s):
            raise _Depleted() if self.engine_control[v] else _ReserveReached()
        return fired

    def _vehicle(self, v: int):
        reason = "start"
        while True:
            try:
                q = self.queue[v]
                if q and q[0][0] == "stop":
                    yield from self._safe_state(v, q.popleft()[1])
                    return
                if q:
                    item = self.cur_item[v] = q.popleft()
                    try:
                        why = yield from self._execute(v, item)
                    finally:
                        self.cur_item[v] = None
                    reason = why or ("recharged" if self.state[v] == GROUND else "idle")
                    continue
                now = self.env.now
                self.asks_now[v] = self.asks_now[v] + 1 if self.last_ask[v] == now else 1
                if self.asks_now[v] > _MAX_ASKS_AT_ONE_TIME and reason != "start":
                    # Its plans keep ending at once (a GoTo to where it is, a refused
                    # action retried): asking again now would loop forever, so it stays
                    # put until the policy gives it something (a periodic request, say).
                    pass
                else:
                    self.last_ask[v] = now
                    self.asking[v] = True
                    try:
                        yield self._request(v, reason)
                    finally:
                        self.asking[v] = False
                    if self.queue[v]:
                        continue
                self.waiting[v] = True
                try:
                    if self.docked[v]:
                        yield self._never  # riding on its carrier until given a plan
                    elif self.state[v] == GROUND:
                        yield from self._ground(v)
                    else:
                        self.state[v] = HOLDING
                        yield from self._hover(v, None)
                finally:
                    self.waiting[v] = False
            except Interrupt as stop:
                cause = stop.cause
                if isinstance(cause, tuple) and cause[0] == "stop":
                    yield from self._safe_state(v, cause[1])
                    return
                if isinstance(cause, tuple) and cause[0] == "lost_link":
                    try:
                        yield from self._go_home(v, forced=True)
                    except _Depleted:
                        self._down(v)
                        return
                    if self.oversight.stopped[v]:
                        yield from self._safe_state(v, "return")
                        return
                    reason = "recharged"
                    continue
                reason = "recharged" if self.state[v] == GROUND else "idle"
                continue
            except _ReserveReached:
                self.log.add(self.env.now, "reserve_reached", v, self.cur_leg[v],
                             value=self.battery[v])
                self._clear_queue(v)
                if self.logistics is not None:
                    self.logistics.fail_carried(v, "battery")
                self._request(v, "reserve")
                try:
                    yield from self._go_home(v, forced=True)
                except _Depleted:
                    self._down(v)
                    return
                if self.oversight is not None and self.oversight.stopped[v]:
                    yield from self._safe_state(v, "return")
                    return
                reason = "recharged"
            except _Depleted:
                self._down(v)
                return

    def view_position(self, v: int) -> tuple[float, float, float]:
        self.view.now_s = self.env.now
        return tuple(self.view.positions([v])[0].tolist())

    def _stop_vehicle(self, v: int, safe_state: str) -> None:
        """An operator's stop reached vehicle ``v``: take it to its safe state."""
        proc = self.procs[v]
        if self.state[v] in (LANDING, QUEUED, CHARGING) or self.engine_control[v]:
            return  # already on its way down: it stays down (see _vehicle)
        if not proc.is_alive:
            return
        self._clear_queue(v)
        if self.asking[v]:
            self.queue[v].append(("stop", safe_state))
            return
        self._cut_leg(v, self.env.now)
        proc.interrupt(("stop", safe_state))

    def _safe_state(self, v: int, safe_state: str):
        """Fly home and land (``return``) or land where it is (``land``), then park."""
        if self.state[v] != GROUND:
            try:
                if safe_state == "land":
                    self.state[v] = LANDING
                    ground = float(self.world.terrain.height_at(self.px[v], self.py[v]))
                    self.engine_control[v] = True
                    yield from self._fly(v, _K_LAND, False, self.px[v], self.py[v], ground,
                                         self.p_hover[v], self.speed[v])
                    self.log.add(self.env.now, "landed", v, x=self.px[v], y=self.py[v],
                                 z=self.pz[v])
                    self.airborne -= 1
                    self.landed_at[v] = self.env.now
                    self.state[v] = GROUND
                else:
                    yield from self._go_home(v, forced=True)
            except _Depleted:
                self._down(v)
                return
        else:
            self.landed_at[v] = self.env.now
        self.oversight.reached_safe_state(v, self.landed_at[v])
        self.state[v] = GROUND
        self._open_leg(v, _K_GROUND, False, _INF, self.px[v], self.py[v], self.pz[v], 0.0)

    def _down(self, v: int) -> None:
        if self.is_air[v]:
            self.airborne -= 1
        self.log.add(self.env.now, "battery_depleted", v, self.cur_leg[v],
                     x=self.px[v], y=self.py[v], z=self.pz[v])
        self.state[v] = DOWN
        self._clear_queue(v)
        if self.logistics is not None:
            self.logistics.fail_carried(v, "battery")
        self._open_leg(v, _K_GROUND, False, _INF, self.px[v], self.py[v], self.pz[v], 0.0)

    # ------------------------------------------------------------------ decisions

    def _request(self, v: int, reason: str, target: int = -1) -> Event:
        """Queue a decision request; returns the event that fires once it is decided."""
        self._pending.append(Request(v, reason, target))
        ev = self._dispatch_event
        if ev is None:
            ev = self._dispatch_event = Event(self.env)
            ev._ok = True
            ev._value = None
            ev.callbacks.append(self._dispatch)
            self.env.schedule(ev, _DISPATCH_PRIORITY)
        return ev

    def _dispatch(self, event: Event) -> None:
        self._dispatch_event = None
        requests, self._pending = self._pending, []
        now = self.env.now
        self.view.now_s = now
        self.n_decisions += 1
        t_policy = time.perf_counter()
        try:
            plans = self.policy.decide(now, self.view, tuple(requests))
        except Exception as exc:  # the policy's own bug: say where, without our traceback
            raise self._fail(f"decide() raised {type(exc).__name__}: {exc} "
                             f"({_where(exc)}; {len(requests)} request(s): "
                             f"{_summary(requests)})") from exc
        self.policy_wall_s += time.perf_counter() - t_policy
        self._planned.clear()
        if isinstance(plans, Plan) or (plans is not None and not isinstance(plans, (list, tuple))
                                       and not hasattr(plans, "__iter__")):
            raise self._fail(f"decide() must return a sequence of Plan objects (a list), got "
                             f"{type(plans).__name__}")
        if plans:
            self._apply_plans(now, list(plans))
        if self._lost_check:
            self._enforce_lost_link()

    def _lost_link(self, v: int) -> None:
        """A vehicle went out of link: if its rules do not let it fly on by itself and
        its policy does not re-task it now, the engine sends it home."""
        if self.oversight is not None and \
                self.oversight.rule("continue_lost_link").rule in ("forbidden", "approve", "veto"):
            self._lost_check.add(v)

    def _enforce_lost_link(self) -> None:
        for v in sorted(self._lost_check):
            if v in self._planned or not self.is_air[v] or self.monitor.linked_now(v):
                continue
            if self.state[v] in LOCKED_STATES or self.engine_control[v] or \
                    self.state[v] == GROUND or self.oversight.stopped[v]:
                continue
            self.log.add(self.env.now, "action_refused", v, detail="continue_lost_link")
            self._clear_queue(v)
            if not self.asking[v]:
                self._cut_leg(v, self.env.now)
                self.procs[v].interrupt(("lost_link",))
            else:
                self.queue[v].append(("return", "return"))
        self._lost_check.clear()
    def _periodic(self, period: float):
        while True:
            yield self.env.timeout(period)
            state, ctl = self.state, self.engine_control
            due = [v for v in range(self.n) if state[v] not in LOCKED_STATES and not ctl[v]]
            if due:
                self._pending.extend([Request(v, "periodic") for v in due])
                self._request(due[0], "periodic")
                self._pending.pop()

    def _fail(self, message: str, vehicle: int | None = None) -> PolicyError:
        return PolicyError(message, policy=self.policy_name, time_s=self.env.now,
                           vehicle=vehicle)

    def _apply_plans(self, now: float, plans: Sequence[Plan]) -> None:
        """Check plans at the boundary, expand actions to waypoints, and hand them over."""
        parsed = []  # (vehicle, append, [items...]) with route items awaiting heights
        route_pts = []
        booked: dict[int, int] = {}  # order -> vehicle whose plan in this batch picks it up
        for plan in plans:
            if not isinstance(plan, Plan):
                raise self._fail(f"decide() must return Plan objects, got {type(plan).__name__}")
            v = plan.vehicle
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) \
                    or not 0 <= v < self.n:
                raise self._fail(f"plan for unknown vehicle {v!r} (vehicles are 0..{self.n - 1})")
            v = int(v)
            if self.oversight is not None and self.oversight.stopped[v]:
                continue  # stopped by an operator: it takes no more plans
            if self.state[v] in LOCKED_STATES or self.engine_control[v]:
                why = ("it is landing, queued or charging" if self.state[v] in LOCKED_STATES
                       else "the engine is taking it home (battery reserve, lost link or a "
                            "stop)")
                raise self._fail(f"vehicle is {STATES[self.state[v]]} and cannot be re-tasked "
                                 f"now: {why}; give it a plan when it asks again (reason "
                                 "'recharged' or 'idle'), not on a 'reserve' or other "
                                 "informational request", v)
            acts = plan.actions
            if not isinstance(acts, (list, tuple)):
                raise self._fail(f"Plan.actions must be a list of actions, got "
                                 f"{type(acts).__name__}", v)
            if len(acts) == 1 and type(acts[0]) is Route and self.is_air[v]:  # the common case
                a = acts[0]
                w = a.waypoints
                if not (type(w) is np.ndarray and w.dtype == np.float64 and w.ndim == 2
                        and w.shape[1] == 2):
                    w = self._waypoints_of(a, v)
                alt = self.agl[v] if a.alt_agl_m is None else a.alt_agl_m
                if not (math.isfinite(alt) and alt > 0):
                    raise self._fail(f"Route.alt_agl_m must be a finite number > 0, got {alt!r}",
                                     v)
                parsed.append((v, bool(plan.append),
                               [["route", w, alt, bool(a.sensing), a.action_class]]))
                route_pts.append(w)
                continue
            items = []
            for a in acts:
                if not self.is_air[v] and isinstance(a, (GoTo, Route, Survey)):
                    if isinstance(a, Survey):
                        raise self._fail(f"Survey needs an air vehicle; this one is a "
                                         f"{self.domain[v]} vehicle (give it GoTo or Route)", v)
                    pts = self._waypoints_of(a, v)
                    if not np.isfinite(pts).all():
                        raise self._fail("waypoints with non-finite coordinates", v)
                    items.append(["travel", [tuple(p) for p in pts.tolist()], a.action_class])
                elif isinstance(a, (Pickup, Deliver)):
                    items.append(["pickup" if isinstance(a, Pickup) else "deliver",
                                  self._order_of(a, v), a.action_class])
                elif isinstance(a, (GoTo, Route, Survey)):
                    pts = self._waypoints_of(a, v)
                    alt = self.agl[v] if a.alt_agl_m is None else a.alt_agl_m
                    if not (math.isfinite(alt) and alt > 0):
                        raise self._fail(f"{type(a).__name__}.alt_agl_m must be a finite "
                                         f"number > 0, got {alt!r}", v)
                    sensing = bool(getattr(a, "sensing", True))
                    items.append(["route", pts, alt, sensing, a.action_class])
                    route_pts.append(pts)
                elif isinstance(a, Hold):
                    d = a.duration_s
                    if d is not None and not (math.isfinite(d) and d >= 0):
                        raise self._fail(f"Hold.duration_s must be a finite number >= 0 or "
                                         f"None, got {d!r}", v)
                    items.append(["hold", d, a.action_class])
                elif isinstance(a, ReturnHome):
                    items.append(["return", a.action_class])
                else:
                    raise self._fail(f"unknown action {a!r}; valid actions: GoTo, Route, "
                                     "Survey, Hold, ReturnHome, Pickup, Deliver", v)
            if self.logistics is not None:
                self._book_orders(v, bool(plan.append), items, booked)
            parsed.append((v, bool(plan.append), items))
        if route_pts:
            allp = np.concatenate(route_pts)
            if not np.isfinite(allp).all():
                k = 0
                for v, _, items in parsed:
                    for it in items:
                        if it[0] == "route":
                            if not np.isfinite(it[1]).all():
                                raise self._fail("waypoints with non-finite coordinates "
                                                 f"{it[1][~np.isfinite(it[1]).all(axis=1)][0]}",
                                                 v)
            heights = self.world.terrain.height_at(allp[:, 0], allp[:, 1])
            seg = np.hypot(*np.diff(allp, axis=0).T) if len(allp) > 1 else np.zeros(0)
            cum = np.concatenate([[0.0], np.cumsum(seg)])
            k = 0
            layers = self._layering
            for v, _, items in parsed:
                start = self.end_xy[v]
                for it in items:
                    if it[0] == "route":
                        m = len(it[1])
                        z = heights[k:k + m] + it[2]
                        if layers and m and self.is_air[v]:  # altitude by heading quadrant
                            pts = allp[k:k + m]
                            d = np.diff(np.vstack([start, pts]), axis=0)
                            quadrant = np.floor(np.degrees(np.arctan2(d[:, 0], d[:, 1]))
                                                % 360.0 / 90.0) % 4
                            z = z + quadrant * layers
                            start = tuple(pts[-1])
                        it[:] = ["route", allp[k:k + m], z, it[3], it[4],
                                 float(cum[k + m - 1] - cum[k]) if m else 0.0]
                        k += m
            if self.oversight is not None:
                for v, _, items in parsed:
                    start = self.end_xy[v]
                    for it in items:
                        if it[0] == "route":
                            it[4] = self.oversight.effective_class(it[4], it[1], start)
                            if len(it[1]):
                                start = tuple(it[1][-1])
        if parsed:
            ev = np.full((len(parsed), EVENT_WIDTH), -1.0)
            ev[:, E_TIME] = now
            ev[:, E_KIND] = EVENT_KIND_CODE["plan"]
            ev[:, E_VEHICLE] = [v for v, _, _ in parsed]
            ev[:, E_X:E_Z + 1] = np.nan
            ev[:, E_VALUE] = [len(items) for _, _, items in parsed]
            self.log.extend(ev)
        # A single route appended to a vehicle flying the last of its queue continues
        # its route block directly: all such routes are laid out in one vectorised pass.
        ov = self.oversight
        fast = [(v, items[0]) for v, append, items in parsed
                if append and len(items) == 1 and items[0][0] == "route" and len(items[0][1])
                and (ov is None or ov.rule(items[0][4]).rule == "auto")
                and self.blk_open[v] and not self.queue[v] and not self.engine_control[v]
                and self.state[v] == MOVING and not self.corrected[v]]
        done = self._continue(fast) if fast else set()
        self._planned.update(v for v, _, _ in parsed)
        for v, append, items in parsed:
            if v in done:
                continue
            self._hand_over(v, append, [
                ("route", it[1][:, 0].tolist(), it[1][:, 1].tolist(), it[2].tolist(), it[3],
                 it[5], it[4]) if it[0] == "route" else tuple(it)
                for it in items if it[0] != "route" or len(it[1])])

    def _continue(self, fast: list) -> set[int]:
        """Lay out routes that follow on from vehicles' current route blocks.

        For each (vehicle, route item), the legs start where and when the block
        ends, with the battery it ends with. Routes whose vehicle could reach its
        energy limit on the way are left to the vehicle (solved leg by leg); the
        others are appended to its block as legs and ``arrive`` events, all in one
        numpy pass. Returns the vehicles whose blocks were continued.
        """
        vs = np.array([v for v, _ in fast], dtype=np.int64)
        counts = np.array([len(it[1]) for _, it in fast], dtype=np.int64)
        xy = np.concatenate([it[1] for _, it in fast])
        last = self.legs.a[[self.blk_ids[v][-1] for v, _ in fast]]
        t_s = last[:, L_T1]
        b_s = last[:, L_B]
        start = last[:, L_X1:L_Z1 + 1]
        pts = np.column_stack([xy, np.concatenate([it[2] for _, it in fast])])
        owner = np.repeat(np.arange(len(fast)), counts)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        prev = np.empty_like(pts)
        prev[1:] = pts[:-1]
        prev[first] = start
        dur, energy = self.motion.legs(vs, owner, prev, pts)
        total_e = np.bincount(owner, energy, minlength=len(fast))
        home = self.home_now[vs]
        far = np.maximum(np.hypot(*(start[:, :2] - home).T), np.maximum.reduceat(
            np.hypot(*(pts[:, :2] - home[owner]).T), first))
        ok = self.motion.routes_clear(vs, b_s, total_e, start[:, 2],
                                      np.maximum.reduceat(pts[:, 2], first), far)
        keep = ok[owner] & (dur > 0.0)
        if not keep.any():
            return set()
        # Cumulative times and battery within each route.
        csum = np.cumsum(np.where(keep, dur, 0.0))
        esum = np.cumsum(np.where(keep, energy, 0.0))
        base_t = (csum - np.where(keep, dur, 0.0))[first]
        base_e = (esum - np.where(keep, energy, 0.0))[first]
        t1 = t_s[owner] + csum - base_t[owner]
        t0 = t1 - dur
        b1 = b_s[owner] - (esum - base_e[owner])
        # Start of each kept leg is the end of the previous kept leg (or the block end).
        idx = np.flatnonzero(keep)
        rows_arr = np.column_stack([
            vs[owner[idx]].astype(np.float64), np.full(len(idx), float(_K_MOVE)),
            np.array([float(it[3]) for _, it in fast])[owner[idx]],
            t0[idx], t1[idx], prev[idx, 0], prev[idx, 1], prev[idx, 2],
            pts[idx, 0], pts[idx, 1], pts[idx, 2], energy[idx], b1[idx]])
        li0 = self.legs.extend(rows_arr)
        m = len(idx)
        ev = np.full((m, EVENT_WIDTH), -1.0)
        ev[:, E_TIME] = t1[idx]
        ev[:, E_KIND] = _ARRIVE
        ev[:, E_VEHICLE] = rows_arr[:, L_VEHICLE]
        ev[:, E_LEG] = np.arange(li0, li0 + m)
        ev[:, E_TARGET] = -1
        ev[:, E_ZONE] = -1
        ev[:, E_X:E_Z + 1] = pts[idx]
        ev[:, E_VALUE] = np.nan
        self.log.extend(ev)
        bounds = np.searchsorted(owner[idx], np.arange(len(fast) + 1))
        t0_list = t0[idx].tolist()
        ends = rows_arr[:, [L_X1, L_Y1, L_T1]].tolist()
        done = set()
        for i in np.flatnonzero(ok).tolist():
            a, b = int(bounds[i]), int(bounds[i + 1])
            if a == b:
                continue
            v = int(vs[i])
            self.blk_t0[v].extend(t0_list[a:b])
            self.blk_ids[v].extend(range(li0 + a, li0 + b))
            self.cur_leg[v] = li0 + b - 1
            x, y, t_end = ends[b - 1]
            self.end_xy[v] = (x, y)
            self.end_t[v] = t_end
            done.add(v)
        return done

    def _order_of(self, a, v: int) -> int:
        """The order index of a Pickup/Deliver action, checked."""
        k = a.order
        lg = self.logistics
        n = lg.n_created if lg is not None else 0
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) \
                or not 0 <= k < n:
            raise self._fail(f"{type(a).__name__}({k!r}): no such order (orders created so "
                             f"far: {'0..' + str(n - 1) if n else 'none'})", v)
        if self.payload[v] <= 0:
            raise self._fail(f"{type(a).__name__}({k}): vehicle type "
                             f"{self.scenario.vehicle_types[self.type_index[v]].id!r} carries "
                             "no payload (payload_kg is 0)", v)
        return int(k)

    def _book_orders(self, v: int, append: bool, items: list, booked: dict[int, int]) -> None:
        """Orders a plan picks up are assigned to its vehicle; a plan that replaces
        another frees the orders the old one was to pick up. A Deliver must follow a
        Pickup of the same order, or the order must be on board."""
        lg = self.logistics
        tab = lg.table
        picks = [it[1] for it in items if it[0] == "pickup"]
        if not append:  # the policy re-planned them: no new request
            keep = set(picks)
            lg.release(v, [k for k in self._pickups_planned(v) if k not in keep], tell=False)
        states = ORDER_STATES
        c = self.carrier_of[v]
        coming = {it[1] for it in self.queue[v] if it[0] == "pickup"} if append else set()
        for it in items:
            if it[0] not in ("pickup", "deliver"):
                continue
            k = it[1]
            st = int(tab.status[k])
            owner = int(tab.vehicle[k])
            if it[0] == "pickup":
                if booked.get(k, v) != v:
                    raise self._fail(f"Pickup({k}): order {k} is already given to vehicle "
                                     f"{booked[k]} in this decision", v)
                from_carrier = st == CARRIED and c >= 0 and owner == c
                if not (st == WAITING or (st == ASSIGNED and owner == v) or from_carrier):
                    raise self._fail(f"Pickup({k}): order {k} is {states[st]}"
                                     f"{f' (vehicle {owner})' if owner >= 0 else ''}; only "
                                     "waiting orders (or this vehicle's own, or its carrier's) "
                                     "can be picked up", v)
                booked[k] = v
                coming.add(k)
                if not from_carrier:
                    lg.assign(v, k)
            elif it[0] == "deliver":
                if not ((st == CARRIED and owner == v) or k in coming):
                    raise self._fail(f"Deliver({k}): order {k} is {states[st]}"
                                     f"{f' (vehicle {owner})' if owner >= 0 else ''}; plan a "
                                     "Pickup of it before its Deliver", v)

    def _waypoints_of(self, a, v: int) -> np.ndarray:
        if isinstance(a, GoTo):
            pts = np.array([[a.x_m, a.y_m]], dtype=np.float64)
        elif isinstance(a, Route):
            try:
                pts = np.asarray(a.waypoints, dtype=np.float64)
            except (TypeError, ValueError):
                raise self._fail("Route.waypoints must be an (n, 2) array of numbers", v) from None
            if pts.ndim != 2 or pts.shape[1] != 2:
                raise self._fail(f"Route.waypoints must have shape (n, 2), got {pts.shape}", v)
        else:
            from fleetsim.planning import boustrophedon
            if not (math.isfinite(a.spacing_m) and a.spacing_m > 0):
                raise self._fail(f"Survey.spacing_m must be > 0, got {a.spacing_m!r}", v)
            try:
                pts = boustrophedon(a.area, a.spacing_m, angle_deg=a.angle_deg,
                                    start_xy=self.end_xy[v])
            except (TypeError, ValueError) as exc:
                raise self._fail(f"Survey cannot be planned: {exc}", v) from None
        return pts

    def _hand_over(self, v: int, append: bool, items: list[tuple]) -> None:
        q = self.queue[v]
        if not append:
            q.clear()
            if self.separation is not None:
                self.separation.replanned(v)
            self.end_xy[v] = (self.px[v], self.py[v])
            self.end_t[v] = self.env.now
            self.end_ground[v] = self.state[v] == GROUND
        for it in items:
            self._extend_estimate(v, it)
        q.extend(items)
        if self.asking[v]:
            return  # it picks the plan up as soon as the decision is made
        if self.waiting[v]:
            if not items:
                return  # nothing new for an idle vehicle: leave it waiting
        elif append:
            return
        self._cut_leg(v, self.env.now)
        self.procs[v].interrupt("plan")

    def _extend_estimate(self, v: int, item: tuple) -> None:
        """Keep the estimate of where and when the vehicle's queued actions end."""
        x, y = self.end_xy[v]
        t = max(self.end_t[v], self.env.now)
        motion = self.motion
        up = motion.climb_time(v, self.agl[v])
        if item[0] != "return" and self.end_ground[v]:
            t += up  # take-off first
            self.end_ground[v] = False
        if item[0] == "route":
            xs, ys, length = item[1], item[2], item[5]
            t += motion.straight_time(v, math.hypot(xs[0] - x, ys[0] - y) + length)
            self.end_xy[v] = (xs[-1], ys[-1])
        elif item[0] in ("travel", "pickup", "deliver"):
            # Straight-line estimates (ground and sea: times the network's typical detour).
            f = 1.0 if self.is_air[v] else 1.3
            tab = self.logistics.table if self.logistics is not None else None
            if item[0] == "travel":
                pts = item[1]
            elif item[0] == "pickup":
                pts = [tuple(tab.origin_xy[item[1]].tolist())]
            else:
                pts = [tuple(tab.dest_xy[item[1]].tolist())]
            for px, py in pts:
                t += motion.straight_time(v, f * math.hypot(px - x, py - y))
                x, y = px, py
            self.end_xy[v] = (x, y)
            if item[0] == "pickup":
                t += self.logistics.loading_s.get(int(tab.origin[item[1]]), 0.0)
                if self.is_air[v]:
                    t += up
                    self.end_ground[v] = True
            elif item[0] == "deliver":
                t += self.logistics.service_s
        elif item[0] == "hold":
            t = _INF if item[1] is None else t + item[1]
        elif item[0] == "dodge":
            t += item[2] + motion.climb_time(v, 2 * abs(item[1]))
        else:
            if not self.end_ground[v]:
                hx, hy = self.home_xy[v]
                t += motion.straight_time(v, math.hypot(hx - x, hy - y)) + up  # home, land
                self.end_xy[v] = (hx, hy)
                self.end_ground[v] = True
        self.end_t[v] = t

    # ------------------------------------------------------------------ run

    def run(self, *, progress: bool = False) -> RecordedRun:
        """Simulate ``[0, duration]`` and return the recorded run."""
        t_start = time.perf_counter()
        self.log.add(0.0, "run_start", value=self.n)
        self.procs = [self.env.process(self._vehicle(v)) for v in range(self.n)]
        period = getattr(self.policy, "decision_period_s", None)
        if period is not None:
            if not (isinstance(period, (int, float)) and math.isfinite(period) and period > 0):
                raise PolicyError(f"decision_period_s must be a number > 0 or None, got "
                                  f"{period!r}", policy=self.policy_name)
            self.env.process(self._periodic(float(period)))
        self.env.process(self.monitor.process(progress=progress))
        if self.separation is not None:
            self.env.process(self.separation.process())
        lg = self.logistics
        if lg is not None:
            if lg.table.n:
                self.env.process(lg.process())
            roads = self.scenario.roads
            if roads is not None and roads.closures and "ground" in lg.networks:
                self.env.process(lg.closures(roads))
        if self.oversight is not None:
            ov = self.oversight
            spec = ov.spec
            if spec.detection_review is not None and \
                    spec.detection_review.false_alarms_per_vehicle_hour > 0 and self.n:
                self.env.process(ov.false_alarms())
            for site in self.world.sites:
                if site.sensor_radius_m:
                    self.env.process(ov.fixed_sensors(site))
            for stop in spec.stops:
                self.env.process(ov.stop_command(stop))
        # Millions of small leg rows and event tuples would make the cyclic garbage
        # collector rescan them over and over; nothing here forms cycles that matter.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            self.env.run(until=self.duration_s)
        finally:
            if gc_was_enabled:
                gc.enable()
        self.wall_s["simulate"] = time.perf_counter() - t_start
        t_fin = time.perf_counter()
        end = self.duration_s
        self._finishing = True
        for v in range(self.n):
            if self.blk_ids[v] and self.legs.a[self.blk_ids[v][-1], L_T1] > end:
                self._cut_leg(v, end)
        for v in range(self.n):
            if self.docked[v]:
                self._mirror(v, end)
        self.monitor.finish(end)
        if self.separation is not None:
            self.separation.finish(end)
        self.log.add(end, "run_end", value=self.n)
        legs, events = self._final_tables()
        self.wall_s["finish"] = time.perf_counter() - t_fin
        orders = self.logistics.orders_table() if self.logistics is not None else None
        return RecordedRun(scenario=self.scenario, world=self.world, legs=legs, events=events,
                           vehicles=self.vehicle_table(),
                           **({"orders": orders} if orders is not None else {}))

    def _final_tables(self):
        """Legs without the cancelled ones (ids renumbered) and events without those of
        legs cut before the event's time."""
        legs = self.legs.columns()
        legs.pop("kind_code")
        events = self.log.columns()
        t1 = legs["t1_s"]
        keep = t1 >= legs["t0_s"]
        if not keep.all():
            new_id = np.cumsum(keep) - 1
            legs = {k: col[keep] for k, col in legs.items()}
            legs["leg"] = np.arange(int(keep.sum()), dtype=np.int64)
        else:
            new_id = np.arange(len(keep))
        leg = events["leg"]
        tied = leg >= 0
        ok = np.ones(len(leg), dtype=bool)
        if tied.any():
            li = leg[tied]
            ok[tied] = keep[li] & (events["time_s"][tied] <= t1[li] + 1e-9)
            events = {k: col[ok] for k, col in events.items()}
            leg = events["leg"]
            events["leg"] = np.where(leg >= 0, new_id[np.maximum(leg, 0)], -1)
        return legs, events

    def vehicle_table(self) -> dict[str, np.ndarray]:
        sc = self.scenario
        return {
            "vehicle": np.arange(self.n, dtype=np.int32),
            "type": np.array([sc.vehicle_types[i].id for i in self.type_index], dtype=object),
            "base": np.array([self.world.sites[b].id for b in self.base_index], dtype=object),
            "footprint_radius_m": np.array(self.radius, dtype=np.float64),
            "battery_wh": np.array(self.capacity, dtype=np.float64),
            "domain": np.array(self.domain, dtype=object),
            "payload_kg": np.array(self.payload, dtype=np.float64),
            "carrier": np.array(self.carrier_of, dtype=np.int32),
        }


def simulate(scenario: Scenario, *, progress: bool = False) -> RecordedRun:
    """Run ``scenario`` and return the recorded run."""
    return Simulation(scenario).run(progress=progress)

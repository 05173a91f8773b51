"""The run object: vehicles' processes on a simpy clock, legs and the event log.

A vehicle moves along straight legs at constant speed; nothing steps
positions on a clock. Each leg is one simpy timeout. What happens during a leg
(detections, zone crossings, terrain violations) is found in vectorised
batches by :class:`fleetsim.engine.monitor.Monitor`; energy is handled per leg
in closed form: the leg that would cross the reserve ends where it does.

:class:`Simulation` owns the fleet state and is assembled from the engine's
parts (see ``fleetsim/engine/README.md``): :class:`~fleetsim.engine.movement.Movement`
(legs), :class:`~fleetsim.engine.vehicle.VehicleProcess` (the vehicle process),
:class:`~fleetsim.engine.intake.PlanIntake` (plans); it holds the motion model,
the vehicles' domains, the decision driver and the subsystems, and runs the
lifecycle of a run.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import simpy
from simpy.events import Event

from fleetsim.engine.api import HOOKS, Subsystem, overrides
from fleetsim.engine.decisions import DecisionDriver, where_in_policy
from fleetsim.engine.domains import Domain, domain_of
from fleetsim.engine.intake import PlanIntake
from fleetsim.engine.logistics import Logistics
from fleetsim.engine.monitor import Monitor
from fleetsim.engine.motion import MotionModel
from fleetsim.engine.movement import Movement
from fleetsim.engine.nofly import NoFlyRouting
from fleetsim.engine.oversight import Oversight
from fleetsim.engine.separation import Separation
from fleetsim.engine.states import GROUND, LOCKED_STATES
from fleetsim.engine.tables import K_MOVE, L_T0, L_T1, EventLog, LegStore, events_kept
from fleetsim.engine.vehicle import VehicleProcess
from fleetsim.engine.view import EngineFleetView
from fleetsim.engine.wind import WindMotion
from fleetsim.errors import PolicyError
from fleetsim.logistics.network import Network
from fleetsim.policy import Policy, PolicyContext, make_policy
from fleetsim.record import RecordedRun, collector_paused, keep_heap, trim_heap
from fleetsim.rng import RandomStreams
from fleetsim.scenario.model import Scenario
from fleetsim.world.world import World, build_world

#: Standard gravity (m/s^2): the radius of a banked turn.
G_MPS2 = 9.80665


class Simulation(Movement, VehicleProcess, PlanIntake):
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
        built from the fleet's parameter lists. A scenario with ``world.wind`` gets
        :class:`~fleetsim.engine.wind.WindMotion` unless another is given.
    subsystems:
        More subsystems: each is called with the engine and returns a
        :class:`~fleetsim.engine.api.Subsystem`; they come after the built-in ones
        (their processes start after them, their gates run after those of the
        same ``gate_order``).
    """

    def __init__(self, scenario: Scenario, *, world: World | None = None,
                 policy: Policy | None = None,
                 motion: type[MotionModel] = MotionModel,
                 subsystems: Sequence[Callable[[Simulation], Subsystem]] = ()) -> None:
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
        if motion is MotionModel and scenario.wind is not None:
            motion = WindMotion  # air legs fly the wind triangle
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
            raise PolicyError(f"reset() raised {type(exc).__name__}: {exc} ({where_in_policy(exc)})",
                              policy=self.policy_name, time_s=0.0) from exc
        self.view = EngineFleetView(self)
        self.monitor = Monitor(self)
        self.oversight = Oversight(self) if scenario.oversight is not None else None
        self.separation = Separation(self) if scenario.separation is not None else None
        #: The subsystems, in the order their processes start.
        self.subsystems: list[Subsystem] = [
            s for s in (self.monitor, self.separation, self.logistics, self.oversight)
            if s is not None]
        self.subsystems += [make(self) for make in subsystems]
        self.subscribers: dict[str, list[Callable[[int, int, float], None]]] = {}
        for sub in self.subsystems:
            sub.attach(self)
        #: For each hook, the subsystems that implement it (gates in their order).
        self.hooks: dict[str, list[Subsystem]] = {
            h: [s for s in self.subsystems if overrides(s, h)] for h in HOOKS}
        self.hooks["before_action"].sort(key=lambda s: s.gate_order)
        sep = scenario.separation
        #: Altitude layering by heading: metres per quadrant (0: off).
        self._layering = sep.layer_spacing_m if sep is not None and sep.layering == "heading" \
            else 0.0
        self.finishing = False  # the run is over: legs are being closed at its end
        self.recorded = False  # finish() has taken the record out of the tables
        self.never = Event(self.env)  # never triggered: a process waits on it until interrupted
        self.wall_s: dict[str, float] = {}
        #: The decision driver: requests, batched dispatch to the policy, periodic asks.
        self.decisions = DecisionDriver(self)

    @property
    def n_decisions(self) -> int:
        """How many times the policy has been asked to decide."""
        return self.decisions.n_decisions

    @property
    def policy_wall_s(self) -> float:
        """Wall time spent inside the policy's ``decide()``."""
        return self.decisions.policy_wall_s

    def subscribe(self, kind: str, fn: Callable[[int, int, float], None]) -> None:
        """Call ``fn(vehicle, target, time_s)`` on each in-leg event of ``kind``."""
        self.subscribers.setdefault(kind, []).append(fn)

    def notify(self, kind: str, v: int, target: int, t: float) -> None:
        """Tell the subscribers of ``kind`` of an event."""
        for fn in self.subscribers.get(kind, ()):
            fn(v, target, t)

    def retaskable(self, v: int) -> bool:
        """May vehicle ``v`` be given a plan now?"""
        return self.state[v] not in LOCKED_STATES and not self.engine_control[v]

    def request(self, v: int, reason: str, target: int = -1) -> Event:
        """Queue a decision request for vehicle ``v``; returns the event that fires
        once it is decided (see :meth:`DecisionDriver.request`)."""
        return self.decisions.request(v, reason, target)

    @staticmethod
    def _ro(a: np.ndarray) -> np.ndarray:
        a = np.array(a)
        a.setflags(write=False)
        return a

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
        # Fixed-wing flight (kind fixed_wing; its bank-angle limit or the default):
        # loiter orbits and turns at the minimum radius v^2 / (g tan(bank)); the
        # turn's time R / v per radian.
        self.orbit_r = [vt[i].cruise_speed_mps ** 2
                        / (G_MPS2 * math.tan(math.radians(vt[i].bank_deg)))
                        if vt[i].bank_deg is not None else 0.0 for i in type_idx]
        self.turn_r = [r / vt[i].cruise_speed_mps for r, i in
                       zip(self.orbit_r, type_idx, strict=True)]
        self.corrected = [bool(a or b or c or d) for a, b, c, d in
                           zip(self.turn_pen, self.leg_over, self.climb_wh, self.turn_r,
                               strict=True)]
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
        #: Routing around the no-fly zones (None without any).
        self.no_fly = NoFlyRouting(no_fly, max(10.0, max(self.radius or [0])), self.home_xy) \
            if no_fly else None
        shared: dict[type, Domain] = {}
        #: Each vehicle's domain: how it departs, travels, holds and goes home.
        self.domains = [domain_of(self, v, shared) for v in range(n)]

    def reroute(self, v: int, node: int) -> None:
        """A road closed on vehicle ``v``'s way: it stops where it is and goes on from
        ``node`` (the end of the road it is on, or back to its start)."""
        self.cut_leg(v, self.env.now)
        self.procs[v].interrupt(("reroute", node))

    def run(self, *, progress: bool = False) -> RecordedRun:
        """Simulate ``[0, duration]`` and return the recorded run."""
        t_start = time.perf_counter()
        self.start(progress=progress)
        with collector_paused():
            self.env.run(until=self.duration_s)
            self.wall_s["simulate"] = time.perf_counter() - t_start
            return self.finish()

    def start(self, *, progress: bool = False) -> None:
        """Start the run at t = 0: the vehicles' processes, the periodic requests and
        the subsystems' processes (nothing has run yet; :meth:`run` then runs the
        clock to the end and :meth:`finish` records; a stepped driver runs the clock
        in between itself, see :mod:`fleetsim.engine.stepped`)."""
        keep_heap()  # (freed arrays kept for the next ones: see fleetsim.record)
        self.log.add(0.0, "run_start", value=self.n)
        self.procs = [self.env.process(self._vehicle(v)) for v in range(self.n)]
        period = getattr(self.policy, "decision_period_s", None)
        if period is not None:
            if not (isinstance(period, (int, float)) and math.isfinite(period) and period > 0):
                raise PolicyError(f"decision_period_s must be a number > 0 or None, got "
                                  f"{period!r}", policy=self.policy_name)
            self.env.process(self.decisions.periodic(float(period)))
        for sub in self.subsystems:  # in registration order
            for proc in sub.processes(progress=progress):
                self.env.process(proc)

    def finish(self) -> RecordedRun:
        """End the run at its duration (legs cut there, the subsystems' ``finish``
        hooks) and return the recorded run; the clock must have reached the end."""
        if self.recorded:
            raise RuntimeError("Simulation.finish() called twice: the run's record was "
                               "already taken out of its tables")
        t_fin = time.perf_counter()
        end = self.duration_s
        self.finishing = True
        for v in range(self.n):
            if self.blk_ids[v] and self.legs.a[self.blk_ids[v][-1], L_T1] > end:
                self.cut_leg(v, end)
        for v in range(self.n):
            if self.docked[v]:
                self.domains[v].mirror(v, end)
        for sub in self.hooks["finish"]:
            sub.finish(end)
        if any(m.datum is not None for m in self.scenario.missions):
            self._search_pods()
        self.log.add(end, "run_end", value=self.n)
        legs, events = self._final_tables()
        self.recorded = True
        self.legs.release()  # the record has it all now
        trim_heap()  # ... and what the tables were made from is freed
        self.wall_s["finish"] = time.perf_counter() - t_fin
        orders = self.logistics.orders_table() if self.logistics is not None else None
        reservations = self.separation.reservations_table() \
            if self.separation is not None else None
        return RecordedRun(scenario=self.scenario, world=self.world, legs=legs, events=events,
                           vehicles=self.vehicle_table(), reservations=reservations,
                           **({"orders": orders} if orders is not None else {}))

    def _search_pods(self) -> None:
        """A ``search_pod`` event for every sensing leg moved, per mission with a datum:
        the leg's probability of detection against it (:mod:`fleetsim.world.search`)."""
        from fleetsim.world.search import datum_legs_pod
        from fleetsim.world.world import drift_velocity

        legs = self.legs.columns()
        moved = (legs["sensing"] & (legs["kind_code"] == K_MOVE)
                 & (legs["t1_s"] > legs["t0_s"]))
        idx = np.flatnonzero(moved)
        if not len(idx):
            return
        vt = self.scenario.vehicle_types
        width = np.array([vt[i].sensor.detection.sweep_width_m
                          or 2.0 * vt[i].sensor.footprint_radius_m for i in self.type_index])
        t0, t1 = legs["t0_s"][idx], legs["t1_s"][idx]
        p0 = np.column_stack([legs["x0_m"][idx], legs["y0_m"][idx]])
        p1 = np.column_stack([legs["x1_m"][idx], legs["y1_m"][idx]])
        veh = legs["vehicle"][idx]
        for m in self.scenario.missions:
            if m.datum is None:
                continue
            drift = drift_velocity(m.drift, self.scenario)
            pod = datum_legs_pod(t0, t1, p0, p1, m.datum.position, drift, m.datum.sigma_m,
                                 width[veh])
            dx = m.datum.position[0] + drift[0] * t1
            dy = m.datum.position[1] + drift[1] * t1
            for k in range(len(idx)):
                self.log.add(float(t1[k]), "search_pod", int(veh[k]), int(legs["leg"][idx[k]]),
                             x=float(dx[k]), y=float(dy[k]), value=float(pod[k]),
                             detail=m.id)

    def _final_tables(self):
        """Legs without the cancelled ones (ids renumbered) and events without those of
        legs cut before the event's time.

        The two tables are built at the same time, the events in a second thread: both
        are mostly numpy work that lets go of the interpreter (sorts, gathers), so on a
        machine with two cores this takes about the longer of the two, not their sum.
        Neither reads what the other writes, so the tables are the same either way."""
        n = len(self.legs)
        t1 = self.legs.a[:n, L_T1].copy()
        keep = t1 >= self.legs.a[:n, L_T0]
        whole = bool(keep.all())
        new_id = np.arange(len(keep)) if whole else np.cumsum(keep) - 1

        def kept(time, leg):
            return events_kept(time, leg, keep, t1)

        with ThreadPoolExecutor(max_workers=1) as pool:
            events = pool.submit(self.log.columns, keep=kept, leg_id=new_id)
            legs = self.legs.take_columns(None if whole else keep)  # (gathered once)
            return legs, events.result()

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

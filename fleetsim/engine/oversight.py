"""Human oversight in the engine: authorization rules, operators, reviews, stops.

Every action a vehicle is about to start has an action class; the scenario's
``oversight`` section gives each class a rule (DESIGN.md section 4):

``auto``      act; nothing else.
``notify``    act at once; an acknowledgement goes to the operators' queue.
``veto``      hold for the veto window, then act unless an operator objected
              first; an objection that comes later is a veto-window violation.
``approve``   hold until an operator approves (needing a working link when
              ``approval_needs_link``); a denial or a timeout drops the plan and
              asks the policy again (reasons ``approval_denied`` /
              ``approval_timeout``). With ``timeout_s``, a request not decided
              within ``timeout_s`` of being raised (the moment the action
              needed it, link or no link) times out at exactly that time: no
              grant comes after it, and an operator still serving it then is
              freed (:class:`fleetsim.oversight.OperatorPool`, Deadlines).
``forbidden`` never act; the plan is dropped (``approval_denied``).

While it waits, a vehicle hovers where it is (using energy; it still goes home
at its reserve) or stays on the ground. Operators are a
:class:`fleetsim.oversight.OperatorPool`. Detections (and false alarms, from
vehicles' sensors at a rate per vehicle-hour and from fixed sensors) become
review work. Stop commands are served first and send vehicles to a safe state.
A route that would enter a restricted zone or leave the mission area takes the
stricter of its own class and ``enter_restricted`` / ``leave_mission_area``,
decided before it starts (not at the boundary).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import shapely

from fleetsim.engine.api import Subsystem
from fleetsim.engine.states import CHARGING, DOWN, GROUND, LANDING, LOCKED_STATES, QUEUED
from fleetsim.oversight import Deterministic, Exponential, OperatorPool, WorkItem
from fleetsim.scenario.model import AUTH_RULES, RuleSpec

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.engine.api import EngineAPI

_STRICTNESS = {rule: i for i, rule in enumerate(AUTH_RULES)}
_DEFAULT_SERVICE = Exponential(30.0)
_DEFAULT_REVIEW = Exponential(20.0)
_STOP_SERVICE = Deterministic(5.0)
_AUTO = RuleSpec()


class Oversight(Subsystem):
    """The oversight state of one run; the engine calls into it."""

    def __init__(self, sim: EngineAPI) -> None:
        self.sim = sim
        spec = sim.scenario.oversight
        self.spec = spec
        shifts = [(s.start_s, s.end_s, s.count) for s in spec.shifts] or None
        two = [c for c, r in spec.rules.items() if r.two_person]
        self.pool = OperatorPool(sim.env, operators=spec.operators, shifts=shifts,
                                 rng=sim.streams.get("operators"), two_person_classes=two,
                                 span_of_control=spec.span_of_control)
        self.pool.assign_vehicles(range(sim.n))
        self.stopped = [False] * sim.n
        self.stop_issued_at = [math.nan] * sim.n
        world = sim.world
        self.restricted = [z.polygon for z in world.zones if z.kind == "restricted"]
        self.area = None if world.mission_area.is_empty else world.mission_area
        self.check_restricted = bool(self.restricted) and \
            self.rule("enter_restricted").rule != "auto"
        self.check_area = self.area is not None and \
            self.rule("leave_mission_area").rule != "auto"
        self.link_waiters: dict[int, list] = {}
        self.contacts: set[int] = set()  # targets whose classification is done or queued
        self.span = spec.span_of_control

    def may_take_off(self, v: int) -> bool:
        """Span of control: may one more vehicle go up, with the operators on duty now?"""
        if self.span is None or self.sim.airborne < self.span * self.pool.on_duty:
            return True
        self.sim.log.add(self.sim.env.now, "action_refused", v, detail="span_of_control")
        return False

    def rule(self, action_class: str) -> RuleSpec:
        return self.spec.rules.get(action_class, _AUTO)

    # ------------------------------------------------------------------ classes

    def effective_class(self, action_class: str, pts: np.ndarray, start_xy) -> str:
        """The stricter of a route's own class and the classes of where it goes."""
        if not (self.check_restricted or self.check_area) or len(pts) == 0:
            return action_class
        line = shapely.LineString(np.vstack([[start_xy], pts])) if len(pts) else None
        best = action_class
        if self.check_restricted and any(shapely.intersects(line, z) for z in self.restricted):
            best = self._stricter(best, "enter_restricted")
        if self.check_area and not shapely.covers(self.area, line):
            best = self._stricter(best, "leave_mission_area")
        return best

    def _stricter(self, a: str, b: str) -> str:
        """The class with the stricter rule; on a tie the place's class (``b``), whose
        settings (service time, timeout, ...) are the more specific."""
        return b if _STRICTNESS[self.rule(b).rule] >= _STRICTNESS[self.rule(a).rule] else a

    # ------------------------------------------------------------------ work

    def submit(self, kind: str, action_class: str, v: int, *, service=None, priority: int = 2,
               deadline_s=None, two_person: bool = False, approve_probability: float = 1.0,
               created_s: float | None = None):
        item = WorkItem(kind=kind, action_class=action_class, vehicle=v,
                        service=service or _DEFAULT_SERVICE, priority=priority,
                        deadline_s=deadline_s, two_person=two_person,
                        approve_probability=approve_probability, created_s=created_s)
        ev = self.pool.submit(item)
        ev.callbacks.append(self._log_work)
        return ev

    def _log_work(self, ev) -> None:
        out = ev.value
        if out.start_s is None:
            return
        log = self.sim.log
        item = out.item
        for op in out.operators:
            log.add(out.start_s, "work_start", item.vehicle, operator=op, detail=item.kind)
            log.add(out.end_s, "work_end", item.vehicle, operator=op, detail=item.kind,
                    value=out.end_s - out.start_s)

    # ------------------------------------------------------------------ authorization

    def authorize(self, v: int, action_class: str):
        """Generator: wait as the class's rule says; returns (allowed, operator, reason)
        where reason (``approval_denied`` / ``approval_timeout``) says why not."""
        sim = self.sim
        rule = self.rule(action_class)
        kind = rule.rule
        log = sim.log
        env = sim.env
        if kind == "auto":
            return True, -1, None
        if kind == "notify":
            self._notify(v, action_class, rule)
            return True, -1, None
        if kind == "forbidden":
            log.add(env.now, "action_refused", v, detail=action_class)
            return False, -1, "approval_denied"
        # veto or approve: the request needs a working link; an approval's timeout runs
        # from the moment it was needed, link or no link.
        t_need = env.now
        if self.spec.approval_needs_link and sim.monitor.stations:
            while not sim.monitor.linked_now(v):
                ev = env.event()
                self.link_waiters.setdefault(v, []).append(ev)
                left = None
                if kind == "approve" and rule.timeout_s is not None:
                    left = t_need + rule.timeout_s - env.now
                    if left <= 0:
                        break
                restored = yield from sim.wait(v, ev, left)
                if not restored and left is not None:
                    break
            if kind == "approve" and rule.timeout_s is not None and \
                    env.now >= t_need + rule.timeout_s:
                log.add(env.now, "auth_timeout", v, detail=action_class, value=env.now - t_need)
                return False, -1, "approval_timeout"
        t_req = env.now
        log.add(t_req, "auth_request", v, detail=action_class)
        if kind == "approve":
            # One deadline, t_need + timeout_s, whatever part of it went waiting for
            # the link: the pool issues no decision after it (see OperatorPool).
            deadline = rule.timeout_s
            if deadline is not None and t_req > t_need:
                deadline = t_need + rule.timeout_s - t_req
            ev = self.submit("approve", action_class, v, service=rule.service,
                             priority=rule.priority, deadline_s=deadline,
                             two_person=rule.two_person,
                             approve_probability=rule.approve_probability)
            try:
                yield from sim.wait(v, ev, None)
            except BaseException:
                self.pool.withdraw(ev)
                raise
            out = ev.value
            op = out.operators[0] if out.operators else -1
            waited = env.now - t_req
            if out.decision == "approved":
                log.add(env.now, "auth_granted", v, operator=op, detail=action_class,
                        value=waited)
                return True, op, None
            timed_out = out.decision == "timed_out"
            log.add(env.now, "auth_timeout" if timed_out else "auth_denied", v, operator=op,
                    detail=action_class, value=waited)
            return False, op, "approval_timeout" if timed_out else "approval_denied"
        # veto: act after the window unless vetoed first
        ev = self.submit("veto_review", action_class, v, service=rule.service,
                         priority=rule.priority, two_person=rule.two_person,
                         approve_probability=rule.approve_probability)
        try:
            decided = yield from sim.wait(v, ev, rule.veto_window_s)
        except BaseException:
            self.pool.withdraw(ev)
            raise
        if decided:
            out = ev.value
            op = out.operators[0] if out.operators else -1
            if out.decision == "vetoed":
                log.add(env.now, "auth_denied", v, operator=op, detail=action_class,
                        value=env.now - t_req)
                return False, op, "approval_denied"
            log.add(env.now, "auth_granted", v, operator=op, detail=action_class,
                    value=env.now - t_req)
            return True, op, None
        log.add(env.now, "auth_granted", v, detail=action_class, value=env.now - t_req)
        ev.callbacks.append(lambda e, v=v, c=action_class: self._late_veto(e, v, c))
        return True, -1, None

    def _late_veto(self, ev, v: int, action_class: str) -> None:
        out = ev.value
        if out.decision == "vetoed":
            self.sim.log.add(out.end_s, "veto_late", v, operator=out.operators[0],
                             detail=action_class, value=out.end_s - out.created_s)

    def _notify(self, v: int, action_class: str, rule: RuleSpec) -> None:
        ev = self.submit("notify_ack", action_class, v, service=rule.service,
                         priority=rule.priority, two_person=rule.two_person)

        def acked(e, v=v, c=action_class):
            out = e.value
            if out.start_s is not None:
                self.sim.log.add(out.end_s, "ack", v, operator=out.operators[0], detail=c,
                                 value=out.end_s - out.created_s)

        ev.callbacks.append(acked)

    def link_restored(self, v: int) -> None:
        for ev in self.link_waiters.pop(v, []):
            if not ev.triggered:
                ev.succeed()

    # ------------------------------------------------------------------ reviews

    def review(self, v: int, target: int, *, false_alarm: bool = False,
               seen_s: float | None = None) -> None:
        """Queue the classification of a contact: each target once (its first sighting;
        later sightings of a contact already classified or queued are no new work),
        each false alarm once."""
        spec = self.spec.detection_review
        if spec is None:
            return
        if target >= 0:
            if target in self.contacts:
                return
            self.contacts.add(target)
        ev = self.submit("detection_review", "classify_detection", v,
                         service=spec.service or _DEFAULT_REVIEW, priority=spec.priority,
                         deadline_s=spec.timeout_s, created_s=seen_s)
        detail = "false_alarm" if false_alarm else "detection"

        def done(e, v=v, target=target, detail=detail):
            out = e.value
            if out.start_s is not None:
                self.sim.log.add(out.end_s, "review", v, target=target,
                                 operator=out.operators[0], detail=detail,
                                 value=out.end_s - out.created_s)

        ev.callbacks.append(done)

    def false_alarms(self):
        """Process: false alarms of the vehicles' sensors, Poisson per airborne vehicle.

        Candidate alarms come at the rate of the whole fleet; each goes to a vehicle
        drawn at random and is kept if that vehicle is flying (thinning)."""
        sim = self.sim
        spec = self.spec.detection_review
        rate = spec.false_alarms_per_vehicle_hour / 3600.0 * sim.n
        rng = sim.streams.get("false_alarms")
        env = sim.env
        while True:
            yield env.timeout(float(rng.exponential(1.0 / rate)))
            v = int(rng.integers(sim.n))
            if sim.state[v] in (GROUND, QUEUED, CHARGING, DOWN, LANDING) or self.stopped[v]:
                continue
            pos = sim.view_position(v)
            sim.log.add(env.now, "false_alarm", v, x=pos[0], y=pos[1], z=pos[2])
            self.review(v, -1, false_alarm=True)

    def fixed_sensors(self, site):
        """Process: a mast or buoy that sees the targets in its footprint at once and
        raises false alarms at its own rate; all of it becomes review work."""
        sim = self.sim
        env = sim.env
        targets = sim.world.targets_xy
        if len(targets):
            d = np.hypot(*(targets - np.asarray(site.xy)).T)
            for t in np.flatnonzero(d <= site.sensor_radius_m).tolist():
                sim.log.add(env.now, "detection", -1, target=t, x=site.xy[0], y=site.xy[1],
                            value=float(d[t]), detail=site.id)
                self.review(-1, t)
        if site.false_alarms_per_hour > 0:
            rng = sim.streams.get(f"false_alarms/{site.id}")
            while True:
                yield env.timeout(float(rng.exponential(3600.0 / site.false_alarms_per_hour)))
                sim.log.add(env.now, "false_alarm", -1, x=site.xy[0], y=site.xy[1],
                            detail=site.id)
                self.review(-1, -1, false_alarm=True)

    # ------------------------------------------------------------------ stops

    def stop_command(self, stop):
        """Process: at ``stop.time_s`` an operator handles the stop (first in the queue),
        then every vehicle it covers is sent to its safe state."""
        sim = self.sim
        env = sim.env
        yield env.timeout(stop.time_s)
        vehicles = range(sim.n) if stop.vehicles is None else stop.vehicles
        t_issue = env.now
        sim.log.add(t_issue, "stop_issued", value=len(vehicles), detail=stop.safe_state)
        if self.pool.on_duty > 0:
            ev = self.submit("stop", "stop", -1, service=_STOP_SERVICE, priority=-1)
            yield ev
            op = ev.value.operators[0] if ev.value.operators else -1
        else:  # nobody on duty to handle it: the command goes out as it is
            op = -1
        action = "emergency_landing" if stop.safe_state == "land" else "stop"
        for v in vehicles:
            if self.stopped[v] or sim.state[v] == DOWN:
                continue
            self.stopped[v] = True
            self.stop_issued_at[v] = t_issue
            # Ordered by a named operator: the action is traceable to them.
            sim.log.add(env.now, "action_start", v, operator=op, detail=action,
                        value=AUTH_RULES.index(self.rule(action).rule))
            sim.stop_vehicle(v, stop.safe_state)

    def reached_safe_state(self, v: int, t_s: float) -> None:
        """Vehicle ``v`` has been safe (landed) since ``t_s``."""
        t = max(t_s, self.stop_issued_at[v])
        self.sim.log.add(t, "stop_safe", v, value=t - self.stop_issued_at[v])

    # ------------------------------------------------------------------ engine hooks

    def attach(self, eng: EngineAPI) -> None:
        """Review detections, and apply the link rules, as the monitor finds them."""
        #: Out of link: must the vehicle stop going on (see :meth:`after_dispatch`)?
        self.lost_check: set[int] = set()
        eng.subscribe("detection", lambda v, target, t: self.review(v, target, seen_s=t))
        eng.subscribe("link_restored", lambda v, target, t: self.link_restored(v))
        eng.subscribe("link_lost", lambda v, target, t: self.link_lost(v))

    def processes(self, *, progress: bool = False):
        sim = self.sim
        spec = self.spec
        procs = []
        if spec.detection_review is not None and \
                spec.detection_review.false_alarms_per_vehicle_hour > 0 and sim.n:
            procs.append(self.false_alarms())
        for site in sim.world.sites:
            if site.sensor_radius_m:
                procs.append(self.fixed_sensors(site))
        for stop in spec.stops:
            procs.append(self.stop_command(stop))
        return procs

    def before_action(self, v: int, item: tuple):
        """The action's own authorization first, then the take-off's, and the span of
        control checked at the moment of leaving the ground."""
        sim = self.sim
        why = yield from self.authorized(v, item[-1])
        if why:
            return why
        if item[0] != "return" and sim.state[v] == GROUND and sim.is_air[v]:
            if not self.may_take_off(v):
                sim.clear_queue(v)
                return "approval_denied"
            why = yield from self.authorized(v, "takeoff")
            if why:
                return why
            if not self.may_take_off(v):  # others may have gone up while it waited
                sim.clear_queue(v)
                return "approval_denied"
        return item

    def authorized(self, v: int, action_class: str):
        """Wait for the authorization ``action_class`` needs; None if the action may go
        ahead (and its start is logged), else the reason to ask the policy again."""
        sim = self.sim
        rule = self.rule(action_class)
        if rule.rule == "auto":
            return None
        ok, operator, why = yield from self.authorize(v, action_class)
        if ok:
            if rule.rule != "auto":
                sim.log.add(sim.env.now, "action_start", v, operator=operator,
                            detail=action_class, value=AUTH_RULES.index(rule.rule))
            return None
        sim.clear_queue(v)
        return why

    def link_lost(self, v: int) -> None:
        """A vehicle went out of link: if its rules do not let it fly on by itself and
        its policy does not re-task it now, the engine sends it home."""
        if self.rule("continue_lost_link").rule in ("forbidden", "approve", "veto"):
            self.lost_check.add(v)

    def after_dispatch(self, planned: set[int]) -> None:
        """The lost-link rule: vehicles out of link that their policy did not re-task
        in this decision are sent home."""
        if not self.lost_check:
            return
        sim = self.sim
        state = sim.state
        for v in sorted(self.lost_check):
            if v in planned or not sim.is_air[v] or sim.monitor.linked_now(v):
                continue
            if state[v] in LOCKED_STATES or sim.engine_control[v] or \
                    state[v] == GROUND or self.stopped[v]:
                continue
            sim.log.add(sim.env.now, "action_refused", v, detail="continue_lost_link")
            sim.send_home(v)
        self.lost_check.clear()


__all__ = ["Oversight"]

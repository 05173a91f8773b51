"""The decision driver: vehicles' requests batched into one policy call per instant.

A vehicle (or a subsystem, on its behalf) asks with :meth:`DecisionDriver.request`,
which returns an event the vehicle's process can wait on. All requests made at
one simulated time are dispatched together by one event scheduled at
:data:`DISPATCH_PRIORITY`, after every ordinary event at that time; the dispatch
asks the policy (:meth:`DecisionDriver.decide`), hands the plans to the engine's
plan intake, runs the subsystems' ``after_dispatch`` hooks (the lost-link
rule), and then the event fires, so the
vehicles that asked pick their plans up.

The in-process driver calls ``policy.decide`` directly. A stepped driver (for
reinforcement learning) overrides :meth:`DecisionDriver.decide`, or runs the
clock to a sentinel event scheduled just before the dispatch event at the same
time and priority (simpy orders same-time, same-priority events by insertion),
so control can be handed out with the pending requests at the head of the queue.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any

from simpy.events import Event

from fleetsim.engine.states import LOCKED_STATES
from fleetsim.policy import Plan, Request, RoutePlans

_new_tuple = tuple.__new__

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.engine.api import EngineAPI

#: Priority of the decision dispatch: after every ordinary event at the same time,
#: so all requests due at one simulated time reach the policy in one call.
DISPATCH_PRIORITY = 2


def where_in_policy(exc: BaseException) -> str:
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


def _summary(requests: Sequence[Request]) -> str:
    shown = ", ".join(f"vehicle {r.vehicle} {r.reason}" for r in requests[:3])
    return shown + (", ..." if len(requests) > 3 else "")


class DispatchEvent(Event):
    """The event that dispatches the pending requests: already triggered (as a
    ``Timeout`` of 0 is) and scheduled at ``priority``, after the ordinary events of
    its time."""

    def __init__(self, env: Any, priority: int) -> None:
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, priority)


class DecisionDriver:
    """Requests, their batched dispatch to the policy, and periodic requests.

    Parameters
    ----------
    eng:
        The engine (:class:`fleetsim.engine.api.EngineAPI`): its policy, fleet view
        and plan intake.
    """

    def __init__(self, eng: EngineAPI) -> None:
        self.eng = eng
        self.pending: list[Request] = []
        self.dispatch_event: Event | None = None
        #: Vehicles given a plan in the current dispatch.
        self.planned: set[int] = set()
        self.n_decisions = 0
        self.policy_wall_s = 0.0  # wall time spent inside the policy's decide()

    def request(self, v: int, reason: str, target: int = -1) -> Event:
        """Queue a decision request; returns the event that fires once it is decided."""
        self.pending.append(Request(v, reason, target))
        ev = self.dispatch_event
        if ev is None:
            ev = self.dispatch_event = DispatchEvent(self.eng.env, DISPATCH_PRIORITY)
            ev.callbacks.append(self.dispatch)
        return ev

    def decide(self, now: float, requests: tuple[Request, ...]) -> Any:
        """The plans for ``requests``: the policy's ``decide`` (timed; its exceptions
        become a :class:`~fleetsim.errors.PolicyError` saying where)."""
        eng = self.eng
        t_policy = time.perf_counter()
        try:
            plans = eng.policy.decide(now, eng.view, requests)
        except Exception as exc:  # the policy's own bug: say where, without our traceback
            raise eng.policy_error(f"decide() raised {type(exc).__name__}: {exc} "
                                   f"({where_in_policy(exc)}; {len(requests)} request(s): "
                                   f"{_summary(requests)})") from exc
        self.policy_wall_s += time.perf_counter() - t_policy
        return plans

    def due(self) -> list[Request]:
        """The pending requests the policy is asked: a periodic request is made when
        its timer fires, and its vehicle may have started landing (or been taken over
        by the engine) at the same instant since; it is then no longer the policy's
        to re-task, and its request is dropped."""
        eng = self.eng
        state, ctl, locked = eng.state, eng.engine_control, LOCKED_STATES
        # (eng.retaskable, inline: a periodic ask is one request per vehicle)
        return [r for r in self.pending if r[1] != "periodic"
                or (state[r[0]] not in locked and not ctl[r[0]])]

    def dispatch(self, event: Event) -> None:
        eng = self.eng
        self.dispatch_event = None
        requests, self.pending = self.due(), []
        if not requests:
            return
        now = eng.env.now
        eng.view.now_s = now
        self.n_decisions += 1
        plans = self.decide(now, tuple(requests))
        self.planned.clear()
        if isinstance(plans, Plan) or (plans is not None and not isinstance(plans, (list, tuple))
                                       and not hasattr(plans, "__iter__")):
            raise eng.policy_error(f"decide() must return a sequence of Plan objects (a list), "
                                   f"got {type(plans).__name__}")
        if plans:
            # (plans of one route each given whole are taken so: see RoutePlans)
            eng.apply_plans(now, plans if type(plans) is RoutePlans else list(plans))
        for sub in eng.hooks["after_dispatch"]:  # the lost-link rule
            sub.after_dispatch(self.planned)

    def periodic(self, period: float) -> Generator[Any, Any, None]:
        """Ask for every vehicle that may be re-tasked every ``period`` seconds."""
        eng = self.eng
        env = eng.env
        while True:
            yield env.timeout(period)
            locked = LOCKED_STATES
            due = [v for v, s, c in zip(range(eng.n), eng.state, eng.engine_control,
                                        strict=True) if s not in locked and not c]
            if due:
                # (Request(v, "periodic") without its Python-level __new__: one per vehicle)
                self.pending.extend([_new_tuple(Request, (v, "periodic", -1)) for v in due])
                eng.request(due[0], "periodic")
                self.pending.pop()

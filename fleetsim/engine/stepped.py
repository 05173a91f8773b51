"""The stepped decision driver: the clock runs from one decision instant to the next.

An outside caller (a reinforcement-learning environment, a debugger) takes the
decisions instead of the policy::

    run = SteppedRun(Simulation(scenario))
    step = run.reset()                      # the first decision instant
    while step is not None:
        plans = choose(step.now_s, run.view, step.requests)
        step = run.step(plans)              # the engine runs to the next one
    recorded = run.finish()

Each time a dispatch event is created (the first request of an instant), a
sentinel event is scheduled just before it, at the same time and priority.
Simpy orders same-time, same-priority events by insertion, and nothing can be
inserted between the two, so when the clock stops at the sentinel every request
of the instant is pending, the fleet view is current, and the next event is the
dispatch, which applies the plans given to :meth:`SteppedRun.step`. The other
events keep their order, so a stepped run fed a policy's own decisions records
exactly what the in-process run does (the same run digest).
"""

from __future__ import annotations

import gc
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from simpy.core import EmptySchedule, StopSimulation
from simpy.events import URGENT, Event

from fleetsim.engine.decisions import DISPATCH_PRIORITY, DecisionDriver
from fleetsim.policy import Request

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.engine.sim import Simulation
    from fleetsim.record import RecordedRun


class Decision(NamedTuple):
    """One decision instant: the simulated time and the requests to answer."""

    now_s: float
    requests: tuple[Request, ...]


class _Stop(Event):
    """A triggered event at ``delay`` and ``priority`` whose processing stops the clock."""

    def __init__(self, env: Any, priority: int, delay: float = 0.0) -> None:
        super().__init__(env)
        self._ok = True
        self._value = None
        self.callbacks.append(StopSimulation.callback)
        env.schedule(self, priority, delay)


class SteppedDriver(DecisionDriver):
    """A :class:`DecisionDriver` that stops the clock before each dispatch and applies
    the plans it is given (:attr:`plans`) instead of asking the policy."""

    def __init__(self, eng: Any) -> None:
        super().__init__(eng)
        #: The plans the next dispatch applies (set by :meth:`SteppedRun.step`).
        self.plans: list[Any] = []

    def request(self, v: int, reason: str, target: int = -1) -> Event:
        if self.dispatch_event is None:
            # The sentinel first: it is processed right before the dispatch event.
            _Stop(self.eng.env, DISPATCH_PRIORITY)
            return super().request(v, reason, target)
        return super().request(v, reason, target)

    def decide(self, now: float, requests: tuple[Request, ...]) -> Any:
        plans, self.plans = self.plans, []
        return plans


class SteppedRun:
    """A run driven one decision instant at a time.

    Parameters
    ----------
    sim:
        A :class:`~fleetsim.engine.sim.Simulation` not yet run; its decision driver is
        replaced by a :class:`SteppedDriver`. Its policy has been reset (it is not
        asked to decide; the caller may ask it, see :meth:`policy_plans`).
    """

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.driver = sim.decisions = SteppedDriver(sim)
        self.started = False
        self.done = False
        #: Wall time spent running the clock (not in the caller's decisions).
        self.engine_wall_s = 0.0

    @property
    def view(self) -> Any:
        """The fleet view (current at each decision instant)."""
        return self.sim.view

    @property
    def now_s(self) -> float:
        return float(self.sim.env.now)

    def reset(self, *, progress: bool = False) -> Decision | None:
        """Start the run; returns the first decision instant (None: there is none)."""
        if self.started:
            raise RuntimeError("SteppedRun.reset() called twice (make a new run)")
        self.started = True
        sim = self.sim
        sim.start(progress=progress)
        _Stop(sim.env, URGENT, sim.duration_s)  # the end, as Environment.run(until=) does
        return self._advance()

    def step(self, plans: Any) -> Decision | None:
        """Answer the current decision instant with ``plans`` (a sequence of
        :class:`~fleetsim.policy.Plan`) and run to the next one (None: the run is at
        its end; call :meth:`finish`)."""
        if not self.started or self.done:
            raise RuntimeError("SteppedRun.step() needs a decision instant "
                               "(call reset() first; the run may be over)")
        self.driver.plans = list(plans) if plans is not None else []
        return self._advance()

    def _advance(self) -> Decision | None:
        env = self.sim.env
        driver = self.driver
        while True:
            t0 = time.perf_counter()
            gc_was_enabled = gc.isenabled()
            gc.disable()
            try:
                while True:
                    env.step()
            except StopSimulation:
                pass
            except EmptySchedule:  # nothing left to happen before the end
                self.done = True
            finally:
                if gc_was_enabled:
                    gc.enable()
                self.engine_wall_s += time.perf_counter() - t0
            if self.done or driver.dispatch_event is None or env.now >= self.sim.duration_s:
                # The stop at the run's end (a sentinel at the end itself is never
                # dispatched: the in-process run stops before priority-2 events there).
                self.done = True
                return None
            due = driver.due()
            if due:  # else every request was dropped: the dispatch asks nobody
                self.sim.view.now_s = env.now
                return Decision(float(env.now), tuple(due))

    def policy_plans(self, decision: Decision) -> Any:
        """What the simulation's own policy would decide at ``decision`` (timed and
        checked as in an in-process run)."""
        return DecisionDriver.decide(self.driver, decision.now_s, decision.requests)

    def finish(self) -> RecordedRun:
        """The recorded run (the clock must be at its end: :meth:`step` returned None)."""
        if not self.done:
            raise RuntimeError("SteppedRun.finish() before the end of the run")
        return self.sim.finish()

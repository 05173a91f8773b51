"""A finite, scheduled pool of human operators serving a priority queue of work.

The engine turns what the oversight rules require (approvals, notification
acknowledgements, veto reviews, detection reviews, stop commands) into
:class:`WorkItem` s and submits them to an :class:`OperatorPool`; the event
returned by :meth:`OperatorPool.submit` succeeds with an :class:`Outcome` when
an operator has dealt with the item or its deadline has passed.

Queue discipline
    Lower ``priority`` is more urgent; within a priority, items are served in
    the order they were submitted. Service is non-preemptive. A two-person item
    at the head of the queue holds the operators that become free until a
    second one is free (no lower-ranked item overtakes it), so two-person work
    is never starved.
Operators
    Ids ``0 .. operators-1``. A free item goes to the operator that has been
    idle longest. With ``shifts`` the number on duty follows the schedule;
    operators going off duty finish the item in hand first (idle ones leave
    first), and one called back on duty while still finishing stays on.
Deadlines
    One rule: an item with ``deadline_s`` is decided only if its service ends
    at or before its deadline ``created_s + deadline_s`` (a decision exactly
    at the deadline stands); otherwise it ends with decision ``timed_out`` at
    exactly the deadline, and no decision is ever issued after it. An item
    still queued at its deadline is withdrawn unserved then (it is not
    started at the deadline, even by an operator who becomes free at that
    very instant). An item whose service would end after its deadline is cut
    at the deadline: its operator(s) worked on it from its start to the
    deadline (``start_s`` and ``operators`` say so) and are free from then on.
Decisions
    ``approve``: ``approved`` with probability ``approve_probability`` (else
    ``denied``); ``veto_review``: ``allowed`` with that probability (else
    ``vetoed``); ``notify_ack``: ``acknowledged``; ``detection_review``:
    ``reviewed``; ``stop``: ``executed``. Plus ``timed_out`` and ``withdrawn``.
    The pool's generator gives each served item its service time when it
    starts and, for ``approve``/``veto_review``, one uniform for the decision
    when it ends (drawn even at probability 1, so that changing the probability
    leaves every other draw alone).

Records are plain columnar lists (:meth:`OperatorPool.records`) and the metric
functions below (:func:`utilization`, :func:`wait_stats`, :func:`class_counts`,
:func:`span_of_control`, :func:`oversight_summary`) are pure functions of
them, so they can be tested on hand-made records and recomputed after a run.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from fleetsim.oversight.distributions import Distribution

__all__ = ["DECISIONS", "KINDS", "Outcome", "OperatorPool", "WorkItem", "class_counts",
           "fan_out", "oversight_summary", "shift_schedule", "span_of_control",
           "timed_out_count", "utilization", "wait_stats"]

#: Work kinds and their (positive, negative) decisions. Kinds with a single
#: decision never draw a random number.
KINDS: dict[str, tuple[str, str | None]] = {
    "approve": ("approved", "denied"),
    "veto_review": ("allowed", "vetoed"),
    "notify_ack": ("acknowledged", None),
    "detection_review": ("reviewed", None),
    "stop": ("executed", None),
}

#: Every decision an :class:`Outcome` can carry.
DECISIONS = ("approved", "denied", "allowed", "vetoed", "acknowledged", "reviewed",
             "executed", "timed_out", "withdrawn")


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkItem:
    """One piece of operator work.

    ``priority``: lower is more urgent. ``deadline_s``: seconds after
    ``created_s`` by which the item must have started, or None. ``created_s``:
    when the need arose (None: the submission time); waits count from it.
    ``approve_probability``: see the module doc (Decisions).
    """

    kind: str
    action_class: str
    vehicle: int
    service: Distribution
    priority: int = 0
    deadline_s: float | None = None
    two_person: bool = False
    created_s: float | None = None
    approve_probability: float = 1.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to a :class:`WorkItem`.

    For an item withdrawn, or timed out, while queued ``operators == ()``,
    ``start_s`` is None, ``end_s`` is the withdrawal time and ``waited_s`` the
    time it spent queued. An item timed out during its service (see Deadlines
    in the module doc) has its ``operators`` and ``start_s`` and ``end_s`` at
    its deadline.
    """

    item: WorkItem
    decision: str
    operators: tuple[int, ...]
    created_s: float
    start_s: float | None
    end_s: float
    waited_s: float

    @property
    def served(self) -> bool:
        return self.start_s is not None

    @property
    def service_s(self) -> float:
        return self.end_s - self.start_s if self.start_s is not None else 0.0


def _delay_until(now: float, t: float) -> float:
    """The delay ``d >= 0`` for which ``now + d`` (as the clock adds it) is ``t``, or
    the largest whose sum is below ``t``: a timer never fires after ``t``."""
    d = t - now
    if d <= 0.0:
        return 0.0
    while now + d > t:
        d = math.nextafter(d, 0.0)
    return d


class _Job:
    """Book-keeping of a submitted item (internal)."""

    __slots__ = ("created", "deadline_at", "event", "item", "ops", "seq", "start", "state",
                 "two_person")

    def __init__(self, item: WorkItem, created: float, deadline_at: float | None,
                 two_person: bool, seq: int, event: simpy.Event) -> None:
        self.item = item
        self.created = created
        self.deadline_at = deadline_at
        self.two_person = two_person
        self.seq = seq
        self.event: simpy.Event | None = event  # (None once it has ended)
        self.state = _QUEUED
        self.start = math.nan
        self.ops: tuple[int, ...] = ()


_QUEUED, _SERVING, _DONE = 0, 1, 2


def shift_schedule(shifts: Iterable[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Breakpoints and on-duty counts of a shift list.

    ``shifts``: windows ``(start_s, end_s, count)`` (or mappings with those
    keys); overlapping windows add up, outside every window nobody is on duty.
    Returns ``(times_s, counts)``: ``counts[i]`` operators are on duty from
    ``times_s[i]`` until ``times_s[i+1]`` (the first time is ``-inf``).
    """
    windows = []
    for i, w in enumerate(shifts):
        if isinstance(w, Mapping):
            try:
                w = (w["start_s"], w["end_s"], w["count"])
            except KeyError as exc:
                raise ValueError(f"shift {i}: missing {exc.args[0]!r}; expected "
                                 f"{{start_s, end_s, count}} or (start_s, end_s, count)") from None
        try:
            start, end, count = w
        except (TypeError, ValueError):
            raise ValueError(f"shift {i}: expected (start_s, end_s, count), got {w!r}") from None
        start, end = float(start), float(end)
        if isinstance(count, bool) or int(count) != count or count < 0:
            raise ValueError(f"shift {i}: count must be a whole number >= 0, got {count!r}")
        if not (start < end) or math.isnan(start):
            raise ValueError(f"shift {i}: needs start_s < end_s, got {start} .. {end}")
        windows.append((start, end, int(count)))
    points = sorted({-math.inf} | {s for s, _, _ in windows} | {e for _, e, _ in windows})
    counts = [sum(c for s, e, c in windows if s <= t < e) for t in points]
    # Merge equal neighbours.
    keep = [0] + [i for i in range(1, len(points)) if counts[i] != counts[i - 1]]
    return (np.array([points[i] for i in keep], dtype=np.float64),
            np.array([counts[i] for i in keep], dtype=np.int64))


class OperatorPool:
    """A finite pool of human operators serving a priority queue of work.

    Parameters
    ----------
    env:
        The simulation's environment.
    operators:
        Size of the pool (operator ids ``0 .. operators-1``); all on duty
        unless ``shifts`` is given.
    shifts:
        Optional windows ``(start_s, end_s, count)``: how many are on duty
        when (see :func:`shift_schedule`); never more than ``operators``.
    rng:
        The generator for service times and decisions (e.g. the run's
        ``"operators"`` stream). The pool draws from nothing else.
    two_person_classes:
        Action classes whose items always need two operators at once.
    span_of_control:
        The scenario's limit on vehicles per operator (recorded for the
        metric; the pool does not enforce it).
    """

    def __init__(self, env: simpy.Environment, *, operators: int, shifts: Sequence[Any] | None = None,
                 rng: np.random.Generator, two_person_classes: Iterable[str] = (),
                 span_of_control: int | None = None) -> None:
        if isinstance(operators, bool) or int(operators) != operators or operators < 1:
            raise ValueError(f"operators must be a whole number >= 1, got {operators!r}")
        if span_of_control is not None and (int(span_of_control) != span_of_control
                                            or span_of_control < 1):
            raise ValueError(f"span_of_control must be a whole number >= 1 or None, "
                             f"got {span_of_control!r}")
        self.env = env
        self.rng = rng
        self.n_operators = int(operators)
        self.two_person_classes = frozenset(two_person_classes)
        self.span_limit = None if span_of_control is None else int(span_of_control)
        self._on_duty = [False] * self.n_operators
        self._busy = [False] * self.n_operators
        self._free: deque[int] = deque()   # on duty and idle, longest idle first
        self._n_on_duty = 0
        self._queue: list[tuple[int, int, _Job]] = []
        self._queued = 0
        self._serving = 0
        self._seq = 0
        self._running: dict[int, _Job] = {}   # operator -> job in hand
        self._assigned: list[list[int]] = [[] for _ in range(self.n_operators)]
        self._assign_vehicle: list[int] = []
        self._assign_operator: list[int] = []
        self._finish_cb = self._on_finish
        self._cut_cb = self._on_cut
        self._deadline_cb = self._on_deadline
        self._shift_cb = self._on_shift
        # Columnar records.
        self._r_created: list[float] = []
        self._r_start: list[float] = []
        self._r_end: list[float] = []
        self._r_op: list[int] = []
        self._r_op2: list[int] = []
        self._r_kind: list[str] = []
        self._r_class: list[str] = []
        self._r_vehicle: list[int] = []
        self._r_priority: list[int] = []
        self._r_decision: list[str] = []
        self._b_op: list[int] = []
        self._b_start: list[float] = []
        self._b_end: list[float] = []
        self._d_time: list[float] = []
        self._d_count: list[int] = []

        now = env.now
        if shifts is None:
            self._set_on_duty(self.n_operators)
            self.max_on_duty = self.n_operators
        else:
            times, counts = shift_schedule(shifts)
            self.max_on_duty = int(counts.max())
            if self.max_on_duty > self.n_operators:
                at = float(times[int(np.argmax(counts))])
                raise ValueError(f"shifts put {self.max_on_duty} operators on duty at "
                                 f"t={at} s but the pool has only {self.n_operators}")
            i = int(np.searchsorted(times, now, side="right")) - 1
            self._set_on_duty(int(counts[i]))
            for t, c in zip(times[i + 1:].tolist(), counts[i + 1:].tolist(), strict=True):
                if not math.isfinite(t):
                    break                         # a shift that never ends
                ev = env.timeout(t - now, value=int(c))
                ev.callbacks.append(self._shift_cb)

    # ------------------------------------------------------------------ state
    @property
    def on_duty(self) -> int:
        """Operators on duty now."""
        return self._n_on_duty

    @property
    def idle(self) -> int:
        """Operators on duty and free now."""
        return len(self._free)

    @property
    def queue_length(self) -> int:
        """Items waiting (submitted, not started, not withdrawn)."""
        return self._queued

    @property
    def in_service(self) -> int:
        """Items being served now."""
        return self._serving

    # ---------------------------------------------------------------- submit
    def submit(self, work: WorkItem) -> simpy.Event:
        """Queue ``work``; the returned event succeeds with its :class:`Outcome`."""
        env = self.env
        now = env.now
        if work.kind not in KINDS:
            raise ValueError(f"unknown work kind {work.kind!r}; valid kinds: {', '.join(KINDS)}")
        created = float(now) if work.created_s is None else float(work.created_s)
        if created > now:
            raise ValueError(f"work item created_s={created} is in the future (now {now})")
        two = work.two_person or work.action_class in self.two_person_classes
        if two and self.max_on_duty < 2:
            raise ValueError(f"two-person item (class {work.action_class!r}) but at most "
                             f"{self.max_on_duty} operator(s) are ever on duty")
        deadline_at = None
        if work.deadline_s is not None:
            if not work.deadline_s > 0:
                raise ValueError(f"deadline_s must be > 0 or None, got {work.deadline_s!r}")
            deadline_at = created + float(work.deadline_s)
        if not 0.0 <= work.approve_probability <= 1.0:
            raise ValueError(f"approve_probability must be in [0, 1], "
                             f"got {work.approve_probability!r}")
        event = env.event()
        job = _Job(work, created, deadline_at, two, self._seq, event)
        event.work_job = job  # type: ignore[attr-defined]  # for withdraw()
        self._seq += 1
        heapq.heappush(self._queue, (work.priority, job.seq, job))
        self._queued += 1
        if deadline_at is not None:
            # A deadline already reached is handled at once: by _dispatch when an
            # operator is free, else by this timer (due now).
            ev = env.timeout(_delay_until(now, deadline_at), value=job)
            ev.callbacks.append(self._deadline_cb)
        if self._free:
            self._dispatch()
        return event

    def withdraw(self, event: simpy.Event, decision: str = "withdrawn") -> bool:
        """Withdraw a still-queued item (its event succeeds with ``decision``).

        Returns False (and changes nothing) if it has already started or ended.
        """
        job = getattr(event, "work_job", None)
        if job is None:
            raise ValueError("not an event returned by OperatorPool.submit")
        if job.state is not _QUEUED:
            return False
        self._end_unserved(job, decision)
        if self._free:
            self._dispatch()
        return True

    # ---------------------------------------------------------- span of control
    def assign_vehicles(self, vehicles: Iterable[int],
                        mapping: Mapping[int, int] | None = None) -> None:
        """Make operators responsible for ``vehicles``: by ``mapping`` (vehicle ->
        operator) where given, the rest round-robin over the operators."""
        k = len(self._assign_vehicle)
        for v in vehicles:
            v = int(v)
            if mapping is not None and v in mapping:
                op = int(mapping[v])
                if not 0 <= op < self.n_operators:
                    raise ValueError(f"vehicle {v} mapped to operator {op}; valid operators "
                                     f"are 0..{self.n_operators - 1}")
            else:
                op = k % self.n_operators
                k += 1
            self._assigned[op].append(v)
            self._assign_vehicle.append(v)
            self._assign_operator.append(op)

    def assigned_vehicles(self, op: int) -> tuple[int, ...]:
        """The vehicles operator ``op`` is responsible for."""
        return tuple(self._assigned[op])

    # ---------------------------------------------------------------- records
    def records(self) -> dict[str, np.ndarray]:
        """A snapshot of the records as arrays.

        ``item_*`` (one row per finished, timed-out or withdrawn item, in the
        order they ended): ``created_s, start_s`` (NaN if unserved), ``end_s,
        waited_s, operator, operator2`` (-1 if none), ``kind, class, vehicle,
        priority, decision``.
        ``busy_*`` (one row per operator per served item): ``operator,
        start_s, end_s``; services still running are cut at the current time.
        ``duty_*``: ``time_s, count``, the on-duty step function; its last row
        is the current time (the end of the record).
        ``assign_*``: ``vehicle, operator``; ``operator_id``: all operator ids.
        """
        now = float(self.env.now)
        start = np.array(self._r_start, dtype=np.float64)
        created = np.array(self._r_created, dtype=np.float64)
        end = np.array(self._r_end, dtype=np.float64)
        waited = np.where(np.isnan(start), end, start) - created
        b_op = list(self._b_op)
        b_start = list(self._b_start)
        b_end = list(self._b_end)
        for op in range(self.n_operators):
            job = self._running.get(op)
            if job is not None:
                b_op.append(op)
                b_start.append(job.start)
                b_end.append(now)
        return {
            "item_created_s": created,
            "item_start_s": start,
            "item_end_s": end,
            "item_waited_s": waited,
            "item_operator": np.array(self._r_op, dtype=np.int64),
            "item_operator2": np.array(self._r_op2, dtype=np.int64),
            "item_kind": np.array(self._r_kind, dtype=object),
            "item_class": np.array(self._r_class, dtype=object),
            "item_vehicle": np.array(self._r_vehicle, dtype=np.int64),
            "item_priority": np.array(self._r_priority, dtype=np.int64),
            "item_decision": np.array(self._r_decision, dtype=object),
            "busy_operator": np.array(b_op, dtype=np.int64),
            "busy_start_s": np.array(b_start, dtype=np.float64),
            "busy_end_s": np.array(b_end, dtype=np.float64),
            "duty_time_s": np.array(self._d_time + [now], dtype=np.float64),
            "duty_count": np.array(self._d_count + [self._n_on_duty], dtype=np.int64),
            "assign_vehicle": np.array(self._assign_vehicle, dtype=np.int64),
            "assign_operator": np.array(self._assign_operator, dtype=np.int64),
            "operator_id": np.arange(self.n_operators, dtype=np.int64),
        }

    # --------------------------------------------------------------- internals
    def _dispatch(self) -> None:
        queue, free = self._queue, self._free
        now = float(self.env.now)
        while queue and free:
            job = queue[0][2]
            if job.state is not _QUEUED:          # withdrawn earlier; drop lazily
                heapq.heappop(queue)
                continue
            if job.deadline_at is not None and job.deadline_at <= now:
                self._time_out(job)
                continue
            if job.two_person:
                if len(free) < 2:
                    return                        # hold the free operator for it
                ops: tuple[int, ...] = (free.popleft(), free.popleft())
            else:
                ops = (free.popleft(),)
            heapq.heappop(queue)
            self._start(job, ops, now)

    def _start(self, job: _Job, ops: tuple[int, ...], now: float) -> None:
        self._queued -= 1
        self._serving += 1
        job.state = _SERVING
        job.start = now
        job.ops = ops
        busy = self._busy
        running = self._running
        for op in ops:
            busy[op] = True
            running[op] = job
        duration = job.item.service.sample(self.rng)
        if duration < 0 or duration != duration:
            raise ValueError(f"service time sample {duration!r} for {job.item.kind} item "
                             f"(class {job.item.action_class!r}) is not a time >= 0")
        deadline = job.deadline_at
        if deadline is None or now + duration <= deadline:  # decided by the deadline
            ev = self.env.timeout(duration, value=job)
            ev.callbacks.append(self._finish_cb)
        else:  # the service would end after the deadline: cut at the deadline
            ev = self.env.timeout(_delay_until(now, deadline), value=job)
            ev.callbacks.append(self._cut_cb)

    def _on_finish(self, ev: simpy.Event) -> None:
        job: _Job = ev.value
        item = job.item
        positive, negative = KINDS[item.kind]
        decision = positive
        if negative is not None:
            if self.rng.random() >= item.approve_probability:
                decision = negative
        self._release(job, decision)

    def _on_cut(self, ev: simpy.Event) -> None:
        self._release(ev.value, "timed_out")

    def _release(self, job: _Job, decision: str) -> None:
        """End a job in service with ``decision``; its operators are free again."""
        item = job.item
        now = float(self.env.now)
        job.state = _DONE
        self._serving -= 1
        ops = job.ops
        busy, on_duty, free, running = self._busy, self._on_duty, self._free, self._running
        for op in ops:
            busy[op] = False
            del running[op]
            self._b_op.append(op)
            self._b_start.append(job.start)
            self._b_end.append(now)
            if on_duty[op]:
                free.append(op)
        self._record(job, job.start, now, ops[0], ops[1] if len(ops) > 1 else -1, decision)
        job.event.succeed(Outcome(item, decision, ops, job.created, job.start, now,
                                  job.start - job.created))
        job.event = None  # (its event keeps the job for withdraw(): no cycle left)
        if self._queue and free:
            self._dispatch()

    def _on_deadline(self, ev: simpy.Event) -> None:
        job: _Job = ev.value
        if job.state is _QUEUED:
            self._time_out(job)
            if self._free:
                self._dispatch()

    def _time_out(self, job: _Job) -> None:
        self._end_unserved(job, "timed_out")

    def _end_unserved(self, job: _Job, decision: str) -> None:
        """Take a queued job out (lazily from the heap) and report it."""
        now = float(self.env.now)
        job.state = _DONE
        self._queued -= 1
        queue = self._queue
        if queue and queue[0][2] is job:
            heapq.heappop(queue)
        self._record(job, math.nan, now, -1, -1, decision)
        job.event.succeed(Outcome(job.item, decision, (), job.created, None, now,
                                  now - job.created))
        job.event = None

    def _record(self, job: _Job, start: float, end: float, op: int, op2: int,
                decision: str) -> None:
        item = job.item
        self._r_created.append(job.created)
        self._r_start.append(start)
        self._r_end.append(end)
        self._r_op.append(op)
        self._r_op2.append(op2)
        self._r_kind.append(item.kind)
        self._r_class.append(item.action_class)
        self._r_vehicle.append(item.vehicle)
        self._r_priority.append(item.priority)
        self._r_decision.append(decision)

    def _on_shift(self, ev: simpy.Event) -> None:
        self._set_on_duty(ev.value)
        if self._queue and self._free:
            self._dispatch()

    def _set_on_duty(self, target: int) -> None:
        on_duty, busy, free = self._on_duty, self._busy, self._free
        n = self._n_on_duty
        if target < n:
            # Idle operators leave first (the most recently freed first), then
            # busy ones (highest id first), who finish their item before leaving.
            while n > target and free:
                on_duty[free.pop()] = False
                n -= 1
            op = self.n_operators - 1
            while n > target:
                if on_duty[op]:
                    on_duty[op] = False
                    n -= 1
                op -= 1
        elif target > n:
            # Operators still finishing after their shift stay on first, then
            # off-duty idle ones come on, lowest id first.
            for want_busy in (True, False):
                for op in range(self.n_operators):
                    if n == target:
                        break
                    if not on_duty[op] and busy[op] is want_busy:
                        on_duty[op] = True
                        n += 1
                        if not want_busy:
                            free.append(op)
        self._n_on_duty = n
        self._d_time.append(float(self.env.now))
        self._d_count.append(n)


# ---------------------------------------------------------------------- metrics
def _cumulative_step(times: np.ndarray, deltas: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Knots ``(t, F(t))`` of F(t) = integral of the step function that jumps by
    ``deltas`` at ``times`` (starting from 0); F is piecewise linear between knots."""
    order = np.argsort(times, kind="stable")
    t = times[order]
    level = np.cumsum(deltas[order])
    if len(t) == 0:
        return np.zeros(1), np.zeros(1)
    area = np.concatenate([[0.0], np.cumsum(level[:-1] * np.diff(t))])
    return t, area


def _integral_at(knots: tuple[np.ndarray, np.ndarray], x: np.ndarray) -> np.ndarray:
    t, area = knots
    # Beyond the last knot the level is level[-1], which is 0 for the busy and
    # the duty functions as built below; np.interp extends flat, as needed.
    return np.interp(x, t, area)


def utilization(rec: Mapping[str, np.ndarray], window_s: float, *, step_s: float | None = None,
                t0_s: float | None = None, t1_s: float | None = None) -> dict[str, Any]:
    """Operator utilisation: busy operator-seconds / on-duty operator-seconds.

    ``mean`` is over ``[t0_s, t1_s]`` (default: the first duty record to the end
    of the record). ``peak`` is the largest value over windows of ``window_s``
    starting every ``step_s`` (default ``window_s / 10``); windows with nobody
    on duty are skipped. Work finished after a shift ended counts as busy, so a
    window can exceed 1. Returns ``mean, peak, peak_start_s, window_starts_s,
    window_values``.
    """
    if not window_s > 0:
        raise ValueError(f"window_s must be > 0, got {window_s!r}")
    dt = np.asarray(rec["duty_time_s"], dtype=np.float64)
    dc = np.asarray(rec["duty_count"], dtype=np.float64)
    t0 = float(dt[0]) if t0_s is None else float(t0_s)
    t1 = float(dt[-1]) if t1_s is None else float(t1_s)
    bs = np.asarray(rec["busy_start_s"], dtype=np.float64)
    be = np.asarray(rec["busy_end_s"], dtype=np.float64)
    busy = _cumulative_step(np.concatenate([bs, be]),
                            np.concatenate([np.ones(len(bs)), -np.ones(len(be))]))
    # The duty step function ends (drops to 0) at its last record.
    duty = _cumulative_step(dt, np.diff(np.concatenate([[0.0], dc[:-1], [0.0]])))
    step = window_s / 10.0 if step_s is None else float(step_s)
    nan = math.nan
    empty = np.zeros(0)
    if not t1 > t0:
        return {"mean": nan, "peak": nan, "peak_start_s": nan, "window_starts_s": empty,
                "window_values": empty}
    cap = float(_integral_at(duty, np.array([t1]))[0] - _integral_at(duty, np.array([t0]))[0])
    b = float(_integral_at(busy, np.array([t1]))[0] - _integral_at(busy, np.array([t0]))[0])
    mean = b / cap if cap > 0 else nan
    last = max(t0, t1 - window_s)
    starts = t0 + step * np.arange(int(math.floor((last - t0) / step + 1e-9)) + 1)
    ends = np.minimum(starts + window_s, t1)
    wcap = _integral_at(duty, ends) - _integral_at(duty, starts)
    wbusy = _integral_at(busy, ends) - _integral_at(busy, starts)
    ok = wcap > 1e-12 * window_s
    values = np.full(len(starts), nan)
    values[ok] = wbusy[ok] / wcap[ok]
    if ok.any():
        k = int(np.nanargmax(values))
        peak, peak_at = float(values[k]), float(starts[k])
    else:
        peak = peak_at = nan
    return {"mean": mean, "peak": peak, "peak_start_s": peak_at, "window_starts_s": starts,
            "window_values": values}


def _select(rec: Mapping[str, np.ndarray], kind: str | Sequence[str] | None,
            action_class: str | Sequence[str] | None) -> np.ndarray:
    sel = np.ones(len(rec["item_end_s"]), dtype=bool)
    if kind is not None:
        sel &= np.isin(rec["item_kind"], [kind] if isinstance(kind, str) else list(kind))
    if action_class is not None:
        cls = [action_class] if isinstance(action_class, str) else list(action_class)
        sel &= np.isin(rec["item_class"], cls)
    return sel


def wait_stats(rec: Mapping[str, np.ndarray], *, kind: str | Sequence[str] | None = None,
               action_class: str | Sequence[str] | None = None) -> dict[str, float]:
    """Queue waits (start - created) of the *served* items selected by
    ``kind``/``action_class``: ``n, mean_s, p95_s, max_s`` (NaN if none)."""
    sel = _select(rec, kind, action_class) & ~np.isnan(np.asarray(rec["item_start_s"]))
    w = np.asarray(rec["item_waited_s"], dtype=np.float64)[sel]
    if len(w) == 0:
        return {"n": 0, "mean_s": math.nan, "p95_s": math.nan, "max_s": math.nan}
    return {"n": int(len(w)), "mean_s": float(np.mean(w)),
            "p95_s": float(np.percentile(w, 95.0)), "max_s": float(np.max(w))}


def timed_out_count(rec: Mapping[str, np.ndarray], *, kind: str | Sequence[str] | None = None,
                    action_class: str | Sequence[str] | None = None) -> int:
    """Number of selected items withdrawn because their deadline passed."""
    sel = _select(rec, kind, action_class)
    return int(np.count_nonzero(np.asarray(rec["item_decision"])[sel] == "timed_out"))


def class_counts(rec: Mapping[str, np.ndarray]) -> dict[str, dict[str, int]]:
    """Per action class: the number of items with each decision, and ``total``."""
    out: dict[str, dict[str, int]] = {}
    classes = np.asarray(rec["item_class"])
    decisions = np.asarray(rec["item_decision"])
    for c in sorted(set(classes.tolist())):
        d = decisions[classes == c]
        counts = {str(k): int(n) for k, n in zip(*np.unique(d.astype(str), return_counts=True),
                                                  strict=True)}
        counts["total"] = int(len(d))
        out[str(c)] = counts
    return out


def fan_out(neglect_s: float, interaction_s: float, wait_s: float = 0.0) -> float:
    """Olsen & Wood's fan-out FO = NT / (IT + WT) + 1: how many vehicles one
    operator can keep busy."""
    if not interaction_s + wait_s > 0:
        raise ValueError("interaction_s + wait_s must be > 0")
    return neglect_s / (interaction_s + wait_s) + 1.0


def span_of_control(rec: Mapping[str, np.ndarray], limit: int | None = None) -> dict[str, Any]:
    """Vehicles per operator: ``per_operator`` (array), ``max``, ``mean``, and
    ``over_limit`` (operators above ``limit``; 0 without a limit)."""
    ops = np.asarray(rec["operator_id"])
    per = np.bincount(np.asarray(rec["assign_operator"], dtype=np.int64), minlength=len(ops))
    return {"per_operator": per, "max": int(per.max()) if len(per) else 0,
            "mean": float(per.mean()) if len(per) else math.nan,
            "over_limit": int(np.count_nonzero(per > limit)) if limit is not None else 0}


def oversight_summary(rec: Mapping[str, np.ndarray], *, window_s: float = 3600.0,
                      span_limit: int | None = None) -> dict[str, float | int]:
    """The flat ``oversight.*`` metrics of a pool's records."""
    u = utilization(rec, window_s)
    w = wait_stats(rec)
    a = wait_stats(rec, kind="approve")
    s = span_of_control(rec, span_limit)
    dec = np.asarray(rec["item_decision"])
    return {
        "oversight.items": int(len(dec)),
        "oversight.utilization_mean": u["mean"],
        "oversight.utilization_peak": u["peak"],
        "oversight.wait_mean_s": w["mean_s"],
        "oversight.wait_p95_s": w["p95_s"],
        "oversight.wait_max_s": w["max_s"],
        "oversight.approval_wait_mean_s": a["mean_s"],
        "oversight.approval_wait_p95_s": a["p95_s"],
        "oversight.approval_wait_max_s": a["max_s"],
        "oversight.timed_out": timed_out_count(rec),
        "oversight.approvals_timed_out": timed_out_count(rec, kind="approve"),
        "oversight.denied": int(np.count_nonzero(dec == "denied")),
        "oversight.vetoed": int(np.count_nonzero(dec == "vetoed")),
        "oversight.span_of_control_max": s["max"],
        "oversight.span_of_control_over_limit": s["over_limit"],
    }

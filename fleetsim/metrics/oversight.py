"""Human oversight: operator load, approvals, authorization, reviews, stops.

Pure functions of the recorded ``events`` (the oversight kinds, see
:data:`fleetsim.record.EVENT_KINDS`) and of the scenario's
:class:`~fleetsim.scenario.model.OversightSpec`; nothing is taken from the
engine. Every metric is None when the scenario has no ``oversight`` section,
so the keys of ``metrics.json`` do not depend on it. Counts are of events;
means and percentiles are over the events' finite values, None when there are
none. ``T`` is the run's duration; events are
read in the order they were recorded (time, then sequence), which decides
between events at the same time.

The rule of an action class is the scenario's
(:meth:`OversightSpec.rule_for` of the event's ``detail``), not what the
engine wrote in ``value``: the metrics check the engine, they do not trust it.

Operator work
-------------
A work item is a ``work_start`` of an operator paired with that operator's
next ``work_end`` (an operator serves one item at a time); a start with no end
is busy until ``T``. A two-person item has one pair per operator: it counts
twice in busy time but once as an interaction with its vehicle.

``oversight.operators``
    ``OversightSpec.operators``.
``oversight.utilization_mean``
    Busy operator-time / on-duty operator-time over ``[0, T]``. On duty: the
    ``shifts`` (overlapping windows add up; nobody outside them), or all
    operators all the time when there are none.
``oversight.utilization_peak``
    The largest utilisation over windows of :data:`WINDOW_S` (600 s) starting
    every :data:`STEP_S` (60 s) from 0 (one window ``[0, T]`` when ``T`` is
    shorter); windows with nobody on duty are skipped. Work finished after a
    shift ended still counts as busy, so a value can exceed 1.
``oversight.span_of_control``
    Vehicles of the fleet / operators on duty, averaged over the time in
    ``[0, T]`` when anyone is on duty.
``oversight.fan_out_estimate``
    Olsen & Wood's fan-out ``FO = NT / (IT + WT) + 1`` estimated from the work
    items that name a vehicle (``vehicle >= 0``; the two pairs of a two-person
    item are one item):

    - ``IT`` (interaction time): mean service ``work_end - work_start``.
    - ``WT`` (wait time): mean queue wait. The wait of an item is read off
      its decision: the ``auth_granted``, ``auth_denied``, ``ack`` or
      ``review`` event of the same vehicle recorded at the item's end, whose
      value is the time from the request to the decision, i.e. wait plus
      service; wait = value - service (0 if no such event, or if the value is
      shorter than the service).
    - ``NT`` (neglect time): mean, over consecutive items ``k, k+1`` of the
      same vehicle, of the time from the end of item ``k`` to the *request*
      of item ``k+1`` (its start minus its wait): the time between
      consecutive work items minus the first's service and the second's wait,
      floored at 0 (a vehicle that asks again while being served is not
      neglected at all).

    With deterministic neglect and interaction times and no waits this is
    exactly ``NT/IT + 1``, the largest fleet one operator serves without
    waits. None when no vehicle has two work items or ``IT + WT`` is 0.

Authorization
-------------
``oversight.approvals_requested`` / ``_granted`` / ``_denied`` / ``_timed_out``
    ``auth_request`` / ``auth_granted`` / ``auth_denied`` / ``auth_timeout``
    events of classes whose rule is ``approve``.
``oversight.approval_wait_mean_s``, ``_p95_s``, ``_max_s``
    Over the values (request to decision) of those decisions, timeouts
    included; p95 interpolates linearly between order statistics.
``oversight.veto_reviews``, ``oversight.vetoes``
    ``auth_request`` and ``auth_denied`` (vetoed in time) events of classes
    whose rule is ``veto``.
``oversight.unauthorized_actions``
    ``action_start`` events of a ``forbidden`` class, plus those of an
    ``approve`` or ``veto`` class that no grant covers. Per vehicle and class,
    an ``auth_granted`` that answers an open ``auth_request`` makes one grant
    available; the next ``action_start`` uses it up. A new ``auth_request``
    voids an unused grant (the action it was for did not happen), and
    ``auth_denied``/``auth_timeout`` close the request with no grant. Should
    be 0 in a correct engine.
``oversight.veto_window_violations``
    ``veto_late`` events.
``oversight.actions_refused``
    ``action_refused`` events.
``oversight.traceable_share``
    Of the consequential actions (``action_start`` of a class whose rule is
    not ``auto``), the share whose event names an operator (``operator >= 0``).

Notifications, reviews and stops
--------------------------------
``oversight.acks``, ``oversight.ack_latency_mean_s``
    ``ack`` events and the mean of their values.
``oversight.detections_reviewed``, ``oversight.review_latency_mean_s``, ``_p95_s``
    ``review`` events (of detections and of false alarms) and their values.
``oversight.false_alarms``
    ``false_alarm`` events.
``oversight.stops``
    ``stop_issued`` events.
``oversight.stop_latency_mean_s``, ``oversight.stop_latency_max_s``
    Over the values of ``stop_safe`` events (one per vehicle brought to a safe
    state).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from fleetsim.metrics.kinds import event_rows, within_block
from fleetsim.oversight.operators import fan_out, shift_schedule, utilization

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.record import RecordedRun
    from fleetsim.scenario.model import OversightSpec

__all__ = ["NAMES", "STEP_S", "WINDOW_S", "duty_schedule", "fan_out_terms",
           "oversight_metrics", "unauthorized_rows", "work_items"]

#: Width and step of the rolling windows of ``oversight.utilization_peak``.
WINDOW_S = 600.0
STEP_S = 60.0

#: Decision events whose value is the time from a work item's request to its end.
DECISION_KINDS = ("auth_granted", "auth_denied", "ack", "review")

NAMES = (
    "oversight.operators", "oversight.utilization_mean", "oversight.utilization_peak",
    "oversight.approval_wait_mean_s", "oversight.approval_wait_p95_s",
    "oversight.approval_wait_max_s", "oversight.approvals_requested",
    "oversight.approvals_granted", "oversight.approvals_denied",
    "oversight.approvals_timed_out", "oversight.veto_reviews", "oversight.vetoes",
    "oversight.unauthorized_actions", "oversight.veto_window_violations",
    "oversight.actions_refused", "oversight.acks", "oversight.ack_latency_mean_s",
    "oversight.detections_reviewed", "oversight.false_alarms",
    "oversight.review_latency_mean_s", "oversight.review_latency_p95_s",
    "oversight.span_of_control", "oversight.fan_out_estimate",
    "oversight.stop_latency_mean_s", "oversight.stop_latency_max_s", "oversight.stops",
    "oversight.traceable_share",
)


def _rules(spec: OversightSpec, classes: np.ndarray) -> np.ndarray:
    """The scenario's rule name for each action class in ``classes``."""
    lookup = {c: spec.rule_for(c).rule for c in set(classes.tolist())}
    return np.array([lookup[c] for c in classes.tolist()], dtype=object)


def _mean(x: np.ndarray) -> float | None:
    return float(np.mean(x)) if len(x) else None


def _p95(x: np.ndarray) -> float | None:
    return float(np.percentile(x, 95.0)) if len(x) else None


def _max(x: np.ndarray) -> float | None:
    return float(np.max(x)) if len(x) else None


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def duty_schedule(spec: OversightSpec, duration_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Operators on duty over ``[0, T]``: ``(times_s, counts)`` with ``counts[i]``
    on duty from ``times_s[i]`` to ``times_s[i+1]``; ``times_s`` runs from 0 to
    ``T`` and the last count is the one at ``T``."""
    T = float(duration_s)
    if not spec.shifts:
        return np.array([0.0, T]), np.array([spec.operators, spec.operators], dtype=np.int64)
    times, counts = shift_schedule([(s.start_s, s.end_s, s.count) for s in spec.shifts])

    def at(t: float) -> int:
        return int(counts[int(np.searchsorted(times, t, side="right")) - 1])

    inner = (times > 0.0) & (times < T)
    return (np.concatenate([[0.0], times[inner], [T]]),
            np.concatenate([[at(0.0)], counts[inner], [at(T)]]).astype(np.int64))


def work_items(run: RecordedRun) -> dict[str, np.ndarray]:
    """Every operator's work items: ``operator, vehicle, start_s, end_s, detail``.

    An operator's ``work_start`` is paired with its next ``work_end``; the
    vehicle and work kind are the start's. A start with no end lasts until
    ``T`` (or until the same operator's next start); an end with no start is
    ignored. (Found once per :func:`fleetsim.metrics.kinds.indexed_kinds` block;
    the arrays are shared, not to be changed.)
    """
    return dict(within_block(run, "work_items", _work_items))


def _work_items(run: RecordedRun) -> dict[str, np.ndarray]:
    ev = run.events
    rows = event_rows(run, ("work_start", "work_end"))
    open_: dict[int, tuple[float, int, str]] = {}
    out: list[tuple[int, int, float, float, str]] = []
    for kind, op, t, v, d in zip(ev["kind"][rows].tolist(), ev["operator"][rows].tolist(),
                                 ev["time_s"][rows].tolist(), ev["vehicle"][rows].tolist(),
                                 ev["detail"][rows].tolist(), strict=True):
        if op < 0:
            continue
        if kind == "work_start":
            if op in open_:                       # a start while busy closes the item in hand
                t0, v0, d0 = open_.pop(op)
                out.append((op, v0, t0, t, d0))
            open_[op] = (t, v, d)
        elif op in open_:
            t0, v0, d0 = open_.pop(op)
            out.append((op, v0, t0, t, d0))
    T = run.duration_s
    out.extend((op, v, t0, max(T, t0), d) for op, (t0, v, d) in open_.items())
    out.sort(key=lambda r: (r[2], r[0]))
    return {
        "operator": np.array([r[0] for r in out], dtype=np.int64),
        "vehicle": np.array([r[1] for r in out], dtype=np.int64),
        "start_s": np.array([r[2] for r in out], dtype=np.float64),
        "end_s": np.array([r[3] for r in out], dtype=np.float64),
        "detail": np.array([r[4] for r in out], dtype=object),
    }


def unauthorized_rows(run: RecordedRun) -> np.ndarray:
    """Row indexes in ``run.events`` of the ``action_start`` events taken
    without the authorization their class requires (see the module doc)."""
    spec = run.scenario.oversight
    if spec is None:
        return np.zeros(0, dtype=np.int64)
    ev = run.events
    kinds = ("auth_request", "auth_granted", "auth_denied", "auth_timeout", "action_start")
    rows = event_rows(run, kinds)
    rules = _rules(spec, ev["detail"][rows])
    requested: set[tuple[int, str]] = set()   # open requests
    granted: set[tuple[int, str]] = set()     # unused grants
    bad: list[int] = []
    for row, kind, v, c, rule in zip(rows.tolist(), ev["kind"][rows].tolist(),
                                     ev["vehicle"][rows].tolist(), ev["detail"][rows].tolist(),
                                     rules.tolist(), strict=True):
        key = (v, c)
        if kind == "auth_request":
            requested.add(key)
            granted.discard(key)
        elif kind == "auth_granted":
            if key in requested:
                requested.discard(key)
                granted.add(key)
        elif kind in ("auth_denied", "auth_timeout"):
            requested.discard(key)
            granted.discard(key)
        elif rule == "forbidden":
            bad.append(row)
        elif rule in ("approve", "veto"):
            if key in granted:
                granted.discard(key)
            else:
                bad.append(row)
    return np.array(bad, dtype=np.int64)


def fan_out_terms(run: RecordedRun) -> dict[str, Any]:
    """The terms of the fan-out estimate (module doc): ``nt_s, it_s, wt_s`` (NaN
    when undefined), ``items`` and ``pairs`` (the numbers they rest on) and
    ``fan_out`` (None when undefined)."""
    w = work_items(run)
    keep = w["vehicle"] >= 0
    triples = np.unique(np.column_stack([w["vehicle"][keep].astype(np.float64),
                                         w["start_s"][keep], w["end_s"][keep]]), axis=0)
    vehicle = triples[:, 0].astype(np.int64)
    start, end = triples[:, 1], triples[:, 2]
    service = end - start
    # Decision events: (vehicle, time) -> their values, in recorded order.
    ev = run.events
    rows = event_rows(run, DECISION_KINDS)
    rows = rows[ev["vehicle"][rows] >= 0]
    decisions: dict[tuple[int, float], list[float]] = {}
    for v, t, x in zip(ev["vehicle"][rows].tolist(), ev["time_s"][rows].tolist(),
                       ev["value"][rows].tolist(), strict=True):
        decisions.setdefault((v, t), []).append(x)
    wait = np.zeros(len(vehicle))
    for i, (v, t) in enumerate(zip(vehicle.tolist(), end.tolist(), strict=True)):
        values = decisions.get((v, t))
        if values:
            x = values.pop(0)
            if math.isfinite(x) and x > service[i]:
                wait[i] = x - service[i]
    # Consecutive items of one vehicle (triples are sorted by vehicle, then start).
    same = vehicle[1:] == vehicle[:-1]
    neglect = np.maximum(start[1:] - wait[1:] - end[:-1], 0.0)[same]
    nan = math.nan
    nt = float(neglect.mean()) if len(neglect) else nan
    it = float(service.mean()) if len(service) else nan
    wt = float(wait.mean()) if len(wait) else nan
    fo = fan_out(nt, it, wt) if len(neglect) and it + wt > 0 else None
    return {"nt_s": nt, "it_s": it, "wt_s": wt, "items": int(len(vehicle)),
            "pairs": int(len(neglect)), "fan_out": fo}


def oversight_metrics(run: RecordedRun) -> dict[str, float | int | None]:
    """The ``oversight.*`` metrics of ``run`` (all None without oversight)."""
    spec = run.scenario.oversight
    if spec is None:
        return dict.fromkeys(NAMES)
    T = run.duration_s
    ev = run.events

    def count(k: str) -> int:
        return len(event_rows(run, k))

    def values(k: str) -> np.ndarray:  # the finite values of the events of kind k
        x = np.asarray(ev["value"][event_rows(run, k)], dtype=np.float64)
        return x[np.isfinite(x)]

    # Operator load.
    duty_t, duty_c = duty_schedule(spec, T)
    w = work_items(run)
    u = utilization({"duty_time_s": duty_t, "duty_count": duty_c,
                     "busy_start_s": w["start_s"], "busy_end_s": w["end_s"]},
                    WINDOW_S, step_s=STEP_S, t0_s=0.0, t1_s=T)
    seg = np.diff(duty_t)
    on = duty_c[:-1] > 0
    n_vehicles = len(run.vehicles["vehicle"])
    span = (float(np.sum(n_vehicles / duty_c[:-1][on] * seg[on]) / np.sum(seg[on]))
            if np.sum(seg[on]) > 0 else None)

    # Authorization: the events of these kinds, in table order.
    auth = event_rows(run, ("auth_request", "auth_granted", "auth_denied", "auth_timeout",
                            "action_start"))
    kind = np.asarray(ev["kind"][auth], dtype=object)
    rule = _rules(spec, ev["detail"][auth])
    approve = rule == "approve"
    veto = rule == "veto"
    decided = ((kind == "auth_granted") | (kind == "auth_denied")
               | (kind == "auth_timeout")) & approve
    waits = np.asarray(ev["value"][auth[decided]], dtype=np.float64)
    waits = waits[np.isfinite(waits)]
    consequential = (kind == "action_start") & (rule != "auto")
    n_consequential = int(np.count_nonzero(consequential))
    named = int(np.count_nonzero(ev["operator"][auth[consequential]] >= 0))

    ack_latency = values("ack")
    review_latency = values("review")
    stop_latency = values("stop_safe")
    return {
        "oversight.operators": int(spec.operators),
        "oversight.utilization_mean": _finite(u["mean"]),
        "oversight.utilization_peak": _finite(u["peak"]),
        "oversight.approval_wait_mean_s": _mean(waits),
        "oversight.approval_wait_p95_s": _p95(waits),
        "oversight.approval_wait_max_s": _max(waits),
        "oversight.approvals_requested": int(np.count_nonzero((kind == "auth_request") & approve)),
        "oversight.approvals_granted": int(np.count_nonzero((kind == "auth_granted") & approve)),
        "oversight.approvals_denied": int(np.count_nonzero((kind == "auth_denied") & approve)),
        "oversight.approvals_timed_out": int(np.count_nonzero((kind == "auth_timeout")
                                                              & approve)),
        "oversight.veto_reviews": int(np.count_nonzero((kind == "auth_request") & veto)),
        "oversight.vetoes": int(np.count_nonzero((kind == "auth_denied") & veto)),
        "oversight.unauthorized_actions": int(len(unauthorized_rows(run))),
        "oversight.veto_window_violations": count("veto_late"),
        "oversight.actions_refused": count("action_refused"),
        "oversight.acks": count("ack"),
        "oversight.ack_latency_mean_s": _mean(ack_latency),
        "oversight.detections_reviewed": count("review"),
        "oversight.false_alarms": count("false_alarm"),
        "oversight.review_latency_mean_s": _mean(review_latency),
        "oversight.review_latency_p95_s": _p95(review_latency),
        "oversight.span_of_control": span,
        "oversight.fan_out_estimate": fan_out_terms(run)["fan_out"],
        "oversight.stop_latency_mean_s": _mean(stop_latency),
        "oversight.stop_latency_max_s": _max(stop_latency),
        "oversight.stops": count("stop_issued"),
        "oversight.traceable_share": named / n_consequential if n_consequential else None,
    }

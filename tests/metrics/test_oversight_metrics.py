"""Oversight metrics (``oversight.*``) on hand-made event logs, with exact values."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import simpy

from fleetsim.metrics import compute_metrics
from fleetsim.metrics.handmade import recorded_run
from fleetsim.metrics.oversight import (
    NAMES,
    duty_schedule,
    fan_out_terms,
    oversight_metrics,
    unauthorized_rows,
    work_items,
)
from fleetsim.oversight import Deterministic, OperatorPool, WorkItem, fan_out, utilization
from fleetsim.rng import make_rng
from fleetsim.scenario.model import OversightSpec, RuleSpec, ShiftSpec

RULES = {
    "retask": RuleSpec(rule="approve"),
    "enter_restricted": RuleSpec(rule="veto"),
    "takeoff": RuleSpec(rule="notify"),
    "continue_lost_link": RuleSpec(rule="forbidden"),
    "survey": RuleSpec(rule="auto"),
}


def run_with(events, *, duration_s=1000.0, vehicles=3, oversight=None):
    """A hand-made run with ``vehicles`` vehicles and the oversight section given."""
    run = recorded_run(duration_s=duration_s, events=events,
                       footprint_radius_m=[10.0] * vehicles)
    spec = OversightSpec(rules=RULES) if oversight is None else oversight
    return dataclasses.replace(run, scenario=dataclasses.replace(run.scenario, oversight=spec))


def work(op, vehicle, t0, t1, kind="approve"):
    """The work_start/work_end pair of one item served by operator ``op``."""
    return [{"time_s": t0, "kind": "work_start", "operator": op, "vehicle": vehicle,
             "detail": kind},
            {"time_s": t1, "kind": "work_end", "operator": op, "vehicle": vehicle,
             "detail": kind, "value": t1 - t0}]


def approval(vehicle, requested, start, end, op=0, cls="retask"):
    """An approved request served in [start, end], then the action, as the engine logs it."""
    return ([{"time_s": requested, "kind": "auth_request", "vehicle": vehicle, "detail": cls}]
            + work(op, vehicle, start, end)
            + [{"time_s": end, "kind": "auth_granted", "vehicle": vehicle, "detail": cls,
                "operator": op, "value": end - requested},
               {"time_s": end, "kind": "action_start", "vehicle": vehicle, "detail": cls,
                "operator": op, "value": 3}])


# --- no oversight ------------------------------------------------------------------


def test_all_none_without_oversight():
    run = recorded_run(duration_s=100.0, footprint_radius_m=[10.0],
                       events=[{"time_s": 1.0, "kind": "action_start", "vehicle": 0,
                                "detail": "retask"}])
    assert run.scenario.oversight is None
    out = oversight_metrics(run)
    assert tuple(out) == NAMES
    assert all(v is None for v in out.values())
    metrics = compute_metrics(run)
    assert all(metrics[name] is None for name in NAMES)


def test_empty_log_with_oversight():
    out = oversight_metrics(run_with([], vehicles=2,
                                     oversight=OversightSpec(operators=2, rules=RULES)))
    assert tuple(out) == NAMES
    assert out["oversight.operators"] == 2
    assert out["oversight.utilization_mean"] == 0.0
    assert out["oversight.utilization_peak"] == 0.0
    assert out["oversight.span_of_control"] == 1.0
    for name in ("approvals_requested", "unauthorized_actions", "acks", "stops",
                 "detections_reviewed", "veto_window_violations", "actions_refused"):
        assert out[f"oversight.{name}"] == 0
    for name in ("approval_wait_mean_s", "approval_wait_p95_s", "approval_wait_max_s",
                 "ack_latency_mean_s", "review_latency_mean_s", "review_latency_p95_s",
                 "fan_out_estimate", "stop_latency_mean_s", "stop_latency_max_s",
                 "traceable_share"):
        assert out[f"oversight.{name}"] is None


# --- utilisation -----------------------------------------------------------------------


def test_utilization_mean_and_rolling_peak():
    """Two operators all the time, T = 1200 s: windows start at 0, 60, ..., 600.

    Busy: operator 0 in [300, 700], operator 1 in [400, 900]: 900 of 2400
    operator-seconds. The window [300, 900] holds all of it (900 / 1200); its
    neighbours [240, 840] and [360, 960] hold 840.
    """
    events = work(0, 0, 300.0, 700.0) + work(1, 1, 400.0, 900.0)
    run = run_with(events, duration_s=1200.0, oversight=OversightSpec(operators=2))
    out = oversight_metrics(run)
    assert out["oversight.utilization_mean"] == 900.0 / 2400.0
    assert out["oversight.utilization_peak"] == 0.75
    assert out["oversight.span_of_control"] == 3 / 2


def test_utilization_with_shifts_and_an_unfinished_item():
    """One operator on duty in [0, 600), two in [600, 1200): 1800 operator-seconds.

    Busy: operator 0 in [0, 400]; operator 1 in [700, 1100]; operator 0 again
    from 1000 with no end, so until T = 1200: 1000 s. Peak: the window
    [0, 600] with 400 s busy of 600 on duty.
    """
    spec = OversightSpec(operators=2, shifts=(ShiftSpec(0.0, 600.0, 1),
                                              ShiftSpec(600.0, 1200.0, 2)))
    events = (work(0, 0, 0.0, 400.0) + work(1, 1, 700.0, 1100.0)
              + work(0, 2, 1000.0, 1100.0)[:1])
    run = run_with(events, duration_s=1200.0, vehicles=4, oversight=spec)
    times, counts = duty_schedule(spec, 1200.0)
    assert times.tolist() == [0.0, 600.0, 1200.0]
    assert counts[:-1].tolist() == [1, 2]
    items = work_items(run)
    assert items["end_s"].tolist() == [400.0, 1100.0, 1200.0]
    out = oversight_metrics(run)
    assert out["oversight.utilization_mean"] == 1000.0 / 1800.0
    assert out["oversight.utilization_peak"] == 400.0 / 600.0
    # 4 vehicles: 4 per operator for 600 s, then 2 for 600 s.
    assert out["oversight.span_of_control"] == 3.0


def test_nobody_on_duty_is_skipped():
    """Shifts [0, 300) and [900, 1200) with one operator; nobody in between."""
    spec = OversightSpec(operators=1, shifts=(ShiftSpec(0.0, 300.0, 1),
                                              ShiftSpec(900.0, 1200.0, 1)))
    run = run_with(work(0, 0, 900.0, 1200.0), duration_s=1200.0, vehicles=2, oversight=spec)
    out = oversight_metrics(run)
    assert out["oversight.utilization_mean"] == 300.0 / 600.0
    # The window [600, 1200] has 300 s on duty, all busy.
    assert out["oversight.utilization_peak"] == 1.0
    assert out["oversight.span_of_control"] == 2.0
    # Nobody on duty at all: no utilisation, no span.
    never = OversightSpec(operators=1, shifts=(ShiftSpec(2000.0, 3000.0, 1),))
    out = oversight_metrics(run_with([], duration_s=1200.0, oversight=never))
    assert out["oversight.utilization_mean"] is None
    assert out["oversight.utilization_peak"] is None
    assert out["oversight.span_of_control"] is None


def test_two_person_item_is_busy_twice_but_one_interaction():
    events = work(0, 0, 0.0, 100.0) + work(1, 0, 0.0, 100.0) + work(0, 0, 300.0, 400.0)
    run = run_with(events, duration_s=1000.0, oversight=OversightSpec(operators=2))
    out = oversight_metrics(run)
    assert out["oversight.utilization_mean"] == 300.0 / 2000.0
    terms = fan_out_terms(run)
    assert (terms["items"], terms["pairs"]) == (2, 1)
    assert (terms["nt_s"], terms["it_s"], terms["wt_s"]) == (200.0, 100.0, 0.0)
    assert out["oversight.fan_out_estimate"] == 3.0


# --- authorization ---------------------------------------------------------------------


def authorization_log():
    return [
        # notify: takeoff at 0 (no operator named), acknowledged at 25 by operator 1.
        {"time_s": 0.0, "kind": "action_start", "vehicle": 0, "detail": "takeoff", "value": 1},
        {"time_s": 25.0, "kind": "ack", "vehicle": 0, "detail": "takeoff", "operator": 1,
         "value": 25.0},
        # approve, granted after 10 s: authorized.
        *approval(0, 10.0, 12.0, 20.0),
        # approve, denied after 5 s.
        {"time_s": 30.0, "kind": "auth_request", "vehicle": 1, "detail": "retask"},
        {"time_s": 35.0, "kind": "auth_denied", "vehicle": 1, "detail": "retask",
         "operator": 0, "value": 5.0},
        # approve, timed out after 60 s, and the vehicle re-tasks anyway: unauthorized.
        {"time_s": 40.0, "kind": "auth_request", "vehicle": 2, "detail": "retask"},
        {"time_s": 100.0, "kind": "auth_timeout", "vehicle": 2, "detail": "retask",
         "value": 60.0},
        {"time_s": 100.0, "kind": "action_start", "vehicle": 2, "detail": "retask"},
        # veto: window passed unopposed, then the action; vetoed late at 130.
        {"time_s": 50.0, "kind": "auth_request", "vehicle": 2, "detail": "enter_restricted"},
        {"time_s": 110.0, "kind": "auth_granted", "vehicle": 2, "detail": "enter_restricted",
         "value": 60.0},
        {"time_s": 110.0, "kind": "action_start", "vehicle": 2, "detail": "enter_restricted",
         "operator": 1},
        {"time_s": 130.0, "kind": "veto_late", "vehicle": 2, "detail": "enter_restricted",
         "operator": 1, "value": 80.0},
        # veto class, never asked: unauthorized.
        {"time_s": 60.0, "kind": "action_start", "vehicle": 1, "detail": "enter_restricted"},
        # a veto that came in time.
        {"time_s": 65.0, "kind": "auth_request", "vehicle": 0, "detail": "enter_restricted"},
        {"time_s": 90.0, "kind": "auth_denied", "vehicle": 0, "detail": "enter_restricted",
         "operator": 0, "value": 25.0},
        # forbidden: executed once (unauthorized), refused once.
        {"time_s": 70.0, "kind": "action_start", "vehicle": 1, "detail": "continue_lost_link",
         "operator": 0},
        {"time_s": 80.0, "kind": "action_refused", "vehicle": 2, "detail": "continue_lost_link"},
        # auto: not consequential.
        {"time_s": 120.0, "kind": "action_start", "vehicle": 0, "detail": "survey"},
        # the grant of t=20 was used up: a second re-task without asking is unauthorized.
        {"time_s": 150.0, "kind": "action_start", "vehicle": 0, "detail": "retask",
         "operator": 0},
    ]


def test_approvals_and_unauthorized_actions():
    run = run_with(authorization_log(), duration_s=200.0)
    out = oversight_metrics(run)
    assert out["oversight.approvals_requested"] == 3
    assert out["oversight.approvals_granted"] == 1
    assert out["oversight.approvals_denied"] == 1
    assert out["oversight.approvals_timed_out"] == 1
    # Waits 10, 5, 60 (veto decisions are not approvals).
    assert out["oversight.approval_wait_mean_s"] == 25.0
    assert out["oversight.approval_wait_p95_s"] == pytest.approx(55.0, rel=1e-12)  # linear
    assert out["oversight.approval_wait_max_s"] == 60.0
    assert out["oversight.veto_reviews"] == 2
    assert out["oversight.vetoes"] == 1
    assert out["oversight.veto_window_violations"] == 1
    assert out["oversight.actions_refused"] == 1
    ev = run.events
    bad = unauthorized_rows(run)
    assert sorted(zip(ev["time_s"][bad].tolist(), ev["vehicle"][bad].tolist(),
                      ev["detail"][bad].tolist(), strict=True)) == [
        (60.0, 1, "enter_restricted"), (70.0, 1, "continue_lost_link"),
        (100.0, 2, "retask"), (150.0, 0, "retask")]
    assert out["oversight.unauthorized_actions"] == 4
    # Consequential: takeoff (-), retask@20 (op 0), retask@100 (-), enter_restricted@110
    # (op 1), enter_restricted@60 (-), continue_lost_link@70 (op 0), retask@150 (op 0).
    assert out["oversight.traceable_share"] == 4 / 7
    assert out["oversight.acks"] == 1
    assert out["oversight.ack_latency_mean_s"] == 25.0


def test_correct_engine_log_has_no_unauthorized_action():
    events = (approval(0, 0.0, 0.0, 10.0) + approval(0, 20.0, 30.0, 40.0)
              + approval(1, 5.0, 10.0, 20.0, op=1)
              + [{"time_s": 0.0, "kind": "action_start", "vehicle": 2, "detail": "survey"},
                 {"time_s": 1.0, "kind": "action_refused", "vehicle": 2,
                  "detail": "continue_lost_link"}])
    run = run_with(events, duration_s=100.0, oversight=OversightSpec(operators=2, rules=RULES))
    out = oversight_metrics(run)
    assert out["oversight.unauthorized_actions"] == 0
    assert out["oversight.traceable_share"] == 1.0
    assert out["oversight.approval_wait_mean_s"] == (10.0 + 20.0 + 15.0) / 3


@pytest.mark.parametrize(("events", "bad_times"), [
    # A grant for another vehicle, or for another class, does not count.
    ([{"time_s": 0.0, "kind": "auth_request", "vehicle": 1, "detail": "retask"},
      {"time_s": 5.0, "kind": "auth_granted", "vehicle": 1, "detail": "retask"},
      {"time_s": 6.0, "kind": "action_start", "vehicle": 0, "detail": "retask"},
      {"time_s": 7.0, "kind": "auth_request", "vehicle": 0, "detail": "enter_restricted"},
      {"time_s": 8.0, "kind": "auth_granted", "vehicle": 0, "detail": "enter_restricted"},
      {"time_s": 9.0, "kind": "action_start", "vehicle": 0, "detail": "retask"}],
     [6.0, 9.0]),
    # A grant with no request before it does not count.
    ([{"time_s": 1.0, "kind": "auth_granted", "vehicle": 0, "detail": "retask"},
      {"time_s": 2.0, "kind": "action_start", "vehicle": 0, "detail": "retask"}],
     [2.0]),
    # A new request voids the unused grant of an earlier one; its own grant counts.
    ([{"time_s": 0.0, "kind": "auth_request", "vehicle": 0, "detail": "retask"},
      {"time_s": 1.0, "kind": "auth_granted", "vehicle": 0, "detail": "retask"},
      {"time_s": 2.0, "kind": "auth_request", "vehicle": 0, "detail": "retask"},
      {"time_s": 3.0, "kind": "action_start", "vehicle": 0, "detail": "retask"},
      {"time_s": 4.0, "kind": "auth_granted", "vehicle": 0, "detail": "retask"},
      {"time_s": 5.0, "kind": "action_start", "vehicle": 0, "detail": "retask"}],
     [3.0]),
    # Same time: the recorded order decides (action before its grant is unauthorized).
    ([{"time_s": 0.0, "kind": "auth_request", "vehicle": 0, "detail": "retask"},
      {"time_s": 5.0, "kind": "action_start", "vehicle": 0, "detail": "retask"},
      {"time_s": 5.0, "kind": "auth_granted", "vehicle": 0, "detail": "retask"}],
     [5.0]),
    # A denial closes the request; the action after it is unauthorized.
    ([{"time_s": 0.0, "kind": "auth_request", "vehicle": 0, "detail": "enter_restricted"},
      {"time_s": 5.0, "kind": "auth_denied", "vehicle": 0, "detail": "enter_restricted"},
      {"time_s": 5.0, "kind": "auth_granted", "vehicle": 0, "detail": "enter_restricted"},
      {"time_s": 6.0, "kind": "action_start", "vehicle": 0, "detail": "enter_restricted"}],
     [6.0]),
])
def test_authorization_bookkeeping(events, bad_times):
    run = run_with(events, duration_s=10.0)
    bad = unauthorized_rows(run)
    assert run.events["time_s"][bad].tolist() == bad_times
    assert oversight_metrics(run)["oversight.unauthorized_actions"] == len(bad_times)


def test_rule_comes_from_the_scenario_not_the_event():
    """An approve-class action logged with value 0 (auto) is still checked."""
    events = [{"time_s": 1.0, "kind": "action_start", "vehicle": 0, "detail": "retask",
               "value": 0}]
    assert oversight_metrics(run_with(events))["oversight.unauthorized_actions"] == 1
    lax = OversightSpec(rules={"retask": RuleSpec(rule="auto")})
    out = oversight_metrics(run_with(events, oversight=lax))
    assert out["oversight.unauthorized_actions"] == 0
    assert out["oversight.traceable_share"] is None


# --- reviews, acks, stops ------------------------------------------------------------


def test_reviews_acks_and_stops():
    events = [
        {"time_s": 1.0, "kind": "false_alarm", "vehicle": 0},
        {"time_s": 2.0, "kind": "false_alarm", "vehicle": -1, "detail": "mast"},
        {"time_s": 3.0, "kind": "detection", "vehicle": 1, "target": 0},
        *[{"time_s": 10.0 * k, "kind": "review", "vehicle": 0, "operator": 0,
           "detail": "detection", "value": 10.0 * k} for k in (1, 2, 3, 4)],
        {"time_s": 30.0, "kind": "ack", "vehicle": 1, "operator": 0, "value": 4.0},
        {"time_s": 31.0, "kind": "ack", "vehicle": 2, "operator": 0, "value": 8.0},
        {"time_s": 50.0, "kind": "stop_issued", "value": 3, "detail": "return"},
        {"time_s": 80.0, "kind": "stop_safe", "vehicle": 0, "value": 30.0},
        {"time_s": 100.0, "kind": "stop_safe", "vehicle": 1, "value": 50.0},
    ]
    out = oversight_metrics(run_with(events, duration_s=200.0))
    assert out["oversight.false_alarms"] == 2
    assert out["oversight.detections_reviewed"] == 4
    assert out["oversight.review_latency_mean_s"] == 25.0
    assert out["oversight.review_latency_p95_s"] == pytest.approx(38.5, rel=1e-12)
    assert out["oversight.acks"] == 2
    assert out["oversight.ack_latency_mean_s"] == 6.0
    assert out["oversight.stops"] == 1
    assert out["oversight.stop_latency_mean_s"] == 40.0
    assert out["oversight.stop_latency_max_s"] == 50.0


# --- fan-out ---------------------------------------------------------------------------


def test_fan_out_deterministic_without_waits():
    """One operator, 3 vehicles, NT = 40 s, IT = 10 s: vehicle v asks at 10 v + 50 k
    and is served at once (3 <= NT/IT + 1 = 5), so FO = NT/IT + 1 = 5 exactly."""
    events = []
    for v in range(3):
        for k in range(4):
            r = 10.0 * v + 50.0 * k
            events += approval(v, r, r, r + 10.0)
    run = run_with(events, duration_s=200.0, vehicles=3, oversight=OversightSpec(rules=RULES))
    terms = fan_out_terms(run)
    assert (terms["nt_s"], terms["it_s"], terms["wt_s"]) == (40.0, 10.0, 0.0)
    assert (terms["items"], terms["pairs"]) == (12, 9)
    out = oversight_metrics(run)
    assert out["oversight.fan_out_estimate"] == 5.0
    assert out["oversight.span_of_control"] == 3.0
    assert out["oversight.utilization_mean"] == 120.0 / 200.0
    assert out["oversight.unauthorized_actions"] == 0


def test_fan_out_with_waits():
    """Two vehicles ask at 0; v1 waits 10 s. NT = 30 s after every service, IT = 10 s.

    v0 served [0,10], [40,50], [80,90]; v1 served [10,20] (asked at 0), [50,60],
    [90,100]. The wait comes from the decision's value (request to decision)
    minus the service, and is not neglect: NT = 30, WT = 10/6.
    """
    events = (approval(0, 0.0, 0.0, 10.0) + approval(1, 0.0, 10.0, 20.0)
              + approval(0, 40.0, 40.0, 50.0) + approval(1, 50.0, 50.0, 60.0)
              + approval(0, 80.0, 80.0, 90.0) + approval(1, 90.0, 90.0, 100.0))
    run = run_with(events, duration_s=100.0, vehicles=2)
    terms = fan_out_terms(run)
    assert terms["nt_s"] == 30.0
    assert terms["it_s"] == 10.0
    assert terms["wt_s"] == pytest.approx(10.0 / 6.0, rel=1e-15)
    assert oversight_metrics(run)["oversight.fan_out_estimate"] == pytest.approx(
        30.0 / (10.0 + 10.0 / 6.0) + 1.0, rel=1e-15)


def test_fan_out_needs_two_items_of_a_vehicle():
    run = run_with(approval(0, 0.0, 0.0, 10.0) + approval(1, 0.0, 10.0, 20.0))
    assert fan_out_terms(run)["pairs"] == 0
    assert oversight_metrics(run)["oversight.fan_out_estimate"] is None
    # Items with no vehicle (a fleet-wide stop) are no interaction with a vehicle.
    run = run_with(work(0, -1, 0.0, 5.0, "stop") + work(0, -1, 50.0, 55.0, "stop"))
    assert fan_out_terms(run)["items"] == 0
    assert oversight_metrics(run)["oversight.fan_out_estimate"] is None


def pool_log(n_vehicles: int, nt_s: float, it_s: float, rounds: int):
    """Events of an operator pool run: vehicle v first asks at v*IT, then NT after
    each approval; logged the way the engine logs approvals. Returns the events,
    the end time and the pool's records."""
    env = simpy.Environment()
    pool = OperatorPool(env, operators=1, rng=make_rng(1, "operators"))
    events: list[dict] = []

    def vehicle(v: int):
        yield env.timeout(v * it_s)
        for _ in range(rounds):
            asked = env.now
            events.append({"time_s": asked, "kind": "auth_request", "vehicle": v,
                           "detail": "retask"})
            out = yield pool.submit(WorkItem(kind="approve", action_class="retask", vehicle=v,
                                             service=Deterministic(it_s)))
            (op,) = out.operators
            events.extend(work(op, v, out.start_s, out.end_s))
            events.append({"time_s": env.now, "kind": "auth_granted", "vehicle": v,
                           "detail": "retask", "operator": op, "value": env.now - asked})
            events.append({"time_s": env.now, "kind": "action_start", "vehicle": v,
                           "detail": "retask", "operator": op})
            yield env.timeout(nt_s)

    for v in range(n_vehicles):
        env.process(vehicle(v))
    env.run()
    return events, float(env.now), pool.records()


@pytest.mark.parametrize("n_vehicles", [3, 5, 6])
def test_fan_out_and_utilization_agree_with_the_operator_pool(n_vehicles):
    """NT = 40 s, IT = 10 s: the estimate is NT/IT + 1 = 5 while nobody waits
    (N <= 5); beyond, NT stays 40 and the waits enter through WT."""
    events, end, rec = pool_log(n_vehicles, 40.0, 10.0, rounds=6)
    run = run_with(events, duration_s=end, vehicles=n_vehicles,
                   oversight=OversightSpec(rules=RULES))
    out = oversight_metrics(run)
    terms = fan_out_terms(run)
    wait = float(np.mean(rec["item_waited_s"]))
    assert terms["nt_s"] == 40.0
    assert terms["it_s"] == 10.0
    assert terms["wt_s"] == pytest.approx(wait, rel=1e-12, abs=1e-12)
    assert (wait == 0.0) == (n_vehicles <= 5)
    assert out["oversight.fan_out_estimate"] == pytest.approx(fan_out(40.0, 10.0, wait),
                                                              rel=1e-12)
    pool_u = utilization(rec, 600.0, step_s=60.0, t0_s=0.0, t1_s=end)
    assert out["oversight.utilization_mean"] == pytest.approx(pool_u["mean"], rel=1e-12)
    assert out["oversight.utilization_peak"] == pytest.approx(pool_u["peak"], rel=1e-12)
    waits = rec["item_end_s"] - rec["item_created_s"]
    assert out["oversight.approval_wait_mean_s"] == pytest.approx(float(np.mean(waits)),
                                                                  rel=1e-12)
    assert out["oversight.approval_wait_max_s"] == float(np.max(waits))
    assert out["oversight.unauthorized_actions"] == 0
    assert out["oversight.traceable_share"] == 1.0

"""Exact (golden) behaviour of OperatorPool: priorities, deadlines, shifts,
two-person items, withdrawal, decisions, records and the metric functions.

All times here are deterministic and exactly representable, so the tests
compare with ``==``; the only statistical test (approval probability) states
its sample size and tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from fleetsim.oversight import (
    Deterministic,
    Exponential,
    OperatorPool,
    WorkItem,
    class_counts,
    oversight_summary,
    shift_schedule,
    span_of_control,
    timed_out_count,
    utilization,
    wait_stats,
)
from fleetsim.rng import make_rng


def item(vehicle: int, service_s: float, *, priority: int = 0, kind: str = "approve",
         cls: str = "retask", **kw) -> WorkItem:
    return WorkItem(kind=kind, action_class=cls, vehicle=vehicle, priority=priority,
                    service=Deterministic(service_s), **kw)


def submit_at(env, pool, t: float, work: WorkItem, outcomes: dict) -> None:
    def proc():
        yield env.timeout(t)
        outcomes[work.vehicle] = yield pool.submit(work)
    env.process(proc())


def make_pool(operators: int = 1, **kw) -> tuple[simpy.Environment, OperatorPool]:
    env = simpy.Environment()
    return env, OperatorPool(env, operators=operators, rng=make_rng(1, "operators"), **kw)


def test_priority_order_golden() -> None:
    """Items queued behind a busy operator are served by priority, FIFO within one."""
    env, pool = make_pool()
    out: dict[int, object] = {}
    submit_at(env, pool, 0.0, item(0, 10.0, priority=5), out)      # A: in service [0, 10]
    submit_at(env, pool, 1.0, item(1, 5.0, priority=2), out)       # B
    submit_at(env, pool, 2.0, item(2, 5.0, priority=1), out)       # C
    submit_at(env, pool, 3.0, item(3, 5.0, priority=2), out)       # D
    submit_at(env, pool, 4.0, item(4, 5.0, priority=0), out)       # E
    env.run()
    expected = {0: (0.0, 10.0), 4: (10.0, 15.0), 2: (15.0, 20.0), 1: (20.0, 25.0),
                3: (25.0, 30.0)}
    for v, (start, end) in expected.items():
        o = out[v]
        assert (o.start_s, o.end_s, o.operators, o.decision) == (start, end, (0,), "approved")
        assert o.waited_s == start - v * 1.0
    rec = pool.records()
    assert rec["item_vehicle"].tolist() == [0, 4, 2, 1, 3]          # in order of ending
    assert rec["item_waited_s"].tolist() == [0.0, 6.0, 13.0, 19.0, 22.0]
    assert rec["busy_start_s"].tolist() == [0.0, 10.0, 15.0, 20.0, 25.0]
    assert rec["busy_end_s"].tolist() == [10.0, 15.0, 20.0, 25.0, 30.0]


def test_same_time_same_priority_is_fifo() -> None:
    env, pool = make_pool()
    evs = [pool.submit(item(v, 1.0)) for v in range(5)]
    env.run()
    assert [e.value.start_s for e in evs] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_deadline_golden_sequence() -> None:
    """One rule: an item is decided only if its service ends at or before
    created + deadline; otherwise it is timed out at exactly that time. Still
    queued at the deadline: withdrawn unserved. In service past it: cut at the
    deadline, its operator freed then. A decision exactly at the deadline stands;
    an operator freed exactly at a queued item's deadline does not start it."""
    env, pool = make_pool()
    out: dict[int, object] = {}
    submit_at(env, pool, 0.0, item(0, 10.0), out)                      # [0, 10] approved
    submit_at(env, pool, 2.0, item(1, 5.0, deadline_s=5.0), out)       # queued; out at 7
    submit_at(env, pool, 3.0, item(2, 5.0, deadline_s=8.0), out)       # [10, 15) > 11: cut at 11
    submit_at(env, pool, 5.0, item(3, 4.0, deadline_s=10.0), out)      # [11, 15], tie at 15: ok
    # Submitted after item 3 started, so item 3's end (15) is processed before this
    # item's deadline timer (15): the operator is free at 15, yet it is not started.
    submit_at(env, pool, 12.0, item(4, 5.0, deadline_s=3.0), out)      # queued; out at 15
    submit_at(env, pool, 13.0, item(5, 5.0), out)                      # [15, 20] approved
    env.run()
    seen = {v: (o.decision, o.operators, o.start_s, o.end_s, o.waited_s) for v, o in out.items()}
    assert seen == {
        0: ("approved", (0,), 0.0, 10.0, 0.0),
        1: ("timed_out", (), None, 7.0, 5.0),
        2: ("timed_out", (0,), 10.0, 11.0, 7.0),
        3: ("approved", (0,), 11.0, 15.0, 6.0),
        4: ("timed_out", (), None, 15.0, 3.0),
        5: ("approved", (0,), 15.0, 20.0, 2.0),
    }
    assert not out[1].served and out[2].served
    rec = pool.records()
    assert rec["item_vehicle"].tolist() == [1, 0, 2, 3, 4, 5]     # in order of ending
    assert rec["item_decision"].tolist() == ["timed_out", "approved", "timed_out", "approved",
                                             "timed_out", "approved"]
    # The operator worked on item 2 until its deadline, then went on with item 3.
    assert list(zip(rec["busy_start_s"].tolist(), rec["busy_end_s"].tolist(),
                    strict=True)) == [(0.0, 10.0), (10.0, 11.0), (11.0, 15.0), (15.0, 20.0)]
    assert rec["item_operator"].tolist() == [-1, 0, 0, 0, -1, 0]
    assert timed_out_count(rec) == 3
    # Queue waits are of the items an operator started, the cut one included.
    assert wait_stats(rec) == {"n": 4, "mean_s": 3.75, "p95_s": 6.85, "max_s": 7.0}
    # No decision after a deadline: every item with one ended by it.
    created = rec["item_created_s"]
    deadline = created + np.array([5.0, np.inf, 8.0, 10.0, 3.0, np.inf])
    assert (rec["item_end_s"] <= deadline).all()


def test_deadline_cut_frees_operator_for_the_queue() -> None:
    """Two-person item cut at its deadline: both operators are freed at that
    instant and take the next items; the cut draws no decision."""
    env, pool = make_pool(operators=2)
    out: dict[int, object] = {}
    submit_at(env, pool, 0.0, item(0, 30.0, deadline_s=12.0, two_person=True), out)
    submit_at(env, pool, 1.0, item(1, 2.0), out)
    submit_at(env, pool, 1.0, item(2, 3.0), out)
    env.run()
    assert (out[0].decision, out[0].operators, out[0].start_s, out[0].end_s) == (
        "timed_out", (0, 1), 0.0, 12.0)
    assert (out[1].start_s, out[1].end_s) == (12.0, 14.0)
    assert (out[2].start_s, out[2].end_s) == (12.0, 15.0)


def test_deadline_tie_with_random_service_decides() -> None:
    """A deadline equal to a sampled service time is met (the comparison is <=):
    with Deterministic service the decision is drawn and issued at the deadline."""
    env, pool = make_pool()
    ev = pool.submit(WorkItem(kind="approve", action_class="retask", vehicle=0,
                              service=Deterministic(0.1 + 0.2), deadline_s=0.1 + 0.2,
                              approve_probability=0.0))
    env.run()
    assert (ev.value.decision, ev.value.end_s) == ("denied", 0.1 + 0.2)


def test_an_operator_freed_at_the_exact_deadline_does_not_start_the_item() -> None:
    """The pool's rule: an item must *start* strictly before created + deadline.

    Here the tie is decided by the dispatch alone, not by which event runs first: the
    operator's service of A ends at t = 10 by a timer set at t = 0, before B (deadline
    at 4 + 6 = 10) had its deadline timer, so the freed operator looks at B before B's
    deadline fires. B must time out at 10 unserved, and C (no deadline) start then."""
    env, pool = make_pool()
    out: dict[int, object] = {}
    submit_at(env, pool, 0.0, item(0, 10.0), out)                      # A: [0, 10]
    submit_at(env, pool, 4.0, item(1, 5.0, deadline_s=6.0), out)       # B: deadline 10
    submit_at(env, pool, 5.0, item(2, 5.0), out)                       # C: [10, 15]
    env.run()
    b = out[1]
    assert (b.decision, b.operators, b.start_s, b.end_s, b.waited_s) == (
        "timed_out", (), None, 10.0, 6.0)
    assert (out[2].decision, out[2].start_s, out[2].end_s) == ("approved", 10.0, 15.0)
    assert pool.records()["busy_start_s"].tolist() == [0.0, 10.0]


def test_an_operator_coming_on_duty_at_the_exact_deadline_does_not_start_the_item() -> None:
    """Nobody is on duty before t = 20 (the shift's timer is set when the pool is
    made); an item raised at 5 with a 15 s deadline times out at 20 instead of being
    started by the operator arriving then. One with a 16 s deadline starts at 20, and
    since its 5 s of service would end after its deadline (21), it is cut there: timed
    out at 21, no decision after raised + timeout."""
    env, pool = make_pool(shifts=[(20.0, 100.0, 1)])
    out: dict[int, object] = {}
    submit_at(env, pool, 5.0, item(0, 5.0, deadline_s=15.0), out)
    submit_at(env, pool, 5.0, item(1, 5.0, deadline_s=16.0), out)
    env.run()
    assert (out[0].decision, out[0].start_s, out[0].end_s) == ("timed_out", None, 20.0)
    assert (out[1].decision, out[1].start_s, out[1].end_s) == ("timed_out", 20.0, 21.0)


def test_created_in_the_past_counts_from_created() -> None:
    env, pool = make_pool()
    out: dict[int, object] = {}
    submit_at(env, pool, 10.0, item(0, 1.0, created_s=4.0), out)
    submit_at(env, pool, 10.0, item(1, 1.0, created_s=4.0, deadline_s=6.0), out)
    env.run()
    assert (out[0].start_s, out[0].waited_s) == (10.0, 6.0)
    assert (out[1].decision, out[1].end_s) == ("timed_out", 10.0)


def test_shift_start_and_off_duty_finishes_item() -> None:
    """Nobody on duty: work waits for the shift. Going off duty: the item in
    hand is finished, the next waits for the next shift."""
    env, pool = make_pool(shifts=[(0.0, 50.0, 1), (100.0, 200.0, 1), (300.0, 400.0, 1)])
    out: dict[int, object] = {}
    submit_at(env, pool, 45.0, item(0, 20.0), out)     # [45, 65], overtime past 50
    submit_at(env, pool, 55.0, item(1, 10.0), out)     # waits until 100
    submit_at(env, pool, 250.0, item(2, 10.0), out)    # nobody on duty until 300
    env.run()
    assert (out[0].start_s, out[0].end_s) == (45.0, 65.0)
    assert (out[1].start_s, out[1].waited_s) == (100.0, 45.0)
    assert (out[2].start_s, out[2].waited_s) == (300.0, 50.0)
    rec = pool.records()
    assert rec["duty_time_s"].tolist() == [0.0, 50.0, 100.0, 200.0, 300.0, 400.0, 400.0]
    assert rec["duty_count"].tolist() == [1, 0, 1, 0, 1, 0, 0]
    assert pool.on_duty == 0


def test_shift_change_idle_operators_leave_first() -> None:
    env, pool = make_pool(operators=3, shifts=[(0.0, 10.0, 3), (10.0, 100.0, 1)])
    out: dict[int, object] = {}
    submit_at(env, pool, 0.0, item(0, 30.0), out)      # op 0, [0, 30]
    submit_at(env, pool, 11.0, item(1, 5.0), out)
    submit_at(env, pool, 12.0, item(2, 5.0), out)
    env.run(until=11.0)
    assert pool.on_duty == 1 and pool.idle == 0         # op 0 stays (busy); 1, 2 left
    env.run()
    # Operator 0 is the one on duty: both later items wait for it.
    assert (out[1].start_s, out[1].operators) == (30.0, (0,))
    assert (out[2].start_s, out[2].operators) == (35.0, (0,))


def test_shift_schedule_adds_overlaps() -> None:
    times, counts = shift_schedule([(0, 100, 2), {"start_s": 80, "end_s": 200, "count": 1}])
    assert times.tolist() == [-np.inf, 0.0, 80.0, 100.0, 200.0]
    assert counts.tolist() == [0, 2, 3, 1, 0]
    with pytest.raises(ValueError, match="only 2"):
        make_pool(operators=2, shifts=[(0, 100, 2), (80, 200, 1)])
    with pytest.raises(ValueError, match="start_s < end_s"):
        shift_schedule([(10, 5, 1)])


def test_two_person_waits_for_two_free_operators() -> None:
    """A two-person item starts only when two operators are free, and holds the
    free one meanwhile (a later single item does not overtake it)."""
    env, pool = make_pool(operators=3, two_person_classes=("weapons_release",))
    out: dict[int, object] = {}
    submit_at(env, pool, 0.0, item(0, 10.0), out)                       # op 0 [0, 10]
    submit_at(env, pool, 0.0, item(1, 20.0), out)                       # op 1 [0, 20]
    submit_at(env, pool, 1.0, item(2, 5.0, two_person=True), out)       # [10, 15] ops 2, 0
    submit_at(env, pool, 2.0, item(3, 5.0), out)                        # [15, 20] op 2
    submit_at(env, pool, 3.0, item(4, 1.0, cls="weapons_release"), out)  # [20, 21] 2 ops
    env.run()
    assert (out[2].start_s, out[2].end_s, out[2].operators) == (10.0, 15.0, (2, 0))
    assert (out[3].start_s, out[3].operators) == (15.0, (2,))
    assert out[4].start_s == 20.0 and len(out[4].operators) == 2
    rec = pool.records()
    two = rec["item_vehicle"] == 2
    assert rec["item_operator"][two].tolist() == [2] and rec["item_operator2"][two].tolist() == [0]
    # Both operators' busy time is recorded.
    assert sorted(rec["busy_operator"][rec["busy_start_s"] == 10.0].tolist()) == [0, 2]
    with pytest.raises(ValueError, match="two-person"):
        make_pool(operators=1)[1].submit(item(9, 1.0, two_person=True))


def test_withdraw_and_validation() -> None:
    env, pool = make_pool()
    first = pool.submit(item(0, 10.0))
    second = pool.submit(item(1, 10.0))
    third = pool.submit(item(2, 10.0))
    assert pool.queue_length == 2 and pool.in_service == 1
    assert pool.withdraw(second)
    assert not pool.withdraw(first)                 # already in service
    env.run()
    assert (second.value.decision, second.value.end_s) == ("withdrawn", 0.0)
    assert third.value.start_s == 10.0
    with pytest.raises(ValueError, match="valid kinds"):
        pool.submit(item(3, 1.0, kind="aprove"))
    with pytest.raises(ValueError, match="deadline_s"):
        pool.submit(item(3, 1.0, deadline_s=0.0))
    with pytest.raises(ValueError, match="approve_probability"):
        pool.submit(item(3, 1.0, approve_probability=1.5))


def test_decisions_per_kind() -> None:
    env, pool = make_pool()
    kinds = {"approve": "approved", "veto_review": "allowed", "notify_ack": "acknowledged",
             "detection_review": "reviewed", "stop": "executed"}
    evs = {k: pool.submit(item(i, 1.0, kind=k)) for i, k in enumerate(kinds)}
    denied = pool.submit(item(9, 1.0, approve_probability=0.0))
    vetoed = pool.submit(item(10, 1.0, kind="veto_review", approve_probability=0.0))
    env.run()
    assert {k: e.value.decision for k, e in evs.items()} == kinds
    assert denied.value.decision == "denied" and vetoed.value.decision == "vetoed"


def test_approve_probability_frequency() -> None:
    """20,000 approvals at p = 0.3: the approved share has SD
    sqrt(0.3*0.7/20000) = 0.0032; tolerance 0.015 (4.6 SD)."""
    env, pool = make_pool()
    for v in range(20_000):
        pool.submit(item(v, 0.0, approve_probability=0.3))
    env.run()
    counts = class_counts(pool.records())["retask"]
    assert counts["total"] == 20_000
    assert abs(counts["approved"] / 20_000 - 0.3) < 0.015
    assert counts["approved"] + counts["denied"] == 20_000


def _random_run(seed: int) -> dict[str, np.ndarray]:
    env = simpy.Environment()
    pool = OperatorPool(env, operators=2, rng=make_rng(seed, "operators"),
                        shifts=[(0, 500, 2), (500, 1000, 1)])
    gaps = make_rng(seed, "arrivals").exponential(2.0, 400)

    def arrivals():
        for v, g in enumerate(gaps.tolist()):
            yield env.timeout(g)
            pool.submit(WorkItem(kind="approve", action_class="launch", vehicle=v,
                                 priority=v % 3, deadline_s=30.0, approve_probability=0.8,
                                 service=Exponential(3.0)))

    env.process(arrivals())
    env.run()
    return pool.records()


def test_deterministic_given_the_seed() -> None:
    a, b, c = _random_run(3), _random_run(3), _random_run(4)
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f"), k
    assert not np.array_equal(a["item_end_s"], c["item_end_s"])


def test_span_of_control() -> None:
    env, pool = make_pool(operators=3, span_of_control=2)
    pool.assign_vehicles(range(7), mapping={6: 2})
    assert pool.assigned_vehicles(0) == (0, 3)
    assert pool.assigned_vehicles(1) == (1, 4)
    assert pool.assigned_vehicles(2) == (2, 5, 6)
    s = span_of_control(pool.records(), limit=pool.span_limit)
    assert s["per_operator"].tolist() == [2, 2, 3]
    assert (s["max"], s["over_limit"]) == (3, 1)
    with pytest.raises(ValueError, match="valid operators"):
        pool.assign_vehicles([8], mapping={8: 5})


def test_utilization_on_handmade_records() -> None:
    """Two on duty over [0, 100]; op 0 busy [0, 50], op 1 busy [10, 30]."""
    rec = {"duty_time_s": np.array([0.0, 100.0]), "duty_count": np.array([2, 2]),
           "busy_operator": np.array([0, 1]), "busy_start_s": np.array([0.0, 10.0]),
           "busy_end_s": np.array([50.0, 30.0])}
    u = utilization(rec, window_s=20.0, step_s=10.0)
    assert u["mean"] == pytest.approx(70.0 / 200.0)
    assert u["window_starts_s"].tolist() == [0.0, 10, 20, 30, 40, 50, 60, 70, 80]
    assert u["window_values"].tolist() == pytest.approx(
        [0.75, 1.0, 0.75, 0.5, 0.25, 0, 0, 0, 0])
    assert (u["peak"], u["peak_start_s"]) == (1.0, 10.0)


def test_summary_keys_and_running_service_is_cut_at_now() -> None:
    env, pool = make_pool(operators=2)
    pool.submit(item(0, 100.0))
    pool.submit(item(1, 10.0, kind="notify_ack", cls="launch"))
    env.run(until=50.0)
    rec = pool.records()
    assert rec["busy_end_s"].tolist() == [10.0, 50.0]        # op 1 done, op 0 running
    s = oversight_summary(rec, window_s=10.0)
    assert s["oversight.items"] == 1
    assert s["oversight.utilization_mean"] == pytest.approx(60.0 / 100.0)
    assert s["oversight.utilization_peak"] == 1.0
    assert s["oversight.timed_out"] == 0
    assert np.isnan(s["oversight.approval_wait_mean_s"])       # the approval is not done
    assert all(k.startswith("oversight.") for k in s)


def test_ended_items_leave_no_reference_cycles() -> None:
    """An item that has ended (served, timed out, withdrawn) is freed as soon as nothing
    holds its event, without the garbage collector: a day of a large fleet submits
    hundreds of thousands, and cycles would keep them all until the collector ran (and
    make it slow when it did); a withdrawn event still tells withdraw() it has ended."""
    import gc
    import weakref

    was = gc.isenabled()
    gc.disable()
    try:
        env, pool = make_pool(operators=1)
        evs = [pool.submit(item(v, 1.0, deadline_s=2.5)) for v in range(6)]
        late = pool.submit(item(9, 1.0))
        assert pool.withdraw(late)
        env.run()
        # (served only if the service ends by the deadline: [0, 1], [1, 2], then too late)
        assert [e.value.decision for e in evs] == ["approved"] * 2 + ["timed_out"] * 4
        assert late.value.decision == "withdrawn" and not pool.withdraw(late)
        refs = [weakref.ref(e) for e in [*evs, late]]
        del evs, late
        assert [r() for r in refs] == [None] * 7
    finally:
        if was:
            gc.enable()

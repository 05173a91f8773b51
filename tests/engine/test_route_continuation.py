"""Routes appended to a vehicle flying the last of its queue continue its route block in
one vectorised pass (``PlanIntake._continue``). For vehicles with calibration corrections
(fixed wings turning at their minimum radius, a type's leg overhead, turn penalty and
climb energy) the continued legs must be exactly those the vehicle would have flown had
it taken the route from its queue at the block's end (``Movement.fly_route``): the same
rows and events, bit for bit, and the policy told the same estimate of where and when
the vehicle's plan ends. The same run is made with the vectorised continuation and
without it (the motion model's switch off, as the wind model has it) and compared
column by column."""

from __future__ import annotations

import numpy as np
import pytest

from fleetsim.engine import Simulation
from fleetsim.engine.continuation import RouteContinuation
from fleetsim.engine.intake import PlanIntake
from fleetsim.engine.motion import MotionModel, running_sums
from fleetsim.policy import Hold, Plan, Policy, Route
from fleetsim.scenario import load_scenario_text

SCENARIO = """
schema_version: 1
name: continuation
run: {{duration_s: 5000, seed: 1}}
world:
  terrain: {{source: flat, size_m: [10000, 10000], spacing_m: 100}}
  sites: [{{id: home, kind: base, position: [5000, 5000], pads: 1}}]
fleet:
  types:
    - id: craft
      kind: {kind}
      count: 1
      base: home
      cruise_speed_mps: 23.7
      climb_rate_mps: 4
      cruise_altitude_agl_m: 100
      battery_wh: {battery}
      hover_power_w: 170
      cruise_power_w: 150
      recharge_time_s: 100
      {extra}
      sensor: {{footprint_radius_m: 50}}
policy: {{name: scripted}}
"""

CALIBRATED = ("turn_penalty_s_per_rad: 1.7\n      leg_overhead_s: 2.3\n"
              "      climb_energy_wh_per_m: 0.031")


class Appending(Policy):
    """A first route, then routes appended at given times (on periodic requests)."""

    name = "scripted"
    decision_period_s = 20.0

    def __init__(self, first, later):
        self.first = first
        self.later = dict(later)  # time -> (waypoints, alt_agl_m)
        self.seen = []  # (time, where and when the plan ends) at each decision

    def decide(self, now_s, fleet, requests):
        xy, t = fleet.plan_end(np.array([0]))
        self.seen.append((now_s, *xy[0].tolist(), float(t[0])))
        plans = []
        for r in requests:
            if r.reason == "start":
                plans.append(Plan(0, [Route(np.array(self.first))]))
            elif r.reason == "periodic" and now_s in self.later:
                pts, alt = self.later.pop(now_s)
                plans.append(Plan(0, [Route(np.array(pts), alt_agl_m=alt)], append=True))
        return plans


FIRST = [(6000.0, 5000.0), (6000.0, 6000.0)]
LATER = [
    # Straight up first (no heading yet), then back south-west (a turn measured from
    # no heading: atan2 of signed zeros), a waypoint repeated (no leg), a turn.
    (80.0, ([(6000.0, 6000.0), (5500.0, 5400.0), (5500.0, 5400.0), (5100.0, 6100.0)],
            160.0)),
    # Down again, sharp turns, a long leg.
    (140.0, ([(5300.0, 6300.0), (7000.0, 6250.0), (6900.0, 4000.0), (4200.0, 4100.0)],
             90.0)),
    (400.0, ([(4100.0, 4150.0), (4100.0, 4150.0), (6100.0, 7000.0)], 120.0)),
    # Many irregular waypoints: a last-bit difference anywhere shows.
    (500.0, ([tuple(p) for p in
              np.random.default_rng(7).uniform(4600.0, 5400.0, (150, 2)).tolist()], 110.0)),
]


def run(kind: str, extra: str, vectorised: bool, monkeypatch, battery: float = 100000.0,
        compiled: bool = True):
    monkeypatch.setattr(MotionModel, "corrected_vectorised", vectorised)
    # The still-air model's continuations are laid out in a compiled loop; a model of
    # its own that continues them, by its corrected_legs in numpy passes.
    monkeypatch.setattr(RouteContinuation, "_compiled_routes", compiled)
    continued = []
    orig = PlanIntake._continue

    def counting(self, fast):
        done = orig(self, fast)
        continued.extend(done)
        return done

    monkeypatch.setattr(PlanIntake, "_continue", counting)
    sc = load_scenario_text(SCENARIO.format(kind=kind, extra=extra, battery=battery))
    policy = Appending(FIRST, LATER)
    sim = Simulation(sc, policy=policy)
    assert sim.corrected[0]
    rec = sim.run()
    return rec, len(continued), policy.seen


@pytest.mark.parametrize("kind, extra", [
    ("fixed_wing", ""),                 # corrected by its turns only
    ("fixed_wing", CALIBRATED),
    ("multirotor", CALIBRATED),
], ids=["fixed-wing", "fixed-wing-calibrated", "multirotor-calibrated"])
@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
def test_continued_route_is_the_route_flown_from_the_queue(kind, extra, compiled,
                                                          monkeypatch):
    fast, n_fast, seen_fast = run(kind, extra, True, monkeypatch, compiled=compiled)
    slow, n_slow, seen_slow = run(kind, extra, False, monkeypatch)
    assert n_fast == len(LATER) and n_slow == 0  # every appended route took the fast path
    # The policy is told the same plan ends (the estimate of a queued route).
    assert len(seen_fast) > 100 and seen_fast == seen_slow
    moved = (fast.legs["kind"] == "move") & (fast.legs["t1_s"] > fast.legs["t0_s"])
    assert moved.sum() >= 150
    assert_same_record(fast, slow)


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
def test_route_near_the_reserve_is_left_to_the_vehicle(compiled, monkeypatch):
    """A battery that reaches the reserve on the way: the routes it cannot fly whole are
    flown by the vehicle (the reserve point solved leg by leg), the rest continued; the
    record is the same as without continuations (continued legs not flown cancelled)."""
    kind, extra = "fixed_wing", CALIBRATED
    fast, n_fast, seen_fast = run(kind, extra, True, monkeypatch, battery=100.0,
                                  compiled=compiled)
    slow, n_slow, seen_slow = run(kind, extra, False, monkeypatch, battery=100.0)
    assert 0 < n_fast < len(LATER) and n_slow == 0
    assert "reserve_reached" in fast.events["kind"].tolist()
    assert seen_fast == seen_slow
    assert_same_record(fast, slow)


def assert_same_record(fast, slow):
    for table in ("legs", "events"):
        a, b = getattr(fast, table), getattr(slow, table)
        assert a.keys() == b.keys()
        for col in a:
            x, y = a[col], b[col]
            assert x.dtype == y.dtype and len(x) == len(y), (table, col)
            if x.dtype.kind == "f":
                same = np.array_equal(x.view(np.int64), y.view(np.int64))  # bit for bit
            else:
                same = np.array_equal(x, y)
            assert same, f"{table}.{col} differs"


def test_running_sums_add_one_after_another():
    base = np.array([1.0, 1e16, -3.0])
    vals = np.array([0.1, 0.2, 0.3, 1.0, 1.0, 1.0, 2.5])
    first = np.array([0, 3, 6])
    counts = np.array([3, 3, 1])
    out = running_sums(base, vals, first, counts)
    expect = []
    for b, f, c in zip(base.tolist(), first.tolist(), counts.tolist(), strict=True):
        for v in vals[f:f + c].tolist():
            b += v
            expect.append(b)
    assert out.tolist() == expect
    # Not the difference of whole cumulative sums: 1e16 + 1 + 1 + 1 loses each 1.
    assert out[3:6].tolist() == [1e16, 1e16, 1e16]


class TwoPlans(Policy):
    """At 80 s, two plans for the vehicle in one decision."""

    name = "scripted"
    decision_period_s = 20.0

    def __init__(self, second):
        self.second = second

    def decide(self, now_s, fleet, requests):
        out = []
        for r in requests:
            if r.reason == "start":
                out.append(Plan(0, [Route(np.array(FIRST))]))
            elif r.reason == "periodic" and now_s == 80.0:
                out += self.second
        return out


B = [(5500.0, 5400.0), (5100.0, 6100.0)]
C = [(6900.0, 4000.0), (4200.0, 4100.0)]


@pytest.mark.parametrize("kind, extra", [("multirotor", ""), ("fixed_wing", "")])
@pytest.mark.parametrize("second, ends", [
    # Two routes appended at once: flown one after the other.
    ([Plan(0, [Route(np.array(B))], append=True), Plan(0, [Route(np.array(C))], append=True)],
     [B[-1], C[-1]]),
    # A new plan (a hold), then a route appended to it: the route follows the hold.
    ([Plan(0, [Hold(30.0)]), Plan(0, [Route(np.array(C))], append=True)], [C[-1]]),
], ids=["two-appends", "replace-then-append"])
def test_plans_for_one_vehicle_in_one_decision_are_taken_in_turn(kind, extra, second, ends):
    sc = load_scenario_text(SCENARIO.format(kind=kind, extra=extra, battery=100000.0))
    rec = Simulation(sc, policy=TwoPlans(second)).run()
    ev = rec.events
    arrive = ev["kind"] == "arrive"
    reached = [float(ev["time_s"][arrive & (ev["x_m"] == x) & (ev["y_m"] == y)].min())
               for x, y in ends]
    assert reached == sorted(reached) and reached[0] > 80.0
    if len(ends) == 1:  # after the 30 s hold (a fixed wing's loiter), from 80 s
        held = (rec.legs["kind"] == "hold") & (rec.legs["t0_s"] >= 80.0) \
            & (rec.legs["t1_s"] <= 110.0 + 1e-9)
        assert rec.legs["t0_s"][held].min() == 80.0
        assert rec.legs["t1_s"][held].max() == pytest.approx(110.0, abs=1e-9)
        assert reached[0] > 110.0
    # One leg at a time: the vehicle's legs follow one another.
    order = np.argsort(rec.legs["t0_s"], kind="stable")
    t0, t1 = rec.legs["t0_s"][order], rec.legs["t1_s"][order]
    assert (t0[1:] >= t1[:-1] - 1e-9).all()


def test_only_the_still_air_route_arithmetic_is_vectorised():
    """A motion model with its own ``route`` (the wind's, or any other) has its calibrated
    vehicles' appended routes flown by the vehicle, unless it says otherwise."""
    from fleetsim.engine.wind import WindMotion

    class Other(MotionModel):
        def route(self, *args):
            return super().route(*args)

    class Opted(Other):
        corrected_vectorised = True

    sc = load_scenario_text(SCENARIO.format(kind="fixed_wing", extra="", battery=1000.0))
    fleet = Simulation(sc, policy=Appending(FIRST, []))
    assert MotionModel(fleet).corrected_vectorised
    assert not Other(fleet).corrected_vectorised and Opted(fleet).corrected_vectorised
    assert WindMotion.corrected_vectorised is False

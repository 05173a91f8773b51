"""The engine checks every plan at the policy boundary.

An illegal plan (unknown vehicle, non-finite coordinates, unknown action, badly
shaped route, a vehicle the engine controls) raises
:class:`fleetsim.errors.PolicyError` whose message names the policy, the
simulated time and the vehicle.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from fleetsim.engine import Simulation
from fleetsim.errors import FleetsimError, PolicyError
from fleetsim.policy import GoTo, Hold, Plan, Policy, ReturnHome, Route, Survey
from fleetsim.scenario import load_scenario_text

SCENARIO = """
schema_version: 1
name: boundary
run: {duration_s: 2000, seed: 3, monitor_window_s: 10}
world:
  terrain: {source: flat, size_m: [3000, 3000], spacing_m: 50}
  sites:
    - {id: home, kind: base, position: [100, 100], pads: 2}
fleet:
  types:
    - id: quad
      kind: multirotor
      count: 2
      base: home
      cruise_speed_mps: 10
      climb_rate_mps: 5
      cruise_altitude_agl_m: 50
      battery_wh: 100
      hover_power_w: 720
      cruise_power_w: 360
      reserve_fraction: 0.2
      recharge_time_s: 1000
      sensor: {footprint_radius_m: 30}
policy: {name: faulty}
"""


class Faulty(Policy):
    """Sends vehicle 0 out and back; at time ``at_s`` returns ``bad`` plans."""

    name = "faulty"

    def __init__(self, bad, at_s: float = 0.0, period_s: float | None = None, when=None):
        self.bad = bad
        self.at_s = at_s
        self.decision_period_s = period_s
        self.when = when

    def decide(self, now_s, fleet, requests):
        due = self.when(now_s, fleet, requests) if self.when else now_s == self.at_s
        if due:
            return self.bad
        return [
            Plan(0, [GoTo(600.0, 100.0), ReturnHome()])
            for r in requests
            if r.reason == "start" and r.vehicle == 0
        ]


def run_with(policy: Policy):
    return Simulation(load_scenario_text(SCENARIO), policy=policy).run()


def fails_with(policy: Policy, *, time_s: float, vehicle: int | None) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        run_with(policy)
    err = info.value
    text = str(err)
    assert "policy 'faulty'" in text
    assert f"t={time_s:.3f} s" in text
    assert err.time_s == pytest.approx(time_s)
    if vehicle is not None:
        assert re.search(rf"\bvehicle {vehicle}\b", text), text
    assert isinstance(err, FleetsimError)
    return err


@pytest.mark.parametrize("vehicle", [2, 7, -1])
def test_plan_for_an_unknown_vehicle(vehicle):
    err = fails_with(Faulty([Plan(vehicle, [Hold(5.0)])]), time_s=0.0, vehicle=vehicle)
    assert "unknown vehicle" in str(err)
    assert "0..1" in str(err)  # says which vehicles exist


@pytest.mark.parametrize("vehicle", [True, 1.0, "1", None])
def test_plan_vehicle_must_be_an_integer_index(vehicle):
    err = fails_with(Faulty([Plan(vehicle, [Hold(5.0)])]), time_s=0.0, vehicle=None)
    assert "unknown vehicle" in str(err)


@pytest.mark.parametrize(
    "action",
    [
        GoTo(math.nan, 100.0),
        GoTo(100.0, math.inf),
        Route([[100.0, 100.0], [200.0, -math.inf]]),
        Route(np.array([[100.0, 100.0], [math.nan, 200.0]])),
    ],
    ids=["goto-nan", "goto-inf", "route-inf", "route-nan"],
)
def test_non_finite_coordinates(action):
    err = fails_with(Faulty([Plan(1, [action])]), time_s=0.0, vehicle=1)
    assert "non-finite" in str(err)


@pytest.mark.parametrize(
    "waypoints",
    [
        [[1.0, 2.0, 3.0]],  # (1, 3)
        [1.0, 2.0],  # 1-D
        [[[1.0, 2.0]]],  # 3-D
        [["a", "b"]],  # not numbers
        [[1.0, 2.0], [3.0]],  # ragged
    ],
    ids=["n-by-3", "flat", "3d", "strings", "ragged"],
)
def test_route_with_a_wrong_shape(waypoints):
    err = fails_with(Faulty([Plan(1, [Route(waypoints)])]), time_s=0.0, vehicle=1)
    assert "Route.waypoints" in str(err)
    assert "(n, 2)" in str(err)


@pytest.mark.parametrize(
    "action",
    ["goto", object(), GoTo, {"x_m": 1.0, "y_m": 2.0}],
    ids=["string", "object", "class", "dict"],
)
def test_unknown_action(action):
    err = fails_with(Faulty([Plan(1, [GoTo(200.0, 200.0), action])]), time_s=0.0, vehicle=1)
    text = str(err)
    assert "unknown action" in text
    for valid in ("GoTo", "Route", "Survey", "Hold", "ReturnHome"):
        assert valid in text  # lists what is valid


@pytest.mark.parametrize(
    "action, words",
    [
        (Hold(-5.0), "Hold.duration_s"),
        (Hold(math.nan), "Hold.duration_s"),
        (GoTo(200.0, 200.0, alt_agl_m=0.0), "alt_agl_m"),
        (GoTo(200.0, 200.0, alt_agl_m=math.nan), "alt_agl_m"),
        (Survey(area=None, spacing_m=0.0), "Survey.spacing_m"),
    ],
)
def test_bad_action_parameters(action, words):
    err = fails_with(Faulty([Plan(1, [action])]), time_s=0.0, vehicle=1)
    assert words in str(err)


def test_decide_must_return_plans():
    err = fails_with(Faulty([(1, [Hold(5.0)])]), time_s=0.0, vehicle=None)
    assert "Plan" in str(err) and "tuple" in str(err)


def test_a_bad_plan_later_in_the_run_names_its_time():
    # A periodic request at 60 s (vehicle 0 is flying out) gets a non-finite GoTo.
    policy = Faulty([Plan(0, [GoTo(math.nan, 0.0)])], at_s=60.0, period_s=30.0)
    fails_with(policy, time_s=60.0, vehicle=0)


def test_re_tasking_a_charging_vehicle():
    # Vehicle 0: out 500 m and back, lands at 10 + 50 + 50 + 10 = 120 s, charges from
    # 120 s for 1000 * 22 / 100 = 220 s. The first periodic request (every 50 s)
    # while it is charging is at 150 s; the policy then re-tasks it.
    def charging(now_s, fleet, requests):
        return now_s > 0 and fleet.states([0])[0] == "charging"

    policy = Faulty([Plan(0, [GoTo(300.0, 300.0)])], period_s=50.0, when=charging)
    err = fails_with(policy, time_s=150.0, vehicle=0)
    assert "charging" in str(err)


def test_a_plan_for_a_vehicle_going_home_at_its_reserve_is_refused():
    # Vehicle 1 hovers near home until the reserve; the policy answers 'reserve' with a
    # new plan, which the engine refuses: it is flying the vehicle home itself.
    class Greedy(Policy):
        name = "faulty"

        def decide(self, now_s, fleet, requests):
            plans = []
            for r in requests:
                if r.reason == "start" and r.vehicle == 1:
                    plans.append(Plan(1, [GoTo(100.0, 600.0), Hold(None)]))
                if r.reason == "reserve":
                    plans.append(Plan(r.vehicle, [GoTo(2000.0, 2000.0)]))
            return plans

    # 500 m from home it arrives at 60 s with 93 Wh and needs 20 + 2 + 5 = 27 Wh to
    # get home: it hovers (93 - 27) / 0.2 = 330 s and turns home at 390 s.
    err = fails_with(Greedy(), time_s=390.0, vehicle=1)
    assert "returning" in str(err)


def test_an_invalid_decision_period_is_refused():
    policy = Faulty([], at_s=-1.0, period_s=-5.0)
    with pytest.raises(PolicyError, match="decision_period_s"):
        run_with(policy)


def test_plans_of_one_call_are_checked_before_any_is_applied():
    # The good plan for vehicle 0 comes first; the bad one for vehicle 1 must stop the
    # run before anything of the call takes effect (no takeoff is recorded).
    class Half(Policy):
        name = "faulty"

        def decide(self, now_s, fleet, requests):
            return [Plan(0, [GoTo(500.0, 500.0)]), Plan(1, [GoTo(math.nan, 1.0)])]

    sim = Simulation(load_scenario_text(SCENARIO), policy=Half())
    with pytest.raises(PolicyError, match="vehicle 1"):
        sim.run()
    assert list(sim.queue[0]) == []


def test_a_periodic_request_never_asks_for_a_vehicle_that_started_landing_meanwhile():
    # Vehicle 0 takes off (10 s), flies 500 m out (50 s) and back (50 s) and starts
    # landing at 110 s, the instant the periodic timer (every 55 s) fires. The
    # request is dropped at dispatch: the policy, which answers every periodic request
    # after 100 s with a plan, is never asked for a landing vehicle (the engine
    # would refuse the plan).
    seen = []

    class EveryPeriodic(Faulty):
        def decide(self, now_s, fleet, requests):
            plans = super().decide(now_s, fleet, requests)
            periodic = [r.vehicle for r in requests if r.reason == "periodic"]
            if periodic:
                seen.append((now_s, periodic, list(fleet.states(periodic))))
            if now_s >= 100.0:
                plans += [Plan(v, [Hold(1.0)]) for v in periodic]
            return plans

    run_with(EveryPeriodic([], at_s=-1.0, period_s=55.0))
    assert seen[0] == (55.0, [0, 1], ["moving", "ground"])
    assert seen[1][:2] == (110.0, [1])  # vehicle 0 is landing: not asked

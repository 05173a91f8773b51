"""Plans of one route each given whole (``RoutePlans``): the sequence of Plans it
stands for, taken by the engine in one pass. A run given RoutePlans is the run given
the same plans as a list of Plan objects, byte for byte, whether the batch takes the
one-pass path or, where a plan needs more (a vehicle the engine controls, one
stopped by an operator, waypoints of a wrong shape), is read plan by plan; and the
boundary's errors are the same."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fleetsim.engine import Simulation
from fleetsim.engine.intake import PlanIntake
from fleetsim.errors import PolicyError
from fleetsim.policy import Plan, Policy, Route, RoutePlans
from fleetsim.record import run_digest
from fleetsim.scenario import load_scenario_text

SCENARIO = """
schema_version: 1
name: route-plans
run: {duration_s: 1500, seed: 5}
world:
  terrain: {source: flat, size_m: [6000, 6000], spacing_m: 100}
  sites: [{id: home, kind: base, position: [3000, 3000], pads: 4}]
fleet:
  types:
    - id: quad
      kind: multirotor
      count: 4
      base: home
      cruise_speed_mps: 15
      climb_rate_mps: 4
      cruise_altitude_agl_m: 80
      battery_wh: 60
      hover_power_w: 300
      cruise_power_w: 250
      reserve_fraction: 0.2
      recharge_time_s: 200
      sensor: {footprint_radius_m: 40}
policy: {name: rounds}
"""


class Rounds(Policy):
    """Every vehicle sent on a route at the start, and every period each vehicle
    that may be re-tasked given one more, appended (batteries run down to the
    reserve on the way: some vehicles are going home, landing or charging when the
    next routes come, and are left out)."""

    name = "rounds"
    decision_period_s = 60.0

    def __init__(self, whole: bool, bad=None):
        self.whole = whole
        self.bad = bad  # (time, vehicles, routes) given as they are, at that time
        self.k = 0

    def reset(self, ctx):
        super().reset(ctx)
        self.rng = np.random.default_rng(11)

    def _routes(self, vs):
        out = []
        for _ in vs:
            m = int(self.rng.integers(1, 6))
            out.append(self.rng.uniform(1000.0, 5000.0, (m, 2)))
        return out

    def _give(self, vs, routes, append):
        if self.whole:
            return RoutePlans(vs, routes, append)
        return [Plan(v, [Route(w)], append) for v, w in zip(vs, routes, strict=True)]

    def decide(self, now_s, fleet, requests):
        if self.bad is not None and now_s == self.bad[0]:
            return self._give(*self.bad[1:], True)
        start = [r.vehicle for r in requests if r.reason in ("start", "recharged")]
        if start:
            return self._give(start, self._routes(start), False)
        vs = [r.vehicle for r in requests if r.reason == "periodic"]
        states = fleet.states(np.array(vs, dtype=np.int64)) if vs else []
        vs = [v for v, s in zip(vs, states, strict=True) if s in ("moving", "holding")]
        return self._give(vs, self._routes(vs), True) if vs else []


def _run(policy: Policy, text: str = SCENARIO):
    return Simulation(load_scenario_text(text), policy=policy).run()


def test_route_plans_read_as_the_plans_they_stand_for():
    ways = [np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[5.0, 6.0]])]
    rp = RoutePlans(np.array([3, 1]), ways, append=True)
    assert len(rp) == 2
    plans = list(rp)
    assert [p.vehicle for p in plans] == [3, 1] and all(p.append for p in plans)
    assert all(type(p.vehicle) is int for p in plans)
    for p, w in zip(plans, ways, strict=True):
        (r,) = p.actions
        assert r.waypoints is w
        assert (r.alt_agl_m, r.sensing, r.action_class) == (None, True, "transit")
    assert [p.vehicle for p in rp[::-1]] == [1, 3]
    assert [p.vehicle for p in rp[-1:]] == [1]


@pytest.mark.parametrize("vehicles, routes, error, text", [
    ([0, 1], [np.zeros((1, 2))], ValueError, "2 vehicles but 1 routes"),
    ([0.5], [np.zeros((1, 2))], TypeError, "sequence of ints"),
    ([[0]], [np.zeros((1, 2))], TypeError, "sequence of ints"),
])
def test_route_plans_made_wrong_say_what(vehicles, routes, error, text):
    with pytest.raises(error, match=text):
        RoutePlans(vehicles, routes)


def test_a_run_given_route_plans_is_the_run_given_the_plans(monkeypatch):
    whole = []
    orig = PlanIntake._parse_route_plans

    def counting(self, plans, specs):
        out = orig(self, plans, specs)
        whole.append(len(plans))
        return out

    monkeypatch.setattr(PlanIntake, "_parse_route_plans", counting)
    a = _run(Rounds(whole=True))
    b = _run(Rounds(whole=False))
    assert len(whole) > 10 and max(whole) == 4  # (the batches were taken whole)
    kinds = set(a.events["kind"].tolist())
    assert {"plan", "arrive", "reserve_reached", "landed", "charge_end"} <= kinds
    assert run_digest(a) == run_digest(b)


def test_route_plans_read_one_by_one_where_a_plan_needs_it():
    """A batch naming a vehicle the engine is taking home is read plan by plan, and
    fails as the list fails: the same error, time and vehicle."""
    def first_locked(whole):
        class Probe(Rounds):
            def decide(self, now_s, fleet, requests):
                states = fleet.states()
                locked = np.flatnonzero(np.isin(states, ("landing", "charging")))
                if len(locked) and now_s > 0:
                    vs = [int(locked[0])]
                    return self._give(vs, [np.array([[2000.0, 2000.0]])], True)
                return super().decide(now_s, fleet, requests)
        with pytest.raises(PolicyError) as info:
            _run(Probe(whole=whole))
        return str(info.value)

    assert first_locked(True) == first_locked(False)
    assert "cannot be re-tasked" in first_locked(True)


@pytest.mark.parametrize("vehicles, routes, text", [
    ([0, 9], [np.array([[1.0, 1.0]]), np.array([[2.0, 2.0]])], "unknown vehicle 9"),
    ([1], [np.array([[1.0, math.nan]])], "non-finite"),
    ([0, 1], [np.array([[1.0, 1.0]]), np.array([[1.0, 2.0, 3.0]])], "shape (n, 2)"),
    ([1], [np.array([1.0, 2.0])], "shape (n, 2)"),
])
def test_route_plans_fail_at_the_boundary_as_the_plans_do(vehicles, routes, text):
    def error(whole):
        with pytest.raises(PolicyError) as info:
            _run(Rounds(whole=whole, bad=(120.0, vehicles, routes)))
        return str(info.value)

    got = error(True)
    assert got == error(False)
    assert text in got and "t=120.000 s" in got

"""The stepped decision driver: a run driven one decision instant at a time from outside
records exactly what the in-process run does when fed the policy's own decisions."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fleetsim.engine import Simulation
from fleetsim.engine.stepped import SteppedRun
from fleetsim.policy import Hold, Plan
from fleetsim.record import run_digest
from fleetsim.scenario import load_scenario

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "golden"))
from golden_runs import SCENARIOS, golden_runs, recorded_digests  # noqa: E402

GOLDEN = {g.name: g for g in golden_runs()}


def _scenario(name: str):
    g = GOLDEN[name]
    return load_scenario(SCENARIOS / f"{g.scenario}.yaml", list(g.overrides))


# Surveillance with random_search, oversight gates and periodic-free requests; and
# orders (arrivals as requests of vehicle -1) with nearest_dispatch.
@pytest.mark.parametrize("name", ["search_and_rescue-short", "oversight_tradeoff-short",
                                  "city_delivery-short"])
def test_stepped_run_fed_the_policy_reproduces_its_recorded_digest(name):
    run = SteppedRun(Simulation(_scenario(name)))
    decision = run.reset()
    instants = []
    while decision is not None:
        instants.append(decision.now_s)
        assert decision.requests, "a decision instant has at least one request"
        decision = run.step(run.policy_plans(decision))
    # In time order (a dispatch may cause more requests at the same time: a second stop).
    assert instants == sorted(instants)
    assert run.sim.n_decisions == len(instants)
    assert run_digest(run.finish()) == recorded_digests()[name]


def test_first_instant_is_the_start_of_every_vehicle():
    sc = _scenario("search_and_rescue-short")
    run = SteppedRun(Simulation(sc))
    decision = run.reset()
    n = run.sim.n
    assert decision.now_s == 0.0
    assert [(r.vehicle, r.reason) for r in decision.requests] == [(v, "start") for v in range(n)]
    assert run.view.now_s == 0.0


def test_holding_fleet_asks_again_when_its_holds_end():
    sc = _scenario("search_and_rescue-short")
    run = SteppedRun(Simulation(sc))
    d = run.reset()
    d = run.step([Plan(r.vehicle, [Hold(100.0)]) for r in d.requests])
    # Parked vehicles told to hold take off (80 m at 5 m/s: 16 s), hover 100 s and ask
    # again (idle) once it is over.
    sim = run.sim
    assert d.now_s == pytest.approx(100.0 + sim.agl[0] / sim.climb[0]) == pytest.approx(116.0)
    assert {r.reason for r in d.requests} == {"idle"}


def test_misuse_is_refused():
    run = SteppedRun(Simulation(_scenario("search_and_rescue-short")))
    with pytest.raises(RuntimeError, match=r"call reset\(\) first"):
        run.step([])
    with pytest.raises(RuntimeError, match="before the end"):
        run.finish()
    run.reset()
    with pytest.raises(RuntimeError, match="called twice"):
        run.reset()


def test_the_record_is_taken_out_of_the_tables_once():
    sim = Simulation(_scenario("search_and_rescue-short"))
    run = sim.run()
    assert len(run.legs["leg"]) > 0 and len(run.events["time_s"]) > 0
    assert len(sim.legs) == 0 and sim.log.n == 0  # the engine's tables were released
    with pytest.raises(RuntimeError, match=r"finish\(\) called twice"):
        sim.finish()

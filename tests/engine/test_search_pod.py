"""A search's datum: random targets drawn around it, each sensing leg's POD against the
drifting datum recorded (``search_pod`` events, closed form), the cumulative POD metric,
and boats that search (a vessel's Route senses)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from fleetsim.engine import Simulation
from fleetsim.metrics import compute_metrics
from fleetsim.policy import Plan, Policy, ReturnHome, Route
from fleetsim.scenario import load_scenario, load_scenario_text

SIGMA, R, DRIFT = 400.0, 50.0, 0.5
DATUM = (5000.0, 5000.0)

SCENARIO = f"""
schema_version: 1
name: datum
run: {{duration_s: 3000, seed: 4}}
world:
  terrain: {{source: flat, size_m: [10000, 10000], spacing_m: 100}}
  sites: [{{id: home, kind: base, position: [2000, 5000]}}]
fleet:
  types:
    - id: quad
      kind: multirotor
      count: 1
      base: home
      cruise_speed_mps: 10
      climb_rate_mps: 5
      cruise_altitude_agl_m: 50
      battery_wh: 1.0e6
      hover_power_w: 200
      cruise_power_w: 150
      recharge_time_s: 100
      sensor: {{footprint_radius_m: {R}}}
missions:
  - id: sea
    kind: search
    area: {{rect: [3000, 3000, 7000, 7000]}}
    datum: {{position: [{DATUM[0]}, {DATUM[1]}], sigma_m: {SIGMA}}}
    random_targets: 400
    drift: {{current_mps: [{DRIFT}, 0]}}
policy: {{name: scripted}}
"""


class Scripted(Policy):
    name = "scripted"

    def decide(self, now_s, fleet, requests):
        way = np.array([(3000.0, 5000.0), (8000.0, 5000.0)])
        return [Plan(r.vehicle, [Route(way[:1], sensing=False), Route(way[1:]), ReturnHome()])
                for r in requests if r.reason == "start"]


def test_random_targets_are_drawn_around_the_datum():
    sc = load_scenario_text(SCENARIO)
    xy = Simulation(sc, policy=Scripted()).world.targets_xy
    assert len(xy) == 400
    # 400 draws of a normal of sd 400 m: the mean within 4 standard errors (80 m) of the
    # datum, the sd within 15 %.
    assert np.abs(xy.mean(axis=0) - DATUM).max() < 80.0
    assert xy.std(axis=0) == pytest.approx([SIGMA, SIGMA], rel=0.15)


def test_a_legs_pod_against_the_drifting_datum_in_closed_form():
    sc = load_scenario_text(SCENARIO)
    rec = Simulation(sc, policy=Scripted()).run()
    ev, legs = rec.events, rec.legs
    pod = ev["kind"] == "search_pod"
    # One sensing leg (the second Route): 3000 -> 8000 m east along the datum's line.
    assert pod.sum() == 1 and ev["detail"][pod].tolist() == ["sea"]
    leg = int(ev["leg"][pod][0])
    assert bool(legs["sensing"][leg]) and legs["kind"][leg] == "move"
    t0, t1 = legs["t0_s"][leg], legs["t1_s"][leg]
    assert ev["time_s"][pod][0] == t1
    # In the datum's frame the leg runs along its line from x0 - d(t0) to x1 - d(t1).
    s0 = legs["x0_m"][leg] - (DATUM[0] + DRIFT * t0)
    s1 = legs["x1_m"][leg] - (DATUM[0] + DRIFT * t1)
    expect = (norm.cdf(s1 / SIGMA) - norm.cdf(s0 / SIGMA)) * (2 * norm.cdf(R / SIGMA) - 1)
    assert ev["value"][pod][0] == pytest.approx(expect, rel=1e-12)
    assert (ev["x_m"][pod][0], ev["y_m"][pod][0]) == pytest.approx(
        (DATUM[0] + DRIFT * t1, DATUM[1]))
    assert compute_metrics(rec)["search.pod_cumulative"] == pytest.approx(expect, abs=1e-9)


def test_without_a_datum_there_is_no_pod():
    sc = load_scenario_text(SCENARIO.replace(
        f"    datum: {{position: [{DATUM[0]}, {DATUM[1]}], sigma_m: {SIGMA}}}\n", ""))
    rec = Simulation(sc, policy=Scripted()).run()
    assert "search_pod" not in rec.events["kind"].tolist()
    assert "search.pod_cumulative" not in compute_metrics(rec)


def test_a_datum_outside_the_area_is_refused():
    from fleetsim.errors import ScenarioError
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(SCENARIO.replace("position: [5000.0, 5000.0]",
                                            "position: [9000.0, 5000.0]"))
    assert str(info.value).endswith(
        "missions[0].datum.position: datum position (9000, 5000) lies outside the mission "
        "area (expected a point inside it)")


def test_boats_search_on_their_routes():
    path = Path(__file__).resolve().parents[2] / "scenarios" / "sea_rescue.yaml"
    rec = Simulation(load_scenario(path)).run()
    boats = np.flatnonzero(rec.vehicles["domain"] == "sea")
    assert len(boats) == 2
    ev = rec.events
    seen = np.isin(ev["vehicle"], boats) & (ev["kind"] == "detection")
    assert seen.any()
    # Every detection by a boat lies on one of its sensing legs, within its lookout's
    # range of where it was.
    legs = rec.legs
    for k in np.flatnonzero(seen):
        j = int(ev["leg"][k])
        assert legs["vehicle"][j] == ev["vehicle"][k] and legs["sensing"][j]
        assert legs["t0_s"][j] <= ev["time_s"][k] <= legs["t1_s"][j]

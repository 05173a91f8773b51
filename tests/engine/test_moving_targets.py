"""Moving targets: constant velocities and drift (current + wind leeway + a seeded
random part); detection solved in the target's frame with exact times."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fleetsim.engine import Simulation
from fleetsim.errors import ScenarioError
from fleetsim.policy import GoTo, Plan, Policy
from fleetsim.scenario import load_scenario_text
from fleetsim.world.world import build_world

SCENARIO = """
schema_version: 1
name: drifting
run: {{duration_s: {duration}, seed: {seed}, monitor_window_s: 10}}
world:
  terrain: {{source: flat, size_m: [40000, 10000], spacing_m: 200}}
  wind: {wind}
  sites: [{{id: home, kind: base, position: [2000, 5000], pads: 1}}]
fleet:
  types:
    - id: quad
      kind: multirotor
      count: 1
      base: home
      cruise_speed_mps: 10
      climb_rate_mps: 5
      cruise_altitude_agl_m: 50
      battery_wh: 1.0e9
      hover_power_w: 100
      cruise_power_w: 100
      recharge_time_s: 10
      sensor: {{footprint_radius_m: 100}}
missions:
  - id: sea
    kind: search
    area: {{rect: [0, 3000, 40000, 7000]}}
    {targets}
policy: {{name: goto}}
"""


class Goto(Policy):
    name = "goto"

    def __init__(self, x, y):
        self.xy = (x, y)

    def decide(self, now_s, fleet, requests):
        return [Plan(0, [GoTo(*self.xy)]) for r in requests if r.reason == "start"]


def scenario(targets, *, wind="null", duration=2000, seed=1):
    return load_scenario_text(SCENARIO.format(targets=targets, wind=wind, duration=duration,
                                              seed=seed))


def detections(targets, goal, **kw):
    """Times and targets of the detections made on the way to ``goal``."""
    rec = Simulation(scenario(targets, **kw), policy=Goto(*goal)).run()
    ev = rec.events
    move = np.flatnonzero(rec.legs["kind"] == "move")
    det = (ev["kind"] == "detection") & np.isin(ev["leg"], move)
    return ev["time_s"][det], ev["target"][det]


def test_crossing_tracks_detection_time_in_closed_form():
    # The vehicle flies east along y = 5000 from x = 2000 at 10 m/s from t = 10 (after
    # its take-off); the target starts at (5000, 3500) going north at 5 m/s. It is
    # seen when |(10 t - 3100, 1500 - 5 t)| = 100 first.
    t, tgt = detections("targets: [{id: swimmer, position: [5000, 3500], "
                        "velocity_mps: [0, 5]}]", (9000, 5000))
    qa, qb, qc = 100 + 25, 2 * (-3100 * 10 + 1500 * -5), 3100 ** 2 + 1500 ** 2 - 100 ** 2
    want = (-qb - math.sqrt(qb * qb - 4 * qa * qc)) / (2 * qa)
    assert t.tolist() == pytest.approx([want], abs=1e-9)
    assert tgt.tolist() == [0]
    # Still, the same target is never seen (it is 1500 m off the track).
    t, _ = detections("targets: [{id: swimmer, position: [5000, 3500]}]", (9000, 5000))
    assert len(t) == 0


def test_head_on_detection():
    # Target at (8000, 5000) coming west at 2 m/s: closing at 12 m/s, seen at range 100.
    t, _ = detections("targets: [{id: boat, position: [8000, 5000], velocity_mps: [-2, 0]}]",
                      (9000, 5000))
    # 10 + s where 6000 - 10 s - 2 (10 + s) = 100.
    assert t.tolist() == pytest.approx([10 + (6000 - 20 - 100) / 12], abs=1e-9)


@pytest.mark.parametrize("current", [-4.0, 0.0, 4.0])
def test_sweep_in_the_targets_frame(current):
    """N targets uniform over area A, all drifting at u; one searcher flying straight at
    v for T s with a definite-range sensor of radius r sweeps, in the targets' frame,
    a stadium of area 2 r |v - u| T + pi r^2: the expected number detected is N times
    that over A (the sweep rate behind Koopman's random-search law, with the speed
    relative to the targets). The count is binomial(N, p); 4 standard deviations
    (a false failure about 6e-5 per case; the seed is fixed) separate the three
    currents clearly (233, 379 and 529 expected, standard deviations 15 to 23)."""
    n, area = 20_000, 40_000 * 4000
    v, r, dist = 10.0, 100.0, 15_000.0
    duration = dist / v
    t, tgt = detections(f"random_targets: {n}\n    drift: {{current_mps: [{current}, 0]}}",
                        (2000 + dist, 5000), duration=10 + duration + 50)
    assert len(set(tgt.tolist())) == len(tgt)  # each seen once
    p = (2 * r * abs(v - current) * duration + math.pi * r * r) / area
    mu, sd = n * p, math.sqrt(n * p * (1 - p))
    assert abs(len(tgt) - mu) < 4 * sd, (len(tgt), mu, sd)


def test_drift_is_current_plus_leeway_plus_a_seeded_random_part():
    text = ("random_targets: 4000\n    targets: [{id: buoy, position: [100, 4000], "
            "velocity_mps: [1, 1]}]\n"
            "    drift: {current_mps: [0.3, -0.2], leeway: 0.03, random_mps: 0.1}")
    wind = "{speed_mps: 10, from_deg: 270}"  # towards +x: leeway adds 0.3 m/s east
    sc = scenario(text, wind=wind)
    from fleetsim.rng import RandomStreams
    w1 = build_world(sc, RandomStreams(1))
    w2 = build_world(sc, RandomStreams(1))
    vel = w1.target_velocity
    assert np.array_equal(vel, w2.target_velocity)  # same seed, same drift
    assert vel[0].tolist() == [1.0, 1.0]  # its own velocity wins
    rest = vel[1:]
    # Mean within 4 standard errors (0.1 / sqrt(4000) = 0.0016) of the deterministic
    # part; the sample standard deviation within 4 of its standard errors (~0.0011).
    assert rest.mean(axis=0) == pytest.approx([0.6, -0.2], abs=4 * 0.1 / math.sqrt(4000))
    assert rest.std(axis=0) == pytest.approx([0.1, 0.1], abs=4 * 0.1 / math.sqrt(8000))
    w3 = build_world(sc, RandomStreams(2))
    assert not np.array_equal(vel, w3.target_velocity)


def test_still_targets_keep_their_world_and_source():
    sc = scenario("targets: [[5000, 5000]]")
    from fleetsim.rng import RandomStreams
    assert build_world(sc, RandomStreams(1)).target_velocity is None
    assert sc.source["missions"][0]["targets"] == [{"id": "sea-target0",
                                                   "position": [5000.0, 5000.0]}]
    assert "drift" not in sc.source["missions"][0]


def test_bad_velocity_is_a_clear_error():
    with pytest.raises(ScenarioError) as info:
        scenario("targets: [{id: a, position: [5000, 5000], velocity_mps: [1]}]")
    assert str(info.value).endswith(
        "missions[0].targets[0].velocity_mps: expected a pair [vx, vy] of numbers >= -100 "
        "and <= 100, got a list of 1 item")

"""Maritime search patterns: their geometry (IAMSAR legs), the drifting datum, the
per-leg POD against a Monte Carlo estimate, and a drifting target found in a run."""

from __future__ import annotations

import numpy as np
import pytest

from fleetsim.engine import Simulation
from fleetsim.policies.maritime_search import (
    expanding_square,
    leg_pod,
    parallel_track,
    sector_search,
)
from fleetsim.scenario import load_scenario_text


def lengths(pts):
    return np.hypot(*np.diff(pts, axis=0).T)


def test_expanding_square_legs_and_turns():
    pts = expanding_square(100.0, 7)
    assert lengths(pts) == pytest.approx([100, 100, 200, 200, 300, 300, 400])
    assert np.allclose(pts[:4], [[0, 0], [0, 100], [100, 100], [100, -100]])
    # Turning 90 degrees right after each leg.
    d = np.diff(pts, axis=0)
    cross = d[:-1, 0] * d[1:, 1] - d[:-1, 1] * d[1:, 0]
    assert (cross < 0).all() and np.abs((d[:-1] * d[1:]).sum(axis=1)).max() < 1e-9


def test_sector_search_triangles():
    pts = sector_search(1000.0, bearing_deg=0.0)
    assert len(pts) == 10
    assert lengths(pts) == pytest.approx([1000.0] * 9)  # equilateral triangles
    assert np.allclose(pts[[0, 3, 6, 9]], 0.0)  # back at the datum
    # Spokes every 60 degrees.
    spokes = np.degrees(np.arctan2(pts[[1, 2, 4, 5, 7, 8], 0], pts[[1, 2, 4, 5, 7, 8], 1]))
    assert sorted(np.round(spokes % 360, 9).tolist()) == [0, 60, 120, 180, 240, 300]


def test_parallel_track_spacing():
    pts = parallel_track(200.0, 3000.0, 4, bearing_deg=90.0)  # tracks east-west
    assert pts[:, 1].tolist() == pytest.approx([300, 300, 100, 100, -100, -100, -300, -300])
    assert pts[:, 0].tolist() == pytest.approx([-1500, 1500, 1500, -1500] * 2)


def test_leg_pod_against_monte_carlo():
    """The normal's mass in each leg's swept rectangle, against 400,000 samples: the
    estimate's standard error is at most 0.5 / sqrt(4e5) = 8e-4, so 5e-3 is over 6 of them."""
    pts = expanding_square(150.0, 6, bearing_deg=30.0)
    sigma, w = 300.0, 150.0
    pod = leg_pod(pts, sigma, w)
    rng = np.random.default_rng(3)
    xy = rng.normal(0.0, sigma, (400_000, 2))
    for k in range(len(pts) - 1):
        a, b = pts[k], pts[k + 1]
        u = (b - a) / np.hypot(*(b - a))
        rel = xy - a
        s = rel @ u
        c = rel @ np.array([-u[1], u[0]])
        hit = (s >= 0) & (s <= np.hypot(*(b - a))) & (np.abs(c) <= w / 2)
        assert pod[k] == pytest.approx(hit.mean(), abs=5e-3)


SCENARIO = """
schema_version: 1
name: sar
run: {{duration_s: 3000, seed: 2, monitor_window_s: 10}}
world:
  terrain: {{source: flat, size_m: [12000, 12000], spacing_m: 200}}
  sites: [{{id: boat, kind: base, position: [1000, 1000], pads: 2}}]
fleet:
  types:
    - id: drone
      kind: multirotor
      count: 1
      base: boat
      cruise_speed_mps: 15
      climb_rate_mps: 5
      cruise_altitude_agl_m: 60
      battery_wh: 1.0e6
      hover_power_w: 300
      cruise_power_w: 250
      recharge_time_s: 600
      sensor: {{footprint_radius_m: 60}}
missions:
  - id: sea
    kind: search
    area: {{rect: [2000, 2000, 10000, 10000]}}
    targets: [{{id: pitw, position: [{tx}, {ty}]}}]
    drift: {{current_mps: [0.5, 0.3]}}
policy:
  name: {policy}
  params: {{datum_x_m: 6000, datum_y_m: 6000, {params}}}
"""


@pytest.mark.parametrize("policy, params", [
    ("expanding_square", "legs: 12"),
    ("sector_search", "radius_m: 1500"),
    ("parallel_track", "length_m: 2000, tracks: 10"),
])
def test_patterns_find_a_target_drifting_with_the_datum(policy, params):
    # The target starts 150 m from the datum and drifts with it: each pattern, laid out
    # in the water's frame, passes within the footprint of it.
    sc = load_scenario_text(SCENARIO.format(policy=policy, params=params, tx=6100, ty=6110))
    rec = Simulation(sc).run()
    ev = rec.events
    assert (ev["kind"] == "detection").sum() >= 1
    if policy == "parallel_track":
        return
    # The pattern is laid out around the drifted datum: its first waypoint (the datum)
    # is where the datum is when the vehicle gets there (the plan's times leave out
    # the 12 s take-off, planned from the ground).
    legs = rec.legs
    mv = legs["kind"] == "move"
    t_arr = legs["t1_s"][mv][0] - 12.0
    first = (legs["x1_m"][mv][0], legs["y1_m"][mv][0])
    assert first == pytest.approx((6000 + 0.5 * t_arr, 6000 + 0.3 * t_arr), abs=1e-6)


def test_parallel_tracks_of_a_mixed_fleet_are_spaced_by_each_ones_sweep_width():
    """Two vehicles with sweep widths 120 m and 300 m share 4 tracks (2 each): adjacent
    tracks lie (S_a + S_b) / 2 apart, so the swept strips meet without gap or overlap."""
    text = SCENARIO.format(policy="parallel_track", params="length_m: 2000, tracks: 4",
                           tx=6100, ty=6110)
    text = text.replace("      sensor: {footprint_radius_m: 60}\n", """\
      sensor: {footprint_radius_m: 60}
    - id: wide
      kind: multirotor
      count: 1
      base: boat
      cruise_speed_mps: 15
      climb_rate_mps: 5
      cruise_altitude_agl_m: 60
      battery_wh: 1.0e6
      hover_power_w: 300
      cruise_power_w: 250
      recharge_time_s: 600
      sensor: {footprint_radius_m: 150}
""")
    sim = Simulation(load_scenario_text(text))
    pol = sim.policy
    sim.run()  # the run resets the policy with the fleet
    a, b = pol.pattern(0, 0.0), pol.pattern(1, 0.0)
    # Tracks run north (bearing 0): their x is the offset across.
    xs = sorted({round(float(x), 6) for x in np.r_[a[:, 0], b[:, 0]]})
    assert np.diff(xs).tolist() == pytest.approx([120.0, 210.0, 300.0])
    assert xs[0] + xs[-1] == pytest.approx(0.0)  # centred on the datum
    assert lengths(a)[0] == pytest.approx(2000.0)

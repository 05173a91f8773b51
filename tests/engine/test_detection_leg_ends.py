"""Detections at the ends of legs: targets just inside and just outside the sensor
radius beyond a leg's end, behind its start, and outside the corner of a route.

The engine looks up candidate targets per leg before solving the exact entry time; a
target beyond a leg's end (or behind its start) that is within the radius of that
point must be among them. Same vehicle as ``test_engine_inleg``: a quadrotor from
HOME = (100, 1000) at v = 10 m/s, 50 m up after a T_UP = 10 s takeoff (which does not
sense), definite-range sensor of radius r = 80 m. A target at along-track distance a
from a leg's start and lateral offset d enters the disc at t0 + (a - sqrt(r^2 - d^2))
/ v when that is on the leg; one already inside when the leg starts is seen at t0.
The recorded ``value`` is the closest distance between the target and the leg.
"""

from __future__ import annotations

import math

import pytest
from test_engine_inleg import T_UP, Fly, V, events, vehicle_yaml

from fleetsim.engine import Simulation
from fleetsim.policy import GoTo, Hold, Route
from fleetsim.scenario import load_scenario_text

R = 80.0
HOME = (100.0, 1000.0)
IN, OUT = R - 1.0, R + 0.5  # just inside and just outside the radius


def fly(targets: list[tuple[float, float]], actions, duration_s: float = 400.0):
    text = f"""
schema_version: 1
name: leg_ends
run: {{duration_s: {duration_s}, seed: 1, monitor_window_s: 10}}
world:
  terrain: {{source: flat, size_m: [3000, 2000], spacing_m: 50}}
  sites: [{{id: home, kind: base, position: [{HOME[0]}, {HOME[1]}]}}]
{vehicle_yaml("home", R)}
missions:
  - {{id: m, kind: search, area: {{rect: [0, 0, 3000, 2000]}},
     targets: {[list(map(float, t)) for t in targets]}}}
policy: {{name: fly}}
"""
    det = events(Simulation(load_scenario_text(text), policy=Fly(actions)).run(), "detection")
    order = det["target"].argsort(kind="stable")
    return (det["target"][order].tolist(), det["time_s"][order].tolist(),
            det["value"][order].tolist())


def entry(t0: float, along: float, lateral: float) -> float:
    return t0 + (along - math.sqrt(R * R - lateral * lateral)) / V


def test_targets_beyond_the_end_and_behind_the_start_of_a_straight_leg():
    """One 1000 m leg east, then a hold at its end (which senses too, so a target the
    move leg missed would be seen at its arrival, 0.1 s late)."""
    x0, y = HOME
    x1 = x0 + 1000.0
    targets = [
        (x1 + IN, y),                  # 0: beyond the end, on the track
        (x1 + OUT, y),                 # 1: beyond the end, just out of range
        (x0 - IN, y),                  # 2: behind the start: in view when the leg starts
        (x0 - OUT, y),                 # 3: behind the start, just out of range
        (x1, y + IN),                  # 4: abeam the end point
        (x1 + 40.0, y - 60.0),         # 5: beyond the end, off the track (100 m from it)
        (x1 + 40.0, y - 60.0 - 30.0),  # 6: beyond the end, off the track, out of range
    ]
    found, times, values = fly(targets, [GoTo(x1, y), Hold(30.0)])
    assert found == [0, 2, 4, 5]
    assert times == pytest.approx([
        entry(T_UP, 1000.0 + IN, 0.0),
        T_UP,
        entry(T_UP, 1000.0, IN),
        entry(T_UP, 1040.0, 60.0),
    ], abs=1e-9)
    assert values == pytest.approx([IN, IN, IN, math.hypot(40.0, 60.0)], abs=1e-9)
    assert math.hypot(40.0, 90.0) > R  # target 6 is out of range everywhere


def test_targets_at_the_corners_of_a_route():
    """Route east 1000 m to the corner C, then north 800 m to the end E, then hold.
    Outside the corner (south-east of C) a target at distance IN from C is seen from the
    first leg before the turn, and only once although it is still in view when the
    second leg starts; one at OUT from C is never seen. Beyond C along the first leg
    and beyond E along the second: seen from the leg that points at them."""
    x0, y0 = HOME
    cx, cy = x0 + 1000.0, y0
    ex, ey = cx, cy + 800.0
    s_in, s_out = IN / math.sqrt(2.0), OUT / math.sqrt(2.0)
    targets = [
        (cx + s_in, cy - s_in),    # 0: outside the corner, in range of C only
        (cx + s_out, cy - s_out),  # 1: outside the corner, out of range
        (cx + IN, cy),             # 2: beyond C along the first leg (in view across C)
        (ex, ey + IN),             # 3: beyond E along the second leg
        (ex - IN, ey + 1.0),       # 4: beyond E, west: abeam the hold only (d = 79)
        (ex, ey + OUT),            # 5: beyond E, out of range
    ]
    found, times, values = fly(targets, [Route([(cx, cy), (ex, ey)]), Hold(30.0)])
    t_corner = T_UP + 1000.0 / V
    # Target 4 is 1 m beyond E and 79 m west: it enters the disc on the second leg
    # where its distance is 80 m: along = 801 - sqrt(80^2 - 79^2).
    assert found == [0, 2, 3, 4]
    assert times == pytest.approx([
        entry(T_UP, 1000.0 + s_in, s_in),
        entry(T_UP, 1000.0 + IN, 0.0),
        entry(t_corner, 800.0 + IN, 0.0),
        entry(t_corner, 801.0, IN),
    ], abs=1e-9)
    assert values == pytest.approx([IN, IN, IN, math.hypot(IN, 1.0)], abs=1e-9)

"""Persistent patrol reaches the border of its area and the edge of its no-fly zones.

Exact geometry: a 1100 m square area (not a whole number of 200 m patrol cells),
footprint radius r = 100 m, a no-fly zone [400, 700]^2 active all along, metric
cells of 50 m (h = 25 m half a cell). Along each axis the patrol centres are
evenly spaced from min(200 / 2, h + 0.95 r) = 100 m inside one border to 100 m
inside the other: 100, 280, 460, 640, 820, 1000 (pitch 900 / 5 = 180 m <= 200 m);
the old layout (centres 100 + 200 k) dropped the one on the far border (1100) and
left the last 100 m unseen. The four corner centres lie c = h + 0.95 r / sqrt 2 =
92.18 m inside both borders, so their footprints reach the corner metric cells'
centres (h, h). The four centres inside the zone are dropped; the centres of the
cells next to it (farther than r from the zone, with a neighbouring centre in it)
are moved straight towards it until r away: 280 -> 300 and 820 -> 800 on the
zone's sides, diagonally to (400 - r / sqrt 2, ...) at its corners. So a footprint
flown along any border or zone side reaches the border or the zone's edge, and
every permitted metric cell (centre 25 m from the border, or 25 m from the zone)
is seen.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from fleetsim.engine import Simulation
from fleetsim.metrics import compute_metrics
from fleetsim.metrics.raster import cell_coverage
from fleetsim.scenario import load_scenario_text

T = 3600.0
TEXT = f"""
schema_version: 1
name: edges
run: {{duration_s: {T}, seed: 3, monitor_window_s: 60}}
world:
  terrain: {{source: flat, size_m: [1200, 1200], spacing_m: 50}}
  zones:
    - {{id: block, kind: no_fly, polygon: [[400, 400], [700, 400], [700, 700], [400, 700]]}}
  sites:
    - {{id: b, kind: base, position: [100, 100], pads: 4}}
fleet:
  types:
    - {{id: quad, kind: multirotor, bases: {{b: 4}}, cruise_speed_mps: 10,
       climb_rate_mps: 5, cruise_altitude_agl_m: 20, battery_wh: 1.0e9,
       hover_power_w: 100, cruise_power_w: 100, recharge_time_s: 10,
       terrain_clearance_m: 10, sensor: {{footprint_radius_m: 100}}}}
missions:
  - id: square
    kind: persistent
    area: {{rect: [0, 0, 1100, 1100]}}
policy:
  name: persistent_patrol
  params: {{cell_size_m: 200, decision_period_s: 60}}
outputs: {{metrics_cell_m: 50}}
"""


def expected_centres() -> set[tuple[float, float]]:
    axis = [100.0, 280.0, 460.0, 640.0, 820.0, 1000.0]
    moved = {axis[1]: 300.0, axis[4]: 800.0}
    c = 25.0 + 0.95 * 100.0 / math.sqrt(2.0)  # the area's corners
    corners = {100.0: c, 1000.0: 1100.0 - c}
    corner = 100.0 / math.sqrt(2.0)
    out = set()
    for x in axis:
        for y in axis:
            if 400 < x < 700 and 400 < y < 700:
                continue  # in the zone
            side_x, side_y = 400 <= x <= 700, 400 <= y <= 700
            if x in corners and y in corners:
                out.add((round(corners[x], 6), round(corners[y], 6)))
            elif x in moved and y in moved:  # diagonal to a corner
                x1 = 400 - corner if x < 400 else 700 + corner
                y1 = 400 - corner if y < 400 else 700 + corner
                out.add((round(x1, 6), round(y1, 6)))
            elif x in moved and side_y:
                out.add((moved[x], round(y, 6)))
            elif y in moved and side_x:
                out.add((round(x, 6), moved[y]))
            else:
                out.add((round(x, 6), round(y, 6)))
    return out


@pytest.fixture(scope="module")
def run():
    return Simulation(load_scenario_text(TEXT)).run()


def test_patrol_points_reach_border_and_zone(run):
    legs = run.legs
    # Legs ending before the run does (the last ones are cut at its end).
    move = (legs["kind"] == "move") & (legs["t0_s"] > 0) & (legs["t1_s"] < T)
    ends = {(round(float(x), 6), round(float(y), 6))
            for x, y in zip(legs["x1_m"][move], legs["y1_m"][move], strict=True)}
    want = expected_centres()
    assert len(want) == 32
    # Every patrol point visited, and the vehicles fly to nothing else but the base.
    assert want <= ends
    assert ends - want <= {(100.0, 100.0)}


def test_every_permitted_metric_cell_is_covered(run):
    cov = cell_coverage(run)
    perm = cov.permission.permitted_time_s()[cov.permission.signature] > 0
    assert cov.n_cells == 22 * 22 and int(perm.sum()) == 22 * 22 - 36
    assert not np.isnan(cov.first_s[perm]).any()
    # Every cell is seen within the first half hour (4 vehicles at 10 m/s: 72 km flown;
    # the 32 patrol points are ~6 km apart in all; the deterministic run takes 1327 s).
    assert float(np.nanmax(cov.first_s[perm])) < 1800.0
    metrics = compute_metrics(run)
    assert metrics["coverage.fraction"] == 1.0
    # No permitted cell is left unseen to the end: its largest idleness is a gap
    # between two visits (or after the last), not the whole run.
    assert metrics["patrol.idleness_max_s"] < T - 600.0
    assert metrics["patrol.idleness_max_s"] == pytest.approx(float(cov.permitted_max_s[perm].max()))

"""Persistent patrol reaches the border of its area and the edge of its no-fly zones.

Exact geometry: a 1100 m square area (not a whole number of 200 m patrol cells),
footprint radius r = 100 m, a no-fly zone [400, 700]^2 active all along, metric
cells of 50 m (h = 25 m half a cell). Along each axis the patrol centres are
evenly spaced from a = h + 0.95 r / sqrt 2 = 92.18 m inside one border to a
inside the other (so a footprint on a corner centre reaches the corner metric
cell's centre (h, h), 0.95 r away): six centres, pitch (1100 - 2 a) / 5 =
183.13 m <= 200 m. The four centres inside the zone are dropped; the centres of
the cells next to it (farther than r from the zone, with a neighbouring centre in
it) are moved straight towards it until r away: 275.31 -> 300 and 824.69 -> 800 on
the zone's sides, diagonally to
(400 - r / sqrt 2, ...) at its corners. So a footprint flown along any border or
zone side reaches the border or the zone's edge, and every permitted metric cell
(centre 25 m from the border, or 25 m from the zone) is seen.
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
    inset = 25.0 + 0.95 * 100.0 / math.sqrt(2.0)
    pitch = (1100.0 - 2.0 * inset) / 5.0
    axis = [inset + i * pitch for i in range(6)]
    moved = {axis[1]: 300.0, axis[4]: 800.0}
    corner = 100.0 / math.sqrt(2.0)
    out = set()
    for x in axis:
        for y in axis:
            if 400 < x < 700 and 400 < y < 700:
                continue  # in the zone
            side_x, side_y = 400 <= x <= 700, 400 <= y <= 700
            if x in moved and y in moved:  # diagonal to a corner
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
    # Every cell is seen within the first 20 minutes (4 vehicles, ~14 km of cells).
    assert float(np.nanmax(cov.first_s[perm])) < 1200.0
    metrics = compute_metrics(run)
    assert metrics["coverage.fraction"] == 1.0
    # No permitted cell is left unseen to the end: its largest idleness is a gap
    # between two visits (or after the last), not the whole run.
    assert metrics["patrol.idleness_max_s"] < T - 600.0
    assert metrics["patrol.idleness_max_s"] == pytest.approx(float(cov.permitted_max_s[perm].max()))

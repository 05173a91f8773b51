"""persistent_patrol sees every permitted cell: beside a no-fly zone active for part of
the run (its spurs along the zone's edge) and along a slanted edge of the mission area
(cells whose centres fall just outside the area are moved onto it)."""

from __future__ import annotations

import json

from fleetsim.cli import main

SCENARIO = """
schema_version: 1
name: zone_edges
run: {{duration_s: 2400, seed: 3}}
world:
  terrain: {{source: procedural, size_m: [4000, 4000], spacing_m: 50, relief_m: 0, ridges: 0}}
  zones:
    - id: refuge
      kind: no_fly
      polygon: [[1500, 1400], [2500, 1550], [2600, 2600], [1450, 2450]]
      active: {{start_s: {start}}}
  sites: [{{id: base, kind: base, position: [300, 300], pads: 12}}]
fleet:
  types:
    - {{id: quad, kind: multirotor, count: 12, base: base, cruise_speed_mps: 15,
       climb_rate_mps: 5, cruise_altitude_agl_m: 100, battery_wh: 400, hover_power_w: 200,
       cruise_power_w: 150, recharge_time_s: 600, sensor: {{footprint_radius_m: 100}}}}
missions:
  - id: field
    kind: persistent
    area: {{polygon: [[200, 200], [3800, 200], [3800, 3100], [200, 3800]]}}
policy: {{name: persistent_patrol, params: {{decision_period_s: 60}}}}
outputs: {{metrics_cell_m: 100}}
"""


def _metrics(tmp_path, start: float) -> dict:
    path = tmp_path / "zone_edges.yaml"
    path.write_text(SCENARIO.format(start=start))
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), "--no-replay", "-q"]) == 0
    return json.loads((out / "metrics.json").read_text())


def test_cells_beside_a_timed_zone_and_along_a_slanted_edge_are_all_seen(tmp_path):
    m = _metrics(tmp_path, 300)
    assert m["safety.geofence_entries"] == 0
    # Every cell that is ever permitted is seen (the ring beside the zone included) ...
    assert m["coverage.fraction"] == 1.0
    # ... and none waits anywhere near the whole run for a visit.
    assert m["patrol.idleness_max_s"] < 0.75 * 2400

"""The small real run every replay test uses, and the browser settings."""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
IN_CI = os.environ.get("CI", "").lower() == "true"
#: Chunk length of the test bundle: five chunks, so playing and seeking cross chunks.
CHUNK_S = 300.0

# Eight quadrotors from two bases search a field with a lawnmower; their small
# batteries make them return, queue for pads and charge within the run; one zone is
# active only from 600 s to 1200 s.
SCENARIO = """
schema_version: 1
name: viewer_test
description: a small run for the replay viewer tests
run: {duration_s: 1500, seed: 5}
world:
  terrain: {source: procedural, size_m: [4000, 3000], spacing_m: 50, relief_m: 200, ridges: 3,
            base_elevation_m: 100}
  zones:
    - {id: corridor, kind: restricted, polygon: [[1900, 0], [2100, 0], [2100, 3000], [1900, 3000]],
       ceiling_amsl_m: 250}
    - {id: late_tfr, kind: no_fly, polygon: [[2600, 2000], [3400, 2000], [3400, 2800], [2600, 2800]],
       active: {start_s: 600, end_s: 1200}}
  sites:
    - {id: west, kind: base, position: [200, 1500], pads: 2}
    - {id: east, kind: base, position: [3800, 1500], pads: 2}
fleet:
  types:
    - id: quad
      kind: multirotor
      bases: {west: 4, east: 4}
      cruise_speed_mps: 12
      climb_rate_mps: 4
      cruise_altitude_agl_m: 60
      battery_wh: 60
      hover_power_w: 220
      cruise_power_w: 200
      reserve_fraction: 0.25
      recharge_time_s: 400
      terrain_clearance_m: 10
      sensor: {footprint_radius_m: 53}  # not a multiple of the cell: few exact grazes
missions:
  - {id: field, kind: search, area: {rect: [500, 400, 3500, 2600]}, random_targets: 15}
policy: {name: lawnmower, params: {}}
outputs: {metrics_cell_m: 50}
"""

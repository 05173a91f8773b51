"""Fixtures of the replay tests: one small REAL run (simulated once per session), its
run directory with the replay bundle, a server for it, and the browser set-up."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fleetsim.engine import Simulation
from fleetsim.metrics import compute_metrics
from fleetsim.replay import read_replay, write_replay_into
from fleetsim.replay.keyframes import sort_legs
from fleetsim.rundir import write_run
from fleetsim.scenario import load_scenario_text

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
      sensor: {footprint_radius_m: 50}
missions:
  - {id: field, kind: search, area: {rect: [500, 400, 3500, 2600]}, random_targets: 15}
policy: {name: lawnmower, params: {}}
outputs: {metrics_cell_m: 50}
"""


@pytest.fixture(scope="session")
def small_run():
    return Simulation(load_scenario_text(SCENARIO, filename="viewer_test.yaml")).run()


@pytest.fixture(scope="session")
def sorted_legs(small_run):
    return sort_legs(small_run.legs, small_run.vehicles)


@pytest.fixture(scope="session")
def run_dir(small_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("viz") / "viewer_test"
    write_run(out, small_run, compute_metrics(small_run), extra_writers=[
        lambda d: write_replay_into(d / "replay", small_run, chunk_s=CHUNK_S)])
    return out


@pytest.fixture(scope="session")
def bundle(run_dir):
    return read_replay(run_dir / "replay")


# ---------------------------------------------------------------- browser (pytest-playwright)

def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = (f"{CHROMIUM} not found: the viewer's browser tests need Debian's chromium "
               "(run .ci/system-deps, or apt-get install chromium fonts-liberation)")
    if IN_CI:
        pytest.fail(message + " -- required in CI", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    _require_chromium()
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM),
            "args": [*browser_type_launch_args.get("args", []), *CHROMIUM_ARGS]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}}


@pytest.fixture(scope="session")
def server(run_dir):
    from fleetsim.replay.server import ReplayServer

    with ReplayServer(run_dir / "replay", "127.0.0.1", 0).start() as srv:
        yield srv

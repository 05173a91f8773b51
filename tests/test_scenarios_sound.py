"""Every shipped scenario, run at its default size with its own policy, is sound.

- No vehicle enters a no-fly zone while it is active (``safety.geofence_entries``),
  none comes closer to the terrain than its clearance (``safety.terrain_violations``),
  and restricted zones are entered only where the oversight rules allow it
  (``enter_restricted`` not ``forbidden``).
- Persistent surveillance is persistent: from 30 min to the end, at least a third of
  the fleet is airborne at every 60 s sample (counted from ``legs.parquet``).

Each scenario runs once, through the command line (``--no-replay``) into a
temporary directory, and its tests share the run. All of them, swarm_10k
(10,000 drones) included, run at full size: together about a minute on two
cores.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fleetsim.cli import main
from fleetsim.scenario import load_scenario

SCENARIOS = sorted(p.stem for p in (Path(__file__).resolve().parent.parent / "scenarios")
                   .glob("*.yaml"))
_DIR = Path(__file__).resolve().parent.parent / "scenarios"
#: Leg kinds flown in the air (taking off, cruising, hovering, going home, landing).
_AIRBORNE = ["takeoff", "move", "hold", "return", "land", "unload"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run directory of a scenario, run on first use."""
    done: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in done:
            out = tmp_path_factory.mktemp("sound") / name
            assert main(["run", str(_DIR / f"{name}.yaml"), "--out", str(out), "--no-replay",
                         "-q"]) == 0
            done[name] = out
        return done[name]

    return get


def metrics_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def airborne_counts(run_dir: Path, t_from: float, end: float, step: float = 60.0
                    ) -> tuple[np.ndarray, np.ndarray, int]:
    """Vehicles in the air at ``t_from, t_from + step, ...`` before ``end``."""
    legs = pd.read_parquet(run_dir / "legs.parquet")
    vehicles = len(pd.read_parquet(run_dir / "vehicles.parquet"))
    air = legs[legs["kind"].isin(_AIRBORNE)]
    t0, t1, v = air["t0_s"].to_numpy(), air["t1_s"].to_numpy(), air["vehicle"].to_numpy()
    times = np.arange(t_from, end, step)
    counts = np.array([len(np.unique(v[(t0 <= t) & (t1 > t)])) for t in times])
    return times, counts, vehicles


@pytest.mark.parametrize("name", SCENARIOS)
def test_no_geofence_entries_or_terrain_violations(runs, name):
    m = metrics_of(runs(name))
    assert m["safety.geofence_entries"] == 0
    assert m["safety.terrain_violations"] == 0
    scenario = load_scenario(_DIR / f"{name}.yaml")
    rules = scenario.oversight
    if rules is not None and rules.rule_for("enter_restricted").rule == "forbidden":
        assert m["safety.restricted_entries"] == 0


PERSISTENT = [n for n in SCENARIOS
              if {m.kind for m in load_scenario(_DIR / f"{n}.yaml").missions} == {"persistent"}]


@pytest.mark.parametrize("name", PERSISTENT)
def test_persistent_surveillance_keeps_a_third_of_the_fleet_airborne(runs, name):
    end = load_scenario(_DIR / f"{name}.yaml").run.duration_s
    times, counts, vehicles = airborne_counts(runs(name), 1800.0, end)
    assert len(times) > 0
    worst = int(np.argmin(counts))
    assert counts[worst] >= vehicles / 3, (
        f"{name}: {counts[worst]} of {vehicles} airborne at {times[worst]:g} s")


def test_wildfire_watch_is_persistent_surveillance():
    # The scenario the rotation was made for: all 300 drones are persistent patrollers.
    assert "wildfire_watch" in PERSISTENT


def test_wildfire_watch_sees_every_permitted_cell_well_within_the_run(runs):
    # The ring beside eagle_refuge (a no-fly zone from 30 min on) is seen while the zone
    # is active: every cell ever permitted is seen, and none waits for most of the run.
    m = metrics_of(runs("wildfire_watch"))
    end = load_scenario(_DIR / "wildfire_watch.yaml").run.duration_s
    assert m["coverage.fraction"] == 1.0
    assert m["patrol.idleness_max_s"] < 0.75 * end


def test_coastal_patrol_sees_the_bay_up_to_its_radio_limits(runs):
    # Cells along the slanted southern edge and those the masts leave out of link
    # (which the relays now cover) are seen; one 150 m cell in the far north lies out
    # of link of every mast and every relay point, so it stays unseen under
    # continue_lost_link: forbidden.
    m = metrics_of(runs("coastal_patrol"))
    assert m["coverage.fraction"] > 0.999

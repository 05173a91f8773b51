"""Golden runs: every shipped scenario at the CLI tests' short size, and three at full size.

A golden run is a scenario file, a list of overrides and a seed. Its record is the run
digest (legs, events and vehicles tables; :func:`fleetsim.record.run_digest`) and the exact
bytes of ``metrics.json``, committed under ``tests/golden/``. The test
``tests/test_golden.py`` re-simulates each one and requires both to be equal, so a change
to any recorded run shows up as a failing test.

A change of behaviour made on purpose re-records the fixtures in a commit of its own that
says why::

    .venv/bin/python tests/golden/golden_runs.py            # rewrite every fixture
    .venv/bin/python tests/golden/golden_runs.py NAME ...   # only these runs
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCENARIOS = ROOT / "scenarios"
DIGESTS = HERE / "digests.json"

#: Overrides that make each shipped scenario short enough for the test suite (same terrain,
#: zones, bases and policy; fewer vehicles and simulated seconds). The CLI tests use them too.
SHORT: dict[str, list[str]] = {
    "search_and_rescue": ["run.duration_s=900"],
    "wildfire_watch": [
        "run.duration_s=600",
        "fleet.types[0].bases={ranger_station: 40, lookout_tower: 40}",
    ],
    "swarm_10k": ["run.duration_s=600", "fleet.types[0].bases={sw: 50, se: 50, nw: 50, ne: 50}"],
    "shared_airspace": ["run.duration_s=900"],
    "coastal_patrol": ["run.duration_s=600"],
    "oversight_tradeoff": ["run.duration_s=600"],
    "harbor_resupply": ["run.duration_s=2400"],
    "sea_rescue": ["run.duration_s=1800"],
    "disaster_relief": ["run.duration_s=2400"],
    "zurich_streets": ["run.duration_s=1200"],
    "zurich_boats": ["run.duration_s=1800"],
    "city_delivery": ["run.duration_s=900",
                      "fleet.types[0].bases={west: 25, east: 25, north: 25, south: 25}"],
}

#: Scenarios also recorded at their full size, with two seeds each.
FULL = ("search_and_rescue", "coastal_patrol", "shared_airspace")
FULL_SEEDS = (1, 2)


@dataclass(frozen=True)
class GoldenRun:
    name: str
    scenario: str
    overrides: tuple[str, ...]

    @property
    def metrics_path(self) -> Path:
        return HERE / f"{self.name}.metrics.json"


def golden_runs() -> list[GoldenRun]:
    runs = [GoldenRun(f"{s}-short", s, tuple(o)) for s, o in sorted(SHORT.items())]
    runs += [GoldenRun(f"{s}-full-seed{k}", s, (f"run.seed={k}",))
             for s in FULL for k in FULL_SEEDS]
    return runs


def simulate(golden: GoldenRun) -> tuple[str, str]:
    """Run one golden scenario; returns (run digest, metrics.json text)."""
    from fleetsim.engine import Simulation
    from fleetsim.metrics import compute_metrics
    from fleetsim.record import run_digest
    from fleetsim.rundir import dumps_json
    from fleetsim.scenario import load_scenario

    scenario = load_scenario(SCENARIOS / f"{golden.scenario}.yaml", list(golden.overrides))
    run = Simulation(scenario).run()
    return run_digest(run), dumps_json(compute_metrics(run))


def recorded_digests() -> dict[str, str]:
    return json.loads(DIGESTS.read_text()) if DIGESTS.exists() else {}


def record(names: list[str]) -> None:
    digests = recorded_digests()
    for golden in golden_runs():
        if names and golden.name not in names:
            continue
        digest, metrics = simulate(golden)
        digests[golden.name] = digest
        golden.metrics_path.write_text(metrics)
        print(f"{golden.name}: {digest[:16]}", flush=True)
    DIGESTS.write_text(json.dumps(dict(sorted(digests.items())), indent=2) + "\n")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    record(sys.argv[1:])

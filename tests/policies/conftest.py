"""Fixtures shared by the policy tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetsim.engine import Simulation
from fleetsim.scenario import load_scenario

SWARM = Path(__file__).resolve().parents[2] / "scenarios" / "swarm_10k.yaml"


@pytest.fixture(scope="module")
def patrol():
    """swarm_10k's persistent patrol with 8 vehicles (2 per corner base), 1 km cells,
    set up for a run (its caches and index built)."""
    sc = load_scenario(SWARM, ["fleet.types[0].bases={sw: 2, se: 2, nw: 2, ne: 2}",
                               "policy.params={cell_size_m: 1000, decision_period_s: 300}"])
    return Simulation(sc).policy

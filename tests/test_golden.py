"""Recorded runs stay what they were: run digest and metrics.json bytes of the golden runs.

See ``tests/golden/golden_runs.py`` for what is recorded and how to re-record on purpose.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
from golden_runs import golden_runs, recorded_digests, simulate  # noqa: E402

GOLDEN = golden_runs()


def test_every_shipped_scenario_has_a_golden_run():
    shipped = {p.stem for p in (Path(__file__).resolve().parents[1] / "scenarios").glob("*.yaml")}
    assert shipped == {g.scenario for g in GOLDEN}
    assert set(recorded_digests()) == {g.name for g in GOLDEN}


@pytest.mark.parametrize("golden", GOLDEN, ids=[g.name for g in GOLDEN])
def test_golden_run_unchanged(golden):
    digest, metrics = simulate(golden)
    assert metrics == golden.metrics_path.read_text(), (
        f"{golden.name}: metrics.json changed; if on purpose, re-record with "
        f"tests/golden/golden_runs.py {golden.name} in a commit of its own")
    assert digest == recorded_digests()[golden.name], f"{golden.name}: run record changed"

"""Same scenario and seed: the same record, byte for byte; another seed: another record."""

from __future__ import annotations

import pytest

from fleetsim.checker import CHECK_SCENARIO
from fleetsim.engine import Simulation
from fleetsim.metrics import compute_metrics, metrics_json
from fleetsim.record import run_digest, table_digest
from fleetsim.scenario import load_scenario_text

# Random terrain, random targets, a policy drawing from its rng, recharging and pad
# queues; the inverse-cube sensor also draws from the detection stream.
VARIANTS = {
    "random_search": ["policy.name=random_search"],
    "random_search-inverse_cube": [
        "policy.name=random_search",
        "fleet.types[0].sensor.detection={model: inverse_cube, sweep_width_m: 80}",
    ],
    "persistent_patrol": ["policy.name=persistent_patrol"],
}


def run(overrides, seed=None):
    extra = [f"run.seed={seed}"] if seed is not None else []
    return Simulation(load_scenario_text(CHECK_SCENARIO, overrides=overrides + extra)).run()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_same_seed_same_record_and_metrics(variant):
    a, b = run(VARIANTS[variant]), run(VARIANTS[variant])
    assert run_digest(a) == run_digest(b)
    for table in ("legs", "events", "vehicles"):
        assert table_digest(getattr(a, table)) == table_digest(getattr(b, table)), table
    assert metrics_json(compute_metrics(a)) == metrics_json(compute_metrics(b))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_another_seed_changes_the_record(variant):
    a, b = run(VARIANTS[variant], seed=11), run(VARIANTS[variant], seed=12)
    assert run_digest(a) != run_digest(b)
    assert table_digest(a.events) != table_digest(b.events)


def test_two_runs_in_one_process_do_not_interfere():
    overrides = VARIANTS["random_search-inverse_cube"]
    alone = run_digest(run(overrides))
    # Build both first, then run them interleaved with a third of another seed.
    first = Simulation(load_scenario_text(CHECK_SCENARIO, overrides=overrides))
    other = Simulation(load_scenario_text(CHECK_SCENARIO, overrides=overrides + ["run.seed=5"]))
    second = Simulation(load_scenario_text(CHECK_SCENARIO, overrides=overrides))
    digest_other = run_digest(other.run())
    assert run_digest(second.run()) == alone
    assert run_digest(first.run()) == alone
    assert digest_other != alone


def test_the_digest_sees_a_one_bit_change():
    a = run(VARIANTS["random_search"])
    before = run_digest(a)
    a.legs["t1_s"][3] = float.__add__(float(a.legs["t1_s"][3]), 1e-9)
    assert run_digest(a) != before

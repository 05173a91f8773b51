"""The policy conformance checker: every built-in policy passes it, and it catches
policies that are not deterministic or that change their inputs."""

from __future__ import annotations

import textwrap

import pytest

from fleetsim.checker import CHECK_SCENARIO, CheckReport, check_policy
from fleetsim.docgen import action_types_in_source
from fleetsim.errors import FleetsimError, PolicyError, ScenarioError
from fleetsim.policy import BUILTIN_POLICIES, policy_class
from fleetsim.scenario import load_scenario_text


@pytest.mark.parametrize("name", sorted(BUILTIN_POLICIES))
def test_every_builtin_policy_passes(name):
    report = check_policy(name)
    assert isinstance(report, CheckReport)
    # the table of built-in policies in the docs (read from the source) holds what it does
    cls = policy_class(name)
    assert set(report.action_types) <= set(action_types_in_source(cls)), report.action_types
    assert report.action_types
    assert report.policy == name
    assert report.legs > 0 and report.events > 0
    assert len(report.digest) == 64
    # The digest is a function of the policy and the scenario only.
    assert check_policy(name).digest == report.digest


def test_builtin_policies_record_different_runs():
    digests = {check_policy(name).digest for name in BUILTIN_POLICIES}
    assert len(digests) == len(BUILTIN_POLICIES)


def test_policy_params_are_passed_and_checked():
    a = check_policy("random_search", params={"leg_length_m": 500.0})
    b = check_policy("random_search", params={"leg_length_m": 1500.0})
    assert a.digest != b.digest
    with pytest.raises(ScenarioError, match="leg_length_m"):
        check_policy("random_search", params={"leg_length_m": -1.0})
    with pytest.raises(ScenarioError, match="did you mean 'leg_length_m'"):
        check_policy("random_search", params={"leg_lenght_m": 1.0})


def test_a_given_scenario_is_used():
    sc = load_scenario_text(
        CHECK_SCENARIO, overrides=["policy.name=lawnmower", "run.duration_s=300"]
    )
    report = check_policy("lawnmower", sc)
    assert report.digest != check_policy("lawnmower").digest


def policy_file(tmp_path, name: str, body: str) -> str:
    """Write a policy module and return its 'path/file.py:Class' name."""
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return f"{path}:Candidate"


HEADER = """
    import random
    import time

    from fleetsim.policy import GoTo, Plan, Policy


    class Candidate(Policy):
        name = "candidate"
"""


def test_a_policy_using_unseeded_random_fails(tmp_path):
    name = policy_file(
        tmp_path,
        "unseeded_random",
        HEADER
        + """
        def decide(self, now_s, fleet, requests):
            return [Plan(r.vehicle, [GoTo(random.uniform(200, 2800),
                                          random.uniform(200, 2800))])
                    for r in requests if r.reason in ("start", "idle", "recharged")]
    """,
    )
    with pytest.raises(PolicyError) as info:
        check_policy(name)
    text = str(info.value)
    assert name in text  # names the policy
    assert "same scenario and seed recorded different logs" in text
    assert "ctx.rng" in text  # and says what to do


def test_a_policy_using_the_wall_clock_fails(tmp_path):
    name = policy_file(
        tmp_path,
        "wall_clock",
        HEADER
        + """
        def decide(self, now_s, fleet, requests):
            jitter = time.perf_counter_ns() % 997
            return [Plan(r.vehicle, [GoTo(1000.0 + jitter, 1000.0)])
                    for r in requests if r.reason in ("start", "idle", "recharged")]
    """,
    )
    with pytest.raises(PolicyError, match="recorded different logs"):
        check_policy(name)


def test_a_policy_drawing_from_its_context_rng_passes(tmp_path):
    name = policy_file(
        tmp_path,
        "seeded",
        HEADER
        + """
        def decide(self, now_s, fleet, requests):
            rng = self.ctx.rng
            return [Plan(r.vehicle, [GoTo(*rng.uniform(200, 2800, 2).tolist())])
                    for r in requests if r.reason in ("start", "idle", "recharged")]
    """,
    )
    assert check_policy(name).legs > 0


def test_a_policy_that_moves_the_targets_during_the_run_fails(tmp_path):
    name = policy_file(
        tmp_path,
        "mutates_in_decide",
        HEADER
        + """
        def decide(self, now_s, fleet, requests):
            targets = self.ctx.world.targets_xy
            if len(targets):
                targets[0, 0] += 1.0
            return [Plan(r.vehicle, [GoTo(1500.0, 600.0)])
                    for r in requests if r.reason == "start"]
    """,
    )
    with pytest.raises(PolicyError) as info:
        check_policy(name)
    text = str(info.value)
    assert name in text
    assert "read-only" in text
    assert "changed its inputs" in text or "tried to change an input" in text


def test_a_policy_that_forces_its_way_into_the_targets_fails(tmp_path):
    # Even a policy that makes the array writeable again is caught: the checker compares
    # a digest of the world before and after the run.
    name = policy_file(
        tmp_path,
        "forces_write",
        HEADER
        + """
        def decide(self, now_s, fleet, requests):
            targets = self.ctx.world.targets_xy
            if now_s > 0 and len(targets):
                targets.setflags(write=True)
                targets[0, 0] += 1.0
            return [Plan(r.vehicle, [GoTo(1500.0, 600.0)])
                    for r in requests if r.reason == "start"]
    """,
    )
    with pytest.raises(PolicyError) as info:
        check_policy(name)
    text = str(info.value)
    assert name in text
    assert "changed its inputs" in text and "read-only" in text


def test_a_policy_that_moves_the_targets_in_reset_fails(tmp_path):
    name = policy_file(
        tmp_path,
        "mutates_in_reset",
        HEADER
        + """
        def reset(self, ctx):
            super().reset(ctx)
            ctx.world.targets_xy[:, 0] = 0.0

        def decide(self, now_s, fleet, requests):
            return [Plan(r.vehicle, [GoTo(1500.0, 600.0)])
                    for r in requests if r.reason == "start"]
    """,
    )
    with pytest.raises(PolicyError, match="read-only") as info:
        check_policy(name)
    assert name in str(info.value)


def test_a_policy_writing_into_the_fleet_view_fails(tmp_path):
    # The arrays a policy is given are read-only: trying to write is caught at once.
    name = policy_file(
        tmp_path,
        "writes_view",
        HEADER
        + """
        def decide(self, now_s, fleet, requests):
            fleet.home_xy[0, 0] = 5.0
            return []
    """,
    )
    with pytest.raises(PolicyError, match="read-only") as info:
        check_policy(name)
    assert name in str(info.value)


def test_a_policy_returning_illegal_plans_fails_with_the_engine_error(tmp_path):
    name = policy_file(
        tmp_path,
        "illegal",
        HEADER
        + """
        def decide(self, now_s, fleet, requests):
            return [Plan(99, [GoTo(1.0, 1.0)])]
    """,
    )
    with pytest.raises(PolicyError, match="unknown vehicle 99"):
        check_policy(name)


def test_an_unknown_policy_name_says_what_exists():
    with pytest.raises(FleetsimError) as info:
        check_policy("random_serch")
    text = str(info.value)
    assert "did you mean 'random_search'" in text
    for name in BUILTIN_POLICIES:
        assert name in text

"""Oversight rules and policies agree: each built-in policy declares the action
classes its plans carry, and a scenario whose rules name a class that neither
its policy nor the engine ever raises is refused with one line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fleetsim.checker import CHECK_SCENARIO, check_policy
from fleetsim.errors import PolicyError, ScenarioError
from fleetsim.policy import (
    BUILTIN_POLICIES,
    ENGINE_ACTION_CLASSES,
    check_oversight_rules,
    engine_action_classes,
    make_policy,
    policy_class,
)
from fleetsim.scenario import load_scenario, load_scenario_text
from fleetsim.scenario.model import ACTION_CLASSES

ROOT = Path(__file__).resolve().parents[2]
TRADEOFF = ROOT / "scenarios" / "oversight_tradeoff.yaml"


@pytest.mark.parametrize("name", sorted(BUILTIN_POLICIES))
def test_every_builtin_declares_known_classes(name):
    declared = policy_class(name).action_classes
    assert isinstance(declared, frozenset) and declared
    assert declared <= set(ACTION_CLASSES)


@pytest.mark.parametrize("name", sorted(BUILTIN_POLICIES))
def test_builtin_plans_carry_only_declared_classes(name):
    """The checker's scenario: every class the plans carried is declared (the checker
    itself fails otherwise) and at least one was seen."""
    report = check_policy(name)
    assert report.action_classes
    assert set(report.action_classes) <= policy_class(name).action_classes


@pytest.mark.parametrize(("name", "params", "expected"), [
    # Out of link it holds, then patrols on: routes tagged continue_lost_link (the
    # stricter of it and retask; the first on a tie).
    ("cautious_patrol", {"after_lost_link": "resume", "lost_link_hold_s": 30.0,
                         "keep_in_range": False},
     {"retask", "hold", "continue_lost_link"}),
    # Approvals of transit time out (one operator, 40 s each): it holds and retries.
    ("autonomous_patrol", {}, {"transit", "hold"}),
])
def test_oversight_policies_with_links_and_approvals(name, params, expected):
    """The oversight-aware policies under radio masts and rules, where they use the
    rest of their classes: each class seen is declared, and the ones the
    test is about are seen."""
    import json

    rules = "{retask: notify, continue_lost_link: notify}"
    sc = load_scenario(TRADEOFF, ["run.duration_s=1500", f"policy.name={name}",
                                  f"policy.params={json.dumps(params)}",
                                  f"oversight.rules={rules}"]
                       if name == "cautious_patrol" else
                       ["run.duration_s=1500", "oversight.operators=1", f"policy.name={name}",
                        "oversight.rules={transit: {rule: approve, service: 40, "
                        "timeout_s: 60}}"])
    report = check_policy(name, sc)
    seen = set(report.action_classes)
    assert seen <= policy_class(name).action_classes
    assert expected <= seen


def policy_file(tmp_path: Path, body: str) -> str:
    path = tmp_path / "third_party.py"
    path.write_text(textwrap.dedent(body))
    return f"{path}:Candidate"


SURVEYOR = """
    from fleetsim.policy import Plan, Policy, Survey
    import shapely


    class Candidate(Policy):
        name = "candidate"
        {declaration}

        def decide(self, now_s, fleet, requests):
            area = shapely.box(500, 500, 900, 900)
            return [Plan(r.vehicle, [Survey(area, spacing_m=100)])
                    for r in requests if r.reason in ("start", "recharged")]
"""


def test_checker_fails_a_policy_whose_plans_carry_an_undeclared_class(tmp_path):
    name = policy_file(tmp_path, SURVEYOR.format(
        declaration='action_classes = frozenset({"transit"})'))
    with pytest.raises(PolicyError, match="its plans carried action class"
                                          r"\(es\) survey that it does not declare "
                                          r"\(action_classes: transit\)"):
        check_policy(name)


def test_checker_passes_an_undeclared_policy_and_reports_its_classes(tmp_path):
    name = policy_file(tmp_path, SURVEYOR.format(declaration=""))
    assert check_policy(name).action_classes == ("survey",)


# ------------------------------------------------------------------ the scenario check


def scenario_text(policy: str, rules: str, extra: str = "") -> str:
    return CHECK_SCENARIO.replace("policy: {name: random_search}", f"""policy: {{name: {policy}}}
oversight:
  operators: 2
  rules:
{textwrap.indent(textwrap.dedent(rules).strip(), '    ')}
{extra}""")


def test_a_rule_the_policy_never_triggers_is_refused():
    text = scenario_text("persistent_patrol", """
        takeoff: auto
        retask: {rule: approve, service: 20}""")
    line = text.splitlines().index("    retask: {rule: approve, service: 20}") + 1
    sc = load_scenario_text(text, filename="s.yaml")
    with pytest.raises(ScenarioError) as err:
        make_policy(sc)
    text = err.value.format()
    assert text == (
        f"s.yaml:{line}: oversight.rules.retask: rule 'approve' for action class 'retask' would "
        "never apply: policy 'persistent_patrol' never emits it (its classes: transit; the "
        "engine's own, allowed with any policy: takeoff, return, enter_restricted, "
        "leave_mission_area, continue_lost_link); remove the rule or choose a policy that "
        "emits 'retask'")
    assert "\n" not in text


@pytest.mark.parametrize("rules", [
    # The engine's own classes go with any policy.
    "takeoff: {rule: approve, service: 5}",
    "return: notify",
    "enter_restricted: {rule: veto, service: 5}",
    "leave_mission_area: notify",
    "continue_lost_link: forbidden",
    # The policy's own.
    "transit: {rule: notify, service: 5}",
])
def test_rules_for_classes_that_can_arise_are_accepted(rules):
    sc = load_scenario_text(scenario_text("random_search", rules))
    make_policy(sc)


def test_every_builtin_accepts_rules_for_its_own_classes_and_refuses_the_rest():
    for name in BUILTIN_POLICIES:
        cls = policy_class(name)
        for c in ACTION_CLASSES:
            if c in ("stop", "classify_detection", "emergency_landing"):
                continue  # no rules for these at all
            base = CHECK_SCENARIO.replace("policy: {name: random_search}",
                                          f"policy: {{name: {name}}}\n"
                                          f"oversight: {{operators: 1, rules: {{{c}: notify}}}}")
            sc = load_scenario_text(base)
            if c in cls.action_classes or c in ENGINE_ACTION_CLASSES:
                check_oversight_rules(cls, sc)
            else:
                with pytest.raises(ScenarioError, match="never emits it"):
                    check_oversight_rules(cls, sc)


def test_hold_is_the_engines_own_with_tactical_hold():
    """persistent_patrol never holds, but the engine's give-way manoeuvre under
    separation.tactical: hold is a hold."""
    rules = "hold: {rule: notify, service: 5}"
    sc = load_scenario_text(scenario_text("persistent_patrol", rules))
    with pytest.raises(ScenarioError, match="'hold' would never apply"):
        make_policy(sc)
    sc = load_scenario_text(scenario_text("persistent_patrol", rules,
                                          "separation: {tactical: hold}"))
    assert "hold" in engine_action_classes(sc)
    make_policy(sc)


def test_a_policy_without_the_attribute_is_not_checked(tmp_path):
    name = policy_file(tmp_path, SURVEYOR.format(declaration=""))
    sc = load_scenario_text(scenario_text(name, "retask: {rule: approve, service: 5}"))
    make_policy(sc)


def test_a_policy_declaring_an_unknown_class_is_refused(tmp_path):
    name = policy_file(tmp_path, SURVEYOR.format(
        declaration='action_classes = frozenset({"transit", "tranist"})'))
    sc = load_scenario_text(scenario_text(name, "transit: notify"), filename="s.yaml")
    with pytest.raises(ScenarioError, match="declares unknown action class"
                                            r"\(es\) tranist \(valid: takeoff"):
        make_policy(sc)


@pytest.mark.parametrize("command", ["validate", "run"])
def test_cli_refuses_the_rule_with_one_line(tmp_path, capsys, command):
    """`retask: approve` with persistent_patrol used to run and request 0 approvals."""
    from fleetsim.cli import EXIT_INPUT, main

    args = [command, str(TRADEOFF), "--set", "policy.name=persistent_patrol",
            "--set", "policy.params={}"]
    if command == "run":
        args += ["--out", str(tmp_path / "run")]
    assert main(args) == EXIT_INPUT
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [
        f"fleetsim: error: {TRADEOFF}:66: oversight.rules.retask: rule 'approve' for action "
        "class 'retask' would never apply: policy 'persistent_patrol' never emits it (its "
        "classes: transit; the engine's own, allowed with any policy: takeoff, return, "
        "enter_restricted, leave_mission_area, continue_lost_link); remove the rule or "
        "choose a policy that emits 'retask'"]
    assert not (tmp_path / "run").exists()


def test_policies_command_lists_the_classes(capsys):
    from fleetsim.cli import EXIT_OK, main

    assert main(["policies"]) == EXIT_OK
    out = capsys.readouterr().out
    block = out[out.index("persistent_patrol  ("):]
    assert block.splitlines()[2] == "    action classes: transit"

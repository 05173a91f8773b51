#!/usr/bin/env python3
"""How many operators? One patrol mission under three rule sets and 1-8 operators.

Runs ``scenarios/oversight_tradeoff.yaml`` for every combination of policy,
rule set and operator count, overriding ``policy.name``, ``oversight.operators``
and ``oversight.rules`` the way ``fleetsim run --set`` does, and prints a
Markdown table of what the rules cost:

- ``autonomous``: re-tasks, restricted-zone entries and flying on without a link
  only notify an operator (act now, acknowledge later); everything else is auto.
- ``supervised``: every re-task waits for an operator's approval.
- ``strict``: as supervised, and entering the restricted zone needs an approval
  too, and no vehicle may fly on without a link.

The policies: ``cautious_patrol`` tags every route a re-task, holds on lost link
and keeps to radio range; ``autonomous_patrol`` tags its routes as transit and
flies on when the link is lost (``--policies`` picks). Every run uses the
scenario's seed, so the rows differ only by what the table says.

    .venv/bin/python scripts/oversight_tradeoff.py
    .venv/bin/python scripts/oversight_tradeoff.py --operators 1 2 --rule-sets strict
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from fleetsim.engine import Simulation
from fleetsim.metrics import compute_metrics
from fleetsim.policy import engine_action_classes, policy_class
from fleetsim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "oversight_tradeoff.yaml"

#: Operator work per class (seconds): approvals and acknowledgements of re-tasks are
#: quick looks at a route; entering the restricted zone takes a closer one.
_RETASK = "service: {dist: lognormal, mean_s: 15, cv: 0.6}"
_ZONE = "service: {dist: lognormal, mean_s: 30, cv: 0.6}"
RULE_SETS = {
    "autonomous": {"retask": f"{{rule: notify, {_RETASK}}}",
                   "enter_restricted": f"{{rule: notify, {_ZONE}}}",
                   "continue_lost_link": f"{{rule: notify, {_RETASK}}}"},
    "supervised": {"retask": f"{{rule: approve, {_RETASK}, timeout_s: 300}}"},
    "strict": {"retask": f"{{rule: approve, {_RETASK}, timeout_s: 300}}",
               "enter_restricted": f"{{rule: approve, {_ZONE}, timeout_s: 300}}",
               "continue_lost_link": "forbidden"},
}
OPERATORS = (1, 2, 4, 8)
POLICIES = ("cautious_patrol", "autonomous_patrol")

COLUMNS = (
    ("coverage.fraction", "coverage", "{:.3f}"),
    ("patrol.idleness_mean_s", "mean idleness (s)", "{:.0f}"),
    ("oversight.approval_wait_mean_s", "approval wait (s)", "{:.1f}"),
    ("oversight.utilization_mean", "operator utilisation", "{:.2f}"),
    ("oversight.unauthorized_actions", "unauthorized actions", "{:d}"),
    ("comms.out_of_link_time_s", "out of link (vehicle-s)", "{:.0f}"),
)


def rules_for(policy: str, rule_set: str) -> str:
    """The rule set as ``oversight.rules`` flow text, without the rules for classes
    the policy never emits (a scenario naming one is refused: it would never apply)."""
    cls = policy_class(policy)
    scenario = load_scenario(SCENARIO)
    raised = (cls.action_classes or frozenset(RULE_SETS[rule_set])) | \
        engine_action_classes(scenario)
    rules = [f"{c}: {r}" for c, r in RULE_SETS[rule_set].items() if c in raised]
    return "{" + ", ".join(rules) + "}"


def run_case(policy: str, rule_set: str, operators: int) -> dict:
    overrides = [f"policy.name={policy}", f"oversight.operators={operators}",
                 f"oversight.rules={rules_for(policy, rule_set)}"]
    scenario = load_scenario(SCENARIO, overrides)
    return compute_metrics(Simulation(scenario).run())


def cell(value, fmt: str) -> str:
    return "–" if value is None else fmt.format(value)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--operators", type=int, nargs="+", default=list(OPERATORS))
    ap.add_argument("--rule-sets", nargs="+", choices=list(RULE_SETS), default=list(RULE_SETS))
    ap.add_argument("--policies", nargs="+", default=list(POLICIES))
    args = ap.parse_args(argv)
    header = ["policy", "rule set", "operators", *[name for _, name, _ in COLUMNS]]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    t0 = time.perf_counter()
    for policy in args.policies:
        for rule_set in args.rule_sets:
            for n in args.operators:
                m = run_case(policy, rule_set, n)
                row = [f"`{policy}`", rule_set, str(n),
                       *[cell(m[key], fmt) for key, _, fmt in COLUMNS]]
                print("| " + " | ".join(row) + " |", flush=True)
    print(f"{len(args.policies) * len(args.rule_sets) * len(args.operators)} runs in "
          f"{time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Which dispatch policy? The logistics policies on the logistics scenarios, over seeds.

Runs each scenario with each policy for each seed (``--set run.seed=K``, the same
seeds for every policy, so they are compared on the same demand draws) and prints
a Markdown table of means: orders delivered and failed, on-time rate, mean
delivery time, energy per delivery, empty vehicle-km, and vehicle utilisation by
domain.

    .venv/bin/python scripts/logistics_policies.py
    .venv/bin/python scripts/logistics_policies.py --scenarios disaster_relief --seeds 1 2 3
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from fleetsim.engine import Simulation
from fleetsim.metrics import compute_metrics
from fleetsim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent

#: Scenario -> (policies to compare, overrides that keep the run short).
CASES = {
    "disaster_relief": (["nearest_dispatch", "batch_assignment", "vrp_planner"], []),
    "harbor_resupply": (["nearest_dispatch", "truck_drone"], []),
    "city_delivery": (["nearest_dispatch", "batch_assignment"], ["run.duration_s=7200"]),
}
COLUMNS = [
    ("delivered", "logistics.orders_delivered", "{:.0f}"),
    ("failed", "logistics.orders_failed", "{:.0f}"),
    ("open", "logistics.orders_open", "{:.0f}"),
    ("on time", "logistics.on_time_rate", "{:.3f}"),
    ("delivery time (mean, s)", "logistics.delivery_time_mean_s", "{:.0f}"),
    ("Wh per delivery", "logistics.energy_per_delivery_wh", "{:.0f}"),
    ("empty km", "logistics.empty_km", "{:.0f}"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    args = parser.parse_args()
    head = ["scenario", "policy", *(c[0] for c in COLUMNS), "utilisation"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name in args.scenarios:
        policies, short = CASES[name]
        for policy in policies:
            rows = []
            path = ROOT / "scenarios" / f"{name}.yaml"
            own = load_scenario(path).policy.name == policy  # keeps the scenario's params
            for seed in args.seeds:
                sc = load_scenario(path, [*short, f"run.seed={seed}", *(
                    [] if own else [f"policy={{name: {policy}}}"])])
                rows.append(compute_metrics(Simulation(sc).run()))
            cells = []
            for _, key, fmt in COLUMNS:
                vals = [r[key] for r in rows if r.get(key) is not None]
                cells.append(fmt.format(np.mean(vals)) if vals else "-")
            util = {d: np.mean([r[f"logistics.utilization.{d}"] for r in rows])
                    for d in ("air", "ground", "sea") if f"logistics.utilization.{d}" in rows[0]}
            cells.append(", ".join(f"{d} {u:.2f}" for d, u in util.items()))
            print(f"| {name} | {policy} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Which deconfliction rule? The shared airspace scenario under each rule, over seeds.

Runs ``scenarios/shared_airspace.yaml`` (600 drones on crossing random legs) with
no deconfliction, altitude layering by heading, strategic deconfliction (4D
intents reserved before take-off: layer or delay), tactical hold (the vehicle
giving way steps aside, waits, resumes), and strategic with tactical; the same
seeds for every rule. Prints a Markdown table of means.

    .venv/bin/python scripts/deconfliction.py
    .venv/bin/python scripts/deconfliction.py --seeds 1 2 --hours 0.5
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from fleetsim.engine import Simulation
from fleetsim.metrics import compute_metrics
from fleetsim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "shared_airspace.yaml"
STRATEGIC = "separation.strategic={layer_spacing_m: 35, layers: 2, delay_step_s: 20}"
RULES = {
    "none": [],
    "layering by heading": ["separation.layering=heading", "separation.layer_spacing_m=35"],
    "strategic": [STRATEGIC],
    "tactical hold": ["separation.tactical=hold"],
    "strategic + tactical": [STRATEGIC, "separation.tactical=hold"],
}
COLUMNS = [
    ("losses", "safety.los_count", "{:.0f}"),
    ("loss time (s)", "safety.los_duration_s", "{:.0f}"),
    ("least separation (m)", "safety.min_separation_m", "{:.1f}"),
    ("severity (mean)", "safety.intrusion_severity_mean", "{:.2f}"),
    ("conflicts", "safety.conflicts_detected", "{:.0f}"),
    ("resolved", "safety.conflicts_resolved", "{:.0f}"),
    ("delays", "safety.strategic_delays", "{:.0f}"),
    ("mean delay (s)", "safety.strategic_delay_mean_s", "{:.0f}"),
    ("extra distance (km)", "safety.deconfliction_extra_m", "{:.1f}"),
    ("targets found", "detection.probability", "{:.3f}"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--hours", type=float, default=1.0)
    args = parser.parse_args()
    head = ["rule", *(c[0] for c in COLUMNS)]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for rule, overrides in RULES.items():
        rows = []
        for seed in args.seeds:
            sc = load_scenario(SCENARIO, [*overrides, f"run.seed={seed}",
                                          f"run.duration_s={args.hours * 3600}"])
            rows.append(compute_metrics(Simulation(sc).run()))
        cells = []
        for _, key, fmt in COLUMNS:
            vals = [r[key] for r in rows if r.get(key) is not None]
            scale = 1e-3 if key.endswith("_extra_m") else 1.0
            cells.append(fmt.format(np.mean(vals) * scale) if vals else "-")
        print(f"| {rule} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()

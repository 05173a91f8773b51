"""One spelling per metric family (``utilization``), and run directories and sweeps
written with the earlier ``logistics.utilisation.<domain>`` still read."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from fleetsim.cli import main
from fleetsim.metrics import catalog

ROOT = Path(__file__).resolve().parents[2]

EXPERIMENT = """\
experiment: old_names
scenario: {scenario}
set: ["run.duration_s=900"]
factors:
  policy:
    levels:
      nearest: ["policy.name=nearest_dispatch", "policy.params={{}}"]
      batch: ["policy.name=batch_assignment", "policy.params={{}}"]
replications: 2
baseline: {{policy: nearest}}
metrics: [logistics.utilisation.ground, logistics.orders_delivered]
"""


def _old(name: str) -> str:
    return name.replace("logistics.utilization.", "logistics.utilisation.")


def test_every_metric_spells_utilization_one_way():
    names = [m.name for m in catalog.METRICS]
    assert not [n for n in names if "utilis" in n]
    assert {"fleet.utilization", "oversight.utilization_mean",
            "logistics.utilization.<domain>"} <= set(names)
    assert catalog.canonical_name("logistics.utilisation.air") == "logistics.utilization.air"
    assert catalog.canonical_name("fleet.utilization") == "fleet.utilization"
    assert catalog.canonical_metrics({"logistics.utilisation.sea": 0.5, "x": 1}) == {
        "logistics.utilization.sea": 0.5, "x": 1}


def test_metrics_rewrites_an_old_named_run_directory(tmp_path, capsys):
    out = tmp_path / "relief"
    assert main(["run", str(ROOT / "scenarios" / "disaster_relief.yaml"), "--out", str(out),
                 "--set", "run.duration_s=600", "--no-replay", "-q"]) == 0
    new = json.loads((out / "metrics.json").read_text())
    assert {"logistics.utilization.air", "logistics.utilization.ground"} <= set(new)
    old = {_old(k): v for k, v in new.items()}
    (out / "metrics.json").write_text(json.dumps(old, indent=2, sort_keys=True) + "\n")
    capsys.readouterr()
    assert main(["metrics", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text()) == new
    printed = capsys.readouterr().out
    assert "logistics.utilization.ground" in printed and "utilisation" not in printed


def test_compare_reads_a_sweep_written_with_the_old_names(tmp_path, capsys):
    exp = tmp_path / "old_names.yaml"
    exp.write_text(EXPERIMENT.format(scenario=ROOT / "scenarios" / "disaster_relief.yaml"))
    out = tmp_path / "sweep"
    # the experiment file's old name is read as today's
    assert main(["sweep", str(exp), "--out", str(out), "--workers", "1", "-q"]) == 0
    table = pq.read_table(out / "results.parquet")
    assert "logistics.utilization.ground" in table.column_names
    # the folder as an earlier version wrote it: old column, row and experiment names
    pq.write_table(table.rename_columns([_old(c) for c in table.column_names]),
                   out / "results.parquet")
    for row in (out / "rows").glob("*.json"):
        data = json.loads(row.read_text())
        row.write_text(json.dumps({_old(k): v for k, v in data.items()}))
    document = json.loads((out / "experiment.json").read_text())
    document["metrics"] = [_old(m) for m in document["metrics"]]
    (out / "experiment.json").write_text(json.dumps(document))
    assert "logistics.utilisation.ground" in pq.read_table(out / "results.parquet").column_names

    capsys.readouterr()
    assert main(["compare", str(out), "--no-report"]) == 0
    printed = capsys.readouterr().out
    assert "logistics.utilization.ground" in printed and "utilisation" not in printed
    assert main(["compare", str(out), "--no-report", "--metrics",
                 "logistics.utilisation.air"]) == 0
    assert "logistics.utilization.air" in capsys.readouterr().out
    # resuming the sweep reads the old rows: nothing runs again, the table has today's names
    capsys.readouterr()
    assert main(["sweep", str(exp), "--out", str(out), "--workers", "1", "-q"]) == 0
    assert "4 recorded, 0 to run" in capsys.readouterr().err
    names = pq.read_table(out / "results.parquet").column_names
    assert "logistics.utilization.ground" in names and not [n for n in names if "utilis" in n]

"""fleetsim sweep: experiment files, the runs and their table, resuming, interruption,
dead workers, failing runs, and the same results on a Dask cluster."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from needs import require

from fleetsim.cli import EXIT_INPUT, main
from fleetsim.errors import FleetsimError, ScenarioError
from fleetsim.experiments import load_experiment, run_sweep
from fleetsim.scenario.model import ACTION_CLASSES

#: A small search scenario (four drones, 3 x 3 km, five simulated minutes): ~0.1 s a run.
TINY = """\
schema_version: 1
name: tiny
run: {duration_s: 300, seed: 0}
world:
  terrain: {source: flat, size_m: [3000, 3000], spacing_m: 100}
  sites:
    - {id: base, kind: base, position: [200, 200], pads: 2}
fleet:
  types:
    - id: quad
      kind: multirotor
      count: 4
      base: base
      cruise_speed_mps: 12
      climb_rate_mps: 4
      battery_wh: 150
      hover_power_w: 200
      cruise_power_w: 180
      recharge_time_s: 600
      sensor: {footprint_radius_m: 80}
missions:
  - {id: area, kind: search, area: {rect: [300, 300, 2800, 2800]}, random_targets: 15}
policy: {name: random_search, params: {}}
oversight:
  operators: 1
  rules: {takeoff: notify}
outputs: {metrics_cell_m: 100}
"""

#: 2 operator counts x 2 rule sets x 3 seeds.
EXPERIMENT = """\
experiment: tiny_sweep
description: operators and take-off rules
scenario: tiny.yaml
set: ["run.duration_s=240"]
factors:
  operators: {path: oversight.operators, levels: [1, 2]}
  rules:
    levels:
      notify: ["oversight.rules={takeoff: {rule: notify, service: 20}}"]
      approve: ["oversight.rules={takeoff: {rule: approve, service: 20}}"]
replications: 3
baseline: {rules: notify}
metrics: [coverage.fraction, oversight.approval_wait_mean_s]
"""

#: A policy that raises at a given time, or kills its worker process on a given seed.
BOOM = '''\
import os
import signal
from dataclasses import dataclass

from fleetsim.policy import param
from fleetsim.policies.random_search import RandomSearch


class Boom(RandomSearch):
    name = "boom"

    @dataclass(frozen=True)
    class Params(RandomSearch.Params):
        fail_at_s: float = param(1e9, None, "raise at this time")
        die_on_seed: int = param(-1, None, "kill the process on this seed")

    def decide(self, now_s, fleet, requests):
        if now_s >= self.params.fail_at_s:
            raise RuntimeError("boom")
        if self.ctx.scenario.run.seed == self.params.die_on_seed:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().decide(now_s, fleet, requests)
'''

FIXED = ["run_id", "config", "operators", "rules", "seed", "status", "error"]
CLI = [sys.executable, "-c", "import sys; from fleetsim.cli import main; sys.exit(main())"]


def write_case(folder: Path, experiment: str = EXPERIMENT, name: str = "exp.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tiny.yaml").write_text(TINY)
    (folder / "boom.py").write_text(BOOM)
    path = folder / name
    path.write_text(textwrap.dedent(experiment))
    return path


def sweep(path: Path, out: Path, **kw):
    return run_sweep(load_experiment(path), out, quiet=True, **kw)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The 2 x 2 x 3 sweep, run once (two local workers)."""
    folder = tmp_path_factory.mktemp("reference")
    path = write_case(folder)
    out = folder / "out"
    result = sweep(path, out, workers=2)
    assert (result.total, result.ran, result.errors, result.interrupted) == (12, 12, 0, None)
    return path, out


def rows_in(out: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (out / "rows").glob("*.json")}


def assert_same_tables(a: Path, b: Path) -> None:
    assert (a / "results.csv").read_bytes() == (b / "results.csv").read_bytes()
    pd.testing.assert_frame_equal(pd.read_parquet(a / "results.parquet"),
                                  pd.read_parquet(b / "results.parquet"))
    assert (a / "results.parquet").read_bytes() == (b / "results.parquet").read_bytes()


def wait_for_rows(out: Path, proc: subprocess.Popen, n: int = 1, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (out / "rows").is_dir() and len(list((out / "rows").glob("*.json"))) >= n:
            return
        if proc.poll() is not None:
            pytest.fail(f"the sweep ended early: {proc.communicate()}")
        time.sleep(0.01)
    proc.kill()
    pytest.fail("no rows appeared")


# --------------------------------------------------------------------------------------
# The experiment file


def error_of(tmp_path: Path, text: str) -> str:
    path = write_case(tmp_path, text, "bad.yaml")
    with pytest.raises(ScenarioError) as info:
        load_experiment(path)
    return str(info.value).replace(str(path), "bad.yaml")


BASE = """\
experiment: x
scenario: tiny.yaml
factors:
  operators: {path: oversight.operators, levels: [1, 2]}
  rules:
    levels:
      notify: ["oversight.rules={takeoff: notify}"]
      strict: ["oversight.rules={takeoff: {rule: approve, two_person: true}}"]
"""


@pytest.mark.parametrize("text, message", [
    (BASE.replace("factors:", "factorz:"),
     "bad.yaml:3: factorz: unknown key 'factorz'; did you mean 'factors'? (valid keys: "
     "experiment, description, scenario, set, factors, design, replications, seeds, baseline, "
     "metrics)"),
    (BASE.replace("oversight.operators,", "oversight.operatorz,"),
     "bad.yaml:4: factors.operators.path: oversight.operatorz: unknown key 'operatorz' in "
     "oversight; did you mean 'operators'? (valid keys: operators, shifts, span_of_control, "
     "approval_needs_link, rules, detection_review, stops)"),
    (BASE.replace("[1, 2]", "[1, 0]"),
     "bad.yaml:4: factors.operators.levels[1]: the scenario rejects oversight.operators=0: "
     "oversight.operators: expected an integer >= 1 and <= 100000, got 0"),
    (BASE.replace("{takeoff: notify}", "{takeof: notify}"),
     "bad.yaml:7: factors.rules.levels.notify[0]: the scenario rejects "
     "oversight.rules={takeof: notify}: oversight.rules.takeof: unknown action class 'takeof'; "
     f"did you mean 'takeoff'? (action classes: {', '.join(ACTION_CLASSES)})"),
    (BASE + "baseline: {rules: strickt}\n",
     "bad.yaml:9: baseline.rules: unknown level 'strickt' of factor 'rules'; did you mean "
     "'strict'? (levels: notify, strict)"),
    (BASE + "baseline: {operator: 2}\n",
     "bad.yaml:9: baseline.operator: unknown factor 'operator'; did you mean 'operators'? "
     "(factors: operators, rules)"),
    (BASE + "baseline: {operators: 3}\n",
     "bad.yaml:9: baseline.operators: unknown level 3 of factor 'operators' (levels: 1, 2)"),
    # Each level is valid, one combination is not: the configuration is named.
    (BASE,
     "bad.yaml:3: factors: the scenario rejects configuration {operators: 1, rules: strict}: "
     "oversight.rules.takeoff.two_person: a two-person rule needs at least 2 operators on duty "
     "at once, but oversight.operators is 1"),
    (BASE + "design:\n  - {operators: 2, rules: strict}\n  - {operators: 1, rules: strict}\n",
     "bad.yaml:11: design[1]: the scenario rejects configuration {operators: 1, rules: strict}: "
     "oversight.rules.takeoff.two_person: a two-person rule needs at least 2 operators on duty "
     "at once, but oversight.operators is 1"),
    (BASE + "design: [{operators: 2}]\n",
     "bad.yaml:9: design[0]: missing factor 'rules' (a configuration gives a level of every "
     "factor: operators, rules)"),
    (BASE.replace("[1, 2]", "[2]") + "set: [run.duration_s=0]\n",
     "bad.yaml:9: set[0]: the scenario rejects run.duration_s=0: run.duration_s: expected a "
     "number > 0 and <= 1e+08, got 0"),
    (BASE.replace("[1, 2]", "[2]") + "set: [run.seed=4]\n",
     "bad.yaml:9: set[0]: the seed of each run is set by the experiment (replications or "
     "seeds), not by an override"),
    (BASE.replace("[1, 2]", "[2]") + "replications: 2\nseeds: [1, 2]\n",
     "bad.yaml:10: seeds: give either replications (seeds 1..N) or seeds (a list), not both"),
    (BASE.replace("oversight.operators, levels: [1, 2]", "policy.name, levels: [lawnmowr]"),
     "bad.yaml:4: factors.operators.levels[0]: the scenario rejects policy.name=lawnmowr: "
     "policy.name: unknown policy 'lawnmowr'; did you mean 'lawnmower'? (available: "
     "autonomous_patrol, batch_assignment, cautious_patrol, expanding_square, lawnmower, "
     "nearest_dispatch, parallel_track, persistent_patrol, random_search, sector_search, "
     "truck_drone, vrp_planner; or give 'module:Class' or "
     "'path/to/file.py:Class')"),
    (BASE.replace("oversight.operators,", "'fleet.types[2].count',"),
     "bad.yaml:4: factors.operators.path: fleet.types[2].count: fleet.types[2]: index 2 is "
     "out of range: fleet.types has 1 item (valid indexes 0..0)"),
])
def test_experiment_file_errors(tmp_path, text, message):
    assert error_of(tmp_path, text) == message


def test_cli_reports_experiment_errors_before_running(tmp_path, capsys):
    path = write_case(tmp_path, BASE.replace("[1, 2]", "[1, 0]"), "bad.yaml")
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == EXIT_INPUT
    assert "factors.operators.levels[1]: the scenario rejects" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------
# A sweep and its table


def test_sweep_rows_table_and_common_seeds(reference, tmp_path):
    import duckdb

    path, out = reference
    experiment = load_experiment(path)
    runs = experiment.runs()
    assert [(r.config, r.seed) for r in runs] == [(c, k) for c in range(4) for k in (1, 2, 3)]
    assert [r.run_id for r in load_experiment(path).runs()] == [r.run_id for r in runs]
    assert len({r.run_id for r in runs}) == 12
    doc = json.loads((out / "experiment.json").read_text())
    assert [c["factors"] for c in doc["configs"]] == [
        {"operators": 1, "rules": "notify"}, {"operators": 1, "rules": "approve"},
        {"operators": 2, "rules": "notify"}, {"operators": 2, "rules": "approve"}]
    assert doc["seeds"] == [1, 2, 3] and doc["baseline"] == {"rules": "notify"}
    assert doc["metrics"] == ["coverage.fraction", "oversight.approval_wait_mean_s"]

    df = pd.read_parquet(out / "results.parquet")
    assert list(df.columns[:7]) == FIXED
    metric_names = list(df.columns[7:])
    assert metric_names == sorted(metric_names) and "coverage.fraction" in metric_names
    assert list(df["run_id"]) == [r.run_id for r in runs]
    assert list(df["config"]) == [r.config for r in runs]
    assert list(df["seed"]) == [1, 2, 3] * 4
    assert list(df["operators"]) == [1] * 6 + [2] * 6
    assert list(df["rules"]) == (["notify"] * 3 + ["approve"] * 3) * 2
    assert str(df["operators"].dtype) == "int64" and set(df["status"]) == {"ok"}
    assert df["error"].isna().all()
    assert all(str(df[m].dtype) == "float64" for m in metric_names)
    for _, row in df.iterrows():
        run_dir = out / "runs" / row["run_id"]
        metrics = json.loads((run_dir / "metrics.json").read_text())
        manifest = json.loads((run_dir / "manifest.json").read_text())
        assert manifest["seed"] == row["seed"] and manifest["scenario"]["run"]["seed"] == \
            row["seed"]
        assert manifest["scenario"]["oversight"]["operators"] == row["operators"]
        assert not (run_dir / "replay").exists()
        assert set(metrics) == set(metric_names)
        for name in metric_names:
            if metrics[name] is None:
                assert pd.isna(row[name]), name
            else:
                assert row[name] == float(metrics[name]), name
    # Common random numbers: the same seed gives the same targets in every configuration.
    targets = {pd.read_parquet(out / "runs" / r.run_id / "targets.parquet")[["x_m", "y_m"]]
               .to_json() for r in runs if r.seed == 2}
    assert len(targets) == 1
    # The approval rule makes operators approve take-offs: waits only there.
    waits = df.groupby("rules")["oversight.approval_wait_mean_s"].apply(lambda s: s.notna().all())
    assert waits["approve"] and not df.loc[df["rules"] == "notify",
                                           "oversight.approval_wait_mean_s"].notna().any()

    csv = pd.read_csv(out / "results.csv")
    assert list(csv.columns) == list(df.columns) and len(csv) == 12
    pd.testing.assert_series_equal(csv["coverage.fraction"], df["coverage.fraction"])
    con = duckdb.connect()
    got = con.execute(
        f"SELECT rules, operators, count(*), avg(\"coverage.fraction\") FROM "
        f"'{out / 'results.parquet'}' GROUP BY ALL ORDER BY rules, operators").fetchall()
    assert [g[:3] for g in got] == [("approve", 1, 3), ("approve", 2, 3), ("notify", 1, 3),
                                    ("notify", 2, 3)]

    # A run of the sweep is the run `fleetsim run` makes with the same overrides.
    r = runs[7]  # operators 2, notify, seed 2
    single = tmp_path / "single"
    assert main(["run", str(path.parent / "tiny.yaml"), "--out", str(single), "-q",
                 "--no-replay", "--seed", "2", "--set", "run.duration_s=240",
                 "--set", "oversight.operators=2",
                 "--set", "oversight.rules={takeoff: {rule: notify, service: 20}}"]) == 0
    for name in ("metrics.json", "legs.parquet", "events.parquet"):
        assert (single / name).read_bytes() == (out / "runs" / r.run_id / name).read_bytes()


def test_refuses_another_experiments_folder(reference, tmp_path):
    path, out = reference
    other = write_case(tmp_path, EXPERIMENT.replace("replications: 3", "replications: 2"))
    with pytest.raises(FleetsimError, match="holds a sweep of a different experiment .*; it "
                                            "differs in: seeds"):
        sweep(other, out)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("mine")
    with pytest.raises(FleetsimError, match="is not a sweep folder"):
        sweep(other, tmp_path / "junk")


# --------------------------------------------------------------------------------------
# Resuming


def test_resume_reruns_only_what_is_missing(reference, tmp_path):
    path, ref_out = reference
    out = tmp_path / "out"
    shutil.copytree(ref_out, out)
    ids = [r.run_id for r in load_experiment(path).runs()]
    gone_rows, gone_dir = ids[1:3], ids[7]
    for run_id in gone_rows:
        (out / "rows" / f"{run_id}.json").unlink()
    shutil.rmtree(out / "runs" / gone_dir)
    (out / "results.csv").unlink()
    before = {p.stem: p.stat().st_mtime_ns for p in (out / "rows").glob("*.json")}
    time.sleep(0.01)
    result = sweep(path, out, workers=2)
    assert (result.skipped, result.ran) == (9, 3)
    after = {p.stem: p.stat().st_mtime_ns for p in (out / "rows").glob("*.json")}
    assert sorted(after) == sorted(ids)
    assert {k for k in after if before.get(k) != after[k]} == {*gone_rows, gone_dir}
    assert_same_tables(out, ref_out)
    # Nothing left to do: nothing runs, the same table again.
    assert sweep(path, out).ran == 0
    assert_same_tables(out, ref_out)


def test_interrupted_sweep_resumes_to_the_same_table(reference, tmp_path):
    path, ref_out = reference
    out = tmp_path / "out"
    proc = subprocess.Popen([*CLI, "sweep", str(path), "--out", str(out), "--workers", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_rows(out, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "rerun the same command to resume" in err
    done = len(list((out / "rows").glob("*.json")))
    assert 1 <= done < 12
    assert not (out / "results.parquet").exists()
    assert not list((out / "runs").glob(".*"))  # no half-written run directories
    result = sweep(path, out, workers=2)
    assert (result.skipped, result.ran, result.errors) == (done, 12 - done, 0)
    assert_same_tables(out, ref_out)


# --------------------------------------------------------------------------------------
# Dead workers, failing runs


def worker_processes(pid: int) -> list[int]:
    try:
        import psutil
    except ImportError:  # pragma: no cover
        kids = []
        for task in Path(f"/proc/{pid}/task").iterdir():
            kids += [int(k) for k in (task / "children").read_text().split()]
        return [k for k in kids
                if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes()]
    return [c.pid for c in psutil.Process(pid).children()
            if any("spawn_main" in part for part in c.cmdline())]


def test_killed_worker_is_replaced_and_every_run_recorded_once(reference, tmp_path):
    path, ref_out = reference
    # Seeds 1..6: the runs with seeds 1..3 are the reference's (same ids, same results).
    bigger = write_case(tmp_path, EXPERIMENT.replace("replications: 3", "replications: 6"))
    out = tmp_path / "out"
    proc = subprocess.Popen([*CLI, "sweep", str(bigger), "--out", str(out), "--workers", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_rows(out, proc)
    workers = worker_processes(proc.pid)
    assert workers
    os.kill(workers[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "a worker process died" in err
    runs = load_experiment(bigger).runs()
    rows = rows_in(out)
    assert sorted(rows) == sorted(r.run_id for r in runs)
    assert {row["status"] for row in rows.values()} == {"ok"}
    df = pd.read_parquet(out / "results.parquet")
    assert list(df["run_id"]) == [r.run_id for r in runs] and df["run_id"].is_unique
    shared = [r.run_id for r in runs if r.seed <= 3]
    assert set(shared) == set(rows_in(ref_out))
    for run_id in shared:
        assert (out / "runs" / run_id / "metrics.json").read_bytes() == \
            (ref_out / "runs" / run_id / "metrics.json").read_bytes()


def test_failing_runs_are_recorded_and_the_rest_complete(tmp_path):
    path = write_case(tmp_path, """\
        experiment: faults
        scenario: tiny.yaml
        set: ["policy.name=boom.py:Boom"]
        factors:
          fault:
            levels:
              none: ["policy.params={}"]
              raises: ["policy.params={fail_at_s: 100}"]
              dies: ["policy.params={die_on_seed: 2}"]
        seeds: [1, 2]
        """)
    out = tmp_path / "out"
    result = sweep(path, out, workers=2)
    assert (result.total, result.errors) == (6, 3)
    df = pd.read_parquet(out / "results.parquet")
    assert list(df["fault"]) == ["none", "none", "raises", "raises", "dies", "dies"]
    assert list(df["status"]) == ["ok", "ok", "error", "error", "ok", "error"]
    for error in df["error"][2:4]:
        assert re.match(r"PolicyError: policy 'boom', t=\d+\.\d+ s: decide\(\) raised "
                        r"RuntimeError: boom \(.*boom\.py:\d+ in decide", error), error
    assert df["error"][5] == "worker died"
    assert df.loc[df["status"] == "error", "coverage.fraction"].isna().all()
    assert df.loc[df["status"] == "ok", "coverage.fraction"].notna().all()
    for run_id, status in zip(df["run_id"], df["status"], strict=True):
        assert (out / "runs" / run_id / "metrics.json").is_file() == (status == "ok")
    # Errored runs are not run again, unless asked; the same code fails the same way.
    assert sweep(path, out).ran == 0
    again = sweep(path, out, workers=2, retry_errors=True)
    assert (again.skipped, again.ran, again.errors) == (3, 3, 3)
    # The policy's code fixed: its source is part of every run's id, so all six run
    # again (none of the old results is reused), and only the seed-2 death is left.
    (tmp_path / "boom.py").write_text(
        (tmp_path / "boom.py").read_text().replace('raise RuntimeError("boom")', "pass"))
    fixed = sweep(path, out, workers=2)
    assert (fixed.skipped, fixed.ran, fixed.errors) == (0, 6, 1)  # still dies on seed 2


# --------------------------------------------------------------------------------------
# Dask


@pytest.mark.filterwarnings("ignore:Port .* is already in use")
def test_dask_cluster_gives_the_same_bytes(reference, tmp_path):
    distributed = require("distributed", "sweeps on a Dask cluster")
    path, ref_out = reference
    out = tmp_path / "out"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        result = sweep(path, out, scheduler=cluster.scheduler_address)
    assert (result.ran, result.errors) == (12, 0)
    for run_dir in sorted((ref_out / "runs").iterdir()):
        for name in ("metrics.json", "legs.parquet", "events.parquet", "vehicles.parquet"):
            assert (out / "runs" / run_dir.name / name).read_bytes() == \
                (run_dir / name).read_bytes(), (run_dir.name, name)
    assert_same_tables(out, ref_out)


def test_the_shipped_experiment_loads_with_its_design():
    """scenarios/experiments/operators_vs_rules.yaml: 3 rule sets x 4 operator counts x
    10 seeds, every configuration's scenario valid, the baseline one of them."""
    root = Path(__file__).resolve().parents[2]
    exp = load_experiment(root / "scenarios" / "experiments" / "operators_vs_rules.yaml")
    assert len(exp.configs) == 12 and list(exp.seeds) == list(range(1, 11))
    assert exp.baseline == {"rules": "supervised", "operators": 2}


def test_a_misspelled_metric_is_an_error_before_any_run(tmp_path):
    text = EXPERIMENT.replace("metrics: [coverage.fraction,", "metrics: [coverage.fractio,")
    assert re.fullmatch(
        r"bad\.yaml:13: metrics\[0\]: unknown metric 'coverage\.fractio'; did you mean "
        r"'coverage\.fraction'\? \(the runs write \d+ metrics; see the metrics reference\)",
        error_of(tmp_path, text))


# --------------------------------------------------------------------------------------
# Stale results: the code that makes a run is part of its id


MINE = '''\
from fleetsim.policies.random_search import RandomSearch


class Mine(RandomSearch):
    name = "mine"
'''

MINE_EXPERIMENT = """\
experiment: mine
scenario: tiny.yaml
set: ["policy.name=mine.py:Mine", "run.duration_s=120"]
factors:
  operators: {path: oversight.operators, levels: [1]}
replications: 2
"""


def manifest_of(out: Path, run_id: str) -> dict:
    return json.loads((out / "runs" / run_id / "manifest.json").read_text())


def test_a_changed_user_policy_reruns_and_force_reruns_everything(tmp_path, capsys):
    from fleetsim.policy import policy_source_digest
    from fleetsim.record import fleetsim_code_digest

    path = write_case(tmp_path, MINE_EXPERIMENT)
    policy = tmp_path / "mine.py"
    policy.write_text(MINE)
    out = tmp_path / "out"
    first = sweep(path, out, workers=1)
    assert (first.total, first.skipped, first.ran) == (2, 0, 2)
    ids = [r.run_id for r in load_experiment(path).runs()]
    digest = policy_source_digest("mine.py:Mine", base_dir=str(tmp_path))
    for run_id in ids:
        code = manifest_of(out, run_id)["code"]
        assert code == {"fleetsim_sha256": fleetsim_code_digest(), "policy_sha256": digest}
    metrics = {i: (out / "runs" / i / "metrics.json").read_bytes() for i in ids}
    # Unchanged: it resumes (nothing to run).
    assert (sweep(path, out).skipped, sweep(path, out).ran) == (2, 0)
    # The policy's file changed (its behaviour too): every run is new and runs.
    policy.write_text(MINE.replace('name = "mine"', 'name = "mine"\n\n    # leg 900 m\n'
                                   '    decision_period_s = None'))
    changed = sweep(path, out, workers=1)
    assert (changed.skipped, changed.ran) == (0, 2)
    new_ids = [r.run_id for r in load_experiment(path).runs()]
    assert not set(new_ids) & set(ids)
    assert manifest_of(out, new_ids[0])["code"]["policy_sha256"] != digest
    # --force runs everything again under the same ids; same scenario and seed,
    # the same metrics bytes.
    policy.write_text(MINE)
    from fleetsim.cli import main

    assert main(["sweep", str(path), "--out", str(out), "--force", "--workers", "1",
                 "-q"]) == 0
    err = capsys.readouterr().err
    assert "0 recorded, 2 to run (--force: all of them)" in err
    for run_id in ids:
        assert (out / "runs" / run_id / "metrics.json").read_bytes() == metrics[run_id]
    assert sweep(path, out).ran == 0


def test_run_ids_change_with_fleetsim_code(tmp_path, monkeypatch):
    import fleetsim.record

    path = write_case(tmp_path)
    before = [r.run_id for r in load_experiment(path).runs()]
    monkeypatch.setattr(fleetsim.record, "fleetsim_code_digest", lambda: "0" * 64)
    after = [r.run_id for r in load_experiment(path).runs()]
    assert len(set(after)) == len(after) and not set(after) & set(before)


def test_policy_sources_hashed(tmp_path):
    """Built-ins hash the whole policies package (they import one another); a file
    policy hashes its file, resolved from the scenario's folder."""
    from fleetsim.policy import policy_source_files

    built_in = policy_source_files("cautious_patrol")
    names = [p.name for p in built_in]
    assert {"oversight_patrol.py", "persistent_patrol.py", "__init__.py"} <= set(names)
    assert names == sorted(names)
    (tmp_path / "mine.py").write_text(MINE)
    assert policy_source_files("mine.py:Mine", base_dir=str(tmp_path)) == [tmp_path / "mine.py"]
    assert policy_source_files("fleetsim.policies.random_search:RandomSearch")[0].name == \
        "random_search.py"
    assert policy_source_files("no_such_module_x:Y") == []


# --------------------------------------------------------------------------------------
# Orphaned workers

SLOW = '''\
import os
import time
from pathlib import Path

from fleetsim.policies.random_search import RandomSearch


class Slow(RandomSearch):
    name = "slow"

    def decide(self, now_s, fleet, requests):
        (Path(__file__).parent / "started" / str(os.getpid())).touch()
        time.sleep(60)
        return super().decide(now_s, fleet, requests)
'''


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes in process group ``pgid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_sigkill_of_the_sweep_leaves_no_worker_behind(tmp_path):
    """Two workers busy on slow runs (the policy sleeps 60 s), the resource tracker
    beside them; SIGKILL the sweep: within 10 s nothing of its process group is
    left (before, the workers and the tracker lived on)."""
    path = write_case(tmp_path, MINE_EXPERIMENT.replace("mine.py:Mine", "slow.py:Slow"))
    (tmp_path / "slow.py").write_text(SLOW)
    started = tmp_path / "started"
    started.mkdir()
    proc = subprocess.Popen([*CLI, "sweep", str(path), "--out", str(tmp_path / "out"),
                             "--workers", "2", "-q"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while len(list(started.iterdir())) < 2:  # both workers inside a run
            assert proc.poll() is None and time.monotonic() < deadline, "no runs started"
            time.sleep(0.05)
        workers = sorted(int(p.name) for p in started.iterdir())
        assert workers == sorted(worker_processes(proc.pid))
        assert set(workers) < set(group_members(proc.pid))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while group_members(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert group_members(proc.pid) == []
    finally:
        for pid in group_members(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


WATCHED = """
import os, sys, time
from fleetsim.experiments import sweep  # imported first: scipy reads sys.platform
sys.platform = "no-prctl"  # the watchdog alone
sweep._die_with_parent(os.getppid())
print(os.getpid(), flush=True)
time.sleep(60)
"""

PARENT = """
import subprocess, sys
subprocess.Popen([sys.executable, "-c", sys.argv[1]]).wait()
"""


def test_the_watchdog_alone_ends_an_orphaned_worker(tmp_path):
    """Without the parent-death signal, the watchdog thread notices the re-parenting
    within WATCHDOG_S (0.5 s) and ends the process; 5 s leave room for a loaded
    machine."""
    proc = subprocess.Popen([sys.executable, "-c", PARENT, WATCHED], stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        child = int(proc.stdout.readline())
        assert child in group_members(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while group_members(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert group_members(proc.pid) == []
    finally:
        for pid in group_members(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

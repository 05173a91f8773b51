"""The fleetsim command line: validate, run, metrics, policies; exit codes and messages."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from fleetsim.checker import CHECK_SCENARIO
from fleetsim.cli import EXIT_INPUT, EXIT_OK, main
from fleetsim.policy import BUILTIN_POLICIES

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))

#: Overrides that make each example scenario short enough for CI (same structure:
#: same terrain, zones, bases, policy; fewer vehicles and simulated seconds).
SHORT = {
    "search_and_rescue": ["run.duration_s=900"],
    "wildfire_watch": [
        "run.duration_s=600",
        "fleet.types[0].bases={ranger_station: 40, lookout_tower: 40}",
    ],
    "swarm_10k": ["run.duration_s=600", "fleet.types[0].bases={sw: 50, se: 50, nw: 50, ne: 50}"],
    "shared_airspace": ["run.duration_s=900"],
    "coastal_patrol": ["run.duration_s=600"],
    "oversight_tradeoff": ["run.duration_s=600"],
    "harbor_resupply": ["run.duration_s=2400"],
    "disaster_relief": ["run.duration_s=2400"],
    "city_delivery": ["run.duration_s=900",
                      "fleet.types[0].bases={west: 25, east: 25, north: 25, south: 25}"],
}

METRIC_KEYS = [
    "coverage.fraction",
    "coverage.time_to_50pct_s",
    "coverage.time_to_90pct_s",
    "coverage.time_to_99pct_s",
    "patrol.idleness_mean_s",
    "patrol.idleness_max_s",
    "detection.probability",
    "detection.mean_time_s",
    "energy.total_wh",
    "fleet.distance_m",
    "fleet.utilization",
    "safety.geofence_entries",
    "safety.geofence_time_s",
    "safety.terrain_violations",
]


def sets(overrides: list[str]) -> list[str]:
    return [arg for o in overrides for arg in ("--set", o)]


def check_scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "check.yaml"
    path.write_text(CHECK_SCENARIO)
    return path


def test_the_short_overrides_cover_every_example_scenario():
    assert sorted(p.stem for p in SCENARIOS) == sorted(SHORT)


# --------------------------------------------------------------------------- validate


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_validate_accepts_every_example_scenario(scenario, capsys):
    assert main(["validate", str(scenario)]) == EXIT_OK
    out = capsys.readouterr().out
    assert f"{scenario}: valid (schema 1)" in out


BAD_SCENARIO = """\
schema_version: 1
name: bad
run: {duration_s: 100}
world:
  sites: [{id: home, kind: base, position: [10, 10]}]
fleet:
  types:
    - id: quad
      kind: multirotor
      count: 1
      base: home
      cruise_speed_mps: -3
      climb_rate_mps: 5
      battery_wh: 100
      hover_power_w: 720
      cruise_power_w: 360
      recharge_time_s: 1000
      sensor: {footprint_radius_m: 30}
policy: {name: lawnmower}
"""


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_bad_scenario_is_reported_with_file_line_and_path(command, tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_SCENARIO)
    out_dir = tmp_path / "out"
    args = [command, str(path)] + (["--out", str(out_dir)] if command == "run" else [])
    assert main(args) == EXIT_INPUT
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        f"fleetsim: error: {path}:12: fleet.types[0].cruise_speed_mps: expected a number >= 0.01 and <= 1000, "
        "got -3"
    ]
    assert "Traceback" not in captured.err + captured.out
    assert not out_dir.exists()


@pytest.mark.parametrize(
    "override, words",
    [
        ("run.duration_s=abc", "--set run.duration_s=abc: run.duration_s: expected a number > 0"),
        ("nonsense", "no '='"),
        ("fleet.types[3].count=2", "index 3 is out of range"),
        ("run.durration_s=5", "did you mean 'duration_s'"),
        ("policy.params.leg_length_m=-1", "policy.params.leg_length_m"),
        ("run.seed=[1, 2", "cannot read the value"),
    ],
)
def test_a_bad_override_exits_2_with_a_message(override, words, tmp_path, capsys):
    path = check_scenario_file(tmp_path)
    assert main(["validate", str(path), "--set", override]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert err.startswith("fleetsim: error: ")
    assert words in err
    assert "Traceback" not in err


def test_an_unknown_policy_name_exits_2_with_suggestions(tmp_path, capsys):
    path = check_scenario_file(tmp_path)
    assert main(["validate", str(path), "--set", "policy.name=lawnmover"]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "policy.name" in err and "did you mean 'lawnmower'" in err


def test_a_missing_scenario_file_exits_2(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.yaml")]) == EXIT_INPUT
    assert "scenario file not found" in capsys.readouterr().err


# --------------------------------------------------------------------------- policies


def test_policies_lists_the_builtins_with_their_parameters(capsys):
    assert main(["policies"]) == EXIT_OK
    out = capsys.readouterr().out
    listed = [line.split()[0] for line in out.splitlines() if line and not line[0].isspace()]
    assert sorted(BUILTIN_POLICIES) == sorted(set(listed) & set(BUILTIN_POLICIES))
    for name, where in BUILTIN_POLICIES.items():
        assert f"{name}  ({where})" in out
    assert "leg_length_m = 2000.0" in out
    assert "neighbourhood = 8" in out


# --------------------------------------------------------------------------- run


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_every_example_scenario_runs_shortened(scenario, tmp_path, capsys):
    out = tmp_path / scenario.stem
    assert (
        main(["run", str(scenario), "--out", str(out), "-q"] + sets(SHORT[scenario.stem]))
        == EXIT_OK
    )
    metrics = json.loads((out / "metrics.json").read_text())
    missing = [k for k in METRIC_KEYS if k not in metrics]
    assert not missing, f"metrics.json lacks {missing}"
    if "logistics.orders_created" in metrics:  # a logistics scenario: orders, not areas
        assert 0 < metrics["logistics.orders_delivered"] <= metrics["logistics.orders_created"]
    else:
        assert 0.0 < metrics["coverage.fraction"] <= 1.0
    assert metrics["energy.total_wh"] > 0 and metrics["fleet.distance_m"] > 0
    assert 0.0 < metrics["fleet.utilization"] <= 1.0
    for name in ("manifest.json", "legs.parquet", "events.parquet", "vehicles.parquet"):
        assert (out / name).is_file(), name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenario_name"] == scenario.stem
    n_vehicles = manifest["counts"]["vehicles"]
    assert pq.read_table(out / "vehicles.parquet").num_rows == n_vehicles
    # No leftovers of the atomic write.
    assert [p.name for p in tmp_path.iterdir()] == [scenario.stem]
    assert "wrote" in capsys.readouterr().err


def test_metrics_recomputes_the_same_bytes(tmp_path):
    path = check_scenario_file(tmp_path)
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), "-q"]) == EXIT_OK
    written = (out / "metrics.json").read_bytes()
    (out / "metrics.json").unlink()
    assert main(["metrics", str(out)]) == EXIT_OK
    assert (out / "metrics.json").read_bytes() == written


def test_metrics_are_printed_to_the_current_stdout(tmp_path):
    import contextlib
    import io

    path = check_scenario_file(tmp_path)
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), "-q", "--no-replay"]) == EXIT_OK
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["metrics", str(out)]) == EXIT_OK
    assert "coverage.fraction" in buffer.getvalue()


def same_table(path_a: Path, path_b: Path) -> bool:
    """Same columns, types and values (NaN equal to NaN) in two Parquet files."""
    a, b = pq.read_table(path_a), pq.read_table(path_b)
    if a.schema != b.schema or a.num_rows != b.num_rows:
        return False
    for name in a.column_names:
        x = a.column(name).to_numpy(zero_copy_only=False)
        y = b.column(name).to_numpy(zero_copy_only=False)
        if x.dtype.kind == "f":
            if not np.array_equal(x, y, equal_nan=True):
                return False
        elif x.tolist() != y.tolist():
            return False
    return True


def test_run_is_deterministic_through_the_cli(tmp_path):
    path = check_scenario_file(tmp_path)
    dirs = {}
    for name, extra in (("a", []), ("b", []), ("other", ["--seed", "12"])):
        dirs[name] = tmp_path / name
        assert (
            main(["run", str(path), "--out", str(dirs[name]), "-q", "--no-replay"] + extra)
            == EXIT_OK
        )
    a, b, other = dirs["a"], dirs["b"], dirs["other"]
    assert (a / "metrics.json").read_bytes() == (b / "metrics.json").read_bytes()
    for table in ("legs", "events", "vehicles"):
        assert same_table(a / f"{table}.parquet", b / f"{table}.parquet"), table
    assert (a / "metrics.json").read_bytes() != (other / "metrics.json").read_bytes()
    assert not same_table(a / "events.parquet", other / "events.parquet")
    assert json.loads((other / "manifest.json").read_text())["seed"] == 12


def test_a_missing_run_dir_exits_2(tmp_path, capsys):
    missing = tmp_path / "never-ran"
    assert main(["metrics", str(missing)]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert err.strip() == f"fleetsim: error: {missing}: no such run directory"


def test_an_incomplete_run_dir_exits_2(tmp_path, capsys):
    half = tmp_path / "half"
    half.mkdir()
    (half / "legs.parquet").write_bytes(b"")
    assert main(["metrics", str(half)]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "not a complete run directory" in err and "manifest.json" in err
    assert "Traceback" not in err


def failing_policy(tmp_path: Path, body: str) -> str:
    path = tmp_path / "failing_policy.py"
    path.write_text(
        textwrap.dedent("""
        from fleetsim.policy import GoTo, Plan, Policy


        class Failing(Policy):
            name = "failing"
            decision_period_s = 100.0

            def decide(self, now_s, fleet, requests):
    """)
        + textwrap.indent(textwrap.dedent(body), " " * 8)
    )
    return f"{path}:Failing"


@pytest.mark.parametrize(
    "body, code, words",
    [
        (
            """
     if now_s >= 300:
         raise RuntimeError("policy crashed")
     return [Plan(r.vehicle, [GoTo(1500.0, 1500.0)]) for r in requests if r.reason == "start"]
     """,
            EXIT_INPUT,
            r"policy 'failing', t=\d+\.\d{3} s: decide\(\) raised RuntimeError: policy crashed "
            r"\(.*failing_policy\.py:\d+ in decide; 1 request\(s\): vehicle \d \w+\)",
        ),
        (
            """
     if now_s >= 300:
         return [Plan(requests[0].vehicle, [GoTo(float("nan"), 0.0)])]
     return [Plan(r.vehicle, [GoTo(1500.0, 1500.0)]) for r in requests if r.reason == "start"]
     """,
            EXIT_INPUT,
            r"policy 'failing', t=\d+\.\d{3} s, vehicle \d: .*non-finite",
        ),
    ],
    ids=["raises", "illegal-plan"],
)
def test_a_run_that_fails_leaves_no_run_directory(body, code, words, tmp_path, capsys):
    path = check_scenario_file(tmp_path)
    policy = failing_policy(tmp_path, body)
    runs = tmp_path / "runs"
    out = runs / "failed"
    assert (
        main(["run", str(path), "--out", str(out), "-q", "--set", f"policy.name={policy}"]) == code
    )
    assert re.search(words, capsys.readouterr().err)
    assert not out.exists()
    assert not runs.exists() or list(runs.iterdir()) == []


def test_a_failed_rerun_keeps_the_previous_complete_run(tmp_path, capsys):
    path = check_scenario_file(tmp_path)
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), "-q", "--no-replay"]) == EXIT_OK
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    policy = failing_policy(
        tmp_path,
        """
        raise RuntimeError("policy crashed")
        """,
    )
    assert main(["run", str(path), "--out", str(out), "-q", "--set", f"policy.name={policy}"]) \
        == EXIT_INPUT
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["check.yaml", "failing_policy.py", "run"]
    )

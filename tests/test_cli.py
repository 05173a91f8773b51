"""The fleetsim command line: validate, run, metrics, policies; exit codes and messages."""

from __future__ import annotations

import errno
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from fleetsim.checker import CHECK_SCENARIO
from fleetsim.cli import EXIT_INPUT, EXIT_OK, main, stage
from fleetsim.policy import BUILTIN_POLICIES

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))

# Overrides that make each shipped scenario short enough for the suite: the golden
# runs' own (same terrain, zones, bases, policy; fewer vehicles and seconds).
sys.path.insert(0, str(ROOT / "tests" / "golden"))
from golden_runs import SHORT  # noqa: E402

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
        main(["run", str(scenario), "--out", str(out)] + sets(SHORT[scenario.stem]))
        == EXIT_OK
    )
    metrics = json.loads((out / "metrics.json").read_text())
    missing = [k for k in METRIC_KEYS if k not in metrics]
    assert not missing, f"metrics.json lacks {missing}"
    if metrics.get("logistics.orders_created"):  # a logistics scenario: orders, not areas
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


def test_metrics_failing_half_way_leaves_the_run_directory_as_it_was(tmp_path, monkeypatch):
    # The time series cannot be written (say the disk fills up): metrics.json, already
    # computed, is not put in place either, and nothing staged is left behind.
    import fleetsim.metrics.timeseries as ts

    path = check_scenario_file(tmp_path)
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), "-q", "--no-replay"]) == EXIT_OK
    (out / "metrics.json").write_text("{}\n")  # as if from an older version
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    def full_disk(where, run):
        Path(where).write_bytes(b"PAR1")
        raise OSError(errno.ENOSPC, "No space left on device", str(where))

    monkeypatch.setattr(ts, "write_timeseries", full_disk)
    assert main(["metrics", str(out)]) == EXIT_INPUT
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


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


# ------------------------------------------------------------- quiet runs and progress


def test_a_quiet_run_prints_nothing_and_a_normal_one_reports(tmp_path):
    path = check_scenario_file(tmp_path)
    cmd = [sys.executable, "-m", "fleetsim.cli", "run", str(path), "--no-replay"]
    quiet = subprocess.run([*cmd, "--out", str(tmp_path / "q"), "-q"], capture_output=True,
                           text=True, timeout=120)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    assert (tmp_path / "q" / "metrics.json").is_file()
    loud = subprocess.run([*cmd, "--out", str(tmp_path / "l")], capture_output=True, text=True,
                          timeout=120)
    assert loud.returncode == 0
    assert loud.stdout.startswith("policy_check: metrics\n") and "coverage.fraction" in loud.stdout
    assert loud.stderr.startswith("fleetsim: running 'policy_check'")
    assert f"fleetsim: wrote {tmp_path / 'l'} (" in loud.stderr


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_stage_draws_a_timed_status_line_and_clears_it():
    term = Terminal()
    with stage("computing metrics", term, delay_s=0.0, interval_s=0.01):
        time.sleep(0.2)
    text = term.getvalue()
    assert text.startswith("\rfleetsim: computing metrics ... 0.")
    assert text.endswith("\x1b[K\r\x1b[K")  # the last draw, then the line cleared
    assert text.count("\r") >= 3  # redrawn while the step ran


def test_stage_is_silent_for_a_quick_step_or_without_a_stream():
    term = Terminal()
    with stage("writing", term, delay_s=5.0):
        pass
    assert term.getvalue() == ""
    with stage("writing", None, delay_s=0.0):
        time.sleep(0.05)


def test_progress_on_a_terminal_covers_simulation_metrics_and_writing(tmp_path, monkeypatch):
    import fleetsim.cli as cli
    from fleetsim.engine import Simulation

    seen: list[tuple[str, bool]] = []
    real_stage, real_run = cli.stage, Simulation.run

    def recording_stage(label, stream, **kw):
        seen.append((label, stream is not None))
        return real_stage(label, stream, **kw)

    def recording_run(self, *, progress=False):
        seen.append(("simulate", progress))
        return real_run(self)

    monkeypatch.setattr(cli, "stage", recording_stage)
    monkeypatch.setattr(Simulation, "run", recording_run)
    monkeypatch.setattr(sys, "stderr", Terminal())
    out = tmp_path / "run"
    path = check_scenario_file(tmp_path)
    assert main(["run", str(path), "--out", str(out)]) == EXIT_OK
    assert seen == [("simulate", True), ("computing metrics", True),
                    (f"writing {out} and its replay", True)]
    seen.clear()
    assert main(["run", str(path), "--out", str(out), "-q", "--no-replay"]) == EXIT_OK
    assert seen == [("simulate", False), ("computing metrics", False),
                    (f"writing {out}", False)]


# ------------------------------------------------------------------ file system errors


def raise_on_call(n: int, code: int, real):
    """A stand-in for ``real`` whose ``n``-th call raises OSError(``code``) naming its file."""
    calls = []

    def fake(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == n:
            raise OSError(code, os.strerror(code), str(path))
        return real(path, *args, **kwargs)

    return fake


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT])
def test_a_write_error_exits_2_with_one_line_and_leaves_nothing(code, tmp_path, monkeypatch,
                                                                 capsys):
    import fleetsim.rundir as rundir

    path = check_scenario_file(tmp_path)
    out = tmp_path / "runs" / "full"
    # the second table (events.parquet) fails: a partial folder exists by then
    monkeypatch.setattr(rundir, "write_table", raise_on_call(2, code, rundir.write_table))
    assert main(["run", str(path), "--out", str(out), "--no-replay", "-q"]) == EXIT_INPUT
    err = capsys.readouterr().err
    partial = out.parent / f".full.partial-{os.getpid()}" / "events.parquet"
    assert err == (f"fleetsim: error: cannot write the run directory: {out}: "
                   f"{os.strerror(code)} (at {partial}) [{errno.errorcode[code]}]; "
                   "nothing was put in its place\n")
    assert list(out.parent.iterdir()) == []  # no run folder, no hidden partial one


def test_disk_full_in_the_replay_bundle_keeps_the_previous_run(tmp_path, monkeypatch, capsys):
    import fleetsim.replay as replay

    path = check_scenario_file(tmp_path)
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), "-q"]) == EXIT_OK
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def full(dest, run, **kw):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # no file name, as write() gives

    monkeypatch.setattr(replay, "write_replay_into", full)
    assert main(["run", str(path), "--out", str(out), "-q", "--seed", "9"]) == EXIT_INPUT
    assert capsys.readouterr().err == (
        f"fleetsim: error: cannot write the run directory: {out}: No space left on device "
        "[ENOSPC]; nothing was put in its place\n")
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["check.yaml", "run"]


def test_an_os_error_of_another_command_exits_2_naming_the_file(tmp_path, monkeypatch, capsys):
    path = check_scenario_file(tmp_path)
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), "-q", "--no-replay"]) == EXIT_OK
    monkeypatch.setattr(Path, "write_text",
                        raise_on_call(1, errno.EROFS, Path.write_text))
    assert main(["metrics", str(out)]) == EXIT_INPUT
    assert capsys.readouterr().err == (f"fleetsim: error: {out / 'metrics.json'}: "
                                       "Read-only file system [EROFS]\n")


def test_an_unexpected_os_error_is_still_an_internal_error(tmp_path, monkeypatch, capsys):
    import fleetsim.rundir as rundir

    path = check_scenario_file(tmp_path)
    monkeypatch.setattr(rundir, "write_table", raise_on_call(1, errno.EBADF, rundir.write_table))
    assert main(["run", str(path), "--out", str(tmp_path / "r"), "-q"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "fleetsim: internal error: OSError" in err


def _as_unprivileged(fn) -> None:
    """Call ``fn()`` in a forked child that runs as user and group ``nobody`` (65534) when
    this process is root (permission bits do not bind root); plainly otherwise. The
    child's assertion failures are reported back as this test's failure. The child may
    not be able to read the interpreter's own files (they may live under root's home):
    the caller imports what ``fn`` needs first."""
    if os.geteuid() != 0:
        fn()
        return
    import traceback

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        status, text = 0, b""
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            fn()
        except BaseException:  # noqa: BLE001 (everything goes back to the parent)
            status, text = 1, traceback.format_exc().encode()
        os.write(w, text)
        os._exit(status)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        text = f.read().decode()
    _, code = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(code) == 0, text


def test_a_read_only_folder_exits_2_before_running(tmp_path, capsys):
    # A folder any user may enter, holding the scenario and a read-only folder.
    top = Path(tempfile.mkdtemp(prefix="fleetsim-ro-"))
    top.chmod(0o755)
    try:
        path = check_scenario_file(top)
        path.chmod(0o644)
        ro = top / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        # Once where it may write: every module the run and its error path use is loaded
        # before the check runs as an unprivileged user.
        assert main(["run", str(path), "--out", str(top / "warm"), "-q"]) == EXIT_OK
        import subprocess  # noqa: F401

        import fleetsim.cli  # noqa: F401

        def check() -> None:
            assert main(["run", str(path), "--out", str(ro / "run"), "-q"]) == EXIT_INPUT
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and str(ro / "run") in err
            assert "Permission denied" in err
            assert list(ro.iterdir()) == []

        _as_unprivileged(check)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_output_cut_short_by_its_reader_ends_quietly():
    # `fleetsim policies | head -1` once head has exited: the pipe has no reader when
    # fleetsim writes, so its write fails (EPIPE); fleetsim stops with exit 0 and no
    # traceback, as command-line tools do.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([sys.executable, "-m", "fleetsim.cli", "policies"],
                              stdout=write_end, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(write_end)
    assert (proc.returncode, proc.stderr.decode()) == (0, "")

"""What --out (and the other commands writing into a run directory) may replace, and
what they never touch; leftovers of killed runs are cleaned and an interrupted replace
is recovered by the next run to the same folder."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import fleetsim
from fleetsim.cli import main
from fleetsim.errors import RunDirError
from fleetsim.replay import write_replay
from fleetsim.rundir import RUN_FILES, atomic_directory, read_manifest, recover

SCENARIO = """\
schema_version: 1
name: rundir
run: {{duration_s: {duration}, seed: 2}}
world:
  terrain: {{source: flat, size_m: [2000, 2000], spacing_m: 50}}
  sites: [{{id: home, kind: base, position: [500, 500], pads: 2}}]
fleet:
  types:
    - {{id: quad, kind: multirotor, count: {count}, base: home, cruise_speed_mps: 10,
       climb_rate_mps: 5, battery_wh: 100, hover_power_w: 100, cruise_power_w: 100,
       recharge_time_s: 100, sensor: {{footprint_radius_m: 50}}}}
missions:
  - {{id: area, kind: search, area: {{rect: [100, 100, 1900, 1900]}}, random_targets: 7}}
policy: {{name: random_search, params: {{leg_length_m: 500}}}}
"""


@pytest.fixture()
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(duration=600, count=3))
    return path


def run_argv(scenario: Path, out: Path, *extra: str) -> list[str]:
    return ["run", str(scenario), "--out", str(out), "-q", *extra]


def run(scenario: Path, out: Path, *extra: str) -> int:
    return main(run_argv(scenario, out, *extra))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture()
def live_pid():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def refused(capsys, argv: list[str]) -> str:
    """The one error line of a command that exits 2 without running anything."""
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("fleetsim: error: ")]
    assert len(lines) == 1, err
    assert "fleetsim: running" not in err  # refused before the simulation
    return lines[0].removeprefix("fleetsim: error: ")


# --------------------------------------------------------------------------------------
# What is a run directory


def test_a_folder_with_any_manifest_json_is_not_a_run_directory(scenario, tmp_path, capsys):
    """The reported case: `{}` in manifest.json made thesis.tex disappear."""
    p = tmp_path / "p"
    p.mkdir()
    (p / "manifest.json").write_text("{}")
    (p / "thesis.tex").write_text("chapter 1")
    assert refused(capsys, run_argv(scenario, p)) == (
        f'{p}: exists and is not a fleetsim run directory (its manifest.json has no '
        '"format": "fleetsim-run" marker); refusing to replace it: choose another --out or '
        'remove it yourself')
    assert snapshot(p) == {"manifest.json": b"{}", "thesis.tex": b"chapter 1"}
    # Another program's manifest, a replay bundle, a JSON list: none of them is a run.
    (p / "manifest.json").write_text('{"format": "other-tool", "format_version": 1}')
    assert "(its manifest.json is a 'other-tool' manifest, not a 'fleetsim-run' one)" \
        in refused(capsys, run_argv(scenario, p))
    (p / "manifest.json").write_text("[1, 2]")
    assert "(its manifest.json holds no JSON object)" in refused(capsys, run_argv(scenario, p))
    assert (p / "thesis.tex").read_text() == "chapter 1"
    # metrics and replay do not write into it either
    assert "not a fleetsim run directory" in refused(capsys, ["metrics", str(p)])
    assert "not a fleetsim run directory" in refused(capsys, ["replay", str(p)])
    assert sorted(snapshot(p)) == ["manifest.json", "thesis.tex"]


def test_the_manifest_carries_the_format_marker(scenario, tmp_path):
    out = tmp_path / "run"
    assert run(scenario, out, "--no-replay") == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["format"], manifest["format_version"]) == ("fleetsim-run", 1)
    # Every file a run writes (timeseries.png only comes from ``fleetsim plot``, and
    # reservations.parquet from runs with strategic deconfliction).
    assert sorted(p.name for p in out.iterdir()) == sorted(
        RUN_FILES - {"timeseries.png", "reservations.parquet"})


def test_run_directories_of_earlier_versions_are_recognised_by_their_keys(scenario, tmp_path,
                                                                          capsys):
    """A manifest written before the marker is a run manifest when it has every key
    all versions wrote (format_version, scenario_name, seed, scenario, base_dir,
    versions naming fleetsim, counts): it can be read and replaced. One key short, it
    is not."""
    out = tmp_path / "run"
    assert run(scenario, out) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["format"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert read_manifest(out)["seed"] == 2
    assert main(["metrics", str(out)]) == 0
    assert run(scenario, out, "--seed", "5") == 0
    assert json.loads((out / "manifest.json").read_text())["seed"] == 5
    capsys.readouterr()
    for key in ("scenario_name", "versions", "counts"):
        broken = {k: v for k, v in manifest.items() if k != key}
        (out / "manifest.json").write_text(json.dumps(broken))
        assert "not a fleetsim run directory" in refused(capsys, run_argv(scenario, out))
    (out / "manifest.json").write_text(json.dumps({**manifest, "versions": {"numpy": "2"}}))
    assert "not a fleetsim run directory" in refused(capsys, run_argv(scenario, out))


# --------------------------------------------------------------------------------------
# Files fleetsim did not write


def test_a_run_directory_holding_a_users_files_is_not_replaced(scenario, tmp_path, capsys):
    out = tmp_path / "run"
    assert run(scenario, out) == 0
    (out / "notes.txt").write_text("mine")
    (out / "replay" / "mine").mkdir()
    (out / "replay" / "mine" / "sketch.svg").write_text("<svg/>")
    (out / "fidelity").mkdir()
    (out / "fidelity" / "fidelity.csv").write_text("a,b\n")  # what `fleetsim fidelity` writes
    (out / "fidelity" / "plot-by-hand.png").write_bytes(b"png")
    before = snapshot(out)
    assert refused(capsys, run_argv(scenario, out, "--seed", "3")) == (
        f"{out}: a fleetsim run directory holding files fleetsim did not write "
        "(fidelity/plot-by-hand.png, notes.txt, replay/mine/sketch.svg); refusing to replace "
        "it: move them out first, or choose another output folder")
    assert snapshot(out) == before
    # `fleetsim replay` replaces the bundle only: it refuses for the same reason
    assert refused(capsys, ["replay", str(out)]) == (
        f"{out / 'replay'}: a fleetsim replay bundle holding files fleetsim did not write "
        "(mine/sketch.svg); refusing to replace it: move them out first, or choose another "
        "output folder")
    assert snapshot(out) == before
    # With the user's files moved out, both go through.
    (out / "notes.txt").unlink()
    (out / "fidelity" / "plot-by-hand.png").unlink()
    (out / "replay" / "mine" / "sketch.svg").unlink()
    assert main(["replay", str(out)]) == 0
    assert run(scenario, out, "--seed", "3") == 0
    assert json.loads((out / "manifest.json").read_text())["seed"] == 3
    assert not (out / "fidelity").exists()


def test_write_replay_elsewhere_replaces_only_a_replay_bundle(scenario, tmp_path):
    out = tmp_path / "run"
    assert run(scenario, out, "--no-replay") == 0
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"format": "fleetsim-run"}')
    with pytest.raises(RunDirError, match="is not a fleetsim replay bundle"):
        write_replay(out, out=folder)
    assert sorted(snapshot(folder)) == ["manifest.json"]
    bundle = write_replay(out, out=tmp_path / "bundle")
    assert write_replay(out, out=bundle) == bundle  # a bundle is replaced


def test_a_symbolic_link_or_a_file_is_never_replaced(scenario, tmp_path, capsys):
    out = tmp_path / "run"
    assert run(scenario, out, "--no-replay") == 0
    link = tmp_path / "link"
    link.symlink_to(out)
    assert refused(capsys, run_argv(scenario, link)) == (
        f"{link}: is a symbolic link; refusing to replace it: choose another --out or remove "
        "it yourself")
    assert link.is_symlink()
    (out / "extra").symlink_to(tmp_path / "s.yaml")
    assert "did not write (extra)" in refused(capsys, run_argv(scenario, out))


def test_out_must_not_hold_the_current_folder_or_fleetsim(scenario, tmp_path, monkeypatch,
                                                          capsys):
    """`--out .` in a run directory used to fail after the whole run (EBUSY)."""
    out = tmp_path / "run"
    assert run(scenario, out, "--no-replay") == 0
    before = snapshot(out)
    monkeypatch.chdir(out)
    assert refused(capsys, run_argv(scenario, Path("."))) == (
        f"{out}: is the current folder; refusing to replace it: choose another output folder")
    assert refused(capsys, run_argv(scenario, Path(".."))) == (
        f"{tmp_path}: contains the current folder ({out}); refusing to replace it: choose "
        "another output folder")
    monkeypatch.chdir(tmp_path)
    source = Path(fleetsim.__file__).resolve().parent.parent
    assert refused(capsys, run_argv(scenario, source)) == (
        f"{source}: is the folder fleetsim runs from; refusing to replace it: choose another "
        "output folder")
    assert snapshot(out) == before


# --------------------------------------------------------------------------------------
# Leftovers of killed runs


def complete_run(scenario: Path, where: Path, seed: int) -> dict[str, bytes]:
    assert run(scenario, where, "--seed", str(seed)) == 0
    return snapshot(where)


def test_leftovers_of_a_dead_process_are_cleaned(scenario, tmp_path):
    out = tmp_path / "run"
    complete_run(scenario, out, 1)
    pid = dead_pid()
    # killed while writing: a half-built folder and its lock file
    partial = tmp_path / f".run.partial-{pid}"
    complete_run(scenario, partial, 4)
    (partial / "manifest.json").unlink()
    (tmp_path / f".run.lock-{pid}").write_bytes(b"")
    # killed during the removal of the folder it replaced
    pid2 = dead_pid()
    old = tmp_path / f".run.old-{pid2}"
    complete_run(scenario, old, 5)
    (old / "manifest.json").unlink()
    (tmp_path / f".run.probe-{pid2}").write_bytes(b"")
    # a leftover of another run directory is not this run's business
    other = tmp_path / f".other.partial-{pid}"
    other.mkdir()
    assert run(scenario, out, "--seed", "2") == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["s.yaml", "run", other.name])
    assert read_manifest(out)["seed"] == 2


def test_an_interrupted_replace_is_recovered(scenario, tmp_path):
    """Killed between the two renames: --out is missing, the earlier complete run is
    hidden as .run.old-PID and the new complete one as .run.partial-PID. The earlier one
    is put back (the newest, if several crashes left one each)."""
    out = tmp_path / "run"
    older = complete_run(scenario, tmp_path / ".run.old-1", 1)  # pid 1 never dies: kept
    pid_a, pid_b = dead_pid(), dead_pid()
    complete_run(scenario, tmp_path / f".run.old-{pid_a}", 2)
    time.sleep(0.01)
    earlier = complete_run(scenario, tmp_path / f".run.old-{pid_b}", 3)
    complete_run(scenario, tmp_path / f".run.partial-{pid_b}", 4)
    (tmp_path / f".run.lock-{pid_b}").write_bytes(b"")
    recover(out)
    assert snapshot(out) == earlier
    assert sorted(p.name for p in tmp_path.iterdir()) == [".run.old-1", "run", "s.yaml"]
    assert snapshot(tmp_path / ".run.old-1") == older
    # metrics reads it as the complete run it is
    assert main(["metrics", str(out)]) == 0
    assert snapshot(out) == earlier


def test_the_next_run_recovers_before_it_checks(scenario, tmp_path, capsys):
    """The recovered folder is then checked like any other: replaced when it is a run
    directory, and the run refused (before simulating) when the user added a file."""
    out = tmp_path / "run"
    pid = dead_pid()
    old = tmp_path / f".run.old-{pid}"
    complete_run(scenario, old, 1)
    (old / "notes.txt").write_text("mine")
    assert "did not write (notes.txt)" in refused(capsys, run_argv(scenario, out))
    assert (out / "notes.txt").read_text() == "mine" and not old.exists()
    (out / "notes.txt").unlink()
    old = tmp_path / f".run.old-{dead_pid()}"
    out.rename(old)
    assert run(scenario, out, "--seed", "7") == 0
    assert read_manifest(out)["seed"] == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "s.yaml"]


def test_leftovers_of_a_live_process_are_not_touched(scenario, tmp_path, live_pid, capsys):
    out = tmp_path / "run"
    mine = [tmp_path / f".run.partial-{live_pid}", tmp_path / f".run.old-{live_pid}"]
    for folder in mine:
        complete_run(scenario, folder, 1)
    (tmp_path / f".run.lock-{live_pid}").write_bytes(b"")
    before = {p.name: snapshot(p) for p in mine}
    assert run(scenario, out, "--seed", "3") == 0  # --out missing: no recovery either
    assert {p.name: snapshot(p) for p in mine} == before
    assert (tmp_path / f".run.lock-{live_pid}").exists()
    # A live process writing the replay bundle inside the run directory: not replaced.
    inside = out / f".replay.partial-{live_pid}"
    inside.mkdir()
    assert refused(capsys, run_argv(scenario, out)) == (
        f"{out}: a fleetsim process (pid {live_pid}) is writing into it; wait for it to finish")
    assert inside.is_dir()
    # Once that process is gone, the run directory is replaced, leftover and all.
    inside.rename(out / f".replay.partial-{dead_pid()}")
    assert run(scenario, out) == 0
    assert not any(p.name.startswith(".") for p in out.iterdir())


def test_a_held_lock_marks_a_writer_on_another_machine_alive(scenario, tmp_path):
    """On a shared folder the writer's id may mean nothing here: its lock decides."""
    out = tmp_path / "run"
    pid = dead_pid()
    partial = tmp_path / f".run.partial-{pid}"
    partial.mkdir()
    (partial / "legs.parquet").write_bytes(b"half")
    lock = tmp_path / f".run.lock-{pid}"
    with open(lock, "wb") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        recover(out)
        assert partial.is_dir() and lock.exists()
    recover(out)
    assert not partial.exists() and not lock.exists()


def test_a_hidden_folder_that_is_not_a_partial_run_is_left_alone(tmp_path):
    pid = dead_pid()
    lookalike = tmp_path / f".run.partial-{pid}"
    lookalike.mkdir()
    (lookalike / "thesis.tex").write_text("chapter 1")
    recover(tmp_path / "run")
    assert (lookalike / "thesis.tex").read_text() == "chapter 1"


def test_a_run_killed_while_writing_leaves_nothing_behind_the_next_run(tmp_path):
    """SIGKILL of a real run while it writes its folder (the earlier run stays as it
    was), then the same run again: the leftovers are gone and the output is complete,
    the same bytes as the run that was not killed."""
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO.format(duration=1200, count=6))
    out = tmp_path / "run"
    first = complete_run(scenario, out, 2)
    env = {**os.environ, "PYTHONPATH": str(Path(fleetsim.__file__).resolve().parent.parent)}
    proc = subprocess.Popen([sys.executable, "-m", "fleetsim.cli", "run", str(scenario),
                             "--out", str(out), "-q", "--seed", "2"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    partial = tmp_path / f".run.partial-{proc.pid}"
    deadline = time.monotonic() + 120
    while not partial.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never started writing"
        time.sleep(0.001)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert partial.is_dir() and (tmp_path / f".run.lock-{proc.pid}").exists()
    assert snapshot(out) == first  # the earlier run is untouched
    complete_run(scenario, out, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "s.yaml"]
    again = snapshot(out)
    assert sorted(again) == sorted(first)
    assert again["metrics.json"] == first["metrics.json"]
    assert again["legs.parquet"] == first["legs.parquet"]


def fake_run(folder: Path, text: str) -> None:
    """The smallest folder recognised as a run directory."""
    folder.mkdir()
    (folder / "manifest.json").write_text('{"format": "fleetsim-run", "format_version": 1}')
    (folder / "metrics.json").write_text(text)


def test_an_interrupt_between_the_two_renames_puts_the_earlier_run_back(tmp_path, monkeypatch):
    dest = tmp_path / "run"
    fake_run(dest, "earlier")
    real_rename = os.rename

    def rename(src, dst):
        real_rename(src, dst)
        if Path(dst).name.startswith(".run.old-"):
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(KeyboardInterrupt), atomic_directory(dest) as tmp:
        (tmp / "manifest.json").write_text('{"format": "fleetsim-run"}')
    assert (dest / "metrics.json").read_text() == "earlier"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_concurrent_write_to_the_same_folder_is_not_clobbered(tmp_path, monkeypatch):
    """Another process puts its finished run at --out between this one's two renames:
    its run is kept, this one's is discarded with an error, nothing is left over."""
    dest = tmp_path / "run"
    fake_run(dest, "earlier")
    real_rename = os.rename

    def rename(src, dst):
        real_rename(src, dst)
        if Path(dst).name.startswith(".run.old-"):
            fake_run(dest, "theirs")

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(RunDirError) as info, atomic_directory(dest) as tmp:
        (tmp / "manifest.json").write_text('{"format": "fleetsim-run"}')
    assert str(info.value) == (f"{dest}: another process wrote it at the same time; this "
                               "output was discarded")
    assert (dest / "metrics.json").read_text() == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_sweep_rewrites_only_run_directories_holding_fleetsim_files(scenario, tmp_path):
    """A sweep's runs go through the same check: a run folder under runs/ that holds a
    file of the user's is not rewritten; the run is recorded as an error saying why.
    (The worker's task is run in this process: what a sweep worker does.)"""
    from fleetsim.experiments import load_experiment
    from fleetsim.experiments.sweep import _task, run_task

    (tmp_path / "e.yaml").write_text(
        "experiment: one\nscenario: s.yaml\n"
        "factors: {length: {path: policy.params.leg_length_m, levels: [500]}}\n"
        "replications: 1\n")
    experiment = load_experiment(tmp_path / "e.yaml")
    (planned,) = experiment.runs()
    task = _task(planned, tmp_path / "sweep", experiment.id, False)
    assert run_task(task)["status"] == "ok"
    run_dir = Path(task["run_dir"])
    assert read_manifest(run_dir)["sweep"]["run_id"] == planned.run_id
    (run_dir / "notes.txt").write_text("mine")
    row = run_task(task)
    assert row["error"] == (f"RunDirError: {run_dir}: a fleetsim run directory holding files "
                            "fleetsim did not write (notes.txt); refusing to replace it: move "
                            "them out first, or choose another output folder")
    assert (run_dir / "notes.txt").read_text() == "mine"
    (run_dir / "notes.txt").unlink()
    assert run_task(task)["status"] == "ok"

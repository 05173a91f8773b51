"""The CI scripts: ``.ci/run`` runs the README's test command with CI=true, and
``.ci/system-deps`` fails (exit 1, one message) when Chromium is missing and cannot
be installed. Run with stub commands on PATH: nothing is installed."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASH = "/bin/bash"


def stub(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text(f"#!{BASH}\n{body}\n")
    path.chmod(0o755)


def run(script: str, path: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([BASH, str(ROOT / ".ci" / script)], capture_output=True, text=True,
                          env={"PATH": str(path), **env}, timeout=60, check=False)


def test_run_exports_ci_true_to_the_test_command(tmp_path):
    stub(tmp_path, "python3", 'echo "CI=$CI PWD=$PWD ARGS=$*"')
    stub(tmp_path, "dirname", 'exec /usr/bin/dirname "$@"')
    out = run("run", tmp_path)
    assert (out.returncode, out.stderr) == (0, "")
    assert out.stdout == f"CI=true PWD={ROOT} ARGS=dev.py test\n"


def test_system_deps_does_nothing_when_chromium_is_there(tmp_path):
    stub(tmp_path, "chromium", "exit 0")
    out = run("system-deps", tmp_path, FLEETSIM_CHROMIUM=str(tmp_path / "chromium"))
    assert (out.returncode, out.stdout, out.stderr) == (0, "", "")


def test_system_deps_fails_without_apt_get(tmp_path):
    browser = tmp_path / "no-chromium"
    out = run("system-deps", tmp_path, FLEETSIM_CHROMIUM=str(browser))
    assert out.returncode == 1
    assert out.stderr == (f"system-deps: {browser} is missing and there is no apt-get here "
                          f"to install it; install Chromium as {browser} by hand\n")


def test_system_deps_fails_when_it_may_not_install(tmp_path):
    # Not root (a stub id), no sudo: apt-get (a stub that would say so) is never run.
    stub(tmp_path, "apt-get", "echo apt-get was run; exit 99")
    stub(tmp_path, "id", "echo 1000")
    browser = tmp_path / "no-chromium"
    out = run("system-deps", tmp_path, FLEETSIM_CHROMIUM=str(browser))
    assert (out.returncode, out.stdout) == (1, "")
    assert out.stderr == (f"system-deps: {browser} is missing and this is neither root nor "
                          "password-less sudo; run as root: apt-get install chromium "
                          "fonts-liberation\n")

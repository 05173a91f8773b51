"""fleetsim's version: from git in a checkout, from the file a build writes otherwise;
and what it does not change: the code hash that keys sweep runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from needs import require

import fleetsim
from fleetsim.cli import main
from fleetsim.experiments.spec import run_key

ROOT = Path(__file__).resolve().parents[1]
setuptools_scm = require("setuptools_scm", "the package version from git (in the test extra)")


def test_in_a_checkout_the_version_is_the_one_git_gives(capsys):
    expected = setuptools_scm.get_version(root=str(ROOT), fallback_version="0.1.0")
    assert fleetsim.__version__ == expected
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"fleetsim {expected}\n"


def copy_package(dest: Path) -> Path:
    """fleetsim's package alone (no pyproject.toml, no .git next to it), as installed."""
    shutil.copytree(ROOT / "fleetsim", dest / "fleetsim",
                    ignore=shutil.ignore_patterns("__pycache__", "_version.py"))
    return dest / "fleetsim"


def in_copy(where: Path, code: str) -> str:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(where), "PYTHONNOUSERSITE": "1"}
    return subprocess.run([sys.executable, "-c", code], cwd=where, env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


def test_outside_a_checkout_the_version_is_the_built_one_and_not_in_the_code_hash(tmp_path):
    pkg = copy_package(tmp_path)
    digest = "from fleetsim.record import fleetsim_code_digest as d; print(d())"
    before = in_copy(tmp_path, digest)
    (pkg / "_version.py").write_text("version = '9.8.7.dev1+gabc'\n")
    assert in_copy(tmp_path, "import fleetsim; print(fleetsim.__version__)") == "9.8.7.dev1+gabc"
    assert in_copy(tmp_path, digest) == before
    # The built-in policies are hashed as the policy's source, not as fleetsim's code.
    policy = pkg / "policies" / "lawnmower.py"
    policy.write_text(policy.read_text() + "\n# changed\n")
    assert in_copy(tmp_path, digest) == before
    (pkg / "geometry.py").write_text((pkg / "geometry.py").read_text() + "\n# changed\n")
    assert in_copy(tmp_path, digest) != before


def test_sweep_run_ids_do_not_change_with_the_version(monkeypatch):
    code = {"fleetsim_sha256": "a" * 64, "policy_sha256": "b" * 64}
    key = run_key({"name": "x"}, {"operators": 2}, 1, code)
    monkeypatch.setattr(fleetsim, "_VERSION", "99.0")
    assert fleetsim.__version__ == "99.0"
    assert run_key({"name": "x"}, {"operators": 2}, 1, code) == key
    assert run_key({"name": "x"}, {"operators": 2}, 1, {**code, "policy_sha256": "c" * 64}) != key


def test_a_shallow_clone_gets_a_version_and_no_warning_on_stderr(tmp_path):
    git_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
               "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
               "GIT_CONFIG_NOSYSTEM": "1"}
    origin = tmp_path / "origin"
    (origin / "fleetsim").mkdir(parents=True)
    shutil.copyfile(ROOT / "pyproject.toml", origin / "pyproject.toml")
    shutil.copyfile(ROOT / "fleetsim" / "__init__.py", origin / "fleetsim" / "__init__.py")

    def git(*args: str, cwd: Path) -> str:
        return subprocess.run(["git", *args], cwd=cwd, env=git_env, check=True,
                              capture_output=True, text=True).stdout.strip()

    git("init", "-q", cwd=origin)
    git("add", ".", cwd=origin)
    git("commit", "-q", "-m", "one", cwd=origin)
    (origin / "README").write_text("two\n")
    git("add", ".", cwd=origin)
    git("commit", "-q", "-m", "two", cwd=origin)
    git("clone", "-q", "--depth", "1", origin.as_uri(), "shallow", cwd=tmp_path)
    clone = tmp_path / "shallow"
    assert (clone / ".git" / "shallow").is_file()
    head = git("rev-parse", "--short=9", "HEAD", cwd=clone)
    proc = subprocess.run([sys.executable, "-c", "import fleetsim; print(fleetsim.__version__)"],
                          cwd=clone, env={**git_env, "PYTHONPATH": str(clone)},
                          capture_output=True, text=True, check=True)
    # No tag: the fallback 0.1.0, then the commits the clone has (one) and the commit.
    assert proc.stdout == f"0.1.1.dev1+g{head}\n"
    assert proc.stderr == ""

"""The package as a user installs it: the sdist and the wheel built from this source tree
by the standard backend (``python -m build``: the sdist, then the wheel from the sdist),
the wheel installed into a fresh virtual environment, and fleetsim run from outside the
source tree: its version, the example scenarios copied out and run end to end, the replay
bundle written with its viewer and served by ``fleetsim view``.

The fresh environment gets fleetsim only from the wheel (``pip install --no-deps
--no-index``); its dependencies (numpy, scipy, ...) are the test environment's, made
visible through a ``.pth`` line naming its site-packages (installing them again would
need the network and minutes). That line adds the folder alone: its ``.pth`` files (the
test environment's editable install of fleetsim) are not run, so nothing of fleetsim
but the wheel's can be imported there, which the test checks.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import site
import subprocess
import sys
import tarfile
import urllib.request
import zipfile
from pathlib import Path

import pytest
from needs import require

import fleetsim
from fleetsim.replay.writer import viewer_files

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "golden"))
from golden_runs import SHORT  # noqa: E402

require("build", "building the sdist and wheel (python -m build, in the test extra)")
require("setuptools_scm", "the package version from git (in the test extra)")


def run(cmd: list, *, cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, (f"{' '.join(map(str, cmd))} exited {proc.returncode}\n"
                                  f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout + proc.stderr


def clean_env() -> dict[str, str]:
    """The environment without what would point Python or fleetsim at the source tree."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "FLEETSIM_VIZ_DIR", "VIRTUAL_ENV")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """The sdist and the wheel, built from the source tree."""
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT],
        cwd=ROOT, env=clean_env())
    return out


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel installed."""
    where = tmp_path_factory.mktemp("venv") / "env"
    env = clean_env()
    run([sys.executable, "-m", "venv", "--without-pip", where], cwd=where.parent, env=env)
    py = where / "bin" / "python"
    (wheel,) = dist.glob("*.whl")
    run([sys.executable, "-m", "pip", "--python", py, "install", "--quiet", "--no-deps",
         "--no-index", wheel], cwd=where.parent, env=env)
    purelib = run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                  cwd=where.parent, env=env).strip()
    deps = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (Path(purelib) / "test_environment_dependencies.pth").write_text("\n".join(deps) + "\n")
    return where


def test_the_wheel_holds_fleetsim_its_viewer_and_examples_and_no_other_package(dist):
    (wheel,) = dist.glob("*.whl")
    version = wheel.name.split("-")[1]
    assert version == fleetsim.__version__.replace("-", "_")
    with zipfile.ZipFile(wheel) as zf:
        info = f"fleetsim-{version}.dist-info"
        record = [line.split(",")[0] for line in zf.read(f"{info}/RECORD").decode().splitlines()]
        assert zf.read(f"{info}/top_level.txt").decode().split() == ["fleetsim"]
        metadata = zf.read(f"{info}/METADATA").decode()
    assert sorted(zf.namelist()) == sorted(record)
    assert {p.split("/")[0] for p in record} == {"fleetsim", info}
    assert f"Version: {version}" in metadata.splitlines()
    # Every viewer file a replay bundle carries, and every example file, byte for byte.
    viewer = [p.as_posix() for p in viewer_files(ROOT / "viz")]
    assert {"index.html", "viewer.css", "js/main.js"} <= set(viewer)
    assert sorted(p.removeprefix("fleetsim/viz/") for p in record
                  if p.startswith("fleetsim/viz/")) == viewer
    with zipfile.ZipFile(wheel) as zf:
        for rel in viewer:
            assert zf.read(f"fleetsim/viz/{rel}") == (ROOT / "viz" / rel).read_bytes()
        examples = sorted(p.relative_to(ROOT / "scenarios").as_posix()
                          for p in (ROOT / "scenarios").rglob("*") if p.is_file())
        assert sorted(p.removeprefix("fleetsim/scenarios/") for p in record
                      if p.startswith("fleetsim/scenarios/")) == examples
    assert "fleetsim/_version.py" in record
    assert not [p for p in record if "screenshots" in p or p.endswith((".pyc", ".png"))]
    builtin = {f"fleetsim/policies/{p.name}" for p in (ROOT / "fleetsim" / "policies").glob("*.py")}
    assert builtin <= set(record)
    # The sdist carries what the wheel is built from.
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    assert {"setup.py", "pyproject.toml", "PKG-INFO", "viz/index.html", "viz/js/main.js",
            "scenarios/data/harbor_dem.npy", "fleetsim/policies/lawnmower.py"} <= names


def test_the_installed_fleetsim_runs_an_example_end_to_end_outside_the_tree(venv, tmp_path):
    env = clean_env()
    bin_ = venv / "bin"
    work = tmp_path / "work"
    work.mkdir()
    # Only the wheel's fleetsim can be imported, and no top-level policies package.
    where = json.loads(run([bin_ / "python", "-c", (
        "import importlib.util, json, fleetsim, fleetsim.examples as ex, "
        "fleetsim.replay.writer as w; print(json.dumps({'file': fleetsim.__file__, "
        "'viz': str(w.viewer_dir()), 'examples': str(ex.examples_dir()), "
        "'policies': importlib.util.find_spec('policies') is not None, "
        "'version': fleetsim.__version__}))")], cwd=work, env=env))
    package = venv.resolve() / "lib"
    for key in ("file", "viz", "examples"):
        assert Path(where[key]).resolve().is_relative_to(package), (key, where[key])
    assert where["policies"] is False
    assert where["version"] == fleetsim.__version__
    assert run([bin_ / "fleetsim", "--version"], cwd=work, env=env).strip() == \
        f"fleetsim {fleetsim.__version__}"

    listed = run([bin_ / "fleetsim", "examples"], cwd=work, env=env)
    assert "  search_and_rescue.yaml" in listed and "experiments/operators_vs_rules.yaml" in listed
    run([bin_ / "fleetsim", "examples", "copy", "examples"], cwd=work, env=env)
    assert (work / "examples" / "data" / "harbor_dem.npy").read_bytes() == \
        (ROOT / "scenarios" / "data" / "harbor_dem.npy").read_bytes()
    # A scenario with a terrain file next to it, and a logistics policy of the package.
    assert "valid (schema 1): 'harbor_resupply'" in run(
        [bin_ / "fleetsim", "validate", "examples/harbor_resupply.yaml"], cwd=work, env=env)

    sets = [a for o in SHORT["search_and_rescue"] for a in ("--set", o)]
    run([bin_ / "fleetsim", "run", "examples/search_and_rescue.yaml", "--out", "sar", "-q",
         *sets], cwd=work, env=env)
    out = work / "sar"
    for name in ("manifest.json", "metrics.json", "replay/manifest.json", "replay/index.html"):
        assert (out / name).is_file(), name
    replay = json.loads((out / "replay" / "manifest.json").read_text())
    assert replay["generator"] == f"fleetsim {fleetsim.__version__}"
    assert {"index.html", "viewer.css", "js/main.js"} <= set(replay["viewer"])
    for rel in replay["viewer"]:
        assert (out / "replay" / rel).read_bytes() == (ROOT / "viz" / rel).read_bytes(), rel
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["versions"]["fleetsim"] == fleetsim.__version__
    # The same run as the source tree's: same metrics, byte for byte.
    golden = (ROOT / "tests" / "golden" / "search_and_rescue-short.metrics.json").read_bytes()
    assert (out / "metrics.json").read_bytes() == golden, (
        "the installed package's run differs from tests/golden/search_and_rescue-short: it "
        "runs differently from the source tree (or the golden is stale: see test_golden.py)")

    # fleetsim view serves the bundle's viewer and data.
    server = subprocess.Popen([bin_ / "fleetsim", "view", "sar", "--port", "0", "--no-browser"],
                              cwd=work, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        ready, _, _ = select.select([server.stdout], [], [], 60)
        assert ready, "fleetsim view printed no URL within 60 s"
        url = server.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        with urllib.request.urlopen(url, timeout=30) as resp:
            page = resp.read()
        assert page == (ROOT / "viz" / "index.html").read_bytes()
        with urllib.request.urlopen(url.rstrip("/") + "/manifest.json", timeout=30) as resp:
            assert hashlib.sha256(resp.read()).hexdigest() == hashlib.sha256(
                (out / "replay" / "manifest.json").read_bytes()).hexdigest()
    finally:
        server.terminate()
        server.wait(timeout=30)

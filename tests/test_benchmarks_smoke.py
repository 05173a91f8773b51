"""Every script in benchmarks/ runs in its ``--smoke`` mode (tiny sizes, seconds) and
prints its figures, so a change elsewhere in fleetsim cannot leave a benchmark broken
until someone next measures with it.

A benchmark that needs an optional part (Chromium and Playwright for the viewer,
pybullet for the physics) is skipped without it, except in CI (``CI=true``), where
a missing part is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = sorted((ROOT / "benchmarks").glob("*.py"))
IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = Path("/usr/bin/chromium")

NUM = r"[-+]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?"
#: Per benchmark: what it needs, and lines its smoke run must print (regular
#: expressions, one per figure line; the sizes are the smoke mode's).
EXPECTED: dict[str, tuple[list[str], list[str]]] = {
    "engine_scale": ([], [
        rf"^separation +off: 100 drones x 0\.167 h, simulate {NUM} s .* vehicle-s per wall s",
        rf"^separation conflicts: .* {NUM} losses, {NUM} conflicts; leg pairs checked {NUM}",
        rf"^wind: 80 drones x 0\.167 h, simulate {NUM} s with wind vs {NUM} s without "
        rf"\({NUM}x; target <= 1\.3x\)",
        rf"^logistics: city_delivery, 40 drones x 0\.25 h, policy nearest_dispatch: simulate "
        rf"{NUM} s .* {NUM} orders, {NUM} delivered",
        rf"^ +80 +0\.167( +{NUM}){{12}}$",
        rf"^ +80 +0\.167( +{NUM}){{12}}  \+ oversight & comms$",
        rf"^ +8 +0\.333( +{NUM}){{12}}$",
        rf"^80 x 0\.167 h with oversight and comms on: {NUM} s vs {NUM} s off",
        # the 100 drones over a patrol area scaled as for fleets above 10,000 (smoke mode)
        rf"^full: 100 drones x 0\.1 h, 100 bases, 4 masts, 141 x 141 km, separation, "
        rf"oversight, 1,000 targets: simulate {NUM} s \(engine {NUM} s, policy {NUM} s, "
        rf"monitor/comms {NUM} s, oversight {NUM} s, separation {NUM} s\), finish tables "
        rf"{NUM} s, metrics {NUM} s, "
        rf"write {NUM} s; peak {NUM} MB; CPU time \(less sensitive to a shared machine\): "
        rf"simulate and finish {NUM} s, metrics {NUM} s$",
        rf"^full: {NUM} legs, {NUM} events; {NUM} vehicle-s per wall s; .* \(before the "
        rf"case {NUM}, after {NUM}; ratio {NUM}, simpy events {NUM}\); in CPU time {NUM} "
        rf"recorded events/s \(with the tables' finish\) against {NUM} \(ratio {NUM}\)$",
        rf"^full: everything off, before and after the case: simulate {NUM} s .*; simulate "
        rf"{NUM} s .*; on / off \(their mean\): simulate {NUM}x, simulate \+ metrics {NUM}x "
        rf"\(target at 10,000 x 1 h: <= 2\.5x\)$",
    ]),
    "comms_scale": ([], [
        rf"^ +flat +16 +{NUM} +{NUM} +{NUM} +{NUM} +{NUM} +{NUM}x +{NUM} +{NUM} +yes$",
        rf"^terrain +16 +{NUM} +{NUM} +{NUM} +{NUM} +{NUM} +{NUM}x +{NUM} +{NUM} +yes$",
        rf"^ +grid 101 x 101 \(200 m\), range 15 km: whole grid {NUM} s, {NUM} MB; over the "
        rf"range {NUM} s, {NUM} MB$",
    ]),
    "fidelity_steps": (["pybullet"], [
        r"^vehicles +steps +wall s +steps/s +veh-steps/s +x real time$",
        rf"^ +2 +\d+ +{NUM} +{NUM} +{NUM} +{NUM}$",
    ]),
    "policy_cost": ([], [
        rf"^ +40 +10,000 +{NUM}( +{NUM}){{5}}$",  # the cell count follows the grid layout
        rf"^ +80 +40,000 +{NUM}( +{NUM}){{5}}$",
    ]),
    "viewer_fps": (["playwright", "chromium"], [
        rf"^ +40 vehicles +\d+ legs +bundle +{NUM} MB \(built {NUM} s, written {NUM} s\) +"
        rf"{NUM} fps +{NUM} ms/frame in the viewer",
    ]),
}


def test_every_benchmark_has_a_smoke_check():
    assert sorted(p.stem for p in BENCHMARKS) == sorted(EXPECTED), (
        "add the new benchmark's --smoke figures to EXPECTED")


def missing(needs: list[str]) -> list[str]:
    out = []
    for need in needs:
        if need == "chromium":
            if not CHROMIUM.exists():
                out.append(str(CHROMIUM))
        elif importlib.util.find_spec(need) is None:
            out.append(need)
    return out


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.stem)
def test_benchmark_smoke_run_prints_its_figures(script, tmp_path):
    needs, patterns = EXPECTED[script.stem]
    lacking = missing(needs)
    if lacking:
        message = f"{script.name} needs {', '.join(lacking)}"
        if IN_CI:
            pytest.fail(message + " -- required in CI", pytrace=False)
        pytest.skip(message)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    res = subprocess.run([sys.executable, str(script), "--smoke"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr[-3000:]
    for pattern in patterns:
        assert re.search(pattern, res.stdout, re.MULTILINE), (pattern, res.stdout)
    assert list(tmp_path.iterdir()) == []  # nothing left behind in the working folder

"""Fixtures of the replay tests: one small REAL run (simulated once per session), its
run directory with the replay bundle, a server for it, and the browser set-up."""

from __future__ import annotations

from pathlib import Path

import pytest
from needs import missing
from replay_case import (
    CHROMIUM,
    CHROMIUM_ARGS,
    CHUNK_S,
    LOGISTICS_SCENARIO,
    SCENARIO,
    logistics_script,
)

from fleetsim.engine import Simulation
from fleetsim.metrics import compute_metrics
from fleetsim.replay import read_replay, write_replay_into
from fleetsim.replay.keyframes import sort_legs
from fleetsim.rundir import write_run
from fleetsim.scenario import load_scenario_text


@pytest.fixture(scope="session")
def small_run():
    return Simulation(load_scenario_text(SCENARIO, filename="viewer_test.yaml")).run()


@pytest.fixture(scope="session")
def sorted_legs(small_run):
    return sort_legs(small_run.legs, small_run.vehicles)


@pytest.fixture(scope="session")
def run_dir(small_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("viz") / "viewer_test"
    write_run(out, small_run, compute_metrics(small_run), extra_writers=[
        lambda d: write_replay_into(d / "replay", small_run, chunk_s=CHUNK_S)])
    return out


@pytest.fixture(scope="session")
def bundle(run_dir):
    return read_replay(run_dir / "replay")


@pytest.fixture(scope="session")
def logistics_run():
    sc = load_scenario_text(LOGISTICS_SCENARIO, filename="viewer_logistics.yaml")
    return Simulation(sc, policy=logistics_script()).run()


@pytest.fixture(scope="session")
def logistics_run_dir(logistics_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("viz") / "viewer_logistics"
    write_run(out, logistics_run, compute_metrics(logistics_run), extra_writers=[
        lambda d: write_replay_into(d / "replay", logistics_run, chunk_s=CHUNK_S)])
    return out


@pytest.fixture(scope="session")
def logistics_bundle(logistics_run_dir):
    return read_replay(logistics_run_dir / "replay")


# ---------------------------------------------------------------- browser (pytest-playwright)

def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    missing(f"{CHROMIUM} not found: the viewer's browser tests need Debian's chromium "
            "(run .ci/system-deps, or apt-get install chromium fonts-liberation)")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    _require_chromium()
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM),
            "args": [*browser_type_launch_args.get("args", []), *CHROMIUM_ARGS]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}}


@pytest.fixture(scope="session")
def server(run_dir):
    from fleetsim.replay.server import ReplayServer

    with ReplayServer(run_dir / "replay", "127.0.0.1", 0).start() as srv:
        yield srv


@pytest.fixture(scope="session")
def logistics_server(logistics_run_dir):
    from fleetsim.replay.server import ReplayServer

    with ReplayServer(logistics_run_dir / "replay", "127.0.0.1", 0).start() as srv:
        yield srv

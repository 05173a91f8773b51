"""Run directories: complete on their own, never clobber other files; plans that take no
time do not hang the engine."""

import shutil

import numpy as np
import pandas as pd

from fleetsim.cli import main
from fleetsim.engine import Simulation
from fleetsim.policy import GoTo, Plan, Policy
from fleetsim.scenario import load_scenario_text

SCENARIO = """
schema_version: 1
name: rundir
run: {{duration_s: 600, seed: 2}}
world:
  terrain: {terrain}
  sites: [{{id: home, kind: base, position: [500, 500], pads: 2}}]
fleet:
  types:
    - {{id: quad, kind: multirotor, count: 3, base: home, cruise_speed_mps: 10,
       climb_rate_mps: 5, battery_wh: 100, hover_power_w: 100, cruise_power_w: 100,
       recharge_time_s: 100, sensor: {{footprint_radius_m: 50}}}}
missions:
  - {{id: area, kind: search, area: {{rect: [100, 100, 1900, 1900]}}, random_targets: 7}}
policy: {{name: random_search, params: {{leg_length_m: 500}}}}
"""


def write(tmp_path, terrain="{source: flat, size_m: [2000, 2000], spacing_m: 50}"):
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(terrain=terrain))
    return path


def test_a_run_directory_keeps_its_terrain_and_targets(tmp_path, capsys):
    """The DEM file can move away: `fleetsim metrics` still recomputes the same bytes."""
    np.save(tmp_path / "dem.npy", np.add.outer(np.arange(41.0), np.arange(41.0)) * 3.0)
    path = write(tmp_path, "{source: npy, path: dem.npy, spacing_m: 50}")
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), "-q", "--no-replay"]) == 0
    before = (out / "metrics.json").read_bytes()
    targets = pd.read_parquet(out / "targets.parquet")
    assert list(targets.columns) == ["target", "id", "mission", "x_m", "y_m"]
    assert len(targets) == 7 and set(targets["mission"]) == {"area"}
    heights = np.load(out / "terrain.npy")
    assert heights.shape == (41, 41) and heights[40, 40] == 240.0
    shutil.move(tmp_path / "dem.npy", tmp_path / "elsewhere.npy")
    assert main(["metrics", str(out)]) == 0
    assert (out / "metrics.json").read_bytes() == before


def test_out_never_replaces_a_folder_that_is_not_a_run(tmp_path, capsys):
    path = write(tmp_path)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    assert main(["run", str(path), "--out", str(precious), "-q"]) == 2
    assert "not a fleetsim run directory" in capsys.readouterr().err
    assert (precious / "notes.txt").read_text() == "keep me"
    a_file = tmp_path / "afile"
    a_file.write_text("x")
    assert main(["run", str(path), "--out", str(a_file), "-q"]) == 2
    assert a_file.read_text() == "x"
    # a run directory is replaced, as a re-run should
    run = tmp_path / "run"
    assert main(["run", str(path), "--out", str(run), "-q"]) == 0
    assert main(["run", str(path), "--out", str(run), "-q"]) == 0


def test_a_corrupt_table_is_an_input_error(tmp_path, capsys):
    path = write(tmp_path)
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), "-q", "--no-replay"]) == 0
    (out / "legs.parquet").write_bytes(b"not parquet at all")
    assert main(["metrics", str(out)]) == 2
    assert "not a readable Parquet table" in capsys.readouterr().err


def test_plans_that_take_no_time_do_not_loop_forever(tmp_path):
    """Answering every idle request with a GoTo to where the vehicle already is would
    ask the policy again at the same instant, forever; the vehicle stays put instead."""

    class Stay(Policy):
        name = "stay"
        calls = 0

        def decide(self, now_s, fleet, requests):
            Stay.calls += 1
            return [Plan(r.vehicle, [GoTo(1000.0, 1000.0)]) for r in requests]

    sc = load_scenario_text(SCENARIO.format(
        terrain="{source: flat, size_m: [2000, 2000], spacing_m: 50}"),
        overrides=["policy.params={}"])
    run = Simulation(sc, policy=Stay()).run()
    assert Stay.calls < 10
    legs = run.legs
    for v in range(3):
        mine = legs["vehicle"] == v
        assert legs["t1_s"][mine][-1] == 600.0
        assert legs["x1_m"][mine][-1] == 1000.0 and legs["y1_m"][mine][-1] == 1000.0


def test_a_run_directory_written_before_logistics_still_reads(tmp_path, capsys):
    """No orders table and no domain/payload/carrier columns: read as all-air vehicles
    with no orders, and the metrics come out the same bytes."""
    out = tmp_path / "run"
    assert main(["run", str(write(tmp_path)), "--out", str(out), "-q", "--no-replay"]) == 0
    before = (out / "metrics.json").read_bytes()
    (out / "orders.parquet").unlink()
    vehicles = pd.read_parquet(out / "vehicles.parquet")
    vehicles.drop(columns=["domain", "payload_kg", "carrier"]).to_parquet(
        out / "vehicles.parquet")
    assert main(["metrics", str(out)]) == 0
    assert (out / "metrics.json").read_bytes() == before


def test_a_long_table_is_written_in_row_groups_and_reads_back_the_same(tmp_path,
                                                                        monkeypatch):
    import pyarrow.parquet as pq

    from fleetsim import rundir
    from fleetsim.record import EVENT_COLUMNS, EVENT_KINDS, table_digest

    rng = np.random.default_rng(2)
    n = 1000
    table = {name: np.zeros(n, dtype=dt) for name, dt in EVENT_COLUMNS.items()}
    table["time_s"] = np.sort(rng.uniform(0, 100, n))
    table["kind"] = np.asarray(EVENT_KINDS, dtype=object)[rng.integers(0, 9, n)]
    table["detail"] = np.asarray(["", "takeoff", "charge"], dtype=object)[rng.integers(0, 3, n)]
    table["vehicle"] = rng.integers(-1, 50, n).astype(np.int32)
    table["x_m"] = np.where(rng.random(n) < 0.5, np.nan, rng.normal(size=n))
    whole = tmp_path / "whole.parquet"
    rundir.write_table(whole, table, EVENT_COLUMNS)
    monkeypatch.setattr(rundir, "WRITE_ROWS", 64)
    parts = tmp_path / "parts.parquet"
    rundir.write_table(parts, table, EVENT_COLUMNS)
    assert pq.ParquetFile(whole).num_row_groups == 1
    assert pq.ParquetFile(parts).num_row_groups == 16
    assert pq.read_schema(parts) == pq.read_schema(whole)
    for path in (whole, parts):
        assert table_digest(rundir.read_table(path, EVENT_COLUMNS)) == table_digest(table)

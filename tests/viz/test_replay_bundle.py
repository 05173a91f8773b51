"""The replay bundle format (viz/FORMAT.md): round trip against the legs table,
chunk independence, events, layers, rasters, and the CLI that writes it."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from replay_case import CHUNK_S, SCENARIO

from fleetsim import cli
from fleetsim.geometry import disc_intervals
from fleetsim.metrics.raster import cell_coverage, leg_footprint_radius, sweep_cells
from fleetsim.record import EVENT_KINDS, LEG_KINDS
from fleetsim.replay import FORMAT_NAME, FORMAT_VERSION, read_replay, write_replay_into
from fleetsim.replay.binfile import read_columns, write_columns
from fleetsim.replay.keyframes import chunk_bounds, interpolate_chunk, state_at
from fleetsim.replay.layers import coverage_rasters, replay_grid
from fleetsim.replay.png import decode_png, encode_png
from fleetsim.rundir import read_run

POS_TOL_M = 0.02  # float32 positions and times, at speeds of ~12 m/s
BAT_TOL_WH = 1e-3


def _times(bundle, rng, n=40):
    T = bundle.duration_s
    leg_ends = []
    for k in range(len(bundle.chunks)):
        leg_ends.extend(bundle.chunk(k)["t_s"].astype(float))
    edges = [c["t0_s"] for c in bundle.chunks] + [T]
    return sorted(set(rng.uniform(0, T, n).tolist() + edges + [0.0, T]
                      + [t + 0.01 for t in leg_ends if t + 0.01 < T]))


def test_manifest_describes_the_run(bundle, small_run):
    m = bundle.manifest
    assert m["format"] == FORMAT_NAME and m["version"] == FORMAT_VERSION
    assert m["time"] == {"start_s": 0.0, "end_s": 1500.0}
    assert m["leg_kinds"] == list(LEG_KINDS) and m["event_kinds"] == list(EVENT_KINDS)
    assert m["vehicles"]["count"] == 8
    assert [t["id"] for t in m["vehicle_types"]] == ["quad"]
    assert m["vehicle_types"][0]["domain"] == "air"
    v = bundle.vehicles()
    assert v["id"].tolist() == sorted(small_run.vehicles["vehicle"].tolist())
    assert v["battery_wh"].tolist() == [60.0] * 8
    sites = bundle.layer("sites")
    assert [sites[b]["id"] for b in v["base"]] == ["west"] * 4 + ["east"] * 4
    # Chunks tile the run, in order, with exact boundaries.
    spans = [(c["t0_s"], c["t1_s"]) for c in bundle.chunks]
    assert spans == [(0.0, 300.0), (300.0, 600.0), (600.0, 900.0), (900.0, 1200.0),
                     (1200.0, 1500.0)]
    assert m["keyframes"]["legs"] == len(small_run.legs["leg"])
    x0, y0, x1, y1 = m["world"]["bounds_m"]
    legs = small_run.legs
    assert x0 <= legs["x0_m"].min() and x1 >= legs["x1_m"].max()
    assert y0 <= legs["y0_m"].min() and y1 >= legs["y1_m"].max()


def test_positions_decoded_from_the_chunks_equal_the_legs_interpolation(bundle, sorted_legs):
    rng = np.random.default_rng(0)
    n_checked = 0
    for t in _times(bundle, rng):
        got = bundle.state_at(t)
        ref = state_at(sorted_legs, t, side="left")
        assert np.all(np.isfinite(got["x"]))
        np.testing.assert_allclose(got["x"], ref["x"], atol=POS_TOL_M, rtol=0)
        np.testing.assert_allclose(got["y"], ref["y"], atol=POS_TOL_M, rtol=0)
        np.testing.assert_allclose(got["z"], ref["z"], atol=POS_TOL_M, rtol=0)
        np.testing.assert_allclose(got["battery"], ref["battery"], atol=BAT_TOL_WH, rtol=0)
        if t not in [c["t0_s"] for c in bundle.chunks]:  # at a chunk start the row is the next leg's
            assert got["kind"].tolist() == ref["kind"].tolist(), t
        n_checked += 1
    assert n_checked > 100


def test_every_chunk_stands_alone(bundle, sorted_legs):
    """Each chunk starts and ends with a snapshot of every vehicle, and answers any
    time in its span by itself -- including its boundaries, where both neighbours agree."""
    n = bundle.manifest["vehicles"]["count"]
    for k, meta in enumerate(bundle.chunks):
        c = read_columns(bundle.root / meta["file"], meta)
        off = c["offsets"].astype(int)
        assert len(off) == n + 1 and off[0] == 0 and off[-1] == meta["rows"]
        assert np.all(np.diff(off) >= 2)
        for v in range(n):
            ts = c["t_s"][off[v]:off[v + 1]]
            assert ts[0] == np.float32(meta["t0_s"]) and ts[-1] == np.float32(meta["t1_s"])
            assert np.all(np.diff(ts) >= 0)
        for t in np.linspace(meta["t0_s"], meta["t1_s"], 13):
            got = interpolate_chunk(c, float(t))
            ref = state_at(sorted_legs, float(t), side="left")
            np.testing.assert_allclose(got["x"], ref["x"], atol=POS_TOL_M, rtol=0)
            np.testing.assert_allclose(got["y"], ref["y"], atol=POS_TOL_M, rtol=0)
        if k:  # the boundary shared with the previous chunk: same positions from both
            prev = bundle.chunk(k - 1)
            a, b = interpolate_chunk(prev, meta["t0_s"]), interpolate_chunk(c, meta["t0_s"])
            np.testing.assert_allclose(a["x"], b["x"], atol=1e-3)
            np.testing.assert_allclose(a["y"], b["y"], atol=1e-3)


def test_one_keyframe_per_leg_end_and_the_leg_kinds_on_them(bundle, small_run):
    legs = small_run.legs
    T = bundle.duration_s
    rows = {}
    for k in range(len(bundle.chunks)):
        c = bundle.chunk(k)
        off = c["offsets"].astype(int)
        for v in range(len(off) - 1):
            for i in range(off[v] + 1, off[v + 1]):  # rows that end a segment
                rows.setdefault((v, float(c["t_s"][i])), set()).add(LEG_KINDS[c["kind"][i]])
    ids = sorted(small_run.vehicles["vehicle"].tolist())
    for v, t1, kind in zip(legs["vehicle"], legs["t1_s"], legs["kind"], strict=True):
        if t1 >= T:
            continue
        key = (ids.index(int(v)), float(np.float32(t1)))
        assert kind in rows.get(key, set()), (v, t1, kind)
    # Leg ends plus two snapshots per vehicle per chunk, and nothing else.
    n_v, n_c = len(ids), len(bundle.chunks)
    inner = int(np.sum(~np.isin(legs["t1_s"], [c["t0_s"] for c in bundle.chunks] + [T])))
    assert bundle.manifest["keyframes"]["rows"] == inner + 2 * n_v * n_c


def test_chunk_files_are_22_bytes_a_row(bundle):
    for meta in bundle.chunks:
        n = bundle.manifest["vehicles"]["count"]
        assert meta["bytes"] <= 22 * meta["rows"] + 4 * (n + 1) + 8 * 7
        assert {col["dtype"] for col in meta["columns"].values()} <= {"<f4", "<u4", "<u1"}
        assert all(col["offset"] % 8 == 0 for col in meta["columns"].values())


def test_events_keep_everything_but_arrivals(bundle, small_run):
    ev = bundle.events()
    table = small_run.events
    keep = table["kind"] != "arrive"
    assert bundle.manifest["events"]["omitted_kinds"] == ["arrive"]
    assert len(ev["time_s"]) == int(keep.sum()) == bundle.manifest["events"]["count"]
    np.testing.assert_array_equal(ev["time_s"], table["time_s"][keep])
    assert [EVENT_KINDS[k] for k in ev["kind"]] == table["kind"][keep].tolist()
    ids = bundle.vehicles()["id"]
    mapped = np.where(ev["vehicle"] >= 0, ids[np.maximum(ev["vehicle"], 0)], -1)
    np.testing.assert_array_equal(mapped, table["vehicle"][keep])
    np.testing.assert_array_equal(ev["target"], table["target"][keep])
    np.testing.assert_array_equal(ev["zone"], table["zone"][keep])
    kinds = set(table["kind"][keep].tolist())
    assert {"detection", "zone_enter", "return_start", "reserve_reached", "charge_start",
            "landed", "pad_queue"} <= kinds


def test_layers(bundle, small_run):
    zones = bundle.layer("zones")
    assert [f["properties"]["id"] for f in zones["features"]] == ["corridor", "late_tfr"]
    late = zones["features"][1]["properties"]
    assert (late["kind"], late["start_s"], late["end_s"]) == ("no_fly", 600.0, 1200.0)
    corridor = zones["features"][0]
    assert corridor["properties"]["end_s"] is None and corridor["properties"]["floor_amsl_m"] is None
    assert corridor["geometry"]["type"] == "MultiPolygon"
    ring = corridor["geometry"]["coordinates"][0][0]
    assert ring[0] == ring[-1] and {tuple(p) for p in ring} == {(1900, 0), (2100, 0), (2100, 3000),
                                                               (1900, 3000)}
    targets = bundle.layer("targets")
    assert targets["count"] == 15 == len(targets["x_m"])
    det = small_run.events_of("detection")
    for k, t in enumerate(targets["first_detected_s"]):
        times = det["time_s"][det["target"] == k]
        assert (t is None) == (len(times) == 0)
        if t is not None:
            assert t == pytest.approx(times.min(), abs=1e-3)
    missions = bundle.layer("missions")
    assert missions["features"][0]["properties"]["id"] == "field"


def test_terrain_image_and_heights(bundle, small_run):
    tr = small_run.world.terrain
    meta = bundle.manifest["layers"]["terrain"]
    img = decode_png((bundle.root / meta["image"]).read_bytes())
    ny, nx = tr.heights_m.shape
    assert img.shape == (ny, nx, 3) and meta["image_size_px"] == [nx, ny]
    s = tr.spacing_m
    assert meta["image_extent_m"] == [-s / 2, -s / 2, (nx - 1) * s + s / 2, (ny - 1) * s + s / 2]
    # Row 0 of the image is the north edge: on a plane rising to the north, the top
    # row is the highest (lightest) one.
    from fleetsim.replay.layers import terrain_layer
    from fleetsim.world.terrain import Terrain

    plane = Terrain(np.add.outer(np.arange(20.0) * 10, np.zeros(30)), 50.0, (1000.0, 2000.0))
    entry, rgb, heights = terrain_layer(plane)
    lum = rgb.astype(float).mean(axis=2)
    assert lum[0].mean() > lum[-1].mean() + 50
    assert heights[0, 0] == 0 and heights[-1, 0] == 190  # heights: row 0 south
    assert entry["image_extent_m"] == [975.0, 1975.0, 1000 + 29 * 50 + 25, 2000 + 19 * 50 + 25]
    np.testing.assert_allclose(bundle.heights(), tr.heights_m, atol=1e-3)


def grazed_cells(run, grid, tol_m=1e-6) -> np.ndarray:
    """Cells whose centre is (within ``tol_m``) exactly at footprint range of some
    sensing leg: covered or not is decided by rounding there, and two exact methods
    may disagree."""
    legs = run.legs
    s = np.asarray(legs["sensing"], dtype=bool)
    r = leg_footprint_radius(run)[s]
    a = np.column_stack([legs["x0_m"][s], legs["y0_m"][s]])
    d = np.column_stack([legs["x1_m"][s], legs["y1_m"][s]]) - a
    c = grid.centers[:, None, :]  # (cells, 1, 2) against (legs, 2)
    f = np.clip(((c - a) * d).sum(-1) / np.maximum((d * d).sum(-1), 1e-300), 0, 1)
    dist = np.hypot(*np.moveaxis(a + f[..., None] * d - c, -1, 0))
    return np.any(np.abs(dist - r) < tol_m, axis=1)


def test_coverage_raster_matches_the_metrics(bundle, small_run):
    g = bundle.manifest["layers"]["coverage"]["grid"]
    cells = cell_coverage(small_run)
    assert (g["nx"], g["ny"], g["cell_m"]) == (cells.grid.nx, cells.grid.ny, cells.grid.cell_m)
    cov = bundle.coverage()
    first = cov["first_covered_s"].reshape(g["ny"], g["nx"])
    where = cells.grid.cell_of
    inside = where >= 0
    clear = ~grazed_cells(small_run, cells.grid)
    ours = first[inside][clear[where[inside]]]
    theirs = cells.first_s[where[inside]][clear[where[inside]]].astype(np.float32)
    assert clear.sum() > 0.8 * len(clear)  # lawnmower tracks may graze whole rows
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, equal_nan=True)
    assert np.all(np.isnan(first[~inside]))
    idle = cov["idleness"].reshape(-1, g["ny"], g["nx"])
    meta = bundle.manifest["layers"]["coverage"]
    assert idle.shape[0] == len(meta["times_s"]) == 60
    assert np.all(idle[:, ~inside] == 255) and np.all(idle[:, inside] <= 254)
    assert np.all(idle[0][inside] == 0)  # idleness at t = 0 is 0 everywhere
    # The last sample's idleness: never-seen cells show the whole run.
    never = inside & np.isnan(first)
    scale = meta["idleness_scale_s"]
    np.testing.assert_allclose(idle[-1][never] * scale, 1500.0, atol=scale)


def test_idleness_is_exact_against_brute_force(small_run):
    """Idleness of some cells at the sample times, from every sensing leg directly."""
    r = coverage_rasters(small_run, n_buckets=25)
    g = r.grid
    legs = small_run.legs
    s = np.asarray(legs["sensing"], dtype=bool)
    radius = leg_footprint_radius(small_run)[s]
    p0 = np.column_stack([legs["x0_m"][s], legs["y0_m"][s]])
    p1 = np.column_stack([legs["x1_m"][s], legs["y1_m"][s]])
    rng = np.random.default_rng(1)
    seen_cells = np.flatnonzero(~np.isnan(r.first_s))
    for cell in np.r_[rng.choice(seen_cells, 30), rng.integers(0, g.n_cells, 10)]:
        c = np.broadcast_to(g.centers[cell], p0.shape)
        t_in, t_out = disc_intervals(legs["t0_s"][s], legs["t1_s"][s], p0, p1, c, radius)
        ok = ~np.isnan(t_in)
        t_in, t_out = t_in[ok], t_out[ok]
        for b, t in enumerate(r.times_s):
            if np.any((t_in <= t) & (t <= t_out)):
                expect = 0.0
            else:
                ends = t_out[t_out <= t]
                expect = t - (ends.max() if len(ends) else 0.0)
            assert r.idleness_s[b, cell] == pytest.approx(expect, abs=1e-6), (cell, t)
        expect_first = t_in.min() if len(t_in) else np.nan
        assert r.first_s[cell] == pytest.approx(expect_first, nan_ok=True)


def test_replay_grid_is_coarsened_to_at_most_160_cells(small_run):
    import dataclasses

    sc = small_run.scenario
    fine = dataclasses.replace(sc, outputs=dataclasses.replace(sc.outputs, metrics_cell_m=5.0))
    run = dataclasses.replace(small_run, scenario=fine)
    g = replay_grid(run)
    assert max(g.nx, g.ny) <= 160 and g.cell_m == pytest.approx(5.0 * math.ceil(3000 / 800))
    # Same first-coverage times as the metrics' own sweep on that grid.
    legs = run.legs
    s = np.asarray(legs["sensing"], dtype=bool)
    ref = sweep_cells(g, legs["t0_s"][s], legs["t1_s"][s],
                      np.column_stack([legs["x0_m"][s], legs["y0_m"][s]]),
                      np.column_stack([legs["x1_m"][s], legs["y1_m"][s]]),
                      leg_footprint_radius(run)[s], run.duration_s)
    clear = ~grazed_cells(run, g)
    assert clear.sum() > 0.8 * len(clear)  # lawnmower tracks may graze whole rows
    np.testing.assert_allclose(coverage_rasters(run, 5, grid=g).first_s[clear],
                               ref.first_s[clear], equal_nan=True)


def test_chunk_bounds():
    assert chunk_bounds(1500, 100, 8, 300) == [(0, 300), (300, 600), (600, 900), (900, 1200),
                                               (1200, 1500)]
    assert chunk_bounds(1000, 10, 10, 300)[-1] == (900, 1000)
    # Default: ~12 leg ends per vehicle per chunk, whole seconds.
    spans = chunk_bounds(3600, 500_000, 10_000)
    assert len(spans) == 4 and spans[0] == (0, 900)
    assert chunk_bounds(3600, 20, 10) == [(0, 3600)]
    assert chunk_bounds(5, 10_000, 1) == [(0, 5)]  # never shorter than 10 s (but one chunk)


def test_png_round_trip():
    rng = np.random.default_rng(2)
    for shape in [(7, 5), (4, 9, 3), (3, 3, 4), (1, 1)]:
        img = rng.integers(0, 256, shape, dtype=np.uint8)
        assert np.array_equal(decode_png(encode_png(img)), img)
    with pytest.raises(TypeError):
        encode_png(np.zeros((2, 2)))


def test_column_files_are_aligned_and_typed(tmp_path):
    cols = {"a": np.arange(3, dtype=np.uint8), "b": np.array([1.5, 2.5], dtype=np.float64),
            "c": np.array([-1, 2], dtype=np.int32)}
    entry = write_columns(tmp_path / "x.bin", cols)
    assert entry["columns"]["b"] == {"dtype": "<f8", "offset": 8, "count": 2}
    assert entry["columns"]["c"]["offset"] == 24 and entry["bytes"] == 32
    back = read_columns(tmp_path / "x.bin", entry)
    for k, v in cols.items():
        assert np.array_equal(back[k], v)
    with pytest.raises(TypeError):
        write_columns(tmp_path / "y.bin", {"s": np.array(["x"])})


def test_bundle_refuses_a_non_empty_folder(tmp_path, small_run):
    (tmp_path / "junk").write_text("x")
    with pytest.raises(Exception, match="not empty"):
        write_replay_into(tmp_path, small_run)


def test_cli_replay_rebuilds_the_same_bundle_from_the_run_directory(run_dir, bundle, tmp_path,
                                                                    capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    shutil.rmtree(copy / "replay")
    assert cli.main(["replay", str(copy), "--chunk-s", str(CHUNK_S)]) == 0
    assert "wrote" in capsys.readouterr().err
    again = read_replay(copy / "replay")
    assert again.manifest == bundle.manifest
    for meta in bundle.chunks:
        assert (copy / "replay" / meta["file"]).read_bytes() == (bundle.root / meta["file"]).read_bytes()
    for name in ("events.bin", "vehicles.bin", "layers/coverage.bin", "terrain/hillshade.png",
                 "layers/zones.json", "index.html", "js/main.js"):
        assert (copy / "replay" / name).read_bytes() == (bundle.root / name).read_bytes()
    # The run directory it was rebuilt from reads back to the same run.
    assert len(read_run(copy).legs["leg"]) == bundle.manifest["keyframes"]["legs"]
    # Rebuilding again replaces the bundle in place.
    assert cli.main(["replay", str(copy)]) == 0
    assert read_replay(copy / "replay").manifest["version"] == FORMAT_VERSION
    assert not [p for p in copy.iterdir() if p.name.startswith(".")]


def test_cli_replay_of_a_missing_run_fails_cleanly(tmp_path, capsys):
    assert cli.main(["replay", str(tmp_path / "nope")]) == 2
    assert "no such run directory" in capsys.readouterr().err


@pytest.mark.parametrize("flag, yaml_replay, expect", [
    ([], "", True), (["--no-replay"], "", False), ([], "outputs: {metrics_cell_m: 50, replay: false}", False),
])
def test_cli_run_writes_the_bundle_unless_told_not_to(tmp_path, flag, yaml_replay, expect):
    text = SCENARIO.replace("run: {duration_s: 1500, seed: 5}", "run: {duration_s: 200, seed: 5}")
    if yaml_replay:
        text = text.replace("outputs: {metrics_cell_m: 50}", yaml_replay)
    scn = tmp_path / "s.yaml"
    scn.write_text(text)
    out = tmp_path / "run"
    assert cli.main(["run", str(scn), "--out", str(out), "-q", *flag]) == 0
    assert (out / "replay" / "manifest.json").is_file() == expect
    if expect:
        m = json.loads((out / "replay" / "manifest.json").read_text())
        assert m["time"]["end_s"] == 200.0
        assert (out / "replay" / "index.html").is_file()
        assert set(m["viewer"]) >= {"index.html", "viewer.css", "js/main.js", "FORMAT.md"}


def test_without_the_viewer_folder_the_data_is_written_with_a_warning(tmp_path, small_run,
                                                                      monkeypatch):
    monkeypatch.setenv("FLEETSIM_VIZ_DIR", str(tmp_path / "no-viewer-here"))
    with pytest.warns(UserWarning, match="without its viewer"):
        write_replay_into(tmp_path / "b", small_run)
    b = read_replay(tmp_path / "b")
    assert "viewer" not in b.manifest and not (tmp_path / "b" / "index.html").exists()
    assert len(b.chunks) >= 1

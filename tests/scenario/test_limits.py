"""Validation without holes: positions within the terrain for every terrain source,
bounded sizes, a memory estimate before allocation, bounded YAML and GeoJSON.

Each test reproduces an input that used to crash, hang or run with nonsense
(MemoryError, OverflowError, ZeroDivisionError, RecursionError, NaN heights in
the legs, a base 100,000 km off the map) and checks the one-line error now given.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from fleetsim.cli import main, validate_scenario
from fleetsim.errors import ScenarioError
from fleetsim.scenario import load_scenario, load_scenario_text, scenario_from_source
from fleetsim.scenario.budget import BYTES, estimate_memory

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"

#: A small scenario on a file DEM (the terrain line is replaced per test).
DEM_SCENARIO = """\
name: dem_test
run: {duration_s: 600}
world:
  terrain: TERRAIN
  sites:
    - {id: home, kind: base, position: [500, 500]}
fleet:
  types:
    - {id: q, kind: multirotor, count: 2, base: home, cruise_speed_mps: 10,
       climb_rate_mps: 3, battery_wh: 100, hover_power_w: 100, cruise_power_w: 90,
       recharge_time_s: 600, sensor: {footprint_radius_m: 30}}
missions:
  - {id: m, kind: coverage, area: {rect: [200, 200, 800, 800]}}
policy: {name: lawnmower}
"""


def _error(fn, *args, **kwargs) -> str:
    with pytest.raises(ScenarioError) as info:
        fn(*args, **kwargs)
    text = str(info.value)
    assert "\n" not in text
    return text


def _dem_scenario(tmp_path: Path, terrain: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(DEM_SCENARIO.replace("TERRAIN", terrain))
    return path


def _npy_header(path: Path, shape: tuple[int, ...], payload: bytes = b"\0" * 16) -> None:
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False,
                                                 "shape": shape})
        f.write(payload)


def _geotiff(path: Path, arr: np.ndarray | None, shape: tuple[int, int], pixel_m: float,
             **extra) -> None:
    rasterio = pytest.importorskip("rasterio")
    from rasterio.transform import Affine

    with rasterio.open(path, "w", driver="GTiff", height=shape[0], width=shape[1], count=1,
                       dtype="float64", crs="EPSG:32633",
                       transform=Affine(pixel_m, 0, 500_000, 0, -pixel_m, 4_000_000),
                       **extra) as ds:
        if arr is not None:
            ds.write(arr, 1)


# ------------------------------------------------------------------ file DEMs


def test_npy_whose_header_claims_1e10_points_is_refused_before_reading(tmp_path):
    _npy_header(tmp_path / "dem.npy", (100_000, 100_000))
    assert (tmp_path / "dem.npy").stat().st_size < 1_000
    path = _dem_scenario(tmp_path, "{source: npy, path: dem.npy, spacing_m: 100}")
    assert _error(validate_scenario, path) == (
        f"{path}:4: world.terrain.path: the height grid is 100,000 x 100,000 points (rows x "
        f"columns), 10,000,000,000 in all; at most 100,000,000 are supported (resample the "
        f"DEM to a coarser spacing) (terrain file {tmp_path / 'dem.npy'})")


def test_truncated_npy_is_refused(tmp_path):
    _npy_header(tmp_path / "dem.npy", (300, 300))
    path = _dem_scenario(tmp_path, "{source: npy, path: dem.npy, spacing_m: 100}")
    assert _error(load_scenario, path) == (
        f"{path}:4: world.terrain.path: the file is truncated: its header describes 300 x 300 "
        f"float64 heights (720,000 bytes) but it holds 16 (terrain file {tmp_path / 'dem.npy'})")


def test_sparse_20k_geotiff_is_refused_from_its_metadata(tmp_path):
    _geotiff(tmp_path / "dem.tif", None, (20_000, 20_000), 30.0, tiled=True, sparse_ok=True)
    assert (tmp_path / "dem.tif").stat().st_size < 100_000  # the tile index only
    path = _dem_scenario(tmp_path, "{source: geotiff, path: dem.tif}")
    assert _error(validate_scenario, path) == (
        f"{path}:4: world.terrain.path: the raster is 20,000 x 20,000 pixels (rows x columns), "
        f"400,000,000 in all; at most 100,000,000 are supported (resample the DEM to a coarser "
        f"spacing) (terrain file {tmp_path / 'dem.tif'})")


@pytest.mark.parametrize("height", [1e308, -1e308, 17_700.0, -12_500.0])
def test_file_dem_heights_must_be_plausible(tmp_path, height):
    arr = np.full((11, 11), 100.0)
    arr[3, 4] = height
    np.save(tmp_path / "dem.npy", arr)
    path = _dem_scenario(tmp_path, "{source: npy, path: dem.npy, spacing_m: 100}")
    lo, hi = min(100.0, height), max(100.0, height)
    assert _error(validate_scenario, path) == (
        f"{path}:4: world.terrain.path: heights range {lo:g}..{hi:g} m; heights of the "
        f"Earth's surface lie within -12000..9000 m (are they in another unit, or is the "
        f"nodata value unset?) (terrain file {tmp_path / 'dem.npy'})")


def test_geotiff_heights_must_be_plausible(tmp_path):
    _geotiff(tmp_path / "dem.tif", np.full((11, 11), 1e308), (11, 11), 100.0)
    path = _dem_scenario(tmp_path, "{source: geotiff, path: dem.tif}")
    assert "heights range 1e+308..1e+308 m" in _error(validate_scenario, path)


def test_npy_spacing_of_a_millimetre_is_refused(tmp_path):
    np.save(tmp_path / "dem.npy", np.zeros((11, 11)))
    path = _dem_scenario(tmp_path, "{source: npy, path: dem.npy, spacing_m: 1e-3}")
    assert _error(load_scenario, path) == (
        f"{path}:4: world.terrain.spacing_m: expected a number >= 0.1 and <= 100000, got 0.001")


def test_geotiff_with_micrometre_pixels_is_refused(tmp_path):
    _geotiff(tmp_path / "dem.tif", np.zeros((11, 11)), (11, 11), 1e-6)
    path = _dem_scenario(tmp_path, "{source: geotiff, path: dem.tif}")
    assert _error(load_scenario, path) == (
        f"{path}:4: world.terrain.path: the raster's pixels are 1e-06 m; at least 0.1 m is "
        f"supported (resample the DEM, e.g. gdalwarp -tr 1 1)")


# The DEM is 11 x 11 points at 100 m: x 0..1000 m, y 0..1000 m.
EXTENT = "(x 0..1000 m, y 0..1000 m)"
POSITIONS = [
    ("world.sites[0].position=[99999, 500]", "world.sites[0].position",
     f"site position (99999, 500) lies outside the terrain {EXTENT}"),
    ("missions[0].area={rect: [200, 200, 1800, 800]}", "missions[0].area",
     f"the mission area (x 200..1800 m, y 200..800 m) reaches outside the terrain {EXTENT}"),
    ("world.zones=[{id: z, kind: no_fly, rect: [1000, 900, 1100, 950]}]", "world.zones[0].rect",
     f"the zone 'z' (x 1000..1100 m, y 900..950 m) lies outside the terrain {EXTENT}; it "
     "must overlap it"),
    ("world.water={polygon: [[0, -100], [2000, -100], [0, -500]]}", "world.water.polygon",
     f"the water polygon (x 0..2000 m, y -500..-100 m) lies outside the terrain {EXTENT}; it "
     "must overlap it"),
    ("world.roads={source: grid, extent: [0, 0, 1000, 5000], spacing_m: 250}",
     "world.roads.extent", f"the roads' extent reaches outside the terrain {EXTENT}"),
]


@pytest.mark.parametrize("source", ["npy", "geotiff"])
@pytest.mark.parametrize(("override", "at", "message"), POSITIONS,
                         ids=[p[1] for p in POSITIONS])
def test_positions_are_checked_against_a_file_dem(tmp_path, source, override, at, message):
    if source == "npy":
        np.save(tmp_path / "dem.npy", np.zeros((11, 11)))
        terrain = "{source: npy, path: dem.npy, spacing_m: 100}"
    else:
        _geotiff(tmp_path / "dem.tif", np.zeros((11, 11)), (11, 11), 100.0)
        terrain = "{source: geotiff, path: dem.tif}"
    path = _dem_scenario(tmp_path, terrain)
    assert load_scenario(path).name == "dem_test"
    # A zone may reach past the edge of the map (not lie wholly off it).
    assert load_scenario(path, ["world.zones=[{id: z, kind: no_fly, rect: [900, 900, 1100, "
                                "1950]}]"]).zones[0].id == "z"
    assert _error(load_scenario, path, [override]) == f"--set {override}: {at}: {message}"


def test_order_destinations_are_checked_against_a_file_dem(tmp_path):
    np.save(tmp_path / "dem.npy", np.zeros((11, 11)))
    text = DEM_SCENARIO.replace("TERRAIN", "{source: npy, path: dem.npy, spacing_m: 100}")
    text = text.replace("kind: base,", "kind: depot,").replace(
        "recharge_time_s: 600,", "recharge_time_s: 600, payload_kg: 2,")
    text += "logistics:\n  orders:\n    - {origin: home, destination: [1500, 20], weight_kg: 1}\n"
    (tmp_path / "s.yaml").write_text(text)
    assert _error(load_scenario, tmp_path / "s.yaml") == (
        f"{tmp_path / 's.yaml'}:17: logistics.orders[0].destination: destination (1500, 20) "
        f"lies outside the terrain {EXTENT}")


# ------------------------------------------------------------------ bounds

SAR = SCENARIOS / "search_and_rescue.yaml"
OVT = SCENARIOS / "oversight_tradeoff.yaml"
CITY = SCENARIOS / "city_delivery.yaml"
SWARM = SCENARIOS / "swarm_10k.yaml"

BOUNDS = [
    (SAR, "world.terrain.ridges=1000000000000",
     "world.terrain.ridges: expected an integer >= 0 and <= 1000, got 1000000000000"),
    (SAR, "world.terrain.spacing_m=9000",
     "world.terrain.spacing_m: spacing_m = 9000 m is wider than the terrain (8000 x 6000 m); "
     "expected at most 6000 m"),
    (SAR, "world.terrain.spacing_m=1e200",
     "world.terrain.spacing_m: expected a number >= 0.1 and <= 100000, got 1e+200"),
    (SAR, "world.sites[0].radio_range_m=1e160",
     "world.sites[0].radio_range_m: expected a number > 0 and <= 1e+07 or null, got 1e+160"),
    (SAR, "world.zones[0].rect=[0, 0, 100, 1e300]",
     "world.zones[0].rect[3]: expected a number >= -1e+07 and <= 1e+07, got 1e+300"),
    (SAR, "world.zones[0].polygon=[[-1e308, 0], [100, 0], [100, 100]]",
     "world.zones[0].polygon[0][0]: expected a number >= -1e+07 and <= 1e+07, got -1e+308"),
    (CITY, "logistics.demand[0].priority=1e30",
     "logistics.demand[0].priority: expected an integer >= -1000000 and <= 1000000, got "
     "1.000e+30"),
    (SAR, "outputs.metrics_cell_m=0.001",
     "outputs.metrics_cell_m: expected a number >= 0.1 and <= 100000, got 0.001"),
    (SAR, "run.monitor_window_s=1e-9",
     "run.monitor_window_s: expected a number >= 0.01 and <= 1e+09, got 1e-09"),
    (OVT, "oversight.detection_review.false_alarms_per_vehicle_hour=1e9",
     "oversight.detection_review.false_alarms_per_vehicle_hour: expected a number >= 0 and "
     "<= 3600, got 1000000000.0"),
    (OVT, "oversight.operators=1e9",
     "oversight.operators: expected an integer >= 1 and <= 100000, got 1000000000"),
    (OVT, "oversight.shifts=[{start_s: 0, end_s: 60, count: 1e9}]",
     "oversight.shifts[0].count: expected an integer >= 0 and <= 100000, got 1000000000"),
    (SAR, "missions[0].random_targets=1e7",
     "missions[0].random_targets: expected an integer >= 0 and <= 1000000, got 10000000"),
    (SAR, "fleet.types[0].cruise_power_w=1e16",
     "fleet.types[0].cruise_power_w: expected a number > 0 and <= 1e+07, got 1e+16"),
    (SAR, "fleet.types[0].bases={base: 1000000}",
     "fleet.types[0].bases.base: expected an integer >= 0 and <= 200000, got 1000000"),
    (SAR, "fleet.types[0].sensor={camera_fov_deg: 179.99999999}",
     "fleet.types[0].sensor.camera_fov_deg: a camera of 180 degrees at 80 m sees 9.17e+11 m "
     "around; at most 1e+07 m (a narrower field of view or a lower altitude)"),
    (SAR, "run.duration_s=1e8",
     None),  # three years of 20 drones are accepted
]


@pytest.mark.parametrize(("scenario", "override", "message"), BOUNDS,
                         ids=[b[1].split("=")[0] for b in BOUNDS])
def test_size_like_values_are_bounded(monkeypatch, scenario, override, message):
    monkeypatch.setenv("FLEETSIM_MEMORY_GB", "16")
    if message is None:
        assert load_scenario(scenario, [override]).name
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no library warning leaks before the error
        assert _error(load_scenario, scenario, [override]) == f"--set {override}: {message}"


def test_the_whole_fleet_is_capped_across_types(monkeypatch):
    monkeypatch.setenv("FLEETSIM_MEMORY_GB", "16")
    # 100,000 drones (the benchmark's fleet) are accepted ...
    s = load_scenario(SWARM, ["fleet.types[0].bases={sw: 25000, se: 25000, nw: 25000, "
                              "ne: 25000}"])
    assert sum(g.count for g in s.vehicles) == 100_000
    # ... but two types of 150,000 each are not, though each is within the per-type cap.
    text = SWARM.read_text().replace("bases: {sw: 2500, se: 2500, nw: 2500, ne: 2500}",
                                     "count: 150000\n      base: sw")
    text = text.replace("missions:", (
        "    - {id: two, kind: fixed_wing, count: 150000, base: se, cruise_speed_mps: 18,\n"
        "       climb_rate_mps: 4, battery_wh: 600, hover_power_w: 160, cruise_power_w: 150,\n"
        "       recharge_time_s: 3600, sensor: {footprint_radius_m: 350}}\nmissions:"), 1)
    assert _error(load_scenario_text, text, filename="swarm.yaml") == (
        "swarm.yaml:27: fleet.types: the fleet has 300,000 vehicles in all; at most 200,000 "
        "are supported in one run")


def test_a_fleet_of_no_vehicles_is_refused():
    override = "fleet.types[0].bases={west_trailhead: 0, east_trailhead: 0}"
    assert _error(load_scenario, SAR, [override]) == (
        f"{SAR}:28: fleet.types: the fleet has no vehicles (every count is 0); give at least "
        "one vehicle type a count > 0")


def test_metrics_cells_larger_than_the_mission_area_are_refused():
    assert _error(load_scenario, SAR, ["outputs.metrics_cell_m=90000"]) == (
        "--set outputs.metrics_cell_m=90000: outputs.metrics_cell_m: cells of 90000 m leave no "
        "cell centre inside the mission area (x 1000..7000 m, y 1000..5000 m), so coverage "
        "could not be measured; expected at most 4000 m")


def test_too_many_monitor_windows_are_refused():
    assert _error(load_scenario, SAR, ["run.duration_s=1e8", "run.monitor_window_s=0.01"]) == (
        "--set run.monitor_window_s=0.01: run.monitor_window_s: 1e+08 s in windows of 0.01 s "
        "are 10,000,000,000 windows; at most 20,000,000 (expected a window of at least 5 s)")


def test_memory_estimate_is_checked_before_allocation(monkeypatch):
    monkeypatch.setenv("FLEETSIM_MEMORY_GB", "16")
    # 100 km x 100 km at 1 m cells: 10^10 cells of the metrics raster, 1 TB.
    assert _error(load_scenario, SWARM, ["outputs.metrics_cell_m=1"]) == (
        "--set outputs.metrics_cell_m=1: outputs.metrics_cell_m: a run of this scenario needs "
        "an estimated 1 TB of memory (metrics raster 1 TB, fleetsim itself 400 MB, vehicles "
        "400 MB), more than the limit of 16 GB ($FLEETSIM_MEMORY_GB)")
    monkeypatch.setenv("FLEETSIM_MEMORY_GB", "2000")
    assert load_scenario(SWARM, ["outputs.metrics_cell_m=1"]).outputs.metrics_cell_m == 1.0


def test_memory_estimate_adds_up_the_parts(monkeypatch):
    s = load_scenario(OVT)
    terrain_points = 241 * 161  # 12 x 8 km at 50 m
    est = estimate_memory(s, terrain_points=terrain_points, terrain_extent=(0, 0, 12e3, 8e3),
                          metrics_cells=1234)
    n = sum(g.count for g in s.vehicles)
    hours = s.run.duration_s / 3600
    review = s.oversight.detection_review
    assert est.parts["vehicles"] == n * BYTES["vehicle"]
    assert est.parts["terrain"] == terrain_points * BYTES["terrain_point"]
    assert est.parts["metrics raster"] == 1234 * BYTES["metrics_cell"]
    assert est.parts["operators"] == (s.oversight.operators + sum(
        w.count for w in s.oversight.shifts)) * BYTES["operator"]
    alarms = (sum(x.false_alarms_per_hour for x in s.sites) * hours
              + (review.false_alarms_per_vehicle_hour * n * hours if review else 0))
    assert est.parts.get("false alarms", 0.0) == pytest.approx(alarms * BYTES["false_alarm"])
    assert est.total == pytest.approx(sum(est.parts.values()))


def test_random_targets_in_a_sliver_are_refused():
    assert _error(load_scenario, SAR, [
        "missions[0].area={polygon: [[0, 0], [8000, 6000], [8000, 5999.99]]}",
        "missions[0].targets=[]", "missions[0].random_targets=1000"]) == (
        "--set missions[0].random_targets=1000: missions[0].random_targets: the mission area "
        "fills 8.3e-07 of its bounding box, so placing 1,000 random targets would take "
        "~1.2e+09 draws (at most 100,000,000); give fewer targets or a more compact area")


# ------------------------------------------------------------------ YAML and GeoJSON


def _minimal() -> str:
    return (SCENARIOS / "search_and_rescue.yaml").read_text()


def test_merge_key_bomb_is_refused_at_once():
    lines = ["m0: &m0 {x: 1}"] + [
        f"m{k}: &m{k} {{<<: [{', '.join([f'*m{k - 1}'] * 10)}]}}" for k in range(1, 10)]
    t0 = time.perf_counter()
    assert _error(load_scenario_text, "\n".join(lines) + "\n" + _minimal(),
                  filename="bomb.yaml") == (
        "bomb.yaml:5: aliases and merge keys repeat more than 200,000 values (the anchor at "
        "line 5 is repeated too often); write the values out or use fewer aliases")
    # It hung for ~30 min at 9 levels; now ~1 s. 10 s is the suite's bound for a hang,
    # wide enough for a loaded machine.
    assert time.perf_counter() - t0 < 10.0


def test_merged_mappings_still_work_when_repeated():
    # A mapping merged several times is expanded once, and merges still resolve.
    text = _minimal().replace("params: {}", "params: {a: &d {k: 1}, c: {<<: [*d, *d], b: 2}}")
    assert load_scenario_text(text).policy.params == {"a": {"k": 1}, "c": {"k": 1, "b": 2}}


@pytest.mark.parametrize("deep", ["[" * 500 + "]" * 500, "{a: " * 500 + "1" + "}" * 500])
def test_deep_nesting_is_a_one_line_error_with_exit_2(tmp_path, capsys, deep):
    path = tmp_path / "deep.yaml"
    path.write_text(_minimal().replace("run:", f"deep: {deep}\nrun:", 1))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == (f"fleetsim: error: {path}:8: invalid YAML: lists and mappings nest more "
                   f"than 64 deep (a scenario needs fewer than 10 levels)\n")


def test_deep_nesting_through_aliases_is_refused():
    lines = ["a0: &a0 [1]"] + [f"a{k}: &a{k} [*a{k - 1}]" for k in range(1, 100)]
    message = _error(load_scenario_text, "\n".join(lines) + "\n", filename="a.yaml")
    assert message.endswith("lists and mappings nest more than 64 deep once aliases and "
                            "merge keys are expanded")
    assert len(message) < 200


def test_deep_override_and_deep_source_are_refused():
    assert _error(load_scenario, SAR, ["policy.params.x=" + "[" * 100 + "]" * 100]).endswith(
        "lists and mappings nest more than 64 deep (a scenario needs fewer than 10 levels)")
    source = dict(load_scenario(SAR).source)
    deep: list = []
    for _ in range(200):
        deep = [deep]
    source["policy"] = {"name": "lawnmower", "params": {"x": deep}}
    assert _error(scenario_from_source, source).endswith(
        "lists and mappings nest more than 64 deep")


def test_deep_geojson_roads_are_refused(tmp_path):
    (tmp_path / "roads.geojson").write_text("[" * 100_000 + "]" * 100_000)
    text = (SCENARIOS / "disaster_relief.yaml").read_text()
    path = tmp_path / "s.yaml"
    start = text.index("    source: planar")
    end = text.index("    closures:")
    path.write_text(text[:start] + "    source: geojson\n    path: roads.geojson\n" + text[end:])
    message = _error(validate_scenario, path)
    assert message.endswith(f"world.roads: cannot build the road network: "
                            f"{tmp_path / 'roads.geojson'}: arrays and objects nest 100000 "
                            f"deep; GeoJSON roads need fewer than 8 (at most 32); expected a "
                            f"GeoJSON FeatureCollection of LineString features")


def test_geojson_coordinates_are_bounded(tmp_path):
    from fleetsim.logistics.network import geojson_network

    doc = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {
        "type": "LineString", "coordinates": [[0, 0], [1e300, 0]]}, "properties": {}}]}
    (tmp_path / "r.geojson").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"coordinate 1 is \[1e\+300, 0\]; coordinates are "
                                         r"local metres within \+-1e\+07"):
        geojson_network(tmp_path / "r.geojson")

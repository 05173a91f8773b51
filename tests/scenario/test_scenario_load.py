"""Loading scenario files: values, every class of error (file:line: path: message), overrides,
locations and the plain-data source round trip."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from fleetsim.errors import ScenarioError
from fleetsim.scenario import (
    DetectionSpec,
    OutputSpec,
    PolicySpec,
    RunSpec,
    SensorSpec,
    SiteSpec,
    TargetSpec,
    TerrainSpec,
    TimeWindow,
    VehicleGroupSpec,
    load_scenario,
    load_scenario_text,
    scenario_from_source,
    scenario_to_source,
)

FILE = "scenarios/x.yaml"

# Line numbers matter: the expected messages below name them.
FULL = """\
schema_version: 1
name: wildfire_watch
description: "Watch the ridges for fires"
run: {duration_s: 3600, seed: 7, monitor_window_s: 10}
world:
  terrain: {source: procedural, size_m: [20000, 15000], spacing_m: 50, relief_m: 900, ridges: 6, base_elevation_m: 200, origin_m: [0, 0]}
  zones:
    - id: airport
      kind: no_fly
      polygon: [[0, 0], [1000, 0], [1000, 1000], [0, 1000]]
      holes: [[[100, 100], [200, 100], [200, 200]]]
      floor_amsl_m: 0
      ceiling_amsl_m: 1500
      active: {start_s: 0, end_s: 1800}
  sites:
    - {id: north, kind: base, position: [1000, 14000], pads: 20}
    - {id: south, kind: base, position: [1000, 1000]}
    - {id: depot1, kind: customer, position: [5000, 1000]}
fleet:
  types:
    - id: quad
      kind: multirotor
      domain: air
      count: 5000
      base: north
      cruise_speed_mps: 15
      climb_rate_mps: 4
      cruise_altitude_agl_m: 120
      battery_wh: 180
      hover_power_w: 220
      cruise_power_w: 180
      reserve_fraction: 0.2
      recharge_time_s: 2700
      terrain_clearance_m: 30
      sensor:
        footprint_radius_m: 80
        detection: {model: definite_range}
    - id: wing
      kind: fixed_wing
      bases: {north: 3, south: 2}
      cruise_speed_mps: 25
      climb_rate_mps: 3
      battery_wh: 500
      hover_power_w: 300
      cruise_power_w: 150
      recharge_time_s: 3600
      sensor:
        camera_fov_deg: 90
        detection: {model: inverse_cube, sweep_width_m: 120}
missions:
  - id: valley
    kind: search
    area:
      polygon: [[2000, 2000], [8000, 2000], [8000, 8000], [2000, 8000]]
      holes: [[[3000, 3000], [4000, 3000], [4000, 4000]]]
    targets: [[5000, 5000], {id: hiker, position: [6000, 6000]}]
    random_targets: 40
  - id: ridge
    kind: coverage
    area: {rect: [10000, 10000, 12000, 11000]}
policy:
  name: lawnmower
  params:
    spacing_m: 150
    pattern: {turns: [1, 2]}
outputs: {metrics_cell_m: 50, replay: true}
"""

MINIMAL = """\
name: tiny
run: {duration_s: 60}
world:
  sites: [{id: home, kind: base, position: [10, 10]}]
fleet:
  types:
    - {id: q, kind: multirotor, count: 5000, base: home, cruise_speed_mps: 10, climb_rate_mps: 2,
       battery_wh: 100, hover_power_w: 200, cruise_power_w: 150, recharge_time_s: 600,
       sensor: {footprint_radius_m: 40}}
policy: {name: lawnmower}
"""


def edit(old: str, new: str, text: str = FULL) -> str:
    assert text.count(old) >= 1, old
    return text.replace(old, new, 1)


def error_of(text: str, overrides: tuple[str, ...] = ()) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, filename=FILE, overrides=overrides)
    return str(info.value)


# --------------------------------------------------------------------------------------
# A valid scenario


def test_line_numbers_of_the_fixture_are_what_the_messages_assume():
    lines = FULL.splitlines()
    assert lines[23] == "      count: 5000"
    assert lines[40] == "      cruise_speed_mps: 25"
    assert lines[63] == "    spacing_m: 150"


def test_full_scenario_loads_with_the_right_values():
    s = load_scenario_text(FULL, filename=FILE, base_dir="/data/scen")
    assert s.name == "wildfire_watch"
    assert s.description == "Watch the ridges for fires"
    assert s.base_dir == "/data/scen"
    assert s.run == RunSpec(duration_s=3600.0, seed=7, monitor_window_s=10.0)
    assert s.terrain == TerrainSpec(source="procedural", size_m=(20000.0, 15000.0), spacing_m=50.0,
                                    origin_m=(0.0, 0.0), base_elevation_m=200.0, relief_m=900.0,
                                    ridges=6, path=None)
    (zone,) = s.zones
    assert zone.id == "airport" and zone.kind == "no_fly"
    assert zone.exterior == ((0.0, 0.0), (1000.0, 0.0), (1000.0, 1000.0), (0.0, 1000.0))
    assert zone.holes == (((100.0, 100.0), (200.0, 100.0), (200.0, 200.0)),)
    assert (zone.floor_amsl_m, zone.ceiling_amsl_m) == (0.0, 1500.0)
    assert zone.active == TimeWindow(start_s=0.0, end_s=1800.0)
    assert s.sites == (SiteSpec("north", "base", (1000.0, 14000.0), 20),
                       SiteSpec("south", "base", (1000.0, 1000.0), 1),
                       SiteSpec("depot1", "customer", (5000.0, 1000.0), 1))
    quad, wing = s.vehicle_types
    assert (quad.id, quad.kind, quad.domain) == ("quad", "multirotor", "air")
    assert (quad.cruise_speed_mps, quad.climb_rate_mps, quad.cruise_altitude_agl_m) == (15, 4, 120)
    assert (quad.battery_wh, quad.hover_power_w, quad.cruise_power_w) == (180, 220, 180)
    assert (quad.reserve_fraction, quad.recharge_time_s, quad.terrain_clearance_m) == (0.2, 2700, 30)
    assert quad.sensor == SensorSpec(footprint_radius_m=80.0, camera_fov_deg=None,
                                     detection=DetectionSpec("definite_range", 160.0))
    # Defaults, and a camera footprint derived from the default altitude of 100 m.
    assert (wing.cruise_altitude_agl_m, wing.reserve_fraction, wing.terrain_clearance_m) == (
        100.0, 0.2, 30.0)
    assert wing.sensor.camera_fov_deg == 90.0
    assert wing.sensor.footprint_radius_m == pytest.approx(100.0)
    assert wing.sensor.detection == DetectionSpec("inverse_cube", 120.0)
    assert s.vehicles == (VehicleGroupSpec("quad", "north", 5000),
                          VehicleGroupSpec("wing", "north", 3),
                          VehicleGroupSpec("wing", "south", 2))
    valley, ridge = s.missions
    assert (valley.id, valley.kind, valley.random_targets) == ("valley", "search", 40)
    assert valley.holes == (((3000.0, 3000.0), (4000.0, 3000.0), (4000.0, 4000.0)),)
    assert valley.targets == (TargetSpec("valley-target0", (5000.0, 5000.0)),
                              TargetSpec("hiker", (6000.0, 6000.0)))
    assert ridge.exterior == ((10000.0, 10000.0), (12000.0, 10000.0), (12000.0, 11000.0),
                              (10000.0, 11000.0))
    assert (ridge.targets, ridge.random_targets) == ((), 0)
    assert s.policy == PolicySpec("lawnmower", {"spacing_m": 150, "pattern": {"turns": [1, 2]}})
    assert s.outputs == OutputSpec(metrics_cell_m=50.0, replay=True)
    assert all(type(x) is float for x in (s.run.duration_s, quad.battery_wh, s.sites[0].position[0]))
    assert type(s.run.seed) is int


def test_count_on_one_line_gives_one_group():
    s = load_scenario_text(MINIMAL)
    assert s.vehicles == (VehicleGroupSpec(type="q", base="home", count=5000),)


def test_defaults_of_a_minimal_scenario():
    s = load_scenario_text(MINIMAL, base_dir=".")
    assert s.terrain == TerrainSpec()
    assert s.zones == () and s.missions == ()
    assert s.run == RunSpec(duration_s=60.0)
    assert s.outputs == OutputSpec()
    assert s.policy == PolicySpec("lawnmower", {})
    assert s.base_dir == os.path.abspath(".")
    assert s.vehicle_types[0].sensor.detection == DetectionSpec("definite_range", 80.0)


def test_load_scenario_reads_a_file_and_resolves_against_its_folder(tmp_path):
    # The header of the file gives the terrain's extent (20010 x 15000 m at 30 m), which the
    # positions are checked against.
    np.save(tmp_path / "dem.npy", np.zeros((501, 668), dtype=np.float32))
    path = tmp_path / "s.yaml"
    path.write_text(edit("{source: procedural, size_m: [20000, 15000], spacing_m: 50, relief_m: 900, "
                         "ridges: 6, base_elevation_m: 200, origin_m: [0, 0]}",
                         "{source: npy, path: dem.npy, spacing_m: 30}"))
    s = load_scenario(path)
    assert s.terrain == TerrainSpec(source="npy", path="dem.npy", spacing_m=30.0)
    assert s.base_dir == str(tmp_path)
    assert s.locate("fleet.types[1].cruise_speed_mps") == (str(path), 41)


def test_yaml_12_scalars_and_merge_keys():
    text = edit("policy:\n  name: lawnmower\n  params:\n",
                "policy:\n  name: lawnmower\n  params:\n    a: yes\n    b: 1e3\n    c: 2024-01-01\n"
                "    d: 0x10\n    e: 1_000\n    f: ~\n")
    assert load_scenario_text(text).policy.params == {
        "a": "yes", "b": 1000.0, "c": "2024-01-01", "d": 16, "e": 1000, "f": None,
        "spacing_m": 150, "pattern": {"turns": [1, 2]}}
    anchors = MINIMAL.replace(
        "    - {id: q,", "    - &q {id: q,").replace(
        "policy:", "    - {<<: *q, id: r, cruise_speed_mps: 20}\npolicy:")
    s = load_scenario_text(anchors)
    assert [t.id for t in s.vehicle_types] == ["q", "r"]
    assert [t.cruise_speed_mps for t in s.vehicle_types] == [10.0, 20.0]
    assert s.vehicles[1] == VehicleGroupSpec("r", "home", 5000)


# --------------------------------------------------------------------------------------
# Errors: file:line: path: what was found and what would be valid

ERRORS = [
    pytest.param("cruise_speed_mps: 25", "cruise_speed_mps: fast",
                 "scenarios/x.yaml:41: fleet.types[1].cruise_speed_mps: expected a number >= 0.01 and <= 1000, "
                 "got 'fast'", id="wrong-type"),
    pytest.param("battery_wh: 500", "battery_wh: true",
                 "scenarios/x.yaml:43: fleet.types[1].battery_wh: expected a number > 0 and <= 1e+12, got true",
                 id="bool-for-number"),
    pytest.param("seed: 7", "seed: false",
                 "scenarios/x.yaml:4: run.seed: expected an integer >= 0, got false",
                 id="bool-for-integer"),
    pytest.param("count: 5000", "count: 12.5",
                 "scenarios/x.yaml:24: fleet.types[0].count: expected an integer >= 0 and <= 200000, got 12.5",
                 id="fraction-for-integer"),
    pytest.param("reserve_fraction: 0.2", "reserve_fraction: 1.5",
                 "scenarios/x.yaml:32: fleet.types[0].reserve_fraction: expected a number >= 0 "
                 "and < 1, got 1.5", id="out-of-range"),
    pytest.param("hover_power_w: 300", "hover_power_w: .inf",
                 "scenarios/x.yaml:44: fleet.types[1].hover_power_w: expected a finite number >= 0 "
                 "and <= 1e+07, got .inf", id="infinite"),
    pytest.param("duration_s: 3600", "duration_s: .nan",
                 "scenarios/x.yaml:4: run.duration_s: expected a finite number > 0 and <= 1e+08, got .nan",
                 id="nan"),
    pytest.param("climb_rate_mps: 3", "climb_rat_mps: 3",
                 "scenarios/x.yaml:42: fleet.types[1].climb_rat_mps: unknown key 'climb_rat_mps'; "
                 "did you mean 'climb_rate_mps'? (valid keys: id, kind, domain, count, base, bases, "
                 "cruise_speed_mps, climb_rate_mps, cruise_altitude_agl_m, battery_wh, "
                 "hover_power_w, cruise_power_w, reserve_fraction, recharge_time_s, "
                 "terrain_clearance_m, relay_range_m, sensor, payload_kg, energy, carrier, "
                 "carrier_slots, airframe, airframe_params, turn_penalty_s_per_rad, "
                 "leg_overhead_s, "
                 "climb_energy_wh_per_m, bank_angle_deg)", id="unknown-key-with-suggestion"),
    pytest.param("outputs: {", "outputs: {colour: red, ",
                 "scenarios/x.yaml:66: outputs.colour: unknown key 'colour' (valid keys: "
                 "metrics_cell_m, replay, "
                 "timeseries_step_s)", id="unknown-key-without-suggestion"),
    pytest.param("      battery_wh: 500\n", "",
                 "scenarios/x.yaml:38: fleet.types[1]: missing required key 'battery_wh' "
                 "(a number > 0 and <= 1e+12)", id="missing-required-key"),
    pytest.param("name: wildfire_watch\n", "",
                 "scenarios/x.yaml:1: missing required key 'name' (an id (letters, digits, '_', '-' and '.'; not starting with '-' or '.'))",
                 id="missing-top-level-key"),
    pytest.param("run: {duration_s: 3600, seed: 7, monitor_window_s: 10}", "run: [3600, 7]",
                 "scenarios/x.yaml:4: run: expected a mapping with keys duration_s, seed, "
                 "monitor_window_s, got a list of 2 items", id="list-for-mapping"),
    pytest.param("kind: multirotor", "kind: multirotr",
                 "scenarios/x.yaml:22: fleet.types[0].kind: expected one of 'multirotor', "
                 "'fixed_wing', 'wheeled', 'vessel', got 'multirotr'; did you mean "
                 "'multirotor'?", id="bad-choice"),
    pytest.param("base: north", "base: nroth",
                 "scenarios/x.yaml:25: fleet.types[0].base: unknown base 'nroth'; did you mean "
                 "'north'? (known bases and depots: north, south)", id="unknown-base"),
    pytest.param("bases: {north: 3, south: 2}", "bases: {north: 3, depot1: 2}",
                 "scenarios/x.yaml:40: fleet.types[1].bases.depot1: site 'depot1' is a customer, "
                 "not a base or depot (known bases and depots: north, south)",
                 id="base-not-of-kind-base"),
    pytest.param("id: wing", "id: quad",
                 "scenarios/x.yaml:38: fleet.types[1].id: duplicate vehicle type id 'quad' "
                 "(already used by fleet.types[0].id, line 21); ids must be unique",
                 id="duplicate-type-id"),
    pytest.param("id: ridge", "id: valley",
                 "scenarios/x.yaml:58: missions[1].id: duplicate mission id 'valley' (already used "
                 "by missions[0].id, line 51); ids must be unique", id="duplicate-mission-id"),
    pytest.param("{id: south,", "{id: north,",
                 "scenarios/x.yaml:17: world.sites[1].id: duplicate site id 'north' (already used "
                 "by world.sites[0].id, line 16); ids must be unique", id="duplicate-site-id"),
    pytest.param("polygon: [[0, 0], [1000, 0], [1000, 1000], [0, 1000]]",
                 "polygon: [[0, 0], [1000, 1000], [1000, 0], [0, 1000]]",
                 "scenarios/x.yaml:10: world.zones[0].polygon: invalid polygon: "
                 "Self-intersection[500 500] (the zone must be a simple polygon whose edges do not "
                 "cross)", id="invalid-polygon"),
    pytest.param("polygon: [[0, 0], [1000, 0], [1000, 1000], [0, 1000]]",
                 "polygon: [[0, 0], [1000, 0]]",
                 "scenarios/x.yaml:10: world.zones[0].polygon: expected a list of at least 3 "
                 "points [x, y], got 2 distinct points", id="too-few-points"),
    pytest.param("holes: [[[100, 100], [200, 100], [200, 200]]]",
                 "holes: [[[100, 100], [2000, 100], [200, 200]]]",
                 "scenarios/x.yaml:11: world.zones[0].holes[0]: hole is not inside the zone's "
                 "polygon", id="hole-outside"),
    pytest.param("rect: [10000, 10000, 12000, 11000]", "rect: [10000, 10000, 9000, 11000]",
                 "scenarios/x.yaml:60: missions[1].area.rect: expected [xmin, ymin, xmax, ymax] "
                 "with xmin < xmax and ymin < ymax, got [10000, 10000, 9000, 11000]", id="bad-rect"),
    pytest.param("targets: [[5000, 5000]", "targets: [[50000, 5000]",
                 "scenarios/x.yaml:56: missions[0].targets[0]: target position (50000, 5000) lies "
                 "outside the mission area", id="target-outside-area"),
    pytest.param("detection: {model: definite_range}",
                 "detection: {model: definite_range, sweep_width_m: 100}",
                 "scenarios/x.yaml:37: fleet.types[0].sensor.detection.sweep_width_m: for the "
                 "definite_range model the sweep width is 2 x the footprint radius = 160 m; got 100 "
                 "(leave sweep_width_m out, or choose another model)", id="sweep-width-mismatch"),
    pytest.param("sweep_width_m: 120", "sweep_width_m: 0",
                 "scenarios/x.yaml:49: fleet.types[1].sensor.detection.sweep_width_m: expected a "
                 "number > 0 and <= 2e+07, got 0", id="sweep-width-zero"),
    pytest.param("{model: inverse_cube, sweep_width_m: 120}", "{model: inverse_cube}",
                 "scenarios/x.yaml:49: fleet.types[1].sensor.detection: missing required key "
                 "'sweep_width_m' (a number > 0; the inverse_cube model needs it)",
                 id="sweep-width-missing"),
    pytest.param("camera_fov_deg: 90", "camera_fov_deg: 90, footprint_radius_m: 5}",
                 "scenarios/x.yaml:48: invalid YAML: mapping values are not allowed here",
                 id="yaml-syntax-error"),
    pytest.param("name: wildfire_watch\n", "name: wildfire_watch\nname: again\n",
                 "scenarios/x.yaml:3: name: duplicate key 'name' (first given at line 2)",
                 id="duplicate-yaml-key"),
    pytest.param("schema_version: 1", "schema_version: 2",
                 "scenarios/x.yaml:1: schema_version: expected 1, got 2 (this fleetsim reads "
                 "scenario schema version 1)", id="schema-version"),
    pytest.param("source: procedural, size_m: [20000, 15000], spacing_m: 50, relief_m: 900, "
                 "ridges: 6, base_elevation_m: 200, origin_m: [0, 0]", "source: npy",
                 "scenarios/x.yaml:6: world.terrain: missing required key 'path' (the elevation "
                 "file of npy terrain, relative to the scenario's folder)",
                 id="terrain-needs-path"),
    pytest.param("source: procedural", "source: flat",
                 "scenarios/x.yaml:6: world.terrain.relief_m: relief_m does not apply to flat "
                 "terrain (keys for flat terrain: source, size_m, spacing_m, origin_m, "
                 "base_elevation_m, sea_level_m)", id="terrain-key-not-applicable"),
    pytest.param("[1000, 14000]", "[1000, 16000]",
                 "scenarios/x.yaml:16: world.sites[0].position: site position (1000, 16000) lies "
                 "outside the terrain (x 0..20000 m, y 0..15000 m)", id="site-off-terrain"),
    pytest.param("floor_amsl_m: 0", "floor_amsl_m: 2000",
                 "scenarios/x.yaml:13: world.zones[0].ceiling_amsl_m: expected a ceiling above "
                 "floor_amsl_m = 2000.0, got 1500.0", id="floor-above-ceiling"),
    pytest.param("      count: 5000\n", "      count: 5000\n      bases: {south: 1}\n",
                 "scenarios/x.yaml:24: fleet.types[0].count: give either count and base, or bases "
                 "({base id: count, ...}), not both", id="count-and-bases"),
    pytest.param("camera_fov_deg: 90", "camera_fov_deg: 180",
                 "scenarios/x.yaml:48: fleet.types[1].sensor.camera_fov_deg: expected a number > 0 "
                 "and < 180, got 180", id="camera-fov-range"),
    pytest.param("domain: air", "domain: ground",
                 "scenarios/x.yaml:23: fleet.types[0].domain: a multirotor vehicle moves in the "
                 "air domain, not 'ground' (kinds by domain: air: multirotor, fixed_wing; ground: "
                 "wheeled; sea: vessel)", id="domain"),
    pytest.param("replay: true", "replay: yes",
                 "scenarios/x.yaml:66: outputs.replay: expected true or false, got 'yes'",
                 id="yes-is-not-a-bool"),
    pytest.param("spacing_m: 150", "spacing_m: .inf",
                 "scenarios/x.yaml:64: policy.params.spacing_m: expected a finite number "
                 "(parameters are plain data that must survive JSON: use null or a large number "
                 "for 'unlimited'), got .inf", id="params-must-be-finite"),
    pytest.param("seed: 7", "seed: !!python/object:os.system x",
                 "scenarios/x.yaml:4: run.seed: unsupported YAML tag '!!python/object:os.system'; "
                 "write plain strings, numbers, booleans, lists and mappings", id="yaml-tag"),
    pytest.param("outputs: {", "outputs: {1: 2, ",
                 "scenarios/x.yaml:66: outputs: mapping keys must be strings, got 1 (put it in "
                 "quotes)", id="non-string-key"),
]


@pytest.mark.parametrize(("old", "new", "message"), ERRORS)
def test_error_messages(old, new, message):
    assert error_of(edit(old, new)) == message


def test_error_attributes():
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(edit("cruise_speed_mps: 25", "cruise_speed_mps: fast"), filename=FILE)
    e = info.value
    assert (e.file, e.line, e.path) == (FILE, 41, "fleet.types[1].cruise_speed_mps")
    assert e.message == "expected a number >= 0.01 and <= 1000, got 'fast'"


def test_yaml_syntax_error_has_no_traceback_text():
    with pytest.raises(ScenarioError) as info:
        load_scenario_text("name: x\nrun: {duration_s: 3\n", filename=FILE)
    e = info.value
    assert (e.file, e.line, e.path) == (FILE, 3, None)
    assert str(e) == ("scenarios/x.yaml:3: invalid YAML: expected ',' or '}', but got "
                      "'<stream end>' (while parsing a flow mapping at line 2)")
    assert e.__suppress_context__


def test_empty_and_non_mapping_files():
    assert error_of("# nothing\n").startswith(
        "scenarios/x.yaml:1: the file holds no scenario; expected a mapping with keys "
        "schema_version, name,")
    assert error_of("- a\n- b\n").startswith(
        "scenarios/x.yaml:1: expected a mapping with keys schema_version,")


def test_missing_file(tmp_path):
    with pytest.raises(ScenarioError, match="scenario file not found"):
        load_scenario(tmp_path / "nope.yaml")


def test_terrain_file_must_exist(tmp_path):
    text = edit("source: procedural, size_m: [20000, 15000], spacing_m: 50, relief_m: 900, "
                "ridges: 6, base_elevation_m: 200, origin_m: [0, 0]", "source: geotiff, path: dem.tif")
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, filename=FILE, base_dir=str(tmp_path))
    assert str(info.value) == (f"scenarios/x.yaml:6: world.terrain.path: terrain file not found: "
                               f"{tmp_path / 'dem.tif'}")


# --------------------------------------------------------------------------------------
# Overrides


def test_overrides_apply():
    s = load_scenario_text(FULL, overrides=[
        "fleet.types[0].count=200", "run.seed=3", "policy.name=random_search",
        "world.terrain.size_m=[20000, 30000]", "policy.params.spacing_m=80",
        "outputs.replay=false", "missions[0].random_targets = 5",
        'policy.params["odd.key"]={a: 1}', "fleet.types[1].bases.south=7"])
    assert s.vehicles[0] == VehicleGroupSpec("quad", "north", 200)
    assert s.vehicles[2] == VehicleGroupSpec("wing", "south", 7)
    assert s.run.seed == 3
    assert s.policy.name == "random_search"
    assert s.policy.params == {"spacing_m": 80, "pattern": {"turns": [1, 2]}, "odd.key": {"a": 1}}
    assert s.terrain.size_m == (20000.0, 30000.0)
    assert s.outputs.replay is False
    assert s.missions[0].random_targets == 5


def test_override_may_create_keys_the_schema_allows():
    s = load_scenario_text(MINIMAL, overrides=["outputs.metrics_cell_m=25",
                                               "world.terrain.source=procedural",
                                               "policy.params.new_param=[1, 2]"])
    assert s.outputs.metrics_cell_m == 25.0
    assert s.terrain.source == "procedural"
    assert s.policy.params == {"new_param": [1, 2]}
    assert s.locate("policy.params.new_param[1]") == ("--set policy.params.new_param=[1, 2]", None)


OVERRIDE_ERRORS = [
    pytest.param("fleet.types[0].count=abc",
                 "--set fleet.types[0].count=abc: fleet.types[0].count: expected an integer >= 0 "
                 "and <= 200000, got 'abc'", id="fails-validation"),
    pytest.param("run.seed=true",
                 "--set run.seed=true: run.seed: expected an integer >= 0, got true",
                 id="bool-for-integer"),
    pytest.param("run.sed=3",
                 "--set run.sed=3: run.sed: unknown key 'sed'; did you mean 'seed'? (valid keys: "
                 "duration_s, seed, monitor_window_s)", id="unknown-key"),
    pytest.param("fleet.types[5].count=1",
                 "--set fleet.types[5].count=1: fleet.types[5]: index 5 is out of range: "
                 "fleet.types has 2 items (valid indexes 0..1)", id="index-out-of-range"),
    pytest.param("world.zones[0].polygon[9]=[1, 1]",
                 "--set world.zones[0].polygon[9]=[1, 1]: world.zones[0].polygon[9]: index 9 is "
                 "out of range: world.zones[0].polygon has 4 items (valid indexes 0..3)",
                 id="nested-index-out-of-range"),
    pytest.param("run.seed 3",
                 "--set run.seed 3: malformed override: no '='; expected PATH=VALUE, e.g. "
                 "fleet.types[0].count=200 or run.seed=3", id="no-equals"),
    pytest.param("fleet.types[x].count=3",
                 "--set fleet.types[x].count=3: malformed override: cannot read a path at "
                 "'[x].count=3'; expected PATH=VALUE, e.g. fleet.types[0].count=200 or run.seed=3",
                 id="bad-path"),
    pytest.param("=3",
                 "--set =3: malformed override: empty path; expected PATH=VALUE, e.g. "
                 "fleet.types[0].count=200 or run.seed=3", id="empty-path"),
    pytest.param("fleet.types.count=2",
                 "--set fleet.types.count=2: fleet.types.count: cannot set key 'count': "
                 "fleet.types is a list of 2 items, not a mapping; use an index such as "
                 "fleet.types[0]", id="key-on-list"),
    pytest.param("run.seed.x=1",
                 "--set run.seed.x=1: run.seed.x: cannot set key 'x': run.seed is 7, not a mapping",
                 id="key-on-scalar"),
    pytest.param("fleet.types[0].count=[1,",
                 "--set fleet.types[0].count=[1,: fleet.types[0].count: cannot read the value "
                 "'[1,' as YAML: expected the node content, but found '<stream end>' (while "
                 "parsing a flow node)",
                 id="unparsable-value"),
    pytest.param("world.terrain.size_m=[2000, 3000]",
                 "scenarios/x.yaml:16: world.sites[0].position: site position (1000, 14000) lies "
                 "outside the terrain (x 0..2000 m, y 0..3000 m)", id="cross-check-after-override"),
    pytest.param("fleet.types[0]={id: quad}",
                 "--set fleet.types[0]={id: quad}: fleet.types[0]: missing required key 'kind' "
                 "(one of 'multirotor', 'fixed_wing', 'wheeled', 'vessel')",
                 id="missing-key-in-overridden-mapping"),
]


@pytest.mark.parametrize(("override", "message"), OVERRIDE_ERRORS)
def test_override_errors(override, message):
    assert error_of(FULL, (override,)) == message


def test_overrides_apply_in_order_and_a_string_is_one_override():
    s = load_scenario_text(FULL, overrides=("run.seed=1", "run.seed=2"))
    assert s.run.seed == 2
    assert load_scenario_text(FULL, overrides="run.seed=5").run.seed == 5


# --------------------------------------------------------------------------------------
# Locations


def test_locations_cover_every_node_including_policy_params():
    s = load_scenario_text(FULL, filename=FILE)
    assert s.locations["policy.params.spacing_m"] == (FILE, 64)
    assert s.locations["policy.params.pattern.turns[1]"] == (FILE, 65)
    assert s.locate("policy.params.spacing_m") == (FILE, 64)
    assert s.locate("fleet.types[1]") == (FILE, 38)
    assert s.locate("fleet.types[1].bases.south") == (FILE, 40)
    assert s.locate("missions[0].area.holes[0][2][1]") == (FILE, 55)
    assert s.locate("policy.params.not_given") == (FILE, 63)


def test_locations_of_overridden_values_name_the_override():
    s = load_scenario_text(FULL, filename=FILE, overrides=["policy.params={spacing_m: 80}"])
    assert s.locate("policy.params.spacing_m") == ("--set policy.params={spacing_m: 80}", None)
    assert "policy.params.pattern" not in s.locations
    assert s.locate("policy.name") == (FILE, 62)


# --------------------------------------------------------------------------------------
# Source round trip


def test_source_round_trips_through_json():
    s = load_scenario_text(FULL, filename=FILE, base_dir="/data/scen")
    text = json.dumps(s.source, allow_nan=False)
    back = scenario_from_source(json.loads(text))
    assert back == s
    assert back.source == s.source
    assert back.base_dir == "/data/scen"
    assert scenario_from_source(json.loads(text), base_dir="/elsewhere").base_dir == "/elsewhere"


def test_source_round_trip_of_infinite_limits_and_defaults():
    s = load_scenario_text(edit("      floor_amsl_m: 0\n      ceiling_amsl_m: 1500\n"
                                "      active: {start_s: 0, end_s: 1800}\n", "", FULL))
    zone = s.zones[0]
    assert (zone.floor_amsl_m, zone.ceiling_amsl_m) == (-math.inf, math.inf)
    assert zone.active == TimeWindow(0.0, None)
    source = json.loads(json.dumps(s.source, allow_nan=False))
    assert source["world"]["zones"][0]["ceiling_amsl_m"] is None
    assert scenario_from_source(source) == s
    minimal = load_scenario_text(MINIMAL)
    assert scenario_from_source(json.loads(json.dumps(minimal.source))) == minimal


def test_source_is_canonical():
    s = load_scenario_text(FULL)
    assert scenario_to_source(s) == s.source
    types = s.source["fleet"]["types"]
    assert (types[0]["count"], types[0]["base"]) == (5000, "north")
    assert types[1]["bases"] == {"north": 3, "south": 2}
    assert types[1]["sensor"] == {"camera_fov_deg": 90.0,
                                  "detection": {"model": "inverse_cube", "sweep_width_m": 120.0}}
    assert s.source["missions"][1]["area"]["polygon"] == [
        [10000.0, 10000.0], [12000.0, 10000.0], [12000.0, 11000.0], [10000.0, 11000.0]]
    assert s.source["world"]["terrain"] == {
        "source": "procedural", "size_m": [20000.0, 15000.0], "spacing_m": 50.0,
        "origin_m": [0.0, 0.0], "base_elevation_m": 200.0, "relief_m": 900.0, "ridges": 6,
        "sea_level_m": None}


def test_source_is_validated_like_a_file():
    source = json.loads(json.dumps(load_scenario_text(FULL).source))
    source["fleet"]["types"][1]["cruise_speed_mps"] = -3
    with pytest.raises(ScenarioError) as info:
        scenario_from_source(source, filename="run/manifest.json")
    assert str(info.value) == ("run/manifest.json: fleet.types[1].cruise_speed_mps: expected a "
                               "number >= 0.01 and <= 1000, got -3")


def test_terrain_grid_size_is_capped_at_the_right_line():
    text = edit("spacing_m: 50, relief_m", "spacing_m: 1, relief_m")
    assert error_of(text) == (
        "scenarios/x.yaml:6: world.terrain.spacing_m: a terrain of 20000 x 15000 m at spacing_m = 1 "
        "needs 300,035,001 grid points (at most 100,000,000); increase spacing_m")


def test_camera_footprint_follows_the_cruise_altitude():
    s = load_scenario_text(FULL, overrides=["fleet.types[1].cruise_altitude_agl_m=200",
                                            "fleet.types[1].sensor.camera_fov_deg=60"])
    assert s.vehicle_types[1].sensor.footprint_radius_m == pytest.approx(200 * math.tan(math.pi / 6))
    assert scenario_from_source(json.loads(json.dumps(s.source))) == s


def test_negative_override_index_is_out_of_range():
    assert error_of(FULL, ("fleet.types[-1].count=3",)) == (
        "--set fleet.types[-1].count=3: fleet.types[-1]: index -1 is out of range: fleet.types "
        "has 2 items (valid indexes 0..1)")


@pytest.mark.parametrize("name", ["city_delivery", "harbor_resupply", "disaster_relief"])
def test_logistics_scenarios_round_trip_through_their_source(name):
    """What a run directory stores (the scenario's source) loads back to the same
    scenario: roads, water, orders and demand, ground and sea vehicle types."""
    import json
    from pathlib import Path

    from fleetsim.scenario import load_scenario

    sc = load_scenario(Path(__file__).resolve().parents[2] / "scenarios" / f"{name}.yaml")
    back = scenario_from_source(json.loads(json.dumps(sc.source, allow_nan=False)),
                                base_dir=sc.base_dir)
    assert back.source == sc.source
    assert (back.vehicle_types, back.vehicles, back.sites) == \
        (sc.vehicle_types, sc.vehicles, sc.sites)
    assert (back.roads, back.water, back.logistics) == (sc.roads, sc.water, sc.logistics)

"""Sites, targets and mission areas read from GeoJSON files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleetsim.errors import ScenarioError
from fleetsim.geo.frame import GeoFrame
from fleetsim.scenario import load_scenario_text, scenario_from_source

FRAME = GeoFrame.from_origin(47.3769, 8.5417)

SCENARIO = """schema_version: 1
name: points
run: {duration_s: 600, seed: 1}
world:
  origin: {lat: 47.3769, lon: 8.5417}
  terrain: {source: flat, size_m: [6000, 6000], origin_m: [-3000, -3000]}
  sites:
    - {id: home, kind: base, position: [0, 0]}
    - {geojson: sites.geojson, kind: customer, properties: {id: name}}
missions:
  - id: look
    kind: search
    area: {geojson: area.geojson}
    targets:
      - [100, 100]
      - {geojson: targets.geojson}
fleet:
  types:
    - {id: q, kind: multirotor, count: 1, base: home, cruise_speed_mps: 10, climb_rate_mps: 3,
       battery_wh: 100, hover_power_w: 100, cruise_power_w: 100, recharge_time_s: 100,
       sensor: {footprint_radius_m: 20}}
policy: {name: lawnmower}
"""


def _points(path: Path, pts: list[tuple[float, float, dict]]) -> None:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": p, "geometry": {"type": "Point", "coordinates": [a, b]}}
        for a, b, p in pts]}))


def _area(path: Path, n: int = 1) -> None:
    ring = [[8.535, 47.372], [8.55, 47.372], [8.55, 47.382], [8.535, 47.382], [8.535, 47.372]]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon",
                                                          "coordinates": [ring]}}] * n}))


@pytest.fixture
def folder(tmp_path):
    _points(tmp_path / "sites.geojson", [
        (8.54, 47.375, {"name": "shop"}),
        (8.545, 47.378, {"name": "mast", "kind": "ground_station", "radio_range_m": 2500})])
    _points(tmp_path / "targets.geojson", [(8.54, 47.375, {}), (8.542, 47.377, {"id": "car"})])
    _area(tmp_path / "area.geojson")
    return tmp_path


def test_sites_targets_and_area_come_from_the_files_in_metres(folder):
    s = load_scenario_text(SCENARIO, base_dir=str(folder))
    assert [(x.id, x.kind) for x in s.sites] == [("home", "base"), ("shop", "customer"),
                                                 ("mast", "ground_station")]
    assert s.sites[1].position == pytest.approx(FRAME.point(8.54, 47.375))
    assert s.sites[2].radio_range_m == 2500
    m = s.missions[0]
    assert [t.id for t in m.targets] == ["look-target0", "look-target1", "car"]
    assert m.targets[2].position == pytest.approx(FRAME.point(8.542, 47.377))
    assert m.exterior[2] == pytest.approx(FRAME.point(8.55, 47.382))
    assert scenario_from_source(s.source) == s  # the source holds the metres


def test_a_mission_area_file_needs_one_polygon(folder):
    _area(folder / "area.geojson", n=2)
    with pytest.raises(ScenarioError, match=r"missions\[0\].area.geojson: .*area.geojson: a "
                                            r"mission area file needs exactly one Polygon "
                                            r"feature, found 2"):
        load_scenario_text(SCENARIO, base_dir=str(folder))


def test_a_site_without_a_kind_says_what_to_give(folder):
    text = SCENARIO.replace("{geojson: sites.geojson, kind: customer, properties: {id: name}}",
                            "{geojson: sites.geojson, properties: {id: name}}")
    with pytest.raises(ScenarioError, match=r"world.sites\[1\].geojson: .*sites.geojson: "
                                            r"feature 0: no 'kind' property; give it, or the "
                                            r"file's kind"):
        load_scenario_text(text, base_dir=str(folder))


def test_a_target_outside_the_area_is_refused(folder):
    _points(folder / "targets.geojson", [(8.52, 47.375, {"id": "far"})])
    with pytest.raises(ScenarioError, match="lies outside the mission area"):
        load_scenario_text(SCENARIO, base_dir=str(folder))

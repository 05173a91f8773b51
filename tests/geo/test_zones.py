"""Zones from GeoJSON and EUROCAE ED-269 files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleetsim.errors import ScenarioError
from fleetsim.geo.frame import GeoFrame
from fleetsim.geo.zones import ed269_zones, geojson_zones
from fleetsim.scenario import load_scenario_text

DATA = Path(__file__).resolve().parent / "data"
FRAME = GeoFrame.from_origin(47.3769, 8.5417)
START = "2026-06-01T08:00:00Z"  # a Monday


def _square(lon0: float, lat0: float, d: float = 0.002) -> list[list[float]]:
    return [[lon0, lat0], [lon0 + d, lat0], [lon0 + d, lat0 + d], [lon0, lat0 + d],
            [lon0, lat0]]


def _write(tmp_path: Path, features: list[dict]) -> str:
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return str(path)


def test_geojson_polygons_become_zones_in_metres_with_their_properties(tmp_path):
    name = _write(tmp_path, [
        {"type": "Feature", "properties": {"id": "a", "kind": "no_fly", "ceiling_amsl_m": 300,
                                           "start_s": 60, "end_s": "2026-06-01T09:00:00Z"},
         "geometry": {"type": "Polygon", "coordinates": [_square(8.54, 47.37),
                                                         _square(8.5405, 47.3705, 0.0005)]}},
        {"type": "Feature", "properties": {"id": "b"},
         "geometry": {"type": "MultiPolygon", "coordinates": [[_square(8.55, 47.37)],
                                                              [_square(8.56, 47.37)]]}}])
    zones = geojson_zones(name, FRAME, kind="restricted", start_time=START)
    assert [(z["id"], z["kind"]) for z in zones] == [("a", "no_fly"), ("b.1", "restricted"),
                                                     ("b.2", "restricted")]
    assert zones[0]["polygon"][2] == pytest.approx(list(FRAME.point(8.542, 47.372)))
    assert len(zones[0]["holes"]) == 1 and len(zones[0]["polygon"]) == 5
    assert zones[0]["ceiling_amsl_m"] == 300
    assert zones[0]["active"] == {"start_s": 60.0, "end_s": 3600.0}
    assert "active" not in zones[1]


def test_a_feature_without_a_kind_names_the_file_feature_and_remedy(tmp_path):
    name = _write(tmp_path, [{"type": "Feature", "properties": {"id": "a"},
                              "geometry": {"type": "Polygon",
                                           "coordinates": [_square(8.54, 47.37)]}}])
    with pytest.raises(ValueError, match=r"zones.geojson: feature 0 \('a'\): no 'kind' "
                                         r"property; give it \(no_fly or restricted\), or the "
                                         r"zone file's kind"):
        geojson_zones(name, FRAME)


def test_a_point_feature_is_refused(tmp_path):
    name = _write(tmp_path, [{"type": "Feature", "properties": {"kind": "no_fly"},
                              "geometry": {"type": "Point", "coordinates": [8.5, 47.3]}}])
    with pytest.raises(ValueError, match="feature 0: geometry type 'Point'; zones are Polygon "
                                         "or MultiPolygon features"):
        geojson_zones(name, FRAME)


def test_a_latitude_out_of_range_names_the_position_and_the_order(tmp_path):
    ring = _square(8.54, 47.37)
    ring[2] = [8.542, 147.37]
    name = _write(tmp_path, [{"type": "Feature", "properties": {"kind": "no_fly"},
                              "geometry": {"type": "Polygon", "coordinates": [ring]}}])
    with pytest.raises(ValueError, match=r"position 2: latitude 147.37 is outside -90..90 degrees "
                                         r"\(GeoJSON positions are \[lon, lat\], RFC 7946\)"):
        geojson_zones(name, FRAME)


def test_ed269_zones_kinds_bands_and_schedules():
    zones = ed269_zones(str(DATA / "ed269_small.json"), FRAME, start_time=START,
                        duration_s=8 * 3600, ground_m=400.0)
    # NO_RESTRICTION (TST003) is left out; TST002 is in force twice on Monday 1 June
    assert [(z["id"], z["kind"]) for z in zones] == [
        ("TST001", "no_fly"), ("TST002.1", "restricted"), ("TST002.2", "restricted")]
    helipad, stadium = zones[0], zones[1]
    # 0..120 m AGL over ground at 400 m: from the ground up to 520 m above the datum
    assert "floor_amsl_m" not in helipad and helipad["ceiling_amsl_m"] == 520.0
    assert "active" not in helipad  # permanent
    centre = FRAME.point(8.5450, 47.3800)
    import shapely
    circle = shapely.Polygon(helipad["polygon"])
    assert circle.centroid.distance(shapely.Point(centre)) < 0.01
    assert circle.area == pytest.approx(3.14159 * 300 ** 2, rel=0.01)
    # 100 ft .. 1000 ft AMSL
    assert stadium["floor_amsl_m"] == pytest.approx(30.48)
    assert stadium["ceiling_amsl_m"] == pytest.approx(304.8)
    # 09:00-10:00 and 12:00-13:30 UTC, run second 0 at 08:00 UTC
    assert stadium["active"] == {"start_s": 3600.0, "end_s": 7200.0}
    assert zones[2]["active"] == {"start_s": 14400.0, "end_s": 19800.0}


def test_ed269_without_start_time_says_what_to_set():
    with pytest.raises(ValueError, match="an ED-269 file gives dates and times; set start_time"):
        ed269_zones(str(DATA / "ed269_small.json"), FRAME, start_time=None, duration_s=600)


def test_ed269_schedule_outside_the_run_gives_no_zone():
    zones = ed269_zones(str(DATA / "ed269_small.json"), FRAME,
                        start_time="2026-06-02T08:00:00Z",  # a Tuesday
                        duration_s=8 * 3600, ground_m=0.0)
    assert [z["id"] for z in zones] == ["TST001"]


SCENARIO = """schema_version: 1
name: zones
run: {{duration_s: 36000, seed: 1}}
world:
  {where}
  terrain: {{source: flat, size_m: [8000, 8000], origin_m: [-4000, -4000],
             base_elevation_m: 400}}
  zones:
    - {zones}
  sites:
    - {{id: b, kind: base, position: [0, 0]}}
fleet:
  types:
    - {{id: q, kind: multirotor, count: 1, base: b, cruise_speed_mps: 10, climb_rate_mps: 3,
       battery_wh: 100, hover_power_w: 100, cruise_power_w: 100, recharge_time_s: 100,
       sensor: {{footprint_radius_m: 20}}}}
policy: {{name: lawnmower}}
"""


def test_a_scenario_reads_an_ed269_file_with_the_terrain_as_ground():
    text = SCENARIO.format(where="origin: {lat: 47.3769, lon: 8.5417}",
                           zones=f"{{ed269: ed269_small.json, start_time: '{START}'}}")
    s = load_scenario_text(text, base_dir=str(DATA))
    assert [z.id for z in s.zones] == ["TST001", "TST002.1", "TST002.2"]
    assert s.zones[0].ceiling_amsl_m == 520.0  # 120 m AGL over base_elevation_m 400


def test_a_zone_file_without_origin_says_what_to_add():
    text = SCENARIO.format(where="", zones="{ed269: ed269_small.json}")
    with pytest.raises(ScenarioError, match=r"world.zones\[0\]: a position in "
                                            r"longitude/latitude needs the scenario on the map"):
        load_scenario_text(text, base_dir=str(DATA))


def test_a_bad_zone_in_a_file_is_reported_with_the_file_and_zone(tmp_path):
    _write(tmp_path, [{"type": "Feature", "properties": {"id": "x", "kind": "no_fly",
                                                         "floor_amsl_m": 500,
                                                         "ceiling_amsl_m": 100},
                       "geometry": {"type": "Polygon", "coordinates": [_square(8.54, 47.37)]}}])
    text = SCENARIO.format(where="origin: {lat: 47.3769, lon: 8.5417}",
                           zones="{geojson: zones.geojson}")
    with pytest.raises(ScenarioError, match=r"world.zones\[0\].geojson: zones.geojson: zone 0 "
                                            r"\('x'\): expected a ceiling above floor_amsl_m"):
        load_scenario_text(text, base_dir=str(tmp_path))

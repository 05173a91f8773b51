"""The scenario schema is declared once, and everything else agrees with it.

``fleetsim/scenario/schema.py`` declares every key: validator (type and bounds),
doc, unit, default. These tests hold the rest to it: every key has a doc; the
model dataclasses have the same defaults; every dataclass field is reached by a
key; ``scenario_to_source`` writes every key back (load -> source -> load gives
an equal scenario, for every shipped scenario and for scenarios that give every
key a value other than its default); ``fleetsim schema`` prints every key.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fleetsim.cli import main
from fleetsim.scenario import (
    load_scenario,
    load_scenario_text,
    model,
    reference,
    scenario_from_source,
    schema,
)
from fleetsim.scenario.schema import (
    NO_DEFAULT,
    Exactly,
    ListOf,
    MapOf,
    NameOrRecord,
    Nullable,
    PointOrRecord,
    Record,
    Validator,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))


def records() -> list[tuple[str, Record]]:
    return [(s.path, s.record) for s in reference.sections()]


# ------------------------------------------------------------------ docs and defaults

def test_every_key_and_every_mapping_has_a_doc():
    missing = [e.path for e in reference.entries() if not e.field.doc.strip()]
    assert not missing, f"keys without a doc (give doc= in fleetsim/scenario/schema.py): {missing}"
    bare = [path or "(top level)" for path, r in records() if not r.doc.strip()]
    assert not bare, f"mappings without a doc: {bare}"


def test_every_optional_key_says_what_its_absence_means():
    unsaid = [e.path for e in reference.entries()
              if not e.field.required and e.field.default is NO_DEFAULT and not e.field.derived]
    assert not unsaid, f"optional keys with neither default= nor derived=: {unsaid}"
    both = [e.path for e in reference.entries()
            if e.field.derived and (e.field.default is not NO_DEFAULT or e.field.required)]
    assert not both, f"keys with derived= and also a default or required: {both}"


def test_a_key_added_without_a_doc_fails_the_doc_test():
    """The check above is not vacuous: a record holding an undocumented key is found."""
    extra = Record({"documented": schema.opt(schema.Boolean(), "Yes.", default=False),
                    "bare": schema.opt(schema.Boolean(), default=False)}, doc="A record.")
    assert [e.key for e in reference.entries(extra) if not e.field.doc] == ["bare"]


def _plain(value: Any) -> Any:
    """A model value in scenario-file form: tuples as lists, infinite limits as null."""
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and math.isinf(value):
        return None
    return value


#: Defaults the model writes in another form than the file, with the reason.
MODEL_FORM = {
    (model.StopSpec, "vehicles"): (None, "all"),  # the model's None is the file's 'all'
}


def _model_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return NO_DEFAULT


def _holds_record(v: Validator) -> bool:
    return isinstance(v, Record) or (isinstance(v, Nullable) and isinstance(v.inner, Record))


def test_model_defaults_are_the_declared_defaults():
    problems = []
    for path, rec in records():
        if rec.model is None:
            continue
        by_name = {f.name: f for f in dataclasses.fields(rec.model)}
        for key, fld in rec.fields.items():
            attr = rec.attrs.get(key, key)
            where = f"{schema.child_path(path, key)} -> {rec.model.__name__}.{attr}"
            if attr is None:
                continue
            if attr not in by_name:
                problems.append(f"{where}: no such dataclass field")
                continue
            have = _model_default(by_name[attr])
            if fld.required or (isinstance(fld.validator, Record) and have is not NO_DEFAULT):
                continue  # a sub-mapping's defaults are its keys'
            if have is NO_DEFAULT:
                if fld.default is not NO_DEFAULT and not isinstance(fld.validator, ListOf | MapOf
                                                                     | Nullable | Record):
                    problems.append(f"{where}: declared default {fld.default!r}, the dataclass "
                                    "field has none")
                continue
            if fld.derived:
                continue  # the loader computes it from other keys
            form = MODEL_FORM.get((rec.model, attr))
            have = form[1] if form and have == form[0] else _plain(have)
            if have != fld.default:
                problems.append(f"{where}: dataclass default {have!r} != declared "
                                f"{fld.default!r}")
    assert not problems, "\n".join(problems)


def test_every_model_field_is_reached_by_a_key():
    reached: dict[type, set[str]] = {}
    for _, rec in records():
        if rec.model is not None:
            names = {rec.attrs.get(k, k) for k in rec.fields} - {None}
            reached.setdefault(rec.model, set()).update(names)
    for cls, built in schema.BUILT.items():
        reached.setdefault(cls, set()).update(built)
    specs = [c for _, c in inspect.getmembers(model, inspect.isclass)
             if dataclasses.is_dataclass(c) and c.__module__ == model.__name__]
    assert {c.__name__ for c in specs} == {c.__name__ for c in reached}, \
        "every model dataclass is some record's model (or listed in schema.BUILT)"
    missing = [f"{c.__name__}.{f.name}" for c in specs for f in dataclasses.fields(c)
               if f.name not in reached[c]]
    assert not missing, f"dataclass fields no scenario key reaches: {missing}"


def test_declared_tables_are_keys_of_their_records():
    assert set(schema.DEPOT_KEYS) <= set(schema.SITE.fields)
    assert set(schema.AIR_ONLY_KEYS) | set(schema.SURFACE_VALUES) <= \
        set(schema.VEHICLE_TYPE.fields)
    for keys in schema.TERRAIN_KEYS.values():
        assert set(keys) <= set(schema.TERRAIN.fields)
    assert set(schema.TERRAIN_KEYS) == set(schema.TERRAIN.fields["source"].validator.choices)


def test_units_follow_the_key_suffix():
    entries = {e.path: e for e in reference.entries()}
    assert entries["run.duration_s"].unit == "s"
    assert entries["fleet.types[].cruise_speed_mps"].unit == "m/s"
    assert entries["fleet.types[].turn_penalty_s_per_rad"].unit == "s/rad"
    assert entries["fleet.types[].climb_energy_wh_per_m"].unit == "Wh/m"
    assert entries["fleet.types[].battery_wh"].unit == "Wh"
    assert entries["fleet.types[].hover_power_w"].unit == "W"
    assert entries["world.sites[].position"].unit == "m"  # declared: no suffix
    assert entries["fleet.types[].reserve_fraction"].unit == ""


# ------------------------------------------------------------------ the round trip

#: A scenario that gives every key a value other than its default (with VARIANTS
#: covering the keys that exclude these: rect, bases, npy terrain, geojson roads).
EVERY_KEY: dict[str, Any] = {
    "schema_version": 1,
    "name": "every_key",
    "description": "every key of the schema, none at its default",
    "base_dir": "data",
    "run": {"duration_s": 3600, "seed": 7, "monitor_window_s": 5},
    "world": {
        "terrain": {"source": "procedural", "size_m": [8000, 6000], "spacing_m": 100,
                    "origin_m": [-100, -50], "base_elevation_m": 20, "relief_m": 150,
                    "ridges": 3, "sea_level_m": 25},
        "zones": [
            {"id": "tower", "kind": "no_fly",
             "polygon": [[1000, 1000], [2000, 1000], [2000, 2000], [1000, 2000]],
             "holes": [[[1400, 1400], [1600, 1400], [1600, 1600]]],
             "floor_amsl_m": 50, "ceiling_amsl_m": 400,
             "active": {"start_s": 60, "end_s": 3000}},
            {"id": "range", "kind": "restricted", "rect": [3000, 3000, 3500, 3400]},
            {"geojson": "zones.geojson", "kind": "no_fly", "start_time": "2026-06-01T08:00:00Z",
             "properties": {"id": "name", "kind": "class", "floor": "lower", "ceiling": "upper",
                            "start": "from", "end": "to"}},
        ],
        "origin": {"lat": 47.0, "lon": 8.0},
        "sites": [
            {"id": "b1", "kind": "base", "position": [500, 500], "pads": 4,
             "radio_range_m": 5000, "antenna_height_m": 15, "sensor_radius_m": 300,
             "false_alarms_per_hour": 0.5},
            {"id": "d1", "kind": "depot", "position": [4000, 1000], "stock": 50,
             "loading_bays": 2, "loading_time_s": 30, "swap_stations": 1, "swap_time_s": 90},
            {"id": "c1", "kind": "customer", "position": [6000, 4000]},
            {"geojson": "sites.geojson", "kind": "customer",
             "properties": {"id": "name", "kind": "type"}},
        ],
        "roads": {"source": "planar", "extent": [0, 0, 7000, 5000], "spacing_m": 400,
                  "speed_limit_mps": 12, "blocked": 2, "seed": 5,
                  "closures": [{"time_s": 600, "near": [2500, 2500]}]},
        "water": {"spacing_m": 150,
                  "polygon": [[6000, 0], [7800, 0], [7800, 1500], [6000, 1500]]},
        "wind": {"speed_mps": 5, "from_deg": 250,
                 "changes": [{"t_s": 1200, "speed_mps": 8, "from_deg": 270}],
                 "profile": {"ref_height_m": 20, "exponent": 0.14}},
    },
    "fleet": {"types": [
        {"id": "quad", "kind": "multirotor", "domain": "air", "count": 2, "base": "b1",
         "cruise_speed_mps": 14, "climb_rate_mps": 4, "cruise_altitude_agl_m": 90,
         "battery_wh": 300, "hover_power_w": 250, "cruise_power_w": 220,
         "reserve_fraction": 0.25, "recharge_time_s": 900, "terrain_clearance_m": 25,
         "relay_range_m": 2000,
         "sensor": {"footprint_radius_m": 40,
                    "detection": {"model": "exponential", "sweep_width_m": 70}},
         "payload_kg": 3, "energy": "fuel", "airframe": "heavy_hexacopter",
         "airframe_params": {"mass_kg": 2.5, "drag_coeff": 0.4},
         "turn_penalty_s_per_rad": 0.5, "leg_overhead_s": 2, "climb_energy_wh_per_m": 0.01},
        {"id": "cam", "kind": "fixed_wing", "bases": {"b1": 2, "d1": 1},
         "cruise_speed_mps": 20, "climb_rate_mps": 3, "battery_wh": 500,
         "hover_power_w": 300, "cruise_power_w": 150, "recharge_time_s": 600,
         "sensor": {"camera_fov_deg": 60}, "bank_angle_deg": 30},
        {"id": "truck", "kind": "wheeled", "count": 2, "base": "d1", "cruise_speed_mps": 10,
         "battery_wh": 5000, "cruise_power_w": 2000, "recharge_time_s": 1200,
         "payload_kg": 10, "carrier_slots": 2},
        {"id": "rider", "kind": "multirotor", "carrier": "truck", "count": 2,
         "cruise_speed_mps": 12, "climb_rate_mps": 3, "battery_wh": 200,
         "hover_power_w": 200, "cruise_power_w": 180, "recharge_time_s": 600,
         "sensor": {"footprint_radius_m": 30}},
        {"id": "boat", "kind": "vessel", "count": 1, "base": "b1", "cruise_speed_mps": 6,
         "battery_wh": 8000, "cruise_power_w": 3000, "recharge_time_s": 1800,
         "sensor": {"footprint_radius_m": 100}},
    ]},
    "missions": [
        {"id": "sweep", "kind": "search",
         "area": {"polygon": [[200, 200], [5000, 200], [5000, 4000], [200, 4000]],
                  "holes": [[[2500, 2500], [2900, 2500], [2900, 2900]]]},
         "targets": [[300, 300], {"id": "raft", "position": [4000, 3000],
                                  "velocity_mps": [0.2, -0.1]},
                     {"geojson": "targets.geojson", "properties": {"id": "label"}}],
         "random_targets": 3,
         "drift": {"current_mps": [0.3, 0.1], "leeway": 0.03, "random_mps": 0.05},
         "datum": {"position": [1000, 1000], "sigma_m": 400}},
        {"id": "watch", "kind": "persistent", "area": {"rect": [5200, 2000, 7000, 4500]}},
    ],
    "policy": {"name": "lawnmower", "params": {"spacing_m": 90}},
    "outputs": {"metrics_cell_m": 40, "replay": False, "timeseries_step_s": 30},
    "oversight": {
        "operators": 3,
        "shifts": [{"start_s": 0, "end_s": 1800, "count": 2},
                   {"start_s": 1800, "end_s": 3600, "count": 3}],
        "span_of_control": 4,
        "approval_needs_link": False,
        "rules": {"takeoff": "approve",
                  "enter_restricted": {"rule": "veto", "service": 12, "priority": 3,
                                       "timeout_s": 100, "veto_window_s": 30,
                                       "approve_probability": 0.9, "two_person": True}},
        "detection_review": {"service": {"dist": "lognormal", "mean_s": 25, "cv": 0.5},
                             "priority": 2, "false_alarms_per_vehicle_hour": 0.5,
                             "timeout_s": 60},
        "stops": [{"time_s": 3000, "vehicles": [0, 1], "safe_state": "land"}],
    },
    "logistics": {
        "orders": [
            {"id": "o1", "origin": "d1", "destination": "c1", "weight_kg": 2,
             "created_s": 10, "priority": 2, "earliest_s": 20, "latest_s": 2000},
            {"origin": "d1", "destination": [3000, 500], "weight_kg": 1.5},
        ],
        "demand": [
            {"origin": "d1", "rate_per_hour": 4, "destinations": ["c1", "b1"],
             "weight_kg": 2, "window_s": 900, "priority": 3, "start_s": 100, "end_s": 3000},
            {"origin": "d1", "rate_per_hour": 2,
             "area": {"polygon": [[3000, 3000], [4000, 3000], [4000, 3800]]},
             "weight_range_kg": [0.5, 2.5]},
        ],
        "service_time_s": 45, "transfer_time_s": 20,
    },
    "separation": {
        "minima": {"air": {"horizontal_m": 60, "vertical_m": 20},
                   "sea": {"horizontal_m": 100, "vertical_m": 10}},
        "lookahead_s": 90, "window_s": 4,
        "strategic": {"layer_spacing_m": 25, "layers": 3, "delay_step_s": 20,
                      "max_delay_s": 600},
        "layering": "heading", "layer_spacing_m": 20, "terminal_radius_m": 100,
        "tactical": "hold",
    },
}


def _variant_b(data: dict[str, Any]) -> None:
    """npy terrain, GeoJSON roads, a projected CRS, an ED-269 zone file, a rect demand area,
    a gridded wind."""
    data["world"]["terrain"] = {"source": "npy", "path": "dem.npy", "spacing_m": 100,
                                "origin_m": [-100, -50], "sea_level_m": 25}
    data["world"]["roads"] = {"source": "geojson", "path": "roads.geojson",
                              "speed_limit_mps": 9,
                              "closures": [{"time_s": 600, "near": [2500, 2500]}]}
    data["logistics"]["demand"][1]["area"] = {"rect": [3000, 3000, 4000, 3800]}
    del data["world"]["origin"]
    data["world"]["crs"] = "EPSG:32632"  # metres are UTM 32N's easting and northing
    data["world"]["zones"][2] = {"ed269": "ed269.json", "start_time": "2026-06-01T08:00:00Z",
                                 "agl_datum_m": 35}
    data["world"]["sites"].pop()  # the site and target files are placed for world.origin
    data["missions"][0]["targets"].pop()
    data["world"]["wind"] = {"grid": {"path": "wind.npy", "spacing_m": 1000,
                                      "origin_m": [-500, 200], "step_s": 900},
                             "profile": {"ref_height_m": 20, "exponent": 0.14}}


def _variant_osm(data: dict[str, Any]) -> None:
    """OpenStreetMap roads and waterways, a mission area from GeoJSON (the scenario has
    world.origin)."""
    data["missions"][1]["area"] = {"geojson": "area.geojson"}
    data["world"]["water"] = {"source": "osm", "path": "streets.osm", "speed_limit_mps": 4}
    data["world"]["roads"] = {"source": "osm", "path": "streets.osm", "consolidate_m": 5,
                              "speed_limit_mps": 9,
                              "closures": [{"time_s": 600, "near": [2500, 2500]}]}


VARIANTS = {"every_key": None, "every_key_files": _variant_b, "every_key_osm": _variant_osm}


@pytest.fixture(scope="module")
def every_key_scenarios(tmp_path_factory) -> dict[str, tuple[dict[str, Any], Any]]:
    folder = tmp_path_factory.mktemp("every_key")
    (folder / "data").mkdir()
    np.save(folder / "data" / "dem.npy", np.full((61, 81), 30.0))
    np.save(folder / "data" / "wind.npy", np.full((2, 7, 9, 2), 3.0))
    (folder / "data" / "roads.geojson").write_text(json.dumps({
        "type": "FeatureCollection", "features": [{
            "type": "Feature", "properties": {},
            "geometry": {"type": "LineString", "coordinates": [[0, 0], [5000, 3000]]}}]}))
    from fleetsim.geo.frame import GeoFrame

    # A GeoJSON zone (origin 47N 8E) and an ED-269 one (UTM 32N), both near (3000, 1200) m.
    lon, lat = GeoFrame.from_origin(47.0, 8.0).to_lonlat([3000, 3400, 3400], [1200, 1200, 1600])
    ring = [[a, b] for a, b in zip(lon.tolist(), lat.tolist(), strict=True)]
    (folder / "data" / "zones.geojson").write_text(json.dumps({
        "type": "FeatureCollection", "features": [{
            "type": "Feature", "properties": {"name": "geo", "lower": 40, "upper": 300,
                                              "from": "2026-06-01T08:10:00Z", "to": 2400},
            "geometry": {"type": "Polygon", "coordinates": [ring + ring[:1]]}}]}))
    def points(xy: list[tuple[float, float]], props: list[dict]) -> str:
        return json.dumps({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": p,
             "geometry": {"type": "Point", "coordinates": list(geo.lonlat(x, y))}}
            for (x, y), p in zip(xy, props, strict=True)]})

    geo = GeoFrame.from_origin(47.0, 8.0)  # the variants with world.crs give no such file
    (folder / "data" / "sites.geojson").write_text(points(
        [(5000, 4500), (5500, 4500)], [{"name": "c2"}, {"name": "g2", "type": "ground_station",
                                                         "radio_range_m": 3000}]))
    (folder / "data" / "targets.geojson").write_text(points(
        [(1000, 1500), (1500, 1500)], [{"label": "buoy"}, {}]))
    lon, lat = geo.to_lonlat([5200, 7000, 7000, 5200], [2000, 2000, 4500, 4500])
    area = [[a, b] for a, b in zip(lon.tolist(), lat.tolist(), strict=True)]
    (folder / "data" / "area.geojson").write_text(json.dumps({
        "type": "FeatureCollection", "features": [{
            "type": "Feature", "properties": {},
            "geometry": {"type": "Polygon", "coordinates": [area + area[:1]]}}]}))
    centre = GeoFrame.from_crs("EPSG:32632").lonlat(3000, 1200)
    (folder / "data" / "ed269.json").write_text(json.dumps({"features": [{
        "identifier": "E1", "country": "CHE", "type": "COMMON", "restriction": "PROHIBITED",
        "applicability": [{"permanent": "YES"}], "zoneAuthority": [{"name": "x"}],
        "geometry": [{"uomDimensions": "M", "lowerLimit": 10, "lowerVerticalReference": "AGL",
                      "upperLimit": 120, "upperVerticalReference": "AGL",
                      "horizontalProjection": {"type": "Circle", "center": list(centre),
                                               "radius": 200}}]}]}))
    # Three streets of an OpenStreetMap extract, from (1000, 1000) to (4000, 3000) m, and
    # a river across the water polygon of the other variants.
    frame = GeoFrame.from_origin(47.0, 8.0)
    pts = [(1000, 1000), (2500, 1000), (4000, 1000), (2500, 3000), (6500, 500), (7500, 1200)]
    nodes = "".join(f'<node id="{i + 1}" lat="{frame.lonlat(x, y)[1]:.8f}" '
                    f'lon="{frame.lonlat(x, y)[0]:.8f}"/>' for i, (x, y) in enumerate(pts))
    ways = ('<way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/>'
            '<tag k="highway" v="primary"/></way>'
            '<way id="11"><nd ref="2"/><nd ref="4"/><tag k="highway" v="residential"/></way>'
            '<way id="12"><nd ref="5"/><nd ref="6"/><tag k="waterway" v="river"/></way>')
    (folder / "data" / "streets.osm").write_text(
        f'<?xml version="1.0"?><osm version="0.6">{nodes}{ways}</osm>')
    out = {}
    for name, change in VARIANTS.items():
        data = copy.deepcopy(EVERY_KEY)
        if change is not None:
            change(data)
        data["name"] = name
        sc = load_scenario_text(json.dumps(data), filename=f"{name}.yaml", base_dir=str(folder))
        out[name] = (data, sc)
    return out


def _present(v: Validator, data: Any, path: str, out: set[str]) -> None:
    """Reference paths (``a[].b``, ``c.<domain>.d``) of the keys ``data`` gives."""
    if isinstance(v, Nullable):
        if data is not None:
            _present(v.inner, data, path, out)
    elif isinstance(v, PointOrRecord | NameOrRecord):
        if isinstance(data, dict):
            _present(v.record, data, path, out)
    elif isinstance(v, Record):
        for key, value in data.items():
            here = schema.child_path(path, key)
            out.add(here)
            _present(v.fields[key].validator, value, here, out)
    elif isinstance(v, schema.FileList) and v.is_file(data):  # one file
        _present(v.files, data, path + "[](file)", out)
    elif isinstance(v, ListOf):
        for item in data:
            if isinstance(v, schema.FileList) and v.is_file(item):
                _present(v.files, item, path + "[](file)", out)
            else:
                _present(v.item, item, path + "[]", out)
    elif isinstance(v, MapOf) and isinstance(v.value, Record | NameOrRecord | Nullable):
        name = v.key.what if isinstance(v.key, schema.Named) else "id"
        for value in data.values():
            _present(v.value, value, f"{path}.<{name}>", out)


def _given_defaults(v: Validator, data: Any, path: str, out: list[str]) -> None:
    """Keys ``data`` sets to their declared default (a dropped key would go unnoticed)."""
    if isinstance(v, Nullable):
        if data is not None:
            _given_defaults(v.inner, data, path, out)
    elif isinstance(v, PointOrRecord | NameOrRecord):
        if isinstance(data, dict):
            _given_defaults(v.record, data, path, out)
    elif isinstance(v, Record):
        for key, value in data.items():
            f = v.fields[key]
            if f.default is not NO_DEFAULT and value == f.default and \
                    not isinstance(f.validator, Exactly):
                out.append(schema.child_path(path, key))
            _given_defaults(f.validator, value, schema.child_path(path, key), out)
    elif isinstance(v, ListOf):
        for i, item in enumerate(data):
            from_file = isinstance(v, schema.FileList) and v.is_file(item)
            _given_defaults(v.files if from_file else v.item, item, schema.item_path(path, i),
                            out)
    elif isinstance(v, MapOf):
        for k, value in data.items():
            _given_defaults(v.value, value, schema.child_path(path, k), out)


def test_the_every_key_scenarios_give_every_key(every_key_scenarios):
    given: set[str] = set()
    for data, _ in every_key_scenarios.values():
        _present(schema.SCENARIO, data, "", given)
    declared = {e.path for e in reference.entries()}
    assert given <= declared
    assert not declared - given, ("keys the every-key scenarios do not give (add them to "
                                  f"EVERY_KEY or a variant): {sorted(declared - given)}")


def test_the_every_key_scenarios_give_no_key_its_default(every_key_scenarios):
    for name, (data, _) in every_key_scenarios.items():
        at_default: list[str] = []
        _given_defaults(schema.SCENARIO, data, "", at_default)
        assert not at_default, f"{name}: keys at their default: {at_default}"


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_key_round_trips_through_the_source(every_key_scenarios, name):
    _, sc = every_key_scenarios[name]
    back = scenario_from_source(json.loads(json.dumps(sc.source, allow_nan=False)))
    assert back == sc
    assert back.source == sc.source


def test_the_round_trip_would_notice_a_dropped_key(every_key_scenarios):
    """Dropping any one key of the source changes the scenario it loads back to."""
    _, sc = every_key_scenarios["every_key"]
    vt = sc.source["fleet"]["types"][0]
    for key in ("reserve_fraction", "relay_range_m", "airframe_params", "energy"):
        source = copy.deepcopy(sc.source)
        del source["fleet"]["types"][0][key]
        assert scenario_from_source(source) != sc, key
    assert vt["reserve_fraction"] == 0.25


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_scenarios_round_trip_through_the_source(path):
    sc = load_scenario(path)
    back = scenario_from_source(json.loads(json.dumps(sc.source, allow_nan=False)),
                                base_dir=sc.base_dir)
    assert back == sc
    assert back.source == sc.source


# ------------------------------------------------------------------ fleetsim schema

def test_fleetsim_schema_markdown_prints_every_key(capsys):
    assert main(["schema", "--markdown"]) == 0
    out = capsys.readouterr().out
    for sec in reference.sections():
        heading = f"## `{sec.path or '(top level)'}`"
        assert heading in out
        table = out.split(heading, 1)[1].split("\n## ", 1)[0]
        for e in sec.entries:
            row = next((ln for ln in table.splitlines() if ln.startswith(f"| `{e.key}` |")), None)
            assert row is not None, e.path
            assert e.field.doc.replace("|", "\\|") in row
            assert f"| {e.default} |" in row or e.default.replace("|", "\\|") in row
        for rule in sec.record.rules:
            assert f"- {rule}" in table
    row = next(ln for ln in out.splitlines() if ln.startswith("| `cruise_speed_mps` |"))
    assert row == ("| `cruise_speed_mps` | a number >= 0.01 and <= 1000 | m/s | required | "
                   "Speed along a leg (the speed limit caps it on roads). |")


def test_fleetsim_schema_prints_a_tree_with_a_line_per_key(capsys):
    assert main(["schema"]) == 0
    lines = capsys.readouterr().out.splitlines()
    body = [ln for ln in lines[3:] if ln]
    assert len(body) == len(reference.entries())  # one line per key, nothing else
    assert "  duration_s: a number > 0 and <= 1e+08; s; required  # Simulated time the run " \
           "lasts; vehicles still out are not brought home." in body
    # a mapping below a key is the key's line, its keys indented under it
    i = body.index("  minima.<domain>:  # Minima per domain; domains not listed are not "
                   "checked. (default {air: {horizontal_m: 50, vertical_m: 15}})")
    assert body[i + 1].startswith("    horizontal_m: a number > 0 and <= 100000; m; default 50")
    assert body[body.index("fleet:  # The vehicles. (required)") + 1].startswith("  types[]:")

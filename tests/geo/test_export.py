"""fleetsim export: every format read back; GeoJSON zones in -> run -> GeoJSON out."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import shapely

from fleetsim.cli import main
from fleetsim.geo.frame import GeoFrame
from fleetsim.geo.zones import geojson_zones
from fleetsim.rundir import read_run
from fleetsim.scenario import load_scenario_text

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "zurich_streets.yaml"
ZONES = ROOT / "scenarios" / "data" / "zurich" / "zones.geojson"
FRAME = GeoFrame.from_origin(47.3780, 8.5300)
START = "2026-06-01T08:00:00Z"
T0 = dt.datetime(2026, 6, 1, 8, tzinfo=dt.UTC).timestamp()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "zurich"
    assert main(["run", str(SCENARIO), "--set", "run.duration_s=900", "--out", str(out),
                 "--no-replay", "-q"]) == 0
    return out


def _export(run_dir: Path, fmt: str, *extra: str) -> Path:
    assert main(["export", str(run_dir), "--format", fmt, "--start", START, *extra]) == 0
    files = sorted((run_dir / "export").iterdir(), key=lambda p: p.stat().st_mtime)
    return files[-1]


def test_geojson_out_reproduces_the_geojson_zones_in_within_a_metre(run_dir):
    out = _export(run_dir, "geojson")
    assert out == run_dir / "export" / "tracks.geojson"
    doc = json.loads(out.read_text())
    zones_out = [f for f in doc["features"] if f["properties"]["layer"] == "zone"]
    props = {"id": "name", "kind": "class", "ceiling": "ceiling_m", "start": "from_s",
             "end": "to_s"}
    zones_in = geojson_zones(str(ZONES), FRAME, properties=props)
    # the export reads back as zones with the reader's default property names
    zones_back = geojson_zones(str(out), FRAME)
    assert [z["id"] for z in zones_back] == [z["id"] for z in zones_in] == \
        [f["properties"]["id"] for f in zones_out]
    for back, z in zip(zones_back, zones_in, strict=True):
        assert back["kind"] == z["kind"]
        assert back.get("ceiling_amsl_m") == z.get("ceiling_amsl_m")
        assert back.get("floor_amsl_m") == z.get("floor_amsl_m")
        assert back.get("active", {}).get("end_s") == z.get("active", {}).get("end_s")
        assert back.get("active", {}).get("start_s", 0.0) == \
            z.get("active", {}).get("start_s", 0.0)
        got, want = shapely.Polygon(back["polygon"]), shapely.Polygon(z["polygon"])
        assert shapely.hausdorff_distance(got, want) < 1.0
    for f in zones_out:  # RFC 7946: [lon, lat], closed rings
        ring = np.asarray(f["geometry"]["coordinates"][0])
        assert ring[0].tolist() == ring[-1].tolist()
        assert np.all((ring[:, 0] > 8.5) & (ring[:, 0] < 8.55) & (ring[:, 1] > 47.3))


def test_exported_zones_load_back_as_the_same_zones(run_dir, tmp_path):
    out = _export(run_dir, "geojson")
    text = SCENARIO.read_text()
    text = text.replace("geojson: data/zurich/zones.geojson", f"geojson: {out}").replace(
        "      properties: {id: name, kind: class, ceiling: ceiling_m, start: from_s, end: to_s}\n",
        "")
    again = load_scenario_text(text, base_dir=str(SCENARIO.parent))
    first = read_run(run_dir).scenario
    assert [z.id for z in again.zones] == [z.id for z in first.zones]
    for a, b in zip(again.zones, first.zones, strict=True):
        assert (a.kind, a.floor_amsl_m, a.ceiling_amsl_m, a.active) == \
            (b.kind, b.floor_amsl_m, b.ceiling_amsl_m, b.active)
        assert np.abs(np.asarray(a.exterior) - np.asarray(b.exterior)).max() < 0.05


def test_geojson_tracks_sites_and_events_are_lon_lat(run_dir):
    doc = json.loads(_export(run_dir, "geojson").read_text())
    run = read_run(run_dir)
    sites = {f["properties"]["id"]: f["geometry"]["coordinates"] for f in doc["features"]
             if f["properties"]["layer"] == "site"}
    for s in run.scenario.sites:
        assert sites[s.id] == pytest.approx(list(FRAME.lonlat(*s.position)), abs=1e-7)
    assert sites["depot"] == pytest.approx([8.523379, 47.374627], abs=1e-6)
    from fleetsim.geo.points import geojson_points  # the export reads back as the sites

    back = geojson_points(str(run_dir / "export" / "tracks.geojson"), FRAME, layer="site",
                          kind_property="kind")
    assert [(b["id"], b["kind"]) for b in back] == [(s.id, s.kind) for s in run.scenario.sites]
    for b, s in zip(back, run.scenario.sites, strict=True):
        assert np.hypot(*(np.asarray(b["position"]) - s.position)) < 0.02
    tracks = [f for f in doc["features"] if f["properties"]["layer"] == "track"]
    assert sorted(f["properties"]["vehicle"] for f in tracks) == sorted(
        set(run.legs["vehicle"].tolist()))
    for f in tracks:
        c = np.asarray(f["geometry"]["coordinates"])
        assert c.shape[1] == 3 and len(f["properties"]["times_s"]) == len(c)
        assert np.all((c[:, 0] > 8.5) & (c[:, 0] < 8.55) & (c[:, 1] > 47.36) & (c[:, 1] < 47.39))
        assert np.all(np.diff(f["properties"]["times_s"]) >= 0)
    events = [f for f in doc["features"] if f["properties"]["layer"] == "event"]
    placed = np.isfinite(run.events["x_m"]) & np.isfinite(run.events["y_m"])
    assert len(events) == int(placed.sum()) > 0
    assert [e["properties"]["kind"] for e in events] == \
        [str(k) for k in run.events["kind"][placed]]
    first = np.flatnonzero(placed)[0]
    assert events[0]["geometry"]["coordinates"] == pytest.approx(
        list(FRAME.lonlat(run.events["x_m"][first], run.events["y_m"][first])), abs=1e-7)


def test_the_tables_of_a_run_on_the_map_carry_lon_lat_columns(run_dir):
    import pandas as pd

    legs = pd.read_parquet(run_dir / "legs.parquet")
    lon, lat = FRAME.to_lonlat(legs["x1_m"].to_numpy(), legs["y1_m"].to_numpy())
    np.testing.assert_allclose(legs["lon1_deg"], lon, rtol=0, atol=1e-12)
    np.testing.assert_allclose(legs["lat1_deg"], lat, rtol=0, atol=1e-12)
    events = pd.read_parquet(run_dir / "events.parquet")
    assert {"lon_deg", "lat_deg"} <= set(events.columns)
    placed = events["x_m"].notna()
    assert events.loc[placed, "lat_deg"].between(47.36, 47.39).all()
    assert events.loc[~placed, "lat_deg"].isna().all()
    assert {"lon_deg", "lat_deg"} <= set(pd.read_parquet(run_dir / "targets.parquet").columns)


def test_every_adds_track_points_along_the_legs(run_dir):
    plain = json.loads(_export(run_dir, "geojson", "--vehicles", "2").read_text())
    dense = json.loads(_export(run_dir, "geojson", "--vehicles", "2", "--every", "5").read_text())

    def times(doc):
        return next(f["properties"]["times_s"] for f in doc["features"]
                    if f["properties"]["layer"] == "track")

    a, b = times(plain), times(dense)
    assert set(a) <= set(b) and len(b) > len(a)
    extra = sorted(set(b) - set(a))
    assert all(abs(t / 5 - round(t / 5)) < 1e-9 for t in extra)


def test_kepler_trips_are_lon_lat_alt_unix_seconds(run_dir):
    doc = json.loads(_export(run_dir, "kepler").read_text())
    geo = json.loads(_export(run_dir, "geojson").read_text())
    for f in doc["features"]:
        c = np.asarray(f["geometry"]["coordinates"])
        assert c.shape[1] == 4
        t = c[:, 3] - T0
        assert np.all(np.diff(t) >= 0) and t[0] >= 0 and t[-1] <= 900 + 1e-6
        same = next(g for g in geo["features"] if g["properties"]["layer"] == "track"
                    and g["properties"]["vehicle"] == f["properties"]["vehicle"])
        np.testing.assert_allclose(c[:, :3], same["geometry"]["coordinates"])
        np.testing.assert_allclose(t, same["properties"]["times_s"], atol=1e-3)


def test_czml_packets_validate_with_czml3(run_dir):
    from czml3 import Packet

    packets = json.loads(_export(run_dir, "czml").read_text())
    assert packets[0]["id"] == "document" and packets[0]["version"] == "1.0"
    parsed = [Packet.model_validate(p) for p in packets]
    ids = [p.id for p in parsed]
    assert {"zone/Stadtpark", "zone/Spital", "zone/Festplatz", "site/depot"} <= set(ids)
    vehicle = next(p for p in packets if p["id"] == "vehicle/2")
    flat = np.asarray(vehicle["position"]["cartographicDegrees"]).reshape(-1, 4)
    assert vehicle["position"]["epoch"] == "2026-06-01T08:00:00.000Z"
    assert np.all(np.diff(flat[:, 0]) >= 0)  # seconds from the epoch, then lon, lat, height
    assert np.all((flat[:, 1] > 8.5) & (flat[:, 2] > 47.3))


def test_kml_parses_with_a_track_per_vehicle(run_dir):
    root = ET.parse(_export(run_dir, "kml")).getroot()
    ns = {"k": "http://www.opengis.net/kml/2.2", "gx": "http://www.google.com/kml/ext/2.2"}
    assert root.tag == "{http://www.opengis.net/kml/2.2}kml"
    tracks = root.findall(".//gx:Track", ns)
    assert len(tracks) == 6
    for tr in tracks:
        when = tr.findall("k:when", ns)
        coord = tr.findall("gx:coord", ns)
        assert len(when) == len(coord) > 1
        lon, lat, _ = (float(v) for v in coord[0].text.split())
        assert 8.5 < lon < 8.55 and 47.36 < lat < 47.39
    names = [pm.findtext("k:name", namespaces=ns) for pm in root.findall(".//k:Placemark", ns)]
    assert {"Stadtpark", "Spital", "Festplatz", "depot"} <= set(names)


def test_operational_intents_are_f3548_volumes_in_time(run_dir):
    from implicitdict import ImplicitDict
    from uas_standards.astm.f3548.v21.api import OperationalIntentDetails

    intents = json.loads(_export(run_dir, "intents").read_text())
    assert intents and {i["vehicle"] for i in intents} <= {2, 3, 4, 5}  # drones only
    for intent in intents:
        details = ImplicitDict.parse(intent["details"], OperationalIntentDetails)
        for vol in details.volumes:
            lo, hi = vol.volume.altitude_lower.value, vol.volume.altitude_upper.value
            assert hi - lo >= 20.0 - 1e-9  # the band is widened by 2 x vertical_m (10 m)
            assert vol.time_start.value.datetime <= vol.time_end.value.datetime
            assert len(vol.volume.outline_polygon.vertices) >= 4
        starts = [v.time_start.value.datetime for v in details.volumes]
        assert starts == sorted(starts)


_XYZT = ["t0_s", "t1_s", "x0_m", "y0_m", "z0_m", "x1_m", "y1_m", "z1_m"]


def test_the_reservations_are_recorded_and_a_kept_one_is_what_was_flown(run_dir):
    """Strategic deconfliction's reservations are in the run directory; one that no new
    plan withdrew is, volume for volume, the legs the drone then flew."""
    import pandas as pd

    res = pd.read_parquet(run_dir / "reservations.parquet")
    legs = pd.read_parquet(run_dir / "legs.parquet")
    assert len(res) and set(res["vehicle"]) <= {2, 3, 4, 5}  # drones only
    assert list(res["intent"]) == sorted(res["intent"])
    lon, lat = FRAME.to_lonlat(res["x0_m"].to_numpy(), res["y0_m"].to_numpy())
    np.testing.assert_allclose(res["lon0_deg"], lon, atol=1e-9)
    np.testing.assert_allclose(res["lat0_deg"], lat, atol=1e-9)
    compared = 0
    for _, r in res.groupby("intent"):
        if r["withdrawn_s"].notna().any() or r["t1_s"].max() > 900:
            continue  # re-planned, or flown past the end of the run
        v = int(r["vehicle"].iloc[0])
        flown = legs[(legs["vehicle"] == v) & (legs["t0_s"] >= r["t0_s"].min() - 1e-9)
                     & (legs["t0_s"] < r["t1_s"].max()) & (legs["t1_s"] > legs["t0_s"])]
        flown = flown.sort_values(["t0_s", "leg"])
        np.testing.assert_allclose(flown[_XYZT].to_numpy(), r[_XYZT].to_numpy(), atol=1e-6)
        assert r["reserved_s"].iloc[0] <= r["t0_s"].min()
        compared += 1
    assert compared >= 2


def test_intents_are_the_reservations_and_fall_back_to_the_flown_legs(run_dir, tmp_path):
    import shutil

    import pandas as pd

    res = pd.read_parquet(run_dir / "reservations.parquet")
    intents = json.loads(_export(run_dir, "intents").read_text())
    assert [i["source"] for i in intents] == ["reservation"] * res["intent"].nunique()
    for intent, (_, r) in zip(intents, res.groupby("intent"), strict=True):
        assert intent["vehicle"] == int(r["vehicle"].iloc[0])
        assert intent["reserved_s"] == pytest.approx(float(r["reserved_s"].iloc[0]))
        vols = intent["details"]["volumes"]
        assert len(vols) == len(r)
        for vol, t0, t1 in zip(vols, r["t0_s"], r["t1_s"], strict=True):
            for key, t in (("time_start", t0), ("time_end", t1)):
                stamp = dt.datetime.fromisoformat(vol[key]["value"]).timestamp()
                assert stamp == pytest.approx(T0 + t, abs=1e-3)
    # a run directory without the table (written before it existed): the flights flown
    old = tmp_path / "old"
    shutil.copytree(run_dir, old, ignore=shutil.ignore_patterns("export"))
    (old / "reservations.parquet").unlink()
    flown = json.loads(_export(old, "intents").read_text())
    assert flown and {i["source"] for i in flown} == {"flown"}
    assert all("/flight-" in i["id"] for i in flown)


def test_a_qgc_plan_flies_the_drones_route(run_dir):
    plan = json.loads(_export(run_dir, "qgc", "--vehicles", "2").read_text())
    assert plan["fileType"] == "Plan" and plan["mission"]["version"] == 2
    items = plan["mission"]["items"]
    assert items[0]["command"] == 22 and items[-1]["command"] == 20  # take-off .. RTL
    assert all(i["command"] == 16 for i in items[1:-1])
    home = plan["mission"]["plannedHomePosition"]
    assert home[:2] == pytest.approx([47.374627, 8.523379], abs=2e-5)  # lat, lon: the depot
    assert len(plan["geoFence"]["polygons"]) == 2  # the two no-fly zones
    assert all(not p["inclusion"] for p in plan["geoFence"]["polygons"])


def test_a_qgc_plan_needs_one_air_vehicle(run_dir, capsys):
    assert main(["export", str(run_dir), "--format", "qgc"]) == 2
    assert "a QGroundControl plan is one vehicle's mission: give --vehicles" in \
        capsys.readouterr().err
    assert main(["export", str(run_dir), "--format", "qgc", "--vehicles", "0"]) == 2
    assert "vehicle 0 is not an air vehicle" in capsys.readouterr().err
    assert main(["export", str(run_dir), "--format", "geojson", "--vehicles", "99"]) == 2
    assert "--vehicles: no vehicle 99 in this run (vehicles 0..5)" in capsys.readouterr().err


def test_a_run_off_the_map_says_how_to_put_it_on(tmp_path, capsys):
    text = (ROOT / "tests" / "geo" / "test_frame.py").read_text()
    body = text.split('SCENARIO = """', 1)[1].split('"""', 1)[0]
    scenario = tmp_path / "local.yaml"
    scenario.write_text(body.format(where="").replace(
        "polygon: {lonlat: [[8.545, 47.378], [8.55, 47.378], [8.55, 47.381]]}",
        "polygon: [[500, 500], [900, 500], [900, 900]]").replace(
        "{lonlat: [8.53, 47.37]}", "[0, 0]").replace("duration_s: 600", "duration_s: 60"))
    out = tmp_path / "run"
    assert main(["run", str(scenario), "--out", str(out), "--no-replay", "-q"]) == 0
    import pyarrow.parquet as pq  # off the map: the tables are written as before

    assert "lon0_deg" not in pq.read_schema(out / "legs.parquet").names
    assert main(["export", str(out), "--format", "geojson"]) == 2
    err = capsys.readouterr().err
    assert "is not on the map (no world.origin or world.crs); run it again with e.g. " \
           "--set 'world.origin={lat: 47.0, lon: 8.0}' to export it" in err
    on_map = tmp_path / "run2"
    assert main(["run", str(scenario), "--out", str(on_map), "--no-replay", "-q",
                 "--set", "world.origin={lat: 47.0, lon: 8.0}"]) == 0
    assert main(["export", str(on_map), "--format", "geojson"]) == 0


def test_tracks_are_leg_ends_and_samples_in_closed_form():
    from types import SimpleNamespace

    from fleetsim.geo.export import tracks

    legs = {"leg": np.array([1, 0, 2]), "vehicle": np.array([0, 0, 1]),
            "t0_s": np.array([10.0, 0.0, 0.0]), "t1_s": np.array([20.0, 10.0, 5.0]),
            "x0_m": np.array([100.0, 0.0, 7.0]), "y0_m": np.array([0.0, 0.0, 7.0]),
            "z0_m": np.array([50.0, 50.0, 0.0]), "x1_m": np.array([100.0, 100.0, 7.0]),
            "y1_m": np.array([50.0, 0.0, 7.0]), "z1_m": np.array([50.0, 50.0, 0.0])}
    run = SimpleNamespace(legs=legs)
    plain = tracks(run)
    assert plain[0].tolist() == [[0, 0, 0, 50], [10, 100, 0, 50], [20, 100, 50, 50]]
    assert plain[1].tolist() == [[0, 7, 7, 0], [5, 7, 7, 0]]
    dense = tracks(run, [0], every_s=4.0)
    assert list(dense) == [0]
    assert dense[0].tolist() == [[0, 0, 0, 50], [4, 40, 0, 50], [8, 80, 0, 50],
                                 [10, 100, 0, 50], [12, 100, 10, 50], [16, 100, 30, 50],
                                 [20, 100, 50, 50]]


def test_a_reservation_a_new_plan_voids_is_recorded_as_withdrawn_then(tmp_path):
    """shared_airspace with strategic and tactical deconfliction: an intent is withdrawn
    exactly when its drone is given a new plan (the policy's, or a tactical hold), and the
    intents export says when."""
    import pandas as pd

    out = tmp_path / "shared"
    assert main(["run", str(ROOT / "scenarios" / "shared_airspace.yaml"), "--set",
                 "run.duration_s=600", "--set", "separation.strategic={}", "--set",
                 "separation.tactical=hold", "--set", "world.origin={lat: 47.0, lon: 8.0}",
                 "--out", str(out), "--no-replay", "-q"]) == 0
    res = pd.read_parquet(out / "reservations.parquet")
    events = pd.read_parquet(out / "events.parquet")
    first = res.groupby("intent").first()
    withdrawn = first[first["withdrawn_s"].notna()]
    assert len(withdrawn) >= 3
    for _, r in withdrawn.iterrows():
        assert r["reserved_s"] <= r["withdrawn_s"]
        kinds = set(events.loc[(events["vehicle"] == r["vehicle"])
                               & ((events["time_s"] - r["withdrawn_s"]).abs() < 1e-9), "kind"])
        assert kinds & {"plan", "deconflict"}, kinds
    intents = json.loads(_export(out, "intents").read_text())
    assert len(intents) == len(first)
    got = {i["id"]: i["withdrawn_s"] for i in intents if i["withdrawn_s"] is not None}
    assert sorted(got.values()) == pytest.approx(sorted(withdrawn["withdrawn_s"]))

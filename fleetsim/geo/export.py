"""A recorded run on the map: GeoJSON, CZML, KML, kepler.gl trips, ASTM F3548 operational
intents and QGroundControl plans (``fleetsim export``).

Everything is read from a run directory (:func:`fleetsim.rundir.read_run`) and
placed through the scenario's :class:`~fleetsim.geo.frame.GeoFrame`; a run
without ``world.origin`` / ``world.crs`` cannot be exported (the error says
how to put it on the map). Times: run seconds, and absolute UTC times from
``start`` (the date-time run second 0 stands for). Altitudes are the
recorded ``z`` (metres above the terrain's datum, taken as above mean sea
level / the WGS 84 ellipsoid where a format asks).

A vehicle's track is its legs' end points in time order (``every_s``: also a
point every ``every_s`` seconds along them). Written formats:

- ``geojson``: RFC 7946 FeatureCollection, ``[lon, lat, z]``: one LineString
  per vehicle (``times_s``), the zones as Polygons with the properties the
  GeoJSON zone reader takes back (``id``, ``kind``, ``floor_amsl_m``,
  ``ceiling_amsl_m``, ``start_s``, ``end_s``), the sites and the events as Points;
- ``czml``: Cesium packets (a document with the clock, one per vehicle with
  a time-tagged ``cartographicDegrees`` position and a path, one per zone
  and site);
- ``kml``: Google Earth placemarks (``gx:Track`` per vehicle, zones as
  extruded polygons, sites);
- ``kepler``: kepler.gl's trip layer: LineStrings of ``[lon, lat, alt, unix_s]``;
- ``intents``: ASTM F3548-21 operational intents: the 4D reservations strategic
  deconfliction made before each take-off (``reservations.parquet``), or, for a
  run without them, per flight (take-off to landing) the legs as flown; each leg
  a volume (its segment widened by the air separation minimum, its altitude band
  widened by the vertical one, its time span), checked against the
  ``uas_standards`` types;
- ``qgc``: one vehicle's flights as a QGroundControl ``.plan`` mission
  (take-off, waypoints, return-to-launch), the no-fly zones as geofence
  exclusion polygons.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from fleetsim.errors import FleetsimError
from fleetsim.geo.formats import DEFAULT_START, EXTENSIONS, FORMATS
from fleetsim.geo.frame import GeoFrame, frame_of

__all__ = ["FORMATS", "EXTENSIONS", "DEFAULT_START", "export_run", "tracks"]

#: Coordinates are written to 1e-7 degrees (about 1 cm), heights to 1 mm.
_DEG, _M = 7, 3
_KML = "http://www.opengis.net/kml/2.2"
_GX = "http://www.google.com/kml/ext/2.2"


def _frame(run: Any, run_dir: str) -> GeoFrame:
    frame = frame_of(run.scenario)
    if frame is None:
        raise FleetsimError(
            f"{run_dir}: the run's scenario is not on the map (no world.origin or world.crs); "
            "run it again with e.g. --set 'world.origin={lat: 47.0, lon: 8.0}' to export it")
    return frame


def _iso(start: dt.datetime, t_s: float) -> str:
    t = start + dt.timedelta(seconds=float(t_s))
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def tracks(run: Any, vehicles: list[int] | None = None,
           every_s: float | None = None) -> dict[int, np.ndarray]:
    """Per vehicle, its track as an (n, 4) array of ``t_s, x_m, y_m, z_m`` in time order.

    The points are the legs' start and end points (repeated points dropped) and, with
    ``every_s``, the points at every multiple of ``every_s`` seconds inside a leg."""
    legs = run.legs
    order = np.lexsort((legs["leg"], legs["t0_s"], legs["vehicle"]))  # one sort for all
    veh = legs["vehicle"][order]
    ids = np.unique(veh) if vehicles is None else np.asarray(sorted(vehicles))
    lo = np.searchsorted(veh, ids, side="left")
    hi = np.searchsorted(veh, ids, side="right")
    cols = {k: legs[k][order] for k in ("t0_s", "t1_s", "x0_m", "y0_m", "z0_m", "x1_m",
                                        "y1_m", "z1_m")}
    out: dict[int, np.ndarray] = {}
    for v, a, b in zip(ids.tolist(), lo.tolist(), hi.tolist(), strict=True):
        if a == b:
            continue
        t0, t1 = cols["t0_s"][a:b], cols["t1_s"][a:b]
        p0 = np.column_stack([cols[k][a:b] for k in ("x0_m", "y0_m", "z0_m")])
        p1 = np.column_stack([cols[k][a:b] for k in ("x1_m", "y1_m", "z1_m")])
        # each leg's start then its end, legs in order; then the samples inside legs
        rows = [np.stack([np.column_stack([t0, p0]), np.column_stack([t1, p1])],
                         axis=1).reshape(-1, 4)]
        if every_s:
            first = np.ceil(t0 / every_s)
            count = np.maximum(np.ceil(t1 / every_s) - first, 0).astype(np.int64)
            count[t1 <= t0] = 0
            if count.sum():
                k = np.repeat(np.arange(len(t0)), count)
                step = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
                ts = (first[k] + step) * every_s
                f = ((ts - t0[k]) / (t1[k] - t0[k]))[:, None]
                rows.append(np.column_stack([ts, p0[k] + f * (p1[k] - p0[k])]))
        pts = np.vstack(rows)
        pts = pts[np.argsort(pts[:, 0], kind="stable")]
        keep = np.ones(len(pts), dtype=bool)
        keep[1:] = np.any(np.diff(pts, axis=0) != 0, axis=1)
        out[int(v)] = pts[keep]
    return out


def _ll(frame: GeoFrame, x: Any, y: Any) -> tuple[list[float], list[float]]:
    lon, lat = frame.to_lonlat(np.atleast_1d(x), np.atleast_1d(y))
    return np.round(lon, _DEG).tolist(), np.round(lat, _DEG).tolist()


def _ring_ll(frame: GeoFrame, ring: Any) -> list[list[float]]:
    arr = np.asarray(ring, dtype=np.float64)
    lon, lat = _ll(frame, arr[:, 0], arr[:, 1])
    pts = [[a, b] for a, b in zip(lon, lat, strict=True)]
    return pts + pts[:1]  # RFC 7946: the first position repeated last


def _lim(v: float) -> float | None:
    return None if math.isinf(v) else float(v)


def _zone_features(run: Any, frame: GeoFrame) -> list[dict]:
    out = []
    for z in run.scenario.zones:
        rings = [_ring_ll(frame, z.exterior)] + [_ring_ll(frame, h) for h in z.holes]
        out.append({"type": "Feature", "id": z.id,
                    "geometry": {"type": "Polygon", "coordinates": rings},
                    "properties": {"layer": "zone", "id": z.id, "kind": z.kind,
                                   "floor_amsl_m": _lim(z.floor_amsl_m),
                                   "ceiling_amsl_m": _lim(z.ceiling_amsl_m),
                                   "start_s": z.active.start_s, "end_s": z.active.end_s}})
    return out


def _site_features(run: Any, frame: GeoFrame) -> list[dict]:
    out = []
    for s in run.scenario.sites:
        lon, lat = _ll(frame, s.position[0], s.position[1])
        out.append({"type": "Feature", "geometry": {"type": "Point",
                                                    "coordinates": [lon[0], lat[0]]},
                    "properties": {"layer": "site", "id": s.id, "kind": s.kind}})
    return out


def _geojson(run, frame, trk, start, types) -> dict:
    feats = _zone_features(run, frame) + _site_features(run, frame)
    for v, p in trk.items():
        lon, lat = _ll(frame, p[:, 1], p[:, 2])
        coords = [[a, b, round(float(z), _M)] for a, b, z in zip(lon, lat, p[:, 3], strict=True)]
        if len(coords) == 1:
            coords.append(coords[0])
        feats.append({"type": "Feature", "geometry": {"type": "LineString", "coordinates": coords},
                      "properties": {"layer": "track", "vehicle": v, "type": types[v],
                                     "times_s": [round(float(t), _M) for t in p[:, 0]],
                                     "start": _iso(start, p[0, 0]), "end": _iso(start, p[-1, 0])}})
    ev = run.events
    ok = np.isfinite(ev["x_m"]) & np.isfinite(ev["y_m"])
    idx = np.flatnonzero(ok)
    lon, lat = _ll(frame, ev["x_m"][idx], ev["y_m"][idx]) if idx.size else ([], [])
    for k, i in enumerate(idx.tolist()):
        feats.append({"type": "Feature", "geometry": {"type": "Point",
                                                      "coordinates": [lon[k], lat[k]]},
                      "properties": {"layer": "event", "kind": str(ev["kind"][i]),
                                     "time_s": float(ev["time_s"][i]),
                                     "time": _iso(start, ev["time_s"][i]),
                                     "vehicle": int(ev["vehicle"][i])}})
    return {"type": "FeatureCollection", "features": feats}


def _kepler(run, frame, trk, start, types) -> dict:
    t0 = start.timestamp()
    feats = []
    for v, p in trk.items():
        lon, lat = _ll(frame, p[:, 1], p[:, 2])
        coords = [[a, b, round(float(z), _M), round(t0 + float(t), _M)]
                  for a, b, z, t in zip(lon, lat, p[:, 3], p[:, 0], strict=True)]
        feats.append({"type": "Feature", "properties": {"vehicle": v, "type": types[v]},
                      "geometry": {"type": "LineString", "coordinates": coords}})
    return {"type": "FeatureCollection", "features": feats}


def _czml(run, frame, trk, start, types) -> list[dict]:
    end = max([float(run.scenario.run.duration_s)] + [float(p[-1, 0]) for p in trk.values()])
    interval = f"{_iso(start, 0)}/{_iso(start, end)}"
    doc = [{"id": "document", "name": run.scenario.name, "version": "1.0",
            "clock": {"interval": interval, "currentTime": _iso(start, 0), "multiplier": 10}}]
    for z in run.scenario.zones:
        ring = _ring_ll(frame, z.exterior)[:-1]
        floor = 0.0 if math.isinf(z.floor_amsl_m) else z.floor_amsl_m
        ceiling = floor + 500.0 if math.isinf(z.ceiling_amsl_m) else z.ceiling_amsl_m
        colour = [220, 30, 30, 90] if z.kind == "no_fly" else [240, 160, 0, 90]
        doc.append({"id": f"zone/{z.id}", "name": z.id, "description": z.kind,
                    "polygon": {"positions": {"cartographicDegrees": [
                        c for lon, lat in ring for c in (lon, lat, floor)]},
                        "height": floor, "extrudedHeight": ceiling,
                        "material": {"solidColor": {"color": {"rgba": colour}}}}})
    for s in run.scenario.sites:
        lon, lat = _ll(frame, s.position[0], s.position[1])
        doc.append({"id": f"site/{s.id}", "name": s.id, "description": s.kind,
                    "position": {"cartographicDegrees": [lon[0], lat[0], 0.0]},
                    "point": {"pixelSize": 8, "color": {"rgba": [40, 40, 200, 255]}}})
    for v, p in trk.items():
        lon, lat = _ll(frame, p[:, 1], p[:, 2])
        flat = [c for t, a, b, z in zip(p[:, 0], lon, lat, p[:, 3], strict=True)
                for c in (round(float(t), _M), a, b, round(float(z), _M))]
        doc.append({"id": f"vehicle/{v}", "name": f"{types[v]} {v}",
                    "availability": f"{_iso(start, p[0, 0])}/{_iso(start, p[-1, 0])}",
                    "position": {"epoch": _iso(start, 0), "cartographicDegrees": flat},
                    "point": {"pixelSize": 6, "color": {"rgba": [255, 255, 255, 255]}},
                    "path": {"width": 1, "leadTime": 0, "trailTime": 600,
                             "material": {"solidColor": {"color": {"rgba": [0, 200, 255, 200]}}}}})
    return doc


def _kml(run, frame, trk, start, types) -> bytes:
    ET.register_namespace("", _KML)
    ET.register_namespace("gx", _GX)
    k = lambda tag: f"{{{_KML}}}{tag}"  # noqa: E731
    root = ET.Element(k("kml"))
    doc = ET.SubElement(root, k("Document"))
    ET.SubElement(doc, k("name")).text = run.scenario.name
    for z in run.scenario.zones:
        pm = ET.SubElement(doc, k("Placemark"))
        ET.SubElement(pm, k("name")).text = z.id
        ET.SubElement(pm, k("description")).text = z.kind
        poly = ET.SubElement(pm, k("Polygon"))
        ceiling = z.ceiling_amsl_m
        if not math.isinf(ceiling):
            ET.SubElement(poly, k("extrude")).text = "1"
            ET.SubElement(poly, k("altitudeMode")).text = "absolute"
        for i, ring in enumerate([z.exterior, *z.holes]):
            b = ET.SubElement(poly, k("outerBoundaryIs" if i == 0 else "innerBoundaryIs"))
            lr = ET.SubElement(ET.SubElement(b, k("LinearRing")), k("coordinates"))
            alt = 0.0 if math.isinf(ceiling) else ceiling
            lr.text = " ".join(f"{lon},{lat},{alt:g}" for lon, lat in _ring_ll(frame, ring))
    for s in run.scenario.sites:
        pm = ET.SubElement(doc, k("Placemark"))
        ET.SubElement(pm, k("name")).text = s.id
        ET.SubElement(pm, k("description")).text = s.kind
        lon, lat = _ll(frame, s.position[0], s.position[1])
        ET.SubElement(ET.SubElement(pm, k("Point")), k("coordinates")).text = \
            f"{lon[0]},{lat[0]},0"
    for v, p in trk.items():
        pm = ET.SubElement(doc, k("Placemark"))
        ET.SubElement(pm, k("name")).text = f"{types[v]} {v}"
        tr = ET.SubElement(pm, f"{{{_GX}}}Track")
        ET.SubElement(tr, k("altitudeMode")).text = "absolute"
        lon, lat = _ll(frame, p[:, 1], p[:, 2])
        for t in p[:, 0]:
            ET.SubElement(tr, k("when")).text = _iso(start, t)
        for a, b, z in zip(lon, lat, p[:, 3], strict=True):
            ET.SubElement(tr, f"{{{_GX}}}coord").text = f"{a} {b} {float(z):.3f}"
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _air_vehicles(run: Any) -> set[int]:
    vt = run.vehicles
    return {int(v) for v, d in zip(vt["vehicle"], vt["domain"], strict=True) if str(d) == "air"}


def _flights(run: Any, vehicles: list[int]) -> dict[int, list[np.ndarray]]:
    """Per vehicle, its flights: runs of consecutive airborne legs (z above the ground),
    as arrays of leg rows in time order."""
    legs = run.legs
    order = np.lexsort((legs["leg"], legs["t0_s"], legs["vehicle"]))
    order = order[np.isin(legs["vehicle"][order], vehicles)]
    terrain = run.world.terrain
    g0 = terrain.height_at(legs["x0_m"][order], legs["y0_m"][order])
    g1 = terrain.height_at(legs["x1_m"][order], legs["y1_m"][order])
    air = (legs["z0_m"][order] > g0 + 0.5) | (legs["z1_m"][order] > g1 + 0.5)
    veh = legs["vehicle"][order]
    # a flight starts where a leg is airborne and the one before is not (or is another
    # vehicle's), and runs while its legs are airborne
    new_vehicle = np.ones(len(order), dtype=bool)
    new_vehicle[1:] = veh[1:] != veh[:-1]
    starts = air & (new_vehicle | ~np.concatenate([[False], air[:-1]]))
    flight = np.cumsum(starts)
    out: dict[int, list[np.ndarray]] = {int(v): [] for v in vehicles}
    rows, ids, owner = order[air], flight[air], veh[air].tolist()
    cuts = np.flatnonzero(np.diff(ids)) + 1
    for chunk in np.split(np.arange(len(rows)), cuts) if len(rows) else []:
        out[int(owner[chunk[0]])].append(rows[chunk])
    return out


def _volumes(frame: GeoFrame, start: dt.datetime, c: dict[str, np.ndarray], half_w: float,
             half_h: float) -> list[dict]:
    """F3548 4D volumes of legs ``c`` (columns t0_s, t1_s, x0_m .. z1_m): each segment (or
    point) widened by ``half_w``, its altitude band by ``half_h``, its time span."""
    a = np.column_stack([c["x0_m"], c["y0_m"]])
    b = np.column_stack([c["x1_m"], c["y1_m"]])
    same = np.all(a == b, axis=1)
    b = np.where(same[:, None], a + [1e-6, 0.0], b)  # a point: a tiny segment
    outlines = shapely.buffer(shapely.linestrings(np.stack([a, b], axis=1)), half_w,
                              quad_segs=4)
    xy, owner = shapely.get_coordinates(shapely.get_exterior_ring(outlines),
                                        return_index=True)
    lon, lat = _ll(frame, xy[:, 0], xy[:, 1])
    cut = np.searchsorted(owner, np.arange(len(a) + 1))
    z_lo = np.round(np.minimum(c["z0_m"], c["z1_m"]) - half_h, _M).tolist()
    z_hi = np.round(np.maximum(c["z0_m"], c["z1_m"]) + half_h, _M).tolist()
    t0, t1 = np.asarray(c["t0_s"]).tolist(), np.asarray(c["t1_s"]).tolist()
    volumes = []
    for j in range(len(a)):
        s0, s1 = cut[j], cut[j + 1] - 1  # the ring's closing point left out
        volumes.append({
            "volume": {"outline_polygon": {"vertices": [
                {"lng": x, "lat": y} for x, y in zip(lon[s0:s1], lat[s0:s1], strict=True)]},
                "altitude_lower": {"value": z_lo[j], "reference": "W84", "units": "M"},
                "altitude_upper": {"value": z_hi[j], "reference": "W84", "units": "M"}},
            "time_start": {"value": _iso(start, t0[j]), "format": "RFC3339"},
            "time_end": {"value": _iso(start, t1[j]), "format": "RFC3339"}})
    return volumes


_LEG_XYZT = ("t0_s", "t1_s", "x0_m", "y0_m", "z0_m", "x1_m", "y1_m", "z1_m")


def _intents(run, frame, trk, start, types) -> list[dict]:
    """The operational intents: the reservations strategic deconfliction made, when the
    run directory holds them (``reservations.parquet``); else, per flight, the legs as
    flown from take-off to landing."""
    from uas_standards.astm.f3548.v21.api import OperationalIntentDetails

    sep = run.scenario.separation
    minima = sep.minima.get("air") if sep is not None else None
    half_w = minima.horizontal_m if minima else 50.0
    half_h = minima.vertical_m if minima else 15.0
    air = _air_vehicles(run)
    wanted = [v for v in trk if v in air]  # ground and sea: none
    res = run.reservations
    out = []
    if res is not None:
        keep = np.flatnonzero(np.isin(res["intent"], res["intent"][
            np.isin(res["vehicle"], wanted)]))
        order = keep[np.lexsort((res["intent"][keep],))]  # by intent, volumes in order
        cols = {k: np.asarray(res[k])[order] for k in _LEG_XYZT}
        volumes = _volumes(frame, start, cols, half_w, half_h) if len(order) else []
        intent = np.asarray(res["intent"])[order]
        cuts = np.flatnonzero(np.diff(intent)) + 1
        count: dict[int, int] = {}
        for chunk in np.split(np.arange(len(order)), cuts) if len(order) else []:
            row = order[chunk[0]]
            v = int(res["vehicle"][row])
            count[v] = count.get(v, 0) + 1
            w = float(res["withdrawn_s"][row])
            out.append({"id": f"{run.scenario.name}/vehicle-{v}/intent-{count[v]}",
                        "vehicle": v, "state": "Accepted", "source": "reservation",
                        "reserved_s": float(res["reserved_s"][row]),
                        "withdrawn_s": w if math.isfinite(w) else None,
                        "details": {"volumes": [volumes[j] for j in chunk],
                                    "off_nominal_volumes": [], "priority": 0}})
    else:
        legs = run.legs
        by_vehicle = _flights(run, wanted)
        flights = [(v, k, idx) for v, fl in by_vehicle.items() for k, idx in enumerate(fl)]
        if not flights:
            return []
        rows = np.concatenate([idx for _, _, idx in flights])
        volumes = _volumes(frame, start, {k: legs[k][rows] for k in _LEG_XYZT}, half_w,
                           half_h)
        at = 0
        for v, k, idx in flights:
            details = {"volumes": volumes[at:at + len(idx)], "off_nominal_volumes": [],
                       "priority": 0}
            at += len(idx)
            out.append({"id": f"{run.scenario.name}/vehicle-{v}/flight-{k + 1}",
                        "vehicle": v, "state": "Accepted", "source": "flown",
                        "details": details})
    # The data model's types, checked on the first intent (parsing is slow; the tests
    # read every intent back).
    if out:
        OperationalIntentDetails.parse(out[0]["details"], OperationalIntentDetails)
    return out


def _qgc(run, frame, trk, start, types) -> dict:
    if len(trk) != 1:
        raise FleetsimError(f"a QGroundControl plan is one vehicle's mission: give --vehicles "
                            f"with one vehicle id (got {len(trk)})")
    v = next(iter(trk))
    if v not in _air_vehicles(run):
        raise FleetsimError(f"vehicle {v} is not an air vehicle: a QGroundControl plan is a "
                            "flight's mission")
    legs = run.legs
    flights = _flights(run, [v])[v]
    if not flights:
        raise FleetsimError(f"vehicle {v} never flew in this run: no mission to write")
    vt = next(t for t in run.scenario.vehicle_types if t.id == types[v])
    first = flights[0][0]
    hlon, hlat = _ll(frame, legs["x0_m"][first], legs["y0_m"][first])
    home_alt = float(legs["z0_m"][first])
    items: list[dict] = []

    def item(command: int, lon: float, lat: float, alt: float) -> None:
        items.append({"type": "SimpleItem", "autoContinue": True, "command": command,
                      "doJumpId": len(items) + 1, "frame": 0, "Altitude": alt,
                      "AltitudeMode": 2, "AMSLAltAboveTerrain": None,
                      "params": [0, 0, 0, None, lat, lon, alt]})

    for n, idx in enumerate(flights):
        ends = idx.tolist()
        lon, lat = _ll(frame, legs["x1_m"][ends], legs["y1_m"][ends])
        z1 = legs["z1_m"][ends]
        if n == 0:
            item(22, hlon[0], hlat[0], round(float(z1[0]), 2))  # MAV_CMD_NAV_TAKEOFF
        for a, b, z in zip(lon, lat, z1, strict=True):
            item(16, a, b, round(float(z), 2))  # MAV_CMD_NAV_WAYPOINT
    items.append({"type": "SimpleItem", "autoContinue": True, "command": 20,  # RTL
                  "doJumpId": len(items) + 1, "frame": 2, "params": [0, 0, 0, 0, 0, 0, 0]})
    fence = [{"inclusion": False, "version": 1,
              "polygon": [[lat, lon] for lon, lat in _ring_ll(frame, z.exterior)[:-1]]}
             for z in run.scenario.zones if z.kind == "no_fly"]
    return {"fileType": "Plan", "version": 1, "groundStation": "QGroundControl",
            "mission": {"version": 2, "firmwareType": 12, "vehicleType": 2,
                        "cruiseSpeed": vt.cruise_speed_mps, "hoverSpeed": vt.cruise_speed_mps,
                        "plannedHomePosition": [hlat[0], hlon[0], home_alt], "items": items},
            "geoFence": {"version": 2, "circles": [], "polygons": fence},
            "rallyPoints": {"version": 2, "points": []}}


_WRITERS = {"geojson": _geojson, "czml": _czml, "kml": _kml, "kepler": _kepler,
            "intents": _intents, "qgc": _qgc}


def export_run(run_dir: str | Path, fmt: str, out: str | Path | None = None, *,
               vehicles: list[int] | None = None, every_s: float | None = None,
               start: str = DEFAULT_START) -> Path:
    """Write the run in ``run_dir`` as ``fmt`` (one of :data:`FORMATS`); returns the file.

    Default file: ``RUN_DIR/export/tracks.<ext>`` (``intents.json`` for intents,
    ``vehicle-<id>.plan`` for qgc). Raises FleetsimError on bad input.
    """
    from fleetsim.geo.zones import parse_time
    from fleetsim.rundir import read_run

    if fmt not in _WRITERS:
        raise FleetsimError(f"--format {fmt}: expected one of {', '.join(FORMATS)}")
    if every_s is not None and not (math.isfinite(every_s) and every_s > 0):
        raise FleetsimError(f"--every {every_s}: expected a positive number of seconds")
    try:
        t0 = parse_time(start)
    except ValueError as exc:
        raise FleetsimError(f"--start: {exc}") from None
    run = read_run(run_dir)
    frame = _frame(run, str(run_dir))
    known = set(np.asarray(run.vehicles["vehicle"]).tolist())
    if vehicles is not None:
        bad = sorted(set(vehicles) - known)
        if bad:
            raise FleetsimError(f"--vehicles: no vehicle {bad[0]} in this run (vehicles "
                                f"0..{max(known)})")
    types = dict(zip(np.asarray(run.vehicles["vehicle"]).tolist(),
                     [str(t) for t in run.vehicles["type"]], strict=True))
    trk = tracks(run, vehicles, every_s)
    data = _WRITERS[fmt](run, frame, trk, t0, types)
    if out is None:
        name = {"intents": "intents.json", "qgc": f"vehicle-{next(iter(trk), 0)}.plan"}.get(
            fmt, f"tracks.{EXTENSIONS[fmt]}")
        out = Path(run_dir) / "export" / name
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        out.write_bytes(data)
    else:
        out.write_text(json.dumps(data, separators=(",", ":"), allow_nan=False))
    return out

"""Zones from geographic files: GeoJSON (RFC 7946) and EUROCAE ED-269.

Both readers return zones as plain data in the scenario file's form (``id``,
``kind``, ``polygon`` / ``holes`` in local metres, ``floor_amsl_m``,
``ceiling_amsl_m``, ``active``), which the scenario loader then checks like
zones written in the file. Coordinates are WGS 84 ``[lon, lat]`` (RFC 7946
section 4) and go through the scenario's :class:`~fleetsim.geo.frame.GeoFrame`.

ED-269 files are parsed with ``uas_standards.eurocae_ed269`` (the InterUSS
types of the standard's JSON). Each zone's first airspace volume gives its
polygon (or circle) and altitude band; metres or feet, AGL or AMSL (AGL is
measured from ``ground_m``, the scenario's ground elevation, since a zone has
one band above the datum). Its applicability periods (permanent, from-to
date-times, weekly schedules of daily periods in UTC) become time windows of
the run (run second 0 is ``start_time``); a zone in force during several
windows becomes one zone per window, ids ``<identifier>.1``, ``.2``, ...
"""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

import numpy as np
import shapely

from fleetsim.geo.frame import GeoFrame, lonlat_problem

__all__ = ["read_zone_file", "geojson_zones", "ed269_zones", "parse_time", "load_json", "ring_metres"]

#: Largest zone file read (bytes).
MAX_ZONE_FILE_BYTES = 100_000_000
#: Metres in a foot.
FOOT_M = 0.3048
#: Vertices of the polygon that stands for an ED-269 circle.
CIRCLE_VERTICES = 64
_DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


def load_json(name: str, expected: str) -> Any:
    try:
        size = os.path.getsize(name)
        if size > MAX_ZONE_FILE_BYTES:
            raise ValueError(f"{name}: {size:,} bytes; at most {MAX_ZONE_FILE_BYTES:,} are read")
        with open(name, "rb") as f:
            return json.loads(f.read().decode("utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read {name} ({exc.strerror}); expected {expected}") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"{name} is not valid JSON ({exc}); expected {expected}") from None


def parse_time(text: str) -> dt.datetime:
    """An ISO 8601 date-time (``Z`` or an offset; none: UTC) as an aware datetime."""
    try:
        t = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date-time such as "
                         "2026-06-01T08:00:00Z") from None
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)


def ring_metres(coords: Any, frame: GeoFrame, where: str) -> list[list[float]]:
    if not isinstance(coords, list) or len(coords) < 4:
        raise ValueError(f"{where}: a linear ring needs at least 4 positions [lon, lat] "
                         "(the first repeated last)")
    for i, p in enumerate(coords):
        if not isinstance(p, list) or len(p) < 2:
            raise ValueError(f"{where}: position {i} must be [lon, lat], found {p!r}")
        problem = lonlat_problem(p[0], p[1])
        if problem:
            raise ValueError(f"{where}: position {i}: {problem} (GeoJSON positions are "
                             "[lon, lat], RFC 7946)")
    arr = np.asarray([p[:2] for p in coords], dtype=np.float64)
    x, y = frame.to_local(arr[:, 0], arr[:, 1])
    return np.column_stack([x, y]).tolist()


def _seconds(value: Any, start: dt.datetime | None, where: str) -> float | None:
    """A time property: run seconds (a number), or a date-time relative to ``start``."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        if start is None:
            raise ValueError(f"{where}: the date-time {value!r} needs start_time (the date "
                             "and time run second 0 stands for)")
        return (parse_time(value) - start).total_seconds()
    raise ValueError(f"{where}: expected run seconds or an ISO 8601 date-time, found {value!r}")


def geojson_zones(name: str, frame: GeoFrame, *, properties: dict[str, str] | None = None,
                  kind: str | None = None, start_time: str | None = None) -> list[dict]:
    """The zones of a GeoJSON FeatureCollection of Polygon / MultiPolygon features.

    ``properties`` maps ``id``, ``kind``, ``floor``, ``ceiling``, ``start``,
    ``end`` to the feature property holding each (defaults: ``id``, ``kind``,
    ``floor_amsl_m``, ``ceiling_amsl_m``, ``start_s``, ``end_s``). A
    MultiPolygon gives one zone per polygon, ids ``<id>.1``, ``<id>.2``, ...
    Features whose ``layer`` property is not ``zone`` are skipped, so that the
    file ``fleetsim export --format geojson`` writes reads back as its zones.
    Raises ValueError naming the file and the feature.
    """
    names = {"id": "id", "kind": "kind", "floor": "floor_amsl_m", "ceiling": "ceiling_amsl_m",
             "start": "start_s", "end": "end_s", **(properties or {})}
    start = parse_time(start_time) if start_time else None
    doc = load_json(name, "a GeoJSON FeatureCollection of Polygon features")
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        found = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise ValueError(f"{name}: expected a GeoJSON FeatureCollection, found {found!r}")
    features = doc.get("features")
    if not isinstance(features, list):
        raise ValueError(f"{name}: 'features' must be a list")
    stem = os.path.splitext(os.path.basename(name))[0]
    out = []
    for i, feat in enumerate(features):
        where = f"{name}: feature {i}"
        geom = feat.get("geometry") if isinstance(feat, dict) else None
        props = (feat.get("properties") or {}) if isinstance(feat, dict) else {}
        gtype = geom.get("type") if isinstance(geom, dict) else None
        if props.get("layer", "zone") != "zone":
            continue  # fleetsim export's tracks, sites and events: not zones
        if gtype == "Polygon":
            polys = [geom.get("coordinates")]
        elif gtype == "MultiPolygon":
            polys = geom.get("coordinates") or []
        else:
            raise ValueError(f"{where}: geometry type {gtype!r}; zones are Polygon or "
                             "MultiPolygon features")
        zid = props.get(names["id"], feat.get("id") if isinstance(feat, dict) else None)
        zid = str(zid) if zid is not None else f"{stem}-{i}"
        zkind = props.get(names["kind"], kind)
        if zkind is None:
            raise ValueError(f"{where} ({zid!r}): no {names['kind']!r} property; give it "
                             "(no_fly or restricted), or the zone file's kind")
        active = {}
        for key, prop in (("start_s", "start"), ("end_s", "end")):
            t = _seconds(props.get(names[prop]), start, where)
            if t is not None:
                active[key] = t
        for k, rings in enumerate(polys):
            if not isinstance(rings, list) or not rings:
                raise ValueError(f"{where}: a polygon needs at least its exterior ring")
            zone: dict[str, Any] = {
                "id": zid if len(polys) == 1 else f"{zid}.{k + 1}", "kind": zkind,
                "polygon": ring_metres(rings[0], frame, where)}
            if len(rings) > 1:
                zone["holes"] = [ring_metres(r, frame, f"{where}, hole {h}")
                                 for h, r in enumerate(rings[1:])]
            for key, prop in (("floor_amsl_m", "floor"), ("ceiling_amsl_m", "ceiling")):
                if props.get(names[prop]) is not None:
                    zone[key] = props[names[prop]]
            if active:
                zone["active"] = dict(active)
            out.append(zone)
    return out


def _v(x: Any) -> str:
    """The text of an ED-269 enumeration value (an Enum of str, or a str)."""
    return str(getattr(x, "value", x))


def _limit_m(value: Any, uom: str, ref: str, ground_m: float) -> float | None:
    if value is None:
        return None
    metres = float(value) * (FOOT_M if _v(uom) == "FT" else 1.0)
    return metres + ground_m if _v(ref) == "AGL" else metres


def _windows(periods: Any, start: dt.datetime, duration_s: float,
             where: str) -> list[tuple[float, float | None]]:
    """The run's time windows (s from ``start``) of ED-269 applicability periods."""
    end_run = start + dt.timedelta(seconds=duration_s)
    spans: list[tuple[dt.datetime, dt.datetime]] = []
    for p in periods:
        lo = parse_time(p.startDateTime) if p.get("startDateTime") else start
        hi = parse_time(p.endDateTime) if p.get("endDateTime") else end_run
        if _v(p.permanent) == "YES" or not p.get("schedule"):
            spans.append((lo, hi))
            continue
        day = start.replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=1)
        while day < min(hi, end_run):
            for d in p.schedule:
                days = {_v(x) for x in d.day}
                if "ANY" not in days and _DAYS[day.weekday()] not in days:
                    continue
                t0, t1 = d.startTime.time, d.endTime.time
                a = dt.datetime.combine(day.date(), t0.replace(tzinfo=None),
                                        tzinfo=t0.tzinfo or dt.UTC)
                b = dt.datetime.combine(day.date(), t1.replace(tzinfo=None),
                                        tzinfo=t1.tzinfo or dt.UTC)
                if b <= a:
                    b += dt.timedelta(days=1)  # a period past midnight
                spans.append((max(a, lo), min(b, hi)))
            day += dt.timedelta(days=1)
    out = []
    for a, b in sorted(spans):
        s0 = max((a - start).total_seconds(), 0.0)
        s1 = (b - start).total_seconds()
        if s1 <= s0 or s0 >= duration_s:
            continue
        if out and out[-1][1] is not None and s0 <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], s1))  # overlapping periods merge
        else:
            out.append((s0, s1))
    return [(a, None if b >= duration_s else b) for a, b in out]


def ed269_zones(name: str, frame: GeoFrame, *, start_time: str | None, duration_s: float,
                ground_m: float = 0.0) -> list[dict]:
    """The zones of a EUROCAE ED-269 file in force during the run (see the module doc)."""
    from uas_standards.eurocae_ed269 import ED269Schema

    if not start_time:
        raise ValueError(f"{name}: an ED-269 file gives dates and times; set start_time (the "
                         "date and time run second 0 stands for, e.g. 2026-06-01T08:00:00Z)")
    start = parse_time(start_time)
    raw = load_json(name, "a EUROCAE ED-269 JSON file")
    try:
        doc = ED269Schema.from_dict(raw)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{name}: not a EUROCAE ED-269 file ({exc})") from None
    out = []
    for i, z in enumerate(doc.features):
        where = f"{name}: feature {i} ({z.identifier})"
        restriction = _v(z.restriction)
        if restriction == "NO_RESTRICTION":
            continue
        kind = "no_fly" if restriction == "PROHIBITED" else "restricted"
        vol = z.geometry[0]
        hp = vol.horizontalProjection
        if _v(hp.type) == "Circle":
            cx, cy = frame.point(*hp.center[:2])
            circle = shapely.Point(cx, cy).buffer(float(hp.radius),
                                                  quad_segs=CIRCLE_VERTICES // 4)
            ring = np.asarray(circle.exterior.coords)[:-1].tolist()
            holes: list[list[list[float]]] = []
        else:
            rings = [ring_metres(r, frame, where) for r in hp.coordinates]
            ring, holes = rings[0], rings[1:]
        floor = _limit_m(vol.get("lowerLimit"), vol.uomDimensions, vol.lowerVerticalReference,
                         ground_m)
        ceiling = _limit_m(vol.get("upperLimit"), vol.uomDimensions,
                           vol.upperVerticalReference, ground_m)
        if floor is not None and floor <= ground_m and _v(vol.lowerVerticalReference) == "AGL":
            floor = None  # from the ground
        windows = _windows(z.applicability, start, duration_s, where)
        for k, (s0, s1) in enumerate(windows):
            zone: dict[str, Any] = {
                "id": z.identifier if len(windows) == 1 else f"{z.identifier}.{k + 1}",
                "kind": kind, "polygon": ring}
            if holes:
                zone["holes"] = holes
            if floor is not None:
                zone["floor_amsl_m"] = floor
            if ceiling is not None:
                zone["ceiling_amsl_m"] = ceiling
            if s0 > 0 or s1 is not None:
                zone["active"] = {"start_s": s0, **({"end_s": s1} if s1 is not None else {})}
            out.append(zone)
    return out


def read_zone_file(spec: dict[str, Any], base_dir: str, frame: GeoFrame, duration_s: float,
                   ground_m: float) -> list[dict]:
    """The zones of a checked ``world.zones`` file item (``{geojson | ed269: path, ...}``)."""
    agl = spec.get("agl_datum_m")
    if "geojson" in spec:
        name = os.path.join(base_dir, os.path.expanduser(spec["geojson"]))
        return geojson_zones(name, frame, properties=spec.get("properties"),
                             kind=spec.get("kind"), start_time=spec.get("start_time"))
    name = os.path.join(base_dir, os.path.expanduser(spec["ed269"]))
    return ed269_zones(name, frame, start_time=spec.get("start_time"), duration_s=duration_s,
                       ground_m=ground_m if agl is None else agl)


"""Sites, targets and mission areas from GeoJSON (RFC 7946) files.

Like :mod:`fleetsim.geo.zones`, the readers return plain data in the scenario
file's form, in the scenario's metres, which the loader then checks like
values written in the file. Features whose ``layer`` property names another
layer (the tracks, zones and events of a ``fleetsim export`` file) are
skipped, so an exported file reads back as its sites.
"""

from __future__ import annotations

import os
from typing import Any

from fleetsim.geo.frame import GeoFrame, lonlat_problem
from fleetsim.geo.zones import load_json, read_zone_file, ring_metres

__all__ = ["geojson_area", "geojson_points", "read_items"]

#: Site keys a feature property of the same name sets.
SITE_PROPERTY_KEYS = ("pads", "radio_range_m", "antenna_height_m", "sensor_radius_m",
                      "false_alarms_per_hour", "stock", "loading_bays", "loading_time_s",
                      "swap_stations", "swap_time_s")


def _features(name: str, what: str) -> list[dict]:
    doc = load_json(name, f"a GeoJSON FeatureCollection of {what}")
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or \
            not isinstance(doc.get("features"), list):
        found = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise ValueError(f"{name}: expected a GeoJSON FeatureCollection, found {found!r}")
    return [f if isinstance(f, dict) else {} for f in doc["features"]]


def geojson_points(name: str, frame: GeoFrame, *, layer: str, id_property: str = "id",
                   kind_property: str | None = None, kind: str | None = None,
                   keys: tuple[str, ...] = ()) -> list[dict]:
    """Point features as ``{id, [kind], position: [x, y], <keys>}`` dicts, file order.

    ``kind_property`` None: no kind (targets). A feature without an id property
    has none in the result (the loader's default id applies)."""
    out = []
    for i, feat in enumerate(_features(name, "Point features")):
        props = feat.get("properties") or {}
        if props.get("layer", layer) != layer:
            continue
        geom = feat.get("geometry") or {}
        where = f"{name}: feature {i}"
        if geom.get("type") != "Point":
            raise ValueError(f"{where}: geometry type {geom.get('type')!r}; expected Point "
                             "features")
        c = geom.get("coordinates")
        if not isinstance(c, list) or len(c) < 2:
            raise ValueError(f"{where}: a Point needs coordinates [lon, lat]")
        problem = lonlat_problem(c[0], c[1])
        if problem:
            raise ValueError(f"{where}: {problem} (GeoJSON positions are [lon, lat], RFC 7946)")
        item: dict[str, Any] = {}
        if props.get(id_property) is not None:
            item["id"] = str(props[id_property])
        if kind_property is not None:
            k = props.get(kind_property, kind)
            if k is None:
                raise ValueError(f"{where}: no {kind_property!r} property; give it, or the "
                                 "file's kind")
            item["kind"] = k
        item["position"] = list(frame.point(float(c[0]), float(c[1])))
        item.update({k: props[k] for k in keys if props.get(k) is not None})
        out.append(item)
    return out


def geojson_area(name: str, frame: GeoFrame) -> tuple[list, list]:
    """The one Polygon feature of a GeoJSON file: (exterior ring, holes) in metres."""
    polys = []
    for i, feat in enumerate(_features(name, "one Polygon feature")):
        props = feat.get("properties") or {}
        if props.get("layer", "area") != "area":
            continue
        geom = feat.get("geometry") or {}
        if geom.get("type") == "Polygon":
            polys.append((i, geom.get("coordinates")))
    if len(polys) != 1:
        raise ValueError(f"{name}: a mission area file needs exactly one Polygon feature, "
                         f"found {len(polys)}")
    i, rings = polys[0]
    if not isinstance(rings, list) or not rings:
        raise ValueError(f"{name}: feature {i}: a polygon needs at least its exterior ring")
    where = f"{name}: feature {i}"
    return (ring_metres(rings[0], frame, where),
            [ring_metres(r, frame, f"{where}, hole {h}") for h, r in enumerate(rings[1:])])


def read_items(reader: str, spec: dict[str, Any], base_dir: str, frame: GeoFrame,
               duration_s: float, ground_m: float) -> list[dict]:
    """The items of a checked file item of a ``world.zones``, ``world.sites`` or
    ``missions[].targets`` list (``reader``: ``zones``, ``sites``, ``targets``)."""
    if reader == "zones":
        return read_zone_file(spec, base_dir, frame, duration_s, ground_m)
    name = os.path.join(base_dir, os.path.expanduser(spec["geojson"]))
    props = spec.get("properties") or {}
    if reader == "sites":
        return geojson_points(name, frame, layer="site", id_property=props.get("id", "id"),
                              kind_property=props.get("kind", "kind"), kind=spec.get("kind"),
                              keys=SITE_PROPERTY_KEYS)
    if reader == "targets":
        return geojson_points(name, frame, layer="target", id_property=props.get("id", "id"))
    raise ValueError(f"unknown reader {reader!r}")




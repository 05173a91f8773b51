"""Road and waterway networks from OpenStreetMap XML (``.osm``), through osmnx.

:func:`osm_network` reads a local ``.osm`` file with
:func:`osmnx.graph_from_xml` (nothing is downloaded), keeps each OSM segment
as a straight road between consecutive OSM nodes (``simplify=False``, so a
vehicle's straight legs follow the street's shape), projects the graph into
the scenario's frame (:func:`osmnx.project_graph`), merges the nodes of one
intersection that lie within ``consolidate_m`` of each other
(:func:`osmnx.consolidate_intersections`, dual carriageways and roundabouts
become one junction) and sets each road's speed limit from its ``maxspeed``
tag (``"50"``, ``"20 mph"``; :func:`osmnx.add_edge_speeds`), else from its
``highway`` class (:data:`HIGHWAY_KPH`), else ``speed_limit_mps``.

The result is the undirected :class:`~fleetsim.logistics.network.Network`
the ground vehicles drive on: nodes ``0..n-1`` in the order osmnx's
consolidation numbers them, one edge per pair of joined junctions, its
length the straight distance in scenario metres and its limit the highest
of the OSM ways that join them.

:func:`osm_waterways` reads the same kind of file for sea vehicles: the ways
tagged ``waterway=river|canal|fairway`` (:data:`WATERWAY_KINDS`), each
segment straight, projected the same way (no consolidation: waterways meet
at shared nodes), speed limits from ``maxspeed`` (km/h, mph or knots), else
none. Roads take only ``highway=*`` ways, so one file can hold both.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

import networkx as nx

from fleetsim.geo.frame import GeoFrame

__all__ = ["HIGHWAY_KPH", "WATERWAY_KINDS", "maxspeed_kph", "osm_network", "osm_waterways"]

#: Speed (km/h) of a road without a ``maxspeed`` tag, by its ``highway`` class
#: (typical urban limits in Europe).
HIGHWAY_KPH = {
    "motorway": 120.0, "motorway_link": 80.0, "trunk": 80.0, "trunk_link": 60.0,
    "primary": 50.0, "primary_link": 50.0, "secondary": 50.0, "secondary_link": 50.0,
    "tertiary": 50.0, "tertiary_link": 50.0, "unclassified": 50.0, "residential": 30.0,
    "living_street": 20.0, "service": 20.0, "track": 20.0,
}

#: The ``waterway`` values boats navigate (OSM: rivers, canals and the fairways
#: mapped across lakes and harbours); streams, ditches and drains are left out.
WATERWAY_KINDS = ("river", "canal", "fairway")


def _read(name: str) -> Any:
    """The file's ways as an osmnx graph (every way, its ``waterway`` tag kept)."""
    import warnings

    import osmnx as ox

    if not os.path.isfile(name):
        raise ValueError(f"{name}: file not found; expected an OpenStreetMap XML (.osm) file")
    tags = list(ox.settings.useful_tags_way)
    try:
        ox.settings.useful_tags_way = [*tags, "waterway"] if "waterway" not in tags else tags
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g = ox.graph_from_xml(name, simplify=False, retain_all=True, bidirectional=True)
    except Exception as exc:  # osmnx raises many kinds on a bad file
        raise ValueError(f"{name}: cannot read the file as OpenStreetMap XML ({exc})") from None
    finally:
        ox.settings.useful_tags_way = tags
    return g


def _only(g: Any, keep: Any) -> Any:
    """``g`` with only the edges ``keep(data)`` accepts, and the nodes they join."""
    g.remove_edges_from([(u, v, k) for u, v, k, d in g.edges(keys=True, data=True)
                         if not keep(d)])
    g.remove_nodes_from([n for n in list(g.nodes) if g.degree(n) == 0])
    return g


def _network(g: Any, kind: str, default_mps: float) -> Any:
    """The projected osmnx graph ``g`` as an undirected :class:`Network` (module doc)."""
    from fleetsim.logistics.network import Network

    ids = {node: i for i, node in enumerate(sorted(g.nodes))}
    out = nx.Graph()
    for node, data in g.nodes(data=True):
        out.add_node(ids[node], x=float(data["x"]), y=float(data["y"]),
                     osmid=str(data.get("osmid_original", data.get("osmid", node))))
    best: dict[tuple[int, int], float] = {}
    for u, v, data in g.edges(data=True):
        a, b = ids[u], ids[v]
        if a == b:
            continue
        key = (a, b) if a < b else (b, a)
        speed = float(data.get("speed_kph", default_mps * 3.6)) / 3.6
        if not (speed > 0) or math.isnan(speed):
            speed = default_mps
        best[key] = max(best.get(key, 0.0), speed)
    for (a, b), speed in sorted(best.items()):
        pa, pb = out.nodes[a], out.nodes[b]
        length = math.hypot(pb["x"] - pa["x"], pb["y"] - pa["y"])
        if length > 0:
            out.add_edge(a, b, length_m=length, speed_mps=speed)
    return Network(out, kind)


def osm_network(path: str | os.PathLike[str], frame: GeoFrame, *, consolidate_m: float = 10.0,
                speed_limit_mps: float = 13.9) -> Any:
    """The road network of the ``.osm`` file ``path`` in ``frame``'s metres (module doc).

    Only ways tagged ``highway=*`` are roads (a waterway in the same file is not).
    Raises ValueError (naming the file) when the file cannot be read or holds no roads.
    """
    import osmnx as ox

    name = os.fspath(path)
    g = _only(_read(name), lambda d: "highway" in d)
    if g.number_of_edges() == 0:
        raise ValueError(f"{name}: no roads (ways tagged highway=...) in the file")
    default_kph = speed_limit_mps * 3.6
    hwy = {k: v for k, v in HIGHWAY_KPH.items()}
    g = ox.add_edge_speeds(g, hwy_speeds=hwy, fallback=default_kph)
    g = ox.project_graph(g, to_crs=frame.crs_wkt)
    if consolidate_m > 0:
        g = ox.consolidate_intersections(g, tolerance=consolidate_m, rebuild_graph=True,
                                         dead_ends=True, reconnect_edges=True)
    return _network(g, "road", speed_limit_mps)


#: Unit of a ``maxspeed`` value -> km/h per unit (no unit: km/h, as OSM has it).
_SPEED_UNITS = {"": 1.0, "km/h": 1.0, "kmh": 1.0, "kph": 1.0, "mph": 1.609344,
                "knots": 1.852, "knot": 1.852, "kn": 1.852, "kt": 1.852}
_MAXSPEED = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z/]*)\s*$")


def maxspeed_kph(value: Any) -> float | None:
    """An OSM ``maxspeed`` tag (``"12"``, ``"6 knots"``, ``"20 mph"``) in km/h; None when
    it is absent or not a number with a known unit (``"none"``, ``"signals"``). A way with
    several values (a list, or ``"8;10"``) takes the highest."""
    if value is None:
        return None
    values = value if isinstance(value, list) else str(value).split(";")
    best = None
    for v in values:
        m = _MAXSPEED.match(str(v).lower())
        if m and m.group(2) in _SPEED_UNITS:
            kph = float(m.group(1)) * _SPEED_UNITS[m.group(2)]
            if kph > 0:
                best = kph if best is None else max(best, kph)
    return best


def osm_waterways(path: str | os.PathLike[str], frame: GeoFrame, *,
                  speed_limit_mps: float | None = None) -> Any:
    """The waterway network of the ``.osm`` file ``path`` in ``frame``'s metres.

    The ways tagged ``waterway=`` one of :data:`WATERWAY_KINDS` (rivers, canals and
    fairways, the ways boats use), each OSM segment a straight edge, projected into the
    frame; a way's speed limit is its ``maxspeed`` tag (km/h, ``mph`` or ``knots``;
    :func:`maxspeed_kph`), else ``speed_limit_mps``, else none (the boat's own speed).
    Ways with other tags (streets, streams, ditches, banks) are left out. Raises
    ValueError (naming the file) when the file cannot be read or holds no such way.
    """
    import osmnx as ox

    name = os.fspath(path)
    g = _only(_read(name), lambda d: d.get("waterway") in WATERWAY_KINDS)
    if g.number_of_edges() == 0:
        raise ValueError(f"{name}: no waterways (ways tagged waterway="
                         f"{'|'.join(WATERWAY_KINDS)}) in the file")
    default = math.inf if speed_limit_mps is None else float(speed_limit_mps)
    for _, _, data in g.edges(data=True):
        kph = maxspeed_kph(data.get("maxspeed"))
        data["speed_kph"] = default * 3.6 if kph is None else kph
    g = ox.project_graph(g, to_crs=frame.crs_wkt)
    return _network(g, "water", default)

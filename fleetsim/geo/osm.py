"""Road networks from OpenStreetMap XML (``.osm``), through osmnx.

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
"""

from __future__ import annotations

import math
import os
from typing import Any

import networkx as nx

from fleetsim.geo.frame import GeoFrame

__all__ = ["HIGHWAY_KPH", "osm_network"]

#: Speed (km/h) of a road without a ``maxspeed`` tag, by its ``highway`` class
#: (typical urban limits in Europe).
HIGHWAY_KPH = {
    "motorway": 120.0, "motorway_link": 80.0, "trunk": 80.0, "trunk_link": 60.0,
    "primary": 50.0, "primary_link": 50.0, "secondary": 50.0, "secondary_link": 50.0,
    "tertiary": 50.0, "tertiary_link": 50.0, "unclassified": 50.0, "residential": 30.0,
    "living_street": 20.0, "service": 20.0, "track": 20.0,
}


def osm_network(path: str | os.PathLike[str], frame: GeoFrame, *, consolidate_m: float = 10.0,
                speed_limit_mps: float = 13.9) -> Any:
    """The road network of the ``.osm`` file ``path`` in ``frame``'s metres (module doc).

    Raises ValueError (naming the file) when the file cannot be read or holds no roads.
    """
    import warnings

    import osmnx as ox

    from fleetsim.logistics.network import Network

    name = os.fspath(path)
    if not os.path.isfile(name):
        raise ValueError(f"{name}: file not found; expected an OpenStreetMap XML (.osm) file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g = ox.graph_from_xml(name, simplify=False, retain_all=True, bidirectional=True)
    except Exception as exc:  # osmnx raises many kinds on a bad file
        raise ValueError(f"{name}: cannot read the file as OpenStreetMap XML ({exc})") from None
    if g.number_of_edges() == 0:
        raise ValueError(f"{name}: no roads (ways tagged highway=...) in the file")
    default_kph = speed_limit_mps * 3.6
    hwy = {k: v for k, v in HIGHWAY_KPH.items()}
    g = ox.add_edge_speeds(g, hwy_speeds=hwy, fallback=default_kph)
    g = ox.project_graph(g, to_crs=frame.crs_wkt)
    if consolidate_m > 0:
        g = ox.consolidate_intersections(g, tolerance=consolidate_m, rebuild_graph=True,
                                         dead_ends=True, reconnect_edges=True)
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
        speed = float(data.get("speed_kph", default_kph)) / 3.6
        if not (math.isfinite(speed) and speed > 0):
            speed = speed_limit_mps
        best[key] = max(best.get(key, 0.0), speed)
    for (a, b), speed in sorted(best.items()):
        pa, pb = out.nodes[a], out.nodes[b]
        length = math.hypot(pb["x"] - pa["x"], pb["y"] - pa["y"])
        if length > 0:
            out.add_edge(a, b, length_m=length, speed_mps=speed)
    return Network(out, "road")

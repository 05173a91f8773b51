"""Write streets.osm (streets and waterways) and zones.geojson (synthetic data placed in
Zurich; see README.md)."""

from __future__ import annotations

import json
from pathlib import Path

from fleetsim.geo.frame import GeoFrame

HERE = Path(__file__).resolve().parent
FRAME = GeoFrame.from_origin(47.3780, 8.5300)


def streets() -> str:
    nodes: dict[int, tuple[float, float]] = {}

    def node(x: float, y: float) -> int:
        nid = 1001 + len(nodes)
        nodes[nid] = FRAME.lonlat(x, y)
        return nid

    grid = {(i, j): node(-500 + 250 * i, -375 + 250 * j) for i in range(5) for j in range(4)}
    extra = node(-500 + 250 * 2 + 4.0, -375 + 250 * 1)  # 4 m east of junction (2, 1)
    ways: list[tuple[list[int], dict[str, str]]] = [
        ([grid[i, 0] for i in range(5)],
         {"highway": "residential", "name": "Südstrasse", "maxspeed": "30"}),
        ([grid[0, 1], grid[1, 1], grid[2, 1]],
         {"highway": "primary", "name": "Hauptstrasse", "maxspeed": "50"}),
        ([extra, grid[3, 1], grid[4, 1]],
         {"highway": "primary", "name": "Hauptstrasse", "maxspeed": "50"}),
        ([grid[i, 2] for i in range(5)], {"highway": "tertiary", "name": "Mittelweg"}),
        ([grid[i, 3] for i in range(5)],
         {"highway": "residential", "name": "Nordstrasse", "maxspeed": "20 mph"}),
    ]
    for i in range(5):
        tags = {"highway": "secondary" if i == 2 else "residential",
                "name": f"Querstrasse {i + 1}"}
        if i == 2:
            tags["maxspeed"] = "40"
        ways.append(([grid[i, j] for j in range(4)], tags))
    ways.append(([grid[2, 1], extra], {"highway": "service"}))
    # Waterways (no node shared with a street: the streets cross on bridges): a fairway
    # across the lake basin in the south-east, the river leaving it to the north-west, a
    # canal branching off, and a stream that boats do not use.
    lake = [node(x, y) for x, y in ((900, -750), (750, -600), (600, -450))]
    river = [lake[-1]] + [node(x, y) for x, y in (
        (450, -250), (300, -60), (150, 120), (-50, 300), (-300, 450), (-600, 600), (-900, 750))]
    canal = [river[2]] + [node(x, y) for x, y in ((100, -200), (-100, -330))]
    stream = [node(x, y) for x, y in ((-700, -600), (-600, -500))]
    ways += [
        (lake, {"waterway": "fairway", "name": "Seebecken", "maxspeed": "6 knots"}),
        (river, {"waterway": "river", "name": "Limmat", "maxspeed": "12"}),
        (canal, {"waterway": "canal", "name": "Schanzengraben"}),
        (stream, {"waterway": "stream", "name": "Dorfbach"}),
    ]
    lons = [p[0] for p in nodes.values()]
    lats = [p[1] for p in nodes.values()]
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<osm version="0.6" generator="fleetsim (synthetic)">',
             f'  <bounds minlat="{min(lats):.7f}" minlon="{min(lons):.7f}" '
             f'maxlat="{max(lats):.7f}" maxlon="{max(lons):.7f}"/>']
    lines += [f'  <node id="{k}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"/>'
              for k, (lon, lat) in nodes.items()]
    for w, (ns, tags) in enumerate(ways):
        lines.append(f'  <way id="{2001 + w}" version="1">')
        lines += [f'    <nd ref="{n}"/>' for n in ns]
        lines += [f'    <tag k="{a}" v="{b}"/>' for a, b in tags.items()]
        lines.append("  </way>")
    return "\n".join(lines + ["</osm>"]) + "\n"


def zones() -> str:
    def ring(pts: list[tuple[float, float]]) -> list[list[list[float]]]:
        r = [[round(a, 7), round(b, 7)] for a, b in (FRAME.lonlat(x, y) for x, y in pts)]
        return [r + r[:1]]

    def feature(props: dict, pts: list[tuple[float, float]]) -> dict:
        return {"type": "Feature", "properties": props,
                "geometry": {"type": "Polygon", "coordinates": ring(pts)}}

    return json.dumps({"type": "FeatureCollection", "features": [
        feature({"name": "Stadtpark", "class": "no_fly"},
                [(-420, 150), (-80, 150), (-80, 330), (-420, 330)]),
        feature({"name": "Spital", "class": "restricted", "ceiling_m": 560},
                [(60, -330), (200, -330), (230, -170), (60, -160)]),
        feature({"name": "Festplatz", "class": "no_fly", "from_s": 1200, "to_s": 2400},
                [(280, 160), (460, 160), (460, 330), (280, 330)]),
    ]}, indent=1) + "\n"


if __name__ == "__main__":
    (HERE / "streets.osm").write_text(streets())
    (HERE / "zones.geojson").write_text(zones())

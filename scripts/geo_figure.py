#!/usr/bin/env python3
"""Draw a ``fleetsim export --format geojson`` file with matplotlib: zones, sites, tracks.

Reads only the GeoJSON (RFC 7946, ``[lon, lat]``), as a GIS would: no-fly zones red,
restricted ones orange, each vehicle's track coloured by its type, sites as squares.
Axes are longitude and latitude, with the aspect of the map at its mean latitude.

    python scripts/geo_figure.py runs/zurich/export/tracks.geojson --out zurich.png
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Polygon as Patch  # noqa: E402

ZONE_COLOURS = {"no_fly": "#d62728", "restricted": "#ff7f0e"}
TRACK_COLOURS = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#17becf"]


def draw(geojson: Path, out: Path) -> Path:
    doc = json.loads(geojson.read_text())
    layers: dict[str, list[dict]] = {}
    for f in doc["features"]:
        layers.setdefault(f["properties"].get("layer", "zone"), []).append(f)
    fig, ax = plt.subplots(figsize=(8, 6.5), dpi=110)
    for f in layers.get("zone", []):
        p = f["properties"]
        colour = ZONE_COLOURS.get(p["kind"], "grey")
        timed = p.get("end_s") is not None or (p.get("start_s") or 0) > 0
        ax.add_patch(Patch(f["geometry"]["coordinates"][0], closed=True, alpha=0.25,
                           facecolor=colour, edgecolor=colour, lw=1.5,
                           ls="--" if timed else "-"))
        lon = [c[0] for c in f["geometry"]["coordinates"][0]]
        lat = [c[1] for c in f["geometry"]["coordinates"][0]]
        label = p["id"] + (f" ({p['start_s']:g}-{p['end_s']:g} s)" if timed else "")
        ax.annotate(label, (sum(lon) / len(lon), sum(lat) / len(lat)), ha="center",
                    fontsize=8, color=colour)
    types = sorted({f["properties"]["type"] for f in layers.get("track", [])})
    for f in layers.get("track", []):
        c = f["geometry"]["coordinates"]
        k = types.index(f["properties"]["type"])
        ax.plot([p[0] for p in c], [p[1] for p in c], lw=0.8, alpha=0.7,
                color=TRACK_COLOURS[k % len(TRACK_COLOURS)])
    for k, t in enumerate(types):
        ax.plot([], [], color=TRACK_COLOURS[k % len(TRACK_COLOURS)], label=f"{t} tracks")
    for f in layers.get("site", []):
        lon, lat = f["geometry"]["coordinates"]
        ax.plot(lon, lat, "s", color="k", ms=5)
        ax.annotate(f["properties"]["id"], (lon, lat), textcoords="offset points",
                    xytext=(4, 4), fontsize=7)
    lats = [f["geometry"]["coordinates"][1] for f in layers.get("site", [])] or [0.0]
    ax.set_aspect(1.0 / math.cos(math.radians(sum(lats) / len(lats))))
    ax.set_xlabel("longitude (deg, WGS 84)")
    ax.set_ylabel("latitude (deg, WGS 84)")
    ax.ticklabel_format(useOffset=False)
    ax.legend(loc="center right", fontsize=8)
    ax.set_title(f"{geojson.name}: {len(layers.get('track', []))} tracks, "
                 f"{len(layers.get('zone', []))} zones, {len(layers.get('event', []))} events",
                 fontsize=10)
    ax.autoscale_view()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("geojson", type=Path, help="a file written by fleetsim export --format geojson")
    ap.add_argument("--out", type=Path, help="PNG to write (default: next to the GeoJSON)")
    args = ap.parse_args()
    print(draw(args.geojson, args.out or args.geojson.with_suffix(".png")))


if __name__ == "__main__":
    main()

"""OpenStreetMap roads and waterways: the shipped synthetic extract read with osmnx."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fleetsim.geo.frame import GeoFrame
from fleetsim.geo.osm import maxspeed_kph, osm_network, osm_waterways

OSM = Path(__file__).resolve().parents[2] / "scenarios" / "data" / "zurich" / "streets.osm"
FRAME = GeoFrame.from_origin(47.3780, 8.5300)


@pytest.fixture(scope="module")
def roads():
    return osm_network(OSM, FRAME)


def _node_at(net, x, y):
    g = net.graph
    return next(n for n, d in g.nodes(data=True)
                if abs(d["x"] - x) < 0.05 and abs(d["y"] - y) < 0.05)


def test_the_grid_is_read_with_its_close_junctions_merged(roads):
    # 21 OSM nodes: a 5 x 4 grid and one node 4 m from junction (0, -125); 31 segments,
    # of which the 4 m service road disappears when the two nodes merge.
    g = roads.graph
    assert (g.number_of_nodes(), g.number_of_edges()) == (20, 31)
    merged = _node_at(roads, 2.0, -125.0)  # the centroid of (0, -125) and (4, -125)
    assert g.degree(merged) == 4


def test_without_consolidation_every_osm_node_is_a_junction():
    g = osm_network(OSM, FRAME, consolidate_m=0).graph
    assert (g.number_of_nodes(), g.number_of_edges()) == (21, 32)


def test_speeds_come_from_maxspeed_then_the_highway_class(roads):
    g = roads.graph

    def speed(a, b):
        return g.edges[_node_at(roads, *a), _node_at(roads, *b)]["speed_mps"]

    assert speed((-500, -375), (-250, -375)) == pytest.approx(30 / 3.6)  # maxspeed 30
    assert speed((-500, -125), (-250, -125)) == pytest.approx(50 / 3.6)  # maxspeed 50
    assert speed((-500, 375), (-250, 375)) == pytest.approx(20 * 1.60934 / 3.6)  # 20 mph (osmnx: 1.60934 km/mi)
    assert speed((-500, 125), (-250, 125)) == pytest.approx(50 / 3.6)  # tertiary, no tag
    assert speed((0, 125), (0, 375)) == pytest.approx(40 / 3.6)  # secondary, maxspeed 40


def test_lengths_are_metres_in_the_scenario_frame(roads):
    path = roads.route(_node_at(roads, -500, -375), _node_at(roads, -500, 375))
    assert path.length_m == pytest.approx(750.0, abs=0.05)  # 3 blocks north
    # the merged junction sits 2 m east of the grid: its western road is 252 m long
    g = roads.graph
    assert g.edges[_node_at(roads, -250, -125), _node_at(roads, 2, -125)]["length_m"] == \
        pytest.approx(252.0, abs=0.05)


def test_a_missing_file_is_reported():
    with pytest.raises(ValueError, match="nowhere.osm: file not found; expected an "
                                         "OpenStreetMap XML"):
        osm_network("nowhere.osm", FRAME)


# ------------------------------------------------------------------ waterways

KNOT = 1852 / 3600


@pytest.fixture(scope="module")
def waterways():
    return osm_waterways(OSM, FRAME)


def test_the_waterways_are_the_fairway_river_and_canal_not_the_stream_or_streets(waterways):
    g = waterways.graph
    assert waterways.kind == "water"
    # fairway 3 nodes, river 8 (its first is the fairway's last), canal 3 (its first on the
    # river): 12 nodes, 2 + 7 + 2 segments; the stream's two nodes and the streets are out
    assert (g.number_of_nodes(), g.number_of_edges()) == (12, 11)
    fork = _node_at(waterways, 300.0, -60.0)  # the canal leaves the river here
    assert g.degree(fork) == 3
    xs = sorted((round(d["x"]), round(d["y"])) for _, d in g.nodes(data=True))
    assert (-700, -600) not in xs and (0, -125) not in xs


def test_waterway_speeds_come_from_maxspeed_in_knots_or_kmh_else_none(waterways):
    g = waterways.graph

    def speed(a, b):
        return g.edges[_node_at(waterways, *a), _node_at(waterways, *b)]["speed_mps"]

    assert speed((900.0, -750.0), (750.0, -600.0)) == pytest.approx(6 * KNOT)  # "6 knots"
    assert speed((450.0, -250.0), (300.0, -60.0)) == pytest.approx(12 / 3.6)  # "12"
    assert speed((300.0, -60.0), (100.0, -200.0)) == float("inf")  # canal: no tag
    limited = osm_waterways(OSM, FRAME, speed_limit_mps=2.5).graph
    a, b = _node_at(waterways, 300.0, -60.0), _node_at(waterways, 100.0, -200.0)
    assert limited.edges[a, b]["speed_mps"] == 2.5


def test_waterway_lengths_are_metres_in_the_scenario_frame(waterways):
    g = waterways.graph
    a, b = _node_at(waterways, 600.0, -450.0), _node_at(waterways, 450.0, -250.0)
    assert g.edges[a, b]["length_m"] == pytest.approx(250.0, abs=0.05)  # a 3-4-5 triangle


@pytest.mark.parametrize(("tag", "kph"), [
    ("12", 12.0), ("6 knots", 6 * 1.852), ("5 kn", 5 * 1.852), ("20 mph", 20 * 1.609344),
    ("8;10", 10.0), (["8", "15 km/h"], 15.0), ("none", None), ("signals", None), (None, None),
    ("12 furlongs", None)])
def test_maxspeed_tags_in_kmh_mph_and_knots(tag, kph):
    assert maxspeed_kph(tag) == (None if kph is None else pytest.approx(kph))


def test_a_file_without_waterways_is_reported(tmp_path):
    f = tmp_path / "roads.osm"
    f.write_text('<?xml version="1.0"?><osm version="0.6">'
                 '<node id="1" lat="47.378" lon="8.53"/><node id="2" lat="47.379" lon="8.53"/>'
                 '<way id="3"><nd ref="1"/><nd ref="2"/><tag k="highway" v="primary"/></way>'
                 '</osm>')
    with pytest.raises(ValueError, match=r"roads.osm: no waterways \(ways tagged "
                                         r"waterway=river\|canal\|fairway\) in the file"):
        osm_waterways(f, FRAME)


def test_a_scenario_boats_sail_the_waterways_at_their_limits(tmp_path):
    """zurich_boats: every boat move runs along one waterway segment at the lower of the
    segment's limit and the boat's 5 m/s, except the short hops between a site (the
    boathouse, a landing stage) and the waterway."""
    import numpy as np
    import pandas as pd

    from fleetsim.cli import main

    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "run"
    assert main(["run", str(root / "scenarios" / "zurich_boats.yaml"), "--set",
                 "run.duration_s=2400", "--out", str(out), "--no-replay", "-q"]) == 0
    legs = pd.read_parquet(out / "legs.parquet")
    moves = legs[(legs["kind"] == "move") & (legs["t1_s"] > legs["t0_s"])]
    net = osm_waterways(OSM, FRAME)
    edges = [(net.xy[u], net.xy[v], d["speed_mps"]) for u, v, d in net.graph.edges(data=True)]

    def off(p, a, b):  # distance of p from segment a-b
        f = np.clip(np.dot(p - a, b - a) / np.dot(b - a, b - a), 0.0, 1.0)
        return float(np.hypot(*(a + f * (b - a) - p)))

    from fleetsim.scenario import load_scenario

    sites = np.array([x.position for x in load_scenario(
        root / "scenarios" / "zurich_boats.yaml").sites])
    along = hops = 0
    for r in moves.itertuples():
        p0, p1 = np.array([r.x0_m, r.y0_m]), np.array([r.x1_m, r.y1_m])
        d = float(np.hypot(*(p1 - p0)))
        at_site = min(np.hypot(*(sites - p).T).min() for p in (p0, p1)) < 0.5
        on = [lim for a, b, lim in edges if off(p0, a, b) < 0.5 and off(p1, a, b) < 0.5]
        if on and not at_site:
            assert d / (r.t1_s - r.t0_s) == pytest.approx(min(max(on), 5.0), rel=1e-6)
            along += 1
        else:
            assert d < 35.0  # a landing stage is at most ~30 m from its waterway
            hops += 1
    assert along > 20 and hops >= 2


def test_osm_water_keys_are_checked_with_their_yaml_paths():
    from fleetsim.errors import ScenarioError
    from fleetsim.scenario import load_scenario_text

    root = Path(__file__).resolve().parents[2] / "scenarios"
    text = (root / "zurich_boats.yaml").read_text()
    cases = [
        ("water: {source: osm, path: data/zurich/streets.osm}",
         "water: {source: osm, path: data/zurich/streets.osm, spacing_m: 50}",
         "world.water.spacing_m: spacing_m applies to the water lattice \\(source: lattice\\), "
         "not to osm waterways"),
        ("water: {source: osm, path: data/zurich/streets.osm}",
         "water: {source: osm, path: data/zurich/canals.osm}",
         "world.water.path: waterways file not found: .*canals.osm"),
        ("water: {source: osm, path: data/zurich/streets.osm}",
         "water: {path: data/zurich/streets.osm}",
         "world.water.path: path applies to osm waterways, not to the water lattice"),
    ]
    for old, new, message in cases:
        assert old in text
        bad = text.replace(old, new).replace("{lonlat: [8.541651, 47.371433]}", "[880, -730]")
        with pytest.raises(ScenarioError, match=message):
            load_scenario_text(bad, filename="boats.yaml", base_dir=str(root))


def test_the_replay_draws_the_waterways_as_lines_of_wet_cells():
    import numpy as np

    from fleetsim.engine import Simulation
    from fleetsim.replay.layers import water_layer
    from fleetsim.scenario import load_scenario

    root = Path(__file__).resolve().parents[2]
    run = Simulation(load_scenario(root / "scenarios" / "zurich_boats.yaml",
                                   ["run.duration_s=60"])).run()
    entry, cols = water_layer(run)
    g = entry["grid"]
    assert (entry["nodes"], entry["edges"], g["cell_m"]) == (12, 11, 25.0)
    wet = cols["wet"].reshape(g["ny"], g["nx"]).astype(bool)

    def cell(x, y):
        return wet[int((y - g["y0_m"]) // g["cell_m"]), int((x - g["x0_m"]) // g["cell_m"])]

    def near_a_cell_side(x, y):  # where a line may clip a corner between the samples
        fx, fy = ((x - g["x0_m"]) % 25.0, (y - g["y0_m"]) % 25.0)
        return min(fx, 25.0 - fx, fy, 25.0 - fy) < 2.5

    for x0, y0, x1, y1 in run.world.water.segments():
        for f in np.linspace(0.0, 1.0, 41):  # every point along a waterway is wet
            x, y = x0 + f * (x1 - x0), y0 + f * (y1 - y0)
            assert cell(x, y) or near_a_cell_side(x, y)
    assert not cell(-650.0, -550.0)  # the stream is not a waterway
    # a line of cells: about one cell per 25 m of the waterways' ~2.9 km
    length = sum(np.hypot(x1 - x0, y1 - y0) for x0, y0, x1, y1 in run.world.water.segments())
    assert length / 25.0 <= entry["wet_cells"] <= 2.5 * length / 25.0


def test_waterways_off_the_terrain_are_reported():
    from fleetsim.errors import ScenarioError
    from fleetsim.scenario import load_scenario_text
    from fleetsim.world.world import build_world

    root = Path(__file__).resolve().parents[2] / "scenarios"
    text = (root / "zurich_boats.yaml").read_text().replace(
        "origin: {lat: 47.3780, lon: 8.5300}", "origin: {lat: 47.5, lon: 8.53}")
    text = re.sub(r"\{lonlat: \[[0-9., ]+\]\}", "[0, 0]", text)  # the sites stay on it
    with pytest.raises(ScenarioError, match=r"world.water: the waterways \(x -900..900, "
                                            r"y -14314..-12814 m\) lie outside the terrain"):
        build_world(load_scenario_text(text, filename="boats.yaml", base_dir=str(root)))

"""OpenStreetMap roads: the shipped synthetic extract read with osmnx."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetsim.geo.frame import GeoFrame
from fleetsim.geo.osm import osm_network

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

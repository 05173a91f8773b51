"""Tests of fleetsim.logistics.network against networkx and hand-computed cases."""

from __future__ import annotations

import json
import math

import networkx as nx
import numpy as np
import pytest
import shapely
from shapely.geometry import Point, box

from fleetsim.logistics.network import (
    Network,
    geojson_network,
    grid_network,
    planar_network,
    water_network,
)
from fleetsim.world.terrain import Terrain

INF = math.inf


def _limited(net: Network, seed: int) -> Network:
    """``net`` with random per-edge speed limits (some unlimited)."""
    rng = np.random.default_rng(seed)
    g = net.graph.copy()
    for _, _, data in sorted(g.edges(data=True)):
        data["speed_mps"] = float(rng.choice([5.0, 10.0, 20.0, INF]))
    return Network(g, "road")


def _edge_time(speed: float):
    return lambda u, v, d: d["length_m"] / min(d["speed_mps"], speed)


@pytest.fixture(scope="module")
def planar() -> Network:
    net = planar_network((0.0, 0.0, 2000.0, 2000.0), 100.0, blocked=60,
                         rng=np.random.default_rng(7))
    return _limited(net, 8)


# ------------------------------------------------------------------ routing


def test_planar_routes_are_shortest(planar):
    g = planar.graph
    assert nx.is_connected(g)
    rng = np.random.default_rng(1)
    for a, b in rng.integers(0, planar.n_nodes, size=(80, 2)).tolist():
        path = planar.route(a, b)
        expected = nx.shortest_path_length(g, a, b, weight="length_m")
        assert abs(path.length_m - expected) <= 1e-9 * max(1.0, expected)
        assert path.nodes[0] == a and path.nodes[-1] == b
        m = len(path.nodes)
        assert path.xy.shape == (m, 2) and path.lengths_m.shape == (m - 1,)
        np.testing.assert_array_equal(path.xy, planar.xy[list(path.nodes)])
        edges = [g.edges[u, v] for u, v in zip(path.nodes[:-1], path.nodes[1:], strict=True)]
        assert path.lengths_m.tolist() == [d["length_m"] for d in edges]
        assert path.speed_limits_mps.tolist() == [d["speed_mps"] for d in edges]
        assert path.length_m == pytest.approx(sum(path.lengths_m), rel=1e-12)
        for speed in (3.0, 12.0, 50.0):
            want = sum(d["length_m"] / min(d["speed_mps"], speed) for d in edges)
            assert path.travel_time_s(speed) == pytest.approx(want, rel=1e-12, abs=1e-12)
        assert planar.route(a, b) is path  # cached


def test_planar_one_to_all_match_networkx(planar):
    g = planar.graph
    for source in (0, 17, planar.n_nodes - 1):
        got = planar.distances_from(source)
        want = nx.single_source_dijkstra_path_length(g, source, weight="length_m")
        assert got.shape == (planar.n_nodes,)
        np.testing.assert_allclose(got, [want[i] for i in range(planar.n_nodes)],
                                   rtol=0, atol=1e-9)
        assert planar.distance(source, 5) == pytest.approx(want[5], abs=1e-9)
        assert planar.distances_from(source) is got
        assert not got.flags.writeable
        times = planar.travel_times_from(source, 12.0)
        want_t = nx.single_source_dijkstra_path_length(g, source, weight=_edge_time(12.0))
        np.testing.assert_allclose(times, [want_t[i] for i in range(planar.n_nodes)],
                                   rtol=0, atol=1e-9)
        assert planar.travel_times_from(source, 12.0) is times
    with pytest.raises(ValueError, match="finite positive"):
        planar.travel_times_from(0, 0.0)
    with pytest.raises(ValueError, match="not a node"):
        planar.distances_from(planar.n_nodes)


def test_route_to_itself_and_bad_nodes(planar):
    path = planar.route(3, 3)
    assert path.nodes == (3,) and path.length_m == 0.0
    assert path.xy.shape == (1, 2) and path.lengths_m.shape == (0,)
    assert path.travel_time_s(10.0) == 0.0
    with pytest.raises(ValueError, match=r"end node -1 is not a node of the road network"):
        planar.route(0, -1)


def test_nearest_node_ties_go_to_lowest_id():
    net = grid_network((0.0, 0.0, 400.0, 400.0), 100.0)
    assert net.nearest_node(150.0, 150.0) == (6, pytest.approx(50 * math.sqrt(2)))
    ids, dist = net.nearest_nodes([[0.0, 0.0], [260.0, 390.0], [-30.0, 40.0]])
    assert ids.tolist() == [0, 23, 0]
    np.testing.assert_allclose(dist, [0.0, math.hypot(40, 10), 50.0])
    path = net.route_xy((10.0, 10.0), (390.0, 10.0))
    assert path.nodes == (0, 1, 2, 3, 4)


# --------------------------------------------------------------------- grid


def test_grid_counts_and_manhattan():
    net = grid_network((0.0, 0.0, 950.0, 420.0), 100.0, speed_limit_mps=10.0)
    assert (net.n_nodes, net.n_edges) == (50, 5 * 9 + 4 * 10)
    assert net.xy[-1].tolist() == [900.0, 400.0]
    path = net.route(0, 49)
    assert path.length_m == 1300.0
    assert net.distance(0, 49) == 1300.0
    assert path.travel_time_s(20.0) == 130.0
    assert net.segments().shape == (85, 4)


def test_grid_blocked_keeps_connected():
    full = grid_network((0.0, 0.0, 900.0, 400.0), 100.0)
    all_edges = set(full.graph.edges)
    net = grid_network((0.0, 0.0, 900.0, 400.0), 100.0, blocked=20,
                       rng=np.random.default_rng(5))
    assert net.n_edges == 85 - 20
    assert set(net.graph.edges) < all_edges
    assert nx.is_connected(net.graph)
    tree = grid_network((0.0, 0.0, 900.0, 400.0), 100.0, blocked=36,
                        rng=np.random.default_rng(5))
    assert tree.n_edges == 49 and nx.is_tree(tree.graph)
    with pytest.raises(ValueError, match="cannot block 37 roads: at most 36"):
        grid_network((0.0, 0.0, 900.0, 400.0), 100.0, blocked=37,
                     rng=np.random.default_rng(5))
    with pytest.raises(ValueError, match="pass rng"):
        grid_network((0.0, 0.0, 900.0, 400.0), 100.0, blocked=1)


def test_determinism():
    def edges(net):
        return list(net.graph.edges(data=True))

    a = planar_network((0, 0, 1500, 1000), 100.0, blocked=30, rng=np.random.default_rng(3))
    b = planar_network((0, 0, 1500, 1000), 100.0, blocked=30, rng=np.random.default_rng(3))
    c = planar_network((0, 0, 1500, 1000), 100.0, blocked=30, rng=np.random.default_rng(4))
    assert edges(a) == edges(b) and np.array_equal(a.xy, b.xy)
    assert edges(a) != edges(c)
    g1 = grid_network((0, 0, 900, 900), 100.0, blocked=40, rng=np.random.default_rng(9))
    g2 = grid_network((0, 0, 900, 900), 100.0, blocked=40, rng=np.random.default_rng(9))
    assert edges(g1) == edges(g2)


def test_planar_is_gabriel_graph():
    net = planar_network((0, 0, 1000, 1000), 100.0, rng=np.random.default_rng(11))
    assert net.n_nodes == 100 and nx.is_connected(net.graph)
    assert nx.check_planarity(net.graph)[0]
    xy = net.xy
    for u, v in net.graph.edges:
        mid, r = (xy[u] + xy[v]) / 2, np.hypot(*(xy[u] - xy[v])) / 2
        inside = np.hypot(*(xy - mid).T) < r * (1 - 1e-12)
        assert not inside.any()
        assert net.graph.edges[u, v]["length_m"] == pytest.approx(2 * r)


# ------------------------------------------------------------------ closing


def test_close_edge_detour_and_caches():
    net = grid_network((0.0, 0.0, 400.0, 400.0), 100.0)
    a, b = 10, 14  # row 2, columns 0 and 4
    before = net.route(a, b)
    assert before.length_m == 400.0 and net.edge_on_path(before, 12, 11) == 1
    assert net.distances_from(a)[b] == 400.0
    assert net.travel_times_from(a, 10.0)[b] == 40.0
    net.close_edge(12, 11)
    assert net.closed == [(11, 12)] and not net.is_open(11, 12) and net.is_open(12, 13)
    after = net.route(a, b)
    assert after.length_m == 400.0 + 2 * 100.0
    assert net.edge_on_path(after, 11, 12) == -1
    assert net.distance(a, b) == 600.0 and net.distances_from(a)[b] == 600.0
    assert net.travel_times_from(a, 10.0)[b] == 60.0
    assert net.n_edges == 39 and net.segments().shape == (39, 4)
    np.testing.assert_array_equal(net.closed_segments(), [[100.0, 200.0, 200.0, 200.0]])
    with pytest.raises(ValueError, match="already closed"):
        net.close_edge(11, 12)
    with pytest.raises(ValueError, match="no such edge"):
        net.close_edge(0, 6)


def test_close_until_unreachable():
    net = grid_network((0.0, 0.0, 300.0, 0.0), 100.0)
    assert (net.n_nodes, net.n_edges) == (4, 3)
    assert net.route(0, 3).length_m == 300.0
    net.close_edge(1, 2)
    assert net.route(0, 3) is None and net.route(0, 3) is None
    assert net.distance(0, 3) == INF and net.distance(0, 1) == 100.0
    assert net.travel_times_from(3, 5.0).tolist() == [INF, INF, 20.0, 0.0]


def test_close_near_nearest_segment_and_ties():
    net = grid_network((0.0, 0.0, 400.0, 400.0), 100.0)
    assert net.close_near(150.0, 203.0) == (11, 12)
    # (150, 150) is 50 m from the four sides of its cell: (6, 7), (6, 11), (7, 12), (11, 12).
    assert net.close_near(150.0, 150.0) == (6, 7)
    assert net.close_near(150.0, 150.0) == (6, 11)
    assert net.close_near(150.0, 150.0) == (7, 12)
    assert net.closed == [(11, 12), (6, 7), (6, 11), (7, 12)]
    np.testing.assert_array_equal(net.closed_segments()[1], [100.0, 100.0, 200.0, 100.0])
    seg = net.segments()
    assert seg.shape == (36, 4)
    # Sorted by (u, v): the first open edges are (0, 1) and (0, 5).
    np.testing.assert_array_equal(seg[:2], [[0, 0, 100, 0], [0, 0, 0, 100]])


# ------------------------------------------------------------------ geojson


def _write(tmp_path, doc, name="roads.geojson"):
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def _line(coords, speed=None):
    props = {} if speed is None else {"speed_limit_mps": speed}
    return {"type": "Feature", "properties": props,
            "geometry": {"type": "LineString", "coordinates": coords}}


def _fc(*features):
    return {"type": "FeatureCollection", "features": list(features)}


def test_geojson_lines_join_and_speeds(tmp_path):
    path = _write(tmp_path, _fc(
        _line([[0, 0], [100, 0], [100, 100]]),
        _line([[100.004, 100.0], [200, 100]], speed=5),
        {"type": "Feature", "properties": {"speed_limit_mps": 2},
         "geometry": {"type": "MultiLineString",
                      "coordinates": [[[0, 0], [0, 100, 7.5]], [[0, 100], [100, 100]]]}},
    ))
    net = geojson_network(path, speed_limit_mps=20.0)
    assert net.n_nodes == 5
    assert net.xy.tolist() == [[0, 0], [100, 0], [100, 100], [200, 100], [0, 100]]
    assert sorted(net.graph.edges) == [(0, 1), (0, 4), (1, 2), (2, 3), (2, 4)]
    path_ = net.route_xy((0.0, 0.0), (200.0, 100.0))
    # Two routes of 300 m; A* finds one, and both have these limits in some order.
    assert path_.length_m == 300.0
    assert net.route(1, 3).speed_limits_mps.tolist() == [20.0, 5.0]
    assert net.route(1, 3).travel_time_s(10.0) == 10.0 + 20.0
    assert net.route(4, 3).speed_limits_mps.tolist() == [2.0, 5.0]
    default = geojson_network(path)
    assert default.route(1, 3).speed_limits_mps.tolist() == [INF, 5.0]
    # With no snapping the nearly shared end stays two junctions: nothing reaches x = 200.
    apart = geojson_network(path, snap_m=0.0)
    assert apart.n_nodes == 6 and apart.route(0, 4) is None


@pytest.mark.parametrize("doc, pieces", [
    ("{not json", ["not valid JSON"]),
    (_fc(), ["no features", "LineString"]),
    ({"type": "Feature"}, ["expected a GeoJSON FeatureCollection", "'Feature'"]),
    (_fc(_line([[0, 0], [1, 1]]), {"type": "Feature", "geometry": {
        "type": "Point", "coordinates": [0, 0]}}),
     ["feature 1", "geometry type 'Point' is not supported",
      "LineString and MultiLineString"]),
    (_fc(_line([[0, 0]])), ["feature 0", "at least 2 coordinates, found 1"]),
    (_fc(_line([[0, 0], [1, 1]]), _line([[0, 0], [float("nan"), 1]])),
     ["feature 1", "coordinate 1 is not finite"]),
    (_fc(_line([[0, 0], ["a", 1]])), ["feature 0", "coordinate 1 must be [x, y] numbers"]),
    (_fc(_line([[0, 0], [1, 1]], speed=0)),
     ["feature 0", "speed_limit_mps must be a positive number", "found 0"]),
    (_fc(_line([[0, 0], [1, 1]], speed="fast")), ["speed_limit_mps must be a positive"]),
])
def test_geojson_errors(tmp_path, doc, pieces):
    path = _write(tmp_path, doc)
    with pytest.raises(ValueError) as info:
        geojson_network(path)
    message = str(info.value)
    assert str(path) in message
    for piece in pieces:
        assert piece in message


# -------------------------------------------------------------------- water


def _island_terrain(radius_m: float = 300.0) -> Terrain:
    """2 km square of sea at 50 m with a round island at its centre."""
    g = np.arange(41) * 50.0
    gx, gy = np.meshgrid(g, g)
    h = np.where(np.hypot(gx - 1000.0, gy - 1000.0) <= radius_m, 5.0, -10.0)
    t = Terrain(h, 50.0, (0.0, 0.0))
    t.water = h < 0
    return t


def _lattice_off_island(radius_m: float) -> int:
    g = np.arange(21) * 100.0
    gx, gy = np.meshgrid(g, g)
    return int((np.hypot(gx - 1000.0, gy - 1000.0) > radius_m).sum())


def _check_island(net: Network, radius_m: float, island_clear_m: float) -> None:
    assert net.kind == "water"
    assert net.n_nodes == _lattice_off_island(radius_m)
    assert (np.hypot(*(net.xy - 1000.0).T) > radius_m).all()
    island = Point(1000.0, 1000.0).buffer(island_clear_m)
    lines = shapely.linestrings(net.segments().reshape(-1, 2, 2))
    assert not shapely.intersects(lines, island).any()
    assert all(d["speed_mps"] == INF for _, _, d in net.graph.edges(data=True))
    assert net.graph.degree[0] == 3  # south-west corner: east, north, north-east
    start = net.nearest_node(400.0, 1000.0)
    end = net.nearest_node(1600.0, 1000.0)
    assert start[1] == end[1] == 0.0
    path = net.route(start[0], end[0])
    # Around the island: longer than the 1200 m straight line, and than the
    # shortest curve around a disc of radius_m (two tangents and an arc).
    tangent = 2 * math.sqrt(600.0**2 - radius_m**2)
    arc = radius_m * (math.pi - 2 * math.acos(radius_m / 600.0))
    assert path.length_m > tangent + arc > 1200.0
    assert path.length_m == pytest.approx(net.distance(start[0], end[0]), abs=1e-9)


def test_water_network_from_terrain():
    net = water_network(_island_terrain(300.0), 100.0)
    # Points sampled every 25 m never meet land; land reaches 300 m, so a
    # segment may pass within 300 - 25 m of the centre.
    _check_island(net, 300.0, 250.0)
    interior = int(np.flatnonzero((net.xy == [200.0, 200.0]).all(axis=1))[0])
    assert net.graph.degree[interior] == 8


def test_water_network_from_polygon():
    terrain = Terrain(np.zeros((41, 41)), 50.0, (0.0, 0.0))
    sea = box(-1.0, -1.0, 2001.0, 2001.0).difference(Point(1000.0, 1000.0).buffer(250.0))
    net = water_network(terrain, 100.0, polygon=sea)
    # Segments must lie in the polygon exactly, so none touches the (polygonal) island.
    _check_island(net, 250.0, 249.0)


def test_water_network_errors():
    flat = Terrain(np.zeros((5, 5)), 50.0, (0.0, 0.0))
    with pytest.raises(ValueError) as info:
        water_network(flat, 100.0)
    assert str(info.value) == ("sea vehicles need water: set world.terrain.sea_level_m or "
                               "world.water.polygon")
    flat.water = np.zeros((5, 5), dtype=bool)
    with pytest.raises(ValueError, match="no water for sea vehicles"):
        water_network(flat, 100.0)
    with pytest.raises(ValueError, match="no water for sea vehicles"):
        water_network(flat, 100.0, polygon=box(1000.0, 1000.0, 2000.0, 2000.0))


# --------------------------------------------------------------- validation


def test_network_validation():
    g = nx.Graph()
    with pytest.raises(ValueError, match="at least one node"):
        Network(g, "road")
    g.add_node(0, x=0.0, y=0.0)
    g.add_node(2, x=1.0, y=0.0)
    with pytest.raises(ValueError, match=r"node ids must be the integers 0..1"):
        Network(g, "road")
    g = nx.Graph()
    g.add_node(0, x=0.0, y=0.0)
    g.add_node(1, x=1.0, y=math.nan)
    with pytest.raises(ValueError, match="node 1 needs finite coordinates"):
        Network(g, "road")
    g.nodes[1]["y"] = 0.0
    g.add_edge(0, 1, length_m=0.0)
    with pytest.raises(ValueError, match=r"edge \(0, 1\) needs a positive finite length_m"):
        Network(g, "road")
    g.edges[0, 1]["length_m"] = 1.0
    with pytest.raises(ValueError, match="kind must be one of 'road', 'water'"):
        Network(g, "air")
    net = Network(g, "water")
    assert net.graph.edges[0, 1]["speed_mps"] == INF and net.graph is not g

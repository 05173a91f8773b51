"""Tests of fleetsim.planning.routing: shortest routes with exact lengths."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from fleetsim.planning import VisibilityGraph, path_length, route_around

SQUARE = shapely.box(-10, -10, 10, 10)


def assert_clear(route: np.ndarray, obstacles, clearance_m: float) -> None:
    """No leg of the route enters an obstacle grown by the clearance."""
    for obstacle in obstacles:
        grown = obstacle.buffer(clearance_m, join_style="mitre").buffer(-1e-6)
        assert not shapely.LineString(route).intersects(grown)


def test_graph_of_one_square():
    vg = VisibilityGraph([SQUARE], clearance_m=1.0)
    corners = {tuple(p) for p in vg.nodes_xy.tolist()}
    assert corners == {(-11.0, -11.0), (11.0, -11.0), (11.0, 11.0), (-11.0, 11.0)}
    # The four sides are edges; the diagonals cross the square.
    assert vg.graph.number_of_edges() == 4
    for u, _, weight in vg.graph.edges(data="weight"):
        assert weight == 22.0
        assert tuple(vg.graph.nodes[u]["xy"]) in corners
    assert vg.clearance_m == 1.0
    assert vg.obstacles == (SQUARE,)


def test_route_around_one_square():
    vg = VisibilityGraph([SQUARE], clearance_m=1.0)
    route = vg.route((-30, 0), (30, 0))
    assert route.dtype == np.float64 and route.shape == (4, 2)
    np.testing.assert_array_equal(route[0], [-30, 0])
    np.testing.assert_array_equal(route[-1], [30, 0])
    # Around the grown square's corners at +-11: two tangents and one side.
    assert path_length(route) == pytest.approx(2 * math.hypot(19, 11) + 22)
    assert set(np.abs(route[1:3]).ravel().tolist()) == {11.0}
    assert_clear(route, [SQUARE], 1.0)


def test_zero_clearance_runs_along_edges():
    route = route_around((-30, 0), (30, 0), [SQUARE], clearance_m=0.0)
    assert path_length(route) == pytest.approx(2 * math.hypot(20, 10) + 20)
    assert_clear(route, [SQUARE], 0.0)


def test_clear_straight_line_returns_two_points():
    vg = VisibilityGraph([SQUARE], clearance_m=1.0)
    route = vg.route((-30, 20), (30, 20))
    np.testing.assert_array_equal(route, [[-30, 20], [30, 20]])
    # Grazing the grown square's side is allowed.
    np.testing.assert_array_equal(vg.route((-30, 11), (30, 11)), [[-30, 11], [30, 11]])
    np.testing.assert_array_equal(route_around((0, 0), (5, 5), []), [[0, 0], [5, 5]])


def test_two_obstacles():
    low = shapely.box(20, -20, 30, 5)  # pass over it
    high = shapely.box(60, -5, 70, 20)  # pass under it
    obstacles = [low, high]
    route = route_around((0, 0), (100, 0), obstacles, clearance_m=1.0)
    np.testing.assert_allclose(
        route, [[0, 0], [19, 6], [31, 6], [59, -6], [71, -6], [100, 0]], atol=1e-9
    )
    expected = math.hypot(19, 6) + 12 + math.hypot(28, 12) + 12 + math.hypot(29, 6)
    assert path_length(route) == pytest.approx(expected)
    assert_clear(route, obstacles, 1.0)
    # One graph answers many queries; reversing gives the same length.
    vg = VisibilityGraph(obstacles, clearance_m=1.0)
    assert path_length(vg.route((100, 0), (0, 0))) == pytest.approx(expected)
    assert vg.graph.number_of_nodes() == 8


def test_overlapping_obstacles_are_avoided_together():
    obstacles = [shapely.box(0, 0, 10, 10), shapely.box(5, 5, 15, 15)]
    route = route_around((-5, 12), (20, 3), obstacles, clearance_m=0.5)
    assert_clear(route, obstacles, 0.5)
    vg = VisibilityGraph(obstacles, clearance_m=0.5)
    union = shapely.union_all(obstacles).buffer(0.5, join_style="mitre").buffer(-1e-6)
    assert not shapely.intersects(union, shapely.points(vg.nodes_xy)).any()


def test_start_or_goal_inside_raises():
    obstacles = [shapely.box(100, 100, 110, 110), SQUARE]
    vg = VisibilityGraph(obstacles, clearance_m=1.0)
    with pytest.raises(ValueError, match=r"start_xy \(0, 0\) lies inside obstacle 1"):
        vg.route((0, 0), (30, 0))
    with pytest.raises(ValueError, match=r"goal_xy \(105, 105\) lies inside obstacle 0"):
        vg.route((30, 0), (105, 105))
    with pytest.raises(ValueError, match="start_xy"):
        vg.route((np.nan, 0), (30, 0))


def test_start_on_boundary_or_in_clearance_band():
    vg = VisibilityGraph([SQUARE], clearance_m=1.0)
    # On the obstacle's edge: allowed; the first leg leaves the clearance band.
    route = vg.route((-10, 0), (30, 0))
    np.testing.assert_array_equal(route[:3], [[-10, 0], [-11, 0], [-11, -11]])
    assert path_length(route) == pytest.approx(1 + 11 + 22 + math.hypot(19, 11))
    route = vg.route((-10.5, 5), (-30, 5))
    np.testing.assert_array_equal(route, [[-10.5, 5], [-11, 5], [-30, 5]])


def test_enclosed_goal_has_no_route():
    ring = shapely.Polygon(
        shapely.box(-50, -50, 50, 50).exterior.coords,
        holes=[shapely.box(-20, -20, 20, 20).exterior.coords],
    )
    vg = VisibilityGraph([ring], clearance_m=1.0)
    with pytest.raises(ValueError, match="no route"):
        vg.route((100, 0), (0, 0))
    # Inside the hole, routes go around nothing but stay inside.
    np.testing.assert_array_equal(vg.route((-5, 0), (5, 0)), [[-5, 0], [5, 0]])
    # The graph is unchanged by the failed query.
    assert -1 not in vg.graph and -2 not in vg.graph


def test_invalid_arguments():
    with pytest.raises(ValueError, match="clearance_m"):
        VisibilityGraph([SQUARE], clearance_m=-1.0)
    with pytest.raises(TypeError, match="obstacle 0"):
        VisibilityGraph([shapely.Point(0, 0)])
    bowtie = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    with pytest.raises(ValueError, match="obstacle 1 is not a valid polygon"):
        VisibilityGraph([SQUARE, bowtie])


def test_many_obstacles_routes_are_clear_and_no_longer_than_detours():
    rng = np.random.default_rng(5)
    centres = rng.uniform(0, 2000, (40, 2))
    obstacles = [
        shapely.Point(x, y).buffer(r, quad_segs=2)
        for (x, y), r in zip(centres, rng.uniform(20, 80, 40), strict=True)
    ]
    vg = VisibilityGraph(obstacles, clearance_m=5.0)
    grown = shapely.union_all([o.buffer(5.0, join_style="mitre") for o in obstacles])
    routed = 0
    for start, goal in rng.uniform(0, 2000, (20, 2, 2)):
        if grown.contains(shapely.Point(start)) or grown.contains(shapely.Point(goal)):
            continue
        route = vg.route(start, goal)
        routed += 1
        assert not shapely.LineString(route).intersects(grown.buffer(-1e-6))
        assert path_length(route) >= math.dist(start, goal) - 1e-9
    assert routed > 5

"""A visibility graph keeps, per goal, what a route works out for its goal side (where
it escapes the clearance zones, the nodes it sees): many routes to one goal (the engine's
way home to a base) share it. Routes from a graph that has answered many others are
the routes of a fresh graph, bit for bit, and errors are the same."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from fleetsim.planning import VisibilityGraph

ZONES = [shapely.box(40, 40, 60, 60), shapely.Polygon([(70, 10), (90, 20), (75, 35)])]
GOALS = [(20.0, 50.0), (100.0, 25.0), (61.0, 50.0)]  # the last within the clearance


def test_routes_to_shared_goals_are_those_of_a_fresh_graph():
    rng = np.random.default_rng(3)
    shared = VisibilityGraph(ZONES, clearance_m=3.0)
    detours = 0
    routed = dict.fromkeys(GOALS, 0)
    for _ in range(120):
        start = tuple(rng.uniform(0, 110, size=2).tolist())
        goal = GOALS[int(rng.integers(len(GOALS)))]
        try:
            fresh = VisibilityGraph(ZONES, clearance_m=3.0).route(start, goal)
        except ValueError as err:  # the start inside a zone
            with pytest.raises(ValueError) as again:
                shared.route(start, goal)
            assert str(again.value) == str(err)
            continue
        route = shared.route(start, goal)
        assert route.tobytes() == fresh.tobytes()
        detours += len(route) > 2
        routed[goal] += 1
    assert detours >= 20
    assert min(routed.values()) >= 20  # the goal within the clearance too


def test_a_goal_within_the_clearance_is_left_by_its_escape_point():
    vg = VisibilityGraph(ZONES[:1], clearance_m=3.0)
    for _ in range(2):  # the second time from what the graph kept
        assert vg.route((0, 50), (61, 50)).tolist() == [
            [0.0, 50.0], [37.0, 37.0], [63.0, 37.0], [63.0, 50.0], [61.0, 50.0]]
        assert vg.route((100, 50), (61, 50)).tolist() == [[100.0, 50.0], [63.0, 50.0],
                                                          [61.0, 50.0]]


def test_a_goal_inside_an_obstacle_is_refused_every_time():
    vg = VisibilityGraph(ZONES, clearance_m=3.0)
    for _ in range(2):
        with pytest.raises(ValueError, match=r"goal_xy \(50, 50\) lies inside obstacle 0"):
            vg.route((0, 0), (50, 50))
    assert vg.route((0, 0), (20, 50)).tolist() == [[0.0, 0.0], [20.0, 50.0]]

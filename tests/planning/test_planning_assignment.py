"""Tests of fleetsim.planning.assignment on small cases with known optima."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fleetsim.planning import assign_min_cost, nearest

INF = np.inf


def test_nearest():
    points = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    query = np.array([[1.0, 1.0], [9.0, 0.0], [0.0, 13.0]])
    index, distance = nearest(points, query)
    assert index.dtype == np.int64 and distance.dtype == np.float64
    np.testing.assert_array_equal(index, [0, 1, 2])
    np.testing.assert_allclose(distance, [np.sqrt(2), 1.0, 3.0])


def test_nearest_within_max_distance():
    points = np.array([[0.0, 0.0], [10.0, 0.0]])
    index, distance = nearest(points, [[1.0, 0.0], [5.0, 50.0]], max_distance_m=5.0)
    np.testing.assert_array_equal(index, [0, -1])
    np.testing.assert_array_equal(distance, [1.0, INF])


def test_nearest_errors_and_empty():
    with pytest.raises(ValueError, match="empty"):
        nearest(np.empty((0, 2)), [[0.0, 0.0]])
    with pytest.raises(ValueError, match=r"query_xy must have shape \(n, 2\)"):
        nearest([[0.0, 0.0]], [0.0, 0.0])
    with pytest.raises(ValueError, match=r"points_xy\[1\] is not finite"):
        nearest([[0.0, 0.0], [np.nan, 1.0]], [[0.0, 0.0]])
    index, distance = nearest([[0.0, 0.0]], np.empty((0, 2)))
    assert index.shape == distance.shape == (0,)


def test_assign_min_cost_3x3_known_optimum():
    cost = np.array([[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]])
    rows, cols = assign_min_cost(cost)
    assert rows.dtype == cols.dtype == np.int64
    np.testing.assert_array_equal(rows, [0, 1, 2])
    np.testing.assert_array_equal(cols, [1, 0, 2])
    best = min(itertools.permutations(range(3)), key=lambda p: cost[range(3), p].sum())
    np.testing.assert_array_equal(cols, best)
    assert cost[rows, cols].sum() == 5.0


def test_forbidden_pairs_are_never_assigned():
    cost = np.array([[1.0, INF, INF], [INF, INF, INF], [2.0, 3.0, INF]])
    rows, cols = assign_min_cost(cost)
    np.testing.assert_array_equal(rows, [0, 2])
    np.testing.assert_array_equal(cols, [0, 1])
    assert np.isfinite(cost[rows, cols]).all()


def test_as_many_pairs_as_possible_then_cheapest():
    # Only one row can get column 0; the cheaper one does.
    rows, cols = assign_min_cost([[5.0, INF], [2.0, INF]])
    np.testing.assert_array_equal(rows, [1])
    np.testing.assert_array_equal(cols, [0])
    # Two pairs beat one cheap pair: 10 + 10 rather than 1 alone.
    rows, cols = assign_min_cost([[1.0, 10.0], [10.0, INF]])
    np.testing.assert_array_equal(rows, [0, 1])
    np.testing.assert_array_equal(cols, [1, 0])


def test_rectangular_and_degenerate():
    rows, cols = assign_min_cost([[3.0, 1.0, 2.0], [1.0, 5.0, 0.5]])
    np.testing.assert_array_equal(rows, [0, 1])
    np.testing.assert_array_equal(cols, [1, 2])
    rows, cols = assign_min_cost(np.full((2, 2), INF))
    assert rows.size == cols.size == 0
    rows, cols = assign_min_cost(np.empty((0, 3)))
    assert rows.size == cols.size == 0


def test_invalid_costs():
    with pytest.raises(ValueError, match=r"cost\[0, 1\] is nan"):
        assign_min_cost([[1.0, np.nan]])
    with pytest.raises(ValueError, match=r"cost\[1, 0\] is -inf"):
        assign_min_cost([[1.0, 2.0], [-INF, 2.0]])
    with pytest.raises(ValueError, match="2-D"):
        assign_min_cost([1.0, 2.0])

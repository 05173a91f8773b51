"""Tests of fleetsim.planning.partition: equal areas, exact cuts, assignments."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import shapely

from fleetsim.planning import assign_parts, partition_equal_area

IRREGULAR = shapely.Polygon(
    [(0, 0), (100, 0), (130, 50), (60, 90), (-20, 60)],
    holes=[[(30, 30), (50, 30), (40, 50)]],
)


def check_partition(area, parts, k):
    assert len(parts) == k
    areas = np.array([p.area for p in parts])
    np.testing.assert_allclose(areas, area.area / k, rtol=1e-6)
    assert shapely.union_all(parts).symmetric_difference(area).area < 1e-9 * area.area
    for a, b in itertools.combinations(parts, 2):
        assert a.intersection(b).area < 1e-9 * area.area


def test_rectangle_exact_strips():
    parts = partition_equal_area(shapely.box(0, 0, 30, 10), 3)
    assert [p.bounds for p in parts] == [(0, 0, 10, 10), (10, 0, 20, 10), (20, 0, 30, 10)]
    parts = partition_equal_area(shapely.box(0, 0, 30, 10), 2, angle_deg=90.0)
    assert [p.bounds for p in parts] == [(0, 0, 30, 5), (0, 5, 30, 10)]


def test_triangle_cut_position_is_analytic():
    # Area left of x = t in the triangle (0,0), (2,0), (0,2) is 2 - (2 - t)^2 / 2.
    parts = partition_equal_area(shapely.Polygon([(0, 0), (2, 0), (0, 2)]), 2)
    assert parts[0].bounds[2] == pytest.approx(2 - math.sqrt(2), abs=1e-12)
    parts = partition_equal_area(shapely.Polygon([(0, 0), (2, 0), (0, 2)]), 4)
    cuts = [p.bounds[2] for p in parts[:-1]]
    np.testing.assert_allclose(cuts, [2 - math.sqrt(4 * (1 - f)) for f in (0.25, 0.5, 0.75)])


@pytest.mark.parametrize("angle_deg", [0.0, 37.0, 90.0, 200.0])
def test_irregular_polygon_with_hole(angle_deg):
    parts = partition_equal_area(IRREGULAR, 7, angle_deg=angle_deg)
    check_partition(IRREGULAR, parts, 7)
    # Ordered along the sweep direction.
    direction = np.array([math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))])
    along = shapely.get_coordinates(shapely.centroid(parts)) @ direction
    assert np.all(np.diff(along) > 0)
    assert all(p.geom_type in ("Polygon", "MultiPolygon") for p in parts)


def test_monotone_area_gives_contiguous_parts():
    parallelogram = shapely.Polygon([(0, 0), (100, 0), (150, 60), (50, 60)])
    parts = partition_equal_area(parallelogram, 5)
    check_partition(parallelogram, parts, 5)
    assert all(p.geom_type == "Polygon" for p in parts)


def test_non_monotone_area_may_give_multipolygon_parts():
    u_shape = shapely.Polygon(
        [(0, 0), (90, 0), (90, 90), (60, 90), (60, 30), (30, 30), (30, 90), (0, 90)]
    )
    parts = partition_equal_area(u_shape, 3, angle_deg=90.0)  # horizontal cuts
    check_partition(u_shape, parts, 3)
    # The middle strip still holds part of the base; the top one only the two arms.
    assert [p.geom_type for p in parts] == ["Polygon", "Polygon", "MultiPolygon"]


def test_multipolygon_area():
    area = shapely.MultiPolygon([shapely.box(0, 0, 10, 10), shapely.box(20, 0, 40, 10)])
    parts = partition_equal_area(area, 3)
    check_partition(area, parts, 3)
    assert [p.bounds for p in parts] == [(0, 0, 10, 10), (20, 0, 30, 10), (30, 0, 40, 10)]


def test_k_one_and_errors():
    assert partition_equal_area(IRREGULAR, 1) == [IRREGULAR]
    for k in (0, -2, 2.5, True, "3"):
        with pytest.raises(ValueError, match="k must be"):
            partition_equal_area(IRREGULAR, k)
    with pytest.raises(TypeError, match="Polygon"):
        partition_equal_area(shapely.Point(0, 0), 2)
    with pytest.raises(ValueError, match="angle_deg"):
        partition_equal_area(IRREGULAR, 2, angle_deg=float("inf"))


def test_assign_parts_known_optimum():
    parts = partition_equal_area(shapely.box(0, 0, 300, 100), 3)  # centroids x = 50, 150, 250
    vehicles = np.array([[260.0, 0.0], [40.0, 0.0], [150.0, 500.0]])
    part_of_vehicle = assign_parts(parts, vehicles)
    assert part_of_vehicle.dtype == np.int64
    np.testing.assert_array_equal(part_of_vehicle, [2, 0, 1])
    # Check against every permutation.
    centroids = shapely.get_coordinates(shapely.centroid(parts))
    cost = np.linalg.norm(vehicles[:, None] - centroids[None], axis=2)
    best = min(itertools.permutations(range(3)), key=lambda p: cost[range(3), p].sum())
    np.testing.assert_array_equal(part_of_vehicle, best)


def test_assign_parts_unequal_counts():
    parts = partition_equal_area(shapely.box(0, 0, 300, 100), 3)
    # More vehicles than parts: the farthest vehicle gets none.
    part_of_vehicle = assign_parts(parts, [[255.0, 50.0], [900.0, 0.0], [45.0, 50.0], [150, 0]])
    np.testing.assert_array_equal(part_of_vehicle, [2, -1, 0, 1])
    # Fewer vehicles than parts: each vehicle gets its nearest free part.
    np.testing.assert_array_equal(assign_parts(parts, [[255.0, 50.0]]), [2])
    assert assign_parts(parts, np.empty((0, 2))).shape == (0,)
    np.testing.assert_array_equal(assign_parts([], [[0.0, 0.0]]), [-1])
    with pytest.raises(ValueError, match="vehicle_xy"):
        assign_parts(parts, [1.0, 2.0])

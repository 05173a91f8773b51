"""Tests of fleetsim.planning.coverage: exact answers on small hand-built areas."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely import affinity

from fleetsim.planning import boustrophedon, min_width_angle_deg, path_length

RECT = shapely.box(0, 0, 1000, 600)
SQUARE_WITH_HOLE = shapely.Polygon(
    shapely.box(0, 0, 1000, 1000).exterior.coords,
    holes=[shapely.box(400, 400, 600, 600).exterior.coords],
)


def tracks(waypoints: np.ndarray) -> np.ndarray:
    """Legs 2i -> 2i+1 of a sweep without routed links, shape (t, 2, 2)."""
    assert len(waypoints) % 2 == 0
    return waypoints.reshape(-1, 2, 2)


def coverage_fraction(waypoints: np.ndarray, area: shapely.Geometry, swath_m: float) -> float:
    swept = shapely.LineString(waypoints).buffer(swath_m / 2.0)
    return swept.intersection(area).area / area.area


def assert_inside(waypoints: np.ndarray, area: shapely.Geometry) -> None:
    grown = area.buffer(1e-6)
    assert shapely.covers(grown, shapely.points(waypoints)).all()
    assert grown.covers(shapely.LineString(waypoints))


# -- path_length ------------------------------------------------------------------


def test_path_length():
    assert path_length([[0, 0], [3, 4]]) == 5.0
    assert path_length([[0, 0], [3, 4], [3, 0]]) == 9.0
    assert path_length(np.zeros((1, 2))) == 0.0
    assert path_length(np.zeros((0, 2))) == 0.0
    with pytest.raises(ValueError, match="shape"):
        path_length([1.0, 2.0])


# -- min_width_angle_deg -------------------------------------------------------------


def test_min_width_angle():
    assert min_width_angle_deg(RECT) == 0.0
    assert min_width_angle_deg(shapely.box(0, 0, 600, 1000)) == 90.0
    rotated = affinity.rotate(RECT, 30, origin=(0, 0))
    assert min_width_angle_deg(rotated) == pytest.approx(30.0)
    # A square: both directions tie, the smaller angle wins.
    assert min_width_angle_deg(shapely.box(0, 0, 10, 10)) == 0.0


# -- rectangle: the classic serpentine ------------------------------------------------


def test_rectangle_serpentine_exact():
    waypoints = boustrophedon(RECT, 100.0)
    assert waypoints.dtype == np.float64
    assert waypoints.shape == (12, 2)
    expected = []
    for i, y in enumerate(range(50, 600, 100)):
        row = [[0.0, y], [1000.0, y]]
        expected.extend(row if i % 2 == 0 else row[::-1])
    np.testing.assert_array_equal(waypoints, expected)
    assert path_length(waypoints) == 6 * 1000 + 5 * 100


def test_rectangle_properties():
    waypoints = boustrophedon(RECT, 100.0, angle_deg=0.0)
    legs = tracks(waypoints)
    # Six tracks at y = 50 .. 550, each edge to edge.
    np.testing.assert_array_equal(legs[:, 0, 1], [50, 150, 250, 350, 450, 550])
    np.testing.assert_array_equal(np.sort(legs[:, :, 0], axis=1), [[0, 1000]] * 6)
    # Directions alternate.
    direction = np.sign(legs[:, 1, 0] - legs[:, 0, 0])
    np.testing.assert_array_equal(direction, [1, -1, 1, -1, 1, -1])
    # Crossovers run along the boundary and are one spacing long.
    crossover_from, crossover_to = legs[:-1, 1], legs[1:, 0]
    np.testing.assert_array_equal(crossover_from[:, 0], crossover_to[:, 0])
    assert set(crossover_from[:, 0]) <= {0.0, 1000.0}
    np.testing.assert_array_equal(crossover_to[:, 1] - crossover_from[:, 1], [100] * 5)
    assert_inside(waypoints, RECT)


def test_rectangle_swath_covers_exactly():
    waypoints = boustrophedon(RECT, 100.0)
    assert coverage_fraction(waypoints, RECT, 100.0) == pytest.approx(1.0, abs=1e-9)
    # The swath does not reach beyond the edges across the tracks.
    swept = shapely.LineString(waypoints).buffer(50.0, cap_style="flat")
    assert swept.bounds[1] == pytest.approx(0.0) and swept.bounds[3] == pytest.approx(600.0)


@pytest.mark.parametrize(
    ("start_xy", "first", "second"),
    [
        ((-5, -5), (0, 50), (1000, 50)),
        ((1100, -20), (1000, 50), (0, 50)),
        ((-1, 700), (0, 550), (1000, 550)),
        ((1000, 600), (1000, 550), (0, 550)),
    ],
)
def test_start_picks_nearest_corner(start_xy, first, second):
    waypoints = boustrophedon(RECT, 100.0, start_xy=start_xy)
    np.testing.assert_array_equal(waypoints[:2], [first, second])
    assert path_length(waypoints) == 6500.0
    corners = {tuple(waypoints[0]), tuple(waypoints[-1])}
    assert len(corners) == 2


def test_rectangle_across_and_rotated():
    waypoints = boustrophedon(RECT, 100.0, angle_deg=90.0)
    legs = tracks(waypoints)
    np.testing.assert_allclose(legs[:, 0, 0], np.arange(50, 1000, 100))
    assert path_length(waypoints) == pytest.approx(10 * 600 + 9 * 100)
    # Tall rectangle: the default turns the tracks to run along its length.
    tall = boustrophedon(shapely.box(0, 0, 600, 1000), 100.0)
    assert path_length(tall) == pytest.approx(6500.0)
    np.testing.assert_allclose(tracks(tall)[:, 0, 0], np.arange(50, 600, 100))
    # A rotated rectangle gives the rotated serpentine.
    rotated = affinity.rotate(RECT, 30, origin=(0, 0))
    waypoints = boustrophedon(rotated, 100.0)
    assert waypoints.shape == (12, 2)
    assert path_length(waypoints) == pytest.approx(6500.0)
    unrotated = affinity.rotate(shapely.MultiPoint(waypoints), -30, origin=(0, 0))
    np.testing.assert_allclose(
        shapely.get_coordinates(unrotated), boustrophedon(RECT, 100.0), atol=1e-9
    )


def test_last_track_inset_when_height_is_not_whole_spacings():
    waypoints = boustrophedon(shapely.box(0, 0, 1000, 650), 100.0, angle_deg=0.0)
    np.testing.assert_allclose(tracks(waypoints)[:, 0, 1], [50, 150, 250, 350, 450, 550, 600])
    assert coverage_fraction(waypoints, shapely.box(0, 0, 1000, 650), 100.0) == pytest.approx(1.0)


def test_thin_area_gets_one_middle_track():
    waypoints = boustrophedon(shapely.box(0, 0, 1000, 40), 100.0)
    np.testing.assert_array_equal(waypoints, [[0, 20], [1000, 20]])


def test_inset_option():
    waypoints = boustrophedon(RECT, 100.0, angle_deg=0.0, inset_m=25.0)
    np.testing.assert_allclose(tracks(waypoints)[:, 0, 1], [25, 125, 225, 325, 425, 525, 575])


# -- holes, concave areas, several polygons ------------------------------------------


def test_hole_is_never_crossed():
    waypoints = boustrophedon(SQUARE_WITH_HOLE, 100.0, angle_deg=0.0)
    path = shapely.LineString(waypoints)
    hole_interior = shapely.box(400, 400, 600, 600).buffer(-1e-6)
    assert not path.intersects(hole_interior)
    assert_inside(waypoints, SQUARE_WITH_HOLE)
    assert coverage_fraction(waypoints, SQUARE_WITH_HOLE, 100.0) == pytest.approx(1.0, abs=1e-9)
    # Tracks at y = 450 and 550 are split at the hole: each is flown as two
    # segments ending on the hole's sides x = 400 and x = 600.
    for y in (450.0, 550.0):
        xs = sorted(waypoints[waypoints[:, 1] == y, 0].tolist())
        assert xs == [0.0, 400.0, 600.0, 1000.0]


def test_hole_not_aligned_with_tracks():
    area = shapely.Polygon(
        shapely.box(0, 0, 1000, 1000).exterior.coords,
        holes=[shapely.Polygon([(380, 420), (640, 380), (560, 610)]).exterior.coords],
    )
    for angle in (0.0, 25.0, 90.0):
        waypoints = boustrophedon(area, 50.0, angle_deg=angle)
        assert_inside(waypoints, area)
        assert coverage_fraction(waypoints, area, 50.0) > 0.99


def test_concave_area_stays_inside():
    u_shape = shapely.Polygon(
        [(0, 0), (900, 0), (900, 900), (600, 900), (600, 300), (300, 300), (300, 900), (0, 900)]
    )
    for angle in (0.0, 90.0, 45.0):
        waypoints = boustrophedon(u_shape, 100.0, angle_deg=angle)
        assert_inside(waypoints, u_shape)
        assert coverage_fraction(waypoints, u_shape, 100.0) > 0.99
    # Tracks across the arms: the base is one cell, each arm another; the
    # whole sweep is flown without leaving the U.
    waypoints = boustrophedon(u_shape, 100.0, angle_deg=0.0)
    assert coverage_fraction(waypoints, u_shape, 100.0) == pytest.approx(1.0, abs=1e-9)


def test_multipolygon():
    area = shapely.MultiPolygon([shapely.box(0, 0, 1000, 200), shapely.box(0, 400, 1000, 600)])
    waypoints = boustrophedon(area, 100.0, angle_deg=0.0)
    np.testing.assert_array_equal(
        waypoints,
        [[0, 50], [1000, 50], [1000, 150], [0, 150], [0, 450], [1000, 450], [1000, 550], [0, 550]],
    )
    assert coverage_fraction(waypoints, area, 100.0) == pytest.approx(1.0)


def test_input_not_modified():
    area = shapely.Polygon(SQUARE_WITH_HOLE)
    before = shapely.to_wkb(area)
    start = np.array([1000.0, 1000.0])
    boustrophedon(area, 100.0, start_xy=start)
    assert shapely.to_wkb(area) == before
    np.testing.assert_array_equal(start, [1000.0, 1000.0])


# -- errors and speed ---------------------------------------------------------------------


def test_errors():
    with pytest.raises(ValueError, match="spacing_m"):
        boustrophedon(RECT, 0.0)
    with pytest.raises(ValueError, match="spacing_m"):
        boustrophedon(RECT, float("nan"))
    with pytest.raises(ValueError, match="inset_m"):
        boustrophedon(RECT, 10.0, inset_m=-1.0)
    with pytest.raises(TypeError, match="Polygon"):
        boustrophedon(shapely.LineString([(0, 0), (1, 1)]), 10.0)
    with pytest.raises(ValueError, match="empty"):
        boustrophedon(shapely.Polygon(), 10.0)
    bowtie = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    with pytest.raises(ValueError, match="not a valid polygon"):
        boustrophedon(bowtie, 1.0)
    with pytest.raises(ValueError, match="start_xy"):
        boustrophedon(RECT, 10.0, start_xy=(1.0, 2.0, 3.0))


def test_large_square():
    square = shapely.box(0, 0, 20_000, 20_000)
    waypoints = boustrophedon(square, 100.0)
    assert waypoints.shape == (400, 2)
    assert path_length(waypoints) == 200 * 20_000 + 199 * 100

"""Coverage raster at exact boundaries: a cell whose centre the footprint's edge just
reaches is covered (the footprint is a closed disc, as in fleetsim.geometry), in
every direction, including behind a leg's start, beyond its end and beside a
diagonal leg; one a hair further out is not.

Grid: the 200 m square at 25 m cells, centres at 12.5 + 25 i. Legs run from t = 10 s
to t = 20 s (10 m/s)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from fleetsim.metrics.raster import cell_grid, sweep_cells

GRID = cell_grid(shapely.box(0, 0, 200, 200), 25.0)


def cell(x: float, y: float) -> int:
    return int(GRID.cell_of[int(y // 25.0), int(x // 25.0)])


def covered(xy0, xy1, r):
    return sweep_cells(GRID, [10.0], [20.0], [xy0], [xy1], r, 100.0)


@pytest.mark.parametrize("xy0, xy1", [((100.0, 112.5), (200.0, 112.5)),   # heading east
                                       ((100.0, 112.5), (0.0, 112.5)),     # west
                                       ((112.5, 100.0), (112.5, 0.0)),     # south
                                       ((112.5, 100.0), (112.5, 200.0))])  # north
def test_the_cell_exactly_r_behind_a_legs_start_is_touched_at_the_start(xy0, xy1):
    # r = 37.5: the centre 37.5 m behind the start is on the circle at t0 only; the
    # next one back (62.5 m) is never reached.
    ux, uy = (xy1[0] - xy0[0]) / 100.0, (xy1[1] - xy0[1]) / 100.0
    behind = cell(xy0[0] - 37.5 * ux, xy0[1] - 37.5 * uy)
    further = cell(xy0[0] - 62.5 * ux, xy0[1] - 62.5 * uy)
    cov = covered(xy0, xy1, 37.5)
    assert cov.first_s[behind] == 10.0 and cov.covered_s[behind] == 0.0
    assert cov.visits[behind] == 1
    assert np.isnan(cov.first_s[further]) and cov.visits[further] == 0


def test_the_cell_exactly_r_beyond_a_legs_end_is_touched_at_the_end():
    cov = covered((0.0, 112.5), (100.0, 112.5), 37.5)  # ends 37.5 m short of x = 137.5
    beyond = cell(137.5, 112.5)
    assert cov.first_s[beyond] == 20.0 and cov.covered_s[beyond] == 0.0
    assert np.isnan(cov.first_s[cell(162.5, 112.5)])


def test_cells_beside_a_diagonal_leg_at_exactly_r_are_touched():
    # Along the diagonal y = x from (12.5, 12.5) to (187.5, 187.5): the centre
    # (62.5, 112.5) is 50 / sqrt(2) m from the line, closest at (87.5, 87.5).
    d = 50.0 / math.sqrt(2.0)
    cov = covered((12.5, 12.5), (187.5, 187.5), d)
    side = cell(62.5, 112.5)
    assert cov.first_s[side] == pytest.approx(10.0 + 10.0 * 75.0 / 175.0, abs=1e-6)
    assert cov.covered_s[side] == pytest.approx(0.0, abs=1e-6)
    out = covered((12.5, 12.5), (187.5, 187.5), d * (1 - 1e-7))
    assert np.isnan(out.first_s[side])

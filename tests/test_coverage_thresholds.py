"""``coverage.time_to_<p>``: the first time at least p % of the cells had been
covered, i.e. the time of the ceil(p n / 100)-th first visit -- not the floor."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from fleetsim.metrics.coverage import time_to_fraction
from fleetsim.metrics.permitted import no_permission_limits
from fleetsim.metrics.raster import CellCoverage, cell_grid


def coverage(first_s: list[float]) -> CellCoverage:
    n = len(first_s)
    grid = cell_grid(shapely.box(0, 0, 25.0 * n, 25.0), 25.0)
    assert grid.n_cells == n
    z = np.zeros(n)
    perm = no_permission_limits(n, 100.0)
    none = np.zeros((perm.n_signatures, 0))
    return CellCoverage(grid, 100.0, np.asarray(first_s, dtype=np.float64), z, z, z,
                        np.zeros(n, dtype=np.int64), perm, z, z, np.zeros(0),
                        none.astype(np.int64), none)


@pytest.mark.parametrize("percent, expected", [
    (0, 0.0),
    (1, 10.0),    # ceil(0.03) = 1 cell
    (33, 10.0),   # ceil(0.99) = 1
    (34, 20.0),   # ceil(1.02) = 2: one cell is only 33 %
    (50, 20.0),   # ceil(1.5) = 2
    (66, 20.0),   # ceil(1.98) = 2
    (67, 30.0),   # ceil(2.01) = 3
    (100, 30.0),
])
def test_time_to_a_share_of_three_cells(percent, expected):
    # First visits out of order and one cell never: the order of the times counts.
    assert time_to_fraction(coverage([30.0, 10.0, 20.0]), percent) == expected


def test_time_to_a_share_never_reached_is_none():
    cells = coverage([10.0, float("nan"), 20.0, float("nan")])
    assert time_to_fraction(cells, 50) == 20.0
    assert time_to_fraction(cells, 51) is None

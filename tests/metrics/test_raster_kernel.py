"""The compiled sweep of the metrics raster (fleetsim.metrics.legcells) against a
direct computation over every leg and every cell: the same visits, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from fleetsim.geometry import disc_intervals, fractions_within, merge_intervals, time_at_fraction
from fleetsim.metrics.legcells import band_visits, leg_spans, new_work
from fleetsim.metrics.raster import cell_grid, sweep_cells

DURATION = 400.0


def random_legs(seed: int, n: int = 150):
    """Legs of every kind: moving, still, horizontal, vertical, of zero or negative
    duration, partly before 0 or after the end, off the grid, with NaN positions."""
    rng = np.random.default_rng(seed)
    xy0 = rng.uniform(-60, 360, (n, 2))
    xy1 = xy0 + rng.normal(0, 70, (n, 2))
    xy1[:12] = xy0[:12]  # still
    xy1[12:20, 1] = xy0[12:20, 1]  # horizontal
    xy1[20:28, 0] = xy0[20:28, 0]  # vertical
    xy0[28:34] += 2000.0  # far off the grid
    xy1[28:34] += 2000.0
    xy1[34:38, 1] = xy0[34:38, 1] + np.array([1e-300, -1e-12, 5e-324, 1e-9])
    xy0[38, 0] = np.nan
    xy1[39, 1] = np.nan
    t0 = rng.uniform(-30, DURATION + 10, n)
    t1 = t0 + rng.uniform(0, 80, n)
    t1[40:44] = t0[40:44]  # zero duration
    radius = rng.uniform(3, 35, n)
    radius[44] = 0.0
    radius[45] = np.nan
    return t0, t1, xy0, xy1, radius


def direct_visits(grid, t0, t1, xy0, xy1, radius, duration):
    """Every leg against every cell centre: the quadratic |p0 + s w - c|^2 - r^2 with
    the leg-row terms apart (``fractions_within``), the times (``time_at_fraction``)
    clipped to [0, duration], merged per cell (``merge_intervals``)."""
    ok = ((t1 >= 0.0) & (t0 <= duration) & (radius > 0.0) & np.isfinite(radius)
          & np.isfinite(xy0).all(axis=1) & np.isfinite(xy1).all(axis=1))
    leg = np.repeat(np.flatnonzero(ok), grid.n_cells)
    cell = np.tile(np.arange(grid.n_cells), int(ok.sum()))
    cx, cy = grid.centers[cell, 0], grid.centers[cell, 1]
    x0, y0 = xy0[leg, 0], xy0[leg, 1]
    wx, wy = xy1[leg, 0] - x0, xy1[leg, 1] - y0
    r = radius[leg]
    dxc, ey = x0 - cx, y0 - cy
    s_lo, s_hi = fractions_within(wx * wx + wy * wy, wx * dxc + ey * wy,
                                  dxc * dxc + (ey * ey - r * r))
    a = np.maximum(time_at_fraction(t0[leg], t1[leg], s_lo), 0.0)
    b = np.minimum(time_at_fraction(t0[leg], t1[leg], s_hi), duration)
    keep = a <= b
    return merge_intervals(cell[keep], a[keep], b[keep])


def kernel_visits(grid, t0, t1, xy0, xy1, radius, duration):
    """``band_visits`` over all rows at once, with every leg that counts."""
    ok = ((t1 >= 0.0) & (t0 <= duration) & (radius > 0.0) & np.isfinite(radius)
          & np.isfinite(xy0).all(axis=1) & np.isfinite(xy1).all(axis=1))
    x0, y0 = xy0[ok, 0].copy(), xy0[ok, 1].copy()
    x1, y1 = xy1[ok, 0].copy(), xy1[ok, 1].copy()
    r = radius[ok].copy()
    ja, jb, live, _ = leg_spans(x0, y0, x1, y1, r, np.arange(len(x0)), grid.x0_m,
                                grid.y0_m, grid.cell_m, grid.nx, grid.ny)
    full = grid.n_cells == grid.nx * grid.ny
    cell_of = np.zeros(0, np.int32) if full else grid.cell_of.ravel()
    centre_x = grid.x0_m + (np.arange(grid.nx) + 0.5) * grid.cell_m
    ranges = np.array([[0, len(x0)]], dtype=np.int64)
    ja = np.where(live, ja, grid.ny)  # (the legs reaching no cell start after the grid)
    args = (ranges, 0, grid.ny - 1, ja, jb, x0, y0, x1, y1, r, t0[ok].copy(), t1[ok].copy(),
            grid.x0_m, grid.y0_m, grid.cell_m, grid.nx, centre_x, cell_of, duration)
    g, s, e, row_end, work = band_visits(*args, new_work())
    # Again in the room the first call left (with what it wrote there): the same.
    again = band_visits(*args, work)
    for a, b in zip((g, s, e, row_end), again[:4], strict=True):
        np.testing.assert_array_equal(a, b)
    return g, s, e, row_end


AREAS = {
    "box": shapely.box(0, 0, 300, 200),
    "concave with a hole": shapely.Polygon(
        [(0, 0), (300, 0), (300, 200), (150, 80), (0, 200)],
        holes=[[(40, 30), (90, 30), (90, 70), (40, 70)]]),
    "triangle": shapely.Polygon([(-20, 10), (310, -5), (120, 260)]),
}


@pytest.mark.parametrize("area", AREAS.values(), ids=AREAS.keys())
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_band_visits_equal_a_direct_computation_bit_for_bit(area, seed):
    grid = cell_grid(area, 12.5)
    legs = random_legs(seed)
    want = direct_visits(grid, *legs, DURATION)
    got_g, got_s, got_e, row_end = kernel_visits(grid, *legs, DURATION)
    assert len(want[0]) > 200
    np.testing.assert_array_equal(got_g, want[0])
    np.testing.assert_array_equal(got_s, want[1])
    np.testing.assert_array_equal(got_e, want[2])
    # The visits up to each row's end: those of the cells of the rows so far.
    rows = np.flatnonzero((grid.cell_of >= 0).any(axis=1))
    cells_before = np.cumsum((grid.cell_of >= 0).sum(axis=1))
    assert row_end[-1] == len(got_g)
    np.testing.assert_array_equal(row_end[rows],
                                  np.searchsorted(got_g, cells_before[rows], side="left"))


def test_band_visits_of_still_legs_cover_for_their_whole_time():
    # A still leg covers the cells whose centres are within r (closed disc) for
    # exactly [t0, t1]; a cell centre exactly at distance r is covered.
    grid = cell_grid(shapely.box(0, 0, 100, 100), 10.0)
    xy0 = np.array([[45.0, 45.0], [5.0, 95.0]])
    t0, t1 = np.array([10.0, -5.0]), np.array([30.0, 500.0])
    g, s, e, _ = kernel_visits(grid, t0, t1, xy0, xy0.copy(), np.array([10.0, 4.0]), DURATION)
    # Leg 0 at (45, 45), r = 10: centres (35..55, 35..55) at distance <= 10.
    want = sorted(grid.cell_of[j, i] for j in range(10) for i in range(10)
                  if (5 + 10 * i - 45) ** 2 + (5 + 10 * j - 45) ** 2 <= 100)
    want_g = sorted([*want, grid.cell_of[9, 0]])
    assert g.tolist() == want_g
    by = dict(zip(g.tolist(), zip(s.tolist(), e.tolist(), strict=True), strict=True))
    assert by[grid.cell_of[9, 0]] == (0.0, DURATION)  # clipped to [0, duration]
    assert all(by[c] == (10.0, 30.0) for c in want)


def test_band_visits_agree_with_disc_intervals():
    # The exact times against the reference disc intersection (its own grouping of
    # the quadratic's terms may round the last bit differently).
    grid = cell_grid(AREAS["concave with a hole"], 12.5)
    t0, t1, xy0, xy1, radius = random_legs(4)
    ok = ((t1 >= 0.0) & (t0 <= DURATION) & (radius > 0.0) & np.isfinite(radius)
          & np.isfinite(xy0).all(axis=1) & np.isfinite(xy1).all(axis=1))
    leg = np.repeat(np.flatnonzero(ok), grid.n_cells)
    cell = np.tile(np.arange(grid.n_cells), int(ok.sum()))
    a, b = disc_intervals(t0[leg], t1[leg], xy0[leg], xy1[leg], grid.centers[cell], radius[leg])
    a, b = np.maximum(a, 0.0), np.minimum(b, DURATION)
    keep = a <= b
    want_g, want_s, want_e = merge_intervals(cell[keep], a[keep], b[keep])
    g, s, e, _ = kernel_visits(grid, t0, t1, xy0, xy1, radius, DURATION)
    np.testing.assert_array_equal(g, want_g)
    np.testing.assert_allclose(s, want_s, rtol=0, atol=1e-9)
    np.testing.assert_allclose(e, want_e, rtol=0, atol=1e-9)


@pytest.mark.parametrize("max_pairs", [40, 700, 10**6])
def test_sweep_cells_visits_are_the_direct_ones(max_pairs):
    # Whatever the bands, the per-cell numbers are those of the direct visits.
    grid = cell_grid(AREAS["triangle"], 12.5)
    legs = random_legs(7)
    g, s, e = direct_visits(grid, *legs, DURATION)
    got = sweep_cells(grid, *legs, DURATION, max_pairs=max_pairs)
    heads = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    visits = np.zeros(grid.n_cells, np.int64)
    visits[g[heads]] = np.diff(np.r_[heads, len(g)])
    first = np.full(grid.n_cells, np.nan)
    first[g[heads]] = s[heads]
    covered = np.zeros(grid.n_cells)
    covered[g[heads]] = np.add.reduceat(e - s, heads)
    np.testing.assert_array_equal(got.visits, visits)
    np.testing.assert_array_equal(got.first_s, first)
    np.testing.assert_array_equal(got.covered_s, covered)


def test_sweep_cells_with_no_leg_reaching_the_grid_leaves_every_cell_unvisited():
    grid = cell_grid(AREAS["triangle"], 12.5)
    xy0 = np.array([[5000.0, 5000.0], [-900.0, 40.0]])
    got = sweep_cells(grid, np.array([0.0, 10.0]), np.array([50.0, 90.0]), xy0, xy0 + 30.0,
                      10.0, DURATION, sample_s=np.array([0.0, 200.0, 400.0]))
    assert not got.visits.any()
    assert np.isnan(got.first_s).all()
    np.testing.assert_array_equal(got.idleness_max_s, np.full(grid.n_cells, DURATION))
    np.testing.assert_array_equal(got.idle_cells, [[0, grid.n_cells, grid.n_cells]])

"""Coverage metrics on hand-made runs: lawnmower sweeps, a single pass, the raster."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from fleetsim.geometry import disc_intervals
from fleetsim.metrics import coverage_curve
from fleetsim.metrics.coverage import coverage_metrics
from fleetsim.metrics.handmade import path_legs, recorded_run
from fleetsim.metrics.raster import cell_coverage, cell_grid, sweep_cells

ALT = 80.0


def lawnmower(width_m: float, height_m: float, spacing_m: float, radius_m: float,
              speed_mps: float = 10.0) -> list[dict]:
    """Tracks east-west at y = S/2, 3S/2, ... running r past both edges; the
    turns (outside the area) have the sensor off."""
    rows, t, x_at = [], 0.0, -radius_m
    ys = np.arange(spacing_m / 2, height_m, spacing_m)
    for k, y in enumerate(ys):
        x_end = width_m + radius_m if k % 2 == 0 else -radius_m
        dt = abs(x_end - x_at) / speed_mps
        rows += path_legs(0, [t, t + dt], [(x_at, y, ALT), (x_end, y, ALT)])
        t += dt
        if k + 1 < len(ys):
            rows += path_legs(0, [t, t + spacing_m / speed_mps],
                              [(x_end, y, ALT), (x_end, ys[k + 1], ALT)], sensing=False)
            t += spacing_m / speed_mps
        x_at = x_end
    return rows


@pytest.mark.parametrize("radius_m", [50.0, 60.0, 75.0])
def test_lawnmower_with_sweep_width_at_least_the_spacing_covers_everything(radius_m):
    legs = lawnmower(1000.0, 400.0, 100.0, radius_m)
    run = recorded_run(duration_s=legs[-1]["t1_s"], legs=legs, footprint_radius_m=[radius_m],
                       mission_area=shapely.box(0, 0, 1000, 400), metrics_cell_m=5.0)
    m = coverage_metrics(run)
    assert m["coverage.cells"] == 200 * 80
    assert m["coverage.fraction"] == 1.0


@pytest.mark.parametrize("radius_m", [10.0, 20.0, 23.0, 31.0, 44.0])
def test_lawnmower_with_narrow_sweep_covers_w_over_s(radius_m):
    # POD = W / S for a definite-range sensor (W = 2r). On the raster, each track
    # covers the rows of cells whose centres are within r of it: between
    # W/c - 1 and W/c + 1 rows of side c, so the fraction is within c / S of W / S.
    spacing, cell = 100.0, 5.0
    legs = lawnmower(1000.0, 400.0, spacing, radius_m)
    run = recorded_run(duration_s=legs[-1]["t1_s"], legs=legs, footprint_radius_m=[radius_m],
                       mission_area=shapely.box(0, 0, 1000, 400), metrics_cell_m=cell)
    fraction = coverage_metrics(run)["coverage.fraction"]
    assert fraction == pytest.approx(2 * radius_m / spacing, abs=cell / spacing)


def test_time_to_fraction_of_a_single_straight_sweep():
    # A vehicle at v sweeps a strip 1000 m x 20 m along its middle with r = 100 m,
    # starting with its disc just touching the west edge: the column at x is
    # first seen at about t = x / v, so p % of the area is covered at
    # t = p % x 1000 m / v, up to one cell / speed (cells are 5 m; a cell centre
    # 7.5 m off the track is seen r - sqrt(r^2 - 7.5^2) = 0.28 m later).
    v, r, cell = 10.0, 100.0, 5.0
    legs = path_legs(0, [0.0, 1200.0 / v], [(-r, 10.0, ALT), (1000.0 + r, 10.0, ALT)])
    run = recorded_run(duration_s=200.0, legs=legs, footprint_radius_m=[r],
                       mission_area=shapely.box(0, 0, 1000, 20), metrics_cell_m=cell)
    m = coverage_metrics(run)
    assert m["coverage.fraction"] == 1.0
    for pct in (50, 90, 99):
        assert m[f"coverage.time_to_{pct}pct_s"] == pytest.approx(pct / 100 * 1000.0 / v,
                                                                  abs=cell / v)
    t, frac = coverage_curve(run, n_points=201)
    assert t[0] == 0.0 and t[-1] == 200.0 and len(frac) == 201
    assert np.all(np.diff(frac) >= 0) and frac[-1] == 1.0
    assert frac[50] == pytest.approx(0.5, abs=cell / 1000.0)  # t = 50 s


def test_time_to_fraction_is_none_when_never_reached_and_idle_run():
    # Seen up to x = 460 + sqrt(30^2 - 5^2) = 489.6 m: the 49 columns with centres <= 485.
    legs = path_legs(0, [0.0, 50.0], [(-10.0, 10.0, ALT), (460.0, 10.0, ALT)])
    run = recorded_run(duration_s=100.0, legs=legs, footprint_radius_m=[30.0],
                       mission_area=shapely.box(0, 0, 1000, 20), metrics_cell_m=10.0)
    m = coverage_metrics(run)
    assert m["coverage.fraction"] == pytest.approx(0.49)
    assert m["coverage.time_to_50pct_s"] is None and m["coverage.time_to_99pct_s"] is None
    empty = recorded_run(duration_s=100.0, mission_area=shapely.box(0, 0, 10, 10),
                         metrics_cell_m=5.0)
    assert coverage_metrics(empty) == {
        "coverage.cells": 4, "coverage.cells_permitted": 4, "coverage.fraction": 0.0,
        "coverage.fraction_of_area": 0.0, "coverage.time_to_50pct_s": None,
        "coverage.time_to_90pct_s": None, "coverage.time_to_99pct_s": None,
        "coverage.time_to_50pct_of_area_s": None, "coverage.time_to_90pct_of_area_s": None,
        "coverage.time_to_99pct_of_area_s": None}
    nothing = recorded_run(duration_s=100.0)
    assert coverage_metrics(nothing)["coverage.fraction"] is None


def test_only_sensing_legs_and_the_run_period_count():
    legs = (path_legs(0, [0.0, 10.0], [(5.0, 5.0, ALT), (95.0, 5.0, ALT)], sensing=False)
            + path_legs(0, [10.0, 20.0], [(5.0, 15.0, ALT), (95.0, 15.0, ALT)])
            + path_legs(0, [20.5, 30.0], [(5.0, 25.0, ALT), (95.0, 25.0, ALT)]))
    run = recorded_run(duration_s=20.0, legs=legs, footprint_radius_m=[4.0],
                       mission_area=shapely.box(0, 0, 100, 30), metrics_cell_m=10.0)
    # Only the row at y = 15 (10 of 30 cells); the leg at y = 25 is after the end.
    assert coverage_metrics(run)["coverage.fraction"] == pytest.approx(1 / 3)


def test_cells_belong_to_the_area_by_their_centre():
    area = shapely.Polygon([(0, 0), (100, 0), (0, 100)])  # triangle
    grid = cell_grid(area, 10.0)
    assert (grid.nx, grid.ny) == (10, 10)
    # Centres (5 + 10 i, 5 + 10 j) with x + y <= 100: i + j <= 9.
    assert grid.n_cells == 55
    holed = shapely.Polygon([(0, 0), (100, 0), (100, 100), (0, 100)],
                            holes=[[(20, 20), (60, 20), (60, 60), (20, 60)]])
    assert cell_grid(holed, 10.0).n_cells == 100 - 16


def brute_force(grid, t0, t1, xy0, xy1, radius, duration):
    """Every leg against every cell, and plain Python per cell."""
    n, m = len(t0), grid.n_cells
    li = np.repeat(np.arange(n), m)
    ci = np.tile(np.arange(m), n)
    a, b = disc_intervals(t0[li], t1[li], xy0[li], xy1[li], grid.centers[ci], radius[li])
    first = np.full(m, np.nan)
    integral = np.zeros(m)
    worst = np.zeros(m)
    for cell in range(m):
        sel = (ci == cell) & ~np.isnan(a)
        ivs = sorted((max(x, 0.0), min(y, duration)) for x, y in zip(a[sel], b[sel], strict=True)
                     if x <= duration and y >= 0)
        last, gaps = 0.0, []
        for x, y in ivs:
            if np.isnan(first[cell]):
                first[cell] = x
            gaps.append(max(0.0, x - last))
            last = max(last, y)
        gaps.append(duration - last)
        integral[cell] = sum(g * g for g in gaps) / 2
        worst[cell] = max(gaps)
    return first, integral, worst


@pytest.mark.parametrize("max_pairs", [50, 500, 10**6])
def test_sweep_cells_matches_all_pairs(max_pairs):
    # Random legs of every shape (horizontal, nearly horizontal, vertical,
    # diagonal, still, zero duration, partly off the grid, beyond the run) over a concave area with a
    # hole; small bands force the band logic through many rows.
    rng = np.random.default_rng(5)
    area = shapely.Polygon([(0, 0), (300, 0), (300, 200), (150, 80), (0, 200)],
                           holes=[[(40, 30), (90, 30), (90, 70), (40, 70)]])
    grid = cell_grid(area, 12.5)
    n = 120
    xy0 = rng.uniform(-50, 350, (n, 2))
    xy1 = xy0 + rng.normal(0, 80, (n, 2))
    xy1[:10, 1] = xy0[:10, 1]
    xy1[10:20, 0] = xy0[10:20, 0]
    xy1[20:30] = xy0[20:30]
    t0 = rng.uniform(-20, 400, n)
    t1 = t0 + rng.uniform(0, 60, n)
    t1[30:35] = t0[30:35]
    xy1[35:40, 1] = xy0[35:40, 1] + np.array([1e-300, -1e-300, 1e-12, 5e-324, -1e-9])
    radius = rng.uniform(3, 40, n)
    got = sweep_cells(grid, t0, t1, xy0, xy1, radius, 400.0, max_pairs=max_pairs)
    first, integral, worst = brute_force(grid, t0, t1, xy0, xy1, radius, 400.0)
    np.testing.assert_array_equal(np.isnan(got.first_s), np.isnan(first))
    np.testing.assert_allclose(got.first_s, first, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got.idleness_integral_s2, integral, rtol=1e-12, atol=1e-7)
    np.testing.assert_allclose(got.idleness_max_s, worst, rtol=0, atol=1e-9)


@pytest.mark.parametrize("max_pairs", [30, 300, 10**6])
def test_sweep_cells_with_legs_of_very_different_heights_matches_all_pairs(max_pairs):
    # Short legs and a few that cross most of a tall grid (over 8, 32 and 128 rows):
    # each band still finds every leg that reaches its rows.
    rng = np.random.default_rng(11)
    grid = cell_grid(shapely.box(0, 0, 100, 1400), 10.0)
    n = 40
    xy0 = np.column_stack([rng.uniform(0, 100, n), rng.uniform(0, 1400, n)])
    xy1 = xy0 + rng.normal(0, 15, (n, 2))
    xy1[:4, 1] = 1400 - xy0[:4, 1]  # tall legs, up or down
    xy1[4:6, 1] = xy0[4:6, 1] + rng.choice([-1, 1], 2) * rng.uniform(100, 300, 2)
    xy1[6] = xy0[6]  # still
    t0 = rng.uniform(0, 300, n)
    t1 = t0 + rng.uniform(1, 60, n)
    radius = rng.uniform(4, 30, n)
    got = sweep_cells(grid, t0, t1, xy0, xy1, radius, 400.0, max_pairs=max_pairs)
    first, integral, worst = brute_force(grid, t0, t1, xy0, xy1, radius, 400.0)
    assert (np.abs(xy1[:4, 1] - xy0[:4, 1]) > 1290).sum() >= 1  # one spans over 128 rows
    np.testing.assert_array_equal(np.isnan(got.first_s), np.isnan(first))
    np.testing.assert_allclose(got.first_s, first, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got.idleness_integral_s2, integral, rtol=1e-12, atol=1e-7)
    np.testing.assert_allclose(got.idleness_max_s, worst, rtol=0, atol=1e-9)


def test_cell_coverage_uses_each_vehicles_footprint():
    legs = (path_legs(0, [0.0, 10.0], [(0.0, 5.0, ALT), (100.0, 5.0, ALT)])
            + path_legs(1, [0.0, 10.0], [(0.0, 5.0, ALT), (100.0, 5.0, ALT)]))
    run = recorded_run(duration_s=10.0, legs=legs, footprint_radius_m=[1.0, 16.0],
                       mission_area=shapely.box(0, 0, 100, 40), metrics_cell_m=10.0)
    cells = cell_coverage(run)
    assert np.count_nonzero(~np.isnan(cells.first_s)) == 20  # rows y = 5 and 15

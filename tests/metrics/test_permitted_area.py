"""Coverage and idleness over the permitted area: no-fly zones with time windows.

The hand-made runs have two cells of 10 m (centres (5, 5) and (15, 5)) and a
vehicle hovering on a cell centre with a 4 m footprint, so a cell is covered
exactly while the vehicle hovers on it; every expected figure is worked out
in the comments.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import shapely

from fleetsim.geometry import disc_intervals
from fleetsim.metrics import compute_metrics
from fleetsim.metrics.coverage import coverage_metrics
from fleetsim.metrics.handmade import path_legs, recorded_run, zone
from fleetsim.metrics.patrol import patrol_metrics
from fleetsim.metrics.permitted import cell_permission
from fleetsim.metrics.raster import cell_coverage, sample_times
from fleetsim.metrics.timeseries import timeseries
from fleetsim.scenario.model import OversightSpec, RuleSpec

ALT = 60.0
C0, C1 = (5.0, 5.0, ALT), (15.0, 5.0, ALT)
AREA = shapely.box(0, 0, 20, 10)
EAST = shapely.box(10, 0, 20, 10)  # holds the centre of cell 1 only


def hover(t0: float, t1: float, p, sensing: bool = True):
    return path_legs(0, [t0, t1], [p, p], kind="hold", sensing=sensing)


def test_zone_active_for_part_of_the_run():
    # Cell 0 is seen during [10, 20] of T = 100; cell 1 never, and a no-fly zone
    # over it is active during [30, 70).
    legs = hover(0, 10, C0, False) + hover(10, 20, C0) + hover(20, 100, C0, False)
    run = recorded_run(duration_s=100.0, legs=legs, footprint_radius_m=[4.0],
                       mission_area=AREA, metrics_cell_m=10.0,
                       zones=[zone(0, EAST, start_s=30.0, end_s=70.0)])
    m = {**coverage_metrics(run), **patrol_metrics(run)}
    # Cell 0: gaps 10 and 80 -> integral 3250, max 80 (never forbidden).
    # Cell 1: permitted 60 of the 100 s and never seen: one gap of 60 on its
    # permitted clock -> integral 60^2 / 2 = 1800, max 60 (not 100).
    assert m["patrol.idleness_mean_s"] == (3250.0 + 1800.0) / (100.0 + 60.0)
    assert m["patrol.idleness_max_s"] == 80.0
    assert m["patrol.idleness_max_mean_s"] == (80.0 + 60.0) / 2
    assert m["patrol.idleness_mean_of_area_s"] == (3250.0 + 5000.0) / 200.0
    assert m["patrol.idleness_max_of_area_s"] == 100.0
    assert m["patrol.idleness_max_mean_of_area_s"] == (80.0 + 100.0) / 2
    # At T the zone is over: both cells count, one is covered.
    assert m["coverage.cells"] == 2 and m["coverage.cells_permitted"] == 2
    assert m["coverage.fraction"] == 0.5 and m["coverage.fraction_of_area"] == 0.5
    # 50 %: cell 0 at t = 10. 90 % and 99 %: at t = 30 cell 1 leaves the count
    # and the one permitted cell is covered (the area-wide figure never gets there).
    assert m["coverage.time_to_50pct_s"] == 10.0
    assert m["coverage.time_to_90pct_s"] == 30.0 and m["coverage.time_to_99pct_s"] == 30.0
    assert m["coverage.time_to_50pct_of_area_s"] == 10.0
    assert m["coverage.time_to_90pct_of_area_s"] is None


def test_time_series_of_coverage_and_idleness_over_the_permitted_area():
    legs = hover(0, 10, C0, False) + hover(10, 20, C0) + hover(20, 100, C0, False)
    run = recorded_run(duration_s=100.0, legs=legs, footprint_radius_m=[4.0],
                       mission_area=AREA, metrics_cell_m=10.0,
                       zones=[zone(0, EAST, start_s=30.0, end_s=70.0)], timeseries_step_s=10.0)
    ts = timeseries(run)
    assert ts["time_s"].tolist() == [10.0 * k for k in range(11)]
    # Covered fraction: cell 0 from t = 10; cell 1 out of the count in [30, 70).
    assert ts["coverage_fraction"].tolist() == [0.0, 0.5, 0.5] + [1.0] * 4 + [0.5] * 4
    # Idleness: cell 0 is 0 on [10, 20], then t - 20. Cell 1 is t up to 30,
    # paused (and not counted) in [30, 70), then 30 + (t - 70).
    cell0 = [0, 0, 0, 10, 20, 30, 40, 50, 60, 70, 80]
    cell1 = [0, 10, 20, None, None, None, None, 30, 40, 50, 60]
    want = [(a + b) / 2 if b is not None else float(a) for a, b in zip(cell0, cell1,
                                                                       strict=True)]
    assert ts["idleness_mean_s"].tolist() == want
    # Its time mean over the permitted (cell, time) pairs is the metric's.
    assert compute_metrics(run)["coverage.fraction"] == ts["coverage_fraction"][-1]


def test_a_cell_visited_only_outside_the_window():
    # A no-fly zone over cell 1 is active during [0, 50). The vehicle watches
    # cell 0 on [0, 40], flies over (sensor off) and watches cell 1 on [60, 80],
    # then cell 0 again on [85, 100]; T = 100.
    legs = (hover(0, 40, C0) + path_legs(0, [40, 60], [C0, C1], sensing=False)
            + hover(60, 80, C1) + path_legs(0, [80, 85], [C1, C0], sensing=False)
            + hover(85, 100, C0))
    run = recorded_run(duration_s=100.0, legs=legs, footprint_radius_m=[4.0],
                       mission_area=AREA, metrics_cell_m=10.0,
                       zones=[zone(0, EAST, start_s=0.0, end_s=50.0)])
    m = compute_metrics(run)
    # Cell 0: one gap of 45 (40 -> 85): integral 1012.5, max 45.
    # Cell 1: permitted clock max(0, t - 50); gaps 60 - 50 = 10 and
    # (100 - 50) - (80 - 50) = 20: integral (100 + 400) / 2 = 250, max 20.
    # Area-wide, cell 1's gaps are 60 and 20: integral 2000, max 60.
    assert m["patrol.idleness_mean_s"] == pytest.approx((1012.5 + 250.0) / (100.0 + 50.0),
                                                        rel=1e-9)
    assert m["patrol.idleness_max_s"] == 45.0
    assert m["patrol.idleness_max_mean_s"] == (45.0 + 20.0) / 2
    assert m["patrol.idleness_mean_of_area_s"] == (1012.5 + 2000.0) / 200.0
    assert m["patrol.idleness_max_of_area_s"] == 60.0
    assert m["coverage.fraction"] == 1.0 and m["coverage.fraction_of_area"] == 1.0
    # While cell 1 is forbidden the one permitted cell is covered from t = 0.
    assert m["coverage.time_to_99pct_s"] == 0.0
    assert m["coverage.time_to_99pct_of_area_s"] == 60.0


def test_coverage_fraction_is_exact_over_the_permitted_cells():
    # 10 x 10 cells of 10 m; a no-fly zone (always active) holds the 3 x 4 cells
    # with centres x in 35..55, y in 5..35. One pass along y = 5 with a 4 m
    # footprint sees the 10 cells of the bottom row, 3 of them in the zone.
    area = shapely.box(0, 0, 100, 100)
    legs = path_legs(0, [0.0, 100.0], [(0.0, 5.0, ALT), (100.0, 5.0, ALT)])
    run = recorded_run(duration_s=100.0, legs=legs, footprint_radius_m=[4.0],
                       mission_area=area, metrics_cell_m=10.0,
                       zones=[zone(0, shapely.box(30, 0, 60, 40))])
    m = coverage_metrics(run)
    assert m["coverage.cells"] == 100 and m["coverage.cells_permitted"] == 88
    assert m["coverage.fraction"] == 7 / 88
    assert m["coverage.fraction_of_area"] == 10 / 100
    # A restricted zone, or a no-fly zone active only after the run, forbids nothing.
    for other in (zone(0, shapely.box(30, 0, 60, 40), "restricted"),
                  zone(0, shapely.box(30, 0, 60, 40), start_s=200.0)):
        run = recorded_run(duration_s=100.0, legs=legs, footprint_radius_m=[4.0],
                           mission_area=area, metrics_cell_m=10.0, zones=[other])
        m = compute_metrics(run)
        assert m["coverage.fraction"] == m["coverage.fraction_of_area"] == 0.1
        assert m["patrol.idleness_mean_s"] == m["patrol.idleness_mean_of_area_s"]
    # ... unless entering restricted zones is forbidden by the oversight rules.
    run = recorded_run(duration_s=100.0, legs=legs, footprint_radius_m=[4.0],
                       mission_area=area, metrics_cell_m=10.0,
                       zones=[zone(0, shapely.box(30, 0, 60, 40), "restricted")])
    rules = {"enter_restricted": RuleSpec(rule="forbidden")}
    run = dataclasses.replace(run, scenario=dataclasses.replace(
        run.scenario, oversight=OversightSpec(rules=rules)))
    assert coverage_metrics(run)["coverage.fraction"] == 7 / 88


def reference(run, samples):
    """Plain Python per cell: permitted idleness integral, max and sample means."""
    cells = cell_coverage(run)
    grid = cells.grid
    perm = cell_permission(grid.centers, run.world.zones, run.duration_s)
    T = run.duration_s
    legs = run.legs
    n, m = len(legs["leg"]), grid.n_cells
    li, ci = np.repeat(np.arange(n), m), np.tile(np.arange(m), n)
    xy0 = np.column_stack([legs["x0_m"], legs["y0_m"]])
    xy1 = np.column_stack([legs["x1_m"], legs["y1_m"]])
    a, b = disc_intervals(legs["t0_s"][li], legs["t1_s"][li], xy0[li], xy1[li],
                          grid.centers[ci], np.full(n * m, 30.0))
    zones = [z for z in run.world.zones if z.kind == "no_fly"]

    def forbidden(c, t):
        x, y = grid.centers[c]
        return any(z.start_s <= t < z.end_s
                   and shapely.intersects_xy(z.polygon, x, y) for z in zones)

    def clock(c, t):  # permitted time in [0, t], by a fine midpoint sum
        edges = sorted({0.0, t} | {min(max(v, 0.0), t) for z in zones
                                   for v in (z.start_s, z.end_s) if np.isfinite(v)})
        return sum(e - s for s, e in zip(edges, edges[1:], strict=False)
                   if not forbidden(c, (s + e) / 2))

    integral, worst, idle = np.zeros(m), np.zeros(m), np.zeros((len(samples), m))
    allowed = np.zeros((len(samples), m), dtype=bool)
    for c in range(m):
        sel = (ci == c) & ~np.isnan(a)
        ivs = sorted((max(x, 0.0), min(y, T)) for x, y in zip(a[sel], b[sel], strict=True)
                     if x <= T and y >= 0)
        merged = []
        for x, y in ivs:
            if merged and x <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], y)
            else:
                merged.append([x, y])
        ends = [0.0] + [y for _, y in merged]
        starts = [x for x, _ in merged] + [T]
        gaps = [clock(c, s) - clock(c, e) for e, s in zip(ends, starts, strict=True)]
        integral[c] = sum(g * g for g in gaps) / 2
        worst[c] = max(gaps)
        for k, t in enumerate(samples):
            allowed[k, c] = not forbidden(c, t)
            if any(x <= t <= y for x, y in merged):
                continue
            last = max([y for _, y in merged if y < t], default=0.0)
            idle[k, c] = clock(c, t) - clock(c, last)
    assert np.array_equal(perm.signature, cells.permission.signature)
    return integral, worst, (idle * allowed).sum(axis=1) / allowed.sum(axis=1)


def test_random_runs_against_a_per_cell_reference():
    # Random straight legs over 8 x 6 cells of 25 m; two no-fly zones with
    # windows overlapping each other and the run's ends.
    rng = np.random.default_rng(12)
    area = shapely.box(0, 0, 200, 150)
    zones = [zone(0, shapely.box(40, 20, 130, 90), start_s=-50.0, end_s=300.0),
             zone(1, shapely.box(100, 60, 200, 150), start_s=200.0, end_s=np.inf),
             zone(2, shapely.box(0, 100, 60, 150), "restricted")]
    legs = []
    for v in range(3):
        t = np.sort(rng.uniform(0.0, 800.0, 7))
        pts = rng.uniform((-20, -20), (220, 170), (7, 2))
        legs += path_legs(v, t.tolist(), [(x, y, ALT) for x, y in pts])
    run = recorded_run(duration_s=700.0, legs=legs, footprint_radius_m=[30.0] * 3,
                       mission_area=area, metrics_cell_m=25.0, zones=zones,
                       timeseries_step_s=35.0)
    samples = sample_times(700.0, 35.0)
    integral, worst, mean_at = reference(run, samples)
    cells = cell_coverage(run)
    np.testing.assert_allclose(cells.permitted_integral_s2, integral, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(cells.permitted_max_s, worst, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(timeseries(run)["idleness_mean_s"], mean_at, rtol=1e-9,
                               atol=1e-9)
    assert cells.permission.n_signatures == 4  # none, zone 0, zone 1, both
    assert (cells.permitted_integral_s2 < cells.idleness_integral_s2 - 1.0).sum() >= 10
    assert np.isfinite(cells.first_s).sum() >= 20  # the legs do cover cells


def test_the_raster_is_shared_but_never_stale():
    legs = hover(0, 10, C0, False) + hover(10, 20, C0) + hover(20, 100, C0, False)
    run = recorded_run(duration_s=100.0, legs=legs, footprint_radius_m=[4.0],
                       mission_area=AREA, metrics_cell_m=10.0)
    assert cell_coverage(run) is cell_coverage(run)  # metrics and time series share it
    assert coverage_metrics(run)["coverage.fraction"] == 0.5
    run.legs["x0_m"][1] = run.legs["x1_m"][1] = 15.0  # edited in place: cell 1 instead
    cells = cell_coverage(run)
    assert np.isnan(cells.first_s[0]) and cells.first_s[1] == 10.0
    other = dataclasses.replace(run, scenario=dataclasses.replace(
        run.scenario, outputs=dataclasses.replace(run.scenario.outputs,
                                                  timeseries_step_s=5.0)))
    assert len(cell_coverage(other).sample_s) == 21 and len(cells.sample_s) == 2

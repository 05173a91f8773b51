"""Idleness on hand-made runs, and the patrol ring oracle (Machado et al. 2002)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from fleetsim.metrics.handmade import path_legs, recorded_run
from fleetsim.metrics.patrol import patrol_metrics
from fleetsim.metrics.raster import cell_coverage

ALT = 60.0


def test_idleness_of_one_hover_exactly():
    # Cell centre (5, 5) seen during [10, 20] of T = 100: gaps 10 and 80, so
    # the idleness integral is (10^2 + 80^2) / 2 = 3250 and its mean 32.5 s.
    # The second cell (15, 5) is never seen: idleness t, integral 100^2 / 2.
    p = (5.0, 5.0, ALT)
    legs = (path_legs(0, [0.0, 10.0], [p, p], sensing=False, kind="hold")
            + path_legs(0, [10.0, 15.0, 20.0], [p, p, p], kind="hold")
            + path_legs(0, [20.0, 100.0], [p, p], sensing=False, kind="hold"))
    run = recorded_run(duration_s=100.0, legs=legs, footprint_radius_m=[4.0],
                       mission_area=shapely.box(0, 0, 20, 10), metrics_cell_m=10.0)
    cells = cell_coverage(run)
    assert cells.visits.tolist() == [1, 0]  # the two touching hovers are one visit
    assert cells.covered_s.tolist() == [10.0, 0.0]
    assert cells.idleness_integral_s2.tolist() == [3250.0, 5000.0]
    m = patrol_metrics(run, cells)
    assert m["patrol.idleness_mean_s"] == (3250.0 + 5000.0) / (2 * 100.0)
    assert m["patrol.idleness_max_s"] == 100.0
    assert m["patrol.idleness_max_mean_s"] == (80.0 + 100.0) / 2


def test_idleness_without_cells_or_time_is_none():
    assert set(patrol_metrics(recorded_run(duration_s=10.0)).values()) == {None}
    run = recorded_run(duration_s=0.0, mission_area=shapely.box(0, 0, 10, 10))
    assert set(patrol_metrics(run).values()) == {None}


# --- the ring oracle -----------------------------------------------------------
#
# The ring is a square loop through the centres of a one-cell-wide square
# annulus of cells (m cells a side, so n = 4m cells and L = 4 m c metres);
# k vehicles evenly spaced on it move the same way at speed v. Every cell
# centre lies on the loop and the footprint radius r is below the cell side,
# so a centre is within r of a vehicle exactly when their distance along the
# loop is at most r (at a corner both are measured along the same arm). Each
# cell is passed every P = L / (k v) and is seen for c = 2 r / v per pass: in
# steady state the time-mean idleness is (P - c)^2 / (2P) and the worst P - c.


def ring(m: int, cell: float):
    side = m * cell
    corners = np.array([(0.5, 0.5), (m + 0.5, 0.5), (m + 0.5, m + 0.5), (0.5, m + 0.5)]) * cell
    area = shapely.Polygon(
        [(0, 0), ((m + 1) * cell, 0), ((m + 1) * cell, (m + 1) * cell), (0, (m + 1) * cell)],
        holes=[[(cell, cell), (m * cell, cell), (m * cell, m * cell), (cell, m * cell)]])

    def point_at(u: float) -> tuple[float, float, float]:
        u %= 4 * side
        arm = min(int(u // side), 3)
        f = (u - arm * side) / side
        a, b = corners[arm], corners[(arm + 1) % 4]
        return (a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), ALT)

    return side, area, point_at


def ring_run(m, cell, k, speed, radius, periods, phase):
    side, area, point_at = ring(m, cell)
    length = 4 * side
    period = length / (k * speed)
    duration = periods * period
    legs = []
    for i in range(k):
        start = i * length / k + phase
        us = [start]
        q = math.floor(start / side) + 1
        while (q * side - start) / speed < duration:
            us.append(q * side)  # a corner, exactly
            q += 1
        times = [(u - start) / speed for u in us] + [duration]
        us.append(start + speed * duration)
        legs += path_legs(i, times, [point_at(u) for u in us])
    run = recorded_run(duration_s=duration, legs=legs, footprint_radius_m=[radius] * k,
                       mission_area=area, metrics_cell_m=cell)
    return run, length, period


def ring_reference(m, cell, k, speed, radius, duration, phase):
    """Idleness from the pass times along the loop, cell by cell, in plain Python."""
    length = 4 * m * cell
    period = length / (k * speed)
    half = radius / speed
    total, worst = 0.0, 0.0
    for j in range(4 * m):
        u = j * cell  # arclength of the cell centre from the first corner
        ivs = []
        for i in range(k):
            t = ((u - i * length / k - phase) % length) / speed - period * k
            while t - half <= duration:
                if t + half >= 0:
                    ivs.append((max(t - half, 0.0), min(t + half, duration)))
                t += length / speed
        last, gaps = 0.0, []
        for a, b in sorted(ivs):
            gaps.append(max(0.0, a - last))
            last = max(last, b)
        gaps.append(duration - last)
        total += sum(g * g for g in gaps) / 2
        worst = max(worst, max(gaps))
    return total / (4 * m * duration), worst


@pytest.mark.parametrize("k, phase", [(1, 0.0), (4, 3.7), (5, 11.0)])
def test_ring_idleness_matches_the_pass_times_exactly(k, phase):
    m, cell, speed, radius, periods = 10, 10.0, 5.0, 3.0, 12
    run, _, period = ring_run(m, cell, k, speed, radius, periods, phase)
    got = patrol_metrics(run)
    mean, worst = ring_reference(m, cell, k, speed, radius, periods * period, phase)
    assert cell_coverage(run).n_cells == 4 * m
    assert got["patrol.idleness_mean_s"] == pytest.approx(mean, rel=1e-9)
    assert got["patrol.idleness_max_s"] == pytest.approx(worst, rel=1e-9)


def test_ring_idleness_meets_the_steady_state_closed_form():
    # Over T = M P, a cell's uncovered time is M (P - c): M - 1 full gaps of
    # P - c, and one gap split into a leading part g0 (before the first pass)
    # and a trailing part g1 with g0 + g1 = P - c. So its idleness integral is
    # between (M - 1/2) (P - c)^2 / 2 (g0 = g1) and M (P - c)^2 / 2: the mean is
    # within a relative 1 / (2M) below the steady state, and the worst is P - c.
    m, cell, k, speed, radius, periods = 10, 10.0, 4, 5.0, 3.0, 40
    run, _, period = ring_run(m, cell, k, speed, radius, periods, phase=3.7)
    got = patrol_metrics(run)
    c = 2 * radius / speed
    steady = (period - c) ** 2 / (2 * period)
    assert steady * (1 - 1 / (2 * periods)) <= got["patrol.idleness_mean_s"] <= steady * (1 + 1e-12)
    assert got["patrol.idleness_max_s"] == pytest.approx(period - c, rel=1e-12)


def test_ring_idleness_tends_to_machado_n_over_2k():
    # n cells, one cell per time unit (v = c metres per second), k agents:
    # worst idleness n / k, mean n / (2k), as the time seen per pass goes to 0.
    m, cell, k, periods = 10, 10.0, 4, 40
    n, speed, radius = 4 * m, cell, 1e-3
    run, _, period = ring_run(m, cell, k, speed, radius, periods, phase=2.5)
    assert period == n / k
    got = patrol_metrics(run)
    c = 2 * radius / speed
    assert got["patrol.idleness_max_s"] == pytest.approx(n / k, abs=c + 1e-9)
    assert got["patrol.idleness_mean_s"] == pytest.approx(n / (2 * k),
                                                          rel=1 / (2 * periods) + 2 * c / period)

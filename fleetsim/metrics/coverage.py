"""Coverage of the mission area: how much of it was seen, and when.

See :mod:`fleetsim.metrics.raster` for the cells and what covering one means.

Metrics
-------
``coverage.cells``
    Number of raster cells in the mission area.
``coverage.fraction``
    Fraction of those cells covered at least once in ``[0, duration]``.
``coverage.time_to_50pct_s``, ``coverage.time_to_90pct_s``, ``coverage.time_to_99pct_s``
    First time the covered fraction reached 50 / 90 / 99 % (None if never).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fleetsim.metrics.raster import CellCoverage, cell_coverage

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.record import RecordedRun

#: Percentages reported as ``coverage.time_to_<p>pct_s``.
MILESTONES_PCT = (50, 90, 99)


def _first_times(cells: CellCoverage) -> np.ndarray:
    first = cells.first_s
    return np.sort(first[~np.isnan(first)])


def time_to_fraction(cells: CellCoverage, percent: int) -> float | None:
    """First time at least ``percent`` % of the cells had been covered; None if never."""
    n = cells.n_cells
    if n == 0:
        return None
    need = (int(percent) * n + 99) // 100  # ceil(percent * n / 100) in integers
    first = _first_times(cells)
    if need == 0:
        return 0.0
    return float(first[need - 1]) if need <= len(first) else None


def coverage_metrics(run: RecordedRun, cells: CellCoverage | None = None) -> dict[str, float | int | None]:
    """The ``coverage.*`` metrics of ``run`` (pass ``cells`` to reuse a computed raster)."""
    cells = cell_coverage(run) if cells is None else cells
    n = cells.n_cells
    out: dict[str, float | int | None] = {"coverage.cells": n}
    covered = int(np.count_nonzero(~np.isnan(cells.first_s)))
    out["coverage.fraction"] = covered / n if n else None
    for pct in MILESTONES_PCT:
        out[f"coverage.time_to_{pct}pct_s"] = time_to_fraction(cells, pct)
    return out


def coverage_curve(run: RecordedRun, n_points: int = 200,
                   cells: CellCoverage | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Covered fraction of the mission area against time, for plots.

    Returns
    -------
    t_s : ndarray, shape (n_points,), float64
        Times evenly spaced over ``[0, duration]``.
    fraction : ndarray, shape (n_points,), float64
        Fraction of the area's cells covered at least once by then (0 with no cells).
    """
    cells = cell_coverage(run) if cells is None else cells
    t = np.linspace(0.0, cells.duration_s, int(n_points))
    if cells.n_cells == 0:
        return t, np.zeros_like(t)
    count = np.searchsorted(_first_times(cells), t, side="right")
    return t, count / cells.n_cells

"""Coverage of the mission area: how much of it was seen, and when.

See :mod:`fleetsim.metrics.raster` for the cells and what covering one means,
and :mod:`fleetsim.metrics.permitted` for when a cell may be flown.

Over the permitted area, the covered fraction at time t is

    (cells permitted at t that have been covered at least once in [0, t])
    / (cells permitted at t)

A cell inside a no-fly zone leaves both counts while the zone is active and
comes back, with whatever it had been covered, when the zone ends. A cell
counts as covered whenever its centre was inside a footprint, permitted or not
(a sensor sees over a zone's edge). With no active no-fly zone this is the
plain fraction of the area's cells covered by t.

Metrics
-------
``coverage.cells``
    Number of raster cells in the mission area.
``coverage.cells_permitted``
    Of those, the cells permitted at the end of the run (``t = duration``).
``coverage.fraction``
    The covered fraction over the permitted area at the end of the run (None
    when no cell is permitted then).
``coverage.time_to_50pct_s``, ``coverage.time_to_90pct_s``, ``coverage.time_to_99pct_s``
    First time the covered fraction over the permitted area reached 50 / 90 /
    99 % (None if never).
``coverage.fraction_of_area``, ``coverage.time_to_<p>pct_of_area_s``
    The same over every cell of the area all the time (no-fly zones ignored).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fleetsim.metrics.raster import CellCoverage, cell_coverage

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.record import RecordedRun

__all__ = ["MILESTONES_PCT", "coverage_at", "coverage_curve", "coverage_metrics",
           "time_to_fraction", "time_to_permitted_fraction"]

#: Percentages reported as ``coverage.time_to_<p>pct_s``.
MILESTONES_PCT = (50, 90, 99)


def _first_times(cells: CellCoverage) -> np.ndarray:
    first = cells.first_s
    return np.sort(first[~np.isnan(first)])


def _need(percent: int, n: int) -> int:
    return (int(percent) * n + 99) // 100  # ceil(percent * n / 100) in integers


def time_to_fraction(cells: CellCoverage, percent: int) -> float | None:
    """First time at least ``percent`` % of the area's cells had been covered; None if never."""
    n = cells.n_cells
    if n == 0:
        return None
    need = _need(percent, n)
    first = _first_times(cells)
    if need == 0:
        return 0.0
    return float(first[need - 1]) if need <= len(first) else None


def time_to_permitted_fraction(cells: CellCoverage, percent: int) -> float | None:
    """First time the covered fraction over the permitted area reached ``percent`` %.

    Exact: between two changes of permission (no-fly zone starts and ends) the
    permitted cells are fixed and their covered count only grows, so the first
    such time is the start of a stretch or the first-cover time of its
    ``ceil(percent * n / 100)``-th cell. None if never (or no cell is ever permitted).
    """
    perm = cells.permission
    if cells.n_cells == 0:
        return None
    if perm.trivial:
        return time_to_fraction(cells, percent)
    starts = np.concatenate([[0.0], perm.boundaries_s()])
    ends = np.concatenate([starts[1:], [np.inf]])
    allowed = perm.permitted_at(starts)
    for k in range(len(starts)):
        mine = allowed[k][perm.signature]
        n = int(np.count_nonzero(mine))
        if n == 0:
            continue
        need = _need(percent, n)
        if need == 0:
            return float(starts[k])
        first = cells.first_s[mine]
        first = np.sort(first[~np.isnan(first)])
        if need > len(first):
            continue
        t = max(float(first[need - 1]), float(starts[k]))
        if t < ends[k] and t <= cells.duration_s:
            return t
    return None


def coverage_at(cells: CellCoverage, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Covered and permitted cell counts at times ``t_s``: two (len(t_s),) int64 arrays
    (their ratio is the covered fraction over the permitted area)."""
    perm = cells.permission
    t = np.asarray(t_s, dtype=np.float64).reshape(-1)
    allowed = perm.permitted_at(t)  # (len(t), n_signatures)
    covered = np.zeros(len(t), dtype=np.int64)
    for sig in range(perm.n_signatures):
        first = cells.first_s[perm.signature == sig]
        first = np.sort(first[~np.isnan(first)])
        covered += np.where(allowed[:, sig], np.searchsorted(first, t, side="right"), 0)
    permitted = (allowed * perm.cells_per_signature[None, :]).sum(axis=1).astype(np.int64)
    return covered, permitted


def coverage_metrics(run: RecordedRun, cells: CellCoverage | None = None) -> dict[str, float | int | None]:
    """The ``coverage.*`` metrics of ``run`` (pass ``cells`` to reuse a computed raster)."""
    cells = cell_coverage(run) if cells is None else cells
    n = cells.n_cells
    out: dict[str, float | int | None] = {"coverage.cells": n}
    covered = int(np.count_nonzero(~np.isnan(cells.first_s)))
    out["coverage.fraction_of_area"] = covered / n if n else None
    end_covered, end_permitted = coverage_at(cells, np.array([cells.duration_s]))
    out["coverage.cells_permitted"] = int(end_permitted[0])
    out["coverage.fraction"] = (int(end_covered[0]) / int(end_permitted[0])
                                if end_permitted[0] else None)
    for pct in MILESTONES_PCT:
        out[f"coverage.time_to_{pct}pct_s"] = time_to_permitted_fraction(cells, pct)
        out[f"coverage.time_to_{pct}pct_of_area_s"] = time_to_fraction(cells, pct)
    return out


def coverage_curve(run: RecordedRun, n_points: int = 200,
                   cells: CellCoverage | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Covered fraction over the permitted area against time, for plots.

    Returns
    -------
    t_s : ndarray, shape (n_points,), float64
        Times evenly spaced over ``[0, duration]``.
    fraction : ndarray, shape (n_points,), float64
        Covered fraction over the cells permitted at each time (0 with none).
    """
    cells = cell_coverage(run) if cells is None else cells
    t = np.linspace(0.0, cells.duration_s, int(n_points))
    covered, permitted = coverage_at(cells, t)
    return t, np.where(permitted > 0, covered / np.maximum(permitted, 1), 0.0)

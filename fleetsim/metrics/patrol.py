"""Persistent surveillance: idleness of the mission area's cells.

Idleness of a cell at time t is the time since its centre was last inside a
sensing footprint: t itself if it has not been yet, 0 while it is (Machado et
al. 2002, with continuous time). Computed exactly from each cell's coverage
intervals (see :mod:`fleetsim.metrics.raster`).

Metrics
-------
``patrol.idleness_mean_s``
    Mean over cells and over time ``[0, duration]``.
``patrol.idleness_max_s``
    Largest idleness of any cell at any time.
``patrol.idleness_max_mean_s``
    Mean over cells of each cell's largest idleness.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fleetsim.metrics.raster import CellCoverage, cell_coverage

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.record import RecordedRun


def patrol_metrics(run: RecordedRun, cells: CellCoverage | None = None) -> dict[str, float | None]:
    """The ``patrol.*`` metrics of ``run`` (pass ``cells`` to reuse a computed raster)."""
    cells = cell_coverage(run) if cells is None else cells
    n = cells.n_cells
    T = cells.duration_s
    if n == 0 or not T > 0.0:
        return {"patrol.idleness_mean_s": None, "patrol.idleness_max_s": None,
                "patrol.idleness_max_mean_s": None}
    return {
        "patrol.idleness_mean_s": float(cells.idleness_integral_s2.sum() / (n * T)),
        "patrol.idleness_max_s": float(cells.idleness_max_s.max()),
        "patrol.idleness_max_mean_s": float(cells.idleness_max_s.mean()),
    }

"""Persistent surveillance: idleness of the mission area's cells.

Idleness of a cell at time t is the time since its centre was last inside a
sensing footprint: t itself if it has not been yet, 0 while it is (Machado et
al. 2002, with continuous time). Computed exactly from each cell's coverage
intervals (see :mod:`fleetsim.metrics.raster`).

Over the permitted area (see :mod:`fleetsim.metrics.permitted`), idle time
accrues only while the cell is permitted: idleness runs on the cell's
*permitted clock* ``tau(t)`` (its permitted time in ``[0, t]``) and is
``tau(t) - tau(end of its last visit)``. While a no-fly zone over the cell is
active its idleness is paused — and not counted in any mean or maximum — and
when the zone ends the cell resumes with the idleness it had when the zone
started (it is not reset: an area left unwatched before the closure is still
owed a visit). A visit while forbidden (seen over the zone's edge) still
resets it. With no active no-fly zone this is plain idleness.

Metrics
-------
``patrol.idleness_mean_s``
    Mean over the permitted (cell, time) pairs in ``[0, duration]`` (the integral
    of idleness over each cell's permitted time, summed, over the summed
    permitted time).
``patrol.idleness_max_s``
    Largest idleness of any cell at any time it was permitted.
``patrol.idleness_max_mean_s``
    Mean, over the cells permitted at some time, of each cell's largest idleness.
``patrol.idleness_mean_of_area_s``, ``patrol.idleness_max_of_area_s``,
``patrol.idleness_max_mean_of_area_s``
    The same with every cell of the area counted all the time (no-fly zones ignored).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fleetsim.metrics.raster import CellCoverage, cell_coverage

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.record import RecordedRun

NAMES = ("patrol.idleness_mean_s", "patrol.idleness_max_s", "patrol.idleness_max_mean_s",
         "patrol.idleness_mean_of_area_s", "patrol.idleness_max_of_area_s",
         "patrol.idleness_max_mean_of_area_s")


def patrol_metrics(run: RecordedRun, cells: CellCoverage | None = None) -> dict[str, float | None]:
    """The ``patrol.*`` metrics of ``run`` (pass ``cells`` to reuse a computed raster)."""
    cells = cell_coverage(run) if cells is None else cells
    out: dict[str, float | None] = dict.fromkeys(NAMES)
    n = cells.n_cells
    T = cells.duration_s
    if n == 0 or not T > 0.0:
        return out
    out["patrol.idleness_mean_of_area_s"] = float(cells.idleness_integral_s2.sum() / (n * T))
    out["patrol.idleness_max_of_area_s"] = float(cells.idleness_max_s.max())
    out["patrol.idleness_max_mean_of_area_s"] = float(cells.idleness_max_s.mean())
    perm = cells.permission
    allowed = perm.permitted_time_s()[perm.signature]
    total = float(allowed.sum())
    if perm.trivial:
        for name in NAMES[:3]:  # no cell is ever forbidden: the same figures
            out[name] = out[name[:-2] + "_of_area_s"]
        return out
    if not total > 0.0:
        return out
    some = allowed > 0.0
    out["patrol.idleness_mean_s"] = float(cells.permitted_integral_s2.sum() / total)
    out["patrol.idleness_max_s"] = float(cells.permitted_max_s[some].max())
    out["patrol.idleness_max_mean_s"] = float(cells.permitted_max_s[some].mean())
    return out

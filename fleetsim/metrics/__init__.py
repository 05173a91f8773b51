"""Metrics: pure functions of a recorded run (:class:`fleetsim.record.RecordedRun`).

They read the run's tables and static world only, never the engine, so they
can be recomputed from a run directory and tested on hand-made tables. One
module per family:

- :mod:`~fleetsim.metrics.coverage`: ``coverage.*`` (cells seen, time to 50/90/99 %)
- :mod:`~fleetsim.metrics.patrol`: ``patrol.*`` (idleness)

  Both over the permitted area (:mod:`~fleetsim.metrics.permitted`: cells in
  active no-fly zones do not count) and, as ``*_of_area``, over the whole area.
- :mod:`~fleetsim.metrics.detection`: ``detection.*``
- :mod:`~fleetsim.metrics.energy`: ``energy.*``
- :mod:`~fleetsim.metrics.fleet`: ``fleet.*``
- :mod:`~fleetsim.metrics.safety`: ``safety.*`` (zones, terrain)
- :mod:`~fleetsim.metrics.logistics`: ``logistics.*`` (orders, deliveries, vehicle use;
  absent from runs with no orders and no ground or sea vehicle)

:func:`compute_metrics` returns them all as one flat, sorted, JSON-ready dict;
:func:`metrics_json` writes it byte-stably. :mod:`~fleetsim.metrics.timeseries`
gives the run's state step by step (``timeseries.parquet``).
"""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from fleetsim.metrics.comms import comms_metrics
from fleetsim.metrics.coverage import coverage_curve, coverage_metrics
from fleetsim.metrics.detection import detection_metrics
from fleetsim.metrics.energy import energy_metrics
from fleetsim.metrics.fleet import fleet_metrics
from fleetsim.metrics.kinds import indexed_kinds
from fleetsim.metrics.logistics import logistics_metrics
from fleetsim.metrics.oversight import oversight_metrics
from fleetsim.metrics.patrol import patrol_metrics
from fleetsim.metrics.raster import cell_coverage
from fleetsim.metrics.safety import safety_metrics
from fleetsim.record import collector_paused, trim_heap

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.record import RecordedRun

__all__ = ["SIGNIFICANT_DIGITS", "compute_metrics", "coverage_curve", "json_value",
           "metrics_json"]

#: Floats are rounded to this many significant digits, so that the JSON of a
#: run does not depend on the last bits of a sum's order.
SIGNIFICANT_DIGITS = 9

MetricValue = float | int | None


def json_value(value: object) -> MetricValue:
    """A metric value as plain JSON data: int, float rounded to
    :data:`SIGNIFICANT_DIGITS` significant digits, or None (for None, NaN and ±inf)."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, int | np.integer):
        return int(value)
    x = float(value)  # type: ignore[arg-type]
    if not math.isfinite(x):
        return None
    return float(f"{x:.{SIGNIFICANT_DIGITS}g}") + 0.0  # + 0.0: no "-0.0"


def compute_metrics(run: RecordedRun) -> dict[str, MetricValue]:
    """All metrics of ``run``: flat dotted names, sorted, JSON-ready values."""
    found: dict[str, object] = {}
    # The coverage raster (compiled loops that let go of the interpreter) is worked out
    # in a second thread while the families that read events are (oversight's is the
    # longest); fleet's and safety's, which make arrays over all legs or all losses of
    # separation, come after it, so that their memory and the raster's are not taken at
    # once. Each family reads the run only; the values are the same either way.
    with collector_paused(), ThreadPoolExecutor(max_workers=1) as pool:
        raster = pool.submit(cell_coverage, run)
        with indexed_kinds(run):
            found.update(oversight_metrics(run))
            found.update(detection_metrics(run))
            found.update(comms_metrics(run))
            found.update(logistics_metrics(run))
            found.update(energy_metrics(run))
            cells = raster.result()
            trim_heap()  # (the raster frees many chunk-sized arrays: give their pages back)
            found.update(fleet_metrics(run))
            found.update(safety_metrics(run))
            found.update(coverage_metrics(run, cells))
            found.update(patrol_metrics(run, cells))
    trim_heap()
    return {name: json_value(found[name]) for name in sorted(found)}


def metrics_json(metrics: dict[str, MetricValue]) -> str:
    """The metrics as JSON text: sorted keys, two-space indent, final newline."""
    return json.dumps({k: json_value(v) for k, v in metrics.items()}, sort_keys=True,
                      indent=2, allow_nan=False) + "\n"

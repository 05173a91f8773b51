"""Search: how many of the world's targets were detected, and how soon.

Read from the ``detection`` events (``target`` >= 0); a target counts once,
at its first detection.

Metrics
-------
``detection.targets``
    Number of targets in the world.
``detection.detected``
    Targets with at least one detection.
``detection.probability``
    ``detected / targets`` (None without targets).
``detection.mean_time_s``
    Mean over detected targets of the time of their first detection (None if none).
``search.pod_cumulative``
    Only for scenarios with a search datum (``missions[].datum``): the cumulative
    probability of detection ``1 - prod(1 - POD_i)`` over the ``search_pod`` events
    (every sensing leg against the datum; legs as independent looks, see
    :mod:`fleetsim.world.search`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fleetsim.metrics.kinds import event_rows

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.record import RecordedRun


def first_detections(run: RecordedRun) -> tuple[np.ndarray, np.ndarray]:
    """Detected targets and the time each was first detected, sorted by target."""
    rows = event_rows(run, "detection")
    target = np.asarray(run.events["target"][rows], dtype=np.int64)
    time = np.asarray(run.events["time_s"][rows], dtype=np.float64)
    n_targets = len(run.world.targets_xy)
    valid = (target >= 0) & (target < n_targets)
    target, time = target[valid], time[valid]
    if len(target) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    order = np.lexsort((time, target))
    target, time = target[order], time[order]
    head = np.r_[True, target[1:] != target[:-1]]
    return target[head], time[head]


def detection_metrics(run: RecordedRun) -> dict[str, float | int | None]:
    """The ``detection.*`` metrics of ``run``."""
    n_targets = len(run.world.targets_xy)
    targets, first = first_detections(run)
    out: dict[str, float | int | None] = {
        "detection.targets": n_targets,
        "detection.detected": len(targets),
        "detection.probability": len(targets) / n_targets if n_targets else None,
        "detection.mean_time_s": float(first.mean()) if len(first) else None,
    }
    if any(m.datum is not None for m in run.scenario.missions):
        from fleetsim.world.search import cumulative_pod
        out["search.pod_cumulative"] = cumulative_pod(
            run.events["value"][event_rows(run, "search_pod")])
    return out

"""Energy drawn by the fleet, from the legs' ``energy_wh``.

Metrics
-------
``energy.total_wh``
    Sum over legs.
``energy.per_vehicle_wh``
    ``total_wh`` divided by the number of vehicles (None without vehicles).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.record import RecordedRun


def energy_metrics(run: RecordedRun) -> dict[str, float | None]:
    """The ``energy.*`` metrics of ``run``."""
    total = float(np.sum(np.asarray(run.legs["energy_wh"], dtype=np.float64)))
    n_vehicles = len(run.vehicles["vehicle"])
    return {
        "energy.total_wh": total,
        "energy.per_vehicle_wh": total / n_vehicles if n_vehicles else None,
    }

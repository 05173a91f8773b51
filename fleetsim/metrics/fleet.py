"""How the fleet was used: distance, busy time, returns and failures.

Metrics
-------
``fleet.vehicles``, ``fleet.legs``
    Rows of the vehicles and legs tables.
``fleet.distance_m``
    Sum of the legs' 3-D lengths (not counting legs ridden on a carrier, ``docked``:
    that distance is the carrier's).
``fleet.utilization``
    Time spent in the flying leg kinds (:data:`ACTIVE_LEG_KINDS`), clipped to
    ``[0, duration]``, divided by ``vehicles x duration`` (None if either is 0).
``fleet.returns_to_base``
    Number of ``return_start`` events.
``fleet.battery_depletions``
    Number of ``battery_depleted`` events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fleetsim.metrics.kinds import event_rows, leg_mask

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.record import RecordedRun

#: Leg kinds that count as the vehicle being in use.
ACTIVE_LEG_KINDS = ("takeoff", "move", "hold", "return", "land")


def leg_lengths_m(legs: dict[str, np.ndarray]) -> np.ndarray:
    """3-D length of each leg (m), (n,) float64 (a million legs at a time, so that the
    temporaries of a long run's legs stay small)."""
    n = len(legs["x0_m"])
    out = np.zeros(n)
    for i in range(0, n, _LENGTH_ROWS):
        k = slice(i, i + _LENGTH_ROWS)
        d = np.column_stack([legs[f"{a}1_m"][k] - legs[f"{a}0_m"][k] for a in "xyz"])
        out[k] = np.sqrt(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] + d[:, 2] * d[:, 2])
    return out


#: Legs measured at a time by :func:`leg_lengths_m`.
_LENGTH_ROWS = 1 << 20


def fleet_metrics(run: RecordedRun) -> dict[str, float | int | None]:
    """The ``fleet.*`` metrics of ``run``."""
    legs = run.legs
    T = run.duration_s
    n_vehicles = len(run.vehicles["vehicle"])
    active = leg_mask(run, ACTIVE_LEG_KINDS)
    t0 = np.clip(np.asarray(legs["t0_s"], dtype=np.float64)[active], 0.0, T)
    t1 = np.clip(np.asarray(legs["t1_s"], dtype=np.float64)[active], 0.0, T)
    busy = float(np.sum(np.maximum(t1 - t0, 0.0)))
    return {
        "fleet.vehicles": n_vehicles,
        "fleet.legs": len(legs["leg"]),
        "fleet.distance_m": float(np.sum(leg_lengths_m(legs)[~leg_mask(run, "docked")])),
        "fleet.utilization": busy / (n_vehicles * T) if n_vehicles and T > 0 else None,
        "fleet.returns_to_base": len(event_rows(run, "return_start")),
        "fleet.battery_depletions": len(event_rows(run, "battery_depleted")),
    }

"""Communications: how long vehicles were out of radio contact.

Computed from the recorded legs with :func:`fleetsim.comms.link_intervals`
(the same function the engine uses for its link events). Legs on the ground
count as in contact. Out-of-link stretches of one vehicle that touch across
leg boundaries are one gap.

Metrics (all None when the world has no ground station)
-------------------------------------------------------
``comms.link_losses``
    Number of gaps (times a vehicle lost contact).
``comms.out_of_link_time_s``
    Total vehicle-time out of contact.
``comms.out_of_link_per_vehicle_s``
    The same, averaged over vehicles.
``comms.out_of_link_max_gap_s``
    The longest single gap of any vehicle.
``comms.vehicles_out_of_link_ever``
    Vehicles that lost contact at least once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fleetsim.comms import link_intervals, out_of_link, stations_of
from fleetsim.geometry import merge_intervals

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.record import RecordedRun

_AIRBORNE = ("takeoff", "move", "hold", "return", "land")
NAMES = ("comms.link_losses", "comms.out_of_link_time_s", "comms.out_of_link_per_vehicle_s",
         "comms.out_of_link_max_gap_s", "comms.vehicles_out_of_link_ever")


def out_of_link_gaps(run: RecordedRun) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every gap in contact: ``(vehicle, t_start_s, t_end_s)``, sorted by vehicle and time."""
    legs = run.legs
    stations = stations_of(run.world)
    air = np.isin(legs["kind"], _AIRBORNE) & (legs["t1_s"] > legs["t0_s"])
    idx = np.flatnonzero(air)
    if not stations or len(idx) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
    t0, t1 = legs["t0_s"][idx], legs["t1_s"][idx]
    p0 = np.column_stack([legs["x0_m"], legs["y0_m"], legs["z0_m"]])[idx]
    p1 = np.column_stack([legs["x1_m"], legs["y1_m"], legs["z1_m"]])[idx]
    li, a, b = link_intervals(t0, t1, p0, p1, stations, run.world.terrain)
    L, A, B = out_of_link(t0, t1, li, a, b)
    vehicle = legs["vehicle"][idx][L].astype(np.int64)
    return merge_intervals(vehicle, A, B)


def comms_metrics(run: RecordedRun) -> dict[str, object]:
    if not stations_of(run.world):
        return dict.fromkeys(NAMES)
    v, a, b = out_of_link_gaps(run)
    gaps = b - a
    n = len(run.vehicles["vehicle"])
    total = float(gaps.sum())
    return {
        "comms.link_losses": int(len(gaps)),
        "comms.out_of_link_time_s": total,
        "comms.out_of_link_per_vehicle_s": total / n if n else None,
        "comms.out_of_link_max_gap_s": float(gaps.max()) if len(gaps) else 0.0,
        "comms.vehicles_out_of_link_ever": int(len(np.unique(v))),
    }

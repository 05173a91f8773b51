"""Communications: how long vehicles were out of radio contact.

Read from the engine's record: a gap runs from a vehicle's ``link_lost`` event to
its next ``link_restored`` (or to the end of the run). The engine finds them with
:func:`fleetsim.comms.link_intervals` (or, when some vehicle type carries a relay,
``relay_range_m``, :func:`fleetsim.comms.link_intervals_relayed`) on each leg as
it is planned; legs on the ground count as in contact, and stretches that touch
across leg boundaries are one gap. :func:`out_of_link_gaps_of_legs` recomputes the
same from the legs as flown (an independent check of the engine).

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

from fleetsim.comms import (
    link_intervals,
    link_intervals_relayed,
    out_of_link,
    relay_legs,
    stations_of,
)
from fleetsim.geometry import merge_intervals
from fleetsim.record import kind_in

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.record import RecordedRun

_AIRBORNE = ("takeoff", "move", "hold", "return", "land")
#: Out-of-link stretches of one vehicle this close (s) are one gap.
_TOUCH_S = 1e-9
NAMES = ("comms.link_losses", "comms.out_of_link_time_s", "comms.out_of_link_per_vehicle_s",
         "comms.out_of_link_max_gap_s", "comms.vehicles_out_of_link_ever")


def out_of_link_gaps(run: RecordedRun) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every gap in contact, as the engine recorded it (``link_lost`` to the next
    ``link_restored`` of the vehicle, or to the end of the run): ``(vehicle,
    t_start_s, t_end_s)``, sorted by vehicle and time."""
    ev = run.events
    kind = ev["kind"]
    sel = np.flatnonzero(((kind == "link_lost") | (kind == "link_restored"))
                         & (ev["vehicle"] >= 0))
    vehicle = ev["vehicle"][sel].astype(np.int64)
    order = np.argsort(vehicle, kind="stable")  # the events are in time order
    sel, vehicle = sel[order], vehicle[order]
    lost = kind[sel] == "link_lost"
    t = ev["time_s"][sel]
    n = len(sel)
    nxt = np.minimum(np.arange(1, n + 1), n - 1) if n else np.zeros(0, dtype=np.int64)
    closed = (np.arange(n) < nxt) & ~lost[nxt] & (vehicle[nxt] == vehicle)
    end = np.where(closed, t[nxt], run.duration_s)
    return vehicle[lost], t[lost], end[lost]


def out_of_link_gaps_of_legs(run: RecordedRun) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every gap in contact recomputed from the legs as flown: ``(vehicle, t_start_s,
    t_end_s)``, sorted by vehicle and time."""
    legs = run.legs
    stations = stations_of(run.world)
    air = kind_in(legs["kind"], _AIRBORNE) & (legs["t1_s"] > legs["t0_s"])
    idx = np.flatnonzero(air)
    if not stations or len(idx) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
    t0, t1 = legs["t0_s"][idx], legs["t1_s"][idx]
    p0 = np.column_stack([legs["x0_m"], legs["y0_m"], legs["z0_m"]])[idx]
    p1 = np.column_stack([legs["x1_m"], legs["y1_m"], legs["z1_m"]])[idx]
    relay_m = relay_range_of_vehicles(run)
    if np.isfinite(relay_m).any():
        vehicle = legs["vehicle"].astype(np.int64)
        rel = np.flatnonzero(kind_in(legs["kind"], _AIRBORNE)
                             & np.isfinite(relay_m[vehicle]) & (legs["t1_s"] >= legs["t0_s"]))
        p0_all = np.column_stack([legs["x0_m"], legs["y0_m"], legs["z0_m"]])
        p1_all = np.column_stack([legs["x1_m"], legs["y1_m"], legs["z1_m"]])
        relays = relay_legs(vehicle[rel], legs["t0_s"][rel], legs["t1_s"][rel], p0_all[rel],
                            p1_all[rel], relay_m[vehicle[rel]])
        li, a, b = link_intervals_relayed(t0, t1, p0, p1, vehicle[idx], relays, stations,
                                          run.world.terrain)
    else:
        li, a, b = link_intervals(t0, t1, p0, p1, stations, run.world.terrain)
    L, A, B = out_of_link(t0, t1, li, a, b)
    vehicle = legs["vehicle"][idx][L].astype(np.int64)
    v, a, b = merge_intervals(vehicle, A, B)
    # Consecutive legs may meet a hair apart (a leg laid out as t1 - duration): stretches
    # of one vehicle at most _TOUCH_S apart are one gap, as the engine's events make them.
    if len(v) > 1:
        join = np.r_[False, (v[1:] == v[:-1]) & (a[1:] - b[:-1] <= _TOUCH_S)]
        first = np.flatnonzero(~join)
        last = np.r_[first[1:] - 1, len(v) - 1]
        v, a, b = v[first], a[first], b[last]
    return v, a, b


def relay_range_of_vehicles(run: RecordedRun) -> np.ndarray:
    """Relay range of each vehicle (slant metres; NaN where its type carries none)."""
    by_type = {t.id: (t.relay_range_m or np.nan) for t in run.scenario.vehicle_types}
    return np.array([by_type[t] for t in run.vehicles["type"]], dtype=np.float64)


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

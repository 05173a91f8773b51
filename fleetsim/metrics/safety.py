"""Safety: time spent where vehicles should not be, and terrain violations.

Zone metrics are computed from the legs with
:func:`fleetsim.geometry.zone_intervals` (polygon with holes, altitude band and
active window), independently of the ``zone_enter`` events the engine logs.
Zones are airspace: the legs of air vehicles count, whatever their kind, except
while riding on a carrier (``docked``); ground and sea vehicles' legs do not.
Intervals of one vehicle in one zone that
overlap or touch (one ends exactly where the next starts, as at a leg
boundary) are one entry.

Metrics
-------
``safety.geofence_entries``, ``safety.geofence_time_s``
    Entries into, and time inside, ``no_fly`` zones (clipped to ``[0, duration]``).
``safety.restricted_entries``, ``safety.restricted_time_s``
    The same for ``restricted`` zones.
``safety.terrain_violations``
    Number of ``terrain_violation`` events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fleetsim.geometry import merge_intervals, zone_intervals

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.record import RecordedRun

#: Metric-name prefix of each zone kind.
ZONE_KIND_PREFIX = {"no_fly": "geofence", "restricted": "restricted"}


def zone_entries(run: RecordedRun) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every entry of a vehicle into a zone: ``(vehicle, zone, t_enter_s, t_exit_s)``.

    Sorted by vehicle, zone and time; ``zone`` indexes ``run.world.zones``.
    """
    legs = run.legs
    zones = run.world.zones
    domain = run.vehicles.get("domain")
    if domain is not None and len(legs["vehicle"]):
        air = np.asarray(domain, dtype=object) == "air"
        keep = air[np.asarray(legs["vehicle"], dtype=np.int64)] & \
            (np.asarray(legs["kind"], dtype=object) != "docked")
        if not keep.all():
            legs = {k: np.asarray(col)[keep] for k, col in legs.items()}
    p0 = np.column_stack([legs["x0_m"], legs["y0_m"], legs["z0_m"]])
    p1 = np.column_stack([legs["x1_m"], legs["y1_m"], legs["z1_m"]])
    leg, zone, t_in, t_out = zone_intervals(legs["t0_s"], legs["t1_s"], p0, p1, zones)
    t_in = np.maximum(t_in, 0.0)
    t_out = np.minimum(t_out, run.duration_s)
    keep = t_out > t_in
    leg, zone, t_in, t_out = leg[keep], zone[keep], t_in[keep], t_out[keep]
    vehicle = np.asarray(legs["vehicle"], dtype=np.int64)[leg]
    n_zones = max(len(zones), 1)
    group, t_in, t_out = merge_intervals(vehicle * n_zones + zone, t_in, t_out)
    return group // n_zones, group % n_zones, t_in, t_out


def safety_metrics(run: RecordedRun) -> dict[str, float | int | None]:
    """The ``safety.*`` metrics of ``run``."""
    _, zone, t_in, t_out = zone_entries(run)
    kinds = np.array([z.kind for z in run.world.zones], dtype=object)
    out: dict[str, float | int | None] = {}
    for kind, prefix in ZONE_KIND_PREFIX.items():
        mine = kinds[zone] == kind if len(zone) else np.zeros(0, dtype=bool)
        out[f"safety.{prefix}_entries"] = int(np.count_nonzero(mine))
        out[f"safety.{prefix}_time_s"] = float(np.sum(t_out[mine] - t_in[mine]))
    out["safety.terrain_violations"] = int(
        np.count_nonzero(run.events["kind"] == "terrain_violation"))
    return out

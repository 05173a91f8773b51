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

With a ``separation`` section (from the engine's ``los_*``, ``conflict`` and
deconfliction events):

``safety.los_count``, ``safety.los_duration_s``
    Losses of separation (pairs of vehicles inside each other's minima), and
    their total duration.
``safety.min_separation_m``
    The least horizontal distance reached during a loss of separation (None
    without one).
``safety.intrusion_severity_max``, ``safety.intrusion_severity_mean``
    Per loss, 1 - d_min / R (R: the horizontal minimum of the pair's domain);
    the largest and the mean.
``safety.conflicts_detected``, ``safety.conflicts_resolved``
    Predicted losses (``conflict`` events), and those after which the pair did not
    lose separation within the look-ahead (plus one window).
``safety.strategic_delays``, ``safety.strategic_delay_mean_s``
    Take-offs delayed for a conflict-free slot, and the mean delay.
``safety.deconfliction_extra_m``
    Extra distance flown to keep separation: strategic layer changes and tactical
    steps (altitude layering by heading is part of the plan and is not counted).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import shapely
from numba import njit

from fleetsim.geometry import BOX_PREFILTER_ZONES, merge_intervals, zone_intervals
from fleetsim.metrics.kinds import event_rows, leg_mask

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
    flown = None  # (the air vehicles' legs that are not docked; None: all)
    if domain is not None and len(legs["vehicle"]):
        air = np.asarray(domain, dtype=object) == "air"
        flown = air[np.asarray(legs["vehicle"])] & ~leg_mask(run, "docked")
        if flown.all():
            flown = None
    # Only legs whose box meets a zone's box can enter it: the others are left out
    # before any per-leg array is made (most legs of a large area, and most memory).
    near = _near_zones(legs, zones, flown)
    p0 = np.column_stack([legs["x0_m"][near], legs["y0_m"][near], legs["z0_m"][near]])
    p1 = np.column_stack([legs["x1_m"][near], legs["y1_m"][near], legs["z1_m"][near]])
    leg, zone, t_in, t_out = zone_intervals(np.asarray(legs["t0_s"])[near],
                                            np.asarray(legs["t1_s"])[near], p0, p1, zones)
    leg = near[leg]
    t_in = np.maximum(t_in, 0.0)
    t_out = np.minimum(t_out, run.duration_s)
    keep = t_out > t_in
    leg, zone, t_in, t_out = leg[keep], zone[keep], t_in[keep], t_out[keep]
    vehicle = np.asarray(legs["vehicle"])[leg].astype(np.int64)
    n_zones = max(len(zones), 1)
    group, t_in, t_out = merge_intervals(vehicle * n_zones + zone, t_in, t_out)
    return group // n_zones, group % n_zones, t_in, t_out


#: Legs looked at a time by :func:`_near_zones`.
_NEAR_ROWS = 1 << 20


def _near_zones(legs: dict, zones, among: np.ndarray | None = None) -> np.ndarray:
    """Indexes (ascending) of the legs (of those ``among`` marks, default all) whose
    bounding box meets the box of one of ``zones``, a million legs at a time (the
    temporaries stay small); all of them where the zones are many
    (:func:`fleetsim.geometry.zone_intervals` then finds the candidates from a tree of
    the zones instead)."""
    if not zones:
        return np.zeros(0, dtype=np.int64)
    if len(zones) > BOX_PREFILTER_ZONES:
        return np.arange(len(legs["x0_m"])) if among is None else np.flatnonzero(among)
    boxes = shapely.bounds(np.array([z.polygon for z in zones], dtype=object)).tolist()
    x0, y0, x1, y1 = (np.asarray(legs[c]) for c in ("x0_m", "y0_m", "x1_m", "y1_m"))
    found = []
    for i in range(0, len(x0), _NEAR_ROWS):
        k = slice(i, i + _NEAR_ROWS)
        bx0, bx1 = np.minimum(x0[k], x1[k]), np.maximum(x0[k], x1[k])
        by0, by1 = np.minimum(y0[k], y1[k]), np.maximum(y0[k], y1[k])
        near = np.zeros(len(bx0), dtype=bool)
        for zx0, zy0, zx1, zy1 in boxes:
            near |= (bx0 <= zx1) & (bx1 >= zx0) & (by0 <= zy1) & (by1 >= zy0)
        if among is not None:
            near &= among[k]
        found.append(i + np.flatnonzero(near))
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def safety_metrics(run: RecordedRun) -> dict[str, float | int | None]:
    """The ``safety.*`` metrics of ``run``."""
    _, zone, t_in, t_out = zone_entries(run)
    kinds = np.array([z.kind for z in run.world.zones], dtype=object)
    out: dict[str, float | int | None] = {}
    for kind, prefix in ZONE_KIND_PREFIX.items():
        mine = kinds[zone] == kind if len(zone) else np.zeros(0, dtype=bool)
        out[f"safety.{prefix}_entries"] = int(np.count_nonzero(mine))
        out[f"safety.{prefix}_time_s"] = float(np.sum(t_out[mine] - t_in[mine]))
    out["safety.terrain_violations"] = len(event_rows(run, "terrain_violation"))
    if run.scenario.separation is not None:
        out.update(separation_metrics(run))
    return out


def separation_metrics(run: RecordedRun) -> dict[str, float | int | None]:
    """The ``safety.*`` separation metrics (see the module docstring)."""
    spec = run.scenario.separation
    ev = run.events
    # The columns as they are (no copies of a long run's columns: only rows picked
    # from them are worked on; integer widths as recorded).
    t = np.asarray(ev["time_s"], dtype=np.float64)
    a = np.asarray(ev["vehicle"])
    b = np.asarray(ev["target"])
    value = np.asarray(ev["value"], dtype=np.float64)
    starts = event_rows(run, "los_start")
    ends = event_rows(run, "los_end")
    # Each pair's losses alternate start, end, in time order: an end closes its pair's
    # earliest open start (an end with none open is ignored).
    i_start, i_end = _match_losses(starts, ends, a, b)
    durations = t[i_end] - t[i_start]
    d_min = value[i_end]
    # R of each vehicle's domain (NaN where the section sets no minima for it).
    domain = run.vehicles.get("domain")
    n_veh = len(run.vehicles["vehicle"])
    dom = (np.full(n_veh, "air", dtype=object) if domain is None
           else np.asarray(domain, dtype=object))
    r_of = np.full(n_veh, np.nan)
    for name in set(dom.tolist()):
        if name in spec.minima:
            r_of[dom == name] = spec.minima[name].horizontal_m
    severity = 1.0 - d_min / r_of[a[i_end]]
    conflicts = event_rows(run, "conflict")
    horizon = spec.lookahead_s + spec.checking_window_s(run.scenario.run.monitor_window_s,
                                                        run.scenario.run.duration_s)
    resolved = _resolved(t, a, b, starts, conflicts, horizon)
    delays = value[event_rows(run, "strategic_delay")]
    extra = value[event_rows(run, "deconflict")]
    sev = severity
    return {
        "safety.los_count": int(len(starts)),
        "safety.los_duration_s": float(np.sum(durations)) if len(durations) else 0.0,
        "safety.min_separation_m": float(np.min(d_min)) if len(d_min) else None,
        "safety.intrusion_severity_max": float(np.nanmax(sev)) if np.isfinite(sev).any()
        else None,
        "safety.intrusion_severity_mean": float(np.nanmean(sev)) if np.isfinite(sev).any()
        else None,
        "safety.conflicts_detected": int(len(conflicts)),
        "safety.conflicts_resolved": int(resolved),
        "safety.strategic_delays": int(len(delays)),
        "safety.strategic_delay_mean_s": float(np.mean(delays)) if len(delays) else None,
        "safety.deconfliction_extra_m": float(np.sum(extra)),
    }


def _resolved(t: np.ndarray, a: np.ndarray, b: np.ndarray, starts: np.ndarray,
              conflicts: np.ndarray, horizon: float) -> int:
    """Conflicts (event indexes) after which their pair's next ``los_start`` (event
    indexes ``starts``; pair ``(a, b)`` as recorded) comes later than ``horizon`` s,
    or never."""
    if not len(conflicts):
        return 0
    ca, cb = a[conflicts], b[conflicts]
    key = np.r_[a[starts], np.minimum(ca, cb)], np.r_[b[starts], np.maximum(ca, cb)]
    time = np.r_[t[starts], t[conflicts]]
    is_start = np.r_[np.ones(len(starts), dtype=bool), np.zeros(len(conflicts), dtype=bool)]
    # By pair and time, a conflict before the starts at its own time.
    order = np.lexsort((is_start, time, key[1], key[0]))
    ka, kb, time, is_start = key[0][order], key[1][order], time[order], is_start[order]
    pos = np.arange(len(order))
    # The first start at or after each position (len: none).
    nxt = np.minimum.accumulate(np.where(is_start, pos, len(pos))[::-1])[::-1]
    c = np.flatnonzero(~is_start)
    k = np.minimum(nxt[c], len(pos) - 1)
    met = (nxt[c] < len(pos)) & (ka[k] == ka[c]) & (kb[k] == kb[c]) \
        & (time[k] <= time[c] + horizon)
    return int(np.count_nonzero(~met))


def _by_pair(idx: np.ndarray, flag: np.ndarray, a: np.ndarray, b: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """``idx`` (distinct event indexes) and ``flag`` sorted by pair ``(a, b)``, then
    by ``idx``: one sort of 64-bit keys (pair, index, flag) when they fit in 64 bits,
    else a lexsort."""
    if len(idx) == 0:
        return idx, flag
    a_lo, b_lo = int(a.min()), int(b.min())
    a_bits = (int(a.max()) - a_lo).bit_length()
    b_bits = (int(b.max()) - b_lo).bit_length()
    i_bits = int(idx.max()).bit_length()
    if a_bits + b_bits + i_bits + 1 > 64 or int(idx.min()) < 0:
        order = np.lexsort((idx, b, a))
        return idx[order], flag[order]
    key = (a - a_lo).astype(np.uint64) << np.uint64(b_bits + i_bits + 1)
    key |= (b - b_lo).astype(np.uint64) << np.uint64(i_bits + 1)
    key |= idx.astype(np.uint64) << np.uint64(1)
    key |= flag.astype(np.uint64)
    key.sort()
    mask = np.uint64((1 << i_bits) - 1)
    return ((key >> np.uint64(1)) & mask).astype(idx.dtype), (key & np.uint64(1)).astype(bool)


def _match_losses(starts: np.ndarray, ends: np.ndarray, a: np.ndarray, b: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Pair each ``los_end`` (event indexes ``ends``) with the earliest still open
    ``los_start`` of its pair ``(a, b)`` (first in, first out, in recording order);
    ends with no open start are left out. Returns the matched ``(start index, end
    index)``, in the order of the ends."""
    idx = np.concatenate([starts, ends])
    if not len(idx):
        return idx, idx
    is_start = np.r_[np.ones(len(starts), dtype=bool), np.zeros(len(ends), dtype=bool)]
    idx, is_start = _by_pair(idx, is_start, a[idx], b[idx])
    i_start, i_end = _fifo_pairs(idx.astype(np.int64), is_start,
                                 np.ascontiguousarray(a[idx], dtype=np.int64),
                                 np.ascontiguousarray(b[idx], dtype=np.int64))
    back = np.argsort(i_end)  # (distinct event indexes: no ties)
    return i_start[back], i_end[back]


@njit(cache=True)
def _fifo_pairs(idx, is_start, pa, pb):
    """The walk of :func:`_match_losses` over events sorted by pair, then as recorded
    (``idx``: their indexes): a queue of each pair's open starts, each end closing the
    first (an end with none open is passed over). Returns (starts, ends) matched, by
    pair."""
    n = len(idx)
    queue = np.empty(n, dtype=np.int64)
    out_s = np.empty(n, dtype=np.int64)
    out_e = np.empty(n, dtype=np.int64)
    head = 0
    tail = 0
    m = 0
    for i in range(n):
        if i and (pa[i] != pa[i - 1] or pb[i] != pb[i - 1]):
            head = 0
            tail = 0
        if is_start[i]:
            queue[tail] = idx[i]
            tail += 1
        elif head < tail:
            out_s[m] = queue[head]
            out_e[m] = idx[i]
            head += 1
            m += 1
    return out_s[:m], out_e[:m]

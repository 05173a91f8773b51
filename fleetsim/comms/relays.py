"""Airborne relays: in-link intervals through relay vehicles that are themselves in
direct link (see :mod:`fleetsim.comms`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fleetsim.comms.links import (
    RELAY_MAX_GAP_S,
    _grid,
    grid_link_intervals,
    sample_start,
    sample_step_s,
)
from fleetsim.comms.stations import Station, is_flat
from fleetsim.geometry import merge_intervals

#: (sample, relay) pairs handled at once.
_PAIR_CHUNK = 1 << 19


@dataclass(frozen=True)
class RelayLegs:
    """Airborne legs of relay-carrying vehicles, sorted by relay, then start time
    (finite times: the engine clips open-ended legs at the end of the run)."""

    relay: np.ndarray  # (m,) int64: the vehicle carrying the relay
    t0: np.ndarray  # (m,) s
    t1: np.ndarray  # (m,) s
    p0: np.ndarray  # (m, 3) m
    p1: np.ndarray  # (m, 3) m
    range_m: np.ndarray  # (m,) relay range (slant metres)

    def __len__(self) -> int:
        return len(self.t0)


def relay_legs(vehicle, t0, t1, p0, p1, range_m) -> RelayLegs:
    """Relay legs from leg columns (the caller passes airborne legs only).

    ``range_m``: relay range per leg (or one for all); legs with a NaN or non-positive
    range carry no relay and are dropped, and so are legs never flown (``t1 < t0``,
    e.g. cancelled legs with ``t1 = -inf``)."""
    vehicle = np.asarray(vehicle, dtype=np.int64)
    t0 = np.asarray(t0, dtype=np.float64)
    t1 = np.asarray(t1, dtype=np.float64)
    p0 = np.asarray(p0, dtype=np.float64).reshape(-1, 3)
    p1 = np.asarray(p1, dtype=np.float64).reshape(-1, 3)
    range_m = np.broadcast_to(np.asarray(range_m, dtype=np.float64), t0.shape)
    keep = np.flatnonzero((t1 >= t0) & (range_m > 0))
    idx = keep[np.lexsort((t1[keep], t0[keep], vehicle[keep]))]
    return RelayLegs(vehicle[idx], t0[idx], t1[idx], p0[idx], p1[idx], range_m[idx].copy())


def _last_start_at_or_before(g_i, a_i, g_q, t_q) -> np.ndarray:
    """For each query, the index of the interval of the same group with the latest start
    ``<= t_q``, or of an earlier group's, or -1 (the caller checks the group).
    Intervals must be sorted by group, then start."""
    n, m = len(g_i), len(g_q)
    g = np.concatenate([g_i, g_q])
    t = np.concatenate([a_i, t_q])
    is_q = np.concatenate([np.zeros(n, dtype=np.int8), np.ones(m, dtype=np.int8)])
    order = np.lexsort((is_q, t, g))
    idx = np.concatenate([np.arange(n, dtype=np.int64), np.full(m, -1, dtype=np.int64)])
    running = np.maximum.accumulate(idx[order])
    out = np.empty(m, dtype=np.int64)
    q = order >= n
    out[order[q] - n] = running[q]
    return out


def _relay_timelines(relays: RelayLegs, stations: list[Station], terrain, *,
                     los_step_m: float, max_gap_s: float):
    """When each relay is itself in direct link: per relay vehicle (sorted), merged
    intervals ``(relay, start, end)`` sorted by relay and start."""
    leg, a, b = grid_link_intervals(relays.t0, relays.t1, relays.p0, relays.p1, stations,
                                    terrain, los_step_m=los_step_m, max_gap_s=max_gap_s)
    return merge_intervals(relays.relay[leg], a, b)


def _relayed(s, x, xv, relays: RelayLegs, stations: list[Station], terrain, *,
             los_step_m: float, max_gap_s: float) -> np.ndarray:
    """Whether a relay links position ``x`` (of vehicle ``xv``) at time ``s``, per sample."""
    out = np.zeros(len(s), dtype=bool)
    ids, lo = np.unique(relays.relay, return_index=True)
    hi = np.r_[lo[1:], len(relays)]
    n_r = len(ids)
    dv, da, db = _relay_timelines(relays, stations, terrain, los_step_m=los_step_m,
                                  max_gap_s=max_gap_s)
    d_lo = np.searchsorted(dv, ids, side="left")
    d_hi = np.searchsorted(dv, ids, side="right")
    if not (d_hi > d_lo).any():
        return out  # no relay is ever in direct link
    flat = is_flat(terrain)
    rt0, rt1 = relays.t0, relays.t1
    rspan = rt1 - rt0
    moving = rspan > 0
    inv_span = np.where(moving, 1.0 / np.where(moving, rspan, 1.0), 0.0)
    (r0x, r0y, r0z), (ux, uy, uz) = relays.p0.T, (relays.p1 - relays.p0).T
    range2 = relays.range_m ** 2
    chunk = max(1, _PAIR_CHUNK // n_r)
    for c0 in range(0, len(s), chunk):
        sc, vc = s[c0:c0 + chunk], xv[c0:c0 + chunk]
        xx, xy, xz = x[c0:c0 + chunk].T
        c = len(sc)
        dist2 = np.full((c, n_r), np.inf)  # squared distance to each usable relay
        leg = np.zeros((c, n_r), dtype=np.int64)
        frac = np.zeros((c, n_r))
        for k in range(n_r):  # relays are few: a few vector operations over samples each
            if d_hi[k] == d_lo[k]:
                continue
            # Where relay k is then: the last of its legs starting by then, if it lasts.
            j = np.searchsorted(rt0[lo[k]:hi[k]], sc, side="right") - 1
            jj = lo[k] + np.maximum(j, 0)
            ok = (j >= 0) & (sc <= rt1[jj]) & (vc != ids[k])
            # Itself in direct link then.
            i = np.searchsorted(da[d_lo[k]:d_hi[k]], sc, side="right") - 1
            ok &= (i >= 0) & (sc <= db[d_lo[k] + np.maximum(i, 0)])
            f = (sc - rt0[jj]) * inv_span[jj]
            d2 = (r0x[jj] + f * ux[jj] - xx) ** 2 + (r0y[jj] + f * uy[jj] - xy) ** 2 \
                + (r0z[jj] + f * uz[jj] - xz) ** 2
            ok &= d2 <= range2[jj]
            dist2[ok, k] = d2[ok]
            leg[:, k] = jj
            frac[:, k] = f
        usable = np.isfinite(dist2)
        if flat:
            out[c0:c0 + c] = usable.any(axis=1)
            continue
        # Line of sight to the vehicle, nearest usable relay first, until one is in sight.
        rows = np.flatnonzero(usable.any(axis=1))
        while len(rows):
            k = np.argmin(dist2[rows], axis=1)
            jj, f = leg[rows, k], frac[rows, k]
            rp = relays.p0[jj] + f[:, None] * (relays.p1[jj] - relays.p0[jj])
            good = terrain.line_of_sight(rp, x[c0 + rows])
            out[c0 + rows[good]] = True
            bad, kb = rows[~good], k[~good]
            dist2[bad, kb] = np.inf
            rows = bad[np.isfinite(dist2[bad]).any(axis=1)]
    return out


def relay_link_intervals(t0, t1, p0, p1, vehicle, relays: RelayLegs, stations: list[Station],
                         terrain, *, los_step_m: float = 100.0,
                         max_gap_s: float = RELAY_MAX_GAP_S, t_from=None, direct=None
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intervals in link through an airborne relay: ``(leg_index, t_start, t_end)``,
    merged per leg, sorted.

    Each leg is sampled at ``t0 + i dt`` (``dt`` from :func:`sample_step_s`); a sample
    stands for the stretch up to the next sample (or the leg's end). At a sample the
    vehicle is relayed if some relay vehicle other than itself is airborne then (a leg
    in ``relays`` holds that time), within its relay range (slant) with terrain line of
    sight, and itself in direct link then (:func:`grid_link_intervals` of the relay's
    legs: exact slant range, line of sight sampled along the relay's own legs).

    Parameters
    ----------
    t0, t1, p0, p1 :
        The legs to evaluate (finite times), as in :func:`link_intervals`.
    vehicle : (n,) int
        Vehicle of each leg (a relay does not relay itself).
    relays :
        Where the relays are (see :func:`relay_legs`).
    t_from : (n,) float, optional
        Evaluate each leg only from its last sample at or before ``t_from``.
    direct : (leg, start, end), optional
        Direct in-link intervals of the legs (:func:`link_intervals`): stretches inside
        them are not sampled, since a relay adds nothing there.
    """
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0))
    t0 = np.asarray(t0, dtype=np.float64)
    t1 = np.asarray(t1, dtype=np.float64)
    p0 = np.asarray(p0, dtype=np.float64).reshape(-1, 3)
    p1 = np.asarray(p1, dtype=np.float64).reshape(-1, 3)
    vehicle = np.broadcast_to(np.asarray(vehicle, dtype=np.int64), t0.shape)
    n = len(t0)
    if n == 0 or len(relays) == 0 or not stations:
        return empty
    dt = sample_step_s(t0, t1, p0, p1, terrain, los_step_m=los_step_m, max_gap_s=max_gap_s)
    count, first = _grid(t0, t1, dt, t_from)
    if direct is not None and len(direct[0]):
        dl, da, db = direct
        whole = (da <= t0[dl] + 1e-9) & (db >= t1[dl] - 1e-9)
        count[dl[whole]] = first[dl[whole]]  # directly in link throughout: nothing to do
    m = count - first
    total = int(m.sum())
    if total == 0:
        return empty
    owner = np.repeat(np.arange(n), m)
    i = first[owner] + np.arange(total) - np.repeat(np.cumsum(m) - m, m)
    s = t0[owner] + i * dt[owner]
    e = np.minimum(t0[owner] + (i + 1) * dt[owner], t1[owner])
    keep = e > s + 1e-9
    if direct is not None and len(direct[0]):
        dl, da, db = direct
        k = _last_start_at_or_before(dl, da, owner, s)
        kk = np.maximum(k, 0)
        keep &= ~((k >= 0) & (dl[kk] == owner) & (db[kk] >= e))
    owner, s, e = owner[keep], s[keep], e[keep]
    if len(s) == 0:
        return empty
    span = t1[owner] - t0[owner]
    f = (s - t0[owner]) / span
    x = p0[owner] + f[:, None] * (p1[owner] - p0[owner])
    linked = _relayed(s, x, vehicle[owner], relays, stations, terrain, los_step_m=los_step_m,
                      max_gap_s=max_gap_s)
    return merge_intervals(owner[linked], s[linked], e[linked])


def link_intervals_relayed(t0, t1, p0, p1, vehicle, relays: RelayLegs,
                           stations: list[Station], terrain, *, los_step_m: float = 100.0,
                           max_gap_s: float = RELAY_MAX_GAP_S, t_from=None, direct=None
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """In-link intervals of legs, directly or through an airborne relay:
    ``(leg_index, t_start, t_end)``, merged per leg, sorted.

    The union of the direct intervals (``direct`` if given, else
    :func:`grid_link_intervals`: line of sight on the relay sample grid, so that a leg
    cut short keeps all its samples) and :func:`relay_link_intervals`. With ``t_from``,
    each leg is evaluated from its last relay sample at or before ``t_from``
    (:func:`sample_start`) and the intervals are clipped to that.
    """
    t0 = np.asarray(t0, dtype=np.float64)
    t1 = np.asarray(t1, dtype=np.float64)
    p0 = np.asarray(p0, dtype=np.float64).reshape(-1, 3)
    p1 = np.asarray(p1, dtype=np.float64).reshape(-1, 3)
    if direct is None:
        direct = grid_link_intervals(t0, t1, p0, p1, stations, terrain, los_step_m=los_step_m,
                                     max_gap_s=max_gap_s)
    rl, ra, rb = relay_link_intervals(t0, t1, p0, p1, vehicle, relays, stations, terrain,
                                      los_step_m=los_step_m, max_gap_s=max_gap_s,
                                      t_from=t_from, direct=direct)
    leg, a, b = merge_intervals(np.concatenate([direct[0], rl]).astype(np.int64),
                                np.concatenate([direct[1], ra]),
                                np.concatenate([direct[2], rb]))
    if t_from is not None and len(leg):
        start = sample_start(t0, t1, p0, p1, t_from, terrain, los_step_m=los_step_m,
                             max_gap_s=max_gap_s)
        a = np.maximum(a, start[leg])
        keep = b > a
        leg, a, b = leg[keep], a[keep], b[keep]
    return leg, a, b

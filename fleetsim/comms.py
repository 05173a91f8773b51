"""Communications: when is a vehicle in radio contact with the ground?

A vehicle is *in link* while it is within the slant range of a ground station
(any site with ``radio_range_m``) and has terrain line of sight to that
station's antenna. For a straight leg at constant speed the slant distance
squared is a quadratic in time, so the range part is exact; line of sight is
sampled along the leg every ``los_step_m`` metres (at least every terrain grid
cell) and taken as constant between samples.

Everything here works on arrays of legs at once and is used both by the engine
(to raise link-lost/restored events) and by the metrics (to score time out of
link from the recorded legs), so the two agree by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fleetsim.geometry import merge_intervals


@dataclass(frozen=True)
class Station:
    index: int  # site index
    xyz: tuple[float, float, float]  # antenna position, metres
    range_m: float


def stations_of(world) -> list[Station]:
    """The ground stations of a world: sites with a radio range."""
    return [Station(s.index, (s.xy[0], s.xy[1], s.antenna_z_m), float(s.radio_range_m))
            for s in world.sites if s.radio_range_m]


def range_intervals(t0, t1, p0, p1, station: Station) -> tuple[np.ndarray, np.ndarray]:
    """Times each leg is within ``station``'s slant range (NaN where never).

    ``p0``, ``p1``: (n, 3) leg ends; returns ``(t_in, t_out)`` clipped to the legs.
    """
    t0 = np.asarray(t0, dtype=np.float64)
    t1 = np.asarray(t1, dtype=np.float64)
    span = t1 - t0
    c = np.asarray(station.xyz)
    w = p0 - c  # (n, 3)
    u = p1 - p0  # displacement over the leg; position at fraction f: w + f u
    a = np.einsum("ij,ij->i", u, u)
    b = 2.0 * np.einsum("ij,ij->i", w, u)
    cc = np.einsum("ij,ij->i", w, w) - station.range_m ** 2
    f_in = np.full(len(t0), np.nan)
    f_out = np.full(len(t0), np.nan)
    still = a <= 1e-12
    inside_still = still & (cc <= 0.0)
    f_in[inside_still], f_out[inside_still] = 0.0, 1.0
    moving = ~still
    disc = b * b - 4.0 * a * cc
    ok = moving & (disc >= 0.0)
    sq = np.sqrt(np.where(ok, disc, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = (-b - sq) / (2.0 * a)
        hi = (-b + sq) / (2.0 * a)
    ok &= (hi >= 0.0) & (lo <= 1.0)
    f_in[ok] = np.maximum(lo[ok], 0.0)
    f_out[ok] = np.minimum(hi[ok], 1.0)
    return t0 + f_in * span, t0 + f_out * span


def link_intervals(t0, t1, p0, p1, stations: list[Station], terrain, *,
                   los_step_m: float = 100.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """In-link intervals of legs: ``(leg_index, t_start, t_end)``, merged per leg, sorted.

    Parameters
    ----------
    t0, t1 : (n,) float
        Leg start and end times (s).
    p0, p1 : (n, 3) float
        Leg start and end positions (m, z above datum).
    stations :
        Ground stations (see :func:`stations_of`).
    terrain :
        A :class:`fleetsim.world.terrain.Terrain` for line of sight.
    """
    t0 = np.asarray(t0, dtype=np.float64)
    t1 = np.asarray(t1, dtype=np.float64)
    p0 = np.asarray(p0, dtype=np.float64).reshape(-1, 3)
    p1 = np.asarray(p1, dtype=np.float64).reshape(-1, 3)
    step = max(los_step_m, terrain.spacing_m)
    flat = bool(np.ptp(terrain.heights_m) == 0.0)
    legs, starts, ends = [], [], []
    span = t1 - t0
    length = np.hypot(*(p1[:, :2] - p0[:, :2]).T)
    for st in stations:
        t_in, t_out = range_intervals(t0, t1, p0, p1, st)
        hit = np.flatnonzero(~np.isnan(t_in) & (t_out > t_in))
        if len(hit) == 0:
            continue
        if flat:
            legs.append(hit)
            starts.append(t_in[hit])
            ends.append(t_out[hit])
            continue
        # Line of sight sampled along each in-range piece, constant between samples.
        f_a = np.where(span[hit] > 0, (t_in[hit] - t0[hit]) / np.where(span[hit] > 0,
                                                                         span[hit], 1.0), 0.0)
        f_b = np.where(span[hit] > 0, (t_out[hit] - t0[hit]) / np.where(span[hit] > 0,
                                                                          span[hit], 1.0), 1.0)
        k = np.maximum(1, np.ceil((f_b - f_a) * length[hit] / step).astype(np.int64))
        owner = np.repeat(np.arange(len(hit)), k + 1)
        pos_in = np.arange(len(owner)) - np.repeat(np.cumsum(k + 1) - (k + 1), k + 1)
        f = f_a[owner] + (f_b - f_a)[owner] * pos_in / k[owner]
        leg = hit[owner]
        pts = p0[leg] + f[:, None] * (p1[leg] - p0[leg])
        ant = np.broadcast_to(np.asarray(st.xyz), pts.shape)
        vis = terrain.line_of_sight(pts, ant)
        times = t0[leg] + f * span[leg]
        # A visible sample stands for the stretch up to the next sample of its piece.
        last = np.r_[pos_in[1:] == 0, True]
        keep = vis & ~last
        legs.append(leg[keep])
        starts.append(times[keep])
        ends.append(np.r_[times[1:], np.nan][keep])
    if not legs:
        return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
    leg = np.concatenate(legs)
    a = np.concatenate(starts)
    b = np.concatenate(ends)
    return merge_intervals(leg, a, b)


def out_of_link(t0, t1, leg, a, b) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Complement of in-link intervals within each leg: ``(leg_index, t_start, t_end)``.

    ``leg, a, b`` as returned by :func:`link_intervals` (sorted by leg, then time).
    Legs with no in-link interval are out of link for their whole duration.
    """
    t0 = np.asarray(t0, dtype=np.float64)
    t1 = np.asarray(t1, dtype=np.float64)
    n = len(t0)
    # Gaps: before the first interval, between intervals, after the last.
    first = np.r_[True, leg[1:] != leg[:-1]] if len(leg) else np.zeros(0, dtype=bool)
    last = np.r_[leg[1:] != leg[:-1], True] if len(leg) else np.zeros(0, dtype=bool)
    out_leg = [leg[first], leg[~first], leg[last]]
    out_a = [t0[leg[first]], b[:-1][~first[1:]] if len(leg) else np.zeros(0), b[last]]
    out_b = [a[first], a[~first], t1[leg[last]]]
    none = np.setdiff1d(np.arange(n), leg)
    out_leg.append(none)
    out_a.append(t0[none])
    out_b.append(t1[none])
    L = np.concatenate(out_leg)
    A = np.concatenate(out_a)
    B = np.concatenate(out_b)
    keep = B > A + 1e-9
    L, A, B = L[keep], A[keep], B[keep]
    order = np.lexsort((A, L))
    return L[order], A[order], B[order]

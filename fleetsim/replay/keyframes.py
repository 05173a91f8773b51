"""Time-chunked keyframes: where every vehicle is, exactly, from the legs table.

A vehicle's legs tile ``[0, duration]`` and each is a straight line flown at
constant speed, so its position (and, linearly, its battery) at any time is an
interpolation between two *keyframes*: the ends of its legs. A chunk covering
``[t0, t1]`` holds, for each vehicle, in time order:

1. a snapshot at ``t0`` (interpolated inside the leg that holds ``t0``);
2. one row per leg that ends strictly inside ``(t0, t1)``;
3. a snapshot at ``t1`` (interpolated inside the leg that holds ``t1`` from the left).

So a chunk alone answers "where is every vehicle at t" for any t in it, and the
segment between consecutive rows ``i - 1`` and ``i`` of a vehicle lies on one leg,
whose kind and sensing flag are stored on row ``i``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fleetsim.record import LEG_KINDS, Table

#: Bit 0 of a keyframe's ``flags``: the sensor was on during the segment ending here.
FLAG_SENSING = 1

#: Keyframe columns and their dtypes (the chunk file also holds ``offsets``, <u4).
KEYFRAME_COLUMNS = {"t_s": "<f4", "x_m": "<f4", "y_m": "<f4", "z_m": "<f4",
                    "battery_wh": "<f4", "kind": "<u1", "flags": "<u1"}


@dataclass(frozen=True)
class SortedLegs:
    """The legs table ordered by (vehicle, time), with each vehicle's row range."""

    n_vehicles: int
    #: Dense vehicle index (position in the sorted vehicles table) of each leg.
    vehicle: np.ndarray
    kind: np.ndarray  # uint8 code into LEG_KINDS
    sensing: np.ndarray
    t0: np.ndarray
    t1: np.ndarray
    p0: np.ndarray  # (n, 3)
    p1: np.ndarray  # (n, 3)
    b0: np.ndarray  # battery at t0 (the previous leg's battery_end_wh)
    b1: np.ndarray  # battery_end_wh
    start: np.ndarray  # (n_vehicles,) first row of each vehicle
    stop: np.ndarray  # (n_vehicles,) one past the last row


def dense_vehicle_index(vehicles: Table) -> tuple[np.ndarray, np.ndarray]:
    """(order, sorted ids): the vehicles table in id order; dense index = position."""
    ids = np.asarray(vehicles["vehicle"], dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    if len(sorted_ids) > 1 and np.any(sorted_ids[1:] == sorted_ids[:-1]):
        raise ValueError("the vehicles table has duplicate vehicle ids")
    return order, sorted_ids


def to_dense(ids: np.ndarray, sorted_ids: np.ndarray, *, allow_missing: bool) -> np.ndarray:
    """Map recorded vehicle ids to dense indices (-1 for -1 and, if allowed, unknown ids)."""
    ids = np.asarray(ids, dtype=np.int64)
    pos = np.searchsorted(sorted_ids, ids)
    pos_c = np.minimum(pos, max(len(sorted_ids) - 1, 0))
    found = (len(sorted_ids) > 0) & (ids >= 0)
    if len(sorted_ids):
        found &= sorted_ids[pos_c] == ids
    if not allow_missing and np.any(~found & (ids >= 0)):
        bad = ids[~found & (ids >= 0)][0]
        raise ValueError(f"vehicle id {bad} is not in the vehicles table")
    return np.where(found, pos_c, -1).astype(np.int32)


def sort_legs(legs: Table, vehicles: Table) -> SortedLegs:
    _, sorted_ids = dense_vehicle_index(vehicles)
    n_v = len(sorted_ids)
    dense = to_dense(legs["vehicle"], sorted_ids, allow_missing=False).astype(np.int64)
    t0 = np.asarray(legs["t0_s"], dtype=np.float64)
    t1 = np.asarray(legs["t1_s"], dtype=np.float64)
    leg_id = np.asarray(legs["leg"], dtype=np.int64)
    order = np.lexsort((leg_id, t1, t0, dense))
    code = {k: i for i, k in enumerate(LEG_KINDS)}
    kinds = np.asarray(legs["kind"], dtype=object)
    try:
        kind = np.fromiter((code[k] for k in kinds[order]), dtype=np.uint8, count=len(order))
    except KeyError as exc:
        raise ValueError(f"unknown leg kind {exc.args[0]!r}; expected one of {LEG_KINDS}") from None
    p0 = np.column_stack([legs["x0_m"], legs["y0_m"], legs["z0_m"]]).astype(np.float64)[order]
    p1 = np.column_stack([legs["x1_m"], legs["y1_m"], legs["z1_m"]]).astype(np.float64)[order]
    b1 = np.asarray(legs["battery_end_wh"], dtype=np.float64)[order]
    dv = dense[order]
    counts = np.bincount(dv, minlength=n_v) if len(dv) else np.zeros(n_v, dtype=np.int64)
    stop = np.cumsum(counts)
    # Battery at a leg's start: where the vehicle's previous leg left it (a charge leg
    # draws no energy but refills the battery); the first leg's, from its energy.
    b0 = np.empty_like(b1)
    b0[1:] = b1[:-1]
    first = (stop - counts)[counts > 0]
    b0[first] = b1[first] + np.asarray(legs["energy_wh"], dtype=np.float64)[order][first]
    return SortedLegs(n_v, dv, kind, np.asarray(legs["sensing"], dtype=bool)[order],
                      t0[order], t1[order], p0, p1, b0, b1, stop - counts, stop)


def _fraction(sl: SortedLegs, idx: np.ndarray, t: float) -> np.ndarray:
    t0, t1 = sl.t0[idx], sl.t1[idx]
    span = t1 - t0
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(span > 0, (t - t0) / span, 1.0)
    return np.clip(f, 0.0, 1.0)


def holding_leg(sl: SortedLegs, t: float, *, side: str) -> tuple[np.ndarray, np.ndarray]:
    """For each vehicle with legs: (vehicles, row of the leg that holds ``t``).

    ``side="right"``: the leg with ``t0 <= t < t1``; ``"left"``: ``t0 < t <= t1``.
    Past the last leg (or before the first) the nearest leg is used.
    """
    has = sl.stop > sl.start
    v = np.flatnonzero(has)
    before = sl.t1 <= t if side == "right" else sl.t1 < t
    n_before = np.bincount(sl.vehicle[before], minlength=sl.n_vehicles)
    row = np.minimum(sl.start + n_before, sl.stop - 1)[v]
    return v, row


def state_at(sl: SortedLegs, t: float, *, side: str = "right") -> dict[str, np.ndarray]:
    """Exact interpolated state of every vehicle at ``t`` (float64); vehicles without
    legs get NaN positions and kind 255. Keys: x, y, z, battery, kind, sensing, leg_row."""
    n = sl.n_vehicles
    out = {"x": np.full(n, np.nan), "y": np.full(n, np.nan), "z": np.full(n, np.nan),
           "battery": np.full(n, np.nan), "kind": np.full(n, 255, dtype=np.uint8),
           "sensing": np.zeros(n, dtype=bool), "leg_row": np.full(n, -1, dtype=np.int64)}
    v, row = holding_leg(sl, t, side=side)
    f = _fraction(sl, row, t)
    p = sl.p0[row] + f[:, None] * (sl.p1[row] - sl.p0[row])
    out["x"][v], out["y"][v], out["z"][v] = p[:, 0], p[:, 1], p[:, 2]
    out["battery"][v] = sl.b0[row] + f * (sl.b1[row] - sl.b0[row])
    out["kind"][v] = sl.kind[row]
    out["sensing"][v] = sl.sensing[row]
    out["leg_row"][v] = row
    return out


def chunk_bounds(duration_s: float, n_legs: int, n_vehicles: int,
                 chunk_s: float | None = None) -> list[tuple[float, float]]:
    """Chunk time spans tiling ``[0, duration_s]``.

    By default each chunk holds about twelve leg ends per vehicle (so the two
    snapshots per vehicle a chunk repeats stay a small part of the bundle) and at
    most ~250,000 rows (about 5.5 MB to load on a seek); boundaries are whole
    seconds.
    """
    T = float(duration_s)
    if not T > 0:
        return [(0.0, max(T, 0.0))]
    if chunk_s is None:
        n_v = max(n_vehicles, 1)
        n = max(1, round(n_legs / (12 * n_v)), math.ceil((n_legs + 2 * n_v) / 250_000))
        n = min(n, max(1, math.floor(T / 10.0)))  # no chunk shorter than 10 s
        chunk_s = T / n
    chunk_s = float(chunk_s)
    if not chunk_s > 0:
        raise ValueError(f"chunk_s must be positive, got {chunk_s}")
    if chunk_s >= 1.0:
        chunk_s = float(math.ceil(chunk_s - 1e-9))
    n = max(1, math.ceil(T / chunk_s - 1e-9))
    edges = [min(k * chunk_s, T) for k in range(n)] + [T]
    return [(edges[k], edges[k + 1]) for k in range(n) if edges[k + 1] > edges[k]] or [(0.0, T)]


def chunk_keyframes(sl: SortedLegs, t0: float, t1: float) -> dict[str, np.ndarray]:
    """The keyframe columns (and ``offsets``) of the chunk ``[t0, t1]``."""
    parts = []
    for t, side, rank in ((t0, "right", 0), (t1, "left", 2)):
        v, row = holding_leg(sl, t, side=side)
        f = _fraction(sl, row, t)
        p = sl.p0[row] + f[:, None] * (sl.p1[row] - sl.p0[row])
        parts.append({"v": v, "t": np.full(len(v), t), "rank": np.full(len(v), rank),
                      "seq": np.zeros(len(v), dtype=np.int64), "p": p,
                      "b": sl.b0[row] + f * (sl.b1[row] - sl.b0[row]),
                      "kind": sl.kind[row], "sensing": sl.sensing[row]})
    inside = np.flatnonzero((sl.t1 > t0) & (sl.t1 < t1))
    parts.append({"v": sl.vehicle[inside], "t": sl.t1[inside],
                  "rank": np.ones(len(inside), dtype=np.int64), "seq": inside,
                  "p": sl.p1[inside], "b": sl.b1[inside], "kind": sl.kind[inside],
                  "sensing": sl.sensing[inside]})
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((cat["seq"], cat["rank"], cat["v"]))
    v = cat["v"][order]
    counts = np.bincount(v, minlength=sl.n_vehicles) if len(v) else np.zeros(sl.n_vehicles,
                                                                              dtype=np.int64)
    offsets = np.zeros(sl.n_vehicles + 1, dtype=np.uint32)
    offsets[1:] = np.cumsum(counts)
    p = cat["p"][order]
    return {
        "offsets": offsets,
        "t_s": cat["t"][order].astype("<f4"),
        "x_m": p[:, 0].astype("<f4"), "y_m": p[:, 1].astype("<f4"), "z_m": p[:, 2].astype("<f4"),
        "battery_wh": cat["b"][order].astype("<f4"),
        "kind": cat["kind"][order].astype(np.uint8),
        "flags": np.where(cat["sensing"][order], FLAG_SENSING, 0).astype(np.uint8),
    }


def interpolate_chunk(chunk: dict[str, np.ndarray], t: float) -> dict[str, np.ndarray]:
    """What the viewer computes: every vehicle's state at ``t`` from one decoded chunk
    (NaN / kind 255 for vehicles without rows). Mirrors ``viz/js/player.js``."""
    off = chunk["offsets"].astype(np.int64)
    n = len(off) - 1
    ts = chunk["t_s"].astype(np.float64)
    out = {"x": np.full(n, np.nan), "y": np.full(n, np.nan), "z": np.full(n, np.nan),
           "battery": np.full(n, np.nan), "kind": np.full(n, 255, dtype=np.uint8)}
    for v in range(n):
        a, b = int(off[v]), int(off[v + 1])
        if b <= a:
            continue
        seg = ts[a:b]
        # Row i with seg[i-1] <= t <= seg[i]: the first row whose time is >= t.
        i = a + int(np.searchsorted(seg, t, side="left"))
        if i >= b:
            i = b - 1
        j = max(i - 1, a)
        if i == a or ts[i] <= ts[j]:
            f = 1.0
        else:
            f = min(max((t - ts[j]) / (ts[i] - ts[j]), 0.0), 1.0)
        for key, col in (("x", "x_m"), ("y", "y_m"), ("z", "z_m"), ("battery", "battery_wh")):
            c = chunk[col]
            out[key][v] = float(c[j]) + f * (float(c[i]) - float(c[j]))
        out["kind"][v] = chunk["kind"][i]
    return out

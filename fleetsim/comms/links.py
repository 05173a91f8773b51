"""Direct links: the in-link intervals of legs with ground stations, their k-d trees
and grids, line of sight from the stations' horizons (see :mod:`fleetsim.comms`)."""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from fleetsim.comms.kernels import (
    in_range_throughout,
    leg_midpoints,
    near_pairs_in_order,
    nearest_in_grid,
    sample_points,
    visible_runs,
)
from fleetsim.comms.stations import (
    Station,
    _range_times,
    _station_arrays,
    _station_entry,
    is_flat,
    station_in_sight,
)
from fleetsim.geometry import merge_intervals

#: Up to this many stations, each is checked against every leg (no k-d tree).
_FEW_STATIONS = 24
#: Points per station above which a batch's line-of-sight queries go station by station
#: (contiguous slices) rather than in one gather over all stations.
_PER_STATION_POINTS = 4096


def _in_range_pairs(t0, t1, p0, p1, stations: list[Station]):
    """The (leg, station) pairs in range at some time: ``(leg, station, t_in, t_out,
    distance)`` with ``t_out > t_in`` (times as :func:`range_intervals` gives them),
    sorted by leg, then by the horizontal distance from the leg's midpoint to the
    station, then by station (see :func:`_near_pairs`)."""
    pl, ps, dist = _near_pairs(p0, p1, stations)
    t_in, t_out = _pair_range_times(t0, t1, p0, p1, stations, pl, ps)
    hit = ~np.isnan(t_in) & (t_out > t_in)
    return pl[hit], ps[hit], t_in[hit], t_out[hit], dist[hit]


#: Legs at once from which :func:`_settled_by_nearest` looks their nearest station up
#: in a grid (built on first use) rather than a k-d tree.
_NEAREST_GRID_LEGS = 512
#: Cells per side of :func:`_nearest_cells`' grid.
_NEAREST_CELLS = 256
#: Most candidate stations a cell of :func:`_nearest_cells`' grid lists.
_NEAREST_CANDIDATES = 4


def _nearest_cells(stations: list[Station]):
    """A grid over the stations (and a margin around them) listing, per cell, every
    station that is the nearest to some point of the cell (give or take rounding):
    ``(x0, y0, cell size, count (ny, nx) int8, stations (ny, nx, k) int32)``, each
    cell's stations in ascending order (padded with -1); a count of 0: more than
    :data:`_NEAREST_CANDIDATES` (look the cell's points up in the k-d tree)."""
    extra = _station_entry(stations)[3]
    grid = extra.get("nearest")
    if grid is None:
        sxyz, _, _, _, tree = _station_arrays(stations)
        n_st = len(stations)
        lo = sxyz[:, :2].min(axis=0)
        hi = sxyz[:, :2].max(axis=0)
        pad = 0.25 * float((hi - lo).max()) + 1000.0
        lo, hi = lo - pad, hi + pad
        size = float((hi - lo).max()) / _NEAREST_CELLS
        nx, ny = (int(math.ceil(float(w) / size)) for w in hi - lo)
        cx = lo[0] + (np.arange(nx) + 0.5) * size
        cy = lo[1] + (np.arange(ny) + 0.5) * size
        centre = np.column_stack([np.tile(cx, ny), np.repeat(cy, nx)])
        k = min(_NEAREST_CANDIDATES, n_st)
        d, j = tree.query(centre, k=k)
        d, j = d.reshape(len(centre), k), j.reshape(len(centre), k)
        # A station nearest to a point of the cell (every point is within half the
        # cell's diagonal of its centre) is within the diagonal of the centre's nearest
        # distance from the centre.
        bound = d[:, :1] + math.sqrt(2.0) * size
        within = d <= bound + 1e-6 * bound + 1.0
        count = within.sum(axis=1)
        if k < n_st:
            count[within[:, -1]] = 0  # maybe more than k: the tree decides
        cand = np.sort(np.where(within, j, n_st), axis=1)
        cand[cand == n_st] = -1
        grid = extra["nearest"] = (float(lo[0]), float(lo[1]), size,
                                   count.astype(np.int8).reshape(ny, nx),
                                   cand.astype(np.int32).reshape(ny, nx, k))
    return grid


def _nearest_station(mid: np.ndarray, ok: np.ndarray, stations: list[Station]) -> np.ndarray:
    """(n,) int: the station horizontally nearest each point ``mid`` (n, 2) where ``ok``
    (the finite ones) as :func:`_near_pairs` orders them (by ``np.hypot`` distance, ties
    to the lower station), or -1 where it is not known exactly (it is then a near tie)
    or not ``ok``. With :data:`_NEAREST_GRID_LEGS` points or more, most come from the
    grid of :func:`_nearest_cells`; the others from the k-d tree's two nearest, if the
    first is clearly the nearer."""
    n_st = len(stations)
    if n_st == 1:
        return np.where(ok, 0, -1).astype(np.int64)
    sxyz, _, _, _, tree = _station_arrays(stations)
    if np.count_nonzero(ok) >= _NEAREST_GRID_LEGS:
        x0, y0, size, count, cand = _nearest_cells(stations)
        s = nearest_in_grid(mid, ok, x0, y0, size, count, cand, sxyz)
    else:
        s = np.full(len(mid), -1, dtype=np.int64)
    rest = np.flatnonzero(ok & (s < 0))
    if len(rest):
        d, j = tree.query(mid[rest], k=2)
        dist = np.hypot(mid[rest, 0] - sxyz[j[:, 0], 0], mid[rest, 1] - sxyz[j[:, 0], 1])
        dist2 = np.hypot(mid[rest, 0] - sxyz[j[:, 1], 0], mid[rest, 1] - sxyz[j[:, 1], 1])
        clear = dist < np.minimum(dist2, d[:, 1]) * (1.0 - 1e-9)
        s[rest[clear]] = j[clear, 0]
    return s


def _pair_range_times(t0, t1, p0, p1, stations: list[Station], pl, ps):
    """:func:`range_intervals` of legs ``pl`` against stations ``ps`` (pair by pair)."""
    if len(pl) == 0:
        return np.zeros(0), np.zeros(0)
    sxyz, _, r2, _, _ = _station_arrays(stations)
    return _range_times(t0[pl], t1[pl], p0[pl], p1[pl], sxyz[ps], r2[ps])


def _near_pairs(p0, p1, stations: list[Station]):
    """The (leg, station) pairs that may be in range: ``(leg, station, distance)``, the
    distance horizontal from the leg's midpoint to the station, sorted by leg, then
    distance, then station.

    A leg can be within a station's slant range only if its midpoint is within that
    range plus half the leg's horizontal length of the station (horizontally), with a
    little slack (the exact test is the range quadratic itself). Up to
    :data:`_FEW_STATIONS` stations every pair is tested; with more, k-d trees of the
    stations and of the legs' midpoints give the pairs within the largest range plus
    the longest half leg (the pairs they leave out are beyond the slack, so never in
    range)."""
    n, n_st = len(p0), len(stations)
    e = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    if n == 0 or n_st == 0:
        return e
    sxyz, reach, _, _, tree = _station_arrays(stations)
    mid = 0.5 * (p0[:, :2] + p1[:, :2])
    half = 0.5 * np.hypot(*(p1[:, :2] - p0[:, :2]).T)
    ok = np.isfinite(mid).all(axis=1) & np.isfinite(half)
    legs = np.flatnonzero(ok)
    if len(legs) == 0:
        return e
    if n_st <= _FEW_STATIONS:  # a tree is no help: each leg against every station
        pl, ps = np.repeat(legs, n_st), np.tile(np.arange(n_st), len(legs))
    else:
        # Pairs closer than the largest reach plus the longest half leg (with room to
        # spare), from k-d trees of the midpoints and of the stations, in C.
        bound = float(half[legs].max()) + float(reach.max())
        bound += 1e-3 * bound + 10.0
        found = cKDTree(mid[legs]).sparse_distance_matrix(tree, bound, output_type="ndarray")
        pl, ps = legs[found["i"]], found["j"].astype(np.int64)
        by = np.argsort(pl * n_st + ps)
        pl, ps = pl[by], ps[by]
    # The pairs that may be in range, each leg's in the order it tries them: by
    # distance from its midpoint, ties by station.
    pl, ps, dist = near_pairs_in_order(pl, ps, mid, half, sxyz, reach)
    return (pl, ps, dist) if len(pl) else e


def _settled_by_nearest(t0, t1, p0, p1, stations: list[Station], flat: bool, terrain,
                        step: float):
    """The legs that :func:`_link_rest` would settle with their first candidate station:
    ``(leg, start, end)`` of their in-link intervals, and the other legs (ascending).

    A leg's first candidate is its nearest station (horizontally from its midpoint,
    ties to the lower station: :func:`_nearest_station`). If the leg is in that
    station's range throughout, it is in link throughout on flat ground; on terrain,
    if it is surely in sight all along (:func:`_surely_in_sight`), or else if its line
    of sight samples (:func:`_sample_runs`) make one stretch covering the leg. The
    stations after it are never tried. Every number is computed as the candidate loop
    computes it, so the answers are the same."""
    n, n_st = len(t0), len(stations)
    none = np.zeros(0, dtype=np.int64)
    if n == 0 or n_st == 0:
        return (none, np.zeros(0), np.zeros(0)), np.arange(n)
    sxyz, _, r2, has_horizon, _ = _station_arrays(stations)
    mid, finite = leg_midpoints(p0, p1)
    # Each leg's nearest station (-1: not known exactly, or not finite), and the legs in
    # its range throughout (on terrain, of a station with a horizon).
    s = _nearest_station(mid, finite, stations)
    usable = np.ones(n_st, dtype=bool) if flat else has_horizon
    legs, a, b = in_range_throughout(t0, t1, p0, p1, s, sxyz, r2, usable)
    s = s[legs]
    if flat:
        out = (legs, a, b)
    else:
        q0, q1 = p0[legs], p1[legs]
        keep = _surely_in_sight(stations, s, q0, q1)
        start, end = t0[legs], t1[legs]
        unsure = np.flatnonzero(~keep)
        if len(unsure):
            # Sampled along the leg, as the candidate loop samples it; settled if the
            # samples make one stretch over the whole leg (one run at most: they are
            # apart).
            u = legs[unsure]
            piece, ra, rb = _sample_runs(t0[u], t1[u], q0[unsure], q1[unsure], a[unsure],
                                         b[unsure], s[unsure], step, stations, terrain)
            full = (ra <= t0[u[piece]]) & (rb >= t1[u[piece]])
            at = unsure[piece[full]]
            keep[at] = True
            start[at], end[at] = ra[full], rb[full]
        out = (legs[keep], start[keep], end[keep])
    settled = np.zeros(n, dtype=bool)
    settled[out[0]] = True
    return out, np.flatnonzero(~settled)


def _sample_runs(t0, t1, p0, p1, t_in, t_out, st_of, step: float, stations: list[Station],
                 terrain):
    """Line of sight sampled along in-range pieces ``[t_in, t_out]`` of legs (one row a
    piece: the leg's ``t0, t1, p0, p1``, its station ``st_of``), every ``step`` metres
    or less, constant between samples: ``(piece, start, end)`` of the runs of visible
    samples (a visible sample stands for the stretch up to the next one)."""
    piece, pos, pts, times = sample_points(t0, t1, p0, p1, t_in, t_out, float(step))
    vis = _in_sight(stations, st_of[piece], pts, terrain)
    return visible_runs(piece, pos, times, vis)


def _in_sight(stations: list[Station], which: np.ndarray, pts: np.ndarray,
              terrain) -> np.ndarray:
    """(n,) bool: :func:`station_in_sight` of each point (n, 3) from its station
    ``stations[which[i]]``; all the stations' horizons in one bank answer at once."""
    out = np.zeros(len(pts), dtype=bool)
    if len(pts) == 0:
        return out
    cut = np.flatnonzero(which[1:] != which[:-1]) + 1
    if len(cut) + 1 <= len(pts) // _PER_STATION_POINTS:  # long runs of one station each
        lo, hi = np.r_[0, cut], np.r_[cut, len(pts)]
        for a, b, s in zip(lo.tolist(), hi.tolist(), which[lo].tolist(), strict=True):
            out[a:b] = station_in_sight(stations[s], pts[a:b], terrain)
        return out
    bank, ids = _bank_ids(stations)
    if bank is not None:
        return bank.visible(ids[which], pts[:, 0], pts[:, 1], pts[:, 2])
    used = np.unique(which)
    hz, ids = _one_bank(stations, used)
    if ids is not None:
        return hz[0].bank.visible(ids[which], pts[:, 0], pts[:, 1], pts[:, 2])
    order = np.argsort(which, kind="stable")
    bounds = np.searchsorted(which[order], used, side="left").tolist() + [len(order)]
    for k, s in enumerate(used.tolist()):
        sel = order[bounds[k]:bounds[k + 1]]
        out[sel] = station_in_sight(stations[s], pts[sel], terrain)
    return out


def _one_bank(stations: list[Station], used: np.ndarray) -> tuple[list, np.ndarray | None]:
    """The horizons of the ``used`` stations, and, when they all live in one bank, each
    station's id in it (indexed by station; None otherwise)."""
    hz = [stations[s].horizon for s in used.tolist()]
    if all(h is not None for h in hz) and len({id(h.bank) for h in hz}) == 1:
        ids = np.zeros(len(stations), dtype=np.int64)
        ids[used] = [h.id for h in hz]
        return hz, ids
    return hz, None


def _bank_ids(stations: list[Station]):
    """The bank of the stations' horizons and each station's id in it, when every
    station has a horizon and they all live in one bank (else ``(None, None)``); kept
    with the list."""
    extra = _station_entry(stations)[3]
    hit = extra.get("bank")
    if hit is None:
        hz = [st.horizon for st in stations]
        if hz and all(h is not None for h in hz) and len({id(h.bank) for h in hz}) == 1:
            hit = (hz[0].bank, np.array([h.id for h in hz], dtype=np.int64))
        else:
            hit = (None, None)
        extra["bank"] = hit
    return hit


def _surely_in_sight(stations: list[Station], which: np.ndarray, p0: np.ndarray,
                     p1: np.ndarray) -> np.ndarray:
    """(n,) bool: segments surely in sight of their stations' horizons all along
    (:meth:`fleetsim.world.viewshed.Horizon.segments_surely_visible`); stations
    without a horizon: False."""
    out = np.zeros(len(p0), dtype=bool)
    if len(p0) == 0:
        return out
    bank, ids = _bank_ids(stations)
    if bank is not None:
        return bank.segments_surely_visible(ids[which], p0, p1)
    used = np.unique(which)
    hz, ids = _one_bank(stations, used)
    if ids is not None:
        return hz[0].bank.segments_surely_visible(ids[which], p0, p1)
    for k, s in enumerate(used.tolist()):
        if hz[k] is not None:
            sel = np.flatnonzero(which == s)
            out[sel] = hz[k].segments_surely_visible(p0[sel], p1[sel])
    return out


#: Legs evaluated at once by :func:`link_intervals` (those its first pass does not
#: settle) and :func:`grid_link_intervals` (their samples and station pairs are held in
#: memory together).
_LEG_CHUNK = 1 << 12
#: Legs at once that :func:`link_intervals` tries with their nearest station (a few
#: numbers per leg).
_SETTLE_CHUNK = 1 << 16
#: (Leg, station) pairs at once whose line of sight :func:`_link_rest` samples.
_SAMPLED_PAIRS = 1 << 12
#: With fewer stations than this, chunks are this many times longer over the number of
#: stations (a leg has at most that many station pairs; fewer chunks, less overhead).
_CHUNK_STATIONS = 16


def _in_leg_chunks(fn, t0, t1, p0, p1, stations, *args, **kw) -> tuple[np.ndarray, np.ndarray,
                                                                        np.ndarray]:
    """``fn`` (a per-leg computation returning ``(leg, start, end)`` sorted by leg) over
    chunks of :data:`_LEG_CHUNK` legs (longer with few stations), put together: the same
    as over all legs at once."""
    t0 = np.asarray(t0, dtype=np.float64)
    t1 = np.asarray(t1, dtype=np.float64)
    p0 = np.asarray(p0, dtype=np.float64).reshape(-1, 3)
    p1 = np.asarray(p1, dtype=np.float64).reshape(-1, 3)
    n = len(t0)
    chunk = _LEG_CHUNK * max(1, _CHUNK_STATIONS // max(1, len(stations)))
    if n <= chunk:
        return fn(t0, t1, p0, p1, stations, *args, **kw)
    parts = []
    for a in range(0, n, chunk):
        b = a + chunk
        leg, start, end = fn(t0[a:b], t1[a:b], p0[a:b], p1[a:b], stations, *args, **kw)
        parts.append((leg + a, start, end))
    leg, start, end = (np.concatenate(c) for c in zip(*parts, strict=True))
    return leg, start, end


def link_intervals(t0, t1, p0, p1, stations: list[Station], terrain, *,
                   los_step_m: float = 100.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """In-link intervals of legs: ``(leg_index, t_start, t_end)``, merged per leg, sorted.

    Each leg tries the stations in range of it in the order of their horizontal
    distance from its midpoint (ties: lower station first) and stops at the first
    one it is in link with for its whole duration. With one station in range, the
    in-range stretch counts (flat ground), or, on terrain, the whole leg if it is
    surely in sight all along, else line of sight sampled every ``los_step_m``
    (at least every grid cell) along the in-range stretch, a sample standing for
    the stretch up to the next one.

    Cost: legs x stations near them (a k-d tree finds the stations a leg may be in
    range of), in vectorised batches: first every leg with its nearest station
    (:func:`_settled_by_nearest`: most legs need no other), then, for the others, the
    stations nearest the legs, then the next nearest for the legs not yet in link
    throughout, and so on.

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
    flat = is_flat(terrain)
    n = len(t0)
    parts = []
    for lo in range(0, n, _SETTLE_CHUNK):
        hi = min(n, lo + _SETTLE_CHUNK)
        (leg, start, end), rest = _settled_by_nearest(t0[lo:hi], t1[lo:hi], p0[lo:hi],
                                                      p1[lo:hi], stations, flat, terrain, step)
        parts.append((leg + lo, start, end))
        if len(rest):
            rest += lo
            leg, start, end = _in_leg_chunks(_link_rest, t0[rest], t1[rest], p0[rest],
                                             p1[rest], stations, terrain, step=step, flat=flat)
            parts.append((rest[leg], start, end))
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
    leg, start, end = (np.concatenate(c) for c in zip(*parts, strict=True))
    if len(parts) > 1:  # each part by leg; legs are in one part each
        by = np.argsort(leg, kind="stable")
        leg, start, end = leg[by], start[by], end[by]
    return leg, start, end


def _link_rest(t0, t1, p0, p1, stations: list[Station], terrain, *, step: float,
               flat: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`link_intervals` of legs, every station in range tried in turn.

    Each leg's stations in range, nearest first, count up to the first one it is in
    link with throughout (the later ones are never tried). All the pairs are evaluated
    at once (line of sight sampled in slices of :data:`_SAMPLED_PAIRS` pairs), then
    each leg's are cut after its first covering one."""
    none = np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
    cl, cs, _ = _near_pairs(p0, p1, stations)
    if len(cl) == 0:
        return none
    sxyz, _, r2, has_horizon, _ = _station_arrays(stations)
    a_r, b_r = _range_times(t0[cl], t1[cl], p0[cl], p1[cl], sxyz[cs], r2[cs])
    got = np.flatnonzero(~np.isnan(a_r) & (b_r > a_r))
    # The pairs in range, by leg, nearest station first.
    pl, ps, pa, pb = cl[got], cs[got], a_r[got], b_r[got]
    lt0, lt1 = t0[pl], t1[pl]
    if flat:
        cover = (pa <= lt0) & (pb >= lt1)
        pair, start, end = np.arange(len(pl)), pa, pb
    else:
        cover = np.zeros(len(pl), dtype=bool)
        # Whole legs in range (both ends inside the range sphere: it is convex) and
        # surely in sight need no sampling.
        w = np.flatnonzero(has_horizon[ps] & (pa <= lt0) & (pb >= lt1))
        w = w[_surely_in_sight(stations, ps[w], p0[pl[w]], p1[pl[w]])]
        cover[w] = True
        parts = [(w, lt0[w], lt1[w])]
        # Line of sight sampled along the others' in-range pieces, by station (so that
        # each station's samples come together).
        todo = np.ones(len(pl), dtype=bool)
        todo[w] = False
        todo = np.flatnonzero(todo)
        todo = todo[np.argsort(ps[todo], kind="stable")]
        for lo in range(0, len(todo), _SAMPLED_PAIRS):
            sel = todo[lo:lo + _SAMPLED_PAIRS]
            leg = pl[sel]
            piece, run_a, run_b = _sample_runs(t0[leg], t1[leg], p0[leg], p1[leg], pa[sel],
                                               pb[sel], ps[sel], step, stations, terrain)
            run_pair = sel[piece]
            cover[run_pair[(run_a <= lt0[run_pair]) & (run_b >= lt1[run_pair])]] = True
            parts.append((run_pair, run_a, run_b))
        pair, start, end = (np.concatenate(c) for c in zip(*parts, strict=True))
    # Each leg's pairs up to its first covering one.
    first = np.full(len(t0), len(pl), dtype=np.int64)
    c = np.flatnonzero(cover)
    np.minimum.at(first, pl[c], c)
    keep = pair <= first[pl[pair]]
    return merge_intervals(pl[pair[keep]], start[keep], end[keep])


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
    has = np.zeros(n, dtype=bool)
    has[leg] = True
    none = np.flatnonzero(~has)
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


# ---------------------------------------------------------------------- airborne relays

#: A relayed link is checked at least this often along a leg (seconds): on hovers and
#: climbs, and on slow legs, where the relays may move more than the vehicle.
RELAY_MAX_GAP_S = 10.0


def sample_step_s(t0, t1, p0, p1, terrain, *, los_step_m: float = 100.0,
                  max_gap_s: float = RELAY_MAX_GAP_S) -> np.ndarray:
    """Time between the relay samples of each leg (s).

    The time the leg takes to cover ``max(los_step_m, terrain spacing)`` horizontally
    (the line-of-sight step of :func:`link_intervals`), at most ``max_gap_s``. It
    depends on the leg's speed only, so a leg cut short keeps its samples."""
    t0 = np.asarray(t0, dtype=np.float64)
    t1 = np.asarray(t1, dtype=np.float64)
    p0 = np.asarray(p0, dtype=np.float64).reshape(-1, 3)
    p1 = np.asarray(p1, dtype=np.float64).reshape(-1, 3)
    step = max(los_step_m, terrain.spacing_m)
    span = t1 - t0
    length = np.hypot(*(p1[:, :2] - p0[:, :2]).T)
    with np.errstate(invalid="ignore", divide="ignore"):
        dt = span * step / length
    return np.where((length > 0) & (span > 0) & (dt < max_gap_s), dt, max_gap_s)


def _grid(t0, t1, dt, t_from) -> tuple[np.ndarray, np.ndarray]:
    """Number of samples of each leg and the index of its first evaluated sample."""
    span = t1 - t0
    count = np.where(span > 0, np.maximum(1.0, np.ceil(span / dt)), 0.0).astype(np.int64)
    if t_from is None:
        return count, np.zeros(len(t0), dtype=np.int64)
    first = np.floor((np.asarray(t_from, dtype=np.float64) - t0) / dt)
    first = np.clip(np.nan_to_num(first, nan=0.0), 0, np.maximum(count - 1, 0))
    return count, first.astype(np.int64)


def sample_start(t0, t1, p0, p1, t_from, terrain, *, los_step_m: float = 100.0,
                 max_gap_s: float = RELAY_MAX_GAP_S) -> np.ndarray:
    """Time of each leg's last relay sample at or before ``t_from`` (``t0`` at the
    earliest): where an evaluation of the leg from ``t_from`` starts."""
    t0 = np.asarray(t0, dtype=np.float64)
    t1 = np.asarray(t1, dtype=np.float64)
    dt = sample_step_s(t0, t1, p0, p1, terrain, los_step_m=los_step_m, max_gap_s=max_gap_s)
    _, first = _grid(t0, t1, dt, t_from)
    return t0 + first * dt


def grid_link_intervals(t0, t1, p0, p1, stations: list[Station], terrain, *,
                        los_step_m: float = 100.0, max_gap_s: float = RELAY_MAX_GAP_S
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Direct in-link intervals, as :func:`link_intervals` but with line of sight checked
    on the relay sample grid: ``(leg_index, t_start, t_end)``, merged per leg, sorted.

    The range part is exact. Each grid stretch ``[t0 + i dt, t0 + (i + 1) dt]`` that
    meets an in-range piece counts, over their overlap, as in sight if the antenna is
    in sight at the overlap's start (a leg that does not move: once for the piece).
    A leg cut short keeps its grid, so its intervals before the cut do not change.
    """
    return _in_leg_chunks(_grid_link_intervals, t0, t1, p0, p1, stations, terrain,
                          los_step_m=los_step_m, max_gap_s=max_gap_s)


def _grid_link_intervals(t0, t1, p0, p1, stations: list[Station], terrain, *,
                         los_step_m: float, max_gap_s: float
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t0 = np.asarray(t0, dtype=np.float64)
    t1 = np.asarray(t1, dtype=np.float64)
    p0 = np.asarray(p0, dtype=np.float64).reshape(-1, 3)
    p1 = np.asarray(p1, dtype=np.float64).reshape(-1, 3)
    flat = is_flat(terrain)
    dt = sample_step_s(t0, t1, p0, p1, terrain, los_step_m=los_step_m, max_gap_s=max_gap_s)
    still = (p0 == p1).all(axis=1)
    span = t1 - t0
    # Every (leg, station) pair in range, all at once (the k-d tree of the stations finds
    # the stations near each leg).
    hit, st_of, a_h, b_h, _ = _in_range_pairs(t0, t1, p0, p1, stations)
    if len(hit) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
    if flat:
        return merge_intervals(hit, a_h, b_h)
    # By station, so that each station's samples come together.
    by = np.argsort(st_of, kind="stable")
    hit, st_of, a_h, b_h = hit[by], st_of[by], a_h[by], b_h[by]
    d, s_h = dt[hit], t0[hit]
    i_a = np.maximum(np.floor((a_h - s_h) / d), 0.0)
    i_b = np.maximum(np.ceil((b_h - s_h) / d), i_a + 1.0)
    i_b = np.where(still[hit], i_a + 1.0, i_b)
    m = (i_b - i_a).astype(np.int64)
    owner = np.repeat(np.arange(len(hit)), m)
    i = i_a[owner] + (np.arange(int(m.sum())) - np.repeat(np.cumsum(m) - m, m))
    a = np.maximum(s_h[owner] + i * d[owner], a_h[owner])
    b = np.where(still[hit][owner], b_h[owner],
                 np.minimum(s_h[owner] + (i + 1) * d[owner], b_h[owner]))
    leg = hit[owner]
    f = (a - t0[leg]) / span[leg]
    pts = p0[leg] + f[:, None] * (p1[leg] - p0[leg])
    vis = _in_sight(stations, st_of[owner], pts, terrain)
    keep = vis & (b > a)
    return merge_intervals(leg[keep], a[keep], b[keep])

"""The compiled loops of the direct links and of the horizons give, bit for bit, what
the array code they replaced gave (frozen here as references), on random legs and
points over rough terrain, with the edge cases the array code met: legs that do not
move, points off the grid or not finite, ties between stations."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from fleetsim.comms import links, stations_of
from fleetsim.comms.stations import _range_times, _station_arrays
from fleetsim.world.terrain import Terrain
from fleetsim.world.viewshed import BLOCK

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_links_scale import SIZE, rough, world  # noqa: E402


def ref_range_times(t0, t1, p0, p1, c, r2):
    span = t1 - t0
    w = p0 - c
    u = p1 - p0
    a = np.einsum("ij,ij->i", u, u)
    b = 2.0 * np.einsum("ij,ij->i", w, u)
    cc = np.einsum("ij,ij->i", w, w) - r2
    f_in = np.full(len(t0), np.nan)
    f_out = np.full(len(t0), np.nan)
    still = a <= 1e-12
    inside_still = still & (cc <= 0.0)
    f_in[inside_still], f_out[inside_still] = 0.0, 1.0
    disc = b * b - 4.0 * a * cc
    ok = ~still & (disc >= 0.0)
    sq = np.sqrt(np.where(ok, disc, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = (-b - sq) / (2.0 * a)
        hi = (-b + sq) / (2.0 * a)
    ok &= (hi >= 0.0) & (lo <= 1.0)
    f_in[ok] = np.maximum(lo[ok], 0.0)
    f_out[ok] = np.minimum(hi[ok], 1.0)
    return t0 + f_in * span, t0 + f_out * span


def ref_visible(bank, which, x, y, z):
    ny, nx = bank.shape
    s = bank.spacing_m
    with np.errstate(invalid="ignore"):
        ix = np.minimum(np.maximum(np.rint((x - bank.origin_m[0]) / s), 0), nx - 1).astype(np.intp)
        iy = np.minimum(np.maximum(np.rint((y - bank.origin_m[1]) / s), 0), ny - 1).astype(np.intp)
    lx = ix - bank._c0[which]
    ly = iy - bank._r0[which]
    wn = bank._wn[which]
    inside = (lx >= 0) & (ly >= 0) & (lx < wn) & (ly < bank._wh[which])
    cell = bank._off[which] + np.where(inside, ly * wn + lx, 0)
    hz = np.where(inside, bank._hor.data[cell], np.inf)
    d = np.hypot(x - bank._ax[which], y - bank._ay[which])
    with np.errstate(divide="ignore", invalid="ignore"):
        sl = np.where(d > 0, (z - bank._az[which]) / d, np.inf)
    return inside & (sl >= hz - 1e-12)


def ref_surely(bank, which, p0, p1):
    s = bank.spacing_m * BLOCK
    h = 0.5 * bank.spacing_m
    ox, oy = bank.origin_m[0] - h, bank.origin_m[1] - h
    with np.errstate(invalid="ignore"):
        x0 = np.floor((np.minimum(p0[:, 0], p1[:, 0]) - ox - h) / s) - bank._bc0[which]
        x1 = np.floor((np.maximum(p0[:, 0], p1[:, 0]) - ox + h) / s) - bank._bc0[which]
        y0 = np.floor((np.minimum(p0[:, 1], p1[:, 1]) - oy - h) / s) - bank._br0[which]
        y1 = np.floor((np.maximum(p0[:, 1], p1[:, 1]) - oy + h) / s) - bank._br0[which]
        bnx = bank._bnx[which]
        ok = (x1 - x0 <= 1) & (y1 - y0 <= 1) & (x0 >= 0) & (y0 >= 0) & (x1 < bnx) \
            & (y1 < bank._bny[which])
    first = np.where(ok, bank._boff[which] + y0 * bnx + x0, 0.0).astype(np.intp)
    dx = np.where(ok, x1 - x0, 0.0).astype(np.intp)
    dy = np.where(ok, (y1 - y0) * bnx, 0.0).astype(np.intp)
    zb = bank._blk.data
    top = np.maximum(np.maximum(zb[first], zb[first + dx]),
                     np.maximum(zb[first + dy], zb[first + dy + dx]))
    with np.errstate(invalid="ignore"):
        return ok & (np.minimum(p0[:, 2], p1[:, 2]) >= top)


def ref_nearest(mid, stations):
    n = len(mid)
    sxyz, _, _, _, tree = _station_arrays(stations)
    s = np.full(n, -1, dtype=np.int64)
    if n >= links._NEAREST_GRID_LEGS:
        x0, y0, size, count, cand = links._nearest_cells(stations)
        ny, nx = count.shape
        ix = np.floor((mid[:, 0] - x0) / size)
        iy = np.floor((mid[:, 1] - y0) / size)
        inside = (ix >= 0) & (iy >= 0) & (ix < nx) & (iy < ny)
        cell = np.where(inside, iy * nx + ix, 0).astype(np.intp)
        cnt = np.where(inside, count.reshape(-1)[cell], 0)
        flat_cand = cand.reshape(ny * nx, -1)
        one = cnt == 1
        s[one] = flat_cand[cell[one], 0]
        many = np.flatnonzero(cnt > 1)
        if len(many):
            c = flat_cand[cell[many]]
            cs = np.maximum(c, 0)
            dist = np.hypot(mid[many, 0][:, None] - sxyz[cs, 0],
                            mid[many, 1][:, None] - sxyz[cs, 1])
            dist[c < 0] = np.inf
            s[many] = c[np.arange(len(many)), np.argmin(dist, axis=1)]
    rest = np.flatnonzero(s < 0)
    if len(rest):
        d, j = tree.query(mid[rest], k=2)
        dist = np.hypot(mid[rest, 0] - sxyz[j[:, 0], 0], mid[rest, 1] - sxyz[j[:, 0], 1])
        dist2 = np.hypot(mid[rest, 0] - sxyz[j[:, 1], 0], mid[rest, 1] - sxyz[j[:, 1], 1])
        clear = dist < np.minimum(dist2, d[:, 1]) * (1.0 - 1e-9)
        s[rest[clear]] = j[clear, 0]
    return s


def ref_sample_runs(t0, t1, p0, p1, t_in, t_out, st_of, step, stations, terrain):
    span = t1 - t0
    length = np.hypot(*(p1[:, :2] - p0[:, :2]).T)
    with np.errstate(invalid="ignore", divide="ignore"):
        f_a = np.where(span > 0, (t_in - t0) / np.where(span > 0, span, 1.0), 0.0)
        f_b = np.where(span > 0, (t_out - t0) / np.where(span > 0, span, 1.0), 1.0)
        k = np.maximum(1, np.ceil((f_b - f_a) * length / step).astype(np.int64))
    owner = np.repeat(np.arange(len(t0)), k + 1)
    pos_in = np.arange(len(owner)) - np.repeat(np.cumsum(k + 1) - (k + 1), k + 1)
    f = f_a[owner] + (f_b - f_a)[owner] * pos_in / k[owner]
    pts = p0[owner] + f[:, None] * (p1[owner] - p0[owner])
    vis = links._in_sight(stations, st_of[owner], pts, terrain)
    times = t0[owner] + f * span[owner]
    last = np.r_[pos_in[1:] == 0, True]
    keep = vis & ~last
    run_start = keep & ~np.r_[False, keep[:-1] & (pos_in[1:] != 0)]
    run_end = keep & ~np.r_[keep[1:] & (pos_in[1:] != 0), False]
    nxt = np.r_[times[1:], np.nan]
    return owner[run_start], times[run_start], nxt[run_end]


def same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and (
        np.array_equal(a, b, equal_nan=True) if a.dtype.kind == "f" else np.array_equal(a, b))


def bits(a, b) -> bool:
    """Equal bit for bit (NaNs, signed zeros)."""
    return np.array_equal(np.asarray(a).view(np.int64), np.asarray(b).view(np.int64))


def random_legs(rng, n, terrain=None, spread=SIZE):
    p0 = np.column_stack([rng.uniform(-2000, spread + 2000, (n, 2)), rng.uniform(0, 1500, n)])
    p1 = p0 + np.column_stack([rng.normal(0, 1500, (n, 2)), rng.normal(0, 100, n)])
    still = rng.random(n) < 0.1
    p1[still] = p0[still]
    flat_z = rng.random(n) < 0.2
    p1[flat_z, 2] = p0[flat_z, 2]
    t0 = rng.uniform(0, 1e4, n)
    t1 = t0 + rng.uniform(0, 300, n)
    zero = rng.random(n) < 0.05
    t1[zero] = t0[zero]
    return t0, t1, p0, p1


def test_range_times_as_the_dot_products_summed_by_einsum():
    rng = np.random.default_rng(3)
    n = 200_000
    t0, t1, p0, p1 = random_legs(rng, n)
    c = np.column_stack([rng.uniform(0, SIZE, (n, 2)), rng.uniform(0, 500, n)])
    r2 = rng.uniform(500, 9000, n) ** 2
    # Legs touching the sphere, and exponents far apart (sums that round differently).
    p1[:100] = p0[:100] + rng.normal(0, 1, (100, 3)) * np.exp(rng.normal(0, 8, (100, 3)))
    with np.errstate(invalid="ignore"):
        want = ref_range_times(t0, t1, p0, p1, c, r2)
    got = _range_times(t0, t1, p0, p1, c, r2)
    assert bits(got[0], want[0]) and bits(got[1], want[1])
    assert np.isfinite(got[0]).sum() > n // 20  # many legs in range


@pytest.fixture(scope="module")
def masts():
    terrain = rough(7)
    rng = np.random.default_rng(11)
    return terrain, stations_of(world(terrain, 40, rng))


def test_horizon_lookups_as_the_arrays_gave_them(masts):
    terrain, stations = masts
    bank = stations[0].horizon.bank
    rng = np.random.default_rng(5)
    n = 100_000
    which = rng.integers(0, len(stations), n)
    ids = np.array([st.horizon.id for st in stations])[which]
    bank.build(np.unique(ids))
    near = bank._meta[ids, :2] + rng.normal(0, 4000, (n, 2))  # around their antennas
    xyz = np.column_stack([near, terrain.height_at(near[:, 0], near[:, 1])
                           + rng.uniform(0, 300, n)])
    xyz[:20] = np.nan
    xyz[20:40, 0] = np.inf
    xyz[40:60, 1] = -np.inf
    xyz[60:80, :2] = bank._meta[ids[60:80], :2]  # at the antennas
    got = bank.visible(ids, xyz[:, 0], xyz[:, 1], xyz[:, 2])
    assert same(got, ref_visible(bank, ids, xyz[:, 0], xyz[:, 1], xyz[:, 2]))
    assert 0.1 < got.mean() < 0.9
    one = stations[3].horizon
    assert same(one.visible(xyz[:, 0], xyz[:, 1], xyz[:, 2]),
                ref_visible(bank, np.full(n, one.id), xyz[:, 0], xyz[:, 1], xyz[:, 2]))
    t0, t1, p0, p1 = random_legs(rng, n)
    p0[:, :2] = near
    p1[:, :2] = p0[:, :2] + (p1[:, :2] - p0[:, :2]) * 0.2
    p0[:10, 0] = np.nan
    p1[10:20, 2] = np.nan
    got = bank.segments_surely_visible(ids, p0, p1)
    assert same(got, ref_surely(bank, ids, p0, p1))
    assert got.sum() > n // 20


def test_nearest_station_as_the_arrays_gave_it(masts):
    _, stations = masts
    rng = np.random.default_rng(8)
    sxyz = _station_arrays(stations)[0]
    for n in (100, 5000):
        mid = rng.uniform(-8000, SIZE + 8000, (n, 2))
        mid[:50] = sxyz[rng.integers(0, len(stations), 50), :2]  # on masts (ties: 0 and 1)
        mid[50:60] = 0.5 * (sxyz[2, :2] + sxyz[3, :2])  # halfway between two
        ok = rng.random(n) < 0.9
        got = links._nearest_station(mid, ok, stations)
        want = np.full(n, -1, dtype=np.int64)
        want[ok] = ref_nearest(mid[ok], stations)
        assert same(got, want)
        assert (got >= 0).sum() > 0.8 * n
    one = links._nearest_station(mid, ok, stations[:1])
    assert same(one, np.where(ok, 0, -1).astype(np.int64))


def test_sample_runs_as_the_arrays_gave_them(masts):
    terrain, stations = masts
    rng = np.random.default_rng(12)
    n = 3000
    t0, t1, p0, p1 = random_legs(rng, n)
    p0[:, 2] = terrain.height_at(p0[:, 0], p0[:, 1]) + rng.uniform(0, 400, n)
    p1[:, 2] = terrain.height_at(p1[:, 0], p1[:, 1]) + rng.uniform(0, 400, n)
    st = rng.integers(0, len(stations), n)
    frac = np.sort(rng.uniform(-0.2, 1.2, (n, 2)), axis=1).clip(0, 1)
    t_in = t0 + frac[:, 0] * (t1 - t0)
    t_out = t0 + frac[:, 1] * (t1 - t0)
    for step in (100.0, 250.0):
        got = links._sample_runs(t0, t1, p0, p1, t_in, t_out, st, step, stations, terrain)
        want = ref_sample_runs(t0, t1, p0, p1, t_in, t_out, st, step, stations, terrain)
        assert all(same(g, w) for g, w in zip(got, want, strict=True))
        assert len(got[0]) > n // 20
    empty = links._sample_runs(t0[:0], t1[:0], p0[:0], p1[:0], t_in[:0], t_out[:0], st[:0],
                               100.0, stations, terrain)
    assert all(len(c) == 0 for c in empty)


def test_flat_ground_settles_legs_in_range_throughout():
    """On flat ground a leg in its nearest station's range throughout is settled with
    that station's range times, the rest left to the candidate loop."""
    terrain = Terrain.flat(size_m=(SIZE, SIZE), spacing_m=200)
    rng = np.random.default_rng(2)
    stations = stations_of(world(terrain, 30, rng))
    t0, t1, p0, p1 = random_legs(rng, 4000)
    (leg, a, b), rest = links._settled_by_nearest(t0, t1, p0, p1, stations, True, terrain,
                                                  200.0)
    sxyz, _, r2, _, _ = _station_arrays(stations)
    mid = 0.5 * (p0[:, :2] + p1[:, :2])
    s = ref_nearest(mid, stations)
    known = s >= 0
    s0 = np.where(known, s, 0)
    with np.errstate(invalid="ignore"):
        ra, rb = ref_range_times(t0, t1, p0, p1, sxyz[s0], r2[s0])
        want = np.flatnonzero(known & ~np.isnan(ra) & (rb > ra) & (ra <= t0) & (rb >= t1))
    assert same(leg, want) and same(a, ra[want]) and same(b, rb[want])
    assert same(rest, np.setdiff1d(np.arange(len(t0)), want))
    assert len(want) > 100


def test_leg_midpoints_and_finiteness_as_the_arrays_gave_them():
    from fleetsim.comms.kernels import leg_midpoints

    rng = np.random.default_rng(4)
    t0, t1, p0, p1 = random_legs(rng, 5000)
    p0[:10, 0] = np.nan
    p1[10:20, 1] = np.inf
    p0[20:30, :2] = p1[20:30, :2] = 1.7e308  # the sums overflow
    mid, finite = leg_midpoints(p0, p1)
    with np.errstate(invalid="ignore", over="ignore"):
        want = 0.5 * (p0[:, :2] + p1[:, :2])
        ok = np.isfinite(want[:, 0] + want[:, 1] + p1[:, 0] + p1[:, 1] - p0[:, 0] - p0[:, 1])
    assert bits(mid, want) and finite.tolist() == ok.tolist()
    assert not finite[:30].any() and finite[30:].all()


def ref_order_pairs(pl, ps, mid, half, sxyz, reach):
    dist = np.hypot(mid[pl, 0] - sxyz[ps, 0], mid[pl, 1] - sxyz[ps, 1])
    near = dist <= (half[pl] + reach[ps]) * (1.0 + 1e-6) + 1.0
    pl, ps, dist = pl[near], ps[near], dist[near]
    if len(pl) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    first = np.flatnonzero(np.r_[True, pl[1:] != pl[:-1]])
    count = np.diff(np.r_[first, len(pl)])
    col = np.arange(len(pl)) - np.repeat(first, count)
    pad = np.full((len(first), int(count.max())), np.inf)
    pad[np.repeat(np.arange(len(first)), count), col] = dist
    within = np.argsort(pad, axis=1, kind="stable")
    order = (first[:, None] + within)[np.arange(pad.shape[1]) < count[:, None]]
    return pl[order], ps[order], dist[order]


@pytest.mark.parametrize("n_st", [1, 12, 40, 150])
def test_near_pairs_in_the_order_the_arrays_gave(n_st):
    """Each leg's stations that may be in range, nearest first, ties (two masts in one
    place, legs halfway between two) by station, as the padded sort gave them."""
    from fleetsim.comms.kernels import near_pairs_in_order

    terrain = rough(3)
    rng = np.random.default_rng(n_st)
    stations = stations_of(world(terrain, n_st, rng))
    sxyz, reach, _, _, _ = _station_arrays(stations)
    t0, t1, p0, p1 = random_legs(rng, 3000)
    if n_st > 3:
        p0[:20, :2] = p1[:20, :2] = 0.5 * (sxyz[2, :2] + sxyz[3, :2])  # equally far
    mid = 0.5 * (p0[:, :2] + p1[:, :2])
    half = 0.5 * np.hypot(*(p1[:, :2] - p0[:, :2]).T)
    pl = np.repeat(np.arange(len(p0)), n_st)
    ps = np.tile(np.arange(n_st), len(p0))
    got = near_pairs_in_order(pl, ps, mid, half, sxyz, reach)
    want = ref_order_pairs(pl, ps, mid, half, sxyz, reach)
    assert all(same(g, w) for g, w in zip(got, want, strict=True))
    assert len(got[0]) > 100
    assert all(same(g, w) for g, w in zip(links._near_pairs(p0, p1, stations), want,
                                          strict=True))

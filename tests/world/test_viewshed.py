import numpy as np

from fleetsim.world.terrain import Terrain
from fleetsim.world.viewshed import Horizon, HorizonBank


def test_flat_ground_is_all_in_sight():
    t = Terrain.flat(size_m=(5000, 5000), spacing_m=50)
    h = Horizon(t, 2500, 2500, 10.0)
    x, y = np.meshgrid(np.linspace(0, 5000, 41), np.linspace(0, 5000, 41))
    assert h.visible(x.ravel(), y.ravel(), np.full(x.size, 1.0)).all()


def test_a_ridge_casts_the_analytic_shadow():
    """Antenna at x = 1000, z = 10; a 200 m wall at x = 5000 (one cell wide). Behind it,
    a point at distance d from the antenna is in sight iff z >= 10 + 190 * d / 4000
    (the wall top's slope); check a few heights on both sides of that line, 1 m off."""
    h = np.zeros((100, 200))
    h[:, 100] = 200.0  # x = 5000 m at 50 m spacing
    t = Terrain(h, 50.0)
    hz = Horizon(t, 1000.0, 2500.0, 10.0)
    for x in (6000.0, 7000.0, 9000.0):
        d = x - 1000.0
        edge = 10.0 + (200.0 - 10.0) * d / 4000.0
        assert hz.visible(np.array([x]), np.array([2500.0]), np.array([edge + 1.0]))[0]
        assert not hz.visible(np.array([x]), np.array([2500.0]), np.array([edge - 1.0]))[0]
    # in front of the wall everything is visible
    assert hz.visible(np.array([4000.0]), np.array([2500.0]), np.array([1.0]))[0]


def test_agrees_with_sampled_ray_casting_on_rough_terrain():
    """The ring propagation approximates ray casting; on procedural mountains it must
    agree with Terrain.line_of_sight on at least 99 % of random points (the sampled
    ray march itself misses 0.5-2 % of thin blockages, see the project's notes)."""
    rng = np.random.default_rng(4)
    t = Terrain.procedural(size_m=(40000, 40000), spacing_m=100, relief_m=900, ridges=8,
                           base_elevation_m=0, origin_m=(0, 0), rng=rng)
    ant = (12000.0, 20000.0, float(t.height_at(12000.0, 20000.0)) + 20.0)
    hz = Horizon(t, *ant)
    n = 5000
    x, y = rng.uniform(0, 40000, n), rng.uniform(0, 40000, n)
    z = t.height_at(x, y) + 150.0
    exact = t.line_of_sight(np.column_stack([np.full(n, ant[0]), np.full(n, ant[1]),
                                             np.full(n, ant[2])]), np.column_stack([x, y, z]))
    assert 0.05 < exact.mean() < 0.95  # a test with something to tell apart
    assert (hz.visible(x, y, z) == exact).mean() >= 0.99


def test_surely_visible_segments_are_visible_all_along():
    """The block bound is conservative: a segment it accepts is in sight at every point
    (checked every 20 m against the horizon itself); and it does accept plenty."""
    rng = np.random.default_rng(9)
    t = Terrain.procedural(size_m=(30000, 30000), spacing_m=100, relief_m=700, ridges=6,
                           base_elevation_m=0, origin_m=(0, 0), rng=rng)
    hz = Horizon(t, 15000.0, 15000.0, float(t.height_at(15000.0, 15000.0)) + 30.0)
    n = 3000
    a = np.column_stack([rng.uniform(0, 30000, n), rng.uniform(0, 30000, n), np.zeros(n)])
    b = a + np.column_stack([rng.uniform(-700, 700, (n, 2)), np.zeros(n)])
    a[:, 2] = t.height_at(a[:, 0], a[:, 1]) + rng.uniform(50, 600, n)
    b[:, 2] = t.height_at(b[:, 0], b[:, 1]) + rng.uniform(50, 600, n)
    sure = hz.segments_surely_visible(a, b)
    assert sure.mean() > 0.1
    f = np.linspace(0, 1, 41)
    for i in np.flatnonzero(sure):
        pts = a[i] + f[:, None] * (b[i] - a[i])
        assert hz.visible(pts[:, 0], pts[:, 1], pts[:, 2]).all()


def _rough(seed: int) -> Terrain:
    return Terrain.procedural(size_m=(30000, 24000), spacing_m=100, relief_m=900, ridges=8,
                              base_elevation_m=0, origin_m=(-700, 300),
                              rng=np.random.default_rng(seed))


def test_a_window_holds_the_whole_grid_horizon_and_answers_alike_within_its_radius():
    """Built over a window (radius r around the antenna: in the middle, near a corner,
    off the grid), the horizon has exactly the whole-grid values in the window, and
    visible / segments_surely_visible answer exactly alike for points and segments
    within r of the antenna (horizontally); points beyond the window are out of sight."""
    t = _rough(3)
    rng = np.random.default_rng(8)
    for ax, ay in ((12000.0, 11000.0), (-600.0, 400.0), (29000.0, 24100.0), (-2500.0, 9000.0)):
        az = float(t.height_at(ax, ay)) + 25.0
        full = Horizon(t, ax, ay, az)
        for r in (120.0, 2500.0, 6100.0):
            hz = Horizon(t, ax, ay, az, radius_m=r)
            assert not hz.built
            r0, r1, c0, c1 = hz.window
            assert (r1 - r0) * (c1 - c0) < t.heights_m.size
            assert np.array_equal(hz.horizon, full.horizon[r0:r1, c0:c1])
            assert np.array_equal(hz.block_zmin, full.block_zmin[r0 // 8:-(-r1 // 8),
                                                                 c0 // 8:-(-c1 // 8)])
            n = 4000
            ang, d = rng.uniform(0, 2 * np.pi, n), r * np.sqrt(rng.uniform(0, 1, n))
            x, y = ax + d * np.cos(ang), ay + d * np.sin(ang)
            z = t.height_at(x, y) + rng.uniform(-30, 400, n)
            assert np.array_equal(hz.visible(x, y, z), full.visible(x, y, z))
            a = np.column_stack([x, y, z])
            b = a + rng.uniform(-400, 400, (n, 3))
            inside = np.hypot(b[:, 0] - ax, b[:, 1] - ay) <= r
            assert np.array_equal(hz.segments_surely_visible(a[inside], b[inside]),
                                  full.segments_surely_visible(a[inside], b[inside]))
    # High above everything, 3 km away: in sight, but beyond a 1 km window.
    far = Horizon(t, 12000.0, 11000.0, 5000.0, radius_m=1000.0)
    pt = (np.array([15000.0]), np.array([11000.0]), np.array([5000.0]))
    assert Horizon(t, 12000.0, 11000.0, 5000.0).visible(*pt)[0]
    assert not far.visible(*pt)[0]


def test_antennas_of_one_bank_answer_together():
    """A bank answers points of many antennas in one call exactly as each antenna's own
    horizon does, builds each antenna once and only when asked about it."""
    t = _rough(4)
    rng = np.random.default_rng(1)
    bank = HorizonBank(t)
    ants = [(rng.uniform(0, 29000), rng.uniform(300, 24000)) for _ in range(6)]
    hz = [Horizon(t, x, y, float(t.height_at(x, y)) + 30.0, radius_m=4000.0, bank=bank)
          for x, y in ants]
    assert Horizon(t, *ants[0], hz[0].z, radius_m=4000.0, bank=bank).id == hz[0].id
    which = rng.choice([0, 2, 3], 3000)
    x = np.array([ants[k][0] for k in which]) + rng.uniform(-3900, 3900, 3000)
    y = np.array([ants[k][1] for k in which]) + rng.uniform(-2700, 2700, 3000)
    z = t.height_at(x, y) + rng.uniform(0, 300, 3000)
    ids = np.array([hz[k].id for k in which])
    got = bank.visible(ids, x, y, z)
    assert [h.built for h in hz] == [True, False, True, True, False, False]
    for k in (0, 2, 3):
        sel = which == k
        own = Horizon(t, hz[k].x, hz[k].y, hz[k].z, radius_m=4000.0)
        assert np.array_equal(got[sel], own.visible(x[sel], y[sel], z[sel]))
    assert 0.05 < got.mean() < 0.95
    assert bank.nbytes() == sum(h.nbytes for h in hz) > 0


def test_horizons_ring_by_ring_as_the_array_code_built_them():
    """The compiled ring loop gives, bit for bit, what the ring-by-ring array code gave
    (each ring from the values the ring before left: a cell next to the antenna may
    have a parent on its own ring, with weight 0), for antennas at a cell's centre, off
    it, at the grid's edge and off the grid, with and without a window."""
    from fleetsim.world import viewshed

    def ring_by_ring(order, bounds, pa, pb, w, hor, slope):
        for r in range(1, len(bounds) - 1):
            cells = order[bounds[r]:bounds[r + 1]]
            a, b, t = pa[cells], pb[cells], w[cells]
            va = np.maximum(hor[a], slope[a])
            vb = np.maximum(hor[b], slope[b])
            both = np.isfinite(va) & np.isfinite(vb)
            with np.errstate(invalid="ignore"):
                hor[cells] = np.where(both, (1.0 - t) * va + t * vb, np.maximum(va, vb))

    rng = np.random.default_rng(17)
    t = Terrain.procedural(size_m=(20000, 16000), spacing_m=100, relief_m=900, ridges=8,
                           base_elevation_m=0, origin_m=(0, 0), rng=rng)
    antennas = [(6000.0, 9000.0, 5000.0), (6010.0, 9020.0, 5000.0), (0.0, 16000.0, None),
                (19990.0, 40.0, 7000.0), (-500.0, 8000.0, 3000.0), (12000.0, 3000.0, None)]
    built = []
    for make in (viewshed._xdraw, ring_by_ring):
        bank = HorizonBank(t)
        viewshed_xdraw, viewshed._xdraw = viewshed._xdraw, make
        try:
            ids = [bank.add(x, y, float(t.height_at(x, y)) + 25.0, r) for x, y, r in antennas]
            built.append([(bank.horizon(i).copy(), bank.block_zmin(i).copy()) for i in ids])
        finally:
            viewshed._xdraw = viewshed_xdraw
    for (h, b), (h_ref, b_ref) in zip(*built, strict=True):
        assert np.array_equal(h.view(np.int64), h_ref.view(np.int64))
        assert np.array_equal(b.view(np.int64), b_ref.view(np.int64))
        assert np.isfinite(h).mean() > 0.9

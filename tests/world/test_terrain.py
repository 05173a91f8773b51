"""Tests of fleetsim.world.terrain against closed-form answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from needs import require

from fleetsim.errors import ScenarioError
from fleetsim.scenario.model import TerrainSpec
from fleetsim.world.terrain import Terrain, terrain_from_spec

rasterio = require("rasterio", "GeoTIFF terrain is read with rasterio")
from rasterio.transform import Affine  # noqa: E402


def from_origin(west, north, xsize, ysize):
    """North-up geotransform with its upper-left corner at (west, north)."""
    return Affine(xsize, 0.0, west, 0.0, -ysize, north)

# --------------------------------------------------------------------- helpers

A, B, C = 0.5, -0.25, 2.0  # tilted plane h = A x + B y + C
ORIGIN = (100.0, -50.0)
SPACING = 10.0


def plane(x, y):
    return A * np.asarray(x) + B * np.asarray(y) + C


@pytest.fixture
def tilted() -> Terrain:
    ny, nx = 8, 12
    xs = ORIGIN[0] + SPACING * np.arange(nx)
    ys = ORIGIN[1] + SPACING * np.arange(ny)
    return Terrain(plane(xs[None, :], ys[:, None]), SPACING, ORIGIN)


@pytest.fixture
def ridge() -> Terrain:
    """A single sharp ridge along y: h = max(0, 100 - |x - 500|), crest at x = 500."""
    xs = 10.0 * np.arange(101)  # 0..1000 m
    h = np.maximum(0.0, 100.0 - np.abs(xs - 500.0))
    return Terrain(np.tile(h, (61, 1)), 10.0)  # y 0..600 m


def brute_force(terrain: Terrain, p0, p1, interior=False):
    """Per-leg reference sampling: (fractions, clearances) of each leg."""
    out = []
    for a, b in zip(p0, p1, strict=True):
        m = max(1, math.ceil(math.hypot(b[0] - a[0], b[1] - a[1]) / terrain.spacing_m))
        ks = range(1, m) if interior else range(m + 1)
        fr = np.array([k / m for k in ks])
        pts = a[None, :] + fr[:, None] * (b - a)[None, :]
        h = np.array([float(terrain.height_at(x, y)) for x, y in pts[:, :2]])
        out.append((fr, pts[:, 2] - h))
    return out


# ------------------------------------------------------------------ the grid

def test_bounds_and_shape(tilted):
    assert tilted.shape == (8, 12)
    assert tilted.bounds == (100.0, -50.0, 210.0, 20.0)
    assert tilted.heights_m.dtype == np.float64
    assert not tilted.heights_m.flags.writeable


def test_height_at_is_exact_on_a_plane(tilted):
    rng = np.random.default_rng(0)
    x = rng.uniform(100.0, 210.0, (3, 50))
    y = rng.uniform(-50.0, 20.0, (3, 50))
    h = tilted.height_at(x, y)
    assert h.shape == (3, 50) and h.dtype == np.float64
    np.testing.assert_allclose(h, plane(x, y), rtol=0, atol=1e-12)
    # grid points, the far corner included
    np.testing.assert_allclose(tilted.height_at([100.0, 210.0], [-50.0, 20.0]),
                               [plane(100, -50), plane(210, 20)], atol=1e-12)


def test_height_at_scalars_broadcasting_and_clamping(tilted):
    h = tilted.height_at(150.0, 0.0)
    assert h.shape == ()
    assert float(h) == pytest.approx(plane(150.0, 0.0), abs=1e-12)
    # broadcasting a column of x against a row of y
    hx = tilted.height_at(np.array([[110.0], [120.0]]), np.array([-40.0, -30.0, 0.0]))
    assert hx.shape == (2, 3)
    # outside the grid: the nearest edge value
    far = tilted.height_at([0.0, 1000.0, 150.0, 150.0], [0.0, 0.0, -1e6, 1e6])
    np.testing.assert_allclose(far, [plane(100, 0), plane(210, 0),
                                     plane(150, -50), plane(150, 20)], atol=1e-12)
    assert np.isnan(tilted.height_at(np.nan, 0.0))


def test_row_zero_is_south():
    h = np.array([[0.0, 0.0], [10.0, 10.0]])  # north row higher
    t = Terrain(h, 100.0, (5.0, 7.0))
    assert float(t.height_at(5.0, 7.0)) == 0.0
    assert float(t.height_at(5.0, 107.0)) == 10.0
    assert float(t.height_at(55.0, 57.0)) == pytest.approx(5.0)


def test_constructor_rejects_bad_grids():
    with pytest.raises(ValueError, match="2-D"):
        Terrain(np.zeros(5), 1.0)
    with pytest.raises(ValueError, match="2 x 2"):
        Terrain(np.zeros((1, 5)), 1.0)
    with pytest.raises(ValueError, match="NaN"):
        Terrain(np.array([[0.0, np.nan], [0.0, 0.0]]), 1.0)
    with pytest.raises(ValueError, match="spacing"):
        Terrain(np.zeros((2, 2)), 0.0)


# ---------------------------------------------------------- segment clearance

def test_max_along_is_the_highest_of_linspace_samples():
    """The highest ground along a segment (a vehicle's transit altitude home) is the
    maximum of ``height_at`` at ``np.linspace`` samples, bit for bit: ends inside and
    outside the grid, segments of one point, NaN."""
    rng = np.random.default_rng(17)
    t = Terrain(rng.uniform(-20.0, 900.0, (37, 53)), spacing_m=75.0, origin_m=(-400.0, 250.0))
    for _ in range(400):
        x0, x1 = rng.uniform(-1500.0, 5000.0, 2).tolist()
        y0, y1 = rng.uniform(-800.0, 3500.0, 2).tolist()
        if rng.random() < 0.1:
            x1, y1 = x0, y0
        n = int(rng.choice([2, 3, 9, int(rng.integers(2, 400))]))
        f = np.linspace(0.0, 1.0, n)
        want = float(np.max(t.height_at(x0 + f * (x1 - x0), y0 + f * (y1 - y0))))
        got = t.max_along(x0, y0, x1, y1, n)
        assert np.float64(got).view(np.int64) == np.float64(want).view(np.int64)
    assert math.isnan(t.max_along(math.nan, 0.0, 10.0, 10.0, 5))


def test_segment_clearance_on_a_plane(tilted):
    # Clearance is linear along a leg over a plane, so its minimum is at an end.
    p0 = np.array([[110.0, -40.0, 200.0], [120.0, 0.0, 50.0], [150.0, -20.0, 80.0]])
    p1 = np.array([[200.0, 10.0, 60.0], [130.0, 0.0, 90.0], [190.0, -20.0, 100.0]])
    c_start = p0[:, 2] - plane(p0[:, 0], p0[:, 1])
    c_end = p1[:, 2] - plane(p1[:, 0], p1[:, 1])
    cmin, frac = tilted.segment_clearance(p0, p1)
    np.testing.assert_allclose(cmin, np.minimum(c_start, c_end), atol=1e-9)
    np.testing.assert_array_equal(frac, np.where(c_end < c_start, 1.0, 0.0))


def test_segment_clearance_ties_report_the_first_sample():
    t = Terrain.flat((1000.0, 1000.0), 50.0, elevation_m=20.0)
    cmin, frac = t.segment_clearance(np.array([[0.0, 0.0, 120.0]]),
                                     np.array([[900.0, 400.0, 120.0]]))
    assert cmin[0] == 100.0 and frac[0] == 0.0


def test_segment_clearance_over_a_sharp_ridge(ridge):
    p0 = np.array([[0.0, 300.0, 150.0],     # level, crosses the crest half way
                   [0.0, 300.0, 120.0],     # climbing 120 -> 220 m
                   [1000.0, 100.0, 220.0],  # the same, flown the other way
                   [500.0, 0.0, 130.0]])    # along the crest
    p1 = np.array([[1000.0, 300.0, 150.0],
                   [1000.0, 300.0, 220.0],
                   [0.0, 100.0, 120.0],
                   [500.0, 600.0, 110.0]])
    cmin, frac = ridge.segment_clearance(p0, p1)
    # level: 150 - 100 at the crest; climbing: z = 120 + 100 t meets the
    # crest at t = 0.5 (170 - 100); along the crest: lowest at the end.
    np.testing.assert_allclose(cmin, [50.0, 70.0, 70.0, 10.0], atol=1e-9)
    np.testing.assert_allclose(frac, [0.5, 0.5, 0.5, 1.0], atol=1e-12)


def test_segment_clearance_short_and_vertical_legs(ridge):
    # Vertical leg (no horizontal length): two samples at the same point.
    cmin, frac = ridge.segment_clearance(np.array([[500.0, 50.0, 300.0]]),
                                         np.array([[500.0, 50.0, 120.0]]))
    assert cmin[0] == pytest.approx(20.0) and frac[0] == 1.0
    empty = ridge.segment_clearance(np.zeros((0, 3)), np.zeros((0, 3)))
    assert empty[0].shape == (0,) and empty[1].shape == (0,)


def test_segment_clearance_non_finite_legs_give_nan(ridge):
    p0 = np.array([[0.0, 300.0, 150.0], [np.nan, 0.0, 0.0]])
    p1 = np.array([[1000.0, 300.0, 150.0], [10.0, 0.0, 0.0]])
    cmin, frac = ridge.segment_clearance(p0, p1)
    assert cmin[0] == 50.0 and np.isnan(cmin[1]) and np.isnan(frac[1])


# ---------------------------------------------------------------- first below

def test_first_below_a_ridge(ridge):
    level = np.array([[0.0, 300.0, 80.0]] * 3 + [[0.0, 300.0, 200.0]])
    end = level.copy()
    end[:, 0] = 1000.0
    # Below 0 m clearance where h > 80, i.e. |x - 500| < 20: first sample x = 490
    # (at x = 480 the leg is exactly 0 m above the ground, not below).
    # Below 30 m where h > 50, |x - 500| < 50: first sample x = 460.
    got = ridge.first_below(level, end, np.array([0.0, 30.0, 81.0, 30.0]))
    np.testing.assert_allclose(got[:3], [0.49, 0.46, 0.0], atol=1e-12)
    assert np.isnan(got[3])  # 200 m: 100 m above the crest, never closer than 30
    # A scalar threshold applies to every leg.
    scalar = ridge.first_below(level, end, 30.0)
    np.testing.assert_allclose(scalar[:3], [0.46, 0.46, 0.46], atol=1e-12)


def test_first_below_a_dipping_leg(ridge):
    # Descending westward from 150 m at x = 1000 to 0 m at x = 0: z = 0.15 x.
    # On the east flank (h = 600 - x) the clearance 1.15 x - 600 falls below
    # c where x < (600 + c) / 1.15: 521.7 m for c = 0, 530.4 m for c = 10.
    # Samples every 10 m from x = 1000: first at x = 520 (fraction 0.48) and
    # x = 530 (0.47).
    p0 = np.array([[1000.0, 300.0, 150.0]] * 2)
    p1 = np.array([[0.0, 300.0, 0.0]] * 2)
    got = ridge.first_below(p0, p1, np.array([0.0, 10.0]))
    np.testing.assert_allclose(got, [0.48, 0.47], atol=1e-12)
    cmin, frac = ridge.segment_clearance(p0[:1], p1[:1])
    # Lowest under the crest: 0.15 x - 100 = -25 m at x = 500 (fraction 0.5).
    assert cmin[0] == pytest.approx(-25.0) and frac[0] == pytest.approx(0.5)


# ------------------------------------------------------------- line of sight

def test_line_of_sight_blocked_by_a_ridge_and_clear_over_flat_ground(ridge):
    a = np.array([[0.0, 300.0, 50.0],      # across the crest at 50 m: blocked
                  [0.0, 300.0, 150.0],     # across the crest at 150 m: clear
                  [0.0, 300.0, 150.0],     # down to the ground before the ridge: clear
                  [0.0, 300.0, 150.0],     # down to the ground behind the crest: blocked
                  [0.0, 300.0, 60.0]])     # to a point 1 m under the flank: clear
    b = np.array([[1000.0, 300.0, 50.0],
                  [1000.0, 300.0, 150.0],
                  [400.0, 300.0, 0.0],
                  [700.0, 300.0, 0.0],
                  [450.0, 300.0, 49.0]])
    np.testing.assert_array_equal(ridge.line_of_sight(a, b), [False, True, True, False, True])
    flat = Terrain.flat((2000.0, 2000.0), 25.0)
    ground = np.array([[0.0, 0.0, 0.0], [100.0, 1900.0, 2.0]])
    other = np.array([[2000.0, 2000.0, 0.0], [1900.0, 100.0, 2.0]])
    np.testing.assert_array_equal(flat.line_of_sight(ground, other), [True, True])


def test_line_of_sight_is_symmetric_and_grazes_the_crest(ridge):
    a = np.array([[0.0, 300.0, 100.0], [0.0, 300.0, 99.0]])
    b = np.array([[1000.0, 300.0, 100.0], [1000.0, 300.0, 99.0]])
    np.testing.assert_array_equal(ridge.line_of_sight(a, b), [True, False])
    np.testing.assert_array_equal(ridge.line_of_sight(b, a), [True, False])


# --------------------------------------------- vectorised = per-leg reference

def test_leg_queries_match_a_per_leg_reference_and_any_chunking():
    rng = np.random.default_rng(7)
    t = Terrain.procedural((3000.0, 2000.0), 40.0, 300.0, 4, 100.0, (-500.0, 200.0), rng)
    n = 60
    p0 = np.column_stack([rng.uniform(-700, 2700, n), rng.uniform(0, 2400, n),
                          rng.uniform(100, 500, n)])
    p1 = np.column_stack([rng.uniform(-700, 2700, n), rng.uniform(0, 2400, n),
                          rng.uniform(100, 500, n)])
    p1[:5, :2] = p0[:5, :2]  # some vertical legs
    thr = rng.uniform(0, 150, n)
    ref = brute_force(t, p0, p1)
    ref_in = brute_force(t, p0, p1, interior=True)
    exp_min = np.array([c.min() for _, c in ref])
    exp_frac = np.array([f[np.argmin(c)] for f, c in ref])
    exp_below = np.array([f[np.argmax(c < h)] if (c < h).any() else np.nan
                          for (f, c), h in zip(ref, thr, strict=True)])
    exp_los = np.array([bool((c >= -1e-6).all()) for _, c in ref_in])
    assert 0 < exp_los.sum() < n and 0 < np.isnan(exp_below).sum() < n

    results = []
    for chunk in (None, 1, 7, 64):
        if chunk is not None:
            t.chunk_samples = chunk  # instance override of the class default
        cmin, frac = t.segment_clearance(p0, p1)
        np.testing.assert_allclose(cmin, exp_min, atol=1e-9)
        np.testing.assert_array_equal(frac, exp_frac)
        below = t.first_below(p0, p1, thr)
        np.testing.assert_array_equal(below, exp_below)
        np.testing.assert_array_equal(t.line_of_sight(p0, p1), exp_los)
        results.append((cmin, frac, below))
    for other in results[1:]:
        for x, y in zip(results[0], other, strict=True):
            np.testing.assert_array_equal(x, y)


# ------------------------------------------------------------------ hillshade

def test_hillshade_flat_and_sunlit_slopes():
    flat = Terrain.flat((100.0, 100.0), 10.0)
    hs = flat.hillshade()
    assert hs.dtype == np.uint8 and hs.shape == (11, 11)
    assert (hs == round(255 * math.sin(math.radians(45)))).all()  # 180
    xs = 10.0 * np.arange(11)
    g = math.sqrt(0.5)
    # Rising to the east and falling to the north at 45 degrees: the slope faces
    # north-west, straight at the default sun (azimuth 315, altitude 45).
    facing = Terrain(g * xs[None, :] - g * xs[:, None], 10.0)
    assert (facing.hillshade() == 255).all()
    away = Terrain(-g * xs[None, :] + g * xs[:, None], 10.0)
    assert (away.hillshade() == 0).all()
    # From the south-east the first slope is in shadow.
    assert (facing.hillshade(azimuth_deg=135.0) == 0).all()


# ----------------------------------------------------------------- procedural

def _laplacian(h):
    return h[2:, 1:-1] + h[:-2, 1:-1] + h[1:-1, 2:] + h[1:-1, :-2] - 4 * h[1:-1, 1:-1]


def test_procedural_shape_relief_and_origin():
    t = Terrain.procedural((3000.0, 2000.0), 50.0, relief_m=400.0, ridges=6,
                           base_elevation_m=100.0, origin_m=(10.0, 20.0),
                           rng=np.random.default_rng(1))
    assert t.shape == (41, 61)
    assert t.bounds == (10.0, 20.0, 3010.0, 2020.0)
    assert t.heights_m.min() == 100.0
    assert t.heights_m.max() - t.heights_m.min() == 400.0


def test_procedural_is_deterministic_per_seed():
    def make(seed):
        return Terrain.procedural((5000.0, 5000.0), 50.0, 300.0, 5, 0.0, (0.0, 0.0),
                                  np.random.default_rng(seed)).heights_m
    np.testing.assert_array_equal(make(3), make(3))
    assert not np.array_equal(make(3), make(4))


def test_procedural_has_sharp_ridges_and_smooth_valleys():
    # Crests are kinks: strongly negative curvature along lines, while valleys
    # are smooth, so the curvature distribution is lopsided. Smooth noise alone
    # (ridges=0) is about symmetric.
    def lopsidedness(ridges, seed):
        h = Terrain.procedural((10_000.0, 10_000.0), 25.0, 400.0, ridges, 0.0, (0.0, 0.0),
                               np.random.default_rng(seed)).heights_m
        lo, hi = np.percentile(_laplacian(h), [0.1, 99.9])
        return -lo / hi
    for seed in range(3):
        assert lopsidedness(6, seed) > 5.0
        assert lopsidedness(0, seed) < 2.0


def test_procedural_zero_relief_is_flat_and_large_grid_is_built():
    t = Terrain.procedural((1000.0, 1000.0), 50.0, 0.0, 3, 42.0, (0.0, 0.0),
                           np.random.default_rng(0))
    assert (t.heights_m == 42.0).all()
    big = Terrain.procedural((99_950.0, 99_950.0), 50.0, 400.0, 6, 0.0, (0.0, 0.0),
                             np.random.default_rng(0))
    assert big.shape == (2000, 2000)
    assert np.ptp(big.heights_m) == 400.0


@pytest.mark.parametrize("kwargs, field", [
    (dict(relief_m=-1.0), "relief_m"),
    (dict(ridges=-2), "ridges"),
    (dict(spacing_m=0.0), "spacing_m"),
    (dict(size_m=(0.0, 100.0)), "size_m"),
    (dict(size_m=(1e9, 1e9)), "spacing_m"),
])
def test_procedural_rejects_bad_values(kwargs, field):
    args = dict(size_m=(1000.0, 1000.0), spacing_m=50.0, relief_m=100.0, ridges=2,
                base_elevation_m=0.0, origin_m=(0.0, 0.0), rng=np.random.default_rng(0))
    args.update(kwargs)
    with pytest.raises(ScenarioError) as err:
        Terrain.procedural(**args)
    assert err.value.path == f"world.terrain.{field}"


def test_flat():
    t = Terrain.flat((1000.0, 420.0), 100.0, elevation_m=12.5, origin_m=(-500.0, 0.0))
    assert t.shape == (6, 11)  # 420 m needs 5 cells of 100 m to be covered
    assert t.bounds == (-500.0, 0.0, 500.0, 500.0)
    assert (t.heights_m == 12.5).all()


# ------------------------------------------------------------------------ npy

def test_npy_round_trip(tmp_path):
    arr = np.arange(12, dtype=np.float32).reshape(3, 4) * 10.0
    file = tmp_path / "dem.npy"
    np.save(file, arr)
    t = Terrain.from_npy(file, spacing_m=25.0, origin_m=(1000.0, 2000.0))
    np.testing.assert_array_equal(t.heights_m, arr)
    assert t.heights_m.dtype == np.float64
    assert t.bounds == (1000.0, 2000.0, 1075.0, 2050.0)
    # grid point [i, j] is at origin + (j, i) * spacing: row 0 south
    assert float(t.height_at(1000.0, 2000.0)) == arr[0, 0]
    assert float(t.height_at(1075.0, 2050.0)) == arr[2, 3]
    assert float(t.height_at(1025.0, 2050.0)) == arr[2, 1]


def test_npy_missing_file(tmp_path):
    missing = tmp_path / "nope.npy"
    with pytest.raises(ScenarioError) as err:
        Terrain.from_npy(missing, spacing_m=10.0)
    assert err.value.path == "world.terrain.path"
    assert err.value.file == str(missing)
    assert "not found" in err.value.message and "existing file" in err.value.message


def test_npy_one_dimensional(tmp_path):
    file = tmp_path / "line.npy"
    np.save(file, np.arange(5.0))
    with pytest.raises(ScenarioError) as err:
        Terrain.from_npy(file, spacing_m=10.0)
    msg = str(err.value)
    assert "1-D" in msg and "(5,)" in msg and "2-D" in msg
    assert msg.startswith(str(file))
    assert err.value.path == "world.terrain.path"


@pytest.mark.parametrize("arr, words", [
    (np.array([[0.0, np.nan], [1.0, 2.0]]), ["NaN", "row 0, column 1", "finite"]),
    (np.zeros((1, 5)), ["1 x 5", "2 x 2"]),
    (np.array([["a", "b"], ["c", "d"]]), ["numeric"]),
])
def test_npy_bad_contents(tmp_path, arr, words):
    file = tmp_path / "bad.npy"
    np.save(file, arr)
    with pytest.raises(ScenarioError) as err:
        Terrain.from_npy(file, spacing_m=10.0)
    for w in words:
        assert w in err.value.message


def test_npy_not_an_array_file(tmp_path):
    file = tmp_path / "junk.npy"
    file.write_text("this is not numpy")
    with pytest.raises(ScenarioError, match="cannot read"):
        Terrain.from_npy(file, spacing_m=10.0)
    pickled = tmp_path / "obj.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ScenarioError, match="cannot read"):
        Terrain.from_npy(pickled, spacing_m=10.0)


# -------------------------------------------------------------------- GeoTIFF

def _write_tif(path, arr, transform, crs, nodata=None):
    with rasterio.open(path, "w", driver="GTiff", height=arr.shape[0], width=arr.shape[1],
                       count=1, dtype=arr.dtype, crs=crs, transform=transform,
                       nodata=nodata) as ds:
        ds.write(arr, 1)


# Image order (row 0 = north); every value distinct, so any flip shows.
NORTH_UP = np.array([[1.0, 2.0, 3.0, 4.0],
                     [5.0, 6.0, 7.0, 8.0],
                     [9.0, 10.0, 11.0, 12.0]], dtype=np.float32)


def test_geotiff_projected_round_trip(tmp_path):
    file = tmp_path / "utm.tif"
    _write_tif(file, NORTH_UP, from_origin(500_000.0, 6_000_090.0, 30.0, 30.0), "EPSG:32633")
    t = Terrain.from_geotiff(file, origin_m=(-45.0, 15.0))
    assert t.spacing_m == 30.0
    assert t.shape == (3, 4)
    np.testing.assert_array_equal(t.heights_m, NORTH_UP[::-1])
    assert t.bounds == (-45.0, 15.0, 45.0, 75.0)
    assert float(t.height_at(-45.0, 15.0)) == 9.0   # south-west pixel
    assert float(t.height_at(-45.0, 75.0)) == 1.0   # north-west pixel
    assert float(t.height_at(45.0, 75.0)) == 4.0    # north-east pixel
    assert float(t.height_at(45.0, 15.0)) == 12.0   # south-east pixel


def test_geotiff_nodata_is_filled_with_the_lowest_valid_height(tmp_path):
    arr = NORTH_UP.copy()
    arr[0, 0] = -9999.0
    arr[2, 3] = -9999.0
    file = tmp_path / "holes.tif"
    _write_tif(file, arr, from_origin(0.0, 90.0, 30.0, 30.0), "EPSG:32633", nodata=-9999.0)
    t = Terrain.from_geotiff(file)
    expected = NORTH_UP.astype(np.float64).copy()
    expected[0, 0] = expected[2, 3] = 2.0  # lowest valid height
    np.testing.assert_array_equal(t.heights_m, expected[::-1])


def test_geotiff_geographic_pixel_size_in_metres(tmp_path):
    # 2 x 1 arc-second pixels at 60 degrees north are about 31 x 31 m.
    lat0, lon0 = 60.0 + 2.5 / 3600, 10.0
    dlon, dlat = 2.0 / 3600, 1.0 / 3600
    file = tmp_path / "wgs84.tif"
    arr = np.arange(20, dtype=np.float32).reshape(5, 4)
    _write_tif(file, arr, from_origin(lon0, lat0, dlon, dlat), "EPSG:4326")
    t = Terrain.from_geotiff(file)
    # WGS 84 radii of curvature at the centre latitude, 60 degrees
    a, e2 = 6_378_137.0, 6.694379990141317e-3
    phi = math.radians(60.0)
    q = 1 - e2 * math.sin(phi) ** 2
    dx = math.radians(dlon) * a / math.sqrt(q) * math.cos(phi)
    dy = math.radians(dlat) * a * (1 - e2) / q ** 1.5
    assert t.spacing_m == pytest.approx((dx + dy) / 2, rel=1e-9)
    assert 30.8 < t.spacing_m < 31.1
    np.testing.assert_array_equal(t.heights_m, arr[::-1])


def test_geotiff_geographic_non_square_pixels(tmp_path):
    # 1 x 1 arc-second at 60 degrees: pixels are twice as tall as wide.
    file = tmp_path / "tall.tif"
    _write_tif(file, NORTH_UP, from_origin(10.0, 60.0, 1 / 3600, 1 / 3600), "EPSG:4326")
    with pytest.raises(ScenarioError) as err:
        Terrain.from_geotiff(file)
    assert "square" in err.value.message and "gdalwarp" in err.value.message


def test_geotiff_projected_non_square_pixels(tmp_path):
    file = tmp_path / "rect.tif"
    _write_tif(file, NORTH_UP, from_origin(0.0, 90.0, 30.0, 20.0), "EPSG:32633")
    with pytest.raises(ScenarioError) as err:
        Terrain.from_geotiff(file)
    assert "30 m wide and 20 m tall" in err.value.message
    assert err.value.path == "world.terrain.path"


def test_geotiff_missing_and_unreadable(tmp_path):
    with pytest.raises(ScenarioError) as err:
        Terrain.from_geotiff(tmp_path / "nope.tif")
    assert "not found" in err.value.message
    junk = tmp_path / "junk.tif"
    junk.write_text("not a raster")
    with pytest.raises(ScenarioError) as err:
        Terrain.from_geotiff(junk)
    assert "cannot read" in err.value.message and err.value.file == str(junk)


def test_geotiff_too_small_and_without_crs(tmp_path):
    small = tmp_path / "small.tif"
    _write_tif(small, np.zeros((1, 3), np.float32), from_origin(0, 30, 30, 30), "EPSG:32633")
    with pytest.raises(ScenarioError, match="2 x 2"):
        Terrain.from_geotiff(small)
    nocrs = tmp_path / "nocrs.tif"
    _write_tif(nocrs, NORTH_UP, from_origin(0, 90, 30, 30), None)
    with pytest.raises(ScenarioError, match="no coordinate reference system"):
        Terrain.from_geotiff(nocrs)


# ------------------------------------------------------------------ from spec

def test_terrain_from_spec_sources(tmp_path):
    rng = np.random.default_rng(0)
    flat = terrain_from_spec(TerrainSpec(source="flat", size_m=(500.0, 500.0), spacing_m=50.0,
                                         base_elevation_m=3.0), base_dir=".", rng=rng)
    assert flat.shape == (11, 11) and (flat.heights_m == 3.0).all()

    proc = terrain_from_spec(TerrainSpec(source="procedural", size_m=(2000.0, 1000.0),
                                         spacing_m=50.0, relief_m=250.0, ridges=3,
                                         base_elevation_m=10.0),
                             base_dir=".", rng=np.random.default_rng(5))
    again = Terrain.procedural((2000.0, 1000.0), 50.0, 250.0, 3, 10.0, (0.0, 0.0),
                               np.random.default_rng(5))
    np.testing.assert_array_equal(proc.heights_m, again.heights_m)

    (tmp_path / "data").mkdir()
    np.save(tmp_path / "data" / "dem.npy", np.ones((3, 3)))
    npy = terrain_from_spec(TerrainSpec(source="npy", path="data/dem.npy", spacing_m=5.0,
                                        origin_m=(1.0, 2.0)), base_dir=str(tmp_path), rng=rng)
    assert npy.bounds == (1.0, 2.0, 11.0, 12.0)

    _write_tif(tmp_path / "dem.tif", NORTH_UP, from_origin(0, 90, 30, 30), "EPSG:32633")
    tif = terrain_from_spec(TerrainSpec(source="geotiff", path="dem.tif"),
                            base_dir=str(tmp_path), rng=rng)
    np.testing.assert_array_equal(tif.heights_m, NORTH_UP[::-1])


def test_terrain_from_spec_errors(tmp_path):
    rng = np.random.default_rng(0)
    with pytest.raises(ScenarioError) as err:
        terrain_from_spec(TerrainSpec(source="lidar"), base_dir=".", rng=rng)
    assert err.value.path == "world.terrain.source" and "'procedural'" in err.value.message
    with pytest.raises(ScenarioError) as err:
        terrain_from_spec(TerrainSpec(source="npy"), base_dir=".", rng=rng)
    assert err.value.path == "world.terrain.path"
    with pytest.raises(ScenarioError) as err:
        terrain_from_spec(TerrainSpec(source="geotiff", path="missing.tif"),
                          base_dir=str(tmp_path), rng=rng)
    assert err.value.file == str(tmp_path / "missing.tif")
    assert "not found" in err.value.message


def test_a_few_points_get_the_heights_many_points_get_bit_for_bit():
    rng = np.random.default_rng(21)
    t = Terrain(rng.uniform(-50.0, 900.0, (37, 53)), 25.0, origin_m=(-300.0, 120.0))
    xmin, ymin, xmax, ymax = t.bounds
    x = rng.uniform(xmin - 100.0, xmax + 100.0, 400)
    y = rng.uniform(ymin - 100.0, ymax + 100.0, 400)
    # grid points, edges, corners, outside, infinities and NaN
    x[:8] = [xmin, xmax, xmin + 25.0, np.inf, -np.inf, np.nan, 0.0, -0.0]
    y[:8] = [ymin, ymax, np.nan, ymin + 50.0, 1e12, 3.0, -np.inf, ymax]
    many = t.height_at(x, y)  # one numpy pass
    few = np.concatenate([t.height_at(x[i:i + 3], y[i:i + 3]) for i in range(0, 400, 3)])
    assert few.tobytes() == many.tobytes()
    assert [float(t.height_at(a, b)) for a, b in zip(x[8:40], y[8:40], strict=True)] \
        == many[8:40].tolist()
    assert np.isnan(many[[2, 5]]).all() and not np.isnan(np.delete(many, [2, 5])).any()
    # shapes: 0-d for scalars, broadcasting as numpy does
    assert t.height_at(1.0, 2.0).shape == ()
    grid = t.height_at(x[8:11, None], y[None, 8:10])
    assert grid.shape == (3, 2)
    assert grid.tobytes() == t.height_at(*np.broadcast_arrays(x[8:11, None], y[None, 8:10])
                                         ).tobytes()


def _bilinear_array_formula(t: Terrain, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The heights of many points as numpy array operations (clip, truncate, gather)."""
    ny, nx = t.heights_m.shape
    inv = 1.0 / t.spacing_m
    fx = np.clip((x - t.origin_m[0]) * inv, 0.0, nx - 1)
    fy = np.clip((y - t.origin_m[1]) * inv, 0.0, ny - 1)
    bad = np.isnan(fx) | np.isnan(fy)
    fx[bad] = 0.0
    fy[bad] = 0.0
    ix = np.minimum(fx.astype(np.intp), nx - 2)
    iy = np.minimum(fy.astype(np.intp), ny - 2)
    tx, ty = fx - ix, fy - iy
    flat = t.heights_m.reshape(-1)
    k = iy * nx + ix
    h00, h10, h01, h11 = flat[k], flat[k + 1], flat[k + nx], flat[k + nx + 1]
    south = h00 + tx * (h10 - h00)
    north = h01 + tx * (h11 - h01)
    out = south + ty * (north - south)
    out[bad] = np.nan
    return out


def test_many_points_are_the_array_formula_bit_for_bit():
    rng = np.random.default_rng(5)
    h = rng.normal(0.0, 100.0, (40, 60))
    h[0, 0], h[2, 3] = 0.0, -0.0  # sea level, both signs
    t = Terrain(h, 30.0, origin_m=(-100.0, 250.0))
    xmin, ymin, xmax, ymax = t.bounds
    x = np.concatenate([rng.uniform(xmin - 500.0, xmax + 500.0, 20000),
                        [xmin, xmax, xmin + 90.0, np.nan, 5.0, -np.inf, 1e300, -0.0]])
    y = np.concatenate([rng.uniform(ymin - 500.0, ymax + 500.0, 20000),
                        [ymin, ymax, ymin + 60.0, 3.0, np.nan, 5.0, ymin, ymax]])
    got = t.height_at(x, y)
    want = _bilinear_array_formula(t, x, y)
    assert np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(want))

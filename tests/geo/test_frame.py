"""The scenario's frame: lon/lat <-> metres, positions in lon/lat, DEMs reprojected."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Geod, Transformer

from fleetsim.errors import ScenarioError
from fleetsim.geo.frame import GeoFrame
from fleetsim.scenario import load_scenario_text, scenario_from_source
from fleetsim.world.world import build_world

ORIGIN = (47.3769, 8.5417)  # lat, lon (Zurich)


def test_origin_is_zero_and_distances_from_it_are_geodesic():
    f = GeoFrame.from_origin(*ORIGIN)
    assert f.point(ORIGIN[1], ORIGIN[0]) == pytest.approx((0.0, 0.0), abs=1e-9)
    geod = Geod(ellps="WGS84")
    lon = np.array([8.6, 8.45, 8.5417, 8.9])
    lat = np.array([47.40, 47.30, 47.5, 47.1])
    x, y = f.to_local(lon, lat)
    _, _, dist = geod.inv(np.full(4, ORIGIN[1]), np.full(4, ORIGIN[0]), lon, lat)
    np.testing.assert_allclose(np.hypot(x, y), dist, atol=1e-6)
    # north along the origin's meridian is +y
    assert x[2] == pytest.approx(0.0, abs=1e-6) and y[2] > 0


def test_lonlat_round_trip_is_exact_to_a_micrometre():
    f = GeoFrame.from_origin(*ORIGIN)
    x = np.linspace(-20_000, 20_000, 9)
    lon, lat = f.to_lonlat(x, x[::-1])
    x2, y2 = f.to_local(lon, lat)
    np.testing.assert_allclose(x2, x, atol=1e-6)
    np.testing.assert_allclose(y2, x[::-1], atol=1e-6)


def test_a_projected_crs_is_used_as_it_is():
    f = GeoFrame.from_crs("EPSG:32632")
    t = Transformer.from_crs("EPSG:4326", "EPSG:32632", always_xy=True)
    assert f.point(8.5, 47.3) == pytest.approx(t.transform(8.5, 47.3), abs=1e-6)


def test_a_geographic_crs_is_refused_with_what_would_do():
    with pytest.raises(ValueError, match="not a projected CRS; give a projected CRS in metres"):
        GeoFrame.from_crs("EPSG:4326")


SCENARIO = """
schema_version: 1
name: geo
run: {{duration_s: 600, seed: 1}}
world:
  {where}
  terrain: {{source: flat, size_m: [6000, 6000], origin_m: [-3000, -3000]}}
  zones:
    - {{id: box, kind: restricted,
       polygon: {{lonlat: [[8.545, 47.378], [8.55, 47.378], [8.55, 47.381]]}}}}
  sites:
    - {{id: b, kind: base, position: {{lonlat: [8.53, 47.37]}}}}
fleet:
  types:
    - {{id: q, kind: multirotor, count: 1, base: b, cruise_speed_mps: 10, climb_rate_mps: 3,
       battery_wh: 100, hover_power_w: 100, cruise_power_w: 100, recharge_time_s: 100,
       sensor: {{footprint_radius_m: 20}}}}
policy: {{name: lawnmower}}
"""


def test_positions_given_in_lonlat_become_metres_through_the_frame():
    s = load_scenario_text(SCENARIO.format(where="origin: {lat: 47.3769, lon: 8.5417}"))
    f = GeoFrame.from_origin(*ORIGIN)
    assert s.sites[0].position == pytest.approx(f.point(8.53, 47.37))
    assert s.zones[0].exterior[1] == pytest.approx(f.point(8.55, 47.378))
    # the stored source is in metres and keeps the origin: it rebuilds the same scenario
    assert s.source["world"]["origin"] == {"lat": 47.3769, "lon": 8.5417}
    assert scenario_from_source(s.source) == s


def test_lonlat_without_a_frame_says_what_to_add():
    with pytest.raises(ScenarioError, match=r"<scenario>:9: world.zones\[0\].polygon\[0\]: a position "
                                            r"in longitude/latitude needs the scenario on the "
                                            r"map: give world.origin"):
        load_scenario_text(SCENARIO.format(where="{}").replace("  {}\n", ""))


def test_origin_and_crs_together_are_refused():
    with pytest.raises(ScenarioError, match="world.crs: give world.origin .* not both"):
        load_scenario_text(SCENARIO.format(
            where="origin: {lat: 47.0, lon: 8.0}\n  crs: EPSG:32632"))


def test_a_latitude_out_of_range_is_refused():
    text = SCENARIO.format(where="origin: {lat: 47.3769, lon: 8.5417}").replace(
        "[8.53, 47.37]", "[8.53, 97.37]")
    with pytest.raises(ScenarioError, match=r"sites\[0\].position.lonlat: latitude 97.37 is "
                                            r"outside -90..90 degrees"):
        load_scenario_text(text)


def test_a_utm_geotiff_is_reprojected_onto_the_scenario_frame(tmp_path):
    import rasterio
    from rasterio.transform import from_origin

    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32632", always_xy=True)
    e0, n0 = to_utm.transform(ORIGIN[1], ORIGIN[0])
    px = 30.0
    west, north = e0 - 3000.0, n0 + 3000.0
    cols, rows = 200, 200
    ee = west + px * (np.arange(cols) + 0.5)
    nn = north - px * (np.arange(rows) + 0.5)
    heights = 400.0 + 0.01 * (ee[None, :] - e0) + 0.02 * (nn[:, None] - n0)  # a plane
    with rasterio.open(tmp_path / "dem.tif", "w", driver="GTiff", width=cols, height=rows,
                       count=1, dtype="float64", crs="EPSG:32632",
                       transform=from_origin(west, north, px, px)) as ds:
        ds.write(heights, 1)
    text = SCENARIO.format(where="origin: {lat: 47.3769, lon: 8.5417}").replace(
        "{source: flat, size_m: [6000, 6000], origin_m: [-3000, -3000]}",
        "{source: geotiff, path: dem.tif}")
    s = load_scenario_text(text, base_dir=str(tmp_path))
    terrain = build_world(s).terrain
    assert terrain.spacing_m == pytest.approx(px)
    f = GeoFrame.from_origin(*ORIGIN)
    x = np.array([0.0, 1000.0, -1500.0, 2000.0])
    y = np.array([0.0, -800.0, 1200.0, 1900.0])
    lon, lat = f.to_lonlat(x, y)
    e, n = to_utm.transform(lon, lat)
    expected = 400.0 + 0.01 * (e - e0) + 0.02 * (n - n0)
    np.testing.assert_allclose(terrain.height_at(x, y), expected, atol=1e-6)


def test_a_lonlat_geotiff_is_reprojected_onto_the_scenario_frame(tmp_path):
    """An EPSG:4326 DEM whose heights are a bilinear function of longitude and latitude
    comes back at every local point as that function of the point's own lon/lat (bilinear
    resampling reproduces a bilinear function of the source's pixel coordinates)."""
    import rasterio
    from rasterio.transform import from_origin

    lat0, lon0 = ORIGIN
    dlat = 0.0003  # about 33 m; the longitude step makes the pixels square in metres
    dlon = dlat / np.cos(np.radians(lat0))
    cols = rows = 200
    west, north = lon0 - dlon * cols / 2, lat0 + dlat * rows / 2
    lon = west + dlon * (np.arange(cols) + 0.5)
    lat = north - dlat * (np.arange(rows) + 0.5)

    def height(lo, la):
        return (420.0 + 3000.0 * (lo - lon0) - 5000.0 * (la - lat0)
                + 5.0e4 * (lo - lon0) * (la - lat0))

    with rasterio.open(tmp_path / "dem.tif", "w", driver="GTiff", width=cols, height=rows,
                       count=1, dtype="float64", crs="EPSG:4326",
                       transform=from_origin(west, north, dlon, dlat)) as ds:
        ds.write(height(lon[None, :], lat[:, None]), 1)
    text = SCENARIO.format(where="origin: {lat: 47.3769, lon: 8.5417}").replace(
        "{source: flat, size_m: [6000, 6000], origin_m: [-3000, -3000]}",
        "{source: geotiff, path: dem.tif}")
    terrain = build_world(load_scenario_text(text, base_dir=str(tmp_path))).terrain
    # the grid keeps the DEM's pixel size (metres at its centre latitude) and covers its
    # footprint: 200 pixels of ~33.4 m, about 6.7 km each way, centred on the origin
    assert terrain.spacing_m == pytest.approx(dlat * 111_180, rel=2e-3)
    x0, y0, x1, y1 = terrain.bounds
    assert -x0 == pytest.approx(x1, abs=2 * terrain.spacing_m)
    assert x1 - x0 == pytest.approx(cols * terrain.spacing_m, abs=2 * terrain.spacing_m)
    f = GeoFrame.from_origin(*ORIGIN)
    x = np.array([0.0, 1000.0, -1500.0, 2000.0, -2500.0, 1234.5])
    y = np.array([0.0, -800.0, 1200.0, 1900.0, -2600.0, 2500.0])
    plo, pla = f.to_lonlat(x, y)
    # GDAL's warper interpolates the transformation linearly where that stays within 1/8
    # of a source pixel (its default error threshold), so a height is off by at most the
    # function's change over 1/8 pixel: |dh/dlon| dlon / 8 + |dh/dlat| dlat / 8
    bound = (np.abs(3000.0 + 5.0e4 * (pla - lat0)) * dlon
             + np.abs(-5000.0 + 5.0e4 * (plo - lon0)) * dlat) / 8
    err = np.abs(terrain.height_at(x, y) - height(plo, pla))
    assert (err <= bound).all(), (err, bound)
    assert bound.max() < 0.6  # (half a pixel east is 0.66 m higher at the origin)
    # north is up: a step north lowers the height by 5000 m per degree of latitude
    assert terrain.height_at(0.0, 1000.0) < terrain.height_at(0.0, 0.0) - 40.0

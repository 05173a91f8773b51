import numpy as np

from fleetsim.scenario.model import TerrainSpec
from fleetsim.world.terrain import terrain_from_spec


def test_over_the_sea_the_surface_is_the_ground():
    """A flat seabed at -40 m under sea level 0: heights over water are 0 (the surface),
    so cruise heights and terrain clearance are taken from the water; the water mask
    marks every cell as sea."""
    spec = TerrainSpec(source="flat", size_m=(1000.0, 1000.0), spacing_m=100.0,
                       base_elevation_m=-40.0, sea_level_m=0.0)
    t = terrain_from_spec(spec, base_dir=".", rng=np.random.default_rng(0))
    assert np.all(t.height_at(np.array([50.0, 900.0]), np.array([50.0, 500.0])) == 0.0)
    assert t.water.all() and t.sea_level_m == 0.0


def test_land_above_sea_level_is_unchanged():
    spec = TerrainSpec(source="procedural", size_m=(4000.0, 4000.0), spacing_m=50.0,
                       relief_m=300.0, ridges=3, base_elevation_m=-100.0, sea_level_m=0.0)
    bare = TerrainSpec(source="procedural", size_m=(4000.0, 4000.0), spacing_m=50.0,
                       relief_m=300.0, ridges=3, base_elevation_m=-100.0)
    t = terrain_from_spec(spec, base_dir=".", rng=np.random.default_rng(5))
    b = terrain_from_spec(bare, base_dir=".", rng=np.random.default_rng(5))
    land = b.heights_m >= 0
    assert 0 < land.mean() < 1
    assert np.array_equal(t.heights_m[land], b.heights_m[land])
    assert np.all(t.heights_m[~land] == 0.0) and np.array_equal(t.water, ~land)

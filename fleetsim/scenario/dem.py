"""The grid of a terrain file (``.npy`` or GeoTIFF), read from its header alone.

A scenario names its elevation file; before anything is allocated, the
loader needs the grid's shape and spacing to check every position against
the terrain's extent and to estimate the run's memory. Both come from the
file's header here: ``numpy.lib.format.read_array_header_*`` for ``.npy``
(the array is not read) and rasterio's metadata for GeoTIFF (no band is
read). :mod:`fleetsim.world.terrain` reads the heights afterwards through the
same checks.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from fleetsim.errors import ScenarioError

__all__ = ["MAX_TERRAIN_POINTS", "MIN_HEIGHT_M", "MAX_HEIGHT_M", "DemGrid", "dem_grid",
           "geotiff_grid", "height_problem"]

#: Largest terrain grid (points) of any source: 10^8 points are 800 MB of float64.
MAX_TERRAIN_POINTS = 100_000_000
#: Plausible heights of the Earth's surface, metres above the datum (the deepest
#: ocean trench is ~11,000 m below sea level, the highest summit ~8,850 m above).
MIN_HEIGHT_M = -12_000.0
MAX_HEIGHT_M = 9_000.0

#: WGS 84 semi-major axis (m) and first eccentricity squared.
_WGS84_A = 6_378_137.0
_WGS84_E2 = 6.694379990141317e-3
_WHERE = "world.terrain.path"


@dataclass(frozen=True)
class DemGrid:
    """Shape and spacing of a terrain file's grid."""

    #: Points south-north and west-east.
    ny: int
    nx: int
    #: Grid spacing in metres (None for ``.npy``: the scenario gives it).
    spacing_m: float | None

    @property
    def points(self) -> int:
        return self.ny * self.nx


def height_problem(lo: float, hi: float) -> str | None:
    """Why heights spanning ``lo..hi`` metres are not plausible, or None."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "heights must be finite numbers of metres"
    if lo < MIN_HEIGHT_M or hi > MAX_HEIGHT_M:
        return (f"heights range {lo:g}..{hi:g} m; heights of the Earth's surface lie within "
                f"{MIN_HEIGHT_M:g}..{MAX_HEIGHT_M:g} m (are they in another unit, or is the "
                f"nodata value unset?)")
    return None


def _too_big(ny: int, nx: int) -> str | None:
    if ny * nx > MAX_TERRAIN_POINTS:
        return (f"the height grid is {ny:,} x {nx:,} points (rows x columns), "
                f"{ny * nx:,} in all; at most {MAX_TERRAIN_POINTS:,} are supported "
                f"(resample the DEM to a coarser spacing)")
    if ny < 2 or nx < 2:
        return (f"the height grid is {ny} x {nx} (rows x columns); at least 2 x 2 points are "
                f"needed to interpolate")
    return None


def dem_grid(source: str, file: str | os.PathLike[str]) -> DemGrid:
    """The grid of terrain file ``file`` (``source``: ``"npy"`` or ``"geotiff"``).

    Reads the header only. Raises :class:`ScenarioError` (path
    ``world.terrain.path``, file ``file``) if the file cannot be read, is not
    a 2-D numeric grid of at least 2 x 2 points, holds more than
    :data:`MAX_TERRAIN_POINTS` points, or is shorter than its header says.
    """
    name = os.fspath(file)
    if source == "npy":
        return _npy_grid(name)
    if source == "geotiff":
        return geotiff_grid(name)[0]
    raise ValueError(f"not a terrain file source: {source!r}")


def _fail(name: str, message: str) -> ScenarioError:
    return ScenarioError(message, file=name, path=_WHERE)


def _npy_grid(name: str) -> DemGrid:
    fmt = np.lib.format
    expected = "a 2-D array of heights in metres written by numpy.save"
    try:
        with open(name, "rb") as f:
            if f.read(4) == b"PK\x03\x04":
                raise _fail(name, f"found a .npz archive; expected {expected} (.npy)")
            f.seek(0)
            major, _minor = fmt.read_magic(f)
            if major == 1:
                shape, fortran, dtype = fmt.read_array_header_1_0(f)
            elif major in (2, 3):
                shape, fortran, dtype = fmt.read_array_header_2_0(f)
            else:
                raise ValueError(f"unknown .npy format version {major}")
            offset = f.tell()
            size = os.fstat(f.fileno()).st_size
    except ScenarioError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise _fail(name, f"cannot read the file as a .npy array ({exc}); expected "
                          f"{expected}") from None
    if dtype.hasobject:
        raise _fail(name, f"cannot read the file as a .npy array (it holds pickled Python "
                          f"objects); expected {expected}")
    if len(shape) != 2:
        raise _fail(name, f"expected a 2-D array of heights (rows south to north, columns west "
                          f"to east), found a {len(shape)}-D array of shape {tuple(shape)}")
    if not (np.issubdtype(dtype, np.number) or dtype == np.bool_) \
            or np.issubdtype(dtype, np.complexfloating):
        raise _fail(name, f"expected real numeric heights, found dtype {dtype}")
    ny, nx = (int(v) for v in shape)
    problem = _too_big(ny, nx)
    if problem:
        raise _fail(name, problem)
    need = ny * nx * dtype.itemsize
    if size - offset < need:
        raise _fail(name, f"the file is truncated: its header describes {ny} x {nx} {dtype} "
                          f"heights ({need:,} bytes) but it holds {max(size - offset, 0):,}")
    return DemGrid(ny=ny, nx=nx, spacing_m=None)


def geotiff_grid(name: str) -> tuple[DemGrid, bool, bool]:
    """The grid, and whether rows (north-first) and columns (east-first) must be flipped."""
    import rasterio  # the DEM library; imported where it is used
    from rasterio.errors import RasterioError

    try:
        with rasterio.open(name) as ds:
            transform, crs = ds.transform, ds.crs
            width, height, count = ds.width, ds.height, ds.count
    except (RasterioError, OSError, ValueError) as exc:
        raise _fail(name, f"cannot read the file as a raster ({exc}); expected a GeoTIFF "
                          f"elevation model") from None
    if count < 1:
        raise _fail(name, "the raster has no bands; expected one band of heights")
    problem = _too_big(height, width)
    if problem:
        raise _fail(name, problem.replace("height grid", "raster").replace("points", "pixels"))
    if transform.b != 0 or transform.d != 0:
        raise _fail(name, "the raster's geotransform is rotated or sheared; expected a north-up "
                          "raster (reproject it, e.g. with gdalwarp)")
    if crs is None:
        raise _fail(name, "the raster has no coordinate reference system, so its pixel size "
                          "cannot be converted to metres; assign one (e.g. gdal_edit.py -a_srs "
                          "EPSG:32633) or convert the heights to .npy and give spacing_m")
    px, py = abs(transform.a), abs(transform.e)
    if crs.is_geographic:
        # Centre of the raster in (lon, lat) degrees.
        lat = transform.f + transform.e * (height / 2.0)
        if not -90.0 <= lat <= 90.0:
            raise _fail(name, f"the raster's centre latitude {lat:g} is outside -90..90 degrees")
        phi = math.radians(lat)
        q = 1.0 - _WGS84_E2 * math.sin(phi) ** 2
        meridional = _WGS84_A * (1.0 - _WGS84_E2) / q ** 1.5
        prime_vertical = _WGS84_A / math.sqrt(q)
        dx_m = math.radians(px) * prime_vertical * math.cos(phi)
        dy_m = math.radians(py) * meridional
        tol, kind = 0.01, "at the raster's centre latitude"
    else:
        try:
            factor = float(crs.linear_units_factor[1])
        except Exception:
            factor = 1.0
        dx_m, dy_m = px * factor, py * factor
        tol, kind = 1e-6, "in the raster's CRS"
    if not (dx_m > 0 and dy_m > 0 and math.isfinite(dx_m) and math.isfinite(dy_m)):
        raise _fail(name, f"the raster's pixel size {px:g} x {py:g} is not usable")
    if abs(dx_m - dy_m) > tol * max(dx_m, dy_m):
        raise _fail(name,
                    f"pixels are {dx_m:.6g} m wide and {dy_m:.6g} m tall {kind}; terrain needs "
                    f"square pixels (to {tol:g} relative) -- resample the DEM to square pixels, "
                    f"e.g. gdalwarp -t_srs <projected CRS> -tr {max(dx_m, dy_m):.6g} "
                    f"{max(dx_m, dy_m):.6g}")
    spacing = 0.5 * (dx_m + dy_m) if crs.is_geographic else dx_m
    return DemGrid(ny=height, nx=width, spacing_m=spacing), transform.e < 0, transform.a < 0


def read_wind_grid(file: str | os.PathLike[str], max_values: int) -> np.ndarray:
    """The gridded wind field in ``file`` as a float64 array (T, ny, nx, 2).

    Accepts a .npy array of shape (ny, nx, 2) (one slice) or (T, ny, nx, 2). Raises
    ValueError with what is wrong (the caller adds file and YAML path): not a plain
    numeric .npy, another shape, fewer than 2 x 2 points, more than ``max_values``
    values, a non-finite value or a component above 100 m/s.
    """
    expected = "a float array of shape (ny, nx, 2) or (T, ny, nx, 2) written by numpy.save"
    try:
        arr = np.load(os.fspath(file), mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"cannot read the file as a .npy array ({exc}); expected "
                         f"{expected}") from None
    if not isinstance(arr, np.ndarray) or not np.issubdtype(arr.dtype, np.number) \
            or np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"expected {expected}, found dtype {getattr(arr, 'dtype', '?')}")
    shape = tuple(arr.shape)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[3] != 2:
        raise ValueError(f"expected {expected}, found shape {shape}")
    if arr.size > max_values:
        raise ValueError(f"the field has {arr.size:,} values; at most {max_values:,} are "
                         "supported (use a coarser grid or fewer slices)")
    if arr.shape[1] < 2 or arr.shape[2] < 2:
        raise ValueError(f"the grid is {arr.shape[1]} x {arr.shape[2]} (rows x columns); at "
                         "least 2 x 2 points are needed to interpolate")
    out = np.array(arr, dtype=np.float64)
    if not np.isfinite(out).all():
        raise ValueError("the field holds a value that is not finite (NaN or inf)")
    top = float(np.abs(out).max())
    if top > 100.0:
        raise ValueError(f"the field holds a component of {top:g} m/s; at most 100 m/s")
    return out

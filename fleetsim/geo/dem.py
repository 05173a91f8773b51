"""GeoTIFF DEMs in any CRS, reprojected onto the scenario's frame (rasterio).

When a scenario is on the map (``world.origin`` or ``world.crs``), a GeoTIFF
terrain is placed by its own georeferencing: its footprint is transformed into
the scenario's metres (:func:`rasterio.warp.transform_bounds`, edges densified),
a north-up grid of square cells at the DEM's own pixel size (metres) is laid
over it, and the heights are resampled bilinearly onto that grid
(:func:`rasterio.warp.reproject`). Cells of the new grid outside the source's
footprint take its lowest valid height, as nodata cells do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fleetsim.geo.frame import GeoFrame

__all__ = ["ReprojectedGrid", "reprojected_grid", "reprojected_heights"]


@dataclass(frozen=True)
class ReprojectedGrid:
    """The scenario-frame grid a DEM is resampled onto."""

    #: Local position (m) of the south-west grid point (a cell centre).
    origin_m: tuple[float, float]
    spacing_m: float
    ny: int
    nx: int

    @property
    def points(self) -> int:
        return self.ny * self.nx


def reprojected_grid(file: str, frame: GeoFrame, spacing_m: float) -> ReprojectedGrid:
    """The grid (headers only) that the DEM ``file`` covers in ``frame`` at ``spacing_m``."""
    import rasterio
    from rasterio.warp import transform_bounds

    with rasterio.open(file) as ds:
        left, bottom, right, top = transform_bounds(ds.crs, frame.crs_wkt, *ds.bounds,
                                                    densify_pts=21)
    nx = max(int(math.floor((right - left) / spacing_m)), 2)
    ny = max(int(math.floor((top - bottom) / spacing_m)), 2)
    return ReprojectedGrid(origin_m=(left + spacing_m / 2, top - ny * spacing_m + spacing_m / 2),
                           spacing_m=spacing_m, ny=ny, nx=nx)


def reprojected_heights(file: str, frame: GeoFrame,
                        spacing_m: float) -> tuple[np.ndarray, ReprojectedGrid]:
    """The DEM's heights on :func:`reprojected_grid`: (ny, nx) float64, rows south first."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.warp import Resampling, reproject

    grid = reprojected_grid(file, frame, spacing_m)
    x0, y0 = grid.origin_m
    top = y0 - spacing_m / 2 + grid.ny * spacing_m
    dst = np.full((grid.ny, grid.nx), np.nan, dtype=np.float64)
    with rasterio.open(file) as ds:
        band = ds.read(1, masked=True)
        src = np.ma.filled(band.astype(np.float64), np.nan)
        reproject(source=src, destination=dst, src_transform=ds.transform, src_crs=ds.crs,
                  src_nodata=np.nan, dst_transform=from_origin(x0 - spacing_m / 2, top,
                                                               spacing_m, spacing_m),
                  dst_crs=frame.crs_wkt, dst_nodata=np.nan, resampling=Resampling.bilinear)
    valid = np.isfinite(dst)
    if not valid.any():
        raise ValueError("the DEM does not cover any point of its own footprint in the "
                         "scenario's frame")
    dst[~valid] = dst[valid].min()
    return dst[::-1].copy(), grid

"""The scenario's place on the Earth: longitude/latitude <-> local metres.

A scenario's positions are local metres, x east and y north (DESIGN.md section
2). A scenario that gives ``world.origin: {lat, lon}`` or ``world.crs:
EPSG:...`` is also on the map, and :class:`GeoFrame` converts between its
metres and WGS 84 longitude/latitude (always in that order, as GeoJSON,
RFC 7946, has them).

- ``world.origin``: an azimuthal equidistant projection centred at the origin
  (PROJ ``+proj=aeqd +lat_0=.. +lon_0=.. +datum=WGS84``): the origin is
  ``(0, 0)``, north is +y along the origin's meridian, and every distance and
  bearing *from the origin* is exact on the ellipsoid. Other distances are
  stretched by at most about ``r^2 / (6 R^2)`` at ``r`` from the origin (1e-5
  at 50 km, 4e-4 at 300 km): a local tangent plane that keeps its promises
  over the areas fleets work in. A transverse Mercator centred at the origin
  (conformal) stretches east-west distances by ``x^2 / (2 R^2)``, three times
  more at the same distance, which is why it was not chosen.
- ``world.crs``: a projected CRS in metres (a UTM zone, a national grid);
  scenario metres *are* that CRS's coordinates (easting, northing), so layers
  drawn in QGIS in that CRS line up with the scenario as they are.

Conversions are vectorised (arrays in, arrays out) through :mod:`pyproj`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["GeoFrame", "frame_of", "crs_problem"]


def _transformers(crs_text: str) -> tuple[Any, Any]:
    from pyproj import CRS, Transformer

    crs = CRS.from_user_input(crs_text)
    forward = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    inverse = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    return forward, inverse


def crs_problem(text: str) -> str | None:
    """Why ``text`` is not a usable projected CRS in metres, or None."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        crs = CRS.from_user_input(text)
    except CRSError as exc:
        return f"cannot read {text!r} as a coordinate reference system ({exc})"
    if not crs.is_projected:
        return (f"{text} ({crs.name}) is not a projected CRS; give a projected CRS in metres "
                "(e.g. a UTM zone, EPSG:32632) or world.origin: {lat, lon}")
    units = {ax.unit_name for ax in crs.axis_info[:2]}
    if units != {"metre"}:
        return (f"{text} ({crs.name}) has axes in {', '.join(sorted(units))}; scenario "
                "positions are metres: give a projected CRS in metres")
    return None


@dataclass(frozen=True)
class GeoFrame:
    """Local scenario metres <-> WGS 84 longitude/latitude (degrees).

    Build it with :meth:`from_origin` or :meth:`from_crs` (or
    :func:`frame_of` a scenario). ``proj`` is the PROJ string or CRS the
    scenario's metres are in; :attr:`crs_wkt` its WKT (for rasterio).
    """

    proj: str
    origin_lonlat: tuple[float, float] | None = None
    _fwd: Any = field(default=None, compare=False, repr=False)
    _inv: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def from_origin(cls, lat: float, lon: float) -> GeoFrame:
        """The azimuthal equidistant plane centred at ``(lat, lon)`` degrees."""
        proj = (f"+proj=aeqd +lat_0={float(lat)!r} +lon_0={float(lon)!r} +x_0=0 +y_0=0 "
                "+datum=WGS84 +units=m +no_defs")
        fwd, inv = _transformers(proj)
        return cls(proj=proj, origin_lonlat=(float(lon), float(lat)), _fwd=fwd, _inv=inv)

    @classmethod
    def from_crs(cls, crs: str) -> GeoFrame:
        """The projected CRS ``crs`` (``"EPSG:32632"``, a PROJ string or WKT)."""
        problem = crs_problem(crs)
        if problem:
            raise ValueError(problem)
        fwd, inv = _transformers(crs)
        return cls(proj=crs, _fwd=fwd, _inv=inv)

    @property
    def crs_wkt(self) -> str:
        from pyproj import CRS

        return CRS.from_user_input(self.proj).to_wkt()

    def to_local(self, lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Local ``(x, y)`` metres of WGS 84 ``(lon, lat)`` degrees (arrays of one shape)."""
        lon = np.asarray(lon, dtype=np.float64)
        lat = np.asarray(lat, dtype=np.float64)
        x, y = self._fwd.transform(lon, lat)
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def to_lonlat(self, x: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """WGS 84 ``(lon, lat)`` degrees of local ``(x, y)`` metres."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        lon, lat = self._inv.transform(x, y)
        return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)

    def point(self, lon: float, lat: float) -> tuple[float, float]:
        """One point: ``(x, y)`` metres of ``(lon, lat)`` degrees."""
        x, y = self.to_local(lon, lat)
        return float(x), float(y)

    def lonlat(self, x: float, y: float) -> tuple[float, float]:
        """One point: ``(lon, lat)`` degrees of ``(x, y)`` metres."""
        lon, lat = self.to_lonlat(x, y)
        return float(lon), float(lat)


def lonlat_problem(lon: Any, lat: Any) -> str | None:
    """Why ``(lon, lat)`` are not WGS 84 degrees, or None."""
    for name, v, lim in (("longitude", lon, 180.0), ("latitude", lat, 90.0)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return f"{name} must be a finite number of degrees, got {v!r}"
        if not -lim <= v <= lim:
            return f"{name} {v!r} is outside -{lim:g}..{lim:g} degrees"
    return None


def frame_of(scenario: Any) -> GeoFrame | None:
    """The frame of a scenario (``world.origin`` / ``world.crs``), or None if it has neither."""
    origin = getattr(scenario, "origin", None)
    if origin is not None:
        return GeoFrame.from_origin(origin.lat, origin.lon)
    crs = getattr(scenario, "crs", None)
    if crs is not None:
        return GeoFrame.from_crs(crs)
    return None

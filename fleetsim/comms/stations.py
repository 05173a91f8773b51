"""Ground stations: where they are, their range, their horizons, and when a leg is
within a station's slant range (see :mod:`fleetsim.comms`)."""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, field

import numpy as np
from numba import njit
from scipy.spatial import cKDTree

from fleetsim.world.viewshed import Horizon, HorizonBank


@dataclass(frozen=True)
class Station:
    index: int  # site index
    xyz: tuple[float, float, float]  # antenna position, metres
    range_m: float
    #: The antenna's horizon over the terrain (None on flat ground or when not built):
    #: line of sight to any point in O(1) (see fleetsim.world.viewshed). Stations of
    #: :func:`stations_of` have one over their range, built on first use.
    horizon: Horizon | None = field(default=None, compare=False, repr=False)


#: The horizons of each terrain's stations, shared by all who ask (the engine and the
#: metrics of a run in the same process build each one once).
_BANKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _bank_of(terrain) -> HorizonBank:
    bank = _BANKS.get(terrain)
    if bank is None:
        bank = _BANKS[terrain] = HorizonBank(terrain)
    return bank


#: Whether each terrain is flat, by terrain (with the height array it was found of).
_FLAT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def is_flat(terrain) -> bool:
    """Whether ``terrain`` is flat (every height the same)."""
    heights = terrain.heights_m
    try:
        hit = _FLAT.get(terrain)
    except TypeError:  # not weakly referable: not kept
        return bool(np.ptp(heights) == 0.0)
    if hit is None or hit[0] is not heights:
        hit = _FLAT[terrain] = (heights, bool(np.ptp(heights) == 0.0))
    return hit[1]


def stations_of(world) -> list[Station]:
    """The ground stations of a world: sites with a radio range (with their horizons,
    over their range, built when first needed)."""
    sites = [s for s in world.sites if s.radio_range_m]
    if not sites:
        return []
    terrain = world.terrain
    flat = is_flat(terrain)
    bank = None if flat else _bank_of(terrain)
    return [Station(s.index, (s.xy[0], s.xy[1], s.antenna_z_m), float(s.radio_range_m),
                    None if flat else Horizon(terrain, s.xy[0], s.xy[1], s.antenna_z_m,
                                              radius_m=float(s.radio_range_m), bank=bank))
            for s in sites]


def station_in_sight(station: Station, pts: np.ndarray, terrain) -> np.ndarray:
    """(n,) bool: terrain line of sight from ``station``'s antenna to points (n, 3)
    within its range (a horizon built over the range reports points beyond it out of
    sight)."""
    if station.horizon is not None:
        return station.horizon.visible(pts[:, 0], pts[:, 1], pts[:, 2])
    return terrain.line_of_sight(pts, np.broadcast_to(np.asarray(station.xyz), pts.shape))


def range_intervals(t0, t1, p0, p1, station: Station) -> tuple[np.ndarray, np.ndarray]:
    """Times each leg is within ``station``'s slant range (NaN where never).

    ``p0``, ``p1``: (n, 3) leg ends; returns ``(t_in, t_out)`` clipped to the legs.
    """
    p0 = np.asarray(p0, dtype=np.float64)
    c = np.broadcast_to(np.asarray(station.xyz, dtype=np.float64), p0.shape)
    r2 = np.full(len(p0), station.range_m ** 2)
    return _range_times(t0, t1, p0, p1, c, r2)


def _range_times(t0, t1, p0, p1, c, r2) -> tuple[np.ndarray, np.ndarray]:
    """:func:`range_intervals` of legs each against its own antenna ``c`` (n, 3) and
    squared range ``r2`` (n,)."""
    t0 = np.asarray(t0, dtype=np.float64).reshape(-1)
    t1 = np.asarray(t1, dtype=np.float64).reshape(-1)
    p0 = np.asarray(p0, dtype=np.float64).reshape(-1, 3)
    p1 = np.asarray(p1, dtype=np.float64).reshape(-1, 3)
    c = np.broadcast_to(np.asarray(c, dtype=np.float64), p0.shape)
    r2 = np.broadcast_to(np.asarray(r2, dtype=np.float64), t0.shape)
    return _range_kernel(t0, t1, p0, p1, c, r2)


@njit(cache=True)
def _range_one(t0, t1, x0, y0, z0, x1, y1, z1, cx, cy, cz, r2):
    """Entry and exit times of one leg ``p0 = (x0, y0, z0) -> p1 = (x1, y1, z1)`` (over
    ``[t0, t1]``) into the sphere ``|p - c|^2 <= r2`` (``c = (cx, cy, cz)``), clipped
    to the leg (NaN where never): the roots of the quadratic in the leg's fraction
    ``f`` (position ``w + f u``, ``w = p0 - c``, ``u = p1 - p0``), its three-term dot
    products summed x, z, then y (as ``np.einsum`` sums them); a leg that does not
    move (``|u|^2 <= 1e-12``) is inside throughout or never."""
    span = t1 - t0
    w0, w1, w2 = x0 - cx, y0 - cy, z0 - cz
    u0, u1, u2 = x1 - x0, y1 - y0, z1 - z0
    a = (u0 * u0 + u2 * u2) + u1 * u1
    b = 2.0 * ((w0 * u0 + w2 * u2) + w1 * u1)
    cc = ((w0 * w0 + w2 * w2) + w1 * w1) - r2
    f_in = np.nan
    f_out = np.nan
    if a <= 1e-12:
        if cc <= 0.0:
            f_in, f_out = 0.0, 1.0
    else:
        disc = b * b - 4.0 * a * cc
        if disc >= 0.0:
            sq = math.sqrt(disc)
            lo = (-b - sq) / (2.0 * a)
            hi = (-b + sq) / (2.0 * a)
            if hi >= 0.0 and lo <= 1.0:
                f_in = lo if lo >= 0.0 else 0.0
                f_out = hi if hi <= 1.0 else 1.0
    return t0 + f_in * span, t0 + f_out * span


@njit(cache=True)
def _range_kernel(t0, t1, p0, p1, c, r2):
    """:func:`_range_one` of each leg against its own sphere."""
    n = len(t0)
    t_in = np.empty(n)
    t_out = np.empty(n)
    for i in range(n):
        t_in[i], t_out[i] = _range_one(t0[i], t1[i], p0[i, 0], p0[i, 1], p0[i, 2], p1[i, 0],
                                       p1[i, 1], p1[i, 2], c[i, 0], c[i, 1], c[i, 2], r2[i])
    return t_in, t_out


#: :func:`_station_arrays` of the station lists in use, by the list's id.
_ARRAYS: dict[int, tuple] = {}


def _station_arrays(stations: list[Station]):
    """Antenna positions (n, 3), ranges, squared ranges, whether each has a horizon, and
    a k-d tree of the antennas (horizontally), of a list of stations (kept with the
    list while it is the same list of the same stations)."""
    return _station_entry(stations)[1]


def _station_entry(stations: list[Station]) -> tuple:
    key = tuple(map(id, stations))
    hit = _ARRAYS.get(id(stations))
    if hit is not None and hit[0] == key:
        return hit
    sxyz = np.array([st.xyz for st in stations], dtype=np.float64).reshape(-1, 3)
    reach = np.array([st.range_m for st in stations], dtype=np.float64)
    r2 = np.array([st.range_m ** 2 for st in stations], dtype=np.float64)
    has_horizon = np.array([st.horizon is not None for st in stations], dtype=bool)
    arrays = (sxyz, reach, r2, has_horizon, cKDTree(sxyz[:, :2]))
    if len(_ARRAYS) > 64:
        _ARRAYS.clear()
    entry = _ARRAYS[id(stations)] = (key, arrays, stations, {})
    return entry

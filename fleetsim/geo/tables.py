"""Longitude/latitude columns for the tables of a run on the map.

A run directory's tables hold local metres (``x_m``, ``y_m``, ...). When the
scenario has ``world.origin`` or ``world.crs``, :func:`with_lonlat` adds WGS 84
columns next to them on the way to Parquet: ``lon0_deg, lat0_deg, lon1_deg,
lat1_deg`` for the legs and the reservations, ``lon_deg, lat_deg`` for the events and
targets
(NaN where the position is). The run in memory (and so its digest) is
unchanged, and runs off the map are written exactly as before.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fleetsim.geo.frame import frame_of

__all__ = ["LONLAT_COLUMNS", "with_lonlat"]

#: Per table: (x column, y column, lon column, lat column) added.
LONLAT_COLUMNS = {
    "legs": (("x0_m", "y0_m", "lon0_deg", "lat0_deg"), ("x1_m", "y1_m", "lon1_deg", "lat1_deg")),
    "events": (("x_m", "y_m", "lon_deg", "lat_deg"),),
    "targets": (("x_m", "y_m", "lon_deg", "lat_deg"),),
    "reservations": (("x0_m", "y0_m", "lon0_deg", "lat0_deg"),
                     ("x1_m", "y1_m", "lon1_deg", "lat1_deg")),
}


def with_lonlat(scenario: Any, name: str, table: dict[str, np.ndarray],
                columns: dict[str, type]) -> tuple[dict[str, np.ndarray], dict[str, type]]:
    """``table`` and ``columns`` with the lon/lat columns of table ``name`` added (when the
    scenario is on the map and the table has positions); else both as given."""
    frame = frame_of(scenario)
    if frame is None or name not in LONLAT_COLUMNS:
        return table, columns
    table, columns = dict(table), dict(columns)
    for xcol, ycol, loncol, latcol in LONLAT_COLUMNS[name]:
        lon, lat = frame.to_lonlat(np.asarray(table[xcol], dtype=np.float64),
                                   np.asarray(table[ycol], dtype=np.float64))
        table[loncol], table[latcol] = lon, lat
        columns[loncol] = columns[latcol] = np.float64
    return table, columns

"""Write ``scenarios/data/harbor_dem.npy``: the small coastal DEM of harbor_resupply.

A 12 x 10 km grid at 100 m: mainland to the west with a harbour bay, open sea to
the east with three islands. Heights in metres above sea level (0 m); the seabed
lies at -30 m. Run from the repository root: ``python scripts/make_harbor_dem.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SPACING_M = 100.0
NX, NY = 121, 101  # 12 km x 10 km


def harbor_dem() -> np.ndarray:
    x = np.arange(NX) * SPACING_M
    y = np.arange(NY) * SPACING_M
    xx, yy = np.meshgrid(x, y)
    # The coast runs north-south near x = 2.5 km, with a bay around y = 5 km.
    coast = 2500.0 + 250.0 * np.sin(yy / 1300.0) - 700.0 * np.exp(-((yy - 5000.0) / 900.0) ** 2)
    land = np.clip((coast - xx) / 40.0, -1.0, 1.0)
    heights = np.where(land > 0, 5.0 + 0.02 * (coast - xx) + 60.0 * (1 - np.exp(
        -(coast - xx) / 1500.0)), -30.0 + 25.0 * np.exp(-(xx - coast) / 400.0))
    for cx, cy, r, h in ((6000.0, 7500.0, 700.0, 45.0), (8500.0, 3000.0, 600.0, 35.0),
                         (10200.0, 8000.0, 500.0, 30.0)):
        d2 = ((xx - cx) ** 2 + (yy - cy) ** 2) / r ** 2
        bump = (h + 30.0) * np.exp(-d2) - 30.0
        heights = np.maximum(heights, bump)
    return heights.astype(np.float64)


if __name__ == "__main__":
    out = Path(__file__).resolve().parent.parent / "scenarios" / "data" / "harbor_dem.npy"
    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out, harbor_dem())
    print(f"wrote {out}")

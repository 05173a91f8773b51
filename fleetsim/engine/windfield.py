"""A gridded wind field: the wind at a point and time, for :class:`WindMotion`.

``world.wind.grid`` gives a (T, ny, nx, 2) array of east and north components at the
profile's reference height on a regular grid (``spacing_m`` from ``origin_m``), slice
``k`` from time ``k * step_s`` on. The field is interpolated bilinearly between the
grid's points and held constant beyond its edges; in time it is piecewise constant.

How the motion model uses it (the approximation): a leg flies in the wind at its
midpoint, in the slice of the time it starts, for the whole leg (a leg crossing
several cells sees their average only through that one sample: keep legs shorter than
a few cells where the field varies); the time home for the energy reserve uses the
wind at the midpoint of the way home, and the reserve's quick whole-route test the
strongest wind anywhere in the field.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from fleetsim.scenario.dem import read_wind_grid
from fleetsim.scenario.schema import MAX_WIND_GRID_VALUES


class WindField:
    """The field of ``spec`` (a :class:`~fleetsim.scenario.model.WindGridSpec`), its
    file resolved against ``base_dir``."""

    def __init__(self, spec: Any, base_dir: str) -> None:
        path = os.path.join(base_dir, os.path.expanduser(spec.path))
        self.field = read_wind_grid(path, MAX_WIND_GRID_VALUES)
        self.ox, self.oy = (float(c) for c in spec.origin_m)
        self.spacing = float(spec.spacing_m)
        self.step = float(spec.step_s)
        n_t, self.ny, self.nx, _ = self.field.shape
        #: Start time of each slice.
        self.times = [k * self.step for k in range(n_t)]
        #: The strongest wind anywhere, any time (m/s).
        self.top = float(np.hypot(self.field[..., 0], self.field[..., 1]).max())

    def mean(self, k: int = 0) -> tuple[float, float]:
        """Mean wind of slice ``k``."""
        m = self.field[k].reshape(-1, 2).mean(axis=0)
        return float(m[0]), float(m[1])

    def _weights(self, x: np.ndarray, y: np.ndarray):
        fx = np.clip((np.asarray(x, dtype=np.float64) - self.ox) / self.spacing, 0.0,
                     self.nx - 1.0)
        fy = np.clip((np.asarray(y, dtype=np.float64) - self.oy) / self.spacing, 0.0,
                     self.ny - 1.0)
        i = np.minimum(fx.astype(np.int64), self.nx - 2)
        j = np.minimum(fy.astype(np.int64), self.ny - 2)
        return i, j, fx - i, fy - j

    def sample(self, k: int, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Wind (east, north) of slice ``k`` at points (x, y), bilinear."""
        i, j, ax, ay = self._weights(x, y)
        f = self.field[k]
        w = ((1 - ax) * (1 - ay))[..., None] * f[j, i] + (ax * (1 - ay))[..., None] * \
            f[j, i + 1] + ((1 - ax) * ay)[..., None] * f[j + 1, i] + \
            (ax * ay)[..., None] * f[j + 1, i + 1]
        return w[..., 0], w[..., 1]

    def at(self, k: int, x: float, y: float) -> tuple[float, float]:
        """Wind (east, north) of slice ``k`` at one point."""
        wx, wy = self.sample(k, np.array([x]), np.array([y]))
        return float(wx[0]), float(wy[0])

"""When each cell of the metrics raster may be flown: the permitted area over time.

A cell (see :mod:`fleetsim.metrics.raster`) is *forbidden* at time t when its
centre is inside (or on the boundary of) a ``no_fly`` zone that is active at t
(``start_s <= t < end_s``, as :meth:`fleetsim.world.world.Zone.active_at`), and
*permitted* otherwise. ``restricted`` zones may be flown under the oversight
rules, so they forbid a cell only when the scenario's rule for
``enter_restricted`` is ``forbidden`` (then they count as no-fly zones). A
zone's floor and ceiling are not considered (a cell under or over one counts as
forbidden while it is active).

Cells that lie in the same set of no-fly zones share a *signature*; everything
here is computed per signature (a handful), never per cell and time.

A cell's *permitted clock* ``tau(t)`` is the time in ``[0, t]`` during which it
was permitted: ``tau(t) = t - |forbidden ∩ [0, t]|``. Idleness over the
permitted area runs on that clock (see :mod:`fleetsim.metrics.patrol`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.scenario.model import Scenario
    from fleetsim.world.world import Zone

__all__ = ["Permission", "cell_permission", "forbidding_kinds", "no_permission_limits"]


@dataclass(frozen=True)
class Permission:
    """Permission of the raster's cells over ``[0, duration_s]``."""

    duration_s: float
    #: Signature of each cell, (n_cells,) int64, in ``0..n_signatures - 1``.
    signature: np.ndarray
    #: Cells of each signature, (n_signatures,) int64.
    cells_per_signature: np.ndarray
    #: Merged forbidden intervals of each signature, clipped to ``[0, duration_s]``,
    #: padded with empty ``[0, 0]`` ones: (n_signatures, n_slots) float64 each.
    forbidden_start: np.ndarray
    forbidden_end: np.ndarray
    #: Active windows ``[start, end)`` of the no-fly zones (unclipped), (n_zones,)
    #: float64, and which signatures lie in each zone, (n_zones, n_signatures) bool.
    zone_start: np.ndarray
    zone_end: np.ndarray
    zone_signatures: np.ndarray

    @property
    def n_signatures(self) -> int:
        return int(self.cells_per_signature.shape[0])

    @property
    def zoned(self) -> np.ndarray:
        """Whether each signature lies in some zone, (n_signatures,) bool."""
        return self.zone_signatures.any(axis=0)

    @property
    def trivial(self) -> bool:
        """No cell is ever forbidden: the permitted clock is the plain clock."""
        return self.forbidden_start.shape[1] == 0 and self.zone_start.shape[0] == 0

    def clock(self, signature: np.ndarray, t_s: np.ndarray) -> np.ndarray:
        """Permitted clock ``tau(t)`` of cells of ``signature`` at times ``t_s`` (same shape)."""
        t = np.asarray(t_s, dtype=np.float64)
        if self.trivial:
            return t.copy()
        out = t.copy()
        for j in range(self.forbidden_start.shape[1]):
            s = self.forbidden_start[signature, j]
            out -= np.clip(t - s, 0.0, self.forbidden_end[signature, j] - s)
        return out

    def permitted_time_s(self) -> np.ndarray:
        """``tau(duration)`` of each signature, (n_signatures,) float64."""
        sig = np.arange(self.n_signatures)
        return self.clock(sig, np.full(self.n_signatures, self.duration_s))

    def permitted_at(self, t_s: np.ndarray) -> np.ndarray:
        """Whether each signature is permitted at each time: (len(t_s), n_signatures) bool."""
        t = np.asarray(t_s, dtype=np.float64).reshape(-1)
        out = np.ones((len(t), self.n_signatures), dtype=bool)
        for z in range(len(self.zone_start)):
            active = (self.zone_start[z] <= t) & (t < self.zone_end[z])
            out &= ~(active[:, None] & self.zone_signatures[z][None, :])
        return out

    def boundaries_s(self) -> np.ndarray:
        """Sorted distinct times in ``(0, duration)`` where some signature's permission
        changes (a no-fly zone's start or end)."""
        t = np.concatenate([self.zone_start, self.zone_end])
        return np.unique(t[(t > 0.0) & (t < self.duration_s)])


def no_permission_limits(n_cells: int, duration_s: float) -> Permission:
    """Every cell permitted all the time (one signature)."""
    return Permission(float(duration_s), np.zeros(n_cells, dtype=np.int64),
                      np.array([n_cells], dtype=np.int64), np.zeros((1, 0)), np.zeros((1, 0)),
                      np.zeros(0), np.zeros(0), np.zeros((0, 1), dtype=bool))


def forbidding_kinds(scenario: Scenario) -> tuple[str, ...]:
    """Kinds of zone that forbid their cells in ``scenario``: ``no_fly``, and
    ``restricted`` when its oversight rule for ``enter_restricted`` is ``forbidden``."""
    oversight = scenario.oversight
    if oversight is not None and oversight.rule_for("enter_restricted").rule == "forbidden":
        return ("no_fly", "restricted")
    return ("no_fly",)


def cell_permission(centers: np.ndarray, zones: tuple[Zone, ...] | list[Zone],
                    duration_s: float, kinds: tuple[str, ...] = ("no_fly",)) -> Permission:
    """The permission of cells with centres ``centers`` ((n, 2) float64) under the
    zones among ``zones`` whose kind is in ``kinds`` over ``[0, duration_s]``."""
    T = float(duration_s)
    n = int(centers.shape[0])
    live = [z for z in zones if z.kind in kinds and z.start_s <= T and z.end_s > 0.0
            and z.end_s > z.start_s]
    if n == 0 or not live:
        return no_permission_limits(n, T)
    inside = np.zeros((n, len(live)), dtype=bool)
    for k, z in enumerate(live):
        xmin, ymin, xmax, ymax = shapely.bounds(z.polygon)
        near = ((centers[:, 0] >= xmin) & (centers[:, 0] <= xmax)
                & (centers[:, 1] >= ymin) & (centers[:, 1] <= ymax))
        idx = np.flatnonzero(near)
        if len(idx):
            inside[idx, k] = shapely.intersects_xy(z.polygon, centers[idx, 0], centers[idx, 1])
    used = inside.any(axis=0)
    live = [z for z, u in zip(live, used, strict=True) if u]
    inside = inside[:, used]
    if not live:
        return no_permission_limits(n, T)
    rows, signature = np.unique(inside, axis=0, return_inverse=True)
    signature = signature.reshape(-1).astype(np.int64)
    counts = np.bincount(signature, minlength=len(rows)).astype(np.int64)
    start = np.array([max(z.start_s, 0.0) for z in live])
    end = np.array([min(z.end_s, T) for z in live])
    merged: list[list[tuple[float, float]]] = []
    for row in rows:
        ivs = sorted((float(s), float(e)) for s, e, r in zip(start, end, row, strict=True)
                     if r and e > s)
        out: list[tuple[float, float]] = []
        for s, e in ivs:
            if out and s <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], e))
            else:
                out.append((s, e))
        merged.append(out)
    slots = max(len(m) for m in merged)
    fs = np.zeros((len(rows), slots))
    fe = np.zeros((len(rows), slots))
    for i, m in enumerate(merged):
        for j, (s, e) in enumerate(m):
            fs[i, j], fe[i, j] = s, e
    return Permission(T, signature, counts, fs, fe,
                      np.array([z.start_s for z in live], dtype=np.float64),
                      np.array([z.end_s for z in live], dtype=np.float64),
                      rows.T.copy())

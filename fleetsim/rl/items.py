"""Nearest known targets and nearest open orders: the item slots of an observation
(numpy only; used by :class:`fleetsim.rl.features.Features`).

Targets
    A target is *known* from its first detection on (a ``detection`` request names
    it); from then on its position is known, drift included (the sensor localises and
    tracks it). Each vehicle sees its ``n_targets`` nearest known targets, nearest
    first (ties: the lower target index), 4 values each: present (1, or 0 for an
    empty slot), dx and dy from the vehicle (over the grid's diagonal), and the time
    since its first detection (over ``idle_scale_s``, at most 1).

Orders
    An order is *open* while it waits for a vehicle (``FleetView.orders.waiting()``).
    Each vehicle sees its ``n_orders`` nearest open orders, by the straight distance
    to the order's origin (ties: the older order), 7 values each: present, dx and dy
    to the origin, dx and dy from the origin to the destination (over the diagonal),
    the order's weight over the vehicle's free payload (at most 2; 2 when it has none
    free), and the time left to its latest delivery (over ``idle_scale_s``, in
    [-1, 1]; 1 without a deadline). Slot ``j`` is the macro-action "take order j".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fleetsim.policy import Request

PER_TARGET = 4
PER_ORDER = 7


def _nearest(d: np.ndarray, m: int) -> np.ndarray:
    """(n, min(m, k)) column indexes of the ``m`` smallest of each row of ``d`` (n, k),
    smallest first, ties by the lower column (a stable sort)."""
    return np.argsort(d, axis=1, kind="stable")[:, :m]


class KnownTargets:
    """The targets detected so far and where they are."""

    def __init__(self, world: Any) -> None:
        xy = getattr(world, "targets_xy", None)
        self.xy0 = np.zeros((0, 2)) if xy is None else np.asarray(xy, dtype=np.float64)
        vel = getattr(world, "target_velocity", None)
        self.vel = None if vel is None else np.asarray(vel, dtype=np.float64)
        self.reset()

    def reset(self) -> None:
        #: target index -> time of its first detection (in detection order).
        self.first_s: dict[int, float] = {}

    def note(self, now: float, requests: Sequence[Request]) -> None:
        for r in requests:
            if r.reason == "detection" and 0 <= r.target < len(self.xy0):
                self.first_s.setdefault(int(r.target), float(now))

    def positions(self, now: float) -> tuple[np.ndarray, np.ndarray]:
        """(indexes (m,) ascending, positions (m, 2) at ``now``) of the known targets."""
        idx = np.array(sorted(self.first_s), dtype=np.int64)
        xy = self.xy0[idx]
        if self.vel is not None:
            xy = xy + self.vel[idx] * now
        return idx, xy

    def features(self, now: float, xy: np.ndarray, m: int, diag: float,
                 scale_s: float) -> np.ndarray:
        """(n, m * PER_TARGET) float features of each vehicle's ``m`` nearest known
        targets (module notes)."""
        n = len(xy)
        out = np.zeros((n, m, PER_TARGET))
        if m == 0 or not self.first_s:
            return out.reshape(n, -1)
        idx, txy = self.positions(now)
        rel = txy[None, :, :] - xy[:, None, :]  # (n, k, 2)
        near = _nearest(np.hypot(rel[..., 0], rel[..., 1]), m)
        j = near.shape[1]
        rows = np.arange(n)[:, None]
        age = np.array([now - self.first_s[int(k)] for k in idx])
        out[:, :j, 0] = 1.0
        out[:, :j, 1:3] = rel[rows, near] / diag
        out[:, :j, 3] = np.minimum(age[near] / scale_s, 1.0)
        return out.reshape(n, -1)


def order_features(now: float, fleet: Any, xy: np.ndarray, payload: np.ndarray, m: int,
                   diag: float, scale_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each vehicle's ``m`` nearest open orders (module notes): ((n, m * PER_ORDER)
    features, (n, m) order indexes (-1: empty slot), (n, m) bool: the vehicle can
    carry it now (free payload >= its weight))."""
    n = len(xy)
    out = np.zeros((n, m, PER_ORDER))
    slots = np.full((n, m), -1, dtype=np.int64)
    fits = np.zeros((n, m), dtype=bool)
    orders = getattr(fleet, "orders", None)
    waiting = np.zeros(0, dtype=np.int64) if orders is None or m == 0 else orders.waiting()
    if len(waiting) == 0:
        return out.reshape(n, -1), slots, fits
    # Only the m oldest orders at each origin can be among anyone's m nearest (orders
    # at one origin tie, and ties go to the older): a few depots with thousands of
    # orders waiting cost (vehicles x depots x m), not (vehicles x orders).
    origin = np.asarray(orders.origin_xy)[waiting]
    _, group = np.unique(origin, axis=0, return_inverse=True)
    group = group.reshape(-1)
    by_group = np.lexsort((np.arange(len(waiting)), group))
    g = group[by_group]
    first = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
    rank = np.arange(len(g)) - np.repeat(first, np.diff(np.r_[first, len(g)]))
    keep = np.sort(by_group[rank < m])  # still oldest first
    waiting, origin = waiting[keep], origin[keep]
    dest = np.asarray(orders.dest_xy)[waiting]
    weight = np.asarray(orders.weight_kg)[waiting]
    latest = np.asarray(orders.latest_s)[waiting]
    rel = origin[None, :, :] - xy[:, None, :]
    near = _nearest(np.hypot(rel[..., 0], rel[..., 1]), m)
    j = near.shape[1]
    rows = np.arange(n)[:, None]
    free = payload - np.asarray(fleet.load_kg(), dtype=np.float64).reshape(n)
    w = weight[near]
    left = latest[near] - now
    out[:, :j, 0] = 1.0
    out[:, :j, 1:3] = rel[rows, near] / diag
    out[:, :j, 3:5] = (dest - origin)[near] / diag
    out[:, :j, 5] = np.where(free[:, None] > 0, np.minimum(w / np.maximum(free, 1e-9)[:, None],
                                                          2.0), 2.0)
    out[:, :j, 6] = np.where(np.isfinite(left), np.clip(left / scale_s, -1.0, 1.0), 1.0)
    slots[:, :j] = waiting[near]
    fits[:, :j] = (free[:, None] > 0) & (w <= free[:, None] + 1e-9)
    return out.reshape(n, -1), slots, fits

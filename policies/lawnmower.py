"""Lawnmower: partition the mission area among the vehicles; each sweeps its part once.

The area (union of mission areas) is split into as many equal-area strips as
there are vehicles; strips go to vehicles by minimum total distance from their
bases; each vehicle flies a boustrophedon sweep of its strip at track spacing
``spacing_m`` (default: the sensor's sweep width, for full coverage) and returns
home. Tracks are cut into legs of at most ``max_leg_m`` so that, flown at the
cruise height above the ground under each waypoint, the sweep follows the
terrain. A vehicle that reaches its energy reserve resumes, after recharging,
from where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from fleetsim.planning import assign_parts, boustrophedon, densify, partition_equal_area
from fleetsim.policy import GoTo, Plan, Policy, ReturnHome, Route, param


def _spacing_check(v):
    return None if v is None or v > 0 else "a number > 0 or null"


class Lawnmower(Policy):
    name = "lawnmower"
    action_classes = frozenset({"transit", "return"})

    @dataclass(frozen=True)
    class Params:
        spacing_m: float | None = param(None, _spacing_check,
                                        "track spacing; default the sensor sweep width")
        angle_deg: float | None = param(None, None, "track direction; default the best fit")
        return_home: bool = param(True, None, "return to base when the sweep is done")
        max_leg_m: float | None = param(250.0, _spacing_check,
                                        "split longer track legs so the flight follows the "
                                        "terrain (null: straight tracks)")

    def reset(self, ctx) -> None:
        super().reset(ctx)
        n = len(ctx.vehicle_type_index)
        area = ctx.world.mission_area
        self.routes: list[np.ndarray] = [np.zeros((0, 2))] * n
        self.next_wp = np.zeros(n, dtype=np.int64)
        self.resume_at: dict[int, np.ndarray] = {}
        if area.is_empty or n == 0:
            return
        parts = partition_equal_area(area, n)
        owner = assign_parts(parts, ctx.home_xy)  # owner[i] = part of vehicle i
        for v in range(n):
            vt = ctx.vehicle_types[ctx.vehicle_type_index[v]]
            det = vt.sensor.detection
            width = det.sweep_width_m or 2.0 * vt.sensor.footprint_radius_m
            spacing = self.params.spacing_m or width
            part = parts[int(owner[v])]
            if part.is_empty or shapely.area(part) <= 0:
                continue
            route = boustrophedon(part, spacing, angle_deg=self.params.angle_deg,
                                  start_xy=tuple(ctx.home_xy[v]))
            if self.params.max_leg_m and len(route):
                # From the base too, so the way to the first track follows the ground.
                start = np.asarray(ctx.home_xy[v], dtype=np.float64)[None, :]
                route = densify(np.vstack([start, route]), self.params.max_leg_m)[1:]
            self.routes[v] = route

    def _remaining(self, v: int) -> list:
        route = self.routes[v][self.next_wp[v]:]
        if len(route) == 0:
            return [ReturnHome()] if self.params.return_home else []
        tail = [ReturnHome()] if self.params.return_home else []
        return [Route(route), *tail]

    def decide(self, now_s, fleet, requests):
        plans = []
        for r in requests:
            v = r.vehicle
            if r.reason == "start":
                if len(self.routes[v]):
                    plans.append(Plan(v, self._remaining(v)))
            elif r.reason == "reserve":
                stop = fleet.positions([v])[0, :2].copy()
                self.next_wp[v] = self._resume_index(v, stop)
                self.resume_at[v] = stop
            elif r.reason == "recharged":
                stop = self.resume_at.pop(v, None)
                if stop is not None and self.next_wp[v] < len(self.routes[v]):
                    plans.append(Plan(v, [GoTo(float(stop[0]), float(stop[1]), sensing=False),
                                          *self._remaining(v)]))
        return plans

    def _resume_index(self, v: int, xy: np.ndarray) -> int:
        """Index of the first waypoint still ahead of a vehicle stopped at ``xy``."""
        route = self.routes[v]
        if len(route) < 2:
            return len(route)
        a, b = route[:-1], route[1:]
        ab = b - a
        t = np.clip(np.einsum("ij,ij->i", xy - a, ab) / np.maximum(
            np.einsum("ij,ij->i", ab, ab), 1e-12), 0.0, 1.0)
        d = np.hypot(*(a + t[:, None] * ab - xy).T)
        return int(np.argmin(d)) + 1

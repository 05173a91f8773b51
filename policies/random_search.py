"""Random search: independent, uniformly placed search legs (the baseline of search theory).

Each search leg has length ``leg_length_m``, a midpoint uniform over the mission
area and a uniform heading; the vehicle flies to its start (sensor on only if
``search_during_transit``) and sweeps it, then draws the next. For targets at
least ``leg_length_m / 2 + footprint`` inside the area, one leg detects a given
target with probability (W * l + pi r^2) / A, so n legs give Koopman's
POD = 1 - (1 - (W l + pi r^2) / A)^n ~ 1 - exp(-n (W l + pi r^2) / A).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from fleetsim.policy import GoTo, Plan, Policy, param, positive
from fleetsim.world.world import random_points_in


class RandomSearch(Policy):
    name = "random_search"
    action_classes = frozenset({"transit"})

    @dataclass(frozen=True)
    class Params:
        leg_length_m: float = param(2000.0, positive, "length of each search leg")
        search_during_transit: bool = param(True, None, "sensor on while flying to a leg")

    def reset(self, ctx) -> None:
        super().reset(ctx)
        area = ctx.world.mission_area
        if area.is_empty:
            xmin, ymin, xmax, ymax = ctx.world.terrain.bounds
            area = shapely.box(xmin, ymin, xmax, ymax)
        self.area = area
        self.rng = ctx.rng

    def next_leg(self) -> tuple[np.ndarray, np.ndarray]:
        mid = random_points_in(self.area, 1, self.rng)[0]
        heading = self.rng.uniform(0.0, 2.0 * np.pi)
        half = 0.5 * self.params.leg_length_m * np.array([np.cos(heading), np.sin(heading)])
        return mid - half, mid + half

    def decide(self, now_s, fleet, requests):
        plans = []
        for r in requests:
            if r.reason in ("start", "idle", "recharged"):
                a, b = self.next_leg()
                plans.append(Plan(r.vehicle, [
                    GoTo(float(a[0]), float(a[1]), sensing=self.params.search_during_transit),
                    GoTo(float(b[0]), float(b[1]))]))
        return plans

"""Random search: independent, uniformly placed search legs (the baseline of search theory).

Each search leg has length ``leg_length_m``, a midpoint uniform over the mission
area and a uniform heading; the vehicle flies to its start (sensor on only if
``search_during_transit``) and sweeps it, then draws the next. For targets at
least ``leg_length_m / 2 + footprint`` inside the area, one leg detects a given
target with probability (W * l + pi r^2) / A, so n legs give Koopman's
POD = 1 - (1 - (W l + pi r^2) / A)^n ~ 1 - exp(-n (W l + pi r^2) / A).

A leg that would cross a no-fly zone while the zone is active (estimated from
the cruise speed, with a margin) is drawn again; the transit to it goes around
the zones active on the way. Both are flown at the cruise height above the
ground, raised where the ground rises between their ends
(:func:`fleetsim.planning.altitude.follow_parts`), so they keep the vehicle's
terrain clearance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from fleetsim.planning.altitude import TerrainFollower, follow_parts
from fleetsim.planning.zones import ZoneWindows, zones_to_avoid
from fleetsim.policy import Plan, Policy, Route, param, positive
from fleetsim.world.world import random_points_in

#: Draws of a search leg before one crossing an active zone is taken anyway.
_MAX_DRAWS = 50
#: Margin on the estimated times of legs when checking zones' windows, seconds.
_SLACK_S = 120.0


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
        avoid = zones_to_avoid(ctx.world, ctx.scenario)
        self.zones = ZoneWindows(avoid, clearance_m=10.0) if avoid else None
        types = [ctx.vehicle_types[i] for i in ctx.vehicle_type_index]
        self.speed = np.array([t.cruise_speed_mps for t in types], dtype=np.float64)
        self.agl = np.array([t.cruise_altitude_agl_m for t in types], dtype=np.float64)
        self.clearance = np.array([t.terrain_clearance_m for t in types], dtype=np.float64)
        self.terrain = ctx.world.terrain
        self.follower = TerrainFollower(ctx.world.terrain)

    def next_leg(self) -> tuple[np.ndarray, np.ndarray]:
        mid = random_points_in(self.area, 1, self.rng)[0]
        heading = self.rng.uniform(0.0, 2.0 * np.pi)
        half = 0.5 * self.params.leg_length_m * np.array([np.cos(heading), np.sin(heading)])
        return mid - half, mid + half

    def _leg_for(self, v: int, xy: np.ndarray, now_s: float) -> tuple[np.ndarray, np.ndarray]:
        """A search leg for vehicle ``v`` at ``xy``: one not crossing a zone active
        while it would be flown (after at most ``_MAX_DRAWS`` draws, the last one)."""
        a, b = self.next_leg()
        if self.zones is None:
            return a, b
        speed = self.speed[v]
        for _ in range(_MAX_DRAWS - 1):
            t_a = now_s + 1.5 * float(np.hypot(*(a - xy))) / speed
            t_b = t_a + self.params.leg_length_m / speed
            if not self.zones.blocked(a, b, t_a - _SLACK_S, t_b + _SLACK_S)[0]:
                break
            a, b = self.next_leg()
        return a, b

    def decide(self, now_s, fleet, requests):
        todo = [r.vehicle for r in requests if r.reason in ("start", "idle", "recharged")]
        if not todo:
            return []
        pos = np.asarray(fleet.positions(todo), dtype=np.float64)
        h = self.terrain.height_at(pos[:, 0], pos[:, 1])
        plans, parts = [], []
        starts = np.column_stack([pos[:, :2], np.where(pos[:, 2] - h >= 1.0, pos[:, 2],
                                                        h + self.agl[todo])])
        for i, v in enumerate(todo):
            xy = pos[i, :2]
            a, b = self._leg_for(v, xy, now_s)
            way = a[None, :]
            if self.zones is not None:
                d = float(np.hypot(*(a - xy)))
                way = self.zones.route(xy, a, now_s, now_s + 2.0 * d / self.speed[v] + _SLACK_S)
            parts.append([way, b[None, :]])
        transit = self.params.search_during_transit
        for v, pieces in zip(todo, follow_parts(self.follower, starts, parts, self.agl[todo],
                                                self.clearance[todo]), strict=True):
            plans.append(Plan(v, [Route(w, alt_agl_m=alt, sensing=transit if part == 0 else True)
                                  for w, alt, part in pieces]))
        return plans

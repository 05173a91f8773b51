"""Lawnmower: partition the mission area among the vehicles; each sweeps its part once.

The area (union of mission areas) is split into as many equal-area strips as
there are vehicles; strips go to vehicles by minimum total distance from their
bases; each vehicle flies a boustrophedon sweep of its strip at track spacing
``spacing_m`` (default: the sensor's sweep width, for full coverage) and returns
home. Tracks are cut into legs of at most ``max_leg_m`` so that, flown at the
cruise height above the ground under each waypoint, the sweep follows the
terrain, and waypoints are raised where the ground rises between two of them
(:func:`fleetsim.planning.altitude.follow_parts`), so every leg keeps the
vehicle's terrain clearance. A vehicle that reaches its energy reserve resumes,
after recharging, from where it stopped.

No-fly zones (and restricted zones the oversight rules forbid) that are active
at some time of the run are left out of the swept area, and the transits from
the base go around the zones active while they are flown. A sweep is planned
once, at the start, and flown once, so the ground under a zone active only for
part of the run is not swept either, even while the zone is inactive: timing each
strip's tracks against the zone's window would need the sweep re-planned as the
vehicles go. For persistent watch of an area with timed zones use
``persistent_patrol``, which patrols a timed zone's cells while it is inactive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from fleetsim.planning import assign_parts, boustrophedon, densify, partition_equal_area
from fleetsim.planning.altitude import TerrainFollower, follow_parts
from fleetsim.planning.zones import ZoneWindows, zones_to_avoid
from fleetsim.policy import Plan, Policy, ReturnHome, Route, param


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
        types = [ctx.vehicle_types[i] for i in ctx.vehicle_type_index]
        self.speed = np.array([t.cruise_speed_mps for t in types], dtype=np.float64)
        self.agl = np.array([t.cruise_altitude_agl_m for t in types], dtype=np.float64)
        self.clearance = np.array([t.terrain_clearance_m for t in types], dtype=np.float64)
        self.terrain = ctx.world.terrain
        self.follower = TerrainFollower(ctx.world.terrain)
        avoid = [z for z in zones_to_avoid(ctx.world, ctx.scenario)
                 if z.start_s < ctx.duration_s and z.end_s > 0.0]
        self.zones = ZoneWindows(avoid, clearance_m=10.0) if avoid else None
        if avoid and not area.is_empty:
            area = area.difference(shapely.union_all([
                shapely.buffer(z.polygon, 10.0, join_style="mitre") for z in avoid]))
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

    def _plan(self, v: int, now_s: float, xyz: np.ndarray, stop: np.ndarray | None) -> Plan:
        """The rest of vehicle ``v``'s sweep from ``xyz`` (by way of ``stop``, where it
        left off, with the sensor off), then home: around the zones active on the way
        there, at heights that keep the terrain clearance."""
        x, y, z = (float(c) for c in xyz)
        h = float(self.terrain.height_at(x, y))
        if z - h < 1.0:  # on the ground: it takes off to cruise height first
            z = h + float(self.agl[v])
        route = self.routes[v][self.next_wp[v]:]
        goal = stop if stop is not None else (route[0] if len(route) else None)
        transit = np.zeros((0, 2))
        if goal is not None and self.zones is not None:
            d = float(np.hypot(goal[0] - x, goal[1] - y))
            way = self.zones.route((x, y), goal, now_s, now_s + 2.0 * d / self.speed[v] + 120.0)
            transit = way if stop is not None else way[:-1]
        elif stop is not None:
            transit = np.asarray(stop, dtype=np.float64)[None, :]
        pieces, = follow_parts(self.follower, np.array([[x, y, z]]), [[transit, route]],
                               self.agl[[v]], self.clearance[[v]])
        actions: list = [Route(w, alt_agl_m=a, sensing=not (part == 0 and stop is not None))
                         for w, a, part in pieces]
        if self.params.return_home:
            actions.append(ReturnHome())
        return Plan(v, actions)

    def decide(self, now_s, fleet, requests):
        plans = []
        for r in requests:
            v = r.vehicle
            if r.reason == "start":
                if len(self.routes[v]):
                    plans.append(self._plan(v, now_s, fleet.positions([v])[0], None))
            elif r.reason == "reserve":
                stop = fleet.positions([v])[0, :2].copy()
                self.next_wp[v] = self._resume_index(v, stop)
                self.resume_at[v] = stop
            elif r.reason == "recharged":
                stop = self.resume_at.pop(v, None)
                if stop is not None and self.next_wp[v] < len(self.routes[v]):
                    plans.append(self._plan(v, now_s, fleet.positions([v])[0], stop))
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

"""Helpers shared by the logistics policies: what a vehicle can carry and how far.

Estimates are deliberately simple and a little pessimistic: straight lines for
air vehicles (times ``air_detour`` for no-fly zones), the network's own travel
times for ground and sea vehicles, cruise power for the whole trip, hover power
for take-off, landing and the hand-over. The engine still enforces the real
energy limit: a vehicle that reaches its reserve goes home and the orders it
carries fail with reason ``battery``.
"""

from __future__ import annotations

import numpy as np


class Capabilities:
    """Per-vehicle constants a logistics policy needs, read once at reset."""

    def __init__(self, ctx, air_detour: float = 1.2) -> None:
        types = ctx.vehicle_types
        ti = np.asarray(ctx.vehicle_type_index)
        self.air_detour = air_detour
        self.speed = np.array([types[i].cruise_speed_mps for i in ti], dtype=np.float64)
        self.cruise_wh_per_s = np.array([types[i].cruise_power_w for i in ti]) / 3600.0
        self.hover_wh_per_s = np.array([types[i].hover_power_w for i in ti]) / 3600.0
        self.climb_s = np.array([types[i].cruise_altitude_agl_m / types[i].climb_rate_mps
                                 if types[i].domain == "air" else 0.0 for i in ti])
        self.payload = np.array([types[i].payload_kg for i in ti], dtype=np.float64)
        self.air = np.array([types[i].domain == "air" for i in ti], dtype=bool)
        lg = ctx.scenario.logistics
        self.service_s = lg.service_time_s if lg is not None else 60.0
        self.loading_s = {s.index: next(x.loading_time_s for x in ctx.scenario.sites
                                        if x.id == s.id)
                          for s in ctx.world.sites if s.kind == "depot"}

    def trip_time_s(self, fleet, v: int, points: list) -> float:
        """Travel time of vehicle ``v`` through ``points`` (first: where it starts)."""
        total = 0.0
        for a, b in zip(points[:-1], points[1:], strict=True):
            if self.air[v]:
                total += self.air_detour * float(np.hypot(b[0] - a[0], b[1] - a[1])) / \
                    self.speed[v]
            else:
                total += float(fleet.travel_time_s([v], a, b)[0])
        return total

    def trip_energy_wh(self, fleet, v: int, points: list, stops: int = 1) -> float:
        """Energy for vehicle ``v`` to travel through ``points`` with ``stops``
        hand-overs (hovering) and, for air vehicles, a take-off and landing per stop."""
        t = self.trip_time_s(fleet, v, points)
        e = self.cruise_wh_per_s[v] * t
        if self.air[v]:
            e += self.hover_wh_per_s[v] * (stops * self.service_s + 2 * (stops + 1)
                                           * self.climb_s[v])
        return e

    def usable_wh(self, fleet, vehicles) -> np.ndarray:
        """Battery above the reserve, now."""
        idx = np.asarray(vehicles, dtype=np.int64)
        return fleet.battery_wh(idx) - fleet.reserve_wh[idx]

"""Maritime search patterns around a drifting datum (the IAMSAR manual's patterns).

``expanding_square`` (SS), ``sector_search`` (VS) and ``parallel_track`` (PS) lay
out their pattern in the water's frame: offsets from a datum that drifts at a
constant velocity, so a waypoint planned to be reached at time t is the datum's
position then plus its offset (times estimated at the cruise speed). Track spacing
is ``S = W / C`` (sweep width W of the vehicle's sensor, coverage factor C).

- expanding square: from the datum, legs of S, S, 2S, 2S, 3S, ... turning 90 degrees
  right after each;
- sector search: three triangles datum -> R out -> R across -> datum, 120 degrees
  apart (spokes every 60 degrees through the datum);
- parallel track: ``tracks`` tracks of ``length_m`` across the datum, each S apart from
  its neighbours (S of the vehicle flying it).

Several vehicles fly the same pattern turned (expanding square by 90/n degrees per
vehicle, sector search by 120/n) or share the tracks (parallel track: contiguous
blocks). Each flies its pattern once and goes home.

:func:`leg_pod` is each leg's probability of detection for a target whose position
is normal around the datum (isotropic, standard deviation sigma) and a definite-range
sensor: the normal's mass in the leg's swept rectangle (exact: the rectangle is
aligned with the leg and the normal is isotropic). Legs are counted on their own
(their overlaps are not discounted).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely

from fleetsim.planning.zones import ZoneWindows, zones_to_avoid
from fleetsim.policy import Plan, Policy, ReturnHome, Route, param, positive
from fleetsim.world.search import leg_pod
from fleetsim.world.world import drift_velocity

__all__ = ["expanding_square", "leg_pod", "parallel_track", "sector_search"]


def _unit(bearing_deg: float) -> np.ndarray:
    """Unit vector of a bearing (degrees clockwise from north, +y)."""
    b = math.radians(bearing_deg)
    return np.array([math.sin(b), math.cos(b)])


def expanding_square(spacing: float, legs: int, bearing_deg: float = 0.0) -> np.ndarray:
    """Offsets (legs + 1, 2) from the datum: legs of S, S, 2S, 2S, ... turning right."""
    pts = [np.zeros(2)]
    for k in range(legs):
        step = spacing * (k // 2 + 1)
        pts.append(pts[-1] + step * _unit(bearing_deg + 90.0 * k))
    return np.array(pts)


def sector_search(radius: float, bearing_deg: float = 0.0) -> np.ndarray:
    """Offsets (10, 2): three triangles of side R from the datum, 120 degrees apart."""
    pts = [np.zeros(2)]
    for k in range(3):
        b = bearing_deg + 120.0 * k
        pts += [radius * _unit(b), radius * _unit(b + 60.0), np.zeros(2)]
    return np.array(pts)


def parallel_track(spacing: float, length: float, tracks: int,
                   bearing_deg: float = 0.0) -> np.ndarray:
    """Offsets (2 tracks, 2): tracks along ``bearing_deg`` centred on the datum, S apart,
    flown alternately (a boustrophedon)."""
    along, across = _unit(bearing_deg), _unit(bearing_deg + 90.0)
    pts = []
    for i in range(tracks):
        c = (i - (tracks - 1) / 2.0) * spacing
        ends = [-length / 2.0, length / 2.0]
        if i % 2:
            ends.reverse()
        pts += [c * across + e * along for e in ends]
    return np.array(pts)


def _opt_number(v):
    return None if v is None or isinstance(v, (int, float)) else "a number or null"


class MaritimeSearch(Policy):
    """A pattern around a drifting datum (subclasses choose the pattern)."""

    action_classes = frozenset({"transit", "return"})

    @dataclass(frozen=True)
    class Params:
        datum_x_m: float | None = param(None, _opt_number,
                                        "datum x at time 0 (null: the search mission's "
                                        "datum, else its area's centroid)")
        datum_y_m: float | None = param(None, _opt_number, "datum y at time 0")
        drift_x_mps: float | None = param(None, _opt_number,
                                          "datum drift (null: the mission's drift current "
                                          "+ leeway x wind)")
        drift_y_mps: float | None = param(None, _opt_number, "datum drift, y")
        coverage_factor: float = param(1.0, positive, "C: track spacing is sweep width / C")
        bearing_deg: float = param(0.0, None, "the pattern's first bearing (from north)")

    def reset(self, ctx) -> None:
        super().reset(ctx)
        p = self.params
        sc = ctx.scenario
        mission = next((m for m in sc.missions if m.kind == "search"),
                       sc.missions[0] if sc.missions else None)
        area = ctx.world.mission_area
        centre = area.centroid if not area.is_empty else shapely.box(
            *ctx.world.terrain.bounds).centroid
        datum = mission.datum if mission is not None else None
        if datum is not None:
            centre = shapely.Point(datum.position)
        self.datum0 = np.array([centre.x if p.datum_x_m is None else p.datum_x_m,
                                centre.y if p.datum_y_m is None else p.datum_y_m])
        drift = np.array(drift_velocity(mission.drift if mission is not None else None, sc))
        if p.drift_x_mps is not None:
            drift[0] = p.drift_x_mps
        if p.drift_y_mps is not None:
            drift[1] = p.drift_y_mps
        self.drift = drift
        types = [ctx.vehicle_types[i] for i in ctx.vehicle_type_index]
        self.speed = np.array([t.cruise_speed_mps for t in types], dtype=np.float64)
        self.width = np.array([t.sensor.detection.sweep_width_m
                               or 2.0 * t.sensor.footprint_radius_m for t in types])
        self.n = len(types)
        self.done: set[int] = set()
        avoid = zones_to_avoid(ctx.world, sc)
        self.zones = ZoneWindows(avoid, clearance_m=10.0) if avoid else None
        self.horizon = ctx.duration_s

    def pattern(self, v: int, spacing: float) -> np.ndarray:
        raise NotImplementedError

    def waypoints(self, v: int, now_s: float, pos: np.ndarray) -> np.ndarray:
        """The pattern's offsets placed on the datum where it will be when each is
        reached (times at the cruise speed)."""
        off = self.pattern(v, self.width[v] / self.params.coverage_factor)
        speed = self.speed[v]
        t = now_s
        for _ in range(8):  # when it reaches the start (a fixed point)
            start = self.datum0 + self.drift * t + off[0]
            t = now_s + float(np.hypot(*(start - pos))) / speed
        cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(off, axis=0).T))])
        pts = self.datum0 + self.drift * (t + cum / speed)[:, None] + off
        z = self.zones
        if z is None:
            return pts
        # Keep out of the no-fly zones: waypoints in one are left out, legs go around.
        pts = pts[~z.inside(pts).any(axis=1)]
        out, here = [], pos
        for p in pts:
            out.append(z.route(here, p, now_s, self.horizon))
            here = p
        return np.concatenate(out) if out else pts

    def decide(self, now_s, fleet, requests):
        todo = [r.vehicle for r in requests
                if r.reason in ("start", "idle", "recharged") and r.vehicle not in self.done]
        if not todo:
            return []
        pos = np.asarray(fleet.positions(todo), dtype=np.float64)
        plans = []
        for i, v in enumerate(todo):
            self.done.add(v)
            plans.append(Plan(v, [Route(self.waypoints(v, now_s, pos[i, :2])), ReturnHome()]))
        return plans


class ExpandingSquare(MaritimeSearch):
    name = "expanding_square"

    @dataclass(frozen=True)
    class Params(MaritimeSearch.Params):
        legs: int = param(16, lambda v: None if v >= 1 else "an integer >= 1",
                          "number of legs (S, S, 2S, 2S, ...)")

    def pattern(self, v: int, spacing: float) -> np.ndarray:
        turn = 90.0 / self.n * v
        return expanding_square(spacing, self.params.legs, self.params.bearing_deg + turn)


class SectorSearch(MaritimeSearch):
    name = "sector_search"

    @dataclass(frozen=True)
    class Params(MaritimeSearch.Params):
        radius_m: float = param(2000.0, positive, "length of each leg (the sector's radius)")

    def pattern(self, v: int, spacing: float) -> np.ndarray:
        turn = 120.0 / self.n * v
        return sector_search(self.params.radius_m, self.params.bearing_deg + turn)


class ParallelTrack(MaritimeSearch):
    name = "parallel_track"

    @dataclass(frozen=True)
    class Params(MaritimeSearch.Params):
        length_m: float = param(6000.0, positive, "length of each track")
        tracks: int = param(12, lambda v: None if v >= 1 else "an integer >= 1",
                            "number of tracks, shared among the vehicles")

    def pattern(self, v: int, spacing: float) -> np.ndarray:
        """Vehicle ``v``'s block of tracks. Each track is spaced by the sweep width of the
        vehicle that flies it (over C), so a fleet of mixed sensors covers the area
        without gaps: the tracks' offsets are the cumulative spacings, centred."""
        p = self.params
        blocks = np.array_split(np.arange(p.tracks), self.n)
        owner = np.empty(p.tracks, dtype=np.int64)
        for k, b in enumerate(blocks):
            owner[b] = k
        s = self.width[owner] / p.coverage_factor
        # Track i sits half its own spacing past the edge of the tracks before it.
        centre = np.cumsum(s) - s / 2.0
        centre -= (centre[0] + centre[-1]) / 2.0
        along, across = _unit(p.bearing_deg), _unit(p.bearing_deg + 90.0)
        mine = blocks[v % self.n] if len(blocks[v % self.n]) else blocks[0]
        pts = []
        for i in mine.tolist():
            ends = [-p.length_m / 2.0, p.length_m / 2.0]
            if i % 2:
                ends.reverse()
            pts += [centre[i] * across + e * along for e in ends]
        return np.array(pts)

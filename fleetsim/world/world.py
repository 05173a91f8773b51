"""The static world of a run: terrain, zones, sites, mission areas and targets.

Built once from the scenario and never changed during a run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from fleetsim.errors import ScenarioError
from fleetsim.rng import RandomStreams
from fleetsim.scenario.model import Scenario
from fleetsim.world.terrain import Terrain, terrain_from_spec


@dataclass(frozen=True)
class Zone:
    """A no-fly or restricted zone (``ctx.world.zones``): airspace over a polygon,
    in an altitude band, during a time window."""

    #: Position in ``world.zones`` (and in the scenario's ``world.zones``).
    index: int
    id: str
    #: ``no_fly`` or ``restricted``.
    kind: str
    #: The zone's area (with holes), local metres (a prepared shapely polygon).
    polygon: shapely.Polygon
    #: Altitude band, metres above the terrain datum (-inf / inf: all altitudes).
    floor_amsl_m: float
    ceiling_amsl_m: float
    #: The zone is active from ``start_s`` (inclusive) to ``end_s`` (exclusive),
    #: simulated seconds; ``end_s`` is inf for a zone active until the end of the run.
    start_s: float
    end_s: float

    def active_at(self, t_s: float) -> bool:
        """Whether the zone is active at simulated time ``t_s``: ``start_s <= t_s < end_s``."""
        return self.start_s <= t_s < self.end_s


@dataclass(frozen=True)
class Site:
    """A base, depot, ground station, customer or launch point (``ctx.world.sites``)."""

    index: int
    id: str
    #: ``base``, ``depot``, ``ground_station``, ``customer`` or ``launch_point``.
    kind: str
    #: Position, local metres.
    xy: tuple[float, float]
    #: Landing and charging pads.
    pads: int
    #: Slant range of its radio, m (None: no radio).
    radio_range_m: float | None = None
    #: Antenna height above the terrain datum (terrain at the site + antenna height).
    antenna_z_m: float = 0.0
    #: A fixed sensor's footprint radius (None: no sensor) and its false-alarm rate.
    sensor_radius_m: float | None = None
    false_alarms_per_hour: float = 0.0


@dataclass(frozen=True)
class Mission:
    """A mission area (``ctx.world.missions``)."""

    index: int
    id: str
    #: ``coverage``, ``persistent`` or ``search``.
    kind: str
    #: The area, local metres (shapely polygon, possibly with holes).
    polygon: shapely.Polygon


@dataclass(frozen=True)
class World:
    """The static world of a run (``ctx.world``), built once and never changed.

    Policies read it: ``terrain`` (:class:`fleetsim.world.terrain.Terrain`:
    ``height_at(x, y)`` in metres above the datum, ``line_of_sight``, ``bounds``),
    ``zones`` (:class:`Zone`: check ``zone.active_at(t)`` before planning through
    one), ``sites``, ``missions``, the targets (a search policy is not meant to
    peek at them) and the road and water networks.
    """

    terrain: Terrain
    zones: tuple[Zone, ...]
    sites: tuple[Site, ...]
    missions: tuple[Mission, ...]
    #: Union of all mission areas (what coverage and idleness are measured over).
    mission_area: shapely.Geometry
    #: Target positions, shape (n, 2), float64, metres.
    targets_xy: np.ndarray
    target_ids: tuple[str, ...]
    #: Index of the mission each target belongs to, shape (n,), int32.
    target_mission: np.ndarray
    #: The road network ground vehicles move on, and the navigation graph over water
    #: for sea vehicles (:class:`fleetsim.logistics.network.Network`); None: none.
    #: A run works on copies (roads close during a run).
    roads: Any = None
    water: Any = None
    #: Target velocities, shape (n, 2), m/s (position at t: targets_xy + velocity t);
    #: None: every target stays put.
    target_velocity: np.ndarray | None = None

    def site(self, site_id: str) -> Site:
        for s in self.sites:
            if s.id == site_id:
                return s
        raise KeyError(site_id)


def _polygon(exterior, holes) -> shapely.Polygon:
    return shapely.Polygon(exterior, holes=list(holes) or None)


#: Most points drawn at once by :func:`random_points_in` (64 MB of float64 pairs).
_MAX_BATCH = 1 << 22


def random_points_in(polygon: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points uniform in ``polygon`` (rejection sampling from its bounding box).

    Returns an (n, 2) float64 array. Draws in batches, so the result depends
    only on the generator's state, the polygon and ``n``.
    """
    xmin, ymin, xmax, ymax = polygon.bounds
    out = np.empty((0, 2))
    shapely.prepare(polygon)
    while len(out) < n:
        need = n - len(out)
        batch = max(64, int(min(need * 1.5 * (xmax - xmin) * (ymax - ymin)
                                / max(polygon.area, 1e-9), _MAX_BATCH)))
        pts = np.column_stack([rng.uniform(xmin, xmax, batch), rng.uniform(ymin, ymax, batch)])
        inside = shapely.contains_xy(polygon, pts[:, 0], pts[:, 1])
        out = np.vstack([out, pts[inside]])
    return out[:n]


def random_points_near(polygon: shapely.Geometry, n: int, centre: tuple[float, float],
                       sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` points from a circular normal around ``centre`` (``sigma`` per axis), kept
    inside ``polygon`` (rejection sampling; the polygon holds the centre). Returns an
    (n, 2) float64 array that depends only on the generator's state and the inputs."""
    out = np.empty((0, 2))
    shapely.prepare(polygon)
    for _ in range(10_000):
        if len(out) >= n:
            break
        batch = max(64, min(2 * (n - len(out)), _MAX_BATCH))
        pts = rng.normal(0.0, sigma, (batch, 2)) + np.asarray(centre, dtype=np.float64)
        inside = shapely.contains_xy(polygon, pts[:, 0], pts[:, 1])
        out = np.vstack([out, pts[inside]])
    return out[:n]


def build_world(scenario: Scenario, streams: RandomStreams | None = None, *,
                terrain: Terrain | None = None) -> World:
    """Build the static world of ``scenario``; random parts use ``streams``.

    ``terrain``: use this terrain instead of building it from the scenario (a run
    directory keeps the grid it ran on)."""
    streams = streams or RandomStreams(scenario.run.seed)
    try:
        if terrain is None:
            from fleetsim.geo.frame import frame_of

            terrain = terrain_from_spec(scenario.terrain, base_dir=scenario.base_dir,
                                        rng=streams.get("terrain"), frame=frame_of(scenario))
    except ScenarioError as exc:  # say where in the scenario the bad terrain comes from
        file, line = scenario.locate(exc.path or "world.terrain")
        if file is None or exc.file == file:
            raise
        raise ScenarioError(f"{exc.message} (terrain file {exc.file})", file=file, line=line,
                            path=exc.path) from None
    zones = tuple(
        Zone(index=i, id=z.id, kind=z.kind, polygon=_polygon(z.exterior, z.holes),
             floor_amsl_m=z.floor_amsl_m, ceiling_amsl_m=z.ceiling_amsl_m,
             start_s=z.active.start_s,
             end_s=float("inf") if z.active.end_s is None else z.active.end_s)
        for i, z in enumerate(scenario.zones))
    for z in zones:
        shapely.prepare(z.polygon)
    sites = tuple(Site(index=i, id=s.id, kind=s.kind, xy=tuple(s.position), pads=s.pads,
                       radio_range_m=s.radio_range_m, sensor_radius_m=s.sensor_radius_m,
                       false_alarms_per_hour=s.false_alarms_per_hour,
                       antenna_z_m=float(terrain.height_at(*s.position)) + s.antenna_height_m)
                  for i, s in enumerate(scenario.sites))
    missions = tuple(Mission(index=i, id=m.id, kind=m.kind,
                             polygon=_polygon(m.exterior, m.holes))
                     for i, m in enumerate(scenario.missions))
    area = shapely.union_all([m.polygon for m in missions]) if missions else shapely.Polygon()
    xy, ids, owner, vel = [], [], [], []
    moving = False
    for m, spec in zip(missions, scenario.missions, strict=True):
        mine = len(xy)
        for t in spec.targets:
            xy.append(t.position)
            ids.append(t.id)
            owner.append(m.index)
            vel.append(t.velocity_mps)
            moving |= t.velocity_mps is not None
        if spec.random_targets and spec.datum is not None:  # around the datum
            pts = random_points_near(m.polygon, spec.random_targets, spec.datum.position,
                                     spec.datum.sigma_m, streams.get(f"targets/{m.id}"))
        elif spec.random_targets:
            pts = random_points_in(m.polygon, spec.random_targets,
                                   streams.get(f"targets/{m.id}"))
        if spec.random_targets:
            xy.extend(map(tuple, pts))
            ids.extend(f"{m.id}-{k}" for k in range(len(pts)))
            owner.extend([m.index] * len(pts))
            vel.extend([None] * len(pts))
        if spec.drift is not None:
            moving = True
            _drift(spec.drift, scenario, vel, mine, streams.get(f"drift/{m.id}"))
    targets = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    targets.setflags(write=False)
    velocity = None
    if moving:
        velocity = np.array([(0.0, 0.0) if u is None else u for u in vel],
                            dtype=np.float64).reshape(-1, 2)
        velocity.setflags(write=False)
    roads, water = _networks(scenario, terrain, streams)
    return World(terrain=terrain, zones=zones, sites=sites, missions=missions,
                 mission_area=area, targets_xy=targets, target_ids=tuple(ids),
                 target_mission=np.asarray(owner, dtype=np.int32), roads=roads, water=water,
                 target_velocity=velocity)


def drift_velocity(drift: Any, scenario: Scenario) -> tuple[float, float]:
    """A drift's velocity without its random part: current + leeway x the wind at its
    reference height at time 0 (a gridded field's mean at time 0; the datum's drift);
    (0, 0) for no drift."""
    if drift is None:
        return 0.0, 0.0
    wx = wy = 0.0
    if scenario.wind is not None and drift.leeway:
        if scenario.wind.grid is not None:
            import os

            from fleetsim.scenario.dem import read_wind_grid
            from fleetsim.scenario.schema import MAX_WIND_GRID_VALUES
            g = read_wind_grid(os.path.join(scenario.base_dir, scenario.wind.grid.path),
                               MAX_WIND_GRID_VALUES)
            wx, wy = (float(c) for c in g[0].reshape(-1, 2).mean(axis=0))
        else:
            th = math.radians(scenario.wind.from_deg)
            wx = -scenario.wind.speed_mps * math.sin(th)
            wy = -scenario.wind.speed_mps * math.cos(th)
    cx, cy = drift.current_mps
    return cx + drift.leeway * wx, cy + drift.leeway * wy


def _drift(drift: Any, scenario: Scenario, vel: list, first: int,
           rng: np.random.Generator) -> None:
    """Fill in the velocities of a mission's targets from ``first`` on that have none:
    current + leeway x the wind at time 0 + a random part (one normal draw per
    component and target, in target order)."""
    dx, dy = drift_velocity(drift, scenario)
    for k in range(first, len(vel)):
        if vel[k] is None:
            rx, ry = (rng.normal(0.0, drift.random_mps, 2).tolist()
                      if drift.random_mps > 0 else (0.0, 0.0))
            vel[k] = (dx + rx, dy + ry)


def _networks(scenario: Scenario, terrain: Terrain, streams: RandomStreams) -> tuple[Any, Any]:
    """The scenario's road network and water navigation graph (None where not used)."""
    from fleetsim.logistics.network import (
        geojson_network,
        grid_network,
        planar_network,
        water_network,
    )

    def fail(path: str, message: str) -> ScenarioError:
        file, line = scenario.locate(path)
        return ScenarioError(message, file=file, line=line, path=path)

    roads = water = None
    spec = scenario.roads
    if spec is not None:
        try:
            if spec.source == "geojson":
                import os
                roads = geojson_network(os.path.join(scenario.base_dir, spec.path),
                                        speed_limit_mps=spec.speed_limit_mps)
            elif spec.source == "osm":
                import os

                from fleetsim.geo.frame import frame_of
                from fleetsim.geo.osm import osm_network

                roads = osm_network(os.path.join(scenario.base_dir, spec.path),
                                    frame_of(scenario), consolidate_m=spec.consolidate_m,
                                    speed_limit_mps=spec.speed_limit_mps)
            else:
                extent = spec.extent or terrain.bounds
                make = grid_network if spec.source == "grid" else planar_network
                rng = streams.get("roads") if spec.seed is None else \
                    RandomStreams(spec.seed).get("roads")
                roads = make(extent, spec.spacing_m, spec.speed_limit_mps,
                             blocked=spec.blocked, rng=rng)
        except ValueError as exc:
            raise fail("world.roads", f"cannot build the road network: {exc}") from None
    sea = any(t.domain == "sea" for t in scenario.vehicle_types)
    if sea or scenario.water is not None:
        w = scenario.water
        spacing = w.spacing_m if w is not None else 200.0
        polygon = None
        if w is not None and w.polygon is not None:
            polygon = shapely.Polygon(w.polygon)
        try:
            if w is not None and w.source == "osm":
                import os

                from fleetsim.geo.frame import frame_of
                from fleetsim.geo.osm import osm_waterways

                water = osm_waterways(os.path.join(scenario.base_dir, w.path),
                                      frame_of(scenario), speed_limit_mps=w.speed_limit_mps)
            else:
                water = water_network(terrain, spacing, polygon=polygon)
        except ValueError as exc:
            raise fail("world.water", f"cannot build the water network: {exc}") from None
    if roads is not None:
        _check_roads(scenario, terrain, roads, fail)
    if water is not None and scenario.water is not None and scenario.water.source == "osm":
        x0, y0, x1, y1 = terrain.bounds
        xy = water.xy
        if not ((xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0)
                & (xy[:, 1] <= y1)).any():
            raise fail("world.water", f"the waterways (x {xy[:, 0].min():.0f}.."
                                      f"{xy[:, 0].max():.0f}, y {xy[:, 1].min():.0f}.."
                                      f"{xy[:, 1].max():.0f} m) lie outside the terrain (x "
                                      f"{x0:g}..{x1:g} m, y {y0:g}..{y1:g} m)")
    _check_bases(scenario, {"ground": roads, "sea": water}, fail)
    return roads, water


def _check_roads(scenario: Scenario, terrain: Terrain, roads: Any, fail) -> None:
    """Roads must lie on the terrain, and closures near a road."""
    x0, y0, x1, y1 = terrain.bounds
    xy = roads.xy
    inside = (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
    if not inside.any():
        bx0, by0 = xy.min(axis=0)
        bx1, by1 = xy.max(axis=0)
        degrees = " (they look like longitude/latitude: give local metres)" \
            if max(abs(bx0), abs(bx1)) <= 180 and max(abs(by0), abs(by1)) <= 90 else ""
        raise fail("world.roads", f"the roads (x {bx0:g}..{bx1:g}, y {by0:g}..{by1:g}) lie "
                                  f"outside the terrain (x {x0:g}..{x1:g} m, y {y0:g}..{y1:g} "
                                  f"m){degrees}")
    seg = roads.segments()
    for i, c in enumerate(scenario.roads.closures):
        p = np.asarray(c.near, dtype=np.float64)
        a, b = seg[:, :2], seg[:, 2:]
        ab = b - a
        f = np.clip(np.einsum("ij,ij->i", p - a, ab) / np.maximum(
            np.einsum("ij,ij->i", ab, ab), 1e-12), 0.0, 1.0)
        d = float(np.min(np.hypot(*(a + f[:, None] * ab - p).T))) if len(seg) else np.inf
        if d > roads.reach_m:
            raise fail(f"world.roads.closures[{i}].near",
                       f"no road within {roads.reach_m:g} m of {tuple(c.near)} (the nearest "
                       f"is {d:.0f} m away); a closure closes the road nearest the point")


def _check_bases(scenario: Scenario, networks: dict[str, Any], fail) -> None:
    """Ground and sea vehicles must start where their network reaches."""
    sites = {s.id: s for s in scenario.sites}
    types = {t.id: (i, t) for i, t in enumerate(scenario.vehicle_types)}
    for g in scenario.vehicles:
        i, t = types[g.type]
        net = networks.get(t.domain)
        if net is None or g.base not in sites:
            continue
        _, d = net.nearest_node(*sites[g.base].position)
        if d > net.reach_m:
            raise fail(f"fleet.types[{i}]",
                       f"{t.domain} vehicles {t.id!r} are based at {g.base!r}, {d:.0f} m from "
                       f"the nearest node of their {net.kind} network (at most "
                       f"{net.reach_m:g} m: twice its median edge); move the site or the "
                       f"network")

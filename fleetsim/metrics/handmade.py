"""Build a :class:`~fleetsim.record.RecordedRun` by hand, to test metrics.

Metrics are pure functions of a recorded run, so a metric can be checked on a
few legs and events written out in a test, with no engine and no terrain::

    legs = path_legs(0, times=[0, 10, 20], points=[(0, 0, 50), (100, 0, 50), (100, 100, 50)])
    run = recorded_run(duration_s=20, legs=legs, footprint_radius_m=[30.0],
                       mission_area=shapely.box(0, 0, 100, 100), metrics_cell_m=10)

The world of such a run has no terrain (``terrain=None``), one mission made
of ``mission_area``, the zones and the targets given, and no sites. Its vehicles
are of domain ``air`` unless ``domains`` says otherwise; ``orders`` (rows for
:func:`orders_table`) fill the run's orders table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import shapely

from fleetsim.record import (
    EVENT_COLUMNS,
    EVENT_KINDS,
    LEG_COLUMNS,
    LEG_KINDS,
    ORDER_COLUMNS,
    VEHICLE_COLUMNS,
    RecordedRun,
    Table,
)
from fleetsim.scenario.model import OutputSpec, PolicySpec, RunSpec, Scenario, TerrainSpec
from fleetsim.world.world import Mission, World, Zone

__all__ = ["events_table", "legs_table", "orders_table", "path_legs", "recorded_run",
           "vehicles_table", "zone"]

_LEG_DEFAULTS: dict[str, Any] = {"kind": "move", "sensing": True, "energy_wh": 0.0,
                                 "battery_end_wh": np.nan}
_EVENT_DEFAULTS: dict[str, Any] = {"vehicle": -1, "leg": -1, "target": -1, "zone": -1,
                                   "x_m": np.nan, "y_m": np.nan, "z_m": np.nan,
                                   "value": np.nan, "operator": -1, "detail": ""}


def _table(rows: Sequence[Mapping[str, Any]], columns: dict[str, type]) -> Table:
    return {name: np.array([row[name] for row in rows], dtype=dtype).reshape(len(rows))
            for name, dtype in columns.items()}


def legs_table(rows: Iterable[Mapping[str, Any]]) -> Table:
    """A legs table from rows, numbered in the order given.

    Each row needs ``vehicle``, ``t0_s``, ``t1_s`` and the positions, either as
    ``p0``/``p1`` (x, y, z) or as ``x0_m`` ... ``z1_m``; ``kind`` defaults to
    ``"move"``, ``sensing`` to True, ``energy_wh`` to 0.
    """
    out = []
    for i, row in enumerate(rows):
        full = {**_LEG_DEFAULTS, **row, "leg": i}
        for end in ("0", "1"):
            if f"p{end}" in full:
                x, y, z = (tuple(full.pop(f"p{end}")) + (0.0,))[:3]
                full.update({f"x{end}_m": x, f"y{end}_m": y, f"z{end}_m": z})
        if full["kind"] not in LEG_KINDS:
            raise ValueError(f"unknown leg kind {full['kind']!r}; expected one of {LEG_KINDS}")
        out.append(full)
    return _table(out, LEG_COLUMNS)


def path_legs(vehicle: int, times: Sequence[float], points: Sequence[Sequence[float]],
              **fields: Any) -> list[dict[str, Any]]:
    """Rows of the legs of one vehicle along a polyline: at ``points[i]`` at ``times[i]``.

    ``fields`` (e.g. ``kind``, ``sensing``) are copied into every row.
    """
    if len(times) != len(points):
        raise ValueError("path_legs needs one time per point")
    return [{"vehicle": vehicle, "t0_s": float(times[i]), "t1_s": float(times[i + 1]),
             "p0": tuple(points[i]), "p1": tuple(points[i + 1]), **fields}
            for i in range(len(times) - 1)]


def events_table(rows: Iterable[Mapping[str, Any]]) -> Table:
    """An events table from rows (``time_s``, ``kind`` and any other columns),
    put in time order (stable for equal times)."""
    out = []
    for row in rows:
        full = {**_EVENT_DEFAULTS, **row}
        if full["kind"] not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {full['kind']!r}; expected one of {EVENT_KINDS}")
        out.append(full)
    out.sort(key=lambda r: float(r["time_s"]))
    return _table(out, EVENT_COLUMNS)


def _per_vehicle(value: Any, n: int, name: str) -> list[Any]:
    """``value`` for each of ``n`` vehicles: a sequence of ``n`` or one value for all."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        return [value] * n
    if len(value) != n:
        raise ValueError(f"{name} needs one value per vehicle ({n}), got {len(value)}")
    return list(value)


def vehicles_table(footprint_radius_m: Sequence[float], *, battery_wh: float = 500.0,
                   type: str = "test", base: str = "base",
                   domain: str | Sequence[str] = "air",
                   payload_kg: float | Sequence[float] = 0.0,
                   carrier: int | Sequence[int] = -1) -> Table:
    """A vehicles table: vehicle ``i`` has footprint radius ``footprint_radius_m[i]``.

    ``domain``, ``payload_kg`` and ``carrier`` are one value for every vehicle or
    a sequence with one per vehicle.
    """
    n = len(footprint_radius_m)
    domains = _per_vehicle(domain, n, "domain")
    payloads = _per_vehicle(payload_kg, n, "payload_kg")
    carriers = _per_vehicle(carrier, n, "carrier")
    rows = [{"vehicle": i, "type": type, "base": base, "footprint_radius_m": float(r),
             "battery_wh": battery_wh, "domain": domains[i],
             "payload_kg": float(payloads[i]), "carrier": int(carriers[i])}
            for i, r in enumerate(footprint_radius_m)]
    return _table(rows, VEHICLE_COLUMNS)


def orders_table(rows: Iterable[Mapping[str, Any]]) -> Table:
    """An orders table from rows, numbered in the order given (``order`` = row index
    unless the row sets it).

    Every column has a default: ``id`` ``"o<order>"``, ``origin`` ``"depot"``,
    destination (0, 0), ``weight_kg`` 1, ``priority`` 0, ``created_s`` 0,
    ``earliest_s`` = ``created_s`` and ``latest_s`` inf (no deadline).
    """
    out = []
    for i, row in enumerate(rows):
        unknown = set(row) - set(ORDER_COLUMNS)
        if unknown:
            raise ValueError(f"unknown order columns {sorted(unknown)}")
        order = int(row.get("order", i))
        created = float(row.get("created_s", 0.0))
        full = {"order": order, "id": f"o{order}", "origin": "depot", "dest_x_m": 0.0,
                "dest_y_m": 0.0, "weight_kg": 1.0, "priority": 0, "created_s": created,
                "earliest_s": created, "latest_s": np.inf, **row}
        out.append(full)
    return _table(out, ORDER_COLUMNS)


def zone(index: int, polygon: shapely.Polygon, kind: str = "no_fly", *,
         floor_amsl_m: float = -np.inf, ceiling_amsl_m: float = np.inf,
         start_s: float = 0.0, end_s: float = np.inf) -> Zone:
    """A zone of the world (index ``index`` in ``World.zones``)."""
    return Zone(index=index, id=f"zone{index}", kind=kind, polygon=polygon,
                floor_amsl_m=floor_amsl_m, ceiling_amsl_m=ceiling_amsl_m,
                start_s=start_s, end_s=end_s)


def recorded_run(
    *,
    duration_s: float,
    legs: Iterable[Mapping[str, Any]] = (),
    events: Iterable[Mapping[str, Any]] = (),
    footprint_radius_m: Sequence[float] = (),
    mission_area: shapely.Geometry | None = None,
    zones: Sequence[Zone] = (),
    targets_xy: Sequence[Sequence[float]] = (),
    metrics_cell_m: float = 50.0,
    domains: str | Sequence[str] = "air",
    orders: Iterable[Mapping[str, Any]] = (),
    timeseries_step_s: float = 60.0,
) -> RecordedRun:
    """A recorded run of hand-written legs and events (see the module docstring)."""
    scenario = Scenario(
        name="handmade", run=RunSpec(duration_s=float(duration_s)), terrain=TerrainSpec(),
        zones=(), sites=(), vehicle_types=(), vehicles=(), missions=(),
        policy=PolicySpec(name="handmade"), outputs=OutputSpec(metrics_cell_m=metrics_cell_m,
                                                  timeseries_step_s=timeseries_step_s))
    area = shapely.Polygon() if mission_area is None else mission_area
    missions = () if shapely.is_empty(area) else (
        Mission(index=0, id="area", kind="coverage", polygon=area),)
    targets = np.asarray(targets_xy, dtype=np.float64).reshape(-1, 2)
    world = World(terrain=None, zones=tuple(zones), sites=(), missions=missions,  # type: ignore[arg-type]
                  mission_area=area, targets_xy=targets,
                  target_ids=tuple(f"t{i}" for i in range(len(targets))),
                  target_mission=np.zeros(len(targets), dtype=np.int32))
    return RecordedRun(scenario=scenario, world=world, legs=legs_table(legs),
                       events=events_table(events),
                       vehicles=vehicles_table(footprint_radius_m, domain=domains),
                       orders=orders_table(orders))

"""What a scenario asks of the machine, estimated before anything is allocated.

:func:`estimate_memory` adds up the memory a run of a scenario needs, part by
part (terrain grid, vehicles and their recorded legs, targets, the metrics
raster, orders, operators, false alarms, road and water networks), from the
scenario alone -- the terrain's grid comes from the file header for file DEMs.
The loader refuses a scenario whose estimate exceeds :func:`memory_limit_bytes`
with one line giving the estimate and the limit.

The per-item costs are measured peaks (resident memory of ``fleetsim run``)
rounded up; they are an estimate, meant to refuse what cannot fit long
before it is tried, not to predict the last megabyte:

- a vehicle: 40 KB -- ~11 KB at setup (10,000 and 40,000 fixed-wing drones
  on swarm_10k for 300 s: 325 MB and 642 MB peak) and an allowance of ~100
  recorded legs with their events at ~300 B each. What a run records beyond
  that grows with what happens in it (a policy's choice), not with the
  scenario's sizes, and is not estimated;
- a terrain grid point: 40 B (the float64 grid, its read-only copy, the
  sea-level surface, the hillshade and the procedural builder's work arrays);
- a random target: 700 B (10^7 targets needed 6.9 GB);
- a metrics cell: 100 B (the raster's index, centres and per-cell results);
- an order: 2 KB; an operator: 2 KB; a false alarm: 300 B (one event and its
  review work); a network node: 300 B.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from fleetsim.scenario.model import Scenario

__all__ = ["BYTES", "MemoryEstimate", "estimate_memory", "format_bytes", "memory_limit_bytes"]

#: Bytes per item of each part of the estimate (see the module doc).
BYTES = {
    "base": 400e6,
    "vehicle": 40e3,
    "terrain_point": 40.0,
    "target": 700.0,
    "metrics_cell": 100.0,
    "order": 2e3,
    "operator": 2e3,
    "false_alarm": 300.0,
    "network_node": 300.0,
}
#: The environment variable that sets the memory limit, in GB (10^9 bytes).
LIMIT_ENV = "FLEETSIM_MEMORY_GB"


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated bytes per part, with the YAML path each part comes from."""

    parts: dict[str, float] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return float(sum(self.parts.values()))

    def largest(self, n: int = 3) -> list[tuple[str, float]]:
        return sorted(self.parts.items(), key=lambda kv: -kv[1])[:n]


def format_bytes(n: float) -> str:
    """``n`` bytes as a short text in decimal units (kB, MB, GB, TB, ...)."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB", "EB"):
        if abs(n) < 1000 or unit == "EB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{n:.0f} B"
        n /= 1000
    return f"{n:.3g} EB"  # pragma: no cover


def physical_memory_bytes() -> int | None:
    """This machine's physical memory, or None where it cannot be read."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def memory_limit_bytes() -> tuple[float, str]:
    """(limit in bytes, how it was chosen): ``$FLEETSIM_MEMORY_GB`` if set, else 2/3
    of the machine's physical memory (16 GB on a 24 GB machine), else 16 GB."""
    text = os.environ.get(LIMIT_ENV)
    if text:
        try:
            gb = float(text)
        except ValueError:
            gb = math.nan
        if math.isfinite(gb) and gb > 0:
            return gb * 1e9, f"${LIMIT_ENV}"
    phys = physical_memory_bytes()
    if phys:
        return phys * 2 / 3, f"2/3 of this machine's {format_bytes(phys)}"
    return 16e9, "the default"


def _hours(scenario: Scenario) -> float:
    return scenario.run.duration_s / 3600.0


def estimate_memory(scenario: Scenario, *, terrain_points: int,
                    terrain_extent: tuple[float, float, float, float] | None,
                    metrics_cells: float) -> MemoryEstimate:
    """Estimated peak memory of a run of ``scenario``, by part.

    Parameters
    ----------
    scenario:
        The validated scenario.
    terrain_points:
        Points of the terrain grid (from the file header for file DEMs).
    terrain_extent:
        (x0, y0, x1, y1) of the terrain, metres, for generated networks; None
        when unknown.
    metrics_cells:
        Cells of the metrics raster (its bounding grid).
    """
    b = BYTES
    hours = _hours(scenario)
    n = sum(g.count for g in scenario.vehicles)
    parts: dict[str, float] = {"fleetsim itself": b["base"]}
    paths: dict[str, str] = {"fleetsim itself": ""}

    def add(name: str, value: float, path: str) -> None:
        parts[name] = parts.get(name, 0.0) + float(value)
        paths.setdefault(name, path)

    add("vehicles", n * b["vehicle"], "fleet.types")
    add("terrain", terrain_points * b["terrain_point"], "world.terrain")
    targets = sum(len(m.targets) + m.random_targets for m in scenario.missions)
    big = max(range(len(scenario.missions)), default=None,
              key=lambda i: scenario.missions[i].random_targets)
    add("targets", targets * b["target"],
        f"missions[{big}].random_targets" if big is not None else "missions")
    add("metrics raster", metrics_cells * b["metrics_cell"], "outputs.metrics_cell_m")
    lg = scenario.logistics
    if lg is not None:
        orders = float(len(lg.orders))
        for d in lg.demand:
            end = scenario.run.duration_s if d.end_s is None else min(d.end_s,
                                                                       scenario.run.duration_s)
            orders += d.rate_per_hour * max(end - d.start_s, 0.0) / 3600.0
        add("orders", orders * b["order"], "logistics.demand")
    o = scenario.oversight
    alarms = sum(s.false_alarms_per_hour for s in scenario.sites) * hours
    if o is not None:
        add("operators", (o.operators + sum(w.count for w in o.shifts)) * b["operator"],
            "oversight.operators")
        if o.detection_review is not None:
            alarms += o.detection_review.false_alarms_per_vehicle_hour * n * hours
    if alarms:
        add("false alarms", alarms * b["false_alarm"],
            "oversight.detection_review.false_alarms_per_vehicle_hour" if o is not None
            and o.detection_review is not None and o.detection_review.false_alarms_per_vehicle_hour
            else "world.sites")
    if terrain_extent is not None:
        x0, y0, x1, y1 = terrain_extent
        r = scenario.roads
        if r is not None and r.source in ("grid", "planar"):
            ex = r.extent or terrain_extent
            nodes = (abs(ex[2] - ex[0]) / r.spacing_m + 1) * (abs(ex[3] - ex[1]) / r.spacing_m + 1)
            add("road network", nodes * b["network_node"], "world.roads.spacing_m")
        w = scenario.water
        if (w is not None and w.source != "osm") or (
                w is None and any(t.domain == "sea" for t in scenario.vehicle_types)):
            spacing = w.spacing_m if w is not None else 200.0
            nodes = ((x1 - x0) / spacing + 1) * ((y1 - y0) / spacing + 1)
            add("water network", nodes * b["network_node"], "world.water.spacing_m")
    return MemoryEstimate(parts=parts, paths=paths)

#!/usr/bin/env python3
"""Engine scale benchmark: persistent patrol with 1,000 and 10,000 drones, and logistics.

Prints, per case: wall time of the simulation (coverage, detection, energy and
zone checks on) and of the metrics, vehicle-seconds simulated per wall second,
engine events per wall second, peak memory; and, measured in the same run, a
bare simpy timeout loop with as many processes (its events per second) and the
ratio of the two.

    .venv/bin/python benchmarks/engine_scale.py            # 1k and 10k x 1 h, 1k x 24 h
    .venv/bin/python benchmarks/engine_scale.py --full-day # also 10k x 24 h (slow)
    .venv/bin/python benchmarks/engine_scale.py --only logistics
    .venv/bin/python benchmarks/engine_scale.py --only wind  # 10k x 1 h, wind on vs off
    .venv/bin/python benchmarks/engine_scale.py --smoke    # every case, tiny: ~15 s

The separation case (``--only separation``) flies 10,000 drones from 100 bases
spread over the 100 x 100 km of ``swarm_10k`` for one hour, with loss-of-separation
detection off, on, and on with 60 s conflict prediction (target: on <= 2x off), and
prints the leg pairs checked against an all-against-all check.

The logistics case runs ``scenarios/city_delivery.yaml`` for 24 simulated hours:
2,000 delivery drones from four depots, no-fly zones, ~100,000 Poisson orders
(target: <= 60 s on a 2-core machine). ``--policy`` picks its dispatch policy.

The full case (``--only full``) turns everything on together: ``swarm_10k`` with
10,000 drones from 100 bases on a 10 x 10 grid (``--bases``; larger fleets keep about
100 drones per base: a 32 x 32 grid for 100,000, no base inside the city no-fly zone
or on its edge), persistent patrol, 500 targets, loss-of-separation detection (50 m /
15 m, no look-ahead), oversight (40 operators per 10,000 drones, at least 40;
take-offs notified with 5 s service, ``continue_lost_link: notify``, detection review
10 s with 0.2 false alarms per vehicle-hour) and radio masts at bases (``--masts``:
4 at the corner bases with 60 km range, or N spread over the grid with 15 km x
sqrt(100 / N)). It prints the phase times (engine, policy, monitor/comms,
oversight, separation, finishing the tables, metrics, writing the run directory),
peak memory, vehicle-seconds per wall second, engine events per second and their
ratio to a bare simpy loop, and the ratio to the same fleet with everything off,
run in the same benchmark run just before and just after the case, against their
mean (``--no-off`` skips those).

Fleets above 10,000 drones keep the 10,000-drone case's density (1 drone per km2)
rather than crowd swarm_10k's 100 x 100 km: the patrol area, the terrain, the base
grid and the masts' ranges grow with sqrt(vehicles / 10,000) (316 x 316 km for
100,000 drones, the city no-fly zone still 10 x 10 km at the centre), and so does
the number of targets (500 per 10,000 drones); see ``AREA_VEHICLES``. 100,000 drones
over 100 x 100 km at one cruise height (10 per 1 km patrol cell) made about 1 M losses
of separation a minute by the 6th minute.

    .venv/bin/python benchmarks/engine_scale.py --only full --hours 1 --masts 100
    .venv/bin/python benchmarks/engine_scale.py --only full --hours 24 --masts 100 --no-off
    .venv/bin/python benchmarks/engine_scale.py --only full --vehicles 100000 --masts 10 --no-off

Each case runs in its own process so that its peak memory is its own.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "swarm_10k.yaml"


#: Oversight and comms for the "with oversight" case: a radio mast at each base,
#: operators acknowledging every take-off and reviewing detections and false alarms
#: (take-offs notified) and notified when vehicles fly on out of link.
OVERSIGHT = [
    *[f"world.sites[{i}].radio_range_m=60000" for i in range(4)],
    "oversight={operators: 40, rules: {takeoff: {rule: notify, service: 5}, "
    "continue_lost_link: notify}, detection_review: {service: 10, "
    "false_alarms_per_vehicle_hour: 0.2}}",
]


#: Wind for the "with wind" case: 6 m/s at 10 m from west-south-west, with a power-law
#: profile (about 10 m/s at swarm_10k's 400 m cruise height), veering after 30 min.
WIND = ("world.wind={speed_mps: 6, from_deg: 250, profile: {ref_height_m: 10, "
        "exponent: 0.14}, changes: [{t_s: 1800, speed_mps: 7, from_deg: 270}]}")


def case(n: int, duration_s: float, targets: int, oversight: bool = False,
         wind: bool = False) -> dict:
    from fleetsim.engine import Simulation
    from fleetsim.metrics import compute_metrics
    from fleetsim.scenario import load_scenario

    per = n // 4
    overrides = [f"fleet.types[0].bases={{sw: {per}, se: {per}, nw: {per}, ne: {per}}}",
                 f"run.duration_s={duration_s}",
                 # targets to find, so detection is on and costs what it costs
                 f"missions[0].random_targets={targets}"]
    if oversight:
        overrides += OVERSIGHT
    if wind:
        overrides.append(WIND)
    scenario = load_scenario(SCENARIO, overrides)
    t0 = time.perf_counter()
    sim = Simulation(scenario)
    t1 = time.perf_counter()
    run = sim.run()
    t2 = time.perf_counter()
    metrics = compute_metrics(run)
    t3 = time.perf_counter()
    events = len(run.events["time_s"])
    legs = len(run.legs["leg"])
    simpy_events = next(sim.env._eid)  # events simpy scheduled in the run
    return {
        "vehicles": n, "duration_s": duration_s, "setup_s": t1 - t0, "simulate_s": t2 - t1,
        "metrics_s": t3 - t2, "legs": legs, "events": events, "simpy_events": simpy_events,
        "vehicle_s_per_wall_s": n * duration_s / (t2 - t1),
        "events_per_s": events / (t2 - t1), "simpy_events_per_s": simpy_events / (t2 - t1),
        "policy_s": sim.policy_wall_s,
        "engine_events_per_s": events / (t2 - t1 - sim.policy_wall_s),
        "coverage": metrics["coverage.fraction"], "detections": metrics["detection.detected"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "out_of_link_s": metrics.get("comms.out_of_link_time_s"),
        "approvals": metrics.get("oversight.approvals_granted"),
    }


#: The smoke test's city_delivery fleet: 10 drones per depot instead of 500.
SMOKE_DEPOTS = "fleet.types[0].bases={west: 10, east: 10, north: 10, south: 10}"


def logistics_case(duration_s: float, policy: str, smoke: bool = False) -> dict:
    from fleetsim.engine import Simulation
    from fleetsim.metrics import compute_metrics
    from fleetsim.scenario import load_scenario

    overrides = [f"run.duration_s={duration_s}", f"policy.name={policy}"]
    if smoke:
        overrides.append(SMOKE_DEPOTS)
    scenario = load_scenario(ROOT / "scenarios" / "city_delivery.yaml", overrides)
    t0 = time.perf_counter()
    sim = Simulation(scenario)
    t1 = time.perf_counter()
    run = sim.run()
    t2 = time.perf_counter()
    metrics = compute_metrics(run)
    t3 = time.perf_counter()
    return {
        "vehicles": sim.n, "duration_s": duration_s, "setup_s": t1 - t0,
        "simulate_s": t2 - t1, "metrics_s": t3 - t2, "legs": len(run.legs["leg"]),
        "events": len(run.events["time_s"]), "policy_s": sim.policy_wall_s,
        "decisions": sim.n_decisions,
        "orders": metrics["logistics.orders_created"],
        "delivered": metrics["logistics.orders_delivered"],
        "failed": metrics["logistics.orders_failed"],
        "on_time": metrics["logistics.on_time_rate"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def base_grid(n_bases: int = 100, side_m: float = 100000.0) -> list[tuple[float, float]]:
    """``n_bases`` (a square number) bases on a square grid over the ``side_m`` square
    (swarm_10k's 100 x 100 km by default)."""
    side = math.isqrt(n_bases)
    if side * side != n_bases:
        raise SystemExit(f"--bases must be a square number (100, 400, 1024, ...), got {n_bases}")
    step = side_m / side
    return [(step / 2 + i * step, step / 2 + j * step) for i in range(side) for j in range(side)]


#: The side of swarm_10k's patrol area (and terrain), in metres.
SIDE_M = 100000.0
#: Half the side of swarm_10k's no-fly zone (the city, a 10 x 10 km square at the centre).
CITY_HALF_M = 5000.0


def city_m(side_m: float = SIDE_M) -> tuple[float, float]:
    """The open interval, on both axes, of the city no-fly zone at the centre of the
    ``side_m`` square (45-55 km in swarm_10k), in metres."""
    return (side_m / 2 - CITY_HALF_M, side_m / 2 + CITY_HALF_M)


#: 100 bases on a 10 x 10 grid, 100 drones each (the departure burst of 2,500 drones
#: from one point that swarm_10k's four bases make is not traffic).
_GRID = base_grid(100)


def separation_sites(per_base: int | list[int] = 100, radios: dict[int, float] | None = None,
                     grid: list[tuple[float, float]] | None = None) -> list[str]:
    """Overrides that put ``per_base`` drones (a number for every base, or one per base)
    on each base of ``grid`` (default: the 100 bases of ``_GRID``) and a radio mast of
    the given range at the bases in ``radios``."""
    radios = radios or {}
    grid = _GRID if grid is None else grid
    counts = per_base if isinstance(per_base, list) else [per_base] * len(grid)
    return [
        "world.sites=[" + ", ".join(
            f"{{id: b{k}, kind: base, position: [{x:g}, {y:g}], pads: {max(1, counts[k])}"
            + (f", radio_range_m: {radios[k]:g}" if k in radios else "") + "}"
            for k, (x, y) in enumerate(grid)) + "]",
        "fleet.types[0].bases={" + ", ".join(f"b{k}: {counts[k]}" for k in range(len(grid))
                                             if counts[k]) + "}",
    ]


def mast_sites(masts: int, range_m: float | None = None, n_bases: int = 100,
               side_m: float = SIDE_M) -> dict[int, float]:
    """Grid bases with a radio mast and its range: 4 at the corner bases (60 km), else
    ``masts`` spread evenly over the bases (15 km x sqrt(100 / masts)); over a patrol
    area larger than 100 x 100 km the ranges grow with its side, so that the masts
    cover the same share of it."""
    if masts <= 0:
        return {}
    scale = side_m / SIDE_M
    if masts == 4:
        side = math.isqrt(n_bases)
        idx, r = [0, side - 1, n_bases - side, n_bases - 1], 60000.0 * scale
    else:
        idx = sorted({int(round(i))
                      for i in np.linspace(0, n_bases - 1, min(masts, n_bases))})
        r = 15000.0 * math.sqrt(100.0 / masts) * scale
    return {i: (range_m or r) for i in idx}


def default_bases(vehicles: int) -> int:
    """About 100 drones per base: 100 bases up to 10,000 drones, else the square number
    nearest to vehicles / 100 (1,024 for 100,000)."""
    if vehicles <= 10000:
        return 100
    side = max(10, round(math.sqrt(vehicles / 100.0)))
    return side * side


#: Oversight of the full case: 40 operators per 10,000 drones (at least 40).
FULL_OVERSIGHT = ("oversight={operators: 40, rules: {takeoff: {rule: notify, service: 5}, "
                  "continue_lost_link: notify}, detection_review: {service: 10, "
                  "false_alarms_per_vehicle_hour: 0.2}}")


def full_oversight(vehicles: int) -> str:
    """The full case's oversight override: 40 operators up to 10,000 drones, then 40 per
    10,000, so a larger fleet's take-offs and reviews meet the same operator load."""
    return FULL_OVERSIGHT.replace("operators: 40",
                                  f"operators: {max(40, 40 * vehicles // AREA_VEHICLES)}")
FULL_SEPARATION = "separation={minima: {air: {horizontal_m: 50, vertical_m: 15}}, lookahead_s: 0}"
#: Fleets of the full case above this many drones patrol an area that grows with the
#: fleet: a square of side 100 km x sqrt(vehicles / AREA_VEHICLES) (316 km for 100,000),
#: so that they keep the 10,000-drone case's density of 1 drone per km2, with the base
#: grid, the masts' ranges, the terrain, the mission area and the targets (500 per
#: 10,000 drones) scaled with it and the city no-fly zone (10 x 10 km) at its centre.
#: Over swarm_10k's 100 x 100 km, 100,000 drones at one cruise height are 10 per km2
#: (10 per 1 km patrol cell), routed through the same cell centres: about 1 M losses of
#: separation a minute by the 6th minute, ~100 M events an hour, beyond any memory
#: target; even in altitude layers of 10,000 drones 40 m apart, drones of the same layer
#: met at the same cell centres (121,000 losses in the 7th minute).
AREA_VEHICLES = 10000


def area_side_m(vehicles: int) -> float:
    """The side of the full case's patrol area: swarm_10k's 100 km up to
    ``AREA_VEHICLES`` drones, else 100 km x sqrt(vehicles / AREA_VEHICLES) rounded to
    the km."""
    if vehicles <= AREA_VEHICLES:
        return SIDE_M
    return 1000.0 * round(SIDE_M / 1000.0 * math.sqrt(vehicles / AREA_VEHICLES))


def area_overrides(side_m: float) -> list[str]:
    """Overrides that make swarm_10k's terrain and patrol area a ``side_m`` square, with
    its city no-fly zone (10 x 10 km) at the centre (none at 100 km: the scenario's)."""
    if side_m == SIDE_M:
        return []
    lo, hi = city_m(side_m)
    return [f"world.terrain.size_m=[{side_m:g}, {side_m:g}]",
            f"world.zones[0].polygon=[[{lo:g}, {lo:g}], [{hi:g}, {lo:g}], [{hi:g}, {hi:g}], "
            f"[{lo:g}, {hi:g}]]",
            f"missions[0].area={{rect: [0, 0, {side_m:g}, {side_m:g}]}}"]


class SubsystemTimer:
    """Wall time spent in the methods of a subsystem object (``sim.monitor``, say),
    generators included (each resumption timed); nested calls inside the same
    subsystem are counted once. Wraps the instance's methods in place."""

    def __init__(self, names: dict[str, object]) -> None:
        self.total = dict.fromkeys(names, 0.0)
        self.depth = dict.fromkeys(names, 0)
        for key, obj in names.items():
            if obj is None:
                continue
            for attr, fn in inspect.getmembers(type(obj), inspect.isfunction):
                if attr.startswith("__"):
                    continue
                bound = getattr(obj, attr)
                wrap = self._gen if inspect.isgeneratorfunction(fn) else self._call
                setattr(obj, attr, wrap(key, bound))

    def _call(self, key, fn):
        def timed(*a, **kw):
            if self.depth[key]:
                return fn(*a, **kw)
            self.depth[key] += 1
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                self.total[key] += time.perf_counter() - t0
                self.depth[key] -= 1
        return timed

    def _gen(self, key, fn):
        timer = self

        def timed(*a, **kw):
            gen = fn(*a, **kw)
            value, exc = None, None
            while True:
                outer = timer.depth[key] == 0
                timer.depth[key] += 1
                t0 = time.perf_counter()
                try:
                    ev = gen.throw(exc) if exc is not None else gen.send(value)
                except StopIteration as stop:
                    return stop.value
                finally:
                    if outer:
                        timer.total[key] += time.perf_counter() - t0
                    timer.depth[key] -= 1
                try:
                    value, exc = (yield ev), None
                except BaseException as e:  # noqa: BLE001 - handed on to the generator
                    value, exc = None, e
        return timed


def full_overrides(vehicles: int, duration_s: float, masts: int, everything: bool,
                   range_m: float | None = None, bases: int = 100
                   ) -> tuple[list[str], float, int, dict[int, float]]:
    """The full case's overrides of swarm_10k, the side of its patrol area (metres), its
    targets and its masts (grid base: range)."""
    side_m = area_side_m(vehicles)
    grid = base_grid(bases, side_m)
    # No base inside the city no-fly zone or on its edge (with 100 bases, 4 grid points
    # are its corners; with 1,024, 16 fall in it); the drones go to the other bases.
    lo, hi = city_m(side_m)
    used = [k for k, (x, y) in enumerate(grid) if not (lo <= x <= hi and lo <= y <= hi)]
    per_base = [0] * bases
    for r, k in enumerate(used):
        per_base[k] = max(1, vehicles // len(used) + (r < vehicles % len(used)))
    radios = mast_sites(masts, range_m, bases, side_m) if everything else {}
    targets = 500 if side_m == SIDE_M else 500 * vehicles // AREA_VEHICLES
    overrides = [*separation_sites(per_base, radios, grid), f"run.duration_s={duration_s}",
                 f"missions[0].random_targets={targets}", *area_overrides(side_m)]
    if everything:
        overrides += [FULL_SEPARATION, full_oversight(vehicles)]
    return overrides, side_m, targets, radios


def full_case(vehicles: int, duration_s: float, masts: int, everything: bool,
              range_m: float | None = None, bases: int = 100) -> dict:
    """The everything-on case (or, ``everything`` False, the same fleet and targets
    with separation, oversight and masts off)."""
    import tempfile

    from fleetsim.engine import Simulation
    from fleetsim.metrics import compute_metrics
    from fleetsim.rundir import write_run
    from fleetsim.scenario import load_scenario

    overrides, side_m, targets, radios = full_overrides(vehicles, duration_s, masts,
                                                        everything, range_m, bases)
    t0 = time.perf_counter()
    sim = Simulation(load_scenario(SCENARIO, overrides))
    t1 = time.perf_counter()
    timer = SubsystemTimer({"monitor/comms": sim.monitor, "oversight": sim.oversight,
                            "separation": sim.separation})
    c1 = time.process_time()
    run = sim.run()
    t2, c2 = time.perf_counter(), time.process_time()
    metrics = compute_metrics(run)
    t3, c3 = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        write_run(Path(tmp) / "run", run, metrics)
        t4 = time.perf_counter()
    simulate = sim.wall_s.get("simulate", t2 - t1)
    finish = sim.wall_s.get("finish", 0.0)
    sub = dict(timer.total)
    return {"vehicles": sim.n, "duration_s": duration_s, "masts": len(radios), "bases": bases,
            "side_km": side_m / 1000.0, "targets": targets,
            "setup_s": t1 - t0, "run_s": t2 - t1, "simulate_s": simulate, "finish_s": finish,
            "policy_s": sim.policy_wall_s, "subsystems_s": sub,
            "engine_s": simulate - sim.policy_wall_s - sum(sub.values()),
            "metrics_s": t3 - t2, "write_s": t4 - t3,
            "run_cpu_s": c2 - c1, "metrics_cpu_s": c3 - c2,
            "legs": len(run.legs["leg"]), "events": len(run.events["time_s"]),
            "simpy_events": next(sim.env._eid),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def separation_case(mode: str, duration_s: float, per_base: int = 100) -> dict:
    from fleetsim.engine import Simulation
    from fleetsim.scenario import load_scenario

    overrides = [*separation_sites(per_base), f"run.duration_s={duration_s}",
                 "missions[0].random_targets=500"]
    if mode != "off":
        look = 60 if mode == "conflicts" else 0
        overrides.append("separation={minima: {air: {horizontal_m: 50, vertical_m: 15}}, "
                         f"lookahead_s: {look}}}")
    sim = Simulation(load_scenario(SCENARIO, overrides))
    t0 = time.perf_counter()
    run = sim.run()
    wall = time.perf_counter() - t0
    sep = sim.separation
    kinds = run.events["kind"]
    return {"simulate_s": wall, "vehicle_s_per_wall_s": sim.n * duration_s / wall,
            "legs": len(run.legs["leg"]),
            "pairs_checked": sep.pairs_checked if sep else 0,
            "legs_checked": sep.legs_checked if sep else 0,
            "all_pairs": sep.all_pairs if sep else 0,
            "los": int((kinds == "los_start").sum()), "conflicts": int((kinds == "conflict").sum()),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def raw_simpy(n_procs: int, n_events: int) -> dict:
    """A bare simpy timeout loop: n_procs processes sharing n_events timeouts."""
    import simpy

    env = simpy.Environment()
    per = max(1, n_events // n_procs)

    def proc(env, k):
        dt = 1.0 + (k % 97) * 0.01
        for _ in range(per):
            yield env.timeout(dt)

    for k in range(n_procs):
        env.process(proc(env, k))
    t0, c0 = time.perf_counter(), time.process_time()
    env.run()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = next(env._eid)
    return {"processes": n_procs, "events": n, "events_per_s": n / wall,
            "events_per_cpu_s": n / max(cpu, 1e-9)}


def child(argv: list[str]) -> None:
    print(json.dumps(child_result(argv)))


def child_result(argv: list[str]) -> dict:
    kind = argv[0]
    if kind == "case":
        out = case(int(argv[1]), float(argv[2]), int(argv[3]), argv[4] == "1",
                   len(argv) > 5 and argv[5] == "1")
    elif kind == "logistics":
        out = logistics_case(float(argv[1]), argv[2], argv[3] == "1")
    elif kind == "separation":
        out = separation_case(argv[1], float(argv[2]), int(argv[3]))
    elif kind == "full":
        out = full_case(int(argv[1]), float(argv[2]), int(argv[3]), argv[4] == "1",
                        float(argv[5]) or None, int(argv[6]))
    else:
        out = raw_simpy(int(argv[1]), int(argv[2]))
    return out


#: Smoke mode runs the cases in this process (their peak memory is then not their own;
#: the figures of a smoke run mean little anyway).
IN_PROCESS = False


def spawn(*args) -> dict:
    if IN_PROCESS:
        return json.loads(json.dumps(child_result(list(map(str, args)))))
    res = subprocess.run([sys.executable, __file__, "--child", *map(str, args)],
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def full(n: int, duration_s: float, masts: int, range_m: float, with_off: bool,
         bases: int = 100) -> None:
    """Run and print the everything-on case (and the everything-off one)."""
    # The bare simpy loop, with as many processes and about as many simpy events as the
    # case, is measured just before and just after it (a virtual machine's speed moves
    # within minutes; their mean is the reference).
    # The everything-off run, likewise, just before and just after (their mean is
    # the reference of the on / off ratio: one off hour of 10,000 drones takes 1.5-2.4 s
    # as the host's speed moves).
    offs = [spawn("full", n, duration_s, 0, 0, 0.0, bases)] if with_off else []
    guess = spawn("raw", n, max(1000, int(n * duration_s / 500)))
    r = spawn("full", n, duration_s, masts, 1, range_m, bases)
    after = spawn("raw", r["vehicles"], r["simpy_events"])
    if with_off:
        offs.append(spawn("full", n, duration_s, 0, 0, 0.0, bases))
    raw = {key: (guess[key] + after[key]) / 2 for key in ("events_per_s", "events_per_cpu_s")}
    engine_wall = r["simulate_s"] - r["policy_s"]
    ev_s = r["events"] / max(engine_wall, 1e-9)
    simpy_s = r["simpy_events"] / max(engine_wall, 1e-9)
    # CPU time: the simulation and the tables' finish less the policy's time (its wall
    # time: one thread), over the loop's (less sensitive to a shared host than wall time).
    ev_cpu = r["events"] / max(r["run_cpu_s"] - r["policy_s"], 1e-9)
    sub = ", ".join(f"{k} {v:.1f} s" for k, v in r["subsystems_s"].items())
    print(f"full: {r['vehicles']:,} drones x {duration_s / 3600:.3g} h, {r['bases']:,} bases, "
          f"{r['masts']} masts, {r['side_km']:g} x {r['side_km']:g} km, separation, oversight, "
          f"{r['targets']:,} targets: simulate "
          f"{r['simulate_s']:.1f} s (engine {r['engine_s']:.1f} s, policy "
          f"{r['policy_s']:.1f} s, {sub}), finish tables {r['finish_s']:.1f} s, metrics "
          f"{r['metrics_s']:.1f} s, write {r['write_s']:.1f} s; peak {r['peak_rss_mb']:.0f} MB; "
          f"CPU time (less sensitive to a shared machine): simulate and finish "
          f"{r['run_cpu_s']:.1f} s, metrics {r['metrics_cpu_s']:.1f} s", flush=True)
    whole = r["simulate_s"] + r["finish_s"] + r["metrics_s"]
    print(f"full: simulate + finish + metrics {whole:.1f} s (target at 10,000 x 24 h: "
          f"<= 120 s); metrics {100 * r['metrics_s'] / r['simulate_s']:.0f} % of simulate "
          f"(target <= 15 %)", flush=True)
    print(f"full: {r['legs']:,} legs, {r['events']:,} events; "
          f"{r['vehicles'] * duration_s / r['simulate_s']:.3g} vehicle-s per wall s; "
          f"policy time left out: {ev_s:.3g} recorded events/s and {simpy_s:.3g} simpy "
          f"events/s, a bare simpy timeout loop with as many processes "
          f"{raw['events_per_s']:.3g} events/s (before the case "
          f"{guess['events_per_s']:.3g}, after {after['events_per_s']:.3g}; ratio "
          f"{ev_s / raw['events_per_s']:.2f}, simpy events "
          f"{simpy_s / raw['events_per_s']:.2f}); in CPU time {ev_cpu:.3g} recorded "
          f"events/s (with the tables' finish) against {raw['events_per_cpu_s']:.3g} "
          f"(ratio {ev_cpu / raw['events_per_cpu_s']:.2f})", flush=True)
    if with_off:
        total = r["simulate_s"] + r["metrics_s"]
        sim_off = sum(o["simulate_s"] for o in offs) / len(offs)
        total_off = sum(o["simulate_s"] + o["metrics_s"] for o in offs) / len(offs)
        each = "; ".join(f"simulate {o['simulate_s']:.1f} s (policy {o['policy_s']:.1f} s), "
                         f"metrics {o['metrics_s']:.1f} s, peak {o['peak_rss_mb']:.0f} MB"
                         for o in offs)
        print(f"full: everything off, before and after the case: {each}; on / off "
              f"(their mean): simulate {r['simulate_s'] / sim_off:.2f}x, simulate + "
              f"metrics {total / total_off:.2f}x (target at 10,000 x 1 h: <= 2.5x)",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full-day", action="store_true", help="also run 10,000 x 24 h")
    parser.add_argument("--targets", type=int, default=500)
    parser.add_argument("--only", choices=("patrol", "logistics", "separation", "full", "wind"),
                        help="run only the patrol cases, the logistics case, the "
                             "separation case, the everything-on case or the patrol with "
                             "and without wind")
    parser.add_argument("--masts", type=int, default=100,
                        help="radio masts of the full case (default 100, one per base)")
    parser.add_argument("--range-m", type=float, default=0.0,
                        help="radio range of the full case's masts (default: 60 km for 4, "
                             "else 15 km x sqrt(100 / masts))")
    parser.add_argument("--vehicles", type=int, default=10000,
                        help="drones of the full case (default 10,000, spread over 100 "
                             "bases; above 10,000 over a patrol area grown to keep 1 drone "
                             "per km2: 316 x 316 km for 100,000)")
    parser.add_argument("--bases", type=int, default=None,
                        help="bases of the full case, a square number on a square grid "
                             "(default: 100 up to 10,000 drones, else about 100 drones "
                             "per base: 1,024 for 100,000)")
    parser.add_argument("--no-off", action="store_true",
                        help="full case: skip the everything-off run")
    parser.add_argument("--policy", default="nearest_dispatch",
                        help="dispatch policy of the logistics case (default nearest_dispatch)")
    parser.add_argument("--hours", type=float, default=None,
                        help="simulated hours of the logistics case (default 24) and of "
                             "the full case (default 1)")
    parser.add_argument("--smoke", action="store_true",
                        help="a check that the benchmark works: every case with tens of "
                             "vehicles for minutes (its figures mean little)")
    args = parser.parse_args()
    big, hour, day, per_base, sep_s = 10000, 3600.0, 86400.0, 100, 3600.0
    full_n, full_h = args.vehicles, args.hours or 1.0
    if args.smoke:
        global IN_PROCESS, AREA_VEHICLES
        IN_PROCESS = True
        AREA_VEHICLES = 50  # the full case's 100 drones over a patrol area scaled for them
        big, hour, day, per_base, sep_s = 80, 600.0, 1200.0, 1, 600.0
        args.hours, args.targets = 0.25, 20
        full_n, full_h = 100, 0.1
        args.masts = 4  # a station's horizon costs ~0.4 s to build, however short the run
    if args.hours is None:
        args.hours = 24.0
    if args.only == "full" or args.smoke:
        full(full_n, full_h * 3600.0, args.masts, args.range_m, not args.no_off,
             args.bases or default_bases(full_n))
        if args.only == "full":
            return
    small = big // 10
    cases = [(small, hour, False), (big, hour, False), (big, hour, True), (small, day, False)]
    if args.full_day:
        cases.append((big, day, False))
    if args.only in (None, "separation"):
        runs = {mode: spawn("separation", mode, sep_s, per_base)
                for mode in ("off", "on", "conflicts")}
        n_sep = per_base * len(_GRID)
        off = runs["off"]["simulate_s"]
        for mode, r in runs.items():
            extra = ""
            if mode != "off":
                extra = (f"; {r['los']:,} losses, {r['conflicts']:,} conflicts; leg pairs "
                         f"checked {r['pairs_checked']:,} of {r['all_pairs']:,} "
                         f"all-against-all in the same windows "
                         f"({r['pairs_checked'] / max(r['all_pairs'], 1):.2e}); a 1 Hz "
                         f"all-pairs check: {n_sep * (n_sep - 1) // 2 * round(sep_s):,}")
            print(f"separation {mode:>9}: {n_sep:,} drones x {sep_s / 3600:.3g} h, simulate "
                  f"{r['simulate_s']:.1f} s "
                  f"({r['simulate_s'] / off:.2f}x off), {r['vehicle_s_per_wall_s']:.3g} "
                  f"vehicle-s per wall s, peak {r['peak_rss_mb']:.0f} MB{extra}", flush=True)
        if args.only == "separation":
            return
    if args.only == "wind" or args.smoke:
        # The same patrol with and without wind, one after the other in this run.
        off = spawn("case", big, hour, args.targets, 0, 0)
        on = spawn("case", big, hour, args.targets, 0, 1)
        print(f"wind: {big:,} drones x {hour / 3600:.3g} h, simulate {on['simulate_s']:.1f} s "
              f"with wind vs {off['simulate_s']:.1f} s without "
              f"({on['simulate_s'] / off['simulate_s']:.2f}x; target <= 1.3x); policy "
              f"{on['policy_s']:.1f} s vs {off['policy_s']:.1f} s; legs "
              f"{on['legs']:,} vs {off['legs']:,}", flush=True)
        if args.only == "wind":
            return
    if args.only in (None, "logistics"):
        r = spawn("logistics", args.hours * 3600.0, args.policy, int(args.smoke))
        print(f"logistics: city_delivery, {r['vehicles']:,} drones x {args.hours:g} h, "
              f"policy {args.policy}: simulate {r['simulate_s']:.1f} s (policy "
              f"{r['policy_s']:.1f} s, {r['decisions']:,} decisions), metrics "
              f"{r['metrics_s']:.1f} s; {r['orders']:,} orders, {r['delivered']:,} delivered, "
              f"{r['failed']:,} failed, on time {r['on_time']:.3f}; {r['legs']:,} legs, "
              f"{r['events']:,} events; peak {r['peak_rss_mb']:.0f} MB (target: <= 60 s)",
              flush=True)
        if args.only == "logistics":
            return
    print(f"{'vehicles':>8} {'sim h':>6} {'sim s':>7} {'metrics s':>9} {'legs':>9} "
          f"{'events':>9} {'veh-s/s':>10} {'events/s':>9} {'simpy ev/s':>10} "
          f"{'raw ev/s':>9} {'ratio':>6} {'policy s':>8} {'eng ratio':>9} {'peak MB':>8}")
    times = {}
    for n, dur, ov in cases:
        r = spawn("case", n, dur, args.targets, int(ov))
        times[(n, dur, ov)] = r["simulate_s"]
        raw = spawn("raw", n, r["simpy_events"])
        ratio = r["events_per_s"] / raw["events_per_s"]
        engine_ratio = r["engine_events_per_s"] / raw["events_per_s"]
        print(f"{n:>8} {dur / 3600:>6.3g} {r['simulate_s']:>7.1f} {r['metrics_s']:>9.1f} "
              f"{r['legs']:>9} {r['events']:>9} {r['vehicle_s_per_wall_s']:>10.3g} "
              f"{r['events_per_s']:>9.3g} {r['simpy_events_per_s']:>10.3g} "
              f"{raw['events_per_s']:>9.3g} {ratio:>6.2f} {r['policy_s']:>8.1f} "
              f"{engine_ratio:>9.2f} {r['peak_rss_mb']:>8.0f}" +
              ("  + oversight & comms" if ov else ""), flush=True)
    on, off = times.get((big, hour, True)), times.get((big, hour, False))
    if on and off:
        print(f"{big:,} x {hour / 3600:.3g} h with oversight and comms on: {on:.1f} s vs "
              f"{off:.1f} s off "
              f"({on / off:.2f}x)")
    print("events/s: recorded events (legs' arrivals, detections, zone crossings, plans, ...) "
          "per wall second of simulation; raw ev/s: a bare simpy timeout loop with as many "
          "processes and events; ratio: events/s over raw ev/s; policy s: wall time inside "
          "the policy's decide(); eng ratio: the same ratio with the policy's time left out.")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
    else:
        main()

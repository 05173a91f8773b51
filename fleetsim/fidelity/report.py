"""Re-fly a recorded run's flights through rigid-body physics and compare leg by leg.

:func:`refly` takes the airborne legs of chosen vehicles from a recorded run
(:func:`fleetsim.rundir.read_run`) and flies them with
:class:`~fleetsim.fidelity.multirotor.FlightSim`:

- a flight starts at the top of its ``takeoff`` leg, hovering (the physics model
  does not take off), and ends at a ``land`` leg or the end of the airborne legs;
  neither the takeoff nor the landing is flown (reported with ``flown = False``);
- ``move`` and ``return`` legs are flown as waypoints; a ``hold`` is a hover at
  its point for its duration. The physics flight is split at each hold: the
  vehicle flies to the hold point, hovers ``hold_s``, and the next part starts
  there hovering again (so a hold's flown duration is its planned one);
- per leg: flown duration (from the waypoint arrivals), cross-track error of the
  flown positions from the planned segment, flown energy (the sampled rotor
  power integrated over the leg), the turn at its start, its climb, terrain
  contact and whether it was flyable.

:func:`write_outputs` writes ``fidelity.csv``, ``fidelity.json`` and
``fidelity.png`` (byte-identical for the same run, vehicles and seed).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fleetsim.errors import FleetsimError

__all__ = ["AIRBORNE_KINDS", "LegResult", "airborne_vehicles", "refly", "summary",
           "to_table", "write_outputs"]

#: Leg kinds of a flight, from its takeoff to its landing.
AIRBORNE_KINDS = ("takeoff", "move", "hold", "return", "land")
#: Leg kinds flown as waypoints.
_MOVE_KINDS = ("move", "return")
#: Horizontal length below which a leg has no horizontal direction (no turn), m.
_MIN_HORIZONTAL_M = 1e-6


@dataclass
class LegResult:
    """One recorded leg, as planned and as flown by the physics model."""

    vehicle: int
    type_id: str
    leg: int
    kind: str
    #: The leg was flown by the physics model (takeoffs and landings are not, nor
    #: legs after a failure).
    flown: bool
    planned_s: float
    flown_s: float
    cross_track_mean_m: float
    cross_track_max_m: float
    planned_wh: float
    flown_wh: float
    #: Turn from the previous leg's horizontal direction, radians (0 after a stop).
    turn_rad: float
    climb_m: float
    #: The leg starts at rest: the first movement of a flight or after a hold.
    starts_at_rest: bool
    contact: bool
    flyable: bool
    t0_s: float = 0.0
    t1_s: float = 0.0
    start_xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    end_xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    #: Flown samples during the leg: times on the run's clock (s) and positions (n, 3).
    flown_t: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    flown_xyz: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)), repr=False)

    @property
    def time_error_s(self) -> float:
        return self.flown_s - self.planned_s

    @property
    def energy_error_wh(self) -> float:
        return self.flown_wh - self.planned_wh


# --------------------------------------------------------------------------- flights


def _legs_of(run: Any, vehicle: int) -> list[int]:
    legs = run.legs
    rows = np.flatnonzero(legs["vehicle"] == vehicle)
    return rows[np.argsort(legs["t0_s"][rows], kind="stable")].tolist()


def airborne_vehicles(run: Any) -> list[int]:
    """Vehicles that took off at least once, in index order."""
    legs = run.legs
    return sorted({int(v) for v in legs["vehicle"][legs["kind"] == "takeoff"]})


def _flights(run: Any, vehicle: int) -> list[list[int]]:
    """Row indices of each flight of ``vehicle``: a takeoff, then airborne legs up to and
    including a landing (or the last airborne leg)."""
    kinds = run.legs["kind"]
    flights: list[list[int]] = []
    current: list[int] | None = None
    for r in _legs_of(run, vehicle):
        k = kinds[r]
        if k == "takeoff":
            current = [r]
            flights.append(current)
        elif current is not None and k in AIRBORNE_KINDS:
            current.append(r)
            if k == "land":
                current = None
        else:
            current = None
    return flights


def _xyz(legs: dict[str, np.ndarray], r: int, end: int) -> np.ndarray:
    s = "1" if end else "0"
    return np.array([legs[f"x{s}_m"][r], legs[f"y{s}_m"][r], legs[f"z{s}_m"][r]], dtype=float)


def _type_of(run: Any, vehicle: int) -> Any:
    tid = str(run.vehicles["type"][int(np.flatnonzero(run.vehicles["vehicle"] == vehicle)[0])])
    for t in run.scenario.vehicle_types:
        if t.id == tid:
            return t
    raise FleetsimError(f"vehicle {vehicle}: unknown vehicle type {tid!r}")


def _airframe(vtype: Any) -> Any:
    from fleetsim.fidelity.multirotor import MultirotorParams

    name = getattr(vtype, "airframe", "small_quadrotor") or "small_quadrotor"
    if name not in ("small_quadrotor", "heavy_hexacopter"):
        raise FleetsimError(f"vehicle type {vtype.id!r}: unknown airframe {name!r}; expected "
                            "small_quadrotor or heavy_hexacopter")
    params = getattr(MultirotorParams, name)()
    overrides = dict(getattr(vtype, "airframe_params", None) or {})
    if overrides:
        import dataclasses
        try:
            params = dataclasses.replace(params, **overrides)
        except (TypeError, ValueError) as exc:
            raise FleetsimError(f"vehicle type {vtype.id!r}: airframe_params: {exc}") from None
    return params


def _seg_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance of points (n, 3) from the segment a-b."""
    ab = b - a
    n2 = float(ab @ ab)
    if n2 < 1e-12:
        return np.linalg.norm(p - a, axis=1)
    s = np.clip((p - a) @ ab / n2, 0.0, 1.0)
    return np.linalg.norm(p - (a + s[:, None] * ab), axis=1)


def _turn(prev: np.ndarray | None, cur: np.ndarray) -> float:
    if prev is None:
        return 0.0
    a, b = prev[:2], cur[:2]
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na < _MIN_HORIZONTAL_M or nb < _MIN_HORIZONTAL_M:
        return 0.0
    return math.acos(max(-1.0, min(1.0, float(a @ b) / (na * nb))))


def check_vehicles(run: Any, vehicles: Sequence[int]) -> list[int]:
    """Validate vehicle indices: known, and flew at least once (FleetsimError otherwise)."""
    n = len(run.vehicles["vehicle"])
    flew = set(airborne_vehicles(run))
    out = []
    for v in vehicles:
        if not (isinstance(v, (int, np.integer)) and 0 <= v < n):
            raise FleetsimError(f"vehicle {v}: no such vehicle; the run has vehicles 0..{n - 1}")
        if int(v) not in flew:
            raise FleetsimError(f"vehicle {v}: never flew in this run (no takeoff leg)")
        out.append(int(v))
    return out


def refly(run: Any, vehicles: Sequence[int], *, seed: int = 0,
          wind_mps: Sequence[float] = (0.0, 0.0, 0.0), gust_sd_mps: float = 0.0,
          max_legs: int | None = None) -> list[LegResult]:
    """Fly the recorded flights of ``vehicles`` through the physics model (see the module
    docstring). ``max_legs`` bounds the airborne legs taken per vehicle (takeoffs and
    landings included). Results are in vehicle order, then leg order."""
    from fleetsim.fidelity.multirotor import Controller, FlightSim

    vehicles = check_vehicles(run, vehicles)
    legs = run.legs
    # ---- plan every physics segment first (one FlightSim, one name per segment, so
    # that each segment has its own gust stream)
    params: dict[str, Any] = {}
    controllers: dict[str, Any] = {}
    # per vehicle: (type, battery per flight, list of flights, each a list of segments)
    plans: list[tuple[int, Any, list[tuple[float, list[int], list[dict[str, Any]]]]]] = []
    for v in vehicles:
        vtype = _type_of(run, v)
        prm = _airframe(vtype)
        ctl = Controller(max_speed_mps=float(vtype.cruise_speed_mps),
                         max_climb_mps=float(vtype.climb_rate_mps))
        flights = []
        budget = None if max_legs is None else int(max_legs)
        for rows in _flights(run, v):
            if budget is not None:
                if budget <= 0:
                    break
                rows = rows[:budget]
                budget -= len(rows)
            r0 = rows[0]
            battery = float(legs["battery_end_wh"][r0] + legs["energy_wh"][r0])
            segments: list[dict[str, Any]] = []
            start = _xyz(legs, r0, 1)
            seg: dict[str, Any] | None = None
            for r in rows[1:]:
                k = legs["kind"][r]
                if k == "land":
                    break
                if seg is None:
                    seg = {"name": f"{v}:{len(flights)}:{len(segments)}", "start": start,
                           "rows": [], "hold": None}
                    segments.append(seg)
                if k in _MOVE_KINDS:
                    seg["rows"].append(r)
                else:  # hold: hover for its duration, then a new segment starts there
                    seg["hold"] = r
                    seg = None
                start = _xyz(legs, r, 1)
            for s in segments:
                params[s["name"]] = prm
                controllers[s["name"]] = ctl
            flights.append((battery, rows, segments))
        plans.append((v, vtype, flights))

    results: list[LegResult] = []
    if not params:
        return results
    terrain = run.world.terrain
    with FlightSim(params, terrain=terrain, wind_mps=wind_mps, gust_sd_mps=gust_sd_mps,
                   seed=seed, controller=controllers) as sim:
        for v, vtype, flights in plans:
            for battery, rows, segments in flights:
                results += _fly_flight(sim, run, v, vtype, battery, rows, segments)
    return results


def _unflown(run: Any, v: int, tid: str, r: int, flyable: bool) -> LegResult:
    legs = run.legs
    a, b = _xyz(legs, r, 0), _xyz(legs, r, 1)
    return LegResult(
        vehicle=v, type_id=tid, leg=int(legs["leg"][r]), kind=str(legs["kind"][r]),
        flown=False, planned_s=float(legs["t1_s"][r] - legs["t0_s"][r]), flown_s=math.nan,
        cross_track_mean_m=math.nan, cross_track_max_m=math.nan,
        planned_wh=float(legs["energy_wh"][r]), flown_wh=math.nan, turn_rad=0.0,
        climb_m=float(b[2] - a[2]), starts_at_rest=False, contact=False, flyable=flyable,
        t0_s=float(legs["t0_s"][r]), t1_s=float(legs["t1_s"][r]),
        start_xyz=tuple(a.tolist()), end_xyz=tuple(b.tolist()))


def _fly_flight(sim: Any, run: Any, v: int, vtype: Any, battery: float, rows: list[int],
                segments: list[dict[str, Any]]) -> list[LegResult]:
    legs = run.legs
    tid = str(vtype.id)
    by_row: dict[int, LegResult] = {}
    # the takeoff is not flown; its planned energy counts against the battery
    used_wh = float(legs["energy_wh"][rows[0]])
    clock = float(legs["t1_s"][rows[0]])  # the run's clock at the start of each segment
    ok = True
    prev_dir: np.ndarray | None = None
    for seg in segments:
        seg_rows = seg["rows"] + ([seg["hold"]] if seg["hold"] is not None else [])
        if not ok:
            for r in seg_rows:
                by_row[r] = _unflown(run, v, tid, r, False)
            continue
        wps = [_xyz(legs, r, 1) for r in seg["rows"]]
        if not wps:  # a hold right after a stop: hover at the start point
            wps = [seg["start"]]
        hold_s = None
        if seg["hold"] is not None:
            hold_s = float(legs["t1_s"][seg["hold"]] - legs["t0_s"][seg["hold"]])
        track = sim.fly(seg["name"], wps, seg["start"], hold_s=hold_s or None)
        rec_dt = float(track.times_s[1] - track.times_s[0]) if len(track.times_s) > 1 else 0.0
        arrivals = track.arrival_times_s
        windows: list[tuple[int, float, float]] = []
        t_prev = 0.0
        for i, r in enumerate(seg["rows"]):
            windows.append((r, t_prev, float(arrivals[i])))
            t_prev = float(arrivals[i])
        if seg["hold"] is not None:
            end = t_prev + hold_s if math.isfinite(t_prev) else math.nan
            if end > track.duration_s + 1e-6:
                end = math.nan  # the flight ended before the hold did
            windows.append((seg["hold"], t_prev, end))
        contact_t = [c.time_s for c in track.contacts]
        for j, (r, ta, tb) in enumerate(windows):
            a, b = _xyz(legs, r, 0), _xyz(legs, r, 1)
            kind = str(legs["kind"][r])
            moving = kind in _MOVE_KINDS
            rest = moving and j == 0
            turn = _turn(prev_dir, b - a) if moving and not rest else 0.0
            if moving:
                d = b - a
                prev_dir = d if float(np.linalg.norm(d[:2])) >= _MIN_HORIZONTAL_M else None
            else:
                prev_dir = None
            done = math.isfinite(ta) and math.isfinite(tb)
            t_hi = tb if done else (track.duration_s if math.isfinite(ta) else -1.0)
            t_lo = ta if math.isfinite(ta) else math.inf
            sel = (track.times_s >= t_lo - 1e-9) & (track.times_s <= t_hi + 1e-9)
            in_leg = (track.times_s >= t_lo - 1e-9) & (track.times_s < t_hi - 1e-9)
            pos = track.positions[sel]
            dist = _seg_distance(pos, a, b) if len(pos) else np.zeros(0)
            flown_wh = float(track.power_w[in_leg].sum() * rec_dt / 3600.0)
            contact = any(t_lo - 1e-9 <= t <= t_hi + 1e-9 for t in contact_t)
            if done:
                used_wh += flown_wh
            flyable = bool(done and not contact and not track.diverged and used_wh <= battery)
            by_row[r] = LegResult(
                vehicle=v, type_id=tid, leg=int(legs["leg"][r]), kind=kind, flown=True,
                planned_s=float(legs["t1_s"][r] - legs["t0_s"][r]),
                flown_s=(tb - ta) if done else math.nan,
                cross_track_mean_m=float(dist.mean()) if len(dist) else math.nan,
                cross_track_max_m=float(dist.max()) if len(dist) else math.nan,
                planned_wh=float(legs["energy_wh"][r]), flown_wh=flown_wh if done else math.nan,
                turn_rad=turn, climb_m=float(b[2] - a[2]), starts_at_rest=rest,
                contact=contact, flyable=flyable,
                t0_s=float(legs["t0_s"][r]), t1_s=float(legs["t1_s"][r]),
                start_xyz=tuple(a.tolist()), end_xyz=tuple(b.tolist()),
                flown_t=clock + track.times_s[sel], flown_xyz=pos.copy())
            if not flyable:
                ok = False
        clock += float(track.duration_s)
        if not track.flyable:
            ok = False
    out = [_unflown(run, v, tid, rows[0], True)]
    for r in rows[1:]:
        out.append(by_row.get(r) or _unflown(run, v, tid, r, ok))
    return out


# --------------------------------------------------------------------------- outputs

_COLUMNS = ("vehicle", "type_id", "leg", "kind", "flown", "planned_s", "flown_s",
            "time_error_s", "cross_track_mean_m", "cross_track_max_m", "planned_wh",
            "flown_wh", "energy_error_wh", "turn_rad", "climb_m", "starts_at_rest", "contact",
            "flyable")


def to_table(results: Sequence[LegResult]) -> dict[str, np.ndarray]:
    """The results as numpy columns (one row per leg)."""
    out: dict[str, np.ndarray] = {}
    for name in _COLUMNS:
        vals = [getattr(r, name) for r in results]
        if name in ("vehicle", "leg"):
            out[name] = np.asarray(vals, dtype=np.int64)
        elif name in ("type_id", "kind"):
            out[name] = np.asarray(vals, dtype=object)
        elif name in ("flown", "starts_at_rest", "contact", "flyable"):
            out[name] = np.asarray(vals, dtype=np.bool_)
        else:
            out[name] = np.asarray(vals, dtype=np.float64)
    return out


def _num(x: float) -> float | None:
    """JSON-safe, rounded float (None for NaN)."""
    x = float(x)
    return round(x, 6) if math.isfinite(x) else None


def summary(results: Sequence[LegResult]) -> list[dict[str, Any]]:
    """Per-vehicle summary of the flown legs (takeoffs and landings excluded)."""
    out = []
    for v in sorted({r.vehicle for r in results}):
        mine = [r for r in results if r.vehicle == v]
        flown = [r for r in mine if r.flown]
        done = [r for r in flown if math.isfinite(r.flown_s)]
        xt = [r.cross_track_max_m for r in flown if math.isfinite(r.cross_track_max_m)]
        planned = sum(r.planned_s for r in done)
        flown_s = sum(r.flown_s for r in done)
        out.append({
            "vehicle": v, "type": mine[0].type_id, "legs": len(mine), "legs_flown": len(flown),
            "planned_s": _num(planned), "flown_s": _num(flown_s),
            "time_error_s": _num(flown_s - planned),
            "cross_track_max_m": _num(max(xt)) if xt else None,
            "planned_wh": _num(sum(r.planned_wh for r in done)),
            "flown_wh": _num(sum(r.flown_wh for r in done)),
            "contact": any(r.contact for r in mine),
            "flyable": bool(flown) and all(r.flyable for r in mine),
        })
    return out


def _fmt(x: Any) -> str:
    if isinstance(x, (bool, np.bool_)):
        return "true" if x else "false"
    if isinstance(x, (float, np.floating)):
        return "" if not math.isfinite(x) else f"{float(x):.6f}"
    return str(x)


def write_outputs(results: Sequence[LegResult], out_dir: str | os.PathLike) -> list[Path]:
    """Write ``fidelity.csv``, ``fidelity.json`` and ``fidelity.png`` into ``out_dir``."""
    from fleetsim.rundir import dumps_json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = to_table(results)
    csv_path = out / "fidelity.csv"
    with open(csv_path, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(_COLUMNS)
        for i in range(len(results)):
            w.writerow([_fmt(table[c][i].item() if hasattr(table[c][i], "item")
                             else table[c][i]) for c in _COLUMNS])
    legs_json = []
    for i in range(len(results)):
        row: dict[str, Any] = {}
        for c in _COLUMNS:
            val = table[c][i]
            if isinstance(val, np.floating):
                row[c] = _num(val)
            elif isinstance(val, np.bool_):
                row[c] = bool(val)
            elif isinstance(val, np.integer):
                row[c] = int(val)
            else:
                row[c] = str(val)
        legs_json.append(row)
    json_path = out / "fidelity.json"
    json_path.write_text(dumps_json({"vehicles": summary(results), "legs": legs_json}))
    png_path = out / "fidelity.png"
    _plot(results, png_path)
    return [csv_path, json_path, png_path]


def _plot(results: Sequence[LegResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    vehicles = sorted({r.vehicle for r in results}) or [0]
    fig, axes = plt.subplots(len(vehicles), 2, figsize=(11, 4 * len(vehicles)), squeeze=False)
    for row, v in enumerate(vehicles):
        mine = [r for r in results if r.vehicle == v]
        ax_p, ax_z = axes[row]
        if mine:
            px = [mine[0].start_xyz[0]] + [r.end_xyz[0] for r in mine]
            py = [mine[0].start_xyz[1]] + [r.end_xyz[1] for r in mine]
            pt = [mine[0].t0_s] + [r.t1_s for r in mine]
            pz = [mine[0].start_xyz[2]] + [r.end_xyz[2] for r in mine]
            ax_p.plot(px, py, "o--", color="0.5", lw=1, ms=3, label="planned")
            ax_z.plot(pt, pz, "--", color="0.5", lw=1, label="planned")
            ft = np.concatenate([r.flown_t for r in mine])
            fx = np.concatenate([r.flown_xyz for r in mine]) if ft.size else np.zeros((0, 3))
            ax_p.plot(fx[:, 0], fx[:, 1], "-", color="tab:blue", lw=1.2, label="flown")
            ax_z.plot(ft, fx[:, 2], "-", color="tab:blue", lw=1.2, label="flown")
        ax_p.set_title(f"vehicle {v}: plan view")
        ax_p.set_xlabel("x (m)")
        ax_p.set_ylabel("y (m)")
        ax_p.set_aspect("equal", adjustable="datalim")
        ax_p.legend(loc="best", fontsize=8)
        ax_z.set_title(f"vehicle {v}: altitude")
        ax_z.set_xlabel("time (s)")
        ax_z.set_ylabel("z (m)")
        ax_z.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80, metadata={"Software": None})
    plt.close(fig)

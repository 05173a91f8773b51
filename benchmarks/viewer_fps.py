#!/usr/bin/env python3
"""Frames per second of the replay viewer in headless Chromium, at 1k and 10k vehicles.

Builds synthetic replays (vehicles flying random sensing legs over a 30 x 30 km
area from four bases, returning, landing and charging), serves each on
127.0.0.1, plays it at 50x in headless Chromium (software rendering) and prints
the frame rate and the viewer's own time per frame.

    .venv/bin/python benchmarks/viewer_fps.py [--vehicles 1000 10000] [--seconds 6]
    .venv/bin/python benchmarks/viewer_fps.py --smoke   # 40 vehicles, 15 min, ~10 s

Needs Debian's chromium (/usr/bin/chromium, see .ci/system-deps) and the
``playwright`` Python package.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fleetsim.record import EVENT_COLUMNS, LEG_COLUMNS, VEHICLE_COLUMNS, RecordedRun
from fleetsim.replay import write_replay_into
from fleetsim.replay.server import ReplayServer
from fleetsim.replay.writer import bundle_size
from fleetsim.scenario import load_scenario_text
from fleetsim.world.world import build_world

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]

SCENARIO = """
schema_version: 1
name: synthetic_{n}
description: synthetic replay for the viewer benchmark
run: {{duration_s: {duration}, seed: 3}}
world:
  terrain: {{source: procedural, size_m: [30000, 30000], spacing_m: 100, relief_m: 500, ridges: 6}}
  zones:
    - {{id: airfield, kind: no_fly, polygon: [[13000, 13000], [17000, 13000], [17000, 17000], [13000, 17000]],
       active: {{start_s: 600, end_s: 2400}}}}
  sites:
    - {{id: a, kind: base, position: [5000, 5000], pads: {pads}}}
    - {{id: b, kind: base, position: [25000, 5000], pads: {pads}}}
    - {{id: c, kind: base, position: [5000, 25000], pads: {pads}}}
    - {{id: d, kind: base, position: [25000, 25000], pads: {pads}}}
fleet:
  types:
    - id: quad
      kind: multirotor
      bases: {{a: {q}, b: {q}, c: {q}, d: {q}}}
      cruise_speed_mps: 15
      climb_rate_mps: 5
      battery_wh: 200
      hover_power_w: 250
      cruise_power_w: 200
      recharge_time_s: 900
      sensor: {{footprint_radius_m: 80}}
missions:
  - {{id: region, kind: persistent, area: {{rect: [1000, 1000, 29000, 29000]}}, random_targets: 50}}
policy: {{name: random_search, params: {{}}}}
outputs: {{metrics_cell_m: 250}}
"""


def _none(dtype) -> object:
    """The "none" value of a recorded column of this type (-1, NaN or "")."""
    kind = np.dtype(dtype).kind
    return -1 if kind in "iu" else np.nan if kind == "f" else ""


def synthetic_run(n_vehicles: int, duration_s: float = 3600.0, seed: int = 0) -> RecordedRun:
    """A recorded run with made-up but well-formed legs (tiling [0, duration] per vehicle)."""
    q = max(1, n_vehicles // 4)
    sc = load_scenario_text(SCENARIO.format(n=n_vehicles, duration=duration_s, q=q,
                                            pads=max(1, q)))
    world = build_world(sc)
    n = 4 * q
    rng = np.random.default_rng(seed)
    home = np.array([world.site(b).xy for b in ("a", "b", "c", "d")])[np.arange(n) // q]
    speed, alt, cap = 15.0, 120.0, 200.0
    rows: dict[str, list] = {k: [] for k in LEG_COLUMNS}
    ev: dict[str, list] = {k: [] for k in EVENT_COLUMNS}

    def leg(v, kind, sensing, t0, t1, p0, p1, energy, battery):
        rows["vehicle"].append(v)
        rows["kind"].append(kind)
        rows["sensing"].append(sensing)
        rows["t0_s"].append(t0)
        rows["t1_s"].append(t1)
        for k, val in zip(("x0_m", "y0_m", "z0_m", "x1_m", "y1_m", "z1_m"), (*p0, *p1),
                          strict=True):
            rows[k].append(val)
        rows["energy_wh"].append(energy)
        rows["battery_end_wh"].append(battery)

    def event(t, kind, v, x=np.nan, y=np.nan):
        given = {"time_s": t, "kind": kind, "vehicle": v, "x_m": x, "y_m": y}
        for k, dt in EVENT_COLUMNS.items():  # every column, so a new one cannot be missed
            ev[k].append(given[k] if k in given else _none(dt))

    for v in range(n):
        t, bat = float(rng.uniform(0, 120)), cap
        hx, hy = home[v]
        ground = (hx, hy, 0.0)
        leg(v, "ground", False, 0.0, t, ground, ground, 0.0, bat)
        while t < duration_s:
            air = (hx, hy, alt)
            leg(v, "takeoff", False, t, t + 24, ground, air, 1.5, bat - 1.5)
            event(t, "takeoff", v, hx, hy)
            t, bat, p = t + 24, bat - 1.5, air
            while bat > 0.3 * cap and t < duration_s:
                ang = rng.uniform(0, 2 * np.pi)
                dist = rng.uniform(800, 4000)
                q2 = (np.clip(p[0] + dist * np.cos(ang), 1000, 29000),
                      np.clip(p[1] + dist * np.sin(ang), 1000, 29000), alt)
                dt = float(np.hypot(q2[0] - p[0], q2[1] - p[1]) / speed)
                e = dt * 200 / 3600
                leg(v, "move", True, t, t + dt, p, q2, e, bat - e)
                t, bat, p = t + dt, bat - e, q2
            event(t, "return_start", v, p[0], p[1])
            dt = float(np.hypot(hx - p[0], hy - p[1]) / speed)
            e = dt * 200 / 3600
            leg(v, "return", False, t, t + dt, p, air, e, bat - e)
            t, bat = t + dt, bat - e
            leg(v, "land", False, t, t + 24, air, ground, 1.0, bat - 1.0)
            t, bat = t + 24, bat - 1.0
            event(t, "landed", v, hx, hy)
            dt = 900 * (cap - bat) / cap
            leg(v, "charge", False, t, t + dt, ground, ground, bat - cap, cap)
            event(t, "charge_start", v, hx, hy)
            t, bat = t + dt, cap
        # Cut the last leg at the end of the run.
        last = len(rows["t1_s"]) - 1
        t0, t1 = rows["t0_s"][last], rows["t1_s"][last]
        if t1 > duration_s:
            f = (duration_s - t0) / (t1 - t0) if t1 > t0 else 1.0
            for a, b in (("x0_m", "x1_m"), ("y0_m", "y1_m"), ("z0_m", "z1_m")):
                rows[b][last] = rows[a][last] + f * (rows[b][last] - rows[a][last])
            b_start = rows["battery_end_wh"][last] + rows["energy_wh"][last]
            rows["energy_wh"][last] *= f
            rows["battery_end_wh"][last] = b_start - rows["energy_wh"][last]
            rows["t1_s"][last] = duration_s
    legs = {k: np.asarray(rows[k], dtype=dt) for k, dt in LEG_COLUMNS.items() if k != "leg"}
    legs["leg"] = np.arange(len(legs["t0_s"]), dtype=np.int64)
    events = {k: np.asarray(ev[k], dtype=dt) for k, dt in EVENT_COLUMNS.items()}
    order = np.argsort(events["time_s"], kind="stable")
    events = {k: c[order] for k, c in events.items()}
    given = {"vehicle": np.arange(n, dtype=np.int32),
             "type": np.array(["quad"] * n, dtype=object),
             "base": np.array([("a", "b", "c", "d")[v // q] for v in range(n)], dtype=object),
             "footprint_radius_m": np.full(n, 80.0), "battery_wh": np.full(n, cap),
             "domain": np.array(["air"] * n, dtype=object), "payload_kg": np.zeros(n)}
    vehicles = {k: given[k] if k in given else np.full(n, _none(dt), dtype=dt)
                for k, dt in VEHICLE_COLUMNS.items()}
    return RecordedRun(scenario=sc, world=world, legs=legs, events=events, vehicles=vehicles)


def measure(url: str, seconds: float, speed: float, duration: float,
            viewport=(1600, 900)) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(url)
            page.wait_for_function("() => window.viewer && (window.viewer.ready || "
                                   "window.viewer.error)", timeout=60_000)
            err = page.evaluate("() => window.viewer.error")
            if err:
                raise RuntimeError(f"viewer error: {err}")
            page.evaluate(f"() => {{ window.viewer.setSpeed({speed}); window.viewer.play(); }}")
            warmup = min(1.5, 0.2 * duration / speed)
            time.sleep(warmup)  # JIT, first chunks
            f0, t0, s0 = page.evaluate("() => [window.viewer.frame, performance.now(), "
                                       "window.viewer.simTime]")
            # Measure while it plays: stop before the replay reaches its end.
            time.sleep(min(seconds, 0.9 * (duration - s0) / speed))
            f1, t1, s1, ms, playing, charts = page.evaluate(
                "() => [window.viewer.frame, performance.now(), window.viewer.simTime, "
                "window.viewer.renderMs, window.viewer.playing, window.viewer.charts.open]")
            if not playing:
                raise RuntimeError("the replay stopped playing while being measured")
            if errors:
                raise RuntimeError(f"page errors: {errors[:3]}")
            if not charts:
                raise RuntimeError("the charts panel is not open (no time series?)")
            return {"fps": (f1 - f0) / ((t1 - t0) / 1000), "render_ms": ms,
                    "sim_s": s1 - s0, "wall_s": (t1 - t0) / 1000}
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vehicles", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--seconds", type=float, default=6.0, help="measuring time per replay")
    ap.add_argument("--speed", type=float, default=50.0, help="playback speed")
    ap.add_argument("--smoke", action="store_true",
                    help="a check that the benchmark works: 40 vehicles, 15 simulated "
                         "minutes, 1 s of measuring (its figures mean little)")
    args = ap.parse_args(argv)
    duration_s = 3600.0
    if args.smoke:
        args.vehicles, args.seconds, duration_s = [40], 1.0, 900.0
    if not Path(CHROMIUM).exists():
        print(f"viewer_fps: {CHROMIUM} not found (run .ci/system-deps)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="fleetsim-fps-") as tmp:
        for n in args.vehicles:
            t0 = time.perf_counter()
            run = synthetic_run(n, duration_s)
            t1 = time.perf_counter()
            out = write_replay_into(Path(tmp) / f"replay-{n}", run)
            t2 = time.perf_counter()
            with ReplayServer(out).start() as srv:
                r = measure(srv.url, args.seconds, args.speed, run.duration_s)
            print(f"{len(run.vehicles['vehicle']):>6} vehicles  {len(run.legs['leg']):>7} legs  "
                  f"bundle {bundle_size(out) / 1e6:5.1f} MB (built {t1 - t0:.1f} s, written "
                  f"{t2 - t1:.1f} s)  {r['fps']:5.1f} fps  {r['render_ms']:5.2f} ms/frame "
                  f"in the viewer, charts open  (at {args.speed:g}x: {r['sim_s']:.0f} s "
                  f"simulated in {r['wall_s']:.1f} s)",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Separation in the engine: exact losses of separation, cuts, conflicts, strategic and
tactical deconfliction, layering by heading, and the safety metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fleetsim.engine import Simulation
from fleetsim.metrics import compute_metrics
from fleetsim.policy import GoTo, Plan, Policy, ReturnHome, Route
from fleetsim.scenario import load_scenario_text


def scenario(bases: list[tuple[float, float]], *, separation: str, duration_s: float = 900.0,
             count: int = 1):
    sites = "\n".join(f"    - {{id: b{i}, kind: base, position: [{x:g}, {y:g}], pads: {count}}}"
                      for i, (x, y) in enumerate(bases))
    per = ", ".join(f"b{i}: {count}" for i in range(len(bases)))
    return load_scenario_text(f"""
name: sep
run: {{duration_s: {duration_s}, seed: 1, monitor_window_s: 10}}
world:
  terrain: {{source: flat, size_m: [4000, 4000], spacing_m: 100}}
  sites:
{sites}
fleet:
  types:
    - {{id: quad, kind: multirotor, bases: {{{per}}}, cruise_speed_mps: 15,
        climb_rate_mps: 5, cruise_altitude_agl_m: 100, battery_wh: 5000,
        hover_power_w: 300, cruise_power_w: 250, recharge_time_s: 600,
        sensor: {{footprint_radius_m: 20}}}}
policy: {{name: random_search}}
separation: {separation}
""")


class Script(Policy):
    name = "script"

    def __init__(self, plans: dict):
        self.plans = plans

    def decide(self, now_s, fleet, requests):
        return [Plan(r.vehicle, self.plans[r.vehicle]) for r in requests
                if r.reason == "start" and r.vehicle in self.plans]


def los(run):
    ev = run.events
    out = []
    for k in ("los_start", "los_end"):
        m = ev["kind"] == k
        out += [(round(float(t), 6), k, int(a), int(b)) for t, a, b in
                zip(ev["time_s"][m], ev["vehicle"][m], ev["target"][m], strict=True)]
    return sorted(out)


MINIMA = "{minima: {air: {horizontal_m: 50, vertical_m: 15}}, lookahead_s: 0}"


def test_head_on_loss_of_separation_starts_and_ends_at_the_analytic_times():
    # Take-off 20 s (100 m at 5 m/s); then 3000 m apart closing at 30 m/s.
    sc = scenario([(500, 2000), (3500, 2000)], separation=MINIMA)
    run = Simulation(sc, policy=Script({0: [GoTo(3500, 2000)], 1: [GoTo(500, 2000)]})).run()
    start, end = 20 + (3000 - 50) / 30, 20 + (3000 + 50) / 30
    assert los(run) == [(round(start, 6), "los_start", 0, 1), (round(end, 6), "los_end", 0, 1)]
    m = compute_metrics(run)
    assert m["safety.los_count"] == 1
    assert math.isclose(m["safety.los_duration_s"], 100 / 30, rel_tol=1e-8)  # 9 digits
    assert m["safety.min_separation_m"] == 0.0 and m["safety.intrusion_severity_max"] == 1.0


def test_crossing_at_right_angles_reaches_the_analytic_closest_approach():
    """A flies east through (1500, 2000) at 120 s; B flies north through it 2 s later,
    both at 15 m/s: d_min = u v dt / sqrt(u^2 + v^2) = 15 sqrt(2) m."""
    sc = scenario([(0, 2000), (1500, 470)], separation=MINIMA)
    run = Simulation(sc, policy=Script({0: [GoTo(3000, 2000)], 1: [GoTo(1500, 3500)]})).run()
    end = run.events_of("los_end")
    assert len(end["time_s"]) == 1
    assert math.isclose(end["value"][0], 15 * 15 * 2 / math.hypot(15, 15), rel_tol=1e-9)


def test_a_leg_cut_before_the_loss_cancels_it():
    sc = scenario([(500, 2000), (3500, 2000)], separation=MINIMA)
    sim = Simulation(sc, policy=Script({0: [GoTo(3500, 2000)], 1: [GoTo(500, 2000)]}))

    def turn():
        yield sim.env.timeout(100.0)  # 1,200 m apart: vehicle 1 turns north
        sim.apply_plans(100.0, [Plan(1, [GoTo(2300, 3900)])])

    sim.env.process(turn())
    run = sim.run()
    assert los(run) == []


def test_same_height_different_layers_by_heading():
    sep = ("{minima: {air: {horizontal_m: 50, vertical_m: 15}}, lookahead_s: 0, "
           "layering: heading, layer_spacing_m: 40}")
    sc = scenario([(500, 2000), (3500, 2000)], separation=sep)
    run = Simulation(sc, policy=Script({0: [GoTo(3500, 2000)], 1: [GoTo(500, 2000)]})).run()
    legs = run.legs
    move = legs["kind"] == "move"
    z = {int(v): float(legs["z1_m"][move & (legs["vehicle"] == v)][0]) for v in (0, 1)}
    # Heading 90 deg (east): quadrant 1; 270 deg (west): quadrant 3.
    assert z == {0: 100.0 + 40.0, 1: 100.0 + 3 * 40.0}
    assert los(run) == []


def test_tactical_hold_gives_way_and_returns_to_its_route():
    sep = ("{minima: {air: {horizontal_m: 50, vertical_m: 15}}, lookahead_s: 60, "
           "tactical: hold}")
    sc = scenario([(500, 2000), (3500, 2000)], separation=sep)
    run = Simulation(sc, policy=Script({0: [GoTo(3500, 2000)], 1: [GoTo(500, 2000)]})).run()
    assert los(run) == []
    ev = run.events
    conflict = ev["kind"] == "conflict"
    assert ev["vehicle"][conflict].tolist() == [1] and ev["target"][conflict].tolist() == [0]
    dodge = run.events_of("deconflict")
    assert dodge["detail"].tolist() == ["hold"] and dodge["value"][0] > 0
    legs = run.legs
    mine = np.flatnonzero(legs["vehicle"] == 1)
    moves = mine[legs["kind"][mine] == "move"]
    # It ends its route where it was going, back at its cruise altitude.
    last = moves[-1]
    assert (legs["x1_m"][last], legs["y1_m"][last], legs["z1_m"][last]) == (500.0, 2000.0,
                                                                            100.0)
    m = compute_metrics(run)
    assert m["safety.conflicts_detected"] == 1 and m["safety.conflicts_resolved"] == 1
    assert m["safety.deconfliction_extra_m"] == pytest.approx(float(dodge["value"][0]))


def test_tactical_hold_lasts_until_the_other_has_gone_past_the_holding_point():
    """Head-on at 15 m/s each (the loss would start at 20 + 2950 / 30 = 118.33 s):
    vehicle 1 gives way at the first monitor pass within the 60 s lookahead, t = 60 s,
    where it is (x = 3500 - 15 x 40 = 2900). Vehicle 0's track passes over that point,
    so vehicle 1 climbs out of its band (2 x 15 + 5 = 35 m, 7 s at 5 m/s) and holds
    until vehicle 0 is last within 50 m of the point, at 20 + (2900 + 50 - 500) / 15 =
    183.33 s, plus one monitor window (10 s) -- not merely until vehicle 0 reaches it."""
    sep = ("{minima: {air: {horizontal_m: 50, vertical_m: 15}}, lookahead_s: 60, "
           "tactical: hold}")
    sc = scenario([(500, 2000), (3500, 2000)], separation=sep)
    run = Simulation(sc, policy=Script({0: [GoTo(3500, 2000)], 1: [GoTo(500, 2000)]})).run()
    assert los(run) == []
    dodge = run.events_of("deconflict")
    assert dodge["time_s"].tolist() == [60.0]
    assert (dodge["x_m"][0], dodge["y_m"][0], dodge["z_m"][0]) == (2900.0, 2000.0, 100.0)
    legs = run.legs
    mine = np.flatnonzero(legs["vehicle"] == 1)
    rows = [(str(legs["kind"][i]), round(float(legs["t0_s"][i]), 6),
             round(float(legs["t1_s"][i]), 6), float(legs["z1_m"][i])) for i in mine[1:4]]
    clear = 20.0 + (2900.0 + 50.0 - 500.0) / 15.0
    assert rows == [("move", 20.0, 60.0, 100.0), ("move", 60.0, 67.0, 135.0),
                    ("hold", 67.0, round(clear + 10.0 + 7.0, 6), 135.0)]


def traffic(n_per_base: int, seed: int):
    rng = np.random.default_rng(seed)
    bases = [(800, 800), (3200, 800), (800, 3200), (3200, 3200)]
    plans = {}
    for v in range(4 * n_per_base):
        pts = rng.uniform(300, 3700, size=(int(rng.integers(2, 4)), 2))
        plans[v] = [Route(pts), ReturnHome()]
    return bases, plans


def test_strategic_deconfliction_leaves_no_loss_of_separation_on_planned_traffic():
    """60 drones from four bases all want to take off at once on routes that cross:
    without deconfliction they lose separation; with every intent (take-off, route,
    way home, landing) reserved before take-off, none does."""
    bases, plans = traffic(15, seed=4)
    off = scenario(bases, separation=MINIMA, count=15, duration_s=3600)
    on = scenario(bases, count=15, duration_s=3600, separation=(
        "{minima: {air: {horizontal_m: 50, vertical_m: 15}}, lookahead_s: 0, "
        "strategic: {layer_spacing_m: 35, layers: 2, delay_step_s: 20, max_delay_s: 1200}}"))
    run_off = Simulation(off, policy=Script(plans)).run()
    run_on = Simulation(on, policy=Script(plans)).run()
    assert len(run_off.events_of("los_start")["time_s"]) > 5
    assert los(run_on) == []
    m = compute_metrics(run_on)
    assert m["safety.los_count"] == 0 and m["safety.strategic_delays"] > 0
    # Everyone still flew its route and came home.
    assert len(run_on.events_of("landed")["time_s"]) == 60


def test_the_monitor_records_every_loss_found_over_the_whole_run_at_once():
    """The engine checks window by window, with legs cut and added as the run goes; the
    same losses come out of one check of the finished run's legs as a single window."""
    from fleetsim.geometry import merge_intervals
    from fleetsim.separation import window_pairs

    bases, plans = traffic(15, seed=9)
    sc = scenario(bases, separation=MINIMA, count=15, duration_s=3600)
    run = Simulation(sc, policy=Script(plans)).run()
    legs = run.legs
    airborne = np.isin(legs["kind"], ["takeoff", "move", "hold", "return", "land", "unload"])
    p0 = np.column_stack([legs[f"{a}0_m"] for a in "xyz"])[airborne]
    p1 = np.column_stack([legs[f"{a}1_m"] for a in "xyz"])[airborne]
    veh = legs["vehicle"][airborne].astype(np.int64)
    out = window_pairs(legs["t0_s"][airborne], legs["t1_s"][airborne], p0, p1, veh, 50.0,
                       15.0, 0.0, 3600.0)
    key, start, end = merge_intervals(out["vehicle_a"] * 1000 + out["vehicle_b"],
                                      out["start"], out["end"])
    # Losses that begin in a base's terminal area (150 m) are not counted.
    t0, t1 = legs["t0_s"][airborne], legs["t1_s"][airborne]
    counted = []
    for k, st in zip(key.tolist(), start.tolist(), strict=True):
        a = k // 1000
        i = np.flatnonzero((veh == a) & (t0 <= st) & (st < t1))[0]
        f = (st - t0[i]) / (t1[i] - t0[i])
        x, y = p0[i, :2] + f * (p1[i, :2] - p0[i, :2])
        counted.append(min(math.hypot(x - bx, y - by) for bx, by in bases) >= 150.0)
    counted = np.array(counted)
    key, start, end = key[counted], start[counted], end[counted]
    expected = sorted([(round(float(s), 6), "los_start", int(k // 1000), int(k % 1000))
                       for k, s in zip(key, start, strict=True)]
                      + [(round(float(e), 6), "los_end", int(k // 1000), int(k % 1000))
                         for k, e in zip(key, end, strict=True)])
    assert len(key) > 5
    assert los(run) == expected


def test_losses_alone_are_checked_in_windows_of_a_minute_and_come_out_the_same():
    """Without look-ahead the check runs every minute unless ``window_s`` says otherwise
    (a leg is clipped and paired once per window it spans); the losses — pairs, starts,
    ends, least distances — are those of 10-s windows, to rounding in the last bits."""
    bases, plans = traffic(15, seed=9)
    runs = {}
    for label, sep in (("default", MINIMA), ("10 s", MINIMA[:-1] + ", window_s: 10}")):
        sim = Simulation(scenario(bases, separation=sep, count=15, duration_s=3600),
                         policy=Script(plans))
        runs[label] = sim.run()
        assert sim.separation.window_s == {"default": 60.0, "10 s": 10.0}[label]
        # (windows checked as the run goes; the last one as it finishes)
        assert sim.separation.windows == 3600 / sim.separation.window_s - 1
    got = {}
    for label, run in runs.items():
        ev = run.events
        m = np.isin(ev["kind"], ["los_start", "los_end"])
        rows = sorted(zip(ev["vehicle"][m].tolist(), ev["target"][m].tolist(),
                          ev["kind"][m].tolist(), ev["time_s"][m].tolist(),
                          np.nan_to_num(ev["value"][m], nan=-1.0).tolist(), strict=True))
        got[label] = rows
    assert len(got["default"]) > 10
    assert [r[:3] for r in got["default"]] == [r[:3] for r in got["10 s"]]
    np.testing.assert_allclose([r[3:] for r in got["default"]], [r[3:] for r in got["10 s"]],
                               rtol=0, atol=1e-9)


@pytest.mark.parametrize("sep, duration_s, window_s", [
    ("{lookahead_s: 0}", 900.0, 60.0),  # losses only: a minute
    ("{lookahead_s: 0}", 50.0, 10.0),  # ... unless the run is no longer
    ("{lookahead_s: 0, window_s: 5}", 900.0, 5.0),  # as set
    ("{lookahead_s: 30}", 900.0, 10.0),  # conflicts too: the monitor window
])
def test_the_checking_window_by_default(sep, duration_s, window_s):
    sc = scenario([(500, 2000)], separation=sep, duration_s=duration_s)
    assert Simulation(sc).separation.window_s == window_s


@pytest.mark.parametrize("sep, message", [
    ("{minima: {sea: {horizontal_m: 100}}}",
     "separation.minima: no minima for the fleet's domains (air): nothing would be checked"),
    ("{window_s: 5000}",
     "separation.window_s: the checking window (5000 s) is as long as the run (900 s)"),
    ("{strategic: {layers: 0, delay_step_s: 60, max_delay_s: 30}}",
     "separation.strategic.delay_step_s: with layers: 0 and delay_step_s (60) > max_delay_s "
     "(30), strategic deconfliction could never act"),
])
def test_separation_settings_that_would_check_nothing_are_errors(sep, message):
    from fleetsim.errors import ScenarioError

    with pytest.raises(ScenarioError, match=message.replace("(", r"\(").replace(")", r"\)")):
        scenario([(500, 2000)], separation=sep)


def test_losses_merged_a_few_pairs_at_a_time_give_the_same_record(monkeypatch):
    """A window's pieces merged in blocks of pairs (as when thousands of vehicles wait
    packed on their pads) give the events of one pass, in the same order."""
    from fleetsim.engine import separation as engine_separation
    from fleetsim.record import table_digest

    bases, plans = traffic(15, seed=9)
    sc = scenario(bases, separation=MINIMA, count=15, duration_s=3600)
    whole = Simulation(sc, policy=Script(plans)).run()
    monkeypatch.setattr(engine_separation, "_RECORD_PIECES", 3)
    blocks = Simulation(sc, policy=Script(plans)).run()
    assert len(los(whole)) > 10
    assert table_digest(blocks.events) == table_digest(whole.events)

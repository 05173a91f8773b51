"""Fixed-wing flight: loiter orbits instead of hovering (period 2 pi R / v), turns
at a route's waypoints at the minimum radius ((pi/2) R / v for 90 degrees), climb-out
and approach legs, from the type's bank-angle limit (30 degrees when it gives none:
``kind: fixed_wing`` alone flies as a fixed wing)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from fleetsim.engine import Simulation
from fleetsim.errors import ScenarioError
from fleetsim.policy import Hold, Plan, Policy, ReturnHome, Route
from fleetsim.scenario import load_scenario, load_scenario_text
from fleetsim.scenario.model import DEFAULT_BANK_ANGLE_DEG

V, CLIMB, AGL, BANK = 20.0, 4.0, 100.0, 30.0
R = V * V / (9.80665 * math.tan(math.radians(BANK)))
PC = 150.0 / 3600.0  # cruise power, Wh per s
HOME = (5000.0, 5000.0)

SCENARIO = """
schema_version: 1
name: wing
run: {{duration_s: {duration}, seed: 1}}
world:
  terrain: {{source: flat, size_m: [10000, 10000], spacing_m: 100}}
  sites: [{{id: home, kind: base, position: [5000, 5000], pads: 1}}]
fleet:
  types:
    - id: wing
      kind: fixed_wing
      count: 1
      base: home
      cruise_speed_mps: 20
      climb_rate_mps: 4
      cruise_altitude_agl_m: 100
      battery_wh: {battery}
      hover_power_w: 170
      cruise_power_w: 150
      recharge_time_s: 100
      {bank}
      sensor: {{footprint_radius_m: 50}}
policy: {{name: scripted}}
"""


class Scripted(Policy):
    name = "scripted"

    def __init__(self, actions):
        self.actions = actions

    def decide(self, now_s, fleet, requests):
        return [Plan(0, list(self.actions)) for r in requests if r.reason == "start"]


def run(actions, *, bank=f"bank_angle_deg: {BANK}", battery=1e6, duration=20_000):
    sc = load_scenario_text(SCENARIO.format(duration=duration, battery=battery, bank=bank))
    rec = Simulation(sc, policy=Scripted(actions)).run()
    return rec.legs, rec.events


def rows(legs, kind):
    k = (legs["kind"] == kind) & (legs["t1_s"] >= legs["t0_s"])
    return {c: legs[c][k] for c in legs}


def test_climbing_orbit_and_approach_legs():
    out = (HOME[0] + 2000.0, HOME[1])
    legs, events = run([Route(np.array([out])), ReturnHome()], duration=1000)
    up = rows(legs, "takeoff")
    glide = V * AGL / CLIMB  # along the ground while descending
    # The climb is an orbit over the base: one leg straight up in the climb's time at
    # cruise power, and a loiter event with the orbit's centre (east) and radius.
    assert (up["t1_s"] - up["t0_s"]).tolist() == [AGL / CLIMB]
    assert (up["x1_m"].tolist(), up["y1_m"].tolist()) == ([HOME[0]], [HOME[1]])
    assert up["z1_m"].tolist() == [AGL]
    assert up["energy_wh"].tolist() == pytest.approx([PC * AGL / CLIMB])  # cruise power
    lo = events["kind"] == "loiter"
    assert events["time_s"][lo][0] == 0.0
    assert (events["x_m"][lo][0], events["y_m"][lo][0]) == pytest.approx((HOME[0] + R, HOME[1]))
    assert events["value"][lo][0] == pytest.approx(R)
    # The route starts over the base, where the policy planned it from.
    m = rows(legs, "move")
    assert (m["x0_m"][0], m["y0_m"][0]) == HOME
    ret = rows(legs, "return")
    assert ret["x1_m"][-1] - HOME[0] == pytest.approx(glide)  # the approach starts here
    down = rows(legs, "land")
    assert (down["x1_m"].tolist(), down["y1_m"].tolist(), down["z1_m"].tolist()) == \
        ([HOME[0]], [HOME[1]], [0.0])
    assert (down["t1_s"] - down["t0_s"]).tolist() == pytest.approx([AGL / CLIMB])
    assert down["energy_wh"].tolist() == pytest.approx([PC * AGL / CLIMB])


def test_loiter_period_and_cruise_power():
    hold_s = 2.5 * 2 * math.pi * R / V
    legs, events = run([Hold(hold_s), ReturnHome()], duration=3000)
    h = rows(legs, "hold")
    dur = h["t1_s"] - h["t0_s"]
    period = 2 * math.pi * R / V
    events = {c: col[events["time_s"] > 0] for c, col in events.items()}  # after the climb
    assert dur[:8].sum() == pytest.approx(period, rel=1e-12)  # one orbit: 8 chords
    assert dur[8:16].sum() == pytest.approx(period, rel=1e-12)
    assert dur.sum() == pytest.approx(hold_s, rel=1e-12)
    assert len(dur) == 8 + 8 + 4  # and half an orbit
    assert h["energy_wh"].sum() == pytest.approx(PC * hold_s, rel=1e-12)
    # After each full orbit it is back where it began; the orbit's radius is R.
    start = (h["x0_m"][0], h["y0_m"][0])
    assert (h["x1_m"][7], h["y1_m"][7]) == pytest.approx(start)
    lo = events["kind"] == "loiter"
    cx, cy = events["x_m"][lo][0], events["y_m"][lo][0]
    assert events["value"][lo].tolist() == pytest.approx([R])
    assert np.hypot(h["x1_m"][:8] - cx, h["y1_m"][:8] - cy) == pytest.approx(np.full(8, R))


def test_a_90_degree_turn_takes_half_pi_r_over_v():
    a = (HOME[0] + 2000.0, HOME[1])
    b = (HOME[0] + 2000.0, HOME[1] + 2000.0)
    start_x = HOME[0]  # the climbing orbit ends over the base
    legs, _ = run([Route(np.array([a, b]))], duration=600)
    m = rows(legs, "move")
    dur = (m["t1_s"] - m["t0_s"])[:2]
    assert dur[0] == pytest.approx((a[0] - start_x) / V, rel=1e-12)
    assert dur[1] - 2000.0 / V == pytest.approx(math.pi / 2 * R / V, rel=1e-9)


def test_without_a_bank_angle_it_loiters_at_the_default_30_degrees():
    assert BANK == DEFAULT_BANK_ANGLE_DEG  # so R is the default's radius
    hold_s = 2 * math.pi * R / V
    legs, events = run([Hold(hold_s), ReturnHome()], bank="", duration=600)
    lo = (events["kind"] == "loiter") & (events["time_s"] > 0)  # after the climb
    assert events["value"][lo].tolist() == pytest.approx([R])
    h = rows(legs, "hold")
    assert (h["t1_s"] - h["t0_s"])[:8].sum() == pytest.approx(hold_s, rel=1e-12)
    assert not ((h["x0_m"] == h["x1_m"]) & (h["y0_m"] == h["y1_m"])).any()  # no hover


def test_waiting_for_work_it_loiters_until_the_reserve_then_goes_home():
    legs, events = run([Route(np.array([(HOME[0] + 1000.0, HOME[1])]))], battery=40.0,
                       duration=3000)
    kinds = events["kind"].tolist()
    assert kinds.index("loiter") < kinds.index("reserve_reached") < kinds.index("landed")
    h = rows(legs, "hold")
    assert (h["energy_wh"] / np.maximum(h["t1_s"] - h["t0_s"], 1e-12))[:8] == \
        pytest.approx(np.full(8, PC))


def test_bank_angle_is_for_fixed_wings_only():
    text = SCENARIO.format(duration=100, battery=100, bank=f"bank_angle_deg: {BANK}") \
        .replace("kind: fixed_wing", "kind: multirotor")
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text)
    assert str(info.value).endswith(
        "fleet.types[0].bank_angle_deg: bank_angle_deg applies to fixed_wing vehicles "
        "only, but 'wing' is a multirotor")


def test_a_multirotor_scenario_switched_to_fixed_wing_runs():
    path = Path(__file__).resolve().parents[2] / "scenarios" / "search_and_rescue.yaml"
    sc = load_scenario(path, ["fleet.types[0].kind=fixed_wing", "run.duration_s=900"])
    rec = Simulation(sc).run()
    # It flies as a fixed wing with the default bank angle: each turn at its route's
    # waypoints takes R / v per radian more than the multirotor's (same waypoints).
    mr = Simulation(load_scenario(path, ["run.duration_s=900"])).run().legs
    v = sc.vehicle_types[0].cruise_speed_mps
    r30 = v * v / (9.80665 * math.tan(math.radians(30.0)))

    def moves(legs):
        k = (legs["vehicle"] == 0) & (legs["kind"] == "move")
        return {c: legs[c][k][:12] for c in ("t0_s", "t1_s", "x0_m", "y0_m", "x1_m", "y1_m")}

    fw, m = moves(rec.legs), moves(mr)
    assert fw["x1_m"].tolist() == m["x1_m"].tolist()
    assert fw["y1_m"].tolist() == m["y1_m"].tolist()
    dx, dy = fw["x1_m"] - fw["x0_m"], fw["y1_m"] - fw["y0_m"]
    turn = np.abs(np.arctan2(dx[:-1] * dy[1:] - dy[:-1] * dx[1:],
                             dx[:-1] * dx[1:] + dy[:-1] * dy[1:]))
    assert turn.max() > 0.1
    extra = (fw["t1_s"] - fw["t0_s"])[1:] - (m["t1_s"] - m["t0_s"])[1:]
    assert extra == pytest.approx(turn * r30 / v, abs=1e-9)
    kinds = set(rec.events["kind"].tolist())
    assert "takeoff" in kinds
    assert rec.legs["kind"].tolist().count("takeoff") >= 1
    # Every take-off is a climbing orbit: a loiter event of the default radius each.
    ev = rec.events
    orbits = {(t, v, x, y): r for k, t, v, x, y, r in zip(
        ev["kind"], ev["time_s"], ev["vehicle"], ev["x_m"], ev["y_m"], ev["value"],
        strict=True) if k == "loiter"}
    ups = [(t, v, x, y) for k, t, v, x, y in zip(
        ev["kind"], ev["time_s"], ev["vehicle"], ev["x_m"], ev["y_m"], strict=True)
        if k == "takeoff"]
    assert ups and all(orbits[(t, v, x + r30, y)] == pytest.approx(r30)
                       for t, v, x, y in ups)


def test_waiting_for_an_approval_it_orbits_at_cruise_power():
    """A gate's wait (an approval of 50 s) is a hold where it is, at cruise power, and a
    loiter event: the orbit it flies there."""
    text = SCENARIO.format(duration=1000, battery=1e6, bank="") + (
        "oversight: {operators: 1, rules: {transit: {rule: approve, service: 50}}}\n")
    out = (HOME[0] + 2000.0, HOME[1])
    rec = Simulation(load_scenario_text(text),
                     policy=Scripted([Hold(30.0), Route(np.array([out])), ReturnHome()])).run()
    ev, legs = rec.events, rec.legs
    granted = ev["kind"] == "auth_granted"
    assert ev["value"][granted].tolist() == pytest.approx([50.0])
    t_ask = ev["time_s"][ev["kind"] == "auth_request"][0]
    lo = (ev["kind"] == "loiter") & (ev["time_s"] == t_ask)
    assert lo.sum() == 1 and ev["value"][lo][0] == pytest.approx(R)
    wait = (legs["kind"] == "hold") & (legs["t0_s"] == t_ask)
    assert (legs["t1_s"] - legs["t0_s"])[wait].tolist() == pytest.approx([50.0])
    assert legs["energy_wh"][wait].tolist() == pytest.approx([PC * 50.0])

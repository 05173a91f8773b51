"""Wind: air legs fly the wind triangle (closed-form oracles), the energy reserve
uses the wind-affected way home (against a brute-force search), legs the wind does
not allow are refused, and the scenario's wind is validated."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fleetsim.engine import Simulation
from fleetsim.engine.wind import WindMotion, ground_speed, wind_vector
from fleetsim.errors import ScenarioError
from fleetsim.policy import GoTo, Plan, Policy, ReturnHome
from fleetsim.scenario import load_scenario_text

V = 10.0  # airspeed (m/s)
W = 4.0  # wind (m/s)
D = 3000.0  # leg length (m)

SCENARIO = """
schema_version: 1
name: windy
run: {{duration_s: {duration}, seed: 3, monitor_window_s: 10}}
world:
  terrain: {{source: flat, size_m: [20000, 20000], spacing_m: 100}}
  wind: {wind}
  sites:
    - {{id: home, kind: base, position: [10000, 10000], pads: 2}}
fleet:
  types:
    - id: quad
      kind: multirotor
      count: 1
      base: home
      cruise_speed_mps: 10
      climb_rate_mps: 5
      cruise_altitude_agl_m: 50
      battery_wh: {battery}
      hover_power_w: 720
      cruise_power_w: 360
      reserve_fraction: 0.2
      recharge_time_s: 1000
      sensor: {{footprint_radius_m: 30}}
policy: {{name: out_and_back}}
"""


class OutAndBack(Policy):
    """Vehicle 0 goes to each point in turn, then home."""

    name = "out_and_back"

    def __init__(self, points):
        self.points = points

    def decide(self, now_s, fleet, requests):
        return [Plan(0, [*(GoTo(x, y) for x, y in self.points), ReturnHome()])
                for r in requests if r.reason == "start"]


def scenario(wind: str, *, battery: float = 1e6, duration: float = 20_000):
    return load_scenario_text(SCENARIO.format(wind=wind, battery=battery, duration=duration))


def run(wind: str, points, **kw):
    rec = Simulation(scenario(wind, **kw), policy=OutAndBack(points)).run()
    return rec.legs, rec.events


def flown(legs, kind):
    keep = (legs["kind"] == kind) & (legs["t1_s"] > legs["t0_s"])
    return legs["t1_s"][keep] - legs["t0_s"][keep], legs["energy_wh"][keep]


HOME = (10_000.0, 10_000.0)
WEST_WIND = f"{{speed_mps: {W}, from_deg: 270}}"  # blows towards +x (east)


def test_wind_vector_is_meteorological():
    assert wind_vector(4.0, 270.0) == pytest.approx((4.0, 0.0))  # from the west: to +x
    assert wind_vector(4.0, 0.0) == pytest.approx((0.0, -4.0))  # from the north: to -y
    assert wind_vector(4.0, 90.0) == pytest.approx((-4.0, 0.0))


def test_tail_head_and_round_trip_times_and_energy():
    legs, _ = run(WEST_WIND, [(HOME[0] + D, HOME[1])])
    out, e_out = flown(legs, "move")
    back, e_back = flown(legs, "return")
    assert out.tolist() == pytest.approx([D / (V + W)], rel=1e-12)  # tail wind
    assert back.tolist() == pytest.approx([D / (V - W)], rel=1e-12)  # head wind
    assert out[0] + back[0] == pytest.approx(2 * D * V / (V * V - W * W), rel=1e-12)
    # Energy is power at the airspeed (cruise power) times the time flown.
    assert e_out[0] == pytest.approx(360 / 3600 * D / (V + W), rel=1e-12)
    assert e_back[0] == pytest.approx(360 / 3600 * D / (V - W), rel=1e-12)


def test_cross_wind_time():
    legs, _ = run(WEST_WIND, [(HOME[0], HOME[1] + D)])
    out, _ = flown(legs, "move")
    back, _ = flown(legs, "return")
    assert out.tolist() == pytest.approx([D / math.sqrt(V * V - W * W)], rel=1e-12)
    assert back.tolist() == pytest.approx([D / math.sqrt(V * V - W * W)], rel=1e-12)


def test_power_law_profile_scales_the_wind_at_cruise_height():
    # 50 m above ground with the speed given at 10 m: w = 2 * 5 ** 0.5.
    w = 2.0 * 5.0 ** 0.5
    legs, _ = run("{speed_mps: 2, from_deg: 90, profile: {ref_height_m: 10, exponent: 0.5}}",
                  [(HOME[0] + D, HOME[1])])
    out, _ = flown(legs, "move")  # east into an east wind
    assert out.tolist() == pytest.approx([D / (V - w)], rel=1e-12)


def test_changes_in_time_apply_from_the_start_of_each_leg():
    # Calm until 200 s, then the west wind: the first leg (take-off ends at 10 s)
    # is flown in still air, the second (from 310 s) with a tail wind.
    legs, _ = run(f"{{speed_mps: 0, from_deg: 0, changes: [{{t_s: 200, speed_mps: {W}, "
                  "from_deg: 270}]}",
                  [(HOME[0] + D, HOME[1]), (HOME[0] + 2 * D, HOME[1])])
    out, _ = flown(legs, "move")
    assert out.tolist() == pytest.approx([D / V, D / (V + W)], rel=1e-12)


def brute_reserve(motion: WindMotion, v, power, ux, uy, horizon, z_end, b0, x0, y0, z0,
                  hx, hy, n=400_001):
    """First time on a fine grid where the battery no longer covers the reserve, the
    landing and the way home in the wind, the time home found independently (the
    positive root of c**2 (a**2 - w**2) + 2 c q.W - |q|**2 = 0)."""
    a = motion.speed[v]
    wx, wy = motion.wind_at(v, motion.env.now)
    t = np.linspace(0.0, horizon, n)
    qx, qy = hx - (x0 + ux * t), hy - (y0 + uy * t)
    qa = a * a - (wx * wx + wy * wy)
    qb = 2.0 * (qx * wx + qy * wy)
    qq = qx * qx + qy * qy
    home_t = (-qb + np.sqrt(qb * qb + 4.0 * qa * qq)) / (2.0 * qa)
    top = max(z0, z_end, motion.home_z[v] + motion.agl[v])
    land = motion.p_hover[v] * (top - motion.home_z[v]) / motion.climb[v]
    left = b0 - power * t - motion.reserve[v] - land - motion.p_cruise[v] * home_t
    below = np.flatnonzero(left <= 0.0)
    return (t[below[0]] if len(below) else math.inf), horizon / (n - 1)


def test_reserve_point_matches_a_brute_force_search_along_the_leg():
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(40):
        speed = float(rng.uniform(0.0, 9.0))
        sim = Simulation(scenario(f"{{speed_mps: {speed}, from_deg: {rng.uniform(0, 360)}}}"),
                         policy=OutAndBack([]))
        m = sim.motion
        assert isinstance(m, WindMotion)
        hx, hy = HOME
        x0, y0 = hx + rng.uniform(-3000, 3000), hy + rng.uniform(-3000, 3000)
        heading = rng.uniform(0, 2 * math.pi)
        g = float(rng.uniform(4.0, 16.0))
        ux, uy = g * math.cos(heading), g * math.sin(heading)
        horizon = 3000.0
        z = 50.0
        # A battery of 1e6 Wh: reserve 2e5 Wh; b0 above it by what a few km cost.
        b0 = 2e5 + float(rng.uniform(5.0, 80.0))
        got = m.reserve_time(0, 0.1, ux, uy, horizon, z, b0, x0, y0, z, hx, hy)
        want, step = brute_reserve(m, 0, 0.1, ux, uy, horizon, z, b0, x0, y0, z, hx, hy)
        if math.isinf(want):
            assert math.isinf(got) or got >= horizon - step
        else:
            assert got == pytest.approx(want, abs=step + 1e-9)
            checked += 1
    assert checked >= 10  # most draws do reach the reserve on the leg


def test_reserve_reached_upwind_gets_home_with_exactly_the_reserve():
    # 300 Wh, 20 % reserve: flying far into a head wind, it turns back where the
    # battery left pays for the way home downwind and the landing, and lands with
    # its reserve.
    legs, events = run(f"{{speed_mps: {W}, from_deg: 90}}", [(HOME[0] + 15_000, HOME[1])],
                       battery=300)
    kinds = events["kind"].tolist()
    assert "reserve_reached" in kinds
    land = legs["kind"] == "land"
    assert legs["battery_end_wh"][land][-1] == pytest.approx(60.0, abs=1e-6)
    # The way back was downwind: its time is the distance over v + w.
    ret = legs["kind"] == "return"
    dist = abs(legs["x1_m"][ret] - legs["x0_m"][ret]).sum()
    assert (legs["t1_s"][ret] - legs["t0_s"][ret]).sum() == pytest.approx(dist / (V + W))


def test_a_leg_against_a_wind_above_airspeed_is_refused_and_held_until_it_drops():
    # 4 m/s from the west; at 200 s, 12 m/s (above the airspeed); at 1000 s, 4 again.
    # Out east (tail wind, 14 m/s, started in the 4 m/s wind): arrives at 10 + D/14.
    # Home is then refused: it is at its reserve point (the way home is impossible),
    # so it goes home under engine control, is refused again and holds until the wind
    # drops, then flies home into it and lands.
    legs, events = run("{speed_mps: 4, from_deg: 270, changes: "
                       "[{t_s: 200, speed_mps: 12, from_deg: 270}, "
                       "{t_s: 1000, speed_mps: 4, from_deg: 270}]}",
                       [(HOME[0] + D, HOME[1])])
    there = 10.0 + D / (V + W)
    seq = [(k, t) for k, t in zip(events["kind"], events["time_s"], strict=True)
           if k not in ("run_start", "plan", "run_end", "charge_start", "charge_end")]
    assert [k for k, _ in seq] == ["takeoff", "arrive", "return_start", "leg_refused",
                                   "reserve_reached", "return_start", "leg_refused",
                                   "landed"]
    assert [t for _, t in seq] == pytest.approx([0.0, there, there, there, there, there,
                                                 there, 1000.0 + D / (V - W) + 10.0])
    ref = events["kind"] == "leg_refused"
    assert events["value"][ref].tolist() == [1000.0, 1000.0]
    assert events["detail"][ref].tolist() == ["wind", "wind"]
    assert events["x_m"][ref].tolist() == [HOME[0]] * 2
    hold = (legs["kind"] == "hold") & (legs["t1_s"] > legs["t0_s"])
    assert legs["t0_s"][hold].tolist() == pytest.approx([there])
    assert legs["t1_s"][hold].tolist() == [1000.0]
    back, _ = flown(legs, "return")
    assert back.tolist() == pytest.approx([D / (V - W)])


def test_refused_for_good_it_holds_until_the_battery_is_empty():
    _, events = run("{speed_mps: 4, from_deg: 270, changes: "
                    "[{t_s: 200, speed_mps: 12, from_deg: 270}]}", [(HOME[0] + D, HOME[1])],
                    battery=300)
    kinds = events["kind"].tolist()
    assert kinds.count("leg_refused") >= 1
    assert "battery_depleted" in kinds and "landed" not in kinds


def test_no_flying_out_where_the_wind_would_not_let_it_back():
    # A wind above the airspeed from the start: downwind the way home is impossible,
    # so the reserve point is where it stands and it never leaves.
    _, events = run("{speed_mps: 12, from_deg: 270}", [(HOME[0] + D, HOME[1])])
    r = events["kind"] == "reserve_reached"
    assert events["time_s"][r].tolist() == [10.0]


def test_ground_speed_is_zero_when_the_track_cannot_be_held():
    assert ground_speed(10.0, 0.0, 11.0, 1.0, 0.0) == 0.0  # cross wind above airspeed
    assert ground_speed(10.0, -10.0, 0.0, 1.0, 0.0) == 0.0  # head wind equal to it
    assert ground_speed(10.0, 3.0, 4.0, 0.6, 0.8) == pytest.approx(15.0)


@pytest.mark.parametrize("wind, message", [
    ("{speed_mps: 4, from_deg: 360}",
     "world.wind.from_deg: expected a number >= 0 and < 360, got 360"),
    ("{speed_mps: -1, from_deg: 0}",
     "world.wind.speed_mps: expected a number >= 0 and <= 1000, got -1"),
    ("{from_deg: 0}", "world.wind: missing required key 'speed_mps' (a uniform wind needs "
                      "speed_mps and from_deg; a gridded one, grid)"),
    ("{speed_mps: 4, grid: {path: w.npy, spacing_m: 100}}",
     "world.wind.speed_mps: speed_mps does not apply with a gridded wind (the grid's slices "
     "give its speed, direction and changes); give grid or speed_mps and from_deg"),
    ("{speed_mps: 4, from_deg: 0, changes: [{t_s: 50, speed_mps: 1, from_deg: 0}, "
     "{t_s: 50, speed_mps: 2, from_deg: 0}]}",
     "world.wind.changes[1].t_s: wind changes must come in strictly increasing time: "
     "t_s 50 is not after 50"),
    ("{speed_mps: 4, from_deg: 0, profile: {exponent: 2}}",
     "world.wind.profile.exponent: expected a number >= 0 and <= 1, got 2"),
])
def test_bad_wind_is_a_clear_error(wind, message):
    with pytest.raises(ScenarioError) as info:
        scenario(wind)
    assert str(info.value).endswith(message)
    assert "<scenario>:7:" in str(info.value)


def test_still_air_scenarios_keep_their_source():
    assert "wind" not in scenario("null").source["world"]
    assert scenario(WEST_WIND).source["world"]["wind"] == {
        "speed_mps": 4.0, "from_deg": 270.0, "changes": [],
        "profile": {"ref_height_m": 10.0, "exponent": 0.0}}

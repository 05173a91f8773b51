"""Golden scenarios: tiny missions on flat terrain with exact event sequences and times.

Every expected time is derived by hand from the vehicle's parameters, which are
the same in every test here unless a test says otherwise:

    cruise 10 m/s, climb 5 m/s, cruise altitude 50 m AGL
    battery C = 100 Wh, reserve R = 0.2 C = 20 Wh, recharge 1000 s from empty
    hover 720 W = 0.2 Wh/s (takeoff, landing, hold), cruise 360 W = 0.1 Wh/s

so a takeoff or a landing lasts 50 / 5 = 10 s and draws 2 Wh, and cruising
draws 0.01 Wh per metre. Times are compared rounded to the microsecond (the
engine computes some of them through a quadratic, exact up to rounding).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from fleetsim.checker import CHECK_SCENARIO
from fleetsim.engine import Simulation
from fleetsim.policy import (
    BUILTIN_POLICIES,
    LOGISTICS_POLICIES,
    GoTo,
    Hold,
    Plan,
    Policy,
    ReturnHome,
    Route,
)
from fleetsim.scenario import load_scenario_text

SPEED, CLIMB, AGL = 10.0, 5.0, 50.0
CAPACITY, RESERVE, RECHARGE_S = 100.0, 20.0, 1000.0
P_HOVER, P_CRUISE = 720.0 / 3600.0, 360.0 / 3600.0  # Wh per second
T_VERTICAL = AGL / CLIMB  # 10 s to take off or land
E_VERTICAL = P_HOVER * T_VERTICAL  # 2 Wh
HOME = (100.0, 100.0)


def scenario(
    *,
    count: int = 1,
    pads: int = 1,
    duration_s: float = 3000.0,
    targets: list | None = None,
    size_m: tuple = (6000, 2000),
):
    """A flat world with one base at HOME and ``count`` identical quadrotors."""
    mission = ""
    if targets is not None:
        mission = f"""
missions:
  - id: m
    kind: search
    area: {{rect: [0, 0, {size_m[0]}, {size_m[1]}]}}
    targets: {[list(map(float, t)) for t in targets]}
"""
    text = f"""
schema_version: 1
name: golden
run: {{duration_s: {duration_s}, seed: 1, monitor_window_s: 10}}
world:
  terrain: {{source: flat, size_m: [{size_m[0]}, {size_m[1]}], spacing_m: 50}}
  sites:
    - {{id: home, kind: base, position: [{HOME[0]}, {HOME[1]}], pads: {pads}}}
fleet:
  types:
    - id: quad
      kind: multirotor
      count: {count}
      base: home
      cruise_speed_mps: {SPEED}
      climb_rate_mps: {CLIMB}
      cruise_altitude_agl_m: {AGL}
      battery_wh: {CAPACITY}
      hover_power_w: 720
      cruise_power_w: 360
      reserve_fraction: 0.2
      recharge_time_s: {RECHARGE_S}
      terrain_clearance_m: 0
      sensor: {{footprint_radius_m: 30}}
{mission}
policy: {{name: scripted}}
"""
    return load_scenario_text(text, filename="<golden>")


class Scripted(Policy):
    """Gives each vehicle its scripted actions on 'start'; records every decide call."""

    name = "scripted"

    def __init__(self, script: dict, period_s: float | None = None, on_periodic=None):
        self.script = script
        self.decision_period_s = period_s
        self.on_periodic = on_periodic or {}
        self.calls: list[tuple[float, list[tuple[int, str]]]] = []

    def decide(self, now_s, fleet, requests):
        self.calls.append((round(now_s, 6), [(r.vehicle, r.reason) for r in requests]))
        plans = []
        for r in requests:
            if r.reason == "start" and r.vehicle in self.script:
                plans.append(Plan(r.vehicle, self.script[r.vehicle]))
            if r.reason == "periodic" and (now_s, r.vehicle) in self.on_periodic:
                plans.append(Plan(r.vehicle, self.on_periodic[(now_s, r.vehicle)]))
        return plans


def log_of(run, skip=("run_start", "run_end")) -> list[tuple[float, str, int]]:
    ev = run.events
    return [
        (round(float(t), 6), str(k), int(v))
        for t, k, v in zip(ev["time_s"], ev["kind"], ev["vehicle"], strict=True)
        if k not in skip
    ]


def legs_of(run, vehicle: int) -> list[tuple]:
    legs = run.legs
    out = []
    for i in np.flatnonzero(legs["vehicle"] == vehicle):
        out.append(
            (
                str(legs["kind"][i]),
                round(float(legs["t0_s"][i]), 6),
                round(float(legs["t1_s"][i]), 6),
                round(float(legs["energy_wh"][i]), 6),
                round(float(legs["battery_end_wh"][i]), 6),
            )
        )
    return out


# --------------------------------------------------------------------------- one vehicle


def test_goto_hold_return_home_exact_events_legs_and_requests():
    # Out 1000 m east, hold 50 s, come home, recharge.
    policy = Scripted({0: [GoTo(1100.0, 100.0), Hold(50.0), ReturnHome()]})
    run = Simulation(scenario(), policy=policy).run()
    t_arrive = T_VERTICAL + 1000.0 / SPEED  # 110
    t_return = t_arrive + 50.0  # 160
    t_home = t_return + 1000.0 / SPEED  # 260
    t_landed = t_home + T_VERTICAL  # 270
    battery_landed = CAPACITY - 2 * E_VERTICAL - 2 * 1000 * P_CRUISE / SPEED - 50 * P_HOVER  # 66
    t_charged = t_landed + RECHARGE_S * (CAPACITY - battery_landed) / CAPACITY  # 610
    assert (t_arrive, t_return, t_landed, battery_landed, t_charged) == (110, 160, 270, 66, 610)
    assert log_of(run) == [
        (0.0, "plan", 0),
        (0.0, "takeoff", 0),
        (110.0, "arrive", 0),
        (160.0, "return_start", 0),
        (270.0, "landed", 0),
        (270.0, "charge_start", 0),
        (610.0, "charge_end", 0),
    ]
    assert legs_of(run, 0) == [
        ("takeoff", 0.0, 10.0, 2.0, 98.0),
        ("move", 10.0, 110.0, 10.0, 88.0),
        ("hold", 110.0, 160.0, 10.0, 78.0),
        ("return", 160.0, 260.0, 10.0, 68.0),
        ("land", 260.0, 270.0, 2.0, 66.0),
        ("charge", 270.0, 610.0, 0.0, 100.0),
        ("ground", 610.0, 3000.0, 0.0, 100.0),
    ]
    ev = run.events
    assert ev["value"][ev["kind"] == "return_start"].tolist() == [1000.0]  # distance home
    assert ev["value"][ev["kind"] == "charge_start"].tolist() == [66.0]
    # The policy hears 'start' at 0 and 'recharged' when the charge ends, nothing else.
    assert policy.calls == [(0.0, [(0, "start")]), (610.0, [(0, "recharged")])]


def test_reserve_on_a_straight_outbound_leg_has_the_closed_form_time():
    """Flying straight away from home at v, battery b1 - p t must cover R + L + k v t
    (k v = p: cruising home costs what cruising out did), so the engine turns back at
    tau = (b1 - R - L) / (2 p) into the leg, and lands with exactly the reserve."""
    policy = Scripted({0: [GoTo(5900.0, 100.0)]})  # 5800 m: far beyond the battery
    run = Simulation(scenario(), policy=policy).run()
    b1 = CAPACITY - E_VERTICAL  # 98 Wh when the leg starts
    tau = (b1 - RESERVE - E_VERTICAL) / (2 * P_CRUISE)  # (98 - 20 - 2) / 0.2 = 380 s
    t_reserve = T_VERTICAL + tau  # 390
    distance = SPEED * tau  # 3800 m out
    t_landed = t_reserve + distance / SPEED + T_VERTICAL  # 780
    t_charged = t_landed + RECHARGE_S * (CAPACITY - RESERVE) / CAPACITY  # 1580
    assert (t_reserve, distance, t_landed, t_charged) == (390.0, 3800.0, 780.0, 1580.0)
    assert log_of(run) == [
        (0.0, "plan", 0),
        (0.0, "takeoff", 0),
        (390.0, "reserve_reached", 0),
        (390.0, "return_start", 0),
        (780.0, "landed", 0),
        (780.0, "charge_start", 0),
        (1580.0, "charge_end", 0),
    ]
    ev = run.events
    at = {
        k: ev["value"][ev["kind"] == k].tolist()
        for k in ("reserve_reached", "return_start", "charge_start")
    }
    assert at["reserve_reached"] == pytest.approx([b1 - P_CRUISE * tau])  # 60 Wh
    assert at["return_start"] == pytest.approx([distance])
    assert at["charge_start"] == pytest.approx([RESERVE])  # home with exactly the reserve
    legs = run.legs
    move = np.flatnonzero(legs["kind"] == "move")
    assert len(move) == 1
    assert legs["x1_m"][move[0]] == pytest.approx(HOME[0] + distance)
    assert legs["t1_s"][move[0]] == pytest.approx(t_reserve)
    # 'reserve' is for information at the turn; 'recharged' once full again.
    assert policy.calls == [
        (0.0, [(0, "start")]),
        (390.0, [(0, "reserve")]),
        (1580.0, [(0, "recharged")]),
    ]


def test_hold_without_duration_hovers_until_the_reserve():
    """Hovering 500 m from home, the vehicle needs R + L + k * 500 = 27 Wh to get home;
    it arrives with 98 - 5 = 93 Wh and hovers at 0.2 Wh/s: (93 - 27) / 0.2 = 330 s."""
    policy = Scripted({0: [GoTo(600.0, 100.0), Hold(None)]})
    run = Simulation(scenario(), policy=policy).run()
    t_arrive = T_VERTICAL + 500.0 / SPEED  # 60
    need = RESERVE + E_VERTICAL + 500.0 * P_CRUISE / SPEED  # 27
    t_reserve = t_arrive + (CAPACITY - E_VERTICAL - 5.0 - need) / P_HOVER  # 390
    t_landed = t_reserve + 500.0 / SPEED + T_VERTICAL  # 450
    t_charged = t_landed + RECHARGE_S * (CAPACITY - RESERVE) / CAPACITY  # 1250
    assert (t_reserve, t_landed, t_charged) == pytest.approx((390.0, 450.0, 1250.0))
    assert log_of(run) == [
        (0.0, "plan", 0),
        (0.0, "takeoff", 0),
        (60.0, "arrive", 0),
        (390.0, "reserve_reached", 0),
        (390.0, "return_start", 0),
        (450.0, "landed", 0),
        (450.0, "charge_start", 0),
        (1250.0, "charge_end", 0),
    ]
    hold = [leg for leg in legs_of(run, 0) if leg[0] == "hold"]
    assert hold == [("hold", 60.0, 390.0, 66.0, 27.0)]


def test_hold_without_duration_over_the_base_hovers_until_the_reserve():
    """Right above home the way back costs only the landing: (98 - 20 - 2) / 0.2 = 380 s
    of hovering after the 10 s takeoff."""
    run = Simulation(scenario(duration_s=1000.0), policy=Scripted({0: [Hold(None)]})).run()
    assert log_of(run) == [
        (0.0, "plan", 0),
        (0.0, "takeoff", 0),
        (390.0, "reserve_reached", 0),
        (390.0, "return_start", 0),
        (400.0, "landed", 0),
        (400.0, "charge_start", 0),
    ]
    assert legs_of(run, 0)[1] == ("hold", 10.0, 390.0, 76.0, 22.0)


def test_second_vehicle_waits_for_the_only_pad_until_the_first_is_charged():
    # Vehicle 0: 400 m out and back; vehicle 1: 800 m out and back; one pad.
    policy = Scripted(
        {0: [GoTo(500.0, 100.0), ReturnHome()], 1: [GoTo(900.0, 100.0), ReturnHome()]}
    )
    run = Simulation(scenario(count=2), policy=policy).run()
    # v0: out 40 s, back 40 s, lands at 100 with 100 - 4 - 8 = 88 Wh; charges 120 s.
    # v1: out 80 s, back 80 s, lands at 180 with 100 - 4 - 16 = 80 Wh; the pad is busy
    #     until 220, then it charges 1000 * 20 / 100 = 200 s.
    assert log_of(run) == [
        (0.0, "plan", 0),
        (0.0, "plan", 1),
        (0.0, "takeoff", 0),
        (0.0, "takeoff", 1),
        (50.0, "arrive", 0),
        (50.0, "return_start", 0),
        (90.0, "arrive", 1),
        (90.0, "return_start", 1),
        (100.0, "landed", 0),
        (100.0, "charge_start", 0),
        (180.0, "landed", 1),
        (180.0, "pad_queue", 1),
        (220.0, "charge_end", 0),
        (220.0, "charge_start", 1),
        (420.0, "charge_end", 1),
    ]
    assert [leg for leg in legs_of(run, 1) if leg[0] in ("wait_pad", "charge")] == [
        ("wait_pad", 180.0, 220.0, 0.0, 80.0),
        ("charge", 220.0, 420.0, 0.0, 100.0),
    ]
    ev = run.events
    assert ev["value"][ev["kind"] == "pad_queue"].tolist() == [1.0]
    assert ev["value"][ev["kind"] == "charge_start"].tolist() == [88.0, 80.0]
    assert policy.calls == [
        (0.0, [(0, "start"), (1, "start")]),
        (220.0, [(0, "recharged")]),
        (420.0, [(1, "recharged")]),
    ]


def test_all_requests_due_at_one_time_arrive_in_one_decide_call():
    # Three vehicles start together; two of them arrive together (same distance).
    policy = Scripted({0: [GoTo(600.0, 100.0)], 1: [GoTo(100.0, 600.0)], 2: [GoTo(400.0, 500.0)]})
    Simulation(scenario(count=3, duration_s=200.0), policy=policy).run()
    # 500 m for every vehicle: all three arrive at 10 + 50 = 60 s and go idle together.
    assert policy.calls == [
        (0.0, [(0, "start"), (1, "start"), (2, "start")]),
        (60.0, [(0, "idle"), (1, "idle"), (2, "idle")]),
    ]


class Watcher(Policy):
    """Flies a route, holds, comes back; records what the fleet view says every 25 s."""

    name = "watcher"
    decision_period_s = 25.0

    def __init__(self):
        self.seen: dict[float, tuple] = {}

    def decide(self, now_s, fleet, requests):
        xy, t_end = fleet.plan_end([0])
        self.seen[now_s] = (
            tuple(fleet.positions([0])[0].tolist()),
            round(float(fleet.battery_wh([0])[0]), 9),
            str(fleet.states([0])[0]),
            tuple(xy[0].tolist()),
            float(t_end[0]),
        )
        return [
            Plan(
                0,
                [
                    Route([(600.0, 100.0), (600.0, 600.0), (100.0, 600.0)]),
                    Hold(30.0),
                    GoTo(100.0, 100.0),
                ],
            )
            for r in requests
            if r.reason == "start"
        ]


def test_the_fleet_view_interpolates_position_and_battery_along_the_legs():
    # Takeoff 0-10 s; the route's corners at 60, 110 and 160 s; hold 160-190 s; home
    # (100, 100) at 240 s. Cruising draws 0.1 Wh/s, hovering 0.2 Wh/s.
    policy = Watcher()
    run = Simulation(scenario(duration_s=240.0), policy=policy).run()
    assert log_of(run) == [
        (0.0, "plan", 0),
        (0.0, "takeoff", 0),
        (60.0, "arrive", 0),
        (110.0, "arrive", 0),
        (160.0, "arrive", 0),
        (240.0, "arrive", 0),
    ]
    seen = {t: v[:3] for t, v in policy.seen.items()}
    assert seen == {
        0.0: ((100.0, 100.0, 0.0), 100.0, "ground"),
        25.0: ((250.0, 100.0, 50.0), 96.5, "moving"),
        50.0: ((500.0, 100.0, 50.0), 94.0, "moving"),
        75.0: ((600.0, 250.0, 50.0), 91.5, "moving"),
        100.0: ((600.0, 500.0, 50.0), 89.0, "moving"),
        125.0: ((450.0, 600.0, 50.0), 86.5, "moving"),
        150.0: ((200.0, 600.0, 50.0), 84.0, "moving"),
        175.0: ((100.0, 600.0, 50.0), 80.0, "holding"),
        200.0: ((100.0, 500.0, 50.0), 76.0, "moving"),
        225.0: ((100.0, 250.0, 50.0), 73.5, "moving"),
    }


def test_plan_end_is_when_the_plan_really_ends():
    policy = Watcher()
    Simulation(scenario(duration_s=240.0), policy=policy).run()
    for t in (25.0, 100.0, 200.0):
        assert policy.seen[t][3:] == ((100.0, 100.0), 240.0)


# --------------------------------------------------------------------------- re-tasking


def test_a_replacing_plan_cuts_the_current_leg_and_cancels_its_later_events():
    """Heading east from HOME, the vehicle is re-tasked north at t = 50 s: its leg ends
    there at x = 100 + 10 * (50 - 10) = 500. A target 500 m further east on the old
    track is never detected; targets on the flown parts are, at the exact entry time
    t0 + (along - sqrt(r^2 - d^2)) / v."""
    targets = [
        (300.0, 120.0),  # beside the flown part of the first leg (d = 20 m)
        (1000.0, 100.0),  # on the cut-off part of the first leg
        (510.0, 600.0),
    ]  # beside the new leg (d = 10 m)
    policy = Scripted(
        {0: [GoTo(3100.0, 100.0)]}, period_s=50.0, on_periodic={(50.0, 0): [GoTo(500.0, 1100.0)]}
    )
    run = Simulation(scenario(targets=targets, duration_s=300.0), policy=policy).run()
    r = 30.0
    t_first = T_VERTICAL + (200.0 - math.sqrt(r * r - 20.0**2)) / SPEED
    t_third = 50.0 + (500.0 - math.sqrt(r * r - 10.0**2)) / SPEED
    assert log_of(run) == [
        (0.0, "plan", 0),
        (0.0, "takeoff", 0),
        (round(t_first, 6), "detection", 0),
        (50.0, "plan", 0),
        (round(t_third, 6), "detection", 0),
        (150.0, "arrive", 0),
    ]
    ev = run.events
    det = ev["kind"] == "detection"
    assert ev["target"][det].tolist() == [0, 2]
    assert ev["time_s"][det] == pytest.approx([t_first, t_third], abs=1e-9)
    assert ev["value"][det] == pytest.approx([20.0, 10.0])  # lateral range
    legs = run.legs
    assert legs["kind"][:3].tolist() == ["takeoff", "move", "move"]
    cut = 1
    assert (legs["t0_s"][cut], legs["t1_s"][cut]) == (10.0, 50.0)
    assert (legs["x1_m"][cut], legs["y1_m"][cut], legs["z1_m"][cut]) == (500.0, 100.0, 50.0)
    assert legs["energy_wh"][cut] == pytest.approx(40.0 * P_CRUISE)
    assert legs["battery_end_wh"][cut] == pytest.approx(CAPACITY - E_VERTICAL - 4.0)
    # The new leg starts where and when the old one was cut.
    assert (legs["t0_s"][2], legs["x0_m"][2], legs["y0_m"][2]) == (50.0, 500.0, 100.0)
    assert (legs["t1_s"][2], legs["x1_m"][2], legs["y1_m"][2]) == (150.0, 500.0, 1100.0)


def test_a_replacing_plan_during_takeoff_replaces_the_route_being_started():
    # Told to go east at 0 s, re-tasked north at 5 s while still climbing: the vehicle
    # never heads east; its first leg after the climb goes north (1000 m at 10 m/s).
    policy = Scripted(
        {0: [GoTo(3100.0, 100.0)]}, period_s=5.0, on_periodic={(5.0, 0): [GoTo(100.0, 1100.0)]}
    )
    run = Simulation(scenario(duration_s=300.0), policy=policy).run()
    legs = run.legs
    airborne = legs["kind"] != "ground"
    assert legs["x1_m"][airborne].max() == HOME[0]
    move = np.flatnonzero(legs["kind"] == "move")
    assert (legs["x1_m"][move[0]], legs["y1_m"][move[0]], legs["z1_m"][move[0]]) == (
        100.0,
        1100.0,
        AGL,
    )
    assert legs["t1_s"][move[0]] - legs["t0_s"][move[0]] == pytest.approx(1000.0 / SPEED)
    assert [k for _, k, _ in log_of(run)].count("takeoff") == 1
    assert_legs_tile_the_run(run)


def test_an_empty_replacing_plan_leaves_the_vehicle_idle_and_it_asks_as_idle():
    policy = Scripted({0: [GoTo(3100.0, 100.0)]}, period_s=50.0, on_periodic={(50.0, 0): []})
    Simulation(scenario(duration_s=120.0), policy=policy).run()
    at_50 = [reqs for t, reqs in policy.calls if t == 50.0]
    assert at_50 == [[(0, "periodic")], [(0, "idle")]]


def test_hold_is_cut_by_a_replacing_plan_and_energy_is_charged_pro_rata():
    policy = Scripted(
        {0: [Hold(100.0), ReturnHome()]}, period_s=40.0, on_periodic={(40.0, 0): [ReturnHome()]}
    )
    run = Simulation(scenario(duration_s=200.0), policy=policy).run()
    # Takeoff 0-10, hold 10-40 (cut, 30 s x 0.2 Wh/s = 6 Wh), no distance home, land 40-50.
    assert legs_of(run, 0)[:3] == [
        ("takeoff", 0.0, 10.0, 2.0, 98.0),
        ("hold", 10.0, 40.0, 6.0, 92.0),
        ("land", 40.0, 50.0, 2.0, 90.0),
    ]
    assert log_of(run)[:6] == [
        (0.0, "plan", 0),
        (0.0, "takeoff", 0),
        (40.0, "plan", 0),
        (40.0, "return_start", 0),
        (50.0, "landed", 0),
        (50.0, "charge_start", 0),
    ]


def test_each_accepted_plan_is_recorded_as_a_plan_event():
    # 'plan' events: value = number of actions (fleetsim.record.EVENT_KINDS).
    policy = Scripted(
        {0: [GoTo(600.0, 100.0), Hold(10.0), ReturnHome()], 1: [Hold(5.0)]},
        period_s=40.0,
        on_periodic={(40.0, 1): [GoTo(200.0, 200.0), ReturnHome()]},
    )
    run = Simulation(scenario(count=2, duration_s=200.0), policy=policy).run()
    ev = run.events
    plan = ev["kind"] == "plan"
    assert list(
        zip(
            ev["time_s"][plan].tolist(),
            ev["vehicle"][plan].tolist(),
            ev["value"][plan].tolist(),
            strict=True,
        )
    ) == [(0.0, 0, 3.0), (0.0, 1, 1.0), (40.0, 1, 2.0)]


def test_a_target_in_view_across_a_waypoint_is_detected_once():
    policy = Scripted({0: [Route([(500.0, 100.0), (900.0, 100.0)])]})
    run = Simulation(scenario(targets=[(510.0, 110.0)], duration_s=200.0), policy=policy).run()
    ev = run.events
    det = ev["kind"] == "detection"
    # Enters the 30 m disc when 30 m away: along - sqrt(30^2 - 10^2) from the start.
    t_enter = T_VERTICAL + (410.0 - math.sqrt(800.0)) / SPEED
    assert ev["time_s"][det] == pytest.approx([t_enter])


# --------------------------------------------------------------------------- invariants


def assert_legs_tile_the_run(run) -> None:
    """Each vehicle's legs cover [0, duration] without gaps or overlaps, positions and
    battery are continuous between legs, energy equals power x time, and no battery
    ever goes below zero."""
    legs = run.legs
    T = run.duration_s
    n = len(run.vehicles["vehicle"])
    for v in range(n):
        i = np.flatnonzero(legs["vehicle"] == v)
        assert len(i), f"vehicle {v} has no legs"
        i = i[np.argsort(legs["t0_s"][i], kind="stable")]
        t0, t1 = legs["t0_s"][i], legs["t1_s"][i]
        assert t0[0] == 0.0 and t1[-1] == T, f"vehicle {v}: legs span {t0[0]}..{t1[-1]}"
        assert np.all(t1 >= t0), f"vehicle {v}: a leg ends before it starts"
        assert np.array_equal(t1[:-1], t0[1:]), f"vehicle {v}: gap or overlap between legs"
        for a in "xyz":
            end, start = legs[f"{a}1_m"][i][:-1], legs[f"{a}0_m"][i][1:]
            assert np.allclose(end, start, atol=1e-6), f"vehicle {v}: {a} jumps between legs"
        battery = legs["battery_end_wh"][i]
        assert np.all(battery >= -1e-9), f"vehicle {v}: battery below zero"
        assert np.all(battery <= run.vehicles["battery_wh"][v] + 1e-9)
        energy = legs["energy_wh"][i]
        charge = legs["kind"][i] == "charge"
        # Outside charging, what a leg draws is what leaves the battery.
        before = np.r_[run.vehicles["battery_wh"][v], battery[:-1]]
        flow = ~charge
        assert np.allclose((before - energy)[flow], battery[flow], atol=1e-9)
        assert np.all(energy >= 0.0)


@pytest.mark.parametrize("name", sorted(set(BUILTIN_POLICIES) - LOGISTICS_POLICIES))
def test_builtin_policies_runs_tile_time_with_continuous_positions(name):
    sc = load_scenario_text(CHECK_SCENARIO, overrides=[f"policy.name={name}"])
    run = Simulation(sc).run()
    # The check scenario is short-batteried: every policy goes through reserve,
    # return, pad queues and recharging, so the invariants see every leg kind.
    kinds = set(run.legs["kind"].tolist())
    assert {"takeoff", "move", "return", "land", "charge", "wait_pad"} <= kinds
    assert_legs_tile_the_run(run)


def test_golden_runs_tile_time():
    runs = [
        Simulation(scenario(), policy=Scripted({0: [GoTo(5900.0, 100.0)]})).run(),
        Simulation(
            scenario(count=2),
            policy=Scripted(
                {0: [GoTo(500.0, 100.0), ReturnHome()], 1: [GoTo(900.0, 100.0), ReturnHome()]}
            ),
        ).run(),
        Simulation(
            scenario(duration_s=300.0),
            policy=Scripted(
                {0: [GoTo(3100.0, 100.0)]},
                period_s=50.0,
                on_periodic={(50.0, 0): [GoTo(500.0, 1100.0)]},
            ),
        ).run(),
    ]
    for run in runs:
        assert_legs_tile_the_run(run)


def test_calibrated_corrections_lengthen_routes_by_their_turns_and_climbs():
    """leg_overhead_s once per route from rest, turn_penalty_s_per_rad per radian at each
    interior waypoint, climb_energy_wh_per_m per metre climbed; zero by default."""
    import math

    route = [Route(np.array([[1100.0, 100.0], [1100.0, 1100.0], [100.0, 1100.0]]))]
    plain = Simulation(scenario(), policy=Scripted({0: route})).run()
    sc = scenario()
    src = dict(sc.source)
    src["fleet"]["types"][0].update({"leg_overhead_s": 3.0, "turn_penalty_s_per_rad": 2.0,
                                     "climb_energy_wh_per_m": 0.0})
    from fleetsim.scenario import scenario_from_source
    fitted = Simulation(scenario_from_source(src), policy=Scripted({0: route})).run()

    def moves(run):
        legs = run.legs
        m = legs["kind"] == "move"
        return legs["t1_s"][m] - legs["t0_s"][m]

    extra = moves(fitted) - moves(plain)
    # Two right-angle turns (at the 2nd and 3rd waypoints), 3 s from rest on the first.
    assert np.allclose(extra, [3.0, 2.0 * math.pi / 2, 2.0 * math.pi / 2])


def test_calibrated_climb_energy_is_added_per_metre_climbed():
    plan = [Route(np.array([[1100.0, 100.0]]), alt_agl_m=100.0),
            Route(np.array([[2100.0, 100.0]]), alt_agl_m=150.0)]
    plain = Simulation(scenario(), policy=Scripted({0: plan})).run()
    src = dict(scenario().source)
    src["fleet"]["types"][0]["climb_energy_wh_per_m"] = 0.5
    from fleetsim.scenario import scenario_from_source
    fitted = Simulation(scenario_from_source(src), policy=Scripted({0: plan})).run()
    m = plain.legs["kind"] == "move"
    extra = fitted.legs["energy_wh"][m] - plain.legs["energy_wh"][m]
    climbed = plain.legs["z1_m"][m] - plain.legs["z0_m"][m]
    assert (climbed > 0).all()  # up from the take-off height, then 50 m more
    assert np.allclose(extra, 0.5 * climbed)
    f = fitted.legs["kind"] == "move"
    assert np.allclose(fitted.legs["t1_s"][f] - fitted.legs["t0_s"][f],
                       plain.legs["t1_s"][m] - plain.legs["t0_s"][m])  # times untouched

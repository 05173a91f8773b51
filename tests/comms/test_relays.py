"""Airborne relays: a vehicle out of a station's reach stays in link through a relay
vehicle that is itself in direct link; exact where closed-form, within one relay sample
step (10 s of hover, 100 m of flight) where sampled; engine events agree with metrics."""

import math

import numpy as np
import pytest

from fleetsim.comms import (
    Station,
    link_intervals_relayed,
    relay_legs,
    relay_link_intervals,
    sample_step_s,
)
from fleetsim.engine import Simulation
from fleetsim.metrics import compute_metrics
from fleetsim.metrics.comms import out_of_link_gaps, out_of_link_gaps_of_legs
from fleetsim.policy import GoTo, Hold, Plan, Policy, ReturnHome
from fleetsim.scenario import load_scenario_text
from fleetsim.world.terrain import Terrain

SPEED, CLIMB, AGL = 10.0, 5.0, 50.0
T_UP = AGL / CLIMB  # take-off time
STEP_S = 10.0  # relay sample step: 100 m of flight at 10 m/s, or 10 s of hover
FLAT = "{source: flat, size_m: [20000, 10000], spacing_m: 50}"


def scenario(terrain: str = FLAT, *, station_xy=(0, 5000), range_m=3000.0, antenna_m=AGL,
             relay_base=(1000, 5000), base=(1000, 5000), relays=1, relay_range="2000",
             quads=1, duration_s=1500.0, window_s=5) -> str:
    return f"""
schema_version: 1
name: relays
run: {{duration_s: {duration_s}, seed: 1, monitor_window_s: {window_s}}}
world:
  terrain: {terrain}
  sites:
    - {{id: home, kind: base, position: [{base[0]}, {base[1]}], pads: 20}}
    - {{id: nest, kind: base, position: [{relay_base[0]}, {relay_base[1]}], pads: 20}}
    - {{id: mast, kind: ground_station, position: [{station_xy[0]}, {station_xy[1]}],
       radio_range_m: {range_m}, antenna_height_m: {antenna_m}}}
fleet:
  types:
    - {{id: relay, kind: multirotor, count: {relays}, base: nest, cruise_speed_mps: {SPEED},
       climb_rate_mps: {CLIMB}, cruise_altitude_agl_m: {AGL}, battery_wh: 1.0e6,
       hover_power_w: 100, cruise_power_w: 100, recharge_time_s: 10,
       sensor: {{footprint_radius_m: 20}}, relay_range_m: {relay_range}}}
    - {{id: quad, kind: multirotor, count: {quads}, base: home, cruise_speed_mps: {SPEED},
       climb_rate_mps: {CLIMB}, cruise_altitude_agl_m: {AGL}, battery_wh: 1.0e6,
       hover_power_w: 100, cruise_power_w: 100, recharge_time_s: 10,
       sensor: {{footprint_radius_m: 20}}}}
policy: {{name: random_search}}
"""


class Script(Policy):
    """Each vehicle flies its scripted actions from the start, then waits; records the
    requests it hears."""

    name = "script"

    def __init__(self, actions: dict[int, list]):
        self.actions = actions
        self.seen: list[tuple[float, int, str]] = []

    def decide(self, now_s, fleet, requests):
        plans = []
        for r in requests:
            self.seen.append((round(now_s, 6), r.vehicle, r.reason))
            if r.reason == "start" and r.vehicle in self.actions:
                plans.append(Plan(r.vehicle, self.actions[r.vehicle]))
        return plans


def run_of(text: str, actions: dict[int, list]):
    policy = Script(actions)
    return Simulation(load_scenario_text(text), policy=policy).run(), policy


def link_events(run, vehicle=None):
    ev = run.events
    keep = np.isin(ev["kind"], ["link_lost", "link_restored"])
    if vehicle is not None:
        keep &= ev["vehicle"] == vehicle
    return [(float(t), str(k)) for t, k in zip(ev["time_s"][keep], ev["kind"][keep],
                                                strict=True)]


def engine_gaps(run):
    """Out-of-link gaps from the engine's events: (vehicle, start, end), sorted."""
    ev = run.events
    keep = np.isin(ev["kind"], ["link_lost", "link_restored"])
    end = run.scenario.run.duration_s
    gaps = []
    for v in np.unique(ev["vehicle"][keep]).tolist():
        sel = keep & (ev["vehicle"] == v)
        t, k = ev["time_s"][sel], ev["kind"][sel]
        order = np.argsort(t, kind="stable")
        start = None
        for ti, ki in zip(t[order].tolist(), k[order].tolist(), strict=True):
            if ki == "link_lost":
                assert start is None, f"vehicle {v} lost its link twice (at {ti})"
                start = ti
            else:
                assert start is not None, f"vehicle {v} restored without a loss (at {ti})"
                gaps.append((v, start, ti))
                start = None
        if start is not None:
            gaps.append((v, start, end))
    return sorted(gaps)


def assert_engine_agrees_with_metrics(run):
    engine = engine_gaps(run)
    v, a, b = out_of_link_gaps(run)  # what the metrics read: the engine's events
    assert sorted(zip(v.tolist(), a.tolist(), b.tolist(), strict=True)) == engine
    v, a, b = out_of_link_gaps_of_legs(run)  # recomputed from the legs as flown
    metric = sorted(zip(v.tolist(), a.tolist(), b.tolist(), strict=True))
    assert len(engine) == len(metric), (engine, metric)
    for e, m in zip(engine, metric, strict=True):
        assert e[0] == m[0] and e[1] == pytest.approx(m[1], abs=1e-6) \
            and e[2] == pytest.approx(m[2], abs=1e-6), (e, m)


# --------------------------------------------------------------------------- engine


def test_a_relay_at_the_edge_of_station_range_keeps_a_vehicle_beyond_it_linked():
    """ORACLE: the station's range is 3000 m (antenna at flight altitude: slant =
    horizontal). The relay (range 2000 m) hovers at x = 2900, 100 m inside it, from
    t = 200 s; the vehicle flies out to x = 4500, crossing x = 3000 at 210 s, and stays
    within 1600 m of the relay: never out of link. Without the relay it loses the link
    exactly at 210 s."""
    actions = {0: [GoTo(2900.0, 5000.0)], 1: [GoTo(4500.0, 5000.0)]}
    run, _ = run_of(scenario(), actions)
    assert link_events(run) == []
    m = compute_metrics(run)
    assert m["comms.link_losses"] == 0 and m["comms.out_of_link_time_s"] == 0.0
    assert_engine_agrees_with_metrics(run)

    plain, _ = run_of(scenario(relay_range="null"), actions)
    assert link_events(plain) == [(pytest.approx(T_UP + 200.0, abs=1e-9), "link_lost")]


def test_the_link_is_lost_when_the_relay_leaves_station_range():
    """ORACLE: the relay hovers at (2900, 5000) until t = 500 s, then flies north at
    10 m/s; it leaves the station's 3000 m circle after sqrt(3000^2 - 2900^2) / 10 =
    76.81 s, exactly then for its own link, and the vehicle hovering at x = 4500 (still
    within the relay's range) loses its relayed link within one sample step (10 s of
    hover) after that. The relay's new leg was planned after the vehicle's hover leg had
    been evaluated: the engine's provisional events are replaced, and engine and metrics
    agree. The policy hears of the loss within a monitor window."""
    actions = {0: [GoTo(2900.0, 5000.0), Hold(300.0), GoTo(2900.0, 9000.0)],
               1: [GoTo(4500.0, 5000.0)]}
    run, policy = run_of(scenario(), actions)
    t_out = T_UP + 190.0 + 300.0 + math.sqrt(3000.0 ** 2 - 2900.0 ** 2) / SPEED
    assert link_events(run, 0) == [(pytest.approx(t_out, abs=1e-6), "link_lost")]
    (t_lost, kind), = link_events(run, 1)
    assert kind == "link_lost" and t_out <= t_lost <= t_out + STEP_S + 1e-6
    heard = [t for t, v, reason in policy.seen if v == 1 and reason == "link_lost"]
    assert len(heard) == 1 and t_lost <= heard[0] <= t_lost + 5.0
    assert_engine_agrees_with_metrics(run)
    m = compute_metrics(run)
    assert m["comms.link_losses"] == 2
    assert m["comms.out_of_link_time_s"] == pytest.approx(2 * 1500.0 - t_out - t_lost)


def test_the_link_is_lost_when_the_relay_lands():
    """ORACLE: relay and vehicle share a base at x = 2800 (inside the station's range).
    The relay takes off, hovers until t = 310 s and lands at its base (10 s); the
    vehicle hovers at x = 4500 (out of the station's range, 1700 m from the relay) from
    t = 180 s. It is out of link from the relay's touchdown at 320 s, within one sample
    step."""
    actions = {0: [Hold(300.0), ReturnHome()], 1: [GoTo(4500.0, 5000.0)]}
    run, _ = run_of(scenario(relay_base=(2800, 5000), base=(2800, 5000)), actions)
    touchdown = T_UP + 300.0 + AGL / CLIMB
    assert link_events(run, 0) == []
    (t_lost, kind), = link_events(run, 1)
    assert kind == "link_lost" and touchdown <= t_lost <= touchdown + STEP_S + 1e-6
    assert_engine_agrees_with_metrics(run)


def test_a_relay_out_of_station_range_relays_nothing():
    """The relay flies to x = 3500 and hovers there from 260 s, out of the station's
    3000 m range (lost exactly at the crossing, 210 s). The vehicle hovers at its base
    until 310 s, then flies to x = 4500, within the relay's range from x = 1500 on: it
    loses the link exactly when it crosses x = 3000 (510 s, the closed-form range
    crossing), and neither gets it back."""
    actions = {0: [GoTo(3500.0, 5000.0)], 1: [Hold(300.0), GoTo(4500.0, 5000.0)]}
    run, _ = run_of(scenario(), actions)
    assert link_events(run, 0) == [(pytest.approx(T_UP + 200.0, abs=1e-9), "link_lost")]
    assert link_events(run, 1) == [(pytest.approx(T_UP + 500.0, abs=1e-9), "link_lost")]
    assert_engine_agrees_with_metrics(run)


def test_relaying_is_single_hop():
    """Relay A hovers at x = 2900 (in direct link); relay B at x = 4500 is linked through
    A; but a vehicle flying on to x = 6000 is linked through A only while within A's
    2000 m (to x = 4900, i.e. 400 s, sampled every 10 s), not through B, which is not in
    direct link itself."""
    actions = {0: [GoTo(2900.0, 5000.0)], 1: [GoTo(4500.0, 5000.0)],
               2: [GoTo(6000.0, 5000.0)]}
    run, _ = run_of(scenario(relays=2), actions)
    assert link_events(run, 0) == [] and link_events(run, 1) == []
    (t_lost, kind), = link_events(run, 2)
    t_edge = T_UP + (4900.0 - 1000.0) / SPEED
    assert kind == "link_lost" and t_edge <= t_lost <= t_edge + STEP_S + 1e-6
    assert_engine_agrees_with_metrics(run)


def ridge_terrain(tmp_path, ridge: bool) -> str:
    h = np.zeros((200, 400))
    if ridge:
        h[:, 120:122] = 400.0  # x = 6000 .. 6100
    np.save(tmp_path / f"r{int(ridge)}.npy", h)
    return f"{{source: npy, path: {tmp_path / f'r{int(ridge)}.npy'}, spacing_m: 50}}"


@pytest.mark.parametrize("ridge", [False, True])
def test_terrain_between_relay_and_vehicle_cuts_the_relayed_link(tmp_path, ridge):
    """The station (x = 2000, antenna 10 m, range 4000 m) reaches to x = 6000; the relay
    (range 3000 m) hovers at x = 5500 in sight of it; the vehicle flies east from
    x = 5000 at 50 m. Over flat ground the relay keeps it linked to x = 8500 (360 s,
    sampled); a 400 m ridge at x = 6000..6100, between relay and vehicle, cuts the
    relayed link as the vehicle passes behind it, when it also leaves the station's
    range (x = 6000, 110 s), within one sample step (100 m of flight)."""
    text = scenario(ridge_terrain(tmp_path, ridge), station_xy=(2000, 5000), range_m=4000.0,
                    antenna_m=10.0, relay_base=(5000, 5000), base=(5000, 5000),
                    relay_range="3000")
    actions = {0: [GoTo(5500.0, 5000.0)], 1: [GoTo(9000.0, 5000.0)]}
    run, _ = run_of(text, actions)
    (t_lost, kind), = link_events(run, 1)
    t_edge = T_UP + ((6000.0 if ridge else 8500.0) - 5000.0) / SPEED
    assert kind == "link_lost" and t_edge <= t_lost <= t_edge + STEP_S + 1e-6
    assert link_events(run, 0) == []
    assert_engine_agrees_with_metrics(run)


class Wander(Policy):
    """Random re-tasking every ``period`` s (cutting legs), holds and returns home: the
    relays' plans change under the vehicles they serve."""

    name = "wander"

    def __init__(self, seed: int, period: float = 37.0):
        self.rng = np.random.default_rng(seed)
        self.period = period

    def reset(self, ctx):
        self.decision_period_s = self.period

    def decide(self, now_s, fleet, requests):
        plans = []
        for r in requests:
            if r.reason in ("link_lost", "link_restored", "detection", "reserve"):
                continue
            u = self.rng.random()
            if r.reason == "periodic" and u < 0.6:
                continue
            if u < 0.1:
                plans.append(Plan(r.vehicle, [ReturnHome()]))
            elif u < 0.25:
                plans.append(Plan(r.vehicle, [Hold(float(self.rng.uniform(5, 120)))]))
            else:
                x, y = self.rng.uniform([1000, 2000], [9000, 8000])
                plans.append(Plan(r.vehicle, [GoTo(float(x), float(y))]))
        return plans


HILLS = "{source: procedural, size_m: [10000, 10000], spacing_m: 50, relief_m: 300, ridges: 6}"


@pytest.mark.parametrize(("terrain", "seed"), [(FLAT, 1), (FLAT, 2), (FLAT, 3), (HILLS, 1),
                                               (HILLS, 2)])
def test_engine_link_events_agree_with_metrics_under_random_replanning(terrain, seed):
    """Three relays and six vehicles re-tasked at random (legs cut, holds, landings),
    over flat ground and over hills: every out-of-link gap the engine's events describe
    is the one the metrics compute from the recorded legs, to 1e-6 s."""
    text = scenario(terrain, station_xy=(5000, 5000), range_m=2500.0, relay_base=(5000, 5000),
                    base=(4000, 5000), relays=3, quads=6, duration_s=2000.0, window_s=10,
                    antenna_m=30.0)
    run = Simulation(load_scenario_text(text), policy=Wander(seed)).run()
    assert len(link_events(run)) >= 6
    assert_engine_agrees_with_metrics(run)


# --------------------------------------------------------------------------- functions


def test_relayed_intervals_of_legs():
    """The vectorised function on its own: a hovering vehicle at x = 4500 and one flying
    east at 10 m/s; one relay hovering at x = 2900 until 500 s, then flying east (out of
    the 3000 m station range at 510 s). Exact for the direct part; the relayed ends fall
    within one sample step after the analytic ones; a relay with no leg at a time is
    absent there; a vehicle is not its own relay."""
    terrain = Terrain.flat((20000, 10000), 50.0)
    station = [Station(0, (0.0, 0.0, 50.0), 3000.0)]
    relays = relay_legs([7, 7, 7], [0.0, 500.0, 700.0], [500.0, 600.0, -np.inf],
                        [[2900, 0, 50], [2900, 0, 50], [0, 0, 50]],
                        [[2900, 0, 50], [3900, 0, 50], [0, 0, 50]], 2000.0)
    assert len(relays) == 2  # the cancelled leg is dropped
    t0 = np.array([0.0, 0.0, 0.0, 650.0])
    t1 = np.array([1000.0, 800.0, 300.0, 700.0])
    p0 = np.array([[4500, 0, 50], [1000, 0, 50], [2900, 0, 50], [4500, 0, 50.0]])
    p1 = np.array([[4500, 0, 50], [9000, 0, 50], [2900, 0, 50], [4500, 0, 50.0]])
    vehicle = [1, 2, 7, 3]
    assert sample_step_s(t0, t1, p0, p1, terrain).tolist() == [10.0, 10.0, 10.0, 10.0]
    leg, a, b = relay_link_intervals(t0, t1, p0, p1, vehicle, relays, station, terrain)
    assert leg.tolist() == [0, 1]  # leg 2 is the relay itself; leg 3 is after it left
    assert a[0] == 0.0 and 510.0 <= b[0] <= 520.0
    assert a[1] == 0.0 and 390.0 <= b[1] <= 400.0  # within 2000 m of x = 2900 to x = 4900
    leg, a, b = link_intervals_relayed(t0, t1, p0, p1, vehicle, relays, station, terrain)
    assert leg.tolist() == [0, 1, 2]
    assert b[2] == 300.0  # the relay's own direct link, exact
    # Evaluated from t_from on: from the sample at or before it, clipped there.
    leg, a, b = link_intervals_relayed(t0, t1, p0, p1, vehicle, relays, station, terrain,
                                       t_from=[505.0, 0.0, 0.0, 650.0])
    assert leg.tolist() == [0, 1, 2] and a.tolist() == [500.0, 0.0, 0.0]


def test_many_relays_and_legs_in_one_pass():
    """Vectorised over samples x relays: 2,000 legs against 50 relays give the same
    answer as evaluating each leg on its own."""
    rng = np.random.default_rng(0)
    terrain = Terrain.flat((20000, 20000), 50.0)
    station = [Station(0, (10000.0, 10000.0, 60.0), 4000.0)]
    k = 50
    r0 = rng.uniform(5000, 15000, (k, 3))
    r1 = rng.uniform(5000, 15000, (k, 3))
    r0[:, 2] = r1[:, 2] = 60.0
    relays = relay_legs(np.arange(1000, 1000 + k), np.zeros(k), np.full(k, 1000.0), r0, r1,
                        rng.uniform(1000, 3000, k))
    n = 2000
    t0 = rng.uniform(0, 900, n)
    t1 = t0 + rng.uniform(1, 100, n)
    p0 = rng.uniform(0, 20000, (n, 3))
    p1 = p0 + rng.uniform(-1000, 1000, (n, 3))
    p0[:, 2] = p1[:, 2] = 60.0
    vehicle = np.arange(n)
    leg, a, b = relay_link_intervals(t0, t1, p0, p1, vehicle, relays, station, terrain)
    assert len(leg) > 100
    for j in rng.choice(n, 40, replace=False).tolist():
        lj, aj, bj = relay_link_intervals(t0[j:j + 1], t1[j:j + 1], p0[j:j + 1], p1[j:j + 1],
                                          vehicle[j:j + 1], relays, station, terrain)
        sel = leg == j
        assert aj.tolist() == a[sel].tolist() and bj.tolist() == b[sel].tolist()


def test_gaps_across_legs_meeting_a_hair_apart_are_one_gap():
    """Legs laid out as t1 - duration may start 1e-13 s after the previous one ends:
    the metrics count one gap there, as the engine's events do."""
    run, _ = run_of(scenario(relay_range="null"), {1: [GoTo(4500.0, 5000.0)]})
    legs = run.legs
    last = np.flatnonzero(legs["vehicle"] == 1)[-1]  # the idle hover at x = 4500
    legs["t0_s"][last] += 2e-13
    v, a, b = out_of_link_gaps_of_legs(run)
    assert v.tolist() == [1] and a[0] == pytest.approx(T_UP + 200.0) and b[0] == 1500.0

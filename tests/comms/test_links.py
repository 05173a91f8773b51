"""Radio links: exact range crossings, terrain shadowing, events, requests and metrics."""

import math

import numpy as np
import pytest

from fleetsim.engine import Simulation
from fleetsim.metrics import compute_metrics
from fleetsim.policy import GoTo, Plan, Policy, ReturnHome
from fleetsim.scenario import load_scenario_text

SPEED, CLIMB, AGL = 10.0, 5.0, 50.0


def scenario(terrain: str, *, station_xy=(0, 5000), base_xy=(1000, 5000), range_m=3000.0,
             antenna_m=AGL, duration_s=1500.0, extra_sites: str = "") -> str:
    return f"""
schema_version: 1
name: links
run: {{duration_s: {duration_s}, seed: 1, monitor_window_s: 5}}
world:
  terrain: {terrain}
  sites:
    - {{id: home, kind: base, position: [{base_xy[0]}, {base_xy[1]}], pads: 1}}
    - {{id: mast, kind: ground_station, position: [{station_xy[0]}, {station_xy[1]}],
       radio_range_m: {range_m}, antenna_height_m: {antenna_m}}}
{extra_sites}
fleet:
  types:
    - {{id: quad, kind: multirotor, count: 1, base: home, cruise_speed_mps: {SPEED},
       climb_rate_mps: {CLIMB}, cruise_altitude_agl_m: {AGL}, battery_wh: 1.0e6,
       hover_power_w: 100, cruise_power_w: 100, recharge_time_s: 10,
       sensor: {{footprint_radius_m: 20}}}}
policy: {{name: random_search}}
"""


class East(Policy):
    """Fly due east along y = 5000 to x = 19000; on link loss, optionally go home."""

    name = "east"

    def __init__(self, home_on_loss: bool = False):
        self.home_on_loss = home_on_loss
        self.seen: list[tuple[float, str]] = []

    def decide(self, now_s, fleet, requests):
        plans = []
        for r in requests:
            self.seen.append((round(now_s, 6), r.reason))
            if r.reason == "start":
                plans.append(Plan(r.vehicle, [GoTo(19000.0, 5000.0)]))
            elif r.reason == "link_lost" and self.home_on_loss:
                plans.append(Plan(r.vehicle, [ReturnHome()]))
        return plans


FLAT = "{source: flat, size_m: [20000, 10000], spacing_m: 50}"


def link_events(run):
    ev = run.events
    keep = np.isin(ev["kind"], ["link_lost", "link_restored"])
    return [(float(t), str(k)) for t, k in zip(ev["time_s"][keep], ev["kind"][keep],
                                                strict=True)]


def test_flying_straight_away_loses_the_link_at_range_over_speed():
    """ORACLES: starting d0 = 1000 m from a station of range R = 3000 m and flying
    straight away at v = 10 m/s (antenna at the flight altitude, so slant = horizontal
    distance), the link is lost (R - d0) / v = 200 s after the vehicle sets off, i.e.
    at take-off time 10 s + 200 s, and never comes back."""
    sc = load_scenario_text(scenario(FLAT))
    run = Simulation(sc, policy=East()).run()
    t_up = AGL / CLIMB
    assert link_events(run) == [(pytest.approx(t_up + (3000.0 - 1000.0) / SPEED, abs=1e-9),
                                 "link_lost")]
    m = compute_metrics(run)
    assert m["comms.link_losses"] == 1
    assert m["comms.out_of_link_time_s"] == pytest.approx(1500.0 - 210.0, abs=1e-6)
    assert m["comms.out_of_link_max_gap_s"] == pytest.approx(1290.0, abs=1e-6)
    assert m["comms.vehicles_out_of_link_ever"] == 1


def test_the_policy_hears_of_the_loss_and_can_bring_the_vehicle_back():
    """The link_lost request reaches the policy at most one monitor window (5 s) after
    the loss; the vehicle turns home, comes back into range and the link is restored
    exactly when it re-enters the 3000 m circle."""
    sc = load_scenario_text(scenario(FLAT))
    policy = East(home_on_loss=True)
    run = Simulation(sc, policy=policy).run()
    heard = [t for t, reason in policy.seen if reason == "link_lost"]
    assert len(heard) == 1 and 210.0 <= heard[0] <= 215.0
    events = link_events(run)
    assert [k for _, k in events] == ["link_lost", "link_restored"]
    # The turn happens at the decision time, x = 1000 + v (t_heard - t_up); flying back
    # at v, it re-enters range (x = 3000) after (x_turn - 3000) / v more seconds.
    x_turn = 1000.0 + SPEED * (heard[0] - AGL / CLIMB)
    assert events[1][0] == pytest.approx(heard[0] + (x_turn - 3000.0) / SPEED, abs=1e-6)
    m = compute_metrics(run)
    assert m["comms.out_of_link_time_s"] == pytest.approx(events[1][0] - events[0][0],
                                                           abs=1e-6)


def test_a_ridge_between_station_and_vehicle_cuts_the_link(tmp_path):
    """A 400 m ridge at x = 10000..10100 m between the station (x = 2000, antenna 10 m)
    and a vehicle flying east at 50 m above the ground, all well within range: the link
    is lost when the vehicle passes behind the ridge, within one line-of-sight sample
    (100 m of flight = 10 s) of the analytic shadow edge, and stays lost."""
    h = np.zeros((200, 400))
    h[:, 200:202] = 400.0
    np.save(tmp_path / "ridge.npy", h)
    terrain = f"{{source: npy, path: {tmp_path / 'ridge.npy'}, spacing_m: 50}}"
    sc = load_scenario_text(scenario(terrain, station_xy=(2000, 5000), base_xy=(3000, 5000),
                                     range_m=50000.0, antenna_m=10.0))
    run = Simulation(sc, policy=East()).run()
    events = link_events(run)
    assert [k for _, k in events] == ["link_lost"]
    # Shadow edge: the sight line from the antenna (x=2000, z=10) to the vehicle
    # (z=50) clears the ridge top (z=400 at x=10000..10100) only for vehicles before
    # the ridge; past x = 10050 (the sampled grid cell holds the ridge) it is blocked.
    t_up = AGL / CLIMB
    t_ridge = t_up + (10000.0 - 3000.0) / SPEED
    assert t_ridge - 1e-6 <= events[0][0] <= t_ridge + 100.0 / SPEED + 1e-6


def test_without_ground_stations_comms_metrics_are_null():
    text = scenario(FLAT).replace(
        """    - {id: mast, kind: ground_station, position: [0, 5000],
       radio_range_m: 3000.0, antenna_height_m: 50.0}
""", "")
    assert "mast" not in text
    run = Simulation(load_scenario_text(text), policy=East()).run()
    m = compute_metrics(run)
    assert m["comms.link_losses"] is None and m["comms.out_of_link_time_s"] is None
    assert link_events(run) == []


def test_range_intervals_of_a_pass_are_exact():
    """A leg passing a station at lateral offset d enters and leaves its range at
    t_c -/+ sqrt(R^2 - d^2) / v (slant range, same altitude)."""
    from fleetsim.comms import Station, range_intervals

    st = Station(0, (0.0, 0.0, 100.0), 1000.0)
    d, v = 600.0, 20.0
    p0 = np.array([[-5000.0, d, 100.0]])
    p1 = np.array([[5000.0, d, 100.0]])
    t_in, t_out = range_intervals([0.0], [10000.0 / v], p0, p1, st)
    half = math.sqrt(1000.0 ** 2 - d ** 2) / v
    assert t_in[0] == pytest.approx(250.0 - half, abs=1e-9)
    assert t_out[0] == pytest.approx(250.0 + half, abs=1e-9)

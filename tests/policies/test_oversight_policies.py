"""The oversight-aware patrol variants (``cautious_patrol``, ``autonomous_patrol``) run
through the engine: the classes they tag, approvals before every re-task, holding on
lost link, the engine sending home a vehicle that may not fly on, and the example
scenarios that use them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fleetsim.checker import check_policy
from fleetsim.cli import EXIT_OK, main
from fleetsim.engine import Simulation
from fleetsim.errors import ScenarioError
from fleetsim.metrics import compute_metrics
from fleetsim.metrics.comms import NAMES as COMMS_NAMES
from fleetsim.metrics.oversight import NAMES as OVERSIGHT_NAMES
from fleetsim.policies.oversight_patrol import AutonomousPatrol, CautiousPatrol
from fleetsim.policy import GoTo, Route, policy_class
from fleetsim.scenario import load_scenario_text

ROOT = Path(__file__).resolve().parents[2]
WINDOW = 5.0  # monitor window of the test scenarios: link events reach the policy this late


def strip(policy: str, oversight: str, *, params: str = "{}", count: int = 1,
          duration_s: float = 2000.0, radio_range_m: float | None = 2000.0):
    """A flat 6 x 2 km world with a patrol corridor running east from the base; the
    base's mast reaches ``radio_range_m`` (so the far end of the corridor is out of link)."""
    radio = "" if radio_range_m is None else f", radio_range_m: {radio_range_m}"
    return load_scenario_text(f"""
schema_version: 1
name: oversight_policy_test
run: {{duration_s: {duration_s}, seed: 1, monitor_window_s: {WINDOW}}}
world:
  terrain: {{source: flat, size_m: [6000, 2000], spacing_m: 100}}
  sites:
    - {{id: home, kind: base, position: [300, 1000], pads: 4{radio}}}
fleet:
  types:
    - {{id: quad, kind: multirotor, count: {count}, base: home, cruise_speed_mps: 20,
       climb_rate_mps: 5, cruise_altitude_agl_m: 50, battery_wh: 1.0e5,
       hover_power_w: 100, cruise_power_w: 100, recharge_time_s: 10,
       sensor: {{footprint_radius_m: 100}}}}
missions:
  - {{id: corridor, kind: persistent, area: {{rect: [0, 800, 6000, 1200]}}}}
policy: {{name: {policy}, params: {params}}}
oversight:
{oversight}
""", filename="<oversight policy test>")


def recording(cls):
    """A subclass of policy ``cls`` that keeps every plan it returns, with the time."""

    class Recording(cls):
        def __init__(self):
            self.plans = []

        def decide(self, now_s, fleet, requests):
            plans = super().decide(now_s, fleet, requests)
            self.plans += [(now_s, p) for p in plans]
            return plans

    return Recording()


def events(run, kind: str, vehicle: int | None = None, detail: str | None = None):
    ev = run.events
    sel = ev["kind"] == kind
    if vehicle is not None:
        sel &= ev["vehicle"] == vehicle
    if detail is not None:
        sel &= ev["detail"] == detail
    return ev["time_s"][sel]


def vehicle_legs(run, v: int):
    """(kind, t0, t1, x0, x1) of vehicle ``v``'s legs in time order."""
    legs = run.legs
    idx = np.flatnonzero(legs["vehicle"] == v)
    idx = idx[np.argsort(legs["t0_s"][idx], kind="stable")]
    return [(str(legs["kind"][i]), float(legs["t0_s"][i]), float(legs["t1_s"][i]),
             float(legs["x0_m"][i]), float(legs["x1_m"][i])) for i in idx]


def route_starts(run, v: int) -> list[float]:
    """Start times of the vehicle's routes: move legs that follow a leg of another kind."""
    starts, prev = [], None
    for kind, t0, *_ in vehicle_legs(run, v):
        if kind == "move" and prev != "move":
            starts.append(t0)
        prev = kind
    return starts


# --------------------------------------------------------------------------- registry


@pytest.mark.parametrize("name, cls", [("cautious_patrol", CautiousPatrol),
                                       ("autonomous_patrol", AutonomousPatrol)])
def test_the_variants_are_registered_under_their_names(name, cls):
    assert policy_class(name) is cls
    assert cls.name == name


@pytest.mark.parametrize("name", ["cautious_patrol", "autonomous_patrol"])
def test_the_variants_pass_the_checker_with_operators_and_links(name):
    """Deterministic (and leaving their inputs alone) with approvals, vetoes and
    link events in play, not only on the checker's default scenario. Each gets the
    rule for the class of its routes (a rule for a class a policy never emits is
    refused): cautious_patrol's re-tasks need approval, autonomous_patrol's transits
    a veto review."""
    route = ("retask: {rule: approve, service: {dist: exponential, mean_s: 20}}"
             if name == "cautious_patrol" else
             "transit: {rule: veto, service: {dist: exponential, mean_s: 20}, "
             "veto_window_s: 30, approve_probability: 0.7}")
    sc = strip(name, f"""
  operators: 1
  rules:
    {route}
    continue_lost_link: forbidden
  detection_review: {{false_alarms_per_vehicle_hour: 2}}""", count=3, duration_s=1500.0)
    report = check_policy(name, sc)
    assert report.legs > 0 and report.events > 0


@pytest.mark.parametrize("name, key, value, words", [
    ("cautious_patrol", "on_denied", "'sometimes'", "'retry' or 'return'"),
    ("cautious_patrol", "after_lost_link", "'continue'", "'regain' or 'resume' or 'return'"),
    ("cautious_patrol", "max_retries", "-1", "an integer >= 0 or null"),
    ("cautious_patrol", "lost_link_hold_s", "0", "a number > 0 or null"),
    ("autonomous_patrol", "retry_after_s", "-5", "a number > 0"),
    ("autonomous_patrol", "lost_link_hold_s", "60", "unknown parameter"),
])
def test_parameters_are_validated(name, key, value, words):
    sc = strip(name, "  operators: 1", params=f"{{{key}: {value}}}")
    with pytest.raises(ScenarioError, match=f"policy.params.{key}") as err:
        Simulation(sc)
    assert words in str(err.value)


# --------------------------------------------------------------------------- cautious


def test_cautious_routes_are_retasks_and_each_starts_after_its_approval():
    """With ``retask: approve`` and one operator serving 20 s each, three vehicles ask
    for every route: each route (a run of move legs) starts after an auth_granted of
    its own vehicle and before the next one, and nothing moves unauthorized."""
    sc = strip("cautious_patrol", """
  operators: 1
  rules:
    retask: {rule: approve, service: 20}""", count=3, duration_s=1500.0,
               params="{horizon_periods: 2}")
    policy = recording(CautiousPatrol)
    run = Simulation(sc, policy=policy).run()
    moves = [a for _, p in policy.plans for a in p.actions if isinstance(a, (GoTo, Route))]
    assert moves and {a.action_class for a in moves} == {"retask"}
    for v in range(3):
        grants = events(run, "auth_granted", v, "retask")
        starts = route_starts(run, v)
        assert len(starts) >= 3
        assert len(starts) <= len(grants)
        for i, s in enumerate(starts):
            assert grants[i] <= s + 1e-9
            if i + 1 < len(grants):
                assert s < grants[i + 1]
    m = compute_metrics(run)
    assert m["oversight.unauthorized_actions"] == 0
    assert m["oversight.approvals_granted"] >= 9
    # One operator for three vehicles: somebody waited longer than one service.
    assert m["oversight.approval_wait_max_s"] > 20.0


def test_cautious_holds_on_lost_link_until_the_link_is_back():
    """Out of link at the east end of the corridor, the cautious vehicle holds
    (``lost_link_hold_s``), then flies back towards its base, and patrols again only
    once the link is restored; it is never refused for flying on without a link."""
    sc = strip("cautious_patrol", """
  operators: 1
  rules:
    continue_lost_link: forbidden""",
               params="{keep_in_range: false, lost_link_hold_s: 100}", duration_s=1200.0)
    run = Simulation(sc).run()
    lost = events(run, "link_lost", 0)
    restored = events(run, "link_restored", 0)
    assert len(lost) >= 1 and len(restored) >= 1
    t_lost = lost[0]
    t_back = restored[restored > t_lost][0]
    legs = vehicle_legs(run, 0)
    after = [leg for leg in legs if leg[1] >= t_lost - 1e-9]
    hold = after[0]
    assert hold[0] == "hold"
    assert hold[1] - t_lost <= WINDOW + 1e-9  # the policy heard of it within a window
    assert hold[2] - hold[1] == pytest.approx(100.0)
    assert hold[3] > 2000.0  # out of the mast's range
    between = [leg for leg in after if leg[1] < t_back]
    assert {leg[0] for leg in between} <= {"hold", "return"}
    assert any(leg[0] == "return" for leg in between)  # regaining the link
    resumed = [leg for leg in legs if leg[0] == "move" and leg[1] >= t_back]
    assert resumed and resumed[0][1] - t_back <= WINDOW + 1e-9
    assert len(events(run, "action_refused", 0)) == 0
    m = compute_metrics(run)
    assert m["oversight.unauthorized_actions"] == 0
    assert m["oversight.actions_refused"] == 0


def test_cautious_keeps_to_radio_range_by_default():
    sc = strip("cautious_patrol", "  operators: 1", duration_s=1200.0)
    run = Simulation(sc).run()
    assert len(events(run, "link_lost", 0)) == 0
    assert max(leg[4] for leg in vehicle_legs(run, 0)) < 2000.0 + 300.0


def test_cautious_asks_again_after_a_denial_and_gives_up_after_max_retries():
    """Every approval is denied (10 s each). Parked at its base, the vehicle asks again
    ``retry_after_s`` later (at the next periodic decision: every 20 s here): at 0, 60
    and 120; the third denial is one more than ``max_retries`` and it stays parked."""
    sc = strip("cautious_patrol", """
  operators: 1
  rules:
    retask: {rule: approve, service: 10, approve_probability: 0.0}""",
               params="{retry_after_s: 50, max_retries: 2, decision_period_s: 20}",
               duration_s=600.0)
    run = Simulation(sc).run()
    assert events(run, "auth_request", 0, "retask").tolist() == [0.0, 60.0, 120.0]
    assert events(run, "auth_denied", 0, "retask").tolist() == [10.0, 70.0, 130.0]
    assert len(events(run, "takeoff", 0)) == 0


def test_cautious_with_on_denied_return_does_not_ask_again():
    sc = strip("cautious_patrol", """
  operators: 1
  rules:
    retask: {rule: approve, service: 10, approve_probability: 0.0}""",
               params="{on_denied: return, decision_period_s: 20}", duration_s=600.0)
    run = Simulation(sc).run()
    assert events(run, "auth_request", 0, "retask").tolist() == [0.0]


# --------------------------------------------------------------------------- autonomous


def test_autonomous_is_sent_home_by_the_engine_when_flying_on_is_forbidden():
    """``continue_lost_link: forbidden``: the autonomous vehicle gives no new plan on
    link loss, so the engine refuses to let it fly on and sends it home: an
    ``action_refused`` (continue_lost_link) and a return leg starting then."""
    sc = strip("autonomous_patrol", """
  operators: 1
  rules:
    continue_lost_link: forbidden""", duration_s=600.0)
    run = Simulation(sc).run()
    t_lost = events(run, "link_lost", 0)[0]
    refused = events(run, "action_refused", 0, "continue_lost_link")
    assert len(refused) >= 1
    t_ref = refused[0]
    assert t_lost <= t_ref <= t_lost + WINDOW + 1e-9
    assert t_ref in events(run, "return_start", 0)
    legs = vehicle_legs(run, 0)
    assert any(kind == "return" and abs(t0 - t_ref) < 1e-9 for kind, t0, *_ in legs)
    assert not any(kind == "move" and t_ref - 1e-9 <= t0 for kind, t0, t1, *_ in legs
                   if t0 < t_ref + 100.0)  # it went home rather than on patrolling
    m = compute_metrics(run)
    assert m["oversight.actions_refused"] >= 1
    assert m["oversight.unauthorized_actions"] == 0


def test_autonomous_flies_on_out_of_link_and_tags_it_when_the_rules_allow():
    """``continue_lost_link: notify``: it flies on out of link; the routes it is given
    while out of link are tagged continue_lost_link (an operator acknowledges them),
    the others transit."""
    sc = strip("autonomous_patrol", """
  operators: 1
  rules:
    continue_lost_link: {rule: notify, service: 5}""", duration_s=900.0)
    policy = recording(AutonomousPatrol)
    run = Simulation(sc, policy=policy).run()
    t_lost = events(run, "link_lost", 0)[0]
    back = events(run, "link_restored", 0)
    t_back = back[back > t_lost][0] if (back > t_lost).any() else np.inf
    assert len(events(run, "action_refused", 0)) == 0
    classes = {(t_lost + WINDOW < t < t_back - WINDOW, a.action_class)
               for t, p in policy.plans for a in p.actions}
    assert (False, "transit") in classes
    assert (True, "continue_lost_link") in classes
    assert (True, "transit") not in classes
    assert len(events(run, "action_start", 0, "continue_lost_link")) >= 1
    assert len(events(run, "ack", 0, "continue_lost_link")) >= 1
    far = [leg for leg in vehicle_legs(run, 0) if leg[0] == "move" and leg[1] > t_lost]
    assert max(leg[4] for leg in far) > 3000.0  # well beyond the mast's 2 km


# --------------------------------------------------------------------------- scenarios


@pytest.mark.parametrize("name", ["coastal_patrol", "oversight_tradeoff"])
def test_the_oversight_scenarios_validate_and_run_shortened(name, tmp_path, capsys):
    path = ROOT / "scenarios" / f"{name}.yaml"
    assert main(["validate", str(path)]) == EXIT_OK
    out = tmp_path / name
    assert main(["run", str(path), "--out", str(out), "-q", "--no-replay",
                 "--set", "run.duration_s=600"]) == EXIT_OK
    metrics = json.loads((out / "metrics.json").read_text())
    missing = [k for k in (*OVERSIGHT_NAMES, *COMMS_NAMES) if k not in metrics]
    assert not missing
    assert all(metrics[k] is not None for k in COMMS_NAMES)  # both have ground stations
    assert metrics["oversight.operators"] >= 1
    assert metrics["oversight.unauthorized_actions"] == 0
    assert metrics["coverage.fraction"] > 0.0
    capsys.readouterr()


def test_coastal_patrol_has_the_pieces_it_promises():
    from fleetsim.scenario import load_scenario
    from fleetsim.world.world import build_world

    sc = load_scenario(ROOT / "scenarios" / "coastal_patrol.yaml")
    world = build_world(sc)
    assert sc.oversight.operators == 3
    water = world.terrain.water  # ground below sea level: sea, flown over at its surface
    assert 0.0 < water.mean() < 1.0
    assert np.min(world.terrain.heights_m) == 0.0 < np.max(world.terrain.heights_m)
    t = world.terrain
    ix = np.rint((np.asarray(world.targets_xy)[:, 0] - t.origin_m[0]) / t.spacing_m).astype(int)
    iy = np.rint((np.asarray(world.targets_xy)[:, 1] - t.origin_m[1]) / t.spacing_m).astype(int)
    assert water[iy, ix].all()  # the vessels are at sea
    assert any(s.radio_range_m for s in sc.sites)
    assert any(s.sensor_radius_m and s.false_alarms_per_hour > 0 for s in sc.sites)
    assert any(t.relay_range_m for t in sc.vehicle_types)
    assert any(z.kind == "restricted" for z in sc.zones)
    rules = sc.oversight.rules
    assert rules["continue_lost_link"].rule == "forbidden"
    assert sc.oversight.detection_review.false_alarms_per_vehicle_hour > 0


def relay_strip(params: str = "{}", *, duration_s: float = 1500.0):
    """The corridor of :func:`strip` patrolled by two quadrotors, with one relay drone
    (relay range 2,500 m) from the same base; the mast reaches 2,000 m."""
    return load_scenario_text(f"""
schema_version: 1
name: relay_test
run: {{duration_s: {duration_s}, seed: 1, monitor_window_s: {WINDOW}}}
world:
  terrain: {{source: flat, size_m: [6000, 2000], spacing_m: 100}}
  sites:
    - {{id: home, kind: base, position: [300, 1000], pads: 4, radio_range_m: 2000}}
fleet:
  types:
    - {{id: quad, kind: multirotor, count: 2, base: home, cruise_speed_mps: 20,
       climb_rate_mps: 5, cruise_altitude_agl_m: 50, battery_wh: 1.0e5,
       hover_power_w: 100, cruise_power_w: 100, recharge_time_s: 10,
       sensor: {{footprint_radius_m: 100}}}}
    - {{id: relay, kind: multirotor, count: 1, base: home, cruise_speed_mps: 20,
       climb_rate_mps: 5, cruise_altitude_agl_m: 50, battery_wh: 1.0e5,
       hover_power_w: 100, cruise_power_w: 100, recharge_time_s: 10,
       relay_range_m: 2500, sensor: {{footprint_radius_m: 100}}}}
missions:
  - {{id: corridor, kind: persistent, area: {{rect: [0, 800, 6000, 1200]}}}}
policy: {{name: cautious_patrol, params: {params}}}
oversight:
  operators: 1
""", filename="<relay test>")


def test_cautious_relay_holds_where_it_brings_out_of_range_cells_into_link():
    """The relay's default point (the corridor's centroid, 2,700 m from the mast) would
    itself be out of link; it holds instead at the patrol cell in the mast's range
    from which it links the most of the corridor, and the patrol drones work the
    corridor out to the relay's reach without ever losing the link."""
    sim = Simulation(relay_strip())
    pol = sim.policy
    run = sim.run()
    rx, ry = pol.relay_xy[2]
    assert np.hypot(rx - 300.0, ry - 1000.0) <= 0.97 * 2000.0
    assert rx > 1800.0  # as far out as the mast allows (a cell is 200 m)
    reach = rx + 0.97 * 2500.0
    centres = pol.centres[:, 0]
    assert not pol.dark[centres < reach - 100.0].any()
    assert pol.dark[centres > reach + 100.0].all()
    far = max(max(leg[3], leg[4]) for v in (0, 1) for leg in vehicle_legs(run, v))
    assert far > 2000.0 + 1000.0  # well beyond the mast's own range
    assert len(events(run, "link_lost")) == 0


def test_cautious_drops_a_cell_where_the_link_was_lost_for_dark_for_s_only():
    sim = Simulation(strip("cautious_patrol", "  operators: 1",
                           params="{dark_for_s: 600}", duration_s=60.0))
    pol = sim.policy
    sim.run()
    cell = int(np.flatnonzero(~pol.dark)[0])
    before = float(pol.last_visit[cell])
    pol._drop([cell], 700.0)
    pol._undrop(699.0)
    assert pol.dark[cell] and pol.last_visit[cell] > 1e14  # never the most idle
    pol._undrop(700.0)
    assert not pol.dark[cell]
    assert pol.last_visit[cell] == before  # as idle as it was when dropped
    # ... and the first-hop index knows it again: it is the best first hop from there
    best = pol.best_cells(pol.centres[cell], 20.0, 1)
    assert pol.last_visit[best[0]] <= before

"""Oversight in the engine: exact event sequences for each authorization rule, stop
commands, reviews, lost-link rule, and the approval queue against M/M/1."""

import numpy as np
import pytest

from fleetsim.engine import Simulation
from fleetsim.metrics import compute_metrics
from fleetsim.policy import GoTo, Plan, Policy
from fleetsim.scenario import load_scenario_text

SPEED, CLIMB, AGL = 10.0, 5.0, 50.0  # take-off lasts 10 s


def scenario(oversight: str, *, count: int = 1, duration_s: float = 2000.0, sites: str = "",
             extra: str = "") -> str:
    return f"""
schema_version: 1
name: oversight
run: {{duration_s: {duration_s}, seed: 3, monitor_window_s: 5}}
world:
  terrain: {{source: flat, size_m: [20000, 20000], spacing_m: 100}}
  sites:
    - {{id: home, kind: base, position: [1000, 1000], pads: 4}}
{sites}
fleet:
  types:
    - {{id: quad, kind: multirotor, count: {count}, base: home, cruise_speed_mps: {SPEED},
       climb_rate_mps: {CLIMB}, cruise_altitude_agl_m: {AGL}, battery_wh: 1.0e6,
       hover_power_w: 100, cruise_power_w: 100, recharge_time_s: 10,
       sensor: {{footprint_radius_m: 20}}}}
{extra}
policy: {{name: random_search}}
oversight:
{oversight}
"""


class Out(Policy):
    """Each vehicle flies 1000 m east (100 s) as a ``retask``; remembers its requests."""

    name = "out"

    def __init__(self):
        self.seen = []

    def decide(self, now_s, fleet, requests):
        plans = []
        for r in requests:
            self.seen.append((round(now_s, 6), r.vehicle, r.reason))
            if r.reason == "start":
                x, y = fleet.home_xy[r.vehicle]
                plans.append(Plan(r.vehicle, [GoTo(float(x) + 1000.0, float(y),
                                                   action_class="retask")]))
        return plans


def seq(run, kinds=None):
    ev = run.events
    rows = []
    for t, k, v, op, d in zip(ev["time_s"], ev["kind"], ev["vehicle"], ev["operator"],
                              ev["detail"], strict=True):
        if kinds is None or k in kinds:
            rows.append((round(float(t), 6), str(k), int(v), int(op), str(d)))
    return rows


OVERSIGHT_KINDS = ("takeoff", "arrive", "auth_request", "auth_granted", "auth_denied",
                   "auth_timeout", "action_start", "action_refused", "ack", "veto_late",
                   "work_start", "work_end")


def test_approve_waits_on_the_ground_for_the_operator():
    """retask needs approval, service exactly 30 s: the vehicle asks at t = 0, an
    operator (0) serves 0..30, it is approved at 30, takes off (10 s) and arrives 100 s
    later at 140. take-off is auto."""
    sc = load_scenario_text(scenario("""
  operators: 1
  rules:
    retask: {rule: approve, service: 30}"""))
    run = Simulation(sc, policy=Out()).run()
    assert seq(run, OVERSIGHT_KINDS) == [
        (0.0, "auth_request", 0, -1, "retask"),
        (0.0, "work_start", 0, 0, "approve"),
        (30.0, "work_end", 0, 0, "approve"),
        (30.0, "auth_granted", 0, 0, "retask"),
        (30.0, "action_start", 0, 0, "retask"),
        (30.0, "takeoff", 0, -1, ""),
        (140.0, "arrive", 0, -1, ""),
    ]
    m = compute_metrics(run)
    assert m["oversight.approvals_granted"] == 1
    assert m["oversight.approval_wait_mean_s"] == 30.0
    assert m["oversight.unauthorized_actions"] == 0
    assert m["oversight.traceable_share"] == 1.0


def test_two_vehicles_one_operator_the_second_waits_for_the_first():
    """Both ask at t = 0; the single operator serves vehicle 0 (0..30) then vehicle 1
    (30..60): the second waits 60 s in all."""
    sc = load_scenario_text(scenario("""
  operators: 1
  rules:
    retask: {rule: approve, service: 30}""", count=2))
    run = Simulation(sc, policy=Out()).run()
    granted = [r for r in seq(run) if r[1] == "auth_granted"]
    assert granted == [(30.0, "auth_granted", 0, 0, "retask"),
                       (60.0, "auth_granted", 1, 0, "retask")]
    m = compute_metrics(run)
    assert m["oversight.approval_wait_max_s"] == 60.0
    assert m["oversight.approval_wait_mean_s"] == 45.0


def test_an_approval_that_times_out_drops_the_plan_and_tells_the_policy():
    """timeout 20 s, service 30 s, one operator: vehicle 0's request is served from 0
    but cannot be decided by 20, so it times out at exactly 20 (the operator is freed
    then); vehicle 1's, still queued, times out at 20 too. Both policies hear
    'approval_timeout' and nothing flies."""
    sc = load_scenario_text(scenario("""
  operators: 1
  rules:
    retask: {rule: approve, service: 30, timeout_s: 20}""", count=2))
    policy = Out()
    run = Simulation(sc, policy=policy).run()
    assert seq(run, OVERSIGHT_KINDS) == [
        (0.0, "auth_request", 0, -1, "retask"),
        (0.0, "auth_request", 1, -1, "retask"),
        (0.0, "work_start", 0, 0, "approve"),
        (20.0, "work_end", 0, 0, "approve"),
        (20.0, "auth_timeout", 0, 0, "retask"),
        (20.0, "auth_timeout", 1, -1, "retask"),
    ]
    assert (20.0, 0, "approval_timeout") in policy.seen
    assert (20.0, 1, "approval_timeout") in policy.seen
    legs = run.legs
    assert not (legs["kind"] == "move").any()
    m = compute_metrics(run)
    assert m["oversight.approvals_timed_out"] == 2
    assert m["oversight.approvals_granted"] == 0


@pytest.mark.parametrize(("service", "granted"), [(10, True), (11, False)])
def test_no_grant_after_the_deadline_golden(service, granted):
    """One operator, timeout 20 s. Vehicle 0 is served 0..service and approved.
    Vehicle 1 is served from ``service``: with service 10 its decision falls exactly
    at the deadline (20) and stands; with 11 it would come at 22, so it times out at
    exactly 20 with the operator freed then, and no grant follows."""
    sc = load_scenario_text(scenario(f"""
  operators: 1
  rules:
    retask: {{rule: approve, service: {service}, timeout_s: 20}}""", count=2))
    policy = Out()
    run = Simulation(sc, policy=policy).run()
    s = float(service)
    second = ([(20.0, "work_end", 1, 0, "approve"), (20.0, "auth_granted", 1, 0, "retask"),
               (20.0, "action_start", 1, 0, "retask"), (20.0, "takeoff", 1, -1, "")]
              if granted else
              [(20.0, "work_end", 1, 0, "approve"), (20.0, "auth_timeout", 1, 0, "retask")])
    assert seq(run, OVERSIGHT_KINDS)[:10] == [
        (0.0, "auth_request", 0, -1, "retask"),
        (0.0, "auth_request", 1, -1, "retask"),
        (0.0, "work_start", 0, 0, "approve"),
        (s, "work_end", 0, 0, "approve"),
        (s, "auth_granted", 0, 0, "retask"),
        (s, "action_start", 0, 0, "retask"),
        (s, "takeoff", 0, -1, ""),
        (s, "work_start", 1, 0, "approve"),
        *second,
    ][:10]
    m = compute_metrics(run)
    assert m["oversight.approvals_granted"] == (2 if granted else 1)
    assert m["oversight.approvals_timed_out"] == (0 if granted else 1)
    assert m["oversight.approval_wait_max_s"] == 20.0
    assert ((20.0, 1, "approval_timeout") in policy.seen) is not granted


def test_no_approval_outlives_its_timeout_under_load():
    """oversight_tradeoff with one operator and a 40 s timeout (lognormal service,
    mean 15 s): many requests queue and many services would overrun. The rule is
    exact, so every approval decision (grant, denial or timeout) comes at most
    timeout_s after its request; the 1e-9 s allows only for the rounding of the
    subtraction that forms the recorded wait."""
    from pathlib import Path

    from fleetsim.scenario import load_scenario

    root = Path(__file__).resolve().parents[2]
    sc = load_scenario(root / "scenarios" / "oversight_tradeoff.yaml",
                       ["run.duration_s=1800", "oversight.operators=1",
                        "oversight.rules.retask.timeout_s=40"])
    run = Simulation(sc).run()
    ev = run.events
    decided = np.isin(ev["kind"], ("auth_granted", "auth_denied", "auth_timeout")) & \
        (ev["detail"] == "retask")
    waits = ev["value"][decided]
    assert len(waits) > 100
    assert waits.max() <= 40.0 + 1e-9
    timed_out = (ev["kind"] == "auth_timeout") & (ev["detail"] == "retask")
    # Both ways of timing out happen: cut in service (an operator named) and queued.
    assert ((ev["operator"] >= 0) & timed_out).sum() > 0
    assert ((ev["operator"] < 0) & timed_out).sum() > 0
    m = compute_metrics(run)
    assert m["oversight.approval_wait_max_s"] <= 40.0 + 1e-9


def test_denied_approval_is_not_acted_on():
    sc = load_scenario_text(scenario("""
  operators: 1
  rules:
    retask: {rule: approve, service: 30, approve_probability: 0.0}"""))
    policy = Out()
    run = Simulation(sc, policy=policy).run()
    assert (30.0, "auth_denied", 0, 0, "retask") in seq(run)
    assert (30.0, 0, "approval_denied") in policy.seen
    assert "takeoff" not in [k for _, k, *_ in seq(run)]


def test_notify_acts_at_once_and_the_ack_comes_later():
    sc = load_scenario_text(scenario("""
  operators: 1
  rules:
    retask: {rule: notify, service: 30}"""))
    run = Simulation(sc, policy=Out()).run()
    assert seq(run, OVERSIGHT_KINDS) == [
        (0.0, "action_start", 0, -1, "retask"),
        (0.0, "takeoff", 0, -1, ""),
        (0.0, "work_start", 0, 0, "notify_ack"),
        (30.0, "work_end", 0, 0, "notify_ack"),
        (30.0, "ack", 0, 0, "retask"),
        (110.0, "arrive", 0, -1, ""),
    ]


def test_veto_acts_after_the_window_unless_an_operator_objects_first():
    """Veto window 60 s, review takes 90 s: the vehicle acts at 60 (unopposed so far);
    when the operator vetoes at 90 that is a veto-window violation."""
    sc = load_scenario_text(scenario("""
  operators: 1
  rules:
    retask: {rule: veto, veto_window_s: 60, service: 90, approve_probability: 0.0}"""))
    run = Simulation(sc, policy=Out()).run()
    rows = seq(run, OVERSIGHT_KINDS)
    assert (60.0, "auth_granted", 0, -1, "retask") in rows
    assert (60.0, "takeoff", 0, -1, "") in rows
    assert (90.0, "veto_late", 0, 0, "retask") in rows
    assert compute_metrics(run)["oversight.veto_window_violations"] == 1


def test_a_veto_in_time_stops_the_action():
    sc = load_scenario_text(scenario("""
  operators: 1
  rules:
    retask: {rule: veto, veto_window_s: 60, service: 20, approve_probability: 0.0}"""))
    run = Simulation(sc, policy=Out()).run()
    rows = seq(run, OVERSIGHT_KINDS)
    assert (20.0, "auth_denied", 0, 0, "retask") in rows
    assert not any(k == "takeoff" for _, k, *_ in rows)


def test_forbidden_is_never_done():
    sc = load_scenario_text(scenario("""
  operators: 1
  rules:
    retask: forbidden"""))
    policy = Out()
    run = Simulation(sc, policy=policy).run()
    assert seq(run, OVERSIGHT_KINDS) == [(0.0, "action_refused", 0, -1, "retask")]
    assert (0.0, 0, "approval_denied") in policy.seen
    assert compute_metrics(run)["oversight.unauthorized_actions"] == 0


def test_a_stop_command_sends_every_vehicle_home_and_measures_the_latency():
    """Stop at t = 50 s; the operator handles it in 5 s (first in the queue). The
    vehicle, 450 m out at 55 s (take-off 0..10, then 10 m/s), is at its transit altitude
    already, flies 450 m home (45 s) and lands (10 s): safe at 110 s, latency 60 s."""
    sc = load_scenario_text(scenario("""
  operators: 1
  stops: [{time_s: 50, vehicles: all, safe_state: return}]"""))
    run = Simulation(sc, policy=Out()).run()
    rows = seq(run)
    assert (50.0, "stop_issued", -1, -1, "return") in rows
    safe = [r for r in rows if r[1] == "stop_safe"]
    assert safe == [(110.0, "stop_safe", 0, -1, "")]
    m = compute_metrics(run)
    assert m["oversight.stop_latency_max_s"] == pytest.approx(60.0)
    # parked for good afterwards
    legs = run.legs
    last = np.flatnonzero(legs["vehicle"] == 0)[-1]
    assert legs["kind"][last] == "ground" and legs["t1_s"][last] == 2000.0


def test_detections_and_false_alarms_become_review_work():
    """A target on the route is seen and reviewed; a fixed mast sees a target in its
    footprint at t = 0; each review takes exactly 10 s."""
    sc = load_scenario_text(scenario("""
  operators: 1
  detection_review: {service: 10, priority: 1}""",
        sites="    - {id: mast, kind: ground_station, position: [5000, 5000], sensor_radius_m: 300}",
        extra="missions:\n  - {id: m, kind: search, area: {rect: [0, 0, 20000, 20000]},"
              " targets: [[1500, 1000], [5100, 5000]]}"))
    run = Simulation(sc, policy=Out()).run()
    reviews = [r for r in seq(run) if r[1] == "review"]
    assert len(reviews) == 2
    assert reviews[0] == (10.0, "review", -1, 0, "detection")  # the mast's, at t = 0 + 10
    m = compute_metrics(run)
    assert m["oversight.detections_reviewed"] == 2


def test_approval_waits_match_mm1():
    """Poisson approval requests (rate lam = 0.02/s: 200 vehicles asking once each at the
    points of a Poisson process) and exponential service (mean 30 s, mu = 1/30): rho = 0.6,
    so M/M/1 gives W_q = rho / (mu - lam) = 45 s in the queue and W = W_q + 1/mu = 75 s
    from request to decision (what auth_granted records). 200 customers give a noisy mean
    (its standard error at rho = 0.6 is about 15 %), so the test pools 6 seeds (1200
    customers, about 6 %) and allows 15 % on each: a check that the engine queues
    approvals as one FIFO server, which the pool's own tests pin down to 2 %."""
    class Staggered(Policy):
        name = "staggered"

        def reset(self, ctx):
            super().reset(ctx)
            self.rng = ctx.rng
            self.when = self.rng.exponential(1.0 / 0.02, size=len(ctx.home_xy)).cumsum()

        def decide(self, now_s, fleet, requests):
            return [Plan(r.vehicle, [GoTo(float(fleet.home_xy[r.vehicle][0]),
                                          float(fleet.home_xy[r.vehicle][1]) + 1.0,
                                          action_class="retask")])
                    for r in requests if r.reason == "start"]

    waits = []
    for seed in range(6):
        text = scenario("""
  operators: 1
  rules:
    retask: {rule: approve, service: {dist: exponential, mean_s: 30}}""", count=200,
                        duration_s=20000.0)
        sc = load_scenario_text(text, overrides=[f"run.seed={seed}"])
        # Requests at Poisson times: hold each vehicle's start until its time.
        pol = Staggered()
        sim = Simulation(sc, policy=pol)
        times = pol.when
        orig = sim.request

        def delayed(v, reason, target=-1, orig=orig, sim=sim, times=times):
            if reason != "start":
                return orig(v, reason, target)
            ev = sim.env.timeout(float(times[v]))
            ev.callbacks.append(lambda _e: None)
            done = sim.env.event()

            def fire(_e, v=v):
                orig(v, reason, target).callbacks.append(lambda _x: done.succeed())

            ev.callbacks.append(fire)
            return done

        sim.request = delayed
        run = sim.run()
        ev = run.events
        granted = ev["kind"] == "auth_granted"
        starts = ev["kind"] == "work_start"
        request = dict(zip(ev["vehicle"][ev["kind"] == "auth_request"].tolist(),
                           ev["time_s"][ev["kind"] == "auth_request"].tolist(), strict=True))
        queued = [t - request[v] for v, t in zip(ev["vehicle"][starts].tolist(),
                                                 ev["time_s"][starts].tolist(), strict=True)]
        waits.append((ev["value"][granted], np.array(queued)))
    w = np.concatenate([a for a, _ in waits])
    wq = np.concatenate([b for _, b in waits])
    assert len(w) >= 1100
    assert w.mean() == pytest.approx(75.0, rel=0.15)
    assert wq.mean() == pytest.approx(45.0, rel=0.15)


def test_span_of_control_caps_the_vehicles_in_the_air():
    """span_of_control 2 with one operator: at most 2 vehicles fly at once; the other
    two are refused take-off (action_refused 'span_of_control') and told so."""
    sc = load_scenario_text(scenario("""
  operators: 1
  span_of_control: 2""", count=4))
    policy = Out()
    run = Simulation(sc, policy=policy).run()
    rows = seq(run)
    assert sum(1 for r in rows if r[1] == "takeoff") == 2
    refused = [r for r in rows if r[1] == "action_refused"]
    assert [(r[0], r[2], r[4]) for r in refused] == [(0.0, 2, "span_of_control"),
                                                     (0.0, 3, "span_of_control")]
    assert (0.0, 2, "approval_denied") in policy.seen


def test_oversight_runs_are_deterministic():
    """coastal_patrol (operators, vetoes, approvals, reviews, relays, fixed sensors),
    shortened: the same seed twice gives the same log; another seed does not."""
    from pathlib import Path

    from fleetsim.record import run_digest
    from fleetsim.scenario import load_scenario

    path = Path(__file__).resolve().parents[2] / "scenarios" / "coastal_patrol.yaml"
    digests = []
    for seed in (3, 3, 4):
        sc = load_scenario(path, ["run.duration_s=900", f"run.seed={seed}"])
        digests.append(run_digest(Simulation(sc).run()))
    assert digests[0] == digests[1] != digests[2]


RELAYED = f"""
schema_version: 1
name: relayed
run: {{duration_s: 400, seed: 1, monitor_window_s: 5}}
world:
  terrain: {{source: flat, size_m: [20000, 10000], spacing_m: 50}}
  sites:
    - {{id: home, kind: base, position: [4400, 5000], pads: 2}}
    - {{id: nest, kind: base, position: [1000, 5000], pads: 2}}
    - {{id: mast, kind: ground_station, position: [0, 5000], radio_range_m: 3000,
       antenna_height_m: {AGL}}}
fleet:
  types:
    - {{id: relay, kind: multirotor, count: 1, base: nest, cruise_speed_mps: {SPEED},
       climb_rate_mps: {CLIMB}, cruise_altitude_agl_m: {AGL}, battery_wh: 1.0e6,
       hover_power_w: 100, cruise_power_w: 100, recharge_time_s: 10,
       sensor: {{footprint_radius_m: 20}}, relay_range_m: 2000}}
    - {{id: quad, kind: multirotor, count: 1, base: home, cruise_speed_mps: {SPEED},
       climb_rate_mps: {CLIMB}, cruise_altitude_agl_m: {AGL}, battery_wh: 1.0e6,
       hover_power_w: 100, cruise_power_w: 100, recharge_time_s: 10,
       sensor: {{footprint_radius_m: 20}}}}
policy: {{name: random_search}}
oversight:
  operators: 1
  rules:
    retask: {{rule: approve, service: 30, timeout_s: 150}}
"""


class Relayed(Policy):
    """The relay (0) flies to where it links the quad (1) to the mast, arriving at
    200 s; the quad hops 100 m (auto) out of link, then needs approval to re-task."""

    name = "relayed"

    def __init__(self):
        self.seen = []

    def decide(self, now_s, fleet, requests):
        plans = []
        for r in requests:
            self.seen.append((round(now_s, 6), r.vehicle, r.reason))
            if r.reason == "start":
                plans.append(Plan(0, [GoTo(2900.0, 5000.0)]) if r.vehicle == 0 else
                             Plan(1, [GoTo(4500.0, 5000.0),
                                      GoTo(4600.0, 5000.0, action_class="retask")]))
        return plans


def test_the_timeout_runs_from_the_need_through_the_link_wait():
    """The quad needs approval at 20 s (its hop done) but is out of link until the
    relay links it at 160 s; the request reaches the operator then, whose 30 s service
    would end at 190. The deadline is 20 + 150 = 170 s, from when it was raised, not
    160 + 150: it times out at exactly 170 and the operator is freed."""
    policy = Relayed()
    run = Simulation(load_scenario_text(RELAYED), policy=policy).run()
    kinds = ("link_lost", "link_restored", "arrive", *OVERSIGHT_KINDS)
    assert [r for r in seq(run, kinds) if r[2] == 1] == [
        (0.0, "takeoff", 1, -1, ""),
        (0.0, "link_lost", 1, -1, ""),
        (20.0, "arrive", 1, -1, ""),
        (160.0, "link_restored", 1, -1, ""),
        (160.0, "auth_request", 1, -1, "retask"),
        (160.0, "work_start", 1, 0, "approve"),
        (170.0, "work_end", 1, 0, "approve"),
        (170.0, "auth_timeout", 1, 0, "retask"),
    ]
    assert (170.0, 1, "approval_timeout") in policy.seen

"""The engine's replaceable parts: the motion model, vehicle domains, subsystems.

One quadrotor at 10 m/s cruise, 5 m/s climb, 50 m above flat ground: take-off
lasts 10 s, then GoTo 1000 m east.
"""

from __future__ import annotations

import pytest

from fleetsim.engine import Simulation
from fleetsim.engine.api import Subsystem
from fleetsim.engine.domains import Carried, FixedWing, Multirotor, Network
from fleetsim.engine.motion import MotionModel
from fleetsim.policy import GoTo, Hold, Plan, Policy
from fleetsim.scenario import load_scenario_text

CRUISE_W = 360.0


def scenario(kind: str = "multirotor", extra: str = ""):
    return load_scenario_text(f"""
schema_version: 1
name: parts
run: {{duration_s: 400, seed: 1, monitor_window_s: 10}}
world:
  terrain: {{source: flat, size_m: [3000, 2000], spacing_m: 50}}
  sites: [{{id: home, kind: base, position: [100, 1000]}}]
fleet:
  types:
    - id: v
      kind: {kind}
      count: 1
      base: home
      cruise_speed_mps: 10
      climb_rate_mps: 5
      cruise_altitude_agl_m: 50
      battery_wh: 1000
      hover_power_w: 720
      cruise_power_w: {CRUISE_W}
      reserve_fraction: 0.2
      recharge_time_s: 1000
      sensor: {{footprint_radius_m: 30}}
missions:
  - {{id: m, kind: search, area: {{rect: [0, 0, 3000, 2000]}}}}
policy: {{name: fly}}
{extra}""")


class Fly(Policy):
    name = "fly"

    def __init__(self, actions):
        self.actions = actions
        self.requests: list[tuple[float, str]] = []

    def decide(self, now_s, fleet, requests):
        self.requests += [(now_s, r.reason) for r in requests]
        return [Plan(0, self.actions) for r in requests if r.reason == "start"]


def moves(run):
    legs = run.legs
    sel = legs["kind"] == "move"
    return legs["t0_s"][sel], legs["t1_s"][sel], legs["energy_wh"][sel]


class Headwind(MotionModel):
    """Half the ground speed over the ground in every direction (a crude wind)."""

    def leg_time(self, v, dx, dy, dz, speed):
        return super().leg_time(v, dx, dy, dz, speed * 0.5)

    def route(self, v, x0, y0, z0, xs, ys, zs, speeds, hx, hy):
        speeds = [0.5 * (self.speed[v] if speeds is None else speeds[i])
                  for i in range(len(xs))]
        return super().route(v, x0, y0, z0, xs, ys, zs, speeds, hx, hy)

    def straight_time(self, v, d):
        return 2.0 * super().straight_time(v, d)


def test_the_motion_model_decides_leg_time_and_energy():
    """Still air: 1000 m at 10 m/s from t = 10 s, 100 s at 360 W = 10 Wh. Half the
    ground speed: 200 s and 20 Wh."""
    t0, t1, e = moves(Simulation(scenario(), policy=Fly([GoTo(1100.0, 1000.0)])).run())
    assert t0.tolist() == [10.0] and t1.tolist() == [110.0]
    assert e == pytest.approx([CRUISE_W / 3600.0 * 100.0])
    sim = Simulation(scenario(), policy=Fly([GoTo(1100.0, 1000.0)]), motion=Headwind)
    assert isinstance(sim.motion, Headwind)
    t0, t1, e = moves(sim.run())
    assert t0.tolist() == [10.0] and t1.tolist() == [210.0]
    assert e == pytest.approx([CRUISE_W / 3600.0 * 200.0])


def test_each_vehicle_gets_its_domain():
    sim = Simulation(scenario(), policy=Fly([]))
    assert type(sim.domains[0]) is Multirotor and sim.domains[0].air
    sim = Simulation(scenario("fixed_wing"), policy=Fly([]))
    assert type(sim.domains[0]) is FixedWing
    assert issubclass(Carried, Multirotor) and not Network.air


def test_a_fixed_wing_loiters_where_a_multirotor_hovers():
    """``kind: fixed_wing`` alone flies as a fixed wing (default bank angle): its hold
    is a loiter orbit at cruise power, the multirotor's one still leg at hover power."""
    runs = [Simulation(scenario(k), policy=Fly([GoTo(1100.0, 1000.0), Hold(30.0)])).run()
            for k in ("multirotor", "fixed_wing")]
    mr, fw = (r.legs for r in runs)

    def held(legs):  # the legs of the 30 s hold (a wait for work follows it)
        h = legs["kind"] == "hold"
        t0 = legs["t0_s"][h][0]
        return h & (legs["t0_s"] >= t0) & (legs["t1_s"] <= t0 + 30.0 + 1e-9)

    h = held(mr)
    assert h.sum() == 1 and mr["x0_m"][h] == mr["x1_m"][h]
    assert mr["energy_wh"][h] == pytest.approx(720.0 / 3600.0 * 30.0)
    h = held(fw)
    assert h.sum() > 1 and (fw["x0_m"][h] != fw["x1_m"][h]).all()
    assert fw["energy_wh"][h].sum() == pytest.approx(CRUISE_W / 3600.0 * 30.0)
    assert "loiter" in runs[1].events["kind"].tolist()


class Recorder(Subsystem):
    """A subsystem that denies the first action once and records its hooks."""

    def __init__(self, eng):
        self.eng = eng
        self.calls: list[tuple] = []
        self.denied = False

    def attach(self, eng):
        self.calls.append(("attach", eng.env.now))

    def processes(self, *, progress=False):
        def tick():
            yield self.eng.env.timeout(50.0)
            self.calls.append(("tick", self.eng.env.now))
        return [tick()]

    def before_action(self, v, item):
        self.calls.append(("gate", self.eng.env.now, item[0]))
        if not self.denied:
            self.denied = True
            return "approval_denied"
        return item
        yield

    def finish(self, end_s):
        self.calls.append(("finish", end_s))


def test_a_subsystem_plugs_in_through_its_hooks():
    """The gate refuses the first GoTo (the policy is asked again with its reason and
    re-plans); the second goes: take-off at 0 s, arrival 110 s."""

    class Again(Fly):
        def decide(self, now_s, fleet, requests):
            self.requests += [(now_s, r.reason) for r in requests]
            return [Plan(0, self.actions) for r in requests
                    if r.reason in ("start", "approval_denied")]

    made: list[Recorder] = []

    def make(eng):
        made.append(Recorder(eng))
        return made[0]

    policy = Again([GoTo(1100.0, 1000.0)])
    sim = Simulation(scenario(), policy=policy, subsystems=[make])
    assert sim.subsystems[-1] is made[0] and sim.hooks["before_action"] == [made[0]]
    assert made[0] not in sim.hooks["on_leg_cut"]  # it does not override the hook
    run = sim.run()
    assert made[0].calls == [("attach", 0.0), ("gate", 0.0, "route"), ("gate", 0.0, "route"),
                             ("tick", 50.0), ("finish", 400.0)]
    assert policy.requests[:2] == [(0.0, "start"), (0.0, "approval_denied")]
    t0, t1, _ = moves(run)
    assert t0.tolist() == [10.0] and t1.tolist() == [110.0]


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_paused_for_the_run_and_left_as_it_was(enabled):
    """The cyclic garbage collector is off while the run is simulated and its tables
    made (the run's many small objects would be rescanned over and over), and as it was
    after, the recorded run the same either way."""
    import gc

    seen = []
    sim = Simulation(scenario(), policy=Fly([GoTo(1100.0, 1000.0)]))
    orig = sim.finish

    def finish():
        seen.append(gc.isenabled())
        return orig()

    sim.finish = finish
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        run = sim.run()
        after = gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()
    assert seen == [False] and after is enabled
    assert moves(run)[1].tolist() == [110.0]

"""The learning interfaces' orders-as-actions, known-target and waypoint modes: the API
checks of PettingZoo and Gymnasium in each, determinism over whole episodes, an order
action ending in a delivery in the record, and the item features in closed form."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import shapely

from fleetsim.engine import Simulation
from fleetsim.policy import Deliver, GoTo, Hold, Pickup, Plan, Request
from fleetsim.record import run_digest
from fleetsim.rl.core import FleetCore
from fleetsim.rl.features import Features, Options
from fleetsim.rl.policy import LearnedPolicy, LinearActor
from fleetsim.scenario import load_scenario

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from needs import require  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CITY = ROOT / "scenarios" / "city_delivery.yaml"
SAR = ROOT / "scenarios" / "search_and_rescue.yaml"
PATROL = ROOT / "examples" / "rl" / "small_patrol.yaml"


def _city(extra=()):
    return load_scenario(CITY, ["run.duration_s=900",
                                "fleet.types[0].bases={west: 3, east: 3, north: 3, south: 3}",
                                *extra])


def _sar(extra=()):
    return load_scenario(SAR, ["run.duration_s=900", *extra])


def _digest(core: FleetCore, seed: int, act) -> tuple[str, int]:
    h = hashlib.sha256()
    r = core.reset(seed)
    steps = 0
    while True:
        for a in (r.obs, r.mask, r.reward, r.terms, np.array([r.now_s])):
            h.update(np.ascontiguousarray(a).tobytes())
        if r.done:
            return h.hexdigest(), steps
        r = core.step(act(r))
        steps += 1


def _random_discrete(seed):
    rng = np.random.default_rng(seed)
    return lambda r: (rng.random(r.mask.shape) * r.mask).argmax(axis=1)


def _random_waypoints(seed, n):
    rng = np.random.default_rng(seed)
    return lambda r: rng.random((n, 2))


# ---------------------------------------------------------------------------- API checks


def test_pettingzoo_parallel_api_with_orders_and_waypoints():
    require("pettingzoo", "the PettingZoo API test needs the rl extra")
    from pettingzoo.test import parallel_api_test

    from fleetsim.rl import parallel_env

    env = parallel_env(_city())
    f = env.core.features
    assert (f.n_orders, f.n_actions) == (4, 8 + 2 + 4)
    assert f.obs_dim == 10 + 9 + 7 * 8 + 4 * 2 + 7 * 4
    parallel_api_test(env, num_cycles=100)
    env = parallel_env(_sar(), decision_period_s=120, action_mode="waypoint")
    assert env.action_space("vehicle_0").shape == (2,)
    assert set(env.observation_space("vehicle_0").spaces) == {"observation"}
    parallel_api_test(env, num_cycles=100)


def test_gymnasium_check_env_with_orders_and_waypoints():
    require("gymnasium", "the Gymnasium env check needs the rl extra")
    from gymnasium.utils.env_checker import check_env

    from fleetsim.rl import central_env

    env = central_env(_city())
    check_env(env, skip_render_check=True)
    assert env.action_space.nvec.tolist() == [14] * 12
    env = central_env(_sar(), decision_period_s=120, action_mode="waypoint")
    check_env(env, skip_render_check=True)
    assert env.action_space.shape == (20, 2)
    assert "action_mask" not in env.reset(seed=1)[0]


# ---------------------------------------------------------------------------- determinism


def test_order_mode_same_seed_same_episode_over_many_steps():
    core = FleetCore(_city())
    d1, steps = _digest(core, 3, _random_discrete(5))
    d2, steps2 = _digest(core, 3, _random_discrete(5))
    assert steps == steps2 and steps > 500  # every order created is a decision instant
    assert d1 == d2
    assert _digest(core, 4, _random_discrete(5))[0] != d1


def test_waypoint_mode_same_seed_same_episode_over_many_steps():
    core = FleetCore(_sar(), decision_period_s=60, action_mode="waypoint")
    d1, steps = _digest(core, 5, _random_waypoints(2, core.n))
    d2, steps2 = _digest(core, 5, _random_waypoints(2, core.n))
    assert steps == steps2 and steps > 50
    assert d1 == d2
    assert _digest(core, 5, _random_waypoints(3, core.n))[0] != d1


def test_known_targets_enter_the_observation_when_detected():
    core = FleetCore(load_scenario(PATROL, ["run.duration_s=1200"]), decision_period_s=60)
    r = core.reset(1)
    f = core.features  # (each episode has its own)
    assert not r.obs[:, f.c_targets:f.c_orders].any()  # nothing known at t = 0
    act = _random_discrete(0)
    seen_at = None
    while not r.done and seen_at is None:
        r = core.step(act(r))
        if f.known.first_s:
            seen_at = r.now_s
    assert seen_at is not None
    k = min(f.known.first_s)
    # Every vehicle has a first slot now; the vehicle nearest the first target known
    # sees it at its exact offset.
    slot = r.obs[:, f.c_targets:f.c_targets + 4]
    assert (slot[:, 0] == 1.0).all()
    pos = core.sim.view.positions()[:, :2]
    _, txy = f.known.positions(r.now_s)
    d = np.hypot(*(txy[None, :, :] - pos[:, None, :]).transpose(2, 0, 1))
    v = int(np.argmin(d[:, list(sorted(f.known.first_s)).index(k)]))
    j = int(np.argmin(d[v]))
    np.testing.assert_allclose(slot[v, 1:3], (txy[j] - pos[v]) / f.diag, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------- orders


def test_an_order_action_picks_up_and_delivers_that_order():
    core = FleetCore(_city())
    r = core.reset()
    f = core.features
    # Vehicle 0 (at the west depot) takes its nearest open order at its first chance;
    # every other vehicle holds.
    order = -1
    while not r.done:
        a = np.full(core.n, f.HOLD)
        if order < 0 and r.mask[0, f.ORDER0]:
            order = int(f.order_slots[0, 0])
            a[0] = f.ORDER0
            orders = core.sim.view.orders
            same = (orders.origin_xy[orders.waiting()] == orders.origin_xy[order]).all(axis=1)
            assert orders.waiting()[same].min() == order  # the oldest at its depot
        r = core.step(a)
        if order >= 0 and r.terms[0, 3] > 0:  # the delivery term
            delivered_at = r.now_s
            break
    assert order >= 0
    while not r.done:
        r = core.step(np.full(core.n, f.HOLD))
    rec = core.recorded()
    for kind in ("pickup", "delivered"):
        ev = rec.events_of(kind)
        assert ev["vehicle"].tolist() == [0] and ev["target"].tolist() == [order]
    assert rec.events_of("delivered")["time_s"][0] <= delivered_at


def test_order_mode_learned_policy_records_its_in_process_run(tmp_path):
    rng = np.random.default_rng(1)
    core = FleetCore(_city())
    f = core.features
    W, b = rng.normal(size=(f.obs_dim, f.n_actions)), rng.normal(size=f.n_actions)
    b[f.ORDER0:] += 3.0  # prefers orders
    actor = LinearActor(W, b)
    r = core.reset()
    while not r.done:
        r = core.step(actor(r.obs, r.mask))
    rec = core.recorded()
    assert len(rec.events_of("delivered")["time_s"]) > 0
    sc = _city(["policy.params={}"])
    assert run_digest(Simulation(sc, policy=LearnedPolicy.from_callable(actor)).run()) \
        == run_digest(rec)


def _toy(n=3, **opt):
    area = shapely.box(0, 0, 1000, 1000)
    vt = SimpleNamespace(battery_wh=100.0, reserve_fraction=0.2, cruise_speed_mps=10.0,
                         cruise_power_w=360.0, payload_kg=2.0,
                         sensor=SimpleNamespace(footprint_radius_m=40.0))
    zone = SimpleNamespace(polygon=shapely.box(600, 600, 800, 800), kind="no_fly",
                           start_s=0.0, end_s=float("inf"))
    world = SimpleNamespace(mission_area=area, terrain=SimpleNamespace(bounds=(0, 0, 1000, 1000)),
                            zones=(zone,), targets_xy=np.array([[900.0, 100.0], [100.0, 900.0]]),
                            target_velocity=np.array([[1.0, 0.0], [0.0, 0.0]]))
    return Features(world, [vt], np.zeros(n, dtype=int), np.full((n, 2), 50.0), 3600.0,
                    Options.parse({"cell_m": 100.0, **opt}), has_orders=True)


class _Orders:
    def __init__(self):
        self.origin_xy = np.array([[100.0, 100.0], [500.0, 100.0], [100.0, 100.0]])
        self.dest_xy = np.array([[100.0, 500.0], [900.0, 100.0], [300.0, 100.0]])
        self.weight_kg = np.array([1.0, 3.0, 0.5])
        self.latest_s = np.array([1810.0, np.inf, 910.0])

    def waiting(self):
        return np.array([0, 1, 2])


class _View:
    def __init__(self, xy, load=None):
        self.xy = np.asarray(xy, dtype=float)
        self.orders = _Orders()
        self.load = np.zeros(len(self.xy)) if load is None else np.asarray(load, dtype=float)

    def positions(self, vehicles=None):
        return np.column_stack([self.xy, np.zeros(len(self.xy))])

    def battery_wh(self, vehicles=None):
        return np.full(len(self.xy), 100.0)

    def states(self, vehicles=None):
        return np.array(["holding"] * len(self.xy), dtype=object)

    def plan_end(self, vehicles=None):
        return self.xy, np.zeros(len(self.xy))

    def load_kg(self, vehicles=None):
        return self.load


def test_order_slots_masks_and_plans_in_closed_form():
    f = _toy(n_candidates=4, step_m=200.0, n_orders=3, n_targets=0)
    view = _View([[100.0, 100.0], [500.0, 100.0], [100.0, 100.0]], load=[0.0, 0.0, 1.8])
    obs, mask, _ = f.observe(10.0, view, [Request(0, "idle"), Request(1, "idle"),
                                          Request(2, "idle")])
    # Vehicle 0 at the depot of orders 0 and 2 (a tie: the older first), then order 1;
    # vehicle 1 at order 1's origin.
    assert f.order_slots.tolist() == [[0, 2, 1], [1, 0, 2], [0, 2, 1]]
    o = obs[0, f.c_orders:].reshape(3, 7)
    np.testing.assert_allclose(o[0], [1, 0, 0, 0, 400 / f.diag, 0.5, 1800 / 1800], atol=1e-6)
    np.testing.assert_allclose(o[1], [1, 0, 0, 200 / f.diag, 0, 0.25, 900 / 1800], atol=1e-6)
    np.testing.assert_allclose(o[2], [1, 400 / f.diag, 0, 400 / f.diag, 0, 1.5, 1], atol=1e-6)
    # Order 1 (3 kg) fits no vehicle (2 kg payload); vehicle 2 has 0.2 kg free.
    assert mask[:, f.ORDER0:].tolist() == [[1, 1, 0], [0, 1, 1], [0, 0, 0]]
    # Vehicles 0 and 1 both take order 0: the lower-numbered one gets it, the other holds.
    assert f.plans(np.array([f.ORDER0, f.ORDER0 + 1, f.ORDER0]), mask) == [
        Plan(0, [Pickup(0), Deliver(0)]), Plan(1, [Hold(60.0)]), Plan(2, [Hold(60.0)])]


def test_known_targets_in_closed_form():
    f = _toy(n=1, n_targets=2, n_orders=0)
    view = _View([[100.0, 100.0]])
    obs, _, _ = f.observe(100.0, view, [Request(0, "idle")])
    assert not obs[0, f.c_targets:].any()
    f.observe(200.0, view, [Request(0, "detection", target=0), Request(0, "idle")])
    obs, _, _ = f.observe(1100.0, view, [Request(0, "idle")])
    # Target 0 drifts east at 1 m/s: at t = 1100 it is at (2000, 100); detected at 200.
    t = obs[0, f.c_targets:].reshape(2, 4)
    np.testing.assert_allclose(t, [[1, 1900 / f.diag, 0, 900 / 1800], [0, 0, 0, 0]], atol=1e-6)


def test_waypoints_become_plans():
    f = _toy(n=3, action_mode="waypoint", n_orders=0)
    f.observe(10.0, _View([[50.0, 50.0]] * 3), [Request(0, "idle"), Request(1, "periodic"),
                                                 Request(2, "idle")])
    pts = np.array([[0.25, 0.5], [0.7, 0.7], [2.0, np.nan]])
    # A point in the no-fly zone, or with a NaN: hold (nothing for a periodic ask).
    assert f.plans(pts) == [Plan(0, [GoTo(250.0, 500.0)]), Plan(2, [Hold(60.0)])]
    assert f.plans(np.array([[-1.0, 3.0], [0.1, 0.2], [0.5, 0.5]])) == [
        Plan(0, [GoTo(0.0, 1000.0)]), Plan(1, [GoTo(100.0, 200.0)]),
        Plan(2, [GoTo(500.0, 500.0)])]
    with pytest.raises(ValueError, match=r"expected waypoints of shape \(3, 2\)"):
        f.plans(np.zeros(3))


def test_bad_mode_options_say_what_is_valid():
    with pytest.raises(ValueError, match=r"option action_mode: expected one of discrete, "
                                         r"waypoint, got 'box'"):
        Options.parse({"action_mode": "box"})
    with pytest.raises(ValueError, match=r"option n_orders: expected an integer >= 0 or None"):
        Options.parse({"n_orders": -1})


def test_waypoint_learned_policy_records_its_in_process_run(tmp_path):
    rng = np.random.default_rng(2)
    core = FleetCore(_sar(), decision_period_s=120, action_mode="waypoint")
    W, b = rng.normal(size=(core.features.obs_dim, 2)), rng.normal(size=2)
    np.savez(tmp_path / "wp.npz", W=W, b=b)
    actor = LinearActor(W, b, waypoint=True)
    r = core.reset()
    while not r.done:
        r = core.step(actor(r.obs, r.mask))
    sc = _sar(["policy.name=fleetsim.rl.policy:LearnedPolicy",
               f"policy.params={{checkpoint: {tmp_path / 'wp.npz'}, decision_period_s: 120, "
               "action_mode: waypoint}"])
    assert run_digest(Simulation(sc).run()) == run_digest(core.recorded())


def test_learned_policy_with_order_actions_runs_in_fleetsim_run(tmp_path, capsys):
    from fleetsim.cli import EXIT_INPUT, EXIT_OK, main

    f = FleetCore(_city()).features
    b = np.zeros(f.n_actions)
    b[f.ORDER0:] = 1.0  # always an order when one fits
    np.savez(tmp_path / "orders.npz", W=np.zeros((f.obs_dim, f.n_actions)), b=b)
    common = [str(CITY), "-q", "--no-replay", "--set", "run.duration_s=600", "--set",
              "fleet.types[0].bases={west: 3, east: 3, north: 3, south: 3}", "--set",
              "policy.name=fleetsim.rl.policy:LearnedPolicy"]
    code = main(["run", *common, "--out", str(tmp_path / "ok"), "--set",
                 f"policy.params={{checkpoint: {tmp_path / 'orders.npz'}}}"])
    assert code == EXIT_OK
    metrics = json.loads((tmp_path / "ok" / "metrics.json").read_text())
    assert metrics["logistics.orders_delivered"] > 0
    capsys.readouterr()
    code = main(["run", *common, "--out", str(tmp_path / "bad"), "--set",
                 f"policy.params={{checkpoint: {tmp_path / 'orders.npz'}, n_orders: 2}}"])
    assert code == EXIT_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "W has shape (111, 14), these options and this scenario need " \
        "(97, 12)" in err[0]
    code = main(["run", *common, "--out", str(tmp_path / "bad"), "--set",
                 f"policy.params={{checkpoint: {tmp_path / 'orders.npz'}, n_orders: -1}}"])
    assert code == EXIT_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "policy.params.n_orders" in err[0] and "an integer >= 0" in err[0]


def test_nearest_open_orders_match_a_brute_force_sort():
    from fleetsim.rl.items import order_features

    rng = np.random.default_rng(7)
    depots = np.array([[0.0, 0.0], [1000.0, 0.0], [0.0, 1000.0]])
    n_orders = 300
    origin = np.where(rng.random((n_orders, 1)) < 0.8, depots[rng.integers(0, 3, n_orders)],
                      rng.uniform(0, 1000, (n_orders, 2)))  # mostly at depots: ties
    orders = SimpleNamespace(
        origin_xy=origin, dest_xy=rng.uniform(0, 1000, (n_orders, 2)),
        weight_kg=rng.uniform(0.1, 3.0, n_orders), latest_s=np.full(n_orders, np.inf),
        waiting=lambda: np.flatnonzero(np.arange(n_orders) % 3 != 1))
    fleet = SimpleNamespace(orders=orders, load_kg=lambda: np.zeros(40))
    xy = np.vstack([depots, rng.uniform(-200, 1200, (37, 2))])
    for m in (1, 4, 9):
        _, slots, _ = order_features(0.0, fleet, xy, np.full(40, 2.0), m, 1414.0, 1800.0)
        w = orders.waiting()
        d = np.hypot(*(origin[w][None, :, :] - xy[:, None, :]).transpose(2, 0, 1))
        assert slots.tolist() == w[np.argsort(d, axis=1, kind="stable")[:, :m]].tolist()

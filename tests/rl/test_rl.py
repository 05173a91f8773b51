"""The learning interfaces: API checks of PettingZoo and Gymnasium, determinism over whole
episodes, a learned policy recording the same run in process and stepped, and the
idleness grid in closed form."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import shapely

from fleetsim.engine import Simulation
from fleetsim.errors import PolicyError
from fleetsim.policy import GoTo, Hold, Plan, Request, ReturnHome
from fleetsim.record import run_digest
from fleetsim.rl.core import FleetCore
from fleetsim.rl.features import Features, Options
from fleetsim.rl.policy import LearnedPolicy, LinearActor, load_actor
from fleetsim.scenario import load_scenario

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from needs import require  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SAR = ROOT / "scenarios" / "search_and_rescue.yaml"
SHORT = ["run.duration_s=900"]


def _sar(extra=()):
    return load_scenario(SAR, SHORT + list(extra))


def _random_actions(rng, mask):
    # One allowed action per vehicle, uniformly.
    u = rng.random(mask.shape) * mask
    return u.argmax(axis=1)


def _episode_digest(core: FleetCore, seed: int, rng_seed: int) -> tuple[str, int]:
    rng = np.random.default_rng(rng_seed)
    h = hashlib.sha256()
    r = core.reset(seed)
    steps = 0
    while True:
        for a in (r.obs, r.mask, r.reward, r.terms, np.array([r.now_s])):
            h.update(np.ascontiguousarray(a).tobytes())
        if r.done:
            return h.hexdigest(), steps
        r = core.step(_random_actions(rng, r.mask))
        steps += 1


def test_import_fleetsim_does_not_import_the_rl_extras():
    code = ("import sys, fleetsim, fleetsim.rl, fleetsim.rl.core, fleetsim.rl.policy; "
            "bad = [m for m in ('pettingzoo', 'gymnasium') if m in sys.modules]; "
            "print(','.join(bad) or 'none')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "none"


def test_pettingzoo_parallel_api():
    require("pettingzoo", "the PettingZoo API test needs the rl extra")
    from pettingzoo.test import parallel_api_test

    from fleetsim.rl import parallel_env

    env = parallel_env(_sar(), decision_period_s=120)
    parallel_api_test(env, num_cycles=100)
    obs, _ = env.reset(seed=4)
    assert env.agents == [f"vehicle_{v}" for v in range(20)]
    assert env.state().shape == env.state_space.shape
    # At t = 0 every vehicle asks (start).
    assert all(o["observation"][0] == 1.0 for o in obs.values())


def test_gymnasium_check_env():
    require("gymnasium", "the Gymnasium env check needs the rl extra")
    from gymnasium.utils.env_checker import check_env

    from fleetsim.rl import central_env

    env = central_env(_sar(), decision_period_s=120)
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=2)
    assert obs["observation"].shape == (20, env.core.features.obs_dim)
    assert info["now_s"] == 0.0


def test_same_seed_same_episode_over_many_steps():
    core = FleetCore(_sar(), decision_period_s=60)
    d1, steps = _episode_digest(core, seed=5, rng_seed=11)
    d2, steps2 = _episode_digest(core, seed=5, rng_seed=11)
    assert steps == steps2 and steps > 50  # the whole 900 s episode, not one step
    assert d1 == d2
    assert _episode_digest(core, seed=6, rng_seed=11)[0] != d1


def test_stepped_env_fed_a_learned_policy_records_its_in_process_run(tmp_path):
    rng = np.random.default_rng(0)
    core = FleetCore(_sar(), decision_period_s=120)
    f = core.features
    W, b = rng.normal(size=(f.obs_dim, f.n_actions)), rng.normal(size=f.n_actions)
    np.savez(tmp_path / "lin.npz", W=W, b=b)
    actor = LinearActor(W, b)
    r = core.reset()
    while not r.done:
        r = core.step(actor(r.obs, r.mask))
    stepped = run_digest(core.recorded())
    sc = _sar(["policy.name=fleetsim.rl.policy:LearnedPolicy",
               f"policy.params={{checkpoint: {tmp_path / 'lin.npz'}, decision_period_s: 120}}"])
    assert run_digest(Simulation(sc).run()) == stepped
    # And a callable wrapped in Python does the same.
    sc2 = _sar(["policy.params={decision_period_s: 120}"])
    assert run_digest(Simulation(sc2, policy=LearnedPolicy.from_callable(actor)).run()) == stepped


def _toy_features(n=2, **opt):
    area = shapely.box(0, 0, 1000, 1000)
    vt = SimpleNamespace(battery_wh=100.0, reserve_fraction=0.2, cruise_speed_mps=10.0,
                         cruise_power_w=360.0, sensor=SimpleNamespace(footprint_radius_m=40.0))
    world = SimpleNamespace(mission_area=area, terrain=SimpleNamespace(bounds=(0, 0, 1000, 1000)),
                            zones=())
    return Features(world, [vt], np.zeros(n, dtype=int), np.full((n, 2), 50.0), 3600.0,
                    Options.parse({"cell_m": 100.0, **opt}))


def test_sweep_in_closed_form():
    f = _toy_features()
    assert (f.nx, f.ny, f.n_area) == (10, 10, 100)
    # Both fly along row 0 from (50, 50) to (950, 50) by t = 200: ten cells, all new,
    # credited to vehicle 0 (the lowest); each had been idle 200 s.
    new, gain = f.sweep(200.0, np.array([[950.0, 50.0], [950.0, 50.0]]))
    assert new.tolist() == [10.0, 0.0]
    assert gain.tolist() == [2000.0, 0.0]
    # At t = 500 vehicle 0 is still in the last cell (its 300 s of idleness) and
    # vehicle 1 flies back along the row (the other nine cells, 300 s each).
    new, gain = f.sweep(500.0, np.array([[950.0, 50.0], [50.0, 50.0]]))
    assert new.tolist() == [0.0, 0.0] and gain.tolist() == [300.0, 2700.0]


class _View:
    def __init__(self, xy):
        self.xy = np.asarray(xy, dtype=float)

    def positions(self, vehicles=None):
        return np.column_stack([self.xy, np.zeros(len(self.xy))])

    def battery_wh(self, vehicles=None):
        return np.full(len(self.xy), 100.0)

    def states(self, vehicles=None):
        return np.array(["holding"] * len(self.xy), dtype=object)

    def plan_end(self, vehicles=None):
        return self.xy, np.zeros(len(self.xy))


def test_actions_become_plans():
    f = _toy_features(n_candidates=4, step_m=200.0)
    obs, mask, _ = f.observe(10.0, _View([[50.0, 50.0], [500.0, 500.0]]),
                             [Request(0, "idle"), Request(1, "periodic")])
    # Vehicle 0 in the corner: west (2) and south (3) are off the terrain.
    assert mask.tolist() == [[1, 1, 0, 0, 1, 1], [1, 1, 1, 1, 1, 1]]
    assert obs[:, 0].tolist() == [1.0, 1.0]
    assert f.plans(np.array([0, 1])) == [Plan(0, [GoTo(250.0, 50.0)]),
                                         Plan(1, [GoTo(500.0, 700.0)])]
    # Hold: a hover for a vehicle waiting, nothing (keep the plan) for a periodic ask;
    # a masked action is taken as hold.
    assert f.plans(np.array([4, 4]), mask) == [Plan(0, [Hold(60.0)])]
    assert f.plans(np.array([2, 5]), mask) == [Plan(0, [Hold(60.0)]), Plan(1, [ReturnHome()])]
    with pytest.raises(ValueError, match=r"vehicle 0: action 6 out of range 0..5"):
        f.plans(np.array([6, 0]))
    # A vehicle not asking acts only through hold (ignored).
    obs, mask, _ = f.observe(20.0, _View([[50.0, 50.0], [500.0, 500.0]]), [Request(1, "idle")])
    assert mask[0].tolist() == [0, 0, 0, 0, 1, 0]
    assert f.plans(np.array([0, 5])) == [Plan(1, [ReturnHome()])]


def test_bad_options_and_checkpoints_say_what_is_valid(tmp_path):
    with pytest.raises(ValueError, match=r"unknown option 'n_candidate' \(valid: n_candidates"):
        Options.parse({"n_candidate": 3})
    with pytest.raises(ValueError, match=r"option weights: unknown term 'speed'"):
        Options.parse({"weights": {"speed": 1.0}})
    with pytest.raises(ValueError, match=r"option patch: expected an odd integer >= 1, got 2"):
        Options.parse({"patch": 2})
    with pytest.raises(PolicyError, match=r"checkpoint 'nope.npz' not found"):
        load_actor("nope.npz", base_dir=str(tmp_path))
    np.savez(tmp_path / "w.npz", W=np.zeros((3, 2)))
    with pytest.raises(PolicyError, match=r"checkpoint 'w.npz' has no b"):
        load_actor("w.npz", base_dir=str(tmp_path))
    with pytest.raises(PolicyError, match=r"expected a .npz file or 'module:name'"):
        load_actor("weights.pt")
    assert callable(load_actor("numpy:zeros_like"))


EXAMPLE = ROOT / "examples" / "rl" / "small_patrol.yaml"


def test_learned_checkpoint_runs_in_fleetsim_run(tmp_path, capsys):
    from fleetsim.cli import EXIT_INPUT, EXIT_OK, main

    learned = ["--set", "policy.name=fleetsim.rl.policy:LearnedPolicy", "--set",
               "run.duration_s=300"]
    code = main(["run", str(EXAMPLE), "--out", str(tmp_path / "ok"), "-q", "--no-replay",
                 *learned, "--set", "policy.params={checkpoint: learned_patrol.npz, hold_s: 60}"])
    assert code == EXIT_OK
    assert (tmp_path / "ok" / "metrics.json").is_file()
    capsys.readouterr()
    code = main(["run", str(EXAMPLE), "--out", str(tmp_path / "bad"), "-q", "--no-replay",
                 *learned, "--set", "policy.params={checkpoint: missing.npz}"])
    assert code == EXIT_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "checkpoint 'missing.npz' not found" in err[0]

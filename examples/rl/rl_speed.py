"""Speed of the learning interfaces: env steps per second, and a stepped run against
the same policy in process.

For each fleet size, small_patrol (examples/rl) with that many vehicles for
``--duration`` simulated seconds, three ways, each recording the same run (the
digests are checked equal):

- ``in-process``: ``fleetsim.rl.policy.LearnedPolicy`` (the learned linear actor)
  inside an ordinary ``Simulation.run()``;
- ``stepped arrays``: ``FleetCore`` (what both envs use) fed the same actor one
  decision instant at a time, with rewards;
- ``stepped dicts``: the PettingZoo ``ParallelEnv`` with dict actions and
  observations (only if pettingzoo is installed).

and random_search in process against a ``SteppedRun`` fed random_search's own
decisions (the driver's own overhead, without features)::

    PYTHONPATH=. .venv/bin/python examples/rl/rl_speed.py --sizes 100 1000
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from fleetsim.engine import Simulation
from fleetsim.engine.stepped import SteppedRun
from fleetsim.record import run_digest
from fleetsim.rl.core import FleetCore
from fleetsim.rl.policy import LearnedPolicy, load_actor
from fleetsim.scenario import load_scenario

try:
    from fleetsim.rl.pz import FleetParallelEnv
except ImportError:  # pettingzoo not installed: no dict measurement
    FleetParallelEnv = None

HERE = Path(__file__).resolve().parent


def scenario(n: int, duration: float, policy: list[str]):
    return load_scenario(HERE / "small_patrol.yaml",
                         [f"run.duration_s={duration}", f"fleet.types[0].bases={{pad: {n}}}",
                          f"world.sites[0].pads={n}", *policy])


def timed(fn, repeat: int):
    """(result, the least wall time of ``repeat`` calls of ``fn``)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return out, best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--duration", type=float, default=1200.0)
    ap.add_argument("--repeat", type=int, default=2, help="runs of each; the least time")
    ap.add_argument("--checkpoint", default=str(HERE / "learned_patrol.npz"))
    args = ap.parse_args()
    actor = load_actor(args.checkpoint)
    learned = ["policy.name=fleetsim.rl.policy:LearnedPolicy",
               f"policy.params={{checkpoint: {args.checkpoint}, hold_s: 60}}"]
    print(f"{'vehicles':>8} {'way':<22} {'wall s':>8} {'steps':>6} {'steps/s':>8} {'vs in-process':>13}")
    for n in args.sizes:
        sc = scenario(n, args.duration, learned)
        ref, base = timed(lambda sc=sc: run_digest(
            Simulation(sc, policy=LearnedPolicy.from_callable(actor)).run()), args.repeat)
        print(f"{n:>8} {'in-process':<22} {base:>8.2f}")
        def arrays(sc=sc):
            core = FleetCore(sc, hold_s=60.0)
            r = core.reset()
            steps = 0
            while not r.done:
                r = core.step(actor(r.obs, r.mask))
                steps += 1
            return core, steps

        (core, steps), wall = timed(arrays, args.repeat)
        assert run_digest(core.recorded()) == ref, "stepped run differs from the in-process one"
        print(f"{n:>8} {'stepped arrays':<22} {wall:>8.2f} {steps:>6} {steps / wall:>8.1f} "
              f"{wall / base:>12.2f}x")
        if FleetParallelEnv is not None:
            def dicts(sc=sc):
                env = FleetParallelEnv(sc, hold_s=60.0)
                obs, _ = env.reset()
                steps = 0
                names = env.possible_agents
                while env.agents:
                    o = np.stack([obs[a]["observation"] for a in names])
                    m = np.stack([obs[a]["action_mask"] for a in names])
                    acts = actor(o, m)
                    obs, *_ = env.step({a: int(x) for a, x in zip(names, acts, strict=True)})
                    steps += 1
                return env, steps

            (env, steps), wall = timed(dicts, args.repeat)
            assert run_digest(env.core.recorded()) == ref
            print(f"{n:>8} {'stepped dicts (pz)':<22} {wall:>8.2f} {steps:>6} "
                  f"{steps / wall:>8.1f} {wall / base:>12.2f}x")
        sc = scenario(n, args.duration, ["policy.name=random_search",
                                         "policy.params={leg_length_m: 1000}"])
        ref, base = timed(lambda sc=sc: run_digest(Simulation(sc).run()), args.repeat)

        def stepped(sc=sc):
            run = SteppedRun(Simulation(sc))
            d = run.reset()
            steps = 0
            while d is not None:
                d = run.step(run.policy_plans(d))
                steps += 1
            return run_digest(run.finish()), steps

        (digest, steps), wall = timed(stepped, args.repeat)
        assert digest == ref
        print(f"{n:>8} {'random_search in-proc.':<22} {base:>8.2f}")
        print(f"{n:>8} {'random_search stepped':<22} {wall:>8.2f} {steps:>6} "
              f"{steps / wall:>8.1f} {wall / base:>12.2f}x")


if __name__ == "__main__":
    main()

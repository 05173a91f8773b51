"""Learn a patrol policy with the cross-entropy method, in numpy, over fleetsim.rl.

The policy is linear and shares its weights across the candidate cells: the score of
going to candidate ``k`` is ``w . features_k + u . own``, holding and going home are
linear in the vehicle's own state, and each vehicle takes its best allowed action.
That is a handful of numbers (``N_PARAMS``), written out as the ``W``/``b`` of a
plain linear policy (``fleetsim.rl.policy.LinearActor``), so the result runs as
``policy: {name: fleetsim.rl.policy:LearnedPolicy, params: {checkpoint: ...}}``.

Each generation draws ``--population`` parameter vectors from a diagonal Gaussian,
flies one training episode per vector (all on the same seed, a new one each
generation), and refits the Gaussian to the best ``--elite``. The training episodes
are shortened to ``--train-duration`` seconds.

    PYTHONPATH=. .venv/bin/python examples/rl/cem_patrol.py --out examples/rl

writes ``learned_patrol.npz``, ``learning_curve.csv`` and ``learning_curve.png``.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

from fleetsim.rl.core import FleetCore
from fleetsim.rl.features import _OWN, _PER_CANDIDATE
from fleetsim.rl.policy import LinearActor
from fleetsim.scenario import load_scenario

HERE = Path(__file__).resolve().parent
SCENARIO = HERE / "small_patrol.yaml"
#: The options the policy is trained with (and must be run with).
OPTIONS = {"hold_s": 60.0}
N_PARAMS = _PER_CANDIDATE + 2 * _OWN + 2


def to_linear(theta: np.ndarray, obs_dim: int, n_candidates: int, patch: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """The ``W`` (obs_dim, n_candidates + 2), ``b`` of parameter vector ``theta``."""
    w = theta[:_PER_CANDIDATE]
    hold = theta[_PER_CANDIDATE:_PER_CANDIDATE + _OWN]
    home = theta[_PER_CANDIDATE + _OWN:_PER_CANDIDATE + 2 * _OWN]
    W = np.zeros((obs_dim, n_candidates + 2))
    c0 = _OWN + patch * patch
    for k in range(n_candidates):
        W[c0 + k * _PER_CANDIDATE:c0 + (k + 1) * _PER_CANDIDATE, k] = w
    W[:_OWN, n_candidates] = hold
    W[:_OWN, n_candidates + 1] = home
    b = np.zeros(n_candidates + 2)
    b[n_candidates:] = theta[-2:]
    return W, b


def episode_return(core: FleetCore, actor: LinearActor, seed: int) -> float:
    r = core.reset(seed)
    total = 0.0
    while not r.done:
        r = core.step(actor(r.obs, r.mask))
        total += float(r.reward.sum())
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/cem_patrol")
    ap.add_argument("--generations", type=int, default=12)
    ap.add_argument("--population", type=int, default=20)
    ap.add_argument("--elite", type=int, default=5)
    ap.add_argument("--train-duration", type=float, default=1200.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    scenario = load_scenario(SCENARIO, [f"run.duration_s={args.train_duration}"])
    core = FleetCore(scenario, **OPTIONS)
    f = core.features
    shape = (f.obs_dim, f.opt.n_candidates, f.opt.patch)
    rng = np.random.default_rng(args.seed)
    mu, sigma = np.zeros(N_PARAMS), np.ones(N_PARAMS)
    rows = []
    t0 = time.perf_counter()
    for gen in range(args.generations):
        seed = 1000 + gen  # one training seed per generation, shared by its candidates
        thetas = mu + sigma * rng.standard_normal((args.population, N_PARAMS))
        scores = np.array([episode_return(core, LinearActor(*to_linear(th, *shape)), seed)
                           for th in thetas])
        elite = thetas[np.argsort(-scores, kind="stable")[:args.elite]]
        mu = elite.mean(axis=0)
        sigma = np.maximum(elite.std(axis=0), 0.05)
        mean_score = episode_return(core, LinearActor(*to_linear(mu, *shape)), 999)
        rows.append((gen, float(scores.mean()), float(np.sort(scores)[-args.elite:].mean()),
                     mean_score))
        print(f"generation {gen}: population {scores.mean():.1f}, elite "
              f"{rows[-1][2]:.1f}, mean policy on the validation seed {mean_score:.1f} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    W, b = to_linear(mu, *shape)
    np.savez(out / "learned_patrol.npz", W=W, b=b, theta=mu)
    with open(out / "learning_curve.csv", "w", newline="") as fh:
        wr = csv.writer(fh)
        wr.writerow(["generation", "population_mean_return", "elite_mean_return",
                     "mean_policy_validation_return"])
        wr.writerows(rows)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # the curve is in the CSV anyway
        return
    g = [r[0] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.plot(g, [r[1] for r in rows], label="population mean")
    ax.plot(g, [r[2] for r in rows], label=f"elite ({args.elite}) mean")
    ax.plot(g, [r[3] for r in rows], "k.-", label="mean policy, validation seed")
    ax.set_xlabel("generation")
    ax.set_ylabel("episode return")
    ax.set_title("Cross-entropy method on small_patrol (6 vehicles)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "learning_curve.png")


if __name__ == "__main__":
    main()

"""The array core shared by the learning environments (numpy only, no gym/pettingzoo).

:class:`FleetCore` runs one scenario through :class:`fleetsim.engine.stepped.SteppedRun`,
one decision instant per step, with observations, masks and rewards as arrays
over the whole fleet (see :mod:`fleetsim.rl.features`). The PettingZoo and
Gymnasium environments are thin views of it; with thousands of agents the
arrays (:meth:`FleetCore.reset` and :meth:`FleetCore.step`) avoid building dicts.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from fleetsim import libm
from fleetsim.engine.sim import Simulation
from fleetsim.engine.stepped import SteppedRun
from fleetsim.engine.tables import E_KIND, E_LEG, E_TIME, E_VEHICLE, E_ZONE, EVENT_KIND_CODE, L_T1
from fleetsim.policy import Policy
from fleetsim.rl.features import REWARD_TERMS, Features, Options, has_orders

_KIND = {k: EVENT_KIND_CODE[k] for k in ("detection", "delivered", "zone_enter",
                                         "terrain_violation", "auth_request")}
_TERM_OF_KIND = {"detection": "detection", "delivered": "delivery", "zone_enter": "zone",
                 "terrain_violation": "terrain", "auth_request": "workload"}


class SteppedPolicy(Policy):
    """The stand-in policy of a stepped run: its decisions come from the caller."""

    name = "rl_env"

    def __init__(self, decision_period_s: float | None = None) -> None:
        self.decision_period_s = decision_period_s

    def decide(self, now_s, fleet, requests):  # pragma: no cover - never asked
        raise RuntimeError("a stepped run takes its decisions from SteppedRun.step()")


@dataclass
class StepResult:
    """What one step returns, as arrays over the fleet."""

    obs: np.ndarray  #: (n, obs_dim) float32
    mask: np.ndarray  #: (n, n_actions) int8
    reward: np.ndarray  #: (n,) float64
    terms: np.ndarray  #: (n, len(REWARD_TERMS)) float64, unweighted
    done: bool
    now_s: float


def load(scenario: Any) -> Any:
    """A scenario from a path (str or path-like) or an already loaded one."""
    if isinstance(scenario, (str, os.PathLike)):
        from fleetsim.scenario import load_scenario

        return load_scenario(scenario)
    return scenario


class FleetCore:
    """One scenario, stepped one decision instant at a time.

    Parameters
    ----------
    scenario:
        A path to a scenario file or a loaded :class:`~fleetsim.scenario.model.Scenario`.
        Its policy section is not used (the steps decide).
    **options:
        :class:`fleetsim.rl.features.Options`.
    """

    def __init__(self, scenario: Any, **options: Any) -> None:
        self.scenario = load(scenario)
        self.opt = Options.parse(options)
        self.weights = self.opt.weight_vector()
        self._next_seed = int(self.scenario.run.seed)
        self.run: SteppedRun | None = None
        self.reset(seed=None)  # sizes and spaces; a first episode ready to go
        self._next_seed = int(self.scenario.run.seed)

    @property
    def n(self) -> int:
        return self.features.n

    def reset(self, seed: int | None = None) -> StepResult:
        """Start an episode with run seed ``seed`` (None: the scenario's seed at the
        first reset, then one more each time)."""
        if seed is None:
            seed = self._next_seed
        seed = int(seed)
        self._next_seed = seed + 1
        self.seed = seed
        sc = self.scenario
        sc = dataclasses.replace(sc, run=dataclasses.replace(sc.run, seed=seed),
                                 policy=dataclasses.replace(sc.policy, params={}))
        policy = SteppedPolicy(self.opt.decision_period_s)
        sim = Simulation(sc, policy=policy)
        ctx = policy.ctx
        self.sim = sim
        self.run = SteppedRun(sim)
        self.features = Features(ctx.world, ctx.vehicle_types, ctx.vehicle_type_index,
                                 ctx.home_xy, ctx.duration_s, self.opt,
                                 has_orders=has_orders(ctx.scenario))
        self.battery = np.asarray(sim.capacity, dtype=np.float64).copy()
        self._ev_ptr = 0
        self._ev_pending = np.zeros(0, dtype=np.int64)
        self.decision = self.run.reset()
        return self._observe()

    def step(self, actions: np.ndarray) -> StepResult:
        """Apply macro-actions ``actions`` ((n,) int; (n, 2) waypoints in ``waypoint``
        mode; those of vehicles not asking are ignored) and run to the next decision
        instant."""
        if self.run is None or self.decision is None:
            raise RuntimeError("step() after the end of the episode: call reset()")
        plans = self.features.plans(actions, self.mask)
        self.decision = self.run.step(plans)
        return self._observe()

    def recorded(self) -> Any:
        """The recorded run of the finished episode (:class:`fleetsim.record.RecordedRun`)."""
        return self.run.finish()

    def _observe(self) -> StepResult:
        sim = self.sim
        done = self.decision is None
        now = float(sim.env.now)
        sim.view.now_s = now
        requests = () if done else self.decision.requests
        obs, mask, (new_cells, idle_gain) = self.features.observe(now, sim.view, requests)
        self.mask = mask
        n = self.n
        terms = np.zeros((n, len(REWARD_TERMS)))
        col = {t: i for i, t in enumerate(REWARD_TERMS)}
        f = self.features
        terms[:, col["coverage"]] = 100.0 * new_cells / f.n_area
        terms[:, col["idleness"]] = 100.0 * idle_gain / (f.n_area * self.opt.idle_scale_s)
        battery = np.asarray(sim.view.battery_wh(), dtype=np.float64).reshape(n)
        terms[:, col["energy"]] = np.maximum(self.battery - battery, 0.0) / f.capacity
        self.battery = battery
        log = sim.log
        rows = np.concatenate([self._ev_pending, np.arange(self._ev_ptr, log.n)])
        self._ev_ptr = log.n
        if len(rows):
            ev = log.rows(rows)
            ready = ev[:, E_TIME] <= now
            self._ev_pending = rows[~ready]
            ev = ev[ready]
            # Not those of legs cut before the event (the record drops them too).
            leg = ev[:, E_LEG].astype(np.int64)
            tied = leg >= 0
            ok = np.ones(len(ev), dtype=bool)
            ok[tied] = sim.legs.a[leg[tied], L_T1] >= ev[tied, E_TIME] - 1e-9
            ev = ev[ok]
            v = ev[:, E_VEHICLE].astype(np.int64)
            kind = ev[:, E_KIND].astype(np.int64)
            for name, code in _KIND.items():
                sel = (kind == code) & (v >= 0)
                if name == "zone_enter":
                    sel &= ev[:, E_ZONE] >= 0
                if sel.any():
                    terms[:, col[_TERM_OF_KIND[name]]] += np.bincount(v[sel], minlength=n)
        reward = libm.matmul(terms, np.reshape(self.weights, (-1, 1)))[:, 0]
        if self.opt.shared_reward:
            reward = np.full(n, reward.sum())
        return StepResult(obs=obs, mask=mask, reward=reward, terms=terms, done=done, now_s=now)

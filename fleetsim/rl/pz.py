"""A PettingZoo ``ParallelEnv``: one agent per vehicle, one step per decision instant.

Every vehicle is an agent (``vehicle_<index>``) and stays in ``agents`` for the
whole episode; vehicles that do not ask for a plan at an instant have an action
mask allowing only hold, and their actions are ignored. The episode ends at the
scenario's duration (all agents truncated; ``agents`` is then empty).
Observations are dicts ``{"observation": (obs_dim,) float32, "action_mask":
(n_actions,) int8}`` (:mod:`fleetsim.rl.features`); :meth:`FleetParallelEnv.state`
is a fixed-size global state for centralised critics. With many agents,
:meth:`FleetParallelEnv.reset_arrays` / :meth:`FleetParallelEnv.step_arrays` return
the same as arrays over the fleet without building dicts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from fleetsim.rl.core import FleetCore, StepResult
from fleetsim.rl.features import OBS_BOUND


class FleetParallelEnv(ParallelEnv):
    """See the module notes. ``scenario``: a path or a loaded scenario; ``options``:
    :class:`fleetsim.rl.features.Options`."""

    metadata = {"name": "fleetsim_parallel_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self, scenario: Any, **options: Any) -> None:
        self.core = FleetCore(scenario, **options)
        n = self.core.n
        f = self.core.features
        self.possible_agents = [f"vehicle_{v}" for v in range(n)]
        self.agents = list(self.possible_agents)
        self._index = {a: v for v, a in enumerate(self.possible_agents)}
        obs_box = spaces.Box(-OBS_BOUND, OBS_BOUND, (f.obs_dim,), np.float32)
        if f.waypoint:
            self._obs_space = spaces.Dict({"observation": obs_box})
            self._act_space = spaces.Box(0.0, 1.0, (2,), np.float32)
        else:
            self._obs_space = spaces.Dict({
                "observation": obs_box,
                "action_mask": spaces.Box(0, 1, (f.n_actions,), np.int8)})
            self._act_space = spaces.Discrete(f.n_actions)
        self.state_space = spaces.Box(-OBS_BOUND, OBS_BOUND, (f.state_dim,), np.float32)
        self.render_mode = None
        self._last: StepResult | None = None

    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs_space

    def action_space(self, agent: str) -> spaces.Space:
        return self._act_space

    # ------------------------------------------------------------------ arrays
    def reset_arrays(self, seed: int | None = None) -> StepResult:
        """Reset; the result as arrays over the fleet."""
        self._last = self.core.reset(seed)
        self.agents = list(self.possible_agents)
        return self._last

    def step_arrays(self, actions: np.ndarray) -> StepResult:
        """Step with ``actions`` ((n,) int, or (n, 2) waypoints); the result as arrays
        over the fleet."""
        self._last = self.core.step(actions)
        if self._last.done:
            self.agents = []
        return self._last

    # ------------------------------------------------------------------ dicts
    def _obs_dict(self, r: StepResult) -> dict[str, dict[str, np.ndarray]]:
        if self.core.features.waypoint:
            return {a: {"observation": r.obs[v]} for v, a in enumerate(self.possible_agents)}
        return {a: {"observation": r.obs[v], "action_mask": r.mask[v]}
                for v, a in enumerate(self.possible_agents)}

    def reset(self, seed: int | None = None, options: dict | None = None
              ) -> tuple[dict, dict]:
        r = self.reset_arrays(seed)
        return self._obs_dict(r), {a: {"asking": bool(r.obs[v, 0])}
                                   for v, a in enumerate(self.possible_agents)}

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if not self.agents:
            raise RuntimeError("step() after the end of the episode: call reset()")
        f = self.core.features
        if f.waypoint:  # a vehicle without an action holds (a NaN waypoint)
            arr = np.full((self.core.n, 2), np.nan)
        else:
            arr = np.full(self.core.n, f.HOLD, dtype=np.int64)
        for agent, a in actions.items():
            v = self._index.get(agent)
            if v is None:
                raise KeyError(f"unknown agent {agent!r} (agents are vehicle_0 .. "
                               f"vehicle_{self.core.n - 1})")
            arr[v] = np.asarray(a, dtype=np.float64).reshape(2) if f.waypoint else int(a)
        r = self.step_arrays(arr)
        agents = self.possible_agents
        obs = self._obs_dict(r)
        rewards = {a: float(r.reward[v]) for v, a in enumerate(agents)}
        terminations = {a: False for a in agents}
        truncations = {a: r.done for a in agents}
        infos = {a: {"asking": bool(r.obs[v, 0])} for v, a in enumerate(agents)}
        return obs, rewards, terminations, truncations, infos

    def state(self) -> np.ndarray:
        return np.clip(self.core.features.state(), -OBS_BOUND, OBS_BOUND)

    def render(self) -> None:
        return None

    def close(self) -> None:
        return None

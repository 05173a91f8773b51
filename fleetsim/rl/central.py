"""A Gymnasium env for a central planner: one action per vehicle, batched as arrays.

Observation: ``{"observation": (n, obs_dim) float32, "action_mask": (n, n_actions)
int8, "state": (state_dim,) float32}`` (:mod:`fleetsim.rl.features`); action: a
``MultiDiscrete`` of one macro-action per vehicle (those of vehicles not asking are
ignored), or with ``action_mode="waypoint"`` a ``Box(0, 1, (n, 2))`` of waypoints
(and no ``action_mask``); reward: the fleet's total. One step is one decision instant; the episode
is truncated at the scenario's duration. ``info`` holds ``now_s`` and the fleet's
unweighted reward terms.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from fleetsim.rl.core import FleetCore, StepResult
from fleetsim.rl.features import OBS_BOUND, REWARD_TERMS


class CentralEnv(gym.Env):
    """See the module notes. ``scenario``: a path or a loaded scenario; ``options``:
    :class:`fleetsim.rl.features.Options`."""

    metadata = {"render_modes": []}

    def __init__(self, scenario: Any, **options: Any) -> None:
        self.core = FleetCore(scenario, **options)
        n, f = self.core.n, self.core.features
        obs = {"observation": spaces.Box(-OBS_BOUND, OBS_BOUND, (n, f.obs_dim), np.float32),
               "action_mask": spaces.Box(0, 1, (n, f.n_actions), np.int8),
               "state": spaces.Box(-OBS_BOUND, OBS_BOUND, (f.state_dim,), np.float32)}
        if f.waypoint:
            del obs["action_mask"]
            self.action_space = spaces.Box(0.0, 1.0, (n, 2), np.float32)
        else:
            self.action_space = spaces.MultiDiscrete(np.full(n, f.n_actions))
        self.observation_space = spaces.Dict(obs)
        self._done = False

    def _pack(self, r: StepResult) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        obs = {"observation": r.obs,
               "action_mask": r.mask,
               "state": np.clip(self.core.features.state(), -OBS_BOUND, OBS_BOUND)}
        if self.core.features.waypoint:
            del obs["action_mask"]
        info = {"now_s": r.now_s,
                "terms": dict(zip(REWARD_TERMS, r.terms.sum(axis=0).tolist(), strict=True))}
        return obs, info

    def reset(self, *, seed: int | None = None, options: dict | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        self._done = False
        return self._pack(self.core.reset(seed))

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict]:
        if self._done:
            raise RuntimeError("step() after the end of the episode: call reset()")
        f = self.core.features
        r = self.core.step(np.asarray(action, dtype=np.float64 if f.waypoint else np.int64))
        self._done = r.done
        obs, info = self._pack(r)
        return obs, float(r.reward.sum()), False, r.done, info

"""A learned policy as a fleetsim :class:`~fleetsim.policy.Policy` (numpy only).

It sees what the learning environments show (:mod:`fleetsim.rl.features`: the
same observations, masks and macro-actions, built from the fleet view), asks a
callable for one macro-action per vehicle, and turns them into plans, so a
policy trained in :func:`fleetsim.rl.parallel_env` or :func:`fleetsim.rl.central_env`
runs in ``fleetsim run`` and competes in ``fleetsim sweep`` / ``compare``::

    policy:
      name: fleetsim.rl.policy:LearnedPolicy
      params: {checkpoint: linear.npz, decision_period_s: 120}

``checkpoint`` is either a ``.npz`` file of a linear policy (``W``: (obs_dim,
n_actions), ``b``: (n_actions,); each vehicle takes the allowed action of largest
``obs @ W + b``; a relative path is taken from the scenario's folder) or
``module:name`` / ``path/file.py:name`` naming a callable ``f(obs, mask) ->
actions`` (``obs``: (n, obs_dim) float32, ``mask``: (n, n_actions) int8,
``actions``: (n,) int); a class named there is instantiated first. In Python,
``LearnedPolicy.from_callable(f)`` wraps a callable directly.

A stepped environment episode whose actions come from the same callable (with the
same options) records exactly what the in-process run of this policy does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fleetsim import libm
from fleetsim.errors import PolicyError
from fleetsim.policy import Policy, import_code, param, positive
from fleetsim.rl.features import ACTION_MODES, Features, Options, has_orders

Actor = Callable[[np.ndarray, np.ndarray], Any]


def _odd(v: int) -> str | None:
    return None if v >= 1 and v % 2 == 1 else "an odd integer >= 1"


def _optional_positive(v: float | None) -> str | None:
    return None if v is None or v > 0 else "a number > 0 (or null)"


def _non_negative_int(v: int) -> str | None:
    return None if v >= 0 else "an integer >= 0"


def _optional_non_negative(v: int | None) -> str | None:
    return None if v is None or v >= 0 else "an integer >= 0 (or null)"


def _action_mode(v: str) -> str | None:
    return None if v in ACTION_MODES else f"one of {', '.join(ACTION_MODES)}"


class LinearActor:
    """``argmax`` over the allowed actions of ``obs @ W + b`` (ties: the lowest); with
    ``waypoint=True`` (W: (obs_dim, 2)) the waypoints ``sigmoid(obs @ W + b)``."""

    def __init__(self, W: np.ndarray, b: np.ndarray, *, waypoint: bool = False) -> None:
        self.waypoint = waypoint
        self.W = np.asarray(W, dtype=np.float64)
        self.b = np.asarray(b, dtype=np.float64).reshape(-1)
        if self.W.ndim != 2 or self.W.shape[1] != len(self.b):
            raise ValueError(f"a linear policy needs W (obs_dim, n_actions) and b (n_actions,), "
                             f"got W {self.W.shape} and b {self.b.shape}")

    def __call__(self, obs: np.ndarray, mask: np.ndarray) -> np.ndarray:
        logits = libm.matmul(obs, self.W) + self.b
        if self.waypoint:
            return 1.0 / (1.0 + libm.exp(-logits))
        return np.where(mask > 0, logits, -np.inf).argmax(axis=1)


def load_actor(checkpoint: str, *, base_dir: str | None = None, waypoint: bool = False) -> Actor:
    """The callable named by ``checkpoint`` (see the module notes)."""
    path = Path(checkpoint)
    if checkpoint.endswith(".npz"):
        if base_dir is not None and not path.is_absolute():
            path = Path(base_dir) / path
        if not path.is_file():
            raise PolicyError(f"checkpoint {checkpoint!r} not found (looked at {path})")
        with np.load(path) as data:
            missing = [k for k in ("W", "b") if k not in data]
            if missing:
                raise PolicyError(f"checkpoint {checkpoint!r} has no {', '.join(missing)} "
                                  f"(a linear policy needs W and b)")
            try:
                return LinearActor(data["W"], data["b"], waypoint=waypoint)
            except ValueError as exc:
                raise PolicyError(f"checkpoint {checkpoint!r}: {exc}") from None
    module_name, sep, attr = checkpoint.rpartition(":")
    if not sep or not module_name or not attr:
        raise PolicyError(f"checkpoint {checkpoint!r}: expected a .npz file or "
                          "'module:name' / 'path/file.py:name' of a callable f(obs, mask)")
    try:
        module = import_code(module_name, base_dir, what="checkpoint", prefix="fleetsim_actor_")
    except ImportError as exc:
        raise PolicyError(f"checkpoint {checkpoint!r}: cannot import {module_name!r}: "
                          f"{exc}") from None
    obj = getattr(module, attr, None)
    if obj is None:
        raise PolicyError(f"checkpoint {checkpoint!r}: {module_name!r} has no {attr!r}")
    if isinstance(obj, type):
        obj = obj()
    if not callable(obj):
        raise PolicyError(f"checkpoint {checkpoint!r}: {attr!r} is not callable")
    return obj


class LearnedPolicy(Policy):
    """Runs a learned actor over the learning interfaces' observations (module notes)."""

    name = "learned"
    mission = "any"  # missions, orders (with order actions), or both
    action_classes = frozenset({"transit", "hold", "return", "pickup", "deliver"})

    @dataclass(frozen=True)
    class Params:
        checkpoint: str = param("", None, ".npz linear policy, or module:name of f(obs, mask)")
        decision_period_s: float | None = param(None, _optional_positive,
                                                "ask every vehicle that often (null: when idle)")
        n_candidates: int = param(8, positive, "candidate cells (go-to actions)")
        step_m: float | None = param(None, _optional_positive, "distance of the candidates")
        cell_m: float | None = param(None, _optional_positive, "idleness grid cell side")
        patch: int = param(3, _odd, "idleness patch side in cells")
        hold_s: float = param(60.0, positive, "duration of the hold action")
        idle_scale_s: float = param(1800.0, positive, "idleness that normalises to 1")
        state_grid: int = param(8, positive, "coarse grid side of the global state")
        n_targets: int = param(2, _non_negative_int, "nearest known targets observed")
        n_orders: int | None = param(None, _optional_non_negative,
                                     "nearest open orders observed and offered as actions "
                                     "(null: 4 with orders or demand, else 0)")
        action_mode: str = param("discrete", _action_mode,
                                 "discrete (macro-actions) or waypoint ((n, 2) points in [0, 1])")

    def __init__(self, actor: Actor | None = None) -> None:
        self.actor = actor

    @classmethod
    def from_callable(cls, actor: Actor) -> LearnedPolicy:
        """A policy deciding with ``actor(obs, mask) -> actions``."""
        return cls(actor)

    def options(self) -> Options:
        p = self.params
        return Options(n_candidates=p.n_candidates, step_m=p.step_m, cell_m=p.cell_m,
                       patch=p.patch, hold_s=p.hold_s, idle_scale_s=p.idle_scale_s,
                       decision_period_s=p.decision_period_s, state_grid=p.state_grid,
                       n_targets=p.n_targets, n_orders=p.n_orders, action_mode=p.action_mode)

    def reset(self, ctx) -> None:
        super().reset(ctx)
        if self.actor is None:
            if not self.params.checkpoint:
                raise PolicyError("policy 'learned' needs a checkpoint (policy.params.checkpoint: "
                                  "a .npz linear policy or module:name of a callable)")
            self.actor = load_actor(self.params.checkpoint, base_dir=ctx.scenario.base_dir,
                                    waypoint=self.params.action_mode == "waypoint")
        opt = self.options()
        self.decision_period_s = opt.decision_period_s
        self.features = Features(ctx.world, ctx.vehicle_types, ctx.vehicle_type_index,
                                 ctx.home_xy, ctx.duration_s, opt,
                                 has_orders=has_orders(ctx.scenario))
        if isinstance(self.actor, LinearActor):
            f = self.features
            want = (f.obs_dim, 2 if f.waypoint else f.n_actions)
            if self.actor.W.shape != want:
                raise PolicyError(f"checkpoint {self.params.checkpoint or 'W'!r}: W has shape "
                                  f"{self.actor.W.shape}, these options and this scenario need "
                                  f"{want} (obs_dim, {'2' if f.waypoint else 'n_actions'}); use "
                                  "the options it was trained with (n_candidates, patch, "
                                  "n_targets, n_orders, action_mode)")

    def decide(self, now_s, fleet, requests):
        obs, mask, _ = self.features.observe(now_s, fleet, requests)
        if not self.features.asking.any():
            return []
        actions = np.asarray(self.actor(obs, mask))
        return self.features.plans(actions, mask)

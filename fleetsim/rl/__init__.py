"""Learning interfaces: a PettingZoo ``ParallelEnv`` and a Gymnasium env over the engine.

``pettingzoo`` and ``gymnasium`` are an optional extra (``pip install fleetsim[rl]``);
they are imported only when an environment is made, so a learned policy
(:class:`fleetsim.rl.policy.LearnedPolicy`) and the array core
(:class:`fleetsim.rl.core.FleetCore`) need numpy only. See ``fleetsim/rl/README.md``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["central_env", "parallel_env"]


def parallel_env(scenario: Any, **options: Any) -> Any:
    """A PettingZoo ``ParallelEnv`` over ``scenario`` (a path or a loaded scenario):
    one step per decision instant, one agent per vehicle
    (:class:`fleetsim.rl.pz.FleetParallelEnv`; options: :class:`fleetsim.rl.features.Options`)."""
    from fleetsim.rl.pz import FleetParallelEnv

    return FleetParallelEnv(scenario, **options)


def central_env(scenario: Any, **options: Any) -> Any:
    """A Gymnasium env for a central planner over the whole fleet
    (:class:`fleetsim.rl.central.CentralEnv`; options: :class:`fleetsim.rl.features.Options`)."""
    from fleetsim.rl.central import CentralEnv

    return CentralEnv(scenario, **options)

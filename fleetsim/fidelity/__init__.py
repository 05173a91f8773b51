"""Fidelity checks of the fast model: fly planned legs through rigid-body physics.

:mod:`fleetsim.fidelity.multirotor` flies multirotors in pybullet. Names are
re-exported lazily, so importing this package does not import pybullet (nor
does :class:`~fleetsim.fidelity.multirotor.FlightSim` until one is created).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Contact", "Controller", "FlightSim", "MultirotorParams", "Track",
           "trapezoid_time_s"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from fleetsim.fidelity import multirotor

        return getattr(multirotor, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

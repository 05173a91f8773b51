"""The event-driven engine: vehicles' processes, legs, in-leg events and the event log."""

from fleetsim.engine.sim import Simulation, simulate
from fleetsim.engine.states import STATES

__all__ = ["STATES", "Simulation", "simulate"]

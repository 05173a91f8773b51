"""The event-driven engine: vehicles' processes, legs, in-leg events and the event log.

See ``fleetsim/engine/README.md`` for how it is put together and where to plug in a
motion model, a vehicle domain or a subsystem.
"""

from fleetsim.engine.api import EngineAPI, Subsystem
from fleetsim.engine.motion import MotionModel
from fleetsim.engine.sim import Simulation, simulate
from fleetsim.engine.states import STATES

__all__ = ["STATES", "EngineAPI", "MotionModel", "Simulation", "Subsystem", "simulate"]

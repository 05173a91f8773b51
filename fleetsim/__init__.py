"""fleetsim: event-driven simulation of large autonomous fleets under human oversight."""

__version__ = "0.1.0"


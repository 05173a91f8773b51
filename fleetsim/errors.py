"""The exception hierarchy of fleetsim.

Every error a user can cause derives from :class:`FleetsimError` and carries a
message that says what went wrong, where, and what would be valid. The CLI
prints such errors without a traceback and exits with status 2.
"""

from __future__ import annotations


class FleetsimError(Exception):
    """Root of all errors a user of fleetsim can cause."""


class ScenarioError(FleetsimError):
    """A scenario (or experiment) file, or an override, is invalid.

    Parameters
    ----------
    message:
        What was found and what would be valid.
    file:
        The file the value came from (or ``"<override>"`` / ``"<scenario>"``).
    line:
        1-based line number in ``file``, or ``None`` when unknown.
    path:
        The YAML path of the value, e.g. ``fleet.types[1].cruise_speed_mps``.
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 path: str | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.path = path
        super().__init__(self.format())

    def format(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        elif self.line:
            where = f"line {self.line}: "
        path = f"{self.path}: " if self.path else ""
        return f"{where}{path}{self.message}"


class PolicyError(FleetsimError):
    """A policy could not be found, or returned a plan the engine cannot execute.

    Run-time errors name the policy, the simulated time and the vehicle.
    """

    def __init__(self, message: str, *, policy: str | None = None, time_s: float | None = None,
                 vehicle: int | None = None) -> None:
        self.policy = policy
        self.time_s = time_s
        self.vehicle = vehicle
        parts = []
        if policy is not None:
            parts.append(f"policy {policy!r}")
        if time_s is not None:
            parts.append(f"t={time_s:.3f} s")
        if vehicle is not None:
            parts.append(f"vehicle {vehicle}")
        prefix = ", ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class RunDirError(FleetsimError):
    """A run directory is missing, incomplete or from an incompatible version."""

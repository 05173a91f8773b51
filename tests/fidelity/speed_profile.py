"""The ideal speed profile the multirotor controller commands (fleetsim.fidelity), as
closed-form times: the reference the physics flights are checked against.

The controller commands ``min(v_max, sqrt(v_end^2 + 2 b d))`` along a leg (``d`` to
go, ``b = brake_fraction * max_accel``) and accelerates at ``a = max_accel``; a
waypoint counts as reached on entering the ``capture_m`` sphere, so a leg ends
``capture_m`` short of its waypoint at ``sqrt(v_end^2 + 2 b capture_m)``. At a right
angle the corner speed is ``sqrt(2 b capture_m)``, and the velocity at the capture
point is all across the next leg: that leg starts from rest along its own line.

A vehicle that tracked the profile exactly would take these times. The physics
flight lags it: the velocity loop is first order with time constant
``tau = 1 / vel_gain`` (0.2 s by default), so a ramp of the speed command is followed
``tau`` late (braking is fed forward, with no lag in the ideal loop); after a corner
the velocity across the new leg (``s``) must also be cancelled, at most at ``a``
once the loop has caught up: up to ``tau + s / a`` more, and an excursion off the
new line of at most ``capture_m + s tau + s^2 / (2 a)``.
"""

from __future__ import annotations

import math


def profile_time_s(length: float, v0: float, v1: float, vmax: float, a: float,
                   b: float) -> float:
    """Time to cover ``length`` from speed ``v0`` to ``v1``, accelerating at ``a`` up
    to at most ``vmax`` and braking at ``b`` (``v0, v1 <= vmax``)."""
    d_acc = (vmax * vmax - v0 * v0) / (2 * a)
    d_brk = (vmax * vmax - v1 * v1) / (2 * b)
    if d_acc + d_brk <= length:
        return (vmax - v0) / a + (length - d_acc - d_brk) / vmax + (vmax - v1) / b
    peak = math.sqrt((2 * a * b * length + b * v0 * v0 + a * v1 * v1) / (a + b))
    return (peak - v0) / a + (peak - v1) / b


def capture_speed(v_end: float, b: float, capture_m: float) -> float:
    """Commanded speed on entering the capture sphere of a waypoint passed at ``v_end``."""
    return math.sqrt(v_end * v_end + 2 * b * capture_m)


def right_angle_corner_speed(b: float, capture_m: float) -> float:
    return math.sqrt(2 * b * capture_m)

"""Search theory against a datum: each search leg's probability of detection (POD).

A search's datum (``missions[].datum``) is a circular normal of standard deviation
``sigma`` per axis around the last known position, drifting at a constant velocity
(the mission's drift without its random part). In the datum's frame a straight leg
flown at constant velocity is again a straight segment (the leg minus the drift), and
a definite-range sensor of sweep width ``W`` sweeps the rectangle of that segment's
length and width ``W``. A leg's POD is the normal's mass in that rectangle, exact: the
rectangle is aligned with the segment and the normal is isotropic, so the mass is a
product of two one-dimensional normal integrals.

Legs are counted on their own: the cumulative POD of several legs
(:func:`cumulative_pod`, ``1 - prod(1 - POD_i)``) treats them as independent looks,
as the IAMSAR manual combines successive searches; it overstates the POD where the
legs' rectangles overlap (a sector search's passes through the datum).
"""

from __future__ import annotations

import numpy as np


def _phi(x: np.ndarray) -> np.ndarray:
    from scipy.special import ndtr
    return ndtr(x)


def segment_pod(a: np.ndarray, b: np.ndarray, sigma_m: float,
                sweep_width_m: np.ndarray | float) -> np.ndarray:
    """POD of the segments ``a[i] -> b[i]`` ((n, 2) arrays, relative to the datum) for
    a target normal around the datum (``sigma_m`` per axis) and a definite-range sensor
    of sweep width ``sweep_width_m``: the normal's mass in each swept rectangle."""
    d = b - a
    length = np.hypot(d[:, 0], d[:, 1])
    u = d / np.where(length > 0, length, 1.0)[:, None]
    s0 = -(a[:, 0] * u[:, 0] + a[:, 1] * u[:, 1])  # the datum's coordinate along the leg
    c = -(a[:, 0] * -u[:, 1] + a[:, 1] * u[:, 0])  # ... and across it
    along = _phi((length - s0) / sigma_m) - _phi(-s0 / sigma_m)
    half = np.asarray(sweep_width_m, dtype=np.float64) / 2.0
    across = _phi((half - c) / sigma_m) - _phi((-half - c) / sigma_m)
    return np.where(length > 0, along * across, 0.0)


def leg_pod(offsets: np.ndarray, sigma_m: float, sweep_width_m: float) -> np.ndarray:
    """POD of each leg between consecutive ``offsets`` (from the datum) of a path."""
    return segment_pod(offsets[:-1], offsets[1:], sigma_m, sweep_width_m)


def cumulative_pod(pods: np.ndarray) -> float:
    """``1 - prod(1 - POD_i)``: legs as independent looks (see the module docstring)."""
    return float(1.0 - np.prod(1.0 - np.asarray(pods, dtype=np.float64)))


def datum_legs_pod(t0: np.ndarray, t1: np.ndarray, p0: np.ndarray, p1: np.ndarray,
                   datum_xy: tuple[float, float], drift: tuple[float, float],
                   sigma_m: float, sweep_width_m: np.ndarray) -> np.ndarray:
    """POD of legs flown from ``p0`` at ``t0`` to ``p1`` at ``t1`` ((n, 2) positions)
    against a datum at ``datum_xy`` at time 0 drifting at ``drift`` m/s."""
    c = np.asarray(datum_xy, dtype=np.float64)
    v = np.asarray(drift, dtype=np.float64)
    a = p0 - (c + v * t0[:, None])
    b = p1 - (c + v * t1[:, None])
    return segment_pod(a, b, sigma_m, sweep_width_m)

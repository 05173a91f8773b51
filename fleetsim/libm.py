"""Elementwise transcendental functions that give the same bits on every processor.

Where the processor has AVX-512, numpy computes ``exp``, ``expm1``, ``arctan2``,
``log``, ``power`` and a few more with SIMD code of its own; elsewhere it calls
the C library. The two disagree in the last bit for a few inputs in a hundred,
and one bit can change a run: a detection drawn against a probability, a route's
altitude layer chosen by the quadrant of its heading. A run must be the same on
every machine, so the engine, the planners and the policies call these instead:
the C library's functions (those of Python's :mod:`math`), compiled into numpy
ufuncs with numba (cached beside this module after the first use).

``tests/test_libm.py`` checks each against :mod:`math` and that no module of
fleetsim calls numpy's own versions.
"""

from __future__ import annotations

import math

from numba import vectorize

__all__ = ["arctan2", "exp", "expm1", "log"]


@vectorize(["float64(float64)"], cache=True)
def exp(x):
    """``e ** x``, elementwise (the C library's ``exp``)."""
    return math.exp(x)


@vectorize(["float64(float64)"], cache=True)
def expm1(x):
    """``e ** x - 1``, exact near 0, elementwise (the C library's ``expm1``)."""
    return math.expm1(x)


@vectorize(["float64(float64)"], cache=True)
def log(x):
    """Natural logarithm, elementwise (the C library's ``log``; NaN below 0, -inf at 0)."""
    if x < 0.0:
        return math.nan
    if x == 0.0:
        return -math.inf
    return math.log(x)


@vectorize(["float64(float64, float64)"], cache=True)
def arctan2(y, x):
    """Angle of (x, y) in radians in [-pi, pi], elementwise (the C library's ``atan2``)."""
    return math.atan2(y, x)

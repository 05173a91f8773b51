"""Elementwise transcendental functions, and the matrix product, that give the same
bits on every processor.

Where the processor has AVX-512, numpy computes ``exp``, ``expm1``, ``arctan2``,
``log``, ``power`` and a few more with SIMD code of its own; elsewhere it calls
the C library. The two disagree in the last bit for a few inputs in a hundred,
and one bit can change a run: a detection drawn against a probability, a route's
altitude layer chosen by the quadrant of its heading. A run must be the same on
every machine, so the engine, the planners and the policies call these instead:
the C library's functions (those of Python's :mod:`math`), compiled into numpy
ufuncs with numba (cached beside this module after the first use).

numpy's matrix products (``@``, ``dot``, ``einsum``) go to a BLAS library whose
kernel is chosen for the processor: with fused multiply-adds on one, without on
another, and the sums in an order of its own. :func:`matmul` is the product with
each entry summed term by term, in order, without fusing.

``tests/test_cpu_independence.py`` checks each against :mod:`math` (the product
against a plain loop) and that no module of fleetsim calls numpy's own versions.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, vectorize

__all__ = ["arctan2", "exp", "expm1", "log", "matmul"]


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


@njit(cache=True)
def _matmul(a, b):
    n, k = a.shape
    m = b.shape[1]
    out = np.zeros((n, m))
    if k == 0:
        return out
    for i in range(n):
        for j in range(m):
            acc = a[i, 0] * b[0, j]
            for t in range(1, k):
                acc += a[i, t] * b[t, j]
            out[i, j] = acc
    return out


def matmul(a, b) -> np.ndarray:
    """``a @ b`` for a 2-D ``a`` (n, k) and ``b`` (k, m) as float64: each entry
    ``a[i, 0] * b[0, j] + a[i, 1] * b[1, j] + ...`` summed left to right, each product
    rounded (no fused multiply-add), the same on every processor."""
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul needs (n, k) and (k, m) arrays, got {a.shape} and {b.shape}")
    return _matmul(a, b)

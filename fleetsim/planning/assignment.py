"""Assignment helpers: nearest neighbours and minimum-cost matching.

Coordinates are local metres (x east, y north).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

__all__ = ["assign_min_cost", "nearest"]


def _as_xy(xy: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(xy, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"{name} must have shape (n, 2), got {array.shape}")
    if not np.isfinite(array).all():
        row = int(np.flatnonzero(~np.isfinite(array).all(axis=1))[0])
        raise ValueError(f"{name}[{row}] is not finite: {array[row].tolist()}")
    return array


def nearest(
    points_xy: np.ndarray, query_xy: np.ndarray, *, max_distance_m: float = np.inf
) -> tuple[np.ndarray, np.ndarray]:
    """The nearest of ``points_xy`` to each query point.

    Parameters
    ----------
    points_xy : array_like of shape (n, 2), metres
        Candidate points, n >= 1.
    query_xy : array_like of shape (m, 2), metres
        Query points.
    max_distance_m : float, keyword-only
        Ignore candidates farther than this (metres).

    Returns
    -------
    index : ndarray of shape (m,), int64
        Row of ``points_xy`` nearest to each query point; -1 when none lies
        within ``max_distance_m``. Ties go to one of the tied points,
        deterministically for the same input.
    distance_m : ndarray of shape (m,), float64
        Distance to that point in metres; ``inf`` where ``index`` is -1.
    """
    points = _as_xy(points_xy, "points_xy")
    query = _as_xy(query_xy, "query_xy")
    if len(points) == 0:
        raise ValueError("points_xy is empty: there is no nearest point")
    if not max_distance_m > 0:
        raise ValueError(f"max_distance_m must be > 0 m, got {max_distance_m!r}")
    if len(query) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    distance, index = cKDTree(points).query(query, k=1, distance_upper_bound=max_distance_m)
    index = np.asarray(index, dtype=np.int64)
    distance = np.asarray(distance, dtype=np.float64)
    index[~np.isfinite(distance)] = -1
    return index, distance


def assign_min_cost(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A minimum-cost one-to-one assignment of rows to columns, with forbidden pairs.

    Parameters
    ----------
    cost : array_like of shape (n, m), float
        ``cost[i, j]`` is the cost of giving column j to row i (any unit,
        e.g. metres or seconds); ``+inf`` marks a pair that must never be
        assigned.

    Returns
    -------
    rows, cols : ndarray of shape (p,), int64
        Row ``rows[k]`` gets column ``cols[k]``; ``rows`` ascending. As many
        pairs as possible are assigned without using a forbidden pair, and
        among those the total cost is least. Rows (or columns) that cannot be
        assigned are left out, so ``p <= min(n, m)``.

    Raises
    ------
    ValueError
        If ``cost`` is not 2-D or holds NaN or ``-inf``.

    Notes
    -----
    Wraps :func:`scipy.optimize.linear_sum_assignment`. Forbidden pairs are
    given a penalty larger than any difference of finite totals, so the
    solver first maximises the number of allowed pairs, then drops the
    forbidden ones it was forced to use.
    """
    matrix = np.asarray(cost, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"cost must be a 2-D array (rows x columns), got shape {matrix.shape}")
    bad = np.isnan(matrix) | (matrix == -np.inf)
    if bad.any():
        i, j = (int(k) for k in np.argwhere(bad)[0])
        raise ValueError(
            f"cost[{i}, {j}] is {matrix[i, j]}; costs must be finite, or +inf for a forbidden pair"
        )
    allowed = np.isfinite(matrix)
    if not allowed.any():
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    largest = float(np.abs(matrix[allowed]).max())
    penalty = (largest + 1.0) * 2.0 * (min(matrix.shape) + 1)
    rows, cols = linear_sum_assignment(np.where(allowed, matrix, penalty))
    keep = allowed[rows, cols]
    return rows[keep].astype(np.int64), cols[keep].astype(np.int64)

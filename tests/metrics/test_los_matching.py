"""Losses of separation as the safety metrics read them: each ``los_end`` closes the
earliest open ``los_start`` of its pair, ends with nothing open are ignored."""

from __future__ import annotations

import numpy as np

from fleetsim.metrics.safety import _match_losses


def _one_by_one(kind, a, b):
    """The plain walk over the events in recording order (a queue per pair)."""
    open_at: dict[tuple[int, int], list[int]] = {}
    out = []
    for i, k in enumerate(kind):
        key = (int(a[i]), int(b[i]))
        if k == "s":
            open_at.setdefault(key, []).append(i)
        elif k == "e" and open_at.get(key):
            out.append((open_at[key].pop(0), i))
    return out


def test_each_end_closes_its_pairs_earliest_open_start():
    #            0    1    2    3    4    5    6    7    8    9
    kind = ["e", "s", "s", "x", "e", "s", "e", "e", "e", "s"]
    a = np.array([1, 1, 2, 0, 1, 1, 2, 1, 1, 2])
    b = np.array([5, 5, 5, 0, 5, 5, 5, 5, 5, 5])
    starts = np.array([i for i, k in enumerate(kind) if k == "s"])
    ends = np.array([i for i, k in enumerate(kind) if k == "e"])
    i_start, i_end = _match_losses(starts, ends, a, b)
    # end 0: nothing open; 4 closes 1; 6 closes 2 (pair 2-5); 7 closes 5; 8: nothing open
    assert list(zip(i_start.tolist(), i_end.tolist(), strict=True)) == [(1, 4), (2, 6), (5, 7)]


def test_matches_the_plain_walk_on_random_sequences():
    rng = np.random.default_rng(3)
    for _ in range(30):
        n = int(rng.integers(0, 300))
        kind = rng.choice(["s", "e", "x"], n, p=[0.45, 0.45, 0.1]).tolist()
        a = rng.integers(0, 4, n)
        b = rng.integers(0, 3, n)
        starts = np.array([i for i, k in enumerate(kind) if k == "s"], dtype=np.int64)
        ends = np.array([i for i, k in enumerate(kind) if k == "e"], dtype=np.int64)
        i_start, i_end = _match_losses(starts, ends, a, b)
        assert list(zip(i_start.tolist(), i_end.tolist(), strict=True)) == \
            _one_by_one(kind, a, b)


def test_matches_the_plain_walk_with_vehicle_numbers_too_wide_for_one_sort_key():
    # Pairs of 2**40-apart vehicle numbers leave no room for a packed sort key: the
    # lexsort taken then gives the same matches.
    rng = np.random.default_rng(4)
    n = 200
    kind = rng.choice(["s", "e", "x"], n, p=[0.45, 0.45, 0.1]).tolist()
    a = rng.integers(0, 3, n) * 2**40 - 7
    b = rng.integers(0, 3, n) * 2**21
    starts = np.array([i for i, k in enumerate(kind) if k == "s"], dtype=np.int64)
    ends = np.array([i for i, k in enumerate(kind) if k == "e"], dtype=np.int64)
    i_start, i_end = _match_losses(starts, ends, a, b)
    assert list(zip(i_start.tolist(), i_end.tolist(), strict=True)) == _one_by_one(kind, a, b)


def test_resolved_conflicts_match_the_plain_search():
    from fleetsim.metrics.safety import _resolved

    rng = np.random.default_rng(8)
    for _ in range(30):
        n = int(rng.integers(1, 200))
        kind = rng.choice(["s", "c", "x"], n, p=[0.5, 0.3, 0.2])
        t = np.sort(rng.integers(0, 40, n) * 1.0)  # ties between starts and conflicts
        a = rng.integers(0, 4, n)
        b = rng.integers(0, 4, n)
        starts, conflicts = np.flatnonzero(kind == "s"), np.flatnonzero(kind == "c")
        horizon = float(rng.integers(0, 10))
        plain = 0
        for i in conflicts.tolist():
            key = (min(a[i], b[i]), max(a[i], b[i]))
            times = [t[j] for j in starts.tolist() if (a[j], b[j]) == key]
            if not any(t[i] <= x <= t[i] + horizon for x in times):
                plain += 1
        assert _resolved(t, a, b, starts, conflicts, horizon) == plain

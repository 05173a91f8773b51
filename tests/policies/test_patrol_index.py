"""persistent_patrol's fast paths (the first-hop bucket index, the one-vehicle scalar
walk) choose exactly what scoring every cell and the vectorised walk choose."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("quantum", [0.0, 600.0])  # continuous idleness; many ties
def test_bucket_index_picks_the_cells_scoring_every_cell_picks(patrol, quantum):
    rng = np.random.default_rng(3)
    saved = patrol.last_visit.copy(), patrol.bucket_min_visit.copy()
    try:
        for trial in range(60):
            lv = rng.uniform(-7200.0, 0.0, len(patrol.last_visit))
            if quantum:
                lv = np.round(lv / quantum) * quantum
            patrol.last_visit[:] = lv
            # a stale (too low) bound is allowed: visits only get later
            patrol.bucket_min_visit[:] = -7200.0 if trial % 2 else -1e9
            pos = rng.uniform(0.0, 100000.0, 2)
            speed = float(rng.uniform(10.0, 40.0))
            for m in (1, 7, 60):
                fast = patrol.best_cells(pos, speed, m)
                assert fast.tolist() == patrol.best_cells_all(pos, speed, m).tolist()
    finally:
        patrol.last_visit[:], patrol.bucket_min_visit[:] = saved


def test_one_vehicle_walk_matches_the_vectorised_walk(patrol):
    rng = np.random.default_rng(4)
    saved = patrol.last_visit.copy(), patrol.heading.copy()
    try:
        for _ in range(20):
            lv = np.round(rng.uniform(-3600.0, 0.0, len(patrol.last_visit)) / 300.0) * 300.0
            xy = rng.uniform(0.0, 100000.0, (1, 2))
            v = np.array([int(rng.integers(0, 8))])
            t = np.array([float(rng.uniform(0.0, 100.0))])
            heading = np.full(2, np.nan) if rng.uniform() < 0.5 else \
                np.array([1.0, 0.0])
            out = {}
            for fast in (False, True):
                patrol.fast = fast
                patrol.last_visit[:] = lv
                patrol.heading[v] = heading
                routes = patrol._walk(v, xy, t, 2000.0, append=True)
                out[fast] = (routes[0].tobytes(), patrol.last_visit.tobytes(),
                             patrol.heading[v].tobytes())
            assert len(routes[0]) > 10
            assert out[True] == out[False]
    finally:
        patrol.fast = True
        patrol.last_visit[:], patrol.heading[:] = saved


@pytest.mark.parametrize("quantum", [0.0, 600.0])
def test_one_vehicle_first_cell_is_the_best_cell_scoring_every_cell(patrol, quantum):
    rng = np.random.default_rng(5)
    one = patrol._one
    saved = patrol.last_visit.copy(), patrol.bucket_min_visit.copy()
    try:
        for trial in range(80):
            lv = rng.uniform(-7200.0, 0.0, len(patrol.last_visit))
            if quantum:
                lv = np.round(lv / quantum) * quantum
            patrol.last_visit[:] = lv
            patrol.bucket_min_visit[:] = -7200.0 if trial % 2 else -1e9
            x, y = rng.uniform(-5000.0, 105000.0, 2).tolist()
            speed = float(rng.uniform(10.0, 40.0))
            best = patrol.best_cells_all(np.array([x, y]), speed, 1)
            assert one.first_cell(x, y, speed) == int(best[0])
            assert np.all(patrol.bucket_min_visit <= np.minimum.reduceat(
                lv[patrol.bucket_cells_of], patrol.bucket_start))
    finally:
        patrol.last_visit[:], patrol.bucket_min_visit[:] = saved


@pytest.mark.parametrize("append", [False, True])
def test_one_vehicle_plans_match_the_vectorised_plans(patrol, append):
    rng = np.random.default_rng(6)
    saved = patrol.last_visit.copy(), patrol.heading.copy(), patrol.bucket_min_visit.copy()
    try:
        for _ in range(20):
            lv = np.round(rng.uniform(-3600.0, 0.0, len(patrol.last_visit)) / 300.0) * 300.0
            xy = rng.uniform(0.0, 100000.0, (1, 2))
            if rng.uniform() < 0.3:  # at a cell centre (a route's end)
                xy = patrol.centres[[int(rng.integers(len(patrol.centres)))]].copy()
            v = np.array([int(rng.integers(0, 8))])
            t = np.array([float(rng.uniform(0.0, 100.0))])
            heading = np.full(2, np.nan) if rng.uniform() < 0.5 else np.array([0.0, 1.0])
            z = None if append else np.array([float(rng.uniform(0.0, 1500.0))])
            out = {}
            for fast in (False, True):
                patrol.fast = fast
                patrol.last_visit[:] = lv
                patrol.bucket_min_visit[:] = -3600.0
                patrol.heading[v] = heading
                plans = patrol._extend(v, xy, t, 2000.0, append=append, start_z=z)
                out[fast] = ([(p.vehicle, p.append, [(type(a).__name__, a.alt_agl_m,
                                                      np.asarray(a.waypoints).tobytes())
                                                     for a in p.actions]) for p in plans],
                             patrol.last_visit.tobytes(), patrol.heading[v].tobytes())
            assert len(out[True][0]) == 1
            assert out[True] == out[False]
    finally:
        patrol.fast = True
        patrol.last_visit[:], patrol.heading[:], patrol.bucket_min_visit[:] = saved


def test_extensions_from_cell_centres_known_clear_give_the_plans_follow_gives(patrol):
    rng = np.random.default_rng(9)
    saved = patrol.last_visit.copy(), patrol.heading.copy(), patrol.bucket_min_visit.copy()
    try:
        lv = rng.uniform(-3600.0, 0.0, len(patrol.last_visit))
        v = np.arange(8)
        xy = patrol.centres[rng.integers(0, len(patrol.centres), 8)].copy()
        t = np.full(8, 10.0)
        out = []
        for shortcut in (True, False):
            patrol.last_visit[:] = lv
            patrol.heading[v] = np.nan
            routes, clear, length = patrol._walk_clear(v, xy, t, 9000.0, append=True)
            assert clear.all() and length > 1000e3  # long enough for the coarse test
            plans = patrol._plans(v, xy, routes, append=True, clear=clear if shortcut
                                  else None, clear_length=length)
            out.append([(p.vehicle, [(a.alt_agl_m, np.asarray(a.waypoints).tobytes())
                                     for a in p.actions]) for p in plans])
        assert out[0] == out[1]
    finally:
        patrol.last_visit[:], patrol.heading[:], patrol.bucket_min_visit[:] = saved

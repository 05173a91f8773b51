"""What persistent_patrol keeps between decisions (travel times from start points,
the cell a route ends at, the clearance of every step, ways around zones) gives
the answers it would work out afresh."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import shapely

from fleetsim.planning.zones import ZoneWindows


def test_first_cell_from_the_same_start_points_as_visits_change(patrol):
    rng = np.random.default_rng(11)
    one = patrol._one
    bases = [(25000.0, 25000.0), (75000.0, 25000.0), (-300.0, 50000.0)]
    saved = patrol.last_visit.copy(), patrol.bucket_min_visit.copy()
    try:
        for trial in range(60):
            lv = rng.uniform(-7200.0, 0.0, len(patrol.last_visit))
            if trial % 3 == 0:
                lv = np.round(lv / 600.0) * 600.0  # many ties
            patrol.last_visit[:] = lv
            patrol.bucket_min_visit[:] = -7200.0
            x, y = bases[trial % len(bases)]
            speed = 18.0 if trial % 2 else 25.0
            best = patrol.best_cells_all(np.array([x, y]), speed, 1)
            assert one.first_cell(x, y, speed) == int(best[0])
        # each start point and speed kept once
        assert len([k for k in one.travel_from if (k[0], k[1]) in bases]) == 2 * len(bases)
    finally:
        patrol.last_visit[:], patrol.bucket_min_visit[:] = saved


def test_nearest_cells_are_the_k_d_trees_whatever_the_guesses(patrol):
    rng = np.random.default_rng(12)
    saved = patrol.end_cell.copy()
    try:
        n = len(patrol.end_cell)
        cells = rng.integers(0, len(patrol.centres), n)
        xy = patrol.centres[cells].copy()
        xy[::3] += rng.uniform(-400.0, 400.0, xy[::3].shape)  # off the centres
        guess = cells.copy()
        guess[1::4] = rng.integers(0, len(patrol.centres), len(guess[1::4]))  # stale
        guess[2::5] = -1  # none yet
        patrol.end_cell[:] = guess
        v = np.arange(n)
        assert patrol.nearest_cells(v, xy).tolist() == patrol.tree.query(xy)[1].tolist()
        patrol.end_cell[:] = cells
        at_centres = patrol.centres[cells]
        assert patrol.nearest_cells(v, at_centres).tolist() == cells.tolist()
    finally:
        patrol.end_cell[:] = saved


@pytest.mark.parametrize("agl, clearance", [(60.0, 50.0), (51.0, 50.0)])
def test_the_step_table_is_the_followers_answer_leg_by_leg(patrol, agl, clearance):
    # Low over the hills, so that many steps are not clear.
    saved = patrol.agl.copy(), patrol.clearance.copy()
    try:
        patrol.agl[:], patrol.clearance[:] = agl, clearance
        table = patrol.clear_steps(np.array([0]))
        f = patrol.follower
        rows, cols = np.nonzero(patrol.nbr >= 0)
        pick = np.random.default_rng(13).choice(len(rows), 3000, replace=False)
        answers = []
        for c, k in zip(rows[pick].tolist(), cols[pick].tolist(), strict=True):
            (ax, ay), (bx, by) = patrol.centres[[c, patrol.nbr[c, k]]].tolist()
            answers.append(f.leg_clear((ax, ay, f.height(ax, ay) + agl),
                                       (bx, by, f.height(bx, by) + agl),
                                       clearance + f.margin_m, finest=0))
        assert 0 < sum(answers) < len(answers)
        assert table[rows[pick], cols[pick]].tolist() == answers
    finally:
        patrol.agl[:], patrol.clearance[:] = saved


def test_ways_around_zones_are_kept_and_handed_out_as_copies():
    zw = ZoneWindows([SimpleNamespace(polygon=shapely.box(400, -100, 600, 100), start_s=900.0,
                                      end_s=math.inf)], clearance_m=10.0)
    first = zw.route((0.0, 0.0), (1000.0, 0.0), 1000.0, 1100.0)
    assert len(first) > 1 and first[-1].tolist() == [1000.0, 0.0]
    kept = first.copy()
    first[:] = -1.0  # a caller's changes stay its own
    again = zw.route((0.0, 0.0), (1000.0, 0.0), 2000.0, 2500.0)
    assert again.tolist() == kept.tolist()
    # before the zone starts: straight, not the way kept for while it is active
    assert zw.route((0.0, 0.0), (1000.0, 0.0), 0.0, 800.0).tolist() == [[1000.0, 0.0]]

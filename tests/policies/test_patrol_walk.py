"""persistent_patrol's compiled greedy walk takes exactly the steps of the numpy walk
it stands for (written out below as the reference): the same cells, arrival times,
headings, planned visits and clearance, with vehicles contending for cells, cells
tied for idleness, and timed zones blocking steps."""

from __future__ import annotations

import numpy as np
import pytest

from fleetsim import libm
from fleetsim.policies.patrol_one import TIE


def _first_of(want, n_cells):
    return np.sort(np.unique(want, return_index=True)[1])


def _step_blocked(p, c, cand, depart, arrive):
    out = np.zeros(cand.shape, dtype=bool)
    for j in range(len(p.timed_start)):
        cross = p.timed_cross[c, :, j]
        esc = p.timed_escape[cand, j]
        out |= cross & (arrive + esc + p.timed_slack_s >= p.timed_start[j]) \
            & (depart[:, None] < p.timed_end[j])
    return out


def _numpy_steps(p, cur, t, heading, active, speed, until_s, steps_clear, clear):
    """The walk in vectorised numpy steps, as the policy once took them."""
    timed = len(p.timed_start) > 0
    m = len(cur)
    steps = [np.full(m, -1)]
    lv, nbr, width, length = p.last_visit, p.nbr, p.nbr.shape[1], 0.0
    while True:
        act = np.flatnonzero(active)
        if len(act) == 0:
            break
        c = cur[act]
        cand = nbr.take(c, axis=0)
        t_act, speed_act = t[act], speed[act]
        bias = TIE * libm.matmul(heading[act], p.step_dir.T) - p.nbr_pen.take(c, axis=0)
        if timed:
            arrive = t_act[:, None] + p.nbr_dist[c] / speed_act[:, None]
            valid = (cand >= 0) & ~_step_blocked(p, c, np.maximum(cand, 0), t_act, arrive)
            bias[~valid] = -np.inf
            has = valid.any(axis=1)
        else:
            has = p.nbr_has[c]
        choice = np.full(len(act), -1)
        todo = has.copy()
        for _round in range(4):
            ti = np.flatnonzero(todo)
            if len(ti) == 0:
                break
            cand_ti, bias_ti = cand.take(ti, axis=0), bias.take(ti, axis=0)
            best = np.argmax(-lv.take(cand_ti) + bias_ti, axis=1)
            want = cand_ti.take(np.arange(len(ti)) * width + best)
            if _round < 3:
                first_of = _first_of(want, len(lv))
                win, got, want = ti[first_of], best[first_of], want[first_of]
            else:
                win, got = ti, best
            choice[win] = got
            arrive = t_act[win] + p.nbr_dist.take(c[win] * width + got) / speed_act[win]
            if _round < 3:
                lv[want] = np.maximum(lv[want], arrive)
            else:
                np.maximum.at(lv, want, arrive)
            todo[win] = False
        ch = np.maximum(choice, 0)
        at = c * width + ch
        nxt = np.where(has, cand.take(np.arange(len(act)) * width + ch), c)
        t[act] = np.where(has, t_act + p.nbr_dist.take(at) / speed_act, t_act)
        moves = act[has]
        heading[moves] = p.step_dir[ch[has]]
        step = np.full(m, -1)
        step[act] = np.where(has, nxt, -1)
        steps.append(step)
        cur[act] = nxt
        if steps_clear is not None:
            clear[act] &= ~has | steps_clear.take(at)
            length += float(p.nbr_dist.take(at[has]).sum())
        active[act] = has & (t[act] < until_s)
    return np.stack(steps, axis=1), length


def _timed(p, rng, n_zones):
    cells, k = p.nbr.shape
    cross = (rng.uniform(size=(cells, k, n_zones)) < 0.3) & (p.nbr >= 0)[:, :, None]
    escape = np.where(rng.uniform(size=(cells, n_zones)) < 0.5, 0.0,
                      rng.uniform(0.0, 900.0, (cells, n_zones)))
    start = rng.uniform(0.0, 1500.0, n_zones)
    return cross, escape, start, start + rng.uniform(100.0, 2000.0, n_zones)


@pytest.mark.parametrize("n_zones", [0, 2])
@pytest.mark.parametrize("m", [1, 3, 40, 2000])
def test_compiled_walk_takes_the_numpy_walks_steps(patrol, n_zones, m):
    rng = np.random.default_rng(m + 7 * n_zones)
    p = patrol
    saved = (p.last_visit.copy(), p.timed_cross, p.timed_escape, p.timed_start, p.timed_end,
             p.timed_args)
    n_cells = len(p.centres)
    table = rng.uniform(size=p.nbr.shape) < 0.9
    try:
        for trial in range(6):
            if n_zones:
                p.timed_cross, p.timed_escape, p.timed_start, p.timed_end = _timed(
                    p, rng, n_zones)
                p.timed_args = (p.timed_cross, p.timed_escape, p.timed_start, p.timed_end,
                                p.timed_slack_s)
            # visits tied in steps of 300 s (or all unvisited), vehicles crowded into a
            # corner (contending for cells) or spread over the area
            lv = np.round(rng.uniform(-3600.0, 0.0, n_cells) / 300.0) * 300.0
            if trial == 0:
                lv[:] = 0.0
            crowd = 200 if trial % 2 else n_cells
            cur0 = rng.integers(0, crowd, m)
            t0 = rng.uniform(0.0, 300.0, m)
            ang = rng.uniform(0.0, 2.0 * np.pi, m)
            h0 = np.column_stack([np.cos(ang), np.sin(ang)])
            diag = rng.uniform(size=m) < 0.5  # some along a step direction
            h0[diag] = p.step_dir[rng.integers(0, len(p.step_dir), int(diag.sum()))]
            speed = rng.choice([12.0, 18.0, 25.0], m)
            active0 = rng.uniform(size=m) < 0.9
            active0[0] = True
            use_table = trial % 3 != 2 and n_zones == 0
            clear0 = rng.uniform(size=m) < 0.8
            out = []
            for run in (_numpy_steps, p._steps):
                p.last_visit[:] = lv
                cur, t, heading = cur0.copy(), t0.copy(), h0.copy()
                active, clear = active0.copy(), clear0.copy()
                seq, length = run(*([p] if run is _numpy_steps else []), cur, t, heading,
                                  active, speed, 2400.0, table if use_table else None, clear)
                out.append((seq[:, 1:].tolist(), length, cur.tolist(), t.tobytes(),
                            heading.tobytes(), active.tolist(), clear.tolist(),
                            p.last_visit.tobytes()))
            assert out[1] == out[0]
            assert sum(c >= 0 for c in out[0][0][0]) > 5  # (a walk of many steps)
    finally:
        (p.last_visit[:], p.timed_cross, p.timed_escape, p.timed_start, p.timed_end,
         p.timed_args) = saved
    assert not p._claimed.any()


def test_route_plans_are_the_plans_the_dataclasses_build():
    import dataclasses

    from fleetsim.policies.patrol_one import route_plans
    from fleetsim.policy import Plan, Route

    ways = [np.arange(6.0).reshape(3, 2), np.zeros((1, 2))]
    for append in (False, True):
        got = route_plans([3, 0], ways, append)
        want = [Plan(v, [Route(w)], append) for v, w in zip([3, 0], ways, strict=True)]
        for g, w in zip(got, want, strict=True):
            assert type(g) is Plan and type(g.actions) is list and len(g.actions) == 1
            assert type(g.actions[0]) is Route
            for f in dataclasses.fields(Plan):
                if f.name != "actions":
                    assert getattr(g, f.name) == getattr(w, f.name)
            for f in dataclasses.fields(Route):
                a, b = getattr(g.actions[0], f.name), getattr(w.actions[0], f.name)
                assert a is b or a == b
    # nothing the dataclasses' __init__ would do beyond setting the fields
    assert not hasattr(Plan, "__post_init__") and not hasattr(Route, "__post_init__")

"""The greedy walk of :mod:`fleetsim.policies.persistent_patrol` in compiled loops
(numba).

Each step takes every walking vehicle to its most idle neighbouring cell (the oldest
planned visit), ties broken by a small bias towards the step straight ahead and
away from longer steps. Vehicles wanting the same cell in one step: the first (in
vehicle order) gets it and the others choose again, for three rounds, after which
the rest take their choice. The loops do the arithmetic of the policy's vectorised
numpy steps, in the same order, so the plans are the same bit for bit; the dot
products of the headings with the step directions are the caller's (numpy's
``matmul``, whose rounding depends on the shape of the product). A vehicle coming
from elsewhere picks its first cell through the policy's bucket index
(:func:`first_cell`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["first_cell", "walk_one", "walk_step"]


@njit(cache=True)
def _best(lv, nbr, c, bias, i):
    """The first k of the highest ``-lv[nbr[c, k]] + bias[i, k]`` (``bias`` -inf
    where ``nbr`` is -1: no neighbour)."""
    bk = 0
    bs = -lv[nbr[c, 0]] + bias[i, 0]
    for k in range(1, nbr.shape[1]):
        s = -lv[nbr[c, k]] + bias[i, k]
        if s > bs:
            bk = k
            bs = s
    return bk


@njit(cache=True)
def walk_step(act, dots, tie, cur, t, heading, active, speed, until_s, nbr, nbr_dist,
              nbr_pen, nbr_has, step_dir, lv, claimed, step, steps_clear, use_clear,
              clear, moved_dist, timed_cross, timed_escape, timed_start, timed_end, slack):
    """One step of the vehicles ``act`` (indices into the per-vehicle arrays, in
    increasing order), each in cell ``cur[v]`` at time ``t[v]`` with ``dots[i]`` the
    dot products of its heading with the step directions ``step_dir``.

    A step to neighbour k of cell c scores ``-lv[nbr[c, k]] + (tie * dots[i, k] -
    nbr_pen[c, k])`` (-inf: no neighbour, or, with timed zones, a step that comes near
    a zone active while it is flown: ``timed_cross[c, k, j]`` and ``arrive +
    timed_escape[to, j] + slack >= timed_start[j]`` and ``t < timed_end[j]``); the
    highest score wins, the first of equal ones. The cells' planned visits ``lv``
    get the arrival times (if later). Updates ``cur``, ``t``, ``heading`` (the step's
    direction), ``active`` (still short of ``until_s``), ``step`` (the cell
    stepped to, -1: none) and, with ``use_clear``, ``clear`` (every step in
    ``steps_clear``) and ``moved_dist`` (the steps' lengths, in the order of ``act``).
    ``claimed``: zeros, one per cell (left zeros). Returns the vehicles still active
    and the number of lengths written."""
    a = len(act)
    width = nbr.shape[1]
    n_timed = len(timed_start)
    bias = np.empty((a, width))
    has = np.zeros(a, dtype=np.bool_)
    best = np.empty(a, dtype=np.int64)
    want = np.empty(a, dtype=np.int64)
    for i in range(a):  # the terms of each step (and, without timed zones, first choices)
        v = act[i]
        c = cur[v]
        for k in range(width):
            b = tie * dots[i, k] - nbr_pen[c, k]
            if n_timed > 0:
                to = nbr[c, k]
                valid = to >= 0
                if valid:
                    arrive = t[v] + nbr_dist[c, k] / speed[v]
                    for j in range(n_timed):
                        if timed_cross[c, k, j] and arrive + timed_escape[to, j] + slack \
                                >= timed_start[j] and t[v] < timed_end[j]:
                            valid = False
                            break
                if valid:
                    has[i] = True
                else:
                    b = -math.inf
            bias[i, k] = b
        if n_timed == 0:
            has[i] = nbr_has[c]
            best[i] = _best(lv, nbr, c, bias, i)
            want[i] = nbr[c, best[i]]
    choice = np.full(a, -1, dtype=np.int64)
    todo = np.flatnonzero(has)  # the vehicles still choosing, in order
    n_todo = len(todo)
    taken = np.empty(n_todo, dtype=np.int64)  # the cells taken in a round
    for rnd in range(4):
        if n_todo == 0:
            break
        if rnd > 0 or n_timed > 0:
            for q in range(n_todo):  # each vehicle's choice, from the visits before this round
                i = todo[q]
                c = cur[act[i]]
                best[i] = _best(lv, nbr, c, bias, i)
                want[i] = nbr[c, best[i]]
        n_lost = 0
        n_taken = 0
        for q in range(n_todo):
            i = todo[q]
            w = want[i]
            if rnd < 3:  # one vehicle a cell: the first to want it
                if claimed[w]:
                    todo[n_lost] = i  # (chooses again next round)
                    n_lost += 1
                    continue
                claimed[w] = 1
                taken[n_taken] = w
                n_taken += 1
            choice[i] = best[i]
            v = act[i]
            arrive = t[v] + nbr_dist[cur[v], best[i]] / speed[v]
            if arrive > lv[w]:
                lv[w] = arrive
        for q in range(n_taken):
            claimed[taken[q]] = 0
        n_todo = n_lost
    n_moved = 0
    n_left = 0
    for i in range(a):
        v = act[i]
        if not has[i]:
            active[v] = False
            continue
        c = cur[v]
        k = choice[i]
        nxt = nbr[c, k]
        t[v] = t[v] + nbr_dist[c, k] / speed[v]
        heading[v, 0] = step_dir[k, 0]
        heading[v, 1] = step_dir[k, 1]
        step[v] = nxt
        cur[v] = nxt
        if use_clear:
            clear[v] = clear[v] and steps_clear[c, k]
            moved_dist[n_moved] = nbr_dist[c, k]
            n_moved += 1
        active[v] = t[v] < until_s
        if active[v]:
            n_left += 1
    out = np.empty(n_left, dtype=np.int64)
    n_left = 0
    for i in range(a):
        if active[act[i]]:
            out[n_left] = act[i]
            n_left += 1
    return out, n_moved


@njit(cache=True)
def walk_one(c, t, tie_dots, tie_dots_of, speed, until_s, nbr, nbr_dist, nbr_pen, lv):
    """The greedy steps of one vehicle in cell ``c`` at time ``t`` until ``until_s``:
    :func:`walk_step` for one vehicle, its tie-break terms ``tie_dots`` (``TIE`` times
    the dot products of its heading with the step directions) at first and
    ``tie_dots_of[k]`` after a step along direction k. Returns the cells stepped to
    and the direction of each step; updates the planned visits ``lv``."""
    width = nbr.shape[1]
    cells = np.empty(16, dtype=np.int64)
    ks = np.empty(16, dtype=np.int64)
    n = 0
    dots = tie_dots
    while True:
        best = -1
        best_score = -math.inf
        for k in range(width):
            to = nbr[c, k]
            if to < 0:
                continue
            score = -lv[to] + (dots[k] - nbr_pen[c, k])
            if best < 0 or score > best_score:
                best = k
                best_score = score
        if best < 0:
            break
        cell = nbr[c, best]
        arrive = t + nbr_dist[c, best] / speed
        if arrive > lv[cell]:
            lv[cell] = arrive
        t = arrive
        dots = tie_dots_of[best]
        if n == len(cells):
            cells = np.concatenate((cells, np.empty(n, dtype=np.int64)))
            ks = np.concatenate((ks, np.empty(n, dtype=np.int64)))
        cells[n] = cell
        ks[n] = best
        n += 1
        c = cell
        if not t < until_s:
            break
    return cells[:n], ks[:n]


@njit(cache=True)
def first_cell(to_box, to_cell, bucket_min_visit, lv, table):
    """The cell with the highest score ``-lv[cell] - to_cell`` (travel time) through the
    buckets of cells ``table`` (rows padded with their first cell, at an infinite
    travel time), each with a lower bound of its visits ``bucket_min_visit`` and the
    travel time ``to_box`` to its box. The bucket of the highest bound is read, then
    every bucket whose bound reaches its best score (less a margin for rounding);
    their bounds are tightened to their cells' least visit. -1: cells tie for the
    first place among those read."""
    n_buckets, width = table.shape
    b = 0
    best_bound = -math.inf
    for i in range(n_buckets):
        bound = -bucket_min_visit[i] - to_box[i]
        if i == 0 or bound > best_bound:
            b = i
            best_bound = bound
    k = 0
    thr = -math.inf
    for j in range(width):
        score = -lv[table[b, j]] - to_cell[b, j]
        if j == 0 or score > thr:
            k = j
            thr = score
    limit = thr - 1e-9 * (abs(thr) + 1.0)
    n_take = 0
    for i in range(n_buckets):
        if -bucket_min_visit[i] - to_box[i] >= limit:
            n_take += 1
    if n_take == 1:  # bucket b alone (always among them): its scores are known
        seen_min = lv[table[b, 0]]
        for j in range(1, width):
            seen_min = min(seen_min, lv[table[b, j]])
        bucket_min_visit[b] = seen_min
        rows = np.array([b])
    else:
        rows = np.empty(n_take, dtype=np.int64)
        n_take = 0
        for i in range(n_buckets):
            if -bucket_min_visit[i] - to_box[i] >= limit:
                rows[n_take] = i
                n_take += 1
        first = True
        for i in rows:
            seen_min = lv[table[i, 0]]
            for j in range(width):
                seen = lv[table[i, j]]
                seen_min = min(seen_min, seen)
                score = -seen - to_cell[i, j]
                if first or score > thr:
                    b, k, thr = i, j, score
                    first = False
            bucket_min_visit[i] = seen_min
    ties = 0
    for i in rows:
        for j in range(width):
            if -lv[table[i, j]] - to_cell[i, j] == thr:
                ties += 1
    return -1 if ties > 1 else table[b, k]

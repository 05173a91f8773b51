"""The monitor's indexes answer as the plain searches do: the target grid lists, for
each leg's disc, exactly the targets ``cKDTree.query_ball_point`` lists (or leaves the
leg to it), and the event queue releases events in time order, equal times in the
order they were found."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from fleetsim.engine.monitor import _Queue
from fleetsim.engine.sensing import PointGrid


def test_point_grid_lists_what_the_tree_lists():
    """Random discs, discs centred on points, discs with a point exactly on their edge,
    discs wider than the cells, off the grid and not finite: the grid's pairs and the
    tree's answer for the discs left to it are the tree's pairs, in order."""
    rng = np.random.default_rng(8)
    pts = rng.uniform(0, 20000, (400, 2))
    pts[:20] = np.round(pts[:20] / 500.0) * 500.0  # on cell edges
    pts[20] = pts[21]  # two points in one place
    q = rng.uniform(-3000, 23000, (6000, 2))
    r = rng.uniform(0, 600, len(q))
    q[:400] = pts + rng.uniform(-2, 2, (400, 2))
    d = np.hypot(q[:, None, 0] - pts[None, :, 0], q[:, None, 1] - pts[None, :, 1])
    r[400:800] = d[400:800].min(axis=1)  # a point exactly on the edge
    r[800:850] = 3000.0  # wider than the cells
    grid = PointGrid(pts, cell_m=1000.0)
    k, p, undone = grid.within(q, r)
    assert len(k) > 1000 and len(undone) < 1200  # most answered by the grid
    assert np.isin(np.r_[400:850], undone).all()  # on the edge, too wide
    odd = grid.within(np.array([[np.nan, 5.0], [5.0, 5.0]]), np.array([10.0, np.inf]))
    assert odd[2].tolist() == [0, 1]  # not finite: left to the tree
    tree = cKDTree(pts)
    lists = tree.query_ball_point(q[undone], r[undone], return_sorted=True)
    k = np.concatenate([k, np.repeat(undone, [len(x) for x in lists])])
    p = np.concatenate([p, np.array([t for x in lists for t in x], dtype=np.int64)])
    by = np.argsort(k * len(pts) + p)
    want = tree.query_ball_point(q, r, return_sorted=True)
    assert k[by].tolist() == np.repeat(np.arange(len(q)), [len(x) for x in want]).tolist()
    assert p[by].tolist() == [t for x in want for t in x]


def test_point_grid_of_one_point_and_far_queries():
    grid = PointGrid(np.array([[5.0, 5.0]]), cell_m=100.0)
    k, p, undone = grid.within(np.array([[50.0, 5.0], [5.0, 40.0], [900.0, 900.0]]),
                               np.array([44.0, 40.0, 10.0]))
    assert k.tolist() == [1] and p.tolist() == [0] and undone.tolist() == []


def ev(t: float, name: str) -> tuple:
    return (t, name, 0, 0, -1, -1, 0.0, 0.0, 0.0, 0.0)


def test_queue_releases_in_time_then_found_order():
    q = _Queue()
    first = [ev(5.0, "a"), ev(1.0, "b"), ev(5.0, "c"), ev(9.0, "d")]
    q.add(first)
    q.add([])
    q.add([ev(5.0, "e"), ev(0.5, "f"), ev(12.0, "g")])
    assert [e[1] for e in q.due(0.4)] == []
    assert [e[1] for e in q.due(5.0)] == ["f", "b", "a", "c", "e"]
    q.add([ev(7.0, "h"), ev(9.0, "i")])
    gone = q.withdraw({id(first[3]), id(first[0])})
    assert gone == {id(first[3])}  # "a" was released already
    assert [e[1] for e in q.due(9.0)] == ["h", "i"]
    assert [e[1] for e in q.due(100.0)] == ["g"]
    assert q.due(1000.0) == [] and q.batches == []


def reference_within(grid: PointGrid, xy: np.ndarray, r: np.ndarray):
    """:meth:`PointGrid.within` as array code (the compiled loop's reference)."""
    x, y = xy[:, 0], xy[:, 1]
    pad = r * (1.0 + 1e-6) + 1.0
    with np.errstate(invalid="ignore"):
        fx0 = np.floor((x - pad - grid.x0) / grid.size)
        fx1 = np.floor((x + pad - grid.x0) / grid.size)
        fy0 = np.floor((y - pad - grid.y0) / grid.size)
        fy1 = np.floor((y + pad - grid.y0) / grid.size)
        fits = (fx1 - fx0 <= 1) & (fy1 - fy0 <= 1)
    undone = np.flatnonzero(~fits)
    q = np.flatnonzero(fits)
    cx0, cx1 = np.maximum(fx0[q], 0), np.minimum(fx1[q], grid.nx - 1)
    cy0, cy1 = np.maximum(fy0[q], 0), np.minimum(fy1[q], grid.ny - 1)
    meets = (cx0 <= cx1) & (cy0 <= cy1)
    q, cx0, cx1, cy0, cy1 = q[meets], cx0[meets], cx1[meets], cy0[meets], cy1[meets]
    two = cy1 > cy0
    e_q = np.concatenate([q, q[two]])
    base = np.concatenate([cy0, cy1[two]]) * grid.nx
    lo = grid.start[(base + np.concatenate([cx0, cx0[two]])).astype(np.intp)]
    hi = grid.start[(base + np.concatenate([cx1, cx1[two]]) + 1).astype(np.intp)]
    cnt = hi - lo
    pq = np.repeat(e_q, cnt)
    pos = np.arange(int(cnt.sum())) + np.repeat(lo - (np.cumsum(cnt) - cnt), cnt)
    dx, dy = grid.px[pos] - x[pq], grid.py[pos] - y[pq]
    d2 = dx * dx + dy * dy
    r2 = r[pq] * r[pq]
    margin = 1e-9 * r2 + 1e-6
    inside = d2 <= r2 - margin
    edge = ~inside & (d2 <= r2 + margin)
    if edge.any():
        unsure = np.unique(pq[edge])
        inside &= ~np.isin(pq, unsure)
        undone = np.union1d(undone, unsure)
    pq, pt = pq[inside], grid.order[pos[inside]]
    by = np.argsort(pq * grid.n + pt)
    return pq[by], pt[by], undone


def test_point_grid_gives_what_the_array_code_gave():
    """Pairs, their order and the queries left out, exactly, on dense targets (many
    points per cell, queries spanning two rows of cells), discs on a point's edge, off
    the grid and not finite."""
    rng = np.random.default_rng(21)
    pts = rng.uniform(0, 5000, (3000, 2))
    pts[:100] = np.round(pts[:100] / 250.0) * 250.0
    q = rng.uniform(-500, 5500, (20000, 2))
    r = rng.uniform(0, 300, len(q))
    r[:300] = np.hypot(*(q[:300] - pts[:300]).T)  # a point on the edge
    q[300:310] = np.nan
    r[310:320] = np.inf
    grid = PointGrid(pts, cell_m=500.0)
    got = grid.within(q, r)
    want = reference_within(grid, q, r)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and g.tolist() == w.tolist()
    assert len(got[0]) > 20000 and 300 <= len(got[2]) < 2000


def test_leg_midpoints_and_half_lengths_as_the_arrays_gave_them():
    from fleetsim.engine.sensing import _midpoints

    rng = np.random.default_rng(6)
    p0 = rng.uniform(-1e4, 1e4, (3000, 3))
    p1 = p0 + rng.normal(0, 500, (3000, 3))
    p1[:100] = p0[:100]
    idx = np.sort(rng.choice(3000, 2000, replace=False))
    mid, half = _midpoints(p0, p1, idx)
    a, b = p0[idx, :2], p1[idx, :2]
    assert np.array_equal(mid, 0.5 * (a + b))
    assert np.array_equal(half, 0.5 * np.hypot(*(b - a).T))
    assert (half[np.isin(idx, np.arange(100))] == 0).all()


def test_previous_and_last_legs_by_vehicle_as_a_sort_finds_them():
    from fleetsim.engine.sensing import _prev_and_last

    rng = np.random.default_rng(9)
    vehicle = rng.integers(0, 50, 3000).astype(np.int32)
    leg_id = np.arange(3000) * 3 + 7  # a batch's legs, in id order
    prev_of, last_leg = _prev_and_last(vehicle, 60)
    by_vehicle = np.lexsort((leg_id, vehicle))
    want_prev = np.full(len(vehicle), -1, dtype=np.int64)
    same = vehicle[by_vehicle][1:] == vehicle[by_vehicle][:-1]
    want_prev[by_vehicle[1:][same]] = by_vehicle[:-1][same]
    want_last = np.full(60, -1, dtype=np.int64)
    np.maximum.at(want_last, vehicle, np.arange(len(vehicle)))
    assert prev_of.tolist() == want_prev.tolist() and last_leg.tolist() == want_last.tolist()
    assert (last_leg[50:] == -1).all() and (prev_of == -1).sum() == len(np.unique(vehicle))


def test_legs_of_the_involved_vehicles():
    from fleetsim.engine.link_events import legs_of

    rng = np.random.default_rng(10)
    vehicle = rng.integers(0, 40, 500).astype(np.int32)
    for involved in ({3}, {0, 39}, set(range(0, 80, 3)), {1000}):
        want = np.flatnonzero(np.isin(vehicle, np.fromiter(involved, dtype=np.int64)))
        assert legs_of(vehicle, involved).tolist() == want.tolist()

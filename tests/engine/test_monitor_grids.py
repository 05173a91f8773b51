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

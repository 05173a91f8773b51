"""Networks that ground and sea vehicles move on.

Ground vehicles drive only on a road network and sea vehicles sail only on a
navigation graph over water. Both are a :class:`Network`: an undirected
:mod:`networkx` graph whose nodes ``0..n-1`` carry a position (``x``, ``y``,
local metres, x east and y north) and whose edges carry a length
(``length_m``) and a speed limit (``speed_mps``, ``inf`` for none).

The engine asks a network three kinds of question:

- where a point joins it: :meth:`Network.nearest_node` and
  :meth:`Network.nearest_nodes` (a k-d tree, ties to the lowest node id);
- the shortest route between two nodes: :meth:`Network.route` (A* by length
  with a straight-line heuristic, cached per pair) returning a :class:`Path`;
- shortest lengths or travel times from one node to all others:
  :meth:`Network.distances_from` and :meth:`Network.travel_times_from`
  (Dijkstra over a compressed sparse row copy of the graph, cached per
  source), which is several times faster than repeated A* when one source is
  asked about many targets.

Roads can be closed while a run goes on (:meth:`Network.close_edge`,
:meth:`Network.close_near`): a closed edge leaves routing, stays listed in
:attr:`Network.closed` for drawing, and every cache is cleared.

Networks are built by:

- :func:`grid_network` -- a regular 4-connected street grid;
- :func:`planar_network` -- a random planar road network (the Gabriel graph
  of random points);
- :func:`geojson_network` -- LineString features of a GeoJSON file;
- :func:`water_network` -- an 8-connected lattice over the water of a
  terrain or inside a polygon.

Random choices (points, blocked roads) come from the generator passed in, so
the same seed gives the same network.
"""

from __future__ import annotations

import json
import math
import operator
import os
import re
from collections import OrderedDict
from typing import Any, NamedTuple

import networkx as nx
import numpy as np
import scipy.sparse
import shapely
from numpy.typing import ArrayLike
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import Delaunay, QhullError, cKDTree

__all__ = [
    "Network",
    "Path",
    "geojson_network",
    "grid_network",
    "planar_network",
    "water_network",
]

#: The kinds of network: roads for ground vehicles, water for sea vehicles.
KINDS = ("road", "water")
#: Largest number of nodes a builder creates.
_MAX_NODES = 10_000_000
#: Candidates examined per query point when snapping (more on exact ties).
_SNAP_CANDIDATES = 8
#: The A* heuristic is shrunk by this relative margin so that rounding in the
#: straight-line distance never makes it overestimate.
_HEURISTIC_MARGIN = 1e-9
#: Sample points tested per batch when checking lattice edges for water.
_SAMPLES_PER_BATCH = 1 << 20
#: Message when a sea network is asked for over terrain without water.
_NO_WATER_SOURCE = ("sea vehicles need water: set world.terrain.sea_level_m "
                    "or world.water.polygon")


def _speed(speed_mps: float, name: str = "speed_mps") -> float:
    """``speed_mps`` as a float, or ValueError unless finite and positive."""
    try:
        s = float(speed_mps)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number of metres per second, "
                         f"found {speed_mps!r}") from None
    if not (math.isfinite(s) and s > 0):
        raise ValueError(f"{name} must be a finite positive number of metres per second, "
                         f"found {speed_mps!r}")
    return s


def _limit(speed_limit_mps: float, name: str = "speed_limit_mps") -> float:
    """A speed limit as a float: positive, ``inf`` allowed (no limit)."""
    try:
        s = float(speed_limit_mps)
    except (TypeError, ValueError):
        s = math.nan
    if not s > 0:
        raise ValueError(f"{name} must be a positive number of metres per second "
                         f"(inf for no limit), found {speed_limit_mps!r}")
    return s


class Path(NamedTuple):
    """A route through a :class:`Network`.

    Attributes
    ----------
    nodes:
        Node ids, from the start node to the end node (one node when they are
        the same).
    xy:
        (m, 2) float64 positions of ``nodes``, metres (read-only).
    lengths_m:
        (m - 1,) float64 lengths of the edges between consecutive nodes.
    speed_limits_mps:
        (m - 1,) float64 speed limits of those edges (``inf``: none).
    length_m:
        Total length, metres.
    """

    nodes: tuple[int, ...]
    xy: np.ndarray
    lengths_m: np.ndarray
    speed_limits_mps: np.ndarray
    length_m: float

    def travel_time_s(self, speed_mps: float) -> float:
        """Seconds to drive the path at ``speed_mps``, slowed to each edge's limit.

        Each edge takes ``length / min(limit, speed_mps)``. ``speed_mps`` must be
        finite and positive.
        """
        s = _speed(speed_mps)
        return math.fsum((self.lengths_m / np.minimum(self.speed_limits_mps, s)).tolist())


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def _finite_number(v: Any) -> bool:
    return (isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            and math.isfinite(v))


class Network:
    """A road network or navigation graph over water.

    Parameters
    ----------
    graph:
        Undirected :class:`networkx.Graph` with nodes ``0..n-1`` (at least
        one), each with finite ``x`` and ``y`` (metres); each edge has a
        positive finite ``length_m`` and optionally ``speed_mps`` (positive,
        ``inf`` or missing for no limit). The graph is copied: later changes
        to the argument do not affect the network.
    kind:
        ``"road"`` (ground vehicles) or ``"water"`` (sea vehicles).

    Attributes
    ----------
    kind:
        ``"road"`` or ``"water"``.
    graph:
        The open network (closed edges removed). Nodes and edges are stored
        in increasing id order, so iteration order does not depend on how the
        input graph was built. Edit it only through :meth:`close_edge` and
        :meth:`close_near`, or call :meth:`clear_caches` after a direct edit.
    xy:
        (n, 2) float64 node positions (read-only).
    closed:
        Closed edges ``(u, v)`` with ``u < v``, in closing order.

    Notes
    -----
    Route lengths are exact shortest lengths: the A* heuristic is the
    straight-line distance, scaled down when some edge is shorter than the
    straight line between its ends, so it never overestimates. The
    one-to-all caches keep the most recent :attr:`cache_sources` sources.
    """

    #: Sources kept by each one-to-all cache (distances, and travel times per
    #: speed); an entry is n float64 values.
    cache_sources: int = 128

    kind: str
    graph: nx.Graph
    xy: np.ndarray
    closed: list[tuple[int, int]]

    def __init__(self, graph: nx.Graph, kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}, found {kind!r}")
        if not isinstance(graph, nx.Graph) or graph.is_directed() or graph.is_multigraph():
            raise ValueError(f"graph must be an undirected networkx.Graph (not directed, not a "
                             f"multigraph), found {type(graph).__name__}")
        n = graph.number_of_nodes()
        if n == 0:
            raise ValueError(f"a {kind} network needs at least one node, the graph has none")
        for node in graph.nodes:
            if not isinstance(node, (int, np.integer)) or isinstance(node, bool) \
                    or not 0 <= node < n:
                raise ValueError(f"node ids must be the integers 0..{n - 1}, found node {node!r}")
        xy = np.empty((n, 2), dtype=np.float64)
        for node, data in graph.nodes(data=True):
            x, y = data.get("x"), data.get("y")
            if not (_finite_number(x) and _finite_number(y)):
                raise ValueError(f"node {node} needs finite coordinates x and y in metres, "
                                 f"found x={x!r}, y={y!r}")
            xy[node] = (x, y)
        g = nx.Graph()
        g.add_nodes_from((i, {**graph.nodes[i], "x": float(xy[i, 0]), "y": float(xy[i, 1])})
                         for i in range(n))
        edges = []
        for u, v, data in graph.edges(data=True):
            if u == v:
                raise ValueError(f"edge ({u}, {v}) is a loop; edges must join two different "
                                 f"nodes")
            length = data.get("length_m")
            if not (_finite_number(length) and length > 0):
                raise ValueError(f"edge ({u}, {v}) needs a positive finite length_m in metres, "
                                 f"found {length!r}")
            speed = data.get("speed_mps", math.inf)
            try:
                speed = _limit(speed, "speed_mps")
            except ValueError as e:
                raise ValueError(f"edge ({u}, {v}): {e}") from None
            a, b = (int(u), int(v)) if u < v else (int(v), int(u))
            edges.append((a, b, {**data, "length_m": float(length), "speed_mps": speed}))
        edges.sort(key=lambda e: (e[0], e[1]))
        g.add_edges_from(edges)
        self.kind = kind
        self.graph = g
        self.xy = _readonly(xy)
        self.closed = []
        self._closed_data: list[dict[str, Any]] = []
        self._tree = cKDTree(xy)
        self._xs = xy[:, 0].tolist()
        self._ys = xy[:, 1].tolist()
        self._h_scale = self._heuristic_scale(edges)
        self._routes: dict[tuple[int, int], Path | None] = {}
        self._dist: OrderedDict[int, np.ndarray] = OrderedDict()
        self._times: OrderedDict[tuple[int, float], np.ndarray] = OrderedDict()
        self._edge_arrays: tuple[np.ndarray, ...] | None = None
        self._csr: dict[float | None, scipy.sparse.csr_matrix] = {}
        lengths = [d["length_m"] for _, _, d in edges]
        limits = [d["speed_mps"] for _, _, d in edges]
        #: How far off the network a place may lie and still be reached, by a straight
        #: connector from its nearest node: twice the median road (or lattice) edge.
        self.reach_m = 2.0 * float(np.median(lengths)) if lengths else 0.0
        #: Speed limit on such connectors: the network's median limit (inf: none).
        self.connector_mps = float(np.median(limits)) if limits else math.inf

    def _heuristic_scale(self, edges: list[tuple[int, int, dict[str, Any]]]) -> float:
        """Factor on the straight-line distance keeping the A* heuristic admissible."""
        if not edges:
            return 1.0
        uv = np.array([(a, b) for a, b, _ in edges], dtype=np.intp)
        length = np.array([d["length_m"] for _, _, d in edges], dtype=np.float64)
        d = self.xy[uv[:, 1]] - self.xy[uv[:, 0]]
        straight = np.hypot(d[:, 0], d[:, 1])
        pos = straight > 0
        ratio = float(np.min(length[pos] / straight[pos])) if pos.any() else 1.0
        return min(1.0, ratio) * (1.0 - _HEURISTIC_MARGIN)

    # ----------------------------------------------------------------- basics

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self._xs)

    @property
    def n_edges(self) -> int:
        """Number of open edges."""
        return self.graph.number_of_edges()

    def __repr__(self) -> str:
        return (f"Network(kind={self.kind!r}, {self.n_nodes} nodes, {self.n_edges} open edges, "
                f"{len(self.closed)} closed)")

    def _node(self, node: Any, name: str = "node") -> int:
        try:
            i = operator.index(node)
        except TypeError:
            i = None
        if i is None or isinstance(node, bool) or not 0 <= i < self.n_nodes:
            raise ValueError(f"{name} {node!r} is not a node of the {self.kind} network "
                             f"(nodes are 0..{self.n_nodes - 1})")
        return i

    def clear_caches(self) -> None:
        """Forget cached routes, distances, travel times and edge arrays."""
        self._routes.clear()
        self._dist.clear()
        self._times.clear()
        self._edge_arrays = None
        self._csr.clear()

    # --------------------------------------------------------------- snapping

    def nearest_node(self, x: float, y: float) -> tuple[int, float]:
        """The node nearest to (x, y) and its distance, metres.

        On an exact tie the lowest node id wins.
        """
        ids, dist = self.nearest_nodes(np.array([[x, y]], dtype=np.float64))
        return int(ids[0]), float(dist[0])

    def nearest_nodes(self, xy: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Nearest node of each point and its distance.

        Parameters
        ----------
        xy:
            (k, 2) points, metres (a single (2,) point is taken as (1, 2)).

        Returns
        -------
        (ids, distances):
            (k,) int64 node ids (lowest id on exact ties) and (k,) float64
            distances in metres.
        """
        pts = np.asarray(xy, dtype=np.float64)
        if pts.ndim == 1 and pts.shape[0] == 2:
            pts = pts.reshape(1, 2)
        if pts.ndim != 2 or pts.shape[1] != 2:
            raise ValueError(f"points must have shape (k, 2) (x, y in metres), "
                             f"found shape {pts.shape}")
        if not np.isfinite(pts).all():
            bad = int(np.flatnonzero(~np.isfinite(pts).all(axis=1))[0])
            raise ValueError(f"point {bad} is not finite: {pts[bad].tolist()}")
        n = self.n_nodes
        if pts.shape[0] == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        k = min(n, _SNAP_CANDIDATES)
        _, idx = self._tree.query(pts, k=k)
        idx = np.asarray(idx, dtype=np.int64).reshape(pts.shape[0], k)
        cand = self.xy[idx]
        dist = np.hypot(cand[..., 0] - pts[:, None, 0], cand[..., 1] - pts[:, None, 1])
        best = dist.min(axis=1)
        ids = np.where(dist == best[:, None], idx, n).min(axis=1)
        if k < n:
            # The farthest candidate ties (within rounding): more nodes may tie.
            for r in np.flatnonzero(dist.max(axis=1) <= best * (1 + 1e-12)):
                near = np.asarray(self._tree.query_ball_point(
                    pts[r], best[r] * (1 + 1e-9) + 1e-12), dtype=np.int64)
                d = np.hypot(self.xy[near, 0] - pts[r, 0], self.xy[near, 1] - pts[r, 1])
                best[r] = d.min()
                ids[r] = near[d == best[r]].min()
        return ids.astype(np.int64), best

    # ---------------------------------------------------------------- routing

    def route(self, a: int, b: int) -> Path | None:
        """Shortest path by length from node ``a`` to node ``b``.

        Returns ``None`` when ``b`` cannot be reached from ``a``; a one-node
        path of length 0 when ``a == b``. Results (``None`` included) are
        cached per ``(a, b)`` until an edge is closed.
        """
        a = self._node(a, "start node")
        b = self._node(b, "end node")
        key = (a, b)
        if key in self._routes:
            return self._routes[key]
        if a == b:
            nodes = [a]
        else:
            xs, ys, scale = self._xs, self._ys, self._h_scale
            bx, by = xs[b], ys[b]

            def heuristic(u: int, _target: int) -> float:
                return scale * math.hypot(xs[u] - bx, ys[u] - by)

            try:
                nodes = nx.astar_path(self.graph, a, b, heuristic=heuristic, weight="length_m")
            except nx.NetworkXNoPath:
                self._routes[key] = None
                return None
        path = self._path(nodes)
        self._routes[key] = path
        return path

    def _path(self, nodes: list[int]) -> Path:
        adj = self.graph.adj
        lengths = np.empty(len(nodes) - 1, dtype=np.float64)
        limits = np.empty(len(nodes) - 1, dtype=np.float64)
        for i in range(len(nodes) - 1):
            data = adj[nodes[i]][nodes[i + 1]]
            lengths[i] = data["length_m"]
            limits[i] = data["speed_mps"]
        return Path(nodes=tuple(int(v) for v in nodes),
                    xy=_readonly(self.xy[np.asarray(nodes, dtype=np.intp)]),
                    lengths_m=_readonly(lengths), speed_limits_mps=_readonly(limits),
                    length_m=math.fsum(lengths.tolist()))

    def route_xy(self, start_xy: ArrayLike, end_xy: ArrayLike) -> Path | None:
        """Shortest path between the nodes nearest to two points (see :meth:`route`)."""
        ids, _ = self.nearest_nodes(np.array([np.asarray(start_xy, dtype=np.float64),
                                              np.asarray(end_xy, dtype=np.float64)]))
        return self.route(int(ids[0]), int(ids[1]))

    # ------------------------------------------------------------- one-to-all

    def _edges(self) -> tuple[np.ndarray, ...]:
        """(u, v, length, speed limit) of open edges, u < v, sorted by (u, v)."""
        if self._edge_arrays is None:
            m = self.graph.number_of_edges()
            u = np.empty(m, dtype=np.int64)
            v = np.empty(m, dtype=np.int64)
            length = np.empty(m, dtype=np.float64)
            limit = np.empty(m, dtype=np.float64)
            for i, (a, b, data) in enumerate(self.graph.edges(data=True)):
                u[i], v[i] = (a, b) if a < b else (b, a)
                length[i] = data["length_m"]
                limit[i] = data["speed_mps"]
            order = np.lexsort((v, u))
            self._edge_arrays = tuple(_readonly(a[order]) for a in (u, v, length, limit))
        return self._edge_arrays

    def _matrix(self, speed: float | None) -> scipy.sparse.csr_matrix:
        """Symmetric CSR matrix of edge lengths (``speed`` None) or travel times."""
        if speed not in self._csr:
            u, v, length, limit = self._edges()
            w = length if speed is None else length / np.minimum(limit, speed)
            n = self.n_nodes
            self._csr[speed] = scipy.sparse.csr_matrix(
                (np.concatenate([w, w]), (np.concatenate([u, v]), np.concatenate([v, u]))),
                shape=(n, n))
        return self._csr[speed]

    def _one_to_all(self, cache: OrderedDict, key: Any, node: int,
                    speed: float | None) -> np.ndarray:
        out = cache.get(key)
        if out is not None:
            cache.move_to_end(key)
            return out
        out = _readonly(np.asarray(dijkstra(self._matrix(speed), directed=True, indices=node),
                                   dtype=np.float64))
        cache[key] = out
        while len(cache) > self.cache_sources:
            cache.popitem(last=False)
        return out

    def distances_from(self, node: int) -> np.ndarray:
        """(n,) shortest lengths from ``node`` to every node, metres (``inf``: unreachable).

        The array is read-only and cached per source.
        """
        node = self._node(node)
        return self._one_to_all(self._dist, node, node, None)

    def distance(self, a: int, b: int) -> float:
        """Shortest length from node ``a`` to node ``b``, metres (``inf``: unreachable)."""
        b = self._node(b, "end node")
        return float(self.distances_from(self._node(a, "start node"))[b])

    def travel_times_from(self, node: int, speed_mps: float) -> np.ndarray:
        """(n,) shortest travel times from ``node`` at ``speed_mps``, seconds.

        An edge takes ``length / min(limit, speed_mps)``; ``inf`` marks
        unreachable nodes. ``speed_mps`` must be finite and positive. The
        array is read-only and cached per (source, speed).
        """
        node = self._node(node)
        s = _speed(speed_mps)
        return self._one_to_all(self._times, (node, s), node, s)

    # ---------------------------------------------------------------- closing

    def is_open(self, u: int, v: int) -> bool:
        """Whether an open edge joins ``u`` and ``v``."""
        return self.graph.has_edge(u, v)

    def close_edge(self, u: int, v: int) -> None:
        """Close the edge joining ``u`` and ``v``: routing no longer uses it.

        The edge is appended to :attr:`closed` and every cache is cleared.
        Raises ValueError when no open edge joins the two nodes.
        """
        a = self._node(u, "edge end")
        b = self._node(v, "edge end")
        a, b = min(a, b), max(a, b)
        if not self.graph.has_edge(a, b):
            why = ("it is already closed" if (a, b) in self.closed
                   else "the network has no such edge")
            raise ValueError(f"cannot close edge ({u}, {v}) of the {self.kind} network: {why}; "
                             f"only open edges can be closed")
        self._closed_data.append(dict(self.graph.adj[a][b]))
        self.graph.remove_edge(a, b)
        self.closed.append((a, b))
        self.clear_caches()

    def close_near(self, x: float, y: float) -> tuple[int, int]:
        """Close the open edge nearest to (x, y) and return it as ``(u, v)``, ``u < v``.

        Distance is to the edge's straight segment; on an exact tie the
        smallest ``(u, v)`` is closed. Raises ValueError when no edge is open.
        """
        if not (_finite_number(x) and _finite_number(y)):
            raise ValueError(f"the point must be finite coordinates in metres, found "
                             f"({x!r}, {y!r})")
        u, v, _, _ = self._edges()
        if u.size == 0:
            raise ValueError(f"cannot close an edge near ({x:g}, {y:g}): the {self.kind} "
                             f"network has no open edges")
        p0 = self.xy[u]
        d = self.xy[v] - p0
        rel = np.array([x, y], dtype=np.float64) - p0
        dd = np.einsum("ij,ij->i", d, d)
        t = np.divide(np.einsum("ij,ij->i", rel, d), dd, out=np.zeros_like(dd), where=dd > 0)
        np.clip(t, 0.0, 1.0, out=t)
        off = rel - t[:, None] * d
        i = int(np.argmin(np.hypot(off[:, 0], off[:, 1])))  # first minimum: smallest (u, v)
        edge = (int(u[i]), int(v[i]))
        self.close_edge(*edge)
        return edge

    # ---------------------------------------------------------------- drawing

    def segments(self) -> np.ndarray:
        """(k, 4) float64 ``x0, y0, x1, y1`` of the open edges, sorted by (u, v)."""
        u, v, _, _ = self._edges()
        return np.hstack([self.xy[u], self.xy[v]])

    def closed_segments(self) -> np.ndarray:
        """(c, 4) float64 ``x0, y0, x1, y1`` of the closed edges, in closing order."""
        if not self.closed:
            return np.empty((0, 4), dtype=np.float64)
        uv = np.asarray(self.closed, dtype=np.intp)
        return np.hstack([self.xy[uv[:, 0]], self.xy[uv[:, 1]]])

    @staticmethod
    def edge_on_path(path: Path, u: int, v: int) -> int:
        """Index ``i`` of the first edge of ``path`` joining ``u`` and ``v`` (either way), or -1."""
        nodes = np.asarray(path.nodes, dtype=np.int64)
        a, b = nodes[:-1], nodes[1:]
        hit = np.flatnonzero(((a == u) & (b == v)) | ((a == v) & (b == u)))
        return int(hit[0]) if hit.size else -1


# ------------------------------------------------------------------ builders

def _extent(extent: Any, *, positive: bool) -> tuple[float, float, float, float]:
    try:
        x0, y0, x1, y1 = (float(v) for v in extent)
    except (TypeError, ValueError):
        raise ValueError(f"extent must be (x0, y0, x1, y1) in metres, found {extent!r}") from None
    ok = all(math.isfinite(v) for v in (x0, y0, x1, y1))
    ok = ok and ((x1 > x0 and y1 > y0) if positive else (x1 >= x0 and y1 >= y0))
    if not ok:
        need = "x1 > x0 and y1 > y0" if positive else "x1 >= x0 and y1 >= y0"
        raise ValueError(f"extent must be finite (x0, y0, x1, y1) with {need}, found {extent!r}")
    return x0, y0, x1, y1


def _spacing(spacing_m: Any) -> float:
    if not (_finite_number(spacing_m) and spacing_m > 0):
        raise ValueError(f"spacing_m must be a positive number of metres, found {spacing_m!r}")
    return float(spacing_m)


def _count(size: float, spacing: float) -> int:
    """Lattice points from 0 to ``size`` inclusive at ``spacing``."""
    return math.floor(size / spacing + 1e-9) + 1


def _graph(xy: np.ndarray, u: np.ndarray, v: np.ndarray, speed: float) -> nx.Graph:
    """Graph with nodes at ``xy`` and straight edges ``u``-``v`` of Euclidean length."""
    d = xy[v] - xy[u]
    length = np.hypot(d[:, 0], d[:, 1])
    g = nx.Graph()
    g.add_nodes_from((i, {"x": x, "y": y}) for i, (x, y) in enumerate(xy.tolist()))
    g.add_edges_from((a, b, {"length_m": w, "speed_mps": speed})
                     for a, b, w in zip(u.tolist(), v.tolist(), length.tolist(), strict=True))
    return g


def _block(g: nx.Graph, blocked: Any, rng: np.random.Generator | None) -> None:
    """Remove ``blocked`` random edges of connected ``g`` keeping it connected."""
    if not (isinstance(blocked, (int, np.integer)) and not isinstance(blocked, bool)
            and blocked >= 0):
        raise ValueError(f"blocked must be a non-negative integer, found {blocked!r}")
    if blocked == 0:
        return
    if not isinstance(rng, np.random.Generator):
        raise ValueError("blocked roads are chosen at random: pass rng (a numpy Generator) "
                         "so that the same seed blocks the same roads")
    # Removing non-bridges until none is left leaves a spanning tree, so exactly
    # E - V + 1 edges of a connected graph can go.
    most = g.number_of_edges() - g.number_of_nodes() + 1
    if blocked > most:
        raise ValueError(f"cannot block {blocked} roads: at most {most} of the "
                         f"{g.number_of_edges()} roads can be removed while keeping the network "
                         f"connected")
    edges = sorted((min(a, b), max(a, b)) for a, b in g.edges)
    removed = 0
    for i in rng.permutation(len(edges)).tolist():
        a, b = edges[i]
        data = g.adj[a][b]
        g.remove_edge(a, b)
        if nx.has_path(g, a, b):
            removed += 1
            if removed == blocked:
                return
        else:  # a bridge stays a bridge as edges go, so it is never tried again
            g.add_edge(a, b, **data)
    raise AssertionError("unreachable: fewer removable edges than counted")


def grid_network(extent: tuple[float, float, float, float], spacing_m: float,
                 speed_limit_mps: float = math.inf, *, blocked: int = 0,
                 rng: np.random.Generator | None = None) -> Network:
    """A regular 4-connected street grid.

    Parameters
    ----------
    extent:
        (x0, y0, x1, y1) metres. Nodes are at ``(x0 + j * spacing_m, y0 + i *
        spacing_m)`` inside the extent; node id ``i * nx + j`` (row-major from
        the south-west corner).
    spacing_m:
        Distance between neighbouring nodes; every edge has this length.
    speed_limit_mps:
        Speed limit of every street (``inf``: none).
    blocked:
        Number of random streets removed, never disconnecting the grid.
    rng:
        Generator choosing the blocked streets (needed when ``blocked > 0``).

    Raises
    ------
    ValueError
        Invalid arguments, or more blocked streets than can be removed while
        the grid stays connected (the message gives the most possible).
    """
    x0, y0, x1, y1 = _extent(extent, positive=False)
    s = _spacing(spacing_m)
    speed = _limit(speed_limit_mps)
    nx_, ny_ = _count(x1 - x0, s), _count(y1 - y0, s)
    if nx_ * ny_ > _MAX_NODES:
        raise ValueError(f"the grid would have {ny_} x {nx_} nodes; at most {_MAX_NODES:,} are "
                         f"supported -- use a larger spacing_m")
    jj, ii = np.meshgrid(np.arange(nx_), np.arange(ny_))
    xy = np.column_stack([x0 + jj.ravel() * s, y0 + ii.ravel() * s])
    ids = np.arange(nx_ * ny_, dtype=np.int64).reshape(ny_, nx_)
    u = np.concatenate([ids[:, :-1].ravel(), ids[:-1, :].ravel()])
    v = np.concatenate([ids[:, 1:].ravel(), ids[1:, :].ravel()])
    g = _graph(xy, u, v, speed)
    for a, b in zip(u.tolist(), v.tolist(), strict=True):
        g.adj[a][b]["length_m"] = s
    _block(g, blocked, rng)
    return Network(g, "road")


def planar_network(extent: tuple[float, float, float, float], spacing_m: float,
                   speed_limit_mps: float = math.inf, *, blocked: int = 0,
                   rng: np.random.Generator) -> Network:
    """A random planar road network.

    About ``area / spacing_m**2`` points are drawn uniformly in ``extent``
    with ``rng``; the roads are the Gabriel graph of the points (the edges of
    their Delaunay triangulation whose diametral circle holds no other
    point). The Gabriel graph contains the Euclidean minimum spanning tree,
    so the network is connected, and it is planar. Node ids follow the
    points sorted by x, then y.

    Parameters
    ----------
    extent:
        (x0, y0, x1, y1) metres, with x1 > x0 and y1 > y0.
    spacing_m:
        Typical distance between neighbouring junctions, metres.
    speed_limit_mps:
        Speed limit of every road (``inf``: none).
    blocked:
        Number of random roads removed, never disconnecting the network.
    rng:
        Generator of the points and the blocked roads.
    """
    x0, y0, x1, y1 = _extent(extent, positive=True)
    s = _spacing(spacing_m)
    speed = _limit(speed_limit_mps)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy Generator, found {type(rng).__name__}")
    n = max(1, round((x1 - x0) * (y1 - y0) / (s * s)))
    if n > _MAX_NODES:
        raise ValueError(f"the network would have {n:,} junctions; at most {_MAX_NODES:,} are "
                         f"supported -- use a larger spacing_m")
    pts = rng.random((n, 2)) * np.array([x1 - x0, y1 - y0]) + np.array([x0, y0])
    pts = np.unique(pts, axis=0)
    n = pts.shape[0]
    if n < 3:
        u = np.arange(n - 1, dtype=np.int64)
        v = u + 1
    else:
        try:
            tri = Delaunay(pts)
        except QhullError as e:  # pragma: no cover - random points are in general position
            raise ValueError(f"cannot triangulate the random points: {e}") from None
        simp = tri.simplices.astype(np.int64)
        # Each triangle's three edges with the vertex opposite each.
        a = simp[:, [0, 1, 2]].ravel()
        b = simp[:, [1, 2, 0]].ravel()
        c = simp[:, [2, 0, 1]].ravel()
        dot = np.einsum("ij,ij->i", pts[a] - pts[c], pts[b] - pts[c])
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        keys, inverse = np.unique(lo * n + hi, return_inverse=True)
        gabriel = np.ones(keys.size, dtype=bool)
        # An opposite vertex in or on the diametral circle sees the edge at >= 90 degrees.
        np.logical_and.at(gabriel, inverse.ravel(), dot > 0)
        keys = keys[gabriel]
        u, v = keys // n, keys % n
    g = _graph(pts, u, v, speed)
    if not nx.is_connected(g):  # pragma: no cover - the Gabriel graph holds the EMST
        raise ValueError("the random road network is not connected; try another seed")
    _block(g, blocked, rng)
    return Network(g, "road")


#: Largest GeoJSON roads file, bytes (parsed JSON takes several times its size).
MAX_GEOJSON_BYTES = 256_000_000
#: Deepest nesting of JSON arrays and objects in a roads file (a MultiLineString
#: FeatureCollection needs 6).
MAX_GEOJSON_DEPTH = 32
#: Largest coordinate magnitude, metres (as scenario positions).
MAX_GEOJSON_COORD_M = 1e7
#: JSON strings (escapes included), removed before nesting is counted.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


def _json_depth(data: bytes) -> int:
    """Deepest nesting of arrays and objects in JSON text ``data`` (strings ignored)."""
    arr = np.frombuffer(_JSON_STRING.sub(b'""', data), dtype=np.uint8)
    step = (np.isin(arr, (ord("["), ord("{"))).astype(np.int64)
            - np.isin(arr, (ord("]"), ord("}"))).astype(np.int64))
    return int(np.cumsum(step).max(initial=0))


def _read_geojson(name: str) -> Any:
    """The parsed GeoJSON file, its size and nesting checked before it is parsed."""
    expected = "expected a GeoJSON FeatureCollection of LineString features"
    try:
        size = os.path.getsize(name)
        if size > MAX_GEOJSON_BYTES:
            raise ValueError(f"{name}: the file holds {size:,} bytes; at most "
                             f"{MAX_GEOJSON_BYTES:,} are read (split or simplify the roads)")
        with open(name, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ValueError(f"{name}: cannot read the file ({e.strerror}); {expected}") from None
    depth = _json_depth(data)
    if depth > MAX_GEOJSON_DEPTH:
        raise ValueError(f"{name}: arrays and objects nest {depth} deep; GeoJSON roads need "
                         f"fewer than 8 (at most {MAX_GEOJSON_DEPTH}); {expected}")
    try:
        return json.loads(data.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise ValueError(f"{name}: not valid JSON ({e}); {expected}") from None


def geojson_network(path: str | os.PathLike, *, speed_limit_mps: float = math.inf,
                    snap_m: float = 0.01) -> Network:
    """A road network from a GeoJSON FeatureCollection of lines in local metres.

    Every LineString (or each line of a MultiLineString) becomes a chain of
    straight roads between its consecutive coordinates. Coordinates within
    ``snap_m`` of each other (chains of such coordinates included) are one
    junction, placed at the first of them in file order; node ids follow
    that order. Roads that start and end at the same junction are dropped; a
    road given twice keeps its highest speed limit.

    Parameters
    ----------
    path:
        The GeoJSON file. Coordinates are ``[x, y]`` (a third value is
        ignored) in metres.
    speed_limit_mps:
        Speed limit of roads whose feature has no ``speed_limit_mps`` property
        (``inf``: none). A feature's numeric ``speed_limit_mps`` property
        overrides it.
    snap_m:
        Distance, metres, within which coordinates are the same junction.

    Raises
    ------
    ValueError
        The file is not JSON or not a FeatureCollection, has no features, or a
        feature has a geometry other than LineString / MultiLineString, a line
        with fewer than 2 coordinates, a non-finite coordinate or a
        non-positive speed limit. The message names the file and the feature
        index.
    """
    name = os.fspath(path)
    default = _limit(speed_limit_mps)
    if not (_finite_number(snap_m) and snap_m >= 0):
        raise ValueError(f"snap_m must be a non-negative number of metres, found {snap_m!r}")
    doc = _read_geojson(name)
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        found = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise ValueError(f"{name}: expected a GeoJSON FeatureCollection, found {found!r}")
    features = doc.get("features")
    if not isinstance(features, list) or not features:
        raise ValueError(f"{name}: no features; a road network needs a FeatureCollection with "
                         f"at least one LineString or MultiLineString feature")

    coords: list[tuple[float, float]] = []
    lines: list[tuple[int, int, float]] = []  # (first coordinate index, count, speed)
    for i, feat in enumerate(features):
        where = f"{name}: feature {i}"
        geom = feat.get("geometry") if isinstance(feat, dict) else None
        if not isinstance(geom, dict):
            raise ValueError(f"{where}: expected a Feature with a geometry object; valid "
                             f"geometry types are LineString and MultiLineString")
        gtype = geom.get("type")
        if gtype == "LineString":
            parts = [geom.get("coordinates")]
        elif gtype == "MultiLineString":
            parts = geom.get("coordinates")
            if not isinstance(parts, list) or not parts:
                raise ValueError(f"{where}: a MultiLineString needs a non-empty list of lines")
        else:
            raise ValueError(f"{where}: geometry type {gtype!r} is not supported; valid "
                             f"geometry types are LineString and MultiLineString")
        props = feat.get("properties") or {}
        speed = props.get("speed_limit_mps") if isinstance(props, dict) else None
        if speed is None:
            speed = default
        elif not (isinstance(speed, (int, float)) and not isinstance(speed, bool)
                  and 0 < speed <= 1_000):
            raise ValueError(f"{where}: property speed_limit_mps must be a positive number of "
                             f"metres per second (at most 1000), found {speed!r}")
        for k, part in enumerate(parts):
            at = where if gtype == "LineString" else f"{where}, line {k}"
            if not isinstance(part, list) or len(part) < 2:
                found = len(part) if isinstance(part, list) else repr(part)
                raise ValueError(f"{at}: a line needs at least 2 coordinates, found {found}")
            start = len(coords)
            for c, pos in enumerate(part):
                if not (isinstance(pos, list) and len(pos) >= 2
                        and all(isinstance(q, (int, float)) and not isinstance(q, bool)
                                for q in pos[:2])):
                    raise ValueError(f"{at}: coordinate {c} must be [x, y] numbers in metres, "
                                     f"found {pos!r}")
                if not (math.isfinite(pos[0]) and math.isfinite(pos[1])):
                    raise ValueError(f"{at}: coordinate {c} is not finite: {pos!r}; "
                                     f"coordinates must be finite metres")
                if max(abs(pos[0]), abs(pos[1])) > MAX_GEOJSON_COORD_M:
                    raise ValueError(f"{at}: coordinate {c} is {pos!r}; coordinates are local "
                                     f"metres within +-{MAX_GEOJSON_COORD_M:g}")
                coords.append((float(pos[0]), float(pos[1])))
            lines.append((start, len(part), float(speed)))

    pts = np.asarray(coords, dtype=np.float64)
    pairs = cKDTree(pts).query_pairs(float(snap_m), output_type="ndarray")
    m = pts.shape[0]
    link = scipy.sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])),
                                   shape=(m, m))
    _, label = connected_components(link, directed=False)
    # Number junctions by first occurrence; each sits at its first coordinate.
    _, first = np.unique(label, return_index=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    node = rank[label]
    xy = pts[first[order]]

    best: dict[tuple[int, int], float] = {}
    for start, count, speed in lines:
        seq = node[start:start + count].tolist()
        for a, b in zip(seq[:-1], seq[1:], strict=True):
            if a != b:
                key = (a, b) if a < b else (b, a)
                best[key] = max(best.get(key, 0.0), speed)
    g = nx.Graph()
    g.add_nodes_from((i, {"x": x, "y": y}) for i, (x, y) in enumerate(xy.tolist()))
    for (a, b), speed in best.items():
        g.add_edge(a, b, length_m=math.hypot(*(xy[b] - xy[a]).tolist()), speed_mps=speed)
    return Network(g, "road")


def water_network(terrain: Any, spacing_m: float, *, polygon: Any = None) -> Network:
    """Navigation graph over water for sea vehicles.

    Nodes are the points of a regular lattice at ``spacing_m`` (aligned to
    ``terrain.origin_m``, covering the terrain's grid) that are water; node
    ids are row-major from the south-west. Each node joins its 8 neighbours
    when the straight segment between them is all water. Every edge has no
    speed limit (the boat's own speed governs).

    Water is ``terrain.water`` (boolean, one value per terrain grid point,
    looked up at the nearest grid point) when ``polygon`` is None: a segment
    is water when its points sampled every ``terrain.spacing_m / 2`` (at
    least its midpoint) are. With a shapely ``polygon``, water is the
    polygon's interior (:func:`shapely.contains_xy`) and a segment must lie
    inside the polygon (an exact test).

    Raises
    ------
    ValueError
        No water source (the terrain has no ``water`` and no polygon is
        given), no lattice point on water, or invalid arguments.
    """
    s = _spacing(spacing_m)
    ox, oy = (float(v) for v in terrain.origin_m)
    ts = float(terrain.spacing_m)
    gy, gx = np.asarray(terrain.heights_m).shape
    if polygon is None:
        water = getattr(terrain, "water", None)
        if water is None:
            raise ValueError(_NO_WATER_SOURCE)
        water = np.asarray(water, dtype=bool)
        if water.shape != (gy, gx):
            raise ValueError(f"terrain.water has shape {water.shape}, expected the height "
                             f"grid's shape {(gy, gx)}")
        flat_water = water.ravel()

        def is_water(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            j = np.clip(np.floor((x - ox) / ts + 0.5), 0, gx - 1).astype(np.intp)
            i = np.clip(np.floor((y - oy) / ts + 0.5), 0, gy - 1).astype(np.intp)
            return flat_water[i * gx + j]
    else:
        if not isinstance(polygon, shapely.Geometry) or polygon.area <= 0:
            raise ValueError(f"polygon must be a shapely Polygon or MultiPolygon with positive "
                             f"area, found {polygon!r}")
        shapely.prepare(polygon)

        def is_water(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            return shapely.contains_xy(polygon, x, y)

    nxl = _count((gx - 1) * ts, s)
    nyl = _count((gy - 1) * ts, s)
    if nxl * nyl > _MAX_NODES:
        raise ValueError(f"the water lattice would have {nyl} x {nxl} points; at most "
                         f"{_MAX_NODES:,} are supported -- use a larger spacing_m")
    lx = ox + np.arange(nxl) * s
    ly = oy + np.arange(nyl) * s
    gxx, gyy = np.meshgrid(lx, ly)
    wet = is_water(gxx.ravel(), gyy.ravel()).reshape(nyl, nxl)
    if not wet.any():
        where = "inside the polygon" if polygon is not None else "on the terrain"
        raise ValueError(f"no water for sea vehicles: none of the {nyl} x {nxl} lattice points "
                         f"at spacing_m {s:g} is water {where}")
    ids = np.full((nyl, nxl), -1, dtype=np.int64)
    ids[wet] = np.arange(int(wet.sum()))
    xy = np.column_stack([gxx[wet], gyy[wet]])

    us, vs = [], []
    for di, dj in ((0, 1), (1, 0), (1, 1), (1, -1)):
        # Lattice points (i, j) whose neighbour (i + di, j + dj) exists.
        i0 = slice(0, nyl - di)
        i1 = slice(di, nyl)
        j0 = slice(max(0, -dj), nxl - max(0, dj))
        j1 = slice(max(0, dj), nxl - max(0, -dj))
        both = wet[i0, j0] & wet[i1, j1]
        u = ids[i0, j0][both]
        v = ids[i1, j1][both]
        if u.size == 0:
            continue
        p0, p1 = xy[u], xy[v]
        if polygon is None:
            steps = max(2, math.ceil(s * math.hypot(di, dj) / (ts / 2) - 1e-9))
            frac = np.arange(1, steps) / steps
            keep = np.empty(u.size, dtype=bool)
            batch = max(1, _SAMPLES_PER_BATCH // frac.size)
            for k in range(0, u.size, batch):
                a, b = p0[k:k + batch], p1[k:k + batch]
                px = a[:, None, 0] + frac[None, :] * (b[:, None, 0] - a[:, None, 0])
                py = a[:, None, 1] + frac[None, :] * (b[:, None, 1] - a[:, None, 1])
                keep[k:k + batch] = is_water(px.ravel(), py.ravel()).reshape(px.shape).all(1)
        else:
            keep = np.empty(u.size, dtype=bool)
            batch = 1 << 16
            for k in range(0, u.size, batch):
                segs = shapely.linestrings(np.stack([p0[k:k + batch], p1[k:k + batch]], axis=1))
                keep[k:k + batch] = shapely.contains(polygon, segs)
        us.append(u[keep])
        vs.append(v[keep])
    u = np.concatenate(us) if us else np.empty(0, dtype=np.int64)
    v = np.concatenate(vs) if vs else np.empty(0, dtype=np.int64)
    return Network(_graph(xy, u, v, math.inf), "water")

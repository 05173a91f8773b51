"""Solvers for logistics policies: vehicle routing and vehicle-to-order assignment.

- :func:`solve_vrp` routes a fleet over a set of stops (a :class:`VRPProblem`
  of integer distance and duration matrices, demands, service times, time
  windows, per-vehicle capacity, depot, range and start time, optionally
  prizes that make stops optional) with PyVRP's iterated local search. It
  stops after a number of iterations, never after a wall-clock time, so the
  same problem and seed always give the same :class:`VRPSolution`, as the
  engine's byte-identical replays require.
- :func:`read_vrplib` reads a CVRPLIB instance file into a :class:`VRPProblem`.
- :func:`assign_min_time` matches vehicles to orders at least total time,
  never using an infeasible (``inf``) pair.

Invalid arguments raise ``ValueError`` naming the array, the expected shape
or bound, and what was given.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyvrp
import vrplib
from pyvrp.constants import MAX_VALUE
from pyvrp.stop import MaxIterations, MultipleCriteria, NoImprovement, StoppingCriterion

from fleetsim.planning.assignment import assign_min_cost

__all__ = [
    "NO_LIMIT",
    "VRPProblem",
    "VRPSolution",
    "assign_min_time",
    "read_vrplib",
    "solve_vrp",
]

NO_LIMIT = int(np.iinfo(np.int64).max)
"""Value of ``tw_late`` or ``vehicle_max_distance`` meaning "no limit"."""

# Largest distance or duration matrix entry PyVRP accepts without losing precision.
_MAX_MATRIX_VALUE = int(MAX_VALUE)
# PyVRP's random number generator takes an unsigned 32-bit seed.
_MAX_SEED = (1 << 32) - 1


@dataclass(frozen=True, eq=False)
class VRPProblem:
    """A vehicle routing problem over ``m`` locations and ``k`` vehicles.

    Locations ``0 .. n_depots - 1`` are depots, the rest are stops. All
    quantities are integers: distances in metres, times in seconds, demand
    and capacity in one unit of the caller's choice (e.g. kg).

    Attributes
    ----------
    distance : ndarray of shape (m, m), int64
        ``distance[i, j]`` from location i to j, >= 0, zero diagonal. The
        objective is the total distance.
    duration : ndarray of shape (m, m), int64
        Travel time from i to j in seconds, >= 0, zero diagonal. May be the
        distance matrix itself when time does not matter.
    demand : ndarray of shape (m,), int64
        Load delivered at each stop, >= 0; 0 at depots.
    service_s : ndarray of shape (m,), int64
        Time spent at each location, >= 0.
    tw_early, tw_late : ndarray of shape (m,), int64
        Earliest and latest start of service; ``0`` and :data:`NO_LIMIT` mean
        no window. At a depot they are its opening hours.
    vehicle_capacity : ndarray of shape (k,), int64
        Capacity of each vehicle, >= 0.
    vehicle_depot : ndarray of shape (k,), int
        Depot each vehicle starts from and returns to, in ``[0, n_depots)``.
    vehicle_max_distance : ndarray of shape (k,), int64
        Longest route each vehicle may drive; :data:`NO_LIMIT` for none.
    vehicle_start_s : ndarray of shape (k,), int64, optional
        Earliest departure of each vehicle; all 0 when ``None``.
    n_depots : int
        Number of depots, 1 <= n_depots <= m.
    prizes : ndarray of shape (m,), int64, optional
        When given, every stop becomes optional: leaving stop i unserved
        costs ``prizes[i]`` (in distance units) instead of making the
        solution infeasible. When ``None``, every stop must be served.
    """

    distance: np.ndarray
    duration: np.ndarray
    demand: np.ndarray
    service_s: np.ndarray
    tw_early: np.ndarray
    tw_late: np.ndarray
    vehicle_capacity: np.ndarray
    vehicle_depot: np.ndarray
    vehicle_max_distance: np.ndarray
    vehicle_start_s: np.ndarray | None = None
    n_depots: int = 1
    prizes: np.ndarray | None = None


@dataclass(frozen=True)
class VRPSolution:
    """The routes found for a :class:`VRPProblem`.

    Attributes
    ----------
    routes : tuple of k tuples of int
        Per vehicle, the stop indexes in visiting order, depots left out; an
        empty tuple for an unused vehicle.
    cost : int
        Total distance of the routes, in the units of ``distance``.
    feasible : bool
        Whether the routes respect every capacity, time window and range and
        serve every required stop. When ``False`` all routes are empty.
    unserved : tuple of int
        Stops in no route, ascending: optional stops left out (with prizes),
        or every stop when the solution is infeasible.
    iterations : int
        Search iterations run.
    """

    routes: tuple[tuple[int, ...], ...]
    cost: int
    feasible: bool
    unserved: tuple[int, ...]
    iterations: int


@dataclass(frozen=True)
class _Checked:
    """A validated :class:`VRPProblem`, every array int64 and C-contiguous."""

    distance: np.ndarray
    duration: np.ndarray
    demand: np.ndarray
    service_s: np.ndarray
    tw_early: np.ndarray
    tw_late: np.ndarray
    capacity: np.ndarray
    depot: np.ndarray
    max_distance: np.ndarray
    start_s: np.ndarray
    n_depots: int
    prizes: np.ndarray | None


def _int_array(value: Any, name: str, shape: tuple[int, ...], shape_text: str) -> np.ndarray:
    """``value`` as a C-contiguous int64 array of ``shape``, else ValueError."""
    array = np.asarray(value)
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape} ({shape_text}), got {array.shape}")
    if array.dtype.kind in "iu":
        if array.dtype.kind == "u" and array.size and int(array.max()) > NO_LIMIT:
            raise ValueError(f"{name} holds values beyond the int64 range")
        return np.ascontiguousarray(array, dtype=np.int64)
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array) | (array != np.round(array)) | (np.abs(array) >= 2.0**63)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{name}{list(where)} is {array[where]}; values must be whole numbers "
                "in the int64 range (round them first)"
            )
        return np.ascontiguousarray(array, dtype=np.int64)
    raise ValueError(f"{name} must hold integers, got dtype {array.dtype}")


def _check_range(array: np.ndarray, name: str, low: int, high: int = NO_LIMIT) -> None:
    bad = (array < low) | (array > high)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        bound = f">= {low}" if high == NO_LIMIT else f"in [{low}, {high}]"
        raise ValueError(f"{name}{list(where)} is {int(array[where])}; values must be {bound}")


def _check(problem: VRPProblem) -> _Checked:
    """Validate ``problem`` and normalise its arrays."""
    n_depots = problem.n_depots
    if isinstance(n_depots, bool) or not isinstance(n_depots, int | np.integer):
        raise ValueError(f"n_depots must be an int, got {type(n_depots).__name__}")
    n_depots = int(n_depots)

    distance = np.asarray(problem.distance)
    if distance.ndim != 2 or distance.shape[0] != distance.shape[1]:
        raise ValueError(f"distance must have shape (m, m) (square), got {distance.shape}")
    m = distance.shape[0]
    if not 1 <= n_depots <= m:
        raise ValueError(f"n_depots must be in [1, m] = [1, {m}], got {n_depots}")
    square = f"m x m, m = {m} locations"
    distance = _int_array(distance, "distance", (m, m), square)
    duration = _int_array(problem.duration, "duration", (m, m), square)
    for matrix, name in ((distance, "distance"), (duration, "duration")):
        _check_range(matrix, name, 0, _MAX_MATRIX_VALUE)
        diagonal = np.diagonal(matrix)
        if diagonal.any():
            i = int(np.flatnonzero(diagonal)[0])
            raise ValueError(f"{name}[{i}, {i}] is {int(diagonal[i])}; the diagonal must be 0")

    per_location = f"one per location, m = {m}"
    demand = _int_array(problem.demand, "demand", (m,), per_location)
    service_s = _int_array(problem.service_s, "service_s", (m,), per_location)
    tw_early = _int_array(problem.tw_early, "tw_early", (m,), per_location)
    tw_late = _int_array(problem.tw_late, "tw_late", (m,), per_location)
    for array, name in (
        (demand, "demand"),
        (service_s, "service_s"),
        (tw_early, "tw_early"),
        (tw_late, "tw_late"),
    ):
        _check_range(array, name, 0)
    if demand[:n_depots].any():
        i = int(np.flatnonzero(demand[:n_depots])[0])
        raise ValueError(f"demand[{i}] is {int(demand[i])}; depots must have demand 0")
    late_before_early = tw_late < tw_early
    if late_before_early.any():
        i = int(np.flatnonzero(late_before_early)[0])
        raise ValueError(
            f"tw_late[{i}] = {int(tw_late[i])} is before tw_early[{i}] = {int(tw_early[i])}"
        )
    prizes = None
    if problem.prizes is not None:
        prizes = _int_array(problem.prizes, "prizes", (m,), per_location)
        _check_range(prizes, "prizes", 0)

    capacity = np.asarray(problem.vehicle_capacity)
    if capacity.ndim != 1 or len(capacity) == 0:
        raise ValueError(
            f"vehicle_capacity must have shape (k,) with k >= 1 vehicles, got {capacity.shape}"
        )
    k = len(capacity)
    per_vehicle = f"one per vehicle, k = {k}"
    capacity = _int_array(capacity, "vehicle_capacity", (k,), per_vehicle)
    depot = _int_array(problem.vehicle_depot, "vehicle_depot", (k,), per_vehicle)
    max_distance = _int_array(
        problem.vehicle_max_distance, "vehicle_max_distance", (k,), per_vehicle
    )
    if problem.vehicle_start_s is None:
        start_s = np.zeros(k, dtype=np.int64)
    else:
        start_s = _int_array(problem.vehicle_start_s, "vehicle_start_s", (k,), per_vehicle)
    _check_range(capacity, "vehicle_capacity", 0)
    _check_range(depot, "vehicle_depot", 0, n_depots - 1)
    _check_range(max_distance, "vehicle_max_distance", 0)
    _check_range(start_s, "vehicle_start_s", 0)

    return _Checked(
        distance=distance,
        duration=duration,
        demand=demand,
        service_s=service_s,
        tw_early=tw_early,
        tw_late=tw_late,
        capacity=capacity,
        depot=depot,
        max_distance=max_distance,
        start_s=start_s,
        n_depots=n_depots,
        prizes=prizes,
    )


def _vehicle_types(checked: _Checked) -> list[tuple[tuple[int, int, int, int], list[int]]]:
    """Distinct (capacity, depot, max distance, start) keys with their vehicles.

    Types are in order of their first vehicle; each type's vehicles ascend.
    """
    types: dict[tuple[int, int, int, int], list[int]] = {}
    for v in range(len(checked.capacity)):
        key = (
            int(checked.capacity[v]),
            int(checked.depot[v]),
            int(checked.max_distance[v]),
            int(checked.start_s[v]),
        )
        types.setdefault(key, []).append(v)
    return list(types.items())


def _problem_data(
    checked: _Checked, types: list[tuple[tuple[int, int, int, int], list[int]]]
) -> pyvrp.ProblemData:
    """The PyVRP data of a checked problem: location i is row i of the matrices."""
    model = pyvrp.Model()
    m = len(checked.demand)
    locations = [model.add_location(x=0.0, y=0.0, name=str(i)) for i in range(m)]
    depots = [
        model.add_depot(
            locations[i],
            tw_early=int(checked.tw_early[i]),
            tw_late=int(checked.tw_late[i]),
            service_duration=int(checked.service_s[i]),
        )
        for i in range(checked.n_depots)
    ]
    for i in range(checked.n_depots, m):
        model.add_client(
            locations[i],
            delivery=[int(checked.demand[i])],
            service_duration=int(checked.service_s[i]),
            tw_early=int(checked.tw_early[i]),
            tw_late=int(checked.tw_late[i]),
            prize=0 if checked.prizes is None else int(checked.prizes[i]),
            required=checked.prizes is None,
        )
    for (capacity, depot, max_distance, start_s), vehicles in types:
        model.add_vehicle_type(
            num_available=len(vehicles),
            capacity=[capacity],
            start_depot=depots[depot],
            end_depot=depots[depot],
            tw_early=start_s,
            max_distance=max_distance,
        )
    # The matrices go in whole rather than as m * m Model edges (same data, numpy speed).
    return model.data().replace(
        distance_matrices=[checked.distance], duration_matrices=[checked.duration]
    )


def solve_vrp(
    problem: VRPProblem,
    *,
    seed: int = 0,
    max_iterations: int = 2000,
    no_improvement: int | None = 500,
) -> VRPSolution:
    """Route the vehicles of ``problem`` over its stops at least total distance.

    Parameters
    ----------
    problem : VRPProblem
        The problem; see :class:`VRPProblem` for the arrays and their units.
    seed : int, keyword-only
        Seed of the search, in ``[0, 2**32)``. The same problem and seed
        always give the same solution.
    max_iterations : int, keyword-only
        Stop after this many search iterations (>= 0).
    no_improvement : int or None, keyword-only
        Also stop after this many iterations (>= 1) in a row without a better
        solution; ``None`` runs all ``max_iterations``.

    Returns
    -------
    VRPSolution
        Routes per vehicle. Vehicles with identical capacity, depot, range and
        start time are interchangeable; their routes go to them in vehicle
        index order, sorted by the routes' stop sequences. When the best
        solution found breaks a constraint (e.g. a stop heavier than every
        vehicle, with no prizes), ``feasible`` is ``False``, every route is
        empty and every stop unserved: the caller decides what to do.

    Raises
    ------
    ValueError
        If an array has the wrong shape, non-integer or out-of-range values,
        or the search parameters are out of range.
    """
    checked = _check(problem)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= seed <= _MAX_SEED:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    if max_iterations < 0:
        raise ValueError(f"max_iterations must be >= 0, got {max_iterations}")
    if no_improvement is not None and no_improvement < 1:
        raise ValueError(f"no_improvement must be >= 1 or None, got {no_improvement}")

    k = len(checked.capacity)
    n_depots = checked.n_depots
    stops = tuple(range(n_depots, len(checked.demand)))
    if not stops:
        return VRPSolution(routes=((),) * k, cost=0, feasible=True, unserved=(), iterations=0)

    types = _vehicle_types(checked)
    data = _problem_data(checked, types)
    stop: StoppingCriterion = MaxIterations(int(max_iterations))
    if no_improvement is not None:
        stop = MultipleCriteria([stop, NoImprovement(int(no_improvement))])
    result = pyvrp.solve(data, stop, seed=int(seed), collect_stats=False, display=False)
    best = result.best
    if not best.is_feasible():
        return VRPSolution(
            routes=((),) * k,
            cost=0,
            feasible=False,
            unserved=stops,
            iterations=int(result.num_iterations),
        )

    by_type: list[list[tuple[int, ...]]] = [[] for _ in types]
    for route in best.routes():
        visits = tuple(n_depots + int(a.idx) for a in route if a.is_client())
        if visits:
            by_type[route.vehicle_type()].append(visits)
    routes: list[tuple[int, ...]] = [()] * k
    for (_, vehicles), type_routes in zip(types, by_type, strict=True):
        for vehicle, visits in zip(vehicles, sorted(type_routes), strict=False):
            routes[vehicle] = visits
    served = {s for visits in routes for s in visits}
    return VRPSolution(
        routes=tuple(routes),
        cost=int(best.distance()),
        feasible=True,
        unserved=tuple(s for s in stops if s not in served),
        iterations=int(result.num_iterations),
    )


def read_vrplib(path: str | os.PathLike[str]) -> tuple[VRPProblem, dict[str, Any]]:
    """Read a CVRPLIB instance (one depot, e.g. ``E-n22-k4.vrp``).

    Distances are rounded to the nearest integer, the CVRPLIB convention under
    which published optima hold; durations equal distances; there are no time
    windows or service times unless the file gives ``SERVICE_TIME``. The fleet
    is ``VEHICLES`` vehicles if the file says so, else the ``k<number>`` in the
    instance name (``E-n22-k4``: 4), else one per customer, all of capacity
    ``CAPACITY`` with range ``DISTANCE`` (no limit when absent).

    Returns
    -------
    problem : VRPProblem
        Node 1 of the file (the depot) is location 0, node i is location i - 1.
    info : dict
        ``name``, ``comment``, ``capacity``, ``vehicles``, ``edge_weight_type``
        and ``coordinates`` (ndarray of shape (m, 2), or ``None`` when the file
        has no NODE_COORD_SECTION).

    Raises
    ------
    ValueError
        If the file has no DIMENSION or CAPACITY, or its depot is not node 1.
    """
    instance = vrplib.read_instance(path)
    name = str(instance.get("name", ""))
    if "dimension" not in instance or "capacity" not in instance:
        raise ValueError(f"{path}: a CVRPLIB file needs DIMENSION and CAPACITY")
    m = int(instance["dimension"])
    depots = np.atleast_1d(np.asarray(instance.get("depot", [0])))
    if depots.tolist() != [0]:
        raise ValueError(
            f"{path}: DEPOT_SECTION must list node 1 alone, got nodes {(depots + 1).tolist()}"
        )
    # nint() of TSPLIB: round half up, not numpy's round half to even.
    distance = np.floor(np.asarray(instance["edge_weight"], dtype=np.float64) + 0.5)
    distance = distance.astype(np.int64)
    np.fill_diagonal(distance, 0)
    demand = np.asarray(instance.get("demand", np.zeros(m)), dtype=np.int64)
    service = np.broadcast_to(
        np.floor(np.asarray(instance.get("service_time", 0), dtype=np.float64) + 0.5), (m,)
    ).astype(np.int64)
    service[0] = 0

    if "vehicles" in instance:
        k = int(instance["vehicles"])
    elif match := re.search(r"-k(\d+)", name):
        k = int(match.group(1))
    else:
        k = m - 1
    capacity = int(instance["capacity"])
    max_distance = NO_LIMIT
    if "distance" in instance:
        max_distance = int(np.floor(float(instance["distance"]) + 0.5))
    coordinates = instance.get("node_coord")
    problem = VRPProblem(
        distance=distance,
        duration=distance,
        demand=demand,
        service_s=service,
        tw_early=np.zeros(m, dtype=np.int64),
        tw_late=np.full(m, NO_LIMIT, dtype=np.int64),
        vehicle_capacity=np.full(k, capacity, dtype=np.int64),
        vehicle_depot=np.zeros(k, dtype=np.int64),
        vehicle_max_distance=np.full(k, max_distance, dtype=np.int64),
    )
    info = {
        "name": name,
        "comment": str(instance.get("comment", "")),
        "capacity": capacity,
        "vehicles": k,
        "edge_weight_type": str(instance.get("edge_weight_type", "")),
        "coordinates": None if coordinates is None else np.asarray(coordinates, dtype=np.float64),
    }
    return problem, info


def assign_min_time(cost_s: np.ndarray) -> list[tuple[int, int]]:
    """Assign vehicles (rows) to orders (columns) one-to-one at least total time.

    Parameters
    ----------
    cost_s : array_like of shape (n, m), seconds
        ``cost_s[i, j]`` is the time for vehicle i to serve order j; ``inf``
        marks a pair that is infeasible (payload, range) and is never
        assigned. Rectangular matrices are allowed.

    Returns
    -------
    list of (row, col)
        Sorted by row. As many pairs as possible are made without an
        infeasible pair and, among those, the total time is least.

    Raises
    ------
    ValueError
        If ``cost_s`` is not 2-D or holds NaN or ``-inf``.
    """
    rows, cols = assign_min_cost(cost_s)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True)]

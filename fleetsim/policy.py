"""The policy plug-in boundary: requests in, plans out.

A policy decides; the engine executes and records. All decision requests due
at the same simulated time arrive in one :meth:`Policy.decide` call, so a
central planner and a per-vehicle rule use the same interface::

    class Hover(Policy):
        name = "hover"

        def decide(self, now_s, fleet, requests):
            return [Plan(r.vehicle, [GoTo(500.0, 500.0), Hold(60.0), ReturnHome()])
                    for r in requests if r.reason in ("start", "recharged")]

Policies are found by name (:func:`policy_class`): the built-in ones in the
``fleetsim.policies`` package, third-party ones through the ``fleetsim.policies``
entry-point group, and ``module:Class`` or ``path/to/file.py:Class`` strings.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.util
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Protocol

import numpy as np

from fleetsim.errors import PolicyError, ScenarioError

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.scenario.model import Scenario, VehicleTypeSpec
    from fleetsim.world.world import World

# --------------------------------------------------------------------------- requests

#: Why a vehicle is asking. ``start``: on the ground at t = 0; ``idle``: its plan
#: is done and it hovers where it is; ``recharged``: back on the ground at its
#: base with a full battery; ``periodic``: the policy's decision period came
#: round (the vehicle keeps flying its plan); ``detection``: its sensor saw a
#: target (``Request.target``; the vehicle keeps flying its plan); ``reserve``: its
#: battery reached the reserve and the engine is flying it home to recharge (for
#: the policy's information: no plan is accepted until ``recharged``).
#: ``link_lost`` / ``link_restored``: it left / re-entered radio contact with the
#: ground stations (the vehicle keeps flying its plan; what to do is the policy's call).
#: ``approval_denied`` / ``approval_timeout``: an operator denied (or vetoed, or the
#: rules forbid) the vehicle's next action, or nobody decided in time: its plan is
#: dropped and it hovers (or stays parked) until given a new one.
#: ``order``: a new order was created, or an order went back to waiting (its vehicle
#: was re-tasked before loading it); ``Request.vehicle`` is -1 and ``Request.target``
#: the order's index (see ``FleetView.orders``).
#: ``conflict``: a loss of separation with vehicle ``Request.target`` is predicted
#: within the look-ahead (separation section); it is the one to give way.
REASONS = ("start", "idle", "recharged", "periodic", "detection", "reserve", "link_lost",
           "link_restored", "approval_denied", "approval_timeout", "order", "conflict")


#: What becomes of an order (``FleetView.orders.status`` holds these codes).
#: ``waiting``: created, in no vehicle's plan; ``assigned``: a vehicle's plan will
#: pick it up; ``carried``: on board; then ``delivered`` or ``failed`` (for good).
ORDER_STATES = ("waiting", "assigned", "carried", "delivered", "failed")
WAITING, ASSIGNED, CARRIED, DELIVERED, FAILED = range(5)
#: Why an order failed. ``battery``: its vehicle reached its reserve (or ran dry)
#: carrying it; ``capacity``: loading it would exceed the vehicle's payload;
#: ``no_route``: no way on the vehicle's network to its origin or destination;
#: ``stock``: the depot had none left; ``unreachable``: the destination is off the
#: vehicle's network, or inside a no-fly zone.
FAIL_REASONS = ("battery", "capacity", "no_route", "stock", "unreachable")


class Request(NamedTuple):
    """One vehicle asking for a decision (an immutable tuple).

    ``vehicle`` is the vehicle's index (0..n-1; -1 for an ``order`` request) and
    ``reason`` one of :data:`REASONS`. Requests that come while a link is down or
    while the engine controls the vehicle (returning at its reserve, landing,
    queued, charging) are for information: no plan is accepted for it then.
    """

    vehicle: int
    reason: str
    #: Target index for ``detection`` requests, order index for ``order``, the other
    #: vehicle for ``conflict``, else -1.
    target: int = -1


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class GoTo:
    """Fly straight to ``(x_m, y_m)`` at ``alt_agl_m`` above the terrain there.

    ``x_m``, ``y_m``: local metres (x east, y north). ``alt_agl_m``: metres above
    the terrain at the waypoint (None: the vehicle type's ``cruise_altitude_agl_m``).
    Note that :meth:`FleetView.positions` rows are (x, y, z) with z *above the datum*:
    ``GoTo(*pos)`` would pass z as a height above ground; write
    ``GoTo(pos[0], pos[1])``. ``sensing``: whether the sensor looks for targets on
    the way. A ground or sea vehicle's GoTo is routed on its network by the engine.
    """

    x_m: float
    y_m: float
    alt_agl_m: float | None = None  # None: the vehicle type's cruise altitude
    sensing: bool = True
    #: Oversight class of the action (see fleetsim.scenario.model.ACTION_CLASSES).
    action_class: str = "transit"


@dataclass(frozen=True, slots=True)
class Route:
    """Fly through ``waypoints`` ((n, 2) float, metres) one straight leg each.

    Each waypoint is flown at ``alt_agl_m`` (None: cruise altitude) above the terrain
    at that waypoint; a leg between two waypoints that passes below terrain +
    ``terrain_clearance_m`` is recorded as a terrain violation (the plan is executed,
    not corrected: :mod:`fleetsim.planning.altitude` helps keep clear).
    """

    waypoints: Any
    alt_agl_m: float | None = None
    sensing: bool = True
    action_class: str = "transit"


@dataclass(frozen=True, slots=True)
class Survey:
    """Sweep ``area`` (a shapely polygon, metres) in a lawnmower pattern: parallel
    tracks ``spacing_m`` apart at ``angle_deg`` (None: along the area's longer side)."""

    area: Any
    spacing_m: float
    angle_deg: float | None = None
    alt_agl_m: float | None = None
    action_class: str = "survey"


@dataclass(frozen=True, slots=True)
class Hold:
    """Hover (or loiter) where the vehicle is, for ``duration_s`` (None: until re-tasked)."""

    duration_s: float | None = None
    action_class: str = "hold"


@dataclass(frozen=True, slots=True)
class ReturnHome:
    """Fly to the home base, land, and recharge to full on a pad."""

    action_class: str = "return"


@dataclass(frozen=True, slots=True)
class Pickup:
    """Go to the order's origin depot (on the vehicle's network), wait for a loading
    bay and load it; a vehicle riding on a carrier that holds the order takes it
    from the carrier instead. Air vehicles land to load."""

    order: int
    action_class: str = "pickup"


@dataclass(frozen=True, slots=True)
class Deliver:
    """Go to the order's destination and hand it over (``logistics.service_time_s``;
    air vehicles hover while they do)."""

    order: int
    action_class: str = "deliver"


ACTIONS = (GoTo, Route, Survey, Hold, ReturnHome, Pickup, Deliver)


@dataclass(frozen=True, slots=True)
class Plan:
    """What one vehicle should do next.

    ``append=False`` replaces whatever the vehicle was doing (its current leg
    is cut where it is); ``append=True`` queues the actions after its current
    ones.
    """

    vehicle: int
    actions: Sequence[Any]
    append: bool = False


class RoutePlans(Sequence):
    """Plans of one :class:`Route` each for many vehicles, given whole.

    ``RoutePlans(vehicles, routes, append)`` is the sequence ``[Plan(v, [Route(w)],
    append) for v, w in zip(vehicles, routes)]`` (each Route at its vehicle's cruise
    altitude, sensing, class ``transit``): indexing or iterating it gives those Plan
    objects. The engine takes it in one pass instead of plan by plan, which matters to
    a policy that re-plans thousands of vehicles at a time (a patrol extending every
    route each period). ``decide`` returns it as it would a list; the engine checks
    it at the boundary as it checks Plans.

    ``vehicles``: vehicle indexes (a sequence or array of ints); ``routes``: one
    ``(n, 2)`` array of waypoints (metres) per vehicle, in the same order.
    """

    __slots__ = ("append", "routes", "vehicles")

    def __init__(self, vehicles: Sequence[int] | np.ndarray, routes: Sequence[Any],
                 append: bool = False) -> None:
        vs = np.asarray(vehicles)
        if vs.ndim != 1 or (len(vs) and vs.dtype.kind not in "iu"):
            raise TypeError(f"RoutePlans: vehicles must be a sequence of ints, got "
                            f"{vs.dtype} of shape {vs.shape}")
        if len(vs) != len(routes):
            raise ValueError(f"RoutePlans: {len(vs)} vehicles but {len(routes)} routes")
        #: (R,) int64 vehicle indexes.
        self.vehicles: np.ndarray = vs.astype(np.int64, copy=False)
        #: The routes' waypoints, one (n, 2) array per vehicle.
        self.routes: list = list(routes)
        #: Whether the routes are queued after what the vehicles are doing.
        self.append: bool = bool(append)

    def __len__(self) -> int:
        return len(self.routes)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        return Plan(int(self.vehicles[i]), [Route(self.routes[i])], self.append)

    def __repr__(self) -> str:
        return f"RoutePlans({len(self)} vehicles, append={self.append})"


# --------------------------------------------------------------------------- views


class FleetView(Protocol):
    """What a policy may read about the fleet at the time of a decision.

    Every array is read-only; per-vehicle arrays have one row per vehicle.
    """

    #: The simulated time of the decision, s.
    now_s: float
    #: Number of vehicles n (vehicle indexes are 0..n-1).
    n_vehicles: int
    #: (n,) int: each vehicle's index into ``PolicyContext.vehicle_types``.
    type_index: np.ndarray
    #: (n, 2) float: each vehicle's home base, local metres (x east, y north).
    home_xy: np.ndarray
    #: (n,) float: cruise speed, m/s.
    speed_mps: np.ndarray
    #: (n,) float: sensor footprint radius, m (0 without a sensor).
    footprint_radius_m: np.ndarray
    #: (n,) float: battery capacity, Wh.
    battery_capacity_wh: np.ndarray
    #: (n,) float: the charge kept on landing (``reserve_fraction`` x capacity), Wh.
    reserve_wh: np.ndarray

    def positions(self, vehicles: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """Positions at ``now_s``: an (m, 3) float array, one row (x, y, z) per vehicle
        asked (all n when ``vehicles`` is None), in metres; x east, y north, and z
        *above the terrain datum* (not above ground). For a waypoint take the first
        two columns: ``GoTo(*pos)`` would pass z as ``alt_agl_m``."""

    def battery_wh(self, vehicles: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """(m,) float battery charge at ``now_s``, Wh."""

    def states(self, vehicles: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """(m,) str state names: ``ground`` (parked at base), ``takeoff``, ``moving``,
        ``holding``, ``returning``, ``landing``, ``queued`` (for a pad), ``charging``,
        ``down`` (battery depleted) (:data:`fleetsim.engine.STATES`). No plan is
        accepted for a vehicle ``landing``, ``queued``, ``charging`` or ``down``."""

    def plan_end(self, vehicles: Sequence[int] | np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Where ((m, 2) float) and when ((m,) float) each vehicle's queued actions end
        if nothing interrupts them (the current position and ``now_s`` when idle)."""

    # Logistics (every fleet has them; they are trivial without orders).
    #: (n,) str: ``air``, ``ground`` or ``sea``.
    domain: np.ndarray
    #: (n,) float: payload capacity, kg.
    payload_kg: np.ndarray
    #: (n,) int: the vehicle it rides on (-1: none).
    carrier: np.ndarray
    #: The orders (``fleetsim.engine.logistics.OrderView``): ``waiting()`` (indexes of
    #: orders in no plan, oldest first), and arrays over the orders created so far:
    #: ``status`` (codes into :data:`ORDER_STATES`), ``vehicle``, ``origin``,
    #: ``origin_xy`` and ``dest_xy`` ((k, 2) metres), ``weight_kg``, ``priority``,
    #: ``created_s``, ``earliest_s``, ``latest_s``; ``carried_by(v)``.
    orders: Any

    def idle(self) -> np.ndarray:
        """Indexes of the vehicles waiting for a plan (hovering, parked or docked)."""

    def load_kg(self, vehicles: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """(m,) float weight of the orders each vehicle carries now."""

    def docked(self, vehicles: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """(m,) bool: riding on its carrier now."""

    def travel_time_s(self, vehicles: Sequence[int] | np.ndarray, from_xy: Any,
                      to_xy: Any) -> np.ndarray:
        """(m,) float estimated travel time of each vehicle from ``from_xy`` ((m, 2) or
        (2,)) to ``to_xy`` on its own network (air: straight, around no-fly zones);
        inf where it has no route."""


@dataclass(frozen=True)
class PolicyContext:
    """What a policy is given once, before the run starts."""

    world: World
    vehicle_types: tuple[VehicleTypeSpec, ...]
    #: (n,) int type index of each vehicle.
    vehicle_type_index: np.ndarray
    #: (n, 2) float home base position of each vehicle.
    home_xy: np.ndarray
    duration_s: float
    params: Any
    rng: np.random.Generator
    scenario: Scenario
    #: Road and water networks (:class:`fleetsim.logistics.network.Network`) by
    #: domain (``ground``, ``sea``), as they are at the start of the run.
    networks: Mapping[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- policies


class Policy:
    """Base class of autonomy policies.

    Subclasses set :attr:`name`, optionally a :attr:`Params` dataclass (its
    fields, with types and defaults, are the policy's scenario parameters),
    and implement :meth:`decide`. :meth:`reset` is called once before the run.
    Setting :attr:`decision_period_s` in ``reset`` asks for ``periodic``
    requests for every vehicle that can be re-tasked, every that many seconds.
    """

    name: ClassVar[str] = ""
    #: What the policy is for: ``surveillance`` (search, coverage, patrol),
    #: ``logistics`` (orders) or ``any`` (either: a learned policy); the conformance
    #: checker picks its scenario by it.
    mission: ClassVar[str] = "surveillance"
    #: The action classes its plans may carry (``GoTo.action_class`` and the rest;
    #: see :data:`fleetsim.scenario.model.ACTION_CLASSES`), e.g.
    #: ``frozenset({"transit", "return"})``. With it, a scenario whose oversight rules
    #: name a class neither the policy nor the engine ever raises is refused
    #: (:func:`check_oversight_rules`) and the conformance checker fails a policy
    #: whose plans carry a class it did not declare. None (the default, and any
    #: policy class without the attribute): not declared, nothing is checked.
    action_classes: ClassVar[frozenset[str] | None] = None

    @dataclass(frozen=True)
    class Params:
        pass

    decision_period_s: float | None = None

    def reset(self, ctx: PolicyContext) -> None:
        self.ctx = ctx
        self.params = ctx.params

    def decide(self, now_s: float, fleet: FleetView,
               requests: Sequence[Request]) -> Sequence[Plan]:
        raise NotImplementedError


# --------------------------------------------------------------------------- params

_TYPE_NAMES = {float: "a number", int: "an integer", bool: "true or false", str: "a string"}


def parse_params(policy_cls: type[Policy], raw: Mapping[str, Any], *,
                 scenario: Scenario | None = None) -> Any:
    """Validate ``raw`` scenario parameters against ``policy_cls.Params``.

    Unknown names, wrong types and values a field's ``metadata['check']``
    rejects raise :class:`ScenarioError` naming the file, line and
    ``policy.params.<name>`` path.
    """
    params_cls = policy_cls.Params
    fields = {f.name: f for f in dataclasses.fields(params_cls)}

    def fail(key: str | None, message: str) -> ScenarioError:
        path = "policy.params" + (f".{key}" if key else "")
        file, line = scenario.locate(path) if scenario is not None else (None, None)
        return ScenarioError(message, file=file, line=line, path=path)

    values = {}
    for key, value in raw.items():
        f = fields.get(key)
        if f is None:
            valid = ", ".join(sorted(fields)) or "none"
            near = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise fail(key, f"unknown parameter of policy {policy_cls.name!r}{hint} "
                            f"(valid: {valid})")
        typ = f.type if isinstance(f.type, type) else _resolve_type(f.type)
        value = _coerce(value, typ, lambda m, k=key: fail(k, m))
        check = f.metadata.get("check")
        if check is not None:
            problem = check(value)
            if problem:
                raise fail(key, f"expected {problem}, got {value!r}")
        values[key] = value
    missing = [n for n, f in fields.items() if n not in values
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise fail(None, f"policy {policy_cls.name!r} needs parameter(s): {', '.join(missing)}")
    return params_cls(**values)


def _resolve_type(annotation: str) -> Any:
    text = str(annotation).replace(" ", "")
    table = {"float": float, "int": int, "bool": bool, "str": str,
             "float|None": (float, None), "int|None": (int, None), "str|None": (str, None)}
    return table.get(text, object)


def _coerce(value: Any, typ: Any, fail) -> Any:
    optional = isinstance(typ, tuple)
    base = typ[0] if optional else typ
    if value is None and optional:
        return None
    if base is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise fail(f"expected a finite number, got {value!r}")
        return float(value)
    if base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail(f"expected an integer, got {value!r}")
        return value
    if base in (bool, str) and not isinstance(value, base):
        raise fail(f"expected {_TYPE_NAMES[base]}, got {value!r}")
    return value


def positive(v: float) -> str | None:
    return None if v > 0 else "a number > 0"


def non_negative(v: float) -> str | None:
    return None if v >= 0 else "a number >= 0"


def param(default: Any, check=None, doc: str = "") -> Any:
    """A policy parameter field with a default, an optional check and a doc line."""
    return field(default=default, metadata={"check": check, "doc": doc})


# --------------------------------------------------------------------------- registry

#: Built-in policies: name -> "module:Class".
BUILTIN_POLICIES = {
    "lawnmower": "fleetsim.policies.lawnmower:Lawnmower",
    "random_search": "fleetsim.policies.random_search:RandomSearch",
    "expanding_square": "fleetsim.policies.maritime_search:ExpandingSquare",
    "sector_search": "fleetsim.policies.maritime_search:SectorSearch",
    "parallel_track": "fleetsim.policies.maritime_search:ParallelTrack",
    "persistent_patrol": "fleetsim.policies.persistent_patrol:PersistentPatrol",
    "cautious_patrol": "fleetsim.policies.oversight_patrol:CautiousPatrol",
    "autonomous_patrol": "fleetsim.policies.oversight_patrol:AutonomousPatrol",
    "nearest_dispatch": "fleetsim.policies.nearest_dispatch:NearestDispatch",
    "batch_assignment": "fleetsim.policies.batch_assignment:BatchAssignment",
    "vrp_planner": "fleetsim.policies.vrp_planner:VRPPlanner",
    "truck_drone": "fleetsim.policies.truck_drone:TruckDrone",
}
#: The built-in policies for orders (the others are for surveillance missions).
LOGISTICS_POLICIES = frozenset({"nearest_dispatch", "batch_assignment", "vrp_planner",
                                "truck_drone"})
ENTRY_POINT_GROUP = "fleetsim.policies"


def available_policies() -> dict[str, str]:
    """Every policy name that can be used in a scenario, with where it comes from."""
    found = dict(BUILTIN_POLICIES)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def import_code(module_name: str, base_dir: str | None, *, what: str, prefix: str) -> Any:
    """The module named ``module_name``: a Python file when it ends in ``.py`` (a
    relative path is taken from ``base_dir``, the scenario's folder, when given; loaded
    as a module named ``prefix`` + its stem), else an importable module. A missing file
    is a :class:`PolicyError` naming ``what`` it was to hold; :class:`ImportError` and the
    module's own exceptions are the caller's to report."""
    if not module_name.endswith(".py"):
        return importlib.import_module(module_name)
    path = Path(module_name)
    if base_dir is not None and not path.is_absolute():
        path = Path(base_dir) / path
    if not path.is_file():
        raise PolicyError(f"{what} file {module_name!r} not found")
    spec = importlib.util.spec_from_file_location(f"{prefix}{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def policy_class(name: str, *, base_dir: str | None = None) -> type[Policy]:
    """The policy class registered under ``name``, or named by ``module:Class`` /
    ``path/file.py:Class`` (a relative path is taken from ``base_dir``, the
    scenario's folder, when given).

    Raises :class:`PolicyError` listing what exists and the nearest name.
    """
    known = available_policies()
    target = known.get(name, name)
    if ":" not in target:
        near = difflib.get_close_matches(name, list(known), n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise PolicyError(f"unknown policy {name!r}{hint} (available: {', '.join(sorted(known))}; "
                          "or give 'module:Class' or 'path/to/file.py:Class')")
    module_name, _, attr = target.rpartition(":")
    try:
        module = import_code(module_name, base_dir, what="policy", prefix="fleetsim_user_policy_")
    except ImportError as exc:
        raise PolicyError(f"cannot import policy module {module_name!r} for {name!r}: {exc} "
                          "(a module must be importable: installed, or on PYTHONPATH)") \
            from None
    except PolicyError:
        raise
    except Exception as exc:  # the policy's own code failed while loading
        where = ""
        if isinstance(exc, SyntaxError):
            where = f" at {exc.filename}:{exc.lineno}"
        else:
            import traceback
            frames = traceback.extract_tb(exc.__traceback__)
            if frames:
                where = f" at {frames[-1].filename}:{frames[-1].lineno}"
        raise PolicyError(f"loading policy {name!r} failed{where}: "
                          f"{type(exc).__name__}: {exc}") from None
    cls = getattr(module, attr, None)
    if cls is None:
        raise PolicyError(f"module {module_name!r} has no attribute {attr!r} (policy {name!r})")
    if not (isinstance(cls, type) and hasattr(cls, "decide") and hasattr(cls, "reset")):
        raise PolicyError(f"{target!r} is not a policy class (it needs reset() and decide())")
    return cls


#: Action classes the engine raises itself, whatever the policy: ``takeoff`` (an air
#: vehicle leaving the ground), ``return`` (sent home when its link is lost and its
#: rules do not let it fly on), ``enter_restricted`` / ``leave_mission_area`` (any
#: route, by where it goes) and ``continue_lost_link`` (flying on out of link). With
#: ``separation.tactical: hold`` the engine's give-way manoeuvres are ``hold`` too.
#: (``classify_detection``, ``emergency_landing`` and ``stop`` take no rules.)
ENGINE_ACTION_CLASSES = frozenset({"takeoff", "return", "enter_restricted",
                                   "leave_mission_area", "continue_lost_link"})


def engine_action_classes(scenario: Scenario) -> frozenset[str]:
    """The action classes the engine raises in ``scenario`` whatever the policy."""
    sep = scenario.separation
    if sep is not None and sep.tactical == "hold":
        return ENGINE_ACTION_CLASSES | {"hold"}
    return ENGINE_ACTION_CLASSES


def check_oversight_rules(policy_cls: type, scenario: Scenario) -> None:
    """Refuse an oversight rule for an action class that neither the policy (by its
    :attr:`Policy.action_classes`) nor the engine ever raises: such a rule would
    never apply. A policy that does not declare its classes is not checked.

    Raises :class:`ScenarioError` at ``oversight.rules.<class>``.
    """
    from fleetsim.scenario.model import ACTION_CLASSES

    declared = getattr(policy_cls, "action_classes", None)
    name = scenario.policy.name
    if declared is None:
        return
    if isinstance(declared, str) or not all(isinstance(c, str) for c in declared):
        raise PolicyError(f"policy {name!r}: action_classes must be a set of class names "
                          f"(e.g. frozenset({{'transit', 'return'}})), got {declared!r}")
    unknown = sorted(set(declared) - set(ACTION_CLASSES))
    if unknown:
        raise PolicyError(f"policy {name!r} declares unknown action class(es) "
                          f"{', '.join(unknown)} (valid: {', '.join(ACTION_CLASSES)})")
    if scenario.oversight is None:
        return
    engine = engine_action_classes(scenario)
    allowed = set(declared) | engine
    for action_class, rule in scenario.oversight.rules.items():
        if action_class in allowed:
            continue
        path = f"oversight.rules.{action_class}"
        file, line = scenario.locate(path)
        own = ", ".join(c for c in ACTION_CLASSES if c in declared) or "none"
        raise ScenarioError(
            f"rule {rule.rule!r} for action class {action_class!r} would never apply: policy "
            f"{name!r} never emits it (its classes: {own}; the engine's own, allowed with "
            f"any policy: {', '.join(c for c in ACTION_CLASSES if c in engine)}); remove the "
            f"rule or choose a policy that emits {action_class!r}",
            file=file, line=line, path=path)


def policy_source_files(name: str, *, base_dir: str | None = None) -> list[Path]:
    """The source files that define policy ``name`` (as :func:`policy_class` resolves
    it), without importing it: a built-in's whole ``fleetsim.policies`` package (the built-ins
    share modules), the file of a ``path/file.py:Class``, or the module file of a
    ``module:Class`` or entry point. Empty if it cannot be found. Modules that a
    user's policy imports are not included."""
    if name in BUILTIN_POLICIES:
        spec = importlib.util.find_spec("fleetsim.policies")
        roots = list(spec.submodule_search_locations or []) if spec is not None else []
        return sorted((p for r in roots for p in Path(r).glob("*.py")), key=lambda p: p.name)
    target = available_policies().get(name, name)
    module_name, sep, _ = target.rpartition(":")
    if not sep:
        return []
    if module_name.endswith(".py"):
        path = Path(module_name)
        if base_dir is not None and not path.is_absolute():
            path = Path(base_dir) / path
        return [path] if path.is_file() else []
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return []
    origin = getattr(spec, "origin", None)
    return [Path(origin)] if origin and Path(origin).is_file() else []


def policy_source_digest(name: str, *, base_dir: str | None = None) -> str:
    """SHA-256 (hex) of the source of policy ``name`` (:func:`policy_source_files`:
    each file's name and bytes, in order); of nothing if none is found."""
    import hashlib

    h = hashlib.sha256()
    for path in policy_source_files(name, base_dir=base_dir):
        data = path.read_bytes()
        h.update(f"{path.name}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def make_policy(scenario: Scenario) -> tuple[Policy, Any]:
    """Instantiate the scenario's policy and validate its parameters."""
    try:
        cls = policy_class(scenario.policy.name, base_dir=scenario.base_dir)
    except PolicyError as exc:
        file, line = scenario.locate("policy.name")
        raise ScenarioError(str(exc), file=file, line=line, path="policy.name") from None
    mission = getattr(cls, "mission", "surveillance")
    has_orders = scenario.logistics is not None and bool(
        scenario.logistics.orders or scenario.logistics.demand)
    problem = None
    if mission == "logistics" and not has_orders:
        problem = (f"policy {scenario.policy.name!r} serves orders (a logistics policy), but the "
                   "scenario has none: add a logistics section with orders or demand, or "
                   "choose a surveillance policy")
    elif mission == "surveillance" and has_orders and not scenario.missions:
        problem = (f"policy {scenario.policy.name!r} flies missions (a surveillance policy), but "
                   "the scenario has orders and no missions: choose a logistics policy "
                   "(nearest_dispatch, batch_assignment, vrp_planner, truck_drone) or add a "
                   "mission")
    if problem:
        file, line = scenario.locate("policy.name")
        raise ScenarioError(problem, file=file, line=line, path="policy.name")
    params = parse_params(cls, scenario.policy.params, scenario=scenario)
    try:
        check_oversight_rules(cls, scenario)
    except PolicyError as exc:
        file, line = scenario.locate("policy.name")
        raise ScenarioError(str(exc), file=file, line=line, path="policy.name") from None
    return cls(), params

"""The recorded run: the columnar tables every run writes and every reader uses.

A run is recorded as three tables (Parquet files in the run directory):

``legs``
    One row per leg actually flown (after any cut), in leg-id order. A vehicle's
    legs tile ``[0, duration]`` without gaps, so its position at any time is a
    linear interpolation inside the leg that holds it.

    =============== ======= ===================================================
    column          dtype   meaning
    =============== ======= ===================================================
    leg             int64   leg id (0..n-1)
    vehicle         int32   vehicle index
    kind            str     one of :data:`LEG_KINDS`
    sensing         bool    the sensor was on (counts for coverage/detection)
    t0_s, t1_s      float64 start and (actual) end time
    x0_m .. z1_m    float64 start and end position, ENU metres, z above datum
    energy_wh       float64 energy drawn during the leg
    battery_end_wh  float64 battery charge at ``t1_s``
    =============== ======= ===================================================

``events``
    One row per event, in the order they happened (time, then sequence).
    Columns: ``time_s`` float64, ``kind`` str (one of :data:`EVENT_KINDS`),
    ``vehicle`` int32 (-1: none), ``leg`` int64 (-1), ``target`` int32 (-1),
    ``zone`` int32 (-1), ``x_m``, ``y_m``, ``z_m`` float64 (NaN: none),
    ``value`` float64 (kind-specific, NaN: none), ``operator`` int32 (-1: none),
    ``detail`` str (kind-specific, e.g. the action class; "" for none).

    In memory, the ``kind`` columns and ``detail`` are :class:`CodedColumn` s (one
    small code per row) when the engine or a run directory made them; they read as
    arrays of strings, and hand-made tables may hold plain object arrays.

``vehicles``
    One row per vehicle: ``vehicle`` int32, ``type`` str, ``base`` str,
    ``footprint_radius_m`` float64, ``battery_wh`` float64, ``domain`` str (air,
    ground, sea), ``payload_kg`` float64, ``carrier`` int32 (the vehicle that
    carries it, -1: none).

``orders``
    Logistics scenarios: one row per order created (see :data:`ORDER_COLUMNS`).

``timeseries`` (``timeseries.parquet``)
    Derived from the tables above, not recorded by the engine
    (:func:`fleetsim.metrics.timeseries.timeseries`; ``fleetsim metrics``
    rebuilds it). One row per ``outputs.timeseries_step_s`` at
    ``t = 0, step, ...`` up to and including the run's duration T. A vehicle's
    state at t is its leg with ``t0 <= t < t1`` (at T: the leg ending at T);
    event counts include the events at t. A column that does not apply to the
    run is null in every row.

    ================== ======= ================================================
    column             dtype   meaning
    ================== ======= ================================================
    time_s             float64 row time
    airborne           int64   air-domain vehicles on a ``takeoff``, ``move``,
                               ``hold``, ``return`` or ``land`` leg
    returning          int64   vehicles on a ``return`` leg
    charging           int64   vehicles on a ``charge`` leg
    queued_for_pad     int64   vehicles on a ``wait_pad`` leg
    on_ground          int64   vehicles on a ``ground`` leg (parked at base)
    coverage_fraction  float64 covered share of the cells permitted at t
                               (:mod:`fleetsim.metrics.coverage`); null with
                               no mission area or no permitted cell
    idleness_mean_s    float64 mean idleness of the cells permitted at t
                               (:mod:`fleetsim.metrics.patrol`); same nulls
    detections         int64   distinct targets detected by t; null without
                               targets
    orders_delivered   int64   ``delivered`` events by t; null without logistics
    operator_queue     int64   requests to the operators raised and not yet
                               decided at t (approvals and veto reviews from
                               ``auth_request`` to their decision; acks and
                               reviews from ``time - value`` to ``time``); null
                               without oversight
    los_active         int64   losses of separation in progress (``los_start``
                               minus ``los_end`` events by t); null without a
                               ``separation`` section
    operators_on_duty  int64   operators on shift at t (the ``shifts``, or all
                               ``operators`` without shifts; at T: those on
                               duty until T); null without oversight
    operators_busy     int64   operators serving a work item at t (an
                               operator's ``work_start`` to its next
                               ``work_end``, ``[start, end)``; a two-person
                               item counts two; work past a shift's end still
                               counts); null without oversight
    ================== ======= ================================================
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import functools
import gc
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.scenario.model import Scenario
    from fleetsim.world.world import World

#: Kinds of leg. ``ground``: parked at base; ``takeoff``/``land``: vertical;
#: ``move``: flying a policy's waypoints; ``hold``: hovering/loitering in place;
#: ``return``: flying home after reaching the energy reserve or on command;
#: ``wait_pad``: on the ground queued for a pad; ``charge``: on a pad charging.
#: Logistics: ``wait_load``: queued for a loading bay at a depot; ``load``: loading an
#: order (at a depot, or from a carrier); ``unload``: handing an order over at its
#: destination; ``docked``: carried by another vehicle (positions are the carrier's).
#: Ground and sea vehicles ``move`` and ``return`` on their networks; ``charge`` is
#: also a refuel or a battery swap (see the ``charge_start`` event's detail).
LEG_KINDS = ("ground", "takeoff", "move", "hold", "return", "land", "wait_pad", "charge",
             "wait_load", "load", "unload", "docked")

#: Kinds of event; ``value`` holds what the comment says.
EVENT_KINDS = (
    "run_start",  # value: number of vehicles
    "plan",  # a plan was accepted; value: number of actions
    "takeoff",  # vehicle left the ground
    "arrive",  # reached a waypoint; leg: the leg that ended
    "reserve_reached",  # battery at reserve; value: battery_wh
    "return_start",  # heading home; value: distance to base (m)
    "landed",
    "pad_queue",  # waiting for a pad; value: queue length including this vehicle
    "charge_start",  # value: battery_wh
    "charge_end",  # value: battery_wh
    "battery_depleted",  # battery reached zero in flight
    "detection",  # target seen; target: index; value: lateral range (m)
    "zone_enter",  # zone: index
    "zone_exit",  # zone: index
    "terrain_violation",  # leg below terrain + clearance; value: lowest clearance (m)
    "link_lost",  # out of radio contact with every ground station
    "link_restored",  # back in contact
    # Human oversight. detail: the action class (or work kind); operator: who.
    "auth_request",  # an action needs an operator: approval / veto review queued
    "auth_granted",  # approved (or its veto window passed unopposed); value: wait (s)
    "auth_denied",  # denied (or vetoed in time); value: wait (s)
    "auth_timeout",  # nobody decided in time; value: wait (s)
    "action_start",  # an action began; value: index of its rule in AUTH_RULES
    "action_refused",  # a forbidden action was not executed
    "ack",  # an operator acknowledged a notify-class action; value: latency (s)
    "veto_late",  # an operator vetoed after the action had already started
    "false_alarm",  # a sensor raised an alarm with no target behind it
    "review",  # an operator reviewed a detection or false alarm; value: latency (s)
    "work_start",  # an operator began a work item; detail: work kind
    "work_end",  # ... and finished it
    "stop_issued",  # a stop command was given; value: vehicles it covers
    "stop_safe",  # a vehicle reached its safe state after a stop; value: latency (s)
    # Logistics. target: the order's index in the orders table.
    "order_created",  # x, y: destination; value: weight (kg); detail: origin site id
    "order_assigned",  # a plan with the order's Pickup was accepted for the vehicle
    "load_queue",  # waiting for a loading bay; value: queue length; detail: site id
    "pickup",  # order loaded; value: weight (kg); detail: site id or "carrier"
    "delivered",  # order handed over; value: time since created (s)
    "order_failed",  # detail: reason (capacity, no_route, battery, stock, unreachable)
    "road_closed",  # x, y: midpoint of the closed road; value: its length (m)
    "reroute",  # a vehicle's route crossed a closed road; value: new remaining length (m)
    "launch",  # a carried vehicle left its carrier; value: the carrier's index
    "dock",  # a vehicle landed back on its carrier; value: the carrier's index
    # Separation. vehicle: the lower index of the pair; target: the other vehicle.
    "los_start",  # loss of separation began (exact time)
    "los_end",  # ... and ended; value: the least horizontal distance during it (m)
    "conflict",  # a loss of separation is predicted within the look-ahead; vehicle:
    #              the one to give way (the higher index); value: predicted start (s)
    "strategic_delay",  # a take-off waited for a conflict-free slot; value: delay (s)
    "deconflict",  # a vehicle changed altitude or stopped to keep separation;
    #                detail: layer | hold; value: extra distance flown (m)
    "run_end",
    # Wind (after run_end so that the codes of the kinds above stay as they were).
    "leg_refused",  # a leg the wind does not let the vehicle fly (held instead);
    #                 x, y, z: where it was to go; value: next wind change (s, NaN: none)
    "loiter",  # a fixed wing began an orbit; x, y, z: its centre; value: radius (m)
    "search_pod",  # a sensing leg's probability of detection against a search's datum
    #                (fleetsim.world.search), at the leg's end; leg: the leg; detail: the
    #                mission id; x, y: the datum then; value: the POD
)

LEG_COLUMNS = {
    "leg": np.int64, "vehicle": np.int32, "kind": object, "sensing": np.bool_,
    "t0_s": np.float64, "t1_s": np.float64,
    "x0_m": np.float64, "y0_m": np.float64, "z0_m": np.float64,
    "x1_m": np.float64, "y1_m": np.float64, "z1_m": np.float64,
    "energy_wh": np.float64, "battery_end_wh": np.float64,
}
EVENT_COLUMNS = {
    "time_s": np.float64, "kind": object, "vehicle": np.int32, "leg": np.int64,
    "target": np.int32, "zone": np.int32,
    "x_m": np.float64, "y_m": np.float64, "z_m": np.float64, "value": np.float64,
    "operator": np.int32, "detail": object,
}
VEHICLE_COLUMNS = {
    "vehicle": np.int32, "type": object, "base": object,
    "footprint_radius_m": np.float64, "battery_wh": np.float64,
    "domain": object, "payload_kg": np.float64, "carrier": np.int32,
}
#: One row per order created during the run (logistics), in creation order.
ORDER_COLUMNS = {
    "order": np.int32, "id": object, "origin": object,
    "dest_x_m": np.float64, "dest_y_m": np.float64, "weight_kg": np.float64,
    "priority": np.int32, "created_s": np.float64, "earliest_s": np.float64,
    "latest_s": np.float64,
}

#: Strategic deconfliction's 4D reservations (one row per volume: a leg of the intent a
#: vehicle reserved before taking off), in the order they were made. ``withdrawn_s`` is
#: when a new plan voided the intent before its end (NaN: it was kept).
RESERVATION_COLUMNS = {
    "intent": np.int64, "vehicle": np.int32, "reserved_s": np.float64,
    "withdrawn_s": np.float64, "t0_s": np.float64, "t1_s": np.float64,
    "x0_m": np.float64, "y0_m": np.float64, "z0_m": np.float64,
    "x1_m": np.float64, "y1_m": np.float64, "z1_m": np.float64,
}

Table = dict[str, np.ndarray]


class CodedColumn:
    """A column of strings held as small integer codes into a tuple of categories: what
    the record keeps for ``kind`` (legs and events) and ``detail`` (events), one byte a
    row instead of a pointer to a string object (a long run has millions of rows).

    It reads as the array of strings it stands for: ``column == "takeoff"`` and ``!=``
    (a bool array, by comparing codes), :func:`kind_in`, indexing (a row: its string;
    a slice, a mask or indexes: a coded column), ``len``, iteration, ``tolist()``, and
    ``np.asarray(column)`` (the object array of strings, made on demand); its ``dtype``
    is object's. The Parquet files hold the same strings either way.
    """

    __slots__ = ("codes", "categories")

    def __init__(self, codes: np.ndarray, categories) -> None:
        #: The codes: an unsigned integer array, row i is ``categories[codes[i]]``.
        self.codes = np.asarray(codes)
        #: The strings, by code.
        self.categories = tuple(categories)

    @staticmethod
    def code_dtype(n_categories: int) -> type:
        """The smallest unsigned integer type that numbers ``n_categories`` strings."""
        return (np.uint8 if n_categories <= 1 << 8 else
                np.uint16 if n_categories <= 1 << 16 else np.uint32)

    @classmethod
    def encode(cls, values, categories=()) -> CodedColumn:
        """The coded column of ``values`` (strings); the codes of ``categories`` first,
        then the other strings in the order they first appear."""
        values = np.asarray(values, dtype=object).reshape(-1)
        cats = list(dict.fromkeys([*categories, *values.tolist()]))
        index = {c: i for i, c in enumerate(cats)}
        codes = np.fromiter((index[v] for v in values.tolist()),
                            dtype=cls.code_dtype(len(cats)), count=len(values))
        return cls(codes, cats)

    # -------------------------------------------------------------- as an array
    dtype = np.dtype(object)
    ndim = 1

    @property
    def shape(self) -> tuple[int]:
        return (len(self.codes),)

    @property
    def size(self) -> int:
        return len(self.codes)

    @property
    def nbytes(self) -> int:
        return self.codes.nbytes

    def __len__(self) -> int:
        return len(self.codes)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = np.asarray(self.categories, dtype=object).reshape(-1)[self.codes]
        return out if dtype is None else out.astype(dtype)

    def tolist(self) -> list[str]:
        cats = self.categories
        return [cats[c] for c in self.codes.tolist()]

    def __iter__(self):
        return iter(self.tolist())

    def __getitem__(self, key):
        codes = self.codes[key]
        if np.ndim(codes) == 0:
            return self.categories[int(codes)]
        return CodedColumn(codes, self.categories)

    def copy(self) -> CodedColumn:
        return CodedColumn(self.codes.copy(), self.categories)

    def astype(self, dtype, copy: bool = True) -> np.ndarray:
        return np.asarray(self).astype(dtype)

    def __repr__(self) -> str:
        return f"CodedColumn({self.tolist()[:6]!r}{'...' if len(self) > 6 else ''})"

    # -------------------------------------------------------------- comparisons
    def isin(self, values) -> np.ndarray:
        """Which rows hold one of ``values`` (a string or strings): a bool array."""
        wanted = {values} if isinstance(values, str) else set(values)
        hit = np.array([c in wanted for c in self.categories], dtype=bool)
        if not hit.any():
            return np.zeros(len(self.codes), dtype=bool)
        return hit[self.codes]

    def __eq__(self, other):
        if isinstance(other, str):
            return self.isin(other)
        if isinstance(other, CodedColumn) and other.categories == self.categories:
            return self.codes == other.codes
        return np.asarray(self) == (np.asarray(other) if isinstance(other, CodedColumn)
                                    else other)

    def __ne__(self, other):
        if isinstance(other, str):
            return ~self.isin(other)
        return ~np.asarray(self.__eq__(other), dtype=bool)

    __hash__ = None  # type: ignore[assignment]


def as_strings(column) -> CodedColumn | np.ndarray:
    """A string column to compare and index: a coded column as it is (no array of
    string objects made), anything else as an object array."""
    return column if isinstance(column, CodedColumn) else np.asarray(column, dtype=object)


def kind_in(column, kinds) -> np.ndarray:
    """``np.isin(column, kinds)`` for a column of strings (a table's ``kind``, coded or
    an array of strings): one comparison per kind, without sorting the column."""
    if isinstance(column, CodedColumn):
        return column.isin(kinds)
    column = np.asarray(column)
    out = np.zeros(column.shape, dtype=bool)
    for k in ((kinds,) if isinstance(kinds, str) else kinds):
        out |= column == k
    return out


def empty_table(columns: dict[str, type]) -> Table:
    return {name: np.zeros(0, dtype=dt) for name, dt in columns.items()}


@dataclass
class RecordedRun:
    """Everything a metric or the replay writer may read about a finished run."""

    scenario: Scenario
    world: World
    legs: Table
    events: Table
    vehicles: Table
    #: Orders (logistics scenarios; empty otherwise), columns :data:`ORDER_COLUMNS`.
    orders: Table = dataclasses.field(default_factory=lambda: empty_table(ORDER_COLUMNS))
    #: Strategic reservations, columns :data:`RESERVATION_COLUMNS`; None: the run made
    #: none (no strategic deconfliction, or a run directory written without them).
    reservations: Table | None = None
    #: Results derived from the tables and kept for reuse (e.g. the metrics raster,
    #: shared by the metrics and the time series); each entry is keyed by a digest
    #: of what it read, so changed tables are never served a stale result.
    derived: dict = dataclasses.field(default_factory=dict, init=False, repr=False,
                                      compare=False)

    @property
    def duration_s(self) -> float:
        return float(self.scenario.run.duration_s)

    def events_of(self, kind: str) -> Table:
        """The rows of ``events`` whose kind is ``kind``."""
        mask = self.events["kind"] == kind
        return {name: col[mask] for name, col in self.events.items()}


@functools.cache
def fleetsim_code_digest() -> str:
    """SHA-256 (hex) of fleetsim's own code: every ``.py`` file of the package, in the
    order of their sorted relative paths, each as its path and its bytes. Not the
    built-in policies (``policies/``: a run's ``policy_sha256`` covers its policy, see
    :func:`code_identity`), nor the version file that building or installing writes
    (``_version.py``: the version names the commit, not the code). Computed once per
    process."""
    import hashlib
    from pathlib import Path

    import fleetsim

    root = Path(fleetsim.__file__).resolve().parent
    h = hashlib.sha256()
    rels = (p.relative_to(root).as_posix() for p in root.rglob("*.py"))
    for rel in sorted(r for r in rels if r != "_version.py" and not r.startswith("policies/")):
        data = (root / rel).read_bytes()
        h.update(f"{rel}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def code_identity(scenario: Scenario) -> dict[str, str]:
    """What code produces a run of ``scenario``, for its manifest and its sweep key:
    ``fleetsim_sha256`` (:func:`fleetsim_code_digest`) and ``policy_sha256``
    (:func:`fleetsim.policy.policy_source_digest` of the scenario's policy)."""
    from fleetsim.policy import policy_source_digest

    return {"fleetsim_sha256": fleetsim_code_digest(),
            "policy_sha256": policy_source_digest(scenario.policy.name,
                                                  base_dir=scenario.base_dir)}


def table_digest(table: Table) -> str:
    """SHA-256 of a table's column names, dtypes and values (order-sensitive)."""
    import hashlib

    h = hashlib.sha256()
    for name in sorted(table):
        col = table[name]
        h.update(name.encode())
        if col.dtype == object:
            h.update("\x1f".join(map(str, col.tolist())).encode())
        else:
            h.update(str(col.dtype).encode())
            h.update(np.ascontiguousarray(col).tobytes())
    return h.hexdigest()


def run_digest(run: RecordedRun) -> str:
    """One digest of a run's legs, events and vehicles: equal digests, equal records."""
    return table_digest({f"{t}.{k}": v for t in ("legs", "events", "vehicles")
                         for k, v in getattr(run, t).items()})


@functools.cache
def _malloc_trim():
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc
    except (AttributeError, OSError, TypeError):
        return None


#: glibc's ``mallopt`` parameters (``malloc.h``) and the values a run sets: blocks up to
#: 32 MiB come from the heap (glibc's own ceiling for the threshold it otherwise moves
#: up as large blocks are freed), and up to 256 MiB of free memory at the heap's top is
#: kept for the next allocations (64 MiB more taken at each growth) instead of going
#: back to the system and being faulted in again.
_HEAP_KEPT = ((-3, 32 << 20), (-1, 256 << 20), (-2, 64 << 20))  # M_MMAP_THRESHOLD,
# M_TRIM_THRESHOLD, M_TOP_PAD


@functools.cache
def keep_heap() -> bool:
    """Let the C library keep the memory a run frees for its next allocations (glibc's
    ``mallopt``; elsewhere nothing). A run makes and frees arrays of hundreds of
    kilobytes to megabytes at every decision and monitoring window; with glibc's
    defaults their pages go back to the system and are faulted in again the next time
    (about 8 % of a 10,000-drone run's simulation). For the whole process, once (the
    first run); :func:`trim_heap` still gives the free memory back at the end of each
    run and after the metrics' raster. Returns whether the settings took."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError, TypeError):
        return False
    return all(mallopt(param, value) == 1 for param, value in _HEAP_KEPT)


def trim_heap() -> None:
    """Give the memory the process has freed back to the system where the C library
    keeps it (glibc's ``malloc_trim``: the free blocks inside its heap, which it
    otherwise keeps for later allocations; nothing elsewhere). The end of a run and the
    metrics' raster call it: both free many medium-sized arrays at once."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block, back as it was after.

    A run's hundreds of thousands of small objects (each vehicle's state, the pending
    timeouts), and the metrics' many arrays, would make it rescan the same objects over
    and over while they are made; nothing they make forms cycles that matter (those
    that would are broken where they end). The simulation, the end of the run and the
    metrics run with it paused."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()

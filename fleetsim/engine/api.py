"""The engine's interface for its subsystems and vehicle domains.

Subsystems (the in-leg monitor with comms, oversight, separation, logistics) and
domains use the engine only through what :class:`EngineAPI` lists, and plug in
through the hooks of :class:`Subsystem`. :class:`fleetsim.engine.sim.Simulation`
implements the interface; this module imports nothing of the engine, so the
modules that use it form no import cycle with it.

Ownership (who may write what):

- The leg table (``legs``) is written only by the engine's leg primitives
  (``open_leg``, ``close_leg``, ``cut_leg``, ``fly``, ``fly_route``, ``hover``,
  ``park``, ``wait``) and by :class:`~fleetsim.engine.domains.Carried` (the legs
  of a vehicle riding on its carrier). Everyone else reads it.
- The event log (``log``) is appended to by anyone (``log.add``, ``log.extend``).
- The per-vehicle state lists (``state``, ``px``/``py``/``pz``, ``battery``,
  ``engine_control``, ``queue``, ...) belong to the engine; domains move vehicles
  (and so write positions, states and the airborne count); subsystems read them
  and act through the methods below.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Sequence
from typing import Any, Protocol


class EngineAPI(Protocol):
    """What subsystems and domains may use of the engine (see the module notes)."""

    env: Any  #: the simpy environment (``env.now`` is the simulated time)
    scenario: Any
    world: Any
    streams: Any  #: named random streams
    n: int  #: number of vehicles
    duration_s: float
    legs: Any  #: :class:`~fleetsim.engine.tables.LegStore` (read-only for subsystems)
    log: Any  #: :class:`~fleetsim.engine.tables.EventLog`
    motion: Any  #: :class:`~fleetsim.engine.motion.MotionModel`
    no_fly: Any  #: :class:`~fleetsim.engine.nofly.NoFlyRouting` or None
    domains: list[Any]  #: each vehicle's :class:`~fleetsim.engine.domains.Domain`
    view: Any  #: the fleet view handed to the policy
    policy: Any
    finishing: bool  #: the run is over: legs are being closed at its end
    # Subsystems (None when the scenario has none of it).
    monitor: Any
    oversight: Any
    separation: Any
    logistics: Any
    # Per-vehicle parameters and state, as plain lists (cheap scalar access).
    type_index: list[int]
    base_index: list[int]
    carrier_of: list[int]
    is_air: list[bool]
    speed: list[float]
    climb: list[float]
    agl: list[float]
    p_hover: list[float]
    p_cruise: list[float]
    #: Fixed wing: loiter and turn radius (m); 0: hovers.
    orbit_r: list[float]
    capacity: list[float]
    recharge_s: list[float]
    payload: list[float]
    radius: list[float]
    state: list[int]
    px: list[float]
    py: list[float]
    pz: list[float]
    battery: list[float]
    home_xy: list[tuple[float, float]]
    home_z: list[float]
    engine_control: list[bool]
    landed_at: list[float]
    airborne: int
    # Per-vehicle state as numpy arrays (read by the fleet view for many at once).
    docked: Any
    cur_leg: Any
    waiting: Any
    asking: Any
    # The legs of what each vehicle is flying now (its route block) and their starts.
    blk_ids: list[list[int]]
    blk_t0: list[list[float]]
    cur_item: list[Any]
    queue: list[Any]

    # ------------------------------------------------------------------ decisions

    def request(self, v: int, reason: str, target: int = -1) -> Any:
        """Ask the policy about vehicle ``v`` (``-1``: about an order, ``target``);
        returns the event that fires once decided. All requests of one simulated
        instant reach the policy in one call."""

    def retaskable(self, v: int) -> bool:
        """May a plan be given to vehicle ``v`` now (not landing, queued, charging,
        down, nor under engine control)?"""

    # ------------------------------------------------------------------ commands

    def hand_over(self, v: int, append: bool, items: list[tuple]) -> None:
        """Give vehicle ``v`` queued items (the formats in
        :mod:`fleetsim.engine.intake`), replacing its queue unless ``append``."""

    def stop_vehicle(self, v: int, safe_state: str) -> None:
        """Take vehicle ``v`` to its safe state (``return`` or ``land``) and keep it
        there."""

    def send_home(self, v: int) -> None:
        """Send vehicle ``v`` home under engine control now."""

    def reroute(self, v: int, node: int) -> None:
        """A road closed ahead of vehicle ``v``: it goes on from network ``node``."""

    def clear_queue(self, v: int) -> None:
        """Drop vehicle ``v``'s queued actions (its orders to pick up go back)."""

    # ------------------------------------------------------------------ inside a vehicle's process

    def wait(self, v: int, ev: Any, limit_s: float | None) -> Generator[Any, Any, bool]:
        """Wait (hovering, or parked) until ``ev`` fires or ``limit_s`` passes; True
        if ``ev`` fired. Hovering still ends at the energy reserve."""

    def park(self, v: int, duration_s: float) -> Generator[Any, Any, None]:
        """Stay parked for ``duration_s``."""

    # ------------------------------------------------------------------ where things are

    def position_at(self, v: int, t: float) -> tuple[float, float, float]:
        """Where vehicle ``v`` is at time ``t`` (not before its current route block)."""

    def view_position(self, v: int) -> tuple[float, float, float]:
        """Where vehicle ``v`` is now, as the fleet view reports it."""

    def current_leg_index(self, v: int) -> int:
        """Position in its current block of the leg vehicle ``v`` is on now."""

    # ------------------------------------------------------------------ events

    def subscribe(self, kind: str, fn: Callable[[int, int, float], None]) -> None:
        """Call ``fn(vehicle, target, time_s)`` whenever an in-leg event of ``kind``
        (``detection``, ``link_lost``, ``link_restored``) is released, before the
        policy is asked about it."""

    def notify(self, kind: str, v: int, target: int, t: float) -> None:
        """Tell the subscribers of ``kind`` of an event (the monitor does)."""

    # ------------------------------------------------------------------ legs (domains)

    def open_leg(self, v: int, kind: int, sensing: bool, dur: float, x1: float, y1: float,
                 z1: float, power: float) -> int: ...

    def close_leg(self, v: int) -> None: ...

    def cut_leg(self, v: int, t: float) -> None: ...

    def fly(self, v: int, kind: int, sensing: bool, x1: float, y1: float, z1: float,
            power: float, speed: float) -> Generator[Any, Any, None]: ...

    def fly_route(self, v: int, xs: list, ys: list, zs: list, sensing: bool,
                  speeds: list | None = None, kind: int = ...) -> Generator[Any, Any, None]: ...

    def hover(self, v: int, duration: float | None, kind: int = ..., still: bool = ...
              ) -> Generator[Any, Any, None]: ...

    def policy_error(self, message: str, vehicle: int | None = None) -> Exception:
        """A :class:`~fleetsim.errors.PolicyError` naming the policy, time and vehicle."""

    def apply_plans(self, now: float, plans: Sequence[Any]) -> None:
        """Check plans at the boundary and hand them over (as a decision does)."""


class Subsystem:
    """A part of the engine that plugs in through hooks; override only what you use.

    The engine builds its subsystems (each constructor takes the engine), then
    calls :meth:`attach` on each, starts their :meth:`processes` in registration
    order (monitor, separation, logistics, oversight), and calls each hook only on
    the subsystems that override it (so an unused hook costs nothing). Gates
    (:meth:`before_action`) run in :attr:`gate_order`.
    """

    #: Order among the ``before_action`` gates (authorization before airspace).
    gate_order = 0

    def attach(self, eng: EngineAPI) -> None:
        """All subsystems exist: subscribe to events, look up the others."""

    def processes(self, *, progress: bool = False) -> Iterable[Generator[Any, Any, Any]]:
        """The simpy processes to start when the run starts."""
        return ()

    def on_leg_cut(self, v: int, leg: int) -> None:
        """Vehicle ``v``'s leg ``leg`` was cut short at the current time."""

    def before_action(self, v: int, item: tuple) -> Generator[Any, Any, tuple | str]:
        """Runs inside vehicle ``v``'s process before it carries out ``item``: may wait
        (authorization, a reserved slot); returns the item to carry out or a reason
        to ask the policy with instead."""
        return item
        yield  # a generator

    def on_replanned(self, v: int) -> None:
        """Vehicle ``v``'s queue was replaced by a new plan."""

    def after_dispatch(self, planned: set[int]) -> None:
        """A decision was applied; ``planned``: the vehicles given plans in it."""

    def finish(self, end_s: float) -> None:
        """The run ends at ``end_s``: flush what is pending."""


HOOKS = ("on_leg_cut", "before_action", "on_replanned", "after_dispatch", "finish")


def overrides(sub: Subsystem, hook: str) -> bool:
    """Does ``sub`` implement ``hook`` (rather than inherit the no-op)?"""
    return getattr(type(sub), hook) is not getattr(Subsystem, hook)

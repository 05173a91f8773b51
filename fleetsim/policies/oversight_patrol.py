"""Oversight-aware variants of persistent patrol: ``cautious_patrol`` and ``autonomous_patrol``.

Both patrol like :mod:`fleetsim.policies.persistent_patrol` (each vehicle heads for the
most idle neighbouring patrol cell) and differ in what they leave to the
operators and in what they do when the radio link to the ground is lost. The
scenario's ``oversight.rules`` decide what each action class needs; the
policies only choose the classes and the fallbacks.

``cautious_patrol`` asks before every re-task and stops when it cannot be
supervised:

- Every patrol route is tagged ``retask`` (the scenario's rule for that class
  decides whether it needs an approval). A vehicle is re-tasked only when its
  route is done (``idle``), one route of ``horizon_periods x
  decision_period_s`` at a time, so each approval covers one route and no
  approvals pile up behind each other.
- ``link_lost``: it holds where it is (``Hold``) for ``lost_link_hold_s``.
  ``link_restored`` during the hold: it resumes patrolling. Hold over without
  link: ``after_lost_link`` says what next: ``regain`` (default) flies home and
  turns back to patrol as soon as the link is restored on the way (an approval
  needs a working link, so a vehicle waiting out of link for one would wait in
  vain); ``resume`` patrols on out of link (its route is then tagged
  ``continue_lost_link`` or ``retask``, whichever the scenario's rules treat
  more strictly); ``return`` flies home.
- With ``keep_in_range`` (default) it patrols only the cells in link at cruise
  height: within slant range and in line of sight over the terrain of a ground
  station (or of a relay point, see below, that is itself in link with one), and
  drops each cell where a vehicle lost the link (something the terrain check
  missed, a relay away recharging) for ``dark_for_s`` (default 30 min; null: for
  good), then tries it again. Without ground stations every cell is patrolled.
- ``approval_denied`` / ``approval_timeout``: with ``on_denied: retry`` it holds
  (or stays parked) for ``retry_after_s`` and asks again, up to
  ``max_retries`` consecutive refusals (null: no limit); then, or at once with
  ``on_denied: return``, it flies home (or stays parked).

``autonomous_patrol`` acts on its own and leaves the rest to the rules:

- Patrol routes are tagged ``transit`` and extended every ``decision_period_s``
  (re-tasks cost nobody's attention, so it re-plans twice as often as
  ``persistent_patrol`` over shorter horizons).
- ``link_lost``: it keeps flying its plan and gives the vehicle no new plan at
  that moment, so the scenario's ``continue_lost_link`` rule applies: if it is
  ``forbidden`` (or needs an approval or a veto review), the engine refuses
  and sends the vehicle home. Routes it is given while out of link are tagged
  ``continue_lost_link``.
- ``approval_denied`` / ``approval_timeout`` (say a route into a restricted
  zone was vetoed): it holds (or stays parked) for ``retry_after_s`` and plans
  afresh.

In both, vehicles whose type carries a radio relay (``relay_range_m``) do not
patrol when ``relays_hold`` is on: each flies to a relay point and holds there
until its battery sends it home, then goes back. Relay points are the centroids of
the relays' parts of an equal-area partition of the mission area, unless the ground
stations leave patrol cells out of link: then the relays take the patrol cells in
link with a station (outside every zone) from which together they link as many of
those cells as they can (chosen one relay after the other, then improved one relay
at a time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely

from fleetsim.comms import station_in_sight, stations_of
from fleetsim.planning import assign_parts, densify, partition_equal_area
from fleetsim.policies.persistent_patrol import PersistentPatrol
from fleetsim.policy import GoTo, Hold, Plan, ReturnHome, param, positive
from fleetsim.scenario.model import AUTH_RULES

_INF = math.inf
#: Last-visit time given to patrol cells a vehicle must not head for: never the most idle.
_NEVER = 1.0e15
#: States in which a vehicle can be given a new plan in response to a link event.
_AIRBORNE = ("moving", "holding", "takeoff")
_DENIED = frozenset({"approval_denied", "approval_timeout"})


def _optional_positive(v):
    return None if v is None or v > 0 else "a number > 0 or null"


def _optional_non_negative_int(v):
    return None if v is None or v >= 0 else "an integer >= 0 or null"


def _one_of(*choices):
    def check(v):
        return None if v in choices else " or ".join(repr(c) for c in choices)
    return check


class _OversightPatrol(PersistentPatrol):
    """Shared machinery: requests grouped per vehicle, link state, retries, relays."""

    name = ""

    @dataclass(frozen=True)
    class Params(PersistentPatrol.Params):
        retry_after_s: float = param(60.0, positive,
                                     "after a denied or timed-out approval, ask again this "
                                     "much later")
        relays_hold: bool = param(True, None,
                                  "vehicles carrying a radio relay hold at relay points over "
                                  "the mission area instead of patrolling")

    #: Class of a patrol route flown in link.
    route_class = "transit"

    def reset(self, ctx) -> None:
        super().reset(ctx)
        n = len(ctx.vehicle_type_index)
        self.out = np.zeros(n, dtype=bool)  # out of link, as far as the policy was told
        self.mode = ["patrol"] * n
        self.denials = np.zeros(n, dtype=np.int64)
        self.last_denial_s = np.full(n, -_INF)
        self.retry_at = np.full(n, _INF)  # parked vehicles waiting to ask again
        oversight = ctx.scenario.oversight if ctx.scenario is not None else None
        self.rules = oversight
        # Relay vehicles and their points.
        self.relay_xy: dict[int, tuple[float, float]] = {}
        relays = [v for v in range(n)
                  if ctx.vehicle_types[int(ctx.vehicle_type_index[v])].relay_range_m]
        area = ctx.world.mission_area
        if self.params.relays_hold and relays and not area.is_empty:
            parts = partition_equal_area(area, len(relays))
            owner = assign_parts(parts, np.asarray(ctx.home_xy)[relays])
            zones = shapely.union_all([z.polygon for z in ctx.world.zones])
            for v, k in zip(relays, owner.tolist(), strict=True):
                if k < 0 or parts[k].is_empty:
                    continue
                free = parts[k].difference(zones) if not zones.is_empty else parts[k]
                if free.is_empty:
                    free = parts[k]
                p = parts[k].centroid
                if not free.contains(p):  # loiter outside any zone, in its own part
                    p = free.representative_point()
                self.relay_xy[v] = (float(p.x), float(p.y))
            self._relays_over_gaps(ctx, relays, zones)
        # Long first hops (from a base, or across the area to an idle cell) are cut
        # into steps of about a cell, so a vehicle flying them follows the terrain.
        self.max_step_m = 1.5 * self.cell_size
        self.single_route = True

    def _station_reach(self, ctx, agl: float | None = None) -> np.ndarray | None:
        """Which patrol cells are in link with a ground station at ``agl`` above the
        ground (default: the lowest cruise height of the fleet): within its range
        (with a small margin for the sampling of legs) and in its line of sight over
        the terrain; None without ground stations."""
        stations = stations_of(ctx.world)
        if not stations:
            return None
        if agl is None:
            agl = min(t.cruise_altitude_agl_m for t in ctx.vehicle_types)
        x, y = self.centres[:, 0], self.centres[:, 1]
        z = np.asarray(ctx.world.terrain.height_at(x, y), dtype=np.float64) + agl
        reach = np.zeros(len(self.centres), dtype=bool)
        for s in stations:
            sx, sy, sz = s.xyz
            near = np.flatnonzero(np.sqrt((x - sx) ** 2 + (y - sy) ** 2 + (z - sz) ** 2)
                                  <= 0.97 * s.range_m)
            if len(near):
                reach[near] |= station_in_sight(s, np.column_stack([x[near], y[near],
                                                                    z[near]]),
                                                ctx.world.terrain)
        return reach

    def _relays_over_gaps(self, ctx, relays, zones) -> None:
        """Where the ground stations leave patrol cells out of range, move the relay
        points to patrol cells in range of a station and outside every zone so that
        the relays together reach as many of those cells as they can: one relay after
        the other takes the point reaching the most cells still out of reach (the
        nearest to its own point on ties), then each in turn moves to the best point
        given the others' until none improves. Relays that reach no such cell keep
        their points."""
        reach = self._station_reach(ctx)
        use = [v for v in relays if v in self.relay_xy]
        if reach is None or reach.all() or not use:
            return
        agl = min(t.cruise_altitude_agl_m for t in ctx.vehicle_types)
        terrain = ctx.world.terrain
        x, y = self.centres[:, 0], self.centres[:, 1]
        ground = np.asarray(terrain.height_at(x, y), dtype=np.float64)
        free = ~shapely.intersects_xy(zones, x, y) if not zones.is_empty else \
            np.ones(len(x), dtype=bool)
        g = np.flatnonzero(~reach)
        cands, covers, near = [], [], []
        linked_at: dict[float, np.ndarray] = {}
        for v in use:
            vt = ctx.vehicle_types[int(ctx.vehicle_type_index[v])]
            h = float(vt.cruise_altitude_agl_m)
            if h not in linked_at:
                linked_at[h] = self._station_reach(ctx, h)
            rz = ground + h
            cand = np.flatnonzero(linked_at[h] & free)
            cands.append(cand)
            cover = np.sqrt((x[cand, None] - x[g]) ** 2 + (y[cand, None] - y[g]) ** 2
                            + (rz[cand, None] - ground[g] - agl) ** 2) \
                <= 0.97 * vt.relay_range_m
            i, j = np.nonzero(cover)
            if len(i):  # in range: in sight too?
                a = np.column_stack([x[cand[i]], y[cand[i]], rz[cand[i]]])
                b = np.column_stack([x[g[j]], y[g[j]], ground[g[j]] + agl])
                cover[i, j] = terrain.line_of_sight(a, b)
            covers.append(cover)
            rx, ry = self.relay_xy[v]
            near.append(np.hypot(x[cand] - rx, y[cand] - ry))
        pick = [-1] * len(use)

        def best(k: int) -> int:
            others = np.zeros(len(g), dtype=bool)
            for m, c in enumerate(pick):
                if m != k and c >= 0:
                    others |= covers[m][c]
            gain = (covers[k] & ~others).sum(axis=1)
            if len(gain) == 0 or gain.max() == 0:
                return -1
            return int(np.lexsort((near[k], -gain))[0])

        for k in range(len(use)):
            pick[k] = best(k)
        for _round in range(10):
            changed = False
            for k in range(len(use)):
                b = best(k)
                if b != pick[k] and b >= 0 and pick[k] >= 0:
                    union = lambda p: np.logical_or.reduce(  # noqa: E731
                        [covers[m][c] for m, c in enumerate(p) if c >= 0]).sum()
                    trial = pick.copy()
                    trial[k] = b
                    if union(trial) > union(pick):
                        pick, changed = trial, True
            if not changed:
                break
        for k, v in enumerate(use):
            if pick[k] >= 0:
                c = cands[k][pick[k]]
                self.relay_xy[v] = (float(x[c]), float(y[c]))

    # ------------------------------------------------------------------ helpers

    def _strictest(self, *classes: str) -> str:
        """The class whose rule is strictest under the scenario (the first on ties)."""
        if self.rules is None:
            return classes[0]
        order = [AUTH_RULES.index(self.rules.rule_for(c).rule) for c in classes]
        return classes[int(np.argmax(order))]

    def _class_of(self, v: int) -> str:
        if self.out[v]:
            return self._strictest("continue_lost_link", self.route_class)
        return self.route_class

    def _relay_plan(self, v: int) -> Plan:
        x, y = self.relay_xy[v]
        return Plan(v, [GoTo(x, y, action_class=self._class_of(v)), Hold(None)])

    def _routes(self, vehicles, fleet, now_s: float, *, append: bool) -> list[Plan]:
        """Patrol routes (relay points for relays) for ``vehicles``, tagged per vehicle."""
        plans = []
        relay = [v for v in vehicles if v in self.relay_xy]
        plans += [self._relay_plan(v) for v in relay]
        rest = np.array([v for v in vehicles if v not in self.relay_xy], dtype=np.int64)
        if len(rest) == 0:
            return plans
        horizon = self.params.horizon_periods * self.decision_period_s
        if append:
            xy, t = fleet.plan_end(rest)
            start_z = None
        else:
            pos = np.array(fleet.positions(rest))
            xy = pos[:, :2]
            t = np.full(len(rest), float(now_s))
            start_z = self.start_height(rest, pos)
        routes = self._walk(rest, xy, t, now_s + horizon, append=append)
        # Steps of about a cell (long first hops cut), each at the cruise height above
        # the ground under it; one Route per plan (one authorization), raised as a
        # whole where some leg needs it.
        routes = [densify(np.vstack([xy[i], r]), self.max_step_m)[1:] if len(r) else r
                  for i, r in enumerate(routes)]
        by_class: dict[str, list[int]] = {}
        for i, v in enumerate(rest.tolist()):
            by_class.setdefault(self._class_of(v), []).append(i)
        planned: dict[int, Plan] = {}
        for cls, rows in by_class.items():
            idx = np.array(rows, dtype=np.int64)
            for p in self._plans(rest[idx], xy[idx], [routes[i] for i in rows], append=append,
                                 start_z=None if start_z is None else start_z[idx],
                                 action_class=cls):
                planned[p.vehicle] = p
        return plans + [planned[v] for v in rest.tolist() if v in planned]

    def _refused(self, v: int, state: str, now_s: float, *, give_up: bool) -> list[Plan]:
        """An approval was denied or timed out: hold (or stay parked) and retry, or give up."""
        repeated = self.last_denial_s[v] == now_s
        self.last_denial_s[v] = now_s
        if repeated:
            # Refused twice at one instant (even the fallback is refused): stop asking
            # for now rather than loop at this simulated time.
            self.mode[v] = "stuck"
            return []
        if state == "ground":
            self.mode[v] = "parked" if give_up else "wait_ground"
            self.retry_at[v] = _INF if give_up else now_s + self.params.retry_after_s
            return []
        if give_up:
            self.mode[v] = "home"
            return [Plan(v, [ReturnHome()])]
        self.mode[v] = "retry"
        return [Plan(v, [Hold(self.params.retry_after_s)])]

    @staticmethod
    def _group(requests) -> dict[int, list[str]]:
        by_vehicle: dict[int, list[str]] = {}
        for r in requests:
            by_vehicle.setdefault(int(r.vehicle), []).append(r.reason)
        return by_vehicle

    def _link_updates(self, requests) -> None:
        for r in requests:  # in the order they came: the last one says where it is now
            if r.reason == "link_lost":
                self.out[r.vehicle] = True
            elif r.reason == "link_restored":
                self.out[r.vehicle] = False

    def _wake_parked(self, now_s: float, periodic: set[int]) -> list[int]:
        """Parked vehicles whose retry time has come (seen through periodic requests)."""
        due = [v for v in sorted(periodic)
               if self.mode[v] == "wait_ground" and self.retry_at[v] <= now_s + 1e-9]
        for v in due:
            self.retry_at[v] = _INF
            self.mode[v] = "patrol"
        return due


class CautiousPatrol(_OversightPatrol):
    """Persistent patrol that asks before every re-task and holds when it loses link."""

    name = "cautious_patrol"
    action_classes = frozenset({"retask", "continue_lost_link", "hold", "return"})

    @dataclass(frozen=True)
    class Params(_OversightPatrol.Params):
        decision_period_s: float = param(60.0, positive,
                                         "how often parked vehicles waiting to ask again are "
                                         "looked at; routes last horizon_periods of it")
        horizon_periods: float = param(5.0, positive,
                                       "length of each re-task (one route), in periods")
        lost_link_hold_s: float | None = param(120.0, _optional_positive,
                                               "on link_lost, hold this long waiting for "
                                               "link_restored (null: until restored)")
        after_lost_link: str = param("regain", _one_of("regain", "resume", "return"),
                                     "when the lost-link hold is over without link: "
                                     "'regain' (fly home, resume patrolling as soon as "
                                     "the link is back), 'resume' patrolling out of link, "
                                     "or 'return' home")
        on_denied: str = param("retry", _one_of("retry", "return"),
                               "after a denied or timed-out approval: 'retry' later or "
                               "'return' home")
        max_retries: int | None = param(None, _optional_non_negative_int,
                                        "consecutive refusals before giving up and going "
                                        "home (null: retry forever)")
        keep_in_range: bool = param(True, None,
                                    "patrol only cells within radio range of a ground "
                                    "station, and drop the cells where the link was lost")
        dark_for_s: float | None = param(1800.0, _optional_positive,
                                         "with keep_in_range, a cell where the link was "
                                         "lost is dropped this long, then tried again "
                                         "(null: for good)")

    route_class = "retask"

    def reset(self, ctx) -> None:
        super().reset(ctx)
        self.hold_until = np.full(len(ctx.vehicle_type_index), _INF)
        self.dark = np.zeros(len(self.centres), dtype=bool)
        self.dark_until = np.full(len(self.centres), _INF)
        self.dark_visit = np.zeros(len(self.centres))  # last visit when it was dropped
        if not self.params.keep_in_range:
            return
        # Range and line of sight (what else blocks a link is learnt as links are lost).
        reach = self._station_reach(ctx)
        if reach is None:
            return
        stations = [s for s in ctx.world.sites if s.radio_range_m]
        agl = min(t.cruise_altitude_agl_m for t in ctx.vehicle_types)
        x, y = self.centres[:, 0], self.centres[:, 1]
        z = np.asarray(ctx.world.terrain.height_at(x, y), dtype=np.float64) + agl
        # Relays holding at their points (themselves in range of a station) extend it.
        for v, (rx, ry) in self.relay_xy.items():
            vt = ctx.vehicle_types[int(ctx.vehicle_type_index[v])]
            rz = float(ctx.world.terrain.height_at(rx, ry)) + vt.cruise_altitude_agl_m
            if any(math.dist((rx, ry, rz), (*s.xy, s.antenna_z_m)) <= s.radio_range_m
                   for s in stations):
                d = np.sqrt((x - rx) ** 2 + (y - ry) ** 2 + (z - rz) ** 2)
                near = np.flatnonzero((d <= 0.97 * vt.relay_range_m) & ~reach)
                if len(near):
                    pts = np.column_stack([x[near], y[near], z[near]])
                    reach[near] = ctx.world.terrain.line_of_sight(
                        np.broadcast_to(np.array([rx, ry, rz]), pts.shape), pts)
        if reach.any():
            self._drop(np.flatnonzero(~reach))

    def _drop(self, cells, until_s: float = _INF) -> None:
        """Do not head for these patrol cells (out of link there) before ``until_s``."""
        cells = np.asarray(cells, dtype=np.int64)
        fresh = cells[~self.dark[cells]]
        self.dark_visit[fresh] = self.last_visit[fresh]
        self.dark[cells] = True
        self.dark_until[cells] = until_s
        self.last_visit[cells] = _NEVER

    def _undrop(self, now_s: float) -> None:
        """Patrol again the cells dropped until ``now_s`` or earlier, as idle as they
        were when dropped."""
        back = np.flatnonzero(self.dark & (self.dark_until <= now_s + 1e-9))
        if len(back) == 0:
            return
        self.dark[back] = False
        self.last_visit[back] = self.dark_visit[back]
        np.minimum.at(self.bucket_min_visit, self.bucket_of[back], self.dark_visit[back])

    def decide(self, now_s, fleet, requests):
        self._link_updates(requests)
        self._undrop(now_s)
        by_vehicle = self._group(requests)
        vehicles = sorted(by_vehicle)
        states = dict(zip(vehicles, fleet.states(vehicles).tolist(), strict=True)) \
            if vehicles else {}
        p = self.params
        plans: list[Plan] = []
        fresh: list[int] = []
        periodic: set[int] = set()
        for v in vehicles:
            reasons = set(by_vehicle[v])
            state = states[v]
            mode = self.mode[v]
            if "reserve" in reasons:  # the engine flies it home; no plan until recharged
                self.mode[v] = "recharge"
                self.retry_at[v] = _INF
                continue
            if reasons & {"start", "recharged"}:
                self.out[v] = False  # on the ground at its base
                self.denials[v] = 0
                self.mode[v] = "patrol"
                fresh.append(v)
                continue
            if reasons & _DENIED:
                self.denials[v] += 1
                give_up = p.on_denied == "return" or (
                    p.max_retries is not None and self.denials[v] > p.max_retries)
                plans += self._refused(v, state, now_s, give_up=give_up)
                continue
            if "link_lost" in reasons and self.out[v] and v not in self.relay_xy:
                if state in _AIRBORNE and mode in ("patrol", "retry", "stuck"):
                    self.mode[v] = "lost"
                    hold = p.lost_link_hold_s
                    self.hold_until[v] = _INF if hold is None else now_s + hold
                    plans.append(Plan(v, [Hold(hold)]))
                    if p.keep_in_range:
                        _, cell = self.tree.query(fleet.positions([v])[0, :2])
                        dark = p.dark_for_s
                        self._drop([int(cell)], _INF if dark is None else now_s + dark)
                    continue
                # Told again while already holding or going home for the lost link
                # (the engine may report one loss twice): the decision stands.
                if mode == "lost" and state in _AIRBORNE:
                    left = self.hold_until[v] - now_s
                    plans.append(Plan(v, [Hold(None if left == _INF else max(left, 0.0))]))
                    continue
                if mode in ("regain", "home") and state == "returning":
                    plans.append(Plan(v, [ReturnHome()]))
                    continue
            if "link_restored" in reasons and not self.out[v] and mode in ("lost", "regain") \
                    and state in (*_AIRBORNE, "returning"):
                self.mode[v] = "patrol"
                fresh.append(v)
                continue
            if "idle" in reasons:
                if mode == "lost" and self.out[v] and p.after_lost_link != "resume":
                    # The hold is over and the link is still down: home, or towards
                    # home until the link comes back ('regain').
                    self.mode[v] = "home" if p.after_lost_link == "return" else "regain"
                    plans.append(Plan(v, [ReturnHome()]))
                    continue
                if mode == "patrol":
                    self.denials[v] = 0  # its last re-task was flown
                if mode in ("patrol", "retry", "lost", "stuck"):
                    self.mode[v] = "patrol"
                    fresh.append(v)
                continue
            if "periodic" in reasons:
                periodic.add(v)
        fresh += self._wake_parked(now_s, periodic)
        if fresh:
            plans += self._routes(sorted(fresh), fleet, now_s, append=False)
        return plans


class AutonomousPatrol(_OversightPatrol):
    """Persistent patrol that acts on its own and flies on when it loses link."""

    name = "autonomous_patrol"
    action_classes = frozenset({"transit", "continue_lost_link", "hold", "return"})

    @dataclass(frozen=True)
    class Params(_OversightPatrol.Params):
        decision_period_s: float = param(30.0, positive, "how often routes are extended")
        horizon_periods: float = param(4.0, positive,
                                       "how far ahead (in periods) each extension reaches")

    route_class = "transit"

    def decide(self, now_s, fleet, requests):
        self._link_updates(requests)
        by_vehicle = self._group(requests)
        vehicles = sorted(by_vehicle)
        states = dict(zip(vehicles, fleet.states(vehicles).tolist(), strict=True)) \
            if vehicles else {}
        plans: list[Plan] = []
        fresh: list[int] = []
        periodic: set[int] = set()
        for v in vehicles:
            reasons = set(by_vehicle[v])
            state = states[v]
            if "reserve" in reasons:
                self.mode[v] = "recharge"
                self.retry_at[v] = _INF
                continue
            if reasons & {"start", "recharged"}:
                self.out[v] = False
                self.mode[v] = "patrol"
                fresh.append(v)
                continue
            if reasons & _DENIED:
                plans += self._refused(v, state, now_s, give_up=False)
                continue
            if "link_lost" in reasons:
                # Fly on; no plan now, so the engine applies the continue_lost_link rule.
                continue
            if "idle" in reasons:
                self.mode[v] = "patrol"
                fresh.append(v)
                continue
            if "periodic" in reasons:
                periodic.add(v)
        fresh += self._wake_parked(now_s, periodic)
        if fresh:
            plans += self._routes(sorted(fresh), fleet, now_s, append=False)
        extend = np.array(sorted(v for v in periodic if self.mode[v] == "patrol"
                                 and v not in self.relay_xy), dtype=np.int64)
        if len(extend):
            extend = extend[np.isin(fleet.states(extend), _AIRBORNE)]
        if len(extend):
            _, t = fleet.plan_end(extend)
            due = extend[t < now_s + 1.5 * self.decision_period_s]
            if len(due):
                plans += self._routes(due.tolist(), fleet, now_s, append=True)
        return plans

"""Observations, macro-actions and reward terms of the learning interfaces (numpy only).

One :class:`Features` object serves both a learning environment (driven by
:class:`fleetsim.engine.stepped.SteppedRun`) and a learned policy run in process
(:class:`fleetsim.rl.policy.LearnedPolicy`): it reads only what a policy may read
(the fleet view, the requests, the static world), so a policy trained in an
environment sees exactly the same observations when it runs in ``fleetsim run``.

The idleness grid
    Square cells of ``cell_m`` over the mission area's bounding box (the terrain's
    when there is no mission area). At each decision instant every vehicle
    sweeps the straight line from where it was at the previous instant to where it
    is now; the cells within the median sensor footprint of that line are visited
    then. Idleness of a cell is the time since its last visit (since t = 0 if never
    visited). This is a model the learner can see, not the run's metrics (those
    come from the recorded legs: ``fleetsim compare``).

Observation of vehicle ``v`` (float32, :attr:`Features.obs_dim` values)
    ``asking`` (1: it asks for a plan now), battery fraction, fraction above its
    reserve, position (x, y in [0, 1] over the grid), home vector (dx, dy over the
    grid's diagonal), the share of the usable battery a straight flight home takes,
    time fraction, airborne, returning; then the ``patch`` × ``patch`` normalised
    idleness around it (``min(1, idleness / idle_scale_s)``; 0 outside the area);
    then for each of the ``n_candidates`` candidate cells (``step_m`` away, evenly
    spread headings from east, anticlockwise): mean normalised idleness and share
    of never-visited cells in the 3 × 3 cells around it, inside the area, a no-fly
    zone active now on the way, a restricted zone on the way, crowding (vehicles
    whose plans end in those 3 × 3 cells, / 4, at most 1), and the vehicle's sector
    (``cos`` of the angle between the candidate's heading and ``2 pi v / n``: vehicles
    that see the same thing at the same instant can still spread out); then the
    ``n_targets`` nearest known targets (4 values each) and the ``n_orders`` nearest
    open orders (7 values each): :mod:`fleetsim.rl.items`.

Macro-actions (``n_candidates + 2``)
    ``k < n_candidates``: fly to candidate ``k`` (:class:`~fleetsim.policy.GoTo`);
    ``n_candidates`` (hold): a vehicle waiting for a plan hovers ``hold_s``
    (:class:`~fleetsim.policy.Hold`), one asking on a ``periodic`` request keeps its
    plan; ``n_candidates + 1``: return home and recharge; ``n_candidates + 2 + j``:
    take the order in slot ``j`` (``Pickup`` then ``Deliver``; masked when the slot is
    empty or the order is heavier than the vehicle's free payload; an order a
    lower-numbered vehicle takes at the same instant is taken as hold). With
    ``action_mode="waypoint"`` the action is a point instead
    (:meth:`Features.waypoint_plans`). Only vehicles that ask
    for a plan (reasons in :data:`ASKING`) act; the others' mask allows only hold
    (ignored). Candidates off the terrain or inside an active no-fly zone are
    masked; a masked action is taken as hold.

Reward terms (per vehicle, between two decision instants; weights in ``weights``)
    ``coverage``: percentage points of the area's cells visited for the first time;
    ``idleness``: idleness removed from the cells it visited, in percent of
    ``cells × idle_scale_s``; ``detection``: detections; ``delivery``: orders
    delivered; ``energy``: battery used, in full batteries; ``zone``: entries into
    no-fly or restricted zones; ``terrain``: terrain-clearance violations;
    ``workload``: authorisation requests raised for operators. A cell visited by
    several vehicles in one interval is credited to the lowest-numbered one.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from fleetsim.policy import Deliver, GoTo, Hold, Pickup, Plan, Request, ReturnHome
from fleetsim.rl.items import PER_ORDER, PER_TARGET, KnownTargets, order_features

#: Request reasons that ask for a plan (a vehicle asking for another reason keeps
#: flying what it has, and acts only through its mask's hold).
ASKING = frozenset({"start", "idle", "recharged", "periodic", "approval_denied",
                    "approval_timeout"})

#: Default reward weights (see the module notes for the units of each term).
DEFAULT_WEIGHTS: dict[str, float] = {
    "coverage": 1.0, "idleness": 1.0, "detection": 1.0, "delivery": 1.0,
    "energy": -0.1, "zone": -1.0, "terrain": -1.0, "workload": -0.1,
}
REWARD_TERMS = tuple(DEFAULT_WEIGHTS)

#: Observations are clipped to [-OBS_BOUND, OBS_BOUND] (every value is well inside).
OBS_BOUND = 10.0
_OWN = 10  # own-state values at the start of an observation
_PER_CANDIDATE = 7
#: ``discrete``: macro-actions; ``waypoint``: a continuous point per vehicle.
ACTION_MODES = ("discrete", "waypoint")
_LOCKED = ("landing", "queued", "charging", "down")  # no plan accepted (engine.states)
_GROUNDED = frozenset({"ground", "charging", "queued", "down"})


@dataclass(frozen=True)
class Options:
    """Options of the learning interfaces (all keyword arguments of the envs).

    Attributes
    ----------
    n_candidates:
        Candidate cells around each vehicle (the go-to macro-actions).
    step_m:
        Distance of the candidates (None: 4 cells).
    cell_m:
        Side of the idleness grid's cells (None: twice the median sensor footprint
        radius, and at least 1/64 of the area's larger side).
    patch:
        Side, in cells, of the idleness patch in each observation (odd).
    hold_s:
        Duration of the hold macro-action.
    idle_scale_s:
        Idleness that normalises to 1 in observations and rewards.
    decision_period_s:
        Ask every vehicle that can be re-tasked every that many seconds (None: only
        when they are idle).
    weights:
        Reward weights by term (missing terms take :data:`DEFAULT_WEIGHTS`).
    shared_reward:
        Give every vehicle the fleet's total reward (a cooperative team reward).
    state_grid:
        Side of the coarse idleness grid in :meth:`Features.state`.
    n_targets:
        Nearest known (detected) targets in each observation.
    n_orders:
        Nearest open orders in each observation, and as many "take order" macro-actions
        (None: 4 in a scenario with orders or demand, else 0).
    action_mode:
        ``discrete`` (the macro-actions) or ``waypoint`` (a point (x, y) in [0, 1]²
        over the grid per vehicle: :meth:`Features.waypoint_plans`).
    """

    n_candidates: int = 8
    step_m: float | None = None
    cell_m: float | None = None
    patch: int = 3
    hold_s: float = 60.0
    idle_scale_s: float = 1800.0
    decision_period_s: float | None = None
    weights: Mapping[str, float] = field(default_factory=dict)
    shared_reward: bool = False
    state_grid: int = 8
    n_targets: int = 2
    n_orders: int | None = None
    action_mode: str = "discrete"

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> Options:
        """Options from keyword arguments; a clear ``ValueError`` for bad ones."""
        names = [f.name for f in dataclasses.fields(cls)]
        for key in options:
            if key not in names:
                raise ValueError(f"unknown option {key!r} (valid: {', '.join(names)})")
        out = cls(**options)
        if not (isinstance(out.n_candidates, int) and out.n_candidates >= 1):
            raise ValueError(f"option n_candidates: expected an integer >= 1, "
                             f"got {out.n_candidates!r}")
        if not (isinstance(out.patch, int) and out.patch >= 1 and out.patch % 2 == 1):
            raise ValueError(f"option patch: expected an odd integer >= 1, got {out.patch!r}")
        if not (isinstance(out.state_grid, int) and out.state_grid >= 1):
            raise ValueError(f"option state_grid: expected an integer >= 1, "
                             f"got {out.state_grid!r}")
        for name in ("n_targets", "n_orders"):
            value = getattr(out, name)
            if not ((value is None and name == "n_orders")
                    or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)):
                raise ValueError(f"option {name}: expected an integer >= 0"
                                 f"{' or None' if name == 'n_orders' else ''}, got {value!r}")
        if out.action_mode not in ACTION_MODES:
            raise ValueError(f"option action_mode: expected one of {', '.join(ACTION_MODES)}, "
                             f"got {out.action_mode!r}")
        for name in ("step_m", "cell_m", "decision_period_s"):
            value = getattr(out, name)
            if value is not None and not (isinstance(value, (int, float))
                                          and math.isfinite(value) and value > 0):
                raise ValueError(f"option {name}: expected a number > 0 or None, got {value!r}")
        for name in ("hold_s", "idle_scale_s"):
            value = getattr(out, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"option {name}: expected a number > 0, got {value!r}")
        for key, w in dict(out.weights).items():
            if key not in DEFAULT_WEIGHTS:
                raise ValueError(f"option weights: unknown term {key!r} "
                                 f"(valid: {', '.join(REWARD_TERMS)})")
            if not (isinstance(w, (int, float)) and math.isfinite(w)):
                raise ValueError(f"option weights.{key}: expected a finite number, got {w!r}")
        return out

    def weight_vector(self) -> np.ndarray:
        """The weights in the order of :data:`REWARD_TERMS`."""
        w = {**DEFAULT_WEIGHTS, **dict(self.weights)}
        return np.array([float(w[k]) for k in REWARD_TERMS])


def has_orders(scenario: Any) -> bool:
    """The scenario has orders or demand (logistics)."""
    lg = getattr(scenario, "logistics", None)
    return lg is not None and bool(lg.orders or lg.demand)


class Features:
    """The idleness grid, observations, action masks and macro-actions of one run.

    Parameters
    ----------
    world:
        The run's world (terrain, zones, mission area).
    vehicle_types, vehicle_type_index, home_xy, duration_s:
        As in :class:`fleetsim.policy.PolicyContext`.
    options:
        :class:`Options`.
    has_orders:
        The scenario has orders or demand (sets the default of ``n_orders``).
    """

    def __init__(self, world: Any, vehicle_types: Sequence[Any], vehicle_type_index: np.ndarray,
                 home_xy: np.ndarray, duration_s: float, options: Options, *,
                 has_orders: bool = False) -> None:
        self.opt = options
        self.duration_s = float(duration_s)
        self.home_xy = np.asarray(home_xy, dtype=np.float64).reshape(-1, 2)
        n = self.n = len(self.home_xy)
        types = [vehicle_types[i] for i in np.asarray(vehicle_type_index).tolist()]
        self.capacity = np.array([t.battery_wh for t in types], dtype=np.float64).reshape(n)
        self.reserve = np.array([t.battery_wh * t.reserve_fraction for t in types],
                                dtype=np.float64).reshape(n)
        self.speed = np.array([t.cruise_speed_mps for t in types], dtype=np.float64).reshape(n)
        self.payload = np.array([float(getattr(t, "payload_kg", 0.0)) for t in types],
                                dtype=np.float64).reshape(n)
        self.p_cruise = np.array([t.cruise_power_w / 3600.0 for t in types],
                                 dtype=np.float64).reshape(n)
        radius = np.array([t.sensor.footprint_radius_m for t in types], dtype=np.float64)
        area = world.mission_area
        if area is None or area.is_empty:
            area = shapely.box(*world.terrain.bounds)
        xmin, ymin, xmax, ymax = area.bounds
        r = float(np.median(radius)) if n else 50.0
        cell = options.cell_m or max(2.0 * r, max(xmax - xmin, ymax - ymin) / 64.0)
        self.cell = float(cell)
        self.origin = np.array([xmin, ymin])
        self.nx = max(1, math.ceil((xmax - xmin) / cell))
        self.ny = max(1, math.ceil((ymax - ymin) / cell))
        self.diag = math.hypot(self.nx * cell, self.ny * cell)
        cx = xmin + (np.arange(self.nx) + 0.5) * cell
        cy = ymin + (np.arange(self.ny) + 0.5) * cell
        gx, gy = np.meshgrid(cx, cy)  # (ny, nx)
        self.in_area = shapely.contains_xy(area, gx, gy).reshape(-1)
        if not self.in_area.any():
            self.in_area[:] = True
        self.n_area = int(self.in_area.sum())
        k = max(0, int(r // cell))
        self.disk = np.array([(dx, dy) for dx in range(-k, k + 1) for dy in range(-k, k + 1)
                              if (dx * dx + dy * dy) * cell * cell <= r * r] or [(0, 0)])
        self.step_m = float(options.step_m or 4.0 * cell)
        K = options.n_candidates
        ang = 2.0 * np.pi * np.arange(K) / K
        self.dirs = np.column_stack([np.cos(ang), np.sin(ang)])
        self.n_targets = options.n_targets
        self.n_orders = (options.n_orders if options.n_orders is not None
                         else (4 if has_orders else 0))
        self.waypoint = options.action_mode == "waypoint"
        self.n_actions = K + 2 + self.n_orders
        self.HOLD, self.HOME, self.ORDER0 = K, K + 1, K + 2
        self.c_targets = _OWN + options.patch ** 2 + _PER_CANDIDATE * K
        self.c_orders = self.c_targets + PER_TARGET * self.n_targets
        self.obs_dim = self.c_orders + PER_ORDER * self.n_orders
        self.known = KnownTargets(world)
        self.bounds = tuple(float(b) for b in world.terrain.bounds)
        self.zones = [(z.polygon, z.kind, z.start_s, z.end_s) for z in world.zones]
        self._zone_cache: dict[tuple, tuple[Any, Any]] = {}
        self.reset()

    def reset(self) -> None:
        """Back to t = 0: nothing visited, vehicles at home."""
        self.last_visit = np.zeros(self.nx * self.ny)
        self.visited = np.zeros(self.nx * self.ny, dtype=bool)
        self.prev_xy = self.home_xy.copy()
        self.candidates = np.zeros((self.n, self.opt.n_candidates, 2))
        self.asking = np.zeros(self.n, dtype=bool)
        self.periodic_only = np.zeros(self.n, dtype=bool)
        self.order_slots = np.full((self.n, self.n_orders), -1, dtype=np.int64)
        self.known.reset()
        self.now = 0.0

    # ------------------------------------------------------------------ grid
    def _cells(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ij = np.floor((xy - self.origin) / self.cell).astype(np.int64)
        ok = (ij[:, 0] >= 0) & (ij[:, 0] < self.nx) & (ij[:, 1] >= 0) & (ij[:, 1] < self.ny)
        return ij[:, 0], ij[:, 1], ok

    def sweep(self, now: float, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Visit the cells along each vehicle's line from its previous position to
        ``xy`` ((n, 2)) at ``now``; returns (new cells, idleness removed in seconds)
        per vehicle."""
        n = self.n
        xy = np.asarray(xy, dtype=np.float64).reshape(n, 2)
        a = self.prev_xy
        d = np.hypot(*(xy - a).T)
        m = np.minimum(np.ceil(d / (0.5 * self.cell)).astype(np.int64) + 1, 4096)
        veh = np.repeat(np.arange(n), m)
        start = np.cumsum(m) - m
        k = np.arange(len(veh)) - start[veh]
        frac = k / np.maximum(m - 1, 1)[veh]
        pts = a[veh] + frac[:, None] * (xy - a)[veh]
        ix, iy, _ = self._cells(pts)
        ix = (ix[:, None] + self.disk[None, :, 0]).reshape(-1)
        iy = (iy[:, None] + self.disk[None, :, 1]).reshape(-1)
        veh = np.repeat(veh, len(self.disk))
        ok = (ix >= 0) & (ix < self.nx) & (iy >= 0) & (iy < self.ny)
        cells = iy[ok] * self.nx + ix[ok]
        veh = veh[ok]
        keep = self.in_area[cells]
        cells, veh = cells[keep], veh[keep]
        cells, first = np.unique(cells, return_index=True)  # lowest vehicle first
        veh = veh[first]
        gain = now - self.last_visit[cells]
        new = ~self.visited[cells]
        self.last_visit[cells] = now
        self.visited[cells] = True
        self.prev_xy = xy.copy()
        self.now = float(now)
        return (np.bincount(veh, weights=new.astype(np.float64), minlength=n),
                np.bincount(veh, weights=gain, minlength=n))

    def idle_norm(self) -> np.ndarray:
        """(ny * nx,) normalised idleness (0 outside the area)."""
        v = np.clip((self.now - self.last_visit) / self.opt.idle_scale_s, 0.0, 1.0)
        return np.where(self.in_area, v, 0.0)

    def _zone_geoms(self, now: float) -> tuple[Any, Any]:
        key = tuple(s <= now < e for _, _, s, e in self.zones)
        got = self._zone_cache.get(key)
        if got is None:
            nofly = [p for (p, kind, _, _), on in zip(self.zones, key, strict=True)
                     if on and kind == "no_fly"]
            restr = [p for (p, kind, _, _), on in zip(self.zones, key, strict=True)
                     if on and kind != "no_fly"]
            got = (shapely.union_all(nofly) if nofly else None,
                   shapely.union_all(restr) if restr else None)
            for g in got:
                if g is not None:
                    shapely.prepare(g)
            self._zone_cache[key] = got
        return got

    # ------------------------------------------------------------------ observations
    def observe(self, now: float, fleet: Any, requests: Sequence[Request]
                ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """Sweep to ``now`` and observe: ((n, obs_dim) float32 observations,
        (n, n_actions) int8 action masks, (new cells, idleness removed) per vehicle)."""
        n, K, opt = self.n, self.opt.n_candidates, self.opt
        pos = np.asarray(fleet.positions(), dtype=np.float64).reshape(n, 3)
        xy = pos[:, :2]
        gains = self.sweep(now, xy)
        battery = np.asarray(fleet.battery_wh(), dtype=np.float64).reshape(n)
        states = np.asarray(fleet.states()).reshape(n)
        # A periodic request made earlier at this instant can find its vehicle landing
        # by the time it is answered: a vehicle that cannot take a plan does not ask.
        locked = np.isin(states, list(_LOCKED))
        self.asking = np.zeros(n, dtype=bool)
        reasons: dict[int, set[str]] = {}
        for r in requests:
            if r.vehicle >= 0 and r.reason in ASKING and not locked[r.vehicle]:
                self.asking[r.vehicle] = True
                reasons.setdefault(r.vehicle, set()).add(r.reason)
        self.periodic_only = np.zeros(n, dtype=bool)
        for v, rs in reasons.items():
            self.periodic_only[v] = rs == {"periodic"}
        idle = self.idle_norm()
        grid = idle.reshape(self.ny, self.nx)
        obs = np.zeros((n, self.obs_dim), dtype=np.float32)
        span = np.array([self.nx * self.cell, self.ny * self.cell])
        home = self.home_xy - xy
        dist_home = np.hypot(*home.T)
        usable = np.maximum(battery - self.reserve, 1e-9)
        obs[:, 0] = self.asking
        obs[:, 1] = battery / self.capacity
        obs[:, 2] = (battery - self.reserve) / self.capacity
        obs[:, 3:5] = np.clip((xy - self.origin) / span, -1.0, 2.0)
        obs[:, 5:7] = home / self.diag
        obs[:, 7] = np.clip(dist_home / self.speed * self.p_cruise / usable, 0.0, 2.0)
        obs[:, 8] = now / self.duration_s if self.duration_s > 0 else 0.0
        obs[:, 9] = [s not in _GROUNDED for s in states.tolist()]
        # Patch around each vehicle.
        p = opt.patch
        h = p // 2
        pad = np.pad(grid, h + 1)
        ix, iy, _ = self._cells(xy)
        ix = np.clip(ix, -1, self.nx) + h + 1  # off the grid: its nearest border, padded
        iy = np.clip(iy, -1, self.ny) + h + 1
        off = np.arange(-h, h + 1)
        obs[:, _OWN:_OWN + p * p] = pad[(iy[:, None, None] + off[None, :, None]),
                                        (ix[:, None, None] + off[None, None, :])].reshape(n, -1)
        # Candidates.
        cand = xy[:, None, :] + self.step_m * self.dirs[None, :, :]  # (n, K, 2)
        self.candidates = cand
        flat = cand.reshape(-1, 2)
        cx, cy, _ = self._cells(flat)
        unvisited = np.where(self.in_area, ~self.visited, False).reshape(self.ny, self.nx)
        ends = np.asarray(fleet.plan_end()[0], dtype=np.float64).reshape(n, 2)
        ex, ey, eok = self._cells(ends)
        crowd = np.bincount(ey[eok] * self.nx + ex[eok], minlength=self.nx * self.ny
                            ).reshape(self.ny, self.nx).astype(np.float64)
        pads = [np.pad(g, 2) for g in (grid, unvisited.astype(np.float64), crowd,
                                       self.in_area.reshape(self.ny, self.nx).astype(np.float64))]
        qx = np.clip(cx, -1, self.nx) + 2
        qy = np.clip(cy, -1, self.ny) + 2
        o3 = np.arange(-1, 2)
        rows = qy[:, None, None] + o3[None, :, None]
        cols = qx[:, None, None] + o3[None, None, :]
        area_n = pads[3][rows, cols].reshape(len(flat), -1).sum(axis=1)
        mean_idle = pads[0][rows, cols].reshape(len(flat), -1).sum(axis=1) / np.maximum(area_n, 1)
        share_new = pads[1][rows, cols].reshape(len(flat), -1).sum(axis=1) / np.maximum(area_n, 1)
        crowd_c = np.minimum(pads[2][rows, cols].reshape(len(flat), -1).sum(axis=1) / 4.0, 1.0)
        in_area = pads[3][qy, qx]
        nofly, restr = self._zone_geoms(now)
        fr = np.array([0.25, 0.5, 0.75, 1.0])
        way = xy[:, None, None, :] + fr[None, None, :, None] * (cand - xy[:, None, :])[:, :, None, :]
        way = way.reshape(-1, 2)
        flags = []
        for g in (nofly, restr):
            if g is None:
                flags.append(np.zeros(len(flat)))
            else:
                flags.append(shapely.contains_xy(g, way[:, 0], way[:, 1])
                             .reshape(len(flat), len(fr)).any(axis=1).astype(np.float64))
        self.known.note(now, requests)
        c0 = _OWN + p * p
        sector = np.cos(2.0 * np.pi * (np.arange(K)[None, :] / K
                                       - np.arange(n)[:, None] / max(n, 1))).reshape(-1)
        per = np.column_stack([mean_idle, share_new, in_area, flags[0], flags[1], crowd_c,
                               sector])
        obs[:, c0:self.c_targets] = per.reshape(n, K * _PER_CANDIDATE)
        obs[:, self.c_targets:self.c_orders] = self.known.features(
            now, xy, self.n_targets, self.diag, opt.idle_scale_s)
        o_feat, self.order_slots, fits = order_features(
            now, fleet, xy, self.payload, self.n_orders, self.diag, opt.idle_scale_s)
        obs[:, self.c_orders:] = o_feat
        np.clip(obs, -OBS_BOUND, OBS_BOUND, out=obs)
        # Masks.
        mask = np.zeros((n, self.n_actions), dtype=np.int8)
        mask[:, self.HOLD] = 1
        bx0, by0, bx1, by1 = self.bounds
        ok = ((flat[:, 0] >= bx0) & (flat[:, 0] <= bx1) & (flat[:, 1] >= by0)
              & (flat[:, 1] <= by1)).reshape(n, K)
        if nofly is not None:
            ok &= ~shapely.contains_xy(nofly, flat[:, 0], flat[:, 1]).reshape(n, K)
        ask = self.asking
        mask[ask, :K] = ok[ask]
        mask[ask, self.HOME] = 1
        mask[ask, self.ORDER0:] = fits[ask]
        return obs, mask, gains

    def state(self) -> np.ndarray:
        """A fixed-size global state: the idleness grid averaged into ``state_grid`` ×
        ``state_grid`` blocks, then (x, y, asking) of every vehicle (float32)."""
        g = self.opt.state_grid
        grid = self.idle_norm().reshape(self.ny, self.nx)
        rows = np.minimum(np.arange(self.ny) * g // self.ny, g - 1)
        cols = np.minimum(np.arange(self.nx) * g // self.nx, g - 1)
        sums = np.zeros((g, g))
        np.add.at(sums, (rows[:, None], cols[None, :]), grid)
        counts = np.zeros((g, g))
        np.add.at(counts, (rows[:, None], cols[None, :]), 1.0)
        span = np.array([self.nx * self.cell, self.ny * self.cell])
        veh = np.column_stack([(self.prev_xy - self.origin) / span, self.asking])
        return np.concatenate([(sums / np.maximum(counts, 1)).reshape(-1),
                               veh.reshape(-1)]).astype(np.float32)

    @property
    def state_dim(self) -> int:
        return self.opt.state_grid ** 2 + 3 * self.n

    # ------------------------------------------------------------------ actions
    def plans(self, actions: np.ndarray, mask: np.ndarray | None = None) -> list[Plan]:
        """The plans of macro-actions ``actions`` ((n,) int; ``(n, 2)`` waypoints in
        ``waypoint`` mode, see :meth:`waypoint_plans`) for the vehicles that ask; an
        action ``mask`` ((n, n_actions)) forbids is taken as hold, one out of range
        raises ``ValueError``. An order taken by a lower-numbered vehicle at the same
        instant is taken as hold too."""
        if self.waypoint:
            return self.waypoint_plans(actions)
        actions = np.asarray(actions).reshape(-1)
        if len(actions) != self.n:
            raise ValueError(f"expected {self.n} actions (one per vehicle), got {len(actions)}")
        out = []
        K = self.opt.n_candidates
        taken: set[int] = set()
        for v in np.flatnonzero(self.asking).tolist():
            a = int(actions[v])
            if not 0 <= a < self.n_actions:
                raise ValueError(f"vehicle {v}: action {a} out of range 0..{self.n_actions - 1}")
            if mask is not None and not mask[v, a]:
                a = self.HOLD
            if a >= self.ORDER0:
                k = int(self.order_slots[v, a - self.ORDER0])
                if k < 0 or k in taken:
                    a = self.HOLD
                else:
                    taken.add(k)
                    out.append(Plan(v, [Pickup(k), Deliver(k)]))
                    continue
            if a < K:
                x, y = self.candidates[v, a]
                out.append(Plan(v, [GoTo(float(x), float(y))]))
            elif a == self.HOLD:
                if not self.periodic_only[v]:
                    out.append(Plan(v, [Hold(self.opt.hold_s)]))
            else:
                out.append(Plan(v, [ReturnHome()]))
        return out

    def waypoint_plans(self, points: np.ndarray) -> list[Plan]:
        """The plans of waypoints ``points`` ((n, 2): x, y in [0, 1] over the grid,
        clipped there) for the vehicles that ask: a :class:`~fleetsim.policy.GoTo`
        there (the engine routes it around no-fly zones and over the terrain as
        any other). A point off the terrain or inside a no-fly zone active now, or a
        row with a NaN, is taken as hold (as a masked macro-action is)."""
        pts = np.asarray(points, dtype=np.float64)
        if pts.shape != (self.n, 2):
            raise ValueError(f"expected waypoints of shape ({self.n}, 2) (x, y in [0, 1] per "
                             f"vehicle), got {pts.shape}")
        ask = np.flatnonzero(self.asking)
        span = np.array([self.nx * self.cell, self.ny * self.cell])
        xy = self.origin + np.clip(pts[ask], 0.0, 1.0) * span
        bx0, by0, bx1, by1 = self.bounds
        ok = (np.isfinite(pts[ask]).all(axis=1) & (xy[:, 0] >= bx0) & (xy[:, 0] <= bx1)
              & (xy[:, 1] >= by0) & (xy[:, 1] <= by1))
        nofly, _ = self._zone_geoms(self.now)
        if nofly is not None and len(ask):
            ok &= ~shapely.contains_xy(nofly, np.nan_to_num(xy[:, 0]), np.nan_to_num(xy[:, 1]))
        out = []
        for v, good, (x, y) in zip(ask.tolist(), ok.tolist(), xy.tolist(), strict=True):
            if good:
                out.append(Plan(v, [GoTo(float(x), float(y))]))
            elif not self.periodic_only[v]:
                out.append(Plan(v, [Hold(self.opt.hold_s)]))
        return out

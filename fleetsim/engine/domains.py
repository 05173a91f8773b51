"""Vehicle domains: how a kind of vehicle departs, travels, holds and goes home.

Each vehicle has one domain object (``Simulation.domains[v]``; one instance per
class is shared by all its vehicles). The vehicle process and the actions call
only these four verbs (and a few questions: does it fly, how it budgets the way
home); the domain moves the vehicle with the engine's leg primitives
(:meth:`~fleetsim.engine.movement.Movement.fly`, ``fly_route``, ``hover``,
``open_leg``/``close_leg``) and the motion model. A new kind of vehicle is a new
class here and one line in :func:`domain_of`.

- :class:`Multirotor`: takes off vertically, flies straight legs (around no-fly
  zones) at cruise altitude, hovers, flies home and lands on a pad.
- :class:`FixedWing`: loiters instead of hovering, turns at its minimum radius
  (from its bank-angle limit, default 30 degrees), climbs out and approaches.
- :class:`Network`: ground and sea vehicles, on their road or water network; they
  wait parked and go home along the network.
- :class:`Carried`: a multirotor that rides on a carrier (the mothership pattern):
  it launches from the carrier, flies back to where the carrier will be, lands on
  it and recharges there; its legs while docked mirror its carrier's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import numpy as np
from simpy.exceptions import Interrupt

from fleetsim.engine.states import CHARGING, GROUND, HOLDING, LANDING, MOVING, TAKEOFF
from fleetsim.engine.tables import (
    K_DOCKED,
    K_HOLD,
    K_LAND,
    K_MOVE,
    K_RETURN,
    K_TAKEOFF,
    L_B,
    L_E,
    L_T1,
)

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.engine.api import EngineAPI

_INF = float("inf")

#: What ``go_home`` returns once the vehicle has recharged by itself (on its carrier).
RECHARGED = "recharged"


class Domain:
    """How vehicles of one kind move. Subclasses implement the four verbs.

    Parameters
    ----------
    eng:
        The engine (its public interface, :class:`fleetsim.engine.api.EngineAPI`).
    """

    #: Does it fly (airborne counts, take-off gates, in-leg sensing and links)?
    air = True
    #: Estimated way along its paths, as a factor on the straight line (end estimates).
    estimate_detour = 1.0
    #: Does it land to be loaded at a depot (and take off again)?
    lands_to_load = True

    def __init__(self, eng: EngineAPI) -> None:
        self.eng = eng

    def depart(self, v: int) -> Generator[Any, Any, None]:
        """Get under way from standing (take off)."""
        raise NotImplementedError

    def travel(self, v: int, x: float, y: float, sensing: bool = False
               ) -> Generator[Any, Any, str | None]:
        """Go to (x, y); None once there, else why not (``no_route``, ``unreachable``)."""
        raise NotImplementedError

    def hold(self, v: int, duration_s: float, kind: int = K_HOLD) -> Generator[Any, Any, None]:
        """Wait where it is for ``duration_s`` (at a customer, say), ready to go on."""
        raise NotImplementedError

    def go_home(self, v: int) -> Generator[Any, Any, str | None]:
        """Get home and down; None once at its base (the engine queues it for a pad
        and recharges it), :data:`RECHARGED` if it recharged on the way (carried),
        else why not (it then parks where it is)."""
        raise NotImplementedError

    def reserve_detour(self) -> Callable[[int, float, float, float], float] | None:
        """``detour(v, x, y, straight)``: how much longer than the straight line its
        way home is, for the reserve; None when it is the straight line."""
        return None

    def detour_box(self, v: int) -> tuple[float, float, float, float] | None:
        """Where vehicle ``v``'s :meth:`reserve_detour` is surely 1 (see
        :meth:`fleetsim.engine.motion.MotionModel.reserve_checker`); None if nowhere."""
        return None

    def unreachable(self, x: float, y: float) -> bool:
        """Can it not get to (x, y) at all (a no-fly zone)?"""
        return False

    def arrive_to_load(self, v: int, x: float, y: float) -> Generator[Any, Any, None]:
        """At a depot at (x, y): get down to be loaded."""
        return
        yield

    def home_start(self, v: int) -> tuple[int, float, float, float]:
        """Its base (index, x, y, ground z); logs the start of the way home."""
        eng = self.eng
        b = eng.base_index[v]
        hx, hy = eng.world.sites[b].xy
        eng.log.add(eng.env.now, "return_start", v,
                    value=math.hypot(hx - eng.px[v], hy - eng.py[v]))
        return b, hx, hy, eng.home_z[v]


class Multirotor(Domain):
    """Vertical take-off and landing; hovers; straight legs at cruise altitude."""

    def depart(self, v: int) -> Generator[Any, Any, None]:
        eng = self.eng
        eng.airborne += 1
        eng.state[v] = TAKEOFF
        eng.log.add(eng.env.now, "takeoff", v, x=eng.px[v], y=eng.py[v], z=eng.pz[v])
        z1 = eng.pz[v] + eng.agl[v]
        dur = eng.motion.climb_time(v, eng.agl[v])
        eng.open_leg(v, K_TAKEOFF, False, dur, eng.px[v], eng.py[v], z1, eng.p_hover[v])
        yield eng.env.timeout(dur)
        eng.close_leg(v)
        eng.state[v] = MOVING

    def start_xy(self, v: int) -> tuple[float, float]:
        """Where a trip of vehicle ``v`` starts from now."""
        eng = self.eng
        return eng.px[v], eng.py[v]

    def travel(self, v: int, x: float, y: float, sensing: bool = False
               ) -> Generator[Any, Any, str | None]:
        """Fly (around no-fly zones) at cruise altitude over the terrain."""
        eng = self.eng
        start = self.start_xy(v)
        if eng.state[v] == GROUND and not eng.docked[v] and \
                math.hypot(x - start[0], y - start[1]) < 1e-6:
            return None  # already there, on the ground (a docked one takes off all the same)
        pts = [(x, y)]
        nf = eng.no_fly
        if nf is not None:
            if nf.inside(x, y):
                return "unreachable"
            if nf.crosses(start, (x, y)):
                try:
                    pts = [tuple(p) for p in nf.route(start, (x, y))[1:].tolist()]
                except ValueError:
                    pass  # it is inside a zone: straight out
        if eng.state[v] == GROUND:
            yield from self.depart(v)
        eng.state[v] = MOVING
        xs = [p[0] for p in pts]
        ys = [p[1] for p in pts]
        zs = (eng.world.terrain.height_at(np.asarray(xs), np.asarray(ys)) + eng.agl[v]).tolist()
        yield from eng.fly_route(v, xs, ys, zs, sensing)
        return None

    def hold(self, v: int, duration_s: float, kind: int = K_HOLD) -> Generator[Any, Any, None]:
        self.eng.state[v] = HOLDING
        yield from self.eng.hover(v, duration_s, kind)

    def go_home(self, v: int) -> Generator[Any, Any, str | None]:
        """Climb to a transit altitude clear of the terrain, fly home around the
        no-fly zones, land on the base."""
        eng = self.eng
        _, hx, hy, hz = self.home_start(v)
        path, transit_z = self.return_path(v, hx, hy, hz)
        if transit_z > eng.pz[v] + 1e-9:  # climb to a safe transit altitude first
            yield from eng.fly(v, K_RETURN, False, eng.px[v], eng.py[v], transit_z,
                               eng.p_hover[v], eng.speed[v])
        for x, y in path:
            yield from eng.fly(v, K_RETURN, False, x, y, transit_z, eng.p_cruise[v],
                               eng.speed[v])
        eng.engine_control[v] = True
        eng.state[v] = LANDING
        yield from eng.fly(v, K_LAND, False, hx, hy, hz, eng.p_hover[v], eng.speed[v])
        eng.log.add(eng.env.now, "landed", v, x=hx, y=hy, z=hz)
        eng.airborne -= 1
        return None

    def return_path(self, v: int, hx: float, hy: float, hz: float
                    ) -> tuple[list[tuple[float, float]], float]:
        """Waypoints home around the no-fly zones, and a transit altitude that clears
        the terrain under them by the cruise altitude (sampled at the grid spacing)."""
        eng = self.eng
        start = (eng.px[v], eng.py[v])
        pts = np.array([start, (hx, hy)])
        nf = eng.no_fly
        if nf is not None and nf.crosses(start, (hx, hy)):
            try:
                pts = nf.route(start, (hx, hy))
            except ValueError:  # inside a zone already: straight home is the way out
                pass
        terrain = eng.world.terrain
        if len(pts) == 2:  # the common case, kept lean
            seg = math.hypot(hx - start[0], hy - start[1])
            ground = terrain.max_along(start[0], start[1], hx, hy,
                                       max(2, math.ceil(seg / terrain.spacing_m) + 1))
        else:
            seg = np.hypot(*np.diff(pts, axis=0).T)
            n = np.maximum(2, np.ceil(seg / terrain.spacing_m).astype(int) + 1)
            samples = np.concatenate([np.linspace(a, b, k) for a, b, k in
                                      zip(pts[:-1], pts[1:], n.tolist(), strict=True)])
            ground = float(np.max(terrain.height_at(samples[:, 0], samples[:, 1])))
        transit_z = max(eng.pz[v], hz + eng.agl[v], ground + eng.agl[v])
        return [tuple(p) for p in pts[1:].tolist()], transit_z

    def reserve_detour(self) -> Callable[[int, float, float, float], float] | None:
        nf = self.eng.no_fly
        return None if nf is None else nf.detour

    def detour_box(self, v: int) -> tuple[float, float, float, float] | None:
        nf = self.eng.no_fly
        return None if nf is None else nf.clear_box(v)

    def unreachable(self, x: float, y: float) -> bool:
        nf = self.eng.no_fly
        return nf is not None and nf.inside(x, y)

    def arrive_to_load(self, v: int, x: float, y: float) -> Generator[Any, Any, None]:
        """Land at the depot."""
        eng = self.eng
        if eng.state[v] != GROUND:
            eng.state[v] = LANDING
            ground = float(eng.world.terrain.height_at(x, y))
            yield from eng.fly(v, K_LAND, False, x, y, ground, eng.p_hover[v], eng.speed[v])
            eng.log.add(eng.env.now, "landed", v, x=x, y=y, z=ground)
            eng.airborne -= 1
            eng.landed_at[v] = eng.env.now
            eng.state[v] = GROUND


class FixedWing(Multirotor):
    """A fixed-wing aircraft.

    It cannot hover: holds and waits are loiter orbits at cruise power of radius
    ``R = v**2 / (g tan(bank))`` (:meth:`loiter`; ``bank_angle_deg``, default 30
    degrees; the engine's ``orbit_r[v] > 0``), its routes' turns take ``R / v``
    per radian (the motion model adds them at waypoints), it climbs out in an orbit
    over its base and lands along an approach leg. (An
    engine built with ``orbit_r[v] == 0`` flies it as a multirotor.)
    """

    #: Chords an orbit is flown as (each in the time of its arc: the period is exact).
    ORBIT_CHORDS = 8

    def depart(self, v: int) -> Generator[Any, Any, None]:
        """Climb out in an orbit over the launch point (radius R, centred east of it) at
        the climb rate and cruise power, up to the cruise altitude.

        The orbit is recorded as one ``takeoff`` leg straight up, its time and energy
        the climb's, and a ``loiter`` event (x, y: the orbit's centre; value: R): the
        vehicle is taken to end the climb over the launch point (it is somewhere on the
        circle, at most 2R away), so that its route starts where its policy planned it
        from (routes planned to follow the terrain stay clear of it)."""
        eng = self.eng
        if not eng.orbit_r[v]:
            yield from super().depart(v)
            return
        eng.airborne += 1
        eng.state[v] = TAKEOFF
        x, y, z = eng.px[v], eng.py[v], eng.pz[v]
        eng.log.add(eng.env.now, "takeoff", v, x=x, y=y, z=z)
        eng.log.add(eng.env.now, "loiter", v, x=x + eng.orbit_r[v], y=y, z=z + eng.agl[v],
                    value=eng.orbit_r[v])
        dur = eng.motion.climb_time(v, eng.agl[v])
        eng.open_leg(v, K_TAKEOFF, False, dur, x, y, z + eng.agl[v], eng.p_cruise[v])
        yield eng.env.timeout(dur)
        eng.close_leg(v)
        eng.state[v] = MOVING

    def loiter(self, v: int, duration: float | None, kind: int = K_HOLD
               ) -> Generator[Any, Any, None]:
        """Orbit for ``duration`` (None: until interrupted or the reserve) at cruise
        power: a circle of radius R through where it is, centred east of it, flown
        clockwise as :attr:`ORBIT_CHORDS` chords, each in its arc's time ``2 pi R /
        (n v)`` (the period is ``2 pi R / v``). Logs ``loiter`` (x, y: the centre;
        value: R)."""
        eng = self.eng
        r, spd = eng.orbit_r[v], eng.speed[v]
        x0, y0, z = eng.px[v], eng.py[v], eng.pz[v]
        cx, cy = x0 + r, y0
        eng.log.add(eng.env.now, "loiter", v, x=cx, y=cy, z=z, value=r)
        n = self.ORBIT_CHORDS
        step = 2.0 * math.pi / n
        arc_t = r * step / spd
        air = spd * (2.0 * math.sin(step / 2.0)) / step  # chord in its arc's time
        xs = [cx + r * math.cos(math.pi - step * k) for k in range(1, n + 1)]
        ys = [cy + r * math.sin(math.pi - step * k) for k in range(1, n + 1)]
        xs[-1], ys[-1] = x0, y0
        left = _INF if duration is None else duration
        k = 0  # chords flown, modulo n
        while left > 0.0:
            m = n - k if left == _INF else min(n - k, int(left / arc_t))
            if m == 0:  # the last part of a chord
                f = left / arc_t
                px, py = eng.px[v], eng.py[v]
                x1, y1 = px + f * (xs[k] - px), py + f * (ys[k] - py)
                yield from eng.fly_route(v, [x1], [y1], [z], eng.is_air[v],
                                         [air * f * arc_t / left], kind)
                return
            yield from eng.fly_route(v, xs[k:k + m], ys[k:k + m], [z] * m, eng.is_air[v],
                                     [air] * m, kind)
            left -= m * arc_t
            k = (k + m) % n

    def go_home(self, v: int) -> Generator[Any, Any, str | None]:
        """Fly home around the no-fly zones and land along an approach leg: a descent
        at the climb rate while flying on at cruise, ending at the base."""
        eng = self.eng
        if not eng.orbit_r[v]:
            return (yield from super().go_home(v))
        _, hx, hy, hz = self.home_start(v)
        path, transit_z = self.return_path(v, hx, hy, hz)
        if transit_z > eng.pz[v] + 1e-9:
            yield from eng.fly(v, K_RETURN, False, eng.px[v], eng.py[v], transit_z,
                               eng.p_cruise[v], eng.speed[v])
        for x, y in path[:-1]:
            yield from eng.fly(v, K_RETURN, False, x, y, transit_z, eng.p_cruise[v],
                               eng.speed[v])
        approach = eng.speed[v] * (transit_z - hz) / eng.climb[v]
        d = math.hypot(hx - eng.px[v], hy - eng.py[v])
        if d > approach:
            f = (d - approach) / d
            yield from eng.fly(v, K_RETURN, False, eng.px[v] + f * (hx - eng.px[v]),
                               eng.py[v] + f * (hy - eng.py[v]), transit_z, eng.p_cruise[v],
                               eng.speed[v])
        eng.engine_control[v] = True
        eng.state[v] = LANDING
        yield from eng.fly(v, K_LAND, False, hx, hy, hz, eng.p_cruise[v], eng.speed[v])
        eng.log.add(eng.env.now, "landed", v, x=hx, y=hy, z=hz)
        eng.airborne -= 1
        return None


class Carried(Multirotor):
    """A multirotor riding on a carrier vehicle: launches from it, lands back on it
    wherever it has got to, and recharges there."""

    def start_xy(self, v: int) -> tuple[float, float]:
        eng = self.eng
        if eng.docked[v]:
            return eng.position_at(eng.carrier_of[v], eng.env.now)[:2]
        return eng.px[v], eng.py[v]

    def depart(self, v: int) -> Generator[Any, Any, None]:
        if self.eng.docked[v]:
            self.launch(v)
        yield from super().depart(v)

    def launch(self, v: int) -> None:
        """Leave the carrier, from where the carrier is now."""
        eng = self.eng
        now = eng.env.now
        c = eng.carrier_of[v]
        self.mirror(v, now)
        eng.docked[v] = False
        x, y, z = eng.position_at(c, now)
        eng.px[v], eng.py[v], eng.pz[v] = x, y, z
        eng.home_xy[v] = (x, y)
        eng.home_now[v] = (x, y)
        eng.home_z[v] = z
        eng.log.add(now, "launch", v, x=x, y=y, z=z, value=c)

    def dock(self, v: int) -> None:
        eng = self.eng
        c = eng.carrier_of[v]
        now = eng.env.now
        eng.docked[v] = True
        eng.dock_t[v] = now
        eng.log.add(now, "dock", v, x=eng.px[v], y=eng.py[v], z=eng.pz[v], value=c)
        # A placeholder until the carrier's legs over the docked time are copied.
        eng.open_leg(v, K_DOCKED, False, _INF, eng.px[v], eng.py[v], eng.pz[v], 0.0)

    def mirror(self, v: int, t1: float) -> None:
        """Record docked vehicle ``v``'s legs from when it docked until ``t1``: its
        carrier's legs over that time, clipped (the placeholder leg is dropped)."""
        eng = self.eng
        c = eng.carrier_of[v]
        t0 = eng.dock_t[v]
        a = eng.legs.a
        for li in eng.blk_ids[v]:
            a[li, L_T1] = -_INF  # the placeholder: never flown as such
            a[li, L_E] = 0.0
        hist = eng.leg_hist[c]
        ids = np.asarray(hist, dtype=np.int64)
        rows = a[ids] if len(ids) else np.zeros((0, a.shape[1]))
        live = (rows[:, L_T1] >= rows[:, 3]) & (rows[:, L_T1] > t0) & (rows[:, 3] < t1)
        rows = rows[live].copy()
        if not len(rows) or rows[0, 3] > t0:  # not yet moved since: one leg where it is
            x, y, z = eng.position_at(c, t0)
            first = np.array([[v, K_DOCKED, 0, t0, t0 if not len(rows) else rows[0, 3],
                               x, y, z, x, y, z, 0.0, 0.0]], dtype=np.float64)
            if not len(rows):
                first[0, 4] = t1
            rows = np.vstack([first, rows]) if len(rows) else first
        # Clip the first and last legs to [t0, t1] (positions interpolated).
        for j, (lo, hi) in ((0, (t0, None)), (len(rows) - 1, (None, t1))):
            r = rows[j]
            a0, a1 = r[3], r[4]
            p0, p1 = r[5:8].copy(), r[8:11].copy()
            span = a1 - a0 if math.isfinite(a1) else 0.0
            if lo is not None and lo > a0:
                f = (lo - a0) / span if span > 0 else 0.0
                r[5:8] = p0 + f * (p1 - p0)
                r[3] = lo
            if hi is not None and (hi < a1 or not math.isfinite(a1)):
                f = (hi - a0) / span if span > 0 else 0.0
                r[8:11] = p0 + f * (p1 - p0)
                r[4] = hi
        rows[:, 0] = v
        rows[:, 1] = K_DOCKED
        rows[:, 2] = 0.0
        rows[:, L_E] = 0.0
        rows[:, L_B] = eng.battery[v]
        rows = rows[rows[:, 4] >= rows[:, 3]]
        li0 = eng.legs.extend(rows)
        eng.blk_t0[v] = rows[:, 3].tolist()
        eng.blk_ids[v] = list(range(li0, li0 + len(rows)))
        eng.cur_leg[v] = li0 + len(rows) - 1
        eng.px[v], eng.py[v], eng.pz[v] = (float(q) for q in rows[-1, 8:11])

    def meet(self, v: int, c: int, duration: Callable[[float], float]
             ) -> tuple[float, float, float]:
        """Where carrier ``c`` will be when vehicle ``v`` gets there, if flying a
        distance d takes ``duration(d)`` (fixed point of the carrier's planned legs;
        exact once the carrier has stopped)."""
        eng = self.eng
        now = eng.env.now
        x, y, z = eng.position_at(c, now)
        for _ in range(8):
            t = now + duration(math.hypot(x - eng.px[v], y - eng.py[v]))
            nx_, ny_, z = eng.position_at(c, t)
            if math.hypot(nx_ - x, ny_ - y) < 1e-6:
                break
            x, y = nx_, ny_
        return x, y, z

    def go_home(self, v: int) -> Generator[Any, Any, str | None]:
        """Fly back to the carrier (chasing it if it moves), land on it, recharge."""
        eng = self.eng
        motion = eng.motion
        c = eng.carrier_of[v]
        x, y, _ = eng.position_at(c, eng.env.now)
        eng.log.add(eng.env.now, "return_start", v, value=math.hypot(x - eng.px[v],
                                                                   y - eng.py[v]))
        z = eng.pz[v]
        speed, climb = eng.speed[v], eng.climb[v]
        for _ in range(30):  # each leg aims where the carrier will be (its plan known)
            x, y, cz = eng.position_at(c, eng.env.now)
            if math.hypot(x - eng.px[v], y - eng.py[v]) < 1.0:
                break
            x, y, cz = self.meet(v, c, lambda d: motion.straight_time(v, d))
            transit = max(z, cz + eng.agl[v],
                          float(eng.world.terrain.height_at(x, y)) + eng.agl[v])
            yield from eng.fly(v, K_RETURN, False, x, y, transit, eng.p_cruise[v], speed)
        eng.engine_control[v] = True
        eng.state[v] = LANDING
        # Descend onto where the carrier will be when the landing ends.
        dz = eng.pz[v] - eng.position_at(c, eng.env.now)[2]
        x, y, cz = self.meet(v, c, lambda d: max(motion.straight_time(v, d),
                                                 abs(dz) / climb))
        yield from eng.fly(v, K_LAND, False, x, y, cz, eng.p_hover[v], speed)
        eng.log.add(eng.env.now, "landed", v, x=x, y=y, z=cz)
        eng.airborne -= 1
        eng.landed_at[v] = eng.env.now
        self.dock(v)
        eng.state[v] = CHARGING
        cap = eng.capacity[v]
        dur = eng.recharge_s[v] * max(0.0, cap - eng.battery[v]) / cap
        eng.log.add(eng.env.now, "charge_start", v, value=eng.battery[v], detail="charge")
        if dur > 0:
            yield eng.env.timeout(dur)
        eng.battery[v] = cap
        eng.log.add(eng.env.now, "charge_end", v, value=cap, detail="charge")
        return RECHARGED


class Network(Domain):
    """A ground or sea vehicle on its road or water network."""

    air = False
    estimate_detour = 1.3
    lands_to_load = False

    def depart(self, v: int) -> Generator[Any, Any, None]:
        """On the road or the water it simply sets off."""
        self.eng.state[v] = MOVING
        return
        yield

    def travel(self, v: int, x: float, y: float, sensing: bool = False
               ) -> Generator[Any, Any, str | None]:
        eng = self.eng
        if eng.state[v] == GROUND:
            eng.state[v] = MOVING
        return (yield from self.drive(v, x, y, sensing=sensing))

    def drive(self, v: int, x: float, y: float, kind: int = K_MOVE, sensing: bool = False
              ) -> Generator[Any, Any, str | None]:
        """Move to (x, y) on its network; None once there, else why not (``no_route``,
        ``unreachable``). A road closing ahead of it makes it re-route from where it is.
        ``sensing``: its sensor looks for targets on the way (a boat's lookout)."""
        eng = self.eng
        lg = eng.logistics
        if math.hypot(x - eng.px[v], y - eng.py[v]) < 1e-6:
            return None  # already there
        from_node = None
        while True:
            p = lg.path(v, x, y, from_node)
            if p is None:
                return "no_route"
            if p == "unreachable":
                return "unreachable"
            xs, ys, speeds, nodes = p
            if from_node is not None:
                d = np.hypot(np.diff([eng.px[v]] + xs), np.diff([eng.py[v]] + ys)).sum()
                eng.log.add(eng.env.now, "reroute", v, x=eng.px[v], y=eng.py[v],
                            value=float(d))
            zs = eng.world.terrain.height_at(np.asarray(xs), np.asarray(ys)).tolist()
            connector = math.hypot(xs[0] - eng.px[v], ys[0] - eng.py[v]) > 0.0
            lg.driving[v] = (nodes, connector)
            try:
                yield from eng.fly_route(v, xs, ys, zs, sensing, speeds, kind)
            except Interrupt as intr:
                if isinstance(intr.cause, tuple) and intr.cause[0] == "reroute":
                    from_node = intr.cause[1]
                    continue
                raise
            finally:
                lg.driving.pop(v, None)
            return None

    def hold(self, v: int, duration_s: float, kind: int = K_HOLD) -> Generator[Any, Any, None]:
        """Parked with the engine on (hover power), ready to go on."""
        eng = self.eng
        eng.open_leg(v, kind, False, duration_s, eng.px[v], eng.py[v], eng.pz[v],
                     eng.p_hover[v])
        if duration_s > 0:
            yield eng.env.timeout(duration_s)
        eng.close_leg(v)

    def go_home(self, v: int) -> Generator[Any, Any, str | None]:
        """Drive or sail home on the network."""
        _, hx, hy, _ = self.home_start(v)
        return (yield from self.drive(v, hx, hy, K_RETURN))

    def reserve_detour(self) -> Callable[[int, float, float, float], float] | None:
        return self.eng.logistics.detour


def domain_of(eng: EngineAPI, v: int, shared: dict[type, Domain]) -> Domain:
    """The domain of vehicle ``v`` (one instance per class, kept in ``shared``)."""
    vt = eng.scenario.vehicle_types[eng.type_index[v]]
    if eng.carrier_of[v] >= 0:
        cls: type[Domain] = Carried
    elif vt.domain != "air":
        cls = Network
    elif vt.kind == "fixed_wing":
        cls = FixedWing
    else:
        cls = Multirotor
    dom = shared.get(cls)
    if dom is None:
        dom = shared[cls] = cls(eng)
    return dom

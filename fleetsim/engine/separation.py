"""Separation in the engine: losses of separation, conflicts, and deconfliction.

Every ``window_s`` of simulated time, the legs active in the window that just
ended (airborne legs of the domains with minima) are checked pairwise — through
a spatial grid of their boxes, not all against all (:func:`fleetsim.separation.
window_pairs`) — and each loss of separation (LoS) is recorded with its exact
start and end (``los_start`` / ``los_end``). The window has ended when it is
checked, so a leg cut short in it is already cut: a cut cancels the losses it
would have caused. The same check over the next ``lookahead_s`` of the legs
already planned predicts conflicts (``conflict`` events and requests to the
vehicle that is to give way: the higher index of the pair).

Deconfliction: strategic (a take-off checks the vehicle's 4D intent against
every other vehicle's planned legs and moves up a layer or waits for a free
slot), altitude layering by heading (in the engine's plan intake), and
tactical ``hold`` (the vehicle giving way stops, steps vertically out of the
way if the other's track passes over it, waits for it to pass and resumes its
route).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from fleetsim.engine.api import Subsystem
from fleetsim.engine.separation_pool import LegPool
from fleetsim.engine.states import GROUND, MOVING
from fleetsim.engine.tables import (
    E_DETAIL,
    E_KIND,
    E_TARGET,
    E_TIME,
    E_VALUE,
    E_VEHICLE,
    E_X,
    E_Z,
    EVENT_CHUNK,
    EVENT_KIND_CODE,
    EVENT_WIDTH,
    L_T0,
    L_T1,
    L_VEHICLE,
    L_X0,
    L_X1,
    LEG_KIND_CODE,
)
from fleetsim.engine.terminal import TerminalAreas
from fleetsim.separation import los_intervals, window_pairs
from fleetsim.separation_kernels import merge_pieces, points_at

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.engine.api import EngineAPI

#: Leg kinds in which a vehicle is out in its domain's space (not on a pad or a carrier).
_CHECKED_KINDS = ("takeoff", "move", "hold", "return", "land", "unload")
_EPS = 1e-9
#: LoS pieces of a window merged into losses at a time (a block's temporaries: a few
#: hundred bytes per piece).
_RECORD_PIECES = 1 << 18


class Separation(Subsystem):
    """Separation monitoring of one run."""

    def __init__(self, sim: EngineAPI) -> None:
        self.sim = sim
        spec = self.spec = sim.scenario.separation
        self.window_s = spec.checking_window_s(sim.scenario.run.monitor_window_s,
                                               sim.scenario.run.duration_s)
        self.lookahead_s = float(spec.lookahead_s)
        n = sim.n
        self.radius = np.full(n, np.nan)
        self.half_height = np.full(n, np.nan)
        for v in range(n):
            m = spec.minima.get(sim.domain[v])
            if m is not None:
                self.radius[v] = m.horizontal_m
                self.half_height[v] = m.vertical_m
        self.checked = np.isfinite(self.radius)
        # Terminal areas: losses that begin there are not separation events.
        self.terminal_m = float(spec.terminal_radius_m)
        self._terminal = TerminalAreas(
            np.array([s.xy for s in sim.world.sites], dtype=np.float64).reshape(-1, 2),
            self.terminal_m)
        self.kinds = np.zeros(max(LEG_KIND_CODE.values()) + 1, dtype=bool)
        self.kinds[[LEG_KIND_CODE[k] for k in _CHECKED_KINDS]] = True
        self.pool = LegPool(self.checked, self.kinds)
        #: Losses going on at the end of the last window, by pair key a * n + b (sorted):
        #: when each began, the least distance so far, and whether it is exempt (began
        #: in a terminal area).
        self._set_open(*(np.zeros(0, dtype=t) for t in (np.int64, float, float, bool)))
        #: Conflicts flagged and not yet past: pair keys (sorted) and predicted ends.
        self.flag_key = np.zeros(0, dtype=np.int64)
        self.flag_end = np.zeros(0)
        #: 4D intents reserved at take-off and not yet flown: rows like the legs
        #: table's (vehicle, t0, t1, positions), kept until their end has passed.
        self.reserved = np.zeros((0, 13))
        #: Every reservation made: (vehicle, when, its (m, 8) legs), in order; and when
        #: a new plan withdrew one (intent index -> time), for the reservations table.
        self._made: list[tuple[int, float, np.ndarray]] = []
        self._withdrawn: dict[int, float] = {}
        self._held: dict[int, int] = {}  # vehicle -> index of its last reservation
        self.pairs_checked = 0  # leg pairs that reached the exact (narrow-phase) test
        self.legs_checked = 0
        self.all_pairs = 0  # leg pairs an all-against-all check of the same windows makes
        self.windows = 0
        self.t_done = 0.0  # end of the last window checked

    # ------------------------------------------------------------------ legs

    def _refresh(self) -> None:
        self.pool.refresh(self.sim.legs)

    def _legs_in(self, t_lo: float, t_hi: float, *, prune: bool = False
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Ids and rows of the pooled legs overlapping [t_lo, t_hi] (not cancelled);
        ``prune``: and forget the legs that ended by ``t_hi`` or were cancelled."""
        return self.pool.legs_in(self.sim.legs.a, t_lo, t_hi, prune=prune)

    def _pairs(self, rows: np.ndarray, t_lo: float, t_hi: float) -> dict[str, np.ndarray]:
        v = rows[:, L_VEHICLE].astype(np.int64)
        res = window_pairs(rows[:, L_T0], rows[:, L_T1], rows[:, L_X0:L_X0 + 3],
                           rows[:, L_X1:L_X1 + 3], v, self.radius[v], self.half_height[v],
                           t_lo, t_hi)
        self.pairs_checked += int(res["pairs_checked"])
        self.legs_checked += len(rows)
        self.all_pairs += len(rows) * (len(rows) - 1) // 2
        return res

    # ------------------------------------------------------------------ monitoring

    def process(self):
        env = self.sim.env
        t0 = 0.0
        while True:
            yield env.timeout(self.window_s)
            self.step(t0, env.now)
            t0 = env.now

    def step(self, t_lo: float, t_hi: float) -> None:
        self.windows += 1
        self.t_done = t_hi
        self._refresh()
        _, rows = self._legs_in(t_lo, t_hi, prune=True)
        self._record(rows, self._pairs(rows, t_lo, t_hi), t_lo, t_hi)
        if self.lookahead_s > 0 and t_hi < self.sim.duration_s:
            _, ahead = self._legs_in(t_hi, t_hi + self.lookahead_s)
            self._predict(ahead, self._pairs(ahead, t_hi, t_hi + self.lookahead_s), t_hi)

    def finish(self, end: float) -> None:
        """The last (partial) window, then every LoS still open ends with the run."""
        t_lo = self.t_done
        if end > t_lo:
            self._refresh()
            _, rows = self._legs_in(t_lo, end)
            self._record(rows, self._pairs(rows, t_lo, end), t_lo, end)
        counted = ~self.open_exempt
        self._log("los_end", end, self.open_key[counted], value=self.open_d[counted])
        self._set_open(*(np.zeros(0, dtype=t) for t in (np.int64, float, float, bool)))

    def _set_open(self, key, start, d, exempt) -> None:
        order = np.argsort(key, kind="stable")
        self.open_key, self.open_start = key[order], start[order]
        self.open_d, self.open_exempt = d[order], exempt[order]

    def _log(self, kind: str, t, key: np.ndarray, *, xyz: np.ndarray | None = None,
             value=np.nan) -> None:
        """Events of pairs ``key`` (a * n + b): vehicle a, target b."""
        m = len(key)
        t, value = (np.array(np.broadcast_to(c, (m,)), dtype=np.float64) for c in (t, value))
        for i in range(0, m, EVENT_CHUNK):  # a block of the log's size at a time
            k = slice(i, i + EVENT_CHUNK)
            self.sim.log.extend(_pair_events(
                t[k], EVENT_KIND_CODE[kind], key[k], self.sim.n,
                np.zeros((0, 3)) if xyz is None else xyz[k], value[k],
                self.sim.log.detail_code(None)))

    def _record(self, rows: np.ndarray, res: dict[str, np.ndarray], t_lo: float,
                t_hi: float) -> None:
        """Turn a window's LoS pieces into ``los_start`` / ``los_end`` events, carrying
        the losses still going on at its end into the next window.

        The pieces are taken a block of pairs at a time (all the pieces of a pair in
        one block, blocks in pair order), so that a window with millions of pieces
        (vehicles packed on their pads, in loss of separation until they leave) needs
        the temporaries of one block; the events come out as from one pass."""
        n = self.sim.n
        # The pair's key (vehicle_a < vehicle_b); the columns not needed here are let go.
        key = res.pop("vehicle_a") * n
        key += res.pop("vehicle_b")
        res.pop("t_min", None)
        m = len(key)
        if m <= _RECORD_PIECES:
            parts = [self._merge(rows, res, key, None, t_lo)]
        else:
            by_key = np.argsort(key, kind="stable")  # each block in the window's order
            sk = key[by_key]
            parts = []
            lo = 0
            while lo < m:
                hi = min(lo + _RECORD_PIECES, m)
                if hi < m:  # end the block at a change of pair
                    hi = int(np.searchsorted(sk, sk[hi - 1], side="right"))
                idx = np.sort(by_key[lo:hi])
                parts.append(self._merge(rows, res, key[idx], idx, t_lo))
                lo = hi
            del by_key, sk
        del key
        g, start, end, d_min, exempt, cont, xyz = (
            np.concatenate(c) if len(parts) > 1 else c[0]
            for c in zip(*parts, strict=True))
        del parts
        # Open losses that did not go on ended as the window began.
        gone = ~_member(g[cont], self.open_key)[1]
        self._log("los_end", t_lo, self.open_key[gone & ~self.open_exempt],
                  value=self.open_d[gone & ~self.open_exempt])
        # New losses: where the first vehicle was as each began.
        new = ~cont & ~exempt
        if new.any():
            o = np.lexsort((g[new], start[new]))
            self._log("los_start", start[new][o], g[new][o], xyz=xyz[o])
        ends = end < t_hi - _EPS
        done = ends & ~exempt
        self._log("los_end", end[done], g[done], value=d_min[done])
        keep = ~ends
        self._set_open(g[keep], start[keep], d_min[keep], exempt[keep])

    def _merge(self, rows: np.ndarray, res: dict[str, np.ndarray], key: np.ndarray,
               sel: np.ndarray | None, t_lo: float) -> tuple[np.ndarray, ...]:
        """The losses of pieces ``sel`` (None: all; every piece of their pairs, in the
        window's order: by start; ``key`` their pair keys): per loss (sorted by pair,
        then start) its pair, start, end, least distance, whether it is exempt, whether
        it goes on from the last window, and (for the new losses that are not exempt)
        where the first vehicle was as it began."""
        n = self.sim.n
        if sel is not None:
            res = {name: res[name][sel] for name in ("start", "end", "d_min", "leg_a", "leg_b")}
        p_start = res["start"]
        ia, ib = res["leg_a"], res["leg_b"]
        # One loss per pair and stretch of time: pieces found leg pair by leg pair that
        # touch (at a leg's end, or the window's start) are one. Losses going on from the
        # last window: the first of their pair's here, at its start.
        g, start, end, d_min, first, cont, pos = merge_pieces(
            key, np.argsort(key, kind="stable"), p_start, res["end"], res["d_min"],
            self.open_key, self.open_start, self.open_d, t_lo + _EPS)
        # Whether each began in a terminal area: where the first piece of a new one
        # begins; those going on keep what they had.
        exempt = np.zeros(len(g), dtype=bool)
        exempt[cont] = self.open_exempt[pos[cont]]
        began = np.flatnonzero(~cont)
        exempt[began] = self._in_terminal(_legs_at(np.take(rows, ia[first[began]], axis=0),
                                                   p_start[first[began]]))
        new = ~cont & ~exempt
        piece = first[new]
        mine = rows[ia[piece], L_VEHICLE].astype(np.int64) == g[new] // n
        xyz = _legs_at(np.take(rows, np.where(mine, ia[piece], ib[piece]), axis=0), start[new])
        return g, start, end, d_min, exempt, cont, xyz

    def _in_terminal(self, points: np.ndarray) -> np.ndarray:
        """Which of ``points`` ((m, 2+) metres) lie in a site's terminal area."""
        return self._terminal.contains(points)

    def _predict(self, rows: np.ndarray, res: dict[str, np.ndarray], now: float) -> None:
        """Conflicts: pairs whose planned legs lose separation within the look-ahead,
        not in LoS now and not flagged already; the vehicle with the higher index is
        told (a ``conflict`` request) and, with tactical ``hold``, gives way."""
        sim = self.sim
        veh = rows[:, L_VEHICLE].astype(np.int64)
        va, vb = veh[res["leg_a"]], veh[res["leg_b"]]
        n = sim.n
        key = np.minimum(va, vb) * n + np.maximum(va, vb)
        # Per pair: the first predicted start and the last end.
        order = np.lexsort((res["start"], key))
        key, start, end = key[order], res["start"][order], res["end"][order]
        lead = np.r_[True, key[1:] != key[:-1]] if len(key) else np.zeros(0, dtype=bool)
        bounds = np.flatnonzero(lead)
        keys, first_start = key[lead], start[lead]
        last_end = np.maximum.reduceat(end, bounds) if len(bounds) else end
        # A predicted loss that begins in a terminal area is not a conflict.
        out = ~self._in_terminal(_legs_at(rows[res["leg_a"][order][lead]], first_start))
        keys, first_start, last_end = keys[out], first_start[out], last_end[out]
        # Forget flags whose predicted loss is past; keep the others (extended).
        live = self.flag_end >= now
        self.flag_key, self.flag_end = self.flag_key[live], self.flag_end[live]
        known = _member(self.open_key, keys)[1] | _member(self.flag_key, keys)[1]
        new = ~known
        fk = np.r_[self.flag_key, keys]
        fe = np.r_[self.flag_end, last_end]
        o = np.argsort(fk, kind="stable")
        fk, fe = fk[o], fe[o]
        lead_f = np.r_[True, fk[1:] != fk[:-1]] if len(fk) else np.zeros(0, dtype=bool)
        self.flag_key = fk[lead_f]
        self.flag_end = np.maximum.reduceat(fe, np.flatnonzero(lead_f)) if len(fk) else fe
        if not new.any():
            return
        a, b = np.divmod(keys[new], n)
        # The one giving way (b, the higher index) is the event's vehicle.
        ev = np.full((int(new.sum()), EVENT_WIDTH), -1.0)
        ev[:, E_TIME] = now
        ev[:, E_KIND] = EVENT_KIND_CODE["conflict"]
        ev[:, E_VEHICLE], ev[:, E_TARGET] = b, a
        ev[:, E_X:E_Z + 1] = np.nan
        ev[:, E_VALUE] = first_start[new]
        ev[:, E_DETAIL] = sim.log.detail_code(None)
        sim.log.extend(ev)
        hold = self.spec.tactical == "hold"
        for bv, av, st, en in zip(b.tolist(), a.tolist(), first_start[new].tolist(),
                                  last_end[new].tolist(), strict=True):
            sim.request(bv, "conflict", av)
            if hold:
                self._give_way(bv, av, st, en)

    # ------------------------------------------------------------------ tactical

    def _give_way(self, v: int, other: int, start: float, end: float) -> None:
        """Vehicle ``v`` stops where it is (stepping vertically out of ``other``'s way if
        that one's track passes over it), waits until ``other`` has gone by, and then
        flies the rest of its route."""
        sim = self.sim
        cur = sim.cur_item[v]
        if sim.state[v] != MOVING or sim.engine_control[v] or sim.asking[v] or \
                sim.docked[v] or cur is None or cur[0] != "route" or not sim.is_air[v]:
            return
        now = sim.env.now
        ids = sim.blk_ids[v]
        k = max(0, bisect_right(sim.blk_t0[v], now) - 1)
        a = sim.legs.a
        rest = a[ids[k:]]
        if not len(rest) or rest[-1, L_T1] <= now + _EPS:
            return
        here = np.array(sim.position_at(v, now))
        # When is the other within the minima of this point, on its planned legs?
        _, theirs = self._legs_in(now, now + self.lookahead_s + self.window_s)
        theirs = theirs[theirs[:, L_VEHICLE].astype(np.int64) == other]
        if not len(theirs):
            return
        r, h = self.radius[v], self.half_height[v]
        clear_at, over = _passage(theirs, here, r, now)
        dz = 0.0
        if over:  # its track passes over this point: step up (or down) out of its band
            zs = theirs[:, [L_X0 + 2, L_X1 + 2]]
            dz = float(np.max(zs) - here[2] + 2 * h + 5.0)
            clear_at = max(clear_at, end)
        hold = max(clear_at, end) - now + self.window_s
        xs, ys, zs = rest[:, L_X1].tolist(), rest[:, L_X1 + 1].tolist(), \
            rest[:, L_X1 + 2].tolist()
        extra = abs(dz)
        if dz:
            x1, y1, z1 = xs[0], ys[0], zs[0]
            flat = math.hypot(x1 - here[0], y1 - here[1])
            extra += math.hypot(flat, z1 - here[2] - dz) - math.hypot(flat, z1 - here[2])
        sim.log.add(now, "deconflict", v, target=other, x=float(here[0]), y=float(here[1]),
                    z=float(here[2]), value=extra, detail="hold")
        length = float(np.sum(np.hypot(np.diff([here[0], *xs]), np.diff([here[1], *ys]))))
        items = [("dodge", dz, hold, "hold"),
                 ("route", xs, ys, zs, bool(cur[4]), length, cur[6])]
        sim.hand_over(v, False, items + list(sim.queue[v]))

    # ------------------------------------------------------------------ strategic

    # ------------------------------------------------------------------ hooks

    #: Airspace reservation comes after authorization.
    gate_order = 1

    def processes(self, *, progress: bool = False):
        return [self.process()]

    def before_action(self, v: int, item: tuple):
        """Strategic separation: a route from the ground waits for its reserved slot."""
        sim = self.sim
        if item[0] == "route" and sim.state[v] == GROUND and sim.is_air[v] \
                and self.spec.strategic is not None and not sim.docked[v]:
            item = yield from self.reserve(v, item)
        return item

    def on_replanned(self, v: int) -> None:
        self.replanned(v)

    def replanned(self, v: int) -> None:
        """Vehicle ``v`` was given a new plan: its reserved intent no longer holds."""
        if len(self.reserved):
            mine = self.reserved[:, L_VEHICLE] == v
            now = self.sim.env.now
            if v in self._held and (self.reserved[mine, L_T1] > now).any():
                self._withdrawn[self._held.pop(v)] = now
            self.reserved = self.reserved[~mine]

    def reservations_table(self) -> dict[str, np.ndarray] | None:
        """The reservations made (columns :data:`fleetsim.record.RESERVATION_COLUMNS`);
        None without strategic deconfliction."""
        if self.spec.strategic is None:
            return None
        counts = [len(m) for _, _, m in self._made]
        n = len(self._made)
        legs = np.vstack([m for _, _, m in self._made]) if n else np.zeros((0, 8))
        withdrawn = np.array([self._withdrawn.get(k, np.nan) for k in range(n)])
        table = {"intent": np.repeat(np.arange(n, dtype=np.int64), counts),
                 "vehicle": np.repeat(np.array([v for v, _, _ in self._made], dtype=np.int32),
                                      counts),
                 "reserved_s": np.repeat(np.array([t for _, t, _ in self._made]), counts),
                 "withdrawn_s": np.repeat(withdrawn, counts)}
        for j, name in enumerate(("t0_s", "t1_s", "x0_m", "y0_m", "z0_m", "x1_m", "y1_m",
                                  "z1_m")):
            table[name] = legs[:, j].astype(np.float64)
        return table

    def reserve(self, v: int, item: tuple):
        """Before vehicle ``v`` takes off to fly route ``item`` (and the routes queued
        after it, and its way home if a ReturnHome follows): the first (delay, layer)
        whose 4D legs keep separation from every other vehicle's planned and reserved
        legs, tried layer by layer at each delay step. Waits the delay on the ground,
        moves the queued routes to the layer too, and returns the route at its layer
        (as given if nothing is free within max_delay_s)."""
        sim = self.sim
        st = self.spec.strategic
        _, xs, ys, zs, sensing, length, cls = item
        xs, ys, zs = _listed(xs), _listed(ys), _listed(zs)
        q = sim.queue[v]
        chain = 0  # routes queued right after this one fly in the same intent
        while chain < len(q) and q[chain][0] == "route":
            chain += 1
        way = [(xs, ys, zs)] + [tuple(map(_listed, q[k][1:4])) for k in range(chain)]
        all_x = [x for w in way for x in w[0]]
        all_y = [y for w in way for y in w[1]]
        all_z = [z for w in way for z in w[2]]
        now = sim.env.now
        going_home = chain < len(q) and q[chain][0] == "return"
        self._refresh()
        self.reserved = self.reserved[self.reserved[:, L_T1] > now]
        choice = None
        n_delays = int(st.max_delay_s // st.delay_step_s) + 1
        for step in range(n_delays):
            d = step * st.delay_step_s
            for layer in range(st.layers + 1):
                up = layer * st.layer_spacing_m
                mine = _intent(sim, v, all_x, all_y, [z + up for z in all_z], going_home,
                               now + d)
                lo, hi = mine[0, 0], mine[-1, 1]
                _, flown = self._legs_in(lo, hi)
                others = np.vstack([flown, self.reserved])
                others = others[(others[:, L_VEHICLE].astype(np.int64) != v)
                                & (others[:, L_T1] > lo) & (others[:, L_T0] < hi)]
                if not self._clashes(v, mine, others, lo, hi):
                    choice = (d, layer, mine)
                    break
            if choice is not None:
                break
        if choice is None:  # nothing free within max_delay_s: as planned
            choice = (0.0, 0, _intent(sim, v, all_x, all_y, all_z, going_home, now))
        d, layer, mine = choice
        rows = np.zeros((len(mine), 13))
        rows[:, L_VEHICLE] = v
        rows[:, L_T0], rows[:, L_T1] = mine[:, 0], mine[:, 1]
        rows[:, L_X0:L_X0 + 3], rows[:, L_X1:L_X1 + 3] = mine[:, 2:5], mine[:, 5:8]
        self.reserved = np.vstack([self.reserved, rows])
        self._held[v] = len(self._made)
        self._made.append((v, now, np.array(mine, dtype=np.float64)))
        if d > 0:
            sim.log.add(now, "strategic_delay", v, value=d)
            yield from sim.park(v, d)
        if layer:
            up = layer * st.layer_spacing_m
            sim.log.add(sim.env.now, "deconflict", v, value=2.0 * up, detail="layer")
            zs = [z + up for z in zs]
            for k in range(chain):
                it = q[k]
                q[k] = (it[0], it[1], it[2], [z + up for z in _listed(it[3])], *it[4:])
        return ("route", xs, ys, zs, sensing, length, cls)

    def _clashes(self, v: int, mine: np.ndarray, others: np.ndarray, t_lo: float,
                 t_hi: float) -> bool:
        """Would intent ``mine`` ((m, 8) legs) lose separation with any of ``others``
        (legs-table rows) outside the terminal areas? Each of my legs is tested against
        the others that overlap it in time and in its box grown by the minima."""
        if not len(others):
            return False
        r_me, h_me = self.radius[v], self.half_height[v]
        ov = others[:, L_VEHICLE].astype(np.int64)
        r = np.maximum(self.radius[ov], r_me)
        h = np.maximum(self.half_height[ov], h_me)
        ox0 = np.minimum(others[:, L_X0], others[:, L_X1])
        ox1 = np.maximum(others[:, L_X0], others[:, L_X1])
        oy0 = np.minimum(others[:, L_X0 + 1], others[:, L_X1 + 1])
        oy1 = np.maximum(others[:, L_X0 + 1], others[:, L_X1 + 1])
        oz0 = np.minimum(others[:, L_X0 + 2], others[:, L_X1 + 2])
        oz1 = np.maximum(others[:, L_X0 + 2], others[:, L_X1 + 2])
        ot0, ot1 = others[:, L_T0], np.where(np.isfinite(others[:, L_T1]), others[:, L_T1],
                                              t_hi)
        pairs_a, pairs_b = [], []
        for k, (t0, t1, x0, y0, z0, x1, y1, z1) in enumerate(mine.tolist()):
            near = ((ot0 < t1) & (ot1 > t0)
                    & (ox0 < max(x0, x1) + r) & (ox1 > min(x0, x1) - r)
                    & (oy0 < max(y0, y1) + r) & (oy1 > min(y0, y1) - r)
                    & (oz0 < max(z0, z1) + h) & (oz1 > min(z0, z1) - h))
            idx = np.flatnonzero(near)
            pairs_a.append(np.full(len(idx), k))
            pairs_b.append(idx)
        a = np.concatenate(pairs_a)
        b = np.concatenate(pairs_b)
        self.pairs_checked += len(a)
        if not len(a):
            return False
        o = others[b]
        has, start, _, _, _ = los_intervals(
            mine[a, 0], mine[a, 1], mine[a, 2:5], mine[a, 5:8],
            o[:, L_T0], ot1[b], o[:, L_X0:L_X0 + 3], o[:, L_X1:L_X1 + 3],
            r[b], h[b], t_lo, t_hi)
        if not has.any():
            return False
        # Terminal areas are exempt, as in the monitor (where my leg is as it begins).
        m = mine[a[has]]
        where = _point_at(m[:, 0], m[:, 1], m[:, 2:5], m[:, 5:8], start[has])
        return bool((~self._in_terminal(where)).any())


def _member(sorted_keys: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each of ``x`` is in ``sorted_keys``, and whether it is there at all."""
    pos = np.searchsorted(sorted_keys, x)
    if not len(sorted_keys):
        return pos, np.zeros(len(x), dtype=bool)
    return pos, sorted_keys[np.minimum(pos, len(sorted_keys) - 1)] == x


def _point_at(t0: np.ndarray, t1: np.ndarray, p0: np.ndarray, p1: np.ndarray,
              t: np.ndarray) -> np.ndarray:
    """Where legs (t0, t1, p0 -> p1) are at times ``t`` (clamped to each leg; a leg
    without an end, or of no length, stays at p0): (m, 3)."""
    return points_at(t0, t1, p0, p1, np.broadcast_to(np.asarray(t, dtype=np.float64),
                                                     (len(t0),)))


def _legs_at(rows: np.ndarray, t: np.ndarray) -> np.ndarray:
    """:func:`_point_at` for legs-table rows."""
    return _point_at(rows[:, L_T0], rows[:, L_T1], rows[:, L_X0:L_X0 + 3],
                     rows[:, L_X1:L_X1 + 3], t)


def _passage(legs: np.ndarray, point: np.ndarray, r: float,
             now: float) -> tuple[float, bool]:
    """When the legs (one vehicle's, in time order) are last within r horizontally of
    ``point`` (``now`` if never), and whether they pass within r of it at all."""
    last = now
    over = False
    for row in legs.tolist():
        t0, t1 = max(row[3], now), row[4]
        if not math.isfinite(t1) or t1 <= t0:
            continue
        f0 = (t0 - row[3]) / (row[4] - row[3]) if row[4] > row[3] else 0.0
        p0 = np.array(row[5:8]) + f0 * (np.array(row[8:11]) - np.array(row[5:8]))
        w = (np.array(row[8:11]) - p0) / (t1 - t0)
        d = p0[:2] - point[:2]
        # |d + w t| <= r over [0, t1 - t0]: the later root of the quadratic.
        a = w[0] * w[0] + w[1] * w[1]
        b = 2 * (d[0] * w[0] + d[1] * w[1])
        c = d[0] * d[0] + d[1] * d[1] - r * r
        if a == 0:
            if c <= 0:
                over = True
                last = max(last, t1)
            continue
        disc = b * b - 4 * a * c
        if disc < 0:
            continue
        lo = (-b - math.sqrt(disc)) / (2 * a)
        hi = (-b + math.sqrt(disc)) / (2 * a)
        if hi < 0 or lo > t1 - t0:
            continue
        over = True
        last = max(last, t0 + min(hi, t1 - t0))
    return last, over


def _listed(c: list | np.ndarray) -> list:
    """Waypoint coordinates as a list of floats (a route item may hold an array)."""
    return c.tolist() if isinstance(c, np.ndarray) else c


def _intent(sim: EngineAPI, v: int, xs: list, ys: list, zs: list, going_home: bool,
            t: float) -> np.ndarray:
    """The 4D legs vehicle ``v`` (on the ground) would fly taking off at ``t`` and
    flying the waypoints (and, ``going_home``, straight home at the altitude it ends at
    and down): (m, 8) t0, t1, x0, y0, z0, x1, y1, z1."""
    x, y, z = sim.px[v], sim.py[v], sim.pz[v]
    up = sim.agl[v]
    dur = sim.motion.climb_time(v, up)
    out = [(t, t + dur, x, y, z, x, y, z + up)]
    t += dur
    z += up
    leg_time = sim.motion.intent_leg_time
    hx, hy = sim.home_xy[v]
    hz = sim.home_z[v]
    way = list(zip(xs, ys, zs, strict=True))
    if going_home:  # (a straight way home: around no-fly zones it is longer)
        top = max(zs[-1] if zs else z, hz + up)
        way += [(way[-1][0] if way else x, way[-1][1] if way else y, top), (hx, hy, top),
                (hx, hy, hz)]
    for x1, y1, z1 in way:
        dur = leg_time(v, x, y, z, x1, y1, z1)
        if dur > 0:
            out.append((t, t + dur, x, y, z, x1, y1, z1))
        t += dur
        x, y, z = x1, y1, z1
    return np.array(out, dtype=np.float64)


@njit(cache=True)
def _pair_events(t, kind, key, n, xyz, value, detail):
    """Event rows of pairs ``key`` (a * n + b): at times ``t``, of kind code ``kind``,
    vehicle a, target b, at ``xyz`` ((m, 3); none given: NaN), with ``value``."""
    m = len(key)
    ev = np.full((m, EVENT_WIDTH), -1.0)
    for k in range(m):
        ev[k, E_TIME] = t[k]
        ev[k, E_KIND] = kind
        ev[k, E_VEHICLE] = key[k] // n
        ev[k, E_TARGET] = key[k] % n
        for c in range(3):
            ev[k, E_X + c] = xyz[k, c] if len(xyz) else np.nan
        ev[k, E_VALUE] = value[k]
        ev[k, E_DETAIL] = detail
    return ev

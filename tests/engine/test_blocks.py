"""The compiled route-block loops give what the plain-Python loops give, bit for bit, and
their bounds on Python's distances hold (a reserve verdict from the bounds is the one
Python's distances give)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fleetsim.engine.blocks import (
    CLEAR,
    TO_EMPTY,
    TO_RESERVE,
    block_rows,
    norm_bounds,
    reserve_verdict,
    route_legs,
)
from fleetsim.engine.motion import MAX_DETOUR, route_far

NO_LIMITS = (0.0,) * 13


def _route_python(xs, ys, zs, speeds, x0, y0, z0, spd, climb, corrected, leg_over, pen,
                  climb_wh):
    """The loop of MotionModel.route as plain Python (what the kernel stands for)."""
    durs, climbs = [], []
    moved, hx_prev, hy_prev = False, 0.0, 0.0
    px, py, pz = x0, y0, z0
    total, top = 0.0, z0
    for i in range(len(xs)):
        x1, y1, z1 = xs[i], ys[i], zs[i]
        dx, dy, dz = x1 - px, y1 - py, z1 - pz
        dur = math.sqrt(dx * dx + dy * dy) / (spd if speeds is None else speeds[i])
        if abs(dz) > dur * climb:
            dur = abs(dz) / climb
        if corrected:
            if dur > 0.0:
                if not moved:
                    dur += leg_over
                elif dx or dy:
                    dur += pen * abs(math.atan2(hx_prev * dy - hy_prev * dx,
                                                hx_prev * dx + hy_prev * dy))
                if dx or dy:
                    hx_prev, hy_prev = dx, dy
                climbs.append(max(dz, 0.0) * climb_wh)
            else:
                climbs.append(0.0)
            if dur:
                moved = True
        durs.append(dur)
        total += dur
        if z1 > top:
            top = z1
        px, py, pz = x1, y1, z1
    return durs, climbs, total, top


def _random_route(rng, n):
    xs = rng.uniform(-5000, 5000, n)
    ys = rng.uniform(-5000, 5000, n)
    zs = rng.choice([80.0, 120.0, 400.0], n)
    # repeated waypoints (zero-length legs) and vertical legs
    for k in rng.choice(n, n // 4, replace=False):
        if k:
            xs[k], ys[k] = xs[k - 1], ys[k - 1]
    return xs, ys, zs


@pytest.mark.parametrize("corrected", [False, True])
@pytest.mark.parametrize("by_leg", [False, True])
def test_route_legs_is_the_python_loop(corrected, by_leg):
    rng = np.random.default_rng(3 + 2 * corrected + by_leg)
    for n in (0, 1, 2, 7, 40):
        xs, ys, zs = _random_route(rng, n)
        speeds = rng.uniform(5.0, 30.0, n) if by_leg else None
        args = (0.0, 0.0, 100.0, 18.0, 4.0, corrected, 3.5, 2.25, 0.01)
        want = _route_python(xs.tolist(), ys.tolist(), zs.tolist(),
                             None if speeds is None else speeds.tolist(), *args)
        durs, climbs, total, top, far_lo, far_hi = route_legs(
            xs, ys, zs, np.zeros(0) if speeds is None else speeds, *args, 1234.5, -876.25)
        assert durs.tolist() == want[0]
        assert climbs.tolist() == want[1]
        assert (total, top) == (want[2], want[3])
        far = route_far(0.0, 0.0, xs, ys, 1234.5, -876.25)
        assert far_lo <= far <= far_hi and far_hi - far_lo <= 1e-14 * far + 1e-149


def test_block_rows_are_the_python_block():
    rng = np.random.default_rng(9)
    xs, ys, zs = _random_route(rng, 30)
    durs, climbs, *_ = route_legs(xs, ys, zs, np.zeros(0), 10.0, -20.0, 100.0, 18.0, 4.0,
                                  True, 3.5, 2.25, 0.01, 0.0, 0.0)
    v, kind, sensing, t, b, power, li0, arrive = 7, 2, True, 123.5, 250.0, 0.05, 1000, 4
    # The Python block loop of Movement.fly_route for a route clear of the reserve.
    rows, events, starts = [], [], []
    x0, y0, z0, tt, bb = 10.0, -20.0, 100.0, t, b
    for i in range(len(xs)):
        dur = durs[i]
        if dur <= 0.0:
            continue
        x1, y1, z1 = xs[i], ys[i], zs[i]
        e = power * dur + climbs[i] * (dur / durs[i])
        rows.append((v, kind, sensing, tt, tt + dur, x0, y0, z0, x1, y1, z1, e, bb - e))
        starts.append(tt)
        tt += dur
        bb -= e
        x0, y0, z0 = x1, y1, z1
        events.append((tt, arrive, v, li0 + len(events), -1, -1, x1, y1, z1, math.nan, -1,
                       -1))
    got_rows, got_events, got_starts, end, i, b_end, *at, stop = block_rows(
        v, kind, sensing, t, 10.0, -20.0, 100.0, b, xs, ys, zs, durs, climbs, True, power,
        li0, arrive, CLEAR, NO_LIMITS)
    assert len(rows) < len(xs)  # zero-length legs were skipped
    assert got_rows.tobytes() == np.array(rows, dtype=np.float64).tobytes()
    assert got_events.tobytes() == np.array(events, dtype=np.float64).tobytes()
    assert got_starts.tolist() == starts and end == tt
    assert (i, b_end, tuple(at), stop) == (len(xs), bb, (x0, y0, z0), False)


def test_norm_bounds_hold_python_hypot():
    rng = np.random.default_rng(11)
    scale = 10.0 ** rng.integers(-160, 150, 20000)
    dx = rng.standard_normal(20000) * scale
    dy = rng.standard_normal(20000) * scale * 10.0 ** rng.integers(-20, 20, 20000)
    special = [(0.0, 0.0), (-0.0, 3.0), (3.0, 4.0), (1e-320, 0.0), (5e-324, 5e-324),
               (1e200, 1e200), (-7.5, 0.0), (1e155, 1.0)]
    for x, y in [*zip(dx.tolist(), dy.tolist(), strict=True), *special]:
        lo, hi = norm_bounds(x, y)
        assert lo <= math.hypot(x, y) <= hi, (x, y)


def _check(ux, uy, horizon, z_end, b0, x0, y0, z0, power, limits):
    """MotionModel.reserve_checker's tests up to the quadratic, with Python's hypot:
    inf, 0.0, or None (the quadratic's)."""
    reserve, p_hover, climb, home_z, low, k, k_far, hx, hy, lo_x, hi_x, lo_y, hi_y = limits
    top = z_end if z_end > z0 else z0
    top = low if low > top else top
    margin = b0 - reserve - p_hover * (top - home_z) / climb
    wx, wy = x0 - hx, y0 - hy
    ex, ey = ux * horizon, uy * horizon
    d0 = math.hypot(wx, wy)
    d_end = math.hypot(wx + ex, wy + ey)
    d_far = d0 if d0 > d_end else d_end
    left = margin - power * horizon
    if left - k_far * d_far > 0.0:
        return math.inf
    x1, y1 = x0 + ex, y0 + ey
    if (x0 < lo_x or x0 > hi_x or y0 < lo_y or y0 > hi_y) and \
            (x1 < lo_x or x1 > hi_x or y1 < lo_y or y1 > hi_y):
        if margin - k * d0 <= 0.0:
            return 0.0
        if left - k * d_far > 0.0:
            return math.inf
    return None


def test_reserve_verdicts_are_those_of_python_distances():
    """Batteries spread around the reserve point of each leg, many within a few ulps
    of a test's threshold: a verdict of the bounds is never other than Python's."""
    rng = np.random.default_rng(5)
    k = 150.0 / 3600.0 / 20.0
    told = {1: 0, 0: 0, -1: 0}
    for case in range(6000):
        hx, hy = rng.uniform(-3000, 3000, 2).tolist()
        box = [(math.inf, -math.inf, math.inf, -math.inf), (-2000.0, 2500.0, -1500.0, 900.0),
               (-math.inf, math.inf, -math.inf, math.inf)][case % 3]
        limits = (80.0, 0.047, 4.0, 12.0, 112.0, k, k * MAX_DETOUR, hx, hy, *box)
        x0, y0 = rng.uniform(-6000, 6000, 2).tolist()
        z0, z_end = rng.choice([100.0, 112.0, 150.0], 2).tolist()
        horizon = float(rng.uniform(1.0, 400.0))
        ux, uy = rng.uniform(-20, 20, 2).tolist()
        power = 150.0 / 3600.0
        # The battery at which the first test changes its verdict, give or take ulps.
        far = max(math.hypot(x0 - hx, y0 - hy),
                  math.hypot(x0 - hx + ux * horizon, y0 - hy + uy * horizon))
        at = 80.0 + 0.047 * (max(z0, z_end, 112.0) - 12.0) / 4.0 + power * horizon
        edge = at + [k * MAX_DETOUR, k, 0.0][case % 3] * far
        for b0 in (edge, np.nextafter(edge, 0), np.nextafter(edge, 1e9), edge * (1 + 4e-16),
                   edge * (1 - 4e-16), float(rng.uniform(0.5, 1.5)) * edge):
            b0 = float(b0)
            verdict = reserve_verdict(ux, uy, horizon, z_end, b0, x0, y0, z0, power, limits)
            want = _check(ux, uy, horizon, z_end, b0, x0, y0, z0, power, limits)
            told[verdict] += 1
            if verdict == 1:
                assert want == math.inf
            elif verdict == 0:
                assert want == 0.0
    assert min(told.values()) > 100  # all three verdicts were tested


def _python_block(v, kind, sensing, t, x0, y0, z0, b, xs, ys, zs, durs, climbs, power, li0,
                  arrive, check):
    """Movement.fly_route's per-leg loop as plain Python with a per-leg energy limit."""
    rows, events, starts, stop = [], [], [], False
    for i in range(len(xs)):
        dur = durs[i]
        if dur <= 0.0:
            continue
        x1, y1, z1 = xs[i], ys[i], zs[i]
        dx, dy, dz = x1 - x0, y1 - y0, z1 - z0
        t_stop = check(dx / dur, dy / dur, dur, z1, b, x0, y0, z0)
        if t_stop < dur:
            f = t_stop / dur
            x1, y1, z1, dur, stop = x0 + f * dx, y0 + f * dy, z0 + f * dz, t_stop, True
        e = power * dur + climbs[i] * (dur / durs[i])
        rows.append((v, kind, sensing, t, t + dur, x0, y0, z0, x1, y1, z1, e, b - e))
        starts.append(t)
        t += dur
        b -= e
        x0, y0, z0 = x1, y1, z1
        if stop:
            break
        events.append((t, arrive, v, li0 + len(events), -1, -1, x1, y1, z1, math.nan, -1,
                       -1))
    return rows, events, starts, t, b, (x0, y0, z0), stop


@pytest.mark.parametrize("mode", [TO_EMPTY, TO_RESERVE])
def test_limited_block_rows_are_the_python_block_up_to_the_leg_left_open(mode):
    rng = np.random.default_rng(21 + mode)
    power = 150.0 / 3600.0
    k = power / 20.0
    stops = open_legs = 0
    for case in range(300):
        xs, ys, zs = _random_route(rng, int(rng.integers(1, 30)))
        start = (float(xs[0]) + 30.0, float(ys[0]), 100.0)
        durs, climbs, *_ = route_legs(xs, ys, zs, np.zeros(0), *start, 20.0, 4.0, True, 3.5,
                                      2.25, 0.01, 0.0, 0.0)
        box = [(math.inf, -math.inf, math.inf, -math.inf), (-2000.0, 2500.0, -1500.0, 900.0)
               ][case % 2]
        limits = (80.0, 0.047, 4.0, 12.0, 112.0, k, k * MAX_DETOUR, 0.0, 0.0, *box)
        b = float(rng.uniform(60.0, 400.0))
        if mode == TO_EMPTY:
            b = float(rng.uniform(0.0, 5.0))

            def check(ux, uy, horizon, z_end, b0, x0, y0, z0):
                return b0 / power
        else:
            def check(*args, limits=limits):
                return _check(*args, power, limits)
        want = _python_block(7, 2, True, 50.0, *start, b, xs.tolist(), ys.tolist(),
                             zs.tolist(), durs.tolist(), climbs.tolist(), power, 100, 4,
                             lambda *a: math.inf if check(*a) is None else check(*a))
        rows, events, starts, t, i, b_end, *at, stop = block_rows(
            7, 2, True, 50.0, *start, b, xs, ys, zs, durs, climbs, True, power, 100, 4,
            mode, limits)
        k_rows = len(rows)
        if i < len(xs):  # left open at leg i: what came before it is Python's
            open_legs += 1
            assert mode == TO_RESERVE and not stop and durs[i] > 0.0
            assert rows.tobytes() == np.array(want[0][:k_rows]).reshape(-1, 13).tobytes()
            continue
        stops += stop
        assert rows.tobytes() == np.array(want[0]).reshape(-1, 13).tobytes()
        assert events.tobytes() == np.array(want[1]).reshape(-1, 12).tobytes()
        assert (starts.tolist(), t, b_end, tuple(at), stop) == want[2:]
    assert stops >= 10 and (mode == TO_EMPTY or open_legs >= 10)

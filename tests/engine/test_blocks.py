"""The compiled route-block loops give what the plain-Python loops give, bit for bit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fleetsim.engine.blocks import block_rows, route_legs


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
        durs, climbs, total, top = route_legs(xs, ys, zs,
                                              np.zeros(0) if speeds is None else speeds,
                                              *args)
        assert durs.tolist() == want[0]
        assert climbs.tolist() == want[1]
        assert (total, top) == (want[2], want[3])


def test_block_rows_are_the_python_block():
    rng = np.random.default_rng(9)
    xs, ys, zs = _random_route(rng, 30)
    durs, climbs, _, _ = route_legs(xs, ys, zs, np.zeros(0), 10.0, -20.0, 100.0, 18.0, 4.0,
                                    True, 3.5, 2.25, 0.01)
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
    got_rows, got_events, got_starts, end = block_rows(
        v, kind, sensing, t, 10.0, -20.0, 100.0, b, xs, ys, zs, durs, climbs, True, power,
        li0, arrive)
    assert len(rows) < len(xs)  # zero-length legs were skipped
    assert got_rows.tobytes() == np.array(rows, dtype=np.float64).tobytes()
    assert got_events.tobytes() == np.array(events, dtype=np.float64).tobytes()
    assert got_starts.tolist() == starts and end == tt

"""A gridded wind field (``world.wind.grid``): a leg flies in the field interpolated at
its midpoint (closed forms), slices change in time, a constant field flies as the
uniform wind, the reserve matches a brute-force search in the midpoint's wind, the
drift's leeway takes the field's mean, and bad files are clear errors."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from fleetsim.engine import Simulation
from fleetsim.errors import ScenarioError
from fleetsim.scenario import load_scenario_text, scenario_from_source

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_wind import HOME, SCENARIO, D, OutAndBack, V, W, brute_reserve, flown  # noqa: E402

SPACING = 1000.0
NX = NY = 21  # 0 .. 20 km


def grid_scenario(tmp_path, field: np.ndarray, *, step_s: float = 3600.0,
                  extra: str = "", **kw):
    np.save(tmp_path / "wind.npy", field)
    wind = f"{{grid: {{path: wind.npy, spacing_m: {SPACING}, step_s: {step_s}}}{extra}}}"
    text = SCENARIO.format(wind=wind, battery=kw.get("battery", 1e6),
                           duration=kw.get("duration", 20_000))
    return load_scenario_text(text, base_dir=str(tmp_path))


def run(sc, points):
    rec = Simulation(sc, policy=OutAndBack(points)).run()
    return rec.legs, rec.events


def east_half(w: float) -> np.ndarray:
    """Still air west of x = 11 km, a west wind of ``w`` from x = 12 km on."""
    f = np.zeros((NY, NX, 2))
    f[:, 12:, 0] = w
    return f


def test_a_leg_flies_in_the_field_at_its_midpoint(tmp_path):
    # Out 10 -> 13 km east and back: the midpoint 11.5 km lies halfway between the
    # grid points at 11 km (calm) and 12 km (W): the bilinear wind there is W / 2.
    legs, _ = run(grid_scenario(tmp_path, east_half(W)), [(HOME[0] + D, HOME[1])])
    out, _ = flown(legs, "move")
    back, _ = flown(legs, "return")
    assert out.tolist() == pytest.approx([D / (V + W / 2)], rel=1e-12)  # tail wind
    assert back.tolist() == pytest.approx([D / (V - W / 2)], rel=1e-12)  # head wind


def test_a_leg_in_the_calm_half_flies_in_still_air(tmp_path):
    legs, _ = run(grid_scenario(tmp_path, east_half(W)), [(HOME[0] - D, HOME[1])])
    out, _ = flown(legs, "move")
    assert out.tolist() == pytest.approx([D / V], rel=1e-12)


def test_beyond_the_edge_the_field_is_held(tmp_path):
    # A 2 x 2 grid over the south-west 1 km only: the wind there holds everywhere.
    f = np.zeros((2, 2, 2))
    f[..., 1] = W  # a south wind: towards +y
    legs, _ = run(grid_scenario(tmp_path, f), [(HOME[0], HOME[1] + D)])
    out, _ = flown(legs, "move")
    assert out.tolist() == pytest.approx([D / (V + W)], rel=1e-12)


def test_slices_change_in_time(tmp_path):
    # Slice 0 calm, slice 1 (from 500 s) a west wind everywhere: east, back west,
    # east again; the legs start at 10, 310 and 610 s.
    f = np.zeros((2, NY, NX, 2))
    f[1, ..., 0] = W
    legs, _ = run(grid_scenario(tmp_path, f, step_s=500.0),
                  [(HOME[0] + D, HOME[1]), HOME, (HOME[0] + D, HOME[1])])
    out, _ = flown(legs, "move")
    assert out.tolist() == pytest.approx([D / V, D / V, D / (V + W)], rel=1e-12)


def test_a_constant_field_flies_as_the_uniform_wind(tmp_path):
    f = np.zeros((NY, NX, 2))
    f[..., 0], f[..., 1] = 3.0, -2.0  # 13 ** 0.5 m/s from 303.69 degrees
    sc = grid_scenario(tmp_path, f)
    uni = load_scenario_text(SCENARIO.format(
        wind=f"{{speed_mps: {math.hypot(3, 2)}, from_deg: {math.degrees(math.atan2(-3, 2)) % 360}}}",
        battery=1e6, duration=20_000))
    points = [(HOME[0] + D, HOME[1] + 500), (HOME[0] - 1000, HOME[1] + D)]
    a, _ = run(sc, points)
    b, _ = run(uni, points)
    assert a["kind"].tolist() == b["kind"].tolist()
    for col in ("t0_s", "t1_s", "x1_m", "y1_m", "energy_wh"):
        assert a[col] == pytest.approx(b[col], rel=1e-9), col


def test_reserve_point_in_the_midpoints_wind_matches_a_brute_force_search(tmp_path):
    # A field varying smoothly in x; the reserve takes the wind at the midpoint of the
    # way home from the leg's start: the brute force in that same wind.
    f = np.zeros((NY, NX, 2))
    f[..., 0] = np.linspace(-4.0, 4.0, NX)[None, :]
    f[..., 1] = 2.0
    sc = grid_scenario(tmp_path, f)
    rng = np.random.default_rng(11)
    checked = 0
    for _ in range(30):
        sim = Simulation(sc, policy=OutAndBack([]))
        m = sim.motion
        hx, hy = HOME
        x0, y0 = hx + rng.uniform(-3000, 3000), hy + rng.uniform(-3000, 3000)
        heading = rng.uniform(0, 2 * math.pi)
        g = float(rng.uniform(4.0, 16.0))
        ux, uy = g * math.cos(heading), g * math.sin(heading)
        b0 = 2e5 + float(rng.uniform(5.0, 80.0))
        got = m.reserve_time(0, 0.1, ux, uy, 3000.0, 50.0, b0, x0, y0, 50.0, hx, hy)
        wind = m.wind_at(0, 0.0, 0.5 * (x0 + hx), 0.5 * (y0 + hy))
        m.wind_at = lambda v, t, x=None, y=None, w=wind: w  # the brute force's wind
        want, step = brute_reserve(m, 0, 0.1, ux, uy, 3000.0, 50.0, b0, x0, y0, 50.0,
                                   hx, hy)
        if math.isinf(want):
            assert math.isinf(got) or got >= 3000.0 - step
        else:
            assert got == pytest.approx(want, abs=step + 1e-9)
            checked += 1
    assert checked >= 8


def test_drift_leeway_takes_the_fields_mean(tmp_path):
    f = np.zeros((NY, NX, 2))
    f[..., 0] = np.linspace(0.0, 10.0, NX)[None, :]  # mean 5 m/s east
    sc = grid_scenario(tmp_path, f)
    text = sc.source
    text["missions"] = [{"id": "sea", "kind": "search",
                         "area": {"rect": [1000, 1000, 19000, 19000]},
                         "targets": [[5000, 5000]],
                         "drift": {"current_mps": [0.0, 0.5], "leeway": 0.1}}]
    world = Simulation(scenario_from_source(text, base_dir=str(tmp_path)),
                       policy=OutAndBack([])).world
    assert world.target_velocity[0].tolist() == pytest.approx([0.5, 0.5])


@pytest.mark.parametrize("field, message", [
    (np.zeros((4, 4, 3)), "expected a float array of shape (ny, nx, 2) or (T, ny, nx, 2) "
                          "written by numpy.save, found shape (4, 4, 3)"),
    (np.zeros((1, 4, 2)), "the grid is 1 x 4 (rows x columns); at least 2 x 2 points are "
                          "needed to interpolate"),
    (np.full((3, 3, 2), np.nan), "the field holds a value that is not finite (NaN or inf)"),
    (np.full((3, 3, 2), 150.0), "the field holds a component of 150 m/s; at most 100 m/s"),
])
def test_a_bad_grid_file_is_a_clear_error(tmp_path, field, message):
    with pytest.raises(ScenarioError) as info:
        grid_scenario(tmp_path, field)
    text = str(info.value)
    assert "world.wind.grid.path: " + message in text
    assert text.endswith(f"(wind grid file {tmp_path / 'wind.npy'})")


def test_a_missing_grid_file_is_a_clear_error(tmp_path):
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(SCENARIO.format(
            wind="{grid: {path: nowhere.npy, spacing_m: 100}}", battery=1e6, duration=100),
            base_dir=str(tmp_path))
    assert str(info.value).endswith(
        f"world.wind.grid.path: wind grid file not found: {tmp_path / 'nowhere.npy'}")

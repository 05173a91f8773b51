"""Re-flying a recorded run through the multirotor physics: leg report, calibration, CLI.

One small quadrotor (the default airframe) flies a 150 m square at 12 m/s and 50 m
above flat ground, after a takeoff, then holds; a second vehicle never flies.
"""

from __future__ import annotations

import math

import pytest
from needs import require

require("pybullet", "the fidelity tests fly the multirotor model in pybullet")

from speed_profile import capture_speed, profile_time_s, right_angle_corner_speed  # noqa: E402

from fleetsim.cli import main  # noqa: E402
from fleetsim.engine import Simulation  # noqa: E402
from fleetsim.fidelity import Controller, trapezoid_time_s  # noqa: E402
from fleetsim.fidelity.calibrate import (  # noqa: E402
    fit,
    fit_legs,
    residuals_before_after,
    scenario_yaml,
)
from fleetsim.fidelity.report import refly, to_table  # noqa: E402
from fleetsim.metrics import compute_metrics  # noqa: E402
from fleetsim.policy import GoTo, Plan, Policy  # noqa: E402
from fleetsim.rundir import write_run  # noqa: E402
from fleetsim.scenario import load_scenario_text  # noqa: E402

V, SIDE = 12.0, 150.0
SCENARIO = """
schema_version: 1
name: square
run: {duration_s: 80, seed: 1}
world:
  terrain: {source: flat, size_m: [1000, 1000], spacing_m: 50}
  sites: [{id: home, kind: base, position: [400, 400], pads: 2}]
fleet:
  types:
    - {id: quad, kind: multirotor, count: 2, base: home, cruise_speed_mps: 12,
       climb_rate_mps: 3, cruise_altitude_agl_m: 50, battery_wh: 500, hover_power_w: 160,
       cruise_power_w: 150, recharge_time_s: 100, sensor: {footprint_radius_m: 20}}
missions:
  - {id: m, kind: search, area: {rect: [0, 0, 1000, 1000]}, targets: [[900, 900]]}
policy: {name: square}
"""


class Square(Policy):
    """Vehicle 0 flies the square once; vehicle 1 stays on the ground."""

    name = "square"

    def decide(self, now_s, fleet, requests):
        route = [GoTo(550.0, 400.0), GoTo(550.0, 550.0), GoTo(400.0, 550.0), GoTo(400.0, 400.0)]
        return [Plan(0, route) for r in requests if r.reason == "start" and r.vehicle == 0]


@pytest.fixture(scope="module")
def run():
    return Simulation(load_scenario_text(SCENARIO), policy=Square()).run()


@pytest.fixture(scope="module")
def results(run):
    return refly(run, [0])


@pytest.fixture(scope="module")
def run_dir(run, tmp_path_factory):
    out = tmp_path_factory.mktemp("fid") / "run"
    write_run(out, run, compute_metrics(run))
    return out


def test_the_square_is_reflown_leg_by_leg(results):
    kinds = [r.kind for r in results]
    assert kinds == ["takeoff", "move", "move", "move", "move", "hold"]
    takeoff, moves, hold = results[0], results[1:5], results[5]
    # the physics flight starts hovering at the top of the takeoff: not flown
    assert not takeoff.flown and math.isnan(takeoff.flown_s)
    assert all(r.flown and r.flyable and not r.contact for r in results[1:])
    # The ideal speed profile of each side (tests/fidelity/speed_profile.py): from rest
    # along the side (the first from a hover; the others after a right angle, whose
    # velocity is all across them), accelerating at a = 4 and braking at b = 0.8 a to
    # the next corner's speed, passed at s on entering the 1 m capture sphere (to rest
    # at the last). Each side after the first starts at the previous capture point.
    ctl = Controller(max_speed_mps=V, max_climb_mps=3.0)
    a, b, cap = ctl.max_accel_mps2, ctl.brake_fraction * ctl.max_accel_mps2, 1.0
    tau = 1.0 / ctl.vel_gain
    s = capture_speed(right_angle_corner_speed(b, cap), b, cap)
    length = [SIDE - cap] + [math.hypot(SIDE, cap) - cap] * 3
    ends = [s, s, s, capture_speed(0.0, b, cap)]
    ideal = [profile_time_s(n, 0.0, e, V, a, b) for n, e in zip(length, ends, strict=True)]
    # (The first side is the rest-to-rest trapezoid less its slow end: faster.)
    assert ideal[0] < trapezoid_time_s(SIDE, V, a, b)
    for r, t in zip(moves, ideal, strict=True):
        assert r.planned_s == pytest.approx(SIDE / V)
        # Accelerating and braking: every side takes longer than planned, by at least
        # the ideal profile's ramps; the flight lags the profile by at most TAU (the
        # velocity loop), and after a corner by at most s / a more (cancelling the
        # velocity across the new side), never leads it.
        assert r.time_error_s >= t - SIDE / V
        assert t <= r.flown_s <= t + tau + (0.0 if r.starts_at_rest else s / a)
        assert r.flown_wh > 0 and r.planned_wh > 0
        assert r.climb_m == pytest.approx(0.0)
    # After a corner the vehicle starts cap off the new side's line, moving across it
    # at s: it drifts at most s * TAU more before braking at most at a.
    for r in moves[1:]:
        assert r.cross_track_max_m <= cap + s * tau + s * s / (2 * a)
    # A straight side flown from a hover has nothing pushing it off its line but the
    # corner at its end (inside the capture sphere).
    assert moves[0].cross_track_max_m < cap
    assert moves[0].starts_at_rest and not any(r.starts_at_rest for r in moves[1:])
    assert moves[0].turn_rad == 0.0
    assert [r.turn_rad for r in moves[1:]] == pytest.approx([math.pi / 2] * 3)
    # the hold is hovered for its planned duration
    assert hold.flown_s == pytest.approx(hold.planned_s, abs=0.01)
    assert hold.flown_wh > 0
    table = to_table(results)
    assert table["time_error_s"][1] == pytest.approx(moves[0].time_error_s)
    assert table["flyable"].dtype == bool and len(table["leg"]) == 6


def test_calibration_is_positive_and_reduces_the_time_error(results):
    fitted = fit(results)
    quad = fitted["quad"]
    assert quad["leg_overhead_s"] > 0 and quad["turn_penalty_s_per_rad"] > 0
    assert quad["climb_energy_wh_per_m"] == 0.0  # flat route: nothing to fit
    res = residuals_before_after(results, fitted)
    assert res["legs"] == 4
    assert res["time_after_s"] < 0.5 * res["time_before_s"]
    text = scenario_yaml(fitted)
    assert "- id: quad" in text and "leg_overhead_s:" in text
    assert "turn_penalty_s_per_rad:" in text and "climb_energy_wh_per_m:" in text


def test_cli_writes_the_outputs_and_is_deterministic(run_dir, tmp_path, capsys):
    args = ["fidelity", str(run_dir), "--seed", "5", "--gusts", "0.3", "--calibrate"]
    assert main(args) == 0
    cap = capsys.readouterr()
    assert "flyable" in cap.out and "quad" in cap.out
    assert "leg_overhead_s" in cap.out and "mean |leg time error|" in cap.out
    assert "fleetsim: wrote" in cap.err
    first = run_dir / "fidelity"
    names = ["fidelity.csv", "fidelity.json", "fidelity.png", "calibration.yaml"]
    assert all((first / n).is_file() for n in names)
    # only the vehicle that flew: 6 legs
    assert len((first / "fidelity.csv").read_text().splitlines()) == 1 + 6
    again = tmp_path / "again"
    assert main(args + ["--out", str(again)]) == 0
    capsys.readouterr()
    for n in names:
        assert (again / n).read_bytes() == (first / n).read_bytes(), n


@pytest.mark.parametrize("extra, message", [
    (["--vehicle", "7"], "vehicle 7: no such vehicle; the run has vehicles 0..1"),
    (["--vehicle", "1"], "vehicle 1: never flew"),
    (["--wind", "3,4"], "--wind 3,4: expected three numbers"),
])
def test_cli_errors_are_one_line_and_exit_2(run_dir, capsys, extra, message):
    assert main(["fidelity", str(run_dir)] + extra) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_cli_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["fidelity", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not a complete run directory" in err and len(err.strip().splitlines()) == 1


def test_a_vehicle_types_airframe_params_override_the_airframe():
    from types import SimpleNamespace

    from fleetsim.errors import FleetsimError
    from fleetsim.fidelity.report import _airframe
    from fleetsim.scenario import load_scenario_text

    vt = SimpleNamespace(id="quad", airframe="heavy_hexacopter",
                         airframe_params={"mass_kg": 12.0})
    p = _airframe(vt)
    assert p.mass_kg == 12.0 and p.n_rotors == 6
    with pytest.raises(FleetsimError, match="airframe_params"):
        _airframe(SimpleNamespace(id="q", airframe="small_quadrotor",
                                  airframe_params={"mass_kg": -1.0}))
    # In a scenario, an unknown parameter is an input error with its YAML path.
    from fleetsim.errors import ScenarioError
    with pytest.raises(ScenarioError, match=r"airframe_params\.mass: unknown airframe "
                                            r"parameter 'mass'; did you mean 'mass_kg'"):
        load_scenario_text("""
name: af
run: {duration_s: 60}
world: {sites: [{id: b, kind: base, position: [100, 100]}]}
fleet:
  types:
    - {id: q, kind: multirotor, count: 1, base: b, cruise_speed_mps: 10, climb_rate_mps: 3,
       battery_wh: 100, hover_power_w: 100, cruise_power_w: 90, recharge_time_s: 60,
       sensor: {footprint_radius_m: 10}, airframe_params: {mass: 2.0}}
policy: {name: random_search}
""")


def test_a_right_angle_corner_costs_what_the_calibration_says(results):
    """The turn penalty fitted on the square's corners, times pi/2, is the extra time a
    right-angle corner costs in the physics model (the corner legs' time error beyond
    the straight first leg's overhead), to within a quarter of a second."""
    fitted = fit(results)["quad"]
    legs = [r for r in fit_legs(results) if r.kind == "move"]
    corners = [r for r in legs if not r.starts_at_rest]
    assert len(corners) == 3 and all(r.turn_rad == pytest.approx(math.pi / 2) for r in corners)
    measured = sum(r.time_error_s for r in corners) / len(corners)
    assert fitted["turn_penalty_s_per_rad"] * math.pi / 2 == pytest.approx(measured, abs=0.25)

"""The run's time series (timeseries.parquet) and its plot (fleetsim plot)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from fleetsim.cli import EXIT_INPUT, EXIT_OK, main
from fleetsim.engine import Simulation
from fleetsim.errors import RunDirError
from fleetsim.metrics import compute_metrics
from fleetsim.metrics.handmade import recorded_run
from fleetsim.metrics.raster import _first_sample, sample_times
from fleetsim.metrics.timeseries import COLUMNS, TIMESERIES, read_timeseries, timeseries
from fleetsim.policy import GoTo, Plan, Policy, ReturnHome
from fleetsim.rundir import write_run
from fleetsim.scenario import load_scenario_text
from fleetsim.scenario.model import OversightSpec, SeparationSpec, ShiftSpec

P = (0.0, 0.0, 0.0)


def leg(vehicle: int, kind: str, t0: float, t1: float) -> dict:
    return {"vehicle": vehicle, "kind": kind, "t0_s": t0, "t1_s": t1, "p0": P, "p1": P,
            "sensing": False}


def test_fleet_states_and_event_counts_by_step():
    # Vehicle 0 takes off at 30, returns at 100, lands at 150 and charges from
    # 160; vehicle 1 takes off at 50, returns at 120, lands at 170 and waits
    # for the pad from 180. Rows every 30 s; at T = 300 the legs ending at T count.
    legs = [leg(0, "ground", 0, 30), leg(0, "takeoff", 30, 40), leg(0, "move", 40, 100),
            leg(0, "return", 100, 150), leg(0, "land", 150, 160), leg(0, "charge", 160, 300),
            leg(1, "ground", 0, 50), leg(1, "takeoff", 50, 60), leg(1, "move", 60, 120),
            leg(1, "return", 120, 170), leg(1, "land", 170, 180),
            leg(1, "wait_pad", 180, 300)]
    events = [
        {"time_s": 45.0, "kind": "detection", "target": 0},
        {"time_s": 100.0, "kind": "detection", "target": 0},  # seen again: still one
        {"time_s": 200.0, "kind": "detection", "target": 1},
        {"time_s": 100.0, "kind": "delivered", "target": 0},
        {"time_s": 250.0, "kind": "delivered", "target": 1},
        {"time_s": 20.0, "kind": "auth_request", "vehicle": 0, "detail": "retask"},
        {"time_s": 70.0, "kind": "auth_granted", "vehicle": 0, "detail": "retask"},
        {"time_s": 40.0, "kind": "auth_request", "vehicle": 1, "detail": "retask"},
        {"time_s": 130.0, "kind": "ack", "vehicle": 1, "detail": "takeoff", "value": 40.0},
        {"time_s": 100.0, "kind": "los_start", "vehicle": 0, "target": 1},
        {"time_s": 130.0, "kind": "los_end", "vehicle": 0, "target": 1},
        {"time_s": 200.0, "kind": "los_start", "vehicle": 0, "target": 1},
    ]
    run = recorded_run(duration_s=300.0, legs=legs, events=events,
                       footprint_radius_m=[10.0, 10.0], targets_xy=[(1, 1), (2, 2)],
                       orders=[{}, {}], timeseries_step_s=30.0)
    ts = timeseries(run)
    assert list(ts) == list(COLUMNS)
    assert ts["time_s"].tolist() == [30.0 * k for k in range(11)]
    #                        0  30 60 90 120 150 180 210 240 270 300
    assert ts["airborne"].tolist() == [0, 1, 2, 2, 2, 2, 0, 0, 0, 0, 0]
    assert ts["returning"].tolist() == [0, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0]
    assert ts["charging"].tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    assert ts["queued_for_pad"].tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    assert ts["on_ground"].tolist() == [2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert ts["detections"].tolist() == [0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2]
    assert ts["orders_delivered"].tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2]
    # No mission area, no oversight or separation in the scenario: null columns.
    for name in ("coverage_fraction", "idleness_mean_s", "operator_queue", "los_active"):
        assert ts[name] is None
    sc = dataclasses.replace(run.scenario, oversight=OversightSpec(),
                             separation=SeparationSpec())
    ts = timeseries(dataclasses.replace(run, scenario=sc))
    # Requests: v0 open [20, 70); v1 open from 40 (never decided); an ack
    # raised at 130 - 40 = 90 and done at 130.
    assert ts["operator_queue"].tolist() == [0, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1]
    assert ts["los_active"].tolist() == [0, 0, 0, 0, 1, 0, 0, 1, 1, 1, 1]


def test_columns_that_do_not_apply_are_null():
    run = recorded_run(duration_s=90.0, legs=[leg(0, "ground", 0, 90)],
                       footprint_radius_m=[10.0])
    ts = timeseries(run)
    assert ts["time_s"].tolist() == [0.0, 60.0]  # the default step, 60 s
    assert ts["on_ground"].tolist() == [1, 1]
    assert [k for k, v in ts.items() if v is None] == [
        "coverage_fraction", "idleness_mean_s", "detections", "orders_delivered",
        "operator_queue", "los_active", "operators_on_duty", "operators_busy"]


def test_operators_on_duty_and_busy_by_step():
    # Shifts: one operator on [0, 100), a second on [50, 250), nobody on [250, 280),
    # one on [280, 300) (T = 300: a shift ending at T is on duty at T, as a leg
    # ending at T is the vehicle's state at T). Operator 0 serves [20, 70) and [80, 110) (past its shift: still
    # busy); operator 1 serves [70, 130) and takes an item at 290 it never ends
    # (busy until T). A two-person item: both serve [160, 200). Rows every 10 s
    # from 0 to 300; the work end at 110 is not busy at 110 (``[start, end)``).
    work = [(20, "work_start", 0), (70, "work_end", 0), (70, "work_start", 1),
            (80, "work_start", 0), (110, "work_end", 0), (130, "work_end", 1),
            (160, "work_start", 0), (160, "work_start", 1), (200, "work_end", 0),
            (200, "work_end", 1), (290, "work_start", 1)]
    events = [{"time_s": float(t), "kind": k, "vehicle": 0, "operator": op,
               "detail": "approve"} for t, k, op in work]
    run = recorded_run(duration_s=300.0, legs=[leg(0, "ground", 0, 300)], events=events,
                       footprint_radius_m=[10.0], timeseries_step_s=10.0)
    shifts = (ShiftSpec(0.0, 100.0, 1), ShiftSpec(50.0, 250.0, 1),
              ShiftSpec(280.0, 300.0, 1))
    sc = dataclasses.replace(run.scenario, oversight=OversightSpec(operators=2,
                                                                   shifts=shifts))
    ts = timeseries(dataclasses.replace(run, scenario=sc))
    t = ts["time_s"].tolist()
    assert t == [10.0 * k for k in range(31)]
    on = {x: 1 if x < 50 else 2 if x < 100 else 1 if x < 250 else 0 if x < 280 else 1
          for x in t}
    assert ts["operators_on_duty"].tolist()[-4:] == [0, 1, 1, 1]  # t = 270 .. 300
    assert ts["operators_on_duty"].tolist() == [on[x] for x in t]
    busy = {x: (20 <= x < 70 or 80 <= x < 110) + (70 <= x < 130) + 2 * (160 <= x < 200)
            + (x >= 290) for x in t}
    assert ts["operators_busy"].tolist() == [busy[x] for x in t]
    # Without shifts every operator is on duty all the time.
    sc = dataclasses.replace(sc, oversight=OversightSpec(operators=3))
    ts = timeseries(dataclasses.replace(run, scenario=sc))
    assert ts["operators_on_duty"].tolist() == [3] * 31


def test_operator_load_of_an_engine_run_with_deterministic_service():
    # One operator; both vehicles ask for approval at t = 0 and each approval takes
    # exactly 30 s: the operator serves vehicle 0 over [0, 30) and vehicle 1 over
    # [30, 60), then is idle to the end (T = 120; rows every 15 s).
    sc = load_scenario_text("""
schema_version: 1
name: operator_load
run: {duration_s: 120, seed: 3}
world:
  terrain: {source: flat, size_m: [20000, 20000], spacing_m: 100}
  sites:
    - {id: home, kind: base, position: [1000, 1000], pads: 4}
fleet:
  types:
    - {id: quad, kind: multirotor, count: 2, base: home, cruise_speed_mps: 10,
       climb_rate_mps: 5, cruise_altitude_agl_m: 50, battery_wh: 1.0e6,
       hover_power_w: 100, cruise_power_w: 100, recharge_time_s: 10,
       sensor: {footprint_radius_m: 20}}
policy: {name: random_search}
oversight:
  operators: 1
  rules:
    retask: {rule: approve, service: 30}
outputs: {timeseries_step_s: 15}
""", filename="<operator_load>")
    run = Simulation(sc, policy=Retask()).run()
    ts = timeseries(run)
    #                                      0  15 30 45 60 75 90 105 120
    assert ts["operators_busy"].tolist() == [1, 1, 1, 1, 0, 0, 0, 0, 0]
    assert ts["operators_on_duty"].tolist() == [1] * 9
    assert ts["operator_queue"].tolist() == [2, 2, 1, 1, 0, 0, 0, 0, 0]
    # Busy over on-duty time, as the utilisation metric: 60 s of 120 s.
    assert compute_metrics(run)["oversight.utilization_mean"] == 0.5


class Retask(Policy):
    """Each vehicle flies 1000 m east as a ``retask`` (needs approval)."""

    name = "retask"

    def decide(self, now_s, fleet, requests):
        return [Plan(r.vehicle, [GoTo(float(fleet.home_xy[r.vehicle][0]) + 1000.0,
                                      float(fleet.home_xy[r.vehicle][1]),
                                      action_class="retask")])
                for r in requests if r.reason == "start"]


# --- a golden run through the engine --------------------------------------------------
#
# One base with one pad and two quadrotors (10 m/s, 5 m/s climb, 50 m AGL, so
# a take-off or a landing lasts 10 s; 100 Wh, recharge 1000 s from empty).
# Vehicle 0 flies 400 m out and back: take-off [0, 10), out [10, 50), back
# [50, 90), landing [90, 100), charging [100, 220) (12 Wh used). Vehicle 1 flies
# 800 m out and back: take-off [0, 10), out [10, 90), back [90, 170), landing
# [170, 180), then waits for the pad [180, 220) and charges [220, 420).

GOLDEN = """
schema_version: 1
name: golden_ts
run: {duration_s: 480, seed: 1, monitor_window_s: 10}
world:
  terrain: {source: flat, size_m: [2000, 1000], spacing_m: 50}
  sites:
    - {id: home, kind: base, position: [100, 100], pads: 1}
fleet:
  types:
    - id: quad
      kind: multirotor
      count: 2
      base: home
      cruise_speed_mps: 10
      climb_rate_mps: 5
      cruise_altitude_agl_m: 50
      battery_wh: 100
      hover_power_w: 720
      cruise_power_w: 360
      reserve_fraction: 0.2
      recharge_time_s: 1000
      terrain_clearance_m: 0
      sensor: {footprint_radius_m: 30}
missions:
  - {id: m, kind: search, area: {rect: [0, 0, 1000, 200]}, targets: [[500, 100]]}
policy: {name: scripted}
outputs: {timeseries_step_s: 30, metrics_cell_m: 100}
"""


class OutAndBack(Policy):
    name = "scripted"

    def decide(self, now_s, fleet, requests):
        far = {0: 500.0, 1: 900.0}
        return [Plan(r.vehicle, [GoTo(far[r.vehicle], 100.0), ReturnHome()])
                for r in requests if r.reason == "start"]


def golden_run():
    return Simulation(load_scenario_text(GOLDEN, filename="<golden>"),
                      policy=OutAndBack()).run()


def test_golden_run_by_step():
    run = golden_run()
    ts = timeseries(run)
    assert ts["time_s"].tolist() == [30.0 * k for k in range(17)]
    #        t = 0  30 60 90 120 150 180 210 240 ... 390 420 450 480
    assert ts["airborne"].tolist() == [2, 2, 2, 2, 1, 1] + [0] * 11
    assert ts["returning"].tolist() == [0, 0, 1, 1, 1, 1] + [0] * 11
    assert ts["charging"].tolist() == [0, 0, 0, 0, 1, 1, 1, 1] + [1] * 6 + [0] * 3
    assert ts["queued_for_pad"].tolist() == [0] * 6 + [1, 1] + [0] * 9
    assert ts["on_ground"].tolist() == [0] * 8 + [1] * 6 + [2] * 3
    # Every vehicle is in exactly one of the states at every row.
    total = sum(np.asarray(ts[c]) for c in ("airborne", "charging", "queued_for_pad",
                                            "on_ground"))
    assert total.tolist() == [2] * 17
    # The target at (500, 100) is first seen when vehicle 0 comes within 30 m of it
    # on its way out: 370 m after take-off, at t = 10 + 37 = 47 s.
    assert ts["detections"].tolist() == [0, 0] + [1] * 15
    m = compute_metrics(run)
    assert ts["coverage_fraction"][-1] == m["coverage.fraction"]
    assert ts["orders_delivered"] is None and ts["operator_queue"] is None


def test_the_run_directory_holds_the_series_byte_identically(tmp_path, capsys):
    dirs = []
    for i in range(2):
        run = golden_run()
        dirs.append(write_run(tmp_path / f"r{i}", run, compute_metrics(run)))
    a, b = ((d / TIMESERIES).read_bytes() for d in dirs)
    assert a == b
    table = pq.read_table(dirs[0] / TIMESERIES)
    assert table.column_names == list(COLUMNS)
    assert str(table.schema.field("airborne").type) == "int64"
    assert table.column("operator_queue").null_count == 17
    stored = read_timeseries(dirs[0])
    fresh = timeseries(golden_run())
    for name in COLUMNS:
        if fresh[name] is None:
            assert stored[name] is None
        else:
            assert np.asarray(stored[name], dtype=float).tolist() == \
                np.asarray(fresh[name], dtype=float).tolist()
    # 'fleetsim metrics' rebuilds it, byte for byte.
    (dirs[0] / TIMESERIES).unlink()
    assert main(["metrics", str(dirs[0])]) == EXIT_OK
    assert (dirs[0] / TIMESERIES).read_bytes() == a
    capsys.readouterr()


def test_plot_writes_a_png_and_fails_cleanly(tmp_path, capsys):
    run = golden_run()
    out = write_run(tmp_path / "run", run, compute_metrics(run))
    assert main(["plot", str(out)]) == EXIT_OK
    png = out / "timeseries.png"
    assert capsys.readouterr().out.strip() == str(png)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    # Not a run directory, or a run without its time series: exit 2, one line.
    assert main(["plot", str(tmp_path)]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a complete run directory" in err
    (out / TIMESERIES).unlink()
    assert main(["plot", str(out)]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert err == (f"fleetsim: error: {out}: no timeseries.parquet (runs written before time "
                   f"series existed lack it); rebuild it with: fleetsim metrics {out}\n")
    assert main(["plot", str(tmp_path / "nowhere")]) == EXIT_INPUT
    assert capsys.readouterr().err.count("\n") == 1


def test_the_step_is_a_validated_scenario_key():
    sc = load_scenario_text(GOLDEN, filename="<golden>")
    assert sc.outputs.timeseries_step_s == 30.0
    assert json.loads(json.dumps(sc.source))["outputs"]["timeseries_step_s"] == 30.0
    default = load_scenario_text(GOLDEN.replace("timeseries_step_s: 30, ", ""),
                                 filename="<golden>")
    assert default.outputs.timeseries_step_s == 60.0
    from fleetsim.errors import ScenarioError

    for bad, words in (("0", "expected a number > 0"), ("-5", "expected a number > 0"),
                       ("0.0001", "at most 1,000,000")):
        with pytest.raises(ScenarioError) as exc:
            load_scenario_text(GOLDEN.replace("timeseries_step_s: 30",
                                              f"timeseries_step_s: {bad}"),
                               filename="<golden>")
        assert "outputs.timeseries_step_s" in str(exc.value) and words in str(exc.value)


def test_sample_indices_by_arithmetic_match_searchsorted():
    rng = np.random.default_rng(3)
    for duration, step in ((3600.0, 60.0), (100.0, 0.1), (1000.0, 7.3)):
        samples = sample_times(duration, step)
        x = np.concatenate([samples, np.nextafter(samples, -1.0), np.nextafter(samples, 1e9),
                            rng.uniform(0.0, duration, 2000), [0.0, duration]])
        for after, side in ((False, "left"), (True, "right")):
            assert np.array_equal(_first_sample(samples, x, after=after),
                                  np.searchsorted(samples, x, side=side))
    irregular = np.array([0.0, 1.0, 3.0])
    assert _first_sample(irregular, np.array([2.0, 3.0]), after=True).tolist() == [2, 3]


def test_a_file_written_before_the_operator_columns_reads_them_as_null(tmp_path):
    run = golden_run()
    out = write_run(tmp_path / "run", run, compute_metrics(run))
    table = pq.read_table(out / TIMESERIES)
    pq.write_table(table.drop(["operators_on_duty", "operators_busy"]), out / TIMESERIES)
    stored = read_timeseries(out)
    assert stored["operators_on_duty"] is None and stored["operators_busy"] is None
    assert stored["airborne"].tolist()[:2] == [2.0, 2.0]
    # Any other missing column is still an error.
    pq.write_table(table.drop(["operator_queue"]), out / TIMESERIES)
    with pytest.raises(RunDirError, match="no column 'operator_queue'"):
        read_timeseries(out)

"""What the built-in policies do, run through the engine on small flat worlds."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from fleetsim.checker import CHECK_SCENARIO
from fleetsim.engine import Simulation
from fleetsim.metrics import compute_metrics
from fleetsim.policy import policy_class
from fleetsim.scenario import load_scenario_text


def flat_scenario(
    *,
    policy: str,
    params: str = "{}",
    count: int = 1,
    battery_wh: float = 1.0e6,
    duration_s: float = 3000.0,
    radius: float = 50.0,
    zones: str = "[]",
    area: str = "{rect: [0, 0, 2000, 1000]}",
    base=(0, 0),
    pads: int = 1,
    kind: str = "search",
    window: float = 10.0,
    cell_m: float = 25.0,
):
    text = f"""
schema_version: 1
name: policy_test
run: {{duration_s: {duration_s}, seed: 9, monitor_window_s: {window}}}
world:
  terrain: {{source: flat, size_m: [2200, 1200], spacing_m: 50}}
  zones: {zones}
  sites: [{{id: base, kind: base, position: [{base[0]}, {base[1]}], pads: {pads}}}]
fleet:
  types:
    - {{id: quad, kind: multirotor, count: {count}, base: base, cruise_speed_mps: 20,
       climb_rate_mps: 5, cruise_altitude_agl_m: 50, battery_wh: {battery_wh},
       hover_power_w: 360, cruise_power_w: 360, reserve_fraction: 0.2, recharge_time_s: 600,
       sensor: {{footprint_radius_m: {radius}}}}}
missions:
  - {{id: area, kind: {kind}, area: {area}}}
policy: {{name: {policy}, params: {params}}}
outputs: {{metrics_cell_m: {cell_m}}}
"""
    return load_scenario_text(text, filename="<policy test>")


def moves(run, vehicle: int | None = None):
    legs = run.legs
    sel = legs["kind"] == "move"
    if vehicle is not None:
        sel &= legs["vehicle"] == vehicle
    return np.flatnonzero(sel)


# --------------------------------------------------------------------------- registry


@pytest.mark.parametrize("name", ["lawnmower", "random_search", "persistent_patrol"])
def test_builtins_are_registered_under_their_names(name):
    cls = policy_class(name)
    assert cls.name == name


# --------------------------------------------------------------------------- random search


@pytest.mark.parametrize("transit", [True, False])
def test_random_search_alternates_transit_and_search_legs(transit):
    sc = flat_scenario(
        policy="random_search",
        count=3,
        duration_s=1500.0,
        params=f"{{leg_length_m: 400, search_during_transit: {str(transit).lower()}}}",
    )
    run = Simulation(sc).run()
    legs = run.legs
    ev = run.events
    done = set(ev["leg"][ev["kind"] == "arrive"].tolist())
    area = shapely.box(0, 0, 2000, 1000)
    for v in range(3):
        m = [i for i in moves(run, v).tolist() if i in done]
        assert len(m) >= 6
        assert len(m) % 2 == 0 or m[-1] == moves(run, v)[-1]
        transit_legs, search_legs = m[0::2], m[1::2]
        assert legs["sensing"][transit_legs].tolist() == [transit] * len(transit_legs)
        assert legs["sensing"][search_legs].all()
        # Search legs: 400 m long, midpoint in the mission area; each starts where its
        # transit leg ended.
        length = np.hypot(
            legs["x1_m"][search_legs] - legs["x0_m"][search_legs],
            legs["y1_m"][search_legs] - legs["y0_m"][search_legs],
        )
        assert length == pytest.approx(np.full(len(search_legs), 400.0))
        mid = np.column_stack(
            [
                (legs["x0_m"][search_legs] + legs["x1_m"][search_legs]) / 2,
                (legs["y0_m"][search_legs] + legs["y1_m"][search_legs]) / 2,
            ]
        )
        assert shapely.contains_xy(area, mid[:, 0], mid[:, 1]).all()
        # Headings are not all alike (uniform draws).
        heading = np.arctan2(
            legs["y1_m"][search_legs] - legs["y0_m"][search_legs],
            legs["x1_m"][search_legs] - legs["x0_m"][search_legs],
        )
        assert np.ptp(heading) > 1.0


def test_random_search_legs_differ_between_vehicles_and_seeds():
    def first_search_leg(seed: int) -> np.ndarray:
        sc = flat_scenario(
            policy="random_search", count=2, duration_s=300.0, params="{leg_length_m: 400}"
        )
        from dataclasses import replace

        sc = replace(sc, run=replace(sc.run, seed=seed))
        run = Simulation(sc).run()
        legs = run.legs
        out = []
        for v in range(2):
            i = moves(run, v)[1]
            out.append([legs["x0_m"][i], legs["y0_m"][i], legs["x1_m"][i], legs["y1_m"][i]])
        return np.array(out)

    a, b = first_search_leg(1), first_search_leg(2)
    assert not np.allclose(a[0], a[1])  # two vehicles, two draws
    assert not np.allclose(a, b)  # another seed, other legs
    assert np.array_equal(a, first_search_leg(1))


# --------------------------------------------------------------------------- lawnmower


def test_lawnmower_fleet_covers_the_whole_area_and_goes_home():
    sc = flat_scenario(policy="lawnmower", count=4, duration_s=3000.0, radius=50.0, pads=4)
    run = Simulation(sc).run()
    m = compute_metrics(run)
    assert m["coverage.fraction"] == 1.0
    ev = run.events
    # Each vehicle sweeps once and comes home by itself (no reserve reached).
    assert sorted(ev["vehicle"][ev["kind"] == "return_start"].tolist()) == [0, 1, 2, 3]
    assert not (ev["kind"] == "reserve_reached").any()
    # The strips are shared fairly: equal areas, so similar sweep lengths.
    legs = run.legs
    sweep = [
        legs["t1_s"][moves(run, v)].max() - legs["t0_s"][moves(run, v)].min() for v in range(4)
    ]
    assert max(sweep) < 1.5 * min(sweep)


def test_lawnmower_default_spacing_is_the_sweep_width():
    sc = flat_scenario(policy="lawnmower", radius=25.0, params="{max_leg_m: null}")
    run = Simulation(sc).run()
    legs = run.legs
    i = moves(run, 0)
    long = np.abs(legs["x1_m"][i] - legs["x0_m"][i]) > 1000  # the east-west tracks
    ys = np.unique(legs["y0_m"][i][long])
    assert ys.tolist() == [25.0 + 50.0 * k for k in range(20)]
    assert compute_metrics(run)["coverage.fraction"] == 1.0


def test_lawnmower_resumes_where_it_reached_its_reserve():
    """100 Wh at 0.1 Wh/s of cruising: the vehicle turns home mid-track, recharges, flies
    back to the exact point where it stopped with its sensor off, and sweeps on."""
    sc = flat_scenario(
        policy="lawnmower", params="{spacing_m: 100}", battery_wh=100.0, duration_s=6000.0
    )
    run = Simulation(sc).run()
    legs, ev = run.legs, run.events
    reserve = np.flatnonzero(ev["kind"] == "reserve_reached")
    assert len(reserve) >= 1
    stop_leg = int(ev["leg"][reserve[0]])
    stop = (legs["x1_m"][stop_leg], legs["y1_m"][stop_leg])
    heading = np.array(
        [
            legs["x1_m"][stop_leg] - legs["x0_m"][stop_leg],
            legs["y1_m"][stop_leg] - legs["y0_m"][stop_leg],
        ]
    )
    after = [i for i in moves(run, 0).tolist() if legs["t0_s"][i] > legs["t1_s"][stop_leg]]
    back, on = after[0], after[1]
    assert not legs["sensing"][back]
    assert (legs["x1_m"][back], legs["y1_m"][back]) == pytest.approx(stop)
    assert legs["sensing"][on]
    assert (legs["x0_m"][on], legs["y0_m"][on]) == pytest.approx(stop)
    onward = np.array([legs["x1_m"][on] - legs["x0_m"][on], legs["y1_m"][on] - legs["y0_m"][on]])
    assert np.dot(onward, heading) > 0  # same track, same direction
    assert compute_metrics(run)["coverage.fraction"] == 1.0


def test_lawnmower_without_return_home_stays_out():
    sc = flat_scenario(policy="lawnmower", params="{return_home: false}", duration_s=3000.0)
    run = Simulation(sc).run()
    ev = run.events
    assert not (ev["kind"] == "return_start").any()
    last_leg = run.legs["kind"][np.flatnonzero(run.legs["vehicle"] == 0)[-1]]
    assert last_leg == "hold"


# --------------------------------------------------------------------------- persistent patrol


def patrol_run(
    *, neighbourhood: int, count: int = 3, zones: str = "[]", duration_s: float = 1800.0
):
    sc = flat_scenario(
        policy="persistent_patrol",
        kind="persistent",
        count=count,
        radius=50.0,
        duration_s=duration_s,
        base=(1000, 500),
        zones=zones,
        cell_m=100.0,
        params=f"{{cell_size_m: 100, neighbourhood: {neighbourhood}, decision_period_s: 60}}",
    )
    return Simulation(sc).run()


@pytest.mark.parametrize("neighbourhood", [4, 8])
def test_patrol_steps_from_cell_centre_to_neighbouring_cell_centre(neighbourhood):
    run = patrol_run(neighbourhood=neighbourhood)
    legs = run.legs
    i = moves(run)
    i = i[legs["t1_s"][i] < run.duration_s]  # not the legs cut by the end of the run
    x1, y1 = legs["x1_m"][i], legs["y1_m"][i]
    # Cell centres of the 100 m grid over the area: 50, 150, ...
    assert np.allclose((x1 - 50.0) % 100.0, 0.0) and np.allclose((y1 - 50.0) % 100.0, 0.0)
    step = np.hypot(x1 - legs["x0_m"][i], y1 - legs["y0_m"][i])
    from_centre = np.isclose((legs["x0_m"][i] - 50.0) % 100.0, 0.0) & np.isclose(
        (legs["y0_m"][i] - 50.0) % 100.0, 0.0
    )
    allowed = [100.0] if neighbourhood == 4 else [100.0, 100.0 * np.sqrt(2)]
    ok = np.zeros(len(i), dtype=bool)
    for a in allowed:
        ok |= np.isclose(step, a)
    assert ok[from_centre].all()
    # Patrolling never stops: no hovering in place once started.
    assert not (legs["kind"] == "hold").any()


def test_patrol_keeps_every_cell_recently_seen():
    run = patrol_run(neighbourhood=8, count=3, duration_s=3600.0)
    m = compute_metrics(run)
    assert m["coverage.cells"] == 200  # metrics cells = patrol cells: centres on the path
    assert m["coverage.fraction"] == 1.0
    # 200 cells of 100 m, 3 vehicles at 20 m/s: a full tour of the area by one vehicle
    # takes 20,000 m / 20 = 1,000 s; with three, no cell should wait much longer.
    assert m["patrol.idleness_max_s"] < 1500.0


def test_patrol_avoids_no_fly_zones():
    zone = "[{id: nofly, kind: no_fly, rect: [700, 300, 1300, 700]}]"
    sc = flat_scenario(
        policy="persistent_patrol",
        kind="persistent",
        count=3,
        radius=50.0,
        duration_s=1800.0,
        base=(100, 100),
        zones=zone,
        params="{cell_size_m: 100, neighbourhood: 8, decision_period_s: 60}",
    )
    run = Simulation(sc).run()
    legs = run.legs
    i = moves(run)
    inside = shapely.contains_xy(shapely.box(700, 300, 1300, 700), legs["x1_m"][i], legs["y1_m"][i])
    assert not inside.any()
    m = compute_metrics(run)
    assert m["safety.geofence_entries"] == 0
    assert m["safety.geofence_time_s"] == 0.0


def test_patrol_in_the_check_scenario_respects_its_no_fly_zone():
    sc = load_scenario_text(CHECK_SCENARIO, overrides=["policy.name=persistent_patrol"])
    m = compute_metrics(Simulation(sc).run())
    assert m["safety.geofence_entries"] == 0

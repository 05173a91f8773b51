"""Closed forms from search theory and patrolling that the simulator must reproduce
(see ORACLES.md): random search (Koopman), parallel sweep, and k agents on a ring.

Each test states its sample size and why its tolerance holds. Every run is
seeded, so the tests are deterministic; the tolerances say how far a correct
engine could be from the formula for *some* seed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from fleetsim.engine import Simulation
from fleetsim.metrics import compute_metrics
from fleetsim.metrics.raster import cell_coverage
from fleetsim.planning import boustrophedon, path_length
from fleetsim.scenario import load_scenario_text


def points_yaml(points: np.ndarray) -> str:
    return "[" + ", ".join(f"[{x:.6f}, {y:.6f}]" for x, y in points) + "]"


# --------------------------------------------------------------------------- random search


def test_random_search_matches_koopman_for_independent_legs():
    """Random search with independent uniform legs detects a target with probability
    1 - (1 - q)^N after N legs, q = (2 r l + pi r^2) / A.

    Set-up: a 20 km square (A = 4e8 m^2), 80 vehicles, definite-range sensor r = 35 m,
    legs of l = 1000 m, sensor off in transit. The policy draws each leg's midpoint
    uniformly in A and its heading uniformly; a target at least l/2 + r inside the
    edge is detected by one leg exactly when the midpoint falls in the target's
    "sausage" (a 2r x l rectangle with round ends, area 2rl + pi r^2 = 73,848 m^2), all
    of which lies in A. So per target, one leg detects with probability q exactly.

    Sample: the first K = 60 search legs of each vehicle (N = 4,800 legs, drawn
    i.i.d. whatever the timing; every vehicle completes more than 60 in the run) and
    M = 5,000 targets uniform in the inner square. Expected fraction p ~ 0.59.

    Tolerance: 4 standard deviations of the detected fraction, whose variance over
    targets and legs is at most p(1-p)/M (targets) plus the covariance of target
    pairs, (1-p)^2 [(1 + (q_ij - q^2)/(1-q)^2)^N - 1] per pair with q_ij the chance that
    one leg sees both, bounded on average by (1-p)^2 c N (|S|/|I|)^2 / (1-q)^2 with
    c = (e^x - 1)/x at x = N q/(1-q)^2 (convexity) and |S|/|I| the sausage's share of
    the inner square. sd ~ 0.010, tolerance ~ 0.041 (a 7 % relative error in p). The
    fraction is a sum of many weakly dependent indicators, close to normal: a correct
    engine leaves the band with probability ~1e-4 (at most 1/16 by Chebyshev). (This
    seed: 0.579 against p = 0.588.) Detections on transit legs are checked to be none.
    """
    side, r, leg_m, speed = 20_000.0, 35.0, 1000.0, 50.0
    n_vehicles, k_legs, m_targets = 80, 60, 5000
    margin = leg_m / 2 + r
    targets = np.random.default_rng(20240611).uniform(margin, side - margin, (m_targets, 2))
    text = f"""
schema_version: 1
name: koopman
run: {{duration_s: 20000, seed: 5, monitor_window_s: 60}}
world:
  terrain: {{source: flat, size_m: [{side}, {side}], spacing_m: 500}}
  sites: [{{id: base, kind: base, position: [10000, 10000]}}]
fleet:
  types:
    - {{id: scout, kind: fixed_wing, count: {n_vehicles}, base: base,
       cruise_speed_mps: {speed}, climb_rate_mps: 10, cruise_altitude_agl_m: 100,
       battery_wh: 1.0e9, hover_power_w: 100, cruise_power_w: 100, recharge_time_s: 10,
       sensor: {{footprint_radius_m: {r}}}}}
missions:
  - {{id: area, kind: search, area: {{rect: [0, 0, {side}, {side}]}},
     targets: {points_yaml(targets)}}}
policy:
  name: random_search
  params: {{leg_length_m: {leg_m}, search_during_transit: false}}
"""
    run = Simulation(load_scenario_text(text)).run()
    legs, ev = run.legs, run.events
    search = (legs["kind"] == "move") & legs["sensing"]
    completed = set(ev["leg"][ev["kind"] == "arrive"].tolist())
    chosen = []
    for v in range(n_vehicles):
        mine = np.flatnonzero(search & (legs["vehicle"] == v))
        done = [i for i in mine.tolist() if i in completed]
        assert len(done) >= k_legs, f"vehicle {v} completed only {len(done)} search legs"
        assert mine[:k_legs].tolist() == done[:k_legs]
        chosen += done[:k_legs]
    chosen = np.array(chosen)
    n_legs = len(chosen)
    assert n_legs == n_vehicles * k_legs
    length = np.hypot(
        legs["x1_m"][chosen] - legs["x0_m"][chosen], legs["y1_m"][chosen] - legs["y0_m"][chosen]
    )
    assert length == pytest.approx(np.full(n_legs, leg_m))
    # Nothing is detected on transit legs.
    det = ev["kind"] == "detection"
    assert legs["sensing"][ev["leg"][det]].all()

    seen = np.unique(ev["target"][det & np.isin(ev["leg"], chosen)])
    fraction = len(seen) / m_targets

    sausage = 2 * r * leg_m + math.pi * r * r
    q = sausage / side**2
    p = 1.0 - (1.0 - q) ** n_legs
    x = n_legs * q / (1 - q) ** 2
    c = math.expm1(x) / x
    inner = (side - 2 * margin) ** 2
    var = (
        p * (1 - p) / m_targets + (1 - p) ** 2 * c * n_legs * (sausage / inner) ** 2 / (1 - q) ** 2
    )
    tolerance = 4.0 * math.sqrt(var)
    assert 0.035 < tolerance < 0.045
    assert abs(fraction - p) <= tolerance, (fraction, p, tolerance)


# --------------------------------------------------------------------------- lawnmower


def lawnmower_run(radius: float, spacing: float, targets: np.ndarray | None = None):
    area_targets = "" if targets is None else f", targets: {points_yaml(targets)}"
    text = f"""
schema_version: 1
name: mow
run: {{duration_s: 2000, seed: 5, monitor_window_s: 60}}
world:
  terrain: {{source: flat, size_m: [2200, 1200], spacing_m: 50}}
  sites: [{{id: base, kind: base, position: [0, 0]}}]
fleet:
  types:
    - {{id: quad, kind: multirotor, count: 1, base: base, cruise_speed_mps: 20,
       climb_rate_mps: 5, cruise_altitude_agl_m: 50, battery_wh: 1.0e6, hover_power_w: 100,
       cruise_power_w: 100, recharge_time_s: 10, sensor: {{footprint_radius_m: {radius}}}}}
missions:
  - {{id: area, kind: search, area: {{rect: [0, 0, 2000, 1000]}}{area_targets}}}
policy: {{name: lawnmower, params: {{spacing_m: {spacing}, max_leg_m: null}}}}
outputs: {{metrics_cell_m: 25}}
"""
    return Simulation(load_scenario_text(text)).run()


@pytest.mark.parametrize("radius", [50.0, 60.0])
def test_lawnmower_with_sweep_width_at_least_the_spacing_covers_everything(radius):
    """One vehicle sweeps a 2000 x 1000 m rectangle at spacing S = 100 m with
    W = 2r >= S. Exact, no statistics: every metrics cell (25 m) is covered, and the
    sweep from the first to the last waypoint takes path length / speed (straight
    legs at constant speed, no turn penalty in this model)."""
    run = lawnmower_run(radius, 100.0)
    assert compute_metrics(run)["coverage.fraction"] == 1.0
    ev = run.events
    arrive = ev["kind"] == "arrive"
    xy = np.column_stack([ev["x_m"][arrive], ev["y_m"][arrive]])
    # The vehicle flies exactly the planner's sweep, from the corner nearest its base.
    expected = boustrophedon(shapely.box(0, 0, 2000, 1000), 100.0, start_xy=(0.0, 0.0))
    assert xy == pytest.approx(expected)
    length = path_length(expected)
    assert length == 10 * 2000.0 + 9 * 100.0
    times = ev["time_s"][arrive]
    assert times[-1] - times[0] == pytest.approx(length / 20.0, rel=1e-12)


@pytest.mark.parametrize("sensor, spacing, tracks_y", [
    ("{footprint_radius_m: 50}", 100.0, [50, 150, 250, 350]),  # definite range: W = 2 r
    ("{footprint_radius_m: 120, detection: {model: inverse_cube, sweep_width_m: 80}}", 80.0,
     [40, 120, 200, 280, 360]),
])
def test_lawnmower_spaces_its_tracks_one_sweep_width_apart_by_default(sensor, spacing,
                                                                      tracks_y):
    """Without ``spacing_m`` the lawnmower's track spacing is the sensor's sweep width
    W (2 r for a definite-range sensor, the model's W otherwise): it flies exactly the
    planner's sweep at that spacing."""
    text = f"""
schema_version: 1
name: mow_default
run: {{duration_s: 600, seed: 5, monitor_window_s: 60}}
world:
  terrain: {{source: flat, size_m: [1200, 1200], spacing_m: 50}}
  sites: [{{id: base, kind: base, position: [0, 0]}}]
fleet:
  types:
    - {{id: quad, kind: multirotor, count: 1, base: base, cruise_speed_mps: 20,
       climb_rate_mps: 5, cruise_altitude_agl_m: 50, battery_wh: 1.0e6, hover_power_w: 100,
       cruise_power_w: 100, recharge_time_s: 10, sensor: {sensor}}}
missions:
  - {{id: area, kind: search, area: {{rect: [0, 0, 1000, 400]}}}}
policy: {{name: lawnmower, params: {{max_leg_m: null}}}}
"""
    run = Simulation(load_scenario_text(text)).run()
    ev = run.events
    arrive = ev["kind"] == "arrive"
    xy = np.column_stack([ev["x_m"][arrive], ev["y_m"][arrive]])
    expected = boustrophedon(shapely.box(0, 0, 1000, 400), spacing, start_xy=(0.0, 0.0))
    assert xy == pytest.approx(expected)
    # Tracks along the long side, W / 2 in from the edges, W apart.
    assert np.unique(xy[:, 1]).tolist() == pytest.approx(tracks_y)


def test_lawnmower_with_narrow_sweep_width_detects_w_over_s():
    """Parallel sweep at spacing S = 100 m with W = 2r = 40 m: POD = W/S = 0.4.

    The tracks run east-west at y = 50, 150, ..., 950 across the whole 2000 m; targets
    are uniform in y over [0, 1000] and in x over [r, 2000 - r], so the crossovers at
    the ends (and the transit from the base at the corner) do not reach them. A target
    is then detected iff its distance to the nearest track is <= r: exactly W/S of the
    y-range. Checked per target (exact) and as a fraction of M = 4,000 independent
    targets, a binomial(M, 0.4) count: sd = sqrt(0.4 * 0.6 / M) = 0.0077; tolerance
    4 sd = 0.031 (exceeded with probability ~6e-5 by a correct engine).
    """
    r, spacing, m_targets = 20.0, 100.0, 4000
    rng = np.random.default_rng(7)
    targets = np.column_stack(
        [rng.uniform(r, 2000 - r, m_targets), rng.uniform(0, 1000, m_targets)]
    )
    run = lawnmower_run(r, spacing, targets)
    ev = run.events
    seen = np.unique(ev["target"][ev["kind"] == "detection"])
    offset = np.abs((targets[:, 1] - 50.0 + 50.0) % 100.0 - 50.0)  # to the nearest track
    assert seen.tolist() == np.flatnonzero(offset <= r).tolist()
    fraction = len(seen) / m_targets
    p = 2 * r / spacing
    assert abs(fraction - p) <= 4 * math.sqrt(p * (1 - p) / m_targets)
    assert compute_metrics(run)["detection.probability"] == fraction


# --------------------------------------------------------------------------- ring patrol


def ring_cells() -> list[tuple[float, float]]:
    """Centres of the 36 cells of a 10 x 10 grid of 100 m cells over [100, 1100]^2
    without its inner 8 x 8, counter-clockwise from the south-west corner."""
    c = [(150.0 + 100 * i, 150.0) for i in range(10)]
    c += [(1050.0, 150.0 + 100 * j) for j in range(1, 10)]
    c += [(150.0 + 100 * i, 1050.0) for i in range(8, -1, -1)]
    c += [(150.0, 150.0 + 100 * j) for j in range(8, 0, -1)]
    return c


@pytest.mark.parametrize("k", [3, 4])
def test_persistent_patrol_on_a_ring_circulates_with_period_n_over_k(k):
    """k agents evenly spaced on a ring of n = 36 cells of 100 m, flying at v = 10 m/s,
    visit every cell every P = 3600 m / (k v) (Machado et al. 2002: worst idleness n/k
    in cell times). With a footprint of r = 30 m a cell centre is covered c = 2r/v = 6 s
    per pass, so its idleness rises to P - c between passes.

    Deterministic, so the checks are exact up to rounding (1e-6 s): the steady pass
    period of every cell, read from the legs; each cell's largest idleness and the run's
    idleness_max_s, both from the analytic first-pass times (takeoff t_up = 20 s, then
    the vehicle starting on a base reaches the cell j cells ahead at t_up + 10 j s:
    the leading gap t_up + 10 j - 3 dominates for the last cells before the next base);
    and the mean idleness, exactly, from the same pass times. Against the steady-state
    value (P - c)^2 / (2P) the mean differs only through the start and the end of the
    run: at most (g0^2 + 2 (P - c)^2) / 2 per cell over T = 9000 s (g0 the leading gap),
    under 5 %.
    """
    n, v, r, t_up, T = 36, 10.0, 30.0, 20.0, 9000.0
    cells = ring_cells()
    bases = [cells[n * m // k] for m in range(k)]
    sites = "\n".join(
        f"    - {{id: b{m}, kind: base, position: [{x}, {y}]}}" for m, (x, y) in enumerate(bases)
    )
    counts = ", ".join(f"b{m}: 1" for m in range(k))
    text = f"""
schema_version: 1
name: ring
run: {{duration_s: {T}, seed: 1, monitor_window_s: 60}}
world:
  terrain: {{source: flat, size_m: [1200, 1200], spacing_m: 50}}
  sites:
{sites}
fleet:
  types:
    - {{id: quad, kind: multirotor, bases: {{{counts}}}, cruise_speed_mps: {v},
       climb_rate_mps: 1, cruise_altitude_agl_m: {t_up}, battery_wh: 1.0e9,
       hover_power_w: 100, cruise_power_w: 100, recharge_time_s: 10,
       terrain_clearance_m: 10, sensor: {{footprint_radius_m: {r}}}}}
missions:
  - id: ring
    kind: persistent
    area:
      polygon: [[100, 100], [1100, 100], [1100, 1100], [100, 1100]]
      holes: [[[200, 200], [1000, 200], [1000, 1000], [200, 1000]]]
policy:
  name: persistent_patrol
  params: {{cell_size_m: 100, neighbourhood: 4, decision_period_s: 60}}
outputs: {{metrics_cell_m: 100}}
"""
    run = Simulation(load_scenario_text(text)).run()
    P = n * 100.0 / (k * v)
    c = 2 * r / v
    legs = run.legs
    move = legs["kind"] == "move"
    assert not np.isin(legs["kind"], ["return", "charge"]).any()

    # Pass times of each cell centre (legs arriving there): period exactly P.
    for i, (x, y) in enumerate(cells):
        at = move & np.isclose(legs["x1_m"], x) & np.isclose(legs["y1_m"], y)
        passes = np.sort(legs["t1_s"][at])
        assert len(passes) >= T / P - 2, f"cell {i} passed {len(passes)} times"
        assert np.diff(passes) == pytest.approx(np.full(len(passes) - 1, P), abs=1e-6), (
            f"cell {i} at {(x, y)} is not passed every {P} s"
        )

    # Analytic coverage intervals: cell i is j = i mod (n/k) cells ahead of a base.
    gaps_max, integral = [], []
    for i in range(n):
        j = i % (n // k)
        centre = t_up + 100.0 * j / v + P * np.arange(int(T / P) + 2)
        start = np.maximum(centre - r / v, t_up)
        end = np.minimum(centre + r / v, T)
        keep = start < T
        start, end = start[keep], end[keep]
        gaps = np.r_[start[0], start[1:] - end[:-1], T - end[-1]]
        gaps_max.append(gaps.max())
        integral.append(0.5 * np.sum(gaps**2))
    gaps_max = np.array(gaps_max)

    cov = cell_coverage(run)
    assert cov.n_cells == n
    order = [
        int(np.flatnonzero(np.all(np.isclose(cov.grid.centers, cell), axis=1))[0]) for cell in cells
    ]
    assert cov.idleness_max_s[order] == pytest.approx(gaps_max, abs=1e-6)

    metrics = compute_metrics(run)
    assert metrics["coverage.fraction"] == 1.0
    assert metrics["patrol.idleness_max_s"] == pytest.approx(gaps_max.max(), abs=1e-6)
    assert gaps_max.max() > P - c  # the leading gap is the worst one here
    mean = metrics["patrol.idleness_mean_s"]
    assert mean == pytest.approx(np.sum(integral) / (n * T), rel=1e-8)
    steady = (P - c) ** 2 / (2 * P)
    bound = (gaps_max.max() ** 2 + 2 * (P - c) ** 2) / (2 * T)
    assert bound / steady < 0.05
    assert abs(mean - steady) <= bound

"""Oracle: vrp_planner on the standard CVRP instance E-n22-k4 plans the known optimum.

The instance (tests/data/E-n22-k4.vrp, Christofides & Eilon 1969, via CVRPLIB) becomes
a scenario: its depot a depot, each customer an order with the customer's demand as
its weight (kg), four vehicles of capacity 6,000 kg. Coordinates are metres, so the
planner's straight-line distances rounded to whole metres are CVRPLIB's rounded
EUC_2D distances, and the routes the vehicles fly must cost exactly 375.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from fleetsim.engine import Simulation
from fleetsim.logistics.solvers import read_vrplib
from fleetsim.scenario import load_scenario_text

DATA = Path(__file__).resolve().parents[1] / "data" / "E-n22-k4.vrp"


def test_vrp_planner_reaches_the_known_optimum_of_e_n22_k4():
    _, info = read_vrplib(DATA)
    xy = np.asarray(info["coordinates"], dtype=np.float64)
    text = DATA.read_text().split("DEMAND_SECTION")[1].split("DEPOT_SECTION")[0]
    demand = [int(line.split()[1]) for line in text.strip().splitlines()]
    orders = "\n".join(
        f"    - {{id: c{i}, origin: depot, destination: [{xy[i, 0]:g}, {xy[i, 1]:g}], "
        f"weight_kg: {demand[i]}}}" for i in range(1, len(xy)))
    sc = load_scenario_text(f"""
name: e_n22_k4
run: {{duration_s: 3600, seed: 1}}
world:
  terrain: {{source: flat, size_m: [400, 400], spacing_m: 10}}
  sites:
    - {{id: depot, kind: depot, position: [{xy[0, 0]:g}, {xy[0, 1]:g}], pads: 4,
       loading_bays: 4, loading_time_s: 1}}
fleet:
  types:
    - {{id: lorry, kind: multirotor, count: 4, base: depot, cruise_speed_mps: 10,
        climb_rate_mps: 5, cruise_altitude_agl_m: 10, battery_wh: 100000,
        hover_power_w: 100, cruise_power_w: 100, recharge_time_s: 60,
        payload_kg: {info["capacity"]}, sensor: {{footprint_radius_m: 5}}}}
logistics:
  service_time_s: 1
  orders:
{orders}
policy: {{name: vrp_planner}}
""")
    run = Simulation(sc).run()
    ev = run.events
    delivered = ev["kind"] == "delivered"
    assert delivered.sum() == len(xy) - 1  # every customer served
    cost = 0
    routes = []
    for v in range(4):
        mine = delivered & (ev["vehicle"] == v)
        stops = ev["target"][mine][np.argsort(ev["time_s"][mine], kind="stable")] + 1
        if not len(stops):
            continue
        path = [0, *stops.tolist(), 0]
        routes.append(path)
        assert sum(demand[i] for i in stops) <= info["capacity"]
        cost += sum(math.floor(math.hypot(*(xy[a] - xy[b])) + 0.5)
                    for a, b in zip(path[:-1], path[1:], strict=True))
    assert len(routes) == 4
    assert cost == 375

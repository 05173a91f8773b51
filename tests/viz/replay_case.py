"""The small real run every replay test uses, and the browser settings."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
#: Chunk length of the test bundle: five chunks, so playing and seeking cross chunks.
CHUNK_S = 300.0

# Eight quadrotors from two bases search a field with a lawnmower; their small
# batteries make them return, queue for pads and charge within the run; one zone is
# active only from 600 s to 1200 s.
SCENARIO = """
schema_version: 1
name: viewer_test
description: a small run for the replay viewer tests
run: {duration_s: 1500, seed: 5}
world:
  terrain: {source: procedural, size_m: [4000, 3000], spacing_m: 50, relief_m: 200, ridges: 3,
            base_elevation_m: 100}
  zones:
    - {id: corridor, kind: restricted, polygon: [[1900, 0], [2100, 0], [2100, 3000], [1900, 3000]],
       ceiling_amsl_m: 250}
    - {id: late_tfr, kind: no_fly, polygon: [[2600, 2000], [3400, 2000], [3400, 2800], [2600, 2800]],
       active: {start_s: 600, end_s: 1200}}
  sites:
    - {id: west, kind: base, position: [200, 1500], pads: 2}
    - {id: east, kind: base, position: [3800, 1500], pads: 2}
fleet:
  types:
    - id: quad
      kind: multirotor
      bases: {west: 4, east: 4}
      cruise_speed_mps: 12
      climb_rate_mps: 4
      cruise_altitude_agl_m: 60
      battery_wh: 60
      hover_power_w: 220
      cruise_power_w: 200
      reserve_fraction: 0.25
      recharge_time_s: 400
      terrain_clearance_m: 10
      sensor: {footprint_radius_m: 53}  # not a multiple of the cell: few exact grazes
missions:
  - {id: field, kind: search, area: {rect: [500, 400, 3500, 2600]}, random_targets: 15}
policy: {name: lawnmower, params: {}}
outputs: {metrics_cell_m: 50}
"""

# A tiny logistics run: a van on a road grid whose road (2000..2500, 1000) closes at
# 100 s, a quadrotor, a drone riding on the van, a boat on a strip of water; depots,
# customers, a launch point and a ground station. Scripted (LogisticsScript), so the
# outcomes are known: the van delivers "a" at 450 s (60 s loading twice, 3000 m of
# road around the closure at 10 m/s, 30 s hand-over), the quadrotor cannot lift "h"
# (capacity) and delivers "q", the rider launches from the van at 480 s and delivers
# "r" at 570 s before docking again at 630 s, the boat delivers "p" at 527.5 s
# (3100 m of water at 8 m/s), and "o" (created at 600 s) stays open.
LOGISTICS_SCENARIO = """
schema_version: 1
name: viewer_logistics
description: a tiny logistics run for the replay viewer tests
run: {duration_s: 1200, seed: 4}
world:
  terrain: {source: flat, size_m: [4000, 4000], spacing_m: 100}
  roads: {source: grid, spacing_m: 500, speed_limit_mps: 10, extent: [0, 0, 3000, 4000],
          closures: [{time_s: 100, near: [2250, 1000]}]}
  water: {spacing_m: 250, polygon: [[3200, 0], [4000, 0], [4000, 4000], [3200, 4000]]}
  sites:
    - {id: depot, kind: depot, position: [1000, 1000], pads: 2, loading_time_s: 60}
    - {id: port, kind: depot, position: [3500, 500], pads: 1, loading_time_s: 60}
    - {id: c1, kind: customer, position: [3000, 1000]}
    - {id: c2, kind: customer, position: [1000, 3500]}
    - {id: lp, kind: launch_point, position: [2500, 2500]}
    - {id: gs, kind: ground_station, position: [500, 500], radio_range_m: 20000}
fleet:
  types:
    - {id: van, kind: wheeled, cruise_speed_mps: 15, battery_wh: 50000, cruise_power_w: 5000,
       recharge_time_s: 1800, payload_kg: 200, carrier_slots: 1, count: 1, base: depot}
    - {id: quad, kind: multirotor, cruise_speed_mps: 15, climb_rate_mps: 3,
       cruise_altitude_agl_m: 60, battery_wh: 500, hover_power_w: 400, cruise_power_w: 360,
       recharge_time_s: 1200, payload_kg: 3, sensor: {footprint_radius_m: 20}, count: 1,
       base: depot}
    - {id: rider, kind: multirotor, cruise_speed_mps: 15, climb_rate_mps: 3,
       cruise_altitude_agl_m: 60, battery_wh: 500, hover_power_w: 400, cruise_power_w: 360,
       recharge_time_s: 1200, payload_kg: 3, sensor: {footprint_radius_m: 20}, count: 1,
       carrier: van}
    - {id: boat, kind: vessel, cruise_speed_mps: 8, battery_wh: 100000, cruise_power_w: 10000,
       recharge_time_s: 1800, payload_kg: 500, count: 1, base: port}
logistics:
  service_time_s: 30
  orders:
    - {id: a, origin: depot, destination: c1, weight_kg: 50, created_s: 0}
    - {id: h, origin: depot, destination: c2, weight_kg: 5, created_s: 0}
    - {id: r, origin: depot, destination: [3000, 1600], weight_kg: 2, created_s: 0}
    - {id: p, origin: port, destination: [3600, 3500], weight_kg: 20, created_s: 50}
    - {id: q, origin: depot, destination: [1500, 2000], weight_kg: 2, created_s: 200}
    - {id: o, origin: depot, destination: [500, 3000], weight_kg: 1, created_s: 600}
policy: {name: nearest_dispatch}  # the tests run it with LogisticsScript
"""


def logistics_script():
    """The policy of LOGISTICS_SCENARIO (vehicles: 0 van, 1 quad, 2 boat, 3 rider --
    carried vehicles are numbered last)."""
    from fleetsim.policy import Deliver, Pickup, Plan, Policy, ReturnHome

    class LogisticsScript(Policy):
        name = "viewer_logistics_script"
        mission = "logistics"

        def decide(self, now_s, fleet, requests):
            plans = []
            for r in requests:
                if (r.vehicle, r.reason) == (0, "start"):
                    plans.append(Plan(0, [Pickup(0), Pickup(2), Deliver(0)]))
                elif (r.vehicle, r.reason) == (1, "start"):
                    plans.append(Plan(1, [Pickup(1), Deliver(1)]))  # 5 kg > 3 kg
                elif (r.vehicle, r.reason) == (0, "idle"):
                    plans.append(Plan(3, [Pickup(2), Deliver(2), ReturnHome()]))
                elif (r.reason, r.target) == ("order", 3):
                    plans.append(Plan(2, [Pickup(3), Deliver(3), ReturnHome()]))
                elif (r.reason, r.target) == ("order", 4):
                    plans.append(Plan(1, [Pickup(4), Deliver(4), ReturnHome()]))
            return plans

    return LogisticsScript()


def order_counts_from_events(events, t: float) -> dict[str, int]:
    """Orders created, delivered, failed and pending at t, counted from the events."""
    import numpy as np

    kind, time = events["kind"], events["time_s"]
    n = {k: int(np.sum((kind == k) & (time <= t)))
         for k in ("order_created", "delivered", "order_failed")}
    return {"created": n["order_created"], "delivered": n["delivered"],
            "failed": n["order_failed"],
            "pending": n["order_created"] - n["delivered"] - n["order_failed"]}

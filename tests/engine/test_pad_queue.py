"""The pad queue is first come, first served, whatever the vehicles' indexes.

Golden set-up of ``test_engine_golden`` (cruise 10 m/s, 10 s takeoff and landing at
2 Wh each, 0.01 Wh/m, 100 Wh battery recharged in 1000 s from empty), four quadrotors
and one pad. Vehicle v flies d_v metres east and back: it lands at 20 + d_v / 5 s with
96 - 0.02 d_v Wh and charges 10 (4 + 0.02 d_v) s. They land in the order 1, 3, 0, 2 —
neither the index order nor its reverse — so a queue served by index (either way)
or last come, first served gives another order than the one asserted.
"""

from __future__ import annotations

from test_engine_golden import HOME, Scripted, log_of, scenario

from fleetsim.engine import Simulation
from fleetsim.policy import GoTo, ReturnHome

DISTANCE = {0: 300.0, 1: 100.0, 2: 450.0, 3: 200.0}


def test_vehicles_waiting_for_the_pad_charge_in_the_order_they_landed():
    policy = Scripted({v: [GoTo(HOME[0] + d, HOME[1]), ReturnHome()]
                       for v, d in DISTANCE.items()})
    run = Simulation(scenario(count=4, pads=1, duration_s=600.0), policy=policy).run()
    pads = [e for e in log_of(run) if e[1] in ("landed", "pad_queue", "charge_start",
                                               "charge_end")]
    # landed at 40 (v1), 60 (v3), 80 (v0), 110 (v2); charges of 60, 80, 100 and 130 s
    # one after another from 40.
    assert pads == [
        (40.0, "landed", 1), (40.0, "charge_start", 1),
        (60.0, "landed", 3), (60.0, "pad_queue", 3),
        (80.0, "landed", 0), (80.0, "pad_queue", 0),
        (100.0, "charge_end", 1), (100.0, "charge_start", 3),
        (110.0, "landed", 2), (110.0, "pad_queue", 2),
        (180.0, "charge_end", 3), (180.0, "charge_start", 0),
        (280.0, "charge_end", 0), (280.0, "charge_start", 2),
        (410.0, "charge_end", 2),
    ]
    ev = run.events
    # The event's value is the queue's length with the vehicle in it: v3 alone; v0
    # behind v3; v2 behind v0 (v3 is charging by then).
    queued = ev["kind"] == "pad_queue"
    assert ev["vehicle"][queued].tolist() == [3, 0, 2]
    assert ev["value"][queued].tolist() == [1.0, 2.0, 2.0]
    starts = ev["kind"] == "charge_start"
    assert ev["value"][starts].tolist() == [94.0, 92.0, 90.0, 87.0]

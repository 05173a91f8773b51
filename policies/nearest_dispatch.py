"""Nearest dispatch: each order goes to the nearest idle vehicle that can carry it.

Orders are served oldest first (then by priority). A vehicle can take an order
if its payload is enough and its battery above the reserve covers the trip from
where it is to the order's depot, on to the destination and back home (see
:mod:`policies.logistics_common`). It picks the order up, delivers it and goes
home, where it recharges and waits. Orders no idle vehicle can take wait for
the next vehicle to become idle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fleetsim.policy import Policy, param, positive
from policies.logistics_common import Capabilities, dispatch_nearest


class NearestDispatch(Policy):
    name = "nearest_dispatch"
    mission = "logistics"

    @dataclass(frozen=True)
    class Params:
        energy_margin: float = param(1.1, positive, "safety factor on a trip's estimated energy")

    def reset(self, ctx) -> None:
        super().reset(ctx)
        self.cap = Capabilities(ctx)

    def decide(self, now_s, fleet, requests):
        orders = fleet.orders
        if orders is None:
            return []
        waiting = orders.waiting()
        if not len(waiting):
            return []
        idle = fleet.idle()
        idle = idle[(self.cap.payload[idle] > 0) & ~fleet.docked(idle)] if len(idle) else idle
        if not len(idle):
            return []
        prio = orders.priority[waiting]
        waiting = waiting[np.lexsort((waiting, prio))]
        return dispatch_nearest(self.cap, fleet, waiting, idle, self.params.energy_margin)

"""Nearest dispatch: each order goes to the nearest idle vehicle that can carry it.

Orders are served oldest first (then by priority). A vehicle can take an order
if its payload is enough and its battery above the reserve covers the trip from
where it is to the order's depot, on to the destination and back home (see
:mod:`fleetsim.policies.logistics_common`). It picks the order up, delivers it and goes
home, where it recharges and waits. Air vehicles fly their own legs to the depot and
the destination (:class:`fleetsim.policies.logistics_common.AirLegs`: around active no-fly
zones, keeping the terrain clearance). Orders no idle vehicle can take wait for
the next vehicle to become idle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fleetsim.policies.logistics_common import (
    AirLegs,
    Capabilities,
    dispatch_nearest,
    waiting_and_free,
)
from fleetsim.policy import Policy, param, positive


class NearestDispatch(Policy):
    name = "nearest_dispatch"
    action_classes = frozenset({"pickup", "deliver", "return"})
    mission = "logistics"

    @dataclass(frozen=True)
    class Params:
        energy_margin: float = param(1.1, positive, "safety factor on a trip's estimated energy")

    def reset(self, ctx) -> None:
        super().reset(ctx)
        self.cap = Capabilities(ctx)
        self.air_legs = AirLegs(ctx)

    def decide(self, now_s, fleet, requests):
        waiting, idle = waiting_and_free(self.cap, fleet)
        if not len(waiting):
            return []
        prio = fleet.orders.priority[waiting]
        waiting = waiting[np.lexsort((waiting, prio))]
        return self.air_legs.expand(now_s, fleet, dispatch_nearest(
            self.cap, fleet, waiting, idle, self.params.energy_margin))

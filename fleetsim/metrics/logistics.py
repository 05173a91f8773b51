"""Logistics: orders, delivery times, vehicle use per domain, empty running, queues.

Pure functions of the recorded ``orders`` table, the logistics ``events`` (see
:data:`fleetsim.record.EVENT_KINDS`; their ``target`` is the order's index, the
``order`` column of the orders table) and the ``legs``. The family is absent
(no keys at all) from a run with no orders and no ground or sea vehicle, so the
metrics of a surveillance run do not change. A vehicles table without a
``domain`` column is read as all ``air``.

Orders
------
An order's *outcomes* are its ``delivered`` and ``order_failed`` events.

``logistics.orders_created``
    Rows of the orders table.
``logistics.orders_delivered``
    Orders with at least one ``delivered`` event.
``logistics.orders_failed``
    Orders never delivered whose last outcome is an ``order_failed`` event (an
    order that failed once and was delivered later is delivered).
``logistics.orders_failed.<reason>``
    Of those, the ones whose last ``order_failed`` event gives that reason
    (``detail``), for every reason of :data:`FAILURE_REASONS` (0 when none).
``logistics.orders_open``
    Orders of the table with no outcome at the end of the run.
``logistics.on_time_rate``
    Share of the delivered orders whose (first) delivery was at or before the
    order's ``latest_s`` (an order with no row in the table has no deadline).
    None without deliveries.
``logistics.delivery_time_mean_s``, ``_p50_s``, ``_p95_s``
    Over the delivered orders, time of the first ``delivered`` event minus the
    order's ``created_s`` (for an order with no row: the event's ``value``).
    Percentiles interpolate linearly between order statistics. None without
    deliveries.
``logistics.energy_per_delivery_wh``
    Sum of the legs' ``energy_wh`` / delivered orders (None without deliveries).

Vehicles
--------
Per domain of :data:`DOMAINS` that has a vehicle in the vehicles table:

``logistics.utilization.<domain>``
    Time in the working leg kinds (:data:`BUSY_LEG_KINDS`: not ``ground``,
    ``hold``, ``wait_pad``, ``wait_load``, ``charge`` nor ``docked``), clipped
    to ``[0, T]``, divided by ``vehicles of the domain x T`` (None if ``T`` is 0).
``logistics.distance_km.<domain>``
    Horizontal length of the legs of kinds :data:`TRAVEL_LEG_KINDS` (``move``,
    ``return``), in km. A ``docked`` leg is the carrier's travel, not the
    carried vehicle's.

``logistics.empty_km``
    Horizontal length (km) of the travel legs started while the vehicle carried
    no order. A vehicle carries an order from its ``pickup`` event until the
    order's ``delivered`` or ``order_failed`` event; an order is carried by one
    vehicle at a time, so a ``pickup`` from a carrier takes it off the carrier.
    The load of a leg is the one after every event at or before its ``t0_s``
    (in recorded order): the leg that follows a loading starts loaded, the one
    that follows a delivery starts empty.

Queues and carriers
-------------------
``logistics.load_wait_mean_s``, ``logistics.load_wait_max_s``
    Time queued for a loading bay (``wait_load`` legs) per loading at a depot
    (``pickup`` events not from a carrier; one that found a free bay waited 0 s),
    and the longest wait; None without loadings.
``logistics.pad_wait_mean_s``, ``logistics.pad_wait_max_s``
    The same for charging pads and swap stations: ``wait_pad`` legs per
    ``charge_start``.
``logistics.launches``
    ``launch`` events (a carried vehicle leaving its carrier).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fleetsim.metrics.kinds import event_rows
from fleetsim.record import as_strings, kind_in

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.record import RecordedRun

__all__ = ["BUSY_LEG_KINDS", "DOMAINS", "FAILURE_REASONS", "TRAVEL_LEG_KINDS",
           "carried_at", "logistics_metrics"]

#: Reasons an order fails (``detail`` of ``order_failed``), each with its own count.
FAILURE_REASONS = ("battery", "capacity", "no_route", "stock", "unreachable")
#: Vehicle domains with a utilisation and a distance.
DOMAINS = ("air", "ground", "sea")
#: Leg kinds in which a vehicle is working.
BUSY_LEG_KINDS = ("move", "return", "takeoff", "land", "load", "unload")
#: Leg kinds that travel (count for distance and empty running).
TRAVEL_LEG_KINDS = ("move", "return")
#: Events that mean the run is a logistics one even with an empty orders table.
ORDER_EVENT_KINDS = ("order_created", "order_assigned", "pickup", "delivered", "order_failed")


def _mean(x: np.ndarray) -> float | None:
    return float(np.mean(x)) if len(x) else None


def _max(x: np.ndarray) -> float | None:
    return float(np.max(x)) if len(x) else None


def _percentile(x: np.ndarray, q: float) -> float | None:
    return float(np.percentile(x, q)) if len(x) else None


def _horizontal_m(legs: dict[str, np.ndarray], mask: np.ndarray) -> np.ndarray:
    return np.hypot(np.asarray(legs["x1_m"][mask] - legs["x0_m"][mask], dtype=np.float64),
                    np.asarray(legs["y1_m"][mask] - legs["y0_m"][mask], dtype=np.float64))


def carried_at(run: RecordedRun, vehicle: np.ndarray, time_s: np.ndarray) -> np.ndarray:
    """How many orders each ``vehicle[i]`` carried at ``time_s[i]``, after every
    event at or before that time (module doc, ``logistics.empty_km``); (n,) int64."""
    ev = run.events
    rows = event_rows(run, ("pickup", "delivered", "order_failed"))
    holder: dict[int, int] = {}                    # order -> vehicle carrying it
    load: dict[int, int] = {}
    steps: dict[int, tuple[list[float], list[int]]] = {}  # vehicle -> (times, loads)

    def step(v: int, t: float, delta: int) -> None:
        load[v] = load.get(v, 0) + delta
        times, loads = steps.setdefault(v, ([], []))
        times.append(t)
        loads.append(load[v])

    for kind, v, order, t in zip(ev["kind"][rows].tolist(), ev["vehicle"][rows].tolist(),
                                 ev["target"][rows].tolist(), ev["time_s"][rows].tolist(),
                                 strict=True):
        if order < 0:
            continue
        old = holder.pop(order, None)
        if old is not None:
            step(old, t, -1)
        if kind == "pickup" and v >= 0:
            holder[order] = v
            step(v, t, +1)
    out = np.zeros(len(vehicle), dtype=np.int64)
    vehicle = np.asarray(vehicle)
    time_s = np.asarray(time_s, dtype=np.float64)
    # One search per vehicle over all its queries (its steps are in time order).
    order = np.argsort(vehicle, kind="stable")
    bounds = np.searchsorted(vehicle[order], list(steps), side="left")
    ends = np.searchsorted(vehicle[order], list(steps), side="right")
    for (times, loads), a, b in zip(steps.values(), bounds.tolist(), ends.tolist(),
                                    strict=True):
        if a == b:
            continue
        q = order[a:b]
        k = np.searchsorted(np.asarray(times), time_s[q], side="right") - 1
        out[q] = np.where(k >= 0, np.asarray(loads)[np.maximum(k, 0)], 0)
    return out


def _order_outcomes(run: RecordedRun) -> tuple[dict[int, float], dict[int, str], dict[int, float]]:
    """Per order: time of its first delivery, reason of its last failure, and the
    ``value`` of its first ``delivered`` event."""
    ev = run.events
    rows = event_rows(run, ("delivered", "order_failed"))
    delivered: dict[int, float] = {}
    value: dict[int, float] = {}
    failed: dict[int, str] = {}
    for kind, order, t, x, detail in zip(ev["kind"][rows].tolist(), ev["target"][rows].tolist(),
                                         ev["time_s"][rows].tolist(),
                                         ev["value"][rows].tolist(),
                                         ev["detail"][rows].tolist(), strict=True):
        if order < 0:
            continue
        if kind == "delivered":
            if order not in delivered:
                delivered[order] = t
                value[order] = x
        else:
            failed[order] = str(detail)
    return delivered, failed, value


def logistics_metrics(run: RecordedRun) -> dict[str, float | int | None]:
    """The ``logistics.*`` metrics of ``run``; empty for a run with no orders and
    no ground or sea vehicle."""
    orders = run.orders
    ev = run.events
    legs = run.legs
    vehicle_domain = np.asarray(run.vehicles.get(
        "domain", np.full(len(run.vehicles["vehicle"]), "air", dtype=object)), dtype=object)
    has_orders = len(orders["order"]) > 0 or len(event_rows(run, ORDER_EVENT_KINDS)) > 0
    if not has_orders and not np.any(np.isin(vehicle_domain, ("ground", "sea"))):
        return {}
    T = run.duration_s

    # Orders.
    delivered_at, failure, delivered_value = _order_outcomes(run)
    failed = {o: r for o, r in failure.items() if o not in delivered_at}
    table_orders = np.asarray(orders["order"]).tolist()
    created = dict(zip(table_orders, np.asarray(orders["created_s"]).tolist(), strict=True))
    latest = dict(zip(table_orders, np.asarray(orders["latest_s"]).tolist(), strict=True))
    open_ = sum(1 for o in set(table_orders) if o not in delivered_at and o not in failed)
    times = np.array([t - created[o] if o in created else delivered_value[o]
                      for o, t in delivered_at.items()], dtype=np.float64)
    on_time = sum(1 for o, t in delivered_at.items() if t <= latest.get(o, np.inf))
    n_delivered = len(delivered_at)
    out: dict[str, float | int | None] = {
        "logistics.orders_created": len(table_orders),
        "logistics.orders_delivered": n_delivered,
        "logistics.orders_failed": len(failed),
        "logistics.orders_open": open_,
        "logistics.on_time_rate": on_time / n_delivered if n_delivered else None,
        "logistics.delivery_time_mean_s": _mean(times),
        "logistics.delivery_time_p50_s": _percentile(times, 50.0),
        "logistics.delivery_time_p95_s": _percentile(times, 95.0),
    }
    reasons = list(failed.values())
    for reason in FAILURE_REASONS:
        out[f"logistics.orders_failed.{reason}"] = reasons.count(reason)
    energy = float(np.sum(np.asarray(legs["energy_wh"], dtype=np.float64)))
    out["logistics.energy_per_delivery_wh"] = energy / n_delivered if n_delivered else None

    # Vehicles: use and distance per domain.
    domain_of = dict(zip(np.asarray(run.vehicles["vehicle"]).tolist(), vehicle_domain.tolist(),
                         strict=True))
    leg_domain = np.array([domain_of.get(v, "") for v in np.asarray(legs["vehicle"]).tolist()],
                          dtype=object)
    kind = as_strings(legs["kind"])
    t0 = np.asarray(legs["t0_s"], dtype=np.float64)
    t1 = np.asarray(legs["t1_s"], dtype=np.float64)
    busy = kind_in(kind, BUSY_LEG_KINDS)
    travel = kind_in(kind, TRAVEL_LEG_KINDS)
    busy_s = np.maximum(np.clip(t1, 0.0, T) - np.clip(t0, 0.0, T), 0.0)
    for domain in DOMAINS:
        n = int(np.count_nonzero(vehicle_domain == domain))
        if not n:
            continue
        mine = leg_domain == domain
        out[f"logistics.utilization.{domain}"] = (
            float(np.sum(busy_s[busy & mine])) / (n * T) if T > 0 else None)
        out[f"logistics.distance_km.{domain}"] = (
            float(np.sum(_horizontal_m(legs, travel & mine))) / 1000.0)

    # Empty running.
    rows = np.flatnonzero(travel)
    load = carried_at(run, np.asarray(legs["vehicle"])[rows], t0[rows])
    empty = np.zeros(len(kind), dtype=np.bool_)
    empty[rows[load == 0]] = True
    out["logistics.empty_km"] = float(np.sum(_horizontal_m(legs, empty))) / 1000.0

    # Queues and carriers.
    # Waits per visit: a loading (or charge) that found a free bay (pad) waited 0 s.
    ev_kind = as_strings(ev["kind"])
    loads = int(np.count_nonzero((ev_kind == "pickup") & (as_strings(ev["detail"]) != "carrier")))
    charges = int(np.count_nonzero(ev_kind == "charge_start"))
    for name, waits, visits in (("load", (t1 - t0)[kind == "wait_load"], loads),
                                ("pad", (t1 - t0)[kind == "wait_pad"], charges)):
        visits = max(visits, len(waits))
        out[f"logistics.{name}_wait_mean_s"] = float(np.sum(waits)) / visits if visits \
            else None
        out[f"logistics.{name}_wait_max_s"] = _max(waits) if len(waits) else (
            0.0 if visits else None)
    out["logistics.launches"] = int(np.count_nonzero(ev["kind"] == "launch"))
    return out

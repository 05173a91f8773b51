"""Every metric of ``metrics.json``, declared once: name, unit, meaning, when present.

The metrics reference of the documentation is generated from :data:`METRICS`
(:func:`markdown`), and the test suite fails when a run writes a metric that has
no declaration here. The exact definitions are in the docstring of each family's
module (:mod:`fleetsim.metrics.coverage`, ``patrol``, ``detection``, ...).

A name may hold a placeholder: ``<domain>`` (``air``, ``ground``, ``sea``) or
``<reason>`` (an order's failure reason); :func:`declaration` finds the
declaration of a concrete name.

:data:`RENAMED` maps names that earlier versions wrote to today's, so that a run
directory or sweep table written before a rename still reads
(:func:`canonical_name`, :func:`canonical_metrics`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FAMILIES", "METRICS", "RENAMED", "Metric", "canonical_metrics", "canonical_name",
           "declaration", "markdown", "undeclared"]

#: Values a placeholder of a metric name takes.
PLACEHOLDERS = {
    "<domain>": ("air", "ground", "sea"),
    "<reason>": ("battery", "capacity", "no_route", "stock", "unreachable"),
}


@dataclass(frozen=True)
class Metric:
    """One metric (or one per placeholder value) of ``metrics.json``."""

    name: str
    unit: str  # "s", "m", "km", "Wh", "count", "fraction" (0..1), "ratio", "vehicles"
    doc: str


@dataclass(frozen=True)
class Family:
    """The metrics sharing a prefix, with the module that defines them."""

    prefix: str
    module: str
    when: str  # when the family's keys are present, and when they are null
    metrics: tuple[Metric, ...]


def _m(name: str, unit: str, doc: str) -> Metric:
    return Metric(name, unit, doc)


#: The metric families, in the order of the reference.
FAMILIES: tuple[Family, ...] = (
    Family("coverage", "fleetsim.metrics.coverage",
           "always; null time-to values when the share is never reached", (
               _m("coverage.fraction", "fraction",
                  "Share of the permitted mission-area raster cells (centre in no active "
                  "no-fly zone at the end of the run) whose centre came within a sensing "
                  "footprint at any time."),
               _m("coverage.time_to_50pct_s", "s",
                  "First time 50 % of the cells permitted then had been seen (null if never)."),
               _m("coverage.time_to_90pct_s", "s", "The same for 90 %."),
               _m("coverage.time_to_99pct_s", "s", "The same for 99 %."),
               _m("coverage.fraction_of_area", "fraction",
                  "As `coverage.fraction` over every cell of the mission area, no-fly zones "
                  "ignored."),
               _m("coverage.time_to_50pct_of_area_s", "s",
                  "As `coverage.time_to_50pct_s` over the whole area."),
               _m("coverage.time_to_90pct_of_area_s", "s",
                  "As `coverage.time_to_90pct_s` over the whole area."),
               _m("coverage.time_to_99pct_of_area_s", "s",
                  "As `coverage.time_to_99pct_s` over the whole area."),
               _m("coverage.cells", "count", "Raster cells of the mission area "
                  "(`outputs.metrics_cell_m`)."),
               _m("coverage.cells_permitted", "count",
                  "Cells whose centre is in no active no-fly zone at the end of the run."),
           )),
    Family("patrol", "fleetsim.metrics.patrol",
           "always (idleness: time since a cell was last in a footprint, Machado et al. "
           "2002)", (
               _m("patrol.idleness_mean_s", "s",
                  "Idleness over the permitted area, averaged over cells and time. Idle time "
                  "accrues only while a cell is permitted: inside an active no-fly zone it is "
                  "paused, and resumes (not reset) when the zone ends."),
               _m("patrol.idleness_max_s", "s", "The worst idleness of any permitted cell."),
               _m("patrol.idleness_max_mean_s", "s",
                  "Each cell's worst idleness, averaged over the cells permitted at some time."),
               _m("patrol.idleness_mean_of_area_s", "s",
                  "As `patrol.idleness_mean_s` over every cell of the area all the time."),
               _m("patrol.idleness_max_of_area_s", "s",
                  "As `patrol.idleness_max_s` over the whole area."),
               _m("patrol.idleness_max_mean_of_area_s", "s",
                  "As `patrol.idleness_max_mean_s` over the whole area."),
           )),
    Family("detection", "fleetsim.metrics.detection",
           "always; probability and mean time null without targets (or detections)", (
               _m("detection.targets", "count", "Targets in the world."),
               _m("detection.detected", "count", "Targets detected at least once."),
               _m("detection.probability", "fraction", "Targets detected / targets."),
               _m("detection.mean_time_s", "s",
                  "Mean time of the first detection of the detected targets."),
           )),
    Family("search", "fleetsim.metrics.detection",
           "only when a search mission has a `datum` (its sensing legs' `search_pod` events)", (
               _m("search.pod_cumulative", "fraction",
                  "1 − ∏(1 − POD) over the sensing legs' `search_pod` events: each leg's "
                  "probability of detection against the drifting datum's normal, legs taken "
                  "as independent looks (so it overstates where legs overlap)."),
           )),
    Family("energy", "fleetsim.metrics.energy", "always", (
        _m("energy.total_wh", "Wh", "Energy drawn by the whole fleet (sum over legs)."),
        _m("energy.per_vehicle_wh", "Wh", "`energy.total_wh` / vehicles."),
    )),
    Family("fleet", "fleetsim.metrics.fleet", "always", (
        _m("fleet.vehicles", "count", "Vehicles of the fleet."),
        _m("fleet.legs", "count", "Legs recorded."),
        _m("fleet.distance_m", "m",
           "3-D distance travelled (legs ridden on a carrier are the carrier's)."),
        _m("fleet.utilization", "fraction",
           "Share of vehicle-time airborne or moving (not parked, queued or charging)."),
        _m("fleet.returns_to_base", "count", "`return_start` events."),
        _m("fleet.battery_depletions", "count", "`battery_depleted` events."),
    )),
    Family("safety", "fleetsim.metrics.safety",
           "zones and terrain always; the separation keys (`los_*` to "
           "`deconfliction_extra_m`) only with a `separation` section", (
               _m("safety.geofence_entries", "count",
                  "Entries of air vehicles into active no-fly zones within their altitude "
                  "band."),
               _m("safety.geofence_time_s", "s", "Vehicle-time inside them."),
               _m("safety.restricted_entries", "count", "The same for restricted zones."),
               _m("safety.restricted_time_s", "s", "Vehicle-time inside restricted zones."),
               _m("safety.terrain_violations", "count",
                  "Legs that passed below terrain + `terrain_clearance_m`."),
               _m("safety.los_count", "count",
                  "Losses of separation (pairs inside each other's minima)."),
               _m("safety.los_duration_s", "s", "Their total duration."),
               _m("safety.min_separation_m", "m",
                  "Least horizontal distance reached in a loss (null without one)."),
               _m("safety.intrusion_severity_max", "ratio",
                  "Largest 1 - d_min / R over the losses (R: the horizontal minimum)."),
               _m("safety.intrusion_severity_mean", "ratio", "Its mean over the losses."),
               _m("safety.conflicts_detected", "count",
                  "Predicted losses (`conflict` events) within the look-ahead."),
               _m("safety.conflicts_resolved", "count",
                  "Conflicts after which the pair did not lose separation within the "
                  "look-ahead."),
               _m("safety.strategic_delays", "count",
                  "Take-offs delayed for a conflict-free slot."),
               _m("safety.strategic_delay_mean_s", "s", "Their mean delay."),
               _m("safety.deconfliction_extra_m", "m",
                  "Extra distance flown for strategic layers and tactical steps (layering "
                  "by heading is part of the plan and not counted)."),
           )),
    Family("comms", "fleetsim.metrics.comms", "always; null when the world has no ground "
           "station", (
               _m("comms.link_losses", "count", "Times a vehicle lost radio contact."),
               _m("comms.out_of_link_time_s", "s", "Total vehicle-time out of contact."),
               _m("comms.out_of_link_per_vehicle_s", "s", "The same per vehicle."),
               _m("comms.out_of_link_max_gap_s", "s", "The longest single gap."),
               _m("comms.vehicles_out_of_link_ever", "count",
                  "Vehicles that lost contact at least once."),
           )),
    Family("oversight", "fleetsim.metrics.oversight",
           "always; null without an `oversight` section", (
               _m("oversight.operators", "count", "Operators of the pool "
                  "(`oversight.operators`)."),
               _m("oversight.utilization_mean", "fraction",
                  "Operators' busy time / on-duty time over the run."),
               _m("oversight.utilization_peak", "ratio",
                  "The largest utilization over 10-minute windows every minute (work "
                  "finished after a shift ended still counts, so it can exceed 1)."),
               _m("oversight.approval_wait_mean_s", "s",
                  "Approvals: mean time from request to decision (timeouts included)."),
               _m("oversight.approval_wait_p95_s", "s", "Its 95th percentile."),
               _m("oversight.approval_wait_max_s", "s", "Its maximum."),
               _m("oversight.approvals_requested", "count",
                  "Requests of classes whose rule is `approve`."),
               _m("oversight.approvals_granted", "count", "Of those, granted."),
               _m("oversight.approvals_denied", "count", "Of those, denied."),
               _m("oversight.approvals_timed_out", "count",
                  "Of those, not decided within `timeout_s`."),
               _m("oversight.veto_reviews", "count",
                  "Actions of classes whose rule is `veto` put to an operator "
                  "(`auth_request` events)."),
               _m("oversight.vetoes", "count",
                  "Of those, vetoed within the veto window (`auth_denied`)."),
               _m("oversight.unauthorized_actions", "count",
                  "Actions started without the authorization their class needs "
                  "(should be 0)."),
               _m("oversight.veto_window_violations", "count",
                  "Vetoes that came after the window (`veto_late`)."),
               _m("oversight.actions_refused", "count", "Forbidden actions refused."),
               _m("oversight.acks", "count", "Notifications acknowledged."),
               _m("oversight.ack_latency_mean_s", "s",
                  "Mean time from a notification to its acknowledgement."),
               _m("oversight.detections_reviewed", "count",
                  "Detections and false alarms reviewed."),
               _m("oversight.false_alarms", "count", "False alarms raised."),
               _m("oversight.review_latency_mean_s", "s",
                  "Mean time from a detection to its review."),
               _m("oversight.review_latency_p95_s", "s", "Its 95th percentile."),
               _m("oversight.span_of_control", "vehicles",
                  "Vehicles per operator on duty, averaged over time."),
               _m("oversight.fan_out_estimate", "vehicles",
                  "Olsen & Wood's fan-out FO = NT / (IT + WT) + 1 estimated from the log."),
               _m("oversight.stops", "count", "Stop commands issued."),
               _m("oversight.stop_latency_mean_s", "s",
                  "Mean time from a stop to its vehicles' safe state."),
               _m("oversight.stop_latency_max_s", "s", "Its maximum."),
               _m("oversight.traceable_share", "fraction",
                  "Share of non-auto actions that name the operator who allowed them."),
           )),
    Family("logistics", "fleetsim.metrics.logistics",
           "only in runs with orders or ground or sea vehicles (absent otherwise); a "
           "`<domain>` key for each domain that has a vehicle", (
               _m("logistics.orders_created", "count", "Orders created."),
               _m("logistics.orders_delivered", "count", "Orders delivered."),
               _m("logistics.orders_failed", "count", "Orders that failed for good."),
               _m("logistics.orders_failed.<reason>", "count",
                  "Of those, failed for this reason (battery, capacity, no_route, stock, "
                  "unreachable)."),
               _m("logistics.orders_open", "count",
                  "Orders neither delivered nor failed at the end."),
               _m("logistics.on_time_rate", "fraction",
                  "Share of delivered orders delivered by their `latest_s`."),
               _m("logistics.delivery_time_mean_s", "s",
                  "Mean time from creation to hand-over."),
               _m("logistics.delivery_time_p50_s", "s", "Its median."),
               _m("logistics.delivery_time_p95_s", "s", "Its 95th percentile."),
               _m("logistics.energy_per_delivery_wh", "Wh",
                  "All energy drawn / orders delivered."),
               _m("logistics.utilization.<domain>", "fraction",
                  "Share of the domain's vehicle-time moving, loading or unloading."),
               _m("logistics.distance_km.<domain>", "km",
                  "Distance driven, sailed or flown by the domain's vehicles."),
               _m("logistics.empty_km", "km", "Distance moved carrying no order."),
               _m("logistics.load_wait_mean_s", "s",
                  "Time queued for a loading bay per loading at a depot."),
               _m("logistics.load_wait_max_s", "s", "The longest such wait."),
               _m("logistics.pad_wait_mean_s", "s",
                  "Time queued for a pad or swap station per charge."),
               _m("logistics.pad_wait_max_s", "s", "The longest such wait."),
               _m("logistics.launches", "count", "Drones launched from carriers."),
           )),
)

#: Every declared metric, in reference order.
METRICS: tuple[Metric, ...] = tuple(m for f in FAMILIES for m in f.metrics)

#: Metric names written by earlier versions -> today's name. ``logistics.utilisation.*``
#: was spelled with an s while ``fleet.utilization`` and ``oversight.utilization_*`` had
#: a z; every metric now spells it with a z.
RENAMED: dict[str, str] = {
    f"logistics.utilisation.{d}": f"logistics.utilization.{d}" for d in PLACEHOLDERS["<domain>"]
}


def _pattern(name: str) -> re.Pattern[str]:
    parts = re.split(r"(<\w+>)", name)
    return re.compile("".join(
        "(?:" + "|".join(map(re.escape, PLACEHOLDERS[p])) + ")" if p in PLACEHOLDERS
        else re.escape(p) for p in parts) + r"\Z")


_PATTERNS = [(_pattern(m.name), m) for m in METRICS]


def declaration(name: str) -> Metric | None:
    """The declaration of a concrete metric name (None if it has none)."""
    for pattern, metric in _PATTERNS:
        if pattern.match(name):
            return metric
    return None


def undeclared(names: Iterable[str]) -> list[str]:
    """The names among ``names`` that no declaration covers, sorted."""
    return sorted(n for n in names if declaration(n) is None)


def canonical_name(name: str) -> str:
    """Today's name of a metric, given today's or an earlier one."""
    return RENAMED.get(name, name)


def canonical_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """``metrics`` with earlier names replaced by today's (today's win a clash)."""
    out = {canonical_name(k): v for k, v in metrics.items() if k not in RENAMED}
    for old, new in RENAMED.items():
        if old in metrics and new not in out:
            out[new] = metrics[old]
    return out


def markdown() -> str:
    """The metrics reference page (Markdown), generated from :data:`FAMILIES`."""
    lines = [
        "# Metrics reference",
        "",
        "Every key of `metrics.json`, generated from the declaration in "
        "`fleetsim/metrics/catalog.py`. `metrics.json` is a flat, sorted map; a metric that "
        "does not apply to the run is `null`. Metrics are pure functions of the recorded run "
        "(`fleetsim metrics RUN_DIR` recomputes them); the exact definition of each is in "
        "the docstring of its family's module. Units: `fraction` is a share in 0..1, "
        "`count` a number of things, `ratio` a dimensionless quotient.",
        "",
    ]
    if RENAMED:
        lines += ["Earlier names, still accepted by `fleetsim compare` and `fleetsim sweep` "
                  "(experiment files, `--metrics`, sweep tables written before the rename): " +
                  ", ".join(f"`{o}` → `{n}`" for o, n in sorted(RENAMED.items())) + ".", ""]
    for fam in FAMILIES:
        lines += [f"## `{fam.prefix}.*`", "",
                  f"Present: {fam.when}. Defined in `{fam.module}`.", "",
                  "| metric | unit | meaning |", "|---|---|---|"]
        lines += [f"| `{m.name}` | {m.unit} | {m.doc} |" for m in fam.metrics]
        lines.append("")
    return "\n".join(lines)

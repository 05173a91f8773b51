"""Human oversight: operators, their work queue and service-time distributions.

See DESIGN.md section 4. :class:`OperatorPool` is the finite, scheduled pool of
operators the engine submits approvals, acknowledgements, veto reviews,
detection reviews and stop commands to; the metric functions score its records.
"""

from fleetsim.oversight.distributions import (
    Deterministic,
    Distribution,
    Exponential,
    Gamma,
    Lognormal,
    Uniform,
    parse_distribution,
)
from fleetsim.oversight.operators import (
    DECISIONS,
    KINDS,
    OperatorPool,
    Outcome,
    WorkItem,
    class_counts,
    fan_out,
    oversight_summary,
    shift_schedule,
    span_of_control,
    timed_out_count,
    utilization,
    wait_stats,
)

__all__ = ["DECISIONS", "KINDS", "Deterministic", "Distribution", "Exponential", "Gamma",
           "Lognormal", "OperatorPool", "Outcome", "Uniform", "WorkItem", "class_counts",
           "fan_out", "oversight_summary", "parse_distribution", "shift_schedule",
           "span_of_control", "timed_out_count", "utilization", "wait_stats"]

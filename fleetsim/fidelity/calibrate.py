"""Fit the fast model's calibration fields to the physics re-flight of a run.

Per vehicle type, by least squares over the flown ``move``/``return`` legs of
:func:`fleetsim.fidelity.report.refly` that completed:

- time error per leg (flown - planned, s) ~= ``leg_overhead_s`` x (the leg starts
  at rest) + ``turn_penalty_s_per_rad`` x (turn at its start, rad);
- flown energy per leg (Wh) ~= ``cruise_power_w`` x (the corrected leg time) / 3600
  + ``climb_energy_wh_per_m`` x max(climb, 0): the fast model's cruise power, refitted
  to the rotor power of the physics model, and the extra energy of climbing.

Coefficients are clipped at 0 (the fast model only adds time and energy). The
time fields are fitted as corrections to the fast model as it ran: if the run's
vehicle type already had calibration fields, pass ``base`` (see
:func:`current_values`) to get the values to write in the scenario (current +
correction). The energy fields are fitted on the flown energy itself, so they
are totals whatever the run had.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["FIELDS", "current_values", "fit", "fit_legs", "residuals_before_after",
           "scenario_yaml"]

#: The scenario fields this module fits, in the order written.
FIELDS = ("turn_penalty_s_per_rad", "leg_overhead_s", "climb_energy_wh_per_m",
          "cruise_power_w")
_FIT_KINDS = ("move", "return")


def fit_legs(results: Sequence[Any], type_id: str | None = None) -> list[Any]:
    """The legs a fit uses: flown, completed move/return legs (of ``type_id`` if given)."""
    return [r for r in results if r.flown and r.kind in _FIT_KINDS
            and math.isfinite(r.flown_s) and math.isfinite(r.flown_wh)
            and (type_id is None or r.type_id == type_id)]


def current_values(scenario: Any) -> dict[str, dict[str, float]]:
    """The calibration fields each vehicle type of ``scenario`` has now (0 if absent)."""
    return {t.id: {f: float(getattr(t, f, 0.0) or 0.0) for f in FIELDS if f != "cruise_power_w"}
            for t in scenario.vehicle_types}


def _nnls_clip(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    coef = np.linalg.lstsq(a, y, rcond=None)[0] if len(y) else np.zeros(a.shape[1])
    return np.where(np.isfinite(coef), coef, 0.0)


def fit(results: Sequence[Any],
        base: Mapping[str, Mapping[str, float]] | None = None) -> dict[str, dict[str, float]]:
    """Per vehicle type id: the fitted fields (see the module docstring), plus
    ``energy_intercept_wh`` and ``legs`` (number of legs fitted)."""
    out: dict[str, dict[str, float]] = {}
    for tid in sorted({r.type_id for r in results}):
        legs = fit_legs(results, tid)
        if not legs:
            continue
        rest = np.array([1.0 if r.starts_at_rest else 0.0 for r in legs])
        turn = np.array([r.turn_rad for r in legs])
        dt = np.array([r.time_error_s for r in legs])
        # time: two non-negative coefficients, no intercept; a regressor that never
        # occurs (no turns, say) gets 0
        a = np.stack([rest, turn], axis=1)
        coef = np.zeros(2)
        used = [k for k in range(2) if np.any(a[:, k] != 0)]
        if used:
            c = _nnls_clip(a[:, used], dt)
            coef[used] = c
            # a negative coefficient clipped: refit the other alone
            if len(used) == 2 and np.any(c < 0):
                keep = [used[int(np.argmax(c))]]
                coef[:] = 0.0
                coef[keep] = _nnls_clip(a[:, keep], dt)
        coef = np.maximum(coef, 0.0)
        climb = np.array([max(r.climb_m, 0.0) for r in legs])
        flown = np.array([r.flown_wh for r in legs])
        # Energy: cruise power over the corrected leg time, plus climbing.
        after_s = np.array([r.planned_s for r in legs]) + coef[0] * rest + coef[1] * turn
        if np.any(climb > 0):
            p_wh_s, ce = _nnls_clip(np.stack([after_s, climb], axis=1), flown)
            if ce < 0:
                ce = 0.0
                p_wh_s = float(_nnls_clip(after_s[:, None], flown)[0])
        else:
            ce = 0.0
            p_wh_s = float(_nnls_clip(after_s[:, None], flown)[0])
        ci = float(np.mean(flown - p_wh_s * after_s - ce * climb))
        b = (base or {}).get(tid, {})
        out[tid] = {
            "turn_penalty_s_per_rad": float(coef[1]) + float(b.get("turn_penalty_s_per_rad", 0)),
            "leg_overhead_s": float(coef[0]) + float(b.get("leg_overhead_s", 0)),
            # fitted on the flown energy itself: a total, not a correction
            "climb_energy_wh_per_m": max(float(ce), 0.0),
            "cruise_power_w": max(float(p_wh_s), 0.0) * 3600.0,
            "energy_intercept_wh": float(ci),
            "legs": len(legs),
        }
    return out


def scenario_yaml(fitted: Mapping[str, Mapping[str, float]]) -> str:
    """A YAML snippet: for each vehicle type, the fields to paste under it in the
    scenario's ``fleet.types`` entry with that id."""
    lines = ["# fleetsim fidelity calibration: paste each type's fields under the",
             "# fleet.types entry with that id (values replace any earlier ones)"]
    for tid in sorted(fitted):
        f = fitted[tid]
        lines.append(f"- id: {tid}")
        for name in FIELDS:
            lines.append(f"  {name}: {float(f[name]):.4g}")
        lines.append(f"  # fitted on {int(f.get('legs', 0))} legs; mean energy left "
                     f"unexplained {float(f.get('energy_intercept_wh', 0.0)):.4g} Wh per leg")
    return "\n".join(lines) + "\n"


def residuals_before_after(results: Sequence[Any], fitted: Mapping[str, Mapping[str, float]],
                           base: Mapping[str, Mapping[str, float]] | None = None
                           ) -> dict[str, float]:
    """Mean absolute leg time error (s) and energy error (Wh) on the fitted legs, as the
    run planned them (before) and with the fitted corrections added to the plan (after).
    ``base``: the values the run already had (the corrections are fitted - base)."""
    legs = [r for r in fit_legs(results) if r.type_id in fitted]
    if not legs:
        return {"legs": 0, "time_before_s": math.nan, "time_after_s": math.nan,
                "energy_before_wh": math.nan, "energy_after_wh": math.nan}
    tb, ta, eb, ea = [], [], [], []
    for r in legs:
        f = fitted[r.type_id]
        b = (base or {}).get(r.type_id, {})
        over = f["leg_overhead_s"] - float(b.get("leg_overhead_s", 0))
        turn = f["turn_penalty_s_per_rad"] - float(b.get("turn_penalty_s_per_rad", 0))
        t_corr = over * (1.0 if r.starts_at_rest else 0.0) + turn * r.turn_rad
        # The fast model after calibration: the fitted cruise power over the corrected
        # time, plus the (total) climb energy.
        e_after = (f["cruise_power_w"] / 3600.0 * (r.planned_s + t_corr)
                   + f["climb_energy_wh_per_m"] * max(r.climb_m, 0.0))
        tb.append(abs(r.time_error_s))
        ta.append(abs(r.time_error_s - t_corr))
        eb.append(abs(r.energy_error_wh))
        ea.append(abs(r.flown_wh - e_after))
    return {"legs": len(legs), "time_before_s": float(np.mean(tb)),
            "time_after_s": float(np.mean(ta)), "energy_before_wh": float(np.mean(eb)),
            "energy_after_wh": float(np.mean(ea))}

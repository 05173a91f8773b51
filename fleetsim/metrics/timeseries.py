"""The time series of a run: the fleet's state and the mission's progress, step by step.

A pure function of the recorded run (its legs, events and world), like the
metrics: ``fleetsim run`` writes it as ``timeseries.parquet`` in the run
directory and ``fleetsim metrics RUN_DIR`` rebuilds it. Rows are at
``t = 0, step, 2 step, ...`` up to and including the run's duration ``T``, with
``step = outputs.timeseries_step_s`` (default 60 s). The columns are listed in
:data:`COLUMNS` and documented in :mod:`fleetsim.record`.

At a row's time t, a vehicle's state is that of the leg holding t
(``t0 <= t < t1``); at ``t = T`` that of the leg ending at T (``t0 < T <= t1``).
Counts of events include the events at t. Columns that do not apply to the
run are null in every row (see :data:`COLUMNS`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fleetsim.metrics.coverage import coverage_at
from fleetsim.metrics.detection import first_detections
from fleetsim.metrics.kinds import event_rows, indexed_kinds, leg_mask
from fleetsim.metrics.raster import cell_coverage, sample_times
from fleetsim.record import as_strings

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.record import RecordedRun

__all__ = ["COLUMNS", "FLIGHT_KINDS", "LATER_COLUMNS", "TIMESERIES", "TIMESERIES_PNG",
           "operator_load", "operator_requests",
           "plot_timeseries", "read_timeseries", "timeseries", "write_timeseries"]

#: File names in the run directory.
TIMESERIES = "timeseries.parquet"
TIMESERIES_PNG = "timeseries.png"

#: Columns and their types (``int64`` or ``float64``; any may be null).
COLUMNS: dict[str, type] = {
    "time_s": np.float64,
    "airborne": np.int64,
    "returning": np.int64,
    "charging": np.int64,
    "queued_for_pad": np.int64,
    "on_ground": np.int64,
    "coverage_fraction": np.float64,
    "idleness_mean_s": np.float64,
    "detections": np.int64,
    "orders_delivered": np.int64,
    "operator_queue": np.int64,
    "los_active": np.int64,
    "operators_on_duty": np.int64,
    "operators_busy": np.int64,
}

#: Columns added after the first version: a file without them reads them as null.
LATER_COLUMNS = ("operators_on_duty", "operators_busy")

#: Leg kinds of an aircraft in the air.
FLIGHT_KINDS = ("takeoff", "move", "hold", "return", "land")

#: Column -> the leg kinds it counts (``airborne``: air-domain vehicles only).
_LEG_STATE = {"airborne": FLIGHT_KINDS, "returning": ("return",), "charging": ("charge",),
              "queued_for_pad": ("wait_pad",), "on_ground": ("ground",)}

Series = dict[str, np.ndarray | None]


def _holding(t0: np.ndarray, t1: np.ndarray, times: np.ndarray, T: float) -> np.ndarray:
    """How many of the intervals ``[t0, t1)`` hold each time (``(t0, t1]`` at ``T``)."""
    a = np.sort(t0)
    b = np.sort(t1)
    out = (np.searchsorted(a, times, side="right")
           - np.searchsorted(b, times, side="right")).astype(np.int64)
    end = times >= T
    if end.any():
        out[end] = (np.searchsorted(a, times[end], side="left")
                    - np.searchsorted(b, times[end], side="left"))
    return out


def _leg_states(run: RecordedRun, times: np.ndarray) -> Series:
    legs = run.legs
    t0 = np.asarray(legs["t0_s"], dtype=np.float64)
    t1 = np.asarray(legs["t1_s"], dtype=np.float64)
    vehicle = np.asarray(legs["vehicle"], dtype=np.int64)
    ids = np.asarray(run.vehicles["vehicle"], dtype=np.int64)
    air = np.zeros(max(int(ids.max()) + 1 if len(ids) else 0,
                       int(vehicle.max()) + 1 if len(vehicle) else 0, 1), dtype=bool)
    air[ids[ids >= 0]] = np.asarray(run.vehicles["domain"])[ids >= 0] == "air"
    leg_air = air[np.maximum(vehicle, 0)] & (vehicle >= 0)
    out: Series = {}
    for name, kinds in _LEG_STATE.items():
        mask = leg_mask(run, kinds)
        if name == "airborne":
            mask &= leg_air
        out[name] = _holding(t0[mask], t1[mask], times, run.duration_s)
    return out


def _count_by(times_of_events: np.ndarray, times: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.sort(times_of_events), times, side="right").astype(np.int64)


def operator_requests(run: RecordedRun) -> tuple[np.ndarray, np.ndarray]:
    """Requests to the operators: when each was raised and decided (inf: never).

    - Approvals and veto reviews: an ``auth_request`` is open until the next
      ``auth_granted``, ``auth_denied`` or ``auth_timeout`` of the same vehicle
      and action class (``detail``); with none, until the end.
    - Acknowledgements and reviews: an ``ack`` or ``review`` event closes a
      request raised ``value`` seconds before it (its latency).

    Requests no operator ever took up are only seen through the first rule.
    """
    ev = run.events
    kind = as_strings(ev["kind"])
    time = np.asarray(ev["time_s"], dtype=np.float64)
    raised: list[float] = []
    decided: list[float] = []
    rows = event_rows(run, ("auth_request", "auth_granted", "auth_denied", "auth_timeout"))
    open_: dict[tuple[int, str], list[int]] = {}
    for k, v, d, t in zip(kind[rows].tolist(), ev["vehicle"][rows].tolist(),
                          ev["detail"][rows].tolist(), time[rows].tolist(), strict=True):
        key = (v, d)
        if k == "auth_request":
            open_.setdefault(key, []).append(len(raised))
            raised.append(t)
            decided.append(np.inf)
        elif open_.get(key):
            decided[open_[key].pop(0)] = t
    value = np.asarray(ev["value"], dtype=np.float64)
    served = event_rows(run, ("ack", "review"))
    served = served[np.isfinite(value[served]) & (value[served] >= 0.0)]
    starts = np.concatenate([np.asarray(raised, dtype=np.float64), time[served] - value[served]])
    ends = np.concatenate([np.asarray(decided, dtype=np.float64), time[served]])
    return starts, ends


def operator_load(run: RecordedRun, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Operators on duty and operators busy at each of ``times`` (oversight runs).

    On duty: :func:`fleetsim.metrics.oversight.duty_schedule` (the shifts, or
    every operator all the time without shifts), the count holding at t (at
    ``T``: the count up to ``T``, like the legs ending at T). Busy: the work items of
    :func:`fleetsim.metrics.oversight.work_items` holding t, ``[start, end)``
    (at ``T``: ``(start, end]``), one per operator of a two-person item; as in
    ``oversight.utilization_*``, work finished after a shift ended still counts.
    """
    from fleetsim.metrics.oversight import duty_schedule, work_items

    spec = run.scenario.oversight
    assert spec is not None
    T = run.duration_s
    duty_t, duty_c = duty_schedule(spec, T)
    # The count holding at t; at T the one holding up to T (a shift ending at T counts).
    k = np.where(times >= T, np.searchsorted(duty_t, times, side="left"),
                 np.searchsorted(duty_t, times, side="right")) - 1
    k = np.clip(k, 0, len(duty_c) - 1)
    on_duty = duty_c[k].astype(np.int64)
    w = work_items(run)
    busy = _holding(w["start_s"], w["end_s"], times, T)
    return on_duty, busy


def timeseries(run: RecordedRun) -> Series:
    """The time series of ``run``: column name -> values (None: the column does not
    apply to the run and is null). See :mod:`fleetsim.record` for the columns."""
    with indexed_kinds(run):
        return _timeseries(run)


def _timeseries(run: RecordedRun) -> Series:
    T = run.duration_s
    times = sample_times(T, run.scenario.outputs.timeseries_step_s)
    n = len(times)
    out: Series = {"time_s": times}
    out.update(_leg_states(run, times))

    cells = cell_coverage(run)
    if cells.n_cells and np.array_equal(cells.sample_s, times):
        covered, permitted = coverage_at(cells, times)
        idle_sum, idle_cells = cells.permitted_idleness_at_samples()
        with np.errstate(invalid="ignore", divide="ignore"):
            out["coverage_fraction"] = np.where(permitted > 0, covered / permitted, np.nan)
            out["idleness_mean_s"] = np.where(idle_cells > 0, idle_sum / idle_cells, np.nan)
    else:
        out["coverage_fraction"] = out["idleness_mean_s"] = None

    if len(run.world.targets_xy):
        out["detections"] = _count_by(first_detections(run)[1], times)
    else:
        out["detections"] = None
    sc = run.scenario
    if sc.logistics is not None or len(run.orders["order"]):
        out["orders_delivered"] = _count_by(run.events["time_s"][event_rows(run, "delivered")],
                                            times)
    else:
        out["orders_delivered"] = None
    if sc.oversight is not None:
        start, end = operator_requests(run)
        out["operator_queue"] = (np.searchsorted(np.sort(start), times, side="right")
                                 - np.searchsorted(np.sort(end), times, side="right"))
        out["operators_on_duty"], out["operators_busy"] = operator_load(run, times)
    else:
        out["operator_queue"] = out["operators_on_duty"] = out["operators_busy"] = None
    if sc.separation is not None:
        ev_t = run.events["time_s"]
        out["los_active"] = (_count_by(ev_t[event_rows(run, "los_start")], times)
                             - _count_by(ev_t[event_rows(run, "los_end")], times))
    else:
        out["los_active"] = None
    assert all(v is None or len(v) == n for v in out.values())
    return {name: out[name] for name in COLUMNS}


def _arrow_table(series: Series):
    import pyarrow as pa

    n = len(series["time_s"])  # type: ignore[arg-type]
    arrays = {}
    for name, dtype in COLUMNS.items():
        values = series[name]
        typ = pa.int64() if dtype is np.int64 else pa.float64()
        if values is None:
            arrays[name] = pa.nulls(n, type=typ)
        elif dtype is np.int64:
            arrays[name] = pa.array(np.asarray(values, dtype=np.int64), type=typ)
        else:
            values = np.asarray(values, dtype=np.float64)
            arrays[name] = pa.array(values, type=typ, mask=np.isnan(values))
    return pa.table(arrays)


def write_timeseries(path: str | os.PathLike, run: RecordedRun) -> Path:
    """Write the time series of ``run`` as a Parquet file at ``path``; returns it."""
    import pyarrow.parquet as pq

    path = Path(path)
    pq.write_table(_arrow_table(timeseries(run)), path, compression="zstd",
                   write_statistics=True, store_schema=True)
    return path


def read_timeseries(run_dir: str | os.PathLike) -> Series:
    """The time series stored in a run directory, as float64 columns (NaN: null; None:
    a column that is null in every row, i.e. does not apply to the run)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from fleetsim.errors import RunDirError
    from fleetsim.rundir import read_manifest

    read_manifest(run_dir)
    path = Path(run_dir) / TIMESERIES
    if not path.is_file():
        raise RunDirError(f"{run_dir}: no {TIMESERIES} (runs written before time series "
                          f"existed lack it); rebuild it with: fleetsim metrics {run_dir}")
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise RunDirError(f"{path}: not a readable Parquet table ({exc})") from None
    out: Series = {}
    for name in COLUMNS:
        if name not in table.column_names and name in LATER_COLUMNS:
            out[name] = None  # a file written before the column existed
            continue
        if name not in table.column_names:
            raise RunDirError(f"{path}: no column {name!r}; the file is not one fleetsim "
                              "wrote, or it is from another version")
        col = table.column(name)
        if col.null_count == len(col) and name != "time_s":
            out[name] = None
        else:  # as float64, nulls as NaN
            out[name] = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
    return out


#: Panels of the plot: title, y label, columns (a panel is drawn when one applies).
PANELS = (
    ("Fleet", "vehicles", ("airborne", "returning", "charging", "queued_for_pad", "on_ground")),
    ("Coverage of the permitted area", "fraction", ("coverage_fraction",)),
    ("Mean idleness of the permitted area", "seconds", ("idleness_mean_s",)),
    ("Mission progress", "cumulative count", ("detections", "orders_delivered")),
    ("Oversight and separation", "now", ("operator_queue", "operators_busy",
                                         "operators_on_duty", "los_active")),
)


def plot_timeseries(run_dir: str | os.PathLike) -> Path:
    """Draw the run's time series into ``RUN_DIR/timeseries.png``; returns its path.

    One panel per group of columns (:data:`PANELS`) that apply to the run.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fleetsim.rundir import read_manifest

    name = read_manifest(run_dir).get("scenario_name", "run")
    series = read_timeseries(run_dir)
    t = np.asarray(series["time_s"], dtype=np.float64)
    span = float(t[-1]) if len(t) else 0.0
    scale, unit = (3600.0, "h") if span > 6 * 3600.0 else (60.0, "min")
    panels = [p for p in PANELS if any(series[c] is not None for c in p[2])]
    fig, axes = plt.subplots(len(panels), 1, sharex=True, squeeze=False,
                             figsize=(10.5, 1.0 + 2.2 * len(panels)))
    for ax, (title, ylabel, cols) in zip(axes[:, 0], panels, strict=True):
        for col in cols:
            if series[col] is not None:
                ax.plot(t / scale, series[col], label=col.replace("_", " "), linewidth=1.4,
                        drawstyle="steps-post" if col not in ("coverage_fraction",
                                                              "idleness_mean_s") else "default")
        ax.set_title(title, fontsize=10, loc="left")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        if col == "coverage_fraction":
            ax.set_ylim(0.0, 1.02)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    axes[-1, 0].set_xlabel(f"time ({unit})")
    fig.suptitle(f"{name}: time series (step {t[1] - t[0]:g} s)" if len(t) > 1 else name)
    fig.tight_layout()
    out = Path(run_dir) / TIMESERIES_PNG
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out

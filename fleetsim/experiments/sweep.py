"""Running an experiment: every configuration x seed, resumable, locally or on Dask.

A sweep writes into one folder ``OUT``::

    experiment.json         the resolved experiment (factors, configurations in design
                            order, seeds, baseline, metrics, base scenario, run ids)
    runs/<run_id>/          each run's directory, as ``fleetsim run`` writes it (the
                            replay bundle only with ``replay=True``)
    rows/<run_id>.json      one row per run, written atomically once its run directory
                            is complete: run_id, config, factors, seed, status (ok or
                            error), error, metrics
    results.parquet         the tidy table, one row per run in design order
    results.csv             (configuration, then seed), rebuilt from the rows at the end

Table columns: ``run_id`` (string), ``config`` (int64, index into the
configurations), one column per factor named as the factor (named levels as
strings; path levels typed: int64, float64, bool or string, other values as
YAML flow text), ``seed`` (int64), ``status`` (``ok`` | ``error``), ``error``
(string, null when ok), then every metric any run produced, sorted by name,
as float64 (null where a run has no value). No wall-clock columns: the table
is a function of the runs only.

Running the same sweep again resumes it: a run is skipped when its row exists
and its run directory is complete (errored runs only rerun with
``retry_errors``; every run reruns with ``force``). A run's id includes hashes
of fleetsim's code and of the policy's source (see
:mod:`fleetsim.experiments.spec`), so after a change to either the sweep runs
everything again under new ids; the rows and run directories of the old ids
stay in ``OUT`` but are no longer read. Locally, runs go to a pool of worker processes; a worker
that dies breaks the pool, which is replaced, and the runs that were in it are
resubmitted one at a time (so that a run that kills its worker is found); a
run whose worker died three times is recorded as ``error: worker died``.
With a Dask scheduler, each run is one task (``pure=False``, ``retries=2``)
that writes its run directory under ``OUT`` (a filesystem the workers share)
and returns its row; the client writes the rows. SIGINT or SIGTERM stops
submitting, lets the runs in progress finish and be recorded (a second signal
abandons them) and returns ``interrupted``: rerunning the same command
resumes. Local workers end when the sweep process dies, even by SIGKILL (a
parent-death signal on Linux, and a watchdog thread everywhere); a run they
were writing is cleaned away by the next sweep into the same folder.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import shutil
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleetsim.errors import FleetsimError
from fleetsim.experiments.spec import (
    EXPERIMENT_FORMAT,
    IDENTITY_KEYS,
    Experiment,
    Factor,
    PlannedRun,
    canonical_json,
    flow_text,
)
from fleetsim.metrics.catalog import canonical_metrics

__all__ = ["EXPERIMENT_JSON", "MAX_ATTEMPTS", "RESULTS_CSV", "RESULTS_PARQUET", "ROWS", "RUNS",
           "SweepResult", "read_rows", "results_table", "run_sweep", "run_task"]

EXPERIMENT_JSON = "experiment.json"
ROWS = "rows"
RUNS = "runs"
RESULTS_PARQUET = "results.parquet"
RESULTS_CSV = "results.csv"
LOCK = ".sweep.lock"
#: A run whose worker process dies is tried at most this many times in all.
MAX_ATTEMPTS = 3
WORKER_DIED = "worker died"


@dataclass(frozen=True)
class SweepResult:
    out: Path
    total: int
    #: Runs already recorded when the sweep started (not run again).
    skipped: int
    #: Runs recorded by this sweep.
    ran: int
    #: Rows with status error, over the whole sweep (None if interrupted).
    errors: int | None
    #: The signal that stopped the sweep (``SIGINT``, ``SIGTERM``), or None.
    interrupted: str | None


# --------------------------------------------------------------------------------------
# One run (in a worker process, local or Dask)


#: Linux prctl option: a signal the kernel sends this process when its parent dies.
_PR_SET_PDEATHSIG = 1
#: How often a worker's watchdog checks that the sweep that started it is alive.
WATCHDOG_S = 0.5


def _init_worker(parent: int | None = None) -> None:
    # Ctrl-C in a terminal reaches the whole process group; the sweep decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if parent is not None:
        _die_with_parent(parent)


def _die_with_parent(parent: int) -> None:
    """End this worker process when the sweep process ``parent`` dies, however it
    dies (SIGKILL included): on Linux the kernel's parent-death signal (SIGKILL),
    and everywhere a daemon thread that checks every :data:`WATCHDOG_S` seconds
    whether the parent is still ``parent`` (an orphan is re-parented)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover (no libc prctl)
            pass
    if os.getppid() != parent:  # it died before the signal was asked for
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(WATCHDOG_S)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="fleetsim-sweep-watchdog", daemon=True).start()


def _task(run: PlannedRun, out: Path, experiment: str, replay: bool) -> dict[str, Any]:
    return {"run_id": run.run_id, "config": run.config, "factors": run.factors,
            "seed": run.seed, "source": run.source, "experiment": experiment,
            "run_dir": str(out / RUNS / run.run_id), "replay": replay, "code": run.code}


def _row(task: dict[str, Any], *, metrics: dict[str, Any] | None = None,
         error: str | None = None) -> dict[str, Any]:
    return {"run_id": task["run_id"], "config": task["config"], "factors": task["factors"],
            "seed": task["seed"], "status": "ok" if error is None else "error",
            "error": error, "metrics": metrics or {}}


def run_task(task: dict[str, Any]) -> dict[str, Any]:
    """Simulate one run, write its run directory and return its row.

    A run that raises gives a row with status ``error`` and the exception as
    ``"Type: message"``; nothing is raised.
    """
    try:
        return _row(task, metrics=_execute(task))
    except Exception as exc:  # the run's failure is data, not the sweep's
        text = " ".join(str(exc).split()) or "(no message)"
        return _row(task, error=f"{type(exc).__name__}: {text}")


def _execute(task: dict[str, Any]) -> dict[str, Any]:
    from fleetsim.engine import Simulation
    from fleetsim.metrics import compute_metrics
    from fleetsim.record import code_identity
    from fleetsim.rundir import write_run
    from fleetsim.scenario import scenario_from_source

    t0 = time.perf_counter()
    scenario = scenario_from_source(task["source"], filename=f"run {task['run_id']}")
    sim = Simulation(scenario)
    t1 = time.perf_counter()
    run = sim.run()
    t2 = time.perf_counter()
    metrics = compute_metrics(run)
    t3 = time.perf_counter()
    writers = []
    if task["replay"] and scenario.outputs.replay:
        from fleetsim.replay import write_replay_into

        writers.append(lambda d: write_replay_into(d / "replay", run))
    timings = {"setup": t1 - t0, "simulate": t2 - t1, "metrics": t3 - t2}
    extra = {"wall_clock_s": {k: round(v, 3) for k, v in timings.items()},
             "decisions": sim.n_decisions,
             # The hashes the run id was made with (the code as the sweep planned it).
             "code": task.get("code") or code_identity(scenario),
             "sweep": {"experiment": task["experiment"], "run_id": task["run_id"],
                       "config": task["config"], "factors": task["factors"],
                       "seed": task["seed"]}}
    write_run(task["run_dir"], run, metrics, manifest_extra=extra, extra_writers=writers)
    return metrics


# --------------------------------------------------------------------------------------
# The output folder


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}"
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _dumps(data: Any) -> bytes:
    return (json.dumps(data, sort_keys=True, indent=2, allow_nan=False) + "\n").encode()


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover (not POSIX)
        yield
        return
    with open(out / LOCK, "a+b") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise FleetsimError(f"{out}: another fleetsim sweep is writing to this folder; "
                                "wait for it to finish (or choose another --out)") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _check_out(out: Path, document: dict[str, Any]) -> None:
    """Refuse a folder that is not a sweep folder, or one of another experiment."""
    if out.exists() and not out.is_dir():
        raise FleetsimError(f"{out}: exists and is not a folder; choose another --out")
    if not out.is_dir():
        return
    stored = out / EXPERIMENT_JSON
    if not stored.is_file():
        if any(p.name != LOCK and not (p.name in (ROWS, RUNS) and p.is_dir()
                                       and not any(p.iterdir())) for p in out.iterdir()):
            raise FleetsimError(f"{out}: exists and is not a sweep folder (no {EXPERIMENT_JSON});"
                                " refusing to write into it: choose another --out or remove it "
                                "yourself")
        return
    try:
        old = json.loads(stored.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise FleetsimError(f"{stored}: unreadable ({exc}); remove the folder or choose "
                            "another --out") from None
    if not isinstance(old, dict) or old.get("format_version") != EXPERIMENT_FORMAT:
        raise FleetsimError(f"{stored}: not an experiment of this fleetsim (format version "
                            f"{old.get('format_version') if isinstance(old, dict) else None!r})"
                            "; choose another --out")
    differ = [k for k in IDENTITY_KEYS
              if canonical_json(old.get(k)) != canonical_json(document.get(k))]
    if differ:
        raise FleetsimError(
            f"{out}: holds a sweep of a different experiment ({old.get('experiment')!r}, "
            f"written from {old.get('experiment_file')}); it differs in: {', '.join(differ)}. "
            "Choose another --out, or remove the folder to start over")


def _clean_partials(out: Path) -> None:
    """Leftovers of runs or rows a killed sweep was writing."""
    for folder in (out / RUNS, out / ROWS):
        for p in folder.glob(".*"):
            if ".partial-" in p.name or ".old-" in p.name or ".tmp-" in p.name:
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)


def _read_row(path: Path) -> dict[str, Any] | None:
    try:
        row = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(row, dict) or row.get("status") not in ("ok", "error"):
        return None
    return canonical_metrics(row)  # a row written before a metric was renamed


def read_rows(out: str | os.PathLike, runs: Sequence[PlannedRun]) -> list[dict[str, Any] | None]:
    """The recorded row of each run (None where there is none), in the order given."""
    folder = Path(out) / ROWS
    return [_read_row(folder / f"{r.run_id}.json") for r in runs]


def _complete(out: Path, run_id: str) -> bool:
    d = out / RUNS / run_id
    return (d / "manifest.json").is_file() and (d / "metrics.json").is_file()


# --------------------------------------------------------------------------------------
# The table


def _factor_column(f: Factor) -> tuple[Any, Callable[[Any], Any]]:
    import pyarrow as pa

    if f.named:
        return pa.string(), str
    values = [lv.value for lv in f.levels if lv.value is not None]
    if values and all(isinstance(v, bool) for v in values):
        return pa.bool_(), lambda v: v
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return pa.int64(), lambda v: v
    if values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return pa.float64(), lambda v: None if v is None else float(v)
    if values and all(isinstance(v, str) for v in values):
        return pa.string(), lambda v: v
    return pa.string(), lambda v: None if v is None else flow_text(v)


def results_table(experiment: Experiment, runs: Sequence[PlannedRun],
                  rows: Sequence[dict[str, Any]]):
    """The tidy results table (a ``pyarrow.Table``) of ``rows``, one per run."""
    import pyarrow as pa

    metric_names = sorted({k for row in rows for k in row.get("metrics", {})})
    fields = [pa.field("run_id", pa.string()), pa.field("config", pa.int64())]
    columns: list[list[Any]] = [[r.run_id for r in runs], [r.config for r in runs]]
    for f in experiment.factors:
        typ, conv = _factor_column(f)
        fields.append(pa.field(f.name, typ))
        columns.append([conv(r.factors[f.name]) for r in runs])
    fields += [pa.field("seed", pa.int64()), pa.field("status", pa.string()),
               pa.field("error", pa.string())]
    columns += [[r.seed for r in runs], [row["status"] for row in rows],
                [row.get("error") for row in rows]]
    for name in metric_names:
        fields.append(pa.field(name, pa.float64()))
        col = []
        for row in rows:
            value = row.get("metrics", {}).get(name)
            col.append(None if value is None else float(value))
        columns.append(col)
    schema = pa.schema(fields)
    return pa.table([pa.array(c, type=fl.type) for c, fl in zip(columns, fields, strict=True)],
                    schema=schema)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return str(value)


def _write_table(out: Path, table) -> None:
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", write_statistics=True)
    _write_atomic(out / RESULTS_PARQUET, sink.getvalue())
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(table.column_names)
    for row in zip(*(table.column(i).to_pylist() for i in range(table.num_columns)),
                   strict=True):
        writer.writerow([_csv_cell(v) for v in row])
    _write_atomic(out / RESULTS_CSV, text.getvalue().encode())


# --------------------------------------------------------------------------------------
# Stopping on signals


class _Stop:
    """Counts SIGINT/SIGTERM received while installed (main thread only)."""

    def __init__(self) -> None:
        self.count = 0
        self.signal: str | None = None
        self._old: dict[int, Any] = {}

    def __call__(self, signum: int, frame: Any) -> None:
        self.count += 1
        if self.signal is None:
            self.signal = signal.Signals(signum).name

    def __enter__(self) -> _Stop:
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, self)
        return self

    def __exit__(self, *exc: Any) -> None:
        for s, old in self._old.items():
            signal.signal(s, old)


# --------------------------------------------------------------------------------------
# Executors


def _run_local(tasks: list[dict[str, Any]], workers: int, record: Callable[[dict], None],
               stop: _Stop, say: Callable[[str], None]) -> None:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    ctx = multiprocessing.get_context("spawn")  # no fork of a process with threads
    queue = deque(tasks)
    deaths: Counter[str] = Counter()
    suspects: set[str] = set()  # were in a pool that broke: run alone until they finish
    inflight: dict[Any, dict[str, Any]] = {}
    pool: ProcessPoolExecutor | None = None
    noted = 0

    def kill(p: ProcessPoolExecutor) -> None:
        for proc in list(getattr(p, "_processes", {}).values()):
            with contextlib.suppress(Exception):
                proc.kill()
        p.shutdown(wait=False, cancel_futures=True)

    try:
        while True:
            if stop.count > noted:
                noted = stop.count
                if stop.count == 1 and inflight:
                    say(f"stopping ({stop.signal}): no new runs; waiting for the {len(inflight)} "
                        "running to finish (signal again to abandon them)")
                elif stop.count >= 2 and inflight:
                    say(f"abandoning {len(inflight)} running run(s)")
                    if pool is not None:
                        kill(pool)
                        pool = None
                    inflight.clear()
            if not stop.count:
                while queue and len(inflight) < workers:
                    alone = queue[0]["run_id"] in suspects
                    if (alone and inflight) or any(t["run_id"] in suspects
                                                   for t in inflight.values()):
                        break
                    if pool is None:
                        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                                   initializer=_init_worker,
                                                   initargs=(os.getpid(),))
                    try:
                        fut = pool.submit(run_task, task := queue[0])
                    except BrokenProcessPool:
                        # A worker died since the last wait. With runs in the pool, they
                        # are collected as lost below; this one was never sent.
                        if inflight:
                            break
                        kill(pool)  # nothing was lost with it: a fresh pool
                        pool = None
                        continue
                    queue.popleft()
                    inflight[fut] = task
            if not inflight:
                break
            done, _ = wait(list(inflight), timeout=0.25, return_when=FIRST_COMPLETED)
            lost: list[dict[str, Any]] = []
            for fut in done:
                task = inflight.pop(fut)
                try:
                    row = fut.result()
                except BrokenProcessPool:
                    lost.append(task)
                    continue
                except Exception as exc:  # e.g. the task could not be sent to the worker
                    row = _row(task, error=f"{type(exc).__name__}: {exc}")
                suspects.discard(task["run_id"])
                record(row)
            if not lost:
                continue
            # The pool is broken: every run still in it is lost with it.
            wait(list(inflight))
            for fut, task in list(inflight.items()):
                try:
                    row = fut.result()
                except BrokenProcessPool:
                    lost.append(task)
                    continue
                except Exception as exc:
                    row = _row(task, error=f"{type(exc).__name__}: {exc}")
                suspects.discard(task["run_id"])
                record(row)
            inflight.clear()
            if pool is not None:
                kill(pool)
                pool = None
            retry = []
            for task in lost:
                deaths[task["run_id"]] += 1
                if deaths[task["run_id"]] >= MAX_ATTEMPTS:
                    suspects.discard(task["run_id"])
                    record(_row(task, error=WORKER_DIED))
                else:
                    suspects.add(task["run_id"])
                    retry.append(task)
            lost_order = {t["run_id"]: i for i, t in enumerate(tasks)}
            retry.sort(key=lambda t: lost_order[t["run_id"]])
            queue.extendleft(reversed(retry))
            if retry:
                say(f"a worker process died; started a new pool ({len(retry)} run(s) "
                    "resubmitted, one at a time)")
    finally:
        if pool is not None:
            if stop.count >= 2:
                kill(pool)
            else:
                pool.shutdown(wait=True, cancel_futures=True)


def _run_dask(tasks: list[dict[str, Any]], address: str, record: Callable[[dict], None],
              stop: _Stop, say: Callable[[str], None]) -> None:
    try:
        from distributed import Client, KilledWorker, as_completed
    except ImportError:  # pragma: no cover (a dependency)
        raise FleetsimError("--scheduler needs dask.distributed: pip install "
                            "'dask[distributed]'") from None
    try:
        client = Client(address, timeout="20s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise FleetsimError(f"cannot connect to the Dask scheduler at {address}: {exc}") from None
    try:
        remaining: dict[str, tuple[Any, dict[str, Any]]] = {}
        for task in tasks:
            fut = client.submit(run_task, task, pure=False, retries=2)
            remaining[fut.key] = (fut, task)
        done_iter = as_completed([f for f, _ in remaining.values()])
        noted = 0
        while remaining:
            if stop.count > noted:
                noted = stop.count
                if stop.count == 1:
                    busy = {k for keys in client.processing().values() for k in keys}
                    drop = [f for k, (f, _) in remaining.items() if k not in busy]
                    client.cancel(drop)
                    for f in drop:
                        remaining.pop(f.key, None)
                    if remaining:
                        say(f"stopping ({stop.signal}): no new runs; waiting for the "
                            f"{len(remaining)} already sent to workers to finish (signal again "
                            "to abandon them)")
                else:
                    say(f"abandoning {len(remaining)} running run(s)")
                    client.cancel([f for f, _ in remaining.values()])
                    remaining.clear()
                    break
            batch = done_iter.next_batch(block=False)
            if not batch:
                time.sleep(0.1)
                continue
            for fut in batch:
                entry = remaining.pop(fut.key, None)
                if entry is None or fut.status == "cancelled":
                    continue
                task = entry[1]
                try:
                    row = fut.result()
                except KilledWorker:
                    row = _row(task, error=WORKER_DIED)
                except Exception as exc:
                    row = _row(task, error=f"{type(exc).__name__}: {exc}")
                record(row)
    finally:
        client.close()


# --------------------------------------------------------------------------------------
# The sweep


def run_sweep(experiment: Experiment, out: str | os.PathLike, *, workers: int | None = None,
              scheduler: str | None = None, retry_errors: bool = False, replay: bool = False,
              quiet: bool = False, stream=None, force: bool = False) -> SweepResult:
    """Run (or resume) every run of ``experiment`` into the folder ``out``.

    ``workers``: local worker processes (default ``os.cpu_count()``);
    ``scheduler``: a Dask scheduler address (``tcp://host:port``) to run on
    instead. ``force``: run every run again, recorded or not. Messages and the
    progress bar go to ``stream`` (stderr).
    """
    stream = sys.stderr if stream is None else stream
    out_arg = Path(out)
    out = out_arg.resolve()
    if workers is not None and workers < 1:
        raise FleetsimError(f"--workers {workers}: expected an integer >= 1")
    runs = experiment.runs()
    document = experiment.to_json(runs)
    _check_out(out, document)
    try:
        (out / ROWS).mkdir(parents=True, exist_ok=True)
        (out / RUNS).mkdir(exist_ok=True)
    except OSError as exc:
        raise FleetsimError(f"{out_arg}: cannot write there ({exc.strerror})") from None
    with _locked(out):
        _check_out(out, document)  # (again, under the lock)
        _write_atomic(out / EXPERIMENT_JSON, _dumps(document))
        _clean_partials(out)
        return _sweep(experiment, out, out_arg, runs, workers=workers, scheduler=scheduler,
                      retry_errors=retry_errors, replay=replay, quiet=quiet, stream=stream,
                      force=force)


def _sweep(experiment: Experiment, out: Path, out_arg: Path, runs: list[PlannedRun], *,
           workers: int | None, scheduler: str | None, retry_errors: bool, replay: bool,
           quiet: bool, stream, force: bool = False) -> SweepResult:
    from tqdm import tqdm

    rows = read_rows(out, runs)
    todo = []
    for run, row in zip(runs, rows, strict=True):
        if not force and row is not None and (
                row["status"] == "ok" and _complete(out, run.run_id)
                or row["status"] == "error" and not retry_errors):
            continue
        todo.append(run)
    total, skipped = len(runs), len(runs) - len(todo)
    n_workers = min(workers or os.cpu_count() or 1, max(len(todo), 1))
    where = (f"the Dask scheduler at {scheduler}" if scheduler else
             f"{n_workers} local worker process{'es' if n_workers != 1 else ''}")
    print(f"fleetsim: sweep {experiment.id!r}: {total} runs ({len(experiment.configs)} "
          f"configurations x {len(experiment.seeds)} seeds) into {out_arg}; {skipped} recorded, "
          f"{len(todo)} to run" + (" (--force: all of them)" if force else "")
          + (f" on {where}" if todo else ""), file=stream, flush=True)
    bar = tqdm(total=total, initial=skipped, unit="run", desc=experiment.id, file=stream,
               disable=quiet or not todo, dynamic_ncols=True,
               mininterval=0.5 if getattr(stream, "isatty", lambda: False)() else 30.0)

    def say(message: str) -> None:
        text = f"fleetsim: {message}"
        if bar.disable:
            print(text, file=stream, flush=True)
        else:
            bar.write(text, file=stream)

    ran = 0
    index = {r.run_id: r for r in runs}
    names = [f.name for f in experiment.factors]

    def record(row: dict[str, Any]) -> None:
        nonlocal ran
        _write_atomic(out / ROWS / f"{row['run_id']}.json", _dumps(row))
        ran += 1
        bar.update(1)
        if row["status"] == "error":
            r = index[row["run_id"]]
            config = ", ".join(f"{n}: {flow_text(r.factors[n])}" for n in names)
            say(f"run {r.run_id} (config {r.config} {{{config}}}, seed {r.seed}) failed: "
                f"{row['error']}")

    tasks = [_task(r, out, experiment.id, replay) for r in todo]
    try:
        with _Stop() as stop:
            if tasks and scheduler:
                _run_dask(tasks, scheduler, record, stop, say)
            elif tasks:
                _run_local(tasks, n_workers, record, stop, say)
    finally:
        bar.close()
    if stop.signal is not None:
        done = sum(row is not None for row in read_rows(out, runs))
        print(f"fleetsim: interrupted ({stop.signal}): {done} of {total} runs recorded in "
              f"{out_arg}; rerun the same command to resume", file=stream, flush=True)
        return SweepResult(out=out, total=total, skipped=skipped, ran=ran, errors=None,
                           interrupted=stop.signal)
    rows = read_rows(out, runs)
    missing = [r.run_id for r, row in zip(runs, rows, strict=True) if row is None]
    if missing:  # pragma: no cover (every run is recorded, as a result or an error)
        raise FleetsimError(f"{out_arg}: {len(missing)} runs have no row ({missing[0]}, ...); "
                            "rerun the same command")
    table = results_table(experiment, runs, rows)
    _write_table(out, table)
    errors = sum(row["status"] == "error" for row in rows)
    known = set(table.column_names)
    for i, name in enumerate(experiment.metrics):
        if name not in known:
            from fleetsim.scenario.schema import suggest

            say(f"warning: metric {name!r} (metrics[{i}] of {experiment.file}) is in no run's "
                f"metrics{suggest(name, [c for c in known if '.' in c])}")
    print(f"fleetsim: wrote {out_arg / RESULTS_PARQUET} and {RESULTS_CSV}: {total} runs, "
          f"{ran} run now, {errors} with status error"
          + ("; rerun with --retry-errors to run those again" if errors else ""),
          file=stream, flush=True)
    return SweepResult(out=out, total=total, skipped=skipped, ran=ran, errors=errors,
                       interrupted=None)

"""The ``fleetsim`` command line.

Exit codes: 0 success, 2 bad input (scenario, override, policy, run directory),
1 internal error.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from fleetsim.errors import FleetsimError

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT = 0, 1, 2

#: Errors of the file system a user can do something about (space, quota, a read-only
#: file system, permissions, a file too large or a name too long for it): exit 2 with
#: one line, not an internal error.
USER_OS_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES,
                            errno.EPERM, errno.EFBIG, errno.ENAMETOOLONG})


def os_error_text(exc: OSError, what: str | os.PathLike | None = None) -> str:
    """One line for an OSError: the path (``what``, else the error's file), the
    system's reason and the error's code name, e.g. ``runs/x: No space left on device
    (ENOSPC)``."""
    reason = exc.strerror or str(exc)
    code = errno.errorcode.get(exc.errno or 0)
    where = what if what is not None else exc.filename
    text = f"{where}: {reason}" if where is not None else reason
    if what is not None and exc.filename is not None and str(exc.filename) != str(what):
        text += f" (at {exc.filename})"
    return text + (f" [{code}]" if code else "")


@contextmanager
def stage(label: str, stream: TextIO | None, *, delay_s: float = 1.0,
          interval_s: float = 0.25) -> Iterator[None]:
    """A status line for a step that reports no progress of its own (metrics,
    writing): after ``delay_s``, ``fleetsim: LABEL ... 3.2 s`` is redrawn on ``stream``
    every ``interval_s`` and cleared when the step ends. ``stream=None``: nothing."""
    if stream is None:
        yield
        return
    done = threading.Event()
    shown = False
    t0 = time.perf_counter()

    def draw() -> None:
        nonlocal shown
        if done.wait(delay_s):
            return
        while True:
            stream.write(f"\rfleetsim: {label} ... {time.perf_counter() - t0:.1f} s\x1b[K")
            stream.flush()
            shown = True
            if done.wait(interval_s):
                return

    thread = threading.Thread(target=draw, name="fleetsim-stage", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        if shown:
            stream.write("\r\x1b[K")  # clear the line: what is printed next starts clean
            stream.flush()


def _print_metrics(metrics: dict[str, Any], out=None) -> None:
    out = out if out is not None else sys.stdout
    width = max((len(k) for k in metrics), default=0)
    for key in sorted(metrics):
        value = metrics[key]
        if value is None:
            text = "-"
        elif isinstance(value, float):
            text = f"{value:.6g}"
        else:
            text = str(value)
        print(f"  {key:<{width}}  {text}", file=out)


def cmd_run(args: argparse.Namespace) -> int:
    from fleetsim.engine import Simulation
    from fleetsim.metrics import compute_metrics
    from fleetsim.rundir import check_output, write_run
    from fleetsim.scenario import load_scenario

    overrides = list(args.set or [])
    if args.seed is not None:
        if args.seed < 0:
            raise FleetsimError(f"--seed {args.seed}: expected an integer >= 0")
        overrides.append(f"run.seed={args.seed}")
    quiet = args.quiet
    status = sys.stderr if not quiet and sys.stderr.isatty() else None  # progress: a terminal
    t0 = time.perf_counter()
    scenario = load_scenario(args.scenario, overrides)
    out = Path(args.out) if args.out else Path("runs") / f"{scenario.name}-seed{scenario.run.seed}"
    check_output(out)
    sim = Simulation(scenario)
    if not quiet:
        print(f"fleetsim: running {scenario.name!r} (seed {scenario.run.seed}, "
              f"{sum(g.count for g in scenario.vehicles)} vehicles, "
              f"{scenario.run.duration_s:g} s simulated)", file=sys.stderr)
    t1 = time.perf_counter()
    run = sim.run(progress=status is not None)
    t2 = time.perf_counter()
    with stage("computing metrics", status):
        metrics = compute_metrics(run)
    t3 = time.perf_counter()
    writers = []
    if scenario.outputs.replay and not args.no_replay:
        try:
            from fleetsim.replay import write_replay_into
        except ImportError:  # the replay writer is optional at this layer
            write_replay_into = None
        if write_replay_into is not None:
            writers.append(lambda d: write_replay_into(d / "replay", run))
    timings = {"setup": t1 - t0, "simulate": t2 - t1, "metrics": t3 - t2}
    from fleetsim.record import code_identity

    manifest_extra = {"wall_clock_s": {k: round(v, 3) for k, v in timings.items()},
                      "decisions": sim.n_decisions, "code": code_identity(scenario)}
    t4 = time.perf_counter()
    try:
        with stage(f"writing {out}" + (" and its replay" if writers else ""), status):
            write_run(out, run, metrics, manifest_extra=manifest_extra, extra_writers=writers)
    except OSError as exc:  # disk full, read-only, permissions: the run folder is not written
        if exc.errno not in USER_OS_ERRORS:
            raise
        raise FleetsimError(f"cannot write the run directory: {os_error_text(exc, out)}; "
                            "nothing was put in its place") from None
    timings["write"] = time.perf_counter() - t4
    if quiet:
        return EXIT_OK
    print(f"{scenario.name}: metrics", flush=True)
    _print_metrics(metrics)
    total = sum(timings.values())
    print(f"fleetsim: wrote {out} ({len(run.legs['leg'])} legs, {len(run.events['time_s'])} "
          f"events; {total:.1f} s wall: " +
          ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()) + ")", file=sys.stderr)
    if writers and (out / "replay").is_dir():
        print(f"fleetsim: watch it with: {sys.argv[0]} view {out}", file=sys.stderr)
    return EXIT_OK


def validate_scenario(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Any:
    """Everything ``fleetsim validate`` checks: the scenario file (with ``overrides``),
    its policy and its world (terrain file included). Returns the Scenario; raises
    FleetsimError on bad input."""
    from fleetsim.policy import make_policy
    from fleetsim.scenario import load_scenario
    from fleetsim.world.world import build_world

    scenario = load_scenario(path, list(overrides))
    make_policy(scenario)
    build_world(scenario)  # reads and checks the terrain file too
    return scenario


def cmd_validate(args: argparse.Namespace) -> int:
    scenario = validate_scenario(args.scenario, list(args.set or []))
    n = sum(g.count for g in scenario.vehicles)
    print(f"{args.scenario}: valid (schema 1): {scenario.name!r}, {n} vehicles, "
          f"{len(scenario.zones)} zones, {len(scenario.missions)} missions, "
          f"policy {scenario.policy.name!r}")
    return EXIT_OK


def cmd_metrics(args: argparse.Namespace) -> int:
    from fleetsim.metrics import compute_metrics
    from fleetsim.metrics.timeseries import TIMESERIES, write_timeseries
    from fleetsim.rundir import METRICS, dumps_json, read_run

    run = read_run(args.run_dir)
    metrics = compute_metrics(run)
    # Both files are written next to their place and renamed over it, so an error or an
    # interruption leaves the run directory's files as they were, never half written.
    run_dir = Path(args.run_dir)
    staged = {name: run_dir / f".{name}.new-{os.getpid()}" for name in (METRICS, TIMESERIES)}
    try:
        staged[METRICS].write_text(dumps_json(metrics))
        write_timeseries(staged[TIMESERIES], run)
        for name, tmp in staged.items():
            os.replace(tmp, run_dir / name)
    except OSError as exc:  # name the file the user knows, not the staged one
        for name, tmp in staged.items():
            if exc.filename is not None and Path(exc.filename) == tmp:
                exc.filename = str(run_dir / name)
        raise
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
    _print_metrics(metrics)
    return EXIT_OK


def cmd_plot(args: argparse.Namespace) -> int:
    from fleetsim.metrics.timeseries import plot_timeseries

    print(plot_timeseries(args.run_dir))
    return EXIT_OK


def cmd_policies(args: argparse.Namespace) -> int:
    import dataclasses

    from fleetsim.policy import Policy, available_policies, policy_class

    for name, where in sorted(available_policies().items()):
        cls = policy_class(name)
        import sys as _sys

        text = cls.__doc__ if cls.__doc__ and cls.__doc__ is not Policy.__doc__ else \
            getattr(_sys.modules.get(cls.__module__), "__doc__", "")
        # The docstring's first sentence (it may run over several lines).
        para = " ".join((text or "").strip().split("\n\n")[0].split())
        cut = para.find(". ")
        summary = para if cut < 0 else para[:cut + 1]
        print(f"{name}  ({where})")
        if summary:
            print(f"    {summary}")
        classes = getattr(cls, "action_classes", None)
        print("    action classes: " + (", ".join(sorted(classes)) if classes is not None
                                        else "not declared"))
        for f in dataclasses.fields(cls.Params):
            default = f.default if f.default is not dataclasses.MISSING else "required"
            print(f"    {f.name} = {default!r}   {f.metadata.get('doc', '')}")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from fleetsim.scenario import reference

    sys.stdout.write(reference.markdown() if args.markdown else reference.text())
    return EXIT_OK


def cmd_sweep(args: argparse.Namespace) -> int:
    from fleetsim.experiments import load_experiment, run_sweep

    if args.workers is not None and args.workers < 1:
        raise FleetsimError(f"--workers {args.workers}: expected an integer >= 1")
    experiment = load_experiment(args.experiment)
    out = Path(args.out) if args.out else Path("runs") / "sweeps" / experiment.id
    if args.scheduler and args.workers is not None:
        print("fleetsim: warning: --workers is ignored with --scheduler (the Dask cluster "
              "has its own workers)", file=sys.stderr)
    result = run_sweep(experiment, out, workers=args.workers, scheduler=args.scheduler,
                       retry_errors=args.retry_errors, replay=args.replay, quiet=args.quiet,
                       force=args.force)
    if result.interrupted:
        return 143 if result.interrupted == "SIGTERM" else 130
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    from fleetsim.replay import write_replay
    from fleetsim.replay.writer import bundle_size

    t0 = time.perf_counter()
    out = write_replay(args.run_dir, chunk_s=args.chunk_s, n_buckets=args.buckets)
    print(f"fleetsim: wrote {out} ({bundle_size(out) / 1e6:.1f} MB of replay data, "
          f"{time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    return EXIT_OK


def cmd_view(args: argparse.Namespace) -> int:
    from fleetsim.replay.server import DEFAULT_PORT, bundle_dir, open_server

    root = bundle_dir(args.run_dir)
    if args.port is not None and not 0 <= args.port <= 65535:
        raise FleetsimError(f"--port {args.port}: expected a port number 0..65535 "
                            "(0: any free port)")
    try:
        server = open_server(root, args.host, args.port)
    except OSError as exc:  # address in use, unknown host, ...
        port = DEFAULT_PORT if args.port is None else args.port
        raise FleetsimError(f"cannot serve on {args.host}:{port}: "
                            f"{exc.strerror or exc}") from None
    if args.port is None and server.port != DEFAULT_PORT:
        print(f"fleetsim: port {DEFAULT_PORT} is taken; using {server.port}", file=sys.stderr)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"fleetsim: warning: serving on {args.host}, reachable from other machines",
              file=sys.stderr)
    print(f"fleetsim: serving {root} read-only at {server.url} (Ctrl-C to stop)", file=sys.stderr)
    print(server.url, flush=True)
    if not args.no_browser:
        import webbrowser

        webbrowser.open(server.url)
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt

    # Ctrl-C or a termination request stops the server cleanly, even when the
    # process was started with SIGINT ignored (as background jobs are).
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from fleetsim.experiments.compare import (
        comparison_text,
        paired_differences,
        parse_baseline,
        read_sweep,
        report_html,
    )

    sweep = read_sweep(args.out_dir)
    baseline = parse_baseline(args.baseline) if args.baseline else None
    diffs = paired_differences(sweep.table, sweep.experiment, baseline, args.metrics,
                               args.confidence)
    print(comparison_text(diffs), end="", flush=True)
    if not args.no_report:
        path = report_html(sweep.out_dir, baseline=baseline, metrics=args.metrics,
                           confidence=args.confidence)
        print(f"fleetsim: wrote {path}", file=sys.stderr)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from fleetsim.geo.export import export_run

    vehicles = None
    if args.vehicles:
        try:
            vehicles = sorted({int(x) for part in args.vehicles for x in part.split(",") if x})
        except ValueError:
            raise FleetsimError(f"--vehicles {' '.join(args.vehicles)}: expected vehicle ids "
                                "(integers), e.g. --vehicles 0 3 7") from None
    out = export_run(args.run_dir, args.format, args.out, vehicles=vehicles,
                     every_s=args.every, start=args.start)
    print(f"fleetsim: wrote {out}", file=sys.stderr)
    return EXIT_OK


def _parse_wind(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(x) for x in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3 or not all(abs(x) < float("inf") for x in parts):
        raise FleetsimError(f"--wind {text}: expected three numbers X,Y,Z in m/s, e.g. 5,0,0")
    return parts  # type: ignore[return-value]


def cmd_fidelity(args: argparse.Namespace) -> int:
    from fleetsim.fidelity.report import (
        airborne_vehicles,
        check_vehicles,
        refly,
        summary,
        write_outputs,
    )
    from fleetsim.rundir import read_run

    if args.seed < 0:
        raise FleetsimError(f"--seed {args.seed}: expected an integer >= 0")
    if args.gusts < 0:
        raise FleetsimError(f"--gusts {args.gusts}: expected a standard deviation >= 0 (m/s)")
    if args.vehicles is not None and args.vehicles < 1:
        raise FleetsimError(f"--vehicles {args.vehicles}: expected an integer >= 1")
    wind = _parse_wind(args.wind) if args.wind else (0.0, 0.0, 0.0)
    run = read_run(args.run_dir)
    if args.vehicle:
        vehicles = check_vehicles(run, args.vehicle)
    else:
        vehicles = airborne_vehicles(run)[:args.vehicles or 3]
        if not vehicles:
            raise FleetsimError(f"{args.run_dir}: no vehicle flew in this run")
    out = Path(args.out) if args.out else Path(args.run_dir) / "fidelity"
    t0 = time.perf_counter()
    results = refly(run, vehicles, seed=args.seed, wind_mps=wind, gust_sd_mps=args.gusts)
    rows = summary(results)

    def num(x: float | None, fmt: str) -> str:
        return "-" if x is None else format(x, fmt)

    print(f"{'vehicle':>7} {'type':<12} {'legs':>5} {'planned_s':>10} {'flown_s':>10} "
          f"{'error_s':>8} {'xtrack_m':>9} {'plan_wh':>9} {'flown_wh':>9}  flyable")
    for r in rows:
        print(f"{r['vehicle']:>7} {r['type']:<12} {r['legs']:>5} "
              f"{num(r['planned_s'], '10.1f')} {num(r['flown_s'], '10.1f')} "
              f"{num(r['time_error_s'], '+8.1f')} {num(r['cross_track_max_m'], '9.2f')} "
              f"{num(r['planned_wh'], '9.2f')} {num(r['flown_wh'], '9.2f')}  "
              f"{'yes' if r['flyable'] else 'NO'}")
    written = write_outputs(results, out)
    if args.calibrate:
        from fleetsim.fidelity.calibrate import (
            FIELDS,
            current_values,
            fit,
            residuals_before_after,
            scenario_yaml,
        )

        base = current_values(run.scenario)
        fitted = fit(results, base)
        res = residuals_before_after(results, fitted, base)
        print("calibration (per vehicle type):")
        for tid in sorted(fitted):
            f = fitted[tid]
            print(f"  {tid}: " + ", ".join(f"{k} {f[k]:.4g}" for k in FIELDS) +
                  f" (energy intercept {f['energy_intercept_wh']:.4g} Wh, {f['legs']} legs)")
        print(f"  mean |leg time error| {res['time_before_s']:.3g} s -> "
              f"{res['time_after_s']:.3g} s; "
              f"mean |leg energy error| {res['energy_before_wh']:.3g} Wh -> "
              f"{res['energy_after_wh']:.3g} Wh ({res['legs']} legs)")
        cal = out / "calibration.yaml"
        cal.write_text(scenario_yaml(fitted))
        written.append(cal)
    print(f"fleetsim: wrote {', '.join(str(p) for p in written)} ({len(results)} legs of "
          f"{len(vehicles)} vehicles, {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    return EXIT_OK


def cmd_examples(args: argparse.Namespace) -> int:
    from fleetsim.examples import copy_examples, examples_dir, list_examples

    if args.action == "copy":
        written = copy_examples(Path(args.dir))
        print(f"fleetsim: copied {len(written)} example files into {args.dir} "
              f"(run one: fleetsim run {Path(args.dir) / 'search_and_rescue.yaml'})",
              file=sys.stderr)
        return EXIT_OK
    found = list_examples()
    width = max(len(e.path) for e in found)
    for kind, title in (("scenario", "Example scenarios (fleetsim run FILE):"),
                        ("experiment", "Example experiments (fleetsim sweep FILE):")):
        print(title)
        for e in (e for e in found if e.kind == kind):
            print(f"  {e.path:<{width}}  {e.summary}")
    print(f"In {examples_dir()}; fleetsim examples copy DIR copies them, with their data "
          "files, into DIR.")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    import fleetsim

    p = argparse.ArgumentParser(prog="fleetsim", description=(
        "Event-driven simulation of autonomous vehicle fleets under human oversight."))
    p.add_argument("--version", action="version", version=f"fleetsim {fleetsim.__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("run", help="run a scenario and write a run directory")
    r.add_argument("scenario", help="scenario YAML file")
    r.add_argument("--out", help="run directory (default runs/NAME-seedN)")
    r.add_argument("--seed", type=int, help="override run.seed")
    r.add_argument("--set", action="append", metavar="PATH=VALUE",
                   help="override a scenario value, e.g. fleet.types[0].count=200 (repeatable)")
    r.add_argument("--no-replay", action="store_true", help="do not write the replay bundle")
    r.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    r.set_defaults(func=cmd_run)

    v = sub.add_parser("validate", help="check a scenario file without running it")
    v.add_argument("scenario", help="scenario YAML file")
    v.add_argument("--set", action="append", metavar="PATH=VALUE",
                   help="override a scenario value before checking, as for run (repeatable)")
    v.set_defaults(func=cmd_validate)

    m = sub.add_parser("metrics", help="recompute metrics.json and timeseries.parquet of a "
                                       "run directory")
    m.add_argument("run_dir", metavar="RUN_DIR", help="run directory written by fleetsim run")
    m.set_defaults(func=cmd_metrics)

    pl = sub.add_parser("plot", help="draw a run's time series into RUN_DIR/timeseries.png")
    pl.add_argument("run_dir", metavar="RUN_DIR", help="run directory written by fleetsim run")
    pl.set_defaults(func=cmd_plot)

    pol = sub.add_parser("policies", help="list the available policies and their parameters")
    pol.set_defaults(func=cmd_policies)

    sc = sub.add_parser("schema", help="print the scenario file reference: every key with its "
                        "type, bounds, unit, default and meaning")
    sc.add_argument("--markdown", action="store_true",
                    help="the full reference as Markdown (default: a compact tree of text)")
    sc.set_defaults(func=cmd_schema)

    sw = sub.add_parser("sweep", help="run an experiment: every configuration x seed "
                                      "(resumable), into a folder with a results table")
    sw.add_argument("experiment", help="experiment YAML file")
    sw.add_argument("--out", help="output folder (default runs/sweeps/ID)")
    sw.add_argument("--workers", type=int, help="local worker processes (default: the number "
                                                "of CPUs)")
    sw.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                    help="run on this Dask scheduler instead (workers must share the output "
                         "folder's filesystem)")
    sw.add_argument("--retry-errors", action="store_true",
                    help="run again the runs recorded with status error")
    sw.add_argument("--force", action="store_true",
                    help="run every run again, even those already recorded")
    sw.add_argument("--replay", action="store_true", help="write each run's replay bundle")
    sw.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sw.set_defaults(func=cmd_sweep)

    rp = sub.add_parser("replay", help="(re)build the replay bundle of a run directory")
    rp.add_argument("run_dir", metavar="RUN_DIR", help="run directory written by fleetsim run")
    rp.add_argument("--chunk-s", type=float, help="keyframe chunk length in seconds "
                    "(default: chosen from the run's size)")
    rp.add_argument("--buckets", type=int, default=60,
                    help="number of idleness raster samples over the run (default 60)")
    rp.set_defaults(func=cmd_replay)

    vw = sub.add_parser("view", help="show a run's replay in the browser (local server)")
    vw.add_argument("run_dir", help="run directory (or its replay/ folder)")
    vw.add_argument("--port", type=int, help="port (default 8765; if taken, the next free one, said on stderr)")
    vw.add_argument("--host", default="127.0.0.1",
                    help="address to bind (default 127.0.0.1; anything else exposes the run "
                         "to the network)")
    vw.add_argument("--no-browser", action="store_true", help="only print the URL")
    vw.set_defaults(func=cmd_view)

    cp = sub.add_parser("compare", help="compare a sweep's configurations with its baseline "
                        "(paired by seed) and write report.html")
    cp.add_argument("out_dir", metavar="OUT", help="the sweep's output folder")
    cp.add_argument("--baseline", nargs="+", action="extend", metavar="FACTOR=LEVEL",
                    help="the baseline configuration (default: the experiment's, else the "
                         "first); a partial one must match exactly one configuration")
    cp.add_argument("--metrics", nargs="+", action="extend", metavar="METRIC",
                    help="metrics to compare (default: the experiment's, else all that vary)")
    cp.add_argument("--confidence", type=float, default=0.95,
                    help="confidence level of the intervals; significant: p < 1 - confidence "
                         "(default 0.95)")
    cp.add_argument("--no-report", action="store_true", help="do not write OUT/report.html")
    cp.set_defaults(func=cmd_compare)

    from fleetsim.geo.formats import DEFAULT_START, FORMATS

    ex = sub.add_parser("export", help="write a run's tracks, zones, sites and events for "
                        "map tools (GeoJSON, CZML, KML, kepler.gl), its flights as ASTM F3548 "
                        "operational intents, or a vehicle's route as a QGroundControl plan")
    ex.add_argument("run_dir", metavar="RUN_DIR",
                    help="run directory written by fleetsim run (its scenario on the map: "
                         "world.origin or world.crs)")
    ex.add_argument("--format", required=True, choices=FORMATS,
                    help="geojson, czml, kml, kepler (trips), intents (ASTM F3548 "
                         "operational intents) or qgc (a QGroundControl plan)")
    ex.add_argument("--out", help="output file (default RUN_DIR/export/tracks.<ext>)")
    ex.add_argument("--vehicles", nargs="+", metavar="ID",
                    help="only these vehicles (ids, space- or comma-separated)")
    ex.add_argument("--every", type=float, metavar="S",
                    help="also a track point every S seconds along each leg")
    ex.add_argument("--start", default=DEFAULT_START, metavar="DATETIME",
                    help=f"the UTC date-time run second 0 stands for (default {DEFAULT_START})")
    ex.set_defaults(func=cmd_export)

    fd = sub.add_parser("fidelity", help="re-fly a run's flights through rigid-body multirotor "
                        "physics and compare leg times, tracks and energy")
    fd.add_argument("run_dir", metavar="RUN_DIR", help="run directory written by fleetsim run")
    sel = fd.add_mutually_exclusive_group()
    sel.add_argument("--vehicles", type=int, metavar="N",
                     help="re-fly the first N vehicles that flew (default 3)")
    sel.add_argument("--vehicle", type=int, action="append", metavar="ID",
                     help="re-fly this vehicle (repeatable)")
    fd.add_argument("--out", help="output folder (default RUN_DIR/fidelity)")
    fd.add_argument("--seed", type=int, default=0, help="seed of the gusts (default 0)")
    fd.add_argument("--wind", metavar="X,Y,Z", help="mean wind, m/s (default 0,0,0)")
    fd.add_argument("--gusts", type=float, default=0.0, metavar="SD",
                    help="gust standard deviation per axis, m/s (default 0)")
    fd.add_argument("--calibrate", action="store_true",
                    help="fit the vehicle types' calibration fields; write calibration.yaml")
    fd.set_defaults(func=cmd_fidelity)

    ex = sub.add_parser("examples", help="list the example scenarios and experiments fleetsim "
                        "ships, or copy them (with their data files) into a folder")
    ex_sub = ex.add_subparsers(dest="action", metavar="ACTION")
    ex_sub.add_parser("list", help="list them: file and description (the default)")
    ex_copy = ex_sub.add_parser("copy", help="copy every example file into DIR (created if "
                                "missing; nothing is overwritten)")
    ex_copy.add_argument("dir", metavar="DIR", help="the folder to copy them into")
    ex.set_defaults(func=cmd_examples)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except FleetsimError as exc:
        print(f"fleetsim: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("fleetsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of the output went away (``fleetsim policies | head``): stop quietly,
        # as command-line tools do; stdout is pointed at devnull so that Python's final
        # flush does not fail again.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        if exc.errno in USER_OS_ERRORS:  # disk full, read-only, permissions, ...
            print(f"fleetsim: error: {os_error_text(exc)}", file=sys.stderr)
            return EXIT_INPUT
        return _internal_error(exc)
    except Exception as exc:
        return _internal_error(exc)


def _internal_error(exc: Exception) -> int:
    """An internal error: say so, with the traceback for a report."""
    import traceback

    traceback.print_exc()
    print(f"fleetsim: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
    return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

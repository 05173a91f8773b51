"""Run directories: what a run writes, and how a recorded run is read back.

A run directory holds::

    manifest.json     scenario (validated, overrides applied), seed, versions, timings
    metrics.json      the metrics (simulation results only: byte-identical for the
                      same scenario and seed)
    legs.parquet      the legs table      (see fleetsim.record)
    events.parquet    the events table
    vehicles.parquet  the vehicles table
    timeseries.parquet  the run's state step by step (see fleetsim.metrics.timeseries)

It is written into a temporary sibling folder and renamed into place only when
complete, so a failed run never leaves a directory that looks finished.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import fleetsim
from fleetsim.errors import RunDirError
from fleetsim.record import (
    EVENT_COLUMNS,
    LEG_COLUMNS,
    ORDER_COLUMNS,
    VEHICLE_COLUMNS,
    RecordedRun,
    Table,
)

MANIFEST = "manifest.json"
TERRAIN = "terrain.npy"
TARGET_COLUMNS = {"target": np.int32, "id": object, "mission": object,
                  "x_m": np.float64, "y_m": np.float64}
METRICS = "metrics.json"
TABLES = {"legs": LEG_COLUMNS, "events": EVENT_COLUMNS, "vehicles": VEHICLE_COLUMNS,
          "orders": ORDER_COLUMNS}
FORMAT_VERSION = 1


def _to_arrow(table: Table, columns: dict[str, type]) -> pa.Table:
    arrays = {}
    for name, dtype in columns.items():
        col = table[name]
        if dtype is object:
            arrays[name] = pa.array(col.tolist(), type=pa.string()).dictionary_encode()
        else:
            arrays[name] = pa.array(np.asarray(col, dtype=dtype))
    return pa.table(arrays)


def write_table(path: Path, table: Table, columns: dict[str, type]) -> None:
    pq.write_table(_to_arrow(table, columns), path, compression="zstd",
                   write_statistics=True, store_schema=True)


#: Columns added to the vehicles table with logistics, and their value in run
#: directories written before (all vehicles air, no payload, no carrier).
_ADDED_COLUMNS = {"domain": "air", "payload_kg": 0.0, "carrier": -1}


def read_table(path: Path, columns: dict[str, type]) -> Table:
    try:
        t = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise RunDirError(f"{path}: not a readable Parquet table ({exc})") from None
    out = {}
    for name, dtype in columns.items():
        if name not in t.column_names and name in _ADDED_COLUMNS:
            # Written before logistics: every vehicle an aircraft of its own.
            out[name] = np.full(t.num_rows, _ADDED_COLUMNS[name], dtype=dtype)
            continue
        if name not in t.column_names:
            raise RunDirError(f"{path}: no column {name!r}; the file is not one fleetsim "
                              "wrote, or it is from another version")
        col = t.column(name)
        if dtype is object:
            out[name] = np.asarray(col.cast(pa.string()).to_pylist(), dtype=object)
        else:
            out[name] = col.to_numpy().astype(dtype, copy=False)
    return out


def targets_table(world) -> Table:
    """The targets of a world as a table (index, id, mission id, position)."""
    xy = world.targets_xy
    missions = [m.id for m in world.missions]
    return {"target": np.arange(len(xy), dtype=np.int32),
            "id": np.asarray(world.target_ids, dtype=object),
            "mission": np.asarray([missions[i] for i in world.target_mission], dtype=object),
            "x_m": xy[:, 0].copy(), "y_m": xy[:, 1].copy()}


def dumps_json(data: Any) -> str:
    """Canonical JSON: sorted keys, two-space indent, trailing newline."""
    return json.dumps(data, sort_keys=True, indent=2, allow_nan=False) + "\n"


def versions() -> dict[str, str]:
    import scipy
    import shapely
    import simpy

    return {"fleetsim": fleetsim.__version__, "python": platform.python_version(),
            "numpy": np.__version__, "simpy": simpy.__version__, "shapely": shapely.__version__,
            "scipy": scipy.__version__, "pyarrow": pa.__version__}


def _refuse_to_replace(dest: Path) -> None:
    """Only an earlier run directory (or replay bundle) may be replaced."""
    if dest.exists() and not (dest.is_dir() and (dest / MANIFEST).is_file()):
        raise RunDirError(f"{dest}: exists and is not a fleetsim run directory (no "
                          f"{MANIFEST}); refusing to replace it: choose another --out or "
                          "remove it yourself")


def check_output(dest: str | os.PathLike) -> None:
    """Fail early, before a long run, if a run directory cannot be written at ``dest``."""
    dest = Path(dest)
    _refuse_to_replace(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        probe = dest.parent / f".{dest.name}.probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise RunDirError(f"{dest}: cannot write there ({exc.strerror})") from None


@contextmanager
def atomic_directory(dest: str | os.PathLike) -> Iterator[Path]:
    """Build a directory in a temporary sibling and put it in place of ``dest`` only
    if the block completes; on any error nothing at ``dest`` changes."""
    dest = Path(dest)
    _refuse_to_replace(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"{dest}: cannot create its folder ({exc.strerror})") from None
    tmp = dest.parent / f".{dest.name}.partial-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        yield tmp
        if dest.exists():
            old = dest.parent / f".{dest.name}.old-{os.getpid()}"
            dest.rename(old)
            tmp.rename(dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_run(out_dir: str | os.PathLike, run: RecordedRun, metrics: dict[str, Any], *,
              manifest_extra: dict[str, Any] | None = None,
              extra_writers: list | None = None) -> Path:
    """Write a complete run directory atomically; returns its path.

    ``extra_writers`` are callables ``f(tmp_dir: Path)`` that add files (the replay
    bundle) before the directory is put in place.
    """
    out = Path(out_dir)
    with atomic_directory(out) as tmp:
        for name, columns in TABLES.items():
            write_table(tmp / f"{name}.parquet", getattr(run, name), columns)
        (tmp / METRICS).write_text(dumps_json(metrics))
        from fleetsim.metrics.timeseries import TIMESERIES, write_timeseries

        write_timeseries(tmp / TIMESERIES, run)
        # The terrain grid and the targets the run used, so that the directory is
        # complete on its own (a DEM file may move; random targets are drawn).
        terrain = run.world.terrain
        np.save(tmp / TERRAIN, np.asarray(terrain.heights_m, dtype=np.float64))
        write_table(tmp / "targets.parquet", targets_table(run.world), TARGET_COLUMNS)
        sc = run.scenario
        manifest = {
            "format_version": FORMAT_VERSION,
            "scenario_name": sc.name,
            "seed": sc.run.seed,
            "scenario": sc.source,
            "base_dir": str(Path(sc.base_dir).resolve()),
            "versions": versions(),
            "terrain_grid": {"file": TERRAIN, "origin_m": list(map(float, terrain.origin_m)),
                             "spacing_m": float(terrain.spacing_m)},
            "counts": {"vehicles": int(len(run.vehicles["vehicle"])),
                       "legs": int(len(run.legs["leg"])),
                       "events": int(len(run.events["time_s"]))},
        }
        manifest.update(manifest_extra or {})
        for writer in extra_writers or []:
            writer(tmp)
        (tmp / MANIFEST).write_text(dumps_json(manifest))
    return out


def read_manifest(run_dir: str | os.PathLike) -> dict[str, Any]:
    path = Path(run_dir)
    if not path.is_dir():
        raise RunDirError(f"{run_dir}: no such run directory")
    mf = path / MANIFEST
    if not mf.is_file():
        raise RunDirError(f"{run_dir}: not a complete run directory (no {MANIFEST}); "
                          "a run directory is what 'fleetsim run' writes")
    try:
        manifest = json.loads(mf.read_text())
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{mf}: unreadable manifest ({exc})") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise RunDirError(f"{mf}: run format version {manifest.get('format_version')!r}; "
                          f"this fleetsim reads version {FORMAT_VERSION}")
    return manifest


def read_run(run_dir: str | os.PathLike) -> RecordedRun:
    """Read a run directory back as a :class:`RecordedRun` (the world is rebuilt)."""
    from fleetsim.rng import RandomStreams
    from fleetsim.scenario import scenario_from_source
    from fleetsim.world.world import build_world

    path = Path(run_dir)
    manifest = read_manifest(path)
    scenario = scenario_from_source(manifest["scenario"], base_dir=manifest.get("base_dir", "."))
    grid = manifest.get("terrain_grid")
    terrain = None
    if grid and (path / grid["file"]).is_file():
        from fleetsim.world.terrain import Terrain

        try:
            heights = np.load(path / grid["file"], allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise RunDirError(f"{run_dir}: unreadable {grid['file']} ({exc})") from None
        terrain = Terrain(heights, grid["spacing_m"], tuple(grid["origin_m"]))
        sea = scenario.terrain.sea_level_m
        if sea is not None:  # the stored grid is the surface: the sea is at sea level
            terrain.water = terrain.heights_m <= sea
            terrain.sea_level_m = float(sea)
    world = build_world(scenario, RandomStreams(scenario.run.seed), terrain=terrain)
    tables = {}
    for name, columns in TABLES.items():
        f = path / f"{name}.parquet"
        if name == "orders" and not f.is_file():
            continue  # written before logistics: no orders
        if not f.is_file():
            raise RunDirError(f"{run_dir}: missing {f.name}; the run directory is incomplete")
        tables[name] = read_table(f, columns)
    return RecordedRun(scenario=scenario, world=world, **tables)

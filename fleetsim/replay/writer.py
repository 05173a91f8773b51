"""Writing the replay bundle of a recorded run (the format is ``viz/FORMAT.md``)."""

from __future__ import annotations

import json
import math
import os
import shutil
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import fleetsim
from fleetsim.errors import RunDirError
from fleetsim.record import EVENT_KINDS, LEG_KINDS
from fleetsim.replay.binfile import write_columns
from fleetsim.replay.keyframes import (
    FLAG_SENSING,
    KEYFRAME_COLUMNS,
    chunk_bounds,
    chunk_keyframes,
    dense_vehicle_index,
    sort_legs,
    to_dense,
)
from fleetsim.replay.layers import (
    ORDER_EVENT_KINDS,
    coverage_layer,
    coverage_rasters,
    missions_layer,
    orders_layer,
    roads_layer,
    sites_layer,
    targets_layer,
    terrain_layer,
    water_layer,
    wind_layer,
    zones_layer,
)
from fleetsim.replay.png import encode_png
from fleetsim.resources import candidates, shipped_dir
from fleetsim.rundir import atomic_directory

if TYPE_CHECKING:  # pragma: no cover
    from fleetsim.record import RecordedRun

#: Name and version of the bundle format; bump VERSION on any incompatible change.
FORMAT_NAME = "fleetsim-replay"
FORMAT_VERSION = 2
#: Versions a reader of this version still reads (version 1 lacks the time series).
READABLE_VERSIONS = (1, 2)
MANIFEST = "manifest.json"
#: Event kinds left out of the bundle's event stream: an ``arrive`` is the end of
#: a leg, already a keyframe.
OMITTED_EVENT_KINDS = ("arrive",)
#: Most distinct event details the bundle lists (the ``detail`` column is uint16; the
#: last code stands for any detail beyond the list).
MAX_DETAILS = 65535
#: Files of the viewer copied into every bundle (relative to the viewer folder).
VIEWER_SUFFIXES = (".html", ".js", ".css", ".md")


def viewer_dir() -> Path:
    """The browser viewer's folder: ``$FLEETSIM_VIZ_DIR``, else the one the installed
    package carries (``fleetsim/viz/``), else ``viz/`` of the source tree
    (:func:`fleetsim.resources.shipped_dir`)."""
    env = os.environ.get("FLEETSIM_VIZ_DIR")
    if env:
        path = Path(env)
        if not (path / "index.html").is_file():
            raise RunDirError(f"the replay viewer was not found at {path} (no index.html): "
                              "set FLEETSIM_VIZ_DIR to a folder holding the viewer (viz/ of "
                              "fleetsim's source tree), or unset it")
        return path
    path = shipped_dir("viz")
    if path is None:
        looked = " or ".join(str(p) for p in candidates("viz"))
        raise RunDirError(f"the replay viewer was not found (no index.html in {looked}); "
                          "reinstall fleetsim (pip install fleetsim, or pip install -e . in "
                          "its source tree) or set FLEETSIM_VIZ_DIR to the viz/ folder")
    return path


def viewer_files(src: Path | None = None) -> list[Path]:
    """The viewer's files, relative to its folder."""
    src = src or viewer_dir()
    return sorted(p.relative_to(src) for p in src.rglob("*")
                  if p.is_file() and p.suffix in VIEWER_SUFFIXES and not p.name.startswith("."))


def copy_viewer(dest: Path, src: Path | None = None) -> list[str]:
    src = src or viewer_dir()
    out = []
    for rel in viewer_files(src):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, target)
        out.append(rel.as_posix())
    return out


def _dumps(data: Any) -> str:
    return json.dumps(data, sort_keys=True, indent=1, allow_nan=False) + "\n"


def _world_bounds(run: RecordedRun, extra: list[tuple[float, float, float, float]]
                  ) -> list[float]:
    xs, ys = [], []
    for b in extra:
        xs += [b[0], b[2]]
        ys += [b[1], b[3]]
    legs = run.legs
    if len(legs["leg"]):
        for k in ("x0_m", "x1_m"):
            col = legs[k][np.isfinite(legs[k])]
            if len(col):
                xs += [float(col.min()), float(col.max())]
        for k in ("y0_m", "y1_m"):
            col = legs[k][np.isfinite(legs[k])]
            if len(col):
                ys += [float(col.min()), float(col.max())]
    for s in run.world.sites:
        xs.append(s.xy[0])
        ys.append(s.xy[1])
    if not xs:
        return [0.0, 0.0, 1.0, 1.0]
    xs = [x for x in xs if math.isfinite(x)] or [0.0, 1.0]
    ys = [y for y in ys if math.isfinite(y)] or [0.0, 1.0]
    return [min(xs), min(ys), max(xs), max(ys)]


def _vehicle_types(run: RecordedRun, type_names: list[str]) -> list[dict[str, Any]]:
    specs = {t.id: t for t in run.scenario.vehicle_types}
    out = []
    for name in type_names:
        t = specs.get(name)
        entry: dict[str, Any] = {"id": name}
        if t is not None:
            entry.update({"kind": t.kind, "domain": t.domain,
                          "cruise_speed_mps": t.cruise_speed_mps, "battery_wh": t.battery_wh,
                          "reserve_fraction": t.reserve_fraction,
                          "footprint_radius_m": t.sensor.footprint_radius_m})
        out.append(entry)
    return out


def _detail_codes(details: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """(uint16 codes, names) of the events' details; code 0 is "" (none)."""
    names = [""]
    code: dict[str, int] = {"": 0}
    out = np.zeros(len(details), dtype="<u2")
    for i, d in enumerate(details):
        d = "" if d is None else str(d)
        c = code.get(d)
        if c is None:
            if len(names) < MAX_DETAILS:
                c = code[d] = len(names)
                names.append(d)
            else:
                c = MAX_DETAILS
        out[i] = c
    return out, names


def write_replay_into(out_dir: str | os.PathLike, run: RecordedRun, *,
                      chunk_s: float | None = None, n_buckets: int = 60,
                      viewer: bool = True) -> Path:
    """Write the replay bundle of ``run`` into ``out_dir`` (created; must be empty).

    Parameters
    ----------
    chunk_s:
        Duration of a keyframe chunk (default: chosen from the run's size).
    n_buckets:
        Number of idleness raster samples over ``[0, duration]``.
    viewer:
        Copy the viewer (``index.html``, its scripts and styles) into the bundle,
        so any static file server can show it (with a warning, and without it, if
        the viewer's folder is not found: see :func:`viewer_dir`).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise RunDirError(f"{out}: the replay folder is not empty")
    (out / "chunks").mkdir()
    (out / "terrain").mkdir()
    (out / "layers").mkdir()
    T = run.duration_s

    # Vehicles, in id order (dense index = position).
    veh = run.vehicles
    order, sorted_ids = dense_vehicle_index(veh)
    n_v = len(sorted_ids)
    type_col = np.asarray(veh["type"], dtype=object)[order]
    type_names = list(dict.fromkeys(map(str, type_col)))
    type_index = {name: i for i, name in enumerate(type_names)}
    site_ids = [s.id for s in run.world.sites]
    base_col = [str(b) for b in np.asarray(veh["base"], dtype=object)[order]]
    base_index = np.array([site_ids.index(b) if b in site_ids else 65535 for b in base_col],
                          dtype="<u2")
    vcols = {
        "id": sorted_ids.astype("<i4"),
        "type": np.array([type_index[str(t)] for t in type_col], dtype="<u2"),
        "base": base_index,
        "battery_wh": np.asarray(veh["battery_wh"], dtype=np.float64)[order].astype("<f4"),
        "footprint_radius_m": np.asarray(veh["footprint_radius_m"],
                                         dtype=np.float64)[order].astype("<f4"),
    }
    if "payload_kg" in veh:
        vcols["payload_kg"] = np.asarray(veh["payload_kg"], dtype=np.float64)[order].astype("<f4")
    if "carrier" in veh:
        vcols["carrier"] = to_dense(np.asarray(veh["carrier"])[order], sorted_ids,
                                    allow_missing=True).astype("<i4")
    vfile = write_columns(out / "vehicles.bin", vcols)

    # Keyframe chunks.
    sl = sort_legs(run.legs, veh)
    chunks = []
    for k, (c0, c1) in enumerate(chunk_bounds(T, len(sl.t0), n_v, chunk_s)):
        cols = chunk_keyframes(sl, c0, c1)
        entry = write_columns(out / "chunks" / f"chunk-{k:04d}.bin", cols)
        entry["file"] = f"chunks/{entry['file']}"
        entry.update({"index": k, "t0_s": c0, "t1_s": c1, "rows": int(len(cols["t_s"]))})
        chunks.append(entry)

    # Events.
    ev = run.events
    keep = ~np.isin(np.asarray(ev["kind"], dtype=object), OMITTED_EVENT_KINDS)
    kinds = np.asarray(ev["kind"], dtype=object)[keep]
    code = {k: i for i, k in enumerate(EVENT_KINDS)}
    detail_codes, detail_names = _detail_codes(
        np.asarray(ev.get("detail", np.full(len(keep), "", dtype=object)), dtype=object)[keep])
    efile = write_columns(out / "events.bin", {
        "time_s": np.asarray(ev["time_s"], dtype="<f8")[keep],
        "kind": np.array([code.get(str(k), 255) for k in kinds], dtype=np.uint8),
        "vehicle": to_dense(np.asarray(ev["vehicle"])[keep], sorted_ids, allow_missing=True),
        "target": np.asarray(ev["target"], dtype="<i4")[keep],
        "zone": np.asarray(ev["zone"], dtype="<i4")[keep],
        "x_m": np.asarray(ev["x_m"], dtype=np.float64)[keep].astype("<f4"),
        "y_m": np.asarray(ev["y_m"], dtype=np.float64)[keep].astype("<f4"),
        "z_m": np.asarray(ev["z_m"], dtype=np.float64)[keep].astype("<f4"),
        "value": np.asarray(ev["value"], dtype=np.float64)[keep].astype("<f4"),
        "detail": detail_codes,
    })

    # Layers.
    terrain_entry, image, heights = terrain_layer(run.world.terrain)
    (out / terrain_entry["image"]).write_bytes(encode_png(image))
    hfile = write_columns(out / "terrain" / "heights.bin", {"heights_m": heights.reshape(-1)})
    hfile["file"] = "terrain/heights.bin"
    terrain_entry["heights"].update(hfile)
    for name, data in (("zones", zones_layer(run)), ("missions", missions_layer(run)),
                       ("sites", sites_layer(run)), ("targets", targets_layer(run))):
        (out / "layers" / f"{name}.json").write_text(_dumps(data))
    rasters = coverage_rasters(run, n_buckets)
    cov_entry, cov_cols = coverage_layer(rasters, T)
    cfile = write_columns(out / "layers" / "coverage.bin", cov_cols)
    cfile["file"] = "layers/coverage.bin"
    cov_entry.update(cfile)
    extra_layers: dict[str, Any] = {}
    wind = wind_layer(run)
    if wind is not None:
        extra_layers["wind"] = wind
    extra_bounds = []
    roads = roads_layer(run)
    if roads is not None:
        entry, cols = roads
        entry.update(_layer_file(out, "roads", cols))
        extra_layers["roads"] = entry
        if entry["count"]:
            extra_bounds.append((float(min(cols["x0_m"].min(), cols["x1_m"].min())),
                                 float(min(cols["y0_m"].min(), cols["y1_m"].min())),
                                 float(max(cols["x0_m"].max(), cols["x1_m"].max())),
                                 float(max(cols["y0_m"].max(), cols["y1_m"].max()))))
    water = water_layer(run)
    if water is not None:
        entry, cols = water
        entry.update(_layer_file(out, "water", cols))
        extra_layers["water"] = entry
    orders = orders_layer(run, sorted_ids, site_ids)
    if orders is not None:
        entry, cols, ids = orders
        entry.update(_layer_file(out, "orders", cols))
        (out / "layers" / "order_ids.json").write_text(_dumps(ids))
        entry["ids"] = "layers/order_ids.json"
        extra_layers["orders"] = entry
        dx, dy = cols["dest_x_m"], cols["dest_y_m"]
        ok = np.isfinite(dx) & np.isfinite(dy)
        if ok.any():
            extra_bounds.append((float(dx[ok].min()), float(dy[ok].min()),
                                 float(dx[ok].max()), float(dy[ok].max())))

    series_entry = _timeseries_file(out, run)
    sc = run.scenario
    bounds = _world_bounds(run, [tuple(terrain_entry["image_extent_m"][:4]), *extra_bounds])
    manifest = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "generator": f"fleetsim {fleetsim.__version__}",
        "scenario": {"name": sc.name, "description": sc.description, "seed": sc.run.seed,
                     "policy": sc.policy.name},
        "time": {"start_s": 0.0, "end_s": T},
        "world": {"crs": "local ENU metres: x east, y north, z above the datum",
                  "bounds_m": bounds},
        "leg_kinds": list(LEG_KINDS),
        "leg_kinds_present": sorted(set(map(str, np.unique(np.asarray(run.legs["kind"],
                                                                      dtype=object)))),
                                    key=LEG_KINDS.index),
        "event_kinds": list(EVENT_KINDS),
        "vehicle_types": _vehicle_types(run, type_names),
        "vehicles": {"count": n_v, **vfile},
        "keyframes": {"columns": dict(KEYFRAME_COLUMNS, offsets="<u4"),
                      "flags": {"sensing": FLAG_SENSING},
                      "rows": int(sum(c["rows"] for c in chunks)),
                      "legs": int(len(sl.t0))},
        "chunks": chunks,
        "timeseries": series_entry,
        "events": {"count": int(keep.sum()), "omitted_kinds": list(OMITTED_EVENT_KINDS),
                   "details": detail_names, "order_kinds": list(ORDER_EVENT_KINDS), **efile},
        "layers": {
            "terrain": terrain_entry,
            "zones": "layers/zones.json",
            "missions": "layers/missions.json",
            "sites": "layers/sites.json",
            "targets": "layers/targets.json",
            "coverage": cov_entry,
            **extra_layers,
        },
    }
    if viewer:
        try:
            src = viewer_dir()
        except RunDirError as exc:  # the data is still worth having: say so, go on
            warnings.warn(f"replay bundle written without its viewer: {exc}", stacklevel=2)
        else:
            manifest["viewer"] = copy_viewer(out, src)
    (out / MANIFEST).write_text(_dumps(manifest))
    return out


def _timeseries_file(out: Path, run: RecordedRun) -> dict[str, Any]:
    """Write ``timeseries.bin``: the run's time series (``fleetsim.metrics.timeseries``),
    float64 columns, NaN for null values; columns that do not apply are left out."""
    from fleetsim.metrics.timeseries import COLUMNS, timeseries

    series = timeseries(run)
    cols = {name: np.asarray(series[name], dtype="<f8") for name in COLUMNS
            if series[name] is not None}
    entry = write_columns(out / "timeseries.bin", cols)
    entry["rows"] = int(len(cols["time_s"]))
    entry["absent"] = [name for name in COLUMNS if series[name] is None]
    return entry


def _layer_file(out: Path, name: str, cols: dict[str, np.ndarray]) -> dict[str, Any]:
    entry = write_columns(out / "layers" / f"{name}.bin", cols)
    entry["file"] = f"layers/{entry['file']}"
    return entry


def write_replay(run_dir: str | os.PathLike, *, out: str | os.PathLike | None = None,
                 **kw: Any) -> Path:
    """(Re)build the replay bundle of a run directory (default ``RUN_DIR/replay``),
    replacing any previous one only once the new one is complete."""
    from fleetsim.rundir import read_run

    run = read_run(run_dir)
    dest = Path(out) if out is not None else Path(run_dir) / "replay"
    with atomic_directory(dest, kind="replay") as tmp:
        write_replay_into(tmp, run, **kw)
    return dest


def bundle_size(path: str | os.PathLike, *, data_only: bool = True) -> int:
    """Total bytes of a bundle's files (without the viewer's when ``data_only``)."""
    root = Path(path)
    viewer = set()
    if data_only:
        try:
            viewer = set(json.loads((root / MANIFEST).read_text()).get("viewer", []))
        except (OSError, ValueError):
            viewer = set()
    return sum(p.stat().st_size for p in root.rglob("*")
               if p.is_file() and p.relative_to(root).as_posix() not in viewer)

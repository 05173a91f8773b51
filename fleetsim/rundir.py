"""Run directories: what a run writes, and how a recorded run is read back.

A run directory holds::

    manifest.json     "format": "fleetsim-run", "format_version": 1; scenario (validated,
                      overrides applied), seed, versions, timings
    metrics.json      the metrics (simulation results only: byte-identical for the
                      same scenario and seed)
    legs.parquet      the legs table      (see fleetsim.record)
    events.parquet    the events table
    vehicles.parquet  the vehicles table
    orders.parquet    the orders table
    timeseries.parquet  the run's state step by step (see fleetsim.metrics.timeseries)
    targets.parquet   the targets the run used
    reservations.parquet  strategic deconfliction's 4D reservations (when it made them)
    terrain.npy       the terrain grid the run used
    replay/           the replay bundle (unless turned off)

It is written into a temporary sibling folder and renamed into place only when
complete, so a failed run never leaves a directory that looks finished.

A folder is a run directory because of its manifest (the ``format`` marker, or, for
one written before the marker, the full set of keys every run manifest has had), never
because of a file name. Writing replaces an existing folder only if it is a run
directory holding nothing but what fleetsim writes there, no fleetsim process is
writing into it, and it does not contain the current folder or fleetsim itself; what
killed processes left behind is cleaned by the next write to the same place
(:func:`recover`).
"""

from __future__ import annotations

import errno
import json
import os
import platform
import re
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import fleetsim
from fleetsim.errors import RunDirError
from fleetsim.record import (
    EVENT_COLUMNS,
    LEG_COLUMNS,
    ORDER_COLUMNS,
    RESERVATION_COLUMNS,
    VEHICLE_COLUMNS,
    CodedColumn,
    RecordedRun,
    Table,
)

MANIFEST = "manifest.json"
TERRAIN = "terrain.npy"
TARGET_COLUMNS = {"target": np.int32, "id": object, "mission": object,
                  "x_m": np.float64, "y_m": np.float64}
METRICS = "metrics.json"
#: Strategic deconfliction's reservations (runs that made them; see
#: :data:`fleetsim.record.RESERVATION_COLUMNS`). Not part of the run digest.
RESERVATIONS = "reservations.parquet"
#: The string columns a run directory's tables are read into as coded columns.
CODED_COLUMNS = {"legs": ("kind",), "events": ("kind", "detail")}
TABLES = {"legs": LEG_COLUMNS, "events": EVENT_COLUMNS, "vehicles": VEHICLE_COLUMNS,
          "orders": ORDER_COLUMNS}
FORMAT_VERSION = 1


def _to_arrow(table: Table, columns: dict[str, type]) -> pa.Table:
    arrays = {}
    for name, dtype in columns.items():
        col = table[name]
        if isinstance(col, CodedColumn):
            arrays[name] = _coded_to_arrow(col)
        elif dtype is object:
            arrays[name] = pa.array(col.tolist(), type=pa.string()).dictionary_encode()
        else:
            arrays[name] = pa.array(np.asarray(col, dtype=dtype))
    return pa.table(arrays)


def _coded_to_arrow(col: CodedColumn) -> pa.DictionaryArray:
    """The Arrow array ``dictionary_encode()`` makes of the column's strings (strings
    numbered in the order they first appear, int32 indices), from its codes."""
    present, first = np.unique(col.codes, return_index=True)
    present = present[np.argsort(first, kind="stable")]
    renumber = np.zeros(len(col.categories), dtype=np.int32)
    renumber[present] = np.arange(len(present), dtype=np.int32)
    return pa.DictionaryArray.from_arrays(
        pa.array(renumber[col.codes], type=pa.int32()),
        pa.array([col.categories[c] for c in present.tolist()], type=pa.string()))


#: Rows converted to Arrow and written at a time (one Parquet row group each), so a
#: long run's tables are never whole in Arrow form as well.
WRITE_ROWS = 1 << 20


def write_table(path: Path, table: Table, columns: dict[str, type]) -> None:
    n = len(table[next(iter(columns))])
    if n <= WRITE_ROWS:
        pq.write_table(_to_arrow(table, columns), path, compression="zstd",
                       write_statistics=True, store_schema=True)
        return
    part = _to_arrow({k: table[k][:WRITE_ROWS] for k in columns}, columns)
    with pq.ParquetWriter(path, part.schema, compression="zstd", write_statistics=True,
                          store_schema=True) as writer:
        writer.write_table(part)
        for i in range(WRITE_ROWS, n, WRITE_ROWS):
            writer.write_table(_to_arrow({k: table[k][i:i + WRITE_ROWS] for k in columns},
                                         columns))


#: Columns added to the vehicles table with logistics, and their value in run
#: directories written before (all vehicles air, no payload, no carrier).
_ADDED_COLUMNS = {"domain": "air", "payload_kg": 0.0, "carrier": -1}


def read_table(path: Path, columns: dict[str, type], coded=()) -> Table:
    """The table of a Parquet file, its columns typed as ``columns`` says; the string
    columns named in ``coded`` as :class:`~fleetsim.record.CodedColumn` s."""
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
        if name in coded:
            enc = col.cast(pa.string()).combine_chunks().dictionary_encode()
            cats = enc.dictionary.to_pylist()
            out[name] = CodedColumn(enc.indices.to_numpy(zero_copy_only=False).astype(
                CodedColumn.code_dtype(len(cats))), cats)
        elif dtype is object:
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


# --------------------------------------------------------------------------------------
# What a run directory is, and what --out may replace

#: The marker in every run manifest: ``"format": RUN_FORMAT``, ``"format_version": 1``.
RUN_FORMAT = "fleetsim-run"

#: The keys (and their types) every run manifest has carried since the first version.
#: A manifest without the ``format`` marker (written by fleetsim before it had one) is
#: recognised as a run manifest only when it has all of them, with ``versions`` naming
#: fleetsim.
LEGACY_MANIFEST_KEYS: dict[str, type | tuple[type, ...]] = {
    "format_version": int, "scenario_name": str, "seed": int, "scenario": dict,
    "base_dir": str, "versions": dict, "counts": dict}

#: The files ``write_run`` puts in a run directory (older versions wrote a subset).
RUN_FILES = frozenset({MANIFEST, METRICS, TERRAIN, "targets.parquet", RESERVATIONS,
                       "timeseries.parquet", "timeseries.png",
                       *(f"{name}.parquet" for name in TABLES)})
#: The replay bundle inside a run directory (``fleetsim run``, ``fleetsim replay``).
REPLAY_DIR = "replay"
#: What ``fleetsim fidelity RUN_DIR`` writes by default, in ``RUN_DIR/fidelity``.
FIDELITY_DIR = "fidelity"
FIDELITY_FILES = frozenset({"fidelity.csv", "fidelity.json", "fidelity.png",
                            "calibration.yaml"})

#: What fleetsim leaves next to a folder it is writing: ``.NAME.partial-PID`` (the new
#: folder being built), ``.NAME.old-PID`` (the folder being replaced, between the two
#: renames), ``.NAME.lock-PID`` (held locked while the process writes) and
#: ``.NAME.probe-PID`` (a write test).
LEFTOVER_KINDS = ("partial", "old", "lock", "probe")
_LEFTOVER = re.compile(r"\.(?P<name>.+)\.(?P<what>partial|old|lock|probe)-(?P<pid>[1-9][0-9]*)")

Kind = Literal["run", "replay"]


def run_manifest_problem(manifest: Any) -> str | None:
    """Why ``manifest`` (parsed ``manifest.json``) is not a fleetsim run manifest, or
    None when it is one (of any format version)."""
    if not isinstance(manifest, dict):
        return f"its {MANIFEST} holds no JSON object"
    fmt = manifest.get("format")
    if fmt == RUN_FORMAT:
        return None
    if fmt is not None:
        return f"its {MANIFEST} is a {fmt!r} manifest, not a {RUN_FORMAT!r} one"
    for key, typ in LEGACY_MANIFEST_KEYS.items():
        value = manifest.get(key)
        if not isinstance(value, typ) or isinstance(value, bool):
            break
    else:
        if "fleetsim" in manifest["versions"]:
            return None  # written by a fleetsim from before the format marker
    return f'its {MANIFEST} has no "format": "{RUN_FORMAT}" marker'


def _read_json(path: Path) -> tuple[Any, str | None]:
    """(parsed content, None), or (None, why it could not be read)."""
    if not path.is_file():
        return None, f"no {path.name}"
    try:
        return json.loads(path.read_text()), None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return None, f"unreadable {path.name}: {exc}"


def _replay_format() -> str:
    from fleetsim.replay.writer import FORMAT_NAME

    return FORMAT_NAME


def _replay_listed(manifest: dict[str, Any]) -> set[str]:
    """The files a replay manifest names (its data files and the viewer's)."""
    listed = {MANIFEST}

    def walk(obj: Any, key: str | None, parent: str | None) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, k, key)
        elif isinstance(obj, list):
            if key == "viewer":
                listed.update(x for x in obj if isinstance(x, str))
            else:
                for v in obj:
                    walk(v, None, key)
        elif isinstance(obj, str) and (key in ("file", "image", "ids") or parent == "layers"):
            listed.add(obj)

    walk(manifest, None, None)
    return listed


def _files_under(root: Path) -> list[str]:
    """Every file (and symbolic link) under ``root``, as POSIX paths relative to it."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        for name in filenames + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
            out.append((rel / name).as_posix())
    return sorted(out)


def _replay_problem(root: Path) -> tuple[str | None, list[str]]:
    """(why ``root`` is not a replay bundle or None, the files in it fleetsim did not
    write)."""
    manifest, why = _read_json(root / MANIFEST)
    if why is not None:
        return why, []
    if not isinstance(manifest, dict) or manifest.get("format") != _replay_format():
        return f"its {MANIFEST} is not a {_replay_format()!r} manifest", []
    listed = _replay_listed(manifest)
    return None, [f for f in _files_under(root)
                  if f not in listed or (root / f).is_symlink()]


def _pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (True when it cannot be
    told)."""
    if os.name != "posix":  # os.kill would end the process there
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process (or no such id)
        return False
    except OSError:  # EPERM: it exists, under another user
        return True
    return True


def _lock_held(path: Path) -> bool:
    """Whether some process (on any machine sharing the folder) holds ``path`` locked."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover (not POSIX)
        return False
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:  # locks not supported here: the process id decides
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _owner_alive(parent: Path, name: str, pid: int) -> bool:
    """Whether the process that left ``.NAME.*-PID`` in ``parent`` may still be writing.

    It is taken for dead only when its lock file (if any) is not held and no process
    with its id runs here, so a live writer's files are never touched; a process on
    another machine sharing the folder is told apart by its lock.
    """
    if pid == os.getpid():
        return True
    return _lock_held(parent / f".{name}.lock-{pid}") or _pid_alive(pid)


def _leftovers(parent: Path, name: str) -> dict[int, dict[str, Path]]:
    """fleetsim's leftovers next to ``parent/name``: pid -> {kind: path}."""
    out: dict[int, dict[str, Path]] = {}
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return out
    for entry in entries:
        m = _LEFTOVER.fullmatch(entry.name)
        if m and m["name"] == name:
            out.setdefault(int(m["pid"]), {})[m["what"]] = Path(entry.path)
    return out


def _contents_problem(root: Path, kind: Kind) -> tuple[str | None, list[str], list[int]]:
    """(why ``root`` is not a fleetsim folder of ``kind`` or None, the files in it that
    fleetsim did not write, the ids of live processes writing into it)."""
    if kind == "replay":
        why, foreign = _replay_problem(root)
        return why, foreign, []
    manifest, why = _read_json(root / MANIFEST)
    why = why or run_manifest_problem(manifest)
    if why is not None:
        return why, [], []
    foreign: list[str] = []
    live: list[int] = []
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        path = Path(entry.path)
        if entry.is_symlink():
            foreign.append(entry.name)
        elif entry.is_file() and entry.name in RUN_FILES:
            continue
        elif entry.is_dir() and entry.name == REPLAY_DIR:
            not_replay, extra = _replay_problem(path)
            foreign += [f"{REPLAY_DIR}/"] if not_replay else [f"{REPLAY_DIR}/{f}" for f in extra]
        elif entry.is_dir() and entry.name == FIDELITY_DIR:
            foreign += [f"{FIDELITY_DIR}/{f}" for f in _files_under(path)
                        if f not in FIDELITY_FILES or (path / f).is_symlink()]
        elif (m := _LEFTOVER.fullmatch(entry.name)) and m["name"] == REPLAY_DIR:
            if _owner_alive(root, REPLAY_DIR, int(m["pid"])):
                live.append(int(m["pid"]))
        else:
            foreign.append(entry.name + ("/" if entry.is_dir() else ""))
    return None, foreign, sorted(set(live))


def _listing(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def _source_root() -> Path:
    """The folder fleetsim's package sits in (the repository, or site-packages)."""
    return Path(fleetsim.__file__).resolve().parent.parent


def _refuse_in_use(dest: Path) -> None:
    """A folder that holds the current folder or fleetsim itself is never replaced."""
    real = Path(os.path.realpath(dest))
    try:
        cwd: str | None = os.getcwd()
    except OSError:  # the current folder was removed: nothing holds it
        cwd = None
    for what, inner in (("the current folder", cwd),
                        ("the folder fleetsim runs from", _source_root())):
        if inner is None:
            continue
        inner = Path(os.path.realpath(inner))
        if real == inner or real in inner.parents:
            where = f"is {what}" if real == inner else f"contains {what} ({inner})"
            raise RunDirError(f"{dest}: {where}; refusing to replace it: choose another "
                              "output folder")


def _refuse_to_replace(dest: Path, kind: Kind = "run") -> None:
    """Only a fleetsim folder of ``kind`` holding nothing but fleetsim's files, that no
    live process is writing into, may be replaced."""
    what = "run directory" if kind == "run" else "replay bundle"
    advice = ("choose another --out or remove it yourself" if kind == "run"
              else "move it away or remove it yourself")
    _refuse_in_use(dest)
    if not os.path.lexists(dest):
        return
    if dest.is_symlink():
        raise RunDirError(f"{dest}: is a symbolic link; refusing to replace it: {advice}")
    if not dest.is_dir():
        raise RunDirError(f"{dest}: exists and is not a folder; refusing to replace it: "
                          f"{advice}")
    why, foreign, live = _contents_problem(dest, kind)
    if why is not None:
        raise RunDirError(f"{dest}: exists and is not a fleetsim {what} ({why}); refusing "
                          f"to replace it: {advice}")
    if live:
        raise RunDirError(f"{dest}: a fleetsim process (pid {live[0]}) is writing into it; "
                          "wait for it to finish")
    if foreign:
        raise RunDirError(f"{dest}: a fleetsim {what} holding files fleetsim did not write "
                          f"({_listing(foreign)}); refusing to replace it: move them out "
                          "first, or choose another output folder")


def _remove_tree(path: Path) -> None:
    """Remove a folder fleetsim wrote; its manifest goes first, so that a removal cut
    short never leaves something that looks complete."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
        return
    (path / MANIFEST).unlink(missing_ok=True)
    shutil.rmtree(path, ignore_errors=True)


def _restorable(path: Path, kind: Kind) -> bool:
    why, _, _ = _contents_problem(path, kind) if path.is_dir() else ("not a folder", [], [])
    return why is None


def _only_run_files(path: Path) -> bool:
    """A partly written or partly removed run directory holds no name fleetsim does not
    write there."""
    def ours(name: str) -> bool:
        m = _LEFTOVER.fullmatch(name)
        return name in RUN_FILES or name in (REPLAY_DIR, FIDELITY_DIR) or (
            m is not None and m["name"] == REPLAY_DIR)

    try:
        return all(ours(e.name) for e in os.scandir(path))
    except OSError:
        return False


def recover(dest: str | os.PathLike, kind: Kind = "run") -> None:
    """Clean what killed fleetsim processes left next to ``dest``, and finish a replace
    they were in the middle of.

    A process killed while writing leaves ``.NAME.partial-PID`` (and its lock file); one
    killed between the two renames of a replace leaves ``dest`` missing and the earlier
    complete folder as ``.NAME.old-PID``: that folder is put back at ``dest`` (the most
    recent, if there are several). Leftovers of processes that may still run are not
    touched (see :func:`_owner_alive`).
    """
    dest = Path(os.path.abspath(dest))
    parent = dest.parent
    dead = {pid: found for pid, found in _leftovers(parent, dest.name).items()
            if not _owner_alive(parent, dest.name, pid)}
    if not dead:
        return
    if not os.path.lexists(dest):
        olds = [f["old"] for f in dead.values() if "old" in f and _restorable(f["old"], kind)]
        if olds:
            newest = max(olds, key=lambda p: (p / MANIFEST).stat().st_mtime_ns)
            os.rename(newest, dest)
    for found in dead.values():
        for what in LEFTOVER_KINDS:  # the lock file last
            path = found.get(what)
            if path is None or not os.path.lexists(path):
                continue
            if kind == "run" and what in ("partial", "old") and path.is_dir() \
                    and not path.is_symlink() and not _only_run_files(path):
                continue  # not what fleetsim leaves: not ours to remove
            try:
                _remove_tree(path)
            except OSError:
                pass


def check_output(dest: str | os.PathLike) -> None:
    """Fail early, before a long run, if a run directory cannot be written at ``dest``:
    it would replace something that is not a fleetsim run directory (or holds files
    fleetsim did not write), or the folder is not writable. Leftovers of killed runs to
    ``dest`` are cleaned first (:func:`recover`)."""
    dest = Path(os.path.abspath(dest))
    _refuse_in_use(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        recover(dest)
        _refuse_to_replace(dest)
        probe = dest.parent / f".{dest.name}.probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise RunDirError(f"{dest}: cannot write there ({exc.strerror or exc})") from None


@contextmanager
def _process_lock(path: Path) -> Iterator[None]:
    """Hold ``path`` locked (the sign, to other processes, that this one is alive)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (ImportError, OSError):
            pass  # no locks here: the process id tells the others
        yield
    finally:
        try:
            path.unlink()
        except OSError:
            pass
        os.close(fd)


def _undo_move(dest: Path, old: Path) -> None:
    """Put the earlier folder back at ``dest``, unless another process's is there."""
    if os.path.lexists(dest):
        _remove_tree(old)
    else:
        os.rename(old, dest)


def _swap_into_place(tmp: Path, dest: Path, old: Path) -> None:
    """Rename ``tmp`` to ``dest``, the earlier ``dest`` (if any) out of the way first
    (to ``old``, which does not exist before). Interrupted or failed between the two
    renames, the earlier folder is put back."""
    try:
        if os.path.lexists(dest):
            os.rename(dest, old)
        os.rename(tmp, dest)
    except OSError as exc:
        raced = exc.errno in (errno.ENOTEMPTY, errno.EEXIST) and os.path.lexists(dest)
        if os.path.lexists(old):
            _undo_move(dest, old)
        if raced:
            raise RunDirError(f"{dest}: another process wrote it at the same time; this "
                              "output was discarded") from None
        raise
    except BaseException:
        if os.path.lexists(old):
            _undo_move(dest, old)
        raise
    _remove_tree(old)


@contextmanager
def atomic_directory(dest: str | os.PathLike, *, kind: Kind = "run") -> Iterator[Path]:
    """Build a directory in a temporary sibling and put it in place of ``dest`` only
    if the block completes; on any error nothing at ``dest`` changes.

    ``dest`` may only replace a fleetsim folder of ``kind`` (a run directory, or a
    replay bundle) that holds nothing but what fleetsim wrote; anything else is refused
    with :class:`~fleetsim.errors.RunDirError` before the block runs, and checked again
    just before the swap. Leftovers of killed processes writing ``dest`` are cleaned
    first (:func:`recover`).
    """
    dest = Path(os.path.abspath(dest))
    _refuse_in_use(dest)
    parent, pid = dest.parent, os.getpid()
    try:
        parent.mkdir(parents=True, exist_ok=True)
        recover(dest, kind)
    except OSError as exc:
        raise RunDirError(f"{dest}: cannot create its folder ({exc.strerror or exc})") from None
    tmp = parent / f".{dest.name}.partial-{pid}"
    old = parent / f".{dest.name}.old-{pid}"
    if os.path.lexists(old):  # left by a dead process that had this id
        if not os.path.lexists(dest) and _restorable(old, kind):
            os.rename(old, dest)
        else:
            _remove_tree(old)
    _refuse_to_replace(dest, kind)
    with ExitStack() as stack:
        try:
            stack.enter_context(_process_lock(parent / f".{dest.name}.lock-{pid}"))
            if os.path.lexists(tmp):  # left by a dead process that had this id
                _remove_tree(tmp)
            tmp.mkdir()
        except OSError as exc:
            raise RunDirError(f"{dest}: cannot write there ({exc.strerror or exc})") from None
        try:
            yield tmp
            _refuse_to_replace(dest, kind)
            _swap_into_place(tmp, dest, old)
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
    from fleetsim.geo.tables import with_lonlat  # lon/lat columns when on the map

    out = Path(out_dir)
    with atomic_directory(out) as tmp:
        for name, columns in TABLES.items():
            write_table(tmp / f"{name}.parquet",
                        *with_lonlat(run.scenario, name, getattr(run, name), columns))
        (tmp / METRICS).write_text(dumps_json(metrics))
        from fleetsim.metrics.timeseries import TIMESERIES, write_timeseries

        write_timeseries(tmp / TIMESERIES, run)
        # The terrain grid and the targets the run used, so that the directory is
        # complete on its own (a DEM file may move; random targets are drawn).
        terrain = run.world.terrain
        np.save(tmp / TERRAIN, np.asarray(terrain.heights_m, dtype=np.float64))
        write_table(tmp / "targets.parquet", *with_lonlat(
            run.scenario, "targets", targets_table(run.world), TARGET_COLUMNS))
        if run.reservations is not None:
            write_table(tmp / RESERVATIONS, *with_lonlat(
                run.scenario, "reservations", run.reservations, RESERVATION_COLUMNS))
        sc = run.scenario
        manifest = {
            "format": RUN_FORMAT,
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
    except (UnicodeDecodeError, ValueError) as exc:
        raise RunDirError(f"{mf}: unreadable manifest ({exc})") from None
    problem = run_manifest_problem(manifest)
    if problem is not None:
        raise RunDirError(f"{run_dir}: not a fleetsim run directory ({problem}); a run "
                          "directory is what 'fleetsim run' writes")
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
        tables[name] = read_table(f, columns, CODED_COLUMNS.get(name, ()))
    if (path / RESERVATIONS).is_file():
        tables["reservations"] = read_table(path / RESERVATIONS, RESERVATION_COLUMNS)
    return RecordedRun(scenario=scenario, world=world, **tables)

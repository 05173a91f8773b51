"""A seeded fuzz of scenario validation: hostile and broken inputs get one-line errors.

Every shipped scenario is shrunk (coarser terrain, fewer vehicles: the mutants
stay small so a thousand validate in well under a minute) and then mutated
1,000+ times with a fixed seed: keys deleted, values of the wrong type,
negative / zero / NaN / infinite / huge / tiny numbers, empty strings,
duplicated keys, YAML tags, alias, merge-key and depth bombs, terrain files
whose header lies (10^10 points in 1 KB, a truncated array, a sparse
20,000 x 20,000 GeoTIFF) or whose heights are absurd (+-1e308, NaN). Each
mutant goes through :func:`fleetsim.cli.validate_scenario` -- what
``fleetsim validate`` runs -- with warnings turned into errors. The outcome
must be acceptance or a :class:`~fleetsim.errors.FleetsimError` whose message
is one line; any other exception, any warning and any validation over 10 s is
a failure. (A policy's own parameters are not mutated: each policy checks them.)
Then accepted mutants (at least 50) run for 60-120 simulated
seconds with at most 3 vehicles a group: no error, no NaN in the legs, the
event times or the metrics.

The counts are printed (``pytest -s``) and, if ``FLEETSIM_FUZZ_REPORT`` names
a file, written there as JSON.
"""

from __future__ import annotations

import copy
import json
import math
import os
import signal
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from fleetsim.cli import validate_scenario
from fleetsim.errors import FleetsimError, PolicyError

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
SEED = 20261207
N_MUTANTS = 1_000
MIN_RUNS = 50
MAX_RUNS = 60
HANG_S = 10.0


class Hang(BaseException):
    """Raised by the alarm when one validation or run takes longer than HANG_S."""


def _alarm(signum: int, frame: Any) -> None:
    raise Hang()


# ------------------------------------------------------------------ base scenarios


def _shrink(doc: dict[str, Any]) -> dict[str, Any]:
    """The scenario, small: a coarse terrain grid and at most 6 vehicles a group."""
    doc = copy.deepcopy(doc)
    world = doc.get("world") or {}
    terrain = world.get("terrain") or {}
    if terrain.get("source", "flat") in ("flat", "procedural"):
        w, h = terrain.get("size_m", [10_000, 10_000])
        terrain["spacing_m"] = max(terrain.get("spacing_m", 50), min(w, h) / 40)
    if world.get("water") and world["water"].get("source", "lattice") == "lattice":
        world["water"]["spacing_m"] = max(world["water"].get("spacing_m", 200), 400)
    for t in doc["fleet"]["types"]:
        if "count" in t:
            t["count"] = min(t["count"], 6)
        if "bases" in t:
            t["bases"] = {b: min(n, 3) for b, n in t["bases"].items()}
    for m in doc.get("missions") or []:
        if m.get("random_targets"):
            m["random_targets"] = min(m["random_targets"], 30)
    outputs = doc.setdefault("outputs", {}) or {}
    outputs["metrics_cell_m"] = max(outputs.get("metrics_cell_m", 50), 250)
    outputs["replay"] = False
    if doc.get("oversight") and doc["oversight"].get("stops"):
        doc["oversight"]["stops"] = [s for s in doc["oversight"]["stops"]
                                     if s.get("vehicles", "all") == "all"]
    return doc


def _bases() -> list[tuple[str, dict[str, Any]]]:
    return [(p.stem, _shrink(yaml.safe_load(p.read_text()))) for p in SCENARIOS]


# ------------------------------------------------------------------ terrain files


def _dem_files(folder: Path) -> list[str]:
    """Terrain files that lie in their header or hold absurd heights (and a few good ones)."""
    fmt = np.lib.format
    out = []

    def header_only(name: str, shape: tuple[int, ...], payload: bytes = b"\0" * 64) -> None:
        with open(folder / name, "wb") as f:
            fmt.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False,
                                           "shape": shape})
            f.write(payload)
        out.append(str(folder / name))

    header_only("huge_header.npy", (100_000, 100_000))  # 10^10 points claimed in ~1 KB
    header_only("truncated.npy", (500, 500))
    header_only("three_d.npy", (4, 4, 4))
    header_only("one_row.npy", (1, 400))
    arrays = {
        "ok.npy": np.zeros((120, 160)),
        "plus_1e308.npy": np.full((50, 50), 1e308),
        "minus_1e308.npy": np.full((50, 50), -1e308),
        "nan.npy": np.where(np.eye(40) > 0, np.nan, 1.0),
        "inf.npy": np.where(np.eye(40) > 0, np.inf, 1.0),
        "everest_x2.npy": np.full((30, 30), 17_700.0),
        "ints.npy": np.arange(900, dtype=np.int16).reshape(30, 30),
        "complex.npy": np.zeros((10, 10), dtype=complex),
        "strings.npy": np.full((10, 10), "a"),
    }
    for name, arr in arrays.items():
        np.save(folder / name, arr)
        out.append(str(folder / name))
    np.save(folder / "objects.npy", np.array([[{"a": 1}]], dtype=object), allow_pickle=True)
    out.append(str(folder / "objects.npy"))
    (folder / "empty.npy").write_bytes(b"")
    (folder / "text.npy").write_text("not numpy at all\n")
    out += [str(folder / "empty.npy"), str(folder / "text.npy")]
    try:
        import rasterio
        from rasterio.transform import Affine
    except ImportError:  # pragma: no cover - rasterio is a dependency
        return out

    def tif(name: str, arr: np.ndarray | None, shape: tuple[int, int], pixel: float,
            **extra: Any) -> None:
        profile = {"driver": "GTiff", "height": shape[0], "width": shape[1], "count": 1,
                   "dtype": "float64" if arr is None else str(arr.dtype), "crs": "EPSG:32633",
                   "transform": Affine(pixel, 0.0, 500_000.0, 0.0, -pixel, 4_000_000.0), **extra}
        with rasterio.open(folder / name, "w", **profile) as ds:
            if arr is not None:
                ds.write(arr, 1)
        out.append(str(folder / name))

    # 20,000 x 20,000 pixels, nothing written: a few KB on disk, 3.2 GB once read.
    tif("sparse_huge.tif", None, (20_000, 20_000), 30.0, tiled=True, sparse_ok=True)
    tif("plus_1e308.tif", np.full((20, 20), 1e308), (20, 20), 30.0)
    tif("tiny_pixels.tif", np.zeros((20, 20)), (20, 20), 1e-6)
    tif("good.tif", np.full((40, 40), 120.0), (40, 40), 250.0)
    return out


# ------------------------------------------------------------------ mutations

HOSTILE_NUMBERS = [-1, 0, -0.0, math.nan, math.inf, -math.inf, 1e300, -1e300, 1.7e308,
                   10**30, -(10**30), 1e-300, 1e-9, 1e9, 1e16, 0.5, 2**63, 10_000_001,
                   1_000_000, 200_001]
WRONG_TYPES: list[Any] = ["x", "", "   ", [], {}, True, False, None, [1, 2, 3], {"a": 1},
                          [[0, 0], [1, 1]], "1e3", ".inf", "0x10"]
TAGS = ['!!python/object/apply:os.system ["true"]', "!!binary aGVsbG8=", "!custom x",
        "!!set {a, b}", "!!timestamp 2001-12-14", "!!float 1e400", "!!int 12",
        "!!str 5", "!!python/name:os.system", "!!omap [a: 1]", "!<tag:x.org,2002:y> 3"]


def _nodes(value: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    """Every (path, value) in a plain-data tree."""
    out = [(path, value)]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _nodes(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _nodes(v, path + (i,))
    return out


def _set(doc: Any, path: tuple, value: Any) -> None:
    for seg in path[:-1]:
        doc = doc[seg]
    doc[path[-1]] = value


def _delete(doc: Any, path: tuple) -> None:
    for seg in path[:-1]:
        doc = doc[seg]
    del doc[path[-1]]


def _mutate_data(doc: dict[str, Any], rng: np.random.Generator, dems: list[str]) -> str:
    """One change of the plain data; returns its kind."""
    # A policy's parameters are checked by the policy itself (Params), not by the
    # scenario schema: they are left alone here.
    nodes = [(p, v) for p, v in _nodes(doc) if p and p[:2] != ("policy", "params")]
    kind = rng.choice(["delete", "type", "number", "number", "number", "string", "dem",
                       "scale"])
    if kind == "delete":
        path, _ = nodes[rng.integers(len(nodes))]
        _delete(doc, path)
    elif kind == "type":
        path, _ = nodes[rng.integers(len(nodes))]
        _set(doc, path, copy.deepcopy(WRONG_TYPES[rng.integers(len(WRONG_TYPES))]))
    elif kind in ("number", "scale"):
        numeric = [(p, v) for p, v in nodes
                   if isinstance(v, int | float) and not isinstance(v, bool)]
        if not numeric:
            return "none"
        path, v = numeric[rng.integers(len(numeric))]
        if kind == "number":
            _set(doc, path, HOSTILE_NUMBERS[rng.integers(len(HOSTILE_NUMBERS))])
        else:  # plausible-looking but extreme: the value times 10^k
            _set(doc, path, v * 10.0 ** int(rng.integers(-12, 13)))
    elif kind == "string":
        strings = [(p, v) for p, v in nodes if isinstance(v, str)]
        path, _ = strings[rng.integers(len(strings))]
        _set(doc, path, ["", " ", "\t", "x" * 10_000, "../../etc/passwd", "é€", "a:b"][
            rng.integers(7)])
    else:  # a terrain file
        dem = dems[rng.integers(len(dems))]
        world = doc.setdefault("world", {}) or {}
        doc["world"] = world
        source = "geotiff" if dem.endswith(".tif") else "npy"
        terrain: dict[str, Any] = {"source": source, "path": dem}
        if source == "npy":
            terrain["spacing_m"] = [0.001, 0.1, 1.0, 50.0, 250.0, 1e5][rng.integers(6)]
        world["terrain"] = terrain
    return str(kind)


def _bomb(rng: np.random.Generator) -> str:
    kind = rng.integers(4)
    if kind == 0:  # merge-key bomb: each level merges the one below ten times
        levels = int(rng.integers(6, 10))
        lines = ["m0: &m0 {x: 1}"]
        lines += [f"m{k}: &m{k} {{<<: [{', '.join([f'*m{k - 1}'] * 10)}]}}"
                  for k in range(1, levels)]
        return "\n".join(lines) + "\n"
    if kind == 1:  # alias bomb
        levels = int(rng.integers(5, 10))
        lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        lines += [f"a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * 10)}]" for k in range(1, levels)]
        return "\n".join(lines) + "\n"
    depth = int(rng.integers(60, 3_000))
    if kind == 2:  # depth bomb, flow style
        return "deep: " + "[" * depth + "]" * depth + "\n"
    return "deep:\n" + "".join(" " * i + "- \n" for i in range(0, min(depth, 400) * 2, 2))


def _mutate_text(text: str, rng: np.random.Generator) -> tuple[str, str]:
    lines = text.splitlines()
    kind = rng.choice(["duplicate", "tag", "bomb", "bomb_inline", "garbage"])
    if kind == "duplicate":
        i = int(rng.integers(len(lines)))
        if ":" in lines[i]:
            lines.insert(i + 1, lines[i])
    elif kind == "tag":
        candidates = [i for i, line in enumerate(lines) if ": " in line and
                      not line.rstrip().endswith(":")]
        i = candidates[rng.integers(len(candidates))]
        key = lines[i].split(": ", 1)[0]
        lines[i] = f"{key}: {TAGS[rng.integers(len(TAGS))]}"
    elif kind == "bomb":
        return _bomb(rng) + text, "bomb"
    elif kind == "bomb_inline":  # a bomb's anchor used as the value of a real key
        bomb = _bomb(rng)
        anchor = bomb.split("&", 1)[1].split(" ", 1)[0] if "&" in bomb else None
        last = bomb.strip().splitlines()[-1].split("&", 1)[-1].split(" ", 1)[0]
        body = bomb + text
        if anchor is not None:
            body = body.replace("\nrun:", f"\nextra_run: *{last}\nrun:", 1)
        return body, "bomb"
    else:
        choice = rng.integers(5)
        if choice == 0:
            return "", "garbage"
        if choice == 1:
            return "- just\n- a list\n", "garbage"
        if choice == 2:
            return text[: int(rng.integers(len(text)))], "garbage"  # cut short
        if choice == 3:
            return text.replace(":", "", 1), "garbage"
        return "\t" + text, "garbage"
    return "\n".join(lines) + "\n", str(kind)


def _mutant(base: dict[str, Any], rng: np.random.Generator,
            dems: list[str]) -> tuple[str, list[str]]:
    doc = copy.deepcopy(base)
    if rng.random() < 0.15:  # a mild change, so that enough mutants are accepted and run
        numeric = [(p, v) for p, v in _nodes(doc) if isinstance(v, int | float)
                   and not isinstance(v, bool) and p[:2] != ("policy", "params")]
        path, v = numeric[rng.integers(len(numeric))]
        _set(doc, path, v * float(rng.choice([0.5, 0.9, 1.1, 2.0])))
        kinds = ["mild"]
    else:
        kinds = [_mutate_data(doc, rng, dems) for _ in range(int(rng.integers(1, 4)))]
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=1_000)
    if rng.random() < 0.3:
        text, kind = _mutate_text(text, rng)
        kinds.append(kind)
    return text, kinds


# ------------------------------------------------------------------ running


def _one_line_error(exc: BaseException) -> bool:
    return isinstance(exc, FleetsimError) and "\n" not in str(exc) and "Traceback" not in str(exc)


def _timed(fn: Any, *args: Any) -> tuple[str, Any, float]:
    """('ok', value) / ('error', exc) / ('internal', exc) / ('hang', None), and seconds."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, HANG_S)
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            value = fn(*args)
        outcome = ("ok", value)
    except Hang:
        outcome = ("hang", None)
    except Exception as exc:  # noqa: BLE001 - classifying is the point
        outcome = ("error", exc) if _one_line_error(exc) else ("internal", exc)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return outcome[0], outcome[1], time.perf_counter() - t0


def _shortened(scenario: Any, rng: np.random.Generator) -> Any:
    """The accepted scenario, run for 60-120 s with at most 3 vehicles a group."""
    from fleetsim.scenario import scenario_from_source

    source = copy.deepcopy(scenario.source)
    source["run"]["duration_s"] = float(rng.integers(60, 121))
    source["run"]["monitor_window_s"] = min(source["run"]["monitor_window_s"], 30.0)
    for t in source["fleet"]["types"]:
        if "count" in t:
            t["count"] = min(t["count"], 3)
        if "bases" in t:
            t["bases"] = {b: min(n, 3) for b, n in t["bases"].items()}
    if source.get("oversight"):
        source["oversight"]["stops"] = [s for s in source["oversight"]["stops"]
                                        if s["vehicles"] == "all"]
    if source.get("separation") and source["separation"].get("window_s"):
        source["separation"]["window_s"] = min(source["separation"]["window_s"], 30.0)
    return scenario_from_source(source, filename="<shortened mutant>")


def _run(scenario: Any) -> list[str]:
    """Run ``scenario``; the NaN found in its outputs (empty: none)."""
    from fleetsim.engine import Simulation
    from fleetsim.metrics import compute_metrics

    run = Simulation(scenario).run(progress=False)
    metrics = compute_metrics(run)
    bad = [f"legs.{k}" for k, v in run.legs.items()
           if np.asarray(v).dtype.kind == "f" and np.isnan(np.asarray(v)).any()]
    if np.isnan(np.asarray(run.events["time_s"], dtype=float)).any():
        bad.append("events.time_s")
    bad += [f"metrics.{k}" for k, v in metrics.items() if isinstance(v, float) and v != v]
    return bad


@pytest.fixture(scope="module")
def dems(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return _dem_files(tmp_path_factory.mktemp("dems"))


def test_shrunk_scenarios_are_valid(tmp_path: Path) -> None:
    """The fuzz starts from valid scenarios (else it would test nothing)."""
    (tmp_path / "data").symlink_to(ROOT / "scenarios" / "data")
    for name, doc in _bases():
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        assert validate_scenario(path).name == doc["name"]


def test_hostile_mutants_get_one_line_errors(tmp_path: Path, dems: list[str]) -> None:
    (tmp_path / "data").symlink_to(ROOT / "scenarios" / "data")
    bases = _bases()
    counts = {"tried": 0, "clean_errors": 0, "accepted": 0, "internal_errors": 0, "hangs": 0,
              "runs": 0, "run_policy_errors": 0, "run_internal_errors": 0, "run_hangs": 0,
              "runs_with_nan": 0}
    problems: list[str] = []
    policy_errors: list[str] = []
    accepted: list[tuple[int, Any]] = []
    slowest = 0.0
    t_start = time.perf_counter()
    for i in range(N_MUTANTS):
        rng = np.random.default_rng([SEED, i])
        name, base = bases[i % len(bases)]
        text, kinds = _mutant(base, rng, dems)
        path = tmp_path / f"m{i}.yaml"
        path.write_text(text, encoding="utf-8")
        outcome, value, seconds = _timed(validate_scenario, path)
        slowest = max(slowest, seconds)
        counts["tried"] += 1
        if outcome == "ok":
            counts["accepted"] += 1
            accepted.append((i, value))
        elif outcome == "error":
            counts["clean_errors"] += 1
        elif outcome == "hang":
            counts["hangs"] += 1
            problems.append(f"mutant {i} ({name}, {kinds}): validation over {HANG_S:g} s")
        else:
            counts["internal_errors"] += 1
            problems.append(f"mutant {i} ({name}, {kinds}): {type(value).__name__}: {value}")
        if outcome in ("ok", "error"):
            path.unlink()  # keep the failing ones for a look
    t_validate = time.perf_counter() - t_start
    for i, scenario in accepted:
        if counts["runs"] - counts["run_policy_errors"] >= MAX_RUNS:
            break
        rng = np.random.default_rng([SEED, i, 1])
        outcome, value, seconds = _timed(_shortened, scenario, rng)
        if outcome != "ok":  # shortening made it invalid (e.g. carrier slots): not a run
            continue
        outcome, value, seconds = _timed(_run, value)
        counts["runs"] += 1
        if outcome == "hang":
            counts["run_hangs"] += 1
            problems.append(f"run of mutant {i}: over {HANG_S:g} s")
        elif outcome == "error" and isinstance(value, PolicyError):
            # The policy failed on this scenario and said so in one line (exit 2): a
            # policy's limits are its own (see its Params), not the scenario schema's.
            counts["run_policy_errors"] += 1
            policy_errors.append(f"run of mutant {i}: {value}")
        elif outcome != "ok":
            counts["run_internal_errors"] += 1
            problems.append(f"run of mutant {i}: {type(value).__name__}: {value}")
        elif value:
            counts["runs_with_nan"] += 1
            problems.append(f"run of mutant {i}: NaN in {', '.join(value)}")
    report = {**counts, "validate_s": round(t_validate, 1),
              "slowest_validation_s": round(slowest, 2),
              "runs_s": round(time.perf_counter() - t_start - t_validate, 1)}
    print("\nfuzz:", json.dumps(report))
    for line in policy_errors:
        print("fuzz: policy error:", line)
    if os.environ.get("FLEETSIM_FUZZ_REPORT"):
        Path(os.environ["FLEETSIM_FUZZ_REPORT"]).write_text(json.dumps(report, indent=1))
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])
    assert counts["tried"] >= 1_000
    assert counts["runs"] - counts["run_policy_errors"] >= MIN_RUNS, report

"""Experiment files: a base scenario, factors with levels, a design, seeds.

An experiment file is YAML, validated like a scenario file (same messages:
``file:line: yaml.path: expected ..., got ...``)::

    experiment: operators_vs_rules          # an id; names the default output folder
    description: "..."                       # optional
    scenario: ../oversight_tradeoff.yaml      # the base scenario, relative to this file
    set: ["run.duration_s=1800"]              # optional overrides for every run
    factors:                                  # ordered
      policy: {path: policy.name, levels: [lawnmower, random_search]}
      operators: {path: oversight.operators, levels: [1, 2, 4, 8]}
      rules:
        levels:                               # named levels: name -> overrides
          autonomous: ["oversight.rules={retask: notify}"]
          strict: ["oversight.rules={retask: approve, continue_lost_link: forbidden}"]
    design: full                              # or a list of configurations
    replications: 10                          # seeds 1..10; or seeds: [3, 5, 8]
    baseline: {operators: 4, rules: autonomous}
    metrics: [coverage.fraction]

:func:`load_experiment` checks everything before any run starts: every
override is applied to the base scenario (each level alone, then each
configuration, each time with the scenario's own validation and the policy's
parameter check), so that a bad factor path, a level the scenario rejects or
a baseline naming an unknown level is reported with the experiment file's
line and YAML path (and, for a level, the scenario's own message).

Run ``k`` of every configuration uses seed ``k`` (common random numbers). A
run's id is the first 16 hex digits of the SHA-256 of a canonical JSON of the
resolved scenario (its ``source`` without the machine-specific ``base_dir``),
the factor values, the seed and the code that makes the run: a hash of
fleetsim's own ``.py`` files and one of the policy's source (the built-in
``fleetsim.policies`` package, the entry point's or ``module:Class``'s module
file, or the user's ``file.py``). The same configuration and seed with the same code always get
the same id; a change to that code gives new ids, so a sweep never reuses a result
that changed code did not make. (The fleetsim version is not part of it: it comes
from git and changes with every commit, code or not; ``experiment.json`` records it.)
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import fleetsim
from fleetsim.errors import ScenarioError
from fleetsim.metrics.catalog import canonical_name
from fleetsim.scenario import schema
from fleetsim.scenario.load import _compose, _NodeReader, load_scenario, read_yaml_file
from fleetsim.scenario.schema import (
    ID,
    NAME,
    Context,
    Integer,
    ListOf,
    Location,
    MapOf,
    Record,
    String,
    Validator,
    child_path,
    item_path,
    opt,
    parse_path,
    render_path,
    req,
    show,
    suggest,
)

__all__ = ["EXPERIMENT_FORMAT", "Config", "Experiment", "Factor", "Level", "PlannedRun",
           "canonical_json", "flow_text", "load_experiment"]

#: Version of the ``experiment.json`` layout written into a sweep's folder.
EXPERIMENT_FORMAT = 1
#: Column names of the results table that are not factors or metrics.
RESERVED_COLUMNS = ("run_id", "config", "seed", "status", "error")
FACTOR_NAME = String(pattern=r"[A-Za-z_][A-Za-z0-9_]*",
                     what="a factor name (letters, digits and '_', not starting with a digit)")
LEVEL_NAME = ID


# --------------------------------------------------------------------------------------
# Values as YAML flow text (for overrides and level names)


def _reads_back(text: str, value: Any) -> bool:
    try:
        node = _compose(text, "<value>")
        back = None if node is None else _NodeReader("<value>", {}).plain(node, "")
    except Exception:  # any problem reading it back: quote it
        return False
    return type(back) is type(value) and back == value


def flow_text(value: Any, *, nested: bool = False) -> str:
    """``value`` as YAML flow text that reads back as the same value.

    Strings stay plain where that reads back unchanged at the top level
    (``lawnmower``, ``policies/x.py:Cls``) and are JSON-quoted otherwise.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    if isinstance(value, str):
        if not nested and re.fullmatch(r"[A-Za-z0-9_./\-][A-Za-z0-9_./:\-]*", value) \
                and _reads_back(value, value):
            return value
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(flow_text(v, nested=True) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_flow_key(str(k))}: {flow_text(v, nested=True)}"
                               for k, v in value.items()) + "}"
    raise TypeError(f"not plain data: {value!r}")


def _flow_key(key: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", key) and _reads_back(key, key):
        return key
    return json.dumps(key)


def canonical_json(data: Any) -> str:
    """Compact JSON with sorted keys (for hashing and comparing)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def same_value(a: Any, b: Any) -> bool:
    """Equality of plain values that keeps booleans apart from numbers (``1 != true``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


# --------------------------------------------------------------------------------------
# The model


@dataclass(frozen=True)
class Level:
    """One level of a factor."""

    #: The level's name: its key (named levels) or its value as text (path levels).
    name: str
    #: What the results table holds: the name (named levels) or the value.
    value: Any
    #: The ``PATH=VALUE`` overrides it applies.
    overrides: tuple[str, ...]
    #: Its YAML path in the experiment file (for messages).
    where: str
    #: The YAML path of each override.
    sites: tuple[str, ...]


@dataclass(frozen=True)
class Factor:
    name: str
    #: The scenario path the levels set, or None for named levels.
    path: str | None
    levels: tuple[Level, ...]

    @property
    def named(self) -> bool:
        return self.path is None

    def find(self, value: Any) -> Level | None:
        """The level given as ``value`` in a design or baseline, or None."""
        for level in self.levels:
            if (self.named and isinstance(value, str) and value == level.name) or \
                    (not self.named and same_value(value, level.value)):
                return level
        return None

    def levels_text(self) -> str:
        return ", ".join(level.name for level in self.levels)


@dataclass(frozen=True)
class Config:
    """A configuration: one level of every factor."""

    index: int
    levels: tuple[Level, ...]
    #: The resolved scenario's source (seed as in the base scenario).
    source: dict[str, Any] = field(repr=False, compare=False)

    def values(self, factors: Sequence[Factor]) -> dict[str, Any]:
        return {f.name: lv.value for f, lv in zip(factors, self.levels, strict=True)}

    @property
    def overrides(self) -> list[str]:
        return [o for lv in self.levels for o in lv.overrides]


@dataclass(frozen=True)
class PlannedRun:
    """One run of a sweep: a configuration and a seed."""

    run_id: str
    config: int
    factors: dict[str, Any]
    seed: int
    #: The scenario's source with ``run.seed`` set to ``seed``.
    source: dict[str, Any] = field(repr=False)
    #: Hashes of the code that makes the run (part of its id; see :func:`run_key`).
    code: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Experiment:
    id: str
    description: str
    #: The experiment file as given.
    file: str
    #: The base scenario as written in the file, and resolved.
    scenario: str
    scenario_file: str
    scenario_name: str
    set: tuple[str, ...]
    factors: tuple[Factor, ...]
    #: ``"full"`` or ``"list"``.
    design: str
    configs: tuple[Config, ...]
    seeds: tuple[int, ...]
    baseline: dict[str, Any] | None
    metrics: tuple[str, ...]

    def runs(self) -> list[PlannedRun]:
        """Every run, in design order: configuration, then seed. The code that makes
        them (fleetsim's, the policy's source) is read now, as it is on disk."""
        from fleetsim.policy import policy_source_digest
        from fleetsim.record import fleetsim_code_digest

        out = []
        policies: dict[tuple[str, str | None], str] = {}
        for c in self.configs:
            values = c.values(self.factors)
            where = (c.source["policy"]["name"], c.source.get("base_dir"))
            if where not in policies:
                policies[where] = policy_source_digest(where[0], base_dir=where[1])
            code = {"fleetsim_sha256": fleetsim_code_digest(), "policy_sha256": policies[where]}
            for k in self.seeds:
                source = copy.deepcopy(c.source)
                source["run"]["seed"] = k
                out.append(PlannedRun(run_id=run_key(source, values, k, code), config=c.index,
                                      factors=values, seed=k, source=source, code=code))
        return out

    def to_json(self, runs: Sequence[PlannedRun] | None = None) -> dict[str, Any]:
        """The resolved experiment, as written to ``OUT/experiment.json``."""
        runs = self.runs() if runs is None else runs
        return {
            "format_version": EXPERIMENT_FORMAT,
            "experiment": self.id,
            "description": self.description,
            "experiment_file": os.path.abspath(self.file),
            "scenario": self.scenario,
            "scenario_name": self.scenario_name,
            "set": list(self.set),
            "factors": [{"name": f.name, "path": f.path,
                         "kind": "named" if f.named else "path",
                         "levels": [{"name": lv.name, "value": lv.value,
                                     "overrides": list(lv.overrides)} for lv in f.levels]}
                        for f in self.factors],
            "design": self.design,
            "configs": [{"config": c.index, "factors": c.values(self.factors),
                         "overrides": c.overrides} for c in self.configs],
            "seeds": list(self.seeds),
            "baseline": self.baseline,
            "metrics": list(self.metrics),
            "fleetsim_version": fleetsim.__version__,
            "runs": [{"run_id": r.run_id, "config": r.config, "seed": r.seed} for r in runs],
        }


#: The keys of ``experiment.json`` that say which experiment a folder holds; the
#: others (description, baseline, metrics, run ids, ...) may change between runs.
IDENTITY_KEYS = ("experiment", "scenario", "set", "factors", "design", "configs", "seeds")


def run_key(source: dict[str, Any], factors: dict[str, Any], seed: int,
            code: dict[str, str] | None = None) -> str:
    """The run id: 16 hex digits of the SHA-256 of what determines the run: the
    scenario, the factor values, the seed and ``code`` (the hashes of fleetsim's code
    and of the policy's source, see :func:`fleetsim.record.code_identity`)."""
    scenario = {k: v for k, v in source.items() if k != "base_dir"}
    text = canonical_json({"scenario": scenario, "factors": factors, "seed": seed,
                           "code": code or {}})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------
# Schema


@dataclass(frozen=True)
class _Anything(Validator):
    """Any value; checked later (levels, designs, baselines need the factors)."""

    desc: str

    def describe(self) -> str:
        return self.desc

    def check(self, value: Any, path: str, ctx: Context) -> Any:
        return value


OVERRIDE = String(nonempty=True, what="an override PATH=VALUE (a string)")
LEVELS_DESC = ("a list of values (with path) or a mapping of level names to lists of "
               "overrides PATH=VALUE (without path)")
FACTOR = Record({
    "path": opt(String(nonempty=True, what="a scenario path such as oversight.operators")),
    "levels": req(_Anything(LEVELS_DESC)),
})

EXPERIMENT = Record({
    "experiment": req(ID),
    "description": opt(String()),
    "scenario": req(NAME),
    "set": opt(ListOf(OVERRIDE, "overrides PATH=VALUE")),
    "factors": req(MapOf(FACTOR_NAME, FACTOR, "factor names to {path, levels} or "
                                             "{levels: {name: [overrides]}}", min_items=1)),
    "design": opt(_Anything("'full' or a list of configurations {factor: level, ...}")),
    "replications": opt(Integer(ge=1, le=1_000_000)),
    "seeds": opt(ListOf(Integer(ge=0), "seeds (integers >= 0)", min_items=1)),
    "baseline": opt(_Anything("a mapping of factor names to levels")),
    "metrics": opt(ListOf(String(nonempty=True, what="a metric name"), "metric names")),
})


# --------------------------------------------------------------------------------------
# Loading


def load_experiment(path: str | os.PathLike[str]) -> Experiment:
    """Read and check the experiment file ``path`` and every scenario it makes.

    Raises :class:`ScenarioError` naming the experiment file, line and YAML path.
    """
    file, text = read_yaml_file(path, "experiment")
    node = _compose(text, file)
    if node is None:
        raise ScenarioError(f"the file holds no experiment; expected {EXPERIMENT.describe()}",
                            file=file, line=1)
    locations: dict[str, Location] = {"": (file, node.start_mark.line + 1)}
    raw = _NodeReader(file, locations).plain(node, "")
    ctx = Context(locations, file)
    if not isinstance(raw, dict):
        ctx.fail("", f"expected {EXPERIMENT.describe()}, got {show(raw)}")
    v = EXPERIMENT.check(raw, "", ctx)
    return _Builder(file, v, ctx).build()


class _Builder:
    def __init__(self, file: str, v: dict[str, Any], ctx: Context) -> None:
        self.file = file
        self.v = v
        self.ctx = ctx
        self.scenario_file = os.path.join(os.path.dirname(file), v["scenario"])
        self.set = tuple(v.get("set", ()))

    # ---------------------------------------------------------------- scenarios

    def load(self, overrides: Sequence[str]):
        """The base scenario with ``set`` and ``overrides``; the policy is checked too."""
        from fleetsim.policy import make_policy

        scenario = load_scenario(self.scenario_file, [*self.set, *overrides])
        make_policy(scenario)
        return scenario

    @staticmethod
    def inner(exc: ScenarioError) -> str:
        """The scenario's message, without the '--set ...' label it gives overrides."""
        if exc.file and exc.file.startswith("--set "):
            return f"{exc.path}: {exc.message}" if exc.path else exc.message
        return exc.format()

    def rejected(self, where: str, what: str, exc: ScenarioError):
        self.ctx.fail(where, f"the scenario rejects {what}: {self.inner(exc)}")

    # ---------------------------------------------------------------- build

    def build(self) -> Experiment:
        v, ctx = self.v, self.ctx
        if not os.path.isfile(self.scenario_file):
            ctx.fail("scenario", f"scenario file not found: {self.scenario_file} (a path "
                                 "relative to the experiment file's folder)")
        for i, text in enumerate(self.set):
            self.check_not_seed(self.override_path(text), item_path("set", i))
        base = self.load_base()
        factors = self.factors()
        combos, design, where = self.design(factors)
        seeds = self.seeds()
        baseline = self.baseline(factors, combos)
        # earlier names of a metric (RENAMED) stand for today's
        metrics = tuple(canonical_name(m) for m in v.get("metrics", ()))
        for i, m in enumerate(metrics):
            if m in metrics[:i]:
                ctx.fail(item_path("metrics", i), f"metric {m!r} is listed twice")
        configs = self.configs(factors, combos, where)  # last: loads every scenario
        if metrics:
            self.check_metrics(metrics, configs)
        return Experiment(
            id=v["experiment"], description=v.get("description", ""), file=self.file,
            scenario=v["scenario"], scenario_file=os.path.abspath(self.scenario_file),
            scenario_name=base.name, set=self.set, factors=tuple(factors), design=design,
            configs=tuple(configs), seeds=seeds, baseline=baseline, metrics=metrics)

    def check_metrics(self, metrics: Sequence[str], configs: Sequence[Config]) -> None:
        """Every metric named must be one the runs write: each kind of configuration
        (which sections it has) is run for one simulated second to see its metrics."""
        from fleetsim.engine import Simulation
        from fleetsim.metrics import compute_metrics
        from fleetsim.scenario import scenario_from_source

        known: set[str] = set()
        seen: set[tuple] = set()
        for c in configs:
            src = c.source
            kind = tuple(bool(src.get(k)) for k in ("oversight", "separation", "logistics",
                                                     "missions"))
            if kind in seen:
                continue
            seen.add(kind)
            short = {**src, "run": {**src["run"], "duration_s": min(1.0,
                                                                    src["run"]["duration_s"])}}
            try:
                run = Simulation(scenario_from_source(short)).run()
            except Exception:  # the sweep itself reports a run that cannot run
                return
            known |= set(compute_metrics(run))
        for i, m in enumerate(metrics):
            if m not in known:
                self.ctx.fail(item_path("metrics", i),
                              f"unknown metric {m!r}{suggest(m, sorted(known))} (the runs "
                              f"write {len(known)} metrics; see the metrics reference)")

    def load_base(self):
        try:
            return self.load([])
        except ScenarioError as exc:
            for i, override in enumerate(self.set):
                if exc.file == f"--set {override}":
                    self.rejected(item_path("set", i), override, exc)
            if self.set:
                try:
                    load_scenario(self.scenario_file)
                except ScenarioError:
                    raise  # the base scenario itself is invalid: its own message
                self.rejected("set", "the overrides of set", exc)
            raise

    @staticmethod
    def override_path(text: str) -> str | None:
        try:
            segments, _ = parse_path(text.lstrip(), stop_at="= \t")
        except ValueError:
            return None
        return render_path(segments)

    def check_not_seed(self, path: str | None, where: str) -> None:
        if path in ("run.seed", "run"):
            self.ctx.fail(where, "the seed of each run is set by the experiment (replications "
                                 "or seeds), not by an override")

    # ---------------------------------------------------------------- factors

    def factors(self) -> list[Factor]:
        ctx = self.ctx
        out: list[Factor] = []
        paths: dict[str, str] = {}
        for name, spec in self.v["factors"].items():
            at = child_path("factors", name)
            if name in RESERVED_COLUMNS:
                ctx.fail(at, f"factor name {name!r} is taken by a column of the results table "
                             f"({', '.join(RESERVED_COLUMNS)}); choose another")
            levels_at = child_path(at, "levels")
            raw = spec["levels"]
            path = spec.get("path")
            if path is not None:
                path = self.factor_path(path, child_path(at, "path"))
                for other, other_path in paths.items():
                    if path == other_path or path.startswith((other_path + ".",
                                                              other_path + "[")) \
                            or other_path.startswith((path + ".", path + "[")):
                        ctx.fail(child_path(at, "path"),
                                 f"{path} overlaps the path of factor {other!r} "
                                 f"({other_path}); factors must set separate values")
                paths[name] = path
                if not isinstance(raw, list) or not raw:
                    ctx.fail(levels_at, f"expected a list of values (at least 1) for path "
                                        f"{path}, got {show(raw)}")
                levels = []
                for i, value in enumerate(raw):
                    lat = item_path(levels_at, i)
                    for j, lv in enumerate(levels):
                        if same_value(lv.value, value):
                            ctx.fail(lat, f"level {flow_text(value)} is listed twice (already "
                                          f"at {item_path(levels_at, j)})")
                    name_text = value if isinstance(value, str) else flow_text(value)
                    levels.append(Level(name=name_text, value=value,
                                        overrides=(f"{path}={flow_text(value)}",), where=lat,
                                        sites=(lat,)))
                self.check_structure(path, levels[0], child_path(at, "path"))
            else:
                if not isinstance(raw, dict) or not raw:
                    ctx.fail(levels_at, f"expected {LEVELS_DESC} (at least 1 level), "
                                        f"got {show(raw)}")
                levels = []
                for level_name, overrides in raw.items():
                    lat = child_path(levels_at, level_name)
                    LEVEL_NAME.check(level_name, lat, ctx)
                    sites = [lat]
                    if isinstance(overrides, str):
                        overrides = [overrides]
                    elif isinstance(overrides, list):
                        sites = [item_path(lat, i) for i in range(len(overrides))]
                    if not isinstance(overrides, list) or not overrides:
                        ctx.fail(lat, f"expected a list of overrides PATH=VALUE (at least 1), "
                                      f"got {show(overrides)}")
                    for o, site in zip(overrides, sites, strict=True):
                        OVERRIDE.check(o, site, ctx)
                        self.check_not_seed(self.override_path(o), site)
                    levels.append(Level(name=level_name, value=level_name,
                                        overrides=tuple(overrides), where=lat,
                                        sites=tuple(sites)))
            out.append(Factor(name=name, path=path, levels=tuple(levels)))
        return out

    def check_structure(self, path: str, level: Level, at: str) -> None:
        """Fail at the factor's path if the scenario has no place for it (an index out of
        range, a key below a single value)."""
        try:
            load_scenario(self.scenario_file, [*self.set, *level.overrides])
        except ScenarioError as exc:
            if exc.file == f"--set {level.overrides[0]}" and exc.message.startswith(
                    ("index ", "cannot use an index", "cannot set key")):
                self.ctx.fail(at, f"{path}: {self.inner(exc)}")

    def factor_path(self, text: str, at: str) -> str:
        """Check that ``text`` names a value of the scenario schema; returns it rendered."""
        ctx = self.ctx
        try:
            segments, end = parse_path(text.strip())
        except ValueError as exc:
            ctx.fail(at, f"cannot read a path: {exc}; expected a scenario path such as "
                         "oversight.operators or fleet.types[0].count")
        if end != len(text.strip()):
            ctx.fail(at, f"cannot read a path at {text.strip()[end:]!r}; expected a scenario "
                         "path such as oversight.operators")
        path = render_path(segments)
        self.check_not_seed(path, at)
        node: Validator | None = schema.SCENARIO
        done: list = []
        for seg in segments:
            here = render_path(done) or "the scenario"
            while isinstance(node, schema.Nullable | schema.NameOrRecord | schema.PointOrRecord):
                node = node.inner if isinstance(node, schema.Nullable) else node.record
            if isinstance(node, schema.PlainData):
                break  # free-form below (policy.params)
            if isinstance(node, Record):
                if not isinstance(seg, str):
                    ctx.fail(at, f"{path}: {here} is a mapping; expected a key, not [{seg}]")
                if seg not in node.fields:
                    ctx.fail(at, f"{path}: unknown key {seg!r} in {here}"
                                 f"{suggest(seg, node.keys)} (valid keys: "
                                 f"{', '.join(node.keys)})")
                node = node.fields[seg].validator
            elif isinstance(node, MapOf):
                if not isinstance(seg, str):
                    ctx.fail(at, f"{path}: {here} is a mapping; expected a key, not [{seg}]")
                node = node.value
            elif isinstance(node, ListOf):
                if not isinstance(seg, int):
                    ctx.fail(at, f"{path}: {here} is a list; expected an index such as "
                                 f"{render_path([*done, 0])}, not .{seg}")
                node = node.item
            elif isinstance(node, schema.Pair | schema.Rect | schema.RingOf) \
                    and isinstance(seg, int):
                node = None  # an item of a point or ring: the scenario checks the rest
            else:
                ctx.fail(at, f"{path}: {here} holds a single value; it has no "
                             f"{'item' if isinstance(seg, int) else 'key'} {seg!r}")
            if node is None:
                break
            done.append(seg)
        return path

    # ---------------------------------------------------------------- design

    def design(self, factors: list[Factor]) -> tuple[list[tuple[Level, ...]], str, list[str]]:
        ctx = self.ctx
        raw = self.v.get("design", "full")
        if raw == "full":
            combos: list[tuple[Level, ...]] = [()]
            for f in factors:
                combos = [(*c, lv) for c in combos for lv in f.levels]
            return combos, "full", ["factors"] * len(combos)
        if not isinstance(raw, list) or not raw:
            if isinstance(raw, str):
                ctx.fail("design", f"expected 'full' or a list of configurations, got "
                                   f"{show(raw)}{suggest(raw, ['full'])}")
            ctx.fail("design", f"expected 'full' or a list of configurations {{factor: level, "
                               f"...}} (at least 1), got {show(raw)}")
        names = [f.name for f in factors]
        out, where = [], []
        for i, entry in enumerate(raw):
            at = item_path("design", i)
            if not isinstance(entry, dict):
                ctx.fail(at, f"expected a configuration {{{', '.join(n + ': LEVEL' for n in names)}"
                             f"}}, got {show(entry)}")
            for key in entry:
                if key not in names:
                    ctx.fail(child_path(at, key), f"unknown factor {key!r}{suggest(key, names)} "
                                                  f"(factors: {', '.join(names)})")
            missing = [n for n in names if n not in entry]
            if missing:
                ctx.fail(at, f"missing factor{'s' if len(missing) > 1 else ''} "
                             f"{', '.join(map(repr, missing))} (a configuration gives a level of "
                             f"every factor: {', '.join(names)})")
            levels = tuple(self.level_of(f, entry[f.name], child_path(at, f.name))
                           for f in factors)
            for j, other in enumerate(out):
                if all(a is b for a, b in zip(other, levels, strict=True)):
                    ctx.fail(at, f"the same configuration as design[{j}]")
            out.append(levels)
            where.append(at)
        return out, "list", where

    def level_of(self, factor: Factor, value: Any, at: str) -> Level:
        level = factor.find(value)
        if level is None:
            if isinstance(value, str):
                shown = repr(value)
            else:
                shown = flow_text(value) if _is_plain(value) else show(value)
            hint = suggest(value, [lv.name for lv in factor.levels]) \
                if isinstance(value, str) else ""
            self.ctx.fail(at, f"unknown level {shown} of factor {factor.name!r}{hint} "
                              f"(levels: {factor.levels_text()})")
        return level

    def configs(self, factors: list[Factor], combos: list[tuple[Level, ...]],
                where: list[str]) -> list[Config]:
        loaded: dict[int, Any] = {}

        def load(i: int):
            if i not in loaded:
                try:
                    loaded[i] = self.load([o for lv in combos[i] for o in lv.overrides])
                except ScenarioError as exc:
                    loaded[i] = exc
            return loaded[i]

        # A level the base scenario rejects on its own, and that no configuration makes
        # valid, is reported where it is written (with the scenario's message).
        for f in factors:
            for lv in f.levels:
                try:
                    self.load(lv.overrides)
                except ScenarioError:
                    if not any(any(x is lv for x in c) and not isinstance(load(i), ScenarioError)
                               for i, c in enumerate(combos)):
                        self.check_level(lv)
        # Otherwise a configuration the scenario rejects is a bad combination.
        out = []
        for i, (levels, at) in enumerate(zip(combos, where, strict=True)):
            scenario = load(i)
            if isinstance(scenario, ScenarioError):
                text = "{" + ", ".join(f"{f.name}: {lv.name}" for f, lv in
                                       zip(factors, levels, strict=True)) + "}"
                self.rejected(at, f"configuration {text}", scenario)
            out.append(Config(index=i, levels=levels, source=scenario.source))
        return out

    def check_level(self, level: Level) -> None:
        """Fail at the level (or its override) if the base scenario with it alone is invalid."""
        try:
            self.load(level.overrides)
        except ScenarioError as exc:
            for override, site in zip(level.overrides, level.sites, strict=True):
                if exc.file == f"--set {override}":
                    self.rejected(site, override, exc)
            self.rejected(level.where, f"level {level.name!r}", exc)

    # ---------------------------------------------------------------- seeds, baseline

    def seeds(self) -> tuple[int, ...]:
        v, ctx = self.v, self.ctx
        if "seeds" in v and "replications" in v:
            ctx.fail("seeds", "give either replications (seeds 1..N) or seeds (a list), "
                              "not both")
        if "seeds" in v:
            seeds = v["seeds"]
            for i, k in enumerate(seeds):
                if k in seeds[:i]:
                    ctx.fail(item_path("seeds", i), f"seed {k} is listed twice")
            return tuple(seeds)
        return tuple(range(1, v.get("replications", 1) + 1))

    def baseline(self, factors: list[Factor],
                 combos: list[tuple[Level, ...]]) -> dict[str, Any] | None:
        ctx = self.ctx
        raw = self.v.get("baseline")
        if raw is None:
            return None
        names = [f.name for f in factors]
        if not isinstance(raw, dict) or not raw:
            ctx.fail("baseline", f"expected a mapping of factor names to levels, e.g. "
                                 f"{{{names[0]}: {factors[0].levels[0].name}}}, got {show(raw)}")
        by_name = {f.name: f for f in factors}
        chosen: dict[str, Level] = {}
        for key, value in raw.items():
            at = child_path("baseline", key)
            if key not in by_name:
                ctx.fail(at, f"unknown factor {key!r}{suggest(key, names)} "
                             f"(factors: {', '.join(names)})")
            chosen[key] = self.level_of(by_name[key], value, at)
        index = {f.name: i for i, f in enumerate(factors)}
        if not any(all(c[index[k]] is lv for k, lv in chosen.items()) for c in combos):
            ctx.fail("baseline", "no configuration of the design has these levels")
        return {f.name: chosen[f.name].value for f in factors if f.name in chosen}


def _is_plain(value: Any) -> bool:
    try:
        flow_text(value)
    except TypeError:
        return False
    return True

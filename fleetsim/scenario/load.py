"""Loading scenario files (schema version 1) into typed :class:`Scenario` objects.

The YAML text is composed into nodes (so every key and list item keeps its
line), turned into plain data plus a table ``{yaml path: (file, line)}``,
changed by the ``PATH=VALUE`` overrides, checked against the declarative
schema (:mod:`fleetsim.scenario.schema`) and then cross-checked (unique ids,
known bases, valid polygons, ...) while the model objects are built. Every
problem raises :class:`~fleetsim.errors.ScenarioError` naming the file, the
line, the YAML path, what was found and what would be valid.

YAML is read with the YAML 1.2 core rules for plain scalars: only
``true``/``false`` are booleans (``yes``, ``no``, ``on`` and ``off`` stay
strings), ``1e3`` is a number, and dates stay strings.
"""

from __future__ import annotations

import copy
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import yaml
from yaml.composer import ComposerError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from fleetsim.errors import ScenarioError
from fleetsim.scenario import schema
from fleetsim.scenario.budget import estimate_memory, format_bytes, memory_limit_bytes
from fleetsim.scenario.dem import MAX_TERRAIN_POINTS, dem_grid, read_wind_grid
from fleetsim.scenario.model import (
    SCHEMA_VERSION,
    ClosureSpec,
    DatumSpec,
    DemandSpec,
    DetectionSpec,
    DriftSpec,
    LogisticsSpec,
    MinimaSpec,
    MissionSpec,
    OrderSpec,
    OriginSpec,
    OutputSpec,
    OversightSpec,
    PolicySpec,
    ReviewSpec,
    Ring,
    RoadsSpec,
    RuleSpec,
    RunSpec,
    Scenario,
    SensorSpec,
    SeparationSpec,
    ShiftSpec,
    SiteSpec,
    StopSpec,
    StrategicSpec,
    TargetSpec,
    TerrainSpec,
    TimeWindow,
    VehicleGroupSpec,
    VehicleTypeSpec,
    WaterSpec,
    WindChange,
    WindGridSpec,
    WindSpec,
    ZoneSpec,
)
from fleetsim.scenario.schema import (
    Context,
    Location,
    child_path,
    item_path,
    parse_path,
    render_path,
    show,
    suggest,
)

__all__ = ["load_scenario", "load_scenario_text", "scenario_from_source", "scenario_to_source"]

#: Largest number of YAML nodes in one scenario file, counted after alias and
#: merge-key expansion (every value, and every mapping entry a merge brings in).
MAX_YAML_NODES = 2_000_000
#: Deepest nesting of lists and mappings in a scenario file (a scenario needs ~8).
MAX_YAML_DEPTH = 64
#: Most values that aliases (``*name``) and merge keys may add to a file by
#: repeating what an anchor holds; checked before anything is expanded.
MAX_ALIAS_VALUES = 200_000


# --------------------------------------------------------------------------------------
# Public API


def load_scenario(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> Scenario:
    """Load and validate the scenario file ``path``.

    Parameters
    ----------
    path:
        A YAML scenario file (schema version 1). Relative file paths inside it
        (terrain files) resolve against its folder.
    overrides:
        ``PATH=VALUE`` strings such as ``fleet.types[0].count=200``, applied in
        order before validation; VALUE is read as a YAML flow value.

    Raises
    ------
    ScenarioError
        If the file cannot be read, is not valid YAML, or breaks the schema.
    """
    file, text = read_yaml_file(path, "scenario")
    return load_scenario_text(text, filename=file, base_dir=os.path.dirname(file) or ".",
                              overrides=overrides)


def read_yaml_file(path: str | os.PathLike[str], what: str) -> tuple[str, str]:
    """(file name, text) of a YAML file, or a ScenarioError saying why it cannot be read
    (``what``: "scenario", "experiment", ...)."""
    file = os.fspath(path)
    try:
        return file, Path(file).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{what} file not found", file=file) from None
    except IsADirectoryError:
        raise ScenarioError(f"is a folder, expected {'an' if what[0] in 'aeiou' else 'a'} "
                            f"{what} YAML file", file=file) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"not a UTF-8 text file ({exc.reason} at byte {exc.start})",
                            file=file) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read the {what} file: {exc.strerror}", file=file) from None


def load_scenario_text(text: str, *, filename: str = "<scenario>", base_dir: str = ".",
                       overrides: Sequence[str] = ()) -> Scenario:
    """Load and validate a scenario from YAML ``text``.

    ``filename`` is used in messages; relative file paths in the scenario
    resolve against ``base_dir`` (stored, made absolute, in ``Scenario.base_dir``).
    See :func:`load_scenario` for ``overrides``.
    """
    raw, locations = _read_yaml(text, filename)
    for override in _as_list(overrides):
        _apply_override(raw, locations, override)
    return _build(raw, locations, filename, base_dir, check_files=True)


def scenario_from_source(source: Mapping[str, Any], *, base_dir: str | None = None,
                         filename: str = "<source>") -> Scenario:
    """Rebuild a scenario from its plain-data form (``Scenario.source``).

    ``source`` may have been through JSON. The result compares equal to the
    scenario it came from. Relative file paths resolve against ``base_dir``
    if given, else against the folder recorded in the source. The same
    validation as for files applies; messages name ``filename`` and the path.
    Terrain files are not required to exist.
    """
    locations: dict[str, Location] = {}
    if not isinstance(source, Mapping):
        raise ScenarioError(f"expected a scenario mapping, got {show(source)}", file=filename)
    raw = _plain_copy(source, "", filename, locations)
    outer = "."
    if base_dir is not None:
        raw.pop("base_dir", None)
        outer = base_dir
    return _build(raw, locations, filename, outer, check_files=False)


def scenario_to_source(scenario: Scenario) -> dict[str, Any]:
    """The scenario as canonical plain data (JSON-serialisable, every value explicit).

    Written from the schema declaration: every key of each record, in declared
    order, from the model attribute it became (:func:`record_source`); only what
    the declaration cannot say is written here (which terrain, site and vehicle
    keys apply; how vehicles are placed; a sensor's footprint or camera; an
    order's destination site; a demand stream's destinations or area).
    Infinite zone floors/ceilings and open time windows are written as null;
    a camera sensor is written by its field of view (the footprint follows).
    Service-time distributions are written in their scenario form
    (``Distribution.to_dict()``); a scenario without oversight has ``oversight: null``.
    """
    s = scenario
    t = s.terrain
    terrain = {"source": t.source, **{  # the keys of this source, in the order they are listed
        key: _value_source(getattr(t, key), schema.TERRAIN.fields[key].validator)
        for key in schema.TERRAIN_KEYS[t.source]}}
    groups: dict[str, list[VehicleGroupSpec]] = {}
    for g in s.vehicles:
        groups.setdefault(g.type, []).append(g)
    types = []
    for vt in s.vehicle_types:
        entry: dict[str, Any] = {"id": vt.id, "kind": vt.kind, "domain": vt.domain}
        if vt.carrier is not None:
            entry["carrier"] = vt.carrier
        mine = groups.get(vt.id, [])
        if vt.carrier is not None:
            entry["count"] = sum(g.count for g in mine)
        elif len(mine) == 1:
            entry["count"] = mine[0].count
            entry["base"] = mine[0].base
        else:
            entry["bases"] = {g.base: g.count for g in mine}
        sensor: dict[str, Any] = (
            {"camera_fov_deg": vt.sensor.camera_fov_deg} if vt.sensor.camera_fov_deg is not None
            else {"footprint_radius_m": vt.sensor.footprint_radius_m})
        sensor["detection"] = record_source(vt.sensor.detection, schema.DETECTION)
        surface = () if vt.domain == "air" else (*schema.AIR_ONLY_KEYS, *schema.SURFACE_VALUES)
        entry.update(record_source(vt, schema.VEHICLE_TYPE, given={"sensor": sensor}, skip=(
            *entry, "carrier", "count", "base", "bases", *surface,
            # only with a bank angle: the sources of other runs stay as they were
            *(("bank_angle_deg",) if vt.bank_angle_deg is None else ()))))
        types.append(entry)
    world = {
        "terrain": terrain,
        "zones": [record_source(z, schema.ZONE, skip=("rect",)) for z in s.zones],
        "sites": [record_source(x, schema.SITE, skip=() if x.kind == "depot"
                                else schema.DEPOT_KEYS) for x in s.sites],
        "roads": None if s.roads is None else _roads_source(s.roads),
        "water": _water_source(s.water),
        # Only when on the map: the sources of other runs stay as they were.
        **({"origin": {"lat": s.origin.lat, "lon": s.origin.lon}} if s.origin else {}),
        **({"crs": s.crs} if s.crs else {}),
        # Only when there is wind: the sources of still-air runs stay as they were.
        **({"wind": _wind_source(s.wind)} if s.wind is not None else {}),
    }
    missions = [record_source(m, schema.MISSION, given={
        "area": record_source(m, schema.AREA, skip=("rect", "geojson")),
        **({"datum": record_source(m.datum, schema.DATUM)} if m.datum is not None else {}),
        # only when moving / drifting: the sources of still targets stay as they were
        "targets": [record_source(t, schema.TARGET.record, skip=() if t.velocity_mps is not None
                                  else ("velocity_mps",)) for t in m.targets]},
        skip=(*(() if m.drift is not None else ("drift",)),
              *(() if m.datum is not None else ("datum",)))) for m in s.missions]
    return record_source(s, schema.SCENARIO, given={
        "schema_version": SCHEMA_VERSION, "world": world, "fleet": {"types": types},
        "missions": missions,
        "logistics": None if s.logistics is None else _logistics_source(s.logistics)})


def record_source(obj: Any, record: schema.Record, *, given: Mapping[str, Any] | None = None,
                  skip: Sequence[str] = (), only: Sequence[str] | None = None) -> dict[str, Any]:
    """The keys of ``record`` as plain data, in declared order, from model object ``obj``.

    A key's value is ``given[key]`` if there, else the attribute it became
    (``record.attrs``) written back by the key's validator (:func:`_value_source`).
    Keys in ``skip`` (or not in ``only``) are left out.
    """
    given = given or {}
    out: dict[str, Any] = {}
    for key, f in record.fields.items():
        if key in skip or (only is not None and key not in only):
            continue
        if key in given:
            out[key] = given[key]
            continue
        attr = record.attrs.get(key, key)
        if attr is None:
            raise ValueError(f"record_source: give the value of {key!r} (no model attribute)")
        out[key] = _value_source(getattr(obj, attr), f.validator)
    return out


def _value_source(value: Any, v: schema.Validator) -> Any:
    """A model value as the plain data validator ``v`` reads back to it."""
    if isinstance(v, schema.VehicleSelection):
        return "all" if value is None else list(value)
    if value is None:
        return None
    if isinstance(v, schema.Nullable):
        return _value_source(value, v.inner)
    if isinstance(v, schema.Record):
        return record_source(value, v)
    if isinstance(v, schema.NameOrRecord | schema.PointOrRecord):
        return record_source(value, v.record)
    if isinstance(v, schema.ListOf):
        return [_value_source(x, v.item) for x in value]
    if isinstance(v, schema.MapOf):
        return {k: _value_source(x, v.value) for k, x in value.items()}
    if isinstance(v, schema.ServiceTime):
        return value.to_dict()
    if isinstance(v, schema.PlainData):
        return copy.deepcopy(value)
    if isinstance(v, schema.RingOf):
        return _ring_source(value)
    if isinstance(value, float) and math.isinf(value):
        return None  # an open zone floor or ceiling
    if isinstance(value, tuple):
        return list(value)
    return value


def _roads_source(r: RoadsSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"source": r.source}
    if r.source in ("geojson", "osm"):
        out["path"] = r.path
        if r.source == "osm":
            out["consolidate_m"] = r.consolidate_m
    else:
        out.update(record_source(r, schema.ROADS, only=("extent", "spacing_m", "blocked",
                                                        "seed")))
    out.update(record_source(r, schema.ROADS, only=("speed_limit_mps", "closures")))
    return out


def _water_source(w: WaterSpec | None) -> dict[str, Any] | None:
    if w is None:
        return None
    if w.source == "osm":
        return record_source(w, schema.WATER, only=("source", "path", "speed_limit_mps"))
    # the lattice's keys only: the sources of other runs stay as they were
    return record_source(w, schema.WATER, only=("spacing_m", "polygon"))


def _logistics_source(lg: LogisticsSpec) -> dict[str, Any]:
    out = record_source(lg, schema.LOGISTICS, only=("service_time_s", "transfer_time_s"))
    out["orders"] = [record_source(o, schema.ORDER, given={
        "destination": o.destination_site or list(o.destination)}) for o in lg.orders]
    out["demand"] = [record_source(d, schema.DEMAND, skip=(
        ("area", "weight_kg") if d.destinations else ("destinations", "weight_kg")), given={
        "area": {"polygon": _ring_source(d.area)} if d.area is not None else None})
        for d in lg.demand]
    return out


def _ring_source(ring: Ring) -> list[list[float]]:
    return [[x, y] for x, y in ring]


def _as_list(overrides: Sequence[str] | str) -> list[str]:
    return [overrides] if isinstance(overrides, str) else list(overrides)


# --------------------------------------------------------------------------------------
# YAML -> plain data + locations

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"

class _Loader(yaml.SafeLoader):
    """A safe loader with the YAML 1.2 core rules for plain scalars.

    The pure-Python parser is used even where libyaml is installed, so that
    syntax-error messages are the same everywhere (scenario files are small).
    """

    yaml_implicit_resolvers: dict = {}

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        # PyYAML's composer recurses once per level: bound the depth before it does.
        self.depth += 1
        try:
            if self.depth > MAX_YAML_DEPTH:
                mark = self.peek_event().start_mark
                raise ComposerError(
                    None, None, f"lists and mappings nest more than {MAX_YAML_DEPTH} deep "
                                f"(a scenario needs fewer than 10 levels)", mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


for _tag, _regexp, _first in (
        (_BOOL, r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
        (_INT, r"^(?:[-+]?[0-9][0-9_]*|0x[0-9a-fA-F_]+|0o[0-7_]+)$", "-+0123456789"),
        (_FLOAT, r"^(?:[-+]?(?:\.[0-9][0-9_]*|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
                 r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+0123456789."),
        (_NULL, r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
        (_MERGE, r"^(?:<<)$", "<")):
    _Loader.add_implicit_resolver(_tag, re.compile(_regexp), list(_first))


def _yaml_problem(exc: yaml.YAMLError, file: str, *, prefix: str = "invalid YAML",
                  path: str | None = None) -> ScenarioError:
    """A ScenarioError for a YAML syntax error (no traceback text)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or exc.context or "syntax error"
        if exc.context and exc.problem and exc.context_mark is not None:
            message += f" ({exc.context} at line {exc.context_mark.line + 1})"
        return ScenarioError(f"{prefix}: {message}", file=file,
                             line=mark.line + 1 if mark is not None else None, path=path)
    reason = getattr(exc, "reason", None) or str(exc).splitlines()[0]
    return ScenarioError(f"{prefix}: {reason}", file=file, path=path)


def _compose(text: str, file: str, *, prefix: str = "invalid YAML",
             path: str | None = None, lines: bool = True) -> Node | None:
    loader = _Loader(text)
    try:
        return loader.get_single_node()
    except yaml.YAMLError as exc:
        error = _yaml_problem(exc, file, prefix=prefix, path=path)
        if not lines:
            error = ScenarioError(re.sub(r" at line \d+\)", ")", error.message), file=file,
                                  path=path)
        raise error from None
    finally:
        loader.dispose()


def _read_yaml(text: str, file: str) -> tuple[dict[str, Any], dict[str, Location]]:
    node = _compose(text, file)
    if node is None:
        raise ScenarioError(f"the file holds no scenario; expected {schema.SCENARIO.describe()}",
                            file=file, line=1)
    locations: dict[str, Location] = {"": (file, node.start_mark.line + 1)}
    raw = _NodeReader(file, locations).plain(node, "")
    if not isinstance(raw, dict):
        raise ScenarioError(f"expected {schema.SCENARIO.describe()}, got {show(raw)}",
                            file=file, line=node.start_mark.line + 1)
    return raw, locations


def _check_alias_expansion(root: Node, file: str) -> None:
    """Refuse a node graph whose aliases would repeat more than MAX_ALIAS_VALUES values.

    Sizes are computed once per node (memoised by identity), so an alias bomb is
    found in time proportional to the text, before anything is expanded.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    added = 0

    def size(node: Node) -> int:
        nonlocal added
        known = sizes.get(id(node))
        if known is not None:  # a second reference: an alias repeats the whole node
            added += known
            if added > MAX_ALIAS_VALUES:
                raise ScenarioError(
                    f"aliases and merge keys repeat more than {MAX_ALIAS_VALUES:,} values (the "
                    f"anchor at line {node.start_mark.line + 1} is repeated too often); write "
                    "the values out or use fewer aliases", file=file,
                    line=node.start_mark.line + 1)
            return known
        if id(node) in open_nodes or isinstance(node, ScalarNode):
            return 1  # a cycle is reported when the data is read
        open_nodes.add(id(node))
        children = node.value if isinstance(node, SequenceNode) else \
            [n for pair in node.value for n in pair]
        total = 1 + sum(size(child) for child in children)
        open_nodes.discard(id(node))
        sizes[id(node)] = total
        return total

    size(root)


class _NodeReader:
    """Turns composed YAML nodes into plain data, recording each path's line."""

    def __init__(self, file: str, locations: dict[str, Location]) -> None:
        self.file = file
        self.locations = locations
        self.count = 0
        self.depth = 0
        self.open: set[int] = set()
        #: The entries of each mapping a merge key brought in, by node id: a mapping
        #: merged many times (through aliases) is expanded once.
        self.merged: dict[int, dict[str, tuple[Node, Node]]] = {}

    def tick(self, node: Node, path: str, n: int = 1) -> None:
        """Count ``n`` more nodes (values or merged entries) against the limit."""
        self.count += n
        if self.count > MAX_YAML_NODES:
            raise self.fail(node, path, f"more than {MAX_YAML_NODES:,} values after expanding "
                                        "aliases and merge keys (are they expanding without "
                                        "end?)")

    def fail(self, node: Node, path: str, message: str) -> ScenarioError:
        if len(path) > 100:  # deep (alias) nesting: keep the message one readable line
            path = path[:60] + "..." + path[-30:]
        return ScenarioError(message, file=self.file, line=node.start_mark.line + 1,
                             path=path or None)

    def plain(self, node: Node, path: str) -> Any:
        if self.count == 0:  # the root: refuse an alias bomb before expanding anything
            _check_alias_expansion(node, self.file)
        self.tick(node, path)
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if id(node) in self.open:
            raise self.fail(node, path, "an alias refers to a mapping or list that contains it")
        self.deeper(node, path)
        self.open.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                if node.tag != _SEQ:
                    raise self.fail(node, path, f"unsupported YAML tag {_short_tag(node.tag)!r}")
                out = []
                for i, item in enumerate(node.value):
                    p = item_path(path, i)
                    self.locations[p] = (self.file, item.start_mark.line + 1)
                    out.append(self.plain(item, p))
                return out
            assert isinstance(node, MappingNode)
            if node.tag != _MAP:
                raise self.fail(node, path, f"unsupported YAML tag {_short_tag(node.tag)!r}")
            result = {}
            for key, (key_node, value_node) in self.pairs(node, path).items():
                p = child_path(path, key)
                self.locations[p] = (self.file, key_node.start_mark.line + 1)
                result[key] = self.plain(value_node, p)
            return result
        finally:
            self.open.discard(id(node))
            self.depth -= 1

    def deeper(self, node: Node, path: str) -> None:
        """One level deeper (aliases can nest deeper than the text does)."""
        self.depth += 1
        if self.depth > MAX_YAML_DEPTH:
            self.depth -= 1
            raise self.fail(node, path, f"lists and mappings nest more than {MAX_YAML_DEPTH} "
                                        "deep once aliases and merge keys are expanded")

    def pairs(self, node: MappingNode, path: str) -> dict[str, tuple[Node, Node]]:
        """The mapping's entries, with ``<<`` merge keys resolved (explicit keys win)."""
        explicit: dict[str, tuple[Node, Node]] = {}
        merges: list[Node] = []
        self.tick(node, path, len(node.value))
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merges.append(value_node)
                continue
            key = self.key(key_node, path)
            if key in explicit:
                first = explicit[key][0].start_mark.line + 1
                raise self.fail(key_node, child_path(path, key),
                                f"duplicate key {key!r} (first given at line {first})")
            explicit[key] = (key_node, value_node)
        result: dict[str, tuple[Node, Node]] = {}
        for merge in reversed(merges):
            sources = merge.value if isinstance(merge, SequenceNode) else [merge]
            for source in reversed(sources):
                if not isinstance(source, MappingNode):
                    raise self.fail(source, path, "a merge key '<<' takes a mapping or a list "
                                                  "of mappings")
                if id(source) in self.open:
                    raise self.fail(source, path, "a merge key '<<' refers to a mapping that "
                                                  "contains it")
                entries = self.merged.get(id(source))
                if entries is None:
                    self.deeper(source, path)
                    self.open.add(id(source))
                    try:
                        entries = self.merged[id(source)] = self.pairs(source, path)
                    finally:
                        self.open.discard(id(source))
                        self.depth -= 1
                self.tick(source, path, len(entries))
                result.update(entries)
        result.update(explicit)
        return result

    def key(self, node: Node, path: str) -> str:
        if isinstance(node, ScalarNode) and node.tag == _STR:
            return node.value
        found = show(self.scalar(node, path)) if isinstance(node, ScalarNode) else (
            "a list" if isinstance(node, SequenceNode) else "a mapping")
        raise self.fail(node, path, f"mapping keys must be strings, got {found}"
                        + (" (put it in quotes)" if isinstance(node, ScalarNode) else ""))

    def scalar(self, node: ScalarNode, path: str) -> Any:
        tag, value = node.tag, node.value
        if tag == _STR:
            return value
        if tag == _NULL:
            return None
        try:
            if tag == _BOOL:
                if value.lower() not in ("true", "false"):
                    raise ValueError
                return value.lower() == "true"
            if tag == _INT:
                return _parse_int(value)
            if tag == _FLOAT:
                return _parse_float(value)
        except ValueError:
            raise self.fail(node, path, f"{value!r} is not a valid {_short_tag(tag)}") from None
        raise self.fail(node, path, f"unsupported YAML tag {_short_tag(tag)!r}; "
                                    "write plain strings, numbers, booleans, lists and mappings")


def _short_tag(tag: str) -> str:
    prefix = "tag:yaml.org,2002:"
    return "!!" + tag[len(prefix):] if tag.startswith(prefix) else tag


def _parse_int(text: str) -> int:
    s = text.replace("_", "")
    sign = -1 if s.startswith("-") else 1
    s = s.lstrip("+-")
    if s[:2] in ("0x", "0X"):
        return sign * int(s[2:], 16)
    if s[:2] in ("0o", "0O"):
        return sign * int(s[2:], 8)
    return sign * int(s, 10)


def _parse_float(text: str) -> float:
    s = text.replace("_", "").lower()
    if s in (".inf", "+.inf"):
        return math.inf
    if s == "-.inf":
        return -math.inf
    if s == ".nan":
        return math.nan
    return float(s)


def _plain_copy(value: Any, path: str, file: str, locations: dict[str, Location],
                depth: int = 0) -> Any:
    """Copy plain data (as from JSON), tuples as lists, recording a location per path."""
    if depth > MAX_YAML_DEPTH:
        raise ScenarioError(f"lists and mappings nest more than {MAX_YAML_DEPTH} deep",
                            file=file, path=(path[:60] + "...") if len(path) > 60 else path)
    locations[path] = (file, None)
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ScenarioError(f"mapping keys must be strings, got {show(k)}",
                                    file=file, path=path or None)
            out[k] = _plain_copy(v, child_path(path, k), file, locations, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_plain_copy(v, item_path(path, i), file, locations, depth + 1)
                for i, v in enumerate(value)]
    return value


# --------------------------------------------------------------------------------------
# Overrides

_OVERRIDE_FORM = "expected PATH=VALUE, e.g. fleet.types[0].count=200 or run.seed=3"


def _apply_override(raw: dict[str, Any], locations: dict[str, Location], text: str) -> None:
    """Set the value at a path of the raw tree, as ``--set PATH=VALUE`` does."""
    label = f"--set {text}"
    if not isinstance(text, str):
        raise ScenarioError(f"malformed override {text!r}: {_OVERRIDE_FORM}", file=label)
    if "=" not in text:
        raise ScenarioError(f"malformed override: no '='; {_OVERRIDE_FORM}", file=label)
    start = len(text) - len(text.lstrip())
    try:
        segments, end = parse_path(text[start:], stop_at="= \t")
    except ValueError as exc:
        raise ScenarioError(f"malformed override: {exc}; {_OVERRIDE_FORM}", file=label) from None
    rest = text[start + end:].lstrip()
    if not rest.startswith("="):
        raise ScenarioError(f"malformed override: the path must be followed by '='; "
                            f"{_OVERRIDE_FORM}", file=label)
    path = render_path(segments)
    value_text = rest[1:].strip()
    node = _compose(value_text, label, prefix=f"cannot read the value {value_text!r} as YAML",
                    path=path, lines=False)
    value = None if node is None else _NodeReader(label, {}).plain(node, path)

    def fail(at: str, message: str) -> ScenarioError:
        return ScenarioError(message, file=label, path=at or None)

    parent: Any = raw
    parent_path = ""
    for n, seg in enumerate(segments):
        last = n == len(segments) - 1
        here = render_path(segments[:n + 1])
        if isinstance(seg, int):
            if not isinstance(parent, list):
                raise fail(here, f"cannot use an index: {parent_path} is {show(parent)}, "
                                 "not a list")
            if not 0 <= seg < len(parent):
                valid = f"valid indexes 0..{len(parent) - 1}" if parent else "the list is empty"
                raise fail(here, f"index {seg} is out of range: {parent_path} has "
                                 f"{len(parent)} item{'s' if len(parent) != 1 else ''} ({valid})")
        else:
            if not isinstance(parent, dict):
                where = parent_path or "the scenario"
                hint = f"; use an index such as {parent_path}[0]" if isinstance(parent, list) else ""
                raise fail(here, f"cannot set key {seg!r}: {where} is {show(parent)}, not a "
                                 f"mapping{hint}")
            if not last and parent.get(seg) is None:
                if isinstance(segments[n + 1], int):
                    raise fail(item_path(here, segments[n + 1]),
                               f"index {segments[n + 1]} is out of range: {here} is not set")
                parent[seg] = {}
                _forget(locations, here)
                locations[here] = (label, None)
        if last:
            parent[seg] = value
            _forget(locations, here)
            _record(value, here, label, locations)
        else:
            parent = parent[seg]
            parent_path = here


def _forget(locations: dict[str, Location], path: str) -> None:
    """Drop the locations of ``path`` and everything below it."""
    for key in [k for k in locations if k == path or k.startswith((path + ".", path + "["))]:
        del locations[key]


def _record(value: Any, path: str, file: str, locations: dict[str, Location]) -> None:
    locations[path] = (file, None)
    if isinstance(value, dict):
        for k, v in value.items():
            _record(v, child_path(path, k), file, locations)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _record(v, item_path(path, i), file, locations)


# --------------------------------------------------------------------------------------
# Validation and building


def _build(raw: dict[str, Any], locations: dict[str, Location], file: str, base_dir: str,
           *, check_files: bool) -> Scenario:
    ctx = Context(locations, file, base_dir=_raw_base_dir(raw, base_dir))
    _prepare_geo(raw, ctx)
    v = schema.SCENARIO.check(raw, "", ctx)
    if "base_dir" in v:
        base_dir = os.path.join(base_dir, v["base_dir"])
    base_dir = os.path.abspath(base_dir)

    world = v.get("world", {})
    terrain, extent, terrain_points = _terrain(world.get("terrain", {}), "world.terrain", ctx,
                                               base_dir, check_files)

    zones = tuple(_zones(world.get("zones", []), ctx, extent))
    _unique([z.id for z in zones], "world.zones", "zone", ctx)

    sites = tuple(SiteSpec(**s) for s in world.get("sites", []))
    _unique([s.id for s in sites], "world.sites", "site", ctx)
    for i, (raw_site, s) in enumerate(zip(world.get("sites", []), sites, strict=True)):
        for key in schema.DEPOT_KEYS:
            if key in raw_site and s.kind != "depot":
                ctx.fail(child_path(item_path("world.sites", i), key),
                         f"{key} applies to depots only, but site {s.id!r} is a {s.kind}")
        if s.kind == "ground_station" and not (s.radio_range_m or s.sensor_radius_m) \
                and not s.false_alarms_per_hour:
            ctx.fail(child_path(item_path("world.sites", i), "kind"),
                     "a ground_station needs radio_range_m (a radio link, metres) or "
                     "sensor_radius_m (a fixed sensor, metres), or both")
        if extent is not None and not _inside(s.position, extent):
            ctx.fail(child_path(item_path("world.sites", i), "position"),
                     f"site position {_pt(s.position)} lies outside the terrain "
                     f"({_extent_text(extent)})")
        if s.false_alarms_per_hour > 0 and s.sensor_radius_m is None:
            ctx.fail(child_path(item_path("world.sites", i), "false_alarms_per_hour"),
                     f"false alarms come from a fixed sensor, but site {s.id!r} has none "
                     "(give sensor_radius_m, or set false_alarms_per_hour to 0)")

    types: list[VehicleTypeSpec] = []
    groups: list[VehicleGroupSpec] = []
    carried: list[tuple[int, VehicleTypeSpec, list]] = []
    for i, t in enumerate(v["fleet"]["types"]):
        vt, placed = _vehicle_type(t, item_path("fleet.types", i), ctx)
        types.append(vt)
        if vt.carrier is not None:
            carried.append((i, vt, placed))
            continue
        for base, count, base_path in placed:
            _check_base(base, base_path, sites, ctx)
            groups.append(VehicleGroupSpec(type=vt.id, base=base, count=count))
    _unique([t.id for t in types], "fleet.types", "vehicle type", ctx)
    groups += _carried_groups(carried, types, groups, ctx)

    roads = world.get("roads")
    if roads is not None:
        roads = _roads(roads, "world.roads", ctx, base_dir, check_files, extent)
    water = world.get("water")
    if water is not None:
        water = _water(water, "world.water", ctx, base_dir, check_files)
        if water.polygon is not None:
            _check_overlaps(shapely.Polygon(water.polygon), "world.water.polygon", ctx, extent,
                          "the water polygon")
    for i, vt in enumerate(types):
        dpath = child_path(item_path("fleet.types", i), "domain")
        if vt.domain == "ground" and roads is None:
            ctx.fail(dpath, f"ground vehicles ({vt.id!r}) move on roads, but the scenario has "
                            "none: add world.roads (source: grid, planar or geojson)")
        if vt.domain == "sea" and terrain.sea_level_m is None and \
                (water is None or (water.polygon is None and water.source != "osm")):
            ctx.fail(dpath, f"sea vehicles ({vt.id!r}) move on water, but the scenario has "
                            "none: set world.terrain.sea_level_m, world.water.polygon or "
                            "world.water: {source: osm, path: FILE.osm}")

    wind = world.get("wind")
    if wind is not None:
        wind = _wind(wind, "world.wind", ctx, base_dir, check_files)
    missions = tuple(_mission(m, item_path("missions", i), ctx, extent)
                     for i, m in enumerate(v.get("missions", [])))
    _unique([m.id for m in missions], "missions", "mission", ctx)

    policy = PolicySpec(name=v["policy"]["name"], params=v["policy"].get("params", {}))
    oversight = v.get("oversight")
    if oversight is not None:
        oversight = _oversight(oversight, "oversight", ctx, sum(g.count for g in groups))
    logistics = v.get("logistics")
    if logistics is not None:
        logistics = _logistics(logistics, "logistics", ctx, sites, extent, v["run"], types)
    separation = v.get("separation")
    if separation is not None:
        minima = {d: MinimaSpec(**m) for d, m in separation.get("minima", {}).items()} \
            if "minima" in separation else SeparationSpec().minima
        strategic = separation.get("strategic")
        separation = SeparationSpec(**{
            **separation, "minima": minima,
            "strategic": None if strategic is None else StrategicSpec(**strategic)})
        _check_separation(separation, ctx, types, v["run"])
    _check_timeseries_step(v, ctx)
    scenario = Scenario(
        name=v["name"],
        description=v.get("description", ""),
        run=RunSpec(**v["run"]),
        terrain=terrain,
        zones=zones,
        sites=sites,
        vehicle_types=tuple(types),
        vehicles=tuple(groups),
        missions=missions,
        policy=policy,
        outputs=OutputSpec(**v.get("outputs", {})),
        oversight=oversight,
        roads=roads,
        water=water,
        logistics=logistics,
        separation=separation,
        wind=wind,
        origin=None if world.get("origin") is None else OriginSpec(**world["origin"]),
        crs=world.get("crs"),
        base_dir=base_dir,
        locations={k: loc for k, loc in locations.items() if k},
    )
    _check_size(scenario, ctx, terrain_points, extent)
    return replace(scenario, source=scenario_to_source(scenario))


def _raw_base_dir(raw: dict[str, Any], base_dir: str) -> str:
    """The folder files resolve against, before ``base_dir`` is validated."""
    inner = raw.get("base_dir")
    return os.path.abspath(os.path.join(base_dir, inner) if isinstance(inner, str) and inner
                           else base_dir)


def _prepare_geo(raw: dict[str, Any], ctx: Context) -> None:
    """Put the scenario's frame (``world.origin`` / ``world.crs``), the run's duration and
    the ground elevation on ``ctx`` before the rest is validated: positions in lon/lat and
    zone files need them."""
    from fleetsim.geo.frame import GeoFrame, crs_problem

    world = raw.get("world")
    run = raw.get("run")
    if isinstance(run, dict):
        d = run.get("duration_s")
        if isinstance(d, (int, float)) and not isinstance(d, bool) and 0 < d <= schema.MAX_TIME_S:
            ctx.duration_s = float(d)
    if not isinstance(world, dict):
        return
    terrain = world.get("terrain")
    if isinstance(terrain, dict):
        b = terrain.get("base_elevation_m")
        if isinstance(b, (int, float)) and not isinstance(b, bool) and math.isfinite(b):
            ctx.ground_m = float(b)
    origin, crs = world.get("origin"), world.get("crs")
    if origin is not None and crs is not None:
        ctx.fail("world.crs", "give world.origin (a local plane centred there) or world.crs "
                              "(a projected CRS), not both")
    if origin is not None:
        o = schema.ORIGIN.check(origin, "world.origin", ctx)
        ctx.frame = GeoFrame.from_origin(o["lat"], o["lon"])
    elif crs is not None:
        text = schema.WORLD.fields["crs"].validator.check(crs, "world.crs", ctx)
        problem = crs_problem(text)
        if problem:
            ctx.fail("world.crs", problem)
        ctx.frame = GeoFrame.from_crs(text)


Extent = tuple[float, float, float, float]

MAX_TARGET_DRAWS = schema.MAX_TARGET_DRAWS

#: Most monitor windows (run.duration_s / monitor_window_s) in a run: each costs a
#: few microseconds even when nothing happens in it.
MAX_WINDOWS = 20_000_000
#: Bounding-box cells of the metrics raster counted exactly for the "no cell in the
#: area" check (beyond it the area certainly holds cells of a sensible polygon).
_COUNT_CELLS_UP_TO = 10_000


def _check_size(s: Scenario, ctx: Context, terrain_points: int,
                extent: Extent | None) -> None:
    """The whole scenario, sized: fleet, windows, metrics raster and the memory estimate."""
    n = sum(g.count for g in s.vehicles)
    if n == 0:
        ctx.fail("fleet.types", "the fleet has no vehicles (every count is 0); give at least "
                                "one vehicle type a count > 0")
    if n > schema.MAX_VEHICLES:
        ctx.fail("fleet.types", f"the fleet has {n:,} vehicles in all; at most "
                                f"{schema.MAX_VEHICLES:,} are supported in one run")
    for path, window in (("run.monitor_window_s", s.run.monitor_window_s),
                         ("separation.window_s", s.separation and s.separation.window_s)):
        if window and s.run.duration_s / window > MAX_WINDOWS:
            ctx.fail(path, f"{s.run.duration_s:g} s in windows of {window:g} s are "
                           f"{s.run.duration_s / window:,.0f} windows; at most {MAX_WINDOWS:,} "
                           f"(expected a window of at least {s.run.duration_s / MAX_WINDOWS:g} s)")
    cells = 0.0
    areas = [shapely.Polygon(m.exterior, holes=list(m.holes) or None) for m in s.missions]
    cell = s.outputs.metrics_cell_m
    if areas:
        area = shapely.union_all(areas)
        x0, y0, x1, y1 = area.bounds
        nx, ny = math.ceil((x1 - x0) / cell - 1e-9), math.ceil((y1 - y0) / cell - 1e-9)
        cells = float(max(nx, 1)) * float(max(ny, 1))
        if cells <= _COUNT_CELLS_UP_TO:
            cx = x0 + (np.arange(max(nx, 1)) + 0.5) * cell
            cy = y0 + (np.arange(max(ny, 1)) + 0.5) * cell
            gx, gy = np.meshgrid(cx, cy)
            if not shapely.intersects_xy(area, gx.ravel(), gy.ravel()).any():
                ctx.fail("outputs.metrics_cell_m",
                         f"cells of {cell:g} m leave no cell centre inside the mission area "
                         f"(x {x0:g}..{x1:g} m, y {y0:g}..{y1:g} m), so coverage could not be "
                         f"measured; expected at most {min(x1 - x0, y1 - y0):g} m")
    estimate = estimate_memory(s, terrain_points=terrain_points, terrain_extent=extent,
                               metrics_cells=cells)
    limit, why = memory_limit_bytes()
    if estimate.total > limit:
        name, _ = estimate.largest(1)[0]
        parts = ", ".join(f"{k} {format_bytes(v)}" for k, v in estimate.largest(3))
        ctx.fail(estimate.paths[name],
                 f"a run of this scenario needs an estimated {format_bytes(estimate.total)} of "
                 f"memory ({parts}), more than the limit of {format_bytes(limit)} ({why})")


def _check_overlaps(polygon: shapely.Polygon, path: str, ctx: Context, extent: Extent | None,
                    what: str) -> None:
    """Fail unless ``polygon`` overlaps the terrain's extent (zones and water may reach
    past the map's edge -- a no-fly zone or a sea beyond it -- but not lie wholly off it)."""
    if extent is None:
        return
    x0, y0, x1, y1 = polygon.bounds
    if not shapely.intersects(polygon, shapely.box(*extent)) or shapely.area(
            shapely.intersection(polygon, shapely.box(*extent))) <= 0:
        ctx.fail(path, f"{what} (x {x0:g}..{x1:g} m, y {y0:g}..{y1:g} m) lies outside the "
                       f"terrain ({_extent_text(extent)}); it must overlap it")


def _inside(p: tuple[float, float], extent: Extent) -> bool:
    return extent[0] <= p[0] <= extent[2] and extent[1] <= p[1] <= extent[3]


def _pt(p: tuple[float, float]) -> str:
    return f"({p[0]:g}, {p[1]:g})"


def _extent_text(extent: Extent) -> str:
    x0, y0, x1, y1 = extent
    return f"x {x0:g}..{x1:g} m, y {y0:g}..{y1:g} m"


def _unique(ids: list[str], list_path: str, what: str, ctx: Context) -> None:
    seen: dict[str, int] = {}
    for i, ident in enumerate(ids):
        if ident in seen:
            first = child_path(item_path(list_path, seen[ident]), "id")
            line = ctx.where(first)[1]
            at = f"{first}, line {line}" if line else first
            ctx.fail(child_path(item_path(list_path, i), "id"),
                     f"duplicate {what} id {ident!r} (already used by {at}); ids must be unique")
        seen[ident] = i


def _terrain(t: dict[str, Any], path: str, ctx: Context, base_dir: str,
             check_files: bool) -> tuple[TerrainSpec, Extent | None, int]:
    """The terrain, its extent (None when a stored source's file is gone) and grid points."""
    source = t.get("source", schema.TERRAIN.default("source"))
    applicable = schema.TERRAIN_KEYS[source]
    for key in t:
        if key != "source" and key not in applicable:
            ctx.fail(child_path(path, key),
                     f"{key} does not apply to {source} terrain (keys for {source} terrain: "
                     f"source, {', '.join(applicable)})")
    spec = TerrainSpec(**t)
    x0, y0 = spec.origin_m
    if "path" in applicable:
        if "path" not in t:
            ctx.fail(path, f"missing required key 'path' (the elevation file of {source} "
                           "terrain, relative to the scenario's folder)")
        resolved = os.path.join(base_dir, os.path.expanduser(t["path"]))
        if not os.path.isfile(resolved):
            if check_files:
                ctx.fail(child_path(path, "path"), f"terrain file not found: {resolved}")
            return spec, None, 0  # a stored source whose file is gone: checked when built
        # The grid from the file's header: nothing is read or allocated before it passes.
        try:
            grid = dem_grid(source, resolved)
        except ScenarioError as exc:
            ctx.fail(child_path(path, "path"), f"{exc.message} (terrain file {resolved})")
        spacing = grid.spacing_m if grid.spacing_m is not None else spec.spacing_m
        if source == "geotiff" and ctx.frame is not None:  # placed by its georeferencing
            if "origin_m" in t:
                ctx.fail(child_path(path, "origin_m"), "origin_m does not apply to a GeoTIFF "
                         "in a scenario on the map (world.origin / world.crs): the DEM is "
                         "placed by its own georeferencing")
            from fleetsim.geo.dem import reprojected_grid

            placed = reprojected_grid(resolved, ctx.frame, spacing)
            x0, y0 = placed.origin_m
            return spec, (x0, y0, x0 + (placed.nx - 1) * spacing,
                          y0 + (placed.ny - 1) * spacing), placed.points
        if grid.spacing_m is not None and not schema.MIN_SPACING_M <= spacing:
            ctx.fail(child_path(path, "path"),
                     f"the raster's pixels are {spacing:g} m; at least {schema.MIN_SPACING_M:g} m "
                     f"is supported (resample the DEM, e.g. gdalwarp -tr 1 1)")
        extent = (x0, y0, x0 + (grid.nx - 1) * spacing, y0 + (grid.ny - 1) * spacing)
        return spec, extent, grid.points
    w, h = spec.size_m
    if spec.spacing_m > min(w, h):
        ctx.fail(child_path(path, "spacing_m" if "spacing_m" in t else "size_m"),
                 f"spacing_m = {spec.spacing_m:g} m is wider than the terrain ({w:g} x {h:g} m); "
                 f"expected at most {min(w, h):g} m")
    # The grid the terrain builder makes: enough points to cover the extent.
    points = (math.ceil(w / spec.spacing_m - 1e-9) + 1) * (math.ceil(h / spec.spacing_m - 1e-9) + 1)
    if points > MAX_TERRAIN_POINTS:
        ctx.fail(child_path(path, "spacing_m" if "spacing_m" in t else "size_m"),
                 f"a terrain of {w:g} x {h:g} m at spacing_m = {spec.spacing_m:g} needs "
                 f"{points:,} grid points (at most {MAX_TERRAIN_POINTS:,}); increase spacing_m")
    return spec, (x0, y0, x0 + w, y0 + h), points


def _polygon(v: dict[str, Any], path: str, ctx: Context,
             what: str) -> tuple[Ring, tuple[Ring, ...], shapely.Polygon]:
    """The exterior and holes of a zone or mission area, checked for validity."""
    if "polygon" in v and "rect" in v:
        ctx.fail(child_path(path, "rect"), "give either polygon or rect, not both")
    if "polygon" in v:
        exterior = v["polygon"]
        at = child_path(path, "polygon")
    elif "rect" in v:
        x0, y0, x1, y1 = v["rect"]
        exterior = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
        at = child_path(path, "rect")
    else:
        ctx.fail(path, f"missing required key 'polygon' ({schema.RING.describe()}) or 'rect' "
                       f"({schema.Rect().describe()}) giving the {what}")
    shell = shapely.Polygon(exterior)
    if not shapely.is_valid(shell):
        ctx.fail(at, f"invalid polygon: {shapely.is_valid_reason(shell)} (the {what} must be a "
                     "simple polygon whose edges do not cross)")
    holes = tuple(v.get("holes", ()))
    for i, hole in enumerate(holes):
        hole_at = item_path(child_path(path, "holes"), i)
        hole_polygon = shapely.Polygon(hole)
        if not shapely.is_valid(hole_polygon):
            ctx.fail(hole_at, f"invalid hole: {shapely.is_valid_reason(hole_polygon)}")
        if not shell.covers(hole_polygon):
            ctx.fail(hole_at, f"hole is not inside the {what}'s polygon")
    polygon = shapely.Polygon(exterior, holes=list(holes) or None)
    if not shapely.is_valid(polygon):
        ctx.fail(child_path(path, "holes"),
                 f"invalid polygon with holes: {shapely.is_valid_reason(polygon)} "
                 "(holes must not overlap each other)")
    return exterior, holes, polygon


def _zone(z: dict[str, Any], path: str, ctx: Context, extent: Extent | None) -> ZoneSpec:
    exterior, holes, polygon = _polygon(z, path, ctx, "zone")
    _check_overlaps(polygon, child_path(path, "polygon" if "polygon" in z else "rect"), ctx,
                  extent, f"the zone {z['id']!r}")
    floor = z.get("floor_amsl_m")
    ceiling = z.get("ceiling_amsl_m")
    floor = -math.inf if floor is None else floor
    ceiling = math.inf if ceiling is None else ceiling
    if not floor < ceiling:
        ctx.fail(child_path(path, "ceiling_amsl_m"),
                 f"expected a ceiling above floor_amsl_m = {show(floor)}, got {show(ceiling)}")
    active = TimeWindow(**z.get("active", {}))
    if active.end_s is not None and not active.end_s > active.start_s:
        ctx.fail(child_path(child_path(path, "active"), "end_s"),
                 f"expected end_s > start_s = {active.start_s:g} (or null: until the end of "
                 f"the run), got {show(active.end_s)}")
    return ZoneSpec(id=z["id"], kind=z["kind"], exterior=exterior, holes=holes,
                    floor_amsl_m=floor, ceiling_amsl_m=ceiling, active=active)


def _zones(raw: list[dict[str, Any]], ctx: Context, extent: Extent | None) -> list[ZoneSpec]:
    """The zones, checked; a zone read from a file is reported by the file and its index."""
    given = ctx.file_paths.get("world.zones", [])
    paths = given if len(given) == len(raw) else \
        [(item_path("world.zones", i), "") for i in range(len(raw))]
    out = []
    for z, (path, prefix) in zip(raw, paths, strict=True):
        try:
            out.append(_zone(z, path, ctx, extent))
        except ScenarioError as exc:
            if not prefix:
                raise
            file, line = ctx.where(path)
            raise ScenarioError(prefix + exc.message, file=file, line=line, path=path) from None
    return out


def _vehicle_type(t: dict[str, Any], path: str,
                  ctx: Context) -> tuple[VehicleTypeSpec, list[tuple[str, int, str]]]:
    """The vehicle type and its (base, count, yaml path of the base) groups."""
    if t.get("carrier") is not None:
        for key in ("base", "bases"):
            if key in t:
                ctx.fail(child_path(path, key),
                         f"vehicles with a carrier start on it: give count, not {key}")
        if "count" not in t:
            ctx.fail(path, "missing required key 'count' (how many ride on the carriers)")
        placed = [("", t["count"], child_path(path, "count"))]
    elif "bases" in t:
        for key in ("count", "base"):
            if key in t:
                ctx.fail(child_path(path, key), "give either count and base, or bases "
                                                "({base id: count, ...}), not both")
        placed = [(b, n, child_path(child_path(path, "bases"), b)) for b, n in t["bases"].items()]
    elif "count" in t and "base" in t:
        placed = [(t["base"], t["count"], child_path(path, "base"))]
    else:
        missing = "base" if "count" in t else "count"
        ctx.fail(path, f"missing required key {missing!r}: say where the vehicles of this "
                       "type start, with count and base, or with bases: {base id: count, ...}")

    domain = schema.KIND_DOMAIN[t["kind"]]
    if t.get("domain", domain) != domain:
        ctx.fail(child_path(path, "domain"),
                 f"a {t['kind']} vehicle moves in the {domain} domain, not {t['domain']!r} "
                 f"(kinds by domain: air: multirotor, fixed_wing; ground: wheeled; sea: vessel)")
    t = {**t, "domain": domain}
    if domain == "air" and t.get("carrier_slots"):
        ctx.fail(child_path(path, "carrier_slots"), f"only ground and sea vehicles carry "
                                                    f"others, but {t['id']!r} flies")
    if t.get("bank_angle_deg") is not None and t["kind"] != "fixed_wing":
        ctx.fail(child_path(path, "bank_angle_deg"),
                 f"bank_angle_deg applies to fixed_wing vehicles only, but {t['id']!r} is a "
                 f"{t['kind']}")
    if domain == "air":
        for key in ("climb_rate_mps", "hover_power_w", "sensor"):
            if key not in t:
                ctx.fail(path, f"missing required key {key!r} (air vehicles need "
                               "climb_rate_mps, hover_power_w and sensor)")
        if t["hover_power_w"] <= 0:
            ctx.fail(child_path(path, "hover_power_w"),
                     f"expected a number > 0 for an air vehicle, got {show(t['hover_power_w'])}")
    else:
        for key in schema.AIR_ONLY_KEYS:
            if t.get(key) is not None:
                ctx.fail(child_path(path, key),
                         f"{key} applies to air vehicles only, but {t['id']!r} is a "
                         f"{domain} vehicle")
        # On the ground or the water: no altitude, a sensor only if given.
        t.setdefault("sensor", {"footprint_radius_m": 1.0})
        t.setdefault("hover_power_w", 0.0)
        t.update(schema.SURFACE_VALUES)
    altitude = t.get("cruise_altitude_agl_m", schema.VEHICLE_TYPE.default("cruise_altitude_agl_m"))
    s = t["sensor"]
    spath = child_path(path, "sensor")
    if "footprint_radius_m" in s and "camera_fov_deg" in s:
        ctx.fail(child_path(spath, "camera_fov_deg"),
                 "give either footprint_radius_m or camera_fov_deg, not both (a camera's "
                 "footprint radius is cruise_altitude_agl_m x tan(camera_fov_deg / 2))")
    if "camera_fov_deg" in s:
        radius = altitude * math.tan(math.radians(s["camera_fov_deg"]) / 2)
        if radius > schema.MAX_DISTANCE_M:
            ctx.fail(child_path(spath, "camera_fov_deg"),
                     f"a camera of {s['camera_fov_deg']:g} degrees at {altitude:g} m sees "
                     f"{radius:.3g} m around; at most {schema.MAX_DISTANCE_M:g} m (a narrower "
                     "field of view or a lower altitude)")
    elif "footprint_radius_m" in s:
        radius = s["footprint_radius_m"]
    else:
        ctx.fail(spath, "missing required key 'footprint_radius_m' (a number > 0) or "
                        "'camera_fov_deg' (a number > 0 and < 180)")
    d = s.get("detection", {})
    dpath = child_path(spath, "detection")
    model = d.get("model", schema.DETECTION.default("model"))
    sweep = d.get("sweep_width_m")
    if model == "definite_range":
        if sweep is not None and not math.isclose(sweep, 2 * radius, rel_tol=1e-6):
            ctx.fail(child_path(dpath, "sweep_width_m"),
                     f"for the definite_range model the sweep width is 2 x the footprint "
                     f"radius = {2 * radius:g} m; got {sweep:g} (leave sweep_width_m out, or "
                     "choose another model)")
        sweep = 2 * radius
    elif sweep is None:
        ctx.fail(dpath, f"missing required key 'sweep_width_m' (a number > 0; the {model} "
                        "model needs it)")
    sensor = SensorSpec(footprint_radius_m=radius, camera_fov_deg=s.get("camera_fov_deg"),
                        detection=DetectionSpec(model=model, sweep_width_m=sweep))
    kwargs = {k: val for k, val in t.items() if k not in ("count", "base", "bases", "sensor")}
    return VehicleTypeSpec(sensor=sensor, **kwargs), placed


def _check_base(base: str, path: str, sites: tuple[SiteSpec, ...], ctx: Context) -> None:
    bases = [s.id for s in sites if s.kind in ("base", "depot")]
    known = (f"known bases and depots: {', '.join(bases)}" if bases
             else "the scenario has no sites of kind base or depot (world.sites)")
    site = next((s for s in sites if s.id == base), None)
    if site is None:
        ctx.fail(path, f"unknown base {base!r}{suggest(base, bases)} ({known})")
    if site.kind not in ("base", "depot"):
        ctx.fail(path, f"site {base!r} is a {site.kind}, not a base or depot ({known})")


def _carried_groups(carried: list, types: list[VehicleTypeSpec],
                    groups: list[VehicleGroupSpec], ctx: Context) -> list[VehicleGroupSpec]:
    """Groups of vehicles that start on carriers: they share their carriers' bases."""
    out = []
    by_id = {t.id: t for t in types}
    for i, vt, placed in carried:
        cpath = child_path(item_path("fleet.types", i), "carrier")
        carrier = by_id.get(vt.carrier)
        if carrier is None:
            ctx.fail(cpath, f"unknown vehicle type {vt.carrier!r}"
                            f"{suggest(vt.carrier, list(by_id))} (types: {', '.join(by_id)})")
        if carrier.carrier is not None or carrier.domain == "air":
            ctx.fail(cpath, f"a carrier must be a ground or sea vehicle that starts at a base; "
                            f"{carrier.id!r} is not")
        if vt.domain != "air":
            ctx.fail(cpath, f"only air vehicles ride on carriers; {vt.id!r} is {vt.domain}")
        hosts = [g for g in groups if g.type == carrier.id]
        n_hosts = sum(g.count for g in hosts)
        count = placed[0][1]
        if count and n_hosts * carrier.carrier_slots < count:
            ctx.fail(child_path(item_path("fleet.types", i), "count"),
                     f"{count} {vt.id!r} vehicles need carrier slots, but the {n_hosts} "
                     f"{carrier.id!r} vehicles have {carrier.carrier_slots} each "
                     f"(set carrier_slots on {carrier.id!r})")
        # The i-th carried vehicle rides on carrier i mod n_hosts: group by base in turn.
        per_base: dict[str, int] = {}
        host_bases = [g.base for g in hosts for _ in range(g.count)]
        for k in range(count):
            b = host_bases[k % n_hosts]
            per_base[b] = per_base.get(b, 0) + 1
        out += [VehicleGroupSpec(type=vt.id, base=b, count=n) for b, n in per_base.items()]
    return out


def _water(w: dict[str, Any], path: str, ctx: Context, base_dir: str,
           check_files: bool) -> WaterSpec:
    source = w.get("source", schema.WATER.default("source"))
    if source == "osm":
        if ctx.frame is None:
            ctx.fail(child_path(path, "source"), "osm waterways are in longitude/latitude: "
                     "give world.origin: {lat: .., lon: ..} or world.crs: EPSG:<code>")
        if "path" not in w:
            ctx.fail(path, "missing required key 'path' (an OpenStreetMap XML file, relative "
                           "to the scenario's folder)")
        for key in ("spacing_m", "polygon"):
            if key in w:
                ctx.fail(child_path(path, key), f"{key} applies to the water lattice (source: "
                                                f"lattice), not to osm waterways")
        if check_files and not os.path.isfile(os.path.join(base_dir, w["path"])):
            ctx.fail(child_path(path, "path"),
                     f"waterways file not found: {os.path.join(base_dir, w['path'])}")
    else:
        for key in ("path", "speed_limit_mps"):
            if key in w:
                ctx.fail(child_path(path, key), f"{key} applies to osm waterways, not to the "
                                                f"water {source}")
    return WaterSpec(**w)


def _roads(r: dict[str, Any], path: str, ctx: Context, base_dir: str,
           check_files: bool, terrain_extent: Extent | None) -> RoadsSpec:
    source = r.get("source", schema.ROADS.default("source"))
    if "consolidate_m" in r and source != "osm":
        ctx.fail(child_path(path, "consolidate_m"), f"consolidate_m applies to osm roads, not "
                                                    f"{source}")
    if source == "osm" and ctx.frame is None:
        ctx.fail(child_path(path, "source"), "osm roads are in longitude/latitude: give "
                 "world.origin: {lat: .., lon: ..} or world.crs: EPSG:<code>")
    if source in ("geojson", "osm"):
        if "path" not in r:
            ctx.fail(path, "missing required key 'path' (" + (
                "a GeoJSON file of LineStrings" if source == "geojson" else
                "an OpenStreetMap XML file") + ", relative to the scenario's folder)")
        for key in ("extent", "spacing_m", "blocked", "seed"):
            if r.get(key) is not None:
                ctx.fail(child_path(path, key), f"{key} applies to generated roads (grid, "
                                                f"planar), not to {source}")
        if check_files and not os.path.isfile(os.path.join(base_dir, r["path"])):
            ctx.fail(child_path(path, "path"),
                     f"roads file not found: {os.path.join(base_dir, r['path'])}")
    elif "path" in r:
        ctx.fail(child_path(path, "path"), f"path applies to geojson and osm roads, not "
                                           f"{source}")
    extent = r.get("extent")
    if extent is not None and not (extent[2] > extent[0] and extent[3] > extent[1]):
        ctx.fail(child_path(path, "extent"), "expected [x0, y0, x1, y1] with x1 > x0, y1 > y0")
    if extent is not None and terrain_extent is not None and not (
            _inside(extent[:2], terrain_extent) and _inside(extent[2:], terrain_extent)):
        ctx.fail(child_path(path, "extent"), f"the roads' extent reaches outside the terrain "
                                             f"({_extent_text(terrain_extent)})")
    closures = tuple(ClosureSpec(**c) for c in r.get("closures", []))
    for i, c in enumerate(closures):
        at = item_path(child_path(path, "closures"), i)
        if terrain_extent is not None and not _inside(c.near, terrain_extent):
            ctx.fail(child_path(at, "near"), f"{_pt(c.near)} lies outside the terrain "
                                             f"({_extent_text(terrain_extent)})")

    return RoadsSpec(**{**r, "closures": closures,
                        "extent": None if extent is None else tuple(extent)})


#: Most rows ``timeseries.parquet`` may have (``run.duration_s / outputs.timeseries_step_s``).
MAX_TIMESERIES_ROWS = 1_000_000


def _check_timeseries_step(v: dict[str, Any], ctx: Context) -> None:
    """The time series' step must leave a table of bounded size."""
    step = v.get("outputs", {}).get("timeseries_step_s")
    if step is None:
        return
    duration = v["run"]["duration_s"]
    if duration / step > MAX_TIMESERIES_ROWS:
        ctx.fail("outputs.timeseries_step_s",
                 f"{step:g} s gives {duration / step:.3g} rows over run.duration_s "
                 f"({duration:g} s); at most {MAX_TIMESERIES_ROWS:,}: use a step of at least "
                 f"{duration / MAX_TIMESERIES_ROWS:g} s")


def _check_separation(sp: SeparationSpec, ctx: Context, types: list[VehicleTypeSpec],
                      run: dict[str, Any]) -> None:
    """Settings that would quietly check nothing are errors."""
    domains = sorted({t.domain for t in types})
    if not any(d in sp.minima for d in domains):
        ctx.fail("separation.minima", f"no minima for the fleet's domains ({', '.join(domains)}):"
                                      " nothing would be checked (e.g. {air: {horizontal_m: 50, "
                                      "vertical_m: 15}})")
    window = sp.checking_window_s(
        run.get("monitor_window_s", schema.RUN.default("monitor_window_s")), run["duration_s"])
    if window >= run["duration_s"]:
        ctx.fail("separation.window_s" if sp.window_s else "run.monitor_window_s",
                 f"the checking window ({window:g} s) is as long as the run "
                 f"({run['duration_s']:g} s): no window would end before the run does")
    st = sp.strategic
    if st is not None and st.layers == 0 and st.delay_step_s > st.max_delay_s:
        ctx.fail("separation.strategic.delay_step_s",
                 f"with layers: 0 and delay_step_s ({st.delay_step_s:g}) > max_delay_s "
                 f"({st.max_delay_s:g}), strategic deconfliction could never act")


def _too_heavy(weight: float, max_payload: float) -> str:
    return (f"no vehicle can carry {weight:g} kg (the largest payload_kg in the fleet is "
            f"{max_payload:g})")


def _logistics(lg: dict[str, Any], path: str, ctx: Context, sites: tuple[SiteSpec, ...],
               extent: Extent | None, run: dict[str, Any],
               types: list[VehicleTypeSpec]) -> LogisticsSpec:
    by_id = {s.id: s for s in sites}
    max_payload = max((t.payload_kg for t in types), default=0.0)
    depots = [s.id for s in sites if s.kind == "depot"]

    def depot(ident: str, at: str) -> None:
        site = by_id.get(ident)
        known = f"depots: {', '.join(depots)}" if depots else "the scenario has no depots"
        if site is None:
            ctx.fail(at, f"unknown depot {ident!r}{suggest(ident, depots)} ({known})")
        if site.kind != "depot":
            ctx.fail(at, f"site {ident!r} is a {site.kind}, not a depot ({known})")

    def place(value: Any, at: str) -> tuple[tuple[float, float], str | None]:
        if isinstance(value, str):
            if value not in by_id:
                ctx.fail(at, f"unknown site {value!r}{suggest(value, list(by_id))} (give a "
                             "site id or a point [x, y])")
            return by_id[value].position, value
        if extent is not None and not _inside(value, extent):
            ctx.fail(at, f"destination {_pt(value)} lies outside the terrain "
                         f"({_extent_text(extent)})")
        return value, None

    orders = []
    opath = child_path(path, "orders")
    order_defaults = schema.ORDER.defaults()
    for i, given in enumerate(lg.get("orders", [])):
        o = {**order_defaults, **given}
        at = item_path(opath, i)
        depot(o["origin"], child_path(at, "origin"))
        xy, site = place(o["destination"], child_path(at, "destination"))
        latest, earliest, created = o["latest_s"], o["earliest_s"], o["created_s"]
        if latest is not None and latest < max(earliest, created):
            ctx.fail(child_path(at, "latest_s"),
                     f"expected latest_s >= earliest_s ({earliest:g}) and created_s "
                     f"({created:g}), got {show(latest)}")
        if o["weight_kg"] > max_payload:
            ctx.fail(child_path(at, "weight_kg"), _too_heavy(o["weight_kg"], max_payload))
        orders.append(OrderSpec(id=o.get("id", f"order{i}"), origin=o["origin"],
                                destination=xy, destination_site=site,
                                weight_kg=o["weight_kg"], created_s=created,
                                priority=o["priority"], earliest_s=earliest,
                                latest_s=latest))
    _unique([o.id for o in orders], opath, "order", ctx)
    demand = []
    dpath = child_path(path, "demand")
    demand_defaults = schema.DEMAND.defaults()
    for i, d in enumerate(lg.get("demand", [])):
        at = item_path(dpath, i)
        dd = {**demand_defaults, **d}
        depot(d["origin"], child_path(at, "origin"))
        if "destinations" in d and "area" in d:
            ctx.fail(child_path(at, "area"), "give either destinations (site ids) or area "
                                             "(polygon or rect), not both")
        if "destinations" not in d and "area" not in d:
            ctx.fail(at, "missing required key 'destinations' (site ids) or 'area' (polygon or "
                         "rect) saying where the orders go")
        area = None
        for k, ident in enumerate(d.get("destinations", [])):
            place(ident, item_path(child_path(at, "destinations"), k))
        if "area" in d:
            area, _, poly = _polygon(d["area"], child_path(at, "area"), ctx, "demand area")
            if extent is not None:
                x0, y0, x1, y1 = poly.bounds
                if not (_inside((x0, y0), extent) and _inside((x1, y1), extent)):
                    ctx.fail(child_path(at, "area"), "the demand area reaches outside the "
                                                     f"terrain ({_extent_text(extent)})")
        if "weight_kg" in d and "weight_range_kg" in d:
            ctx.fail(child_path(at, "weight_range_kg"), "give either weight_kg (fixed) or "
                                                        "weight_range_kg [low, high], not both")
        lo, hi = d.get("weight_range_kg", (dd["weight_kg"],) * 2)
        if hi < lo:
            ctx.fail(child_path(at, "weight_range_kg"), f"expected low <= high, got [{lo:g}, "
                                                        f"{hi:g}]")
        if hi > max_payload:
            ctx.fail(child_path(at, "weight_range_kg" if "weight_range_kg" in d
                                else "weight_kg"), _too_heavy(hi, max_payload))
        end = dd["end_s"]
        if end is not None and end <= dd["start_s"]:
            ctx.fail(child_path(at, "end_s"), "expected end_s > start_s (or null: until the "
                                              "end of the run)")
        demand.append(DemandSpec(origin=d["origin"], rate_per_hour=d["rate_per_hour"],
                                 destinations=tuple(d.get("destinations", ())), area=area,
                                 weight_kg=(lo, hi), window_s=dd["window_s"],
                                 priority=dd["priority"], start_s=dd["start_s"],
                                 end_s=end))
    return LogisticsSpec(orders=tuple(orders), demand=tuple(demand),
                         **{k: lg[k] for k in ("service_time_s", "transfer_time_s") if k in lg})


def _wind(w: dict[str, Any], path: str, ctx: Context, base_dir: str,
          check_files: bool) -> WindSpec:
    """The wind: uniform with its changes by strictly increasing time, or gridded."""
    changes = tuple(WindChange(**c) for c in w.get("changes", []))
    for i in range(1, len(changes)):
        if changes[i].t_s <= changes[i - 1].t_s:
            ctx.fail(child_path(item_path(child_path(path, "changes"), i), "t_s"),
                     f"wind changes must come in strictly increasing time: t_s "
                     f"{_fmt_num(changes[i].t_s)} is not after {_fmt_num(changes[i - 1].t_s)}")
    grid = w.get("grid")
    if grid is None:
        missing = [k for k in ("speed_mps", "from_deg") if k not in w]
        if missing:
            ctx.fail(path, f"missing required key {missing[0]!r} (a uniform wind needs "
                           "speed_mps and from_deg; a gridded one, grid)")
        return WindSpec(speed_mps=w["speed_mps"], from_deg=w["from_deg"], changes=changes,
                        **w.get("profile", {}))
    for key in ("speed_mps", "from_deg", "changes"):
        if key in w:
            ctx.fail(child_path(path, key), f"{key} does not apply with a gridded wind (the "
                                            "grid's slices give its speed, direction and "
                                            "changes); give grid or speed_mps and from_deg")
    gpath = child_path(path, "grid")
    spec = WindGridSpec(path=grid["path"], spacing_m=grid["spacing_m"],
                        origin_m=tuple(grid.get("origin_m", (0.0, 0.0))),
                        step_s=grid.get("step_s", schema.WIND_GRID.default("step_s")))
    resolved = os.path.join(base_dir, os.path.expanduser(spec.path))
    if not os.path.isfile(resolved):
        if check_files:
            ctx.fail(child_path(gpath, "path"), f"wind grid file not found: {resolved}")
    else:
        try:
            read_wind_grid(resolved, schema.MAX_WIND_GRID_VALUES)
        except ValueError as exc:
            ctx.fail(child_path(gpath, "path"), f"{exc} (wind grid file {resolved})")
    return WindSpec(grid=spec, **w.get("profile", {}))


def _fmt_num(x: float) -> str:
    return f"{x:g}"


def _wind_source(w: WindSpec) -> dict[str, Any]:
    if w.grid is not None:
        return {"grid": record_source(w.grid, schema.WIND_GRID),
                "profile": record_source(w, schema.WIND_PROFILE)}
    return record_source(w, schema.WIND, given={
        "profile": record_source(w, schema.WIND_PROFILE)}, skip=("grid",))


def _mission(m: dict[str, Any], path: str, ctx: Context, extent: Extent | None) -> MissionSpec:
    area_path = child_path(path, "area")
    area = m["area"]
    if "geojson" in area:  # the area from a GeoJSON file, in the scenario's frame
        from fleetsim.geo.points import geojson_area

        at = child_path(area_path, "geojson")
        if any(k in area for k in ("polygon", "rect", "holes")):
            ctx.fail(at, "give the area as geojson or as polygon / rect (and holes), not both")
        frame = schema.frame_or_fail(at, ctx)
        try:
            ring, holes = geojson_area(os.path.join(ctx.base_dir, area["geojson"]), frame)
        except ValueError as exc:
            ctx.fail(at, str(exc))
        area = {"polygon": schema.RING.check(ring, at, ctx),
                "holes": [schema.RING.check(h, at, ctx) for h in holes]}
    exterior, holes, polygon = _polygon(area, area_path, ctx, "mission area")
    if extent is not None:
        x0, y0, x1, y1 = polygon.bounds
        if not (_inside((x0, y0), extent) and _inside((x1, y1), extent)):
            ctx.fail(area_path, f"the mission area (x {x0:g}..{x1:g} m, y {y0:g}..{y1:g} m) "
                                f"reaches outside the terrain ({_extent_text(extent)})")
    targets = []
    seen: dict[str, int] = {}
    for i, t in enumerate(m.get("targets", [])):
        tpath = item_path(child_path(path, "targets"), i)
        ident = t.get("id", f"{m['id']}-target{i}")
        if ident in seen:
            ctx.fail(child_path(tpath, "id"), f"duplicate target id {ident!r} (already used by "
                                              f"targets[{seen[ident]}]); ids must be unique")
        seen[ident] = i
        if not polygon.covers(shapely.Point(t["position"])):
            ctx.fail(tpath, f"target position {_pt(t['position'])} lies outside the mission area")
        targets.append(TargetSpec(id=ident, position=t["position"],
                                  velocity_mps=t.get("velocity_mps")))
    n_random = m.get("random_targets", schema.MISSION.default("random_targets"))
    x0, y0, x1, y1 = polygon.bounds
    fill = polygon.area / max((x1 - x0) * (y1 - y0), 1e-300)
    if n_random and n_random / max(fill, 1e-300) > MAX_TARGET_DRAWS:
        ctx.fail(child_path(path, "random_targets"),
                 f"the mission area fills {fill:.2g} of its bounding box, so placing "
                 f"{n_random:,} random targets would take ~{n_random / fill:.3g} draws (at most "
                 f"{MAX_TARGET_DRAWS:,}); give fewer targets or a more compact area")
    drift = m.get("drift")
    datum = m.get("datum")
    if datum is not None:
        datum = DatumSpec(position=tuple(datum["position"]),
                          sigma_m=datum.get("sigma_m", schema.DATUM.default("sigma_m")))
        if not polygon.contains(shapely.Point(datum.position)):
            ctx.fail(child_path(child_path(path, "datum"), "position"),
                     f"datum position {_pt(datum.position)} lies outside the mission area "
                     f"(expected a point inside it)")
    return MissionSpec(id=m["id"], kind=m["kind"], exterior=exterior, holes=holes,
                       targets=tuple(targets), random_targets=n_random,
                       drift=None if drift is None else DriftSpec(**drift), datum=datum)


def _oversight(o: dict[str, Any], path: str, ctx: Context, n_vehicles: int) -> OversightSpec:
    operators = o["operators"]
    shifts_path = child_path(path, "shifts")
    shifts = tuple(ShiftSpec(**w) for w in o.get("shifts", []))
    for i, w in enumerate(shifts):
        if not w.end_s > w.start_s:
            ctx.fail(child_path(item_path(shifts_path, i), "end_s"),
                     f"expected end_s > start_s = {w.start_s:g}, got {show(w.end_s)} (a shift "
                     "must end after it starts)")
    # Overlapping shifts add up; the peak must fit in the pool.
    peak = operators
    if shifts:
        on_duty = [sum(x.count for x in shifts if x.start_s <= w.start_s < x.end_s)
                   for w in shifts]
        peak = max(on_duty)
        if peak > operators:
            i = on_duty.index(peak)
            ctx.fail(child_path(item_path(shifts_path, i), "count"),
                     f"the shifts put {peak} operators on duty at t = {shifts[i].start_s:g} s, "
                     f"but oversight.operators is {operators} (overlapping shifts add up)")

    rules_path = child_path(path, "rules")
    rules = {cls: RuleSpec(**r) for cls, r in o.get("rules", {}).items()}
    for cls, r in rules.items():
        rpath = child_path(rules_path, cls)
        if cls in ("stop", "classify_detection", "emergency_landing"):
            ctx.fail(rpath, f"{cls} is not authorised by a rule: stop commands and reviews "
                            "are always carried out (set review work under "
                            "oversight.detection_review)")
        if r.rule == "auto" and r.service is not None:
            ctx.fail(child_path(rpath, "service"),
                     f"rule 'auto' gives the operators no work, so {cls} takes no service time "
                     "(leave service out, or choose rule notify, veto or approve)")
        if r.two_person and peak < 2:
            have = (f"oversight.operators is {operators}" if not shifts
                    else f"the shifts never put more than {peak} on duty")
            ctx.fail(child_path(rpath, "two_person"),
                     f"a two-person rule needs at least 2 operators on duty at once, but {have}")

    review = o.get("detection_review")
    stops_path = child_path(path, "stops")
    stops = tuple(StopSpec(**x) for x in o.get("stops", []))
    for i, x in enumerate(stops):
        for j, vehicle in enumerate(x.vehicles or ()):
            if vehicle >= n_vehicles:
                fleet = (f"the fleet has {n_vehicles} vehicle{'s' if n_vehicles != 1 else ''} "
                         f"(valid indexes 0..{n_vehicles - 1})" if n_vehicles
                         else "the fleet has no vehicles")
                ctx.fail(item_path(child_path(item_path(stops_path, i), "vehicles"), j),
                         f"vehicle index {vehicle} is out of range: {fleet}")
    return OversightSpec(
        operators=operators,
        shifts=shifts,
        span_of_control=o.get("span_of_control"),
        rules=rules,
        detection_review=None if review is None else ReviewSpec(**review),
        stops=stops,
        approval_needs_link=o.get("approval_needs_link",
                                  schema.OVERSIGHT.default("approval_needs_link")),
    )

"""The scenario file reference, generated from the schema (``fleetsim schema``).

Everything here is read from :data:`fleetsim.scenario.schema.SCENARIO`: each
mapping of a scenario file is a :class:`Section` (its YAML path, what it is, the
rules relating its keys) with one :class:`Entry` per key (value type and bounds
from the validator's ``describe()``, unit, default, doc, example). Nothing is
written twice: a key added to the schema appears here, and a key without a doc
fails the test suite.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from fleetsim.scenario import schema
from fleetsim.scenario.schema import (
    NO_DEFAULT,
    Field,
    ListOf,
    MapOf,
    Named,
    NameOrRecord,
    Nullable,
    PointOrRecord,
    Record,
    Validator,
)


@dataclass(frozen=True)
class Entry:
    """One key of a scenario mapping, as the reference shows it."""

    path: str  # YAML path with [] for list items and <...> for free mapping keys
    key: str
    field: Field
    value: str  # the value's type and bounds, in words
    unit: str
    default: str  # "required", a YAML value, or what an absent key takes
    section: str | None  # path of the mapping below this key, if it holds one


@dataclass(frozen=True)
class Section:
    """One mapping of a scenario file: its keys and the rules relating them."""

    path: str
    record: Record
    entries: tuple[Entry, ...]


def _inner_record(v: Validator, path: str) -> tuple[Record, str] | None:
    """The record a value holds (through lists, free mappings, nulls), and its path."""
    while True:
        if isinstance(v, Record):
            return v, path
        if isinstance(v, Nullable):
            v = v.inner
        elif isinstance(v, PointOrRecord | NameOrRecord):
            v = v.record
        elif isinstance(v, ListOf):
            v, path = v.item, path + "[]"
        elif isinstance(v, MapOf) and isinstance(v.value, Record | NameOrRecord | Nullable):
            name = v.key.what if isinstance(v.key, Named) else "id"
            v, path = v.value, f"{path}.<{name}>"
        else:
            return None


def _value_text(v: Validator, below: str | None) -> str:
    if below is None:
        return v.describe()
    see = f"see `{below}`"
    if isinstance(v, Nullable):
        return f"{_value_text(v.inner, below)} or null"
    if isinstance(v, ListOf):
        more = f", at least {v.min_items}" if v.min_items else ""
        return f"a list of {v.what} ({see}{more})"
    if isinstance(v, MapOf):
        return f"a mapping of {v.what} ({see})"
    if isinstance(v, PointOrRecord):
        return f"a point [x, y] or a mapping ({see})"
    if isinstance(v, NameOrRecord):
        return f"{v.name.describe()}, or a mapping ({see})"
    return f"a mapping ({see})"


def yaml_value(value: Any) -> str:
    """A default as YAML flow text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = f"{value:g}"
        return text if float(text) == value else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value if re.fullmatch(r"[A-Za-z_][\w.\-]*", value) else json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(yaml_value(x) for x in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {yaml_value(x)}" for k, x in value.items()) + "}"
    raise TypeError(f"no YAML form for {value!r}")


def default_text(f: Field) -> str:
    """What the reference says an absent key takes."""
    if f.required:
        return "required"
    if f.derived:
        return f.derived
    if f.default is NO_DEFAULT:
        return "-"
    return yaml_value(f.default)


def sections(root: Record = schema.SCENARIO) -> list[Section]:
    """Every mapping of a scenario file, outermost first, keys in schema order."""
    out: list[Section] = []

    def visit(record: Record, path: str) -> None:
        entries = []
        below_records = []
        for key, f in record.fields.items():
            here = schema.child_path(path, key)
            inner = _inner_record(f.validator, here)
            below = inner[1] if inner else None
            entries.append(Entry(path=here, key=key, field=f,
                                 value=_value_text(f.validator, below),
                                 unit=schema.unit_of(key, f), default=default_text(f),
                                 section=below))
            if inner:
                below_records.append(inner)
            files = getattr(f.validator, "files", None)  # ZoneList: its file items too
            if isinstance(files, Record):
                below_records.append((files, here + "[](file)"))
        out.append(Section(path=path, record=record, entries=tuple(entries)))
        for rec, sub in below_records:
            visit(rec, sub)

    visit(root, "")
    return out


def entries(root: Record = schema.SCENARIO) -> list[Entry]:
    """Every key of a scenario file (see :func:`sections`)."""
    return [e for s in sections(root) for e in s.entries]


_INTRO = (
    "Every key of a scenario file, generated from the declaration in "
    "`fleetsim/scenario/schema.py` (`fleetsim schema --markdown`). Paths are YAML paths: "
    "`[]` is any item of a list, `<name>` any key of a free mapping. Units are SI "
    "(m, s, m/s, W, Wh, kg); positions are local metres, x east and y north of the "
    "scenario's origin (or, in a scenario with `world.origin` or `world.crs`, `{lonlat: [lon, lat]}`); altitudes are metres above the terrain datum unless the key says "
    "`agl`. An absent optional key takes its default; 'required' keys must be given. "
    "`fleetsim validate FILE` checks a file against all of this, and every problem is "
    "reported with its file, line and path."
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown() -> str:
    """The full reference as Markdown."""
    lines = [f"# Scenario file reference (schema version {schema.SCENARIO.fields['schema_version'].default})",
             "", _INTRO, ""]
    for sec in sections():
        lines += [f"## `{sec.path or '(top level)'}`", ""]
        if sec.record.doc:
            lines += [sec.record.doc, ""]
        lines += ["| key | value | unit | default | description |", "|---|---|---|---|---|"]
        for e in sec.entries:
            doc = e.field.doc + (f" Example: `{e.field.example}`." if e.field.example else "")
            lines.append(f"| `{e.key}` | {_cell(e.value)} | {_cell(e.unit)} | "
                         f"{_cell(e.default)} | {_cell(doc)} |")
        lines.append("")
        if sec.record.rules:
            lines += ["Checked when the scenario loads:", ""]
            lines += [f"- {rule}" for rule in sec.record.rules]
            lines.append("")
    return "\n".join(lines)


def text() -> str:
    """The reference as a compact tree of plain text: one line per key."""
    by_path = {sec.path: sec for sec in sections()}
    lines = ["Scenario file keys -- key: value; unit; default  # meaning",
             "(fleetsim schema --markdown: the full reference, with the rules relating keys)", ""]

    def emit(sec: Section, depth: int, prefix: str = "") -> None:
        indent = "  " * depth + prefix
        for e in sec.entries:
            default = ("required" if e.field.required else e.field.derived
                       or f"default {e.default}")
            if e.section is not None:
                suffix = e.section[len(e.path):]  # "[]", ".<domain>" or ""
                lines.append(f"{indent}{e.key}{suffix}:  # {e.field.doc} ({default})")
                emit(by_path[e.section], depth + 1)
                files = by_path.get(e.path + "[](file)")
                if files is not None:  # the other form of a list item: a file of them
                    emit(files, depth + 1, "(file) ")
                continue
            unit = f"; {e.unit}" if e.unit else ""
            lines.append(f"{indent}{e.key}: {e.value}{unit}; {default}  # {e.field.doc}")

    emit(by_path[""], 0)
    return "\n".join(lines) + "\n"

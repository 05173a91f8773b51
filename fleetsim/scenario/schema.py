"""The declarative schema of scenario files (version 1).

This module says which keys each mapping of a scenario file may hold, which
are required, and what type and range each value must have. It knows nothing
of YAML: it validates plain Python data (dicts, lists, scalars) and reports
problems through a :class:`Context`, which knows the file and line each YAML
path came from. Checks that relate several values (unique ids, polygons,
references between sections) live in :mod:`fleetsim.scenario.load`.

Paths are written the way users see them: ``fleet.types[1].cruise_speed_mps``.
A mapping key that is not a plain word is written ``["a.b"]``.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, NoReturn

from fleetsim.errors import ScenarioError
from fleetsim.oversight.distributions import DISTRIBUTIONS, parse_distribution
from fleetsim.scenario.dem import MAX_TERRAIN_POINTS
from fleetsim.scenario.model import (
    ACTION_CLASSES,
    AUTH_RULES,
    LOSS_ONLY_WINDOW_S,
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

#: (file, 1-based line); the line is None for values that came from an
#: override or from a stored source dict.
Location = tuple[str, int | None]
Segment = str | int

# --------------------------------------------------------------------------------------
# YAML paths

_BARE_KEY = re.compile(r"[A-Za-z0-9_\-]+\Z")
_SEGMENT = re.compile(
    r"""(?P<dot>\.)?(?P<key>[^.\[\]=\s"']+)"""
    r"""|\[(?P<index>-?[0-9]+)\]"""
    r"""|\[(?P<quoted>"(?:[^"\\]|\\.)*"|'[^']*')\]""")


def child_path(path: str, key: str) -> str:
    """Path of mapping key ``key`` below ``path``."""
    if _BARE_KEY.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def item_path(path: str, index: int) -> str:
    """Path of list item ``index`` below ``path``."""
    return f"{path}[{index}]"


def render_path(segments: list[Segment]) -> str:
    path = ""
    for seg in segments:
        path = item_path(path, seg) if isinstance(seg, int) else child_path(path, seg)
    return path


def parse_path(text: str, *, stop_at: str = "") -> tuple[list[Segment], int]:
    """Read a path like ``fleet.types[0].count`` from the start of ``text``.

    Reading stops at the end of the text or at a character in ``stop_at``.
    Returns the segments (str keys, int indexes) and the position where
    reading stopped. Raises ``ValueError`` if the text is not a path.
    """
    segments: list[Segment] = []
    pos = 0
    while pos < len(text) and text[pos] not in stop_at:
        m = _SEGMENT.match(text, pos)
        if not m or (m["key"] is not None and bool(m["dot"]) != bool(segments)):
            raise ValueError(f"cannot read a path at {text[pos:]!r}")
        if m["key"] is not None:
            segments.append(m["key"])
        elif m["index"] is not None:
            if not segments:
                raise ValueError("a path starts with a key, not an index")
            segments.append(int(m["index"]))
        else:
            quoted = m["quoted"]
            segments.append(json.loads(quoted) if quoted[0] == '"' else quoted[1:-1])
        pos = m.end()
    if not segments:
        raise ValueError("empty path")
    return segments, pos


def parent_path(path: str) -> str:
    """Path one level up ("" for a top-level key)."""
    try:
        segments, _ = parse_path(path)
    except ValueError:
        return ""
    return render_path(segments[:-1])


# --------------------------------------------------------------------------------------
# Where errors are reported


class Context:
    """Where each YAML path came from, and how to report a problem there."""

    def __init__(self, locations: dict[str, Location], file: str, *, frame: Any = None,
                 base_dir: str = ".") -> None:
        self.locations = locations
        self.file = file
        #: The scenario's :class:`~fleetsim.geo.frame.GeoFrame` (``world.origin`` /
        #: ``world.crs``), which turns ``{lonlat: [lon, lat]}`` into metres; None: none.
        self.frame = frame
        #: Folder that files named in the scenario (GeoJSON zones) resolve against.
        self.base_dir = base_dir
        #: The run's duration (s) and the terrain's base elevation (m), for zone files.
        self.duration_s = MAX_TIME_S
        self.ground_m = 0.0
        #: Per list that may read files (``world.zones``, ...), per item once files are
        #: read: the YAML path it came from and, for an item read from a file,
        #: "<file>: zone <k> (<id>): " for messages.
        self.file_paths: dict[str, list[tuple[str, str]]] = {}

    def where(self, path: str) -> Location:
        """File and line of ``path``, or of its nearest recorded parent."""
        probe = path
        while True:
            if probe in self.locations:
                return self.locations[probe]
            if not probe:
                return (self.file, None)
            probe = parent_path(probe)

    def fail(self, path: str, message: str) -> NoReturn:
        file, line = self.where(path)
        raise ScenarioError(message, file=file, line=line, path=path or None)


def show(value: Any) -> str:
    """A value as a short YAML-like text, for 'got ...' in messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    if isinstance(value, int):
        text = str(abs(value))
        if len(text) > 20:
            text = f"{text[0]}.{text[1:4]}e+{len(text) - 1}"
        return "-" + text if value < 0 else text
    if isinstance(value, str):
        text = repr(value)
        return text if len(text) <= 60 else text[:56] + "..." + text[0]
    if isinstance(value, dict):
        return "a mapping" if value else "an empty mapping"
    if isinstance(value, list | tuple):
        if not value:
            return "an empty list"
        return f"a list of {len(value)} item" + ("s" if len(value) != 1 else "")
    return type(value).__name__


def suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """'; did you mean 'x'?' for the nearest of ``choices``, or ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _fmt(x: float) -> str:
    return f"{x:g}"


# --------------------------------------------------------------------------------------
# Validators: check(value, path, ctx) returns the converted value or calls ctx.fail


class Validator:
    def describe(self) -> str:
        raise NotImplementedError

    def check(self, value: Any, path: str, ctx: Context) -> Any:
        raise NotImplementedError

    def expected(self, value: Any, path: str, ctx: Context, desc: str | None = None) -> NoReturn:
        ctx.fail(path, f"expected {desc or self.describe()}, got {show(value)}")


@dataclass(frozen=True)
class Number(Validator):
    """A real number (YAML int or float, never a bool); returns a float."""

    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    #: Reject .inf / -.inf (NaN is always rejected).
    finite: bool = True
    #: Accept null (returned as None).
    nullable: bool = False

    def describe(self, *, finite_word: bool = False) -> str:
        bounds = [f"{op} {_fmt(x)}" for op, x in
                  ((">", self.gt), (">=", self.ge), ("<", self.lt), ("<=", self.le))
                  if x is not None]
        text = "a finite number" if finite_word else "a number"
        if bounds:
            text += " " + " and ".join(bounds)
        return text + (" or null" if self.nullable else "")

    def check(self, value: Any, path: str, ctx: Context) -> float | None:
        if value is None and self.nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.expected(value, path, ctx)
        try:
            x = float(value)
        except OverflowError:
            x = math.inf if value > 0 else -math.inf
        if math.isnan(x) or (self.finite and math.isinf(x)):
            self.expected(value, path, ctx, self.describe(finite_word=True))
        if ((self.gt is not None and not x > self.gt) or (self.ge is not None and not x >= self.ge)
                or (self.lt is not None and not x < self.lt)
                or (self.le is not None and not x <= self.le)):
            self.expected(value, path, ctx)
        return x


@dataclass(frozen=True)
class Integer(Validator):
    """A whole number (an integral float such as 2.0e3 is accepted); returns an int."""

    ge: int | None = None
    le: int | None = None
    #: Accept null (returned as None).
    nullable: bool = False

    def describe(self) -> str:
        bounds = [f"{op} {x}" for op, x in ((">=", self.ge), ("<=", self.le)) if x is not None]
        return ("an integer" + (" " + " and ".join(bounds) if bounds else "")
                + (" or null" if self.nullable else ""))

    def check(self, value: Any, path: str, ctx: Context) -> int | None:
        if value is None and self.nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.expected(value, path, ctx)
        if isinstance(value, float):
            if not (math.isfinite(value) and value.is_integer()):
                self.expected(value, path, ctx)
            value = int(value)
        if (self.ge is not None and value < self.ge) or (self.le is not None and value > self.le):
            self.expected(value, path, ctx)
        return value


@dataclass(frozen=True)
class String(Validator):
    choices: tuple[str, ...] = ()
    #: Full-match pattern, with ``what`` saying in words what it allows.
    pattern: str | None = None
    what: str = "a string"
    nonempty: bool = False
    #: Added to a 'not one of the choices' message.
    note: str = ""

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        return self.what

    def check(self, value: Any, path: str, ctx: Context) -> str:
        if not isinstance(value, str):
            self.expected(value, path, ctx)
        if self.choices and value not in self.choices:
            ctx.fail(path, f"expected {self.describe()}, got {show(value)}"
                     + suggest(value, self.choices) + (f" ({self.note})" if self.note else ""))
        if (self.nonempty and not value.strip()) or (
                self.pattern is not None and not re.fullmatch(self.pattern, value)):
            self.expected(value, path, ctx)
        return value


@dataclass(frozen=True)
class Boolean(Validator):
    def describe(self) -> str:
        return "true or false"

    def check(self, value: Any, path: str, ctx: Context) -> bool:
        if not isinstance(value, bool):
            self.expected(value, path, ctx)
        return value


@dataclass(frozen=True)
class Exactly(Validator):
    """One allowed integer value (``schema_version``)."""

    value: int
    note: str = ""

    def describe(self) -> str:
        return str(self.value)

    def check(self, value: Any, path: str, ctx: Context) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value != self.value:
            ctx.fail(path, f"expected {self.value}, got {show(value)}"
                     + (f" ({self.note})" if self.note else ""))
        return value


#: Largest coordinate magnitude, metres from the scenario's origin (local ENU
#: positions; 10,000 km is a quarter of the Earth's circumference).
MAX_COORD_M = 1e7
#: A coordinate, metres.
COORD = Number(ge=-MAX_COORD_M, le=MAX_COORD_M)


@dataclass(frozen=True)
class Pair(Validator):
    """Two numbers ``[a, b]`` (coordinates unless ``item`` says otherwise); returns a tuple."""

    item: Number = COORD
    names: str = "[x, y]"

    def describe(self) -> str:
        return f"a pair {self.names} of {self.item.describe().replace('a number', 'numbers', 1)}"

    def check(self, value: Any, path: str, ctx: Context) -> tuple[float, float]:
        if isinstance(value, dict) and self.item is COORD:
            return lonlat_point(value, path, ctx)
        if not isinstance(value, list) or len(value) != 2:
            self.expected(value, path, ctx)
        return (self.item.check(value[0], item_path(path, 0), ctx),
                self.item.check(value[1], item_path(path, 1), ctx))


#: How a position may be given in longitude/latitude, in the docs and messages.
LONLAT_FORM = "{lonlat: [lon, lat]} (WGS 84 degrees, GeoJSON order)"


def frame_or_fail(path: str, ctx: Context) -> Any:
    if ctx.frame is None:
        ctx.fail(path, "a position in longitude/latitude needs the scenario on the map: give "
                       "world.origin: {lat: .., lon: ..} or world.crs: EPSG:<code>")
    return ctx.frame


def lonlat_point(value: dict[str, Any], path: str, ctx: Context) -> tuple[float, float]:
    """``{lonlat: [lon, lat]}`` as local metres through the scenario's frame."""
    from fleetsim.geo.frame import lonlat_problem

    if set(value) != {"lonlat"}:
        ctx.fail(path, f"expected a point [x, y] in metres or {LONLAT_FORM}, got a mapping "
                       f"with keys {', '.join(map(str, value))}")
    ll = value["lonlat"]
    at = child_path(path, "lonlat")
    if not isinstance(ll, list) or len(ll) != 2:
        ctx.fail(at, f"expected [lon, lat] in degrees (GeoJSON order), got {show(ll)}")
    problem = lonlat_problem(ll[0], ll[1])
    if problem:
        ctx.fail(at, problem)
    return frame_or_fail(path, ctx).point(float(ll[0]), float(ll[1]))


@dataclass(frozen=True)
class RingOf(Validator):
    """A closed ring: a list of >= 3 points ``[x, y]``; a repeated closing point is dropped."""

    def describe(self) -> str:
        return "a list of at least 3 points [x, y]"

    def check(self, value: Any, path: str, ctx: Context) -> tuple[tuple[float, float], ...]:
        if isinstance(value, dict) and set(value) == {"lonlat"} \
                and isinstance(value["lonlat"], list):  # a ring of [lon, lat]
            value = [{"lonlat": p} for p in value["lonlat"]]
        if not isinstance(value, list):
            self.expected(value, path, ctx)
        point = Pair()
        ring = [point.check(p, item_path(path, i), ctx) for i, p in enumerate(value)]
        if len(ring) > 3 and ring[0] == ring[-1]:
            ring.pop()
        if len(ring) < 3:
            ctx.fail(path, f"expected {self.describe()}, got {len(ring)} distinct point"
                     + ("s" if len(ring) != 1 else ""))
        return tuple(ring)


@dataclass(frozen=True)
class Rect(Validator):
    """``[xmin, ymin, xmax, ymax]``; returns it as a tuple of floats."""

    def describe(self) -> str:
        return "[xmin, ymin, xmax, ymax] with xmin < xmax and ymin < ymax"

    def check(self, value: Any, path: str, ctx: Context) -> tuple[float, float, float, float]:
        if not isinstance(value, list) or len(value) != 4:
            self.expected(value, path, ctx)
        x0, y0, x1, y1 = (COORD.check(v, item_path(path, i), ctx) for i, v in enumerate(value))
        if not (x0 < x1 and y0 < y1):
            ctx.fail(path, f"expected {self.describe()}, got [{_fmt(x0)}, {_fmt(y0)}, "
                     f"{_fmt(x1)}, {_fmt(y1)}]")
        return (x0, y0, x1, y1)


@dataclass(frozen=True)
class ListOf(Validator):
    """A list (null counts as empty); returns a list of the items' values."""

    item: Validator
    what: str
    min_items: int = 0

    def describe(self) -> str:
        more = f" (at least {self.min_items})" if self.min_items else ""
        return f"a list of {self.what}{more}"

    def check(self, value: Any, path: str, ctx: Context) -> list[Any]:
        if value is None:
            value = []
        if not isinstance(value, list) or len(value) < self.min_items:
            self.expected(value, path, ctx)
        return [self.item.check(v, item_path(path, i), ctx) for i, v in enumerate(value)]


@dataclass(frozen=True)
class MapOf(Validator):
    """A mapping with free keys (checked by ``key``) and values checked by ``value``.

    Null counts as empty when no items are required.
    """

    key: Validator
    value: Validator
    what: str
    min_items: int = 0

    def describe(self) -> str:
        return f"a mapping of {self.what}"

    def check(self, value: Any, path: str, ctx: Context) -> dict[str, Any]:
        if value is None and not self.min_items:
            return {}
        if not isinstance(value, dict) or len(value) < self.min_items:
            self.expected(value, path, ctx)
        out = {}
        for k, v in value.items():
            self.key.check(k, child_path(path, k), ctx)
            out[k] = self.value.check(v, child_path(path, k), ctx)
        return out


class _NoDefault:
    """The default of a key that has none (required, or explained by ``Field.derived``)."""

    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()


@dataclass(frozen=True)
class Field:
    """One key of a :class:`Record`: how it is checked, and what the reference says of it.

    ``default`` is the value an absent optional key stands for, written as in a
    scenario file (null for None, a list for a pair); the model's dataclass field
    of the same name has the same default (a test checks it). ``derived`` says in
    words what an absent key takes when that depends on other keys (``default`` is
    then NO_DEFAULT). ``unit`` overrides the unit read from the key's suffix
    (:func:`unit_of`); ``example`` is YAML text for the reference.
    """

    validator: Validator
    required: bool = False
    doc: str = ""
    default: Any = NO_DEFAULT
    derived: str = ""
    unit: str = ""
    example: str = ""


def req(validator: Validator, doc: str = "", *, unit: str = "", example: str = "") -> Field:
    """A required key."""
    return Field(validator, required=True, doc=doc, unit=unit, example=example)


def opt(validator: Validator, doc: str = "", *, default: Any = NO_DEFAULT, derived: str = "",
        unit: str = "", example: str = "") -> Field:
    """An optional key. A list, mapping or nullable value defaults to empty (null) unless
    ``default`` or ``derived`` says otherwise."""
    if default is NO_DEFAULT and not derived:
        if isinstance(validator, ListOf):
            default = []
        elif isinstance(validator, Record | PlainData) or (
                isinstance(validator, MapOf) and not validator.min_items):
            default = {}
        elif isinstance(validator, Nullable):
            default = None
    return Field(validator, required=False, doc=doc, default=default, derived=derived,
                 unit=unit, example=example)


#: Units read from a key's suffix (first match wins), for keys that give none.
UNIT_SUFFIXES = (
    ("_s_per_rad", "s/rad"), ("_wh_per_m", "Wh/m"), ("_per_vehicle_hour", "1/(vehicle h)"),
    ("_per_hour", "1/h"), ("_mps", "m/s"), ("_deg", "deg"), ("_wh", "Wh"), ("_w", "W"),
    ("_kg", "kg"), ("_s", "s"), ("_m", "m"),
)


def unit_of(key: str, f: Field) -> str:
    """The unit of key ``key``: the field's own, else the one its suffix names, else ''."""
    if f.unit:
        return f.unit
    return next((unit for suffix, unit in UNIT_SUFFIXES if key.endswith(suffix)), "")


@dataclass(frozen=True)
class Record(Validator):
    """A mapping with a fixed set of keys (null counts as empty).

    Returns a dict holding the converted values of the keys present; absent
    optional keys are left out (the model's defaults apply).

    ``doc`` and ``rules`` (checks relating several keys, made by
    :mod:`fleetsim.scenario.load`, in words) are for the reference. ``model`` is
    the dataclass of :mod:`fleetsim.scenario.model` the keys become; ``attrs``
    maps a key to the model attribute it becomes when the names differ (None: the
    loader builds other attributes from it).
    """

    fields: dict[str, Field] = field(default_factory=dict)
    doc: str = ""
    rules: tuple[str, ...] = ()
    model: type | None = None
    attrs: dict[str, str | None] = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        return list(self.fields)

    def default(self, key: str) -> Any:
        """The declared default of optional key ``key``."""
        value = self.fields[key].default
        if value is NO_DEFAULT:
            raise KeyError(f"{key!r} has no declared default")
        return value

    def defaults(self) -> dict[str, Any]:
        """The declared defaults of the optional keys that have one."""
        return {k: f.default for k, f in self.fields.items()
                if not f.required and f.default is not NO_DEFAULT}

    def describe(self) -> str:
        return "a mapping with keys " + ", ".join(self.fields)

    def check(self, value: Any, path: str, ctx: Context) -> dict[str, Any]:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.expected(value, path, ctx)
        for key in value:
            if key not in self.fields:
                ctx.fail(child_path(path, key), unknown_key_message(key, self.keys))
        for name, f in self.fields.items():
            if f.required and name not in value:
                ctx.fail(path, f"missing required key {name!r} ({f.validator.describe()})")
        return {key: self.fields[key].validator.check(v, child_path(path, key), ctx)
                for key, v in value.items()}


def unknown_key_message(key: str, valid: list[str]) -> str:
    return f"unknown key {key!r}{suggest(key, valid)} (valid keys: {', '.join(valid)})"


@dataclass(frozen=True)
class PlainData(Validator):
    """Free-form plain data (a policy's parameters): a mapping (null counts as empty).

    Values may be strings, finite numbers, booleans, null, lists and mappings
    with string keys, so that they survive a trip through JSON unchanged.
    Returns a deep copy.
    """

    def describe(self) -> str:
        return "a mapping"

    def check(self, value: Any, path: str, ctx: Context) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.expected(value, path, ctx)
        return self._copy(value, path, ctx)

    def _copy(self, value: Any, path: str, ctx: Context) -> Any:
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if not isinstance(k, str):
                    ctx.fail(path, f"mapping keys must be strings, got {show(k)}")
                out[k] = self._copy(v, child_path(path, k), ctx)
            return out
        if isinstance(value, list | tuple):
            return [self._copy(v, item_path(path, i), ctx) for i, v in enumerate(value)]
        if isinstance(value, float) and not math.isfinite(value):
            ctx.fail(path, f"expected a finite number (parameters are plain data that must "
                     f"survive JSON: use null or a large number for 'unlimited'), got {show(value)}")
        if value is None or isinstance(value, str | bool | int | float):
            return value
        ctx.fail(path, f"expected plain data (string, number, boolean, null, list or mapping), "
                 f"got {show(value)}")


@dataclass(frozen=True)
class PointOrRecord(Validator):
    """A target: a point ``[x, y]`` or a mapping ``{id, position}``; returns a dict."""

    record: Record

    def describe(self) -> str:
        return "a point [x, y] or " + self.record.describe()

    def check(self, value: Any, path: str, ctx: Context) -> dict[str, Any]:
        if isinstance(value, list):
            return {"position": Pair().check(value, path, ctx)}
        if isinstance(value, dict):
            return self.record.check(value, path, ctx)
        self.expected(value, path, ctx)


@dataclass(frozen=True)
class Nullable(Validator):
    """``inner``, or null (returned as None) where null means "none" rather than "empty"."""

    inner: Validator

    def describe(self) -> str:
        return self.inner.describe() + " or null"

    def check(self, value: Any, path: str, ctx: Context) -> Any:
        return None if value is None else self.inner.check(value, path, ctx)


@dataclass(frozen=True)
class Named(Validator):
    """A name from a fixed list (e.g. an action class used as a mapping key)."""

    choices: tuple[str, ...]
    what: str
    plural: str

    def describe(self) -> str:
        return f"{self.what} ({', '.join(self.choices)})"

    def check(self, value: Any, path: str, ctx: Context) -> str:
        if not isinstance(value, str):
            self.expected(value, path, ctx)
        if value not in self.choices:
            ctx.fail(path, f"unknown {self.what} {value!r}{suggest(value, self.choices)} "
                           f"({self.plural}: {', '.join(self.choices)})")
        return value


#: Largest service time (seconds) and coefficient of variation of a service time.
_SERVICE_MAX_S = 1e7
_SERVICE_CV_MAX = 100.0


@dataclass(frozen=True)
class ServiceTime(Validator):
    """An operator service time, read by :func:`fleetsim.oversight.parse_distribution`.

    A number (deterministic seconds) or ``{dist: NAME, ...parameters}``; null
    gives None (the engine's default). Returns a Distribution object.
    """

    def describe(self) -> str:
        return ("a service time (a number of seconds, or a mapping {dist: NAME, ...} with "
                "NAME one of " + ", ".join(DISTRIBUTIONS) + ") or null")

    def check(self, value: Any, path: str, ctx: Context) -> Any:
        if value is None:
            return None
        # Bounds first, so the distributions' arithmetic never overflows.
        items = value.items() if isinstance(value, dict) else [(None, value)]
        for key, x in items:
            if isinstance(x, int | float) and not isinstance(x, bool):
                limit = _SERVICE_CV_MAX if key == "cv" else _SERVICE_MAX_S
                if not x <= limit:
                    at = path if key is None else child_path(path, str(key))
                    ctx.fail(at, f"expected at most {limit:g}"
                                 f"{'' if key == 'cv' else ' s'}, got {show(x)}")
        try:
            return parse_distribution(value)
        except ValueError as exc:
            message = str(exc)
            ctx.fail(_service_problem_path(value, path, message), message)


def _service_problem_path(value: Any, path: str, message: str) -> str:
    """The most precise path for a service-time problem: the bad key if it is known."""
    if not isinstance(value, dict) or "dist" not in value:
        return path
    name = value["dist"]
    key = name.strip().lower() if isinstance(name, str) else None
    if key not in DISTRIBUTIONS:
        return child_path(path, "dist")
    params = DISTRIBUTIONS[key][1]
    extra = sorted(str(k) for k in value if k != "dist" and k not in params)
    if extra:
        return child_path(path, extra[0])
    for param in params:
        if param in value and re.search(rf"\b{param} must\b", message):
            return child_path(path, param)
    return path


@dataclass(frozen=True)
class NameOrRecord(Validator):
    """A bare name (``takeoff: auto``) or a mapping; a name becomes ``{key: name}``."""

    name: String
    key: str
    record: Record

    def describe(self) -> str:
        return f"{self.name.describe()} or {self.record.describe()}"

    def check(self, value: Any, path: str, ctx: Context) -> dict[str, Any]:
        if isinstance(value, str):
            return {self.key: self.name.check(value, path, ctx)}
        if isinstance(value, dict):
            return self.record.check(value, path, ctx)
        self.expected(value, path, ctx)


@dataclass(frozen=True)
class VehicleSelection(Validator):
    """``all`` (returned as None) or a non-empty list of vehicle indexes (returned as a tuple)."""

    def describe(self) -> str:
        return "'all' or a list of vehicle indexes (integers >= 0)"

    def check(self, value: Any, path: str, ctx: Context) -> tuple[int, ...] | None:
        if value == "all" and isinstance(value, str):
            return None
        if not isinstance(value, list) or not value:
            if isinstance(value, str):
                ctx.fail(path, f"expected {self.describe()}, got {show(value)}"
                         + suggest(value, ["all"]))
            self.expected(value, path, ctx)
        index = Integer(ge=0)
        seen: dict[int, int] = {}
        for i, v in enumerate(value):
            n = index.check(v, item_path(path, i), ctx)
            if n in seen:
                ctx.fail(item_path(path, i), f"vehicle {n} is listed twice (already at "
                                             f"{item_path(path, seen[n])})")
            seen[n] = i
        return tuple(seen)


# --------------------------------------------------------------------------------------
# Schema version 1

@dataclass(frozen=True)
class Place(Validator):
    """A place: a site id, or a point ``[x, y]``; returns the id (str) or a tuple."""

    def describe(self) -> str:
        return "a site id or a point [x, y]"

    def check(self, value: Any, path: str, ctx: Context) -> str | tuple[float, float]:
        if isinstance(value, list):
            return Pair().check(value, path, ctx)
        if isinstance(value, str):
            return ID.check(value, path, ctx)
        self.expected(value, path, ctx)


ZONE_KINDS = ("no_fly", "restricted")
SITE_KINDS = ("base", "depot", "ground_station", "customer", "launch_point")
#: Vehicle kinds and the domain each moves in.
VEHICLE_KINDS = ("multirotor", "fixed_wing", "wheeled", "vessel")
KIND_DOMAIN = {"multirotor": "air", "fixed_wing": "air", "wheeled": "ground", "vessel": "sea"}
DOMAINS = ("air", "ground", "sea")
ENERGY_KINDS = ("battery", "fuel")
AIRFRAMES = ("small_quadrotor", "heavy_hexacopter")
AIRFRAME_PARAMS = ("mass_kg", "arm_length_m", "thrust_coeff", "torque_coeff",
                   "max_rotor_speed_rad_s", "drag_coeff", "rotor_disc_area_m2",
                   "power_efficiency")
ROAD_SOURCES = ("grid", "planar", "geojson", "osm")
LAYERINGS = ("none", "heading")
TACTICAL = ("none", "hold")
DETECTION_MODELS = ("definite_range", "inverse_cube", "exponential")
MISSION_KINDS = ("coverage", "persistent", "search")
TERRAIN_SOURCES = ("flat", "procedural", "npy", "geotiff")
SAFE_STATES = ("return", "land")

ID = String(pattern=r"[A-Za-z0-9_][A-Za-z0-9_.\-]*",
            what="an id (letters, digits, '_', '-' and '.'; not starting with '-' or '.')")
NAME = String(nonempty=True, what="a non-empty string")
POINT = Pair()
POSITIVE = Number(gt=0)
NON_NEGATIVE = Number(ge=0)

# Upper bounds: every size-like value is bounded by what is physically meaningful,
# so that nothing downstream overflows, divides by ~0 or asks for endless work.
#: Largest count of vehicles of one type, and of the whole fleet.
MAX_VEHICLES = 200_000
#: Largest time, seconds from the start of a run (about 31 years).
MAX_TIME_S = 1e9
#: Largest distance or range, metres (as :data:`MAX_COORD_M`).
MAX_DISTANCE_M = MAX_COORD_M
#: Heights (metres above the datum) of the Earth's surface.
MIN_HEIGHT_M = -12_000.0
MAX_HEIGHT_M = 9_000.0
#: Largest altitude of an air vehicle or a zone's floor/ceiling, metres.
MAX_ALTITUDE_M = 100_000.0
#: Largest speed, m/s (about Mach 3), and smallest.
MAX_SPEED_MPS = 1_000.0
MIN_SPEED_MPS = 0.01
#: Largest power (W) of one vehicle, and energy (Wh): 10^12 Wh leaves room for the
#: "battery that never runs out" of a test or a tethered vehicle, far from overflow.
MAX_POWER_W = 1e7
MAX_ENERGY_WH = 1e12
#: Largest mass, kg.
MAX_MASS_KG = 1e6
#: Largest rate of random events (false alarms), per hour.
MAX_RATE_PER_HOUR = 3_600.0
#: Largest count of operators, pads, bays and the like.
MAX_RESOURCES = 100_000
#: Largest priority magnitude.
MAX_PRIORITY = 1_000_000
#: Smallest terrain grid spacing (a fine lidar DEM) and largest, metres.
MIN_SPACING_M = 0.1
MAX_SPACING_M = 100_000.0
#: Largest terrain side, metres.
MAX_TERRAIN_SIDE_M = 2_000_000.0
#: Smallest checking window, seconds.
MIN_WINDOW_S = 0.01
#: Largest number of random targets of one mission.
MAX_RANDOM_TARGETS = 1_000_000
#: Most uniform draws in a mission area's bounding box to place its random targets.
MAX_TARGET_DRAWS = 100_000_000

TIME = Number(ge=0, le=MAX_TIME_S)
DURATION = Number(gt=0, le=MAX_TIME_S)
DISTANCE = Number(gt=0, le=MAX_DISTANCE_M)
LENGTH0 = Number(ge=0, le=MAX_DISTANCE_M)
SPEED = Number(ge=MIN_SPEED_MPS, le=MAX_SPEED_MPS)
POWER = Number(ge=0, le=MAX_POWER_W)
RESOURCES = Integer(ge=1, le=MAX_RESOURCES)
WINDOW = Number(ge=MIN_WINDOW_S, le=MAX_TIME_S)
HEIGHT = Number(ge=MIN_HEIGHT_M, le=MAX_HEIGHT_M)
RING = RingOf()
HOLES = ListOf(RING, "holes (rings of points [x, y])")

_POLYGON_OR_RECT = "one of polygon and rect is required"
_PLACED = "count and base, or bases, are required"
_DESTINATIONS = "one of destinations and area is required"

RUN = Record({
    "duration_s": req(Number(gt=0, le=1e8),  # up to about three years
                      "Simulated time the run lasts; vehicles still out are not brought home.",
                      example="3600"),
    "seed": opt(Integer(ge=0), "Seed of every random stream of the run (random targets, "
                "operators, demand, generated roads and terrain); `--seed` overrides it.",
                default=0),
    "monitor_window_s": opt(WINDOW, "Width of the batching window for in-leg events "
                            "(detections, zone crossings, terrain checks). Recorded times stay "
                            "exact; a policy may learn of such an event up to this late.",
                            default=10.0),
}, doc="How long the run lasts and how it is seeded.", model=RunSpec)

#: The terrain keys that apply to each terrain source (besides ``source``).
TERRAIN_KEYS = {
    "flat": ("size_m", "spacing_m", "origin_m", "base_elevation_m", "sea_level_m"),
    "procedural": ("size_m", "spacing_m", "origin_m", "base_elevation_m", "relief_m", "ridges",
                   "sea_level_m"),
    "npy": ("path", "spacing_m", "origin_m", "sea_level_m"),
    "geotiff": ("path", "origin_m", "sea_level_m"),
}

TERRAIN = Record({
    "source": opt(String(choices=TERRAIN_SOURCES), "Where the elevation grid comes from: "
                  "`flat`, `procedural` (ridges and valleys drawn from the run's seed), a "
                  "`npy` array (metres, rows south to north) or a `geotiff` DEM.",
                  default="flat"),
    "size_m": opt(Pair(Number(gt=0, le=MAX_TERRAIN_SIDE_M), "[width, height]"),
                  "Extent of `flat` and `procedural` terrain.", default=[10_000.0, 10_000.0]),
    "spacing_m": opt(Number(ge=MIN_SPACING_M, le=MAX_SPACING_M),
                     "Grid spacing (`flat`, `procedural`, `npy`; a GeoTIFF carries its own).",
                     default=50.0),
    "origin_m": opt(POINT, "Local position (x east, y north) of the grid's south-west corner.",
                    default=[0.0, 0.0]),
    "base_elevation_m": opt(HEIGHT, "Elevation of `flat` terrain, or the lowest level of "
                            "`procedural` terrain.", default=0.0),
    "relief_m": opt(Number(ge=0, le=MAX_HEIGHT_M - MIN_HEIGHT_M),
                    "Peak-to-valley relief of `procedural` terrain.", default=400.0),
    "ridges": opt(Integer(ge=0, le=1_000), "Number of ridges of `procedural` terrain.",
                  default=6),
    "path": opt(NAME, "Elevation file of `npy` / `geotiff` terrain, relative to the scenario's "
                "folder.", default=None, example="data/valley.tif"),
    "sea_level_m": opt(Number(ge=MIN_HEIGHT_M, le=MAX_HEIGHT_M, nullable=True),
                       "Sea level: ground below it is water (where sea vehicles move), and "
                       "vehicles fly (and clear the ground) above the water's surface, not the "
                       "seabed. null: no sea.", default=None),
}, doc="The elevation grid every altitude is measured from (metres above the datum).",
    rules=tuple(f"{source} terrain takes {', '.join(keys)}" for source, keys in
                TERRAIN_KEYS.items()) + (
    "`npy` and `geotiff` terrain need `path`",
    "`spacing_m` is at most the smaller side of `size_m`",
    f"the grid has at most {MAX_TERRAIN_POINTS:,} points"), model=TerrainSpec)

ZONE = Record({
    "id": req(ID, "Unique among the zones."),
    "kind": req(String(choices=ZONE_KINDS), "`no_fly`: routes go around it; `restricted`: "
                "entering it is the action class `enter_restricted` (authorised under "
                "`oversight.rules`)."),
    "polygon": opt(RING, "The zone's outline.", unit="m", derived=_POLYGON_OR_RECT,
                   example="[[0, 0], [500, 0], [500, 400]]"),
    "rect": opt(Rect(), "The zone as an axis-aligned rectangle.", unit="m",
                derived=_POLYGON_OR_RECT, example="[1000, 2000, 1500, 2600]"),
    "holes": opt(HOLES, "Rings cut out of the zone.", unit="m"),
    "floor_amsl_m": opt(Number(ge=-MAX_ALTITUDE_M, le=MAX_ALTITUDE_M, finite=False,
                               nullable=True),
                        "Lowest altitude (above the datum) the zone covers; null: from the "
                        "ground.", default=None),
    "ceiling_amsl_m": opt(Number(ge=-MAX_ALTITUDE_M, le=MAX_ALTITUDE_M, finite=False,
                                 nullable=True),
                          "Highest altitude the zone covers; null: without limit.", default=None),
    "active": opt(Record({
        "start_s": opt(TIME, "When the zone comes into force.", default=0.0),
        "end_s": opt(Number(gt=0, le=MAX_TIME_S, nullable=True),
                     "When it lapses; null: until the end of the run.", default=None),
    }, doc="When the zone is in force (default: the whole run).", model=TimeWindow,
        rules=("`end_s` > `start_s`",)), "When the zone is in force."),
}, doc="An airspace zone: a polygon with an altitude band and a time window.",
    rules=("exactly one of `polygon` and `rect`",
           "the polygon is simple (edges do not cross); holes lie inside it and do not overlap",
           "the zone overlaps the terrain", "`floor_amsl_m` < `ceiling_amsl_m`",
           "zone ids are unique"),
    model=ZoneSpec, attrs={"polygon": "exterior", "rect": "exterior"})

ZONE_PROPERTIES = Record({
    "id": opt(NAME, "Property holding the zone's id (a feature without one is "
              "`<file stem>-<index>`).", default="id"),
    "kind": opt(NAME, "Property holding the kind (`no_fly` or `restricted`).", default="kind"),
    "floor": opt(NAME, "Property holding the floor, metres above the datum.",
                 default="floor_amsl_m"),
    "ceiling": opt(NAME, "Property holding the ceiling, metres above the datum.",
                   default="ceiling_amsl_m"),
    "start": opt(NAME, "Property holding when the zone comes into force (run seconds, or an "
                 "ISO 8601 date-time with `start_time`).", default="start_s"),
    "end": opt(NAME, "Property holding when it lapses (as `start`).", default="end_s"),
}, doc="Which feature property holds each of a zone's values (absent property: the zone's "
       "default).")

ZONE_FILE = Record({
    "geojson": opt(NAME, "A GeoJSON (RFC 7946) FeatureCollection of Polygon / MultiPolygon "
                   "features in [lon, lat], relative to the scenario's folder.",
                   derived="one of geojson and ed269 is required", example="data/zones.geojson"),
    "ed269": opt(NAME, "A EUROCAE ED-269 UAS geographical zone file (JSON): PROHIBITED zones "
                 "become `no_fly`, REQ_AUTHORISATION and CONDITIONAL `restricted`, "
                 "NO_RESTRICTION ones are left out; altitude bands (M or FT, AGL or AMSL) and "
                 "applicability schedules become floors, ceilings and time windows.",
                 derived="one of geojson and ed269 is required"),
    "properties": opt(ZONE_PROPERTIES, "GeoJSON: which feature property holds each value."),
    "kind": opt(Nullable(String(choices=ZONE_KINDS)), "GeoJSON: the kind of features whose "
                "kind property is absent; null: every feature must give one.", default=None),
    "start_time": opt(Nullable(String(nonempty=True, what="an ISO 8601 date-time")),
                      "The date and time run second 0 stands for (UTC if no offset is given): "
                      "needed by ED-269 files and by date-time properties.", default=None,
                      example="2026-06-01T08:00:00Z"),
    "agl_datum_m": opt(Nullable(HEIGHT), "Ground elevation AGL limits are measured from "
                       "(ED-269); null: the terrain's `base_elevation_m`.", default=None),
}, doc="Zones read from a geographic file (needs `world.origin` or `world.crs`); one file "
       "gives any number of zones.",
    rules=("exactly one of `geojson` and `ed269`", "the scenario has `world.origin` or "
           "`world.crs`", "every zone read passes the checks of a zone written in the file"))


@dataclass(frozen=True)
class FileList(ListOf):
    """A list whose items are written out or read from geographic files (``files``: the
    record of a file item, e.g. :data:`ZONE_FILE`), or one file as a mapping; a file's
    items take its place, in order. ``reader``: ``zones``, ``sites`` or ``targets``
    (:func:`fleetsim.geo.points.read_items`)."""

    files: Record | None = None
    reader: str = "zones"

    def describe(self) -> str:
        keys = " | ".join(k for k in ("geojson", "ed269") if self.files and k in self.files.fields)
        return super().describe() + f" and/or files {{{keys}: path, ...}}"

    def is_file(self, value: Any) -> bool:
        """Whether list item ``value`` is a file of items."""
        return isinstance(value, dict) and self.files is not None and \
            any(k in value for k in ("geojson", "ed269"))

    def check(self, value: Any, path: str, ctx: Context) -> list[Any]:
        paths: list[tuple[str, str]] = []
        ctx.file_paths[path] = paths
        if self.is_file(value):
            return self._read(value, path, ctx, paths)
        if value is None:
            value = []
        if not isinstance(value, list):
            self.expected(value, path, ctx)
        out: list[Any] = []
        for i, v in enumerate(value):
            at = item_path(path, i)
            if self.is_file(v):
                out += self._read(v, at, ctx, paths)
            else:
                out.append(self.item.check(v, at, ctx))
                paths.append((at, ""))
        return out

    def _read(self, value: dict[str, Any], path: str, ctx: Context,
              paths: list[tuple[str, str]]) -> list[Any]:
        from fleetsim.geo.points import read_items

        spec = self.files.check(value, path, ctx)
        if ("geojson" in spec) == ("ed269" in spec):
            ctx.fail(path, "a zone file needs exactly one of geojson (a GeoJSON file) and "
                           "ed269 (a EUROCAE ED-269 file)")
        frame = frame_or_fail(path, ctx)
        key = "geojson" if "geojson" in spec else "ed269"
        try:
            raw = read_items(self.reader, spec, ctx.base_dir, frame, ctx.duration_s,
                             ctx.ground_m)
        except ValueError as exc:
            ctx.fail(child_path(path, key), str(exc))
        what = self.reader[:-1]
        items = []
        for k, z in enumerate(raw):
            prefix = f"{spec[key]}: {what} {k} ({z.get('id')!r}): "
            try:
                items.append(self.item.check(z, path, ctx))
            except ScenarioError as exc:
                ctx.fail(child_path(path, key), prefix + exc.message)
            paths.append((child_path(path, key), prefix))
        return items


def _point_properties(kind: bool) -> Record:
    return Record({
        "id": opt(NAME, "Property holding the id.", default="id"),
        **({"kind": opt(NAME, "Property holding the kind.", default="kind")} if kind else {}),
    }, doc="Which feature property holds each value.")


#: Sites read from a GeoJSON file of Point features.
SITE_FILE = Record({
    "geojson": req(NAME, "A GeoJSON (RFC 7946) FeatureCollection of Point features in "
                   "[lon, lat], relative to the scenario's folder; a feature's properties named "
                   "like site keys (`pads`, `radio_range_m`, ...) set them.",
                   example="data/sites.geojson"),
    "kind": opt(Nullable(String(choices=SITE_KINDS)), "The kind of features whose kind "
                "property is absent; null: every feature must give one.", default=None),
    "properties": opt(_point_properties(True), "Which feature property holds the id and the "
                      "kind."),
}, doc="Sites read from a geographic file (needs `world.origin` or `world.crs`).",
    rules=("every site read passes the checks of a site written in the file",))

#: Targets read from a GeoJSON file of Point features.
TARGET_FILE = Record({
    "geojson": req(NAME, "A GeoJSON (RFC 7946) FeatureCollection of Point features in "
                   "[lon, lat], relative to the scenario's folder.",
                   example="data/targets.geojson"),
    "properties": opt(_point_properties(False), "Which feature property holds the id (absent: "
                      "the target's default id)."),
}, doc="Targets read from a geographic file (needs `world.origin` or `world.crs`).")


#: Site keys that apply to depots only.
DEPOT_KEYS = ("stock", "loading_bays", "loading_time_s", "swap_stations", "swap_time_s")

SITE = Record({
    "id": req(ID, "Unique among the sites; vehicle types and orders refer to it."),
    "kind": req(String(choices=SITE_KINDS), "`base` (vehicles start, land and recharge), "
                "`depot` (a base with stock for orders), `ground_station` (a radio and/or a "
                "fixed sensor), `customer` (an order destination) or `launch_point`."),
    "position": req(POINT, "Where the site is.", unit="m", example="[2500, 1200]"),
    "pads": opt(RESOURCES, "Landing and charging pads: vehicles recharge one per pad at a "
                "time.", default=1),
    "radio_range_m": opt(Number(gt=0, le=MAX_DISTANCE_M, nullable=True),
                         "Radio range (slant distance) of the site's ground station; null: no "
                         "radio.", default=None),
    "antenna_height_m": opt(Number(ge=0, le=MAX_ALTITUDE_M),
                            "Height of the station's antenna above the terrain.", default=10.0),
    "sensor_radius_m": opt(Number(gt=0, le=MAX_DISTANCE_M, nullable=True),
                           "A fixed sensor at the site (a mast or buoy): its footprint radius; "
                           "null: none.", default=None),
    "false_alarms_per_hour": opt(Number(ge=0, le=MAX_RATE_PER_HOUR),
                                 "False alarms the fixed sensor raises (they become review "
                                 "work for the operators).", default=0.0),
    "stock": opt(Integer(ge=0, le=10**12, nullable=True),
                 "Depots: items in stock (each order takes one); null: unlimited.",
                 default=None),
    "loading_bays": opt(RESOURCES, "Depots: loading bays (one vehicle loads at a time per "
                        "bay).", default=1),
    "loading_time_s": opt(TIME, "Depots: time to load one order.", default=60.0),
    "swap_stations": opt(Integer(ge=0, le=MAX_RESOURCES), "Depots: battery-swap stations "
                         "(0: vehicles recharge on the pads instead).", default=0),
    "swap_time_s": opt(TIME, "Depots: time for one battery swap.", default=120.0),
}, doc="A place on the map: a base, depot, ground station, customer or launch point.",
    rules=(f"{', '.join(DEPOT_KEYS)} apply to depots only",
           "a ground_station has `radio_range_m` or `sensor_radius_m` (or both)",
           "`false_alarms_per_hour` > 0 needs `sensor_radius_m`",
           "the position lies on the terrain", "site ids are unique"),
    model=SiteSpec)

DETECTION = Record({
    "model": opt(String(choices=DETECTION_MODELS), "Lateral-range curve: `definite_range` "
                 "(p = 1 within the footprint radius), `inverse_cube` or `exponential`.",
                 default="definite_range"),
    "sweep_width_m": opt(Number(gt=0, le=2 * MAX_DISTANCE_M),
                         "Sweep width W, the integral of the lateral-range curve.",
                         derived="2 x the footprint radius (definite_range); "
                                 "required by the other models"),
}, doc="How likely the sensor is to detect a target it passes.",
    rules=("`definite_range`: `sweep_width_m`, if given, is 2 x the footprint radius",
           "`inverse_cube` and `exponential` need `sweep_width_m`"), model=DetectionSpec)

SENSOR = Record({
    "footprint_radius_m": opt(DISTANCE, "Radius of the sensor's ground footprint.",
                              derived="one of footprint_radius_m and camera_fov_deg "
                                      "is required"),
    "camera_fov_deg": opt(Number(gt=0, lt=180), "A camera's field of view: the footprint "
                          "radius is cruise_altitude_agl_m x tan(fov / 2).", default=None),
    "detection": opt(DETECTION, "The detection model."),
}, doc="The vehicle's downward-looking sensor.",
    rules=("exactly one of `footprint_radius_m` and `camera_fov_deg` (an air vehicle needs a "
           "sensor; a ground or sea vehicle without one has a 1 m footprint)",),
    model=SensorSpec)

#: Vehicle-type keys that apply to air vehicles only (in the order they are checked).
AIR_ONLY_KEYS = ("cruise_altitude_agl_m", "climb_rate_mps", "relay_range_m", "carrier",
                 "airframe", "airframe_params")
#: What a ground or sea vehicle's altitude keys are set to (it moves on the surface).
SURFACE_VALUES = {"cruise_altitude_agl_m": 0.0, "terrain_clearance_m": 0.0,
                  "climb_rate_mps": 1e9}

VEHICLE_TYPE = Record({
    "id": req(ID, "Unique among the vehicle types."),
    "kind": req(String(choices=VEHICLE_KINDS), "`multirotor`, `fixed_wing` (air), `wheeled` "
                "(ground, on roads) or `vessel` (sea, on water)."),
    "domain": opt(String(choices=DOMAINS), "Where the vehicles move; follows from `kind`.",
                  derived="the kind's domain"),
    "count": opt(Integer(ge=0, le=MAX_VEHICLES), "Vehicles of this type (with `base`, or "
                 "riding on carriers with `carrier`).", derived=_PLACED),
    "base": opt(ID, "The base or depot the `count` vehicles start at.",
                derived=_PLACED),
    "bases": opt(MapOf(ID, Integer(ge=0, le=MAX_VEHICLES), "base id to vehicle count",
                       min_items=1), "Vehicles per base or depot.",
                 derived=_PLACED, example="{north: 20, south: 10}"),
    "cruise_speed_mps": req(SPEED, "Speed along a leg (the speed limit caps it on roads)."),
    "climb_rate_mps": opt(SPEED, "Rate of climb and descent.",
                          derived="required by air vehicles"),
    "cruise_altitude_agl_m": opt(Number(gt=0, le=MAX_ALTITUDE_M),
                                 "Height above the terrain legs are flown at.", default=100.0),
    "battery_wh": req(Number(gt=0, le=MAX_ENERGY_WH), "Usable energy of a full battery "
                      "(or tank)."),
    "hover_power_w": opt(POWER, "Power drawn hovering, climbing and waiting in the air.",
                         derived="required (> 0) by air vehicles; 0 for ground and sea"),
    "cruise_power_w": req(Number(gt=0, le=MAX_POWER_W), "Power drawn at cruise speed."),
    "reserve_fraction": opt(Number(ge=0, lt=1), "Share of `battery_wh` kept in reserve: a "
                            "vehicle turns home when what is left would fall below it.",
                            default=0.2),
    "recharge_time_s": req(TIME, "Time on a pad from empty to full."),
    "terrain_clearance_m": opt(Number(ge=0, le=MAX_ALTITUDE_M),
                               "Minimum height above terrain along a leg; lower is a terrain "
                               "violation.", default=30.0),
    "relay_range_m": opt(Number(gt=0, le=MAX_DISTANCE_M, nullable=True),
                         "The vehicle carries a radio relay of this range (slant distance); "
                         "null: no relay.", default=None),
    "sensor": opt(SENSOR, "The vehicle's sensor.",
                  derived="required by air vehicles; a 1 m footprint for ground and sea"),
    "payload_kg": opt(Number(ge=0, le=MAX_MASS_KG), "Payload capacity for orders; 0: carries "
                      "none.", default=0.0),
    "energy": opt(String(choices=ENERGY_KINDS), "`battery` (recharged on pads or swapped) or "
                  "`fuel` (refuelled on pads).", default="battery"),
    "carrier": opt(Nullable(ID), "Vehicles of this type ride on vehicles of that (ground or "
                   "sea) type, the mothership pattern, shared out in turn; null: they start at "
                   "their base."),
    "carrier_slots": opt(Integer(ge=0, le=10_000), "Ground and sea vehicles: how many carried "
                         "vehicles each holds.", default=0),
    "airframe": opt(String(choices=AIRFRAMES), "The rigid-body model `fleetsim fidelity` "
                    "flies this type with.", default="small_quadrotor"),
    "airframe_params": opt(MapOf(Named(AIRFRAME_PARAMS, "airframe parameter",
                                       "airframe parameters"), Number(gt=0, le=1e6),
                                 "airframe parameter to value"),
                           "Overrides of the airframe's parameters (fleetsim.fidelity."
                           "MultirotorParams fields: " + ", ".join(AIRFRAME_PARAMS) + ").",
                           example="{mass_kg: 1.8, drag_coeff: 0.3}"),
    "turn_penalty_s_per_rad": opt(Number(ge=0, le=3_600), "Seconds added per radian of turn "
                                  "at a route's waypoints (fitted by `fleetsim fidelity "
                                  "--calibrate`).", default=0.0),
    "leg_overhead_s": opt(Number(ge=0, le=3_600), "Seconds added per route flown from rest "
                          "(accelerating and braking; fitted by `--calibrate`).", default=0.0),
    "climb_energy_wh_per_m": opt(Number(ge=0, le=MAX_ENERGY_WH), "Energy per metre climbed "
                                 "(fitted by `--calibrate`).", default=0.0),
    "bank_angle_deg": opt(Number(gt=0, le=80, nullable=True), "Fixed wing only: the "
                          "bank-angle limit of its turns and loiters (loiter radius "
                          "v^2 / (g tan bank)); null: 30 degrees. A fixed wing never "
                          "hovers: it loiters, turns at that radius, climbs in an orbit "
                          "over its base and lands along an approach.", default=None),
}, doc="A type of vehicle, how many there are and where they start.",
    rules=("`count` and `base`, or `bases`; with `carrier`: `count` only",
           "`domain`, if given, is the kind's (air: multirotor, fixed_wing; ground: wheeled; "
           "sea: vessel)",
           "air vehicles need `climb_rate_mps`, `hover_power_w` > 0 and `sensor`",
           f"{', '.join(AIR_ONLY_KEYS)} apply to air vehicles only; ground and sea vehicles "
           "move on the surface (altitude and clearance 0)",
           "`carrier_slots` applies to ground and sea vehicles; a carrier is a ground or sea "
           "type that starts at a base, with slots for all it carries",
           "ground vehicles need `world.roads`; sea vehicles need "
           "`world.terrain.sea_level_m`, `world.water.polygon` or `world.water.source: osm`",
           "a base is a site of kind base or depot; type ids are unique",
           "`bank_angle_deg` applies to fixed_wing vehicles only",
           "the fleet has between 1 and 200,000 vehicles"),
    model=VehicleTypeSpec, attrs={"count": None, "base": None, "bases": None})

AREA = Record({
    "polygon": opt(RING, "The area's outline.", unit="m", derived=_POLYGON_OR_RECT),
    "rect": opt(Rect(), "The area as an axis-aligned rectangle.", unit="m",
                derived=_POLYGON_OR_RECT),
    "holes": opt(HOLES, "Rings cut out of the area.", unit="m"),
    "geojson": opt(NAME, "Instead of `polygon` / `rect` and `holes`: a GeoJSON (RFC 7946) "
                   "file whose one Polygon feature, in [lon, lat], is the area (needs "
                   "`world.origin` or `world.crs`).", derived=_POLYGON_OR_RECT + " (or geojson)",
                   example="data/area.geojson"),
}, doc="A mission's area.",
    rules=("exactly one of `polygon`, `rect` and `geojson`", "the polygon is simple; holes lie inside it "
           "and do not overlap", "the area lies on the terrain"),
    model=MissionSpec, attrs={"polygon": "exterior", "rect": "exterior", "geojson": None})

#: A velocity [vx, vy] (m/s), for moving targets and currents.
VELOCITY = Pair(Number(ge=-100, le=100), "[vx, vy]")

DRIFT = Record({
    "current_mps": opt(VELOCITY, "The water's current [vx, vy].", default=[0.0, 0.0]),
    "leeway": opt(Number(ge=0, le=1), "Fraction of the wind's reference speed (at time 0) a "
                  "target drifts with, downwind (a person in the water: ~0.01-0.03).",
                  default=0.0),
    "random_mps": opt(Number(ge=0, le=100), "Standard deviation of each velocity component's "
                      "random part, drawn once per target.", default=0.0),
}, doc="How a mission's targets drift (constant over the run).", model=DriftSpec)

TARGET = PointOrRecord(Record({
    "id": opt(ID, "Unique within the mission.", derived="MISSION-targetN (N: its index)"),
    "position": req(POINT, "Where the target is; inside the mission area.", unit="m"),
    "velocity_mps": opt(VELOCITY, "A constant velocity [vx, vy]: the target moves from "
                        "`position` (at time 0) and may leave the area; absent: it stays put "
                        "(or drifts with the mission's `drift`).", default=None,
                        example="[0.3, -0.1]"),
}, doc="A target: a point [x, y], or a mapping {id, position}.", model=TargetSpec))

DATUM = Record({
    "position": req(POINT, "The last known position at time 0.", unit="m"),
    "sigma_m": opt(Number(gt=0, le=1_000_000), "Standard deviation of the position's error, "
                   "per axis (a circular normal).", default=500.0, unit="m"),
}, doc="A search's datum: where what is sought was last known to be, and how well. It "
       "drifts with the mission's `drift` (current + leeway x wind, no random part).",
    model=DatumSpec)

MISSION = Record({
    "id": req(ID, "Unique among the missions."),
    "kind": req(String(choices=MISSION_KINDS), "`coverage` (cover the area once), "
                "`persistent` (keep its idleness low) or `search` (find the targets)."),
    "area": req(AREA, "Where the mission is flown."),
    "targets": opt(FileList(TARGET, "targets", files=TARGET_FILE, reader="targets"),
                   "Explicit targets (search missions); items may be GeoJSON files of them "
                   "(`{geojson: path}`, see `missions[].targets[](file)`).",
                   example="[[1200, 800], {id: raft, position: [3000, 450]}]"),
    "random_targets": opt(Integer(ge=0, le=MAX_RANDOM_TARGETS), "Targets placed uniformly at "
                          "random in the area (stream `targets/<mission id>`), besides the "
                          "explicit ones.", default=0),
    "drift": opt(Nullable(DRIFT), "The targets without a `velocity_mps` of their own drift: "
                 "current + leeway x the wind at time 0 + a seeded random velocity (stream "
                 "`drift/<mission id>`); null: they stay put."),
    "datum": opt(Nullable(DATUM), "Search missions: the datum. Random targets are drawn "
                 "from its normal (kept inside the area), the maritime patterns centre on "
                 "it, and every sensing leg's probability of detection against it is "
                 "recorded (`search_pod` events, metric `search.pod_cumulative`); null: "
                 "none.", example="{position: [6500, 5500], sigma_m: 700}"),
}, doc="A surveillance mission over an area.",
    rules=("mission ids and target ids within a mission are unique",
           f"placing the random targets takes at most {MAX_TARGET_DRAWS:,} uniform draws in "
           "the area's bounding box"),
    model=MissionSpec, attrs={"area": None})

SERVICE = ServiceTime()
PRIORITY = Integer(ge=-MAX_PRIORITY, le=MAX_PRIORITY)
TIMEOUT = Number(gt=0, le=MAX_TIME_S, nullable=True)
_SERVICE_EXAMPLE = "{dist: lognormal, mean_s: 40, cv: 0.5}"

RULE = NameOrRecord(String(choices=AUTH_RULES), "rule", Record({
    "rule": req(String(choices=AUTH_RULES), "`auto` (no operator), `notify` (the operator is "
                "told), `veto` (acts unless vetoed in time), `approve` (waits for approval) or "
                "`forbidden`."),
    "service": opt(SERVICE, "Operator service time of this class's work item (seconds, or a "
                   "distribution); null: exponential with mean 30 s.", default=None,
                   unit="s", example=_SERVICE_EXAMPLE),
    "priority": opt(PRIORITY, "Queue priority of the work item (lower is more urgent).",
                    default=2),
    "timeout_s": opt(TIMEOUT, "`approve`: give up (and apply the policy's fallback) after "
                     "waiting this long; null: wait.", default=None),
    "veto_window_s": opt(DURATION, "`veto`: the vehicle acts after this long unless an "
                         "operator objects first.", default=60.0),
    "approve_probability": opt(Number(ge=0, le=1), "`approve`: probability an approval is "
                               "granted; `veto`: that it is not vetoed.", default=1.0),
    "two_person": opt(Boolean(), "Needs two operators at once.", default=False),
}, doc="How one action class is authorised (a bare rule name stands for {rule: NAME}).",
    rules=("rule `auto` takes no `service`", "`two_person` needs 2 operators on duty at once",
           "stop, classify_detection and emergency_landing take no rule"),
    model=RuleSpec))

SHIFT = Record({
    "start_s": req(TIME, "When the shift starts."),
    "end_s": req(TIME, "When it ends (after it starts)."),
    "count": req(Integer(ge=0, le=MAX_RESOURCES), "Operators on duty during it."),
}, doc="A shift of operators (overlapping shifts add up).",
    rules=("`end_s` > `start_s`", "the operators on duty never exceed `oversight.operators`"),
    model=ShiftSpec)

REVIEW = Record({
    "service": opt(SERVICE, "Service time of one review; null: exponential with mean 20 s.",
                   default=None, unit="s", example=_SERVICE_EXAMPLE),
    "priority": opt(PRIORITY, "Queue priority of a review (lower is more urgent).", default=1),
    "false_alarms_per_vehicle_hour": opt(Number(ge=0, le=MAX_RATE_PER_HOUR),
                                         "False alarms raised per airborne vehicle-hour by the "
                                         "vehicles' sensors.", default=0.0),
    "timeout_s": opt(TIMEOUT, "A review not finished this long after the detection times out "
                     "(withdrawn if still queued, cut short if in service); null: never.",
                     default=None),
}, doc="Detections (and false alarms) become review work for the operators.",
    model=ReviewSpec)

STOP = Record({
    "time_s": req(TIME, "When the stop is ordered."),
    "vehicles": opt(VehicleSelection(), "`all`, or a list of vehicle indexes.", default="all",
                    example="[0, 3, 7]"),
    "safe_state": opt(String(choices=SAFE_STATES), "`return` (fly home and land) or `land` "
                      "(land where it is).", default="return"),
}, doc="A stop command: at `time_s` an operator orders vehicles to a safe state.",
    rules=("vehicle indexes are within the fleet",), model=StopSpec)

OVERSIGHT = Record({
    "operators": req(RESOURCES, "Operators in the pool."),
    "shifts": opt(ListOf(SHIFT, "shifts {start_s, end_s, count}"), "Who is on duty when; "
                  "none: all `operators`, all the time."),
    "span_of_control": opt(Integer(ge=1, le=MAX_VEHICLES, nullable=True),
                           "Most vehicles airborne per operator on duty (a take-off beyond it "
                           "is refused); null: no limit.", default=None),
    "approval_needs_link": opt(Boolean(), "An approval (or veto review) can only be asked for "
                               "over a working link.", default=True),
    "rules": opt(MapOf(Named(ACTION_CLASSES, "action class", "action classes"), RULE,
                       "action class to authorization rule"),
                 "Rule per action class (" + ", ".join(ACTION_CLASSES) + "); classes not "
                 "listed are `auto`.", example="{takeoff: approve, enter_restricted: {rule: "
                 "veto, veto_window_s: 30}}"),
    "detection_review": opt(Nullable(REVIEW), "Review work made by detections; null: none."),
    "stops": opt(ListOf(STOP, "stop commands {time_s, vehicles, safe_state}"),
                 "Stop commands."),
}, doc="Human oversight: operators, their shifts and how each action class is authorised.",
    model=OversightSpec)

ROADS = Record({
    "source": opt(String(choices=ROAD_SOURCES), "`grid` or `planar` (generated), `geojson` "
                  "(LineStrings from `path`, local metres) or `osm` (an OpenStreetMap XML "
                  "file at `path`, read with osmnx; needs `world.origin` or `world.crs`).",
                  default="grid"),
    "path": opt(NAME, "File of `geojson` or `osm` roads, relative to the scenario's folder.",
                default=None),
    "consolidate_m": opt(Number(ge=0, le=1_000), "`osm`: nodes of one intersection within "
                         "this distance merge into one junction (osmnx "
                         "consolidate_intersections); 0: none.", default=10.0),
    "extent": opt(Nullable(Rect()), "Area a generated network covers; null: the terrain's "
                  "extent.", unit="m"),
    "spacing_m": opt(Number(ge=1, le=MAX_DISTANCE_M), "Distance between neighbouring "
                     "junctions of a generated network.", default=500.0),
    "speed_limit_mps": opt(SPEED, "Speed limit of every road (a GeoJSON feature's "
                           "`speed_limit_mps` overrides it; on `osm` roads, of those with "
                           "neither a `maxspeed` tag nor a known `highway` class).",
                           default=13.9),
    "blocked": opt(Integer(ge=0, le=100_000), "Roads of a generated network that are missing "
                   "(blocked) from the start.", default=0),
    "seed": opt(Integer(ge=0, nullable=True), "Seed of a generated network; null: drawn from "
                "the run's seed, so the map changes with it.", default=None),
    "closures": opt(ListOf(Record({
        "time_s": req(TIME, "When the road closes."),
        "near": req(POINT, "The road segment nearest to this point closes.", unit="m"),
    }, doc="A road closes at `time_s`.", rules=("`near` lies on the terrain",),
        model=ClosureSpec), "road closures {time_s, near: [x, y]}"), "Roads that close "
        "during the run."),
}, doc="The road network ground vehicles move on; null or absent: no roads.",
    rules=("`geojson` and `osm` need `path` and take no `extent`, `spacing_m`, `blocked`, "
           "`seed`", "`path` applies to `geojson` and `osm` only", "`consolidate_m` applies "
           "to `osm` only", "`osm` needs `world.origin` or `world.crs`", "`extent` lies on the terrain"),
    model=RoadsSpec)

WATER_SOURCES = ("lattice", "osm")

WATER = Record({
    "source": opt(String(choices=WATER_SOURCES), "`lattice` (8-connected points over the "
                  "water of the terrain or `polygon`) or `osm` (the waterways of an "
                  "OpenStreetMap XML file at `path`: ways tagged waterway=river, canal or "
                  "fairway, read with osmnx; needs `world.origin` or `world.crs`).",
                  default="lattice"),
    "path": opt(NAME, "`osm`: the OpenStreetMap XML file, relative to the scenario's folder "
                "(it may be the roads' file: roads take only highway=* ways).", default=None,
                example="data/zurich/streets.osm"),
    "spacing_m": opt(Number(ge=1, le=MAX_DISTANCE_M), "Spacing of the navigation lattice.",
                     default=200.0),
    "polygon": opt(Nullable(RING), "Water as a polygon; null: the terrain's cells below "
                   "`sea_level_m`.", unit="m"),
    "speed_limit_mps": opt(Number(ge=MIN_SPEED_MPS, le=MAX_SPEED_MPS, nullable=True),
                           "`osm`: speed limit of a waterway without a `maxspeed` tag (km/h, "
                           "mph or knots); null: none, boats go at their own speed.",
                           default=None, example=5.0),
}, doc="The navigation graph sea vehicles move on: a lattice over water, or the waterways "
       "of an OpenStreetMap file.",
    rules=("the polygon overlaps the terrain", "`osm` needs `path` and takes no `spacing_m`, "
           "`polygon`", "`path` and `speed_limit_mps` apply to `osm` only",
           "`osm` needs `world.origin` or `world.crs`"), model=WaterSpec)

#: Wind (air vehicles only). Meteorological: ``from_deg`` is where it blows from,
#: degrees clockwise from north (+y); speed in m/s at ``profile.ref_height_m``.
WIND_SPEED = Number(ge=0, le=MAX_SPEED_MPS)
WIND_FROM = Number(ge=0, lt=360)
WIND_PROFILE = Record({
    "ref_height_m": opt(Number(gt=0, le=100_000), "Height above ground the wind's speeds are "
                        "given at.", default=10.0),
    "exponent": opt(Number(ge=0, le=1), "Power-law exponent: the speed at height h is speed x "
                    "(h / ref_height_m) ** exponent (0: the same at every height; about 1/7 "
                    "over open land, 0.11 over the sea).", default=0.0),
}, doc="How the wind's speed grows with height above ground (a power law).", model=WindSpec)

_SPEED_OR_GRID = "required unless `grid` is given"

#: Largest gridded wind field (values), as for a terrain grid.
MAX_WIND_GRID_VALUES = 50_000_000

WIND_GRID = Record({
    "path": req(String(), "A .npy file (relative to the scenario file) holding a float "
                "array of shape (ny, nx, 2), or (T, ny, nx, 2) for T time slices: the wind's "
                "east and north components (m/s, the direction it blows towards) at "
                "`profile.ref_height_m`. Element [k, j, i] applies at x = origin_x + i x "
                "spacing, y = origin_y + j x spacing (row 0 is the south edge), from time "
                "k x step_s on; the last slice holds to the end."),
    "spacing_m": req(Number(gt=0, le=MAX_DISTANCE_M), "Spacing of the grid's points.",
                     unit="m"),
    "origin_m": opt(POINT, "Position of element [.., 0, 0].", default=[0.0, 0.0], unit="m"),
    "step_s": opt(Number(gt=0, le=MAX_TIME_S), "Time between the slices.", default=3600.0,
                  unit="s"),
}, doc="A gridded wind field (a forecast model's output, say). The wind of a leg is the "
       "field interpolated (bilinear, held constant beyond the grid's edge) at the leg's "
       "midpoint, in the slice of the time the leg starts, for the whole leg; the energy "
       "reserve takes the wind at the midpoint of the way home, and the target drift's "
       "leeway the mean of the first slice.",
    rules=(f"the array is finite, of shape (ny, nx, 2) or (T, ny, nx, 2) with nx, ny >= 2, "
           f"at most {MAX_WIND_GRID_VALUES:,} values, no component above 100 m/s",),
    model=WindGridSpec)

WIND = Record({
    "speed_mps": opt(WIND_SPEED, "Wind speed at `profile.ref_height_m` above ground.",
                     derived=_SPEED_OR_GRID),
    "from_deg": opt(WIND_FROM, "Where it blows from: degrees clockwise from north (+y); 270 "
                    "is a west wind, blowing towards +x.", derived=_SPEED_OR_GRID),
    "grid": opt(Nullable(WIND_GRID), "A gridded field instead of `speed_mps` and `from_deg` (and "
                "without `changes`: its slices are the changes in time).",
                example="{path: wind.npy, spacing_m: 2000, step_s: 1800}"),
    "changes": opt(ListOf(Record({
        "t_s": req(Number(gt=0, le=MAX_TIME_S), "When the change happens."),
        "speed_mps": req(WIND_SPEED, "The wind speed from then on."),
        "from_deg": req(WIND_FROM, "Where it blows from from then on."),
    }, doc="A change of the wind: from `t_s` on, this speed and direction.",
        model=WindChange), "wind changes {t_s, speed_mps, from_deg}"),
        "Piecewise-constant changes in time.", example="[{t_s: 1800, speed_mps: 12, "
        "from_deg: 240}]"),
    "profile": opt(WIND_PROFILE, "The altitude profile (default: the same speed at every "
                   "height)."),
}, doc="A wind over the whole world: air legs fly the wind triangle, the energy reserve "
       "counts the wind-affected way home, legs the wind does not allow are refused.",
    rules=("`changes` come in strictly increasing `t_s`",
           "`speed_mps` and `from_deg`, or `grid` (then no `changes`)"),
    model=WindSpec, attrs={"profile": None})

ORDER = Record({
    "id": opt(ID, "Unique among the orders.", derived="orderN (N: its index)"),
    "origin": req(ID, "The depot the order is loaded at."),
    "destination": req(Place(), "A site id or a point.", unit="m",
                       example="customer_3  # or [4200, 1800]"),
    "weight_kg": req(Number(ge=0, le=MAX_MASS_KG), "At most the largest `payload_kg`."),
    "created_s": opt(TIME, "When the order is placed.", default=0.0),
    "priority": opt(PRIORITY, "Priority for the policy.", default=1),
    "earliest_s": opt(TIME, "Not delivered before this time.", default=0.0),
    "latest_s": opt(Number(ge=0, le=MAX_TIME_S, nullable=True), "Due by this time; null: "
                    "no deadline.", default=None),
}, doc="An order known in advance.",
    rules=("`origin` is a depot", "`latest_s` >= `earliest_s` and `created_s`",
           "a point destination lies on the terrain"),
    model=OrderSpec)

DEMAND = Record({
    "origin": req(ID, "The depot the orders are loaded at."),
    "rate_per_hour": req(Number(gt=0, le=1e7), "Mean arrival rate (a Poisson process, stream "
                         "`demand/<index>`).", unit="1/h"),
    "destinations": opt(ListOf(ID, "site ids", min_items=1), "Destinations drawn uniformly "
                        "from these sites.", derived=_DESTINATIONS),
    "area": opt(Record({"polygon": opt(RING, "The area's outline.", unit="m",
                                       derived=_POLYGON_OR_RECT),
                        "rect": opt(Rect(), "The area as a rectangle.", unit="m",
                                    derived=_POLYGON_OR_RECT)},
                       doc="Where destinations are drawn.",
                       rules=("exactly one of `polygon` and `rect`",)),
                "Destinations drawn uniformly inside this area.",
                derived=_DESTINATIONS),
    "weight_kg": opt(Number(ge=0, le=MAX_MASS_KG), "Fixed weight of every order.",
                     default=1.0),
    "weight_range_kg": opt(Pair(Number(ge=0, le=MAX_MASS_KG), "[low, high]"),
                           "Weight drawn uniformly between low and high.",
                           derived="[weight_kg, weight_kg]"),
    "window_s": opt(Number(gt=0, le=MAX_TIME_S, nullable=True), "Each order is due this long "
                    "after it is created; null: no deadline.", default=None),
    "priority": opt(PRIORITY, "Priority of the orders.", default=1),
    "start_s": opt(TIME, "When orders start arriving.", default=0.0),
    "end_s": opt(Number(gt=0, le=MAX_TIME_S, nullable=True), "When they stop; null: at the "
                 "end of the run.", default=None),
}, doc="Orders arriving at random.",
    rules=("`origin` is a depot", "exactly one of `destinations` and `area`",
           "at most one of `weight_kg` and `weight_range_kg`; low <= high <= the largest "
           "`payload_kg`", "`end_s` > `start_s`"),
    model=DemandSpec, attrs={"area": "area", "weight_kg": None, "weight_range_kg": "weight_kg"})

LOGISTICS = Record({
    "orders": opt(ListOf(ORDER, "orders {origin, destination, weight_kg, ...}"),
                  "Orders known in advance."),
    "demand": opt(ListOf(DEMAND, "demand streams {origin, rate_per_hour, ...}"),
                  "Streams of random orders."),
    "service_time_s": opt(TIME, "Time to hand an order over at its destination.",
                          default=60.0),
    "transfer_time_s": opt(TIME, "Time to move an order from a carrier onto a vehicle it "
                           "carries.", default=30.0),
}, doc="Orders and how they are handled; null or absent: no orders.",
    rules=("order ids are unique",), model=LogisticsSpec)

MINIMA = Record({
    "horizontal_m": opt(Number(gt=0, le=100_000), "Radius of the cylinder around each "
                        "vehicle.", default=50.0),
    "vertical_m": opt(Number(gt=0, le=MAX_ALTITUDE_M), "Half-height: vehicles closer than this "
                      "vertically (and than `horizontal_m` horizontally) have lost separation.",
                      default=15.0),
}, doc="Separation minima of one domain: a cylinder around each vehicle.", model=MinimaSpec)

SEPARATION = Record({
    "minima": opt(MapOf(Named(DOMAINS, "domain", "domains"), MINIMA,
                        "domain to separation minima {horizontal_m, vertical_m}"),
                  "Minima per domain; domains not listed are not checked.",
                  default={"air": {"horizontal_m": 50.0, "vertical_m": 15.0}},
                  example="{air: {horizontal_m: 80, vertical_m: 20}}"),
    "lookahead_s": opt(Number(ge=0, le=86_400), "Conflicts: loss of separation predicted "
                       "within this horizon.", default=60.0),
    "window_s": opt(Number(ge=MIN_WINDOW_S, le=MAX_TIME_S, nullable=True),
                    "Checking window; null: `run.monitor_window_s`, and with `lookahead_s: "
                    f"0` at least {LOSS_ONLY_WINDOW_S:g} s (when the run is longer).",
                    default=None),
    "strategic": opt(Nullable(Record({
        "layer_spacing_m": opt(Number(gt=0, le=10_000), "Height between altitude layers.",
                               default=30.0),
        "layers": opt(Integer(ge=0, le=20), "Layers above the cruise altitude to try (0: "
                      "delays only).", default=2),
        "delay_step_s": opt(Number(ge=MIN_WINDOW_S, le=86_400), "Step of the take-off delays "
                            "tried.", default=30.0),
        "max_delay_s": opt(Number(ge=0, le=86_400), "Longest delay tried (beyond it the "
                           "vehicle goes as planned).", default=1800.0),
    }, doc="Strategic deconfliction: a vehicle's 4D intent is checked against the others' "
           "before it takes off; a conflicting one moves up a layer or waits.",
        rules=("with `layers: 0`, `delay_step_s` <= `max_delay_s`",), model=StrategicSpec)),
        "Strategic deconfliction before take-off; null: none."),
    "layering": opt(String(choices=LAYERINGS), "`none`, or `heading`: cruise altitude raised "
                    "by `layer_spacing_m` per quadrant of heading (north-east 0, south-east 1, "
                    "south-west 2, north-west 3).", default="none"),
    "layer_spacing_m": opt(Number(gt=0, le=10_000), "Height between heading layers.",
                           default=30.0),
    "terminal_radius_m": opt(Number(ge=0, le=100_000), "Losses of separation that begin "
                             "within this distance of a site are not counted (the pads' "
                             "layout keeps take-offs apart); 0: counted everywhere.",
                             default=150.0),
    "tactical": opt(String(choices=TACTICAL), "`none` (policies react to `conflict` requests) "
                    "or `hold`: the lower-priority vehicle of a conflict (the higher index) "
                    "stops, moves out of the way vertically if it must, waits for the other "
                    "to pass and resumes.", default="none"),
}, doc="Separation monitoring and deconfliction; null or absent: not modelled.",
    rules=("`minima` covers at least one of the fleet's domains",
           "the checking window is shorter than the run"),
    model=SeparationSpec)

ORIGIN = Record({
    "lat": req(Number(ge=-89.9, le=89.9), "Latitude of local (0, 0), WGS 84.", unit="deg"),
    "lon": req(Number(ge=-180, le=180), "Longitude of local (0, 0), WGS 84.", unit="deg"),
}, doc="Where local (0, 0) is on the Earth: the scenario's metres are an azimuthal "
       "equidistant plane centred there (x east, y north; distances from the origin exact).",
    model=OriginSpec)

WORLD = Record({
    "origin": opt(Nullable(ORIGIN), "Puts the scenario on the map: positions may then be "
                  "given as " + LONLAT_FORM + ", geographic files are read, and "
                  "`fleetsim export` writes GeoJSON, CZML, KML; null: local metres only.",
                  example="{lat: 47.3769, lon: 8.5417}"),
    "crs": opt(Nullable(String(nonempty=True, what="a CRS such as EPSG:32632")),
               "Instead of `origin`: the projected CRS (in metres) the scenario's positions "
               "are in, e.g. a UTM zone; null: none.", default=None, example="EPSG:32632"),
    "terrain": opt(TERRAIN, "The terrain."),
    "zones": opt(FileList(ZONE, "zones", files=ZONE_FILE), "Airspace zones, written out "
                 "or read from GeoJSON / ED-269 files (items `{geojson: path}` or "
                 "`{ed269: path}`, see `world.zones[](file)`).",
                 example="{geojson: data/zones.geojson, kind: no_fly}"),
    "sites": opt(FileList(SITE, "sites", files=SITE_FILE, reader="sites"), "Bases, depots, "
                 "ground stations, customers; items may be GeoJSON files of them "
                 "(`{geojson: path}`, see `world.sites[](file)`)."),
    "roads": opt(Nullable(ROADS), "Roads; null: none (ground vehicles need them)."),
    "water": opt(Nullable(WATER), "The sea lattice; null: built from the terrain's sea level "
                 "when sea vehicles need it."),
    "wind": opt(Nullable(WIND), "The wind air vehicles fly in (the wind triangle); null: "
                "still air."),
}, doc="The map: terrain, airspace zones, sites, roads, water and wind.", model=Scenario)

SCENARIO = Record({
    "schema_version": opt(Exactly(1, note="this fleetsim reads scenario schema version 1"),
                          "Version of this format.", default=1),
    "name": req(ID, "The scenario's name (run directories are named after it)."),
    "description": opt(String(), "Free text.", default=""),
    "base_dir": opt(NAME, "Folder that relative file paths resolve against, relative to the "
                    "scenario file's folder (a stored source holds the absolute folder).",
                    default="."),
    "run": req(RUN, "Duration and seed."),
    "world": opt(WORLD, "The map."),
    "fleet": req(Record({
        "types": req(ListOf(VEHICLE_TYPE, "vehicle types", min_items=1), "Vehicle types."),
    }, doc="The vehicles.", model=Scenario, attrs={"types": "vehicle_types"}), "The vehicles."),
    "missions": opt(ListOf(MISSION, "missions"), "Surveillance missions."),
    "policy": req(Record({
        "name": req(NAME, "A policy name (`fleetsim policies` lists them)."),
        "params": opt(PlainData(), "The policy's parameters (`fleetsim policies` lists them "
                      "with their defaults).", example="{spacing_m: 120}"),
    }, doc="The autonomy policy that plans for the vehicles.", model=PolicySpec),
        "The autonomy policy."),
    "outputs": opt(Record({
        "metrics_cell_m": opt(Number(ge=MIN_SPACING_M, le=MAX_SPACING_M),
                              "Side of the square raster cells of the coverage and idleness "
                              "metrics.", default=50.0),
        "replay": opt(Boolean(), "Write the replay bundle (`--no-replay` turns it off).",
                      default=True),
        "timeseries_step_s": opt(POSITIVE, "Interval between the rows of timeseries.parquet.",
                                 default=60.0),
    }, doc="What a run writes.", rules=("a metrics cell centre lies inside the mission area",
                                        "run.duration_s / timeseries_step_s gives at most "
                                        "1,000,000 rows"),
        model=OutputSpec), "What a run writes."),
    "oversight": opt(Nullable(OVERSIGHT), "Human oversight; null: every action is autonomous "
                     "and no operators are modelled."),
    "logistics": opt(Nullable(LOGISTICS), "Orders; null: none."),
    "separation": opt(Nullable(SEPARATION), "Separation; null: not monitored."),
}, doc="A scenario file (schema version 1).",
    rules=("the estimated memory of a run stays within the limit",),
    model=Scenario, attrs={"schema_version": None, "world": None, "fleet": None})

#: Model attributes no key names directly, and where they come from.
BUILT = {
    Scenario: {"vehicles": "fleet.types[].count / base / bases / carrier",
               "source": "the validated scenario as plain data",
               "locations": "the file and line of each YAML path"},
    OrderSpec: {"destination_site": "destination, when it is a site id"},
    VehicleGroupSpec: {"type": "fleet.types[].id", "base": "fleet.types[].base / bases",
                       "count": "fleet.types[].count / bases"},
}

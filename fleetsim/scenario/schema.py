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
from fleetsim.scenario.model import ACTION_CLASSES, AUTH_RULES

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

    def __init__(self, locations: dict[str, Location], file: str) -> None:
        self.locations = locations
        self.file = file

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
        if not isinstance(value, list) or len(value) != 2:
            self.expected(value, path, ctx)
        return (self.item.check(value[0], item_path(path, 0), ctx),
                self.item.check(value[1], item_path(path, 1), ctx))


@dataclass(frozen=True)
class RingOf(Validator):
    """A closed ring: a list of >= 3 points ``[x, y]``; a repeated closing point is dropped."""

    def describe(self) -> str:
        return "a list of at least 3 points [x, y]"

    def check(self, value: Any, path: str, ctx: Context) -> tuple[tuple[float, float], ...]:
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


@dataclass(frozen=True)
class Field:
    validator: Validator
    required: bool = False


def req(validator: Validator) -> Field:
    return Field(validator, required=True)


def opt(validator: Validator) -> Field:
    return Field(validator, required=False)


@dataclass(frozen=True)
class Record(Validator):
    """A mapping with a fixed set of keys (null counts as empty).

    Returns a dict holding the converted values of the keys present; absent
    optional keys are left out (the model's defaults apply).
    """

    fields: dict[str, Field] = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        return list(self.fields)

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
ROAD_SOURCES = ("grid", "planar", "geojson")
LAYERINGS = ("none", "heading")
TACTICAL = ("none", "hold")
DETECTION_MODELS = ("definite_range", "inverse_cube", "exponential")
MISSION_KINDS = ("coverage", "persistent", "search")
TERRAIN_SOURCES = ("flat", "procedural", "npy", "geotiff")
SAFE_STATES = ("return", "land")

#: The terrain keys that apply to each terrain source (besides ``source``).
TERRAIN_KEYS = {
    "flat": ("size_m", "spacing_m", "origin_m", "base_elevation_m", "sea_level_m"),
    "procedural": ("size_m", "spacing_m", "origin_m", "base_elevation_m", "relief_m", "ridges",
                   "sea_level_m"),
    "npy": ("path", "spacing_m", "origin_m", "sea_level_m"),
    "geotiff": ("path", "origin_m", "sea_level_m"),
}

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

RUN = Record({
    "duration_s": req(Number(gt=0, le=1e8)),  # up to about three years
    "seed": opt(Integer(ge=0)),
    "monitor_window_s": opt(WINDOW),
})

TERRAIN = Record({
    "source": opt(String(choices=TERRAIN_SOURCES)),
    "size_m": opt(Pair(Number(gt=0, le=MAX_TERRAIN_SIDE_M), "[width, height]")),
    "spacing_m": opt(Number(ge=MIN_SPACING_M, le=MAX_SPACING_M)),
    "origin_m": opt(POINT),
    "base_elevation_m": opt(HEIGHT),
    "relief_m": opt(Number(ge=0, le=MAX_HEIGHT_M - MIN_HEIGHT_M)),
    "ridges": opt(Integer(ge=0, le=1_000)),
    "path": opt(NAME),
    "sea_level_m": opt(Number(ge=MIN_HEIGHT_M, le=MAX_HEIGHT_M, nullable=True)),
})

ZONE = Record({
    "id": req(ID),
    "kind": req(String(choices=ZONE_KINDS)),
    "polygon": opt(RING),
    "rect": opt(Rect()),
    "holes": opt(HOLES),
    "floor_amsl_m": opt(Number(ge=-MAX_ALTITUDE_M, le=MAX_ALTITUDE_M, finite=False,
                               nullable=True)),
    "ceiling_amsl_m": opt(Number(ge=-MAX_ALTITUDE_M, le=MAX_ALTITUDE_M, finite=False,
                                 nullable=True)),
    "active": opt(Record({
        "start_s": opt(TIME),
        "end_s": opt(Number(gt=0, le=MAX_TIME_S, nullable=True)),
    })),
})

SITE = Record({
    "id": req(ID),
    "kind": req(String(choices=SITE_KINDS)),
    "position": req(POINT),
    "pads": opt(RESOURCES),
    "radio_range_m": opt(Number(gt=0, le=MAX_DISTANCE_M, nullable=True)),
    "antenna_height_m": opt(Number(ge=0, le=MAX_ALTITUDE_M)),
    "sensor_radius_m": opt(Number(gt=0, le=MAX_DISTANCE_M, nullable=True)),
    "false_alarms_per_hour": opt(Number(ge=0, le=MAX_RATE_PER_HOUR)),
    "stock": opt(Integer(ge=0, le=10**12, nullable=True)),
    "loading_bays": opt(RESOURCES),
    "loading_time_s": opt(TIME),
    "swap_stations": opt(Integer(ge=0, le=MAX_RESOURCES)),
    "swap_time_s": opt(TIME),
})

DETECTION = Record({
    "model": opt(String(choices=DETECTION_MODELS)),
    "sweep_width_m": opt(Number(gt=0, le=2 * MAX_DISTANCE_M)),
})

SENSOR = Record({
    "footprint_radius_m": opt(DISTANCE),
    "camera_fov_deg": opt(Number(gt=0, lt=180)),
    "detection": opt(DETECTION),
})

VEHICLE_TYPE = Record({
    "id": req(ID),
    "kind": req(String(choices=VEHICLE_KINDS)),
    "domain": opt(String(choices=DOMAINS)),
    "count": opt(Integer(ge=0, le=MAX_VEHICLES)),
    "base": opt(ID),
    "bases": opt(MapOf(ID, Integer(ge=0, le=MAX_VEHICLES), "base id to vehicle count",
                       min_items=1)),
    "cruise_speed_mps": req(SPEED),
    "climb_rate_mps": opt(SPEED),
    "cruise_altitude_agl_m": opt(Number(gt=0, le=MAX_ALTITUDE_M)),
    "battery_wh": req(Number(gt=0, le=MAX_ENERGY_WH)),
    "hover_power_w": opt(POWER),
    "cruise_power_w": req(Number(gt=0, le=MAX_POWER_W)),
    "reserve_fraction": opt(Number(ge=0, lt=1)),
    "recharge_time_s": req(TIME),
    "terrain_clearance_m": opt(Number(ge=0, le=MAX_ALTITUDE_M)),
    "relay_range_m": opt(Number(gt=0, le=MAX_DISTANCE_M, nullable=True)),
    "sensor": opt(SENSOR),
    "payload_kg": opt(Number(ge=0, le=MAX_MASS_KG)),
    "energy": opt(String(choices=ENERGY_KINDS)),
    "carrier": opt(Nullable(ID)),
    "carrier_slots": opt(Integer(ge=0, le=10_000)),
    "airframe": opt(String(choices=AIRFRAMES)),
    "airframe_params": opt(MapOf(Named(AIRFRAME_PARAMS, "airframe parameter",
                                       "airframe parameters"), Number(gt=0, le=1e6),
                                 "airframe parameter to value")),
    "turn_penalty_s_per_rad": opt(Number(ge=0, le=3_600)),
    "leg_overhead_s": opt(Number(ge=0, le=3_600)),
    "climb_energy_wh_per_m": opt(Number(ge=0, le=MAX_ENERGY_WH)),
    #: Fixed wing only: the bank-angle limit of its turns and loiters (null: fixed-wing
    #: flight not modelled, it hovers and turns like a multirotor).
    "bank_angle_deg": opt(Number(gt=0, le=80, nullable=True)),
})

AREA = Record({
    "polygon": opt(RING),
    "rect": opt(Rect()),
    "holes": opt(HOLES),
})

#: A velocity [vx, vy] (m/s), for moving targets and currents.
VELOCITY = Pair(Number(ge=-100, le=100), "[vx, vy]")
TARGET = PointOrRecord(Record({
    "id": req(ID),
    "position": req(POINT),
    #: A constant velocity (m/s); it then moves from position (at time 0).
    "velocity_mps": opt(VELOCITY),
}))

MISSION = Record({
    "id": req(ID),
    "kind": req(String(choices=MISSION_KINDS)),
    "area": req(AREA),
    "targets": opt(ListOf(TARGET, "targets")),
    "random_targets": opt(Integer(ge=0, le=MAX_RANDOM_TARGETS)),
    #: The targets drift (those without a velocity_mps of their own): current + leeway
    #: x the wind at time 0 + a seeded random velocity (stream drift/<mission id>).
    "drift": opt(Nullable(Record({
        "current_mps": opt(VELOCITY),
        #: Fraction of the wind's reference speed (a person in the water: ~0.01-0.03).
        "leeway": opt(Number(ge=0, le=1)),
        #: Standard deviation of each velocity component's random part (m/s).
        "random_mps": opt(Number(ge=0, le=100)),
    }))),
})

SERVICE = ServiceTime()
PRIORITY = Integer(ge=-MAX_PRIORITY, le=MAX_PRIORITY)
TIMEOUT = Number(gt=0, le=MAX_TIME_S, nullable=True)

RULE = NameOrRecord(String(choices=AUTH_RULES), "rule", Record({
    "rule": req(String(choices=AUTH_RULES)),
    "service": opt(SERVICE),
    "priority": opt(PRIORITY),
    "timeout_s": opt(TIMEOUT),
    "veto_window_s": opt(DURATION),
    "approve_probability": opt(Number(ge=0, le=1)),
    "two_person": opt(Boolean()),
}))

SHIFT = Record({
    "start_s": req(TIME),
    "end_s": req(TIME),
    "count": req(Integer(ge=0, le=MAX_RESOURCES)),
})

REVIEW = Record({
    "service": opt(SERVICE),
    "priority": opt(PRIORITY),
    "false_alarms_per_vehicle_hour": opt(Number(ge=0, le=MAX_RATE_PER_HOUR)),
    "timeout_s": opt(TIMEOUT),
})

STOP = Record({
    "time_s": req(TIME),
    "vehicles": opt(VehicleSelection()),
    "safe_state": opt(String(choices=SAFE_STATES)),
})

OVERSIGHT = Record({
    "operators": req(RESOURCES),
    "shifts": opt(ListOf(SHIFT, "shifts {start_s, end_s, count}")),
    "span_of_control": opt(Integer(ge=1, le=MAX_VEHICLES, nullable=True)),
    "approval_needs_link": opt(Boolean()),
    "rules": opt(MapOf(Named(ACTION_CLASSES, "action class", "action classes"), RULE,
                       "action class to authorization rule")),
    #: null: detections make no review work.
    "detection_review": opt(Nullable(REVIEW)),
    "stops": opt(ListOf(STOP, "stop commands {time_s, vehicles, safe_state}")),
})

ROADS = Record({
    "source": opt(String(choices=ROAD_SOURCES)),
    "path": opt(NAME),
    "extent": opt(Nullable(Rect())),
    "spacing_m": opt(Number(ge=1, le=MAX_DISTANCE_M)),
    "speed_limit_mps": opt(SPEED),
    "blocked": opt(Integer(ge=0, le=100_000)),
    "seed": opt(Integer(ge=0, nullable=True)),
    "closures": opt(ListOf(Record({
        "time_s": req(TIME),
        "near": req(POINT),
    }), "road closures {time_s, near: [x, y]}")),
})

WATER = Record({
    "spacing_m": opt(Number(ge=1, le=MAX_DISTANCE_M)),
    "polygon": opt(Nullable(RING)),
})

#: Wind (air vehicles only). Meteorological: ``from_deg`` is where it blows from,
#: degrees clockwise from north (+y); speed in m/s at ``profile.ref_height_m``.
WIND_SPEED = Number(ge=0, le=MAX_SPEED_MPS)
WIND_FROM = Number(ge=0, lt=360)
WIND = Record({
    "speed_mps": req(WIND_SPEED),
    "from_deg": req(WIND_FROM),
    #: Piecewise-constant changes: from ``t_s`` on, this speed and direction.
    "changes": opt(ListOf(Record({
        "t_s": req(Number(gt=0, le=MAX_TIME_S)),
        "speed_mps": req(WIND_SPEED),
        "from_deg": req(WIND_FROM),
    }), "wind changes {t_s, speed_mps, from_deg}")),
    #: Power-law altitude profile: speed x (height above ground / ref_height_m) ** exponent.
    "profile": opt(Record({
        "ref_height_m": opt(Number(gt=0, le=100_000)),
        "exponent": opt(Number(ge=0, le=1)),
    })),
})

ORDER = Record({
    "id": opt(ID),
    "origin": req(ID),
    "destination": req(Place()),
    "weight_kg": req(Number(ge=0, le=MAX_MASS_KG)),
    "created_s": opt(TIME),
    "priority": opt(PRIORITY),
    "earliest_s": opt(TIME),
    "latest_s": opt(Number(ge=0, le=MAX_TIME_S, nullable=True)),
})

DEMAND = Record({
    "origin": req(ID),
    "rate_per_hour": req(Number(gt=0, le=1e7)),
    "destinations": opt(ListOf(ID, "site ids", min_items=1)),
    "area": opt(Record({"polygon": opt(RING), "rect": opt(Rect())})),
    "weight_kg": opt(Number(ge=0, le=MAX_MASS_KG)),
    "weight_range_kg": opt(Pair(Number(ge=0, le=MAX_MASS_KG), "[low, high]")),
    "window_s": opt(Number(gt=0, le=MAX_TIME_S, nullable=True)),
    "priority": opt(PRIORITY),
    "start_s": opt(TIME),
    "end_s": opt(Number(gt=0, le=MAX_TIME_S, nullable=True)),
})

LOGISTICS = Record({
    "orders": opt(ListOf(ORDER, "orders {origin, destination, weight_kg, ...}")),
    "demand": opt(ListOf(DEMAND, "demand streams {origin, rate_per_hour, ...}")),
    "service_time_s": opt(TIME),
    "transfer_time_s": opt(TIME),
})

MINIMA = Record({
    "horizontal_m": opt(Number(gt=0, le=100_000)),
    "vertical_m": opt(Number(gt=0, le=MAX_ALTITUDE_M)),
})

SEPARATION = Record({
    "minima": opt(MapOf(Named(DOMAINS, "domain", "domains"), MINIMA,
                        "domain to separation minima {horizontal_m, vertical_m}")),
    "lookahead_s": opt(Number(ge=0, le=86_400)),
    "window_s": opt(Number(ge=MIN_WINDOW_S, le=MAX_TIME_S, nullable=True)),
    "strategic": opt(Nullable(Record({
        "layer_spacing_m": opt(Number(gt=0, le=10_000)),
        "layers": opt(Integer(ge=0, le=20)),
        "delay_step_s": opt(Number(ge=MIN_WINDOW_S, le=86_400)),
        "max_delay_s": opt(Number(ge=0, le=86_400)),
    }))),
    "layering": opt(String(choices=LAYERINGS)),
    "layer_spacing_m": opt(Number(gt=0, le=10_000)),
    "terminal_radius_m": opt(Number(ge=0, le=100_000)),
    "tactical": opt(String(choices=TACTICAL)),
})

SCENARIO = Record({
    "schema_version": opt(Exactly(1, note="this fleetsim reads scenario schema version 1")),
    "name": req(ID),
    "description": opt(String()),
    #: Folder that relative file paths resolve against, relative to the
    #: scenario file's folder (a stored source holds the absolute folder).
    "base_dir": opt(NAME),
    "run": req(RUN),
    "world": opt(Record({
        "terrain": opt(TERRAIN),
        "zones": opt(ListOf(ZONE, "zones")),
        "sites": opt(ListOf(SITE, "sites")),
        #: null (or absent): no roads (ground vehicles need them).
        "roads": opt(Nullable(ROADS)),
        "water": opt(Nullable(WATER)),
        #: null (or absent): still air.
        "wind": opt(Nullable(WIND)),
    })),
    "fleet": req(Record({
        "types": req(ListOf(VEHICLE_TYPE, "vehicle types", min_items=1)),
    })),
    "missions": opt(ListOf(MISSION, "missions")),
    "policy": req(Record({
        "name": req(NAME),
        "params": opt(PlainData()),
    })),
    "outputs": opt(Record({
        "metrics_cell_m": opt(Number(ge=MIN_SPACING_M, le=MAX_SPACING_M)),
        "replay": opt(Boolean()),
        "timeseries_step_s": opt(POSITIVE),
    })),
    #: null (or absent): no human oversight is modelled.
    "oversight": opt(Nullable(OVERSIGHT)),
    #: null (or absent): no orders.
    "logistics": opt(Nullable(LOGISTICS)),
    #: null (or absent): separation is not monitored.
    "separation": opt(Nullable(SEPARATION)),
})

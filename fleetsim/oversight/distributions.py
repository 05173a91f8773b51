"""Service-time distributions for operator work.

Each distribution is a small frozen dataclass with

- ``sample(rng, size=None)``: one draw as a Python ``float`` (``size=None``) or
  an array of draws, from the numpy ``Generator`` it is given (it holds no
  random state of its own);
- ``mean_s``: the mean in seconds;
- ``to_dict()``: the scenario form, which :func:`parse_distribution` reads back.

Scenario forms (:func:`parse_distribution`)::

    30                                  # a number: deterministic, 30 s
    {dist: deterministic, value_s: 30}
    {dist: exponential, mean_s: 30}
    {dist: lognormal, mean_s: 30, cv: 0.5}
    {dist: gamma, mean_s: 30, cv: 0.5}
    {dist: uniform, low_s: 10, high_s: 50}

Lognormal and gamma are parametrised by their mean and coefficient of
variation (standard deviation / mean), the two numbers an analyst is likely to
know about how long a task takes.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["DISTRIBUTIONS", "Deterministic", "Distribution", "Exponential", "Gamma",
           "Lognormal", "Uniform", "parse_distribution"]


def _check_number(name: str, value: object, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if positive and x <= 0.0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if x < 0.0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return x


@dataclass(frozen=True, slots=True)
class Exponential:
    """Exponential service time with mean ``mean_s`` (rate 1/mean_s)."""

    mean_s: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean_s", _check_number("mean_s", self.mean_s, positive=True))

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        return rng.exponential(self.mean_s, size)

    def to_dict(self) -> dict[str, Any]:
        return {"dist": "exponential", "mean_s": self.mean_s}


@dataclass(frozen=True, slots=True)
class Deterministic:
    """A fixed service time ``value_s``. Draws nothing from the generator."""

    value_s: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "value_s", _check_number("value_s", self.value_s))

    @property
    def mean_s(self) -> float:
        return self.value_s

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        if size is None:
            return self.value_s
        return np.full(size, self.value_s)

    def to_dict(self) -> dict[str, Any]:
        return {"dist": "deterministic", "value_s": self.value_s}


@dataclass(frozen=True, slots=True)
class Lognormal:
    """Lognormal service time with mean ``mean_s`` and coefficient of variation ``cv``.

    The underlying normal has ``sigma^2 = ln(1 + cv^2)`` and
    ``mu = ln(mean_s) - sigma^2 / 2``. ``cv = 0`` gives the constant ``mean_s``.
    """

    mean_s: float
    cv: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean_s", _check_number("mean_s", self.mean_s, positive=True))
        object.__setattr__(self, "cv", _check_number("cv", self.cv))

    @property
    def sigma(self) -> float:
        return math.sqrt(math.log1p(self.cv * self.cv))

    @property
    def mu(self) -> float:
        s = self.sigma
        return math.log(self.mean_s) - 0.5 * s * s

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        return rng.lognormal(self.mu, self.sigma, size)

    def to_dict(self) -> dict[str, Any]:
        return {"dist": "lognormal", "mean_s": self.mean_s, "cv": self.cv}


@dataclass(frozen=True, slots=True)
class Uniform:
    """Service time uniform on ``[low_s, high_s]``."""

    low_s: float
    high_s: float

    def __post_init__(self) -> None:
        low = _check_number("low_s", self.low_s)
        high = _check_number("high_s", self.high_s)
        if high < low:
            raise ValueError(f"uniform needs low_s <= high_s, got low_s={low}, high_s={high}")
        object.__setattr__(self, "low_s", low)
        object.__setattr__(self, "high_s", high)

    @property
    def mean_s(self) -> float:
        return 0.5 * (self.low_s + self.high_s)

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        return rng.uniform(self.low_s, self.high_s, size)

    def to_dict(self) -> dict[str, Any]:
        return {"dist": "uniform", "low_s": self.low_s, "high_s": self.high_s}


@dataclass(frozen=True, slots=True)
class Gamma:
    """Gamma service time with mean ``mean_s`` and coefficient of variation ``cv > 0``.

    Shape ``k = 1 / cv^2`` and scale ``mean_s * cv^2``; ``cv = 1`` is the
    exponential, small ``cv`` approaches the constant ``mean_s``.
    """

    mean_s: float
    cv: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean_s", _check_number("mean_s", self.mean_s, positive=True))
        object.__setattr__(self, "cv", _check_number("cv", self.cv, positive=True))

    @property
    def shape(self) -> float:
        return 1.0 / (self.cv * self.cv)

    @property
    def scale_s(self) -> float:
        return self.mean_s * self.cv * self.cv

    def sample(self, rng: np.random.Generator, size: int | None = None) -> Any:
        return rng.gamma(self.shape, self.scale_s, size)

    def to_dict(self) -> dict[str, Any]:
        return {"dist": "gamma", "mean_s": self.mean_s, "cv": self.cv}


Distribution = Exponential | Deterministic | Lognormal | Uniform | Gamma

#: Scenario name -> (class, parameter names in constructor order).
DISTRIBUTIONS: dict[str, tuple[type, tuple[str, ...]]] = {
    "deterministic": (Deterministic, ("value_s",)),
    "exponential": (Exponential, ("mean_s",)),
    "lognormal": (Lognormal, ("mean_s", "cv")),
    "gamma": (Gamma, ("mean_s", "cv")),
    "uniform": (Uniform, ("low_s", "high_s")),
}

_EXAMPLES = {
    "deterministic": "{dist: deterministic, value_s: V}",
    "exponential": "{dist: exponential, mean_s: M}",
    "lognormal": "{dist: lognormal, mean_s: M, cv: C}",
    "gamma": "{dist: gamma, mean_s: M, cv: C}",
    "uniform": "{dist: uniform, low_s: A, high_s: B}",
}

VALID_FORMS = ("a number of seconds (deterministic), or one of "
               + ", ".join(_EXAMPLES.values()))


def parse_distribution(value: object) -> Distribution:
    """A service-time distribution from its scenario form (see the module doc).

    Accepts a number (a deterministic time), a mapping with ``dist`` and that
    distribution's parameters, or a distribution object (returned as is).
    Raises ``ValueError`` naming what was wrong and listing the valid forms.
    """
    if isinstance(value, Exponential | Deterministic | Lognormal | Uniform | Gamma):
        return value
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        try:
            return Deterministic(value)
        except ValueError as exc:
            raise ValueError(f"service time: {exc}") from None
    if not isinstance(value, Mapping):
        raise ValueError(f"invalid service time {value!r}; valid forms: {VALID_FORMS}")
    name = value.get("dist")
    if not isinstance(name, str):
        raise ValueError(f"service time mapping needs a 'dist' key naming one of "
                         f"{', '.join(DISTRIBUTIONS)}; valid forms: {VALID_FORMS}; got {dict(value)!r}")
    key = name.strip().lower()
    if key not in DISTRIBUTIONS:
        near = difflib.get_close_matches(key, list(DISTRIBUTIONS), n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise ValueError(f"unknown service-time distribution {name!r}{hint}; valid forms: "
                         f"{VALID_FORMS}")
    cls, params = DISTRIBUTIONS[key]
    given = set(value) - {"dist"}
    missing = [p for p in params if p not in given]
    extra = sorted(str(k) for k in given - set(params))
    if missing or extra:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing))
        if extra:
            parts.append("unexpected " + ", ".join(extra))
        raise ValueError(f"{key} service time: {'; '.join(parts)}; expected {_EXAMPLES[key]}")
    try:
        return cls(*(value[p] for p in params))
    except ValueError as exc:
        raise ValueError(f"{key} service time: {exc}; expected {_EXAMPLES[key]}") from None

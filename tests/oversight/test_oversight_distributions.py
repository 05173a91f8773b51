"""Service-time distributions: moments, parsing and error messages."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fleetsim.oversight import (
    Deterministic,
    Exponential,
    Gamma,
    Lognormal,
    Uniform,
    parse_distribution,
)
from fleetsim.rng import make_rng

N = 200_000


@pytest.mark.parametrize(("dist", "cv"), [
    (Exponential(30.0), 1.0),
    (Lognormal(30.0, 0.5), 0.5),
    (Gamma(30.0, 0.5), 0.5),
    (Uniform(10.0, 50.0), 40.0 / math.sqrt(12.0) / 30.0),
])
def test_mean_and_cv(dist, cv: float) -> None:
    """200,000 draws: the sample mean's relative SE is cv/sqrt(N) <= 0.23 %, so
    a 1 % tolerance is > 4 SE. The sample CV (SD/mean) has a relative SE of at
    most ~0.6 % for these shapes (lognormal with cv 0.5 has the heaviest tail
    here: kurtosis ~ 9.5 gives SE(SD)/SD ~ sqrt((9.5-1)/(4N)) = 0.33 %);
    tolerance 3 %."""
    x = dist.sample(make_rng(7, "service"), N)
    assert x.shape == (N,) and np.all(x >= 0)
    assert dist.mean_s == 30.0
    assert abs(x.mean() - 30.0) / 30.0 < 0.01
    assert abs(x.std() / x.mean() - cv) / cv < 0.03
    one = dist.sample(make_rng(7, "service"))
    assert isinstance(one, float) and one == x[0]


def test_deterministic_draws_nothing() -> None:
    rng = make_rng(1, "s")
    d = Deterministic(12.5)
    assert d.sample(rng) == 12.5 and d.mean_s == 12.5
    assert d.sample(rng, 3).tolist() == [12.5] * 3
    assert rng.random() == make_rng(1, "s").random()


@pytest.mark.parametrize("dist", [Exponential(3.0), Deterministic(4.0), Lognormal(5.0, 0.2),
                                  Gamma(6.0, 2.0), Uniform(1.0, 2.0)])
def test_round_trip(dist) -> None:
    assert parse_distribution(dist.to_dict()) == dist
    assert parse_distribution(dist) is dist


def test_parse_forms() -> None:
    assert parse_distribution(30) == Deterministic(30.0)
    assert parse_distribution(2.5) == Deterministic(2.5)
    assert parse_distribution({"dist": "exponential", "mean_s": 30}) == Exponential(30.0)
    assert parse_distribution({"dist": "Lognormal", "mean_s": 30, "cv": 0.5}) == Lognormal(30, 0.5)
    assert parse_distribution({"dist": "uniform", "low_s": 1, "high_s": 2}) == Uniform(1, 2)


@pytest.mark.parametrize(("value", "message"), [
    ("30", "valid forms"),
    (True, "valid forms"),
    ([30], "valid forms"),
    ({"mean_s": 30}, "needs a 'dist' key"),
    ({"dist": "exponentail", "mean_s": 30}, "did you mean 'exponential'"),
    ({"dist": "exponential"}, "missing mean_s; expected {dist: exponential, mean_s: M}"),
    ({"dist": "exponential", "mean_s": 30, "cv": 1}, "unexpected cv"),
    ({"dist": "exponential", "mean_s": -1}, "mean_s must be > 0"),
    ({"dist": "uniform", "low_s": 5, "high_s": 1}, "low_s <= high_s"),
    ({"dist": "gamma", "mean_s": 5, "cv": 0}, "cv must be > 0"),
    ({"dist": "lognormal", "mean_s": 5, "cv": "x"}, "cv must be a number"),
    (-3, "value_s must be >= 0"),
    (float("nan"), "must be finite"),
])
def test_parse_errors(value, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("{", r"\{").replace("}", r"\}")):
        parse_distribution(value)
    try:
        parse_distribution(value)
    except ValueError as exc:
        if "valid forms" in message:
            for form in ("a number of seconds", "{dist: exponential, mean_s: M}",
                         "{dist: lognormal, mean_s: M, cv: C}", "{dist: gamma, mean_s: M, cv: C}",
                         "{dist: uniform, low_s: A, high_s: B}"):
                assert form in str(exc)

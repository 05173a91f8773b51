"""Queueing-theory oracles for the operator pool (shared/ORACLES.md, Queueing).

The long runs use Poisson arrivals and exponential service (M/M/1, M/M/3) at
rho <= 0.7, where the variance of a simulated mean wait is still moderate; the
fan-out tests are exact (deterministic times).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy

from fleetsim.oversight import (
    Deterministic,
    Exponential,
    OperatorPool,
    WorkItem,
    fan_out,
    utilization,
)
from fleetsim.rng import make_rng

WARMUP = 1000      # customers dropped from the start (the queue starts empty)
BATCHES = 20


def run_mmc(lam: float, mu: float, c: int, n: int, seed: int) -> dict[str, np.ndarray]:
    """n Poisson(lam) arrivals to c operators with exponential(mu) service."""
    env = simpy.Environment()
    pool = OperatorPool(env, operators=c, rng=make_rng(seed, "operators"))
    gaps = make_rng(seed, "arrivals").exponential(1.0 / lam, n)
    item = WorkItem(kind="approve", action_class="launch", vehicle=0,
                    service=Exponential(1.0 / mu))

    def arrivals():
        for g in gaps.tolist():
            yield env.timeout(g)
            pool.submit(item)

    env.process(arrivals())
    env.run()
    rec = pool.records()
    assert len(rec["item_waited_s"]) == n
    assert np.all(rec["item_decision"] == "approved")
    return rec


def batch_means(x: np.ndarray, batches: int = BATCHES) -> tuple[float, float]:
    """Mean of x and its standard error from `batches` contiguous batch means."""
    m = len(x) // batches
    means = x[: m * batches].reshape(batches, m).mean(axis=1)
    return float(x.mean()), float(means.std(ddof=1) / math.sqrt(batches))


def erlang_c(c: int, a: float) -> float:
    """Probability of waiting in M/M/c with offered load a = lam/mu."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


@pytest.mark.parametrize("rho", [0.6, 0.7])
def test_mm1_wait_and_utilisation(rho: float) -> None:
    """M/M/1: W_q = rho/(mu - lam), utilisation = rho.

    Sample: 400,000 customers (first 1,000 dropped), mu = 1, lam = rho.
    Tolerance: 5 % on W_q. Measured offline over 20 independent seeds of
    200,000 customers, the mean wait has a relative SD of 1.6 % (rho=0.6) and
    1.9 % (rho=0.7); at 400,000 that is about 1.1-1.35 %, so 5 % is > 3.7 SD.
    The run checks its own precision too: the batch-means standard error (20
    batches of ~20,000 customers, far longer than the waits' correlation
    time) must be below 1.7 % and the error within 4 of them. Utilisation
    (busy time / on-duty time) varies much less (relative SD 0.24 % over 10
    seeds at 400,000): tolerance 1.5 %.
    """
    mu, lam, n = 1.0, rho, 400_000
    rec = run_mmc(lam, mu, 1, n, seed=11)
    wq = rho / (mu - lam)
    mean, se = batch_means(rec["item_waited_s"][WARMUP:])
    print(f"M/M/1 rho={rho}: W_q sim {mean:.4f} analytic {wq:.4f} (SE {se:.4f})")
    assert se / wq < 0.017
    assert abs(mean - wq) < 4 * se
    assert abs(mean - wq) / wq < 0.05
    u = utilization(rec, window_s=1000.0)
    print(f"M/M/1 rho={rho}: utilisation sim {u['mean']:.4f}, peak(1000 s) {u['peak']:.3f}")
    assert abs(u["mean"] - rho) / rho < 0.015
    assert rho < u["peak"] <= 1.0


def test_mm3_erlang_c() -> None:
    """M/M/3 (Erlang C): P(wait) = C(3, a), W_q = C/(3 mu - lam), a = 2.1, rho = 0.7.

    Sample: 1,000,000 customers (first 1,000 dropped). Measured offline over
    10 seeds of 400,000 customers: relative SD 1.8 % for W_q, 0.6 % for
    P(wait), 0.24 % for utilisation; at 1,000,000 that is about 1.15 %, 0.4 %,
    0.15 %. Tolerances 5 % (> 4 SD), 2 % (5 SD), 1.5 %; the batch-means SE of
    W_q must be below 1.5 % and the error within 4 of them.
    """
    c, mu, lam, n = 3, 1.0, 2.1, 1_000_000
    a = lam / mu
    pw = erlang_c(c, a)
    wq = pw / (c * mu - lam)
    rec = run_mmc(lam, mu, c, n, seed=5)
    w = rec["item_waited_s"][WARMUP:]
    p_sim = float(np.mean(w > 0.0))
    mean, se = batch_means(w)
    print(f"M/M/3 a={a}: P(wait) sim {p_sim:.4f} analytic {pw:.4f}; "
          f"W_q sim {mean:.4f} analytic {wq:.4f} (SE {se:.4f})")
    assert abs(p_sim - pw) / pw < 0.02
    assert se / wq < 0.015
    assert abs(mean - wq) < 4 * se
    assert abs(mean - wq) / wq < 0.05
    u = utilization(rec, window_s=1000.0)["mean"]
    assert abs(u - a / c) / (a / c) < 0.015
    # Every operator works: with longest-idle-first dispatch the load is shared.
    share = np.bincount(rec["item_operator"], minlength=c) / n
    assert np.all(np.abs(share - 1 / c) < 0.02)


def run_fan_out(n_vehicles: int, nt_s: float, it_s: float, rounds: int):
    """One operator; vehicle i first asks at i*IT, then NT after each service ends.

    Returns waits[vehicle][round] and the pool's records.
    """
    env = simpy.Environment()
    pool = OperatorPool(env, operators=1, rng=make_rng(0, "operators"))
    waits: list[list[float]] = [[] for _ in range(n_vehicles)]

    def vehicle(v: int):
        yield env.timeout(v * it_s)
        for _ in range(rounds):
            out = yield pool.submit(WorkItem(kind="approve", action_class="retask", vehicle=v,
                                             service=Deterministic(it_s)))
            waits[v].append(out.waited_s)
            yield env.timeout(nt_s)

    for v in range(n_vehicles):
        env.process(vehicle(v))
    env.run()
    return waits, pool.records()


@pytest.mark.parametrize(("nt_s", "it_s"), [(40.0, 10.0), (35.0, 10.0)])
def test_fan_out_bound(nt_s: float, it_s: float) -> None:
    """Olsen & Wood: no vehicle waits iff N <= NT/IT + 1 (deterministic NT, IT).

    Exact (no randomness, all times are sums of exactly representable numbers):
    at the largest N within the bound every wait is exactly 0; one vehicle
    more, the first round (staggered starts) has no waits and every later
    request waits exactly N*IT - NT - IT, the amount by which the operator's
    cycle N*IT exceeds a vehicle's own NT + IT.
    """
    bound = fan_out(nt_s, it_s)
    assert bound == nt_s / it_s + 1
    rounds = 8
    n_ok = math.floor(bound)
    waits, rec = run_fan_out(n_ok, nt_s, it_s, rounds)
    assert all(w == [0.0] * rounds for w in waits)
    assert len(rec["item_end_s"]) == n_ok * rounds

    n_over = n_ok + 1
    waits, rec = run_fan_out(n_over, nt_s, it_s, rounds)
    w = n_over * it_s - nt_s - it_s
    assert w > 0
    assert all(wv == [0.0] + [w] * (rounds - 1) for wv in waits)
    # Saturated: the operator never idles once the first request arrived.
    end = rec["busy_end_s"].max()
    assert rec["busy_end_s"].sum() - rec["busy_start_s"].sum() == end


def test_fan_out_small_case_exact_waits() -> None:
    """N=3, NT=10, IT=10: bound NT/IT+1 = 2, so N is one above it.

    Hand-computed schedule: service [0,10] v0, [10,20] v1, [20,30] v2; v0 asks
    again at 20, served [30,40] (wait 10); v1 asks at 30, served [40,50]
    (wait 10); v2 asks at 40, served [50,60] (wait 10); and so on, every
    later wait N*IT - NT - IT = 10.
    """
    waits, rec = run_fan_out(3, 10.0, 10.0, 3)
    assert waits == [[0.0, 10.0, 10.0]] * 3
    order = np.argsort(rec["item_start_s"])
    assert rec["item_start_s"][order].tolist() == [0.0, 10, 20, 30, 40, 50, 60, 70, 80]
    assert rec["item_vehicle"][order].tolist() == [0, 1, 2] * 3

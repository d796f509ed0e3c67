"""Checks of the textbook queueing formulas in ``sim.analysis.theory`` against hand-computed values.

Hand computations used below:

* M/M/1, λ = 0.5, μ = 1: ρ = 0.5, C = ρ = 0.5, Wq = ρ / (μ - λ) = 1, W = 1 / (μ - λ) = 2,
  Lq = ρ² / (1 - ρ) = 0.5.
* M/M/2, λ = 1, μ = 1: a = 1, Erlang B = (1/2) / (1 + 1 + 1/2) = 1/5, ρ = 1/2,
  C = (1/5) / (1 - (1/2)(4/5)) = 1/3, Wq = C / (cμ - λ) = 1/3.
* M/M/10, λ = 9, μ = 1: the direct sum with exact rationals,
  C = (a^c / c!) (c / (c - a)) / (Σ_{k<c} a^k / k! + (a^c / c!) (c / (c - a))) with a = 9,
  gives C = 0.66873152410769..., and Wq = C / (10 - 9) = C.
* P-K, λ = 0.5, E[S] = 1: exponential (E[S²] = 2) gives Wq = 0.5·2 / (2·0.5) = 1 (the M/M/1
  value); deterministic (E[S²] = 1) gives 0.5.
* Cobham, two exponential classes λ = (0.25, 0.25), E[S] = (1, 1): W0 = 0.5,
  W_0 = 0.5 / (1 · 0.75) = 2/3, W_1 = 0.5 / (0.75 · 0.5) = 4/3.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from sim.analysis.theory import (
    erlang_b,
    erlang_c,
    exponential_second_moment,
    lognormal_second_moment,
    mg1_mean_wait,
    mmc_mean_queue_length,
    mmc_mean_sojourn,
    mmc_mean_wait,
    priority_mg1_mean_waits,
)


def _erlang_c_exact(offered_load: int, servers: int) -> Fraction:
    """Erlang C by the direct textbook sum in exact rational arithmetic (independent check)."""
    a = Fraction(offered_load)
    terms = [a**k / math.factorial(k) for k in range(servers)]
    tail = a**servers / math.factorial(servers) * Fraction(servers) / (servers - a)
    return tail / (sum(terms, Fraction(0)) + tail)


def _erlang_b_recursive(offered_load: float, servers: int) -> float:
    """Erlang B by the classical recursion B(k) = a B(k-1) / (k + a B(k-1)) (independent check)."""
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered_load * blocking / (k + offered_load * blocking)
    return blocking


def test_mm1_closed_forms() -> None:
    """M/M/1 special case: C = ρ, Wq = ρ/(μ-λ), W = 1/(μ-λ), Lq = ρ²/(1-ρ)."""
    lam, mu = 0.5, 1.0
    rho = lam / mu
    assert erlang_c(lam, mu, 1) == pytest.approx(rho)
    assert mmc_mean_wait(lam, mu, 1) == pytest.approx(rho / (mu - lam))
    assert mmc_mean_sojourn(lam, mu, 1) == pytest.approx(1.0 / (mu - lam))
    assert mmc_mean_queue_length(lam, mu, 1) == pytest.approx(rho**2 / (1.0 - rho))


@pytest.mark.parametrize(("lam", "mu"), [(0.1, 1.0), (3.0, 4.0), (0.95, 1.0), (12.0, 30.0)])
def test_mm1_wait_over_range(lam: float, mu: float) -> None:
    """M/M/1 mean wait matches ρ/(μ-λ) across light and heavy loads."""
    assert mmc_mean_wait(lam, mu, 1) == pytest.approx((lam / mu) / (mu - lam), rel=1e-12)


def test_mm2_hand_values() -> None:
    """M/M/2 with λ = μ = 1 gives Erlang B = 1/5, C = 1/3 and Wq = 1/3."""
    assert erlang_b(1.0, 2) == pytest.approx(0.2, rel=1e-12)
    assert erlang_c(1.0, 1.0, 2) == pytest.approx(1.0 / 3.0, rel=1e-12)
    assert mmc_mean_wait(1.0, 1.0, 2) == pytest.approx(1.0 / 3.0, rel=1e-12)


def test_mm10_reference_value() -> None:
    """Erlang C for c = 10, λ = 9, μ = 1 is 0.668732 (exact rational sum), and Wq equals it."""
    exact = float(_erlang_c_exact(9, 10))
    assert exact == pytest.approx(0.6687315241, abs=1e-10)
    assert erlang_c(9.0, 1.0, 10) == pytest.approx(exact, rel=1e-12)
    assert mmc_mean_wait(9.0, 1.0, 10) == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize(("offered_load", "servers"), [(1, 3), (4, 5), (17, 20), (45, 50)])
def test_erlang_c_matches_exact_sum(offered_load: int, servers: int) -> None:
    """The Poisson-ratio Erlang C agrees with the exact rational textbook sum."""
    exact = float(_erlang_c_exact(offered_load, servers))
    assert erlang_c(float(offered_load), 1.0, servers) == pytest.approx(exact, rel=1e-10)


@pytest.mark.parametrize(("offered_load", "servers"), [(0.5, 1), (90.0, 100), (950.0, 1000)])
def test_erlang_b_matches_recursion_for_large_systems(offered_load: float, servers: int) -> None:
    """Erlang B stays accurate where naive factorials would overflow (vs. the recursion)."""
    expected = _erlang_b_recursive(offered_load, servers)
    assert erlang_b(offered_load, servers) == pytest.approx(expected, rel=1e-9)


def test_erlang_c_depends_only_on_offered_load_and_servers() -> None:
    """Scaling λ and μ together leaves C unchanged and divides Wq by the scale factor."""
    assert erlang_c(18.0, 2.0, 10) == pytest.approx(erlang_c(9.0, 1.0, 10), rel=1e-12)
    assert mmc_mean_wait(18.0, 2.0, 10) == pytest.approx(mmc_mean_wait(9.0, 1.0, 10) / 2.0)


def test_little_law_and_sojourn_identity() -> None:
    """Lq = λ Wq and W = Wq + 1/μ hold for a multi-server queue."""
    lam, mu, c = 9.0, 1.0, 10
    wq = mmc_mean_wait(lam, mu, c)
    assert mmc_mean_queue_length(lam, mu, c) == pytest.approx(lam * wq)
    assert mmc_mean_sojourn(lam, mu, c) == pytest.approx(wq + 1.0 / mu)


@pytest.mark.parametrize(
    ("lam", "mu", "c"),
    [(1.0, 1.0, 1), (10.0, 1.0, 10), (11.0, 1.0, 10), (0.0, 1.0, 1), (-1.0, 1.0, 1),
     (1.0, 0.0, 2), (1.0, 1.0, 0), (1.0, 1.0, 2.5), (math.nan, 1.0, 2)],
)  # fmt: skip
def test_mmc_rejects_unstable_or_invalid(lam: float, mu: float, c: int) -> None:
    """M/M/c functions raise ValueError for ρ >= 1 and non-positive or non-integer inputs."""
    for func in (erlang_c, mmc_mean_wait, mmc_mean_sojourn, mmc_mean_queue_length):
        with pytest.raises(ValueError):
            func(lam, mu, c)


def test_pk_exponential_equals_mm1() -> None:
    """P-K with exponential service (E[S²] = 2/μ²) equals the M/M/1 mean wait."""
    for lam, mu in [(0.5, 1.0), (2.0, 2.5), (0.01, 3.0)]:
        mean = 1.0 / mu
        pk = mg1_mean_wait(lam, mean, exponential_second_moment(mean))
        assert pk == pytest.approx(mmc_mean_wait(lam, mu, 1), rel=1e-12)


def test_pk_hand_values() -> None:
    """P-K at λ = 0.5, E[S] = 1: Wq = 1 for exponential and 0.5 for deterministic service."""
    assert mg1_mean_wait(0.5, 1.0, 2.0) == pytest.approx(1.0)
    assert mg1_mean_wait(0.5, 1.0, 1.0) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("lam", "mean", "second"), [(1.0, 1.0, 2.0), (0.5, 1.0, 0.5), (0.0, 1.0, 2.0), (0.5, 0.0, 1.0)]
)
def test_pk_rejects_invalid(lam: float, mean: float, second: float) -> None:
    """P-K raises ValueError for ρ >= 1, E[S²] < E[S]², or non-positive inputs."""
    with pytest.raises(ValueError):
        mg1_mean_wait(lam, mean, second)


def test_cobham_single_class_equals_pk() -> None:
    """Cobham's formula with one class reduces to Pollaczek–Khinchine."""
    lam, mean, second = 0.7, 1.2, lognormal_second_moment(1.2, 0.9)
    (wait,) = priority_mg1_mean_waits([lam], [mean], [second])
    assert wait == pytest.approx(mg1_mean_wait(lam, mean, second), rel=1e-12)


def test_cobham_two_class_hand_values() -> None:
    """Two exponential classes λ = (0.25, 0.25), E[S] = 1 give W = (2/3, 4/3)."""
    waits = priority_mg1_mean_waits([0.25, 0.25], [1.0, 1.0], [2.0, 2.0])
    assert waits == pytest.approx([2.0 / 3.0, 4.0 / 3.0], rel=1e-12)


def test_cobham_conserves_work_with_equal_service() -> None:
    """With identical service laws the λ-weighted mean priority wait equals the FIFO P-K wait."""
    rates = [0.1, 0.3, 0.2]
    mean, second = 1.0, lognormal_second_moment(1.0, 2.0)
    waits = priority_mg1_mean_waits(rates, [mean] * 3, [second] * 3)
    weighted = sum(r * w for r, w in zip(rates, waits, strict=True)) / sum(rates)
    assert weighted == pytest.approx(mg1_mean_wait(sum(rates), mean, second), rel=1e-12)
    assert waits == sorted(waits)


def test_cobham_rejects_invalid() -> None:
    """Cobham raises ValueError on mismatched lengths, empty input, overload, or bad rates."""
    with pytest.raises(ValueError):
        priority_mg1_mean_waits([0.1, 0.2], [1.0], [2.0, 2.0])
    with pytest.raises(ValueError):
        priority_mg1_mean_waits([], [], [])
    with pytest.raises(ValueError):
        priority_mg1_mean_waits([0.5, 0.5], [1.0, 1.0], [2.0, 2.0])
    with pytest.raises(ValueError):
        priority_mg1_mean_waits([-0.1, 0.2], [1.0, 1.0], [2.0, 2.0])
    with pytest.raises(ValueError):
        priority_mg1_mean_waits([0.0, 0.0], [1.0, 1.0], [2.0, 2.0])


def test_second_moment_helpers() -> None:
    """E[S²] helpers: 2·mean² for exponential and sd² + mean² for lognormal."""
    assert exponential_second_moment(3.0) == pytest.approx(18.0)
    assert lognormal_second_moment(2.0, 1.0) == pytest.approx(5.0)
    assert lognormal_second_moment(2.0, 0.0) == pytest.approx(4.0)
    with pytest.raises(ValueError):
        lognormal_second_moment(2.0, -1.0)
    with pytest.raises(ValueError):
        exponential_second_moment(0.0)

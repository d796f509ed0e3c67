"""Textbook queueing formulas used to validate the simulation.

Every function here is a pure function of floats. Rates and times are in whatever unit the
caller uses consistently; in this project that is *per day* for rates and *days* for times, so
``arrival_rate`` is in cases/day, ``service_rate`` in cases/day per server, ``service_mean`` in
days and ``service_second_moment`` in days².

Formulas:

* M/M/c: Erlang C probability of waiting, mean wait in queue, mean sojourn, mean queue length.
* M/G/1: Pollaczek–Khinchine mean wait in queue.
* Non-preemptive priority M/G/1: Cobham's formula for the mean wait in queue of each class.

The Erlang C value is computed through the Erlang B formula written as a ratio of Poisson
probabilities, ``B = pmf(c; a) / cdf(c; a)`` with offered load ``a = λ/μ``, which avoids the
overflowing factorials and powers of the direct sum for large ``c``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

from scipy.stats import poisson

__all__ = [
    "erlang_b",
    "erlang_c",
    "exponential_second_moment",
    "lognormal_second_moment",
    "mg1_mean_wait",
    "mmc_mean_queue_length",
    "mmc_mean_sojourn",
    "mmc_mean_wait",
    "priority_mg1_mean_waits",
]


def _check_positive(name: str, value: float) -> None:
    """Raise ``ValueError`` unless ``value`` is a finite number greater than zero.

    Args:
        name: Parameter name used in the error message.
        value: Value to check.

    Raises:
        ValueError: If ``value`` is not finite or not strictly positive.
    """
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite positive number, got {value!r}")


def _check_servers(servers: int) -> None:
    """Raise ``ValueError`` unless ``servers`` is a positive whole number.

    Args:
        servers: Number of parallel servers.

    Raises:
        ValueError: If ``servers`` is not an integer of at least 1.
    """
    if isinstance(servers, bool) or not isinstance(servers, numbers.Integral) or servers < 1:
        raise ValueError(f"servers must be an integer >= 1, got {servers!r}")


def _mmc_checked(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Validate M/M/c parameters and return the per-server utilisation ``ρ = λ / (c μ)``.

    Args:
        arrival_rate: Arrival rate λ (customers per time unit).
        service_rate: Service rate μ of one server (customers per time unit).
        servers: Number of servers c.

    Returns:
        Utilisation ρ (dimensionless), guaranteed to lie in (0, 1).

    Raises:
        ValueError: If any input is non-positive or the queue is unstable (ρ >= 1).
    """
    _check_positive("arrival_rate", arrival_rate)
    _check_positive("service_rate", service_rate)
    _check_servers(servers)
    rho = arrival_rate / (servers * service_rate)
    if rho >= 1:
        raise ValueError(f"unstable queue: utilisation rho = {rho:.6g} >= 1")
    return rho


def erlang_b(offered_load: float, servers: int) -> float:
    """Erlang B blocking probability of an M/M/c/c loss system.

    ``B(c, a) = (a^c / c!) / Σ_{k=0..c} a^k / k!``, evaluated as the ratio of the Poisson
    probability mass at ``c`` to the Poisson distribution function at ``c`` (mean ``a``).

    Args:
        offered_load: Offered load ``a = λ/μ`` (erlangs, dimensionless).
        servers: Number of servers c.

    Returns:
        Probability that an arrival finds all servers busy (dimensionless, in (0, 1)).

    Raises:
        ValueError: If ``offered_load`` is not positive or ``servers`` is not an integer >= 1.

    Example:
        With ``a = 1`` and ``c = 1``: ``B = 1 / (1 + 1) = 0.5``.
    """
    _check_positive("offered_load", offered_load)
    _check_servers(servers)
    return float(poisson.pmf(servers, offered_load) / poisson.cdf(servers, offered_load))


def erlang_c(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Erlang C probability that an arrival has to wait in an M/M/c queue.

    ``C = B / (1 - ρ (1 - B))`` with ``B`` the Erlang B value for offered load ``a = λ/μ`` and
    ``ρ = a / c``.

    Args:
        arrival_rate: Arrival rate λ (customers per time unit, e.g. per day).
        service_rate: Service rate μ of one server (customers per time unit).
        servers: Number of servers c.

    Returns:
        Probability of waiting (dimensionless, in (0, 1)).

    Raises:
        ValueError: If any input is non-positive, ``servers`` is not an integer, or
            ``ρ = λ / (c μ) >= 1``.

    Examples:
        * M/M/1: ``C = ρ``.
        * M/M/2 with λ = 1, μ = 1: ``a = 1``, ``B = (1/2) / (1 + 1 + 1/2) = 1/5``,
          ``ρ = 1/2``, ``C = (1/5) / (1 - (1/2)(4/5)) = 1/3``.
        * c = 10, λ = 9, μ = 1: ``C ≈ 0.668732``.
    """
    rho = _mmc_checked(arrival_rate, service_rate, servers)
    blocking = erlang_b(arrival_rate / service_rate, servers)
    return blocking / (1.0 - rho * (1.0 - blocking))


def mmc_mean_wait(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Mean time spent waiting in queue (before service), Wq, in an M/M/c queue.

    ``Wq = C / (c μ - λ)``.

    Args:
        arrival_rate: Arrival rate λ (customers per time unit, e.g. per day).
        service_rate: Service rate μ of one server (customers per time unit).
        servers: Number of servers c.

    Returns:
        Mean wait in queue, in the reciprocal of the rate unit (days when rates are per day).

    Raises:
        ValueError: As for :func:`erlang_c`.

    Examples:
        * M/M/1: ``Wq = ρ / (μ - λ)``; λ = 0.5, μ = 1 gives ``Wq = 1``.
        * M/M/2 with λ = 1, μ = 1: ``Wq = (1/3) / (2 - 1) = 1/3``.
    """
    probability_wait = erlang_c(arrival_rate, service_rate, servers)
    return probability_wait / (servers * service_rate - arrival_rate)


def mmc_mean_sojourn(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Mean time in system (wait plus service), W, in an M/M/c queue.

    ``W = Wq + 1/μ``.

    Args:
        arrival_rate: Arrival rate λ (customers per time unit, e.g. per day).
        service_rate: Service rate μ of one server (customers per time unit).
        servers: Number of servers c.

    Returns:
        Mean sojourn time, in the reciprocal of the rate unit (days when rates are per day).

    Raises:
        ValueError: As for :func:`erlang_c`.

    Example:
        M/M/1 with λ = 0.5, μ = 1: ``W = 1 / (μ - λ) = 2``.
    """
    return mmc_mean_wait(arrival_rate, service_rate, servers) + 1.0 / service_rate


def mmc_mean_queue_length(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Mean number of customers waiting in queue (not in service), Lq, in an M/M/c queue.

    ``Lq = λ Wq`` (Little's law).

    Args:
        arrival_rate: Arrival rate λ (customers per time unit, e.g. per day).
        service_rate: Service rate μ of one server (customers per time unit).
        servers: Number of servers c.

    Returns:
        Mean queue length (customers).

    Raises:
        ValueError: As for :func:`erlang_c`.

    Example:
        M/M/1 with λ = 0.5, μ = 1: ``Lq = ρ² / (1 - ρ) = 0.5``.
    """
    return arrival_rate * mmc_mean_wait(arrival_rate, service_rate, servers)


def _check_second_moment(service_mean: float, service_second_moment: float) -> None:
    """Check that a service-time mean and second moment describe a real distribution.

    Args:
        service_mean: Mean service time E[S] (time units).
        service_second_moment: Second moment E[S²] (time units squared).

    Raises:
        ValueError: If either is non-positive or ``E[S²] < E[S]²`` (negative variance).
    """
    _check_positive("service_mean", service_mean)
    _check_positive("service_second_moment", service_second_moment)
    # Allow a relative rounding slack so that deterministic service (E[S²] == E[S]²) passes.
    if service_second_moment < service_mean**2 * (1.0 - 1e-12):
        raise ValueError(
            f"service_second_moment {service_second_moment!r} is below "
            f"service_mean² {service_mean**2!r}: the variance would be negative"
        )


def mg1_mean_wait(arrival_rate: float, service_mean: float, service_second_moment: float) -> float:
    """Pollaczek–Khinchine mean wait in queue of an M/G/1 queue.

    ``Wq = λ E[S²] / (2 (1 - ρ))`` with ``ρ = λ E[S]``.

    Args:
        arrival_rate: Arrival rate λ (customers per time unit, e.g. per day).
        service_mean: Mean service time E[S] (time units, e.g. days).
        service_second_moment: Second moment of the service time E[S²] (time units squared).

    Returns:
        Mean wait in queue (time units).

    Raises:
        ValueError: If any input is non-positive, ``E[S²] < E[S]²``, or ``ρ >= 1``.

    Examples:
        * Exponential service (E[S²] = 2 E[S]²) reduces to M/M/1: λ = 0.5, E[S] = 1, E[S²] = 2
          gives ``Wq = 0.5 · 2 / (2 · 0.5) = 1``.
        * Deterministic service (E[S²] = E[S]²) halves it: ``Wq = 0.5``.
    """
    _check_positive("arrival_rate", arrival_rate)
    _check_second_moment(service_mean, service_second_moment)
    rho = arrival_rate * service_mean
    if rho >= 1:
        raise ValueError(f"unstable queue: utilisation rho = {rho:.6g} >= 1")
    return arrival_rate * service_second_moment / (2.0 * (1.0 - rho))


def priority_mg1_mean_waits(
    arrival_rates: Sequence[float],
    service_means: Sequence[float],
    service_second_moments: Sequence[float],
) -> list[float]:
    """Mean wait in queue per class of a non-preemptive priority M/G/1 queue (Cobham).

    Class 0 has the highest priority. With ``ρ_i = λ_i E[S_i]``, ``σ_k = Σ_{i≤k} ρ_i``
    (``σ_{-1} = 0``) and mean residual work ``W0 = Σ_i λ_i E[S_i²] / 2``:

    ``W_k = W0 / ((1 - σ_{k-1}) (1 - σ_k))``.

    Args:
        arrival_rates: Arrival rate λ_k of each class (customers per time unit). Zero is
            allowed for a class with no traffic; its value is then the wait a hypothetical
            arrival of that class would see.
        service_means: Mean service time E[S_k] of each class (time units).
        service_second_moments: Second moment E[S_k²] of each class (time units squared).

    Returns:
        Mean wait in queue of each class (time units), in class order.

    Raises:
        ValueError: If the sequences are empty or of unequal length, a rate is negative, all
            rates are zero, a moment is invalid, or the total load ``σ_K >= 1``.

    Examples:
        * One class reduces to Pollaczek–Khinchine.
        * Two exponential classes with λ = (0.25, 0.25), E[S] = (1, 1), E[S²] = (2, 2):
          ``W0 = 0.5``, ``σ = (0.25, 0.5)``, so ``W_0 = 0.5 / 0.75 = 2/3`` and
          ``W_1 = 0.5 / (0.75 · 0.5) = 4/3``. Their λ-weighted mean, 1, equals the M/M/1 FIFO
          wait at λ = 0.5 (work conservation with equal service distributions).
    """
    n_classes = len(arrival_rates)
    if n_classes == 0:
        raise ValueError("at least one class is required")
    if len(service_means) != n_classes or len(service_second_moments) != n_classes:
        raise ValueError(
            "arrival_rates, service_means and service_second_moments must have equal length, "
            f"got {n_classes}, {len(service_means)}, {len(service_second_moments)}"
        )
    for k, (rate, mean, second) in enumerate(
        zip(arrival_rates, service_means, service_second_moments, strict=True)
    ):
        if not math.isfinite(rate) or rate < 0:
            raise ValueError(f"arrival_rates[{k}] must be finite and >= 0, got {rate!r}")
        _check_second_moment(mean, second)
    if not any(rate > 0 for rate in arrival_rates):
        raise ValueError("at least one class must have a positive arrival rate")

    loads = [rate * mean for rate, mean in zip(arrival_rates, service_means, strict=True)]
    total_load = math.fsum(loads)
    if total_load >= 1:
        raise ValueError(f"unstable queue: total utilisation {total_load:.6g} >= 1")

    residual = 0.5 * math.fsum(
        rate * second for rate, second in zip(arrival_rates, service_second_moments, strict=True)
    )
    waits: list[float] = []
    sigma_before = 0.0
    for load in loads:
        sigma = sigma_before + load
        waits.append(residual / ((1.0 - sigma_before) * (1.0 - sigma)))
        sigma_before = sigma
    return waits


def exponential_second_moment(mean: float) -> float:
    """Second moment of an exponential distribution: ``E[S²] = 2 mean²``.

    Args:
        mean: Mean of the distribution (time units, e.g. days).

    Returns:
        Second moment (time units squared).

    Raises:
        ValueError: If ``mean`` is not positive.

    Example:
        ``exponential_second_moment(3.0) == 18.0``.
    """
    _check_positive("mean", mean)
    return 2.0 * mean**2


def lognormal_second_moment(mean: float, sd: float) -> float:
    """Second moment of a lognormal distribution given its mean and standard deviation.

    ``E[S²] = sd² + mean²``. This identity holds for any distribution; the name records the
    intended use with service times specified as a lognormal by mean and sd.

    Args:
        mean: Mean of the distribution (time units, e.g. days), not of its logarithm.
        sd: Standard deviation of the distribution (time units), not of its logarithm.

    Returns:
        Second moment (time units squared).

    Raises:
        ValueError: If ``mean`` is not positive or ``sd`` is negative.

    Example:
        ``lognormal_second_moment(2.0, 1.0) == 5.0``.
    """
    _check_positive("mean", mean)
    if not math.isfinite(sd) or sd < 0:
        raise ValueError(f"sd must be finite and >= 0, got {sd!r}")
    return sd**2 + mean**2

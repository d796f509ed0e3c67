"""Reference M/M/c queues written in bare SimPy and in Ciw, for speed and accuracy comparisons.

Both functions simulate the same single-station M/M/c queue (Poisson arrivals, exponential
service, ``servers`` identical servers, FIFO, unlimited waiting room), starting empty at time 0
and stopping at ``horizon``. They report the customers whose service finished before the
horizon and the mean of those customers' waits in queue, plus the wall time of the run itself
(model construction and result extraction are excluded).

Rates are per time unit and times are in the same unit (per day and days in this project). The
mean wait can be compared with :func:`~sim.analysis.theory.mmc_mean_wait`; there is no warm-up, so
the estimate carries the (small, for long horizons) bias of starting from an empty system.

Importing this module has no side effects. Example::

    from benchmarks.baselines import bare_simpy_mmc, ciw_mmc

    result = bare_simpy_mmc(arrival_rate=9.0, service_rate=1.0, servers=10,
                            horizon=10_000.0, seed=1)
    print(result.customers / result.seconds, "customers per second")
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Generator
from dataclasses import dataclass

import ciw
import numpy as np
import simpy

__all__ = ["BaselineResult", "bare_simpy_mmc", "ciw_mmc"]


@dataclass(frozen=True, slots=True)
class BaselineResult:
    """Outcome of one baseline M/M/c run.

    Attributes:
        customers: Number of customers whose service completed before the horizon.
        mean_wait: Mean wait in queue (time from arrival to start of service) of those
            customers, in the caller's time unit (days in this project); NaN if none completed.
        seconds: Wall-clock time of the simulation run, in seconds.
    """

    customers: int
    mean_wait: float
    seconds: float


def _check_inputs(arrival_rate: float, service_rate: float, servers: int, horizon: float) -> None:
    """Validate the parameters shared by both baselines.

    Args:
        arrival_rate: Arrival rate λ (customers per time unit).
        service_rate: Service rate μ of one server (customers per time unit).
        servers: Number of servers c.
        horizon: Simulated run length (time units).

    Raises:
        ValueError: If a rate or the horizon is not a finite positive number, or ``servers`` is
            not an integer of at least 1.
    """
    for name, value in (
        ("arrival_rate", arrival_rate),
        ("service_rate", service_rate),
        ("horizon", horizon),
    ):
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a finite positive number, got {value!r}")
    if isinstance(servers, bool) or not isinstance(servers, numbers.Integral) or servers < 1:
        raise ValueError(f"servers must be an integer >= 1, got {servers!r}")


def _mean(values: list[float]) -> float:
    """Arithmetic mean of ``values``, or NaN for an empty list.

    Args:
        values: Sample values.

    Returns:
        The mean, in the unit of the values.
    """
    return math.fsum(values) / len(values) if values else math.nan


def bare_simpy_mmc(
    arrival_rate: float, service_rate: float, servers: int, horizon: float, seed: int
) -> BaselineResult:
    """Simulate an M/M/c queue in idiomatic bare SimPy.

    One process generates arrivals; each arrival spawns a customer process that requests a
    ``simpy.Resource`` of capacity ``servers``, holds it for an exponential service time and
    releases it. Random numbers come from a single ``np.random.default_rng(seed)`` Generator.

    Args:
        arrival_rate: Arrival rate λ (customers per time unit, e.g. per day).
        service_rate: Service rate μ of one server (customers per time unit).
        servers: Number of servers c.
        horizon: Simulated run length (time units, e.g. days).
        seed: Seed of the numpy random Generator.

    Returns:
        Completed customers, their mean wait in queue (time units) and the run's wall time (s).

    Raises:
        ValueError: If the parameters are invalid (see :func:`_check_inputs`).
    """
    _check_inputs(arrival_rate, service_rate, servers, horizon)
    rng = np.random.default_rng(seed)
    mean_interarrival = 1.0 / arrival_rate
    mean_service = 1.0 / service_rate

    env = simpy.Environment()
    station = simpy.Resource(env, capacity=servers)
    waits: list[float] = []

    def customer() -> Generator[simpy.Event, object, None]:
        """Queue for a server, be served, and record the wait once service ends."""
        arrived = env.now
        with station.request() as request:
            yield request
            wait = env.now - arrived
            yield env.timeout(rng.exponential(mean_service))
        waits.append(wait)

    def arrivals() -> Generator[simpy.Event, object, None]:
        """Generate a Poisson stream of customers."""
        while True:
            yield env.timeout(rng.exponential(mean_interarrival))
            env.process(customer())

    env.process(arrivals())
    start = time.perf_counter()
    env.run(until=horizon)
    seconds = time.perf_counter() - start
    return BaselineResult(customers=len(waits), mean_wait=_mean(waits), seconds=seconds)


def ciw_mmc(
    arrival_rate: float, service_rate: float, servers: int, horizon: float, seed: int
) -> BaselineResult:
    """Simulate an M/M/c queue with Ciw 3.x.

    Note that ``ciw.seed`` reseeds Ciw's generators, which include the global state of the
    standard-library ``random`` module (Ciw's exponential sampler draws from it).

    Args:
        arrival_rate: Arrival rate λ (customers per time unit, e.g. per day).
        service_rate: Service rate μ of one server (customers per time unit).
        servers: Number of servers c.
        horizon: Simulated run length (time units, e.g. days).
        seed: Seed passed to ``ciw.seed``.

    Returns:
        Completed customers, their mean wait in queue (time units) and the run's wall time (s).

    Raises:
        ValueError: If the parameters are invalid (see :func:`_check_inputs`).
    """
    _check_inputs(arrival_rate, service_rate, servers, horizon)
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=arrival_rate)],
        service_distributions=[ciw.dists.Exponential(rate=service_rate)],
        number_of_servers=[servers],
    )
    ciw.seed(seed)
    simulation = ciw.Simulation(network)
    start = time.perf_counter()
    simulation.simulate_until_max_time(horizon)
    seconds = time.perf_counter() - start
    waits = [
        record.waiting_time
        for record in simulation.get_all_records()
        if record.record_type == "service"
    ]
    return BaselineResult(customers=len(waits), mean_wait=_mean(waits), seconds=seconds)

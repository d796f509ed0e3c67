"""Throughput of polit-sim on an M/M/c queue, against bare SimPy and Ciw.

The configuration is SPEC's M/M/c case with c = 10 and ρ = 0.9: arrivals at λ = 9 a day, ten
full-time detectives each supplying 1 hour of case work a day (``hours_per_week: 7``), one team
stage of exponential effort with a mean of 1 hour (so μ = 1 a day), ``team_queue`` allocation
with a cap of one case per detective, ``oldest_first`` work order, no leave and no warm-up.

polit-sim is timed end to end through :func:`~sim.engine.replication.run_replication`
(drawing the referrals, the run, building the records); the scenario is validated once,
before timing. The two references time only their run (see :mod:`benchmarks.baselines`).
Customers are services completed before the horizon; throughput is customers per wall-clock second.

The machine is shared, so the three are interleaved over several rounds (a different seed each
round, the order rotated each round) and the ratios are reported as medians with min–max.

Run from the repository root::

    python -m benchmarks.mmc_throughput --horizon-days 10000 --rounds 5 --json results/mmc.json
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np

from benchmarks.baselines import BaselineResult, bare_simpy_mmc, ciw_mmc
from sim.analysis.statistics import mean_ci
from sim.analysis.theory import mmc_mean_wait
from sim.engine.replication import run_replication
from sim.experiments.results import package_versions
from sim.scenario import Scenario, validate_mapping

__all__ = ["mmc_scenario", "polit_sim_mmc", "run_rounds"]

ARRIVAL_RATE = 9.0
"""λ, referrals per day."""
SERVICE_RATE = 1.0
"""μ of one detective, cases per day."""
SERVERS = 10
"""c, full-time detectives."""

Runner = Callable[[float, float, int, float, int], BaselineResult]


def mmc_scenario(
    arrival_rate: float, service_rate: float, servers: int, horizon_days: float
) -> Scenario:
    """SPEC's M/M/c configuration as a validated scenario.

    A detective supplies ``hours_per_week / 7`` = 1 hour a day, so an exponential effort with a
    mean of ``1 / service_rate`` hours gives exponential service at ``service_rate`` a day.

    Args:
        arrival_rate: λ, referrals per day.
        service_rate: μ of one detective, cases per day.
        servers: c, the number of full-time detectives.
        horizon_days: simulated time (days).

    Returns:
        The scenario (no leave, no warm-up, no sergeant).
    """
    return validate_mapping(
        {
            "name": "mmc_benchmark",
            "horizon_days": horizon_days,
            "warmup_days": 0,
            "replications": 1,
            "team": {
                "hours_per_week": 7,
                "detectives": [{"name": "dc", "count": servers, "fte": 1.0}],
                "sergeants": 0,
            },
            "cases": {
                "arrivals": {"rate_per_year": arrival_rate * 365.0},
                "grades": {"medium": {"share": 1.0, "target_days": 30}},
                "stages": [
                    {
                        "name": "service",
                        "effort_hours": {"dist": "exponential", "mean": 1.0 / service_rate},
                    }
                ],
            },
            "policies": {
                "allocation": {"rule": "team_queue", "max_cases_per_detective": 1},
                "work_order": {"rule": "oldest_first"},
            },
        },
        "mmc_benchmark",
    )


def polit_sim_mmc(
    arrival_rate: float, service_rate: float, servers: int, horizon: float, seed: int
) -> BaselineResult:
    """Run the M/M/c scenario once in polit-sim, timed end to end.

    Args:
        arrival_rate: λ, referrals per day.
        service_rate: μ of one detective, cases per day.
        servers: c, full-time detectives.
        horizon: simulated time (days).
        seed: the root seed (replication 0).

    Returns:
        Cases closed before the horizon, their mean wait to first work (days), and the wall time
        of ``run_replication`` (s).
    """
    scenario = mmc_scenario(arrival_rate, service_rate, servers, horizon)
    start = time.perf_counter()
    records = run_replication(scenario, 0, seed)
    seconds = time.perf_counter() - start
    closed = ~np.isnan(records.cases["closed_day"])
    waits = records.cases["first_work_day"][closed] - records.cases["arrival_day"][closed]
    mean_wait = float(waits.mean()) if waits.size else math.nan
    return BaselineResult(customers=int(closed.sum()), mean_wait=mean_wait, seconds=seconds)


RUNNERS: dict[str, Runner] = {
    "polit-sim": polit_sim_mmc,
    "simpy": bare_simpy_mmc,
    "ciw": ciw_mmc,
}


def _gc_paused(runner: Runner) -> Runner:
    """``runner`` with Python's cyclic garbage collector paused for the whole call.

    A what-if: polit-sim already pauses the collector during ``env.run``, but not while it turns
    the referral arrays into lists nor while it builds the records, and the collector's passes
    over the run's objects then cost about as much as the run itself. Pausing it around the
    whole call (for every implementation alike, so the comparison stays fair) measures what
    widening the engine's pause would give.
    """

    def paused(
        arrival_rate: float, service_rate: float, servers: int, horizon: float, seed: int
    ) -> BaselineResult:
        collecting = gc.isenabled()
        gc.disable()
        try:
            return runner(arrival_rate, service_rate, servers, horizon, seed)
        finally:
            if collecting:
                gc.enable()
            gc.collect()  # untimed: the next run starts from a clean heap

    return paused


def run_rounds(
    horizon_days: float, rounds: int, seed: int, *, gc_paused: bool = False
) -> list[dict[str, BaselineResult]]:
    """Run the three implementations ``rounds`` times, interleaved.

    Round ``r`` uses seed ``seed + r`` for all three and starts with a different implementation
    each round, so that a slow spell on the shared machine does not always hit the same one. A
    short untimed run of each comes first.

    Args:
        horizon_days: simulated time of every run (days).
        rounds: number of rounds.
        seed: the first round's seed.
        gc_paused: pause the cyclic garbage collector around every timed call (a what-if).

    Returns:
        One mapping per round, implementation name to its result.
    """
    runners = {n: _gc_paused(r) for n, r in RUNNERS.items()} if gc_paused else dict(RUNNERS)
    names = list(runners)
    for name in names:  # untimed: first calls pay for lazy imports and cold caches
        runners[name](ARRIVAL_RATE, SERVICE_RATE, SERVERS, 50.0, seed)
    out: list[dict[str, BaselineResult]] = []
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        results: dict[str, BaselineResult] = {}
        for name in order:
            results[name] = runners[name](
                ARRIVAL_RATE, SERVICE_RATE, SERVERS, horizon_days, seed + r
            )
        out.append({name: results[name] for name in names})
    return out


def _spread(values: list[float]) -> dict[str, float]:
    """Median, min and max of ``values``."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarise(
    rounds: list[dict[str, BaselineResult]], horizon_days: float, *, gc_paused: bool = False
) -> dict[str, Any]:
    """Throughputs, ratios and mean waits over the rounds, as JSON-able data.

    Args:
        rounds: the output of :func:`run_rounds`.
        horizon_days: the runs' simulated time (days).
        gc_paused: whether the runs paused the garbage collector (recorded, not used).

    Returns:
        Per implementation: customers per second, mean wait (days) with a 95% interval over the
        rounds (each round one independent run), and customers per round; the
        ratios polit-sim/Ciw and polit-sim/SimPy per round with median and min–max; Erlang C.
    """
    per: dict[str, Any] = {}
    for name in RUNNERS:
        rates = [r[name].customers / r[name].seconds for r in rounds]
        waits = [r[name].mean_wait for r in rounds]
        _mean, _sd, low, high, _n = mean_ci(waits)
        per[name] = {
            "customers_per_second": _spread(rates),
            "customers_per_second_rounds": rates,
            "seconds_rounds": [r[name].seconds for r in rounds],
            "customers_rounds": [r[name].customers for r in rounds],
            "mean_wait_days": statistics.fmean(waits),
            "mean_wait_days_ci95": [low, high],
            "mean_wait_days_rounds": waits,
        }
    ratios: dict[str, Any] = {}
    for other in ("ciw", "simpy"):
        values = [
            (r["polit-sim"].customers / r["polit-sim"].seconds)
            / (r[other].customers / r[other].seconds)
            for r in rounds
        ]
        ratios[f"polit-sim/{other}"] = {**_spread(values), "rounds": values}
    return {
        "configuration": {
            "arrival_rate_per_day": ARRIVAL_RATE,
            "service_rate_per_day": SERVICE_RATE,
            "servers": SERVERS,
            "utilisation": ARRIVAL_RATE / (SERVERS * SERVICE_RATE),
            "horizon_days": horizon_days,
            "rounds": len(rounds),
            "gc_paused": gc_paused,
        },
        "erlang_c_mean_wait_days": mmc_mean_wait(ARRIVAL_RATE, SERVICE_RATE, SERVERS),
        "implementations": per,
        "ratios": ratios,
        "targets": TARGETS,
        "targets_apply": gc_paused,
    }


TARGETS = {"polit-sim/ciw": 3.0, "polit-sim/simpy": 1.5}
"""Issue 11's targets, for the collector treated alike for all three (``--gc-paused``)."""


def machine() -> dict[str, Any]:
    """Where and when the figures were measured."""
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "packages": package_versions(),
    }


@click.command()
@click.option("--horizon-days", default=10_000.0, show_default=True, help="simulated days per run")
@click.option("--rounds", default=5, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=1, show_default=True, help="seed of the first round")
@click.option(
    "--gc-paused",
    is_flag=True,
    help="what-if: pause the cyclic garbage collector around every timed call (all three)",
)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path))
def main(
    horizon_days: float, rounds: int, seed: int, gc_paused: bool, json_path: Path | None
) -> None:
    """Compare polit-sim's M/M/c throughput (c=10, ρ=0.9) with bare SimPy and Ciw."""
    runs = run_rounds(horizon_days, rounds, seed, gc_paused=gc_paused)
    summary = summarise(runs, horizon_days, gc_paused=gc_paused)
    click.echo(
        f"M/M/c, c={SERVERS}, λ={ARRIVAL_RATE:g}/day, μ={SERVICE_RATE:g}/day, "
        f"ρ={ARRIVAL_RATE / SERVERS / SERVICE_RATE:g}, horizon {horizon_days:g} days, "
        f"{rounds} rounds" + (", garbage collector paused around every run" if gc_paused else "")
    )
    click.echo(
        f"{'':10} {'customers/s median (min–max)':>32} {'customers':>10} "
        f"{'mean wait, days (95% CI)':>26}"
    )
    for name, row in summary["implementations"].items():
        cps = row["customers_per_second"]
        span = f"{cps['median']:,.0f} ({cps['min']:,.0f}–{cps['max']:,.0f})"
        customers = statistics.median(row["customers_rounds"])
        low, high = row["mean_wait_days_ci95"]
        wait = f"{row['mean_wait_days']:.4f} ({low:.4f}–{high:.4f})"
        click.echo(f"{name:10} {span:>32} {customers:>10,.0f} {wait:>26}")
    click.echo(f"{'Erlang C':10} {'':>32} {'':>10} {summary['erlang_c_mean_wait_days']:>26.4f}")
    for name, ratio in summary["ratios"].items():
        target = summary["targets"][name]
        if gc_paused:
            verdict = "meets" if ratio["median"] >= target else "misses"
        else:  # polit-sim pauses its own collector, the others do not: not the fair comparison
            verdict = "see --gc-paused"
        click.echo(
            f"{name}: median {ratio['median']:.2f} (min {ratio['min']:.2f}, max "
            f"{ratio['max']:.2f}); target ≥ {target:g} with the collector paused for all:"
            f" {verdict}"
        )
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"machine": machine(), **summary}
        json_path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        click.echo(f"wrote {json_path}")


if __name__ == "__main__":
    main()

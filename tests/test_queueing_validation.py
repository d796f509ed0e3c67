"""The engine against queueing theory, asserted within confidence intervals from replications.

With leave off, one team stage, ``team_queue`` with a cap of one case per detective and a fixed
work order, the team is a textbook queue: referrals are the Poisson arrivals, detectives the
servers, the stage's effort the service. ``hours_per_week: 7`` makes a 1.0-FTE detective supply
one hour per day, so an effort of mean m hours is a service time of mean m days (m / fte days
for part-timers).

Each check runs independent replications (distinct streams, same root seed), takes one estimate
per replication (the mean over the cases that arrived after a warm-up long against the queue's
relaxation time, started empty) and asserts that the theoretical value lies inside the Student-t
99% confidence interval of those estimates. Per-replication means of thousands of cases are close
to normal, so the interval is honest; 99% rather than 95% keeps the chance that an unlucky but
correct engine fails any of the dozen checks here near 10%, not 50%. The seeds are fixed, so a
pass or a fail is reproducible; nothing is compared against seeded decimals.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import TypeAdapter

from sim.analysis.statistics import mean_ci
from sim.analysis.theory import erlang_c, mg1_mean_wait, mmc_mean_wait, priority_mg1_mean_waits
from sim.domain.distributions import Distribution
from sim.engine.replication import run_replication
from sim.experiments.replications import simulate
from sim.scenario import Scenario, load_scenario, validate_mapping

pytestmark = pytest.mark.validation

CONFIDENCE = 0.99
GRADES = ("very_high", "high", "medium", "low")


def queue_scenario(
    arrival_rate: float,
    effort: dict[str, Any] | dict[str, dict[str, Any]],
    servers: int,
    *,
    fte: float = 1.0,
    horizon_days: float,
    warmup_days: float,
    work_order: str = "oldest_first",
    shares: dict[str, float] | None = None,
) -> Scenario:
    """A team that is a textbook queue (arrival rate per day, effort in hours = days at 1.0 FTE)."""
    shares = shares or {"medium": 1.0}
    return validate_mapping(
        {
            "name": "queue",
            "horizon_days": horizon_days,
            "warmup_days": warmup_days,
            "seed": 271828,
            "team": {
                "hours_per_week": 7,
                "detectives": [{"name": "dc", "count": servers, "fte": fte}],
                "sergeants": 0,
            },
            "cases": {
                "arrivals": {"rate_per_year": arrival_rate * 365.0},
                "grades": {g: {"share": s, "target_days": 30} for g, s in shares.items()},
                "stages": [{"name": "work", "effort_hours": effort}],
            },
            "policies": {
                "allocation": {"rule": "team_queue", "max_cases_per_detective": 1},
                "work_order": {"rule": work_order},
            },
        },
        "queue",
    )


def per_replication(scenario: Scenario, replications: int) -> list[pd.DataFrame]:
    """The public per-case table (``simulate(...).cases``), split by replication."""
    cases = simulate(scenario, replications).cases
    return [frame for _r, frame in cases.groupby("replication", sort=True)]


def assert_inside(values: list[float], theory: float, what: str) -> None:
    """Assert ``theory`` lies in the 99% CI of the per-replication ``values``."""
    mean, _sd, low, high, _n = mean_ci(values, CONFIDENCE)
    print(f"{what}: estimate {mean:.4g}, CI [{low:.4g}, {high:.4g}], theory {theory:.4g}")
    assert low <= theory <= high, (
        f"{what}: theory {theory:.4g} outside the {CONFIDENCE:.0%} CI [{low:.4g}, {high:.4g}] "
        f"(estimate {mean:.4g})"
    )


MMC_CASES = [
    # (λ per day, mean effort hours = 1/μ days, c): ρ = λ / (c μ)
    pytest.param(2.4, 1.0, 3, id="mm3-rho0.80"),
    pytest.param(0.6, 4.0, 4, id="mm4-rho0.60"),
]


@pytest.mark.parametrize(("arrival_rate", "effort_mean", "servers"), MMC_CASES)
def test_mmc_mean_wait_and_delay_probability_agree_with_erlang_c(
    arrival_rate: float, effort_mean: float, servers: int
) -> None:
    """The M/M/c configuration's mean wait and P(wait > 0) match Erlang C."""
    service_rate = 1.0 / effort_mean
    scenario = queue_scenario(
        arrival_rate,
        {"dist": "exponential", "mean": effort_mean},
        servers,
        horizon_days=12_000 / arrival_rate,
        warmup_days=100 * effort_mean,
    )
    runs = per_replication(scenario, 12)
    waits = [float(c["wait_days"].mean()) for c in runs]
    delayed = [float((c["wait_days"] > 0).mean()) for c in runs]
    # one uninterrupted service per case: the only neglect is the wait in the queue
    worked = pd.concat(runs).dropna(subset=["wait_days"])
    np.testing.assert_allclose(worked["longest_neglect_days"], worked["wait_days"], atol=1e-9)
    assert_inside(waits, mmc_mean_wait(arrival_rate, service_rate, servers), "mean wait")
    assert_inside(delayed, erlang_c(arrival_rate, service_rate, servers), "P(wait > 0)")


def test_part_time_team_agrees_with_halved_service_rate() -> None:
    """Detectives at 0.5 FTE serve at half the rate: M/M/2 with μ = 0.5 per day."""
    arrival_rate, effort_mean, servers = 0.7, 1.0, 2
    scenario = queue_scenario(
        arrival_rate,
        {"dist": "exponential", "mean": effort_mean},
        servers,
        fte=0.5,
        horizon_days=10_000 / arrival_rate,
        warmup_days=300,
    )
    runs = per_replication(scenario, 12)
    waits = [float(c["wait_days"].mean()) for c in runs]
    service = [float((c["closed_day"] - c["first_work_day"]).mean()) for c in runs]
    assert_inside(service, 2.0 * effort_mean, "mean service time")
    assert_inside(waits, mmc_mean_wait(arrival_rate, 0.5 / effort_mean, servers), "mean wait")


MG1_EFFORTS = [
    pytest.param({"dist": "lognormal", "mean": 1.0, "sd": 1.5}, id="lognormal"),
    pytest.param({"dist": "fixed", "value": 1.0}, id="fixed"),
    pytest.param({"dist": "uniform", "low": 0.2, "high": 1.8}, id="uniform"),
]
DISTRIBUTION: TypeAdapter[Distribution] = TypeAdapter(Distribution)


@pytest.mark.parametrize("effort", MG1_EFFORTS)
def test_one_detective_agrees_with_pollaczek_khinchine(effort: dict[str, Any]) -> None:
    """One detective with a non-exponential effort is M/G/1: mean wait as P-K says."""
    arrival_rate = 0.6
    dist = DISTRIBUTION.validate_python(effort)
    scenario = queue_scenario(
        arrival_rate, effort, 1, horizon_days=15_000 / arrival_rate, warmup_days=200
    )
    runs = per_replication(scenario, 12)
    waits = [float(c["wait_days"].mean()) for c in runs]
    theory = mg1_mean_wait(arrival_rate, dist.mean, dist.second_moment)
    assert_inside(waits, theory, f"M/G/1 mean wait ({effort['dist']})")


def test_grade_then_oldest_agrees_with_non_preemptive_priority_per_grade() -> None:
    """One detective under grade_then_oldest is a non-preemptive priority queue (Cobham)."""
    arrival_rate = 0.6
    shares = {"very_high": 0.1, "high": 0.2, "medium": 0.3, "low": 0.4}
    efforts = {
        "very_high": {"dist": "exponential", "mean": 0.5},
        "high": {"dist": "lognormal", "mean": 1.0, "sd": 0.8},
        "medium": {"dist": "exponential", "mean": 1.0},
        "low": {"dist": "uniform", "low": 0.5, "high": 1.5},
    }
    dists = [DISTRIBUTION.validate_python(efforts[g]) for g in GRADES]
    scenario = queue_scenario(
        arrival_rate,
        efforts,
        1,
        horizon_days=20_000 / arrival_rate,
        warmup_days=300,
        work_order="grade_then_oldest",
        shares=shares,
    )
    theory = priority_mg1_mean_waits(
        [arrival_rate * shares[g] for g in GRADES],
        [d.mean for d in dists],
        [d.second_moment for d in dists],
    )
    runs = per_replication(scenario, 12)
    for name, expected in zip(GRADES, theory, strict=True):
        waits = [float(c.loc[c["grade"] == name, "wait_days"].mean()) for c in runs]
        assert_inside(waits, expected, f"{name} mean wait")


def _littles_law_terms(scenario: Scenario, replication: int, margin_days: float) -> float:
    """One replication's L − λW (cases), as :func:`test_littles_law_on_baseline` explains."""
    rec = run_replication(scenario, replication)
    warmup, horizon = scenario.warmup_days, scenario.horizon_days
    days, open_cases = rec.backlog["day"], rec.backlog["open_cases"]
    in_window = (days >= warmup) & (days <= horizon)
    time_average_open = float(open_cases[in_window].mean())
    arrival = rec.cases["arrival_day"]
    closed = rec.cases["closed_day"]
    arrival_rate = len(arrival) / (horizon - warmup)
    early = arrival < horizon - margin_days
    # Time in system of the cases that had at least ``margin_days`` to close; any still open are
    # counted to the horizon (a lower bound), and the test requires them to be rare.
    still_open = np.isnan(closed[early])
    assert still_open.mean() < 0.005, "margin too short: too many cases censored"
    sojourn = np.where(np.isnan(closed[early]), horizon, closed[early]) - arrival[early]
    return time_average_open - arrival_rate * float(sojourn.mean())


def test_littles_law_on_baseline() -> None:
    """On the baseline, time-average open cases equals arrival rate × mean time in system.

    Per replication, L is the mean of the backlog sampled every 7 days after the warm-up (a
    sampled time average), λ the referrals after the warm-up per day, and W the mean time from
    referral to closure of the cases that arrived after the warm-up but at least two years
    before the horizon: later cases are often still open at the horizon, and counting them to
    the horizon would bias W down. Both sides estimate the same steady-state quantity from
    overlapping windows, so the per-replication differences L − λW have mean zero up to the
    edge effects, which are a few days of arrivals against a backlog of ~170 cases. The test
    asserts that zero lies in the 99% CI of the differences, and that the CI is narrow against
    L (within 5%), so that a broken closure or backlog count cannot hide in a wide interval.
    """
    scenario = load_scenario("scenarios/baseline.yaml", ["horizon_days=2920"])
    differences = [_littles_law_terms(scenario, r, 730.0) for r in range(12)]
    mean, _sd, low, high, _n = mean_ci(differences, CONFIDENCE)
    rec = run_replication(scenario, 0)
    backlog = float(rec.backlog["open_cases"][rec.backlog["day"] >= scenario.warmup_days].mean())
    print(f"Little: L − λW = {mean:.3g}, CI [{low:.3g}, {high:.3g}], theory 0, L = {backlog:.4g}")
    assert low <= 0.0 <= high, f"L − λW = {mean:.3g}, CI [{low:.3g}, {high:.3g}] excludes 0"
    assert high - low < 0.05 * backlog, f"CI [{low:.3g}, {high:.3g}] too wide against L={backlog}"


SLOW_MMC_CASES = [
    pytest.param(0.85, 1.0, 1, id="mm1-rho0.85"),
    pytest.param(8.5, 1.0, 10, id="mm10-rho0.85"),
    pytest.param(1.5, 2.0, 4, id="mm4-rho0.75"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("arrival_rate", "effort_mean", "servers"), SLOW_MMC_CASES)
def test_mmc_agrees_with_erlang_c_at_high_load_precisely(
    arrival_rate: float, effort_mean: float, servers: int
) -> None:
    """At ρ up to 0.85, 30 long replications pin the mean wait and P(wait > 0) to Erlang C."""
    service_rate = 1.0 / effort_mean
    rho = arrival_rate / (servers * service_rate)
    # relaxation time of the queue length ~ 1 / (μ (1 − √ρ)²) for M/M/1, shorter for c > 1
    relaxation = effort_mean / (1.0 - rho**0.5) ** 2
    scenario = queue_scenario(
        arrival_rate,
        {"dist": "exponential", "mean": effort_mean},
        servers,
        horizon_days=60_000 / arrival_rate + 20 * relaxation,
        warmup_days=20 * relaxation,
    )
    runs = per_replication(scenario, 30)
    waits = [float(c["wait_days"].mean()) for c in runs]
    delayed = [float((c["wait_days"] > 0).mean()) for c in runs]
    assert_inside(waits, mmc_mean_wait(arrival_rate, service_rate, servers), "mean wait")
    assert_inside(delayed, erlang_c(arrival_rate, service_rate, servers), "P(wait > 0)")

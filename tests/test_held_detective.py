"""The team queue with an external last stage, against an independent held-detective model.

Two full-time detectives pull from a team queue with a cap of one case each; a case needs
detective work (exponential effort) and then forensics (an external delay, no queue) as its last
stage. The detective holds the case, so cannot pull another, until forensics returns it and it
closes. Under FIFO that is an M/G/2 queue whose service is work + forensics. The independent
model here is the Kiefer–Wolfowitz workload recursion for a FIFO multi-server queue, written
for this test and sharing no code with the engine.

Before the lost wake-up was fixed, a detective whose case closed at forensics sat idle until the
next referral arrived, and at a work-only load of 0.30 the backlog grew without bound.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.analysis.statistics import mean_ci
from sim.experiments.replications import simulate
from sim.scenario import Scenario, validate_mapping

pytestmark = pytest.mark.validation

ARRIVALS_PER_DAY = 0.6
WORK_MEAN_DAYS = 1.0  # hours_per_week 7: one hour of effort is one day of a detective's time
FORENSICS_MEAN_DAYS = 0.5
SERVERS = 2
HORIZON = 2500.0
WARMUP = 100.0
TAIL = 60.0  # cases arriving this close to the horizon are left out (they may still be open)


def held_scenario() -> Scenario:
    """Two detectives, cap one, detective work then forensics as the last stage; no leave."""
    return validate_mapping(
        {
            "name": "held",
            "horizon_days": HORIZON,
            "warmup_days": WARMUP,
            "seed": 9091,
            "team": {
                "hours_per_week": 7,
                "detectives": [{"name": "dc", "count": SERVERS, "fte": 1.0}],
                "sergeants": 0,
            },
            "cases": {
                "arrivals": {"rate_per_year": ARRIVALS_PER_DAY * 365.0},
                "grades": {"medium": {"share": 1.0, "target_days": 30}},
                "stages": [
                    {"name": "research", "effort_hours": {"dist": "exponential", "mean": 1.0}},
                    {
                        "name": "forensics",
                        "external": {"days": {"dist": "exponential", "mean": FORENSICS_MEAN_DAYS}},
                    },
                ],
            },
            "policies": {
                "allocation": {"rule": "team_queue", "max_cases_per_detective": 1},
                "work_order": {"rule": "oldest_first"},
            },
        },
        "held",
    )


def held_model_mean_sojourn(rng: np.random.Generator) -> float:
    """One replication of the independent model: mean time in system of the kept cases.

    Kiefer–Wolfowitz: ``work[k]`` is the k-th smallest remaining workload of the servers; an
    arrival waits for the smallest, which then grows by its service time.
    """
    n = int(ARRIVALS_PER_DAY * HORIZON * 1.2)
    gaps = rng.exponential(1.0 / ARRIVALS_PER_DAY, n)
    arrivals = np.cumsum(gaps)
    service = rng.exponential(WORK_MEAN_DAYS, n) + rng.exponential(FORENSICS_MEAN_DAYS, n)
    work = np.zeros(SERVERS)
    sojourns = []
    previous = 0.0
    for arrival, s in zip(arrivals, service, strict=True):
        if arrival >= HORIZON - TAIL:
            break
        work = np.maximum(work - (arrival - previous), 0.0)
        previous = arrival
        wait = work[0]
        work[0] = wait + s
        work.sort()
        if arrival >= WARMUP:
            sojourns.append(wait + s)
    return float(np.mean(sojourns))


def test_team_queue_with_external_last_stage_matches_held_detective_model() -> None:
    """Detectives whose case closes at forensics pull the next queued case at once: the engine's
    mean time in system agrees with the independent M/G/2 model within the 99% CI of the
    difference, and the backlog stays small."""
    result = simulate(held_scenario(), 10)
    cases = result.cases
    kept = cases[cases["arrival_day"] < HORIZON - TAIL]
    assert kept["closed_day"].notna().all(), "a case left open long before the horizon"
    engine = [
        float((frame["closed_day"] - frame["arrival_day"]).mean())
        for _r, frame in kept.groupby("replication")
    ]
    rng = np.random.default_rng(20261129)
    model = [held_model_mean_sojourn(rng) for _ in range(10)]
    m1, s1, *_ = mean_ci(engine)
    m2, s2, *_ = mean_ci(model)
    se = float(np.hypot(s1 / np.sqrt(len(engine)), s2 / np.sqrt(len(model))))
    print(f"mean time in system: engine {m1:.4f}, held-detective model {m2:.4f}, se {se:.4f}")
    assert abs(m1 - m2) <= 2.88 * se, (m1, m2, se)  # 99% two-sided, ~18 degrees of freedom
    assert int(result.backlog["open_cases"].max()) < 60

"""Forecasts from today's caseload: known answers, queueing theory, and the residual draws.

Snapshots are built in code (the file formats have their own tests in test_snapshot.py).
"""

from __future__ import annotations

import datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import TypeAdapter
from scipy import integrate, linalg, stats

from sim.domain.distributions import Distribution
from sim.experiments.forecast import forecast, replications_for_precision
from sim.scenario import Scenario, scenario_from_dict
from sim.state.snapshot import Snapshot, SnapshotAbsence, SnapshotCase

AS_OF = datetime.date(2025, 3, 3)
GRADES = {
    "very_high": {"share": 0.05, "target_days": 1},
    "high": {"share": 0.25, "target_days": 7},
    "medium": {"share": 0.40, "target_days": 14},
    "low": {"share": 0.30, "target_days": 30},
}


def _scenario(**changes: Any) -> Scenario:
    """A minimal two-detective team (one hour of work a day each) with very rare referrals."""
    data: dict[str, Any] = {
        "name": "known",
        "horizon_days": 365,
        "replications": 20,
        "team": {"hours_per_week": 7, "detectives": [{"name": "dc", "count": 2, "fte": 1.0}]},
        "cases": {
            "arrivals": {"rate_per_year": 0.001},
            "grades": GRADES,
            "stages": [{"name": "research", "effort_hours": {"dist": "fixed", "value": 2}}],
        },
    }
    for key, value in changes.items():
        data[key] = value
    return scenario_from_dict(data)


def _case(
    case_id: str,
    days_since_progress: int,
    owner: str = "dc_1",
    stage: str = "research",
    **extra: Any,
) -> SnapshotCase:
    last = AS_OF - datetime.timedelta(days=days_since_progress)
    return SnapshotCase(
        case_id=case_id,
        referral_date=last - datetime.timedelta(days=10),
        grade="medium",
        stage=stage,
        owner=owner,
        last_progress_date=last,
        **extra,
    )


def _risk(scenario: Scenario, snapshot: Snapshot, replications: int = 20, **kw: Any) -> Any:
    result = forecast([scenario], snapshot, replications=replications, seed=7, **kw)
    return result.scenarios[0].case_risk.set_index("case_id")


def test_case_already_past_365_days_has_probability_one() -> None:
    """A case whose current wait already passed 365 days has p_neglect_over_365 = 1 exactly."""
    risk = _risk(_scenario(), Snapshot(AS_OF, (_case("old", 400), _case("new", 3))))
    assert risk.loc["old", "p_neglect_over_365"] == 1.0
    assert risk.loc["old", "p_neglect_over_180"] == 1.0
    assert risk.loc["old", "neglect_days_today"] == 400
    assert risk.loc["new", "p_neglect_over_180"] == 0.0


def test_idle_team_one_case_next_progress_is_today() -> None:
    """With an idle team and one open case, its next progress is the as-of date."""
    risk = _risk(_scenario(), Snapshot(AS_OF, (_case("only", 30),)))
    assert risk.loc["only", "next_progress_date_median"] == AS_OF.isoformat()
    assert risk.loc["only", "p_closed_by_horizon"] == 1.0


@pytest.mark.parametrize(
    ("rule", "expected"),
    [({"rule": "keep", "after_days": 28}, 1.0), ({"rule": "spread", "after_days": 28}, 0.0)],
)
def test_holder_absent_for_the_whole_horizon(rule: dict[str, Any], expected: float) -> None:
    """A case held by a detective absent all horizon rots under keep, and not under spread."""
    scenario = _scenario(policies={"on_long_leave": rule})
    absent = SnapshotAbsence(
        "dc_1", AS_OF - datetime.timedelta(days=40), AS_OF.replace(2027), "long"
    )
    snapshot = Snapshot(AS_OF, (_case("held", 200),), (absent,))
    risk = _risk(scenario, snapshot)
    assert risk.loc["held", "p_neglect_over_365"] == expected
    assert risk.loc["held", "p_closed_by_horizon"] == 1.0 - expected
    if expected == 1.0:
        assert risk.loc["held", "next_progress_date_median"] == ""
    else:  # moved at once: the absence is already past after_days
        assert risk.loc["held", "next_progress_date_median"] == AS_OF.isoformat()


def test_open_ended_absence_is_continued_from_its_conditional_length() -> None:
    """An open-ended absence ends after the time already absent, drawn conditionally."""
    scenario = _scenario(
        leave={"long_leave": {"episodes_per_year": 0.0, "days": {"dist": "fixed", "value": 100}}},
        policies={"on_long_leave": {"rule": "keep", "after_days": 28}},
    )
    start = AS_OF - datetime.timedelta(days=60)
    snapshot = Snapshot(
        AS_OF, (_case("held", 50),), (SnapshotAbsence("dc_1", start, None, "long"),)
    )
    risk = _risk(scenario, snapshot, replications=5)
    # A 100-day absence 60 days in: back in 40 days, the case worked at once.
    assert risk.loc["held", "next_progress_date_median"] == "2025-04-12"


def test_policies_compared_case_by_case_under_common_random_numbers() -> None:
    """Two scenarios from one snapshot: contrasts pair the same replications, case by case."""
    keep = _scenario(name="keep", policies={"on_long_leave": {"rule": "keep", "after_days": 28}})
    spread = _scenario(
        name="spread", policies={"on_long_leave": {"rule": "spread", "after_days": 28}}
    )
    absent = SnapshotAbsence(
        "dc_1", AS_OF - datetime.timedelta(days=40), AS_OF.replace(2027), "long"
    )
    snapshot = Snapshot(AS_OF, (_case("held", 200), _case("other", 5, owner="dc_2")), (absent,))
    result = forecast([keep, spread], snapshot, replications=10, seed=3)
    contrasts = result.contrasts(365).set_index("case_id")
    assert contrasts.loc["held", "difference"] == -1.0
    assert contrasts.loc["other", "difference"] == 0.0


def test_replications_for_precision_matches_the_normal_formula() -> None:
    """±0.05 at p = 0.5 needs 385 replications; certain outcomes need 1."""
    assert replications_for_precision([0.5, 0.1]) == 385
    assert replications_for_precision([0.0, 1.0]) == 1


DISTRIBUTIONS = [
    {"dist": "exponential", "mean": 10},
    {"dist": "lognormal", "mean": 10, "sd": 6},
    {"dist": "gamma", "mean": 10, "sd": 4},
    {"dist": "weibull", "shape": 1.5, "scale": 12},
    {"dist": "uniform", "low": 2, "high": 20},
    {"dist": "triangular", "low": 0, "mode": 5, "high": 30},
]


@pytest.mark.parametrize("spec", DISTRIBUTIONS, ids=lambda s: s["dist"])
def test_residual_draw_has_the_conditional_mean(spec: dict[str, Any]) -> None:
    """What is left beyond ``elapsed`` has mean E[X − e | X > e], by numerical integration."""
    dist = TypeAdapter(Distribution).validate_python(spec)
    elapsed = 8.0
    rng = np.random.default_rng(1)
    left = dist.residual(np.full(40_000, elapsed), rng.random(40_000))
    survival = 1.0 - float(dist.cdf(elapsed))
    upper = float(dist.ppf(1 - 1e-10))
    expected = (
        integrate.quad(lambda x: 1.0 - float(dist.cdf(x)), elapsed, upper, limit=200)[0] / survival
    )
    half = stats.t.ppf(0.995, len(left) - 1) * left.std(ddof=1) / np.sqrt(len(left))
    assert (left >= 0).all()
    assert abs(left.mean() - expected) < half


def _mmc_mean_in_system(lam: float, mu: float, c: int, n0: int, t: float, cap: int) -> float:
    """E[N(t)] of an M/M/c queue started with n0 in system: expm of the truncated generator."""
    q = np.zeros((cap + 1, cap + 1))
    for n in range(cap + 1):
        if n < cap:
            q[n, n + 1] = lam
        if n > 0:
            q[n, n - 1] = min(n, c) * mu
        q[n, n] = -q[n].sum()
    p0 = np.zeros(cap + 1)
    p0[n0] = 1.0
    pt = p0 @ linalg.expm(q * t)
    return float(pt @ np.arange(cap + 1))


@pytest.mark.validation
def test_mmc_snapshot_transient_mean_matches_ctmc() -> None:
    """M/M/c from n in system: the forecast mean backlog after t days agrees with the CTMC."""
    c, mu, lam, n0 = 2, 1.0, 1.5, 9
    scenario = scenario_from_dict(
        {
            "name": "mmc",
            "horizon_days": 10,
            "team": {"hours_per_week": 7, "detectives": [{"name": "dc", "count": c, "fte": 1.0}]},
            "cases": {
                "arrivals": {"rate_per_year": lam * 365},
                "grades": GRADES,
                "stages": [
                    {"name": "work", "effort_hours": {"dist": "exponential", "mean": 1 / mu}}
                ],
            },
            "policies": {
                "allocation": {"rule": "team_queue", "max_cases_per_detective": 1},
                "work_order": {"rule": "oldest_first"},
            },
            "outputs": {"backlog_every_days": 1},
        }
    )
    cases = tuple(
        SnapshotCase(
            f"c{i}",
            AS_OF - datetime.timedelta(days=20 - i),
            "medium",
            "work",
            f"dc_{i + 1}" if i < c else "",
            AS_OF - datetime.timedelta(days=1),
        )
        for i in range(n0)
    )
    result = forecast([scenario], Snapshot(AS_OF, cases), horizon_days=6, replications=400, seed=11)
    backlog = result.scenarios[0].backlog.set_index("day")
    for t in (2.0, 5.0):
        row = backlog.loc[t]
        theory = _mmc_mean_in_system(lam, mu, c, n0, t, cap=120)
        half = (
            (row["ci_high"] - row["ci_low"]) / 2 * stats.t.ppf(0.995, 399) / stats.t.ppf(0.975, 399)
        )
        assert abs(row["mean"] - theory) < half, (t, row["mean"], theory, half)


def test_capacity_unit_serves_the_started_case_first_with_its_remaining_time() -> None:
    """At a one-at-a-time unit: the case in service returns when its time is up, then the next."""
    scenario = _scenario(
        cases={
            "arrivals": {"rate_per_year": 0.001},
            "grades": GRADES,
            "stages": [
                {"name": "research", "effort_hours": {"dist": "fixed", "value": 2}},
                {
                    "name": "forensics",
                    "external": {"capacity": 1, "days": {"dist": "fixed", "value": 10}},
                },
                {"name": "file", "effort_hours": {"dist": "fixed", "value": 1}},
            ],
        }
    )
    since = AS_OF - datetime.timedelta(days=20)
    started = AS_OF - datetime.timedelta(days=4)
    queued = _case("queued", 20, stage="forensics", external_since=since)
    serving = _case(
        "serving", 20, stage="forensics", external_since=since, external_started=started
    )
    risk = _risk(scenario, Snapshot(AS_OF, (queued, serving)), replications=3)
    assert risk.loc["serving", "next_progress_date_median"] == "2025-03-09"  # 6 days left
    assert risk.loc["queued", "next_progress_date_median"] == "2025-03-19"  # then 10 more
    assert risk.loc["queued", "neglect_days_today"] == 0


def test_process_pool_gives_the_same_forecast_as_serial() -> None:
    """Two worker processes give exactly the serial forecast (seeds depend on replication only)."""
    scenario = _scenario(
        cases={**_scenario().cases.model_dump(by_alias=True), "arrivals": {"rate_per_year": 200}}
    )
    snapshot = Snapshot(
        AS_OF, (_case("a", 30), _case("b", 3, owner="dc_2"), _case("c", 90, owner=""))
    )
    serial = forecast([scenario], snapshot, replications=6, seed=5, workers=1)
    pooled = forecast([scenario], snapshot, replications=6, seed=5, workers=2)
    pd.testing.assert_frame_equal(serial.scenarios[0].case_risk, pooled.scenarios[0].case_risk)
    pd.testing.assert_frame_equal(serial.scenarios[0].backlog, pooled.scenarios[0].backlog)
    assert (serial.scenarios[0].neglect == pooled.scenarios[0].neglect).all()


def test_action_plan_in_force_ranks_the_case_first() -> None:
    """A case under an action plan is worked before an older case of the same grade."""
    older = _case("older", 100)
    planned = _case("planned", 5, action_plan=True)
    risk = _risk(_scenario(), Snapshot(AS_OF, (older, planned)), replications=3)
    assert risk.loc["planned", "next_progress_date_median"] == AS_OF.isoformat()
    assert risk.loc["older", "next_progress_date_median"] == "2025-03-05"  # after 2 hours' work
    unplanned = _risk(_scenario(), Snapshot(AS_OF, (older, _case("planned", 5))), replications=3)
    assert unplanned.loc["older", "next_progress_date_median"] == AS_OF.isoformat()

"""Back-test a scenario on a force's log (``polit-sim backtest``).

The scenario is simulated over the log's period, from the log's start with an empty team (the
state at a later cut date would need the snapshot facility of ``forecast``; the exported and the
example logs start empty). Each month-end's backlog and each month's closures observed in the log
are set against the simulated 90% band (5th–95th percentiles across replications); the share of
observed months inside their band is the coverage, the back-test's headline. The distributions of
the wait before first work and of the longest gap without progress are compared by quantiles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.analysis.log_stats import first_waits, longest_idle, month_edges, monthly_closures
from sim.experiments.replications import run_records
from sim.scenario import Scenario, scenario_from_dict
from sim.state.case_log import CaseLog

__all__ = ["Backtest", "backtest", "over_log"]

QUANTILES = (0.5, 0.75, 0.9, 0.95)


@dataclass(frozen=True)
class Backtest:
    """Observed against simulated, month by month.

    Attributes:
        months: per month: ``month``, ``end_day``, ``date``, observed ``backlog`` and
            ``closures``, and the simulated ``*_low``/``*_median``/``*_high`` (5%, 50%, 95%).
        distributions: per measure and quantile: observed and the simulated 90% band.
        coverage: share of observed months (backlog and closures together) inside the band.
        backlog_coverage, closures_coverage: the same for each series alone.
        replications: how many were simulated.
    """

    months: pd.DataFrame
    distributions: pd.DataFrame
    coverage: float
    backlog_coverage: float
    closures_coverage: float
    replications: int


def over_log(scenario: Scenario, log: CaseLog) -> Scenario:
    """``scenario`` run over the log's period: horizon the log's length, no warm-up."""
    data = scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["horizon_days"] = float(np.floor(log.end_day))
    data["warmup_days"] = 0.0
    return scenario_from_dict(data, source=scenario.name)


def _band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    low, median, high = np.quantile(values, [0.05, 0.5, 0.95], axis=0)
    return low, median, high


def backtest(
    scenario: Scenario,
    log: CaseLog,
    *,
    replications: int = 40,
    seed: int | None = None,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Backtest:
    """Simulate ``scenario`` over the log's period and compare it with the log."""
    run = over_log(scenario, log)
    edges = month_edges(run.horizon_days)
    ends = edges[1:]
    root = scenario.seed if seed is None else seed
    records = run_records(run, range(replications), root, workers=workers, progress=progress)
    backlog = np.zeros((replications, len(ends)))
    closures = np.zeros((replications, len(ends)))
    waits: list[np.ndarray] = []
    gaps: list[np.ndarray] = []
    for k, rec in enumerate(records):
        arrival = np.sort(rec.cases["arrival_day"])
        closed = rec.cases["closed_day"]
        closed = np.sort(closed[~np.isnan(closed)])
        backlog[k] = np.searchsorted(arrival, ends, side="right") - np.searchsorted(
            closed, ends, side="right"
        )
        closures[k] = np.histogram(closed, bins=edges)[0]
        wait = rec.cases["first_work_day"] - rec.cases["arrival_day"]
        waits.append(wait[~np.isnan(wait)])
        gaps.append(rec.cases["longest_gap_days"])
    events = log.events
    observed_backlog = np.searchsorted(
        np.sort(events.loc[events["activity"] == "referral", "day"]), ends, side="right"
    ) - np.searchsorted(
        np.sort(events.loc[events["activity"] == "closed", "day"]), ends, side="right"
    )
    observed_closures = monthly_closures(events, edges)
    b_low, b_med, b_high = _band(backlog)
    c_low, c_med, c_high = _band(closures)
    months = pd.DataFrame(
        {
            "month": np.arange(1, len(ends) + 1),
            "end_day": ends,
            "date": [log.date_of(d).date().isoformat() for d in ends],
            "backlog": observed_backlog,
            "backlog_low": b_low,
            "backlog_median": b_med,
            "backlog_high": b_high,
            "closures": observed_closures,
            "closures_low": c_low,
            "closures_median": c_med,
            "closures_high": c_high,
        }
    )
    inside_b = (observed_backlog >= b_low) & (observed_backlog <= b_high)
    inside_c = (observed_closures >= c_low) & (observed_closures <= c_high)
    rows = []
    for measure, observed, simulated in (
        ("wait_days", first_waits(events), waits),
        ("longest_gap_days", longest_idle(events, log.end_day), gaps),
    ):
        sim_q = np.array(
            [np.quantile(s, QUANTILES) if len(s) else np.full(4, np.nan) for s in simulated]
        )
        low, median, high = _band(sim_q)
        for i, q in enumerate(QUANTILES):
            value = float(np.quantile(observed, q)) if len(observed) else float("nan")
            rows.append(
                (measure, q, value, low[i], median[i], high[i], bool(low[i] <= value <= high[i]))
            )
    distributions = pd.DataFrame(
        rows, columns=["measure", "quantile", "observed", "low", "median", "high", "inside"]
    )
    n = len(ends)
    return Backtest(
        months=months,
        distributions=distributions,
        coverage=float((inside_b.sum() + inside_c.sum()) / (2 * n)) if n else float("nan"),
        backlog_coverage=float(inside_b.mean()) if n else float("nan"),
        closures_coverage=float(inside_c.mean()) if n else float("nan"),
        replications=replications,
    )

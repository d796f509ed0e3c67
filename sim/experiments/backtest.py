"""Back-test a scenario on a force's log (``polit-sim backtest``).

The scenario is simulated over the log's period, from the log's start with an empty team (the
state at a later cut date would need the snapshot facility of ``forecast``; the exported and the
example logs start empty). Each simulated replication is written as a log and measured by the
same estimators as the force's log. Each month-end's backlog and each month's closures observed in
the log are set against the simulated 90% band (5th–95th percentiles across replications); the
share of observed months inside their band is the coverage, the back-test's headline. The
distributions of the wait before first work, the longest gap without progress and the longest
neglect (waiting on the team itself) are compared by quantiles.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.analysis.log_stats import (
    backlog_path,
    first_waits,
    longest_gaps,
    month_edges,
    monthly_closures,
)
from sim.experiments.export_log import log_events
from sim.scenario import Scenario, scenario_from_dict
from sim.state.case_log import CaseLog, events_frame

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
    """``scenario`` run over the log's period: day 0 the log's first day, horizon its length, no
    warm-up."""
    data = scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["horizon_days"] = float(np.floor(log.end_day))
    data["warmup_days"] = 0.0
    data["start_date"] = log.start.date().isoformat()
    roster = data.get("team", {}).get("roster")
    if roster:
        roster["day_0_weekday"] = log.start.strftime("%a").lower()
    return scenario_from_dict(data, source=scenario.name)


def _band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    low, median, high = np.quantile(values, [0.05, 0.5, 0.95], axis=0)
    return low, median, high


Measures = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _measure(events: pd.DataFrame, scenario: Scenario, end_day: float) -> Measures:
    """Month-end backlog, monthly closures, waits, longest gaps and neglect of a log's events."""
    edges = month_edges(float(np.floor(end_day)))
    stages = [s.name for s in scenario.cases.stages]
    external = [s.name for s in scenario.cases.stages if not s.is_team]
    gaps, neglect = longest_gaps(events, end_day, stages, external)
    return (
        backlog_path(events, edges[1:]),
        monthly_closures(events, edges),
        first_waits(events),
        gaps,
        neglect,
    )


def _simulated(args: tuple[Scenario, int, int, bool]) -> tuple[int, Measures]:
    scenario, replication, seed, dates_only = args
    events, _absences = log_events(scenario, replication, seed)
    return replication, _measure(
        events_frame(events, dates_only=dates_only), scenario, scenario.horizon_days
    )


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
    jobs = [(run, r, root, log.dates_only) for r in range(replications)]
    results: dict[int, Measures] = {}
    if workers <= 1:
        for job in jobs:
            r, measures = _simulated(job)
            results[r] = measures
            if progress is not None:
                progress(1)
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            for future in as_completed([pool.submit(_simulated, job) for job in jobs]):
                r, measures = future.result()
                results[r] = measures
                if progress is not None:
                    progress(1)
    simulated = [results[r] for r in range(replications)]
    backlog = np.array([m[0] for m in simulated], dtype=float)
    closures = np.array([m[1] for m in simulated], dtype=float)
    observed = _measure(log.events, run, run.horizon_days)
    observed_backlog, observed_closures = observed[0], observed[1]
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
    for i, measure in ((2, "wait_days"), (3, "longest_gap_days"), (4, "longest_neglect_days")):
        sim_q = np.array(
            [
                np.quantile(m[i], QUANTILES) if len(m[i]) else np.full(len(QUANTILES), np.nan)
                for m in simulated
            ]
        )
        low, median, high = _band(sim_q)
        values = observed[i]
        for k, q in enumerate(QUANTILES):
            value = float(np.quantile(values, q)) if len(values) else float("nan")
            rows.append(
                (measure, q, value, low[k], median[k], high[k], bool(low[k] <= value <= high[k]))
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

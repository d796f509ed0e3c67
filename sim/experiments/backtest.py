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

import dataclasses
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.analysis.log_stats import (
    MONTH_DAYS,
    backlog_path,
    first_waits,
    longest_gaps,
    month_edges,
    monthly_closures,
)
from sim.engine.replication import run_replication
from sim.engine.streams import Streams
from sim.experiments.export_log import log_events
from sim.experiments.forecast import forecast_scenario
from sim.scenario import Scenario, scenario_from_dict
from sim.state.case_log import CaseLog, events_frame
from sim.state.initial import PreparedSnapshot, prepare
from sim.state.log_snapshot import snapshot_at

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
        cut_date: the date the simulation started from the log's state (None: its first day).
    """

    months: pd.DataFrame
    distributions: pd.DataFrame
    coverage: float
    backlog_coverage: float
    closures_coverage: float
    replications: int
    cut_date: str | None = None


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
    cut_day: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Backtest:
    """Simulate ``scenario`` over the log's period and compare it with the log.

    Args:
        cut_day: start from the log's state at this day (its open cases and absences, as a
            forecast snapshot) rather than from its first day with an empty team; only the months
            after it are compared.
    """
    run = over_log(scenario, log)
    root = scenario.seed if seed is None else seed
    if cut_day:
        return _from_cut(run, log, int(cut_day), replications, root, progress)
    edges = month_edges(run.horizon_days)
    ends = edges[1:]
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
    compared = [
        (name, observed[i], [m[i] for m in simulated])
        for i, name in ((2, "wait_days"), (3, "longest_gap_days"), (4, "longest_neglect_days"))
    ]
    return _assemble(
        log, ends, backlog, closures, observed_backlog, observed_closures, compared, replications
    )


def _assemble(
    log: CaseLog,
    ends: np.ndarray,
    backlog: np.ndarray,
    closures: np.ndarray,
    observed_backlog: np.ndarray,
    observed_closures: np.ndarray,
    measures: list[tuple[str, np.ndarray, list[np.ndarray]]],
    replications: int,
) -> Backtest:
    """Bands, coverage and the distributions' table from simulated and observed series."""
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
    for measure, values, simulated in measures:
        sim_q = np.array(
            [
                np.quantile(m, QUANTILES) if len(m) else np.full(len(QUANTILES), np.nan)
                for m in simulated
            ]
        )
        low, median, high = _band(sim_q)
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


def _from_cut(
    run: Scenario,
    log: CaseLog,
    cut_day: int,
    replications: int,
    root: int,
    progress: Callable[[int], None] | None,
) -> Backtest:
    """The back-test from the log's state at ``cut_day`` (see :func:`backtest`)."""
    stages = [s.name for s in run.cases.stages]
    external = [s.name for s in run.cases.stages if not s.is_team]
    prepared: PreparedSnapshot = prepare(snapshot_at(log, cut_day, stages, external), run)
    day = prepared.day
    months = int((run.horizon_days - day) // MONTH_DAYS)
    edges = day + np.arange(months + 1) * MONTH_DAYS
    ends = edges[1:]
    forward = forecast_scenario(run, day, run.horizon_days - day)
    backlog = np.zeros((replications, len(ends)))
    closures = np.zeros((replications, len(ends)))
    waits: list[np.ndarray] = []
    for r in range(replications):
        state = prepared.initial_state(Streams(root, r))
        records = run_replication(forward, r, root, initial=state)
        initial_closed = np.asarray(records.extra["initial"]["closed_day"], dtype=float)
        arrival = records.cases["arrival_day"]
        closed = records.cases["closed_day"]
        every_closed = np.concatenate((initial_closed, closed))
        done = np.sort(every_closed[~np.isnan(every_closed)])
        backlog[r] = (
            len(initial_closed)
            + np.searchsorted(np.sort(arrival), ends, side="right")
            - np.searchsorted(done, ends, side="right")
        )
        closures[r] = np.histogram(done, bins=edges)[0]
        wait = records.cases["first_work_day"] - arrival
        if log.dates_only:
            wait = np.floor(records.cases["first_work_day"]) - np.floor(arrival)
        waits.append(wait[~np.isnan(wait)])
        if progress is not None:
            progress(1)
    events = log.events
    observed_backlog = backlog_path(events, ends)
    observed_closures = monthly_closures(events, edges)
    late = events[events["activity"] == "referral"]
    late_ids = set(late.loc[late["day"] >= day, "case_id"])
    observed_waits = first_waits(events[events["case_id"].isin(late_ids)])
    result = _assemble(
        log,
        ends,
        backlog,
        closures,
        observed_backlog,
        observed_closures,
        [("wait_days", observed_waits, waits)],
        replications,
    )
    return dataclasses.replace(result, cut_date=log.date_of(day).date().isoformat())

"""Replications of a scenario, serially or in a process pool, gathered into a :class:`Result`.

Every replication's randomness depends only on (root seed, replication index, stream name), so
the serial and the pooled runs give identical results, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.dates import add_dates
from sim.analysis.statistics import cases_frame, replication_metrics, summarise
from sim.engine.replication import ReplicationRecords, run_replication
from sim.experiments.workers import worker_pool
from sim.scenario import Scenario, load_scenario

__all__ = ["Result", "collect", "run_records", "simulate"]

Progress = Callable[[int], None]


@dataclass
class Result:
    """The outcome of simulating a scenario.

    Attributes:
        scenario: the resolved scenario.
        seed: the root seed used.
        cases: one row per case (SPEC's columns, then extras).
        replications: one row per replication, one column per metric.
        summary: per metric: mean, sd, 95% CI, number of replications.
        backlog: open cases over time, per replication (``replication``, ``day``, ``open_cases``).
        detectives: per replication and detective: hours worked, available, lost to leave.
        traces: timelines of the replications run with ``trace``.
        captured: per replication, the open cases and absences at ``capture_at``
            (:class:`sim.engine.initial.Captured`), when asked for.
    """

    scenario: Scenario
    seed: int
    cases: pd.DataFrame
    replications: pd.DataFrame
    summary: pd.DataFrame
    backlog: pd.DataFrame
    detectives: pd.DataFrame
    traces: dict[int, list[tuple[Any, ...]]] = field(default_factory=dict)
    captured: dict[int, Any] = field(default_factory=dict)

    def metric(self, name: str) -> pd.Series:
        """One metric's row of the summary."""
        table = self.summary.set_index("metric")
        return table.loc[name]  # type: ignore[return-value]


def _one(args: tuple[Scenario, int, int, bool, float | None]) -> ReplicationRecords:
    scenario, replication, seed, trace, capture_at = args
    return run_replication(scenario, replication, seed, trace=trace, capture_at=capture_at)


def run_records(
    scenario: Scenario,
    replications: Sequence[int],
    seed: int,
    *,
    workers: int = 1,
    trace: Sequence[int] = (),
    progress: Progress | None = None,
    capture_at: float | None = None,
) -> list[ReplicationRecords]:
    """Run the given replication indices; in a process pool when ``workers > 1``.

    Args:
        progress: called with 1 after each replication finishes (for a progress bar).
        capture_at: also picture each replication's open cases and absences at this day.
    """
    jobs = [(scenario, r, seed, r in trace, capture_at) for r in replications]
    out: list[ReplicationRecords] = []
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            out.append(_one(job))
            if progress is not None:
                progress(1)
        return out
    with worker_pool(workers) as pool:
        futures = [pool.submit(_one, job) for job in jobs]
        for future in as_completed(futures):
            out.append(future.result())
            if progress is not None:
                progress(1)
    out.sort(key=lambda rec: rec.replication)
    return out


def _joined(
    tables: Sequence[dict[str, Any]], records: Sequence[ReplicationRecords]
) -> pd.DataFrame:
    """One frame of the replications' tables (columns of arrays or lists), replication first."""
    if not tables:
        return pd.DataFrame()
    lengths = [len(next(iter(t.values()))) if t else 0 for t in tables]
    columns: dict[str, Any] = {
        "replication": np.repeat(
            np.array([rec.replication for rec in records], dtype=np.int64), lengths
        )
    }
    for name in tables[0]:
        columns[name] = np.concatenate([np.asarray(t[name]) for t in tables])
    return pd.DataFrame(columns)


def collect(records: Sequence[ReplicationRecords], scenario: Scenario, seed: int) -> Result:
    """Turn replication records into the tables of a :class:`Result`."""
    metrics = pd.DataFrame([replication_metrics(rec, scenario) for rec in records])
    metrics["replication"] = metrics["replication"].astype("int64")
    backlog = _joined([rec.backlog for rec in records], records)
    detectives = _joined([rec.detectives for rec in records], records)
    start = scenario.start_date
    day_columns = ("arrival_day", "first_work_day", "closed_day", "enforcement_day")
    return Result(
        scenario=scenario,
        seed=seed,
        cases=add_dates(cases_frame(records, scenario), start, day_columns),
        replications=metrics,
        summary=summarise(metrics),
        backlog=add_dates(backlog, start, ["day"]),
        detectives=detectives,
        traces={rec.replication: rec.trace for rec in records if rec.trace is not None},
        captured={
            rec.replication: rec.extra["captured"] for rec in records if "captured" in rec.extra
        },
    )


def simulate(
    scenario: Scenario | str | Path,
    replications: int | None = None,
    seed: int | None = None,
    *,
    workers: int = 1,
    trace: Sequence[int] = (),
    progress: Progress | None = None,
    capture_at: float | None = None,
) -> Result:
    """Simulate ``replications`` replications of a scenario (default: the scenario's own).

    Args:
        scenario: a :class:`Scenario` or the path of a scenario file.
        replications: how many (default ``scenario.replications``).
        seed: root seed (default ``scenario.seed``).
        workers: processes to use (1: run in this process).
        trace: replication indices whose timeline to record.
        progress: called with 1 after each replication.
        capture_at: also picture each replication's open cases and absences at this day
            (``Result.captured``; ``polit-sim run --snapshot-at``).
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    n = scenario.replications if replications is None else replications
    if n < 1:
        raise ValueError("replications must be at least 1")
    root = scenario.seed if seed is None else seed
    records = run_records(
        scenario,
        range(n),
        root,
        workers=workers,
        trace=trace,
        progress=progress,
        capture_at=capture_at,
    )
    return collect(records, scenario, root)

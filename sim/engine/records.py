"""A replication's records: per-case columns, the backlog path and per-detective counters.

Built from the engine's state at the horizon (and the detectives' counters at the end of the
warm-up); plain arrays and lists, no pandas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import numpy as np

from sim.domain.entities import Case, Detective, Grade
from sim.engine.team import TeamState
from sim.scenario import Scenario

__all__ = ["ReplicationRecords", "build_records", "counters_at"]


@dataclass
class ReplicationRecords:
    """What one replication produced, as plain arrays and lists (no pandas).

    ``cases`` holds a column per output field for the cases that arrived after the warm-up;
    ``backlog`` the open cases sampled every ``outputs.backlog_every_days`` over the whole run;
    ``detectives`` one row per detective with the counters measured after the warm-up.
    """

    replication: int
    cases: dict[str, np.ndarray]
    backlog: dict[str, np.ndarray]
    detectives: dict[str, list[Any]]
    trace: list[tuple[Any, ...]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


_CASE_FIELDS: dict[str, Any] = {
    "case_id": np.int64,
    "grade": np.int64,
    "arrival_day": float,
    "first_work_day": float,  # None (a day not reached yet) becomes NaN
    "enforcement_day": float,
    "closed_day": float,
    "longest_gap_days": float,
    "longest_neglect_days": float,
    "owner_changes": np.int64,
    "inherited": bool,
    "owner": object,
    "neglect_holder": object,
    "worked_hours": float,
    "devices": float,
}
"""The per-case columns read from the cases, with their types."""
_case_fields = attrgetter(*_CASE_FIELDS)
_CHUNK = 2048
"""Cases read per pass of :func:`_case_columns`."""


def _case_columns(cases: list[Case]) -> dict[str, np.ndarray]:
    """Every case's fields (:data:`_CASE_FIELDS`) as columns.

    The cases are read in one pass (a large run's cases are no longer in cache: a pass per column
    would fetch each case from memory once per column), a chunk at a time: each chunk's rows are
    turned into columns and copied into the arrays while they are still in cache, instead of
    every case's row being kept until the end.
    """
    n = len(cases)
    columns = {name: np.empty(n, dtype) for name, dtype in _CASE_FIELDS.items()}
    arrays = list(columns.values())
    for start in range(0, n, _CHUNK):
        chunk = cases[start : start + _CHUNK]
        stop = start + len(chunk)
        for array, values in zip(arrays, zip(*map(_case_fields, chunk), strict=True), strict=True):
            array[start:stop] = values
    return columns


def counters_at(detectives: list[Detective], now: float) -> dict[int, tuple[float, float, float]]:
    """Each detective's hours worked, days absent and working days absent by ``now``."""
    return {
        d.index: (d.hours_worked, _days_absent(d, now), _work_days_absent(d, now))
        for d in detectives
    }


def _days_absent(detective: Detective, now: float) -> float:
    ongoing = 0.0 if detective.absent_since is None else now - detective.absent_since
    return detective.days_absent + ongoing


def _work_days_absent(detective: Detective, now: float) -> float:
    """Days of working time (the roster's working days) lost to absence by ``now``."""
    clock = detective.clock
    if clock is None:
        return _days_absent(detective, now)
    since = detective.absent_since
    ongoing = 0.0 if since is None else clock.work_time(now) - clock.work_time(since)
    return detective.work_days_absent + ongoing


def _work_days(detective: Detective, start: float, end: float) -> float:
    clock = detective.clock
    return end - start if clock is None else clock.work_time(end) - clock.work_time(start)


def build_records(
    scenario: Scenario,
    replication: int,
    cases: list[Case],
    detectives: list[Detective],
    snapshot: dict[int, tuple[float, float, float]],
    team: TeamState,
    start_day: float = 0.0,
) -> ReplicationRecords:
    """Build a replication's records; the backlog is sampled from ``start_day`` (the clock's
    start) to the horizon."""
    horizon = scenario.horizon_days
    warmup = scenario.warmup_days
    if team.trace is not None:
        # Blocks still running at the horizon: ("working", start_day, detective name, case_id).
        for d in detectives:
            if d.current is not None:
                team.trace.append(("working", d.block[2], d.name, d.current.case_id))
    for case in cases:
        if case.closed_day is None:
            if case.stalled_since is not None:
                case.longest_gap_days = max(case.longest_gap_days, horizon - case.stalled_since)
            if case.idle_since is not None:
                case.end_wait(horizon)
    values = _case_columns(cases)
    arrival_all = values["arrival_day"]
    closed_all = values["closed_day"]
    step = scenario.outputs.backlog_every_days
    days = np.arange(start_day, horizon + step / 2, step)
    closed_sorted = np.sort(closed_all[~np.isnan(closed_all)])
    open_cases = np.searchsorted(np.sort(arrival_all), days, side="right") - np.searchsorted(
        closed_sorted, days, side="right"
    )

    after_warmup = arrival_all >= warmup
    first = int(after_warmup.argmax()) if after_warmup.any() else len(after_warmup)
    # Cases are listed in arrival order, so those kept are usually a slice: views, not copies.
    kept: slice | np.ndarray = slice(first, None) if after_warmup[first:].all() else after_warmup
    targets = np.array(
        [
            scenario.cases.grades[g.key].target_days if g.key in scenario.cases.grades else np.inf
            for g in Grade
        ]
    )
    grade = values["grade"][kept]
    columns: dict[str, np.ndarray] = {
        "case_id": values["case_id"][kept],
        "grade": grade,
        "arrival_day": arrival_all[kept],
        "first_work_day": values["first_work_day"][kept],
        "enforcement_day": values["enforcement_day"][kept],
        "closed_day": closed_all[kept],
        "longest_gap_days": values["longest_gap_days"][kept],
        "longest_neglect_days": values["longest_neglect_days"][kept],
        "owner_changes": values["owner_changes"][kept],
        "inherited": values["inherited"][kept],
        "owner": np.array(
            [o.name if o is not None else "" for o in values["owner"][kept]], dtype=object
        ),
        "neglect_holder": values["neglect_holder"][kept],
        "worked_hours": values["worked_hours"][kept],
        "devices": values["devices"][kept],
        "target_days": targets[grade],
    }
    rows: dict[str, list[Any]] = {
        "detective": [],
        "group": [],
        "fte": [],
        "hours_worked": [],
        "hours_available": [],
        "hours_lost_to_leave": [],
        "days_absent": [],
        "open_cases_at_horizon": [],
        "strain": [],
    }
    for d in detectives:
        worked0, absent0, work_absent0 = snapshot.get(d.index, (0.0, 0.0, 0.0))
        absent = _days_absent(d, horizon) - absent0
        work_absent = _work_days_absent(d, horizon) - work_absent0
        work_window = _work_days(d, warmup, horizon)
        rows["detective"].append(d.name)
        rows["group"].append(d.group)
        rows["fte"].append(d.fte)
        rows["hours_worked"].append(d.hours_worked - worked0)
        rows["hours_available"].append(d.work_rate * (work_window - work_absent))
        rows["hours_lost_to_leave"].append(d.work_rate * work_absent)
        rows["days_absent"].append(absent)
        rows["open_cases_at_horizon"].append(len(d.caseload))
        rows["strain"].append(d.strain)
    return ReplicationRecords(
        replication=replication,
        cases=columns,
        backlog={"day": days, "open_cases": open_cases.astype(np.int64)},
        detectives=rows,
        trace=team.trace,
        extra={"referrals": len(cases), "queue_at_horizon": len(team.queue) + len(team.pool)},
    )

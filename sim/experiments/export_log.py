"""A simulated replication written as a force's case-event log (``polit-sim export-log``).

The replication runs with its timeline traced in detail (the engine's ``trace_detail``, which
costs nothing in ordinary runs); the timeline becomes the log's rows, the referrals' arrival days
and grades come from the same named streams the run drew them from. This gives logs with a known
truth, for the tests of calibration and back-testing, and honest example data.

The whole run is written, from day 0 (an empty team) to the horizon; a block of work still under
way at the horizon is not written (it has not ended), and a case with no ``closed`` row is open at
the log's end.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sim.engine.referrals import draw_referrals
from sim.engine.replication import run_replication
from sim.engine.streams import Streams
from sim.scenario import GRADE_NAMES, Scenario
from sim.state.case_log import LogEvent, write_log

__all__ = ["ExportedLog", "export_log", "log_events"]

_RANK = {"referral": 0, "allocated": 1, "stage_end": 2, "work": 3, "closed": 4}


@dataclass(frozen=True)
class ExportedLog:
    """What :func:`export_log` wrote, and the truth behind it."""

    paths: list[Path]
    events: int
    cases: int
    absences: int


def log_events(
    scenario: Scenario, replication: int, seed: int | None = None
) -> tuple[list[LogEvent], list[tuple[str, float, float | None, str]]]:
    """Simulate one replication and turn its timeline into log rows and absences.

    Returns:
        the rows in chronological order, and (detective, start day, end day or None, kind) of
        every episode of leave of every kind.
    """
    root = scenario.seed if seed is None else seed
    records = run_replication(scenario, replication, root, trace=True, trace_detail=True)
    referrals = draw_referrals(scenario, Streams(root, replication))
    stages = [s.name for s in scenario.cases.stages]
    keyed: list[tuple[float, int, int, LogEvent]] = []

    def add(event: LogEvent) -> None:
        keyed.append((event.day, _RANK[event.activity], len(keyed), event))

    for i, (day, grade) in enumerate(zip(referrals.arrival_day, referrals.grade, strict=True)):
        add(LogEvent(str(i + 1), float(day), "referral", grade=GRADE_NAMES[int(grade)]))
    stage_of: dict[int, int] = {}
    leave_open: dict[tuple[str, str], float] = {}
    absences: list[tuple[str, float, float | None, str]] = []
    for event in records.trace or ():
        kind = event[0]
        if kind == "own" and event[3] is not None:
            add(LogEvent(str(event[2] + 1), float(event[1]), "allocated", resource=event[3]))
        elif kind == "work":
            _, begun, _end, name, case_id, hours = event
            stage = stages[stage_of.get(case_id, 0)]
            add(LogEvent(str(case_id + 1), float(begun), "work", name, stage=stage, hours=hours))
        elif kind == "stage_end":
            _, day, case_id, stage_index = event
            stage_of[case_id] = stage_index + 1
            add(LogEvent(str(case_id + 1), float(day), "stage_end", stage=stages[stage_index]))
        elif kind == "close":
            add(LogEvent(str(event[2] + 1), float(event[1]), "closed"))
        elif kind == "leave":
            _, day, name, leave_kind, starts = event
            if starts:
                leave_open[(name, leave_kind)] = float(day)
            else:
                begun = leave_open.pop((name, leave_kind))
                absences.append((name, begun, float(day), leave_kind))
    absences += [(name, begun, None, kind) for (name, kind), begun in leave_open.items()]
    absences.sort(key=lambda a: (a[1], a[0]))
    keyed.sort(key=lambda k: k[:3])
    return [k[3] for k in keyed], absences


def export_log(
    scenario: Scenario,
    replication: int,
    out: Path,
    *,
    seed: int | None = None,
    start_date: str | None = None,
    with_hours: bool = True,
    dates_only: bool = False,
) -> ExportedLog:
    """Simulate one replication and write it as a log folder.

    Args:
        scenario: what to simulate (its whole horizon is written).
        replication: which replication (with ``seed``, it fixes every random stream).
        out: the folder to write ``events.csv``, ``absences.csv`` and ``staff.csv`` to.
        start_date: the date of day 0 (default: the scenario's ``start_date``, else
            2024-01-01).
        with_hours: write each block's hours in the ``hours`` column (else leave it empty).
        dates_only: write dates rather than date-times.
    """
    events, absences = log_events(scenario, replication, seed)
    if not with_hours:
        events = [
            LogEvent(e.case_id, e.day, e.activity, e.resource, e.grade, e.stage, None)
            for e in events
        ]
    team = scenario.team
    ftes = [g.fte for g in team.detectives for _ in range(g.count)]
    staff = list(zip(team.detective_names(), ftes, strict=True))
    day_0 = pd.Timestamp(
        start_date or (scenario.start_date.isoformat() if scenario.start_date else "2024-01-01")
    )
    paths = write_log(out, day_0, events, absences, staff, dates_only=dates_only)
    cases = sum(1 for e in events if e.activity == "referral")
    return ExportedLog(paths=paths, events=len(events), cases=cases, absences=len(absences))

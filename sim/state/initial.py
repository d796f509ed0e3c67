"""From a snapshot to the engine's initial state, and from a running replication to a snapshot.

Dates become days on the scenario's clock: day 0 is the scenario's ``start_date``, or the as-of
date when the scenario has none. What the snapshot does not say is drawn once per replication
from named streams (so every scenario forecast from the same snapshot with the same seed gets the
same draws, case by case):

* ``snapshot.effort`` – the hours left on a case's current team stage, from the stage's effort
  distribution (the case's grade's, if per grade) conditioned on exceeding ``stage_hours_done``,
  and the hours of its later team stages;
* ``snapshot.external`` – the days left at its current external stage, conditioned on the time
  the unit has already spent on it (since ``external_started``, or else ``external_since``); at a
  capacity-limited unit the cases with an ``external_started`` are in service and the others wait
  in its queue with a full draw, and when no case there has one, the ``capacity`` cases that
  arrived first are taken to be in service; and the days of its later external stages;
* ``snapshot.absence`` – the end of an open-ended absence, from the leave kind's length
  distribution conditioned on the time already absent (annual leave: its fixed length).
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass

import numpy as np

from sim.domain.distributions import Distribution, Fixed
from sim.engine.initial import Captured, InitialAbsence, InitialCase, InitialState
from sim.engine.streams import Streams
from sim.scenario import GRADE_NAMES, Scenario
from sim.state.snapshot import Snapshot, SnapshotAbsence, SnapshotCase, SnapshotError

__all__ = [
    "DEFAULT_START_DATE",
    "PreparedSnapshot",
    "origin",
    "prepare",
    "snapshot_from_captured",
]

DEFAULT_START_DATE = datetime.date(2000, 1, 3)
"""Day 0 of a scenario without ``start_date`` when a run's state is written as a snapshot (a
Monday, like the roster's default ``day_0_weekday``)."""


def origin(scenario: Scenario, as_of: datetime.date) -> tuple[datetime.date, float]:
    """Day 0's date and the as-of day on the scenario's clock.

    Raises:
        SnapshotError: the as-of date is before the scenario's ``start_date``.
    """
    start = scenario.start_date
    if start is None:
        return as_of, 0.0
    if as_of < start:
        raise SnapshotError(
            [f"--as-of: {as_of.isoformat()} is before the scenario's start_date {start}"]
        )
    return start, float((as_of - start).days)


def _effort_of(scenario: Scenario, stage: int, grade: int) -> Distribution:
    effort = scenario.cases.stages[stage].effort_hours
    if isinstance(effort, dict):
        return effort[GRADE_NAMES[grade]]  # type: ignore[index]
    assert effort is not None
    return effort


@dataclass(frozen=True)
class PreparedSnapshot:
    """A checked snapshot turned into days and indices, ready to draw initial states from.

    Cases are in placement order: those at an external stage first, by the day they reached it
    (so a capacity-limited unit serves the earliest), then the rest in file order.
    """

    scenario: Scenario
    snapshot: Snapshot
    start_date: datetime.date
    day: float
    cases: tuple[SnapshotCase, ...]
    grade: np.ndarray
    stage: np.ndarray
    arrival_day: np.ndarray
    last_progress_day: np.ndarray
    external_elapsed: np.ndarray  # days at the current external stage; nan at a team stage
    in_service: np.ndarray  # at an external stage and taken to be in service there

    def initial_state(self, streams: Streams) -> InitialState:
        """Draw one replication's initial state from ``streams``."""
        scenario = self.scenario
        stages = scenario.cases.stages
        n, k = len(self.cases), len(stages)
        u_effort = streams["snapshot.effort"].random((n, k))
        u_external = streams["snapshot.external"].random((n, k))
        efforts = np.zeros((n, k))
        external = np.zeros((n, k))
        done = np.array([c.stage_hours_done for c in self.cases])
        for s, stage in enumerate(stages):
            later = self.stage < s
            current = self.stage == s
            if stage.is_team:
                for g in range(len(GRADE_NAMES)):
                    grade = self.grade == g
                    if not (grade & (later | current)).any():
                        continue
                    dist = _effort_of(scenario, s, g)
                    mask = grade & later
                    efforts[mask, s] = dist.ppf(u_effort[mask, s])
                    mask = grade & current
                    efforts[mask, s] = dist.residual(done[mask], u_effort[mask, s])
            else:
                assert stage.external is not None
                dist = stage.external.days
                fresh = later | (current & ~self.in_service)
                external[fresh, s] = dist.ppf(u_external[fresh, s])
                mask = current & self.in_service
                external[mask, s] = dist.residual(self.external_elapsed[mask], u_external[mask, s])
        cases = tuple(
            InitialCase(
                case_id=-1 - i,
                arrival_day=float(self.arrival_day[i]),
                grade=int(self.grade[i]),
                stage=int(self.stage[i]),
                owner=c.owner or None,
                last_progress_day=float(self.last_progress_day[i]),
                efforts=tuple(float(x) for x in efforts[i]),
                external_days=tuple(float(x) for x in external[i]),
                inherited=c.inherited,
                longest_neglect_days=c.longest_neglect_days,
                action_plan=c.action_plan,
            )
            for i, c in enumerate(self.cases)
        )
        absence_rng = streams["snapshot.absence"]
        absences = []
        for a in self.snapshot.absences:
            u = absence_rng.random()
            start = self._day(a.start)
            if a.end is not None:
                end = self._day(a.end)
            elif start > self.day:
                continue  # an open-ended absence must be under way (checked when read)
            else:
                length = self._absence_length(a)
                end = self.day + float(length.residual(self.day - start, u))
            if end > self.day:
                absences.append(InitialAbsence(a.detective, a.kind, start, end))
        strain = {c.owner: c.owner_strain for c in self.cases if c.owner_strain is not None}
        return InitialState(self.day, cases, tuple(absences), tuple(strain.items()))

    def _day(self, date: datetime.date) -> float:
        return float((date - self.start_date).days)

    def _absence_length(self, absence: SnapshotAbsence) -> Distribution:
        leave = self.scenario.leave
        assert leave is not None
        if absence.kind == "annual":
            return Fixed(dist="fixed", value=leave.annual_days / leave.annual_blocks)
        spec = leave.short_sickness if absence.kind == "short" else leave.long_leave
        assert spec is not None
        return spec.days

    def neglect_days_today(self) -> np.ndarray:
        """Each case's current wait on the team at the as-of date (0 at an external stage)."""
        external = ~np.isnan(self.external_elapsed)
        return np.where(external, 0.0, self.day - self.last_progress_day)


def prepare(snapshot: Snapshot, scenario: Scenario) -> PreparedSnapshot:
    """Turn a checked snapshot into days on ``scenario``'s clock and placement order."""
    start, day = origin(scenario, snapshot.as_of)
    stage_index = {s.name: i for i, s in enumerate(scenario.cases.stages)}

    def to_day(date: datetime.date) -> float:
        return float((date - start).days)

    def sort_key(item: tuple[int, SnapshotCase]) -> tuple[int, float, int]:
        # Cases known to be in service at their unit first, then by arrival at the unit, then
        # the cases at team stages in file order.
        i, case = item
        if case.external_started is not None:
            return (0, to_day(case.external_started), i)
        if case.external_since is not None:
            return (1, to_day(case.external_since), i)
        return (2, 0.0, i)

    ordered = [c for _i, c in sorted(enumerate(snapshot.cases), key=sort_key)]
    stage = np.array([stage_index[c.stage] for c in ordered], dtype=np.int64)
    grade = np.array([GRADE_NAMES.index(c.grade) for c in ordered], dtype=np.int64)
    elapsed = np.array(
        [
            math.nan
            if c.external_since is None
            else day - to_day(c.external_started or c.external_since)
            for c in ordered
        ]
    )
    known = np.array([c.external_started is not None for c in ordered], dtype=bool)
    in_service = np.zeros(len(ordered), dtype=bool)
    for s, spec in enumerate(scenario.cases.stages):
        if spec.external is None:
            continue
        at = np.flatnonzero(stage == s)
        capacity = spec.external.capacity
        if capacity is None:
            in_service[at] = True
        elif known[at].any():
            in_service[at] = known[at]
        else:  # unknown: the first to arrive are taken to be in service
            in_service[at[:capacity]] = True
    return PreparedSnapshot(
        scenario=scenario,
        snapshot=snapshot,
        start_date=start,
        day=day,
        cases=tuple(ordered),
        grade=grade,
        stage=stage,
        arrival_day=np.array([to_day(c.referral_date) for c in ordered]),
        last_progress_day=np.array([to_day(c.last_progress_date) for c in ordered]),
        external_elapsed=elapsed,
        in_service=in_service,
    )


def snapshot_from_captured(captured: Captured, scenario: Scenario) -> Snapshot:
    """A running replication's state at ``captured.day`` in the snapshot's terms (dates)."""
    start = scenario.start_date or DEFAULT_START_DATE

    def date(day: float) -> datetime.date:
        return start + datetime.timedelta(days=math.floor(day + 1e-9))

    stages = scenario.cases.stages
    cases = tuple(
        SnapshotCase(
            case_id=str(c.case_id),
            referral_date=date(c.arrival_day),
            grade=GRADE_NAMES[c.grade],
            stage=stages[c.stage].name,
            owner=c.owner or "",
            last_progress_date=date(c.last_progress_day),
            stage_hours_done=c.stage_hours_done,
            inherited=c.inherited,
            external_since=None if c.external_since is None else date(c.external_since),
            longest_neglect_days=c.longest_neglect_days,
            external_started=None if c.external_started is None else date(c.external_started),
            action_plan=c.action_plan,
            owner_strain=c.owner_strain if scenario.policies.wellbeing is not None else None,
        )
        for c in captured.cases
    )
    absences = tuple(
        SnapshotAbsence(a.detective, date(a.start_day), None, a.kind) for a in captured.absences
    )
    return Snapshot(date(captured.day), cases, absences)

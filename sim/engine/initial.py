"""A replication's state handed in or taken out: open cases and absences at one instant.

:class:`InitialState` is what a forecast starts from instead of an empty team: the clock starts at
``day``, the open cases are placed with their owners (or in the team queue) and the absences under
way are continued, all before the first event. It is plain data in days and hours, already drawn
for one replication (remaining effort, remaining external time, the end of an open-ended
absence): the engine never reads files nor draws it. :func:`capture_state` takes the same kind of
picture of a running replication (``polit-sim run --snapshot-at``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import simpy

from sim.domain.entities import Case, Detective
from sim.engine.external import ExternalUnit
from sim.engine.wakeups import Delays, Steps
from sim.policies.wellbeing import checked_effects

if TYPE_CHECKING:
    from sim.engine.team import TeamState

__all__ = [
    "Captured",
    "CapturedAbsence",
    "CapturedCase",
    "FirstReturns",
    "InitialAbsence",
    "InitialCase",
    "InitialState",
    "capture_state",
    "initial_outcomes",
    "place_initial_state",
]


@dataclass(frozen=True)
class InitialCase:
    """An open case at the start of the clock.

    Attributes:
        case_id: the engine's id (negative for cases of the initial state: ``-1 - index``).
        arrival_day: the referral's day (before the clock starts).
        grade: the grade's index (0 very high … 3 low).
        stage: the index of its current stage.
        owner: the holder's detective name, or None (team queue, or the pool of push rules).
        last_progress_day: the start of the current interval without progress.
        efforts: hours each team stage needs; at the current stage, the hours still to do.
        external_days: days each external stage takes; at the current stage, the days still to go.
        inherited: whether the case was ever reallocated.
        longest_neglect_days: the longest wait on the team it has had so far (days).
        action_plan: under an action plan (it ranks first in its holder's work order).
    """

    case_id: int
    arrival_day: float
    grade: int
    stage: int
    owner: str | None
    last_progress_day: float
    efforts: tuple[float, ...]
    external_days: tuple[float, ...]
    inherited: bool = False
    longest_neglect_days: float = 0.0
    action_plan: bool = False


@dataclass(frozen=True)
class InitialAbsence:
    """An absence of ``kind`` from ``start_day`` (at or before the clock's start, or after it) to
    ``end_day``."""

    detective: str
    kind: str
    start_day: float
    end_day: float


@dataclass(frozen=True)
class InitialState:
    """Where a replication starts: the clock at ``day``, open cases, absences.

    Cases are placed in the order given; those at a capacity-limited external unit enter its
    queue in that order (so the first ``capacity`` of them are in service).
    """

    day: float
    cases: tuple[InitialCase, ...] = ()
    absences: tuple[InitialAbsence, ...] = ()
    strain: tuple[tuple[str, float], ...] = ()  # (detective, strain) where known

    def __post_init__(self) -> None:
        for case in self.cases:
            if case.arrival_day > self.day or case.last_progress_day > self.day:
                raise ValueError(f"case {case.case_id}: dated after the clock's start")
        for absence in self.absences:
            if absence.end_day < absence.start_day:
                raise ValueError(f"absence of {absence.detective}: ends before it starts")


@dataclass(frozen=True)
class CapturedCase:
    """An open case as a replication holds it at one instant (days since day 0).

    ``stage_hours_done`` counts the hours worked on the current team stage, including a block in
    progress; ``external_since`` is the day it reached its current external stage (None at a
    team stage), ``external_started`` the day the unit began on it (None while it waits in the
    unit's queue); ``last_progress_day`` is the start of the current interval without progress
    (the instant itself while a detective works the case).
    """

    case_id: int
    arrival_day: float
    grade: int
    stage: int
    owner: str | None
    last_progress_day: float
    stage_hours_done: float
    inherited: bool
    external_since: float | None
    longest_neglect_days: float
    external_started: float | None = None
    action_plan: bool = False
    owner_strain: float | None = None


@dataclass(frozen=True)
class CapturedAbsence:
    """An absence under way at the instant: ``detective`` off on ``kind`` since ``start_day``."""

    detective: str
    kind: str
    start_day: float


@dataclass
class Captured:
    """Open cases and absences under way at ``day``."""

    day: float
    cases: list[CapturedCase] = field(default_factory=list)
    absences: list[CapturedAbsence] = field(default_factory=list)


def capture_state(
    now: float,
    cases: Sequence[Case],
    detectives: Sequence[Detective],
    stage_is_team: Sequence[bool],
    units: Mapping[int, ExternalUnit],
) -> Captured:
    """Picture the open cases and the absences under way at ``now`` (read only)."""
    in_progress: dict[int, float] = {}
    for d in detectives:
        case, _hours, started, rate = d.block
        if d.current is not None and case is d.current:
            clock = d.clock
            elapsed = (
                now - started if clock is None else clock.work_time(now) - clock.work_time(started)
            )
            in_progress[case.case_id] = max(elapsed, 0.0) * rate
    out = Captured(now)
    for case in cases:
        if case.closed_day is not None or case.arrival_day > now:
            continue
        team_stage = stage_is_team[case.stage]
        working = case.case_id in in_progress
        if working:
            last = now
        elif case.stalled_since is not None:
            last = case.stalled_since
        else:
            last = now
        done = 0.0
        if team_stage:
            done = (
                case.efforts[case.stage] - case.remaining_hours + in_progress.get(case.case_id, 0.0)
            )
        # The wait under way is carried by last_progress_day; this is the longest finished one.
        neglect = case.longest_neglect_days
        out.cases.append(
            CapturedCase(
                case_id=case.case_id,
                arrival_day=case.arrival_day,
                grade=case.grade,
                stage=case.stage,
                owner=None if case.owner is None else case.owner.name,
                last_progress_day=last,
                stage_hours_done=max(done, 0.0),
                inherited=case.inherited,
                external_since=None if team_stage else case.stalled_since,
                longest_neglect_days=neglect,
                external_started=None
                if team_stage
                else units[case.stage].started.get(case.case_id),
                action_plan=case.priority > 0,
                owner_strain=None if case.owner is None else case.owner.strain,
            )
        )
    for d in detectives:
        if d.absences > 0 and d.absent_since is not None:
            for kind, count in d.absence_kinds.items():
                if count > 0:
                    out.absences.append(CapturedAbsence(d.name, kind, d.absent_since))
    return out


class FirstReturns:
    """Wraps an external unit's ``done``: notes when each initial case first comes back.

    Used only when the clock starts from an initial state; ordinary runs call ``done`` directly.
    """

    def __init__(self, env: simpy.Environment, done: Callable[[Case], None]) -> None:
        self.env = env
        self.done = done
        self.days: dict[int, float] = {}

    def __call__(self, case: Case) -> None:
        if case.case_id < 0 and case.case_id not in self.days:
            self.days[case.case_id] = self.env.now
        self.done(case)


def place_initial_state(
    team: TeamState,
    state: InitialState,
    effects: Callable[[float], tuple[float, float]] | None = None,
) -> list[Case]:
    """Put the initial state's cases and absences in place, before the clock starts.

    Owned cases go to their holders (no reallocation counted), then unowned ones are allocated
    as a new referral would be (to the team queue under ``team_queue``). Cases at an external stage
    enter their unit in the order given. Absences under way start now, with the time already
    absent counted towards the reallocation rule's ``after_days``; later ones are scheduled.

    ``effects`` (the wellbeing policy's: strain to productivity and sickness multiplier) applies
    the initial strain; without it strain is not modelled and is left alone.

    Returns:
        the cases placed, in the order given; their ``first_work_day`` is reset so that, after the
        run, it is the first work from the clock's start on.
    """
    now = team.env.now
    if effects is not None:
        for name, strain in state.strain:
            detective = team.by_name(name)
            if detective is None:
                raise ValueError(f"strain: no detective called {name!r}")
            detective.strain = strain
            detective.productivity, detective.sickness_multiplier = checked_effects(effects, strain)
    placed: list[Case] = []
    for item in state.cases:
        case = Case(
            item.case_id,
            item.arrival_day,
            item.grade,
            list(item.efforts),
            list(item.external_days),
        )
        case.stage = item.stage
        case.inherited = item.inherited
        case.longest_neglect_days = item.longest_neglect_days
        if item.action_plan:
            case.priority = 1
        case.stalled_since = item.last_progress_day
        case.held_since = now
        team.cases.append(case)
        team.open_cases += 1
        if team.stage_is_team[item.stage]:
            case.remaining_hours = item.efforts[item.stage]
            case.idle_since = item.last_progress_day
        else:
            case.parked = True
            team.units[item.stage].submit(case)
        placed.append(case)
    for case, item in zip(placed, state.cases, strict=True):
        if item.owner is not None:
            owner = team.by_name(item.owner)
            if owner is None:
                raise ValueError(f"case {item.case_id}: no detective called {item.owner!r}")
            team.assign(case, owner, notify=False)
    for case, item in zip(placed, state.cases, strict=True):
        if item.owner is None:
            team.allocate(case)
    for absence in state.absences:
        detective = team.by_name(absence.detective)
        if detective is None:
            raise ValueError(f"absence: no detective called {absence.detective!r}")
        if absence.start_day <= now:
            # Under way: absent before anyone is set to work.
            team.start_absence(detective, absence.kind, elapsed_days=now - absence.start_day)
        Steps(team.env, _continues_absence(team, detective, absence), team.later)
    return placed


def _continues_absence(team: TeamState, detective: Detective, absence: InitialAbsence) -> Delays:
    """Process: an absence of the initial state, planned or (already started) under way, to its
    end."""
    env = team.env
    if absence.start_day > env.now:
        yield absence.start_day - env.now
        team.start_absence(detective, absence.kind)
    yield max(absence.end_day - env.now, 0.0)
    team.end_absence(detective, absence.kind)


def initial_outcomes(
    placed: Sequence[Case], returns: FirstReturns | None
) -> dict[str, list[float]]:
    """Per initial case: its next progress after the clock's start, closing day (nan: none)."""
    nan = float("nan")
    spell_end = []
    for case in placed:
        ends = [
            day
            for day in (
                case.first_work_day,
                None if returns is None else returns.days.get(case.case_id),
            )
            if day is not None
        ]
        spell_end.append(min(ends) if ends else nan)
    return {
        "spell_end_day": spell_end,
        "closed_day": [nan if c.closed_day is None else c.closed_day for c in placed],
        "longest_neglect_days": [c.longest_neglect_days for c in placed],
    }

"""The team's own things: grades, cases, detectives.

Plain state, no SimPy, no randomness, no I/O. The engine mutates these objects; policies only read
them. They use ``__slots__`` because a replication creates thousands of cases and touches them on
every block of work.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.engine.roster import WeeklyClock

__all__ = ["Case", "Detective", "Grade"]


class Grade(IntEnum):
    """KIRAT-style risk grade; a lower value is more urgent."""

    VERY_HIGH = 0
    HIGH = 1
    MEDIUM = 2
    LOW = 3

    @property
    def key(self) -> str:
        """The grade as scenario files spell it (``very_high``)."""
        return self.name.lower()


class Case:
    """One referral and its investigation.

    Times are in days since the start of the replication, work in hours. ``stalled_since`` is the
    start of the current interval without progress of any kind (``None`` while a detective works
    the case); ``idle_since`` the start of the current interval in which the case waits on the team
    itself (``None`` while it is worked or parked at an external unit). ``neglect_holder`` is the
    detective who held the case for most of its longest such interval so far (``""`` for the pool
    or team queue); ``held_since`` is when its current holder took it, ``spell_queued`` the time the
    current interval has spent unowned so far, and ``spell_held`` the time earlier detectives held
    it in the current interval (None until a detective hands it on in one).
    """

    __slots__ = (
        "action_deadline",
        "arrival_day",
        "case_id",
        "closed_day",
        "devices",
        "efforts",
        "enforcement_day",
        "external_days",
        "first_work_day",
        "flagged_day",
        "grade",
        "held_since",
        "idle_since",
        "inherited",
        "longest_gap_days",
        "longest_neglect_days",
        "neglect_holder",
        "order_seq",
        "owner",
        "owner_changes",
        "parked",
        "priority",
        "ranked",
        "remaining_hours",
        "spell_held",
        "spell_queued",
        "stage",
        "stalled_since",
        "worked_hours",
    )

    def __init__(
        self,
        case_id: int,
        arrival_day: float,
        grade: int,
        efforts: Sequence[float],
        external_days: Sequence[float],
        devices: float = 0.0,
    ) -> None:
        self.case_id = case_id
        self.arrival_day = arrival_day
        self.grade = grade
        self.efforts = efforts
        self.external_days = external_days
        self.devices = devices
        self.stage = 0
        self.remaining_hours = 0.0
        self.worked_hours = 0.0
        self.owner: Detective | None = None
        self.owner_changes = 0
        self.inherited = False
        self.parked = False
        self.priority = 0
        # The engine's work-order bookkeeping: the case's place in its owner's caseload order,
        # and its live entry in the owner's priority heap (None while it has none).
        self.order_seq = 0
        self.ranked: tuple[Any, ...] | None = None
        self.action_deadline: float | None = None
        self.flagged_day: float | None = None
        self.first_work_day: float | None = None
        self.enforcement_day: float | None = None
        self.closed_day: float | None = None
        self.stalled_since: float | None = arrival_day
        self.idle_since: float | None = None
        self.longest_gap_days = 0.0
        self.longest_neglect_days = 0.0
        self.held_since = arrival_day
        self.spell_held: dict[str, float] | None = None
        self.spell_queued = 0.0
        self.neglect_holder = ""

    @property
    def is_open(self) -> bool:
        """Whether the last stage has not finished yet."""
        return self.closed_day is None

    def hand_over(self, now: float) -> None:
        """The case changes hands now: credit its holder so far with their part of the wait."""
        idle = self.idle_since
        if idle is not None:
            start = idle if idle > self.held_since else self.held_since
            if now > start:
                owner = self.owner
                if owner is None:
                    self.spell_queued += now - start
                else:
                    held = self.spell_held
                    if held is None:
                        held = self.spell_held = {}
                    held[owner.name] = held.get(owner.name, 0.0) + (now - start)
        self.held_since = now

    def end_wait(self, now: float) -> None:
        """The wait on the team ends now (work starts, or the horizon): keep it if the longest."""
        idle = self.idle_since
        if idle is None:
            return
        if now - idle > self.longest_neglect_days:
            self.longest_neglect_days = now - idle
            start = idle if idle > self.held_since else self.held_since
            holder = "" if self.owner is None else self.owner.name
            totals = self.spell_held if self.spell_held is not None else {}  # reset below
            totals[holder] = totals.get(holder, 0.0) + (now - start)
            if self.spell_queued > 0.0:
                totals[""] = totals.get("", 0.0) + self.spell_queued
            if len(totals) > 1:
                holder = max(totals, key=totals.__getitem__)
            self.neglect_holder = holder
        self.idle_since = None
        self.spell_held = None
        self.spell_queued = 0.0

    def neglect_days(self, now: float) -> float:
        """How long the case has now been waiting on the team without being worked (days)."""
        return 0.0 if self.idle_since is None else now - self.idle_since

    def gap_days(self, now: float) -> float:
        """How long the case has now gone without progress of any kind (days)."""
        return 0.0 if self.stalled_since is None else now - self.stalled_since

    def __repr__(self) -> str:
        owner = self.owner.name if self.owner is not None else None
        return (
            f"Case(id={self.case_id}, grade={Grade(self.grade).key}, stage={self.stage}, "
            f"owner={owner}, arrival_day={self.arrival_day:.2f})"
        )


class Detective:
    """A detective constable: FTE, caseload, presence and the counters the outputs need.

    ``rate_hours_per_day`` is ``fte × hours_per_week / 7``: the hours of case work supplied per
    calendar day while present, on average over a week, before any loss of productivity.
    ``clock`` is the detective's weekly roster (:class:`~sim.engine.roster.WeeklyClock`) or None
    when they
    work every day alike; ``work_rate`` is the hours supplied per day of working time: per
    working day of the roster (``fte × hours_per_week / n``), or ``rate_hours_per_day``.
    """

    __slots__ = (
        "absence_kinds",
        "absences",
        "absent_since",
        "block",
        "caseload",
        "clock",
        "current",
        "days_absent",
        "episode",
        "extra",
        "fte",
        "group",
        "hours_worked",
        "index",
        "name",
        "productivity",
        "pull_limit",
        "rate_hours_per_day",
        "relief",
        "sickness_multiplier",
        "solo_since",
        "spare",
        "strain",
        "token",
        "waiting",
        "wake",
        "work_days_absent",
        "work_rate",
    )

    def __init__(
        self,
        index: int,
        name: str,
        group: str,
        fte: float,
        hours_per_week: float,
        clock: WeeklyClock | None = None,
    ) -> None:
        self.index = index
        self.name = name
        self.group = group
        self.fte = fte
        self.rate_hours_per_day = fte * hours_per_week / 7.0
        self.clock = clock
        self.work_rate = (
            self.rate_hours_per_day if clock is None else fte * hours_per_week / clock.days_per_week
        )
        self.wake = 0
        self.work_days_absent = 0.0
        self.caseload: list[Case] = []
        self.current: Case | None = None
        self.absences = 0
        self.absence_kinds: dict[str, int] = {}
        self.absent_since: float | None = None
        self.episode = 0
        self.days_absent = 0.0
        self.hours_worked = 0.0
        self.productivity = 1.0
        self.sickness_multiplier = 1.0
        self.relief = 0.0
        self.strain = 0.0
        self.waiting = False
        self.pull_limit = 0
        self.solo_since: float | None = None
        # the engine's last block event, processed, kept to schedule the next block with
        self.spare: Any = None
        self.token = 0
        # (case, hours, start day, rate in hours per day) of the block in progress
        self.block: tuple[Any, float, float, float] = (None, 0.0, 0.0, 1.0)
        self.extra: dict[str, Any] = {}

    @property
    def present(self) -> bool:
        """Whether the detective is at work (no absence under way)."""
        return self.absences == 0

    @property
    def load(self) -> float:
        """Open cases held per FTE (parked cases included)."""
        return len(self.caseload) / self.fte

    def __repr__(self) -> str:
        return (
            f"Detective({self.name!r}, fte={self.fte}, cases={len(self.caseload)}, "
            f"present={self.present})"
        )

"""The live state of one replication's team, and the engine's actions on it.

:class:`TeamState` is what the processes change and what policies see (it satisfies
:class:`sim.policies.TeamView`). Every change of a case's ownership or progress goes through one
of its methods, so the bookkeeping behind the outputs (first work, longest gap, longest neglect,
owner changes) lives in one place.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from typing import Any

import simpy
from numpy.random import Generator

from sim.entities import Case, Detective
from sim.policies import AllocationPolicy, ReallocationPolicy, WorkOrderPolicy

__all__ = ["EPSILON_HOURS", "ExternalUnit", "TeamState"]

EPSILON_HOURS = 1e-9
"""Work left below this is treated as done (floating-point dust)."""

TraceSink = list[tuple[Any, ...]] | None


class ExternalUnit:
    """Another unit a case waits on: a capacity-limited queue, or a pure delay.

    Service times were drawn with the case's attributes at arrival. Completions call ``done``.
    """

    def __init__(
        self,
        env: simpy.Environment,
        stage: int,
        capacity: int | None,
        by_grade: bool,
        done: Callable[[Case], None],
    ) -> None:
        self.env = env
        self.stage = stage
        self.capacity = capacity
        self.by_grade = by_grade
        self.done = done
        self.busy = 0
        self.queue: list[tuple[float, int, int, Case]] = []

    def submit(self, case: Case) -> None:
        """Hand ``case`` to the unit; it starts at once if the unit has room."""
        if self.capacity is None or self.busy < self.capacity:
            self._start(case)
        else:
            key = float(case.grade) if self.by_grade else 0.0
            heapq.heappush(self.queue, (key, case.case_id, case.case_id, case))

    def _start(self, case: Case) -> None:
        self.busy += 1
        event = self.env.timeout(case.external_days[self.stage])
        event.callbacks.append(lambda _event, case=case: self._finish(case))

    def _finish(self, case: Case) -> None:
        self.busy -= 1
        if self.queue:
            self._start(heapq.heappop(self.queue)[3])
        self.done(case)


class TeamState:
    """The team of one replication: detectives, the team queue, the pool, external units.

    Args:
        env: the replication's SimPy environment.
        detectives: the team, in scenario order.
        allocation, work_order, reallocation: the policies in force.
        stage_is_team: per stage, whether detectives work it (else an external unit does).
        enforcement_stage: the stage whose end is the enforcement action.
        block_hours: hours worked on a case before choosing again.
        rng: the stream the allocation and reallocation policies draw from.
        trace: a list to append timeline events to, or ``None`` (the default: no tracing).
    """

    def __init__(
        self,
        env: simpy.Environment,
        detectives: Sequence[Detective],
        allocation: AllocationPolicy,
        work_order: WorkOrderPolicy,
        reallocation: ReallocationPolicy,
        stage_is_team: Sequence[bool],
        enforcement_stage: int,
        block_hours: float,
        rng: Generator,
        trace: TraceSink = None,
    ) -> None:
        self.env = env
        self._detectives = list(detectives)
        self._by_name = {d.name: d for d in detectives}
        self.allocation = allocation
        self.work_order = work_order
        self.reallocation = reallocation
        self.stage_is_team = list(stage_is_team)
        self.last_stage = len(stage_is_team) - 1
        self.enforcement_stage = enforcement_stage
        self.block_hours = block_hours
        self.rng = rng
        self.trace = trace
        self.units: dict[int, ExternalUnit] = {}
        self.queue: list[tuple[tuple[float, ...], Case]] = []
        self.pool: list[Case] = []
        self.pulls = any(allocation.pull_limit(d) > 0 for d in detectives)
        self.open_cases = 0
        self.on_close: list[Callable[[Case], None]] = []

    # --- TeamView ---------------------------------------------------------------------------

    @property
    def now(self) -> float:
        return self.env.now

    @property
    def detectives(self) -> Sequence[Detective]:
        return self._detectives

    def present(self) -> list[Detective]:
        return [d for d in self._detectives if d.absences == 0]

    def by_name(self, name: str) -> Detective | None:
        return self._by_name.get(name)

    # --- arrivals and ownership -------------------------------------------------------------

    def arrive(self, case: Case) -> None:
        """A referral arrives: it enters its first stage and is allocated."""
        self.open_cases += 1
        if self.stage_is_team[0]:
            case.remaining_hours = case.efforts[0]
            case.idle_since = case.arrival_day
        else:
            case.parked = True
            self.units[0].submit(case)
        self.allocate(case)

    def allocate(self, case: Case) -> None:
        """Give ``case`` to the owner the allocation policy chooses, or to the team queue."""
        owner = self.allocation.choose(case, self, self.rng)
        if owner is None:
            self.enqueue(case)
        else:
            self.assign(case, owner)

    def assign(self, case: Case, detective: Detective, *, moved: bool = False) -> None:
        """Make ``detective`` the owner of ``case``; ``moved`` marks a reallocation."""
        previous = case.owner
        if previous is not None:
            previous.caseload.remove(case)
        case.owner = detective
        detective.caseload.append(case)
        if moved:
            case.owner_changes += 1
            case.inherited = True
        if self.trace is not None:
            self.trace.append(("own", self.env.now, case.case_id, detective.name, moved))
        if not case.parked:
            self.notify(detective)

    def release(self, case: Case) -> None:
        """Take ``case`` away from its owner (it goes to the team queue or the pool next)."""
        owner = case.owner
        if owner is not None:
            owner.caseload.remove(case)
            case.owner = None
            case.owner_changes += 1
            case.inherited = True
            if self.trace is not None:
                self.trace.append(("own", self.env.now, case.case_id, None, True))

    def enqueue(self, case: Case) -> None:
        """Put an unowned case in the team queue (pull rules) or the pool (push rules)."""
        if self.pulls:
            heapq.heappush(self.queue, (self.work_order.key(case), case))
            for detective in self._detectives:
                if detective.wake is not None and detective.absences == 0:
                    if len(detective.caseload) < self.allocation.pull_limit(detective):
                        self.notify(detective)
                        break
        else:
            self.pool.append(case)

    def flush_pool(self) -> None:
        """Offer every pooled case to the allocation rule again (push rules)."""
        if not self.pool or not any(d.absences == 0 for d in self._detectives):
            return
        pooled, self.pool = self.pool, []
        for case in pooled:
            self.allocate(case)

    def notify(self, detective: Detective) -> None:
        """Wake ``detective`` if they are present and waiting for work."""
        wake = detective.wake
        if wake is not None and detective.absences == 0:
            detective.wake = None
            wake.succeed()

    # --- work -------------------------------------------------------------------------------

    def next_case(self, detective: Detective) -> Case | None:
        """The case ``detective`` works next: top up from the team queue, then the work order."""
        if self.pulls and self.queue:
            limit = self.allocation.pull_limit(detective)
            while self.queue and len(detective.caseload) < limit:
                self.assign(heapq.heappop(self.queue)[1], detective)
        key = self.work_order.key
        best: Case | None = None
        best_key: tuple[float, ...] | None = None
        for case in detective.caseload:
            if case.parked:
                continue
            case_key = key(case)
            if best_key is None or case_key < best_key:
                best, best_key = case, case_key
        return best

    def start_work(self, detective: Detective, case: Case) -> None:
        """``detective`` starts a block of work on ``case`` now."""
        now = self.env.now
        detective.current = case
        stalled = case.stalled_since
        if stalled is not None:
            if now - stalled > case.longest_gap_days:
                case.longest_gap_days = now - stalled
            case.stalled_since = None
        idle = case.idle_since
        if idle is not None:
            if now - idle > case.longest_neglect_days:
                case.longest_neglect_days = now - idle
            case.idle_since = None
        if case.first_work_day is None:
            case.first_work_day = now

    def stop_work(self, detective: Detective, case: Case, hours: float, started: float) -> None:
        """``detective`` ends a block on ``case`` having worked ``hours``."""
        now = self.env.now
        detective.current = None
        detective.hours_worked += hours
        case.worked_hours += hours
        case.remaining_hours -= hours
        case.stalled_since = now
        if self.trace is not None:
            self.trace.append(("work", started, now, detective.name, case.case_id, hours))
        if case.remaining_hours <= EPSILON_HOURS:
            self.advance(case)
        else:
            case.idle_since = now

    def advance(self, case: Case) -> None:
        """``case`` finished its current stage: enter the next one, or close."""
        now = self.env.now
        if case.stage == self.enforcement_stage:
            case.enforcement_day = now
        if case.stage == self.last_stage:
            self.close(case)
            return
        case.stage += 1
        if self.stage_is_team[case.stage]:
            case.remaining_hours = case.efforts[case.stage]
            case.parked = False
            case.idle_since = now
            if case.owner is not None:
                self.notify(case.owner)
        else:
            case.parked = True
            case.idle_since = None
            self.units[case.stage].submit(case)

    def external_done(self, case: Case) -> None:
        """An external unit finished with ``case``: that is progress."""
        now = self.env.now
        if now - case.stalled_since > case.longest_gap_days:  # type: ignore[operator]
            case.longest_gap_days = now - case.stalled_since  # type: ignore[operator]
        case.stalled_since = now
        if self.trace is not None:
            self.trace.append(("external", now, case.case_id, case.stage))
        self.advance(case)

    def close(self, case: Case) -> None:
        """The last stage finished."""
        case.closed_day = self.env.now
        case.stalled_since = None
        case.idle_since = None
        case.parked = False
        owner = case.owner
        if owner is not None:
            owner.caseload.remove(case)
        self.open_cases -= 1
        for hook in self.on_close:
            hook(case)

    # --- leave ------------------------------------------------------------------------------

    def start_absence(self, detective: Detective, kind: str) -> None:
        """``detective`` goes on leave of ``kind``; work in hand stops at once."""
        detective.absence_kinds[kind] = detective.absence_kinds.get(kind, 0) + 1
        detective.absences += 1
        if detective.absences > 1:
            return
        now = self.env.now
        detective.absent_since = now
        detective.episode += 1
        if self.trace is not None:
            self.trace.append(("absent", now, detective.name, kind))
        if detective.current is not None:
            detective.process.interrupt("absence")
        episode = detective.episode
        check = self.env.timeout(self.reallocation.after_days)
        check.callbacks.append(lambda _e: self._reallocate_if_still_absent(detective, episode))

    def end_absence(self, detective: Detective, kind: str) -> None:
        """``detective`` returns from leave of ``kind`` (present again when no leave remains)."""
        detective.absence_kinds[kind] -= 1
        detective.absences -= 1
        if detective.absences > 0:
            return
        now = self.env.now
        detective.days_absent += now - detective.absent_since  # type: ignore[operator]
        detective.absent_since = None
        if self.trace is not None:
            self.trace.append(("present", now, detective.name))
        self.notify(detective)
        if not self.pulls:
            self.flush_pool()

    def _reallocate_if_still_absent(self, detective: Detective, episode: int) -> None:
        if detective.absences == 0 or detective.episode != episode or not detective.caseload:
            return
        cases = list(detective.caseload)
        targets = self.reallocation.reassign(cases, detective, self, self.rng)
        for case, target in zip(cases, targets, strict=True):
            if target is detective:
                continue
            if target is None:
                self.release(case)
                self.enqueue(case)
            else:
                self.assign(case, target, moved=True)
        if not self.pulls:
            self.flush_pool()

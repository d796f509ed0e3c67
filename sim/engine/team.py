"""The live state of one replication's team, and the engine's actions on it.

:class:`TeamState` is what the processes change and what policies see (it satisfies
:class:`sim.policies.TeamView`). Every change of a case's ownership or progress goes through one
of its methods, so the bookkeeping behind the outputs (first work, longest gap, longest neglect,
owner changes) lives in one place.

The two hot paths, referrals arriving and detectives working blocks, are chains of SimPy
events with callbacks rather than generator processes: a block of work is one ``Timeout`` whose
callback ends the block and starts the next. Leave cancels a block in progress by bumping the
detective's ``token``, so a stale block's callback does nothing. This halves the cost per
event against generator processes and interrupts, and planners run thousands of replications.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from typing import Any

import simpy
from numpy.random import Generator
from simpy.events import Timeout

from sim.domain.entities import Case, Detective
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
        self.entered = 0
        self.queue: list[tuple[float, int, Case]] = []

    def submit(self, case: Case) -> None:
        """Hand ``case`` to the unit; it starts at once if the unit has room."""
        if self.capacity is None or self.busy < self.capacity:
            self._start(case)
        else:
            key = float(case.grade) if self.by_grade else 0.0
            self.entered += 1
            heapq.heappush(self.queue, (key, self.entered, case))

    def _start(self, case: Case) -> None:
        self.busy += 1
        event = self.env.timeout(case.external_days[self.stage])
        event.callbacks.append(lambda _event: self._finish(case))

    def _finish(self, case: Case) -> None:
        self.busy -= 1
        if self.queue:
            self._start(heapq.heappop(self.queue)[2])
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

    Timeline events (tuples, in the order they happen):

    * ``("own", day, case_id, detective name or None, moved)`` – a case gets an owner (``None``:
      back to the team queue or pool); ``moved`` is true for a reallocation;
    * ``("work", start_day, end_day, detective name, case_id, hours)`` – a block of work;
    * ``("external", day, case_id, stage)`` – an external unit finished a stage;
    * ``("stage_end", day, case_id, stage)`` – a stage (team or external) finished;
    * ``("close", day, case_id)`` – the last stage finished;
    * ``("absent", day, detective name, kind)`` / ``("present", day, detective name)`` – leave
      starts (kind ``annual``, ``short``, ``long``, ...) and ends;
    * ``("leave", day, detective name, kind, starts)`` – each episode of each kind starts
      (``starts`` true) or ends, overlapping ones included (``absent``/``present`` mark only
      the first start and the last end of overlapping episodes).

    Supervision (:mod:`sim.engine.supervision`) adds ``("review", day, detectives reviewed, cases
    flagged)`` for each workload review and ``("flag", day, case_id, detective name)`` for each
    case a review flags.
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
        for detective in detectives:
            detective.pull_limit = allocation.pull_limit(detective)
        self.pulls = any(d.pull_limit > 0 for d in detectives)
        self.open_cases = 0
        self.on_close: list[Callable[[Case], None]] = []
        self.cases: list[Case] = []
        self._arrived = 0
        self._arrival_days: Sequence[float] = ()
        self._make_case: Callable[[int], Case] = lambda i: Case(i, 0.0, 0, [], [])

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

    def assign(
        self, case: Case, detective: Detective, *, moved: bool = False, notify: bool = True
    ) -> None:
        """Make ``detective`` the owner of ``case``; ``moved`` marks a reallocation."""
        previous = case.owner
        if previous is not None:
            previous.caseload.remove(case)
            case.hand_over(self.env.now)
        else:  # Case.hand_over, inline for the common hand-over: from the queue or pool
            now = self.env.now
            idle = case.idle_since
            if idle is not None:
                start = idle if idle > case.held_since else case.held_since
                if now > start:
                    case.spell_queued += now - start
            case.held_since = now
        case.owner = detective
        detective.caseload.append(case)
        if moved:
            case.owner_changes += 1
            case.inherited = True
        if self.trace is not None:
            self.trace.append(("own", self.env.now, case.case_id, detective.name, moved))
        if notify and not case.parked:
            self.notify(detective)

    def release(self, case: Case) -> None:
        """Take ``case`` away from its owner (it goes to the team queue or the pool next)."""
        owner = case.owner
        if owner is not None:
            owner.caseload.remove(case)
            case.hand_over(self.env.now)
            case.owner = None
            case.owner_changes += 1
            case.inherited = True
            if self.trace is not None:
                self.trace.append(("own", self.env.now, case.case_id, None, True))

    def enqueue(self, case: Case) -> None:
        """Put an unowned case in the team queue (pull rules) or the pool (push rules)."""
        if self.pulls:
            for detective in self._detectives:
                if (
                    detective.waiting
                    and detective.absences == 0
                    and len(detective.caseload) < detective.pull_limit
                ):
                    if self.queue:
                        heapq.heappush(self.queue, (self.work_order.key(case), case))
                    else:  # the waiting detective would pull this very case
                        self.assign(case, detective, notify=False)
                    self.notify(detective)
                    return
            heapq.heappush(self.queue, (self.work_order.key(case), case))
            for detective in self._detectives:
                if (
                    detective.solo_since is not None
                    and len(detective.caseload) < detective.pull_limit
                ):
                    self.reconsider(detective)
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
        """Set ``detective`` to work if they are present and waiting for work."""
        if detective.waiting:
            if detective.absences == 0:
                detective.waiting = False
                self.work_next(detective)
        elif detective.solo_since is not None:
            self.reconsider(detective)

    def start(self, arrival_days: Sequence[float], make_case: Callable[[int], Case]) -> None:
        """Schedule the referrals and set every detective to work."""
        self._arrival_days = arrival_days
        self._make_case = make_case
        if len(arrival_days):
            Timeout(self.env, arrival_days[0]).callbacks.append(self._arrive_next)
        for detective in self._detectives:
            detective.waiting = True
            self.notify(detective)

    def _arrive_next(self, _event: object) -> None:
        """Callback: the next referral arrives; the one after it is scheduled."""
        i = self._arrived
        case = self._make_case(i)
        self.cases.append(case)
        self._arrived = i + 1
        if i + 1 < len(self._arrival_days):
            delay = self._arrival_days[i + 1] - self.env.now
            Timeout(self.env, delay).callbacks.append(self._arrive_next)
        self.arrive(case)

    def work_next(self, detective: Detective) -> None:
        """``detective`` is free: start a block on the case the work order ranks first.

        A block is ``block_hours`` of work (less if the stage needs less) at the detective's
        rate. With nothing to do, or while absent, the detective waits until notified.
        """
        if detective.absences:
            detective.waiting = True
            return
        now = self.env.now
        clock = detective.clock
        if clock is not None and not clock.is_working(now):
            self._sleep_until_rostered(detective, clock.next_start(now))
            return
        case = self.next_case(detective)
        if case is None:
            detective.waiting = True
            return
        rate = detective.work_rate * detective.productivity
        hours = case.remaining_hours
        # A block ends only so that the work order can choose again. When nothing else could be
        # chosen (no other actionable case, no room to pull) the case is worked to the end of its
        # stage in one event; anything that changes the choice meanwhile calls reconsider().
        if hours > self.block_hours and not self._alone(detective, case):
            hours = self.block_hours
            detective.solo_since = None
        else:
            detective.solo_since = now
        self.start_work(detective, case)
        detective.block = (case, hours, now, rate)
        detective.token += 1
        token = detective.token
        if clock is None:
            days = hours / rate
        else:
            days = max(clock.calendar_time(clock.work_time(now) + hours / rate) - now, 0.0)
        Timeout(self.env, days).callbacks.append(lambda _event: self._block_done(detective, token))

    def _sleep_until_rostered(self, detective: Detective, start: float) -> None:
        """Off the roster: ``detective`` chooses again when the next working day starts.

        Until then nothing wakes them (``waiting`` is off); leave that begins meanwhile finds
        them idle, and on waking while absent they wait for their return as usual.
        """
        detective.waiting = False
        detective.solo_since = None
        detective.wake += 1
        wake = detective.wake
        Timeout(self.env, start - self.env.now).callbacks.append(
            lambda _event: self._wake(detective, wake)
        )

    def _wake(self, detective: Detective, wake: int) -> None:
        if wake == detective.wake and detective.current is None and not detective.waiting:
            self.work_next(detective)

    def _alone(self, detective: Detective, case: Case) -> bool:
        """Whether ``case`` is the only thing ``detective`` could work on now."""
        if self.pulls and self.queue and len(detective.caseload) < detective.pull_limit:
            return False
        return all(other is case or other.parked for other in detective.caseload)

    def reconsider(self, detective: Detective) -> None:
        """Something changed ``detective``'s choice: end the current block at its normal end.

        Blocks of a detective working a lone case run to the end of the stage; this cuts such a
        run at the next block boundary, as if it had been worked block by block all along.
        """
        since = detective.solo_since
        if since is None or detective.current is None:
            return
        detective.solo_since = None
        _case, _hours, started, rate = detective.block
        block_days = self.block_hours / rate
        clock = detective.clock
        if clock is None:
            elapsed_blocks = int((self.env.now - started) / block_days) + 1
            boundary = started + elapsed_blocks * block_days
            if boundary >= started + _hours / rate:
                return
        else:
            begun = clock.work_time(started)
            elapsed_blocks = int((clock.work_time(self.env.now) - begun) / block_days) + 1
            if elapsed_blocks * block_days >= _hours / rate:
                return
            # Off the roster, working time stands still: a boundary reached when the last working
            # day ended (up to rounding) is cut now.
            boundary = max(clock.calendar_time(begun + elapsed_blocks * block_days), self.env.now)
        token = detective.token
        Timeout(self.env, boundary - self.env.now).callbacks.append(
            lambda _event: self._cut_and_continue(detective, token)
        )

    def _cut_and_continue(self, detective: Detective, token: int) -> None:
        if token != detective.token:
            return
        self._cut_block(detective)
        self.work_next(detective)

    def _block_done(self, detective: Detective, token: int) -> None:
        """Callback: a block ends (unless leave cancelled it meanwhile)."""
        if token != detective.token:
            return
        case, hours, started, _rate = detective.block
        self.stop_work(detective, case, hours, started)
        self.work_next(detective)

    def _cut_block(self, detective: Detective) -> None:
        """Stop the block in progress now, counting the hours done so far."""
        case, hours, started, rate = detective.block
        detective.token += 1
        clock = detective.clock
        if clock is None:
            done = (self.env.now - started) * rate
        else:
            done = (clock.work_time(self.env.now) - clock.work_time(started)) * rate
        self.stop_work(detective, case, done if done < hours else hours, started)

    # --- work -------------------------------------------------------------------------------

    def next_case(self, detective: Detective) -> Case | None:
        """The case ``detective`` works next: top up from the team queue, then the work order."""
        if self.pulls and self.queue:
            limit = detective.pull_limit
            while self.queue and len(detective.caseload) < limit:
                self.assign(heapq.heappop(self.queue)[1], detective, notify=False)
        caseload = detective.caseload
        if len(caseload) == 1:
            only = caseload[0]
            return None if only.parked else only
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
            if case.spell_held is not None:
                case.end_wait(now)
            else:  # Case.end_wait, inline for a wait that no detective handed on
                wait = now - idle
                if wait > case.longest_neglect_days:
                    case.longest_neglect_days = wait
                    queued = case.spell_queued
                    case.neglect_holder = "" if queued > wait - queued else detective.name
                case.idle_since = None
                case.spell_queued = 0.0
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
        if self.trace is not None:
            self.trace.append(("stage_end", now, case.case_id, case.stage))
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
        else:
            self.unqueue(case)
        self.open_cases -= 1
        if self.trace is not None:
            self.trace.append(("close", case.closed_day, case.case_id))
        for hook in self.on_close:
            hook(case)

    def unqueue(self, case: Case) -> None:
        """Take an unowned ``case`` out of the pool or the team queue, wherever it waits.

        For the rare case that leaves the queue other than by allocation: one an external unit
        finishes while nobody owns it (released from an absent detective's caseload, or queued on
        arrival at an external first stage), or one a supervisor directs to a detective.
        """
        for i, pooled in enumerate(self.pool):
            if pooled is case:
                del self.pool[i]
                return
        queue = self.queue
        for i, (_key, queued) in enumerate(queue):
            if queued is case:
                queue[i] = queue[-1]
                queue.pop()
                heapq.heapify(queue)
                return

    # --- leave ------------------------------------------------------------------------------

    def start_absence(self, detective: Detective, kind: str) -> None:
        """``detective`` goes on leave of ``kind``; work in hand stops at once."""
        detective.absence_kinds[kind] = detective.absence_kinds.get(kind, 0) + 1
        detective.absences += 1
        if self.trace is not None:
            self.trace.append(("leave", self.env.now, detective.name, kind, True))
        if detective.absences > 1:
            return
        now = self.env.now
        detective.absent_since = now
        detective.episode += 1
        if self.trace is not None:
            self.trace.append(("absent", now, detective.name, kind))
        if detective.current is not None:
            self._cut_block(detective)
            detective.waiting = True
        episode = detective.episode
        check = self.env.timeout(self.reallocation.after_days)
        check.callbacks.append(lambda _e: self._reallocate_if_still_absent(detective, episode))

    def end_absence(self, detective: Detective, kind: str) -> None:
        """``detective`` returns from leave of ``kind`` (present again when no leave remains)."""
        detective.absence_kinds[kind] -= 1
        detective.absences -= 1
        if self.trace is not None:
            self.trace.append(("leave", self.env.now, detective.name, kind, False))
        if detective.absences > 0:
            return
        now = self.env.now
        since: float = detective.absent_since  # type: ignore[assignment]
        detective.days_absent += now - since
        clock = detective.clock
        if clock is not None:
            detective.work_days_absent += clock.work_time(now) - clock.work_time(since)
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

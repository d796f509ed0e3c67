"""The live state of one replication's team, and the engine's actions on it.

:class:`TeamState` is what the processes change and what policies see (it satisfies
:class:`sim.policies.TeamView`). It is built in layers, one concern each:

* :class:`sim.engine.caseload.Caseloads` – caseloads and ownership: allocation, hand-overs, the
  team queue and the sergeant pool;
* :class:`sim.engine.work.Work` – choosing the next case and working blocks of it, stage
  progress and closing (the hot path);
* :class:`TeamState` (here) – referrals arriving, and leave: absences and reallocating an absent
  detective's cases.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from typing import Any

from sim.domain.entities import Case, Detective
from sim.engine.external import ExternalUnit
from sim.engine.wakeups import NORMAL, Wakeup
from sim.engine.work import EPSILON_HOURS, Work

__all__ = ["EPSILON_HOURS", "ExternalUnit", "TeamState"]


class TeamState(Work):
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
    * ``("close", day, case_id)`` – the last stage finished;
    * ``("absent", day, detective name, kind)`` / ``("present", day, detective name)`` – leave
      starts (kind ``annual``, ``short``, ``long``, ...) and ends.

    With ``detail`` set as well (:func:`sim.engine.replication.run_replication`'s
    ``trace_detail``, for case-event logs):

    * ``("stage_end", day, case_id, stage)`` – a stage (team or external) finished;
    * ``("leave", day, detective name, kind, starts)`` – each episode of each kind starts
      (``starts`` true) or ends, overlapping ones included (``absent``/``present`` mark only
      the first start and the last end of overlapping episodes).

    Supervision (:mod:`sim.engine.supervision`) adds ``("review", day, detectives reviewed, cases
    flagged)`` for each workload review and ``("flag", day, case_id, detective name)`` for each
    case a review flags.
    """

    def start(self, arrival_days: Sequence[float], new_referral: Callable[[], Case]) -> None:
        """Schedule the referrals and set every detective to work.

        ``new_referral()`` makes the next referral's case, in the order of ``arrival_days`` (a
        ``map(Case, ...).__next__`` makes them without a Python call per case).
        """
        self._arrival_days = arrival_days
        self._new_referral = new_referral
        # bound once; every arrival's event shares the list (nothing appends to it)
        self._arrive_callbacks: list[Callable[[Any], None]] = [self._arrive_next]
        if len(arrival_days):
            delay = arrival_days[0] - self.env.now  # the clock may start later than day 0
            Wakeup(self.env, delay, self._arrive_callbacks)
        for detective in self._detectives:
            detective.waiting = True
            self.notify(detective)

    def let_go(self) -> None:
        """The replication is over and its records taken: let go of its cases and events.

        Cases, detectives, the event queue and the processes refer to one another in cycles,
        which only the cyclic garbage collector would free, traversing every case and list of a
        replication that is over (some 3% of a replication's time). Cut here, they are freed by
        reference counting as soon as the replication's objects go out of scope. Nothing may run
        the replication after this.
        """
        for case in self.cases:
            case.ranked = None
            case.owner = None
        self.cases = []
        for detective in self._detectives:
            detective.caseload = []
            detective.current = None
        for unit in self.units.values():
            unit.let_go()
        self.later.clear()
        self.env._queue.clear()
        self._new_referral = _spent
        self._arrival_days = ()

    def _arrive_next(self, event: Wakeup) -> None:
        """Callback: the next referral arrives; the one after it is scheduled."""
        case = self._new_referral()
        self.cases.append(case)
        i = self._arrived
        i += 1
        self._arrived = i
        days = self._arrival_days
        if i < len(days):
            # the arrival's event, processed, is scheduled once more (no new object)
            env = self.env
            now = env._now
            event.callbacks = self._arrive_callbacks
            heapq.heappush(env._queue, (now + (days[i] - now), NORMAL, next(env._eid), event))  # type: ignore[misc]
        # arrive() and allocate(), inline
        self.open_cases += 1
        if self.stage_is_team[0]:
            case.remaining_hours = case.efforts[0]
            case.idle_since = case.arrival_day
        else:
            case.parked = True
            self.units[0].submit(case)
        if not self.pushes:
            if self.pulls and not self._with_room:  # nobody can take it now: it queues
                heapq.heappush(self.queue, (self._key(case), next(self._queued), case))
            else:
                self.enqueue(case)
            return
        owner = self.allocation.choose(case, self, self.rng)
        if owner is None:
            self.enqueue(case)
        else:
            self.assign(case, owner)

    # --- leave ------------------------------------------------------------------------------

    def start_absence(self, detective: Detective, kind: str, elapsed_days: float = 0.0) -> None:
        """``detective`` goes on leave of ``kind``; work in hand stops at once.

        ``elapsed_days``: how long the absence has already lasted when the clock starts (an
        absence under way in a forecast's initial state); the reallocation rule then acts
        ``after_days`` from its true start, or at once if that is past.
        """
        detective.absence_kinds[kind] = detective.absence_kinds.get(kind, 0) + 1
        detective.absences += 1
        if self.detail and self.trace is not None:
            self.trace.append(("leave", self.env.now, detective.name, kind, True))
        if detective.absences > 1:
            return
        self.presence_changed(detective)
        now = self.env.now
        detective.absent_since = now
        detective.episode += 1
        if self.trace is not None:
            self.trace.append(("absent", now, detective.name, kind))
        if detective.current is not None:
            self._cut_block(detective)
            detective.waiting = True
        episode = detective.episode
        self.later.schedule(
            max(self.reallocation.after_days - elapsed_days, 0.0),
            lambda: self._reallocate_if_still_absent(detective, episode),
        )

    def end_absence(self, detective: Detective, kind: str) -> None:
        """``detective`` returns from leave of ``kind`` (present again when no leave remains)."""
        detective.absence_kinds[kind] -= 1
        detective.absences -= 1
        if self.detail and self.trace is not None:
            self.trace.append(("leave", self.env.now, detective.name, kind, False))
        if detective.absences > 0:
            return
        self.presence_changed(detective)
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


def _spent() -> Case:
    raise RuntimeError("the replication is over: its referrals were released")

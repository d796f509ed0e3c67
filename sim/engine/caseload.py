"""Caseloads and ownership: who holds which case, the team queue and the sergeant pool.

:class:`Caseloads` holds the team's state and every change of a case's owner, so the bookkeeping
behind the outputs (owner changes, inherited cases, time queued unowned) lives in one place.
Choosing and working blocks (:mod:`sim.engine.work`) and absences (:mod:`sim.engine.team`) build
on it; the methods it calls on them are declared here.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from typing import Any

import simpy
from numpy.random import Generator

from sim.domain.entities import Case, Detective
from sim.engine.external import ExternalUnit
from sim.policies import AllocationPolicy, ReallocationPolicy, WorkOrderPolicy

__all__ = ["Caseloads", "TraceSink"]

TraceSink = list[tuple[Any, ...]] | None


class Caseloads:
    """The team of one replication: detectives, their caseloads, the team queue and the pool.

    The constructor's arguments are those of :class:`sim.engine.team.TeamState`.
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
        # with a trace: also each stage's end and every leave episode (for case-event logs)
        self.detail = False
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

    # --- provided by the work layer (sim.engine.work) ----------------------------------------

    def notify(self, detective: Detective) -> None:
        """Set ``detective`` to work if they are present and waiting for work."""
        raise NotImplementedError

    def reconsider(self, detective: Detective) -> None:
        """Something changed ``detective``'s choice: end the current block at its normal end."""
        raise NotImplementedError

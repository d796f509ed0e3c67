"""Caseloads and ownership: who holds which case, the team queue and the sergeant pool.

:class:`Caseloads` holds the team's state and every change of a case's owner, so the bookkeeping
behind the outputs (owner changes, inherited cases, time queued unowned) lives in one place.
Choosing and working blocks (:mod:`sim.engine.work`) and absences (:mod:`sim.engine.team`) build
on it; the methods it calls on them are declared here.
"""

from __future__ import annotations

import heapq
import itertools
from bisect import bisect_left
from collections.abc import Callable, Sequence
from functools import partial
from operator import attrgetter
from typing import Any

import simpy
from numpy.random import Generator

from sim.domain.entities import Case, Detective
from sim.engine.external import ExternalUnit
from sim.engine.loads import LoadIndex
from sim.engine.wakeups import Calendar, call
from sim.policies import AllocationPolicy, ReallocationPolicy, WorkOrderPolicy
from sim.policies.allocation import least_loaded

__all__ = ["Caseloads", "TraceSink"]

TraceSink = list[tuple[Any, ...]] | None

_order_seq = attrgetter("order_seq")


class Caseloads:
    """The team of one replication: detectives, their caseloads, the team queue and the pool.

    The constructor's arguments are those of :class:`sim.engine.team.TeamState`.

    Each detective's actionable cases (owned, not parked at an external unit) are also kept in a
    priority heap ordered as the work order ranks them, when the rule's key is stable (see
    :class:`sim.policies.WorkOrderPolicy`): entries are ``(key, caseload order, tick, case)``;
    a change of key (:meth:`rerank`), owner or parking gives the case a fresh entry or none, and
    entries that are no longer the case's own (``case.ranked``) are dropped when they reach the
    top. Equal keys fall back on the caseload order, as a scan of the caseload would. A detective
    holding a single case has no heap (there is nothing to choose between).
    """

    index_work_order = True
    """Keep the per-detective heaps (off: scan every caseload at every choice, the reference)."""
    check_indexes = False
    """Check every choice made from an index against a scan (tests)."""
    index_loads = True
    """Answer :meth:`least_loaded` from a :class:`LoadIndex` (off: scan the present detectives)."""

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
        # Wake-ups weeks or months away (leave, the checks after an absence starts), kept out
        # of SimPy's queue, where the blocks of work come and go.
        self.later = Calendar(env, call)
        # The team queue: (work-order key, arrival in the queue, case). The count breaks ties of
        # a plug-in rule's keys first come, first served (cases themselves do not compare).
        self.queue: list[tuple[Any, int, Case]] = []
        self._queued = itertools.count()
        self.pool: list[Case] = []
        for detective in detectives:
            detective.pull_limit = allocation.pull_limit(detective)
        self.pulls = any(d.pull_limit > 0 for d in detectives)
        # a rule that never chooses an owner on arrival (only pulls) is not asked
        self.pushes = bool(getattr(allocation, "pushes", True))
        self.open_cases = 0
        self.on_close: list[Callable[[Case], None]] = []
        self.cases: list[Case] = []
        self._arrived = 0
        self._arrival_days: Sequence[float] = ()
        self._new_referral: Callable[[], Case] = lambda: Case(0, 0.0, 0, [], [])
        self.indexed = self.index_work_order and bool(getattr(work_order, "stable_key", False))
        self._key = work_order.key
        self._heaps: dict[Detective, list[tuple[Any, ...]]] = {d: [] for d in detectives}
        # per detective, how many of their cases are actionable (not parked)
        self._actionable: dict[Detective, int] = {d: 0 for d in detectives}
        self._seqs = itertools.count()
        self._ticks = itertools.count()
        self._present: tuple[Detective, ...] | None = None
        # pull rules: the positions of the detectives holding fewer cases than they may pull
        self._position = {d: i for i, d in enumerate(self._detectives)}
        self._with_room = {
            i for i, d in enumerate(self._detectives) if len(d.caseload) < d.pull_limit
        }
        self._load_indexes: dict[tuple[bool, bool], LoadIndex] = {}
        # Each detective's end-of-block callback list, made once: every block's event of that
        # detective shares it (the block's token is the event's value). Nothing appends to it.
        self._block_callbacks: dict[Detective, list[Callable[[Any], None]]] = {
            d: [partial(self._block_done, d)] for d in self._detectives
        }

    # --- TeamView ---------------------------------------------------------------------------

    @property
    def now(self) -> float:
        return self.env.now

    @property
    def detectives(self) -> Sequence[Detective]:
        return self._detectives

    def present(self) -> Sequence[Detective]:
        present = self._present
        if present is None:  # rebuilt after a change of presence only
            present = self._present = tuple(d for d in self._detectives if d.absences == 0)
        return present

    def least_loaded(self, *, per_fte: bool = True, relief: bool = True) -> Detective | None:
        if not self.index_loads:
            return least_loaded(self.present(), per_fte=per_fte, relief=relief)
        index = self._load_indexes.get((per_fte, relief))
        if index is None:
            index = LoadIndex(self._detectives, per_fte=per_fte, relief=relief)
            self._load_indexes[(per_fte, relief)] = index
        chosen = index.first()
        if self.check_indexes:
            expected = least_loaded(self.present(), per_fte=per_fte, relief=relief)
            assert chosen is expected, f"the load index chose {chosen}, the scan {expected}"
        return chosen

    def presence_changed(self, detective: Detective) -> None:
        """``detective`` went on leave or came back (``absences`` went from or to 0)."""
        self._present = None
        for index in self._load_indexes.values():
            index.update(detective)

    def set_relief(self, detective: Detective, relief: float) -> None:
        """``detective`` is relieved of a share ``relief`` of their capacity (wellbeing support)."""
        detective.relief = relief
        for index in self._load_indexes.values():
            index.update(detective)

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
        owner = self.allocation.choose(case, self, self.rng) if self.pushes else None
        if owner is None:
            self.enqueue(case)
        else:
            self.assign(case, owner)

    def assign(
        self, case: Case, detective: Detective, *, moved: bool = False, notify: bool = True
    ) -> None:
        """Make ``detective`` the owner of ``case``; ``moved`` marks a reallocation."""
        previous = case.owner
        now = self.env._now
        if previous is not None:
            self._leave_caseload(case, previous)
            case.hand_over(now)
        else:  # Case.hand_over, inline for the common hand-over: from the queue or pool
            idle = case.idle_since
            if idle is not None:
                start = idle if idle > case.held_since else case.held_since
                if now > start:
                    case.spell_queued += now - start
            case.held_since = now
        case.owner = detective
        if moved:
            case.owner_changes += 1
            case.inherited = True
        # ``case`` joins the end of ``detective``'s caseload
        caseload = detective.caseload
        caseload.append(case)
        held = len(caseload)
        case.order_seq = next(self._seqs)
        if self.pulls and held >= detective.pull_limit:
            self._with_room.discard(self._position[detective])
        if self._load_indexes:  # built only when the allocation rule asks for the least loaded
            for index in self._load_indexes.values():
                index.update(detective)
        parked = case.parked
        if not parked:
            self._actionable[detective] += 1
        # A lone case needs no heap (the work layer takes it as it is): the heap is built when a
        # second case joins, and kept while the caseload holds two or more.
        if held > 1 and self.indexed:
            if held == 2:
                for other in caseload:
                    if not other.parked:
                        self._rank(other, detective)
            elif not parked:
                self._rank(case, detective)
        if self.trace is not None:
            self.trace.append(("own", now, case.case_id, detective.name, moved))
        if notify and not parked:
            self.notify(detective)
        if previous is not None:
            self.room_freed(previous)

    def release(self, case: Case) -> None:
        """Take ``case`` away from its owner (it goes to the team queue or the pool next)."""
        owner = case.owner
        if owner is not None:
            self._leave_caseload(case, owner)
            case.hand_over(self.env.now)
            case.owner = None
            case.owner_changes += 1
            case.inherited = True
            if self.trace is not None:
                self.trace.append(("own", self.env.now, case.case_id, None, True))
            self.room_freed(owner)

    def room_freed(self, detective: Detective) -> None:
        """``detective``'s caseload shrank: let them pull from the team queue if they now may.

        Without this a detective whose cases all wait on external units, at their cap, would sit
        idle after one of them closes (or is moved away) until the next referral arrives.
        """
        if (
            self.pulls
            and self.queue
            and detective.absences == 0
            and len(detective.caseload) < detective.pull_limit
        ):
            # notify(), inline; a detective between blocks (neither waiting nor working: the
            # block that just ended chooses again next) needs nothing
            if detective.waiting:
                detective.waiting = False
                self.work_next(detective)
            elif detective.solo_since is not None and detective.current is not None:
                self.reconsider(detective)

    def enqueue(self, case: Case) -> None:
        """Put an unowned case in the team queue (pull rules) or the pool (push rules)."""
        if self.pulls:
            # only detectives with room to pull can take it or be woken by it
            room = self._with_room
            queue = self.queue
            if room:
                detectives = self._detectives
                with_room = sorted(room)
                for i in with_room:
                    detective = detectives[i]
                    if detective.waiting and detective.absences == 0:
                        if queue:
                            heapq.heappush(queue, (self._key(case), next(self._queued), case))
                        else:  # the waiting detective would pull this very case
                            self.assign(case, detective, notify=False)
                        detective.waiting = False  # notify(), inline
                        self.work_next(detective)
                        return
                heapq.heappush(queue, (self._key(case), next(self._queued), case))
                for i in with_room:
                    if detectives[i].solo_since is not None:
                        self.reconsider(detectives[i])
            else:
                heapq.heappush(queue, (self._key(case), next(self._queued), case))
        else:
            self.pool.append(case)

    def flush_pool(self) -> None:
        """Offer every pooled case to the allocation rule again (push rules)."""
        if not self.pool or not self.present():
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
        for i, (_key, _n, queued) in enumerate(queue):
            if queued is case:
                queue[i] = queue[-1]
                queue.pop()
                heapq.heapify(queue)
                return

    # --- caseload order: actionable counts and per-detective heaps -------------------------

    def _leave_caseload(self, case: Case, detective: Detective) -> None:
        """``case`` leaves ``detective``'s caseload (another owner, the queue, or closed)."""
        caseload = detective.caseload
        if len(caseload) == 1 and caseload[0] is case:
            caseload.clear()
            held = 0
        else:
            # A caseload is in joining order, so sorted by order_seq: find the case by bisection
            # rather than comparing it with every case before it.
            i = bisect_left(caseload, case.order_seq, key=_order_seq)
            if i < len(caseload) and caseload[i] is case:
                del caseload[i]
            else:  # put there by hand (tests)
                caseload.remove(case)
            held = len(caseload)
            if held < 2:  # a lone case needs no heap: every entry left in it is stale
                self._heaps[detective].clear()
        case.ranked = None
        if self.pulls and held < detective.pull_limit:
            self._with_room.add(self._position[detective])
        if not case.parked:
            self._actionable[detective] -= 1
        if self._load_indexes:
            for index in self._load_indexes.values():
                index.update(detective)

    def _rank(self, case: Case, owner: Detective) -> None:
        """Give ``case`` a fresh entry in ``owner``'s heap; its earlier entries become stale."""
        entry = (self._key(case), case.order_seq, next(self._ticks), case)
        case.ranked = entry
        heapq.heappush(self._heaps[owner], entry)

    def set_parked(self, case: Case, parked: bool) -> None:
        """``case`` waits on an external unit (``parked``) or on the team again."""
        if case.parked is parked:
            return
        case.parked = parked
        owner = case.owner
        if owner is None or case.closed_day is not None:
            return
        if parked:
            self._actionable[owner] -= 1
            case.ranked = None
        else:
            self._actionable[owner] += 1
            if self.indexed and len(owner.caseload) > 1:
                self._rank(case, owner)

    def rerank(self, case: Case) -> None:
        """``case``'s work-order key may have changed (its priority): rank it afresh."""
        owner = case.owner
        if (
            self.indexed
            and owner is not None
            and not case.parked
            and case.closed_day is None
            and len(owner.caseload) > 1
        ):
            self._rank(case, owner)

    def change_priority(self, case: Case, step: int) -> None:
        """Raise (``step`` > 0) or lower ``case``'s priority in the work order."""
        case.priority += step
        self.rerank(case)

    def first_in_order(self, detective: Detective) -> Case | None:
        """The actionable case of ``detective``'s that the work order ranks first, if any."""
        if self.indexed:
            heap = self._heaps[detective]
            while heap:
                entry = heap[0]
                case: Case = entry[3]
                if case.ranked is entry:
                    if self.check_indexes:
                        expected = self.scan_order(detective)
                        assert case is expected, f"heap chose {case}, the scan {expected}"
                    return case
                heapq.heappop(heap)
            if self.check_indexes:
                assert self.scan_order(detective) is None
            return None
        return self.scan_order(detective)

    def scan_order(self, detective: Detective) -> Case | None:
        """:meth:`first_in_order` by scanning the caseload: the first of the smallest keys."""
        key = self._key
        best: Case | None = None
        best_key: tuple[float, ...] | None = None
        for case in detective.caseload:
            if case.parked:
                continue
            case_key = key(case)
            if best_key is None or case_key < best_key:
                best, best_key = case, case_key
        return best

    # --- provided by the work layer (sim.engine.work) ----------------------------------------

    def notify(self, detective: Detective) -> None:
        """Set ``detective`` to work if they are present and waiting for work."""
        raise NotImplementedError

    def reconsider(self, detective: Detective) -> None:
        """Something changed ``detective``'s choice: end the current block at its normal end."""
        raise NotImplementedError

    def work_next(self, detective: Detective) -> None:
        """``detective`` is free: start a block on the case the work order ranks first."""
        raise NotImplementedError

    def _block_done(self, detective: Detective, event: Any) -> None:
        """Callback: a block of ``detective``'s ends (``event``'s value is the block's token)."""
        raise NotImplementedError

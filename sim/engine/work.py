"""Working: choosing the next case, blocks of work, stage progress and closing.

The hot path. A block of work is one scheduled callback (:class:`~sim.engine.wakeups.Wakeup`)
that ends the block and starts the next, rather than a generator process; leave cancels a block
in progress by bumping the detective's ``token``, so a stale block's callback does nothing. This
halves the cost per event against generator processes and interrupts, and planners run
thousands of replications.
"""

from __future__ import annotations

import heapq

from sim.domain.entities import Case, Detective
from sim.engine.caseload import Caseloads
from sim.engine.wakeups import NORMAL, Wakeup

__all__ = ["EPSILON_HOURS", "Work"]

EPSILON_HOURS = 1e-9
"""Work left below this is treated as done (floating-point dust)."""


class Work(Caseloads):
    """Caseloads, plus detectives choosing and working blocks, and cases moving through stages."""

    def notify(self, detective: Detective) -> None:
        """Set ``detective`` to work if they are present and waiting for work."""
        if detective.waiting:
            if detective.absences == 0:
                detective.waiting = False
                self.work_next(detective)
        elif detective.solo_since is not None:
            self.reconsider(detective)

    def work_next(self, detective: Detective) -> None:
        """``detective`` is free: start a block on the case the work order ranks first.

        A block is ``block_hours`` of work (less if the stage needs less) at the detective's
        rate. With nothing to do, or while absent, the detective waits until notified.
        """
        if detective.absences:
            detective.waiting = True
            return
        env = self.env
        now = env._now
        clock = detective.clock
        if clock is not None and not clock.is_working(now):
            self._sleep_until_rostered(detective, clock.next_start(now))
            return
        # The case to work next (once per block): top up from the team queue, then the one the
        # work order ranks first.
        caseload = detective.caseload
        held = len(caseload)
        if self.pulls and held < detective.pull_limit:
            queue = self.queue
            if queue:
                if held + 1 == detective.pull_limit:  # room for one: _pull(), inline
                    self.assign(heapq.heappop(queue)[2], detective, notify=False)
                else:
                    self._pull(detective)
                held = len(caseload)
        if held == 1:
            case: Case | None = caseload[0]
            if case.parked:  # type: ignore[union-attr]
                case = None
        elif held:
            case = self.first_in_order(detective)
        else:
            case = None
        if case is None:
            detective.waiting = True
            return
        rate = detective.work_rate * detective.productivity
        hours = case.remaining_hours
        # A block ends only so that the work order can choose again. When nothing else could be
        # chosen (no other actionable case, no room to pull) the case is worked to the end of its
        # stage in one event; anything that changes the choice meanwhile calls reconsider().
        block_hours = self.block_hours
        # (the case is alone unless the detective could pull, or holds another actionable case)
        if hours > block_hours and (
            (self.pulls and self.queue and held < detective.pull_limit)
            or self._actionable[detective] > 1
        ):
            hours = block_hours
            detective.solo_since = None
        else:
            detective.solo_since = now
        # start_work(), inline
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
        detective.block = (case, hours, now, rate)
        token = detective.token = detective.token + 1
        if clock is None:
            days = hours / rate
        else:
            days = max(clock.calendar_time(clock.work_time(now) + hours / rate) - now, 0.0)
        # the block's token rides as the event's value; the callback list is made once per
        # detective, and the event of the block just ended (processed) is scheduled once more
        spare = detective.spare
        if spare is None:
            Wakeup(env, days, self._block_callbacks[detective], token)
        else:
            detective.spare = None
            spare.callbacks = self._block_callbacks[detective]
            spare._value = token
            heapq.heappush(env._queue, (now + days, NORMAL, next(env._eid), spare))  # type: ignore[misc]

    def _sleep_until_rostered(self, detective: Detective, start: float) -> None:
        """Off the roster: ``detective`` chooses again when the next working day starts.

        Until then nothing wakes them (``waiting`` is off); leave that begins meanwhile finds
        them idle, and on waking while absent they wait for their return as usual.
        """
        detective.waiting = False
        detective.solo_since = None
        detective.wake += 1
        wake = detective.wake
        Wakeup(self.env, start - self.env.now, [lambda _event: self._wake(detective, wake)])

    def _wake(self, detective: Detective, wake: int) -> None:
        if wake == detective.wake and detective.current is None and not detective.waiting:
            self.work_next(detective)

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
        Wakeup(
            self.env,
            boundary - self.env.now,
            [lambda _event: self._cut_and_continue(detective, token)],
        )

    def _cut_and_continue(self, detective: Detective, token: int) -> None:
        if token != detective.token:
            return
        self._cut_block(detective)
        self.work_next(detective)

    def _block_done(self, detective: Detective, event: Wakeup) -> None:
        """Callback: a block ends (unless leave cancelled it meanwhile: its token is stale)."""
        if event._value != detective.token:
            return
        detective.spare = event
        case, hours, started, _rate = detective.block
        # stop_work(), inline
        now = self.env._now
        detective.current = None
        detective.hours_worked += hours
        case.worked_hours += hours
        remaining = case.remaining_hours = case.remaining_hours - hours
        case.stalled_since = now
        if self.trace is not None:
            self.trace.append(("work", started, now, detective.name, case.case_id, hours))
        if remaining <= EPSILON_HOURS:
            stage = case.stage
            if stage == self.last_stage and not self.detail:
                # advance(), inline for the last stage: the case closes
                if stage == self.enforcement_stage:
                    case.enforcement_day = now
                caseload = detective.caseload
                if len(caseload) == 1 and caseload[0] is case and case.owner is detective:
                    self._close_lone(case, detective, now)
                else:
                    self.close(case, now)
            else:
                self.advance(case, now)
        else:
            case.idle_since = now
        self.work_next(detective)

    def _close_lone(self, case: Case, detective: Detective, now: float) -> None:
        """close(), for the only case of ``detective``, who has just finished it.

        The same steps as :meth:`close` and :meth:`_leave_caseload` take for it, without the
        search of the caseload; nothing for :meth:`room_freed` to do (the detective is between
        blocks: the block's callback chooses again next).
        """
        case.closed_day = now
        case.stalled_since = None
        case.idle_since = None
        detective.caseload.clear()  # a lone case has no heap entries to drop
        case.ranked = None
        if self.pulls and detective.pull_limit > 0:
            self._with_room.add(self._position[detective])
        self._actionable[detective] -= 1  # the case was being worked: not parked
        if self._load_indexes:
            for index in self._load_indexes.values():
                index.update(detective)
        self.open_cases -= 1
        if self.trace is not None:
            self.trace.append(("close", now, case.case_id))
        for hook in self.on_close:
            hook(case)

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

    def _pull(self, detective: Detective) -> None:
        """``detective`` takes cases from the head of the team queue up to their cap."""
        queue = self.queue
        limit = detective.pull_limit
        caseload = detective.caseload
        while queue and len(caseload) < limit:
            self.assign(heapq.heappop(queue)[2], detective, notify=False)

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
            self.advance(case, now)
        else:
            case.idle_since = now

    def advance(self, case: Case, now: float | None = None) -> None:
        """``case`` finished its current stage: enter the next one, or close.

        ``now``: the clock, when the caller has read it already.
        """
        if now is None:
            now = self.env._now
        if self.detail and self.trace is not None:
            self.trace.append(("stage_end", now, case.case_id, case.stage))
        if case.stage == self.enforcement_stage:
            case.enforcement_day = now
        if case.stage == self.last_stage:
            self.close(case, now)
            return
        case.stage += 1
        if self.stage_is_team[case.stage]:
            case.remaining_hours = case.efforts[case.stage]
            self.set_parked(case, False)
            case.idle_since = now
            if case.owner is not None:
                self.notify(case.owner)
        else:
            self.set_parked(case, True)
            case.idle_since = None
            self.units[case.stage].submit(case)

    def external_done(self, case: Case) -> None:
        """An external unit finished with ``case``: that is progress."""
        now = self.env._now
        if now - case.stalled_since > case.longest_gap_days:  # type: ignore[operator]
            case.longest_gap_days = now - case.stalled_since  # type: ignore[operator]
        case.stalled_since = now
        if self.trace is not None:
            self.trace.append(("external", now, case.case_id, case.stage))
        self.advance(case, now)

    def close(self, case: Case, now: float | None = None) -> None:
        """The last stage finished (``now``: the clock, when the caller has read it already)."""
        case.closed_day = self.env.now if now is None else now
        case.stalled_since = None
        case.idle_since = None
        owner = case.owner
        if owner is not None:
            self._leave_caseload(case, owner)
        else:
            self.unqueue(case)
        case.parked = False
        self.open_cases -= 1
        if self.trace is not None:
            self.trace.append(("close", case.closed_day, case.case_id))
        for hook in self.on_close:
            hook(case)
        if owner is not None:
            self.room_freed(owner)

"""Other units a case waits on (digital forensics, a charging decision): queues or delays."""

from __future__ import annotations

import heapq
from collections.abc import Callable

import simpy

from sim.domain.entities import Case
from sim.engine.wakeups import Calendar

__all__ = ["ExternalUnit"]


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
        # When each case in service started (by case id): a picture of the state needs it.
        self.started: dict[int, float] = {}
        # the cases in service, each due back at the end of its time at the unit
        self._in_service = Calendar(env, self._finish)

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
        self.started[case.case_id] = self.env._now
        self._in_service.schedule(case.external_days[self.stage], case)

    def _finish(self, case: Case) -> None:
        """A case's time at the unit is over."""
        self.busy -= 1
        del self.started[case.case_id]
        if self.queue:
            self._start(heapq.heappop(self.queue)[2])
        self.done(case)

    def let_go(self) -> None:
        """Drop the cases waiting and in service (the replication is over)."""
        self.queue.clear()
        self.started.clear()
        self._in_service.clear()

"""A scheduled callback: what the engine asks of SimPy's ``Timeout``, and nothing more.

Blocks of work, referrals, external stages and roster wake-ups are each a callback at a time, not
an event a process waits on. A :class:`Wakeup` goes into SimPy's own event queue exactly as a
``Timeout`` would (same time, priority and sequence number, so the order of events and the
records are unchanged) but skips what a ``Timeout`` carries for processes: the environment
reference, the delay, the ``value``/``triggered`` machinery. Both SimPy's
``Environment.step`` and :func:`sim.engine.budget.run_bounded` process it; it carries the
attributes they read (``callbacks``, ``_ok``, ``_value``). Nothing may ``yield`` it.

The engine's own processes (leave, supervision) only ever wait for time to pass. They are
generators that yield delays, driven by :class:`Steps`: each step is a :class:`Wakeup`, scheduled
when a SimPy process would schedule its ``Timeout``, so that, too, leaves the order of events as
it was.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from heapq import heappop, heappush
from typing import Any

import simpy

__all__ = ["NORMAL", "Calendar", "Delays", "Steps", "Wakeup", "call"]

NORMAL = 1
"""SimPy's priority of an ordinary event (``simpy.events.NORMAL``)."""
_URGENT = 0
"""SimPy's priority of a process's start (``simpy.events.URGENT``)."""

Delays = Generator[float, None, None]
"""A process run by :class:`Steps`: a generator of the delays (days) it waits."""


class Wakeup:
    """Call each of ``callbacks`` with this event after ``delay`` days; ``value`` rides along as
    ``self._value``.

    ``callbacks`` may be a list shared by many wake-ups (a detective's blocks, the referrals'
    arrivals): the event loop only iterates it, and nothing may append to a shared list.
    """

    __slots__ = ("_value", "callbacks")
    _ok = True

    def __init__(
        self,
        env: simpy.Environment,
        delay: float,
        callbacks: list[Callable[[Any], None]],
        value: Any = None,
    ) -> None:
        if delay < 0:
            raise ValueError(f"negative delay {delay}")
        self.callbacks: list[Callable[[Any], None]] | None = callbacks
        self._value = value
        heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), self))  # type: ignore[misc]


class Steps:
    """Run ``steps``, a generator that yields delays (days), as a process of ``env``.

    It does what ``env.process`` does for a generator that yields only ``env.timeout(delay)``,
    with a :class:`Wakeup` per step instead of a ``Timeout`` and the process's resumption: the
    generator starts at an urgent event now (SimPy's ``Initialize``), and each delay it yields is
    scheduled as soon as it is yielded, so every event keeps its place in the order. An exception
    raised by the generator propagates from the event loop.

    With ``later`` (a :class:`Calendar` whose ``due`` is :func:`call`), the steps after the first
    wait in that calendar instead of SimPy's queue, in the same order.
    """

    __slots__ = ("_callbacks", "_env", "_later", "_next")

    def __init__(
        self, env: simpy.Environment, steps: Delays, later: Calendar | None = None
    ) -> None:
        self._env = env
        self._next = steps.__next__
        self._later = later
        self._callbacks: list[Callable[[Any], None]] = [self._step]
        start = Wakeup.__new__(Wakeup)
        start.callbacks = [self._step]
        start._value = None
        heappush(env._queue, (env._now, _URGENT, next(env._eid), start))  # type: ignore[misc]

    def _step(self, _event: Any = None) -> None:
        try:
            delay = self._next()
        except StopIteration:
            return
        if self._later is None:
            Wakeup(self._env, delay, self._callbacks)
        else:
            self._later.schedule(delay, self._callbacks[0])


class Calendar:
    """Wake-ups that all call ``due(value)``, kept in a heap of their own: only the earliest of
    them is in SimPy's event queue at any time.

    Thousands of cases can sit at external units at once, and every detective has leave to come,
    each waiting on its own wake-up; in SimPy's queue they would deepen every push and pop of
    every other event (blocks of work, arrivals) by the logarithm of their number. Each wake-up
    takes its sequence number when it is scheduled, as a :class:`Wakeup` would, and the one in
    SimPy's queue (the *armed* one) is pushed with that time, priority and number, so the order
    of events, ties included, is that of one :class:`Wakeup` per value. Invariant: the earliest
    entry of the heap is armed; an armed entry leaves the heap when its wake-up is processed, and
    it is then the earliest (nothing in the heap precedes it, as an earlier entry would be armed
    and processed first).
    """

    __slots__ = ("_armed", "_callbacks", "_due", "_env", "_heap")

    def __init__(self, env: simpy.Environment, due: Callable[[Any], None]) -> None:
        self._env = env
        self._due = due
        self._heap: list[tuple[float, int, Any]] = []
        self._armed: set[int] = set()
        self._callbacks: list[Callable[[Any], None]] = [self._fire]

    def __len__(self) -> int:
        return len(self._heap)

    def clear(self) -> None:
        """Drop every wake-up (the replication is over: see ``TeamState.let_go``)."""
        self._heap.clear()
        self._armed.clear()

    def schedule(self, delay: float, value: Any) -> None:
        """Call ``due(value)`` after ``delay`` days."""
        if delay < 0:
            raise ValueError(f"negative delay {delay}")
        env = self._env
        entry = (env._now + delay, next(env._eid), value)
        heap = self._heap
        heappush(heap, entry)
        if heap[0] is entry:
            proxy = Wakeup.__new__(Wakeup)
            proxy._value = None
            self._arm(proxy, entry[0], entry[1])

    def _arm(self, proxy: Wakeup, time: float, eid: int) -> None:
        proxy.callbacks = self._callbacks
        self._armed.add(eid)
        heappush(self._env._queue, (time, NORMAL, eid, proxy))  # type: ignore[misc]

    def _fire(self, event: Wakeup) -> None:
        heap = self._heap
        _, eid, value = heappop(heap)
        self._armed.remove(eid)
        if heap:
            time, first, _ = heap[0]
            if first not in self._armed:
                self._arm(event, time, first)  # the processed wake-up goes back in the queue
        self._due(value)


def call(action: Callable[[], Any]) -> None:
    """``due`` of a calendar of actions: call the action that came due."""
    action()

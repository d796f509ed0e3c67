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
from functools import partial
from heapq import heappush
from typing import Any

import simpy

__all__ = ["Calendar", "Steps", "Wakeup"]

_NORMAL = 1
"""SimPy's priority of an ordinary event (``simpy.events.NORMAL``)."""
_URGENT = 0
"""SimPy's priority of a process's start (``simpy.events.URGENT``)."""


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
        heappush(env._queue, (env._now + delay, _NORMAL, next(env._eid), self))  # type: ignore[misc]


class Steps:
    """Run ``steps``, a generator that yields delays (days), as a process of ``env``.

    It does what ``env.process`` does for a generator that yields only ``env.timeout(delay)``,
    with a :class:`Wakeup` per step instead of a ``Timeout`` and the process's resumption: the
    generator starts at an urgent event now (SimPy's ``Initialize``), and each delay it yields is
    scheduled as soon as it is yielded, so every event keeps its place in the order. An exception
    raised by the generator propagates from the event loop. With a :class:`Calendar`, each step
    waits there instead.
    """

    __slots__ = ("_after", "_callbacks", "_next")

    def __init__(
        self,
        env: simpy.Environment,
        steps: Generator[float, None, None],
        calendar: Calendar | None = None,
    ) -> None:
        # with a calendar, long waits (leave) stay out of SimPy's queue until their time nears
        self._after = calendar.add if calendar is not None else partial(Wakeup, env)
        self._next = steps.__next__
        self._callbacks: list[Callable[[Any], None]] = [self._step]
        start = Wakeup.__new__(Wakeup)
        start.callbacks = [self._step]
        start._value = None
        heappush(env._queue, (env._now, _URGENT, next(env._eid), start))  # type: ignore[misc]

    def _step(self, _event: Any) -> None:
        try:
            delay = self._next()
        except StopIteration:
            return
        self._after(delay, self._callbacks)


class Calendar:
    """Wake-ups far ahead, kept out of SimPy's queue until their stretch of time begins.

    A large team keeps thousands of cases waiting months on external units; in SimPy's heap
    every event would pay for them on every pop. Here a wake-up gets its place in the order (time,
    priority and sequence number) when it is added, as :class:`Wakeup` gives it, but waits in a
    bucket of ``width`` days; one urgent wake-up at the bucket's start moves the bucket into the
    queue, before any event of that time or later is processed. So the order of events is the
    one the wake-ups would have had in the queue all along. A wake-up whose bucket has already
    begun goes into the queue at once.

    Args:
        env: the environment.
        width: the buckets' length in days, a whole number (so that bucket starts are exact).
    """

    __slots__ = ("_buckets", "_env", "_release", "_width")

    def __init__(self, env: simpy.Environment, width: int) -> None:
        if width < 1:
            raise ValueError(f"bucket width {width} must be at least one day")
        self._env = env
        self._width = float(width)
        self._buckets: dict[int, list[tuple[float, int, int, Wakeup]]] = {}
        self._release: list[Callable[[Any], None]] = [self._released]

    def add(self, delay: float, callbacks: list[Callable[[Any], None]], value: Any = None) -> None:
        """Call each of ``callbacks`` after ``delay`` days, as ``Wakeup(env, delay, ...)`` would."""
        if delay < 0:
            raise ValueError(f"negative delay {delay}")
        env = self._env
        wakeup = Wakeup.__new__(Wakeup)
        wakeup.callbacks = callbacks
        wakeup._value = value
        when = env._now + delay
        entry = (when, _NORMAL, next(env._eid), wakeup)
        k = int(when // self._width)
        start = k * self._width
        if start <= env._now:
            heappush(env._queue, entry)  # type: ignore[misc]
            return
        bucket = self._buckets.get(k)
        if bucket is not None:
            bucket.append(entry)
            return
        self._buckets[k] = [entry]
        release = Wakeup.__new__(Wakeup)
        release.callbacks = self._release
        release._value = k
        heappush(env._queue, (start, _URGENT, next(env._eid), release))  # type: ignore[misc]

    def _released(self, event: Wakeup) -> None:
        queue = self._env._queue
        for entry in self._buckets.pop(event._value):
            heappush(queue, entry)  # type: ignore[misc]

"""A scheduled callback: what the engine asks of SimPy's ``Timeout``, and nothing more.

Blocks of work, referrals, external stages and roster wake-ups are each a callback at a time, not
an event a process waits on. A :class:`Wakeup` goes into SimPy's own event queue exactly as a
``Timeout`` would (same time, priority and sequence number, so the order of events and the
records are unchanged) but skips what a ``Timeout`` carries for processes: the environment
reference, the delay, the ``value``/``triggered`` machinery. Both SimPy's
``Environment.step`` and :func:`sim.engine.budget.run_bounded` process it; it carries the
attributes they read (``callbacks``, ``_ok``, ``_value``). Nothing may ``yield`` it.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappush
from typing import Any

import simpy

__all__ = ["Wakeup"]

_NORMAL = 1
"""SimPy's priority of an ordinary event (``simpy.events.NORMAL``)."""


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

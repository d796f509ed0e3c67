"""Present detectives ranked by load: the index behind least-loaded allocation.

Allocating a referral to the least-loaded present detective would scan the whole team for every
referral; with hundreds of detectives that scan dominates the run. :class:`LoadIndex` keeps the
present detectives in a heap keyed by their open cases per unit of capacity, with lazy
invalidation: every change of a detective's load, presence or relief pushes a fresh entry, and
entries that are no longer the detective's own are dropped when they reach the top.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence
from typing import Any

from sim.domain.entities import Detective

__all__ = ["LoadIndex"]


class LoadIndex:
    """The present detectives by open cases per capacity, as :func:`least_loaded` ranks them.

    Args:
        detectives: the team in scenario order (ties go to the first of them).
        per_fte: divide the open cases by FTE (else count heads).
        relief: a detective on wellbeing support with relief r has ``1 − r`` of their capacity,
            and none at all when fully relieved.
    """

    def __init__(self, detectives: Sequence[Detective], *, per_fte: bool, relief: bool) -> None:
        self.per_fte = per_fte
        self.relief = relief
        self._position = {d: i for i, d in enumerate(detectives)}
        self._heap: list[tuple[float, int, int, Detective]] = []
        self._entry: dict[Detective, tuple[Any, ...] | None] = {}
        self._ticks = itertools.count()
        self._limit = 4 * len(detectives) + 64
        for detective in detectives:
            self.update(detective)

    def update(self, detective: Detective) -> None:
        """``detective``'s caseload, presence or relief changed: rank them afresh."""
        if detective.absences:
            self._entry[detective] = None
            return
        capacity = (detective.fte if self.per_fte else 1.0) * (
            1.0 - detective.relief if self.relief else 1.0
        )
        if capacity <= 0.0:
            self._entry[detective] = None
            return
        entry = (
            len(detective.caseload) / capacity,
            self._position[detective],
            next(self._ticks),
            detective,
        )
        self._entry[detective] = entry
        heap = self._heap
        heapq.heappush(heap, entry)
        if len(heap) > self._limit:  # too many stale entries: keep the live ones only
            heap[:] = [e for e in self._entry.values() if e is not None]
            heapq.heapify(heap)

    def first(self) -> Detective | None:
        """The present detective with the lowest load; the first in scenario order on a tie."""
        heap = self._heap
        while heap:
            entry = heap[0]
            detective = entry[3]
            if self._entry[detective] is entry:
                return detective
            heapq.heappop(heap)
        return None

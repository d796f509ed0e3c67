"""Work order: which of a detective's cases to work next, and the order of the team queue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar, Protocol

from pydantic import Field

from sim.domain.entities import Case
from sim.policies.base import Registry

__all__ = ["WORK_ORDER", "GradeThenOldest", "OldestFirst", "WorkOrderPolicy"]


class WorkOrderPolicy(Protocol):
    """Ranks cases; the smallest key is worked first.

    A rule whose key depends only on the case's priority, grade, arrival day, inherited flag and
    id (as the built-in rules' keys do) may say so with a class attribute ``stable_key = True``:
    the engine then keeps each detective's cases in a priority heap, re-ranking a case whenever
    one of those changes, instead of scanning the caseload at every choice. A rule without it
    (its key may depend on anything, the time or the work left) is scanned.
    """

    def key(self, case: Case) -> tuple[float, ...]:
        """The rank of ``case``: cases under an action plan first, then the rule's order."""
        ...


WORK_ORDER: Registry[WorkOrderPolicy] = Registry("work_order")


@WORK_ORDER.register("grade_then_oldest")
@dataclass(frozen=True)
class GradeThenOldest:
    """Most urgent grade first, then earliest referral.

    ``inherited_penalty_days`` is the attention penalty of an inherited case: it ranks as if it had
    arrived that many days later than it did.
    """

    inherited_penalty_days: Annotated[float, Field(ge=0)] = 0.0
    stable_key: ClassVar[bool] = True

    def key(self, case: Case) -> tuple[float, ...]:
        arrival = case.arrival_day + (self.inherited_penalty_days if case.inherited else 0.0)
        return (-case.priority, case.grade, arrival, case.case_id)


@WORK_ORDER.register("oldest_first")
@dataclass(frozen=True)
class OldestFirst:
    """Earliest referral first, whatever its grade (first come, first served)."""

    inherited_penalty_days: Annotated[float, Field(ge=0)] = 0.0
    stable_key: ClassVar[bool] = True

    def key(self, case: Case) -> tuple[float, ...]:
        arrival = case.arrival_day + (self.inherited_penalty_days if case.inherited else 0.0)
        return (-case.priority, arrival, case.case_id)

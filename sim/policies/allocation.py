"""Allocation: who gets a new referral.

Push rules pick an owner on arrival; ``team_queue`` leaves the case in the team queue, from which
detectives pull while they hold fewer cases than the cap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, ClassVar, Protocol

from numpy.random import Generator
from pydantic import Field

from sim.domain.entities import Case, Detective
from sim.policies.base import Registry, TeamView

__all__ = [
    "ALLOCATION",
    "AllocationPolicy",
    "FixedOwner",
    "LeastLoadedCases",
    "LeastLoadedFte",
    "RoundRobin",
    "TeamQueue",
]


class AllocationPolicy(Protocol):
    """Decides the owner of a referral when it arrives.

    A rule whose ``choose`` always returns ``None`` (every referral waits in the team queue to be
    pulled) may say so with a class attribute ``pushes = False``: the engine then does not call
    ``choose`` at all.
    """

    def choose(self, case: Case, team: TeamView, rng: Generator) -> Detective | None:
        """The detective to own ``case``, or ``None`` to leave it in the team queue."""
        ...

    def pull_limit(self, detective: Detective) -> int:
        """How many cases ``detective`` may hold when pulling from the team queue (0: never)."""
        ...


ALLOCATION: Registry[AllocationPolicy] = Registry("allocation")


def least_loaded(
    candidates: Sequence[Detective], *, per_fte: bool = True, relief: bool = True
) -> Detective | None:
    """The candidate with the fewest open cases per FTE; ties go to the first in scenario order.

    A detective on wellbeing support with ``relief`` r counts as having only ``1 − r`` of their
    capacity (fully relieved detectives are skipped) unless ``relief`` is false; with ``per_fte``
    false the FTE is ignored.
    """
    best: Detective | None = None
    best_load = float("inf")
    for detective in candidates:
        capacity = (detective.fte if per_fte else 1.0) * (1.0 - detective.relief if relief else 1.0)
        if capacity <= 0.0:
            continue
        load = len(detective.caseload) / capacity
        if load < best_load:
            best, best_load = detective, load
    return best


@ALLOCATION.register("least_loaded_fte")
@dataclass(frozen=True)
class LeastLoadedFte:
    """Push each referral to the present detective with the lowest caseload per FTE."""

    def choose(self, case: Case, team: TeamView, rng: Generator) -> Detective | None:
        return team.least_loaded()

    def pull_limit(self, detective: Detective) -> int:
        return 0


@ALLOCATION.register("least_loaded_cases")
@dataclass(frozen=True)
class LeastLoadedCases:
    """Push each referral to the present detective holding the fewest open cases, whatever FTE.

    A part-time detective is thus given as many cases as a full-time one: the allocation a team
    falls into when it counts heads rather than hours.
    """

    def choose(self, case: Case, team: TeamView, rng: Generator) -> Detective | None:
        return team.least_loaded(per_fte=False)

    def pull_limit(self, detective: Detective) -> int:
        return 0


@ALLOCATION.register("round_robin")
@dataclass(frozen=True)
class RoundRobin:
    """Push referrals to the detectives in turn, skipping anyone absent.

    The turn is the case number modulo the team size, so the rule keeps no state of its own.
    """

    def choose(self, case: Case, team: TeamView, rng: Generator) -> Detective | None:
        detectives = team.detectives
        n = len(detectives)
        for step in range(n):
            detective = detectives[(case.case_id + step) % n]
            if detective.present:
                return detective
        return None

    def pull_limit(self, detective: Detective) -> int:
        return 0


@ALLOCATION.register("fixed_owner")
@dataclass(frozen=True)
class FixedOwner:
    """Every referral goes to one named detective, present or not."""

    owner: str

    def choose(self, case: Case, team: TeamView, rng: Generator) -> Detective | None:
        detective = team.by_name(self.owner)
        if detective is None:
            raise ValueError(f"fixed_owner: no detective called {self.owner!r}")
        return detective

    def pull_limit(self, detective: Detective) -> int:
        return 0


@ALLOCATION.register("team_queue")
@dataclass(frozen=True)
class TeamQueue:
    """Referrals wait in a team queue; detectives pull while below the caseload cap.

    With ``per_fte`` the cap scales with FTE: ``max_cases_per_detective × fte`` rounded half up
    (0.5 × 5 = 2.5 → 3, 0.9 × 5 = 4.5 → 5, 0.3 × 5 = 1.5 → 2), at least one case.
    """

    max_cases_per_detective: Annotated[int, Field(ge=1, le=100_000)] = 1
    per_fte: Annotated[
        bool,
        Field(
            description="scale the cap with FTE: max_cases_per_detective × fte rounded half up"
            " (0.5 × 5 = 2.5 → 3; 0.9 × 5 = 4.5 → 5), at least 1"
        ),
    ] = False
    pushes: ClassVar[bool] = False

    def choose(self, case: Case, team: TeamView, rng: Generator) -> Detective | None:
        return None

    def pull_limit(self, detective: Detective) -> int:
        if self.per_fte:
            # Half up, not Python's half to even; the 1e-9 absorbs FTEs such as 0.3 that binary
            # floating point stores a hair below their decimal value.
            return max(1, math.floor(self.max_cases_per_detective * detective.fte + 0.5 + 1e-9))
        return self.max_cases_per_detective

"""What happens to an absent detective's cases once the absence has lasted ``after_days``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Protocol

from numpy.random import Generator
from pydantic import Field

from sim.domain.entities import Case, Detective
from sim.policies.allocation import least_loaded
from sim.policies.base import Registry, TeamView

__all__ = [
    "REALLOCATION",
    "Keep",
    "ReallocationPolicy",
    "SergeantPool",
    "SingleColleague",
    "Spread",
]

Days = Annotated[float, Field(ge=0, le=36_500)]


class ReallocationPolicy(Protocol):
    """Decides where an absent detective's cases go."""

    # A read-only member, so that frozen dataclasses (every built-in rule) satisfy the protocol.
    @property
    def after_days(self) -> float:
        """Days of absence after which the cases are reassigned."""
        ...

    def reassign(
        self, cases: Sequence[Case], absent: Detective, team: TeamView, rng: Generator
    ) -> list[Detective | None]:
        """One entry per case: the new owner, ``absent`` to keep it, or ``None`` for the pool."""
        ...


REALLOCATION: Registry[ReallocationPolicy] = Registry("on_long_leave")


def _colleagues(absent: Detective, team: TeamView) -> list[Detective]:
    return [d for d in team.present() if d is not absent]


@REALLOCATION.register("keep")
@dataclass(frozen=True)
class Keep:
    """The cases stay with the absent detective, frozen until they return."""

    after_days: Days = 28.0

    def reassign(
        self, cases: Sequence[Case], absent: Detective, team: TeamView, rng: Generator
    ) -> list[Detective | None]:
        return [absent for _ in cases]


@REALLOCATION.register("single_colleague")
@dataclass(frozen=True)
class SingleColleague:
    """Every case goes to one colleague: the one named, or else the least loaded present.

    If the named colleague is absent too, the cases go to the least loaded present colleague
    (counting wellbeing relief; if every present colleague is fully relieved, the least loaded of
    them all the same, since the cases must be held by someone at work); with nobody present they
    stay where they are.
    """

    after_days: Days = 28.0
    colleague: str | None = None

    def reassign(
        self, cases: Sequence[Case], absent: Detective, team: TeamView, rng: Generator
    ) -> list[Detective | None]:
        named = team.by_name(self.colleague) if self.colleague is not None else None
        if named is None or not named.present or named is absent:
            colleagues = _colleagues(absent, team)
            named = least_loaded(colleagues) or least_loaded(colleagues, relief=False)
        target = named if named is not None else absent
        return [target for _ in cases]


@REALLOCATION.register("spread")
@dataclass(frozen=True)
class Spread:
    """Cases go one by one to whichever present colleague then has the lowest load per FTE."""

    after_days: Days = 28.0

    def reassign(
        self, cases: Sequence[Case], absent: Detective, team: TeamView, rng: Generator
    ) -> list[Detective | None]:
        colleagues = _colleagues(absent, team)
        if not colleagues:
            return [absent for _ in cases]
        held = {d.index: len(d.caseload) for d in colleagues}
        out: list[Detective | None] = []
        for _ in cases:
            target = min(colleagues, key=lambda d: (held[d.index] / d.fte, d.index))
            held[target.index] += 1
            out.append(target)
        return out


@REALLOCATION.register("sergeant_pool")
@dataclass(frozen=True)
class SergeantPool:
    """The cases return to the sergeant's pool (the team queue) for reallocation."""

    after_days: Days = 28.0

    def reassign(
        self, cases: Sequence[Case], absent: Detective, team: TeamView, rng: Generator
    ) -> list[Detective | None]:
        return [None for _ in cases]

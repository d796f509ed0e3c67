"""Workload review: which cases a sergeant flags, and what the sergeant does about them.

A review policy decides; :mod:`sim.engine.supervision` acts. At every review the process hands the
policy each case of the detectives the sergeant has time for; the policy says whether the case is
flagged (it has waited on the team longer than the threshold) and, for a flagged case, what
happens: nothing, a reallocation, an action plan, or an escalation to the inspector.

The sergeant's decision to act is one uniform draw per flagged case, made whether or not the
sergeant acts, so that scenarios differing only in ``act_probability`` stay on common random
numbers; with ``act_probability: 0`` the sergeant never changes anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, Protocol

from numpy.random import Generator
from pydantic import Field

from sim.domain.entities import Case, Detective
from sim.policies.allocation import least_loaded
from sim.policies.base import Registry, TeamView

__all__ = [
    "ACTIONS",
    "WORKLOAD_REVIEW",
    "GapThreshold",
    "ReviewDecision",
    "ReviewPolicy",
    "combined_probability",
]

Action = Literal["reallocate", "action_plan", "escalate"]
ACTIONS: tuple[str, ...] = ("reallocate", "action_plan", "escalate")


def combined_probability(base: float, *boosts: float) -> float:
    """The chance that at least one of independent prompts leads to action.

    ``base`` is the sergeant's own chance; each boost (inspector oversight, HR support) is the
    chance that it gets a reluctant sergeant to act: ``1 − (1 − base) Π (1 − boost)``.
    """
    missed = 1.0 - base
    for boost in boosts:
        missed *= 1.0 - boost
    return 1.0 - missed


@dataclass(frozen=True)
class ReviewDecision:
    """What the sergeant does about one flagged case.

    Attributes:
        case: the flagged case.
        action: ``None`` (the sergeant does not act), or one of :data:`ACTIONS`.
        target: the new owner, for a reallocation (``None``: nobody could take it).
    """

    case: Case
    action: str | None
    target: Detective | None = None


class ReviewPolicy(Protocol):
    """Decides which cases a workload review flags and what the sergeant does."""

    every_days: float | None
    gap_threshold_days: float
    act_probability: float
    days_to_act: float

    def flags(self, case: Case, now: float) -> bool:
        """Whether the sergeant flags ``case`` at a review held at ``now`` (days)."""
        ...

    def decide(
        self, case: Case, team: TeamView, rng: Generator, act_probability: float
    ) -> ReviewDecision:
        """What happens to the flagged ``case``; draws exactly one uniform from ``rng``."""
        ...


WORKLOAD_REVIEW: Registry[ReviewPolicy] = Registry("workload_review", default="gap_threshold")


def reallocation_target(case: Case, team: TeamView) -> Detective | None:
    """The present colleague (not the owner) with the lowest FTE-weighted load, relief counted."""
    owner = case.owner
    return least_loaded([d for d in team.present() if d is not owner])


@WORKLOAD_REVIEW.register("gap_threshold")
@dataclass(frozen=True)
class GapThreshold:
    """Flag a case that has waited on the team for more than ``gap_threshold_days``.

    The wait counts only time the case sat with the team unworked (not time parked at forensics
    or the CPS, where a sergeant's action cannot help), so it is the case's current *neglect*.

    Args:
        every_days: days between reviews; ``None`` for no reviews.
        gap_threshold_days: neglect above which a case is flagged (days).
        act_probability: the chance that the sergeant acts on a flagged case (confidence,
            training, support); inspector oversight and HR support raise it.
        action: what acting means: ``reallocate`` (to the present colleague with the lowest
            FTE-weighted load), ``action_plan`` (raise the case's priority, set a deadline at the
            next review, reallocate at the deadline if it was not worked), or ``escalate`` (to
            the inspector, who acts at the next audit; with no inspector involved, nothing).
        days_to_act: days from the decision to act to the action taking effect (drafting the
            plan, agreeing it); HR support shortens it.
    """

    every_days: Annotated[float, Field(ge=1, le=36_500)] | None = None
    gap_threshold_days: Annotated[float, Field(ge=0)] = 90.0
    act_probability: Annotated[float, Field(ge=0, le=1)] = 0.5
    action: Action = "reallocate"
    days_to_act: Annotated[float, Field(ge=0)] = 14.0

    def flags(self, case: Case, now: float) -> bool:
        return case.neglect_days(now) > self.gap_threshold_days

    def decide(
        self, case: Case, team: TeamView, rng: Generator, act_probability: float
    ) -> ReviewDecision:
        u = float(rng.random())
        if not u < act_probability:
            return ReviewDecision(case, None)
        if self.action == "reallocate":
            return ReviewDecision(case, "reallocate", reallocation_target(case, team))
        return ReviewDecision(case, self.action)

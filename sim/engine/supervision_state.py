"""What supervision keeps between its rounds: counters, flagged cases, action plans, support.

:class:`SupervisionState` holds the state shared by the workload reviews and inspector audits
(:mod:`sim.engine.reviews`) and by wellbeing care (:mod:`sim.engine.care`);
:class:`sim.engine.supervision.Supervision` combines them for one replication.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import simpy
from numpy.random import Generator

from sim.domain.entities import Case, Detective
from sim.engine.team import TeamState
from sim.policies.review import ReviewPolicy, combined_probability
from sim.policies.wellbeing import WellbeingPolicy
from sim.scenario import HrSupport, InspectorOversight, Sergeants

__all__ = ["SupervisionCounts", "SupervisionState", "move_case", "set_plan"]


@dataclass
class SupervisionCounts:
    """Counters of one replication, from the end of the warm-up (see ``docs/outputs.md``)."""

    warmup_days: float
    reviews_held: int = 0
    detectives_reviewed: int = 0
    cases_flagged: int = 0
    flagged_unreviewed: int = 0
    review_actions: int = 0
    review_reallocations: int = 0
    action_plans: int = 0
    action_plans_failed: int = 0
    escalations: int = 0
    inspector_audits: int = 0
    inspector_reallocations: int = 0
    sergeant_review_hours: float = 0.0
    sergeant_wellbeing_hours: float = 0.0
    detections: dict[str, int] = field(default_factory=dict)
    support_episodes: int = 0
    support_reallocations: int = 0
    strain_area: float = 0.0  # ∫ mean strain dt after the warm-up (strain · days)
    strain_time: float = 0.0  # days of the integral
    strain_peak: float = 0.0
    high_strain_days: float = 0.0  # detective-days at or above the detection threshold

    def counting(self, now: float) -> bool:
        """Whether an event at ``now`` (days) falls after the warm-up."""
        return now >= self.warmup_days

    def metrics(self, wellbeing: bool, routes: tuple[str, ...]) -> dict[str, float]:
        """The replication's supervision and wellbeing metrics."""
        out: dict[str, float] = {
            "reviews_held": float(self.reviews_held),
            "detectives_reviewed": float(self.detectives_reviewed),
            "cases_flagged": float(self.cases_flagged),
            "flagged_unreviewed": float(self.flagged_unreviewed),
            "review_actions": float(self.review_actions),
            "review_reallocations": float(self.review_reallocations),
            "action_plans": float(self.action_plans),
            "action_plans_failed": float(self.action_plans_failed),
            "escalations": float(self.escalations),
            "inspector_audits": float(self.inspector_audits),
            "inspector_reallocations": float(self.inspector_reallocations),
            "sergeant_review_hours": self.sergeant_review_hours,
        }
        if wellbeing:
            out["sergeant_wellbeing_hours"] = self.sergeant_wellbeing_hours
            out["strain_mean_over_time"] = (
                self.strain_area / self.strain_time if self.strain_time > 0 else float("nan")
            )
            out["strain_max_over_time"] = self.strain_peak
            out["high_strain_detective_days"] = self.high_strain_days
            out["strain_detections"] = float(sum(self.detections.values()))
            for route in routes:
                out[f"strain_detections_{route}"] = float(self.detections.get(route, 0))
            out["support_episodes"] = float(self.support_episodes)
            out["support_reallocations"] = float(self.support_reallocations)
        return out


def move_case(team: TeamState, case: Case, target: Detective | None) -> bool:
    """Reallocate ``case`` to ``target`` (a reallocation: it counts as inherited)."""
    if target is None or target is case.owner or case.closed_day is not None:
        return False
    if case.owner is None:
        # Released from an absent detective's caseload since it was flagged: it waits in the
        # pool or the team queue, and leaves it for its new owner.
        team.unqueue(case)
    team.assign(case, target, moved=True)
    return True


def set_plan(team: TeamState, plans: dict[int, tuple[Case, float | None]], case: Case) -> None:
    """Put ``case`` under an action plan: it goes to the top of its owner's work order."""
    if case.case_id not in plans:
        team.change_priority(case, 1)
    plans[case.case_id] = (case, case.idle_since)
    if case.owner is not None:
        # A detective working a lone case would otherwise run on to its stage's end.
        team.notify(case.owner)


class SupervisionState:
    """The supervision and wellbeing state of one replication.

    Args:
        env: the replication's environment.
        team: the team state the processes act on.
        review: the workload-review policy.
        sergeants: the sergeants' number, review time and span of control.
        inspector: inspector oversight, or ``None``.
        hr: HR support, or ``None``.
        wellbeing: the wellbeing policy, or ``None`` (strain not modelled).
        hours_per_week: contracted hours of a 1.0-FTE detective (hours).
        warmup_days: counters start here (days).
        rngs: named streams: ``review``, ``inspector``, ``strain`` and one per detection route.
    """

    def __init__(
        self,
        env: simpy.Environment,
        team: TeamState,
        review: ReviewPolicy,
        sergeants: Sergeants,
        inspector: InspectorOversight | None,
        hr: HrSupport | None,
        wellbeing: WellbeingPolicy | None,
        hours_per_week: float,
        warmup_days: float,
        rngs: dict[str, Generator],
    ) -> None:
        self.env = env
        self.team = team
        self.review = review
        self.sergeants = sergeants
        self.inspector = inspector
        self.hr = hr
        self.wellbeing = wellbeing
        self.hours_per_week = hours_per_week
        self.rngs = rngs
        self.counts = SupervisionCounts(warmup_days)
        # Cases flagged and not acted on (for the inspector's audit), and escalated ones.
        self.flagged: dict[int, Case] = {}
        self.escalated: dict[int, Case] = {}
        # Action plans in force: case id -> (case, the case's idle_since when the plan was set).
        self.plans: dict[int, tuple[Case, float | None]] = {}
        self.support_until: dict[int, float] = {}
        # Cases handed over on a wellbeing detection, under priority until worked; kept apart
        # from the reviews' plans so that reviews that never act change nothing.
        self.handovers: dict[int, tuple[Case, float | None]] = {}
        self._next_detective = 0
        boosts = [b.act_probability_boost for b in (inspector, hr) if b is not None]
        factor = 1.0
        for b in (inspector, hr):
            if b is not None:
                factor *= b.days_to_act_factor
        self.act_probability = combined_probability(review.act_probability, *boosts)
        self.days_to_act = review.days_to_act * factor

"""Supervision and wellbeing processes: workload reviews, inspector audits, strain, screening.

These are SimPy generator processes that wake every N days (never day by day): a review costs a
handful of events however many cases it looks at, and nothing here runs per block of work. They
ask the policies of :mod:`sim.policies.review` and :mod:`sim.policies.wellbeing` what to do and
act through :class:`sim.engine.team.TeamState`.

:class:`Supervision` wires them for one replication and keeps the counters behind the
supervision and wellbeing metrics (counted from the end of the warm-up).
"""

from __future__ import annotations

from collections.abc import Generator as Gen
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import simpy
from numpy.random import Generator

from sim.domain.entities import Case, Detective
from sim.engine.team import TeamState
from sim.policies.allocation import least_loaded
from sim.policies.review import ReviewPolicy, combined_probability, reallocation_target
from sim.policies.wellbeing import WellbeingPolicy
from sim.scenario import HrSupport, InspectorOversight, Sergeants

__all__ = [
    "Supervision",
    "SupervisionCounts",
    "audits_flagged_cases",
    "holds_workload_reviews",
    "screens_wellbeing",
    "updates_strain",
]

Process = Gen[simpy.Event, Any, None]


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


def _move(team: TeamState, case: Case, target: Detective | None) -> bool:
    """Reallocate ``case`` to ``target`` (a reallocation: it counts as inherited)."""
    if target is None or target is case.owner or case.closed_day is not None:
        return False
    if case.owner is None:
        # Released from an absent detective's caseload since it was flagged: it waits in the
        # pool or the team queue, and leaves it for its new owner.
        team.unqueue(case)
    team.assign(case, target, moved=True)
    return True


def _set_plan(team: TeamState, plans: dict[int, tuple[Case, float | None]], case: Case) -> None:
    """Put ``case`` under an action plan: it goes to the top of its owner's work order."""
    if case.case_id not in plans:
        case.priority += 1
    plans[case.case_id] = (case, case.idle_since)
    if case.owner is not None:
        # A detective working a lone case would otherwise run on to its stage's end.
        team.notify(case.owner)


class Supervision:
    """The supervision and wellbeing of one replication: its processes and counters.

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

    def start(self) -> None:
        """Start every process the policies call for."""
        env = self.env
        if self.review.every_days is not None and self.sergeants.count > 0:
            env.process(holds_workload_reviews(self))
        if self.inspector is not None:
            env.process(audits_flagged_cases(self))
        if self.wellbeing is not None:
            env.process(updates_strain(self))
            for route, every_days in self.wellbeing.cadences().items():
                env.process(screens_wellbeing(self, route, every_days))

    def metrics(self) -> dict[str, float]:
        """The replication's supervision and wellbeing metrics."""
        routes = tuple(self.wellbeing.cadences()) if self.wellbeing is not None else ()
        return self.counts.metrics(self.wellbeing is not None, routes)

    # --- workload reviews -----------------------------------------------------------------------

    def review_once(self) -> None:
        """One workload review: the sergeants go through as many caseloads as they have time for.

        Detectives are taken in turn from where the previous review stopped, so a sergeant short
        of time still covers everyone over successive reviews. Each reviewed case that the
        policy flags gets one decision (one draw from the review stream).
        """
        env, team, policy, sergeants = self.env, self.team, self.review, self.sergeants
        now = env.now
        counting = self.counts.counting(now)
        every_days = policy.every_days or 0.0
        self._check_plans()
        budget = (
            float("inf")
            if sergeants.review_hours_per_week is None
            else sergeants.count * sergeants.review_hours_per_week * every_days / 7.0
        )
        span = (
            len(team.detectives)
            if sergeants.span_of_control is None
            else min(len(team.detectives), sergeants.count * sergeants.span_of_control)
        )
        detectives = team.detectives
        n = len(detectives)
        reviewed: list[Detective] = []
        hours = 0.0
        for step in range(n):
            detective = detectives[(self._next_detective + step) % n]
            cost = sergeants.hours_per_detective + sergeants.hours_per_case * len(
                detective.caseload
            )
            if len(reviewed) >= span or hours + cost > budget:
                break
            hours += cost
            reviewed.append(detective)
        self._next_detective = (self._next_detective + len(reviewed)) % n
        rng = self.rngs["review"]
        chosen = {d.index for d in reviewed}
        flagged = 0
        for detective in reviewed:
            for case in list(detective.caseload):
                if case.case_id in self.plans or not policy.flags(case, now):
                    continue
                flagged += 1
                if case.flagged_day is None:
                    case.flagged_day = now
                if team.trace is not None:
                    team.trace.append(("flag", now, case.case_id, detective.name))
                self.flagged[case.case_id] = case
                decision = policy.decide(case, team, rng, self.act_probability)
                if decision.action is not None:
                    if counting:
                        self.counts.review_actions += 1
                    self._schedule(case, decision.action)
        if counting:
            c = self.counts
            c.reviews_held += 1
            c.detectives_reviewed += len(reviewed)
            c.cases_flagged += flagged
            c.sergeant_review_hours += hours
            c.flagged_unreviewed += sum(
                1
                for d in detectives
                if d.index not in chosen
                for case in d.caseload
                if case.case_id not in self.plans and policy.flags(case, now)
            )
        if team.trace is not None:
            team.trace.append(("review", now, len(reviewed), flagged))

    def _schedule(self, case: Case, action: str) -> None:
        """Carry out ``action`` on ``case`` after the days it takes to act."""
        marker = case.idle_since
        owner = case.owner

        def act(_event: object) -> None:
            # The sergeant's action is moot if the case was worked, closed or moved meanwhile.
            if case.closed_day is not None or case.owner is not owner:
                return
            if case.idle_since is None or case.idle_since != marker:
                return
            self._act(case, action)

        if self.days_to_act > 0:
            self.env.timeout(self.days_to_act).callbacks.append(act)
        else:
            act(None)

    def _act(self, case: Case, action: str) -> None:
        counting = self.counts.counting(self.env.now)
        if action == "reallocate":
            if self._reallocate(case) and counting:
                self.counts.review_reallocations += 1
        elif action == "action_plan":
            self._plan(case)
            self.flagged.pop(case.case_id, None)
            if counting:
                self.counts.action_plans += 1
        elif action == "escalate":
            self.escalated[case.case_id] = case
            if counting:
                self.counts.escalations += 1

    def _plan(self, case: Case) -> None:
        """An action plan for ``case`` with its present owner, checked at the next review."""
        case.action_deadline = self.env.now + (self.review.every_days or 0.0)
        _set_plan(self.team, self.plans, case)

    def _reallocate(self, case: Case) -> bool:
        """Move a neglected case to the least loaded colleague, with an action plan.

        A case moved by a supervisor comes with the instruction to progress it, so it is put
        under an action plan at its new owner rather than left to rank as an inherited case.
        """
        if not _move(self.team, case, reallocation_target(case, self.team)):
            return False
        self.flagged.pop(case.case_id, None)
        self._plan(case)
        return True

    def _check_plans(self) -> None:
        """At a review: discharge action plans that worked, reallocate those that did not."""
        now = self.env.now
        for case_id, (case, marker) in list(self.plans.items()):
            if case.closed_day is not None:
                del self.plans[case_id]
                continue
            deadline = case.action_deadline
            if deadline is not None and now < deadline:
                continue
            if case.idle_since is None or case.idle_since != marker:
                # The case was worked: the plan is discharged and the case ranks as usual.
                del self.plans[case_id]
                case.action_deadline = None
                case.priority -= 1
                if case.owner is not None:
                    self.team.notify(case.owner)
                continue
            if self.counts.counting(now):
                self.counts.action_plans_failed += 1
            # A plan that failed: the case moves, still under a plan, to a colleague.
            if self._reallocate(case) and self.counts.counting(now):
                self.counts.review_reallocations += 1
            elif case_id in self.plans:
                case.action_deadline = now + (self.review.every_days or 0.0)

    # --- inspector ------------------------------------------------------------------------------

    def audit_once(self) -> None:
        """An inspector's audit: each flagged or escalated case still neglected may be moved."""
        assert self.inspector is not None
        inspector = self.inspector
        now = self.env.now
        rng = self.rngs["inspector"]
        counting = self.counts.counting(now)
        if counting:
            self.counts.inspector_audits += 1
        cases = {**self.flagged, **self.escalated}
        self.flagged.clear()
        self.escalated.clear()
        for case in cases.values():
            u = float(rng.random())
            if case.closed_day is not None or not self.review.flags(case, now):
                continue
            if u < inspector.act_probability:
                marker, owner = case.idle_since, case.owner
                self.env.timeout(inspector.days_to_act).callbacks.append(
                    partial(self._inspector_moves, case, marker, owner)
                )
            else:
                self.flagged[case.case_id] = case

    def _inspector_moves(
        self, case: Case, marker: float | None, owner: Detective | None, _event: object
    ) -> None:
        """The inspector's direction takes effect unless the case moved or progressed."""
        if case.closed_day is not None or case.owner is not owner or case.idle_since != marker:
            return
        moved = self._reallocate(case)
        if moved and self.counts.counting(self.env.now):
            self.counts.inspector_reallocations += 1

    # --- wellbeing ------------------------------------------------------------------------------

    def hours_in_hand(self, detective: Detective) -> float:
        """Hours of work left on the current stages of ``detective``'s workable cases.

        Cases parked at an external unit are left out: their next stage is months away and
        presses on nobody yet.
        """
        return sum(c.remaining_hours for c in detective.caseload if not c.parked)

    def update_strain(self, days: float) -> None:
        """Advance every detective's strain over the past ``days`` and apply its effects."""
        policy = self.wellbeing
        assert policy is not None
        now = self.env.now
        counts = self.counts
        for case_id, (case, marker) in list(self.handovers.items()):
            if case.closed_day is not None or case.idle_since != marker:
                del self.handovers[case_id]
                case.priority -= 1
                if case.owner is not None and case.closed_day is None:
                    self.team.notify(case.owner)
        total = 0.0
        for d in self.team.detectives:
            supported = self.support_until.get(d.index, -1.0) > now
            if not supported and d.relief > 0.0:
                d.relief = 0.0
            if d.absences == 0:
                overload = policy.overload(self.hours_in_hand(d), d.fte * self.hours_per_week)
                exposure = policy.exposure(d.fte)
            else:
                overload = exposure = 0.0
            before = d.strain
            d.strain = policy.step(before, overload, exposure, supported, days)
            productivity = d.productivity
            d.productivity, d.sickness_multiplier = policy.effects(d.strain)
            if d.productivity != productivity:
                # A lone case is worked to the end of its stage in one event; the new rate must
                # take effect at the next block boundary, as it would block by block.
                self.team.reconsider(d)
            if counts.counting(now - days):
                # Trapezoid over the step: strain moves smoothly between updates.
                total += 0.5 * (before + d.strain)
                counts.strain_peak = max(counts.strain_peak, d.strain)
                if d.strain >= getattr(policy, "threshold", 1.0):
                    counts.high_strain_days += days
        if counts.counting(now - days) and self.team.detectives:
            counts.strain_area += total / len(self.team.detectives) * days
            counts.strain_time += days

    def screen_once(self, route: str) -> None:
        """One round of a detection route: each present detective may be noticed."""
        policy = self.wellbeing
        assert policy is not None
        now = self.env.now
        rng = self.rngs[f"route.{route}"]
        z = rng.standard_normal(len(self.team.detectives))
        if route == "supervision" and self.counts.counting(now):
            self.counts.sergeant_wellbeing_hours += self.sergeants.hours_per_detective * sum(
                1 for d in self.team.detectives if d.absences == 0
            )
        for d, zi in zip(self.team.detectives, z, strict=True):
            if d.absences or self.support_until.get(d.index, -1.0) > now:
                continue
            if policy.notices(route, d.strain, float(zi)):
                if self.counts.counting(now):
                    self.counts.detections[route] = self.counts.detections.get(route, 0) + 1
                self.support(d)

    def support(self, detective: Detective) -> None:
        """Support a detective who was noticed: counselling, relief, and some cases moved."""
        policy = self.wellbeing
        assert policy is not None
        now = self.env.now
        self.support_until[detective.index] = now + policy.support_days
        detective.relief = policy.relief
        counting = self.counts.counting(now)
        if counting:
            self.counts.support_episodes += 1
        k = int(policy.relief_reallocate_share * len(detective.caseload))
        if k <= 0:
            return
        # The longest-waiting cases go first: they are the ones most at risk.
        movable = sorted(
            (c for c in detective.caseload if c is not detective.current),
            key=lambda c: -c.neglect_days(now),
        )[:k]
        for case in movable:
            colleagues = [d for d in self.team.present() if d is not detective]
            if _move(self.team, case, least_loaded(colleagues)):
                # Handed over with the instruction to progress it: priority until it is worked.
                _set_plan(self.team, self.handovers, case)
                if counting:
                    self.counts.support_reallocations += 1


def holds_workload_reviews(supervision: Supervision) -> Process:
    """Process: the sergeants review workloads every ``every_days`` days."""
    env = supervision.env
    every_days = supervision.review.every_days
    assert every_days is not None
    while True:
        yield env.timeout(every_days)
        supervision.review_once()


def audits_flagged_cases(supervision: Supervision) -> Process:
    """Process: the inspector audits flagged and escalated cases every ``audit_every_days``."""
    env = supervision.env
    assert supervision.inspector is not None
    while True:
        yield env.timeout(supervision.inspector.audit_every_days)
        supervision.audit_once()


def updates_strain(supervision: Supervision) -> Process:
    """Process: every detective's strain is updated every ``update_every_days`` days."""
    env = supervision.env
    assert supervision.wellbeing is not None
    step = supervision.wellbeing.update_every_days
    while True:
        yield env.timeout(step)
        supervision.update_strain(step)


def screens_wellbeing(supervision: Supervision, route: str, every_days: float) -> Process:
    """Process: a detection route checks the team every ``every_days`` days.

    The first check falls at a uniform phase within the first interval (the route's own stream),
    so that an annual questionnaire is not always sent on the same day as the first review.
    """
    env = supervision.env
    rng = supervision.rngs[f"route.{route}"]
    yield env.timeout(float(rng.uniform(0.0, every_days)))
    while True:
        supervision.screen_once(route)
        yield env.timeout(every_days)

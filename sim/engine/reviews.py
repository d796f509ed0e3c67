"""Workload reviews by the sergeants and audits by the inspector.

A review flags cases without progress for longer than the policy's threshold and, with the
sergeant's probability of acting, reallocates them, puts them under an action plan or escalates
them; the inspector's audits take up flagged and escalated cases still neglected.
"""

from __future__ import annotations

from functools import partial

from sim.domain.entities import Case, Detective
from sim.engine.supervision_state import SupervisionState, move_case, set_plan
from sim.policies.review import reallocation_target

__all__ = ["WorkloadReviews"]


class WorkloadReviews(SupervisionState):
    """The sergeants' workload reviews and the inspector's audits."""

    def adopt_action_plans(self, cases: list[Case]) -> None:
        """Action plans already in force when the clock starts (a forecast's initial state).

        Each case already ranks first (its ``priority`` is set); the plan is checked at the first
        review, like one set now: discharged if the case was worked, else the case moves.
        """
        deadline = self.env.now + (self.review.every_days or 0.0)
        for case in cases:
            case.action_deadline = deadline
            self.plans[case.case_id] = (case, case.idle_since)

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
        set_plan(self.team, self.plans, case)

    def _reallocate(self, case: Case) -> bool:
        """Move a neglected case to the least loaded colleague, with an action plan.

        A case moved by a supervisor comes with the instruction to progress it, so it is put
        under an action plan at its new owner rather than left to rank as an inherited case.
        """
        if not move_case(self.team, case, reallocation_target(case, self.team)):
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
                self.team.change_priority(case, -1)
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

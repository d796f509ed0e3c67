"""Wellbeing care: strain updated every few days, detection routes, and support.

Strain rises with overload and exposure and decays with support (the policy's law, in
:mod:`sim.policies.wellbeing`); a route that notices a strained detective triggers support:
counselling, relief from part of the caseload, some cases handed to colleagues.
"""

from __future__ import annotations

from sim.domain.entities import Detective
from sim.engine.supervision_state import SupervisionState, move_case, set_plan
from sim.policies.allocation import least_loaded
from sim.policies.wellbeing import checked_effects

__all__ = ["WellbeingCare"]


class WellbeingCare(SupervisionState):
    """Strain, detection routes and support for the detectives of one replication."""

    def hours_in_hand(self, detective: Detective) -> float:
        """Hours of work left on the current stages of ``detective``'s workable cases.

        Cases parked at an external unit are left out: their next stage is months away and
        presses on nobody yet.
        """
        return sum([c.remaining_hours for c in detective.caseload if not c.parked])

    def update_strain(self, days: float) -> None:
        """Advance every detective's strain over the past ``days`` and apply its effects."""
        policy = self.wellbeing
        assert policy is not None
        now = self.env.now
        counts = self.counts
        for case_id, (case, marker) in list(self.handovers.items()):
            if case.closed_day is not None or case.idle_since != marker:
                del self.handovers[case_id]
                self.team.change_priority(case, -1)
                if case.owner is not None and case.closed_day is None:
                    self.team.notify(case.owner)
        total = 0.0
        counting = counts.counting(now - days)
        threshold = getattr(policy, "threshold", 1.0)
        support_until = self.support_until
        weekly_hours = self.hours_per_week
        overload_of, exposure_of = policy.overload, policy.exposure
        step, effects = policy.step, policy.effects
        for d in self.team.detectives:
            supported = support_until.get(d.index, -1.0) > now
            if not supported and d.relief > 0.0:
                self.team.set_relief(d, 0.0)
            if d.absences == 0:
                overload = overload_of(self.hours_in_hand(d), d.fte * weekly_hours)
                exposure = exposure_of(d.fte)
            else:
                overload = exposure = 0.0
            before = d.strain
            d.strain = step(before, overload, exposure, supported, days)
            productivity = d.productivity
            d.productivity, d.sickness_multiplier = checked_effects(effects, d.strain)
            if d.productivity != productivity:
                # A lone case is worked to the end of its stage in one event; the new rate must
                # take effect at the next block boundary, as it would block by block.
                self.team.reconsider(d)
            if counting:
                # Trapezoid over the step: strain moves smoothly between updates.
                total += 0.5 * (before + d.strain)
                if d.strain > counts.strain_peak:
                    counts.strain_peak = d.strain
                if d.strain >= threshold:
                    counts.high_strain_days += days
        if counting and self.team.detectives:
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
        self.team.set_relief(detective, policy.relief)
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
            if move_case(self.team, case, least_loaded(colleagues)):
                # Handed over with the instruction to progress it: priority until it is worked.
                set_plan(self.team, self.handovers, case)
                if counting:
                    self.counts.support_reallocations += 1

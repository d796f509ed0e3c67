"""Supervision and wellbeing processes: workload reviews, inspector audits, strain, screening.

These are SimPy generator processes that wake every N days (never day by day): a review costs a
handful of events however many cases it looks at, and nothing here runs per block of work. They
ask the policies of :mod:`sim.policies.review` and :mod:`sim.policies.wellbeing` what to do and
act through :class:`sim.engine.team.TeamState`.

:class:`Supervision` wires them for one replication: the reviews and audits of
:mod:`sim.engine.reviews`, the wellbeing care of :mod:`sim.engine.care`, and the counters behind
the supervision and wellbeing metrics (counted from the end of the warm-up) of
:mod:`sim.engine.supervision_state`.
"""

from __future__ import annotations

from sim.engine.care import WellbeingCare
from sim.engine.reviews import WorkloadReviews
from sim.engine.supervision_state import SupervisionCounts, move_case
from sim.engine.wakeups import Delays, Steps

__all__ = [
    "Supervision",
    "SupervisionCounts",
    "audits_flagged_cases",
    "holds_workload_reviews",
    "move_case",
    "screens_wellbeing",
    "updates_strain",
]


class Supervision(WorkloadReviews, WellbeingCare):
    """The supervision and wellbeing of one replication: its processes and counters.

    Constructed with the arguments of :class:`sim.engine.supervision_state.SupervisionState`.
    """

    def start(self) -> None:
        """Start every process the policies call for."""
        env = self.env
        if self.review.every_days is not None and self.sergeants.count > 0:
            Steps(env, holds_workload_reviews(self))
        if self.inspector is not None:
            Steps(env, audits_flagged_cases(self))
        if self.wellbeing is not None:
            Steps(env, updates_strain(self))
            for route, every_days in self.wellbeing.cadences().items():
                Steps(env, screens_wellbeing(self, route, every_days))

    def metrics(self) -> dict[str, float]:
        """The replication's supervision and wellbeing metrics."""
        routes = tuple(self.wellbeing.cadences()) if self.wellbeing is not None else ()
        return self.counts.metrics(self.wellbeing is not None, routes)


def holds_workload_reviews(supervision: Supervision) -> Delays:
    """Process: the sergeants review workloads every ``every_days`` days."""
    every_days = supervision.review.every_days
    assert every_days is not None
    while True:
        yield every_days
        supervision.review_once()


def audits_flagged_cases(supervision: Supervision) -> Delays:
    """Process: the inspector audits flagged and escalated cases every ``audit_every_days``."""
    assert supervision.inspector is not None
    while True:
        yield supervision.inspector.audit_every_days
        supervision.audit_once()


def updates_strain(supervision: Supervision) -> Delays:
    """Process: every detective's strain is updated every ``update_every_days`` days."""
    assert supervision.wellbeing is not None
    step = supervision.wellbeing.update_every_days
    while True:
        yield step
        supervision.update_strain(step)


def screens_wellbeing(supervision: Supervision, route: str, every_days: float) -> Delays:
    """Process: a detection route checks the team every ``every_days`` days.

    The first check falls at a uniform phase within the first interval (the route's own stream),
    so that an annual questionnaire is not always sent on the same day as the first review.
    """
    rng = supervision.rngs[f"route.{route}"]
    yield float(rng.uniform(0.0, every_days))
    while True:
        supervision.screen_once(route)
        yield every_days

"""How much work a replication is: an estimate before it runs, and a hard bound while it runs.

A scenario can be valid and still absurd: a million referrals a year for a century, blocks of a
second of work, strain updated every few minutes. :func:`estimate_events` counts the SimPy events
one replication is expected to schedule, from the scenario alone, so that commands can refuse
before they start; :func:`run_bounded` runs a replication and stops it cleanly with
:class:`WorkLimitExceeded` if it schedules far more events than that (nothing hangs).
"""

from __future__ import annotations

import heapq
import math
from typing import Any

import simpy
from simpy.core import URGENT, StopSimulation
from simpy.events import Event

from sim.scenario import Scenario

__all__ = [
    "MAX_EVENTS_PER_REPLICATION",
    "WorkLimitExceeded",
    "estimate_events",
    "event_limit",
    "expected_referrals",
    "run_bounded",
]

MAX_EVENTS_PER_REPLICATION = 50_000_000
"""Events one replication may be estimated to need (minutes of one core)."""
_SLACK = 20.0
"""A running replication may use this many times its estimate before it is stopped."""


class WorkLimitExceeded(RuntimeError):
    """A replication scheduled far more events than its scenario was estimated to need."""


def expected_referrals(scenario: Scenario) -> float:
    """Expected referrals over the horizon (an upper bound with growth and seasonality)."""
    arrivals = scenario.cases.arrivals
    years = scenario.horizon_days / 365.0
    growth = arrivals.growth_per_year
    if growth == 0:
        factor = years
    else:
        log_growth = math.log1p(growth)
        exponent = min(years * log_growth, 700.0)  # beyond this the count is absurd anyway
        factor = math.expm1(exponent) / log_growth
    amplitude = arrivals.seasonality.amplitude if arrivals.seasonality is not None else 0.0
    return arrivals.rate_per_year * factor * (1.0 + amplitude)


def estimate_events(scenario: Scenario) -> float:
    """Expected SimPy events of one replication (order of magnitude, erring high)."""
    team = scenario.team
    block = team.working_day_hours
    per_case = 2.0
    for stage in scenario.cases.stages:
        if stage.is_team and stage.effort_hours is not None:
            per_case += 2.0 * (math.ceil(_mean_effort(stage.effort_hours) / block) + 1)
        else:
            per_case += 2.0
    detectives = sum(g.count for g in team.detectives)
    years = scenario.horizon_days / 365.0
    leave = scenario.leave
    episodes = 0.0
    if leave is not None:
        episodes = leave.annual_blocks + sum(
            spec.episodes_per_year
            for spec in (leave.short_sickness, leave.long_leave)
            if spec is not None
        )
    periodic = scenario.horizon_days / scenario.outputs.backlog_every_days
    for cadence in _cadences(scenario):
        periodic += (detectives + 1) * scenario.horizon_days / cadence
    return (
        expected_referrals(scenario) * per_case
        + detectives * years * episodes * 4.0
        + periodic
        + 1000.0
    )


def _mean_effort(effort: object) -> float:
    """Mean hours of an effort spec (per grade: the largest mean)."""
    if isinstance(effort, dict):
        return max((_mean_effort(v) for v in effort.values()), default=0.0)
    mean = getattr(effort, "mean", None)
    value = mean() if callable(mean) else mean
    return float(value) if isinstance(value, int | float) else 0.0


def _cadences(scenario: Scenario) -> list[float]:
    """Days between the periodic events of supervision and wellbeing that are switched on."""
    out: list[float] = []
    policies = scenario.policies
    review: dict[str, Any] = dict(policies.workload_review)
    review_every = review.get("every_days")
    if isinstance(review_every, int | float) and review_every > 0:
        out.append(float(review_every))
    if policies.inspector_oversight is not None:
        out.append(policies.inspector_oversight.audit_every_days)
    if policies.wellbeing is not None:
        spec: dict[str, Any] = dict(policies.wellbeing)
        for key in ("every_days", "supervision_every_days", "mentoring_every_days"):
            value = spec.get(key)
            if isinstance(value, int | float) and value > 0:
                out.append(float(value))
        out.append(float(spec.get("update_every_days", 7.0) or 7.0))
    return out


def event_limit(scenario: Scenario) -> int:
    """Events after which a running replication is stopped."""
    return int(max(_SLACK * estimate_events(scenario), 1_000_000))


def run_bounded(env: simpy.Environment, until: float, limit: int, what: str) -> None:
    """``env.run(until=until)``, but stop with :class:`WorkLimitExceeded` after ``limit`` events.

    The stop at ``until`` is scheduled exactly as :meth:`simpy.Environment.run` schedules it
    (an urgent event, before every regular event of that instant), so results are identical;
    events are counted in slices of 10,000 so that the bound costs nothing per event.
    """
    if until <= env.now:
        raise ValueError(f"until ({until}) must be greater than the current simulation time")
    stop = Event(env)
    stop._ok = True
    stop._value = None
    env.schedule(stop, URGENT, until - env.now)
    stop.callbacks.append(StopSimulation.callback)
    # Environment.step() of SimPy 4, inline: one call less per event. The stop event above is
    # always in the queue until it ends the loop, so the queue never runs dry here.
    queue = env._queue
    pop = heapq.heappop
    steps = 0
    try:
        while True:
            for _ in range(10_000):
                env._now, _, _, event = pop(queue)
                callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
                for callback in callbacks:
                    callback(event)
                if not event._ok and not hasattr(event, "_defused"):
                    # a failed event nobody handled: raise a copy, as Environment.step does
                    exc = type(event._value)(*event._value.args)
                    exc.__cause__ = event._value
                    raise exc
            steps += 10_000
            if steps > limit:
                raise WorkLimitExceeded(
                    f"{what}: stopped after {limit:,} events at day {env.now:.4g} of {until:g},"
                    " far more work than the scenario was estimated to need; check block_hours,"
                    " rates and update intervals"
                )
    except StopSimulation:
        return

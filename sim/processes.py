"""The SimPy processes of a replication: referrals arriving, detectives working, leave.

Processes act; they ask :class:`sim.team.TeamState` (and through it the policies) what to do.
Each is a generator function whose docstring says it is a process.
"""

from __future__ import annotations

from collections.abc import Generator as Gen
from typing import Any

import numpy as np
import simpy
from numpy.random import Generator

from sim.distributions import Distribution
from sim.entities import Case, Detective
from sim.team import TeamState

__all__ = [
    "detective_works",
    "referrals_arrive",
    "takes_annual_leave",
    "takes_sick_leave",
]

Process = Gen[simpy.Event, Any, None]


def referrals_arrive(
    env: simpy.Environment,
    team: TeamState,
    arrival_days: np.ndarray,
    make_case: Any,
    cases: list[Case],
) -> Process:
    """Process: referrals arrive at the pre-drawn ``arrival_days`` and are allocated.

    ``make_case(i)`` builds the ``i``-th case from attributes drawn before the run, so that every
    scenario run with the same seed sees the same cases.
    """
    for i, day in enumerate(arrival_days.tolist()):
        yield env.timeout(day - env.now)
        case = make_case(i)
        cases.append(case)
        team.arrive(case)


def detective_works(env: simpy.Environment, team: TeamState, detective: Detective) -> Process:
    """Process: ``detective`` works their caseload one block at a time while present.

    A block is ``team.block_hours`` of work (less if the stage needs less), done at the
    detective's rate; then the work-order rule picks the next case. Leave interrupts a block: the
    hours done so far count, and the detective waits until they are back.
    """
    block_hours = team.block_hours
    while True:
        if detective.absences:
            detective.wake = env.event()
            yield detective.wake
            continue
        case = team.next_case(detective)
        if case is None:
            detective.wake = env.event()
            yield detective.wake
            continue
        rate = detective.rate_hours_per_day * detective.productivity
        hours = case.remaining_hours if case.remaining_hours < block_hours else block_hours
        started = env.now
        team.start_work(detective, case)
        try:
            yield env.timeout(hours / rate)
        except simpy.Interrupt:
            done = (env.now - started) * rate
            hours = done if done < hours else hours
        team.stop_work(detective, case, hours, started)


def takes_annual_leave(
    env: simpy.Environment,
    team: TeamState,
    detective: Detective,
    days_per_year: float,
    blocks: int,
    horizon_days: float,
    rng: Generator,
) -> Process:
    """Process: ``detective`` takes the annual entitlement each year in ``blocks`` episodes.

    The year is cut into ``blocks`` equal segments; each episode starts at a uniform point of its
    segment, so episodes never overlap one another.
    """
    length = days_per_year / blocks
    segment = 365.0 / blocks
    year = 0
    while year * 365.0 < horizon_days:
        offsets = rng.uniform(0.0, segment - length, size=blocks)
        for k in range(blocks):
            start = year * 365.0 + k * segment + float(offsets[k])
            if start > env.now:
                yield env.timeout(start - env.now)
            team.start_absence(detective, "annual")
            yield env.timeout(length)
            team.end_absence(detective, "annual")
        year += 1


def takes_sick_leave(
    env: simpy.Environment,
    team: TeamState,
    detective: Detective,
    kind: str,
    episodes_per_year: float,
    days: Distribution,
    max_multiplier: float,
    rng: Generator,
) -> Process:
    """Process: episodes of sickness or long leave of ``kind`` start as a Poisson process.

    The hazard is the base rate times ``detective.sickness_multiplier`` (wellbeing may raise it),
    drawn by thinning a process at ``max_multiplier`` times the base rate. Every candidate draws
    its acceptance and its length whether accepted or not, so the stream stays in step across
    scenarios whose multipliers differ.
    """
    if episodes_per_year <= 0:
        return
    mean_gap = 365.0 / (episodes_per_year * max_multiplier)
    while True:
        yield env.timeout(rng.exponential(mean_gap))
        accept = rng.random() * max_multiplier < detective.sickness_multiplier
        length = days.draw(rng)
        if accept and length > 0:
            team.start_absence(detective, kind)
            yield env.timeout(length)
            team.end_absence(detective, kind)

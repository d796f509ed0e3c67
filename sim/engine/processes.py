"""The SimPy processes of a replication: leave (and, from other modules, supervision).

Processes act; they ask :class:`sim.engine.team.TeamState` (and through it the policies) what to do.
Each is a generator function whose docstring says it is a process. Referrals and detectives'
blocks of work, the hot paths, are event chains inside :class:`sim.engine.team.TeamState`.
"""

from __future__ import annotations

import simpy
from numpy.random import Generator

from sim.domain.distributions import Distribution
from sim.domain.entities import Detective
from sim.engine.team import TeamState
from sim.engine.wakeups import Delays

__all__ = [
    "takes_annual_leave",
    "takes_sick_leave",
]


def takes_annual_leave(
    env: simpy.Environment,
    team: TeamState,
    detective: Detective,
    days_per_year: float,
    blocks: int,
    horizon_days: float,
    rng: Generator,
) -> Delays:
    """Process: ``detective`` takes the annual entitlement each year in ``blocks`` episodes.

    The year is cut into ``blocks`` equal segments; each episode starts at a uniform point of its
    segment, so episodes never overlap one another. Episodes due before the process starts are
    skipped.
    """
    length = days_per_year / blocks
    segment = 365.0 / blocks
    # A replication started from today's state (a forecast) skips the episodes that would have
    # begun before its clock: the ones under way are in its initial state. The draws stay the same.
    first = env.now
    year = 0
    while year * 365.0 < horizon_days:
        offsets = rng.uniform(0.0, segment - length, size=blocks)
        for k in range(blocks):
            start = year * 365.0 + k * segment + float(offsets[k])
            if start < first:
                continue
            if start > env.now:
                yield start - env.now
            team.start_absence(detective, "annual")
            yield length
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
) -> Delays:
    """Process: episodes of sickness or long leave of ``kind`` start as a Poisson process.

    The hazard is the base rate times ``detective.sickness_multiplier`` (wellbeing may raise it),
    drawn by thinning a process at ``max_multiplier`` times the base rate. Every candidate draws
    its acceptance and its length whether accepted or not, and candidates follow one clock that
    an episode does not reset (those falling within an episode of this kind are dropped, which by
    the memorylessness of the exponential gaps leaves the law unchanged): so the candidate times
    stay the same across scenarios whose multipliers differ (common random numbers).
    """
    if episodes_per_year <= 0:
        return
    mean_gap = 365.0 / (episodes_per_year * max_multiplier)
    candidate = 0.0
    while True:
        candidate += rng.exponential(mean_gap)
        u = rng.random()
        length = days.draw(rng)
        if candidate < env.now:
            continue  # within this detective's own episode: the hazard is paused while absent
        yield candidate - env.now
        if u * max_multiplier < detective.sickness_multiplier and length > 0:
            team.start_absence(detective, kind)
            yield length
            team.end_absence(detective, kind)

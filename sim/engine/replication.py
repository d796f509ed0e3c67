"""One replication wired together: scenario and seed in, plain records out.

Referral times and every case attribute are drawn before the clock starts, from their own named
streams, so that scenarios run with the same seed share them (common random numbers) whatever
their team or policies.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from itertools import repeat

import numpy as np
import simpy

from sim.domain.entities import Case, Detective
from sim.engine.budget import event_limit, run_bounded
from sim.engine.initial import (
    Captured,
    FirstReturns,
    InitialState,
    capture_state,
    initial_outcomes,
    place_initial_state,
)
from sim.engine.processes import takes_annual_leave, takes_sick_leave
from sim.engine.records import ReplicationRecords, build_records, counters_at
from sim.engine.referrals import Referrals, draw_referrals
from sim.engine.roster import WeeklyClock
from sim.engine.streams import Streams
from sim.engine.supervision import Supervision
from sim.engine.team import ExternalUnit, TeamState
from sim.engine.wakeups import Steps
from sim.policies import ALLOCATION, REALLOCATION, WELLBEING, WORK_ORDER, WORKLOAD_REVIEW
from sim.scenario import Scenario
from sim.scenario.plugins import load_plugin

__all__ = ["Referrals", "ReplicationRecords", "draw_referrals", "run_replication"]

LET_GO = True
"""Free each replication's objects by reference counting when it ends (``TeamState.let_go``),
unless the caller has paused the garbage collector."""


def build_detectives(scenario: Scenario) -> list[Detective]:
    """The scenario's detectives, in order, named as :meth:`Team.detective_names` says."""
    names = scenario.team.detective_names()
    groups = [g for g in scenario.team.detectives for _ in range(g.count)]
    team = scenario.team
    out = []
    for i, (name, group) in enumerate(zip(names, groups, strict=True)):
        roster = team.roster_of(group)
        clock = None if roster is None else WeeklyClock(*roster)
        out.append(Detective(i, name, group.name, group.fte, team.hours_per_week, clock))
    return out


def run_replication(
    scenario: Scenario,
    replication: int,
    seed: int | None = None,
    *,
    trace: bool = False,
    trace_detail: bool = False,
    initial: InitialState | None = None,
    capture_at: float | None = None,
) -> ReplicationRecords:
    """Simulate one replication of ``scenario``.

    Args:
        scenario: the validated scenario.
        replication: the replication's index; with ``seed`` it fixes every random stream.
        seed: the root seed (default: the scenario's).
        trace: also record a timeline of work, leave and ownership (slower; for figures).
        trace_detail: with ``trace``, also each stage's end and every episode of leave of every
            kind (for case-event logs).
        initial: start the clock at ``initial.day`` with its open cases and absences instead of
            an empty team (referrals before that day are dropped); ``records.extra["initial"]``
            then holds each initial case's next progress, closing day and longest neglect.
        capture_at: also picture the open cases and absences at this day
            (``records.extra["captured"]``, a :class:`~sim.engine.initial.Captured`).
    """
    # A replication allocates many objects (cases, their per-stage lists, events) and creates few
    # reference cycles that outlive it; the cyclic garbage collector's passes over them cost
    # about half of the run time, so it is paused for the whole replication. At its end the
    # replication lets go of its objects (freed at once, not left for the collector), unless
    # the caller had paused the collector itself: it then decides when memory is reclaimed.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run_replication(
            scenario,
            replication,
            seed,
            trace,
            initial,
            capture_at,
            trace_detail,
            let_go=collecting and LET_GO,
        )
    finally:
        if collecting:
            gc.enable()


def _run_replication(
    scenario: Scenario,
    replication: int,
    seed: int | None,
    trace: bool,
    initial: InitialState | None,
    capture_at: float | None,
    detail: bool = False,
    let_go: bool = False,
) -> ReplicationRecords:
    for module in scenario.plugins:
        load_plugin(module)
    root_seed = scenario.seed if seed is None else seed
    streams = Streams(root_seed, replication)
    referrals = draw_referrals(scenario, streams)
    start_day = 0.0 if initial is None else initial.day
    env = simpy.Environment(initial_time=start_day)
    detectives = build_detectives(scenario)
    policies = scenario.policies
    stages = scenario.cases.stages
    team = TeamState(
        env,
        detectives,
        allocation=ALLOCATION.build(policies.allocation),
        work_order=WORK_ORDER.build(policies.work_order),
        reallocation=REALLOCATION.build(policies.on_long_leave),
        stage_is_team=[s.is_team for s in stages],
        enforcement_stage=scenario.cases.enforcement_stage,
        block_hours=scenario.team.working_day_hours,
        rng=streams["policy.allocation"],
        trace=[] if trace else None,
    )
    team.detail = trace and detail
    returns = None if initial is None else FirstReturns(env, team.external_done)
    for s, stage in enumerate(stages):
        if stage.external is not None:
            team.units[s] = ExternalUnit(
                env,
                s,
                stage.external.capacity,
                stage.external.order == "grade",
                team.external_done if returns is None else returns,
            )

    arrival = referrals.arrival_day
    grade = referrals.grade.tolist()
    devices = referrals.devices.tolist()

    first = 0
    placed: list[Case] = []
    if initial is not None:
        # Referrals before the clock's start are the past: the initial state stands for them.
        first = int(np.searchsorted(arrival, start_day, side="left"))
        # The wellbeing policy is pure: this instance only turns the initial strain into effects.
        effects = (
            WELLBEING.build(policies.wellbeing).effects if policies.wellbeing is not None else None
        )
        placed = place_initial_state(team, initial, effects)

    arrival_days = arrival.tolist()  # the same floats as float(arrival[j]), read faster

    new_referral = map(
        Case,
        range(first, len(arrival_days)),
        arrival_days[first:],
        grade[first:],
        _rows(referrals.efforts[first:]),
        _rows(referrals.external_days[first:]),
        devices[first:],
    ).__next__
    team.start(arrival_days[first:], new_referral)
    wellbeing = WELLBEING.build(policies.wellbeing) if policies.wellbeing is not None else None
    sickness_max = wellbeing.max_sickness_multiplier if wellbeing is not None else 1.0
    routes: dict[str, float] = wellbeing.cadences() if wellbeing is not None else {}
    _start_leave(env, team, scenario, detectives, streams, sickness_max)
    supervision = Supervision(
        env,
        team,
        review=WORKLOAD_REVIEW.build(policies.workload_review),
        sergeants=scenario.team.supervisors,
        inspector=policies.inspector_oversight,
        hr=policies.hr_support,
        wellbeing=wellbeing,
        hours_per_week=scenario.team.hours_per_week,
        warmup_days=scenario.warmup_days,
        rngs={
            "review": streams["policy.workload_review"],
            "inspector": streams["policy.inspector_oversight"],
            **{f"route.{route}": streams[f"wellbeing.{route}"] for route in routes},
        },
    )
    if initial is not None:
        supervision.adopt_action_plans(
            [c for c, item in zip(placed, initial.cases, strict=True) if item.action_plan]
        )
    supervision.start()

    warmup = scenario.warmup_days
    snapshot: dict[int, tuple[float, float, float]] = {}
    captured: Captured | None = None
    limit = event_limit(scenario)
    what = f"replication {replication}"
    stops = sorted({warmup, capture_at if capture_at is not None else warmup})
    for stop in stops:
        if start_day < stop < scenario.horizon_days:
            run_bounded(env, stop, limit, what)
        if stop == warmup and warmup > start_day:
            snapshot = counters_at(detectives, warmup)
        if stop == capture_at and start_day <= stop <= scenario.horizon_days:
            captured = capture_state(
                min(env.now, stop), team.cases, detectives, team.stage_is_team, team.units
            )
    run_bounded(env, scenario.horizon_days, limit, what)
    records = build_records(
        scenario, replication, team.cases, detectives, snapshot, team, start_day=start_day
    )
    records.extra["metrics"] = supervision.metrics()
    if initial is not None:
        records.extra["initial"] = initial_outcomes(placed, returns)
    if captured is not None:
        records.extra["captured"] = captured
    if let_go:
        team.let_go()
    return records


def _start_leave(
    env: simpy.Environment,
    team: TeamState,
    scenario: Scenario,
    detectives: list[Detective],
    streams: Streams,
    sickness_max: float = 1.0,
) -> None:
    """Start the leave processes; ``sickness_max`` bounds the wellbeing sickness multiplier."""
    leave = scenario.leave
    if leave is None:
        return
    for d in detectives:
        if leave.annual_days > 0:
            Steps(
                env,
                takes_annual_leave(
                    env,
                    team,
                    d,
                    leave.annual_days,
                    leave.annual_blocks,
                    scenario.horizon_days,
                    streams[f"leave.annual.{d.name}"],
                ),
                team.later,
            )
        for kind, spec in (("short", leave.short_sickness), ("long", leave.long_leave)):
            if spec is not None and spec.episodes_per_year > 0:
                Steps(
                    env,
                    takes_sick_leave(
                        env,
                        team,
                        d,
                        kind,
                        spec.episodes_per_year,
                        spec.days,
                        sickness_max,
                        streams[f"leave.{kind}.{d.name}"],
                    ),
                    team.later,
                )


def _rows(values: np.ndarray) -> Iterator[tuple[float, ...]]:
    """Each row of ``values`` as a tuple of floats, made when the case that holds it is; a table
    of zeros (no stage of that kind) gives one tuple, shared."""
    if not values.any():
        return repeat((0.0,) * values.shape[1])
    return zip(*values.T.tolist(), strict=True)

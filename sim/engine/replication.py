"""One replication wired together: scenario and seed in, plain records out.

Referral times and every case attribute are drawn before the clock starts, from their own named
streams, so that scenarios run with the same seed share them (common random numbers) whatever
their team or policies.
"""

from __future__ import annotations

import gc
import importlib

import simpy

from sim.domain.entities import Case, Detective
from sim.engine.processes import takes_annual_leave, takes_sick_leave
from sim.engine.records import ReplicationRecords, build_records, counters_at
from sim.engine.referrals import Referrals, draw_referrals
from sim.engine.roster import WeeklyClock
from sim.engine.streams import Streams
from sim.engine.supervision import Supervision
from sim.engine.team import ExternalUnit, TeamState
from sim.policies import ALLOCATION, REALLOCATION, WELLBEING, WORK_ORDER, WORKLOAD_REVIEW
from sim.scenario import Scenario

__all__ = ["Referrals", "ReplicationRecords", "draw_referrals", "run_replication"]


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
) -> ReplicationRecords:
    """Simulate one replication of ``scenario``.

    Args:
        scenario: the validated scenario.
        replication: the replication's index; with ``seed`` it fixes every random stream.
        seed: the root seed (default: the scenario's).
        trace: also record a timeline of work, leave and ownership (slower; for figures).
        trace_detail: with ``trace``, also each stage's end and every episode of leave of every
            kind (for case-event logs).
    """
    # A replication allocates many objects (cases, their per-stage lists, events) and creates few
    # reference cycles that outlive it; the cyclic garbage collector's passes over them cost
    # about half of the run time, so it is paused for the whole replication.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run_replication(scenario, replication, seed, trace, trace_detail)
    finally:
        if collecting:
            gc.enable()


def _run_replication(
    scenario: Scenario, replication: int, seed: int | None, trace: bool, detail: bool = False
) -> ReplicationRecords:
    for module in scenario.plugins:
        importlib.import_module(module)
    root_seed = scenario.seed if seed is None else seed
    streams = Streams(root_seed, replication)
    referrals = draw_referrals(scenario, streams)
    env = simpy.Environment()
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
    for s, stage in enumerate(stages):
        if stage.external is not None:
            team.units[s] = ExternalUnit(
                env, s, stage.external.capacity, stage.external.order == "grade", team.external_done
            )

    arrival = referrals.arrival_day
    grade = referrals.grade.tolist()
    efforts = referrals.efforts.tolist()
    external_days = referrals.external_days.tolist()
    devices = referrals.devices.tolist()

    def make_case(i: int) -> Case:
        return Case(i, float(arrival[i]), grade[i], efforts[i], external_days[i], devices[i])

    team.start(arrival.tolist(), make_case)
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
    supervision.start()

    warmup = scenario.warmup_days
    snapshot: dict[int, tuple[float, float, float]] = {}
    if warmup > 0:
        env.run(until=warmup)
        snapshot = counters_at(detectives, warmup)
    env.run(until=scenario.horizon_days)
    records = build_records(scenario, replication, team.cases, detectives, snapshot, team)
    records.extra["metrics"] = supervision.metrics()
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
            env.process(
                takes_annual_leave(
                    env,
                    team,
                    d,
                    leave.annual_days,
                    leave.annual_blocks,
                    scenario.horizon_days,
                    streams[f"leave.annual.{d.name}"],
                )
            )
        for kind, spec in (("short", leave.short_sickness), ("long", leave.long_leave)):
            if spec is not None and spec.episodes_per_year > 0:
                env.process(
                    takes_sick_leave(
                        env,
                        team,
                        d,
                        kind,
                        spec.episodes_per_year,
                        spec.days,
                        sickness_max,
                        streams[f"leave.{kind}.{d.name}"],
                    )
                )

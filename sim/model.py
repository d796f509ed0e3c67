"""One replication wired together: scenario and seed in, plain records out.

Referral times and every case attribute are drawn before the clock starts, from their own named
streams, so that scenarios run with the same seed share them (common random numbers) whatever
their team or policies.
"""

from __future__ import annotations

import gc
import importlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from sim.entities import Case, Detective, Grade
from sim.policies import ALLOCATION, REALLOCATION, WELLBEING, WORK_ORDER, WORKLOAD_REVIEW
from sim.processes import takes_annual_leave, takes_sick_leave
from sim.roster import WeeklyClock
from sim.scenario import GRADE_NAMES, Arrivals, Scenario
from sim.streams import Streams
from sim.supervision import Supervision
from sim.team import ExternalUnit, TeamState

__all__ = ["Referrals", "ReplicationRecords", "draw_referrals", "run_replication"]

FloatArray = np.ndarray


@dataclass(frozen=True)
class Referrals:
    """Every referral of a replication, drawn before the run (arrays indexed by case)."""

    arrival_day: FloatArray
    grade: np.ndarray
    efforts: FloatArray  # (cases, stages) hours; 0 for external stages
    external_days: FloatArray  # (cases, stages) days; 0 for team stages
    devices: FloatArray

    def __len__(self) -> int:
        return len(self.arrival_day)


def _arrival_days(arrivals: Arrivals, horizon_days: float, rng: np.random.Generator) -> FloatArray:
    """Poisson arrival times on [0, horizon) by inverting the cumulative intensity.

    A homogeneous process is exact; with growth or seasonality the cumulative intensity is
    integrated on a 0.05-day grid and inverted by interpolation. A unit-rate process is mapped
    through it, so a higher rate yields a superset-like, tightly coupled sequence.
    """
    homogeneous = arrivals.growth_per_year == 0 and (
        arrivals.seasonality is None or arrivals.seasonality.amplitude == 0
    )
    if homogeneous:
        total = arrivals.rate_per_year / 365.0 * horizon_days
    else:
        grid = np.linspace(0.0, horizon_days, int(horizon_days / 0.05) + 2)
        rate = arrivals.rate_per_day(grid)
        cumulative = np.concatenate(([0.0], np.cumsum((rate[1:] + rate[:-1]) / 2 * np.diff(grid))))
        total = float(cumulative[-1])
    expected = int(total + 10.0 * np.sqrt(total) + 20)
    points = np.cumsum(rng.exponential(1.0, size=expected))
    while points[-1] < total:
        more = np.cumsum(rng.exponential(1.0, size=expected)) + points[-1]
        points = np.concatenate((points, more))
    points = points[points < total]
    if homogeneous:
        return points / (arrivals.rate_per_year / 365.0)
    return np.interp(points, cumulative, grid)


def draw_referrals(scenario: Scenario, streams: Streams) -> Referrals:
    """Draw every referral's arrival and attributes from the named streams.

    Grades, efforts, external durations and device counts are drawn by inversion of common
    uniforms, one stream each, so that scenarios that differ in a distribution's parameters still
    get monotonically coupled attributes.
    """
    cases = scenario.cases
    arrival_day = _arrival_days(cases.arrivals, scenario.horizon_days, streams["arrivals"])
    n = len(arrival_day)
    shares = np.array([cases.share(g) for g in GRADE_NAMES])
    cumulative = np.cumsum(shares) / shares.sum()
    grade = np.minimum(
        np.searchsorted(cumulative, streams["cases.grade"].random(n), side="right"), len(shares) - 1
    ).astype(np.int64)
    n_stages = len(cases.stages)
    efforts = np.zeros((n, n_stages))
    external_days = np.zeros((n, n_stages))
    for s, stage in enumerate(cases.stages):
        if stage.effort_hours is not None:
            u = streams[f"cases.effort.{stage.name}"].random(n)
            if isinstance(stage.effort_hours, dict):
                for g, name in enumerate(GRADE_NAMES):
                    mask = grade == g
                    efforts[mask, s] = stage.effort_hours[name].ppf(u[mask])  # type: ignore[index]
            else:
                efforts[:, s] = stage.effort_hours.ppf(u)
        else:
            assert stage.external is not None
            u = streams[f"cases.external.{stage.name}"].random(n)
            external_days[:, s] = stage.external.days.ppf(u)
    if cases.devices is not None:
        devices = cases.devices.ppf(streams["cases.devices"].random(n))
    else:
        devices = np.zeros(n)
    return Referrals(arrival_day, grade, efforts, external_days, devices)


@dataclass
class ReplicationRecords:
    """What one replication produced, as plain arrays and lists (no pandas).

    ``cases`` holds a column per output field for the cases that arrived after the warm-up;
    ``backlog`` the open cases sampled every ``outputs.backlog_every_days`` over the whole run;
    ``detectives`` one row per detective with the counters measured after the warm-up.
    """

    replication: int
    cases: dict[str, np.ndarray]
    backlog: dict[str, np.ndarray]
    detectives: dict[str, list[Any]]
    trace: list[tuple[Any, ...]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


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
    scenario: Scenario, replication: int, seed: int | None = None, *, trace: bool = False
) -> ReplicationRecords:
    """Simulate one replication of ``scenario``.

    Args:
        scenario: the validated scenario.
        replication: the replication's index; with ``seed`` it fixes every random stream.
        seed: the root seed (default: the scenario's).
        trace: also record a timeline of work, leave and ownership (slower; for figures).
    """
    # A replication allocates many objects (cases, their per-stage lists, events) and creates few
    # reference cycles that outlive it; the cyclic garbage collector's passes over them cost
    # about half of the run time, so it is paused for the whole replication.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run_replication(scenario, replication, seed, trace)
    finally:
        if collecting:
            gc.enable()


def _run_replication(
    scenario: Scenario, replication: int, seed: int | None, trace: bool
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
        snapshot = {
            d.index: (d.hours_worked, _days_absent(d, warmup), _work_days_absent(d, warmup))
            for d in detectives
        }
    env.run(until=scenario.horizon_days)
    records = _records(scenario, replication, team.cases, detectives, snapshot, team)
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


def _days_absent(detective: Detective, now: float) -> float:
    ongoing = 0.0 if detective.absent_since is None else now - detective.absent_since
    return detective.days_absent + ongoing


def _work_days_absent(detective: Detective, now: float) -> float:
    """Days of working time (the roster's working days) lost to absence by ``now``."""
    clock = detective.clock
    if clock is None:
        return _days_absent(detective, now)
    since = detective.absent_since
    ongoing = 0.0 if since is None else clock.work_time(now) - clock.work_time(since)
    return detective.work_days_absent + ongoing


def _work_days(detective: Detective, start: float, end: float) -> float:
    clock = detective.clock
    return end - start if clock is None else clock.work_time(end) - clock.work_time(start)


def _records(
    scenario: Scenario,
    replication: int,
    cases: list[Case],
    detectives: list[Detective],
    snapshot: dict[int, tuple[float, float, float]],
    team: TeamState,
) -> ReplicationRecords:
    horizon = scenario.horizon_days
    warmup = scenario.warmup_days
    for case in cases:
        if case.closed_day is None:
            if case.stalled_since is not None:
                case.longest_gap_days = max(case.longest_gap_days, horizon - case.stalled_since)
            if case.idle_since is not None:
                case.end_wait(horizon)
    nan = float("nan")
    arrival_all = np.array([c.arrival_day for c in cases])
    closed_all = np.array([nan if c.closed_day is None else c.closed_day for c in cases])
    step = scenario.outputs.backlog_every_days
    days = np.arange(0.0, horizon + step / 2, step)
    closed_sorted = np.sort(closed_all[~np.isnan(closed_all)])
    open_cases = np.searchsorted(np.sort(arrival_all), days, side="right") - np.searchsorted(
        closed_sorted, days, side="right"
    )

    kept = [c for c in cases if c.arrival_day >= warmup]
    targets = np.array(
        [
            scenario.cases.grades[g.key].target_days if g.key in scenario.cases.grades else np.inf
            for g in Grade
        ]
    )
    columns: dict[str, np.ndarray] = {
        "case_id": np.array([c.case_id for c in kept], dtype=np.int64),
        "grade": np.array([c.grade for c in kept], dtype=np.int64),
        "arrival_day": np.array([c.arrival_day for c in kept]),
        "first_work_day": np.array(
            [nan if c.first_work_day is None else c.first_work_day for c in kept]
        ),
        "enforcement_day": np.array(
            [nan if c.enforcement_day is None else c.enforcement_day for c in kept]
        ),
        "closed_day": np.array([nan if c.closed_day is None else c.closed_day for c in kept]),
        "longest_gap_days": np.array([c.longest_gap_days for c in kept]),
        "longest_neglect_days": np.array([c.longest_neglect_days for c in kept]),
        "owner_changes": np.array([c.owner_changes for c in kept], dtype=np.int64),
        "inherited": np.array([c.inherited for c in kept], dtype=bool),
        "owner": np.array(
            [c.owner.name if c.owner is not None else "" for c in kept], dtype=object
        ),
        "neglect_holder": np.array([c.neglect_holder for c in kept], dtype=object),
        "worked_hours": np.array([c.worked_hours for c in kept]),
        "devices": np.array([c.devices for c in kept]),
        "target_days": targets[np.array([c.grade for c in kept], dtype=np.int64)]
        if kept
        else np.array([]),
    }
    rows: dict[str, list[Any]] = {
        "detective": [],
        "group": [],
        "fte": [],
        "hours_worked": [],
        "hours_available": [],
        "hours_lost_to_leave": [],
        "days_absent": [],
        "open_cases_at_horizon": [],
        "strain": [],
    }
    for d in detectives:
        worked0, absent0, work_absent0 = snapshot.get(d.index, (0.0, 0.0, 0.0))
        absent = _days_absent(d, horizon) - absent0
        work_absent = _work_days_absent(d, horizon) - work_absent0
        work_window = _work_days(d, warmup, horizon)
        rows["detective"].append(d.name)
        rows["group"].append(d.group)
        rows["fte"].append(d.fte)
        rows["hours_worked"].append(d.hours_worked - worked0)
        rows["hours_available"].append(d.work_rate * (work_window - work_absent))
        rows["hours_lost_to_leave"].append(d.work_rate * work_absent)
        rows["days_absent"].append(absent)
        rows["open_cases_at_horizon"].append(len(d.caseload))
        rows["strain"].append(d.strain)
    return ReplicationRecords(
        replication=replication,
        cases=columns,
        backlog={"day": days, "open_cases": open_cases.astype(np.int64)},
        detectives=rows,
        trace=team.trace,
        extra={"referrals": len(cases), "queue_at_horizon": len(team.queue) + len(team.pool)},
    )

"""The scenario schema: frozen pydantic models that reject unknown keys, units in field names.

Units are in the field names (``horizon_days``, ``effort_hours``, ``rate_per_year``). Reading files,
``extends``, overrides and hashing are in :mod:`sim.scenario.loading`.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    Tag,
    field_validator,
    model_validator,
)

from sim.domain.distributions import Distribution
from sim.domain.entities import Grade
from sim.domain.metrics import known_metrics, requires_wellbeing, unknown_metrics
from sim.domain.names import did_you_mean
from sim.policies import (
    ALLOCATION,
    REALLOCATION,
    WELLBEING,
    WORK_ORDER,
    WORKLOAD_REVIEW,
    Registry,
)
from sim.scenario.plugins import is_plugin_file, load_plugin

__all__ = [
    "GRADE_NAMES",
    "Arrivals",
    "HrSupport",
    "InspectorOversight",
    "Scenario",
    "ScenarioError",
    "Sergeants",
]

GRADE_NAMES: tuple[str, ...] = tuple(g.key for g in Grade)
GradeName = Literal["very_high", "high", "medium", "low"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _distinct_weekdays(days: list[str]) -> list[str]:
    if len(set(days)) != len(days):
        raise ValueError("a weekday is listed twice")
    return days


Weekdays = Annotated[list[Weekday], Field(min_length=1), AfterValidator(_distinct_weekdays)]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$", max_length=64)]


class ScenarioError(Exception):
    """A scenario that cannot be read or is invalid; one line per problem in ``problems``."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


class _Model(BaseModel):
    # allow_inf_nan=False: an infinite horizon or rate would make a run never end.
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False, strict=True
    )


# --- policies ------------------------------------------------------------------------------------


def _locate_policy_problem(registry: Registry[Any], spec: Mapping[str, Any], message: str) -> str:
    """Start a policy's problem with the key it concerns (``rule``, a parameter), if known.

    ``validate_mapping`` then reports it at ``policies.<kind>.<key>`` rather than at the policy.
    """
    name = spec.get("rule", registry.default)
    if name not in registry.names():
        return f"rule: {message}"
    unknown = sorted(set(spec) - {"rule"} - set(registry.parameters(name)))
    if unknown:
        return f"{unknown[0]}: {message}"
    prefix = f"{registry.kind} rule {name!r}: "
    match = re.match(r"^(\w+): (.*)$", message.removeprefix(prefix))
    if message.startswith(prefix) and match and match.group(1) in spec:
        return f"{match.group(1)}: {match.group(2)}"
    return message


def _policy_field(registry: Registry[Any]) -> Any:
    """A field holding ``{rule: name, **params}``, checked against ``registry`` when validated."""

    def check(spec: dict[str, Any]) -> dict[str, Any]:
        name = spec.get("rule", registry.default)
        if name in registry.names():
            # A null parameter the rule does not have is dropped: a child scenario that switches
            # rule can blank a parameter it inherited (``colleague: null`` when moving to spread).
            allowed = registry.parameters(name)
            spec = {k: v for k, v in spec.items() if v is not None or k == "rule" or k in allowed}
        try:
            registry.build(spec)
        except ValueError as error:
            raise ValueError(_locate_policy_problem(registry, spec, str(error))) from None
        out = dict(spec)
        out.setdefault("rule", registry.default)
        return out

    return Annotated[
        dict[str, Any],
        AfterValidator(check),
        Field(json_schema_extra={"x-registry": registry.kind}),
    ]


AllocationSpec = _policy_field(ALLOCATION)
WorkOrderSpec = _policy_field(WORK_ORDER)
ReallocationSpec = _policy_field(REALLOCATION)
WorkloadReviewSpec = _policy_field(WORKLOAD_REVIEW)
WellbeingSpec = _policy_field(WELLBEING)


class InspectorOversight(_Model):
    """An inspector who audits flagged cases and presses sergeants to act."""

    audit_every_days: float = Field(
        91.0,
        ge=1,
        le=36_500,
        description="days between the inspector's audits of flagged and escalated cases",
    )
    act_probability: float = Field(
        0.8, ge=0, le=1, description="chance the inspector directs a reallocation at an audit"
    )
    act_probability_boost: float = Field(
        0.3, ge=0, le=1, description="chance that oversight gets a reluctant sergeant to act"
    )
    days_to_act_factor: float = Field(
        0.5, gt=0, le=1, description="multiplies the sergeant's days_to_act (faster action)"
    )
    days_to_act: NonNegativeFloat = Field(
        7.0, description="days from an inspector's decision to the reallocation"
    )


class HrSupport(_Model):
    """HR's part in performance management: quicker, likelier action plans."""

    act_probability_boost: float = Field(
        0.2, ge=0, le=1, description="chance that HR's help gets a reluctant sergeant to act"
    )
    days_to_act_factor: float = Field(
        0.25, gt=0, le=1, description="multiplies the sergeant's days_to_act"
    )


class Policies(_Model):
    """The named, pluggable rules. Each is ``{rule: name, param: value, ...}``."""

    allocation: AllocationSpec = Field(  # type: ignore[valid-type]
        default_factory=lambda: {"rule": "least_loaded_fte"},
        description="who gets a new referral: least_loaded_fte | round_robin | fixed_owner | "
        "team_queue (with max_cases_per_detective)",
    )
    work_order: WorkOrderSpec = Field(  # type: ignore[valid-type]
        default_factory=lambda: {"rule": "grade_then_oldest"},
        description="which case a detective works next: grade_then_oldest | oldest_first",
    )
    on_long_leave: ReallocationSpec = Field(  # type: ignore[valid-type]
        default_factory=lambda: {"rule": "keep", "after_days": 28.0},
        description="what happens to an absent detective's cases after after_days: "
        "keep | single_colleague | spread | sergeant_pool",
    )
    workload_review: WorkloadReviewSpec = Field(  # type: ignore[valid-type]
        default_factory=lambda: {"rule": "gap_threshold"},
        description="the sergeant's workload reviews: every_days (null: none), "
        "gap_threshold_days, act_probability, action (reallocate | action_plan | escalate), "
        "days_to_act",
    )
    inspector_oversight: InspectorOversight | None = Field(
        None, description="an inspector's audits of flagged cases (null: inspectors not involved)"
    )
    hr_support: HrSupport | None = Field(
        None, description="HR support for the sergeant's action plans (null: none)"
    )
    wellbeing: WellbeingSpec | None = Field(  # type: ignore[valid-type]
        None,
        description="strain, its effects, and detection routes: screening "
        "(self_assessment | psychological | none), every_days, supervision_every_days, "
        "mentoring_every_days, ... (null: strain not modelled)",
    )


# --- team ----------------------------------------------------------------------------------------


class DetectiveGroup(_Model):
    """``count`` detectives with the same FTE, named ``name_1`` … (or ``name`` when one)."""

    name: Identifier
    count: PositiveInt = Field(1, le=1000, description="detectives in the group")
    fte: float = Field(gt=0, le=1, description="1.0 full time, 0.5 half time")
    working_days: Weekdays | None = Field(
        None,
        description="this group's working days, e.g. [mon, tue, wed] (default: the team's roster)",
    )


class Roster(_Model):
    """The days of the week detectives work; their weekly hours are spread over those days."""

    working_days: Weekdays = Field(
        description="the weekdays worked, e.g. [mon, tue, wed, thu, fri]"
    )
    day_0_weekday: Weekday = Field("mon", description="the weekday of simulation day 0")


class Sergeants(_Model):
    """The team's sergeants and the time they give to workload reviews."""

    count: int = Field(1, ge=0, le=1000, description="detective sergeants")
    review_hours_per_week: PositiveFloat | None = Field(
        3.7, description="hours a week each sergeant gives to workload reviews (null: unlimited)"
    )
    span_of_control: PositiveInt | None = Field(
        10, description="detectives one sergeant can review at one review (null: unlimited)"
    )
    hours_per_detective: NonNegativeFloat = Field(
        0.25, description="sergeant hours to review one detective's caseload, besides its cases"
    )
    hours_per_case: NonNegativeFloat = Field(
        0.05, description="sergeant hours to review one open case"
    )


MAX_DETECTIVES = 10_000  # most detectives a team may have, over all its groups


class Team(_Model):
    hours_per_week: float = Field(
        37.0, gt=0, le=168, description="contracted hours of a 1.0 FTE (at most 168)"
    )
    block_hours: Annotated[float, Field(ge=0.1, le=1000)] | None = Field(
        None,
        description="hours worked on a case before choosing again (default a working day;"
        " at least 0.1)",
    )
    detectives: list[DetectiveGroup] = Field(min_length=1)
    roster: Roster | None = Field(
        None,
        description="the days of the week detectives work (null: every day alike, hours spread "
        "evenly over the week)",
    )
    sergeants: Annotated[int, Field(ge=0)] | Sergeants = Field(
        1, description="number of sergeants, or a mapping with their review time and span"
    )

    @model_validator(mode="after")
    def _unique_names(self) -> Team:
        total = sum(g.count for g in self.detectives)
        if total > MAX_DETECTIVES:
            raise ValueError(
                f"detectives: {total} detectives in all; a team may have at most {MAX_DETECTIVES}"
            )
        names = self.detective_names()
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise ValueError(f"detectives: two detectives are called {name!r}")
            seen.add(name)
        return self

    @property
    def supervisors(self) -> Sergeants:
        """The sergeants as a :class:`Sergeants` mapping, whichever way the file gave them."""
        if isinstance(self.sergeants, Sergeants):
            return self.sergeants
        return Sergeants(count=self.sergeants)

    @property
    def working_day_hours(self) -> float:
        """Hours in one block of work (hours)."""
        return self.block_hours if self.block_hours is not None else self.hours_per_week / 5.0

    def roster_of(self, group: DetectiveGroup) -> tuple[list[str], str] | None:
        """A group's working days and the weekday of day 0, or None when it works every day."""
        days = group.working_days
        if days is None and self.roster is not None:
            days = self.roster.working_days
        if days is None:
            return None
        return list(days), self.roster.day_0_weekday if self.roster is not None else "mon"

    def detective_names(self) -> list[str]:
        """Every detective's name, in scenario order."""
        return [
            g.name if g.count == 1 else f"{g.name}_{i + 1}"
            for g in self.detectives
            for i in range(g.count)
        ]


# --- cases ---------------------------------------------------------------------------------------


class Seasonality(_Model):
    amplitude: float = Field(0.0, ge=0, lt=1, description="relative swing of the rate")
    peak_day: float = Field(0.0, ge=0, lt=365, description="day of the year the rate peaks")


class Arrivals(_Model):
    rate_per_year: float = Field(
        gt=0, le=1_000_000, description="referrals per year at day 0 (at most a million)"
    )
    # Above +100% a year is read as a percentage written by mistake (14 for 0.14): over a
    # ten-year horizon it would multiply the rate by more than a thousand.
    growth_per_year: float = Field(
        0.0, gt=-1, le=1, description="compound growth per year, a fraction: 0.1 = +10%"
    )
    seasonality: Seasonality | None = None

    def rate_per_day(self, day: Any) -> Any:
        """The arrival intensity at ``day`` (referrals per day); works on numpy arrays."""
        import numpy as np

        rate = (
            self.rate_per_year / 365.0 * (1.0 + self.growth_per_year) ** (np.asarray(day) / 365.0)
        )
        if self.seasonality is not None and self.seasonality.amplitude > 0:
            phase = 2.0 * math.pi * (np.asarray(day) - self.seasonality.peak_day) / 365.0
            rate = rate * (1.0 + self.seasonality.amplitude * np.cos(phase))
        return rate


class GradeSpec(_Model):
    share: float = Field(ge=0, le=1, description="share of referrals with this grade")
    target_days: float = Field(
        gt=0, le=36_500, description="target time to enforcement action (days)"
    )


def _effort_tag(value: Any) -> str:
    if isinstance(value, Mapping) and "dist" in value:
        return "dist"
    if hasattr(value, "ppf"):
        return "dist"
    return "per_grade"


EffortSpec = Annotated[
    Annotated[Distribution, Tag("dist")]
    | Annotated[dict[GradeName, Distribution], Tag("per_grade")],
    Discriminator(_effort_tag),
]


class External(_Model):
    """Work done by another unit (digital forensics, the CPS): the case is parked meanwhile."""

    days: Distribution = Field(description="time the unit spends on the case (days)")
    capacity: Annotated[int, Field(gt=0, le=1_000_000)] | None = Field(
        None, description="cases the unit handles at once; null for a pure delay"
    )
    order: Literal["fifo", "grade"] = Field("fifo", description="queue order at the unit")


class Stage(_Model):
    name: Identifier
    effort_hours: EffortSpec | None = Field(
        None, description="detective hours the stage needs; one distribution or one per grade"
    )
    external: External | None = None
    enforcement: bool = Field(
        False, description="finishing this stage is the enforcement action (default: stage 1)"
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Stage:
        if (self.effort_hours is None) == (self.external is None):
            raise ValueError("a stage needs exactly one of effort_hours (team) or external")
        if isinstance(self.effort_hours, dict):
            missing = [g for g in GRADE_NAMES if g not in self.effort_hours]
            if missing:
                raise ValueError(f"effort_hours: per grade lacks {', '.join(missing)}")
        return self

    @property
    def is_team(self) -> bool:
        return self.effort_hours is not None


class Cases(_Model):
    arrivals: Arrivals
    grades: dict[GradeName, GradeSpec]
    stages: list[Stage] = Field(min_length=1)
    devices: Distribution | None = Field(None, description="devices seized per case")

    @model_validator(mode="after")
    def _consistent(self) -> Cases:
        total = sum(g.share for g in self.grades.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"grades: shares sum to {total:g}, not 1")
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ValueError("stages: stage names must be unique")
        if sum(s.enforcement for s in self.stages) > 1:
            raise ValueError("stages: at most one stage can be the enforcement action")
        return self

    def share(self, grade: str) -> float:
        spec = self.grades.get(grade)  # type: ignore[call-overload]
        return 0.0 if spec is None else spec.share

    @property
    def enforcement_stage(self) -> int:
        """Index of the stage whose end is the enforcement action."""
        for i, stage in enumerate(self.stages):
            if stage.enforcement:
                return i
        return 0


# --- leave ---------------------------------------------------------------------------------------


class Episodes(_Model):
    episodes_per_year: float = Field(
        ge=0, le=365, description="episodes per detective per year (at most 365)"
    )
    days: Distribution = Field(description="length of one episode (calendar days)")


class Leave(_Model):
    annual_days: float = Field(0.0, ge=0, lt=180, description="annual leave entitlement (days)")
    annual_blocks: PositiveInt = Field(
        5, le=365, description="episodes the entitlement is taken in"
    )
    short_sickness: Episodes | None = None
    long_leave: Episodes | None = None


class Outputs(_Model):
    backlog_every_days: float = Field(
        7.0, ge=0.01, le=36_500, description="sampling step of the backlog (days, at least 0.01)"
    )


class Threshold(_Model):
    """A bound on a metric's mean across replications (see ``docs/compare.md`` for the rule)."""

    max: float | None = Field(None, description="the metric's mean must stay at or below this")
    min: float | None = Field(None, description="the metric's mean must stay at or above this")

    @model_validator(mode="after")
    def _bounded(self) -> Threshold:
        if self.max is None and self.min is None:
            raise ValueError("give max, min or both")
        if self.max is not None and self.min is not None and self.min > self.max:
            raise ValueError(f"min: {self.min:g} is above max {self.max:g}")
        return self


def _check_expect(expect: dict[str, Threshold]) -> dict[str, Threshold]:
    """Every ``expect:`` key must be a per-replication metric."""
    unknown = unknown_metrics(expect)
    if unknown:
        hint = did_you_mean(unknown[0], known_metrics())
        known = ", ".join(known_metrics())
        raise ValueError(f"{unknown[0]}: unknown metric {unknown[0]!r};{hint} known: {known}")
    return expect


MAX_REPLICATIONS = 100_000  # most replications a scenario or --replications may ask for


# --- the scenario --------------------------------------------------------------------------------


class Scenario(_Model):
    """One team, its demand, leave and policies: everything a replication needs."""

    name: Identifier
    title: str = Field(
        "",
        max_length=120,
        description="a short title for reports, e.g. 'Monthly workload reviews' (default: the "
        "name with spaces)",
    )
    description: str = Field(
        "",
        description="what the scenario is and why it may change nothing; shown in reports",
    )
    start_date: datetime.date | None = Field(
        None,
        strict=False,  # read from text (YYYY-MM-DD) too, as --set and JSON give it
        description="the calendar date of day 0 (YYYY-MM-DD); outputs then carry dates too "
        "(null: days only)",
    )
    horizon_days: float = Field(gt=0, le=365_000, description="simulated time (days, ≤ 1000 years)")
    warmup_days: NonNegativeFloat = Field(0.0, description="cases arriving earlier are ignored")
    replications: PositiveInt = Field(30, le=MAX_REPLICATIONS)
    seed: int = Field(20160101, ge=0, lt=2**63)
    plugins: list[str] = Field(
        default_factory=list,
        description="code loaded first, to register policies: a .py file (relative to the"
        " scenario file, loaded from that file alone) or an installed module's name; a scenario"
        " with plugins is code: run only those you trust",
    )
    team: Team
    cases: Cases
    leave: Leave | None = Field(
        None,
        description="annual leave, sickness and long leave; left out (null): no leave at all, "
        "detectives are always present and their cases never wait for a return",
    )
    policies: Policies = Field(
        default_factory=Policies,
        description="the rules; each one left out takes its default (no workload reviews, cases "
        "kept during leave, wellbeing not modelled)",
    )
    outputs: Outputs = Field(default_factory=lambda: Outputs())
    expect: Annotated[dict[str, Threshold], AfterValidator(_check_expect)] = Field(
        default_factory=dict,
        description="thresholds on metrics' means, e.g. any_neglect_over_365: {max: 0.05}; "
        "run and compare exit 1 when one is broken (docs/compare.md)",
    )

    def date_of(self, day: float) -> datetime.date | None:
        """The calendar date of simulation ``day`` (None without a ``start_date``)."""
        if self.start_date is None:
            return None
        return self.start_date + datetime.timedelta(days=math.floor(day))

    def day_of(self, date: datetime.date) -> float:
        """The simulation day a calendar ``date`` starts (needs a ``start_date``)."""
        if self.start_date is None:
            raise ValueError("start_date: needed to turn dates into days")
        return float((date - self.start_date).days)

    @field_validator("plugins")
    @classmethod
    def _import_plugins(cls, plugins: list[str]) -> list[str]:
        # Fields are validated in declaration order, so the plugins' rules are registered before
        # ``policies`` is checked against the registries.
        for module in plugins:
            try:
                load_plugin(module)
            except Exception as error:  # a plugin's own bug must be reported, not a traceback
                reason = f"{type(error).__name__}: {error}"
                what = "file" if is_plugin_file(module) else "module"
                raise ValueError(f"{what} {module!r} cannot be imported ({reason})") from None
        return plugins

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if self.warmup_days >= self.horizon_days:
            raise ValueError(
                f"warmup_days: must be below horizon_days ({self.warmup_days:g} >= "
                f"{self.horizon_days:g})"
            )
        roster = self.team.roster
        if self.start_date is not None and roster is not None:
            weekday = WEEKDAY_NAMES[self.start_date.weekday()]
            if roster.day_0_weekday != weekday:
                raise ValueError(
                    f"team.roster.day_0_weekday: start_date {self.start_date.isoformat()} is a "
                    f"{weekday}, not {roster.day_0_weekday}"
                )
        names = set(self.team.detective_names())
        for key in ("allocation", "on_long_leave"):
            spec = getattr(self.policies, key)
            for field in ("owner", "colleague"):
                named = spec.get(field)
                if named is not None and named not in names:
                    raise ValueError(f"policies.{key}.{field}: no detective called {named!r}")
        review: dict[str, Any] = dict(self.policies.workload_review)
        if review.get("every_days") is not None and self.team.supervisors.count == 0:
            raise ValueError("policies.workload_review.every_days: reviews need a sergeant")
        if self.policies.wellbeing is None:
            for metric in self.expect:
                if requires_wellbeing(metric):
                    raise ValueError(
                        f"expect.{metric}: only measured when policies.wellbeing is set"
                    )
        return self

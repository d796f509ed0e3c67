"""Wellbeing: how strain builds and fades, what it does, and how it is noticed.

Strain is a number in [0, 1] per detective. It grows with overload (hours of team work in hand
against the detective's weekly hours) and with exposure to indecent imagery, and relaxes towards
zero at a recovery rate that counselling raises:

    ds/dt = overload_rate · o + exposure_rate · e − recovery · s

with ``o`` in [0, 1] (0 up to ``manageable_weeks`` of work in hand, 1 at twice that) and ``e`` the
weekly viewing hours over 32 (the most reported, docs/sources.md). Between updates ``o`` and
``e`` are held constant, so each update is the equation's exact solution over the step.

Strain lowers productivity linearly (``1 − productivity_loss · s``) and multiplies the hazard of
short and long sickness (``1 + (max_sickness_multiplier − 1) · s``).

Detection routes each have a cadence and a *disclosure*: the share of a detective's strain the
route sees. A route notices a detective when ``disclosure · s + noise_sd · z ≥ threshold`` with
``z`` standard normal. The self-assessment questionnaire sees 76% (officers declared only 76% of
their symptoms in employer screening, Marshall et al. 2021), a psychological screening all of it,
a sergeant's wellbeing supervision and a mentor in between (assumptions).

A policy decides; :mod:`sim.engine.supervision` runs the update and the routes as processes
and acts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal, Protocol

from pydantic import Field

from sim.policies.base import Registry

__all__ = [
    "EXPOSURE_REFERENCE_HOURS",
    "ROUTES",
    "WELLBEING",
    "StrainModel",
    "WellbeingPolicy",
    "checked_effects",
]

EXPOSURE_REFERENCE_HOURS = 32.0
"""Weekly viewing hours at which exposure counts as 1: the most reported (docs/sources.md, L)."""

ROUTES: tuple[str, ...] = ("self_assessment", "psychological", "supervision", "mentoring")
"""Detection routes, in the order they are run when due at the same instant."""

Unit = Annotated[float, Field(ge=0, le=1)]
NonNegative = Annotated[float, Field(ge=0, le=1e6)]
Positive = Annotated[float, Field(gt=0, le=1e6)]
Cadence = Annotated[float, Field(ge=1, le=36_500)] | None


class WellbeingPolicy(Protocol):
    """Strain dynamics, effects and detection routes."""

    update_every_days: float
    max_sickness_multiplier: float
    support_days: float
    relief: float
    relief_reallocate_share: float

    def overload(self, hours_in_hand: float, weekly_hours: float) -> float:
        """Overload in [0, 1] of a detective with ``hours_in_hand`` of team work."""
        ...

    def exposure(self, fte: float) -> float:
        """Exposure in [0, 1] of a present detective of ``fte``."""
        ...

    def step(
        self, strain: float, overload: float, exposure: float, supported: bool, days: float
    ) -> float:
        """Strain after ``days`` (days) at the given overload and exposure."""
        ...

    def effects(self, strain: float) -> tuple[float, float]:
        """(productivity, sickness multiplier) at ``strain``."""
        ...

    def cadences(self) -> dict[str, float]:
        """Days between checks of each route in force (route name → days)."""
        ...

    def notices(self, route: str, strain: float, z: float) -> bool:
        """Whether ``route`` notices a detective at ``strain``, given a standard normal ``z``."""
        ...


WELLBEING: Registry[WellbeingPolicy] = Registry("wellbeing", default="strain")


@WELLBEING.register("strain")
@dataclass(frozen=True)
class StrainModel:
    """Strain from overload and imagery exposure; four detection routes; support on detection.

    Every default is an assumption unless its docstring line names a source (docs/model.md).

    Args:
        screening: the periodic screening in force: ``self_assessment`` (annual questionnaire),
            ``psychological`` (psychological screening, e.g. Oscar Kilo's) or ``none``.
        every_days: days between screenings.
        supervision_every_days: days between wellbeing conversations in supervision (``None``:
            wellbeing is not a topic of supervision).
        mentoring_every_days: days between mentoring meetings (``None``: no mentoring scheme).
        update_every_days: days between strain updates.
        exposure_hours_per_week: viewing hours a week of a 1.0-FTE detective (docs/sources.md
            reports up to 32; the typical figure is an assumption); scaled by FTE.
        manageable_weeks: weeks of work in hand a detective copes with (overload 0 up to this,
            1 at twice this).
        overload_rate_per_year: strain gained per year at full overload.
        exposure_rate_per_year: strain gained per year at 32 viewing hours a week.
        recovery_per_year: relaxation rate of strain without support (per year).
        counselling_recovery_per_year: extra relaxation rate while supported (per year).
        productivity_loss: productivity lost at strain 1 (share).
        max_sickness_multiplier: sickness hazard multiplier at strain 1.
        threshold: strain a route must see to notice a detective.
        noise_sd: standard deviation of a route's reading.
        self_assessment_disclosure: share of strain a questionnaire sees (0.76: Marshall et al.
            2021, BMC Psychiatry, officers declared 76% of symptoms; M).
        psychological_disclosure, supervision_disclosure, mentoring_disclosure: the same for
            the other routes.
        support_days: days of support after a detection (counselling, lighter caseload).
        relief: share of new referrals withheld from a supported detective (0 none, 1 all).
        relief_reallocate_share: share of a supported detective's cases moved to colleagues at
            detection, longest-neglected first.
    """

    screening: Literal["self_assessment", "psychological", "none"] = "self_assessment"
    every_days: Cadence = 365.0
    supervision_every_days: Cadence = None
    mentoring_every_days: Cadence = None
    update_every_days: Annotated[float, Field(ge=0.1, le=365)] = 7.0
    exposure_hours_per_week: Annotated[float, Field(ge=0, le=EXPOSURE_REFERENCE_HOURS)] = 8.0
    manageable_weeks: Positive = 6.0
    overload_rate_per_year: NonNegative = 1.0
    exposure_rate_per_year: NonNegative = 0.6
    recovery_per_year: Positive = 1.5
    counselling_recovery_per_year: NonNegative = 3.0
    # below 1: at 1 a fully strained detective would never finish a block (rate 0)
    productivity_loss: Annotated[float, Field(ge=0, lt=1)] = 0.4
    max_sickness_multiplier: Annotated[float, Field(ge=1)] = 3.0
    threshold: Unit = 0.5
    noise_sd: NonNegative = 0.1
    self_assessment_disclosure: Unit = 0.76
    psychological_disclosure: Unit = 1.0
    supervision_disclosure: Unit = 0.76
    mentoring_disclosure: Unit = 0.9
    support_days: Positive = 90.0
    relief: Unit = 0.5
    relief_reallocate_share: Unit = 0.0

    def overload(self, hours_in_hand: float, weekly_hours: float) -> float:
        weeks = hours_in_hand / weekly_hours
        return min(1.0, max(0.0, weeks / self.manageable_weeks - 1.0))

    def exposure(self, fte: float) -> float:
        return self.exposure_hours_per_week * fte / EXPOSURE_REFERENCE_HOURS

    def step(
        self, strain: float, overload: float, exposure: float, supported: bool, days: float
    ) -> float:
        rate = self.recovery_per_year + (self.counselling_recovery_per_year if supported else 0.0)
        drive = self.overload_rate_per_year * overload + self.exposure_rate_per_year * exposure
        target = drive / rate
        after = target + (strain - target) * math.exp(-rate * days / 365.0)
        return min(1.0, max(0.0, after))

    def effects(self, strain: float) -> tuple[float, float]:
        return (
            1.0 - self.productivity_loss * strain,
            1.0 + (self.max_sickness_multiplier - 1.0) * strain,
        )

    def cadences(self) -> dict[str, float]:
        out: dict[str, float] = {}
        if self.screening != "none" and self.every_days is not None:
            out[self.screening] = self.every_days
        if self.supervision_every_days is not None:
            out["supervision"] = self.supervision_every_days
        if self.mentoring_every_days is not None:
            out["mentoring"] = self.mentoring_every_days
        return out

    def notices(self, route: str, strain: float, z: float) -> bool:
        disclosure: float = getattr(self, f"{route}_disclosure")
        return disclosure * strain + self.noise_sd * z >= self.threshold


def checked_effects(
    effects: Callable[[float], tuple[float, float]], strain: float
) -> tuple[float, float]:
    """``effects(strain)``, refusing a productivity that is not above 0.

    A detective working at rate 0 never ends a block; the message names the rule that gave it.
    """
    productivity, sickness_multiplier = effects(strain)
    if not productivity > 0.0:
        policy = getattr(effects, "__self__", effects)
        raise ValueError(
            f"wellbeing rule {type(policy).__name__}: effects({strain:g}) gave productivity "
            f"{productivity!r}; it must be above 0 (at 0 a detective never finishes any work)"
        )
    return productivity, sickness_multiplier

"""Referrals drawn before the clock starts: arrival times and every case attribute.

Each from its own named stream, so that scenarios run with the same seed share them (common random
numbers) whatever their team or policies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.engine.streams import Streams
from sim.scenario import GRADE_NAMES, Arrivals, Scenario

__all__ = ["Referrals", "draw_referrals"]

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


_INTENSITY: list[tuple[Arrivals, float, FloatArray, FloatArray]] = []


def _cumulative_intensity(arrivals: Arrivals, horizon_days: float) -> tuple[FloatArray, FloatArray]:
    """The 0.05-day grid on [0, horizon] and the integrated intensity on it (trapezoids).

    It depends on the scenario alone, not on the replication, so the last one computed is kept
    (read-only) for the next replication of the same arrivals and horizon.
    """
    for known, horizon, grid, cumulative in _INTENSITY:
        if horizon == horizon_days and (known is arrivals or known == arrivals):
            return grid, cumulative
    grid = np.linspace(0.0, horizon_days, int(horizon_days / 0.05) + 2)
    rate = arrivals.rate_per_day(grid)
    cumulative = np.concatenate(([0.0], np.cumsum((rate[1:] + rate[:-1]) / 2 * np.diff(grid))))
    grid.flags.writeable = False
    cumulative.flags.writeable = False
    _INTENSITY[:] = [(arrivals, horizon_days, grid, cumulative)]  # arrivals is frozen
    return grid, cumulative


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
        grid, cumulative = _cumulative_intensity(arrivals, horizon_days)
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

"""Effort the log does not record in hours: its scale, by the method of simulated moments.

Every team stage's effort distribution (from the base scenario, or a default) is multiplied by one
scale ``s``. For each ``s`` on a log-spaced grid the fitted scenario is simulated over the log's
period from an empty team, with the same seeds at every ``s`` (common random numbers), and each
simulated run is written as a log and measured by the same estimators as the force's log:

* the mean duration of finished team stages (days from entering the stage to its end);
* the mean backlog at the month ends.

The moments' means over R replications are interpolated in log s (PCHIP; they are smooth in s
under common random numbers). A first estimate weights each moment by its variance pooled over the
grid; at that estimate further independent replications give the moments' covariance Σ, and the
objective is ``J(s) = (m̄(s) − m̂)ᵀ [Σ (1 + 1/R)]⁻¹ (m̄(s) − m̂)`` (Σ is the covariance of one
log's moments, the observed one included; the factor adds the simulation noise of the means).
``ŝ`` minimises J; the 95% interval is ``{s : J(s) − J(ŝ) ≤ χ²₁(0.95)}``, the profile of the
objective.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import interpolate, stats

from sim.analysis.log_stats import backlog_path, month_edges, stage_spells
from sim.experiments.export_log import log_events
from sim.scenario import Scenario, scenario_from_dict
from sim.state.case_log import CaseLog, events_frame

__all__ = ["EffortScaleFit", "calibrate_effort_scale", "log_moments", "scaled"]


@dataclass(frozen=True)
class EffortScaleFit:
    """The fitted scale, its interval, and the objective over the grid (for the report)."""

    scale: float
    ci: tuple[float, float]
    grid: np.ndarray
    objective: np.ndarray
    observed: np.ndarray
    simulated: np.ndarray  # (grid, moments) means
    n: int

    @property
    def at_edge(self) -> bool:
        """Whether the interval reaches the end of the searched range (the truth may be beyond)."""
        return bool(self.ci[0] <= self.grid[0] * 1.001 or self.ci[1] >= self.grid[-1] * 0.999)


def scaled(dist: Any, factor: float) -> Any:
    """A scenario's effort distribution (or per-grade mapping) with every value times ``factor``."""
    if "dist" not in dist:
        return {g: scaled(d, factor) for g, d in dist.items()}
    out = dict(dist)
    for key in ("mean", "sd", "scale", "value", "low", "high", "mode"):
        if key in out:
            out[key] = float(f"{out[key] * factor:.4g}")
    if "values" in out:
        out["values"] = [float(f"{v * factor:.4g}") for v in out["values"]]
    return out


def log_moments(
    events: pd.DataFrame, stages: list[str], team: list[str], end_day: float
) -> np.ndarray:
    """(mean days of a finished team stage, mean backlog at month ends) of a log's events."""
    table = stage_spells(events, stages).table
    rows = table[table["stage"].isin(team) & table["end_day"].notna()]
    duration = float((rows["end_day"] - rows["start_day"]).mean()) if len(rows) else 0.0
    edges = month_edges(end_day)[1:]
    backlog = float(backlog_path(events, edges).mean()) if len(edges) else 0.0
    return np.array([duration, backlog])


def _with_scale(scenario: Scenario, factor: float) -> Scenario:
    data = scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
    for stage in data["cases"]["stages"]:
        if "effort_hours" in stage:
            stage["effort_hours"] = scaled(stage["effort_hours"], factor)
    return scenario_from_dict(data, source="effort scale")


def calibrate_effort_scale(
    scenario: Scenario,
    log: CaseLog,
    *,
    replications: int = 4,
    grid: int = 9,
    covariance_replications: int = 12,
    low: float = 0.25,
    high: float = 4.0,
    progress: Callable[[int], None] | None = None,
) -> EffortScaleFit:
    """Fit the common scale of the team stages' effort to the log (see the module's text)."""
    stages = [s.name for s in scenario.cases.stages]
    team = [s.name for s in scenario.cases.stages if s.is_team]
    observed = log_moments(log.events, stages, team, log.end_day)

    def moments(factor: float, indices: range) -> np.ndarray:
        trial = _with_scale(scenario, factor)
        values = []
        for r in indices:
            events, _absences = log_events(trial, r, scenario.seed)
            frame = events_frame(events, dates_only=log.dates_only)
            values.append(log_moments(frame, stages, team, log.end_day))
            if progress is not None:
                progress(1)
        return np.array(values)

    scales = np.exp(np.linspace(math.log(low), math.log(high), grid))
    runs = [moments(float(f), range(replications)) for f in scales]
    means = np.array([r.mean(axis=0) for r in runs])
    # the moments, not the objective, are smooth in s (common random numbers): interpolate them
    fine = np.linspace(math.log(low), math.log(high), 2001)
    curves = interpolate.PchipInterpolator(np.log(scales), means, axis=0)(fine)
    # step 1: a first estimate, each moment weighted by its variance pooled over the grid
    pooled = np.median([r.var(axis=0, ddof=1) for r in runs], axis=0) if replications > 1 else 1.0
    first = int(np.argmin(np.sum((curves - observed) ** 2 / np.maximum(pooled, 1e-12), axis=1)))
    # step 2: the moments' covariance at that estimate, from further independent replications
    extra = moments(
        float(math.exp(fine[first])), range(replications, replications + covariance_replications)
    )
    covariance = np.atleast_2d(np.cov(extra.T)) * (1.0 + 1.0 / replications)
    covariance += np.eye(len(observed)) * 1e-9 * max(float(np.trace(covariance)), 1e-9)
    weight = np.linalg.inv(covariance)
    gaps = curves - observed
    curve = np.einsum("ij,jk,ik->i", gaps, weight, gaps)
    best = int(np.argmin(curve))
    inside = np.flatnonzero(curve - curve[best] <= stats.chi2.ppf(0.95, 1))
    ci = (float(math.exp(fine[inside.min()])), float(math.exp(fine[inside.max()])))
    grid_gaps = means - observed
    n = int((log.events["activity"] == "stage_end").sum())
    return EffortScaleFit(
        scale=float(math.exp(fine[best])),
        ci=ci,
        grid=scales,
        objective=np.einsum("ij,jk,ik->i", grid_gaps, weight, grid_gaps),
        observed=observed,
        simulated=means,
        n=n,
    )

"""Leave from a log's absences: rates and lengths by kind, ongoing absences right-censored.

Sickness and long leave start as a Poisson process per detective whose clock pauses during an
episode of the same kind (as the engine draws them), so a kind's rate is its episodes over the
detectives' exposure (time on the team outside episodes of that kind), with Garwood's exact 95%
interval; lengths are fitted like any duration (:mod:`sim.analysis.fitting`). Annual leave is days
per detective-year (a t interval across detectives) taken in a number of blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from sim.analysis.fitting import DurationFit, DurationSample, fit_durations

__all__ = ["AnnualFit", "EpisodesFit", "fit_annual", "fit_episodes"]


@dataclass(frozen=True)
class EpisodesFit:
    """A kind of leave: episodes per detective-year (with CI) and the lengths' fit."""

    kind: str
    episodes: int
    exposure_years: float
    rate: float
    rate_ci: tuple[float, float]
    lengths: DurationFit | None
    sample: DurationSample


@dataclass(frozen=True)
class AnnualFit:
    days_per_year: float
    days_ci: tuple[float, float]
    blocks: int
    n: int


def _spells(absences: pd.DataFrame, kind: str, end_day: float) -> tuple[pd.DataFrame, np.ndarray]:
    rows = absences[absences["kind"] == kind]
    ends = rows["end_day"].fillna(end_day).clip(upper=end_day).to_numpy(float)
    return rows, ends


def fit_episodes(
    absences: pd.DataFrame, staff: pd.DataFrame, kind: str, end_day: float
) -> EpisodesFit:
    """Fit one kind of sickness or long leave."""
    rows, ends = _spells(absences, kind, end_day)
    starts = rows["start_day"].clip(lower=0.0).to_numpy(float)
    on_team = (
        staff["end_day"].fillna(end_day).clip(upper=end_day)
        - staff["start_day"].fillna(0.0).clip(lower=0.0)
    ).clip(lower=0.0)
    exposure = float(on_team.sum() - np.sum(ends - starts)) / 365.0
    n = len(rows)
    low = stats.chi2.ppf(0.025, 2 * n) / 2.0 if n else 0.0
    high = stats.chi2.ppf(0.975, 2 * n + 2) / 2.0
    ongoing = rows["end_day"].isna().to_numpy() | (rows["end_day"].to_numpy(float) > end_day)
    lengths = ends - rows["start_day"].to_numpy(float)
    sample = DurationSample(lengths[~ongoing], lengths[ongoing & (lengths > 0)])
    try:
        fit = fit_durations(sample)
    except ValueError:
        fit = None
    return EpisodesFit(
        kind=kind,
        episodes=n,
        exposure_years=exposure,
        rate=n / exposure if exposure > 0 else 0.0,
        rate_ci=(low / exposure, high / exposure) if exposure > 0 else (0.0, 0.0),
        lengths=fit,
        sample=sample,
    )


def fit_annual(absences: pd.DataFrame, staff: pd.DataFrame, end_day: float) -> AnnualFit:
    """Annual leave days per detective-year and the usual number of blocks a year."""
    rows, ends = _spells(absences, "annual", end_day)
    days = pd.Series(ends - rows["start_day"].to_numpy(float), index=rows.index)
    per_detective = days.groupby(rows["detective"]).sum()
    counts = rows.groupby("detective").size()
    years = (
        staff.set_index("detective")["end_day"].fillna(end_day).clip(upper=end_day)
        - staff.set_index("detective")["start_day"].fillna(0.0).clip(lower=0.0)
    ) / 365.0
    rates = per_detective.reindex(years.index, fill_value=0.0) / years
    n = len(rates)
    mean = float(per_detective.sum() / years.sum()) if years.sum() > 0 else 0.0
    if n > 1:
        half = float(stats.t.ppf(0.975, n - 1) * rates.std(ddof=1) / np.sqrt(n))
    else:
        half = float("nan")
    blocks = round(float(counts.sum() / years.sum())) if years.sum() > 0 else 1
    return AnnualFit(mean, (max(mean - half, 0.0), mean + half), max(blocks, 1), len(rows))

"""Is the warm-up long enough? MSER-5 on a run's backlog series.

A run starts with an empty team; steady-state metrics read from it are biased while the backlog
is still filling. MSER-5 (White 1997; Hoad, Robinson & Davies 2010) batches the series in means of
five, and picks the truncation point ``d`` that minimises the marginal standard error of the mean
of what is left, ``MSER(d) = Σ_{i>d} (Y_i − Ȳ_d)² / (n − d)²``, over the first half of the
series (a minimum in the second half means the series never settles: no point is trusted). When
the point it suggests lies beyond ``warmup_days``, the warm-up is probably too short.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["BATCH", "WarmupCheck", "mser5_truncation", "warmup_check"]

BATCH = 5


def mser5_truncation(series: np.ndarray) -> int | None:
    """Index (in samples of ``series``) MSER-5 truncates at; None if the minimum falls in the
    second half of the series (it has not settled) or it is too short to tell."""
    y = np.asarray(series, dtype=float)
    batches = len(y) // BATCH
    if batches < 10:
        return None
    means = y[: batches * BATCH].reshape(batches, BATCH).mean(axis=1)
    # Suffix sums give every d's mean and squared deviations at once.
    rev = means[::-1]
    count = np.arange(1, batches + 1, dtype=float)
    suffix_sum = np.cumsum(rev)[::-1]
    suffix_sq = np.cumsum(rev**2)[::-1]
    left = count[::-1]  # batches from d to the end
    mean = suffix_sum / left
    sse = np.maximum(suffix_sq - left * mean**2, 0.0)
    mser = sse / left**2
    d = int(np.argmin(mser[: batches - 1]))
    if d > batches // 2:
        return None
    return d * BATCH


@dataclass(frozen=True)
class WarmupCheck:
    """The outcome of :func:`warmup_check` for one scenario."""

    warmup_days: float
    truncation_days: float | None
    settled: bool

    @property
    def too_short(self) -> bool:
        """Whether the warm-up should be longer (or the series never settled)."""
        return not self.settled or (
            self.truncation_days is not None and self.truncation_days > self.warmup_days
        )

    def describe(self, name: str) -> str:
        """One line for a planner."""
        if not self.settled:
            return (
                f"warning: {name}: the backlog has not settled over the run (MSER-5 finds no"
                " truncation point in its first half): steady-state metrics are not trustworthy;"
                " lengthen horizon_days or check that the team can keep up"
            )
        return (
            f"warning: {name}: MSER-5 on the backlog suggests a warm-up of about"
            f" {self.truncation_days:.0f} days, longer than warmup_days {self.warmup_days:g}:"
            " steady-state metrics may be biased by the empty start; raise warmup_days"
        )


def warmup_check(backlog: pd.DataFrame, warmup_days: float) -> WarmupCheck | None:
    """MSER-5 on the backlog averaged over replications (columns day, open_cases).

    Returns None when the series is too short to judge (fewer than 50 samples).
    """
    if backlog.empty:
        return None
    mean = backlog.groupby("day", sort=True)["open_cases"].mean()
    days = mean.index.to_numpy(dtype=float)
    cut = mser5_truncation(mean.to_numpy(dtype=float))
    if len(days) < 10 * BATCH:
        return None
    if cut is None:
        return WarmupCheck(warmup_days, None, settled=False)
    return WarmupCheck(warmup_days, float(days[cut]), settled=True)

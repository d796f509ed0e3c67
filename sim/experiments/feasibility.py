"""The statistical tests of ``optimise``: screening a configuration, and confirming the choice.

Screening (sequential, cheap, no guarantee of its own): a configuration's replications are
summarised per constrained metric by the same two-sided interval as every report (Student t for
means, Wilson for the 0/1 ``any_*`` indicators) at the space's confidence. A constraint is *met*
when the whole interval is on the right side of its threshold, *broken* when the whole interval
is beyond it, *open* otherwise; more replications are added while some constraint is open.

Confirmation (what the guarantee rests on): the configuration chosen by screening is run again
on fresh replications (replication indices no earlier step used, so independent of everything
that led to choosing it). The j-th confirmation of a search passes when, for every one of the M
constraints, a one-sided bound at level ``α_j / M`` is on the right side of the threshold, with
``α_j = α / 2^j`` and ``α = 1 − confidence``: an exact Clopper–Pearson bound for a probability
(an ``any_*`` indicator), a Student-t bound for a mean. Its size is fixed before it runs
(:func:`confirmation_size`: larger for probabilities near 0 or 1 and for later confirmations).
If the chosen configuration breaks a constraint, it passes with probability at most ``α_j``
(Bonferroni over the M constraints), so over all confirmations the chance of recommending a
configuration that breaks a constraint is at most ``Σ_j α / 2^j < α``. For means the t bound is
exact for normal replication values and asymptotically exact otherwise (replications are
independent and identically distributed by construction: each has its own seeds).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

from sim.analysis.statistics import is_indicator, mean_ci, proportion_ci

__all__ = [
    "Bound",
    "Verdict",
    "confirm",
    "confirmation_level",
    "confirmation_size",
    "one_sided_bound",
    "screen",
]

Verdict = Literal["met", "broken", "open"]


@dataclass(frozen=True)
class Bound:
    """A constraint: the metric's mean must stay at or below ``max`` / at or above ``min``."""

    metric: str
    side: Literal["max", "min"]
    limit: float

    def holds(self, value: float) -> bool:
        """Whether a (true or estimated) mean meets the constraint."""
        return value <= self.limit if self.side == "max" else value >= self.limit


def bounds_of(constraints: Mapping[str, object]) -> list[Bound]:
    """One :class:`Bound` per side of each ``{metric: Threshold}`` constraint."""
    out: list[Bound] = []
    for metric, threshold in constraints.items():
        for side in ("max", "min"):
            limit = getattr(threshold, side, None)
            if limit is not None:
                out.append(Bound(metric, side, float(limit)))
    return out


def interval(
    metric: str, values: Sequence[float] | np.ndarray, confidence: float
) -> tuple[float, ...]:
    """(mean, low, high) of a metric's replications, as the reports compute it."""
    rule = proportion_ci if is_indicator(metric) else mean_ci
    mean, _sd, low, high, _n = rule(np.asarray(values, dtype=float), confidence)
    return mean, low, high


def screen(
    data: Mapping[str, Sequence[float] | np.ndarray], bounds: Sequence[Bound], confidence: float
) -> tuple[Verdict, list[Verdict]]:
    """Screening verdict of a configuration (overall, and per bound).

    Overall: ``broken`` if some bound is broken, ``met`` if every bound is met, else ``open``.
    """
    verdicts: list[Verdict] = []
    for bound in bounds:
        _mean, low, high = interval(bound.metric, data[bound.metric], confidence)
        sure = high <= bound.limit if bound.side == "max" else low >= bound.limit
        never = low > bound.limit if bound.side == "max" else high < bound.limit
        verdicts.append("met" if sure else "broken" if never else "open")
    if "broken" in verdicts:
        return "broken", verdicts
    return ("met" if all(v == "met" for v in verdicts) else "open"), verdicts


def confirmation_level(alpha: float, attempt: int, constraints: int) -> float:
    """The one-sided error allowed each constraint at the ``attempt``-th confirmation (from 1)."""
    return alpha / 2**attempt / max(1, constraints)


def confirmation_size(bounds: Sequence[Bound], level: float, base: int, cap: int = 20) -> int:
    """Replications a confirmation at ``level`` needs (at least ``base``, at most ``cap × base``).

    A probability near 0 (or 1) cannot be shown to be below (above) its threshold with few
    replications, however good the configuration: 0 events in 80 replications give an exact
    one-sided bound of 0.045 at level 0.025, but 0.053 at level 0.0125. For each ``any_*``
    constraint the size is raised until a configuration whose rate is half-way between 0 and the
    threshold (``max:``; between the threshold and 1 for ``min:``) would pass.
    """
    n = base
    for bound in bounds:
        if not is_indicator(bound.metric):
            continue
        p = bound.limit if bound.side == "max" else 1.0 - bound.limit
        if not 0.0 < p < 1.0:
            continue
        m = base
        while m < cap * base:
            k = math.floor(m * p / 2)
            if float(stats.beta.ppf(1.0 - level, k + 1, m - k)) <= p:
                break
            m = math.ceil(m * 1.1)
        n = max(n, min(m, cap * base))
    return n


def one_sided_bound(
    metric: str, values: Sequence[float] | np.ndarray, side: str, level: float
) -> float:
    """The one-sided bound on a metric's mean that is wrong with probability at most ``level``.

    ``side="max"``: an upper bound (the constraint is "at most"); ``"min"``: a lower bound.
    Indicators get the exact Clopper–Pearson bound; other metrics a Student-t bound.
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    if n == 0:
        return float("inf") if side == "max" else float("-inf")
    if is_indicator(metric):
        k = round(float(x.sum()))
        if side == "max":
            return 1.0 if k == n else float(stats.beta.ppf(1.0 - level, k + 1, n - k))
        return 0.0 if k == 0 else float(stats.beta.ppf(level, k, n - k + 1))
    if n < 2:
        return float("inf") if side == "max" else float("-inf")
    half = float(stats.t.ppf(1.0 - level, n - 1)) * float(x.std(ddof=1)) / np.sqrt(n)
    return float(x.mean()) + half if side == "max" else float(x.mean()) - half


def confirm(
    data: Mapping[str, Sequence[float] | np.ndarray], bounds: Sequence[Bound], level: float
) -> tuple[bool, list[float]]:
    """Whether every bound's one-sided bound at ``level`` is on the right side of its threshold.

    Returns:
        (passed, the bound computed for each constraint)
    """
    found = [one_sided_bound(b.metric, data[b.metric], b.side, level) for b in bounds]
    passed = all(b.holds(v) for b, v in zip(bounds, found, strict=True))
    return passed, found

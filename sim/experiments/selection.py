"""Ranking and selection among configurations of equal cost: the lowest risk, by Kim & Nelson.

When several configurations found feasible share the lowest cost, ``optimise`` chooses the one
with the best mean of the first constraint's metric (the lowest for a ``max:`` bound, the highest
for a ``min:``) by the fully sequential procedure KN of Kim & Nelson ("A fully sequential
procedure for indifference-zone selection in simulation", ACM TOMACS 11, 2001). With ``k``
configurations, first-stage size ``n0``, indifference zone ``δ`` and error ``α``:

- ``η = ½ [(2α / (k − 1))^(−2 / (n0 − 1)) − 1]`` and ``h² = 2η (n0 − 1)``;
- ``S²_il`` is the sample variance of the paired differences ``X_i − X_l`` over the first stage
  (common random numbers make them small, which is what makes KN efficient here);
- after ``r`` replications each, configuration ``i`` is eliminated when its mean is worse than
  some ``l``'s by more than ``W_il(r) = max(0, δ / (2r) (h² S²_il / δ² − r))``.

With probability at least ``1 − α`` the configuration kept is the best, or within ``δ`` of the
best. Replications are added to the survivors in batches (checking the elimination rule at fewer
stages keeps the guarantee; it can only eliminate later). They use their own replication indices
(from :data:`FIRST_INDEX`), apart from screening and confirmation. ``sim-tools`` has a KN class,
but it drives its own model objects one replication at a time and without common random numbers
across a pool of workers, so the procedure is written out here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["FIRST_INDEX", "Selection", "kn_select"]

FIRST_INDEX = 1_000_000
"""The first replication index used by ranking and selection."""

Sample = Callable[[Sequence[Any], int, int], dict[Any, list[float]]]
"""``sample(candidates, start, stop)``: the metric of replications ``start..stop−1`` of each."""


@dataclass(frozen=True)
class Selection:
    """Outcome of :func:`kn_select`.

    Attributes:
        chosen: the configuration kept.
        means: each candidate's mean over its replications.
        replications: replications run (all candidates).
        delta: the indifference zone used.
        truncated: True when ``max_reps`` was reached with several survivors (the best mean is
            then kept, without the guarantee).
    """

    chosen: Any
    means: dict[Any, float]
    replications: int
    delta: float
    truncated: bool


def kn_select(
    candidates: Sequence[Any],
    sample: Sample,
    *,
    minimise: bool,
    delta: float,
    alpha: float,
    n0: int = 10,
    batch: int = 5,
    max_reps: int = 400,
) -> Selection:
    """Select the best of ``candidates`` by KN (module docstring).

    Raises:
        ValueError: ``delta`` not positive, ``n0 < 2`` or no candidate.
    """
    if delta <= 0 or n0 < 2 or not candidates:
        raise ValueError("kn_select needs delta > 0, n0 >= 2 and at least one candidate")
    k = len(candidates)
    if k == 1:
        return Selection(candidates[0], {}, 0, delta, False)
    sign = 1.0 if minimise else -1.0
    data = {c: [sign * v for v in values] for c, values in sample(candidates, 0, n0).items()}
    spent = k * n0
    eta = 0.5 * ((2 * alpha / (k - 1)) ** (-2 / (n0 - 1)) - 1)
    h2 = 2 * eta * (n0 - 1)
    first = {c: np.asarray(data[c][:n0]) for c in candidates}
    s2 = {
        (i, j): float(np.var(first[i] - first[j], ddof=1))
        for i in candidates
        for j in candidates
        if i != j
    }
    alive = list(candidates)
    r = n0
    while True:
        means = {c: float(np.mean(data[c])) for c in alive}
        out = set()
        for i in alive:
            for j in alive:
                if i == j:
                    continue
                w = max(0.0, delta / (2 * r) * (h2 * s2[i, j] / delta**2 - r))
                if means[i] > means[j] + w:
                    out.add(i)
                    break
        alive = [c for c in alive if c not in out]
        if len(alive) == 1 or r >= max_reps:
            means = {c: sign * float(np.mean(v)) for c, v in data.items()}
            best = min(alive, key=lambda c: sign * means[c])
            return Selection(best, means, spent, delta, len(alive) > 1)
        step = min(batch, max_reps - r)
        more = sample(alive, r, r + step)
        for c in alive:
            data[c].extend(sign * v for v in more[c])
        spent += step * len(alive)
        r += step

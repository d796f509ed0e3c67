"""Scenario discovery: PRIM boxes of parameter space where a threshold is broken.

The Patient Rule Induction Method (Friedman & Fisher, "Bump hunting in high-dimensional data",
Statistics and Computing 9, 1999), as used for scenario discovery by Bryant & Lempert (2010) and
the EMA Workbench: start from the box holding every design point and repeatedly *peel* off a
small slice (a fraction ``alpha`` of the points in the box) at the low or high end of one
parameter, choosing the slice whose removal leaves the highest share of points of interest (here:
design points whose mean breaks a threshold). Each box on the way is scored by

- **coverage**: the share of all points of interest that lie inside the box;
- **density**: the share of the points inside the box that are of interest;
- **mass**: the share of all points inside the box.

Peeling stops when the box would hold fewer than ``min_mass`` of the points. The box reported
is the one with the highest coverage among those whose density reaches ``threshold`` (the
densest when none does). With ``max_boxes > 1`` the points in a chosen box are removed and the
search repeats on the rest (covering). Pasting (re-growing a box) is not done. A parameter with
few distinct values (a grid) is peeled one value at a time when ``alpha`` of the box would not
remove any.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Box", "PrimResult", "prim"]


@dataclass(frozen=True)
class Box:
    """A box: per parameter, the (low, high) limits (inclusive) and its scores."""

    limits: tuple[tuple[float, float], ...]
    coverage: float
    density: float
    mass: float
    points: int

    def restricted(self, full: Sequence[tuple[float, float]]) -> list[int]:
        """Indices of the parameters the box narrows compared with ``full``."""
        return [
            i
            for i, ((lo, hi), (flo, fhi)) in enumerate(zip(self.limits, full, strict=True))
            if lo > flo or hi < fhi
        ]


@dataclass(frozen=True)
class PrimResult:
    """Chosen boxes (in the order found) and the peeling trajectory of the first."""

    boxes: tuple[Box, ...]
    trajectory: tuple[Box, ...]
    full: tuple[tuple[float, float], ...]


def _box(
    lo: np.ndarray, hi: np.ndarray, inside: np.ndarray, y: np.ndarray, total: float, n: int
) -> Box:
    count = int(inside.sum())
    hits = float(y[inside].sum())
    density = hits / count if count else 0.0
    coverage = hits / total if total else 0.0
    limits = tuple((float(a), float(b)) for a, b in zip(lo, hi, strict=True))
    return Box(limits, coverage, density, count / n, count)


def _peel(
    x: np.ndarray, y: np.ndarray, total: float, n_all: int, alpha: float, min_mass: float
) -> list[Box]:
    """The peeling trajectory over points ``x`` (the box starts at their range)."""
    lo, hi = x.min(axis=0).astype(float), x.max(axis=0).astype(float)
    inside = np.ones(len(x), dtype=bool)
    trajectory = [_box(lo, hi, inside, y, total, n_all)]
    while True:
        best: tuple[float, int, str, float] | None = None
        for j in range(x.shape[1]):
            values = x[inside, j]
            for side in ("low", "high"):
                cut = np.quantile(values, alpha if side == "low" else 1 - alpha)
                keep = values > cut if side == "low" else values < cut
                if keep.all():  # a coarse grid: peel off the end value itself
                    end = values.min() if side == "low" else values.max()
                    keep = values != end
                if keep.all() or not keep.any() or keep.sum() < min_mass * n_all:
                    continue
                mean = float(y[inside][keep].mean())
                bound = float(values[keep].min() if side == "low" else values[keep].max())
                if best is None or mean > best[0]:
                    best = (mean, j, side, bound)
        if best is None:
            return trajectory
        _, j, side, bound = best
        if side == "low":
            lo[j] = bound
        else:
            hi[j] = bound
        inside = inside & (x[:, j] >= lo[j]) & (x[:, j] <= hi[j])
        trajectory.append(_box(lo, hi, inside, y, total, n_all))


def _choose(trajectory: Sequence[Box], threshold: float) -> Box:
    dense = [b for b in trajectory if b.density >= threshold]
    if dense:
        return max(dense, key=lambda b: (b.coverage, b.density))
    return max(trajectory, key=lambda b: (b.density, b.coverage))


def prim(
    x: np.ndarray,
    y: np.ndarray,
    *,
    alpha: float = 0.05,
    min_mass: float = 0.05,
    threshold: float = 0.8,
    max_boxes: int = 1,
) -> PrimResult:
    """Find boxes of ``x`` (points × parameters) where ``y`` (0/1: of interest) is concentrated.

    Args:
        alpha: share of the box's points peeled at each step.
        min_mass: smallest share of all points a box may hold.
        threshold: the density a reported box should reach.
        max_boxes: boxes to find by covering (each later box among the points left outside).

    Coverage and density are always relative to all the points and all the points of interest.

    Raises:
        ValueError: shapes differ, or there is no point.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.ndim != 2 or len(x) != len(y) or len(x) == 0:
        raise ValueError("x must be points × parameters and y one 0/1 value per point")
    n = len(x)
    total = float(y.sum())
    full = tuple(zip(x.min(axis=0), x.max(axis=0), strict=True))
    boxes: list[Box] = []
    first: list[Box] = []
    left = np.ones(n, dtype=bool)
    for k in range(max_boxes):
        if y[left].sum() == 0 or left.sum() < 2:
            break
        trajectory = _peel(x[left], y[left], total, n, alpha, min_mass)
        if k == 0:
            first = trajectory
        chosen = _choose(trajectory, threshold)
        if k > 0 and chosen.density < threshold:
            break
        boxes.append(chosen)
        inside = np.all(
            [(x[:, j] >= lo) & (x[:, j] <= hi) for j, (lo, hi) in enumerate(chosen.limits)],
            axis=0,
        )
        left &= ~inside
    return PrimResult(tuple(boxes), tuple(first), tuple((float(a), float(b)) for a, b in full))

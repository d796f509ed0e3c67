"""``polit-sim optimise``: the cheapest configuration of a decision space meeting the constraints.

The procedure (docs/optimise.md gives a worked example):

1. **Candidates by cost.** Every configuration's cost is computed (cheap: nothing is simulated);
   the search always works on the cheapest configuration not yet *resolved*.
2. **Monotonicity.** Levers with ``better:`` order their values from worst to best. A
   configuration found infeasible makes every configuration it dominates (no better on any
   monotone lever, equal on the others) infeasible without simulating it. To make that count,
   the search *lifts* the cheapest unresolved configuration: it raises its monotone levers in
   turn while the cost stays at most halfway to the cheapest feasible cost found so far (all the
   way when none is known yet), and simulates the lifted configuration: infeasible, it resolves
   the whole set below it; feasible, it halves the cost gap. Without ``better:`` levers this is
   a walk through the configurations in order of cost.
3. **Sequential screening under common random numbers.** Each simulated configuration gets
   replications ``0..n0−1``, then doubles them (up to ``n_max``) while some constraint's interval
   still straddles its threshold; it is dropped as soon as one interval is wholly beyond
   (:func:`sim.experiments.feasibility.screen`). Every configuration uses the same root seed and
   replication indices, so they share random numbers.
4. **Selection.** When every configuration cheaper than the cheapest screened-feasible one is
   resolved, the cheapest screened-feasible (at equal cost, the lowest risk: the best mean of the
   first constraint's metric, chosen by KN, :mod:`sim.experiments.selection`) is topped up to
   ``n_max`` replications, re-screened, and confirmed on fresh replications
   (:func:`sim.experiments.feasibility.confirm`); if it fails, it is set aside and the search
   goes on. The guarantee is stated in :mod:`sim.experiments.feasibility`.

Replications run on the existing executors (serial, processes, Dask): each round's runs go to
:func:`sim.experiments.executors.run_sweep` together.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from sim.experiments.feasibility import (
    Bound,
    bounds_of,
    confirm,
    confirmation_level,
    confirmation_size,
    screen,
)
from sim.experiments.selection import FIRST_INDEX, Selection, kn_select
from sim.scenario.schema import Threshold
from sim.scenario.space import Space, Value

__all__ = [
    "MAX_CONFIRMATIONS",
    "Evaluated",
    "Evaluator",
    "OptimiseError",
    "Outcome",
    "Settings",
    "optimise",
]

MAX_CONFIRMATIONS = 6
"""Confirmations tried before the search gives up (the j-th may err with α / 2^j)."""

Point = tuple[int, ...]
"""A configuration: for each lever, the index of its value in ``Lever.ordered()``."""


class OptimiseError(RuntimeError):
    """A replication failed, so the search cannot go on."""


class Evaluator(Protocol):
    """Runs replications: ``jobs`` of (configuration, replication index) → one metric row each."""

    def __call__(self, jobs: Sequence[tuple[Point, int]]) -> list[Mapping[str, float]]: ...


@dataclass(frozen=True)
class Settings:
    """How hard the search works.

    Attributes:
        initial: replications a configuration starts with (n0).
        maximum: replications a configuration may get in screening (n_max); a configuration
            still undecided then is reported *undecided*.
        confirm: fresh replications of each confirmation (default: ``maximum``).
        budget: total replications allowed (None: no limit).
        width: configurations screened side by side in a round (parallelism).
        indifference: KN's indifference zone for choosing among feasible configurations of
            equal cost, in the unit of the first constraint's metric (default: a tenth of its
            threshold, 0.01 when the threshold is 0).
    """

    initial: int = 10
    maximum: int = 80
    confirm: int | None = None
    budget: int | None = None
    width: int = 2
    indifference: float | None = None

    def __post_init__(self) -> None:
        if self.initial < 2 or self.maximum < self.initial:
            raise ValueError("replications: need 2 <= initial <= maximum")
        if self.width < 1:
            raise ValueError("width must be at least 1")

    @property
    def confirm_n(self) -> int:
        """Replications of each confirmation."""
        return self.confirm or self.maximum


@dataclass
class Evaluated:
    """A configuration the search simulated.

    Attributes:
        point: lever value indices (see :data:`Point`).
        values: lever key → value.
        cost: its cost.
        data: metric → screening replication values (replication indices 0..n−1).
        status: ``feasible``, ``infeasible``, ``undecided`` (open at n_max, or when the budget
            ran out), ``stopped`` (dearer than a feasible configuration found meanwhile).
        confirmation: results of its confirmation, if it had one.
    """

    point: Point
    values: dict[str, Value]
    cost: float
    data: dict[str, list[float]] = field(default_factory=dict)
    status: str = "open"
    confirmation: dict[str, Any] | None = None

    @property
    def replications(self) -> int:
        """Screening replications spent on it."""
        return len(next(iter(self.data.values()), []))


@dataclass
class Outcome:
    """What the search found and what it cost."""

    space: Space
    constraints: dict[str, Threshold]
    bounds: list[Bound]
    confidence: float
    settings: Settings
    evaluated: list[Evaluated]
    recommended: Evaluated | None
    spent: int
    configurations: int
    implied: int
    budget_exhausted: bool
    selections: list[Selection] = field(default_factory=list)

    @property
    def selection_replications(self) -> int:
        """Replications spent choosing among feasible configurations of equal cost."""
        return sum(s.replications for s in self.selections)

    @property
    def exhaustive(self) -> int:
        """Replications an exhaustive search needs: every configuration at ``maximum``."""
        return self.configurations * self.settings.maximum

    @property
    def ratio(self) -> float:
        """Replications spent over those of the exhaustive search."""
        return self.spent / self.exhaustive


class _Space:
    """The configurations as arrays: value indices (worst → best on monotone levers) and costs."""

    def __init__(self, space: Space) -> None:
        self.levers = space.levers
        self.values = [lever.ordered() for lever in space.levers]
        shape = tuple(len(v) for v in self.values)
        self.shape = shape
        self.points = np.indices(shape, dtype=np.int32).reshape(len(shape), -1).T
        costs = [
            np.array([lever.cost_of(v) for v in vals])
            for lever, vals in zip(space.levers, self.values, strict=True)
        ]
        self.unit_costs = costs
        self.costs: np.ndarray = np.zeros(len(self.points))
        for i, c in enumerate(costs):
            self.costs += c[self.points[:, i]]
        self.order = np.lexsort((np.arange(len(self.costs)), self.costs))
        self.mono = np.array([lever.better is not None for lever in space.levers])

    def index(self, point: Point) -> int:
        return int(np.ravel_multi_index(point, self.shape))

    def cost(self, point: Point) -> float:
        return float(sum(c[i] for c, i in zip(self.unit_costs, point, strict=True)))

    def named(self, point: Point) -> dict[str, Value]:
        return {
            lv.key: vals[i] for lv, vals, i in zip(self.levers, self.values, point, strict=True)
        }

    def below(self, point: Point) -> np.ndarray:
        """Mask of the configurations ``point`` dominates (itself included)."""
        p = np.asarray(point)
        mono, other = self.mono, ~self.mono
        mask = (self.points[:, mono] <= p[mono]).all(axis=1)
        return mask & (self.points[:, other] == p[other]).all(axis=1)

    def lift(self, point: Point, target: float) -> Point:
        """Raise monotone levers in turn, one step at a time, while the cost stays <= target."""
        p = list(point)
        cost = self.cost(point)
        moved = True
        while moved:
            moved = False
            for i, lever in enumerate(self.levers):
                if lever.better is None or p[i] + 1 >= self.shape[i]:
                    continue
                step = self.unit_costs[i][p[i] + 1] - self.unit_costs[i][p[i]]
                if cost + step <= target + 1e-9 * max(1.0, abs(target)):
                    p[i] += 1
                    cost += step
                    moved = True
        return tuple(p)


def _risk_key(bounds: Sequence[Bound], common: int) -> Callable[[Evaluated], tuple[float, ...]]:
    first = bounds[0]
    sign = 1.0 if first.side == "max" else -1.0

    def key(e: Evaluated) -> tuple[float, ...]:
        values = np.asarray(e.data[first.metric][:common], dtype=float)
        return (e.cost, sign * float(np.nanmean(values)), *e.point)

    return key


def optimise(
    space: Space,
    constraints: Mapping[str, Threshold],
    evaluate: Evaluator,
    settings: Settings | None = None,
    *,
    on_round: Callable[[int, int], None] | None = None,
) -> Outcome:
    """Search ``space`` for the cheapest configuration meeting ``constraints`` (module docstring).

    Args:
        evaluate: runs (configuration, replication) jobs; replication indices are the same for
            every configuration (common random numbers).
        on_round: called after each round with (replications spent, configurations simulated).
    """
    settings = settings or Settings()
    bounds = bounds_of(constraints)
    confidence = space.confidence
    alpha = 1.0 - confidence
    grid = _Space(space)
    n_points = len(grid.costs)
    resolved = np.zeros(n_points, dtype=bool)
    implied = np.zeros(n_points, dtype=bool)
    seen: dict[Point, Evaluated] = {}
    set_aside: set[Point] = set()
    spent = 0
    budget_exhausted = False
    attempts = 0
    recommended: Evaluated | None = None
    selections: list[Selection] = []
    fresh_index = settings.maximum  # confirmations take fresh replication indices from here
    cursor = 0  # position in grid.order before which every configuration is resolved

    def affordable(jobs: int) -> bool:
        return settings.budget is None or spent + jobs <= settings.budget

    def run(jobs: list[tuple[Point, int]]) -> list[Mapping[str, float]]:
        nonlocal spent
        rows = evaluate(jobs)
        spent += len(jobs)
        return rows

    def best_feasible() -> float:
        costs = [
            e.cost for e in seen.values() if e.status == "feasible" and e.point not in set_aside
        ]
        return min(costs, default=math.inf)

    def mark_infeasible(point: Point) -> None:
        mask = grid.below(point)
        implied[mask & ~resolved] = True
        resolved[mask] = True

    def pick() -> list[Point]:
        nonlocal cursor
        bound = best_feasible()
        batch: list[Point] = []
        position = cursor
        while position < n_points and len(batch) < settings.width:
            index = int(grid.order[position])
            if resolved[index]:
                if position == cursor:
                    cursor += 1
                position += 1
                continue
            if grid.costs[index] > bound + 1e-9 * max(1.0, abs(bound)):
                break
            point: Point = tuple(int(v) for v in grid.points[index])
            if any(
                all(a <= b for a, b in zip(point, z, strict=True)) and _same_other(grid, point, z)
                for z in batch
            ):
                position += 1
                continue
            target = math.inf if math.isinf(bound) else (grid.costs[index] + bound) / 2
            lifted = grid.lift(point, target)
            if (lifted in seen and seen[lifted].status != "stopped") or lifted in batch:
                lifted = point
            if lifted not in batch:
                batch.append(lifted)
            position += 1
        return batch

    def screen_batch(batch: list[Point]) -> None:
        nonlocal budget_exhausted
        live = []
        for point in batch:
            e = seen.get(point) or Evaluated(point, grid.named(point), grid.cost(point))
            if not e.data:
                e.data = {b.metric: [] for b in bounds}
            e.status = "open"
            seen[point] = e
            resolved[grid.index(point)] = True
            live.append(e)
        while live:
            jobs: list[tuple[Point, int]] = []
            for e in live:
                n = e.replications
                target = settings.initial if n == 0 else min(settings.maximum, 2 * n)
                jobs.extend((e.point, r) for r in range(n, target))
            if not affordable(len(jobs) + settings.confirm_n):
                budget_exhausted = True
                for e in live:
                    e.status = "undecided"
                return
            rows = run(jobs)
            for (point, _r), row in zip(jobs, rows, strict=True):
                for metric, values in seen[point].data.items():
                    values.append(float(row[metric]))
            still = []
            for e in live:
                verdict, _ = screen(e.data, bounds, confidence)
                if verdict == "broken":
                    e.status = "infeasible"
                    mark_infeasible(e.point)
                elif verdict == "met":
                    e.status = "feasible"
                elif e.replications >= settings.maximum:
                    e.status = "undecided"
                else:
                    still.append(e)
            bound = best_feasible()
            live = []
            for e in still:
                if resolved[grid.index(e.point)] and implied[grid.index(e.point)]:
                    e.status = "infeasible"  # dominated by one found infeasible meanwhile
                elif e.cost > bound + 1e-9 * max(1.0, abs(bound)):
                    e.status = "stopped"
                else:
                    live.append(e)
            if on_round is not None:
                on_round(spent, len(seen))

    def _reopen_stopped() -> None:
        # The bound rises again: configurations stopped as dearer than it are open again
        # (their replications are kept).
        nonlocal cursor
        for e in seen.values():
            if e.status == "stopped":
                resolved[grid.index(e.point)] = False
                cursor = min(cursor, int(np.flatnonzero(grid.order == grid.index(e.point))[0]))

    while recommended is None and not budget_exhausted:
        batch = pick()
        if batch:
            screen_batch(batch)
            continue
        bound = best_feasible()
        if math.isinf(bound) or attempts >= MAX_CONFIRMATIONS:
            break
        cheapest = [
            e
            for e in seen.values()
            if e.status == "feasible" and e.point not in set_aside and e.cost <= bound
        ]
        common = min(e.replications for e in cheapest)
        choice = min(cheapest, key=_risk_key(bounds, common))
        if len(cheapest) > 1:
            # Equal cost: the lowest risk, by KN on fresh replications under CRN.
            first = bounds[0]
            delta = settings.indifference or (abs(first.limit) / 10 or 0.01)
            offset = FIRST_INDEX + len(selections) * FIRST_INDEX

            def sample(
                points: Sequence[Any],
                start: int,
                stop: int,
                offset: int = offset,
                first: Bound = first,
            ) -> dict[Any, list[float]]:
                jobs = [(p, offset + r) for p in points for r in range(start, stop)]
                out: dict[Any, list[float]] = {p: [] for p in points}
                for (p, _r), row in zip(jobs, run(jobs), strict=True):
                    out[p].append(float(row[first.metric]))
                return out

            picked = kn_select(
                sorted(e.point for e in cheapest),
                sample,
                minimise=first.side == "max",
                delta=delta,
                alpha=alpha,
                n0=settings.initial,
            )
            selections.append(picked)
            choice = seen[picked.chosen]
        if choice.replications < settings.maximum:
            # Declared feasible early: screen it at the full n_max first, so that a confirmation
            # (and a share of the error allowed) is spent only on a well-supported choice.
            start = choice.replications
            if not affordable(settings.maximum - start + settings.confirm_n):
                budget_exhausted = True
                break
            jobs = [(choice.point, r) for r in range(start, settings.maximum)]
            for (_point, _r), row in zip(jobs, run(jobs), strict=True):
                for metric, values in choice.data.items():
                    values.append(float(row[metric]))
            verdict, _ = screen(choice.data, bounds, confidence)
            if verdict == "broken":
                choice.status = "infeasible"
                mark_infeasible(choice.point)
            elif verdict == "open":
                choice.status = "undecided"
            if verdict != "met":
                _reopen_stopped()
                continue
        level = confirmation_level(alpha, attempts + 1, len(bounds))
        n_conf = confirmation_size(bounds, level, settings.confirm_n)
        if not affordable(n_conf):
            budget_exhausted = True
            break
        attempts += 1
        start = fresh_index
        fresh_index += n_conf
        jobs = [(choice.point, r) for r in range(start, start + n_conf)]
        rows = run(jobs)
        fresh = {b.metric: [float(row[b.metric]) for row in rows] for b in bounds}
        passed, found = confirm(fresh, bounds, level)
        choice.confirmation = {
            "attempt": attempts,
            "replications": list(range(start, start + n_conf)),
            "level": level,
            "bounds": found,
            "means": {m: float(np.nanmean(v)) for m, v in fresh.items()},
            "passed": passed,
        }
        if passed:
            recommended = choice
        else:
            set_aside.add(choice.point)
            _reopen_stopped()
        if on_round is not None:
            on_round(spent, len(seen))
    for e in seen.values():
        if e.status == "open":
            e.status = "undecided"
    return Outcome(
        space=space,
        constraints=dict(constraints),
        bounds=bounds,
        confidence=confidence,
        settings=settings,
        evaluated=list(seen.values()),
        recommended=recommended,
        spent=spent,
        configurations=n_points,
        implied=int(implied.sum()),
        budget_exhausted=budget_exhausted,
        selections=selections,
    )


def _same_other(grid: _Space, a: Point, b: Point) -> bool:
    """Whether ``a`` and ``b`` agree on every lever without ``better:``."""
    return all(x == y for x, y, m in zip(a, b, grid.mono, strict=True) if not m)

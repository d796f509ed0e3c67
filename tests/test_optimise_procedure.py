"""The search of ``optimise`` on synthetic objectives whose answer is known exactly.

A synthetic objective is wired through the same procedure (:func:`sim.experiments.optimise.
optimise`) in place of the simulation: replication r of configuration x returns
``mean(x) + common_r + own_{x,r}`` with normal noise drawn once per seed, so configurations share
the common part (common random numbers) and the true means, hence the true answer, are known.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pytest

from sim.experiments.feasibility import (
    bounds_of,
    confirm,
    confirmation_level,
    confirmation_size,
    one_sided_bound,
    screen,
)
from sim.experiments.optimise import MAX_CONFIRMATIONS, Outcome, Settings, optimise
from sim.experiments.selection import kn_select
from sim.scenario.schema import Threshold
from sim.scenario.space import Space

METRIC = "mean_wait_days"


class Synthetic:
    """Replications of a known objective: ``mean(point) + common_r + own_(point, r)``."""

    def __init__(
        self,
        shape: tuple[int, ...],
        mean: Callable[[np.ndarray], np.ndarray],
        seed: int,
        replications: int,
        sd_common: float = 0.2,
        sd_own: float = 0.25,
    ) -> None:
        self.shape = shape
        points = np.indices(shape).reshape(len(shape), -1).T
        self.means = mean(points)
        rng = np.random.default_rng(np.random.SeedSequence(seed))
        self.common = rng.normal(0.0, sd_common, replications)
        self.own = rng.normal(0.0, sd_own, (len(points), replications))
        self.calls = 0

    def __call__(self, jobs: Sequence[tuple[tuple[int, ...], int]]) -> list[Mapping[str, float]]:
        self.calls += len(jobs)
        out = []
        for point, r in jobs:
            i = int(np.ravel_multi_index(point, self.shape))
            out.append({METRIC: float(self.means[i] + self.common[r] + self.own[i, r])})
        return out


def space_of(costs: Sequence[Sequence[float]], better: Sequence[str | None]) -> Space:
    """A space of levers ``l0, l1, ...`` with values 0..k-1 and a cost per value."""
    levers = []
    for i, (cost, way) in enumerate(zip(costs, better, strict=True)):
        lever: dict[str, object] = {
            "key": f"l{i}",
            "values": list(range(len(cost))),
            "cost": dict(enumerate(cost)),
        }
        if way is not None:
            lever["better"] = way
        levers.append(lever)
    return Space.model_validate({"levers": levers, "confidence": 0.95})


def true_answer(space: Space, means: np.ndarray, limit: float) -> tuple[int, ...]:
    """The cheapest truly feasible configuration (asserted unique)."""
    shape = tuple(len(lv.value_list()) for lv in space.levers)
    points = np.indices(shape).reshape(len(shape), -1).T
    costs = sum(
        np.array([lv.cost_of(v) for v in lv.value_list()])[points[:, i]]
        for i, lv in enumerate(space.levers)
    )
    feasible = means <= limit
    best = costs[feasible].min()
    winners = points[feasible & np.isclose(costs, best)]
    assert len(winners) == 1, "the synthetic case must have a unique answer"
    return tuple(int(v) for v in winners[0])


def exhaustive(
    space: Space, evaluate: Synthetic, constraints: Mapping[str, Threshold], n: int
) -> tuple[tuple[int, ...], int]:
    """Every configuration with ``n`` replications; the cheapest whose interval meets the bound."""
    shape = evaluate.shape
    bounds = bounds_of(constraints)
    best: tuple[float, tuple[int, ...]] | None = None
    for flat in range(math.prod(shape)):
        point = tuple(int(v) for v in np.unravel_index(flat, shape))
        rows = evaluate([(point, r) for r in range(n)])
        verdict, _ = screen({METRIC: [row[METRIC] for row in rows]}, bounds, space.confidence)
        cost = sum(lv.cost_of(v) for lv, v in zip(space.levers, point, strict=True))
        if verdict == "met" and (best is None or cost < best[0]):
            best = (cost, point)
    assert best is not None
    return best[1], math.prod(shape) * n


# --- five levers, 1,024 configurations -----------------------------------------------------------

WEIGHTS = np.array([2, 1, 3, 1, 2])
UNIT_COSTS = (5.0, 3.5, 6.5, 2.2, 4.1)
LIMIT = 0.5


def five_lever_mean(points: np.ndarray) -> np.ndarray:
    """Falls by 0.4 per unit of a weighted score: the threshold sits 0.2 from every mean."""
    return 3.5 - 0.4 * (points @ WEIGHTS)


def five_lever_space() -> Space:
    return space_of([[c * v for v in range(4)] for c in UNIT_COSTS], ["higher"] * 5)


def run_five(seed: int, width: int = 2) -> tuple[Outcome, Synthetic]:
    space = five_lever_space()
    settings = Settings(initial=10, maximum=80, width=width)
    reps = settings.maximum + MAX_CONFIRMATIONS * settings.confirm_n
    evaluate = Synthetic((4,) * 5, five_lever_mean, seed, reps)
    constraints = {METRIC: Threshold(max=LIMIT)}
    return optimise(space, constraints, evaluate, settings), evaluate


@pytest.mark.parametrize("seed", [1, 2])
def test_five_lever_space_matches_exhaustive_search_at_a_fifth_of_its_replications(
    seed: int,
) -> None:
    """On 4^5 = 1,024 configurations: the exhaustive answer, with at most 20% of its runs."""
    outcome, evaluate = run_five(seed)
    space = five_lever_space()
    truth = true_answer(space, evaluate.means, LIMIT)
    constraints = {METRIC: Threshold(max=LIMIT)}
    full, full_runs = exhaustive(space, evaluate, constraints, 80)
    assert outcome.recommended is not None
    print(
        f"seed {seed}: {outcome.spent} replications, exhaustive {full_runs}: "
        f"ratio {outcome.spent / full_runs:.3f}; {len(outcome.evaluated)} configurations "
        f"simulated, {outcome.implied} implied infeasible"
    )
    assert full == truth
    assert outcome.recommended.point == truth
    assert outcome.exhaustive == full_runs
    assert outcome.spent <= 0.2 * full_runs
    assert len(outcome.evaluated) < 0.2 * 1024  # the space is not enumerated


@pytest.mark.slow
def test_five_lever_space_efficiency_over_many_seeds() -> None:
    """Over 20 seeds and two batch widths the answer is exact and the runs stay under 20%."""
    ratios = []
    for seed in range(20):
        for width in (1, 4):
            outcome, evaluate = run_five(100 + seed, width)
            truth = true_answer(five_lever_space(), evaluate.means, LIMIT)
            assert outcome.recommended is not None and outcome.recommended.point == truth
            ratios.append(outcome.ratio)
    print(f"ratio: mean {np.mean(ratios):.3f}, max {np.max(ratios):.3f}")
    assert max(ratios) <= 0.2


def test_non_monotone_levers_are_searched_in_order_of_cost() -> None:
    """Without ``better:`` every configuration cheaper than the answer is simulated, none dearer."""
    space = space_of([[0, 1, 2, 3, 4, 5]], [None])
    means = np.array([0.9, 0.8, 1.0, 0.2, 0.1, 0.0])
    evaluate = Synthetic((6,), lambda p: means[p[:, 0]], 3, 600)
    outcome = optimise(space, {METRIC: Threshold(max=0.5)}, evaluate, Settings(width=1))
    assert outcome.recommended is not None and outcome.recommended.point == (3,)
    assert sorted(e.point for e in outcome.evaluated) == [(0,), (1,), (2,), (3,)]


def test_min_constraints_and_lower_is_better_levers() -> None:
    """A ``min:`` bound and ``better: lower`` give the mirror-image answer."""
    space = space_of([[5, 4, 3, 2, 1, 0]], ["lower"])  # value 5 is the cheapest and worst
    # ordered() lists values worst → best (5, 4, ..., 0): the k-th has mean 0.25 k − 0.125
    evaluate = Synthetic((6,), lambda p: 0.25 * p[:, 0] - 0.125, 4, 600)
    outcome = optimise(space, {METRIC: Threshold(min=0.5)}, evaluate, Settings(width=1))
    assert outcome.recommended is not None
    assert outcome.recommended.values == {"l0": 2}  # the third best: mean 0.625 ≥ 0.5


def test_infeasible_space_recommends_nothing() -> None:
    """When no configuration meets the bound, nothing is recommended."""
    space = space_of([[0, 1, 2, 3]], ["higher"])
    evaluate = Synthetic((4,), lambda p: 2.0 - 0.1 * p[:, 0], 5, 600)
    outcome = optimise(space, {METRIC: Threshold(max=0.5)}, evaluate)
    assert outcome.recommended is None
    assert len(outcome.evaluated) == 1  # the best configuration fails: everything below too
    assert outcome.implied == 3


def test_budget_stops_the_search() -> None:
    """A replication budget is never exceeded, and a search cut short says so."""
    space = five_lever_space()
    evaluate = Synthetic((4,) * 5, five_lever_mean, 6, 600)
    outcome = optimise(
        space, {METRIC: Threshold(max=LIMIT)}, evaluate, Settings(budget=150, maximum=40)
    )
    assert outcome.spent <= 150 and evaluate.calls == outcome.spent
    assert outcome.budget_exhausted


# --- the guarantee -------------------------------------------------------------------------------

OPTIONS = 30


def trap_mean(points: np.ndarray) -> np.ndarray:
    """30 cheap options just infeasible (0.52 > 0.5); the dear lever makes them feasible (0.3)."""
    return np.where(points[:, 0] == 1, 0.3, 0.52)


def trap_space() -> Space:
    return space_of([[0, 100], list(range(OPTIONS))], ["higher", None])


def naive_choice_is_infeasible(evaluate: Synthetic, settings: Settings) -> bool:
    """Whether sequential screening alone (no confirmation) would pick a cheap, infeasible option.

    The cheap options in order of cost, each screened as the search does (n0, doubling to n_max,
    stopping when the interval is wholly on one side); the first one met would be returned.
    """
    bounds = bounds_of({METRIC: Threshold(max=0.5)})
    for option in range(OPTIONS):
        n = settings.initial
        while True:
            rows = evaluate([((0, option), r) for r in range(n)])
            verdict, _ = screen({METRIC: [row[METRIC] for row in rows]}, bounds, 0.95)
            if verdict == "met":
                return True
            if verdict == "broken" or n >= settings.maximum:
                break
            n = min(settings.maximum, 2 * n)
    return False


def run_trap(seed: int) -> tuple[bool, bool]:
    """(recommendation truly feasible, screening alone would have chosen an infeasible one)."""
    settings = Settings(initial=10, maximum=40, width=2)
    reps = settings.maximum + MAX_CONFIRMATIONS * settings.confirm_n
    evaluate = Synthetic((2, OPTIONS), trap_mean, seed, reps, sd_common=0.15, sd_own=0.25)
    outcome = optimise(trap_space(), {METRIC: Threshold(max=0.5)}, evaluate, settings)
    fooled = naive_choice_is_infeasible(evaluate, settings)
    # No recommendation counts against the procedure too (the feasible answer exists).
    return outcome.recommended is not None and outcome.recommended.point[0] == 1, fooled


@pytest.mark.parametrize("seeds", [pytest.param(range(50), id="50-seeds")])
def test_recommendation_is_truly_feasible_in_95_percent_of_seeds(seeds: range) -> None:
    """Over 50 seeds of a trap (30 cheap, barely infeasible options) ≥ 95% are truly feasible."""
    results = [run_trap(1000 + s) for s in seeds]
    feasible = sum(ok for ok, _ in results)
    fooled = sum(f for _, f in results)
    print(f"truly feasible {feasible}/{len(results)}; screening fooled in {fooled}")
    assert feasible >= 0.95 * len(results)
    # The case has teeth: screening alone picks an infeasible option in a good share of seeds.
    assert fooled >= 0.2 * len(results)


@pytest.mark.slow
def test_recommendation_is_truly_feasible_over_400_seeds() -> None:
    """Over 400 seeds the share of truly feasible recommendations is at least 95%."""
    results = [run_trap(5000 + s) for s in range(400)]
    feasible = sum(ok for ok, _ in results)
    print(f"truly feasible {feasible}/400; fooled {sum(f for _, f in results)}")
    assert feasible >= 0.95 * 400


# --- the tests themselves ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "values", "side", "expected"),
    [
        ("any_neglect_over_365", [0.0] * 30, "max", 1 - 0.05 ** (1 / 30)),  # 0 of n: exact
        ("any_neglect_over_365", [1.0] * 30, "min", 0.05 ** (1 / 30)),
        ("mean_wait_days", [1.0, 2.0, 3.0], "max", 2.0 + 2.919986 * 1.0 / math.sqrt(3)),
    ],
)
def test_one_sided_bounds(metric: str, values: list[float], side: str, expected: float) -> None:
    """Clopper–Pearson for indicators, Student t for means, at a one-sided 5% level."""
    assert one_sided_bound(metric, values, side, 0.05) == pytest.approx(expected, rel=1e-5)


def test_confirmation_error_rate_is_at_most_its_level() -> None:
    """A configuration exactly at the threshold passes its confirmation at most ~α of the time."""
    rng = np.random.default_rng(7)
    bounds = bounds_of({METRIC: Threshold(max=0.0)})
    passes = sum(confirm({METRIC: rng.normal(0, 1, 40)}, bounds, 0.05)[0] for _ in range(4000))
    assert passes / 4000 <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 4000)


# --- ranking and selection at equal cost ---------------------------------------------------------


def test_kn_selects_the_best_with_its_probability() -> None:
    """KN under CRN picks the best of four (gap ≥ δ) in at least 1 − α of 200 seeds."""
    means = {"a": 0.0, "b": 0.25, "c": 0.3, "d": 0.6}
    correct = 0
    spent = []
    for seed in range(200):
        rng = np.random.default_rng(seed)
        common = rng.normal(0, 1.0, 500)
        own = {c: rng.normal(0, 0.5, 500) for c in means}

        def sample(cands, start, stop, common=common, own=own):  # type: ignore[no-untyped-def]
            return {c: list(means[c] + common[start:stop] + own[c][start:stop]) for c in cands}

        found = kn_select(list(means), sample, minimise=True, delta=0.25, alpha=0.05)
        correct += found.chosen == "a"
        spent.append(found.replications)
    print(f"KN correct {correct}/200, mean replications {np.mean(spent):.0f}")
    assert correct >= 0.95 * 200


def test_equal_cost_feasible_configurations_are_ranked_by_risk() -> None:
    """Three feasible options of equal cost: the one with the lowest mean is recommended."""
    space = space_of([[0.0, 5.0], [1.0, 1.0, 1.0]], ["higher", None])
    means = np.array([[0.9, 0.9, 0.9], [0.3, 0.1, 0.2]])  # cheap lever value infeasible
    evaluate = Synthetic((2, 3), lambda p: means[p[:, 0], p[:, 1]], 8, 1_000)
    evaluate.common = np.resize(evaluate.common, 3_000_000)  # KN uses its own indices
    evaluate.own = np.resize(evaluate.own, (6, 3_000_000))
    outcome = optimise(
        space, {METRIC: Threshold(max=0.5)}, evaluate, Settings(width=3, indifference=0.05)
    )
    assert outcome.recommended is not None and outcome.recommended.point == (1, 1)
    assert len(outcome.selections) == 1 and outcome.selection_replications > 0


@pytest.mark.parametrize("attempt", [1, 2, 4])
@pytest.mark.parametrize(("side", "limit"), [("max", 0.05), ("min", 0.9)])
def test_confirmation_is_large_enough_for_a_small_probability(
    attempt: int, side: str, limit: float
) -> None:
    """At the size chosen, a rate half-way to the threshold passes (80 may be too few)."""
    bounds = bounds_of({"any_neglect_over_365": Threshold(**{side: limit})})
    level = confirmation_level(0.05, attempt, 1)
    n = confirmation_size(bounds, level, 80)
    p = limit if side == "max" else 1 - limit
    k = math.floor(n * p / 2)
    events = [1.0] * k + [0.0] * (n - k) if side == "max" else [0.0] * k + [1.0] * (n - k)
    assert confirm({"any_neglect_over_365": events}, bounds, level)[0]
    assert n >= 80 and confirmation_size(bounds_of({METRIC: Threshold(max=1)}), level, 80) == 80

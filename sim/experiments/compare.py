"""Scenarios compared under common random numbers: paired differences, precision, thresholds.

Every scenario of a comparison runs replication ``r`` with the same root seed, so replication
``r`` of each draws the same referrals, efforts, leave and policy choices wherever the scenarios
agree (:mod:`sim.engine.streams`). The difference of a metric between a scenario and the baseline is
then taken replication by replication (a paired difference), and its confidence interval is the
Student-t interval of those differences: most of the noise common to both runs cancels.

Nothing here prints; :mod:`sim.cli.compare` is the command line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.statistics import is_indicator, mean_ci, proportion_ci
from sim.engine.replication import ReplicationRecords, run_replication
from sim.experiments.folders import default_compare_folder
from sim.experiments.replications import Result, collect
from sim.experiments.results import (
    package_versions,
    write_atomically,
    write_manifest,
    write_result,
)
from sim.experiments.workers import worker_pool
from sim.scenario import Scenario, scenario_dump, scenario_hash

__all__ = [
    "HEADLINE_METRICS",
    "Comparison",
    "Draw",
    "Drawn",
    "ExpectCheck",
    "PrecisionStatus",
    "check_expectations",
    "comparison_table",
    "default_compare_folder",
    "interval",
    "paired_difference",
    "run_comparison",
    "write_comparison",
]

HEADLINE_METRICS: tuple[str, ...] = (
    "any_neglect_over_365",
    "share_neglect_over_365",
    "neglect_over_365",
    "max_neglect_days",
    "mean_wait_days",
    "target_met_share",
    "mean_backlog",
    "utilisation",
    "hours_lost_to_leave",
)
"""Metrics shown first in the tables and the figures (all metrics go to comparison.csv)."""

COMPARISON_COLUMNS = [
    "metric",
    "scenario",
    "baseline",
    "n",
    "mean",
    "ci_low",
    "ci_high",
    "difference",
    "diff_ci_low",
    "diff_ci_high",
    "significant",
]

Progress = Callable[[int], None]

Draw = Callable[[Result], Mapping[str, bytes]]
"""Draws a scenario's own figures from its traced replication (a :class:`Result` of that one
replication); returns the files' contents by file name. It runs in the worker process that ran
the replication, so it must pickle: a module-level function, or a ``functools.partial`` of one."""


@dataclass(frozen=True)
class Drawn:
    """A scenario's own figures, drawn beside its traced replication by a :data:`Draw`.

    Attributes:
        files: each file's content by file name, in the order drawn.
        error: why drawing failed (the first line of the error), if it did; ``files`` is then
            empty. A figure that cannot be drawn never loses the replication.
    """

    files: dict[str, bytes]
    error: str | None = None


def interval(values: Sequence[float] | np.ndarray, metric: str, confidence: float = 0.95) -> Any:
    """(mean, sd, low, high, n) of a metric across replications: Wilson for indicators."""
    method = proportion_ci if is_indicator(metric) else mean_ci
    return method(values, confidence)


def paired_difference(
    baseline: Sequence[float] | np.ndarray,
    other: Sequence[float] | np.ndarray,
    confidence: float = 0.95,
) -> tuple[float, float, float, int]:
    """Mean of ``other - baseline`` replication by replication, with its Student-t interval.

    Pairs where either value is NaN (a metric undefined in that replication) are left out.

    Returns:
        (mean difference, CI low, CI high, number of pairs)
    """
    a = np.asarray(baseline, dtype=float)
    b = np.asarray(other, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {a.shape} vs {b.shape}")
    d = b - a
    mean, _sd, low, high, n = mean_ci(d[~np.isnan(d)], confidence)
    return mean, low, high, int(n)


def _metric_order(columns: Sequence[str]) -> list[str]:
    rest = [c for c in columns if c not in HEADLINE_METRICS and c not in ("replication",)]
    return [m for m in HEADLINE_METRICS if m in columns] + rest


def comparison_table(
    results: Mapping[str, pd.DataFrame], baseline: str, confidence: float = 0.95
) -> pd.DataFrame:
    """One row per (metric, scenario): mean and CI, and the paired difference from the baseline.

    Args:
        results: per scenario name, its per-replication metrics (a ``replication`` column and
            one column per metric), all with the same replication indices.
        baseline: the name of the baseline scenario (its rows carry no difference).
    """
    columns: list[str] = []
    for frame in results.values():
        columns += [c for c in frame.columns if c not in columns]
    # Each scenario's values by metric, in replication order, taken once (not once per metric).
    tables = {name: frame.set_index("replication").sort_index() for name, frame in results.items()}
    base = tables[baseline]
    for name, table in tables.items():
        if not table.index.equals(base.index):
            raise ValueError(f"{name}: replications differ from the baseline's")
    missing = np.full(len(base.index), np.nan)
    arrays = {
        name: {c: table[c].to_numpy(dtype=float) for c in table.columns}
        for name, table in tables.items()
    }
    rows: list[dict[str, Any]] = []
    for metric in _metric_order(columns):
        base_values = arrays[baseline].get(metric, missing)
        for name in results:
            values = arrays[name].get(metric, missing)
            mean, _sd, low, high, n = interval(values, metric, confidence)
            row: dict[str, Any] = {
                "metric": metric,
                "scenario": name,
                "baseline": name == baseline,
                "n": int(n),
                "mean": mean,
                "ci_low": low,
                "ci_high": high,
                "difference": np.nan,
                "diff_ci_low": np.nan,
                "diff_ci_high": np.nan,
                "significant": False,
            }
            if name != baseline:
                diff, d_low, d_high, _ = paired_difference(base_values, values, confidence)
                if is_indicator(metric):  # a difference of probabilities lies in [-1, 1]
                    d_low, d_high = max(d_low, -1.0), min(d_high, 1.0)
                row.update(difference=diff, diff_ci_low=d_low, diff_ci_high=d_high)
                row["significant"] = bool(d_low > 0 or d_high < 0)
            rows.append(row)
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


# --- thresholds ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectCheck:
    """One ``expect:`` threshold of a scenario against its estimate.

    ``status`` is ``met``; ``broken`` (the whole confidence interval lies beyond the threshold,
    or the metric was not computed); or ``inconclusive`` (the point estimate is beyond the
    threshold but the interval still reaches it: more replications would tell).
    """

    scenario: str
    metric: str
    bound: str
    threshold: float
    mean: float
    ci_low: float
    ci_high: float
    status: str

    @property
    def broken(self) -> bool:
        """Whether the threshold is broken."""
        return self.status == "broken"

    def describe(self) -> str:
        """One line: scenario, metric, bound, estimate and CI, verdict."""
        sign = "<=" if self.bound == "max" else ">="
        return (
            f"{self.scenario}: {self.metric} expected {sign} {self.threshold:g}: estimate "
            f"{self.mean:.4g}, 95% CI [{self.ci_low:.4g}, {self.ci_high:.4g}]: {self.status}"
        )


def check_expectations(scenario: Scenario, summary: pd.DataFrame) -> list[ExpectCheck]:
    """Check a scenario's ``expect:`` thresholds against its summary (metric, mean, ci_low/high).

    A threshold is broken only when the confidence interval lies entirely on the wrong side: a
    CI pipeline then fails on evidence, not on the noise of a finite number of replications.
    A point estimate beyond the threshold with an interval that still reaches it is reported as
    inconclusive (exit 0, with a warning).
    """
    table = summary.set_index("metric")
    checks: list[ExpectCheck] = []
    for metric, bounds in scenario.expect.items():
        for bound, threshold in bounds.model_dump(exclude_none=True).items():
            if metric in table.index:
                row = table.loc[metric, ["mean", "ci_low", "ci_high"]].to_numpy(dtype=float)
                mean, low, high = (float(v) for v in row)
            else:
                mean = low = high = float("nan")
            if math.isnan(mean):
                status = "broken"  # not computed in this scenario: the check cannot pass
            elif bound == "max":
                status = (
                    "broken" if low > threshold else "inconclusive" if mean > threshold else "met"
                )
            else:
                status = (
                    "broken" if high < threshold else "inconclusive" if mean < threshold else "met"
                )
            checks.append(
                ExpectCheck(scenario.name, metric, bound, float(threshold), mean, low, high, status)
            )
    return checks


# --- the precision loop --------------------------------------------------------------------------


@dataclass(frozen=True)
class PrecisionStatus:
    """How precise one scenario's headline metric is after ``n`` replications.

    The target is a CI half-width within ``relative`` × |mean|; when the mean is 0 (say no
    replication had a case neglected for a year) a relative target means nothing, so the
    half-width is held to ``relative`` in the metric's own units instead.
    """

    scenario: str
    metric: str
    n: int
    mean: float
    half_width: float
    target: float
    rule: str

    @property
    def reached(self) -> bool:
        """Whether the half-width is within the target."""
        return bool(self.half_width <= self.target)


def precision_status(
    name: str, values: np.ndarray, metric: str, relative: float, confidence: float = 0.95
) -> PrecisionStatus:
    """The precision reached by one scenario's values of ``metric``."""
    mean, _sd, low, high, n = interval(values, metric, confidence)
    half = (high - low) / 2 if np.isfinite(high - low) else float("inf")
    if mean != 0 and not math.isnan(mean):
        return PrecisionStatus(name, metric, int(n), mean, half, relative * abs(mean), "relative")
    return PrecisionStatus(name, metric, int(n), mean, half, relative, "absolute (mean 0)")


# --- running -------------------------------------------------------------------------------------


@dataclass
class Comparison:
    """The outcome of comparing scenarios.

    Attributes:
        results: per scenario name (in the order given), its :class:`Result`.
        baseline: the baseline's name.
        seed: the root seed every scenario ran with.
        table: the comparison table (see :func:`comparison_table`).
        how_many: how the number of replications was chosen, in words.
        precision: the precision reached per scenario, when a target was set.
        checks: the ``expect:`` checks of every scenario.
        trace_replication: the replication whose timeline was recorded.
        drawn: per scenario, its own figures drawn beside its traced replication (when
            :func:`run_comparison` was given ``draw``).
    """

    results: dict[str, Result]
    baseline: str
    seed: int
    table: pd.DataFrame
    how_many: str
    precision: list[PrecisionStatus] = field(default_factory=list)
    checks: list[ExpectCheck] = field(default_factory=list)
    trace_replication: int | None = 0
    drawn: dict[str, Drawn] = field(default_factory=dict)

    @property
    def replications(self) -> int:
        """Replications per scenario."""
        return len(next(iter(self.results.values())).replications)

    @property
    def broken(self) -> list[ExpectCheck]:
        """The thresholds broken."""
        return [c for c in self.checks if c.broken]


Job = tuple[str, Scenario, int, int, bool, Draw | None]


def _replication(job: Job) -> tuple[str, ReplicationRecords, Drawn | None]:
    """Run one replication; a traced one also has its scenario's figures drawn, here."""
    name, scenario, replication, seed, trace, draw = job
    rec = run_replication(scenario, replication, seed, trace=trace)
    if not trace or draw is None:
        return name, rec, None
    return name, rec, _draw(draw, rec, scenario, seed)


def _draw(draw: Draw, rec: ReplicationRecords, scenario: Scenario, seed: int) -> Drawn:
    """``draw`` on the replication's tables; its failure is returned, never raised."""
    try:
        return Drawn(dict(draw(collect([rec], scenario, seed))))
    except Exception as error:  # the figures must never lose the replication
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        return Drawn({}, reason)


def _run_batch(
    scenarios: Sequence[Scenario],
    indices: range,
    seed: int,
    trace: Sequence[int],
    pool: Executor | None,
    progress: Progress | None,
    workers: int = 1,
    on_scenario: Callable[[str, list[ReplicationRecords]], None] | None = None,
    draw: Draw | None = None,
    drawn: dict[str, Drawn] | None = None,
) -> dict[str, list[ReplicationRecords]]:
    """Replications ``indices`` of every scenario, in ``pool`` if given, sorted by replication.

    ``on_scenario`` is called with each scenario's records as soon as they are all in (they are
    then not returned). With ``draw``, each traced replication's scenario figures are drawn
    where it ran, and put in ``drawn``.
    """
    jobs: list[Job] = [(s.name, s, r, seed, r in trace, draw) for s in scenarios for r in indices]
    out: dict[str, list[ReplicationRecords]] = {s.name: [] for s in scenarios}
    # Jobs go to the workers in chunks (one scenario pickled once per chunk, fewer round trips);
    # a chunk is small enough that the two workers finish together.
    chunk = max(1, min(8, len(jobs) // (8 * workers))) if pool is not None else 1
    done = (
        pool.map(_replication, jobs, chunksize=chunk)
        if pool is not None
        else map(_replication, jobs)
    )
    for name, rec, figures in done:
        if figures is not None and drawn is not None:
            drawn[name] = figures
        got = out[name]
        got.append(rec)
        if progress is not None:
            progress(1)
        if on_scenario is not None and len(got) == len(indices):
            # Results come in job order: this scenario is complete while the pool runs the next.
            on_scenario(name, got)
            out[name] = []  # handed over: not kept twice
    return out


def run_comparison(
    scenarios: Sequence[Scenario],
    *,
    baseline: int = 0,
    replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    precision: float | None = None,
    precision_metric: str = "any_neglect_over_365",
    max_replications: int = 1000,
    trace_replication: int | None = 0,
    progress: Progress | None = None,
    draw: Draw | None = None,
    pool: Executor | None = None,
) -> Comparison:
    """Run every scenario with the same seeds and compare each with the baseline.

    Args:
        scenarios: the scenarios, with distinct names.
        baseline: index of the baseline in ``scenarios``.
        replications: replications per scenario (default: the baseline's ``replications``);
            with ``precision``, the first batch and the size of each further batch.
        seed: the root seed of every scenario (default: the baseline's ``seed``).
        workers: processes to run replications in (the size of ``pool``, when given).
        precision: relative CI half-width to reach on ``precision_metric`` in every scenario
            (e.g. 0.1); replications are added in batches until it is reached or the cap.
        precision_metric: the headline metric the precision applies to.
        max_replications: the cap on replications per scenario under ``precision``.
        trace_replication: the replication whose timeline to record (``None``: none).
        progress: called with 1 after each replication.
        draw: draws each scenario's own figures from its traced replication, in the worker
            that ran it (so both cores draw while they simulate); see :data:`Draw`.
        pool: the worker processes to use (left running); by default a pool of ``workers`` is
            started, and shut down at the end.
    """
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise ValueError(f"scenario names must differ: {names}")
    base = scenarios[baseline]
    root = base.seed if seed is None else seed
    batch = replications or base.replications
    records: dict[str, list[ReplicationRecords]] = {n: [] for n in names}
    done = 0
    target = min(batch, max_replications) if precision is not None else batch
    statuses: list[PrecisionStatus] = []
    results: dict[str, Result] = {}
    by_name = {s.name: s for s in scenarios}
    drawn: dict[str, Drawn] = {}

    def collect_now(name: str, got: list[ReplicationRecords]) -> None:
        results[name] = collect(got, by_name[name], root)

    # One pool for every scenario and batch: starting worker processes costs about a second each.
    own = pool is None and workers > 1
    if own:
        pool = worker_pool(workers)
    try:
        while True:
            indices = range(done, target)
            trace = (
                [trace_replication]
                if trace_replication is not None and trace_replication in indices
                else []
            )
            if precision is None:  # one batch: collect each scenario while the next runs
                _run_batch(
                    scenarios,
                    indices,
                    root,
                    trace,
                    pool,
                    progress,
                    workers,
                    on_scenario=collect_now,
                    draw=draw,
                    drawn=drawn,
                )
                done = target
                break
            for name, got in _run_batch(
                scenarios, indices, root, trace, pool, progress, workers, draw=draw, drawn=drawn
            ).items():
                records[name] += got
            done = target
            statuses = []
            for scenario in scenarios:
                values = np.array(
                    [_metric(rec, scenario, precision_metric) for rec in records[scenario.name]]
                )
                statuses.append(
                    precision_status(scenario.name, values, precision_metric, precision)
                )
            if all(s.reached for s in statuses) or done >= max_replications:
                break
            target = min(done + batch, max_replications)
    finally:
        if own and pool is not None:
            pool.shutdown()

    if precision is not None:
        results = {s.name: collect(records[s.name], s, root) for s in scenarios}
    results = {s.name: results[s.name] for s in scenarios}
    table = comparison_table({n: r.replications for n, r in results.items()}, base.name)
    if precision is None:
        source = "--replications" if replications else f"the baseline's replications ({batch})"
        how_many = f"{done} replications per scenario, fixed in advance ({source})."
    else:
        reached = all(s.reached for s in statuses)
        how_many = (
            f"Sequential confidence-interval method: batches of {batch} replications until the "
            f"95% CI half-width of {precision_metric} was within {precision:.0%} of its mean in "
            f"every scenario (cap {max_replications}). "
            + (f"Reached after {done}." if reached else f"Not reached at the cap ({done}).")
        )
    checks = [c for s in scenarios for c in check_expectations(s, results[s.name].summary)]
    return Comparison(
        results=results,
        baseline=base.name,
        seed=root,
        table=table,
        how_many=how_many,
        precision=statuses,
        checks=checks,
        trace_replication=trace_replication,
        drawn={n: drawn[n] for n in names if n in drawn},
    )


def _metric(rec: ReplicationRecords, scenario: Scenario, metric: str) -> float:
    from sim.analysis.statistics import replication_metrics

    return replication_metrics(rec, scenario).get(metric, float("nan"))


# --- writing -------------------------------------------------------------------------------------


def comparison_manifest(comparison: Comparison, **extra: Any) -> dict[str, Any]:
    """Seed, versions, scenario hashes and replications of a comparison."""
    return {
        "kind": "compare",
        "baseline": comparison.baseline,
        "seed": comparison.seed,
        "replications": comparison.replications,
        "how_many_replications": comparison.how_many,
        "precision": [asdict(s) | {"reached": s.reached} for s in comparison.precision],
        "expect": [asdict(c) for c in comparison.checks],
        "scenarios": {
            name: {
                "scenario_hash": scenario_hash(r.scenario),
                "scenario": scenario_dump(r.scenario),
            }
            for name, r in comparison.results.items()
        },
        "versions": package_versions(),
        **extra,
    }


Extras = Callable[[Comparison, Path], Mapping[str, Any]]


def write_comparison(
    comparison: Comparison,
    out_dir: Path,
    *,
    extras: Extras | None = None,
    extra_manifest: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``comparison.csv``, ``manifest.json`` and ``scenarios/<name>/`` (each scenario's
    result folder) to ``out_dir``, replacing it only once complete.

    Args:
        extras: called with the comparison and the folder being filled, to add figures and the
            report; returns entries for the manifest.
    """

    def fill(tmp: Path) -> None:
        comparison.table.to_csv(tmp / "comparison.csv", index=False)
        data = comparison_manifest(comparison, **dict(extra_manifest or {}))
        for name, result in comparison.results.items():
            write_result(result, tmp / "scenarios" / name, extra_manifest={"comparison": True})
        if extras is not None:
            # Figures and the report must never lose the comparison's data files.
            try:
                data.update(extras(comparison, tmp))
            except Exception as error:
                reason = str(error).splitlines()[0] if str(error) else type(error).__name__
                data["figures_skipped"] = [f"report: {reason}"]
        write_manifest(tmp, data)

    return write_atomically(Path(out_dir), fill)

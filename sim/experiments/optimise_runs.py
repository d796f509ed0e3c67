"""``optimise`` on the simulation: the evaluator that runs replications, and the outputs' data.

:class:`SimulationEvaluator` turns (configuration, replication) jobs into sweep runs
(:class:`~sim.experiments.sweep.RunSpec`, same root seed and replication indices for every
configuration: common random numbers) and runs them with the sweep executors: in this process,
in a process pool, or on Dask. The search asks for runs in many small rounds, so the process pool
is kept for the whole search (a pool per round would pay the workers' start-up every time); each
worker runs :func:`sim.experiments.executors.execute`, exactly what a sweep's workers run.

:func:`frontier_table` is ``frontier.csv``; :func:`recommended_scenario` is the mapping written to
``recommended.yaml``.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd

from sim.experiments.executors import Done, execute, run_sweep
from sim.experiments.feasibility import interval
from sim.experiments.optimise import OptimiseError, Outcome, Point
from sim.experiments.sweep import RunSpec, run_id
from sim.scenario import Scenario, apply_overrides, scenario_dump, validate_mapping
from sim.scenario.space import Space, lever_override

__all__ = ["SimulationEvaluator", "frontier_table", "recommended_scenario"]


class SimulationEvaluator:
    """Runs a decision space's configurations of ``base`` on an executor.

    Args:
        base: the scenario searched.
        space: its decision space.
        seed: the root seed shared by every configuration.
        executor: ``serial``, ``processes`` or ``dask``.
        workers: processes (executor ``processes``).
        scheduler: Dask scheduler address (executor ``dask``).
        on_run: called once per finished replication (a progress bar).
    """

    def __init__(
        self,
        base: Scenario,
        space: Space,
        seed: int,
        *,
        executor: str = "serial",
        workers: int = 1,
        scheduler: str | None = None,
        on_run: Callable[[], None] | None = None,
    ) -> None:
        self.base = scenario_dump(base)
        self.levers = space.levers
        self.values = [lever.ordered() for lever in space.levers]
        self.seed = seed
        self.executor = executor
        self.workers = workers
        self.scheduler = scheduler
        self.on_run = on_run
        self._scenarios: dict[Point, Scenario] = {}
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> SimulationEvaluator:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Shut the process pool down (if one was started)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def params(self, point: Point) -> dict[str, Any]:
        """Lever key → value of a configuration."""
        return {
            lever.key: values[i]
            for lever, values, i in zip(self.levers, self.values, point, strict=True)
        }

    def scenario(self, point: Point) -> Scenario:
        """The scenario of a configuration (validated once, then cached)."""
        if point not in self._scenarios:
            overrides = [lever_override(k, v) for k, v in self.params(point).items()]
            data = apply_overrides(self.base, overrides, "optimise")
            self._scenarios[point] = validate_mapping(data, "optimise")
        return self._scenarios[point]

    def __call__(self, jobs: Sequence[tuple[Point, int]]) -> list[Mapping[str, float]]:
        """Run the jobs (in parallel on the executor); one metric row per job, in order."""
        runs: list[RunSpec] = []
        for number, (point, replication) in enumerate(jobs):
            scenario = self.scenario(point)
            ident = run_id(scenario, self.seed, replication)
            runs.append(
                RunSpec(ident, number, replication, self.seed, scenario, self.params(point))
            )
        if self.executor == "processes" and self.workers > 1:
            return self._pooled(runs)
        rows: dict[int, dict[str, Any]] = {}
        failures: list[Done] = []

        def on_done(done: Done) -> None:
            if done.row is None:
                failures.append(done)
            else:
                rows[done.run.point] = done.row
            if self.on_run is not None:
                self.on_run()

        run_sweep(runs, on_done, self.executor, workers=self.workers, scheduler=self.scheduler)
        if failures:
            first = failures[0]
            raise OptimiseError(
                f"replication {first.run.replication} of {first.run.params} failed: {first.error}"
            )
        return [rows[i] for i in range(len(runs))]

    def _pooled(self, runs: list[RunSpec]) -> list[Mapping[str, float]]:
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
        futures: list[Future[Any]] = [self._pool.submit(execute, run) for run in runs]
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when="FIRST_COMPLETED")
            for _ in done:
                if self.on_run is not None:
                    self.on_run()
        rows: list[Mapping[str, float]] = []
        for run, future in zip(runs, futures, strict=True):
            try:
                rows.append(future.result().row)
            except Exception as error:  # a worker died or the run raised: the search stops
                raise OptimiseError(
                    f"replication {run.replication} of {run.params} failed: "
                    f"{type(error).__name__}: {error}"
                ) from None
        return rows


def frontier_table(outcome: Outcome) -> pd.DataFrame:
    """``frontier.csv``: one row per simulated configuration, cheapest first.

    Columns: the levers, ``cost``, per constrained metric its ``mean``, ``ci_low`` and
    ``ci_high`` (screening replications, the space's confidence), ``replications`` (screening
    plus confirmation), ``feasible`` (yes / no / undecided), ``status`` (the search's word:
    feasible, infeasible, undecided, stopped), ``confirmed`` (yes / no / empty when not tried),
    ``recommended``.
    """
    metrics = list(dict.fromkeys(b.metric for b in outcome.bounds))
    rows: list[dict[str, Any]] = []
    for e in sorted(outcome.evaluated, key=lambda e: (e.cost, e.point)):
        row: dict[str, Any] = dict(e.values)
        row["cost"] = e.cost
        for metric in metrics:
            mean, low, high = interval(metric, e.data[metric], outcome.confidence)
            row |= {f"{metric}_mean": mean, f"{metric}_ci_low": low, f"{metric}_ci_high": high}
        extra = len(e.confirmation["replications"]) if e.confirmation else 0
        row["replications"] = e.replications + extra
        row["feasible"] = {"feasible": "yes", "infeasible": "no"}.get(e.status, "undecided")
        if e.confirmation is not None and not e.confirmation["passed"]:
            row["feasible"] = "undecided"
        row["status"] = e.status
        row["confirmed"] = (
            "" if e.confirmation is None else "yes" if e.confirmation["passed"] else "no"
        )
        row["recommended"] = "yes" if e is outcome.recommended else ""
        rows.append(row)
    return pd.DataFrame(rows)


def _path_key(key: str, data: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """Split a dotted key at its first list: (path to the list or value, rest)."""
    parts = key.split(".")
    node: Any = data
    for i, part in enumerate(parts):
        if isinstance(node, list):
            return parts[:i], parts[i:]
        node = node.get(part) if isinstance(node, Mapping) else None
    return parts, []


def recommended_scenario(
    base_path: Path, base: Scenario, outcome: Outcome, out_dir: Path
) -> dict[str, Any]:
    """The mapping of ``recommended.yaml``: ``extends`` the input and sets only the levers.

    ``extends`` merges mappings key by key but replaces lists whole, so a lever inside a list
    (``team.detectives.0.count``) is written as the whole list with that item changed.
    """
    assert outcome.recommended is not None
    dumped = scenario_dump(base)
    parent = os.path.relpath(base_path.resolve(), out_dir.resolve())
    out: dict[str, Any] = {"extends": parent}
    changed = apply_overrides(
        dumped, [lever_override(k, v) for k, v in outcome.recommended.values.items()], "optimise"
    )
    for key in outcome.recommended.values:
        head, _rest = _path_key(key, dumped)
        src: Any = changed
        for part in head:
            src = src[part]
        node = out
        for part in head[:-1]:
            node = node.setdefault(part, {})
        node[head[-1]] = src
    return out

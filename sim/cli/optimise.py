"""The ``optimise`` command (assembled into the group by :mod:`sim.cli.app`).

Exit status: 0 a configuration is recommended; 1 none could be (nothing in the space was
confirmed feasible, or the budget ran out first); 2 bad input (one line per problem, nothing
written); 3 a replication failed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from sim.cli.common import set_option, workers_option

__all__ = ["optimise"]


@click.command(
    short_help="Find the cheapest configuration of a decision space that meets its constraints."
)
@click.argument("scenario")
@click.option(
    "--space",
    "space_file",
    required=True,
    metavar="SPACE.yaml",
    help="The decision space: levers, costs, constraints (docs/optimise.md).",
)
@click.option(
    "--budget-replications",
    type=click.IntRange(min=1),
    metavar="N",
    help="Replications the whole search may spend (default: no limit).",
)
@click.option(
    "--out",
    type=click.Path(),
    help="Output folder (default results/optimise/<name>).",
)
@set_option("the scenario for every configuration")
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    help="Root seed shared by all configurations, so that they are compared under common "
    "random numbers (default: the scenario's seed:).",
)
@click.option(
    "--initial-replications",
    type=click.IntRange(min=2),
    default=10,
    show_default=True,
    help="Replications each configuration starts with.",
)
@click.option(
    "--max-replications",
    type=click.IntRange(min=2),
    default=80,
    show_default=True,
    help="Screening replications per configuration, at most; also each confirmation's.",
)
@click.option(
    "--indifference",
    type=click.FloatRange(min=0, min_open=True),
    metavar="D",
    help="Among feasible configurations of equal cost, risks closer than D count as equal "
    "(unit of the first constraint's metric; default a tenth of its threshold).",
)
@click.option(
    "--executor",
    type=click.Choice(["serial", "processes", "dask"]),
    default="processes",
    show_default=True,
    help="Where replications run: this process, a pool of --workers processes, or a Dask "
    "distributed cluster at --scheduler.",
)
@workers_option()
@click.option(
    "--scheduler",
    metavar="tcp://HOST:PORT",
    help="The Dask scheduler's address (with --executor dask).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def optimise(
    scenario: str,
    space_file: str,
    budget_replications: int | None,
    out: str | None,
    overrides: tuple[str, ...],
    seed: int | None,
    initial_replications: int,
    max_replications: int,
    indifference: float | None,
    executor: str,
    workers: int,
    scheduler: str | None,
    quiet: bool,
) -> None:
    """Find the cheapest configuration of --space that meets the constraints, with a guarantee."""
    import yaml

    from sim.cli.common import fail_input, load_or_exit
    from sim.experiments.executors import ExecutorError
    from sim.experiments.optimise import OptimiseError, Settings
    from sim.experiments.optimise import optimise as search
    from sim.experiments.optimise_runs import (
        SimulationEvaluator,
        frontier_table,
        recommended_scenario,
    )
    from sim.report.optimise import guarantee_text, write_optimise_report
    from sim.scenario import ScenarioError
    from sim.scenario.space import load_space

    base = load_or_exit(scenario, overrides)
    problems: list[str] = []
    try:
        space, constraints = load_space(space_file, base)
    except ScenarioError as error:
        fail_input(error.problems)
    if max_replications < initial_replications:
        problems.append("--max-replications: must be at least --initial-replications")
    if executor == "dask" and not scheduler:
        problems.append("--executor dask needs --scheduler tcp://HOST:PORT")
    if budget_replications is not None and budget_replications < max_replications:
        problems.append("--budget-replications: must be at least --max-replications")
    if problems:
        fail_input(problems)
    root_seed = base.seed if seed is None else seed
    from sim.cli.safety import check_folder_path

    # optimise writes these files into its folder: it may rewrite a folder holding only them.
    written_here = frozenset({"frontier.csv", "recommended.yaml", "report.html", "*.png", "*.svg"})
    folder = check_folder_path(
        out if out else str(Path("results") / "optimise" / base.name), allowed=written_here
    )

    bar: Any = None
    if not quiet:
        from tqdm import tqdm

        bar = tqdm(desc="optimise", unit="rep", file=sys.stderr, total=budget_replications)

    def on_run() -> None:
        if bar is not None:
            bar.update(1)

    def on_round(spent: int, simulated: int) -> None:
        if bar is not None:
            bar.set_postfix(configurations=simulated, refresh=False)

    settings = Settings(
        initial=initial_replications,
        maximum=max_replications,
        budget=budget_replications,
        width=max(2, workers),
        indifference=indifference,
    )
    evaluator = SimulationEvaluator(
        base,
        space,
        root_seed,
        executor=executor,
        workers=workers,
        scheduler=scheduler,
        on_run=on_run,
    )
    try:
        with evaluator:
            outcome = search(space, constraints, evaluator, settings, on_round=on_round)
    except ExecutorError as error:
        fail_input([str(error)])
    except OptimiseError as error:
        click.echo(f"optimise: {error}", err=True)
        sys.exit(3)
    finally:
        if bar is not None:
            bar.close()

    folder.mkdir(parents=True, exist_ok=True)
    frontier = frontier_table(outcome)
    frontier.to_csv(folder / "frontier.csv", index=False)
    written = [folder / "frontier.csv"]
    chosen = outcome.recommended
    warnings: list[str] = []
    if outcome.budget_exhausted:
        warnings.append(
            "The replication budget ran out before the search finished: a cheaper "
            "configuration may exist."
        )
    if chosen is not None:
        cheaper = [
            e
            for e in outcome.evaluated
            if e.cost < chosen.cost and e.status in ("undecided", "stopped")
        ]
        if cheaper:
            warnings.append(
                f"{len(cheaper)} cheaper configuration(s) stayed undecided after "
                f"{max_replications} replications (see the table): one of them may "
                "be feasible too; raise --max-replications to decide them."
            )
        mapping = recommended_scenario(Path(scenario), base, outcome, folder)
        header = (
            f"# The cheapest configuration of {space_file} found to meet the constraints"
            f" by polit-sim optimise\n# (cost {chosen.cost:,.6g}; see report.html).\n"
        )
        (folder / "recommended.yaml").write_text(
            header + yaml.safe_dump(mapping, sort_keys=False), encoding="utf-8"
        )
        written.append(folder / "recommended.yaml")
    confirmations = sum(1 for e in outcome.evaluated if e.confirmation is not None)
    confirming = sum(
        len(e.confirmation["replications"]) for e in outcome.evaluated if e.confirmation is not None
    )
    limits = [(b.metric, b.side, b.limit) for b in outcome.bounds]
    summary: dict[str, Any] = {
        "name": base.name,
        "recommended": chosen.values if chosen else None,
        "recommended_cost": chosen.cost if chosen else None,
        "why_none": (
            "the replication budget ran out"
            if outcome.budget_exhausted
            else "no configuration of the space was confirmed to meet the constraints"
        ),
        "warnings": warnings,
        "limits": limits,
        "configurations": outcome.configurations,
        "implied": outcome.implied,
        "screening": outcome.spent - confirming - outcome.selection_replications,
        "confirming": confirming,
        "selecting": outcome.selection_replications,
        "spent": outcome.spent,
        "exhaustive": outcome.exhaustive,
        "guarantee": guarantee_text(outcome.confidence, len(limits), confirmations),
    }
    written += write_optimise_report(folder, frontier, summary)
    if chosen is not None:
        levers = ", ".join(f"{k}={v}" for k, v in chosen.values.items())
        click.echo(f"{base.name}: recommended {levers} (cost {chosen.cost:,.6g})")
    else:
        click.echo(f"{base.name}: no configuration recommended ({summary['why_none']})")
    click.echo(
        f"  {outcome.spent} replications ({outcome.ratio:.1%} of an exhaustive search's"
        f" {outcome.exhaustive}), {len(outcome.evaluated)} of {outcome.configurations}"
        f" configurations simulated -> {folder}"
    )
    for line in warnings:
        click.echo(f"  warning: {line}", err=True)
    if chosen is None:
        sys.exit(1)

"""The ``polit-sim`` command line: parsing, progress, exit codes. The only module that prints.

Exit status: 0 success; 1 a run finished but something it checks failed; 2 bad input (one line per
problem on standard error, naming the file and the dotted field; nothing written).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from sim.compare_cli import compare
from sim.scenario import Scenario, ScenarioError, load_scenario
from sim.sweep_cli import sweep, sweep_report

__all__ = ["cli", "main"]


def fail_input(problems: Sequence[str]) -> NoReturn:
    """Report bad input, one line per problem, and exit with status 2."""
    for line in problems:
        click.echo(line, err=True)
    sys.exit(2)


def load_or_exit(path: str, overrides: Sequence[str] = ()) -> Scenario:
    """Load a scenario, or report its problems and exit 2."""
    try:
        return load_scenario(path, overrides)
    except ScenarioError as error:
        fail_input(error.problems)


class ProgressBar:
    """A tqdm bar on standard error, silent when ``enabled`` is false."""

    def __init__(self, total: int, description: str, enabled: bool = True) -> None:
        self._bar: Any = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=description, unit="rep", file=sys.stderr)

    def __call__(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="polit-sim")
def cli() -> None:
    """polit-sim: capacity and neglect risk of an online child-abuse investigation team."""


@cli.command()
@click.argument("files", nargs=-1, required=True)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a field of every file before checking it, as run does.",
)
def validate(files: tuple[str, ...], overrides: tuple[str, ...]) -> None:
    """Check scenario files against the schema; exit 2 if any is invalid."""
    problems: list[str] = []
    for path in files:
        try:
            load_scenario(path, overrides)
        except ScenarioError as error:
            problems.extend(error.problems)
        else:
            click.echo(f"{path}: valid")
    if problems:
        fail_input(problems)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of scenario files."""
    click.echo(json.dumps(Scenario.model_json_schema(by_alias=True), indent=2))


@cli.command()
@click.argument("file")
@click.option("--replications", "-r", type=click.IntRange(min=1), help="Override replications.")
@click.option("--seed", type=click.IntRange(min=0), help="Override the root seed.")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a scenario field, e.g. policies.work_order.rule=oldest_first.",
)
@click.option("--out", type=click.Path(file_okay=False), help="Output folder.")
@click.option(
    "--workers",
    "-w",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Processes to run replications in.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def run(
    file: str,
    replications: int | None,
    seed: int | None,
    overrides: tuple[str, ...],
    out: str | None,
    workers: int,
    quiet: bool,
) -> None:
    """Run a scenario's replications and write results/<name>/ (or --out).

    Exits 1 when one of the scenario's ``expect:`` thresholds is broken (results are written).
    """
    from sim.experiment import simulate
    from sim.plots import backlog_figure, neglect_survival_figure, save_figure
    from sim.results import write_result

    scenario = load_or_exit(file, overrides)
    n = replications or scenario.replications
    out_dir = Path(out) if out else Path("results") / scenario.name
    bar = ProgressBar(n, scenario.name, enabled=not quiet)
    try:
        result = simulate(scenario, n, seed, workers=workers, progress=bar)
    finally:
        bar.close()

    def figures(res: Any, folder: Path) -> list[Path]:
        paths = save_figure(
            backlog_figure({res.scenario.name: res.backlog}, res.scenario.warmup_days),
            folder,
            "backlog",
        )
        paths += save_figure(
            neglect_survival_figure({res.scenario.name: res.cases}), folder, "neglect_survival"
        )
        return paths

    write_result(
        result, out_dir, figures=figures, extra_manifest={"command": ["polit-sim", *sys.argv[1:]]}
    )
    summary = result.summary.set_index("metric")
    click.echo(f"{scenario.name}: {n} replications -> {out_dir}")
    for metric in ("any_neglect_over_365", "share_neglect_over_365", "utilisation", "mean_backlog"):
        row = summary.loc[metric]
        click.echo(f"  {metric:24s} {row['mean']:.4g}  [{row['ci_low']:.4g}, {row['ci_high']:.4g}]")
    from sim.compare import check_expectations

    checks = check_expectations(scenario, result.summary)
    for check in checks:
        if check.status != "met":
            click.echo(check.describe(), err=True)
    if any(check.broken for check in checks):
        sys.exit(1)


cli.add_command(sweep)
cli.add_command(sweep_report)
cli.add_command(compare)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``polit-sim`` console script."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="polit-sim")

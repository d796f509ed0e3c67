"""The ``validate``, ``schema`` and ``run`` commands; the work is in :mod:`sim.experiments`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from sim.cli.common import (
    ProgressBar,
    fail_input,
    load_or_exit,
    set_option,
    workers_option,
    xlsx_options,
)
from sim.cli.safety import check_out_dir, preflight_or_exit
from sim.scenario import Scenario, ScenarioError, load_scenario

__all__ = ["run", "schema", "validate", "write_snapshots"]


def write_snapshots(result: Any, folder: Path) -> list[Path]:
    """Write each replication's captured state as a snapshot pair; returns the folders."""
    from sim.state.initial import snapshot_from_captured
    from sim.state.snapshot import write_snapshot

    written = []
    for replication, captured in sorted(result.captured.items()):
        snapshot = snapshot_from_captured(captured, result.scenario)
        target = folder / f"replication_{replication}"
        target.mkdir(parents=True)
        write_snapshot(snapshot, target / "open_cases.csv", target / "absences.csv")
        (target / "as_of.txt").write_text(snapshot.as_of.isoformat() + "\n", encoding="utf-8")
        written.append(target)
    return written


@click.command(short_help="Check scenario files against the schema; exit 2 if any is invalid.")
@click.argument("files", nargs=-1, required=True)
@set_option("every file before checking it, as run does")
def validate(files: tuple[str, ...], overrides: tuple[str, ...]) -> None:
    """Check scenario files against the schema; exit 2 if any is invalid.

    Each problem is one line on standard error naming the file and the dotted field, with a
    suggestion where a key or rule looks misspelt.
    """
    from sim.experiments.budget import preflight_problems

    problems: list[str] = []
    for path in files:
        try:
            scenario = load_scenario(path, overrides)
        except ScenarioError as error:
            problems.extend(error.problems)
            continue
        too_big = preflight_problems(scenario, scenario.replications, source=path)
        if too_big:
            problems.extend(too_big)
        else:
            click.echo(f"{path}: valid")
    if problems:
        fail_input(problems)


@click.command(short_help="Print the JSON Schema of scenario files.")
def schema() -> None:
    """Print the JSON Schema of scenario files (for editors that check YAML as you type)."""
    click.echo(json.dumps(Scenario.model_json_schema(by_alias=True), indent=2))


@click.command(short_help="Run one scenario's replications and write its results and report.")
@click.argument("file")
@click.option(
    "--replications",
    "-r",
    type=click.IntRange(min=1),
    help="Number of replications (default: the scenario's replications:).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    help="Root seed of the random streams (default: the scenario's seed:).",
)
@set_option("the scenario")
@click.option(
    "--out",
    type=click.Path(),
    help="Output folder (default results/NAME, NAME the scenario's name:).",
)
@workers_option()
@xlsx_options("the summary, every replication and the per-case table")
@click.option(
    "--no-figures", is_flag=True, help="Write the tables only (no figures, no report.html)."
)
@click.option(
    "--snapshot-at",
    "snapshot_at",
    type=click.FloatRange(min=0),
    help="Also write each replication's open cases and absences at this day, in the formats "
    "forecast reads: DIR/snapshots/replication_<k>/open_cases.csv and absences.csv.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def run(
    file: str,
    replications: int | None,
    seed: int | None,
    overrides: tuple[str, ...],
    out: str | None,
    workers: int,
    xlsx: bool,
    cases_csv: bool,
    no_figures: bool,
    snapshot_at: float | None,
    quiet: bool,
) -> None:
    """Run a scenario's replications and write results/NAME/ (or --out).

    Writes cases.parquet, replications.parquet, backlog.parquet, detectives.parquet,
    summary.csv, manifest.json, the figures (PNG and SVG) and report.html: the same
    decision-first report as compare, for one scenario. Exits 1 when one of the scenario's
    expect: thresholds is broken (the results are written all the same).
    """
    scenario = load_or_exit(file, overrides)
    if snapshot_at is not None and snapshot_at > scenario.horizon_days:
        fail_input(
            [f"--snapshot-at: day {snapshot_at:g} is after horizon_days {scenario.horizon_days:g}"]
        )
    n = replications or scenario.replications
    out_dir = check_out_dir(out if out is not None else str(Path("results") / scenario.name), "run")
    preflight_or_exit(scenario, n, workers, file)

    # Imported once the input is known to be good: bad input is refused without loading them.
    from sim.analysis.warmup import warmup_check
    from sim.engine.budget import WorkLimitExceeded
    from sim.experiments.replications import simulate
    from sim.experiments.results import write_result

    bar = ProgressBar(n, scenario.name, enabled=not quiet)
    try:
        result = simulate(
            scenario, n, seed, workers=workers, trace=(0,), progress=bar, capture_at=snapshot_at
        )
    except WorkLimitExceeded as error:
        bar.close()
        fail_input([f"{file}: {error}"])
    finally:
        bar.close()
    skipped: list[str] = []

    def extras(res: Any, folder: Path) -> list[Path]:
        paths: list[Path] = []
        if not no_figures:
            from sim.report.compare import result_report

            # Figures and the report must never lose the run's data files.
            try:
                paths += result_report(res, folder)
            except Exception as error:
                reason = str(error).splitlines()[0] if str(error) else type(error).__name__
                skipped.append(f"report: {reason}")
        if xlsx:
            from sim.report.excel import result_sheets, write_workbook

            sheets = result_sheets(res.summary, res.replications, res.cases)
            for note in write_workbook(folder / "results.xlsx", sheets):
                click.echo(f"results.xlsx: {note}", err=True)
            paths.append(folder / "results.xlsx")
        if cases_csv:
            res.cases.to_csv(folder / "cases.csv", index=False)
            paths.append(folder / "cases.csv")
        if res.captured:  # the snapshots, written into the same folder at the same time
            write_snapshots(res, folder / "snapshots")
        return paths

    warmup = warmup_check(result.backlog, scenario.warmup_days)
    extra: dict[str, Any] = {"command": ["polit-sim", *sys.argv[1:]]}
    if warmup is not None:
        extra["warmup_check"] = {
            "method": "MSER-5 on the mean backlog",
            "warmup_days": warmup.warmup_days,
            "truncation_days": warmup.truncation_days,
            "settled": warmup.settled,
            "too_short": warmup.too_short,
        }
    if snapshot_at is not None:
        from sim.state.initial import snapshot_from_captured

        first = snapshot_from_captured(result.captured[0], scenario)
        extra["snapshot_at_day"] = snapshot_at
        extra["snapshot_as_of"] = first.as_of.isoformat()
    write_result(result, out_dir, figures=extras, extra_manifest=extra)
    if warmup is not None and warmup.too_short:
        click.echo(warmup.describe(scenario.name), err=True)
    for line in skipped:
        click.echo(f"warning: figure {line} (skipped; the data files are written)", err=True)
    summary = result.summary.set_index("metric")
    click.echo(f"{scenario.name}: {n} replications -> {out_dir}")
    if snapshot_at is not None:
        click.echo(
            f"  snapshots at day {snapshot_at:g} ({extra['snapshot_as_of']}): "
            f"{out_dir / 'snapshots'}/replication_<k>/"
        )
    for metric in ("any_neglect_over_365", "share_neglect_over_365", "utilisation", "mean_backlog"):
        row = summary.loc[metric]
        click.echo(f"  {metric:24s} {row['mean']:.4g}  [{row['ci_low']:.4g}, {row['ci_high']:.4g}]")
    from sim.experiments.compare import check_expectations

    checks = check_expectations(scenario, result.summary)
    for check in checks:
        if check.status != "met":
            click.echo(check.describe(), err=True)
    if any(check.broken for check in checks):
        sys.exit(1)

"""The ``backtest`` command: a scenario simulated over a log's period against what happened."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sim.cli.calibrate import read_log_or_exit
from sim.cli.common import ProgressBar, fail_input, load_or_exit, workers_option

__all__ = ["backtest_command"]


@click.command(
    "backtest", short_help="Simulate a scenario over a log's period and compare with what happened."
)
@click.argument("log_dir")
@click.argument("scenario_file")
@click.option(
    "--replications",
    "-r",
    type=click.IntRange(min=10),
    default=40,
    show_default=True,
    help="Replications, whose spread gives the 90% bands the log is checked against.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    help="Root seed of the random streams (default: the scenario's seed:).",
)
@click.option(
    "--min-coverage",
    type=click.FloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="Exit 1 when the coverage of the 90% band is below this.",
)
@click.option(
    "--cut-date",
    help="Start from the log's state on this date (its open cases and absences) instead of its "
    "first day; only the months after it are compared.",
)
@click.option(
    "--out",
    type=click.Path(),
    help="Folder for the back-test report.",
)
@workers_option()
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def backtest_command(
    log_dir: str,
    scenario_file: str,
    replications: int,
    seed: int | None,
    min_coverage: float,
    out: str | None,
    workers: int,
    quiet: bool,
    cut_date: str | None,
) -> None:
    """Simulate SCENARIO_FILE over the period of the log in LOG_DIR, from the log's start, and
    show the observed backlog, closures, waits and gaps against the simulated 90% bands.
    """
    from sim.cli.safety import check_folder_path
    from sim.experiments.backtest import backtest
    from sim.state.case_log import CaseLog

    scenario = load_or_exit(scenario_file)
    if out:
        allowed = frozenset({"backtest.html", "*.png", "*.svg", "*.csv"})
        check_folder_path(out, allowed=allowed)
    log = read_log_or_exit(log_dir, scenario)
    assert isinstance(log, CaseLog)
    cut_day = None
    if cut_date is not None:
        import pandas as pd

        try:
            cut_day = int((pd.Timestamp(cut_date).normalize() - log.start).days)
        except ValueError:
            fail_input([f"--cut-date: {cut_date!r} is not an ISO date"])
        if not 0 < cut_day < log.end_day - 31:
            fail_input(
                [
                    f"--cut-date: {cut_date} is not inside the log's period "
                    f"({log.start.date()} to {log.date_of(log.end_day - 1).date()}) with a month "
                    "after it"
                ]
            )
    bar = ProgressBar(replications, scenario.name, enabled=not quiet)
    try:
        result = backtest(
            scenario,
            log,
            replications=replications,
            seed=seed,
            workers=workers,
            cut_day=cut_day,
            progress=bar,
        )
    finally:
        bar.close()
    click.echo(
        f"{scenario.name} on {log_dir}: coverage {result.coverage:.0%} of months inside the "
        f"90% band (backlog {result.backlog_coverage:.0%}, closures "
        f"{result.closures_coverage:.0%}; {replications} replications"
        + (f", from the log's state on {result.cut_date})" if result.cut_date else ")")
    )
    if out:
        from sim.report.calibration import write_backtest_report

        write_backtest_report(result, Path(out), scenario.name)
        click.echo(f"report -> {Path(out) / 'backtest.html'}")
    if result.coverage < min_coverage:
        click.echo(
            f"coverage {result.coverage:.0%} is below --min-coverage {min_coverage:.0%}", err=True
        )
        sys.exit(1)

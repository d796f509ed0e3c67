"""The ``export-log`` command: a simulated replication written as a case-event log."""

from __future__ import annotations

import click

from sim.cli.common import fail_input, load_or_exit, set_option

__all__ = ["export_log_command"]


@click.command(
    "export-log", short_help="Simulate one replication and write it as a case-event log."
)
@click.argument("file")
@click.option(
    "--replication",
    "-k",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Which replication to write (its randomness is that of the same replication of "
    "run and compare).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    help="Root seed of the random streams (default: the scenario's seed:).",
)
@set_option("the scenario, e.g. horizon_days=730")
@click.option(
    "--out",
    required=True,
    type=click.Path(),
    help="Folder for events.csv, absences.csv and staff.csv.",
)
@click.option(
    "--start-date",
    help="The calendar date of day 0 (default: the scenario's start_date, else 2024-01-01).",
)
@click.option(
    "--no-hours",
    is_flag=True,
    help="Leave the hours column empty, as in a case system that records no hours.",
)
@click.option(
    "--dates-only",
    is_flag=True,
    help="Write dates rather than date-times, as in a case system that records only days.",
)
def export_log_command(
    file: str,
    replication: int,
    seed: int | None,
    overrides: tuple[str, ...],
    out: str,
    start_date: str | None,
    no_hours: bool,
    dates_only: bool,
) -> None:
    """Simulate one replication of FILE and write it as a case-event log (see docs/calibration.md).

    The whole run is written, from day 0 (an empty team) to the horizon.
    """
    from pathlib import Path

    import pandas as pd

    from sim.cli.safety import check_folder_path
    from sim.experiments.export_log import export_log

    scenario = load_or_exit(file, overrides)
    check_folder_path(out, allowed=frozenset({"events.csv", "absences.csv", "staff.csv"}))
    if start_date is not None:
        try:
            pd.Timestamp(start_date)
        except ValueError:
            fail_input([f"--start-date: {start_date!r} is not an ISO date"])
    written = export_log(
        scenario,
        replication,
        Path(out),
        seed=seed,
        start_date=start_date,
        with_hours=not no_hours,
        dates_only=dates_only,
    )
    click.echo(
        f"{scenario.name}: replication {replication}: {written.cases} cases, {written.events} "
        f"events, {written.absences} absences -> {out}"
    )

"""The ``forecast`` command: today's open caseload, forward under one or more scenarios.

Exit status: 0 forecast written; 2 bad input (a scenario, the snapshot files or the options: one
line per problem naming the file, row and column; nothing run, nothing written); 3 an internal
error (one line; nothing written).
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path
from typing import Any

import click

from sim.cli.common import ProgressBar, fail_input, set_option, workers_option
from sim.scenario import Scenario, ScenarioError, load_scenario, scenario_dump, scenario_hash

__all__ = ["forecast"]


def _as_of(value: str) -> datetime.date:
    from sim.state.snapshot import parse_date

    try:
        return parse_date(value)
    except ValueError:
        fail_input([f"--as-of: {value!r} is not an ISO date such as 2024-03-01"])


@click.command(
    short_help="Forecast today's open cases under each scenario; warn about those likely to rot."
)
@click.argument("scenarios", nargs=-1, required=True)
@click.option(
    "--cases",
    "cases_path",
    required=True,
    help="open_cases.csv: today's open cases, one row each (columns in docs/forecast.md).",
)
@click.option(
    "--absences",
    "absences_path",
    help="absences.csv: absences under way or planned (detective, start, end, kind; "
    "docs/forecast.md).",
)
@click.option(
    "--as-of",
    "as_of",
    required=True,
    help="The date the snapshot was taken (YYYY-MM-DD): day 0 of the forecast.",
)
@click.option(
    "--horizon-days",
    type=click.FloatRange(min=1),
    default=365.0,
    show_default=True,
    help="How far ahead to forecast (days from --as-of).",
)
@click.option(
    "--replications",
    "-r",
    type=click.IntRange(min=1),
    help="Replications per scenario (default: the first scenario's replications:).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    help="Root seed shared by every scenario (default: the first scenario's seed:).",
)
@set_option("every scenario")
@click.option(
    "--out",
    type=click.Path(),
    help="Output folder (default results/forecast_NAME, NAME the first scenario's name:).",
)
@workers_option()
@click.option(
    "--xlsx",
    is_flag=True,
    help="Also write results.xlsx: one Excel workbook with the early-warning list, the "
    "comparison of the scenarios, every case's risks and the backlog forecast (cut at "
    "Excel's 1,048,576 rows, with a note saying so).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def forecast(
    scenarios: tuple[str, ...],
    cases_path: str,
    absences_path: str | None,
    as_of: str,
    horizon_days: float,
    replications: int | None,
    seed: int | None,
    overrides: tuple[str, ...],
    out: str | None,
    workers: int,
    xlsx: bool,
    quiet: bool,
) -> None:
    """Forecast today's open cases under each SCENARIO and warn about the cases likely to rot.

    Writes DIR/report.html (the early-warning list first), DIR/<scenario>/case_risk.csv and
    backlog.csv, DIR/comparison.csv (with several scenarios) and DIR/manifest.json.
    """
    from sim.state.snapshot import SnapshotError, read_snapshot

    date = _as_of(as_of)
    problems: list[str] = []
    loaded: list[Scenario] = []
    for path in scenarios:
        try:
            loaded.append(load_scenario(path, overrides))
        except ScenarioError as error:
            problems.extend(error.problems)
    names = [s.name for s in loaded]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"{name}: two scenarios have this name (outputs are kept by name)")
    snapshot = None
    for scenario in loaded:
        try:
            snapshot = read_snapshot(cases_path, absences_path, scenario, date)
            if scenario.start_date is not None and date < scenario.start_date:
                problems.append(
                    f"--as-of: {date.isoformat()} is before {scenario.name}'s start_date "
                    f"{scenario.start_date.isoformat()}"
                )
        except SnapshotError as error:
            problems.extend(p for p in error.problems if p not in problems)
    if problems or snapshot is None:
        fail_input(problems or ["no scenario"])
    try:
        _run(loaded, snapshot, horizon_days, replications, seed, out, workers, quiet, xlsx)
    except Exception as error:  # a fault of polit-sim itself: one line, not a traceback
        click.echo(f"internal error: {type(error).__name__}: {error}", err=True)
        sys.exit(3)


def _run(
    loaded: list[Scenario],
    snapshot: Any,
    horizon_days: float,
    replications: int | None,
    seed: int | None,
    out: str | None,
    workers: int,
    quiet: bool,
    xlsx: bool = False,
) -> None:
    from sim.cli.safety import check_out_dir
    from sim.experiments.forecast import forecast as run_forecast
    from sim.experiments.forecast import replications_for_precision
    from sim.experiments.results import manifest, write_atomically, write_manifest
    from sim.report.forecast import early_warning, write_figures_and_report

    n = replications or loaded[0].replications
    default = str(Path("results") / f"forecast_{loaded[0].name}")
    out_dir = check_out_dir(out if out is not None else default, "forecast")
    bar = ProgressBar(n * len(loaded), "forecast", enabled=not quiet)
    try:
        result = run_forecast(
            loaded,
            snapshot,
            horizon_days=horizon_days,
            replications=n,
            seed=seed,
            workers=workers,
            progress=bar,
        )
    finally:
        bar.close()
    probabilities = [
        p
        for sf in result.scenarios
        for column in ("p_neglect_over_180", "p_neglect_over_365", "p_closed_by_horizon")
        for p in sf.case_risk[column]
    ]
    needed = replications_for_precision(probabilities, 0.05)
    info: dict[str, Any] = {
        "command": ["polit-sim", *sys.argv[1:]],
        "as_of": snapshot.as_of.isoformat(),
        "horizon_days": horizon_days,
        "horizon_date": result.horizon_date.isoformat(),
        "open_cases": len(snapshot.cases),
        "absences": len(snapshot.absences),
        "scenarios": [s.name for s in loaded],
        "replications_for_0.05": needed,
    }

    def fill(tmp: Path) -> None:
        for sf in result.scenarios:
            folder = tmp / sf.scenario.name
            folder.mkdir()
            sf.case_risk.to_csv(folder / "case_risk.csv", index=False)
            sf.backlog.to_csv(folder / "backlog.csv", index=False)
        contrasts = result.contrasts(365)
        if not contrasts.empty:
            contrasts.to_csv(tmp / "comparison.csv", index=False)
        data = manifest(loaded[0], result.seed, n, **info)
        data["scenario"] = {s.name: scenario_dump(s) for s in loaded}
        data["scenario_hash"] = {s.name: scenario_hash(s) for s in loaded}
        write_figures_and_report(result, tmp, data)
        if xlsx:
            _workbook(result, tmp / "results.xlsx")
            data["workbook"] = "results.xlsx"
        data["kind"] = "forecast"
        write_manifest(tmp, data)

    write_atomically(out_dir, fill)
    click.echo(
        f"forecast from {snapshot.as_of.isoformat()} to {result.horizon_date.isoformat()}: "
        f"{len(snapshot.cases)} open cases, {n} replications x {len(loaded)} scenario(s) -> "
        f"{out_dir}"
    )
    warning = early_warning(result, limit=5)
    for _, row in warning.iterrows():
        risks = ", ".join(
            f"{sf.scenario.name} {row[f'p365:{sf.scenario.name}']:.0%}" for sf in result.scenarios
        )
        click.echo(f"  {row['holder']:12s} case {row['case_id']}: P(365 days untouched) {risks}")
    click.echo(f"  replications for +/-0.05 on every case's probability: {needed}")


def _workbook(result: Any, path: Path) -> None:
    """The forecast as one Excel workbook (:func:`sim.report.excel.write_workbook`)."""
    import pandas as pd

    from sim.report.excel import Sheet, write_workbook
    from sim.report.forecast import early_warning

    def joined(attribute: str) -> pd.DataFrame:
        frames = [
            getattr(sf, attribute).assign(scenario=sf.scenario.name) for sf in result.scenarios
        ]
        frame = pd.concat(frames, ignore_index=True)
        return frame[["scenario", *[c for c in frame.columns if c != "scenario"]]]

    sheets = [
        Sheet(
            "early_warning",
            early_warning(result, limit=None),
            "every open case by holder, highest risk first: the chance its current spell "
            "without progress reaches 180 or 365 days before the horizon",
        ),
        Sheet("comparison", result.contrasts(365), "the scenarios against the first"),
        Sheet("case_risk", joined("case_risk"), "one row per open case and scenario"),
        Sheet("backlog", joined("backlog"), "the backlog forecast by date, with its bands"),
    ]
    for note in write_workbook(path, sheets):
        click.echo(f"results.xlsx: {note}", err=True)

"""The ``calibrate`` command: fit a scenario to a force's case-event log."""

from __future__ import annotations

from pathlib import Path

import click

from sim.cli.common import ProgressBar, fail_input, load_or_exit

__all__ = ["calibrate_command", "read_log_or_exit"]


def read_log_or_exit(folder: str, base: object | None) -> object:
    """Read and check a log against the base scenario's grades and stages, or exit 2."""
    from sim.scenario import Scenario
    from sim.state.case_log import LogError, read_log

    grades = stages = None
    if isinstance(base, Scenario):
        grades = list(base.cases.grades)
        stages = [s.name for s in base.cases.stages]
    try:
        return read_log(folder, grades=grades, stages=stages)
    except LogError as error:
        fail_input(error.problems)


# What the fit report writes in its folder: it may rewrite a folder holding only these.
REPORT_FILES = frozenset({"fit_report.html", "*.png", "*.svg", "*.csv"})


@click.command("calibrate", short_help="Fit a scenario to a case-event log; write it commented.")
@click.argument("log_dir")
@click.option(
    "--out",
    required=True,
    type=click.Path(),
    help="The fitted scenario file to write (new, or one calibrate wrote before).",
)
@click.option(
    "--base",
    type=click.Path(dir_okay=False),
    help="Scenario for what the log does not say (targets, policies, effort shapes).",
)
@click.option("--name", default="calibrated", show_default=True, help="The fitted scenario's name.")
@click.option("--report", type=click.Path(), help="Folder for the fit report.")
@click.option(
    "--replications",
    "-r",
    type=click.IntRange(min=2),
    default=4,
    show_default=True,
    help="Replications per point when effort is calibrated by simulation.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def calibrate_command(
    log_dir: str,
    out: str,
    base: str | None,
    name: str,
    report: str | None,
    replications: int,
    quiet: bool,
) -> None:
    """Fit a scenario to the case-event log in LOG_DIR and write it to --out (commented).

    Every fitted value carries its estimate, 95% CI, n and method in a comment; what the log
    cannot say comes from --base (or defaults) and says so.
    """
    from sim.cli.safety import check_folder_path, check_out_file
    from sim.experiments.calibrate import calibrate
    from sim.experiments.scenario_yaml import commented_yaml
    from sim.scenario import ScenarioError
    from sim.state.case_log import CaseLog

    check_out_file(out, "Fitted by polit-sim calibrate")
    if report:
        check_folder_path(report, "--report", allowed=REPORT_FILES)
    base_scenario = load_or_exit(base) if base else None
    log = read_log_or_exit(log_dir, base_scenario)
    assert isinstance(log, CaseLog)
    grid = 9
    total = grid * replications + 12  # and the covariance replications
    bar = ProgressBar(total, "effort scale", enabled=not quiet and not log.has_hours)
    try:
        result = calibrate(
            log,
            base_scenario,
            name=name,
            msm_replications=replications,
            msm_grid=grid,
            progress=bar,
        )
    except ValueError as error:
        fail_input([f"{log_dir}: cannot fit: {error}"])
    finally:
        bar.close()
    try:
        result.validated()
    except ScenarioError as error:
        fail_input([f"{log_dir}: the fitted scenario is invalid: {p}" for p in error.problems])
    header = (
        f"Fitted by polit-sim calibrate from {log_dir}"
        + (f" with base {base}" if base else " (no base: defaults where the log is silent)")
        + f".\nDay 0 is {log.start.date().isoformat()}."
    )
    text = commented_yaml(result.scenario, result.comments, header)
    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(text, encoding="utf-8")
    click.echo(f"{name}: {len(result.estimates)} estimates -> {out}")
    for estimate in result.estimates:
        ci = "" if estimate.ci is None else f"  [{estimate.ci[0]:.4g}, {estimate.ci[1]:.4g}]"
        value = estimate.value if isinstance(estimate.value, str) else f"{estimate.value:.4g}"
        click.echo(f"  {estimate.key:36s} {value}{ci}")
    if report:
        from sim.report.calibration import write_fit_report

        write_fit_report(result, Path(report))
        click.echo(f"fit report -> {Path(report) / 'fit_report.html'}")

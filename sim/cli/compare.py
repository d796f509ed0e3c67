"""The ``compare`` command; the work is in :mod:`sim.experiments.compare`.

Exit status: 0 compared, every ``expect:`` threshold met or inconclusive; 1 compared, but a
threshold is broken (each is listed with its estimate and CI); 2 bad input, nothing written.
"""

from __future__ import annotations

import functools
import json
import sys
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import click

from sim.cli.common import set_option, workers_option, xlsx_options

__all__ = ["compare"]


@click.command(
    short_help="Run scenarios under common random numbers and compare each with the baseline."
)
@click.argument("files", nargs=-1, required=True)
@click.option(
    "--baseline",
    "-b",
    help="The baseline scenario file, the one the others are compared with (default: the "
    "first FILE; added to the FILES when not among them).",
)
@click.option(
    "--replications",
    "-r",
    type=click.IntRange(min=2),
    help="Replications per scenario (with --precision: per batch). Default: the baseline's "
    "replications:.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    help="Root seed shared by every scenario (default: the baseline's seed:).",
)
@set_option("every scenario, e.g. horizon_days=730")
@click.option(
    "--out",
    type=click.Path(),
    help="Output folder (default results/compare_BASELINE).",
)
@click.option(
    "--precision",
    type=click.FloatRange(min=0, min_open=True),
    help="Add replications in batches until the headline metric's 95% CI half-width is within "
    "this share of its mean (e.g. 0.1 for 10%), in every scenario, or --max-replications is "
    "reached.",
)
@click.option(
    "--precision-metric",
    default="any_neglect_over_365",
    show_default=True,
    help="The headline metric --precision applies to (any metric of docs/outputs.md).",
)
@click.option(
    "--max-replications",
    type=click.IntRange(min=2),
    default=1000,
    show_default=True,
    help="Cap on replications per scenario under --precision.",
)
@workers_option()
@xlsx_options(
    "the headline summary, the whole comparison and every scenario's cases",
    "per-case table of every scenario",
)
@click.option("--no-figures", is_flag=True, help="Write the tables only (no figures or report).")
@click.option("--svg", is_flag=True, help="Also write every figure as SVG (PNG only by default).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def compare(
    files: tuple[str, ...],
    baseline: str | None,
    replications: int | None,
    seed: int | None,
    overrides: tuple[str, ...],
    out: str | None,
    precision: float | None,
    precision_metric: str,
    max_replications: int,
    workers: int,
    xlsx: bool,
    cases_csv: bool,
    no_figures: bool,
    svg: bool,
    quiet: bool,
) -> None:
    """Run scenarios under common random numbers and compare each with the baseline.

    Every scenario runs with the same seeds, so replication r of each sees the same referrals,
    case attributes and leave, and each scenario's difference from the baseline is measured
    replication by replication. Writes comparison.csv (per metric and scenario: mean, 95% CI,
    paired difference from the baseline and its CI), the figures, report.html (decision first: a
    ranked forest plot of the differences and a plain-language headline per scenario),
    manifest.json and scenarios/NAME/ per scenario. Exits 1 when an expect: threshold is broken.
    """
    from sim.cli.common import ProgressBar, fail_input, load_or_exit
    from sim.cli.safety import check_out_dir, preflight_or_exit
    from sim.domain.metrics import known_metrics, unknown_metrics
    from sim.domain.names import did_you_mean
    from sim.experiments.folders import default_compare_folder
    from sim.experiments.workers import started_pool
    from sim.scenario import ScenarioError, load_scenario

    paths = list(files)
    if baseline is not None and Path(baseline).resolve() not in {Path(p).resolve() for p in paths}:
        paths.insert(0, baseline)
    problems: list[str] = []
    scenarios = []
    for path in paths:
        try:
            scenarios.append(load_scenario(path, overrides))
        except ScenarioError as error:
            problems.extend(error.problems)
    if problems:
        fail_input(problems)
    if not scenarios:  # pragma: no cover - click requires FILES
        load_or_exit(paths[0])
    names = [s.name for s in scenarios]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        fail_input([f"scenario name {n!r} is given by more than one file" for n in twice])
    if unknown_metrics([precision_metric]):
        fail_input(
            [
                f"--precision-metric: unknown metric {precision_metric!r};"
                f"{did_you_mean(precision_metric, known_metrics())} known: "
                f"{', '.join(known_metrics())}"
            ]
        )
    base_index = 0
    if baseline is not None:
        resolved = Path(baseline).resolve()
        base_index = next(i for i, p in enumerate(paths) if Path(p).resolve() == resolved)

    first = replications or scenarios[base_index].replications
    planned = max_replications if precision is not None else first
    default = str(Path("results") / default_compare_folder(scenarios, base_index))
    out_dir = check_out_dir(out if out is not None else default, "compare")
    for path, scenario in zip(paths, scenarios, strict=True):
        preflight_or_exit(scenario, planned, workers, path)
    total = planned * len(scenarios)
    # The workers start now and import the model while this process prepares the work.
    modules = ("sim.experiments.compare",) + (() if no_figures else ("sim.report.compare",))
    pool = started_pool(workers, *modules) if workers > 1 else None
    try:
        comparison = _run_and_write(
            scenarios,
            paths[base_index],
            out_dir,
            pool,
            bar=ProgressBar(total, "compare", enabled=not quiet),
            figures=not no_figures,
            svg=svg,
            xlsx=xlsx,
            cases_csv=cases_csv,
            run_options={
                "baseline": base_index,
                "replications": replications,
                "seed": seed,
                "workers": workers,
                "precision": precision,
                "precision_metric": precision_metric,
                "max_replications": max_replications,
            },
        )
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    written = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    for line in written.get("figures_skipped", []):
        click.echo(f"warning: figure {line} (skipped; the data files are written)", err=True)
    from sim.report.compare import warmup_warnings

    for line in warmup_warnings(comparison):
        click.echo(line, err=True)
    click.echo(
        f"compared {len(scenarios)} scenarios, {comparison.replications} replications each "
        f"(baseline {comparison.baseline}, seed {comparison.seed}) -> {out_dir}"
    )
    from sim.report.forest import rank_scenarios, verdict
    from sim.report.headlines import scenario_title
    from sim.report.html import fmt_difference, fmt_range, fmt_value, metric_name

    table = comparison.table
    metric = precision_metric
    rows = table[table["metric"] == metric].set_index("scenario")
    base = rows.loc[comparison.baseline]
    click.echo(
        f"  {metric_name(metric)}, best first; baseline "
        f"{scenario_title(comparison.results[comparison.baseline].scenario)}: "
        f"{fmt_value(metric, base['mean'])}"
    )
    for name in rank_scenarios(table, comparison.baseline, metric):
        row = rows.loc[name]
        low, high = (float(v) for v in row[["diff_ci_low", "diff_ci_high"]].to_numpy(float))
        click.echo(
            f"  {scenario_title(comparison.results[name].scenario)[:40]:40s} "
            f"{fmt_value(metric, row['mean']):>8s}  {fmt_difference(metric, row['difference'])}"
            f" (95% CI {fmt_range(metric, low, high, True)}) {verdict(metric, low, high)}"
        )
    if not no_figures:
        click.echo(f"  report: {out_dir / 'report.html'}")
    for check in comparison.checks:
        if check.status != "met":
            click.echo(check.describe(), err=True)
    if comparison.broken:
        sys.exit(1)


def _run_and_write(
    scenarios: list[Any],
    baseline_path: str,
    out_dir: Path,
    pool: Executor | None,
    *,
    bar: Any,
    figures: bool,
    svg: bool,
    xlsx: bool,
    cases_csv: bool,
    run_options: dict[str, Any],
) -> Any:
    """Run the comparison in ``pool`` and write its folder; returns the comparison.

    Both cores stay busy to the end: each scenario's own figures are drawn in the worker that
    ran its traced replication, while the other simulates; once all is simulated, the workers
    draw the comparison's figures while this process writes the data files.
    """
    from sim.cli.common import fail_input
    from sim.engine.budget import WorkLimitExceeded
    from sim.experiments.compare import run_comparison, write_comparison

    draw = None
    if figures:
        from sim.report.compare import scenario_figure_files

        # A module-level function (with its options bound): it pickles to the workers.
        draw = functools.partial(scenario_figure_files, svg=svg)
    try:
        comparison = run_comparison(scenarios, progress=bar, draw=draw, pool=pool, **run_options)
    except WorkLimitExceeded as error:
        bar.close()
        fail_input([f"{baseline_path}: {error}"])
    finally:
        bar.close()
    ahead = None
    if figures and pool is not None:
        from sim.report.compare import submit_shared_figures

        ahead = submit_shared_figures(comparison, pool, svg=svg)

    def extras(comparison: Any, folder: Path) -> dict[str, Any]:
        entries: dict[str, Any] = {}
        if figures:
            from sim.report.compare import write_figures_and_report

            entries.update(write_figures_and_report(comparison, folder, svg=svg, ahead=ahead))
        if xlsx:
            from sim.experiments.compare import HEADLINE_METRICS
            from sim.report.excel import comparison_sheets, write_workbook

            cases = {n: r.cases for n, r in comparison.results.items()}
            sheets = comparison_sheets(comparison.table, cases, HEADLINE_METRICS)
            for note in write_workbook(folder / "results.xlsx", sheets):
                click.echo(f"results.xlsx: {note}", err=True)
            entries["workbook"] = "results.xlsx"
        if cases_csv:
            import pandas as pd

            frames = [r.cases.assign(scenario=n) for n, r in comparison.results.items()]
            pd.concat(frames, ignore_index=True).to_csv(folder / "cases.csv", index=False)
            entries["cases_csv"] = "cases.csv"
        return entries

    write_comparison(
        comparison,
        out_dir,
        extras=extras,
        extra_manifest={"command": ["polit-sim", *sys.argv[1:]]},
    )
    return comparison

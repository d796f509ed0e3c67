"""A comparison's figures and one self-contained ``report.html`` (figures embedded as PNG).

The report is for planners and is read decision first: its title and the period the numbers
count, the ranked forest plot of each scenario's paired difference from the baseline, a
plain-language headline per scenario (with the scenario's own description where it changes
nothing clear), then the key figures in a table that fits the page. The evidence follows: the
figures, every headline metric, each scenario's own figures folded away, what differs between the
scenario files, and how to reproduce the numbers (seed, versions, hashes). The page frame is
:mod:`sim.report.html`; it links to nothing outside itself.

``polit-sim run`` writes the same report for one scenario (:func:`result_report`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor, Future
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.warmup import warmup_check
from sim.domain.metrics import metric_label
from sim.experiments.compare import (
    HEADLINE_METRICS,
    Comparison,
    check_expectations,
    comparison_table,
)
from sim.experiments.replications import Result
from sim.experiments.results import package_versions
from sim.report.figures import (
    backlog_figure,
    figure_files,
    metrics_figure,
    neglect_survival_figure,
    save_figure,
)
from sim.report.forest import FOREST_METRICS, forest_figure, rank_scenarios, verdict
from sim.report.headlines import (
    headline,
    period_of,
    scenario_title,
    start_date_of,
    why_no_change,
)
from sim.report.html import (
    details,
    escape,
    fmt_difference,
    fmt_range,
    fmt_sig,
    fmt_value,
    image,
    metric_name,
    metric_unit_short,
    page,
    section,
)
from sim.report.html import table as table_html
from sim.report.team_figures import case_timeline_figure, detective_heatmap_figure
from sim.scenario import scenario_dump, scenario_hash

__all__ = [
    "comparison_figures",
    "drawn_figure_files",
    "headline",
    "render_report",
    "result_comparison",
    "result_report",
    "scenario_differences",
    "scenario_figure_files",
    "scenario_title",
    "shared_figures",
    "submit_shared_figures",
    "write_figures_and_report",
]


def _as_date(value: Any) -> date | None:
    """A start date as a :class:`datetime.date` (the schema's, or ISO text), or None."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _most_neglected(result: Result, replication: int) -> dict[str, Any] | None:
    """The row of the replication's case with the longest neglect (ties: the first)."""
    cases = result.cases[result.cases["replication"] == replication]
    if cases.empty:
        return None
    position = int(np.argmax(cases["longest_neglect_days"].to_numpy(dtype=float)))
    row = {str(k): v for k, v in cases.iloc[position].items()}
    return row


def shared_figures(comparison: Comparison) -> dict[str, Callable[[], Any]]:
    """The figures of the whole comparison, by stem, each as a call that draws it.

    Each call is a ``functools.partial`` of a figure function with the columns it reads, so it
    pickles small and can be drawn in a worker process (:func:`submit_shared_figures`).
    """
    results = comparison.results
    base = results[comparison.baseline].scenario
    titles = {n: scenario_title(r.scenario) for n, r in results.items()}
    neglect = {titles[n]: r.cases[["longest_neglect_days", "censored"]] for n, r in results.items()}
    backlog = {
        titles[n]: r.backlog[["replication", "day", "open_cases"]] for n, r in results.items()
    }
    figures: dict[str, Callable[[], Any]] = {
        "forest": partial(forest_figure, comparison.table, comparison.baseline, titles=titles),
        "neglect_survival": partial(neglect_survival_figure, neglect),
        "backlog": partial(
            backlog_figure, backlog, base.warmup_days, start_date=_as_date(start_date_of(base))
        ),
    }
    if len(results) > 1:
        figures["headline_metrics"] = partial(
            metrics_figure, comparison.table, HEADLINE_METRICS, titles=titles
        )
    return figures


def drawn_figure_files(figure: Callable[[], Any], stem: str, svg: bool = False) -> dict[str, bytes]:
    """Draw ``figure`` (one of :func:`shared_figures`): each file's content by file name."""
    return figure_files(figure(), stem, svg=svg)


def submit_shared_figures(
    comparison: Comparison, pool: Executor, *, svg: bool = False
) -> dict[str, Future[dict[str, bytes]]]:
    """Start drawing the comparison's shared figures in ``pool``; pass the futures on to
    :func:`comparison_figures` (as ``ahead``), which writes them."""
    return {
        stem: pool.submit(drawn_figure_files, figure, stem, svg)
        for stem, figure in shared_figures(comparison).items()
    }


def _ahead(futures: Mapping[str, Future[dict[str, bytes]]] | None, stem: str) -> Any:
    """The files drawn ahead for ``stem``, or None: not drawn ahead, or drawing failed there
    (the figure is then drawn here, where a real failure is raised and reported)."""
    if futures is None or stem not in futures:
        return None
    try:
        return futures[stem].result()
    except Exception:
        return None


def comparison_figures(
    comparison: Comparison,
    folder: Path,
    *,
    svg: bool = False,
    ahead: Mapping[str, Future[dict[str, bytes]]] | None = None,
) -> dict[str, Path]:
    """Draw every figure of a comparison into ``folder`` (PNG, and SVG with ``svg``).

    Figures already drawn elsewhere are written as they are: the shared figures drawn in worker
    processes (``ahead``, from :func:`submit_shared_figures`), and each scenario's own figures
    drawn beside its traced replication (``comparison.drawn``). The others are drawn here.

    Returns the PNGs by stem.
    """
    written: dict[str, Path] = {}

    def save(fig: Any, stem: str) -> None:
        written[stem] = save_figure(fig, folder, stem, svg=svg)[0]

    def write(files: Mapping[str, bytes]) -> None:
        for file, content in files.items():
            (folder / file).write_bytes(content)
            if file.endswith(".png"):
                written[file.removesuffix(".png")] = folder / file

    for stem, figure in shared_figures(comparison).items():
        files = _ahead(ahead, stem)
        if files is None:
            save(figure(), stem)
        else:
            write(files)
    rep = comparison.trace_replication
    for name, result in comparison.results.items():
        drawn = comparison.drawn.get(name)
        if drawn is None or drawn.error is not None:
            # Not drawn beside the replication, or it failed there: drawn here (a real failure
            # is raised here, and reported).
            for fig, stem in _scenario_figures(result, rep):
                save(fig, stem)
        else:
            write(drawn.files)
    return written


def _scenario_figures(result: Result, rep: int | None) -> Iterator[tuple[Any, str]]:
    """A scenario's own figures (and their stems) from its replication ``rep``'s timeline: the
    detectives' heat map and the most-neglected case's timeline."""
    if rep is None or rep not in result.traces:
        return
    scenario = result.scenario
    name = scenario.name
    title = scenario_title(scenario)
    trace = result.traces[rep]
    team = result.detectives[result.detectives["replication"] == rep]
    names = [str(n) for n in team["detective"]]
    hours = (team["fte"].to_numpy(dtype=float) * scenario.team.hours_per_week / 7).tolist()
    yield (
        detective_heatmap_figure(
            trace,
            names,
            hours,
            scenario.horizon_days,
            title=f"{title}: utilisation, caseload and leave per detective (replication {rep})",
            start_date=scenario.start_date,
        ),
        f"detectives_{name}",
    )
    case = _most_neglected(result, rep)
    if case is not None:
        # The first workload review that flagged the case, if any did.
        flags = [e[1] for e in trace if e[0] == "flag" and e[2] == int(case["case_id"])]
        flagged = min(flags) if flags else np.nan
        yield (
            case_timeline_figure(
                trace,
                names,
                int(case["case_id"]),
                scenario.horizon_days,
                title=(
                    f"{title}, replication {rep}: the most-neglected case "
                    f"{int(case['case_id'])}"
                    f" ({case['longest_neglect_days']:.0f} days without progress)"
                ),
                flagged_day=float(flagged) if pd.notna(flagged) else None,
                start_date=scenario.start_date,
            ),
            f"timeline_{name}",
        )


def scenario_figure_files(result: Result, *, svg: bool = False) -> dict[str, bytes]:
    """A scenario's own figures, drawn from its traced replication: file contents by name.

    The :data:`sim.experiments.compare.Draw` of ``compare``: it runs in the worker process that
    ran the traced replication (``result`` holds that replication only), and gives the same bytes
    as :func:`comparison_figures` drawing the scenario from the whole result.
    """
    files: dict[str, bytes] = {}
    rep = min(result.traces) if result.traces else None
    for fig, stem in _scenario_figures(result, rep):
        files.update(figure_files(fig, stem, svg=svg))
    return files


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, Mapping):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(data, list) and any(isinstance(v, Mapping) for v in data):
        out = {}
        for i, value in enumerate(data):
            out.update(_flatten(value, f"{prefix}[{i}]"))
        return out
    return {prefix: data}


def scenario_differences(
    base: Mapping[str, Any], other: Mapping[str, Any]
) -> list[tuple[str, Any, Any]]:
    """(dotted key, baseline value, other value) for every resolved field that differs.

    ``name``, ``title`` and ``description`` are left out: they label, they do not model.
    """
    a, b = _flatten(base), _flatten(other)
    keys = sorted(set(a) | set(b))
    skip = {"name", "title", "description"}
    return [
        (k, a.get(k, "—"), b.get(k, "—")) for k in keys if k not in skip and a.get(k) != b.get(k)
    ]


def _f(value: Any) -> float:
    return float(value)


def _ci(metric: str, low: Any, high: Any, difference: bool = False) -> str:
    return fmt_range(metric, low, high, difference)


def _key_table(comparison: Comparison, order: list[str]) -> str:
    """Rows: scenarios; columns: each forest metric's estimate and difference (short cells)."""
    table = comparison.table
    single = len(comparison.results) == 1
    metrics = [m for m in FOREST_METRICS if m in set(table["metric"])]
    header = ["Scenario"]
    for metric in metrics:
        label = metric_label(metric, with_unit=False)
        header.append(f"{label[:1].upper()}{label[1:]} ({metric_unit_short(metric)}, 95% CI)")
        if not single:
            header.append(f"difference ({metric_unit_short(metric, True)}, 95% CI)")
    rows = []
    for name in order:
        cells: list[Any] = [scenario_title(comparison.results[name].scenario)]
        for metric in metrics:
            r = table[(table["metric"] == metric) & (table["scenario"] == name)].iloc[0]
            cells.append(
                f"{fmt_value(metric, r['mean'])} ({_ci(metric, r['ci_low'], r['ci_high'])})"
            )
            if single:
                continue
            if name == comparison.baseline:
                cells.append("baseline")
            else:
                low, high = _f(r["diff_ci_low"]), _f(r["diff_ci_high"])
                a = fmt_difference(metric, r["difference"], unit=False)
                b = fmt_difference(metric, low, unit=False)
                c = fmt_difference(metric, high, unit=False)
                cells.append(f"{a} ({b} to {c}) {verdict(metric, low, high)}")
        rows.append(cells)
    return table_html(header, rows)


def _all_metrics_table(comparison: Comparison, order: list[str]) -> str:
    """Long format: per headline metric and scenario, estimate and difference."""
    table = comparison.table
    single = len(comparison.results) == 1
    rows = []
    for metric in HEADLINE_METRICS:
        part = table[table["metric"] == metric].set_index("scenario")
        if part.empty:
            continue
        for name in order:
            r = part.loc[name]
            base = name == comparison.baseline
            cells = [
                metric_name(metric),
                scenario_title(comparison.results[name].scenario),
                fmt_value(metric, r["mean"]),
                _ci(metric, r["ci_low"], r["ci_high"]),
            ]
            if not single:
                cells += [
                    "" if base else fmt_difference(metric, r["difference"]),
                    "" if base else _ci(metric, r["diff_ci_low"], r["diff_ci_high"], True),
                    "baseline"
                    if base
                    else verdict(metric, _f(r["diff_ci_low"]), _f(r["diff_ci_high"])),
                ]
            rows.append(cells)
    header = ["Metric (unit)", "Scenario", "Estimate", "95% CI"]
    if not single:
        header += ["Difference from baseline", "95% CI of the difference", "Verdict"]
    return table_html(header, rows, numeric=(2, 4))


CAPTIONS = {
    "forest": "Each scenario's difference from the baseline on the headline metrics, measured "
    "replication by replication under common random numbers: dot = mean paired difference, line "
    "= 95% confidence interval. Best first, by the first panel.",
    "neglect_survival": "Share of cases going longer than x days without progress while waiting "
    "on the team (Kaplan–Meier; cases still open at the horizon are censored). Dotted lines mark "
    "90, 180, 365 and 730 days.",
    "backlog": "Open cases over time: mean across replications with its 95% CI band.",
    "headline_metrics": "Headline metrics per scenario (mean and 95% CI, absolute values).",
}


def _caption(stem: str, comparison: Comparison) -> str:
    if stem == "forest" and len(comparison.results) == 1:
        return (
            "The headline metrics: dot = mean over the replications, line = its 95% confidence "
            "interval."
        )
    if stem in CAPTIONS:
        return CAPTIONS[stem]
    kind, _, name = stem.partition("_")
    title = (
        scenario_title(comparison.results[name].scenario) if name in comparison.results else name
    )
    rep = comparison.trace_replication
    if kind == "detectives":
        return (
            f"{title}: per-detective utilisation, caseload and leave in each 28-day period "
            f"(replication {rep}). White cells: the detective was on leave the whole period, "
            "so utilisation is undefined."
        )
    return (
        f"{title}: timeline of the most-neglected case of replication {rep}, a lane per detective."
    )


def _thresholds(comparison: Comparison) -> list[str]:
    if not comparison.checks:
        return []
    broken = [c for c in comparison.checks if c.status != "met"]
    rows = [
        [
            scenario_title(comparison.results[c.scenario].scenario)
            if c.scenario in comparison.results
            else c.scenario,
            metric_name(c.metric),
            f"{c.bound} {fmt_value(c.metric, c.threshold)}",
            fmt_value(c.metric, c.mean),
            _ci(c.metric, c.ci_low, c.ci_high),
            c.status,
        ]
        for c in comparison.checks
    ]
    return [
        section(
            "Thresholds (expect:)",
            table_html(["Scenario", "Metric", "Bound", "Estimate", "95% CI", "Status"], rows),
            f"<p class='note'>{len([c for c in broken if c.broken])} broken, "
            f"{len([c for c in broken if not c.broken])} inconclusive. A threshold is broken "
            "when the whole 95% CI lies beyond it.</p>",
        )
    ]


def warmup_warnings(comparison: Comparison) -> list[str]:
    """One line per scenario whose backlog suggests a longer warm-up (MSER-5)."""
    out = []
    for name, result in comparison.results.items():
        check = warmup_check(result.backlog, result.scenario.warmup_days)
        if check is not None and check.too_short:
            out.append(check.describe(name))
    return out


def render_report(comparison: Comparison, figures: Mapping[str, Path]) -> str:
    """The report as one HTML string, figures embedded: the decision first, evidence after."""
    results = comparison.results
    single = len(results) == 1
    base = results[comparison.baseline].scenario
    base_title = scenario_title(base)
    order = [comparison.baseline]
    if not single:
        order += rank_scenarios(comparison.table, comparison.baseline, FOREST_METRICS[0])
    title = (
        f"{base_title}: how long cases go without progress"
        if single
        else f"What changes the risk of neglected cases: {len(results) - 1} alternatives to "
        f"{base_title}"
    )
    n = comparison.replications
    # Dates appear once the scenario schema has start_date: (period_text takes it); until then
    # the period is in days of the simulation.
    parts = [
        f"<h1>{escape(title)}</h1>",
        f"<p class='period'>Counted over {escape(period_of(comparison))}; {n} replications"
        f"{'' if single else ' per scenario, paired under common random numbers'}.</p>",
    ]
    if "forest" in figures:
        parts.append(image(figures["forest"], _caption("forest", comparison), element_id="forest"))
    parts.append("<div class='decision' id='decision'>")
    for name in order:
        parts.append(f"<p class='headline'>{escape(headline(comparison, name))}</p>")
        parts.append(why_no_change(comparison, name))
    parts.append("</div>")
    parts += _thresholds(comparison)
    warmups = warmup_warnings(comparison)
    if warmups:
        notes = [f"<p class='note'>{escape(w.removeprefix('warning: '))}</p>" for w in warmups]
        parts.append(section("Warm-up", *notes))
    parts.append(
        section(
            "Key figures",
            _key_table(comparison, order),
            "<p class='note'>Shares and chances in per cent, differences in percentage points; "
            f"2–3 significant figures (full precision in "
            f"{'summary.csv' if single else 'comparison.csv'}).</p>",
        )
    )
    parts.append(details("Every headline metric", _all_metrics_table(comparison, order)))
    shared = [s for s in ("neglect_survival", "backlog", "headline_metrics") if s in figures]
    parts.append(section("Figures", *(image(figures[s], _caption(s, comparison)) for s in shared)))
    for name in results:
        own = [s for s in figures if s.endswith(f"_{name}") and s not in shared]
        if own:
            parts.append(
                details(
                    f"{scenario_title(results[name].scenario)}: detectives and the most-neglected "
                    "case",
                    *(image(figures[s], _caption(s, comparison)) for s in own),
                )
            )
    if not single:
        base_dump = scenario_dump(base)
        diffs_parts = []
        for name in order[1:]:
            diffs = scenario_differences(base_dump, scenario_dump(results[name].scenario))
            diffs_parts.append(f"<h3>{escape(scenario_title(results[name].scenario))}</h3>")
            diffs_parts.append(
                table_html(["Field", base_title, "This scenario"], diffs)
                if diffs
                else "<p>No difference in the resolved scenarios.</p>"
            )
        parts.append(details("What differs between the scenario files", *diffs_parts))
    parts.append(details("How the numbers were made", *_method(comparison)))
    return page(f"polit-sim: {title}", parts)


def _method(comparison: Comparison) -> list[str]:
    results = comparison.results
    out = [
        f"<p>Baseline: <b>{escape(comparison.baseline)}</b>. {comparison.replications} "
        f"replications per scenario, all with root seed {comparison.seed} (common random "
        "numbers: replication r of every scenario draws the same referrals, efforts and leave "
        "where the scenarios agree, so differences are paired replication by replication). "
        "Indicators (the chance that some case ...) use the Wilson interval.</p>",
        "<h3>How many replications</h3>",
        f"<p>{escape(comparison.how_many)}</p>",
    ]
    if comparison.precision:
        out.append(
            table_html(
                [
                    *("Scenario", "Metric", "Replications", "Mean"),
                    *("CI half-width", "Target", "Rule", "Reached"),
                ],
                [
                    [
                        p.scenario,
                        metric_name(p.metric),
                        p.n,
                        fmt_value(p.metric, p.mean),
                        fmt_value(p.metric, p.half_width),
                        fmt_sig(p.target),
                        p.rule,
                        "yes" if p.reached else "no",
                    ]
                    for p in comparison.precision
                ],
            )
        )
    out.append("<h3>Manifest</h3>")
    out.append(
        table_html(
            ["Scenario", "Scenario hash", "Seed", "Replications"],
            [
                [n, scenario_hash(r.scenario), comparison.seed, len(r.replications)]
                for n, r in results.items()
            ],
        )
    )
    out.append(table_html(["Package", "Version"], list(package_versions().items())))
    return out


def write_figures_and_report(
    comparison: Comparison,
    folder: Path,
    *,
    svg: bool = False,
    ahead: Mapping[str, Future[dict[str, bytes]]] | None = None,
) -> dict[str, Any]:
    """Write the figures (SVG too with ``svg``) and ``report.html``; returns manifest entries.

    ``ahead``: the shared figures being drawn in worker processes (see
    :func:`submit_shared_figures`).
    """
    figures = comparison_figures(comparison, folder, svg=svg, ahead=ahead)
    (folder / "report.html").write_text(render_report(comparison, figures), encoding="utf-8")
    formats = ("png", "svg") if svg else ("png",)
    files = sorted(f"{stem}.{ext}" for stem in figures for ext in formats)
    return {"figures": files, "report": "report.html"}


def result_comparison(result: Result) -> Comparison:
    """One scenario's result seen as a comparison with itself as the baseline (for its report)."""
    name = result.scenario.name
    n = len(result.replications)
    return Comparison(
        results={name: result},
        baseline=name,
        seed=result.seed,
        table=comparison_table({name: result.replications}, name),
        how_many=f"{n} replications, as the scenario file or --replications asked.",
        checks=check_expectations(result.scenario, result.summary),
        trace_replication=min(result.traces) if result.traces else None,
    )


def result_report(result: Result, folder: Path) -> list[Path]:
    """Write one scenario's figures (PNG, SVG) and ``report.html`` into ``folder``."""
    comparison = result_comparison(result)
    figures = comparison_figures(comparison, folder)
    (folder / "report.html").write_text(render_report(comparison, figures), encoding="utf-8")
    paths = [folder / f"{stem}.{ext}" for stem in figures for ext in ("png", "svg")]
    return [*paths, folder / "report.html"]

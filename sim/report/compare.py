"""A comparison's figures and one self-contained ``report.html`` (figures embedded as PNG).

The report is for planners: a plain-language headline per scenario, then the evidence (figures,
tables of estimates and paired differences), what differs between the scenario files, and how to
reproduce the numbers (seed, versions, scenario hashes, how the replications were chosen).
It links to nothing outside itself.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.compare import HEADLINE_METRICS, Comparison
from sim.experiments.replications import Result
from sim.experiments.results import package_versions
from sim.report.figures import (
    backlog_figure,
    case_timeline_figure,
    detective_heatmap_figure,
    metrics_figure,
    neglect_survival_figure,
    save_figure,
)
from sim.scenario import scenario_dump, scenario_hash

__all__ = [
    "comparison_figures",
    "render_report",
    "scenario_differences",
    "write_figures_and_report",
]

HEADLINE = "any_neglect_over_365"
"""The metric of the plain-language headline: the chance that some case goes a year untouched."""


def _most_neglected(result: Result, replication: int) -> dict[str, Any] | None:
    """The row of the replication's case with the longest neglect (ties: the first)."""
    cases = result.cases[result.cases["replication"] == replication]
    if cases.empty:
        return None
    position = int(np.argmax(cases["longest_neglect_days"].to_numpy(dtype=float)))
    row = {str(k): v for k, v in cases.iloc[position].items()}
    return row


def comparison_figures(
    comparison: Comparison, folder: Path, *, svg: bool = False
) -> dict[str, Path]:
    """Draw every figure of a comparison into ``folder`` (PNG, and SVG with ``svg``).

    Returns the PNGs by stem.
    """
    results = comparison.results
    base = results[comparison.baseline].scenario
    written: dict[str, Path] = {}

    def save(fig: Any, stem: str) -> None:
        written[stem] = save_figure(fig, folder, stem, svg=svg)[0]

    save(neglect_survival_figure({n: r.cases for n, r in results.items()}), "neglect_survival")
    backlogs = {n: r.backlog for n, r in results.items()}
    save(backlog_figure(backlogs, base.warmup_days, start_date=base.start_date), "backlog")
    save(metrics_figure(comparison.table, HEADLINE_METRICS), "headline_metrics")
    rep = comparison.trace_replication
    for name, result in results.items():
        if rep is None or rep not in result.traces:
            continue
        scenario = result.scenario
        trace = result.traces[rep]
        team = result.detectives[result.detectives["replication"] == rep]
        names = [str(n) for n in team["detective"]]
        hours = (team["fte"].to_numpy(dtype=float) * scenario.team.hours_per_week / 7).tolist()
        save(
            detective_heatmap_figure(
                trace,
                names,
                hours,
                scenario.horizon_days,
                title=f"{name}: utilisation, caseload and leave per detective (replication {rep})",
                start_date=scenario.start_date,
            ),
            f"detectives_{name}",
        )
        case = _most_neglected(result, rep)
        if case is not None:
            # The first workload review that flagged the case, if any did.
            flags = [e[1] for e in trace if e[0] == "flag" and e[2] == int(case["case_id"])]
            flagged = min(flags) if flags else np.nan
            save(
                case_timeline_figure(
                    trace,
                    names,
                    int(case["case_id"]),
                    scenario.horizon_days,
                    title=(
                        f"{name}, replication {rep}: the most-neglected case {int(case['case_id'])}"
                        f" ({case['longest_neglect_days']:.0f} days without progress)"
                    ),
                    flagged_day=float(flagged) if pd.notna(flagged) else None,
                    start_date=scenario.start_date,
                ),
                f"timeline_{name}",
            )
    return written


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

    ``name`` and ``description`` are left out: they always differ.
    """
    a, b = _flatten(base), _flatten(other)
    keys = sorted(set(a) | set(b))
    skip = {"name", "description"}
    return [
        (k, a.get(k, "—"), b.get(k, "—")) for k in keys if k not in skip and a.get(k) != b.get(k)
    ]


def _pct(value: Any) -> str:
    x = float(value)
    return "n/a" if not np.isfinite(x) else f"{100 * x:.1f}%"


def _num(value: Any) -> str:
    x = float(value)
    return "n/a" if not np.isfinite(x) else f"{x:.4g}"


def headline(comparison: Comparison, name: str) -> str:
    """The plain-language sentence for one scenario (text, not yet escaped)."""
    table = comparison.table[comparison.table["metric"] == HEADLINE].set_index("scenario")
    if name not in table.index:
        return f"{name}: the headline metric {HEADLINE} was not computed."
    row = table.loc[name]
    what = "the chance that some case goes a year (365 days) without progress"
    if name == comparison.baseline:
        return (
            f"{name} (baseline): {what} is {_pct(row['mean'])} "
            f"(95% CI {_pct(row['ci_low'])} to {_pct(row['ci_high'])})."
        )
    base = table.loc[comparison.baseline]
    diff, low, high = row["difference"], row["diff_ci_low"], row["diff_ci_high"]
    if diff == 0 and low == 0 and high == 0:
        return (
            f"{name} leaves {what} at {_pct(row['mean'])}, as in {comparison.baseline}: "
            "no replication differs (under common random numbers the change does not touch it)."
        )
    if bool(row["significant"]):
        verb = "cuts" if diff < 0 else "raises"
        tail = "a clear difference: its 95% CI excludes zero"
    else:
        verb = "changes"
        tail = "not distinguishable from no change at this number of replications"
    return (
        f"{name} {verb} {what} from {_pct(base['mean'])} to {_pct(row['mean'])} "
        f"(difference {100 * diff:+.1f} points, 95% CI {100 * low:+.1f} to {100 * high:+.1f}; "
        f"{tail})."
    )


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _estimates_table(comparison: Comparison) -> str:
    table = comparison.table
    names = list(comparison.results)
    rows = []
    for metric in HEADLINE_METRICS:
        part = table[table["metric"] == metric].set_index("scenario")
        if part.empty:
            continue
        cells: list[Any] = [metric]
        for name in names:
            r = part.loc[name]
            cell = f"{_num(r['mean'])} [{_num(r['ci_low'])}, {_num(r['ci_high'])}]"
            if name != comparison.baseline:
                mark = " *" if bool(r["significant"]) else ""
                cell += (
                    f"; Δ {_num(r['difference'])} [{_num(r['diff_ci_low'])}, "
                    f"{_num(r['diff_ci_high'])}]{mark}"
                )
            cells.append(cell)
        rows.append(cells)
    return _table(["metric", *names], rows)


def _image(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(alt)}</figcaption></figure>"
    )


CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:0.85em}
td,th{border:1px solid #ccc;padding:0.25em 0.5em;text-align:left;vertical-align:top}
th{background:#f2f2f2} img{max-width:100%} figure{margin:1.5em 0}
.headline{font-size:1.05em;margin:0.4em 0} code{background:#f6f6f6}
"""


def render_report(comparison: Comparison, figures: Mapping[str, Path]) -> str:
    """The report as one HTML string, figures embedded."""
    results = comparison.results
    base = results[comparison.baseline].scenario
    e = html.escape
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>polit-sim comparison: {e(', '.join(results))}</title><style>{CSS}</style></head>",
        "<body><h1>Scenario comparison</h1>",
        f"<p>Baseline: <b>{e(comparison.baseline)}</b>. {comparison.replications} replications "
        f"per scenario, all with root seed {comparison.seed} (common random numbers: replication "
        "r of every scenario draws the same referrals, efforts and leave where the scenarios "
        "agree, so differences are paired replication by replication).</p>",
        "<h2>Headlines</h2>",
    ]
    parts += [f"<p class='headline'>{e(headline(comparison, n))}</p>" for n in results]
    broken = [c for c in comparison.checks if c.status != "met"]
    if comparison.checks:
        parts.append("<h2>Thresholds (expect:)</h2>")
        parts.append(
            _table(
                ["scenario", "metric", "bound", "threshold", "estimate", "95% CI", "status"],
                [
                    [
                        c.scenario,
                        c.metric,
                        c.bound,
                        f"{c.threshold:g}",
                        _num(c.mean),
                        f"[{_num(c.ci_low)}, {_num(c.ci_high)}]",
                        c.status,
                    ]
                    for c in comparison.checks
                ],
            )
        )
        parts.append(
            f"<p>{len([c for c in broken if c.broken])} broken, "
            f"{len([c for c in broken if not c.broken])} inconclusive. A threshold is broken "
            "when the whole 95% CI lies beyond it.</p>"
        )
    parts.append("<h2>Estimates and paired differences</h2>")
    parts.append(
        "<p>Each cell: mean [95% CI]; for scenarios other than the baseline also Δ, the mean "
        "paired difference from the baseline [95% CI], starred where the CI excludes zero. "
        "Indicators (any_*) use the Wilson interval. All metrics are in comparison.csv.</p>"
    )
    parts.append(_estimates_table(comparison))
    captions = {
        "neglect_survival": "Share of cases going longer than x days without progress "
        "(Kaplan–Meier, open cases censored).",
        "backlog": "Open cases over time, mean and 95% CI band.",
        "headline_metrics": "Headline metrics per scenario with 95% CIs.",
    }
    parts.append("<h2>Figures</h2>")
    for stem, path in figures.items():
        caption = captions.get(stem)
        if caption is None:
            kind, _, name = stem.partition("_")
            caption = (
                f"{name}: per-detective utilisation, caseload and leave over time "
                f"(replication {comparison.trace_replication})."
                if kind == "detectives"
                else f"{name}: timeline of the most-neglected case of replication "
                f"{comparison.trace_replication}, a lane per detective."
            )
        parts.append(_image(path, caption))
    parts.append("<h2>What differs between the scenario files</h2>")
    base_dump = scenario_dump(base)
    for name, result in results.items():
        if name == comparison.baseline:
            continue
        diffs = scenario_differences(base_dump, scenario_dump(result.scenario))
        parts.append(f"<h3>{e(name)} against {e(comparison.baseline)}</h3>")
        parts.append(
            _table(["field", comparison.baseline, name], [[k, a, b] for k, a, b in diffs])
            if diffs
            else "<p>No difference in the resolved scenarios.</p>"
        )
    parts.append("<h2>How many replications</h2>")
    parts.append(f"<p>{e(comparison.how_many)}</p>")
    if comparison.precision:
        parts.append(
            _table(
                [
                    "scenario",
                    "metric",
                    "replications",
                    "mean",
                    "CI half-width",
                    "target",
                    "rule",
                    "reached",
                ],
                [
                    [
                        p.scenario,
                        p.metric,
                        p.n,
                        _num(p.mean),
                        _num(p.half_width),
                        _num(p.target),
                        p.rule,
                        "yes" if p.reached else "no",
                    ]
                    for p in comparison.precision
                ],
            )
        )
    parts.append("<h2>Manifest</h2>")
    parts.append(
        _table(
            ["scenario", "scenario hash", "seed", "replications"],
            [
                [n, scenario_hash(r.scenario), comparison.seed, len(r.replications)]
                for n, r in results.items()
            ],
        )
    )
    parts.append(_table(["package", "version"], [[k, v] for k, v in package_versions().items()]))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_figures_and_report(
    comparison: Comparison, folder: Path, *, svg: bool = False
) -> dict[str, Any]:
    """Write the figures (SVG too with ``svg``) and ``report.html``; returns manifest entries."""
    figures = comparison_figures(comparison, folder, svg=svg)
    (folder / "report.html").write_text(render_report(comparison, figures), encoding="utf-8")
    formats = ("png", "svg") if svg else ("png",)
    files = sorted(f"{stem}.{ext}" for stem in figures for ext in formats)
    return {"figures": files, "report": "report.html"}

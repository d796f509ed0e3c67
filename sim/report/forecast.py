"""A forecast's figure and its self-contained ``report.html``.

The first section is the early-warning list: the open cases most likely to go 180 or 365 days
without progress, grouped by holder (the holder with the riskiest case first), with their grade
and today's neglect, and, with several scenarios, how each policy changes that probability
(paired over the same replications, with a 95% interval). Then the backlog by date with bands,
every case's risk, and how to reproduce the numbers.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from sim.experiments.forecast import Forecast
from sim.report.figures import PALETTE, day_axis, save_figure

__all__ = [
    "EARLY_WARNING_MIN",
    "backlog_forecast_figure",
    "early_warning",
    "render_report",
    "write_figures_and_report",
]

EARLY_WARNING_MIN = 0.05
"""A case is listed when its chance of 180 days without progress reaches this in some scenario."""
EARLY_WARNING_ROWS = 60


def backlog_forecast_figure(forecast: Forecast) -> Figure:
    """Open cases by date: the mean per scenario, the 5–95% and 25–75% bands across replications."""
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    for i, sf in enumerate(forecast.scenarios):
        table = sf.backlog
        colour = PALETTE[i % len(PALETTE)]
        start = forecast.snapshot.as_of
        x = day_axis(start, table["day"] - table["day"].iloc[0])
        ax.plot(
            x,
            table["mean"],
            color=colour,
            label=sf.scenario.name,
            linestyle=("-", "--", ":", "-.")[i % 4],
        )
        ax.fill_between(x, table["p05"], table["p95"], color=colour, alpha=0.12)
        ax.fill_between(x, table["p25"], table["p75"], color=colour, alpha=0.25)
    fig.autofmt_xdate()
    ax.set_xlabel("date")
    ax.set_ylabel("open cases")
    ax.set_title("Backlog forecast (mean; 50% and 90% of replications in the bands)")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return fig


def early_warning(forecast: Forecast, limit: int | None = EARLY_WARNING_ROWS) -> pd.DataFrame:
    """The early-warning list: one row per listed case, by holder, highest risk first.

    Columns: ``holder``, ``case_id``, ``grade``, ``neglect_days_today``, then per scenario
    ``p180:<name>`` and ``p365:<name>``, and with several scenarios ``change365:<name>`` (the
    paired difference from the first scenario, with ``low365:`` / ``high365:`` its interval).
    """
    base = forecast.scenarios[0].case_risk
    table = base[["case_id", "owner", "grade", "neglect_days_today"]].rename(
        columns={"owner": "holder"}
    )
    table["holder"] = table["holder"].replace("", "(team queue)")
    for sf in forecast.scenarios:
        name = sf.scenario.name
        table[f"p180:{name}"] = sf.case_risk["p_neglect_over_180"].to_numpy()
        table[f"p365:{name}"] = sf.case_risk["p_neglect_over_365"].to_numpy()
    contrasts = forecast.contrasts(365)
    for sf in forecast.scenarios[1:]:
        rows = contrasts[contrasts["scenario"] == sf.scenario.name]
        name = sf.scenario.name
        table[f"change365:{name}"] = rows["difference"].to_numpy()
        table[f"low365:{name}"] = rows["ci_low"].to_numpy()
        table[f"high365:{name}"] = rows["ci_high"].to_numpy()
    p180 = table[[c for c in table.columns if c.startswith("p180:")]].max(axis=1)
    p365 = table[[c for c in table.columns if c.startswith("p365:")]].max(axis=1)
    table["_risk365"], table["_risk180"] = p365, p180
    table = table[p180 >= EARLY_WARNING_MIN]
    table = table.sort_values(["_risk365", "_risk180", "neglect_days_today"], ascending=False)
    if limit is not None:
        table = table.head(limit)
    # Holders rank by their riskiest case (then its neglect today), cases by risk within each.
    worst = table.groupby("holder", sort=False)[
        ["_risk365", "_risk180", "neglect_days_today"]
    ].transform("max")
    table = table.assign(
        _h365=worst["_risk365"], _h180=worst["_risk180"], _hdays=worst["neglect_days_today"]
    )
    table = table.sort_values(
        ["_h365", "_h180", "_hdays", "holder", "_risk365", "_risk180", "neglect_days_today"],
        ascending=[False, False, False, True, False, False, False],
        kind="stable",
    )
    ranking = ["_risk365", "_risk180", "_h365", "_h180", "_hdays"]
    return table.drop(columns=ranking).reset_index(drop=True)


def _pct(value: Any) -> str:
    return "" if pd.isna(value) else f"{100 * float(value):.0f}%"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _image(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(alt)}</figcaption></figure>"
    )


def _warning_section(forecast: Forecast) -> str:
    names = [sf.scenario.name for sf in forecast.scenarios]
    full = early_warning(forecast, limit=None)
    table = early_warning(forecast)  # the riskiest, then grouped by holder
    horizon = forecast.horizon_date.isoformat()
    intro = (
        f"<p>Open cases on {forecast.snapshot.as_of.isoformat()} whose current spell without "
        f"progress has at least a {EARLY_WARNING_MIN:.0%} chance of reaching 180 days by "
        f"{horizon}, grouped by holder, the holder with the riskiest case first. "
        f"{forecast.replications} replications per scenario.</p>"
    )
    if table.empty:
        return intro + "<p><strong>No open case reaches that chance.</strong></p>"
    header = ["holder", "case", "grade", "neglect today (days)"]
    for name in names:
        header += [f"P(180 d) {name}", f"P(365 d) {name}"]
    for name in names[1:]:
        header.append(f"change in P(365 d): {name} vs {names[0]} (95% CI)")
    rows = []
    for _, r in table.iterrows():
        row: list[Any] = [r["holder"], r["case_id"], r["grade"], f"{r['neglect_days_today']:.0f}"]
        for name in names:
            row += [_pct(r[f"p180:{name}"]), _pct(r[f"p365:{name}"])]
        for name in names[1:]:
            change = r[f"change365:{name}"]
            row.append(
                f"{100 * change:+.0f} pts [{100 * r[f'low365:{name}']:+.0f}, "
                f"{100 * r[f'high365:{name}']:+.0f}]"
            )
        rows.append(row)
    more = ""
    if len(full) > len(table):
        more = f"<p>{len(full) - len(table)} more cases in each scenario's case_risk.csv.</p>"
    return intro + _table(header, rows) + more


def render_report(
    forecast: Forecast, figures: Mapping[str, Path], manifest: Mapping[str, Any]
) -> str:
    """The forecast's report as one HTML page (figures embedded)."""
    as_of = forecast.snapshot.as_of.isoformat()
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Forecast from {as_of}</title>",
        "<style>body{font-family:sans-serif;max-width:75em;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;"
        "padding:.2em .5em;text-align:left}th{background:#eee}img{max-width:100%}</style>",
        "</head><body>",
        f"<h1>Forecast of the open caseload from {as_of} to {forecast.horizon_date.isoformat()}"
        "</h1>",
        "<h2 id='early-warning'>Early warning: cases likely to go months without progress</h2>",
        _warning_section(forecast),
        "<h2 id='backlog'>Backlog by date</h2>",
    ]
    if "backlog_forecast" in figures:
        parts.append(_image(figures["backlog_forecast"], "Open cases by date, with bands"))
    rows = []
    for sf in forecast.scenarios:
        b = sf.backlog
        for position in sorted({0, len(b) // 4, len(b) // 2, 3 * len(b) // 4, len(b) - 1}):
            r = b.iloc[position]
            rows.append(
                [
                    sf.scenario.name,
                    r["date"],
                    f"{r['mean']:.1f}",
                    f"{r['ci_low']:.1f} – {r['ci_high']:.1f}",
                    f"{r['p05']:.0f} – {r['p95']:.0f}",
                ]
            )
    parts.append(
        _table(["scenario", "date", "mean open cases", "95% CI of the mean", "90% band"], rows)
    )
    parts.append("<h2 id='cases'>Every open case</h2>")
    for sf in forecast.scenarios:
        risk = sf.case_risk
        parts.append(f"<h3>{html.escape(sf.scenario.name)}</h3>")
        parts.append(
            _table(
                list(risk.columns),
                [
                    [
                        r.case_id,
                        r.owner,
                        r.grade,
                        f"{r.neglect_days_today:.0f}",
                        _pct(r.p_neglect_over_180),
                        _pct(r.p_neglect_over_365),
                        _pct(r.p_closed_by_horizon),
                        r.next_progress_date_median,
                    ]
                    for r in risk.itertuples()
                ],
            )
        )
    parts.append("<h2 id='reproduce'>How these numbers were made</h2>")
    parts.append(
        "<p>Each replication starts from the snapshot: remaining effort and external time are "
        "drawn conditionally on what is already done, absences under way are continued, and "
        "from the as-of date on the scenario's referrals, leave and policies run. Every "
        "scenario uses the same seeds (common random numbers), so the changes are paired case "
        f"by case. Replications needed for ±0.05 on every case's probability (95%): "
        f"{manifest.get('replications_for_0.05', '?')}.</p>"
    )
    parts.append(
        _table(
            ["key", "value"],
            [[k, v] for k, v in manifest.items() if not isinstance(v, dict | list)],
        )
    )
    parts.append("</body></html>")
    return "\n".join(parts)


def write_figures_and_report(
    forecast: Forecast, folder: Path, manifest: Mapping[str, Any]
) -> list[Path]:
    """Draw the figure and write ``report.html`` into ``folder``; returns the files written."""
    paths = save_figure(backlog_forecast_figure(forecast), folder, "backlog_forecast")
    figures = {"backlog_forecast": paths[0]}
    report = folder / "report.html"
    report.write_text(render_report(forecast, figures, manifest), encoding="utf-8")
    return [*paths, report]

"""``optimise``'s report: the cost–risk frontier figure and ``report.html``.

The figure draws, for each constrained metric, every simulated configuration's cost against the
metric's mean with its interval, coloured by the screening verdict; the threshold is a dashed
line, the frontier (the cheapest configuration at or below each cost that was found feasible) is
joined up, and the recommendation is ringed. The HTML says what was recommended, how many
replications went where (against an exhaustive search), and the guarantee in plain words.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from sim.domain.metrics import metric_label
from sim.report.figures import PALETTE, save_figure

__all__ = ["frontier_figure", "guarantee_text", "render_optimise_report", "write_optimise_report"]

COLOURS = {"yes": PALETTE[2], "no": PALETTE[5], "undecided": PALETTE[1]}


def frontier_figure(frontier: pd.DataFrame, limits: Sequence[tuple[str, str, float]]) -> Figure:
    """Cost against each constrained metric (mean and CI), feasible frontier highlighted.

    Args:
        frontier: ``frontier.csv``'s table.
        limits: (metric, side, threshold) of each constraint.
    """
    metrics = list(dict.fromkeys(m for m, _, _ in limits))
    fig, axes = plt.subplots(len(metrics), 1, figsize=(7.5, 3.4 * len(metrics)), squeeze=False)
    for ax, metric in zip(axes[:, 0], metrics, strict=True):
        for verdict, colour in COLOURS.items():
            part = frontier[frontier["feasible"] == verdict]
            if part.empty:
                continue
            mean = part[f"{metric}_mean"].astype(float)
            low = (mean - part[f"{metric}_ci_low"].astype(float)).clip(lower=0)
            high = (part[f"{metric}_ci_high"].astype(float) - mean).clip(lower=0)
            label = {"yes": "feasible", "no": "infeasible", "undecided": "undecided"}[verdict]
            ax.errorbar(
                part["cost"],
                mean,
                yerr=[low, high],
                fmt="o",
                color=colour,
                capsize=2,
                markersize=4,
                alpha=0.85,
                label=label,
            )
        feasible = frontier[frontier["feasible"] == "yes"].sort_values("cost")
        if not feasible.empty:
            best = feasible[f"{metric}_mean"].astype(float).cummin()
            if any(side == "min" for m, side, _ in limits if m == metric):
                best = feasible[f"{metric}_mean"].astype(float).cummax()
            ax.step(
                feasible["cost"],
                best,
                where="post",
                color=PALETTE[2],
                lw=1.5,
                label="feasible frontier",
            )
        chosen = frontier[frontier["recommended"] == "yes"]
        if not chosen.empty:
            ax.scatter(
                chosen["cost"],
                chosen[f"{metric}_mean"],
                s=180,
                facecolors="none",
                edgecolors="k",
                linewidths=1.8,
                label="recommended",
                zorder=5,
            )
        for m, side, limit in limits:
            if m == metric:
                ax.axhline(limit, color="k", ls="--", lw=1, label=f"threshold ({side})")
        ax.set_xlabel("cost")
        ax.set_ylabel(metric_label(metric), fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Cost against each constrained metric (mean, CI)")
    fig.tight_layout()
    return fig


def guarantee_text(confidence: float, constraints: int, confirmations: int) -> str:
    """The guarantee in plain words."""
    alpha = 1 - confidence
    return (
        f"With probability at least {confidence:.0%}, the recommended configuration meets every "
        f"constraint (its true mean, over infinitely many replications, is on the right side of "
        f"each threshold). Why: the configuration was confirmed on fresh replications that played "
        f"no part in choosing it; the j-th confirmation of a search allows an error of "
        f"{alpha:g}/2^j, split equally over the {constraints} constraint(s) (one-sided exact "
        f"Clopper–Pearson bounds for probabilities, Student-t bounds for means); "
        f"{confirmations} confirmation(s) were made, and the errors add up to less than "
        f"{alpha:g} whatever the number. The guarantee covers feasibility, not cheapness: a "
        f"cheaper configuration reported infeasible or undecided may still be feasible, with the "
        f"screening confidence of each verdict ({confidence:.0%} intervals)."
    )


def _table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "null" if v is None else str(v)


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
th{background:#f2f2f2} img{max-width:100%} figure{margin:1.5em 0} code{background:#f6f6f6}
.guarantee{background:#eef6ee;border-left:4px solid #009E73;padding:0.6em 1em}
"""


def render_optimise_report(summary: dict[str, Any], frontier: pd.DataFrame, figure: Path) -> str:
    """The HTML of ``report.html`` (summary: see :func:`write_optimise_report`)."""
    name = html.escape(summary["name"])
    if summary["recommended"] is not None:
        levers = ", ".join(
            f"<code>{html.escape(k)} = {html.escape(_fmt(v))}</code>"
            for k, v in summary["recommended"].items()
        )
        answer = (
            f"<p><b>Recommended:</b> {levers} at cost {summary['recommended_cost']:,.6g}"
            f" (written to <code>recommended.yaml</code>).</p>"
        )
    else:
        answer = (
            "<p><b>No configuration could be recommended</b>: "
            f"{html.escape(summary['why_none'])}</p>"
        )
    warnings = "".join(f"<p>⚠ {html.escape(w)}</p>" for w in summary["warnings"])
    constraints = "".join(
        f"<li><code>{html.escape(m)}</code> {side} {limit:g}</li>"
        for m, side, limit in summary["limits"]
    )
    spent = summary["spent"]
    counts = frontier["feasible"].value_counts().to_dict() if len(frontier) else {}
    where = pd.DataFrame(
        [
            {"": "configurations in the space", "count": summary["configurations"]},
            {"": "simulated", "count": len(frontier)},
            {"": "… found feasible", "count": counts.get("yes", 0)},
            {"": "… found infeasible", "count": counts.get("no", 0)},
            {"": "… undecided", "count": counts.get("undecided", 0)},
            {"": "infeasible by monotonicity (not simulated)", "count": summary["implied"]},
            {"": "screening replications", "count": summary["screening"]},
            {"": "confirmation replications", "count": summary["confirming"]},
            {"": "ranking and selection at equal cost (KN)", "count": summary["selecting"]},
            {"": "replications spent", "count": spent},
            {
                "": "exhaustive search (every configuration × maximum)",
                "count": summary["exhaustive"],
            },
        ]
    )
    ratio = f"{spent / summary['exhaustive']:.1%}" if summary["exhaustive"] else "n/a"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>optimise: {name}</title>
<style>{CSS}</style></head><body>
<h1>Cheapest configuration meeting the thresholds: {name}</h1>
{answer}
<div class="guarantee"><p><b>The guarantee.</b> {html.escape(summary["guarantee"])}</p></div>
{warnings}
<h2>Constraints</h2><ul>{constraints}</ul>
<h2>Cost–risk frontier</h2>
{_image(figure, "Cost against each constrained metric; the feasible frontier in green")}
<h2>Where the replications went</h2>
<p>{spent:,} replications, {ratio} of what an exhaustive search needs.</p>
{_table(where)}
<h2>Every simulated configuration</h2>
{_table(frontier)}
</body></html>
"""


def write_optimise_report(out: Path, frontier: pd.DataFrame, summary: dict[str, Any]) -> list[Path]:
    """Write the frontier figure (PNG, SVG) and ``report.html`` into ``out``; returns the paths.

    ``summary`` holds: ``name``, ``recommended`` (lever → value, or None), ``recommended_cost``,
    ``why_none``, ``warnings``, ``limits`` [(metric, side, threshold)], ``configurations``,
    ``implied``, ``screening``, ``confirming``, ``selecting``, ``spent``, ``exhaustive``,
    ``guarantee``.
    """
    paths = save_figure(frontier_figure(frontier, summary["limits"]), out, "frontier")
    report = out / "report.html"
    report.write_text(render_optimise_report(summary, frontier, paths[0]), encoding="utf-8")
    return [*paths, report]

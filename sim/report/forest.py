"""The figure a decision is taken from: each scenario's paired difference from the baseline.

One panel per headline metric; one row per scenario, ranked by its difference on the first
metric (the best first); a dot at the mean paired difference and a line over its 95% confidence
interval, coloured by what the interval says (clearly better, clearly worse, not distinguishable
from no change). The zero line is labelled, the legend sits below the panels, outside the data.

With a single scenario (``polit-sim run``) there is no baseline: the panels show the estimate
itself with its interval.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim.domain.metrics import METRICS
from sim.report.figures import PALETTE
from sim.report.layout import (
    LABEL_PAD,
    TICK,
    TITLE_PAD,
    fit,
    inches,
    legend_height,
    text_height,
    text_width,
)

__all__ = ["FOREST_METRICS", "HIGHER_IS_BETTER", "forest_figure", "rank_scenarios", "verdict"]

FOREST_METRICS: tuple[str, ...] = (
    "any_neglect_over_365",
    "share_neglect_over_180",
    "mean_wait_days",
)
"""The headline metrics of the forest plot, the first one deciding the ranking."""

HIGHER_IS_BETTER = frozenset(
    {"target_met_share", "closed"} | {m for m in METRICS if "target_met" in m}
)
"""Metrics where a rise is an improvement; for the others (neglect, waits, backlog) a fall is."""

COLOURS = {"better": PALETTE[2], "worse": PALETTE[5], "unclear": "0.45"}
LABELS = {
    "better": "clearly better than the baseline (95% CI excludes 0)",
    "worse": "clearly worse than the baseline (95% CI excludes 0)",
    "unclear": "not distinguishable from no change",
}


def verdict(metric: str, low: float, high: float) -> str:
    """``better``, ``worse`` or ``unclear`` for a difference whose 95% CI is [low, high]."""
    if not (np.isfinite(low) and np.isfinite(high)) or (low <= 0 <= high):
        return "unclear"
    up = low > 0
    return "better" if up == (metric in HIGHER_IS_BETTER) else "worse"


def rank_scenarios(table: pd.DataFrame, baseline: str, metric: str) -> list[str]:
    """The non-baseline scenarios, best first by their mean difference on ``metric``."""
    part = table[(table["metric"] == metric) & (table["scenario"] != baseline)]
    sign = -1.0 if metric in HIGHER_IS_BETTER else 1.0
    order = part.assign(key=sign * part["difference"].astype(float)).sort_values(
        "key", kind="stable", na_position="last"
    )
    return [str(s) for s in order["scenario"]]


def _scale(metric: str, difference: bool = True) -> tuple[float, str]:
    info = METRICS.get(metric)
    if info is not None and info.unit in ("fraction", "probability"):
        return 100.0, "percentage points" if difference else "%"
    return 1.0, info.unit if info is not None else ""


def forest_figure(
    table: pd.DataFrame,
    baseline: str,
    metrics: Sequence[str] = FOREST_METRICS,
    titles: Mapping[str, str] | None = None,
) -> Figure:
    """The ranked forest plot of paired differences (or of estimates, for one scenario).

    Args:
        table: the comparison table (``comparison.csv``): per metric and scenario ``mean``,
            ``ci_low``, ``ci_high``, ``difference``, ``diff_ci_low``, ``diff_ci_high``.
        baseline: the baseline scenario's name.
        metrics: one panel each; the first ranks the scenarios.
        titles: a human title per scenario name, for the row labels.
    """
    titles = dict(titles or {})
    present = set(table["metric"])
    metrics = [m for m in metrics if m in present]
    scenarios = list(dict.fromkeys(str(s) for s in table["scenario"]))
    single = scenarios == [baseline]
    rows = [baseline] if single else rank_scenarios(table, baseline, metrics[0])
    labels = [textwrap.fill(titles.get(s, s), 30) for s in rows]
    headings = []
    for metric in metrics:
        info = METRICS.get(metric)
        name = info.label if info is not None else metric
        headings.append(textwrap.fill(name[:1].upper() + name[1:], 36))
    if single:
        suptitle = "Headline metrics (mean and 95% confidence interval)"
    else:
        suptitle = (
            f"Difference from the baseline ({titles.get(baseline, baseline)}), paired by "
            "replication: mean and 95% CI; best first"
        )
    # Fixed margins in inches: the scenarios' names on the left; the title and the panels'
    # titles above; tick labels, the axis label and (comparing) the legend's row below.
    width = 3.7 * len(metrics) + 3.0
    left = 0.1 + max(text_width(label, 10.5) for label in labels) + TICK
    gap, right = 0.25, 0.3
    panel_width = (width - left - right - (len(metrics) - 1) * gap) / len(metrics)
    suptitle = fit(suptitle, width - 0.2, 12.5)
    title_room = max(text_height(h, 11.5) for h in headings) + TITLE_PAD
    top = 0.1 + text_height(suptitle, 12.5) + 0.1 + title_room
    bottom = 0.1 + (0.0 if single else legend_height(1, 10.5) + 0.1)
    bottom += 2 * text_height("0", 10.5) + LABEL_PAD + TICK
    panel = 0.45 * len(rows) + 0.16 * sum(lab.count("\n") for lab in labels) + 0.2
    height = top + panel + bottom
    fig = plt.figure(figsize=(width, height))
    axes: list[Any] = []
    for k in range(len(metrics)):
        rect = inches(fig, left + k * (panel_width + gap), bottom, panel_width, panel)
        axes.append(fig.add_axes(rect, sharey=axes[0] if axes else None))
        if k:
            axes[k].tick_params(labelleft=False)
    y = np.arange(len(rows))
    seen: set[str] = set()
    for ax, metric, heading in zip(axes, metrics, headings, strict=True):
        factor, unit = _scale(metric, difference=not single)
        part = table[table["metric"] == metric].set_index("scenario").reindex(rows)
        if single:
            mid = part["mean"].to_numpy(float) * factor
            low = part["ci_low"].to_numpy(float) * factor
            high = part["ci_high"].to_numpy(float) * factor
        else:
            mid = part["difference"].to_numpy(float) * factor
            low = part["diff_ci_low"].to_numpy(float) * factor
            high = part["diff_ci_high"].to_numpy(float) * factor
        for k in range(len(rows)):
            kind = "unclear" if single else verdict(metric, low[k] / factor, high[k] / factor)
            colour = PALETTE[0] if single else COLOURS[kind]
            seen.add(kind)
            if np.isfinite(low[k]) and np.isfinite(high[k]):
                ax.plot([low[k], high[k]], [y[k], y[k]], color=colour, linewidth=2.2)
            if np.isfinite(mid[k]):
                ax.plot(mid[k], y[k], "o", color=colour, markersize=6.5)
        if not single:
            ax.axvline(0.0, color="0.2", linewidth=0.9)
        ax.set_title(heading, fontsize=11.5, y=1.0)
        what = f"{'estimate' if single else 'difference from baseline'} ({unit})"
        ax.set_xlabel(what, fontsize=10.5)
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(labelsize=10.5)
        lo, hi = np.nanmin(np.r_[low, mid, 0.0]), np.nanmax(np.r_[high, mid, 0.0])
        pad = 0.08 * (hi - lo) if hi > lo else 1.0
        ax.set_xlim(lo - pad, hi + pad)
    axes[0].set_yticks(y, labels)
    axes[0].set_ylim(len(rows) - 0.5, -0.7)
    fig.suptitle(suptitle, fontsize=12.5, y=1 - 0.1 / height, va="top")
    if not single:
        handles = [
            Line2D([], [], color=COLOURS[k], marker="o", linewidth=2.2, label=LABELS[k])
            for k in ("better", "worse", "unclear")
            if k in seen
        ]
        handles.append(Line2D([], [], color="0.2", linewidth=0.9, label="0: no change"))
        fig.legend(
            handles=handles,
            loc="lower center",
            bbox_to_anchor=(0.5, 0.1 / height),
            ncol=len(handles),
            fontsize=10.5,
            frameon=False,
        )
    return fig

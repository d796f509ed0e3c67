"""Figures from result tables: DataFrame in, matplotlib Figure out. No model runs here."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

__all__ = ["PALETTE", "backlog_figure", "neglect_survival_figure", "save_figure"]

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
"""Okabe–Ito colours, distinguishable with the common colour-vision deficiencies."""


def save_figure(fig: Figure, out_dir: Path, stem: str) -> list[Path]:
    """Save ``fig`` as PNG and SVG; returns the paths written."""
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.svg"]
    fig.savefig(paths[0], dpi=120, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return paths


def backlog_figure(
    backlogs: dict[str, pd.DataFrame], warmup_days: float = 0.0, confidence: float = 0.95
) -> Figure:
    """Open cases over time: the mean across replications with a confidence band per scenario."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, (name, frame) in enumerate(backlogs.items()):
        table = frame.pivot(index="day", columns="replication", values="open_cases")
        mean = table.mean(axis=1)
        n = table.shape[1]
        colour = PALETTE[i % len(PALETTE)]
        ax.plot(table.index, mean, color=colour, label=name)
        if n > 1:
            half = stats.t.ppf((1 + confidence) / 2, n - 1) * table.std(axis=1, ddof=1) / np.sqrt(n)
            ax.fill_between(table.index, mean - half, mean + half, color=colour, alpha=0.25)
    if warmup_days > 0:
        ax.axvspan(0, warmup_days, color="0.9", label="warm-up")
    ax.set_xlabel("day")
    ax.set_ylabel("open cases")
    ax.set_title(f"Backlog over time (mean, {confidence:.0%} CI band)")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return fig


def neglect_survival_figure(
    cases: dict[str, pd.DataFrame], thresholds: Sequence[float] = (90, 180, 365, 730)
) -> Figure:
    """Kaplan–Meier survival of ``longest_neglect_days`` per scenario.

    A case still open at the horizon is right-censored at its neglect so far: it might yet go
    longer without progress.
    """
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, (name, frame) in enumerate(cases.items()):
        neglect = frame["longest_neglect_days"].to_numpy(dtype=float)
        censored = frame["censored"].to_numpy(dtype=bool)
        if len(neglect) == 0:
            continue
        data = stats.CensoredData(uncensored=neglect[~censored], right=neglect[censored])
        sf = stats.ecdf(data).sf
        grid = np.linspace(0.0, max(float(neglect.max()), max(thresholds)) * 1.05, 400)
        survival = sf.evaluate(grid)
        survival = np.where(survival > 0, survival, np.nan)  # log axis: leave zeros undrawn
        ax.step(grid, survival, where="post", color=PALETTE[i % len(PALETTE)], label=name)
    for t in thresholds:
        ax.axvline(t, color="0.6", linestyle=":", linewidth=1)
    ax.set_yscale("log")
    ax.set_xlabel("longest time without progress while waiting on the team (days)")
    ax.set_ylabel("share of cases exceeding (log scale)")
    ax.set_title("How long cases go unprogressed (Kaplan–Meier, open cases censored)")
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    return fig

"""Figures from result tables: DataFrame in, matplotlib Figure out. No model runs here."""

from __future__ import annotations

import datetime
import io
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from sim.report.layout import (
    LABEL_PAD,
    TICK,
    TITLE_PAD,
    fit,
    inches,
    legend_height,
    slanted_size,
    text_height,
    text_width,
    tick_labels,
)

__all__ = [
    "PALETTE",
    "backlog_figure",
    "day_axis",
    "figure_files",
    "label_days_as_dates",
    "metrics_figure",
    "neglect_survival_figure",
    "save_figure",
]

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
"""Okabe–Ito colours, distinguishable with the common colour-vision deficiencies."""


def _linestyle(i: int) -> str:
    """Solid for the first eight series, then dashed, dotted: the palette has eight colours."""
    return ("-", "--", ":", "-.")[(i // len(PALETTE)) % 4]


def save_figure(fig: Figure, out_dir: Path, stem: str, *, svg: bool = True) -> list[Path]:
    """Save ``fig`` as PNG, and as SVG too with ``svg``; returns the paths written."""
    paths = []
    try:
        for name, content in figure_files(fig, stem, svg=svg).items():
            paths.append(out_dir / name)
            paths[-1].write_bytes(content)
    except BaseException:
        for path in paths:
            path.unlink(missing_ok=True)
        raise
    return paths


def figure_files(fig: Figure, stem: str, *, svg: bool = True) -> dict[str, bytes]:
    """``fig`` as PNG, and as SVG too with ``svg``: each file's content by file name; closes it.

    Each format is drawn once: the figures here are laid out with fixed margins when they are
    made (no layout engine, which draws a figure once more before saving it, and no
    ``bbox_inches="tight"``, which draws it twice to measure it).
    """
    files: dict[str, bytes] = {}
    try:
        # No date or software stamp, and SVG ids salted with the stem instead of at random:
        # the same figure gives the same bytes.
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=120, metadata={"Software": None})
        files[f"{stem}.png"] = buffer.getvalue()
        if svg:
            buffer = io.BytesIO()
            with plt.rc_context({"svg.hashsalt": f"polit-sim-{stem}"}):
                fig.savefig(buffer, format="svg", metadata={"Date": None})
            files[f"{stem}.svg"] = buffer.getvalue()
    finally:
        plt.close(fig)
    return files


def day_axis(start_date: datetime.date | None, days: Any) -> Any:
    """The x values of ``days``: the days themselves, or their dates given a start date."""
    if start_date is None:
        return np.asarray(days, dtype=float)
    base = np.datetime64(start_date.isoformat(), "s")
    seconds = np.round(np.asarray(days, dtype=float) * 86400.0).astype("int64")
    return base + seconds.astype("timedelta64[s]")


def label_days_as_dates(ax: Any, start_date: datetime.date | None) -> None:
    """On an axis in days, label the ticks with their calendar dates (given a start date)."""
    if start_date is None:
        ax.set_xlabel("day")
        return
    from matplotlib.ticker import FuncFormatter

    def label(day: float, _position: int) -> str:
        return (start_date + datetime.timedelta(days=int(np.floor(day)))).isoformat()

    ax.xaxis.set_major_formatter(FuncFormatter(label))
    for tick in ax.get_xticklabels():
        tick.set_rotation(30)
        tick.set_horizontalalignment("right")
    ax.set_xlabel("date")


def backlog_figure(
    backlogs: dict[str, pd.DataFrame],
    warmup_days: float = 0.0,
    confidence: float = 0.95,
    start_date: datetime.date | None = None,
) -> Figure:
    """Open cases over time: the mean across replications with a confidence band per scenario.

    With ``start_date`` the time axis shows calendar dates.
    """
    fig = plt.figure(figsize=(9, 4.5))
    ax = fig.add_subplot()
    for i, (name, frame) in enumerate(backlogs.items()):
        table = frame.pivot(index="day", columns="replication", values="open_cases")
        mean = table.mean(axis=1).to_numpy()
        n = table.shape[1]
        colour = PALETTE[i % len(PALETTE)]
        x = day_axis(start_date, table.index)
        ax.plot(x, mean, color=colour, label=name, linestyle=_linestyle(i))
        if n > 1:
            from scipy.special import stdtrit  # the t quantile; scipy.stats is slow to import

            half = stdtrit(n - 1, (1 + confidence) / 2) * table.std(axis=1, ddof=1) / np.sqrt(n)
            half = half.to_numpy()
            ax.fill_between(x, mean - half, mean + half, color=colour, alpha=0.25)
    if warmup_days > 0:
        ax.axvspan(
            *day_axis(start_date, [0.0, warmup_days]), color="0.9", label="warm-up (not counted)"
        )
    ax.set_xlabel("day of the simulation" if start_date is None else "date")
    ax.set_ylabel("open cases")
    ax.grid(alpha=0.3)
    _lay_out(
        fig,
        ax,
        f"Backlog over time (mean, {confidence:.0%} CI band)",
        slant=30.0 if start_date is not None else 0.0,
    )
    return fig


def _lay_out(fig: Figure, ax: Any, title: str, slant: float = 0.0) -> None:
    """Place ``ax`` with fixed margins: its title above, its tick labels, axis labels and legend
    (three columns, under the axes, outside the data) below and left; dates slanted by ``slant``.

    The margins are measured from the labels the axes will draw (:func:`tick_labels`), once
    the axes has its size nearly: the number of ticks depends on the axis's length.
    """
    width, height = fig.get_size_inches()
    handles, labels = ax.get_legend_handles_labels()
    columns = max(1, min(3, len(labels)))
    ax.set_position(inches(fig, 1.0, 1.3, width - 1.3, height - 1.7))
    if slant:
        for label in ax.get_xticklabels():
            label.set_rotation(slant)
            label.set_horizontalalignment("right")
    x_labels = tick_labels(ax.xaxis) or ["0"]
    y_width = max((text_width(label) for label in tick_labels(ax.yaxis)), default=0.0)
    widest = max(x_labels, key=text_width)
    x_width, x_height = slanted_size(widest, slant) if slant else (0.0, text_height("0"))
    left = 0.1 + text_height(ax.get_ylabel()) + LABEL_PAD + y_width + TICK
    left = max(left, 0.1 + x_width)  # the first slanted label reaches left of the axis
    right = 0.1 + (0.0 if slant else text_width(x_labels[-1]) / 2)
    heading = fit(title, width - left - right, "large")
    top = 0.1 + text_height(heading, "large") + TITLE_PAD
    legend = legend_height(-(-len(labels) // columns)) if labels else 0.0
    bottom = 0.1 + legend + 0.1 + text_height(ax.get_xlabel()) + LABEL_PAD + x_height + TICK
    ax.set_position(inches(fig, left, bottom, width - left - right, height - top - bottom))
    ax.set_title(heading, y=1.0)
    if labels:
        fig.legend(
            handles,
            labels,
            loc="lower center",
            bbox_to_anchor=((left + (width - left - right) / 2) / width, 0.1 / height),
            ncol=columns,
            fontsize=8,
            frameon=False,
        )


def neglect_survival_figure(
    cases: dict[str, pd.DataFrame], thresholds: Sequence[float] = (90, 180, 365, 730)
) -> Figure:
    """Kaplan–Meier survival of ``longest_neglect_days`` per scenario.

    A case still open at the horizon is right-censored at its neglect so far: it might yet go
    longer without progress.
    """
    fig = plt.figure(figsize=(9, 4.5))
    ax = fig.add_subplot()
    for i, (name, frame) in enumerate(cases.items()):
        neglect = frame["longest_neglect_days"].to_numpy(dtype=float)
        censored = frame["censored"].to_numpy(dtype=bool)
        if len(neglect) == 0:
            continue
        from scipy import stats  # imported on first use: slow to import

        data = stats.CensoredData(uncensored=neglect[~censored], right=neglect[censored])
        sf = stats.ecdf(data).sf
        grid = np.linspace(0.0, max(float(neglect.max()), max(thresholds)) * 1.05, 400)
        survival = sf.evaluate(grid)
        survival = np.where(survival > 0, survival, np.nan)  # log axis: leave zeros undrawn
        # Nothing is known past the longest neglect observed: the curve stops there.
        survival = np.where(grid <= float(neglect.max()), survival, np.nan)
        ax.step(
            grid,
            survival,
            where="post",
            color=PALETTE[i % len(PALETTE)],
            label=name,
            linestyle=_linestyle(i),
        )
    for t in thresholds:
        ax.axvline(t, color="0.45", linestyle=":", linewidth=1)
        ax.annotate(
            f"{t:g} days",
            xy=(t, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(2, -10),
            textcoords="offset points",
            fontsize=8,
            color="0.3",
            rotation=90,
            va="top",
        )
    ax.set_yscale("log")
    # Shares as per cent (log ticks would read "6×10⁻¹"); minor ticks labelled only on short axes.
    percent = FuncFormatter(lambda y, _pos: f"{100 * y:.3g}%")
    ax.yaxis.set_major_formatter(percent)
    ax.yaxis.set_minor_formatter(percent if ax.get_ylim()[0] > 0.05 else NullFormatter())
    ax.set_xlabel("longest time without progress while waiting on the team (days)")
    ax.set_ylabel("share of cases exceeding (log scale)")
    ax.grid(alpha=0.3, which="both")
    _lay_out(fig, ax, "How long cases go unprogressed (Kaplan–Meier, open cases censored)")
    return fig


def _label(metric: str) -> str:
    """The metric's plain label with its unit, or the bare name."""
    try:
        from sim.domain.metrics import metric_label

        return metric_label(metric)
    except (ImportError, KeyError):
        return metric


def metrics_figure(
    table: pd.DataFrame,
    metrics: Sequence[str],
    columns: int = 3,
    titles: dict[str, str] | None = None,
) -> Figure:
    """Headline metrics side by side: per scenario the mean with its 95% CI as an error bar.

    Args:
        table: rows of (metric, scenario, mean, ci_low, ci_high), e.g. ``comparison.csv``.
        metrics: the metrics to draw, one panel each.
        titles: a human title per scenario name, for the row labels.
    """
    metrics = [m for m in metrics if m in set(table["metric"])]
    scenarios = list(dict.fromkeys(table["scenario"]))
    rows = max(1, -(-len(metrics) // columns))
    shown = [textwrap.fill((titles or {}).get(s, s), 30) for s in scenarios]
    headings = [textwrap.fill(_label(metric), 40) for metric in metrics]
    # Fixed margins: the scenarios' names left of the first column, each panel's title above
    # it and its tick labels below; the rightmost tick label may reach past the last panel.
    width = 4.2 * columns
    left = 0.1 + max((text_width(s) for s in shown), default=0.0) + TICK
    gap, right = 0.3, 0.35
    panel_width = (width - left - right - (columns - 1) * gap) / columns
    title_room = max((text_height(h, 9) for h in headings), default=0.0) + TITLE_PAD
    below = TICK + text_height("0")
    suptitle = fit("Headline metrics per scenario (mean, 95% CI)", width - 0.2, "large")
    top = 0.1 + text_height(suptitle, "large") + 0.1 + title_room
    panel = 0.35 * len(scenarios) + 0.7
    row_gap = below + 0.15 + title_room
    height = top + rows * panel + (rows - 1) * row_gap + below + 0.1
    fig = plt.figure(figsize=(width, height))
    y = np.arange(len(scenarios))
    for k, metric in enumerate(metrics):
        row, column = divmod(k, columns)
        ax = fig.add_axes(
            inches(
                fig,
                left + column * (panel_width + gap),
                height - top - panel - row * (panel + row_gap),
                panel_width,
                panel,
            )
        )
        part = table[table["metric"] == metric].set_index("scenario").reindex(scenarios)
        mean = part["mean"].to_numpy(dtype=float)
        err = np.vstack([mean - part["ci_low"], part["ci_high"] - mean]).astype(float)
        err = np.where(np.isfinite(err), np.clip(err, 0, None), 0.0)
        # The first scenario (the baseline of a comparison) in grey, the others in one blue: a
        # palette cycled over ten scenarios would repeat colours and hide black error bars.
        colours = ["0.65"] + [PALETTE[0]] * (len(scenarios) - 1)
        ax.barh(y, mean, xerr=err, color=colours, alpha=0.85, capsize=3, ecolor="0.1")
        ax.set_yticks(y, shown if column == 0 else [""] * len(scenarios))
        ax.invert_yaxis()
        ax.set_title(headings[k], fontsize=9, y=1.0)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(suptitle, y=1 - 0.1 / height, va="top")
    return fig

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

__all__ = [
    "PALETTE",
    "backlog_figure",
    "case_timeline_figure",
    "day_axis",
    "detective_heatmap_figure",
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

    Figures are laid out when drawn (constrained layout), so each format is drawn once: no
    ``bbox_inches="tight"``, which draws a figure twice to measure it.
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
    fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
    for i, (name, frame) in enumerate(backlogs.items()):
        table = frame.pivot(index="day", columns="replication", values="open_cases")
        mean = table.mean(axis=1).to_numpy()
        n = table.shape[1]
        colour = PALETTE[i % len(PALETTE)]
        x = day_axis(start_date, table.index)
        ax.plot(x, mean, color=colour, label=name, linestyle=_linestyle(i))
        if n > 1:
            from scipy import stats  # imported on first use: slow to import

            half = stats.t.ppf((1 + confidence) / 2, n - 1) * table.std(axis=1, ddof=1) / np.sqrt(n)
            half = half.to_numpy()
            ax.fill_between(x, mean - half, mean + half, color=colour, alpha=0.25)
    if warmup_days > 0:
        ax.axvspan(
            *day_axis(start_date, [0.0, warmup_days]), color="0.9", label="warm-up (not counted)"
        )
    if start_date is not None:
        fig.autofmt_xdate()
    ax.set_xlabel("day of the simulation" if start_date is None else "date")
    ax.set_ylabel("open cases")
    ax.set_title(f"Backlog over time (mean, {confidence:.0%} CI band)")
    # Dates are written slanted, and take more room below the axis than days.
    _legend_below(ax, len(backlogs) + (warmup_days > 0), -0.16 if start_date is None else -0.3)
    ax.grid(alpha=0.3)
    return fig


def _legend_below(ax: Any, entries: int, offset: float = -0.16) -> None:
    """The legend under the axes (``offset`` in axes heights), outside the data."""
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, offset),
        ncol=max(1, min(3, entries)),
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
    fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
    for i, (name, frame) in enumerate(cases.items()):
        neglect = frame["longest_neglect_days"].to_numpy(dtype=float)
        censored = frame["censored"].to_numpy(dtype=bool)
        if len(neglect) == 0:
            continue
        from scipy import stats

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
    ax.set_title("How long cases go unprogressed (Kaplan–Meier, open cases censored)")
    _legend_below(ax, len(cases))
    ax.grid(alpha=0.3, which="both")
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
    fig, axes = plt.subplots(
        rows,
        columns,
        figsize=(4.2 * columns, 0.35 * len(scenarios) * rows + 1.6 * rows),
        squeeze=False,
        layout="constrained",
    )
    y = np.arange(len(scenarios))
    for ax, metric in zip(axes.flat, metrics, strict=False):
        part = table[table["metric"] == metric].set_index("scenario").reindex(scenarios)
        mean = part["mean"].to_numpy(dtype=float)
        err = np.vstack([mean - part["ci_low"], part["ci_high"] - mean]).astype(float)
        err = np.where(np.isfinite(err), np.clip(err, 0, None), 0.0)
        # The first scenario (the baseline of a comparison) in grey, the others in one blue: a
        # palette cycled over ten scenarios would repeat colours and hide black error bars.
        colours = ["0.65"] + [PALETTE[0]] * (len(scenarios) - 1)
        ax.barh(y, mean, xerr=err, color=colours, alpha=0.85, capsize=3, ecolor="0.1")
        shown = [textwrap.fill((titles or {}).get(s, s), 30) for s in scenarios]
        ax.set_yticks(y, shown if ax in axes[:, 0] else [""] * len(scenarios))
        ax.invert_yaxis()
        ax.set_title(textwrap.fill(_label(metric), 40), fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.set_visible(False)
    fig.suptitle("Headline metrics per scenario (mean, 95% CI)")
    return fig


def _intervals(
    trace: Sequence[tuple[Any, ...]], horizon: float
) -> dict[str, list[tuple[float, float, str]]]:
    """Leave spells per detective: (start day, end day, kind); open spells end at the horizon."""
    spells: dict[str, list[tuple[float, float, str]]] = {}
    open_: dict[str, tuple[float, str]] = {}
    for event in trace:
        if event[0] == "absent":
            open_[event[2]] = (event[1], event[3])
        elif event[0] == "present" and event[2] in open_:
            start, kind = open_.pop(event[2])
            spells.setdefault(event[2], []).append((start, event[1], kind))
    for name, (start, kind) in open_.items():
        spells.setdefault(name, []).append((start, horizon, kind))
    return spells


def detective_heatmap_figure(
    trace: Sequence[tuple[Any, ...]],
    detectives: Sequence[str],
    hours_per_day: Sequence[float],
    horizon_days: float,
    bin_days: float = 28.0,
    title: str = "",
    start_date: datetime.date | None = None,
) -> Figure:
    """Per detective and period: utilisation, caseload and days of leave (three heat maps).

    Args:
        trace: one replication's timeline (see :class:`sim.engine.team.TeamState`).
        detectives: the detectives' names, one row each.
        hours_per_day: each detective's contracted hours per calendar day (fte × week / 7).
        horizon_days: the simulated time (days).
        bin_days: the length of a period (days).
        start_date: day 0's date, to label the time axis with dates.
    """
    edges = np.arange(0.0, horizon_days + bin_days, bin_days)
    index = {name: i for i, name in enumerate(detectives)}
    worked = np.zeros((len(detectives), len(edges) - 1))
    leave = np.zeros_like(worked)
    caseload = np.zeros_like(worked)
    owner: dict[int, str | None] = {}
    counts = np.zeros(len(detectives))
    b = 0
    for event in trace:
        kind = event[0]
        if kind == "work" and event[3] in index:
            # attribute the block's hours to the period it started in; blocks are hours long
            k = min(int(event[1] // bin_days), worked.shape[1] - 1)
            worked[index[event[3]], k] += event[5]
        elif kind in ("own", "close"):
            day = event[1]
            while b < worked.shape[1] and edges[b + 1] <= day:
                caseload[:, b] = counts
                b += 1
            previous = owner.pop(event[2], None)
            if previous is not None and previous in index:
                counts[index[previous]] -= 1
            if kind == "own" and event[3] is not None:
                owner[event[2]] = event[3]
                if event[3] in index:
                    counts[index[event[3]]] += 1
    caseload[:, b:] = counts[:, None]
    for name, spells in _intervals(trace, horizon_days).items():
        if name not in index:
            continue
        for start, end, _kind in spells:
            overlap = np.clip(np.minimum(end, edges[1:]) - np.maximum(start, edges[:-1]), 0, None)
            leave[index[name]] += overlap
    capacity = np.asarray(hours_per_day, dtype=float)[:, None] * (bin_days - leave)
    utilisation = np.divide(worked, capacity, out=np.full_like(worked, np.nan), where=capacity > 1)
    fig, axes = plt.subplots(
        3, 1, figsize=(10, 1.2 + 0.45 * len(detectives) * 3), sharex=True, layout="constrained"
    )
    panels = [
        (
            utilisation,
            "utilisation of hours present (fraction; white: absent the whole period)",
            "viridis",
            0.0,
            1.0,
        ),
        (caseload, "cases held (count)", "cividis", 0.0, None),
        (leave, f"days on leave per {bin_days:g}-day period", "magma_r", 0.0, bin_days),
    ]
    extent = (0.0, float(edges[-1]), len(detectives) - 0.5, -0.5)
    for ax, (data, label, cmap, vmin, vmax) in zip(axes, panels, strict=True):
        image = ax.imshow(
            data,
            aspect="auto",
            cmap=cmap,
            vmin=vmin,
            vmax=vmax,
            extent=extent,
            interpolation="nearest",
        )
        ax.set_yticks(range(len(detectives)), list(detectives))
        bar = label.split(";")[0] + (")" if ";" in label else "")
        fig.colorbar(image, ax=ax, label=textwrap.fill(bar, 22), pad=0.01)
        ax.set_title(label, fontsize=10)
    label_days_as_dates(axes[-1], start_date)
    fig.suptitle(title or "Per-detective utilisation, caseload and leave over time")
    return fig


def case_timeline_figure(
    trace: Sequence[tuple[Any, ...]],
    detectives: Sequence[str],
    case_id: int,
    horizon_days: float,
    title: str = "",
    flagged_day: float | None = None,
    start_date: datetime.date | None = None,
) -> Figure:
    """One replication's timeline, a lane per detective, told around one case.

    Grey blocks are work on other cases, coloured blocks work on ``case_id``; hatched bars are
    leave; a bold line marks who held the case and when; triangles mark it changing hands
    (inherited); dotted vertical lines are workload reviews (``review`` events), red where one
    flagged the case (``flagged_day``).
    """
    lanes = {name: i for i, name in enumerate(detectives)}
    fig, ax = plt.subplots(figsize=(11, 1.5 + 0.5 * len(detectives)), layout="constrained")
    other: dict[str, list[tuple[float, float]]] = {}
    mine: dict[str, list[tuple[float, float]]] = {}
    holds: list[tuple[float, str | None]] = []
    arrival = closed = None
    reviews: list[float] = []
    for event in trace:
        kind = event[0]
        if kind == "work" and event[3] in lanes:
            target = mine if event[4] == case_id else other
            target.setdefault(event[3], []).append((event[1], max(event[2] - event[1], 0.5)))
        elif kind == "own" and event[2] == case_id:
            holds.append((event[1], event[3]))
            arrival = event[1] if arrival is None else arrival
        elif kind == "close" and event[2] == case_id:
            closed = event[1]
        elif kind == "review":
            reviews.append(event[1])
    for name, bars in other.items():
        ax.broken_barh(bars, (lanes[name] - 0.3, 0.6), color="0.8", linewidth=0)
    for name, spells in _intervals(trace, horizon_days).items():
        if name in lanes:
            bars = [(s, e - s) for s, e, _k in spells]
            ax.broken_barh(
                bars,
                (lanes[name] - 0.4, 0.8),
                facecolor="none",
                edgecolor=PALETTE[1],
                hatch="///",
                linewidth=0.5,
            )
    end = closed if closed is not None else horizon_days
    for k, (day, holder) in enumerate(holds):
        until = holds[k + 1][0] if k + 1 < len(holds) else end
        if holder in lanes:
            ax.plot([day, until], [lanes[holder]] * 2, color=PALETTE[5], linewidth=2.5)
            if k > 0:
                ax.plot(day, lanes[holder], marker="v", color=PALETTE[5], markersize=9)
    for name, bars in mine.items():
        ax.broken_barh(bars, (lanes[name] - 0.3, 0.6), color=PALETTE[0], linewidth=0)
    for day in reviews:
        ax.axvline(day, color="0.5", linestyle=":", linewidth=0.6)
    if flagged_day is not None and np.isfinite(flagged_day):
        ax.axvline(flagged_day, color=PALETTE[5], linestyle="--", linewidth=1.5)
    handles = [
        plt.Rectangle((0, 0), 1, 1, color="0.8", label="work on other cases"),
        plt.Rectangle((0, 0), 1, 1, color=PALETTE[0], label=f"work on case {case_id}"),
        plt.Line2D([], [], color=PALETTE[5], linewidth=2.5, label=f"case {case_id} held"),
        plt.Line2D([], [], color=PALETTE[5], marker="v", linestyle="", label="inherited"),
        plt.Rectangle(
            (0, 0), 1, 1, facecolor="none", edgecolor=PALETTE[1], hatch="///", label="leave"
        ),
    ]
    if reviews:
        handles.append(plt.Line2D([], [], color="0.5", linestyle=":", label="workload review"))
    if flagged_day is not None and np.isfinite(flagged_day):
        handles.append(plt.Line2D([], [], color=PALETTE[5], linestyle="--", label="case flagged"))
    below = -0.15 if start_date is None else -0.4  # below the rotated date labels
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, below), ncol=4, fontsize=8)
    ax.set_yticks(range(len(detectives)), list(detectives))
    ax.invert_yaxis()
    ax.set_xlim(0, horizon_days)
    label_days_as_dates(ax, start_date)
    ax.set_title(title or f"Timeline of case {case_id}")
    return fig

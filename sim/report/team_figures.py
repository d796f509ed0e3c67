"""A scenario's own figures, from one replication's timeline: the detectives' heat map and a case's
timeline. Drawn for every scenario of a comparison (in the worker that ran the replication), so
they are laid out with fixed margins measured once (:mod:`sim.report.layout`), not by a layout
engine.
"""

from __future__ import annotations

import datetime
import textwrap
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch
from matplotlib.path import Path

from sim.report.figures import PALETTE, label_days_as_dates
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
)

__all__ = ["case_timeline_figure", "detective_heatmap_figure"]


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
    bars = [textwrap.fill(p[1].split(";")[0] + (")" if ";" in p[1] else ""), 22) for p in panels]
    # Margins in inches from the strings that fill them: names on the left; on the right the
    # colour bar, its tick labels (at most the largest count) and its label; titles above.
    width = 10.0
    left = _left_margin(detectives, start_date)
    largest = max(float(np.nanmax(caseload, initial=0.0)), bin_days)
    right = 0.1 + 0.16 + TICK + text_width(f"{largest:.0f}.0") + LABEL_PAD
    right += max(text_height(bar) for bar in bars) + 0.1
    plot_width = width - left - right
    titles = [fit(p[1], plot_width, 10) for p in panels]
    title_room = max(text_height(t, 10) for t in titles) + TITLE_PAD
    suptitle = fit(
        title or "Per-detective utilisation, caseload and leave over time", width - 0.2, "large"
    )
    # A panel is tall enough for its rows and for its colour bar's label.
    panel = max(0.4 * len(detectives), max(text_width(bar) for bar in bars) + 0.2)
    gap = title_room + 0.15
    top = 0.1 + text_height(suptitle, "large") + 0.1 + title_room
    bottom = 0.1 + text_height("day") + LABEL_PAD + _tick_label_height(start_date) + TICK
    height = top + 3 * panel + 2 * gap + bottom
    fig = plt.figure(figsize=(width, height))
    extent = (0.0, float(edges[-1]), len(detectives) - 0.5, -0.5)
    axes: list[Any] = []
    for k, (data, _label, cmap, vmin, vmax) in enumerate(panels):
        y = height - top - panel - k * (panel + gap)
        ax = fig.add_axes(inches(fig, left, y, plot_width, panel), sharex=axes[0] if axes else None)
        axes.append(ax)
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
        cax = fig.add_axes(inches(fig, width - right + 0.1, y, 0.16, panel))
        fig.colorbar(image, cax=cax, label=bars[k])
        ax.set_title(titles[k], fontsize=10, y=1.0)
        if k < len(panels) - 1:
            ax.tick_params(labelbottom=False)
    label_days_as_dates(axes[-1], start_date)
    fig.suptitle(suptitle, y=1 - 0.1 / height, va="top")
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
    fig, ax = plt.subplots()
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
    _bars(
        ax, {lanes[name]: bars for name, bars in other.items()}, 0.3, facecolor="0.8", linewidth=0
    )
    leave = {
        lanes[name]: [(s, e - s) for s, e, _k in spells]
        for name, spells in _intervals(trace, horizon_days).items()
        if name in lanes
    }
    _bars(ax, leave, 0.4, facecolor="none", edgecolor=PALETTE[1], hatch="///", linewidth=0.5)
    end = closed if closed is not None else horizon_days
    for k, (day, holder) in enumerate(holds):
        until = holds[k + 1][0] if k + 1 < len(holds) else end
        if holder in lanes:
            ax.plot([day, until], [lanes[holder]] * 2, color=PALETTE[5], linewidth=2.5)
            if k > 0:
                ax.plot(day, lanes[holder], marker="v", color=PALETTE[5], markersize=9)
    _bars(
        ax,
        {lanes[name]: bars for name, bars in mine.items()},
        0.3,
        facecolor=PALETTE[0],
        linewidth=0,
    )
    if reviews:
        ax.vlines(
            reviews,
            0,
            1,
            transform=ax.get_xaxis_transform(),
            color="0.5",
            linestyle=":",
            linewidth=0.6,
        )
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
    # Margins in inches: names on the left; the title above; below the axis its tick labels,
    # its label and the legend (four columns), from the bottom of the figure up.
    width = 11.0
    left = _left_margin(detectives, start_date)
    plot_width = width - left - 0.35
    heading = fit(title or f"Timeline of case {case_id}", plot_width, "large")
    top = 0.1 + text_height(heading, "large") + TITLE_PAD
    rows = -(-len(handles) // 4)
    bottom = 0.1 + legend_height(rows) + 0.1 + text_height("day") + LABEL_PAD
    bottom += _tick_label_height(start_date) + TICK
    plot_height = 0.5 * len(detectives) + 0.2
    fig.set_size_inches(width, top + plot_height + bottom)
    ax.set_position(inches(fig, left, bottom, plot_width, plot_height))
    fig.legend(
        handles=handles,
        loc="lower center",
        bbox_to_anchor=(
            ax.get_position().x0 + ax.get_position().width / 2,
            0.1 / fig.get_figheight(),
        ),
        ncol=4,
        fontsize=8,
    )
    ax.set_yticks(range(len(detectives)), list(detectives))
    ax.set_ylim(len(detectives) - 0.35, -0.65)
    ax.set_xlim(0, horizon_days)
    label_days_as_dates(ax, start_date)
    ax.set_title(heading, y=1.0)
    return fig


def _bars(ax: Any, bars: dict[int, list[tuple[float, float]]], half: float, **style: Any) -> None:
    """Bars (start, length) in lanes (y = lane ± ``half``), drawn as one path in ``style``.

    One path rather than a rectangle each (``broken_barh``): a lane holds hundreds of work
    blocks, and a hatch pattern is rendered once per path. The axis limits are set by the caller.
    """
    boxes = [(x, w, lane) for lane, spans in bars.items() for x, w in spans]
    if not boxes:
        return
    x, w, lane = np.asarray(boxes, dtype=float).T
    corners = np.stack(
        [
            np.c_[x, lane - half],
            np.c_[x + w, lane - half],
            np.c_[x + w, lane + half],
            np.c_[x, lane + half],
            np.c_[x, lane - half],
        ],
        axis=1,
    ).reshape(-1, 2)
    codes = np.tile(
        [Path.MOVETO, Path.LINETO, Path.LINETO, Path.LINETO, Path.CLOSEPOLY],
        len(boxes),
    ).astype(Path.code_type)
    # Snapped to whole pixels as each rectangle would be on its own (matplotlib snaps only
    # paths of up to 1024 vertices unless told to): crisp edges, no grey fringes.
    ax.add_artist(PathPatch(Path(corners, codes), snap=True, **style))


def _tick_label_height(start_date: datetime.date | None) -> float:
    """The height in inches of the time axis's tick labels: days, or slanted dates."""
    return slanted_size()[1] if start_date is not None else text_height("0")


def _left_margin(names: Sequence[str], start_date: datetime.date | None) -> float:
    """The room in inches left of a time axis: its row names, or the first date label's slant."""
    names_width = max((text_width(name) for name in names), default=0.0) + TICK
    return 0.1 + max(names_width, slanted_size()[0] if start_date is not None else 0.2)

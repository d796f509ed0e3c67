"""Figures laid out with fixed margins (no layout engine): every text inside the figure, no two
texts overlapping, for few and many detectives, short and long names, days and slanted dates."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text

from sim.report.figures import backlog_figure, metrics_figure, neglect_survival_figure
from sim.report.forest import forest_figure
from sim.report.layout import DPI, fit, text_width
from sim.report.team_figures import case_timeline_figure, detective_heatmap_figure

HORIZON = 730.0


def _team(count: int, long: bool) -> list[str]:
    stem = "detective_constable_specialist_online" if long else "dc"
    return [f"{stem}_{i}" for i in range(1, count + 1)]


def _trace(names: list[str]) -> list[tuple[Any, ...]]:
    """A small timeline in the engine's event format: blocks of work, leave, a case changing
    hands, reviews and a flag."""
    rng = np.random.default_rng(7)
    events: list[tuple[Any, ...]] = [("own", 5.0, 1, names[0])]
    for i, name in enumerate(names):
        day = float(i)
        while day < HORIZON - 2:
            case = 1 if (name == names[-1] and day > 400) else 2 + i
            events.append(("work", day, day + 0.3, name, case, 7.0))
            day += float(rng.integers(1, 6))
        events.append(("absent", 100.0 + 10 * i, name, "annual"))
        events.append(("present", 120.0 + 10 * i, name))
    events += [("own", 400.0, 1, names[-1]), ("review", 200.0), ("review", 500.0)]
    events.append(("flag", 500.0, 1))
    return sorted(events, key=lambda e: e[1])


def _tick_labels(axis: Any) -> list[Text]:
    """The tick labels drawn: those of ticks inside the axis's limits."""
    low, high = sorted(axis.get_view_interval())
    slack = 1e-9 * (high - low)
    return [
        label
        for location, label in zip(axis.get_majorticklocs(), axis.get_ticklabels(), strict=False)
        if low - slack <= location <= high + slack
    ]


def _texts(fig: Any) -> list[tuple[str, Any, float, float]]:
    """Every text the figure draws: its extent in pixels at the save resolution, its rotation
    (degrees) and the height of its ink unrotated (pixels)."""
    fig.set_dpi(DPI)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts: list[Text] = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        texts += [ax.title, ax.xaxis.label, ax.yaxis.label]
        texts += _tick_labels(ax.xaxis) + _tick_labels(ax.yaxis)
        if ax.get_legend() is not None:
            texts += ax.get_legend().get_texts()
    for legend in fig.legends:
        texts += legend.get_texts()
    if fig._suptitle is not None:
        texts.append(fig._suptitle)
    shown = [t for t in texts if t.get_visible() and t.get_text().strip()]
    return [
        (
            t.get_text(),
            t.get_window_extent(renderer),
            t.get_rotation(),
            max(
                renderer.get_text_width_height_descent(line, t.get_fontproperties(), False)[1]
                for line in t.get_text().split("\n")
            ),
        )
        for t in shown
    ]


def _overlap(a: tuple[str, Any, float, float], b: tuple[str, Any, float, float]) -> bool:
    """Whether two texts' ink may overlap: their extents, and for two texts slanted alike (dates
    along an axis) the distance between their baselines, across the slant."""
    _, box_a, angle_a, height_a = a
    _, box_b, angle_b, height_b = b
    overlap_x = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
    overlap_y = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
    if overlap_x <= 1 or overlap_y <= 1:
        return False
    if angle_a == angle_b and angle_a % 90 != 0 and abs(box_a.y1 - box_b.y1) < 1:
        # Same slant, same row: the labels are the same shape shifted sideways.
        across = abs(box_a.x1 - box_b.x1) * abs(np.sin(np.radians(angle_a)))
        return bool(across < max(height_a, height_b))
    return True


def _assert_laid_out(fig: Any) -> None:
    """Every text lies inside the figure and no two texts overlap (a pixel of slack)."""
    try:
        texts = _texts(fig)
        width, height = fig.bbox.width, fig.bbox.height
        for text, box, _angle, _height in texts:
            assert box.x0 >= -1 and box.y0 >= -1, f"{text!r} leaves the figure: {box}"
            assert box.x1 <= width + 1 and box.y1 <= height + 1, f"{text!r} leaves the figure"
        for a, b in itertools.combinations(texts, 2):
            assert not _overlap(a, b), f"{a[0]!r} overlaps {b[0]!r}"
    finally:
        plt.close(fig)


CASES = [
    pytest.param(2, False, None, id="two-short-days"),
    pytest.param(2, False, date(2015, 1, 1), id="two-short-dates"),
    pytest.param(14, True, None, id="fourteen-long-days"),
    pytest.param(14, True, date(2015, 1, 1), id="fourteen-long-dates"),
]


@pytest.mark.parametrize(("count", "long", "start"), CASES)
def test_heatmap_texts_fit_and_do_not_overlap(count: int, long: bool, start: Any) -> None:
    """The heat map's names, colour-bar labels, titles and dates all fit, none overlapping."""
    names = _team(count, long)
    fig = detective_heatmap_figure(
        _trace(names), names, [7.4] * count, HORIZON, title="A team", start_date=start
    )
    _assert_laid_out(fig)


@pytest.mark.parametrize(("count", "long", "start"), CASES)
def test_timeline_texts_fit_and_do_not_overlap(count: int, long: bool, start: Any) -> None:
    """The timeline's names, long title, dates and legend all fit, none overlapping."""
    names = _team(count, long)
    title = "A long scenario title, replication 0: the most-neglected case 1 " * 2
    fig = case_timeline_figure(
        _trace(names), names, 1, HORIZON, title=title, flagged_day=500.0, start_date=start
    )
    _assert_laid_out(fig)


@pytest.mark.parametrize("start", [None, date(2015, 1, 1)])
def test_comparison_figures_fit_and_do_not_overlap(start: Any) -> None:
    """Backlog (eleven legend entries, days or dates), survival, headline metrics and the
    forest plot of ten scenarios with long titles: every text fits, none overlapping."""
    rng = np.random.default_rng(3)
    scenarios = [f"reform_number_{i}_with_a_long_name" for i in range(10)]
    titles = {
        s: f"Reform {i}: a change to the team described at length" for i, s in enumerate(scenarios)
    }
    days = np.arange(0.0, HORIZON, 7.0)
    backlogs = {
        s: pd.DataFrame(
            [(d, r, 50 + d / 10 + rng.normal()) for r in range(3) for d in days],
            columns=["day", "replication", "open_cases"],
        )
        for s in scenarios
    }
    _assert_laid_out(backlog_figure(backlogs, warmup_days=180.0, start_date=start))
    cases = {
        s: pd.DataFrame(
            {"longest_neglect_days": rng.exponential(100.0, 300), "censored": rng.random(300) < 0.2}
        )
        for s in scenarios
    }
    _assert_laid_out(neglect_survival_figure(cases))
    metrics = ["any_neglect_over_365", "share_neglect_over_180", "mean_wait_days", "closed"]
    rows = []
    for metric in metrics:
        for s in scenarios:
            mean = rng.random()
            diff = mean - 0.5
            rows.append((metric, s, mean, mean - 0.1, mean + 0.1, diff, diff - 0.1, diff + 0.1))
    table = pd.DataFrame(
        rows,
        columns=[
            "metric",
            "scenario",
            "mean",
            "ci_low",
            "ci_high",
            "difference",
            "diff_ci_low",
            "diff_ci_high",
        ],
    )
    _assert_laid_out(metrics_figure(table, metrics, titles=titles))
    _assert_laid_out(forest_figure(table, scenarios[0], metrics[:3], titles=titles))


def test_fit_wraps_to_the_width() -> None:
    """A title wider than its room is wrapped at spaces until every line fits."""
    title = "utilisation of hours present (fraction; white: absent the whole period)"
    wrapped = fit(title, 2.0)
    assert wrapped.replace("\n", " ") == title
    assert all(text_width(line) <= 2.0 for line in wrapped.split("\n"))
    assert fit("short", 2.0) == "short"

"""Fixed margins for figures whose furniture is known in advance: measured once, no layout engine.

A layout engine (``layout="constrained"``) measures every axis, tick label and title on each
save, and makes matplotlib draw the whole figure once more, without output, before the real draw.
The per-scenario figures (heat maps, case timelines) know their furniture before drawing: names
down the left, a title, colour bars, a legend of fixed entries, day or date labels. Their margins
are worked out here from the widths of those strings, measured once with the font the figure will
use, and the axes are placed with them (:func:`inches`); the figure's height grows with its rows,
so no panel gets too short for its colour bar's label.
"""

from __future__ import annotations

import math
import textwrap
from functools import cache
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib import rcParams
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import NullFormatter

__all__ = [
    "DPI",
    "LABEL_PAD",
    "POINT",
    "TICK",
    "TITLE_PAD",
    "fit",
    "inches",
    "legend_height",
    "slanted_size",
    "text_height",
    "text_width",
    "tick_labels",
]

DPI = 120
"""The resolution figures are saved at (PNG); text is measured at it, hinting included."""

POINT = 1 / 72
"""One typographic point in inches."""

TICK = 7 * POINT
"""A tick and the pad to its label (matplotlib's defaults, 3.5 points each), in inches."""
LABEL_PAD = 4 * POINT
"""The pad between tick labels and an axis label (matplotlib's default), in inches."""
TITLE_PAD = 6 * POINT
"""The pad between an axes and its title (matplotlib's default), in inches."""


LINE_SPACING = 1.2
"""Matplotlib's default spacing of the lines of a text, in font sizes."""


@cache
def _renderer() -> RendererAgg:
    return RendererAgg(1, 1, DPI)


def _points(size: float | str) -> float:
    return float(FontProperties(size=size).get_size_in_points())


def text_width(text: str, size: float | str = "medium") -> float:
    """The width of ``text`` (its longest line) in inches, set in the default font at ``size``."""
    prop = FontProperties(size=size)
    widest = 0.0
    for line in text.split("\n"):
        if line:
            width, _height, _descent = _renderer().get_text_width_height_descent(
                line, prop, ismath=False
            )
            widest = max(widest, width)
    return widest / DPI


def text_height(text: str, size: float | str = "medium") -> float:
    """The height of ``text`` in inches: its lines at the default line spacing."""
    return (text.count("\n") + 1) * LINE_SPACING * _points(size) * POINT


def slanted_size(sample: str = "2000-12-31", rotation: float = 30.0) -> tuple[float, float]:
    """The width and height in inches of an x tick label such as ``sample`` slanted by
    ``rotation`` degrees (as dates are): its width reaches left of its tick when right-aligned."""
    size = rcParams["xtick.labelsize"]
    angle = math.radians(rotation)
    width, height = text_width(sample, size), text_height("x", size)
    return (
        width * math.cos(angle) + height * math.sin(angle),
        width * math.sin(angle) + height * math.cos(angle),
    )


def legend_height(rows: int, size: float = 8.0) -> float:
    """The height in inches of a framed legend of ``rows`` rows at font ``size`` (rc defaults:
    0.4 border pad, 0.5 label spacing, both in font sizes; handles no taller than the text)."""
    return (rows * LINE_SPACING * size + (rows - 1) * 0.5 * size + 2 * 0.4 * size + 2) * POINT


def fit(text: str, width: float, size: float | str = "medium") -> str:
    """``text`` wrapped at spaces so that each line is at most ``width`` inches wide."""
    if text_width(text, size) <= width:
        return text
    chars = len(text)
    while chars > 10:
        chars = int(chars * 0.9)
        wrapped = textwrap.fill(text, chars)
        if text_width(wrapped, size) <= width:
            return wrapped
    return textwrap.fill(text, 10)


def tick_labels(axis: Any) -> list[str]:
    """The tick labels ``axis`` draws at its current size and limits: major, and minor when the
    minor ticks are labelled."""
    low, high = sorted(axis.get_view_interval())
    slack = 1e-9 * (high - low)
    labels: list[str] = []
    for locator, formatter in (
        (axis.get_major_locator(), axis.get_major_formatter()),
        (axis.get_minor_locator(), axis.get_minor_formatter()),
    ):
        if isinstance(formatter, NullFormatter):
            continue
        locations = [x for x in locator() if low - slack <= x <= high + slack]
        labels += [label for label in formatter.format_ticks(locations) if label]
    return labels


def inches(
    fig: Figure, left: float, bottom: float, width: float, height: float
) -> tuple[float, float, float, float]:
    """A rectangle given in inches from the figure's lower left corner, as figure fractions."""
    fig_width, fig_height = fig.get_size_inches()
    return (left / fig_width, bottom / fig_height, width / fig_width, height / fig_height)

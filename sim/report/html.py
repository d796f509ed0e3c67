"""The page frame every report shares: one self-contained HTML file, readable at 100%.

A report is built from small pieces — :func:`table`, :func:`image`, :func:`details`,
:func:`section` — put into :func:`page`, which adds the style sheet and nothing else: no script,
no font, no link to anything outside the file, so it opens offline and can be e-mailed.

Numbers are shown to 2–3 significant figures with their unit (:func:`fmt_value`), labels come from
the metric catalogue (:mod:`sim.domain.metrics`); full precision stays in the CSV files.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sim.domain.metrics import METRICS, metric_label

__all__ = [
    "CSS",
    "details",
    "escape",
    "fmt_difference",
    "fmt_range",
    "fmt_sig",
    "fmt_value",
    "image",
    "metric_name",
    "metric_unit_short",
    "page",
    "period_text",
    "section",
    "table",
]

escape = html.escape

CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1180px;margin:1.2em auto;
padding:0 1.2em;color:#1b1b1b;line-height:1.45}
h1{font-size:1.6em;margin:0.2em 0}
h2{font-size:1.25em;margin:1.6em 0 0.5em;border-bottom:1px solid #ddd;padding-bottom:0.2em}
h3{font-size:1.05em}
.period{color:#444;margin:0 0 0.8em}
.decision{margin:0.5em 0 0.8em}
.decision p{margin:0.3em 0}
.headline{font-size:1.02em;margin:0.35em 0}
.headline b{font-weight:600}
.note{color:#444;font-size:0.92em}
.why{color:#333;font-size:0.92em;margin:0.1em 0 0.6em 1.2em;border-left:3px solid #ccc;
padding-left:0.6em}
.tablewrap{max-width:100%;overflow-x:auto}
table{border-collapse:collapse;margin:0.6em 0;font-size:0.88em}
td,th{border:1px solid #ccc;padding:0.25em 0.5em;text-align:left;vertical-align:top}
td.num{text-align:right;white-space:nowrap}
th{background:#f2f2f2}
img{max-width:100%;height:auto;display:block}
figure{margin:1em 0}
figcaption{font-size:0.9em;color:#333;margin-top:0.3em}
details{margin:0.6em 0;border:1px solid #ddd;border-radius:4px;padding:0.3em 0.8em}
summary{cursor:pointer;font-weight:600}
code{background:#f4f4f4;padding:0 0.2em;overflow-wrap:anywhere}
.broken{color:#b00020;font-weight:600}
"""


def page(title: str, parts: Iterable[str]) -> str:
    """A whole HTML document: ``title`` in the head and the given body parts, style inline."""
    return "\n".join(
        [
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
            "<meta name='viewport' content='width=device-width, initial-scale=1'>",
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
            *parts,
            "</body></html>",
        ]
    )


def section(title: str, *parts: str, level: int = 2) -> str:
    """A heading followed by its parts."""
    return f"<h{level}>{escape(title)}</h{level}>" + "".join(parts)


def details(summary: str, *parts: str, open_: bool = False) -> str:
    """A folded block (``<details>``): the summary shows, the parts open on a click."""
    attr = " open" if open_ else ""
    return f"<details{attr}><summary>{escape(summary)}</summary>{''.join(parts)}</details>"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[int] = ()) -> str:
    """An HTML table in a wrapper that scrolls rather than widening the page.

    Args:
        numeric: indices of the columns to right-align (numbers).
    """
    right = set(numeric)
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='num'>{escape(str(c))}</td>" if i in right else f"<td>{escape(str(c))}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    inner = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f"<div class='tablewrap'>{inner}</div>"


def image(path: Path, caption: str, alt: str | None = None, element_id: str | None = None) -> str:
    """A PNG embedded as a data URI, with its caption."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    ident = f" id='{escape(element_id)}'" if element_id else ""
    return (
        f"<figure{ident}><img alt='{escape(alt or caption)}' src='data:image/png;base64,{data}'>"
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def metric_name(metric: str) -> str:
    """The metric's plain label with its unit, capitalised, for a table row or an axis."""
    label = metric_label(metric)
    return label[:1].upper() + label[1:]


def fmt_sig(value: Any, digits: int = 3) -> str:
    """``value`` to ``digits`` significant figures, thousands separated; ``n/a`` if undefined."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(x):
        return "n/a"
    if x == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(x)))
    decimals = max(digits - 1 - magnitude, 0)
    rounded = round(x, decimals)
    return f"{rounded:,.{decimals}f}".replace("-", "−")


def _percent_unit(metric: str) -> bool:
    info = METRICS.get(metric)
    return info is not None and info.unit in ("fraction", "probability")


def fmt_value(metric: str, value: Any, digits: int = 3) -> str:
    """A metric's value for a reader: shares and chances in per cent, others with 3 figures."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(x):
        return "n/a"
    if _percent_unit(metric):
        return f"{fmt_sig(100 * x, digits) if abs(x) >= 0.001 else fmt_sig(100 * x, 1)}%"
    return fmt_sig(x, digits)


def fmt_difference(metric: str, value: Any, digits: int = 2, unit: bool = True) -> str:
    """A signed difference: percentage points for shares and chances, plain otherwise.

    Args:
        unit: say "points" after a difference of shares (left out inside a range).
    """
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(x):
        return "n/a"
    sign = "+" if x > 0 else "−" if x < 0 else ""
    if _percent_unit(metric):
        return f"{sign}{fmt_sig(abs(100 * x), digits)}{' points' if unit else ''}"
    return f"{sign}{fmt_sig(abs(x), digits)}"


def fmt_range(metric: str, low: Any, high: Any, difference: bool = False) -> str:
    """A confidence interval in words: ``8.9% to 53%``, ``−54 to +3.7 points``."""
    if difference:
        a = fmt_difference(metric, low, unit=False)
        b = fmt_difference(metric, high, unit=False)
        return f"{a} to {b}{' points' if _percent_unit(metric) else ''}"
    return f"{fmt_value(metric, low)} to {fmt_value(metric, high)}"


def metric_unit_short(metric: str, difference: bool = False) -> str:
    """The unit as a table header shows it: ``%``, ``points``, ``days``."""
    if _percent_unit(metric):
        return "points" if difference else "%"
    info = METRICS.get(metric)
    return info.unit if info is not None else ""


def period_text(
    warmup_days: float, horizon_days: float, start_date: date | str | None = None
) -> str:
    """The period statistics are counted over, in words (with dates when the start is known).

    Cases arriving during the warm-up are simulated but left out; a chance "that some case goes
    a year without progress" is counted over the cases arriving between the warm-up and the
    horizon.
    """
    days = horizon_days - warmup_days
    years = days / 365.0
    span = f"{fmt_sig(days, 3)} days, about {fmt_sig(years, 2)} years"
    if start_date is None:
        return (
            f"cases arriving between day {fmt_sig(warmup_days, 3)} and day "
            f"{fmt_sig(horizon_days, 3)} of the simulation ({span})"
        )
    start = date.fromisoformat(str(start_date)) if not isinstance(start_date, date) else start_date
    first = start + timedelta(days=warmup_days)
    last = start + timedelta(days=horizon_days)
    return f"cases arriving between {first:%d %b %Y} and {last:%d %b %Y} ({span})"

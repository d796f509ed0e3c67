"""The words of a report: scenario titles, the period counted, plain-language headlines.

Shared by every report that speaks of a scenario's risk (``compare``, ``run``, and reports built
on them): a scenario is named by its ``title:``, a period by its days (or dates, once the scenario
has a ``start_date:``), a result by one sentence a superintendent can read aloud.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sim.experiments.compare import Comparison
from sim.report.html import escape, fmt_difference, fmt_range, fmt_sig, fmt_value, period_text

__all__ = [
    "HEADLINE",
    "WHAT",
    "headline",
    "period_of",
    "scenario_title",
    "start_date_of",
    "what_over",
    "why_no_change",
]

HEADLINE = "any_neglect_over_365"
"""The metric of the plain-language headline: the chance that some case goes a year untouched."""


def scenario_title(scenario: Any) -> str:
    """A scenario's title for readers: its ``title:``, else its name with spaces."""
    title = str(getattr(scenario, "title", "") or "").strip()
    if title:
        return title
    name = str(scenario.name).replace("_", " ")
    return name[:1].upper() + name[1:]


def start_date_of(scenario: Any) -> Any:
    """The scenario's calendar start (``start_date:``) when the schema has one, else None."""
    return getattr(scenario, "start_date", None)


def period_of(comparison: Comparison) -> str:
    """The period the statistics count, in words (dates when the baseline has a start date)."""
    base = comparison.results[comparison.baseline].scenario
    return period_text(base.warmup_days, base.horizon_days, start_date_of(base))


WHAT = "the chance that some case goes a year (365 days) without progress"


def what_over(comparison: Comparison) -> str:
    """:data:`WHAT` with the period: "... among the cases arriving between day 365 and ...".

    The chance is counted per replication over the cases arriving in that period (each one
    followed up to the horizon), so a headline without it would not say what the chance is of.
    """
    base = comparison.results[comparison.baseline].scenario
    start = start_date_of(base)
    if start is None:
        span = f"between day {fmt_sig(base.warmup_days)} and day {fmt_sig(base.horizon_days)}"
    else:
        start = start if isinstance(start, date) else date.fromisoformat(str(start))
        first = start + timedelta(days=float(base.warmup_days))
        last = start + timedelta(days=float(base.horizon_days))
        span = f"between {first:%b %Y} and {last:%b %Y}"
    return f"the chance that some case arriving {span} goes a year (365 days) without progress"


def headline(comparison: Comparison, name: str) -> str:
    """The plain-language sentence for one scenario (text, not yet escaped)."""
    what = what_over(comparison)
    table = comparison.table[comparison.table["metric"] == HEADLINE].set_index("scenario")
    title = scenario_title(comparison.results[name].scenario)
    if name not in table.index:
        return f"{title}: the headline metric was not computed."
    row = table.loc[name]
    if name == comparison.baseline:
        role = "" if len(comparison.results) == 1 else " (the baseline)"
        return (
            f"{title}{role}: {what} is {fmt_value(HEADLINE, row['mean'])} "
            f"(95% CI {fmt_value(HEADLINE, row['ci_low'])} to "
            f"{fmt_value(HEADLINE, row['ci_high'])})."
        )
    base = table.loc[comparison.baseline]
    base_title = scenario_title(comparison.results[comparison.baseline].scenario)
    diff, low, high = row["difference"], row["diff_ci_low"], row["diff_ci_high"]
    if diff == 0 and low == 0 and high == 0:
        return (
            f"{title} leaves {what} at {fmt_value(HEADLINE, row['mean'])}, as in {base_title}: "
            "no replication differs (under common random numbers the change does not touch it)."
        )
    if bool(row["significant"]):
        verb = "cuts" if diff < 0 else "raises"
        tail = "a clear difference: its 95% CI excludes zero"
    else:
        verb = "changes"
        tail = "not distinguishable from no change at this number of replications"
        if diff == 0:
            return (
                f"{title} leaves {what} at {fmt_value(HEADLINE, row['mean'])} on average, as in "
                f"{base_title} (95% CI of the difference {fmt_range(HEADLINE, low, high, True)}; "
                f"{tail})."
            )
    return (
        f"{title} {verb} {what} from {fmt_value(HEADLINE, base['mean'])} to "
        f"{fmt_value(HEADLINE, row['mean'])} ({fmt_difference(HEADLINE, diff)}, 95% CI "
        f"{fmt_range(HEADLINE, low, high, True)}; {tail})."
    )


def why_no_change(comparison: Comparison, name: str) -> str:
    """The scenario's description when its headline difference is unclear, else nothing.

    When no replication differs at all, the description usually says why (the change acts on
    something that never happens in this team); otherwise it says what was changed, so that the
    reader can judge whether more replications or a different lever are needed.
    """
    if name == comparison.baseline:
        return ""
    table = comparison.table
    row = table[(table["metric"] == HEADLINE) & (table["scenario"] == name)]
    if row.empty or bool(row["significant"].iloc[0]):
        return ""
    r = row.iloc[0]
    identical = r["difference"] == 0 and r["diff_ci_low"] == 0 and r["diff_ci_high"] == 0
    text = " ".join(str(comparison.results[name].scenario.description).split())
    if not text:
        text = "The scenario file gives no description of what it changes."
    lead = "Why it changes nothing" if identical else "What it changes"
    return f"<p class='why'><b>{lead}:</b> {escape(text)}</p>"

"""The report's building blocks: number formats, the period, the forest plot's ranking, key
labels, the Excel writer (including the cut at the row limit)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from sim.report.excel import Sheet, write_workbook
from sim.report.forest import forest_figure, rank_scenarios, verdict
from sim.report.html import fmt_difference, fmt_sig, fmt_value, period_text
from sim.scenario import load_scenario, scenario_dump
from sim.scenario.keys import allowed_keys, key_label


@pytest.mark.parametrize(
    ("value", "digits", "shown"),
    [
        (0.123456, 3, "0.123"),
        (1234.5, 3, "1,234"),
        (1234.5, 2, "1,234"),
        (98.765, 3, "98.8"),
        (-0.004567, 2, "−0.0046"),
        (0, 3, "0"),
        (float("nan"), 3, "n/a"),
        ("text", 3, "text"),
    ],
)
def test_fmt_sig_rounds_to_significant_figures(value: object, digits: int, shown: str) -> None:
    """Numbers show 2–3 significant figures (whole numbers are never cut), with a true minus."""
    assert fmt_sig(value, digits) == shown


@pytest.mark.parametrize(
    ("metric", "value", "shown"),
    [
        ("any_neglect_over_365", 0.25, "25.0%"),
        ("share_neglect_over_180", 0.005567, "0.557%"),
        ("mean_wait_days", 6.2512, "6.25"),
        ("hours_worked", 123456.7, "123,457"),
    ],
)
def test_fmt_value_shows_shares_in_per_cent(metric: str, value: float, shown: str) -> None:
    """Chances and shares read in per cent; other units as numbers."""
    assert fmt_value(metric, value) == shown


def test_fmt_difference_in_points() -> None:
    """A difference of shares is in percentage points, signed; others are signed numbers."""
    assert fmt_difference("any_neglect_over_365", -0.25) == "−25 points"
    assert fmt_difference("mean_wait_days", 1.234) == "+1.2"


def test_period_text_in_days_and_in_dates() -> None:
    """Without a start date the period is in simulation days; with one, in calendar dates."""
    days = period_text(365, 1581)
    assert "day 365" in days and "day 1,581" in days and "1,216 days" in days
    dated = period_text(365, 1581, date(2015, 1, 1))
    assert "01 Jan 2016" in dated and "01 May 2019" in dated


def _table() -> pd.DataFrame:
    rows = []
    # scenario: (difference, low, high) on the first metric
    for name, diff, low, high in [
        ("base", np.nan, np.nan, np.nan),
        ("worse", 0.10, 0.05, 0.15),
        ("best", -0.20, -0.30, -0.10),
        ("unclear", -0.05, -0.12, 0.02),
    ]:
        for metric in ("any_neglect_over_365", "mean_wait_days"):
            rows.append(
                {
                    "metric": metric,
                    "scenario": name,
                    "baseline": name == "base",
                    "mean": 0.3,
                    "ci_low": 0.2,
                    "ci_high": 0.4,
                    "difference": diff,
                    "diff_ci_low": low,
                    "diff_ci_high": high,
                    "significant": bool(low > 0 or high < 0),
                }
            )
    return pd.DataFrame(rows)


def test_forest_ranks_best_first_and_colours_by_the_interval() -> None:
    """Scenarios are ranked by their difference (a fall is better), and labelled in that order."""
    table = _table()
    assert rank_scenarios(table, "base", "any_neglect_over_365") == ["best", "unclear", "worse"]
    assert verdict("any_neglect_over_365", -0.3, -0.1) == "better"
    assert verdict("target_met_share", -0.3, -0.1) == "worse"
    assert verdict("mean_wait_days", -0.1, 0.1) == "unclear"
    titles = {"best": "The best one", "unclear": "Unclear", "worse": "Worse"}
    fig = forest_figure(table, "base", ["any_neglect_over_365", "mean_wait_days"], titles)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["The best one", "Unclear", "Worse"]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("clearly better" in t for t in legend) and any("no change" in t for t in legend)
    plt.close(fig)


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("team.detectives.0.count", "number of detectives dc"),
        ("team.detectives.dc_pt.fte", "FTE of detectives dc_pt"),
        ("policies.workload_review.every_days", "workload review every … days"),
        ("cases.arrivals.growth_per_year", "growth of referrals per year (fraction)"),
        ("leave.long_leave.episodes_per_year", "long leave: episodes per year"),
    ],
)
def test_key_label_reads_in_words(key: str, label: str) -> None:
    """Swept keys read in words, list items by their names, never as `team.detectives.0.count`."""
    data = scenario_dump(load_scenario("scenarios/polit_2016_as_was.yaml"))
    assert key_label(key, data) == label


def test_allowed_keys_follow_lists_and_unions() -> None:
    """The names allowed at a place: inside list items and both forms of a union."""
    assert "fte" in allowed_keys(["team", "detectives", "0"])
    assert "span_of_control" in allowed_keys(["team", "sergeants"])
    assert set(allowed_keys(["cases", "grades"])) == {"very_high", "high", "medium", "low"}


def test_workbook_has_every_sheet_and_values(tmp_path: Path) -> None:
    """One workbook: an about sheet listing the sheets, then each table under its header."""
    frame = pd.DataFrame({"metric": ["a", "b"], "mean": [0.5, np.nan], "n": [3, 4]})
    notes = write_workbook(tmp_path / "w.xlsx", [Sheet("summary", frame, "a note")])
    assert notes == []
    book = load_workbook(tmp_path / "w.xlsx", read_only=True)
    assert book.sheetnames == ["about", "summary"]
    rows = list(book["summary"].values)
    assert rows[0] == ("a note",)
    assert rows[1] == ("metric", "mean", "n")
    assert rows[2] == ("a", 0.5, 3) and rows[3] == ("b", None, 4)


def test_workbook_cuts_at_the_row_limit_and_says_so(tmp_path: Path) -> None:
    """A table longer than the row limit is cut there, with a note on the sheet and in about."""
    frame = pd.DataFrame({"case_id": range(50)})
    notes = write_workbook(tmp_path / "w.xlsx", [Sheet("cases", frame)], max_rows=20)
    assert len(notes) == 1 and "first 18 of 50 rows" in notes[0]
    book = load_workbook(tmp_path / "w.xlsx", read_only=True)
    rows = list(book["cases"].values)
    assert len(rows) == 20  # the limit: note, header and 18 rows
    assert "cut at Excel's row limit" in str(rows[0][0])
    assert rows[2] == (0,) and rows[-1] == (17,)
    about = list(book["about"].values)
    assert "cut at Excel's row limit" in str(about[1][2])


def test_backlog_figure_shows_dates_when_the_start_is_known() -> None:
    """With a start date the backlog figure's time axis is in dates; without, in days."""
    from sim.report.figures import backlog_figure

    days = np.arange(0.0, 1500.0, 7.0)
    frame = pd.DataFrame(
        [{"replication": r, "day": d, "open_cases": d / 10 + r} for r in range(3) for d in days]
    )
    plain = backlog_figure({"a": frame}, 365)
    assert plain.axes[0].get_xlabel() == "day of the simulation"
    dated = backlog_figure({"a": frame}, 365, start_date=date(2015, 1, 1))
    dated.canvas.draw()
    labels = " ".join(t.get_text() for t in dated.axes[0].get_xticklabels())
    assert dated.axes[0].get_xlabel() == "date" and "2016" in labels
    plt.close(plain)
    plt.close(dated)


def test_headline_period_in_days_or_months() -> None:
    """The headline's period is in simulation days, or in months once a start date is given."""
    from types import SimpleNamespace

    from sim.report.headlines import what_over

    def comparison(start: object) -> object:
        scenario = SimpleNamespace(warmup_days=365.0, horizon_days=1581.0, start_date=start)
        return SimpleNamespace(baseline="b", results={"b": SimpleNamespace(scenario=scenario)})

    assert "between day 365 and day 1,581 goes a year" in what_over(comparison(None))  # type: ignore[arg-type]
    dated = what_over(comparison("2015-01-01"))  # type: ignore[arg-type]
    assert "between Jan 2016 and May 2019 goes a year" in dated

"""Excel workbooks (openpyxl) for planners who work in spreadsheets.

:func:`write_workbook` is the one writer every command uses: a list of :class:`Sheet` (a name, a
DataFrame, an optional note) becomes one ``.xlsx`` with a first sheet, ``about``, that lists the
sheets and their notes. A table longer than Excel's row limit is cut there and says so, in its
own first row and on the ``about`` sheet; the full table stays in the Parquet or CSV files.

The builders :func:`result_sheets`, :func:`comparison_sheets` and :func:`sweep_sheets` give the
usual sheets (summary, comparison, per-case or per-run table) of ``run``, ``compare`` and
``sweep-report``; a new command (``forecast``) passes its own :class:`Sheet` list.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.domain.metrics import METRICS

__all__ = [
    "EXCEL_MAX_ROWS",
    "Sheet",
    "comparison_sheets",
    "labelled",
    "result_sheets",
    "sweep_sheets",
    "write_workbook",
]

EXCEL_MAX_ROWS = 1_048_576
"""Rows in one Excel worksheet (header included)."""

_MAX_NAME = 31  # Excel's limit on a sheet name


@dataclass(frozen=True)
class Sheet:
    """One worksheet: ``frame`` under a header row, with ``note`` above it when given."""

    name: str
    frame: pd.DataFrame
    note: str = ""


def labelled(frame: pd.DataFrame, column: str = "metric") -> pd.DataFrame:
    """``frame`` with each metric's plain label and unit beside its name."""
    if column not in frame.columns:
        return frame
    out = frame.copy()
    at = list(out.columns).index(column) + 1
    names = out[column].astype(str)
    out.insert(at, "label", [METRICS[m].label if m in METRICS else "" for m in names])
    out.insert(at + 1, "unit", [METRICS[m].unit if m in METRICS else "" for m in names])
    return out


def _cell(value: Any) -> Any:
    """A value openpyxl can store: numpy scalars unwrapped, NaN and NA as empty cells."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, str | int | float | bool | date | datetime):
        return value
    return str(value)


def write_workbook(
    path: Path, sheets: Sequence[Sheet], max_rows: int = EXCEL_MAX_ROWS
) -> list[str]:
    """Write ``sheets`` into one workbook at ``path``; returns a note per table that was cut.

    Args:
        max_rows: the worksheet row limit (Excel's; smaller only to test the cut).
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    cut_notes: list[str] = []
    plan: list[tuple[str, pd.DataFrame, str]] = []
    used: set[str] = {"about"}
    for sheet in sheets:
        name = sheet.name[:_MAX_NAME]
        while name in used:
            name = f"{name[: _MAX_NAME - 2]}_{len(used)}"
        used.add(name)
        note = sheet.note
        room = max_rows - 1 - (1 if note else 0)
        frame = sheet.frame
        if len(frame) > room:
            room -= 0 if note else 1  # the cut note needs a row of its own
            cut = (
                f"cut at Excel's row limit: the first {room:,} of {len(frame):,} rows; "
                "the full table is in the Parquet/CSV files beside this workbook"
            )
            note = f"{note} ({cut})" if note else cut
            cut_notes.append(f"{name}: {cut}")
            frame = frame.iloc[:room]
        plan.append((name, frame, note))

    about = book.create_sheet("about")
    bold = Font(bold=True)
    header = [
        WriteOnlyCell(about, "sheet"),
        WriteOnlyCell(about, "rows"),
        WriteOnlyCell(about, "note"),
    ]
    for c in header:
        c.font = bold
    about.append(header)
    for name, frame, note in plan:
        about.append([name, len(frame), note])
    about.column_dimensions["A"].width = 16
    about.column_dimensions["C"].width = 100

    for name, frame, note in plan:
        ws = book.create_sheet(name)
        for i, column in enumerate(frame.columns):
            width = min(max(len(str(column)) + 2, 10), 48)
            ws.column_dimensions[_letter(i)].width = width
        if note:
            cell = WriteOnlyCell(ws, note)
            cell.font = Font(italic=True)
            ws.append([cell])
        heads = []
        for column in frame.columns:
            c = WriteOnlyCell(ws, str(column))
            c.font = bold
            heads.append(c)
        ws.freeze_panes = f"A{3 if note else 2}"
        ws.append(heads)
        for row in frame.itertuples(index=False, name=None):
            ws.append([_cell(v) for v in row])
    path = Path(path)
    book.save(path)
    return cut_notes


def _letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def result_sheets(
    summary: pd.DataFrame, replications: pd.DataFrame, cases: pd.DataFrame
) -> list[Sheet]:
    """A single scenario's sheets: summary, per replication, per case."""
    return [
        Sheet("summary", labelled(summary), "mean and 95% confidence interval per metric"),
        Sheet("replications", replications, "one row per replication"),
        Sheet("cases", cases, "one row per case (warm-up cases excluded)"),
    ]


def comparison_sheets(
    table: pd.DataFrame, cases: Mapping[str, pd.DataFrame], key_metrics: Sequence[str]
) -> list[Sheet]:
    """A comparison's sheets: the key metrics, the full comparison, every scenario's cases."""
    key = table[table["metric"].isin(list(key_metrics))]
    frames = [frame.assign(scenario=name) for name, frame in cases.items()]
    joined = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if "scenario" in joined.columns:
        joined = joined[["scenario", *[c for c in joined.columns if c != "scenario"]]]
    return [
        Sheet(
            "summary",
            labelled(key),
            "headline metrics: mean, 95% CI, paired difference from the baseline and its CI",
        ),
        Sheet("comparison", labelled(table), "every metric of every scenario"),
        Sheet("cases", joined, "one row per case and scenario (warm-up cases excluded)"),
    ]


def sweep_sheets(
    points: pd.DataFrame, by_parameter: pd.DataFrame | None, runs: pd.DataFrame
) -> list[Sheet]:
    """A sweep's sheets: per design point, per parameter value, per run."""
    sheets = [Sheet("summary", labelled(points), "mean and 95% CI of each metric per design point")]
    if by_parameter is not None:
        sheets.append(
            Sheet(
                "comparison",
                labelled(by_parameter),
                "each metric against each swept parameter (pooled over the others)",
            )
        )
    sheets.append(Sheet("runs", runs, "one row per run (design point × replication)"))
    return sheets

"""Calendar dates beside the day columns, for scenarios with a ``start_date``.

Day ``t`` (a float, days since day 0) falls on ``start_date + floor(t)`` days. The day columns
stay; each gets a ``_date`` twin (``arrival_day`` → ``arrival_date``, ``day`` → ``date``).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = ["add_dates", "day_to_date", "days_to_dates"]


def day_to_date(start: datetime.date, day: float) -> datetime.date | None:
    """The date of ``day`` (None for NaN)."""
    if day != day:  # NaN
        return None
    return start + datetime.timedelta(days=int(np.floor(day)))


def days_to_dates(start: datetime.date, days: pd.Series | np.ndarray) -> pd.Series:
    """Dates (``datetime64[s]``, NaT where the day is missing) of an array of days."""
    values = np.asarray(days, dtype=float)
    out = np.full(values.shape, np.datetime64("NaT"), dtype="datetime64[s]")
    known = ~np.isnan(values)
    base = np.datetime64(start.isoformat(), "D")
    out[known] = (base + np.floor(values[known]).astype("int64").astype("timedelta64[D]")).astype(
        "datetime64[s]"
    )
    return pd.Series(out, index=days.index if isinstance(days, pd.Series) else None)


def _date_name(column: str) -> str:
    if column == "day":
        return "date"
    return column[: -len("_day")] + "_date" if column.endswith("_day") else f"{column}_date"


def add_dates(
    frame: pd.DataFrame, start: datetime.date | None, columns: Iterable[str]
) -> pd.DataFrame:
    """``frame`` with a date column after each listed day column (unchanged without ``start``)."""
    if start is None:
        return frame
    out = frame.copy()
    for column in columns:
        if column not in out.columns:
            continue
        position = out.columns.get_loc(column)
        assert isinstance(position, int)
        out.insert(position + 1, _date_name(column), days_to_dates(start, out[column]))
    return out

"""What a case-event log says, as samples and paths: stage durations, hours, backlog, closures.

Works on a log's events table (``case_id``, ``day``, ``activity``, ``resource``, ``grade``,
``stage``, ``hours``; see :class:`sim.state.case_log.CaseLog`), so that the same estimators run on
a force's log and on logs simulated for calibration.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from sim.analysis.fitting import DurationSample

__all__ = [
    "GradeShare",
    "StageSpells",
    "backlog_path",
    "effort_sample",
    "grade_shares",
    "monthly_closures",
    "stage_spells",
]

MONTH_DAYS = 365.0 / 12.0


@dataclass(frozen=True)
class StageSpells:
    """Per case and stage: when it entered and left (NaN: not yet), and the hours worked."""

    table: pd.DataFrame  # case_id, stage, start_day, end_day, hours, grade


def stage_spells(events: pd.DataFrame, stages: Sequence[str]) -> StageSpells:
    """Each case's passage through the stages, in the order ``stages`` lists them.

    A case enters its first stage at the referral and each later stage when the one before ends.
    """
    referral = events[events["activity"] == "referral"].drop_duplicates("case_id")
    index = pd.Index(referral["case_id"])
    ends = events[events["activity"] == "stage_end"].drop_duplicates(["case_id", "stage"])
    end_of = ends.pivot(index="case_id", columns="stage", values="day").reindex(index)
    work = events[events["activity"] == "work"]
    hours = (
        work.groupby(["case_id", "stage"])["hours"].sum(min_count=1).unstack().reindex(index)
        if len(work)
        else pd.DataFrame(index=index)
    )
    frames = []
    start = pd.Series(referral["day"].to_numpy(float), index=index)
    grade = referral["grade"].to_numpy()
    for i, name in enumerate(stages):
        end = end_of[name] if name in end_of.columns else pd.Series(np.nan, index=index)
        worked = hours[name] if name in hours.columns else pd.Series(np.nan, index=index)
        entered = start.notna().to_numpy()
        frames.append(
            pd.DataFrame(
                {
                    "case_id": index[entered],
                    "stage": name,
                    "start_day": start.to_numpy()[entered],
                    "end_day": end.to_numpy(float)[entered],
                    "hours": worked.fillna(0.0).to_numpy(float)[entered],
                    "grade": grade[entered],
                    "stage_index": i,
                }
            )
        )
        start = pd.Series(end.to_numpy(float), index=index)
    return StageSpells(pd.concat(frames, ignore_index=True))


def duration_sample(
    spells: StageSpells, stage: str, end_day: float, dates_only: bool = False
) -> DurationSample:
    """A stage's durations (days): finished ones exact, running ones right-censored at the end.

    With dates only, a finished duration is known to a day: the interval ±0.5 day around it.
    """
    rows = spells.table[spells.table["stage"] == stage]
    done = rows["end_day"].notna()
    durations = (rows.loc[done, "end_day"] - rows.loc[done, "start_day"]).to_numpy(float)
    running = (end_day - rows.loc[~done, "start_day"]).to_numpy(float)
    running = running[running > 0]
    if dates_only:
        low = np.maximum(durations - 0.5, 0.0)
        return DurationSample(np.empty(0), running, low, durations + 0.5)
    return DurationSample(durations, running)


def effort_sample(spells: StageSpells, stage: str, grade: str | None = None) -> DurationSample:
    """A team stage's effort (hours): finished stages exact, unfinished ones right-censored.

    ``grade``: only the cases of that grade.
    """
    rows = spells.table[spells.table["stage"] == stage]
    if grade is not None:
        rows = rows[rows["grade"] == grade]
    done = rows["end_day"].notna()
    finished = rows.loc[done, "hours"].to_numpy(float)
    running = rows.loc[~done, "hours"].to_numpy(float)
    return DurationSample(finished[finished > 0], running[running > 0])


def backlog_path(events: pd.DataFrame, days: np.ndarray) -> np.ndarray:
    """Open cases at each of ``days``: referred by then and not closed by then."""
    referred = np.sort(events.loc[events["activity"] == "referral", "day"].to_numpy(float))
    closed = np.sort(events.loc[events["activity"] == "closed", "day"].to_numpy(float))
    return (
        np.searchsorted(referred, days, side="right") - np.searchsorted(closed, days, side="right")
    ).astype(np.int64)


def month_edges(end_day: float) -> np.ndarray:
    """Month boundaries (days) from 0 to the last whole month before ``end_day``."""
    months = int(end_day // MONTH_DAYS)
    return np.arange(months + 1) * MONTH_DAYS


def monthly_closures(events: pd.DataFrame, edges: np.ndarray) -> np.ndarray:
    """Cases closed in each month between consecutive ``edges``."""
    closed = events.loc[events["activity"] == "closed", "day"].to_numpy(float)
    return np.histogram(closed, bins=edges)[0].astype(np.int64)


def first_waits(events: pd.DataFrame) -> np.ndarray:
    """Days from referral to first work, for the cases worked at all."""
    referral = events[events["activity"] == "referral"].set_index("case_id")["day"]
    first = events[events["activity"] == "work"].groupby("case_id")["day"].min()
    waits = first - referral.reindex(first.index)
    return waits.to_numpy(float)


def longest_gaps(
    events: pd.DataFrame, end_day: float, stages: Sequence[str], external: Collection[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Per case, the longest interval without recorded progress, and without it while waiting on
    the team itself: the log's analogues of ``longest_gap_days`` and ``longest_neglect_days``.

    Progress is a work row or a stage's end; the wait from the referral counts; open cases are
    measured to the log's end. An interval that starts when the case enters an external stage
    (the referral, when the first stage is external; the end of the stage before one) is time
    waiting on another unit, not on the team.
    """
    progress = events[events["activity"].isin(("referral", "work", "stage_end", "closed"))]
    closed = set(progress.loc[progress["activity"] == "closed", "case_id"])
    open_ids = [c for c in pd.unique(progress["case_id"]) if c not in closed]
    ends = pd.DataFrame({"case_id": open_ids, "day": end_day, "activity": "end", "stage": ""})
    rows = pd.concat([progress[["case_id", "day", "activity", "stage"]], ends], ignore_index=True)
    rows = rows.sort_values(["case_id", "day"], kind="stable")
    following = rows.groupby("case_id", sort=False)["day"].shift(-1)
    length = (following - rows["day"]).fillna(0.0).clip(lower=0.0)
    next_stage = {stages[i]: stages[i + 1] for i in range(len(stages) - 1)}
    enters_external = (
        (rows["activity"] == "stage_end") & rows["stage"].map(next_stage).isin(list(external))
    ) | ((rows["activity"] == "referral") & bool(stages and stages[0] in external))
    gap = length.groupby(rows["case_id"], sort=False).max()
    neglect = length.where(~enters_external, 0.0).groupby(rows["case_id"], sort=False).max()
    return gap.to_numpy(float), neglect.to_numpy(float)


@dataclass(frozen=True)
class GradeShare:
    """A grade's share of the referrals, its 95% Wilson interval, and the counts."""

    grade: str
    share: float
    ci: tuple[float, float]
    k: int
    n: int


def grade_shares(grades: Sequence[str], order: Sequence[str]) -> list[GradeShare]:
    """Each grade's share of ``grades`` (the referrals' grades), in ``order``, if it occurs."""
    values = np.asarray(grades, dtype=object)
    n = len(values)
    out = []
    for grade in order:
        k = int(np.sum(values == grade))
        if k:
            ci = stats.binomtest(k, n).proportion_ci(method="wilson")
            out.append(GradeShare(grade, k / n, (float(ci.low), float(ci.high)), k, n))
    return out

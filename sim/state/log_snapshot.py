"""A case-event log's state at a cut date, as a ``forecast`` snapshot (open cases, absences).

For the back-test from a cut date: the open cases at the cut (referred by then and not closed),
each with its stage, holder, last progress, hours already worked on its current team stage and
when it reached its current external stage; and the absences under way at the cut.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd

from sim.state.case_log import CaseLog
from sim.state.snapshot import Snapshot, SnapshotAbsence, SnapshotCase

__all__ = ["snapshot_at"]


def snapshot_at(
    log: CaseLog, cut_day: int, stages: Sequence[str], external: Collection[str]
) -> Snapshot:
    """The log's open cases and absences at the start of day ``cut_day`` (days since its start).

    Args:
        stages: the stage names in order (the scenario's).
        external: the names of the external stages.
    """

    def date(day: float) -> datetime.date:
        return (log.start + pd.Timedelta(days=math.floor(day))).date()

    events = log.events[log.events["day"] < cut_day]
    order = {name: i for i, name in enumerate(stages)}
    cases: list[SnapshotCase] = []
    for case_id, case in events.groupby("case_id", sort=False):
        activity = case["activity"].to_numpy(dtype=object)
        if "closed" in activity:
            continue
        referral = case[activity == "referral"]
        if not len(referral):
            continue
        referred = float(referral["day"].iloc[0])
        ended = case[activity == "stage_end"]
        done = [order[s] for s in ended["stage"] if s in order]
        current = max(done) + 1 if done else 0
        if current >= len(stages):
            continue
        stage = stages[current]
        entered = float(ended["day"].max()) if len(ended) else referred
        allocated = case[activity == "allocated"]
        owner = str(allocated["resource"].iloc[-1]) if len(allocated) else ""
        progress = case[(activity == "work") | (activity == "stage_end")]
        last = float(progress["day"].max()) if len(progress) else referred
        work = case[(activity == "work") & (case["stage"].to_numpy(dtype=object) == stage)]
        hours = float(np.nansum(work["hours"].to_numpy(float))) if len(work) else 0.0
        cases.append(
            SnapshotCase(
                case_id=str(case_id),
                referral_date=date(referred),
                grade=str(referral["grade"].iloc[0]),
                stage=stage,
                owner=owner,
                last_progress_date=date(last),
                stage_hours_done=hours,
                inherited=len(allocated) > 1,
                external_since=date(entered) if stage in external else None,
            )
        )
    absences = []
    table = log.absences
    for name, start, end, kind in zip(
        table["detective"].astype(str),
        table["start_day"].to_numpy(float),
        table["end_day"].to_numpy(float),
        table["kind"].astype(str),
        strict=True,
    ):
        if start < cut_day and (np.isnan(end) or end > cut_day):
            absences.append(
                SnapshotAbsence(
                    detective=name,
                    start=date(start),
                    end=None if np.isnan(end) else date(end),
                    kind=kind,
                )
            )
    return Snapshot(as_of=date(cut_day), cases=tuple(cases), absences=tuple(absences))

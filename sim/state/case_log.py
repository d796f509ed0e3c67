"""Case-event logs: a force's own records, in the process-mining shape SPEC.md fixes.

A log is a folder of three CSV files (UTF-8, header row, ISO dates or date-times):

* ``events.csv`` (or ``log.csv``): ``case_id``, ``timestamp``, ``activity`` (``referral``,
  ``allocated``, ``work``, ``stage_end``, ``closed``), ``resource``, ``grade``, ``stage``,
  ``hours`` (the column may be missing, its values empty);
* ``absences.csv``: ``detective``, ``start``, ``end`` (empty: still absent), ``kind``
  (``annual``, ``short``, ``long``);
* ``staff.csv``: ``detective``, ``fte``, optional ``start``, ``end``.

:func:`read_log` checks everything before anything is fitted and raises :class:`LogError` with
one line per problem, naming the file, the row (the line of the file: the header is row 1) and
the column. Times are turned into days since the log's start (float), the engine's unit.
"""

from __future__ import annotations

import csv
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "ABSENCE_KINDS",
    "ACTIVITIES",
    "EVENT_COLUMNS",
    "CaseLog",
    "LogError",
    "LogEvent",
    "events_frame",
    "read_log",
    "write_log",
]

ACTIVITIES = ("referral", "allocated", "work", "stage_end", "closed")
EVENT_COLUMNS = ("case_id", "timestamp", "activity", "resource", "grade", "stage", "hours")
REQUIRED_EVENT_COLUMNS = EVENT_COLUMNS[:-1]
ABSENCE_KINDS = ("annual", "short", "long")
EVENTS_FILES = ("events.csv", "log.csv")


class LogError(Exception):
    """A log that cannot be used; one line per problem in ``problems``."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class LogEvent:
    """One row of a log, as the writer takes it (times in days since ``start``)."""

    case_id: str
    day: float
    activity: str
    resource: str = ""
    grade: str = ""
    stage: str = ""
    hours: float | None = None


@dataclass(frozen=True)
class CaseLog:
    """A checked log, times in days since ``start`` (midnight of the log's first day).

    Attributes:
        events: ``case_id``, ``day``, ``activity``, ``resource``, ``grade``, ``stage``,
            ``hours`` (NaN when not recorded), in file order (chronological within a case).
        absences: ``detective``, ``start_day``, ``end_day`` (NaN: ongoing at the end), ``kind``.
        staff: ``detective``, ``fte``, ``start_day``, ``end_day`` (NaN: the log's bounds).
        start: the calendar date of day 0.
        end_day: the log's end (days): the day after its last recorded date.
        dates_only: whether timestamps carry no time of day (durations known to a day).
        folder: where the log was read from.
    """

    events: pd.DataFrame
    absences: pd.DataFrame
    staff: pd.DataFrame
    start: pd.Timestamp
    end_day: float
    dates_only: bool
    folder: Path

    @property
    def has_hours(self) -> bool:
        """Whether work rows record hours (all of them; a partly recorded log counts as not)."""
        work = self.events[self.events["activity"] == "work"]
        return len(work) > 0 and bool(work["hours"].notna().all())

    def detective_years(self) -> float:
        """Detective-years on the team over the log's period (each from its staff dates)."""
        start = self.staff["start_day"].fillna(0.0).clip(lower=0.0)
        end = self.staff["end_day"].fillna(self.end_day).clip(upper=self.end_day)
        return float((end - start).clip(lower=0.0).sum() / 365.0)

    def date_of(self, day: float) -> pd.Timestamp:
        """The calendar date-time of ``day``."""
        return self.start + pd.to_timedelta(day, unit="D")


def events_frame(events: Sequence[LogEvent], *, dates_only: bool = False) -> pd.DataFrame:
    """Log rows as the events table of a :class:`CaseLog` (days, not timestamps).

    ``dates_only``: each day rounded down to its date, as a log written with dates reads back.
    """
    days = np.array([e.day for e in events], dtype=float)
    return pd.DataFrame(
        {
            "case_id": [e.case_id for e in events],
            "day": np.floor(days) if dates_only else days,
            "activity": [e.activity for e in events],
            "resource": [e.resource for e in events],
            "grade": [e.grade for e in events],
            "stage": [e.stage for e in events],
            "hours": np.array([np.nan if e.hours is None else e.hours for e in events]),
        }
    )


# --- writing ------------------------------------------------------------------------------------


def _stamp(start: pd.Timestamp, day: float, dates_only: bool) -> str:
    moment = start + pd.to_timedelta(round(day * 86400.0), unit="s")
    return moment.strftime("%Y-%m-%d" if dates_only else "%Y-%m-%dT%H:%M:%S")


def write_log(
    folder: Path,
    start: pd.Timestamp,
    events: Iterable[LogEvent],
    absences: Iterable[tuple[str, float, float | None, str]],
    staff: Iterable[tuple[str, float]],
    *,
    dates_only: bool = False,
) -> list[Path]:
    """Write a log folder (``events.csv``, ``absences.csv``, ``staff.csv``).

    Args:
        start: the date of day 0.
        events: rows in the order to write them (chronological within each case).
        absences: (detective, start day, end day or None while ongoing, kind).
        staff: (detective, fte); each is on the team from ``start`` on.
        dates_only: write dates (``YYYY-MM-DD``) rather than date-times.

    Returns:
        the paths written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "events.csv", folder / "absences.csv", folder / "staff.csv"]
    with paths[0].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(EVENT_COLUMNS)
        for e in events:
            hours = "" if e.hours is None else f"{e.hours:.2f}"
            stamp = _stamp(start, e.day, dates_only)
            writer.writerow((e.case_id, stamp, e.activity, e.resource, e.grade, e.stage, hours))
    with paths[1].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("detective", "start", "end", "kind"))
        for name, begin, finish, kind in absences:
            if dates_only:
                # whole days: from the nearest midnight to the nearest midnight, the end
                # written as the last day absent (at least one day)
                first = round(begin)
                last = None if finish is None else max(round(finish) - 1, first)
                end = "" if last is None else _stamp(start, last, True)
                writer.writerow((name, _stamp(start, first, True), end, kind))
                continue
            end = "" if finish is None else _stamp(start, finish, False)
            writer.writerow((name, _stamp(start, begin, False), end, kind))
    with paths[2].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("detective", "fte", "start", "end"))
        for name, fte in staff:
            writer.writerow((name, f"{fte:g}", start.strftime("%Y-%m-%d"), ""))
    return paths


# --- reading and checking -----------------------------------------------------------------------


def _read_csv(path: Path, required: Sequence[str], problems: list[str]) -> pd.DataFrame | None:
    if not path.is_file():
        problems.append(f"{path}: file not found")
        return None
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        problems.append(f"{path}: not a readable CSV file ({reason})")
        return None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    for column in missing:
        problems.append(f"{path}: row 1, column {column}: missing column")
    if missing:
        return None
    for column in frame.columns:
        frame[column] = frame[column].str.strip()
    return frame


def _times(
    path: Path, frame: pd.DataFrame, column: str, problems: list[str], optional: bool = False
) -> tuple[pd.Series, bool]:
    """Parse a column of ISO dates or date-times; returns the times and whether all are dates."""
    text = frame[column]
    empty = text == ""
    parsed = pd.to_datetime(text.where(~empty, None), format="ISO8601", errors="coerce")
    bad = parsed.isna() & (~empty | (not optional))
    for row in np.flatnonzero(bad.to_numpy()):
        value = text.iloc[row]
        what = "empty" if value == "" else f"{value!r} is not an ISO date or date-time"
        problems.append(f"{path}: row {row + 2}, column {column}: {what}")
    dates_only = bool(text[~empty].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all())
    return parsed, dates_only


def _floats(
    path: Path, frame: pd.DataFrame, column: str, problems: list[str], low: float, high: float
) -> pd.Series:
    text = frame[column]
    values = pd.to_numeric(text.where(text != "", None), errors="coerce")
    for row in np.flatnonzero(((text != "") & ~values.between(low, high)).to_numpy()):
        problems.append(
            f"{path}: row {row + 2}, column {column}: {text.iloc[row]!r} is not a number "
            f"in [{low:g}, {high:g}]"
        )
    return values.astype(float)


def _check_events(
    path: Path,
    events: pd.DataFrame,
    grades: Collection[str],
    stages: Collection[str] | None,
    detectives: Collection[str] | None,
    problems: list[str],
) -> None:
    """Row checks, then the per-case order: referral first, nothing after closed, dates in order."""
    line = np.arange(len(events)) + 2
    needs = {
        "referral": ("grade",),
        "allocated": ("resource",),
        "work": ("resource", "stage"),
        "stage_end": ("stage",),
        "closed": (),
    }
    for i, row in enumerate(events.itertuples(index=False)):
        where = f"{path}: row {line[i]}"
        if row.case_id == "":
            problems.append(f"{where}, column case_id: empty")
        if row.activity not in needs:
            problems.append(
                f"{where}, column activity: unknown activity {row.activity!r}; "
                f"known: {', '.join(ACTIVITIES)}"
            )
            continue
        activity = str(row.activity)
        for column in needs[activity]:
            if getattr(row, column) == "":
                problems.append(f"{where}, column {column}: a {activity} row needs a {column}")
        if row.grade != "" and row.grade not in grades:
            problems.append(
                f"{where}, column grade: unknown grade {row.grade!r}; known: {', '.join(grades)}"
            )
        if stages is not None and row.stage != "" and row.stage not in stages:
            problems.append(
                f"{where}, column stage: unknown stage {row.stage!r}; known: {', '.join(stages)}"
            )
        if detectives is not None and row.resource != "" and row.resource not in detectives:
            problems.append(f"{where}, column resource: {row.resource!r} is not in staff.csv")
    duplicated = events.duplicated(keep="first").to_numpy()
    first_of: dict[tuple[str, ...], int] = {}
    for i, row in enumerate(events.itertuples(index=False)):
        key = tuple(row)
        if duplicated[i]:
            problems.append(
                f"{path}: row {line[i]}, column case_id: duplicates row {first_of[key]}"
            )
        else:
            first_of.setdefault(key, int(line[i]))
    times = events["time"]
    all_activities = events["activity"].to_numpy(dtype=object)
    all_times = times.to_numpy()
    for case_id, rows in events.groupby("case_id", sort=False).indices.items():
        if case_id == "":
            continue
        activities = all_activities[rows]
        referral_rows = rows[activities == "referral"]
        if len(referral_rows) == 0:
            problems.append(
                f"{path}: row {line[rows[0]]}, column activity: "
                f"case {case_id!r} has no referral row"
            )
        elif len(referral_rows) > 1:
            for r in referral_rows[1:]:
                problems.append(
                    f"{path}: row {line[r]}, column activity: a second referral of case {case_id!r}"
                )
        if len(referral_rows) and referral_rows[0] != rows[0]:
            problems.append(
                f"{path}: row {line[rows[0]]}, column activity: case {case_id!r} has a "
                f"{activities[0]} row before its referral (row {line[referral_rows[0]]})"
            )
        stamps = all_times[rows]
        if len(referral_rows):
            referred = all_times[referral_rows[0]]
            for r, stamp in zip(rows, stamps, strict=True):
                if not pd.isna(stamp) and not pd.isna(referred) and stamp < referred:
                    problems.append(
                        f"{path}: row {line[r]}, column timestamp: before the case's referral "
                        f"({pd.Timestamp(referred).date()})"
                    )
        previous = None
        for r, stamp in zip(rows, stamps, strict=True):
            if pd.isna(stamp):
                continue
            if previous is not None and stamp < previous[1]:
                problems.append(
                    f"{path}: row {line[r]}, column timestamp: earlier than the case's previous "
                    f"row (row {line[previous[0]]}); a case's rows must be in date order"
                )
            previous = (r, stamp)
        closed = np.flatnonzero(activities == "closed")
        if len(closed):
            for r in rows[closed[0] + 1 :]:
                problems.append(
                    f"{path}: row {line[r]}, column activity: {all_activities[r]} "
                    f"after case {case_id!r} was closed (row {line[rows[closed[0]]]})"
                )


def _events_path(folder: Path) -> Path:
    for name in EVENTS_FILES:
        if (folder / name).is_file():
            return folder / name
    return folder / EVENTS_FILES[0]


def read_log(
    folder: Path | str,
    *,
    grades: Collection[str] | None = None,
    stages: Collection[str] | None = None,
) -> CaseLog:
    """Read and check a log folder.

    Args:
        folder: holds ``events.csv`` (or ``log.csv``), ``absences.csv`` (optional) and
            ``staff.csv``.
        grades: the grades the log may use (default: the four KIRAT grades).
        stages: the stage names the log may use (default: any).

    Raises:
        LogError: one line per problem (file, row, column, what is wrong); nothing is fitted.
    """
    from sim.scenario import GRADE_NAMES

    folder = Path(folder)
    problems: list[str] = []
    if not folder.is_dir():
        raise LogError([f"{folder}: not a folder"])
    grades = tuple(grades) if grades is not None else GRADE_NAMES
    staff_path = folder / "staff.csv"
    staff = _read_csv(staff_path, ("detective", "fte"), problems)
    detectives: set[str] | None = None
    staff_start = staff_end = pd.Series(dtype="datetime64[ns]")
    if staff is not None:
        for column in ("start", "end"):
            if column not in staff.columns:
                staff[column] = ""
        fte = _floats(staff_path, staff, "fte", problems, 1e-9, 1.0)
        for row in np.flatnonzero((staff["fte"] == "").to_numpy()):
            problems.append(f"{staff_path}: row {row + 2}, column fte: empty")
        staff["fte_value"] = fte
        for row in np.flatnonzero(staff["detective"].duplicated().to_numpy()):
            problems.append(
                f"{staff_path}: row {row + 2}, column detective: "
                f"{staff['detective'].iloc[row]!r} is listed twice"
            )
        staff_start, _ = _times(staff_path, staff, "start", problems, optional=True)
        staff_end, _ = _times(staff_path, staff, "end", problems, optional=True)
        detectives = set(staff["detective"])
    events_path = _events_path(folder)
    events = _read_csv(events_path, REQUIRED_EVENT_COLUMNS, problems)
    dates_only = True
    if events is not None:
        if "hours" not in events.columns:
            events["hours"] = ""
        events = events[list(EVENT_COLUMNS)].copy()
        events["time"], dates_only = _times(events_path, events, "timestamp", problems)
        hours = _floats(events_path, events, "hours", problems, 0.0, 1e6)
        _check_events(
            events_path,
            events.drop(columns="time").assign(time=events["time"]),
            grades,
            stages,
            detectives,
            problems,
        )
        events = events.drop(columns="hours").assign(hours=hours)
    absences_path = folder / "absences.csv"
    absences = None
    if absences_path.is_file():
        absences = _read_csv(absences_path, ("detective", "start", "end", "kind"), problems)
        if absences is not None:
            a_start, _ = _times(absences_path, absences, "start", problems)
            a_end, _ = _times(absences_path, absences, "end", problems, optional=True)
            for a_row in range(len(absences)):
                where = f"{absences_path}: row {a_row + 2}"
                if absences["kind"].iloc[a_row] not in ABSENCE_KINDS:
                    problems.append(
                        f"{where}, column kind: unknown kind {absences['kind'].iloc[a_row]!r}; "
                        f"known: {', '.join(ABSENCE_KINDS)}"
                    )
                if detectives is not None and absences["detective"].iloc[a_row] not in detectives:
                    problems.append(
                        f"{where}, column detective: "
                        f"{absences['detective'].iloc[a_row]!r} is not in staff.csv"
                    )
                if not pd.isna(a_end.iloc[a_row]) and a_end.iloc[a_row] < a_start.iloc[a_row]:
                    problems.append(f"{where}, column end: before the absence's start")
            absences["start_time"], absences["end_time"] = a_start, a_end
    if events is not None and not len(events) and not problems:
        problems.append(f"{events_path}: no events")
    if problems or events is None or staff is None:
        raise LogError(problems)

    first = [events["time"].min()]
    if staff_start.notna().any():
        first.append(staff_start.min())
    start = pd.Timestamp(min(first)).normalize()
    last = [events["time"].max()]
    if absences is not None and len(absences):
        last += [absences["start_time"].max(), absences["end_time"].max()]
    end = pd.Timestamp(max(t for t in last if not pd.isna(t))).normalize() + pd.Timedelta(days=1)
    end_day = (end - start) / pd.Timedelta(days=1)

    def days(series: pd.Series) -> pd.Series:
        return (series - start) / pd.Timedelta(days=1)

    table = pd.DataFrame(
        {
            "case_id": events["case_id"],
            "day": days(events["time"]).astype(float),
            "activity": events["activity"],
            "resource": events["resource"],
            "grade": events["grade"],
            "stage": events["stage"],
            "hours": events["hours"],
        }
    ).reset_index(drop=True)
    if absences is None:
        absence_table = pd.DataFrame(
            {"detective": [], "start_day": [], "end_day": [], "kind": []}
        ).astype({"start_day": float, "end_day": float})
    else:
        absence_table = pd.DataFrame(
            {
                "detective": absences["detective"],
                "start_day": days(absences["start_time"]).astype(float),
                "end_day": days(absences["end_time"]).astype(float),
                "kind": absences["kind"],
            }
        ).reset_index(drop=True)
        if dates_only:
            # a date-only end is the last day absent: the detective is back the next morning
            absence_table["end_day"] += 1.0
    staff_table = pd.DataFrame(
        {
            "detective": staff["detective"],
            "fte": staff["fte_value"],
            "start_day": days(staff_start).astype(float),
            "end_day": days(staff_end).astype(float),
        }
    ).reset_index(drop=True)
    return CaseLog(
        events=table,
        absences=absence_table,
        staff=staff_table,
        start=start,
        end_day=float(end_day),
        dates_only=dates_only,
        folder=folder,
    )

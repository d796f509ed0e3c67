"""Today's caseload: ``open_cases.csv`` and ``absences.csv`` read, checked and written.

The formats are those of SPEC.md ("A force's own team"): UTF-8 CSV with a header row and ISO
dates.

``open_cases.csv``: ``case_id``, ``referral_date``, ``grade``, ``stage``, ``owner`` (empty: the team
queue), ``last_progress_date``; optional ``stage_hours_done`` (default 0), ``inherited``
(true/false), ``external_since`` (default: ``last_progress_date``, the day the previous stage
ended), ``external_started`` (the day the external unit began on it; empty while it waits in the
unit's queue, or unknown), and ``longest_neglect_days`` (the longest wait on the team the case
has had before the current one, in days), ``action_plan`` (true/false: a supervisor's action plan is
in force; the case ranks first for its holder until the first review checks the plan) and
``owner_strain`` (the holder's wellbeing strain today, 0–1; the same on every row of one holder).
The last four are written by ``polit-sim run --snapshot-at`` so that a forecast continues a
simulated run closely.

``absences.csv``: ``detective``, ``start``, ``end`` (empty: open-ended), ``kind`` (``annual``,
``short``, ``long``). Rows that ended on or before the as-of date are history and ignored; rows
under way are continued; rows starting later are planned leave, taken as given.

Every problem is reported at once, one line each, naming the file, the row (the header is row 1)
and the column, and nothing is run: :class:`SnapshotError` carries the lines.
"""

from __future__ import annotations

import csv
import datetime
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sim.scenario import Scenario

__all__ = [
    "ABSENCE_COLUMNS",
    "ABSENCE_KINDS",
    "CASE_COLUMNS",
    "Snapshot",
    "SnapshotAbsence",
    "SnapshotCase",
    "SnapshotError",
    "parse_date",
    "read_snapshot",
    "write_snapshot",
]

CASE_COLUMNS = ("case_id", "referral_date", "grade", "stage", "owner", "last_progress_date")
CASE_OPTIONAL = (
    "stage_hours_done",
    "inherited",
    "external_since",
    "external_started",
    "longest_neglect_days",
    "action_plan",
    "owner_strain",
)
ABSENCE_COLUMNS = ("detective", "start", "end", "kind")
ABSENCE_KINDS = ("annual", "short", "long")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no", ""}


class SnapshotError(Exception):
    """A snapshot that cannot be used; one line per problem in ``problems``."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class SnapshotCase:
    """One open case as the force records it (dates are calendar dates)."""

    case_id: str
    referral_date: datetime.date
    grade: str
    stage: str
    owner: str
    last_progress_date: datetime.date
    stage_hours_done: float = 0.0
    inherited: bool = False
    external_since: datetime.date | None = None
    longest_neglect_days: float = 0.0
    external_started: datetime.date | None = None
    action_plan: bool = False
    owner_strain: float | None = None


@dataclass(frozen=True)
class SnapshotAbsence:
    """An absence: ``end`` None when open-ended."""

    detective: str
    start: datetime.date
    end: datetime.date | None
    kind: str


@dataclass(frozen=True)
class Snapshot:
    """The team as it stands on ``as_of``: its open cases and the absences that matter."""

    as_of: datetime.date
    cases: tuple[SnapshotCase, ...]
    absences: tuple[SnapshotAbsence, ...] = ()

    def neglect_days_today(self, case: SnapshotCase, external: bool) -> float:
        """Days the case has waited on the team by ``as_of`` (0 at an external stage)."""
        return 0.0 if external else float((self.as_of - case.last_progress_date).days)


def parse_date(text: str) -> datetime.date:
    """An ISO date (``2024-03-01``); a date-time's date part is accepted too."""
    text = text.strip()
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        return datetime.datetime.fromisoformat(text).date()


def _read_rows(path: Path, problems: list[str]) -> tuple[list[str], list[dict[str, str]]] | None:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            header = list(reader.fieldnames or [])
            rows: list[dict[str, str]] = []
            for row in reader:
                if None in row:
                    problems.append(f"{path}: row {reader.line_num}: more fields than the header")
                    continue
                rows.append({k: (v or "").strip() for k, v in row.items()})
            return header, rows
    except FileNotFoundError:
        problems.append(f"{path}: no such file")
    except UnicodeDecodeError:
        problems.append(f"{path}: not UTF-8 text")
    except (OSError, csv.Error) as error:
        problems.append(f"{path}: cannot be read ({error})")
    return None


def _check_header(
    path: Path, header: Sequence[str], required: Sequence[str], optional: Sequence[str]
) -> list[str]:
    problems = []
    if not header:
        return [f"{path}: empty file (a header row is needed: {', '.join(required)})"]
    for column in required:
        if column not in header:
            problems.append(f"{path}: column {column}: missing")
    for column in header:
        if column not in required and column not in optional:
            known = ", ".join((*required, *optional))
            problems.append(f"{path}: column {column}: not a column of this file (known: {known})")
    if len(set(header)) != len(header):
        problems.append(f"{path}: a column is named twice in the header")
    return problems


class _Row:
    """One row's values, collecting a problem per bad column."""

    def __init__(self, path: Path, number: int, row: dict[str, str], problems: list[str]) -> None:
        self.where = f"{path}: row {number}"
        self.row = row
        self.problems = problems

    def bad(self, column: str, message: str) -> None:
        self.problems.append(f"{self.where}, column {column}: {message}")

    def text(self, column: str, required: bool = True) -> str:
        value = self.row.get(column, "")
        if required and not value:
            self.bad(column, "empty")
        return value

    def date(self, column: str, required: bool = True) -> datetime.date | None:
        value = self.row.get(column, "")
        if not value:
            if required:
                self.bad(column, "empty (an ISO date such as 2024-03-01 is needed)")
            return None
        try:
            return parse_date(value)
        except ValueError:
            self.bad(column, f"{value!r} is not an ISO date such as 2024-03-01")
            return None

    def number(self, column: str) -> float:
        value = self.row.get(column, "")
        if not value:
            return 0.0
        try:
            number = float(value)
        except ValueError:
            self.bad(column, f"{value!r} is not a number")
            return 0.0
        if not math.isfinite(number) or number < 0:
            self.bad(column, f"{value!r} must be a finite number, 0 or more")
            return 0.0
        return number

    def flag(self, column: str) -> bool:
        value = self.row.get(column, "").lower()
        if value in _TRUE:
            return True
        if value not in _FALSE:
            self.bad(column, f"{value!r} is not true or false")
        return False


def _check_case(
    path: Path,
    number: int,
    row: dict[str, str],
    scenario: Scenario,
    as_of: datetime.date,
    problems: list[str],
) -> SnapshotCase | None:
    r = _Row(path, number, row, problems)
    before = len(problems)
    grades = list(scenario.cases.grades)
    stages = {s.name: s for s in scenario.cases.stages}
    detectives = scenario.team.detective_names()
    case_id = r.text("case_id")
    grade = r.text("grade")
    if grade and grade not in grades:
        r.bad("grade", f"{grade!r} is not a grade of the scenario ({', '.join(grades)})")
    stage_name = r.text("stage")
    stage = stages.get(stage_name)
    if stage_name and stage is None:
        r.bad("stage", f"{stage_name!r} is not a stage of the scenario ({', '.join(stages)})")
    owner = r.text("owner", required=False)
    if owner and owner not in detectives:
        r.bad("owner", f"{owner!r} is not a detective of the scenario ({', '.join(detectives)})")
    referral = r.date("referral_date")
    progress = r.date("last_progress_date")
    since = r.date("external_since", required=False)
    started = r.date("external_started", required=False)
    for column, value in (
        ("referral_date", referral),
        ("last_progress_date", progress),
        ("external_since", since),
        ("external_started", started),
    ):
        if value is not None and value > as_of:
            r.bad(column, f"{value.isoformat()} is after the as-of date {as_of.isoformat()}")
    if referral is not None and referral <= as_of:
        for column, value in (
            ("last_progress_date", progress),
            ("external_since", since),
            ("external_started", started),
        ):
            if value is not None and value < referral:
                r.bad(
                    column,
                    f"{value.isoformat()} is before the referral_date {referral.isoformat()}",
                )
    hours = r.number("stage_hours_done")
    inherited = r.flag("inherited")
    plan = r.flag("action_plan")
    strain: float | None = None
    if row.get("owner_strain", ""):
        strain = r.number("owner_strain")
        if strain > 1:
            r.bad("owner_strain", f"{strain:g} is above 1 (strain is between 0 and 1)")
        if not owner:
            r.bad("owner_strain", "a strain needs an owner")
    longest = r.number("longest_neglect_days")
    if stage is not None and not stage.is_team:
        if hours > 0:
            r.bad("stage_hours_done", f"stage {stage_name!r} is external: no detective hours")
    else:
        for column, value in (("external_since", since), ("external_started", started)):
            if stage is not None and value is not None:
                r.bad(column, f"stage {stage_name!r} is a team stage")
    if since is not None and started is not None and started < since:
        r.bad("external_started", f"{started.isoformat()} is before external_since {since}")
    if len(problems) > before or referral is None or progress is None:
        return None
    if stage is not None and not stage.is_team and since is None:
        since = progress
    return SnapshotCase(
        case_id,
        referral,
        grade,
        stage_name,
        owner,
        progress,
        hours,
        inherited,
        since,
        longest,
        started,
        plan,
        strain,
    )


def _check_absence(
    path: Path,
    number: int,
    row: dict[str, str],
    scenario: Scenario,
    as_of: datetime.date,
    problems: list[str],
) -> SnapshotAbsence | None:
    r = _Row(path, number, row, problems)
    before = len(problems)
    detectives = scenario.team.detective_names()
    detective = r.text("detective")
    if detective and detective not in detectives:
        r.bad(
            "detective",
            f"{detective!r} is not a detective of the scenario ({', '.join(detectives)})",
        )
    kind = r.text("kind")
    if kind and kind not in ABSENCE_KINDS:
        r.bad("kind", f"{kind!r} is not one of {', '.join(ABSENCE_KINDS)}")
    start = r.date("start")
    end = r.date("end", required=False)
    if start is not None and end is not None and end < start:
        r.bad("end", f"{end.isoformat()} is before the start {start.isoformat()}")
    if end is None and start is not None and kind in ABSENCE_KINDS:
        leave = scenario.leave
        lengths = {
            "annual": leave is not None and leave.annual_days > 0,
            "short": leave is not None and leave.short_sickness is not None,
            "long": leave is not None and leave.long_leave is not None,
        }
        key = {"annual": "leave.annual_days", "short": "leave.short_sickness"}.get(
            kind, "leave.long_leave"
        )
        if not lengths[kind]:
            r.bad(
                "end", f"open-ended {kind} absence, but the scenario has no {key} to draw its end"
            )
        if start > as_of:
            r.bad("end", "an absence starting after the as-of date needs an end")
    if len(problems) > before or start is None:
        return None
    return SnapshotAbsence(detective, start, end, kind)


def read_snapshot(
    cases_path: str | Path,
    absences_path: str | Path | None,
    scenario: Scenario,
    as_of: datetime.date,
) -> Snapshot:
    """Read and check today's open cases (and absences) against ``scenario``.

    Raises:
        SnapshotError: one line per problem (file, row and column); nothing is returned then.
    """
    problems: list[str] = []
    cases: list[SnapshotCase] = []
    path = Path(cases_path)
    read = _read_rows(path, problems)
    if read is not None:
        header, rows = read
        header_problems = _check_header(path, header, CASE_COLUMNS, CASE_OPTIONAL)
        problems.extend(header_problems)
        if not header_problems:
            seen: dict[str, int] = {}
            strains: dict[str, tuple[float, int]] = {}
            for number, row in enumerate(rows, start=2):
                case = _check_case(path, number, row, scenario, as_of, problems)
                case_id = row.get("case_id", "")
                if case_id and case_id in seen:
                    problems.append(
                        f"{path}: row {number}, column case_id: {case_id!r} is also on row "
                        f"{seen[case_id]}"
                    )
                seen.setdefault(case_id, number)
                if case is not None and case.owner_strain is not None:
                    known = strains.setdefault(case.owner, (case.owner_strain, number))
                    if abs(known[0] - case.owner_strain) > 1e-6:
                        problems.append(
                            f"{path}: row {number}, column owner_strain: {case.owner_strain:g} "
                            f"differs from {known[0]:g} for {case.owner} on row {known[1]}"
                        )
                if case is not None:
                    cases.append(case)
    absences: list[SnapshotAbsence] = []
    if absences_path is not None:
        path = Path(absences_path)
        read = _read_rows(path, problems)
        if read is not None:
            header, rows = read
            header_problems = _check_header(path, header, ABSENCE_COLUMNS, ())
            problems.extend(header_problems)
            if not header_problems:
                for number, row in enumerate(rows, start=2):
                    absence = _check_absence(path, number, row, scenario, as_of, problems)
                    if absence is not None and (absence.end is None or absence.end > as_of):
                        absences.append(absence)
    if problems:
        raise SnapshotError(problems)
    return Snapshot(as_of, tuple(cases), tuple(absences))


def _iso(date: datetime.date | None) -> str:
    return "" if date is None else date.isoformat()


def write_snapshot(snapshot: Snapshot, cases_path: str | Path, absences_path: str | Path) -> None:
    """Write ``snapshot`` as ``open_cases.csv`` and ``absences.csv`` (optional columns included)."""
    with Path(cases_path).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow((*CASE_COLUMNS, *CASE_OPTIONAL))
        for c in snapshot.cases:
            writer.writerow(
                (
                    c.case_id,
                    _iso(c.referral_date),
                    c.grade,
                    c.stage,
                    c.owner,
                    _iso(c.last_progress_date),
                    f"{c.stage_hours_done:.4f}",
                    "true" if c.inherited else "false",
                    _iso(c.external_since),
                    _iso(c.external_started),
                    f"{c.longest_neglect_days:.4f}",
                    "true" if c.action_plan else "false",
                    "" if c.owner_strain is None else f"{c.owner_strain:.6f}",
                )
            )
    with Path(absences_path).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(ABSENCE_COLUMNS)
        for a in snapshot.absences:
            writer.writerow((a.detective, _iso(a.start), _iso(a.end), a.kind))

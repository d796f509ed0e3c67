"""Snapshot files: ``forecast`` rejects bad rows (exit 2, one line per row and column, nothing run
or written), ``run --snapshot-at`` writes files that ``forecast`` reads back, and a minimal
scenario is enough to forecast."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from sim.cli.app import cli
from sim.experiments.forecast import CASE_RISK_COLUMNS

AS_OF = "2025-03-03"
MINIMAL: dict[str, Any] = {
    "name": "minimal",
    "horizon_days": 365,
    "replications": 4,
    "team": {"detectives": [{"name": "dc", "count": 2, "fte": 1.0}, {"name": "dc_pt", "fte": 0.5}]},
    "cases": {
        "arrivals": {"rate_per_year": 60},
        "grades": {
            "very_high": {"share": 0.1, "target_days": 1},
            "high": {"share": 0.2, "target_days": 7},
            "medium": {"share": 0.3, "target_days": 14},
            "low": {"share": 0.4, "target_days": 30},
        },
        "stages": [
            {"name": "research", "effort_hours": {"dist": "exponential", "mean": 8}},
            {"name": "forensics", "external": {"days": {"dist": "exponential", "mean": 20}}},
        ],
    },
}
"""The minimum a sergeant would write: team, stages, arrival rate (and the grades)."""

HEADER = ["case_id", "referral_date", "grade", "stage", "owner", "last_progress_date"]
GOOD_ROW = ["A1", "2024-11-01", "high", "research", "dc_1", "2025-01-10"]


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _forecast(tmp: Path, cases: Path, *extra: str) -> Any:
    scenario = tmp / "minimal.yaml"
    scenario.write_text(yaml.safe_dump(MINIMAL))
    args = ["forecast", str(scenario), "--cases", str(cases), "--as-of", AS_OF, "-q"]
    return CliRunner().invoke(cli, [*args, "--out", str(tmp / "out"), *extra])


def _row(**changes: str) -> list[str]:
    row = dict(zip(HEADER, GOOD_ROW, strict=True))
    row["case_id"] = "B2"
    row.update(changes)
    return [row[c] for c in HEADER]


BAD_ROWS = [
    ("unknown detective", _row(owner="dc_9"), ["column owner", "'dc_9'"]),
    ("unknown grade", _row(grade="urgent"), ["column grade", "'urgent'"]),
    ("unknown stage", _row(stage="arrest"), ["column stage", "'arrest'"]),
    ("future referral", _row(referral_date="2025-04-01"), ["column referral_date", "after"]),
    ("future progress", _row(last_progress_date="2025-03-04"), ["column last_progress_date"]),
    (
        "progress before referral",
        _row(last_progress_date="2024-10-01"),
        ["column last_progress_date", "before the referral_date"],
    ),
    ("not a date", _row(referral_date="01/11/2024"), ["column referral_date", "ISO date"]),
    ("empty case id", _row(case_id=""), ["column case_id", "empty"]),
]


@pytest.mark.parametrize(("label", "row", "expected"), BAD_ROWS, ids=[r[0] for r in BAD_ROWS])
def test_bad_snapshot_row_exits_2_naming_row_and_column(
    tmp_path: Path, label: str, row: list[str], expected: list[str]
) -> None:
    """A bad row: exit 2, one line naming the file, row 3 and the column; nothing written."""
    cases = _write(tmp_path / "open_cases.csv", HEADER, [GOOD_ROW, row])
    result = _forecast(tmp_path, cases)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line]
    assert len(lines) == 1, lines
    assert "open_cases.csv: row 3" in lines[0]
    for text in expected:
        assert text in lines[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_every_problem_reported_at_once(tmp_path: Path) -> None:
    """Several bad rows and columns: one line each, all reported in one go."""
    rows = [GOOD_ROW, _row(owner="x", grade="y"), _row(case_id="C3", stage="z"), _row(case_id="A1")]
    cases = _write(tmp_path / "open_cases.csv", HEADER, rows)
    absences = _write(
        tmp_path / "absences.csv",
        ["detective", "start", "end", "kind"],
        [["dc_7", "2025-01-01", "", "long"], ["dc_1", "2025-01-01", "", "long"]],
    )
    result = _forecast(tmp_path, cases, "--absences", str(absences))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    # owner, grade (row 3); stage (row 4); duplicate id (row 5); detective; two open-ended long
    # absences with no leave.long_leave in the scenario.
    assert len(lines) == 7, lines
    assert sum("absences.csv: row 2" in line for line in lines) == 2


def test_missing_and_unknown_columns(tmp_path: Path) -> None:
    """A missing required column and an unknown one are reported by name."""
    header = [*HEADER[:-1], "last_progres_date"]
    cases = _write(tmp_path / "open_cases.csv", header, [GOOD_ROW])
    result = _forecast(tmp_path, cases)
    assert result.exit_code == 2
    assert "column last_progress_date: missing" in result.stderr
    assert "column last_progres_date: not a column" in result.stderr


def test_bad_as_of_exits_2(tmp_path: Path) -> None:
    """An --as-of that is not a date: exit 2, one line."""
    cases = _write(tmp_path / "open_cases.csv", HEADER, [GOOD_ROW])
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(MINIMAL))
    result = CliRunner().invoke(
        cli, ["forecast", str(scenario), "--cases", str(cases), "--as-of", "yesterday"]
    )
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("--as-of:")


def test_minimal_scenario_forecast_writes_spec_outputs(tmp_path: Path) -> None:
    """Team, stages and arrivals alone are enough; case_risk.csv has SPEC's columns."""
    rows = [GOOD_ROW, ["B2", "2024-12-01", "low", "forensics", "", "2025-02-01"]]
    cases = _write(
        tmp_path / "open_cases.csv", [*HEADER, "external_since"], [[*GOOD_ROW, ""], [*rows[1], ""]]
    )
    result = _forecast(tmp_path, cases)
    assert result.exit_code == 0, result.output
    risk = pd.read_csv(tmp_path / "out" / "minimal" / "case_risk.csv", keep_default_na=False)
    assert list(risk.columns) == CASE_RISK_COLUMNS
    assert list(risk["case_id"]) == ["A1", "B2"]
    assert risk.set_index("case_id").loc["B2", "neglect_days_today"] == 0
    backlog = pd.read_csv(tmp_path / "out" / "minimal" / "backlog.csv")
    assert backlog["date"].iloc[0] == AS_OF
    report = (tmp_path / "out" / "report.html").read_text()
    assert report.index("Early warning") < report.index("Backlog by date")


def test_run_snapshot_at_round_trips_through_forecast(tmp_path: Path) -> None:
    """run --snapshot-at writes one pair per replication that forecast accepts as it is."""
    scenario = tmp_path / "dated.yaml"
    data = {
        **MINIMAL,
        "name": "dated",
        "start_date": "2024-01-01",
        "leave": {"long_leave": {"episodes_per_year": 2, "days": {"dist": "fixed", "value": 60}}},
    }
    scenario.write_text(yaml.safe_dump(data))
    out = tmp_path / "run"
    done = CliRunner().invoke(
        cli, ["run", str(scenario), "-r", "2", "-q", "--snapshot-at", "200", "--out", str(out)]
    )
    assert done.exit_code == 0, done.output
    for k in (0, 1):
        folder = out / "snapshots" / f"replication_{k}"
        as_of = (folder / "as_of.txt").read_text().strip()
        assert as_of == "2024-07-19"  # day 200 of a leap year starting on 1 January
        result = CliRunner().invoke(
            cli,
            [
                "forecast",
                str(scenario),
                "--cases",
                str(folder / "open_cases.csv"),
                "--absences",
                str(folder / "absences.csv"),
                "--as-of",
                as_of,
                "-r",
                "2",
                "-q",
                "--out",
                str(tmp_path / f"fc{k}"),
            ],
        )
        assert result.exit_code == 0, result.output
    cases = pd.read_parquet(out / "cases.parquet")
    assert "arrival_date" in cases.columns


HOSTILE = [
    ("missing file", None, "no such file"),
    ("not UTF-8", b"case_id,referral_date\n\xff\xfe,1\n", "not UTF-8"),
    ("empty file", b"", "empty file"),
    (
        "more fields than the header",
        ",".join(HEADER) + "\n" + ",".join([*GOOD_ROW, "x"]) + "\n",
        "more fields",
    ),
    (
        "hours on an external stage",
        ",".join([*HEADER, "stage_hours_done"]) + "\nA1,2024-11-01,high,forensics,,2025-01-10,3\n",
        "column stage_hours_done",
    ),
    (
        "negative hours",
        ",".join([*HEADER, "stage_hours_done"]) + "\nA1,2024-11-01,high,research,,2025-01-10,-2\n",
        "column stage_hours_done",
    ),
    (
        "external_since at a team stage",
        ",".join([*HEADER, "external_since"])
        + "\nA1,2024-11-01,high,research,,2025-01-10,2025-01-10\n",
        "column external_since",
    ),
    (
        "strain above 1",
        ",".join([*HEADER, "owner_strain"]) + "\nA1,2024-11-01,high,research,dc_1,2025-01-10,1.5\n",
        "column owner_strain",
    ),
    (
        "one holder, two strains",
        ",".join([*HEADER, "owner_strain"])
        + "\nA1,2024-11-01,high,research,dc_1,2025-01-10,0.5"
        + "\nB2,2024-11-01,high,research,dc_1,2025-01-10,0.25\n",
        "row 3, column owner_strain: 0.25 differs from 0.5",
    ),
    (
        "inherited not a boolean",
        ",".join([*HEADER, "inherited"]) + "\nA1,2024-11-01,high,research,,2025-01-10,maybe\n",
        "column inherited",
    ),
]


@pytest.mark.parametrize(("label", "content", "expected"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_snapshot_file_exits_2(
    tmp_path: Path, label: str, content: str | bytes | None, expected: str
) -> None:
    """Unreadable or malformed files: exit 2, one line naming the file, nothing written."""
    cases = tmp_path / "open_cases.csv"
    if isinstance(content, bytes):
        cases.write_bytes(content)
    elif content is not None:
        cases.write_text(content, encoding="utf-8")
    result = _forecast(tmp_path, cases)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and expected in lines[0] and "open_cases.csv" in lines[0], lines
    assert not (tmp_path / "out").exists()


def test_internal_error_exits_3_with_one_line(tmp_path: Path, monkeypatch: Any) -> None:
    """A fault inside the forecast itself: exit 3, one line, no traceback, nothing written."""
    import sim.experiments.forecast as module

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(module, "forecast", broken)
    cases = _write(tmp_path / "open_cases.csv", HEADER, [GOOD_ROW])
    result = _forecast(tmp_path, cases)
    assert result.exit_code == 3
    assert result.stderr.strip() == "internal error: RuntimeError: boom"
    assert not (tmp_path / "out").exists()


def test_early_warning_groups_by_holder_riskiest_first(tmp_path: Path) -> None:
    """The report's list: holders by their riskiest case, cases by risk within a holder."""
    from sim.experiments.forecast import forecast
    from sim.report.forecast import early_warning
    from sim.scenario import scenario_from_dict
    from sim.state.snapshot import read_snapshot

    rows = [
        ["a", "2024-01-01", "low", "research", "dc_2", "2024-09-01"],  # 183 days today
        ["b", "2024-01-01", "low", "research", "dc_1", "2024-02-01"],  # 396 days today
        ["c", "2024-01-01", "low", "research", "dc_2", "2024-01-05"],  # 423 days today
        ["d", "2024-01-01", "low", "research", "dc_1", "2025-03-01"],  # 2 days today
        ["e", "2024-01-01", "low", "research", "dc_pt", "2025-03-03"],  # none today
    ]
    cases = _write(tmp_path / "open_cases.csv", HEADER, rows)
    scenario = scenario_from_dict(MINIMAL)
    snapshot = read_snapshot(cases, None, scenario, __import__("datetime").date(2025, 3, 3))
    result = forecast([scenario], snapshot, replications=4, seed=1)
    table = early_warning(result)
    assert list(table["case_id"])[:3] == ["c", "a", "b"]
    assert list(table["holder"])[:3] == ["dc_2", "dc_2", "dc_1"]
    assert "e" not in set(table["case_id"])

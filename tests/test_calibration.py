"""Calibration to case-event logs: export, checking, fitting, parameter recovery, back-test."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import sim
from sim.analysis.fitting import fit_durations
from sim.analysis.log_stats import duration_sample, grade_shares, stage_spells
from sim.cli.app import cli
from sim.engine.referrals import draw_referrals
from sim.engine.replication import run_replication
from sim.engine.streams import Streams
from sim.experiments.backtest import backtest
from sim.experiments.calibrate import calibrate
from sim.experiments.export_log import export_log
from sim.scenario import GRADE_NAMES, scenario_from_dict
from sim.state.case_log import read_log
from sim.state.initial import snapshot_from_captured
from sim.state.log_snapshot import snapshot_at

TRUTH = Path(__file__).parent / "data" / "calibration_truth.yaml"


def _truth(**changes: object) -> sim.Scenario:
    data = sim.load_scenario(TRUTH).model_dump(mode="json", by_alias=True, exclude_none=True)
    data.update(changes)
    return scenario_from_dict(data)


def _estimates(result: object) -> dict[str, tuple[float, tuple[float, float] | None]]:
    return {e.key: (e.value, e.ci) for e in result.estimates}  # type: ignore[attr-defined]


TRUE_VALUES = {
    "rate_per_year": 300.0,
    "growth_per_year": 0.3,
    "grades.very_high.share": 0.1,
    "grades.high.share": 0.3,
    "grades.medium.share": 0.4,
    "grades.low.share": 0.2,
    "research.effort_hours": 6.0,
    "forensics.days": 60.0,
    "file_to_cps.effort_hours": 5.0,
    "charging.days": 45.0,
    "short_sickness.episodes_per_year": 2.0,
    "short_sickness.days": 4.0,
}


def _recovery(seed: int, folder: Path) -> tuple[int, int, list[str]]:
    """Calibrate a log of the truth exported with ``seed``: (covered, checked, misses)."""
    truth = _truth()
    export_log(truth, 0, folder, seed=seed)
    log = read_log(folder, grades=list(truth.cases.grades))
    found = _estimates(calibrate(log, truth))
    covered = checked = 0
    misses = []
    for key, value in TRUE_VALUES.items():
        if key not in found or found[key][1] is None:
            continue
        low, high = found[key][1]  # type: ignore[misc]
        checked += 1
        if low <= value <= high:
            covered += 1
        else:
            misses.append(f"{key}: {value} not in [{low:.4g}, {high:.4g}]")
    return covered, checked, misses


def test_export_log_round_trip(tmp_path: Path) -> None:
    """An exported log reads back with every referral, closure and absence of the replication."""
    truth = _truth(horizon_days=365.0)
    written = export_log(truth, 0, tmp_path, seed=3)
    log = read_log(tmp_path)
    records = sim.simulate(truth, 1, 3).cases
    assert (log.events["activity"] == "referral").sum() == written.cases == len(records)
    assert (log.events["activity"] == "closed").sum() == records["closed_day"].notna().sum()
    assert len(log.absences) == written.absences
    assert log.has_hours and not log.dates_only
    assert list(log.staff["detective"]) == truth.team.detective_names()


def test_parameter_recovery_cheap(tmp_path: Path) -> None:
    """On one seed, the 95% intervals cover at least 80% of the true parameters."""
    covered, checked, misses = _recovery(101, tmp_path)
    assert checked >= 10
    assert covered >= 0.8 * checked, misses


TRUE_FAMILIES = {
    "forensics": "gamma",
    "charging": "lognormal",
    "research": "lognormal",
    "file_to_cps": "exponential",
}


@pytest.mark.slow
def test_parameter_recovery_over_seeds(tmp_path: Path) -> None:
    """Over 20 seeds each true parameter lies in its 95% interval in at least 90% of the seeds,
    and each stage's true family is chosen or within 2 AIC units of the chosen in at least 90%
    (the exponential is nested in the gamma and the Weibull)."""
    hits: dict[str, int] = {}
    families = dict.fromkeys(TRUE_FAMILIES, 0)
    seeds = range(200, 220)
    for seed in seeds:
        truth = _truth()
        folder = tmp_path / str(seed)
        export_log(truth, 0, folder, seed=seed)
        result = calibrate(read_log(folder), truth)
        found = _estimates(result)
        for key, value in TRUE_VALUES.items():
            if key.startswith("grades."):
                continue  # over many more seeds in test_grade_share_intervals_cover
            low, high = found[key][1]  # type: ignore[misc]
            hits[key] = hits.get(key, 0) + int(low <= value <= high)
        for stage, (fit, _sample, _unit) in result.durations.items():
            aic = {f.family: f.aic for f in fit.fits}
            families[stage] += int(aic[TRUE_FAMILIES[stage]] - fit.best.aic <= 2.0)
    short = {k: v for k, v in {**hits, **families}.items() if v < 0.9 * len(seeds)}
    assert not short, short


@pytest.mark.slow
def test_effort_scale_recovery_over_seeds(tmp_path: Path) -> None:
    """Without hours, the effort scale's interval covers the truth in at least 90% of 20 seeds."""
    truth = _truth(horizon_days=365.0)
    base = _understated(truth, 0.6)
    covered = 0
    for seed in range(300, 320):
        folder = tmp_path / str(seed)
        export_log(truth, 0, folder, seed=seed, with_hours=False)
        fit = calibrate(read_log(folder), base, msm_replications=3, msm_grid=7).effort_scale
        assert fit is not None
        covered += int(fit.ci[0] <= 1 / 0.6 <= fit.ci[1])
    assert covered >= 18


def _understated(truth: sim.Scenario, factor: float) -> sim.Scenario:
    """``truth`` with every team stage's effort multiplied by ``factor``."""
    data = truth.model_dump(mode="json", by_alias=True, exclude_none=True)
    for stage in data["cases"]["stages"]:
        if "effort_hours" in stage:
            for key in ("mean", "sd"):
                if key in stage["effort_hours"]:
                    stage["effort_hours"][key] *= factor
    return scenario_from_dict(data)


def test_grade_share_intervals_cover() -> None:
    """Over 200 seeds each grade's 95% interval covers its share in at least 90% of them.

    The shares need no simulation (grades are drawn before the clock starts, and the log carries
    every referral's grade: test_export_log_round_trip), so they are checked over ten times the
    seeds of the full recovery test, where 20 seeds are too few to tell 95% from 90%.
    """
    truth = _truth()
    names = list(truth.cases.grades)
    covered = dict.fromkeys(names, 0)
    seeds = range(200, 400)
    for seed in seeds:
        drawn = draw_referrals(truth, Streams(seed, 0)).grade
        for found in grade_shares([GRADE_NAMES[g] for g in drawn], names):
            share = truth.cases.grades[found.grade].share  # type: ignore[index]
            covered[found.grade] += int(found.ci[0] <= share <= found.ci[1])
    assert all(c >= 0.9 * len(seeds) for c in covered.values()), covered


def test_effort_scale_without_hours(tmp_path: Path) -> None:
    """Without hours, the simulated-moments interval for the effort scale covers the truth."""
    truth = _truth(horizon_days=365.0)
    export_log(truth, 0, tmp_path, seed=77, with_hours=False)
    base = _understated(truth, 0.6)  # the base understates effort
    log = read_log(tmp_path)
    assert not log.has_hours
    result = calibrate(log, base, msm_replications=3, msm_grid=7)
    assert result.effort_scale is not None
    low, high = result.effort_scale.ci
    assert low <= 1 / 0.6 <= high
    assert high / low < 4.0  # informative: under half the grid (0.25 to 4) in log terms


def test_per_grade_effort_fitted_per_grade(tmp_path: Path) -> None:
    """A base with effort per grade gets a fit per grade where the log has enough finished
    stages, and keeps the base's (saying so) where it has not."""
    data = _truth(horizon_days=365.0).model_dump(mode="json", by_alias=True, exclude_none=True)
    data["cases"]["grades"]["very_high"]["share"] = 0.02
    data["cases"]["grades"]["low"]["share"] = 0.28
    data["cases"]["stages"][0]["effort_hours"] = {
        g: {"dist": "lognormal", "mean": m, "sd": m / 2}
        for g, m in (("very_high", 3.0), ("high", 4.0), ("medium", 6.0), ("low", 8.0))
    }
    truth = scenario_from_dict(data)
    export_log(truth, 0, tmp_path, seed=12)
    result = calibrate(read_log(tmp_path), truth)
    research = result.scenario["cases"]["stages"][0]["effort_hours"]
    assert research["very_high"] == data["cases"]["stages"][0]["effort_hours"]["very_high"]
    assert "very_high from the base" in result.comments["cases.stages.0"]
    found = _estimates(result)
    for grade, mean in (("high", 4.0), ("medium", 6.0), ("low", 8.0)):
        low, high = found[f"research.effort_hours.{grade}"][1]  # type: ignore[misc]
        assert low <= mean <= high, grade


def test_censoring_matters(tmp_path: Path) -> None:
    """A long external stage: completed durations alone understate its mean by over 20%,
    the censored fit's interval covers the truth."""
    data = _truth(horizon_days=365.0).model_dump(mode="json", by_alias=True, exclude_none=True)
    data["cases"]["stages"][1]["external"]["days"] = {"dist": "lognormal", "mean": 240, "sd": 120}
    scenario = scenario_from_dict(data)
    export_log(scenario, 0, tmp_path, seed=5)
    log = read_log(tmp_path)
    spells = stage_spells(log.events, [s.name for s in scenario.cases.stages])
    sample = duration_sample(spells, "forensics", log.end_day)
    naive = float(np.mean(sample.observed))
    assert naive < 0.8 * 240
    fit = fit_durations(sample).best
    assert fit.mean_ci[0] <= 240 <= fit.mean_ci[1]
    assert abs(fit.mean - 240) / 240 < 0.2


def test_backtest_coverage(tmp_path: Path) -> None:
    """A log exported from the scenario itself is inside the 90% band in 80% of months or more."""
    truth = _truth(horizon_days=540.0)
    export_log(truth, 0, tmp_path, seed=4242)
    log = read_log(tmp_path)
    result = backtest(truth, log, replications=40)
    assert result.coverage >= 0.8, result.months
    assert result.cut_date is None


def test_log_snapshot_matches_the_engine_state(tmp_path: Path) -> None:
    """The log's state at a cut date equals the engine's own picture of that day (capture_at):
    the same open cases with the same grade, stage, holder, referral, external start and
    inheritance; progress and hours differ only for blocks of work under way at the cut."""
    data = _truth(horizon_days=365.0).model_dump(mode="json", by_alias=True, exclude_none=True)
    truth = scenario_from_dict({**data, "start_date": "2024-01-01"})
    captured = run_replication(truth, 0, 9, capture_at=200.0).extra["captured"]
    engine = {str(int(c.case_id) + 1): c for c in snapshot_from_captured(captured, truth).cases}
    export_log(truth, 0, tmp_path, seed=9)
    stages = [s.name for s in truth.cases.stages]
    external = [s.name for s in truth.cases.stages if not s.is_team]
    mine = {c.case_id: c for c in snapshot_at(read_log(tmp_path), 200, stages, external).cases}
    assert set(mine) == set(engine) and len(mine) > 50
    fields = ("grade", "stage", "owner", "referral_date", "external_since", "inherited")
    for case_id, case in mine.items():
        assert all(getattr(case, f) == getattr(engine[case_id], f) for f in fields), case_id
    differ = [
        k
        for k, c in mine.items()
        if c.last_progress_date != engine[k].last_progress_date
        or abs(c.stage_hours_done - engine[k].stage_hours_done) > 1e-6
    ]
    assert len(differ) <= len(truth.team.detective_names())


def test_backtest_from_a_cut_date(tmp_path: Path) -> None:
    """From the log's state at a cut date (open cases and absences as a forecast snapshot), a log
    exported from the scenario is inside the 90% band in 80% of the later months or more."""
    truth = _truth(horizon_days=540.0)
    export_log(truth, 0, tmp_path, seed=4242)
    log = read_log(tmp_path)
    result = backtest(truth, log, replications=40, cut_day=180)
    assert result.cut_date == "2024-06-29"
    assert len(result.months) == 11 and result.months["end_day"].iloc[0] > 180
    assert result.coverage >= 0.8, result.months


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _write(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def _first(rows: list[list[str]], activity: str, after: int = 1) -> int:
    return next(i for i in range(after, len(rows)) if rows[i][2] == activity)


def _unknown_activity(rows: list[list[str]]) -> tuple[int, str]:
    i = _first(rows, "work")
    rows[i][2] = "coffee"
    return i + 1, "activity"


def _before_referral(rows: list[list[str]]) -> tuple[int, str]:
    i = _first(rows, "work")
    case = rows[i][0]
    referral = next(r for r in rows[1:] if r[0] == case and r[2] == "referral")
    rows[i][1] = "2023-12-01T00:00:00"
    assert referral
    return i + 1, "timestamp"


def _work_after_closed(rows: list[list[str]]) -> tuple[int, str]:
    i = _first(rows, "closed")
    rows.insert(i + 1, [rows[i][0], rows[i][1], "work", "dc_1", "", "research", "1.0"])
    return i + 2, "activity"


def _out_of_order(rows: list[list[str]]) -> tuple[int, str]:
    i = _first(rows, "stage_end")
    case = rows[i][0]
    later = next(j for j in range(i + 1, len(rows)) if rows[j][0] == case)
    rows[i], rows[later] = rows[later], rows[i]
    return later + 1, "timestamp"


def _duplicated(rows: list[list[str]]) -> tuple[int, str]:
    i = _first(rows, "work")
    rows.insert(i + 1, list(rows[i]))
    return i + 2, "case_id"


def _missing_column(rows: list[list[str]]) -> tuple[int, str]:
    for row in rows:
        del row[3]
    return 1, "resource"


def _unknown_grade(rows: list[list[str]]) -> tuple[int, str]:
    i = _first(rows, "referral")
    rows[i][4] = "extreme"
    return i + 1, "grade"


BAD_LOGS = [
    ("unknown activity", _unknown_activity),
    ("event before the referral", _before_referral),
    ("work after closed", _work_after_closed),
    ("dates out of order", _out_of_order),
    ("duplicated row", _duplicated),
    ("missing column", _missing_column),
    ("grade the base does not know", _unknown_grade),
]


@pytest.fixture(scope="module")
def small_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("log")
    export_log(_truth(horizon_days=120.0), 0, folder, seed=9)
    return folder


@pytest.mark.parametrize(("what", "damage"), BAD_LOGS, ids=[b[0] for b in BAD_LOGS])
def test_bad_log_exits_2(small_log: Path, tmp_path: Path, what: str, damage: object) -> None:
    """A bad log: exit 2, one line per problem naming file, row and column; nothing written."""
    folder = tmp_path / "log"
    folder.mkdir()
    for name in ("absences.csv", "staff.csv"):
        (folder / name).write_bytes((small_log / name).read_bytes())
    rows = _rows(small_log / "events.csv")
    row, column = damage(rows)  # type: ignore[operator]
    _write(folder / "events.csv", rows)
    out = tmp_path / "fitted.yaml"
    result = CliRunner().invoke(
        cli, ["calibrate", str(folder), "--base", str(TRUTH), "--out", str(out), "-q"]
    )
    assert result.exit_code == 2, (what, result.output)
    lines = result.stderr.strip().splitlines()
    assert lines and "Traceback" not in result.stderr
    assert any(
        line.startswith(f"{folder / 'events.csv'}: row {row}, column {column}:") for line in lines
    ), (what, lines)
    assert not out.exists()


def test_bad_log_in_a_subprocess(small_log: Path, tmp_path: Path) -> None:
    """Through the installed entry point too: exit 2, no traceback, nothing written."""
    folder = tmp_path / "log"
    folder.mkdir()
    for name in ("absences.csv", "staff.csv"):
        (folder / name).write_bytes((small_log / name).read_bytes())
    rows = _rows(small_log / "events.csv")
    _unknown_activity(rows)
    _write(folder / "events.csv", rows)
    out = tmp_path / "fitted.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "sim", "backtest", str(folder), str(TRUTH)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "column activity: unknown activity 'coffee'" in done.stderr
    assert not out.exists()


def test_cli_export_calibrate_backtest(tmp_path: Path) -> None:
    """The three commands chain: export-log, calibrate (with a report), backtest (exit 1 below
    --min-coverage)."""
    runner = CliRunner()
    log = tmp_path / "log"
    done = runner.invoke(
        cli,
        ["export-log", str(TRUTH), "--out", str(log), "--seed", "31", "--set", "horizon_days=200"],
    )
    assert done.exit_code == 0, done.output
    fitted = tmp_path / "fitted.yaml"
    done = runner.invoke(
        cli,
        [
            "calibrate",
            str(log),
            "--base",
            str(TRUTH),
            "--out",
            str(fitted),
            "--report",
            str(tmp_path / "report"),
            "-q",
        ],
    )
    assert done.exit_code == 0, done.output
    text = fitted.read_text()
    assert "# fitted:" in text and "not fitted: from the base" in text
    scenario = sim.load_scenario(fitted)
    assert math.isclose(scenario.horizon_days, 200.0)
    assert (tmp_path / "report" / "fit_report.html").is_file()
    done = runner.invoke(
        cli,
        [
            "backtest",
            str(log),
            str(fitted),
            "-r",
            "10",
            "-q",
            "--min-coverage",
            "1.0",
            "--out",
            str(tmp_path / "bt"),
        ],
    )
    assert done.exit_code in (0, 1)
    assert (tmp_path / "bt" / "backtest.html").is_file()
    assert "coverage" in done.output

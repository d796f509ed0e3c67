"""A CLI that guides: "did you mean", percentage hints, named list items, full help texts, one
``--workers`` default, ``init`` templates, and ``--xlsx`` / ``--cases-csv`` on the commands."""

from __future__ import annotations

import os
from pathlib import Path

import click
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from openpyxl import load_workbook

from sim.cli.app import cli
from sim.cli.init import TEMPLATES, template_text
from sim.scenario import Scenario, ScenarioError, load_scenario

BASE = "scenarios/baseline.yaml"
AS_OF = "2025-03-03"  # the date of examples/forecast/ (docs/forecast.md)


def _problems(overrides: list[str], path: str = BASE) -> str:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, overrides)
    return "\n".join(caught.value.problems)


@pytest.mark.parametrize(
    ("override", "field", "suggestion"),
    [
        ("horizn_days=100", "horizn_days", "'horizon_days'"),
        ("team.detectives.0.ftee=1", "team.detectives.0.ftee", "'fte'"),
        ("outputs.backlog_evry_days=7", "outputs.backlog_evry_days", "'backlog_every_days'"),
        ("cases.arrivals.rate_per_yr=10", "cases.arrivals.rate_per_yr", "'rate_per_year'"),
        ("cases.grades.hgh.share=0.1", "cases.grades.hgh", "'high'"),
        (
            "policies.allocation.rule=least_loaded_ft",
            "policies.allocation.rule",
            "'least_loaded_fte'",
        ),
        (
            "policies.workload_review.every_day=28",
            "policies.workload_review.every_day",
            "'every_days'",
        ),
        ("policies.wellbing.screening=none", "policies.wellbing", "'wellbeing'"),
        ("cases.stages.0.effort_hours.dist=lognorml", "dist", "'lognormal'"),
        ("cases.stages.1.effort_hours.meen=3", "cases.stages.1.effort_hours.meen", "'mean'"),
        (
            "expect.any_neglect_over_356.max=0.1",
            "expect.any_neglect_over_356",
            "'any_neglect_over_365'",
        ),
        ("team.detectives.dcpt.fte=0.5", "team.detectives.dcpt.fte", "'dc_pt'"),
    ],
)
def test_unknown_names_get_did_you_mean(override: str, field: str, suggestion: str) -> None:
    """Every misspelt key, rule, parameter, distribution, metric or list item names the closest."""
    text = _problems([override])
    assert f"{field}:" in text and f"did you mean {suggestion}?" in text, text


@pytest.mark.parametrize(
    ("override", "fraction"),
    [
        ("cases.grades.high.share=25", "0.25"),
        ("cases.arrivals.growth_per_year=14", "0.14"),
        ("policies.workload_review.act_probability=50", "0.5"),
        ("cases.arrivals.seasonality.amplitude=30", "0.3"),
    ],
)
def test_a_percentage_for_a_fraction_gets_a_hint(override: str, fraction: str) -> None:
    """A share, probability or growth above 1 is refused with the fraction it probably meant."""
    text = _problems([override])
    assert "a fraction, not a percentage" in text and f"write {fraction} for" in text, text


def test_list_items_by_name_or_index() -> None:
    """`--set team.detectives.dc_pt.fte=0.6` sets that group; an index still works."""
    by_name = load_scenario(BASE, ["team.detectives.dc_pt.fte=0.6"])
    by_index = load_scenario(BASE, ["team.detectives.1.fte=0.6"])
    assert by_name == by_index
    assert [g.fte for g in by_name.team.detectives if g.name == "dc_pt"] == [0.6]


def _commands() -> list[click.Command]:
    assert isinstance(cli, click.Group)
    return [cli.commands[name] for name in sorted(cli.commands)]


def test_every_option_has_a_full_help_text() -> None:
    """Every command and option is explained; no summary is cut and no RST markup shows."""
    for command in _commands():
        assert command.short_help and not command.short_help.endswith("..."), command.name
        assert "``" not in (command.help or ""), command.name
        for param in command.params:
            if isinstance(param, click.Option) and param.name != "help":
                assert param.help and len(param.help) > 10, (command.name, param.name)
                assert "``" not in param.help, (command.name, param.name)
    listing = CliRunner().invoke(cli, ["--help"]).output
    commands = listing.split("Commands:", 1)[1]
    assert "..." not in commands, commands


def test_workers_default_is_all_cores_everywhere() -> None:
    """`--workers` defaults to os.cpu_count() on every command that has it."""
    found = set()
    for command in _commands():
        for param in command.params:
            if param.name == "workers":
                assert param.default == (os.cpu_count() or 1), command.name
                found.add(command.name)
    assert {"run", "compare", "sweep", "forecast", "optimise", "backtest"} <= found


@pytest.mark.parametrize("template", TEMPLATES)
def test_init_writes_a_valid_commented_scenario(tmp_path: Path, template: str) -> None:
    """`init` writes a scenario that validates, and every section it leaves out says so."""
    runner = CliRunner()
    result = runner.invoke(cli, ["init", "--template", template, str(tmp_path / "new")])
    assert result.exit_code == 0, result.output
    path = tmp_path / "new" / "scenario.yaml"
    load_scenario(path)
    text = path.read_text(encoding="utf-8")
    given = set(yaml.safe_load(text))
    for section in set(Scenario.model_fields) - given - {"plugins"}:
        assert f"# {section}: left out" in text or f"# {section}:" in text, section
    again = runner.invoke(cli, ["init", str(tmp_path / "new")])
    assert again.exit_code == 2 and "exists already" in again.output
    assert path.read_text(encoding="utf-8") == template_text(template)


def test_minimal_template_says_what_no_leave_means() -> None:
    """Leaving out leave: means no leave at all, and the minimal template says so."""
    text = template_text("minimal")
    assert "leave: left out: NO LEAVE AT ALL" in text


SHORT = ["--set", "horizon_days=300", "--set", "warmup_days=50", "-r", "2", "-q", "-w", "1"]


def test_run_writes_workbook_and_csv(tmp_path: Path) -> None:
    """`run --xlsx --cases-csv` writes results.xlsx (about, summary, replications, cases) and
    cases.csv (its report.html is checked in tests/test_report_browser.py)."""
    out = tmp_path / "run"
    command = ["run", BASE, *SHORT, "--xlsx", "--cases-csv", "--no-figures", "--out", str(out)]
    result = CliRunner().invoke(cli, command)
    assert result.exit_code in (0, 1), result.output
    assert not (out / "report.html").exists()
    book = load_workbook(out / "results.xlsx", read_only=True)
    assert book.sheetnames == ["about", "summary", "replications", "cases"]
    rows = sum(1 for _ in book["cases"].iter_rows(values_only=True))
    assert rows == 2 + len(pd.read_csv(out / "cases.csv"))  # the note, the header, the cases


def test_compare_writes_a_workbook(tmp_path: Path) -> None:
    """`compare --xlsx` writes summary, comparison and every scenario's cases in one workbook."""
    out = tmp_path / "cmp"
    files = [BASE, "scenarios/baseline.yaml"]
    other = tmp_path / "other.yaml"
    other.write_text(
        f"extends: {Path(files[0]).resolve()}\nname: other\npolicies:\n"
        "  workload_review: {every_days: 28}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli, ["compare", BASE, str(other), *SHORT, "--xlsx", "--no-figures", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    book = load_workbook(out / "results.xlsx", read_only=True)
    assert book.sheetnames == ["about", "summary", "comparison", "cases"]
    header = next(book["cases"].iter_rows(min_row=2, max_row=2, values_only=True))
    assert header[0] == "scenario"


def test_sweep_report_names_parameters_in_words(tmp_path: Path) -> None:
    """`sweep-report --xlsx --cases-csv` writes report.html whose title names the swept key in
    words, a workbook (summary, comparison, runs) and runs.csv; index and name keys agree."""
    runner = CliRunner()
    out = tmp_path / "sweep"
    grid = ["--grid", "team.detectives.0.count=5,6", "--executor", "serial"]
    done = runner.invoke(cli, ["sweep", BASE, *grid, *SHORT, "--out", str(out)])
    assert done.exit_code == 0, done.output
    done = runner.invoke(cli, ["sweep-report", str(out), "--xlsx", "--cases-csv"])
    assert done.exit_code == 0, done.output
    html = (out / "report" / "report.html").read_text(encoding="utf-8")
    title = html.split("<h1>", 1)[1].split("</h1>", 1)[0]
    assert "number of detectives dc" in title and "team.detectives" not in title
    book = load_workbook(out / "report" / "results.xlsx", read_only=True)
    assert book.sheetnames == ["about", "summary", "comparison", "runs"]
    assert len(pd.read_csv(out / "report" / "runs.csv")) == 4


def test_forecast_writes_a_workbook(tmp_path: Path) -> None:
    """`forecast --xlsx` writes the early-warning list, every case's risks and the backlog."""
    out = tmp_path / "forecast"
    command = [
        "forecast",
        "examples/forecast/team.yaml",
        "--cases",
        "examples/forecast/open_cases.csv",
        "--absences",
        "examples/forecast/absences.csv",
        "--as-of",
        AS_OF,
        "--horizon-days",
        "120",
        "-r",
        "2",
        "-q",
        "-w",
        "1",
        "--xlsx",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 0, result.output
    book = load_workbook(out / "results.xlsx", read_only=True)
    assert book.sheetnames == ["about", "early_warning", "comparison", "case_risk", "backlog"]
    cases = pd.read_csv("examples/forecast/open_cases.csv")
    rows = sum(1 for _ in book["case_risk"].iter_rows(values_only=True))
    assert rows == 2 + len(cases)  # the note, the header, one row per open case

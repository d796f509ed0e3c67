"""expect: thresholds: the broken, inconclusive and met rule; the exit codes of run and compare."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from sim.cli.app import cli
from sim.experiments.compare import check_expectations
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SHORT = ["--set", "horizon_days=400", "--set", "warmup_days=50", "-r", "3", "-q"]


def _summary(mean: float, low: float, high: float) -> pd.DataFrame:
    return pd.DataFrame({"metric": ["m"], "mean": [mean], "ci_low": [low], "ci_high": [high]})


@pytest.mark.parametrize(
    ("bound", "mean", "low", "high", "status"),
    [
        ("max", 0.02, 0.0, 0.06, "met"),
        ("max", 0.07, 0.04, 0.10, "inconclusive"),  # estimate above, CI reaches the bound
        ("max", 0.09, 0.06, 0.12, "broken"),  # the whole CI above the bound
        ("min", 0.09, 0.06, 0.12, "met"),
        ("min", 0.04, 0.02, 0.06, "inconclusive"),
        ("min", 0.02, 0.0, 0.04, "broken"),
        ("max", float("nan"), float("nan"), float("nan"), "broken"),  # not computed
    ],
)
def test_threshold_rule(bound: str, mean: float, low: float, high: float, status: str) -> None:
    """A bound is broken only when the whole CI lies beyond it, inconclusive when just the mean."""
    scenario = load_scenario(
        ROOT / "scenarios/baseline.yaml", [f"expect.any_neglect_over_365.{bound}=0.05"]
    )
    summary = _summary(mean, low, high).assign(metric="any_neglect_over_365")
    (check,) = check_expectations(scenario, summary)
    assert check.status == status
    assert "any_neglect_over_365" in check.describe() and "95% CI" in check.describe()


@pytest.mark.parametrize(
    ("expect", "code"),
    [("expect.cases.min=1e9", 1), ("expect.cases.max=1e9", 0), ("expect.nope.max=1", 2)],
)
def test_run_exit_codes(tmp_path: Path, expect: str, code: int) -> None:
    """run exits 1 on a broken threshold (naming it), 0 when met, 2 on an unknown metric."""
    args = ["run", "scenarios/baseline.yaml", *SHORT, "--set", expect, "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == code, result.output
    if code == 1:
        assert "cases expected >= 1e+09" in result.output and "broken" in result.output
    if code == 2:
        assert "unknown metric 'nope'" in result.output


def test_compare_exits_1_when_any_scenario_breaks_a_threshold(tmp_path: Path) -> None:
    """compare writes its outputs and then exits 1, naming the broken threshold."""
    child = tmp_path / "strict.yaml"
    child.write_text(
        f"extends: {ROOT / 'scenarios/baseline.yaml'}\nname: strict\n"
        "expect: {cases: {min: 1.0e9}}\n"
    )
    out = tmp_path / "out"
    args = ["compare", "scenarios/baseline.yaml", str(child), *SHORT, "--no-figures"]
    result = CliRunner().invoke(cli, [*args, "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert "strict: cases expected >= 1e+09" in result.output
    assert (out / "comparison.csv").exists()

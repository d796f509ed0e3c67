"""Comparisons under common random numbers: paired differences, the table, the compare command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

from sim.cli.app import cli
from sim.experiments.compare import (
    comparison_table,
    paired_difference,
    precision_status,
    run_comparison,
)
from sim.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[1]
SHORT = ("horizon_days=500", "warmup_days=100")


def _short(path: str = "scenarios/polit_2016_as_was.yaml", *extra: str) -> Scenario:
    return load_scenario(ROOT / path, (*SHORT, *extra))


def test_paired_difference_matches_scipy_by_hand() -> None:
    """The paired difference and its CI equal scipy's paired t-test interval."""
    base = np.array([3.0, 5.0, 4.0, 7.0, 6.0])
    other = np.array([2.0, 5.5, 3.0, 5.0, 6.5])
    mean, low, high, n = paired_difference(base, other)
    assert n == 5
    assert mean == pytest.approx((-1 + 0.5 - 1 - 2 + 0.5) / 5)
    ci = stats.ttest_rel(other, base).confidence_interval(0.95)
    assert (low, high) == pytest.approx((ci.low, ci.high))


def test_paired_difference_skips_undefined_pairs() -> None:
    """A replication where either value is NaN is left out of the pairs."""
    mean, _low, _high, n = paired_difference([1.0, np.nan, 2.0], [2.0, 5.0, 4.0])
    assert n == 2 and mean == pytest.approx(1.5)


def test_table_flags_only_intervals_excluding_zero() -> None:
    """Significant is set exactly when the difference's CI excludes zero; baseline rows are bare."""
    reps = pd.Series(range(6))
    base = pd.DataFrame({"replication": reps, "m": [1.0, 2, 3, 4, 5, 6]})
    shifted = pd.DataFrame({"replication": reps, "m": base["m"] + [1.0, 1.1, 0.9, 1, 1.2, 0.8]})
    noisy = pd.DataFrame({"replication": reps, "m": base["m"] + [1.0, -1, 0.5, -0.5, 0.2, -0.2]})
    table = comparison_table({"a": base, "b": shifted, "c": noisy}, "a").set_index("scenario")
    assert bool(table.loc["b", "significant"]) and not bool(table.loc["c", "significant"])
    assert np.isnan(table.loc["a", "difference"]) and bool(table.loc["a", "baseline"])


def test_identical_scenarios_differ_by_exactly_zero() -> None:
    """Under common random numbers a scenario compared with itself differs by 0 in every metric."""
    a = _short()
    b = a.model_copy(update={"name": "copy"})
    comparison = run_comparison([a, b], replications=4, trace_replication=None)
    rows = comparison.table[comparison.table["scenario"] == "copy"]
    defined = rows.dropna(subset=["difference"])
    assert len(defined) > 20
    assert (defined["difference"] == 0).all() and not defined["significant"].any()


def test_precision_loop_adds_batches_up_to_the_cap() -> None:
    """--precision adds batches until the target or the cap, and says which."""
    a = _short()
    comparison = run_comparison(
        [a],
        replications=3,
        precision=1e-6,
        precision_metric="mean_backlog",
        max_replications=7,
        trace_replication=None,
    )
    assert comparison.replications == 7
    assert "Not reached" in comparison.how_many
    assert not comparison.precision[0].reached


def test_compare_command_writes_tables(tmp_path: Path) -> None:
    """compare writes comparison.csv with every scenario and per-scenario result folders."""
    args = ["compare", "scenarios/polit_2016_as_was.yaml", "scenarios/polit_after_reforms.yaml"]
    sets = [x for s in SHORT for x in ("--set", s)]
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, [*args, *sets, "-r", "3", "-q", "--no-figures", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "comparison.csv")
    assert set(table["scenario"]) == {"polit_2016_as_was", "polit_after_reforms"}
    assert {"difference", "diff_ci_low", "diff_ci_high", "significant"} <= set(table.columns)
    assert (out / "scenarios" / "polit_after_reforms" / "summary.csv").exists()
    assert (out / "manifest.json").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["scenarios/baseline.yaml", "scenarios/no_such_file.yaml"],
        ["scenarios/baseline.yaml", "scenarios/baseline.yaml"],
        ["scenarios/baseline.yaml", "--precision-metric", "no_such_metric"],
        ["scenarios/baseline.yaml", "--set", "horizon_days=-1"],
    ],
)
def test_compare_bad_input_exits_2(tmp_path: Path, args: list[str]) -> None:
    """Missing files, duplicate names, unknown metrics and bad overrides exit 2, writing nothing."""
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["compare", *args, "-q", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert not out.exists()


def test_precision_of_a_zero_mean_is_held_to_an_absolute_half_width() -> None:
    """With a mean of 0 the target is the precision in the metric's units, not 0 × precision."""
    zeros = precision_status("s", np.zeros(40), "any_neglect_over_365", 0.1)
    assert zeros.rule.startswith("absolute") and zeros.target == 0.1 and zeros.reached
    few = precision_status("s", np.zeros(5), "any_neglect_over_365", 0.1)
    assert not few.reached  # Wilson [0, 0.43] for 0 out of 5
    some = precision_status("s", np.array([1.0, 0.0] * 50), "any_neglect_over_365", 0.1)
    assert some.rule == "relative" and some.target == pytest.approx(0.05) and not some.reached


def test_precision_loop_stops_once_reached() -> None:
    """The loop stops at the first batch where every scenario meets the target."""
    a = _short()
    comparison = run_comparison(
        [a],
        replications=4,
        precision=0.5,
        precision_metric="mean_backlog",
        max_replications=40,
        trace_replication=None,
    )
    assert comparison.precision[0].reached and comparison.replications < 40
    assert "Reached after" in comparison.how_many


def test_indicator_difference_interval_stays_within_minus_one_and_one() -> None:
    """The CI of a difference of probabilities is clipped to [-1, 1]."""
    reps = pd.Series(range(4))
    base = pd.DataFrame({"replication": reps, "any_x": [1.0, 1, 1, 0]})
    other = pd.DataFrame({"replication": reps, "any_x": [0.0, 0, 0, 0]})
    row = comparison_table({"a": base, "b": other}, "a").set_index("scenario").loc["b"]
    assert row["diff_ci_low"] == -1.0 and row["diff_ci_high"] <= 1.0

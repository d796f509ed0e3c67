"""sweep-report: Sobol indices of a known function, target-region verdicts, files written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from sim.cli.app import cli
from sim.experiments.sweep import build_design
from sim.report.sweep import parse_expect, sobol_indices, target_region
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"


def test_sobol_indices_recover_an_additive_function() -> None:
    """For y = 4 x1 + x2 (x3 inert), the CIs cover S1 = ST = 16/17, 1/17 and 0."""
    base = load_scenario(BASELINE)
    keys = ["team.hours_per_week", "cases.arrivals.rate_per_year", "warmup_days"]
    design = build_design(base, ranges=[f"{k}=0:1" for k in keys], sobol=512).as_dict()
    x = np.array([[p[k] for k in keys] for p in design["points"]])
    table = pd.DataFrame({"point": range(len(x)), "replication": 0, "y": 4 * x[:, 0] + x[:, 1]})
    indices = sobol_indices(table, design, ["y"]).set_index("parameter")
    for key, truth in zip(keys, (16 / 17, 1 / 17, 0.0), strict=True):
        for index in ("S1", "ST"):
            low = float(indices.loc[key, f"{index}_ci_low"])  # type: ignore[arg-type]
            high = float(indices.loc[key, f"{index}_ci_high"])  # type: ignore[arg-type]
            assert low - 1e-9 <= truth <= high + 1e-9, (key, index, low, high)
    s1_low = indices["S1_ci_low"].to_numpy(dtype=float)
    s1_high = indices["S1_ci_high"].to_numpy(dtype=float)
    assert s1_low[0] > s1_high[1]


def test_target_region_classes_points_by_their_intervals() -> None:
    """Met: the whole CI meets the threshold; broken: the whole CI breaks it; else uncertain."""
    points = pd.DataFrame(
        {
            "point": [0, 1, 2],
            "k": [1, 2, 3],
            "metric": "any_neglect_over_365",
            "mean": [0.01, 0.04, 0.5],
            "ci_low": [0.0, 0.01, 0.3],
            "ci_high": [0.03, 0.12, 0.7],
            "n": 30,
        }
    )
    expect = parse_expect({"any_neglect_over_365": {"max": 0.05}})
    region = target_region(points, ["k"], expect)
    assert list(region["verdict"]) == ["met", "uncertain", "broken"]
    assert list(region["any_neglect_over_365_max_met_by_mean"]) == [True, True, False]


def test_expect_must_name_max_or_min() -> None:
    """An expect entry other than max/min is refused."""
    with pytest.raises(ValueError, match="max and/or min"):
        parse_expect({"utilisation": {"below": 0.9}})


def test_sweep_report_writes_tables_figures_and_the_region(tmp_path: Path) -> None:
    """A grid sweep's report holds per-point, per-parameter and target-region tables and figures."""
    short = tmp_path / "short.yaml"
    short.write_text(f"extends: {BASELINE}\nname: short\nhorizon_days: 730\nwarmup_days: 180\n")
    out = tmp_path / "sweep"
    args = ["--grid", "team.detectives.0.count=3,6", "--grid", "team.hours_per_week=30,37"]
    # The scenario's own expect: (here set on the command line) gives the target region.
    args += ["--set", "expect.utilisation.max=0.9"]
    command = [sys.executable, "-m", "sim", "sweep", "-q", str(short), *args, "-r", "5"]
    subprocess.run([*command, "--out", str(out), "--executor", "serial"], check=True, cwd=tmp_path)
    assert json.loads((out / "sweep.json").read_text())["base_scenario"]["expect"]
    result = CliRunner().invoke(cli, ["sweep-report", str(out)])
    assert result.exit_code == 0, result.output
    report = out / "report"
    for name in ("points.csv", "metric_by_parameter.csv", "target_region.csv"):
        assert (report / name).exists()
    for stem in ("metric_by_parameter", "target_region"):
        assert (report / f"{stem}.png").stat().st_size > 0
    by_param = pd.read_csv(report / "metric_by_parameter.csv")
    assert set(by_param["parameter"]) == {"team.detectives.0.count", "team.hours_per_week"}
    util = by_param[
        (by_param["metric"] == "utilisation") & (by_param["parameter"] == "team.detectives.0.count")
    ].set_index("value")
    # Fewer detectives are busier: a direction of effect, with intervals apart.
    assert util["ci_low"].to_dict()[3.0] > util["ci_high"].to_dict()[6.0]
    region = pd.read_csv(report / "target_region.csv")
    assert len(region) == 4 and set(region["verdict"]) <= {"met", "uncertain", "broken"}
    # Scenario discovery: the box where utilisation breaks 0.9 holds the 3-detective points only.
    broken = region[~region["utilisation_max_met_by_mean"]]
    assert set(broken["team.detectives.0.count"]) == {3}
    boxes = pd.read_csv(report / "scenario_discovery.csv").query("box == 1")
    count = boxes.set_index("parameter").loc["team.detectives.0.count"]
    assert (count["low"], count["high"]) == (3, 3)
    assert count["coverage"] == 1.0 and count["density"] == 1.0

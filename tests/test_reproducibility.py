"""Reproducibility: same seed, same records; common random numbers; serial equals pooled."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from sim.cli.app import cli
from sim.engine.replication import draw_referrals
from sim.engine.streams import Streams
from sim.experiments.replications import simulate
from sim.scenario import Scenario, apply_overrides, load_scenario

BASELINE = Path(__file__).resolve().parent.parent / "scenarios" / "baseline.yaml"
SHORT = ["horizon_days=900", "warmup_days=180"]
PID_FILE_VARIABLE = "POLIT_SIM_TEST_PID_FILE"
PID_PLUGIN = f'''"""Test plugin: records the id of each process that imports it."""

import os

with open(os.environ["{PID_FILE_VARIABLE}"], "a", encoding="utf-8") as out:
    out.write(f"{{os.getpid()}}\\n")
'''


def short_baseline(*overrides: str) -> Scenario:
    """The baseline over a short horizon, with ``overrides``."""
    return load_scenario(BASELINE, [*SHORT, *overrides])


def assert_results_equal(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Exact equality of two tables (values, dtypes, index)."""
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_same_seed_gives_identical_tables() -> None:
    """Two runs with the same seed give the same cases, replications and summary, bit for bit."""
    scenario = short_baseline()
    first = simulate(scenario, 3, seed=11)
    second = simulate(scenario, 3, seed=11)
    for name in ("cases", "replications", "summary", "backlog", "detectives"):
        assert_results_equal(getattr(first, name), getattr(second, name))


def test_different_seeds_give_different_cases() -> None:
    """Another root seed draws other referrals and other outcomes."""
    scenario = short_baseline()
    a = simulate(scenario, 2, seed=11).cases
    b = simulate(scenario, 2, seed=12).cases
    assert len(a) != len(b) or not np.array_equal(a["arrival_day"], b["arrival_day"])
    assert not a["closed_day"].equals(b["closed_day"])


POLICY_CHANGES = [
    pytest.param(["policies.allocation.rule=round_robin"], id="allocation"),
    pytest.param(["policies.work_order.rule=oldest_first"], id="work_order"),
    pytest.param(["policies.on_long_leave.rule=spread"], id="on_long_leave"),
]


@pytest.mark.parametrize("change", POLICY_CHANGES)
def test_a_policy_change_keeps_the_same_referrals(change: list[str]) -> None:
    """Scenarios that differ only in a policy see the same referrals with the same attributes."""
    base = short_baseline()
    other = short_baseline(*change)
    assert base.policies != other.policies
    for replication in range(2):
        a = draw_referrals(base, Streams(base.seed, replication))
        b = draw_referrals(other, Streams(other.seed, replication))
        for field in ("arrival_day", "grade", "efforts", "external_days", "devices"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    key = ["replication", "case_id"]
    cases_a = simulate(base, 2).cases.sort_values(key, ignore_index=True)
    cases_b = simulate(other, 2).cases.sort_values(key, ignore_index=True)
    assert_results_equal(
        cases_a[[*key, "arrival_day", "grade"]], cases_b[[*key, "arrival_day", "grade"]]
    )
    # the policy does change what happens to the cases
    assert not cases_a["closed_day"].equals(cases_b["closed_day"])


def test_an_unrelated_stream_leaves_the_others_unchanged() -> None:
    """Drawing from a new stream, or adding a stage or leave, changes no other stream's draws."""
    plain = Streams(7, 3)
    busy = Streams(7, 3)
    busy["wellbeing.screening"].random(1000)
    np.testing.assert_array_equal(plain["arrivals"].random(50), busy["arrivals"].random(50))

    base = short_baseline()
    data = base.model_dump(mode="json", by_alias=True)
    data = apply_overrides(data, ["leave=null"], "test")
    data["cases"]["stages"].append(
        {"name": "extra_review", "effort_hours": {"dist": "fixed", "value": 2}}
    )
    other = Scenario.model_validate(data)
    a = draw_referrals(base, Streams(base.seed, 0))
    b = draw_referrals(other, Streams(other.seed, 0))
    for field in ("arrival_day", "grade", "devices"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    np.testing.assert_array_equal(a.efforts, b.efforts[:, :-1])
    np.testing.assert_array_equal(a.external_days, b.external_days[:, :-1])


def test_process_pool_equals_serial_and_really_uses_other_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """workers=2 runs replications in other processes and gives exactly the serial tables."""
    (tmp_path / "pid_recorder.py").write_text(PID_PLUGIN, encoding="utf-8")
    pid_file = tmp_path / "pids.txt"
    monkeypatch.setenv(PID_FILE_VARIABLE, str(pid_file))
    monkeypatch.syspath_prepend(str(tmp_path))  # spawned workers inherit sys.path
    # model_copy skips validation, so the plugin is not imported here: only the workers do it.
    scenario = short_baseline().model_copy(update={"plugins": ["pid_recorder"]})
    pooled = simulate(scenario, 4, workers=2)
    worker_pids = {int(line) for line in pid_file.read_text(encoding="utf-8").split()}
    assert worker_pids, "no worker imported the scenario's plugin"
    assert os.getpid() not in worker_pids
    serial = simulate(scenario, 4, workers=1)
    for name in ("cases", "replications", "summary", "backlog", "detectives"):
        assert_results_equal(getattr(pooled, name), getattr(serial, name))


def test_cli_run_with_two_workers_writes_the_serial_tables(tmp_path: Path) -> None:
    """`polit-sim run --workers 2` writes the same tables as `--workers 1`."""
    runner = CliRunner()
    outputs = {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        args = ["run", str(BASELINE), "--replications", "3", "--workers", str(workers)]
        args += ["--out", str(out), "--quiet"]
        for override in SHORT:
            args += ["--set", override]
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
        outputs[workers] = out
    for table in ("cases.parquet", "replications.parquet"):
        assert_results_equal(
            pd.read_parquet(outputs[1] / table), pd.read_parquet(outputs[2] / table)
        )
    assert (outputs[1] / "summary.csv").read_bytes() == (outputs[2] / "summary.csv").read_bytes()

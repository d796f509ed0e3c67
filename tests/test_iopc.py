"""The IOPC scenarios: each single reform changes one thing, and the as-was conditions reproduce
the phenomenon by mechanism (long neglect of cases a part-timer inherited) that the reforms cut."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sim.experiments.replications import simulate
from sim.scenario import load_scenario, scenario_dump

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
AS_WAS = SCENARIOS / "polit_2016_as_was.yaml"
AFTER = SCENARIOS / "polit_after_reforms.yaml"
REFORMS = sorted(SCENARIOS.glob("reform_*.yaml"))


def _leaves(data: Any, path: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_leaves(value, f"{path}.{key}" if path else key))
        return out
    return {path: data}


def _changed(path: Path) -> set[str]:
    base = _leaves(scenario_dump(load_scenario(AS_WAS)))
    other = _leaves(scenario_dump(load_scenario(path)))
    keys = (set(base) | set(other)) - {"name", "title", "description"}
    # expect: thresholds are checked after a run; they change nothing that is simulated.
    return {k for k in keys if base.get(k) != other.get(k) and not k.startswith("expect.")}


def test_there_is_one_scenario_per_reform_and_each_extends_the_as_was_one() -> None:
    """Every reform file extends the as-was scenario; the force's reforms all have one."""
    names = {p.stem for p in REFORMS}
    for reform in (
        "reform_workload_reviews",
        "reform_sergeant_support",
        "reform_mentoring",
        "reform_psychological_screening",
        "reform_wellbeing_supervision",
    ):
        assert reform in names
    for path in REFORMS:
        assert "extends: polit_2016_as_was.yaml" in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", REFORMS, ids=lambda p: p.stem)
def test_each_reform_changes_one_policy_only(path: Path) -> None:
    """A single-reform scenario differs from the as-was one in one policy and nothing else."""
    changed = _changed(path)
    assert changed
    assert all(k.startswith("policies.") for k in changed), changed
    # One lever: a single policy, except support for sergeants (training and HR, one reform).
    policies = {k.split(".")[1] for k in changed}
    assert len(policies) == 1 or policies == {"workload_review", "hr_support"}, policies


def test_after_reforms_keeps_the_team_demand_and_leave_of_the_as_was_scenario() -> None:
    """The after-reforms scenario changes policies only, so the difference is the reforms'."""
    assert all(k.startswith("policies.") for k in _changed(AFTER))


@pytest.mark.validation
def test_the_as_was_scenario_reproduces_long_neglect_of_inherited_cases() -> None:
    """As-was: a material chance of a case neglected 600+ days, mostly inherited, mostly the
    part-timer's; after the reforms that chance falls by a large factor (same seeds)."""
    reps = 120
    as_was = simulate(load_scenario(AS_WAS), replications=reps)
    after = simulate(load_scenario(AFTER), replications=reps)
    p_as_was = as_was.replications["any_neglect_over_600"].mean()
    p_after = after.replications["any_neglect_over_600"].mean()
    # Binomial standard error: the as-was chance is material (well above 10%)...
    se = np.sqrt(p_as_was * (1 - p_as_was) / reps)
    assert p_as_was - 1.96 * se > 0.10
    # ...and the reforms cut it at least fivefold.
    assert p_after * 5 < p_as_was
    cases: pd.DataFrame = as_was.cases
    long = cases[cases["longest_neglect_days"] > 600]
    assert long["inherited"].mean() > 0.5
    assert (long["owner"] == "dc_pt").mean() > 0.5
    # The part-timer held them through their long wait, and most had been handed to her.
    held_by_pt = (long["neglect_holder"] == "dc_pt").to_numpy()
    assert held_by_pt.mean() > 0.8
    assert (held_by_pt & long["inherited"].to_numpy(dtype=bool)).mean() > 0.5
    # The reforms work through the supervisors acting on flagged cases.
    acted = after.replications["action_plans"] + after.replications["review_reallocations"]
    assert acted.mean() > 0

"""Scenario files: extends, overrides, the hash, the shipped scenarios, distributions, plugins."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from scipy import stats

import sim
from sim.domain.distributions import (
    Empirical,
    Exponential,
    Fixed,
    Gamma,
    Lognormal,
    Triangular,
    Uniform,
    Weibull,
)
from sim.engine.streams import Streams
from sim.policies import ALLOCATION, REALLOCATION, WORK_ORDER, Registry
from sim.scenario import ScenarioError, apply_overrides, load_scenario, scenario_hash

ROOT = Path(__file__).resolve().parents[1]
SCENARIO_FILES = sorted((ROOT / "scenarios").glob("*.yaml"))

PARENT: dict[str, Any] = {
    "name": "parent",
    "horizon_days": 200,
    "warmup_days": 20,
    "replications": 3,
    "team": {"hours_per_week": 37, "detectives": [{"name": "dc", "count": 3, "fte": 1.0}]},
    "cases": {
        "arrivals": {"rate_per_year": 120},
        "grades": {
            "very_high": {"share": 0.1, "target_days": 1},
            "high": {"share": 0.2, "target_days": 7},
            "medium": {"share": 0.3, "target_days": 14},
            "low": {"share": 0.4, "target_days": 30},
        },
        "stages": [
            {"name": "research", "effort_hours": {"dist": "exponential", "mean": 8}},
            {"name": "forensics", "external": {"days": {"dist": "fixed", "value": 5}}},
            {"name": "file", "effort_hours": {"dist": "lognormal", "mean": 4, "sd": 2}},
        ],
    },
    "policies": {"work_order": {"rule": "grade_then_oldest", "inherited_penalty_days": 3}},
}


def _write(path: Path, data: dict[str, Any] | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


# --- extends ---------------------------------------------------------------------------------


def test_extends_merges_mappings_replaces_lists_relative_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child's mappings merge into the parent's key by key; lists are replaced whole."""
    _write(tmp_path / "common" / "parent.yaml", PARENT)
    child = _write(
        tmp_path / "variants" / "child.yaml",
        """
extends: ../common/parent.yaml
name: child
team: {hours_per_week: 40}
cases:
  arrivals: {growth_per_year: 0.1}
  stages:
    - {name: only, effort_hours: {dist: fixed, value: 2}}
policies:
  work_order: {rule: oldest_first}
""",
    )
    monkeypatch.chdir(tmp_path / "common")  # the path is relative to the file, not the cwd
    scenario = load_scenario(child)
    assert scenario.name == "child"
    assert scenario.horizon_days == 200  # inherited
    assert scenario.team.hours_per_week == 40  # overridden inside a merged mapping
    assert scenario.team.detective_names() == ["dc_1", "dc_2", "dc_3"]  # kept from the parent
    assert scenario.cases.arrivals.rate_per_year == 120
    assert scenario.cases.arrivals.growth_per_year == 0.1
    assert [s.name for s in scenario.cases.stages] == ["only"]  # the list is replaced
    # A policy whose rule changes starts afresh: the parent rule's parameters are not carried over.
    assert scenario.policies.work_order == {"rule": "oldest_first"}


def test_extends_chain_of_three(tmp_path: Path) -> None:
    """A grandchild sees its grandparent's values unless a nearer file changes them."""
    _write(tmp_path / "a.yaml", PARENT)
    _write(tmp_path / "b.yaml", "extends: a.yaml\nname: b\nhorizon_days: 300\n")
    c = _write(tmp_path / "c.yaml", "extends: b.yaml\nname: c\nwarmup_days: 50\n")
    scenario = load_scenario(c)
    assert (scenario.name, scenario.horizon_days, scenario.warmup_days) == ("c", 300, 50)
    assert scenario.replications == 3


def test_extends_merges_a_policy_that_keeps_its_rule(tmp_path: Path) -> None:
    """A child changing one parameter of the parent's policy keeps the parent's rule."""
    parent = dict(PARENT) if isinstance(PARENT, dict) else yaml.safe_load(PARENT)
    parent["policies"] = {"on_long_leave": {"rule": "spread", "after_days": 56}}
    _write(tmp_path / "a.yaml", parent)
    child = _write(
        tmp_path / "b.yaml",
        "extends: a.yaml\nname: b\npolicies: {on_long_leave: {after_days: 14}}\n",
    )
    assert load_scenario(child).policies.on_long_leave == {"rule": "spread", "after_days": 14}


# --- overrides -------------------------------------------------------------------------------


def test_overrides_reach_nested_keys_and_list_items(tmp_path: Path) -> None:
    """``--set`` reaches mappings and list items by index; values are read as YAML scalars."""
    path = _write(tmp_path / "s.yaml", PARENT)
    scenario = load_scenario(
        path,
        [
            "cases.stages.0.effort_hours.mean=5",
            "team.detectives.0.fte=0.5",
            "policies.allocation.rule=team_queue",
            "policies.allocation.max_cases_per_detective=2",
            "leave.annual_days=27",
            "description=a test",
        ],
    )
    effort = scenario.cases.stages[0].effort_hours
    assert isinstance(effort, Exponential)
    assert effort.mean == 5
    assert scenario.team.detectives[0].fte == 0.5
    assert scenario.policies.allocation == {"rule": "team_queue", "max_cases_per_detective": 2}
    assert scenario.leave is not None
    assert scenario.leave.annual_days == 27  # a missing parent mapping is created
    assert scenario.description == "a test"


def test_overrides_are_type_checked_like_the_file(tmp_path: Path) -> None:
    """A wrongly typed override is reported at its dotted field, as the same value in the file."""
    path = _write(tmp_path / "s.yaml", PARENT)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, ["team.detectives.0.fte=full", "cases.stages.1.external.capacity=0"])
    assert caught.value.problems == [
        f"{path}: team.detectives.0.fte: Input should be a valid number, "
        "unable to parse string as a number",
        f"{path}: cases.stages.1.external.capacity: Input should be greater than 0",
    ]


def test_apply_overrides_leaves_its_input_alone() -> None:
    """Overrides return a new mapping; the caller's data is not mutated."""
    data: dict[str, Any] = {"team": {"detectives": [{"name": "dc", "fte": 1.0}]}}
    out = apply_overrides(data, ["team.detectives.0.fte=0.5"], "x.yaml")
    assert out["team"]["detectives"][0]["fte"] == 0.5
    assert data["team"]["detectives"][0]["fte"] == 1.0


# --- hash ------------------------------------------------------------------------------------


def test_scenario_hash_is_stable_and_sensitive(tmp_path: Path) -> None:
    """Equal resolved scenarios hash equal however written; any model change alters the hash."""
    path = _write(tmp_path / "s.yaml", PARENT)
    reordered = _write(tmp_path / "r.yaml", dict(reversed(list(PARENT.items()))))
    base = load_scenario(path)
    h = scenario_hash(base)
    assert len(h) == 64 and int(h, 16) >= 0
    assert scenario_hash(load_scenario(path)) == h
    assert scenario_hash(load_scenario(reordered)) == h
    # Defaults written out explicitly resolve to the same scenario.
    assert scenario_hash(load_scenario(path, ["team.sergeants=1"])) == h

    reseeded = load_scenario(path, ["seed=7"])
    assert scenario_hash(reseeded) != h
    assert scenario_hash(reseeded, runs=False) == scenario_hash(base, runs=False)
    for change in (
        "policies.work_order.rule=oldest_first",
        "cases.stages.0.effort_hours.mean=8.001",
        "team.detectives.0.count=4",
    ):
        changed = load_scenario(path, [change])
        assert scenario_hash(changed) != h, change
        assert scenario_hash(changed, runs=False) != scenario_hash(base, runs=False), change


# --- the shipped scenarios -------------------------------------------------------------------


def test_scenarios_folder_is_not_empty() -> None:
    """The smoke test below has files to run."""
    assert SCENARIO_FILES


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.name for p in SCENARIO_FILES])
def test_every_shipped_scenario_validates_and_runs(path: Path) -> None:
    """Each file in scenarios/ loads and runs one replication of a short horizon."""
    full = load_scenario(path)
    scenario = load_scenario(path, ["horizon_days=400", "warmup_days=100", "replications=1"])
    assert scenario.name == full.name
    result = sim.simulate(scenario, replications=1, seed=1)
    assert len(result.replications) == 1
    assert (result.cases["arrival_day"] >= 100).all()
    assert (result.cases["arrival_day"] < 400).all()


# --- distributions ---------------------------------------------------------------------------

DISTRIBUTIONS = [
    Exponential.model_validate({"dist": "exponential", "mean": 8}),
    Lognormal.model_validate({"dist": "lognormal", "mean": 120, "sd": 90}),
    Gamma.model_validate({"dist": "gamma", "mean": 10, "sd": 4}),
    Weibull.model_validate({"dist": "weibull", "shape": 1.5, "scale": 20}),
    Uniform.model_validate({"dist": "uniform", "low": 2, "high": 6}),
    Triangular.model_validate({"dist": "triangular", "low": 1, "mode": 2, "high": 9}),
    Empirical.model_validate({"dist": "empirical", "values": [1, 2, 10], "weights": [1, 2, 1]}),
]


@pytest.mark.parametrize("dist", DISTRIBUTIONS, ids=lambda d: d.dist)
def test_distribution_sample_mean_matches_its_mean(dist: Any) -> None:
    """The mean and second moment a distribution states lie in its samples' 99.9% intervals."""
    x = dist.sample(Streams(20160101, 0)[f"test.{dist.dist}"], 40_000)
    assert x.shape == (40_000,)
    assert (x >= 0).all()
    for values, stated in ((x, dist.mean), (x**2, dist.second_moment)):
        low, high = stats.t.interval(
            0.999, len(values) - 1, loc=values.mean(), scale=stats.sem(values)
        )
        assert low <= stated <= high, (dist, stated, low, high)


def test_fixed_and_draw() -> None:
    """A fixed distribution always gives its value; ``draw`` returns one float."""
    fixed = Fixed.model_validate({"dist": "fixed", "value": 3})
    rng = Streams(1, 0)["test.fixed"]
    assert np.array_equal(fixed.sample(rng, 5), np.full(5, 3.0))
    assert fixed.draw(rng) == 3.0
    assert (fixed.mean, fixed.second_moment) == (3.0, 9.0)


# --- policy registries and plugins -----------------------------------------------------------


@pytest.mark.parametrize(
    "registry", [ALLOCATION, WORK_ORDER, REALLOCATION], ids=lambda r: str(r.kind)
)
def test_unknown_rule_lists_the_known_ones(registry: Registry[Any]) -> None:
    """Asking a registry for an unknown rule fails with every known name in the message."""
    with pytest.raises(ValueError) as caught:
        registry.build({"rule": "no_such_rule"})
    message = str(caught.value)
    assert "'no_such_rule'" in message
    assert registry.names()
    for name in registry.names():
        assert name in message


PLUGIN = '''
"""A planner's own allocation rule, registered from outside the engine."""

from dataclasses import dataclass

from sim.policies import ALLOCATION


@ALLOCATION.register("{rule}")
@dataclass(frozen=True)
class FirstPresent:
    """Every referral goes to the first present detective in scenario order."""

    def choose(self, case, team, rng):
        present = team.present()
        return present[0] if present else None

    def pull_limit(self, detective):
        return 0
'''


def test_plugin_module_registers_a_new_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A module listed under ``plugins:`` adds a rule the scenario can use, engine untouched."""
    module, rule = "polit_test_plugin_first_present", "first_present_test"
    # Undo the plugin's global effects afterwards: its rule, its module, the path to it.
    monkeypatch.setattr(ALLOCATION, "_rules", dict(ALLOCATION._rules))
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    _write(tmp_path / f"{module}.py", PLUGIN.replace("{rule}", rule))
    path = _write(
        tmp_path / "s.yaml",
        {**PARENT, "plugins": [module], "policies": {"allocation": {"rule": rule}}},
    )
    assert rule not in ALLOCATION.names()
    scenario = load_scenario(path)
    assert rule in ALLOCATION.names()
    result = sim.simulate(scenario, replications=1, seed=3)
    assert len(result.cases) > 0
    assert set(result.cases["owner"]) == {"dc_1"}  # the rule really decided

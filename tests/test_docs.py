"""The reference pages name everything the code defines: scenario keys, rules, metrics, columns.

These tests read the code, not the generator of docs/scenarios.md, so that a key added to the
schema, a rule added to a registry or a metric added to the statistics fails here until it is
documented (``python docs/gen_scenarios_doc.py`` regenerates the scenario tables).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import sim.policies
from sim.analysis.statistics import CASE_COLUMNS, replication_metrics
from sim.engine.replication import run_replication
from sim.policies import Registry
from sim.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS_DOC = ROOT / "docs" / "scenarios.md"
OUTPUTS_DOC = ROOT / "docs" / "outputs.md"

Schema = Mapping[str, Any]


def _resolve(node: Schema, defs: Schema) -> Schema:
    ref = node.get("$ref")
    return defs[ref.rsplit("/", 1)[-1]] if ref else node


def _is_leaf(node: Schema) -> bool:
    """Distributions and policies are documented in their own tables, not key by key."""
    return "x-registry" in node or node.get("discriminator", {}).get("propertyName") == "dist"


def schema_paths(node: Schema, defs: Schema, path: str = "") -> Iterator[str]:
    """Dotted paths of every key: ``[]`` for list items, ``<grade>`` for per-grade keys."""
    node = _resolve(node, defs)
    if path:
        yield path
    if _is_leaf(node):
        return
    for option in node.get("anyOf", []) + node.get("oneOf", []):
        yield from (p for p in schema_paths(option, defs, path) if p != path)
    for key, child in node.get("properties", {}).items():
        yield from schema_paths(child, defs, f"{path}.{key}" if path else key)
    extra = node.get("additionalProperties")
    if isinstance(extra, Mapping) and "propertyNames" in node:
        yield from schema_paths(extra, defs, f"{path}.<grade>")
    items = node.get("items")
    if isinstance(items, Mapping) and "properties" in _resolve(items, defs):
        yield from schema_paths(items, defs, f"{path}[]")


def _code_spans(path: Path) -> set[str]:
    return set(re.findall(r"`([^`\n]+)`", path.read_text(encoding="utf-8")))


def _registries() -> list[Registry[Any]]:
    return [v for v in vars(sim.policies).values() if isinstance(v, Registry)]


def test_every_scenario_key_is_in_docs_scenarios() -> None:
    """Each key of the scenario schema appears as `dotted.path` in docs/scenarios.md."""
    schema = Scenario.model_json_schema(by_alias=True)
    paths = sorted(set(schema_paths(schema, schema.get("$defs", {}))))
    assert "cases.stages[].effort_hours" in paths and "team.detectives[].fte" in paths
    missing = sorted(set(paths) - _code_spans(SCENARIOS_DOC))
    assert not missing, f"run python docs/gen_scenarios_doc.py; undocumented keys: {missing}"


def test_every_distribution_is_in_docs_scenarios() -> None:
    """Each distribution name and parameter appears in docs/scenarios.md."""
    schema = Scenario.model_json_schema(by_alias=True)
    spans = _code_spans(SCENARIOS_DOC)
    dists = {
        name: props
        for name, node in schema["$defs"].items()
        if "dist" in (props := node.get("properties", {}))
    }
    assert len(dists) >= 7
    for model in dists.values():
        for name in model["dist"].get("enum", [model["dist"].get("const")]):
            assert name in spans, name
        for param in model:
            assert param in spans, param


@pytest.mark.parametrize("registry", _registries(), ids=lambda r: str(r.kind))
def test_every_rule_and_parameter_is_in_docs_scenarios(registry: Registry[Any]) -> None:
    """Each registry, its rules and their parameters appear in docs/scenarios.md."""
    text = SCENARIOS_DOC.read_text(encoding="utf-8")
    section = text.split(f"### `policies.{registry.kind}`", 1)
    assert len(section) == 2, f"no section for policies.{registry.kind}"
    body = section[1].split("\n### ", 1)[0]
    spans = set(re.findall(r"`([^`\n]+)`", body))
    for name in registry.names():
        assert name in spans, name
        for field in dataclasses.fields(registry.get(name)):
            assert field.name in spans, (name, field.name)


SCENARIO_FILES = sorted((ROOT / "scenarios").glob("*.yaml"))


def test_every_column_is_in_docs_outputs() -> None:
    """Each column of the per-case table appears in docs/outputs.md."""
    assert "wait_days" in CASE_COLUMNS
    missing = sorted(set(CASE_COLUMNS) - _code_spans(OUTPUTS_DOC))
    assert not missing, f"undocumented columns in docs/outputs.md: {missing}"


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.name for p in SCENARIO_FILES])
def test_every_metric_is_in_docs_outputs(path: Path) -> None:
    """Each metric a shipped scenario's replication yields appears in docs/outputs.md."""
    scenario = load_scenario(path, ["horizon_days=60", "warmup_days=0"])
    metrics = replication_metrics(run_replication(scenario, 0, seed=1), scenario)
    assert "share_neglect_over_365" in metrics
    missing = sorted(set(metrics) - _code_spans(OUTPUTS_DOC))
    assert not missing, f"undocumented metrics in docs/outputs.md: {missing}"

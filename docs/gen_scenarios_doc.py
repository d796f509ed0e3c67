"""Regenerate the key, distribution and policy tables of docs/scenarios.md from the code.

The tables sit between ``<!-- generated:begin NAME -->`` and ``<!-- generated:end NAME -->``
markers; the prose around them is written by hand and left alone. Run after changing the schema
or adding a policy::

    python docs/gen_scenarios_doc.py          # rewrite the tables in place
    python docs/gen_scenarios_doc.py --check  # exit 1 if docs/scenarios.md is out of date

Keys come from ``Scenario.model_json_schema()`` (their type, bounds, default and description);
policies from every :class:`sim.policies.Registry` that ``sim.policies`` exports, so a new
registry or rule appears here without editing this script. A unit is read from the field's
``x-unit`` schema entry if it has one, or else from its name (``_days``, ``_hours``, ...).
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

import sim.policies
from sim.policies import Registry
from sim.scenario import Scenario

DOC = Path(__file__).resolve().parent / "scenarios.md"
GRADE_KEY = "<grade>"
"""How a key of a per-grade mapping is written in a dotted path."""

Schema = Mapping[str, Any]

# Units by exact key, then by suffix; the first match wins.
UNIT_BY_KEY = {
    "fte": "FTE (1.0 = full time)",
    "share": "fraction of referrals",
    "amplitude": "fraction of the mean rate",
    "peak_day": "day of the year",
    "growth_per_year": "fraction per year",
    "rate_per_year": "referrals per year",
    "episodes_per_year": "episodes per detective per year",
    "hours_per_week": "hours per week",
    "replications": "count",
    "count": "count",
    "sergeants": "count",
    "capacity": "cases at once",
    "annual_blocks": "count",
}
UNIT_BY_SUFFIX = (
    ("_hours_per_week", "hours per week"),
    ("_days", "days"),
    ("_hours", "hours"),
    ("_weeks", "weeks"),
    ("_per_year", "per year"),
    ("probability", "probability"),
    ("_boost", "probability"),
    ("_disclosure", "probability"),
    ("_share", "fraction"),
    ("_factor", "multiplier"),
    ("_multiplier", "multiplier"),
    ("_per_detective", "cases"),
)
UNIT_BY_PREFIX = (("days_", "days"), ("hours_", "hours"))

# Meanings of keys whose schema has no description (mostly the sections themselves).
MEANING = {
    "name": "the scenario's name; results go to results/<name>/",
    "description": "free text for readers",
    "replications": "independent runs whose results give the confidence intervals",
    "seed": "root seed of every named random stream (same seed, same results)",
    "team": "the detectives and their supervision",
    "team.detectives": "groups of detectives; each group has a name, a count and an FTE",
    "team.detectives[].name": "the group's name (detectives are name_1, name_2, …)",
    "team.detectives[].count": "detectives in the group",
    "cases": "the demand: referrals, their grades and the stages of a case",
    "cases.arrivals": "the Poisson process of referrals",
    "cases.arrivals.seasonality": "a yearly cosine swing of the referral rate (null: none)",
    "cases.grades": "KIRAT-style risk grades: very_high, high, medium, low",
    "cases.grades.<grade>": "one grade's share of referrals and target time",
    "cases.stages": "the ordered stages of every case",
    "cases.stages[]": "one stage: team work (effort_hours) or another unit (external)",
    "cases.stages[].name": "the stage's name, unique within the scenario",
    "leave": "annual leave, short sickness and long leave of each detective (null: no leave)",
    "leave.short_sickness": "short sickness episodes (null: none)",
    "leave.long_leave": "long-term sickness, maternity or secondment (null: none)",
    "outputs": "what the run records besides the per-case table",
}


class _WithFactoryDefaults(GenerateJsonSchema):
    """JSON Schema that also shows defaults given by a ``default_factory``."""

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            schema = {**schema, "default": factory()}  # type: ignore[call-arg]
            schema.pop("default_factory")
        return super().default_schema(schema)


def scenario_schema() -> dict[str, Any]:
    """The scenario's JSON Schema, defaults from factories included."""
    return Scenario.model_json_schema(by_alias=True, schema_generator=_WithFactoryDefaults)


@dataclass(frozen=True)
class Key:
    """One key of a scenario file, flattened to its dotted path."""

    path: str
    schema: Schema
    required: bool


def _resolve(node: Schema, defs: Schema) -> Schema:
    ref = node.get("$ref")
    if ref is None:
        return node
    target = defs[ref.rsplit("/", 1)[-1]]
    return {**target, **{k: v for k, v in node.items() if k != "$ref"}}


def _options(node: Schema, defs: Schema) -> tuple[list[Schema], bool]:
    """The non-null alternatives of a node (nested ``anyOf`` flattened); whether null is allowed."""
    node = _resolve(node, defs)
    # A distribution is a oneOf too, but one documented as a whole.
    choices = node.get("anyOf") or (None if _is_distribution(node) else node.get("oneOf"))
    if choices is None:
        return [node], False
    real: list[Schema] = []
    nullable = False
    for option in choices:
        if option.get("type") == "null":
            nullable = True
            continue
        inner, inner_null = _options(option, defs)
        real.extend(inner)
        nullable = nullable or inner_null
    return real, nullable


def _is_distribution(node: Schema) -> bool:
    return node.get("discriminator", {}).get("propertyName") == "dist"


def _is_policy(node: Schema) -> bool:
    return "x-registry" in node


def walk(node: Schema, defs: Schema, path: str = "", required: bool = True) -> Iterator[Key]:
    """Every key below ``node`` with its dotted path (list items as ``[]``, grades as ``<grade>``).

    Distributions and policies are leaves: their own keys are documented in their tables.
    """
    options, _ = _options(node, defs)
    if path:
        yield Key(path, node, required)
    for inner in options:
        if not (_is_distribution(inner) or _is_policy(inner)):
            yield from _walk_inside(inner, defs, path)


def _walk_inside(inner: Schema, defs: Schema, path: str) -> Iterator[Key]:
    for key, child in inner.get("properties", {}).items():
        yield from walk(
            child, defs, f"{path}.{key}" if path else key, key in inner.get("required", [])
        )
    extra = inner.get("additionalProperties")
    if isinstance(extra, Mapping) and "propertyNames" in inner:
        yield from walk(extra, defs, f"{path}.{GRADE_KEY}", False)
    items = inner.get("items")
    if isinstance(items, Mapping):
        item_options, _ = _options(items, defs)
        if any("properties" in o for o in item_options):
            yield from walk(items, defs, f"{path}[]", True)


def scenario_keys() -> list[Key]:
    """Every key of a scenario file, in schema order, each path once."""
    schema = scenario_schema()
    keys: dict[str, Key] = {}
    for key in walk(schema, schema.get("$defs", {})):
        keys.setdefault(key.path, key)
    return list(keys.values())


def _bounds(node: Schema) -> str:
    parts = []
    for key, sign in (
        ("exclusiveMinimum", ">"),
        ("minimum", "≥"),
        ("exclusiveMaximum", "<"),
        ("maximum", "≤"),
    ):
        if key in node:
            parts.append(f"{sign} {node[key]:g}")
    if "minItems" in node:
        parts.append(f"at least {node['minItems']}")
    return ", ".join(parts)


def type_of(node: Schema, defs: Schema) -> str:
    """A short human reading of a schema node's type and bounds."""
    options, nullable = _options(node, defs)
    texts = []
    for o in options:
        if _is_distribution(o):
            texts.append("distribution")
        elif _is_policy(o):
            texts.append(f"policy ({o['x-registry']} rules)")
        elif "enum" in o:
            texts.append(" \\| ".join(f"`{v}`" for v in o["enum"]))
        elif "const" in o:
            texts.append(f"`{o['const']}`")
        elif o.get("type") == "object" and "propertyNames" in o:
            extra = o.get("additionalProperties", {})
            inner = type_of(extra, defs) if isinstance(extra, Mapping) else "value"
            texts.append("distribution per grade" if inner == "distribution" else "per grade")
        elif o.get("type") == "object":
            texts.append("mapping")
        elif o.get("type") == "array":
            item = type_of(o.get("items", {}), defs)
            bounds = _bounds(o)
            texts.append(f"list of {item}{', ' + bounds if bounds else ''}")
        elif o.get("type") == "string" and "pattern" in o:
            texts.append("name (letters, digits, _ or -)")
        else:
            bounds = _bounds(o)
            texts.append(f"{o.get('type', 'any')}{' ' + bounds if bounds else ''}")
    text = " or ".join(texts) or "any"
    return f"{text} or null" if nullable else text


def unit_of(path: str, node: Schema) -> str:
    """The unit of a key: its ``x-unit`` if given, else read from its name."""
    if "x-unit" in node:
        return str(node["x-unit"])
    name = re.sub(r"\[\]$", "", path.rsplit(".", 1)[-1])
    if name in UNIT_BY_KEY:
        return UNIT_BY_KEY[name]
    for prefix, unit in UNIT_BY_PREFIX:
        if name.startswith(prefix):
            return unit
    for suffix, unit in UNIT_BY_SUFFIX:
        if name.endswith(suffix):
            return unit
    return "—"


def default_of(key: Key) -> str:
    """The default as a scenario file would spell it, or 'required'."""
    if "default" in key.schema:
        default = key.schema["default"]
        if isinstance(default, dict) and "rule" not in default:
            return "see its keys"
        return f"`{json.dumps(default)}`"
    return "required" if key.required else "see its keys"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def meaning_of(path: str, node: Schema, defs: Schema) -> str:
    """The field's description, else the one written here, else its model's docstring."""
    if "description" in node:
        return _cell(str(node["description"]))
    if path in MEANING:
        return _cell(MEANING[path])
    options, _ = _options(node, defs)
    if len(options) == 1 and "description" in options[0]:
        return _cell(str(options[0]["description"]).split("\n\n")[0])
    return ""


def _attribute_docs(cls: type) -> dict[str, str]:
    """Parameter meanings from the ``Attributes:`` or ``Args:`` section of a class docstring."""
    out: dict[str, str] = {}
    doc = inspect.getdoc(cls) or ""
    section = re.search(r"^(?:Attributes|Args|Parameters):\n((?:[ \t]+.*\n?|\n)+)", doc, re.M)
    if section is None:
        return out
    current = None
    for line in section.group(1).splitlines():
        match = re.match(r"^ {4}(\w+)(?: \([^)]*\))?: (.*)$", line)
        if match:
            current = match.group(1)
            out[current] = match.group(2)
        elif current and line.strip():
            out[current] += " " + line.strip()
    return out


def keys_table() -> str:
    """The table of every scenario key."""
    defs = scenario_schema().get("$defs", {})
    rows = ["| key | type | unit | default | meaning |", "|---|---|---|---|---|"]
    for key in scenario_keys():
        rows.append(
            f"| `{key.path}` | {type_of(key.schema, defs)} | {unit_of(key.path, key.schema)} | "
            f"{default_of(key)} | {meaning_of(key.path, key.schema, defs)} |"
        )
    return "\n".join(rows)


def distributions_table() -> str:
    """One row per distribution a scenario may name, with its parameters."""
    schema = scenario_schema()
    defs = schema.get("$defs", {})
    mapping: dict[str, str] = {}
    for node in defs.values():
        for prop in node.get("properties", {}).values():
            for candidate in (prop, *prop.get("anyOf", [])):
                mapping.update(candidate.get("discriminator", {}).get("mapping", {}))
    rows = ["| `dist` | parameters | meaning |", "|---|---|---|"]
    for name, ref in mapping.items():
        model = defs[ref.rsplit("/", 1)[-1]]
        params = [
            f"`{p}` ({type_of(s, defs)})"
            for p, s in model.get("properties", {}).items()
            if p != "dist"
        ]
        rows.append(f"| `{name}` | {', '.join(params)} | {_cell(model.get('description', ''))} |")
    return "\n".join(rows)


def registries() -> list[Registry[Any]]:
    """Every policy registry ``sim.policies`` exports, sorted by the scenario key it serves."""
    found = {id(v): v for v in vars(sim.policies).values() if isinstance(v, Registry)}
    return sorted(found.values(), key=lambda r: r.kind)


def policies_section() -> str:
    """One table per registry: its rules, their parameters, defaults and meaning."""
    parts = []
    for registry in registries():
        default = (
            f"When `rule` is left out it is `{registry.default}`.\n\n" if registry.default else ""
        )
        parts.append(f"### `policies.{registry.kind}`\n\n{default}")
        parts.append("| rule | parameter | type | unit | default | meaning |")
        parts.append("|---|---|---|---|---|---|")
        for name in registry.names():
            cls = registry.get(name)
            doc = _cell((inspect.getdoc(cls) or "").split("\n\n")[0])
            param_docs = _attribute_docs(cls)
            schema = TypeAdapter(cls).json_schema()
            defs = schema.get("$defs", {})
            params = schema.get("properties", {})
            if not params:
                parts.append(f"| `{name}` | — | | | | {doc} |")
            for i, (param, node) in enumerate(params.items()):
                key = Key(param, node, param in schema.get("required", []))
                meaning = param_docs.get(param, "")
                parts.append(
                    f"| {'`' + name + '`' if i == 0 else ''} | `{param}` | {type_of(node, defs)} | "
                    f"{unit_of(param, node)} | {default_of(key)} | "
                    f"{_cell(' — '.join(filter(None, [doc if i == 0 else '', meaning])))} |"
                )
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


BLOCKS = {"keys": keys_table, "distributions": distributions_table, "policies": policies_section}


def render(text: str) -> str:
    """``text`` with every generated block replaced by its current content."""
    for name, build in BLOCKS.items():
        begin, end = f"<!-- generated:begin {name} -->", f"<!-- generated:end {name} -->"
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
        found = pattern.search(text)
        if found is None:
            raise SystemExit(f"{DOC}: no {begin} … {end} block")
        block = f"{begin}\n{build().strip()}\n{end}"
        text = text[: found.start()] + block + text[found.end() :]
    return text


def main(argv: list[str] | None = None) -> int:
    """Rewrite docs/scenarios.md, or with ``--check`` report whether it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    current = DOC.read_text(encoding="utf-8")
    fresh = render(current)
    if args.check:
        if fresh != current:
            print(f"{DOC} is out of date: run python docs/gen_scenarios_doc.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Dotted scenario keys: the names allowed at a place, list items by name, labels for readers.

A key such as ``team.detectives.dc_pt.fte`` addresses a field the way ``--set``, ``--grid`` and
decision spaces do; a list item is named by its ``name`` (or its index, ``team.detectives.1.fte``).
This module walks the scenario's JSON Schema (:meth:`Scenario.model_json_schema`) to tell which
keys exist at a place (for "did you mean"), and turns a key into words for axes and tables
(:func:`key_label`: ``team.detectives.0.count`` → "detectives dc: number (count)").
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sim.scenario.schema import Scenario

__all__ = ["allowed_keys", "key_label", "list_item_index", "resolve_key"]

Schema = Mapping[str, Any]


@functools.cache
def _schema() -> dict[str, Any]:
    return Scenario.model_json_schema(by_alias=True)


def _deref(node: Schema) -> Schema:
    ref = node.get("$ref")
    if ref:
        return _deref(_schema()["$defs"][ref.rsplit("/", 1)[-1]])
    return node


def _options(node: Schema) -> list[Schema]:
    """The node and, for a union (``anyOf``/``oneOf``), each of its members, dereferenced."""
    node = _deref(node)
    members = node.get("anyOf", []) + node.get("oneOf", [])
    if not members:
        return [node]
    out: list[Schema] = []
    for member in members:
        out += _options(member)
    return out


def _children(node: Schema, part: str) -> list[Schema]:
    out: list[Schema] = []
    for option in _options(node):
        props = option.get("properties", {})
        if part in props:
            out.append(props[part])
        elif "items" in option and isinstance(option["items"], Mapping):
            out.append(option["items"])
        elif isinstance(option.get("additionalProperties"), Mapping):
            out.append(option["additionalProperties"])
    return out


def _nodes_at(parts: Sequence[str]) -> list[Schema]:
    nodes: list[Schema] = [_schema()]
    for part in parts:
        nodes = [child for node in nodes for child in _children(node, str(part))]
    return nodes


def allowed_keys(parts: Sequence[str | int]) -> list[str]:
    """The keys a scenario may give in the mapping at ``parts`` (empty if it is free-form).

    List indices in ``parts`` (numbers or item names) step into the list's items.
    """
    names: set[str] = set()
    for node in _nodes_at([str(p) for p in parts]):
        for option in _options(node):
            names |= set(option.get("properties", {}))
            keys = option.get("propertyNames", {})
            names |= set(_deref(keys).get("enum", []))
    return sorted(names)


def list_item_index(items: Sequence[Any], part: str) -> int | None:
    """The index of ``part`` in a list: a number, or the ``name`` of one of its items."""
    if part.isdigit():
        return int(part) if int(part) < len(items) else None
    for i, item in enumerate(items):
        if isinstance(item, Mapping) and item.get("name") == part:
            return i
    return None


def _resolve(key: str, data: Mapping[str, Any] | None) -> tuple[list[str], set[int]]:
    parts = key.split(".")
    node: Any = data
    out: list[str] = []
    items: set[int] = set()
    for position, part in enumerate(parts):
        if isinstance(node, list):
            index = list_item_index(node, part)
            item = node[index] if index is not None else None
            name = item.get("name") if isinstance(item, Mapping) else None
            out.append(str(name) if name else part)
            items.add(position)
            node = item
        else:
            out.append(part)
            node = node.get(part) if isinstance(node, Mapping) else None
    return out, items


def resolve_key(key: str, data: Mapping[str, Any] | None) -> list[str]:
    """The parts of ``key`` with list indices replaced by the items' names where they have one."""
    return _resolve(key, data)[0]


LEAF_WORDS = {
    "count": "number of {ctx}",
    "fte": "FTE of {ctx}",
    "every_days": "{ctx} every … days",
    "rate_per_year": "referrals per year",
    "growth_per_year": "growth of referrals per year",
    "act_probability": "{ctx}: chance the sergeant acts",
    "gap_threshold_days": "{ctx}: days without progress before a flag",
    "after_days": "{ctx}: days of absence before cases move",
    "max_cases_per_detective": "{ctx}: cases per detective at most",
    "annual_days": "annual leave days",
    "episodes_per_year": "{ctx}: episodes per year",
    "horizon_days": "simulated days",
    "hours_per_week": "hours per week of a full-time detective",
    "capacity": "{ctx}: cases handled at once",
}
"""How a key's last name reads, ``{ctx}`` standing for the names before it."""

_UNITS = (
    ("_days", "days"),
    ("_hours", "hours"),
    ("_per_year", "per year"),
    ("_per_week", "per week"),
)
_ROOTS = {"team", "cases", "policies", "leave"}


def _unit(leaf: str) -> str:
    if leaf == "count" or leaf.startswith("max_cases"):
        return "count"
    if leaf == "fte":
        return "FTE"
    if any(w in leaf for w in ("share", "probability", "growth")):
        return "fraction"
    for suffix, unit in _UNITS:
        if leaf.endswith(suffix) or leaf == suffix.strip("_"):
            return unit
    return ""


def _description(parts: Sequence[str]) -> str:
    for node in _nodes_at(parts):
        for option in [node, *_options(node)]:
            text = str(option.get("description", "")).strip()
            if text:
                return text.split(" (")[0].split(";")[0].split(", e.g.")[0]
    return ""


def key_label(key: str, data: Mapping[str, Any] | None = None, unit: bool = True) -> str:
    """A dotted key in words, for axes and table headers.

    Args:
        data: the scenario (as a mapping) the key applies to; list indices are shown by the
            items' names when given.
        unit: add the unit in brackets when it is known from the key.
    """
    parts, items = _resolve(key, data)
    leaf = parts[-1]
    context = " ".join(
        p if i in items else p.replace("_", " ")
        for i, p in enumerate(parts[:-1])
        if p not in _ROOTS and not (i in items and p.isdigit())
    )
    template = LEAF_WORDS.get(leaf)
    if template is None:
        text = _description([p if not p.isdigit() else "0" for p in parts])
        if not text or len(text) > 60:
            text = leaf.replace("_", " ")
        template = "{ctx}: " + text
    if not context:
        template = template.replace("{ctx}: ", "").replace(" of {ctx}", "")
    label = template.replace("{ctx}", context).strip()
    unit_text = _unit(leaf)
    shown = unit_text.split()[-1] if unit_text else ""
    if unit and unit_text and unit_text != "count" and shown not in label:
        label += f" ({unit_text})"
    return label

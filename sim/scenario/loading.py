"""Scenario files: YAML reading, ``extends`` inheritance, dotted overrides, and the hash.

A scenario is YAML, loaded by a ``yaml.SafeLoader`` (no tag can construct a Python object; a key
given twice in one mapping is an error) and validated by the frozen models of
:mod:`sim.scenario.schema`.

``extends: parent.yaml`` (a path relative to the file) merges the parent under the child:
mappings merge key by key, anything else (lists included) is replaced by the child's value.
``--set dotted.key=value`` overrides are applied after inheritance and type-checked like the file;
a list item is addressed by its ``name`` or its index (``team.detectives.dc_pt.fte=0.6``).
An unknown key, rule or distribution gets "did you mean"; a share, probability or growth above 1
gets a hint that it is a fraction, not a percentage.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import (
    ValidationError,
)

from sim.domain.distributions import Distribution
from sim.domain.names import did_you_mean, percent_hint
from sim.scenario.keys import allowed_keys, list_item_index
from sim.scenario.plugins import plugin_path
from sim.scenario.reading import (
    MAX_EXTENDS_DEPTH,
    check_keys,
    check_yaml_shape,
    read_regular_file,
)
from sim.scenario.schema import Scenario, ScenarioError

__all__ = [
    "DIST_NAMES",
    "apply_overrides",
    "load_scenario",
    "scenario_dump",
    "scenario_from_dict",
    "scenario_hash",
    "validate_mapping",
]


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping.

    Plain YAML keeps the last of two equal keys, so a second ``policies:`` block would silently
    discard the first.
    """


def _construct_unique_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # "<<: *anchor" keys may be overridden on purpose
        key = loader.construct_object(key_node)
        try:
            duplicate = key in seen
        except TypeError:  # an unhashable key: SafeLoader reports it below
            continue
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_unique_mapping,
)
# YAML 1.1 reads 1e9 (no dot) as text; numbers are strictly typed, so read it as YAML 1.2 does.
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _read_yaml(path: Path, shown: str) -> dict[str, Any]:
    raw = read_regular_file(path, shown)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ScenarioError([f"{shown}: not UTF-8 text (byte {error.start})"]) from None
    check_yaml_shape(text, shown)
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader: no Python objects
    except yaml.YAMLError as error:
        where = ""
        mark = getattr(error, "problem_mark", None)
        if mark is not None:
            where = f" (line {mark.line + 1}, column {mark.column + 1})"
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ScenarioError([f"{shown}: invalid YAML{where}: {problem}"]) from None
    except (ValueError, OverflowError) as error:  # e.g. an integer of thousands of digits
        raise ScenarioError([f"{shown}: invalid YAML: {_first_line(error)}"]) from None
    if data is None:
        raise ScenarioError([f"{shown}: the file is empty"])
    if not isinstance(data, dict):
        raise ScenarioError([f"{shown}: a scenario must be a mapping, not a {type(data).__name__}"])
    return data


def _first_line(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:200]


def _short(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:57] + "...")


def _merge(base: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in child.items():
        parent = out.get(key)
        if (
            isinstance(value, Mapping)
            and isinstance(parent, Mapping)
            # A policy whose rule changes starts afresh: the parent rule's parameters need not
            # exist for the child's rule.
            and ("rule" not in value or value.get("rule") == parent.get("rule"))
            and ("dist" not in value or value.get("dist") == parent.get("dist"))
        ):
            out[key] = _merge(parent, value)
        else:
            out[key] = value
    return out


def _resolve(path: Path, shown: str, stack: tuple[Path, ...]) -> dict[str, Any]:
    try:
        real = path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop, before Python 3.13
        raise ScenarioError([f"{shown}: symbolic link loop"]) from None
    if real in stack:
        chain = " -> ".join(p.name for p in (*stack, real))
        raise ScenarioError([f"{shown}: extends: cycle {chain}"])
    data = _read_yaml(path, shown)
    check_keys(data, shown)  # scenario keys are text (a decision space's costs may not be)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str) or not parent.strip() or "\0" in parent:
        raise ScenarioError([f"{shown}: extends: must be a file name"])
    if len(stack) + 1 >= MAX_EXTENDS_DEPTH:
        raise ScenarioError(
            [f"{shown}: extends: more than {MAX_EXTENDS_DEPTH} files in the chain of extends"]
        )
    parent_path = path.parent / parent
    if not os.path.lexists(parent_path):
        raise ScenarioError([f"{shown}: extends: file not found: {parent}"])
    read_regular_file(parent_path, f"{shown}: extends: {parent}")  # a FIFO, device, loop ...
    base = _resolve(parent_path, str(parent_path), (*stack, real))
    return _merge(base, data)


def apply_overrides(data: dict[str, Any], overrides: Iterable[str], shown: str) -> dict[str, Any]:
    """Apply ``key.path=value`` strings (values read as YAML scalars) to a raw scenario mapping."""
    out = json.loads(json.dumps(data, default=str)) if data else {}
    problems: list[str] = []
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(f"{shown}: --set {item}: expected key.path=value")
            continue
        try:
            check_yaml_shape(text, f"{shown}: --set {key}")
        except ScenarioError as error:
            problems.extend(error.problems)
            continue
        try:
            value = yaml.load(text, Loader=_StrictLoader) if text.strip() else None
            check_keys(value, shown, key)
        except ScenarioError as error:
            problems.extend(error.problems)
            continue
        except yaml.YAMLError:
            problems.append(f"{shown}: {key}: value {_short(text)} is not valid YAML")
            continue
        except (ValueError, OverflowError) as error:
            problems.append(f"{shown}: {key}: value {_short(text)}: {_first_line(error)}")
            continue
        node: Any = out
        parts = key.split(".")
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                index = list_item_index(node, part)
                if index is None:
                    problems.append(f"{shown}: {key}: {_no_item(node, part, parts[:i])}")
                    break
                if last:
                    node[index] = value
                else:
                    node = node[index]
            elif isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    if node.get(part) is None:
                        node[part] = {}
                    elif not isinstance(node[part], dict | list):
                        # Replacing the value by a mapping would silently drop it.
                        where = ".".join(parts[: i + 1])
                        problems.append(
                            f"{shown}: {key}: {where} is a value ({node[part]!r}), not a mapping;"
                            f" set {where} to a whole mapping instead"
                        )
                        break
                    node = node[part]
            else:
                problems.append(f"{shown}: {key}: {'.'.join(parts[:i])} is not a mapping")
                break
    if problems:
        raise ScenarioError(problems)
    return out


def _no_item(items: list[Any], part: str, where: Sequence[str]) -> str:
    """Why ``part`` names no item of the list at ``where``, with the names it could be."""
    names = [str(x["name"]) for x in items if isinstance(x, Mapping) and "name" in x]
    known = (
        f"items: {', '.join(names)} (or 0 to {len(items) - 1})"
        if names
        else (f"items 0 to {len(items) - 1}" if items else "the list is empty")
    )
    return f"no item {part} in {'.'.join(where)};{did_you_mean(part, names)} {known}"


def _format_loc(loc: Sequence[int | str]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


DIST_NAMES: tuple[str, ...] = tuple(
    get_args(model.model_fields["dist"].annotation)[0]
    for model in get_args(get_args(Distribution)[0])
)
"""The ``dist`` names a scenario may use (``exponential``, ``lognormal``, ...)."""

_DIST_KEYS: dict[str, list[str]] = {
    get_args(model.model_fields["dist"].annotation)[0]: sorted(
        field.alias or name for name, field in model.model_fields.items()
    )
    for model in get_args(get_args(Distribution)[0])
}


def _allowed_at(data: Any, parts: Sequence[int | str]) -> list[str]:
    """The keys allowed in the mapping at ``parts``: a distribution's own when it names one."""
    node = data
    for part in parts:
        if isinstance(node, list) and str(part).isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, Mapping):
            node = node.get(str(part))
        else:
            node = None
    if isinstance(node, Mapping) and node.get("dist") in _DIST_KEYS:
        return _DIST_KEYS[str(node["dist"])]
    return allowed_keys([str(p) for p in parts])


# Union tags pydantic puts into error locations; they are not keys a scenario file contains.
_UNION_TAGS = frozenset(DIST_NAMES) | {"dist", "per_grade"}
# A model validator names the field it checks by starting its message with "field: ".
_LEADING_FIELD = re.compile(r"^([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)*): (.+)$")
# Scenario keys are snake_case; pydantic labels the members of a plain union with type names
# ("constrained-int", "Sergeants", "function-after[...]"), or with bare ones such as "int".
_SCENARIO_KEY = re.compile(r"^[a-z_][a-z0-9_]*$")
_BARE_TYPES = frozenset({"int", "float", "str", "bool", "none", "list", "dict"})
_MAPPING_NOISE = re.compile(
    r"valid dictionary or (?:instance of \w+|object to extract fields from)"
)


def _is_union_label(part: int | str) -> bool:
    return isinstance(part, str) and (not _SCENARIO_KEY.match(part) or part in _BARE_TYPES)


def _problem(e: Mapping[str, Any], data: Any = None) -> tuple[str, str, str | None]:
    """(dotted field, message, the union's field if from a union member) of a pydantic error."""
    loc = [p for p in e["loc"] if p != "[key]"]
    # Tags appear after the field holding the union; a dist name is never a scenario key.
    loc = [p for i, p in enumerate(loc) if not (p in _UNION_TAGS and i > 0)]
    labels = [i for i, p in enumerate(loc) if _is_union_label(p)]
    union = _format_loc([p for p in loc[: labels[0]]]) if labels else None
    loc = [p for p in loc if not _is_union_label(p)]
    message = str(e["msg"]).removeprefix("Value error, ")
    message = _MAPPING_NOISE.sub("mapping", message)
    if e["type"] == "extra_forbidden" and loc:
        allowed = _allowed_at(data, loc[:-1])
        hint = did_you_mean(str(loc[-1]), allowed)
        message = f"unknown key, not permitted here;{hint}"
        if allowed:
            message += f" allowed keys: {', '.join(allowed)}"
    elif e["type"] == "union_tag_invalid":
        tag = e.get("ctx", {}).get("tag")
        loc.append("dist")
        hint = did_you_mean(str(tag), DIST_NAMES)
        message = f"unknown distribution {tag!r};{hint} known: {', '.join(DIST_NAMES)}"
    elif e["type"] == "union_tag_not_found":
        message = f"a distribution needs 'dist' (one of {', '.join(DIST_NAMES)})"
    elif "[key]" in e["loc"]:
        expected = re.findall(r"'([a-z_]+)'", message)
        hint = did_you_mean(str(e.get("input")), expected) if expected else ""
        message = f"not an allowed key:{hint} {message}"
    elif e["type"] == "value_error" and (match := _LEADING_FIELD.match(message)):
        loc.extend(match.group(1).split("."))
        message = match.group(2)
    else:
        message += percent_hint(_format_loc(loc), e.get("input"))
    return _format_loc(loc), message, union


def validate_mapping(data: Mapping[str, Any], shown: str) -> Scenario:
    """Validate a raw mapping, turning pydantic's errors into one line per problem.

    Unions make pydantic report one problem once per member. When one member got inside the
    value (a mapping given to ``int | Sergeants`` with a bad key), the other members' "wrong
    type" reports are noise and dropped; a value that fits no member at all gets one line
    listing what each member wanted; otherwise only the first report of each field is kept.
    """
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        found = [_problem(e, data) for e in error.errors(include_url=False)]
        entered = {union for field, _, union in found if union is not None and field != union}
        problems: dict[str, list[str]] = {}
        for field, message, union in found:
            if union in entered and field == union:
                continue
            seen = problems.setdefault(field, [])
            if not seen or (union is not None and message not in seen):
                seen.append(message)
        lines = [f"{shown}: {f}: {'; or '.join(m)}" for f, m in problems.items()]
        raise ScenarioError(lines) from None


def load_scenario(path: str | Path, overrides: Iterable[str] = ()) -> Scenario:
    """Read, inherit, override and validate a scenario file.

    Raises:
        ScenarioError: with one line per problem, each naming the file and the dotted field.
    """
    path = Path(path)
    shown = str(path)
    data = _resolve(path, shown, ())
    data = apply_overrides(data, overrides, shown)
    plugins = data.get("plugins")
    if isinstance(plugins, list):
        # A plugin file is named relative to the scenario file; it is loaded from that file
        # alone, and the scenario's folder is never put on the import path.
        data["plugins"] = [plugin_path(p, path.parent) for p in plugins]
    return validate_mapping(data, shown)


def scenario_from_dict(
    data: Mapping[str, Any], overrides: Iterable[str] = (), source: str = "<dict>"
) -> Scenario:
    """Validate a scenario given as a mapping (as a YAML file would parse), with overrides.

    ``extends:`` needs a file to be relative to and is not followed here. ``source`` is how
    problems name the mapping.

    Raises:
        ScenarioError: with one line per problem, each naming ``source`` and the dotted field.
    """
    if "extends" in data:
        raise ScenarioError([f"{source}: extends: only a scenario file can extend another"])
    return validate_mapping(apply_overrides(dict(data), overrides, source), source)


def scenario_dump(scenario: Scenario) -> dict[str, Any]:
    """The resolved scenario as plain JSON-able data, spelled as in scenario files."""
    return scenario.model_dump(mode="json", by_alias=True)


def scenario_hash(scenario: Scenario, *, runs: bool = True) -> str:
    """SHA-256 of the resolved scenario; ``runs=False`` leaves out ``replications`` and ``seed``.

    The hash without runs identifies the model itself, so that a sweep can recognise a design
    point whatever the number of replications asked for.
    """
    data = scenario_dump(scenario)
    if data.get("start_date") is None:
        # Optional keys added later are left out when unset, so that older hashes stay valid.
        data.pop("start_date", None)
    if not runs:
        data.pop("replications", None)
        data.pop("seed", None)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

"""A scenario mapping written as a commented YAML file (the output of ``calibrate``).

Comments are keyed by dotted path (``cases.stages.1``) and written on the lines above the key;
distributions and small mappings are written inline (``{dist: gamma, mean: 60, sd: 30}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

__all__ = ["commented_yaml"]


def _inline(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000)
    return text.strip().removesuffix("...").strip()


def _leaf(value: Any) -> bool:
    if isinstance(value, Mapping):
        return "dist" in value or all(not isinstance(v, Mapping | list) for v in value.values())
    return not isinstance(value, list)


def _emit(
    data: Mapping[str, Any], path: str, indent: int, comments: Mapping[str, str], lines: list[str]
) -> None:
    pad = " " * indent
    for key, value in data.items():
        dotted = f"{path}.{key}" if path else str(key)
        if dotted in comments:
            lines += [f"{pad}# {line}" for line in comments[dotted].splitlines()]
        if _leaf(value):
            for sub in comments:
                if sub.startswith(dotted + ".") and isinstance(value, Mapping):
                    for line in comments[sub].splitlines():
                        lines.append(f"{pad}# {sub.removeprefix(dotted + '.')}: {line}")
            lines.append(f"{pad}{key}: {_inline(value)}")
        elif isinstance(value, list):
            lines.append(f"{pad}{key}:")
            for i, item in enumerate(value):
                item_path = f"{dotted}.{i}"
                if item_path in comments:
                    lines += [f"{pad}  # {line}" for line in comments[item_path].splitlines()]
                if isinstance(item, Mapping) and not _leaf(item):
                    first = True
                    for k, v in item.items():
                        lead = f"{pad}  - " if first else f"{pad}    "
                        first = False
                        if _leaf(v):
                            lines.append(f"{lead}{k}: {_inline(v)}")
                        else:
                            lines.append(f"{lead}{k}:")
                            _emit(v, f"{item_path}.{k}", indent + 6, comments, lines)
                else:
                    lines.append(f"{pad}  - {_inline(item)}")
        else:
            lines.append(f"{pad}{key}:")
            _emit(value, dotted, indent + 2, comments, lines)


def commented_yaml(data: Mapping[str, Any], comments: Mapping[str, str], header: str = "") -> str:
    """``data`` as YAML with ``comments`` (dotted path → text) above the keys they name."""
    lines = [f"# {line}" for line in header.splitlines()]
    _emit(data, "", 0, comments, lines)
    return "\n".join(lines) + "\n"

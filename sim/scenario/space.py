"""Decision spaces (``space.yaml``, ``polit-sim optimise``): levers, their costs, the constraints.

The format is SPEC's "Decision spaces". A lever is a scenario key (dotted, as ``--set`` takes)
with its allowed values (a list, or ``{from, to, step}``) and a cost: ``cost_per_unit`` (cost =
value × cost_per_unit; a null value costs 0) or ``cost`` (one cost per value). ``better``
declares monotonicity: ``higher`` (no constraint gets worse as the value rises), ``lower`` (as
it falls) or ``listed`` (the values are listed from worst to best; lets a null come first, e.g.
no reviews, then reviews every 56, 28, 14 days). Constraints are ``{metric: {max: x, min: y}}``
on metric means, as a scenario's ``expect:``; by default the scenario's own ``expect:``.

:func:`load_space` validates the file like a scenario file (unknown keys rejected, one line per
problem naming the file and the dotted field) and also each lever value against the scenario.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from sim.scenario.loading import _read_yaml, apply_overrides, scenario_dump, validate_mapping
from sim.scenario.schema import Scenario, ScenarioError, Threshold, _check_expect

__all__ = ["Lever", "Space", "ValueRange", "load_space", "parse_space"]

_LEADING_FIELD = re.compile(r"^([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)*): (.+)$")

Value = int | float | str | bool | None
MAX_POINTS = 1_000_000
"""Spaces larger than this are refused (the candidates' costs are enumerated, not simulated)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ValueRange(_Model):
    """``{from, to, step}``: from, from + step, ... up to ``to`` (included when on the grid)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    start: float = Field(alias="from", description="first value")
    to: float = Field(description="last value (included when on the grid)")
    step: float = Field(1.0, gt=0, description="spacing of the values")

    @model_validator(mode="after")
    def _ordered(self) -> ValueRange:
        if self.to < self.start:
            raise ValueError(f"to: {self.to:g} is below from {self.start:g}")
        if (self.to - self.start) / self.step > 10_000:
            raise ValueError("step: more than 10,000 values")
        return self

    def expand(self) -> list[Value]:
        """The values; integers when ``from`` and ``step`` are integers."""
        count = math.floor((self.to - self.start) / self.step + 1e-9) + 1
        values = [self.start + i * self.step for i in range(count)]
        if float(self.start).is_integer() and float(self.step).is_integer():
            return [round(v) for v in values]
        return [round(v, 12) for v in values]


def _no_repeats(values: list[Value]) -> list[Value]:
    seen: list[Value] = []
    for v in values:
        if v in seen and type(v) is type(seen[seen.index(v)]):
            raise ValueError(f"{_shown(v)} is listed twice")
        seen.append(v)
    if not values:
        raise ValueError("give at least one value")
    return values


class Lever(_Model):
    """One scenario key the search may change, its allowed values and their cost."""

    key: str = Field(min_length=1, description="dotted scenario key, as --set takes")
    values: Annotated[list[Value], AfterValidator(_no_repeats)] | ValueRange = Field(
        description="allowed values: a list, or {from, to, step}"
    )
    cost_per_unit: float | None = Field(None, description="cost = value × cost_per_unit")
    cost: dict[Value, float] | None = Field(None, description="a cost per value")
    better: Literal["higher", "lower", "listed"] | None = Field(
        None,
        description="monotonicity: no constraint gets worse as the value rises (higher), falls "
        "(lower), or moves along the list (listed: values from worst to best)",
    )

    @model_validator(mode="after")
    def _costed(self) -> Lever:
        values = self.value_list()
        if (self.cost_per_unit is None) == (self.cost is None):
            raise ValueError("cost_per_unit: give cost_per_unit or cost (one cost per value)")
        if self.cost_per_unit is not None:
            bad = [v for v in values if v is not None and not _is_number(v)]
            if bad:
                raise ValueError(f"cost_per_unit: value {bad[0]!r} is not a number; use cost")
        if self.cost is not None:
            missing = [v for v in values if v not in self.cost]
            extra = [v for v in self.cost if v not in values]
            if missing:
                raise ValueError(f"cost: no cost for value {_shown(missing[0])}")
            if extra:
                raise ValueError(f"cost: {_shown(extra[0])} is not one of the values")
        if self.better in ("higher", "lower"):
            words = [v for v in values if not _is_number(v)]
            if words:
                raise ValueError(
                    f"better: {self.better} needs numbers; {_shown(words[0])} is not one "
                    "(list the values from worst to best and use better: listed)"
                )
        return self

    def value_list(self) -> list[Value]:
        """The allowed values, in the order given (ranges expanded)."""
        if isinstance(self.values, ValueRange):
            return self.values.expand()
        return list(self.values)

    def cost_of(self, value: Value) -> float:
        """The cost of setting the lever to ``value``."""
        if self.cost is not None:
            return float(self.cost[value])
        assert self.cost_per_unit is not None
        return 0.0 if value is None else float(value) * self.cost_per_unit

    def ordered(self) -> list[Value]:
        """The values from worst to best when ``better`` is declared, else as given."""
        values = self.value_list()
        if self.better == "higher":
            return sorted(values, key=float)  # type: ignore[arg-type]
        if self.better == "lower":
            return sorted(values, key=float, reverse=True)  # type: ignore[arg-type]
        return values


def _shown(value: Any) -> str:
    """A value as a YAML file spells it (null, true, 28, 'text')."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


class Space(_Model):
    """A decision space: levers, the constraints to meet and the confidence to meet them with."""

    levers: list[Lever] = Field(min_length=1, description="the scenario keys the search changes")
    constraints: Annotated[dict[str, Threshold], AfterValidator(_check_expect)] | None = Field(
        None, description="thresholds on metric means; default: the scenario's expect:"
    )
    confidence: float = Field(
        0.95, gt=0.5, lt=1.0, description="chance that the recommendation meets every constraint"
    )

    @model_validator(mode="after")
    def _distinct(self) -> Space:
        keys = [lever.key for lever in self.levers]
        for i, key in enumerate(keys):
            if key in keys[:i]:
                raise ValueError(f"levers.{i}.key: {key} is already a lever")
        size = math.prod(len(lever.value_list()) for lever in self.levers)
        if size > MAX_POINTS:
            raise ValueError(f"levers: {size} configurations; at most {MAX_POINTS:,}")
        return self

    def size(self) -> int:
        """The number of configurations."""
        return math.prod(len(lever.value_list()) for lever in self.levers)


def _format_loc(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("list[union[int,float,str,bool,none]]", "[key]")]
    parts = [p for p in parts if not p.startswith(("function-after", "ValueRange"))]
    return ".".join(parts) or "(top level)"


def parse_space(data: Any, base: Scenario, shown: str) -> tuple[Space, dict[str, Threshold]]:
    """Validate a decision space (as parsed YAML) against the scenario it searches.

    Returns:
        The space and the constraints in force (the file's, else the scenario's ``expect:``).

    Raises:
        ScenarioError: one line per problem, naming ``shown`` and the dotted field.
    """
    if not isinstance(data, Mapping):
        raise ScenarioError([f"{shown}: a decision space must be a mapping"])
    try:
        space = Space.model_validate(data)
    except ValidationError as error:
        found: dict[str, str] = {}
        for e in error.errors(include_url=False):
            message = str(e["msg"]).removeprefix("Value error, ")
            where = _format_loc(e["loc"])
            if e["type"] == "extra_forbidden":
                message = "not an allowed key"
            elif e["type"] == "value_error" and (match := _LEADING_FIELD.match(message)):
                field, message = match.group(1), match.group(2)
                where = field if field.startswith("levers.") else f"{where}.{field}"
                where = where.removeprefix("(top level).")
            found.setdefault(where, message)
        # A union reports each member; when one member got inside the value (a range with a bad
        # bound), the other's "should be a list" is noise.
        lines = [
            f"{shown}: {where}: {message}"
            for where, message in found.items()
            if not any(other.startswith(where + ".") for other in found)
        ]
        raise ScenarioError(lines) from None
    constraints = dict(space.constraints) if space.constraints is not None else dict(base.expect)
    problems: list[str] = []
    if not constraints:
        problems.append(f"{shown}: constraints: none given and the scenario has no expect:")
    dumped = scenario_dump(base)
    for i, lever in enumerate(space.levers):
        for value in lever.value_list():
            try:
                validate_mapping(apply_overrides(dumped, [_override(lever.key, value)], shown), "")
            except ScenarioError as error:
                reason = error.problems[0].removeprefix(": ").removeprefix(f"{shown}: ")
                problems.append(f"{shown}: levers.{i}.values: {_shown(value)}: {reason}")
                break
    if problems:
        raise ScenarioError(problems)
    return space, constraints


def _override(key: str, value: Value) -> str:
    """A ``--set`` item for ``key=value`` (floats in full, null as YAML null)."""
    if value is None:
        return f"{key}=null"
    if isinstance(value, bool):
        return f"{key}={'true' if value else 'false'}"
    return f"{key}={value!r}" if isinstance(value, float) else f"{key}={value}"


def load_space(path: str | Path, base: Scenario) -> tuple[Space, dict[str, Threshold]]:
    """Read and validate ``space.yaml`` for the scenario ``base`` (see :func:`parse_space`).

    Raises:
        ScenarioError: one line per problem, naming the file and the dotted field.
    """
    shown = str(path)
    try:
        data = _read_yaml(Path(path), shown)
    except ScenarioError as error:
        lines = [
            p.replace("a scenario must be", "a decision space must be") for p in error.problems
        ]
        raise ScenarioError(lines) from None
    return parse_space(data, base, shown)


def lever_override(key: str, value: Value) -> str:
    """The ``--set`` item that gives lever ``key`` the value ``value``."""
    return _override(key, value)


__all__ += ["lever_override"]

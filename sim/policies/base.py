"""Policy registries, the protocols policies follow, and the read-only view they get.

A policy decides, the engine acts: a policy receives a read-only :class:`TeamView` and its own
random stream, and returns a decision. It never touches the SimPy environment nor mutates a case
or a detective. Policies are frozen dataclasses whose fields are their parameters; a registry
builds them from a scenario's ``{rule: name, param: value, ...}`` mapping, type-checking the
parameters and rejecting unknown ones.

A planner adds a rule in their own module without editing the engine::

    from dataclasses import dataclass
    from sim.policies import ALLOCATION

    @ALLOCATION.register("most_experienced")
    @dataclass(frozen=True)
    class MostExperienced:
        def choose(self, case, team, rng): ...
        def pull_limit(self, detective): return 0

and lists the module under ``plugins:`` in the scenario file.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError, create_model

from sim.domain.entities import Detective
from sim.domain.names import did_you_mean, percent_hint

__all__ = ["Registry", "TeamView"]

T = TypeVar("T")


class TeamView(Protocol):
    """What a policy may see of the team: read it, never change it."""

    @property
    def now(self) -> float:
        """The current time (days)."""
        ...

    @property
    def detectives(self) -> Sequence[Detective]:
        """Every detective, present or not, in scenario order."""
        ...

    def present(self) -> Sequence[Detective]:
        """The detectives at work now, in scenario order."""
        ...

    def least_loaded(self, *, per_fte: bool = True, relief: bool = True) -> Detective | None:
        """The present detective :func:`sim.policies.allocation.least_loaded` would pick.

        The one with the fewest open cases per FTE (per head without ``per_fte``), capacity
        reduced by wellbeing relief unless ``relief`` is false; ties go to the first in scenario
        order. The engine answers from an index rather than by scanning the team.
        """
        ...

    def by_name(self, name: str) -> Detective | None:
        """The detective called ``name``, if there is one."""
        ...


class Registry(Generic[T]):
    """Named policy classes of one kind (allocation, work order, ...).

    Args:
        kind: what the policies decide, used in error messages (``"allocation"``).
        default: the rule used when a scenario's mapping names none.
    """

    def __init__(self, kind: str, default: str | None = None) -> None:
        self.kind = kind
        self.default = default
        self._rules: dict[str, type] = {}

    def register(self, name: str) -> Callable[[type[Any]], type[Any]]:
        """Class decorator registering a frozen dataclass under ``name`` (snake_case)."""

        def decorate(cls: type[Any]) -> type[Any]:
            if not dataclasses.is_dataclass(cls):
                raise TypeError(f"{cls.__name__} must be a dataclass to be a {self.kind} policy")
            if name in self._rules and self._rules[name] is not cls:
                raise ValueError(f"{self.kind} rule {name!r} is already registered")
            self._rules[name] = cls
            return cls

        return decorate

    def names(self) -> list[str]:
        """The registered rule names, sorted."""
        return sorted(self._rules)

    def get(self, name: str) -> type:
        """The class registered under ``name``."""
        try:
            return self._rules[name]
        except KeyError:
            known = ", ".join(self.names())
            hint = did_you_mean(name, self.names())
            raise ValueError(
                f"unknown {self.kind} rule {name!r};{hint} known rules: {known}"
            ) from None

    def parameters(self, name: str) -> dict[str, Any]:
        """The parameters of rule ``name`` with their defaults (``...`` when required)."""
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self.get(name)):
            if field.default is not dataclasses.MISSING:
                out[field.name] = field.default
            elif field.default_factory is not dataclasses.MISSING:
                out[field.name] = field.default_factory()
            else:
                out[field.name] = ...
        return out

    def build(self, spec: Mapping[str, Any]) -> T:
        """Construct the policy a scenario mapping describes.

        Raises:
            ValueError: unknown rule, unknown parameter, or a parameter of the wrong type or range;
                the message names the parameter.
        """
        params = dict(spec)
        name = params.pop("rule", self.default)
        if name is None:
            raise ValueError(f"a {self.kind} policy needs a 'rule'")
        cls = self.get(str(name))
        allowed = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(params) - allowed)
        if unknown:
            hint = did_you_mean(unknown[0], allowed)
            raise ValueError(
                f"unknown parameter {unknown[0]!r} for {self.kind} rule {name!r};{hint} "
                f"parameters: {', '.join(sorted(allowed)) or 'none'}"
            )
        try:
            # Strict first (no `yes` for a number, no '120' for 120), then build the dataclass.
            _strict_parameters(cls).validate_python(params)
            policy: T = _adapter(cls).validate_python(params)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or name}: {e['msg']}"
                + percent_hint(".".join(str(p) for p in e["loc"]), e.get("input"))
                for e in error.errors()
            )
            raise ValueError(f"{self.kind} rule {name!r}: {problems}") from None
        return policy


@functools.cache
def _adapter(cls: type) -> TypeAdapter[Any]:
    """The validator that builds ``cls`` (made once: building one costs milliseconds)."""
    return TypeAdapter(cls)


@functools.cache
def _strict_parameters(cls: type) -> TypeAdapter[Any]:
    """A strict validator of ``cls``'s parameters: types exactly as annotated, numbers as numbers.

    Pydantic's strict mode would refuse the mapping itself in place of a dataclass instance, so
    the parameters are checked as a model of their own.
    """
    hints = typing.get_type_hints(cls, include_extras=True)
    fields: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        if field.default is not dataclasses.MISSING:
            fields[field.name] = (hints[field.name], field.default)
        elif field.default_factory is not dataclasses.MISSING:
            fields[field.name] = (hints[field.name], Field(default_factory=field.default_factory))
        else:
            fields[field.name] = (hints[field.name], ...)
    model = create_model(
        f"{cls.__name__}Parameters",
        __config__=ConfigDict(strict=True, arbitrary_types_allowed=True),
        **fields,
    )
    return TypeAdapter(model)

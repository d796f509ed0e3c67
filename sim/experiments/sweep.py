"""Sweep designs: which scenarios a parameter sweep runs, and the runs they make.

A design is a list of points; a point gives a value to each swept parameter (a dotted scenario
key, as ``--set`` takes). Grids are full factorials; Latin hypercube and Sobol designs come from
:mod:`scipy.stats.qmc`, scaled to each parameter's range. A parameter whose base value is an
integer (``team.detectives.0.count``) is swept over integers: its continuous coordinate is
mapped onto ``lo..hi`` in equal-width bins, so every integer gets the same share of the design.

Each point is validated as a whole scenario. A run is one point and one replication; its
``run_id`` hashes the resolved scenario (less keys results do not depend on: ``replications``,
``seed``, ``expect``, ``description``) with the root seed and the
replication index, so a run is recognised whatever else the sweep holds. Every point uses the
same root seed and replication indices: points share common random numbers, and differences
between points are not blurred by differences in their random draws.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.stats import qmc

from sim.scenario import (
    Scenario,
    ScenarioError,
    apply_overrides,
    scenario_dump,
    validate_mapping,
)
from sim.scenario.keys import list_item_index

__all__ = [
    "Design",
    "Parameter",
    "Point",
    "RunSpec",
    "build_design",
    "design_runs",
    "model_key",
    "parse_grid",
    "parse_range",
    "resolve_points",
    "run_id",
    "run_id_of",
    "runs_of",
    "same_as",
]

DesignKind = Literal["single", "grid", "lhs", "sobol"]


@dataclass(frozen=True)
class Parameter:
    """One swept scenario key.

    Attributes:
        key: dotted scenario key, e.g. ``cases.arrivals.rate_per_year``.
        values: the grid's values (grid designs), else empty.
        low: lower bound of the range (sampled designs).
        high: upper bound of the range (sampled designs).
        integer: whether the parameter takes integer values only.
    """

    key: str
    values: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    integer: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-able description (for ``sweep.json``)."""
        return {
            "key": self.key,
            "values": list(self.values),
            "low": self.low,
            "high": self.high,
            "integer": self.integer,
        }


Point = dict[str, Any]


@dataclass(frozen=True)
class Design:
    """A sweep design: its kind, its parameters and its points (in run order)."""

    kind: DesignKind
    parameters: tuple[Parameter, ...]
    points: tuple[Point, ...]
    samples: int | None = None
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able description (for ``sweep.json``)."""
        return {
            "kind": self.kind,
            "samples": self.samples,
            "seed": self.seed,
            "parameters": [p.as_dict() for p in self.parameters],
            "points": [dict(p) for p in self.points],
        }


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: a design point's scenario and one replication index."""

    run_id: str
    point: int
    replication: int
    seed: int
    scenario: Scenario
    params: dict[str, Any]


def _lookup(data: Any, key: str) -> Any:
    """The value at a dotted key of a dumped scenario, or None when absent."""
    node = data
    for part in key.split("."):
        if isinstance(node, list) and (index := list_item_index(node, part)) is not None:
            node = node[index]  # by index or by the item's name
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def _is_int_text(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


NULL_TEXTS = ("null", "none", "~")
"""Grid values read as YAML's null (``--grid policies.workload_review.every_days=null,28``)."""


def parse_grid(item: str, shown: str = "--grid") -> tuple[str, list[Any]]:
    """``key=v1,v2,...`` into (key, values); values are read as numbers when they are numbers,
    and ``null`` as None.

    Raises:
        ScenarioError: when the item is malformed.
    """
    key, sep, text = item.partition("=")
    key = key.strip()
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not sep or not key or not values:
        raise ScenarioError([f"{shown} {item}: expected key=v1,v2,..."])
    out: list[Any] = []
    for v in values:
        if v.lower() in NULL_TEXTS:
            out.append(None)  # a key that may be switched off, e.g. no workload reviews
        elif _is_int_text(v):
            out.append(int(v))
        else:
            try:
                out.append(float(v))
            except ValueError:
                out.append(v)
    return key, out


def parse_range(item: str, shown: str = "--range") -> tuple[str, float, float, bool]:
    """``key=lo:hi`` into (key, lo, hi, both bounds written as integers).

    Raises:
        ScenarioError: when the item is malformed or ``lo >= hi``.
    """
    key, sep, text = item.partition("=")
    key = key.strip()
    lo_text, colon, hi_text = text.partition(":")
    try:
        lo, hi = float(lo_text), float(hi_text)
    except ValueError:
        raise ScenarioError([f"{shown} {item}: expected key=low:high (numbers)"]) from None
    if not sep or not key or not colon:
        raise ScenarioError([f"{shown} {item}: expected key=low:high"])
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
        raise ScenarioError([f"{shown} {item}: low must be below high"])
    return key, lo, hi, _is_int_text(lo_text.strip()) and _is_int_text(hi_text.strip())


def _scale(unit: np.ndarray, params: Sequence[Parameter]) -> list[Point]:
    """Map points of the unit cube onto the parameters' ranges (integers by equal-width bins)."""
    points: list[Point] = []
    for row in unit:
        point: Point = {}
        for u, p in zip(row, params, strict=True):
            assert p.low is not None and p.high is not None
            if p.integer:
                lo, hi = int(p.low), int(p.high)
                point[p.key] = min(hi, lo + math.floor(float(u) * (hi - lo + 1)))
            else:
                point[p.key] = float(p.low + u * (p.high - p.low))
        points.append(point)
    return points


def build_design(
    base: Scenario,
    *,
    grid: Iterable[str] = (),
    ranges: Iterable[str] = (),
    lhs: int | None = None,
    sobol: int | None = None,
    seed: int = 0,
) -> Design:
    """Build a design from command-line style specifications.

    Args:
        base: the scenario swept (its value at a key decides whether the key is an integer).
        grid: ``key=v1,v2,...`` items (a full factorial of all of them).
        ranges: ``key=lo:hi`` items, for ``lhs`` or ``sobol``.
        lhs: Latin hypercube sample size.
        sobol: Sobol base sample size N (a power of 2); the design holds Saltelli's
            N x (2k + 2) points, so first- and total-order indices can be estimated.
        seed: seed of the design's scrambling (not of the simulation).

    Raises:
        ScenarioError: with one line per problem in the specification.
    """
    grid, ranges = list(grid), list(ranges)
    problems: list[str] = []
    if lhs is not None and sobol is not None:
        problems.append("--lhs and --sobol: choose one design")
    sampled = lhs is not None or sobol is not None
    if sampled and not ranges:
        problems.append("--lhs/--sobol need at least one --range key=low:high")
    if ranges and not sampled:
        problems.append("--range needs --lhs N or --sobol N")
    if sampled and grid:
        problems.append("--grid cannot be combined with --lhs or --sobol")
    if sobol is not None and (sobol < 2 or sobol & (sobol - 1)):
        problems.append(f"--sobol {sobol}: must be a power of 2 (at least 2)")
    if lhs is not None and lhs < 1:
        problems.append(f"--lhs {lhs}: must be at least 1")
    dumped = scenario_dump(base)
    params: list[Parameter] = []
    for item in grid:
        try:
            key, values = parse_grid(item)
        except ScenarioError as error:
            problems.extend(error.problems)
            continue
        params.append(Parameter(key, values=tuple(values)))
    for item in ranges:
        try:
            key, lo, hi, int_text = parse_range(item)
        except ScenarioError as error:
            problems.extend(error.problems)
            continue
        current = _lookup(dumped, key)
        integer = isinstance(current, int) and not isinstance(current, bool)
        if current is None:
            integer = int_text
        if integer and not (lo.is_integer() and hi.is_integer()):
            problems.append(f"--range {item}: {key} is an integer; give integer bounds")
            continue
        params.append(Parameter(key, low=lo, high=hi, integer=integer))
    keys = [p.key for p in params]
    for key in sorted({k for k in keys if keys.count(k) > 1}):
        problems.append(f"{key}: swept twice")
    if problems:
        raise ScenarioError(problems)

    if lhs is not None:
        unit = qmc.LatinHypercube(d=len(params), seed=seed).random(lhs)
        return Design("lhs", tuple(params), tuple(_scale(unit, params)), lhs, seed)
    if sobol is not None:
        return _saltelli(params, sobol, seed)
    if params:
        combos = itertools.product(*(p.values for p in params))
        points = tuple(dict(zip(keys, combo, strict=True)) for combo in combos)
        return Design("grid", tuple(params), points)
    return Design("single", (), ({},))


def _saltelli(params: Sequence[Parameter], n: int, seed: int) -> Design:
    """Saltelli's scheme on a scrambled Sobol sequence: A, B, then AB_i, BA_i for each parameter.

    Rows are laid out as SALib's ``sobol.analyze(calc_second_order=True)`` expects, point by
    point: A, AB_1..AB_k, BA_1..BA_k, B.
    """
    k = len(params)
    base = qmc.Sobol(d=2 * k, scramble=True, seed=seed).random(n)
    a, b = base[:, :k], base[:, k:]
    rows: list[np.ndarray] = []
    for j in range(n):
        rows.append(a[j])
        for i in range(k):
            ab = a[j].copy()
            ab[i] = b[j, i]
            rows.append(ab)
        for i in range(k):
            ba = b[j].copy()
            ba[i] = a[j, i]
            rows.append(ba)
        rows.append(b[j])
    unit = np.vstack(rows)
    return Design("sobol", tuple(params), tuple(_scale(unit, params)), n, seed)


def _format(value: Any) -> str:
    if value is None:
        return "null"
    return repr(value) if isinstance(value, float) else str(value)


def resolve_points(base: Scenario, design: Design, shown: str) -> list[Scenario]:
    """Validate every design point as a whole scenario.

    Raises:
        ScenarioError: one line per distinct problem, naming the key (as ``--set`` does).
    """
    data = scenario_dump(base)
    problems: list[str] = []
    scenarios: list[Scenario] = []
    for point in design.points:
        overrides = [f"{k}={_format(v)}" for k, v in point.items()]
        try:
            scenarios.append(validate_mapping(apply_overrides(data, overrides, shown), shown))
        except ScenarioError as error:
            problems.extend(p for p in error.problems if p not in problems)
    if problems:
        raise ScenarioError(problems)
    return scenarios


RESULT_NEUTRAL = ("replications", "seed", "expect", "description")
"""Scenario keys a run's result does not depend on: left out of a run's identity."""


def model_key(scenario: Scenario) -> str:
    """SHA-256 of the resolved scenario less :data:`RESULT_NEUTRAL` keys.

    Like ``scenario_hash(scenario, runs=False)``, but thresholds (``expect:``) and the
    description are also left out, so that editing them does not make stored runs look new.
    """
    data = scenario_dump(scenario)
    for key in RESULT_NEUTRAL:
        data.pop(key, None)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def run_id(scenario: Scenario, seed: int, replication: int) -> str:
    """The identity of a run: the resolved scenario (see :func:`model_key`), seed, replication."""
    return run_id_of(model_key(scenario), seed, replication)


def run_id_of(key: str, seed: int, replication: int) -> str:
    """:func:`run_id` from a scenario's :func:`model_key` (as ``sweep.json`` lists them)."""
    text = f"{key}:{seed}:{replication}"
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:24]


def design_runs(
    point_keys: Sequence[str], seed: int, replications: int
) -> dict[str, tuple[int, int]]:
    """Every run of a design, ``run_id -> (point, replication)``, from its points' model keys.

    A point repeating an earlier point's scenario maps to that earlier point (as in
    :func:`runs_of`). This is how stored rows are matched to the current design: a folder
    resumed with another design keeps the runs of its former points, but reads only these.
    """
    first: dict[str, int] = {}
    out: dict[str, tuple[int, int]] = {}
    for index, key in enumerate(point_keys):
        if first.setdefault(key, index) != index:
            continue
        for r in range(replications):
            out[run_id_of(key, seed, r)] = (index, r)
    return out


def same_as(scenarios: Sequence[Scenario]) -> list[int]:
    """For each point, the first point with the identical resolved scenario (itself if none).

    Sampled designs with integer parameters (and grids given a value twice) repeat points; a
    repeated point's runs are the same runs, so they are run and stored once.
    """
    first: dict[str, int] = {}
    return [first.setdefault(model_key(s), i) for i, s in enumerate(scenarios)]


def runs_of(
    design: Design, scenarios: Sequence[Scenario], replications: int, seed: int
) -> list[RunSpec]:
    """The distinct runs of a design: each point with replications ``0..replications-1``.

    Every point uses the same root seed and replication indices. A point repeating an earlier
    point's scenario adds no runs (see :func:`same_as`).
    """
    canonical = same_as(scenarios)
    out: list[RunSpec] = []
    for index, (point, scenario) in enumerate(zip(design.points, scenarios, strict=True)):
        if canonical[index] != index:
            continue
        for r in range(replications):
            out.append(RunSpec(run_id(scenario, seed, r), index, r, seed, scenario, dict(point)))
    return out

"""The gate of ``sweep-report --fail-on``: does a stored sweep meet its thresholds?

A CI pipeline runs a sweep, then asks the gate. Every design point in scope is classed by
:func:`sim.analysis.region.target_region` (the same verdicts as the report's target region):

- ``--fail-on broken`` fails when some point in scope is *broken* (the whole 95% CI of a
  thresholded metric lies beyond its threshold);
- ``--fail-on uncertain`` fails when some point in scope is not *met* (broken, or its CI still
  straddles a threshold, or it has no stored run yet);
- ``--min-met-share X`` fails when less than the share X of the points in scope are met.

The scope is the whole design, or the points named by ``--point key=value,...`` (each item a set
of swept keys and values; a point is in scope when it matches some item on every key it names),
for instance today's staffing and review cadence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sim.analysis.region import (
    expand_points,
    parse_expect,
    point_summary,
    target_region,
)
from sim.experiments.store import SweepStore

__all__ = [
    "FailOn",
    "GateError",
    "GateResult",
    "PointVerdict",
    "ThresholdCheck",
    "evaluate_gate",
    "parse_point_option",
]

FailOn = Literal["broken", "uncertain"]


class GateError(ValueError):
    """Bad gate input: not a sweep folder, no thresholds, a ``--point`` matching nothing."""


@dataclass(frozen=True)
class ThresholdCheck:
    """One threshold at one design point."""

    metric: str
    side: str
    limit: float
    estimate: float
    ci_low: float
    ci_high: float
    verdict: str

    def describe(self) -> str:
        """``metric expected <= limit: estimate x, 95% CI [lo, hi]: verdict``."""
        sign = "<=" if self.side == "max" else ">="
        return (
            f"{self.metric} expected {sign} {self.limit:g}: estimate {self.estimate:.4g}, "
            f"95% CI [{self.ci_low:.4g}, {self.ci_high:.4g}]: {self.verdict}"
        )


@dataclass(frozen=True)
class PointVerdict:
    """A design point's verdict, its levers (the swept values) and its thresholds' checks."""

    point: int
    levers: dict[str, Any]
    verdict: str
    checks: tuple[ThresholdCheck, ...]
    stored: bool = True

    def describe(self) -> str:
        """One line: verdict, point, levers, then each threshold that is not met."""
        levers = ", ".join(f"{k}={_show(v)}" for k, v in self.levers.items()) or "no levers"
        if not self.stored:
            return f"{self.verdict}: point {self.point} ({levers}): no stored runs"
        failing = "; ".join(c.describe() for c in self.checks if c.verdict != "met")
        return f"{self.verdict}: point {self.point} ({levers}): {failing}"


@dataclass(frozen=True)
class GateResult:
    """The verdicts of the points in scope and whether the gate passes."""

    fail_on: FailOn | None
    min_met_share: float | None
    points: tuple[PointVerdict, ...]

    def count(self, verdict: str) -> int:
        """Points in scope with this verdict."""
        return sum(p.verdict == verdict for p in self.points)

    @property
    def met_share(self) -> float:
        """Share of the points in scope that meet every threshold."""
        return self.count("met") / len(self.points) if self.points else 0.0

    @property
    def failing(self) -> list[PointVerdict]:
        """The points that make ``--fail-on`` fail (broken; or, for uncertain, not met)."""
        if self.fail_on == "broken":
            return [p for p in self.points if p.verdict == "broken"]
        if self.fail_on == "uncertain":
            return [p for p in self.points if p.verdict != "met"]
        return []

    @property
    def share_too_low(self) -> bool:
        """Whether fewer points are met than ``--min-met-share`` asks."""
        return self.min_met_share is not None and self.met_share < self.min_met_share

    @property
    def passed(self) -> bool:
        """No failing point and enough points met."""
        return not self.failing and not self.share_too_low

    def summary(self) -> str:
        """One line: the gate, the scope's counts and share met, and the outcome."""
        rules = []
        if self.fail_on:
            rules.append(f"--fail-on {self.fail_on}")
        if self.min_met_share is not None:
            rules.append(f"--min-met-share {self.min_met_share:g}")
        counts = ", ".join(f"{self.count(v)} {v}" for v in ("met", "uncertain", "broken"))
        outcome = "passed" if self.passed else "FAILED"
        return (
            f"gate ({' '.join(rules)}): points in scope: {len(self.points)}: {counts}; "
            f"met share {self.met_share:.3g}: {outcome}"
        )


def _show(value: Any) -> str:
    return "null" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _value(text: str) -> Any:
    text = text.strip()
    if text.lower() in ("null", "none", "~"):
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def parse_point_option(item: str) -> dict[str, Any]:
    """``key=value,key=value`` (``--point``) into a mapping; numbers read as numbers.

    Raises:
        GateError: an item that is not of that shape.
    """
    out: dict[str, Any] = {}
    for pair in item.split(","):
        key, sep, text = pair.partition("=")
        if not sep or not key.strip() or not text.strip():
            raise GateError(f"--point {item}: expected key=value[,key=value...]")
        if key.strip() in out:
            raise GateError(f"--point {item}: {key.strip()} given twice")
        out[key.strip()] = _value(text)
    return out


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return str(a) == str(b)


def _in_scope(
    points: Sequence[Mapping[str, Any]],
    params: Sequence[str],
    selectors: Sequence[Mapping[str, Any]],
) -> list[int]:
    if not selectors:
        return list(range(len(points)))
    problems = []
    for selector in selectors:
        for key in selector:
            if key not in params:
                swept = ", ".join(params) or "none"
                problems.append(f"--point {key}: not a swept parameter (swept: {swept})")
    if problems:
        raise GateError("; ".join(problems))
    chosen: list[int] = []
    for selector in selectors:
        hits = [
            i
            for i, point in enumerate(points)
            if all(_same(point.get(k), v) for k, v in selector.items())
        ]
        if not hits:
            shown = ",".join(f"{k}={_show(v)}" for k, v in selector.items())
            raise GateError(f"--point {shown}: no design point has these values")
        chosen += [i for i in hits if i not in chosen]
    return sorted(chosen)


def evaluate_gate(
    folder: Path,
    *,
    expect: Mapping[str, Any] | None = None,
    fail_on: FailOn | None = None,
    selectors: Sequence[Mapping[str, Any]] = (),
    min_met_share: float | None = None,
) -> GateResult:
    """Class the design points of the sweep in ``folder`` and apply the gate's rules.

    Args:
        expect: thresholds to use instead of the swept scenario's ``expect:``.
        fail_on: ``broken`` or ``uncertain`` (see the module's docstring), or None.
        selectors: the ``--point`` items; empty for the whole design.
        min_met_share: the least share of points in scope that must be met, or None.

    Raises:
        GateError: not a sweep folder, no thresholds, or a selector that matches nothing.
        ThresholdError: malformed thresholds, or one naming no metric of the sweep.
    """
    if not (folder / "sweep.json").exists():
        raise GateError(f"{folder}: no sweep.json (not a sweep folder)")
    store = SweepStore(folder)
    info = store.sweep_info()
    design = info["design"]
    params = [p["key"] for p in design["parameters"]]
    points: list[dict[str, Any]] = design["points"]
    expect = expect or info.get("base_scenario", {}).get("expect")
    if not expect:
        raise GateError(
            f"{folder}: no thresholds to gate on: the scenario has no expect: and no --expect given"
        )
    thresholds = parse_expect(expect)
    scope = _in_scope(points, params, selectors)
    table = expand_points(store.table(), points, info.get("same_as"))
    rows: dict[int, dict[str, Any]] = {}
    if not table.empty:
        region = target_region(point_summary(table, params), params, thresholds)
        rows = {
            int(row["point"]): {str(k): v for k, v in row.items()}
            for row in region.to_dict("records")
        }
    verdicts: list[PointVerdict] = []
    for index in scope:
        levers = {k: points[index].get(k) for k in params}
        row = rows.get(index)
        if row is None:
            verdicts.append(PointVerdict(index, levers, "uncertain", (), stored=False))
            continue
        checks = tuple(
            ThresholdCheck(
                metric,
                side,
                float(limit),
                float(row[metric]),
                float(row[f"{metric}_ci_low"]),
                float(row[f"{metric}_ci_high"]),
                str(row[f"{metric}_{side}_verdict"]),
            )
            for metric, bounds in thresholds.items()
            for side, limit in bounds.items()
        )
        verdicts.append(PointVerdict(index, levers, str(row["verdict"]), checks))
    return GateResult(fail_on, min_met_share, tuple(verdicts))

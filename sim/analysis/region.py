"""A sweep's design points against thresholds: per-point intervals and met / broken / uncertain.

Used by both the report (``target_region.csv`` and its figure) and the gate of
``sweep-report --fail-on``, so that a point the report shows as broken is exactly a point the gate
fails on. A point is *met* when the whole 95% CI of every thresholded metric lies on the right
side of its threshold, *broken* when the whole CI of some metric lies on the wrong side, and
*uncertain* otherwise (more replications are needed to tell).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.statistics import is_indicator, mean_ci, proportion_ci
from sim.domain.names import did_you_mean

__all__ = [
    "NOT_METRICS",
    "VERDICTS",
    "ThresholdError",
    "expand_points",
    "metric_columns",
    "metric_interval",
    "parse_expect",
    "parse_expect_option",
    "point_summary",
    "target_region",
]

VERDICTS = ("met", "uncertain", "broken")
"""The classes of a design point, from best to worst."""

NOT_METRICS = {"run_id", "point", "replication"}


class ThresholdError(ValueError):
    """An ``expect:`` mapping or threshold option is malformed, or names no metric of the sweep."""


def metric_interval(metric: str, values: np.ndarray) -> tuple[float, ...]:
    """Mean, sd, 95% CI and n of a metric's values (Wilson for indicators, Student-t else)."""
    return (proportion_ci if is_indicator(metric) else mean_ci)(values)


def metric_columns(table: pd.DataFrame, params: Sequence[str]) -> list[str]:
    """The numeric columns of a sweep table that are metrics (not ids or parameters)."""
    return [
        c
        for c in table.columns
        if c not in NOT_METRICS and c not in params and pd.api.types.is_numeric_dtype(table[c])
    ]


def expand_points(
    table: pd.DataFrame, points: Sequence[Mapping[str, Any]], same: Sequence[int] | None
) -> pd.DataFrame:
    """Give every design point its rows: a point repeating an earlier one shares its runs."""
    if same is None or all(i == j for i, j in enumerate(same)):
        return table
    by_point = {p: g for p, g in table.groupby("point")}
    frames = []
    for index, first in enumerate(same):
        if first in by_point:
            frames.append(by_point[first].assign(point=index, **dict(points[index])))
    return pd.concat(frames, ignore_index=True)


def point_summary(table: pd.DataFrame, params: Sequence[str]) -> pd.DataFrame:
    """Mean and 95% CI of every metric at every design point (long format)."""
    rows: list[dict[str, Any]] = []
    for point, group in table.groupby("point", sort=True):
        fixed = {p: group[p].iloc[0] for p in params}
        for metric in metric_columns(table, params):
            mean, _, low, high, n = metric_interval(metric, group[metric].to_numpy(dtype=float))
            rows.append(
                {"point": point, **fixed, "metric": metric, "mean": mean}
                | {"ci_low": low, "ci_high": high, "n": int(n)}
            )
    return pd.DataFrame(rows)


def parse_expect_option(items: Sequence[str]) -> dict[str, dict[str, float]]:
    """``METRIC:max=X`` / ``METRIC:min=Y`` items (``--expect``) into an ``expect:`` mapping.

    Raises:
        ThresholdError: a malformed item.
    """
    out: dict[str, dict[str, float]] = {}
    for item in items:
        metric, _, bound = item.partition(":")
        side, _, value = bound.partition("=")
        try:
            out.setdefault(metric.strip(), {})[side.strip()] = float(value)
        except ValueError:
            raise ThresholdError(
                f"--expect {item}: expected METRIC:max=X or METRIC:min=Y"
            ) from None
        if side.strip() not in ("max", "min") or not metric.strip():
            raise ThresholdError(f"--expect {item}: expected METRIC:max=X or METRIC:min=Y")
    return out


def parse_expect(expect: Any) -> dict[str, dict[str, float]]:
    """Check an ``expect:`` mapping, ``{metric: {max: x, min: y}}``.

    Raises:
        ThresholdError: when it is not of that shape.
    """
    if not isinstance(expect, Mapping):
        raise ThresholdError("expect: must map metric names to {max: x} and/or {min: y}")
    out: dict[str, dict[str, float]] = {}
    for metric, bounds in expect.items():
        if not isinstance(bounds, Mapping) or not set(bounds) <= {"max", "min"} or not bounds:
            raise ThresholdError(f"expect.{metric}: give max and/or min")
        out[str(metric)] = {k: float(v) for k, v in bounds.items() if v is not None}
    return out


def classify(side: str, limit: float, low: float, high: float) -> str:
    """The verdict of one threshold on one interval: met, broken or uncertain.

    A NaN bound (an interval that cannot be computed, e.g. from one replication) never makes a
    verdict certain: the threshold is then uncertain.
    """
    sure = high <= limit if side == "max" else low >= limit
    never = low > limit if side == "max" else high < limit
    return "met" if sure else "broken" if never else "uncertain"


def target_region(
    points: pd.DataFrame, params: Sequence[str], expect: Mapping[str, Mapping[str, float]]
) -> pd.DataFrame:
    """Per design point: each expected metric's estimate and CI, each threshold's verdict, and
    the point's verdict (columns ``{metric}_{side}`` the limit, ``{metric}_{side}_verdict``,
    ``{metric}_{side}_met_by_mean``, ``verdict``).

    Raises:
        ThresholdError: a thresholded metric is not a metric of the sweep.
    """
    wide: list[dict[str, Any]] = []
    for point, group in points.groupby("point", sort=True):
        by_metric = group.set_index("metric")
        row: dict[str, Any] = {"point": point, **{p: group[p].iloc[0] for p in params}}
        verdicts: list[str] = []
        for metric, bounds in expect.items():
            if metric not in by_metric.index:
                hint = did_you_mean(metric, [str(m) for m in by_metric.index])
                raise ThresholdError(f"expect.{metric}: not a metric of this sweep;{hint}")
            estimate = by_metric.loc[metric, ["mean", "ci_low", "ci_high"]].to_numpy(dtype=float)
            mean, low, high = (float(v) for v in estimate)
            row |= {metric: mean, f"{metric}_ci_low": low, f"{metric}_ci_high": high}
            for side, limit in bounds.items():
                verdict = classify(side, limit, low, high)
                verdicts.append(verdict)
                row[f"{metric}_{side}"] = limit
                row[f"{metric}_{side}_verdict"] = verdict
                row[f"{metric}_{side}_met_by_mean"] = bool(
                    mean <= limit if side == "max" else mean >= limit
                )
        row["verdict"] = (
            "broken" if "broken" in verdicts else "met" if set(verdicts) == {"met"} else "uncertain"
        )
        wide.append(row)
    return pd.DataFrame(wide)

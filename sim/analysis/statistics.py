"""Records to tidy tables: per-case rows, per-replication metrics, intervals.

Nothing here runs a model or touches files. The definitions follow SPEC's output table; the
metric names are those ``expect:`` thresholds and sweeps refer to (see ``docs/outputs.md``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.domain.entities import Grade
from sim.engine.records import ReplicationRecords
from sim.scenario import Scenario

__all__ = [
    "NEGLECT_THRESHOLDS_DAYS",
    "cases_frame",
    "is_indicator",
    "mean_ci",
    "proportion_ci",
    "replication_metrics",
    "summarise",
    "wilson_interval",
]

NEGLECT_THRESHOLDS_DAYS: tuple[int, ...] = (90, 180, 365, 730)
"""Neglect thresholds of the headline metrics (days)."""

ANY_NEGLECT_THRESHOLDS_DAYS: tuple[int, ...] = (365, 600)
"""Thresholds of the 'at least one case' indicators (days)."""

GRADE_LABELS = [g.key for g in Grade]

CASE_COLUMNS = [
    "replication",
    "case_id",
    "grade",
    "arrival_day",
    "first_work_day",
    "wait_days",
    "closed_day",
    "longest_gap_days",
    "longest_neglect_days",
    "censored",
    "owner_changes",
    "target_met",
    "enforcement_day",
    "inherited",
    "owner",
    "neglect_holder",
    "worked_hours",
    "devices",
]


def _target_met(
    columns: dict[str, np.ndarray], horizon: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(met, known, due) per case.

    ``met``: enforcement came within the target; ``known``: whether it was met is settled at the
    horizon (enforced, or the target passed); ``due``: the target passed by the horizon. Shares
    are taken over the ``due`` cases only: counting a case whose target is still running only
    when it is already done would bias the share upward in a short window.
    """
    delay = columns["enforcement_day"] - columns["arrival_day"]
    target = columns["target_days"]
    done = ~np.isnan(delay)
    met = done & (delay <= target)
    due = horizon - columns["arrival_day"] >= target
    return met, done | due, due


def cases_frame(records: Iterable[ReplicationRecords], scenario: Scenario) -> pd.DataFrame:
    """The per-case table of SPEC, one row per case that arrived after the warm-up.

    The replications' columns are joined as arrays first, and the table built once from them.
    """
    recs = [rec for rec in records]
    if not recs:
        return pd.DataFrame(columns=CASE_COLUMNS)

    def joined(name: str) -> np.ndarray:
        return np.concatenate([rec.cases[name] for rec in recs])

    targets = [_target_met(rec.cases, scenario.horizon_days) for rec in recs]
    met = np.concatenate([m for m, _, _ in targets]).astype(bool)
    known = np.concatenate([k for _, k, _ in targets]).astype(bool)
    closed = joined("closed_day")
    arrival = joined("arrival_day")
    first_work = joined("first_work_day")
    frame = pd.DataFrame(
        {
            "replication": np.concatenate(
                [
                    np.full(len(rec.cases["case_id"]), rec.replication, dtype=np.int64)
                    for rec in recs
                ]
            ),
            "case_id": joined("case_id"),
            "grade": pd.Categorical.from_codes(joined("grade"), categories=pd.Index(GRADE_LABELS)),
            "arrival_day": arrival,
            "first_work_day": first_work,
            "wait_days": first_work - arrival,
            "closed_day": closed,
            "longest_gap_days": joined("longest_gap_days"),
            "longest_neglect_days": joined("longest_neglect_days"),
            "censored": np.isnan(closed),
            "owner_changes": joined("owner_changes"),
            "target_met": pd.arrays.BooleanArray(np.where(known, met, False), mask=~known),
            "enforcement_day": joined("enforcement_day"),
            "inherited": joined("inherited"),
            # names (str objects) straight to a string column: no fixed-width copy on the way
            "owner": pd.array(joined("owner"), dtype="str"),
            "neglect_holder": pd.array(joined("neglect_holder"), dtype="str"),
            "worked_hours": joined("worked_hours"),
            "devices": joined("devices"),
        }
    )
    return frame[CASE_COLUMNS]


def replication_metrics(rec: ReplicationRecords, scenario: Scenario) -> dict[str, float]:
    """The headline metrics of one replication (see ``docs/outputs.md`` for each name)."""
    c = rec.cases
    n = len(c["case_id"])
    neglect = c["longest_neglect_days"]
    closed = ~np.isnan(c["closed_day"])
    out: dict[str, float] = {
        "replication": float(rec.replication),
        "cases": float(n),
        "closed": float(closed.sum()),
        "open_at_horizon": float(n - closed.sum()),
    }
    for days in NEGLECT_THRESHOLDS_DAYS:
        over = float((neglect > days).sum())
        out[f"neglect_over_{days}"] = over
        out[f"share_neglect_over_{days}"] = over / n if n else float("nan")
    for days in ANY_NEGLECT_THRESHOLDS_DAYS:
        out[f"any_neglect_over_{days}"] = float(bool((neglect > days).any()))
    out["max_neglect_days"] = float(neglect.max()) if n else 0.0
    out["mean_neglect_days"] = float(neglect.mean()) if n else float("nan")
    out["max_gap_days"] = float(c["longest_gap_days"].max()) if n else 0.0
    wait = c["first_work_day"] - c["arrival_day"]
    out["mean_wait_days"] = float(np.nanmean(wait)) if np.isfinite(wait).any() else float("nan")
    sojourn = (c["closed_day"] - c["arrival_day"])[closed]
    out["mean_days_to_close"] = float(sojourn.mean()) if closed.any() else float("nan")
    out["reallocated_share"] = float((c["owner_changes"] > 0).mean()) if n else float("nan")

    window = rec.backlog["day"] >= scenario.warmup_days
    out["mean_backlog"] = float(rec.backlog["open_cases"][window].mean())
    out["backlog_at_horizon"] = float(rec.backlog["open_cases"][-1])

    d = rec.detectives
    worked = float(np.sum(d["hours_worked"]))
    available = float(np.sum(d["hours_available"]))
    out["utilisation"] = worked / available if available > 0 else float("nan")
    out["hours_worked"] = worked
    out["hours_lost_to_leave"] = float(np.sum(d["hours_lost_to_leave"]))
    out["mean_strain"] = float(np.mean(d["strain"]))
    out["max_strain"] = float(np.max(d["strain"]))

    met, _known, due = _target_met(c, scenario.horizon_days)
    out["target_met_share"] = float(met[due].mean()) if due.any() else float("nan")
    for g, label in enumerate(GRADE_LABELS):
        mask = due & (c["grade"] == g)
        out[f"target_met_{label}"] = float(met[mask].mean()) if mask.any() else float("nan")
    out.update({k: float(v) for k, v in rec.extra.get("metrics", {}).items()})
    return out


def mean_ci(values: Sequence[float] | np.ndarray, confidence: float = 0.95) -> tuple[float, ...]:
    """Mean, standard deviation, and the Student-t confidence interval of the mean.

    NaNs (a metric undefined in some replication) are left out. With one value the interval is
    unbounded; with zero variance it collapses onto the mean.

    Returns:
        (mean, sd, low, high, n)
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    if n == 0:
        return (float("nan"),) * 4 + (0.0,)
    mean = float(x.mean())
    if n == 1:
        return mean, float("nan"), float("-inf"), float("inf"), 1.0
    sd = float(x.std(ddof=1))
    if sd == 0.0:
        return mean, 0.0, mean, mean, float(n)
    # The Student-t quantile as scipy.stats.t.interval computes it, bit for bit, from
    # scipy.special (importing scipy.stats would take half a second of every command).
    from scipy.special import stdtrit

    scale = sd / np.sqrt(n)
    low = stdtrit(n - 1, (1.0 - confidence) / 2) * scale + mean
    high = stdtrit(n - 1, (1.0 + confidence) / 2) * scale + mean
    return mean, sd, float(low), float(high), float(n)


def proportion_ci(
    values: Sequence[float] | np.ndarray, confidence: float = 0.95
) -> tuple[float, ...]:
    """Mean, sd and Wilson score interval of a 0/1 indicator across replications.

    The Student-t interval of an indicator can leave [0, 1] and collapses to a point when every
    replication agrees (say no replication had a case neglected for a year); the Wilson interval
    stays inside [0, 1] and keeps an honest width, e.g. [0, 0.11] for 0 out of 30.

    Returns:
        (mean, sd, low, high, n)
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    if n == 0:
        return (float("nan"),) * 4 + (0.0,)
    k = round(float(x.sum()))
    low, high = wilson_interval(k, n, confidence)
    sd = float(x.std(ddof=1)) if n > 1 else float("nan")
    return float(x.mean()), sd, low, high, float(n)


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of ``k`` successes in ``n`` trials (two-sided, no continuity
    correction).

    The same arithmetic as ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")``
    (Newcombe 1998), bit for bit (a test checks it), without importing scipy.stats.
    """
    from scipy.special import ndtri

    p = k / n
    z = ndtri(0.5 + 0.5 * confidence)
    denom = 2 * (n + z**2)
    center = (2 * n * p + z**2) / denom
    delta = z / denom * math.sqrt(4 * n * p * (1 - p) + z**2)
    low = 0.0 if k == 0 else center - delta
    high = 1.0 if k == n else center + delta
    return float(low), float(high)


def is_indicator(metric: str) -> bool:
    """Whether ``metric`` is a per-replication 0/1 indicator (its mean is a probability)."""
    return metric.startswith("any_")


def summarise(replications: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Mean and confidence interval of every metric across replications.

    Indicators (``any_*``) get a Wilson interval for a proportion, other metrics a Student-t one.
    """
    rows: list[dict[str, Any]] = []
    for metric in replications.columns:
        if metric in ("replication", "scenario"):
            continue
        interval = proportion_ci if is_indicator(metric) else mean_ci
        mean, sd, low, high, n = interval(replications[metric].to_numpy(dtype=float), confidence)
        rows.append(
            {"metric": metric, "mean": mean, "sd": sd, "ci_low": low, "ci_high": high, "n": int(n)}
        )
    return pd.DataFrame(rows, columns=["metric", "mean", "sd", "ci_low", "ci_high", "n"])

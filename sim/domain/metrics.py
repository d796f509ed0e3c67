"""The catalogue of per-replication metric names: which exist, their units and plain labels.

:func:`~sim.analysis.statistics.replication_metrics` computes the metrics; this module only
names them, so
that a scenario's ``expect:`` thresholds can be checked when the file is loaded (before anything
runs) and figures can label their axes with units. It imports nothing from the engine, so the
scenario schema can use it. ``tests/test_compare.py`` checks that the catalogue and the metrics a
replication yields agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "METRICS",
    "WELLBEING_ROUTES",
    "MetricInfo",
    "known_metrics",
    "metric_label",
    "requires_wellbeing",
]


@dataclass(frozen=True)
class MetricInfo:
    """What a metric measures.

    Attributes:
        unit: its unit (``count``, ``days``, ``fraction``, ``probability``, ``hours``, ...).
        label: a short plain-language description for tables and figure axes.
        wellbeing: only produced when ``policies.wellbeing`` is set.
    """

    unit: str
    label: str
    wellbeing: bool = False


WELLBEING_ROUTES: tuple[str, ...] = ("self_assessment", "psychological", "supervision", "mentoring")
"""Detection routes of the wellbeing policy; each yields a ``strain_detections_<route>`` metric."""


def _catalogue() -> dict[str, MetricInfo]:
    m: dict[str, MetricInfo] = {
        "cases": MetricInfo("count", "cases arriving after the warm-up"),
        "closed": MetricInfo("count", "cases closed by the horizon"),
        "open_at_horizon": MetricInfo("count", "cases still open at the horizon"),
    }
    for days in (90, 180, 365, 730):
        m[f"neglect_over_{days}"] = MetricInfo(
            "count", f"cases left over {days} days without progress"
        )
        m[f"share_neglect_over_{days}"] = MetricInfo(
            "fraction", f"share of cases left over {days} days without progress"
        )
    for days in (365, 600):
        m[f"any_neglect_over_{days}"] = MetricInfo(
            "probability", f"chance that some case goes over {days} days without progress"
        )
    m.update(
        {
            "max_neglect_days": MetricInfo("days", "longest time any case waited on the team"),
            "mean_neglect_days": MetricInfo("days", "mean longest wait on the team per case"),
            "max_gap_days": MetricInfo("days", "longest time any case made no progress"),
            "mean_wait_days": MetricInfo("days", "mean wait before first work"),
            "mean_days_to_close": MetricInfo("days", "mean time from referral to closure"),
            "reallocated_share": MetricInfo("fraction", "share of cases reallocated"),
            "target_met_share": MetricInfo("fraction", "share of cases meeting their target"),
            "mean_backlog": MetricInfo("cases", "mean open cases after the warm-up"),
            "backlog_at_horizon": MetricInfo("cases", "open cases at the horizon"),
            "utilisation": MetricInfo("fraction", "detective utilisation"),
            "hours_worked": MetricInfo("hours", "detective hours on cases"),
            "hours_lost_to_leave": MetricInfo("hours", "detective hours lost to leave"),
            "mean_strain": MetricInfo("strain", "mean detective strain at the horizon"),
            "max_strain": MetricInfo("strain", "highest detective strain at the horizon"),
        }
    )
    for grade in ("very_high", "high", "medium", "low"):
        m[f"target_met_{grade}"] = MetricInfo(
            "fraction", f"share of {grade.replace('_', ' ')} cases meeting their target"
        )
    for name, label in (
        ("reviews_held", "workload reviews held"),
        ("detectives_reviewed", "caseloads reviewed"),
        ("cases_flagged", "cases flagged at reviews"),
        ("flagged_unreviewed", "flaggable cases the reviews did not reach"),
        ("review_actions", "flags the sergeant acted on"),
        ("review_reallocations", "cases moved by a review"),
        ("action_plans", "action plans put in place"),
        ("action_plans_failed", "action plans that failed"),
        ("escalations", "cases escalated to the inspector"),
        ("inspector_audits", "inspector audits held"),
        ("inspector_reallocations", "cases moved by an inspector"),
    ):
        m[name] = MetricInfo("count", label)
    m["sergeant_review_hours"] = MetricInfo("hours", "sergeant hours on workload reviews")
    wellbeing = {
        "sergeant_wellbeing_hours": ("hours", "sergeant hours on wellbeing supervision"),
        "strain_mean_over_time": ("strain", "team-mean strain over time"),
        "strain_max_over_time": ("strain", "highest strain reached"),
        "high_strain_detective_days": ("detective-days", "days detectives spent highly strained"),
        "strain_detections": ("count", "strained detectives noticed"),
        "support_episodes": ("count", "support periods begun"),
        "support_reallocations": ("count", "cases moved off supported detectives"),
    }
    for route in WELLBEING_ROUTES:
        wellbeing[f"strain_detections_{route}"] = (
            "count",
            f"strained detectives noticed by {route.replace('_', ' ')}",
        )
    for name, (unit, label) in wellbeing.items():
        m[name] = MetricInfo(unit, label, wellbeing=True)
    return m


METRICS: dict[str, MetricInfo] = _catalogue()
"""Every per-replication metric, by the name ``replications.parquet`` and ``expect:`` use."""


def known_metrics() -> list[str]:
    """The metric names, sorted (for error messages)."""
    return sorted(METRICS)


def requires_wellbeing(metric: str) -> bool:
    """Whether ``metric`` exists only when the scenario models wellbeing."""
    info = METRICS.get(metric)
    return info is not None and info.wellbeing


def metric_label(metric: str, with_unit: bool = True) -> str:
    """A plain label for ``metric`` with its unit in brackets, for tables and axes."""
    info = METRICS.get(metric)
    if info is None:
        return metric
    return f"{info.label} ({info.unit})" if with_unit else info.label


def unknown_metrics(names: Iterable[str]) -> list[str]:
    """The names in ``names`` that are not metrics."""
    return [n for n in names if n not in METRICS]

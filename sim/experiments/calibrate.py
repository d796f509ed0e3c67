"""Fit a scenario to a force's case-event log (``polit-sim calibrate``).

Every part of the scenario the log informs is fitted with a 95% confidence interval from the
data (see docs/calibration.md): referrals (:mod:`sim.analysis.arrivals_fit`), grade shares
(Wilson intervals), external stages and recorded effort (:mod:`sim.analysis.fitting`, censored,
family by AIC), leave (:mod:`sim.analysis.leave_fit`), the allocation and on-leave rules
(:mod:`sim.analysis.policy_fit`). Effort that the log does not record in hours is calibrated by
simulation (:mod:`sim.experiments.effort_msm`). What the log cannot inform comes from ``--base``
(or the defaults) and is marked as such.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sim.analysis.arrivals_fit import ArrivalsFit, fit_arrivals
from sim.analysis.fitting import DurationFit, DurationSample, fit_durations
from sim.analysis.leave_fit import AnnualFit, EpisodesFit, fit_annual, fit_episodes
from sim.analysis.log_stats import (
    StageSpells,
    duration_sample,
    effort_sample,
    grade_shares,
    stage_spells,
)
from sim.analysis.policy_fit import (
    AllocationEvidence,
    LeaveRuleEvidence,
    allocation_evidence,
    leave_rule_evidence,
)
from sim.experiments.effort_msm import EffortScaleFit, calibrate_effort_scale, scaled
from sim.scenario import GRADE_NAMES, Scenario, scenario_from_dict
from sim.state.case_log import CaseLog

__all__ = ["Calibration", "Estimate", "calibrate", "log_stages"]

DEFAULT_TARGETS = {"very_high": 1.0, "high": 7.0, "medium": 14.0, "low": 30.0}
DEFAULT_EFFORT = {"dist": "lognormal", "mean": 8.0, "sd": 4.0}


@dataclass(frozen=True)
class Estimate:
    """One fitted value, as the scenario file's comment states it."""

    key: str
    value: float | str
    ci: tuple[float, float] | None
    n: int
    method: str
    label: str = ""

    def comment(self) -> str:
        value = self.value if isinstance(self.value, str) else f"{self.value:.4g}"
        ci = "" if self.ci is None else f", 95% CI [{self.ci[0]:.4g}, {self.ci[1]:.4g}]"
        lead = f"{self.label}: " if self.label else ""
        return f"{lead}fitted: {value}{ci}, n={self.n}, {self.method}"


@dataclass
class Calibration:
    """Everything ``calibrate`` found: the scenario, the estimates and the fits behind them."""

    scenario: dict[str, Any]
    estimates: list[Estimate]
    comments: dict[str, str]
    arrivals: ArrivalsFit
    durations: dict[str, tuple[DurationFit, DurationSample, str]] = field(default_factory=dict)
    leave: dict[str, EpisodesFit] = field(default_factory=dict)
    annual: AnnualFit | None = None
    allocation: AllocationEvidence | None = None
    on_leave: LeaveRuleEvidence | None = None
    effort_scale: EffortScaleFit | None = None

    def validated(self) -> Scenario:
        """The fitted scenario, validated."""
        return scenario_from_dict(self.scenario, source="fitted scenario")


def log_stages(log: CaseLog, base: Scenario | None) -> list[tuple[str, bool]]:
    """The stages in order and whether each is a team stage (has work rows).

    With a base scenario its stages are used; otherwise the order is the most common order of
    ``stage_end`` rows in the log's cases that passed through the most stages.
    """
    if base is not None:
        return [(s.name, s.is_team) for s in base.cases.stages]
    events = log.events
    ends = events[events["activity"] == "stage_end"]
    worked = set(events.loc[events["activity"] == "work", "stage"])
    sequences = ends.groupby("case_id", sort=False)["stage"].agg(tuple)
    longest = max((len(s) for s in sequences), default=0)
    counts = sequences[sequences.map(len) == longest].value_counts()
    order = list(counts.index[0]) if len(counts) else []
    for name in events["stage"]:
        if name and name not in order:
            order.append(name)
    return [(name, name in worked) for name in order]


def _round(value: float) -> float:
    return float(f"{value:.4g}")


def calibrate(
    log: CaseLog,
    base: Scenario | None = None,
    *,
    name: str = "calibrated",
    msm_replications: int = 4,
    msm_grid: int = 9,
    progress: Callable[[int], None] | None = None,
) -> Calibration:
    """Fit a scenario to ``log``; ``base`` supplies what the log does not say.

    Args:
        msm_replications, msm_grid: replications per point and points of the effort-scale grid
            when effort must be calibrated by simulation (no hours in the log).
        progress: called with 1 after each simulated replication.
    """
    estimates: list[Estimate] = []
    comments: dict[str, str] = {}
    events = log.events

    def note(key: str, estimate: Estimate) -> None:
        estimates.append(estimate)
        previous = comments.get(key)
        comments[key] = (
            estimate.comment() if previous is None else f"{previous}\n{estimate.comment()}"
        )

    base_data: dict[str, Any] = (
        base.model_dump(mode="json", by_alias=True, exclude_none=True) if base else {}
    )
    # --- referrals and grades
    arrivals = fit_arrivals(
        events.loc[events["activity"] == "referral", "day"].to_numpy(float), log.end_day
    )
    note(
        "cases.arrivals.rate_per_year",
        Estimate(
            "rate_per_year",
            arrivals.rate_per_year,
            arrivals.rate_ci,
            arrivals.n,
            "Poisson regression on daily counts, profile likelihood",
        ),
    )
    growth_method = f"likelihood-ratio test p={arrivals.growth_p:.3g}" + (
        "" if arrivals.growth_kept else ": not significant, left out"
    )
    note(
        "cases.arrivals.growth_per_year",
        Estimate(
            "growth_per_year",
            arrivals.growth_per_year,
            arrivals.growth_ci,
            arrivals.n,
            growth_method,
        ),
    )
    season_note = f"seasonality: likelihood-ratio test p={arrivals.seasonality_p:.3g}" + (
        "" if arrivals.seasonality_kept else ": not significant, left out"
    )
    comments["cases.arrivals"] = season_note
    if arrivals.seasonality_kept:
        note(
            "cases.arrivals.seasonality.amplitude",
            Estimate(
                "seasonality.amplitude",
                arrivals.amplitude,
                arrivals.amplitude_ci,
                arrivals.n,
                "Wald interval",
            ),
        )
    grades = events.loc[events["activity"] == "referral", "grade"].tolist()
    base_grades = base_data.get("cases", {}).get("grades", {})
    grade_map: dict[str, Any] = {}
    for found in grade_shares(grades, GRADE_NAMES):
        g = found.grade
        target = base_grades.get(g, {}).get("target_days", DEFAULT_TARGETS[g])
        grade_map[g] = {"share": _round(found.share), "target_days": target}
        note(
            f"cases.grades.{g}",
            Estimate(
                f"grades.{g}.share",
                found.share,
                found.ci,
                found.n,
                "share of referrals, Wilson interval; target_days "
                + ("from the base" if g in base_grades else "default"),
            ),
        )
    last = list(grade_map)[-1]
    grade_map[last]["share"] = 1.0 - sum(v["share"] for g, v in grade_map.items() if g != last)
    # --- stages
    stage_list = log_stages(log, base)
    spells = stage_spells(events, [s for s, _ in stage_list])
    base_stages = {s["name"]: s for s in base_data.get("cases", {}).get("stages", [])}
    durations: dict[str, tuple[DurationFit, DurationSample, str]] = {}
    stages_out: list[dict[str, Any]] = []
    calibrate_scale = not log.has_hours
    for i, (stage, is_team) in enumerate(stage_list):
        entry: dict[str, Any] = {"name": stage}
        if base_stages.get(stage, {}).get("enforcement"):
            entry["enforcement"] = True
        key = f"cases.stages.{i}"
        unfitted = "not fitted (fewer than two finished in the log): " + (
            "from the base" if stage in base_stages else "default"
        )
        if is_team:
            default = base_stages.get(stage, {}).get("effort_hours", DEFAULT_EFFORT)
            entry["effort_hours"] = default
            if not calibrate_scale and isinstance(default, dict) and "dist" not in default:
                entry["effort_hours"] = _per_grade_effort(
                    spells, stage, key, default, durations, note, comments
                )
            elif not calibrate_scale:
                sample = effort_sample(spells, stage)
                try:
                    fit = fit_durations(sample)
                except ValueError:
                    comments[key] = unfitted
                else:
                    durations[stage] = (fit, sample, "hours")
                    entry["effort_hours"] = fit.best.distribution()
                    note(key, _duration_estimate(f"{stage}.effort_hours", fit, "hours"))
        else:
            external = dict(base_stages.get(stage, {}).get("external", {}))
            external.pop("capacity", None)  # the log's durations include any queue there
            external.setdefault("days", {"dist": "exponential", "mean": 30.0})
            sample = duration_sample(spells, stage, log.end_day, log.dates_only)
            try:
                fit = fit_durations(sample)
            except ValueError:
                comments[key] = unfitted
            else:
                durations[stage] = (fit, sample, "days")
                external["days"] = fit.best.distribution()
                note(key, _duration_estimate(f"{stage}.days", fit, "days"))
            entry["external"] = external
        stages_out.append(entry)
    # --- team, leave, policies
    team = dict(base_data.get("team", {}))
    if "roster" in team:  # day 0 is the log's first day: its weekday
        team["roster"] = {**team["roster"], "day_0_weekday": log.start.strftime("%a").lower()}
    team["detectives"] = [
        {"name": d, "count": 1, "fte": float(f)}
        for d, f in zip(log.staff["detective"], log.staff["fte"], strict=True)
    ]
    team.setdefault("hours_per_week", 37.0)
    comments["team.detectives"] = "from staff.csv"
    leave_out: dict[str, Any] = {}
    leave_fits: dict[str, EpisodesFit] = {}
    absent_notes: list[str] = []
    annual = None
    if len(log.absences):
        annual = fit_annual(log.absences, log.staff, log.end_day)
        if annual.n:
            leave_out["annual_days"] = _round(annual.days_per_year)
            leave_out["annual_blocks"] = annual.blocks
            note(
                "leave.annual_days",
                Estimate(
                    "annual_days",
                    annual.days_per_year,
                    annual.days_ci,
                    annual.n,
                    "days per detective-year, t interval across detectives",
                ),
            )
        for kind, key in (("short", "short_sickness"), ("long", "long_leave")):
            fit_kind = fit_episodes(log.absences, log.staff, kind, log.end_day)
            leave_fits[kind] = fit_kind
            base_kind = base_data.get("leave", {}).get(key)
            rate_estimate = Estimate(
                f"{key}.episodes_per_year",
                fit_kind.rate,
                fit_kind.rate_ci,
                fit_kind.episodes,
                "episodes per detective-year of exposure, exact Poisson",
            )
            if not fit_kind.episodes:
                estimates.append(rate_estimate)
                upper = fit_kind.rate_ci[1]
                if base_kind and base_kind.get("episodes_per_year", 0.0) <= upper:
                    leave_out[key] = base_kind
                    comments[f"leave.{key}"] = (
                        f"no episodes in the log (rate's 95% CI [0, {upper:.3g}] a year); the "
                        "base's rate lies within it: from the base"
                    )
                else:
                    absent_notes.append(
                        f"{key}: no episodes in the log (rate's 95% CI [0, {upper:.3g}] a year): "
                        "left out"
                    )
                continue
            if fit_kind.lengths is not None:
                days = fit_kind.lengths.best.distribution()
            elif base_kind:
                days = base_kind["days"]
                comments[f"leave.{key}.days"] = (
                    "not fitted (fewer than two finished episodes): from the base"
                )
            else:
                lengths = fit_kind.sample.points()
                days = {"dist": "exponential", "mean": _round(float(lengths.mean()))}
                comments[f"leave.{key}.days"] = (
                    "not fitted (fewer than two finished episodes): exponential with the "
                    "episodes' mean length"
                )
            leave_out[key] = {"episodes_per_year": _round(fit_kind.rate), "days": days}
            note(f"leave.{key}.episodes_per_year", rate_estimate)
            if fit_kind.lengths is not None:
                note(
                    f"leave.{key}.days",
                    _duration_estimate(f"{key}.days", fit_kind.lengths, "days"),
                )
    if absent_notes:
        comments["leave"] = "\n".join(absent_notes)
    policies = dict(base_data.get("policies", {}))
    allocation = allocation_evidence(events, log.absences, log.staff)
    alloc_spec: dict[str, Any] = {"rule": allocation.best}
    if allocation.best == "team_queue":
        alloc_spec["max_cases_per_detective"] = max(allocation.max_cases, 1)
    policies["allocation"] = alloc_spec
    scores = ", ".join(
        f"{r} {allocation.matches[r]}/{allocation.n} (log-lik {allocation.loglik[r]:.1f})"
        for r in allocation.matches
    )
    comments["policies.allocation"] = (
        f"fitted: {allocation.best}; choices matched: {scores}; "
        f"first allocated later than referred: {allocation.queued_share:.0%}"
    )
    on_leave = leave_rule_evidence(events, log.absences)
    if on_leave.rule is None:
        policies.setdefault("on_long_leave", {"rule": "keep", "after_days": 28.0})
        comments["policies.on_long_leave"] = (
            "not fitted: no absence over 28 days in the log shows the rule; "
            + ("from the base" if base else "default")
        )
    else:
        leave_spec: dict[str, Any] = {
            "rule": on_leave.rule,
            "after_days": round(on_leave.after_days),
        }
        if on_leave.colleague:
            leave_spec["colleague"] = on_leave.colleague
        policies["on_long_leave"] = leave_spec
        comments["policies.on_long_leave"] = (
            f"fitted: {on_leave.rule} ({on_leave.moves} cases moved during "
            f"{on_leave.absences_seen} absences over 28 days)"
        )
    for key in list(policies):
        if f"policies.{key}" not in comments:
            comments[f"policies.{key}"] = "not fitted: from the base" if base else "not fitted"
    for key in ("hours_per_week", "sergeants"):
        comments[f"team.{key}"] = (
            "not fitted: from the base"
            if key in base_data.get("team", {})
            else "not fitted: default"
        )
    scenario: dict[str, Any] = {
        "name": name,
        "description": f"Fitted by polit-sim calibrate to the log in {log.folder}",
        "start_date": log.start.date().isoformat(),
        "horizon_days": float(math.floor(log.end_day)),
        "warmup_days": 0.0,
        "replications": base_data.get("replications", 30),
        "seed": base_data.get("seed", 20160101),
        "team": team,
        "cases": {
            "arrivals": arrivals.scenario(),
            "grades": grade_map,
            "stages": stages_out,
        },
        "policies": policies,
    }
    if leave_out:
        scenario["leave"] = leave_out
    for key in ("outputs", "plugins", "expect"):
        if base_data.get(key):
            scenario[key] = base_data[key]
    comments["horizon_days"] = "the log's length; warm-up 0: the log starts from an empty team"
    comments["start_date"] = "the log's first day"
    result = Calibration(
        scenario, estimates, comments, arrivals, durations, leave_fits, annual, allocation, on_leave
    )
    if calibrate_scale:
        msm = calibrate_effort_scale(
            result.validated(), log, replications=msm_replications, grid=msm_grid, progress=progress
        )
        result.effort_scale = msm
        for i, (stage, is_team) in enumerate(stage_list):
            if is_team:
                entry = stages_out[i]
                entry["effort_hours"] = scaled(entry["effort_hours"], msm.scale)
                note(
                    f"cases.stages.{i}",
                    Estimate(
                        f"{stage}.effort_hours scale",
                        msm.scale,
                        msm.ci,
                        msm.n,
                        "no hours in the log: scale of the "
                        + ("base" if stage in base_stages else "default")
                        + " effort by the method of simulated moments (stage durations, backlog)"
                        + (
                            "; WARNING: the interval reaches the end of the searched range "
                            f"({msm.grid[0]:g} to {msm.grid[-1]:g})"
                            if msm.at_edge
                            else ""
                        ),
                    ),
                )
    return result


MIN_PER_GRADE = 20
"""Finished stages a grade needs for its own effort fit (else the base's distribution stays)."""


def _per_grade_effort(
    spells: StageSpells,
    stage: str,
    key: str,
    base_effort: dict[str, Any],
    durations: dict[str, tuple[DurationFit, DurationSample, str]],
    note: Callable[[str, Estimate], None],
    comments: dict[str, str],
) -> dict[str, Any]:
    """A stage whose base gives effort per grade: a fit per grade with enough finished stages."""
    out: dict[str, Any] = {}
    kept = []
    for grade in GRADE_NAMES:
        sample = effort_sample(spells, stage, grade)
        fit = None
        if len(sample.observed) >= MIN_PER_GRADE:
            try:
                fit = fit_durations(sample)
            except ValueError:
                fit = None
        if fit is None:
            out[grade] = base_effort[grade]
            kept.append(grade)
            continue
        durations[f"{stage} ({grade})"] = (fit, sample, "hours")
        out[grade] = fit.best.distribution()
        estimate = _duration_estimate(f"{stage}.effort_hours.{grade}", fit, "hours")
        note(key, dataclasses.replace(estimate, label=grade))
    if kept:
        line = (
            f"not fitted (fewer than {MIN_PER_GRADE} finished in the log): "
            f"{', '.join(kept)} from the base"
        )
        comments[key] = f"{comments[key]}\n{line}" if key in comments else line
    return out


def _duration_estimate(key: str, fit: DurationFit, unit: str) -> Estimate:
    best, second = fit.best, fit.runner_up
    runner = (
        "" if second is None else f"; runner-up {second.family} (ΔAIC {second.aic - best.aic:.1f})"
    )
    return Estimate(
        key,
        best.mean,
        best.mean_ci,
        best.n,
        f"mean {unit}; {best.family} by AIC, censored MLE ({best.n_censored} censored), "
        f"profile CI{runner}; sd {best.sd:.3g} [{best.sd_ci[0]:.3g}, {best.sd_ci[1]:.3g}]",
    )

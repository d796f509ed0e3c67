"""Forecast a team's open caseload from today: per-case risk, backlog by date, policy contrasts.

Each replication starts from the snapshot (no warm-up): the open cases with their holders and
their current waits, the absences under way, remaining effort and external time drawn
conditionally on what is already done (:mod:`sim.state.initial`); from the as-of date on, the
scenario's referrals, leave and policies run as usual. Several scenarios forecast from one
snapshot share seeds, so each replication sees the same draws for the open cases and the same new
referrals in every scenario (common random numbers), and they are compared case by case.

Per open case (SPEC's ``case_risk.csv``):

* ``neglect_days_today`` – days it has waited on the team by the as-of date (0 while at an
  external unit);
* ``p_neglect_over_180`` / ``p_neglect_over_365`` – the share of replications in which the case's
  current spell without progress (from ``last_progress_date`` to its next progress, or to the
  horizon) reaches that many days of waiting on the team; 1 when it already has. A case at an
  external unit is not waiting on the team: its spell ends when the unit returns it;
* ``p_closed_by_horizon`` – the share in which its last stage ends by the horizon;
* ``next_progress_date_median`` – the median date of its next progress (a detective starts
  work on it, or an external unit returns it); empty when that lies beyond the horizon in at
  least half the replications.
"""

from __future__ import annotations

import datetime
import math
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from sim.analysis.dates import day_to_date
from sim.engine.replication import run_replication
from sim.engine.streams import Streams
from sim.scenario import Scenario
from sim.state.initial import PreparedSnapshot, prepare
from sim.state.snapshot import Snapshot

__all__ = [
    "CASE_RISK_COLUMNS",
    "DEFAULT_HORIZON_DAYS",
    "NEGLECT_THRESHOLDS",
    "Forecast",
    "ScenarioForecast",
    "forecast",
    "replications_for_precision",
]

DEFAULT_HORIZON_DAYS = 365.0
NEGLECT_THRESHOLDS = (180, 365)
CASE_RISK_COLUMNS = [
    "case_id",
    "owner",
    "grade",
    "neglect_days_today",
    "p_neglect_over_180",
    "p_neglect_over_365",
    "p_closed_by_horizon",
    "next_progress_date_median",
]
Progress = Callable[[int], None]


@dataclass
class ReplicationOutcome:
    """What one forecast replication gives: per open case, and the backlog path (plain arrays)."""

    replication: int
    spell_end_day: np.ndarray  # next progress of each open case; nan: none by the horizon
    closed_day: np.ndarray
    backlog_day: np.ndarray
    backlog: np.ndarray


@dataclass
class ScenarioForecast:
    """One scenario's forecast.

    Attributes:
        scenario: the scenario as given (its horizon and warm-up are not used).
        case_risk: SPEC's ``case_risk.csv`` rows, in the snapshot's order.
        backlog: per sampled day: ``day``, ``date``, the mean open cases and their 95% interval,
            and the 5/25/50/75/95% quantiles across replications (prediction bands).
        neglect: per replication and case, the current spell's wait on the team (days, to the
            horizon at most) — the basis of the paired comparisons.
        closed: per replication and case, whether it closed by the horizon.
    """

    scenario: Scenario
    case_risk: pd.DataFrame
    backlog: pd.DataFrame
    neglect: np.ndarray
    closed: np.ndarray


@dataclass
class Forecast:
    """Forecasts of several scenarios from one snapshot, under common random numbers."""

    snapshot: Snapshot
    horizon_days: float
    replications: int
    seed: int
    scenarios: list[ScenarioForecast] = field(default_factory=list)

    @property
    def horizon_date(self) -> datetime.date:
        return self.snapshot.as_of + datetime.timedelta(days=math.floor(self.horizon_days))

    def contrasts(self, threshold: int = 365, confidence: float = 0.95) -> pd.DataFrame:
        """Case by case, each scenario's change against the first in P(neglect over threshold).

        Paired over replications (the same draws in every scenario): the mean difference of the
        0/1 outcomes and its Student-t interval. One row per case and other scenario.
        """
        if len(self.scenarios) < 2:
            return pd.DataFrame()
        base = self.scenarios[0]
        rows = []
        hit_base = base.neglect >= threshold
        for other in self.scenarios[1:]:
            hit = other.neglect >= threshold
            diff = hit.astype(float) - hit_base.astype(float)
            n = diff.shape[0]
            mean = diff.mean(axis=0)
            sd = diff.std(axis=0, ddof=1) if n > 1 else np.full(diff.shape[1], np.nan)
            half = stats.t.ppf((1 + confidence) / 2, max(n - 1, 1)) * sd / np.sqrt(n)
            for i, case_id in enumerate(base.case_risk["case_id"]):
                rows.append(
                    {
                        "case_id": case_id,
                        "scenario": other.scenario.name,
                        "baseline": base.scenario.name,
                        f"p_neglect_over_{threshold}_baseline": hit_base[:, i].mean(),
                        f"p_neglect_over_{threshold}": hit[:, i].mean(),
                        "difference": mean[i],
                        "ci_low": mean[i] - half[i],
                        "ci_high": mean[i] + half[i],
                    }
                )
        return pd.DataFrame(rows)


def replications_for_precision(probabilities: Sequence[float], half_width: float = 0.05) -> int:
    """Replications for a 95% interval of ±``half_width`` on every one of these probabilities.

    Normal approximation, ``1.96² p (1 − p) / h²``, at the largest ``p (1 − p)`` among them;
    at least 1.
    """
    p = np.asarray(probabilities, dtype=float)
    if p.size == 0:
        return 1
    worst = float(np.max(p * (1.0 - p)))
    z = float(stats.norm.ppf(0.975))
    return max(1, math.ceil(z * z * worst / half_width**2))


def forecast_scenario(scenario: Scenario, day: float, horizon_days: float) -> Scenario:
    """The scenario run by a forecast: the clock from ``day`` to ``day + horizon_days``.

    The warm-up becomes the as-of day, so the records' new referrals are those of the forecast.
    """
    return scenario.model_copy(
        update={"horizon_days": day + horizon_days, "warmup_days": day}, deep=False
    )


def _run_one(
    prepared: PreparedSnapshot, run: Scenario, replication: int, seed: int
) -> ReplicationOutcome:
    state = prepared.initial_state(Streams(seed, replication))
    records = run_replication(run, replication, seed, initial=state)
    initial = records.extra["initial"]
    return ReplicationOutcome(
        replication=replication,
        spell_end_day=np.asarray(initial["spell_end_day"], dtype=float),
        closed_day=np.asarray(initial["closed_day"], dtype=float),
        backlog_day=records.backlog["day"],
        backlog=records.backlog["open_cases"],
    )


def _run_chunk(
    args: tuple[PreparedSnapshot, Scenario, Sequence[int], int],
) -> list[ReplicationOutcome]:
    prepared, run, replications, seed = args
    return [_run_one(prepared, run, r, seed) for r in replications]


def _run_all(
    jobs: list[tuple[PreparedSnapshot, Scenario, Sequence[int], int]],
    workers: int,
    progress: Progress | None,
) -> list[list[ReplicationOutcome]]:
    """Run the jobs' replications, in a process pool when ``workers > 1``; one list per job."""
    out: list[list[ReplicationOutcome]] = [[] for _ in jobs]
    chunks: list[tuple[int, tuple[PreparedSnapshot, Scenario, Sequence[int], int]]] = []
    for j, (prepared, run, reps, seed) in enumerate(jobs):
        size = max(1, math.ceil(len(reps) / (4 * max(workers, 1))))
        for k in range(0, len(reps), size):
            chunks.append((j, (prepared, run, list(reps[k : k + size]), seed)))
    if workers <= 1 or len(chunks) <= 1:
        for j, chunk in chunks:
            done = _run_chunk(chunk)
            out[j].extend(done)
            if progress is not None:
                progress(len(done))
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {pool.submit(_run_chunk, chunk): j for j, chunk in chunks}
            for future in as_completed(futures):
                done = future.result()
                out[futures[future]].extend(done)
                if progress is not None:
                    progress(len(done))
    for outcomes in out:
        outcomes.sort(key=lambda o: o.replication)
    return out


def _summarise(
    prepared: PreparedSnapshot,
    scenario: Scenario,
    outcomes: list[ReplicationOutcome],
    horizon_days: float,
) -> ScenarioForecast:
    start = prepared.day
    end = start + horizon_days
    spell_end = np.vstack([o.spell_end_day for o in outcomes])  # (replications, cases)
    closed_day = np.vstack([o.closed_day for o in outcomes])
    external = ~np.isnan(prepared.external_elapsed)
    finish = np.where(np.isnan(spell_end), end, np.minimum(spell_end, end))
    neglect = np.where(external, 0.0, finish - prepared.last_progress_day)
    closed = ~np.isnan(closed_day) & (closed_day <= end)
    today = prepared.neglect_days_today()
    never = np.where(np.isnan(spell_end), np.inf, spell_end)
    median = np.median(never, axis=0) if len(outcomes) else np.full(len(today), np.inf)
    as_of = prepared.snapshot.as_of
    rows = []
    for i, case in enumerate(prepared.cases):
        next_date = None
        if math.isfinite(median[i]):
            next_date = as_of + datetime.timedelta(days=math.floor(median[i] - start + 1e-9))
        rows.append(
            {
                "case_id": case.case_id,
                "owner": case.owner,
                "grade": case.grade,
                "neglect_days_today": today[i],
                **{
                    f"p_neglect_over_{t}": float(np.mean(neglect[:, i] >= t))
                    for t in NEGLECT_THRESHOLDS
                },
                "p_closed_by_horizon": float(np.mean(closed[:, i])),
                "next_progress_date_median": next_date.isoformat() if next_date else "",
            }
        )
    case_risk = pd.DataFrame(rows, columns=CASE_RISK_COLUMNS)
    order = {c.case_id: i for i, c in enumerate(prepared.snapshot.cases)}
    position = case_risk["case_id"].map(order).to_numpy()
    case_risk = case_risk.iloc[np.argsort(position, kind="stable")].reset_index(drop=True)
    sort = np.argsort(position, kind="stable")
    return ScenarioForecast(
        scenario=scenario,
        case_risk=case_risk,
        backlog=_backlog_table(outcomes, prepared.start_date),
        neglect=neglect[:, sort],
        closed=closed[:, sort],
    )


def _backlog_table(outcomes: list[ReplicationOutcome], start_date: datetime.date) -> pd.DataFrame:
    days = outcomes[0].backlog_day
    table = np.vstack([o.backlog for o in outcomes]).astype(float)
    n = table.shape[0]
    mean = table.mean(axis=0)
    if n > 1:
        half = stats.t.ppf(0.975, n - 1) * table.std(axis=0, ddof=1) / np.sqrt(n)
    else:
        half = np.full(len(days), np.nan)
    quantiles = np.quantile(table, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
    return pd.DataFrame(
        {
            "day": days,
            "date": [day_to_date(start_date, float(d)) for d in days],
            "mean": mean,
            "ci_low": mean - half,
            "ci_high": mean + half,
            "p05": quantiles[0],
            "p25": quantiles[1],
            "median": quantiles[2],
            "p75": quantiles[3],
            "p95": quantiles[4],
        }
    )


def forecast(
    scenarios: Sequence[Scenario],
    snapshot: Snapshot,
    *,
    horizon_days: float = DEFAULT_HORIZON_DAYS,
    replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    progress: Progress | None = None,
) -> Forecast:
    """Forecast each scenario from ``snapshot`` (already checked against every scenario).

    Args:
        scenarios: the policies to compare; the first is the baseline of the contrasts.
        snapshot: today's open cases and absences.
        horizon_days: how far ahead (days from the as-of date).
        replications: how many (default: the first scenario's ``replications``).
        seed: the root seed (default: the first scenario's), shared by every scenario.
        workers: processes to run replications in.
        progress: called with the number of replications finished.
    """
    if not scenarios:
        raise ValueError("at least one scenario is needed")
    n = scenarios[0].replications if replications is None else replications
    root = scenarios[0].seed if seed is None else seed
    jobs: list[tuple[PreparedSnapshot, Scenario, Sequence[int], int]] = []
    prepared_all = []
    for scenario in scenarios:
        prepared = prepare(snapshot, scenario)
        prepared_all.append(prepared)
        run = forecast_scenario(scenario, prepared.day, horizon_days)
        jobs.append((prepared, run, range(n), root))
    outcomes = _run_all(jobs, workers, progress)
    result = Forecast(snapshot, horizon_days, n, root)
    for scenario, prepared, outs in zip(scenarios, prepared_all, outcomes, strict=True):
        result.scenarios.append(_summarise(prepared, scenario, outs, horizon_days))
    return result

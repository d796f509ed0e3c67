"""How one replication's run time and peak memory grow with the horizon and the demand.

One replication of ``scenarios/baseline.yaml`` is run for 5, 10 and 20 years at ×1, ×2 and ×4
the referral rate (``cases.arrivals.rate_per_year``). The baseline team works at about 70%
utilisation; at ×2 it would need more hours than it has and its backlog would grow without
bound, so by default the team (detective and sergeant counts) is scaled with the demand, keeping
utilisation comparable (``--fixed-team`` keeps the baseline team instead).

Every measurement runs in a fresh Python process, so that one run's heap does not inflate the
next one's peak: the process reads its resident-set high-water mark (``ru_maxrss``) after the
imports and after the run, and times ``run_replication`` end to end. A separate process per
configuration runs under ``tracemalloc`` (untimed, as tracing slows the run) for the peak of the
memory Python allocates during the run. The per-case table is the DataFrame of
:func:`sim.analysis.statistics.cases_frame` (its deep memory use).

The wall time is fitted as ``a + b·referrals`` by least squares, with R² and residuals, over
every configuration and, to isolate the horizon, at each demand (one team size) separately.

Run from the repository root::

    python -m benchmarks.scaling --runs 3 --json results/benchmarks/scaling.json
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import click
import numpy as np
from scipy import stats

from sim.analysis.statistics import cases_frame, replication_metrics
from sim.engine.replication import run_replication
from sim.scenario import Scenario, load_scenario

__all__ = ["fit_linear", "measure", "scaled_scenario"]

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
YEARS = (5, 10, 20)
DEMANDS = (1, 2, 4)


def scaled_scenario(years: int, demand: int, team_scale: int, path: Path = BASELINE) -> Scenario:
    """The baseline scenario over ``years`` at ``demand`` × its referral rate.

    Args:
        years: horizon in years of 365 days (the warm-up stays the baseline's).
        demand: factor applied to ``cases.arrivals.rate_per_year``.
        team_scale: factor applied to every detective group's count and to the sergeants.
        path: the scenario file to scale.

    Returns:
        The validated scenario.
    """
    base = load_scenario(path)
    overrides = [
        f"horizon_days={365 * years}",
        f"cases.arrivals.rate_per_year={base.cases.arrivals.rate_per_year * demand}",
    ]
    for i, group in enumerate(base.team.detectives):
        overrides.append(f"team.detectives.{i}.count={group.count * team_scale}")
    if isinstance(base.team.sergeants, int):
        overrides.append(f"team.sergeants={base.team.sergeants * team_scale}")
    else:
        overrides.append(f"team.sergeants.count={base.team.sergeants.count * team_scale}")
    return load_scenario(path, overrides)


def _maxrss_bytes() -> int:
    """This process's resident-set high-water mark (bytes; Linux reports kibibytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def measure(scenario: Scenario, seed: int, *, trace_memory: bool = False) -> dict[str, Any]:
    """Run one replication of ``scenario`` and measure it (call in a fresh process).

    Args:
        scenario: the scenario to run (replication 0).
        seed: the root seed.
        trace_memory: run under ``tracemalloc`` and report its peak (the time is then not
            representative).

    Returns:
        Wall time (s), referrals, resident-set high-water marks before and after the run
        (bytes), the tracemalloc peak (bytes, or None), the per-case table's rows and deep size
        (bytes), utilisation and the open cases at the horizon.
    """
    rss_before = _maxrss_bytes()
    if trace_memory:
        tracemalloc.start()
    start = time.perf_counter()
    records = run_replication(scenario, 0, seed)
    seconds = time.perf_counter() - start
    traced_peak: int | None = None
    if trace_memory:
        traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    rss_after = _maxrss_bytes()
    frame = cases_frame([records], scenario)
    metrics = replication_metrics(records, scenario)
    return {
        "seconds": seconds,
        "referrals": int(records.extra["referrals"]),
        "rss_before_bytes": rss_before,
        "rss_peak_bytes": rss_after,
        "tracemalloc_peak_bytes": traced_peak,
        "case_rows": len(frame),
        "case_table_bytes": int(frame.memory_usage(deep=True).sum()),
        "utilisation": float(metrics["utilisation"]),
        "open_at_horizon": int(records.backlog["open_cases"][-1]),
    }


def _measure_in_subprocess(
    years: int, demand: int, team_scale: int, seed: int, trace_memory: bool
) -> dict[str, Any]:
    """Run :func:`measure` in a fresh interpreter and return its result."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.scaling",
        "one",
        f"--years={years}",
        f"--demand={demand}",
        f"--team-scale={team_scale}",
        f"--seed={seed}",
    ]
    if trace_memory:
        command.append("--trace-memory")
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def fit_linear(referrals: list[float], seconds: list[float]) -> dict[str, Any]:
    """Least-squares fit of ``seconds = a + b·referrals``.

    Args:
        referrals: referrals per configuration.
        seconds: median wall time per configuration (s).

    Returns:
        Intercept ``a`` (s), slope ``b`` (s per referral), R², and the residuals (s) and relative
        residuals in the input order.
    """
    fit = stats.linregress(referrals, seconds)
    predicted = fit.intercept + fit.slope * np.asarray(referrals)
    residuals = np.asarray(seconds) - predicted
    return {
        "intercept_seconds": float(fit.intercept),
        "seconds_per_referral": float(fit.slope),
        "r_squared": float(fit.rvalue**2),
        "residuals_seconds": residuals.tolist(),
        "relative_residuals": (residuals / predicted).tolist(),
    }


def _mib(value: float) -> float:
    return value / 2**20


@click.group()
def cli() -> None:
    """Scaling of one baseline replication with horizon and demand."""


@cli.command()
@click.option("--years", type=int, required=True)
@click.option("--demand", type=int, required=True)
@click.option("--team-scale", type=int, required=True)
@click.option("--seed", type=int, default=1)
@click.option("--trace-memory", is_flag=True)
def one(years: int, demand: int, team_scale: int, seed: int, trace_memory: bool) -> None:
    """Measure one configuration in this process and print the result as JSON."""
    scenario = scaled_scenario(years, demand, team_scale)
    click.echo(json.dumps(measure(scenario, seed, trace_memory=trace_memory)))


@cli.command()
@click.option("--runs", default=3, show_default=True, type=click.IntRange(min=1))
@click.option("--seed", default=1, show_default=True)
@click.option("--fixed-team", is_flag=True, help="keep the baseline team at every demand")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path))
def run(runs: int, seed: int, fixed_team: bool, json_path: Path | None) -> None:
    """Measure every (years, demand) configuration ``runs`` times, interleaved."""
    grid = [(y, d) for d in DEMANDS for y in YEARS]
    timed: dict[tuple[int, int], list[dict[str, Any]]] = {key: [] for key in grid}
    for _ in range(runs):  # configurations interleaved, so machine load is spread over them
        for years, demand in grid:
            team_scale = 1 if fixed_team else demand
            timed[(years, demand)].append(
                _measure_in_subprocess(years, demand, team_scale, seed, False)
            )
    rows: list[dict[str, Any]] = []
    for years, demand in grid:
        team_scale = 1 if fixed_team else demand
        traced = _measure_in_subprocess(years, demand, team_scale, seed, True)
        first = timed[(years, demand)][0]
        seconds = [m["seconds"] for m in timed[(years, demand)]]
        peaks = [m["rss_peak_bytes"] - m["rss_before_bytes"] for m in timed[(years, demand)]]
        rows.append(
            {
                "years": years,
                "demand": demand,
                "team_scale": team_scale,
                "referrals": first["referrals"],
                "seconds_median": statistics.median(seconds),
                "seconds_runs": seconds,
                "microseconds_per_referral": 1e6 * statistics.median(seconds) / first["referrals"],
                "rss_growth_bytes_median": statistics.median(peaks),
                "rss_before_bytes": first["rss_before_bytes"],
                "tracemalloc_peak_bytes": traced["tracemalloc_peak_bytes"],
                "case_rows": first["case_rows"],
                "case_table_bytes": first["case_table_bytes"],
                "utilisation": first["utilisation"],
                "open_at_horizon": first["open_at_horizon"],
            }
        )
    fit = fit_linear([r["referrals"] for r in rows], [r["seconds_median"] for r in rows])
    # At one demand the team is the same, so these fits isolate the horizon's effect.
    fits_by_demand = {
        demand: fit_linear(
            [r["referrals"] for r in rows if r["demand"] == demand],
            [r["seconds_median"] for r in rows if r["demand"] == demand],
        )
        for demand in DEMANDS
    }
    for row, residual in zip(rows, fit["relative_residuals"], strict=True):
        row["relative_residual"] = residual

    team = "baseline team at every demand" if fixed_team else "team scaled with demand"
    click.echo(f"One replication of {BASELINE.name}, {runs} runs each ({team}), seed {seed}")
    click.echo(
        f"{'years':>5} {'demand':>6} {'team':>4} {'referrals':>9} {'util':>5} {'open@end':>8} "
        f"{'time s':>7} {'µs/ref':>7} {'resid':>6} {'RSS+ MiB':>8} {'traced MiB':>10} "
        f"{'table MiB':>9} {'rows':>6}"
    )
    for r in rows:
        click.echo(
            f"{r['years']:>5} {r['demand']:>6} {r['team_scale']:>4} {r['referrals']:>9,} "
            f"{r['utilisation']:>5.2f} {r['open_at_horizon']:>8,} {r['seconds_median']:>7.3f} "
            f"{r['microseconds_per_referral']:>7.1f} {r['relative_residual']:>+6.1%} "
            f"{_mib(r['rss_growth_bytes_median']):>8.1f} "
            f"{_mib(r['tracemalloc_peak_bytes']):>10.1f} {_mib(r['case_table_bytes']):>9.2f} "
            f"{r['case_rows']:>6,}"
        )
    click.echo(
        f"fit: time = {fit['intercept_seconds']:.3f} s + "
        f"{1e6 * fit['seconds_per_referral']:.1f} µs × referrals, R² = {fit['r_squared']:.4f}"
    )
    for demand, by in fits_by_demand.items():
        click.echo(
            f"  demand ×{demand} only (5, 10, 20 years): time = {by['intercept_seconds']:.3f} s + "
            f"{1e6 * by['seconds_per_referral']:.1f} µs × referrals, R² = {by['r_squared']:.4f}"
        )
    click.echo(f"resident set after imports: {_mib(rows[0]['rss_before_bytes']):.0f} MiB")
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "machine": {
                "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
            },
            "scenario": str(BASELINE.relative_to(ROOT)),
            "runs": runs,
            "seed": seed,
            "fixed_team": fixed_team,
            "rows": rows,
            "fit": fit,
            "fits_by_demand": {str(d): f for d, f in fits_by_demand.items()},
        }
        json_path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        click.echo(f"wrote {json_path}")


if __name__ == "__main__":
    cli()

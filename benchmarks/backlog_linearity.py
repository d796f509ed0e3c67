"""Cost of a growing backlog: time(20 years) / time(5 years) with the demand ×4, team unscaled.

``scenarios/baseline.yaml`` at four times its referral rate with its own team is overloaded:
utilisation is 1 and the open cases grow without bound (thousands per detective after 20 years).
A run that costs the same per referral whatever the backlog takes four times as long for 20 years
as for 5 (the referrals are four times as many); the target is a ratio of at most 5.

The engine's per-detective work-order heaps are what keeps it so; ``--reference`` also times the
scan of the whole caseload they replaced (``Caseloads.index_work_order = False``, the same
records) in the same process, interleaved round by round, for the before-and-after figure.

Run from the repository root (a minute or two; the reference adds about a minute a round)::

    python -m benchmarks.backlog_linearity --rounds 3 --reference
"""

from __future__ import annotations

import os
import statistics
import time

import click

from benchmarks.scaling import scaled_scenario
from sim.engine.caseload import Caseloads
from sim.engine.replication import run_replication

__all__ = ["timed_run"]


def timed_run(years: int, demand: int, *, indexed: bool = True, seed: int = 1) -> float:
    """Seconds for one replication of the baseline over ``years`` at ``demand`` ×, team ×1."""
    scenario = scaled_scenario(years, demand, 1)
    saved = Caseloads.index_work_order
    Caseloads.index_work_order = indexed
    try:
        start = time.perf_counter()
        run_replication(scenario, 0, seed)
        return time.perf_counter() - start
    finally:
        Caseloads.index_work_order = saved


@click.command()
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(min=1))
@click.option("--demand", default=4, show_default=True, type=click.IntRange(min=1))
@click.option("--short-years", default=5, show_default=True)
@click.option("--long-years", default=20, show_default=True)
@click.option("--reference", is_flag=True, help="also time the caseload scan (slow)")
def main(rounds: int, demand: int, short_years: int, long_years: int, reference: bool) -> None:
    """Print time(long) / time(short) for the indexed engine (and the scanning reference)."""
    modes = {"indexed": True, **({"scan": False} if reference else {})}
    times: dict[tuple[str, int], list[float]] = {
        (m, y): [] for m in modes for y in (short_years, long_years)
    }
    click.echo(f"load average before: {os.getloadavg()[0]:.2f}")
    for r in range(rounds):
        for mode, indexed in modes.items():
            for years in (short_years, long_years) if r % 2 == 0 else (long_years, short_years):
                times[(mode, years)].append(timed_run(years, demand, indexed=indexed))
    for mode in modes:
        short = statistics.median(times[(mode, short_years)])
        long = statistics.median(times[(mode, long_years)])
        ratios = [
            b / a
            for a, b in zip(times[(mode, short_years)], times[(mode, long_years)], strict=True)
        ]
        click.echo(
            f"{mode:8} {short_years} y {short:7.2f} s  {long_years} y {long:7.2f} s  "
            f"ratio median {statistics.median(ratios):.2f} "
            f"(min {min(ratios):.2f}, max {max(ratios):.2f}); target ≤ 5"
        )
    if reference:
        speedups = [
            s / i
            for s, i in zip(
                times[("scan", long_years)], times[("indexed", long_years)], strict=True
            )
        ]
        click.echo(f"scan / indexed at {long_years} y: median {statistics.median(speedups):.1f}×")
    click.echo(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

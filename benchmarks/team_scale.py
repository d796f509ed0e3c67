"""Cost per referral as team and demand grow together: ×50 against ×1.

``scenarios/baseline.yaml`` with every detective group, the sergeants and the referral rate
multiplied by the same factor keeps utilisation near 0.7, so the work per referral is the same;
what could grow is the cost of looking over the team (allocation, presence). The ×1 team is run
for as many replications as make about the same number of referrals as one ×50 run, over the
same horizon, interleaved round by round in this process; the ratio of the costs per referral is
the figure (target ≤ 1.3).

``--reference`` also times the ×50 run with the scans the indexes replaced
(``Caseloads.index_loads = False``: every allocation scans the present detectives).

``--calls`` also counts the Python and built-in function calls per referral at ×1 and at the
scale, under :mod:`cProfile` (untimed): with every lookup indexed they are the same, so what
grows with the team is the cost of each call, not the number of them. ``--curve`` prints the
cost per referral at the scales in between as well.

Run from the repository root (a few minutes with the defaults)::

    python -m benchmarks.team_scale --years 10 --rounds 3 --reference
"""

from __future__ import annotations

import cProfile
import os
import pstats
import statistics
import time

import click

from benchmarks.scaling import scaled_scenario
from sim.engine.caseload import Caseloads
from sim.engine.replication import run_replication

__all__ = ["calls_per_referral", "cost_per_referral"]


def cost_per_referral(
    years: int, scale: int, replications: int, *, indexed: bool = True, seed: int = 1
) -> float:
    """Microseconds per referral over ``replications`` runs of the baseline at ``scale`` ×."""
    scenario = scaled_scenario(years, scale, scale)
    saved = Caseloads.index_loads
    Caseloads.index_loads = indexed
    try:
        referrals = 0
        start = time.perf_counter()
        for k in range(replications):
            referrals += run_replication(scenario, k, seed).extra["referrals"]
        return 1e6 * (time.perf_counter() - start) / referrals
    finally:
        Caseloads.index_loads = saved


def calls_per_referral(years: int, scale: int, replications: int, seed: int = 1) -> float:
    """Function calls per referral over ``replications`` runs of the baseline at ``scale`` ×."""
    scenario = scaled_scenario(years, scale, scale)
    profile = cProfile.Profile()
    referrals = 0
    for k in range(replications):
        profile.enable()
        referrals += run_replication(scenario, k, seed).extra["referrals"]
        profile.disable()
    return pstats.Stats(profile).total_calls / referrals  # type: ignore[attr-defined]


@click.command()
@click.option("--years", default=10, show_default=True, type=click.IntRange(min=1))
@click.option("--scale", default=50, show_default=True, type=click.IntRange(min=2))
@click.option("--rounds", default=3, show_default=True, type=click.IntRange(min=1))
@click.option("--reference", is_flag=True, help="also time the scanning allocation at the scale")
@click.option("--calls", is_flag=True, help="also count function calls per referral")
@click.option("--curve", is_flag=True, help="also time the scales between 1 and the scale")
def main(years: int, scale: int, rounds: int, reference: bool, calls: bool, curve: bool) -> None:
    """Print cost per referral at ``scale`` × over the cost at ×1."""
    costs: dict[str, list[float]] = {"x1": [], f"x{scale}": [], "scan": []}
    click.echo(f"load average before: {os.getloadavg()[0]:.2f}")
    for r in range(rounds):
        order = ["x1", f"x{scale}"] if r % 2 == 0 else [f"x{scale}", "x1"]
        if reference:
            order.append("scan")
        for label in order:
            if label == "x1":
                costs[label].append(cost_per_referral(years, 1, scale))
            else:
                costs[label].append(cost_per_referral(years, scale, 1, indexed=label != "scan"))
    for label, values in costs.items():
        if values:
            click.echo(f"{label:5} {statistics.median(values):7.1f} µs per referral (median)")
    ratios = [b / a for a, b in zip(costs["x1"], costs[f"x{scale}"], strict=True)]
    click.echo(
        f"x{scale} / x1: median {statistics.median(ratios):.2f} "
        f"(min {min(ratios):.2f}, max {max(ratios):.2f}); target ≤ 1.3"
    )
    if reference:
        scans = [s / a for a, s in zip(costs["x1"], costs["scan"], strict=True)]
        click.echo(f"with the scans, x{scale} / x1: median {statistics.median(scans):.2f}")
    if curve:
        for between in (2, 5, 10, 25):
            if between < scale:
                cost = min(
                    cost_per_referral(years, between, max(1, scale // between)) for _ in "ab"
                )
                click.echo(f"x{between:<4} {cost:7.1f} µs per referral (best of 2)")
    if calls:
        one = calls_per_referral(years, 1, scale)
        many = calls_per_referral(years, scale, 1)
        click.echo(
            f"function calls per referral: x1 {one:.1f}, x{scale} {many:.1f} "
            f"(x{scale} / x1 {many / one:.3f})"
        )
    click.echo(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

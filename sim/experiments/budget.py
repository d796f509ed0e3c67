"""Pre-flight: refuse a run that would take hours or exhaust memory, before it starts.

The estimate comes from the scenario alone (:func:`sim.engine.budget.estimate_events` and the
expected referrals). It errs high; a run it lets through is still bounded while it runs
(:func:`sim.engine.budget.run_bounded`).
"""

from __future__ import annotations

import os

from sim.engine.budget import MAX_EVENTS_PER_REPLICATION, estimate_events, expected_referrals
from sim.scenario import Scenario

__all__ = ["EVENTS_PER_SECOND", "MAX_EVENTS_TOTAL", "memory_bytes", "preflight_problems"]

MAX_EVENTS_TOTAL = 2_000_000_000
"""Events over all replications of one command (hours of one core)."""
EVENTS_PER_SECOND = 100_000
"""Events one core simulates per second, roughly (for the message only)."""
BYTES_PER_CASE_ROW = 400
"""Memory of one case in the result tables (DataFrame columns, Parquet buffers)."""
BYTES_PER_LIVE_CASE = 2_000
"""Memory of one case while its replication runs (objects, events, records)."""
BYTES_PER_BACKLOG_ROW = 48


def _physical_memory() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def memory_bytes(scenario: Scenario, replications: int, workers: int = 1) -> float:
    """Peak memory of a run: every replication's result rows plus the replications in flight."""
    cases = expected_referrals(scenario)
    samples = scenario.horizon_days / scenario.outputs.backlog_every_days + 1
    kept = replications * (cases * BYTES_PER_CASE_ROW + samples * BYTES_PER_BACKLOG_ROW)
    live = max(1, workers) * cases * BYTES_PER_LIVE_CASE
    return kept + live


def preflight_problems(
    scenario: Scenario,
    replications: int,
    workers: int = 1,
    source: str | None = None,
    *,
    keeps_cases: bool = True,
) -> list[str]:
    """One line per reason the run is too big for this machine (empty when it is not).

    ``keeps_cases`` is false for sweeps, which keep one row per run, not every case.
    """
    shown = source or scenario.name
    events = estimate_events(scenario)
    problems: list[str] = []
    if events > MAX_EVENTS_PER_REPLICATION:
        problems.append(
            f"{shown}: one replication would need about {events:.2g} simulation events (at most"
            f" {MAX_EVENTS_PER_REPLICATION:.0g}); shorten horizon_days, lower"
            " cases.arrivals.rate_per_year or growth, or raise team.block_hours"
        )
        return problems
    total = events * replications
    if total > MAX_EVENTS_TOTAL:
        hours = total / EVENTS_PER_SECOND / 3600 / max(1, workers)
        problems.append(
            f"{shown}: {replications} replications would need about {total:.2g} simulation events"
            f" (about {hours:.0f} hours; at most {MAX_EVENTS_TOTAL:.0g}); run fewer replications"
            " or a shorter horizon"
        )
    need = memory_bytes(scenario, replications if keeps_cases else 0, workers)
    have = _physical_memory()
    if have is not None and need > 0.5 * have:
        problems.append(
            f"{shown}: would need about {need / 2**30:.3g} GiB of memory for {replications}"
            f" replications (this machine has {have / 2**30:.3g} GiB); run fewer replications,"
            " a shorter horizon or a coarser outputs.backlog_every_days"
        )
    return problems

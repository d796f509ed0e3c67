"""The main job of the README's first line, timed end to end: ten scenarios × 200 replications.

``polit-sim compare scenarios/polit_2016_as_was.yaml scenarios/polit_after_reforms.yaml
scenarios/reform_*.yaml --baseline scenarios/polit_2016_as_was.yaml --workers 2`` runs in a fresh
process into a temporary folder; its wall time is the figure (target ≤ 45 s on 2 cores), with
the CPU time of the job and its workers and the parallel efficiency, CPU / (2 × wall) (target
≥ 90%: both cores busy from start to end). The same process measures, as its baseline, the
machine's parallel capacity just before: a pure-Python loop in two processes at once against
one after another (1.0 on an idle 2-core machine, less when other jobs share it).

Run from the repository root (one to two minutes a round)::

    python -m benchmarks.main_job --rounds 1
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

__all__ = ["parallel_capacity", "time_main_job"]

ROOT = Path(__file__).resolve().parents[1]


def _spin(n: int = 3_000_000) -> int:
    total = 0
    for i in range(n):
        total += i
    return total


def parallel_capacity(workers: int = 2) -> float:
    """Time of ``workers`` loops one after another over ``workers`` × the time all at once."""
    start = time.perf_counter()
    for _ in range(workers):
        _spin()
    serial = time.perf_counter() - start
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pool.map(_spin, [1000] * workers)  # start the workers before timing
        start = time.perf_counter()
        pool.map(_spin, [3_000_000] * workers)
        together = time.perf_counter() - start
    return serial / (workers * together)


def _children_cpu() -> float:
    """CPU seconds (user + system) of every finished child process and its descendants."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_main_job(extra: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of the README's main job (with ``extra`` arguments) in a fresh
    process; the CPU time is that of the process and its workers together."""
    scenarios = ROOT / "scenarios"
    files = [scenarios / "polit_2016_as_was.yaml", scenarios / "polit_after_reforms.yaml"]
    files += sorted(scenarios.glob("reform_*.yaml"))
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable,
            "-c",
            "from sim.cli import main; main()",
            "compare",
            *map(str, files),
            "--baseline",
            str(scenarios / "polit_2016_as_was.yaml"),
            "--workers",
            "2",
            "--quiet",
            "--out",
            str(Path(tmp) / "out"),
            *extra,
        ]
        cpu = _children_cpu()
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        return time.perf_counter() - start, _children_cpu() - cpu


@click.command()
@click.option("--rounds", default=1, show_default=True, type=click.IntRange(min=1))
@click.argument("extra", nargs=-1)
def main(rounds: int, extra: tuple[str, ...]) -> None:
    """Print the main job's wall and CPU time and its parallel efficiency (CPU of all its
    processes over 2 × wall), and the machine's parallel capacity before each round."""
    seconds, capacity = [], []
    for _ in range(rounds):
        load = os.getloadavg()[0]
        capacity.append(parallel_capacity())
        wall, cpu = time_main_job(list(extra))
        seconds.append(wall)
        click.echo(
            f"load {load:.2f}, parallel capacity {capacity[-1]:.2f}: main job {wall:.1f} s wall, "
            f"{cpu:.1f} s CPU, parallel efficiency {cpu / (2 * wall):.0%}"
        )
    best = min(seconds)
    click.echo(
        f"main job: median {statistics.median(seconds):.1f} s, best {best:.1f} s; "
        f"best / 45 s target = {best / 45:.2f}"
    )


if __name__ == "__main__":
    main()

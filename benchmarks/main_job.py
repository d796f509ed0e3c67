"""The main job of the README's first line, timed end to end: ten scenarios × 200 replications.

``polit-sim compare scenarios/polit_2016_as_was.yaml scenarios/polit_after_reforms.yaml
scenarios/reform_*.yaml --baseline scenarios/polit_2016_as_was.yaml --workers 2`` runs in a fresh
process into a temporary folder; its wall time is the figure (target ≤ 45 s on 2 cores), with
the CPU time of the job and its workers and the parallel efficiency, CPU / (2 × wall) (target
≥ 90%: both cores busy from start to end), and the job's occupancy of the two cores: the share
of them it had work for, sampled from /proc, which other jobs on the machine do not lower. The
same process measures, as its baseline, the machine's parallel capacity just before: a
pure-Python loop in two processes at once against one after another (1.0 on an idle 2-core
machine, less when other jobs share it).

Run from the repository root (one to two minutes a round)::

    python -m benchmarks.main_job --rounds 1
"""

from __future__ import annotations

import contextlib
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

__all__ = ["occupancy", "parallel_capacity", "time_main_job"]

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


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux: from /proc's children lists)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo += [int(c) for c in task.read_text().split()]
    return out


def _runnable(pids: list[int]) -> int:
    """How many of ``pids`` are running or waiting for a core (state R)."""
    count = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        count += stat[stat.rindex(")") + 2] == "R"
    return count


def occupancy(process: subprocess.Popen[bytes], cores: int = 2, every: float = 0.05) -> float:
    """Share of ``cores`` that ``process`` and its workers had work for, averaged over its run.

    Sampled from /proc until the process ends: a process counts while it runs or waits for a
    core, so the figure says whether the job keeps both cores busy whatever else the machine
    runs (parallel efficiency, CPU / (2 × wall), also falls when other jobs take the cores).
    NaN where /proc cannot be read.
    """
    samples = []
    while process.poll() is None:
        try:
            samples.append(min(cores, _runnable(_tree(process.pid))) / cores)
        except OSError:
            return float("nan")
        time.sleep(every)
    return statistics.fmean(samples) if samples else float("nan")


def time_main_job(extra: list[str]) -> tuple[float, float, float]:
    """Wall and CPU seconds of the README's main job (with ``extra`` arguments) in a fresh
    process, and its :func:`occupancy`; the CPU time is that of the process and its workers."""
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
        job = subprocess.Popen(command, stdout=subprocess.DEVNULL, cwd=ROOT)
        busy = occupancy(job)
        if job.wait() != 0:
            raise subprocess.CalledProcessError(job.returncode, command)
        return time.perf_counter() - start, _children_cpu() - cpu, busy


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
        wall, cpu, busy = time_main_job(list(extra))
        seconds.append(wall)
        click.echo(
            f"load {load:.2f}, parallel capacity {capacity[-1]:.2f}: main job {wall:.1f} s wall, "
            f"{cpu:.1f} s CPU, parallel efficiency {cpu / (2 * wall):.0%}, "
            f"occupancy of 2 cores {busy:.0%}"
        )
    best = min(seconds)
    click.echo(
        f"main job: median {statistics.median(seconds):.1f} s, best {best:.1f} s; "
        f"best / 45 s target = {best / 45:.2f}"
    )


if __name__ == "__main__":
    main()

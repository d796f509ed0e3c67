"""Speed-up of the ``processes`` executor over ``serial``, and the overhead of ``dask``.

The same sweep of 200 runs (20 design points x 10 replications of ``scenarios/baseline.yaml``
over 20 years, 5..8 full-time detectives x 250..450 referrals a year) is run three times through
the command line, each into a fresh folder:

- ``serial``: one process;
- ``processes``: a pool of ``--workers`` spawned processes (2 by default);
- ``dask``: a ``dask scheduler`` on 127.0.0.1 and ``--workers`` ``dask worker`` processes with
  one thread each, started here and stopped by their process ids.

Each sweep's wall time is measured end to end (process start to exit, including imports, pool
or client start-up and the Parquet writes); the sweep's own timing (its summary line) is kept
as well. The stored tables of the three sweeps are checked to be identical.

The machine's parallel capacity at that moment (a pure-Python loop in ``--workers`` processes at
once against one after another) is measured before and after, and the sum of the runs' own
times per executor: on a shared machine these show how much of a shortfall is other load.

Run from the repository root (about 2 minutes a round on 2 cores; on a shared machine take
the best of a few rounds)::

    python -m benchmarks.sweep_speedup --repeat 3 --json results/benchmarks/sweep_speedup.json
"""

from __future__ import annotations

import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click
import pandas as pd

from sim.experiments.store import SweepStore

ROOT = Path(__file__).resolve().parents[1]
PROBE = "s = 0\nfor i in range(10_000_000):\n    s += i * i\n"
DESIGN = [
    *("--grid", "team.detectives.0.count=5,6,7,8"),
    *("--grid", "cases.arrivals.rate_per_year=250,300,350,400,450"),
    *("--set", "horizon_days=7300", "-r", "10"),
]


def _sweep(folder: Path, *extra: str) -> tuple[float, float]:
    """Run one sweep; returns (wall seconds end to end, seconds the sweep reports)."""
    command = [sys.executable, "-m", "sim", "sweep", "-q", str(ROOT / "scenarios/baseline.yaml")]
    start = time.perf_counter()
    done = subprocess.run(
        [*command, *DESIGN, "--out", str(folder), *extra],
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    match = re.search(r"in ([0-9.]+) s", done.stdout)
    return wall, float(match.group(1)) if match else float("nan")


def parallel_capacity(workers: int) -> float:
    """How many times faster ``workers`` copies of a pure-Python loop finish than one after another.

    On an idle machine with ``workers`` free cores this is ``workers``; other load on a shared
    machine lowers it, and caps what any executor can reach at that moment.
    """
    command = [sys.executable, "-c", PROBE]
    start = time.perf_counter()
    for _ in range(workers):
        subprocess.run(command, check=True)
    serial = time.perf_counter() - start
    start = time.perf_counter()
    procs = [subprocess.Popen(command) for _ in range(workers)]
    for proc in procs:
        proc.wait()
    return serial / (time.perf_counter() - start)


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:
        return subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT)


def _dask_sweep(folder: Path, workers: int) -> tuple[float, float]:
    procs: list[subprocess.Popen[bytes]] = []
    scheduler_file = folder.parent / "scheduler.json"
    try:
        procs.append(
            _start(
                [
                    *(sys.executable, "-m", "distributed.cli.dask_scheduler"),
                    *("--host", "127.0.0.1", "--port", "0", "--no-dashboard"),
                    *("--scheduler-file", str(scheduler_file)),
                ],
                folder.parent / "scheduler.log",
            )
        )
        while not scheduler_file.exists():
            time.sleep(0.1)
        for i in range(workers):
            procs.append(
                _start(
                    [
                        *(sys.executable, "-m", "distributed.cli.dask_worker"),
                        *("--scheduler-file", str(scheduler_file), "--nthreads", "1"),
                        *("--no-nanny", "--host", "127.0.0.1", "--no-dashboard"),
                    ],
                    folder.parent / f"worker{i}.log",
                )
            )
        address = json.loads(scheduler_file.read_text())["address"]
        time.sleep(3.0)  # let the workers register: their start-up is not the sweep's cost
        return _sweep(folder, "--executor", "dask", "--scheduler", address)
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


@click.command()
@click.option("--workers", default=2, show_default=True, help="Processes / Dask workers.")
@click.option("--repeat", default=1, show_default=True, help="Rounds; the best of each is kept.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write figures here.")
def main(workers: int, repeat: int, json_path: str | None) -> None:
    """Time serial, processes and dask on the same 200-run sweep (best of ``--repeat`` rounds)."""
    rounds: list[dict[str, Any]] = []
    for _ in range(repeat):
        rounds.append(_round(workers))
    best = {k: min(r["wall_s"][k] for r in rounds) for k in ("serial", "processes", "dask")}
    out: dict[str, Any] = {
        "runs": rounds[0]["runs"],
        "workers": workers,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "rounds": rounds,
        "best_wall_s": best,
        "speedup_processes_over_serial": round(best["serial"] / best["processes"], 3),
        "dask_over_processes": round(best["dask"] / best["processes"], 3),
        "identical_tables": True,
    }
    click.echo(json.dumps(out, indent=2))
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(out, indent=2) + "\n")


def _round(workers: int) -> dict[str, Any]:
    """One round: the three sweeps, their tables compared, with the machine's capacity."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        timings: dict[str, tuple[float, float]] = {}
        capacity = [parallel_capacity(workers)]
        timings["serial"] = _sweep(base / "serial", "--executor", "serial")
        timings["processes"] = _sweep(
            base / "processes", "--executor", "processes", "--workers", str(workers)
        )
        (base / "dask").mkdir()
        timings["dask"] = _dask_sweep(base / "dask" / "out", workers)
        capacity.append(parallel_capacity(workers))
        run_seconds = {
            k: float(SweepStore(base / f).manifest()["seconds"].sum())
            for k, f in (("serial", "serial"), ("processes", "processes"), ("dask", "dask/out"))
        }
        tables = {
            "serial": SweepStore(base / "serial").table(),
            "processes": SweepStore(base / "processes").table(),
            "dask": SweepStore(base / "dask" / "out").table(),
        }
    pd.testing.assert_frame_equal(tables["serial"], tables["processes"])
    pd.testing.assert_frame_equal(tables["serial"], tables["dask"])
    runs = len(tables["serial"])
    out: dict[str, Any] = {
        "runs": runs,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "wall_s": {k: round(v[0], 2) for k, v in timings.items()},
        "sweep_s": {k: round(v[1], 2) for k, v in timings.items()},
        "sum_of_run_seconds": {k: round(v, 2) for k, v in run_seconds.items()},
        "machine_parallel_capacity_before_after": [round(c, 2) for c in capacity],
    }
    return out


if __name__ == "__main__":
    main()

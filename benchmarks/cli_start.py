"""Start-up of the command line and of ``import sim``: wall and CPU seconds in fresh processes.

Each command runs in a new process, ``--rounds`` times, interleaved; the figures are medians.
The bare interpreter (``python -c pass``) runs in the same rounds as the baseline: on a shared
machine the wall time of every process stretches alike, and the CPU time (user + system, from
``resource.getrusage(RUSAGE_CHILDREN)``) is what the load does not inflate. The targets are
0.5 s for ``polit-sim --help``, ``polit-sim validate FILE`` and ``import sim``.

Run from the repository root::

    python -m benchmarks.cli_start --rounds 7
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import click

__all__ = ["COMMANDS", "timed"]

ROOT = Path(__file__).resolve().parents[1]
POLIT_SIM = shutil.which("polit-sim") or "polit-sim"
COMMANDS: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "import sim": [sys.executable, "-c", "import sim"],
    "polit-sim --help": [POLIT_SIM, "--help"],
    "polit-sim validate": [POLIT_SIM, "validate", str(ROOT / "scenarios" / "baseline.yaml")],
}


def timed(command: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of ``command`` in a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


@click.command()
@click.option("--rounds", default=7, show_default=True, type=click.IntRange(min=1))
def main(rounds: int) -> None:
    """Print the median wall and CPU seconds of each start-up, and the excess over bare Python."""
    walls: dict[str, list[float]] = {name: [] for name in COMMANDS}
    cpus: dict[str, list[float]] = {name: [] for name in COMMANDS}
    click.echo(f"load average before: {os.getloadavg()[0]:.2f}")
    for _ in range(rounds):
        for name, command in COMMANDS.items():
            wall, cpu = timed(command)
            walls[name].append(wall)
            cpus[name].append(cpu)
    bare = statistics.median(walls["python -c pass"])
    for name in COMMANDS:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        target = (
            ""
            if name == "python -c pass"
            else f"; target ≤ 0.5 s: {'met' if wall <= 0.5 else 'missed'} (wall)"
        )
        click.echo(
            f"{name:20} wall {wall:5.2f} s (×{wall / bare:4.1f} bare python)  "
            f"CPU {cpu:5.2f} s{target}"
        )
    click.echo(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

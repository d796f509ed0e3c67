"""What every command shares: reporting bad input (exit 2), loading a scenario, a progress bar.

Exit status, for every command: 0 success; 1 a run finished but a threshold it checks is broken;
2 bad input (one line per problem on standard error, naming the file and the dotted field;
nothing written).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from sim.scenario import Scenario, ScenarioError, load_scenario

__all__ = ["ProgressBar", "fail_input", "internal_error", "load_or_exit"]


def fail_input(problems: Sequence[str]) -> NoReturn:
    """Report bad input, one line per problem, and exit with status 2."""
    for line in problems:
        click.echo(line, err=True)
    sys.exit(2)


def internal_error(error: BaseException) -> NoReturn:
    """Report an internal error on one line, save its traceback to a file, and exit 3.

    Exit 3 keeps a crash apart from exit 1 (a threshold broken), which a CI gate fails on.
    """
    import tempfile
    import traceback

    with tempfile.NamedTemporaryFile(
        "w", prefix="polit-sim-error-", suffix=".txt", delete=False, encoding="utf-8"
    ) as handle:
        traceback.print_exception(error, file=handle)
    click.echo(
        f"internal error: {type(error).__name__}: {error} (traceback in {handle.name})", err=True
    )
    sys.exit(3)


def load_or_exit(path: str, overrides: Sequence[str] = ()) -> Scenario:
    """Load a scenario, or report its problems and exit 2."""
    try:
        return load_scenario(path, overrides)
    except ScenarioError as error:
        fail_input(error.problems)


class ProgressBar:
    """A tqdm bar on standard error, silent when ``enabled`` is false."""

    def __init__(self, total: int, description: str, enabled: bool = True) -> None:
        self._bar: Any = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=description, unit="rep", file=sys.stderr)

    def __call__(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

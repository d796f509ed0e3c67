"""What every command shares: reporting bad input (exit 2), loading a scenario, a progress bar.

Exit status, for every command: 0 success; 1 a run finished but a threshold it checks is broken;
2 bad input (one line per problem on standard error, naming the file and the dotted field;
nothing written); 3 internal error (see :mod:`sim.cli.safety`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

import click

from sim.scenario import Scenario, ScenarioError, load_scenario

__all__ = [
    "DEFAULT_WORKERS",
    "ProgressBar",
    "fail_input",
    "internal_error",
    "load_or_exit",
    "set_option",
    "workers_option",
    "xlsx_options",
]

DEFAULT_WORKERS = os.cpu_count() or 1
"""Every command's default ``--workers``: all the machine's cores."""

F = TypeVar("F", bound=Callable[..., Any])


def workers_option(what: str = "replications") -> Callable[[F], F]:
    """The ``--workers`` option, with one default (all cores) for every command."""
    return click.option(
        "--workers",
        "-w",
        type=click.IntRange(min=1),
        default=DEFAULT_WORKERS,
        show_default="all cores, here " + str(DEFAULT_WORKERS),
        help=f"Processes to run {what} in. Results are identical whatever the number: every "
        "replication's randomness depends only on the seed, the replication and the stream.",
    )


def set_option(what: str) -> Callable[[F], F]:
    """The ``--set KEY=VALUE`` option (repeatable)."""
    return click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="KEY=VALUE",
        help=f"Override a field of {what} (repeatable). KEY is the dotted path of the field as "
        "in the scenario file; list items by name or index, e.g. team.detectives.dc_pt.fte=0.6 "
        "or team.detectives.0.count=8; VALUE is read as YAML (null, 28, [mon, tue]).",
    )


def xlsx_options(
    sheets: str = "the summary, the comparison and the per-case table",
    table: str = "per-case table",
    csv_name: str = "cases.csv",
) -> Callable[[F], F]:
    """``--xlsx`` (one Excel workbook) and ``--cases-csv`` (the per-case table as CSV)."""

    def decorate(function: F) -> F:
        function = click.option(
            "--cases-csv",
            is_flag=True,
            help=f"Also write the {table} as {csv_name} (besides the Parquet file), for tools "
            "that cannot read Parquet.",
        )(function)
        return click.option(
            "--xlsx",
            is_flag=True,
            help=f"Also write results.xlsx: one Excel workbook with {sheets} (cut at Excel's "
            "1,048,576 rows, with a note saying so).",
        )(function)

    return decorate


def fail_input(problems: Sequence[str]) -> NoReturn:
    """Report bad input, one line per problem, and exit with status 2."""
    for line in problems:
        click.echo(line, err=True)
    sys.exit(2)


def internal_error(error: BaseException) -> NoReturn:
    """Report an internal error on one line, save its traceback to a file, and exit 3.

    Exit 3 keeps a crash apart from exit 1 (a threshold broken), which a CI gate fails on. The
    line names the error (its message's first line) and the file holding the full traceback.
    """
    import tempfile
    import traceback

    text = "".join(traceback.format_exception(error))
    where = "(it could not be saved)"
    try:
        with tempfile.NamedTemporaryFile(
            "w", prefix="polit-sim-error-", suffix=".txt", delete=False, encoding="utf-8"
        ) as handle:
            handle.write(f"polit-sim {' '.join(sys.argv[1:])}\n")
            handle.write(text)
        where = handle.name
    except OSError:
        pass
    from sim.scenario.plugins import plugin_sources

    message = str(error).splitlines()[0] if str(error) else ""
    sources = plugin_sources()
    culprit = _plugin_frame(text, sources)
    if culprit is not None:
        # The scenario's own code failed: that is the input's fault, not polit-sim's.
        path, line, function = culprit
        click.echo(
            f"{path}: line {line}, in {function}: the plugin raised {type(error).__name__}:"
            f" {message} (exit 2; traceback in {where})",
            err=True,
        )
        sys.exit(2)
    loaded = sorted(os.path.basename(p.rstrip(os.sep)) for p in sources)
    hint = f"; plugins loaded: {', '.join(loaded)}, check what they return" if loaded else ""
    click.echo(
        f"internal error: {type(error).__name__}: {message} (exit 3; traceback in {where}{hint})",
        err=True,
    )
    sys.exit(3)


def _plugin_frame(traceback_text: str, sources: frozenset[str]) -> tuple[str, str, str] | None:
    """The innermost frame of a formatted traceback in a loaded plugin's code (``sources``: the
    plugins' files and package folders), if any.

    The text is searched rather than the frames, so that an error raised in a pool worker (whose
    traceback travels as text, chained to the one raised here) is traced to the plugin too.
    """
    import re

    if not sources:
        return None
    found = None
    for match in re.finditer(r'File "([^"]+)", line (\d+), in (\S+)', traceback_text):
        path = os.path.abspath(match.group(1))
        if path in sources or any(s.endswith(os.sep) and path.startswith(s) for s in sources):
            found = (path, match.group(2), match.group(3))
    return found


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

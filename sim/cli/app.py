"""The ``polit-sim`` command group: it assembles the commands, which never import it back.

The CLI is the only part of polit-sim that prints. Exit status: 0 success; 1 a run finished but
something it checks failed; 2 bad input (one line per problem on standard error, naming the file
and the dotted field; nothing written); 3 internal error (one line on standard error naming the
file the full traceback was saved to).
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from sim.cli.backtest import backtest_command
from sim.cli.calibrate import calibrate_command
from sim.cli.compare import compare
from sim.cli.export_log import export_log_command
from sim.cli.forecast import forecast
from sim.cli.init import init
from sim.cli.optimise import optimise
from sim.cli.run import run, schema, validate
from sim.cli.safety import SafeGroup
from sim.cli.sweep import sweep, sweep_report

__all__ = ["cli", "main"]


@click.group(cls=SafeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="polit-sim")
def cli() -> None:
    """polit-sim: capacity and neglect risk of an online child-abuse investigation team."""


cli.add_command(validate)
cli.add_command(schema)
cli.add_command(run)
cli.add_command(compare)
cli.add_command(forecast)
cli.add_command(sweep)
cli.add_command(sweep_report)
cli.add_command(optimise)
cli.add_command(export_log_command)
cli.add_command(calibrate_command)
cli.add_command(backtest_command)
cli.add_command(init)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``polit-sim`` console script."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="polit-sim")

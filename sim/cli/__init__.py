"""The command line (``polit-sim``, ``python -m sim``): parsing, progress, exit codes.

The top layer: nothing else in the package imports it. :mod:`.app` assembles the commands of
:mod:`.run`, :mod:`.compare` and :mod:`.sweep`; :mod:`.common` holds what they share.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``polit-sim`` console script."""
    from sim.cli.app import main as run_main

    run_main(argv)

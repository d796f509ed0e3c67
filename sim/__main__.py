"""``python -m sim`` runs the ``polit-sim`` command line."""

from sim.cli import main

main()

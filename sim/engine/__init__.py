"""The SimPy engine: one replication from a scenario and a seed to plain records.

``sim.engine.replication`` wires a replication (:func:`run_replication`); the team's state, its
processes, supervision, rosters and random streams are its internals. The engine is a library:
no files, printing, plotting or pandas, and it never imports experiments, reports or the CLI.
"""

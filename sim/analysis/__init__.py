"""Records to numbers: per-case tables, per-replication metrics, confidence intervals, queueing
theory formulas (and, later, censored survival and distribution fitting).

Reads the engine's records (:class:`sim.engine.replication.ReplicationRecords`), never its
internals; writes no files and draws no figures.
"""

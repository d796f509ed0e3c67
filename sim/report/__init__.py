"""DataFrames to figures (:mod:`.figures`) and figures and tables to self-contained HTML reports
(:mod:`.compare`, :mod:`.sweep`). Never imports the engine's internals.
"""

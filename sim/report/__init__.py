"""DataFrames to figures and figures and tables to reports. Never imports the engine.

- :mod:`.html`: the page frame every report shares (style, tables, folded sections, embedded
  images, numbers to 2–3 significant figures with units); a new report builds its body from
  these pieces and passes it to :func:`.html.page`.
- :mod:`.headlines`: scenario titles, the period counted, plain-language headlines.
- :mod:`.forest`: the ranked forest plot of paired differences, the figure decisions are taken
  from; :mod:`.figures`: backlog, survival of neglect, headline metrics; :mod:`.team_figures`:
  each scenario's heat map of its detectives and its most-neglected case's timeline;
  :mod:`.layout`: fixed margins measured from the labels, so no figure needs a layout engine.
- :mod:`.compare`: the report of ``compare`` and of ``run``; :mod:`.sweep`: of ``sweep-report``.
- :mod:`.excel`: :func:`.excel.write_workbook`, one workbook from a list of sheets, for every
  command's ``--xlsx``.
"""

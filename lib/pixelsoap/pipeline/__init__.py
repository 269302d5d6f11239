"""Running the pipeline and checking it: the commands, not the science.

- :mod:`.reproduce`: ``make reproduce`` (DVC with one Ctrl-C that stops it all)
- :mod:`.watchdog`: stops DVC's whole tree when ``make reproduce`` is killed
- :mod:`.runner`: a notebook stage run through papermill
- :mod:`.headline`: a few headline metrics per stage for ``dvc metrics``
- :mod:`.budget_check`: the doubled-budget run that says which verdicts are settled
- :mod:`.verify`: ``make verify``, a profile regenerated from scratch in a clone and compared
- :mod:`.clones`: clones of the committed project for the two above
- :mod:`.paper_cost`: what the paper profile costs, extrapolated from the last run
- :mod:`.convergence`: the search's ranking ladder study and its figure (Fig. 10c)

Each is a command (``python -m pixelsoap.pipeline.<name>``); nothing is re-exported here.
"""

"""Running the pipeline and checking it: the commands, not the science.

- :mod:`.reproduce`: ``make reproduce`` (DVC with one Ctrl-C that stops it all)
- :mod:`.watchdog`: stops DVC's whole tree when ``make reproduce`` is killed
- :mod:`.follow`: the one line per stage ``make reproduce`` prints (elapsed time, estimate, logs)
- :mod:`.runner`: a notebook stage run through papermill, its output in ``results/logs/<stage>.log``
- :mod:`.headline`: a few headline metrics per stage for ``dvc metrics``
- :mod:`.budget_check`: the doubled-budget run that says which verdicts are settled
- :mod:`.verify`: ``make verify``, a profile regenerated from scratch in a clone and compared
- :mod:`.variants`: any profile but the default, or a parameter override, run in a clone under ``runs/``
- :mod:`.clones`: clones of the committed project for the three above
- :mod:`.dvc_plots`: the offline page of ``dvc plots show`` (vega inlined)
- :mod:`.paper_cost`: what the paper profile costs, extrapolated from the last run
- :mod:`.convergence`: the search's ranking ladder study and its figure (Fig. 10c)

Each is a command (``python -m pixelsoap.pipeline.<name>``); nothing is re-exported here.
"""

from pixelsoap.runtime.extras import require_installed

# the commands run DVC, notebooks and the report: name the extra before one of their modules fails alone
require_installed("yaml", "pandas", "pydantic", "papermill", "jupytext", extra="pipeline", purpose="pixelsoap.pipeline")


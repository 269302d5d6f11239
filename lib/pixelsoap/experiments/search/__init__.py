"""Experiment 1's Monte-Carlo search of the SOAP parameters (stage ``search``).

- :mod:`.monte_carlo`: the stage (``python -m pixelsoap.experiments.search``): draws, runs and ranks the trials
- :mod:`.space`: the search space (ranges of r_cut, sigma, n_max, l_max)
- :mod:`.study`: the Optuna storage of the trials
- :mod:`.trials`: one trial's work (spectra, classifier, validation accuracy)
- :mod:`.convergence`: the ranking at a ladder of budgets (a study of its own, Fig. 10c)
"""

from pixelsoap.experiments.search.convergence import run_study
from pixelsoap.experiments.search.monte_carlo import (
    InvalidParameters,
    SearchError,
    SearchSpace,
    best_params,
    run_search,
    study_name,
    trials_frame,
    usable_draws,
)

__all__ = ["InvalidParameters", "SearchError", "SearchSpace", "best_params", "run_search", "run_study", "study_name",
           "trials_frame", "usable_draws"]

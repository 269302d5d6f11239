"""Experiment 2 (stage ``experiment2``): how far the spectra compress.

- :mod:`.compression`: settings and data; :mod:`.pca`: PCA; :mod:`.jobs`: the autoencoder and
  classifier jobs on Dask; :mod:`.classifiers`: classifiers on the codes; :mod:`.claims`: the
  paper's claims checked; :mod:`.costs`: what the paper's grid costs
- :mod:`.dynamics`: the long run to 10,000 epochs (``python -m pixelsoap.experiments.experiment2.dynamics``),
  with :mod:`.dynamics_training` and :mod:`.dynamics_claims`

The two commands (:mod:`.compression`, :mod:`.dynamics`) are not imported here, so that
``python -m`` runs each once.
"""

from pixelsoap.experiments.experiment2.classifiers import accuracy_summary, baseline_rows

__all__ = ["accuracy_summary", "baseline_rows"]

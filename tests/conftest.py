"""Shared test data: small synthetic grey-level images that stand in for MNIST digits."""

from __future__ import annotations

import numpy as np
import pytest


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

